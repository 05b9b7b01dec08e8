/* Timers and key lifetimes (docs/protocol.md §5) over the simulated network:
 * hours of protocol time, run in milliseconds. */
#include "device_state.h"
#include "peer.h"
#include "sim.h"
#include "test.h"

#define SEC NSEC_PER_SEC
#define MS NSEC_PER_MSEC

static struct sim sim;

static uint64_t session_birth(struct sim_node *node, struct sim_node *other)
{
	return sim_peer_of(node, other)->keypairs.current->birth;
}

static void handshake_and_data_both_ways(void)
{
	struct sim_node *a, *b;
	sim_init(&sim, 1);
	CHECK(sim_pair(&sim, &a, &b));
	CHECK(sim_send(a, b, 1, 100) == SEND_SENT);
	CHECK(sim_send(b, a, 2, 100) == SEND_SENT);
	sim_run_for(&sim, 100 * MS);
	CHECK(b->delivered == 1 && a->delivered == 1);
	/* b learnt a's endpoint from the initiation. */
	struct peer_info info;
	peer_get_info(sim_peer_of(b, a), &info);
	CHECK(endpoint_same_remote(&info.endpoint, &a->addr));
	CHECK(info.last_handshake_wall_ns != 0);
	CHECK(a->sent_initiations == 1 && b->sent_responses == 1);
	sim_free(&sim);
}

/* Packets sent before any session are staged, then flushed in order. */
static void staged_packets_flow_after_handshake(void)
{
	sim_init(&sim, 2);
	struct sim_node *a = sim_add_node(&sim), *b = sim_add_node(&sim);
	sim_connect(a, b, false);
	for (uint32_t i = 0; i < 10; i++)
		CHECK(sim_send(a, b, i, 64) == SEND_STAGED);
	CHECK(a->sent_initiations == 1); /* one initiation, not ten */
	sim_run_for(&sim, 1 * SEC);
	CHECK(b->delivered == 10 && b->duplicates == 0);
	sim_free(&sim);
}

/* The initiator rekeys once its session is 120 s old and it sends. */
static void rekey_after_120_seconds_of_traffic(void)
{
	struct sim_node *a, *b;
	sim_init(&sim, 3);
	CHECK(sim_pair(&sim, &a, &b));
	uint64_t start = sim.now, first = session_birth(a, b);
	uint32_t seq = 0;
	while (sim.now < start + 200 * SEC) {
		sim_send(a, b, seq++, 100);
		sim_send(b, a, seq++, 100);
		sim_run_for(&sim, 1 * SEC);
	}
	CHECK(sim_count_events(a, EVENT_HANDSHAKE_COMPLETE) == 2);
	uint64_t second = sim_event_time(a, EVENT_HANDSHAKE_COMPLETE, 1);
	CHECK(second >= first + 120 * SEC && second <= first + 122 * SEC);
	/* Only the initiator rekeys on time. */
	CHECK(b->sent_initiations == 0);
	CHECK(a->delivered + b->delivered == seq && a->duplicates + b->duplicates == 0);
	sim_free(&sim);
}

/* Nothing is accepted on a keypair older than 180 s; nothing is sent on it. */
static void reject_after_180_seconds(void)
{
	struct sim_node *a, *b;
	sim_init(&sim, 4);
	CHECK(sim_pair(&sim, &a, &b));
	uint64_t birth = session_birth(b, a);
	struct sim_capture cap = {.from = a, .type = MESSAGE_DATA, .swallow = true};
	sim.filter = sim_capture_filter;
	sim.filter_ctx = &cap;
	CHECK(sim_send(a, b, 1, 100) == SEND_SENT);
	CHECK(sim_send(a, b, 2, 100) == SEND_SENT);
	sim.filter = NULL;
	CHECK(cap.count == 2);
	sim_run_until(&sim, birth + 179 * SEC);
	CHECK(sim_inject(b, &a->addr, cap.data[0], cap.len[0]) == RECEIVED_DATA);
	sim_run_until(&sim, birth + 180 * SEC);
	uint64_t before = sim_peer_of(b, a)->drops[DROP_KEY_EXPIRED];
	CHECK(sim_inject(b, &a->addr, cap.data[1], cap.len[1]) == RECEIVED_DROPPED);
	CHECK(sim_peer_of(b, a)->drops[DROP_KEY_EXPIRED] == before + 1);
	sim_free(&sim);
}

