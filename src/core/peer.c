/* What a peer does on its own behalf: stage packets, send keepalives and
 * initiations, follow its endpoint. */
#include <stdlib.h>
#include <string.h>

#include "device_state.h"
#include "peer.h"

void peer_count_drop(struct device *dev, struct peer *peer, enum drop_reason reason)
{
	dev->drops[reason]++;
	if (peer)
		peer->drops[reason]++;
}

void peer_emit(struct peer *peer, enum device_event_type type, uint64_t now)
{
	if (type == EVENT_HANDSHAKE_COMPLETE)
		history_note(peer, HISTORY_HANDSHAKE_COMPLETE, now);
	else if (type == EVENT_HANDSHAKE_GIVEN_UP)
		history_note(peer, HISTORY_HANDSHAKE_GIVEN_UP, now);
	else if (type == EVENT_KEYS_ZEROED)
		history_note(peer, HISTORY_KEYS_ZEROED, now);
	struct device_event ev = {.type = type, .peer = peer, .now = now};
	device_emit(peer->dev, &ev);
}

void peer_transmit_to(struct peer *peer, const struct endpoint *to, uint8_t *data, size_t len)
{
	peer->tx_bytes += len;
	peer->tx_packets++;
	peer->dev->io.send(peer->dev->io.ctx, peer, to, data, len);
}

void peer_transmit(struct peer *peer, uint8_t *data, size_t len)
{
	peer_transmit_to(peer, &peer->endpoint, data, len);
}

void peer_clear_source(struct peer *peer)
{
	/* A new source is a new path (another interface, another route). */
	peer_forget_path_mtu(peer);
	peer->endpoint.src_family = 0;
	peer->endpoint.src_ifindex = 0;
	peer->endpoint.src_checked = 0;
	memset(&peer->endpoint.src, 0, sizeof(peer->endpoint.src));
}

void peer_update_endpoint(struct peer *peer, const struct endpoint *from, enum message_type type, uint64_t now)
{
	uint64_t idle = peer->last_receive_mono ? now - peer->last_receive_mono : 0;
	if (!endpoint_same_remote(&peer->endpoint, from)) {
		struct endpoint old = peer->endpoint;
		peer->endpoint = *from;
		peer->endpoint.src_checked = 0;
		peer_forget_path_mtu(peer);
		history_note_endpoint_change(peer, &old, from, idle, type != MESSAGE_HANDSHAKE_INITIATION, now);
		candidates_on_endpoint_learned(peer);
		struct device_event ev = {
			.type = EVENT_ENDPOINT_CHANGED,
			.peer = peer,
			.old_endpoint = &old,
			.new_endpoint = from,
			.now = now,
			.idle_before = idle,
			.candidate = peer_endpoint_candidate_index(peer),
		};
		device_emit(peer->dev, &ev);
		return;
	}
	history_note_kept_binding(peer, idle);
	if (!endpoint_same_source(&peer->endpoint, from)) {
		/* Same remote, new local address (e.g. the server's other
		 * interface): answer from where the peer now writes to. */
		peer->endpoint.src = from->src;
		peer->endpoint.src_family = from->src_family;
		peer->endpoint.src_ifindex = from->src_ifindex;
		peer->endpoint.src_checked = 0;
		peer_forget_path_mtu(peer);
	}
}

void peer_stage_packet(struct peer *peer, const uint8_t *pkt, size_t len)
{
	if (!peer->staged) {
		peer->staged = calloc(MAX_STAGED_PACKETS, sizeof(*peer->staged));
		if (!peer->staged)
			return;
	}
	if (peer->staged_count == MAX_STAGED_PACKETS) {
		/* Drop the oldest: the newest data is the most likely to matter. */
		free(peer->staged[peer->staged_head]);
		peer->staged[peer->staged_head] = NULL;
		peer->staged_head = (peer->staged_head + 1) % MAX_STAGED_PACKETS;
		peer->staged_count--;
		peer_count_drop(peer->dev, peer, DROP_STAGED_OVERFLOW);
	}
	struct staged_packet *sp = malloc(sizeof(*sp) + MESSAGE_DATA_HEADROOM + len + MESSAGE_DATA_TAILROOM);
	if (!sp)
		return;
	sp->len = len;
	memcpy(sp->buf + MESSAGE_DATA_HEADROOM, pkt, len);
	peer->staged[(peer->staged_head + peer->staged_count) % MAX_STAGED_PACKETS] = sp;
	peer->staged_count++;
}

