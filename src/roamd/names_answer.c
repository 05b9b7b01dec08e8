/* What roamd keeps of one resolver answer (names_answer.h). */
#include <ares.h>
#include <netinet/in.h>
#include <string.h>

#include "names_answer.h"

void names_answer_take(const struct ares_addrinfo *res, uint16_t port, struct names_answer *out)
{
	memset(out, 0, sizeof(*out));
	out->ttl = -1;
	for (const struct ares_addrinfo_node *node = res ? res->nodes : NULL; node; node = node->ai_next) {
		/* c-ares fills ai_addr to match ai_family; anything else
		 * (or a node without an address) is not ours to read. */
		if (!node->ai_addr || (node->ai_family != AF_INET && node->ai_family != AF_INET6))
			continue;
		/* c-ares keeps the 32-bit TTL in an int: one with its top
		 * bit set comes out negative, and means 0 (RFC 2181, 8). */
		int ttl = node->ai_ttl < 0 ? 0 : node->ai_ttl;
		if (!out->seen++ || ttl < out->ttl)
			out->ttl = ttl;
		/* Counted but not kept: a record may hold a hundred
		 * addresses, the candidates are few. */
		if (out->n == NAMES_MAX_ADDRS)
			continue;
		struct endpoint ep;
		if (node->ai_family == AF_INET)
			endpoint_from_bytes(&ep, AF_INET,
					    (const uint8_t *)&((const struct sockaddr_in *)node->ai_addr)->sin_addr, port);
		else
			endpoint_from_bytes(&ep, AF_INET6,
					    ((const struct sockaddr_in6 *)node->ai_addr)->sin6_addr.s6_addr, port);
		bool dup = false;
		for (unsigned k = 0; k < out->n; k++)
			dup |= endpoint_same_remote(&out->addrs[k], &ep);
		if (!dup)
			out->addrs[out->n++] = ep;
	}
	/* A TTL of 0 (or none) would ask again at every turn of the loop;
	 * a huge one would keep a moved peer's old address for days. */
	uint64_t ttl_ns = out->ttl > 0 ? (uint64_t)out->ttl * NSEC_PER_SEC : 0;
	if (ttl_ns < NAMES_TTL_MIN)
		ttl_ns = NAMES_TTL_MIN;
	if (ttl_ns > NAMES_TTL_MAX)
		ttl_ns = NAMES_TTL_MAX;
	out->ttl_ns = ttl_ns;
}
