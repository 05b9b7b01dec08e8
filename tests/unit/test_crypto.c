/* Known-answer tests for src/crypto. Every expected value is read at run
 * time from known-answers.txt in test_vectors_dir(): the published vectors
 * (RFC 7748, RFC 8439, the XChaCha draft, RFC 7693, wireguard-go's KDF
 * test) and the self-generated WireGuard transport packets of section 7.
 * A vector that cannot be found fails its check; nothing is skipped. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "test.h"

/* ------------------------------------------------------------------------
 * Vector file access
 *
 * The file mixes "label = value" (sections 1-6) and "label: value"
 * (section 7) lines, with free-form labels such as blake2s256("abc") or
 * nonce(12). A line matches a label when, after leading blanks, it starts
 * with the label followed by a blank, '=' or ':'. Its value is whatever
 * follows the last separator on the line. */

static char *vec_buf;
static char **vec_lines;
static size_t vec_nlines;

static void vec_load(void)
{
	char path[4096];
	FILE *f;
	long size;
	size_t cap = 0;

	snprintf(path, sizeof(path), "%s/known-answers.txt", test_vectors_dir());
	f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "cannot open %s: every vector check will fail\n", path);
		return;
	}
	if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
		fclose(f);
		return;
	}
	vec_buf = malloc((size_t)size + 1);
	if (!vec_buf || fread(vec_buf, 1, (size_t)size, f) != (size_t)size) {
		fclose(f);
		free(vec_buf);
		vec_buf = NULL;
		return;
	}
	fclose(f);
	vec_buf[size] = '\0';

	for (char *p = vec_buf; *p;) {
		char *nl = strchr(p, '\n');
		if (vec_nlines == cap) {
			cap = cap ? 2 * cap : 256;
			vec_lines = realloc(vec_lines, cap * sizeof(*vec_lines));
			if (!vec_lines)
				abort();
		}
		vec_lines[vec_nlines++] = p;
		if (!nl)
			break;
		*nl = '\0';
		if (nl > p && nl[-1] == '\r')
			nl[-1] = '\0';
		p = nl + 1;
	}
}

/* Lines [*lo, *hi) of the section headed "## <n>. ...". */
static bool section(int n, size_t *lo, size_t *hi)
{
	char head[16];
	size_t i;

	snprintf(head, sizeof(head), "## %d.", n);
	for (i = 0; i < vec_nlines; i++)
		if (strncmp(vec_lines[i], head, strlen(head)) == 0)
			break;
	if (i == vec_nlines)
		return false;
	*lo = i + 1;
	for (i = *lo; i < vec_nlines; i++)
		if (strncmp(vec_lines[i], "## ", 3) == 0)
			break;
	*hi = i;
	return true;
}

