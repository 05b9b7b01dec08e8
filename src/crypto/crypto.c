/* WireGuard's primitives over OpenSSL 3 libcrypto.
 *
 * Algorithms are fetched from the provider once (explicit fetches avoid the
 * implicit per-call lookup that the legacy EVP_chacha20_poly1305()-style
 * handles do on every Init) and kept for the life of the process. Those
 * handles are the only global state here, and they are immutable after the
 * pthread_once that sets them.
 *
 * Functions the header declares void cannot fail for valid input; if
 * OpenSSL itself fails (allocation, a missing algorithm) they abort with a
 * message rather than hand back an unset digest that the protocol would
 * then trust. */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "crypto.h"

static struct {
	EVP_CIPHER *chacha20poly1305;
	EVP_MD *blake2s256;
	EVP_MAC *blake2smac;
} alg;
static pthread_once_t alg_once = PTHREAD_ONCE_INIT;

static _Noreturn void crypto_fatal(const char *what)
{
	fprintf(stderr, "roam: crypto: %s\n", what);
	ERR_print_errors_fp(stderr);
	abort();
}

static void alg_fetch(void)
{
	EVP_KEYMGMT *km;
	EVP_KEYEXCH *kx;

	alg.chacha20poly1305 = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
	if (!alg.chacha20poly1305)
		crypto_fatal("OpenSSL provides no ChaCha20-Poly1305 cipher");
	alg.blake2s256 = EVP_MD_fetch(NULL, "BLAKE2S-256", NULL);
	if (!alg.blake2s256)
		crypto_fatal("OpenSSL provides no BLAKE2S-256 digest");
	alg.blake2smac = EVP_MAC_fetch(NULL, "BLAKE2SMAC", NULL);
	if (!alg.blake2smac)
		crypto_fatal("OpenSSL provides no BLAKE2SMAC");
	/* X25519 goes through EVP_PKEY by name, which fetches internally; check
	 * here that it can succeed so a broken install fails at startup rather
	 * than as "low-order point" on the first handshake. */
	km = EVP_KEYMGMT_fetch(NULL, "X25519", NULL);
	kx = EVP_KEYEXCH_fetch(NULL, "X25519", NULL);
	if (!km || !kx)
		crypto_fatal("OpenSSL provides no X25519 key exchange");
	EVP_KEYMGMT_free(km);
	EVP_KEYEXCH_free(kx);
}

static inline void alg_init(void)
{
	if (pthread_once(&alg_once, alg_fetch) != 0)
		crypto_fatal("pthread_once failed");
}

/* ------------------------------------------------------------------------
 * Constant-time helpers */

bool crypto_equal(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}

bool crypto_is_zero(const void *a, size_t len)
{
	/* volatile keeps the compiler from turning the OR-accumulation into an
	 * early exit on the first nonzero byte. */
	const volatile uint8_t *p = a;
	unsigned int acc = 0;

	for (size_t i = 0; i < len; i++)
		acc |= p[i];
	/* acc - 1 wraps to all ones only when acc == 0: no data-dependent branch. */
	return (((acc - 1) >> 8) & 1) != 0;
}

void crypto_wipe(void *p, size_t len)
{
	OPENSSL_cleanse(p, len);
}

/* ------------------------------------------------------------------------
 * ChaCha20-Poly1305
 *
 * Each direction keeps one EVP_CIPHER_CTX bound to the fetched cipher at
 * creation, so a packet costs an EVP_CipherInit_ex2 (no allocation, unlike
 * EVP_CIPHER_CTX_reset, which frees the provider context), the updates, the
 * final, and one tag parameter.
 *
 * Loading a key into that context costs about as much again as loading an
 * IV (~45 ns, some 5% of a 1420-byte packet), and a data-path thread
 * usually seals run after run of packets for the same peer. So each
 * direction remembers which key its EVP context holds and, when the next
 * call brings the same key (compared in constant time), sets only the IV.
 * Callers still pass the key on every call; the copy is wiped on free. */

struct aead_dir {
	EVP_CIPHER_CTX *evp;
	uint8_t key[CHACHA20POLY1305_KEY_LEN]; /* what evp is keyed with, if keyed */
	bool keyed;
};

struct aead_ctx {
	struct aead_dir seal, open;
};

