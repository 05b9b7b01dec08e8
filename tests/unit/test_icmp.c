/* ICMP/ICMPv6 errors (src/roamd/icmp.c, docs/protocol.md §6) and IPv4
 * fragmentation of inner packets (src/roamd/fragment.c). ICMP:
 * header fields, checksums recomputed here independently, quoting limits,
 * every case where no error may be sent, and the rate limiter.
 *
 * The file under test is included for its private rate-limit constants
 * (ICMP_BURST, ICMP_COST_NS). */
#include "../../src/roamd/icmp.c"
#include "../../src/roamd/fragment.h"

#include <arpa/inet.h>
#include <stdint.h>

#include "test.h"

/* ---- building packets -------------------------------------------------- */

static uint8_t pkt[2048], out[ICMP_REPLY_MAX];

/* An IPv4 packet of total length len from src to dst, protocol proto; the
 * payload is a counting pattern so quoting can be checked byte by byte. */
static size_t ip4(size_t len, const char *src, const char *dst, uint8_t proto)
{
	memset(pkt, 0, sizeof(pkt));
	pkt[0] = 0x45;
	pkt[2] = (uint8_t)(len >> 8);
	pkt[3] = (uint8_t)len;
	pkt[8] = 64;
	pkt[9] = proto;
	inet_pton(AF_INET, src, pkt + 12);
	inet_pton(AF_INET, dst, pkt + 16);
	for (size_t i = 20; i < len; i++)
		pkt[i] = (uint8_t)i;
	return len;
}

/* An IPv6 packet with len bytes after the fixed header. */
static size_t ip6(size_t len, const char *src, const char *dst, uint8_t next)
{
	memset(pkt, 0, sizeof(pkt));
	pkt[0] = 0x60;
	pkt[4] = (uint8_t)(len >> 8);
	pkt[5] = (uint8_t)len;
	pkt[6] = next;
	pkt[7] = 64;
	inet_pton(AF_INET6, src, pkt + 8);
	inet_pton(AF_INET6, dst, pkt + 24);
	for (size_t i = 40; i < 40 + len; i++)
		pkt[i] = (uint8_t)i;
	return 40 + len;
}

/* RFC 1071, written out again rather than reusing the code under test. */
static uint16_t sum16(const uint8_t *p, size_t len, uint32_t sum)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static bool addr_is(const uint8_t *p, int family, const char *text)
{
	uint8_t a[16];
	inet_pton(family, text, a);
	return memcmp(p, a, family == AF_INET ? 4 : 16) == 0;
}

/* ---- IPv4 ---------------------------------------------------------------- */

static void test_ipv4_reply(void)
{
	size_t len = ip4(84, "198.18.0.1", "198.18.0.99", 1);
	pkt[20] = 8;	/* echo request */
	size_t n = icmp_build_unreachable(pkt, len, out);
	CHECK(n == 20 + 8 + 84);
	CHECK(out[0] == 0x45);
	CHECK((out[2] << 8 | out[3]) == (int)n);
	CHECK(out[8] == 64 && out[9] == 1);
	/* Back to the sender, from the unreachable address (not one of ours,
	 * or the kernel would drop it as a martian). */
	CHECK(addr_is(out + 12, AF_INET, "198.18.0.99"));
	CHECK(addr_is(out + 16, AF_INET, "198.18.0.1"));
	CHECK(sum16(out, 20, 0) == 0xffff);
	CHECK(out[20] == 3 && out[21] == 1);
	CHECK(sum16(out + 20, n - 20, 0) == 0xffff);
	CHECK_MEM(out + 28, pkt, 84);
}

static void test_ipv4_quote_limits(void)
{
	/* At most 576 bytes in all (RFC 1812), like Linux. */
	size_t len = ip4(1400, "198.18.0.1", "198.18.0.99", 17);
	size_t n = icmp_build_unreachable(pkt, len, out);
	CHECK(n == 576);
	CHECK_MEM(out + 28, pkt, 548);
	CHECK(sum16(out + 20, n - 20, 0) == 0xffff);
	/* Bytes beyond the IP total length are not part of the packet. */
	len = ip4(60, "198.18.0.1", "198.18.0.99", 17);
	n = icmp_build_unreachable(pkt, 200, out);
	CHECK(n == 28 + 60);
	(void)len;
}

