/* Replay window (src/core/replay.c, docs/protocol.md §4.1): numbered cases in the
 * style of the kernel's counter selftest, sweeps over whole windows, and a
 * randomized comparison with a naive model. */
#include <stdint.h>

#include "replay.h"
#include "test.h"

#define W ((uint64_t)COUNTER_WINDOW_SIZE)
#define RING ((uint64_t)COUNTER_BITS_TOTAL)
#define LIMIT REJECT_AFTER_MESSAGES

/* One numbered step: the number is printed on failure so a broken case can
 * be found in the table without counting lines. */
static void step(struct replay_counter *rc, int n, uint64_t counter, bool expect)
{
	bool got = replay_check_and_update(rc, counter);
	if (!CHECK(got == expect))
		fprintf(stderr, "  case %d: counter %llu: got %s, want %s\n", n, (unsigned long long)counter,
			got ? "accept" : "reject", expect ? "accept" : "reject");
}

/* Duplicates, in-order and out-of-order delivery, and the window edge. */
static void test_numbered_basics(void)
{
	struct replay_counter rc;
	replay_init(&rc);
	step(&rc, 1, 0, true);        /* the initial state takes counter 0 ... */
	step(&rc, 2, 0, false);       /* ... exactly once */
	step(&rc, 3, 1, true);        /* in order */
	step(&rc, 4, 1, false);       /* duplicate of the highest */
	step(&rc, 5, 5, true);        /* a gap ahead */
	step(&rc, 6, 4, true);        /* late arrivals inside the window */
	step(&rc, 7, 2, true);
	step(&rc, 8, 3, true);
	step(&rc, 9, 3, false);       /* duplicate of a late arrival */
	step(&rc, 10, 5, false);
	step(&rc, 11, W + 10, true);  /* highest = W + 10 */
	step(&rc, 12, 10, true);      /* distance exactly W, unseen: accepted */
	step(&rc, 13, 10, false);     /* and only once */
	step(&rc, 14, 9, false);      /* distance W + 1: outside */
	step(&rc, 15, 5, false);      /* seen long ago and outside */
	step(&rc, 16, 11, true);      /* distance W - 1 */
	step(&rc, 17, W + 11, true);  /* the edge moves by one ... */
	step(&rc, 18, 10, false);     /* ... and 10 falls out (distance W + 1) */
	step(&rc, 19, 11, false);     /* 11 is at the edge now, and seen */
	step(&rc, 20, 12, true);      /* 12 is at distance W - 1, unseen */
	step(&rc, 21, W + 10, false); /* still remembered behind the edge */
	step(&rc, 22, W + 9, true);   /* never seen, one behind an old highest */
	step(&rc, 23, UINT64_MAX, false);
	step(&rc, 24, W + 12, true);  /* the rejected huge counter moved nothing */
}

/* The behaviour observed live with wireguard-go (docs/protocol.md §4.1). */
static void test_numbered_live(void)
{
	struct replay_counter rc;
	replay_init(&rc);
	step(&rc, 1, 10000, true);
	step(&rc, 2, 1872, true);   /* distance 8128 */
	step(&rc, 3, 1871, false);  /* distance 8129 */
	step(&rc, 4, 10000, false); /* exact replays */
	step(&rc, 5, 1872, false);
	step(&rc, 6, 9999, true);   /* unseen, one behind */
	step(&rc, 7, 9999, false);
}

/* Jumps that clear part or all of the ring. Each case sets bits one ring
 * earlier that alias the counters checked after the jump, so a word that
 * was not cleared shows up as a false replay. */
