/* The WireGuard engine: one device (an interface's identity, its peers,
 * their sessions and timers), driven entirely from outside.
 *
 * It is sans-I/O. The caller hands it datagrams from the network
 * (device_receive), IP packets from the tunnel (device_send_packet), the
 * time (every call takes `now`, monotonic nanoseconds) and timer ticks
 * (device_run_timers at device_next_deadline). It answers through the
 * callbacks in struct device_io: datagrams to send, packets to deliver,
 * events to log. Randomness and the wall clock (for TAI64N and the "latest
 * handshake" shown to users) also come from there, so a test can make a run
 * fully deterministic.
 *
 * Not thread-safe: one device is driven by one thread at a time. */
#ifndef ROAM_DEVICE_H
#define ROAM_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "endpoint.h"
#include "messages.h"

struct device;
struct peer;

/* Why a datagram or packet was dropped. Each has its own counter so an
 * operator can tell an attack from a misconfiguration. */
enum drop_reason {
	DROP_NONE = 0,
	DROP_TRUNCATED,		/* shorter than any message */
	DROP_UNKNOWN_TYPE,	/* type byte or reserved bytes invalid */
	DROP_BAD_SIZE,		/* wrong exact size for a handshake message */
	DROP_NO_IDENTITY,	/* handshake while we have no private key */
	DROP_BAD_MAC1,
	DROP_UNDER_LOAD_RATELIMIT,
	DROP_HANDSHAKE_DECRYPT, /* handshake AEAD or DH failed */
	DROP_UNKNOWN_PEER,	/* initiation from a key we do not know */
	DROP_STALE_TIMESTAMP,	/* initiation replay */
	DROP_INITIATION_FLOOD,	/* more than 50 initiations/s from a peer */
	DROP_UNKNOWN_INDEX,	/* receiver index names nothing of ours */
	DROP_BAD_STATE,		/* response/cookie for no pending handshake */
	DROP_KEY_EXPIRED,	/* data on a keypair past REJECT_AFTER_* */
	DROP_BAD_AUTH,		/* data whose tag does not verify */
	DROP_REPLAY,		/* data counter already seen / too old */
	DROP_BAD_INNER,		/* decrypted packet is not a sane IP packet */
	DROP_DISALLOWED_SRC,	/* inner source not in the peer's AllowedIPs */
	DROP_NO_ROUTE,		/* outgoing: no peer for the destination */
	DROP_NO_ENDPOINT,	/* outgoing: the peer has no endpoint */
	DROP_STAGED_OVERFLOW,	/* outgoing: oldest staged packet pushed out */
	DROP_COOKIE_DECRYPT,	/* cookie reply that does not authenticate */
	/* Outgoing datagrams the host's kernel would not send (counted by the
	 * edge through device_count_drop, by the send's error). */
	DROP_SEND_UNREACHABLE,	/* no route: ENETUNREACH, EHOSTUNREACH, ENETDOWN */
	DROP_SEND_REFUSED,	/* this host's firewall: EPERM, EACCES */
	DROP_SEND_BUFFER_FULL,	/* socket or device queue full: EAGAIN, ENOBUFS */
	DROP_SEND_TOO_BIG,	/* larger than the path takes, even fragmented */
	DROP_SEND_FAILED,	/* any other error */
	/* Outgoing inner packets larger than the peer's path MTU allows, with
	 * DF: answered with ICMP "fragmentation needed" / "packet too big". */
	DROP_PATH_TOO_BIG,
	/* A handshake message that found the edge's queue full (roamd's
	 * handshake_work.c), counted by the edge. */
	DROP_HANDSHAKE_QUEUE_FULL,
	/* A decrypted packet from a link-local source (fe80::/10,
	 * 169.254.0.0/16) outside the peer's AllowedIPs: the peer's tun
	 * interface's own router solicitations and MLD reports. Counted apart
	 * from disallowed_src, which then says only that a tunnel address is
	 * refused (and roam_last_disallowed_src names one). */
	DROP_LINK_LOCAL_SRC,
	DROP_REASON_COUNT,
};
const char *drop_reason_name(enum drop_reason reason);

