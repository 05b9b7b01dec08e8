/* rtnetlink over libmnl: one request, one answer, no state beyond the
 * socket. Requests are built the way iproute2 builds the equivalent `ip`
 * commands, so what roam adds looks in `ip route`/`ip rule` exactly like
 * what wg-quick adds. */
#include "rtnl.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/fib_rules.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

enum { RECV_SIZE = 32768 };	/* a dump batch; libmnl's MNL_SOCKET_DUMP_SIZE */

int rtnl_open(struct rtnl *r)
{
	int err;

	r->nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!r->nl)
		return -errno;
	if (mnl_socket_bind(r->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		err = -errno;
		mnl_socket_close(r->nl);
		r->nl = NULL;
		return err;
	}
	r->portid = mnl_socket_get_portid(r->nl);
	r->seq = (unsigned)time(NULL);
	return 0;
}

void rtnl_close(struct rtnl *r)
{
	if (r->nl)
		mnl_socket_close(r->nl);
	r->nl = NULL;
}

/* Sends nlh and runs cb on every answer until the ACK, NLMSG_DONE or an
 * error. */
static int talk(struct rtnl *r, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	char buf[RECV_SIZE];
	ssize_t n;
	int ret;

	nlh->nlmsg_seq = ++r->seq;
	/* A dump ends with NLMSG_DONE; anything else is asked for an ACK so
	 * there is always an end to wait for. NLM_F_DUMP is two bits, one of
	 * which NLM_F_EXCL shares: test both. */
	if ((nlh->nlmsg_flags & NLM_F_DUMP) != NLM_F_DUMP)
		nlh->nlmsg_flags |= NLM_F_ACK;
	if (mnl_socket_sendto(r->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	do {
		n = mnl_socket_recvfrom(r->nl, buf, sizeof(buf));
		if (n < 0)
			return errno == EINTR ? -EINTR : -errno;
		ret = mnl_cb_run(buf, (size_t)n, nlh->nlmsg_seq, r->portid, cb, data);
	} while (ret > MNL_CB_STOP);
	return ret < 0 ? -errno : 0;
}

static struct nlmsghdr *start(char *buf, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	return nlh;
}

static size_t addr_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

/* ---- links ------------------------------------------------------------- */

static int link_mtu_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nlattr *attr;

	mnl_attr_for_each(attr, nlh, sizeof(struct ifinfomsg))
		if (mnl_attr_get_type(attr) == IFLA_MTU && mnl_attr_validate(attr, MNL_TYPE_U32) >= 0)
			*(uint32_t *)data = mnl_attr_get_u32(attr);
	return MNL_CB_OK;
}

int rtnl_link_mtu(struct rtnl *r, int ifindex, uint32_t *mtu)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = start(buf, RTM_GETLINK, 0);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	*mtu = 0;
	int ret = talk(r, nlh, link_mtu_cb, mtu);
	return ret ? ret : *mtu ? 0 : -ENODATA;
}

int rtnl_link_up(struct rtnl *r, int ifindex, uint32_t mtu)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = start(buf, RTM_NEWLINK, 0);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	return talk(r, nlh, NULL, NULL);
}

int rtnl_link_delete(struct rtnl *r, int ifindex)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = start(buf, RTM_DELLINK, 0);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	return talk(r, nlh, NULL, NULL);
}

struct link_kind {
	char *kind;
	size_t len;
};

static int link_kind_cb(const struct nlmsghdr *nlh, void *data)
{
	struct link_kind *k = data;
	struct nlattr *attr, *info;

	mnl_attr_for_each(attr, nlh, sizeof(struct ifinfomsg)) {
		if (mnl_attr_get_type(attr) != IFLA_LINKINFO)
			continue;
		mnl_attr_for_each_nested(info, attr)
			if (mnl_attr_get_type(info) == IFLA_INFO_KIND && mnl_attr_validate(info, MNL_TYPE_STRING) >= 0)
				snprintf(k->kind, k->len, "%s", mnl_attr_get_str(info));
	}
	return MNL_CB_OK;
}

int rtnl_link_kind(struct rtnl *r, const char *ifname, char *kind, size_t len)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = start(buf, RTM_GETLINK, 0);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	struct link_kind k = { kind, len };

	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, ifname);
	kind[0] = '\0';
	return talk(r, nlh, link_kind_cb, &k);
}

/* ---- addresses --------------------------------------------------------- */

