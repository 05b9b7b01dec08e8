/* The engine's side of path MTU (src/core/pathmtu.c): what a report may
 * change (floors, only lower from ICMP, a probe replaces), when the value is
 * forgotten (endpoint or source change, lifetime, peer removal), that
 * padding never pushes a fitting packet over the path, and that only an
 * ICMP error quoting a data message we really sent names a peer. And path
 * probing (src/core/pathprobe.c): a path that drops large packets without a
 * word is measured, after silence or after a roam, from answers alone. */
#include <stdio.h>
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
	/* MTU 0 says nothing, nor does one the tunnel never reaches (a
	 * garbled 1643499543 was once seen); 68 is taken to the IPv4 floor. */
	CHECK(peer_set_path_mtu(p, 0, PATH_MTU_ICMP, now) == 0);
	CHECK(peer_set_path_mtu(p, 1643499543u, PATH_MTU_ICMP, now) == 0);
	CHECK(peer_set_path_mtu(p, 1500, PATH_MTU_ICMP, now) == 0);	/* 1420 + 60 fits: nothing smaller */
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

/* A path that drops a's datagrams beyond max_outer bytes (IPv4 and UDP
 * headers included) and says nothing: no ICMP. */
struct black_hole {
	struct sim_node *from;	/* NULL: both ways */
	size_t max_outer;
	uint64_t dropped;
};

static bool black_hole_filter(void *ctx, struct sim_node *from, struct sim_node *to, uint8_t *data, size_t *len)
{
	struct black_hole *bh = ctx;
	(void)to, (void)data;
	if ((!bh->from || from == bh->from) && *len + 28 > bh->max_outer) {
		bh->dropped++;
		return false;
	}
	return true;
}

/* A pair whose a probes, whose b answers pings (as a rate-limited router
 * with limited), and a path from a that drops datagrams beyond max_outer
 * bytes (0: none). Returns a's peer for b. */
static struct black_hole hole;
static struct peer *probing_pair(uint64_t seed, size_t max_outer, bool limited, struct sim_node **a, struct sim_node **b)
{
	sim_init(&sim, seed);
	CHECK(sim_pair(&sim, a, b));
	device_set_path_probing((*a)->dev, true);
	(*b)->answer_pings = true;
	(*b)->answer_limited = limited;
	if (max_outer) {
		hole = (struct black_hole){.from = *a, .max_outer = max_outer};
		sim.filter = black_hole_filter;
		sim.filter_ctx = &hole;
	}
	return sim_peer_of(*a, *b);
}

/* sim_send's packets are a 28-byte header and the payload. */
enum { LARGE_PAYLOAD = 1400 - 28 };

/* a sends a large packet every 10 ms until cond holds or max_ns passes;
 * returns whether it held. */
static bool stream_until(struct sim_node *a, struct sim_node *b, bool (*cond)(struct peer *), uint64_t max_ns,
			 uint32_t *seq)
{
	struct peer *p = sim_peer_of(a, b);
	for (uint64_t t = 0; t < max_ns; t += 10 * MS) {
		if (cond(p))
			return true;
		sim_send(a, b, (*seq)++, LARGE_PAYLOAD);
		sim_run_for(&sim, 10 * MS);
	}
	return cond(p);
}

static enum path_probe_result probe_result(struct peer *p)
{
	struct path_probe_info info;
	peer_get_path_probe_info(p, &info);
	return info.result;
}

static bool search_done(struct peer *p)
{
	enum path_probe_result r = probe_result(p);
	return r != PATH_PROBE_NONE && r != PATH_PROBE_SEARCHING;
}

static bool probe_value_set(struct peer *p)
{
	enum path_mtu_origin origin;
	return peer_path_mtu(p, &origin, sim.now) && origin == PATH_MTU_PROBE;
}

