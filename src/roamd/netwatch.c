/* netwatch: the host's network changed (rtnetlink), so tell the peers now.
 *
 * Timing. A roam arrives as a burst of messages: an address added, routes
 * added or replaced, the old address deleted, spread over a few to some tens
 * of milliseconds. A round runs once the burst has been quiet for NW_QUIET,
 * but never later than NW_MAX_DELAY after its first message, so the far side
 * hears from us well within 200 ms of the change. If a round ran before the
 * burst was over (before the default route moved, say), what arrives after
 * it gets a round of its own: the last change always gets its own round.
 *
 * Rate. Rounds are at least NW_MIN_GAP apart and, beyond a burst of a few,
 * at most one per NW_RATE (a generic cell rate algorithm), so a flapping
 * route costs each peer a handful of keepalives a second and no more. The
 * engine adds its own limit on handshake initiations (one per REKEY_TIMEOUT
 * per peer), so a round never forces one on a peer that just sent one.
 *
 * Sticky sources. Each peer's endpoint remembers the local address we last
 * heard it on, and replies leave from there. After a change that address
 * may be gone, or still ours but on a link the path no longer takes (the
 * phone kept its Wi-Fi address, the default route moved to LTE). A datagram
 * sent from it then leaves by the new link with the old address, and on a
 * link with ARP the kernel asks for the new gateway "tell <old address>":
 * a gateway that filters by source ignores that, and everything queued for
 * the gateway waits a whole ARP retry (a second). Forgetting every source
 * would be wrong too: a server answering from a service address (on lo,
 * say) would start answering from an interface address and its clients
 * would follow it there, or their NATs would drop the answer. So, as the
 * kernel's WireGuard does on every send, a source is used only while the
 * route from it to the peer leaves by the interface it was learnt on.
 * netwatch keeps a routing generation that moves with every change it
 * reads; the data path asks for it before each send (reading any news
 * still waiting, so no change slips between a route moving and our next
 * datagram), and checks a peer's source again, with a route query, when
 * it was last confirmed under an older generation (netwatch_check_sources).
 * That part runs with ROAMD_NO_NETWATCH=1 too: only the notification
 * rounds are switched off there.
 *
 * Noise. rtnetlink says more than we want to hear. Our own interface is
 * ignored entirely: wg-quick adding routes or addresses to it, or its
 * fwmark table, must not make us react to ourselves. For links and
 * addresses netwatch keeps what it knows (a dump at start, then the events)
 * and reacts only when something really changed: an IPv6 router
 * advertisement refreshes address lifetimes every few minutes with an
 * RTM_NEWADDR that changes nothing, and Wi-Fi drivers report scans as
 * RTM_NEWLINK. Cached routes, broadcast, multicast and anycast routes, and
 * IPv6 link-local addresses and routes (they come and go with their link,
 * whose state we follow) do not decide where our packets go. Routing rules do (Android switches
 * networks by changing rules), so rule changes count. */
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "crypto.h"
#include "daemon.h"
#include "log.h"
#include "names.h"
#include "netwatch.h"

enum {
	/* Link dumps carry statistics; a truncated message would be lost. */
	NW_BUF_SIZE = 32768,
	/* Datagrams per wake-up: a storm of events must not starve the data
	 * path; the loop brings us back for the rest. */
	NW_READ_ROUNDS = 64,
	/* What we remember. Beyond it, an unknown link or address that goes
	 * away counts as a change: more rounds, never a missed one. */
	NW_MAX_LINKS = 256,
	NW_MAX_ADDRS = 1024,
	/* A burst of thousands of routes (a routing daemon's full table) must
	 * not overflow the socket: lost events cost a resync. */
	NW_RCVBUF = 1 << 20,
	NW_ATTR_MAX = 64,
	NW_BURST = 3,
	/* Route queries per datagram, and room for each. */
	NW_QUERY_BATCH = 32,
	NW_QUERY_MSG = 128,
	NW_QUERY_RCVBUF = 256 << 10,
};

/* The kernel answers a route query while we send it; this only bounds
 * the wait if it somehow does not. */
#define NW_QUERY_TIMEOUT_US 100000

#define NW_QUIET (20 * NSEC_PER_MSEC)
#define NW_MAX_DELAY (50 * NSEC_PER_MSEC)
#define NW_MIN_GAP (100 * NSEC_PER_MSEC)
#define NW_RATE (250 * NSEC_PER_MSEC)

enum nw_kind { NW_LINK, NW_ADDR, NW_ROUTE, NW_RULE, NW_LOST, NW_KINDS };

struct nw_link {
	unsigned ifindex;
	bool carries;	/* up and running: it can carry our packets */
};

