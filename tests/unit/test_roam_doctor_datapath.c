/* roam doctor's judgement of a failing data path (issue 18): the datapath
 * judge in front of each cause the daemon's counters can tell apart, the
 * ICMP error parser, the udp check's split of "nothing arrives", and the
 * checks that are SKIP because the one they depend on failed. The lab
 * that breaks a real tunnel these ways is
 * tests/integration/test_roam_doctor_lab.sh. */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "doctor.h"
#include "forked.h"
#include "probe.h"
#include "test.h"

static struct ip_prefix prefix(const char *s)
{
	struct ip_prefix p;

	if (!ip_prefix_parse(&p, s, true)) {
		fprintf(stderr, "bad prefix in test: %s\n", s);
		abort();
	}
	return p;
}

static struct doctor_report new_report(void)
{
	struct doctor_report r = { 0 };

	snprintf(r.ifname, sizeof(r.ifname), "wg0");
	snprintf(r.daemon, sizeof(r.daemon), "roamd");
	snprintf(r.public_key, sizeof(r.public_key), "OURKEY");
	return r;
}

static const struct doctor_finding *last(const struct doctor_report *r)
{
	return &r->v[r->n - 1];
}

static bool is(const struct doctor_finding *f, enum doctor_status status, const char *cause)
{
	bool ok = f->status == status && (cause ? f->cause && !strcmp(f->cause, cause) : !f->cause);

	if (!ok)
		fprintf(stderr, "    got %s %s: '%s' / '%s'\n", doctor_status_name(f->status), f->cause ? f->cause : "-",
			f->evidence, f->decision);
	return ok;
}

static bool is_quietly(const struct doctor_finding *f, const char *cause)
{
	return f->cause && !strcmp(f->cause, cause);
}

/* ---- ICMP errors about our datagrams ----------------------------------- */

/* An IPv4 packet carrying ICMP type 3 with code, quoting a UDP datagram
 * from sport to 198.19.0.2:dport. Returns its length. */
static size_t icmp4_error(uint8_t *p, uint8_t code, uint16_t sport, uint16_t dport)
{
	memset(p, 0, 20 + 8 + 20 + 8);
	p[0] = 0x45;
	p[9] = IPPROTO_ICMP;
	p[20] = 3;
	p[21] = code;
	p[28] = 0x45;
	p[28 + 9] = IPPROTO_UDP;
	memcpy(p + 28 + 16, (uint8_t[]){ 198, 19, 0, 2 }, 4);
	p[48] = (uint8_t)(sport >> 8), p[49] = (uint8_t)sport;
	p[50] = (uint8_t)(dport >> 8), p[51] = (uint8_t)dport;
	return 56;
}

static void test_icmp_parser(void)
{
	struct icmp_seen seen = { 0 };
	struct ip_prefix from = prefix("198.19.0.2"), router = prefix("198.19.0.1");
	uint8_t p[128], p6[8 + 40 + 8] = { 0 };
	size_t n;
	char a[IP_PREFIX_STRLEN];

	n = icmp4_error(p, 3, 51820, 51821);
	icmp_watch_account(&seen, AF_INET, &from, p, n, 51820);
	CHECK(seen.total == 1 && seen.by_kind[ICMP_KIND_PORT] == 1 && seen.target_port == 51821);
	CHECK(!strcmp(ip_addr_str(&seen.target, a), "198.19.0.2"));
	/* About another program's datagrams: not ours. */
	n = icmp4_error(p, 3, 4000, 51821);
	icmp_watch_account(&seen, AF_INET, &from, p, n, 51820);
	CHECK(seen.total == 1);
	/* A router's firewall rejects; a router cannot deliver. */
	n = icmp4_error(p, 13, 51820, 51820);
	icmp_watch_account(&seen, AF_INET, &router, p, n, 51820);
	CHECK(seen.by_kind[ICMP_KIND_PROHIBITED] == 1 && seen.last_kind == ICMP_KIND_PROHIBITED);
	CHECK(!strcmp(ip_addr_str(&seen.reporter, a), "198.19.0.1"));
	n = icmp4_error(p, 1, 51820, 51820);
	icmp_watch_account(&seen, AF_INET, &router, p, n, 51820);
	CHECK(seen.by_kind[ICMP_KIND_HOST] == 1);
	/* Truncated: ignored, not read past its end. */
	icmp_watch_account(&seen, AF_INET, &router, p, 40, 51820);
	CHECK(seen.total == 3);
	/* ICMPv6 port unreachable (type 1 code 4) quoting UDP from our port. */
	p6[0] = 1, p6[1] = 4;
	p6[8] = 0x60;
	p6[8 + 6] = IPPROTO_UDP;
	p6[48] = 51820 >> 8, p6[49] = 51820 & 0xff;
	p6[50] = 0, p6[51] = 53;
	{
		struct ip_prefix from6 = prefix("fd00:6::2");

		icmp_watch_account(&seen, AF_INET6, &from6, p6, sizeof(p6), 51820);
	}
	CHECK(seen.total == 4 && seen.by_kind[ICMP_KIND_PORT] == 2 && seen.target_port == 53);
}

/* Several peers are probed at once: each probe counts only the errors
 * about datagrams to its own peer's endpoint. */
static void test_icmp_about(void)
{
	struct icmp_watch w = { -1, -1 };
	struct icmp_seen mine = { 0 }, all = { 0 };
	struct ip_prefix target = prefix("198.19.0.2");
	uint8_t p[128];
	size_t n;
	int sv[2];

	CHECK(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, sv) == 0);
	w.fd4 = sv[0];
	n = icmp4_error(p, 3, 51820, 51820);
	CHECK(write(sv[1], p, n) == (ssize_t)n);
	memcpy(p + 28 + 16, (uint8_t[]){ 198, 19, 0, 9 }, 4);	/* another peer's endpoint */
	CHECK(write(sv[1], p, n) == (ssize_t)n);
	CHECK(write(sv[1], p, n) == (ssize_t)n);
	icmp_watch_drain_about(&w, 51820, &target, &mine);
	CHECK(mine.total == 1 && mine.by_kind[ICMP_KIND_PORT] == 1);
	CHECK(write(sv[1], p, n) == (ssize_t)n);
	icmp_watch_drain(&w, 51820, &all);
	CHECK(all.total == 1 && all.target.addr[3] == 9);
	/* The watch of the silent peers leaves out the probed peers'. */
	struct icmp_seen silent = { 0 };
	CHECK(write(sv[1], p, n) == (ssize_t)n);
	memcpy(p + 28 + 16, (uint8_t[]){ 198, 19, 0, 2 }, 4);
	CHECK(write(sv[1], p, n) == (ssize_t)n);
	icmp_watch_drain_filtered(&w, 51820, &target, 1, false, &silent);
	CHECK(silent.total == 1 && silent.target.addr[3] == 9);
	close(sv[0]);
	close(sv[1]);
}

