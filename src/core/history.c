/* Per-peer roaming history and NAT-binding inference (see history.h). */
#include <stdlib.h>

#include "device_state.h"
#include "history.h"
#include "peer.h"

const char *history_kind_name(enum history_kind kind)
{
	switch (kind) {
	case HISTORY_ENDPOINT_CHANGED:
		return "endpoint_changed";
	case HISTORY_HANDSHAKE_COMPLETE:
		return "handshake_complete";
	case HISTORY_HANDSHAKE_GIVEN_UP:
		return "handshake_given_up";
	case HISTORY_KEYS_ZEROED:
		return "keys_zeroed";
	}
	return "unknown";
}

const struct history_entry *history_entry_at(const struct peer_history *h, unsigned i)
{
	unsigned oldest = (h->next + HISTORY_ENTRIES - h->count) % HISTORY_ENTRIES;
	return &h->entries[(oldest + i) % HISTORY_ENTRIES];
}

unsigned history_suggested_keepalive(const struct peer_history *h)
{
	if (!h->nat_rebound_min_idle)
		return 0;
	/* Half the shortest gap that lost the mapping, at most the customary
	 * 25 s: margin for timers that start at different moments. */
	uint64_t secs = h->nat_rebound_min_idle / 2 / NSEC_PER_SEC;
	if (secs < 1)
		secs = 1;
	return secs > 25 ? 25 : (unsigned)secs;
}

static struct history_entry *history_append(struct peer *peer, enum history_kind kind, uint64_t now)
{
	if (!peer->history) {
		peer->history = calloc(1, sizeof(*peer->history));
		if (!peer->history)
			return NULL;
	}
	struct peer_history *h = peer->history;
	struct history_entry *e = &h->entries[h->next];
	h->next = (h->next + 1) % HISTORY_ENTRIES;
	if (h->count < HISTORY_ENTRIES)
		h->count++;
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->mono = now;
	e->wall_ns = peer->dev->io.wall_ns(peer->dev->io.ctx);
	return e;
}

void history_note_endpoint_change(struct peer *peer, const struct endpoint *old, const struct endpoint *new,
				  uint64_t idle, bool nat_evidence, uint64_t now)
{
	struct history_entry *e = history_append(peer, HISTORY_ENDPOINT_CHANGED, now);
	if (!e)
		return;
	e->old_endpoint = *old;
	e->new_endpoint = *new;
	e->idle_before = idle;
	struct peer_history *h = peer->history;
	h->endpoint_changes++;
	/* The first endpoint ever learnt, one after a long silence we never
	 * saw the start of, or one a handshake initiation brought (a restart,
	 * perhaps), says nothing about a NAT. */
	if (nat_evidence && endpoint_is_set(old) && peer->last_receive_mono && idle >= HISTORY_MIN_IDLE_FOR_NAT) {
		h->nat_rebinds++;
		if (!h->nat_rebound_min_idle || idle < h->nat_rebound_min_idle)
			h->nat_rebound_min_idle = idle;
	}
}

void history_note_kept_binding(struct peer *peer, uint64_t idle)
{
	/* Called per packet from an unchanged endpoint: keep it to a compare
	 * unless the gap is a record worth allocating for. */
	if (idle < HISTORY_MIN_IDLE_FOR_NAT || (peer->history && idle <= peer->history->nat_kept_max_idle))
		return;
	if (!peer->history && !(peer->history = calloc(1, sizeof(*peer->history))))
		return;
	peer->history->nat_kept_max_idle = idle;
}

void history_note(struct peer *peer, enum history_kind kind, uint64_t now)
{
	history_append(peer, kind, now);
}
