/* TUN offload helpers (src/roamd/offload.c): the Internet checksum against
 * a naive big-endian reference, cutting TCP/UDP super-packets over IPv4 and
 * IPv6 (every header field and checksum of every segment checked
 * independently), finishing partial checksums, and gluing segments back —
 * including the round trip cut -> glue -> cut giving the same bytes, mixed
 * segment sizes, interleaved flows, and everything that must not be glued.
 *
 * The file under test is included for its static helpers (rd16, wr16,
 * ip4_fix_csum, ...). */
#include "../../src/core/checksum.c"
#include "../../src/roamd/offload.c"

#include <arpa/inet.h>
#include <stdint.h>

#include "test.h"

static uint64_t rng = 88172645463325252ULL;
static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)rng;
}

static void fill_random(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rnd();
}

/* ---- reference checksum: RFC 1071 on big-endian 16-bit words ------------ */

static uint32_t ref_sum(uint32_t sum, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

/* The L4 checksum of an IP packet verifies (IPv4 or IPv6, TCP or UDP). */
static bool l4_checksum_valid(const uint8_t *pkt, size_t len)
{
	bool v6 = pkt[0] >> 4 == 6;
	size_t ihl = v6 ? 40 : (size_t)(pkt[0] & 15) * 4;
	uint8_t proto = v6 ? pkt[6] : pkt[9];
	uint32_t l4len = (uint32_t)(len - ihl);
	uint32_t sum = 0;
	sum = ref_sum(sum, pkt + (v6 ? 8 : 12), v6 ? 32 : 8);
	sum += proto + (l4len >> 16) + (l4len & 0xffff);
	sum = ref_sum(sum, pkt + ihl, l4len);
	return sum == 0xffff;
}

static bool ip4_header_valid(const uint8_t *pkt)
{
	return ref_sum(0, pkt, (size_t)(pkt[0] & 15) * 4) == 0xffff;
}

static void test_csum_matches_reference(void)
{
	static uint8_t buf[3000];
	for (int round = 0; round < 2000; round++) {
		size_t len = rnd() % sizeof(buf);
		fill_random(buf, len);
		uint16_t ours = (uint16_t)~csum_fold(csum_add(0, buf, len));
		uint16_t ref = (uint16_t)~ref_sum(0, buf, len);
		uint8_t ref_bytes[2] = {(uint8_t)(ref >> 8), (uint8_t)ref};
		if (!CHECK(memcmp(&ours, ref_bytes, 2) == 0)) {
			fprintf(stderr, "  length %zu\n", len);
			return;
		}
	}
	/* Summing in pieces (even lengths but the last) is the same. */
	fill_random(buf, 1501);
	uint64_t s = csum_add(0, buf, 20);
	s = csum_add(s, buf + 20, 1000);
	s = csum_add(s, buf + 1020, 481);
	CHECK(csum_fold(s) == csum_fold(csum_add(0, buf, 1501)));
	uint8_t copy[1501];
	CHECK(csum_fold(csum_copy(copy, buf, 1501, 0)) == csum_fold(csum_add(0, buf, 1501)));
	CHECK_MEM(copy, buf, 1501);
	/* The vector path (where the CPU has it) and the scalar one agree at
	 * every alignment and length, copying or not, and a 64 KB run of
	 * all-ones words cannot overflow a lane. */
	static uint8_t big[65536 + 64], dst[65536 + 64];
	fill_random(big, sizeof(big));
	for (int round = 0; round < 400; round++) {
		size_t off = rnd() % 32, len = round < 200 ? rnd() % 3000 : rnd() % 65536;
		csum_use_avx2 = -1;
		uint64_t v = csum_add(0, big + off, len);
		uint64_t vc = csum_copy(dst + (off ^ 5), big + off, len, 0);
		bool copied = memcmp(dst + (off ^ 5), big + off, len) == 0;
		csum_use_avx2 = 0;
		uint64_t sc = csum_add(0, big + off, len);
		uint16_t ref = (uint16_t)~ref_sum(0, big + off, len);
		uint16_t ours = (uint16_t)~csum_fold(v);
		uint8_t ref_bytes[2] = {(uint8_t)(ref >> 8), (uint8_t)ref};
		if (!CHECK(csum_fold(v) == csum_fold(sc) && csum_fold(vc) == csum_fold(sc) && copied &&
			   memcmp(&ours, ref_bytes, 2) == 0)) {
			fprintf(stderr, "  offset %zu length %zu\n", off, len);
			break;
		}
	}
	csum_use_avx2 = -1;
	memset(big, 0xff, 65536);
	CHECK(csum_fold(csum_add(0, big, 65536)) == 0xffff);
	/* All ones folds to 0xffff, the sum of nothing to 0. */
	memset(buf, 0xff, 64);
	CHECK(csum_fold(csum_add(0, buf, 64)) == 0xffff);
	CHECK(csum_fold(0) == 0);
}

/* ---- building packets --------------------------------------------------- */

static uint8_t super[70000];
static uint8_t payload[70000];

enum { TCP_OPTS = 12 };

/* IPv4 or IPv6 + TCP (with 12 bytes of timestamp options) or UDP, payload
 * from `payload`, checksum fields as the kernel leaves them with TSO: the
 * L4 one holds the pseudo-header sum. */
static size_t build(uint8_t *pkt, bool v6, uint8_t proto, size_t plen, uint8_t tcp_flags)
{
	size_t ihl = v6 ? 40 : 20;
	size_t l4h = proto == IPPROTO_TCP ? 20 + TCP_OPTS : 8;
	size_t len = ihl + l4h + plen;
	memset(pkt, 0, ihl + l4h);
	if (v6) {
		pkt[0] = 0x60;
		pkt[1] = 0x01; /* a flow label */
		ip_put16(pkt + 4, (uint16_t)(len - 40));
		pkt[6] = proto;
		pkt[7] = 64;
		inet_pton(AF_INET6, "fd00:2::1", pkt + 8);
		inet_pton(AF_INET6, "fd00:2::2", pkt + 24);
	} else {
		pkt[0] = 0x45;
		ip_put16(pkt + 2, (uint16_t)len);
		ip_put16(pkt + 4, 1000);
		pkt[6] = 0x40; /* DF */
		pkt[8] = 64;
		pkt[9] = proto;
		inet_pton(AF_INET, "198.18.0.1", pkt + 12);
		inet_pton(AF_INET, "198.18.0.2", pkt + 16);
		ip4_fix_csum(pkt, 20);
	}
	uint8_t *l4 = pkt + ihl;
	ip_put16(l4, 40000);
	ip_put16(l4 + 2, 5201);
	if (proto == IPPROTO_TCP) {
		ip_put32(l4 + 4, 0xfffff000u); /* wraps inside the packet */
		ip_put32(l4 + 8, 777);
		l4[12] = (uint8_t)((20 + TCP_OPTS) / 4) << 4;
		l4[13] = tcp_flags;
		ip_put16(l4 + 14, 512);
		l4[20] = 1, l4[21] = 1, l4[22] = 8, l4[23] = 10; /* NOP NOP TS */
		ip_put32(l4 + 24, 12345);
		ip_put32(l4 + 28, 67890);
	} else {
		ip_put16(l4 + 4, (uint16_t)(len - ihl));
	}
	memcpy(pkt + ihl + l4h, payload, plen);
	uint16_t partial = csum_fold(csum_pseudo(pkt + (v6 ? 8 : 12), pkt + (v6 ? 24 : 16), v6 ? 16 : 4, proto,
						 (uint32_t)(len - ihl)));
	memcpy(l4 + (proto == IPPROTO_TCP ? 16 : 6), &partial, 2);
	return len;
}

static struct vnet_hdr tso_hdr(bool v6, uint8_t proto, uint16_t mss)
{
	size_t ihl = v6 ? 40 : 20;
	return (struct vnet_hdr){
		.flags = VNET_F_NEEDS_CSUM,
		.gso_type = proto == IPPROTO_UDP ? VNET_GSO_UDP_L4 : v6 ? VNET_GSO_TCPV6 : VNET_GSO_TCPV4,
		.hdr_len = (uint16_t)(ihl + (proto == IPPROTO_TCP ? 20 + TCP_OPTS : 8)),
		.gso_size = mss,
		.csum_start = (uint16_t)ihl,
		.csum_offset = proto == IPPROTO_TCP ? 16 : 6,
	};
}

/* ---- cutting ------------------------------------------------------------ */

static uint8_t segs[128][2048];
static size_t seg_len[128];

static unsigned cut(const uint8_t *pkt, size_t len, const struct vnet_hdr *h)
{
	struct gso_iter it;
	if (!CHECK(gso_iter_init(&it, pkt, len, h) == 0))
		return 0;
	unsigned n = 0;
	size_t l;
	while ((l = gso_iter_peek(&it)) && n < 128) {
		CHECK(l <= sizeof(segs[0]));
		seg_len[n] = gso_iter_next(&it, segs[n]);
		CHECK(seg_len[n] == l);
		n++;
	}
	CHECK(gso_iter_next(&it, segs[0]) == 0 || n == 128);
	return n;
}

/* Every segment of a cut checked field by field. */
static void check_cut(bool v6, uint8_t proto, size_t plen, uint16_t mss, uint8_t flags)
{
	fill_random(payload, plen);
	size_t len = build(super, v6, proto, plen, flags);
	struct vnet_hdr h = tso_hdr(v6, proto, mss);
	unsigned n = cut(super, len, &h);
	size_t ihl = v6 ? 40 : 20, l4h = proto == IPPROTO_TCP ? 20 + TCP_OPTS : 8;
	CHECK(n == (plen + mss - 1) / mss);
	size_t off = 0;
	for (unsigned i = 0; i < n; i++) {
		const uint8_t *s = segs[i];
		size_t chunk = seg_len[i] - ihl - l4h;
		bool last = i == n - 1;
		CHECK(chunk == (last ? plen - off : mss));
		CHECK_MEM(s + ihl + l4h, payload + off, chunk);
		CHECK(l4_checksum_valid(s, seg_len[i]));
		if (v6) {
			CHECK(ip_get16(s + 4) == seg_len[i] - 40);
			CHECK_MEM(s, super, 4); /* flow label kept */
		} else {
			CHECK(ip_get16(s + 2) == seg_len[i]);
			CHECK(ip_get16(s + 4) == 1000 + i);
			CHECK(ip4_header_valid(s));
		}
		const uint8_t *l4 = s + ihl;
		if (proto == IPPROTO_TCP) {
			CHECK(ip_get32(l4 + 4) == 0xfffff000u + (uint32_t)off);
			CHECK(ip_get32(l4 + 8) == 777);
			CHECK_MEM(l4 + 20, super + ihl + 20, TCP_OPTS);
			uint8_t want = flags;
			if (!last)
				want &= (uint8_t)~(TCP_FIN | TCP_PSH);
			if (i)
				want &= (uint8_t)~TCP_CWR;
			CHECK(l4[13] == want);
		} else {
			CHECK(ip_get16(l4 + 4) == seg_len[i] - ihl);
		}
		off += chunk;
	}
	CHECK(off == plen);
}

static void test_cut_tcp4(void)
{
	check_cut(false, IPPROTO_TCP, 64000, 1368, TCP_ACK | TCP_PSH);
	check_cut(false, IPPROTO_TCP, 5000, 1000, TCP_ACK | TCP_PSH | TCP_FIN | TCP_CWR);
	check_cut(false, IPPROTO_TCP, 999, 1000, TCP_ACK); /* one segment */
	check_cut(false, IPPROTO_TCP, 3001, 97, TCP_ACK);  /* odd sizes, many */
}

static void test_cut_tcp6(void)
{
	check_cut(true, IPPROTO_TCP, 65000, 1348, TCP_ACK | TCP_PSH);
	check_cut(true, IPPROTO_TCP, 4097, 1001, TCP_ACK | TCP_FIN);
}

static void test_cut_udp(void)
{
	check_cut(false, IPPROTO_UDP, 13000, 1300, 0);
	check_cut(false, IPPROTO_UDP, 13001, 1300, 0);
	check_cut(true, IPPROTO_UDP, 20000, 1232, 0);
}

static void test_cut_rejects(void)
{
	fill_random(payload, 3000);
	size_t len = build(super, false, IPPROTO_TCP, 3000, TCP_ACK);
	struct gso_iter it;
	struct vnet_hdr h = tso_hdr(false, IPPROTO_TCP, 1000);
	CHECK(gso_iter_init(&it, super, len, &h) == 0);
	h.gso_size = 0;
	CHECK(gso_iter_init(&it, super, len, &h) == -EINVAL);
	h = tso_hdr(true, IPPROTO_TCP, 1000); /* says v6, is v4 */
	CHECK(gso_iter_init(&it, super, len, &h) == -EINVAL);
	h = tso_hdr(false, IPPROTO_UDP, 1000); /* says UDP, is TCP */
	CHECK(gso_iter_init(&it, super, len, &h) == -EINVAL);
	h = tso_hdr(false, IPPROTO_TCP, 1000);
	CHECK(gso_iter_init(&it, super, 30, &h) == -EINVAL); /* headers cut short */
	super[6] |= 0x20;				       /* more fragments */
	CHECK(gso_iter_init(&it, super, len, &h) == -EINVAL);
	super[6] &= (uint8_t)~0x20;
	super[20 + 12] = 0x40; /* data offset 4 words */
	CHECK(gso_iter_init(&it, super, len, &h) == -EINVAL);
	h.gso_type = 3; /* UFO: never asked for */
	CHECK(gso_iter_init(&it, super, len, &h) == -EINVAL);
}

/* Finishes a partial checksum where the packet lies (through a copy). */
static bool finish_csum_in_place(uint8_t *pkt, size_t len, const struct vnet_hdr *h)
{
	static uint8_t tmp[70000];
	if (len > sizeof(tmp) || !offload_copy_finish_csum(tmp, pkt, len, h))
		return false;
	memcpy(pkt, tmp, len);
	return true;
}

static void test_finish_csum(void)
{
	for (int proto = 0; proto < 2; proto++) {
		for (int v6 = 0; v6 < 2; v6++) {
			uint8_t p = proto ? IPPROTO_UDP : IPPROTO_TCP;
			size_t plen = 1 + rnd() % 1300;
			fill_random(payload, plen);
			size_t len = build(super, v6, p, plen, TCP_ACK);
			struct vnet_hdr h = tso_hdr(v6, p, 0);
			h.gso_type = VNET_GSO_NONE;
			/* The copy carries a valid checksum and every other
			 * byte as it was. */
			static uint8_t copy[sizeof(super)];
			size_t field = h.csum_start + h.csum_offset;
			CHECK(offload_copy_finish_csum(copy, super, len, &h));
			CHECK(l4_checksum_valid(copy, len));
			CHECK_MEM(copy, super, field);
			CHECK_MEM(copy + field + 2, super + field + 2, len - field - 2);
		}
	}
	struct vnet_hdr h = {.flags = VNET_F_NEEDS_CSUM, .csum_start = 20, .csum_offset = 16};
	static uint8_t out[64];
	CHECK(!offload_copy_finish_csum(out, super, 30, &h));
	h.csum_start = 40;
	CHECK(!offload_copy_finish_csum(out, super, 40, &h));
	h.flags = 0;
	CHECK(offload_copy_finish_csum(out, super, 10, &h)); /* a plain copy */
	CHECK_MEM(out, super, 10);
}

/* ---- gluing ------------------------------------------------------------- */

struct emitted {
	struct vnet_hdr h;
	uint8_t data[70000];
	size_t len;
	int iovcnt;
};
static struct emitted out[160];
static unsigned n_out;

static void collect(void *ctx, const struct vnet_hdr *h, const struct iovec *iov, int iovcnt)
{
	(void)ctx;
	if (n_out >= 160)
		return;
	struct emitted *e = &out[n_out++];
	e->h = *h;
	e->len = 0;
	e->iovcnt = iovcnt;
	for (int i = 0; i < iovcnt; i++) {
		memcpy(e->data + e->len, iov[i].iov_base, iov[i].iov_len);
		e->len += iov[i].iov_len;
	}
}

static struct gro g;

static void gro_reset(bool tcp, bool udp)
{
	gro_init(&g, tcp, udp, collect, NULL);
	n_out = 0;
}

/* Cut a super-packet, glue the segments, cut the glued one again: the same
 * segments, byte for byte. */
static void check_round_trip(bool v6, uint8_t proto, size_t plen, uint16_t mss)
{
	fill_random(payload, plen);
	size_t len = build(super, v6, proto, plen, proto == IPPROTO_TCP ? TCP_ACK | TCP_PSH : 0);
	struct vnet_hdr h = tso_hdr(v6, proto, mss);
	unsigned n = cut(super, len, &h);
	static uint8_t copies[128][2048];
	memcpy(copies, segs, sizeof(copies));
	gro_reset(true, true);
	for (unsigned i = 0; i < n; i++)
		gro_add(&g, copies[i], seg_len[i]);
	gro_flush(&g);
	if (!CHECK(n_out == 1))
		return;
	struct emitted *e = &out[0];
	CHECK(e->len == len);
	CHECK(e->iovcnt == (int)n);
	CHECK(e->h.flags == VNET_F_NEEDS_CSUM);
	CHECK(e->h.gso_type == h.gso_type);
	CHECK(e->h.gso_size == mss);
	CHECK(e->h.hdr_len == h.hdr_len);
	CHECK(e->h.csum_start == h.csum_start && e->h.csum_offset == h.csum_offset);
	if (!v6)
		CHECK(ip4_header_valid(e->data));
	/* The glued packet's partial checksum, finished, is valid. */
	static uint8_t fin[70000];
	memcpy(fin, e->data, e->len);
	CHECK(finish_csum_in_place(fin, e->len, &e->h));
	CHECK(l4_checksum_valid(fin, e->len));
	/* And it cuts into the very same segments. */
	static uint8_t again[128][2048];
	static size_t again_len[128];
	struct gso_iter it;
	CHECK(gso_iter_init(&it, e->data, e->len, &e->h) == 0);
	unsigned m = 0;
	while (gso_iter_peek(&it) && m < 128) {
		again_len[m] = gso_iter_next(&it, again[m]);
		m++;
	}
	CHECK(m == n);
	for (unsigned i = 0; i < n && i < m; i++) {
		CHECK(again_len[i] == seg_len[i]);
		CHECK_MEM(again[i], segs[i], seg_len[i]);
	}
}

static void test_glue_round_trip(void)
{
	check_round_trip(false, IPPROTO_TCP, 60000, 1368);
	check_round_trip(false, IPPROTO_TCP, 10001, 1000);
	check_round_trip(true, IPPROTO_TCP, 60000, 1348);
	check_round_trip(false, IPPROTO_UDP, 13000, 1300);
	check_round_trip(true, IPPROTO_UDP, 12999, 1300);
}

/* Segments of given payload sizes of one TCP flow, consecutive in sequence,
 * each complete with valid checksums. */
static size_t tcp_seg(uint8_t *pkt, bool v6, uint32_t seq, size_t plen, uint8_t flags, uint16_t sport)
{
	fill_random(payload, plen);
	size_t len = build(pkt, v6, IPPROTO_TCP, plen, flags);
	size_t ihl = v6 ? 40 : 20;
	ip_put32(pkt + ihl + 4, seq);
	ip_put16(pkt + ihl, sport);
	struct vnet_hdr h = tso_hdr(v6, IPPROTO_TCP, 0);
	uint16_t partial = csum_fold(csum_pseudo(pkt + (v6 ? 8 : 12), pkt + (v6 ? 24 : 16), v6 ? 16 : 4, IPPROTO_TCP,
						 (uint32_t)(len - ihl)));
	memcpy(pkt + ihl + 16, &partial, 2);
	finish_csum_in_place(pkt, len, &h);
	return len;
}

static uint8_t pkts[200][2048];
static size_t pkt_len[200];

static void test_glue_mixed_sizes(void)
{
	/* 1000 1000 500 | 1000 1000 | 1000: the short one ends a glued
	 * packet, the next starts another. */
	const size_t sizes[] = {1000, 1000, 500, 1000, 1000, 1000};
	gro_reset(true, false);
	uint32_t seq = 1;
	for (int i = 0; i < 6; i++) {
		pkt_len[i] = tcp_seg(pkts[i], false, seq, sizes[i], TCP_ACK, 40000);
		seq += (uint32_t)sizes[i];
		gro_add(&g, pkts[i], pkt_len[i]);
	}
	gro_flush(&g);
	CHECK(n_out == 2);
	CHECK(out[0].iovcnt == 3 && out[0].h.gso_size == 1000 && out[0].len == 52 + 2500);
	CHECK(out[1].iovcnt == 3 && out[1].h.gso_size == 1000 && out[1].len == 52 + 3000);
	CHECK(ip_get32(out[1].data + 24) == 1 + 2500);
	/* A bigger one after smaller ones cannot join them either. */
	gro_reset(true, false);
	seq = 1;
	const size_t grow[] = {500, 500, 1000};
	for (int i = 0; i < 3; i++) {
		pkt_len[i] = tcp_seg(pkts[i], false, seq, grow[i], TCP_ACK, 40000);
		seq += (uint32_t)grow[i];
		gro_add(&g, pkts[i], pkt_len[i]);
	}
	gro_flush(&g);
	CHECK(n_out == 2);
	CHECK(out[0].iovcnt == 2 && out[1].iovcnt == 1 && out[1].h.gso_type == VNET_GSO_NONE);
}

static void test_glue_keeps_flows_apart_and_in_order(void)
{
	gro_reset(true, false);
	uint32_t seq_a = 100, seq_b = 900000;
	for (int i = 0; i < 20; i++) {
		bool b = i & 1;
		pkt_len[i] = tcp_seg(pkts[i], b, b ? seq_b : seq_a, 1200, TCP_ACK, b ? 40001 : 40000);
		if (b)
			seq_b += 1200;
		else
			seq_a += 1200;
		gro_add(&g, pkts[i], pkt_len[i]);
	}
	gro_flush(&g);
	CHECK(n_out == 2);
	CHECK(out[0].h.gso_type == VNET_GSO_TCPV4 && out[0].iovcnt == 10 && ip_get32(out[0].data + 24) == 100);
	CHECK(out[1].h.gso_type == VNET_GSO_TCPV6 && out[1].iovcnt == 10 && ip_get32(out[1].data + 44) == 900000);
	CHECK(g.glued == 20);
}

static void test_glue_refuses(void)
{
	/* A pure ACK of the flow: what was held goes first, then the ACK. */
	gro_reset(true, false);
	pkt_len[0] = tcp_seg(pkts[0], false, 1, 1000, TCP_ACK, 40000);
	pkt_len[1] = tcp_seg(pkts[1], false, 1001, 1000, TCP_ACK, 40000);
	pkt_len[2] = tcp_seg(pkts[2], false, 2001, 0, TCP_ACK, 40000);
	for (int i = 0; i < 3; i++)
		gro_add(&g, pkts[i], pkt_len[i]);
	CHECK(n_out == 2);
	CHECK(out[0].iovcnt == 2 && out[1].len == pkt_len[2] && out[1].h.flags == 0);
	gro_flush(&g);
	CHECK(n_out == 2);

	/* A broken checksum is not vouched for: written alone, as it came. */
	gro_reset(true, false);
	pkt_len[0] = tcp_seg(pkts[0], false, 1, 1000, TCP_ACK, 40000);
	pkt_len[1] = tcp_seg(pkts[1], false, 1001, 1000, TCP_ACK, 40000);
	pkts[1][100] ^= 1;
	gro_add(&g, pkts[0], pkt_len[0]);
	gro_add(&g, pkts[1], pkt_len[1]);
	gro_flush(&g);
	CHECK(n_out == 2);
	CHECK(out[0].h.flags == VNET_F_DATA_VALID && out[1].h.flags == 0);
	CHECK(out[1].data[100] == pkts[1][100]);

	/* Trusted (the daemon's setting: every part was authenticated), the
	 * same two are glued without summing, and a lone packet that cannot
	 * be glued is vouched for all the same. */
	gro_reset(true, false);
	g.sums_trusted = true;
	gro_add(&g, pkts[0], pkt_len[0]);
	gro_add(&g, pkts[1], pkt_len[1]);
	gro_flush(&g);
	CHECK(n_out == 1 && out[0].iovcnt == 2 && out[0].h.gso_type == VNET_GSO_TCPV4);
	gro_reset(true, false);
	g.sums_trusted = true;
	pkt_len[2] = tcp_seg(pkts[2], false, 2001, 0, TCP_ACK, 40000);
	gro_add(&g, pkts[2], pkt_len[2]);
	CHECK(n_out == 1 && out[0].h.flags == VNET_F_DATA_VALID && out[0].len == pkt_len[2]);

	/* A gap in the sequence, SYN, FIN, RST, CWR, another ACK number,
	 * another window: each starts anew or stands alone. */
	const struct {
		uint8_t flags;
		int field; /* 0 none, 1 seq gap, 2 ack, 3 window */
	} cases[] = {{TCP_ACK, 1}, {TCP_ACK | TCP_FIN, 0}, {TCP_ACK | TCP_SYN, 0}, {TCP_ACK | TCP_RST, 0},
		     {TCP_ACK | TCP_CWR, 0}, {TCP_ACK, 2}, {TCP_ACK, 3}, {0, 0}};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		gro_reset(true, false);
		pkt_len[0] = tcp_seg(pkts[0], false, 1, 1000, TCP_ACK, 40000);
		pkt_len[1] = tcp_seg(pkts[1], false, cases[c].field == 1 ? 2001 : 1001, 1000, cases[c].flags, 40000);
		if (cases[c].field >= 2) {
			pkts[1][20 + (cases[c].field == 2 ? 8 : 14)] ^= 1;
			pkts[1][20 + 16] = pkts[1][20 + 17] = 0;
			struct vnet_hdr h = {.flags = VNET_F_NEEDS_CSUM, .csum_start = 20, .csum_offset = 16};
			uint16_t partial = csum_fold(csum_pseudo(pkts[1] + 12, pkts[1] + 16, 4, IPPROTO_TCP,
								 (uint32_t)(pkt_len[1] - 20)));
			memcpy(pkts[1] + 36, &partial, 2);
			finish_csum_in_place(pkts[1], pkt_len[1], &h);
		}
		gro_add(&g, pkts[0], pkt_len[0]);
		gro_add(&g, pkts[1], pkt_len[1]);
		gro_flush(&g);
		if (!CHECK(n_out == 2 && g.glued == 0))
			fprintf(stderr, "  case %zu\n", c);
	}

	/* Gluing off: everything passes one by one, untouched. */
	gro_reset(false, false);
	for (int i = 0; i < 5; i++) {
		pkt_len[i] = tcp_seg(pkts[i], false, 1 + 1000 * (uint32_t)i, 1000, TCP_ACK, 40000);
		gro_add(&g, pkts[i], pkt_len[i]);
	}
	CHECK(n_out == 5 && out[4].len == pkt_len[4] && out[4].h.gso_type == VNET_GSO_NONE);
}

