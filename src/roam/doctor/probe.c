/* roam doctor's measurements: pings, DNS queries, a capture. */
#include "probe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/ip_icmp.h>
#include <openssl/rand.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ip_header.h"

uint64_t probe_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static uint16_t random_u16(void)
{
	uint16_t v = 0;

	if (RAND_bytes((unsigned char *)&v, sizeof(v)) != 1)
		v = (uint16_t)getpid();
	return v;
}

static void to_sockaddr(const struct ip_prefix *a, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, a->addr, 4);
		*len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, a->addr, 16);
		*len = sizeof(*sin6);
	}
}

/* How long is left until deadline (monotonic ms), for poll. */
static int remaining_ms(uint64_t deadline)
{
	uint64_t now = probe_now_ms();

	return now >= deadline ? 0 : (int)(deadline - now);
}

/* Waits until fd is readable or deadline passes: true if readable. */
static bool wait_readable(int fd, uint64_t deadline)
{
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int r = poll(&pfd, 1, remaining_ms(deadline));

		if (r < 0 && errno == EINTR)
			continue;
		return r > 0;
	}
}

/* ---- pings ------------------------------------------------------------- */

int pinger_open(struct pinger *p, int family, const char *ifname)
{
	int fd, v, err;

	p->fd = -1;
	p->family = family;
	fd = socket(family, SOCK_RAW | SOCK_CLOEXEC, family == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6);
	if (fd < 0)
		return -errno;
	/* Bound to the tunnel: the question is what the tunnel carries, not
	 * where the routing table would send the packet (a separate check). */
	if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)strlen(ifname)) < 0)
		goto fail;
	if (family == AF_INET) {
		v = IP_PMTUDISC_PROBE;
		if (setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &v, sizeof(v)) < 0)
			goto fail;
	} else {
		struct icmp6_filter filter;

		v = IPV6_PMTUDISC_PROBE;
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &v, sizeof(v)) < 0)
			goto fail;
		v = 1;
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_DONTFRAG, &v, sizeof(v)) < 0)
			goto fail;
		ICMP6_FILTER_SETBLOCKALL(&filter);
		ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &filter);
		if (setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof(filter)) < 0)
			goto fail;
	}
	p->fd = fd;
	p->id = random_u16();
	p->seq = 0;
	return 0;
fail:
	err = -errno;
	close(fd);
	return err;
}

int pinger_bind_source(struct pinger *p, const struct ip_prefix *src)
{
	struct sockaddr_storage ss;
	socklen_t ss_len;

	to_sockaddr(src, 0, &ss, &ss_len);
	return bind(p->fd, (struct sockaddr *)&ss, ss_len) < 0 ? -errno : 0;
}

void pinger_close(struct pinger *p)
{
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
}