enum receive_result {
	RECEIVED_DROPPED = 0,	/* see the drop counters */
	RECEIVED_HANDSHAKE,	/* a handshake message was consumed */
	RECEIVED_COOKIE_SENT,	/* under load: answered with a cookie reply */
	RECEIVED_COOKIE,	/* a cookie reply was stored */
	RECEIVED_KEEPALIVE,
	RECEIVED_DATA,		/* an inner packet was delivered */
	RECEIVED_PATH_PROBE,	/* the answer to a path probe, consumed */
};

enum send_result {
	SEND_DROPPED = 0,
	SEND_SENT,		/* encrypted and handed to io->send */
	SEND_STAGED,		/* held until a handshake completes */
};

enum device_event_type {
	EVENT_HANDSHAKE_INITIATION_SENT,
	EVENT_HANDSHAKE_INITIATION_RECEIVED,
	EVENT_HANDSHAKE_RESPONSE_SENT,
	EVENT_HANDSHAKE_COMPLETE,	/* a new keypair is confirmed */
	EVENT_HANDSHAKE_GIVEN_UP,	/* 20 attempts without an answer */
	EVENT_COOKIE_SENT,
	EVENT_COOKIE_RECEIVED,
	EVENT_KEEPALIVE_SENT,
	EVENT_ENDPOINT_CHANGED,		/* old and new are set */
	EVENT_KEYS_ZEROED,		/* 540 s after the last session */
	EVENT_PEER_CREATED,
	EVENT_PEER_REMOVED,
	EVENT_PATH_PROBED,		/* a path search ended: probe_result, path_mtu */
	/* Initiations now go to another candidate (new_endpoint) because the
	 * previous target went unanswered, or to probe the preferred one
	 * (candidate 0). Not a fact about the peer: at most one per
	 * REKEY_TIMEOUT, only on our own timers, never per received packet. */
	EVENT_CANDIDATE_TRIED,
	/* A handshake attempt went unanswered (an initiation for
	 * REKEY_TIMEOUT, or data for KEEPALIVE_TIMEOUT + REKEY_TIMEOUT): the
	 * moment to ask again where the peer is. From our timers only. */
	EVENT_ATTEMPT_UNANSWERED,
	/* An authentic data packet from elsewhere (old_endpoint) arrived
	 * behind newer ones: it was delivered, and the endpoint stays
	 * (new_endpoint). Only when its source differs from the endpoint. */
	EVENT_LATE_PACKET_ELSEWHERE,
};
const char *device_event_name(enum device_event_type type);

struct device_event {
	enum device_event_type type;
	struct peer *peer;
	const struct endpoint *old_endpoint;
	const struct endpoint *new_endpoint;
	uint64_t now;		/* 0 for EVENT_PEER_REMOVED (no clock there) */
	/* For EVENT_ENDPOINT_CHANGED: how long nothing had been received from
	 * the peer before this packet (0 if never) — the NAT-binding evidence. */
	uint64_t idle_before;
	/* For EVENT_PATH_PROBED: the result (enum path_probe_result) and the
	 * path MTU in force after it (0: the interface's). */
	int probe_result;
	unsigned path_mtu;
	/* For EVENT_ENDPOINT_CHANGED and EVENT_CANDIDATE_TRIED: the new
	 * endpoint's place among the configured candidates, -1 if none. */
	int candidate;
	/* For EVENT_CANDIDATE_TRIED: why (old_endpoint is the previous
	 * target, new_endpoint the next one). */
	enum candidate_try {
		CANDIDATE_FAILOVER,	/* the previous target went unanswered */
		CANDIDATE_PROBE_HOME,	/* a look at the preferred one */
		CANDIDATE_BACK,		/* the probe went unanswered: the endpoint again */
		CANDIDATE_RACE,		/* the same initiation over the other family */
	} candidate_why;
};

