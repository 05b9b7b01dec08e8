/* The engine's side of path MTU (src/core/pathmtu.c): what a report may
 * change (floors, only lower from ICMP, a probe replaces), when the value is
 * forgotten (endpoint or source change, lifetime, peer removal), that
 * padding never pushes a fitting packet over the path, and that only an
 * ICMP error quoting a data message we really sent names a peer. */
#include <string.h>

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

static void reports_are_clamped_and_only_lower(void)
{
	struct sim_node *a, *b;
	enum path_mtu_origin origin;
	sim_init(&sim, 31);
	CHECK(sim_pair(&sim, &a, &b));
	struct peer *p = sim_peer_of(a, b);
	uint64_t now = sim.now;

	CHECK(peer_path_mtu(p, &origin, now) == 0 && origin == PATH_MTU_INTERFACE);
	CHECK(peer_path_inner_limit(p, now) == 0 && device_path_mtu_peers(a->dev) == 0);
	/* MTU 0 says nothing; 68 is taken to the IPv4 floor. */
	CHECK(peer_set_path_mtu(p, 0, PATH_MTU_ICMP, now) == 0);
	CHECK(peer_set_path_mtu(p, 68, PATH_MTU_ICMP, now) == PATH_MTU_FLOOR_V4);
	CHECK(device_path_mtu_peers(a->dev) == 1);
	/* ICMP cannot raise it; a probe (a measurement of the path) can. */
	CHECK(peer_set_path_mtu(p, 1400, PATH_MTU_ICMP, now) == PATH_MTU_FLOOR_V4);
	CHECK(peer_set_path_mtu(p, 1300, PATH_MTU_PROBE, now) == 1300);
	CHECK(peer_path_mtu(p, &origin, now) == 1300 && origin == PATH_MTU_PROBE);
	CHECK(peer_set_path_mtu(p, 1200, PATH_MTU_LOCAL, now) == 1200);
	CHECK(peer_path_mtu(p, &origin, now) == 1200 && origin == PATH_MTU_LOCAL);
	/* 1200 - 60, rounded down to 16. */
	CHECK(peer_path_inner_limit(p, now) == 1136);
	CHECK(device_path_mtu_peers(a->dev) == 1);
	sim_free(&sim);
}

static void forgotten_when_the_path_changes(void)
{
	struct sim_node *a, *b;
	sim_init(&sim, 32);
	CHECK(sim_pair(&sim, &a, &b));
	struct peer *p = sim_peer_of(a, b);

	CHECK(peer_set_path_mtu(p, 1280, PATH_MTU_ICMP, sim.now) == 1280);
	struct endpoint other = address(9, 4000);
	peer_set_endpoint(p, &other);
	CHECK(peer_path_mtu(p, NULL, sim.now) == 0 && device_path_mtu_peers(a->dev) == 0);
	peer_set_endpoint(p, &b->addr);

	CHECK(peer_set_path_mtu(p, 1280, PATH_MTU_ICMP, sim.now) == 1280);
	peer_forget_source(p);
	CHECK(peer_path_mtu(p, NULL, sim.now) == 0 && device_path_mtu_peers(a->dev) == 0);

	/* The server learns b's new address from its packets: a new path. */
	struct peer *q = sim_peer_of(b, a);
	CHECK(peer_set_path_mtu(q, 1000, PATH_MTU_ICMP, sim.now) == 1000);
	struct endpoint lte = address(77, 40000);
	sim_move_node(a, &lte);
	for (uint32_t i = 0; i < 5; i++) {
		sim_send(a, b, i, 64);
		sim_run_for(&sim, 20 * MS);
	}
	CHECK(peer_path_mtu(q, NULL, sim.now) == 0);

	/* Lifetime: a path that grew back is used again. */
	CHECK(peer_set_path_mtu(q, 1000, PATH_MTU_ICMP, sim.now) == 1000);
	sim_run_for(&sim, PATH_MTU_LIFETIME - SEC);
	CHECK(peer_path_mtu(q, NULL, sim.now) == 1000);
	sim_run_for(&sim, 2 * SEC);
	CHECK(peer_path_mtu(q, NULL, sim.now) == 0 && peer_path_inner_limit(q, sim.now) == 0);
	/* An expired value is replaced, not stacked. */
	CHECK(peer_set_path_mtu(q, 1100, PATH_MTU_ICMP, sim.now) == 1100 && device_path_mtu_peers(b->dev) == 1);

	device_peer_remove(b->dev, q);
	CHECK(device_path_mtu_peers(b->dev) == 0);
	sim_free(&sim);
}

