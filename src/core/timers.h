/* The per-peer timer state machine (docs/protocol.md §5.2), on the injected
 * monotonic clock.
 *
 * Each peer has five deadlines. All peers sit in one min-heap keyed by a
 * lower bound of their earliest deadline: pushing a deadline later (which
 * the data path does on every packet) only writes a field; the heap is
 * corrected lazily when the stale entry surfaces. So the per-packet cost is
 * O(1) and firing is O(log peers), whatever the number of peers.
 *
 * Hooks are named for the event that happened; "called after ..." says
 * exactly when the send/receive paths call them. */
#ifndef ROAM_TIMERS_H
#define ROAM_TIMERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct device;
struct peer;

enum peer_timer {
	TIMER_RETRANSMIT_HANDSHAKE,
	TIMER_SEND_KEEPALIVE,
	TIMER_NEW_HANDSHAKE,
	TIMER_ZERO_KEY_MATERIAL,
	TIMER_PERSISTENT_KEEPALIVE,
	TIMER_PATH_PROBE,
	TIMER_CANDIDATE_RETURN,	/* probe the preferred endpoint candidate */
	TIMER_FAMILY_RACE,	/* the same initiation over the other family */
	TIMER_COUNT,
};

struct timer_heap {
	struct peer **peers;
	size_t count, capacity;
};

void timer_heap_free(struct timer_heap *heap);
bool timer_is_pending(const struct peer *peer, enum peer_timer timer);
void timers_stop(struct device *dev, struct peer *peer);
uint64_t timers_next_deadline(const struct device *dev);
void timers_run(struct device *dev, uint64_t now);
void timers_remove_peer(struct device *dev, struct peer *peer);

/* Called after an initiation was sent. */
void timers_on_handshake_initiated(struct peer *peer, uint64_t now);
/* Called after a handshake completed (initiator: response consumed;
 * responder: first data on the new keypair). */
void timers_on_handshake_complete(struct peer *peer, uint64_t now);
/* Called after a keypair was derived. */
void timers_on_session_derived(struct peer *peer, uint64_t now);
/* Called after a non-empty data packet was sent. */
void timers_on_data_sent(struct peer *peer, uint64_t now);
/* Path probing (pathprobe.c) has work at `at`; an earlier deadline already
 * armed stands. */
void timers_on_path_probe_due(struct peer *peer, uint64_t at);
/* Arms (or moves) the return to the preferred endpoint candidate. */
void timers_on_candidate_return_due(struct peer *peer, uint64_t at);
void timers_on_family_race_due(struct peer *peer, uint64_t at);
/* Called after a non-empty data packet was received and authenticated. */
void timers_on_data_received(struct peer *peer, uint64_t now);
/* Called after any authenticated packet (handshake, data, keepalive) was sent. */
void timers_on_authenticated_packet_sent(struct peer *peer);
/* Called after any authenticated packet was received. */
void timers_on_authenticated_packet_received(struct peer *peer);
/* Called after any authenticated packet was sent or received. */
void timers_on_authenticated_packet_traversal(struct peer *peer, uint64_t now);

#endif
