/* The device: identity, peers and their configuration, up/down. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "device_state.h"
#include "peer.h"

enum { RATELIMITER_CAPACITY = 8192, DEFAULT_HANDSHAKE_CAPACITY = 4000 };

struct device *device_new(const struct device_io *io)
{
	/* The device and its peers hold private and pre-shared keys:
	 * secmem keeps them out of core dumps and swap (secmem.c). */
	struct device *dev = secmem_alloc(sizeof(*dev));
	if (!dev)
		return NULL;
	dev->io = *io;
	dev->mtu = DEFAULT_MTU;
	dev->handshake_cost_ns = NSEC_PER_SEC / DEFAULT_HANDSHAKE_CAPACITY;
	uint64_t seeds[2];
	io->random(io->ctx, seeds, sizeof(seeds));
	dev->aead = aead_ctx_new();
	dev->ratelimiter = ratelimiter_new(RATELIMITER_CAPACITY, RATELIMITER_CAPACITY, seeds[1]);
	if (!dev->aead || !dev->ratelimiter || index_table_init(&dev->indices) ||
	    pubkey_table_init(&dev->pubkeys, seeds[0])) {
		device_free(dev);
		return NULL;
	}
	allowedips_init(&dev->allowedips);
	return dev;
}

void device_free(struct device *dev)
{
	if (!dev)
		return;
	device_peers_remove_all(dev);
	allowedips_free(&dev->allowedips);
	index_table_free(&dev->indices);
	pubkey_table_free(&dev->pubkeys);
	timer_heap_free(&dev->timers);
	ratelimiter_free(dev->ratelimiter);
	timestamp_memory_free(&dev->removed_timestamps);
	aead_ctx_free(dev->aead);
	free(dev->probe_buf);
	secmem_free(dev);
}

static void peer_stop(struct peer *peer)
{
	noise_clear_peer(peer->dev, peer);
	timers_stop(peer->dev, peer);
	peer_purge_staged(peer);
	peer->need_another_keepalive = false;
	peer->sent_lastminute_handshake = false;
	peer->has_sent_handshake = false;
	peer->handshake_attempts = 0;
	peer->candidate_trying = -1;
	peer->candidate_probing_home = false;
	/* A search in flight dies with the timers that would end it. */
	peer->probe.round_deadline = 0;
	peer->probe.search_wanted = false;
	peer->probe.silent_since = 0;
}

void device_up(struct device *dev, uint64_t now)
{
	if (dev->up)
		return;
	dev->up = true;
	for (struct peer *p = dev->peers_first; p; p = p->list_next)
		if (p->persistent_keepalive)
			peer_send_keepalive(p, now);
}

void device_down(struct device *dev)
{
	if (!dev->up)
		return;
	dev->up = false;
	for (struct peer *p = dev->peers_first; p; p = p->list_next)
		peer_stop(p);
}

bool device_is_up(const struct device *dev)
{
	return dev->up;
}

void device_set_mtu(struct device *dev, unsigned mtu)
{
	dev->mtu = mtu;
}

bool device_set_private_key(struct device *dev, const uint8_t key[NOISE_PRIVATE_KEY_LEN], uint64_t now)
{
	if (!key || crypto_is_zero(key, NOISE_PRIVATE_KEY_LEN)) {
		if (!dev->has_identity)
			return true;
		crypto_wipe(dev->static_private, sizeof(dev->static_private));
		memset(dev->static_public, 0, sizeof(dev->static_public));
		dev->has_identity = false;
	} else {
		uint8_t clamped[NOISE_PRIVATE_KEY_LEN], pub[NOISE_PUBLIC_KEY_LEN];
		memcpy(clamped, key, sizeof(clamped));
		x25519_clamp(clamped);
		bool same = dev->has_identity && crypto_equal(clamped, dev->static_private, sizeof(clamped));
		if (same || !x25519_public_from_private(pub, clamped)) {
			crypto_wipe(clamped, sizeof(clamped));
			return same;
		}
		memcpy(dev->static_private, clamped, sizeof(clamped));
		memcpy(dev->static_public, pub, sizeof(pub));
		crypto_wipe(clamped, sizeof(clamped));
		dev->has_identity = true;
		cookie_checker_init(&dev->cookie_checker, dev->static_public);
		/* We cannot be our own peer. */
		struct peer *self = pubkey_table_lookup(&dev->pubkeys, dev->static_public);
		if (self)
			device_peer_remove(dev, self);
	}
	/* Every session was keyed to the old identity: stop sending with it and
	 * re-handshake at once where a session was live. */
	for (struct peer *p = dev->peers_first; p; p = p->list_next) {
		bool was_live = p->keypairs.current != NULL;
		noise_precompute_static_static(dev, p);
		noise_expire_sending(p);
		noise_clear_handshake(dev, p);
		if (was_live) {
			p->has_sent_handshake = false;
			peer_send_initiation(p, false, now);
		}
	}
	return true;
}

