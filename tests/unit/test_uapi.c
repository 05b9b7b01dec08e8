/* The UAPI (src/roamd/uapi.c, uapi_buf.c, uapi_conn.c; docs/protocol.md §7): exact get
 * text, every set key against a real device, the requests `wg` is known to
 * send, every class of invalid input (which must change nothing at all),
 * a huge request, and the connection framing fed in every split.
 *
 * Linked against libroamd; uapi_buf.c and uapi_conn.c are included for
 * their internals under test (buf_poison, struct uapi_conn). */
#include "../../src/roamd/uapi_buf.c"
#include "../../src/roamd/uapi_conn.c"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <time.h>

#include "crypto.h"
#include "test.h"
#include "uapi.h"
#include "uapi_contract.h"

/* ---- a device with deterministic I/O ----------------------------------- */

/* 1,795,599,325.657311814 s: the observed wireguard-go handshake time of docs/protocol.md §7.3. */
#define WALL_NS UINT64_C(1795599325657311814)

struct test_io {
	uint64_t rng;
	/* Datagrams the device sent, for the two-device handshake case. */
	uint8_t sent[8][256];
	size_t sent_len[8];
	int sent_count;
};

static void io_random(void *ctx, void *buf, size_t len)
{
	struct test_io *t = ctx;
	uint8_t *p = buf;

	for (size_t i = 0; i < len; i++) {
		/* xorshift64: deterministic and good enough for test keys. */
		t->rng ^= t->rng << 13;
		t->rng ^= t->rng >> 7;
		t->rng ^= t->rng << 17;
		p[i] = (uint8_t)t->rng;
	}
}

static uint64_t io_wall(void *ctx)
{
	(void)ctx;
	return WALL_NS;
}

static void io_send(void *ctx, struct peer *peer, const struct endpoint *to, uint8_t *data, size_t len)
{
	struct test_io *t = ctx;

	(void)peer, (void)to;
	if (t->sent_count < 8 && len <= sizeof(t->sent[0])) {
		memcpy(t->sent[t->sent_count], data, len);
		t->sent_len[t->sent_count++] = len;
	}
}

static void io_deliver(void *ctx, struct peer *peer, uint8_t *data, size_t len)
{
	(void)ctx, (void)peer, (void)data, (void)len;
}

/* ---- a fake daemon ------------------------------------------------------ */

struct fake_host {
	uint16_t port, pending;
	uint32_t mark;
	int fail_prepare, fail_fwmark;	/* returned when non-zero */
	int prepare_calls, commits, aborts, fwmark_calls;
	uint16_t last_requested;
	uint64_t now;
};

static int fh_prepare(void *ctx, uint16_t port, uint16_t *bound)
{
	struct fake_host *h = ctx;

	h->prepare_calls++;
	h->last_requested = port;
	if (h->fail_prepare)
		return h->fail_prepare;
	/* 0 means "any": pretend the kernel picked one. */
	h->pending = port ? port : (uint16_t)(40000 + h->prepare_calls);
	*bound = h->pending;
	return 0;
}

static void fh_commit(void *ctx, bool commit)
{
	struct fake_host *h = ctx;

	if (commit) {
		h->commits++;
		h->port = h->pending;
	} else {
		h->aborts++;
	}
	h->pending = 0;
}

static uint16_t fh_listen_port(void *ctx)
{
	return ((struct fake_host *)ctx)->port;
}

static int fh_set_fwmark(void *ctx, uint32_t mark)
{
	struct fake_host *h = ctx;

	h->fwmark_calls++;
	if (h->fail_fwmark)
		return h->fail_fwmark;
	h->mark = mark;
	return 0;
}

static uint32_t fh_fwmark(void *ctx)
{
	return ((struct fake_host *)ctx)->mark;
}

static uint64_t fh_now(void *ctx)
{
	return ((struct fake_host *)ctx)->now;
}

struct fixture {
	struct test_io io;
	struct fake_host fh;
	struct uapi_host host;
	struct device *dev;
};

static void fixture_init(struct fixture *f, uint64_t seed)
{
	memset(f, 0, sizeof(*f));
	f->io.rng = seed ? seed : 1;
	f->fh.now = 1000000000;
	struct device_io io = {
		.ctx = &f->io, .send = io_send, .deliver = io_deliver, .random = io_random, .wall_ns = io_wall,
	};
	f->host = (struct uapi_host){
		.ctx = &f->fh,
		.prepare_listen_port = fh_prepare,
		.commit_listen_port = fh_commit,
		.listen_port = fh_listen_port,
		.set_fwmark = fh_set_fwmark,
		.fwmark = fh_fwmark,
		.now = fh_now,
	};
	f->dev = device_new(&io);
	if (!f->dev) {
		fprintf(stderr, "device_new failed\n");
		exit(2);
	}
}

static void fixture_free(struct fixture *f)
{
	device_free(f->dev);
}

/* ---- helpers ------------------------------------------------------------ */

/* Fixed test identities: key n's clamped private and public halves. */
struct key {
	uint8_t priv[32], pub[32];
	char priv_hex[65], pub_hex[65];
};

static void to_hex(char out[65], const uint8_t k[32])
{
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", k[i]);
}

static struct key make_key(int n)
{
	struct key k;

	for (int i = 0; i < 32; i++)
		k.priv[i] = (uint8_t)(n * 37 + i * 11 + 5);
	x25519_clamp(k.priv);
	if (!x25519_public_from_private(k.pub, k.priv)) {
		fprintf(stderr, "x25519 failed\n");
		exit(2);
	}
	to_hex(k.priv_hex, k.priv);
	to_hex(k.pub_hex, k.pub);
	return k;
}

static const char ZERO_HEX[] = "0000000000000000000000000000000000000000000000000000000000000000";

/* The whole get reply as a C string (freed by the caller). */
static char *get_text(struct fixture *f)
{
	struct uapi_buf out = {0};

	uapi_get(f->dev, &f->host, false, &out);
	if (!out.data) {
		fprintf(stderr, "uapi_get produced nothing\n");
		exit(2);
	}
	return out.data;
}

static int set(struct fixture *f, const char *body)
{
	return uapi_set(f->dev, &f->host, body, strlen(body));
}

/* A growing string for building requests and expected replies. */
struct text {
	char *s;
	size_t len, cap;
};

static void __attribute__((format(printf, 2, 3))) tprintf(struct text *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (t->len + (size_t)n + 1 > t->cap) {
		t->cap = (t->len + (size_t)n + 1) * 2;
		t->s = realloc(t->s, t->cap);
		if (!t->s)
			exit(2);
	}
	va_start(ap, fmt);
	vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
	va_end(ap);
	t->len += (size_t)n;
}

/* Compares and, on mismatch, shows both texts so the diff is readable. */
static void check_text(const char *got, const char *want, int line)
{
	if (!test_check(strcmp(got, want) == 0, "get text matches", __FILE__, line))
		fprintf(stderr, "--- want:\n%s--- got:\n%s---\n", want, got);
}
#define CHECK_TEXT(got, want) check_text((got), (want), __LINE__)

static struct peer *lookup(struct fixture *f, const struct key *k)
{
	return device_peer_lookup(f->dev, k->pub);
}

static struct peer *route(struct fixture *f, const char *ip)
{
	uint8_t a[16];
	int family = strchr(ip, ':') ? AF_INET6 : AF_INET;

	if (inet_pton(family, ip, a) != 1)
		exit(2);
	return device_route_lookup(f->dev, family, a);
}

static bool quick(void)
{
	const char *q = getenv("ROAM_TEST_QUICK");
	return q && strcmp(q, "1") == 0;
}

/* ---- the output buffer -------------------------------------------------- */

static void test_buf(void)
{
	struct uapi_buf buf = {0};
	char big[1000];

	/* Lines longer than the first guess, and growth over many lines. */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	uapi_buf_printf(&buf, "a=%s\n", big);
	CHECK(buf.data && buf.len == 1002 && buf.data[1002] == '\0');
	for (int i = 0; i < 10000; i++)
		uapi_buf_printf(&buf, "n=%d\n", i);
	CHECK(buf.len > 1002 + 10000 * 4 && strcmp(buf.data + buf.len - 7, "n=9999\n") == 0);
	CHECK(strncmp(buf.data + 1002, "n=0\nn=1\n", 8) == 0);

	/* Once an append fails the buffer stays empty: a reply missing a
	 * line in the middle must never look complete. */
	buf_poison(&buf);
	uapi_buf_printf(&buf, "errno=0\n\n");
	CHECK(buf.data == NULL && buf.len == 0);
	uapi_buf_free(&buf);
	uapi_buf_printf(&buf, "ok\n");
	CHECK(buf.data && strcmp(buf.data, "ok\n") == 0);
	uapi_buf_free(&buf);
	CHECK(buf.data == NULL && buf.len == 0 && buf.cap == 0);
}

/* ---- get ---------------------------------------------------------------- */

static void test_get_empty_device(void)
{
	struct fixture f;
	fixture_init(&f, 1);
	char *got = get_text(&f);
	CHECK_TEXT(got, "errno=0\n\n");
	free(got);
	fixture_free(&f);
}

