/* UDP sockets: dual-stack bind, batched receive, sends from a sticky source,
 * and the UDP offloads: GRO on receive, GSO (UDP_SEGMENT) on send. */
#include <errno.h>
#include <time.h> /* linux/errqueue.h uses struct timespec */
#include <linux/errqueue.h>
#include <linux/filter.h>
#include <netinet/icmp6.h>
#include <netinet/ip_icmp.h>
#include <netinet/udp.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "messages.h"
#include "udp.h"


/* Offloads, probed per socket: a kernel without them says ENOPROTOOPT and
 * the socket simply works without. */
static void probe_offloads(int fd, const struct udp_options *opt, bool *gro, bool *gso)
{
	int one = 1, val = 0;
	socklen_t len = sizeof(val);
	*gro = opt->gro && setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof(one)) == 0;
	*gso = opt->gso && getsockopt(fd, SOL_UDP, UDP_SEGMENT, &val, &len) == 0;
}

/* Socket buffers big enough to ride out a burst while the loop is busy
 * elsewhere (the FORCE variants ignore rmem_max; we run as root). */
enum { UDP_SOCKET_BUFFER = 4 << 20 };

static void set_buffers(int fd)
{
	int size = UDP_SOCKET_BUFFER;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
}

static int set_mark(int fd, uint32_t fwmark)
{
	if (fd < 0)
		return 0;
	return setsockopt(fd, SOL_SOCKET, SO_MARK, &fwmark, sizeof(fwmark)) < 0 ? -errno : 0;
}

/* Path-MTU mode. Every datagram we send carries DF, batched or not: the
 * default ("WANT") sets DF on a UDP_SEGMENT send only when the whole batch
 * fits the MTU, which it never does, so the bulk of our traffic would leave
 * without it and a router on a smaller path would fragment it silently,
 * which carrier NATs that drop fragments turn into a black hole.
 *
 * The mode is "DO": DF, and the kernel refuses (EMSGSIZE) a datagram larger
 * than the path MTU it knows for the destination, a route's configured
 * `mtu` included. (Not "PROBE", which would ignore the kernel's cache, and
 * with it every ICMP error the kernel accepted, forged or not, but also an
 * operator's route MTU, leaving such a route a black hole.) A datagram
 * refused as too big is sent once more with fragmentation allowed
 * (send_fragmented), so traffic still flows where fragments pass; and with
 * path-MTU learning on (not ROAMD_NO_PMTU), the refusal and every ICMP error
 * about our datagrams are also reported on the socket's error queue
 * (IP_RECVERR), from which pathmtu.c learns the peer's path and fits inner
 * packets to it, so that what follows is not refused at all. */
static int set_pmtu_mode(int fd, int family, bool may_fragment)
{
	int level = family == AF_INET6 ? IPPROTO_IPV6 : IPPROTO_IP;
	int name = family == AF_INET6 ? IPV6_MTU_DISCOVER : IP_MTU_DISCOVER;
	int mode;
	if (family == AF_INET6)
		mode = may_fragment ? IPV6_PMTUDISC_WANT : IPV6_PMTUDISC_DO;
	else
		mode = may_fragment ? IP_PMTUDISC_WANT : IP_PMTUDISC_DO;
	return setsockopt(fd, level, name, &mode, sizeof(mode)) < 0 ? -errno : 0;
}

/* ICMP errors about our datagrams, queued on the socket with what they
 * quote (udp_read_error). Their side effect: each also fails the socket's
 * next send or receive once with its error, which send_one and
 * udp_recv_batch absorb. */
static int set_recverr(int fd, int family, const struct udp_options *opt)
{
	int one = 1;
	if (!opt->pmtu)
		return 0;
	if (family == AF_INET6)
		return setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &one, sizeof(one)) < 0 ? -errno : 0;
	return setsockopt(fd, IPPROTO_IP, IP_RECVERR, &one, sizeof(one)) < 0 ? -errno : 0;
}