/* ... and the sender refuses a keypair that old: it stages and re-handshakes. */
static void sender_refuses_keypair_at_180_seconds(void)
{
	struct sim_node *a, *b;
	sim_init(&sim, 41);
	CHECK(sim_pair(&sim, &a, &b));
	uint64_t birth = session_birth(a, b);
	/* (Any send after 120 s would rekey first, so the tunnel stays idle.) */
	sim_run_until(&sim, birth + 180 * SEC);
	CHECK(sim_has_session(a, b)); /* still held, for receiving stragglers */
	uint64_t inits = a->sent_initiations;
	CHECK(sim_send(a, b, 2, 100) == SEND_STAGED);
	CHECK(a->sent_initiations == inits + 1);
	sim_run_for(&sim, 1 * SEC);
	CHECK(b->delivered == 1 && (b->seen[0] & 4));
	sim_free(&sim);
}

/* Data one way only: the receiver answers with a keepalive after 10 s. */
static void keepalive_10_seconds_after_one_way_data(void)
{
	struct sim_node *a, *b;
	sim_init(&sim, 5);
	CHECK(sim_pair(&sim, &a, &b));
	sim_run_for(&sim, 30 * SEC);
	uint64_t keepalives = b->sent_keepalives;
	uint64_t t0 = sim.now;
	CHECK(sim_send(a, b, 1, 100) == SEND_SENT);
	uint64_t arrival = t0 + sim.delay_ns;
	sim_run_until(&sim, arrival + 10 * SEC - 1);
	CHECK(b->sent_keepalives == keepalives);
	sim_run_until(&sim, arrival + 10 * SEC);
	CHECK(b->sent_keepalives == keepalives + 1);
	/* And only one: nothing more happens while both sides are idle. */
	sim_run_for(&sim, 60 * SEC);
	CHECK(b->sent_keepalives == keepalives + 1);
	sim_free(&sim);
}

static bool drop_everything(void *ctx, struct sim_node *from, struct sim_node *to, uint8_t *data, size_t *len)
{
	(void)ctx, (void)from, (void)to, (void)data, (void)len;
	return false;
}

/* No answer: an initiation, then a retry every 5 s + up to 334 ms jitter,
 * 20 in all; then the peer gives up, and its keys go 540 s later. */
static void handshake_retries_then_gives_up(void)
{
	sim_init(&sim, 6);
	struct sim_node *a = sim_add_node(&sim), *b = sim_add_node(&sim);
	sim_connect(a, b, false);
	sim.filter = drop_everything;
	uint64_t t0 = sim.now;
	CHECK(sim_send(a, b, 1, 100) == SEND_STAGED);
	sim_run_for(&sim, 200 * SEC);
	CHECK(a->sent_initiations == 20);
	CHECK(sim_count_events(a, EVENT_HANDSHAKE_INITIATION_SENT) == 20);
	CHECK(sim_event_time(a, EVENT_HANDSHAKE_INITIATION_SENT, 0) == t0);
	for (size_t i = 1; i < 20; i++) {
		uint64_t gap = sim_event_time(a, EVENT_HANDSHAKE_INITIATION_SENT, i) -
			       sim_event_time(a, EVENT_HANDSHAKE_INITIATION_SENT, i - 1);
		CHECK(gap >= 5 * SEC && gap < 5 * SEC + 334 * MS);
	}
	uint64_t last = sim_event_time(a, EVENT_HANDSHAKE_INITIATION_SENT, 19);
	CHECK(last >= t0 + 95 * SEC && last < t0 + 95 * SEC + 19 * 334 * MS);
	CHECK(sim_count_events(a, EVENT_HANDSHAKE_GIVEN_UP) == 1);
	uint64_t gave_up = sim_event_time(a, EVENT_HANDSHAKE_GIVEN_UP, 0);
	CHECK(gave_up >= t0 + 100 * SEC && gave_up < t0 + 107 * SEC);
	CHECK(sim_peer_of(a, b)->staged_count == 0);
	sim_run_for(&sim, 600 * SEC);
	CHECK(a->sent_initiations == 20);
	CHECK(sim_event_time(a, EVENT_KEYS_ZEROED, 0) == gave_up + 540 * SEC);
	sim_free(&sim);
}

/* A session nobody uses is wiped 540 s (3 x reject-after-time) after it
 * was derived. */