static const char *skip_blanks(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

/* The nth (from 0) line in [lo, hi) labelled label, or NULL. */
static const char *find_line(size_t lo, size_t hi, const char *label, int nth)
{
	size_t n = strlen(label);

	for (size_t i = lo; i < hi; i++) {
		const char *s = skip_blanks(vec_lines[i]);
		if (*s == '#' || strncmp(s, label, n) != 0)
			continue;
		if (s[n] != ' ' && s[n] != '\t' && s[n] != '=' && s[n] != ':')
			continue;
		if (nth-- == 0)
			return s;
	}
	return NULL;
}

static const char *find_value(size_t lo, size_t hi, const char *label, char sep, int nth)
{
	const char *s = find_line(lo, hi, label, nth), *v;

	if (!s || !(v = strrchr(s, sep)))
		return NULL;
	return skip_blanks(v + 1);
}

/* Hex value of a labelled line in section sec; returns the byte count,
 * 0 when the vector is missing (which the caller's length CHECK catches). */
static size_t vec_hex(uint8_t *out, size_t max, int sec, const char *label, char sep, int nth)
{
	size_t lo, hi;
	const char *v;

	if (!section(sec, &lo, &hi) || !(v = find_value(lo, hi, label, sep, nth)))
		return 0;
	return test_unhex(out, max, v);
}

/* The first "..." string after the label on its line. */
static size_t vec_quoted(char *out, size_t max, int sec, const char *label)
{
	size_t lo, hi, n;
	const char *s, *q, *e;

	if (!section(sec, &lo, &hi) || !(s = find_line(lo, hi, label, 0)))
		return 0;
	if (!(q = strchr(s + strlen(label), '"')) || !(e = strchr(q + 1, '"')))
		return 0;
	n = (size_t)(e - q - 1);
	if (n >= max)
		return 0;
	memcpy(out, q + 1, n);
	out[n] = '\0';
	return n;
}

/* ------------------------------------------------------------------------
 * 1. X25519 */

static void test_x25519_rfc7748(void)
{
	uint8_t scalar[32], u[32], want[32], out[32];

	for (int i = 0; i < 2; i++) {
		CHECK(vec_hex(scalar, 32, 1, "scalar", '=', i) == 32);
		CHECK(vec_hex(u, 32, 1, "u", '=', i) == 32);
		CHECK(vec_hex(want, 32, 1, "out", '=', i) == 32);
		CHECK(x25519(out, scalar, u));
		CHECK_MEM(out, want, 32);
	}
}

static void test_x25519_iterated(void)
{
	uint8_t k[32] = { 9 }, u[32] = { 9 }, r[32], want1[32], want1000[32];

	CHECK(vec_hex(want1, 32, 1, "after 1 iteration", '=', 0) == 32);
	CHECK(vec_hex(want1000, 32, 1, "after 1000 iterations", '=', 0) == 32);
	for (int i = 1; i <= 1000; i++) {
		/* RFC 7748 5.2: k, u = X25519(k, u), k */
		CHECK(x25519(r, k, u));
		memcpy(u, k, 32);
		memcpy(k, r, 32);
		if (i == 1)
			CHECK_MEM(k, want1, 32);
	}
	CHECK_MEM(k, want1000, 32);
}

static void test_x25519_dh(void)
{
	uint8_t a_priv[32], a_pub[32], b_priv[32], b_pub[32], shared[32], out[32], clamped[32];

	CHECK(vec_hex(a_priv, 32, 1, "alice_private", '=', 0) == 32);
	CHECK(vec_hex(a_pub, 32, 1, "alice_public", '=', 0) == 32);
	CHECK(vec_hex(b_priv, 32, 1, "bob_private", '=', 0) == 32);
	CHECK(vec_hex(b_pub, 32, 1, "bob_public", '=', 0) == 32);
	CHECK(vec_hex(shared, 32, 1, "shared", '=', 0) == 32);

	CHECK(x25519_public_from_private(out, a_priv));
	CHECK_MEM(out, a_pub, 32);
	CHECK(x25519_public_from_private(out, b_priv));
	CHECK_MEM(out, b_pub, 32);
	CHECK(x25519(out, a_priv, b_pub));
	CHECK_MEM(out, shared, 32);
	CHECK(x25519(out, b_priv, a_pub));
	CHECK_MEM(out, shared, 32);

	/* X25519 clamps internally, so clamping first changes nothing. */
	x25519_private_from_random(clamped, a_priv);
	CHECK(x25519_public_from_private(out, clamped));
	CHECK_MEM(out, a_pub, 32);
	CHECK(x25519(out, clamped, b_pub));
	CHECK_MEM(out, shared, 32);

	/* out may alias the scalar. */
	memcpy(out, a_priv, 32);
	CHECK(x25519(out, out, b_pub));
	CHECK_MEM(out, shared, 32);
}

static void test_x25519_kernel_case(void)
{
	uint8_t priv[32], pub[32], want[32], out[32];

	CHECK(vec_hex(priv, 32, 1, "private", '=', 0) == 32);
	CHECK(vec_hex(pub, 32, 1, "public", '=', 0) == 32);
	CHECK(vec_hex(want, 32, 1, "result", '=', 0) == 32);
	CHECK(x25519(out, priv, pub));
	CHECK_MEM(out, want, 32);
}

static void test_x25519_low_order(void)
{
	uint8_t priv[32], zero[32] = { 0 }, one[32] = { 1 }, out[32];

	CHECK(vec_hex(priv, 32, 1, "alice_private", '=', 0) == 32);
	/* u = 0 and u = 1 are points of small order: every scalar maps them to
	 * 0, which WireGuard must treat as a failed DH. */
	memset(out, 0xaa, sizeof(out));
	CHECK(!x25519(out, priv, zero));
	CHECK(crypto_is_zero(out, 32));
	CHECK(!x25519(out, priv, one));
	CHECK(crypto_is_zero(out, 32));
}

static void test_x25519_clamp(void)
{
	uint8_t k[32], r[32];

	memset(k, 0xff, sizeof(k));
	x25519_clamp(k);
	CHECK(k[0] == 248 && k[31] == 127);
	for (int i = 1; i < 31; i++)
		CHECK(k[i] == 0xff);
	memset(r, 0, sizeof(r));
	x25519_private_from_random(k, r);
	CHECK(k[0] == 0 && k[31] == 64);
}

/* ------------------------------------------------------------------------
 * 2. ChaCha20-Poly1305 */

struct aead_vec {
	uint8_t key[32], nonce[24], aad[64], pt[256], ct[256 + 16];
	size_t nonce_len, aad_len, pt_len, ct_len;
};

/* Section 2's vector, with the tag appended to the ciphertext. */
static bool load_rfc8439(struct aead_vec *v)
{
	uint8_t tag[16];
	bool ok;

	memset(v, 0, sizeof(*v));
	CHECK(vec_hex(v->key, 32, 2, "key", '=', 0) == 32);
	v->nonce_len = vec_hex(v->nonce, 12, 2, "nonce(12)", '=', 0);
	v->aad_len = vec_hex(v->aad, sizeof(v->aad), 2, "aad", '=', 0);
	v->pt_len = vec_hex(v->pt, sizeof(v->pt), 2, "plaintext", '=', 0);
	v->ct_len = vec_hex(v->ct, sizeof(v->ct) - 16, 2, "ciphertext", '=', 0);
	CHECK(vec_hex(tag, 16, 2, "tag", '=', 0) == 16);
	memcpy(v->ct + v->ct_len, tag, 16);
	/* Every check runs (and reports) even when an earlier one fails. */
	ok = CHECK(v->nonce_len == 12);
	ok = CHECK(v->aad_len == 12) && ok;
	ok = CHECK(v->pt_len == 114) && ok;
	ok = CHECK(v->ct_len == v->pt_len) && ok;
	return ok;
}

static void test_aead_rfc8439_seal(void)
{
	struct aead_ctx *ctx = aead_ctx_new();
	struct aead_vec v;
	uint8_t buf[256 + 16];

	CHECK(ctx != NULL);
	if (!ctx || !load_rfc8439(&v))
		goto out;
	memset(buf, 0, sizeof(buf));
	CHECK(aead_seal_nonce(ctx, buf, v.pt, v.pt_len, v.aad, v.aad_len, v.nonce, v.key));
	CHECK_MEM(buf, v.ct, v.pt_len + 16);

	memcpy(buf, v.pt, v.pt_len);
	CHECK(aead_seal_nonce(ctx, buf, buf, v.pt_len, v.aad, v.aad_len, v.nonce, v.key));
	CHECK_MEM(buf, v.ct, v.pt_len + 16);
out:
	aead_ctx_free(ctx);
}

static void test_aead_rfc8439_open(void)
{
	struct aead_ctx *ctx = aead_ctx_new();
	struct aead_vec v;
	uint8_t buf[256 + 16];

	CHECK(ctx != NULL);
	if (!ctx || !load_rfc8439(&v))
		goto out;
	memset(buf, 0, sizeof(buf));
	CHECK(aead_open_nonce(ctx, buf, v.ct, v.pt_len + 16, v.aad, v.aad_len, v.nonce, v.key));
	CHECK_MEM(buf, v.pt, v.pt_len);

	memcpy(buf, v.ct, v.pt_len + 16);
	CHECK(aead_open_nonce(ctx, buf, buf, v.pt_len + 16, v.aad, v.aad_len, v.nonce, v.key));
	CHECK_MEM(buf, v.pt, v.pt_len);
out:
	aead_ctx_free(ctx);
}

static void test_aead_tamper(void)
{
	struct aead_ctx *ctx = aead_ctx_new();
	struct aead_vec v;
	uint8_t ct[256 + 16], aad[64], key[32], nonce[12], out[256];
	size_t len, accepted = 0;

	CHECK(ctx != NULL);
	if (!ctx || !load_rfc8439(&v))
		goto out;
	len = v.pt_len + 16;
	memcpy(ct, v.ct, len);
	memcpy(aad, v.aad, v.aad_len);

	/* Every single-bit flip anywhere in ciphertext, tag or AAD. */
	for (size_t i = 0; i < len; i++)
		for (int b = 0; b < 8; b++) {
			ct[i] ^= (uint8_t)(1 << b);
			accepted += aead_open_nonce(ctx, out, ct, len, aad, v.aad_len, v.nonce, v.key);
			ct[i] ^= (uint8_t)(1 << b);
		}
	for (size_t i = 0; i < v.aad_len; i++)
		for (int b = 0; b < 8; b++) {
			aad[i] ^= (uint8_t)(1 << b);
			accepted += aead_open_nonce(ctx, out, ct, len, aad, v.aad_len, v.nonce, v.key);
			aad[i] ^= (uint8_t)(1 << b);
		}
	CHECK(accepted == 0);

	/* A rejected packet leaves no plaintext behind. */
	ct[0] ^= 1;
	memset(out, 0xaa, sizeof(out));
	CHECK(!aead_open_nonce(ctx, out, ct, len, aad, v.aad_len, v.nonce, v.key));
	CHECK(crypto_is_zero(out, v.pt_len));
	ct[0] ^= 1;

	/* Wrong key, wrong nonce, dropped or added AAD, truncation. */
	memcpy(key, v.key, 32);
	key[31] ^= 0x80;
	CHECK(!aead_open_nonce(ctx, out, ct, len, aad, v.aad_len, v.nonce, key));
	memcpy(nonce, v.nonce, 12);
	nonce[0] ^= 1;
	CHECK(!aead_open_nonce(ctx, out, ct, len, aad, v.aad_len, nonce, v.key));
	CHECK(!aead_open_nonce(ctx, out, ct, len, NULL, 0, v.nonce, v.key));
	CHECK(!aead_open_nonce(ctx, out, ct, len, aad, v.aad_len - 1, v.nonce, v.key));
	CHECK(!aead_open_nonce(ctx, out, ct, len - 1, aad, v.aad_len, v.nonce, v.key));
	CHECK(!aead_open_nonce(ctx, out, ct, 15, aad, v.aad_len, v.nonce, v.key));
	CHECK(!aead_open_nonce(ctx, out, ct, 0, aad, v.aad_len, v.nonce, v.key));

	/* A key differing from the loaded one in any single byte is noticed
	 * (the context reloads it): each fails, and the right key still opens. */
	size_t key_noticed = 0;
	for (size_t i = 0; i < 32; i++) {
		memcpy(key, v.key, 32);
		key[i] ^= 1;
		CHECK(aead_open_nonce(ctx, out, ct, len, aad, v.aad_len, v.nonce, v.key));
		key_noticed += !aead_open_nonce(ctx, out, ct, len, aad, v.aad_len, v.nonce, key);
	}
	CHECK(key_noticed == 32);

	/* The context recovers after failures. */
	CHECK(aead_open_nonce(ctx, out, ct, len, aad, v.aad_len, v.nonce, v.key));
	CHECK_MEM(out, v.pt, v.pt_len);
out:
	aead_ctx_free(ctx);
}

static void test_aead_counter_nonce(void)
{
	struct aead_ctx *ctx = aead_ctx_new();
	static const uint64_t counters[] = { 0, 1, 0xff, 0x100, 0x0102030405060708ULL, UINT64_MAX };
	uint8_t key[32], pt[100], a[116], b[116], nonce[12];

	CHECK(ctx != NULL);
	if (!ctx)
		return;
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(3 * i + 1);
	for (size_t i = 0; i < sizeof(pt); i++)
		pt[i] = (uint8_t)i;
	for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
		uint64_t c = counters[i];
		memset(nonce, 0, 4);
		for (int j = 0; j < 8; j++)
			nonce[4 + j] = (uint8_t)(c >> (8 * j));
		CHECK(aead_seal(ctx, a, pt, sizeof(pt), NULL, 0, c, key));
		CHECK(aead_seal_nonce(ctx, b, pt, sizeof(pt), NULL, 0, nonce, key));
		CHECK_MEM(a, b, sizeof(a));
		CHECK(aead_open(ctx, b, a, sizeof(a), NULL, 0, c, key));
		CHECK_MEM(b, pt, sizeof(pt));
		CHECK(!aead_open(ctx, b, a, sizeof(a), NULL, 0, c ^ 1, key));
	}
	aead_ctx_free(ctx);
}