static int open_socket(int family, uint16_t port, uint32_t fwmark, const struct udp_options *opt, bool reuseport,
		       int *fd_out)
{
	int one = 1;
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int ret = 0;
	if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
		ret = -errno;
	union {
		struct sockaddr sa;
		struct sockaddr_in in4;
		struct sockaddr_in6 in6;
	} addr;
	memset(&addr, 0, sizeof(addr));
	socklen_t addr_len;
	if (family == AF_INET6) {
		/* IPv4 has its own socket: mapped addresses here would make
		 * one peer look like two. */
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0 ||
		    setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one)) < 0)
			ret = -errno;
		addr.in6.sin6_family = AF_INET6;
		addr.in6.sin6_port = htons(port);
		addr.in6.sin6_addr = in6addr_any;
		addr_len = sizeof(addr.in6);
	} else {
		if (setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)) < 0)
			ret = -errno;
		addr.in4.sin_family = AF_INET;
		addr.in4.sin_port = htons(port);
		addr.in4.sin_addr.s_addr = htonl(INADDR_ANY);
		addr_len = sizeof(addr.in4);
	}
	if (!ret && fwmark)
		ret = set_mark(fd, fwmark);
	if (!ret)
		ret = set_pmtu_mode(fd, family, false);
	if (!ret)
		ret = set_recverr(fd, family, opt);
	if (!ret) {
		set_buffers(fd);
		if (bind(fd, &addr.sa, addr_len) < 0)
			ret = -errno;
	}
	if (ret) {
		close(fd);
		return ret;
	}
	*fd_out = fd;
	return 0;
}

/* The family is simply not available here (no IPv6 in this namespace). */
static uint16_t bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return 0;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* Steering: data for established sessions must not wait, or be dropped,
 * behind a flood of handshake messages in one socket's receive buffer. A
 * flood faster than the loop reads fills the buffer, and the kernel then
 * drops whatever arrives next, data and handshakes alike (at 500,000
 * initiations a second, 5% of the datagrams, and with them the tunnel's
 * pings). So each family has two sockets on the port, in one SO_REUSEPORT
 * group, and a classic BPF program attached to the group picks the socket
 * for every datagram by its first byte, the message type: data messages go
 * to the group's first socket (fd4/fd6), everything else to the second
 * (hs4/hs6). The loop reads the data socket in every round and the
 * handshake socket only while its queue has room (datapath.c): the excess
 * of a flood is dropped by the kernel, in the handshake socket's buffer,
 * before it costs us a copy, and never pushes data out.
 *
 * The program sees the datagram from its UDP payload on (the kernel pulls
 * the UDP header first); a datagram too short to load from makes the
 * program return 0, the data socket, where the engine refuses it. */
static int attach_steering(int fd)
{
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, MESSAGE_DATA, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0),
		BPF_STMT(BPF_RET | BPF_K, 1),
	};
	struct sock_fprog prog = {.len = sizeof(code) / sizeof(code[0]), .filter = code};
	return setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof(prog)) < 0 ? -errno : 0;
}

/* Replaces the plain socket *fd, bound to its port, by a steered pair on
 * the same port: *fd for data, *hs for the rest. The plain bind came first
 * so that a port in use (by anyone, also a reuseport group) is refused as
 * it always was: a socket without SO_REUSEPORT cannot join one. The group
 * is joined only by sockets of the same user with SO_REUSEPORT set, and a
 * stranger joining it would get nothing (the program names only the first
 * two). If the kernel will not steer, the plain socket stays: everything
 * then arrives on *fd, as before, and *hs is -1. */
static void steer(int family, uint32_t fwmark, const struct udp_options *opt, int *fd, int *hs)
{
	*hs = -1;
	uint16_t port = bound_port(*fd);
	int data = -1, rest = -1;
	close(*fd);
	*fd = -1;
	int ret = open_socket(family, port, fwmark, opt, true, &data);
	if (!ret)
		ret = open_socket(family, port, fwmark, opt, true, &rest);
	if (!ret)
		ret = attach_steering(data);
	if (!ret) {
		*fd = data;
		*hs = rest;
		return;
	}
	if (data >= 0)
		close(data);
	if (rest >= 0)
		close(rest);
	log_info("UDP port %u: no steering of handshake messages to their own socket (%s); one socket takes all",
		 port, strerror(-ret));
	if (open_socket(family, port, fwmark, opt, false, fd))
		*fd = -1;
}

static bool family_missing(int err)
{
	return err == -EAFNOSUPPORT || err == -EADDRNOTAVAIL || err == -EPROTONOSUPPORT;
}