static void a_silent_black_hole_is_measured(void)
{
	struct sim_node *a, *b;
	struct peer *p = probing_pair(41, 1300, false, &a, &b);

	uint32_t seq = 0;
	uint64_t start = sim.now;
	/* Large packets vanish; after PATH_PROBE_SILENCE without a word from b
	 * a searches, and its first round's answers set the value. */
	CHECK(stream_until(a, b, probe_value_set, 10 * SEC, &seq));
	uint64_t took = sim.now - start;
	CHECK(took <= PATH_PROBE_SILENCE + PATH_PROBE_ROUND_TIMEOUT + 100 * MS);
	CHECK(stream_until(a, b, search_done, 5 * SEC, &seq));
	enum path_mtu_origin origin;
	unsigned mtu = peer_path_mtu(p, &origin, sim.now);
	/* The largest inner packet, a multiple of 16, whose datagram fits. */
	CHECK(origin == PATH_MTU_PROBE && probe_result(p) == PATH_PROBE_SMALLER);
	CHECK(peer_path_inner_limit(p, sim.now) == ((1300 - PATH_OVERHEAD_V4) & ~15u));
	CHECK(mtu <= 1300 && mtu > 1300 - 16);
	struct path_probe_info info;
	peer_get_path_probe_info(p, &info);
	CHECK(info.searches == 1 && info.answers >= 1 && info.answers < info.probes_sent);
	CHECK(b->pings_answered == info.answers);
	/* What fits now arrives. */
	uint64_t before = b->delivered;
	sim_send(a, b, seq++, peer_path_inner_limit(p, sim.now) - 28);
	sim_run_for(&sim, 50 * MS);
	CHECK(b->delivered == before + 1);
	sim.filter = NULL;
	sim_free(&sim);
}

static void a_measured_value_outlives_its_lifetime(void)
{
	struct sim_node *a, *b;
	struct peer *p = probing_pair(48, 1300, false, &a, &b);
	uint32_t seq = 0;
	CHECK(stream_until(a, b, search_done, 10 * SEC, &seq));
	unsigned limit = peer_path_inner_limit(p, sim.now), gaps = 0;
	CHECK(limit == ((1300 - PATH_OVERHEAD_V4) & ~15u));
	/* Packets that fit, for longer than PATH_MTU_LIFETIME: the value is
	 * measured again, never dropped (which would black-hole the stream
	 * until a search found it again). */
	for (uint64_t t = 0; t < PATH_MTU_LIFETIME + 60 * SEC; t += 100 * MS) {
		sim_send(a, b, seq++, limit - 28);
		sim_run_for(&sim, 100 * MS);
		if (peer_path_inner_limit(p, sim.now) != limit)
			gaps++;
	}
	struct path_probe_info info;
	peer_get_path_probe_info(p, &info);
	printf("  %llu s of traffic: %u searches, value lost %u times\n",
	       (unsigned long long)((PATH_MTU_LIFETIME + 60 * SEC) / SEC), info.searches, gaps);
	CHECK(gaps == 0);
	CHECK(info.searches >= 2 && info.searches < 40);
	sim.filter = NULL;
	sim_free(&sim);
}

static void a_roam_starts_a_search_that_may_find_nothing_smaller(void)
{
	struct sim_node *a, *b;
	struct peer *p = probing_pair(42, 0, false, &a, &b);
	uint32_t seq = 0;
	/* A new path (the endpoint was just set): the first large packet
	 * starts a search, which finds the whole path. */
	CHECK(probe_result(p) == PATH_PROBE_NONE);
	sim_send(a, b, seq++, LARGE_PAYLOAD);
	sim_run_for(&sim, 100 * MS);
	CHECK(probe_result(p) == PATH_PROBE_FULL);
	/* Traffic that b answers: no further search. */
	for (int i = 0; i < 100; i++) {
		sim_send(a, b, seq++, LARGE_PAYLOAD);
		sim_send(b, a, 1000 + (uint32_t)i, 100);
		sim_run_for(&sim, 30 * MS);
	}
	struct path_probe_info info;
	peer_get_path_probe_info(p, &info);
	CHECK(info.searches == 1);

	/* An ICMP value from before, then a's network changes. */
	CHECK(peer_set_path_mtu(p, 1000, PATH_MTU_ICMP, sim.now) == 1000);
	peer_forget_source(p);
	uint64_t delivered = a->delivered;
	uint64_t start = sim.now;
	sim_send(a, b, seq++, LARGE_PAYLOAD);
	/* The search starts with the next timer run: every probe is answered
	 * within a round trip (20 ms here), and the round ends at once. */
	sim_run_for(&sim, 100 * MS);
	CHECK(probe_result(p) == PATH_PROBE_FULL);
	peer_get_path_probe_info(p, &info);
	CHECK(info.searches == 2);
	CHECK(info.result_at - start <= 50 * MS);
	/* The second search asks fewer at once: the first took the credit
	 * of the peer's ICMP limiter, which refills a probe a second. */
	CHECK(info.probes_sent > PATH_PROBE_RUNGS && info.answers == info.probes_sent);
	CHECK(peer_path_mtu(p, NULL, sim.now) == 0);
	/* The answers were the engine's, not the tunnel's. */
	CHECK(a->delivered == delivered);
	sim_free(&sim);
}