/* ---- probes in child processes ------------------------------------------- */

struct sleeper {
	int ms;
	int value;
};

static void sleep_then_answer(void *ctx, int fd)
{
	struct sleeper *s = ctx;

	poll(NULL, 0, s->ms);
	if (s->value)
		forked_write(fd, &s->value, sizeof(s->value));
}

/* Children run at once (two 400 ms probes take 400 ms, not 800), their
 * results come back, and one that ends without a result says so. */
static void test_forked(void)
{
	struct forked a, b, c;
	struct sleeper sa = { 400, 7 }, sb = { 400, 9 }, sc = { 0, 0 };
	uint64_t start = probe_now_ms();
	int got = 0;

	CHECK(forked_start(&a, sleep_then_answer, &sa) == 0);
	CHECK(forked_start(&b, sleep_then_answer, &sb) == 0);
	CHECK(forked_start(&c, sleep_then_answer, &sc) == 0);
	CHECK(forked_read(&a, &got, sizeof(got)) && got == 7);
	CHECK(forked_read(&b, &got, sizeof(got)) && got == 9);
	CHECK(!forked_read(&c, &got, sizeof(got)));
	forked_end(&a);
	forked_end(&b);
	forked_end(&c);
	CHECK(probe_now_ms() - start < 750);
	CHECK(a.pid == 0 && a.fd == -1);
}

/* ---- datapath ------------------------------------------------------------ */