int udp_pair_bind(struct udp_pair *pair, uint16_t port, uint32_t fwmark, const struct udp_options *opt)
{
	*pair = UDP_PAIR_CLOSED;
	/* A random port must be free in both families: the kernel picks it
	 * for IPv4, and if IPv6 has it taken we try another one. */
	for (int attempt = 0; attempt < 100; attempt++) {
		int fd4 = -1, fd6 = -1;
		int ret = open_socket(AF_INET, port, fwmark, opt, false, &fd4);
		if (ret && !family_missing(ret))
			return ret;
		uint16_t p = fd4 >= 0 ? bound_port(fd4) : port;
		int ret6 = open_socket(AF_INET6, p, fwmark, opt, false, &fd6);
		if (ret6 && !family_missing(ret6)) {
			if (fd4 >= 0)
				close(fd4);
			if (ret6 == -EADDRINUSE && port == 0 && fd4 >= 0)
				continue;
			return ret6;
		}
		if (fd4 < 0 && fd6 < 0)
			return ret;
		if (fd4 < 0)
			p = bound_port(fd6);
		*pair = (struct udp_pair){.fd4 = fd4, .fd6 = fd6, .hs4 = -1, .hs6 = -1, .port = p, .opt = *opt};
		if (opt->steer && pair->fd4 >= 0)
			steer(AF_INET, fwmark, opt, &pair->fd4, &pair->hs4);
		if (opt->steer && pair->fd6 >= 0)
			steer(AF_INET6, fwmark, opt, &pair->fd6, &pair->hs6);
		if (pair->fd4 < 0 && pair->fd6 < 0) {
			*pair = UDP_PAIR_CLOSED;
			return -EADDRINUSE;
		}
		fd4 = pair->fd4;
		fd6 = pair->fd6;
		if (fd4 >= 0)
			probe_offloads(fd4, opt, &pair->gro4, &pair->gso4);
		if (fd6 >= 0)
			probe_offloads(fd6, opt, &pair->gro6, &pair->gso6);
		return 0;
	}
	return -EADDRINUSE;
}

void udp_pair_reprobe(struct udp_pair *pair)
{
	bool gro;
	if (pair->fd4 >= 0)
		probe_offloads(pair->fd4, &pair->opt, &gro, &pair->gso4);
	if (pair->fd6 >= 0)
		probe_offloads(pair->fd6, &pair->opt, &gro, &pair->gso6);
}

void udp_pair_close(struct udp_pair *pair)
{
	int fds[] = {pair->fd4, pair->fd6, pair->hs4, pair->hs6};
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	*pair = UDP_PAIR_CLOSED;
}

bool udp_pair_is_open(const struct udp_pair *pair)
{
	return pair->fd4 >= 0 || pair->fd6 >= 0;
}

int udp_pair_set_fwmark(const struct udp_pair *pair, uint32_t fwmark)
{
	/* The handshake sockets too: cookie replies and responses leave by
	 * the data sockets, but ss and the operator see all four. */
	int fds[] = {pair->fd4, pair->fd6, pair->hs4, pair->hs6}, ret = 0;
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]) && !ret; i++)
		ret = set_mark(fds[i], fwmark);
	return ret;
}

int udp_recv_batch(struct udp_rx *rx, int fd, uint8_t *const *bufs, size_t cap, unsigned n)
{
	if (n > UDP_BATCH)
		n = UDP_BATCH;
	for (unsigned i = 0; i < n; i++) {
		rx->iov[i] = (struct iovec){.iov_base = bufs[i], .iov_len = cap};
		rx->msgs[i].msg_hdr = (struct msghdr){
			.msg_name = &rx->names[i],
			.msg_namelen = sizeof(rx->names[i]),
			.msg_iov = &rx->iov[i],
			.msg_iovlen = 1,
			.msg_control = rx->control[i],
			.msg_controllen = sizeof(rx->control[i]),
		};
		rx->msgs[i].msg_len = 0;
	}
	/* An ICMP error pending on the socket fails one call (IP_RECVERR):
	 * the datagrams behind it are still there. */
	for (int stale = 0;;) {
		int got = recvmmsg(fd, rx->msgs, n, MSG_DONTWAIT, NULL);
		if (got >= 0)
			return got;
		if (errno == EINTR || (errno != EAGAIN && errno != EWOULDBLOCK && stale++ < 2))
			continue;
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
	}
}

/* Sends retried after an error that may be stale: one ICMP error is one
 * stale failure, a few more cover a burst of them between two sends. */
enum { STALE_RETRIES = 3 };

