/* The engine over a hostile network: loss, reordering, duplication,
 * address changes, tampering, replays and floods. The one rule checked
 * throughout: only an authenticated, fresh packet moves an endpoint, and
 * of data only the newest the peer sent (not one arriving behind it). */
#include <stdlib.h>

#include "device_state.h"
#include "peer.h"
#include "sim.h"
#include "test.h"

#define SEC NSEC_PER_SEC
#define MS NSEC_PER_MSEC
#define US 1000ULL

static struct sim sim;

static bool quick(void)
{
	return getenv("ROAM_TEST_QUICK") != NULL;
}

/* 100,000 packets each way over a link that loses 5%, duplicates 1% and
 * reorders (up to 30 ms of jitter at 10 µs spacing): nothing is delivered
 * twice, and what is lost is about what the link lost. */
static void lossy_reordering_link_delivers_each_packet_at_most_once(void)
{
	struct sim_node *a, *b;
	sim_init(&sim, 21);
	CHECK(sim_pair(&sim, &a, &b));
	sim.loss_permille = 50;
	sim.duplicate_permille = 10;
	sim.jitter_ns = 30 * MS;
	uint32_t count = quick() ? 20000 : 100000;
	for (uint32_t i = 0; i < count; i++) {
		sim_send(a, b, i, 64);
		sim_send(b, a, i, 64);
		sim_run_for(&sim, 10 * US);
	}
	sim_run_for(&sim, 1 * SEC);
	CHECK(b->duplicates == 0 && a->duplicates == 0);
	CHECK(b->delivered > count * 93 / 100 && b->delivered < count * 97 / 100);
	CHECK(a->delivered > count * 93 / 100 && a->delivered < count * 97 / 100);
	/* Duplicates reached the engine and were refused as replays. */
	CHECK(sim_peer_of(b, a)->drops[DROP_REPLAY] > count / 200);
	printf("  lossy link: %u sent each way, delivered %llu and %llu, replays refused %llu\n", count,
	       (unsigned long long)b->delivered, (unsigned long long)a->delivered,
	       (unsigned long long)sim_peer_of(b, a)->drops[DROP_REPLAY]);
	sim_free(&sim);
}

static struct endpoint address(uint8_t last, uint16_t port)
{
	struct endpoint ep;
	uint8_t ip[4] = {203, 0, 113, last};
	endpoint_from_bytes(&ep, AF_INET, ip, port);
	return ep;
}

/* The phone changes address mid-stream: the server's endpoint follows the
 * first authenticated packet from the new address, and traffic keeps
 * flowing both ways. */
static void endpoint_follows_a_roaming_peer(void)
{
	struct sim_node *phone, *server;
	sim_init(&sim, 22);
	CHECK(sim_pair(&sim, &phone, &server));
	uint32_t seq = 0;
	for (int i = 0; i < 100; i++) {
		sim_send(phone, server, seq++, 64);
		sim_send(server, phone, seq++, 64);
		sim_run_for(&sim, 20 * MS);
	}
	struct endpoint old = phone->addr, lte = address(77, 40000);
	sim_move_node(phone, &lte);
	uint64_t moved_at = sim.now;
	for (int i = 0; i < 100; i++) {
		sim_send(phone, server, seq++, 64);
		sim_send(server, phone, seq++, 64);
		sim_run_for(&sim, 20 * MS);
	}
	struct peer_info info;
	peer_get_info(sim_peer_of(server, phone), &info);
	CHECK(endpoint_same_remote(&info.endpoint, &lte));
	CHECK(sim_count_events(server, EVENT_ENDPOINT_CHANGED) == 2); /* learnt, then moved */
	const struct device_event_record *last = &server->events[0];
	for (size_t i = 0; i < server->event_count && i < SIM_MAX_EVENTS; i++)
		if (server->events[i].type == EVENT_ENDPOINT_CHANGED)
			last = &server->events[i];
	CHECK(endpoint_same_remote(&last->old_ep, &old) && endpoint_same_remote(&last->new_ep, &lte));
	CHECK(last->at == moved_at + sim.delay_ns);
	/* Only the server's packets in flight at the switch were lost. */
	CHECK(phone->delivered >= 98 && server->delivered == 200);
	sim_free(&sim);
}

/* The server moves too (anycast, multi-homed): the client follows it. */
static void endpoint_follows_a_roaming_server(void)
{
	struct sim_node *client, *server;
	sim_init(&sim, 23);
	CHECK(sim_pair(&sim, &client, &server));
	struct endpoint moved = address(9, 51999);
	sim_move_node(server, &moved);
	sim_send(server, client, 1, 64);
	sim_run_for(&sim, 100 * MS);
	struct peer_info info;
	peer_get_info(sim_peer_of(client, server), &info);
	CHECK(endpoint_same_remote(&info.endpoint, &moved));
	sim_send(client, server, 2, 64);
	sim_run_for(&sim, 100 * MS);
	CHECK(server->delivered == 1);
	sim_free(&sim);
}

