/* IPv4 fragmentation, as a router does it (RFC 791 §2.3, §3.2): for inner
 * packets without DF that the peer's path cannot carry whole (pathmtu.h).
 * Fragmenting the inner packet, not the outer datagram, keeps every outer
 * datagram within the path, so a NAT that drops fragments still passes
 * them; the peer's host reassembles. */
#ifndef ROAMD_FRAGMENT_H
#define ROAMD_FRAGMENT_H

#include <stddef.h>
#include <stdint.h>

/* The fragment of pkt (len bytes, a 20-byte header without options) that
 * starts at payload offset off and carries at most max_payload bytes
 * (rounded down to a multiple of 8 unless it is the last), written to out
 * with its length, offset, "more fragments" flag and header checksum set.
 * A packet that is itself a fragment keeps its offset and, on its last
 * piece, its "more fragments" flag. Returns the fragment's length, 0 once
 * off is past the end, or always if the packet's offset and length pass
 * the largest datagram (65,535 bytes), which nobody could reassemble. */
size_t ip4_fragment(const uint8_t *pkt, size_t len, size_t off, size_t max_payload, uint8_t *out);

#endif