struct device_io {
	void *ctx;
	/* A datagram for the network. data may be modified by the callee. */
	void (*send)(void *ctx, struct peer *peer, const struct endpoint *to, uint8_t *data, size_t len);
	/* A decrypted, checked inner IP packet for the tunnel interface. */
	void (*deliver)(void *ctx, struct peer *peer, uint8_t *data, size_t len);
	/* Optional: something happened (for logs and history). */
	void (*event)(void *ctx, const struct device_event *event);
	/* Cryptographically secure random bytes. */
	void (*random)(void *ctx, void *buf, size_t len);
	/* Wall-clock nanoseconds since the Unix epoch. */
	uint64_t (*wall_ns)(void *ctx);
};

struct device *device_new(const struct device_io *io);
void device_free(struct device *dev);

/* The interface is up: peers may handshake; those with a persistent
 * keepalive send one at once. Down: every session, handshake, staged packet
 * and timer is dropped (sessions do not survive down/up). */
void device_up(struct device *dev, uint64_t now);
void device_down(struct device *dev);
bool device_is_up(const struct device *dev);

/* Largest inner packet; padding never goes beyond it (0 = unknown). */
void device_set_mtu(struct device *dev, unsigned mtu);

/* NULL or an all-zero key removes the identity. A peer whose public key
 * equals the new public key is removed; every session is invalidated so the
 * next packet starts a handshake under the new identity. */
/* Returns false (and changes nothing) only if the public key cannot be
 * computed (an OpenSSL failure). */
bool device_set_private_key(struct device *dev, const uint8_t key[NOISE_PRIVATE_KEY_LEN], uint64_t now);
bool device_private_key(const struct device *dev, uint8_t key[NOISE_PRIVATE_KEY_LEN]);
bool device_public_key(const struct device *dev, uint8_t key[NOISE_PUBLIC_KEY_LEN]);

/* Under load the device answers handshakes with cookie replies unless they
 * carry a valid mac2, and ratelimits per source. Left alone, it estimates
 * load from a model of the handshake arrival rate (each message 1/capacity
 * s of work). An embedder that measures its real work (roamd: the queue of
 * handshake messages waiting and the time spent on them, handshake_work.c)
 * turns the model off with capacity 0 and reports instead: a backlog of
 * UNDER_LOAD_QUEUE_LEN or more, or device_report_under_load, keeps the
 * device under load for 1 s. */
void device_report_handshake_backlog(struct device *dev, unsigned queued, uint64_t now);
void device_report_under_load(struct device *dev, uint64_t now);
/* How many handshakes a second the embedder can process (default 4000); the
 * load estimate counts arrivals beyond that as a backlog. 0 disables the
 * estimate (only reports count). */
void device_set_handshake_capacity(struct device *dev, unsigned per_second);
/* Handshake messages that got as far as the Diffie-Hellman (initiations and
 * responses consumed or refused by their contents), and cookie replies
 * sent instead, since the device was made: the cost of an attack in work
 * done versus work declined. */
void device_get_handshake_counts(const struct device *dev, uint64_t *computed, uint64_t *cookie_replies);
bool device_is_under_load(const struct device *dev, uint64_t now);

/* Peers. create fails (NULL, *err = -EEXIST/-EINVAL/-ENOMEM) for a
 * duplicate key or our own public key. */
struct peer *device_peer_create(struct device *dev, const uint8_t public_key[NOISE_PUBLIC_KEY_LEN], uint64_t now, int *err);
struct peer *device_peer_lookup(const struct device *dev, const uint8_t public_key[NOISE_PUBLIC_KEY_LEN]);
/* Wipes the peer's keys and frees it. */
void device_peer_remove(struct device *dev, struct peer *peer);
void device_peers_remove_all(struct device *dev);
size_t device_peer_count(const struct device *dev);
/* Peers in creation order. */
struct peer *device_peer_first(const struct device *dev);
struct peer *device_peer_next(const struct peer *peer);

void peer_set_preshared_key(struct peer *peer, const uint8_t psk[NOISE_SYMMETRIC_KEY_LEN]);
void peer_set_endpoint(struct peer *peer, const struct endpoint *ep);
const struct endpoint *peer_endpoint(const struct peer *peer);
/* Forgets the local address replies were sent from (after the port, the
 * fwmark or the host's addresses changed), so routing picks one afresh. */