/* Configured through device.h directly, so get is checked on its own. */
static void test_get_exact_text(void)
{
	struct fixture f;
	struct key me = make_key(1), a = make_key(2), b = make_key(3);
	struct endpoint ep;
	uint8_t psk[32], addr[16];
	int err;

	fixture_init(&f, 2);
	device_set_private_key(f.dev, me.priv, 0);
	f.fh.port = 51820;
	f.fh.mark = 4660;
	struct peer *pa = device_peer_create(f.dev, a.pub, 0, &err);
	struct peer *pb = device_peer_create(f.dev, b.pub, 0, &err);
	CHECK(pa && pb);
	memset(psk, 0xab, sizeof(psk));
	peer_set_preshared_key(pa, psk);
	inet_pton(AF_INET6, "fe80::1", addr);
	endpoint_from_bytes(&ep, AF_INET6, addr, 51821);
	ep.addr.in6.sin6_scope_id = 3;
	peer_set_endpoint(pa, &ep);
	peer_set_persistent_keepalive(pa, 25, 0);
	inet_pton(AF_INET, "198.51.100.99", addr);
	peer_allowedips_insert(pa, AF_INET, addr, 24); /* host bits set */
	inet_pton(AF_INET6, "fd00::1234", addr);
	peer_allowedips_insert(pa, AF_INET6, addr, 64);
	inet_pton(AF_INET, "198.18.99.2", addr);
	peer_allowedips_insert(pa, AF_INET, addr, 32);
	inet_pton(AF_INET, "127.0.0.1", addr);
	endpoint_from_bytes(&ep, AF_INET, addr, 53856);
	peer_set_endpoint(pb, &ep);
	inet_pton(AF_INET, "0.0.0.0", addr);
	peer_allowedips_insert(pb, AF_INET, addr, 0);
	inet_pton(AF_INET6, "::", addr);
	peer_allowedips_insert(pb, AF_INET6, addr, 0);

	struct text want = {0};
	tprintf(&want, "private_key=%s\nlisten_port=51820\nfwmark=4660\n", me.priv_hex);
	tprintf(&want,
		"public_key=%s\npreshared_key=%s\nprotocol_version=1\nendpoint=[fe80::1%%3]:51821\n"
		"last_handshake_time_sec=0\nlast_handshake_time_nsec=0\ntx_bytes=0\nrx_bytes=0\n"
		"persistent_keepalive_interval=25\n"
		"allowed_ip=198.51.100.0/24\nallowed_ip=fd00::/64\nallowed_ip=198.18.99.2/32\n",
		a.pub_hex, "abababababababababababababababababababababababababababababababab");
	tprintf(&want,
		"public_key=%s\npreshared_key=%s\nprotocol_version=1\nendpoint=127.0.0.1:53856\n"
		"last_handshake_time_sec=0\nlast_handshake_time_nsec=0\ntx_bytes=0\nrx_bytes=0\n"
		"persistent_keepalive_interval=0\nallowed_ip=0.0.0.0/0\nallowed_ip=::/0\n",
		b.pub_hex, ZERO_HEX);
	tprintf(&want, "errno=0\n\n");
	char *got = get_text(&f);
	CHECK_TEXT(got, want.s);
	free(got);

	/* No private key, port or mark: those lines disappear. */
	device_set_private_key(f.dev, NULL, 0);
	f.fh.port = 0;
	f.fh.mark = 0;
	device_peer_remove(f.dev, pa);
	want.len = 0;
	tprintf(&want,
		"public_key=%s\npreshared_key=%s\nprotocol_version=1\nendpoint=127.0.0.1:53856\n"
		"last_handshake_time_sec=0\nlast_handshake_time_nsec=0\ntx_bytes=0\nrx_bytes=0\n"
		"persistent_keepalive_interval=0\nallowed_ip=0.0.0.0/0\nallowed_ip=::/0\nerrno=0\n\n",
		b.pub_hex, ZERO_HEX);
	got = get_text(&f);
	CHECK_TEXT(got, want.s);
	free(got);
	free(want.s);
	fixture_free(&f);
}

/* Moves the datagrams one device sent into the other. */
static int pump(struct fixture *from, struct fixture *to, const char *from_ip, uint16_t from_port)
{
	int moved = 0;
	uint8_t addr[4], buf[512];
	struct endpoint ep;

	inet_pton(AF_INET, from_ip, addr);
	endpoint_from_bytes(&ep, AF_INET, addr, from_port);
	for (int i = 0; i < from->io.sent_count; i++) {
		memcpy(buf, from->io.sent[i], from->io.sent_len[i]);
		device_receive(to->dev, &ep, buf, from->io.sent_len[i], to->fh.now);
		moved++;
	}
	from->io.sent_count = 0;
	return moved;
}

/* A real handshake between two devices, so get reports a handshake time,
 * byte counts, and an endpoint learnt from the network. */
static void test_get_after_handshake(void)
{
	struct fixture a, b;
	struct key ka = make_key(10), kb = make_key(11);
	struct text req = {0};

	fixture_init(&a, 3);
	fixture_init(&b, 4);
	tprintf(&req, "private_key=%s\npublic_key=%s\nendpoint=127.0.0.2:2\nallowed_ip=198.18.0.2/32\n", ka.priv_hex,
		kb.pub_hex);
	CHECK(set(&a, req.s) == 0);
	req.len = 0;
	tprintf(&req, "private_key=%s\npublic_key=%s\nallowed_ip=198.18.0.1/32\n", kb.priv_hex, ka.pub_hex);
	CHECK(set(&b, req.s) == 0);
	free(req.s);
	device_up(a.dev, a.fh.now);
	device_up(b.dev, b.fh.now);
	peer_send_keepalive_now(lookup(&a, &kb), a.fh.now);
	for (int round = 0; round < 10; round++) {
		int moved = pump(&a, &b, "127.0.0.1", 1);
		moved += pump(&b, &a, "127.0.0.2", 2);
		if (!moved)
			break;
	}

	struct peer_info ia, ib;
	peer_get_info(lookup(&a, &kb), &ia);
	peer_get_info(lookup(&b, &ka), &ib);
	CHECK(ia.last_handshake_wall_ns == WALL_NS);
	CHECK(ia.rx_bytes >= 92 && ia.tx_bytes >= 148);

	struct text want = {0};
	tprintf(&want,
		"private_key=%s\npublic_key=%s\npreshared_key=%s\nprotocol_version=1\nendpoint=127.0.0.2:2\n"
		"last_handshake_time_sec=1795599325\nlast_handshake_time_nsec=657311814\n"
		"tx_bytes=%llu\nrx_bytes=%llu\npersistent_keepalive_interval=0\nallowed_ip=198.18.0.2/32\nerrno=0\n\n",
		ka.priv_hex, kb.pub_hex, ZERO_HEX, (unsigned long long)ia.tx_bytes, (unsigned long long)ia.rx_bytes);
	char *got = get_text(&a);
	CHECK_TEXT(got, want.s);
	free(got);

	/* b learnt a's endpoint from the initiation. */
	want.len = 0;
	tprintf(&want,
		"private_key=%s\npublic_key=%s\npreshared_key=%s\nprotocol_version=1\nendpoint=127.0.0.1:1\n"
		"last_handshake_time_sec=%llu\nlast_handshake_time_nsec=%llu\n"
		"tx_bytes=%llu\nrx_bytes=%llu\npersistent_keepalive_interval=0\nallowed_ip=198.18.0.1/32\nerrno=0\n\n",
		kb.priv_hex, ka.pub_hex, ZERO_HEX, (unsigned long long)(ib.last_handshake_wall_ns / 1000000000u),
		(unsigned long long)(ib.last_handshake_wall_ns % 1000000000u), (unsigned long long)ib.tx_bytes,
		(unsigned long long)ib.rx_bytes);
	got = get_text(&b);
	CHECK_TEXT(got, want.s);
	CHECK(ib.rx_bytes >= 148 && ib.tx_bytes >= 92);
	free(got);
	free(want.s);
	fixture_free(&a);
	fixture_free(&b);
}

/* UAPI changes to a device that is up, with live sessions and armed
 * timers: what the daemon does all day. Mostly for the sanitizers. */