static void test_datapath(void)
{
	struct ip_prefix peer_ips[1] = { prefix("198.18.0.1/32") };
	struct uapi_peer peer = { .allowed_ips = peer_ips, .n_allowed_ips = 1 };
	struct peer_observation po = { .peer = &peer, .verdict = HANDSHAKE_FRESH };
	struct uapi_drop drops[2];
	struct datapath_observation o = { .has_address = true, .address = prefix("198.18.0.1"), .sent = 3,
					  .counted = true, .tx_delta = 3 };
	struct doctor_report r = new_report();

	snprintf(peer.endpoint, sizeof(peer.endpoint), "198.19.0.2:51820");

	/* Answered: PASS. */
	o.answered = 1;
	CHECK(!judge_datapath(&r, &po, false, &o) && is(last(&r), DOCTOR_PASS, NULL));
	o.answered = 0;

	/* No AllowedIPs at all (another peer took its address): FAIL, with
	 * the source its dropped packets came from; no handshake changes it. */
	peer.n_allowed_ips = 0;
	o.has_address = false;
	CHECK(judge_datapath(&r, &po, true, &o) && is(last(&r), DOCTOR_FAIL, "no_allowed_ips"));
	snprintf(drops[0].reason, sizeof(drops[0].reason), "disallowed_src");
	drops[0].count = 7;
	peer.drops = drops, peer.n_drops = 1;
	peer.has_last_disallowed_src = true;
	peer.last_disallowed_src = prefix("198.18.0.2");
	CHECK(judge_datapath(&r, &po, false, &o) && is(last(&r), DOCTOR_FAIL, "no_allowed_ips") &&
	      strstr(last(&r)->evidence, "7 so far") && strstr(last(&r)->decision, "add 198.18.0.2/32"));
	peer.drops = NULL, peer.n_drops = 0;
	peer.has_last_disallowed_src = false;
	peer.n_allowed_ips = 1;
	o.has_address = true;

	/* Handshake skipped, no address, an earlier check failed: SKIP. */
	CHECK(!judge_datapath(&r, &po, true, &o) && is(last(&r), DOCTOR_SKIP, NULL));
	o.not_judged = "routes";
	CHECK(!judge_datapath(&r, &po, false, &o) && is(last(&r), DOCTOR_SKIP, NULL) &&
	      strstr(last(&r)->evidence, "see routes"));
	o.not_judged = NULL;

	/* This host refuses the pings into the tunnel. */
	o.error = -EPERM;
	CHECK(judge_datapath(&r, &po, false, &o) && is(last(&r), DOCTOR_FAIL, "tunnel_output_refused"));
	o.error = 0;

	/* The counters name where they died. */
	snprintf(drops[0].reason, sizeof(drops[0].reason), "disallowed_src");
	drops[0].count = 12;
	o.drops = drops, o.n_drops = 1;
	CHECK(judge_datapath(&r, &po, false, &o) && is(last(&r), DOCTOR_FAIL, "disallowed_src") &&
	      last(&r)->decision[0]);
	snprintf(drops[0].reason, sizeof(drops[0].reason), "unknown_index");
	CHECK(judge_datapath(&r, &po, false, &o) && is(last(&r), DOCTOR_FAIL, "unknown_index"));
	snprintf(drops[0].reason, sizeof(drops[0].reason), "send_refused");
	CHECK(judge_datapath(&r, &po, false, &o) && is(last(&r), DOCTOR_FAIL, "send_refused"));
	o.n_drops = 0;

	/* ICMP errors while pinging: the peer went away. */
	o.icmp.total = 2;
	o.icmp.last_kind = ICMP_KIND_PORT;
	o.icmp.reporter = o.icmp.target = prefix("198.19.0.2");
	o.icmp.target_port = 51820;
	po.initiates = true;
	CHECK(judge_datapath(&r, &po, false, &o) && is(last(&r), DOCTOR_FAIL, "icmp_port_unreachable") &&
	      strstr(last(&r)->decision, "Endpoint's port is wrong"));
	/* The server learned the roaming phone's endpoint: the phone's daemon
	 * went, its port closed; nothing to fix in a config here. */
	po.initiates = false;
	CHECK(judge_datapath(&r, &po, false, &o) && is(last(&r), DOCTOR_FAIL, "icmp_port_unreachable") &&
	      strstr(last(&r)->decision, "no longer listens") &&
	      !strstr(last(&r)->decision, "Endpoint's port is wrong"));
	memset(&o.icmp, 0, sizeof(o.icmp));

	/* The replies came back decrypted, yet no ping saw them. */
	o.rx_delta = 3;
	CHECK(judge_datapath(&r, &po, false, &o) && is(last(&r), DOCTOR_FAIL, "tunnel_input_dropped"));
	o.rx_delta = 0;

	/* Nothing reached the daemon. */
	o.tx_delta = 0;
	CHECK(judge_datapath(&r, &po, false, &o) && is(last(&r), DOCTOR_FAIL, "tunnel_output_dropped"));
	o.tx_delta = 3;

	/* Silence: told apart by how long data has gone unanswered. */
	peer.has_unanswered = true;
	peer.unanswered_ms = 12000;
	CHECK(judge_datapath(&r, &po, false, &o) && is(last(&r), DOCTOR_FAIL, "peer_unreachable") &&
	      !strstr(last(&r)->decision, "PublicKey") && strstr(last(&r)->decision, "run roam doctor again in 4 s"));
	/* Its answers lost on the way back is one of the two: the NAT in
	 * front of this host (said whole, not cut at the text's end). */
	CHECK(strstr(last(&r)->decision, "the NAT in front of this host, which stopped translating), then the "
					 "firewalls between."));
	peer.unanswered_ms = 16000;	/* past our own new handshake's time: no wait to suggest */
	CHECK(judge_datapath(&r, &po, false, &o) && !strstr(last(&r)->decision, "again in"));
	peer.unanswered_ms = 12000;
	/* Our own new initiations unanswered too: the peer lost our session
	 * and refuses us (re-keyed, or dropped this host); the key first. */
	peer.handshake_attempts = 4;
	CHECK(judge_datapath(&r, &po, false, &o) && is(last(&r), DOCTOR_FAIL, "peer_unreachable") &&
	      strstr(last(&r)->decision, "The peer lost our session and refuses our handshakes: its PublicKey") &&
	      strstr(last(&r)->decision, "the NAT in front of this host stopped translating") &&
	      strstr(last(&r)->decision, "run roam doctor there, which names it.") &&
	      strstr(last(&r)->evidence, "4 new handshake initiations went unanswered"));
	peer.handshake_attempts = 0;
	/* A ping-deaf host answered a TCP connection: the tunnel works. */
	o.tcp_tried = o.tcp_answered = true;
	o.tcp_port = 22;
	CHECK(!judge_datapath(&r, &po, false, &o) && is(last(&r), DOCTOR_WARN, "ping_ignored") &&
	      strstr(last(&r)->evidence, "port 22"));
	o.tcp_answered = false;	/* nor TCP: judged as before, and said */
	CHECK(judge_datapath(&r, &po, false, &o) && is(last(&r), DOCTOR_FAIL, "peer_unreachable") &&
	      strstr(last(&r)->evidence, "nor a TCP connection to port 22"));
	/* Ping off and port 22 filtered on the peer, but a DNS server of the
	 * tunnel behind it answered through the tunnel: it works both ways. */
	o.dns_tried = o.dns_answered = true;
	o.dns_server = prefix("192.0.2.10");
	CHECK(!judge_datapath(&r, &po, false, &o) && is(last(&r), DOCTOR_WARN, "ping_ignored") &&
	      strstr(last(&r)->evidence, "DNS server 192.0.2.10") && strstr(last(&r)->decision, "Nothing must change"));
	CHECK(datapath_icmp_grace_ms(2100, &o) == 0);
	o.dns_answered = false;	/* it did not answer either: as before */
	CHECK(judge_datapath(&r, &po, false, &o) && is(last(&r), DOCTOR_FAIL, "peer_unreachable"));
	o.dns_tried = false;
	o.tcp_tried = false;
	peer.unanswered_ms = 2000;
	peer.has_last_receive_age = true;
	peer.last_receive_age_ms = 4000;
	/* Heard from 4 s ago, before our data: too early to tell a peer that
	 * drops from answers that do not come back (the NAT in front of this
	 * host stopped translating). The same verdict as 11 s after, so two
	 * runs seconds apart agree; it points at both. */
	CHECK(judge_datapath(&r, &po, false, &o) && is(last(&r), DOCTOR_FAIL, "peer_no_answer") &&
	      strstr(last(&r)->decision, "NAT or router in front of this host") &&
	      strstr(last(&r)->decision, "Run roam doctor on the peer") &&
	      strstr(last(&r)->decision, "here again in 10 s, when a live peer must have answered."));
	peer.last_receive_age_ms = 11000;
	po.initiates = true;	/* this side reaches out (the phone) */
	CHECK(judge_datapath(&r, &po, false, &o) && is(last(&r), DOCTOR_FAIL, "peer_no_answer"));
	po.initiates = false;
	peer.last_receive_age_ms = 4000;
	/* The peer spoke while doctor pinged, and answered none: it drops. */
	o.rx_delta = 1;
	CHECK(judge_datapath(&r, &po, false, &o) && is(last(&r), DOCTOR_FAIL, "peer_drops"));
	o.rx_delta = 0;
	/* Silent for a minute: a peer this side reaches out to cannot be
	 * told yet; one that connects here sits behind a NAT that forgot it. */
	peer.last_receive_age_ms = 60000;
	po.initiates = true;
	CHECK(judge_datapath(&r, &po, false, &o) && is(last(&r), DOCTOR_FAIL, "peer_no_answer"));
	po.initiates = false;
	CHECK(judge_datapath(&r, &po, false, &o) && is(last(&r), DOCTOR_FAIL, "nat_mapping_expired") &&
	      strstr(last(&r)->decision, "PersistentKeepalive"));

	/* A full tunnel's target doctor guessed (the config's DNS server):
	 * its silence fails only where the counters agree the path is broken
	 * (our packets went out, fewer came back than the pings). */
	struct ip_prefix full_tunnel[1] = { prefix("0.0.0.0/0") };
	peer.allowed_ips = full_tunnel;
	po.initiates = true;
	peer.last_receive_age_ms = 4000;
	o.target_source = "dns";
	CHECK(judge_datapath(&r, &po, false, &o) && is(last(&r), DOCTOR_FAIL, "peer_no_answer") &&
	      !strcmp(last(&r)->probe_target_source, "dns") &&
	      strstr(last(&r)->evidence, "target guessed from a DNS server of the interface"));
	o.rx_delta = 1;		/* a keepalive in the window: still no reply each */
	CHECK(judge_datapath(&r, &po, false, &o) && is(last(&r), DOCTOR_FAIL, "peer_drops"));
	o.rx_delta = 5;		/* other traffic's replies came: the path works */
	CHECK(!judge_datapath(&r, &po, false, &o) && is(last(&r), DOCTOR_WARN, "probe_target_silent") &&
	      strstr(last(&r)->decision, "--probe ADDRESS") && strstr(last(&r)->decision, "198.18.0.1") &&
	      strstr(last(&r)->evidence, "the guessed host 198.18.0.1 answered none of 3 pings") &&
	      !strstr(last(&r)->evidence, "the replies came back"));
	o.target_source = "--probe";	/* named by the operator: the same counters fail */
	CHECK(judge_datapath(&r, &po, false, &o) && is(last(&r), DOCTOR_FAIL, "tunnel_input_dropped") &&
	      !strstr(last(&r)->evidence, "guessed"));
	o.target_source = "address_prefix";
	o.counted = false;	/* no counters (not roamd): nothing agrees */
	CHECK(!judge_datapath(&r, &po, false, &o) && is(last(&r), DOCTOR_WARN, "probe_target_silent") &&
	      !strcmp(last(&r)->probe_target_source, "address_prefix"));
	o.counted = true;
	o.rx_delta = 0;
	o.tx_delta = 0;		/* a cause on this host stays a FAIL, guessed or not */
	CHECK(judge_datapath(&r, &po, false, &o) && is(last(&r), DOCTOR_FAIL, "tunnel_output_dropped"));
	doctor_report_free(&r);
}