static bool aead_dir_init(struct aead_dir *d, int enc)
{
	d->evp = EVP_CIPHER_CTX_new();
	return d->evp && EVP_CipherInit_ex2(d->evp, alg.chacha20poly1305, NULL, NULL, enc, NULL);
}

struct aead_ctx *aead_ctx_new(void)
{
	struct aead_ctx *ctx;

	alg_init();
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return NULL;
	if (!aead_dir_init(&ctx->seal, 1) || !aead_dir_init(&ctx->open, 0)) {
		ERR_clear_error();
		aead_ctx_free(ctx);
		return NULL;
	}
	return ctx;
}

void aead_ctx_free(struct aead_ctx *ctx)
{
	if (!ctx)
		return;
	/* Freeing the EVP contexts cleanses the provider's key state. */
	EVP_CIPHER_CTX_free(ctx->seal.evp);
	EVP_CIPHER_CTX_free(ctx->open.evp);
	crypto_wipe(ctx, sizeof(*ctx));
	free(ctx);
}

/* Whether two keys are equal, in constant time. CRYPTO_memcmp walks bytes
 * through a volatile pointer, about 1% of a packet's cost on this path;
 * four word XORs ORed together have no branch or early exit either. */
static bool key_equal(const uint8_t a[CHACHA20POLY1305_KEY_LEN], const uint8_t b[CHACHA20POLY1305_KEY_LEN])
{
	uint64_t x[4], y[4], diff = 0;
	memcpy(x, a, sizeof(x));
	memcpy(y, b, sizeof(y));
	for (int i = 0; i < 4; i++)
		diff |= x[i] ^ y[i];
	return diff == 0;
}

/* Readies d for one message under key and nonce. */
static bool aead_dir_start(struct aead_dir *d, const uint8_t key[32], const uint8_t nonce[12], int enc)
{
	if (d->keyed && key_equal(d->key, key))
		return EVP_CipherInit_ex2(d->evp, NULL, NULL, nonce, enc, NULL);
	/* Whatever happens below, the old key is no longer known to be loaded. */
	d->keyed = false;
	if (!EVP_CipherInit_ex2(d->evp, NULL, key, nonce, enc, NULL))
		return false;
	memcpy(d->key, key, sizeof(d->key));
	d->keyed = true;
	return true;
}

void aead_ctx_forget(struct aead_ctx *ctx, const uint8_t key[32])
{
	static const uint8_t zero_key[CHACHA20POLY1305_KEY_LEN], zero_nonce[CHACHA20POLY1305_NONCE_LEN];
	struct aead_dir *dirs[2] = {&ctx->seal, &ctx->open};

	if (!ctx)
		return;
	for (int i = 0; i < 2; i++) {
		struct aead_dir *d = dirs[i];
		if (!d->keyed || !key_equal(d->key, key))
			continue;
		/* Loading zeros overwrites the provider's copy of the key;
		 * the next packet loads its own key anyway (keyed is false). */
		(void)EVP_CipherInit_ex2(d->evp, NULL, zero_key, zero_nonce, i == 0, NULL);
		ERR_clear_error();
		crypto_wipe(d->key, sizeof(d->key));
		d->keyed = false;
	}
}

/* EVP lengths are int. Keeping len + tag below INT_MAX also keeps the
 * dst + len arithmetic in range. */
static inline bool aead_lengths_ok(size_t len, size_t ad_len)
{
	return len <= (size_t)INT_MAX - CHACHA20POLY1305_TAG_LEN && ad_len <= (size_t)INT_MAX;
}

bool aead_seal_nonce(struct aead_ctx *ctx, uint8_t *dst, const uint8_t *src, size_t len,
		     const uint8_t *ad, size_t ad_len, const uint8_t nonce[12], const uint8_t key[32])
{
	EVP_CIPHER_CTX *c = ctx->seal.evp;
	OSSL_PARAM params[2];
	int outl, finl;

	if (!aead_lengths_ok(len, ad_len))
		return false;
	if (!aead_dir_start(&ctx->seal, key, nonce, 1))
		goto fail;
	/* AAD goes in with a NULL output; empty parts are skipped because a
	 * zero-length Update is pointless work on every keepalive. */
	if (ad_len && !EVP_CipherUpdate(c, NULL, &outl, ad, (int)ad_len))
		goto fail;
	outl = 0;
	if (len && !EVP_CipherUpdate(c, dst, &outl, src, (int)len))
		goto fail;
	if (!EVP_CipherFinal_ex(c, dst + outl, &finl) || (size_t)outl + (size_t)finl != len)
		goto fail;
	params[0] = OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, dst + len,
						      CHACHA20POLY1305_TAG_LEN);
	params[1] = OSSL_PARAM_construct_end();
	if (!EVP_CIPHER_CTX_get_params(c, params))
		goto fail;
	return true;