static void test_set_on_live_device(void)
{
	struct fixture a, b;
	struct key ka = make_key(10), kb = make_key(11), ka2 = make_key(12), kc = make_key(13);
	struct text req = {0};

	fixture_init(&a, 30);
	fixture_init(&b, 31);
	tprintf(&req, "private_key=%s\npublic_key=%s\nendpoint=127.0.0.2:2\nallowed_ip=198.18.0.2/32\n", ka.priv_hex,
		kb.pub_hex);
	CHECK(set(&a, req.s) == 0);
	req.len = 0;
	tprintf(&req, "private_key=%s\npublic_key=%s\nallowed_ip=198.18.0.1/32\n", kb.priv_hex, ka.pub_hex);
	CHECK(set(&b, req.s) == 0);
	device_up(a.dev, a.fh.now);
	device_up(b.dev, b.fh.now);
	peer_send_keepalive_now(lookup(&a, &kb), a.fh.now);
	for (int round = 0; round < 10; round++)
		if (!(pump(&a, &b, "127.0.0.1", 1) + pump(&b, &a, "127.0.0.2", 2)))
			break;
	struct peer_info info;
	peer_get_info(lookup(&a, &kb), &info);
	CHECK(info.has_current_keypair);

	/* Keepalive on while up: one goes out at once. */
	a.io.sent_count = 0;
	req.len = 0;
	tprintf(&req, "public_key=%s\npersistent_keepalive_interval=1\n", kb.pub_hex);
	CHECK(set(&a, req.s) == 0);
	CHECK(a.io.sent_count == 1);

	/* A new identity: the live session is dropped and a new initiation
	 * starts under the new key (b does not know it, so it fails). */
	a.io.sent_count = 0;
	a.fh.now += 6000000000ull; /* past REKEY_TIMEOUT */
	req.len = 0;
	tprintf(&req, "private_key=%s\n", ka2.priv_hex);
	CHECK(set(&a, req.s) == 0);
	CHECK(a.io.sent_count == 1 && a.io.sent_len[0] == 148);
	pump(&a, &b, "127.0.0.1", 1);

	/* Timers run across peers being replaced and removed. */
	for (int step = 0; step < 200; step++) {
		a.fh.now += 500000000ull;
		if (step == 20) {
			req.len = 0;
			tprintf(&req, "replace_peers=true\npublic_key=%s\nendpoint=127.0.0.3:3\n"
				"persistent_keepalive_interval=1\nallowed_ip=0.0.0.0/0\n", kc.pub_hex);
			CHECK(set(&a, req.s) == 0);
		}
		if (step == 60) {
			req.len = 0;
			tprintf(&req, "public_key=%s\nremove=true\n", kc.pub_hex);
			CHECK(set(&a, req.s) == 0);
		}
		if (step == 80) {
			req.len = 0;
			tprintf(&req, "public_key=%s\nendpoint=127.0.0.2:2\npersistent_keepalive_interval=2\n",
				kb.pub_hex);
			CHECK(set(&a, req.s) == 0);
		}
		if (step == 120)
			CHECK(set(&a, "private_key=" "0000000000000000000000000000000000000000000000000000000000000000\n") == 0);
		if (device_next_deadline(a.dev) <= a.fh.now)
			device_run_timers(a.dev, a.fh.now);
		a.io.sent_count = 0;
	}
	CHECK(device_peer_count(a.dev) == 1 && lookup(&a, &kc) == NULL && lookup(&a, &kb) != NULL);
	free(req.s);
	fixture_free(&a);
	fixture_free(&b);
}

/* ---- set ---------------------------------------------------------------- */

static void test_set_each_key(void)
{
	struct fixture f;
	struct key me = make_key(1), a = make_key(2), me2 = make_key(4);
	struct text req = {0};
	uint8_t key[32];
	struct peer_info info;

	fixture_init(&f, 5);

	tprintf(&req, "private_key=%s\n", me.priv_hex);
	CHECK(set(&f, req.s) == 0);
	CHECK(device_public_key(f.dev, key) && memcmp(key, me.pub, 32) == 0);

	/* Upper-case hex is accepted, and an unclamped key is clamped. */
	uint8_t raw[32];
	char upper[65];
	memcpy(raw, me2.priv, 32);
	raw[0] |= 7;
	raw[31] |= 0x80;
	to_hex(upper, raw);
	for (char *c = upper; *c; c++)
		if (*c >= 'a' && *c <= 'f')
			*c = (char)(*c - 'a' + 'A');
	req.len = 0;
	tprintf(&req, "private_key=%s\n", upper);
	CHECK(set(&f, req.s) == 0);
	CHECK(device_private_key(f.dev, key) && memcmp(key, me2.priv, 32) == 0);

	CHECK(set(&f, "listen_port=51820\n") == 0);
	CHECK(f.fh.port == 51820 && f.fh.prepare_calls == 1 && f.fh.commits == 1);
	/* The port we hold already: nothing to rebind. */
	CHECK(set(&f, "listen_port=51820\n") == 0);
	CHECK(f.fh.prepare_calls == 1);
	/* 0 asks for a random port. */
	CHECK(set(&f, "listen_port=0\n") == 0);
	CHECK(f.fh.prepare_calls == 2 && f.fh.last_requested == 0 && f.fh.port == 40002);
	CHECK(set(&f, "listen_port=65535\n") == 0 && f.fh.port == 65535);

	CHECK(set(&f, "fwmark=4294967295\n") == 0 && f.fh.mark == UINT32_MAX);
	CHECK(set(&f, "fwmark=0\n") == 0 && f.fh.mark == 0);
	int calls = f.fh.fwmark_calls;
	CHECK(set(&f, "fwmark=0\n") == 0 && f.fh.fwmark_calls == calls); /* unchanged */

	/* A peer and each of its keys. */
	req.len = 0;
	tprintf(&req,
		"public_key=%s\npreshared_key=%s\nendpoint=192.0.2.1:51821\npersistent_keepalive_interval=25\n"
		"allowed_ip=198.18.1.0/24\nprotocol_version=1\n",
		a.pub_hex, "0101010101010101010101010101010101010101010101010101010101010101");
	CHECK(set(&f, req.s) == 0);
	struct peer *p = lookup(&f, &a);
	if (!CHECK(p != NULL)) {
		free(req.s);
		fixture_free(&f);
		return;
	}
	peer_get_info(p, &info);
	memset(key, 1, 32);
	uint8_t psk[32];
	CHECK(peer_get_preshared_key(p, psk) && memcmp(psk, key, 32) == 0);
	CHECK(info.endpoint.addr.sa.sa_family == AF_INET && endpoint_port(&info.endpoint) == 51821);
	CHECK(info.persistent_keepalive == 25);
	CHECK(route(&f, "198.18.1.35") == p);

	/* preshared_key all-zero = none; keepalive 0 = off; IPv6 endpoints. */
	req.len = 0;
	tprintf(&req,
		"public_key=%s\npreshared_key=%s\npersistent_keepalive_interval=0\nendpoint=[2001:db8::1]:7\n",
		a.pub_hex, ZERO_HEX);
	CHECK(set(&f, req.s) == 0);
	peer_get_info(p, &info);
	CHECK(!peer_get_preshared_key(p, psk) && crypto_is_zero(psk, 32));
	CHECK(info.persistent_keepalive == 0);
	CHECK(info.endpoint.addr.sa.sa_family == AF_INET6 && endpoint_port(&info.endpoint) == 7 &&
	      info.endpoint.addr.in6.sin6_scope_id == 0);

	/* A zone by number, and by interface name (`wg` sends names). */
	req.len = 0;
	tprintf(&req, "public_key=%s\nendpoint=[fe80::1%%7]:51820\n", a.pub_hex);
	CHECK(set(&f, req.s) == 0);
	peer_get_info(p, &info);
	CHECK(info.endpoint.addr.in6.sin6_scope_id == 7);
	unsigned lo = if_nametoindex("lo");
	if (lo) {
		req.len = 0;
		tprintf(&req, "public_key=%s\nendpoint=[fe80::1%%lo]:51820\n", a.pub_hex);
		CHECK(set(&f, req.s) == 0);
		peer_get_info(p, &info);
		CHECK(info.endpoint.addr.in6.sin6_scope_id == lo);
		char *got = get_text(&f);
		char want[64];
		snprintf(want, sizeof(want), "endpoint=[fe80::1%%%u]:51820\n", lo);
		CHECK(strstr(got, want) != NULL); /* numeric on the way out */
		free(got);
	}

	/* replace_allowed_ips, then new ones. */
	req.len = 0;
	tprintf(&req, "public_key=%s\nreplace_allowed_ips=true\nallowed_ip=198.18.2.0/24\nallowed_ip=fd00::/8\n",
		a.pub_hex);
	CHECK(set(&f, req.s) == 0);
	CHECK(route(&f, "198.18.1.35") == NULL);
	CHECK(route(&f, "198.18.2.35") == p);
	CHECK(route(&f, "fd12::1") == p);

	/* An empty request changes nothing and succeeds. */
	char *before = get_text(&f);
	CHECK(set(&f, "") == 0);
	char *after = get_text(&f);
	CHECK_TEXT(after, before);
	free(before);
	free(after);

	/* replace_peers empties the device. */
	CHECK(set(&f, "replace_peers=true\n") == 0);
	CHECK(device_peer_count(f.dev) == 0);
	CHECK(route(&f, "198.18.2.35") == NULL);
	free(req.s);
	fixture_free(&f);
}

