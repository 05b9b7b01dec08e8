/* Crypto-layer benchmark (not a test): how close our AEAD wrappers come to
 * what OpenSSL's EVP interface can do at best, and the rates of the
 * handshake primitives. One "name value" line per figure.
 *
 * The AEAD figures are interleaved in short rounds (raw, seal, open,
 * key-change seal, raw, ...) so that a neighbour stealing the CPU for a moment hits all three
 * alike and the ratios stay meaningful on a shared machine. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "crypto.h"

enum {
	PACKET_LEN = 1420, /* WireGuard's default MTU: a full data packet */
	ROUNDS = 5,        /* AEAD rounds of ROUND_SECONDS each, per figure */
	BATCH = 64,        /* iterations between clock reads */
};
static const double ROUND_SECONDS = 0.2, PRIMITIVE_SECONDS = 1.0;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what)
{
	fprintf(stderr, "bench_crypto: %s\n", what);
	exit(1);
}

static void counter_nonce(uint8_t nonce[12], uint64_t counter)
{
	memset(nonce, 0, 4);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(counter >> (8 * i));
}

struct timing {
	uint64_t ops;
	double seconds;
};

/* The best case for OpenSSL: the key is set once, and each packet costs
 * only an IV-only re-init, one in-place update, final and the tag fetch. */
static void run_raw(struct timing *t, EVP_CIPHER_CTX *c, uint8_t *buf, uint64_t *counter)
{
	uint8_t nonce[12];
	int outl, finl;
	double start = now(), end;

	do {
		for (int i = 0; i < BATCH; i++) {
			counter_nonce(nonce, (*counter)++);
			if (!EVP_EncryptInit_ex2(c, NULL, NULL, nonce, NULL) ||
			    !EVP_EncryptUpdate(c, buf, &outl, buf, PACKET_LEN) ||
			    !EVP_EncryptFinal_ex(c, buf + outl, &finl) ||
			    !EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, 16, buf + PACKET_LEN))
				die("raw EVP encryption failed");
		}
		t->ops += BATCH;
		end = now();
	} while (end - start < ROUND_SECONDS);
	t->seconds += end - start;
}

static void run_seal(struct timing *t, struct aead_ctx *ctx, uint8_t *buf, const uint8_t key[32],
		     uint64_t *counter)
{
	double start = now(), end;

	do {
		for (int i = 0; i < BATCH; i++)
			if (!aead_seal(ctx, buf, buf, PACKET_LEN, NULL, 0, (*counter)++, key))
				die("aead_seal failed");
		t->ops += BATCH;
		end = now();
	} while (end - start < ROUND_SECONDS);
	t->seconds += end - start;
}

/* The worst case for our key cache: every packet under a different key
 * than the one before (two peers' packets strictly interleaved). */
static void run_seal_keychange(struct timing *t, struct aead_ctx *ctx, uint8_t *buf,
			       const uint8_t keys[2][32], uint64_t *counter)
{
	double start = now(), end;

	do {
		for (int i = 0; i < BATCH; i++)
			if (!aead_seal(ctx, buf, buf, PACKET_LEN, NULL, 0, (*counter)++, keys[i & 1]))
				die("aead_seal failed");
		t->ops += BATCH;
		end = now();
	} while (end - start < ROUND_SECONDS);
	t->seconds += end - start;
}

/* In place turns the packet into plaintext, so each iteration first copies
 * the sealed packet back in. The copy (1.4 KB, in L1) is counted against us;
 * it is a few percent at most. */
static void run_open(struct timing *t, struct aead_ctx *ctx, uint8_t *buf, const uint8_t *sealed,
		     const uint8_t key[32], uint64_t counter)
{
	double start = now(), end;

	do {
		for (int i = 0; i < BATCH; i++) {
			memcpy(buf, sealed, PACKET_LEN + 16);
			if (!aead_open(ctx, buf, buf, PACKET_LEN + 16, NULL, 0, counter, key))
				die("aead_open failed");
		}
		t->ops += BATCH;
		end = now();
	} while (end - start < ROUND_SECONDS);
	t->seconds += end - start;
}

static double gbps(const struct timing *t)
{
	return (double)t->ops * PACKET_LEN * 8 / t->seconds / 1e9;
}

/* Runs fn for about PRIMITIVE_SECONDS and returns calls per second. */
static double rate(void (*fn)(void *), void *arg, int batch)
{
	uint64_t ops = 0;
	double start = now(), end;

	do {
		for (int i = 0; i < batch; i++)
			fn(arg);
		ops += (uint64_t)batch;
		end = now();
	} while (end - start < PRIMITIVE_SECONDS);
	return (double)ops / (end - start);
}

