/* Under-load handshake ratelimiter (src/core/ratelimiter.c, docs/protocol.md §3):
 * a table of expected allow/deny results on an injected clock, capacity and
 * GC, and a randomized run against a naive token-bucket model. Every
 * ratelimiter made here is freed, so ASan's leak check covers
 * ratelimiter_free. */
#include <stdint.h>
#include <sys/socket.h>

#include "messages.h"
#include "ratelimiter.h"
#include "test.h"

#define MS NSEC_PER_MSEC
#define COST (NSEC_PER_SEC / RATELIMIT_PACKETS_PER_SECOND)
#define SEED 0x0123456789abcdefULL

/* An arbitrary start, far from 0, so nothing depends on the clock's origin. */
#define T0 (1000 * NSEC_PER_SEC)

struct src {
	int family;
	uint8_t addr[16];
};

static const struct src v4_a = { AF_INET, { 192, 0, 2, 1 } };
static const struct src v4_b = { AF_INET, { 192, 0, 2, 2 } };
/* 2001:db8:1:2::1 and 2001:db8:1:2:ffff::9 share a /64; 2001:db8:1:3::1 does not. */
static const struct src v6_a = { AF_INET6, { 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1 } };
static const struct src v6_a2 = { AF_INET6, { 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2, 0xff, 0xff, 0, 0, 0, 0, 0, 9 } };
static const struct src v6_b = { AF_INET6, { 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 3, 0, 0, 0, 0, 0, 0, 0, 1 } };
/* An IPv6 /64 whose first bytes spell 192.0.2.1: still not v4_a's bucket. */
static const struct src v6_like_v4 = { AF_INET6, { 192, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 } };

static bool allow(struct ratelimiter *rl, const struct src *s, uint64_t now)
{
	return ratelimiter_allow(rl, s->family, s->addr, now);
}

struct step {
	uint64_t at; /* ns after T0 */
	const struct src *src;
	bool expect;
	const char *why;
};

static void run_table(const struct step *steps, size_t n)
{
	struct ratelimiter *rl = ratelimiter_new(64, 0, SEED);
	if (!CHECK(rl != NULL))
		return;
	for (size_t i = 0; i < n; i++) {
		bool got = allow(rl, steps[i].src, T0 + steps[i].at);
		if (!CHECK(got == steps[i].expect))
			fprintf(stderr, "  step %zu (%s): got %s\n", i + 1, steps[i].why, got ? "allow" : "deny");
	}
	ratelimiter_free(rl);
}

static void test_table_one_source(void)
{
	static const struct step steps[] = {
		{ 0, &v4_a, true, "burst 1" },
		{ 0, &v4_a, true, "burst 2" },
		{ 0, &v4_a, true, "burst 3" },
		{ 0, &v4_a, true, "burst 4" },
		{ 0, &v4_a, true, "burst 5" },
		{ 0, &v4_a, false, "burst exhausted" },
		{ 0, &v4_a, false, "still exhausted" },
		{ 49 * MS, &v4_a, false, "49 ms: not yet a token" },
		{ 50 * MS, &v4_a, true, "50 ms: one token" },
		{ 50 * MS, &v4_a, false, "and only one" },
		{ 100 * MS - 1, &v4_a, false, "1 ns short" },
		{ 100 * MS, &v4_a, true, "a denied packet does not lose credit" },
		{ 150 * MS, &v4_a, true, "20 a second" },
		{ 200 * MS, &v4_a, true, "20 a second" },
		{ 225 * MS, &v4_a, false, "40 a second is too fast" },
		{ 250 * MS, &v4_a, true, "back on the 50 ms grid" },
		{ 500 * MS, &v4_a, true, "250 ms idle refills the burst: 1" },
		{ 500 * MS, &v4_a, true, "2" },
		{ 500 * MS, &v4_a, true, "3" },
		{ 500 * MS, &v4_a, true, "4" },
		{ 500 * MS, &v4_a, true, "5" },
		{ 500 * MS, &v4_a, false, "but no more than 5" },
		{ 10000 * MS, &v4_a, true, "long idle: 1" },
		{ 10000 * MS, &v4_a, true, "2" },
		{ 10000 * MS, &v4_a, true, "3" },
		{ 10000 * MS, &v4_a, true, "4" },
		{ 10000 * MS, &v4_a, true, "5" },
		{ 10000 * MS, &v4_a, false, "the bucket holds only 5" },
	};
	run_table(steps, sizeof(steps) / sizeof(steps[0]));
}