/* The endpoint of the last recorded EVENT_ENDPOINT_CHANGED, or NULL. */
static const struct device_event_record *last_endpoint_change(const struct sim_node *node)
{
	const struct device_event_record *last = NULL;
	for (size_t i = 0; i < node->event_count && i < SIM_MAX_EVENTS; i++)
		if (node->events[i].type == EVENT_ENDPOINT_CHANGED)
			last = &node->events[i];
	return last;
}

/* A packet the phone sent on the link it was leaving arrives only after
 * newer ones from the new address: as in the NAT lab, where a keepalive
 * sent as the Wi-Fi link died waited in the phone's neighbour-discovery
 * queue and left, with the old source, when the link came back 1 s later.
 * It is authentic and fresh, so it is delivered; but it says where the
 * phone was, not where it is: the server's endpoint stays on the new
 * path (before, it moved back, and the server's traffic went to the old
 * NAT until the phone's next keepalive). */
static void late_packet_from_the_old_path_leaves_the_endpoint(void)
{
	struct sim_node *phone, *server;
	sim_init(&sim, 24);
	CHECK(sim_pair(&sim, &phone, &server));
	struct sim_capture held = {.from = phone, .type = MESSAGE_DATA, .swallow = true, .max = 1};
	sim.filter = sim_capture_filter;
	sim.filter_ctx = &held;
	sim_send(phone, server, 1, 64);
	sim_run_for(&sim, 20 * MS);
	sim.filter = NULL;
	CHECK(held.count == 1 && server->delivered == 0);
	struct endpoint old = phone->addr, lte = address(77, 40000);
	sim_move_node(phone, &lte);
	for (uint32_t seq = 2; seq < 12; seq++) {
		sim_send(phone, server, seq, 64);
		sim_run_for(&sim, 20 * MS);
	}
	struct peer *at_server = sim_peer_of(server, phone);
	CHECK(endpoint_same_remote(&at_server->endpoint, &lte));
	size_t changes = sim_count_events(server, EVENT_ENDPOINT_CHANGED);

	CHECK(sim_inject(server, &held.src[0], held.data[0], held.len[0]) == RECEIVED_DATA);
	CHECK(endpoint_same_remote(&held.src[0], &old));
	CHECK(endpoint_same_remote(&at_server->endpoint, &lte));
	CHECK(sim_count_events(server, EVENT_ENDPOINT_CHANGED) == changes);
	CHECK(sim_count_events(server, EVENT_LATE_PACKET_ELSEWHERE) == 1);
	CHECK(server->delivered == 11);
	/* And the server's traffic still reaches the phone. */
	sim_send(server, phone, 100, 64);
	sim_run_for(&sim, 20 * MS);
	CHECK(phone->delivered == 1);
	/* The next packet in order from the old address is the newest: a
	 * peer that really went back is followed at once. */
	sim_move_node(phone, &old);
	sim_send(phone, server, 12, 64);
	sim_run_for(&sim, 20 * MS);
	CHECK(endpoint_same_remote(&at_server->endpoint, &old));
	const struct device_event_record *last = last_endpoint_change(server);
	CHECK(last && endpoint_same_remote(&last->old_ep, &lte) && endpoint_same_remote(&last->new_ep, &old));
	sim_free(&sim);
}

/* The same across a rekey: the held packet was the newest of the old
 * session (its counter is ahead of everything that session received), but
 * the phone has since sent under the new one, so it is a straggler. */
static void late_packet_of_the_previous_session_leaves_the_endpoint(void)
{
	struct sim_node *phone, *server;
	sim_init(&sim, 25);
	CHECK(sim_pair(&sim, &phone, &server));
	struct peer *at_phone = sim_peer_of(phone, server), *at_server = sim_peer_of(server, phone);
	struct sim_capture held = {.from = phone, .type = MESSAGE_DATA, .swallow = true, .max = 1};
	sim.filter = sim_capture_filter;
	sim.filter_ctx = &held;
	sim_send(phone, server, 1, 64);
	sim_run_for(&sim, 20 * MS);
	sim.filter = NULL;
	CHECK(held.count == 1);
	const struct noise_keypair *old_session = at_server->keypairs.current;
	struct endpoint lte = address(78, 40001);
	sim_move_node(phone, &lte);
	at_phone->has_sent_handshake = false; /* bypass its own send limit */
	peer_send_initiation(at_phone, false, sim.now);
	sim_run_for(&sim, 100 * MS);
	sim_send(phone, server, 2, 64);
	sim_run_for(&sim, 20 * MS);
	/* The new session is current at the server and has carried data. */
	CHECK(at_server->keypairs.previous == old_session && at_server->keypairs.current != old_session);
	CHECK(endpoint_same_remote(&at_server->endpoint, &lte) && server->delivered == 1);

	CHECK(sim_inject(server, &held.src[0], held.data[0], held.len[0]) == RECEIVED_DATA);
	CHECK(server->delivered == 2);
	CHECK(endpoint_same_remote(&at_server->endpoint, &lte));
	CHECK(sim_count_events(server, EVENT_LATE_PACKET_ELSEWHERE) == 1);
	sim_free(&sim);
}

