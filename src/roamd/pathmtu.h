/* Path MTU at the edge: learning each peer's path from the errors its
 * datagrams meet, and fitting inner packets to it. The engine keeps the
 * value (device.h, "Path MTU"); what this file decides:
 *
 * Learning. The UDP sockets report ICMP "fragmentation needed" / ICMPv6
 * "packet too big", and our own kernel's "larger than the interface", with
 * the start of the datagram concerned (udp_read_error). A report counts
 * only if what it quotes is a data message we really sent to that peer (its
 * session's receiver index and a counter already used), so a forged ICMP
 * error that an off-path attacker aims at the host moves nothing; and no
 * report takes a path below PATH_MTU_FLOOR_V4 / _V6. Checking walks the
 * peers, so at most ICMP_PER_SECOND reports a second are checked.
 *
 * Fitting. An inner packet longer than the peer's limit (its path MTU less
 * the encapsulation, a multiple of 16):
 *   - TCP super-packets from the TUN are cut into segments that fit, and
 *     the sender is told as below (so it retransmits at once what the path
 *     lost before roamd learnt its size);
 *   - IPv4 with DF, and IPv6 when the limit is at least 1280: refused with
 *     ICMP "fragmentation needed" / "packet too big" naming the limit, as a
 *     router on a smaller link does, so the sender's own path-MTU discovery
 *     sends smaller packets from then on;
 *   - IPv4 without DF: fragmented here, as a router would (RFC 791,
 *     fragment.h), so
 *     every outer datagram fits the path and the peer's host reassembles;
 *   - IPv6 when the limit is below 1280 (IPv6 promises every link 1280
 *     bytes, so the sender may not be told less) and IPv4 with options:
 *     sent in one outer datagram that the kernel fragments. */
#ifndef ROAMD_PATHMTU_H
#define ROAMD_PATHMTU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct daemon;
struct gso_iter;

struct peer;
/* Reads the socket's error queue (bounded) and learns from it. sent_to is
 * the peer of a send the kernel just refused as too big (its report quotes
 * nothing, so it is matched by the destination), or NULL. */
void pathmtu_read_errors(struct daemon *d, int fd, struct peer *sent_to, uint64_t now);
/* What to do with an inner packet from the TUN. */
enum path_fit {
	PATH_FITS = 0,		/* send it the normal way */
	PATH_REFUSED,		/* answered with an ICMP error here: drop it */
	PATH_FRAGMENT_INNER,	/* cut it with ip4_fragment to *limit bytes */
	PATH_FRAGMENT_OUTER,	/* send it in one datagram, fragmentation allowed */
};
/* *peer_out: the peer routed to (NULL: none), so the send need not look
 * it up again. */
enum path_fit pathmtu_fit(struct daemon *d, const uint8_t *pkt, size_t len, unsigned *limit, struct peer **peer_out,
			  uint64_t now);
/* A TCP super-packet about to be cut: smaller segments if its peer's path
 * needs them. */
void pathmtu_fit_segments(struct daemon *d, const uint8_t *pkt, size_t len, struct gso_iter *it, uint64_t now);
/* The peer's path was just found smaller: the sender of the last large
 * packet sent there (lost, most likely) is told "fragmentation needed" /
 * "packet too big" at once, as a router on the path would have. */
void pathmtu_tell_last_sender(struct daemon *d, struct peer *peer, uint64_t now);
/* What the engine says: a probe that found the path smaller tells the
 * last large packet's sender at once, as an ICMP report does, rather than
 * leaving it to find out at its next retransmission, which TCP's backoff
 * may put seconds later. */
void pathmtu_on_device_event(struct daemon *d, const struct device_event *ev);
/* The routes changed: every learnt path MTU may be wrong now. */
void pathmtu_forget_all(struct daemon *d);

#endif
