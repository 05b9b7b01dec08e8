/* A peer as the engine sees it. Internal to src/core: the outside world
 * holds only opaque struct peer pointers and uses device.h. */
#ifndef ROAM_PEER_H
#define ROAM_PEER_H

#include "allowedips.h"
#include "cookie.h"
#include "device.h"
#include "history.h"
#include "noise.h"
#include "timers.h"

/* Path probing (pathprobe.c): a search for the largest packet the path
 * carries, in rounds of up to PATH_PROBE_RUNGS probes of different sizes. */
enum { PATH_PROBE_RUNGS = 6 };
struct path_probe {
	/* What the tunnel last carried to the peer, per family: a probe goes
	 * from such a source (an address the peer routes back to us) to such
	 * a destination (one the peer answers for or forwards). */
	uint8_t src4[4], dst4[4], src6[16], dst6[16];
	bool have4, have6;
	/* The headers of the last large packet sent (and its length): when
	 * the path turns out smaller, its sender is told at once (device.h,
	 * peer_last_large_packet) rather than waiting for its timer. */
	uint8_t last_large[PATH_LAST_LARGE_QUOTE];
	uint8_t last_large_len;
	uint16_t last_large_total;
	/* The first packet beyond the base size sent since the peer was last
	 * heard from (0 = none): the sign of a black hole. */
	uint64_t silent_since;
	bool path_changed;	/* forgotten: search at the next large packet */
	bool search_wanted;	/* the timer starts one */
	/* The search in flight (round_deadline 0 = none). */
	uint64_t round_deadline, next_search;
	uint16_t ident;
	uint8_t round, rungs, answered;	/* answered: one bit per rung */
	uint16_t size[PATH_PROBE_RUNGS];	/* inner bytes */
	uint16_t good, bad;	/* inner lengths that passed / were lost (0: none) */
	bool bad_confirmed;	/* bad was lost twice: not a rate-limited answer */
	uint8_t quiet_searches;	/* searches in a row silence started that changed nothing */
	bool by_silence;	/* the search in flight was started by silence */
	bool changed;		/* ... and has changed the value */
	bool answers_limited;	/* the last answer was an ICMP error ("time
				 * exceeded"), which hosts rate-limit; echo
				 * replies are not */
	/* What the peer's ICMP limiter may still answer, as we model it: a
	 * bucket of PROBE_CREDIT_MAX, a probe a second (credit_at 0: full). */
	uint64_t credit_ns, credit_at;
	uint8_t family;		/* AF_INET / AF_INET6 of target and source */
	uint8_t target[16], source[16];
	/* What operators see. */
	uint8_t last_result;	/* enum path_probe_result */
	uint64_t last_result_at;
	uint32_t searches, probes_sent, answers;
};

/* A packet held while no session can carry it, with room to encrypt in
 * place when it is finally sent. */
struct staged_packet {
	size_t len;
	uint8_t buf[];	/* headroom, packet, tailroom */
};

struct peer {
	struct device *dev;
	struct peer *list_prev, *list_next;	/* creation order */
	uint8_t public_key[NOISE_PUBLIC_KEY_LEN];
	uint8_t preshared_key[NOISE_SYMMETRIC_KEY_LEN];
	uint8_t static_static[NOISE_PUBLIC_KEY_LEN];
	bool static_static_ok;

	struct noise_handshake handshake;
	struct noise_keypairs keypairs;
	struct cookie_maker cookie;

	struct endpoint endpoint;
	/* Endpoint candidates (candidates.c), allocated only when there are
	 * any: most peers have one address. */
	struct endpoint *candidates;
	uint8_t candidate_count;
	/* Where initiations go: -1 the endpoint, else a candidate's index. */
	int8_t candidate_trying;
	/* The current target is the preferred candidate, probed for a return. */
	bool candidate_probing_home;
	/* We returned to the preferred candidate by a probe; leaving it again
	 * doubles the hold-down. */
	bool candidate_returned_home;
	uint64_t candidate_return_holddown, candidate_next_return;
	/* When the peer last showed that it receives what we send: its
	 * response to our initiation, or data on a session. Its initiations
	 * prove only the other direction, and do not count. */
	uint64_t last_heard_back_mono;
	/* A handshake response or data packet from the peer authenticated
	 * since it was configured (or roamd started): until then no
	 * initiation of its may move the endpoint (receive.c,
	 * finish_initiation). */
	bool session_proven;
	/* Happy eyeballs: the initiation just sent, to be sent once more to
	 * race_to (a candidate of the other family) if no answer comes within
	 * FAMILY_RACE_DELAY. Allocated with the candidates. */
	uint8_t *race_msg;
	int8_t race_to;
	uint64_t race_for;	/* last_sent_handshake of that initiation */
	/* Path MTU (pathmtu.c): outer bytes, 0 = none learnt. */
	uint16_t path_mtu;
	uint8_t path_mtu_origin;
	uint64_t path_mtu_at;
	struct path_probe probe;

	/* Timers (timers.c). */
	uint64_t timer_deadline[TIMER_COUNT];	/* 0 = not armed */
	uint64_t heap_key;
	size_t heap_pos;			/* SIZE_MAX = not in the heap */
	uint64_t last_sent_handshake;		/* for the 1-per-5 s initiation limit */
	bool has_sent_handshake;
	unsigned handshake_attempts;
	bool need_another_keepalive;
	bool sent_lastminute_handshake;
	uint16_t persistent_keepalive;		/* seconds, 0 = off */