static uint16_t inet_checksum(const uint8_t *b, size_t len)
{
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (len & 1)
		sum += (uint32_t)b[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

/* Is buf (what the raw socket returned) the reply to (id, seq)? IPv4 raw
 * sockets hand over the IP header too; ICMPv6 ones do not. */
static bool is_our_reply(const struct pinger *p, const uint8_t *buf, size_t len, uint16_t seq)
{
	const uint8_t *icmp = buf;
	uint8_t want = ICMP6_ECHO_REPLY;
	uint16_t id, s;

	if (p->family == AF_INET) {
		size_t ihl;

		if (len < IP4_HDR_LEN)
			return false;
		ihl = ip4_header_len(buf);
		if (ihl < IP4_HDR_LEN || len < ihl + 8)
			return false;
		icmp = buf + ihl;
		len -= ihl;
		want = ICMP_ECHOREPLY;
	}
	if (len < 8 || icmp[0] != want)
		return false;
	memcpy(&id, icmp + 4, 2);
	memcpy(&s, icmp + 6, 2);
	return id == htons(p->id) && s == htons(seq);
}

int pinger_echo(struct pinger *p, const struct ip_prefix *dst, unsigned packet_len, int timeout_ms,
		uint64_t *rtt_us)
{
	static uint8_t msg[65536], reply[65536];
	unsigned header = p->family == AF_INET ? 20 : 40;
	struct sockaddr_storage ss;
	socklen_t ss_len;
	uint64_t start, deadline;
	size_t icmp_len;
	uint16_t seq;
	ssize_t n;

	if (packet_len < PING_MIN_PACKET || packet_len > sizeof(msg) || dst->family != p->family)
		return -EINVAL;
	icmp_len = packet_len - header;
	seq = ++p->seq;
	memset(msg, 0, icmp_len);
	msg[0] = p->family == AF_INET ? ICMP_ECHO : ICMP6_ECHO_REQUEST;
	*(uint16_t *)(msg + 4) = htons(p->id);
	*(uint16_t *)(msg + 6) = htons(seq);
	for (size_t i = 8; i < icmp_len; i++)
		msg[i] = (uint8_t)i;	/* a pattern, as ping sends */
	if (p->family == AF_INET)	/* the kernel sums ICMPv6 itself */
		*(uint16_t *)(msg + 2) = inet_checksum(msg, icmp_len);
	to_sockaddr(dst, 0, &ss, &ss_len);
	start = now_us();
	while (sendto(p->fd, msg, icmp_len, 0, (struct sockaddr *)&ss, ss_len) < 0)
		if (errno != EINTR)
			return -errno;
	deadline = probe_now_ms() + (uint64_t)timeout_ms;
	while (wait_readable(p->fd, deadline)) {
		n = recv(p->fd, reply, sizeof(reply), MSG_DONTWAIT);
		if (n < 0)
			continue;
		if (is_our_reply(p, reply, (size_t)n, seq)) {
			*rtt_us = now_us() - start;
			return 1;
		}
	}
	return 0;
}

int largest_passing_packet(packet_probe_fn probe, void *ctx, unsigned lo, unsigned hi, unsigned tries,
			   unsigned *probes)
{
	/* Invariant: lo passes; everything above hi is known not to. */
	while (lo < hi) {
		unsigned mid = lo + (hi - lo + 1) / 2;
		int passed = 0;

		for (unsigned t = 0; t < tries && !passed; t++) {
			(*probes)++;
			passed = probe(ctx, mid);
			if (passed < 0)
				return passed;
		}
		if (passed)
			lo = mid;
		else
			hi = mid - 1;
	}
	return (int)lo;
}

/* ---- DNS --------------------------------------------------------------- */

/* A query for name's A record (NULL: the root's NS) into query; its length. */
static size_t dns_query(uint8_t query[DNS_QUERY_MAX], uint16_t id, const char *name)
{
	size_t len = 12;

	memset(query, 0, DNS_QUERY_MAX);
	memcpy(query, &id, 2);
	query[2] = 0x01;	/* RD */
	query[5] = 1;		/* one question */
	while (name && *name) {
		size_t label = strcspn(name, ".");

		if (!label || label > 63 || len + 1 + label + 5 > DNS_QUERY_MAX)
			break;
		query[len++] = (uint8_t)label;
		memcpy(query + len, name, label);
		len += label;
		name += label + (name[label] == '.');
	}
	query[len++] = 0;
	query[len++] = 0, query[len++] = name ? 1 : 2;	/* A, or NS for the root */
	query[len++] = 0, query[len++] = 1;		/* IN */
	return len;
}

int dns_probe(const struct ip_prefix *server, const char *name, int timeout_ms, unsigned tries, int *rcode,
	      uint64_t *rtt_us)
{
	struct sockaddr_storage ss;
	socklen_t ss_len;
	uint8_t query[DNS_QUERY_MAX], reply[512];
	size_t query_len;
	int fd, err;

	fd = socket(server->family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	to_sockaddr(server, 53, &ss, &ss_len);
	if (connect(fd, (struct sockaddr *)&ss, ss_len) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	for (unsigned t = 0; t < tries; t++) {
		uint16_t id = random_u16();
		uint64_t start = now_us(), deadline;

		query_len = dns_query(query, id, name);
		if (send(fd, query, query_len, 0) < 0) {
			/* ECONNREFUSED from an earlier query's ICMP: nobody listens. */
			if (errno == ECONNREFUSED)
				continue;
			err = -errno;
			close(fd);
			return err;
		}
		deadline = probe_now_ms() + (uint64_t)timeout_ms;
		while (wait_readable(fd, deadline)) {
			ssize_t n = recv(fd, reply, sizeof(reply), MSG_DONTWAIT);
			if (n >= 12 && !memcmp(reply, &id, 2) && (reply[2] & 0x80)) {
				*rcode = reply[3] & 0x0f;
				*rtt_us = now_us() - start;
				close(fd);
				return 1;
			}
			if (n < 0 && errno == ECONNREFUSED)
				break;	/* port unreachable: try again, then give up */
		}
	}
	close(fd);
	return 0;
}

/* ---- TCP --------------------------------------------------------------- */

/* A connection to dst:port within timeout_ms: 1 with *fd connected, 0 when
 * nothing came in time (or an ICMP error ended it), -ECONNREFUSED on a
 * reset, other -errno when it could not be tried. */
static int tcp_connect(const struct ip_prefix *dst, uint16_t port, int timeout_ms, int *fd)
{
	struct sockaddr_storage ss;
	socklen_t ss_len, len;
	int err = 0;

	*fd = socket(dst->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (*fd < 0)
		return -errno;
	to_sockaddr(dst, port, &ss, &ss_len);
	if (connect(*fd, (struct sockaddr *)&ss, ss_len) == 0)
		return 1;
	if (errno != EINPROGRESS) {
		err = -errno;
		close(*fd);
		return err;
	}
	struct pollfd pfd = { .fd = *fd, .events = POLLOUT };
	if (poll(&pfd, 1, timeout_ms) <= 0) {
		close(*fd);
		return 0;
	}
	len = sizeof(err);
	if (getsockopt(*fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err == 0)
		return 1;
	close(*fd);
	return err == ECONNREFUSED ? -ECONNREFUSED : 0;
}

int tcp_probe(const struct ip_prefix *dst, uint16_t port, int timeout_ms)
{
	int fd, ret = tcp_connect(dst, port, timeout_ms, &fd);

	if (ret == 1)
		close(fd);
	return ret == -ECONNREFUSED ? 1 : ret;
}

enum dns_tcp_result dns_tcp_probe(const struct ip_prefix *server, int timeout_ms)
{
	uint64_t deadline = probe_now_ms() + (uint64_t)timeout_ms;
	uint8_t msg[2 + DNS_QUERY_MAX], reply[2 + 12];
	uint16_t id = random_u16();
	size_t len = dns_query(msg + 2, id, NULL), got = 0;
	int fd, ret = tcp_connect(server, 53, timeout_ms, &fd);

	if (ret == 0)
		return DNS_TCP_NO_CONNECTION;
	if (ret == -ECONNREFUSED)
		return DNS_TCP_REFUSED;
	if (ret < 0)
		return DNS_TCP_ERROR;
	/* DNS over TCP: each message after its length, two bytes. */
	msg[0] = (uint8_t)(len >> 8), msg[1] = (uint8_t)len;
	if (send(fd, msg, len + 2, MSG_NOSIGNAL) != (ssize_t)(len + 2)) {
		close(fd);
		return DNS_TCP_NO_ANSWER;
	}
	while (got < sizeof(reply) && wait_readable(fd, deadline)) {
		ssize_t n = recv(fd, reply + got, sizeof(reply) - got, MSG_DONTWAIT);

		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			break;	/* closed or reset: no answer */
		if (n > 0)
			got += (size_t)n;
	}
	close(fd);
	return got == sizeof(reply) && !memcmp(reply + 2, &id, 2) && (reply[4] & 0x80) ? DNS_TCP_ANSWERED
										       : DNS_TCP_NO_ANSWER;
}

/* ---- what arrives ------------------------------------------------------ */

/* Where each instruction of the filter sits, so the jumps can name their
 * targets (a classic BPF jump counts the instructions it skips). */
enum {
	F_PROTO, F_IS_V4,
	F_V4_PROTO, F_V4_UDP, F_V4_FRAG, F_V4_FIRST, F_V4_IHL, F_V4_IHL_TO_A, F_V4_IHL_MIN, F_V4_DPORT, F_V4_PORT,
	F_IS_V6, F_V6_NEXT, F_V6_UDP, F_V6_DPORT, F_V6_PORT,
	F_ACCEPT, F_DROP,
};
#define SKIP_TO(target, from) ((uint8_t)((target) - (from) - 1))

size_t capture_filter(struct sock_filter *prog, uint16_t port)
{
	const struct sock_filter f[CAPTURE_FILTER_LEN] = {
		/* The packet socket is SOCK_DGRAM: offset 0 is the IP header,
		 * and the ethertype comes from the kernel's skb->protocol. */
		[F_PROTO] = BPF_STMT(BPF_LD | BPF_H | BPF_ABS, (uint32_t)(SKF_AD_OFF + SKF_AD_PROTOCOL)),
		[F_IS_V4] = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IP, 0, SKIP_TO(F_IS_V6, F_IS_V4)),
		/* IPv4: UDP, the first fragment (later ones have no UDP
		 * header), a header of at least 20 bytes, then the
		 * destination port after however many options. */
		[F_V4_PROTO] = BPF_STMT(BPF_LD | BPF_B | BPF_ABS, IP4_PROTO),
		[F_V4_UDP] = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_UDP, 0, SKIP_TO(F_DROP, F_V4_UDP)),
		[F_V4_FRAG] = BPF_STMT(BPF_LD | BPF_H | BPF_ABS, IP4_FRAG),
		[F_V4_FIRST] = BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x1fff, SKIP_TO(F_DROP, F_V4_FIRST), 0),
		[F_V4_IHL] = BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 0),	/* X = 4 * (byte 0 & 0xf) */
		[F_V4_IHL_TO_A] = BPF_STMT(BPF_MISC | BPF_TXA, 0),
		[F_V4_IHL_MIN] = BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, IP4_HDR_LEN, 0, SKIP_TO(F_DROP, F_V4_IHL_MIN)),
		[F_V4_DPORT] = BPF_STMT(BPF_LD | BPF_H | BPF_IND, UDP_DPORT),
		[F_V4_PORT] = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, port, SKIP_TO(F_ACCEPT, F_V4_PORT),
				       SKIP_TO(F_DROP, F_V4_PORT)),
		/* IPv6: UDP right after the fixed header (what peers send). */
		[F_IS_V6] = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IPV6, 0, SKIP_TO(F_DROP, F_IS_V6)),
		[F_V6_NEXT] = BPF_STMT(BPF_LD | BPF_B | BPF_ABS, IP6_NEXT_HDR),
		[F_V6_UDP] = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_UDP, 0, SKIP_TO(F_DROP, F_V6_UDP)),
		[F_V6_DPORT] = BPF_STMT(BPF_LD | BPF_H | BPF_ABS, IP6_HDR_LEN + UDP_DPORT),
		[F_V6_PORT] = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, port, SKIP_TO(F_ACCEPT, F_V6_PORT),
				       SKIP_TO(F_DROP, F_V6_PORT)),
		/* Only the headers and the WireGuard type byte are read:
		 * the rest of a datagram is not copied. */
		[F_ACCEPT] = BPF_STMT(BPF_RET | BPF_K, CAPTURE_SNAP_LEN),
		[F_DROP] = BPF_STMT(BPF_RET | BPF_K, 0),
	};

	memcpy(prog, f, sizeof(f));
	return CAPTURE_FILTER_LEN;
}

