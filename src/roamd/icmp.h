/* ICMP "unreachable" for packets the tunnel cannot carry (no peer for the
 * destination, or a peer without an endpoint), as the kernel's WireGuard
 * does (docs/protocol.md §6): IPv4 destination unreachable / host unreachable
 * (type 3 code 1), ICMPv6 destination unreachable / address unreachable
 * (type 1 code 3). */
#ifndef ROAMD_ICMP_H
#define ROAMD_ICMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A token bucket over all replies: a program flooding a dead destination
 * must not turn us into a flood of our own. */
struct icmp_limiter {
	uint64_t credit;	/* ns of budget; one reply costs ICMP_COST_NS */
	uint64_t last;
};
bool icmp_limiter_allow(struct icmp_limiter *limiter, uint64_t now);

/* The largest reply icmp_build_unreachable writes (the IPv6 minimum MTU). */
enum { ICMP_REPLY_MAX = 1280 };

/* Writes into out (ICMP_REPLY_MAX bytes) the error for pkt, addressed back
 * to its sender, quoting its start like the kernel does; returns its length,
 * or 0 when no error may be sent (pkt is itself an ICMP error, a fragment
 * other than the first, to or from a multicast/broadcast/unspecified
 * address, or malformed). The error's source is pkt's destination: an
 * address of our own would be dropped as a martian when the kernel reads it
 * back from the TUN device. */
size_t icmp_build_unreachable(const uint8_t *pkt, size_t len, uint8_t *out);
/* The same for a packet larger than the path to its peer carries: ICMP
 * "fragmentation needed" (IPv4) or ICMPv6 "packet too big", naming mtu, the
 * largest inner packet that fits, so the sender sends smaller ones. */
size_t icmp_build_too_big(const uint8_t *pkt, size_t len, unsigned mtu, uint8_t *out);

#endif