static void keys_zeroed_after_540_seconds(void)
{
	struct sim_node *a, *b;
	sim_init(&sim, 7);
	CHECK(sim_pair(&sim, &a, &b));
	uint64_t birth_a = session_birth(a, b), birth_b = session_birth(b, a);
	sim_run_until(&sim, birth_a + 540 * SEC - 1);
	CHECK(sim_has_session(a, b));
	CHECK(sim_count_events(a, EVENT_KEYS_ZEROED) == 0);
	CHECK(birth_b < birth_a);
	sim_run_until(&sim, birth_b + 540 * SEC);
	CHECK(!sim_has_session(b, a) && sim_has_session(a, b));
	sim_run_until(&sim, birth_a + 540 * SEC);
	CHECK(!sim_has_session(a, b) && !sim_has_session(b, a));
	CHECK(sim_event_time(a, EVENT_KEYS_ZEROED, 0) == birth_a + 540 * SEC);
	CHECK(sim_event_time(b, EVENT_KEYS_ZEROED, 0) == birth_b + 540 * SEC);
	/* Every index was released with the keys. */
	CHECK(a->dev->indices.count == 0 && b->dev->indices.count == 0);
	/* A new packet simply starts again. */
	CHECK(sim_send(a, b, 1, 100) == SEND_STAGED);
	sim_run_for(&sim, 1 * SEC);
	CHECK(b->delivered == 1);
	sim_free(&sim);
}

/* Persistent keepalive: one at once when enabled, then every interval of
 * silence; any packet pushes the next one back. */
static void persistent_keepalive_cadence(void)
{
	struct sim_node *a, *b;
	sim_init(&sim, 8);
	CHECK(sim_pair(&sim, &a, &b));
	sim_run_for(&sim, 5 * SEC);
	uint64_t k0 = a->sent_keepalives, t0 = sim.now;
	peer_set_persistent_keepalive(sim_peer_of(a, b), 25, sim.now);
	CHECK(a->sent_keepalives == k0 + 1);
	/* Stay below the 120 s rekey: a handshake is traffic too and would
	 * move the cadence. */
	sim_run_until(&sim, t0 + 99 * SEC);
	CHECK(a->sent_keepalives == k0 + 4);
	size_t n = sim_count_events(a, EVENT_KEEPALIVE_SENT);
	for (size_t i = n - 3; i < n; i++)
		CHECK(sim_event_time(a, EVENT_KEEPALIVE_SENT, i) - sim_event_time(a, EVENT_KEEPALIVE_SENT, i - 1) ==
		      25 * SEC);
	/* Any traffic re-arms it: data out, then b's passive keepalive back;
	 * the next persistent keepalive comes 25 s after the last of them. */
	uint64_t td = sim.now;
	sim_send(a, b, 1, 100);
	sim_run_for(&sim, 11 * SEC);
	struct peer_info info;
	peer_get_info(sim_peer_of(a, b), &info);
	uint64_t last = info.last_receive_mono;
	CHECK(last >= td + 10 * SEC);
	uint64_t k1 = a->sent_keepalives;
	sim_run_until(&sim, last + 25 * SEC - 1);
	CHECK(a->sent_keepalives == k1);
	sim_run_until(&sim, last + 25 * SEC);
	CHECK(a->sent_keepalives == k1 + 1);
	/* Turning it off stops it. */
	sim_run_for(&sim, 1 * SEC);
	peer_set_persistent_keepalive(sim_peer_of(a, b), 0, sim.now);
	k1 = a->sent_keepalives;
	sim_run_for(&sim, 100 * SEC);
	CHECK(a->sent_keepalives == k1);
	sim_free(&sim);
}

/* A persistent keepalive on a peer with no session brings the tunnel up:
 * that is how a phone behind NAT makes itself reachable. */
static void persistent_keepalive_starts_the_tunnel(void)
{
	sim_init(&sim, 9);
	struct sim_node *a = sim_add_node(&sim), *b = sim_add_node(&sim);
	sim_connect(a, b, false);
	peer_set_persistent_keepalive(sim_peer_of(a, b), 25, sim.now);
	sim_run_for(&sim, 1 * SEC);
	CHECK(sim_has_session(a, b) && sim_has_session(b, a));
	/* b never knew a's address; now it can reach a. */
	CHECK(sim_send(b, a, 7, 100) == SEND_SENT);
	sim_run_for(&sim, 1 * SEC);
	CHECK(a->delivered == 1);
	sim_free(&sim);
}