static void test_ipv4_no_reply(void)
{
	size_t len;

	len = ip4(56, "198.18.0.1", "198.18.0.99", 1);
	pkt[20] = 3;	/* an ICMP error: never answered */
	CHECK(icmp_build_unreachable(pkt, len, out) == 0);
	pkt[20] = 11;
	CHECK(icmp_build_unreachable(pkt, len, out) == 0);
	pkt[20] = 40;	/* unknown type */
	CHECK(icmp_build_unreachable(pkt, len, out) == 0);
	pkt[20] = 0;	/* echo reply: informational, answered */
	CHECK(icmp_build_unreachable(pkt, len, out) != 0);
	/* ICMP without even a type byte. */
	len = ip4(20, "198.18.0.1", "198.18.0.99", 1);
	CHECK(icmp_build_unreachable(pkt, len, out) == 0);

	len = ip4(56, "198.18.0.1", "198.18.0.99", 17);
	pkt[6] = 0x00;
	pkt[7] = 0x10;	/* fragment offset 16: not the first */
	CHECK(icmp_build_unreachable(pkt, len, out) == 0);
	pkt[6] = 0x20;	/* more fragments, offset 0: the first, answered */
	pkt[7] = 0;
	CHECK(icmp_build_unreachable(pkt, len, out) != 0);

	CHECK(icmp_build_unreachable(pkt, ip4(56, "198.18.0.1", "224.0.0.1", 17), out) == 0);
	CHECK(icmp_build_unreachable(pkt, ip4(56, "198.18.0.1", "255.255.255.255", 17), out) == 0);
	CHECK(icmp_build_unreachable(pkt, ip4(56, "0.0.0.0", "198.18.0.99", 17), out) == 0);
	CHECK(icmp_build_unreachable(pkt, ip4(56, "127.0.0.1", "198.18.0.99", 17), out) == 0);

	/* Malformed: short, header longer than the packet, total < header. */
	len = ip4(56, "198.18.0.1", "198.18.0.99", 17);
	CHECK(icmp_build_unreachable(pkt, 19, out) == 0);
	pkt[0] = 0x4f;
	CHECK(icmp_build_unreachable(pkt, 40, out) == 0);
	pkt[0] = 0x45;
	pkt[2] = 0;
	pkt[3] = 10;
	CHECK(icmp_build_unreachable(pkt, len, out) == 0);
	CHECK(icmp_build_unreachable(pkt, 0, out) == 0);
}

/* ---- IPv6 ---------------------------------------------------------------- */

static bool icmp6_checksum_ok(const uint8_t *p, size_t n)
{
	size_t plen = n - 40;
	uint8_t pseudo[40] = {0};
	memcpy(pseudo, p + 8, 32);
	pseudo[34] = (uint8_t)(plen >> 8);
	pseudo[35] = (uint8_t)plen;
	pseudo[39] = 58;
	uint32_t sum = sum16(pseudo, 40, 0);
	return sum16(p + 40, plen, sum) == 0xffff;
}

static void test_ipv6_reply(void)
{
	size_t len = ip6(64, "fd00:2::1", "fd00:2::99", 17);
	size_t n = icmp_build_unreachable(pkt, len, out);
	CHECK(n == 40 + 8 + len);
	CHECK(out[0] >> 4 == 6);
	CHECK((size_t)(out[4] << 8 | out[5]) == n - 40);
	CHECK(out[6] == 58 && out[7] == 64);
	CHECK(addr_is(out + 8, AF_INET6, "fd00:2::99"));
	CHECK(addr_is(out + 24, AF_INET6, "fd00:2::1"));
	CHECK(out[40] == 1 && out[41] == 3);
	CHECK(icmp6_checksum_ok(out, n));
	CHECK_MEM(out + 48, pkt, len);

	/* At most the IPv6 minimum MTU in all. */
	len = ip6(1460, "fd00:2::1", "fd00:2::99", 6);
	n = icmp_build_unreachable(pkt, len, out);
	CHECK(n == 1280);
	CHECK(icmp6_checksum_ok(out, n));
	CHECK_MEM(out + 48, pkt, 1232);
}

