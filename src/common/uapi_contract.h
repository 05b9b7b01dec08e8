/* What roamd serves and roam asks for over the cross-platform UAPI
 * (docs/protocol.md §7): where the socket is, which names an interface may
 * have, how long a key is, and the roam_* lines of roamd's "get=2" reply.
 * Both sides include this one header, so neither can drift from the other. */
#ifndef ROAM_UAPI_CONTRACT_H
#define ROAM_UAPI_CONTRACT_H

#include <stdbool.h>
#include <stddef.h>

#include "key_encoding.h"	/* KEY_LEN, KEY_HEX_LEN: keys travel as hex */

/* IFNAME's socket is UAPI_SOCKET_DIR "/" IFNAME ".sock", as wireguard-go
 * and wg agree (§7.1). */
#define UAPI_SOCKET_DIR "/var/run/wireguard"

enum {
	UAPI_IFNAME_MAX = 16,		/* IFNAMSIZ, NUL included */
	UAPI_SOCKET_PATH_MAX = 108,	/* sizeof(sockaddr_un.sun_path), NUL included */
};

/* The rule the kernel enforces on a device name (dev_valid_name): 1 to 15
 * bytes, no '/', ':' or whitespace, not "." or "..". A name that passes
 * also stays inside UAPI_SOCKET_DIR as a socket file name. len is the
 * name's length; name need not be NUL-terminated. */
bool uapi_ifname_valid(const char *name, size_t len);

/* ---- the roam_* lines of a "get=2" reply -------------------------------
 *
 * What roamd knows beyond what `wg` shows, for `roam show`, `roam doctor`
 * and `roam metrics`. Stable schema (add keys, never change one):
 *
 * device lines, before the first public_key:
 *   roam_version=1
 *   roam_peers=N
 *   roam_under_load=0|1
 *   roam_drop=REASON:COUNT            one per non-zero cause, all peers
 * peer lines, after the peer's allowed_ip lines:
 *   roam_rx_packets=N, roam_tx_packets=N
 *   roam_has_session=0|1
 *   roam_handshake_attempts=N         initiations since the last success
 *   roam_responses_unconfirmed=N      handshake responses sent since the
 *                                     peer last confirmed a session
 *   roam_last_disallowed_src=ADDR     the inner source of the latest packet
 *                                     dropped as disallowed_src; omitted if none
 *                                     (never link-local: those are link_local_src)
 *   roam_last_receive_age_ms=N        omitted if nothing was ever received
 *   roam_last_handshake_age_ms=N      omitted if never
 *   roam_unanswered_ms=N              since the first data sent after the
 *                                     last authenticated packet received;
 *                                     omitted when nothing is unanswered
 *   roam_drop=REASON:COUNT            one per non-zero cause
 *   roam_path_mtu_origin=O            interface|icmp|local|probe: where the
 *                                     path MTU below came from; "interface"
 *                                     = nothing learnt, the interface's MTU
 *   roam_path_mtu=N                   outer bytes; omitted when none learnt
 *   roam_path_inner_mtu=N             the largest inner packet that fits;
 *                                     omitted when none learnt
 *   roam_path_probe=R                 none|searching|full|smaller|unanswered|
 *                                     no-target: the last path search's result
 *   roam_path_probe_age_ms=N          since that result; omitted if none
 *   roam_path_probes_sent=N           probes sent, all searches
 *   roam_path_probes_answered=N       of which answered
 *   roam_endpoint_changes=N           all time
 *   roam_nat_rebinds=N
 *   roam_nat_rebound_min_idle_ms=N    a NAT forgot the mapping within this
 *   roam_nat_kept_max_idle_ms=N       a NAT kept the mapping at least this
 *   roam_suggested_keepalive=S        seconds; omitted without evidence
 *   roam_history=KIND WALL AGE_MS OLD NEW IDLE_MS
 *                                     oldest first; WALL is sec.nsec since
 *                                     the epoch, OLD/NEW are endpoints or -
 *   roam_endpoint_candidate=EP        one per configured endpoint candidate,
 *                                     in order of preference; none if the
 *                                     peer has no list
 *   roam_endpoint_candidate_index=N   the endpoint's place in that list
 *                                     (0 = preferred); omitted when the
 *                                     endpoint is not one of them (learned
 *                                     from the peer, or no list)
 *   roam_name=HOST:PORT TTL NEXT STATUS [EP...]
 *                                     one per host name roamd follows for
 *                                     the peer, in order: TTL the seconds
 *                                     the last answer is trusted (held
 *                                     between 30 s and 1 h; 0 before any),
 *                                     NEXT the seconds to the next lookup
 *                                     (- while one is in flight), STATUS
 *                                     ok|resolving|failed (the last lookup;
 *                                     the addresses stay), EP the addresses
 *                                     it resolved to (at most 8)
 * Durations are milliseconds, endpoints numeric. The keys are string
 * literals, so a format can be spelled ROAM_KEY_PEERS "=%zu\n". */
#define UAPI_ROAM_VERSION 1

#define ROAM_KEY_VERSION "roam_version"
#define ROAM_KEY_PEERS "roam_peers"
#define ROAM_KEY_UNDER_LOAD "roam_under_load"
/* Handshake messages that reached the Diffie-Hellman, and cookie replies
 * sent instead (device_get_handshake_counts). */
