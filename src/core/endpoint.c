/* Numeric text for endpoints, the one form used everywhere (UAPI, logs,
 * history): a.b.c.d:port or [v6%scope]:port — never a name, since `wg`
 * parses what we print. */
#include <arpa/inet.h>
#include <stdio.h>

#include "endpoint.h"

size_t endpoint_format(const struct endpoint *ep, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];
	int n = 0;

	if (ep->addr.sa.sa_family == AF_INET && inet_ntop(AF_INET, &ep->addr.in4.sin_addr, ip, sizeof(ip)))
		n = snprintf(buf, len, "%s:%u", ip, endpoint_port(ep));
	else if (ep->addr.sa.sa_family == AF_INET6 && inet_ntop(AF_INET6, &ep->addr.in6.sin6_addr, ip, sizeof(ip)))
		n = ep->addr.in6.sin6_scope_id
			    ? snprintf(buf, len, "[%s%%%u]:%u", ip, (unsigned)ep->addr.in6.sin6_scope_id, endpoint_port(ep))
			    : snprintf(buf, len, "[%s]:%u", ip, endpoint_port(ep));
	else if (len)
		buf[0] = '\0';
	return n > 0 && (size_t)n < len ? (size_t)n : 0;
}
