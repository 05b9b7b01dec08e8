/* Incoming datagrams (docs/protocol.md §1-§4). Every message is checked for
 * exact size and type first, authenticated next, and only then allowed to
 * change anything: an endpoint moves only for a packet that authenticated,
 * passed the replay check and, for data, is the newest the peer sent. */
#include <string.h>

#include "crypto.h"
#include "device_state.h"
#include "ip_header.h"
#include "peer.h"

/* The reference implementations go "under load" when their handshake
 * queue is 1/8 full. A sans-I/O core has no queue, so it models one: each
 * arrival adds the work it costs (1/capacity s), time drains it, and a
 * modelled backlog of UNDER_LOAD_QUEUE_LEN messages means under load. */
static void note_handshake_arrival(struct device *dev, uint64_t now)
{
	uint64_t cost = dev->handshake_cost_ns;
	if (!cost)
		return;
	uint64_t elapsed = now - dev->handshake_load_at;
	dev->handshake_load = dev->handshake_load > elapsed ? dev->handshake_load - elapsed : 0;
	dev->handshake_load += cost;
	dev->handshake_load_at = now;
	if (dev->handshake_load >= UNDER_LOAD_QUEUE_LEN * cost)
		device_report_handshake_backlog(dev, UNDER_LOAD_QUEUE_LEN, now);
}

/* Bookkeeping common to every authenticated message from a peer. It moves
 * the endpoint unless `from` is NULL (a late data packet, see
 * is_newest_from_peer) or candidates.c holds it: a peer at several
 * addresses may send from one that cannot receive. */
static void note_authenticated_receive(struct peer *peer, const struct endpoint *from, size_t len,
				       enum message_type type, uint64_t now)
{
	if (type != MESSAGE_HANDSHAKE_INITIATION)
		peer->session_proven = true;
	if (from && !candidates_hold_endpoint(peer, from, type, now))
		peer_update_endpoint(peer, from, type, now);
	peer->rx_bytes += len;
	peer->rx_packets++;
	peer->last_receive_mono = now;
	/* A response answers our initiation, data a session: the peer
	 * receives at the endpoint. An initiation proves only that it
	 * reaches us. */
	if (from && type != MESSAGE_HANDSHAKE_INITIATION && endpoint_same_remote(&peer->endpoint, from))
		peer->last_heard_back_mono = now;
}

/* A response written into msg (noise_create_response or
 * noise_install_response) goes out, and its session begins. */
static void send_response_made(struct device *dev, struct peer *peer, struct message_handshake_response *msg,
			       const struct endpoint *to, uint64_t now)
{
	cookie_add_macs(&peer->cookie, (uint8_t *)msg, sizeof(*msg), now);
	if (!noise_begin_session(dev, peer, now))
		return;
	timers_on_session_derived(peer, now);
	timers_on_authenticated_packet_traversal(peer, now);
	timers_on_authenticated_packet_sent(peer);
	peer->last_sent_handshake = now;
	peer->has_sent_handshake = true;
	/* The peer initiates again only when our last response did not reach
	 * it (it confirms a session at once): an unanswered attempt. */
	bool unanswered = peer->responses_unconfirmed > 0;
	peer->responses_unconfirmed++;
	peer_transmit_to(peer, to, (uint8_t *)msg, sizeof(*msg));
	peer_emit(peer, EVENT_HANDSHAKE_RESPONSE_SENT, now);
	if (unanswered)
		candidates_on_response_unanswered(peer, now);
}

static void send_response(struct device *dev, struct peer *peer, const struct endpoint *to, uint64_t now)
{
	struct message_handshake_response *msg = (struct message_handshake_response *)dev->scratch;
	if (noise_create_response(dev, peer, msg))
		send_response_made(dev, peer, msg, to, now);
}

/* The checks a handshake message passes before its Diffie-Hellman:
 * identity, mac1, and under load the rate limit and mac2 (without it a
 * cookie reply is sent instead). RECEIVED_HANDSHAKE: the DH is due. */
/* Cookie replies are not rationed per source. Anyone can send an
 * initiation without mac2 from any address: rationed per source, a few
 * forged ones a second from a victim's address would spend the victim's
 * share, its own initiation would never earn the cookie it needs, and while
 * we stay under load it could not get in at all. So, as the kernel and
 * wireguard-go do, only initiations that carry a valid mac2 (the sender
 * received our cookie at that address) count against their source; the
 * replies share one budget for the device, which bounds what a flood costs
 * us in replies, and a reply (64 bytes) is smaller than what provoked it
 * (148), so a forged source gets no amplification. */