#define ROAM_KEY_HANDSHAKES_COMPUTED "roam_handshakes_computed"
#define ROAM_KEY_COOKIE_REPLIES "roam_cookie_replies"
#define ROAM_KEY_DROP "roam_drop"
#define ROAM_KEY_RX_PACKETS "roam_rx_packets"
#define ROAM_KEY_TX_PACKETS "roam_tx_packets"
#define ROAM_KEY_HAS_SESSION "roam_has_session"
#define ROAM_KEY_HANDSHAKE_ATTEMPTS "roam_handshake_attempts"
#define ROAM_KEY_RESPONSES_UNCONFIRMED "roam_responses_unconfirmed"
#define ROAM_KEY_LAST_DISALLOWED_SRC "roam_last_disallowed_src"
#define ROAM_KEY_LAST_RECEIVE_AGE_MS "roam_last_receive_age_ms"
#define ROAM_KEY_LAST_HANDSHAKE_AGE_MS "roam_last_handshake_age_ms"
#define ROAM_KEY_UNANSWERED_MS "roam_unanswered_ms"
#define ROAM_KEY_ENDPOINT_CHANGES "roam_endpoint_changes"
#define ROAM_KEY_NAT_REBINDS "roam_nat_rebinds"
#define ROAM_KEY_NAT_REBOUND_MIN_IDLE_MS "roam_nat_rebound_min_idle_ms"
#define ROAM_KEY_NAT_KEPT_MAX_IDLE_MS "roam_nat_kept_max_idle_ms"
#define ROAM_KEY_SUGGESTED_KEEPALIVE "roam_suggested_keepalive"
#define ROAM_KEY_HISTORY "roam_history"
#define ROAM_KEY_PATH_MTU_ORIGIN "roam_path_mtu_origin"
#define ROAM_KEY_PATH_MTU "roam_path_mtu"
#define ROAM_KEY_PATH_INNER_MTU "roam_path_inner_mtu"
#define ROAM_KEY_PATH_PROBE "roam_path_probe"
#define ROAM_KEY_PATH_PROBE_AGE_MS "roam_path_probe_age_ms"
#define ROAM_KEY_PATH_PROBES_SENT "roam_path_probes_sent"
#define ROAM_KEY_PATH_PROBES_ANSWERED "roam_path_probes_answered"
#define ROAM_KEY_ENDPOINT_CANDIDATE "roam_endpoint_candidate"
#define ROAM_KEY_ENDPOINT_CANDIDATE_INDEX "roam_endpoint_candidate_index"
#define ROAM_KEY_NAME "roam_name"

/* ---- roamd's events: the "get=3" request ---------------------------------
 *
 *   get=3
 *   roam_events_after=N               the last seq the client has seen
 *                                     (0: from the oldest kept)
 *   <blank line>
 * answered with
 *   roam_event=JSON                   one per event after N, oldest first;
 *                                     the object is docs/events-json.md
 *   roam_events_last=N                the newest seq (0: none yet); less
 *                                     than the cursor: roamd restarted
 *   errno=0
 * wireguard-go closes the connection on the op: no events there. */
#define UAPI_OP_EVENTS "get=3\n"
#define ROAM_KEY_EVENTS_AFTER "roam_events_after"
#define ROAM_KEY_EVENT "roam_event"
#define ROAM_KEY_EVENTS_LAST "roam_events_last"

/* ---- the roam_* lines of a "set=1" request -----------------------------
 *
 * Peer lines `wg` never sends, so a stock tool can never set them by
 * accident; wireguard-go refuses them (errno=-EINVAL), which tells roam up
 * it is not talking to roamd.
 *   roam_replace_endpoint_candidates=true
 *                                     forget the peer's list (then add)
 *   roam_endpoint_candidate=EP        append a numeric endpoint to the list;
 *                                     a duplicate is ignored, more than
 *                                     UAPI_MAX_ENDPOINT_CANDIDATES lines in
 *                                     one peer block fail with -E2BIG
 * The peer's endpoint= is set as usual (to the first candidate, which is
 * what wg-quick would use): handshakes start there. */
#define ROAM_KEY_REPLACE_ENDPOINT_CANDIDATES "roam_replace_endpoint_candidates"
/*   roam_replace_endpoint_names=true  forget the peer's host names (then add)
 *   roam_endpoint_name=HOST:PORT      a host name (or address) roamd resolves
 *                                     itself and follows: its addresses, in
 *                                     the order of these lines, become the
 *                                     peer's candidates; [v6]:port for a
 *                                     literal IPv6 address; at most
 *                                     UAPI_MAX_ENDPOINT_CANDIDATES
 * device line:
 *   roam_resolve_names=true           resolve every peer's names again now
 *                                     (`roam reresolve` against roamd) */
#define ROAM_KEY_REPLACE_ENDPOINT_NAMES "roam_replace_endpoint_names"
#define ROAM_KEY_ENDPOINT_NAME "roam_endpoint_name"
#define ROAM_KEY_RESOLVE_NAMES "roam_resolve_names"
enum { UAPI_MAX_ENDPOINT_CANDIDATES = 16 };
#endif
