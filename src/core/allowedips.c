/* Cryptokey routing table (docs/protocol.md §6): one path-compressed binary trie
 * per address family, longest-prefix match, plus a per-owner list of the
 * prefixes each owner holds.
 *
 * Keys are two 64-bit words, most significant bit first: bit 0 of an
 * address is bit 63 of key[0]. An IPv4 address fills the top 32 bits of
 * key[0] and leaves the rest zero, so one set of helpers serves both
 * families and every comparison is a word operation.
 *
 * Trie invariants (insert establishes them, remove restores them):
 *  - every node is a prefix (key, cidr) whose host bits are zero;
 *  - a child's prefix extends its parent's and is strictly longer, and it
 *    hangs in child[b] where b is its bit at position parent->cidr;
 *  - a node without an owner exists only to join two subtrees, so it has
 *    exactly two children. Hence a family with n prefixes has at most
 *    2n - 1 nodes however much churn it has seen, and a path is at most
 *    33 (IPv4) or 129 (IPv6) nodes long.
 *
 * Memory: a large table has about as many join nodes as prefixes, so join
 * nodes are allocated without the per-owner list fields (64-byte malloc
 * chunks instead of 96); only nodes that hold (or once held) a prefix
 * carry them (struct owned_node). A join node that later receives a prefix
 * is swapped for an owned one.
 *
 * Single-threaded by design: the caller serialises all access. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "allowedips.h"

struct allowedips_node {
	/* Lookup reads only the first 41 bytes (child, key, owner, cidr), at
	 * most two cache lines and often one; parent comes last. */
	struct allowedips_node *child[2];
	uint64_t key[2];
	void *owner; /* NULL: a join node, no prefix stored here */
	uint8_t cidr;
	uint8_t is6;
	uint8_t owned_layout; /* allocated as struct owned_node */
	struct allowedips_node *parent;
};

/* A node that holds a prefix. The list is circular so the owner's single
 * "first" pointer gives O(1) append at the tail (first->prev). */
struct owned_node {
	struct allowedips_node node; /* first member: pointers convert both ways */
	struct allowedips_owner *list;
	struct owned_node *next, *prev;
};

static inline struct owned_node *to_owned(struct allowedips_node *n)
{
	return (struct owned_node *)n;
}

/* The top n bits set, n in 0..64 (a shift by 64 would be undefined). */
static inline uint64_t mask_hi(unsigned n)
{
	return n ? ~UINT64_C(0) << (64 - n) : 0;
}

static inline bool prefix_matches(const struct allowedips_node *n, uint64_t a0, uint64_t a1)
{
	unsigned c = n->cidr;
	uint64_t m0 = mask_hi(c < 64 ? c : 64);
	uint64_t m1 = mask_hi(c > 64 ? c - 64 : 0);

	return (((a0 ^ n->key[0]) & m0) | ((a1 ^ n->key[1]) & m1)) == 0;
}

/* Bit i (0 = most significant) of a key; i < 128. */
static inline unsigned bit_at(const uint64_t key[2], unsigned i)
{
	return (unsigned)(key[i >> 6] >> (63 - (i & 63))) & 1;
}

/* Length of the common leading run of two keys (128 if equal). */
static unsigned common_bits(const uint64_t a[2], const uint64_t b[2])
{
	uint64_t x = a[0] ^ b[0];

	if (x)
		return (unsigned)__builtin_clzll(x);
	x = a[1] ^ b[1];
	return x ? 64 + (unsigned)__builtin_clzll(x) : 128;
}

static inline uint64_t load_be32(const uint8_t *p)
{
	return (uint64_t)p[0] << 24 | (uint64_t)p[1] << 16 | (uint64_t)p[2] << 8 | p[3];
}

static inline uint64_t load_be64(const uint8_t *p)
{
	return load_be32(p) << 32 | load_be32(p + 4);
}

static void store_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

/* Validates family/cidr and builds the masked key. Returns the address
 * width in bits, or 0 when family or cidr is invalid. */
static unsigned make_key(int family, const uint8_t *addr, uint8_t cidr, uint64_t key[2])
{
	if (!addr)
		return 0;
	if (family == AF_INET) {
		if (cidr > 32)
			return 0;
		key[0] = (load_be32(addr) << 32) & mask_hi(cidr);
		key[1] = 0;
		return 32;
	}
	if (family == AF_INET6) {
		if (cidr > 128)
			return 0;
		key[0] = load_be64(addr) & mask_hi(cidr < 64 ? cidr : 64);
		key[1] = load_be64(addr + 8) & mask_hi(cidr > 64 ? cidr - 64u : 0);
		return 128;
	}
	return 0;
}

/* The pointer that refers to n: its parent's child slot or the root. */
static struct allowedips_node **slot_of(struct allowedips *table, struct allowedips_node *n)
{
	struct allowedips_node *p = n->parent;

	if (p)
		return &p->child[p->child[1] == n];
	return n->is6 ? &table->root6 : &table->root4;
}

