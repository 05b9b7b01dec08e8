/* What the network said about our own datagrams: ICMP errors (destination
 * unreachable, for IPv6 too) that quote a UDP datagram sent from the
 * interface's port. A wrong Endpoint port or a stopped daemon answers with
 * "port unreachable" from the peer's host; a router's firewall that rejects
 * answers "administratively prohibited"; a router that cannot deliver says
 * "host/network unreachable". A filter that drops says nothing, and that
 * silence is evidence too. Read through raw ICMP sockets, which get a copy
 * of every ICMP message this namespace receives. */
#ifndef ROAM_ICMP_WATCH_H
#define ROAM_ICMP_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ip_prefix.h"

enum icmp_kind {
	ICMP_KIND_PORT,		/* port unreachable: nothing listens there */
	ICMP_KIND_PROHIBITED,	/* administratively prohibited: a firewall rejects */
	ICMP_KIND_HOST,		/* host or network unreachable: no way to it */
	ICMP_KIND_OTHER,
	ICMP_KIND_COUNT
};

struct icmp_seen {
	uint64_t by_kind[ICMP_KIND_COUNT];
	struct ip_prefix reporter;	/* who sent the latest error (cidr 32/128) */
	struct ip_prefix target;	/* where the quoted datagram went */
	uint16_t target_port;
	enum icmp_kind last_kind;
	uint64_t total;
};

struct icmp_watch {
	int fd4, fd6;			/* -1 when not open */
};

/* 0 if at least one family could be watched, else -errno. */
int icmp_watch_open(struct icmp_watch *w);
void icmp_watch_close(struct icmp_watch *w);
/* Reads what has arrived so far (non-blocking), counting the errors about
 * datagrams from UDP port sport into *seen. */
void icmp_watch_drain(struct icmp_watch *w, uint16_t sport, struct icmp_seen *seen);
/* The same, counting only the errors about datagrams to target (NULL: all):
 * one peer's, while doctor probes several at once. */
void icmp_watch_drain_about(struct icmp_watch *w, uint16_t sport, const struct ip_prefix *target,
			    struct icmp_seen *seen);
/* Only the errors about datagrams to one of the n targets (only), or to
 * none of them (!only: the peers whose data paths are probed meanwhile
 * have their own watch). */
void icmp_watch_drain_filtered(struct icmp_watch *w, uint16_t sport, const struct ip_prefix *targets, size_t n,
			       bool only, struct icmp_seen *seen);
/* Counts one ICMP (family AF_INET: the IPv4 packet, header included) or
 * ICMPv6 (AF_INET6: the ICMPv6 message, as a raw socket gives it) message
 * from reporter: the parser drain uses, exposed for the unit tests. */
void icmp_watch_account(struct icmp_seen *seen, int family, const struct ip_prefix *reporter, const uint8_t *pkt,
			size_t len, uint16_t sport);
const char *icmp_kind_text(enum icmp_kind kind);

#endif
