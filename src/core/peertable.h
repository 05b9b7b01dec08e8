/* The two O(1) lookups the receive path needs (docs/protocol.md §1):
 * - by public key: an initiation names its sender only by static key;
 * - by receiver index: every other message names one of our handshakes
 *   or keypairs by the 32-bit index we chose for it.
 * Both are open-addressing hash tables that grow; lookups never allocate. */
#ifndef ROAM_PEERTABLE_H
#define ROAM_PEERTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "messages.h"

struct peer;
struct noise_keypair;

enum index_kind {
	INDEX_HANDSHAKE = 1,
	INDEX_KEYPAIR = 2,
};

struct index_entry {
	uint32_t index;
	uint8_t kind;		/* 0 = empty slot */
	struct peer *peer;
	struct noise_keypair *keypair; /* INDEX_KEYPAIR only */
};

struct index_table {
	struct index_entry *slots;
	size_t mask;		/* capacity - 1 */
	size_t count;
};

struct pubkey_table {
	struct peer **slots;
	size_t mask;
	size_t count;
	uint64_t seed;
};

int index_table_init(struct index_table *t);
void index_table_free(struct index_table *t);
/* Draws random indices until one is unused and non-zero, and inserts it. */
uint32_t index_table_insert_new(struct index_table *t, enum index_kind kind, struct peer *peer,
				struct noise_keypair *kp, void (*random)(void *, void *, size_t), void *random_ctx);
/* Re-points an existing index (handshake -> keypair) without changing it. */
void index_table_replace(struct index_table *t, uint32_t index, enum index_kind kind, struct noise_keypair *kp);
const struct index_entry *index_table_lookup(const struct index_table *t, uint32_t index);
void index_table_remove(struct index_table *t, uint32_t index);

int pubkey_table_init(struct pubkey_table *t, uint64_t seed);
void pubkey_table_free(struct pubkey_table *t);
int pubkey_table_insert(struct pubkey_table *t, struct peer *peer);
struct peer *pubkey_table_lookup(const struct pubkey_table *t, const uint8_t key[NOISE_PUBLIC_KEY_LEN]);
void pubkey_table_remove(struct pubkey_table *t, const struct peer *peer);

#endif
