/* What roamd keeps of one resolver answer (names_answer.c).
 *
 * A pure step between c-ares and the peer's endpoint candidates, apart
 * from the event loop so that tests/fuzz/fuzz_dns.c can drive it with
 * answers parsed from arbitrary bytes: the addresses, in the answer's
 * order, without repeats and at most NAMES_MAX_ADDRS of them, and the
 * lowest TTL among them held between NAMES_TTL_MIN and NAMES_TTL_MAX. */
#ifndef ROAMD_NAMES_ANSWER_H
#define ROAMD_NAMES_ANSWER_H

#include <stdint.h>

#include "endpoint.h"
#include "names.h"

struct ares_addrinfo;

struct names_answer {
	struct endpoint addrs[NAMES_MAX_ADDRS];
	unsigned n;		/* kept: distinct, at most NAMES_MAX_ADDRS */
	unsigned seen;		/* IPv4 and IPv6 addresses in the answer */
	int ttl;		/* the lowest, in seconds (-1: none) */
	uint64_t ttl_ns;	/* when to ask again: ttl, held in bounds */
};

/* res may be NULL or hold no address (then n == 0, ttl_ns ==
 * NAMES_TTL_MIN); every endpoint gets port. */
void names_answer_take(const struct ares_addrinfo *res, uint16_t port, struct names_answer *out);

#endif
