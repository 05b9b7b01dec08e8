/* Per-peer timers (docs/protocol.md §5.2) on a lazy min-heap of peers. */
#include <stdint.h>
#include <stdlib.h>

#include "device_state.h"
#include "peer.h"
#include "timers.h"

#define NOT_IN_HEAP SIZE_MAX

/* ---- the heap -------------------------------------------------------- */

static void heap_set(struct timer_heap *h, size_t pos, struct peer *peer)
{
	h->peers[pos] = peer;
	peer->heap_pos = pos;
}

static void heap_sift_up(struct timer_heap *h, size_t pos)
{
	struct peer *peer = h->peers[pos];
	while (pos > 0) {
		size_t parent = (pos - 1) / 2;
		if (h->peers[parent]->heap_key <= peer->heap_key)
			break;
		heap_set(h, pos, h->peers[parent]);
		pos = parent;
	}
	heap_set(h, pos, peer);
}

static void heap_sift_down(struct timer_heap *h, size_t pos)
{
	struct peer *peer = h->peers[pos];
	for (;;) {
		size_t child = 2 * pos + 1;
		if (child >= h->count)
			break;
		if (child + 1 < h->count && h->peers[child + 1]->heap_key < h->peers[child]->heap_key)
			child++;
		if (peer->heap_key <= h->peers[child]->heap_key)
			break;
		heap_set(h, pos, h->peers[child]);
		pos = child;
	}
	heap_set(h, pos, peer);
}

static void heap_remove(struct timer_heap *h, struct peer *peer)
{
	size_t pos = peer->heap_pos;
	if (pos == NOT_IN_HEAP)
		return;
	peer->heap_pos = NOT_IN_HEAP;
	struct peer *last = h->peers[--h->count];
	if (pos == h->count)
		return;
	heap_set(h, pos, last);
	heap_sift_up(h, pos);
	heap_sift_down(h, last->heap_pos);
}

/* Makes sure the heap will look at this peer no later than `deadline`.
 * Moving a deadline later needs nothing: the stale, earlier key surfaces,
 * finds nothing due, and is re-keyed then. */
static void heap_ensure(struct timer_heap *h, struct peer *peer, uint64_t deadline)
{
	if (peer->heap_pos != NOT_IN_HEAP) {
		if (deadline < peer->heap_key) {
			peer->heap_key = deadline;
			heap_sift_up(h, peer->heap_pos);
		}
		return;
	}
	if (h->count == h->capacity) {
		size_t cap = h->capacity ? h->capacity * 2 : 64;
		struct peer **peers = realloc(h->peers, cap * sizeof(*peers));
		if (!peers)
			abort(); /* cannot keep a timer promise; never expected */
		h->peers = peers;
		h->capacity = cap;
	}
	peer->heap_key = deadline;
	heap_set(h, h->count++, peer);
	heap_sift_up(h, peer->heap_pos);
}

void timer_heap_free(struct timer_heap *heap)
{
	free(heap->peers);
	heap->peers = NULL;
	heap->count = heap->capacity = 0;
}

/* ---- arming ---------------------------------------------------------- */

static void timer_arm(struct peer *peer, enum peer_timer timer, uint64_t deadline)
{
	/* Like the kernel, a stopped device or a dead peer arms nothing. */
	if (!peer->dev->up)
		return;
	if (deadline == 0)
		deadline = 1;
	peer->timer_deadline[timer] = deadline;
	heap_ensure(&peer->dev->timers, peer, deadline);
}

static void timer_disarm(struct peer *peer, enum peer_timer timer)
{
	peer->timer_deadline[timer] = 0;
}

bool timer_is_pending(const struct peer *peer, enum peer_timer timer)
{
	return peer->timer_deadline[timer] != 0;
}

static uint64_t jitter(struct peer *peer)
{
	uint32_t r;
	device_random(peer->dev, &r, sizeof(r));
	return (uint64_t)(r % REKEY_TIMEOUT_JITTER_MAX_MS) * NSEC_PER_MSEC;
}

void timers_stop(struct device *dev, struct peer *peer)
{
	for (int t = 0; t < TIMER_COUNT; t++)
		peer->timer_deadline[t] = 0;
	heap_remove(&dev->timers, peer);
}

void timers_remove_peer(struct device *dev, struct peer *peer)
{
	timers_stop(dev, peer);
}

/* ---- what happens when a timer fires --------------------------------- */

static void expired_retransmit_handshake(struct peer *peer, uint64_t now)
{
	if (peer->handshake_attempts > MAX_TIMER_HANDSHAKES) {
		/* 1 initiation + 19 retries went unanswered: stop trying until
		 * there is new data, and forget keys unless that happens. */
		peer_emit(peer, EVENT_HANDSHAKE_GIVEN_UP, now);
		timer_disarm(peer, TIMER_SEND_KEEPALIVE);
		peer_purge_staged(peer);
		if (!timer_is_pending(peer, TIMER_ZERO_KEY_MATERIAL))
			timer_arm(peer, TIMER_ZERO_KEY_MATERIAL, now + ZERO_KEY_MATERIAL_TIMEOUT);
		return;
	}
	peer->handshake_attempts++;
	/* The path may have changed under us: let the kernel pick a route;
	 * a peer with several addresses tries the next one. */
	peer_clear_source(peer);
	candidates_on_unanswered(peer, now);
	peer_send_initiation(peer, true, now);
}

static void expired_send_keepalive(struct peer *peer, uint64_t now)
{
	peer_send_keepalive(peer, now);
	if (peer->need_another_keepalive) {
		peer->need_another_keepalive = false;
		timer_arm(peer, TIMER_SEND_KEEPALIVE, now + KEEPALIVE_TIMEOUT);
	}
}