/* Section 7's transport packets: type 4, receiver index, LE64 counter, then
 * ChaCha20-Poly1305 under the sender's key with empty AAD. They pin the
 * counter-to-nonce layout to what wireguard-go accepted. */
static void test_aead_transport_vectors(void)
{
	struct aead_ctx *ctx = aead_ctx_new();
	uint8_t key[32], pkt[128], pt[64], buf[128];
	size_t lo, hi, pkt_len, pt_len;
	uint64_t counter;
	const char *line;

	CHECK(ctx != NULL);
	if (!ctx || !CHECK(section(7, &lo, &hi)))
		goto out;
	for (int psk = 0; psk < 2; psk++) {
		CHECK(vec_hex(key, 32, 7, "initiator_send_key", ':', psk) == 32);

		/* Keepalive: zero-length plaintext, counter 0. */
		pkt_len = vec_hex(pkt, sizeof(pkt), 7, "transport: keepalive initiator->responder", ':', psk);
		CHECK(pkt_len == 32);
		if (pkt_len == 32) {
			CHECK(aead_seal(ctx, buf, NULL, 0, NULL, 0, 0, key));
			CHECK_MEM(buf, pkt + 16, 16);
			CHECK(aead_open(ctx, buf, pkt + 16, 16, NULL, 0, 0, key));
		}

		/* The 28-byte packet padded to 32, counter 1. */
		line = find_line(lo, hi, "transport: inner plaintext", psk);
		CHECK(line != NULL);
		if (!line)
			continue;
		pt_len = test_unhex(pt, sizeof(pt), skip_blanks(line + strlen("transport: inner plaintext")));
		CHECK(pt_len == 28);
		memset(pt + pt_len, 0, 4);
		pt_len += 4;
		pkt_len = vec_hex(pkt, sizeof(pkt), 7, "transport: inner plaintext", ':', psk);
		CHECK(pkt_len == 16 + pt_len + 16);
		if (pkt_len != 16 + pt_len + 16)
			continue;
		counter = 0;
		for (int j = 7; j >= 0; j--)
			counter = counter << 8 | pkt[8 + j];
		CHECK(counter == 1);
		CHECK(aead_seal(ctx, buf, pt, pt_len, NULL, 0, counter, key));
		CHECK_MEM(buf, pkt + 16, pt_len + 16);
		CHECK(aead_open(ctx, buf, pkt + 16, pt_len + 16, NULL, 0, counter, key));
		CHECK_MEM(buf, pt, pt_len);
		CHECK(!aead_open(ctx, buf, pkt + 16, pt_len + 16, NULL, 0, 0, key));
	}
out:
	aead_ctx_free(ctx);
}

