/* The timestamps of removed peers (src/core/timestamp_memory.c): kept per
 * key, handed back once, the oldest forgotten first past the bound. */
#include <stdint.h>
#include <string.h>

#include "timestamp_memory.h"
#include "test.h"

static void make_key(uint8_t key[NOISE_PUBLIC_KEY_LEN], uint32_t n)
{
	memset(key, 0, NOISE_PUBLIC_KEY_LEN);
	/* Keys that differ only after the tag's 8 bytes are told apart too. */
	key[20] = (uint8_t)n;
	key[21] = (uint8_t)(n >> 8);
	key[22] = (uint8_t)(n >> 16);
}

static void make_stamp(uint8_t ts[NOISE_TIMESTAMP_LEN], uint32_t n)
{
	memset(ts, 0, NOISE_TIMESTAMP_LEN);
	ts[0] = 0x40;
	memcpy(ts + 4, &n, sizeof(n));
}

static void test_remember_and_recall(void)
{
	struct timestamp_memory m = { 0 };
	uint8_t key[NOISE_PUBLIC_KEY_LEN], ts[NOISE_TIMESTAMP_LEN], got[NOISE_TIMESTAMP_LEN];
	make_key(key, 1);
	CHECK(!timestamp_memory_recall(&m, key, got));
	/* A peer that never accepted an initiation leaves nothing. */
	memset(ts, 0, sizeof(ts));
	timestamp_memory_remember(&m, key, ts);
	CHECK(!timestamp_memory_recall(&m, key, got));
	make_stamp(ts, 7);
	timestamp_memory_remember(&m, key, ts);
	make_stamp(ts, 9); /* the same key again: overwritten, not doubled */
	timestamp_memory_remember(&m, key, ts);
	CHECK(m.used == 1);
	uint8_t other[NOISE_PUBLIC_KEY_LEN];
	make_key(other, 2);
	CHECK(!timestamp_memory_recall(&m, other, got));
	CHECK(timestamp_memory_recall(&m, key, got));
	CHECK(memcmp(got, ts, sizeof(ts)) == 0);
	/* Handed back once: the peer holds it now. */
	CHECK(!timestamp_memory_recall(&m, key, got));
	timestamp_memory_free(&m);
}

static void test_bounded_oldest_forgotten(void)
{
	struct timestamp_memory m = { 0 };
	uint8_t key[NOISE_PUBLIC_KEY_LEN], ts[NOISE_TIMESTAMP_LEN], got[NOISE_TIMESTAMP_LEN];
	const uint32_t extra = 100;
	for (uint32_t i = 0; i < TIMESTAMP_MEMORY_SLOTS + extra; i++) {
		make_key(key, i);
		make_stamp(ts, i);
		timestamp_memory_remember(&m, key, ts);
	}
	CHECK(m.used == TIMESTAMP_MEMORY_SLOTS);
	size_t kept = 0, right = 0;
	for (uint32_t i = 0; i < TIMESTAMP_MEMORY_SLOTS + extra; i++) {
		make_key(key, i);
		if (timestamp_memory_recall(&m, key, got)) {
			kept++;
			make_stamp(ts, i);
			right += memcmp(got, ts, sizeof(ts)) == 0 && i >= extra;
		}
	}
	CHECK(kept == TIMESTAMP_MEMORY_SLOTS);
	CHECK(right == TIMESTAMP_MEMORY_SLOTS);
	timestamp_memory_free(&m);
}

int main(void)
{
	RUN(test_remember_and_recall);
	RUN(test_bounded_oldest_forgotten);
	return test_finish("test_timestamp_memory");
}