void peer_forget_source(struct peer *peer);
/* The edge checked the peer's source (checked is the endpoint it looked
 * at) and found it usable: the peer's endpoint.src_checked becomes mark,
 * unless the endpoint changed since. */
void peer_confirm_source(struct peer *peer, const struct endpoint *checked, uint32_t mark);
/* 0 turns it off; turning it on while up sends a keepalive at once. */
void peer_set_persistent_keepalive(struct peer *peer, uint16_t seconds, uint64_t now);

/* AllowedIPs of a peer (family AF_INET/AF_INET6). insert moves a prefix
 * held by another peer to this one. */
int peer_allowedips_insert(struct peer *peer, int family, const uint8_t *addr, uint8_t cidr);
bool peer_allowedips_remove(struct peer *peer, int family, const uint8_t *addr, uint8_t cidr);
void peer_allowedips_clear(struct peer *peer);
typedef bool (*peer_allowedips_fn)(void *ctx, int family, const uint8_t *addr, uint8_t cidr);
void peer_allowedips_walk(const struct peer *peer, peer_allowedips_fn fn, void *ctx);
struct peer *device_route_lookup(const struct device *dev, int family, const uint8_t *addr);

/* Endpoint candidates (candidates.c): a peer reachable at several
 * addresses (a dual-WAN site, an IPv4 and an IPv6 address, a standby server
 * holding the same key), in order of preference. The rules:
 *   - handshake initiations go to the current target: the peer's endpoint,
 *     or, while it goes unanswered, the next candidate in turn. An attempt
 *     counts as unanswered when an initiation had no response for
 *     REKEY_TIMEOUT (whether its retry timer or new data sends the next),
 *     data had no answer for KEEPALIVE_TIMEOUT + REKEY_TIMEOUT (the timer
 *     that starts a new handshake), or the peer initiated again although we
 *     responded to its last initiation, so a dead first address costs about
 *     15 s with traffic flowing. The peer's initiations prove only that it
 *     reaches us: they stop none of these clocks;
 *   - a candidate becomes the endpoint only as any address does: through
 *     an authenticated, fresh packet from it. Trying one changes nothing;
 *   - what the peer sends from an address that cannot receive does not
 *     pull the endpoint back there: while the endpoint in use has answered
 *     (a response, or data from it) within KEEPALIVE_TIMEOUT +
 *     REKEY_TIMEOUT, an initiation from another address, or data from
 *     another candidate, leaves it (docs/roaming.md);
 *   - roaming wins: an endpoint learned from authenticated packets that is
 *     not among the candidates is kept while it answers, and tried first;
 *   - no flapping: while the endpoint is a less preferred candidate, the
 *     most preferred one is probed with a single initiation at most once
 *     per hold-down (CANDIDATE_RETURN_MIN, doubled up to
 *     CANDIDATE_RETURN_MAX each time the preferred one failed again after a
 *     return). It takes over only if it answers; an unanswered probe sends
 *     the retry to the endpoint in use, whose session carries on meanwhile.
 * Duplicates are dropped (the first place counts); more than
 * MAX_ENDPOINT_CANDIDATES is refused with -E2BIG. */
enum { MAX_ENDPOINT_CANDIDATES = 16 };
/* Both address families (RFC 8305 in spirit): when the next candidate is
 * of the other family, the same initiation goes to it too if nothing has
 * answered FAMILY_RACE_DELAY after it left, so a broken family costs 250 ms,
 * not a 5 s retry. The responder takes whichever copy arrives first (the
 * other is a replay of the same timestamp and dropped); its answer, from
 * the family that works, moves the endpoint. Only while the peer is silent:
 * a rekey over a working path races nothing. */