/* The flags that decide whether an address can be a source, and which. */
#define NW_ADDR_STATE (IFA_F_TENTATIVE | IFA_F_OPTIMISTIC | IFA_F_DADFAILED | IFA_F_DEPRECATED)

struct nw_addr {
	unsigned ifindex;
	uint8_t family, prefixlen;
	uint32_t state;		/* flags & NW_ADDR_STATE */
	uint8_t addr[16];	/* IPv4 in the first 4 bytes, the rest zero */
};

enum nw_dump { DUMP_NONE, DUMP_LINKS, DUMP_ADDRS };

struct netwatch {
	struct mnl_socket *nl;
	/* For route queries: no subscriptions, so only our answers arrive. */
	struct mnl_socket *query;
	uint32_t query_seq;
	uint8_t *buf;
	/* The netlink socket and timer_fd, behind one fd for the loop. */
	int epoll_fd, timer_fd;
	unsigned own_ifindex, portid;
	uint32_t seq;

	/* What the host has: learnt from dumps (silently), then kept up to
	 * date by the events. */
	enum nw_dump dumping;
	uint32_t dump_seq;
	bool resync;	/* events were lost during a dump: start over after it */
	struct nw_link links[NW_MAX_LINKS];
	unsigned n_links;
	struct nw_addr addrs[NW_MAX_ADDRS];
	unsigned n_addrs;

	/* The next round. */
	bool pending;
	uint64_t first_change, due;
	uint64_t armed;	/* what timer_fd is set to (0 = off) */
	unsigned changes[NW_KINDS];
	/* Rate: the last round and the GCRA's theoretical arrival time. */
	bool has_round;
	uint64_t last_round, tat;
	/* Rounds are run (not with ROAMD_NO_NETWATCH); the routing
	 * generation moves either way (never 0: that means unchecked). */
	bool notify;
	uint32_t generation;
};

/* ---- scheduling --------------------------------------------------------- */

static uint64_t max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

/* The earliest the next round may run under the rate limits. */
static uint64_t nw_earliest(const struct netwatch *nw)
{
	if (!nw->has_round)
		return 0;
	uint64_t tolerance = (NW_BURST - 1) * NW_RATE;
	return max_u64(nw->last_round + NW_MIN_GAP, nw->tat > tolerance ? nw->tat - tolerance : 0);
}

static void nw_changed(struct netwatch *nw, enum nw_kind kind, uint64_t now)
{
	if (++nw->generation == 0)
		nw->generation = 1;
	nw->changes[kind]++;
	if (!nw->pending) {
		nw->pending = true;
		nw->first_change = now;
	}
	uint64_t due = now + NW_QUIET;
	if (due > nw->first_change + NW_MAX_DELAY)
		due = nw->first_change + NW_MAX_DELAY;
	nw->due = max_u64(due, nw_earliest(nw));
}