/* The `wg setconf` request captured in docs/protocol.md §7.4, then its get. */
static void test_setconf_capture(void)
{
	struct fixture f;
	struct key me = make_key(1), a = make_key(2), b = make_key(3), old = make_key(5);
	struct text req = {0}, want = {0};
	const char *psk = "7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a";

	fixture_init(&f, 6);
	/* Something to replace. */
	req.len = 0;
	tprintf(&req, "public_key=%s\nallowed_ip=198.18.99.2/32\n", old.pub_hex);
	CHECK(set(&f, req.s) == 0);

	req.len = 0;
	tprintf(&req,
		"private_key=%s\nlisten_port=51820\nfwmark=4660\nreplace_peers=true\n"
		"public_key=%s\npreshared_key=%s\nendpoint=[::1]:51821\npersistent_keepalive_interval=25\n"
		"replace_allowed_ips=true\nallowed_ip=198.18.99.2/32\nallowed_ip=fd00::2/128\nallowed_ip=198.18.200.0/24\n"
		"public_key=%s\nendpoint=127.0.0.1:51822\nreplace_allowed_ips=true\n",
		me.priv_hex, a.pub_hex, psk, b.pub_hex);
	CHECK(set(&f, req.s) == 0);
	CHECK(lookup(&f, &old) == NULL);
	CHECK(device_peer_count(f.dev) == 2);

	tprintf(&want, "private_key=%s\nlisten_port=51820\nfwmark=4660\n", me.priv_hex);
	tprintf(&want,
		"public_key=%s\npreshared_key=%s\nprotocol_version=1\nendpoint=[::1]:51821\n"
		"last_handshake_time_sec=0\nlast_handshake_time_nsec=0\ntx_bytes=0\nrx_bytes=0\n"
		"persistent_keepalive_interval=25\n"
		"allowed_ip=198.18.99.2/32\nallowed_ip=fd00::2/128\nallowed_ip=198.18.200.0/24\n",
		a.pub_hex, psk);
	tprintf(&want,
		"public_key=%s\npreshared_key=%s\nprotocol_version=1\nendpoint=127.0.0.1:51822\n"
		"last_handshake_time_sec=0\nlast_handshake_time_nsec=0\ntx_bytes=0\nrx_bytes=0\n"
		"persistent_keepalive_interval=0\nerrno=0\n\n",
		b.pub_hex, ZERO_HEX);
	char *got = get_text(&f);
	CHECK_TEXT(got, want.s);
	free(got);

	/* The same request again is idempotent (port and mark unchanged). */
	CHECK(set(&f, req.s) == 0);
	got = get_text(&f);
	CHECK_TEXT(got, want.s);
	free(got);
	free(req.s);
	free(want.s);
	fixture_free(&f);
}

/* `wg setconf` of a file without [Interface] keys (docs/protocol.md §7.4). */
static void test_setconf_without_interface(void)
{
	struct fixture f;
	struct key me = make_key(1), a = make_key(2), b = make_key(3);
	struct text req = {0}, want = {0};

	fixture_init(&f, 7);
	tprintf(&req, "private_key=%s\nlisten_port=51820\nfwmark=4660\npublic_key=%s\nallowed_ip=198.18.0.2/32\n",
		me.priv_hex, a.pub_hex);
	CHECK(set(&f, req.s) == 0);

	req.len = 0;
	tprintf(&req,
		"private_key=%s\nlisten_port=0\nfwmark=0\nreplace_peers=true\n"
		"public_key=%s\nreplace_allowed_ips=true\nallowed_ip=198.18.0.3/32\n",
		ZERO_HEX, b.pub_hex);
	CHECK(set(&f, req.s) == 0);
	uint8_t key[32];
	CHECK(!device_private_key(f.dev, key));
	CHECK(f.fh.last_requested == 0 && f.fh.port != 0 && f.fh.port != 51820); /* a random port */
	CHECK(f.fh.mark == 0);
	CHECK(lookup(&f, &a) == NULL && lookup(&f, &b) != NULL);
	CHECK(route(&f, "198.18.0.2") == NULL);

	tprintf(&want,
		"listen_port=%u\npublic_key=%s\npreshared_key=%s\nprotocol_version=1\n"
		"last_handshake_time_sec=0\nlast_handshake_time_nsec=0\ntx_bytes=0\nrx_bytes=0\n"
		"persistent_keepalive_interval=0\nallowed_ip=198.18.0.3/32\nerrno=0\n\n",
		f.fh.port, b.pub_hex, ZERO_HEX);
	char *got = get_text(&f);
	CHECK_TEXT(got, want.s);
	free(got);
	free(req.s);
	free(want.s);
	fixture_free(&f);
}

static void test_remove(void)
{
	struct fixture f;
	struct key a = make_key(2), b = make_key(3), c = make_key(6);
	struct text req = {0};

	fixture_init(&f, 8);
	tprintf(&req, "public_key=%s\nallowed_ip=198.18.0.2/32\npublic_key=%s\nallowed_ip=198.18.0.3/32\n", a.pub_hex,
		b.pub_hex);
	CHECK(set(&f, req.s) == 0);

	req.len = 0;
	tprintf(&req, "public_key=%s\nremove=true\n", a.pub_hex);
	CHECK(set(&f, req.s) == 0);
	CHECK(lookup(&f, &a) == NULL && lookup(&f, &b) != NULL);
	CHECK(route(&f, "198.18.0.2") == NULL);
	CHECK(route(&f, "198.18.0.3") == lookup(&f, &b));

	/* Removing a peer that does not exist is a no-op, errno 0 (observed with wireguard-go). */
	char *before = get_text(&f);
	req.len = 0;
	tprintf(&req, "public_key=%s\nremove=true\n", c.pub_hex);
	CHECK(set(&f, req.s) == 0);
	char *after = get_text(&f);
	CHECK_TEXT(after, before);
	free(before);
	free(after);

	/* A removed peer's other lines do nothing, even a prefix that
	 * another peer holds; later lines are still validated. */
	req.len = 0;
	tprintf(&req, "public_key=%s\nallowed_ip=198.18.0.3/32\nremove=true\nendpoint=1.2.3.4:5\n", c.pub_hex);
	CHECK(set(&f, req.s) == 0);
	CHECK(lookup(&f, &c) == NULL);
	CHECK(route(&f, "198.18.0.3") == lookup(&f, &b));
	req.len = 0;
	tprintf(&req, "public_key=%s\nremove=true\nendpoint=nonsense\n", b.pub_hex);
	CHECK(set(&f, req.s) == -EINVAL);
	CHECK(lookup(&f, &b) != NULL);

	/* Removed then re-added in one request: a fresh peer. */
	req.len = 0;
	tprintf(&req, "public_key=%s\nremove=true\npublic_key=%s\nallowed_ip=198.18.9.0/24\n", b.pub_hex, b.pub_hex);
	CHECK(set(&f, req.s) == 0);
	CHECK(lookup(&f, &b) != NULL);
	CHECK(route(&f, "198.18.0.3") == NULL && route(&f, "198.18.9.17") == lookup(&f, &b));
	free(req.s);
	fixture_free(&f);
}

static void test_update_only(void)
{
	struct fixture f;
	struct key a = make_key(2), b = make_key(3);
	struct text req = {0};

	fixture_init(&f, 9);
	tprintf(&req, "public_key=%s\nallowed_ip=198.18.0.2/32\n", a.pub_hex);
	CHECK(set(&f, req.s) == 0);

	/* Existing peer: updated. */
	req.len = 0;
	tprintf(&req, "public_key=%s\nupdate_only=true\npersistent_keepalive_interval=9\n", a.pub_hex);
	CHECK(set(&f, req.s) == 0);
	struct peer_info info;
	peer_get_info(lookup(&f, &a), &info);
	CHECK(info.persistent_keepalive == 9);

	/* Missing peer: neither created nor anything of its block applied,
	 * wherever update_only sits in the block. */
	req.len = 0;
	tprintf(&req, "public_key=%s\nallowed_ip=198.18.0.2/32\nupdate_only=true\n", b.pub_hex);
	CHECK(set(&f, req.s) == 0);
	CHECK(lookup(&f, &b) == NULL);
	CHECK(route(&f, "198.18.0.2") == lookup(&f, &a));
	CHECK(device_peer_count(f.dev) == 1);

	/* Created earlier in the same request: it exists by then. */
	req.len = 0;
	tprintf(&req, "public_key=%s\npublic_key=%s\nupdate_only=true\nallowed_ip=198.18.0.9/32\n", b.pub_hex,
		b.pub_hex);
	CHECK(set(&f, req.s) == 0);
	CHECK(lookup(&f, &b) != NULL && route(&f, "198.18.0.9") == lookup(&f, &b));

	CHECK(set(&f, "public_key=0000000000000000000000000000000000000000000000000000000000000001\n"
		      "update_only=yes\n") == -EINVAL);
	free(req.s);
	fixture_free(&f);
}

/* A prefix set on a second peer moves to it (docs/protocol.md §6), also within one request. */
static void test_allowed_ip_moves(void)
{
	struct fixture f;
	struct key a = make_key(2), b = make_key(3);
	struct text req = {0};

	fixture_init(&f, 10);
	tprintf(&req, "public_key=%s\nallowed_ip=198.18.99.2/32\nallowed_ip=198.18.99.3/32\n", a.pub_hex);
	CHECK(set(&f, req.s) == 0);
	req.len = 0;
	tprintf(&req, "public_key=%s\nallowed_ip=198.18.99.2/32\n", b.pub_hex);
	CHECK(set(&f, req.s) == 0);
	CHECK(route(&f, "198.18.99.2") == lookup(&f, &b));
	CHECK(route(&f, "198.18.99.3") == lookup(&f, &a));

	char *got = get_text(&f);
	char *pa = strstr(got, a.pub_hex), *pb = strstr(got, b.pub_hex);
	CHECK(pa && pb && pa < pb);
	/* Listed once, under b. */
	char *first = strstr(got, "allowed_ip=198.18.99.2/32\n");
	CHECK(first && first > pb && !strstr(first + 1, "allowed_ip=198.18.99.2/32\n"));
	free(got);

	/* Back and forth in one request: the last line wins. */
	req.len = 0;
	tprintf(&req, "public_key=%s\nallowed_ip=198.18.99.2/32\npublic_key=%s\nallowed_ip=198.18.99.2/32\n",
		a.pub_hex, b.pub_hex);
	CHECK(set(&f, req.s) == 0);
	CHECK(route(&f, "198.18.99.2") == lookup(&f, &b));
	free(req.s);
	fixture_free(&f);
}