/* Snapshot of everything a bad packet must not change. */
struct peer_state {
	struct endpoint endpoint;
	struct noise_keypair *prev, *cur, *next;
	uint64_t send_counter, replay_highest, rx_bytes, last_receive;
	enum noise_handshake_state hs_state;
	uint8_t latest_timestamp[12];
};

static void snapshot(struct peer *p, struct peer_state *s)
{
	memset(s, 0, sizeof(*s));
	s->endpoint = p->endpoint;
	s->prev = p->keypairs.previous;
	s->cur = p->keypairs.current;
	s->next = p->keypairs.next;
	if (s->cur) {
		s->send_counter = s->cur->send_counter;
		s->replay_highest = s->cur->replay.highest;
	}
	s->rx_bytes = p->rx_bytes;
	s->last_receive = p->last_receive_mono;
	s->hs_state = p->handshake.state;
	memcpy(s->latest_timestamp, p->handshake.latest_timestamp, 12);
}

static bool unchanged(struct peer *p, const struct peer_state *before)
{
	struct peer_state now;
	snapshot(p, &now);
	return memcmp(&now, before, sizeof(now)) == 0;
}

/* Flips every bit-position's byte of a captured message, one at a time,
 * and delivers it from an attacker's address: each copy must be dropped
 * with the victim's state untouched. Returns how many were accepted. */
static int flip_each_byte(struct sim_node *victim, struct peer *p, const uint8_t *msg, size_t len, size_t upto)
{
	struct endpoint attacker = address(66, 6666);
	int accepted = 0;
	struct peer_state before;
	snapshot(p, &before);
	for (size_t i = 0; i < upto; i++) {
		uint8_t copy[2048];
		memcpy(copy, msg, len);
		copy[i] ^= (uint8_t)(1u << (i % 8));
		enum receive_result r = sim_inject(victim, &attacker, copy, len);
		if (r != RECEIVED_DROPPED && r != RECEIVED_COOKIE_SENT)
			accepted++;
		if (!unchanged(p, &before))
			accepted++;
	}
	return accepted;
}

static void tampered_initiation_is_rejected(void)
{
	sim_init(&sim, 24);
	struct sim_node *a = sim_add_node(&sim), *b = sim_add_node(&sim);
	sim_connect(a, b, false);
	struct sim_capture cap = {.from = a, .type = MESSAGE_HANDSHAKE_INITIATION, .swallow = true, .max = 1};
	sim.filter = sim_capture_filter;
	sim.filter_ctx = &cap;
	peer_send_keepalive_now(sim_peer_of(a, b), sim.now);
	CHECK(cap.count == 1);
	struct peer *pa = sim_peer_of(b, a);
	/* Everything up to mac2 is covered by mac1 (and the AEADs). */
	CHECK(flip_each_byte(b, pa, cap.data[0], 148, 132) == 0);
	/* mac2 is only looked at under load, where a bad one earns a cookie
	 * reply and the initiation is not processed. */
	device_report_handshake_backlog(b->dev, UNDER_LOAD_QUEUE_LEN, sim.now);
	uint8_t copy[148];
	for (size_t i = 132; i < 148; i++) {
		memcpy(copy, cap.data[0], 148);
		copy[i] ^= 0x80;
		CHECK(sim_inject(b, &a->addr, copy, 148) == RECEIVED_COOKIE_SENT);
		sim_run_for(&sim, 50 * MS);
		device_report_handshake_backlog(b->dev, UNDER_LOAD_QUEUE_LEN, sim.now);
	}
	CHECK(pa->handshake.state == HANDSHAKE_ZEROED && !endpoint_is_set(&pa->endpoint));
	/* The untouched original still works once the load is gone. */
	sim_run_for(&sim, 2 * SEC);
	CHECK(sim_inject(b, &a->addr, cap.data[0], 148) == RECEIVED_HANDSHAKE);
	/* The first initiation b has from a: answered, but the endpoint
	 * waits for a's confirmation of the session. */
	CHECK(b->sent_responses == 1 && !endpoint_is_set(&pa->endpoint));
	sim_run_for(&sim, 1 * SEC);
	CHECK(sim_has_session(b, a) && endpoint_same_remote(&pa->endpoint, &a->addr));
	sim_free(&sim);
}

/* a's first initiation to b, kept from b: a forger's raw material (any
 * copy has a right mac1 for b). */
static bool capture_first_initiation(struct sim_node *a, struct sim_node *b, struct sim_capture *cap)
{
	*cap = (struct sim_capture){.from = a, .type = MESSAGE_HANDSHAKE_INITIATION, .swallow = true, .max = 1};
	sim.filter = sim_capture_filter;
	sim.filter_ctx = cap;
	peer_send_keepalive_now(sim_peer_of(a, b), sim.now);
	sim.filter = NULL;
	return cap->count == 1;
}

/* Under load, cookie replies are not rationed per source but share one
 * budget for the device: a burst of COOKIE_REPLIES_BURSTABLE at once, then
 * COOKIE_REPLIES_PER_SECOND; one address gets as many as another. */