/* After unanswered pings (2.1 s), ICMP errors are read on to 3.5 s: a
 * router's ARP timeout reports host unreachable ~3 s after the send. */
static void test_icmp_grace(void)
{
	struct datapath_observation o = { .sent = 3 };

	CHECK(datapath_icmp_grace_ms(2100, &o) == 1400);
	CHECK(datapath_icmp_grace_ms(3500, &o) == 0);
	o.icmp.total = 1;	/* one came: nothing to wait for */
	CHECK(datapath_icmp_grace_ms(2100, &o) == 0);
	o.icmp.total = 0;
	o.answered = 1;
	CHECK(datapath_icmp_grace_ms(2100, &o) == 0);
	o.answered = 0;
	o.tcp_answered = true;
	CHECK(datapath_icmp_grace_ms(2100, &o) == 0);
}

/* A failed IPv6 probe leaves an IPv4 DNS server to be judged; a failed
 * probe of its own family (or an unknown one) makes it SKIP. */
static void test_datapath_failure_covers(void)
{
	CHECK(!datapath_failure_covers(AF_INET6, AF_INET));
	CHECK(!datapath_failure_covers(AF_INET, AF_INET6));
	CHECK(datapath_failure_covers(AF_INET, AF_INET));
	CHECK(datapath_failure_covers(0, AF_INET));
}

/* A disallowed_src total that did not grow while doctor pinged (no
 * delta in o) is older evidence: it never outranks what the run saw, and
 * a source that is no tunnel address of the peer's never counts. peer has
 * a total of 7 with a tunnel source 198.18.0.9 refused; restored after. */
static void stale_disallowed_total_ranks_below_the_run(struct doctor_report *r, struct peer_observation *po,
						       struct datapath_observation *o, struct uapi_peer *peer)
{
	struct uapi_history moved = { .kind = "endpoint_changed", .age_ms = 10000,
				      .old_endpoint = "198.51.100.2:51821", .new_endpoint = "203.0.113.2:51820" };

	/* The peer's tun's link-local traffic (router solicitations, MLD):
	 * judged as if nothing was refused, and never suggested. */
	peer->last_disallowed_src = prefix("fe80::1e35:64d7:b8a0:a9c3");
	CHECK(judge_datapath(r, po, false, o) && is(last(r), DOCTOR_FAIL, "peer_drops") &&
	      !strstr(last(r)->decision, "fe80::"));
	peer->last_disallowed_src = prefix("169.254.7.7");
	CHECK(judge_datapath(r, po, false, o) && is(last(r), DOCTOR_FAIL, "peer_drops"));
	/* The peer's own endpoint address (its host's public address). */
	peer->last_disallowed_src = prefix("203.0.113.2");
	CHECK(judge_datapath(r, po, false, o) && is(last(r), DOCTOR_FAIL, "peer_drops") &&
	      !strstr(last(r)->decision, "203.0.113.2/32"));
	/* Even when it grew meanwhile, noise is no cause. */
	struct uapi_drop grew = { .reason = "disallowed_src", .count = 2 };
	o->drops = &grew, o->n_drops = 1;
	CHECK(judge_datapath(r, po, false, o) && is(last(r), DOCTOR_FAIL, "peer_drops"));
	o->drops = NULL, o->n_drops = 0;
	/* A peer without AllowedIPs: its link-local noise is not offered as
	 * the address to give it. */
	peer->last_disallowed_src = prefix("fe80::1e35:64d7:b8a0:a9c3");
	peer->n_allowed_ips = 0;
	CHECK(judge_datapath(r, po, false, o) && is(last(r), DOCTOR_FAIL, "no_allowed_ips") &&
	      !strstr(last(r)->decision, "fe80::"));
	peer->n_allowed_ips = 1;

	/* A tunnel source, but the run says more: an unconfirmed response, */
	peer->last_disallowed_src = prefix("198.18.0.9");
	peer->responses_unconfirmed = 1;
	CHECK(judge_datapath(r, po, false, o) && is(last(r), DOCTOR_FAIL, "one_way_or_psk"));
	peer->responses_unconfirmed = 0;
	/* data unanswered for long (the peer does not answer at all), */
	peer->has_unanswered = true;
	peer->unanswered_ms = 20000;
	CHECK(judge_datapath(r, po, false, o) && is(last(r), DOCTOR_FAIL, "peer_unreachable"));
	peer->has_unanswered = false;
	peer->unanswered_ms = 0;
	/* the endpoint moving just before, */
	peer->history = &moved, peer->n_history = 1;
	CHECK(judge_datapath(r, po, false, o) && is(last(r), DOCTOR_FAIL, "peer_drops"));
	/* A new port of the same address is the NAT's new mapping: no new path. */
	snprintf(moved.old_endpoint, sizeof(moved.old_endpoint), "203.0.113.2:40000");
	CHECK(judge_datapath(r, po, false, o) && is(last(r), DOCTOR_FAIL, "disallowed_src"));
	snprintf(moved.old_endpoint, sizeof(moved.old_endpoint), "198.51.100.2:51821");
	moved.age_ms = 600000;
	CHECK(judge_datapath(r, po, false, o) && is(last(r), DOCTOR_FAIL, "disallowed_src"));
	peer->history = NULL, peer->n_history = 0;
	/* or an ICMP error about our datagrams. */
	o->icmp.total = 2;
	o->icmp.last_kind = ICMP_KIND_HOST;
	CHECK(judge_datapath(r, po, false, o) && !is_quietly(last(r), "disallowed_src"));
	memset(&o->icmp, 0, sizeof(o->icmp));
	/* With nothing else seen, the total of a tunnel source still names it. */
	CHECK(judge_datapath(r, po, false, o) && is(last(r), DOCTOR_FAIL, "disallowed_src") &&
	      strstr(last(r)->decision, "add 198.18.0.9/32"));
}