static bool cookie_reply_allowed(struct device *dev, uint64_t now)
{
	const uint64_t cost = NSEC_PER_SEC / COOKIE_REPLIES_PER_SECOND, cap = cost * COOKIE_REPLIES_BURSTABLE;
	uint64_t tokens = dev->cookie_tokens;
	if (now > dev->cookie_tokens_at)
		tokens += now - dev->cookie_tokens_at;
	if (tokens > cap || !dev->cookie_tokens_at)
		tokens = cap;
	dev->cookie_tokens_at = now;
	if (tokens < cost) {
		dev->cookie_tokens = tokens;
		return false;
	}
	dev->cookie_tokens = tokens - cost;
	return true;
}

static enum receive_result admit_handshake(struct device *dev, const struct endpoint *from, uint8_t *buf,
					   size_t len, uint64_t now)
{
	if (!dev->has_identity) {
		peer_count_drop(dev, NULL, DROP_NO_IDENTITY);
		return RECEIVED_DROPPED;
	}
	note_handshake_arrival(dev, now);
	bool under_load = device_is_under_load(dev, now);
	enum cookie_mac_state macs = cookie_validate_packet(&dev->cookie_checker, buf, len, from, under_load, now,
							    dev->io.random, dev->io.ctx);
	if (macs == COOKIE_MAC_INVALID) {
		peer_count_drop(dev, NULL, DROP_BAD_MAC1);
		return RECEIVED_DROPPED;
	}
	if (under_load && macs != COOKIE_MAC1_AND_MAC2_VALID) {
		/* Prove you can receive at that address before we spend
		 * four scalar multiplications on you. */
		if (!cookie_reply_allowed(dev, now)) {
			peer_count_drop(dev, NULL, DROP_UNDER_LOAD_RATELIMIT);
			return RECEIVED_DROPPED;
		}
		struct message_handshake_cookie reply;
		cookie_create_reply(&dev->cookie_checker, dev->aead, &reply, buf, len, from, now, dev->io.random,
				    dev->io.ctx);
		dev->io.send(dev->io.ctx, NULL, from, (uint8_t *)&reply, sizeof(reply));
		dev->cookie_replies_sent++;
		struct device_event ev = {.type = EVENT_COOKIE_SENT, .new_endpoint = from, .now = now};
		device_emit(dev, &ev);
		return RECEIVED_COOKIE_SENT;
	}
	if (under_load) {
		/* mac2 proves the sender receives at that address: each such
		 * address gets its 20 a second. */
		size_t addr_len;
		const uint8_t *addr = endpoint_addr_bytes(from, &addr_len);
		if (!ratelimiter_allow(dev->ratelimiter, from->addr.sa.sa_family, addr, now)) {
			peer_count_drop(dev, NULL, DROP_UNDER_LOAD_RATELIMIT);
			return RECEIVED_DROPPED;
		}
	}
	dev->handshakes_computed++;
	return RECEIVED_HANDSHAKE;
}

/* The response is sent now, or, given `later`, prepared for
 * device_send_made_response. */
static void finish_initiation(struct device *dev, struct peer *peer, const struct endpoint *from, size_t len,
			      uint64_t now, struct noise_response_making *later)
{
	/* An initiation is no answer to what we sent: the clocks that wait
	 * for one (TIMER_NEW_HANDSHAKE, unanswered_since) keep running.
	 *
	 * Until the peer has proven a session with us since we learnt it
	 * (after a restart, all timestamps are forgotten), an initiation may
	 * be a capture, replayed: each older one beats the one replayed
	 * before it. It is answered where it came from, but the endpoint
	 * waits for the data that confirms the session, which only the real
	 * peer can send. */
	bool unproven = !peer->session_proven;
	note_authenticated_receive(peer, unproven ? NULL : from, len, MESSAGE_HANDSHAKE_INITIATION, now);
	peer_emit(peer, EVENT_HANDSHAKE_INITIATION_RECEIVED, now);
	const struct endpoint *reply_to = unproven ? from : &peer->endpoint;
	if (later) {
		noise_prepare_response(dev, peer, later);
		later->reply_to = *reply_to;
	} else
		send_response(dev, peer, reply_to, now);
	timers_on_authenticated_packet_traversal(peer, now);
}

