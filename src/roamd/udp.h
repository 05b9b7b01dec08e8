/* The UDP side: one IPv4 and one IPv6-only socket on the same port, which
 * learn the local address each datagram arrived on (IP_PKTINFO /
 * IPV6_RECVPKTINFO) so replies can leave from it. */
#ifndef ROAMD_UDP_H
#define ROAMD_UDP_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "endpoint.h"

/* What the operator allows the sockets (roamd --help: ROAMD_NO_GSO,
 * ROAMD_NO_GRO, ROAMD_NO_PMTU): offloads, and whether the sockets report
 * ICMP errors and refusals as too big on their error queue (IP_RECVERR)
 * for path-MTU learning (see udp.c). */
struct udp_options {
	bool gso, gro, pmtu;
	bool steer;	/* handshake messages to sockets of their own (udp.c, attach_steering); not ROAMD_NO_STEERING */
};

/* A bound pair; a fd of -1 is absent (the host may have no IPv6). */
/* How many destinations with an unchecked kernel path MTU are kept, and for
 * how long: the kernel keeps what an ICMP error taught it for
 * net.ipv4.route.mtu_expires (IPv6: route.mtu_expires), 600 s by default. */
enum { UDP_UNCHECKED_LIMITS = 8 };
#define UDP_UNCHECKED_LIMIT_NS (610ull * 1000000000ull)

struct udp_pair {
	int fd4, fd6;
	/* On the same port, the sockets every datagram but data messages is
	 * steered to (udp.c, attach_steering): read only while handshake
	 * work has room; -1 when the kernel would not steer, and then
	 * everything arrives on fd4/fd6. */
	int hs4, hs6;
	uint16_t port;
	/* Offloads in force on each socket: UDP_GRO accepted at bind;
	 * UDP_SEGMENT known to the kernel (probed at bind and again by
	 * udp_pair_reprobe; only a send saying the kernel lacks it turns it
	 * off). */
	bool gro4, gro6, gso4, gso6;
	struct udp_options opt;	/* as bound */
	/* Destinations for which this host's kernel took an ICMP "too big"
	 * that roamd could not match to a datagram it sent (pathmtu.c), so
	 * the kernel's path MTU for them may be forged (udp_note_unchecked_limit). */
	struct udp_unchecked_limit {
		sa_family_t family;
		uint8_t addr[16];
		uint64_t until_ns; /* monotonic */
	} unchecked[UDP_UNCHECKED_LIMITS];
};

#define UDP_PAIR_CLOSED ((struct udp_pair){.fd4 = -1, .fd6 = -1, .hs4 = -1, .hs6 = -1, .port = 0})


/* Binds both sockets to port (0 = a random port free in both families),
 * applies fwmark (0 = none) and the options. 0 or -errno; on error nothing
 * stays open. */
int udp_pair_bind(struct udp_pair *pair, uint16_t port, uint32_t fwmark, const struct udp_options *opt);
void udp_pair_close(struct udp_pair *pair);
/* The kernel accepted an ICMP "too big" about datagrams to `to` that roamd
 * could not check. Until it would have forgotten it, a datagram to that
 * address that the kernel refuses as too big is sent again with the
 * kernel's path-MTU cache ignored (IP_PMTUDISC_PROBE, DF kept): roamd fits
 * it to the path MTU it checked, not to what a forger said. The oldest
 * entry makes room. */
void udp_note_unchecked_limit(struct udp_pair *pair, const struct endpoint *to, uint64_t now);
/* Whether the kernel's path MTU to `to`'s address may come from such an
 * error. */
bool udp_limit_unchecked(const struct udp_pair *pair, const struct endpoint *to, uint64_t now);
/* Probes UDP_SEGMENT again on both sockets (after a network change). */
void udp_pair_reprobe(struct udp_pair *pair);
bool udp_pair_is_open(const struct udp_pair *pair);
/* SO_MARK on both sockets: 0 or -errno. */
int udp_pair_set_fwmark(const struct udp_pair *pair, uint32_t fwmark);

/* Receiving in batches with recvmmsg: one call fills up to UDP_BATCH
 * caller-owned buffers. With UDP_GRO one buffer may hold many datagrams
 * of one sender, glued by the kernel, all gso_size long but the last. */
enum { UDP_BATCH = 32 };
struct udp_rx {
	struct mmsghdr msgs[UDP_BATCH];
	struct iovec iov[UDP_BATCH];
	struct sockaddr_storage names[UDP_BATCH];
	/* Room for either pktinfo and the GRO size, 8-byte aligned as cmsg
	 * requires. */
	uint64_t control[UDP_BATCH][(CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(int)) + 7) / 8];
};
/* Up to n (≤ UDP_BATCH) datagrams into bufs[i] (cap bytes each): their
 * count, 0 if none is waiting, or -errno. */
int udp_recv_batch(struct udp_rx *rx, int fd, uint8_t *const *bufs, size_t cap, unsigned n);
/* The i-th buffer: its length (0 if it must be ignored, e.g. truncated),
 * where it came from, with the local address it was sent to, and the size
 * of each datagram in it (*gso_size; 0 = one datagram). */
