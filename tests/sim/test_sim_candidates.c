/* A peer with several endpoints (device.h, "Endpoint candidates"): the
 * phone fails over to the server's second address when the first dies,
 * stays there while the first is dead, comes back when it answers again,
 * keeps an endpoint it learned from authenticated packets, and never moves
 * for anything unauthenticated. Each case prints its figures. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "device_state.h"
#include "peer.h"
#include "sim.h"
#include "test.h"

#define SEC NSEC_PER_SEC
#define MS NSEC_PER_MSEC

static struct sim sim;

static struct endpoint address(uint8_t last, uint16_t port)
{
	struct endpoint ep;
	uint8_t ip[4] = {203, 0, 113, last};
	endpoint_from_bytes(&ep, AF_INET, ip, port);
	return ep;
}

/* A phone and a dual-WAN server: reachable at its address A and at B; the
 * phone knows both, A preferred. They have a session. */
static void dual_wan(struct sim_node **phone, struct sim_node **server, uint64_t seed)
{
	sim_init(&sim, seed);
	*phone = sim_add_node(&sim);
	*server = sim_add_node(&sim);
	(*server)->alias = address(2, 51820);
	sim_connect(*phone, *server, false);
	struct peer *p = sim_peer_of(*phone, *server);
	CHECK(peer_add_endpoint_candidate(p, &(*server)->addr, sim.now) == 0);
	CHECK(peer_add_endpoint_candidate(p, &(*server)->alias, sim.now) == 0);
	sim_send(*phone, *server, 0, 64);
	sim_run_for(&sim, 1 * SEC);
	CHECK(sim_has_session(*phone, *server));
}

/* A ping at 10 Hz: the phone sends every 100 ms, the server answers each
 * packet it got. Returns the phone's deliveries. */
static uint32_t ping_seq;
static void ping_for(struct sim_node *phone, struct sim_node *server, uint64_t dt)
{
	uint64_t end = sim.now + dt;
	while (sim.now < end) {
		uint64_t before = server->delivered;
		sim_send(phone, server, ping_seq++, 56);
		sim_run_for(&sim, 100 * MS);
		if (server->delivered > before)
			sim_send(server, phone, ping_seq++, 56);
	}
}

/* Runs the ping until the phone hears an answer; returns when, or 0. */
static uint64_t ping_until_answered(struct sim_node *phone, struct sim_node *server, uint64_t max)
{
	uint64_t end = sim.now + max;
	while (sim.now < end) {
		uint64_t before = phone->delivered;
		ping_for(phone, server, 100 * MS);
		if (phone->delivered > before)
			return sim.now;
	}
	return 0;
}

static const struct device_event_record *last_event(const struct sim_node *node, enum device_event_type type)
{
	const struct device_event_record *found = NULL;
	for (size_t i = 0; i < node->event_count && i < SIM_MAX_EVENTS; i++)
		if (node->events[i].type == type)
			found = &node->events[i];
	return found;
}

/* From now on nothing reaches ep or leaves from it; what was in flight
 * still arrives. */
static void black_hole(const struct endpoint *ep)
{
	sim.black_holes[sim.black_hole_count++] = *ep;
	sim_run_for(&sim, 50 * MS);
}

static void revive(void)
{
	sim.black_hole_count = 0;
}

/* The first address is black-holed with a 10 Hz ping running: the phone's
 * data goes unanswered for 15 s, the next initiation goes to the second
 * candidate, which answers: traffic resumes within 16 s. */
static void fails_over_to_the_second_candidate_within_16_s(void)
{
	struct sim_node *phone, *server;
	dual_wan(&phone, &server, 41);
	struct peer *p = sim_peer_of(phone, server);
	ping_for(phone, server, 3 * SEC);
	uint64_t answered = phone->delivered;
	CHECK(answered >= 29);
	size_t changes = sim_count_events(phone, EVENT_ENDPOINT_CHANGED);
	uint64_t died = sim.now;
	black_hole(&server->addr);
	uint64_t back = ping_until_answered(phone, server, 30 * SEC);
	CHECK(back != 0);
	printf("  failover: traffic resumed %.2f s after the first address died (bound 16 s)\n",
	       (double)(back - died) / SEC);
	CHECK(back - died <= 16 * SEC);
	CHECK(endpoint_same_remote(&p->endpoint, &server->alias));
	CHECK(peer_endpoint_candidate_index(p) == 1);
	/* The sequence: one attempt at the second candidate, then the
	 * endpoint moved there by the server's authenticated response. */
	CHECK(sim_count_events(phone, EVENT_CANDIDATE_TRIED) == 1);
	CHECK(sim_count_events(phone, EVENT_ENDPOINT_CHANGED) == changes + 1);
	const struct device_event_record *tried = last_event(phone, EVENT_CANDIDATE_TRIED);
	const struct device_event_record *moved = last_event(phone, EVENT_ENDPOINT_CHANGED);
	CHECK(tried && moved && tried->at < moved->at);
	CHECK(tried && tried->candidate == 1 && endpoint_same_remote(&tried->new_ep, &server->alias));
	CHECK(moved && moved->candidate == 1 && endpoint_same_remote(&moved->old_ep, &server->addr));
	sim_free(&sim);
}