static void test_table_sources(void)
{
	static const struct step steps[] = {
		{ 0, &v4_a, true, "v4 a 1" },
		{ 0, &v4_a, true, "v4 a 2" },
		{ 0, &v4_a, true, "v4 a 3" },
		{ 0, &v4_a, true, "v4 a 4" },
		{ 0, &v4_a, true, "v4 a 5" },
		{ 0, &v4_a, false, "v4 a exhausted" },
		{ 0, &v4_b, true, "v4 b has its own bucket 1" },
		{ 0, &v4_b, true, "v4 b 2" },
		{ 0, &v4_b, true, "v4 b 3" },
		{ 0, &v4_b, true, "v4 b 4" },
		{ 0, &v4_b, true, "v4 b 5" },
		{ 0, &v4_b, false, "v4 b exhausted" },
		{ 0, &v6_like_v4, true, "v6 is not v4 even with the same leading bytes" },
		{ 0, &v6_a, true, "v6 /64 a: 1" },
		{ 0, &v6_a2, true, "same /64, other host: 2" },
		{ 0, &v6_a, true, "3" },
		{ 0, &v6_a2, true, "4" },
		{ 0, &v6_a2, true, "5" },
		{ 0, &v6_a, false, "the /64 shares one bucket" },
		{ 0, &v6_a2, false, "for every host in it" },
		{ 0, &v6_b, true, "next /64 is independent 1" },
		{ 0, &v6_b, true, "2" },
		{ 0, &v6_b, true, "3" },
		{ 0, &v6_b, true, "4" },
		{ 0, &v6_b, true, "5" },
		{ 0, &v6_b, false, "exhausted" },
		{ 0, &v4_a, false, "v4 a still exhausted after all that" },
		{ 50 * MS, &v6_a2, true, "the shared bucket refills once" },
		{ 50 * MS, &v6_a, false, "for the whole /64" },
		{ 50 * MS, &v4_a, true, "v4 a refilled on its own" },
		{ 50 * MS, &v4_b, true, "v4 b too" },
		{ 50 * MS, &v4_b, false, "once" },
	};
	run_table(steps, sizeof(steps) / sizeof(steps[0]));
}

/* Over a long run a source sending faster than 20/s gets the burst plus
 * 20 a second, and one sending at 20/s loses nothing. */
static void test_sustained_rate(void)
{
	struct ratelimiter *rl = ratelimiter_new(8, 0, SEED);
	if (!CHECK(rl != NULL))
		return;
	/* 100 a second for 10 s. */
	size_t allowed = 0;
	for (uint64_t t = 0; t < 10 * NSEC_PER_SEC; t += 10 * MS)
		allowed += allow(rl, &v4_a, T0 + t);
	/* Credit accrues for 9.99 s after the first packet: 199 tokens. */
	CHECK(allowed == RATELIMIT_PACKETS_BURSTABLE + 199);
	/* Then exactly 20 a second, straight on with the bucket drained:
	 * all pass. */
	allowed = 0;
	for (uint64_t t = 0; t < 10 * NSEC_PER_SEC; t += COST)
		allowed += allow(rl, &v4_a, T0 + 10 * NSEC_PER_SEC + t);
	CHECK(allowed == 10 * RATELIMIT_PACKETS_PER_SECOND);
	ratelimiter_free(rl);
}

static void test_bad_input(void)
{
	struct ratelimiter *rl = ratelimiter_new(4, 0, SEED);
	if (!CHECK(rl != NULL))
		return;
	static const uint8_t addr[16] = { 1 };
	CHECK(!ratelimiter_allow(rl, AF_UNIX, addr, T0));
	CHECK(!ratelimiter_allow(rl, 0, addr, T0));
	/* A clock that steps back gives no credit and breaks nothing. */
	for (int i = 0; i < RATELIMIT_PACKETS_BURSTABLE; i++)
		CHECK(allow(rl, &v4_a, T0));
	CHECK(!allow(rl, &v4_a, T0 - NSEC_PER_SEC));
	/* 900 ms after the step back, but still before the last packet:
	 * credit counts only from the latest instant seen. */
	CHECK(!allow(rl, &v4_a, T0 - 100 * MS));
	CHECK(!allow(rl, &v4_a, T0 + 49 * MS));
	CHECK(allow(rl, &v4_a, T0 + 50 * MS));
	CHECK(!allow(rl, &v4_a, T0 + 50 * MS));
	/* Time 0 and the top of the clock are ordinary instants. */
	CHECK(allow(rl, &v4_b, 0));
	CHECK(allow(rl, &v6_a, UINT64_MAX - 1));
	ratelimiter_free(rl);
	ratelimiter_free(NULL);
}