static void nw_arm(struct netwatch *nw, uint64_t when)
{
	if (when == nw->armed)
		return;
	struct itimerspec its = {
		.it_value = {.tv_sec = (time_t)(when / NSEC_PER_SEC), .tv_nsec = (long)(when % NSEC_PER_SEC)},
	};
	if (timerfd_settime(nw->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
		nw->armed = when;
}

/* ---- what the host has -------------------------------------------------- */

static int nw_request_dump(struct netwatch *nw, uint16_t type)
{
	uint8_t buf[64];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = ++nw->seq;
	if (type == RTM_GETLINK) {
		struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
		ifi->ifi_family = AF_UNSPEC;
	} else {
		struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
		ifa->ifa_family = AF_UNSPEC;
	}
	if (mnl_socket_sendto(nw->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	nw->dump_seq = nlh->nlmsg_seq;
	return 0;
}

/* Forget everything and learn it again: links first, then addresses (the
 * kernel runs one dump per socket at a time). Without it we still work,
 * only with a round for some changes that are none. */
static void nw_start_baseline(struct netwatch *nw)
{
	nw->n_links = nw->n_addrs = 0;
	nw->resync = false;
	int ret = nw_request_dump(nw, RTM_GETLINK);
	nw->dumping = ret ? DUMP_NONE : DUMP_LINKS;
	if (ret)
		log_verbose("netwatch: cannot dump links: %s", strerror(-ret));
}

static void nw_dump_done(struct netwatch *nw, bool failed)
{
	if (nw->resync) {
		nw_start_baseline(nw);
		return;
	}
	if (!failed && nw->dumping == DUMP_LINKS) {
		int ret = nw_request_dump(nw, RTM_GETADDR);
		if (!ret) {
			nw->dumping = DUMP_ADDRS;
			return;
		}
		log_verbose("netwatch: cannot dump addresses: %s", strerror(-ret));
	}
	nw->dumping = DUMP_NONE;
}

/* The kernel dropped events (our socket was full): anything may have
 * changed, and what we remember may be wrong. */
static void nw_lost(struct netwatch *nw, uint64_t now)
{
	nw_changed(nw, NW_LOST, now);
	if (nw->dumping != DUMP_NONE)
		nw->resync = true;
	else
		nw_start_baseline(nw);
}

static int nw_attr(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	uint16_t type = mnl_attr_get_type(attr);
	if (type < NW_ATTR_MAX)
		tb[type] = attr;
	return MNL_CB_OK;
}

static const char *nw_ifname(unsigned ifindex, char buf[IF_NAMESIZE])
{
	if (!if_indextoname(ifindex, buf))
		snprintf(buf, IF_NAMESIZE, "#%u", ifindex);
	return buf;
}

static void nw_link(struct netwatch *nw, const struct nlmsghdr *nlh, bool baseline, uint64_t now)
{
	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifinfomsg)))
		return;
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	unsigned ifindex = (unsigned)ifi->ifi_index;
	if (!ifindex || ifindex == nw->own_ifindex)
		return;
	bool del = nlh->nlmsg_type == RTM_DELLINK;
	bool carries = !del && (ifi->ifi_flags & (IFF_UP | IFF_RUNNING)) == (IFF_UP | IFF_RUNNING);
	struct nw_link *l = NULL;
	for (unsigned i = 0; i < nw->n_links; i++)
		if (nw->links[i].ifindex == ifindex)
			l = &nw->links[i];
	/* A link that never carried anything takes no path away with it, nor
	 * brings one by appearing down. */
	bool changed = l ? l->carries != carries : del || carries;
	if (del) {
		if (l)
			*l = nw->links[--nw->n_links];
	} else if (l) {
		l->carries = carries;
	} else if (nw->n_links < NW_MAX_LINKS) {
		nw->links[nw->n_links++] = (struct nw_link){.ifindex = ifindex, .carries = carries};
	}
	if (changed && !baseline) {
		if (log_enabled(LOG_LEVEL_VERBOSE)) {
			char name[IF_NAMESIZE];
			log_verbose("netwatch: link %s %s", nw_ifname(ifindex, name),
				    del ? "deleted" : carries ? "up" : "down");
		}
		nw_changed(nw, NW_LINK, now);
	}
}

/* A source address, or about to be one (optimistic DAD). */
static bool addr_usable(uint32_t state)
{
	if (state & IFA_F_DADFAILED)
		return false;
	return !(state & IFA_F_TENTATIVE) || (state & IFA_F_OPTIMISTIC);
}

static void nw_addr(struct netwatch *nw, const struct nlmsghdr *nlh, bool baseline, uint64_t now)
{
	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifaddrmsg)))
		return;
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	/* Loopback addresses (host scope) never carry our packets. */
	if (ifa->ifa_index == nw->own_ifindex || ifa->ifa_scope == RT_SCOPE_HOST)
		return;
	if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6)
		return;
	/* IPv6 link-local addresses follow their link (DAD finishes a second
	 * or two after it comes up, a second event for the same change). */
	if (ifa->ifa_family == AF_INET6 && ifa->ifa_scope == RT_SCOPE_LINK)
		return;
	const struct nlattr *tb[NW_ATTR_MAX] = {0};
	if (mnl_attr_parse(nlh, sizeof(*ifa), nw_attr, tb) < 0)
		return;
	/* IFA_LOCAL is ours; IFA_ADDRESS is the far end on point-to-point
	 * links (and the same as IFA_LOCAL elsewhere; IPv6 has only it). */
	const struct nlattr *a = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	size_t alen = ifa->ifa_family == AF_INET ? 4 : 16;
	if (!a || mnl_attr_get_payload_len(a) != alen)
		return;
	uint32_t flags = ifa->ifa_flags;
	if (tb[IFA_FLAGS] && mnl_attr_validate(tb[IFA_FLAGS], MNL_TYPE_U32) == 0)
		flags = mnl_attr_get_u32(tb[IFA_FLAGS]);
	struct nw_addr key = {
		.ifindex = ifa->ifa_index,
		.family = ifa->ifa_family,
		.prefixlen = ifa->ifa_prefixlen,
		.state = flags & NW_ADDR_STATE,
	};
	memcpy(key.addr, mnl_attr_get_payload(a), alen);

	struct nw_addr *e = NULL;
	for (unsigned i = 0; i < nw->n_addrs && !e; i++) {
		struct nw_addr *x = &nw->addrs[i];
		if (x->ifindex == key.ifindex && x->family == key.family && x->prefixlen == key.prefixlen &&
		    !memcmp(x->addr, key.addr, sizeof(key.addr)))
			e = x;
	}
	bool del = nlh->nlmsg_type == RTM_DELADDR;
	bool changed;
	if (del) {
		changed = !e || addr_usable(e->state);
		if (e)
			*e = nw->addrs[--nw->n_addrs];
	} else if (e) {
		/* Same state: a lifetime refresh (router advertisements). */
		changed = e->state != key.state && (addr_usable(e->state) || addr_usable(key.state));
		e->state = key.state;
	} else {
		/* A tentative address counts once duplicate address detection
		 * lets it be used. */
		changed = addr_usable(key.state);
		if (nw->n_addrs < NW_MAX_ADDRS)
			nw->addrs[nw->n_addrs++] = key;
	}
	if (changed && !baseline) {
		if (log_enabled(LOG_LEVEL_VERBOSE)) {
			char text[INET6_ADDRSTRLEN], name[IF_NAMESIZE];
			inet_ntop(key.family, key.addr, text, sizeof(text));
			log_verbose("netwatch: address %s/%u %s on %s", text, key.prefixlen,
				    del ? "deleted" : e ? "changed" : "added", nw_ifname(key.ifindex, name));
		}
		nw_changed(nw, NW_ADDR, now);
	}
}