static void cookie_replies_share_a_device_budget(void)
{
	sim_init(&sim, 37);
	struct sim_node *a = sim_add_node(&sim), *b = sim_add_node(&sim);
	sim_connect(a, b, false);
	struct sim_capture cap;
	CHECK(capture_first_initiation(a, b, &cap));
	device_report_handshake_backlog(b->dev, UNDER_LOAD_QUEUE_LEN, sim.now);
	struct endpoint flooder = address(66, 6666), other = address(67, 7777);
	int cookies = 0, extra = 100;
	for (int i = 0; i < COOKIE_REPLIES_BURSTABLE + extra; i++)
		cookies += sim_inject(b, &flooder, cap.data[0], 148) == RECEIVED_COOKIE_SENT;
	CHECK(cookies == COOKIE_REPLIES_BURSTABLE);
	CHECK(b->dev->drops[DROP_UNDER_LOAD_RATELIMIT] == (uint64_t)extra);
	CHECK(sim_inject(b, &other, cap.data[0], 148) == RECEIVED_DROPPED);
	/* 10 ms later the budget holds 500 more, for any address. */
	sim.now += 10 * MS;
	device_report_handshake_backlog(b->dev, UNDER_LOAD_QUEUE_LEN, sim.now);
	cookies = 0;
	for (int i = 0; i < 600; i++)
		cookies += sim_inject(b, i % 2 ? &other : &flooder, cap.data[0], 148) == RECEIVED_COOKIE_SENT;
	CHECK(cookies == COOKIE_REPLIES_PER_SECOND / 100);
	sim_free(&sim);
}

/* An attacker who forges initiations (mac1 only) from a victim's address
 * while we are under load must not lock the victim out: the forgeries earn
 * cookie replies, but only initiations with a valid mac2 count against the
 * source's 20 a second, so the victim's own cookie round trip still gets
 * through. (Rationed per source, the forgeries spent the victim's share and
 * it never connected while the attack lasted.) */
static void forged_initiations_do_not_lock_out_their_source(void)
{
	sim_init(&sim, 38);
	struct sim_node *a = sim_add_node(&sim), *b = sim_add_node(&sim);
	sim_connect(a, b, false);
	struct sim_capture cap;
	CHECK(capture_first_initiation(a, b, &cap));
	/* 100 forgeries a second from a's address, for up to 16 s, with b
	 * under load throughout; a retries every 5 s. */
	for (int step = 0; step < 1600 && !sim_has_session(a, b); step++) {
		device_report_handshake_backlog(b->dev, UNDER_LOAD_QUEUE_LEN, sim.now);
		sim_inject(b, &a->addr, cap.data[0], 148);
		sim_run_for(&sim, 10 * MS);
	}
	CHECK(device_is_under_load(b->dev, sim.now));
	CHECK(sim_has_session(a, b));
	CHECK(b->sent_responses >= 1);
	sim_free(&sim);
}

static void tampered_response_is_rejected(void)
{
	sim_init(&sim, 25);
	struct sim_node *a = sim_add_node(&sim), *b = sim_add_node(&sim);
	sim_connect(a, b, false);
	struct sim_capture cap = {.from = b, .type = MESSAGE_HANDSHAKE_RESPONSE, .swallow = true, .max = 1};
	sim.filter = sim_capture_filter;
	sim.filter_ctx = &cap;
	peer_send_keepalive_now(sim_peer_of(a, b), sim.now);
	sim_run_for(&sim, 100 * MS);
	CHECK(cap.count == 1);
	struct peer *pb = sim_peer_of(a, b);
	CHECK(flip_each_byte(a, pb, cap.data[0], 92, 76) == 0);
	CHECK(pb->handshake.state == HANDSHAKE_CREATED_INITIATION); /* still waiting */
	CHECK(sim_inject(a, &b->addr, cap.data[0], 92) == RECEIVED_HANDSHAKE);
	CHECK(sim_has_session(a, b));
	sim_free(&sim);
}

static void tampered_data_is_rejected(void)
{
	struct sim_node *a, *b;
	sim_init(&sim, 26);
	CHECK(sim_pair(&sim, &a, &b));
	struct sim_capture cap = {.from = a, .type = MESSAGE_DATA, .swallow = true, .max = 2};
	sim.filter = sim_capture_filter;
	sim.filter_ctx = &cap;
	sim_send(a, b, 5, 100);
	peer_send_keepalive_now(sim_peer_of(a, b), sim.now);
	sim.filter = NULL;
	CHECK(cap.count == 2);
	struct peer *pa = sim_peer_of(b, a);
	CHECK(flip_each_byte(b, pa, cap.data[0], cap.len[0], cap.len[0]) == 0);
	CHECK(flip_each_byte(b, pa, cap.data[1], cap.len[1], cap.len[1]) == 0);
	CHECK(b->delivered == 0);
	CHECK(sim_inject(b, &a->addr, cap.data[0], cap.len[0]) == RECEIVED_DATA);
	CHECK(sim_inject(b, &a->addr, cap.data[1], cap.len[1]) == RECEIVED_KEEPALIVE);
	sim_free(&sim);
}