static void free_node(struct allowedips_node *n)
{
	if (n->owned_layout)
		free(to_owned(n));
	else
		free(n);
}

static void list_append(struct allowedips_owner *list, struct owned_node *o)
{
	struct owned_node *first = to_owned(list->first);

	o->list = list;
	if (!first) {
		o->next = o->prev = o;
		list->first = &o->node;
	} else {
		o->prev = first->prev;
		o->next = first;
		first->prev->next = o;
		first->prev = o;
	}
	list->count++;
}

static void list_unlink(struct owned_node *o)
{
	struct allowedips_owner *list = o->list;

	if (o->next == o) {
		list->first = NULL;
	} else {
		o->prev->next = o->next;
		o->next->prev = o->prev;
		if (list->first == &o->node)
			list->first = &o->next->node;
	}
	list->count--;
	o->list = NULL;
	o->next = o->prev = NULL;
}

/* Called when n has just lost its owner (or a child). Unlinks every node
 * that no longer joins two subtrees. Removing a leaf can leave its parent
 * a join node with one child, so this climbs, but at most two levels: a
 * node replaced by its only child leaves its parent's child count as it
 * was. */
static void compact(struct allowedips *table, struct allowedips_node *n)
{
	while (n && !n->owner && !(n->child[0] && n->child[1])) {
		struct allowedips_node *child = n->child[0] ? n->child[0] : n->child[1];
		struct allowedips_node *parent = n->parent;

		/* The child extends n, so it has n's bit at parent->cidr and
		 * belongs in n's slot. */
		*slot_of(table, n) = child;
		if (child)
			child->parent = parent;
		free_node(n);
		n = parent;
	}
}

void allowedips_init(struct allowedips *table)
{
	table->root4 = NULL;
	table->root6 = NULL;
	table->count = 0;
}

/* Post-order without recursion or a stack: descend to a leaf, free it,
 * detach it from its parent and carry on from the parent. */
static void free_trie(struct allowedips_node *n)
{
	while (n) {
		struct allowedips_node *parent;

		if (n->child[0]) {
			n = n->child[0];
			continue;
		}
		if (n->child[1]) {
			n = n->child[1];
			continue;
		}
		parent = n->parent;
		if (parent)
			parent->child[parent->child[1] == n] = NULL;
		free_node(n);
		n = parent;
	}
}

void allowedips_free(struct allowedips *table)
{
	free_trie(table->root4);
	free_trie(table->root6);
	allowedips_init(table);
}

/* Gives the existing node n (at *slot) for exactly this prefix to owner.
 * A join node is first replaced by a node with the list fields. */
static int claim(struct allowedips *table, struct allowedips_node **slot, struct allowedips_node *n,
		 void *owner, struct allowedips_owner *list)
{
	struct owned_node *o;

	if (n->owned_layout) {
		o = to_owned(n);
	} else {
		o = malloc(sizeof(*o));
		if (!o)
			return -ENOMEM;
		o->node = *n;
		o->node.owned_layout = 1;
		*slot = &o->node;
		for (int i = 0; i < 2; i++)
			if (n->child[i])
				n->child[i]->parent = &o->node;
		free(n);
	}
	/* The last insert wins, and it counts as the newest entry of its
	 * owner even when the owner does not change (list_move_tail in the
	 * kernel's add). */
	if (o->node.owner)
		list_unlink(o);
	else
		table->count++;
	o->node.owner = owner;
	list_append(list, o);
	return 0;
}

int allowedips_insert(struct allowedips *table, int family, const uint8_t *addr, uint8_t cidr,
		      void *owner, struct allowedips_owner *list)
{
	struct allowedips_node **slot, *parent = NULL, *n, *branch = NULL;
	struct owned_node *fresh;
	uint64_t key[2];

	/* A NULL owner would read back as "no prefix here". */
	if (!owner || !list || !make_key(family, addr, cidr, key))
		return -EINVAL;
	slot = family == AF_INET6 ? &table->root6 : &table->root4;

	/* Descend while the node's prefix contains the new one. */
	while ((n = *slot) && n->cidr <= cidr && prefix_matches(n, key[0], key[1])) {
		if (n->cidr == cidr)
			return claim(table, slot, n, owner, list);
		parent = n;
		slot = &n->child[bit_at(key, n->cidr)];
	}

	/* Every allocation happens before the trie is touched, so -ENOMEM
	 * leaves it as it was. */
	fresh = malloc(sizeof(*fresh));
	if (!fresh)
		return -ENOMEM;
	memset(fresh, 0, sizeof(*fresh));
	fresh->node.key[0] = key[0];
	fresh->node.key[1] = key[1];
	fresh->node.cidr = cidr;
	fresh->node.is6 = family == AF_INET6;
	fresh->node.owned_layout = 1;
	fresh->node.owner = owner;

	if (n) {
		/* n sits where the new prefix belongs but does not contain it.
		 * Both share the bits down to min(common, cidr); if that is
		 * all of the new prefix, n goes below it, otherwise a join
		 * node at the first differing bit takes both. */
		unsigned common = common_bits(key, n->key);

		if (common > cidr)
			common = cidr;
		if (common == cidr) {
			fresh->node.child[bit_at(n->key, cidr)] = n;
			n->parent = &fresh->node;
		} else {
			branch = malloc(sizeof(*branch));
			if (!branch) {
				free(fresh);
				return -ENOMEM;
			}
			memset(branch, 0, sizeof(*branch));
			branch->key[0] = key[0] & mask_hi(common < 64 ? common : 64);
			branch->key[1] = key[1] & mask_hi(common > 64 ? common - 64 : 0);
			branch->cidr = (uint8_t)common;
			branch->is6 = fresh->node.is6;
			branch->parent = parent;
			branch->child[bit_at(key, common)] = &fresh->node;
			branch->child[bit_at(n->key, common)] = n;
			n->parent = branch;
		}
	}
	fresh->node.parent = branch ? branch : parent;
	*slot = branch ? branch : &fresh->node;
	list_append(list, fresh);
	table->count++;
	return 0;
}