static void test_glue_limits(void)
{
	/* 70 segments of 900 bytes: at most 64 per write. */
	gro_reset(true, false);
	for (int i = 0; i < 70; i++) {
		pkt_len[i] = tcp_seg(pkts[i], false, 1 + 900 * (uint32_t)i, 900, TCP_ACK, 40000);
		gro_add(&g, pkts[i], pkt_len[i]);
	}
	gro_flush(&g);
	CHECK(n_out == 2 && out[0].iovcnt == GRO_MAX_SEGS && out[1].iovcnt == 6);
	/* 50 of 1400: at most 64 KiB per write. */
	gro_reset(true, false);
	for (int i = 0; i < 50; i++) {
		pkt_len[i] = tcp_seg(pkts[i], false, 1 + 1400 * (uint32_t)i, 1400, TCP_ACK, 40000);
		gro_add(&g, pkts[i], pkt_len[i]);
	}
	gro_flush(&g);
	CHECK(n_out == 2 && out[0].len <= GRO_MAX_LEN && out[0].iovcnt + out[1].iovcnt == 50);
	/* More flows than slots: the oldest is written to make room, and
	 * nothing is lost. */
	gro_reset(true, false);
	unsigned total = 0;
	for (int i = 0; i < 40; i++) {
		pkt_len[i] = tcp_seg(pkts[i], false, 1 + 1000 * (uint32_t)(i / 10), 1000, TCP_ACK,
				     (uint16_t)(40000 + i % 10));
		gro_add(&g, pkts[i], pkt_len[i]);
	}
	gro_flush(&g);
	for (unsigned i = 0; i < n_out; i++)
		total += (unsigned)out[i].iovcnt;
	CHECK(total == 40);
}