/* Every next hop of the route goes through our own interface. */
static bool route_is_ours(const struct netwatch *nw, const struct nlattr *const *tb)
{
	if (tb[RTA_OIF] && mnl_attr_validate(tb[RTA_OIF], MNL_TYPE_U32) == 0)
		return mnl_attr_get_u32(tb[RTA_OIF]) == nw->own_ifindex;
	if (!tb[RTA_MULTIPATH])
		return false;
	const struct rtnexthop *nh = mnl_attr_get_payload(tb[RTA_MULTIPATH]);
	int len = (int)mnl_attr_get_payload_len(tb[RTA_MULTIPATH]);
	bool any = false;
	while (RTNH_OK(nh, len)) {
		if ((unsigned)nh->rtnh_ifindex != nw->own_ifindex)
			return false;
		any = true;
		len -= (int)RTNH_ALIGN(nh->rtnh_len);
		nh = RTNH_NEXT(nh);
	}
	return any;
}

static void nw_route(struct netwatch *nw, const struct nlmsghdr *nlh, uint64_t now)
{
	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(struct rtmsg)))
		return;
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	if (rtm->rtm_family != AF_INET && rtm->rtm_family != AF_INET6)
		return;
	if (rtm->rtm_flags & RTM_F_CLONED)
		return;
	switch (rtm->rtm_type) {
	case RTN_UNICAST:
	case RTN_LOCAL:
	case RTN_BLACKHOLE:
	case RTN_UNREACHABLE:
	case RTN_PROHIBIT:
	case RTN_THROW:
		break;
	default:
		return;	/* broadcast, multicast, anycast: not our path */
	}
	const struct nlattr *tb[NW_ATTR_MAX] = {0};
	if (mnl_attr_parse(nlh, sizeof(*rtm), nw_attr, tb) < 0 || route_is_ours(nw, tb))
		return;
	if (rtm->rtm_family == AF_INET6 && tb[RTA_DST] && mnl_attr_get_payload_len(tb[RTA_DST]) == 16 &&
	    IN6_IS_ADDR_LINKLOCAL((const struct in6_addr *)mnl_attr_get_payload(tb[RTA_DST])))
		return;
	if (log_enabled(LOG_LEVEL_VERBOSE)) {
		char text[INET6_ADDRSTRLEN] = "default";
		if (tb[RTA_DST] && mnl_attr_get_payload_len(tb[RTA_DST]) == (rtm->rtm_family == AF_INET ? 4u : 16u))
			inet_ntop(rtm->rtm_family, mnl_attr_get_payload(tb[RTA_DST]), text, sizeof(text));
		log_verbose("netwatch: route %s/%u %s", text, rtm->rtm_dst_len,
			    nlh->nlmsg_type == RTM_DELROUTE ? "deleted" : "added or replaced");
	}
	nw_changed(nw, NW_ROUTE, now);
}

static void nw_message(struct netwatch *nw, const struct nlmsghdr *nlh, uint64_t now)
{
	/* Answers to our dumps carry our port id and the dump's sequence
	 * number; events carry whatever the request that caused them had,
	 * never our port id (we send nothing else). */
	bool baseline = nw->dumping != DUMP_NONE && nlh->nlmsg_pid == nw->portid && nlh->nlmsg_seq == nw->dump_seq;
	switch (nlh->nlmsg_type) {
	case NLMSG_DONE:
	case NLMSG_ERROR:
		if (baseline)
			nw_dump_done(nw, nlh->nlmsg_type == NLMSG_ERROR);
		break;
	case RTM_NEWLINK:
	case RTM_DELLINK:
		nw_link(nw, nlh, baseline, now);
		break;
	case RTM_NEWADDR:
	case RTM_DELADDR:
		nw_addr(nw, nlh, baseline, now);
		break;
	case RTM_NEWROUTE:
	case RTM_DELROUTE:
		if (!baseline)
			nw_route(nw, nlh, now);
		break;
	case RTM_NEWRULE:
	case RTM_DELRULE:
		if (!baseline) {
			log_verbose("netwatch: routing rule %s", nlh->nlmsg_type == RTM_NEWRULE ? "added" : "deleted");
			nw_changed(nw, NW_RULE, now);
		}
		break;
	default:
		break;
	}
}

