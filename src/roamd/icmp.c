/* ICMP and ICMPv6 errors for packets the tunnel cannot carry (destination
 * unreachable; fragmentation needed / packet too big), built byte by byte. */
#include <string.h>

#include "checksum.h"
#include "crypto.h"
#include "icmp.h"
#include "ip_header.h"
#include "messages.h"

enum {
	ICMP_PER_SECOND = 20,
	ICMP_BURST = 50,
	/* RFC 1812: an ICMPv4 error holds at most 576 bytes in all. */
	ICMP4_REPLY_MAX = 576,
	ICMP_HDR = 8,
	PROTO_ICMP = 1,
	PROTO_ICMPV6 = 58,
	HOP_LIMIT = 64,
};
#define ICMP_COST_NS (NSEC_PER_SEC / ICMP_PER_SECOND)

bool icmp_limiter_allow(struct icmp_limiter *limiter, uint64_t now)
{
	uint64_t max = ICMP_BURST * ICMP_COST_NS;
	if (!limiter->last) {
		limiter->credit = max;
	} else {
		uint64_t earned = now - limiter->last;
		limiter->credit = limiter->credit + earned > max || earned > max ? max : limiter->credit + earned;
	}
	limiter->last = now;
	if (limiter->credit < ICMP_COST_NS)
		return false;
	limiter->credit -= ICMP_COST_NS;
	return true;
}

/* The error to send: type, code, and the header's second word (unused, or
 * the MTU). */
struct icmp_kind {
	uint8_t type, code;
	uint32_t word;
};

/* ICMP types that are themselves errors (RFC 792/950/1812); the kernel
 * also stays silent for types it does not know (above 18). */
static bool icmp4_is_error_or_unknown(uint8_t type)
{
	return type == 3 || type == 4 || type == 5 || type == 11 || type == 12 || type > 18;
}

static size_t build4(const uint8_t *pkt, size_t len, uint8_t *out, struct icmp_kind kind)
{
	size_t ihl = ip4_header_len(pkt);
	if (ihl < IP4_HDR_LEN || ihl > len)
		return 0;
	size_t total = ip_get16(pkt + IP4_TOTAL_LEN);
	if (total < ihl)
		return 0;
	if (total < len)
		len = total;
	if (ip_get16(pkt + IP4_FRAG) & 0x1fff)	/* not the first fragment */
		return 0;
	const uint8_t *src = pkt + IP4_SRC, *dst = pkt + IP4_DST;
	/* Multicast, broadcast and class E destinations; unusable sources. */
	if (dst[0] >= 224 || src[0] >= 224 || src[0] == 0 || src[0] == 127)
		return 0;
	if (pkt[IP4_PROTO] == PROTO_ICMP && (len <= ihl || icmp4_is_error_or_unknown(pkt[ihl])))
		return 0;

	size_t quote = len < ICMP4_REPLY_MAX - IP4_HDR_LEN - ICMP_HDR ? len : ICMP4_REPLY_MAX - IP4_HDR_LEN - ICMP_HDR;
	size_t reply = IP4_HDR_LEN + ICMP_HDR + quote;
	uint8_t *ip = out, *icmp = out + IP4_HDR_LEN;
	memset(out, 0, IP4_HDR_LEN + ICMP_HDR);
	ip[IP_VERSION_BYTE] = 0x45;	/* version 4, no options */
	/* Precedence "internetwork control", as Linux marks its errors. */
	ip[IP4_TOS] = (uint8_t)((pkt[IP4_TOS] & 0x1e) | 0xc0);
	ip_put16(ip + IP4_TOTAL_LEN, (uint16_t)reply);
	ip[IP4_TTL] = HOP_LIMIT;
	ip[IP4_PROTO] = PROTO_ICMP;
	memcpy(ip + IP4_SRC, dst, IP4_ADDR_LEN);
	memcpy(ip + IP4_DST, src, IP4_ADDR_LEN);
	csum_store(ip + IP4_CSUM, csum_add(0, ip, IP4_HDR_LEN));
	icmp[0] = kind.type;
	icmp[1] = kind.code;
	ip_put32(icmp + 4, kind.word);
	memcpy(icmp + ICMP_HDR, pkt, quote);
	csum_store(icmp + 2, csum_add(0, icmp, ICMP_HDR + quote));
	return reply;
}

/* Finds the upper-layer protocol behind IPv6 extension headers. Returns
 * false if the packet must not get an error: an ICMPv6 error, or an ICMPv6
 * message whose type we cannot see. */