#define FAMILY_RACE_DELAY (250 * NSEC_PER_MSEC)
#define CANDIDATE_RETURN_MIN (30 * NSEC_PER_SEC)
#define CANDIDATE_RETURN_MAX (960 * NSEC_PER_SEC)
/* Appends one (0, or -E2BIG when full, -ENOMEM, -EINVAL for an unset one). */
int peer_add_endpoint_candidate(struct peer *peer, const struct endpoint *ep, uint64_t now);
void peer_clear_endpoint_candidates(struct peer *peer);
/* The whole list anew (a host name now resolves to other addresses):
 * duplicates dropped, cut at MAX_ENDPOINT_CANDIDATES. When the endpoint in
 * use was one of the old list and is in none of the new one, the address
 * moved away from it: unless the peer was heard from within
 * KEEPALIVE_TIMEOUT (a live session wins over DNS), the next initiation
 * goes to the new list's first at once, outside the one-per-REKEY_TIMEOUT
 * rule; only its authenticated answer moves the endpoint. Returns how many
 * were kept. */
size_t peer_replace_endpoint_candidates(struct peer *peer, const struct endpoint *list, size_t n, uint64_t now);
/* The list in order of preference; returns its length. */
size_t peer_get_endpoint_candidates(const struct peer *peer, const struct endpoint **list);
/* The endpoint's place among the candidates, or -1 (none, or learned). */
int peer_endpoint_candidate_index(const struct peer *peer);
/* Where the next handshake initiation goes; NULL if nowhere. */
const struct endpoint *peer_handshake_target(const struct peer *peer);

/* Path MTU (pathmtu.c). The outer path to a peer may carry less than the
 * interface MTU promises (an LTE bearer, a tunnel, PPPoE on the way): the
 * edge reports what it learns, the engine pads to fit, and the edge cuts or
 * refuses inner packets beyond peer_path_inner_limit. A value is forgotten
 * when the endpoint or the local route changes, and after
 * PATH_MTU_LIFETIME, so a path that grew back is used again. */
enum path_mtu_origin {
	PATH_MTU_INTERFACE = 0,	/* nothing learnt: the interface MTU applies */
	PATH_MTU_ICMP,		/* an ICMP error quoting a datagram we sent */
	PATH_MTU_LOCAL,		/* our own outgoing interface is smaller */
	PATH_MTU_PROBE,		/* the largest probe the peer answered */
};
#define PATH_MTU_LIFETIME (600 * NSEC_PER_SEC) /* as the kernel keeps a learnt PMTU */
/* No ICMP report takes a path below these outer sizes: an attacker who can
 * forge ICMP cannot shrink a peer's packets further (576: what every IPv4
 * host must accept, RFC 791; 1280: the IPv6 minimum link MTU, RFC 8200).
 * A PATH_MTU_LOCAL report (this host's kernel refusing a datagram as
 * larger than the route allows) is taken as it is: the kernel enforces it
 * anyway. */
enum { PATH_MTU_FLOOR_V4 = 576, PATH_MTU_FLOOR_V6 = 1280 };
/* Outer bytes around an inner packet: IP + UDP + WireGuard data header and tag. */
enum { PATH_OVERHEAD_V4 = 20 + 8 + 32, PATH_OVERHEAD_V6 = 40 + 8 + 32 };
/* Records a learnt path MTU (outer bytes, clamped to the floor of the
 * endpoint's family). A report only lowers the value, except one from a
 * probe, which is a measurement of the whole path and replaces it. Returns
 * the value in force. */
unsigned peer_set_path_mtu(struct peer *peer, unsigned mtu, enum path_mtu_origin origin, uint64_t now);
/* The value in force (0 = none) and where it came from. */
const char *path_mtu_origin_name(enum path_mtu_origin origin);
unsigned peer_path_mtu(const struct peer *peer, enum path_mtu_origin *origin, uint64_t now);
/* The largest inner packet that fits the peer's path, a multiple of 16 so
 * that padding cannot push it over (0 = no limit beyond the interface MTU). */
unsigned peer_path_inner_limit(const struct peer *peer, uint64_t now);
/* The endpoint or the route to it changed: what was learnt about the old
 * path says nothing about the new one. */
void peer_forget_path_mtu(struct peer *peer);
/* How many peers have a path MTU: while none has, the edge need not look
 * up each packet's peer before handing it over. */