static void test_numbered_jumps(void)
{
	struct replay_counter rc;

	/* A jump over many rings empties everything. */
	replay_init(&rc);
	for (uint64_t c = 0; c <= 20; c++)
		step(&rc, 1, c, true);
	step(&rc, 2, 8 * RING + 100, true);
	step(&rc, 3, 8 * RING + 5, true);  /* aliases 5 */
	step(&rc, 4, 8 * RING + 5, false);
	step(&rc, 5, 8 * RING + 0, true);  /* aliases 0 */
	step(&rc, 6, 8 * RING + 20, true); /* aliases 20 */
	step(&rc, 7, 20, false);           /* the old counters are far outside */
	step(&rc, 8, 8 * RING + 100 - W, true);
	step(&rc, 9, 8 * RING + 100 - W - 1, false);

	/* A jump of exactly 64 bits clears exactly the next word, which held
	 * the oldest counters of the window, some of them still live. */
	const uint64_t h = 64 * 200 + 10;  /* in word 200, bit 10 */
	const uint64_t old = 64 * 73;      /* word 73 = 200 - 127: same ring slot as word 201 */
	replay_init(&rc);
	step(&rc, 10, h, true);
	for (uint64_t j = 10; j < 64; j++) /* distances 8128 .. 8075: live */
		step(&rc, 11, old + j, true);
	step(&rc, 12, old + 9, false);    /* distance 8129 */
	step(&rc, 13, old + 10, false);   /* replay at the very edge */
	step(&rc, 14, h + 64, true);      /* its bit was set by old + 10 */
	step(&rc, 15, h + 64, false);
	step(&rc, 16, h + 65, true);      /* bit set by old + 11, cleared by the jump */
	step(&rc, 17, old + 10, false);   /* now outside the window */
	step(&rc, 18, old + 63, false);   /* distance 8140 */
	step(&rc, 19, h, false);          /* still remembered */
	step(&rc, 20, h + 1, true);       /* in the word that was the edge */

	/* A jump of exactly the window (127 words) keeps the old edge word:
	 * its counters are still inside. */
	replay_init(&rc);
	step(&rc, 21, h, true);
	step(&rc, 22, h - 1, true);
	step(&rc, 23, h + W, true);
	step(&rc, 24, h, false);          /* distance W, seen */
	step(&rc, 25, h - 1, false);      /* distance W + 1 */
	step(&rc, 26, h + 1, true);       /* unseen, same word as the old edge */

	/* A jump of exactly the ring (8192 bits) lands on the same slot as the
	 * old edge and must clear every word, old edge included. */
	replay_init(&rc);
	for (uint64_t c = h - W; c <= h; c++)
		step(&rc, 27, c, true);   /* every bit of the window set */
	step(&rc, 28, h + RING, true);    /* aliases h */
	bool all = true;
	for (uint64_t c = h + RING - W; c < h + RING; c++)
		all &= replay_check_and_update(&rc, c);
	if (!CHECK(all))
		fprintf(stderr, "  case 29: a counter aliasing the previous ring was rejected\n");
	step(&rc, 30, h + RING - 1, false);
	step(&rc, 31, h + RING - W - 1, false);
}

/* Counters near the end of a key's life. */
static void test_numbered_limit(void)
{
	struct replay_counter rc;
	replay_init(&rc);
	step(&rc, 1, LIMIT, false);
	step(&rc, 2, UINT64_MAX, false);
	step(&rc, 3, LIMIT - 1, true);      /* the last usable counter ... */
	step(&rc, 4, LIMIT - 1, false);     /* ... once */
	step(&rc, 5, LIMIT, false);
	step(&rc, 6, LIMIT + 1, false);
	step(&rc, 7, UINT64_MAX, false);
	step(&rc, 8, LIMIT - 2, true);
	step(&rc, 9, LIMIT - 2, false);
	step(&rc, 10, LIMIT - 1 - W, true); /* window edge at the top */
	step(&rc, 11, LIMIT - 2 - W, false);
	step(&rc, 12, 0, false);            /* far outside */
	step(&rc, 13, LIMIT - 3, true);
}

/* Sweeps: every counter of a full window, in either direction, is accepted
 * once and rejected the second time; the counter just outside is rejected. */
static bool sweep(uint64_t base, bool descending)
{
	struct replay_counter rc;
	bool ok = true;
	replay_init(&rc);
	const uint64_t top = base + W;
	if (descending)
		ok &= CHECK(replay_check_and_update(&rc, top));
	for (uint64_t i = 0; i <= W; i++) {
		uint64_t c = descending ? top - i : base + i;
		if (descending && i == 0)
			continue;
		ok &= CHECK(replay_check_and_update(&rc, c));
	}
	for (uint64_t c = base; c <= top; c++)
		ok &= CHECK(!replay_check_and_update(&rc, c));
	if (base > 0)
		ok &= CHECK(!replay_check_and_update(&rc, base - 1));
	/* Interleaved second lap one ring later: evens up, then odds down,
	 * through bits that all alias the first lap. */
	if (top + RING < LIMIT) {
		const uint64_t b2 = base + RING;
		for (uint64_t c = b2; c <= b2 + W; c += 2)
			ok &= CHECK(replay_check_and_update(&rc, c));
		for (uint64_t i = 0; i <= W; i++) {
			uint64_t c = b2 + W - i;
			if ((c - b2) % 2)
				ok &= CHECK(replay_check_and_update(&rc, c));
		}
		for (uint64_t c = b2; c <= b2 + W; c++)
			ok &= CHECK(!replay_check_and_update(&rc, c));
	}
	if (!ok)
		fprintf(stderr, "  sweep from %llu %s failed\n", (unsigned long long)base,
			descending ? "down" : "up");
	return ok;
}

static void test_sweeps(void)
{
	const uint64_t bases[] = {
		0, 1, 63, 64, 65, RING - 1, RING, 3 * RING + 37, (1ULL << 40) + 12345, LIMIT - 1 - W,
	};
	for (size_t i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
		sweep(bases[i], false);
		sweep(bases[i], true);
	}
}

/* --- randomized comparison with a naive model ------------------------- */

/* The model: every counter ever accepted, in an open-addressing set, plus
 * the highest. It knows nothing of words or rings. */
struct model {
	uint64_t *slots; /* counter + 1; 0 = empty */
	size_t mask;
	uint64_t highest;
};

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

