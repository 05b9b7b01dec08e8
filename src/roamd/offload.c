/* Segmentation and coalescing for the TUN offloads (offload.h). Every
 * function here works on caller-owned buffers and allocates nothing. */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "ip_header.h"
#include "offload.h"

/* The checksum to store: complemented, and never 0 (UDP reserves 0 for
 * "none"; for TCP 0xffff and 0 are the same number). */
static void store_csum(uint8_t *field, uint64_t sum)
{
	csum_store(field, sum);
	if (!field[0] && !field[1])
		field[0] = field[1] = 0xff;
}

static void ip4_fix_csum(uint8_t *ip, size_t hlen)
{
	ip[IP4_CSUM] = ip[IP4_CSUM + 1] = 0;
	csum_store(ip + IP4_CSUM, csum_add(0, ip, hlen));
}

bool offload_copy_finish_csum(uint8_t *dst, const uint8_t *src, size_t len, const struct vnet_hdr *h)
{
	if (!(h->flags & VNET_F_NEEDS_CSUM)) {
		memcpy(dst, src, len);
		return true;
	}
	size_t start = h->csum_start, field = start + h->csum_offset;
	if (start >= len || field + 2 > len)
		return false;
	/* The field holds the pseudo-header sum; it is summed with the rest. */
	memcpy(dst, src, start);
	store_csum(dst + field, csum_copy(dst + start, src + start, len - start, 0));
	return true;
}

/* ---- Cutting ----------------------------------------------------------- */

int gso_iter_init(struct gso_iter *it, const uint8_t *pkt, size_t len, const struct vnet_hdr *h)
{
	memset(it, 0, sizeof(*it));
	uint8_t type = h->gso_type & (uint8_t)~VNET_GSO_ECN;
	if (!h->gso_size || len < IP4_HDR_LEN)
		return -EINVAL;
	if (ip_version(pkt) == 4) {
		if (type != VNET_GSO_TCPV4 && type != VNET_GSO_UDP_L4)
			return -EINVAL;
		it->ip_hlen = ip4_header_len(pkt);
		/* A fragment cannot be cut further. */
		if (it->ip_hlen < IP4_HDR_LEN || (ip_get16(pkt + IP4_FRAG) & 0x3fff))
			return -EINVAL;
		it->proto = pkt[IP4_PROTO];
	} else if (ip_version(pkt) == 6 && len >= IP6_HDR_LEN) {
		if (type != VNET_GSO_TCPV6 && type != VNET_GSO_UDP_L4)
			return -EINVAL;
		/* The kernel puts no extension header on what it segments
		 * for us; anything else we will not walk. */
		it->ip_hlen = IP6_HDR_LEN;
		it->proto = pkt[IP6_NEXT_HDR];
		it->v6 = true;
	} else {
		return -EINVAL;
	}
	if (type == VNET_GSO_UDP_L4 ? it->proto != IPPROTO_UDP : it->proto != IPPROTO_TCP)
		return -EINVAL;
	if (it->ip_hlen + (it->proto == IPPROTO_TCP ? TCP_HDR_LEN : UDP_HDR_LEN) > len)
		return -EINVAL;
	if (it->proto == IPPROTO_TCP) {
		size_t doff = tcp_header_len(pkt + it->ip_hlen);
		if (doff < TCP_HDR_LEN)
			return -EINVAL;
		it->hlen = it->ip_hlen + doff;
	} else {
		it->hlen = it->ip_hlen + UDP_HDR_LEN;
	}
	if (it->hlen > len)
		return -EINVAL;
	it->pkt = pkt;
	it->len = len;
	it->mss = h->gso_size;
	return 0;
}

size_t gso_iter_peek(const struct gso_iter *it)
{
	size_t plen = it->len - it->hlen;
	if (it->index && it->off >= plen)
		return 0;
	size_t chunk = plen - it->off < it->mss ? plen - it->off : it->mss;
	return it->hlen + chunk;
}

