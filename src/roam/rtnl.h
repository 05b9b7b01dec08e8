/* The few rtnetlink requests roam up and down make (links, addresses,
 * routes, policy rules), over libmnl, instead of running `ip`. Every call
 * waits for the kernel's answer and returns 0 or -errno. */
#ifndef ROAM_RTNL_H
#define ROAM_RTNL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ip_prefix.h"

/* Tables as the kernel numbers them (linux/rtnetlink.h). */
enum { RTNL_TABLE_MAIN = 254 };

struct rtnl_route {
	struct ip_prefix dst;	/* masked */
	uint32_t table;
	int oif;		/* 0: any (dumps) */
	uint32_t mtu;		/* the route's mtu metric; 0 if none */
	bool mtu_expires;	/* that mtu is a cached exception the kernel learnt (ICMP), and expires */
	struct ip_prefix gateway;	/* its next hop (RTA_GATEWAY); family 0: on-link */
};

/* One policy rule in the two shapes wg-quick uses for a full tunnel:
 *   not fwmark M table T            (invert, fwmark M, table T)
 *   table main suppress_prefixlength 0
 * priority is what the kernel chose when it was added. */
struct rtnl_rule {
	int family;
	uint32_t priority;
	uint32_t table;
	uint32_t fwmark;	/* 0: no fwmark match */
	bool invert;
	int suppress_prefixlen;	/* -1: none */
};

struct mnl_socket;
struct rtnl {
	struct mnl_socket *nl;
	unsigned portid, seq;
};

int rtnl_open(struct rtnl *r);
void rtnl_close(struct rtnl *r);

/* MTU of a link, by index. */
int rtnl_link_mtu(struct rtnl *r, int ifindex, uint32_t *mtu);
/* Sets the MTU and brings the link up, in one request (ip link set mtu M up). */
int rtnl_link_up(struct rtnl *r, int ifindex, uint32_t mtu);
int rtnl_link_delete(struct rtnl *r, int ifindex);
/* The link's kind by name (ip -d link: "wireguard", "tun", "veth"; "" for
 * a link without one, such as a physical NIC); -ENODEV if there is none. */
int rtnl_link_kind(struct rtnl *r, const char *ifname, char *kind, size_t len);

/* addr keeps its host bits: they are the interface's address. */
int rtnl_addr(struct rtnl *r, bool add, int ifindex, const struct ip_prefix *addr);

int rtnl_route(struct rtnl *r, bool add, const struct rtnl_route *route);
/* Calls fn for each unicast route of the family (AF_INET or AF_INET6) in
 * any table; fn returns false to stop early. */
int rtnl_route_dump(struct rtnl *r, int family, bool (*fn)(const struct rtnl_route *route, void *ctx), void *ctx);
/* The interface packets to dst would leave by (ip route get), 0 if the
 * route has none; *local tells an address of this host. -ENETUNREACH for
 * an unreachable, blackhole or prohibit route, -errno otherwise. */
int rtnl_route_get_oif(struct rtnl *r, const struct ip_prefix *dst, int *oif, bool *local);
/* As rtnl_route_get_oif, for packets with fwmark mark (0: none), and the
 * table of the route that won (after the policy rules), to name it when it
 * is not the one expected. */
int rtnl_route_get_table(struct rtnl *r, const struct ip_prefix *dst, uint32_t mark, int *oif, uint32_t *table,
			 bool *local);
/* The whole route packets to dst with fwmark mark (0: none) take, after
 * the policy rules (ip route get DST mark M): oif, table, gateway. */
int rtnl_route_get_via(struct rtnl *r, const struct ip_prefix *dst, uint32_t mark, struct rtnl_route *route,
		       bool *local);
/* The MTU packets to dst would leave with: the route's mtu metric, else
 * its device's MTU (ip route get). */
int rtnl_route_get_mtu(struct rtnl *r, const struct ip_prefix *dst, uint32_t *mtu);

/* Adds rule and fills in the priority the kernel gave it. */
int rtnl_rule_add(struct rtnl *r, struct rtnl_rule *rule);
/* Deletes exactly that rule (priority included). */
int rtnl_rule_delete(struct rtnl *r, const struct rtnl_rule *rule);
/* Calls fn for each policy rule of the family that looks up a table (ip
 * rule show), read into the shape above; fn returns false to stop early. */
int rtnl_rule_dump(struct rtnl *r, int family, bool (*fn)(const struct rtnl_rule *rule, void *ctx), void *ctx);

#endif