fail:
	ERR_clear_error();
	return false;
}

bool aead_open_nonce(struct aead_ctx *ctx, uint8_t *dst, const uint8_t *src, size_t len,
		     const uint8_t *ad, size_t ad_len, const uint8_t nonce[12], const uint8_t key[32])
{
	/* Opening an empty payload (a tag only) needs no output buffer; keep
	 * pointer arithmetic off NULL all the same. */
	uint8_t no_output[1];
	if (!dst)
		dst = no_output;
	EVP_CIPHER_CTX *c = ctx->open.evp;
	OSSL_PARAM params[2];
	uint8_t tag[CHACHA20POLY1305_TAG_LEN];
	size_t plain_len;
	int outl, finl;

	if (len < CHACHA20POLY1305_TAG_LEN || !aead_lengths_ok(len, ad_len))
		return false;
	plain_len = len - CHACHA20POLY1305_TAG_LEN;
	/* A private copy: OpenSSL's parameter takes a non-const pointer, and the
	 * copy stays valid whatever the caller's dst does to src. */
	memcpy(tag, src + plain_len, sizeof(tag));
	if (!aead_dir_start(&ctx->open, key, nonce, 0))
		goto fail;
	params[0] = OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, sizeof(tag));
	params[1] = OSSL_PARAM_construct_end();
	if (!EVP_CIPHER_CTX_set_params(c, params))
		goto fail;
	if (ad_len && !EVP_CipherUpdate(c, NULL, &outl, ad, (int)ad_len))
		goto fail;
	outl = 0;
	if (plain_len && !EVP_CipherUpdate(c, dst, &outl, src, (int)plain_len))
		goto fail;
	/* Final compares the tag in constant time and fails on mismatch. */
	if (!EVP_CipherFinal_ex(c, dst + outl, &finl) || (size_t)outl + (size_t)finl != plain_len)
		goto fail_wipe;
	return true;
fail_wipe:
	/* Unauthenticated plaintext must not be mistaken for data. */
	crypto_wipe(dst, plain_len);
fail:
	ERR_clear_error();
	return false;
}

/* WireGuard's nonce: 32 zero bits, then the 64-bit counter little-endian. */
static inline void counter_nonce(uint8_t nonce[12], uint64_t counter)
{
	memset(nonce, 0, 4);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(counter >> (8 * i));
}

bool aead_seal(struct aead_ctx *ctx, uint8_t *dst, const uint8_t *src, size_t len,
	       const uint8_t *ad, size_t ad_len, uint64_t counter, const uint8_t key[32])
{
	uint8_t nonce[CHACHA20POLY1305_NONCE_LEN];

	counter_nonce(nonce, counter);
	return aead_seal_nonce(ctx, dst, src, len, ad, ad_len, nonce, key);
}

bool aead_open(struct aead_ctx *ctx, uint8_t *dst, const uint8_t *src, size_t len,
	       const uint8_t *ad, size_t ad_len, uint64_t counter, const uint8_t key[32])
{
	uint8_t nonce[CHACHA20POLY1305_NONCE_LEN];

	counter_nonce(nonce, counter);
	return aead_open_nonce(ctx, dst, src, len, ad, ad_len, nonce, key);
}

/* ------------------------------------------------------------------------
 * XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha-03 section 2.3) */

static inline void xchacha_split(uint8_t subkey[32], uint8_t nonce12[12], const uint8_t nonce[24],
				 const uint8_t key[32])
{
	hchacha20(subkey, nonce, key);
	memset(nonce12, 0, 4);
	memcpy(nonce12 + 4, nonce + 16, 8);
}

bool xaead_seal(struct aead_ctx *ctx, uint8_t *dst, const uint8_t *src, size_t len,
		const uint8_t *ad, size_t ad_len, const uint8_t nonce[24], const uint8_t key[32])
{
	uint8_t subkey[CHACHA20POLY1305_KEY_LEN], nonce12[CHACHA20POLY1305_NONCE_LEN];
	bool ok;

	xchacha_split(subkey, nonce12, nonce, key);
	ok = aead_seal_nonce(ctx, dst, src, len, ad, ad_len, nonce12, subkey);
	crypto_wipe(subkey, sizeof(subkey));
	return ok;
}