size_t udp_rx_datagram(const struct udp_rx *rx, unsigned i, struct endpoint *from, size_t *gso_size);

/* What happened to a datagram on its way out, besides success or failure
 * (bits of *notes). */
enum {
	UDP_SOURCE_REFUSED = 1,	 /* the sticky source is gone; sent from the kernel's choice */
	UDP_SENT_FRAGMENTED = 2, /* larger than the known path MTU; sent fragmented */
	UDP_SENT_PAST_UNCHECKED = 4, /* refused for an unchecked path MTU; sent with DF past it */
};

/* Sends one datagram, with DF, from the endpoint's sticky source if it has
 * one. If the kernel refuses that source (the address is gone), sends again
 * letting the kernel choose; if the datagram is larger than the path MTU
 * the kernel knows, sends it with fragmentation allowed. *notes says which
 * happened. 0 or -errno. */
int udp_send(const struct udp_pair *pair, const struct endpoint *to, const uint8_t *data, size_t len,
	     unsigned *notes);

/* The same, but a datagram larger than the path this host knows is
 * refused (-EMSGSIZE) rather than sent in fragments, when never_fragment
 * (a path probe: fragmented, it would measure nothing). */
int udp_send_df(const struct udp_pair *pair, const struct endpoint *to, const uint8_t *data, size_t len,
		unsigned *notes, bool never_fragment);

/* Sends one datagram with fragmentation allowed (an inner packet that must
 * be carried although the path is smaller, pathmtu.c). 0 or -errno. */
int udp_send_fragmentable(const struct udp_pair *pair, const struct endpoint *to, const uint8_t *data, size_t len,
			  unsigned path_mtu);

/* An error the socket reported about a datagram we sent (IP_RECVERR). */
enum udp_error_kind {
	UDP_ERROR_OTHER = 0,	  /* unreachable, refused, ...: nothing to learn */
	UDP_ERROR_TOO_BIG,	  /* ICMP fragmentation needed / packet too big */
	UDP_ERROR_LOCAL_TOO_BIG, /* our kernel: larger than the interface */
};
struct udp_error {
	enum udp_error_kind kind;
	int err;		/* the errno it carries */
	unsigned mtu;		/* for the TOO_BIG kinds: the MTU reported */
	struct endpoint to;	/* where the datagram was going (remote only) */
	uint8_t quoted[64];	/* the start of its UDP payload, as quoted */
	size_t quoted_len;
};
/* Takes one error off the socket's error queue: 1, 0 when it is empty, or
 * -errno. */
int udp_read_error(int fd, struct udp_error *out);

/* Sending in batches: datagrams are queued (the caller keeps their bytes
 * untouched until the flush) and go out with sendmmsg, consecutive ones to
 * the same endpoint of the same size as one UDP_SEGMENT (GSO) send. */
enum {
	UDP_TX_MAX = 512,
	/* What every kernel with UDP_SEGMENT takes in one send. */
	UDP_GSO_MAX_SEGS = 64,
	UDP_GSO_MAX_BYTES = 65000,
};
struct peer;
struct udp_tx_entry {
	uint8_t *data;
	size_t len;
	struct peer *peer;
	struct endpoint to;	/* a copy: the peer's may change before the flush */
};
struct udp_tx {
	unsigned count;
	struct udp_tx_entry e[UDP_TX_MAX];
	struct mmsghdr msgs[UDP_TX_MAX];
	unsigned first[UDP_TX_MAX], segs[UDP_TX_MAX];
	struct iovec iov[UDP_TX_MAX];
	struct sockaddr_in sin[UDP_TX_MAX];
	struct sockaddr_in6 sin6[UDP_TX_MAX];
	uint64_t control[UDP_TX_MAX][(CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(uint16_t)) + 7) / 8];
	/* Counters: sendmmsg calls, datagrams, UDP_SEGMENT messages, and
	 * those the kernel refused and that went out datagram by datagram. */
	uint64_t sends, datagrams, gso_sends, gso_split;
};
/* What became of a datagram that did not simply go out: err (0 if it went
 * out after all) and notes as for udp_send. */
typedef void (*udp_tx_report_fn)(void *ctx, struct peer *peer, const struct endpoint *to, int err,
				 unsigned notes);
/* false if the queue is full (flush first). */
bool udp_tx_add(struct udp_tx *tx, struct peer *peer, const struct endpoint *to, uint8_t *data, size_t len);
/* Sends everything queued. A GSO send the kernel refuses (no checksum
 * offload on the route, a path MTU below the segment size, a source gone)
 * is sent again datagram by datagram; GSO stays on for the next batch
 * unless the kernel said it does not support it (udp.c, gso_unsupported). */
void udp_tx_flush(struct udp_tx *tx, struct udp_pair *pair, udp_tx_report_fn report, void *ctx);

#endif
