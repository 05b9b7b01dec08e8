/* Where a peer is: the remote UDP address, plus the local address its last
 * packet arrived on so replies leave from the same address ("sticky
 * source", needed by multi-homed servers). Plain data: the core never
 * opens a socket, it only compares and copies these. */
#ifndef ROAM_ENDPOINT_H
#define ROAM_ENDPOINT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

struct endpoint {
	union {
		struct sockaddr sa;
		struct sockaddr_in in4;
		struct sockaddr_in6 in6;
	} addr;
	/* Local source; src_family 0 = let the kernel choose. */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} src;
	uint32_t src_ifindex;
	sa_family_t src_family;
	/* The edge's mark on the source: the routing generation under which
	 * it last confirmed that packets from src towards addr leave by
	 * src_ifindex (0 = not confirmed). The core never reads it; it clears
	 * it whenever the source changes, so a new source is checked before
	 * it is used. */
	uint32_t src_checked;
};

static inline bool endpoint_is_set(const struct endpoint *ep)
{
	return ep->addr.sa.sa_family == AF_INET || ep->addr.sa.sa_family == AF_INET6;
}

/* Same remote address and port (the local source is not part of identity). */
static inline bool endpoint_same_remote(const struct endpoint *a, const struct endpoint *b)
{
	if (a->addr.sa.sa_family != b->addr.sa.sa_family)
		return false;
	if (a->addr.sa.sa_family == AF_INET)
		return a->addr.in4.sin_port == b->addr.in4.sin_port &&
		       a->addr.in4.sin_addr.s_addr == b->addr.in4.sin_addr.s_addr;
	if (a->addr.sa.sa_family == AF_INET6)
		return a->addr.in6.sin6_port == b->addr.in6.sin6_port &&
		       a->addr.in6.sin6_scope_id == b->addr.in6.sin6_scope_id &&
		       memcmp(&a->addr.in6.sin6_addr, &b->addr.in6.sin6_addr, 16) == 0;
	return true;
}

static inline bool endpoint_same_source(const struct endpoint *a, const struct endpoint *b)
{
	if (a->src_family != b->src_family || a->src_ifindex != b->src_ifindex)
		return false;
	if (a->src_family == AF_INET)
		return a->src.v4.s_addr == b->src.v4.s_addr;
	if (a->src_family == AF_INET6)
		return memcmp(&a->src.v6, &b->src.v6, 16) == 0;
	return true;
}

/* The remote address bytes (4 or 16) and their length, for cookies and the
 * ratelimiter. */
static inline const uint8_t *endpoint_addr_bytes(const struct endpoint *ep, size_t *len)
{
	if (ep->addr.sa.sa_family == AF_INET6) {
		*len = 16;
		return ep->addr.in6.sin6_addr.s6_addr;
	}
	*len = 4;
	return (const uint8_t *)&ep->addr.in4.sin_addr.s_addr;
}

static inline uint16_t endpoint_port(const struct endpoint *ep)
{
	return ntohs(ep->addr.sa.sa_family == AF_INET6 ? ep->addr.in6.sin6_port : ep->addr.in4.sin_port);
}

/* Fills an endpoint from a numeric address; family AF_INET/AF_INET6, port in
 * host order. */
static inline void endpoint_from_bytes(struct endpoint *ep, int family, const uint8_t *addr, uint16_t port)
{
	memset(ep, 0, sizeof(*ep));
	if (family == AF_INET) {
		ep->addr.in4.sin_family = AF_INET;
		ep->addr.in4.sin_port = htons(port);
		memcpy(&ep->addr.in4.sin_addr, addr, 4);
	} else {
		ep->addr.in6.sin6_family = AF_INET6;
		ep->addr.in6.sin6_port = htons(port);
		memcpy(&ep->addr.in6.sin6_addr, addr, 16);
	}
}

/* Longest text endpoint_format writes: "[" v6 "%" scope "]:" port, NUL. */
#define ENDPOINT_TEXT_LEN (1 + 46 + 1 + 10 + 2 + 5 + 1)
/* Writes the numeric form; returns its length, or 0 (and "") if unset. */
size_t endpoint_format(const struct endpoint *ep, char *buf, size_t len);

#endif