/* ---- what only one direction proves ------------------------------------- */

static void test_session_causes(void)
{
	struct ip_prefix peer_ips[1] = { prefix("198.18.0.1/32") };
	struct uapi_peer peer = { .allowed_ips = peer_ips, .n_allowed_ips = 1 };
	struct peer_observation po = { .peer = &peer, .verdict = HANDSHAKE_FRESH, .initiates = true };
	struct datapath_observation o = { .has_address = true, .address = prefix("198.18.0.2"), .sent = 3,
					  .counted = true, .tx_delta = 3, .captured = true, .listen_port = 51820 };
	struct watch_observation w = { .watched = true, .counted = true };
	struct doctor_report r = new_report();

	snprintf(peer.endpoint, sizeof(peer.endpoint), "203.0.113.2:51820");
	peer.has_last_receive_age = true;
	peer.last_receive_age_ms = 1000;

	/* Datagrams reached the host, the daemon got none: the input firewall. */
	o.capture.datagrams = 4;
	CHECK(judge_datapath(&r, &po, false, &o) && is(last(&r), DOCTOR_FAIL, "input_firewall") &&
	      strstr(last(&r)->decision, "51820"));
	/* But the daemon took in another peer's meanwhile (probed at the same
	 * time): the port is open, the datagrams were those. */
	o.received_delta = 4;
	CHECK(judge_datapath(&r, &po, false, &o) && !is_quietly(last(&r), "input_firewall"));
	o.received_delta = 0;
	/* The peer's data arrives but it re-initiates, answered and never
	 * confirmed: our direction is lost, though the peer is heard. */
	o.rx_delta = 6;
	o.capture.by_type[4] = 4;
	peer.responses_unconfirmed = 3;
	CHECK(judge_datapath(&r, &po, false, &o) && is(last(&r), DOCTOR_FAIL, "one_way_to_peer"));
	/* Only initiations come: the peer cannot complete our responses, and
	 * from here a PresharedKey and a one-way filter look alike: both. */
	o.capture.by_type[4] = 0;
	o.rx_delta = 1;
	CHECK(judge_datapath(&r, &po, false, &o) && is(last(&r), DOCTOR_FAIL, "one_way_or_psk") &&
	      strstr(last(&r)->decision, "PresharedKey") && strstr(last(&r)->decision, "filter"));
	/* No PresharedKey here: ours is not wrong, the peer may have one
	 * (a key on one side only breaks it too). */
	CHECK(strstr(last(&r)->decision, "No PresharedKey here: if the peer has one for us, remove it or set the "
					 "same here") && !strstr(last(&r)->decision, "Compare"));
	peer.has_preshared_key = true;
	CHECK(judge_datapath(&r, &po, false, &o) && is(last(&r), DOCTOR_FAIL, "one_way_or_psk") &&
	      strstr(last(&r)->decision, "This side has a PresharedKey for this peer: compare it"));
	peer.has_preshared_key = false;
	/* One response unconfirmed: the peer re-initiated, so it did not take
	 * our answer; never peer_drops, which needs none unconfirmed. */
	peer.responses_unconfirmed = 1;
	CHECK(judge_datapath(&r, &po, false, &o) && is(last(&r), DOCTOR_FAIL, "one_way_or_psk"));
	peer.responses_unconfirmed = 0;
	CHECK(judge_datapath(&r, &po, false, &o) && is(last(&r), DOCTOR_FAIL, "peer_drops"));
	/* Drops for the inner source before doctor looked: fix it here. */
	struct uapi_drop d = { .reason = "disallowed_src", .count = 7 };
	peer.drops = &d, peer.n_drops = 1;
	CHECK(judge_datapath(&r, &po, false, &o) && is(last(&r), DOCTOR_FAIL, "disallowed_src") &&
	      strstr(last(&r)->decision, "THIS side"));
	/* roamd says which source it refused: the decision names it. */
	peer.has_last_disallowed_src = true;
	peer.last_disallowed_src = prefix("198.18.0.9");
	CHECK(judge_datapath(&r, &po, false, &o) && strstr(last(&r)->decision, "add 198.18.0.9/32"));
	stale_disallowed_total_ranks_below_the_run(&r, &po, &o, &peer);
	/* Another peer holds 198.18.0.9: adding it here would move it away
	 * from that peer; the conflict is named, not that fix. */
	struct ip_prefix other_ips[1] = { prefix("198.18.0.9/32") };
	struct uapi_peer peers[2] = { peer, { .allowed_ips = other_ips, .n_allowed_ips = 1 } };
	struct uapi_device dev = { .peers = peers, .n_peers = 2 };
	char other_key[KEY_B64_LEN + 1];

	memset(peers[1].public_key, 0x42, KEY_LEN);
	key_to_base64(other_key, peers[1].public_key);
	po.peer = &peers[0];
	o.dev = &dev;
	CHECK(judge_datapath(&r, &po, false, &o) && is(last(&r), DOCTOR_FAIL, "allowed_ips_conflict") &&
	      strstr(last(&r)->evidence, "198.18.0.9 belongs to peer") && strstr(last(&r)->evidence, other_key) &&
	      strstr(last(&r)->decision, "Do not add 198.18.0.9") && strstr(last(&r)->decision, "would move it") &&
	      !strstr(last(&r)->decision, "add 198.18.0.9/32"));
	/* Inside a wider prefix of the other peer: it would take it from there. */
	other_ips[0] = prefix("198.18.0.8/29");
	CHECK(judge_datapath(&r, &po, false, &o) && is(last(&r), DOCTOR_FAIL, "allowed_ips_conflict") &&
	      strstr(last(&r)->decision, "more specific prefix") && strstr(last(&r)->decision, "198.18.0.8/29"));
	/* The peer's own AllowedIPs do not count as another's. */
	dev.n_peers = 1;
	CHECK(judge_datapath(&r, &po, false, &o) && is(last(&r), DOCTOR_FAIL, "disallowed_src"));
	po.peer = &peer;
	o.dev = NULL;
	peer.has_last_disallowed_src = false;
	peer.drops = NULL, peer.n_drops = 0;

	/* The client's old port is closed and initiations made for another
	 * key of ours arrive meanwhile: it restarted with a wrong server key,
	 * not a NAT that forgot it. */
	peer.responses_unconfirmed = 0;
	peer.last_receive_age_ms = 14000;
	po.initiates = false;
	o.icmp.total = 3;
	o.icmp.last_kind = ICMP_KIND_PORT;
	CHECK(judge_datapath(&r, &po, false, &o) && is(last(&r), DOCTOR_FAIL, "nat_mapping_expired"));
	/* But the peer's datagrams arrived from its address meanwhile, before
	 * the firewall, and none reached the daemon: this host drops them,
	 * whatever the daemon's silence looks like (a ban set; a DNAT). */
	o.endpoint_arrived = 5;
	o.rx_delta = 0;
	CHECK(judge_datapath(&r, &po, false, &o) && is(last(&r), DOCTOR_FAIL, "input_firewall") &&
	      strstr(last(&r)->evidence, "5 datagrams from the peer's address") &&
	      !strstr(last(&r)->decision, "PersistentKeepalive"));
	snprintf(o.redirect_rule, sizeof(o.redirect_rule), "iifname \"eth1\" udp dport 51820 dnat to 203.0.113.99");
	CHECK(judge_datapath(&r, &po, false, &o) && is(last(&r), DOCTOR_FAIL, "port_redirected") &&
	      strstr(last(&r)->evidence, "dnat to 203.0.113.99"));
	/* The rule alone explains the silence when no datagram came during
	 * the pings (a keepalive every 25 s). */
	o.endpoint_arrived = 0;
	CHECK(judge_datapath(&r, &po, false, &o) && is(last(&r), DOCTOR_FAIL, "port_redirected"));
	o.redirect_rule[0] = '\0';
	CHECK(judge_datapath(&r, &po, false, &o) && is(last(&r), DOCTOR_FAIL, "nat_mapping_expired"));
	/* Another peer at that address (one NAT) was heard: not dropped here. */
	o.endpoint_arrived = 5;
	o.endpoint_reached_daemon = true;
	CHECK(judge_datapath(&r, &po, false, &o) && is(last(&r), DOCTOR_FAIL, "nat_mapping_expired"));
	o.endpoint_arrived = 0, o.endpoint_reached_daemon = false, o.rx_delta = 1;
	o.refused_reason = "bad_mac1";
	o.refused = 1;
	CHECK(judge_datapath(&r, &po, false, &o) && is(last(&r), DOCTOR_FAIL, "bad_mac1") &&
	      strstr(last(&r)->decision, "PublicKey must be"));
	o.refused_reason = "unknown_peer";
	CHECK(judge_datapath(&r, &po, false, &o) && is(last(&r), DOCTOR_FAIL, "unknown_peer"));
	o.refused_reason = NULL, o.refused = 0;
	o.icmp.total = 0;
	po.initiates = true;
	peer.last_receive_age_ms = 1000;

	/* No fresh handshake: a response to our initiation failed to decrypt
	 * while the peer's initiations authenticate: the preshared key. */
	struct uapi_drop grew = { .reason = "handshake_decrypt", .count = 1 };
	po.verdict = HANDSHAKE_STALE;
	po.nudged = true;
	peer.responses_unconfirmed = 2;
	w.drops = &grew, w.n_drops = 1;
	CHECK(judge_handshake(&r, &po, &w) && is(last(&r), DOCTOR_FAIL, "psk_mismatch") &&
	      strstr(last(&r)->evidence, "failed to decrypt") && strstr(last(&r)->decision, "no PresharedKey here"));
	/* We see only our own key: with one here, the peer's is to check. */
	peer.has_preshared_key = true;
	CHECK(judge_handshake(&r, &po, &w) && is(last(&r), DOCTOR_FAIL, "psk_mismatch") &&
	      strstr(last(&r)->decision, "this side has one, check the peer's"));
	/* Without unconfirmed responses it stays handshake_decrypt, but our
	 * initiation was answered, so the public keys pair up: the decision
	 * is the preshared key on either side, by what this side has. */
	peer.responses_unconfirmed = 0;
	CHECK(judge_handshake(&r, &po, &w) && is(last(&r), DOCTOR_FAIL, "handshake_decrypt") &&
	      strstr(last(&r)->decision, "PresharedKey differs: this side has one, check the peer's") &&
	      !strstr(last(&r)->decision, "keys do not pair up"));
	peer.has_preshared_key = false;
	CHECK(judge_handshake(&r, &po, &w) && is(last(&r), DOCTOR_FAIL, "handshake_decrypt") &&
	      strstr(last(&r)->decision, "PresharedKey on one side only: no PresharedKey here"));
	w.n_drops = 0;
	doctor_report_free(&r);
}

