/* Host name endpoints. The daemon only takes numeric endpoints (as every
 * WireGuard daemon does), so `roam up` resolves a name before it talks to
 * roamd and keeps the name in its ledger; `roam reresolve` resolves it
 * again later, for a peer whose address has moved (a home server behind a
 * dynamic address). One resolver serves both. */
#ifndef ROAM_RESOLVE_H
#define ROAM_RESOLVE_H

#include <stdint.h>

#include "ip_prefix.h"
#include "uapi_client.h"

/* host:port to an address and its UAPI text ("a.b.c.d:port" or
 * "[v6]:port"). Temporary failures (EAI_AGAIN) are retried a few times a
 * second apart. 0, or a getaddrinfo error with its text in err. */
int endpoint_resolve(const char *host, uint16_t port, struct ip_prefix *addr, char out[UAPI_ENDPOINT_MAX],
		     char *err, size_t err_len);
/* The UAPI text of a numeric address and port. */
void endpoint_format(char out[UAPI_ENDPOINT_MAX], const struct ip_prefix *addr, uint16_t port);

#endif