/* `allowed_ip=-prefix` (tools HEAD, docs/protocol.md §7.4). */
static void test_allowed_ip_minus(void)
{
	struct fixture f;
	struct key a = make_key(2), b = make_key(3);
	struct text req = {0};

	fixture_init(&f, 11);
	tprintf(&req,
		"public_key=%s\nallowed_ip=198.18.0.0/16\nallowed_ip=198.18.1.0/24\nallowed_ip=fd00::/64\n"
		"public_key=%s\nallowed_ip=203.0.113.0/24\n",
		a.pub_hex, b.pub_hex);
	CHECK(set(&f, req.s) == 0);
	req.len = 0;
	/* Host bits in the removal are masked like on insert; removing a
	 * prefix the peer does not hold (b's, or absent) changes nothing. */
	tprintf(&req,
		"public_key=%s\nallowed_ip=-198.18.1.35/24\nallowed_ip=-fd00::1/64\nallowed_ip=-203.0.113.0/24\n"
		"allowed_ip=-198.19.0.0/16\nallowed_ip=+\n",
		a.pub_hex);
	/* '+' is not a thing: the whole request fails and nothing moves. */
	CHECK(set(&f, req.s) == -EINVAL);
	CHECK(route(&f, "198.18.1.1") != NULL);
	req.len -= strlen("allowed_ip=+\n");
	req.s[req.len] = '\0';
	CHECK(set(&f, req.s) == 0);
	CHECK(route(&f, "198.18.1.1") == lookup(&f, &a)); /* the /16 still covers it */
	CHECK(route(&f, "fd00::1") == NULL);
	CHECK(route(&f, "203.0.113.1") == lookup(&f, &b));
	char *got = get_text(&f);
	CHECK(strstr(got, "allowed_ip=198.18.1.0/24") == NULL);
	CHECK(strstr(got, "allowed_ip=198.18.0.0/16\n") != NULL);
	free(got);
	free(req.s);
	fixture_free(&f);
}

static void test_host_bits_masked(void)
{
	struct fixture f;
	struct key a = make_key(2);
	struct text req = {0}, want = {0};

	fixture_init(&f, 12);
	tprintf(&req,
		"public_key=%s\nallowed_ip=198.51.100.99/24\nallowed_ip=fd00::1234/64\nallowed_ip=198.18.1.35/0\n"
		"allowed_ip=fd00:1:2:3:4:5:6:7/127\nallowed_ip=::ffff:198.18.0.1/128\n",
		a.pub_hex);
	CHECK(set(&f, req.s) == 0);
	tprintf(&want,
		"public_key=%s\npreshared_key=%s\nprotocol_version=1\n"
		"last_handshake_time_sec=0\nlast_handshake_time_nsec=0\ntx_bytes=0\nrx_bytes=0\n"
		"persistent_keepalive_interval=0\nallowed_ip=198.51.100.0/24\nallowed_ip=fd00::/64\n"
		"allowed_ip=0.0.0.0/0\nallowed_ip=fd00:1:2:3:4:5:6:6/127\nallowed_ip=::ffff:198.18.0.1/128\n"
		"errno=0\n\n",
		a.pub_hex, ZERO_HEX);
	char *got = get_text(&f);
	CHECK_TEXT(got, want.s);
	free(got);
	free(req.s);
	free(want.s);
	fixture_free(&f);
}

/* Our own public key as a peer is ignored with its lines (docs/protocol.md §7.4), judged
 * against the key this very request installs. */
static void test_own_key_ignored(void)
{
	struct fixture f;
	struct key me = make_key(1), me2 = make_key(4), a = make_key(2);
	struct text req = {0};

	fixture_init(&f, 13);
	/* me2 starts as a peer; becoming our identity removes it. */
	tprintf(&req, "private_key=%s\npublic_key=%s\nallowed_ip=198.18.0.4/32\n", me.priv_hex, me2.pub_hex);
	CHECK(set(&f, req.s) == 0);
	CHECK(lookup(&f, &me2) != NULL);

	req.len = 0;
	tprintf(&req,
		"private_key=%s\npublic_key=%s\nallowed_ip=198.18.0.5/32\nendpoint=1.2.3.4:5\n"
		"public_key=%s\nallowed_ip=198.18.0.6/32\npublic_key=%s\nallowed_ip=198.18.0.1/32\n",
		me2.priv_hex, me2.pub_hex, a.pub_hex, me.pub_hex);
	CHECK(set(&f, req.s) == 0);
	CHECK(lookup(&f, &me2) == NULL);
	CHECK(route(&f, "198.18.0.5") == NULL);
	CHECK(route(&f, "198.18.0.6") == lookup(&f, &a));
	/* The old identity is an ordinary key again. */
	CHECK(lookup(&f, &me) != NULL && route(&f, "198.18.0.1") == lookup(&f, &me));

	/* The ignored block is still validated. */
	req.len = 0;
	tprintf(&req, "public_key=%s\nallowed_ip=198.18.0.5/99\n", me2.pub_hex);
	CHECK(set(&f, req.s) == -EINVAL);
	free(req.s);
	fixture_free(&f);
}

/* ---- invalid input: the right errno, and nothing changed ---------------- */

struct bad_case {
	const char *body; /* %1$s = a peer's public key, %2$s = another key */
	int err;
};

