/* Path MTU at the edge (pathmtu.h). */
#include <string.h>

#include "daemon.h"
#include "ip_header.h"
#include "log.h"
#include "netwatch.h"
#include "offload.h"
#include "pathmtu.h"

/* Errors taken off a socket per call: the rest wait for the next round. */
enum { ERRORS_PER_ROUND = 64 };

static const char *origin_name(enum path_mtu_origin origin)
{
	switch (origin) {
	case PATH_MTU_ICMP:
		return "ICMP";
	case PATH_MTU_LOCAL:
		return "the outgoing interface";
	case PATH_MTU_PROBE:
		return "a probe";
	default:
		return "the interface";
	}
}

/* An IPv4 packet's "don't fragment" flag. */
static bool ip4_df(const uint8_t *pkt)
{
	return pkt[IP4_FRAG] & IP4_DF;
}

static bool same_address(const struct endpoint *a, const struct endpoint *b)
{
	size_t la, lb;
	const uint8_t *pa = endpoint_addr_bytes(a, &la), *pb = endpoint_addr_bytes(b, &lb);
	return a->addr.sa.sa_family == b->addr.sa.sa_family && la == lb && !memcmp(pa, pb, la);
}

static void learn(struct daemon *d, const struct udp_error *e, struct peer *sent_to, uint64_t now)
{
	struct datapath *dp = &d->dp;
	struct peer *peer;
	if (e->kind == UDP_ERROR_LOCAL_TOO_BIG) {
		/* Our kernel quotes nothing, but it speaks of the send just
		 * refused, whose peer the caller knows. (IPv4 names no port
		 * on an unconnected socket: the address must do.) */
		peer = sent_to;
		if (!peer || !same_address(peer_endpoint(peer), &e->to))
			return;
		/* The kernel's value may be one it took from an error we
		 * refused: udp.c sends past it, and we do not fit to it. */
		if (udp_limit_unchecked(&d->ports.cur, &e->to, now)) {
			dp->pmtu_local_unchecked++;
			return;
		}
		/* Or from an error we never saw: the kernel takes one for any
		 * socket of this host whose address and port it names, and keeps
		 * it across our restart. A learnt value below what we checked
		 * ourselves (or with nothing checked) is not ours to fit to. */
		enum path_mtu_origin known;
		unsigned checked = peer_path_mtu(peer, &known, now);
		bool consistent = (known == PATH_MTU_ICMP || known == PATH_MTU_PROBE) && checked && checked <= e->mtu;
		if (!consistent && netwatch_route_mtu_is_learnt(d->netwatch, &e->to, d->ports.fwmark)) {
			udp_note_unchecked_limit(&d->ports.cur, &e->to, now);
			dp->pmtu_local_unchecked++;
			return;
		}
	} else {
		/* The kernel believed this error whatever we make of it: its
		 * path MTU for the address is unchecked until we check one. */
		if (!icmp_limiter_allow(&dp->pmtu_limiter, now)) {
			dp->pmtu_reports_limited++;
			udp_note_unchecked_limit(&d->ports.cur, &e->to, now);
			return;
		}
		peer = device_peer_for_quoted_datagram(d->dev, &e->to, e->quoted, e->quoted_len);
		if (!peer) {
			/* Nothing we sent, or too little of it quoted to tell:
			 * a forger's, perhaps. */
			dp->pmtu_reports_rejected++;
			udp_note_unchecked_limit(&d->ports.cur, &e->to, now);
			return;
		}
	}
	dp->pmtu_reports_accepted++;
	enum path_mtu_origin origin = e->kind == UDP_ERROR_LOCAL_TOO_BIG ? PATH_MTU_LOCAL : PATH_MTU_ICMP;
	unsigned before = peer_path_mtu(peer, NULL, now);
	unsigned after = peer_set_path_mtu(peer, e->mtu, origin, now);
	if (after != before) {
		/* What the path just lost, its sender resends now. */
		if (after < before || !before)
			pathmtu_tell_last_sender(d, peer, now);
		char p[24], ep[ENDPOINT_TEXT_LEN];
		/* The peer's endpoint: our kernel's own refusals name no port. */
		log_info("%s: path MTU to %s is %u (%s said %u): inner packets up to %u", peer_str(peer, p),
			 endpoint_str(peer_endpoint(peer), ep), after, origin_name(origin), e->mtu,
			 peer_path_inner_limit(peer, now));
	}
}

/* Tells the sender of pkt (its first len bytes will do) that at most limit
 * bytes pass, as a router on a smaller link does, rate-limited; only where
 * it may be told: IPv4 with DF (without, roamd fragments it), IPv6 when
 * limit is at least 1280 (IPv6 promises every link that much). */
