/* Per-source-address token bucket for handshake messages under load
 * (docs/protocol.md §3): 20 packets a second, burst 5. IPv4 sources are keyed by
 * the full address, IPv6 by the /64 (as the kernel does), since one host
 * may own a whole /64. Memory is bounded: a fixed table whose idle entries
 * (1 s) are reclaimed; when it is full, a new source shares a bucket per
 * IPv4 /24 or IPv6 /48 in a second table of the same size, and only when
 * that one is full too are new sources refused. */
#ifndef ROAM_RATELIMITER_H
#define ROAM_RATELIMITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ratelimiter;

/* capacity: the most sources tracked at once; wide_capacity: the most /24s
 * and /48s (both rounded up to a power of 2; 0: no second table, new
 * sources are refused when the first is full). */
struct ratelimiter *ratelimiter_new(size_t capacity, size_t wide_capacity, uint64_t hash_seed);
void ratelimiter_free(struct ratelimiter *rl);
/* family AF_INET (4-byte addr) or AF_INET6 (16-byte addr); now in ns on the
 * monotonic clock. */
bool ratelimiter_allow(struct ratelimiter *rl, int family, const uint8_t *addr, uint64_t now);
/* Drops entries idle for more than a second; cheap enough to call on every
 * timer tick. */
void ratelimiter_gc(struct ratelimiter *rl, uint64_t now);

#endif
