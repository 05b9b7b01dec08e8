/* Secrets' memory (src/crypto/secmem.c) and the wiping helpers: what keeps
 * keys out of core dumps and out of freed heap blocks. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "test.h"

/* The VmFlags of the mapping that holds p, from /proc/self/smaps ("" if
 * not found). "dd" is MADV_DONTDUMP. */
static __attribute__((unused)) void vmflags_of(const void *p, char *out, size_t out_len)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	bool inside = false;

	out[0] = '\0';
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		uintptr_t lo, hi;
		if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			inside = (uintptr_t)p >= lo && (uintptr_t)p < hi;
			continue;
		}
		if (inside && !strncmp(line, "VmFlags:", 8)) {
			snprintf(out, out_len, "%.200s", line + 8);
			break;
		}
	}
	fclose(f);
}

static void test_secmem_alloc(void)
{
	uint8_t *p = secmem_alloc(1000);
	if (!CHECK(p != NULL))
		return;
	CHECK(crypto_is_zero(p, 1000));
	memset(p, 0xa5, 1000);
#ifndef __SANITIZE_ADDRESS__
	/* Excluded from core dumps. (The sanitizer build takes these from the
	 * heap, where ASan can check them: secmem.c.) */
	char flags[256];
	vmflags_of(p, flags, sizeof(flags));
	CHECK(strstr(flags, " dd") != NULL);
#endif
	secmem_free(p);
	secmem_free(NULL);

	/* Bigger than a page, and an odd size. */
	uint8_t *q = secmem_alloc(3 * 4096 + 7);
	if (CHECK(q != NULL)) {
		memset(q, 1, 3 * 4096 + 7);
		secmem_free(q);
	}
}

static void test_realloc_wiped(void)
{
	uint8_t *p = crypto_realloc_wiped(NULL, 0, 32);
	if (!CHECK(p != NULL))
		return;
	for (int i = 0; i < 32; i++)
		p[i] = (uint8_t)i;
	uint8_t *q = crypto_realloc_wiped(p, 32, 4096);
	if (!CHECK(q != NULL)) {
		free(p);
		return;
	}
	bool same = true;
	for (int i = 0; i < 32; i++)
		same &= q[i] == (uint8_t)i;
	CHECK(same);
	/* Shrinking keeps the prefix. */
	uint8_t *r = crypto_realloc_wiped(q, 4096, 16);
	if (CHECK(r != NULL)) {
		CHECK(r[15] == 15);
		free(r);
	}
}

/* A forgotten key is really gone from the cache: the next packet under it
 * must still encrypt correctly (the cipher is keyed again), and forgetting
 * another key changes nothing. */
static void test_aead_forget(void)
{
	struct aead_ctx *ctx = aead_ctx_new();
	if (!CHECK(ctx != NULL))
		return;
	uint8_t k1[32], k2[32], pt[64], ct1[80], ct2[80], ct3[80], back[64];
	memset(k1, 0x11, sizeof(k1));
	memset(k2, 0x22, sizeof(k2));
	memset(pt, 0x33, sizeof(pt));
	CHECK(aead_seal(ctx, ct1, pt, sizeof(pt), NULL, 0, 7, k1));
	aead_ctx_forget(ctx, k2);
	CHECK(aead_seal(ctx, ct2, pt, sizeof(pt), NULL, 0, 7, k1));
	CHECK(memcmp(ct1, ct2, sizeof(ct1)) == 0);
	CHECK(aead_open(ctx, back, ct1, sizeof(ct1), NULL, 0, 7, k1));
	aead_ctx_forget(ctx, k1);
	CHECK(aead_seal(ctx, ct3, pt, sizeof(pt), NULL, 0, 7, k1));
	CHECK(memcmp(ct1, ct3, sizeof(ct1)) == 0);
	CHECK(aead_open(ctx, back, ct1, sizeof(ct1), NULL, 0, 7, k1) && memcmp(back, pt, sizeof(pt)) == 0);
	/* Under another key the tag does not verify: the zero key loaded by
	 * forget is not mistaken for k1 or k2. */
	aead_ctx_forget(ctx, k1);
	CHECK(!aead_open(ctx, back, ct1, sizeof(ct1), NULL, 0, 7, k2));
	aead_ctx_free(ctx);
}

int main(void)
{
	RUN(test_secmem_alloc);
	RUN(test_realloc_wiped);
	RUN(test_aead_forget);
	return test_finish("test_secmem");
}