static void test_ipv6_no_reply(void)
{
	size_t len = ip6(16, "fd00:2::1", "fd00:2::99", 58);
	pkt[40] = 1;	/* an ICMPv6 error */
	CHECK(icmp_build_unreachable(pkt, len, out) == 0);
	pkt[40] = 128;	/* echo request */
	CHECK(icmp_build_unreachable(pkt, len, out) != 0);

	/* The type hides behind a hop-by-hop header (8 bytes). */
	len = ip6(24, "fd00:2::1", "fd00:2::99", 0);
	pkt[40] = 58;
	pkt[41] = 0;
	pkt[48] = 2;	/* packet too big: an error */
	CHECK(icmp_build_unreachable(pkt, len, out) == 0);
	pkt[48] = 128;
	CHECK(icmp_build_unreachable(pkt, len, out) != 0);
	/* ... or is cut off. */
	len = ip6(8, "fd00:2::1", "fd00:2::99", 0);
	pkt[40] = 58;
	CHECK(icmp_build_unreachable(pkt, len, out) == 0);

	/* A later fragment: ICMPv6 type unknowable (silent), UDP answered. */
	len = ip6(24, "fd00:2::1", "fd00:2::99", 44);
	pkt[40] = 58;
	pkt[42] = 0;
	pkt[43] = 0x10 << 3;
	CHECK(icmp_build_unreachable(pkt, len, out) == 0);
	pkt[40] = 17;
	CHECK(icmp_build_unreachable(pkt, len, out) != 0);

	CHECK(icmp_build_unreachable(pkt, ip6(16, "fd00:2::1", "ff02::1", 17), out) == 0);
	CHECK(icmp_build_unreachable(pkt, ip6(16, "::", "fd00:2::99", 17), out) == 0);
	CHECK(icmp_build_unreachable(pkt, ip6(16, "ff02::1", "fd00:2::99", 17), out) == 0);
	CHECK(icmp_build_unreachable(pkt, 39, out) == 0);
	/* Neither version. */
	pkt[0] = 0x50;
	CHECK(icmp_build_unreachable(pkt, 60, out) == 0);
}

/* ---- rate limit ---------------------------------------------------------- */

static void test_limiter(void)
{
	struct icmp_limiter l = {0};
	uint64_t t = 5 * 1000000000ULL;
	int allowed = 0;
	for (int i = 0; i < 100; i++)
		allowed += icmp_limiter_allow(&l, t);
	CHECK(allowed == ICMP_BURST);
	/* One more every 1/ICMP_PER_SECOND s. */
	CHECK(!icmp_limiter_allow(&l, t + ICMP_COST_NS - 1));
	CHECK(icmp_limiter_allow(&l, t + ICMP_COST_NS));
	CHECK(!icmp_limiter_allow(&l, t + ICMP_COST_NS));
	/* A long pause refills the burst, no more. */
	allowed = 0;
	for (int i = 0; i < 100; i++)
		allowed += icmp_limiter_allow(&l, t + 3600 * 1000000000ULL);
	CHECK(allowed == ICMP_BURST);
}

/* ---- too big for the path ------------------------------------------------ */

static void test_too_big(void)
{
	/* IPv4 with DF: fragmentation needed, next-hop MTU in bytes 6-7. */
	size_t len = ip4(1400, "198.18.0.1", "198.18.0.99", 6);
	pkt[6] = 0x40;
	size_t n = icmp_build_too_big(pkt, len, 1232, out);
	CHECK(n == 576);
	CHECK(out[20] == 3 && out[21] == 4);
	CHECK(out[24] == 0 && out[25] == 0 && (out[26] << 8 | out[27]) == 1232);
	CHECK(sum16(out, 20, 0) == 0xffff && sum16(out + 20, n - 20, 0) == 0xffff);
	CHECK(addr_is(out + 16, AF_INET, "198.18.0.1"));
	CHECK_MEM(out + 28, pkt, 576 - 28);

	/* IPv6: packet too big, the MTU in the 32-bit word. */
	len = ip6(1400, "fd00:2::1", "fd00:2::99", 6);
	n = icmp_build_too_big(pkt, len, 1280, out);
	CHECK(n == 1280);
	CHECK(out[40] == 2 && out[41] == 0);
	CHECK(out[44] == 0 && out[45] == 0 && (out[46] << 8 | out[47]) == 1280);
	CHECK(icmp6_checksum_ok(out, n));
	CHECK(addr_is(out + 24, AF_INET6, "fd00:2::1"));

	/* Never about an ICMP error or to a multicast group. */
	len = ip4(600, "198.18.0.1", "198.18.0.99", 1);
	pkt[20] = 3;
	CHECK(icmp_build_too_big(pkt, len, 576, out) == 0);
	len = ip6(1400, "fd00:2::1", "ff02::1", 17);
	CHECK(icmp_build_too_big(pkt, len, 1280, out) == 0);
}

/* ---- fragmenting an inner IPv4 packet ------------------------------------ */

static uint8_t frags[8][2048];

