/* The data path: packets between the TUN device, the engine and the UDP
 * sockets, in preallocated buffers.
 *
 * Shape, for what may come later: each readable fd is drained in batches
 * (recvmmsg on UDP; TUN reads in a budgeted loop) and each packet is handed
 * to the engine where it lies. Sending goes through io_send alone, so
 * sendmmsg batching means collecting there and flushing at the end of a
 * batch; TUN offloads (IFF_VNET_HDR) mean splitting a super-packet before
 * device_send_packet; a second core means a second device-free crypto stage
 * between read and send, since struct device itself is single-threaded. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "crypto.h"
#include "daemon.h"
#include "log.h"

#define ALIGN64(n) (((n) + 63) & ~(size_t)63)

uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

int datapath_init(struct datapath *dp)
{
	memset(dp, 0, sizeof(*dp));
	size_t buf = ALIGN64(PKT_BUF_SIZE);
	dp->arena = malloc(buf * (1 + UDP_BATCH) + ALIGN64(ICMP_REPLY_MAX));
	dp->rx = malloc(sizeof(*dp->rx));
	if (!dp->arena || !dp->rx) {
		datapath_free(dp);
		return -ENOMEM;
	}
	uint8_t *p = dp->arena;
	dp->tun_buf = p;
	p += buf;
	for (unsigned i = 0; i < UDP_BATCH; i++, p += buf)
		dp->udp_bufs[i] = p;
	dp->icmp_buf = p;
	return 0;
}

void datapath_free(struct datapath *dp)
{
	free(dp->arena);
	free(dp->rx);
	dp->arena = NULL;
	dp->rx = NULL;
}

static bool is_power_of_two(uint64_t n)
{
	return n && !(n & (n - 1));
}

void datapath_clear_sources(struct daemon *d)
{
	for (struct peer *p = device_peer_first(d->dev); p; p = device_peer_next(p))
		peer_forget_source(p);
}

/* ---- struct device_io ------------------------------------------------- */

static void io_send(void *ctx, struct peer *peer, const struct endpoint *to, uint8_t *data, size_t len)
{
	struct daemon *d = ctx;
	bool source_refused;
	int ret = udp_send(&d->ports.cur, to, data, len, &source_refused);
	if (source_refused && peer) {
		/* Our address moved away: stop insisting on it. */
		char ep[ENDPOINT_TEXT_LEN];
		log_verbose("local source for %s is gone, letting routing choose", endpoint_str(to, ep));
		peer_forget_source(peer);
	}
	if (ret) {
		/* Unreachable networks and full buffers are part of life;
		 * say so, but not once per packet. */
		d->dp.udp_send_errors++;
		if (is_power_of_two(d->dp.udp_send_errors)) {
			char ep[ENDPOINT_TEXT_LEN];
			log_verbose("send to %s failed: %s (%llu send errors so far)", endpoint_str(to, ep),
				    strerror(-ret), (unsigned long long)d->dp.udp_send_errors);
		}
	}
}

static void io_deliver(void *ctx, struct peer *peer, uint8_t *data, size_t len)
{
	struct daemon *d = ctx;
	(void)peer;
	if (tun_write(&d->tun, data, len) < 0)
		d->dp.tun_write_errors++;
}

static void io_event(void *ctx, const struct device_event *event)
{
	(void)ctx;
	log_device_event(event);
}

static void io_random(void *ctx, void *buf, size_t len)
{
	(void)ctx;
	uint8_t *p = buf;
	while (len) {
		ssize_t n = getrandom(p, len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* Without randomness no key or index is safe. */
			log_error("getrandom: %s", strerror(errno));
			abort();
		}
		p += n;
		len -= (size_t)n;
	}
}

static uint64_t io_wall_ns(void *ctx)
{
	(void)ctx;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

struct device_io datapath_device_io(struct daemon *d)
{
	return (struct device_io){
		.ctx = d,
		.send = io_send,
		.deliver = io_deliver,
		.event = io_event,
		.random = io_random,
		.wall_ns = io_wall_ns,
	};
}

/* ---- packets in ------------------------------------------------------- */

static void send_unreachable(struct daemon *d, const uint8_t *pkt, size_t len, uint64_t now)
{
	size_t n = icmp_build_unreachable(pkt, len, d->dp.icmp_buf);
	if (!n || !icmp_limiter_allow(&d->dp.icmp_limiter, now))
		return;
	if (tun_write(&d->tun, d->dp.icmp_buf, n) == 0)
		d->dp.icmp_sent++;
}

bool datapath_from_tun(struct daemon *d)
{
	uint8_t *pkt = d->dp.tun_buf + MESSAGE_DATA_HEADROOM;
	uint64_t now = now_ns();
	for (int i = 0; i < TUN_BUDGET; i++) {
		ssize_t n = tun_read(&d->tun, pkt, PKT_MAX);
		if (n == -EAGAIN)
			return true;
		if (n < 0) {
			/* EBADFD: the device was deleted under us. */
			if (n == -EBADFD || n == -ENXIO || n == -ENODEV)
				return false;
			log_error("reading %s: %s", d->ifname, strerror((int)-n));
			return false;
		}
		if (n == 0)
			continue;
		enum drop_reason drop;
		struct peer *peer;
		if (device_send_packet(d->dev, pkt, (size_t)n, now, &drop, &peer) == SEND_DROPPED &&
		    (drop == DROP_NO_ROUTE || drop == DROP_NO_ENDPOINT))
			send_unreachable(d, pkt, (size_t)n, now);
	}
	return true;
}

void datapath_from_udp(struct daemon *d, int fd)
{
	for (int round = 0; round < UDP_ROUNDS; round++) {
		int n = udp_recv_batch(d->dp.rx, fd, d->dp.udp_bufs, PKT_BUF_SIZE, UDP_BATCH);
		if (n <= 0)
			return;
		uint64_t now = now_ns();
		for (int i = 0; i < n; i++) {
			struct endpoint from;
			size_t len = udp_rx_datagram(d->dp.rx, (unsigned)i, &from);
			if (len)
				device_receive(d->dev, &from, d->dp.udp_bufs[i], len, now);
		}
		if (n < UDP_BATCH)
			return;
	}
}
