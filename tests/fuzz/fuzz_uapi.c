/* libFuzzer: the UAPI byte stream (src/roamd/uapi_conn.c, uapi.c,
 * uapi_roam.c, uapi_buf.c) as a local client sends it over
 * /var/run/wireguard/IFNAME.sock: get=1, get=2 (the roam_* lines), get=3
 * (events after a cursor, from a ring of a few), set=1 with every key, in
 * any order and split at any point.
 *
 * Input: one byte n (the number of cuts, n % 8), n bytes of chunk sizes,
 * then the stream. It runs against a device with three peers (restored
 * before every run, so each input starts from the same configuration),
 * once cut into those chunks with the output drained a little after each,
 * and once whole.
 *
 * Beyond "no crash": the cuts change nothing (same replies, byte for byte,
 * and the same "keep the connection" answer), every reply ends with its
 * blank line, and a connection never holds more than its bounds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "events.h"
#include "uapi.h"

static uint64_t rng = 0x19;

static void io_random(void *ctx, void *buf, size_t len)
{
	(void)ctx;
	uint8_t *p = buf;
	for (size_t i = 0; i < len; i++) {
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		p[i] = (uint8_t)rng;
	}
}

static uint64_t io_wall(void *ctx)
{
	(void)ctx;
	return UINT64_C(1795599325657311814);
}

static void io_send(void *ctx, struct peer *peer, const struct endpoint *to, uint8_t *data, size_t len)
{
	(void)ctx, (void)peer, (void)to, (void)data, (void)len;
}

static void io_deliver(void *ctx, struct peer *peer, uint8_t *data, size_t len)
{
	(void)ctx, (void)peer, (void)data, (void)len;
}

/* A daemon that binds any port it is asked for, except 1 (in use). */
static uint16_t port, pending;
static uint32_t mark;

static int host_prepare(void *ctx, uint16_t want, uint16_t *bound)
{
	(void)ctx;
	if (want == 1)
		return -98; /* EADDRINUSE */
	pending = want ? want : 40000;
	*bound = pending;
	return 0;
}

static void host_commit(void *ctx, bool commit)
{
	(void)ctx;
	if (commit)
		port = pending;
}

static uint16_t host_port(void *ctx)
{
	(void)ctx;
	return port;
}

static int host_set_fwmark(void *ctx, uint32_t m)
{
	(void)ctx;
	mark = m;
	return 0;
}

static uint32_t host_fwmark(void *ctx)
{
	(void)ctx;
	return mark;
}

static uint64_t host_now(void *ctx)
{
	(void)ctx;
	return 5000 * UINT64_C(1000000000);
}

/* A ring of three events for get=3 (events.c), made once in setup. */
static struct event_ring *ring;

static void host_put_events(void *ctx, uint64_t after, struct uapi_buf *out)
{
	(void)ctx;
	event_ring_put_after(ring, after, out);
}

static const struct uapi_host host = {
	.put_events = host_put_events,
	.prepare_listen_port = host_prepare,
	.commit_listen_port = host_commit,
	.listen_port = host_port,
	.set_fwmark = host_set_fwmark,
	.fwmark = host_fwmark,
	.now = host_now,
};

static struct device *dev;
static char baseline[2048];
static size_t baseline_len;

