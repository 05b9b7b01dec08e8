/* The cross-platform UAPI (docs/protocol.md §7): what `wg` says over
 * /var/run/wireguard/IFNAME.sock, turned into device configuration.
 *
 * Two layers:
 * - uapi_get / uapi_set: one whole request against a device. set is a
 *   transaction: every line is parsed and validated, the listen port is
 *   bound, and only then is anything applied; any error leaves the running
 *   configuration exactly as it was.
 * - struct uapi_conn: one client connection's byte stream, split into
 *   requests, with bounded buffering. It never blocks and never reads a
 *   socket itself: the event loop feeds it bytes and drains its output. */
#ifndef ROAM_UAPI_H
#define ROAM_UAPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "device.h"

/* What the daemon owns that the UAPI can change or must report. */
struct uapi_buf;

struct uapi_host {
	void *ctx;
	/* Prepares sockets bound to port (0 = any) and reports the port bound,
	 * without giving up the current ones: 0 or -errno (-EADDRINUSE). */
	int (*prepare_listen_port)(void *ctx, uint16_t port, uint16_t *bound);
	/* Switches to the prepared sockets, or throws them away. */
	void (*commit_listen_port)(void *ctx, bool commit);
	uint16_t (*listen_port)(void *ctx);
	/* Applies SO_MARK to the sockets: 0 or -errno. */
	int (*set_fwmark)(void *ctx, uint32_t mark);
	uint32_t (*fwmark)(void *ctx);
	/* Monotonic ns, for the device calls that need `now`. */
	uint64_t (*now)(void *ctx);
	/* Peers' host names (roamd's names.h); NULL: refused with -ENOTSUP. */
	void (*clear_peer_names)(void *ctx, struct peer *peer);
	int (*add_peer_name)(void *ctx, struct peer *peer, const char *host, size_t host_len, uint16_t port);
	void (*resolve_names)(void *ctx);
	/* get=2: the peer's host names as roam_name lines (optional). */
	void (*put_peer_names)(void *ctx, const struct peer *peer, uint64_t now, struct uapi_buf *out);
	/* The events after seq `after` (events.h); NULL: -ENOTSUP. */
	void (*put_events)(void *ctx, uint64_t after, struct uapi_buf *out);
};

struct uapi_buf {
	char *data;
	size_t len, cap;
};
/* Appends; a failed growth drops everything and ignores every later
 * append, so a reply missing a line can never go out (uapi_buf.c). */
void uapi_buf_printf(struct uapi_buf *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The pieces of a get reply's many lines, without printf's format
 * parsing (a reply of 100,000 peers is some 2 million lines): n bytes of
 * s; "key=V\n" with V in decimal; and room for n bytes that the caller
 * writes itself (NULL once poisoned), so a key's hex form is made in
 * place and never sits anywhere else. */
void uapi_buf_put(struct uapi_buf *buf, const char *s, size_t n);
void uapi_buf_put_number(struct uapi_buf *buf, const char *key, uint64_t v);
char *uapi_buf_append(struct uapi_buf *buf, size_t n);
/* Room for bytes more at once: a reply of 100,000 peers (40 MB) grown by
 * doubling would be copied and wiped some twenty times. */
void uapi_buf_reserve(struct uapi_buf *buf, size_t bytes);
/* An append failed: the contents are gone. */
bool uapi_buf_poisoned(const struct uapi_buf *buf);
void uapi_buf_free(struct uapi_buf *buf);

/* Appends "key=value" lines then "errno=0\n\n". With roam set (the "get=2"
 * op), roam_* lines follow the standard ones (uapi_roam.c); plain "get=1"
 * stays byte-for-byte what wireguard-go answers. */
void uapi_get(struct device *dev, const struct uapi_host *host, bool roam, struct uapi_buf *out);
/* The roam_* extension lines (schema in src/common/uapi_contract.h). */
void uapi_put_roam_device(const struct device *dev, uint64_t now, struct uapi_buf *out);
void uapi_put_roam_peer(const struct peer *peer, const struct peer_info *info, uint64_t now, struct uapi_buf *out);
/* Our "get=3" op (events): body is its lines up to the blank line, today
 * "roam_events_after=N" (0 or absent: every event kept). Appends the
 * events after N, "roam_events_last=N", then "errno=0\n\n"; -EINVAL for
 * any other line. */
void uapi_get_events(const struct uapi_host *host, const char *body, size_t len, struct uapi_buf *out);
/* body: the lines after "set=1\n" up to (not including) the blank line.
 * Returns 0 or a negative errno (the value `wg` expects on the errno line). */
int uapi_set(struct device *dev, const struct uapi_host *host, const char *body, size_t len);

/* Largest request accepted; beyond it the connection gets an error and is
 * closed, so a client that never ends its request cannot exhaust memory. */
#define UAPI_MAX_REQUEST (64u << 20)

struct uapi_conn;
struct uapi_conn *uapi_conn_new(struct device *dev, const struct uapi_host *host);
void uapi_conn_free(struct uapi_conn *conn);
/* Feeds received bytes; complete requests are answered into the output.
 * Returns false when the connection must be closed (protocol violation,
 * oversized request) once the pending output is flushed. */
bool uapi_conn_feed(struct uapi_conn *conn, const char *data, size_t len);
/* Output waiting to be written; mark n bytes as written. */
const char *uapi_conn_output(const struct uapi_conn *conn, size_t *len);
void uapi_conn_consume_output(struct uapi_conn *conn, size_t n);
/* Bytes the connection holds in its buffers now (for a budget across all). */
size_t uapi_conn_memory(const struct uapi_conn *conn);
/* The most its buffers may hold while a set request's buffer grows, the old
 * block and the new one counted together (what the others leave of a
 * budget across all). A request that needs more closes the connection:
 * uapi_conn_feed returns false, and uapi_conn_over_budget says why. */
void uapi_conn_limit_memory(struct uapi_conn *conn, size_t limit);
bool uapi_conn_over_budget(const struct uapi_conn *conn);

#endif
