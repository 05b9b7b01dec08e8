/* Reacting to the host's network instead of waiting for a timer.
 *
 * A phone that only listens (push notifications, an idle SSH session) sends
 * nothing but persistent keepalives. When its uplink changes, the far side
 * keeps sending to the old address until the next keepalive tells it the new
 * one: up to a whole keepalive interval (25 s with the usual setting) during
 * which the phone is unreachable. netwatch listens to rtnetlink for changes
 * of the host's links, addresses, routes and routing rules and, right after
 * one, makes every recently active peer hear from us over the new path, so
 * the far side learns our new address about one round trip after the change.
 *
 * What it ignores: our own TUN interface (wg-quick adding routes through it
 * must not make us react to ourselves), lifetime refreshes of addresses,
 * cached routes, broadcast/multicast/anycast routes, link changes that leave
 * a link's ability to carry traffic as it was.
 *
 * It also keeps the routing generation the data path checks sticky sources
 * against (netwatch.c, "Sticky sources"). ROAMD_NO_NETWATCH=1 (main.c) turns
 * the notification rounds off, not that. */
#ifndef ROAMD_NETWATCH_H
#define ROAMD_NETWATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "endpoint.h"

struct daemon;
struct netwatch;

/* Subscribes to rtnetlink and starts learning the current links and
 * addresses (changes to our own interface, own_ifindex, are never a reason
 * to act). NULL with a message in err if it cannot. */
struct netwatch *netwatch_open(unsigned own_ifindex, bool notify, char *err, size_t err_len);
void netwatch_close(struct netwatch *nw);

/* One fd for the event loop: readable when rtnetlink has news or a
 * notification round is due. */
int netwatch_fd(const struct netwatch *nw);

/* The fd is readable: read a bounded number of messages, and run the round
 * if it is due and notify is on (send each active peer a keepalive, or a
 * handshake initiation where there is no usable session). */
void netwatch_event(struct daemon *d);
/* A keepalive (or an initiation, without a session) to every active peer
 * now, so each far side learns where we are; returns how many, and the
 * dormant ones left alone. For a network change and for a resume. */
unsigned netwatch_tell_peers(struct daemon *d, uint64_t now, unsigned *dormant);

/* The routing generation, after reading any news already waiting (without
 * blocking and without running a round): it moves with every change of
 * the host's links, addresses, routes or rules, and is never 0. */
uint32_t netwatch_generation(struct netwatch *nw);

/* For each of the n endpoints (each with a sticky source), asks the kernel
 * whether the route from its source to it (with fwmark) still leaves by
 * the interface the source was learnt on: fits[i]. One netlink round trip
 * per 32 endpoints; an endpoint the kernel does not answer for, or any
 * when route queries are unavailable, does not fit. */
void netwatch_check_sources(struct netwatch *nw, const struct endpoint *eps, bool *fits, unsigned n,
			    uint32_t fwmark);

/* Whether this host's kernel holds, for the route to `to` (with fwmark),
 * a path MTU it learnt from an ICMP error and will forget (a cached
 * exception that expires), rather than a route's configured mtu or its
 * device's. false when it cannot tell. One synchronous route query. */
bool netwatch_route_mtu_is_learnt(struct netwatch *nw, const struct endpoint *to, uint32_t fwmark);

/* The parsers behind those, for tests and the fuzz target (tests/fuzz/
 * fuzz_netlink.c): n bytes of rtnetlink messages as one datagram from the
 * subscription, taken as netwatch_event takes them (what the host has is
 * updated, a round may be scheduled); and one answer to a route query:
 * does the route leave by src_ifindex (0: is there a route at all)? */
struct nlmsghdr;
void netwatch_parse(struct netwatch *nw, const void *buf, size_t n, uint64_t now);
bool netwatch_source_fits(const struct nlmsghdr *nlh, uint32_t src_ifindex);

#endif