static void a_peer_that_does_not_answer_moves_nothing(void)
{
	struct sim_node *a, *b;
	struct peer *p = probing_pair(43, 1300, false, &a, &b);
	b->answer_pings = false;
	uint32_t seq = 0;
	CHECK(stream_until(a, b, search_done, 5 * SEC, &seq));
	CHECK(probe_result(p) == PATH_PROBE_UNANSWERED);
	CHECK(peer_path_mtu(p, NULL, sim.now) == 0);
	/* It asks again, but not before 30 s. */
	struct path_probe_info info;
	peer_get_path_probe_info(p, &info);
	uint64_t first = info.result_at;
	CHECK(info.searches == 1);
	for (int i = 0; i < 5000 && info.searches < 2; i++) {
		sim_send(a, b, seq++, LARGE_PAYLOAD);
		sim_run_for(&sim, 10 * MS);
		peer_get_path_probe_info(p, &info);
	}
	CHECK(info.searches == 2);
	CHECK(sim.now - first >= 30 * SEC);
	sim.filter = NULL;
	sim_free(&sim);
}

static void the_last_large_packet_is_kept_for_its_sender(void)
{
	struct sim_node *a, *b;
	sim_init(&sim, 50);
	CHECK(sim_pair(&sim, &a, &b));
	struct peer *p = sim_peer_of(a, b);
	const uint8_t *hdr;
	size_t n, total;
	CHECK(!peer_last_large_packet(p, &hdr, &n, &total));
	sim_send(a, b, 7, 100);	/* small: not kept */
	CHECK(!peer_last_large_packet(p, &hdr, &n, &total));
	sim_send(a, b, 8, LARGE_PAYLOAD);
	/* Its headers (the edge quotes them in "fragmentation needed"), even
	 * without probing: learning from ICMP uses them too. */
	CHECK(peer_last_large_packet(p, &hdr, &n, &total));
	CHECK(total == LARGE_PAYLOAD + 28 && n == PATH_LAST_LARGE_QUOTE);
	CHECK(hdr[0] == 0x45 && hdr[27] == 8 && !memcmp(hdr + 16, b->inner_addr, 4));
	sim_free(&sim);
}

static void off_unless_asked(void)
{
	struct sim_node *a, *b;
	struct peer *p = probing_pair(44, 1300, false, &a, &b);
	device_set_path_probing(a->dev, false);
	uint32_t seq = 0;
	CHECK(!stream_until(a, b, search_done, 5 * SEC, &seq));
	struct path_probe_info info;
	peer_get_path_probe_info(p, &info);
	CHECK(info.probes_sent == 0 && b->pings_answered == 0);
	sim.filter = NULL;
	sim_free(&sim);
}

static void rate_limited_answers_never_shrink_a_whole_path(void)
{
	struct sim_node *a, *b;
	struct peer *p = probing_pair(46, 0, true, &a, &b);
	/* A one-way stream b never answers (video to a host behind b, say):
	 * silence after large packets, again and again, on a whole path. */
	uint32_t seq = 0;
	unsigned smaller = 0;
	for (int i = 0; i < 3000; i++) {
		sim_send(a, b, seq++, LARGE_PAYLOAD);
		sim_run_for(&sim, 10 * MS);
		if (peer_path_mtu(p, NULL, sim.now))
			smaller++;
	}
	struct path_probe_info info;
	peer_get_path_probe_info(p, &info);
	printf("  30 s one-way: %u searches, %u probes, %u answered, %llu answers swallowed by the limiter\n",
	       info.searches, info.probes_sent, info.answers, (unsigned long long)b->pings_swallowed);
	CHECK(smaller == 0);
	/* Searches back off while the path keeps proving whole (2, 4, 8, 16 s
	 * apart after the first). */
	CHECK(info.searches >= 2 && info.searches <= 6);
	sim_free(&sim);
}

static void a_black_hole_behind_a_rate_limited_router_is_measured(void)
{
	struct sim_node *a, *b;
	struct peer *p = probing_pair(49, 1300, true, &a, &b);
	uint32_t seq = 0;
	uint64_t start = sim.now;
	CHECK(stream_until(a, b, probe_value_set, 10 * SEC, &seq));
	uint64_t first = sim.now - start;
	CHECK(stream_until(a, b, search_done, 15 * SEC, &seq));
	struct path_probe_info info;
	peer_get_path_probe_info(p, &info);
	printf("  first value after %llu ms, search done after %llu ms: %u probes, %llu answers swallowed\n",
	       (unsigned long long)(first / MS), (unsigned long long)((sim.now - start) / MS), info.probes_sent,
	       (unsigned long long)b->pings_swallowed);
	CHECK(first <= 3 * SEC);
	CHECK(probe_result(p) == PATH_PROBE_SMALLER);
	CHECK(peer_path_inner_limit(p, sim.now) == ((1300 - PATH_OVERHEAD_V4) & ~15u));
	sim.filter = NULL;
	sim_free(&sim);
}