static void test_invalid_input_changes_nothing(void)
{
	struct fixture f;
	struct key me = make_key(1), a = make_key(2), b = make_key(3), c = make_key(7);
	struct text req = {0};
	static const struct bad_case cases[] = {
		/* keys */
		{"private_key=zz00000000000000000000000000000000000000000000000000000000000000\n", -EINVAL},
		{"private_key=0123\n", -EINVAL},
		{"private_key=00000000000000000000000000000000000000000000000000000000000000000\n", -EINVAL},
		{"private_key=\n", -EINVAL},
		{"public_key=%1$s0\n", -EINVAL},
		{"public_key=%1$s\npreshared_key=abc\n", -EINVAL},
		{"public_key=g%1$.63s\n", -EINVAL},
		/* numbers */
		{"listen_port=12a\n", -EINVAL},
		{"listen_port=-1\n", -EINVAL},
		{"listen_port=+1\n", -EINVAL},
		{"listen_port= 1\n", -EINVAL},
		{"listen_port=\n", -EINVAL},
		{"listen_port=65536\n", -EINVAL},
		{"listen_port=99999999999999999999999\n", -EINVAL},
		{"fwmark=4294967296\n", -EINVAL},
		{"fwmark=0x10\n", -EINVAL},
		{"public_key=%1$s\npersistent_keepalive_interval=65536\n", -EINVAL},
		{"public_key=%1$s\npersistent_keepalive_interval=off\n", -EINVAL},
		/* booleans */
		{"replace_peers=false\n", -EINVAL},
		{"replace_peers=TRUE\n", -EINVAL},
		{"replace_peers=1\n", -EINVAL},
		{"public_key=%1$s\nremove=yes\n", -EINVAL},
		{"public_key=%1$s\nreplace_allowed_ips=\n", -EINVAL},
		/* keys that do not exist, or in the wrong place */
		{"foo=bar\n", -EINVAL},
		{"=1\n", -EINVAL},
		{"Listen_port=1\n", -EINVAL},
		{"public_key=%1$s\nfoo_unknown=bar\n", -EINVAL},
		{"allowed_ip=198.18.0.0/16\n", -EINVAL},
		{"protocol_version=1\n", -EINVAL},
		{"public_key=%1$s\nlisten_port=1\n", -EINVAL},
		{"public_key=%1$s\nprivate_key=%2$s\n", -EINVAL},
		{"public_key=%1$s\nfwmark=1\n", -EINVAL},
		{"public_key=%1$s\nreplace_peers=true\n", -EINVAL},
		{"public_key=%1$s\nprotocol_version=2\n", -EINVAL},
		{"public_key=%1$s\nprotocol_version=01\n", -EINVAL},
		/* missing '=' */
		{"listen_port\n", -EPROTO},
		{"listen_port=1\nreplace_peers\n", -EPROTO},
		{"public_key=%1$s\n\nallowed_ip=198.18.0.0/16\n", -EPROTO},
		{"public_key=%1$s\nallowed_ip=198.18.0.0/16\nnonsense", -EPROTO},
		/* endpoints */
		{"public_key=%1$s\nendpoint=localhost:51820\n", -EINVAL},
		{"public_key=%1$s\nendpoint=example.com:51820\n", -EINVAL},
		{"public_key=%1$s\nendpoint=1.2.3.4\n", -EINVAL},
		{"public_key=%1$s\nendpoint=1.2.3.4:\n", -EINVAL},
		{"public_key=%1$s\nendpoint=1.2.3.4:65536\n", -EINVAL},
		{"public_key=%1$s\nendpoint=1.2.3:4\n", -EINVAL},
		{"public_key=%1$s\nendpoint=::1:51820\n", -EINVAL},
		{"public_key=%1$s\nendpoint=[::1:51820\n", -EINVAL},
		{"public_key=%1$s\nendpoint=[::1]51820\n", -EINVAL},
		{"public_key=%1$s\nendpoint=[::1]:\n", -EINVAL},
		{"public_key=%1$s\nendpoint=[1.2.3.4]:1\n", -EINVAL},
		{"public_key=%1$s\nendpoint=[fe80::1%%]:1\n", -EINVAL},
		{"public_key=%1$s\nendpoint=[fe80::1%%roamnosuchif9]:1\n", -EINVAL},
		{"public_key=%1$s\nendpoint=[fe80::1%%0]:1\n", -EINVAL},
		{"public_key=%1$s\nendpoint=\n", -EINVAL},
		/* allowed ips */
		{"public_key=%1$s\nallowed_ip=198.18.0.1/33\n", -EINVAL},
		{"public_key=%1$s\nallowed_ip=fd00::/129\n", -EINVAL},
		{"public_key=%1$s\nallowed_ip=198.18.0.1\n", -EINVAL},
		{"public_key=%1$s\nallowed_ip=198.18.0.1/\n", -EINVAL},
		{"public_key=%1$s\nallowed_ip=198.18.0.1/-1\n", -EINVAL},
		{"public_key=%1$s\nallowed_ip=198.18.0.1/16 \n", -EINVAL},
		{"public_key=%1$s\nallowed_ip=--198.18.0.0/16\n", -EINVAL},
		{"public_key=%1$s\nallowed_ip=-\n", -EINVAL},
		{"public_key=%1$s\nallowed_ip=\n", -EINVAL},
		{"public_key=%1$s\nallowed_ip=fe80::1%%1/64\n", -EINVAL},
		{"public_key=%1$s\nallowed_ip=010.0.0.1/8\n", -EINVAL},
		{"public_key=%1$s\nallowed_ip=host/8\n", -EINVAL},
		/* an error at the very end undoes everything before it */
		{"private_key=%2$s\nlisten_port=1234\nfwmark=7\nreplace_peers=true\n"
		 "public_key=%1$s\nremove=true\npublic_key=%2$s\nallowed_ip=1.2.3.4/32\nallowed_ip=1.2.3.4/33\n",
		 -EINVAL},
		{"private_key=%2$s\nlisten_port=1234\nreplace_peers=true\npublic_key=%2$s\nbogus\n%1$.0s", -EPROTO},
	};

	fixture_init(&f, 14);
	tprintf(&req,
		"private_key=%s\nlisten_port=51820\nfwmark=4660\npublic_key=%s\npreshared_key=%s\n"
		"endpoint=[::1]:51821\npersistent_keepalive_interval=25\nallowed_ip=198.18.99.2/32\n"
		"allowed_ip=fd00::2/128\npublic_key=%s\nendpoint=127.0.0.1:1\nallowed_ip=198.18.0.0/16\n",
		me.priv_hex, a.pub_hex, "5555555555555555555555555555555555555555555555555555555555555555", b.pub_hex);
	CHECK(set(&f, req.s) == 0);
	char *before = get_text(&f);
	int prepares = f.fh.prepare_calls, fwmarks = f.fh.fwmark_calls;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		req.len = 0;
		tprintf(&req, cases[i].body, a.pub_hex, c.pub_hex);
		int got = set(&f, req.s);
		char *after = get_text(&f);
		bool right_errno = CHECK(got == cases[i].err);
		bool unchanged = CHECK(strcmp(after, before) == 0);
		if (!right_errno || !unchanged)
			fprintf(stderr, "  case %zu: errno %d, want %d: %s", i, got, cases[i].err, req.s);
		free(after);
	}
	/* Nothing was even prepared: validation comes first. */
	CHECK(f.fh.prepare_calls == prepares && f.fh.fwmark_calls == fwmarks);

	/* The port is taken: -EADDRINUSE and nothing applied. */
	f.fh.fail_prepare = -EADDRINUSE;
	req.len = 0;
	tprintf(&req,
		"private_key=%s\nlisten_port=1234\nfwmark=7\nreplace_peers=true\npublic_key=%s\nallowed_ip=1.0.0.0/8\n",
		c.priv_hex, a.pub_hex);
	CHECK(set(&f, req.s) == -EADDRINUSE);
	char *after = get_text(&f);
	CHECK_TEXT(after, before);
	free(after);
	CHECK(f.fh.prepare_calls == prepares + 1 && f.fh.fwmark_calls == fwmarks && f.fh.commits == 1);
	f.fh.fail_prepare = 0;

	/* fwmark fails after the port was prepared: the port is thrown away. */
	f.fh.fail_fwmark = -EADDRINUSE;
	CHECK(set(&f, req.s) == -EADDRINUSE);
	after = get_text(&f);
	CHECK_TEXT(after, before);
	free(after);
	CHECK(f.fh.aborts == 1 && f.fh.commits == 1 && f.fh.port == 51820);
	f.fh.fail_fwmark = 0;

	/* And then the same request goes through. */
	CHECK(set(&f, req.s) == 0);
	CHECK(f.fh.port == 1234 && f.fh.mark == 7 && device_peer_count(f.dev) == 1);
	free(before);
	free(req.s);
	fixture_free(&f);
}

/* ---- a huge request ------------------------------------------------------ */

/* Line i's address when i is a multiple of 4: the (i/4)th of 198.18.0.0/15,
 * which holds 131072, enough for 524288 lines. The other lines are IPv6. */
static void big_v4(char *buf, size_t len, uint32_t i)
{
	uint32_t v = (UINT32_C(198) << 24 | UINT32_C(18) << 16) + i / 4;

	snprintf(buf, len, "%u.%u.%u.%u", v >> 24, (v >> 16) & 255, (v >> 8) & 255, v & 255);
}

static void big_request(struct text *req, const struct key *k, uint32_t n)
{
	char a[16];

	tprintf(req, "public_key=%s\nreplace_allowed_ips=true\n", k->pub_hex);
	for (uint32_t i = 0; i < n; i++) {
		if (i % 4) {
			tprintf(req, "allowed_ip=fd00::%x:%x/128\n", i >> 16, i & 0xffff);
		} else {
			big_v4(a, sizeof(a), i);
			tprintf(req, "allowed_ip=%s/32\n", a);
		}
	}
}

static size_t count_lines(const char *s, const char *prefix)
{
	size_t n = 0, plen = strlen(prefix);

	for (const char *p = s; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, prefix, plen) == 0)
			n++;
	return n;
}

static void test_huge_request(void)
{
	struct fixture f;
	struct key a = make_key(2), b = make_key(3);
	struct text req = {0};
	uint32_t n = quick() ? 30000 : 300000;

	fixture_init(&f, 15);
	big_request(&req, &a, n);
	clock_t t0 = clock();
	CHECK(set(&f, req.s) == 0);
	double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
	printf("  %u allowed_ip lines (%zu bytes) applied in %.2f s\n", n, req.len, secs);
	struct peer *p = lookup(&f, &a);
	CHECK(p != NULL);
	CHECK(route(&f, "198.18.0.0") == p);
	CHECK(route(&f, "198.18.0.17") == p);
	char last[64];
	big_v4(last, sizeof(last), n - 4); /* the last IPv4 one (n is a multiple of 4) */
	CHECK(route(&f, last) == p);
	CHECK(route(&f, "fd00::0:7") == p);

	char *got = get_text(&f);
	CHECK(count_lines(got, "allowed_ip=") == n);
	free(got);

	/* Moving them all to another peer: replaced in one go, through the
	 * connection layer fed byte by byte (linear, not quadratic). */
	req.len = 0;
	tprintf(&req, "set=1\n");
	big_request(&req, &b, n);
	tprintf(&req, "\n");
	struct uapi_conn *conn = uapi_conn_new(f.dev, &f.host);
	t0 = clock();
	bool open = true;
	for (size_t j = 0; j < req.len && open; j++)
		open = uapi_conn_feed(conn, req.s + j, 1);
	secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
	printf("  the same for another peer, fed one byte at a time: %.2f s\n", secs);
	CHECK(open);
	size_t len;
	const char *out = uapi_conn_output(conn, &len);
	CHECK(len == 9 && memcmp(out, "errno=0\n\n", 9) == 0);
	uapi_conn_consume_output(conn, len);

	/* The big reply, drained by a slow reader in small pieces while the
	 * buffer compacts itself. */
	CHECK(uapi_conn_feed(conn, "get=1\n\n", 7));
	struct text drained = {0};
	while ((out = uapi_conn_output(conn, &len)) && len) {
		size_t n = len < 4000 ? len : 4000;
		tprintf(&drained, "%.*s", (int)n, out);
		uapi_conn_consume_output(conn, n);
	}
	got = get_text(&f);
	CHECK(drained.s && strcmp(drained.s, got) == 0);
	CHECK(conn->out.cap <= BIG_BUFFER); /* given back once drained */
	free(got);
	free(drained.s);
	uapi_conn_free(conn);
	CHECK(route(&f, "198.18.0.0") == lookup(&f, &b));
	CHECK(route(&f, last) == lookup(&f, &b));
	free(req.s);
	fixture_free(&f);
}