/* After the failover, five minutes with the first address still dead: the
 * endpoint stays on the second (one initiation towards the first per
 * hold-down, never a move). When the first answers again, the next probe
 * brings the endpoint back. When it dies again, the hold-down doubles. */
static void no_flapping_back_while_the_first_is_dead_and_return_when_it_answers(void)
{
	struct sim_node *phone, *server;
	dual_wan(&phone, &server, 42);
	struct peer *p = sim_peer_of(phone, server);
	ping_for(phone, server, 1 * SEC);
	black_hole(&server->addr);
	CHECK(ping_until_answered(phone, server, 30 * SEC) != 0);
	size_t changes = sim_count_events(phone, EVENT_ENDPOINT_CHANGED);
	size_t tried = sim_count_events(phone, EVENT_CANDIDATE_TRIED);
	uint64_t delivered = phone->delivered;
	ping_for(phone, server, 300 * SEC);
	size_t probes = sim_count_events(phone, EVENT_CANDIDATE_TRIED) - tried;
	printf("  first still dead for 300 s: %zu endpoint changes, %zu tries of another candidate, %llu of 3000 "
	       "pings answered\n",
	       sim_count_events(phone, EVENT_ENDPOINT_CHANGED) - changes, probes,
	       (unsigned long long)(phone->delivered - delivered));
	CHECK(sim_count_events(phone, EVENT_ENDPOINT_CHANGED) == changes);
	CHECK(endpoint_same_remote(&p->endpoint, &server->alias));
	/* A probe and its return to the endpoint in use: two per 30 s. */
	CHECK(probes >= 2 && probes <= 2 * (300 / 30) + 2);
	/* The probes cost no traffic: the session went on. */
	CHECK(phone->delivered - delivered >= 2990);

	revive();
	uint64_t revived = sim.now;
	bool home = false;
	for (int i = 0; i < 600 && !home; i++) {
		ping_for(phone, server, 100 * MS);
		home = peer_endpoint_candidate_index(p) == 0;
	}
	printf("  first answers again: the endpoint returned to it after %.1f s (hold-down %llu s)\n",
	       (double)(sim.now - revived) / SEC, (unsigned long long)(CANDIDATE_RETURN_MIN / SEC));
	CHECK(home);
	CHECK(sim.now - revived <= CANDIDATE_RETURN_MIN + 2 * REKEY_TIMEOUT);
	const struct device_event_record *moved = last_event(phone, EVENT_ENDPOINT_CHANGED);
	CHECK(moved && moved->candidate == 0 && endpoint_same_remote(&moved->old_ep, &server->alias));
	ping_for(phone, server, 60 * SEC);
	CHECK(peer_endpoint_candidate_index(p) == 0);

	/* Dies again after the return: the next return waits twice as long. */
	black_hole(&server->addr);
	CHECK(ping_until_answered(phone, server, 30 * SEC) != 0);
	CHECK(peer_endpoint_candidate_index(p) == 1);
	printf("  first failed again after the return: hold-down now %llu s\n",
	       (unsigned long long)(p->candidate_return_holddown / SEC));
	CHECK(p->candidate_return_holddown == 2 * CANDIDATE_RETURN_MIN);
	sim_free(&sim);
}

/* The server shows up at an address of its own choosing (it roamed): the
 * phone keeps it, never probes the configured ones while it answers. */