static void test_glue_udp(void)
{
	gro_reset(true, true);
	for (int i = 0; i < 10; i++) {
		fill_random(payload, 1300);
		pkt_len[i] = build(pkts[i], false, IPPROTO_UDP, i == 9 ? 700 : 1300, 0);
		struct vnet_hdr h = tso_hdr(false, IPPROTO_UDP, 0);
		finish_csum_in_place(pkts[i], pkt_len[i], &h);
		gro_add(&g, pkts[i], pkt_len[i]);
	}
	gro_flush(&g);
	CHECK(n_out == 1 && out[0].h.gso_type == VNET_GSO_UDP_L4 && out[0].h.gso_size == 1300 &&
	      out[0].iovcnt == 10 && ip_get16(out[0].data + 24) == 8 + 9 * 1300 + 700);
	/* A v4 datagram without checksum may be glued; without UDP gluing
	 * each goes alone. */
	gro_reset(true, false);
	for (int i = 0; i < 3; i++) {
		pkt_len[i] = build(pkts[i], false, IPPROTO_UDP, 1300, 0);
		pkts[i][26] = pkts[i][27] = 0;
		gro_add(&g, pkts[i], pkt_len[i]);
	}
	CHECK(n_out == 3);
	/* Other protocols and fragments pass untouched. */
	gro_reset(true, true);
	pkt_len[0] = build(pkts[0], false, 1, 64, 0); /* ICMP */
	gro_add(&g, pkts[0], pkt_len[0]);
	pkt_len[1] = build(pkts[1], false, IPPROTO_UDP, 1300, 0);
	pkts[1][6] |= 0x20; /* MF */
	gro_add(&g, pkts[1], pkt_len[1]);
	CHECK(n_out == 2 && out[0].len == pkt_len[0] && out[1].len == pkt_len[1]);
}

int main(void)
{
	RUN(test_csum_matches_reference);
	RUN(test_cut_tcp4);
	RUN(test_cut_tcp6);
	RUN(test_cut_udp);
	RUN(test_cut_rejects);
	RUN(test_finish_csum);
	RUN(test_glue_round_trip);
	RUN(test_glue_mixed_sizes);
	RUN(test_glue_keeps_flows_apart_and_in_order);
	RUN(test_glue_refuses);
	RUN(test_glue_limits);
	RUN(test_glue_udp);
	return test_finish("test_offload");
}