void peer_purge_staged(struct peer *peer)
{
	while (peer->staged_count) {
		free(peer->staged[peer->staged_head]);
		peer->staged[peer->staged_head] = NULL;
		peer->staged_head = (peer->staged_head + 1) % MAX_STAGED_PACKETS;
		peer->staged_count--;
	}
	free(peer->staged);
	peer->staged = NULL;
	peer->staged_head = 0;
}

void peer_send_staged(struct peer *peer, uint64_t now)
{
	while (peer->staged_count) {
		struct staged_packet *sp = peer->staged[peer->staged_head];
		if (!peer_encrypt_and_send(peer, sp->buf + MESSAGE_DATA_HEADROOM, sp->len, now)) {
			peer_send_initiation(peer, false, now);
			return;
		}
		free(sp);
		peer->staged[peer->staged_head] = NULL;
		peer->staged_head = (peer->staged_head + 1) % MAX_STAGED_PACKETS;
		peer->staged_count--;
	}
	peer_purge_staged(peer);
}

void peer_send_keepalive(struct peer *peer, uint64_t now)
{
	if (peer->staged_count) {
		/* Real data is as good a keepalive as any. */
		peer_send_staged(peer, now);
		return;
	}
	uint8_t buf[MESSAGE_DATA_HEADROOM + MESSAGE_DATA_TAILROOM];
	if (peer_encrypt_and_send(peer, buf + MESSAGE_DATA_HEADROOM, 0, now))
		peer_emit(peer, EVENT_KEEPALIVE_SENT, now);
	else
		peer_send_initiation(peer, false, now);
}

void peer_send_initiation(struct peer *peer, bool is_retry, uint64_t now)
{
	struct device *dev = peer->dev;
	if (!is_retry)
		peer->handshake_attempts = 0;
	const struct endpoint *target = peer_handshake_target(peer);
	if (!dev->up || !dev->has_identity || !peer->static_static_ok || !target)
		return;
	/* At most one initiation per REKEY_TIMEOUT, and a response we sent
	 * counts: both sides must not race to initiate. */
	if (peer->has_sent_handshake && now - peer->last_sent_handshake < REKEY_TIMEOUT)
		return;
	/* Data that finds no session asks again as soon as the last initiation
	 * is REKEY_TIMEOUT old, before its retry timer (which adds jitter)
	 * fires and re-arms that timer: the attempt still went unanswered, and
	 * must count as the retry would, or a target that never answers (a
	 * first candidate with nobody there) is asked forever. A caller that
	 * chose the target itself clears has_sent_handshake first. */
	if (!is_retry && peer->has_sent_handshake && timer_is_pending(peer, TIMER_RETRANSMIT_HANDSHAKE)) {
		peer_clear_source(peer);
		candidates_on_unanswered(peer, now);
		target = peer_handshake_target(peer);
	}
	struct message_handshake_initiation *msg = (struct message_handshake_initiation *)dev->scratch;
	if (!noise_create_initiation(dev, peer, msg, now))
		return;
	cookie_add_macs(&peer->cookie, (uint8_t *)msg, sizeof(*msg), now);
	peer->last_sent_handshake = now;
	peer->has_sent_handshake = true;
	peer->handshakes_sent_since_success++;
	timers_on_authenticated_packet_traversal(peer, now);
	timers_on_authenticated_packet_sent(peer);
	peer_transmit_to(peer, target, (uint8_t *)msg, sizeof(*msg));
	timers_on_handshake_initiated(peer, now);
	candidates_on_initiation_sent(peer, target, (const uint8_t *)msg, sizeof(*msg), now);
	peer_emit(peer, EVENT_HANDSHAKE_INITIATION_SENT, now);
}