bool device_private_key(const struct device *dev, uint8_t key[NOISE_PRIVATE_KEY_LEN])
{
	if (dev->has_identity)
		memcpy(key, dev->static_private, NOISE_PRIVATE_KEY_LEN);
	return dev->has_identity;
}

bool device_public_key(const struct device *dev, uint8_t key[NOISE_PUBLIC_KEY_LEN])
{
	if (dev->has_identity)
		memcpy(key, dev->static_public, NOISE_PUBLIC_KEY_LEN);
	return dev->has_identity;
}

void device_report_under_load(struct device *dev, uint64_t now)
{
	dev->last_under_load = now;
	dev->has_been_under_load = true;
}

void device_report_handshake_backlog(struct device *dev, unsigned queued, uint64_t now)
{
	if (queued >= UNDER_LOAD_QUEUE_LEN)
		device_report_under_load(dev, now);
}

void device_get_handshake_counts(const struct device *dev, uint64_t *computed, uint64_t *cookie_replies)
{
	*computed = dev->handshakes_computed;
	*cookie_replies = dev->cookie_replies_sent;
}

void device_set_handshake_capacity(struct device *dev, unsigned per_second)
{
	dev->handshake_cost_ns = per_second ? NSEC_PER_SEC / per_second : 0;
	dev->handshake_load = 0;
}

bool device_is_under_load(const struct device *dev, uint64_t now)
{
	return dev->has_been_under_load && now - dev->last_under_load < UNDER_LOAD_AFTER_TIME;
}

struct peer *device_peer_create(struct device *dev, const uint8_t public_key[NOISE_PUBLIC_KEY_LEN], uint64_t now,
				int *err)
{
	if (pubkey_table_lookup(&dev->pubkeys, public_key)) {
		*err = -EEXIST;
		return NULL;
	}
	if (dev->has_identity && memcmp(public_key, dev->static_public, NOISE_PUBLIC_KEY_LEN) == 0) {
		*err = -EINVAL;
		return NULL;
	}
	struct peer *peer = secmem_alloc(sizeof(*peer));
	if (!peer) {
		*err = -ENOMEM;
		return NULL;
	}
	peer->dev = dev;
	peer->heap_pos = SIZE_MAX;
	memcpy(peer->public_key, public_key, NOISE_PUBLIC_KEY_LEN);
	cookie_maker_init(&peer->cookie, public_key);
	noise_precompute_static_static(dev, peer);
	/* Back after a removal: what it had accepted stays refused. */
	timestamp_memory_recall(&dev->removed_timestamps, public_key, peer->handshake.latest_timestamp);
	if (pubkey_table_insert(&dev->pubkeys, peer)) {
		secmem_free(peer);
		*err = -ENOMEM;
		return NULL;
	}
	peer->list_prev = dev->peers_last;
	if (dev->peers_last)
		dev->peers_last->list_next = peer;
	else
		dev->peers_first = peer;
	dev->peers_last = peer;
	dev->peer_count++;
	*err = 0;
	peer_emit(peer, EVENT_PEER_CREATED, now);
	return peer;
}

struct peer *device_peer_lookup(const struct device *dev, const uint8_t public_key[NOISE_PUBLIC_KEY_LEN])
{
	return pubkey_table_lookup(&dev->pubkeys, public_key);
}

void device_peer_remove(struct device *dev, struct peer *peer)
{
	peer_emit(peer, EVENT_PEER_REMOVED, 0);
	timestamp_memory_remember(&dev->removed_timestamps, peer->public_key, peer->handshake.latest_timestamp);
	peer_stop(peer);
	allowedips_remove_by_owner(&dev->allowedips, &peer->allowedips);
	pubkey_table_remove(&dev->pubkeys, peer);
	if (peer->list_prev)
		peer->list_prev->list_next = peer->list_next;
	else
		dev->peers_first = peer->list_next;
	if (peer->list_next)
		peer->list_next->list_prev = peer->list_prev;
	else
		dev->peers_last = peer->list_prev;
	dev->peer_count--;
	peer_forget_path_mtu(peer);
	peer_clear_endpoint_candidates(peer);
	free(peer->history);
	secmem_free(peer);
}