/* ---- the forward filter --------------------------------------------------- */

static void test_forward_filter(void)
{
	char found[256];

	/* Policy drop, only replies accepted: the clients' traffic dies. */
	/* Only the clients' direction accepted: the replies fall to the policy. */
	{
		char where[320];
		const char *one_way = "table ip filter {\n\tchain FORWARD {\n\t\ttype filter hook forward priority 0; "
				      "policy drop;\n\t\tiifname \"wg0\" oifname \"eth0\" accept\n\t}\n}\n";
		const char *with_ct = "table ip filter {\n\tchain FORWARD {\n\t\ttype filter hook forward priority 0; "
				      "policy drop;\n\t\tct state established,related accept\n\t\tiifname \"wg0\" "
				      "oifname \"eth0\" accept\n\t}\n}\n";
		const char *back_in = "table ip filter {\n\tchain FORWARD {\n\t\ttype filter hook forward priority 0; "
				      "policy drop;\n\t\tiifname \"wg0\" accept\n\t\toifname \"wg0\" accept\n\t}\n}\n";
		const char *jumps = "table ip filter {\n\tchain FORWARD {\n\t\ttype filter hook forward priority 0; "
				    "policy drop;\n\t\tiifname \"wg0\" accept\n\t\tjump more\n\t}\n}\n";

		CHECK(ruleset_find_forward_replies_drop(one_way, "wg0", where, sizeof(where)) &&
		      strstr(where, "table ip filter, chain FORWARD: policy drop") &&
		      !ruleset_find_forward_drop(one_way, "wg0", where, sizeof(where)));
		CHECK(!ruleset_find_forward_replies_drop(with_ct, "wg0", where, sizeof(where)));
		CHECK(!ruleset_find_forward_replies_drop(back_in, "wg0", where, sizeof(where)));
		CHECK(!ruleset_find_forward_replies_drop(jumps, "wg0", where, sizeof(where)));
		CHECK(!ruleset_find_forward_replies_drop(one_way, "wg1", where, sizeof(where)));
	}
	CHECK(ruleset_find_forward_drop("table inet f {\n\tchain fwd {\n\t\ttype filter hook forward priority filter; "
					"policy drop;\n\t\tct state established,related accept\n\t}\n}\n",
					"wg0", found, sizeof(found)) &&
	      strstr(found, "policy drop") && strstr(found, "fwd"));
	/* The same with the tunnel accepted: fine. */
	CHECK(!ruleset_find_forward_drop("table inet f {\n\tchain fwd {\n\t\ttype filter hook forward priority filter; "
					 "policy drop;\n\t\tct state established,related accept\n\t\tiifname \"wg0\" "
					 "accept\n\t}\n}\n", "wg0", found, sizeof(found)));
	/* A rule naming the interface that rejects; iptables-nft's FORWARD. */
	CHECK(ruleset_find_forward_drop("table ip filter {\n\tchain FORWARD {\n\t\ttype filter hook forward priority "
					"filter; policy accept;\n\t\tiifname \"wg0\" counter packets 0 bytes 0 reject\n"
					"\t}\n}\n", "wg0", found, sizeof(found)) && strstr(found, "reject"));
	/* Drops of other traffic, and non-forward chains, do not count. */
	CHECK(!ruleset_find_forward_drop("table inet f {\n\tchain fwd {\n\t\ttype filter hook forward priority filter; "
					 "policy accept;\n\t\tiifname \"eth1\" drop\n\t}\n\tchain in {\n\t\ttype "
					 "filter hook input priority filter; policy drop;\n\t}\n}\n", "wg0", found,
					 sizeof(found)));
	/* The input hook, as a hardened server has it (case 14): lo, replies,
	 * the tunnel's port and SSH accepted; the tunnel itself not. */
	const char *hardened = "table inet hardening {\n\tchain input {\n\t\ttype filter hook input priority filter; "
			       "policy drop;\n\t\tiif \"lo\" accept\n\t\tct state established,related accept\n"
			       "\t\tudp dport 51820 accept\n\t\ttcp dport 22 accept\n\t}\n}\n";
	CHECK(ruleset_find_input_drop(hardened, "wg0", found, sizeof(found)) &&
	      strstr(found, "table inet hardening, chain input: policy drop"));
	CHECK(!ruleset_find_forward_drop(hardened, "wg0", found, sizeof(found)));
	CHECK(!ruleset_find_input_drop("table inet h {\n\tchain input {\n\t\ttype filter hook input priority filter; "
				       "policy drop;\n\t\tiifname \"wg0\" accept\n\t}\n}\n", "wg0", found, sizeof(found)));
	/* A rule dropping the tunnel outright is the datapath's to name (the
	 * replies to this host's pings die too: tunnel_input_dropped). */
	CHECK(!ruleset_find_input_drop("table inet h {\n\tchain input {\n\t\ttype filter hook input priority filter; "
				       "policy accept;\n\t\tiifname \"wg0\" drop\n\t}\n}\n", "wg0", found, sizeof(found)));
	/* An accept by source may be the tunnel's subnet: not blamed. */
	CHECK(!ruleset_find_input_drop("table inet h {\n\tchain input {\n\t\ttype filter hook input priority filter; "
				       "policy drop;\n\t\tip saddr 198.18.100.0/24 accept\n\t}\n}\n", "wg0", found,
				       sizeof(found)));
}