static void an_endpoint_learned_from_the_peer_wins_over_the_list(void)
{
	struct sim_node *phone, *server;
	dual_wan(&phone, &server, 43);
	struct peer *p = sim_peer_of(phone, server);
	server->alias = (struct endpoint){0};
	struct endpoint moved = address(9, 51999);
	sim_move_node(server, &moved);
	sim_send(server, phone, ping_seq++, 56);
	sim_run_for(&sim, 100 * MS);
	CHECK(endpoint_same_remote(&p->endpoint, &moved));
	CHECK(peer_endpoint_candidate_index(p) == -1);
	ping_for(phone, server, 200 * SEC);
	CHECK(endpoint_same_remote(&p->endpoint, &moved));
	CHECK(sim_count_events(phone, EVENT_CANDIDATE_TRIED) == 0);
	CHECK(!timer_is_pending(p, TIMER_CANDIDATE_RETURN));
	sim_free(&sim);
}

/* Configured with candidates only, the first of them dead: the initiation
 * goes to it, the retry 5 s later to the second, which answers. */
static void the_first_handshake_moves_on_after_one_unanswered_attempt(void)
{
	sim_init(&sim, 44);
	struct sim_node *phone = sim_add_node(&sim), *server = sim_add_node(&sim);
	int err;
	struct peer *p = device_peer_create(phone->dev, server->public_key, sim.now, &err);
	struct peer *q = device_peer_create(server->dev, phone->public_key, sim.now, &err);
	CHECK(p && q);
	CHECK(peer_allowedips_insert(p, AF_INET, server->inner_addr, 32) == 0);
	CHECK(peer_allowedips_insert(q, AF_INET, phone->inner_addr, 32) == 0);
	struct endpoint dead = address(66, 51820);
	CHECK(peer_add_endpoint_candidate(p, &dead, sim.now) == 0);
	CHECK(peer_add_endpoint_candidate(p, &server->addr, sim.now) == 0);
	CHECK(peer_handshake_target(p) && endpoint_same_remote(peer_handshake_target(p), &dead));
	uint64_t start = sim.now;
	CHECK(sim_send(phone, server, 1, 64) == SEND_STAGED);
	for (int i = 0; i < 100 && server->delivered == 0; i++)
		sim_run_for(&sim, 100 * MS);
	printf("  first candidate dead: the staged packet arrived %.2f s after it was sent\n",
	       (double)(sim.now - start) / SEC);
	CHECK(server->delivered == 1);
	CHECK(sim.now - start <= REKEY_TIMEOUT + REKEY_TIMEOUT_JITTER_MAX_MS * MS + 200 * MS);
	CHECK(endpoint_same_remote(&p->endpoint, &server->addr) && peer_endpoint_candidate_index(p) == 1);
	sim_free(&sim);
}

/* Garbage and replays from the second address while failing over: nothing
 * moves, no event; only the authenticated response does it. */
static void unauthenticated_packets_from_a_candidate_move_nothing(void)
{
	struct sim_node *phone, *server;
	dual_wan(&phone, &server, 45);
	struct peer *p = sim_peer_of(phone, server);
	struct sim_capture cap = {.from = server, .type = MESSAGE_DATA, .max = 1};
	sim.filter = sim_capture_filter;
	sim.filter_ctx = &cap;
	ping_for(phone, server, 1 * SEC);
	sim.filter = NULL;
	CHECK(cap.count == 1);
	size_t events = phone->event_count;
	uint8_t junk[148];
	for (int i = 0; i < 10000; i++) {
		memset(junk, i, sizeof(junk));
		junk[0] = (uint8_t)(1 + i % 4);
		sim_inject(phone, &server->alias, junk, sizeof(junk));
		sim_inject(phone, &server->alias, cap.data[0], cap.len[0]); /* a replay */
	}
	printf("  10,000 garbage and 10,000 replayed datagrams from the second address: %zu events\n",
	       phone->event_count - events);
	CHECK(phone->event_count == events);
	CHECK(endpoint_same_remote(&p->endpoint, &server->addr));
	sim_free(&sim);
}

