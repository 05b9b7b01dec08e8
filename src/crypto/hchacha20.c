/* HChaCha20 (draft-irtf-cfrg-xchacha-03 section 2.2): the ChaCha20 block
 * function without the final feed-forward addition, keeping only the words
 * an attacker cannot relate back to the key (0..3 and 12..15). OpenSSL does
 * not expose it, so it is the one primitive written here by hand. It runs
 * once per cookie reply, so clarity matters more than speed. */
#include <stdint.h>

#include "crypto.h"

static inline uint32_t rotl32(uint32_t x, unsigned n)
{
	return x << n | x >> (32 - n);
}

static inline uint32_t load32_le(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void store32_le(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* RFC 8439 section 2.1. */
#define QUARTER_ROUND(a, b, c, d)                   \
	do {                                        \
		a += b, d ^= a, d = rotl32(d, 16);  \
		c += d, b ^= c, b = rotl32(b, 12);  \
		a += b, d ^= a, d = rotl32(d, 8);   \
		c += d, b ^= c, b = rotl32(b, 7);   \
	} while (0)

void hchacha20(uint8_t out[32], const uint8_t nonce[16], const uint8_t key[32])
{
	uint32_t x[16];
	int i;

	/* "expand 32-byte k" as four little-endian words. */
	x[0] = 0x61707865;
	x[1] = 0x3320646e;
	x[2] = 0x79622d32;
	x[3] = 0x6b206574;
	for (i = 0; i < 8; i++)
		x[4 + i] = load32_le(key + 4 * i);
	/* HChaCha20 puts the whole 16-byte nonce where ChaCha20 has its block
	 * counter and nonce. */
	for (i = 0; i < 4; i++)
		x[12 + i] = load32_le(nonce + 4 * i);

	for (i = 0; i < 10; i++) {
		/* Column round, then diagonal round: one double round. */
		QUARTER_ROUND(x[0], x[4], x[8], x[12]);
		QUARTER_ROUND(x[1], x[5], x[9], x[13]);
		QUARTER_ROUND(x[2], x[6], x[10], x[14]);
		QUARTER_ROUND(x[3], x[7], x[11], x[15]);
		QUARTER_ROUND(x[0], x[5], x[10], x[15]);
		QUARTER_ROUND(x[1], x[6], x[11], x[12]);
		QUARTER_ROUND(x[2], x[7], x[8], x[13]);
		QUARTER_ROUND(x[3], x[4], x[9], x[14]);
	}

	/* Everything was read into x above, so out may alias key or nonce. */
	for (i = 0; i < 4; i++) {
		store32_le(out + 4 * i, x[i]);
		store32_le(out + 16 + 4 * i, x[12 + i]);
	}
	/* The state holds key-derived words: the other eight would let anyone
	 * who sees the subkey invert the permutation back to the key. */
	crypto_wipe(x, sizeof(x));
}