/* ---- nothing arrives, and what depends on a failed check --------------- */

#define NOW_MS 1700000000000ull

static void test_silence_and_dependents(void)
{
	struct ip_prefix peer_ips[1] = { prefix("198.18.0.1/32") };
	struct uapi_peer peer = { .allowed_ips = peer_ips, .n_allowed_ips = 1 };
	struct uapi_device dev = { .listen_port = 51820, .extended = true, .peers = &peer, .n_peers = 1 };
	struct watch_observation w = { .watched = true, .counted = true, .icmp_watched = true };
	struct doctor_report r = new_report();
	struct dns_observation d = { .server = prefix("198.18.0.1"), .source = "the config's DNS",
				     .inside_peer = peer.public_key, .answered = 0 };

	snprintf(peer.endpoint, sizeof(peer.endpoint), "198.19.0.2:51820");
	w.capture.elapsed_ms = 1000;

	/* An ICMP port unreachable names a wrong port or a stopped daemon. */
	w.icmp.total = 1;
	w.icmp.last_kind = ICMP_KIND_PORT;
	w.icmp.reporter = w.icmp.target = prefix("198.19.0.2");
	w.icmp.target_port = 51821;
	CHECK(judge_udp(&r, &dev, &w, NOW_MS) && is(last(&r), DOCTOR_FAIL, "icmp_port_unreachable") &&
	      strstr(last(&r)->decision, "51821"));
	/* The same bounce for a peer that connects here (its endpoint was
	 * learned, no Endpoint on this side) and has been silent for minutes:
	 * its NAT forgot it; the keepalive goes on the peer. */
	bool initiates[1] = { false };
	w.initiates = initiates;
	peer.has_last_receive_age = true;
	peer.last_receive_age_ms = 240000;
	CHECK(judge_udp(&r, &dev, &w, NOW_MS) && is(last(&r), DOCTOR_FAIL, "nat_mapping_expired") &&
	      strstr(last(&r)->decision, "PEER's"));
	initiates[0] = true;
	CHECK(judge_udp(&r, &dev, &w, NOW_MS) && is(last(&r), DOCTOR_FAIL, "icmp_port_unreachable") &&
	      strstr(last(&r)->decision, "Endpoint's port is wrong"));
	/* A learned endpoint that bounces before the NAT could forget it (the
	 * peer's daemon died a second ago): no Endpoint here to be wrong, the
	 * peer's side changed. */
	initiates[0] = false;
	peer.last_receive_age_ms = 1000;
	snprintf(peer.endpoint, sizeof(peer.endpoint), "198.19.0.2:51821");
	CHECK(judge_udp(&r, &dev, &w, NOW_MS) && is(last(&r), DOCTOR_FAIL, "icmp_port_unreachable") &&
	      !strstr(last(&r)->decision, "Endpoint's port is wrong") &&
	      strstr(last(&r)->decision, "no longer listens") && strstr(last(&r)->evidence, "learned"));
	snprintf(peer.endpoint, sizeof(peer.endpoint), "198.19.0.2:51820");
	w.initiates = NULL;
	peer.has_last_receive_age = false;
	memset(&w.icmp, 0, sizeof(w.icmp));

	/* Initiations unanswered, no ICMP: a peer that never answered points
	 * at its key for us first; one that answered before went away. */
	peer.handshake_attempts = 2;
	CHECK(judge_udp(&r, &dev, &w, NOW_MS) && is(last(&r), DOCTOR_FAIL, "keys_or_filter") &&
	      strstr(last(&r)->decision, "OURKEY"));
	peer.last_handshake_sec = NOW_MS / 1000 - 600;	/* 10 minutes ago */
	CHECK(judge_udp(&r, &dev, &w, NOW_MS) && is(last(&r), DOCTOR_FAIL, "peer_gone"));

	/* Not reaching out, and the peer may retry later than watched. */
	peer.handshake_attempts = 0;
	w.peer_retry_ms = 25000;
	CHECK(!judge_udp(&r, &dev, &w, NOW_MS) && is(last(&r), DOCTOR_WARN, "evidence_incomplete") &&
	      strstr(last(&r)->decision, "--wait 27"));

	/* Watched only for earlier send refusals, every peer fresh: an idle
	 * tunnel is quiet, nothing to warn about. */
	peer.last_handshake_sec = NOW_MS / 1000 - 30;
	CHECK(!judge_udp(&r, &dev, &w, NOW_MS) && is(last(&r), DOCTOR_PASS, NULL));
	peer.last_handshake_sec = NOW_MS / 1000 - 600;

	/* This host refuses to send: udp is not judged. */
	w.sending_failed = true;
	CHECK(judge_udp(&r, &dev, &w, NOW_MS) && is(last(&r), DOCTOR_SKIP, NULL));

	/* DNS behind a failed data path is not blamed. */
	d.not_judged = "datapath";
	judge_dns(&r, &d);
	CHECK(is(last(&r), DOCTOR_SKIP, NULL) && strstr(last(&r)->evidence, "see datapath"));
	d.not_judged = NULL;
	judge_dns(&r, &d);
	CHECK(is(last(&r), DOCTOR_FAIL, "dns_no_answer"));
	doctor_report_free(&r);
}