/* ------------------------------------------------------------------------
 * 3. HChaCha20 and XChaCha20-Poly1305 */

static void test_hchacha20(void)
{
	uint8_t key[32], nonce[16], want[32], out[32];

	CHECK(vec_hex(key, 32, 3, "key", '=', 0) == 32);
	CHECK(vec_hex(nonce, 16, 3, "nonce16", '=', 0) == 16);
	CHECK(vec_hex(want, 32, 3, "subkey", '=', 0) == 32);
	hchacha20(out, nonce, key);
	CHECK_MEM(out, want, 32);
	/* out may alias the key. */
	memcpy(out, key, 32);
	hchacha20(out, nonce, out);
	CHECK_MEM(out, want, 32);
}

static void test_xaead(void)
{
	struct aead_ctx *ctx = aead_ctx_new();
	struct aead_vec v, rfc;
	uint8_t tag[16], buf[256 + 16];
	size_t lo, hi;
	const char *pt;

	CHECK(ctx != NULL);
	if (!ctx || !load_rfc8439(&rfc) || !CHECK(section(3, &lo, &hi)))
		goto out;
	memset(&v, 0, sizeof(v));
	CHECK(vec_hex(v.key, 32, 3, "key", '=', 1) == 32);
	v.nonce_len = vec_hex(v.nonce, 24, 3, "nonce(24)", '=', 0);
	v.aad_len = vec_hex(v.aad, sizeof(v.aad), 3, "aad", '=', 0);
	v.ct_len = vec_hex(v.ct, sizeof(v.ct) - 16, 3, "ciphertext", '=', 0);
	CHECK(vec_hex(tag, 16, 3, "tag", '=', 0) == 16);
	memcpy(v.ct + v.ct_len, tag, 16);
	/* The draft's plaintext is the RFC 8439 one, which the file says by
	 * reference rather than repeating. */
	pt = find_value(lo, hi, "plaintext", '=', 0);
	CHECK(pt != NULL && strncmp(pt, "(same 114-byte", 14) == 0);
	memcpy(v.pt, rfc.pt, rfc.pt_len);
	v.pt_len = rfc.pt_len;
	if (!CHECK(v.nonce_len == 24) || !CHECK(v.aad_len == 12) || !CHECK(v.ct_len == v.pt_len))
		goto out;

	CHECK(xaead_seal(ctx, buf, v.pt, v.pt_len, v.aad, v.aad_len, v.nonce, v.key));
	CHECK_MEM(buf, v.ct, v.pt_len + 16);
	memset(buf, 0, sizeof(buf));
	CHECK(xaead_open(ctx, buf, v.ct, v.pt_len + 16, v.aad, v.aad_len, v.nonce, v.key));
	CHECK_MEM(buf, v.pt, v.pt_len);

	memcpy(buf, v.pt, v.pt_len);
	CHECK(xaead_seal(ctx, buf, buf, v.pt_len, v.aad, v.aad_len, v.nonce, v.key));
	CHECK_MEM(buf, v.ct, v.pt_len + 16);
	CHECK(xaead_open(ctx, buf, buf, v.pt_len + 16, v.aad, v.aad_len, v.nonce, v.key));
	CHECK_MEM(buf, v.pt, v.pt_len);

	/* The first 16 nonce bytes feed HChaCha20, the last 8 the AEAD nonce. */
	memcpy(buf, v.ct, v.pt_len + 16);
	v.nonce[0] ^= 1;
	CHECK(!xaead_open(ctx, buf, buf, v.pt_len + 16, v.aad, v.aad_len, v.nonce, v.key));
	v.nonce[0] ^= 1;
	v.nonce[23] ^= 1;
	memcpy(buf, v.ct, v.pt_len + 16);
	CHECK(!xaead_open(ctx, buf, buf, v.pt_len + 16, v.aad, v.aad_len, v.nonce, v.key));
	v.nonce[23] ^= 1;
	memcpy(buf, v.ct, v.pt_len + 16);
	buf[v.pt_len + 15] ^= 1;
	CHECK(!xaead_open(ctx, buf, buf, v.pt_len + 16, v.aad, v.aad_len, v.nonce, v.key));
out:
	aead_ctx_free(ctx);
}