int rtnl_addr(struct rtnl *r, bool add, int ifindex, const struct ip_prefix *addr)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = start(buf, add ? RTM_NEWADDR : RTM_DELADDR, add ? NLM_F_CREATE | NLM_F_EXCL : 0);
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));

	ifa->ifa_family = (uint8_t)addr->family;
	ifa->ifa_prefixlen = addr->cidr;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = (unsigned)ifindex;
	/* Local and address equal: no point-to-point peer address. */
	mnl_attr_put(nlh, IFA_LOCAL, addr_len(addr->family), addr->addr);
	mnl_attr_put(nlh, IFA_ADDRESS, addr_len(addr->family), addr->addr);
	return talk(r, nlh, NULL, NULL);
}

/* ---- routes ------------------------------------------------------------ */

static void put_table(struct nlmsghdr *nlh, unsigned char *rtm_table, uint32_t table)
{
	/* The header's byte holds tables below 256; RTA_TABLE any. */
	*rtm_table = table < 256 ? (unsigned char)table : RT_TABLE_UNSPEC;
	mnl_attr_put_u32(nlh, RTA_TABLE, table);
}

int rtnl_route(struct rtnl *r, bool add, const struct rtnl_route *route)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = start(buf, add ? RTM_NEWROUTE : RTM_DELROUTE, add ? NLM_F_CREATE | NLM_F_EXCL : 0);
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));

	rtm->rtm_family = (unsigned char)route->dst.family;
	rtm->rtm_dst_len = route->dst.cidr;
	if (add) {
		/* As `ip route add P dev D`: proto boot, and no gateway
		 * means the destination is on the link. */
		rtm->rtm_protocol = RTPROT_BOOT;
		rtm->rtm_scope = route->dst.family == AF_INET ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
		rtm->rtm_type = RTN_UNICAST;
	} else {
		/* As `ip route del`: match any scope, type and protocol. */
		rtm->rtm_scope = RT_SCOPE_NOWHERE;
	}
	put_table(nlh, &rtm->rtm_table, route->table);
	if (route->dst.cidr)
		mnl_attr_put(nlh, RTA_DST, addr_len(route->dst.family), route->dst.addr);
	mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)route->oif);
	return talk(r, nlh, NULL, NULL);
}

static uint32_t metrics_mtu(const struct nlattr *metrics)
{
	const struct nlattr *attr;

	mnl_attr_for_each_nested(attr, metrics)
		if (mnl_attr_get_type(attr) == RTAX_MTU && mnl_attr_validate(attr, MNL_TYPE_U32) >= 0)
			return mnl_attr_get_u32(attr);
	return 0;
}

/* Parses an RTM_NEWROUTE; false if it is not a plain unicast route. */
static bool parse_route(const struct nlmsghdr *nlh, struct rtnl_route *out)
{
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *attr;
	size_t alen;

	memset(out, 0, sizeof(*out));
	if (nlh->nlmsg_type != RTM_NEWROUTE || rtm->rtm_type != RTN_UNICAST ||
	    (rtm->rtm_family != AF_INET && rtm->rtm_family != AF_INET6))
		return false;
	out->dst.family = rtm->rtm_family;
	out->dst.cidr = rtm->rtm_dst_len;
	out->table = rtm->rtm_table;
	alen = addr_len(rtm->rtm_family);
	mnl_attr_for_each(attr, nlh, sizeof(*rtm)) {
		switch (mnl_attr_get_type(attr)) {
		case RTA_DST:
			if (mnl_attr_get_payload_len(attr) == alen)
				memcpy(out->dst.addr, mnl_attr_get_payload(attr), alen);
			break;
		case RTA_TABLE:
			if (mnl_attr_validate(attr, MNL_TYPE_U32) >= 0)
				out->table = mnl_attr_get_u32(attr);
			break;
		case RTA_OIF:
			if (mnl_attr_validate(attr, MNL_TYPE_U32) >= 0)
				out->oif = (int)mnl_attr_get_u32(attr);
			break;
		case RTA_GATEWAY:
			if (mnl_attr_get_payload_len(attr) == alen) {
				out->gateway.family = rtm->rtm_family;
				out->gateway.cidr = rtm->rtm_family == AF_INET ? 32 : 128;
				memcpy(out->gateway.addr, mnl_attr_get_payload(attr), alen);
			}
			break;
		case RTA_METRICS:
			out->mtu = metrics_mtu(attr);
			break;
		case RTA_CACHEINFO:
			if (mnl_attr_get_payload_len(attr) >= sizeof(struct rta_cacheinfo))
				out->mtu_expires = ((const struct rta_cacheinfo *)mnl_attr_get_payload(attr))->rta_expires != 0;
			break;
		}
	}
	return true;
}

struct dump_ctx {
	bool (*fn)(const struct rtnl_route *route, void *ctx);
	void *ctx;
	bool stopped;
};

