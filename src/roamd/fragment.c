/* IPv4 fragmentation of inner packets, as a router does it (fragment.h). */
#include <stdbool.h>
#include <string.h>

#include "fragment.h"
#include "ip_header.h"

size_t ip4_fragment(const uint8_t *pkt, size_t len, size_t off, size_t max_payload, uint8_t *out)
{
	enum { HDR = 20 };
	size_t total = ip_get16(pkt + 2);
	if (total > len || total < HDR)
		total = len;
	size_t payload = total - HDR;
	uint16_t frag = ip_get16(pkt + 6);
	/* This packet may itself be a fragment: offsets add up, and its
	 * "more fragments" stays on the last piece. */
	size_t base = (size_t)(frag & 0x1fff) * 8;
	/* Pieces past the largest datagram could never be reassembled, and
	 * their offsets would overflow into the flags: none at all. */
	if (off >= payload || base + total > 0xffff)
		return 0;
	size_t chunk = payload - off;
	bool last = true;
	if (chunk > max_payload) {
		chunk = max_payload & ~(size_t)7;
		last = false;
	}
	bool more = !last || (frag & 0x2000);
	memcpy(out, pkt, HDR);
	memcpy(out + HDR, pkt + HDR + off, chunk);
	uint16_t len16 = (uint16_t)(HDR + chunk);
	uint16_t f = (uint16_t)((frag & 0x4000) | (more ? 0x2000 : 0) | ((base + off) / 8));
	out[2] = (uint8_t)(len16 >> 8);
	out[3] = (uint8_t)len16;
	out[6] = (uint8_t)(f >> 8);
	out[7] = (uint8_t)f;
	out[10] = out[11] = 0;
	uint32_t sum = 0;
	for (int i = 0; i < HDR; i += 2)
		sum += ip_get16(out + i);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	uint16_t csum = (uint16_t)~sum;
	out[10] = (uint8_t)(csum >> 8);
	out[11] = (uint8_t)csum;
	return HDR + chunk;
}