/* Host unreachable from this host's own address: its kernel could not
 * reach the next hop, so the fault is here (a dead gateway a policy rule
 * chose), not the peer's host being off the network. */
static void test_next_hop_unreachable(void)
{
	struct doctor_report r = new_report();
	struct icmp_seen icmp = { .reporter = prefix("192.0.2.1"), .target = prefix("198.51.100.2"),
				  .target_port = 51820, .last_kind = ICMP_KIND_HOST, .total = 3 };
	struct doctor_finding *f = doctor_add(&r, "datapath", NULL);

	icmp.by_kind[ICMP_KIND_HOST] = 3;
	doctor_icmp_cause(f, &icmp, false);	/* from a router: the peer's host is gone */
	CHECK(is(f, DOCTOR_FAIL, "icmp_unreachable"));
	f = doctor_add(&r, "datapath", NULL);
	icmp.next_hop = (struct icmp_next_hop){ .reporter_local = true, .gateway = "192.0.2.99", .dev = "eth1",
						.table = 100, .by_rule = true, .rule_fwmark = 0x100,
						.rule_priority = 1000 };
	doctor_icmp_cause(f, &icmp, false);
	CHECK(is(f, DOCTOR_FAIL, "next_hop_unreachable") && strstr(f->evidence, "this host's own address") &&
	      strstr(f->decision, "next hop 192.0.2.99 on eth1 for 198.51.100.2 (table 100, chosen by rule fwmark "
				  "0x100 lookup 100") &&
	      strstr(f->decision, "ip rule del pref 1000") && !strstr(f->decision, "off the network"));
	f = doctor_add(&r, "datapath", NULL);
	icmp.next_hop.gateway[0] = '\0';	/* the peer on the link itself */
	doctor_icmp_cause(f, &icmp, false);
	CHECK(is(f, DOCTOR_FAIL, "next_hop_unreachable") && strstr(f->decision, "does not answer ARP/ND on eth1"));
	doctor_report_free(&r);
}

/* The NAT in front of a client stopped translating: its datagrams come
 * from its own unroutable address, roamd follows them there, and answers
 * draw net unreachable from a router. Not "the peer's host is off the
 * network", and the endpoint check no longer passes the move. */
static void test_moved_to_unroutable(void)
{
	struct doctor_report r = new_report();
	struct ip_prefix peer_ips[1] = { prefix("198.18.0.2/32") };
	struct uapi_history moved = { .kind = "endpoint_changed", .age_ms = 10000,
				      .old_endpoint = "203.0.113.2:51820", .new_endpoint = "192.0.2.2:51820" };
	struct uapi_peer peer = { .allowed_ips = peer_ips, .n_allowed_ips = 1, .history = &moved, .n_history = 1,
				  .endpoint = "192.0.2.2:51820" };
	struct peer_observation po = { .peer = &peer, .verdict = HANDSHAKE_FRESH };
	struct datapath_observation o = { .has_address = true, .address = prefix("198.18.0.2"), .sent = 3,
					  .counted = true, .tx_delta = 5, .rx_delta = 1, .listen_port = 51820 };

	memset(peer.public_key, 0x17, KEY_LEN);
	o.icmp = (struct icmp_seen){ .reporter = prefix("198.19.0.1"), .target = prefix("192.0.2.2"),
				     .target_port = 51820, .last_kind = ICMP_KIND_HOST, .total = 3 };
	doctor_add(&r, "endpoint", peer.public_key);
	CHECK(judge_datapath(&r, &po, false, &o) && is(last(&r), DOCTOR_FAIL, "icmp_unreachable") &&
	      strstr(last(&r)->decision, "now arrive from 192.0.2.2, which the network cannot route back to") &&
	      strstr(last(&r)->decision, "stopped translating") && !strstr(last(&r)->decision, "off the network"));
	CHECK(r.v[0].status == DOCTOR_WARN && r.v[0].cause && !strcmp(r.v[0].cause, "endpoint_unroutable") &&
	      strstr(r.v[0].evidence, "cannot route back to 192.0.2.2"));
	/* No move lately: the peer's host is off the network, as before. */
	moved.age_ms = 3600 * 1000;
	CHECK(judge_datapath(&r, &po, false, &o) && is(last(&r), DOCTOR_FAIL, "icmp_unreachable") &&
	      strstr(last(&r)->decision, "off the network"));
	/* A move between ports of one address is a NAT's, not this. */
	moved.age_ms = 10000;
	snprintf(moved.old_endpoint, sizeof(moved.old_endpoint), "192.0.2.2:40000");
	CHECK(judge_datapath(&r, &po, false, &o) && strstr(last(&r)->decision, "off the network"));
	doctor_report_free(&r);
}

int main(void)
{
	RUN(test_moved_to_unroutable);
	RUN(test_next_hop_unreachable);
	RUN(test_icmp_parser);
	RUN(test_icmp_about);
	RUN(test_forked);
	RUN(test_datapath);
	RUN(test_icmp_grace);
	RUN(test_datapath_failure_covers);
	RUN(test_silence_and_dependents);
	RUN(test_session_causes);
	RUN(test_forward_filter);
	return test_finish("test_roam_doctor_datapath");
}