/* ------------------------------------------------------------------------
 * 4. BLAKE2s, keyed BLAKE2s, HMAC-BLAKE2s */

static void key_00_1f(uint8_t key[32])
{
	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)i;
}

static void test_blake2s(void)
{
	uint8_t want[32], out[32], key[32], zero = 0;

	CHECK(vec_hex(want, 32, 4, "blake2s256(\"abc\")", '=', 0) == 32);
	blake2s256(out, (const uint8_t *)"abc", 3, NULL, 0);
	CHECK_MEM(out, want, 32);
	/* Parts are concatenated, however split. */
	blake2s256(out, (const uint8_t *)"a", 1, (const uint8_t *)"bc", 2);
	CHECK_MEM(out, want, 32);
	blake2s256(out, NULL, 0, (const uint8_t *)"abc", 3);
	CHECK_MEM(out, want, 32);

	CHECK(vec_hex(want, 32, 4, "blake2s256(\"\")", '=', 0) == 32);
	blake2s256(out, NULL, 0, NULL, 0);
	CHECK_MEM(out, want, 32);
	/* A zero-length key is no key. */
	blake2s256_keyed(out, NULL, 0, NULL, 0);
	CHECK_MEM(out, want, 32);

	key_00_1f(key);
	CHECK(vec_hex(want, 32, 4, "blake2s256(key=00..1f, in=\"\")", '=', 0) == 32);
	blake2s256_keyed(out, key, 32, NULL, 0);
	CHECK_MEM(out, want, 32);
	CHECK(vec_hex(want, 32, 4, "blake2s256(key=00..1f, in=00)", '=', 0) == 32);
	blake2s256_keyed(out, key, 32, &zero, 1);
	CHECK_MEM(out, want, 32);
}

