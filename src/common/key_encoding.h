/* Keys as text: the 64 hex digits of the UAPI (docs/protocol.md §7) and the
 * 44 base64 characters wg prints and wg-quick files hold (§8.1). One module
 * for roamd and roam, so both sides spell a key the same way.
 *
 * The decoders are strict (one spelling per key), never branch on a key's
 * bytes, and leave their output zeroed when they fail, so a half-decoded
 * secret never lingers in the caller's buffer. */
#ifndef ROAM_KEY_ENCODING_H
#define ROAM_KEY_ENCODING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "messages.h"

enum {
	/* Public, private and preshared keys are all this long. */
	KEY_LEN = NOISE_PUBLIC_KEY_LEN,
	KEY_HEX_LEN = 2 * KEY_LEN,
	KEY_B64_LEN = 44,	/* 43 characters of data and one '=' */
};

_Static_assert(NOISE_PRIVATE_KEY_LEN == NOISE_PUBLIC_KEY_LEN && NOISE_SYMMETRIC_KEY_LEN == NOISE_PUBLIC_KEY_LEN,
	       "one key length for every key the UAPI and the config files carry");

/* Writes 64 lowercase hex digits and a NUL (what wg and wireguard-go send). */
void key_to_hex(char hex[KEY_HEX_LEN + 1], const uint8_t key[KEY_LEN]);
/* Exactly len == 64 hex digits, either case (wireguard-go accepts upper
 * case too). false on anything else, leaving key zeroed. */
bool key_from_hex(uint8_t key[KEY_LEN], const char *hex, size_t len);

/* Writes 44 characters and a NUL. */
void key_to_base64(char b64[KEY_B64_LEN + 1], const uint8_t key[KEY_LEN]);
/* Strict: exactly 44 characters, the last '=', and the 43rd carrying no
 * stray low bits, so each key has one spelling. false on anything else,
 * leaving key zeroed. */
bool key_from_base64(uint8_t key[KEY_LEN], const char *b64);

#endif
