/* Hex and base64 keys (see key_encoding.h). Every character test is a mask
 * computed from a sign bit rather than a comparison, so the characters of a
 * secret key never decide a branch or a table index. */
#include "key_encoding.h"

#include <limits.h>
#include <string.h>

#include "crypto.h"

/* All-ones when a < b, else 0, for small non-negative a and b. */
static unsigned lt_mask(int a, int b)
{
	return 0u - ((unsigned)(a - b) >> (sizeof(unsigned) * CHAR_BIT - 1));
}

static unsigned in_range_mask(int c, int lo, int hi)
{
	return ~lt_mask(c, lo) & lt_mask(c, hi + 1);
}

/* ---- hex --------------------------------------------------------------- */

/* '0' + v, moved up to 'a' from 10 on. */
static char hex_char(unsigned v)
{
	int d = (int)v;

	return (char)('0' + d + (int)(~lt_mask(d, 10) & (unsigned)('a' - '0' - 10)));
}

/* The 4-bit value of one hex digit; sets *invalid to all-ones if c is not
 * one. */
static unsigned hex_value(int c, unsigned *invalid)
{
	unsigned digit = in_range_mask(c, '0', '9'), lower = in_range_mask(c, 'a', 'f');
	unsigned upper = in_range_mask(c, 'A', 'F');

	*invalid |= ~(digit | lower | upper);
	return (digit & (unsigned)(c - '0')) | (lower & (unsigned)(c - 'a' + 10)) |
	       (upper & (unsigned)(c - 'A' + 10));
}

void key_to_hex(char hex[KEY_HEX_LEN + 1], const uint8_t key[KEY_LEN])
{
	for (int i = 0; i < KEY_LEN; i++) {
		hex[2 * i] = hex_char(key[i] >> 4);
		hex[2 * i + 1] = hex_char(key[i] & 15);
	}
	hex[KEY_HEX_LEN] = '\0';
}

bool key_from_hex(uint8_t key[KEY_LEN], const char *hex, size_t len)
{
	unsigned invalid = 0;

	memset(key, 0, KEY_LEN);
	/* The length is public; only the digits are secret. */
	if (len != KEY_HEX_LEN)
		return false;
	for (int i = 0; i < KEY_LEN; i++) {
		unsigned hi = hex_value((unsigned char)hex[2 * i], &invalid);
		unsigned lo = hex_value((unsigned char)hex[2 * i + 1], &invalid);
		key[i] = (uint8_t)(hi << 4 | lo);
	}
	if (invalid) {
		crypto_wipe(key, KEY_LEN);
		return false;
	}
	return true;
}

/* ---- base64 ------------------------------------------------------------ */

/* The 6-bit value of one base64 character; sets *invalid to all-ones if c
 * is outside the alphabet. */
static unsigned b64_value(int c, unsigned *invalid)
{
	unsigned upper = in_range_mask(c, 'A', 'Z'), lower = in_range_mask(c, 'a', 'z');
	unsigned digit = in_range_mask(c, '0', '9');
	unsigned plus = in_range_mask(c, '+', '+'), slash = in_range_mask(c, '/', '/');

	*invalid |= ~(upper | lower | digit | plus | slash);
	return (upper & (unsigned)(c - 'A')) | (lower & (unsigned)(c - 'a' + 26)) |
	       (digit & (unsigned)(c - '0' + 52)) | (plus & 62u) | (slash & 63u);
}

/* The character for a 6-bit value: 'A' + v, shifted into the next range at
 * each boundary (26 → 'a', 52 → '0', 62 → '+', 63 → '/'). */
static char b64_char(unsigned v)
{
	int d = (int)v;
	int c = 'A' + d;

	c += (int)(~lt_mask(d, 26) & 6u);	/* 'a' - 'A' - 26 */
	c -= (int)(~lt_mask(d, 52) & 75u);	/* ('a' + 26) - '0' - 26 + ... */
	c -= (int)(~lt_mask(d, 62) & 15u);	/* '0' + 10 - '+' */
	c += (int)(~lt_mask(d, 63) & 3u);	/* '/' - '+' - 1 */
	return (char)c;
}

void key_to_base64(char b64[KEY_B64_LEN + 1], const uint8_t key[KEY_LEN])
{
	uint32_t w;
	int i, j;

	for (i = 0; i < KEY_LEN / 3; i++) {
		w = (uint32_t)key[3 * i] << 16 | (uint32_t)key[3 * i + 1] << 8 | key[3 * i + 2];
		for (j = 0; j < 4; j++)
			b64[4 * i + j] = b64_char((w >> (18 - 6 * j)) & 63);
	}
	/* 32 = 3 * 10 + 2: the last two bytes make three characters and '='. */
	w = (uint32_t)key[30] << 16 | (uint32_t)key[31] << 8;
	for (j = 0; j < 3; j++)
		b64[40 + j] = b64_char((w >> (18 - 6 * j)) & 63);
	b64[43] = '=';
	b64[44] = '\0';
	crypto_wipe(&w, sizeof(w));
}

bool key_from_base64(uint8_t key[KEY_LEN], const char *b64)
{
	unsigned invalid = 0;
	uint32_t w;
	int i, j;

	memset(key, 0, KEY_LEN);
	/* Length and padding are public; only the data characters are secret. */
	if (strnlen(b64, KEY_B64_LEN + 1) != KEY_B64_LEN || b64[KEY_B64_LEN - 1] != '=')
		return false;
	for (i = 0; i < KEY_LEN / 3; i++) {
		w = 0;
		for (j = 0; j < 4; j++)
			w = w << 6 | b64_value((unsigned char)b64[4 * i + j], &invalid);
		key[3 * i] = (uint8_t)(w >> 16);
		key[3 * i + 1] = (uint8_t)(w >> 8);
		key[3 * i + 2] = (uint8_t)w;
	}
	w = 0;
	for (j = 0; j < 3; j++)
		w = w << 6 | b64_value((unsigned char)b64[40 + j], &invalid);
	w <<= 6;
	key[30] = (uint8_t)(w >> 16);
	key[31] = (uint8_t)(w >> 8);
	/* The 43rd character carries 4 key bits and 2 padding bits, which must
	 * be zero: otherwise four spellings would decode to one key. */
	invalid |= ~lt_mask((int)(w & 0xff), 1);
	crypto_wipe(&w, sizeof(w));
	if (invalid) {
		crypto_wipe(key, KEY_LEN);
		return false;
	}
	return true;
}
