/* An in-memory network for driving several engines under one simulated
 * clock. Links can drop, duplicate, reorder and delay datagrams, a node can
 * change its address mid-run (roaming / NAT rebinding), and a test can see,
 * hold back or rewrite every datagram in flight. Fully deterministic for a
 * given seed, so hours of protocol time replay identically in seconds. */
#ifndef ROAM_SIM_H
#define ROAM_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "device.h"

#define SIM_MAX_NODES 8
#define SIM_MAX_EVENTS 1024

struct sim;

struct sim_node {
	struct sim *sim;
	int id;
	struct device *dev;
	struct endpoint addr;		/* where others reach it now */
	/* A second address it also answers on (a dual-WAN site), unset by
	 * default. A datagram that arrived there carries it as its local
	 * source, so the engine's sticky source answers from it. */
	struct endpoint alias;
	uint8_t private_key[32], public_key[32];
	uint8_t inner_addr[4];		/* its address inside the tunnel */
	uint64_t rng;
	/* What reached it through the tunnel: one bit per sequence number. */
	uint8_t *seen;
	size_t seen_size;
	uint64_t delivered, duplicates;
	/* Answer ICMP echo requests that reach it through the tunnel, as a
	 * host's stack does (IPv4 and IPv6), counting them. */
	bool answer_pings;
	uint64_t pings_answered;
	/* With answer_limited, answers IPv4 echo requests with "time
	 * exceeded", as a host that forwards them would, limited as Linux
	 * limits ICMP errors: a burst of 6, then 1 a second (pings_swallowed
	 * counts the rest). */
	bool answer_limited;
	uint64_t answer_credit_ns, answer_credit_at, pings_swallowed;
	/* What it sent, by kind. */
	uint64_t sent_initiations, sent_responses, sent_cookies, sent_keepalives, sent_data;
	/* Events, newest last (a ring of the last SIM_MAX_EVENTS). */
	struct device_event_record {
		enum device_event_type type;
		uint64_t at;
		struct endpoint old_ep, new_ep;
		int candidate, candidate_why;
	} events[SIM_MAX_EVENTS];
	size_t event_count;
};

/* Return false to swallow a datagram; data may be modified in place. */
typedef bool (*sim_filter_fn)(void *ctx, struct sim_node *from, struct sim_node *to, uint8_t *data, size_t *len);

struct sim {
	uint64_t now;
	uint64_t wall_base_ns;
	uint64_t rng;
	struct sim_node nodes[SIM_MAX_NODES];
	int node_count;
	/* Link behaviour, applied to every datagram. */
	unsigned loss_permille, duplicate_permille;
	uint64_t delay_ns, jitter_ns;	/* jitter reorders */
	sim_filter_fn filter;
	void *filter_ctx;
	/* Addresses nothing reaches or leaves from (an uplink that died, an
	 * nft drop): datagrams to or from them vanish. */
	struct endpoint black_holes[4];
	int black_hole_count;
	/* Addresses nothing reaches, that can still send (a half-dead
	 * uplink): datagrams to them vanish, datagrams from them arrive. */
	struct endpoint unreachable[4];
	int unreachable_count;
	struct sim_packet **queue;	/* min-heap by delivery time */
	size_t queue_len, queue_cap;
	uint64_t queue_seq;
	uint64_t datagrams, bytes;
};

void sim_init(struct sim *sim, uint64_t seed);
void sim_free(struct sim *sim);
/* A node with a device, a fresh key pair, outer address 198.18.0.(id+1)
 * port 51820 and inner address 198.19.0.(id+1). The device is up. */
struct sim_node *sim_add_node(struct sim *sim);
/* Makes a and b peers (each with the other's inner /32 as AllowedIPs);
 * a knows b's endpoint; b learns a's from the handshake unless both_ways. */
void sim_connect(struct sim_node *a, struct sim_node *b, bool both_ways);
struct peer *sim_peer_of(struct sim_node *node, struct sim_node *other);
/* Moves a node to a new outer IPv4 address (last byte) or IPv6. */
void sim_move_node(struct sim_node *node, const struct endpoint *to);

/* Sends one inner IPv4 packet carrying a sequence number from a to b. */
enum send_result sim_send(struct sim_node *a, struct sim_node *b, uint32_t seq, size_t payload_len);
/* Injects a raw datagram at b as if from `from`. */
/* An inner packet of any content from a to the tunnel (len <= 65535). */
enum send_result sim_send_packet(struct sim_node *a, const uint8_t *pkt, size_t len);
enum receive_result sim_inject(struct sim_node *b, const struct endpoint *from, const uint8_t *data, size_t len);

/* Advances the clock to t, delivering datagrams and firing timers in order. */
void sim_run_until(struct sim *sim, uint64_t t);
void sim_run_for(struct sim *sim, uint64_t dt);
/* Runs until cond holds or max_ns passes; returns whether it held. */
bool sim_run_until_true(struct sim *sim, bool (*cond)(struct sim *, void *), void *ctx, uint64_t max_ns);

size_t sim_count_events(const struct sim_node *node, enum device_event_type type);
/* Time of the n-th (0-based) recorded event of a type, or UINT64_MAX. */
uint64_t sim_event_time(const struct sim_node *node, enum device_event_type type, size_t n);
uint64_t sim_rand(uint64_t *state);

#endif

/* Two connected nodes with a confirmed session in both directions
 * (a initiated). Returns false if the handshake did not complete. */
bool sim_pair(struct sim *sim, struct sim_node **a, struct sim_node **b);
/* Whether a node's session with another can send right now. */
bool sim_has_session(struct sim_node *node, struct sim_node *other);

/* A filter that keeps copies of datagrams of one type from one node and
 * optionally swallows them. */
struct sim_capture {
	struct sim_node *from;		/* NULL = any */
	enum message_type type;		/* MESSAGE_INVALID = any */
	bool swallow;
	size_t max;			/* stop capturing after this many */
	size_t count;
	uint8_t data[16][2048];
	size_t len[16];
	struct endpoint src[16];
};
bool sim_capture_filter(void *ctx, struct sim_node *from, struct sim_node *to, uint8_t *data, size_t *len);
