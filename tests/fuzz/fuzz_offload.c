/* libFuzzer: the TUN offloads (src/roamd/offload.c) on what the kernel
 * hands roamd with IFF_VNET_HDR: a virtio-net header and a packet, both
 * written by whatever local program sent into the tunnel.
 *
 * Input: one mode byte, the 10-byte vnet header (host byte order, as TUN
 * gives it), then the packet. Mode bit 0 set: the packet is cut (gso_iter)
 * or copied with its checksum finished (offload_copy_finish_csum), as
 * datapath.c's from_tun_one does, and the resulting packets are glued
 * again (gro). Clear: the rest is several packets (2-byte big-endian
 * length, then the bytes) glued as they come from the tunnel. Bits 1-3:
 * what gro may glue (TCP, UDP) and whether it trusts checksums.
 *
 * Beyond "no crash": the segments' payloads add up to the super-packet's,
 * every segment carries the whole header and its own length in its IP
 * header, with valid IP and L4 checksums; a finished checksum lies inside
 * the packet; and gluing writes every packet handed in exactly once, each
 * written packet with its IP length equal to its bytes, its vnet header's
 * csum_start/csum_offset and hdr_len inside it. */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "ip_header.h"
#include "offload.h"

enum { MAX_PACKETS = 256 };

/* What gro wrote, checked as it is written. */
struct written {
	size_t iovs, bytes, header_bytes;
};

static void check_emit(void *ctx, const struct vnet_hdr *h, const struct iovec *iov, int iovcnt)
{
	struct written *w = ctx;
	size_t total = 0;
	if (iovcnt < 1 || iovcnt > GRO_MAX_SEGS)
		abort();
	for (int i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	w->iovs += (size_t)iovcnt;
	w->bytes += total;
	if (iovcnt == 1) {
		if (h->gso_type != VNET_GSO_NONE || h->flags & VNET_F_NEEDS_CSUM)
			abort();
		return;
	}
	/* A glued packet: headers from the first part, payloads after. */
	const uint8_t *first = iov[0].iov_base;
	if (total > GRO_MAX_LEN || h->hdr_len > iov[0].iov_len || !h->gso_size)
		abort();
	if (!(h->flags & VNET_F_NEEDS_CSUM) || h->csum_start >= h->hdr_len ||
	    (size_t)h->csum_start + h->csum_offset + 2 > h->hdr_len)
		abort();
	size_t ip_len = ip_version(first) == 4 ? ip_get16(first + IP4_TOTAL_LEN)
					       : IP6_HDR_LEN + (size_t)ip_get16(first + IP6_PAYLOAD_LEN);
	if (ip_len != total)
		abort();
	for (int i = 1; i < iovcnt; i++)
		if (iov[i].iov_len > h->gso_size || !iov[i].iov_len)
			abort();
	/* Each later part came with a header of hdr_len of its own. */
	w->header_bytes += (size_t)(iovcnt - 1) * h->hdr_len;
}

/* A complete Internet checksum over the L4 part, with its pseudo-header. */
static bool l4_sum_ok(const uint8_t *seg, size_t len, size_t ip_hlen, bool v6, uint8_t proto)
{
	const uint8_t *src = seg + (v6 ? IP6_SRC : IP4_SRC), *dst = seg + (v6 ? IP6_DST : IP4_DST);
	size_t alen = v6 ? IP6_ADDR_LEN : IP4_ADDR_LEN;
	uint64_t sum = csum_pseudo(src, dst, alen, proto, (uint32_t)(len - ip_hlen));
	return csum_fold(csum_add(sum, seg + ip_hlen, len - ip_hlen)) == 0xffff;
}

/* The packets to glue and the buffers they live in until the flush. */
static uint8_t *packets[MAX_PACKETS];
static size_t lengths[MAX_PACKETS];
static size_t count;

static uint8_t *add_packet(size_t len)
{
	/* Exactly its size, so AddressSanitizer sees any read past it. */
	uint8_t *p = malloc(len ? len : 1);
	if (!p)
		abort();
	packets[count] = p;
	lengths[count++] = len;
	return p;
}

static void cut(const struct vnet_hdr *h, const uint8_t *pkt, size_t len)
{
	if (h->gso_type == VNET_GSO_NONE) {
		uint8_t *out = add_packet(len);
		if (!offload_copy_finish_csum(out, pkt, len, h)) {
			free(packets[--count]);
			return;
		}
		if (h->flags & VNET_F_NEEDS_CSUM) {
			size_t field = (size_t)h->csum_start + h->csum_offset;
			if (h->csum_start >= len || field + 2 > len)
				abort();
			/* Everything but the checksum field is copied as it was. */
			if (memcmp(out, pkt, field) || memcmp(out + field + 2, pkt + field + 2, len - field - 2))
				abort();
		} else if (memcmp(out, pkt, len)) {
			abort();
		}
		return;
	}
	struct gso_iter it;
	if (gso_iter_init(&it, pkt, len, h) < 0)
		return;
	if (it.hlen > len || it.ip_hlen > it.hlen || !it.mss)
		abort();
	size_t payload = 0, seg_len;
	while ((seg_len = gso_iter_peek(&it))) {
		if (seg_len < it.hlen || seg_len - it.hlen > it.mss)
			abort();
		/* A tiny gso_size makes thousands: the first MAX_PACKETS are
		 * glued afterwards, the rest only checked. */
		bool keep = count < MAX_PACKETS;
		uint8_t *seg = keep ? add_packet(seg_len) : malloc(seg_len);
		if (!seg || gso_iter_next(&it, seg) != seg_len)
			abort();
		payload += seg_len - it.hlen;
		size_t ip_len = it.v6 ? IP6_HDR_LEN + (size_t)ip_get16(seg + IP6_PAYLOAD_LEN) : ip_get16(seg + IP4_TOTAL_LEN);
		if (ip_len != seg_len)
			abort();
		if (!it.v6 && csum_fold(csum_add(0, seg, it.ip_hlen)) != 0xffff)
			abort();
		if (!l4_sum_ok(seg, seg_len, it.ip_hlen, it.v6, it.proto))
			abort();
		if (!keep)
			free(seg);
	}
	if (payload != len - it.hlen)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 + VNET_HDR_LEN)
		return 0;
	uint8_t mode = data[0];
	struct vnet_hdr h;
	memcpy(&h, data + 1, VNET_HDR_LEN);
	data += 1 + VNET_HDR_LEN;
	size -= 1 + VNET_HDR_LEN;

	count = 0;
	if (mode & 1) {
		uint8_t *pkt = malloc(size ? size : 1);
		if (!pkt)
			abort();
		memcpy(pkt, data, size);
		cut(&h, pkt, size);
		free(pkt);
	} else {
		while (size >= 2 && count < MAX_PACKETS) {
			size_t len = ip_get16(data);
			data += 2, size -= 2;
			if (len > size)
				len = size;
			memcpy(add_packet(len), data, len);
			data += len, size -= len;
		}
	}

	struct written w = {0};
	struct gro g;
	gro_init(&g, mode & 2, mode & 4, check_emit, &w);
	g.sums_trusted = mode & 8;
	size_t bytes = 0;
	for (size_t i = 0; i < count; i++) {
		gro_add(&g, packets[i], lengths[i]);
		bytes += lengths[i];
	}
	gro_flush(&g);
	/* Every packet written once, in one piece or as a glued part. */
	if (w.iovs != count || w.bytes + w.header_bytes != bytes || g.written > count)
		abort();
	for (size_t i = 0; i < count; i++)
		free(packets[i]);
	return 0;
}
