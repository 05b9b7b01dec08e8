/* Segmentation and coalescing of IP packets for the TUN offloads: pure
 * functions on buffers, no I/O, so they can be tested on their own.
 *
 * With IFF_VNET_HDR and TUNSETOFFLOAD the kernel hands the TUN reader TCP
 * (and UDP) "super-packets" of up to 64 KiB with a virtio-net header that
 * says how to cut them (gso_type, gso_size) and which checksum is left to
 * finish (csum_start, csum_offset). WireGuard carries MTU-sized IP packets,
 * so the sender cuts (gso_iter) and the receiver may glue consecutive TCP
 * segments (or same-size UDP datagrams) of one flow back together
 * (struct gro) before writing them to its TUN device in one call. */
#ifndef ROAMD_OFFLOAD_H
#define ROAMD_OFFLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "checksum.h"

/* struct virtio_net_hdr, in the byte order of the host (TUN's default for
 * the legacy header). Declared here because Debian 12's headers predate
 * UDP_L4 segmentation. */
struct vnet_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;	/* Ethernet + IP + L4 headers */
	uint16_t gso_size;	/* L4 payload bytes per segment */
	uint16_t csum_start;	/* where the partial checksum starts */
	uint16_t csum_offset;	/* where in it the checksum field is */
};

enum {
	VNET_HDR_LEN = 10,
	VNET_F_NEEDS_CSUM = 1,
	VNET_F_DATA_VALID = 2,
	VNET_GSO_NONE = 0,
	VNET_GSO_TCPV4 = 1,
	VNET_GSO_TCPV6 = 4,
	VNET_GSO_UDP_L4 = 5,
	VNET_GSO_ECN = 0x80,
};

/* The Internet checksum: csum_add, csum_fold, csum_pseudo (checksum.h). */

/* Copies a packet read with gso_type NONE from src to dst (which must not
 * overlap) and, with NEEDS_CSUM, computes the checksum the kernel left for
 * the device in the same pass. false if the offsets are out of range. */
bool offload_copy_finish_csum(uint8_t *dst, const uint8_t *src, size_t len, const struct vnet_hdr *h);

/* ---- Cutting a super-packet (TSO/USO) ---------------------------------- */

struct gso_iter {
	const uint8_t *pkt;
	size_t len;
	size_t ip_hlen, hlen;	/* IP header; IP + L4 headers */
	size_t mss, off;	/* payload per segment; next payload byte */
	unsigned index;
	uint8_t proto;		/* IPPROTO_TCP or IPPROTO_UDP */
	bool v6;
};

/* Checks the headers against the vnet header. 0, or -EINVAL for anything
 * that cannot be cut (unknown gso_type, IP options we do not walk, a TCP
 * header beyond the packet, gso_size 0). A packet with gso_type NONE is
 * not for this. */
int gso_iter_init(struct gso_iter *it, const uint8_t *pkt, size_t len, const struct vnet_hdr *h);
/* The length of the next segment (0 when done), without writing it. */
size_t gso_iter_peek(const struct gso_iter *it);
/* Writes the next segment to out (room for gso_iter_peek bytes) with every
 * header fixed and its checksums complete; returns its length, 0 when
 * done. */
size_t gso_iter_next(struct gso_iter *it, uint8_t *out);

/* ---- Gluing packets for one TUN write (GRO) ------------------------------ */

enum {
	GRO_FLOWS = 8,		/* flows coalesced at once */
	GRO_MAX_SEGS = 64,	/* segments per super-packet */
	GRO_MAX_LEN = 65535,	/* bytes per super-packet (IP length field) */
};

/* What struct gro writes: a vnet header and the pieces of one packet
 * (iov[0] holds the first segment with its headers, then payloads). */
typedef void (*gro_emit_fn)(void *ctx, const struct vnet_hdr *h, const struct iovec *iov, int iovcnt);

struct gro_flow {
	bool used, closed;
	bool v6;
	uint8_t proto;
	uint8_t *first;		/* first packet: its headers get rewritten */
	size_t ip_hlen, hlen;	/* of the first packet */
	size_t seg_payload;	/* payload of the first segment = gso_size */
	size_t total;		/* IP length of the glued packet so far */
	uint32_t next_seq;	/* TCP: where the next segment must start */
	unsigned count;
	uint64_t age;		/* for choosing a flow to evict */
	struct iovec iov[GRO_MAX_SEGS];
};

struct gro {
	bool tcp, udp;		/* what may be glued (what the TUN accepts) */
	/* Every packet handed in was authenticated by its AEAD tag, so its
	 * L4 checksum is whatever the peer's own stack wrote: the kernel's
	 * WireGuard marks such packets CHECKSUM_UNNECESSARY rather than sum
	 * them again, and so do we (about 4% of the receive path's time).
	 * Off, each part's checksum is verified before it is glued or
	 * vouched for. */
	bool sums_trusted;
	uint64_t clock;
	gro_emit_fn emit;
	void *ctx;
	struct gro_flow flows[GRO_FLOWS];
	/* Counters for tests and the curious. */
	uint64_t glued, written;
};

void gro_init(struct gro *g, bool tcp, bool udp, gro_emit_fn emit, void *ctx);
/* A packet for the TUN device, in a buffer that stays untouched until the
 * next gro_flush (its headers may be rewritten). Packets of one flow keep
 * their order; packets that cannot be glued are written at once (after
 * what their flow holds). */
void gro_add(struct gro *g, uint8_t *pkt, size_t len);
/* Writes everything held. */
void gro_flush(struct gro *g);

#endif
