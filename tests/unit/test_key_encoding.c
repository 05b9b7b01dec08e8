/* The key encodings roamd and roam share (src/common/key_encoding.c): hex
 * and base64 both ways, every byte value through each, and the decoders'
 * promise to leave nothing behind when they refuse. */
#include "key_encoding.h"
#include "test.h"

static void fill(uint8_t key[KEY_LEN], unsigned seed)
{
	for (int i = 0; i < KEY_LEN; i++)
		key[i] = (uint8_t)(seed * 37 + (unsigned)i * 11);
}

static bool all_zero(const uint8_t key[KEY_LEN])
{
	for (int i = 0; i < KEY_LEN; i++)
		if (key[i])
			return false;
	return true;
}

static void test_hex_round_trip(void)
{
	uint8_t key[KEY_LEN], back[KEY_LEN];
	char hex[KEY_HEX_LEN + 1];

	for (unsigned seed = 0; seed < 256; seed++) {
		fill(key, seed);
		key_to_hex(hex, key);
		CHECK(strlen(hex) == KEY_HEX_LEN && strspn(hex, "0123456789abcdef") == KEY_HEX_LEN);
		CHECK(key_from_hex(back, hex, strlen(hex)) && !memcmp(back, key, KEY_LEN));
	}
}

static void test_hex_upper_case_and_refusals(void)
{
	uint8_t key[KEY_LEN];
	char hex[KEY_HEX_LEN + 2];

	memset(hex, 'A', KEY_HEX_LEN);
	hex[KEY_HEX_LEN] = '\0';
	CHECK(key_from_hex(key, hex, KEY_HEX_LEN) && key[0] == 0xaa && key[KEY_LEN - 1] == 0xaa);
	/* A bad digit anywhere, even the last, wipes what was decoded. */
	for (const char *bad = "gG/:@`\x01 "; *bad; bad++) {
		memset(key, 0x5a, KEY_LEN);
		hex[KEY_HEX_LEN - 1] = *bad;
		CHECK(!key_from_hex(key, hex, KEY_HEX_LEN) && all_zero(key));
	}
	hex[KEY_HEX_LEN - 1] = 'a';
	memset(key, 0x5a, KEY_LEN);
	CHECK(!key_from_hex(key, hex, KEY_HEX_LEN - 1) && all_zero(key));
	CHECK(!key_from_hex(key, hex, 0) && all_zero(key));
}

static void test_base64_round_trip_and_refusals(void)
{
	uint8_t key[KEY_LEN], back[KEY_LEN];
	char b64[KEY_B64_LEN + 1];

	for (unsigned seed = 0; seed < 256; seed++) {
		fill(key, seed);
		key_to_base64(b64, key);
		CHECK(strlen(b64) == KEY_B64_LEN && b64[KEY_B64_LEN - 1] == '=');
		CHECK(key_from_base64(back, b64) && !memcmp(back, key, KEY_LEN));
	}
	b64[3] = '*';
	memset(back, 0x5a, KEY_LEN);
	CHECK(!key_from_base64(back, b64) && all_zero(back));
}

int main(void)
{
	RUN(test_hex_round_trip);
	RUN(test_hex_upper_case_and_refusals);
	RUN(test_base64_round_trip_and_refusals);
	return test_finish("test_key_encoding");
}