void device_peers_remove_all(struct device *dev)
{
	while (dev->peers_first)
		device_peer_remove(dev, dev->peers_first);
}

size_t device_peer_count(const struct device *dev)
{
	return dev->peer_count;
}

struct peer *device_peer_first(const struct device *dev)
{
	return dev->peers_first;
}

struct peer *device_peer_next(const struct peer *peer)
{
	return peer->list_next;
}

void peer_set_preshared_key(struct peer *peer, const uint8_t psk[NOISE_SYMMETRIC_KEY_LEN])
{
	if (psk)
		memcpy(peer->preshared_key, psk, NOISE_SYMMETRIC_KEY_LEN);
	else
		crypto_wipe(peer->preshared_key, NOISE_SYMMETRIC_KEY_LEN);
}

void peer_set_endpoint(struct peer *peer, const struct endpoint *ep)
{
	if (!endpoint_same_remote(&peer->endpoint, ep))
		peer_forget_path_mtu(peer);
	peer->endpoint = *ep;
}

const struct endpoint *peer_endpoint(const struct peer *peer)
{
	return &peer->endpoint;
}

void peer_forget_source(struct peer *peer)
{
	peer_clear_source(peer);
}

void peer_confirm_source(struct peer *peer, const struct endpoint *checked, uint32_t mark)
{
	if (endpoint_same_remote(&peer->endpoint, checked) && endpoint_same_source(&peer->endpoint, checked))
		peer->endpoint.src_checked = mark;
}

void device_count_drop(struct device *dev, struct peer *peer, enum drop_reason reason)
{
	if (reason > DROP_NONE && reason < DROP_REASON_COUNT)
		peer_count_drop(dev, peer, reason);
}

void peer_set_persistent_keepalive(struct peer *peer, uint16_t seconds, uint64_t now)
{
	bool turned_on = !peer->persistent_keepalive && seconds;
	peer->persistent_keepalive = seconds;
	if (!seconds)
		peer->timer_deadline[TIMER_PERSISTENT_KEEPALIVE] = 0;
	else if (turned_on && peer->dev->up)
		peer_send_keepalive(peer, now);
}

int peer_allowedips_insert(struct peer *peer, int family, const uint8_t *addr, uint8_t cidr)
{
	return allowedips_insert(&peer->dev->allowedips, family, addr, cidr, peer, &peer->allowedips);
}

bool peer_allowedips_remove(struct peer *peer, int family, const uint8_t *addr, uint8_t cidr)
{
	return allowedips_remove(&peer->dev->allowedips, family, addr, cidr, peer, &peer->allowedips);
}

void peer_allowedips_clear(struct peer *peer)
{
	allowedips_remove_by_owner(&peer->dev->allowedips, &peer->allowedips);
}

void peer_allowedips_walk(const struct peer *peer, peer_allowedips_fn fn, void *ctx)
{
	allowedips_walk_owner(&peer->allowedips, fn, ctx);
}

struct peer *device_route_lookup(const struct device *dev, int family, const uint8_t *addr)
{
	return allowedips_lookup(&dev->allowedips, family, addr);
}

bool peer_get_preshared_key(const struct peer *peer, uint8_t psk[NOISE_SYMMETRIC_KEY_LEN])
{
	memcpy(psk, peer->preshared_key, NOISE_SYMMETRIC_KEY_LEN);
	return !crypto_is_zero(psk, NOISE_SYMMETRIC_KEY_LEN);
}

void peer_get_info(const struct peer *peer, struct peer_info *info)
{
	memset(info, 0, sizeof(*info));
	memcpy(info->public_key, peer->public_key, NOISE_PUBLIC_KEY_LEN);
	info->endpoint = peer->endpoint;
	info->persistent_keepalive = peer->persistent_keepalive;
	info->last_handshake_wall_ns = peer->last_handshake_wall_ns;
	info->last_handshake_mono = peer->last_handshake_mono;
	info->last_receive_mono = peer->last_receive_mono;
	info->unanswered_since_mono = peer->unanswered_since;
	info->rx_bytes = peer->rx_bytes;
	info->tx_bytes = peer->tx_bytes;
	info->rx_packets = peer->rx_packets;
	info->tx_packets = peer->tx_packets;
	memcpy(info->drops, peer->drops, sizeof(info->drops));
	info->handshake_attempts = peer->handshakes_sent_since_success;
	info->responses_unconfirmed = peer->responses_unconfirmed;
	info->last_disallowed_family = peer->last_disallowed_family;
	memcpy(info->last_disallowed_src, peer->last_disallowed_src, sizeof(info->last_disallowed_src));
	info->has_current_keypair = peer->keypairs.current != NULL;
}

