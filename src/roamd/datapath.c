/* The data path: packets between the TUN device, the engine and the UDP
 * sockets, in preallocated buffers, in batches.
 *
 * TUN -> UDP. The kernel hands over (with the TUN offloads) TCP or UDP
 * super-packets of up to 64 KiB; each is cut into MTU-sized IP packets
 * (offload.c) laid out one after the other in the tx arena, with the room
 * the engine needs to encrypt each where it lies. The engine's sends of
 * those packets are not made at once but queued (udp_tx), and at the end
 * of the batch go out with sendmmsg, consecutive same-size datagrams to
 * one endpoint as a single UDP_SEGMENT (GSO) send. Anything the engine
 * sends from its own memory (handshakes, keepalives, staged packets) goes
 * out at once, after what is queued, so the order on the wire is the
 * order of the calls.
 *
 * UDP -> TUN. recvmmsg fills up to UDP_BATCH buffers; with UDP_GRO the
 * kernel glues a sender's datagrams into one buffer, which is split by the
 * size it reports. Each datagram is decrypted in place; the packets the
 * engine delivers are collected (struct gro), consecutive TCP segments
 * (and same-size UDP datagrams) of one flow glued into one TUN write with
 * a virtio-net header, and everything written before the buffers are
 * reused.
 *
 * Every offload is probed at start and can be turned off (datapath_init):
 * kernels have shipped GSO/GRO bugs, and operators need a switch. */
#include <errno.h>
#include <linux/if_tun.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "crypto.h"
#include "daemon.h"
#include "events.h"
#include "log.h"
#include "names.h"
#include "fragment.h"
#include "netwatch.h"
#include "offload.h"
#include "pathmtu.h"

#define ALIGN64(n) (((n) + 63) & ~(size_t)63)

int datapath_init(struct daemon *d)
{
	struct datapath *dp = &d->dp;
	memset(dp, 0, sizeof(*dp));
	bool none = env_on("ROAMD_NO_OFFLOAD");
	dp->opt_vnet = !none && !env_on("ROAMD_NO_VNET");
	dp->opt_tso = dp->opt_vnet && !env_on("ROAMD_NO_TSO");
	dp->udp.gso = !none && !env_on("ROAMD_NO_GSO");
	dp->udp.gro = !none && !env_on("ROAMD_NO_GRO");
	dp->opt_verify_sums = env_on("ROAMD_VERIFY_CHECKSUMS");
	dp->udp.pmtu = !env_on("ROAMD_NO_PMTU");
	dp->udp.steer = !env_on("ROAMD_NO_STEERING");

	size_t buf = ALIGN64(PKT_BUF_SIZE);
	dp->arena = malloc(buf * (1 + UDP_BATCH) + TX_ARENA + ALIGN64(ICMP_REPLY_MAX));
	dp->rx = malloc(sizeof(*dp->rx));
	dp->tx = malloc(sizeof(*dp->tx));
	dp->gro = malloc(sizeof(*dp->gro));
	if (!dp->arena || !dp->rx || !dp->tx || !dp->gro) {
		datapath_free(dp);
		return -ENOMEM;
	}
	dp->tx->count = 0;
	uint8_t *p = dp->arena;
	/* tun_read puts the virtio header just in front of the packet. */
	_Static_assert((int)VNET_HDR_LEN <= (int)MESSAGE_DATA_HEADROOM, "headroom for the virtio header");
	dp->tun_buf = p + MESSAGE_DATA_HEADROOM;
	p += buf;
	dp->udp_base = p;
	for (unsigned i = 0; i < UDP_BATCH; i++, p += buf)
		dp->udp_bufs[i] = p;
	dp->udp_end = p;
	dp->tx_arena = p;
	dp->tx_used = 0;
	p += TX_ARENA;
	dp->icmp_buf = p;
	gro_init(dp->gro, false, false, NULL, NULL);
	return 0;
}