/* The initiator that only receives (keepalives) rekeys at 165 s. */
static void initiator_rekeys_on_receive_at_165_seconds(void)
{
	struct sim_node *a, *b;
	sim_init(&sim, 10);
	CHECK(sim_pair(&sim, &a, &b));
	uint64_t birth = session_birth(a, b);
	uint64_t inits = a->sent_initiations;
	peer_set_persistent_keepalive(sim_peer_of(b, a), 4, sim.now);
	sim_run_until(&sim, birth + 165 * SEC - 1);
	CHECK(a->sent_initiations == inits);
	sim_run_until(&sim, birth + 175 * SEC);
	CHECK(a->sent_initiations == inits + 1);
	uint64_t t = sim_event_time(a, EVENT_HANDSHAKE_INITIATION_SENT, 1);
	CHECK(t >= birth + 165 * SEC && t <= birth + 170 * SEC);
	CHECK(sim_count_events(a, EVENT_HANDSHAKE_COMPLETE) == 2);
	sim_free(&sim);
}

/* Data sent, nothing heard back for 15 s: a fresh handshake. */
static void new_handshake_when_data_goes_unanswered(void)
{
	struct sim_node *a, *b;
	sim_init(&sim, 11);
	CHECK(sim_pair(&sim, &a, &b));
	sim_run_for(&sim, 20 * SEC);
	uint64_t inits = a->sent_initiations;
	sim.filter = drop_everything;
	uint64_t t0 = sim.now;
	sim_send(a, b, 1, 100);
	sim_run_until(&sim, t0 + 15 * SEC - 1);
	CHECK(a->sent_initiations == inits);
	sim_run_until(&sim, t0 + 15 * SEC + 334 * MS);
	CHECK(a->sent_initiations == inits + 1);
	sim_free(&sim);
}

/* How long data has gone unanswered (roam_unanswered_ms, which roam doctor
 * reads): the clock starts with the first data after the last receive,
 * keeps running through more sends, and stops at the peer's next
 * authenticated packet, here its passive keepalive. */
static void unanswered_data_is_timed(void)
{
	struct sim_node *a, *b;
	struct peer_info info;
	sim_init(&sim, 14);
	CHECK(sim_pair(&sim, &a, &b));
	sim_run_for(&sim, 20 * SEC);
	peer_get_info(sim_peer_of(a, b), &info);
	CHECK(info.unanswered_since_mono == 0);
	sim.filter = drop_everything;
	uint64_t t0 = sim.now;
	sim_send(a, b, 1, 100);
	sim_run_for(&sim, 3 * SEC);
	sim_send(a, b, 2, 100);
	peer_get_info(sim_peer_of(a, b), &info);
	CHECK(info.unanswered_since_mono == t0);
	sim.filter = NULL;
	sim_send(a, b, 3, 100);
	sim_run_for(&sim, 11 * SEC);
	peer_get_info(sim_peer_of(a, b), &info);
	CHECK(info.unanswered_since_mono == 0 && info.last_receive_mono > t0 + 3 * SEC);
	sim_free(&sim);
}

/* Only what the responder (b) sends is lost: one direction of the path. */
static bool drop_from_responder(void *ctx, struct sim_node *from, struct sim_node *to, uint8_t *data, size_t *len)
{
	(void)to, (void)data, (void)len;
	return from != (struct sim_node *)ctx;
}

/* roam_responses_unconfirmed (roam doctor's evidence of a peer that never
 * gets or never accepts our responses): each response counts until the
 * initiator confirms a session with its first data, then it starts over. */
static void unconfirmed_responses_are_counted(void)
{
	struct sim_node *a = NULL, *b = NULL;
	struct peer_info info;
	sim_init(&sim, 15);
	a = sim_add_node(&sim), b = sim_add_node(&sim);
	sim_connect(a, b, false);
	sim.filter = drop_from_responder;
	sim.filter_ctx = b;
	sim_send(a, b, 1, 100);
	sim_run_for(&sim, 12 * SEC);
	peer_get_info(sim_peer_of(b, a), &info);
	CHECK(info.responses_unconfirmed >= 2 && info.responses_unconfirmed == b->sent_responses);
	sim.filter = NULL;
	sim_run_for(&sim, 6 * SEC);
	peer_get_info(sim_peer_of(b, a), &info);
	CHECK(b->delivered >= 1 && info.responses_unconfirmed == 0);
	sim_free(&sim);
}

