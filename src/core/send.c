/* Outgoing data (docs/protocol.md §4): route by destination, pad, encrypt in
 * place with the current keypair, or stage and start a handshake. */
#include <string.h>

#include "crypto.h"
#include "device_state.h"
#include "ip_header.h"
#include "peer.h"

/* Pad to a multiple of 16 without going past the MTU (for a segment longer
 * than the MTU only its last MTU-sized piece counts). */
static size_t padded_length(size_t len, unsigned mtu)
{
	size_t last = mtu && len > mtu ? len % mtu : len;
	size_t padded = (last + MESSAGE_PADDING_MULTIPLE - 1) & ~(size_t)(MESSAGE_PADDING_MULTIPLE - 1);
	if (mtu && padded > mtu)
		padded = mtu;
	return len + (padded > last ? padded - last : 0);
}

static bool keypair_can_send(const struct noise_keypair *kp, uint64_t now)
{
	return kp && kp->sending_valid && now - kp->birth < REJECT_AFTER_TIME &&
	       kp->send_counter < REJECT_AFTER_MESSAGES;
}

/* Only the original initiator rekeys on age, so both sides never race. */
static void keep_key_fresh_after_send(struct peer *peer, uint64_t now)
{
	const struct noise_keypair *kp = peer->keypairs.current;
	if (kp && kp->sending_valid &&
	    (kp->send_counter > REKEY_AFTER_MESSAGES || (kp->i_am_the_initiator && now - kp->birth >= REKEY_AFTER_TIME)))
		peer_send_initiation(peer, false, now);
}

static bool encrypt_and_send(struct peer *peer, uint8_t *pkt, size_t len, bool pad, uint64_t now)
{
	struct device *dev = peer->dev;
	struct noise_keypair *kp = peer->keypairs.current;
	if (!dev->up || !keypair_can_send(kp, now))
		return false;

	uint64_t counter = kp->send_counter++;
	/* Padding stays within what the path carries, when that is less. */
	unsigned mtu = dev->mtu, limit = peer_path_inner_limit(peer, now);
	if (limit && (!mtu || limit < mtu))
		mtu = limit;
	size_t padded = pad ? padded_length(len, mtu) : len;
	memset(pkt + len, 0, padded - len);
	struct message_data *msg = (struct message_data *)(pkt - MESSAGE_DATA_HEADER_LEN);
	le32_write(msg->header.type, MESSAGE_DATA);
	le32_write(msg->receiver_index, kp->remote_index);
	le64_write(msg->counter, counter);
	aead_seal(dev->aead, pkt, pkt, padded, NULL, 0, counter, kp->send_key);

	timers_on_authenticated_packet_traversal(peer, now);
	timers_on_authenticated_packet_sent(peer);
	peer_transmit(peer, (uint8_t *)msg, MESSAGE_DATA_HEADER_LEN + padded + NOISE_AUTHTAG_LEN);
	if (len)
		timers_on_data_sent(peer, now);
	keep_key_fresh_after_send(peer, now);
	return true;
}

bool peer_encrypt_and_send(struct peer *peer, uint8_t *pkt, size_t len, uint64_t now)
{
	return encrypt_and_send(peer, pkt, len, true, now);
}

bool peer_encrypt_and_send_unpadded(struct peer *peer, uint8_t *pkt, size_t len, uint64_t now)
{
	return encrypt_and_send(peer, pkt, len, false, now);
}

/* Destination address of an IP packet, or NULL if it is not one. */
static const uint8_t *packet_destination(const uint8_t *pkt, size_t len, int *family)
{
	if (len >= IP4_HDR_LEN && ip_version(pkt) == 4) {
		*family = AF_INET;
		return pkt + IP4_DST;
	}
	if (len >= IP6_HDR_LEN && ip_version(pkt) == 6) {
		*family = AF_INET6;
		return pkt + IP6_DST;
	}
	return NULL;
}

/* The part of device_send_packet after the route lookup. */
static enum send_result send_to_peer(struct peer *peer, uint8_t *pkt, size_t len, int family, uint64_t now,
				     enum drop_reason *drop)
{
	*drop = DROP_NONE;
	/* With no address for the peer there is nowhere to send, unless we
	 * answered its first initiation and wait for it to confirm: that
	 * confirmation brings the endpoint, and the staged packets leave. */
	if (!peer_handshake_target(peer) && !peer->keypairs.next) {
		*drop = DROP_NO_ENDPOINT;
		peer_count_drop(peer->dev, peer, *drop);
		return SEND_DROPPED;
	}
	pathprobe_note_sent(peer, pkt, len, family, now);
	/* Keep order: what was staged earlier goes first. */
	if (peer->staged_count)
		peer_send_staged(peer, now);
	if (!peer->staged_count && peer_encrypt_and_send(peer, pkt, len, now))
		return SEND_SENT;
	peer_stage_packet(peer, pkt, len);
	peer_send_initiation(peer, false, now);
	return SEND_STAGED;
}

enum send_result device_send_packet(struct device *dev, uint8_t *pkt, size_t len, uint64_t now,
				    enum drop_reason *drop, struct peer **peer_out)
{
	int family;
	struct peer *peer = NULL;
	const uint8_t *dst = packet_destination(pkt, len, &family);

	if (dst)
		peer = allowedips_lookup(&dev->allowedips, family, dst);
	*peer_out = peer;
	if (!peer) {
		*drop = dst ? DROP_NO_ROUTE : DROP_BAD_INNER;
		peer_count_drop(dev, NULL, *drop);
		return SEND_DROPPED;
	}
	return send_to_peer(peer, pkt, len, family, now, drop);
}

enum send_result peer_send_packet(struct peer *peer, uint8_t *pkt, size_t len, uint64_t now, enum drop_reason *drop)
{
	int family;
	if (!packet_destination(pkt, len, &family)) {
		*drop = DROP_BAD_INNER;
		peer_count_drop(peer->dev, peer, *drop);
		return SEND_DROPPED;
	}
	return send_to_peer(peer, pkt, len, family, now, drop);
}

void peer_send_keepalive_now(struct peer *peer, uint64_t now)
{
	peer_send_keepalive(peer, now);
}