static void test_blake2s_mac(void)
{
	uint8_t want[16], out[32], key[32];

	key_00_1f(key);
	CHECK(vec_hex(want, 16, 4, "blake2s128(key=00..1f, in=\"abc\")", '=', 0) == 16);
	memset(out, 0xaa, sizeof(out));
	blake2s_mac(out, key, 32, (const uint8_t *)"abc", 3);
	CHECK_MEM(out, want, 16);
	/* Exactly 16 bytes written. */
	for (int i = 16; i < 32; i++)
		CHECK(out[i] == 0xaa);
	/* A 16-byte output length is not the 32-byte digest cut short. */
	blake2s256_keyed(out, key, 32, (const uint8_t *)"abc", 3);
	CHECK(memcmp(out, want, 16) != 0);
}

static void test_hmac_blake2s(void)
{
	static const char msg[] = "The quick brown fox jumps over the lazy dog";
	uint8_t want[32], out[32], long_key[100], hashed_key[32], ref[32];

	CHECK(vec_hex(want, 32, 4, "hmac_blake2s(key=\"key\", msg=\"The quick brown fox jumps over the lazy dog\")",
		      '=', 0) == 32);
	hmac_blake2s(out, (const uint8_t *)"key", 3, (const uint8_t *)msg, strlen(msg));
	CHECK_MEM(out, want, 32);

	/* RFC 2104 relations, not outputs: a key longer than the 64-byte block is
	 * replaced by its hash, and a short key is zero-padded. */
	for (size_t i = 0; i < sizeof(long_key); i++)
		long_key[i] = (uint8_t)(i * 7);
	blake2s256(hashed_key, long_key, sizeof(long_key), NULL, 0);
	hmac_blake2s(out, long_key, sizeof(long_key), (const uint8_t *)msg, strlen(msg));
	hmac_blake2s(ref, hashed_key, sizeof(hashed_key), (const uint8_t *)msg, strlen(msg));
	CHECK_MEM(out, ref, 32);
	memset(long_key, 0, sizeof(long_key));
	memcpy(long_key, "key", 3);
	hmac_blake2s(out, long_key, 64, (const uint8_t *)msg, strlen(msg));
	CHECK_MEM(out, want, 32);
}