size_t device_path_mtu_peers(const struct device *dev);
/* The peer that a datagram we sent to `to` belongs to, judged by what an
 * ICMP error quotes of it (msg, len: the start of the UDP payload): a data
 * message whose receiver index is one of the peer's sessions and whose
 * counter it has used. NULL when it quotes nothing we sent (a forgery, or
 * too little quoted). Walks the peers: the edge rate-limits its calls. */
struct peer *device_peer_for_quoted_datagram(struct device *dev, const struct endpoint *to, const uint8_t *msg,
					     size_t len);

/* Path probing (pathprobe.c): when no ICMP error tells (routers that filter
 * it: the classic black hole), the engine measures the path itself, in the
 * spirit of RFC 8899. A search sends ICMP echo requests of chosen sizes
 * through the tunnel, each in a data message of exactly the size it tests,
 * and takes the largest one answered (an echo reply, or the peer's "time
 * exceeded": probes carry a hop limit of 1, so they never go beyond the
 * peer) as the path MTU, origin PATH_MTU_PROBE. A search starts at the
 * first large packet after the path was forgotten (a roam), and when large
 * packets have gone unanswered for PATH_PROBE_SILENCE. Off by default. */
void device_set_path_probing(struct device *dev, bool on);
#define PATH_PROBE_SILENCE (1 * NSEC_PER_SEC)
#define PATH_PROBE_ROUND_TIMEOUT (1 * NSEC_PER_SEC)
enum path_probe_result {
	PATH_PROBE_NONE = 0,	/* no search yet */
	PATH_PROBE_SEARCHING,
	PATH_PROBE_FULL,	/* the largest packet the tunnel sends passes */
	PATH_PROBE_SMALLER,	/* found smaller: the path MTU is set */
	PATH_PROBE_UNANSWERED,	/* not even the smallest probe was answered */
	PATH_PROBE_NO_TARGET,	/* nothing sent yet to take addresses from */
};
const char *path_probe_result_name(enum path_probe_result result);
/* The first bytes (IP and transport headers) of the last large inner packet
 * sent to the peer, and its whole length: when the edge learns the path is
 * smaller than that packet, it answers it with "fragmentation needed" as a
 * router would have, so the sender resends at once what the path lost.
 * false if none. */
enum { PATH_LAST_LARGE_QUOTE = 64 };
bool peer_last_large_packet(const struct peer *peer, const uint8_t **hdr, size_t *hdr_len, size_t *total);
/* True while io->send is handed a path probe: the embedder must send it
 * whole (with DF) or not at all, never fragmented. */
bool device_sending_path_probe(const struct device *dev);
struct path_probe_info {
	enum path_probe_result result;	/* the last search's, or SEARCHING */
	uint64_t result_at;		/* monotonic; 0 = never */
	unsigned largest_answered;	/* inner bytes, in the last search */
	uint32_t searches, probes_sent, answers;
};
void peer_get_path_probe_info(const struct peer *peer, struct path_probe_info *info);
/* The routes changed: every peer's path may be another one now (forgets
 * what was learnt; the next large packet starts a search). */
void device_forget_paths(struct device *dev);

struct peer_info {
	uint8_t public_key[NOISE_PUBLIC_KEY_LEN];
	struct endpoint endpoint;	/* unset if unknown */
	uint16_t persistent_keepalive;
	uint64_t last_handshake_wall_ns; /* 0 = never */
	uint64_t last_handshake_mono;	 /* 0 = never */
	uint64_t last_receive_mono;	 /* 0 = never */
	uint64_t unanswered_since_mono;	 /* first data sent since the last receive; 0 = none */
	uint64_t rx_bytes, tx_bytes;	 /* every datagram, handshakes included */
	uint64_t rx_packets, tx_packets;
	uint64_t drops[DROP_REASON_COUNT];
	uint64_t handshake_attempts;	/* initiations sent since the last success */
	uint64_t responses_unconfirmed;	/* responses sent since the peer last confirmed a session */
	int last_disallowed_family;	/* AF_INET(6) of the latest disallowed_src drop; 0 none */
	uint8_t last_disallowed_src[16];	/* its inner source address */
	bool has_current_keypair;
};
/* No secret in here: peer_info is copied around for logs, metrics and
 * netwatch. The pre-shared key has its own accessor (UAPI get only); the
 * caller wipes what it got. false if the peer has none (psk all zeros). */
