/* The IPv4, IPv6, TCP and UDP header fields that roam reads or writes, by
 * name instead of by byte offset (RFC 791, RFC 8200, RFC 9293, RFC 768).
 * Offsets are from the start of their own header; multi-byte fields are
 * big-endian on the wire. Only what the engine, the daemon's ICMP and
 * offload code and roam's probes use is here. */
#ifndef ROAM_IP_HEADER_H
#define ROAM_IP_HEADER_H

#include <stddef.h>
#include <stdint.h>

enum {
	/* Both versions: the version is the high nibble of the first byte. */
	IP_VERSION_BYTE = 0,

	/* IPv4 */
	IP4_HDR_LEN = 20,		/* without options; IHL says the real one */
	IP4_TOS = 1,			/* DSCP and ECN */
	IP4_TOTAL_LEN = 2,		/* 16 bits, header included */
	IP4_ID = 4,
	IP4_FRAG = 6,			/* 16 bits: flags (DF 0x4000, MF 0x2000) and offset */
	IP4_DF = 0x40,			/* in the byte at IP4_FRAG */
	IP4_TTL = 8,
	IP4_PROTO = 9,
	IP4_CSUM = 10,
	IP4_SRC = 12,
	IP4_DST = 16,
	IP4_ADDR_LEN = 4,

	/* IPv6 */
	IP6_HDR_LEN = 40,
	IP6_PAYLOAD_LEN = 4,		/* 16 bits, after the fixed header */
	IP6_NEXT_HDR = 6,
	IP6_HOP_LIMIT = 7,
	IP6_SRC = 8,
	IP6_DST = 24,
	IP6_ADDR_LEN = 16,

	/* TCP */
	TCP_HDR_LEN = 20,		/* without options; the data offset says the real one */
	TCP_SEQ = 4,
	TCP_ACK_SEQ = 8,
	TCP_DATA_OFF = 12,		/* high nibble: header length in 32-bit words */
	TCP_FLAGS = 13,		/* the bits below */
	TCP_WINDOW = 14,
	TCP_CSUM = 16,
	TCP_FIN = 0x01,
	TCP_SYN = 0x02,
	TCP_RST = 0x04,
	TCP_PSH = 0x08,
	TCP_ACK = 0x10,
	TCP_CWR = 0x80,

	/* UDP */
	UDP_HDR_LEN = 8,
	UDP_SPORT = 0,
	UDP_DPORT = 2,
	UDP_LEN = 4,
	UDP_CSUM = 6,
};

/* Header fields are big-endian: read and written byte by byte, so any
 * alignment will do. */
static inline uint16_t ip_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t ip_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void ip_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void ip_put32(uint8_t *p, uint32_t v)
{
	ip_put16(p, (uint16_t)(v >> 16));
	ip_put16(p + 2, (uint16_t)v);
}

/* 4 or 6 (or anything else for a packet that is neither). */
static inline unsigned ip_version(const uint8_t *pkt)
{
	return pkt[IP_VERSION_BYTE] >> 4;
}

/* IPv4 header length from IHL, options included. */
static inline size_t ip4_header_len(const uint8_t *pkt)
{
	return (size_t)(pkt[IP_VERSION_BYTE] & 0x0f) * 4;
}

/* TCP header length from the data offset, options included. */
static inline size_t tcp_header_len(const uint8_t *tcp)
{
	return (size_t)(tcp[TCP_DATA_OFF] >> 4) * 4;
}

#endif