size_t gso_iter_next(struct gso_iter *it, uint8_t *out)
{
	size_t seg_len = gso_iter_peek(it);
	if (!seg_len)
		return 0;
	size_t chunk = seg_len - it->hlen, plen = it->len - it->hlen;
	bool first = it->index == 0, last = it->off + chunk >= plen;
	memcpy(out, it->pkt, it->hlen);
	uint64_t payload_sum = csum_copy(out + it->hlen, it->pkt + it->hlen + it->off, chunk, 0);

	const uint8_t *src, *dst;
	size_t alen;
	if (it->v6) {
		ip_put16(out + IP6_PAYLOAD_LEN, (uint16_t)(seg_len - IP6_HDR_LEN));
		src = out + IP6_SRC, dst = out + IP6_DST, alen = IP6_ADDR_LEN;
	} else {
		ip_put16(out + IP4_TOTAL_LEN, (uint16_t)seg_len);
		/* Consecutive IDs, as the kernel's own segmentation gives. */
		ip_put16(out + IP4_ID, (uint16_t)(ip_get16(it->pkt + IP4_ID) + it->index));
		ip4_fix_csum(out, it->ip_hlen);
		src = out + IP4_SRC, dst = out + IP4_DST, alen = IP4_ADDR_LEN;
	}
	uint8_t *l4 = out + it->ip_hlen;
	size_t l4_hlen = it->hlen - it->ip_hlen, l4_len = seg_len - it->ip_hlen;
	if (it->proto == IPPROTO_TCP) {
		ip_put32(l4 + TCP_SEQ, ip_get32(it->pkt + it->ip_hlen + TCP_SEQ) + (uint32_t)it->off);
		/* FIN and PSH belong to the last segment, CWR to the first. */
		if (!last)
			l4[TCP_FLAGS] &= (uint8_t)~(TCP_FIN | TCP_PSH);
		if (!first)
			l4[TCP_FLAGS] &= (uint8_t)~TCP_CWR;
		l4[TCP_CSUM] = l4[TCP_CSUM + 1] = 0;
		uint64_t sum = csum_pseudo(src, dst, alen, IPPROTO_TCP, (uint32_t)l4_len);
		store_csum(l4 + TCP_CSUM, csum_add(sum, l4, l4_hlen) + payload_sum);
	} else {
		ip_put16(l4 + UDP_LEN, (uint16_t)l4_len);
		l4[UDP_CSUM] = l4[UDP_CSUM + 1] = 0;
		uint64_t sum = csum_pseudo(src, dst, alen, IPPROTO_UDP, (uint32_t)l4_len);
		store_csum(l4 + UDP_CSUM, csum_add(sum, l4, UDP_HDR_LEN) + payload_sum);
	}
	it->off += chunk;
	it->index++;
	return seg_len;
}

/* ---- Gluing ------------------------------------------------------------ */

/* What gro_add learns about a packet. */
struct parsed {
	bool v6;
	uint8_t proto;
	size_t ip_hlen, hlen, payload;
	const uint8_t *src, *dst;	/* addresses */
	size_t alen;
	const uint8_t *ports;		/* 4 bytes */
	bool has_ports;			/* a TCP/UDP packet we can name a flow for */
	bool gluable;
};

static bool checksum_ok(const uint8_t *pkt, size_t len, const struct parsed *p)
{
	uint64_t sum = csum_pseudo(p->src, p->dst, p->alen, p->proto, (uint32_t)(len - p->ip_hlen));
	return csum_fold(csum_add(sum, pkt + p->ip_hlen, len - p->ip_hlen)) == 0xffff;
}

static void parse(const struct gro *g, const uint8_t *pkt, size_t len, struct parsed *p)
{
	memset(p, 0, sizeof(*p));
	if (len >= IP4_HDR_LEN && ip_version(pkt) == 4) {
		p->ip_hlen = ip4_header_len(pkt);
		if (p->ip_hlen < IP4_HDR_LEN || p->ip_hlen > len || ip_get16(pkt + IP4_TOTAL_LEN) != len)
			return;
		p->proto = pkt[IP4_PROTO];
		p->src = pkt + IP4_SRC, p->dst = pkt + IP4_DST, p->alen = IP4_ADDR_LEN;
		/* A fragment has no ports (or only the first one does). */
		if (ip_get16(pkt + IP4_FRAG) & 0x3fff)
			return;
	} else if (len >= IP6_HDR_LEN && ip_version(pkt) == 6) {
		p->v6 = true;
		p->ip_hlen = IP6_HDR_LEN;
		if (IP6_HDR_LEN + (size_t)ip_get16(pkt + IP6_PAYLOAD_LEN) != len)
			return;
		p->proto = pkt[IP6_NEXT_HDR];
		p->src = pkt + IP6_SRC, p->dst = pkt + IP6_DST, p->alen = IP6_ADDR_LEN;
	} else {
		return;
	}
	const uint8_t *l4 = pkt + p->ip_hlen;
	if (p->proto == IPPROTO_TCP) {
		if (p->ip_hlen + TCP_HDR_LEN > len)
			return;
		p->hlen = p->ip_hlen + tcp_header_len(l4);
		if (p->hlen < p->ip_hlen + TCP_HDR_LEN || p->hlen > len)
			return;
		p->has_ports = true;
		p->payload = len - p->hlen;
		/* Only plain data segments: anything that opens, closes or
		 * signals congestion is the kernel's to see as it came. */
		uint8_t flags = l4[TCP_FLAGS];
		p->gluable = g->tcp && p->payload && (flags & ~TCP_PSH) == TCP_ACK && (p->v6 || p->ip_hlen == IP4_HDR_LEN) &&
			     (g->sums_trusted || checksum_ok(pkt, len, p));
	} else if (p->proto == IPPROTO_UDP) {
		if (p->ip_hlen + UDP_HDR_LEN > len)
			return;
		p->hlen = p->ip_hlen + UDP_HDR_LEN;
		p->has_ports = true;
		p->payload = len - p->hlen;
		bool no_sum = !p->v6 && !l4[UDP_CSUM] && !l4[UDP_CSUM + 1];
		p->gluable = g->udp && p->payload && ip_get16(l4 + UDP_LEN) == len - p->ip_hlen && (p->v6 || p->ip_hlen == IP4_HDR_LEN) &&
			     (no_sum || g->sums_trusted || checksum_ok(pkt, len, p));
	}
	p->ports = l4;
}