static void tampered_cookie_reply_is_rejected(void)
{
	sim_init(&sim, 27);
	struct sim_node *a = sim_add_node(&sim), *b = sim_add_node(&sim);
	sim_connect(a, b, false);
	device_report_handshake_backlog(b->dev, UNDER_LOAD_QUEUE_LEN, sim.now);
	struct sim_capture cap = {.from = b, .type = MESSAGE_HANDSHAKE_COOKIE, .swallow = true, .max = 1};
	sim.filter = sim_capture_filter;
	sim.filter_ctx = &cap;
	peer_send_keepalive_now(sim_peer_of(a, b), sim.now);
	sim_run_for(&sim, 100 * MS);
	CHECK(cap.count == 1);
	struct peer *pb = sim_peer_of(a, b);
	struct endpoint attacker = address(66, 6666);
	for (size_t i = 0; i < 64; i++) {
		uint8_t copy[64];
		memcpy(copy, cap.data[0], 64);
		copy[i] ^= (uint8_t)(1u << (i % 8));
		CHECK(sim_inject(a, &attacker, copy, 64) == RECEIVED_DROPPED);
		CHECK(!pb->cookie.has_cookie);
	}
	CHECK(!endpoint_same_remote(&pb->endpoint, &attacker));
	CHECK(sim_inject(a, &b->addr, cap.data[0], 64) == RECEIVED_COOKIE);
	CHECK(pb->cookie.has_cookie);
	sim_free(&sim);
}

/* Under load: the initiation earns a cookie; the retry 5 s later carries
 * mac2 and is answered, even though the responder is still under load. */
static void cookie_exchange_under_load(void)
{
	sim_init(&sim, 28);
	struct sim_node *a = sim_add_node(&sim), *b = sim_add_node(&sim);
	sim_connect(a, b, false);
	device_report_handshake_backlog(b->dev, UNDER_LOAD_QUEUE_LEN, sim.now);
	sim_send(a, b, 1, 100);
	sim_run_for(&sim, 100 * MS);
	CHECK(b->sent_cookies == 1 && b->sent_responses == 0);
	CHECK(sim_count_events(a, EVENT_COOKIE_RECEIVED) == 1);
	/* Keep b under load through the retry. */
	for (int i = 0; i < 60; i++) {
		device_report_handshake_backlog(b->dev, UNDER_LOAD_QUEUE_LEN, sim.now);
		sim_run_for(&sim, 100 * MS);
	}
	CHECK(device_is_under_load(b->dev, sim.now));
	CHECK(a->sent_initiations == 2 && b->sent_responses == 1 && b->sent_cookies == 1);
	CHECK(b->delivered == 1);
	sim_free(&sim);
}

/* Under load with valid mac2, one source gets 20 handshakes/s (burst 5). */
static void under_load_ratelimit_per_source(void)
{
	sim_init(&sim, 29);
	struct sim_node *a = sim_add_node(&sim), *b = sim_add_node(&sim);
	sim_connect(a, b, false);
	struct peer *pb = sim_peer_of(a, b);
	/* Give a a cookie first. */
	device_report_handshake_backlog(b->dev, UNDER_LOAD_QUEUE_LEN, sim.now);
	sim_send(a, b, 1, 100);
	sim_run_for(&sim, 50 * MS);
	CHECK(pb->cookie.has_cookie);
	/* Now 40 fresh initiations with mac2 in 100 ms from one address. */
	struct sim_capture cap = {.from = a, .type = MESSAGE_HANDSHAKE_INITIATION, .swallow = true, .max = 1};
	uint64_t limited = b->dev->drops[DROP_UNDER_LOAD_RATELIMIT], answered = b->sent_responses;
	for (int i = 0; i < 40; i++) {
		cap.count = 0;
		sim.filter = sim_capture_filter;
		sim.filter_ctx = &cap;
		pb->has_sent_handshake = false; /* bypass our own send limit */
		peer_send_initiation(pb, false, sim.now);
		sim.filter = NULL;
		device_report_handshake_backlog(b->dev, UNDER_LOAD_QUEUE_LEN, sim.now);
		sim_inject(b, &a->addr, cap.data[0], cap.len[0]);
		sim_run_for(&sim, 25 * MS); /* also clears the 20 ms flood limit */
	}
	uint64_t ok = b->sent_responses - answered, refused = b->dev->drops[DROP_UNDER_LOAD_RATELIMIT] - limited;
	/* 1 s of budget: 5 burst + 20/s over the 1 s = about 25. */
	CHECK(ok >= 20 && ok <= 27);
	CHECK(ok + refused == 40);
	sim_free(&sim);
}