struct prim {
	uint8_t key[32], priv[32], pub[32], out[32], msg[116];
};

static void do_x25519(void *arg)
{
	struct prim *p = arg;

	if (!x25519(p->out, p->priv, p->pub))
		die("x25519 failed");
}

static void do_x25519_public(void *arg)
{
	struct prim *p = arg;

	if (!x25519_public_from_private(p->out, p->priv))
		die("x25519_public_from_private failed");
}

/* mac1 covers the 116 bytes of an initiation before it. */
static void do_blake2s_mac(void *arg)
{
	struct prim *p = arg;

	blake2s_mac(p->out, p->key, 32, p->msg, sizeof(p->msg));
}

static void do_blake2s256(void *arg)
{
	struct prim *p = arg;

	blake2s256(p->out, p->key, 32, p->msg, 32);
}

static void do_hmac(void *arg)
{
	struct prim *p = arg;

	hmac_blake2s(p->out, p->key, 32, p->msg, 32);
}

static void do_kdf3(void *arg)
{
	struct prim *p = arg;
	uint8_t t2[32], t3[32];

	kdf(p->out, t2, t3, p->key, p->msg, 32);
}

int main(void)
{
	static uint8_t buf[PACKET_LEN + 16], sealed[PACKET_LEN + 16];
	struct timing raw = { 0 }, seal = { 0 }, open = { 0 }, keychange = { 0 };
	uint8_t key[32], keys[2][32];
	uint64_t raw_counter = 0, seal_counter = 0;
	struct aead_ctx *ctx;
	EVP_CIPHER *cipher;
	EVP_CIPHER_CTX *c;
	struct prim p;

	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(i * 13 + 5);
	memcpy(keys[0], key, 32);
	memcpy(keys[1], key, 32);
	keys[1][0] ^= 1;
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)i;

	cipher = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
	c = EVP_CIPHER_CTX_new();
	ctx = aead_ctx_new();
	if (!cipher || !c || !ctx || !EVP_EncryptInit_ex2(c, cipher, key, NULL, NULL))
		die("setup failed");
	memcpy(sealed, buf, PACKET_LEN);
	if (!aead_seal(ctx, sealed, sealed, PACKET_LEN, NULL, 0, 12345, key))
		die("aead_seal failed");

	for (int r = 0; r < ROUNDS; r++) {
		run_raw(&raw, c, buf, &raw_counter);
		run_seal(&seal, ctx, buf, key, &seal_counter);
		run_open(&open, ctx, buf, sealed, key, 12345);
		run_seal_keychange(&keychange, ctx, buf, (const uint8_t(*)[32])keys, &seal_counter);
	}
	printf("crypto.openssl_raw_seal_gbps %.2f\n", gbps(&raw));
	printf("crypto.aead_seal_gbps %.2f\n", gbps(&seal));
	printf("crypto.aead_open_gbps %.2f\n", gbps(&open));
	printf("crypto.aead_seal_vs_openssl %.3f\n", gbps(&seal) / gbps(&raw));
	printf("crypto.aead_open_vs_openssl %.3f\n", gbps(&open) / gbps(&raw));
	printf("crypto.aead_seal_keychange_gbps %.2f\n", gbps(&keychange));
	printf("crypto.aead_seal_keychange_vs_openssl %.3f\n", gbps(&keychange) / gbps(&raw));
	fflush(stdout);

	memset(&p, 0, sizeof(p));
	memcpy(p.key, key, 32);
	for (size_t i = 0; i < sizeof(p.priv); i++)
		p.priv[i] = (uint8_t)(i * 7 + 1);
	if (!x25519_public_from_private(p.pub, key))
		die("x25519_public_from_private failed");
	printf("crypto.x25519_ops_per_s %.0f\n", rate(do_x25519, &p, 8));
	printf("crypto.x25519_public_ops_per_s %.0f\n", rate(do_x25519_public, &p, 8));
	printf("crypto.blake2s_mac_ops_per_s %.0f\n", rate(do_blake2s_mac, &p, 64));
	printf("crypto.blake2s256_ops_per_s %.0f\n", rate(do_blake2s256, &p, 64));
	printf("crypto.hmac_blake2s_ops_per_s %.0f\n", rate(do_hmac, &p, 64));
	printf("crypto.kdf3_ops_per_s %.0f\n", rate(do_kdf3, &p, 64));

	aead_ctx_free(ctx);
	EVP_CIPHER_CTX_free(c);
	EVP_CIPHER_free(cipher);
	return 0;
}