static enum receive_result receive_handshake(struct device *dev, const struct endpoint *from, uint8_t *buf,
					     size_t len, enum message_type type, uint64_t now)
{
	enum receive_result admitted = admit_handshake(dev, from, buf, len, now);
	if (admitted != RECEIVED_HANDSHAKE)
		return admitted;

	int drop;
	struct peer *peer, *sender;
	if (type == MESSAGE_HANDSHAKE_INITIATION) {
		peer = noise_consume_initiation(dev, (const struct message_handshake_initiation *)buf, now, &drop,
						&sender);
		if (!peer) {
			peer_count_drop(dev, sender, (enum drop_reason)drop);
			return RECEIVED_DROPPED;
		}
		finish_initiation(dev, peer, from, len, now, NULL);
		return RECEIVED_HANDSHAKE;
	}
	peer = noise_consume_response(dev, (const struct message_handshake_response *)buf, &drop);
	if (!peer) {
		peer_count_drop(dev, NULL, (enum drop_reason)drop);
		return RECEIVED_DROPPED;
	}
	note_authenticated_receive(peer, from, len, MESSAGE_HANDSHAKE_RESPONSE, now);
	if (noise_begin_session(dev, peer, now)) {
		timers_on_session_derived(peer, now);
		timers_on_handshake_complete(peer, now);
		peer_emit(peer, EVENT_HANDSHAKE_COMPLETE, now);
		/* Confirms the keypair to the responder, which may not send
		 * until it hears from us under it. */
		peer_send_keepalive(peer, now);
	}
	timers_on_authenticated_packet_received(peer);
	timers_on_authenticated_packet_traversal(peer, now);
	return RECEIVED_HANDSHAKE;
}

bool device_admit_initiation(struct device *dev, const struct endpoint *from, uint8_t *buf, size_t len,
			     uint64_t now)
{
	if (len != MESSAGE_INITIATION_LEN || message_type_of(buf, len) != MESSAGE_HANDSHAKE_INITIATION) {
		peer_count_drop(dev, NULL, DROP_BAD_SIZE);
		return false;
	}
	if (!dev->up) {
		peer_count_drop(dev, NULL, DROP_UNKNOWN_TYPE);
		return false;
	}
	return admit_handshake(dev, from, buf, len, now) == RECEIVED_HANDSHAKE;
}

enum receive_result device_receive_opened_initiation(struct device *dev, const struct endpoint *from,
						     const uint8_t *buf, size_t len,
						     const struct noise_initiation_opening *opening, uint64_t now,
						     struct noise_response_making *later)
{
	if (later)
		later->due = false;
	/* Gone down while it was being opened: as device_receive would. */
	if (!dev->up || len != MESSAGE_INITIATION_LEN) {
		peer_count_drop(dev, NULL, DROP_UNKNOWN_TYPE);
		return RECEIVED_DROPPED;
	}
	int drop;
	struct peer *sender;
	struct peer *peer = noise_consume_opened_initiation(dev, (const struct message_handshake_initiation *)buf,
							    opening, now, &drop, &sender);
	if (!peer) {
		peer_count_drop(dev, sender, (enum drop_reason)drop);
		return RECEIVED_DROPPED;
	}
	finish_initiation(dev, peer, from, len, now, later);
	return RECEIVED_HANDSHAKE;
}

bool device_send_made_response(struct device *dev, const struct noise_response_making *made, uint64_t now)
{
	struct peer *peer = dev->up ? pubkey_table_lookup(&dev->pubkeys, made->initiator_static) : NULL;
	struct message_handshake_response *msg = (struct message_handshake_response *)dev->scratch;
	if (!peer || !noise_install_response(dev, peer, made, msg)) {
		peer_count_drop(dev, peer, DROP_BAD_STATE);
		return false;
	}
	send_response_made(dev, peer, msg, &made->reply_to, now);
	return true;
}

static enum receive_result receive_cookie(struct device *dev, const uint8_t *buf, uint64_t now)
{
	const struct message_handshake_cookie *msg = (const struct message_handshake_cookie *)buf;
	const struct index_entry *entry = index_table_lookup(&dev->indices, le32_read(msg->receiver_index));
	if (!entry) {
		peer_count_drop(dev, NULL, DROP_UNKNOWN_INDEX);
		return RECEIVED_DROPPED;
	}
	if (!cookie_consume_reply(&entry->peer->cookie, dev->aead, msg, now)) {
		peer_count_drop(dev, entry->peer, DROP_COOKIE_DECRYPT);
		return RECEIVED_DROPPED;
	}
	/* No resend now: the retransmit timer's next initiation carries mac2. */
	peer_emit(entry->peer, EVENT_COOKIE_RECEIVED, now);
	return RECEIVED_COOKIE;
}