/* The list is bounded and has no duplicates. */
static void the_list_refuses_duplicates_and_overflow(void)
{
	sim_init(&sim, 46);
	struct sim_node *a = sim_add_node(&sim), *b = sim_add_node(&sim);
	sim_connect(a, b, false);
	struct peer *p = sim_peer_of(a, b);
	struct endpoint unset = {0};
	CHECK(peer_add_endpoint_candidate(p, &unset, sim.now) == -EINVAL);
	int refused = 0;
	for (int i = 0; i < 1000; i++) {
		struct endpoint ep = address((uint8_t)(i % 20), 51820);
		int ret = peer_add_endpoint_candidate(p, &ep, sim.now);
		refused += ret == -E2BIG;
		CHECK(ret == 0 || ret == -E2BIG);
	}
	const struct endpoint *list;
	CHECK(peer_get_endpoint_candidates(p, &list) == MAX_ENDPOINT_CANDIDATES);
	for (int i = 0; i < MAX_ENDPOINT_CANDIDATES; i++)
		CHECK(endpoint_port(&list[i]) == 51820 && list[i].addr.in4.sin_addr.s_addr == address((uint8_t)i, 1).addr.in4.sin_addr.s_addr);
	printf("  1,000 additions (20 distinct): %d kept, %d refused as over the limit\n", MAX_ENDPOINT_CANDIDATES,
	       refused);
	peer_clear_endpoint_candidates(p);
	CHECK(peer_get_endpoint_candidates(p, &list) == 0);
	CHECK(endpoint_same_remote(peer_handshake_target(p), &b->addr));
	sim_free(&sim);
}

/* A name's new answer (what roamd's names.c hands over): while the
 * session carries traffic nothing moves and nothing is sent; once the
 * server has really moved and the phone's attempt went unanswered, the new
 * address gets an initiation at once and the endpoint follows its answer. */
static void a_new_answer_moves_only_a_silent_peer(void)
{
	sim_init(&sim, 47);
	struct sim_node *phone = sim_add_node(&sim), *server = sim_add_node(&sim);
	sim_connect(phone, server, false);
	struct peer *p = sim_peer_of(phone, server);
	struct endpoint old_addr = server->addr, new_addr = address(50, 51820);
	CHECK(peer_replace_endpoint_candidates(p, &old_addr, 1, sim.now) == 1);
	ping_for(phone, server, 2 * SEC);
	CHECK(sim_has_session(phone, server));

	/* Live: a new answer that omits the endpoint changes no target. */
	uint64_t sent = phone->sent_initiations;
	CHECK(peer_replace_endpoint_candidates(p, &new_addr, 1, sim.now) == 1);
	CHECK(phone->sent_initiations == sent && endpoint_same_remote(&p->endpoint, &old_addr));
	CHECK(endpoint_same_remote(peer_handshake_target(p), &old_addr));
	ping_for(phone, server, 1 * SEC);
	CHECK(endpoint_same_remote(&p->endpoint, &old_addr));

	/* The server moves; the answer still lists the old address (a TTL
	 * not yet run out) until the phone's attempt goes unanswered. */
	CHECK(peer_replace_endpoint_candidates(p, &old_addr, 1, sim.now) == 1);
	uint64_t moved = sim.now;
	sim_move_node(server, &new_addr);
	size_t unanswered = sim_count_events(phone, EVENT_ATTEMPT_UNANSWERED);
	while (sim_count_events(phone, EVENT_ATTEMPT_UNANSWERED) == unanswered && sim.now - moved < 30 * SEC)
		ping_for(phone, server, 100 * MS);
	uint64_t asked = sim.now;
	CHECK(asked - moved >= KEEPALIVE_TIMEOUT + REKEY_TIMEOUT && asked - moved < 16 * SEC);
	/* What a lookup at that moment answers. */
	CHECK(peer_replace_endpoint_candidates(p, &new_addr, 1, sim.now) == 1);
	uint64_t back = ping_until_answered(phone, server, 10 * SEC);
	printf("  server moved: attempt unanswered after %.2f s, traffic back %.2f s after the move\n",
	       (double)(asked - moved) / SEC, (double)(back - moved) / SEC);
	CHECK(back && back - asked < 1 * SEC);
	CHECK(endpoint_same_remote(&p->endpoint, &new_addr) && peer_endpoint_candidate_index(p) == 0);
	sim_free(&sim);
}

/* As `roam up` configures it: the endpoint is the first candidate, and it
 * never answered (nobody there, or a server with another key), and a 10 Hz
 * ping keeps asking for a handshake as soon as the last is REKEY_TIMEOUT
 * old, before the retry timer would fire: the unanswered attempt still
 * moves on, so traffic flows through the second within 16 s of the first
 * packet (before the fix: never, one initiation to the first every 5 s). */