static bool icmp6_eligible(const uint8_t *pkt, size_t len)
{
	uint8_t nh = pkt[IP6_NEXT_HDR];
	size_t off = IP6_HDR_LEN;
	for (int hops = 0; hops < 16; hops++) {
		if (nh == 0 || nh == 43 || nh == 60 || nh == 51) {	/* hop-by-hop, routing, dest opts, AH */
			if (off + 2 > len)
				return true;
			size_t hlen = nh == 51 ? ((size_t)pkt[off + 1] + 2) * 4 : ((size_t)pkt[off + 1] + 1) * 8;
			nh = pkt[off];
			off += hlen;
		} else if (nh == 44) {				/* fragment */
			if (off + 8 > len)
				return true;
			bool first = (ip_get16(pkt + off + 2) & 0xfff8) == 0;
			nh = pkt[off];
			off += 8;
			if (!first)
				return nh != PROTO_ICMPV6;
		} else {
			break;
		}
	}
	if (nh != PROTO_ICMPV6)
		return true;
	/* Types below 128 are errors (RFC 4443 §2.1). */
	return off < len && pkt[off] >= 128;
}

static size_t build6(const uint8_t *pkt, size_t len, uint8_t *out, struct icmp_kind kind)
{
	if (len < IP6_HDR_LEN)
		return 0;
	size_t total = IP6_HDR_LEN + ip_get16(pkt + IP6_PAYLOAD_LEN);
	if (total < len)
		len = total;
	const uint8_t *src = pkt + IP6_SRC, *dst = pkt + IP6_DST;
	if (dst[0] == 0xff || src[0] == 0xff || crypto_is_zero(src, IP6_ADDR_LEN))
		return 0;
	if (!icmp6_eligible(pkt, len))
		return 0;

	size_t quote = len < ICMP_REPLY_MAX - IP6_HDR_LEN - ICMP_HDR ? len : ICMP_REPLY_MAX - IP6_HDR_LEN - ICMP_HDR;
	size_t payload = ICMP_HDR + quote;
	uint8_t *ip = out, *icmp = out + IP6_HDR_LEN;
	memset(out, 0, IP6_HDR_LEN + ICMP_HDR);
	ip[IP_VERSION_BYTE] = 0x60;	/* version 6, traffic class and flow 0 */
	ip_put16(ip + IP6_PAYLOAD_LEN, (uint16_t)payload);
	ip[IP6_NEXT_HDR] = PROTO_ICMPV6;
	ip[IP6_HOP_LIMIT] = HOP_LIMIT;
	memcpy(ip + IP6_SRC, dst, IP6_ADDR_LEN);
	memcpy(ip + IP6_DST, src, IP6_ADDR_LEN);
	icmp[0] = kind.type;
	icmp[1] = kind.code;
	ip_put32(icmp + 4, kind.word);
	memcpy(icmp + ICMP_HDR, pkt, quote);
	uint64_t sum = csum_pseudo(ip + IP6_SRC, ip + IP6_DST, IP6_ADDR_LEN, PROTO_ICMPV6, (uint32_t)payload);
	csum_store(icmp + 2, csum_add(sum, icmp, payload));
	return IP6_HDR_LEN + payload;
}

size_t icmp_build_unreachable(const uint8_t *pkt, size_t len, uint8_t *out)
{
	/* Host unreachable (type 3 code 1); address unreachable (type 1 code 3). */
	if (len >= IP4_HDR_LEN && ip_version(pkt) == 4)
		return build4(pkt, len, out, (struct icmp_kind){3, 1, 0});
	if (len >= IP6_HDR_LEN && ip_version(pkt) == 6)
		return build6(pkt, len, out, (struct icmp_kind){1, 3, 0});
	return 0;
}

size_t icmp_build_too_big(const uint8_t *pkt, size_t len, unsigned mtu, uint8_t *out)
{
	/* Fragmentation needed (type 3 code 4, next-hop MTU in the low 16
	 * bits, RFC 1191); packet too big (type 2, the MTU, RFC 4443 §3.2). */
	if (len >= IP4_HDR_LEN && ip_version(pkt) == 4)
		return build4(pkt, len, out, (struct icmp_kind){3, 4, mtu & 0xffff});
	if (len >= IP6_HDR_LEN && ip_version(pkt) == 6)
		return build6(pkt, len, out, (struct icmp_kind){2, 0, mtu});
	return 0;
}
