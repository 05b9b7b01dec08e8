/* Timestamps of removed peers (timestamp_memory.h). A ring searched from
 * end to end: removals are rare, re-creations check only while the ring
 * holds anything, and the 8-byte tag makes each comparison one word. */
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "timestamp_memory.h"

static struct remembered_timestamp *find(struct timestamp_memory *m, const uint8_t key[NOISE_PUBLIC_KEY_LEN])
{
	uint64_t tag = le64_read(key);
	for (size_t i = 0; i < m->used; i++) {
		struct remembered_timestamp *r = &m->slots[i];
		if (r->live && r->tag == tag && memcmp(r->public_key, key, NOISE_PUBLIC_KEY_LEN) == 0)
			return r;
	}
	return NULL;
}

void timestamp_memory_remember(struct timestamp_memory *m, const uint8_t key[NOISE_PUBLIC_KEY_LEN],
			       const uint8_t timestamp[NOISE_TIMESTAMP_LEN])
{
	if (crypto_is_zero(timestamp, NOISE_TIMESTAMP_LEN))
		return;
	if (!m->slots) {
		m->slots = calloc(TIMESTAMP_MEMORY_SLOTS, sizeof(*m->slots));
		/* Without memory the replay stays possible, as before: not
		 * worth failing a removal for. */
		if (!m->slots)
			return;
	}
	struct remembered_timestamp *r = find(m, key);
	if (!r) {
		r = &m->slots[m->next];
		m->next = (m->next + 1) % TIMESTAMP_MEMORY_SLOTS;
		if (m->used < TIMESTAMP_MEMORY_SLOTS)
			m->used++;
		r->live = true;
		r->tag = le64_read(key);
		memcpy(r->public_key, key, NOISE_PUBLIC_KEY_LEN);
	}
	memcpy(r->timestamp, timestamp, NOISE_TIMESTAMP_LEN);
}

bool timestamp_memory_recall(struct timestamp_memory *m, const uint8_t key[NOISE_PUBLIC_KEY_LEN],
			     uint8_t timestamp[NOISE_TIMESTAMP_LEN])
{
	if (!m->used)
		return false;
	struct remembered_timestamp *r = find(m, key);
	if (!r)
		return false;
	memcpy(timestamp, r->timestamp, NOISE_TIMESTAMP_LEN);
	memset(r, 0, sizeof(*r)); /* not live: matches no key */
	return true;
}

void timestamp_memory_free(struct timestamp_memory *m)
{
	free(m->slots);
	*m = (struct timestamp_memory){ 0 };
}
