/* Roaming history and NAT-binding inference, driven through the engine. */
#include "history.h"
#include "peer.h"
#include "sim.h"
#include "test.h"

#define SEC NSEC_PER_SEC
#define MS NSEC_PER_MSEC

static struct sim sim;

static struct endpoint at(uint8_t last, uint16_t port)
{
	struct endpoint ep;
	uint8_t ip[4] = {198, 51, 100, last};
	endpoint_from_bytes(&ep, AF_INET, ip, port);
	return ep;
}

static const struct peer_history *history_of(struct sim_node *n, struct sim_node *other)
{
	return peer_get_history(sim_peer_of(n, other));
}

/* An active roam (traffic flowing) is recorded, but is no NAT evidence. */
static void active_roam_is_history_not_nat_evidence(void)
{
	struct sim_node *phone, *server;
	sim_init(&sim, 51);
	CHECK(sim_pair(&sim, &phone, &server));
	struct endpoint wifi = phone->addr, lte = at(20, 40001);
	for (int i = 0; i < 10; i++) {
		sim_send(phone, server, (uint32_t)i, 64);
		sim_run_for(&sim, 20 * MS);
	}
	sim_move_node(phone, &lte);
	for (int i = 10; i < 20; i++) {
		sim_send(phone, server, (uint32_t)i, 64);
		sim_run_for(&sim, 20 * MS);
	}
	const struct peer_history *h = history_of(server, phone);
	CHECK(h != NULL);
	if (!h)
		return;
	/* handshake, first endpoint learnt, the roam */
	CHECK(h->endpoint_changes == 2);
	const struct history_entry *last = history_entry_at(h, h->count - 1);
	CHECK(last->kind == HISTORY_ENDPOINT_CHANGED);
	CHECK(endpoint_same_remote(&last->old_endpoint, &wifi) && endpoint_same_remote(&last->new_endpoint, &lte));
	CHECK(last->idle_before == 20 * MS);
	CHECK(last->wall_ns == sim.wall_base_ns + last->mono);
	CHECK(h->nat_rebinds == 0 && h->nat_rebound_min_idle == 0);
	CHECK(history_suggested_keepalive(h) == 0);
	CHECK(history_entry_at(h, 0)->kind == HISTORY_HANDSHAKE_COMPLETE ||
	      history_entry_at(h, 0)->kind == HISTORY_ENDPOINT_CHANGED);
	sim_free(&sim);
}

/* Silent for 30 s, back from a new port: the NAT forgot within 30 s. Silent
 * for 20 s, back from the same port: it remembered for 20 s. */
static void nat_timeout_is_bracketed_by_idle_gaps(void)
{
	struct sim_node *phone, *server;
	sim_init(&sim, 52);
	CHECK(sim_pair(&sim, &phone, &server));
	sim_send(phone, server, 1, 64);
	sim_run_for(&sim, 20 * SEC);
	sim_send(phone, server, 2, 64);	/* same binding after 20 s */
	sim_run_for(&sim, 30 * SEC);
	struct endpoint rebound = phone->addr;
	rebound.addr.in4.sin_port = htons(61000);
	sim_move_node(phone, &rebound);
	sim_send(phone, server, 3, 64);	/* new port after 30 s */
	sim_run_for(&sim, 100 * MS);
	CHECK(server->delivered == 3);
	const struct peer_history *h = history_of(server, phone);
	CHECK(h != NULL);
	if (!h)
		return;
	CHECK(h->nat_rebinds == 1);
	CHECK(h->nat_rebound_min_idle == 30 * SEC);
	CHECK(h->nat_kept_max_idle >= 20 * SEC && h->nat_kept_max_idle < 21 * SEC);
	CHECK(history_suggested_keepalive(h) == 15);
	/* A later, shorter rebinding tightens the bound. */
	sim_run_for(&sim, 8 * SEC);
	rebound.addr.in4.sin_port = htons(61001);
	sim_move_node(phone, &rebound);
	sim_send(phone, server, 4, 64);
	sim_run_for(&sim, 100 * MS);
	CHECK(h->nat_rebinds == 2 && h->nat_rebound_min_idle >= 8 * SEC && h->nat_rebound_min_idle < 9 * SEC);
	CHECK(history_suggested_keepalive(h) == 4);
	sim_free(&sim);
}

/* A peer that restarts behind the same NAT comes back from a new port with
 * a handshake initiation: history, but no NAT evidence (an outside tester
 * saw roam doctor tell a healthy client's operator that its NAT forgets it).
 * The same silence ended by the session's next packet from a new port is. */