void peer_get_info(const struct peer *peer, struct peer_info *info);
bool peer_get_preshared_key(const struct peer *peer, uint8_t psk[NOISE_SYMMETRIC_KEY_LEN]);
/* Roaming history and NAT evidence (history.h); NULL if nothing yet. */
struct peer_history;
const struct peer_history *peer_get_history(const struct peer *peer);
/* An opaque per-peer slot for the embedder (e.g. its history record). */
void peer_set_user(struct peer *peer, void *user);
void *peer_user(const struct peer *peer);

/* Drops the device could not attribute to a peer, and all drops in sum. */
void device_get_drops(const struct device *dev, uint64_t drops[DROP_REASON_COUNT]);
/* Counts a drop the edge saw (a send the kernel refused) for the device
 * and, if peer is not NULL, for the peer. */
void device_count_drop(struct device *dev, struct peer *peer, enum drop_reason reason);

/* A datagram from the network. buf is decrypted in place (a data message's
 * inner packet is delivered from buf + 16). */
enum receive_result device_receive(struct device *dev, const struct endpoint *from, uint8_t *buf, size_t len, uint64_t now);
/* The same for an initiation, in two steps, for an embedder that does its
 * Diffie-Hellman on another thread (noise_open_initiation, noise.h):
 * device_admit_initiation makes the checks that come before the DH (size,
 * identity, mac1; under load the rate limit and mac2, or a cookie reply
 * sent instead) and returns true when the DH is due;
 * device_receive_opened_initiation finishes from the opening as
 * device_receive would have (a response is sent). Between the two the
 * device may change: a key change refuses the opening. */
struct noise_initiation_opening;
struct noise_response_making;
bool device_admit_initiation(struct device *dev, const struct endpoint *from, uint8_t *buf, size_t len,
			     uint64_t now);
/* With `later` NULL the response is made and sent at once; else it is only
 * prepared there (later->due), for the embedder to compute
 * (noise_make_response, on any thread) and hand to
 * device_send_made_response, which sends it if the peer still holds that
 * initiation (else it counts DROP_BAD_STATE and returns false). */
enum receive_result device_receive_opened_initiation(struct device *dev, const struct endpoint *from,
						     const uint8_t *buf, size_t len,
						     const struct noise_initiation_opening *opening, uint64_t now,
						     struct noise_response_making *later);
bool device_send_made_response(struct device *dev, const struct noise_response_making *made, uint64_t now);

/* An IP packet from the tunnel. pkt must have MESSAGE_DATA_HEADROOM bytes
 * before it and MESSAGE_DATA_TAILROOM after it that the device may write:
 * the packet is encrypted in place. *drop says why on SEND_DROPPED and
 * *peer_out names the peer chosen (NULL if none), so the caller can answer
 * DROP_NO_ROUTE / DROP_NO_ENDPOINT with an ICMP unreachable. */
enum send_result device_send_packet(struct device *dev, uint8_t *pkt, size_t len, uint64_t now,
				    enum drop_reason *drop, struct peer **peer_out);

/* The same for a packet whose peer the caller already looked up with
 * device_route_lookup (for its destination): one lookup, not two. */
enum send_result peer_send_packet(struct peer *peer, uint8_t *pkt, size_t len, uint64_t now, enum drop_reason *drop);

/* Sends a keepalive to the peer now (used after a local network change so
 * the far side learns our new address at once). Starts a handshake if
 * there is no usable session. */
void peer_send_keepalive_now(struct peer *peer, uint64_t now);

/* The earliest time device_run_timers has work (UINT64_MAX if none). */
uint64_t device_next_deadline(const struct device *dev);
void device_run_timers(struct device *dev, uint64_t now);

#endif