/* Makes the n-th of many distinct IPv4 sources (198.18.0.0/15). */
static struct src nth_v4(uint32_t n)
{
	struct src s = { AF_INET, { 198, (uint8_t)(18 + (n >> 16 & 1)), (uint8_t)(n >> 8), (uint8_t)n } };
	return s;
}

/* And of IPv6 /64s, varying the bytes that select the /64. */
static struct src nth_v6(uint32_t n)
{
	struct src s = { AF_INET6, { 0x20, 0x01, 0x0d, 0xb8, 0, 0, (uint8_t)(n >> 8), (uint8_t)n, 0, 0, 0, 0, 0, 0, 0, 1 } };
	return s;
}

static void test_capacity_and_gc(void)
{
	enum { CAP = 16 };
	/* 10 rounds up to 16. */
	struct ratelimiter *rl = ratelimiter_new(10, 0, SEED);
	if (!CHECK(rl != NULL))
		return;
	struct src s;
	for (uint32_t i = 0; i < CAP; i++) {
		s = i % 2 ? nth_v4(i) : nth_v6(i);
		CHECK(allow(rl, &s, T0));
	}
	/* Full: new sources are refused, whatever their family ... */
	for (uint32_t i = CAP; i < CAP + 100; i++) {
		s = nth_v4(i);
		CHECK(!allow(rl, &s, T0));
		s = nth_v6(i);
		CHECK(!allow(rl, &s, T0 + 100 * MS));
	}
	/* ... while the tracked ones keep their buckets: 4 more each. */
	for (uint32_t i = 0; i < CAP; i++) {
		s = i % 2 ? nth_v4(i) : nth_v6(i);
		for (int k = 1; k < RATELIMIT_PACKETS_BURSTABLE; k++)
			CHECK(allow(rl, &s, T0));
		CHECK(!allow(rl, &s, T0));
	}
	/* A GC before they have been idle a second reclaims nothing. */
	ratelimiter_gc(rl, T0 + NSEC_PER_SEC);
	s = nth_v4(1000);
	CHECK(!allow(rl, &s, T0 + NSEC_PER_SEC));
	/* After it, all of them go. */
	ratelimiter_gc(rl, T0 + NSEC_PER_SEC + 1);
	const uint64_t t1 = T0 + NSEC_PER_SEC + 1;
	for (uint32_t i = 0; i < CAP; i++) {
		s = nth_v4(2000 + i);
		CHECK(allow(rl, &s, t1));
	}
	s = nth_v4(3000);
	CHECK(!allow(rl, &s, t1));

	/* Partial GC: half the table idle for 1.1 s, the other half used
	 * just now and drained, so that a survivor is told apart from a
	 * re-created entry (which would start with a full bucket). */
	const uint64_t t2 = t1 + 1100 * MS;
	for (uint32_t i = 0; i < CAP / 2; i++) {
		s = nth_v4(2000 + i);
		for (int k = 0; k < RATELIMIT_PACKETS_BURSTABLE; k++)
			CHECK(allow(rl, &s, t2));
		CHECK(!allow(rl, &s, t2));
	}
	ratelimiter_gc(rl, t2);
	size_t admitted = 0;
	for (uint32_t i = 0; i < 100; i++) {
		s = nth_v6(4000 + i);
		admitted += allow(rl, &s, t2);
	}
	CHECK(admitted == CAP / 2);
	for (uint32_t i = 0; i < CAP / 2; i++) {
		s = nth_v4(2000 + i);
		CHECK(!allow(rl, &s, t2));
	}
	ratelimiter_free(rl);
}

/* Without a GC, an insert may take over an idle entry it passes while
 * probing; each new source admitted that way replaces one idle entry, so
 * the table never grows past its capacity. */