	/* Staged packets: a ring, allocated lazily (only while no session). */
	struct staged_packet **staged;
	unsigned staged_head, staged_count;

	struct allowedips_owner allowedips;

	/* What operators see. */
	uint64_t last_handshake_wall_ns, last_handshake_mono, last_receive_mono;
	/* When the first data went out since the last authenticated packet
	 * came in (0: none unanswered). A live peer answers data within
	 * KEEPALIVE_TIMEOUT, with a keepalive if nothing else, so a long wait
	 * means our packets do not reach it (roam doctor reads it). */
	uint64_t unanswered_since;
	uint64_t rx_bytes, tx_bytes, rx_packets, tx_packets;
	uint64_t handshakes_sent_since_success;
	/* Handshake responses sent since the peer last confirmed a session:
	 * growing, the peer keeps initiating because ours never reach it or
	 * never authenticate there (a preshared key it does not share). */
	uint64_t responses_unconfirmed;
	/* The inner source of the latest packet dropped as disallowed_src
	 * (family 0: none yet): which address the peer sends from, so the
	 * operator can put it into its AllowedIPs. */
	int last_disallowed_family;
	uint8_t last_disallowed_src[16];
	uint64_t drops[DROP_REASON_COUNT];
	struct peer_history *history;		/* NULL until there is a story */
	void *user;
};

/* history.c: what the engine tells a peer's history. */
/* nat_evidence: false when the move may be the peer's restart rather than
 * its NAT's new mapping (peer_update_endpoint). */
void history_note_endpoint_change(struct peer *peer, const struct endpoint *old, const struct endpoint *new,
				  uint64_t idle, bool nat_evidence, uint64_t now);
void history_note_kept_binding(struct peer *peer, uint64_t idle);
void history_note(struct peer *peer, enum history_kind kind, uint64_t now);

void peer_count_drop(struct device *dev, struct peer *peer, enum drop_reason reason);
/* Stages a copy of a packet; drops the oldest beyond MAX_STAGED_PACKETS. */
void peer_stage_packet(struct peer *peer, const uint8_t *pkt, size_t len);
void peer_purge_staged(struct peer *peer);
/* Encrypts pkt (with headroom/tailroom) under the current keypair and sends
 * it; false if no usable session. */
bool peer_encrypt_and_send(struct peer *peer, uint8_t *pkt, size_t len, uint64_t now);
/* Sends the staged packets if a session allows; else starts a handshake. */
void peer_send_staged(struct peer *peer, uint64_t now);
/* The same without padding: a probe's length is what it measures. */
bool peer_encrypt_and_send_unpadded(struct peer *peer, uint8_t *pkt, size_t len, uint64_t now);
/* Path probing's hooks (pathprobe.c): every packet sent to the peer (len is
 * the inner length, family its IP version), the timer, an inner packet from
 * the peer that may answer a probe (true: it did, and is consumed). */
void pathprobe_note_sent(struct peer *peer, const uint8_t *pkt, size_t len, int family, uint64_t now);
void pathprobe_timer(struct peer *peer, uint64_t now);
bool pathprobe_consume_answer(struct peer *peer, const uint8_t *pkt, size_t len, int family, uint64_t now);
/* The outer bytes a data message adds over the peer's endpoint family. */
unsigned peer_path_overhead(const struct peer *peer);
/* Sends a keepalive (or the staged packets, if any). */
void peer_send_keepalive(struct peer *peer, uint64_t now);
/* Starts a handshake unless one was sent less than REKEY_TIMEOUT ago. */
void peer_send_initiation(struct peer *peer, bool is_retry, uint64_t now);
/* Records the source of an authenticated packet of the given type as the
 * peer's endpoint. A move by a handshake initiation is history but no NAT
 * evidence: a peer that restarts (a new process, a new port behind the same
 * NAT) comes back with one, where a NAT that forgot a mapping shows as the
 * next packet of a session arriving from a new port. */
void peer_update_endpoint(struct peer *peer, const struct endpoint *from, enum message_type type, uint64_t now);
/* Hands a datagram to the embedder, counting it. */
void peer_transmit(struct peer *peer, uint8_t *data, size_t len);
void peer_transmit_to(struct peer *peer, const struct endpoint *to, uint8_t *data, size_t len);
/* candidates.c's hooks: an attempt went unanswered (move on to the next
 * candidate); the endpoint changed through an authenticated packet (follow
 * it); a handshake completed (arm the return to the preferred one); the
 * return timer fired. */
void candidates_on_unanswered(struct peer *peer, uint64_t now);
/* The peer initiated again although we answered its last initiation: our
 * response did not reach it. */
void candidates_on_response_unanswered(struct peer *peer, uint64_t now);
/* Whether an authenticated message of that type from `from` leaves the
 * endpoint where it is. */
bool candidates_hold_endpoint(const struct peer *peer, const struct endpoint *from, enum message_type type,
			      uint64_t now);
void candidates_on_endpoint_learned(struct peer *peer);
void candidates_on_handshake_complete(struct peer *peer, uint64_t now);
void candidates_return_timer(struct peer *peer, uint64_t now);
/* An initiation went to target: arm the race to the other family. */
void candidates_on_initiation_sent(struct peer *peer, const struct endpoint *target, const uint8_t *msg, size_t len,
				   uint64_t now);
void candidates_race_timer(struct peer *peer, uint64_t now);
void peer_emit(struct peer *peer, enum device_event_type type, uint64_t now);
/* Forgets the cached local source address (when the path may have changed). */
void peer_clear_source(struct peer *peer);

#endif