/* A whole message at nlh, within the n bytes left of the datagram. Not
 * libmnl's mnl_nlmsg_ok: it compares the length as a signed int, so a
 * length above 2 GiB passes it (tests/unit/test_netwatch.c). */
static bool nw_message_ok(const struct nlmsghdr *nlh, size_t n)
{
	return n >= sizeof(*nlh) && nlh->nlmsg_len >= sizeof(*nlh) && nlh->nlmsg_len <= n;
}

/* The message after nlh; n becomes what is left after it (padding too). */
static const struct nlmsghdr *nw_next_message(const struct nlmsghdr *nlh, size_t *n)
{
	size_t step = NLMSG_ALIGN(nlh->nlmsg_len);
	if (step > *n)
		step = *n;
	*n -= step;
	return (const struct nlmsghdr *)((const char *)nlh + step);
}

static void nw_read(struct netwatch *nw)
{
	for (int i = 0; i < NW_READ_ROUNDS; i++) {
		ssize_t n = mnl_socket_recvfrom(nw->nl, nw->buf, NW_BUF_SIZE);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* ENOBUFS: the kernel dropped events; ENOSPC: libmnl
			 * saw a truncated datagram. Either way, news lost. */
			if (errno == ENOBUFS || errno == ENOSPC) {
				log_verbose("netwatch: rtnetlink events lost, relearning the host's network");
				nw_lost(nw, now_ns());
				continue;
			}
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_verbose("netwatch: rtnetlink: %s", strerror(errno));
			return;
		}
		netwatch_parse(nw, nw->buf, (size_t)n, now_ns());
	}
}

void netwatch_parse(struct netwatch *nw, const void *buf, size_t n, uint64_t now)
{
	for (const struct nlmsghdr *nlh = buf; nw_message_ok(nlh, n); nlh = nw_next_message(nlh, &n))
		nw_message(nw, nlh, now);
}

/* ---- sticky sources ------------------------------------------------------ */

/* The address a datagram to ep goes to, as the kernel routes it: an
 * IPv4-mapped IPv6 endpoint is sent over IPv4. false for no address. */
static bool route_destination(const struct endpoint *ep, const void **dst, int *family, size_t *alen)
{
	if (ep->addr.sa.sa_family == AF_INET) {
		*dst = &ep->addr.in4.sin_addr, *family = AF_INET, *alen = 4;
	} else if (ep->addr.sa.sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&ep->addr.in6.sin6_addr)) {
		*dst = &ep->addr.in6.sin6_addr.s6_addr[12], *family = AF_INET, *alen = 4;
	} else if (ep->addr.sa.sa_family == AF_INET6) {
		*dst = &ep->addr.in6.sin6_addr, *family = AF_INET6, *alen = 16;
	} else {
		return false;
	}
	return true;
}

/* RTM_GETROUTE for the route to ep (with fwmark); NULL for no address. */
static struct nlmsghdr *put_route_request(uint8_t *buf, uint32_t seq, const struct endpoint *ep, uint32_t fwmark,
					  int *family, size_t *alen)
{
	const void *dst;
	if (!route_destination(ep, &dst, family, alen))
		return NULL;
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = seq;
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (uint8_t)*family;
	rtm->rtm_dst_len = (uint8_t)(*alen * 8);
	mnl_attr_put(nlh, RTA_DST, *alen, dst);
	if (fwmark)
		mnl_attr_put_u32(nlh, RTA_MARK, fwmark);
	return nlh;
}

/* A query for the route from ep's sticky source to it (0 if it has none we
 * can ask about). */
static size_t put_route_query(uint8_t *buf, uint32_t seq, const struct endpoint *ep, uint32_t fwmark)
{
	int family;
	size_t alen;
	if (ep->src_family != AF_INET && ep->src_family != AF_INET6)
		return 0;
	struct nlmsghdr *nlh = put_route_request(buf, seq, ep, fwmark, &family, &alen);
	if (!nlh || family != ep->src_family)
		return 0;
	struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	rtm->rtm_src_len = (uint8_t)(alen * 8);
	/* With the source, source-based policy routing answers as it will
	 * for our packet, and IPv4 refuses a source that is no longer ours. */
	mnl_attr_put(nlh, RTA_SRC, alen, family == AF_INET ? (const void *)&ep->src.v4 : (const void *)&ep->src.v6);
	/* A link-local peer is reachable only through its own link. */
	if (family == AF_INET6 && ep->addr.in6.sin6_scope_id)
		mnl_attr_put_u32(nlh, RTA_OIF, ep->addr.in6.sin6_scope_id);
	return nlh->nlmsg_len;
}