static void test_reuse_without_gc(void)
{
	enum { CAP = 16 };
	struct ratelimiter *rl = ratelimiter_new(CAP, 0, SEED);
	if (!CHECK(rl != NULL))
		return;
	struct src s;
	for (uint32_t i = 0; i < CAP; i++) {
		s = nth_v4(i);
		CHECK(allow(rl, &s, T0));
	}
	const uint64_t t = T0 + 2 * NSEC_PER_SEC;
	struct src admitted[CAP + 1];
	size_t n = 0;
	for (uint32_t i = 0; i < 2000 && n <= CAP; i++) {
		s = nth_v6(i);
		if (allow(rl, &s, t))
			admitted[n++] = s;
	}
	CHECK(n >= 1 && n <= CAP);
	/* Each one admitted has a real bucket: 4 more, then denied. */
	for (size_t i = 0; i < n; i++) {
		for (int k = 1; k < RATELIMIT_PACKETS_BURSTABLE; k++)
			CHECK(allow(rl, &admitted[i], t));
		CHECK(!allow(rl, &admitted[i], t));
	}
	/* Everything remaining idle goes at GC: room for 16 - n. */
	ratelimiter_gc(rl, t);
	size_t more = 0;
	for (uint32_t i = 0; i < 200; i++) {
		s = nth_v4(10000 + i);
		more += allow(rl, &s, t);
	}
	CHECK(more == CAP - n);
	ratelimiter_free(rl);
}

/* --- randomized comparison with a naive model ------------------------- */

/* The model is a bucket per key that is never forgotten. The table forgets
 * idle buckets, but an idle bucket is a full one, so the answers must agree
 * exactly as long as the table is never asked to hold more than its
 * capacity: here there are exactly as many keys as capacity. */
enum { MODEL_KEYS = 256 };

struct model_bucket {
	bool seen;
	uint64_t tokens, last;
};

static bool model_allow(struct model_bucket *b, uint64_t now)
{
	const uint64_t max = COST * RATELIMIT_PACKETS_BURSTABLE;
	if (!b->seen) {
		*b = (struct model_bucket){ true, max - COST, now };
		return true;
	}
	uint64_t tokens = b->tokens + (now - b->last);
	if (tokens > max)
		tokens = max;
	b->last = now;
	b->tokens = tokens >= COST ? tokens - COST : tokens;
	return tokens >= COST;
}

static uint64_t rng_state;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

/* Key k as a source address; for IPv6 keys a random host in its /64, so
 * the model's one bucket per /64 is tested from many addresses. */
static struct src key_src(uint32_t k)
{
	struct src s;
	if (k % 3 == 0) {
		s = nth_v4(k);
	} else {
		s = nth_v6(k);
		uint64_t host = rnd();
		memcpy(s.addr + 8, &host, 8);
	}
	return s;
}

static void test_random_vs_model(void)
{
	static struct model_bucket model[MODEL_KEYS];
	memset(model, 0, sizeof(model));
	rng_state = 0x853c49e6748fea9bULL;
	struct ratelimiter *rl = ratelimiter_new(MODEL_KEYS, 0, SEED);
	if (!CHECK(rl != NULL))
		return;
	uint64_t now = T0;
	size_t mismatches = 0, allowed = 0, gcs = 0;
	const size_t ops = 400000;
	for (size_t n = 0; n < ops; n++) {
		uint64_t r = rnd() % 1000;
		/* Time moves in steps from nothing to past the idle limit,
		 * mostly small so that busy sources run into the limit. */
		if (r < 500)
			;
		else if (r < 900)
			now += rnd() % (2 * MS);
		else if (r < 990)
			now += rnd() % (20 * MS);
		else if (r < 999)
			now += rnd() % (600 * MS);
		else
			now += NSEC_PER_SEC + rnd() % NSEC_PER_SEC;
		if (rnd() % 100 < 3) {
			ratelimiter_gc(rl, now);
			gcs++;
		}
		/* A skewed choice of keys: a few busy sources near the limit,
		 * many rare ones that go idle and get reclaimed in between. */
		uint32_t k = rnd() % 4 ? (uint32_t)(rnd() % 8) : (uint32_t)(rnd() % MODEL_KEYS);
		struct src s = key_src(k);
		bool want = model_allow(&model[k], now);
		bool got = allow(rl, &s, now);
		allowed += got;
		if (got != want && ++mismatches <= 5)
			fprintf(stderr, "  op %zu key %u: got %d want %d\n", n, k, got, want);
	}
	CHECK(mismatches == 0);
	CHECK(gcs > 1000);
	CHECK(allowed > ops / 5 && allowed < ops * 4 / 5);

	/* The entry count survived all that churn: after everything is idle
	 * and collected, exactly the capacity can be taken again. */
	now += 2 * NSEC_PER_SEC;
	ratelimiter_gc(rl, now);
	size_t admitted = 0;
	for (uint32_t i = 0; i < MODEL_KEYS + 50; i++) {
		struct src s = nth_v4(20000 + i);
		admitted += allow(rl, &s, now);
	}
	CHECK(admitted == MODEL_KEYS);
	ratelimiter_free(rl);
}

