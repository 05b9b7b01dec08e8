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
 * Disabled with ROAMD_NO_NETWATCH=1 (main.c). */
#ifndef ROAMD_NETWATCH_H
#define ROAMD_NETWATCH_H

#include <stddef.h>
#include <stdint.h>

struct daemon;
struct netwatch;

/* Subscribes to rtnetlink and starts learning the current links and
 * addresses (changes to our own interface, own_ifindex, are never a reason
 * to act). NULL with a message in err if it cannot. */
struct netwatch *netwatch_open(unsigned own_ifindex, char *err, size_t err_len);
void netwatch_close(struct netwatch *nw);

/* One fd for the event loop: readable when rtnetlink has news or a
 * notification round is due. */
int netwatch_fd(const struct netwatch *nw);

/* The fd is readable: read a bounded number of messages, and run the round
 * if it is due (forget sticky sources, send each active peer a keepalive, or
 * a handshake initiation where there is no usable session). */
void netwatch_event(struct daemon *d);

#endif