/* At most one initiation per 5 s, however much data is waiting. */
static void initiation_rate_limit(void)
{
	sim_init(&sim, 12);
	struct sim_node *a = sim_add_node(&sim), *b = sim_add_node(&sim);
	sim_connect(a, b, false);
	sim.filter = drop_everything;
	for (int i = 0; i < 400; i++) {
		sim_send(a, b, (uint32_t)i, 64);
		sim_run_for(&sim, 10 * MS);
	}
	/* 4 s of sending: only the first initiation went out. */
	CHECK(a->sent_initiations == 1);
	/* Staging keeps the newest MAX_STAGED_PACKETS. */
	CHECK(sim_peer_of(a, b)->staged_count == MAX_STAGED_PACKETS);
	CHECK(sim_peer_of(a, b)->drops[DROP_STAGED_OVERFLOW] == 400 - MAX_STAGED_PACKETS);
	sim_free(&sim);
}

/* The responder must not send with a keypair the initiator has not yet
 * confirmed: its packets wait until the first packet under the new key. */
static void responder_waits_for_confirmation(void)
{
	sim_init(&sim, 13);
	struct sim_node *a = sim_add_node(&sim), *b = sim_add_node(&sim);
	sim_connect(a, b, false);
	struct sim_capture cap = {.from = a, .type = MESSAGE_DATA, .swallow = true};
	sim.filter = sim_capture_filter;
	sim.filter_ctx = &cap;
	peer_send_keepalive_now(sim_peer_of(a, b), sim.now);
	sim_run_for(&sim, 100 * MS);
	CHECK(sim_has_session(a, b));
	CHECK(!sim_has_session(b, a));	/* only a "next" keypair */
	CHECK(sim_send(b, a, 1, 100) == SEND_STAGED);
	CHECK(b->sent_data == 0);
	sim.filter = NULL;
	CHECK(cap.count == 1);
	CHECK(sim_inject(b, &a->addr, cap.data[0], cap.len[0]) == RECEIVED_KEEPALIVE);
	CHECK(sim_has_session(b, a));
	CHECK(b->sent_data == 1);	/* the staged packet left at once */
	sim_run_for(&sim, 100 * MS);
	CHECK(a->delivered == 1);
	sim_free(&sim);
}

/* Counters: past REKEY_AFTER_MESSAGES a send triggers a rekey; at
 * REJECT_AFTER_MESSAGES the keypair is no longer used. */
static void message_counter_limits(void)
{
	struct sim_node *a, *b;
	sim_init(&sim, 14);
	CHECK(sim_pair(&sim, &a, &b));
	sim_run_for(&sim, 6 * SEC);
	struct noise_keypair *kp = sim_peer_of(a, b)->keypairs.current;
	kp->send_counter = REKEY_AFTER_MESSAGES + 1;
	uint64_t inits = a->sent_initiations;
	CHECK(sim_send(a, b, 1, 100) == SEND_SENT);
	CHECK(a->sent_initiations == inits + 1);
	sim_run_for(&sim, 1 * SEC);
	kp = sim_peer_of(a, b)->keypairs.current;
	kp->send_counter = REJECT_AFTER_MESSAGES;
	sim_run_for(&sim, 6 * SEC);
	CHECK(sim_send(a, b, 2, 100) == SEND_STAGED);
	sim_run_for(&sim, 1 * SEC);
	CHECK(b->delivered == 2);
	CHECK(b->seen[0] & 4);
	sim_free(&sim);
}

int main(void)
{
	RUN(handshake_and_data_both_ways);
	RUN(staged_packets_flow_after_handshake);
	RUN(rekey_after_120_seconds_of_traffic);
	RUN(reject_after_180_seconds);
	RUN(sender_refuses_keypair_at_180_seconds);
	RUN(keepalive_10_seconds_after_one_way_data);
	RUN(handshake_retries_then_gives_up);
	RUN(keys_zeroed_after_540_seconds);
	RUN(persistent_keepalive_cadence);
	RUN(persistent_keepalive_starts_the_tunnel);
	RUN(initiator_rekeys_on_receive_at_165_seconds);
	RUN(new_handshake_when_data_goes_unanswered);
	RUN(unanswered_data_is_timed);
	RUN(initiation_rate_limit);
	RUN(unconfirmed_responses_are_counted);
	RUN(responder_waits_for_confirmation);
	RUN(message_counter_limits);
	return test_finish("test_sim_timers");
}