static void a_first_candidate_that_never_answered_does_not_block_failover(void)
{
	sim_init(&sim, 48);
	struct sim_node *phone = sim_add_node(&sim), *server = sim_add_node(&sim);
	int err;
	struct peer *p = device_peer_create(phone->dev, server->public_key, sim.now, &err);
	struct peer *q = device_peer_create(server->dev, phone->public_key, sim.now, &err);
	CHECK(p && q);
	CHECK(peer_allowedips_insert(p, AF_INET, server->inner_addr, 32) == 0);
	CHECK(peer_allowedips_insert(q, AF_INET, phone->inner_addr, 32) == 0);
	struct endpoint dead = address(66, 51820);
	peer_set_endpoint(p, &dead);
	CHECK(peer_add_endpoint_candidate(p, &dead, sim.now) == 0);
	CHECK(peer_add_endpoint_candidate(p, &server->addr, sim.now) == 0);
	uint64_t start = sim.now;
	uint64_t back = ping_until_answered(phone, server, 60 * SEC);
	printf("  first candidate never answered: traffic through the second %.2f s after the first packet (bound 16 s)\n",
	       back ? (double)(back - start) / SEC : -1.0);
	CHECK(back && back - start <= 16 * SEC);
	CHECK(endpoint_same_remote(&p->endpoint, &server->addr) && peer_endpoint_candidate_index(p) == 1);
	uint64_t answered = phone->delivered;
	ping_for(phone, server, 5 * SEC);
	CHECK(phone->delivered - answered >= 49);
	sim_free(&sim);
}

/* Both sides send at 10 Hz, each on its own: the server's data does not
 * depend on the phone's arriving. */
static void both_send_for(struct sim_node *phone, struct sim_node *server, uint64_t dt)
{
	uint64_t end = sim.now + dt;
	while (sim.now < end) {
		sim_send(phone, server, ping_seq++, 56);
		sim_send(server, phone, ping_seq++, 56);
		sim_run_for(&sim, 100 * MS);
	}
}

/* The server's first address can still send but nothing reaches it (a
 * half-dead uplink). Its data, and its initiations when the phone's data
 * stops arriving, keep coming from there: they prove only that the server
 * reaches the phone. The phone's responses go unanswered (the server
 * initiates again), which counts as an unanswered attempt: the phone tries
 * the second address, where the server answers, and traffic flows both
 * ways. The server's next initiation, from its first address again (its
 * routing's source), does not bring the endpoint back: the second has
 * answered recently, and the response goes there. */
static void a_half_dead_first_address_is_failed_over(void)
{
	struct sim_node *phone, *server;
	dual_wan(&phone, &server, 49);
	struct peer *p = sim_peer_of(phone, server), *q = sim_peer_of(server, phone);
	both_send_for(phone, server, 2 * SEC);
	uint64_t died = sim.now;
	sim.unreachable[sim.unreachable_count++] = server->addr;
	uint64_t server_got = server->delivered, back = 0;
	for (int i = 0; i < 600 && !back; i++) {
		both_send_for(phone, server, 100 * MS);
		if (server->delivered > server_got)
			back = sim.now;
	}
	printf("  first address half-dead: the server hears the phone again %.2f s later (bound 21 s)\n",
	       back ? (double)(back - died) / SEC : -1.0);
	CHECK(back && back - died <= 21 * SEC);
	CHECK(endpoint_same_remote(&p->endpoint, &server->alias) && peer_endpoint_candidate_index(p) == 1);
	/* The server initiates from its first address (its route's source). */
	size_t changes = sim_count_events(phone, EVENT_ENDPOINT_CHANGED);
	peer_clear_source(q);
	q->has_sent_handshake = false;
	peer_send_initiation(q, false, sim.now);
	server_got = server->delivered;
	uint64_t phone_got = phone->delivered;
	both_send_for(phone, server, 10 * SEC);
	printf("  server initiated from the first address: %zu endpoint changes, %llu and %llu of 100 delivered\n",
	       sim_count_events(phone, EVENT_ENDPOINT_CHANGED) - changes,
	       (unsigned long long)(server->delivered - server_got), (unsigned long long)(phone->delivered - phone_got));
	CHECK(sim_count_events(phone, EVENT_ENDPOINT_CHANGED) == changes);
	CHECK(endpoint_same_remote(&p->endpoint, &server->alias));
	CHECK(server->delivered - server_got >= 95 && phone->delivered - phone_got >= 95);
	sim_free(&sim);
}