bool xaead_open(struct aead_ctx *ctx, uint8_t *dst, const uint8_t *src, size_t len,
		const uint8_t *ad, size_t ad_len, const uint8_t nonce[24], const uint8_t key[32])
{
	uint8_t subkey[CHACHA20POLY1305_KEY_LEN], nonce12[CHACHA20POLY1305_NONCE_LEN];
	bool ok;

	xchacha_split(subkey, nonce12, nonce, key);
	ok = aead_open_nonce(ctx, dst, src, len, ad, ad_len, nonce12, subkey);
	crypto_wipe(subkey, sizeof(subkey));
	return ok;
}

/* ------------------------------------------------------------------------
 * X25519 */

void x25519_clamp(uint8_t key[32])
{
	key[0] &= 248;
	key[31] = (uint8_t)((key[31] & 127) | 64);
}

void x25519_private_from_random(uint8_t key[32], const uint8_t random[32])
{
	memmove(key, random, X25519_KEY_LEN);
	x25519_clamp(key);
}

/* An X25519 EVP_PKEY built from raw parts (either may be NULL). */
static EVP_PKEY *x25519_key(EVP_PKEY_CTX *kctx, const uint8_t *priv, const uint8_t *pub)
{
	OSSL_PARAM params[3], *p = params;
	EVP_PKEY *key = NULL;

	/* fromdata only reads the buffers; OSSL_PARAM just has no const form. */
	if (priv)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PRIV_KEY, (void *)priv, X25519_KEY_LEN);
	if (pub)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)pub, X25519_KEY_LEN);
	*p = OSSL_PARAM_construct_end();
	if (EVP_PKEY_fromdata(kctx, &key, priv ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params) <= 0)
		return NULL;
	return key;
}

bool x25519(uint8_t out[32], const uint8_t scalar[32], const uint8_t point[32])
{
	/* Importing a private key alone makes OpenSSL compute its public key: a
	 * whole scalar multiplication, which in OpenSSL 3.0 costs about as much
	 * as the DH itself (measured: 11k DH/s with it, 23k/s without), for a
	 * value the DH never reads (the derive uses our private scalar and the
	 * peer's point only). Handing it a placeholder public half skips that;
	 * the known-answer tests would catch an OpenSSL that started to use it.
	 * The key object never leaves this function. */
	static const uint8_t unused_public[X25519_KEY_LEN];
	EVP_PKEY_CTX *kctx, *pctx = NULL;
	EVP_PKEY *priv = NULL, *peer = NULL;
	uint8_t shared[X25519_KEY_LEN];
	size_t shared_len = sizeof(shared);
	bool ok = false;

	alg_init();
	kctx = EVP_PKEY_CTX_new_from_name(NULL, "X25519", NULL);
	if (!kctx || EVP_PKEY_fromdata_init(kctx) <= 0)
		goto out;
	priv = x25519_key(kctx, scalar, unused_public);
	peer = x25519_key(kctx, NULL, point);
	if (!priv || !peer)
		goto out;
	pctx = EVP_PKEY_CTX_new_from_pkey(NULL, priv, NULL);
	/* validate_peer = 0: X25519 accepts every 32-byte string as a point,
	 * and the low-order case is caught by the all-zero check below. */
	if (!pctx || EVP_PKEY_derive_init(pctx) <= 0 || EVP_PKEY_derive_set_peer_ex(pctx, peer, 0) <= 0)
		goto out;
	/* OpenSSL itself refuses an all-zero result; either way it is a failure. */
	if (EVP_PKEY_derive(pctx, shared, &shared_len) <= 0 || shared_len != sizeof(shared))
		goto out;
	ok = !crypto_is_zero(shared, sizeof(shared));
out:
	/* A separate buffer means out is untouched by a half-finished derive and
	 * may alias scalar or point. */
	if (ok)
		memcpy(out, shared, sizeof(shared));
	else
		memset(out, 0, X25519_KEY_LEN);
	crypto_wipe(shared, sizeof(shared));
	if (!ok)
		ERR_clear_error();
	EVP_PKEY_CTX_free(pctx);
	EVP_PKEY_free(peer);
	EVP_PKEY_free(priv); /* OpenSSL cleanses the private key on free */
	EVP_PKEY_CTX_free(kctx);
	return ok;
}