int capture_open(uint16_t port)
{
	struct sock_filter prog[CAPTURE_FILTER_LEN];
	struct sock_fprog fprog = { .len = (unsigned short)capture_filter(prog, port), .filter = prog };
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
	int fd, err;

	/* Protocol 0 receives nothing until bound: the filter is in place
	 * before the first frame, so none slips through unfiltered. */
	fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof(fprog)) < 0 ||
	    bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static void add_source(struct capture_result *out, int family, const uint8_t *addr, uint16_t port)
{
	size_t alen = family == AF_INET ? 4 : 16;

	for (size_t i = 0; i < out->n_sources; i++) {
		struct capture_source *s = &out->sources[i];

		if (s->addr.family == family && s->port == port && !memcmp(s->addr.addr, addr, alen)) {
			s->count++;
			return;
		}
	}
	if (out->n_sources < CAPTURE_MAX_SOURCES) {
		struct capture_source *s = &out->sources[out->n_sources++];

		memset(s, 0, sizeof(*s));
		s->addr.family = family;
		s->addr.cidr = (uint8_t)(alen * 8);
		memcpy(s->addr.addr, addr, alen);
		s->port = port;
		s->count = 1;
	}
}

void capture_account(struct capture_result *out, uint16_t proto, const uint8_t *pkt, size_t len, uint16_t port)
{
	const uint8_t *udp, *src;
	size_t off;
	int family;
	uint8_t type;

	if (proto == ETH_P_IP) {
		if (len < IP4_HDR_LEN || ip_version(pkt) != 4 || pkt[IP4_PROTO] != IPPROTO_UDP)
			return;
		/* Later fragments carry no UDP header. */
		if ((((unsigned)pkt[IP4_FRAG] << 8 | pkt[IP4_FRAG + 1]) & 0x1fff) != 0)
			return;
		/* An IHL below 5 would put the UDP header inside the IP one. */
		off = ip4_header_len(pkt);
		if (off < IP4_HDR_LEN)
			return;
		family = AF_INET;
		src = pkt + IP4_SRC;
	} else if (proto == ETH_P_IPV6) {
		if (len < IP6_HDR_LEN || ip_version(pkt) != 6 || pkt[IP6_NEXT_HDR] != IPPROTO_UDP)
			return;	/* extension headers: not what WireGuard peers send */
		off = IP6_HDR_LEN;
		family = AF_INET6;
		src = pkt + IP6_SRC;
	} else {
		return;
	}
	if (len < off + UDP_HDR_LEN)
		return;
	udp = pkt + off;
	if (((unsigned)udp[UDP_DPORT] << 8 | udp[UDP_DPORT + 1]) != port)
		return;
	out->datagrams++;
	/* The first byte of a WireGuard message is its type. */
	type = len > off + UDP_HDR_LEN ? udp[UDP_HDR_LEN] : 0;
	out->by_type[type >= 1 && type <= 4 ? type : 0]++;
	add_source(out, family, src, (uint16_t)(udp[UDP_SPORT] << 8 | udp[UDP_SPORT + 1]));
}

void capture_run(int fd, uint16_t port, unsigned duration_ms, struct capture_result *out)
{
	static uint8_t buf[65536];
	uint64_t start = probe_now_ms(), deadline = start + duration_ms;

	while (wait_readable(fd, deadline)) {
		struct sockaddr_ll sll;
		socklen_t sll_len = sizeof(sll);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&sll, &sll_len);
		/* Only what arrives for this host: not our own sends, and not
		 * what loopback shows twice. */
		if (n > 0 && sll.sll_pkttype == PACKET_HOST)
			capture_account(out, ntohs(sll.sll_protocol), buf, (size_t)n, port);
	}
	out->elapsed_ms += probe_now_ms() - start;
}