static struct endpoint address6(uint8_t last, uint16_t port)
{
	struct endpoint ep;
	uint8_t ip[16] = {0xfd, 0, 0, 6};
	ip[15] = last;
	endpoint_from_bytes(&ep, AF_INET6, ip, port);
	return ep;
}

/* A and AAAA both published, one family black-holed: the first initiation
 * goes to the first address, the same one to the other family 250 ms
 * later, and the handshake completes over the family that works within
 * 1 s of the first attempt. dead6: IPv6 dead (order v6, v4); else IPv4
 * dead (order v4, v6). */
static void race(bool dead6)
{
	sim_init(&sim, dead6 ? 48 : 49);
	struct sim_node *phone = sim_add_node(&sim), *server = sim_add_node(&sim);
	server->alias = address6(2, 51820);
	int err;
	struct peer *p = device_peer_create(phone->dev, server->public_key, sim.now, &err);
	struct peer *q = device_peer_create(server->dev, phone->public_key, sim.now, &err);
	CHECK(p && q && peer_allowedips_insert(p, AF_INET, server->inner_addr, 32) == 0 &&
	      peer_allowedips_insert(q, AF_INET, phone->inner_addr, 32) == 0);
	const struct endpoint *first = dead6 ? &server->alias : &server->addr;
	const struct endpoint *second = dead6 ? &server->addr : &server->alias;
	CHECK(peer_add_endpoint_candidate(p, first, sim.now) == 0 && peer_add_endpoint_candidate(p, second, sim.now) == 0);
	sim.black_holes[sim.black_hole_count++] = *first;
	uint64_t start = sim.now;
	CHECK(sim_send(phone, server, 1, 64) == SEND_STAGED);
	for (int i = 0; i < 200 && !sim_has_session(phone, server); i++)
		sim_run_for(&sim, 5 * MS);
	printf("  %s black-holed: handshake over %s %.0f ms after the first attempt\n", dead6 ? "IPv6" : "IPv4",
	       dead6 ? "IPv4" : "IPv6", (double)(sim.now - start) / MS);
	CHECK(sim_has_session(phone, server));
	CHECK(sim.now - start <= 1 * SEC);
	CHECK(endpoint_same_remote(&p->endpoint, second));
	const struct device_event_record *tried = last_event(phone, EVENT_CANDIDATE_TRIED);
	CHECK(tried && tried->candidate == 1 && tried->candidate_why == CANDIDATE_RACE &&
	      tried->at - start == FAMILY_RACE_DELAY);
	sim_run_for(&sim, 1 * SEC);
	CHECK(server->delivered == 1);
	/* Rekeys and probes of the preferred (dead) one over the working
	 * path race nothing, and the endpoint stays. */
	uint64_t t0 = sim.now;
	ping_for(phone, server, 130 * SEC);
	size_t races = 0, probes = 0;
	for (size_t i = 0; i < phone->event_count && i < SIM_MAX_EVENTS; i++)
		if (phone->events[i].type == EVENT_CANDIDATE_TRIED && phone->events[i].at > t0) {
			races += phone->events[i].candidate_why == CANDIDATE_RACE;
			probes += phone->events[i].candidate_why == CANDIDATE_PROBE_HOME;
		}
	CHECK(races == 0 && probes >= 3);
	CHECK(endpoint_same_remote(&p->endpoint, second));
	sim_free(&sim);
}

static void ipv6_black_holed_handshake_over_ipv4_within_1_s(void)
{
	race(true);
}

static void ipv4_black_holed_handshake_over_ipv6_within_1_s(void)
{
	race(false);
}

int main(void)
{
	RUN(fails_over_to_the_second_candidate_within_16_s);
	RUN(no_flapping_back_while_the_first_is_dead_and_return_when_it_answers);
	RUN(an_endpoint_learned_from_the_peer_wins_over_the_list);
	RUN(the_first_handshake_moves_on_after_one_unanswered_attempt);
	RUN(unauthenticated_packets_from_a_candidate_move_nothing);
	RUN(the_list_refuses_duplicates_and_overflow);
	RUN(a_new_answer_moves_only_a_silent_peer);
	RUN(a_first_candidate_that_never_answered_does_not_block_failover);
	RUN(a_half_dead_first_address_is_failed_over);
	RUN(ipv6_black_holed_handshake_over_ipv4_within_1_s);
	RUN(ipv4_black_holed_handshake_over_ipv6_within_1_s);
	return test_finish("test_sim_candidates");
}
