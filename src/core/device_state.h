/* The device's internal state. Internal to src/core. */
#ifndef ROAM_DEVICE_STATE_H
#define ROAM_DEVICE_STATE_H

#include "allowedips.h"
#include "cookie.h"
#include "crypto.h"
#include "device.h"
#include "peertable.h"
#include "ratelimiter.h"
#include "timers.h"
#include "timestamp_memory.h"

struct device {
	struct device_io io;
	struct aead_ctx *aead;
	bool up;
	unsigned mtu;

	bool has_identity;
	uint8_t static_private[NOISE_PRIVATE_KEY_LEN];
	uint8_t static_public[NOISE_PUBLIC_KEY_LEN];
	struct cookie_checker cookie_checker;

	struct peer *peers_first, *peers_last;
	size_t peer_count;
	size_t path_mtu_peers;	/* peers with a path MTU (pathmtu.c) */
	bool path_probing;	/* pathprobe.c; off until the embedder asks */
	uint8_t *probe_buf;	/* one probe, with head- and tailroom; lazily */
	bool sending_probe;	/* io->send is handed a probe (pathprobe.c) */
	struct pubkey_table pubkeys;
	struct index_table indices;
	struct allowedips allowedips;
	struct timer_heap timers;
	struct ratelimiter *ratelimiter;
	/* Removed peers' newest handshake timestamps, for their return. */
	struct timestamp_memory removed_timestamps;

	/* Load estimate: a leaky bucket of handshake work, in ns of one core. */
	uint64_t handshake_cost_ns;	/* 0 = no estimate */
	uint64_t handshake_load;
	uint64_t handshake_load_at;
	uint64_t last_under_load;
	bool has_been_under_load;
	uint64_t handshakes_computed, cookie_replies_sent; /* device_get_handshake_counts */
	/* The budget of cookie replies: a token bucket in ns (receive.c). */
	uint64_t cookie_tokens, cookie_tokens_at;

	uint64_t drops[DROP_REASON_COUNT]; /* all drops, attributed or not */
	/* Scratch for building handshake messages. */
	uint8_t scratch[MESSAGE_INITIATION_LEN];
};

static inline void device_random(struct device *dev, void *buf, size_t len)
{
	dev->io.random(dev->io.ctx, buf, len);
}

static inline void device_emit(struct device *dev, const struct device_event *ev)
{
	if (dev->io.event)
		dev->io.event(dev->io.ctx, ev);
}

#endif