/* The initiator rekeys shortly before the session would expire if it is
 * still receiving but not sending (then the send-side check never runs). */
static void keep_key_fresh_after_receive(struct peer *peer, uint64_t now)
{
	const struct noise_keypair *kp = peer->keypairs.current;
	if (peer->sent_lastminute_handshake || !kp || !kp->sending_valid || !kp->i_am_the_initiator ||
	    now - kp->birth < REKEY_ON_RECEIVE_AGE)
		return;
	peer->sent_lastminute_handshake = true;
	peer_send_initiation(peer, false, now);
}

/* fe80::/10 or 169.254.0.0/16: a source that lives on the peer's own link
 * (its tun's router solicitations and MLD), never a tunnel address. */
static bool link_local_source(int family, const uint8_t *src)
{
	if (family == AF_INET6)
		return src[0] == 0xfe && (src[1] & 0xc0) == 0x80;
	return src[0] == 169 && src[1] == 254;
}

/* Inner source address and the packet's true length (padding stripped). */
static const uint8_t *inner_source(const uint8_t *pkt, size_t len, int *family, size_t *inner_len)
{
	if (len >= IP4_HDR_LEN && ip_version(pkt) == 4) {
		size_t total = (size_t)pkt[IP4_TOTAL_LEN] << 8 | pkt[IP4_TOTAL_LEN + 1];
		if (total < IP4_HDR_LEN || total > len)
			return NULL;
		*family = AF_INET;
		*inner_len = total;
		return pkt + IP4_SRC;
	}
	if (len >= IP6_HDR_LEN && ip_version(pkt) == 6) {
		size_t total = IP6_HDR_LEN + ((size_t)pkt[IP6_PAYLOAD_LEN] << 8 | pkt[IP6_PAYLOAD_LEN + 1]);
		if (total > len)
			return NULL;
		*family = AF_INET6;
		*inner_len = total;
		return pkt + IP6_SRC;
	}
	return NULL;
}

/* Whether an authentic data packet is the newest the peer has sent that
 * reached us: only that one may move the peer's endpoint (docs/protocol.md
 * §4.2). One that arrives behind newer ones says where the peer was, not
 * where it is: a packet held in a queue on the path the peer has just left
 * (a neighbour-discovery queue released when the old link comes back, a
 * congested router) or reordered between two paths. Followed, it points our
 * traffic at an address the peer no longer listens on, until the peer's next
 * packet, and each such move also forgets the path MTU learnt for the new
 * path. Newest means a counter above every one its keypair accepted, under a
 * keypair the peer has not left for a newer one: once anything arrived under
 * the current keypair, the previous one only carries stragglers. */
static bool is_newest_from_peer(const struct peer *peer, const struct noise_keypair *kp, uint64_t counter)
{
	if (!replay_is_ahead(&kp->replay, counter))
		return false;
	const struct noise_keypair *current = peer->keypairs.current;
	return kp != peer->keypairs.previous || !current || !replay_accepted_any(&current->replay);
}

