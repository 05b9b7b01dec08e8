/* The newest handshake timestamp of peers recently removed, so that one
 * removed and configured again (`wg setconf`, `replace_peers`) still refuses
 * the initiations it had already seen: without this, a captured initiation
 * could be replayed once after every reconfiguration and move the peer's
 * endpoint to the attacker's address.
 *
 * Bounded: the last TIMESTAMP_MEMORY_SLOTS removals are kept (the oldest
 * is forgotten first). A reconfiguration removes and re-adds within one
 * UAPI request, so only a remove of more peers than that at once loses any. */
#ifndef ROAM_TIMESTAMP_MEMORY_H
#define ROAM_TIMESTAMP_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "messages.h"

enum { TIMESTAMP_MEMORY_SLOTS = 4096 };

struct remembered_timestamp {
	bool live;    /* false: an empty or forgotten slot */
	uint64_t tag; /* the key's first 8 bytes: a cheap first comparison */
	uint8_t public_key[NOISE_PUBLIC_KEY_LEN];
	uint8_t timestamp[NOISE_TIMESTAMP_LEN];
};

struct timestamp_memory {
	struct remembered_timestamp *slots; /* allocated at the first removal */
	size_t next;			    /* the slot written next (a ring) */
	size_t used;
};

/* Keeps key's timestamp (an all-zero one, never seen, is not kept). A key
 * already kept is overwritten in place. */
void timestamp_memory_remember(struct timestamp_memory *m, const uint8_t key[NOISE_PUBLIC_KEY_LEN],
			       const uint8_t timestamp[NOISE_TIMESTAMP_LEN]);
/* Copies key's timestamp into `timestamp` and forgets it: the peer holds
 * it again. false (timestamp untouched) if none is kept. */
bool timestamp_memory_recall(struct timestamp_memory *m, const uint8_t key[NOISE_PUBLIC_KEY_LEN],
			     uint8_t timestamp[NOISE_TIMESTAMP_LEN]);
void timestamp_memory_free(struct timestamp_memory *m);

#endif
