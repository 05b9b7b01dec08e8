/* The cryptographic primitives WireGuard needs, as thin wrappers over
 * OpenSSL 3's libcrypto. Nothing here does arithmetic of its own except
 * HChaCha20 (hchacha20.c), which OpenSSL does not expose.
 *
 * All functions are safe to call with overlapping src/dst where noted
 * ("in place"). Functions that cannot fail return void; those that can
 * (authentication, low-order points, allocation) return bool. */
#ifndef ROAM_CRYPTO_H
#define ROAM_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	CHACHA20POLY1305_KEY_LEN = 32,
	CHACHA20POLY1305_NONCE_LEN = 12,
	CHACHA20POLY1305_TAG_LEN = 16,
	XCHACHA20POLY1305_NONCE_LEN = 24,
	HCHACHA20_NONCE_LEN = 16,
	X25519_KEY_LEN = 32,
	BLAKE2S_HASH_LEN = 32,
	BLAKE2S_BLOCK_LEN = 64,
	BLAKE2S_MAC_LEN = 16,
};

/* An AEAD context holds reusable OpenSSL cipher state so the data path
 * allocates nothing per packet. One per thread that encrypts. It remembers
 * the last key loaded (wiped on free) so consecutive packets of one session
 * skip the key setup; callers still pass the key on every call. */
struct aead_ctx;
struct aead_ctx *aead_ctx_new(void);
void aead_ctx_free(struct aead_ctx *ctx);

/* ChaCha20-Poly1305 (RFC 8439) with WireGuard's nonce layout:
 * 4 zero bytes || little-endian u64 counter. seal writes len + 16 bytes to
 * dst; open reads len bytes (ciphertext + tag) and writes len - 16 bytes.
 * dst may equal src (in place). open returns false if the tag does not
 * verify, in which case dst's contents are unspecified. */
bool aead_seal(struct aead_ctx *ctx, uint8_t *dst, const uint8_t *src, size_t len,
	       const uint8_t *ad, size_t ad_len, uint64_t counter, const uint8_t key[32]);
bool aead_open(struct aead_ctx *ctx, uint8_t *dst, const uint8_t *src, size_t len,
	       const uint8_t *ad, size_t ad_len, uint64_t counter, const uint8_t key[32]);

/* The same with a caller-supplied 12-byte nonce (for known-answer tests). */
bool aead_seal_nonce(struct aead_ctx *ctx, uint8_t *dst, const uint8_t *src, size_t len,
		     const uint8_t *ad, size_t ad_len, const uint8_t nonce[12], const uint8_t key[32]);
bool aead_open_nonce(struct aead_ctx *ctx, uint8_t *dst, const uint8_t *src, size_t len,
		     const uint8_t *ad, size_t ad_len, const uint8_t nonce[12], const uint8_t key[32]);

/* XChaCha20-Poly1305: subkey = HChaCha20(key, nonce[0:16]), then
 * ChaCha20-Poly1305 under nonce 00000000 || nonce[16:24]. Used for cookies. */
bool xaead_seal(struct aead_ctx *ctx, uint8_t *dst, const uint8_t *src, size_t len,
		const uint8_t *ad, size_t ad_len, const uint8_t nonce[24], const uint8_t key[32]);
bool xaead_open(struct aead_ctx *ctx, uint8_t *dst, const uint8_t *src, size_t len,
		const uint8_t *ad, size_t ad_len, const uint8_t nonce[24], const uint8_t key[32]);

void hchacha20(uint8_t out[32], const uint8_t nonce[16], const uint8_t key[32]);

/* X25519 (RFC 7748). x25519 returns false when the result is all zeros
 * (a low-order point), which WireGuard treats as a failed handshake. */
bool x25519(uint8_t out[32], const uint8_t scalar[32], const uint8_t point[32]);
bool x25519_public_from_private(uint8_t pub[32], const uint8_t priv[32]);
void x25519_clamp(uint8_t key[32]);
/* A fresh clamped private key from the given random bytes. */
void x25519_private_from_random(uint8_t key[32], const uint8_t random[32]);

/* BLAKE2s-256 of the concatenation of two parts (a NULL/0 part is skipped):
 * WireGuard always hashes one or two. */
void blake2s256(uint8_t out[32], const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len);
/* Keyed BLAKE2s with a 16-byte output length (WireGuard's MAC). The output
 * length is part of BLAKE2s's parameter block: this is not a truncation. */
void blake2s_mac(uint8_t out[16], const uint8_t *key, size_t key_len, const uint8_t *in, size_t in_len);
/* Keyed BLAKE2s with a 32-byte output (for the reference KAT). */
void blake2s256_keyed(uint8_t out[32], const uint8_t *key, size_t key_len, const uint8_t *in, size_t in_len);
/* HMAC (RFC 2104, 64-byte block) over BLAKE2s-256. */
void hmac_blake2s(uint8_t out[32], const uint8_t *key, size_t key_len, const uint8_t *in, size_t in_len);

/* WireGuard's HKDF: t0 = HMAC(ck, in); t1 = HMAC(t0, 1); t2 = HMAC(t0, t1||2);
 * t3 = HMAC(t0, t2||3). Writes t1..t3 to the non-NULL outputs (KDF1/2/3). */
void kdf(uint8_t *t1, uint8_t *t2, uint8_t *t3, const uint8_t ck[32], const uint8_t *in, size_t in_len);

/* Constant-time equality, and a wipe the compiler cannot elide. */
bool crypto_equal(const void *a, const void *b, size_t len);
bool crypto_is_zero(const void *a, size_t len);
void crypto_wipe(void *p, size_t len);

/* Secrets' memory (secmem.c): zeroed, page-granular, MADV_DONTDUMP and,
 * within RLIMIT_MEMLOCK, mlocked; secmem_free wipes it first. For the
 * device, peers and keypairs: never per packet. */
void *secmem_alloc(size_t size);
void secmem_free(void *ptr);
/* realloc for buffers that hold secrets: the old block is wiped before it
 * is freed. Returns NULL (old untouched) when out of memory. */
void *crypto_realloc_wiped(void *old, size_t old_len, size_t new_len);

/* A keypair died: if either direction of ctx still holds key (cached for
 * the next packet), wipe that copy and rekey the cipher with zeros so the
 * provider's key schedule forgets it too. */
void aead_ctx_forget(struct aead_ctx *ctx, const uint8_t key[32]);

#endif