/* ---- connection framing ------------------------------------------------- */

/* Feeds text in chunks of `step` bytes (0 = all at once); returns what the
 * last feed said and appends the output to *out. */
static bool feed(struct uapi_conn *conn, const char *text, size_t step, struct text *out)
{
	size_t len = strlen(text), pos = 0;
	bool open = true;

	do {
		size_t n = step && len - pos > step ? step : len - pos;
		open = uapi_conn_feed(conn, text + pos, n);
		pos += n;
	} while (open && pos < len);
	size_t olen;
	const char *o = uapi_conn_output(conn, &olen);
	tprintf(out, "%.*s", (int)olen, o);
	uapi_conn_consume_output(conn, olen);
	return open;
}

static void test_conn_requests(void)
{
	struct key me = make_key(1), a = make_key(2);
	struct text req = {0}, want_get = {0};

	tprintf(&req, "set=1\nprivate_key=%s\nlisten_port=51820\npublic_key=%s\nallowed_ip=198.18.0.2/32\n\nget=1\n\n",
		me.priv_hex, a.pub_hex);
	tprintf(&want_get,
		"errno=0\n\nprivate_key=%s\nlisten_port=51820\npublic_key=%s\npreshared_key=%s\nprotocol_version=1\n"
		"last_handshake_time_sec=0\nlast_handshake_time_nsec=0\ntx_bytes=0\nrx_bytes=0\n"
		"persistent_keepalive_interval=0\nallowed_ip=198.18.0.2/32\nerrno=0\n\n",
		me.priv_hex, a.pub_hex, ZERO_HEX);

	/* Two requests in one buffer; then byte by byte, and in odd chunks. */
	static const size_t steps[] = {0, 1, 2, 7, 64};
	for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
		struct fixture f;
		struct text out = {0};
		fixture_init(&f, 20);
		struct uapi_conn *conn = uapi_conn_new(f.dev, &f.host);
		CHECK(feed(conn, req.s, steps[s], &out));
		if (!CHECK(out.s && strcmp(out.s, want_get.s) == 0))
			fprintf(stderr, "  step %zu: got:\n%s", steps[s], out.s ? out.s : "(nothing)");
		/* And the connection still takes requests. */
		out.len = 0;
		CHECK(feed(conn, "set=1\nlisten_port=1\n\n", steps[s], &out));
		CHECK(out.s && strcmp(out.s, "errno=0\n\n") == 0);
		uapi_conn_free(conn);
		free(out.s);
		fixture_free(&f);
	}
	free(req.s);
	free(want_get.s);
}

static void test_conn_errors(void)
{
	struct fixture f;
	struct text out = {0};
	struct uapi_conn *conn;
	size_t len;

	fixture_init(&f, 21);

	/* An empty connection (wg's probe) produces nothing. */
	conn = uapi_conn_new(f.dev, &f.host);
	uapi_conn_output(conn, &len);
	CHECK(len == 0);
	CHECK(uapi_conn_feed(conn, "", 0));
	uapi_conn_output(conn, &len);
	CHECK(len == 0);
	uapi_conn_free(conn);

	/* A bad set: its errno, and the next request is served. */
	conn = uapi_conn_new(f.dev, &f.host);
	CHECK(feed(conn, "set=1\nlisten_port=x\n\nset=1\nnoequals\n\nset=1\nlisten_port=9\n\n", 3, &out));
	CHECK(out.s && strcmp(out.s, "errno=-22\n\nerrno=-71\n\nerrno=0\n\n") == 0);
	CHECK(f.fh.port == 9);
	uapi_conn_free(conn);

	/* get followed by junk: errno=-22, the junk byte consumed, and the
	 * connection goes on with the next op line. */
	for (size_t step = 0; step <= 1; step++) {
		out.len = 0;
		conn = uapi_conn_new(f.dev, &f.host);
		CHECK(feed(conn, "get=1\nXset=1\n\n", step, &out));
		CHECK(out.s && strcmp(out.s, "errno=-22\n\nerrno=0\n\n") == 0);
		uapi_conn_free(conn);
	}
	/* ... and whatever follows the junk byte must be an op line. */
	out.len = 0;
	conn = uapi_conn_new(f.dev, &f.host);
	CHECK(!feed(conn, "get=1\nfoo\n", 0, &out));
	CHECK(out.s && strcmp(out.s, "errno=-22\n\n") == 0);
	uapi_conn_free(conn);

	/* A bogus first line: closed, not a byte of reply. (get=3 is
	 * roamd's events request: test_events.c.) */
	static const char *const bogus[] = {"bogus=1\n", "get=4\n", "GET=1\n", "set=1 \n", "\n", "get=1\r\n",
					    "sets=1\n"};
	for (size_t i = 0; i < sizeof(bogus) / sizeof(bogus[0]); i++) {
		for (size_t step = 0; step <= 1; step++) {
			out.len = 0;
			conn = uapi_conn_new(f.dev, &f.host);
			CHECK(!feed(conn, bogus[i], step, &out));
			CHECK(out.len == 0);
			/* It stays closed. */
			CHECK(!uapi_conn_feed(conn, "get=1\n\n", 7));
			uapi_conn_output(conn, &len);
			CHECK(len == 0);
			uapi_conn_free(conn);
		}
	}
	/* A bogus op after a good request: the good reply, then close. */
	out.len = 0;
	conn = uapi_conn_new(f.dev, &f.host);
	CHECK(!feed(conn, "set=1\n\nbogus=1\n", 0, &out));
	CHECK(out.s && strcmp(out.s, "errno=0\n\n") == 0);
	uapi_conn_free(conn);

	/* A request cut short: no reply yet, nothing applied. */
	out.len = 0;
	conn = uapi_conn_new(f.dev, &f.host);
	CHECK(feed(conn, "set=1\nlisten_port=77\n", 1, &out));
	CHECK(out.len == 0 && f.fh.port == 9);
	uapi_conn_free(conn);

	/* Output is drained in pieces. */
	conn = uapi_conn_new(f.dev, &f.host);
	CHECK(uapi_conn_feed(conn, "get=1\n\n", 7));
	const char *o = uapi_conn_output(conn, &len);
	CHECK(len == strlen("listen_port=9\nerrno=0\n\n") && memcmp(o, "listen_port=9\n", 14) == 0);
	uapi_conn_consume_output(conn, 7);
	o = uapi_conn_output(conn, &len);
	CHECK(len == strlen("port=9\nerrno=0\n\n") && memcmp(o, "port=9\n", 7) == 0);
	uapi_conn_consume_output(conn, len);
	uapi_conn_output(conn, &len);
	CHECK(len == 0);
	uapi_conn_free(conn);

	free(out.s);
	fixture_free(&f);
}

/* More than UAPI_MAX_REQUEST bytes of lines: read to the end, errno=-12,
 * then closed; memory does not grow past the limit. */
static void test_conn_oversized(void)
{
	struct fixture f;
	enum { CHUNK = 1 << 20 };
	char *chunk = malloc(CHUNK);
	size_t len;

	fixture_init(&f, 22);
	/* No blank line inside, so the request ends only where we say. */
	for (size_t i = 0; i < CHUNK; i += 16)
		memcpy(chunk + i, "allowed_ip=1/1\nx", 16);
	struct uapi_conn *conn = uapi_conn_new(f.dev, &f.host);
	CHECK(uapi_conn_feed(conn, "set=1\n", 6));
	bool open = true;
	for (size_t sent = 0; sent <= UAPI_MAX_REQUEST && open; sent += CHUNK)
		open = uapi_conn_feed(conn, chunk, CHUNK);
	CHECK(open);
	uapi_conn_output(conn, &len);
	CHECK(len == 0); /* nothing until the client has finished */
	CHECK(conn->in_len == 0 && conn->in_cap <= UAPI_MAX_REQUEST);
	CHECK(!uapi_conn_feed(conn, "\n\n", 2));
	const char *o = uapi_conn_output(conn, &len);
	CHECK(len == 11 && memcmp(o, "errno=-12\n\n", 11) == 0);
	uapi_conn_free(conn);
	free(chunk);
	fixture_free(&f);
}

/* "get=2" adds the roam_* lines after the standard ones of each section;
 * "get=1" never shows them. */
