/* A peer's recent story, for operators: where it has been (endpoint
 * changes, with how long it had been silent before each), how its
 * handshakes went, and what that says about the NATs in its path.
 *
 * NAT-binding inference (docs/roaming.md: measure your networks): a NAT forgets
 * an idle UDP mapping after some timeout T. When a peer that was silent for
 * a gap g reappears from a new address or port, its old mapping had
 * probably expired, so T <= g; when it reappears from the same address
 * after a gap g, the mapping survived, so T > g. The shortest "rebound"
 * gap and the longest "kept" gap bracket T, and a persistent keepalive
 * below the lower edge of the bracket keeps the mapping alive.
 *
 * Bounded: a ring of HISTORY_ENTRIES per peer, allocated on first use so
 * idle configured peers cost nothing. */
#ifndef ROAM_HISTORY_H
#define ROAM_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "endpoint.h"
#include "messages.h"

#define HISTORY_ENTRIES 16
/* Shorter silences are traffic, not idleness: an active roam must not be
 * mistaken for a NAT timeout. */
#define HISTORY_MIN_IDLE_FOR_NAT (2 * NSEC_PER_SEC)

enum history_kind {
	HISTORY_ENDPOINT_CHANGED,
	HISTORY_HANDSHAKE_COMPLETE,
	HISTORY_HANDSHAKE_GIVEN_UP,
	HISTORY_KEYS_ZEROED,
};

struct history_entry {
	uint64_t mono, wall_ns;
	uint64_t idle_before;		/* endpoint changes: silence before */
	struct endpoint old_endpoint, new_endpoint;
	enum history_kind kind;
};

struct peer_history {
	struct history_entry entries[HISTORY_ENTRIES];
	unsigned next, count;
	uint64_t endpoint_changes;	/* all time, beyond the ring */
	/* NAT evidence (ns; 0 = none seen). */
	uint64_t nat_rebound_min_idle;	/* T <= this */
	uint64_t nat_kept_max_idle;	/* T > this */
	uint64_t nat_rebinds;
};

const char *history_kind_name(enum history_kind kind);
/* The i-th entry, oldest first (i < count). */
const struct history_entry *history_entry_at(const struct peer_history *h, unsigned i);
/* The keepalive interval (s) that the evidence suggests: comfortably
 * below the shortest rebound gap, or 0 if there is no evidence. */
unsigned history_suggested_keepalive(const struct peer_history *h);

#endif
