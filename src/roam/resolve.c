/* The resolver `roam up` and `roam reresolve` share (resolve.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "resolve.h"

enum {
	RESOLVE_ATTEMPTS = 5,	/* only EAI_AGAIN is retried, a second apart */
};

void endpoint_format(char out[UAPI_ENDPOINT_MAX], const struct ip_prefix *addr, uint16_t port)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(addr->family, addr->addr, a, sizeof(a));
	snprintf(out, UAPI_ENDPOINT_MAX, addr->family == AF_INET6 ? "[%s]:%u" : "%s:%u", a, port);
}

int endpoint_resolve(const char *host, uint16_t port, struct ip_prefix *addr, char out[UAPI_ENDPOINT_MAX],
		     char *err, size_t err_len)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM, .ai_protocol = IPPROTO_UDP };
	struct addrinfo *res = NULL;
	char service[8];
	int ret = EAI_AGAIN;

	snprintf(service, sizeof(service), "%u", port);
	for (int i = 0; i < RESOLVE_ATTEMPTS && ret == EAI_AGAIN; i++) {
		if (i)
			sleep(1);
		ret = getaddrinfo(host, service, &hints, &res);
	}
	if (ret) {
		snprintf(err, err_len, "%s", ret == EAI_SYSTEM ? strerror(errno) : gai_strerror(ret));
		return ret;
	}
	/* The first answer, in the order the system's address selection
	 * (RFC 6724, gai.conf) put them: what wg would pick too. */
	memset(addr, 0, sizeof(*addr));
	addr->family = res->ai_family;
	addr->cidr = res->ai_family == AF_INET ? 32 : 128;
	if (res->ai_family == AF_INET)
		memcpy(addr->addr, &((struct sockaddr_in *)res->ai_addr)->sin_addr, 4);
	else
		memcpy(addr->addr, &((struct sockaddr_in6 *)res->ai_addr)->sin6_addr, 16);
	freeaddrinfo(res);
	endpoint_format(out, addr, port);
	return 0;
}