bool netwatch_source_fits(const struct nlmsghdr *nlh, uint32_t src_ifindex)
{
	if (nlh->nlmsg_type != RTM_NEWROUTE || nlh->nlmsg_len < NLMSG_LENGTH(sizeof(struct rtmsg)))
		return false;	/* NLMSG_ERROR: no route from that source */
	const struct nlattr *tb[NW_ATTR_MAX] = {0};
	if (mnl_attr_parse(nlh, sizeof(struct rtmsg), nw_attr, tb) < 0 || !tb[RTA_OIF] ||
	    mnl_attr_validate(tb[RTA_OIF], MNL_TYPE_U32) < 0)
		return false;
	/* Without the arrival interface, a route at all will do. */
	return !src_ifindex || mnl_attr_get_u32(tb[RTA_OIF]) == src_ifindex;
}

/* Sends one batch of queries and reads the answers into fits[]; a query
 * left unanswered counts as "does not fit" (forgetting a good source costs
 * one reply from a kernel-chosen address, keeping a bad one costs the
 * peer). */
static void nw_query_batch(struct netwatch *nw, uint8_t *req, size_t req_len, const uint32_t *src_ifindex,
			   bool *fits, unsigned n, uint32_t base)
{
	bool answered[NW_QUERY_BATCH] = {0};
	unsigned left = n;
	for (unsigned i = 0; i < n; i++)
		fits[i] = false;
	if (mnl_socket_sendto(nw->query, req, req_len) < 0)
		left = 0;
	while (left) {
		ssize_t got = mnl_socket_recvfrom(nw->query, nw->buf, NW_BUF_SIZE);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			break;	/* timeout or error: the rest stay unanswered */
		}
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)nw->buf;
		size_t len = (size_t)got;
		for (; nw_message_ok(nlh, len); nlh = nw_next_message(nlh, &len)) {
			/* Answers to an earlier batch that timed out are old. */
			uint32_t i = nlh->nlmsg_seq - base;
			if (i >= n || answered[i])
				continue;
			answered[i] = true;
			fits[i] = netwatch_source_fits(nlh, src_ifindex[i]);
			left--;
		}
	}
}

void netwatch_check_sources(struct netwatch *nw, const struct endpoint *eps, bool *fits, unsigned n,
			    uint32_t fwmark)
{
	uint8_t req[NW_QUERY_BATCH * NW_QUERY_MSG];
	uint32_t src_ifindex[NW_QUERY_BATCH];
	unsigned idx[NW_QUERY_BATCH];
	bool got[NW_QUERY_BATCH];
	unsigned k = 0;
	size_t req_len = 0;
	uint32_t base = nw->query_seq + 1;
	for (unsigned i = 0; i < n; i++) {
		fits[i] = false;	/* unless the kernel says otherwise */
		if (!nw->query)
			continue;	/* cannot ask: forget them all */
		size_t len = put_route_query(req + req_len, ++nw->query_seq, &eps[i], fwmark);
		if (!len) {
			nw->query_seq--;	/* a source we cannot judge */
			continue;
		}
		src_ifindex[k] = eps[i].src_ifindex;
		idx[k++] = i;
		req_len += len;
		if (k == NW_QUERY_BATCH) {
			nw_query_batch(nw, req, req_len, src_ifindex, got, k, base);
			for (unsigned j = 0; j < k; j++)
				fits[idx[j]] = got[j];
			k = 0, req_len = 0, base = nw->query_seq + 1;
		}
	}
	if (k) {
		nw_query_batch(nw, req, req_len, src_ifindex, got, k, base);
		for (unsigned j = 0; j < k; j++)
			fits[idx[j]] = got[j];
	}
}