void datapath_log_stats(struct daemon *d)
{
	const struct datapath *dp = &d->dp;
	if (!dp->tx || !dp->gro)
		return;
	log_info("data path: %llu super-packets cut; %llu datagrams in %llu sends, %llu of them GSO (%llu split); "
		 "%llu sent fragmented; sticky sources: %llu checked, %llu forgotten; path MTU: %llu reports "
		 "taken, %llu refused, %llu over the rate, %llu sent past an unchecked limit (%llu refusals not learnt), %llu packets refused with ICMP, %llu fragmented, %llu "
		 "super-packets cut smaller; "
		 "%llu GRO buffers received; %llu packets glued, %llu TUN writes; errors: %llu send, %llu TUN "
		 "write, %llu TUN read",
		 (unsigned long long)dp->tun_super, (unsigned long long)dp->tx->datagrams,
		 (unsigned long long)dp->tx->sends, (unsigned long long)dp->tx->gso_sends,
		 (unsigned long long)dp->tx->gso_split, (unsigned long long)dp->sent_fragmented,
		 (unsigned long long)dp->sources_checked, (unsigned long long)dp->sources_forgotten,
		 (unsigned long long)dp->pmtu_reports_accepted, (unsigned long long)dp->pmtu_reports_rejected,
		 (unsigned long long)dp->pmtu_reports_limited, (unsigned long long)dp->sent_past_unchecked,
		 (unsigned long long)dp->pmtu_local_unchecked, (unsigned long long)dp->icmp_too_big_sent,
		 (unsigned long long)dp->pmtu_fragmented, (unsigned long long)dp->pmtu_segments_cut,
		 (unsigned long long)dp->udp_gro_bufs, (unsigned long long)dp->gro->glued,
		 (unsigned long long)dp->gro->written, (unsigned long long)dp->udp_send_errors,
		 (unsigned long long)dp->tun_write_errors, (unsigned long long)dp->tun_bad);
}

void datapath_free(struct datapath *dp)
{
	free(dp->arena);
	free(dp->rx);
	free(dp->tx);
	free(dp->gro);
	dp->arena = NULL;
	dp->rx = NULL;
	dp->tx = NULL;
	dp->gro = NULL;
}

static void write_glued(void *ctx, const struct vnet_hdr *h, const struct iovec *iov, int iovcnt);