/* ------------------------------------------------------------------------
 * 5. KDF
 *
 * The file follows wireguard-go's TestKDF, whose outputs are named t0, t1,
 * t2: they are the first, second and third HKDF output blocks, which the
 * header calls t1, t2, t3 (its t0 is the internal HMAC(ck, in)). The keys
 * are shorter than 32 bytes; HMAC zero-pads keys to its 64-byte block, so
 * each key zero-extended to 32 bytes is the same HMAC key kdf() needs. */

static void test_kdf(void)
{
	size_t lo, hi, cases = 0;

	if (!CHECK(section(5, &lo, &hi)))
		return;
	for (size_t i = lo; i < hi; i++) {
		const char *s = skip_blanks(vec_lines[i]), *k, *in;
		uint8_t key[32] = { 0 }, input[64], want[3][32], out[3][32], ck[32], prk[32], idx;
		size_t key_len, in_len, end;

		if (strncmp(s, "key=", 4) != 0)
			continue;
		cases++;
		k = s + 4;
		in = strstr(s, "input=");
		if (!CHECK(in != NULL))
			continue;
		key_len = test_unhex(key, sizeof(key), k);
		in_len = test_unhex(input, sizeof(input), in + 6);
		/* "" is the empty string; anything else must have parsed as hex. */
		CHECK(key_len > 0 || strncmp(k, "\"\"", 2) == 0);
		CHECK(in_len > 0 || strncmp(in + 6, "\"\"", 2) == 0);
		for (end = i + 1; end < hi; end++)
			if (strncmp(skip_blanks(vec_lines[end]), "key=", 4) == 0)
				break;
		for (int t = 0; t < 3; t++) {
			char label[4] = { 't', (char)('0' + t), '\0' };
			const char *v = find_value(i + 1, end, label, '=', 0);
			CHECK(v != NULL && test_unhex(want[t], 32, v) == 32);
		}

		kdf(out[0], out[1], out[2], key, input, in_len);
		CHECK_MEM(out[0], want[0], 32);
		CHECK_MEM(out[1], want[1], 32);
		CHECK_MEM(out[2], want[2], 32);

		/* KDF1 and KDF2 are prefixes of KDF3. */
		memset(out, 0, sizeof(out));
		kdf(out[0], NULL, NULL, key, input, in_len);
		CHECK_MEM(out[0], want[0], 32);
		kdf(NULL, out[1], NULL, key, input, in_len);
		CHECK_MEM(out[1], want[1], 32);
		kdf(NULL, NULL, out[2], key, input, in_len);
		CHECK_MEM(out[2], want[2], 32);

		/* Noise's "ck, k = KDF2(ck, dh)": the output may alias ck or in. */
		memcpy(ck, key, 32);
		kdf(ck, out[1], NULL, ck, input, in_len);
		CHECK_MEM(ck, want[0], 32);
		CHECK_MEM(out[1], want[1], 32);

		/* The same chain spelled out with hmac_blake2s and the original
		 * (unpadded) key length. */
		hmac_blake2s(prk, key, key_len, input, in_len);
		idx = 1;
		hmac_blake2s(out[0], prk, 32, &idx, 1);
		CHECK_MEM(out[0], want[0], 32);
		{
			uint8_t m[33];
			memcpy(m, out[0], 32);
			m[32] = 2;
			hmac_blake2s(out[1], prk, 32, m, 33);
			CHECK_MEM(out[1], want[1], 32);
		}
	}
	CHECK(cases == 3);
}