/* Whether an error may be a socket error left by an ICMP message rather
 * than this send's own (with IP_RECVERR, any ICMP error about an earlier
 * datagram fails the next send once). */
static bool maybe_stale(const struct udp_pair *pair, int err)
{
	return pair->opt.pmtu && err != EAGAIN && err != EWOULDBLOCK && err != ENOBUFS && err != EINTR;
}

int udp_read_error(int fd, struct udp_error *out)
{
	union {
		struct sockaddr_in in4;
		struct sockaddr_in6 in6;
	} name;
	/* An ICMP error comes with the packet-info cmsg our sockets ask for
	 * (IP_PKTINFO / IPV6_RECVPKTINFO) before its IP_RECVERR one: room for
	 * both, or the kernel cuts the second short. (It did: of an ICMPv6
	 * "packet too big" only the first 8 bytes of its extended error fit,
	 * not the MTU, so roamd learnt IPv6 paths only later, from its own
	 * kernel's refusals.) */
	uint64_t control[(CMSG_SPACE(sizeof(struct in6_pktinfo)) +
			  CMSG_SPACE(sizeof(struct sock_extended_err) + sizeof(struct sockaddr_in6)) + 7) /
			 8];
	struct iovec iov = {.iov_base = out->quoted, .iov_len = sizeof(out->quoted)};
	struct msghdr mh = {
		.msg_name = &name,
		.msg_namelen = sizeof(name),
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control,
		.msg_controllen = sizeof(control),
	};
	memset(&name, 0, sizeof(name));
	ssize_t n = recvmsg(fd, &mh, MSG_ERRQUEUE | MSG_DONTWAIT);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
	out->kind = UDP_ERROR_OTHER;
	out->mtu = 0;
	out->quoted_len = (size_t)n;
	memset(&out->to, 0, sizeof(out->to));
	if (((struct sockaddr *)&name)->sa_family == AF_INET)
		out->to.addr.in4 = name.in4;
	else if (((struct sockaddr *)&name)->sa_family == AF_INET6)
		out->to.addr.in6 = name.in6;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (!((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR) ||
		      (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR)))
			continue;
		/* Cut short all the same (MSG_CTRUNC): nothing to learn. */
		if (c->cmsg_len < CMSG_LEN(sizeof(struct sock_extended_err)))
			continue;
		struct sock_extended_err ee;
		memcpy(&ee, CMSG_DATA(c), sizeof(ee));
		out->err = (int)ee.ee_errno;
		if ((ee.ee_origin == SO_EE_ORIGIN_ICMP && ee.ee_type == ICMP_DEST_UNREACH &&
		     ee.ee_code == ICMP_FRAG_NEEDED) ||
		    (ee.ee_origin == SO_EE_ORIGIN_ICMP6 && ee.ee_type == ICMP6_PACKET_TOO_BIG)) {
			out->kind = UDP_ERROR_TOO_BIG;
			out->mtu = ee.ee_info;
		} else if (ee.ee_origin == SO_EE_ORIGIN_LOCAL && ee.ee_errno == EMSGSIZE) {
			/* Our own kernel: larger than the interface. */
			out->kind = UDP_ERROR_LOCAL_TOO_BIG;
			out->mtu = ee.ee_info;
		}
	}
	return 1;
}

size_t udp_rx_datagram(const struct udp_rx *rx, unsigned i, struct endpoint *from, size_t *gso_size)
{
	const struct msghdr *mh = &rx->msgs[i].msg_hdr;
	memset(from, 0, sizeof(*from));
	*gso_size = 0;
	if (mh->msg_flags & MSG_TRUNC)
		return 0;
	const struct sockaddr_storage *name = &rx->names[i];
	if (name->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)name;
		from->addr.in4.sin_family = AF_INET;
		from->addr.in4.sin_port = sin->sin_port;
		from->addr.in4.sin_addr = sin->sin_addr;
	} else if (name->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)name;
		from->addr.in6.sin6_family = AF_INET6;
		from->addr.in6.sin6_port = sin6->sin6_port;
		from->addr.in6.sin6_addr = sin6->sin6_addr;
		from->addr.in6.sin6_scope_id = sin6->sin6_scope_id;
	} else {
		return 0;
	}
	for (const struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR((struct msghdr *)mh, (struct cmsghdr *)c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			/* The address the peer wrote to, not the one routing
			 * would pick: that is what it expects replies from. */
			from->src.v4 = pi.ipi_addr;
			from->src_ifindex = (uint32_t)pi.ipi_ifindex;
			from->src_family = AF_INET;
		} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi;
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			from->src.v6 = pi.ipi6_addr;
			from->src_ifindex = pi.ipi6_ifindex;
			from->src_family = AF_INET6;
		} else if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
			int size;
			memcpy(&size, CMSG_DATA(c), sizeof(size));
			if (size > 0)
				*gso_size = (size_t)size;
		}
	}
	return rx->msgs[i].msg_len;
}