/* Nothing but an authenticated, fresh packet moves an endpoint. */
static void endpoint_never_moved_by_garbage_or_replays(void)
{
	struct sim_node *a, *b;
	sim_init(&sim, 30);
	CHECK(sim_pair(&sim, &a, &b));
	struct peer *pa = sim_peer_of(b, a);
	struct sim_capture data = {.from = a, .type = MESSAGE_DATA, .max = 1};
	sim.filter = sim_capture_filter;
	sim.filter_ctx = &data;
	sim_send(a, b, 1, 100);
	sim_run_for(&sim, 100 * MS);
	sim.filter = NULL;
	CHECK(data.count == 1 && b->delivered == 1);
	struct endpoint attacker = address(66, 6666);
	uint64_t rng = 99;
	uint8_t junk[200];
	for (int i = 0; i < 10000; i++) {
		size_t len = sim_rand(&rng) % sizeof(junk);
		for (size_t j = 0; j < len; j++)
			junk[j] = (uint8_t)sim_rand(&rng);
		if (len >= 4 && i % 4 == 2)
			le32_write(junk, 1 + (uint32_t)(sim_rand(&rng) % 4)); /* right type, wrong size */
		else if (len >= 4 && i % 2) {
			/* Well-formed headers: right type, right size. */
			uint32_t type = 1 + (uint32_t)(sim_rand(&rng) % 4);
			static const size_t sizes[] = {0, 148, 92, 64, 32};
			len = type == 4 ? 32 + (size_t)(sim_rand(&rng) % 160) : sizes[type];
			le32_write(junk, type);
			if (i % 4 == 1)	/* and a receiver index that exists */
				le32_write(junk + (type == 2 ? 8 : 4), pa->keypairs.current->local_index);
		}
		sim_inject(b, &attacker, junk, len);
	}
	/* Replays of the real data packet, from the attacker. */
	for (int i = 0; i < 100; i++)
		CHECK(sim_inject(b, &attacker, data.data[0], data.len[0]) == RECEIVED_DROPPED);
	CHECK(endpoint_same_remote(&pa->endpoint, &a->addr));
	CHECK(b->delivered == 1);
	CHECK(pa->drops[DROP_REPLAY] == 100);
	uint64_t drops[DROP_REASON_COUNT];
	device_get_drops(b->dev, drops);
	CHECK(drops[DROP_UNKNOWN_TYPE] > 0 && drops[DROP_BAD_SIZE] > 0 && drops[DROP_BAD_MAC1] > 0);
	CHECK(drops[DROP_UNKNOWN_INDEX] > 0 && drops[DROP_BAD_AUTH] > 0);
	/* The tunnel still works. */
	sim_send(a, b, 2, 100);
	sim_send(b, a, 3, 100);
	sim_run_for(&sim, 100 * MS);
	CHECK(b->delivered == 2 && a->delivered == 1);
	sim_free(&sim);
}

/* A fresh sim (seed) in which a's first initiation to b made a session,
 * and a copy of that initiation in *cap: a replayer's raw material. */
static void first_handshake_captured(uint64_t seed, bool both_ways, struct sim_node **a, struct sim_node **b,
				     struct sim_capture *cap)
{
	sim_init(&sim, seed);
	*a = sim_add_node(&sim);
	*b = sim_add_node(&sim);
	sim_connect(*a, *b, both_ways);
	*cap = (struct sim_capture){.from = *a, .type = MESSAGE_HANDSHAKE_INITIATION, .max = 1};
	sim.filter = sim_capture_filter;
	sim.filter_ctx = cap;
	peer_send_keepalive_now(sim_peer_of(*a, *b), sim.now);
	sim_run_for(&sim, 1 * SEC);
	sim.filter = NULL;
	CHECK(cap->count == 1 && sim_has_session(*b, *a));
}

/* A captured initiation replayed later, from anywhere, is refused: its
 * timestamp is not newer than the last one accepted. */
static void replayed_initiation_is_refused(void)
{
	struct sim_node *a, *b;
	static struct sim_capture cap;
	first_handshake_captured(31, false, &a, &b, &cap);
	struct peer *pa = sim_peer_of(b, a);
	struct peer_state before;
	snapshot(pa, &before);
	struct endpoint attacker = address(66, 6666);
	CHECK(sim_inject(b, &attacker, cap.data[0], 148) == RECEIVED_DROPPED);
	CHECK(pa->drops[DROP_STALE_TIMESTAMP] == 1);
	CHECK(unchanged(pa, &before));
	CHECK(b->sent_responses == 1);
	sim_free(&sim);
}

/* The same after the peer was removed and configured again (what `wg
 * setconf` or replace_peers does): the new peer inherits the newest
 * timestamp its key had, so the replay neither completes a handshake nor
 * moves the endpoint to the attacker. */
static void replayed_initiation_is_refused_after_reconfiguration(void)
{
	struct sim_node *a, *b;
	static struct sim_capture cap;
	first_handshake_captured(36, false, &a, &b, &cap);
	uint8_t key[NOISE_PUBLIC_KEY_LEN];
	memcpy(key, sim_peer_of(b, a)->public_key, sizeof(key));
	/* Other peers come and go in between; the ring keeps this one. */
	for (int round = 0; round < 3; round++) {
		device_peer_remove(b->dev, sim_peer_of(b, a));
		for (uint8_t i = 1; i <= 10; i++) {
			uint8_t other[NOISE_PUBLIC_KEY_LEN];
			memset(other, i + 16 * round, sizeof(other));
			int err;
			struct peer *p = device_peer_create(b->dev, other, sim.now, &err);
			if (CHECK(p != NULL))
				device_peer_remove(b->dev, p);
		}
		int err;
		struct peer *pa = device_peer_create(b->dev, key, sim.now, &err);
		if (!CHECK(pa != NULL))
			break;
		peer_set_endpoint(pa, &a->addr);
		CHECK(peer_allowedips_insert(pa, AF_INET, a->inner_addr, 32) == 0);
		struct endpoint attacker = address(66, (uint16_t)(6666 + round));
		CHECK(sim_inject(b, &attacker, cap.data[0], 148) == RECEIVED_DROPPED);
		CHECK(pa->drops[DROP_STALE_TIMESTAMP] == 1);
		CHECK(endpoint_same_remote(&pa->endpoint, &a->addr));
		CHECK(b->sent_responses == 1);
	}
	/* The real peer's next initiation, newer, is accepted. */
	struct peer *pb = sim_peer_of(a, b);
	pb->has_sent_handshake = false; /* bypass its own send limit */
	peer_send_initiation(pb, false, sim.now);
	sim_run_for(&sim, 1 * SEC);
	CHECK(b->sent_responses == 2 && sim_has_session(b, a));
	sim_free(&sim);
}