bool x25519_public_from_private(uint8_t pub[32], const uint8_t priv[32])
{
	EVP_PKEY *key;
	size_t len = X25519_KEY_LEN;
	bool ok;

	alg_init();
	/* OpenSSL clamps a copy of the scalar itself (RFC 7748 decodeScalar25519). */
	key = EVP_PKEY_new_raw_private_key_ex(NULL, "X25519", NULL, priv, X25519_KEY_LEN);
	ok = key && EVP_PKEY_get_raw_public_key(key, pub, &len) > 0 && len == X25519_KEY_LEN;
	if (!ok) {
		memset(pub, 0, X25519_KEY_LEN);
		ERR_clear_error();
	}
	EVP_PKEY_free(key);
	return ok;
}

/* ------------------------------------------------------------------------
 * BLAKE2s */

static EVP_MD_CTX *md_ctx_new(void)
{
	EVP_MD_CTX *c;

	alg_init();
	c = EVP_MD_CTX_new();
	if (!c)
		crypto_fatal("out of memory for a BLAKE2s context");
	return c;
}

static void md_init(EVP_MD_CTX *c)
{
	if (!EVP_DigestInit_ex2(c, alg.blake2s256, NULL))
		crypto_fatal("BLAKE2s init failed");
}

static void md_update(EVP_MD_CTX *c, const void *p, size_t len)
{
	if (len && !EVP_DigestUpdate(c, p, len))
		crypto_fatal("BLAKE2s update failed");
}

static void md_final(EVP_MD_CTX *c, uint8_t out[32])
{
	unsigned int n = 0;

	if (!EVP_DigestFinal_ex(c, out, &n) || n != BLAKE2S_HASH_LEN)
		crypto_fatal("BLAKE2s final failed");
}

void blake2s256(uint8_t out[32], const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
	EVP_MD_CTX *c = md_ctx_new();

	md_init(c);
	md_update(c, a, a_len);
	md_update(c, b, b_len);
	md_final(c, out);
	EVP_MD_CTX_free(c); /* the provider clears its state on free */
}

/* Keyed BLAKE2s with the digest length in the parameter block, which is
 * what separates a real 16-byte BLAKE2s from a truncated 32-byte one.
 * BLAKE2 allows keys of 1..32 bytes; OpenSSL's BLAKE2SMAC insists on a key. */
static void blake2s_keyed(uint8_t *out, size_t out_len, const uint8_t *key, size_t key_len,
			  const uint8_t *in, size_t in_len)
{
	EVP_MAC_CTX *m;
	OSSL_PARAM params[2];
	size_t n = 0;

	if (key_len == 0 || key_len > BLAKE2S_HASH_LEN)
		crypto_fatal("keyed BLAKE2s needs a key of 1 to 32 bytes");
	/* One context per thread, re-keyed by each init: making one per call
	 * cost more than the MAC itself, and mac1 is computed for every
	 * handshake message a flood brings. */
	static _Thread_local EVP_MAC_CTX *cached;
	alg_init();
	if (!cached)
		cached = EVP_MAC_CTX_new(alg.blake2smac);
	m = cached;
	if (!m)
		crypto_fatal("out of memory for a BLAKE2s MAC context");
	params[0] = OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &out_len);
	params[1] = OSSL_PARAM_construct_end();
	/* init applies the size before the key, so the parameter block that the
	 * key block is hashed under already carries out_len. */
	if (!EVP_MAC_init(m, key, key_len, params) || (in_len && !EVP_MAC_update(m, in, in_len)) ||
	    !EVP_MAC_final(m, out, &n, out_len) || n != out_len)
		crypto_fatal("BLAKE2s MAC failed");
	/* The key stays in the context until the next init overwrites it:
	 * mac1 and cookie keys are derived from public keys, and the cookie
	 * secret is replaced every two minutes anyway. */
}

void blake2s_mac(uint8_t out[16], const uint8_t *key, size_t key_len, const uint8_t *in, size_t in_len)
{
	blake2s_keyed(out, BLAKE2S_MAC_LEN, key, key_len, in, in_len);
}