static void hex(char *out, const uint8_t *k)
{
	for (int i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", k[i]);
}

/* The device's configuration before every run: a key, a port, a mark and
 * three peers (an endpoint, a preshared key, a keepalive, IPv4 and IPv6
 * allowed IPs). */
static void setup(void)
{
	struct device_io io = {.send = io_send, .deliver = io_deliver, .random = io_random, .wall_ns = io_wall};
	dev = device_new(&io);
	ring = event_ring_new();
	if (!dev || !ring)
		abort();
	for (int i = 0; i < 3; i++) {
		struct event_json ev;
		event_begin(&ev, ring->last_seq + 1, "wg0", "handshake_completed", NULL, 0, io_wall(NULL));
		event_end(&ev);
		event_ring_push(ring, ev.text, ev.len);
	}
	uint8_t priv[32], pub[32];
	char k[65], p[3][65];
	for (int n = 0; n < 4; n++) {
		for (int i = 0; i < 32; i++)
			priv[i] = (uint8_t)(n * 37 + i * 11 + 5);
		x25519_clamp(priv);
		if (n == 0) {
			hex(k, priv);
			continue;
		}
		if (!x25519_public_from_private(pub, priv))
			abort();
		hex(p[n - 1], pub);
	}
	baseline_len = (size_t)snprintf(baseline, sizeof(baseline),
		"private_key=%s\nlisten_port=51820\nfwmark=0\nreplace_peers=true\n"
		"public_key=%s\nendpoint=192.0.2.7:51820\npersistent_keepalive_interval=25\n"
		"allowed_ip=198.18.0.2/32\nallowed_ip=fd00::2/128\n"
		"public_key=%s\npreshared_key=%s\nendpoint=[fd00::3]:443\nallowed_ip=198.18.1.0/24\n"
		"public_key=%s\nallowed_ip=0.0.0.0/0\nallowed_ip=::/0\n",
		k, p[0], p[1], k, p[2]);
}

struct run {
	char *out;
	size_t len, cap;
	bool alive;
};

static void take(struct run *r, struct uapi_conn *conn, size_t most)
{
	size_t n;
	const char *o = uapi_conn_output(conn, &n);
	if (n > most)
		n = most;
	if (!n)
		return;
	if (r->len + n > r->cap) {
		r->cap = (r->len + n) * 2;
		r->out = realloc(r->out, r->cap);
		if (!r->out)
			abort();
	}
	memcpy(r->out + r->len, o, n);
	r->len += n;
	uapi_conn_consume_output(conn, n);
}

/* One connection from the baseline: the stream in the given chunks. */
static void run(struct run *r, const char *data, size_t size, const uint8_t *cuts, size_t n_cuts)
{
	/* Only a set changes the device: restoring costs a DH per peer. */
	static bool changed = true;
	if (changed && uapi_set(dev, &host, baseline, baseline_len))
		abort();
	changed = memmem(data, size, "set", 3) != NULL;
	struct uapi_conn *conn = uapi_conn_new(dev, &host);
	if (!conn)
		abort();
	r->len = 0;
	r->alive = true;
	for (size_t c = 0; c <= n_cuts && size; c++) {
		size_t n = c < n_cuts ? cuts[c] : size;
		if (n > size)
			n = size;
		r->alive = uapi_conn_feed(conn, data, n);
		data += n, size -= n;
		if (uapi_conn_memory(conn) > 4 * (size_t)UAPI_MAX_REQUEST)
			abort();
		/* A slow reader: drains part of the output, then the rest. */
		take(r, conn, c < n_cuts ? cuts[c] : SIZE_MAX);
		if (!r->alive)
			break;
	}
	take(r, conn, SIZE_MAX);
	uapi_conn_free(conn);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct run cut, whole;
	if (!dev)
		setup();
	if (size < 1)
		return 0;
	size_t n_cuts = data[0] % 8;
	if (size < 1 + n_cuts)
		return 0;
	const uint8_t *cuts = data + 1;
	const char *stream = (const char *)data + 1 + n_cuts;
	size_t len = size - 1 - n_cuts;

	run(&cut, stream, len, cuts, n_cuts);
	run(&whole, stream, len, NULL, 0);
	/* A closed connection may stop reading anywhere after the fault;
	 * until then both saw the same. */
	if (cut.alive != whole.alive || cut.len != whole.len || (cut.len && memcmp(cut.out, whole.out, cut.len)))
		abort();
	if (whole.len && (whole.len < 2 || memcmp(whole.out + whole.len - 2, "\n\n", 2)))
		abort();
	return 0;
}
