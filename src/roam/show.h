/* roam show: what `wg show` prints, plus what roamd knows about each peer
 * (handshake verdict, endpoint history, NAT evidence, packets and drops),
 * as text or as the JSON document described in docs/show-json.md. The
 * verdict and the renderers are here for roam doctor to reuse. */
#ifndef ROAM_SHOW_H
#define ROAM_SHOW_H

#include <stdint.h>
#include <stdio.h>

#include "uapi_client.h"

enum handshake_verdict {
	HANDSHAKE_NEVER,
	HANDSHAKE_FRESH,	/* younger than REJECT_AFTER_TIME (3 min): the session is usable */
	HANDSHAKE_STALE,	/* older: no session can be current without a new one */
};

const char *handshake_verdict_name(enum handshake_verdict verdict);
/* now_ms: Unix time in ms, used only when the daemon gives no age of its
 * own (wireguard-go). *age_ms is set unless the verdict is NEVER. */
enum handshake_verdict peer_handshake_verdict(const struct uapi_peer *peer, uint64_t now_ms, uint64_t *age_ms);

/* Whether the peer is there, from roamd's figures (extended replies only):
 *   alive  an authenticated packet in the last 15 s (KEEPALIVE_TIMEOUT +
 *          REKEY_TIMEOUT), or a fresh session with no handshake attempt
 *          outstanding;
 *   dead   two or more handshake attempts since the last success (the
 *          first went unanswered for 5 s, and so far its retry too);
 *   stale  the rest: no session and not trying (idle), or one attempt in
 *          flight. */
enum peer_liveness { LIVENESS_ALIVE, LIVENESS_STALE, LIVENESS_DEAD };
const char *peer_liveness_name(enum peer_liveness liveness);
enum peer_liveness peer_liveness_of(const struct uapi_peer *peer, uint64_t now_ms);

/* Unix time now, in ms: the now_ms the functions here take. */
uint64_t wall_clock_ms(void);

/* "1 day, 2 hours, 3 seconds" as wg prints it; "0 seconds" for 0. */
void format_duration(char *buf, size_t len, uint64_t seconds);
/* "1.50 KiB", as wg prints transfer figures. */
void format_bytes(char *buf, size_t len, uint64_t bytes);

void show_text(FILE *f, const struct uapi_device *dev, uint64_t now_ms);
/* The whole document for devs[0..n). */
void show_json(FILE *f, const struct uapi_device *devs, size_t n, uint64_t now_ms);

#endif
