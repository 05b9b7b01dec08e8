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

/* When the latest error came from one of this host's own addresses, its
 * kernel could not reach the next hop (ARP/ND failed): the route the
 * daemon's datagrams to the target take (ip route get TARGET mark M), and
 * the policy rule that chose its table when not main. Filled by doctor
 * (doctor_locate_next_hop), not by the watch. */
struct icmp_next_hop {
	bool reporter_local;
	char gateway[IP_PREFIX_STRLEN];	/* "" no gateway: the target is on the link */
	char dev[16];			/* IF_NAMESIZE */
	uint32_t table;			/* 0 unknown */
	bool by_rule;			/* a rule fwmark M lookup table chose it */
	uint32_t rule_fwmark, rule_priority;
};

struct icmp_seen {
	uint64_t by_kind[ICMP_KIND_COUNT];
	struct ip_prefix reporter;	/* who sent the latest error (cidr 32/128) */
	struct ip_prefix target;	/* where the quoted datagram went */
	uint16_t target_port;
	enum icmp_kind last_kind;
	uint64_t total;
	struct icmp_next_hop next_hop;
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