/* ------------------------------------------------------------------------
 * 6. WireGuard constants */

static void test_wireguard_constants(void)
{
	char construction[64], identifier[64], label_mac1[16];
	uint8_t c0[32], h0[32], mac1_key[32], out[32], peer[32];

	CHECK(vec_quoted(construction, sizeof(construction), 6, "CONSTRUCTION") == 37);
	CHECK(vec_quoted(identifier, sizeof(identifier), 6, "IDENTIFIER") == 34);
	CHECK(vec_quoted(label_mac1, sizeof(label_mac1), 6, "LABEL_MAC1") == 8);
	CHECK(vec_hex(c0, 32, 6, "InitialChainKey", '=', 0) == 32);
	CHECK(vec_hex(h0, 32, 6, "InitialHash", '=', 0) == 32);
	CHECK(vec_hex(mac1_key, 32, 6, "mac1 key for a peer whose public key is 42*32", '=', 0) == 32);

	blake2s256(out, (const uint8_t *)construction, strlen(construction), NULL, 0);
	CHECK_MEM(out, c0, 32);
	blake2s256(out, c0, 32, (const uint8_t *)identifier, strlen(identifier));
	CHECK_MEM(out, h0, 32);
	/* "42*32": the file's values are hex unless stated, so 32 bytes of 0x42. */
	memset(peer, 0x42, sizeof(peer));
	blake2s256(out, (const uint8_t *)label_mac1, strlen(label_mac1), peer, sizeof(peer));
	CHECK_MEM(out, mac1_key, 32);
}

/* ------------------------------------------------------------------------
 * Constant-time helpers */

static void test_ct_helpers(void)
{
	uint8_t a[33] = { 0 }, b[33] = { 0 };

	CHECK(crypto_is_zero(a, sizeof(a)));
	CHECK(crypto_is_zero(a, 0));
	CHECK(crypto_equal(a, b, sizeof(a)));
	for (size_t i = 0; i < sizeof(a); i++) {
		for (int bit = 0; bit < 8; bit++) {
			a[i] = (uint8_t)(1 << bit);
			CHECK(!crypto_is_zero(a, sizeof(a)));
			CHECK(!crypto_equal(a, b, sizeof(a)));
		}
		a[i] = 0;
	}
	memset(a, 0x5a, sizeof(a));
	crypto_wipe(a, sizeof(a));
	CHECK(crypto_is_zero(a, sizeof(a)));
}

int main(void)
{
	vec_load();
	RUN(test_x25519_rfc7748);
	RUN(test_x25519_iterated);
	RUN(test_x25519_dh);
	RUN(test_x25519_kernel_case);
	RUN(test_x25519_low_order);
	RUN(test_x25519_clamp);
	RUN(test_aead_rfc8439_seal);
	RUN(test_aead_rfc8439_open);
	RUN(test_aead_tamper);
	RUN(test_aead_counter_nonce);
	RUN(test_aead_transport_vectors);
	RUN(test_hchacha20);
	RUN(test_xaead);
	RUN(test_blake2s);
	RUN(test_blake2s_mac);
	RUN(test_hmac_blake2s);
	RUN(test_kdf);
	RUN(test_wireguard_constants);
	RUN(test_ct_helpers);
	free(vec_lines);
	free(vec_buf);
	return test_finish("test_crypto");
}
