/* The active measurements of roam doctor: don't-fragment pings through the
 * tunnel (ping -M do), a DNS query (dig), and a short look at the UDP that
 * reaches this host (tcpdump udp port N). Each does one small thing with a
 * deadline; doctor.c decides what the results mean. All need root
 * (raw and packet sockets), as the commands they replace do. */
#ifndef ROAM_PROBE_H
#define ROAM_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/filter.h>

#include "ip_prefix.h"

/* ---- pings ------------------------------------------------------------- */

/* A raw ICMP or ICMPv6 socket bound to one interface, with the
 * don't-fragment bit set and the kernel's path MTU cache ignored
 * (IP_PMTUDISC_PROBE), so a packet either passes whole or is lost. */
struct pinger {
	int fd;
	int family;
	uint16_t id;
	uint16_t seq;
};

/* 0 or -errno. */
int pinger_open(struct pinger *p, int family, const char *ifname);
void pinger_close(struct pinger *p);
/* Sends from src (an address of this host) rather than the interface's
 * choice: 0 or -errno. */
int pinger_bind_source(struct pinger *p, const struct ip_prefix *src);

/* The smallest and largest IP packet an echo request can be. */
enum { PING_MIN_PACKET = 48 + 8 };

/* One echo request to dst whose IP packet is exactly packet_len bytes
 * (headers included, as `ping -s` plus 28 or 48), waiting up to timeout_ms
 * for its reply. Returns 1 and the round trip in *rtt_us on a reply, 0 on
 * none, -EMSGSIZE if the interface itself refuses the size, other -errno. */
int pinger_echo(struct pinger *p, const struct ip_prefix *dst, unsigned packet_len, int timeout_ms,
		uint64_t *rtt_us);

/* ---- the largest packet through ---------------------------------------- */

/* The question "does a packet of n bytes pass?" as a function, so the
 * search below runs against the network and, in the unit tests, against a
 * model of one. Returns 1 passed, 0 lost, < 0 error (ends the search). */
typedef int (*packet_probe_fn)(void *ctx, unsigned packet_len);

/* Binary search for the largest size in [lo, hi] that passes, given that
 * lo passes. A size passes if any of `tries` attempts does (one lost reply
 * is not a black hole). Returns the size, or < 0 from the probe. *probes
 * counts the attempts made. */
int largest_passing_packet(packet_probe_fn probe, void *ctx, unsigned lo, unsigned hi, unsigned tries,
			   unsigned *probes);

/* ---- DNS --------------------------------------------------------------- */

/* Asks server:53 over UDP for name's A record (NULL: the root's NS
 * records): any reply with the query's id is an answer, whatever its rcode. Up to tries queries of
 * timeout_ms each. Returns 1 with the rcode and the round trip, 0 if
 * nothing answered, -errno if no query could be sent. */
enum { DNS_QUERY_MAX = 12 + 255 + 4 };
int dns_probe(const struct ip_prefix *server, const char *name, int timeout_ms, unsigned tries, int *rcode,
	      uint64_t *rtt_us);
/* A TCP connection attempt to dst:port, for a host that ignores pings: 1
 * when the host answered (accepted, or refused with a reset: either way
 * our SYN reached it and its answer came back), 0 when nothing came within
 * timeout_ms, -errno when it could not be tried. Closes at once. */
int tcp_probe(const struct ip_prefix *dst, uint16_t port, int timeout_ms);
/* One query (the root's NS) to server:53 over TCP, connection and answer
 * within timeout_ms: what an answer too big for UDP (truncated: DNSSEC,
 * many records) needs. NOT_TRIED is never returned: it is an
 * observation's zero. */
enum dns_tcp_result {
	DNS_TCP_NOT_TRIED,
	DNS_TCP_ANSWERED,	/* a reply with the query's id */
	DNS_TCP_REFUSED,	/* a reset: nothing listens on TCP 53 there */
	DNS_TCP_NO_CONNECTION,	/* no SYN-ACK in time (or an ICMP error): a filter drops TCP 53 */
	DNS_TCP_NO_ANSWER,	/* connected, but no reply in time */
	DNS_TCP_ERROR,		/* could not be tried */
};
enum dns_tcp_result dns_tcp_probe(const struct ip_prefix *server, int timeout_ms);

/* ---- what arrives ------------------------------------------------------ */

enum { CAPTURE_MAX_SOURCES = 8 };

struct capture_source {
	struct ip_prefix addr;	/* cidr 32/128 */
	uint16_t port;
	uint64_t count;
};

/* Datagrams to one UDP port that reached this host, seen where tcpdump
 * sees them: before the firewall. */
struct capture_result {
	uint64_t datagrams;
	uint64_t by_type[5];	/* WireGuard message type 1..4; [0] anything else */
	struct capture_source sources[CAPTURE_MAX_SOURCES];
	size_t n_sources;	/* the first distinct senders */
	uint64_t elapsed_ms;
};

/* Opens the capture of UDP datagrams to port now (so nothing between the
 * call and the wait is missed): fd or -errno. The kernel filters (a
 * classic BPF program on the packet socket, capture_filter), so the other
 * frames of a busy host are never copied to doctor. */
int capture_open(uint16_t port);

/* The filter, for capture_open and the unit tests: IPv4 (first fragments,
 * IHL of 5 or more) or IPv6 (UDP right after the fixed header) UDP to
 * port, kept up to CAPTURE_SNAP_LEN bytes from the IP header; everything
 * else dropped. Fills prog (CAPTURE_FILTER_LEN instructions) and returns
 * its length. */
enum { CAPTURE_FILTER_LEN = 18, CAPTURE_SNAP_LEN = 128 };
size_t capture_filter(struct sock_filter *prog, uint16_t port);
/* Adds the datagrams to port that arrive in the next duration_ms to out
 * (zeroed by the caller before the first call). */
void capture_run(int fd, uint16_t port, unsigned duration_ms, struct capture_result *out);
/* Counts one datagram (network-layer bytes of `proto`, an ETH_P_ value):
 * the parser capture_run uses, exposed for the unit tests and the fuzz
 * target. It trusts nothing of the filter: every length is checked
 * against len, and an IPv4 IHL below 5 is refused. */
void capture_account(struct capture_result *out, uint16_t proto, const uint8_t *pkt, size_t len, uint16_t port);

/* A monotonic clock in ms, for deadlines. */
uint64_t probe_now_ms(void);

#endif