static int route_dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump_ctx *d = data;
	struct rtnl_route route;

	/* The rest of the dump still has to be read, so "stop" only stops
	 * the calls. */
	if (!d->stopped && parse_route(nlh, &route))
		d->stopped = !d->fn(&route, d->ctx);
	return MNL_CB_OK;
}

int rtnl_route_dump(struct rtnl *r, int family, bool (*fn)(const struct rtnl_route *route, void *ctx), void *ctx)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = start(buf, RTM_GETROUTE, NLM_F_DUMP);
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	struct dump_ctx d = { fn, ctx, false };

	rtm->rtm_family = (unsigned char)family;
	return talk(r, nlh, route_dump_cb, &d);
}

struct route_get_result {
	struct rtnl_route route;
	unsigned char type;
};

static int route_get_cb(const struct nlmsghdr *nlh, void *data)
{
	struct route_get_result *res = data;
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);

	if (nlh->nlmsg_type != RTM_NEWROUTE)
		return MNL_CB_OK;
	res->type = rtm->rtm_type;
	if (!parse_route(nlh, &res->route) && rtm->rtm_type == RTN_LOCAL) {
		struct nlattr *attr;

		mnl_attr_for_each(attr, nlh, sizeof(*rtm))
			if (mnl_attr_get_type(attr) == RTA_OIF && mnl_attr_validate(attr, MNL_TYPE_U32) >= 0)
				res->route.oif = (int)mnl_attr_get_u32(attr);
	}
	return MNL_CB_OK;
}

/* ip route get DST: the unicast route's fields in *route, or -EADDRNOTAVAIL
 * style answers for what is not unicast (*local set for a local address). */
static int route_get(struct rtnl *r, const struct ip_prefix *dst, uint32_t mark, struct rtnl_route *route,
		     bool *local)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = start(buf, RTM_GETROUTE, 0);
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	struct route_get_result res = { 0 };
	int ret;

	rtm->rtm_family = (unsigned char)dst->family;
	rtm->rtm_dst_len = dst->family == AF_INET ? 32 : 128;
	/* Without it IPv4 answers "table main" whichever table a policy
	 * rule chose (ip route get sets it too). */
	rtm->rtm_flags |= RTM_F_LOOKUP_TABLE;
	mnl_attr_put(nlh, RTA_DST, addr_len(dst->family), dst->addr);
	if (mark)
		mnl_attr_put_u32(nlh, RTA_MARK, mark);
	ret = talk(r, nlh, route_get_cb, &res);
	if (ret)
		return ret;
	*route = res.route;
	*local = res.type == RTN_LOCAL;
	return res.type == RTN_UNICAST || res.type == RTN_LOCAL ? 0 : -ENETUNREACH;
}

int rtnl_route_get_oif(struct rtnl *r, const struct ip_prefix *dst, int *oif, bool *local)
{
	struct rtnl_route route;
	int ret = route_get(r, dst, 0, &route, local);

	*oif = ret ? 0 : route.oif;
	return ret;
}

int rtnl_route_get_table(struct rtnl *r, const struct ip_prefix *dst, uint32_t mark, int *oif, uint32_t *table,
			 bool *local)
{
	struct rtnl_route route;
	int ret = route_get(r, dst, mark, &route, local);

	*oif = ret ? 0 : route.oif;
	*table = ret ? 0 : route.table;
	return ret;
}

int rtnl_route_get_via(struct rtnl *r, const struct ip_prefix *dst, uint32_t mark, struct rtnl_route *route,
		       bool *local)
{
	return route_get(r, dst, mark, route, local);
}

int rtnl_route_get_mtu(struct rtnl *r, const struct ip_prefix *dst, uint32_t *mtu)
{
	struct rtnl_route route;
	bool local;
	int ret = route_get(r, dst, 0, &route, &local);

	if (ret)
		return ret;
	/* A path MTU the kernel learnt from an ICMP error expires in minutes
	 * and may be wrong (forged, or a routing loop's shrinking datagrams):
	 * an interface set up by it stays small long after, and below 1280
	 * it loses IPv6 altogether. roamd fits packets to such paths by
	 * itself. A route's configured mtu counts. */
	if (route.mtu && !route.mtu_expires) {
		*mtu = route.mtu;
		return 0;
	}
	return route.oif ? rtnl_link_mtu(r, route.oif, mtu) : -ENODATA;
}

/* ---- rules ------------------------------------------------------------- */

