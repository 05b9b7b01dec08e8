/* Per-source token bucket for handshake messages under load (docs/protocol.md §3).
 *
 * Tokens are nanoseconds of credit, as in the kernel's ratelimiter: a bucket
 * gains one token per nanosecond that passes, a packet costs a twentieth of
 * a second, and the bucket holds at most five packets' worth. So a source
 * may send a burst of 5 and then 20 a second, with no division or floating
 * point on the packet path.
 *
 * Sources live in one fixed table allocated by ratelimiter_new: open
 * addressing with linear probing, twice as many slots as the capacity so
 * probe runs stay short and always end at an empty slot. The hash is
 * SipHash-2-4 keyed from the caller's seed, because the keys are addresses
 * an attacker chooses: with a predictable hash it could pile every source
 * into one probe run and make each lookup walk the table.
 *
 * Once a bucket has been idle for more than a second it has refilled
 * completely (a full bucket takes 250 ms), so forgetting it changes no
 * answer. That is what lets ratelimiter_gc delete such entries and lets an
 * insert overwrite one it passes while probing. Deletion shifts the
 * following entries of the probe run back instead of leaving tombstones, so
 * the table never silts up under churn.
 *
 * When every slot the capacity allows is taken by an active source, a new
 * source is not refused outright (that let 8,192 IPv6 /64s, which anyone
 * with one /48 owns, lock every newcomer out) and no active entry is
 * evicted (that would hand an attacker a way to reset other sources'
 * buckets). Instead it shares a bucket with its wider prefix, an IPv4 /24
 * or an IPv6 /48 — one site's allocation — in a second table of the same
 * size. An attacker who filled the first table from a few prefixes then
 * gets one bucket per prefix, and a newcomer from anywhere else gets its
 * own. Only an attacker with active sources in as many distinct /48s (or
 * /24s) as the capacity, all proven reachable by a cookie round trip,
 * fills both; then new sources are refused until entries go idle. */
#include <stdlib.h>
#include <sys/socket.h>

#include "messages.h"
#include "ratelimiter.h"

enum {
	PACKET_COST = NSEC_PER_SEC / RATELIMIT_PACKETS_PER_SECOND,
	TOKEN_MAX = PACKET_COST * RATELIMIT_PACKETS_BURSTABLE,
};

/* Idle longer than this and an entry can be forgotten (see above). */
#define IDLE_TIMEOUT NSEC_PER_SEC
_Static_assert(IDLE_TIMEOUT >= TOKEN_MAX, "a reclaimed bucket must already be full");

enum key_family {
	SLOT_EMPTY = 0,
	KEY_IPV4 = 4,
	KEY_IPV6 = 6,
};

struct rl_entry {
	uint64_t last_ns;
	uint64_t tokens;
	uint64_t addr;  /* the key: an address or a prefix, see key_of */
	uint32_t home;  /* slot the hash points at; saves rehashing on delete */
	uint8_t family; /* enum key_family */
};

/* One open-addressing table of buckets. */
struct bucket_table {
	size_t capacity; /* most entries in use at once */
	size_t count;
	size_t mask;     /* slots - 1; slots = 2 * capacity */
	struct rl_entry *slots;
};

struct ratelimiter {
	uint64_t k0, k1;	  /* SipHash key */
	struct bucket_table exact; /* IPv4 addresses, IPv6 /64s */
	struct bucket_table wide;  /* IPv4 /24s, IPv6 /48s: once exact is full */
};

static inline uint64_t rotl64(uint64_t x, int b)
{
	return x << b | x >> (64 - b);
}

#define SIPROUND                                                                  \
	do {                                                                      \
		v0 += v1, v1 = rotl64(v1, 13), v1 ^= v0, v0 = rotl64(v0, 32);     \
		v2 += v3, v3 = rotl64(v3, 16), v3 ^= v2;                          \
		v0 += v3, v3 = rotl64(v3, 21), v3 ^= v0;                          \
		v2 += v1, v1 = rotl64(v1, 17), v1 ^= v2, v2 = rotl64(v2, 32);     \
	} while (0)

/* SipHash-2-4 of exactly 16 bytes, given as two little-endian words; the
 * fixed length leaves the final block holding only the length byte. */