static void expired_new_handshake(struct peer *peer, uint64_t now)
{
	/* We sent data and heard nothing for 15 s: the session may be dead on
	 * the other side, or the path to it dead (then another of its
	 * addresses may answer). With an initiation of ours in flight, its
	 * own retry counts the attempt, once. */
	peer_clear_source(peer);
	if (!timer_is_pending(peer, TIMER_RETRANSMIT_HANDSHAKE))
		candidates_on_unanswered(peer, now);
	peer_send_initiation(peer, false, now);
}

static void expired_zero_key_material(struct peer *peer, uint64_t now)
{
	noise_clear_peer(peer->dev, peer);
	peer_emit(peer, EVENT_KEYS_ZEROED, now);
}

static void expired_persistent_keepalive(struct peer *peer, uint64_t now)
{
	if (peer->persistent_keepalive)
		peer_send_keepalive(peer, now);
}

static void (*const expired[TIMER_COUNT])(struct peer *, uint64_t) = {
	[TIMER_RETRANSMIT_HANDSHAKE] = expired_retransmit_handshake,
	[TIMER_SEND_KEEPALIVE] = expired_send_keepalive,
	[TIMER_NEW_HANDSHAKE] = expired_new_handshake,
	[TIMER_ZERO_KEY_MATERIAL] = expired_zero_key_material,
	[TIMER_PERSISTENT_KEEPALIVE] = expired_persistent_keepalive,
	[TIMER_PATH_PROBE] = pathprobe_timer,
	[TIMER_CANDIDATE_RETURN] = candidates_return_timer,
	[TIMER_FAMILY_RACE] = candidates_race_timer,
};

static int earliest_timer(const struct peer *peer)
{
	int best = -1;
	for (int t = 0; t < TIMER_COUNT; t++)
		if (peer->timer_deadline[t] && (best < 0 || peer->timer_deadline[t] < peer->timer_deadline[best]))
			best = t;
	return best;
}

uint64_t timers_next_deadline(const struct device *dev)
{
	return dev->timers.count ? dev->timers.peers[0]->heap_key : UINT64_MAX;
}

void timers_run(struct device *dev, uint64_t now)
{
	struct timer_heap *h = &dev->timers;
	while (h->count && h->peers[0]->heap_key <= now) {
		struct peer *peer = h->peers[0];
		heap_remove(h, peer);
		/* Fire what is due, earliest first; a handler may arm timers of
		 * this peer again, which re-enters it into the heap. */
		for (int t; (t = earliest_timer(peer)) >= 0 && peer->timer_deadline[t] <= now;) {
			peer->timer_deadline[t] = 0;
			expired[t](peer, now);
		}
		int t = earliest_timer(peer);
		if (t >= 0)
			heap_ensure(h, peer, peer->timer_deadline[t]);
	}
}

/* ---- events (docs/protocol.md §5.2 table) --------------------------------- */

void timers_on_handshake_initiated(struct peer *peer, uint64_t now)
{
	timer_arm(peer, TIMER_RETRANSMIT_HANDSHAKE, now + REKEY_TIMEOUT + jitter(peer));
}

void timers_on_handshake_complete(struct peer *peer, uint64_t now)
{
	timer_disarm(peer, TIMER_RETRANSMIT_HANDSHAKE);
	peer->handshake_attempts = 0;
	peer->sent_lastminute_handshake = false;
	peer->handshakes_sent_since_success = 0;
	peer->responses_unconfirmed = 0;
	peer->last_handshake_wall_ns = peer->dev->io.wall_ns(peer->dev->io.ctx);
	peer->last_handshake_mono = now;
	candidates_on_handshake_complete(peer, now);
}

void timers_on_session_derived(struct peer *peer, uint64_t now)
{
	timer_arm(peer, TIMER_ZERO_KEY_MATERIAL, now + ZERO_KEY_MATERIAL_TIMEOUT);
}

void timers_on_data_sent(struct peer *peer, uint64_t now)
{
	if (!peer->unanswered_since)
		peer->unanswered_since = now;
	if (!timer_is_pending(peer, TIMER_NEW_HANDSHAKE))
		timer_arm(peer, TIMER_NEW_HANDSHAKE, now + KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + jitter(peer));
}

void timers_on_path_probe_due(struct peer *peer, uint64_t at)
{
	uint64_t armed = peer->timer_deadline[TIMER_PATH_PROBE];
	if (!armed || at < armed)
		timer_arm(peer, TIMER_PATH_PROBE, at);
}

void timers_on_candidate_return_due(struct peer *peer, uint64_t at)
{
	timer_arm(peer, TIMER_CANDIDATE_RETURN, at);
}

void timers_on_family_race_due(struct peer *peer, uint64_t at)
{
	timer_arm(peer, TIMER_FAMILY_RACE, at);
}

void timers_on_data_received(struct peer *peer, uint64_t now)
{
	if (!timer_is_pending(peer, TIMER_SEND_KEEPALIVE))
		timer_arm(peer, TIMER_SEND_KEEPALIVE, now + KEEPALIVE_TIMEOUT);
	else
		peer->need_another_keepalive = true;
}

void timers_on_authenticated_packet_sent(struct peer *peer)
{
	timer_disarm(peer, TIMER_SEND_KEEPALIVE);
}

void timers_on_authenticated_packet_received(struct peer *peer)
{
	peer->unanswered_since = 0;
	timer_disarm(peer, TIMER_NEW_HANDSHAKE);
}

void timers_on_authenticated_packet_traversal(struct peer *peer, uint64_t now)
{
	if (peer->persistent_keepalive)
		timer_arm(peer, TIMER_PERSISTENT_KEEPALIVE, now + (uint64_t)peer->persistent_keepalive * NSEC_PER_SEC);
}