/* Different seeds must not change any answer, only where entries sit. */
static void test_seeds(void)
{
	const uint64_t seeds[] = { 0, 1, UINT64_MAX, SEED };
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		struct ratelimiter *rl = ratelimiter_new(32, 0, seeds[i]);
		if (!CHECK(rl != NULL))
			continue;
		size_t allowed = 0;
		for (uint32_t k = 0; k < 32; k++) {
			struct src s = nth_v6(k);
			for (int p = 0; p < 7; p++)
				allowed += allow(rl, &s, T0);
		}
		CHECK(allowed == 32 * RATELIMIT_PACKETS_BURSTABLE);
		struct src extra = nth_v4(99);
		CHECK(!allow(rl, &extra, T0));
		ratelimiter_free(rl);
	}
}

/* The lock-out the wider table exists for: an attacker who owns one IPv6
 * /48 keeps 8,192 of its /64s active (the device's capacity), which fills
 * the first table. Newcomers from elsewhere, IPv4 or IPv6, still get their
 * own bucket (in the wider table), while the attacker's further /64s share
 * one bucket for its whole /48. Without the wider table (capacity 0) the
 * same newcomers are refused: the failure this guards against. */
static struct src attacker_v6(uint32_t n)
{
	/* 2001:db8:aaaa::/48, the /64 chosen by bytes 6 and 7. */
	struct src s = { AF_INET6, { 0x20, 0x01, 0x0d, 0xb8, 0xaa, 0xaa, (uint8_t)(n >> 8), (uint8_t)n, 0, 0, 0, 0, 0, 0, 0, 1 } };
	return s;
}

static size_t newcomers_admitted(struct ratelimiter *rl, uint64_t now)
{
	size_t admitted = 0;
	for (uint32_t i = 0; i < 50; i++) {
		struct src v6 = { AF_INET6, { 0x20, 0x01, 0x0d, 0xb8, 0xbb, (uint8_t)i, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7 } };
		struct src v4 = { AF_INET, { 198, 18, (uint8_t)i, 1 } }; /* each its own /24 */
		admitted += allow(rl, &v6, now);
		admitted += allow(rl, &v4, now);
	}
	return admitted;
}

static void test_prefix_flood_locks_nobody_out(void)
{
	enum { CAP = 8192 };
	for (int wide = 0; wide <= 1; wide++) {
		struct ratelimiter *rl = ratelimiter_new(CAP, wide ? CAP : 0, SEED);
		if (!CHECK(rl != NULL))
			return;
		/* The attacker keeps every /64 busy: each sends again within
		 * the idle time, so no GC or reuse frees a slot. */
		uint64_t now = T0;
		size_t attacker_in = 0;
		for (int round = 0; round < 3; round++, now += 500 * MS) {
			ratelimiter_gc(rl, now);
			for (uint32_t i = 0; i < CAP + 1000; i++) {
				struct src s = attacker_v6(i);
				attacker_in += allow(rl, &s, now);
			}
		}
		size_t admitted = newcomers_admitted(rl, now);
		if (wide) {
			CHECK(admitted == 100);
			/* The attacker's extra /64s got one bucket between them:
			 * its burst at first, then what 500 ms refills. */
			CHECK(attacker_in <= 3 * CAP + RATELIMIT_PACKETS_BURSTABLE + 2 * 10);
		} else {
			CHECK(admitted == 0);
		}
		ratelimiter_free(rl);
	}
}

int main(void)
{
	RUN(test_table_one_source);
	RUN(test_table_sources);
	RUN(test_sustained_rate);
	RUN(test_bad_input);
	RUN(test_capacity_and_gc);
	RUN(test_reuse_without_gc);
	RUN(test_random_vs_model);
	RUN(test_seeds);
	RUN(test_prefix_flood_locks_nobody_out);
	return test_finish("test_ratelimiter");
}