/* Builds the destination and, if the endpoint has a sticky source of the
 * same family, the pktinfo saying to send from it. */
static int build_msg(const struct endpoint *to, struct msghdr *msg, struct sockaddr_in *sin,
		     struct sockaddr_in6 *sin6, void *control, size_t control_len, bool with_source)
{
	msg->msg_control = NULL;
	msg->msg_controllen = 0;
	if (to->addr.sa.sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&to->addr.in6.sin6_addr)) {
		/* Our IPv6 socket is IPv6-only: ::ffff:a.b.c.d goes out the
		 * IPv4 socket. */
		memset(sin, 0, sizeof(*sin));
		sin->sin_family = AF_INET;
		sin->sin_port = to->addr.in6.sin6_port;
		memcpy(&sin->sin_addr, &to->addr.in6.sin6_addr.s6_addr[12], 4);
		msg->msg_name = sin;
		msg->msg_namelen = sizeof(*sin);
		return AF_INET;
	}
	if (to->addr.sa.sa_family == AF_INET) {
		*sin = to->addr.in4;
		msg->msg_name = sin;
		msg->msg_namelen = sizeof(*sin);
		if (with_source && to->src_family == AF_INET) {
			memset(control, 0, control_len);
			struct cmsghdr *c = control;
			c->cmsg_level = IPPROTO_IP;
			c->cmsg_type = IP_PKTINFO;
			c->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
			/* Only the address: the route decides the interface,
			 * so a source still works if the path moved. */
			struct in_pktinfo pi = {.ipi_spec_dst = to->src.v4};
			memcpy(CMSG_DATA(c), &pi, sizeof(pi));
			msg->msg_control = control;
			msg->msg_controllen = CMSG_SPACE(sizeof(struct in_pktinfo));
		}
		return AF_INET;
	}
	if (to->addr.sa.sa_family == AF_INET6) {
		*sin6 = to->addr.in6;
		msg->msg_name = sin6;
		msg->msg_namelen = sizeof(*sin6);
		if (with_source && to->src_family == AF_INET6) {
			memset(control, 0, control_len);
			struct cmsghdr *c = control;
			c->cmsg_level = IPPROTO_IPV6;
			c->cmsg_type = IPV6_PKTINFO;
			c->cmsg_len = CMSG_LEN(sizeof(struct in6_pktinfo));
			struct in6_pktinfo pi = {.ipi6_addr = to->src.v6};
			/* A link-local address means nothing without its link. */
			if (IN6_IS_ADDR_LINKLOCAL(&to->src.v6))
				pi.ipi6_ifindex = to->src_ifindex;
			memcpy(CMSG_DATA(c), &pi, sizeof(pi));
			msg->msg_control = control;
			msg->msg_controllen = CMSG_SPACE(sizeof(struct in6_pktinfo));
		}
		return AF_INET6;
	}
	return AF_UNSPEC;
}

/* One sendmsg, retried on EINTR and once after what may be a stale
 * socket error: 0 or errno. */
