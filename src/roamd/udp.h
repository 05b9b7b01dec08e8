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

/* A bound pair; a fd of -1 is absent (the host may have no IPv6). */
struct udp_pair {
	int fd4, fd6;
	uint16_t port;
};

#define UDP_PAIR_CLOSED ((struct udp_pair){.fd4 = -1, .fd6 = -1, .port = 0})

/* Binds both sockets to port (0 = a random port free in both families) and
 * applies fwmark (0 = none). 0 or -errno; on error nothing stays open. */
int udp_pair_bind(struct udp_pair *pair, uint16_t port, uint32_t fwmark);
void udp_pair_close(struct udp_pair *pair);
bool udp_pair_is_open(const struct udp_pair *pair);
/* SO_MARK on both sockets: 0 or -errno. */
int udp_pair_set_fwmark(const struct udp_pair *pair, uint32_t fwmark);

/* Receiving in batches with recvmmsg: one call fills up to UDP_BATCH
 * caller-owned buffers. */
enum { UDP_BATCH = 32 };
struct udp_rx {
	struct mmsghdr msgs[UDP_BATCH];
	struct iovec iov[UDP_BATCH];
	struct sockaddr_storage names[UDP_BATCH];
	/* Room for either pktinfo, 8-byte aligned as cmsg requires. */
	uint64_t control[UDP_BATCH][(CMSG_SPACE(sizeof(struct in6_pktinfo)) + 7) / 8];
};
/* Up to n (≤ UDP_BATCH) datagrams into bufs[i] (cap bytes each): their
 * count, 0 if none is waiting, or -errno. */
int udp_recv_batch(struct udp_rx *rx, int fd, uint8_t *const *bufs, size_t cap, unsigned n);
/* The i-th datagram: its length (0 if it must be ignored, e.g. truncated)
 * and where it came from, with the local address it was sent to. */
size_t udp_rx_datagram(const struct udp_rx *rx, unsigned i, struct endpoint *from);

/* Sends one datagram from the endpoint's sticky source if it has one. If
 * the kernel refuses that source (the address is gone), sends again letting
 * the kernel choose and sets *source_refused. 0 or -errno. */
int udp_send(const struct udp_pair *pair, const struct endpoint *to, const uint8_t *data, size_t len,
	     bool *source_refused);

#endif
