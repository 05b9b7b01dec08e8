/* The CLI's allocation helpers (src/roam/alloc.c), above all the one for
 * buffers that hold secrets: when xrealloc_wiped moves a buffer, the block
 * it leaves must be wiped before it is freed, or a copy of the key stays
 * in the heap for a core dump or the next allocation to find.
 *
 * To see the old block at the moment it is freed, this binary puts its own
 * free() in front of glibc's (glibc supports replacing the allocator's
 * functions; __libc_free is its own). AddressSanitizer replaces free too,
 * so under it only the copying is checked. */
#include <stdint.h>
#include <stdlib.h>

#include "alloc.h"
#include "crypto.h"
#include "test.h"
#include "uapi_client.h"

#if defined(__SANITIZE_ADDRESS__)
#define FREE_SPY 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FREE_SPY 0
#endif
#endif
#ifndef FREE_SPY
#define FREE_SPY 1
#endif

/* The block being watched, and what free saw in it. */
static void *watched;
static size_t watched_len;
static unsigned watched_frees;
static bool watched_was_zero;

#if FREE_SPY
void __libc_free(void *p);

void free(void *p)
{
	if (p && p == watched) {
		watched_frees++;
		watched_was_zero = crypto_is_zero(p, watched_len);
		watched = NULL;
	}
	__libc_free(p);
}
#endif

static void watch(void *p, size_t len)
{
	watched = p;
	watched_len = len;
	watched_frees = 0;
	watched_was_zero = false;
}

static bool filled(const uint8_t *p, size_t len, uint8_t v)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != v)
			return false;
	return true;
}

/* The spy itself: a plain free leaves the bytes as they were, so a test
 * below that sees zeros is seeing the wipe. */
static void test_spy_sees_plain_free(void)
{
	/* Called through a volatile pointer: a direct free() would let the
	 * compiler drop the memset before it as a dead store (the very
	 * reason wipes go through OPENSSL_cleanse). */
	void (*volatile plain_free)(void *) = free;
	uint8_t *p = xrealloc(NULL, 64);

	memset(p, 0xa5, 64);
	watch(p, 64);
	plain_free(p);
	if (FREE_SPY)
		CHECK(watched_frees == 1 && !watched_was_zero);
}

static void test_grow_wipes_the_old_block(void)
{
	uint8_t *p = xrealloc_wiped(NULL, 0, 64), *q;

	memset(p, 0xa5, 64);
	watch(p, 64);
	/* A megabyte: far too big to grow in place. */
	q = xrealloc_wiped(p, 64, 1 << 20);
	CHECK(q != p);
	CHECK(filled(q, 64, 0xa5));
	if (FREE_SPY)
		CHECK(watched_frees == 1 && watched_was_zero);
	/* Shrinking keeps the start, and wipes too. */
	memset(q, 0x5a, 1 << 20);
	watch(q, 1 << 20);
	p = xrealloc_wiped(q, 1 << 20, 16);
	CHECK(filled(p, 16, 0x5a));
	if (FREE_SPY)
		CHECK(watched_frees == 1 && watched_was_zero);
	watch(p, 16);
	free_wiped(p, 16);
	if (FREE_SPY)
		CHECK(watched_frees == 1 && watched_was_zero);
	free_wiped(NULL, 0);
}

/* A set request holds private and preshared keys in hex; each time it
 * grows, the block it leaves is wiped, and so is the last one. */
static void test_request_growth_wipes(void)
{
	struct uapi_request req = { 0 };
	uint8_t key[KEY_LEN];
	unsigned moves = 0, wiped = 0;

	memset(key, 0x42, sizeof(key));
	for (int i = 0; i < 200; i++) {
		void *before = req.data;
		if (before)
			watch(before, req.cap);
		uapi_request_add_key(&req, "preshared_key", key);
		if (before && req.data != before) {
			moves++;
			wiped += watched_frees == 1 && watched_was_zero;
		}
	}
	CHECK(moves >= 3);
	CHECK(strstr(req.data, "preshared_key=4242") != NULL);
	if (FREE_SPY)
		CHECK(wiped == moves);
	watch(req.data, req.cap);
	uapi_request_free(&req);
	if (FREE_SPY)
		CHECK(watched_frees == 1 && watched_was_zero);
	CHECK(req.data == NULL && req.len == 0);
}

int main(void)
{
	RUN(test_spy_sees_plain_free);
	RUN(test_grow_wipes_the_old_block);
	RUN(test_request_growth_wipes);
	return test_finish("test_roam_alloc");
}