/* Padding rounds up to 16 bytes but never past what the path carries. */
static void padding_stays_within_the_path(void)
{
	struct sim_node *a, *b;
	struct sim_capture cap = {.type = MESSAGE_DATA, .max = 16};
	sim_init(&sim, 33);
	CHECK(sim_pair(&sim, &a, &b));
	struct peer *p = sim_peer_of(a, b);
	cap.from = a;
	sim.filter = sim_capture_filter;
	sim.filter_ctx = &cap;

	unsigned limit = 0;
	CHECK(peer_set_path_mtu(p, 601, PATH_MTU_ICMP, sim.now) == 601);
	limit = peer_path_inner_limit(p, sim.now);
	CHECK(limit == 528); /* (601 - 60) & ~15 */
	/* An inner packet of limit - 3 bytes: padded to the limit, not to the
	 * next multiple of 16 past it. sim_send's packet is a 20-byte IPv4
	 * header, 8 bytes of sequence and the payload. */
	sim_send(a, b, 1, limit - 3 - 28);
	sim_run_for(&sim, 10 * MS);
	CHECK(cap.count == 1);
	CHECK(cap.len[0] == 32 + limit);
	CHECK(cap.len[0] + 28 <= 601);
	CHECK(b->delivered >= 1);
	sim.filter = NULL;
	sim_free(&sim);
}

static void only_a_quote_of_our_own_data_names_a_peer(void)
{
	struct sim_node *a, *b;
	struct sim_capture cap = {.type = MESSAGE_DATA, .max = 4};
	sim_init(&sim, 34);
	CHECK(sim_pair(&sim, &a, &b));
	cap.from = a;
	sim.filter = sim_capture_filter;
	sim.filter_ctx = &cap;
	sim_send(a, b, 7, 100);
	sim_run_for(&sim, 10 * MS);
	sim.filter = NULL;
	CHECK(cap.count == 1);
	struct peer *p = sim_peer_of(a, b);
	uint8_t q[64];
	memcpy(q, cap.data[0], sizeof(q));

	CHECK(device_peer_for_quoted_datagram(a->dev, &b->addr, q, 16) == p);
	CHECK(device_peer_for_quoted_datagram(a->dev, &b->addr, q, sizeof(q)) == p);
	/* Too little quoted to tell. */
	CHECK(device_peer_for_quoted_datagram(a->dev, &b->addr, q, 15) == NULL);
	/* Another destination than the peer's endpoint. */
	struct endpoint elsewhere = address(200, 51820);
	CHECK(device_peer_for_quoted_datagram(a->dev, &elsewhere, q, 16) == NULL);
	/* A receiver index that is none of the peer's sessions. */
	uint8_t forged[16];
	memcpy(forged, q, 16);
	forged[4] ^= 0x5a;
	CHECK(device_peer_for_quoted_datagram(a->dev, &b->addr, forged, 16) == NULL);
	/* A counter the session has not used yet. */
	memcpy(forged, q, 16);
	le64_write(forged + 8, 1000000);
	CHECK(device_peer_for_quoted_datagram(a->dev, &b->addr, forged, 16) == NULL);
	/* Not a data message. */
	memcpy(forged, q, 16);
	forged[0] = MESSAGE_HANDSHAKE_INITIATION;
	CHECK(device_peer_for_quoted_datagram(a->dev, &b->addr, forged, 16) == NULL);
	sim_free(&sim);
}

int main(void)
{
	RUN(reports_are_clamped_and_only_lower);
	RUN(forgotten_when_the_path_changes);
	RUN(padding_stays_within_the_path);
	RUN(only_a_quote_of_our_own_data_names_a_peer);
	return test_finish("test_sim_pathmtu");
}