static void restart_from_a_new_port_is_no_nat_evidence(void)
{
	struct sim_node *phone, *server;
	sim_init(&sim, 53);
	CHECK(sim_pair(&sim, &phone, &server));
	sim_send(phone, server, 1, 64);
	sim_run_for(&sim, 30 * SEC);
	struct endpoint restarted = phone->addr;
	restarted.addr.in4.sin_port = htons(62000);
	sim_move_node(phone, &restarted);
	struct peer *to_server = sim_peer_of(phone, server);
	to_server->has_sent_handshake = false; /* a new process: its first handshake */
	peer_send_initiation(to_server, false, sim.now);
	sim_run_for(&sim, 1 * SEC);
	sim_send(phone, server, 2, 64);
	sim_run_for(&sim, 100 * MS);
	CHECK(server->delivered == 2);
	const struct peer_history *h = history_of(server, phone);
	if (!CHECK(h != NULL))
		return sim_free(&sim);
	CHECK(endpoint_same_remote(&sim_peer_of(server, phone)->endpoint, &restarted));
	CHECK(h->endpoint_changes == 2); /* learnt, then the restart */
	CHECK(h->nat_rebinds == 0 && history_suggested_keepalive(h) == 0);
	/* Silent again, then the session's next packet from a new port: that
	 * is the NAT. */
	sim_run_for(&sim, 25 * SEC);
	struct endpoint rebound = restarted;
	rebound.addr.in4.sin_port = htons(62001);
	sim_move_node(phone, &rebound);
	sim_send(phone, server, 3, 64);
	sim_run_for(&sim, 100 * MS);
	CHECK(h->nat_rebinds == 1 && h->nat_rebound_min_idle >= 25 * SEC);
	sim_free(&sim);
}

/* The ring keeps the newest HISTORY_ENTRIES, oldest first. */
static void history_is_bounded(void)
{
	struct sim_node *phone, *server;
	sim_init(&sim, 53);
	CHECK(sim_pair(&sim, &phone, &server));
	for (int i = 0; i < 40; i++) {
		struct endpoint ep = at((uint8_t)(100 + i), 40000);
		sim_move_node(phone, &ep);
		sim_send(phone, server, (uint32_t)i, 64);
		sim_run_for(&sim, 50 * MS);
	}
	const struct peer_history *h = history_of(server, phone);
	CHECK(h && h->count == HISTORY_ENTRIES && h->endpoint_changes == 41);
	if (!h)
		return;
	for (unsigned i = 1; i < h->count; i++)
		CHECK(history_entry_at(h, i)->mono > history_entry_at(h, i - 1)->mono);
	struct endpoint newest = at(139, 40000);
	CHECK(endpoint_same_remote(&history_entry_at(h, h->count - 1)->new_endpoint, &newest));
	sim_free(&sim);
}

static bool drop_all(void *ctx, struct sim_node *from, struct sim_node *to, uint8_t *data, size_t *len)
{
	(void)ctx, (void)from, (void)to, (void)data, (void)len;
	return false;
}

/* Handshake outcomes: a give-up and the zeroing are on record. */
static void handshake_outcomes_are_recorded(void)
{
	sim_init(&sim, 54);
	struct sim_node *a = sim_add_node(&sim), *b = sim_add_node(&sim);
	sim_connect(a, b, false);
	sim.filter = drop_all;
	sim_send(a, b, 1, 64);
	sim_run_for(&sim, 700 * SEC);
	const struct peer_history *h = history_of(a, b);
	CHECK(h && h->count == 2);
	if (!h)
		return;
	CHECK(history_entry_at(h, 0)->kind == HISTORY_HANDSHAKE_GIVEN_UP);
	CHECK(history_entry_at(h, 1)->kind == HISTORY_KEYS_ZEROED);
	/* Idle configured peers cost no history memory. */
	struct sim_node *c = sim_add_node(&sim);
	sim_connect(c, a, false);
	CHECK(peer_get_history(sim_peer_of(c, a)) == NULL);
	sim_free(&sim);
}

int main(void)
{
	RUN(active_roam_is_history_not_nat_evidence);
	RUN(nat_timeout_is_bracketed_by_idle_gaps);
	RUN(restart_from_a_new_port_is_no_nat_evidence);
	RUN(history_is_bounded);
	RUN(handshake_outcomes_are_recorded);
	return test_finish("test_sim_history");
}