static void tell_too_big(struct daemon *d, const uint8_t *pkt, size_t len, unsigned limit, uint64_t now)
{
	struct datapath *dp = &d->dp;
	if (ip_version(pkt) == 6 ? limit < 1280 : !ip4_df(pkt))
		return;
	size_t n = icmp_build_too_big(pkt, len, limit, dp->icmp_buf);
	if (n && icmp_limiter_allow(&dp->icmp_limiter, now) && tun_write(&d->tun, dp->icmp_buf, n) == 0)
		dp->icmp_too_big_sent++;
}

void pathmtu_tell_last_sender(struct daemon *d, struct peer *peer, uint64_t now)
{
	const uint8_t *hdr;
	size_t n, total;
	unsigned limit = peer_path_inner_limit(peer, now);
	if (limit && peer_last_large_packet(peer, &hdr, &n, &total) && total > limit && n >= IP4_HDR_LEN)
		tell_too_big(d, hdr, n, limit, now);
}

void pathmtu_on_device_event(struct daemon *d, const struct device_event *ev)
{
	/* Only a value in force after the probe; pathmtu_tell_last_sender
	 * says nothing unless that packet was larger than it. */
	if (ev->type == EVENT_PATH_PROBED && ev->path_mtu && d->dp.udp.pmtu)
		pathmtu_tell_last_sender(d, ev->peer, ev->now);
}

void pathmtu_read_errors(struct daemon *d, int fd, struct peer *sent_to, uint64_t now)
{
	struct udp_error e;
	for (int i = 0; i < ERRORS_PER_ROUND && udp_read_error(fd, &e) > 0; i++) {
		if (e.kind == UDP_ERROR_OTHER || !d->dp.udp.pmtu)
			continue;
		learn(d, &e, sent_to, now);
	}
}

enum path_fit pathmtu_fit(struct daemon *d, const uint8_t *pkt, size_t len, unsigned *limit, struct peer **peer_out,
			  uint64_t now)
{
	struct datapath *dp = &d->dp;
	int family;
	const uint8_t *dst;
	*peer_out = NULL;
	if (len >= IP4_HDR_LEN && pkt[IP_VERSION_BYTE] >> 4 == 4)
		family = AF_INET, dst = pkt + IP4_DST;
	else if (len >= IP6_HDR_LEN && pkt[IP_VERSION_BYTE] >> 4 == 6)
		family = AF_INET6, dst = pkt + IP6_DST;
	else
		return PATH_FITS;
	struct peer *peer = device_route_lookup(d->dev, family, dst);
	*peer_out = peer;
	*limit = peer ? peer_path_inner_limit(peer, now) : 0;
	if (!*limit || len <= *limit)
		return PATH_FITS;
	if (family == AF_INET && !ip4_df(pkt)) {
		/* No DF: the sender lets routers fragment it. */
		dp->pmtu_fragmented++;
		return (pkt[0] & 0x0f) == 5 ? PATH_FRAGMENT_INNER : PATH_FRAGMENT_OUTER;
	}
	if (family == AF_INET6 && *limit < 1280) {
		dp->pmtu_fragmented++;
		return PATH_FRAGMENT_OUTER;
	}
	device_count_drop(d->dev, peer, DROP_PATH_TOO_BIG);
	tell_too_big(d, pkt, len, *limit, now);
	return PATH_REFUSED;
}

void pathmtu_fit_segments(struct daemon *d, const uint8_t *pkt, size_t len, struct gso_iter *it, uint64_t now)
{
	unsigned limit;
	if (it->proto != IPPROTO_TCP || len < 20)
		return;
	int family = it->v6 ? AF_INET6 : AF_INET;
	struct peer *peer = device_route_lookup(d->dev, family, it->v6 ? pkt + 24 : pkt + 16);
	limit = peer ? peer_path_inner_limit(peer, now) : 0;
	if (!limit || it->hlen + it->mss <= limit || limit <= it->hlen + 64)
		return;
	/* TCP segments can be any size: cut them to fit. And tell the sender,
	 * as for a single packet: its stack then sends segments that fit
	 * from the start and, above all, retransmits at once what the path
	 * lost before we knew its size, instead of waiting for its timer. */
	it->mss = limit - it->hlen;
	d->dp.pmtu_segments_cut++;
	tell_too_big(d, pkt, len, limit, now);
}

void pathmtu_forget_all(struct daemon *d)
{
	/* Even without a learnt value: each path is to be probed afresh. */
	device_forget_paths(d->dev);
}