static int send_one(const struct udp_pair *pair, int fd, const struct msghdr *msg)
{
	for (int stale = 0;;) {
		if (sendmsg(fd, msg, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
			return 0;
		if (errno != EINTR && !(maybe_stale(pair, errno) && stale++ < STALE_RETRIES))
			return errno;
	}
}


/* A datagram larger than the path MTU the kernel knows: sent with
 * fragmentation allowed just for it, then back to DF. */
static int send_fragmented(const struct udp_pair *pair, int fd, int family, const struct msghdr *msg)
{
	if (set_pmtu_mode(fd, family, true))
		return EMSGSIZE;
	int err = send_one(pair, fd, msg);
	set_pmtu_mode(fd, family, false);
	return err;
}

/* The same datagram with DF kept but the kernel's path-MTU cache ignored
 * ("PROBE": only the interface's MTU limits it), then back to "DO". */
static int send_past_cached_limit(const struct udp_pair *pair, int fd, int family, const struct msghdr *msg)
{
	int level = family == AF_INET6 ? IPPROTO_IPV6 : IPPROTO_IP;
	int name = family == AF_INET6 ? IPV6_MTU_DISCOVER : IP_MTU_DISCOVER;
	int mode = family == AF_INET6 ? IPV6_PMTUDISC_PROBE : IP_PMTUDISC_PROBE;
	if (setsockopt(fd, level, name, &mode, sizeof(mode)) < 0)
		return EMSGSIZE;
	int err = send_one(pair, fd, msg);
	set_pmtu_mode(fd, family, false);
	return err;
}

static bool same_host(const struct udp_unchecked_limit *u, const struct endpoint *to)
{
	size_t len;
	const uint8_t *addr = endpoint_addr_bytes(to, &len);
	return u->family == to->addr.sa.sa_family && !memcmp(u->addr, addr, len);
}

void udp_note_unchecked_limit(struct udp_pair *pair, const struct endpoint *to, uint64_t now)
{
	size_t len;
	const uint8_t *addr = endpoint_addr_bytes(to, &len);
	struct udp_unchecked_limit *slot = &pair->unchecked[0];
	if (!addr || len > sizeof(slot->addr))
		return;
	for (unsigned i = 0; i < UDP_UNCHECKED_LIMITS; i++) {
		struct udp_unchecked_limit *u = &pair->unchecked[i];
		if (u->until_ns && same_host(u, to)) {
			slot = u;
			break;
		}
		if (u->until_ns < slot->until_ns)
			slot = u;
	}
	memset(slot, 0, sizeof(*slot));
	slot->family = to->addr.sa.sa_family;
	memcpy(slot->addr, addr, len);
	slot->until_ns = now + UDP_UNCHECKED_LIMIT_NS;
}

bool udp_limit_unchecked(const struct udp_pair *pair, const struct endpoint *to, uint64_t now)
{
	for (unsigned i = 0; i < UDP_UNCHECKED_LIMITS; i++)
		if (pair->unchecked[i].until_ns > now && same_host(&pair->unchecked[i], to))
			return true;
	return false;
}


int udp_send_fragmentable(const struct udp_pair *pair, const struct endpoint *to, const uint8_t *data, size_t len,
			  unsigned path_mtu)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	uint64_t control[(CMSG_SPACE(sizeof(struct in6_pktinfo)) + 7) / 8];
	struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	int family = build_msg(to, &msg, &sin, &sin6, control, sizeof(control), true);
	int fd = family == AF_INET ? pair->fd4 : family == AF_INET6 ? pair->fd6 : -1;
	if (fd < 0)
		return family == AF_UNSPEC ? -EDESTADDRREQ : -EAFNOSUPPORT;
	if (family == AF_INET) {
		/* This host cannot be told to fragment below what its route
		 * says (IPv4 has no per-socket fragment size), so the datagram
		 * leaves without DF, for the router before the smaller link
		 * to fragment (a path that also drops fragments loses it). */
		int mode = IP_PMTUDISC_DONT;
		if (setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &mode, sizeof(mode)) < 0)
			return -errno;
		int err = send_one(pair, fd, &msg);
		set_pmtu_mode(fd, family, false);
		return -err;
	}
	/* IPv6 routers never fragment: this host does, at the path MTU we
	 * learnt (IPV6_MTU caps the socket's fragment size; 0 restores). */
	int size = path_mtu >= 1280 ? (int)path_mtu : 0, zero = 0;
	if (size && setsockopt(fd, IPPROTO_IPV6, IPV6_MTU, &size, sizeof(size)) < 0)
		return -errno;
	int err = send_fragmented(pair, fd, family, &msg);
	if (size)
		setsockopt(fd, IPPROTO_IPV6, IPV6_MTU, &zero, sizeof(zero));
	return -err;
}

int udp_send(const struct udp_pair *pair, const struct endpoint *to, const uint8_t *data, size_t len,
	     unsigned *notes)
{
	return udp_send_df(pair, to, data, len, notes, false);
}