static uint64_t siphash24_2u64(uint64_t k0, uint64_t k1, uint64_t m0, uint64_t m1)
{
	uint64_t v0 = k0 ^ 0x736f6d6570736575ULL;
	uint64_t v1 = k1 ^ 0x646f72616e646f6dULL;
	uint64_t v2 = k0 ^ 0x6c7967656e657261ULL;
	uint64_t v3 = k1 ^ 0x7465646279746573ULL;
	const uint64_t last = 16ULL << 56;

	v3 ^= m0;
	SIPROUND;
	SIPROUND;
	v0 ^= m0;
	v3 ^= m1;
	SIPROUND;
	SIPROUND;
	v0 ^= m1;
	v3 ^= last;
	SIPROUND;
	SIPROUND;
	v0 ^= last;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

/* SplitMix64 finaliser: spreads the 64-bit seed over the 128-bit SipHash
 * key so that related seeds give unrelated keys. */
static uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static bool table_init(struct bucket_table *t, size_t capacity)
{
	size_t cap = 1;
	while (cap < capacity) {
		if (cap > SIZE_MAX / 4)
			return false;
		cap <<= 1;
	}
	size_t slots = cap * 2;
	/* Slot numbers are stored in 32 bits. */
	if (slots - 1 > UINT32_MAX || slots > SIZE_MAX / sizeof(struct rl_entry))
		return false;
	t->slots = calloc(slots, sizeof(struct rl_entry));
	t->capacity = cap;
	t->mask = slots - 1;
	return t->slots != NULL;
}

struct ratelimiter *ratelimiter_new(size_t capacity, size_t wide_capacity, uint64_t hash_seed)
{
	struct ratelimiter *rl = calloc(1, sizeof(*rl));
	if (!rl)
		return NULL;
	if (!table_init(&rl->exact, capacity) || (wide_capacity && !table_init(&rl->wide, wide_capacity))) {
		ratelimiter_free(rl);
		return NULL;
	}
	rl->k0 = splitmix64(hash_seed);
	rl->k1 = splitmix64(hash_seed ^ 0x5bd1e9955bd1e995ULL);
	return rl;
}

void ratelimiter_free(struct ratelimiter *rl)
{
	if (!rl)
		return;
	free(rl->exact.slots);
	free(rl->wide.slots);
	free(rl);
}

static bool is_idle(const struct rl_entry *e, uint64_t now)
{
	return now > e->last_ns && now - e->last_ns > IDLE_TIMEOUT;
}

/* Spends one packet's worth from the bucket, after crediting the time
 * since it was last seen. */
static bool bucket_take(struct rl_entry *e, uint64_t now)
{
	/* A clock that steps back gives no credit, neither now (rather than a
	 * huge unsigned one) nor later: last_ns stays put so the time is not
	 * counted twice. */
	uint64_t elapsed = 0;
	if (now > e->last_ns) {
		elapsed = now - e->last_ns;
		e->last_ns = now;
	}
	uint64_t tokens = elapsed >= TOKEN_MAX - e->tokens ? TOKEN_MAX : e->tokens + elapsed;
	if (tokens < PACKET_COST) {
		e->tokens = tokens;
		return false;
	}
	e->tokens = tokens - PACKET_COST;
	return true;
}

enum take_result { TAKEN, REFUSED, TABLE_FULL };

/* One packet of the source `key` against table t: its bucket decides, or a
 * new one is made; TABLE_FULL when there is no room for a new one. */
static enum take_result table_take(const struct ratelimiter *rl, struct bucket_table *t, uint8_t fam, uint64_t key,
				   uint64_t now)
{
	/* The family is hashed too, so 198.18.0.1 and ::/64 prefixes that happen
	 * to share bits do not share a probe start. */
	const uint32_t home = (uint32_t)(siphash24_2u64(rl->k0, rl->k1, key, fam) & t->mask);
	struct rl_entry *reuse = NULL;
	size_t i = home;
	struct rl_entry *e;

	/* Ends at an empty slot: at most half the slots are ever in use. */
	for (;; i = (i + 1) & t->mask) {
		e = &t->slots[i];
		if (e->family == SLOT_EMPTY)
			break;
		if (e->family == fam && e->addr == key)
			return bucket_take(e, now) ? TAKEN : REFUSED;
		if (!reuse && is_idle(e, now))
			reuse = e;
	}

	/* A new source. An idle entry on our own probe run can be replaced in
	 * place: the key is not further along (we reached an empty slot), and
	 * the slot stays occupied, so no other key's run is broken. */
	if (reuse) {
		e = reuse;
	} else {
		if (t->count >= t->capacity)
			return TABLE_FULL;
		t->count++;
	}
	e->family = fam;
	e->addr = key;
	e->home = home;
	e->last_ns = now;
	e->tokens = TOKEN_MAX - PACKET_COST; /* this packet is the first of the burst */
	return TAKEN;
}

bool ratelimiter_allow(struct ratelimiter *rl, int family, const uint8_t *addr, uint64_t now)
{
	uint64_t key, wide_key;
	uint8_t fam;

	if (family == AF_INET) {
		key = le32_read(addr);
		wide_key = key & 0x00ffffffULL; /* the first three bytes: the /24 */
		fam = KEY_IPV4;
	} else if (family == AF_INET6) {
		/* Only the /64: a single host commonly owns all of it. */
		key = le64_read(addr);
		wide_key = key & 0x0000ffffffffffffULL; /* the first six bytes: the /48 */
		fam = KEY_IPV6;
	} else {
		return false;
	}
	enum take_result r = table_take(rl, &rl->exact, fam, key, now);
	if (r == TABLE_FULL && rl->wide.slots)
		r = table_take(rl, &rl->wide, fam, wide_key, now);
	return r == TAKEN;
}

/* Empties slot i and closes the gap: each later entry of the run moves back
 * into the hole unless its home lies cyclically after the hole (moving it
 * would put it before its home, where lookups never look). */
static void delete_slot(struct bucket_table *t, size_t hole)
{
	size_t j = hole;
	for (;;) {
		j = (j + 1) & t->mask;
		struct rl_entry *e = &t->slots[j];
		if (e->family == SLOT_EMPTY)
			break;
		/* Distance from home to j versus from the hole to j. */
		size_t from_home = (j - e->home) & t->mask;
		size_t from_hole = (j - hole) & t->mask;
		if (from_home >= from_hole) {
			t->slots[hole] = *e;
			hole = j;
		}
	}
	t->slots[hole] = (struct rl_entry){ 0 };
	t->count--;
}

static void table_gc(struct bucket_table *t, uint64_t now)
{
	if (t->count == 0)
		return;
	/* A deletion may shift a later entry back into slot i, so i is looked
	 * at again before moving on. Entries only ever move backwards within
	 * their run, so each one is still examined; one that wraps past slot 0
	 * may be examined twice, which is harmless. */
	for (size_t i = 0; i <= t->mask;) {
		struct rl_entry *e = &t->slots[i];
		if (e->family != SLOT_EMPTY && is_idle(e, now))
			delete_slot(t, i);
		else
			i++;
	}
}

void ratelimiter_gc(struct ratelimiter *rl, uint64_t now)
{
	table_gc(&rl->exact, now);
	if (rl->wide.slots)
		table_gc(&rl->wide, now);
}