/* After a restart every timestamp is forgotten, so a captured initiation
 * is accepted once more (the kernel and wireguard-go accept it too). It is
 * answered where it came from, but it does not move the endpoint: only the
 * data that confirms the session does, and only the real peer can send
 * that. The real peer then connects as ever, from wherever it is. */
static void initiation_replayed_after_restart_does_not_move_the_endpoint(void)
{
	struct sim_node *a, *b;
	static struct sim_capture cap;
	first_handshake_captured(37, true, &a, &b, &cap);
	/* A second, newer initiation of a's, captured too. */
	static struct sim_capture cap2;
	cap2 = (struct sim_capture){.from = a, .type = MESSAGE_HANDSHAKE_INITIATION, .max = 1};
	sim.filter = sim_capture_filter;
	sim.filter_ctx = &cap2;
	sim_run_for(&sim, 6 * SEC);
	struct peer *to_b = sim_peer_of(a, b);
	to_b->has_sent_handshake = false;
	peer_send_initiation(to_b, false, sim.now);
	sim_run_for(&sim, 1 * SEC);
	sim.filter = NULL;
	CHECK(cap2.count == 1 && memcmp(cap2.data[0], cap.data[0], 148) != 0);
	uint8_t key[NOISE_PUBLIC_KEY_LEN];
	memcpy(key, sim_peer_of(b, a)->public_key, sizeof(key));
	/* b restarts: the peer is configured afresh and nothing is remembered. */
	device_peer_remove(b->dev, sim_peer_of(b, a));
	timestamp_memory_free(&b->dev->removed_timestamps);
	int err;
	struct peer *pa = device_peer_create(b->dev, key, sim.now, &err);
	if (!CHECK(pa != NULL))
		return sim_free(&sim);
	peer_set_endpoint(pa, &a->addr);
	CHECK(peer_allowedips_insert(pa, AF_INET, a->inner_addr, 32) == 0);
	size_t moves = sim_count_events(b, EVENT_ENDPOINT_CHANGED);
	struct endpoint attacker = address(66, 6670);
	size_t responses = b->sent_responses;
	CHECK(sim_inject(b, &attacker, cap.data[0], 148) == RECEIVED_HANDSHAKE);
	CHECK(b->sent_responses == responses + 1); /* answered, to the attacker */
	CHECK(endpoint_same_remote(&pa->endpoint, &a->addr));
	CHECK(sim_count_events(b, EVENT_ENDPOINT_CHANGED) == moves);
	/* The newer capture now beats the first replay's timestamp: still
	 * nobody has proven a session, so it moves nothing either (an
	 * outside attacker moved the endpoint this way once). */
	struct endpoint attacker2 = address(66, 6671);
	sim_run_for(&sim, 100 * MS); /* past the initiation flood limit */
	CHECK(sim_inject(b, &attacker2, cap2.data[0], 148) == RECEIVED_HANDSHAKE);
	CHECK(b->sent_responses == responses + 2);
	CHECK(endpoint_same_remote(&pa->endpoint, &a->addr));
	CHECK(sim_count_events(b, EVENT_ENDPOINT_CHANGED) == moves);
	/* The attacker cannot confirm the session; a can, from a new address
	 * it moved to while b was down. */
	sim_run_for(&sim, 1 * SEC);
	CHECK(endpoint_same_remote(&pa->endpoint, &a->addr));
	struct endpoint moved = address(77, 7777);
	sim_move_node(a, &moved);
	struct peer *pb = sim_peer_of(a, b);
	pb->has_sent_handshake = false; /* bypass its own send limit */
	peer_send_initiation(pb, false, sim.now);
	sim_run_for(&sim, 1 * SEC);
	CHECK(sim_has_session(b, a));
	CHECK(endpoint_same_remote(&pa->endpoint, &moved));
	sim_send(b, a, 5, 100);
	sim_run_for(&sim, 100 * MS);
	CHECK(a->delivered >= 1);
	sim_free(&sim);
}

/* A decrypted packet whose inner source is not the sender's AllowedIPs is
 * dropped; it still proves where the peer is (docs/protocol.md §4.2). */