int udp_send_df(const struct udp_pair *pair, const struct endpoint *to, const uint8_t *data, size_t len,
		unsigned *notes, bool never_fragment)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	uint64_t control[(CMSG_SPACE(sizeof(struct in6_pktinfo)) + 7) / 8];
	struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};

	*notes = 0;
	for (int with_source = 1; with_source >= 0; with_source--) {
		int family = build_msg(to, &msg, &sin, &sin6, control, sizeof(control), with_source);
		int fd = family == AF_INET ? pair->fd4 : family == AF_INET6 ? pair->fd6 : -1;
		if (fd < 0)
			return family == AF_UNSPEC ? -EDESTADDRREQ : -EAFNOSUPPORT;
		int err = send_one(pair, fd, &msg);
		if (err == EMSGSIZE && udp_limit_unchecked(pair, to, now_ns())) {
			/* What we fitted it to is checked; the kernel's
			 * smaller value may be a forger's. */
			err = send_past_cached_limit(pair, fd, family, &msg);
			if (!err)
				*notes |= UDP_SENT_PAST_UNCHECKED;
		}
		if (err == EMSGSIZE && !never_fragment) {
			err = send_fragmented(pair, fd, family, &msg);
			if (!err)
				*notes |= UDP_SENT_FRAGMENTED;
		}
		if (!err)
			return 0;
		/* A source that is no longer ours: IPv6 says EINVAL, IPv4
		 * EINVAL on older kernels and ENETUNREACH on newer ones (which
		 * may also mean a real routing failure; then the retry fails
		 * too and the source is relearnt from the next packet). */
		if (!msg.msg_control || (err != EINVAL && err != ENETUNREACH && err != EADDRNOTAVAIL))
			return -err;
		*notes |= UDP_SOURCE_REFUSED;
	}
	return -EINVAL;
}

/* ---- batched sending -------------------------------------------------- */

bool udp_tx_add(struct udp_tx *tx, struct peer *peer, const struct endpoint *to, uint8_t *data, size_t len)
{
	if (tx->count >= UDP_TX_MAX)
		return false;
	struct udp_tx_entry *e = &tx->e[tx->count++];
	e->data = data;
	e->len = len;
	e->peer = peer;
	e->to = *to;
	return true;
}

static int family_of(const struct endpoint *to)
{
	if (to->addr.sa.sa_family == AF_INET6 && !IN6_IS_ADDR_V4MAPPED(&to->addr.in6.sin6_addr))
		return AF_INET6;
	return to->addr.sa.sa_family == AF_INET6 || to->addr.sa.sa_family == AF_INET ? AF_INET : AF_UNSPEC;
}

static bool same_destination(const struct endpoint *a, const struct endpoint *b)
{
	return endpoint_same_remote(a, b) && endpoint_same_source(a, b);
}

/* One message: entries [first, first + segs) as one datagram or, with more
 * than one, one GSO send of segments e[first].len long. */
static void build_tx_msg(struct udp_tx *tx, unsigned m, unsigned first, unsigned segs)
{
	struct msghdr *mh = &tx->msgs[m].msg_hdr;
	memset(mh, 0, sizeof(*mh));
	build_msg(&tx->e[first].to, mh, &tx->sin[m], &tx->sin6[m], tx->control[m], sizeof(tx->control[m]), true);
	for (unsigned k = 0; k < segs; k++)
		tx->iov[first + k] = (struct iovec){.iov_base = tx->e[first + k].data, .iov_len = tx->e[first + k].len};
	mh->msg_iov = &tx->iov[first];
	mh->msg_iovlen = segs;
	if (segs > 1) {
		/* After the pktinfo, if there is one. */
		if (!mh->msg_control)
			memset(tx->control[m], 0, sizeof(tx->control[m]));
		struct cmsghdr *c = (struct cmsghdr *)((uint8_t *)tx->control[m] + mh->msg_controllen);
		c->cmsg_level = SOL_UDP;
		c->cmsg_type = UDP_SEGMENT;
		c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
		uint16_t size = (uint16_t)tx->e[first].len;
		memcpy(CMSG_DATA(c), &size, sizeof(size));
		mh->msg_control = tx->control[m];
		mh->msg_controllen += CMSG_SPACE(sizeof(uint16_t));
	}
	tx->first[m] = first;
	tx->segs[m] = segs;
}

/* A message the kernel refused: its datagrams one by one, each with
 * udp_send's fallbacks (a refused source, a path smaller than it). */
