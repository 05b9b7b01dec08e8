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
 * the table never silts up under churn. When every slot the capacity allows
 * is taken by an active source, new sources are refused: evicting an active
 * one would hand an attacker a way to reset other sources' buckets. */
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
	uint64_t addr;  /* IPv4 address, or the IPv6 /64 prefix */
	uint32_t home;  /* slot the hash points at; saves rehashing on delete */
	uint8_t family; /* enum key_family */
};

struct ratelimiter {
	size_t capacity; /* most entries in use at once */
	size_t count;
	size_t mask;     /* slots - 1; slots = 2 * capacity */
	uint64_t k0, k1; /* SipHash key */
	struct rl_entry slots[];
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

struct ratelimiter *ratelimiter_new(size_t capacity, uint64_t hash_seed)
{
	size_t cap = 1;
	while (cap < capacity) {
		if (cap > SIZE_MAX / 4)
			return NULL;
		cap <<= 1;
	}
	size_t slots = cap * 2;
	/* Slot numbers are stored in 32 bits. */
	if (slots - 1 > UINT32_MAX ||
	    slots > (SIZE_MAX - sizeof(struct ratelimiter)) / sizeof(struct rl_entry))
		return NULL;

	struct ratelimiter *rl = calloc(1, sizeof(*rl) + slots * sizeof(struct rl_entry));
	if (!rl)
		return NULL;
	rl->capacity = cap;
	rl->mask = slots - 1;
	rl->k0 = splitmix64(hash_seed);
	rl->k1 = splitmix64(hash_seed ^ 0x5bd1e9955bd1e995ULL);
	return rl;
}

void ratelimiter_free(struct ratelimiter *rl)
{
	free(rl);
}

static bool is_idle(const struct rl_entry *e, uint64_t now)
{
	return now > e->last_ns && now - e->last_ns > IDLE_TIMEOUT;
}

bool ratelimiter_allow(struct ratelimiter *rl, int family, const uint8_t *addr, uint64_t now)
{
	uint64_t key;
	uint8_t fam;

	if (family == AF_INET) {
		key = le32_read(addr);
		fam = KEY_IPV4;
	} else if (family == AF_INET6) {
		/* Only the /64: a single host commonly owns all of it. */
		key = le64_read(addr);
		fam = KEY_IPV6;
	} else {
		return false;
	}

	/* The family is hashed too, so 10.0.0.1 and ::/64 prefixes that happen
	 * to share bits do not share a probe start. */
	const uint32_t home = (uint32_t)(siphash24_2u64(rl->k0, rl->k1, key, fam) & rl->mask);
	struct rl_entry *reuse = NULL;
	size_t i = home;
	struct rl_entry *e;

	/* Ends at an empty slot: at most half the slots are ever in use. */
	for (;; i = (i + 1) & rl->mask) {
		e = &rl->slots[i];
		if (e->family == SLOT_EMPTY)
			break;
		if (e->family == fam && e->addr == key) {
			/* A clock that steps back gives no credit, neither now
			 * (rather than a huge unsigned one) nor later: last_ns
			 * stays put so the time is not counted twice. */
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
		if (!reuse && is_idle(e, now))
			reuse = e;
	}

	/* A new source. An idle entry on our own probe run can be replaced in
	 * place: the key is not further along (we reached an empty slot), and
	 * the slot stays occupied, so no other key's run is broken. */
	if (reuse) {
		e = reuse;
	} else {
		if (rl->count >= rl->capacity)
			return false;
		rl->count++;
	}
	e->family = fam;
	e->addr = key;
	e->home = home;
	e->last_ns = now;
	e->tokens = TOKEN_MAX - PACKET_COST; /* this packet is the first of the burst */
	return true;
}

/* Empties slot i and closes the gap: each later entry of the run moves back
 * into the hole unless its home lies cyclically after the hole (moving it
 * would put it before its home, where lookups never look). */
static void delete_slot(struct ratelimiter *rl, size_t hole)
{
	size_t j = hole;
	for (;;) {
		j = (j + 1) & rl->mask;
		struct rl_entry *e = &rl->slots[j];
		if (e->family == SLOT_EMPTY)
			break;
		/* Distance from home to j versus from the hole to j. */
		size_t from_home = (j - e->home) & rl->mask;
		size_t from_hole = (j - hole) & rl->mask;
		if (from_home >= from_hole) {
			rl->slots[hole] = *e;
			hole = j;
		}
	}
	rl->slots[hole] = (struct rl_entry){ 0 };
	rl->count--;
}

void ratelimiter_gc(struct ratelimiter *rl, uint64_t now)
{
	if (rl->count == 0)
		return;
	/* A deletion may shift a later entry back into slot i, so i is looked
	 * at again before moving on. Entries only ever move backwards within
	 * their run, so each one is still examined; one that wraps past slot 0
	 * may be examined twice, which is harmless. */
	for (size_t i = 0; i <= rl->mask;) {
		struct rl_entry *e = &rl->slots[i];
		if (e->family != SLOT_EMPTY && is_idle(e, now))
			delete_slot(rl, i);
		else
			i++;
	}
}