static void inner_source_must_belong_to_the_sender(void)
{
	struct sim_node *a, *b;
	sim_init(&sim, 32);
	CHECK(sim_pair(&sim, &a, &b));
	struct sim_node *c = sim_add_node(&sim);
	sim_connect(c, b, false);
	/* a forges c's inner address. */
	memcpy(a->inner_addr, c->inner_addr, 4);
	peer_allowedips_insert(sim_peer_of(a, b), AF_INET, b->inner_addr, 32);
	sim_send(a, b, 1, 100);
	sim_run_for(&sim, 100 * MS);
	CHECK(b->delivered == 0);
	CHECK(sim_peer_of(b, a)->drops[DROP_DISALLOWED_SRC] == 1);
	sim_free(&sim);
}

/* A link-local inner source (the peer's tun's own router solicitations and
 * MLD) is counted apart: disallowed_src and its latest source keep saying
 * which tunnel address is refused. */
static void link_local_source_is_not_disallowed_src(void)
{
	static const uint8_t link_local[4] = { 169, 254, 7, 7 };
	struct sim_node *a, *b;
	sim_init(&sim, 134);
	CHECK(sim_pair(&sim, &a, &b));
	memcpy(a->inner_addr, link_local, 4);
	sim_send(a, b, 1, 100);
	sim_run_for(&sim, 100 * MS);
	CHECK(b->delivered == 0);
	CHECK(sim_peer_of(b, a)->drops[DROP_LINK_LOCAL_SRC] == 1);
	CHECK(sim_peer_of(b, a)->drops[DROP_DISALLOWED_SRC] == 0);
	CHECK(sim_peer_of(b, a)->last_disallowed_family == 0);
	sim_free(&sim);
}

/* Removing a peer wipes its keys: its indices resolve to nothing. */
static void removed_peer_leaves_nothing_behind(void)
{
	struct sim_node *a, *b;
	sim_init(&sim, 33);
	CHECK(sim_pair(&sim, &a, &b));
	struct sim_capture cap = {.from = a, .type = MESSAGE_DATA, .swallow = true, .max = 1};
	sim.filter = sim_capture_filter;
	sim.filter_ctx = &cap;
	sim_send(a, b, 1, 100);
	sim.filter = NULL;
	device_peer_remove(b->dev, sim_peer_of(b, a));
	CHECK(b->dev->indices.count == 0 && device_peer_count(b->dev) == 0);
	CHECK(sim_inject(b, &a->addr, cap.data[0], cap.len[0]) == RECEIVED_DROPPED);
	CHECK(b->dev->drops[DROP_UNKNOWN_INDEX] == 1);
	sim_free(&sim);
}

/* A new private key invalidates every session and starts new handshakes
 * at once; the peer that knows the new public key completes one. */
static void private_key_change_rehandshakes(void)
{
	struct sim_node *a, *b;
	sim_init(&sim, 34);
	CHECK(sim_pair(&sim, &a, &b));
	uint8_t random[32], priv[32], pub[32];
	memset(random, 0x42, sizeof(random));
	x25519_private_from_random(priv, random);
	x25519_public_from_private(pub, priv);
	/* b re-keys its view of a first, as an operator would. */
	device_peer_remove(b->dev, sim_peer_of(b, a));
	memcpy(a->public_key, pub, 32);
	int err;
	struct peer *pa = device_peer_create(b->dev, pub, sim.now, &err);
	CHECK(pa && peer_allowedips_insert(pa, AF_INET, a->inner_addr, 32) == 0);
	uint64_t inits = a->sent_initiations;
	device_set_private_key(a->dev, priv, sim.now);
	CHECK(a->sent_initiations == inits + 1);
	sim_run_for(&sim, 1 * SEC);
	sim_send(a, b, 1, 100);
	sim_run_for(&sim, 1 * SEC);
	CHECK(b->delivered == 1);
	sim_free(&sim);
}

int main(void)
{
	RUN(lossy_reordering_link_delivers_each_packet_at_most_once);
	RUN(endpoint_follows_a_roaming_peer);
	RUN(endpoint_follows_a_roaming_server);
	RUN(late_packet_from_the_old_path_leaves_the_endpoint);
	RUN(late_packet_of_the_previous_session_leaves_the_endpoint);
	RUN(tampered_initiation_is_rejected);
	RUN(tampered_response_is_rejected);
	RUN(tampered_data_is_rejected);
	RUN(tampered_cookie_reply_is_rejected);
	RUN(cookie_exchange_under_load);
	RUN(under_load_ratelimit_per_source);
	RUN(endpoint_never_moved_by_garbage_or_replays);
	RUN(replayed_initiation_is_refused);
	RUN(cookie_replies_share_a_device_budget);
	RUN(forged_initiations_do_not_lock_out_their_source);
	RUN(replayed_initiation_is_refused_after_reconfiguration);
	RUN(initiation_replayed_after_restart_does_not_move_the_endpoint);
	RUN(inner_source_must_belong_to_the_sender);
	RUN(link_local_source_is_not_disallowed_src);
	RUN(removed_peer_leaves_nothing_behind);
	RUN(private_key_change_rehandshakes);
	return test_finish("test_sim_network");
}