static struct allowedips_node *find_exact(struct allowedips_node *n, const uint64_t key[2],
					  uint8_t cidr)
{
	while (n && n->cidr <= cidr && prefix_matches(n, key[0], key[1])) {
		if (n->cidr == cidr)
			return n;
		n = n->child[bit_at(key, n->cidr)];
	}
	return NULL;
}

bool allowedips_remove(struct allowedips *table, int family, const uint8_t *addr, uint8_t cidr,
		       void *owner, struct allowedips_owner *list)
{
	struct allowedips_node *n;
	uint64_t key[2];

	if (!owner || !make_key(family, addr, cidr, key))
		return false;
	n = find_exact(family == AF_INET6 ? table->root6 : table->root4, key, cidr);
	/* Both must match: the list is the one whose count we change. */
	if (!n || n->owner != owner || to_owned(n)->list != list)
		return false;
	list_unlink(to_owned(n));
	n->owner = NULL;
	table->count--;
	compact(table, n);
	return true;
}

void allowedips_remove_by_owner(struct allowedips *table, struct allowedips_owner *list)
{
	struct owned_node *o = to_owned(list->first);

	if (!o)
		return;
	/* Open the ring so the walk ends without touching freed nodes. */
	o->prev->next = NULL;
	while (o) {
		struct owned_node *next = o->next;

		o->node.owner = NULL;
		o->list = NULL;
		o->next = o->prev = NULL;
		table->count--;
		/* Frees o unless it still joins two subtrees, and may free
		 * its parent; never another owned node of this list, since
		 * those still have their owner set. */
		compact(table, &o->node);
		o = next;
	}
	list->first = NULL;
	list->count = 0;
}

/* The hot path: no allocation, no recursion, word compares only. */
static void *lookup4(const struct allowedips_node *n, uint64_t a)
{
	void *best = NULL;

	while (n) {
		unsigned c = n->cidr;

		if ((a ^ n->key[0]) & mask_hi(c))
			break;
		if (n->owner)
			best = n->owner;
		/* For c == 32 this reads bit 31 of the word, always 0, and a
		 * /32 node has no children, so the loop ends. */
		n = n->child[(a >> (63 - c)) & 1];
	}
	return best;
}

/* Two phases so each loop works on one word, as lookup4 does: along any
 * path cidr only grows, so once a node's prefix reaches into the second
 * word, all further ones do too. */
static void *lookup6(const struct allowedips_node *n, uint64_t a0, uint64_t a1)
{
	void *best = NULL;

	for (; n && n->cidr < 64; n = n->child[(a0 >> (63 - n->cidr)) & 1]) {
		if ((a0 ^ n->key[0]) & mask_hi(n->cidr))
			return best;
		if (n->owner)
			best = n->owner;
	}
	while (n) {
		unsigned c = n->cidr; /* 64..128 */

		if (a0 != n->key[0] || ((a1 ^ n->key[1]) & mask_hi(c - 64)))
			break;
		if (n->owner)
			best = n->owner;
		if (c == 128)
			break;
		n = n->child[(a1 >> (127 - c)) & 1];
	}
	return best;
}

void *allowedips_lookup(const struct allowedips *table, int family, const uint8_t *addr)
{
	if (family == AF_INET)
		return lookup4(table->root4, load_be32(addr) << 32);
	if (family == AF_INET6)
		return lookup6(table->root6, load_be64(addr), load_be64(addr + 8));
	return NULL;
}

/* fn must not change the table while the walk runs. */
void allowedips_walk_owner(const struct allowedips_owner *list, allowedips_walk_fn fn, void *ctx)
{
	const struct owned_node *first = (const struct owned_node *)list->first, *o = first;

	if (!o)
		return;
	do {
		uint8_t addr[16];
		int family = o->node.is6 ? AF_INET6 : AF_INET;

		store_be64(addr, o->node.key[0]);
		store_be64(addr + 8, o->node.key[1]);
		if (!fn(ctx, family, addr, o->node.cidr))
			return;
		o = o->next;
	} while (o != first);
}
