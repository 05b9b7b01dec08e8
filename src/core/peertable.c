/* Index and public-key tables: open addressing, linear probing, and
 * backward-shift deletion (no tombstones, so lookups stay short however
 * much the tables churn). Both grow at half load. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "peer.h"
#include "peertable.h"

enum { INITIAL_CAPACITY = 64 };

/* splitmix64's finaliser: indices are random already, but public keys are
 * chosen by whoever configures the device, so mix with a secret seed. */
static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

int index_table_init(struct index_table *t)
{
	t->slots = calloc(INITIAL_CAPACITY, sizeof(*t->slots));
	t->mask = INITIAL_CAPACITY - 1;
	t->count = 0;
	return t->slots ? 0 : -ENOMEM;
}

void index_table_free(struct index_table *t)
{
	free(t->slots);
	t->slots = NULL;
}

static size_t index_slot(const struct index_table *t, uint32_t index)
{
	return (size_t)mix64(index) & t->mask;
}

static struct index_entry *index_find(const struct index_table *t, uint32_t index)
{
	for (size_t i = index_slot(t, index);; i = (i + 1) & t->mask) {
		struct index_entry *e = &t->slots[i];
		if (!e->kind)
			return NULL;
		if (e->index == index)
			return e;
	}
}

static void index_place(struct index_table *t, const struct index_entry *entry)
{
	size_t i = index_slot(t, entry->index);
	while (t->slots[i].kind)
		i = (i + 1) & t->mask;
	t->slots[i] = *entry;
}

static bool index_grow(struct index_table *t)
{
	size_t old_cap = t->mask + 1;
	struct index_entry *old = t->slots;
	struct index_entry *slots = calloc(old_cap * 2, sizeof(*slots));
	if (!slots)
		return false;
	t->slots = slots;
	t->mask = old_cap * 2 - 1;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].kind)
			index_place(t, &old[i]);
	free(old);
	return true;
}

uint32_t index_table_insert_new(struct index_table *t, enum index_kind kind, struct peer *peer,
				struct noise_keypair *kp, void (*random)(void *, void *, size_t), void *random_ctx)
{
	/* Growth failure only makes the table fuller; it never loses entries.
	 * Past 3/4 full we refuse (index 0) rather than degrade. */
	if ((t->count + 1) * 2 > t->mask + 1 && !index_grow(t) && (t->count + 1) * 4 > (t->mask + 1) * 3)
		return 0;
	struct index_entry entry = {.kind = (uint8_t)kind, .peer = peer, .keypair = kp};
	do
		random(random_ctx, &entry.index, sizeof(entry.index));
	while (!entry.index || index_find(t, entry.index));
	index_place(t, &entry);
	t->count++;
	return entry.index;
}

void index_table_replace(struct index_table *t, uint32_t index, enum index_kind kind, struct noise_keypair *kp)
{
	struct index_entry *e = index ? index_find(t, index) : NULL;
	if (e) {
		e->kind = (uint8_t)kind;
		e->keypair = kp;
	}
}

const struct index_entry *index_table_lookup(const struct index_table *t, uint32_t index)
{
	return index ? index_find(t, index) : NULL;
}

void index_table_remove(struct index_table *t, uint32_t index)
{
	struct index_entry *e = index ? index_find(t, index) : NULL;
	if (!e)
		return;
	/* Backward shift: pull later members of the probe run into the hole so
	 * no lookup ever has to step over a deleted slot. */
	size_t hole = (size_t)(e - t->slots);
	for (size_t i = (hole + 1) & t->mask; t->slots[i].kind; i = (i + 1) & t->mask) {
		size_t home = index_slot(t, t->slots[i].index);
		if (((i - home) & t->mask) >= ((i - hole) & t->mask)) {
			t->slots[hole] = t->slots[i];
			hole = i;
		}
	}
	memset(&t->slots[hole], 0, sizeof(t->slots[hole]));
	t->count--;
}

int pubkey_table_init(struct pubkey_table *t, uint64_t seed)
{
	t->slots = calloc(INITIAL_CAPACITY, sizeof(*t->slots));
	t->mask = INITIAL_CAPACITY - 1;
	t->count = 0;
	t->seed = seed;
	return t->slots ? 0 : -ENOMEM;
}

void pubkey_table_free(struct pubkey_table *t)
{
	free(t->slots);
	t->slots = NULL;
}

static size_t pubkey_slot(const struct pubkey_table *t, const uint8_t key[NOISE_PUBLIC_KEY_LEN])
{
	return (size_t)mix64(le64_read(key) ^ le64_read(key + 8) ^ t->seed) & t->mask;
}

static void pubkey_place(struct pubkey_table *t, struct peer *peer)
{
	size_t i = pubkey_slot(t, peer->public_key);
	while (t->slots[i])
		i = (i + 1) & t->mask;
	t->slots[i] = peer;
}

int pubkey_table_insert(struct pubkey_table *t, struct peer *peer)
{
	if ((t->count + 1) * 2 > t->mask + 1) {
		size_t old_cap = t->mask + 1;
		struct peer **old = t->slots;
		struct peer **slots = calloc(old_cap * 2, sizeof(*slots));
		if (!slots)
			return -ENOMEM;
		t->slots = slots;
		t->mask = old_cap * 2 - 1;
		for (size_t i = 0; i < old_cap; i++)
			if (old[i])
				pubkey_place(t, old[i]);
		free(old);
	}
	pubkey_place(t, peer);
	t->count++;
	return 0;
}

static struct peer **pubkey_find(const struct pubkey_table *t, const uint8_t key[NOISE_PUBLIC_KEY_LEN])
{
	for (size_t i = pubkey_slot(t, key);; i = (i + 1) & t->mask) {
		if (!t->slots[i])
			return NULL;
		if (memcmp(t->slots[i]->public_key, key, NOISE_PUBLIC_KEY_LEN) == 0)
			return &t->slots[i];
	}
}

struct peer *pubkey_table_lookup(const struct pubkey_table *t, const uint8_t key[NOISE_PUBLIC_KEY_LEN])
{
	struct peer **p = pubkey_find(t, key);
	return p ? *p : NULL;
}

void pubkey_table_remove(struct pubkey_table *t, const struct peer *peer)
{
	struct peer **p = pubkey_find(t, peer->public_key);
	if (!p)
		return;
	size_t hole = (size_t)(p - t->slots);
	for (size_t i = (hole + 1) & t->mask; t->slots[i]; i = (i + 1) & t->mask) {
		size_t home = pubkey_slot(t, t->slots[i]->public_key);
		if (((i - home) & t->mask) >= ((i - hole) & t->mask)) {
			t->slots[hole] = t->slots[i];
			hole = i;
		}
	}
	t->slots[hole] = NULL;
	t->count--;
}
