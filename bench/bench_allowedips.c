/* Cryptokey routing table at scale: 100,000 owners, 1,000,000 prefixes.
 * Prints "allowedips.<metric> <value>" lines. Timings only live here,
 * never in the tests. */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "allowedips.h"

enum {
	OWNERS = 100000,
	PREFIXES = 1000000,
	LOOKUP_ADDRS = 1 << 20, /* per family */
	COLD_ROUNDS = 2,
	HOT_ADDRS = 4096, /* a busy tunnel's active destinations */
	HOT_ROUNDS = 500,
};

struct owner {
	struct allowedips_owner list;
	uint32_t id;
};

struct prefix {
	uint8_t addr[16];
	uint8_t family, cidr;
	uint32_t owner;
};

struct rng {
	uint64_t s;
};

static uint64_t rnd(struct rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static size_t heap_in_use(void)
{
	return mallinfo2().uordblks;
}

static void random_fill(struct rng *r, uint8_t *addr, size_t len)
{
	for (size_t i = 0; i < len; i += 8) {
		uint64_t v = rnd(r);

		for (size_t j = i; j < len && j < i + 8; j++, v >>= 8)
			addr[j] = (uint8_t)v;
	}
}

/* Clears host bits so duplicates can be recognised before inserting. */
static void mask(uint8_t *addr, unsigned len, unsigned cidr)
{
	for (unsigned b = 0; b < len * 8; b++)
		if (b >= cidr)
			addr[b / 8] &= (uint8_t) ~(0x80 >> (b % 8));
}

/* Open-addressing set of 64-bit prefix fingerprints: the generated set
 * must hold exactly PREFIXES distinct prefixes. */
struct seen {
	uint64_t *slot;
	size_t mask;
};

static uint64_t fingerprint(const struct prefix *p)
{
	uint64_t h = 0xcbf29ce484222325ull ^ ((uint64_t)p->family << 8 | p->cidr);

	for (int i = 0; i < 16; i++)
		h = (h ^ p->addr[i]) * 0x100000001b3ull;
	return h | 1; /* 0 marks an empty slot */
}

static int seen_add(struct seen *s, uint64_t fp)
{
	for (size_t i = fp & s->mask;; i = (i + 1) & s->mask) {
		if (s->slot[i] == fp)
			return 0;
		if (!s->slot[i]) {
			s->slot[i] = fp;
			return 1;
		}
	}
}

/* Realistic shapes: every owner one IPv4 /32 and one IPv6 /128 (its tunnel
 * addresses), then routed subnets (IPv4 /16../32, mostly /24; IPv6
 * /32../128, mostly /48../64) shared out at random. IPv6 is random in all
 * 16 bytes under 2000::/3. */
static size_t generate(struct rng *r, struct prefix *p)
{
	struct seen s = { calloc(1u << 22, sizeof(uint64_t)), (1u << 22) - 1 };
	size_t n = 0;

	if (!s.slot)
		abort();
	while (n < PREFIXES) {
		struct prefix *x = &p[n];
		int host = n < 2 * OWNERS;

		memset(x, 0, sizeof(*x));
		x->owner = host ? (uint32_t)(n / 2) : (uint32_t)(rnd(r) % OWNERS);
		if (n % 2 == 0) {
			static const uint8_t v4_lengths[] = { 16, 20, 22, 24, 24, 24, 24, 26, 28, 29, 30, 32 };

			x->family = AF_INET;
			x->cidr = host ? 32 : v4_lengths[rnd(r) % sizeof(v4_lengths)];
			random_fill(r, x->addr, 4);
			mask(x->addr, 4, x->cidr);
		} else {
			static const uint8_t v6_lengths[] = { 32, 40, 48, 48, 56, 60, 64, 64, 64, 96, 112, 128 };

			x->family = AF_INET6;
			x->cidr = host ? 128 : v6_lengths[rnd(r) % sizeof(v6_lengths)];
			random_fill(r, x->addr, 16);
			x->addr[0] = (uint8_t)(0x20 | (x->addr[0] & 0x1f));
			mask(x->addr, 16, x->cidr);
		}
		n += (size_t)seen_add(&s, fingerprint(x));
	}
	free(s.slot);
	return n;
}

/* Lookup targets: a random address inside a random stored prefix of the
 * family (host bits random), so almost every lookup is a hit. */
static uint8_t *lookup_targets(struct rng *r, const struct prefix *p, size_t n, int family)
{
	unsigned len = family == AF_INET ? 4 : 16;
	uint8_t *out = malloc((size_t)LOOKUP_ADDRS * len);

	if (!out)
		abort();
	for (size_t i = 0; i < LOOKUP_ADDRS; i++) {
		const struct prefix *x;
		uint8_t noise[16];

		do
			x = &p[rnd(r) % n];
		while (x->family != family);
		random_fill(r, noise, len);
		for (unsigned b = 0; b < len; b++) {
			uint8_t keep = x->cidr >= (b + 1) * 8 ? 0xff : x->cidr <= b * 8 ? 0 : (uint8_t)(0xff << (8 - (x->cidr - b * 8)));

			out[i * len + b] = (uint8_t)((x->addr[b] & keep) | (noise[b] & ~keep));
		}
	}
	return out;
}

/* Lookups per second over targets[0..count) repeated rounds times. */
static double bench_lookups(const struct allowedips *t, int family, const uint8_t *targets, size_t count,
			    int rounds, double *hit_ratio)
{
	unsigned len = family == AF_INET ? 4 : 16;
	/* found uses every result (and the lookup lives in another
	 * translation unit), so the loop cannot be optimised away. */
	size_t found = 0;
	double start = now();

	for (int round = 0; round < rounds; round++)
		for (size_t i = 0; i < count; i++) {
			found += allowedips_lookup(t, family, targets + i * len) != NULL;
		}
	double secs = now() - start;

	*hit_ratio = (double)found / ((double)rounds * (double)count);
	return (double)rounds * (double)count / secs;
}

int main(void)
{
	struct rng r = { 0x62656e6368ull };
	struct prefix *p = malloc(sizeof(*p) * PREFIXES);
	struct owner *owners = calloc(OWNERS, sizeof(*owners));
	struct allowedips t;
	size_t n, before, after, failed = 0, wrong = 0;

	if (!p || !owners)
		abort();
	n = generate(&r, p);
	for (uint32_t i = 0; i < OWNERS; i++)
		owners[i].id = i;
	uint8_t *t4 = lookup_targets(&r, p, n, AF_INET), *t6 = lookup_targets(&r, p, n, AF_INET6);

	allowedips_init(&t);
	before = heap_in_use();
	double start = now();

	for (size_t i = 0; i < n; i++) {
		struct owner *o = &owners[p[i].owner];

		failed += allowedips_insert(&t, p[i].family, p[i].addr, p[i].cidr, o, &o->list) != 0;
	}
	double insert_secs = now() - start;

	after = heap_in_use();
	/* Every owner's tunnel addresses must come back to it. */
	for (size_t i = 0; i < 2 * OWNERS; i++)
		wrong += allowedips_lookup(&t, p[i].family, p[i].addr) != &owners[p[i].owner];

	/* Cold: random hits spread over the whole table, so nearly every node
	 * below the top levels is a cache (and TLB) miss. Hot: a small set of
	 * destinations, as on a tunnel carrying a few thousand flows. */
	double hit4, hit6, hot_hit4, hot_hit6;
	double l4 = bench_lookups(&t, AF_INET, t4, LOOKUP_ADDRS, COLD_ROUNDS, &hit4);
	double l6 = bench_lookups(&t, AF_INET6, t6, LOOKUP_ADDRS, COLD_ROUNDS, &hit6);
	double h4 = bench_lookups(&t, AF_INET, t4, HOT_ADDRS, HOT_ROUNDS, &hot_hit4);
	double h6 = bench_lookups(&t, AF_INET6, t6, HOT_ADDRS, HOT_ROUNDS, &hot_hit6);

	start = now();
	for (uint32_t i = 0; i < OWNERS; i++)
		allowedips_remove_by_owner(&t, &owners[i].list);
	double remove_secs = now() - start;
	int empty = t.count == 0 && !t.root4 && !t.root6;

	printf("allowedips.owners %d\n", OWNERS);
	printf("allowedips.prefixes %zu\n", n);
	printf("allowedips.insert_failures %zu\n", failed);
	printf("allowedips.wrong_host_lookups %zu\n", wrong);
	printf("allowedips.insert_total_ms %.1f\n", insert_secs * 1e3);
	printf("allowedips.insert_ns_per_prefix %.0f\n", insert_secs * 1e9 / (double)n);
	printf("allowedips.bytes_per_prefix %.1f\n", (double)(after - before) / (double)n);
	printf("allowedips.heap_bytes %zu\n", after - before);
	printf("allowedips.lookup4_per_sec %.0f\n", l4);
	printf("allowedips.lookup6_per_sec %.0f\n", l6);
	printf("allowedips.lookup4_hot_per_sec %.0f\n", h4);
	printf("allowedips.lookup6_hot_per_sec %.0f\n", h6);
	printf("allowedips.lookup_hit_ratio %.3f\n", (hit4 + hit6 + hot_hit4 + hot_hit6) / 4);
	printf("allowedips.remove_by_owner_total_ms %.1f\n", remove_secs * 1e3);
	printf("allowedips.remove_ns_per_prefix %.0f\n", remove_secs * 1e9 / (double)n);
	printf("allowedips.empty_after_remove %d\n", empty);

	allowedips_free(&t);
	free(t4);
	free(t6);
	free(owners);
	free(p);
	return failed || wrong || !empty ? 1 : 0;
}