const struct peer_history *peer_get_history(const struct peer *peer)
{
	return peer->history;
}

void peer_set_user(struct peer *peer, void *user)
{
	peer->user = user;
}

void *peer_user(const struct peer *peer)
{
	return peer->user;
}

void device_get_drops(const struct device *dev, uint64_t drops[DROP_REASON_COUNT])
{
	memcpy(drops, dev->drops, sizeof(dev->drops));
}

uint64_t device_next_deadline(const struct device *dev)
{
	return timers_next_deadline(dev);
}

void device_run_timers(struct device *dev, uint64_t now)
{
	timers_run(dev, now);
	ratelimiter_gc(dev->ratelimiter, now);
}

const char *drop_reason_name(enum drop_reason reason)
{
	static const char *const names[DROP_REASON_COUNT] = {
		[DROP_NONE] = "none",
		[DROP_TRUNCATED] = "truncated",
		[DROP_UNKNOWN_TYPE] = "unknown_type",
		[DROP_BAD_SIZE] = "bad_size",
		[DROP_NO_IDENTITY] = "no_identity",
		[DROP_BAD_MAC1] = "bad_mac1",
		[DROP_UNDER_LOAD_RATELIMIT] = "under_load_ratelimit",
		[DROP_HANDSHAKE_DECRYPT] = "handshake_decrypt",
		[DROP_UNKNOWN_PEER] = "unknown_peer",
		[DROP_STALE_TIMESTAMP] = "stale_timestamp",
		[DROP_INITIATION_FLOOD] = "initiation_flood",
		[DROP_UNKNOWN_INDEX] = "unknown_index",
		[DROP_BAD_STATE] = "bad_state",
		[DROP_KEY_EXPIRED] = "key_expired",
		[DROP_BAD_AUTH] = "bad_auth",
		[DROP_REPLAY] = "replay",
		[DROP_BAD_INNER] = "bad_inner",
		[DROP_DISALLOWED_SRC] = "disallowed_src",
		[DROP_NO_ROUTE] = "no_route",
		[DROP_NO_ENDPOINT] = "no_endpoint",
		[DROP_STAGED_OVERFLOW] = "staged_overflow",
		[DROP_COOKIE_DECRYPT] = "cookie_decrypt",
		[DROP_SEND_UNREACHABLE] = "send_unreachable",
		[DROP_SEND_REFUSED] = "send_refused",
		[DROP_SEND_BUFFER_FULL] = "send_buffer_full",
		[DROP_SEND_TOO_BIG] = "send_too_big",
		[DROP_SEND_FAILED] = "send_failed",
		[DROP_PATH_TOO_BIG] = "path_too_big",
		[DROP_HANDSHAKE_QUEUE_FULL] = "handshake_queue_full",
		[DROP_LINK_LOCAL_SRC] = "link_local_src",
	};
	return reason < DROP_REASON_COUNT && names[reason] ? names[reason] : "unknown";
}

const char *device_event_name(enum device_event_type type)
{
	static const char *const names[] = {
		[EVENT_HANDSHAKE_INITIATION_SENT] = "handshake_initiation_sent",
		[EVENT_HANDSHAKE_INITIATION_RECEIVED] = "handshake_initiation_received",
		[EVENT_HANDSHAKE_RESPONSE_SENT] = "handshake_response_sent",
		[EVENT_HANDSHAKE_COMPLETE] = "handshake_complete",
		[EVENT_HANDSHAKE_GIVEN_UP] = "handshake_given_up",
		[EVENT_COOKIE_SENT] = "cookie_sent",
		[EVENT_COOKIE_RECEIVED] = "cookie_received",
		[EVENT_KEEPALIVE_SENT] = "keepalive_sent",
		[EVENT_ENDPOINT_CHANGED] = "endpoint_changed",
		[EVENT_KEYS_ZEROED] = "keys_zeroed",
		[EVENT_PEER_CREATED] = "peer_created",
		[EVENT_PEER_REMOVED] = "peer_removed",
		[EVENT_PATH_PROBED] = "path_probed",
		[EVENT_CANDIDATE_TRIED] = "candidate_tried",
		[EVENT_ATTEMPT_UNANSWERED] = "attempt_unanswered",
		[EVENT_LATE_PACKET_ELSEWHERE] = "late_packet_elsewhere",
	};
	return (size_t)type < sizeof(names) / sizeof(names[0]) && names[type] ? names[type] : "unknown";
}