void blake2s256_keyed(uint8_t out[32], const uint8_t *key, size_t key_len, const uint8_t *in, size_t in_len)
{
	/* With no key, BLAKE2s's key length field is 0: the plain hash. */
	if (key_len == 0)
		blake2s256(out, in, in_len, NULL, 0);
	else
		blake2s_keyed(out, BLAKE2S_HASH_LEN, key, key_len, in, in_len);
}

/* ------------------------------------------------------------------------
 * HMAC-BLAKE2s and the KDF
 *
 * HMAC is built here from the digest (RFC 2104) rather than EVP_MAC "HMAC"
 * because the KDF chains three HMACs: one EVP_MD_CTX then serves all six
 * hashes, where EVP_MAC would allocate an HMAC context holding three digest
 * contexts per HMAC. The input comes in two parts so the KDF can hash
 * t(i-1) || i without first copying them together. */

static void hmac_with(EVP_MD_CTX *c, uint8_t out[32], const uint8_t *key, size_t key_len,
		      const uint8_t *in1, size_t in1_len, const uint8_t *in2, size_t in2_len)
{
	uint8_t k[BLAKE2S_BLOCK_LEN] = { 0 }, pad[BLAKE2S_BLOCK_LEN], inner[BLAKE2S_HASH_LEN];
	size_t i;

	/* RFC 2104: keys longer than a block are hashed first; shorter ones are
	 * zero-padded (so an n-byte key and its zero extension are the same key). */
	if (key_len > BLAKE2S_BLOCK_LEN) {
		md_init(c);
		md_update(c, key, key_len);
		md_final(c, k);
	} else if (key_len) {
		memcpy(k, key, key_len);
	}

	for (i = 0; i < sizeof(pad); i++)
		pad[i] = k[i] ^ 0x36;
	md_init(c);
	md_update(c, pad, sizeof(pad));
	md_update(c, in1, in1_len);
	md_update(c, in2, in2_len);
	md_final(c, inner);

	for (i = 0; i < sizeof(pad); i++)
		pad[i] = k[i] ^ 0x5c;
	md_init(c);
	md_update(c, pad, sizeof(pad));
	md_update(c, inner, sizeof(inner));
	/* key and in were fully consumed above, so out may alias either. */
	md_final(c, out);

	crypto_wipe(k, sizeof(k));
	crypto_wipe(pad, sizeof(pad));
	crypto_wipe(inner, sizeof(inner));
}

void hmac_blake2s(uint8_t out[32], const uint8_t *key, size_t key_len, const uint8_t *in, size_t in_len)
{
	EVP_MD_CTX *c = md_ctx_new();

	hmac_with(c, out, key, key_len, in, in_len, NULL, 0);
	EVP_MD_CTX_free(c);
}

void kdf(uint8_t *t1, uint8_t *t2, uint8_t *t3, const uint8_t ck[32], const uint8_t *in, size_t in_len)
{
	EVP_MD_CTX *c = md_ctx_new();
	uint8_t t0[BLAKE2S_HASH_LEN], t[3][BLAKE2S_HASH_LEN];
	uint8_t idx;

	/* HKDF-Extract with the chaining key as salt, then Expand one block at a
	 * time: t_i = HMAC(t0, t_(i-1) || i). */
	hmac_with(c, t0, ck, BLAKE2S_HASH_LEN, in, in_len, NULL, 0);
	idx = 1;
	hmac_with(c, t[0], t0, sizeof(t0), NULL, 0, &idx, 1);
	if (t2 || t3) {
		idx = 2;
		hmac_with(c, t[1], t0, sizeof(t0), t[0], sizeof(t[0]), &idx, 1);
	}
	if (t3) {
		idx = 3;
		hmac_with(c, t[2], t0, sizeof(t0), t[1], sizeof(t[1]), &idx, 1);
	}
	EVP_MD_CTX_free(c);

	/* Outputs are written only now: callers routinely pass the chaining key
	 * as both ck and t1 (Noise's ck, k = KDF2(ck, dh)). */
	if (t1)
		memcpy(t1, t[0], BLAKE2S_HASH_LEN);
	if (t2)
		memcpy(t2, t[1], BLAKE2S_HASH_LEN);
	if (t3)
		memcpy(t3, t[2], BLAKE2S_HASH_LEN);
	crypto_wipe(t0, sizeof(t0));
	crypto_wipe(t, sizeof(t));
}