static void send_singly(struct udp_tx *tx, struct udp_pair *pair, unsigned m, udp_tx_report_fn report, void *ctx)
{
	for (unsigned k = tx->first[m]; k < tx->first[m] + tx->segs[m]; k++) {
		struct udp_tx_entry *e = &tx->e[k];
		unsigned notes;
		int err = udp_send(pair, &e->to, e->data, e->len, &notes);
		if (err || notes)
			report(ctx, e->peer, &e->to, err, notes);
	}
}

/* What a refused UDP_SEGMENT send says. Only a kernel that does not know
 * the cmsg after all (ENOPROTOOPT, EOPNOTSUPP) turns GSO off for the
 * socket, until the next network change re-probes it. Everything else is
 * about this batch and this path, and the batch is simply sent datagram by
 * datagram: segments larger than the path MTU (EINVAL, EMSGSIZE), a route
 * without checksum offload (EIO), an IPv6 source that vanished (EINVAL),
 * an unreachable network. The next batch tries GSO again. */
static bool gso_unsupported(int err)
{
	return err == ENOPROTOOPT || err == EOPNOTSUPP;
}

static void send_msgs(struct udp_tx *tx, struct udp_pair *pair, int family, unsigned n, udp_tx_report_fn report,
		      void *ctx)
{
	int fd = family == AF_INET ? pair->fd4 : pair->fd6;
	bool *gso = family == AF_INET ? &pair->gso4 : &pair->gso6;
	unsigned done = 0, stale = 0;
	while (done < n) {
		int r = sendmmsg(fd, tx->msgs + done, n - done, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (r > 0) {
			tx->sends++;
			done += (unsigned)r;
			stale = 0;
			continue;
		}
		if (r < 0 && (errno == EINTR || (maybe_stale(pair, errno) && stale++ < STALE_RETRIES)))
			continue;
		int err = r < 0 ? errno : EIO;
		/* msgs[done] failed; the ones before it went out. */
		unsigned m = done++;
		if (tx->segs[m] > 1) {
			tx->gso_split++;
			send_singly(tx, pair, m, report, ctx);
			if (gso_unsupported(err) && *gso) {
				*gso = false;
				log_info("UDP segmentation offload not supported for IPv%d (%s): sending datagram by "
					 "datagram until the next network change",
					 family == AF_INET ? 4 : 6, strerror(err));
			}
		} else if (err == EMSGSIZE || (tx->msgs[m].msg_hdr.msg_control &&
					       (err == EINVAL || err == ENETUNREACH || err == EADDRNOTAVAIL))) {
			/* Larger than the path, or perhaps only the sticky
			 * source is gone: udp_send knows what to do. */
			send_singly(tx, pair, m, report, ctx);
		} else {
			for (unsigned k = tx->first[m]; k < tx->first[m] + tx->segs[m]; k++)
				report(ctx, tx->e[k].peer, &tx->e[k].to, -err, 0);
		}
	}
}

void udp_tx_flush(struct udp_tx *tx, struct udp_pair *pair, udp_tx_report_fn report, void *ctx)
{
	unsigned i = 0;
	while (i < tx->count) {
		/* A run of messages for one socket. */
		int family = family_of(&tx->e[i].to);
		int fd = family == AF_INET ? pair->fd4 : family == AF_INET6 ? pair->fd6 : -1;
		if (fd < 0) {
			report(ctx, tx->e[i].peer, &tx->e[i].to, family == AF_UNSPEC ? -EDESTADDRREQ : -EAFNOSUPPORT, false);
			i++;
			continue;
		}
		bool gso = family == AF_INET ? pair->gso4 : pair->gso6;
		unsigned n = 0;
		while (i < tx->count && family_of(&tx->e[i].to) == family) {
			const struct udp_tx_entry *head = &tx->e[i];
			unsigned segs = 1;
			size_t total = head->len;
			/* All segments as long as the first, but the last may be
			 * shorter. */
			while (gso && i + segs < tx->count && segs < UDP_GSO_MAX_SEGS &&
			       tx->e[i + segs - 1].len == head->len && tx->e[i + segs].len <= head->len &&
			       total + tx->e[i + segs].len <= UDP_GSO_MAX_BYTES &&
			       same_destination(&tx->e[i + segs].to, &head->to)) {
				total += tx->e[i + segs].len;
				segs++;
			}
			build_tx_msg(tx, n++, i, segs);
			tx->gso_sends += segs > 1;
			tx->datagrams += segs;
			i += segs;
		}
		send_msgs(tx, pair, family, n, report, ctx);
	}
	tx->count = 0;
}