static enum receive_result receive_data(struct device *dev, const struct endpoint *from, uint8_t *buf, size_t len,
					uint64_t now)
{
	struct message_data *msg = (struct message_data *)buf;
	const struct index_entry *entry = index_table_lookup(&dev->indices, le32_read(msg->receiver_index));
	if (!entry || entry->kind != INDEX_KEYPAIR) {
		peer_count_drop(dev, NULL, DROP_UNKNOWN_INDEX);
		return RECEIVED_DROPPED;
	}
	struct noise_keypair *kp = entry->keypair;
	struct peer *peer = entry->peer;
	if (now - kp->birth >= REJECT_AFTER_TIME) {
		peer_count_drop(dev, peer, DROP_KEY_EXPIRED);
		return RECEIVED_DROPPED;
	}
	uint64_t counter = le64_read(msg->counter);
	size_t sealed_len = len - MESSAGE_DATA_HEADER_LEN;
	if (!aead_open(dev->aead, msg->encrypted_data, msg->encrypted_data, sealed_len, NULL, 0, counter,
		       kp->receive_key)) {
		peer_count_drop(dev, peer, DROP_BAD_AUTH);
		return RECEIVED_DROPPED;
	}
	bool newest = is_newest_from_peer(peer, kp, counter);
	if (!replay_check_and_update(&kp->replay, counter)) {
		peer_count_drop(dev, peer, DROP_REPLAY);
		return RECEIVED_DROPPED;
	}

	/* Authentic and fresh: from here on the packet may change state. */
	if (!newest && !endpoint_same_remote(&peer->endpoint, from)) {
		struct device_event ev = {.type = EVENT_LATE_PACKET_ELSEWHERE,
					  .peer = peer,
					  .old_endpoint = from,
					  .new_endpoint = &peer->endpoint,
					  .now = now};
		device_emit(dev, &ev);
	}
	note_authenticated_receive(peer, newest ? from : NULL, len, MESSAGE_DATA, now);
	if (noise_received_with_keypair(dev, peer, kp)) {
		timers_on_handshake_complete(peer, now);
		peer_emit(peer, EVENT_HANDSHAKE_COMPLETE, now);
		peer_send_staged(peer, now);
	}
	keep_key_fresh_after_receive(peer, now);
	timers_on_authenticated_packet_received(peer);
	timers_on_authenticated_packet_traversal(peer, now);

	/* Heard from: large packets sent so far did not vanish unanswered. */
	peer->probe.silent_since = 0;
	size_t plain_len = sealed_len - NOISE_AUTHTAG_LEN;
	if (plain_len == 0)
		return RECEIVED_KEEPALIVE;
	/* Data came: answer within KEEPALIVE_TIMEOUT even if the packet is
	 * dropped below (as the kernel does), so the sender can tell a peer
	 * that receives and drops from one its packets never reach. */
	timers_on_data_received(peer, now);

	int family;
	size_t inner_len;
	const uint8_t *src = inner_source(msg->encrypted_data, plain_len, &family, &inner_len);
	if (!src) {
		peer_count_drop(dev, peer, DROP_BAD_INNER);
		return RECEIVED_DROPPED;
	}
	/* Cryptokey routing: the key that decrypted the packet must be the
	 * one the source address belongs to. */
	if (allowedips_lookup(&dev->allowedips, family, src) != peer) {
		if (link_local_source(family, src)) {
			peer_count_drop(dev, peer, DROP_LINK_LOCAL_SRC);
			return RECEIVED_DROPPED;
		}
		peer_count_drop(dev, peer, DROP_DISALLOWED_SRC);
		peer->last_disallowed_family = family;
		memcpy(peer->last_disallowed_src, src, family == AF_INET ? 4 : 16);
		return RECEIVED_DROPPED;
	}
	/* The answer to a path probe is ours, not the tunnel's. */
	if (peer->probe.round_deadline && pathprobe_consume_answer(peer, msg->encrypted_data, inner_len, family, now))
		return RECEIVED_PATH_PROBE;
	dev->io.deliver(dev->io.ctx, peer, msg->encrypted_data, inner_len);
	return RECEIVED_DATA;
}

enum receive_result device_receive(struct device *dev, const struct endpoint *from, uint8_t *buf, size_t len,
				   uint64_t now)
{
	enum message_type type = message_type_of(buf, len);
	static const size_t exact_len[] = {
		[MESSAGE_HANDSHAKE_INITIATION] = MESSAGE_INITIATION_LEN,
		[MESSAGE_HANDSHAKE_RESPONSE] = MESSAGE_RESPONSE_LEN,
		[MESSAGE_HANDSHAKE_COOKIE] = MESSAGE_COOKIE_LEN,
	};

	if (len < sizeof(struct message_header)) {
		peer_count_drop(dev, NULL, DROP_TRUNCATED);
		return RECEIVED_DROPPED;
	}
	if (!dev->up || type == MESSAGE_INVALID) {
		peer_count_drop(dev, NULL, DROP_UNKNOWN_TYPE);
		return RECEIVED_DROPPED;
	}
	if (type == MESSAGE_DATA ? len < MESSAGE_DATA_MIN_LEN || len > MESSAGE_MAX_LEN : len != exact_len[type]) {
		peer_count_drop(dev, NULL, DROP_BAD_SIZE);
		return RECEIVED_DROPPED;
	}
	switch (type) {
	case MESSAGE_HANDSHAKE_INITIATION:
	case MESSAGE_HANDSHAKE_RESPONSE:
		return receive_handshake(dev, from, buf, len, type, now);
	case MESSAGE_HANDSHAKE_COOKIE:
		return receive_cookie(dev, buf, now);
	case MESSAGE_DATA:
		return receive_data(dev, from, buf, len, now);
	default:
		return RECEIVED_DROPPED;
	}
}