static bool searching(struct peer *p)
{
	return probe_result(p) == PATH_PROBE_SEARCHING;
}

static void two_roamds_do_not_probe_each_other_when_idle(void)
{
	struct sim_node *a, *b;
	sim_init(&sim, 47);
	CHECK(sim_pair(&sim, &a, &b));
	struct peer *pa = sim_peer_of(a, b), *pb = sim_peer_of(b, a);
	device_set_path_probing(a->dev, true);
	device_set_path_probing(b->dev, true);
	a->answer_pings = b->answer_pings = true;
	struct black_hole bh = {.max_outer = 1300};
	sim.filter = black_hole_filter;
	sim.filter_ctx = &bh;
	uint32_t seq = 0;
	CHECK(stream_until(a, b, search_done, 10 * SEC, &seq));
	(void)searching;
	/* Traffic stops. Each side's host answers the other's probes with
	 * large echo replies; those are no reason to search again. */
	struct path_probe_info ia, ib;
	sim_run_for(&sim, 10 * SEC);
	peer_get_path_probe_info(pa, &ia);
	peer_get_path_probe_info(pb, &ib);
	uint32_t sa = ia.searches, sb = ib.searches;
	sim_run_for(&sim, 120 * SEC);
	peer_get_path_probe_info(pa, &ia);
	peer_get_path_probe_info(pb, &ib);
	printf("  idle 120 s: a %u -> %u searches, b %u -> %u\n", sa, ia.searches, sb, ib.searches);
	CHECK(ia.searches == sa && ib.searches == sb);
	sim.filter = NULL;
	sim_free(&sim);
}

/* An IPv6 packet of len bytes from fd00::1 to fd00::2 (UDP, zeros). */
static void ipv6_packet(uint8_t *pkt, size_t len)
{
	memset(pkt, 0, len);
	pkt[0] = 0x60;
	pkt[4] = (uint8_t)((len - 40) >> 8);
	pkt[5] = (uint8_t)(len - 40);
	pkt[6] = 17;
	pkt[7] = 64;
	pkt[8] = 0xfd, pkt[23] = 1;
	pkt[24] = 0xfd, pkt[39] = 2;
}

static void ipv6_traffic_is_probed_over_ipv6(void)
{
	struct sim_node *a, *b;
	static uint8_t pkt[1400];
	uint8_t a6[16] = {0xfd, [15] = 1}, b6[16] = {0xfd, [15] = 2};
	struct peer *p = probing_pair(45, 1350, false, &a, &b);
	CHECK(peer_allowedips_insert(p, AF_INET6, b6, 128) == 0);
	CHECK(peer_allowedips_insert(sim_peer_of(b, a), AF_INET6, a6, 128) == 0);
	for (int i = 0; i < 1500 && !search_done(p); i++) {
		ipv6_packet(pkt, sizeof(pkt));
		sim_send_packet(a, pkt, sizeof(pkt));
		sim_run_for(&sim, 10 * MS);
	}
	CHECK(probe_result(p) == PATH_PROBE_SMALLER);
	CHECK(peer_path_inner_limit(p, sim.now) == ((1350 - PATH_OVERHEAD_V4) & ~15u));
	CHECK(b->pings_answered >= 1);
	sim.filter = NULL;
	sim_free(&sim);
}

int main(void)
{
	RUN(reports_are_clamped_and_only_lower);
	RUN(forgotten_when_the_path_changes);
	RUN(padding_stays_within_the_path);
	RUN(only_a_quote_of_our_own_data_names_a_peer);
	RUN(a_silent_black_hole_is_measured);
	RUN(a_measured_value_outlives_its_lifetime);
	RUN(a_roam_starts_a_search_that_may_find_nothing_smaller);
	RUN(a_peer_that_does_not_answer_moves_nothing);
	RUN(the_last_large_packet_is_kept_for_its_sender);
	RUN(off_unless_asked);
	RUN(ipv6_traffic_is_probed_over_ipv6);
	RUN(rate_limited_answers_never_shrink_a_whole_path);
	RUN(a_black_hole_behind_a_rate_limited_router_is_measured);
	RUN(two_roamds_do_not_probe_each_other_when_idle);
	return test_finish("test_sim_pathmtu");
}
