/* A routing loop: a peer's Endpoint lies inside the AllowedIPs (of any
 * peer) and its route goes into the tunnel interface itself, so the
 * encrypted datagrams would be encrypted again instead of leaving. wg-quick
 * avoids it for 0.0.0.0/0 with a fwmark and a table of its own; with
 * plain routes the endpoint has to stay outside the AllowedIPs. Checked
 * with the daemon's fwmark, which its own datagrams carry.
 * Also the route those datagrams take when this host's own kernel says it
 * cannot deliver them (doctor_locate_next_hop). */
#include <net/if.h>
#include <stdlib.h>
#include <string.h>

#include "doctor.h"
#include "hostinfo.h"
#include "rtnl.h"

bool doctor_endpoint_address(const char *endpoint, struct ip_prefix *out)
{
	char host[UAPI_ENDPOINT_MAX];
	const char *end;

	if (endpoint[0] == '[') {
		endpoint++;
		end = strchr(endpoint, ']');
	} else {
		end = strrchr(endpoint, ':');
	}
	if (!end || (size_t)(end - endpoint) >= sizeof(host))
		return false;
	memcpy(host, endpoint, (size_t)(end - endpoint));
	host[end - endpoint] = '\0';
	/* A scoped link-local address: the scope is no part of the address. */
	char *scope = strchr(host, '%');
	if (scope)
		*scope = '\0';
	return ip_prefix_parse(out, host, true);
}

bool doctor_endpoint_loop(const struct uapi_device *dev, int ifindex, char endpoint[UAPI_ENDPOINT_MAX])
{
	struct rtnl nl;
	bool found = false;

	if (ifindex <= 0 || rtnl_open(&nl) != 0)
		return false;
	for (size_t i = 0; i < dev->n_peers && !found; i++) {
		struct ip_prefix addr;
		uint32_t table;
		bool local = false;
		int oif = 0;

		if (!dev->peers[i].endpoint[0] || !doctor_endpoint_address(dev->peers[i].endpoint, &addr))
			continue;
		if (rtnl_route_get_table(&nl, &addr, dev->fwmark, &oif, &table, &local) == 0 && !local &&
		    oif == ifindex) {
			snprintf(endpoint, UAPI_ENDPOINT_MAX, "%s", dev->peers[i].endpoint);
			found = true;
		}
	}
	rtnl_close(&nl);
	return found;
}

/* The rule that sends marked packets to table: fwmark M lookup table,
 * not inverted; the first (lowest priority) wins. */
struct mark_rule_search {
	uint32_t fwmark, table;
	bool found;
	uint32_t priority;
};

static bool mark_rule_cb(const struct rtnl_rule *rule, void *ctx)
{
	struct mark_rule_search *s = ctx;

	if (!rule->invert && rule->fwmark == s->fwmark && rule->table == s->table &&
	    (!s->found || rule->priority < s->priority)) {
		s->found = true;
		s->priority = rule->priority;
	}
	return true;
}

void doctor_locate_next_hop(struct icmp_seen *icmp, uint32_t fwmark)
{
	struct icmp_next_hop *h = &icmp->next_hop;
	char reporter[IP_PREFIX_STRLEN];
	struct rtnl_route route;
	struct rtnl nl;
	bool local = false;

	if (!icmp->total || icmp->last_kind != ICMP_KIND_HOST || h->reporter_local)
		return;
	/* The peer's host itself may answer from its own address: only one
	 * of ours means our kernel gave up on the next hop. */
	if (host_address_is_local(ip_addr_str(&icmp->reporter, reporter)) != 1 || rtnl_open(&nl) != 0)
		return;
	h->reporter_local = true;
	if (rtnl_route_get_via(&nl, &icmp->target, fwmark, &route, &local) == 0 && !local) {
		if (route.gateway.family)
			ip_addr_str(&route.gateway, h->gateway);
		if (!route.oif || !if_indextoname((unsigned)route.oif, h->dev))
			h->dev[0] = '\0';
		h->table = route.table;
		if (fwmark && route.table != RTNL_TABLE_MAIN) {
			struct mark_rule_search s = { .fwmark = fwmark, .table = route.table };

			if (rtnl_rule_dump(&nl, icmp->target.family, mark_rule_cb, &s) == 0 && s.found) {
				h->by_rule = true;
				h->rule_fwmark = fwmark;
				h->rule_priority = s.priority;
			}
		}
	}
	rtnl_close(&nl);
}

/* The MTU of the route the marked datagrams take: its mtu metric, else its
 * device's; 0 unknown. */
static uint32_t marked_route_mtu(struct rtnl *nl, const struct rtnl_route *route)
{
	uint32_t mtu = route->mtu;

	if (!mtu && route->oif > 0 && rtnl_link_mtu(nl, route->oif, &mtu) != 0)
		mtu = 0;
	return mtu;
}

/* roamd learnt a path MTU from this host's own kernel far below the way
 * out: its datagrams went into the tunnel and were wrapped again, each
 * turn 60 bytes bigger, until the kernel's 552 floor. */
static bool local_path_mtu_collapsed(const struct uapi_peer *peer, uint32_t way_out_mtu)
{
	return !strcmp(peer->path_mtu_origin, "local") && peer->path_mtu && way_out_mtu &&
	       peer->path_mtu + 200 < way_out_mtu;
}

bool doctor_endpoint_mark_lost(const struct uapi_device *dev, int ifindex, char endpoint[UAPI_ENDPOINT_MAX],
			       char *rule, size_t len)
{
	struct rtnl nl;
	bool found = false;
	char *ruleset = NULL;
	bool ruleset_read = false;

	rule[0] = '\0';
	if (!dev->fwmark || ifindex <= 0 || rtnl_open(&nl) != 0)
		return false;
	for (size_t i = 0; i < dev->n_peers && !found; i++) {
		const struct uapi_peer *p = &dev->peers[i];
		struct rtnl_route marked, bare;
		struct ip_prefix addr;
		bool local = false;

		/* Marked, the datagrams leave; unmarked, they go into the
		 * tunnel: a full tunnel, where the mark is all that keeps
		 * them out. Whether they keep it is the question. */
		if (!p->endpoint[0] || !doctor_endpoint_address(p->endpoint, &addr) ||
		    rtnl_route_get_via(&nl, &addr, dev->fwmark, &marked, &local) != 0 || local ||
		    marked.oif == ifindex || rtnl_route_get_via(&nl, &addr, 0, &bare, &local) != 0 || local ||
		    bare.oif != ifindex)
			continue;
		if (!ruleset_read) {
			ruleset_read = true;
			if (host_nft_ruleset(&ruleset) != 0)
				ruleset = NULL;
		}
		uint16_t port = (uint16_t)strtoul(strrchr(p->endpoint, ':') + 1, NULL, 10);
		found = (ruleset && ruleset_find_output_mark_change(ruleset, dev->fwmark, port, rule, len)) ||
			local_path_mtu_collapsed(p, marked_route_mtu(&nl, &marked));
		if (found)
			snprintf(endpoint, UAPI_ENDPOINT_MAX, "%s", p->endpoint);
	}
	free(ruleset);
	rtnl_close(&nl);
	return found;
}