static void test_roam_get(void)
{
	struct fixture a, b;
	struct key ka = make_key(10), kb = make_key(11);
	struct text req = {0};

	fixture_init(&a, 3);
	fixture_init(&b, 4);
	tprintf(&req, "private_key=%s\npublic_key=%s\nendpoint=127.0.0.2:2\nallowed_ip=198.18.0.2/32\n", ka.priv_hex,
		kb.pub_hex);
	CHECK(set(&a, req.s) == 0);
	req.len = 0;
	tprintf(&req, "private_key=%s\npublic_key=%s\nallowed_ip=198.18.0.1/32\n", kb.priv_hex, ka.pub_hex);
	CHECK(set(&b, req.s) == 0);
	free(req.s);
	device_up(a.dev, a.fh.now);
	device_up(b.dev, b.fh.now);
	peer_send_keepalive_now(lookup(&a, &kb), a.fh.now);
	for (int round = 0; round < 10; round++) {
		int moved = pump(&a, &b, "127.0.0.1", 1);
		moved += pump(&b, &a, "127.0.0.2", 2);
		if (!moved)
			break;
	}
	struct text out = {0};
	struct uapi_conn *conn = uapi_conn_new(b.dev, &b.host);
	CHECK(feed(conn, "get=2\n\n", 0, &out));
	CHECK(out.s != NULL);
	if (out.s) {
		/* Device lines come before the first peer, as wg requires. */
		char *version = strstr(out.s, "roam_version=1\n"), *peer = strstr(out.s, "public_key=");
		CHECK(version && peer && version < peer);
		CHECK(strstr(out.s, "roam_peers=1\n") && strstr(out.s, "roam_under_load=0\n"));
		CHECK(strstr(out.s, "roam_has_session=1\n") && strstr(out.s, "roam_endpoint_changes=1\n"));
		CHECK(strstr(out.s, "roam_history=endpoint_changed ") && strstr(out.s, " - 127.0.0.1:1 0\n"));
		CHECK(strstr(out.s, "roam_history=handshake_complete "));
		CHECK(strstr(out.s, "roam_last_receive_age_ms=0\n"));
		char *end = strstr(out.s, "errno=0\n\n");
		CHECK(end && end[9] == '\0');
	}
	out.len = 0;
	CHECK(feed(conn, "get=1\n\n", 0, &out));
	CHECK(out.s && !strstr(out.s, "roam_"));
	uapi_conn_free(conn);
	free(out.s);
	fixture_free(&a);
	fixture_free(&b);
}

/* roam_endpoint_candidate lines: set in order, duplicates ignored, the
 * list replaced on request, get=2 shows it with the endpoint's place, and
 * a 17-line list fails whole with -E2BIG, changing nothing. */
static void test_endpoint_candidates(void)
{
	struct fixture f;
	struct key k = make_key(20);
	struct text req = {0};

	fixture_init(&f, 7);
	tprintf(&req, "public_key=%s\nendpoint=192.0.2.1:51820\n" ROAM_KEY_ENDPOINT_CANDIDATE "=192.0.2.1:51820\n"
		      ROAM_KEY_ENDPOINT_CANDIDATE "=[fd00::1]:51820\n" ROAM_KEY_ENDPOINT_CANDIDATE "=192.0.2.1:51820\n",
		k.pub_hex);
	CHECK(set(&f, req.s) == 0);
	struct peer *p = lookup(&f, &k);
	const struct endpoint *list;
	CHECK(p && peer_get_endpoint_candidates(p, &list) == 2);
	CHECK(p && peer_endpoint_candidate_index(p) == 0);
	struct text out = {0};
	struct uapi_conn *conn = uapi_conn_new(f.dev, &f.host);
	CHECK(feed(conn, "get=2\n\n", 0, &out));
	CHECK(out.s && strstr(out.s, "roam_endpoint_candidate=192.0.2.1:51820\nroam_endpoint_candidate=[fd00::1]:51820\n"
				     "roam_endpoint_candidate_index=0\n"));
	out.len = 0;
	CHECK(feed(conn, "get=1\n\n", 0, &out));
	CHECK(out.s && !strstr(out.s, "roam_endpoint_candidate"));
	uapi_conn_free(conn);
	free(out.s);

	req.len = 0;
	tprintf(&req, "public_key=%s\n", k.pub_hex);
	for (int i = 0; i < 17; i++)
		tprintf(&req, ROAM_KEY_ENDPOINT_CANDIDATE "=198.51.100.%d:1\n", i + 1);
	CHECK(set(&f, req.s) == -E2BIG);
	CHECK(p && peer_get_endpoint_candidates(p, &list) == 2);

	req.len = 0;
	tprintf(&req, "public_key=%s\n" ROAM_KEY_REPLACE_ENDPOINT_CANDIDATES "=true\n" ROAM_KEY_ENDPOINT_CANDIDATE
		      "=198.51.100.7:7\n",
		k.pub_hex);
	CHECK(set(&f, req.s) == 0);
	CHECK(p && peer_get_endpoint_candidates(p, &list) == 1 && endpoint_port(&list[0]) == 7);
	CHECK(p && peer_endpoint_candidate_index(p) == -1);
	/* Names are roam up's business: the daemon takes numbers only. */
	req.len = 0;
	tprintf(&req, "public_key=%s\n" ROAM_KEY_ENDPOINT_CANDIDATE "=example.org:1\n", k.pub_hex);
	CHECK(set(&f, req.s) == -EINVAL);
	free(req.s);
	fixture_free(&f);
}

/* roam_endpoint_name lines reach the host's resolver in order (literals
 * and bracketed IPv6 too); a bad name is -EINVAL, 17 names -E2BIG, both
 * before anything is applied; a host without a resolver refuses them with
 * -ENOTSUP; roam_resolve_names=true asks it to look again. */
struct names_log {
	char text[1024];
	int clears, resolves;
};
static struct names_log names_seen;
static void log_clear_names(void *ctx, struct peer *peer)
{
	(void)ctx, (void)peer;
	names_seen.clears++;
}
static int log_add_name(void *ctx, struct peer *peer, const char *host, size_t len, uint16_t port)
{
	(void)ctx, (void)peer;
	size_t used = strlen(names_seen.text);
	snprintf(names_seen.text + used, sizeof(names_seen.text) - used, "%.*s:%u;", (int)len, host, port);
	return 0;
}
static void log_resolve(void *ctx)
{
	(void)ctx;
	names_seen.resolves++;
}

static void test_endpoint_names(void)
{
	struct fixture f;
	struct key k = make_key(21);
	struct text req = {0};

	fixture_init(&f, 8);
	tprintf(&req, "public_key=%s\n" ROAM_KEY_ENDPOINT_NAME "=vpn.example.org:51820\n", k.pub_hex);
	CHECK(set(&f, req.s) == -ENOTSUP);
	f.host.clear_peer_names = log_clear_names;
	f.host.add_peer_name = log_add_name;
	f.host.resolve_names = log_resolve;
	memset(&names_seen, 0, sizeof(names_seen));
	req.len = 0;
	tprintf(&req, ROAM_KEY_RESOLVE_NAMES "=true\npublic_key=%s\n" ROAM_KEY_REPLACE_ENDPOINT_NAMES "=true\n"
		      ROAM_KEY_ENDPOINT_NAME "=vpn.example.org:51820\n" ROAM_KEY_ENDPOINT_NAME "=192.0.2.1:1\n"
		      ROAM_KEY_ENDPOINT_NAME "=[fd00::1]:2\n",
		k.pub_hex);
	CHECK(set(&f, req.s) == 0);
	CHECK(!strcmp(names_seen.text, "vpn.example.org:51820;192.0.2.1:1;fd00::1:2;"));
	CHECK(names_seen.clears == 1 && names_seen.resolves == 1);
	static const char *const bad[] = {"vpn.example.org", "vpn.example.org:0", "vpn example:1", "fd00::1:2",
					  "[fd00::1:2", ":51820", "a/b:1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		req.len = 0;
		tprintf(&req, "public_key=%s\n" ROAM_KEY_ENDPOINT_NAME "=%s\n", k.pub_hex, bad[i]);
		if (!CHECK(set(&f, req.s) == -EINVAL))
			fprintf(stderr, "    accepted: %s\n", bad[i]);
	}
	memset(&names_seen, 0, sizeof(names_seen));
	req.len = 0;
	tprintf(&req, "public_key=%s\n", k.pub_hex);
	for (int i = 0; i < 17; i++)
		tprintf(&req, ROAM_KEY_ENDPOINT_NAME "=n%d.example.org:1\n", i);
	CHECK(set(&f, req.s) == -E2BIG);
	CHECK(names_seen.text[0] == '\0');
	free(req.s);
	fixture_free(&f);
}

int main(void)
{
	RUN(test_buf);
	RUN(test_get_empty_device);
	RUN(test_get_exact_text);
	RUN(test_get_after_handshake);
	RUN(test_roam_get);
	RUN(test_endpoint_candidates);
	RUN(test_endpoint_names);
	RUN(test_set_on_live_device);
	RUN(test_set_each_key);
	RUN(test_setconf_capture);
	RUN(test_setconf_without_interface);
	RUN(test_remove);
	RUN(test_update_only);
	RUN(test_allowed_ip_moves);
	RUN(test_allowed_ip_minus);
	RUN(test_host_bits_masked);
	RUN(test_own_key_ignored);
	RUN(test_invalid_input_changes_nothing);
	RUN(test_huge_request);
	RUN(test_conn_requests);
	RUN(test_conn_errors);
	if (!quick())
		RUN(test_conn_oversized);
	return test_finish("test_uapi");
}
