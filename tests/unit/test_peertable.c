/* Peer and index lookups at scale: 100,000 peers, each with a /32 and a
 * /128, found by public key, by route, and by receiver index. Correctness
 * only; the timings live in make bench. */
#include <errno.h>
#include <stdlib.h>

#include "device_state.h"
#include "peer.h"
#include "peertable.h"
#include "test.h"

static uint64_t rng = 7;
static void random_bytes(void *ctx, void *buf, size_t len)
{
	(void)ctx;
	uint8_t *p = buf;
	for (size_t i = 0; i < len; i++) {
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		p[i] = (uint8_t)rng;
	}
}

static uint64_t wall(void *ctx)
{
	(void)ctx;
	return 0;
}

static void no_send(void *ctx, struct peer *peer, const struct endpoint *to, uint8_t *data, size_t len)
{
	(void)ctx, (void)peer, (void)to, (void)data, (void)len;
}

static void no_deliver(void *ctx, struct peer *peer, uint8_t *data, size_t len)
{
	(void)ctx, (void)peer, (void)data, (void)len;
}

static unsigned peer_count(void)
{
	return getenv("ROAM_TEST_QUICK") ? 10000 : 100000;
}

static void hundred_thousand_peers(void)
{
	struct device_io io = {.send = no_send, .deliver = no_deliver, .random = random_bytes, .wall_ns = wall};
	struct device *dev = device_new(&io);
	unsigned n = peer_count();
	uint8_t (*keys)[32] = malloc((size_t)n * 32);
	struct peer **peers = malloc((size_t)n * sizeof(*peers));
	int bad = 0;
	for (unsigned i = 0; i < n; i++) {
		random_bytes(NULL, keys[i], 32);
		int err;
		peers[i] = device_peer_create(dev, keys[i], 0, &err);
		uint8_t v4[4] = {198, 18, (uint8_t)(i >> 8), (uint8_t)i};
		uint8_t v6[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (uint8_t)(i >> 24), (uint8_t)(i >> 16),
				  (uint8_t)(i >> 8), (uint8_t)i};
		v4[1] += (uint8_t)(i >> 16); /* 198.18/15 holds 131,072 hosts */
		bad += !peers[i] || peer_allowedips_insert(peers[i], AF_INET, v4, 32) ||
		       peer_allowedips_insert(peers[i], AF_INET6, v6, 128);
	}
	CHECK(bad == 0);
	CHECK(device_peer_count(dev) == n);
	int wrong = 0;
	for (unsigned i = 0; i < n; i++) {
		uint8_t v4[4] = {198, (uint8_t)(18 + (i >> 16)), (uint8_t)(i >> 8), (uint8_t)i};
		uint8_t v6[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (uint8_t)(i >> 24), (uint8_t)(i >> 16),
				  (uint8_t)(i >> 8), (uint8_t)i};
		wrong += device_peer_lookup(dev, keys[i]) != peers[i];
		wrong += device_route_lookup(dev, AF_INET, v4) != peers[i];
		wrong += device_route_lookup(dev, AF_INET6, v6) != peers[i];
	}
	CHECK(wrong == 0);
	/* A duplicate key is refused; an unknown key is not found. */
	int err;
	CHECK(device_peer_create(dev, keys[n / 2], 0, &err) == NULL && err == -EEXIST);
	uint8_t unknown[32];
	random_bytes(NULL, unknown, 32);
	CHECK(device_peer_lookup(dev, unknown) == NULL);
	/* Remove every other peer; the rest are still found, the others not. */
	for (unsigned i = 0; i < n; i += 2)
		device_peer_remove(dev, peers[i]);
	wrong = 0;
	for (unsigned i = 0; i < n; i++)
		wrong += device_peer_lookup(dev, keys[i]) != (i % 2 ? peers[i] : NULL);
	CHECK(wrong == 0 && device_peer_count(dev) == n / 2);
	device_free(dev);
	free(keys);
	free(peers);
}

/* The index table: random unique non-zero indices, found and removed in
 * O(1), robust to heavy churn (backward-shift deletion). */
static void index_table_churn(void)
{
	struct index_table t;
	CHECK(index_table_init(&t) == 0);
	unsigned n = peer_count() * 4;
	uint32_t *ids = malloc(n * sizeof(*ids));
	for (unsigned i = 0; i < n; i++) {
		ids[i] = index_table_insert_new(&t, INDEX_HANDSHAKE, (struct peer *)(uintptr_t)(i + 1), NULL,
						random_bytes, NULL);
		CHECK(ids[i] != 0);
	}
	int wrong = 0;
	for (unsigned i = 0; i < n; i++) {
		const struct index_entry *e = index_table_lookup(&t, ids[i]);
		wrong += !e || e->peer != (struct peer *)(uintptr_t)(i + 1);
	}
	CHECK(wrong == 0 && t.count == n);
	for (unsigned i = 0; i < n; i += 3)
		index_table_remove(&t, ids[i]);
	wrong = 0;
	for (unsigned i = 0; i < n; i++) {
		const struct index_entry *e = index_table_lookup(&t, ids[i]);
		wrong += i % 3 ? !e || e->peer != (struct peer *)(uintptr_t)(i + 1) : e != NULL;
	}
	CHECK(wrong == 0);
	CHECK(index_table_lookup(&t, 0) == NULL);
	index_table_free(&t);
	free(ids);
}

int main(void)
{
	RUN(hundred_thousand_peers);
	RUN(index_table_churn);
	return test_finish("test_peertable");
}