bool netwatch_route_mtu_is_learnt(struct netwatch *nw, const struct endpoint *to, uint32_t fwmark)
{
	uint8_t req[NW_QUERY_MSG];
	int family;
	size_t alen;
	if (!nw || !nw->query)
		return false;
	struct nlmsghdr *nlh = put_route_request(req, ++nw->query_seq, to, fwmark, &family, &alen);
	if (!nlh)
		return false;
	if (mnl_socket_sendto(nw->query, req, nlh->nlmsg_len) < 0)
		return false;
	for (;;) {
		ssize_t got = mnl_socket_recvfrom(nw->query, nw->buf, NW_BUF_SIZE);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return false;	/* timeout: cannot tell */
		const struct nlmsghdr *m = (const struct nlmsghdr *)nw->buf;
		size_t len = (size_t)got;
		for (; nw_message_ok(m, len); m = nw_next_message(m, &len)) {
			if (m->nlmsg_seq != nw->query_seq)
				continue;	/* an answer to an older query */
			if (m->nlmsg_type != RTM_NEWROUTE || m->nlmsg_len < NLMSG_LENGTH(sizeof(struct rtmsg)))
				return false;
			const struct nlattr *tb[NW_ATTR_MAX] = {0};
			if (mnl_attr_parse(m, sizeof(struct rtmsg), nw_attr, tb) < 0 || !tb[RTA_CACHEINFO] ||
			    mnl_attr_get_payload_len(tb[RTA_CACHEINFO]) < sizeof(struct rta_cacheinfo))
				return false;
			const struct rta_cacheinfo *ci = mnl_attr_get_payload(tb[RTA_CACHEINFO]);
			return ci->rta_expires != 0;
		}
	}
}

uint32_t netwatch_generation(struct netwatch *nw)
{
	nw_read(nw);
	return nw->generation;
}

/* ---- the round ---------------------------------------------------------- */

/* "2 address, 1 route events" for the log line. */
static void nw_describe(const struct netwatch *nw, char *buf, size_t len)
{
	static const char *const names[NW_KINDS] = {"link", "address", "route", "rule", NULL};
	size_t o = 0;
	buf[0] = '\0';
	for (int k = 0; k < NW_KINDS; k++) {
		if (!names[k] || !nw->changes[k] || o >= len)
			continue;
		o += (size_t)snprintf(buf + o, len - o, "%s%u %s", o ? ", " : "", nw->changes[k], names[k]);
	}
	if (o < len)
		o += (size_t)snprintf(buf + o, len - o, "%s", o ? " events" : "");
	if (nw->changes[NW_LOST] && o < len)
		snprintf(buf + o, len - o, "%sevents lost", o ? "; " : "");
}

/* A peer worth telling: one that keeps itself reachable (persistent
 * keepalive) or had a session recently enough to still hold its keys. A
 * dormant peer is left alone: a handshake with it would be retried for 90 s,
 * and a host with many dormant peers must not answer a route change with a
 * flood of initiations. */
static bool peer_is_active(const struct peer_info *info, uint64_t now)
{
	if (info->persistent_keepalive)
		return true;
	return info->last_handshake_mono && now - info->last_handshake_mono < ZERO_KEY_MATERIAL_TIMEOUT;
}

unsigned netwatch_tell_peers(struct daemon *d, uint64_t now, unsigned *dormant_out)
{
	unsigned notified = 0, dormant = 0;
	struct peer_info info;
	for (struct peer *p = device_peer_first(d->dev); p; p = device_peer_next(p)) {
		peer_get_info(p, &info);
		if (!endpoint_is_set(&info.endpoint))
			continue;
		if (!peer_is_active(&info, now)) {
			dormant++;
			continue;
		}
		peer_send_keepalive_now(p, now);
		notified++;
	}
	/* peer_get_info copied the preshared key too. */
	crypto_wipe(&info, sizeof(info));
	if (dormant_out)
		*dormant_out = dormant;
	return notified;
}

static void nw_round(struct daemon *d, uint64_t now)
{
	struct netwatch *nw = d->netwatch;
	char what[128];
	nw_describe(nw, what, sizeof(what));
	memset(nw->changes, 0, sizeof(nw->changes));
	nw->pending = false;
	/* Down: no sockets, no sessions. Coming up starts everything afresh
	 * (persistent keepalives go out at once), so there is nothing to do
	 * and nothing to count against the rate. */
	if (!device_is_up(d->dev)) {
		log_verbose("network change (%s) while the interface is down", what);
		return;
	}
	nw->tat = max_u64(nw->tat, now) + NW_RATE;
	nw->last_round = now;
	nw->has_round = true;

	/* The sockets are bound to the wildcard address and port, so no
	 * local address going away can invalidate them: nothing to rebind.
	 * What can be stale is a peer's sticky source, and the data path
	 * checks those before its next send (the generation moved). */
	/* Any authenticated packet teaches the far side our new address; a
	 * keepalive is the smallest. The engine sends a handshake initiation
	 * instead when there is no usable session (none, or past
	 * REJECT_AFTER_TIME), and also rekeys on the way if we initiated the
	 * session and it is past REKEY_AFTER_TIME. */
	unsigned dormant = 0;
	unsigned notified = netwatch_tell_peers(d, now, &dormant);
	/* A new network may have another view of the names (split DNS, a
	 * captive portal gone): ask again. */
	names_refresh_all(d);
	if (notified)
		log_info("network change: %u peer%s notified (%s)", notified, notified == 1 ? "" : "s", what);
	else
		log_verbose("network change: no active peer to notify (%s)", what);
	if (dormant)
		log_verbose("network change: %u dormant peer%s left alone", dormant, dormant == 1 ? "" : "s");
}

