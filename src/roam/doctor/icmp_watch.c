/* ICMP errors about our own datagrams (see icmp_watch.h). */
#include "icmp_watch.h"

#include <errno.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int icmp_watch_open(struct icmp_watch *w)
{
	int err = 0;

	w->fd4 = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMP);
	if (w->fd4 < 0)
		err = -errno;
	w->fd6 = socket(AF_INET6, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMPV6);
	if (w->fd6 >= 0) {
		struct icmp6_filter filter;

		/* Only the error this watch reads: the socket queue is not
		 * filled with neighbour discovery. */
		ICMP6_FILTER_SETBLOCKALL(&filter);
		ICMP6_FILTER_SETPASS(ICMP6_DST_UNREACH, &filter);
		setsockopt(w->fd6, IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof(filter));
	} else if (w->fd4 < 0) {
		return err;
	}
	return 0;
}

void icmp_watch_close(struct icmp_watch *w)
{
	if (w->fd4 >= 0)
		close(w->fd4);
	if (w->fd6 >= 0)
		close(w->fd6);
	w->fd4 = w->fd6 = -1;
}

static enum icmp_kind kind4(uint8_t code)
{
	switch (code) {
	case ICMP_PORT_UNREACH:
		return ICMP_KIND_PORT;
	case ICMP_NET_UNREACH: case ICMP_HOST_UNREACH: case ICMP_NET_UNKNOWN: case ICMP_HOST_UNKNOWN:
		return ICMP_KIND_HOST;
	case ICMP_NET_ANO: case ICMP_HOST_ANO: case ICMP_PKT_FILTERED:
		return ICMP_KIND_PROHIBITED;
	default:
		return ICMP_KIND_OTHER;
	}
}

static enum icmp_kind kind6(uint8_t code)
{
	switch (code) {
	case ICMP6_DST_UNREACH_NOPORT:
		return ICMP_KIND_PORT;
	case ICMP6_DST_UNREACH_NOROUTE: case ICMP6_DST_UNREACH_ADDR: case ICMP6_DST_UNREACH_BEYONDSCOPE:
		return ICMP_KIND_HOST;
	case ICMP6_DST_UNREACH_ADMIN: case 5: /* source address failed policy */ case 6: /* reject route */
		return ICMP_KIND_PROHIBITED;
	default:
		return ICMP_KIND_OTHER;
	}
}

void icmp_watch_account(struct icmp_seen *seen, int family, const struct ip_prefix *reporter, const uint8_t *pkt,
			size_t len, uint16_t sport)
{
	const uint8_t *inner, *udp;
	size_t ihl, inner_hl;
	enum icmp_kind kind;
	struct ip_prefix target = { .family = family };

	if (family == AF_INET) {
		/* IPv4 header, ICMP header (8), the quoted IPv4 header, 8 bytes of UDP. */
		if (len < 20 || (ihl = (size_t)(pkt[0] & 0x0f) * 4) < 20 || len < ihl + 8 + 20)
			return;
		if (pkt[ihl] != ICMP_DEST_UNREACH)
			return;
		kind = kind4(pkt[ihl + 1]);
		inner = pkt + ihl + 8;
		inner_hl = (size_t)(inner[0] & 0x0f) * 4;
		if ((inner[0] >> 4) != 4 || inner_hl < 20 || inner[9] != IPPROTO_UDP ||
		    len < ihl + 8 + inner_hl + 8)
			return;
		memcpy(target.addr, inner + 16, 4);
		target.cidr = 32;
	} else {
		/* ICMPv6 header (8), the quoted IPv6 header (40), 8 bytes of UDP. */
		if (len < 8 + 40 + 8 || pkt[0] != ICMP6_DST_UNREACH)
			return;
		kind = kind6(pkt[1]);
		inner = pkt + 8;
		inner_hl = 40;
		if ((inner[0] >> 4) != 6 || inner[6] != IPPROTO_UDP)
			return;
		memcpy(target.addr, inner + 24, 16);
		target.cidr = 128;
	}
	udp = inner + inner_hl;
	if ((uint16_t)(udp[0] << 8 | udp[1]) != sport)
		return;
	seen->by_kind[kind]++;
	seen->total++;
	seen->last_kind = kind;
	seen->reporter = *reporter;
	seen->target = target;
	seen->target_port = (uint16_t)(udp[2] << 8 | udp[3]);
}

/* Is `got`, where an error's quoted datagram went, one of the n targets? */
static bool among(const struct ip_prefix *targets, size_t n, const struct ip_prefix *got)
{
	for (size_t i = 0; i < n; i++)
		if (targets[i].family == got->family &&
		    !memcmp(targets[i].addr, got->addr, got->family == AF_INET ? 4 : 16))
			return true;
	return false;
}

static void drain_one(int fd, int family, uint16_t sport, const struct ip_prefix *targets, size_t n_targets,
		      bool only, struct icmp_seen *seen)
{
	uint8_t buf[1500];

	/* Bounded: a flood cannot keep doctor here. */
	for (int i = 0; fd >= 0 && i < 256; i++) {
		struct sockaddr_storage from;
		socklen_t flen = sizeof(from);
		struct ip_prefix reporter = { .family = family };
		struct icmp_seen one = { 0 };
		ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen);

		if (n < 0)
			return;
		if (family == AF_INET) {
			memcpy(reporter.addr, &((struct sockaddr_in *)&from)->sin_addr, 4);
			reporter.cidr = 32;
		} else {
			memcpy(reporter.addr, &((struct sockaddr_in6 *)&from)->sin6_addr, 16);
			reporter.cidr = 128;
		}
		icmp_watch_account(&one, family, &reporter, buf, (size_t)n, sport);
		if (!one.total || among(targets, n_targets, &one.target) != only)
			continue;
		for (int k = 0; k < ICMP_KIND_COUNT; k++)
			seen->by_kind[k] += one.by_kind[k];
		seen->total += one.total;
		seen->last_kind = one.last_kind;
		seen->reporter = one.reporter;
		seen->target = one.target;
		seen->target_port = one.target_port;
	}
}

void icmp_watch_drain(struct icmp_watch *w, uint16_t sport, struct icmp_seen *seen)
{
	icmp_watch_drain_filtered(w, sport, NULL, 0, false, seen);
}

void icmp_watch_drain_about(struct icmp_watch *w, uint16_t sport, const struct ip_prefix *target,
			    struct icmp_seen *seen)
{
	icmp_watch_drain_filtered(w, sport, target, target ? 1 : 0, target != NULL, seen);
}

void icmp_watch_drain_filtered(struct icmp_watch *w, uint16_t sport, const struct ip_prefix *targets, size_t n,
			       bool only, struct icmp_seen *seen)
{
	drain_one(w->fd4, AF_INET, sport, targets, n, only, seen);
	drain_one(w->fd6, AF_INET6, sport, targets, n, only, seen);
}

const char *icmp_kind_text(enum icmp_kind kind)
{
	static const char *const text[ICMP_KIND_COUNT] = {
		[ICMP_KIND_PORT] = "port unreachable",
		[ICMP_KIND_PROHIBITED] = "administratively prohibited",
		[ICMP_KIND_HOST] = "host or network unreachable",
		[ICMP_KIND_OTHER] = "destination unreachable",
	};
	return kind < ICMP_KIND_COUNT ? text[kind] : "?";
}