static void test_fragment(void)
{
	/* 1400 bytes cut for a 528-byte limit: pieces of 504 payload bytes
	 * (a multiple of 8), the last shorter; put back together they are
	 * the original payload. */
	size_t len = ip4(1400, "198.18.0.1", "198.18.0.99", 17);
	pkt[4] = 0x12, pkt[5] = 0x34;	/* identification */
	uint8_t whole[2048];
	memcpy(whole, pkt, len);
	size_t n, off = 0, count = 0, got[8];
	while ((n = ip4_fragment(pkt, len, off, 528 - 20, frags[count])) != 0) {
		got[count] = n;
		off += n - 20;
		count++;
		CHECK(count <= 4);
		if (count > 4)
			return;
	}
	CHECK(count == 3);
	CHECK(got[0] == 20 + 504 && got[1] == 20 + 504 && got[2] == 20 + 1380 - 1008);
	uint8_t back[2048];
	for (size_t i = 0; i < count; i++) {
		const uint8_t *f = frags[i];
		size_t flen = (size_t)(f[2] << 8 | f[3]);
		size_t foff = (size_t)((f[6] & 0x1f) << 8 | f[7]) * 8;
		bool more = f[6] & 0x20;
		CHECK(flen == got[i]);
		CHECK(more == (i + 1 < count));
		CHECK(foff == i * 504);
		CHECK(f[4] == 0x12 && f[5] == 0x34 && f[9] == 17);
		CHECK(sum16(f, 20, 0) == 0xffff);
		memcpy(back + 20 + foff, f + 20, flen - 20);
	}
	CHECK_MEM(back + 20, whole + 20, 1380);

	/* A packet that is already a fragment (offset 800, more to come):
	 * offsets add up, and the last piece still says "more". */
	len = ip4(700, "198.18.0.1", "198.18.0.99", 17);
	pkt[6] = 0x20;
	pkt[7] = 100;	/* 800 / 8 */
	n = ip4_fragment(pkt, len, 0, 400, frags[0]);
	CHECK(n == 20 + 400 && (frags[0][6] & 0x20) && ((frags[0][6] & 0x1f) << 8 | frags[0][7]) == 100);
	n = ip4_fragment(pkt, len, 400, 400, frags[1]);
	CHECK(n == 20 + 280 && (frags[1][6] & 0x20) && ((frags[1][6] & 0x1f) << 8 | frags[1][7]) == 150);
	CHECK(ip4_fragment(pkt, len, 680, 400, frags[2]) == 0);
}

/* Found by fuzz_icmp: a fragment whose offset plus payload passes the
 * largest datagram (65,535 bytes) cannot be reassembled, and its pieces'
 * offsets (in 13 bits of 8-byte units) would overflow into the flags: a
 * piece claiming offset 0, or "more fragments" on the last. Nothing is
 * sent. One that ends exactly at the largest datagram is cut as usual. */
static void test_fragment_beyond_largest_datagram(void)
{
	static uint8_t frag[2048];
	size_t len = ip4(1400, "198.18.0.1", "198.18.0.99", 17);
	pkt[6] = (uint8_t)(8150 >> 8);	/* offset 65,200: 65,200 + 1,380 > 65,515 */
	pkt[7] = (uint8_t)(8150 & 0xff);
	CHECK(ip4_fragment(pkt, len, 0, 508, frag) == 0);
	CHECK(ip4_fragment(pkt, len, 1008, 508, frag) == 0);

	/* Offset 64,128 + 1,380 + 20 = 65,528: the last piece ends in range. */
	pkt[6] = (uint8_t)(8016 >> 8);
	pkt[7] = (uint8_t)(8016 & 0xff);
	size_t n, off = 0, pieces = 0;
	while ((n = ip4_fragment(pkt, len, off, 508, frag)) != 0 && pieces < 4) {
		unsigned field = (unsigned)(frag[6] << 8 | frag[7]);
		bool last = off + (n - 20) == 1380;
		CHECK((field & 0x1fff) * 8u == 64128 + off);
		CHECK(!!(field & 0x2000) == !last && !(field & 0x4000));
		off += n - 20;
		pieces++;
	}
	CHECK(off == 1380 && pieces == 3);
}

int main(void)
{
	RUN(test_ipv4_reply);
	RUN(test_ipv4_quote_limits);
	RUN(test_ipv4_no_reply);
	RUN(test_ipv6_reply);
	RUN(test_ipv6_no_reply);
	RUN(test_limiter);
	RUN(test_too_big);
	RUN(test_fragment);
	RUN(test_fragment_beyond_largest_datagram);
	return test_finish("test_icmp");
}