/* ---- the module --------------------------------------------------------- */

void netwatch_event(struct daemon *d)
{
	struct netwatch *nw = d->netwatch;
	uint64_t expirations;
	if (read(nw->timer_fd, &expirations, sizeof(expirations)) == (ssize_t)sizeof(expirations))
		nw->armed = 0;
	nw_read(nw);
	uint64_t now = now_ns();
	if (!nw->notify) {
		/* The generation is all that is wanted. */
		memset(nw->changes, 0, sizeof(nw->changes));
		nw->pending = false;
	}
	if (nw->pending && now >= nw->due)
		nw_round(d, now);
	nw_arm(nw, nw->pending ? nw->due : 0);
}

int netwatch_fd(const struct netwatch *nw)
{
	return nw->epoll_fd;
}

struct netwatch *netwatch_open(unsigned own_ifindex, bool notify, char *err, size_t err_len)
{
	struct netwatch *nw = calloc(1, sizeof(*nw));
	if (!nw) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	nw->epoll_fd = nw->timer_fd = -1;
	nw->own_ifindex = own_ifindex;
	nw->notify = notify;
	nw->generation = 1;
	nw->buf = malloc(NW_BUF_SIZE);
	nw->nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (!nw->buf || !nw->nl || mnl_socket_bind(nw->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		snprintf(err, err_len, "rtnetlink: %s", strerror(errno ? errno : ENOMEM));
		netwatch_close(nw);
		return NULL;
	}
	int fd = mnl_socket_get_fd(nw->nl);
	int size = NW_RCVBUF;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	/* Links of other interfaces too: IPv4 drops the routes of a link
	 * that goes down without a word on rtnetlink. */
	static const unsigned groups[] = {
		RTNLGRP_LINK,	    RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR, RTNLGRP_IPV4_ROUTE,
		RTNLGRP_IPV6_ROUTE, RTNLGRP_IPV4_RULE,	 RTNLGRP_IPV6_RULE,
	};
	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
		unsigned g = groups[i];
		/* IPv6 groups fail where IPv6 is disabled: not an error. */
		if (mnl_socket_setsockopt(nw->nl, NETLINK_ADD_MEMBERSHIP, &g, sizeof(g)) < 0 &&
		    g != RTNLGRP_IPV6_IFADDR && g != RTNLGRP_IPV6_ROUTE && g != RTNLGRP_IPV6_RULE) {
			snprintf(err, err_len, "rtnetlink subscription: %s", strerror(errno));
			netwatch_close(nw);
			return NULL;
		}
	}
	nw->portid = mnl_socket_get_portid(nw->nl);
	/* Blocking with a timeout: the answers are there as soon as the
	 * request is sent. Without it we fall back to forgetting every
	 * source on a change. */
	nw->query = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (nw->query && mnl_socket_bind(nw->query, 0, MNL_SOCKET_AUTOPID) == 0) {
		int qfd = mnl_socket_get_fd(nw->query);
		struct timeval tv = {.tv_usec = NW_QUERY_TIMEOUT_US};
		int qsize = NW_QUERY_RCVBUF;
		setsockopt(qfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (setsockopt(qfd, SOL_SOCKET, SO_RCVBUFFORCE, &qsize, sizeof(qsize)) < 0)
			setsockopt(qfd, SOL_SOCKET, SO_RCVBUF, &qsize, sizeof(qsize));
	} else {
		log_verbose("netwatch: no route queries (%s): sticky sources will be forgotten on every change",
			    strerror(errno));
		if (nw->query)
			mnl_socket_close(nw->query);
		nw->query = NULL;
	}
	nw->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	nw->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN};
	if (nw->timer_fd < 0 || nw->epoll_fd < 0 || epoll_ctl(nw->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0 ||
	    epoll_ctl(nw->epoll_fd, EPOLL_CTL_ADD, nw->timer_fd, &ev) < 0) {
		snprintf(err, err_len, "netwatch: %s", strerror(errno));
		netwatch_close(nw);
		return NULL;
	}
	/* Subscribed first, then the dump: nothing can fall in between. */
	nw_start_baseline(nw);
	return nw;
}

void netwatch_close(struct netwatch *nw)
{
	if (!nw)
		return;
	if (nw->epoll_fd >= 0)
		close(nw->epoll_fd);
	if (nw->timer_fd >= 0)
		close(nw->timer_fd);
	if (nw->nl)
		mnl_socket_close(nw->nl);
	if (nw->query)
		mnl_socket_close(nw->query);
	free(nw->buf);
	free(nw);
}
