/* libFuzzer: the ICMP errors roamd writes back into the TUN device
 * (src/roamd/icmp.c: icmp_build_unreachable, icmp_build_too_big) and the
 * fragmenting of inner IPv4 packets (src/roamd/fragment.c), both on
 * packets any local program can send into the tunnel.
 *
 * Input: two bytes of MTU (the "too big" value), two of fragment payload
 * limit, then the packet, in a block of exactly its size.
 *
 * Beyond "no crash": a reply fits its buffer (576 bytes for IPv4, 1280 for
 * IPv6), says its own length, goes back to the packet's source from its
 * destination, quotes the packet's first bytes and carries valid
 * checksums. Fragments, as datapath.c cuts them, stay within the limit,
 * carry the payload once, in order, with offsets that add up, "more
 * fragments" on every piece but the last and a valid header checksum. */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "checksum.h"
#include "fragment.h"
#include "icmp.h"
#include "ip_header.h"

static void check_reply(const uint8_t *pkt, size_t len, const uint8_t *out, size_t n)
{
	if (!n)
		return;
	if (n > ICMP_REPLY_MAX)
		abort();
	if (ip_version(pkt) == 4) {
		size_t ihl = ip4_header_len(pkt);
		if (n > 576 || n < IP4_HDR_LEN + 8 || ip_version(out) != 4 || ip_get16(out + IP4_TOTAL_LEN) != n ||
		    ihl < IP4_HDR_LEN || ihl > len)
			abort();
		if (memcmp(out + IP4_DST, pkt + IP4_SRC, 4) || memcmp(out + IP4_SRC, pkt + IP4_DST, 4))
			abort();
		if (memcmp(out + IP4_HDR_LEN + 8, pkt, n - IP4_HDR_LEN - 8 < len ? n - IP4_HDR_LEN - 8 : len))
			abort();
		if (csum_fold(csum_add(0, out, IP4_HDR_LEN)) != 0xffff ||
		    csum_fold(csum_add(0, out + IP4_HDR_LEN, n - IP4_HDR_LEN)) != 0xffff)
			abort();
		return;
	}
	if (ip_version(out) != 6 || n < IP6_HDR_LEN + 8 || IP6_HDR_LEN + (size_t)ip_get16(out + IP6_PAYLOAD_LEN) != n)
		abort();
	if (memcmp(out + IP6_DST, pkt + IP6_SRC, 16) || memcmp(out + IP6_SRC, pkt + IP6_DST, 16))
		abort();
	if (memcmp(out + IP6_HDR_LEN + 8, pkt, n - IP6_HDR_LEN - 8))
		abort();
	uint64_t sum = csum_pseudo(out + IP6_SRC, out + IP6_DST, 16, IPPROTO_ICMPV6, (uint32_t)(n - IP6_HDR_LEN));
	if (csum_fold(csum_add(sum, out + IP6_HDR_LEN, n - IP6_HDR_LEN)) != 0xffff)
		abort();
}

/* The loop of datapath.c's send_packet for PATH_FRAGMENT_INNER: only
 * IPv4 with a 20-byte header gets there. */
static void check_fragments(const uint8_t *pkt, size_t len, size_t limit)
{
	static uint8_t frag[65535 + 20];
	if (len < IP4_HDR_LEN || pkt[0] != 0x45)
		return;
	size_t total = ip_get16(pkt + IP4_TOTAL_LEN);
	if (total > len || total < IP4_HDR_LEN)
		total = len;
	size_t base = (size_t)(ip_get16(pkt + IP4_FRAG) & 0x1fff) * 8, carried = 0;
	bool more_at_end = ip_get16(pkt + IP4_FRAG) & 0x2000;
	size_t n;
	for (size_t off = 0;; off += n - IP4_HDR_LEN) {
		if (!(n = ip4_fragment(pkt, len, off, limit - IP4_HDR_LEN, frag)))
			break;
		if (n > limit || n < IP4_HDR_LEN || ip_get16(frag + IP4_TOTAL_LEN) != n)
			abort();
		if (csum_fold(csum_add(0, frag, IP4_HDR_LEN)) != 0xffff)
			abort();
		size_t chunk = n - IP4_HDR_LEN;
		bool last = off + chunk >= total - IP4_HDR_LEN;
		uint16_t f = ip_get16(frag + IP4_FRAG);
		/* Offsets are in 8-byte units: only the last may be uneven. */
		if (!chunk || (!last && chunk % 8) || (f & 0x1fff) * 8u != base + off)
			abort();
		if (!!(f & 0x2000) != (!last || more_at_end))
			abort();
		if (memcmp(frag + IP4_HDR_LEN, pkt + IP4_HDR_LEN + off, chunk))
			abort();
		carried += chunk;
	}
	/* Beyond the largest datagram: nothing (fragment.h). */
	if (carried != (base + total > 0xffff ? 0 : total - IP4_HDR_LEN))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[ICMP_REPLY_MAX];
	if (size < 4)
		return 0;
	unsigned mtu = ip_get16(data);
	/* At least one 8-byte unit per fragment, as any path carries. */
	size_t limit = IP4_HDR_LEN + 8 + ip_get16(data + 2) % 2048;
	size -= 4, data += 4;
	uint8_t *pkt = malloc(size ? size : 1);
	if (!pkt)
		abort();
	memcpy(pkt, data, size);

	check_reply(pkt, size, out, icmp_build_unreachable(pkt, size, out));
	check_reply(pkt, size, out, icmp_build_too_big(pkt, size, mtu, out));
	check_fragments(pkt, size, limit);
	free(pkt);
	return 0;
}