static bool model_check_and_update(struct model *m, uint64_t c)
{
	if (c >= LIMIT)
		return false;
	if (c <= m->highest && m->highest - c > W)
		return false;
	size_t i = mix(c) & m->mask;
	while (m->slots[i]) {
		if (m->slots[i] == c + 1)
			return false;
		i = (i + 1) & m->mask;
	}
	m->slots[i] = c + 1;
	if (c > m->highest)
		m->highest = c;
	return true;
}

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* xorshift64*: fixed seed, so a failure reproduces. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static uint64_t below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

/* Runs ops random operations starting from a window whose first accepted
 * counter is start; returns how many were accepted and, in *highest, where
 * the window ended. */
static size_t random_run(uint64_t start, size_t ops, size_t *mismatches, uint64_t *highest)
{
	struct replay_counter rc;
	/* Sized for at most ops accepted counters at a load under 1/4. */
	struct model m = { .mask = (1u << 20) - 1 };
	m.slots = calloc(m.mask + 1, sizeof(*m.slots));
	if (!CHECK(m.slots != NULL))
		return 0;
	replay_init(&rc);
	uint64_t recent[64] = { 0 };
	size_t accepted = 0;

	for (size_t n = 0; n < ops; n++) {
		uint64_t h = m.highest, c;
		uint64_t r = below(100);
		if (n == 0)
			c = start;
		else if (r < 30)
			c = h + 1 + below(4);            /* mostly in order */
		else if (r < 38)
			c = h + below(3 * RING);         /* jumps, some over the ring */
		else if (r < 42)
			c = h + 64 * below(2 * RING / 64 + 2); /* word-aligned jumps */
		else if (r < 70)
			c = h - below(W + 64);           /* behind, around the edge */
		else if (r < 80)
			c = h - W - 3 + below(7);        /* right at the edge */
		else if (r < 92)
			c = recent[below(64)];           /* replays */
		else if (r < 97)
			c = below(h + 1);                /* anywhere behind */
		else
			c = rnd();                       /* anything, usually huge */

		bool want = model_check_and_update(&m, c);
		bool got = replay_check_and_update(&rc, c);
		if (got != want) {
			if (++*mismatches <= 5)
				fprintf(stderr, "  op %zu: counter %llu highest %llu: got %d want %d\n", n,
					(unsigned long long)c, (unsigned long long)h, got, want);
		}
		if (want) {
			accepted++;
			recent[n % 64] = c;
		}
	}
	*highest = m.highest;
	free(m.slots);
	return accepted;
}

/* replay_is_ahead: only a counter above every one accepted so far is the
 * newest (what may move an endpoint, docs/protocol.md §4.2); a late one
 * inside the window is fresh but not newest. */
static void test_ahead(void)
{
	struct replay_counter rc;
	replay_init(&rc);
	CHECK(replay_is_ahead(&rc, 0));  /* nothing accepted yet: even 0 */
	CHECK(replay_is_ahead(&rc, 7));
	step(&rc, 1, 0, true);
	CHECK(!replay_is_ahead(&rc, 0)); /* 0 accepted: highest 0, but taken */
	CHECK(replay_is_ahead(&rc, 1));
	step(&rc, 2, 5, true);
	CHECK(!replay_is_ahead(&rc, 3)); /* fresh, inside the window, late */
	CHECK(!replay_is_ahead(&rc, 5));
	CHECK(replay_is_ahead(&rc, 6));
	step(&rc, 3, 3, true);           /* a late one moves nothing ... */
	CHECK(!replay_is_ahead(&rc, 4)); /* ... highest is still 5 */
	CHECK(replay_is_ahead(&rc, 6));
}

static void test_random_vs_model(void)
{
	size_t mismatches = 0;
	uint64_t h1, h2;
	rng_state = 0x9e3779b97f4a7c15ULL;
	size_t a1 = random_run(0, 200000, &mismatches, &h1);
	/* Approaching the end of a key's life: about half the run is spent
	 * below LIMIT, the rest with jumps that cross it. */
	size_t a2 = random_run(LIMIT - 8000 * RING, 100000, &mismatches, &h2);
	CHECK(mismatches == 0);
	/* The first run lapped the ring many times; the second reached the top. */
	CHECK(h1 > 1000 * RING);
	CHECK(h2 > LIMIT - 64);
	/* Both outcomes must be well exercised for the comparison to mean
	 * anything. */
	CHECK(a1 > 200000 / 3 && a1 < 200000 * 9 / 10);
	CHECK(a2 > 100000 / 10 && a2 < 100000 * 9 / 10);
}

int main(void)
{
	RUN(test_numbered_basics);
	RUN(test_numbered_live);
	RUN(test_numbered_jumps);
	RUN(test_numbered_limit);
	RUN(test_sweeps);
	RUN(test_ahead);
	RUN(test_random_vs_model);
	return test_finish("test_replay");
}
