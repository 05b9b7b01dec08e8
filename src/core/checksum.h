/* The Internet checksum (RFC 1071): one's-complement sums over native
 * 32-bit words, vectorised where the CPU allows. */
#ifndef ROAM_CHECKSUM_H
#define ROAM_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

/* A running ones'-complement sum: add bytes (an odd length is padded with a
 * zero byte, so only the last piece may be odd), then fold. */
uint64_t csum_add(uint64_t sum, const void *data, size_t len);
/* Copies len bytes and adds them to sum in the same pass. */
uint64_t csum_copy(void *dst, const void *src, size_t len, uint64_t sum);
/* The folded 16-bit sum, not complemented; the checksum field stores ~it. */
uint16_t csum_fold(uint64_t sum);
/* The TCP/UDP/ICMPv6 pseudo-header of an IPv4 (alen 4) or IPv6 (alen 16)
 * packet. */
uint64_t csum_pseudo(const uint8_t *src, const uint8_t *dst, size_t alen, uint8_t proto, uint32_t l4_len);
/* Stores the checksum of sum (complemented) in a header field whose bytes
 * were zero when sum was taken. */
void csum_store(uint8_t *field, uint64_t sum);

#endif