static struct nlmsghdr *rule_message(char *buf, uint16_t type, uint16_t flags, const struct rtnl_rule *rule)
{
	struct nlmsghdr *nlh = start(buf, type, flags);
	struct fib_rule_hdr *frh = mnl_nlmsg_put_extra_header(nlh, sizeof(*frh));

	frh->family = (uint8_t)rule->family;
	frh->action = FR_ACT_TO_TBL;
	frh->flags = rule->invert ? FIB_RULE_INVERT : 0;
	put_table(nlh, &frh->table, rule->table);
	if (rule->priority)
		mnl_attr_put_u32(nlh, FRA_PRIORITY, rule->priority);
	if (rule->fwmark) {
		mnl_attr_put_u32(nlh, FRA_FWMARK, rule->fwmark);
		mnl_attr_put_u32(nlh, FRA_FWMASK, UINT32_MAX);
	}
	if (rule->suppress_prefixlen >= 0)
		mnl_attr_put_u32(nlh, FRA_SUPPRESS_PREFIXLEN, (uint32_t)rule->suppress_prefixlen);
	return nlh;
}

static int rule_echo_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nlattr *attr;

	if (nlh->nlmsg_type != RTM_NEWRULE)
		return MNL_CB_OK;
	mnl_attr_for_each(attr, nlh, sizeof(struct fib_rule_hdr))
		if (mnl_attr_get_type(attr) == FRA_PRIORITY && mnl_attr_validate(attr, MNL_TYPE_U32) >= 0)
			*(uint32_t *)data = mnl_attr_get_u32(attr);
	return MNL_CB_OK;
}

int rtnl_rule_add(struct rtnl *r, struct rtnl_rule *rule)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	uint32_t priority = 0;
	int ret;

	/* No priority, as wg-quick's `ip rule add` gives none: the kernel
	 * picks one just above the existing rules. NLM_F_ECHO sends the rule
	 * back with the number it got, so down can delete exactly it. */
	rule->priority = 0;
	nlh = rule_message(buf, RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ECHO, rule);
	ret = talk(r, nlh, rule_echo_cb, &priority);
	/* Without an echo (never seen) the rule stays recorded without a
	 * priority, and deleting it matches on the other attributes. */
	rule->priority = priority;
	return ret;
}

int rtnl_rule_delete(struct rtnl *r, const struct rtnl_rule *rule)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];

	return talk(r, rule_message(buf, RTM_DELRULE, 0, rule), NULL, NULL);
}

/* Parses an RTM_NEWRULE that sends to a table; false for other actions. */
static bool parse_rule(const struct nlmsghdr *nlh, struct rtnl_rule *out)
{
	const struct fib_rule_hdr *frh = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *attr;

	memset(out, 0, sizeof(*out));
	out->suppress_prefixlen = -1;
	if (nlh->nlmsg_type != RTM_NEWRULE || frh->action != FR_ACT_TO_TBL)
		return false;
	out->family = frh->family;
	out->table = frh->table;
	out->invert = frh->flags & FIB_RULE_INVERT;
	mnl_attr_for_each(attr, nlh, sizeof(*frh)) {
		if (mnl_attr_validate(attr, MNL_TYPE_U32) < 0)
			continue;
		switch (mnl_attr_get_type(attr)) {
		case FRA_TABLE:
			out->table = mnl_attr_get_u32(attr);
			break;
		case FRA_PRIORITY:
			out->priority = mnl_attr_get_u32(attr);
			break;
		case FRA_FWMARK:
			out->fwmark = mnl_attr_get_u32(attr);
			break;
		case FRA_SUPPRESS_PREFIXLEN:
			/* The kernel reports "none" as -1 (all bits set). */
			out->suppress_prefixlen = (int)mnl_attr_get_u32(attr);
			break;
		}
	}
	return true;
}

struct rule_dump_ctx {
	bool (*fn)(const struct rtnl_rule *rule, void *ctx);
	void *ctx;
	bool stopped;
};

static int rule_dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct rule_dump_ctx *d = data;
	struct rtnl_rule rule;

	if (!d->stopped && parse_rule(nlh, &rule))
		d->stopped = !d->fn(&rule, d->ctx);
	return MNL_CB_OK;
}

int rtnl_rule_dump(struct rtnl *r, int family, bool (*fn)(const struct rtnl_rule *rule, void *ctx), void *ctx)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = start(buf, RTM_GETRULE, NLM_F_DUMP);
	struct fib_rule_hdr *frh = mnl_nlmsg_put_extra_header(nlh, sizeof(*frh));
	struct rule_dump_ctx d = { fn, ctx, false };

	frh->family = (uint8_t)family;
	return talk(r, nlh, rule_dump_cb, &d);
}
