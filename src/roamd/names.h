/* Peers' host names, followed by roamd itself (names.c).
 *
 * A peer configured by name (roam_endpoint_name=host:port, in order of
 * preference, literal addresses allowed among them) gets as its endpoint
 * candidates the addresses its names resolve to, in the same order. roamd
 * resolves them with c-ares inside its event loop, never blocking it: at
 * once when they are set, again when an answer's TTL runs out (held
 * between NAMES_TTL_MIN and NAMES_TTL_MAX), when a handshake attempt goes
 * unanswered, after a network change, and when `roam reresolve` asks. An
 * answer that no longer holds the endpoint in use sends the next
 * handshake to the new address at once; only the peer's authenticated
 * answer moves the endpoint (src/core/device.h, "Endpoint candidates").
 * A failed or silent lookup keeps the addresses already known. */
#ifndef ROAMD_NAMES_H
#define ROAMD_NAMES_H

#include <stdbool.h>
#include <stdint.h>

#include "messages.h"

struct daemon;
struct peer;
struct device_event;
struct uapi_buf;

#define NAMES_TTL_MIN (30 * NSEC_PER_SEC)
#define NAMES_TTL_MAX (3600 * NSEC_PER_SEC)
/* No name is asked again sooner than this, whatever asks for it. */
#define NAMES_MIN_INTERVAL (5 * NSEC_PER_SEC)
enum {
	NAMES_MAX_PER_PEER = 16,
	NAMES_MAX_ADDRS = 8,	/* kept of one answer (a record may hold 100) */
	NAMES_HOST_MAX = 253,
};

/* 0, or -errno with a reason (no resolver: names are refused, the rest of
 * roamd works). Reads /etc/resolv.conf: before the sandbox. */
int names_init(struct daemon *d, char *err, size_t err_len);
void names_free(struct daemon *d);

/* UAPI (through struct uapi_host): forget a peer's names; add one
 * (host is not NUL-terminated). 0 or -errno (-E2BIG, -EINVAL, -ENOMEM,
 * -ENOTSUP without a resolver). */
void names_clear_peer(void *ctx, struct peer *peer);
int names_add_peer(void *ctx, struct peer *peer, const char *host, size_t host_len, uint16_t port);
/* Every name again now (roam reresolve; a network change). */
void names_refresh_all(void *ctx);

/* get=2 (struct uapi_host.put_peer_names): a roam_name line per host name
 * of the peer (uapi_contract.h). */
void names_put_peer(void *ctx, const struct peer *peer, uint64_t now, struct uapi_buf *out);

/* The loop: a resolver fd is ready (slot: the watch's obj); the earliest
 * deadline; timers due. */
void names_fd_event(struct daemon *d, void *slot, uint32_t events);
uint64_t names_next_deadline(struct daemon *d);
void names_run(struct daemon *d, uint64_t now);
/* The engine's events: an unanswered attempt asks its peer's names again. */
void names_on_device_event(struct daemon *d, const struct device_event *ev);


#endif