static bool same_flow(const struct gro_flow *f, const uint8_t *pkt, const struct parsed *p)
{
	if (f->v6 != p->v6 || f->proto != p->proto)
		return false;
	const uint8_t *a = f->first;
	if (p->v6)
		return !memcmp(a + IP6_SRC, pkt + IP6_SRC, 2 * IP6_ADDR_LEN) &&
		       !memcmp(a + IP6_HDR_LEN, pkt + IP6_HDR_LEN, 4);
	return !memcmp(a + IP4_SRC, pkt + IP4_SRC, 2 * IP4_ADDR_LEN) && !memcmp(a + f->ip_hlen, p->ports, 4);
}

/* Everything but lengths, IDs, sequence numbers and checksums must match
 * for the glued packet to mean the same as its parts. */
static bool can_append(const struct gro_flow *f, const uint8_t *pkt, size_t len, const struct parsed *p)
{
	if (f->closed || f->count >= GRO_MAX_SEGS || f->total + p->payload > GRO_MAX_LEN || p->payload > f->seg_payload ||
	    p->hlen != f->hlen)
		return false;
	const uint8_t *a = f->first;
	if (p->v6) {
		/* Version, traffic class, flow label; hop limit. */
		if (memcmp(a, pkt, 4) || a[IP6_HOP_LIMIT] != pkt[IP6_HOP_LIMIT])
			return false;
	} else {
		/* TOS, DF, TTL. */
		if (a[IP4_TOS] != pkt[IP4_TOS] || (a[IP4_FRAG] & IP4_DF) != (pkt[IP4_FRAG] & IP4_DF) ||
		    a[IP4_TTL] != pkt[IP4_TTL])
			return false;
	}
	if (p->proto == IPPROTO_TCP) {
		const uint8_t *ta = a + f->ip_hlen, *tb = pkt + p->ip_hlen;
		/* Sequence in order; same ACK, window and options. */
		if (ip_get32(tb + TCP_SEQ) != f->next_seq || memcmp(ta + TCP_ACK_SEQ, tb + TCP_ACK_SEQ, 4) ||
		    memcmp(ta + TCP_WINDOW, tb + TCP_WINDOW, 2) ||
		    memcmp(ta + TCP_HDR_LEN, tb + TCP_HDR_LEN, f->hlen - f->ip_hlen - TCP_HDR_LEN))
			return false;
	}
	(void)len;
	return true;
}

static void emit_single(struct gro *g, uint8_t *pkt, size_t len, bool verified)
{
	/* Checked here already, or authenticated: spare the kernel a pass. */
	struct vnet_hdr h = {.flags = verified ? VNET_F_DATA_VALID : 0};
	struct iovec iov = {.iov_base = pkt, .iov_len = len};
	g->written++;
	g->emit(g->ctx, &h, &iov, 1);
}