void datapath_tun_ready(struct daemon *d)
{
	struct datapath *dp = &d->dp;
	unsigned want = dp->opt_tso ? TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_USO4 | TUN_F_USO6 : 0;
	unsigned got = tun_set_offloads(&d->tun, want);
	/* Gluing TCP needs only the virtio header (every kernel with it takes
	 * TCP GSO writes); UDP needs a kernel that knows UDP_L4, which its
	 * accepting USO shows. */
	bool glue_tcp = d->tun.vnet && dp->udp.gro;
	bool glue_udp = glue_tcp && (got & TUN_F_USO4);
	gro_init(dp->gro, glue_tcp, glue_udp, write_glued, d);
	/* Only decrypted packets reach the gluer. */
	dp->gro->sums_trusted = !dp->opt_verify_sums;
	log_info("offloads: TUN %s%s%s%s, gluing for TUN %s; UDP GSO %s, GRO %s; inner checksums %s",
		 d->tun.vnet ? "vnet" : "plain", got & TUN_F_CSUM ? " csum" : "", got & TUN_F_TSO4 ? " tso" : "",
		 got & TUN_F_USO4 ? " uso" : "", glue_udp ? "tcp+udp" : glue_tcp ? "tcp" : "off",
		 dp->udp.gso ? "on" : "off", dp->udp.gro ? "on" : "off",
		 !d->tun.vnet ? "left to the kernel" : dp->opt_verify_sums ? "verified" : "trusted (authenticated)");
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

/* ---- sending ------------------------------------------------------------ */

/* Why the kernel would not send a datagram, as the operator reads it. */
static enum drop_reason send_drop_reason(int err)
{
	switch (err) {
	case -ENETUNREACH:
	case -EHOSTUNREACH:
	case -ENETDOWN:
	case -EADDRNOTAVAIL:
	case -EDESTADDRREQ:
	case -EAFNOSUPPORT:
		return DROP_SEND_UNREACHABLE;
	case -EPERM:
	case -EACCES:
		return DROP_SEND_REFUSED;
	case -EAGAIN:
	case -ENOBUFS:
	case -ENOMEM:
		return DROP_SEND_BUFFER_FULL;
	case -EMSGSIZE:
		return DROP_SEND_TOO_BIG;
	default:
		return DROP_SEND_FAILED;
	}
}

static void read_udp_errors(struct daemon *d, struct peer *sent_to);

static void note_send_result(struct daemon *d, struct peer *peer, const struct endpoint *to, int err, unsigned notes)
{
	if ((notes & UDP_SOURCE_REFUSED) && peer) {
		/* Our address moved away: stop insisting on it. */
		char ep[ENDPOINT_TEXT_LEN];
		log_verbose("local source for %s is gone, letting routing choose", endpoint_str(to, ep));
		peer_forget_source(peer);
		d->dp.sources_forgotten++;
	}
	if (notes & UDP_SENT_PAST_UNCHECKED) {
		/* Our kernel's limit was one nobody checked: its refusal
		 * (on the error queue) teaches nothing. */
		d->dp.sent_past_unchecked++;
		read_udp_errors(d, peer);
	}
	if (notes & UDP_SENT_FRAGMENTED) {
		/* Our kernel said how much fits: the error queue has it. */
		d->dp.sent_fragmented++;
		read_udp_errors(d, peer);
	}
	if (err) {
		/* Unreachable networks and full buffers are part of life:
		 * count them by cause and peer, and say so, but not once per
		 * packet. */
		device_count_drop(d->dev, peer, send_drop_reason(err));
		d->dp.udp_send_errors++;
		/* Refusals that may be about our source port (ports.c
		 * decides). Only for a peer's datagrams: those go out on
		 * our own timers and traffic, never because of a stranger. */
		if (peer && (err == -EPERM || err == -ENETUNREACH))
			ports_send_refused(d, to);
		if (is_power_of_two(d->dp.udp_send_errors)) {
			char ep[ENDPOINT_TEXT_LEN];
			log_verbose("send to %s failed: %s (%llu send errors so far)", endpoint_str(to, ep),
				    strerror(-err), (unsigned long long)d->dp.udp_send_errors);
		}
	}
}

static void tx_report(void *ctx, struct peer *peer, const struct endpoint *to, int err, unsigned notes)
{
	note_send_result(ctx, peer, to, err, notes);
}

/* How many different sticky sources one round of route queries asks about. */
enum { SOURCE_CHECK_BATCH = 32 };

static void clear_source(struct endpoint *ep)
{
	ep->src_family = 0;
	ep->src_ifindex = 0;
	ep->src_checked = 0;
	memset(&ep->src, 0, sizeof(ep->src));
}

static bool same_peer_endpoint(const struct udp_tx_entry *e, const struct peer *peer, const struct endpoint *ep)
{
	return e->peer == peer && endpoint_same_remote(&e->to, ep) && endpoint_same_source(&e->to, ep);
}

/* Before datagrams leave: is each sticky source among entries e[0..n)
 * still one the route to its peer can use (netwatch.c, "Sticky sources")?
 * A source confirmed under the current routing generation is; any other
 * is asked about once, and where the route now leaves by another interface
 * it is forgotten for the peer and taken off the queued datagrams, which
 * then leave from the kernel's choice. Replies without a peer (cookie
 * replies) go back where their packet just arrived and are not checked. */
static void check_sources(struct daemon *d, struct udp_tx_entry *e, unsigned n)
{
	struct datapath *dp = &d->dp;
	if (!d->netwatch)
		return;
	uint32_t gen = netwatch_generation(d->netwatch);
	if (gen != dp->route_gen) {
		/* A network change: offloads are worth asking for again. */
		dp->route_gen = gen;
		udp_pair_reprobe(&d->ports.cur);
		pathmtu_forget_all(d);
	}
	for (;;) {
		struct endpoint eps[SOURCE_CHECK_BATCH];
		struct peer *peers[SOURCE_CHECK_BATCH];
		bool fits[SOURCE_CHECK_BATCH];
		unsigned k = 0;
		for (unsigned i = 0; i < n && k < SOURCE_CHECK_BATCH; i++) {
			if (!e[i].to.src_family || e[i].to.src_checked == gen || !e[i].peer)
				continue;
			unsigned j = 0;
			while (j < k && !same_peer_endpoint(&e[i], peers[j], &eps[j]))
				j++;
			if (j == k) {
				peers[k] = e[i].peer;
				eps[k++] = e[i].to;
			}
		}
		if (!k)
			return;
		netwatch_check_sources(d->netwatch, eps, fits, k, d->ports.fwmark);
		dp->sources_checked += k;
		for (unsigned j = 0; j < k; j++) {
			if (fits[j]) {
				peer_confirm_source(peers[j], &eps[j], gen);
			} else {
				char ep[ENDPOINT_TEXT_LEN];
				log_verbose("local source for %s no longer leaves by its interface, letting routing choose",
					    endpoint_str(&eps[j], ep));
				peer_forget_source(peers[j]);
				dp->sources_forgotten++;
			}
			for (unsigned i = 0; i < n; i++) {
				if (!same_peer_endpoint(&e[i], peers[j], &eps[j]))
					continue;
				if (fits[j])
					e[i].to.src_checked = gen;
				else
					clear_source(&e[i].to);
			}
		}
	}
}

/* Sends what is queued. */
static void send_queued(struct daemon *d)
{
	struct datapath *dp = &d->dp;
	check_sources(d, dp->tx->e, dp->tx->count);
	udp_tx_flush(dp->tx, &d->ports.cur, tx_report, d);
}

/* Sends what is queued; the tx arena is free again afterwards. */
static void flush_tx(struct daemon *d)
{
	struct datapath *dp = &d->dp;
	if (dp->tx->count)
		send_queued(d);
	dp->tx_used = 0;
}

void datapath_flush(struct daemon *d)
{
	flush_tx(d);
}

static bool in_tx_arena(const struct datapath *dp, const uint8_t *p)
{
	return p >= dp->tx_arena && p < dp->tx_arena + TX_ARENA;
}

/* Room for an IP packet of len bytes with the engine's headroom and
 * tailroom around it; flushes first if the arena is full. */
static uint8_t *tx_slot(struct daemon *d, size_t len)
{
	struct datapath *dp = &d->dp;
	size_t need = ALIGN64(MESSAGE_DATA_HEADROOM + len + MESSAGE_DATA_TAILROOM);
	if (dp->tx_used + need > TX_ARENA)
		flush_tx(d);
	uint8_t *slot = dp->tx_arena + dp->tx_used;
	dp->tx_used += need;
	return slot + MESSAGE_DATA_HEADROOM;
}

/* ---- struct device_io ------------------------------------------------- */

static void io_send(void *ctx, struct peer *peer, const struct endpoint *to, uint8_t *data, size_t len)
{
	struct daemon *d = ctx;
	struct datapath *dp = &d->dp;
	if (dp->send_fragmentable && peer) {
		/* An inner packet the path cannot carry whole (pathmtu.h). */
		if (dp->tx->count)
			send_queued(d);
		struct udp_tx_entry one = {.data = data, .len = len, .peer = peer, .to = *to};
		check_sources(d, &one, 1);
		int ret = udp_send_fragmentable(&d->ports.cur, &one.to, data, len, peer_path_mtu(peer, NULL, now_ns()));
		if (ret)
			note_send_result(d, peer, &one.to, ret, 0);
		return;
	}
	if (!peer && len <= MESSAGE_COOKIE_LEN && !in_tx_arena(dp, data)) {
		/* A cookie reply, from the engine's stack: under a flood there
		 * are tens of thousands a second, so they are copied and leave
		 * together, in one sendmmsg after the round's handshake work,
		 * rather than a system call each. */
		uint8_t *slot = tx_slot(d, len);
		memcpy(slot, data, len);
		data = slot;
	}
	if (in_tx_arena(dp, data)) {
		/* Ours until the flush: queue it. */
		if (udp_tx_add(dp->tx, peer, to, data, len))
			return;
		send_queued(d);
		udp_tx_add(dp->tx, peer, to, data, len);
		return;
	}
	/* The engine's own buffer, valid only now: what is queued goes
	 * first, then this. */
	if (dp->tx->count)
		send_queued(d);
	struct udp_tx_entry one = {.data = data, .len = len, .peer = peer, .to = *to};
	check_sources(d, &one, 1);
	unsigned notes;
	/* A path probe must leave whole or not at all. */
	int ret = udp_send_df(&d->ports.cur, &one.to, data, len, &notes, device_sending_path_probe(d->dev));
	if (ret || notes)
		note_send_result(d, peer, &one.to, ret, notes);
}

static void write_glued(void *ctx, const struct vnet_hdr *h, const struct iovec *iov, int iovcnt)
{
	struct daemon *d = ctx;
	if (tun_writev(&d->tun, h, iov, iovcnt) < 0)
		d->dp.tun_write_errors++;
}

static void io_deliver(void *ctx, struct peer *peer, uint8_t *data, size_t len)
{
	struct daemon *d = ctx;
	struct datapath *dp = &d->dp;
	(void)peer;
	/* In a receive buffer: held until the end of the batch for gluing. */
	if (data >= dp->udp_base && data < dp->udp_end) {
		gro_add(dp->gro, data, len);
		return;
	}
	if (tun_write(&d->tun, data, len) < 0)
		dp->tun_write_errors++;
}

static void io_event(void *ctx, const struct device_event *event)
{
	/* The one place where the engine's events become log lines and
	 * the operator's events (events.h keeps only authenticated ones). */
	log_device_event(event);
	events_from_device(ctx, event);
	pathmtu_on_device_event(ctx, event);
	names_on_device_event(ctx, event);
	ports_on_device_event(ctx, event);
}

static void fill_random(void *buf, size_t len)
{
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

/* Small draws come from a pool filled by getrandom in blocks: a flood's
 * cookie replies need 24 bytes each (their nonce), and a system call apiece
 * was a good part of their cost. Bytes handed out are wiped from the pool,
 * so it holds only what nobody has used; it is filled on first use, long
 * after roamd's last fork (the keeper's), so no two processes share it. */
static void io_random(void *ctx, void *buf, size_t len)
{
	struct datapath *dp = &((struct daemon *)ctx)->dp;
	if (len > sizeof(dp->random_pool) / 4) {
		fill_random(buf, len);
		return;
	}
	if (dp->random_left < len) {
		fill_random(dp->random_pool, sizeof(dp->random_pool));
		dp->random_left = sizeof(dp->random_pool);
	}
	uint8_t *from = dp->random_pool + sizeof(dp->random_pool) - dp->random_left;
	memcpy(buf, from, len);
	explicit_bzero(from, len);
	dp->random_left -= len;
}

static uint64_t io_wall_ns(void *ctx)
{
	(void)ctx;
	return wall_ns();
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

/* One IP packet in a tx slot, to the engine; to_peer when the caller
 * already knows its peer (pathmtu_fit looked it up). */
static void send_fitting_packet(struct daemon *d, uint8_t *pkt, size_t len, struct peer *to_peer, uint64_t now)
{
	enum drop_reason drop;
	struct peer *peer;
	enum send_result sent = to_peer ? peer_send_packet(to_peer, pkt, len, now, &drop)
					: device_send_packet(d->dev, pkt, len, now, &drop, &peer);
	if (sent == SEND_DROPPED && (drop == DROP_NO_ROUTE || drop == DROP_NO_ENDPOINT))
		send_unreachable(d, pkt, len, now);
}

/* One IP packet in a tx slot: fitted to its peer's path first, while any
 * peer has a path MTU (pathmtu.h). */
static void send_packet(struct daemon *d, uint8_t *pkt, size_t len, uint64_t now)
{
	unsigned limit;
	struct peer *peer;
	if (!device_path_mtu_peers(d->dev)) {
		send_fitting_packet(d, pkt, len, NULL, now);
		return;
	}
	switch (pathmtu_fit(d, pkt, len, &limit, &peer, now)) {
	case PATH_FITS:
		send_fitting_packet(d, pkt, len, peer, now);
		break;
	case PATH_REFUSED:
		break;
	case PATH_FRAGMENT_INNER:
		for (size_t off = 0, n;; off += n - 20) {
			uint8_t *frag = tx_slot(d, limit);
			if (!(n = ip4_fragment(pkt, len, off, limit - 20, frag)))
				break;
			send_fitting_packet(d, frag, n, peer, now);
		}
		break;
	case PATH_FRAGMENT_OUTER:
		d->dp.send_fragmentable = true;
		send_fitting_packet(d, pkt, len, peer, now);
		d->dp.send_fragmentable = false;
		break;
	}
}

/* One read from the TUN device: a packet, or a super-packet to cut. */
static void from_tun_one(struct daemon *d, const struct vnet_hdr *h, size_t n, uint64_t now)
{
	struct datapath *dp = &d->dp;
	if (h->gso_type == VNET_GSO_NONE) {
		uint8_t *pkt = tx_slot(d, n);
		if (!offload_copy_finish_csum(pkt, dp->tun_buf, n, h)) {
			dp->tun_bad++;
			return;
		}
		send_packet(d, pkt, n, now);
		return;
	}
	struct gso_iter it;
	if (gso_iter_init(&it, dp->tun_buf, n, h) < 0) {
		dp->tun_bad++;
		return;
	}
	if (device_path_mtu_peers(d->dev))
		pathmtu_fit_segments(d, dp->tun_buf, n, &it, now);
	size_t len;
	while ((len = gso_iter_peek(&it))) {
		uint8_t *pkt = tx_slot(d, len);
		gso_iter_next(&it, pkt);
		send_packet(d, pkt, len, now);
	}
	dp->tun_super++;
}

bool datapath_from_tun(struct daemon *d)
{
	struct datapath *dp = &d->dp;
	uint64_t now = now_ns();
	bool alive = true;
	for (int i = 0; i < TUN_BUDGET; i++) {
		struct vnet_hdr h;
		ssize_t n = tun_read(&d->tun, &h, dp->tun_buf, PKT_MAX);
		if (n == -EAGAIN)
			break;
		if (n < 0) {
			/* EBADFD: the device was deleted under us. */
			if (n != -EBADFD && n != -ENXIO && n != -ENODEV)
				log_error("reading %s: %s", d->ifname, strerror((int)-n));
			alive = false;
			break;
		}
		if (n > 0)
			from_tun_one(d, &h, (size_t)n, now);
	}
	flush_tx(d);
	return alive;
}

/* The handshake sockets too: the kernel delivers an ICMP error about a
 * datagram we sent to the socket its lookup of the quoted addresses finds,
 * and in a reuseport group that lookup has no datagram to run the steering
 * program on, so it picks either socket by a hash. */
static void read_udp_errors(struct daemon *d, struct peer *sent_to)
{
	uint64_t now = now_ns();
	const struct udp_pair *cur = &d->ports.cur;
	int fds[] = {cur->fd4, cur->fd6, cur->hs4, cur->hs6};
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			pathmtu_read_errors(d, fds[i], sent_to, now);
}

void datapath_udp_errors(struct daemon *d)
{
	read_udp_errors(d, NULL);
}

/* Data and cookie replies now; handshake messages wait behind the data
 * (handshake_work.c). */
static void receive_datagram(struct daemon *d, const struct endpoint *from, uint8_t *buf, size_t len, uint64_t now)
{
	if (!handshake_work_defer(d, from, buf, len, now))
		device_receive(d->dev, from, buf, len, now);
}

/* Reads up to rounds batches from fd; with handshakes_only, no more than
 * the handshake queue has room for. */
static void read_udp(struct daemon *d, int fd, int rounds, bool handshakes_only)
{
	struct datapath *dp = &d->dp;
	for (int round = 0; round < rounds; round++) {
		unsigned want = UDP_BATCH;
		if (handshakes_only) {
			unsigned room = handshake_work_room(d);
			if (!room)
				break;
			if (room < want)
				want = room;
		}
		int n = udp_recv_batch(dp->rx, fd, dp->udp_bufs, PKT_BUF_SIZE, want);
		if (n <= 0)
			break;
		uint64_t now = now_ns();
		for (int i = 0; i < n; i++) {
			struct endpoint from;
			size_t gso;
			size_t len = udp_rx_datagram(dp->rx, (unsigned)i, &from, &gso);
			uint8_t *buf = dp->udp_bufs[i];
			if (!gso || gso >= len) {
				if (len)
					receive_datagram(d, &from, buf, len, now);
				continue;
			}
			/* The kernel glued datagrams of one sender: all gso
			 * bytes long but the last. */
			dp->udp_gro_bufs++;
			for (size_t off = 0; off < len; off += gso)
				receive_datagram(d, &from, buf + off, len - off < gso ? len - off : gso, now);
		}
		/* The buffers are reused by the next round. */
		gro_flush(dp->gro);
		if ((unsigned)n < want)
			break;
	}
	if (dp->tx->count)
		flush_tx(d);
}

void datapath_from_udp(struct daemon *d, int fd)
{
	read_udp(d, fd, handshake_work_pending(d) ? UDP_ROUNDS_BEHIND_HANDSHAKES : UDP_ROUNDS, false);
}

void datapath_from_udp_handshakes(struct daemon *d, int fd)
{
	read_udp(d, fd, UDP_ROUNDS_BEHIND_HANDSHAKES, true);
}