static void flush_flow(struct gro *g, struct gro_flow *f)
{
	if (!f->used)
		return;
	f->used = false;
	if (f->count == 1) {
		emit_single(g, f->first, f->iov[0].iov_len, true);
		return;
	}
	/* The first packet's headers now describe the whole: lengths, and a
	 * checksum left partial (pseudo-header only) for the kernel, which
	 * trusts it for local delivery and completes it when it segments
	 * for forwarding — each part's own checksum was verified above, or
	 * is trusted because the part was authenticated (sums_trusted). */
	uint8_t *a = f->first;
	const uint8_t *src, *dst;
	size_t alen;
	if (f->v6) {
		ip_put16(a + IP6_PAYLOAD_LEN, (uint16_t)(f->total - IP6_HDR_LEN));
		src = a + IP6_SRC, dst = a + IP6_DST, alen = IP6_ADDR_LEN;
	} else {
		ip_put16(a + IP4_TOTAL_LEN, (uint16_t)f->total);
		ip4_fix_csum(a, f->ip_hlen);
		src = a + IP4_SRC, dst = a + IP4_DST, alen = IP4_ADDR_LEN;
	}
	uint8_t *l4 = a + f->ip_hlen;
	uint32_t l4_len = (uint32_t)(f->total - f->ip_hlen);
	struct vnet_hdr h = {
		.flags = VNET_F_NEEDS_CSUM,
		.hdr_len = (uint16_t)f->hlen,
		.gso_size = (uint16_t)f->seg_payload,
		.csum_start = (uint16_t)f->ip_hlen,
	};
	uint16_t partial = csum_fold(csum_pseudo(src, dst, alen, f->proto, l4_len));
	if (f->proto == IPPROTO_TCP) {
		h.gso_type = f->v6 ? VNET_GSO_TCPV6 : VNET_GSO_TCPV4;
		h.csum_offset = TCP_CSUM;
		memcpy(l4 + TCP_CSUM, &partial, 2);
	} else {
		h.gso_type = VNET_GSO_UDP_L4;
		h.csum_offset = UDP_CSUM;
		ip_put16(l4 + UDP_LEN, (uint16_t)l4_len);
		memcpy(l4 + UDP_CSUM, &partial, 2);
	}
	g->glued += f->count;
	g->written++;
	g->emit(g->ctx, &h, f->iov, (int)f->count);
}

void gro_init(struct gro *g, bool tcp, bool udp, gro_emit_fn emit, void *ctx)
{
	memset(g, 0, sizeof(*g));
	g->tcp = tcp;
	g->udp = udp;
	g->emit = emit;
	g->ctx = ctx;
}

void gro_flush(struct gro *g)
{
	/* Oldest first: the order flows started in. */
	for (;;) {
		struct gro_flow *oldest = NULL;
		for (unsigned i = 0; i < GRO_FLOWS; i++)
			if (g->flows[i].used && (!oldest || g->flows[i].age < oldest->age))
				oldest = &g->flows[i];
		if (!oldest)
			return;
		flush_flow(g, oldest);
	}
}

void gro_add(struct gro *g, uint8_t *pkt, size_t len)
{
	struct parsed p;
	parse(g, pkt, len, &p);
	struct gro_flow *f = NULL, *free_slot = NULL, *oldest = NULL;
	if (p.has_ports) {
		for (unsigned i = 0; i < GRO_FLOWS; i++) {
			struct gro_flow *c = &g->flows[i];
			if (!c->used) {
				if (!free_slot)
					free_slot = c;
				continue;
			}
			if (same_flow(c, pkt, &p)) {
				f = c;
				break;
			}
			if (!oldest || c->age < oldest->age)
				oldest = c;
		}
	} else if (len >= IP4_HDR_LEN && ip_version(pkt) == 4 && (ip_get16(pkt + IP4_FRAG) & 0x3fff)) {
		/* A fragment may belong to a held flow: keep it behind. */
		gro_flush(g);
	}
	if (!p.gluable) {
		if (f)
			flush_flow(g, f);
		emit_single(g, pkt, len, g->sums_trusted);
		return;
	}
	if (f && can_append(f, pkt, len, &p)) {
		f->iov[f->count].iov_base = pkt + p.hlen;
		f->iov[f->count].iov_len = p.payload;
		f->count++;
		f->total += p.payload;
		if (p.proto == IPPROTO_TCP) {
			f->next_seq += (uint32_t)p.payload;
			if (pkt[p.ip_hlen + TCP_FLAGS] & TCP_PSH) {
				f->first[f->ip_hlen + TCP_FLAGS] |= TCP_PSH;
				f->closed = true;
			}
		}
		/* Only the last part may be shorter. */
		if (p.payload < f->seg_payload)
			f->closed = true;
		return;
	}
	if (f) {
		flush_flow(g, f);
	} else if (!free_slot) {
		flush_flow(g, oldest);
		f = oldest;
	} else {
		f = free_slot;
	}
	memset(f, 0, offsetof(struct gro_flow, iov));
	f->used = true;
	f->v6 = p.v6;
	f->proto = p.proto;
	f->first = pkt;
	f->ip_hlen = p.ip_hlen;
	f->hlen = p.hlen;
	f->seg_payload = p.payload;
	f->total = len;
	f->count = 1;
	f->age = ++g->clock;
	f->iov[0].iov_base = pkt;
	f->iov[0].iov_len = len;
	if (p.proto == IPPROTO_TCP) {
		f->next_seq = ip_get32(pkt + p.ip_hlen + TCP_SEQ) + (uint32_t)p.payload;
		if (pkt[p.ip_hlen + TCP_FLAGS] & TCP_PSH)
			f->closed = true;
	}
}
