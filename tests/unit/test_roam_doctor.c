/* roam doctor's pure parts: each judge in front of the situations it must
 * tell apart (src/roam/doctor/doctor_judge.c), the largest-packet search against a
 * model path with losses, the capture's datagram parser, the NAT rule
 * search, and the JSON report's shape. The network-facing half is
 * tests/integration/test_roam_doctor.sh.
 */
#include <errno.h>
#include <linux/if_ether.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conntrack.h"
#include "doctor.h"
#include "hostinfo.h"
#include "doctor_rpfilter.h"
#include "ip_header.h"
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

/* A peer with the given AllowedIPs (a comma-free list, up to 4). */
struct test_peer {
	struct uapi_peer peer;
	struct ip_prefix ips[4];
};

static void make_peer(struct test_peer *t, uint8_t key_byte, const char *a, const char *b)
{
	memset(t, 0, sizeof(*t));
	memset(t->peer.public_key, key_byte, KEY_LEN);
	t->ips[0] = prefix(a);
	t->peer.n_allowed_ips = 1;
	if (b) {
		t->ips[1] = prefix(b);
		t->peer.n_allowed_ips = 2;
	}
	t->peer.allowed_ips = t->ips;
}

static struct doctor_report new_report(void)
{
	struct doctor_report r = { 0 };

	snprintf(r.ifname, sizeof(r.ifname), "wg0");
	snprintf(r.daemon, sizeof(r.daemon), "roamd");
	r.pid = 42;
	snprintf(r.public_key, sizeof(r.public_key), "OURKEY");
	return r;
}

static const struct doctor_finding *last(const struct doctor_report *r)
{
	return &r->v[r->n - 1];
}

static bool says_quietly(const struct doctor_finding *f, const char *text)
{
	return strstr(f->evidence, text) || strstr(f->decision, text);
}

static bool says(const struct doctor_finding *f, const char *text)
{
	bool ok = strstr(f->evidence, text) || strstr(f->decision, text);

	if (!ok)
		fprintf(stderr, "    %s %s: '%s' / '%s' lacks '%s'\n", doctor_status_name(f->status), f->check,
			f->evidence, f->decision, text);
	return ok;
}

static double figure(const struct doctor_finding *f, const char *name)
{
	for (size_t i = 0; i < f->n_figures; i++)
		if (!strcmp(f->figures[i].name, name))
			return f->figures[i].value;
	return -1;
}

/* ---- the largest packet through ---------------------------------------- */

/* A path that passes packets up to `limit` bytes and loses the first try
 * of every size in `lossy` of them (a lost reply is not a black hole). */
struct model_path {
	unsigned limit, every;
	unsigned seen[2000];
};

static int model_probe(void *ctx, unsigned len)
{
	struct model_path *m = ctx;

	if (len < 2000 && m->every && len % m->every == 0 && m->seen[len]++ == 0)
		return 0;
	return len <= m->limit;
}

static void test_largest_packet(void)
{
	static const unsigned limits[] = { 84, 85, 1000, 1232, 1280, 1419, 1420 };

	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++)
		for (unsigned every = 0; every <= 3; every++) {
			struct model_path m = { .limit = limits[i], .every = every };
			unsigned probes = 0;
			int got = largest_passing_packet(model_probe, &m, 84, 1420, 2, &probes);

			if (!CHECK(got == (int)limits[i]))
				fprintf(stderr, "    limit %u every %u: got %d\n", limits[i], every, got);
			/* A binary search: 11 steps over 1336 sizes, 2 tries at most each. */
			CHECK(probes <= 22);
		}
}

/* ---- the capture's parser ---------------------------------------------- */

static size_t udp4(uint8_t *b, const char *src, uint16_t sport, uint16_t dport, uint8_t type, uint16_t frag)
{
	struct ip_prefix s = prefix(src);

	memset(b, 0, 64);
	b[0] = 0x45;
	b[6] = (uint8_t)(frag >> 8);
	b[7] = (uint8_t)frag;
	b[9] = IPPROTO_UDP;
	memcpy(b + 12, s.addr, 4);
	b[20] = (uint8_t)(sport >> 8);
	b[21] = (uint8_t)sport;
	b[22] = (uint8_t)(dport >> 8);
	b[23] = (uint8_t)dport;
	b[28] = type;
	return 48;
}

static void test_capture_parser(void)
{
	struct capture_result c = { 0 };
	uint8_t b[128];
	size_t n;

	n = udp4(b, "203.0.113.2", 4000, 51820, 1, 0);
	capture_account(&c, ETH_P_IP, b, n, 51820);
	capture_account(&c, ETH_P_IP, b, n, 51820);
	n = udp4(b, "198.51.100.2", 5000, 51820, 4, 0);
	capture_account(&c, ETH_P_IP, b, n, 51820);
	n = udp4(b, "198.51.100.2", 5000, 53, 1, 0);		/* another port */
	capture_account(&c, ETH_P_IP, b, n, 51820);
	n = udp4(b, "198.51.100.2", 5000, 51820, 1, 0x0010);	/* a later fragment */
	capture_account(&c, ETH_P_IP, b, n, 51820);
	capture_account(&c, ETH_P_IP, b, 20, 51820);		/* truncated */
	CHECK(c.datagrams == 3);
	CHECK(c.by_type[1] == 2 && c.by_type[4] == 1);
	CHECK(c.n_sources == 2 && c.sources[0].count == 2 && c.sources[0].port == 4000);

	/* IPv6 */
	memset(b, 0, sizeof(b));
	b[0] = 0x60;
	b[6] = IPPROTO_UDP;
	memcpy(b + 8, prefix("fd00:5::2").addr, 16);
	b[42] = 51820 >> 8;
	b[43] = 51820 & 0xff;
	b[48] = 2;
	capture_account(&c, ETH_P_IPV6, b, 64, 51820);
	CHECK(c.datagrams == 4 && c.by_type[2] == 1 && c.n_sources == 3 && c.sources[2].addr.family == AF_INET6);
}

/* The parser trusts no length: an IPv4 header length (IHL) below 20 bytes
 * is refused, and every prefix of a datagram too short to hold its UDP
 * header counts nothing. */
static void test_capture_parser_bounds(void)
{
	struct capture_result c = { 0 };
	uint8_t b[128], *copy;
	size_t n;

	/* Each short IHL with the port where that IHL would put it. */
	for (unsigned ihl = 1; ihl < 5; ihl++) {
		n = udp4(b, "203.0.113.2", 4000, 51820, 1, 0);
		b[0] = (uint8_t)(0x40 | ihl);
		b[ihl * 4 + UDP_DPORT] = 51820 >> 8;
		b[ihl * 4 + UDP_DPORT + 1] = 51820 & 0xff;
		capture_account(&c, ETH_P_IP, b, n, 51820);
	}
	CHECK(c.datagrams == 0 && c.n_sources == 0);
	n = udp4(b, "203.0.113.2", 4000, 51820, 1, 0);
	/* IHL 6: a 4-byte option, the UDP header 4 bytes further on. */
	memmove(b + 24, b + 20, 28);
	memset(b + 20, 1, 4);
	b[0] = 0x46;
	capture_account(&c, ETH_P_IP, b, n + 4, 51820);
	CHECK(c.datagrams == 1 && c.sources[0].port == 4000 && c.by_type[1] == 1);
	/* IHL 15 (60 bytes) in a 48-byte datagram. */
	b[0] = 0x4f;
	capture_account(&c, ETH_P_IP, b, n, 51820);
	CHECK(c.datagrams == 1);

	/* Each truncation, in a block of exactly that size (ASan sees a
	 * read past it): counted only from 28 bytes (IPv4 + UDP) on. */
	memset(&c, 0, sizeof(c));
	n = udp4(b, "203.0.113.2", 4000, 51820, 1, 0);
	for (size_t len = 0; len <= 29; len++) {
		copy = malloc(len ? len : 1);
		memcpy(copy, b, len);
		capture_account(&c, ETH_P_IP, copy, len, 51820);
		free(copy);
		if (!CHECK(c.datagrams == (len >= 28 ? len - 27 : 0)))
			fprintf(stderr, "    IPv4, %zu bytes\n", len);
	}
	/* A datagram with no payload has no WireGuard type: counted as other. */
	CHECK(c.by_type[0] == 1 && c.by_type[1] == 1);
	memset(&c, 0, sizeof(c));
	memset(b, 0, sizeof(b));
	b[0] = 0x60;
	b[6] = IPPROTO_UDP;
	b[42] = 51820 >> 8;
	b[43] = 51820 & 0xff;
	for (size_t len = 0; len < 48; len++) {
		copy = malloc(len ? len : 1);
		memcpy(copy, b, len);
		capture_account(&c, ETH_P_IPV6, copy, len, 51820);
		free(copy);
	}
	CHECK(c.datagrams == 0);
	/* Neither IPv4 nor IPv6. */
	capture_account(&c, ETH_P_ARP, b, sizeof(b), 51820);
	CHECK(c.datagrams == 0);
}

/* Classic BPF as the kernel runs it on a packet socket, for the opcodes
 * capture_filter uses: loads past the end drop the packet (return 0), as
 * in the kernel. Returns what the program returns (bytes to keep). */
static uint32_t run_cbpf(const struct sock_filter *prog, size_t n, const uint8_t *pkt, size_t len, uint16_t proto)
{
	uint32_t a = 0, x = 0, k;

	for (size_t pc = 0; pc < n; pc++) {
		const struct sock_filter *f = &prog[pc];
		k = f->k;
		switch (f->code) {
		case BPF_LD | BPF_H | BPF_ABS:
		case BPF_LD | BPF_H | BPF_IND:
			if (f->code == (BPF_LD | BPF_H | BPF_ABS) && k == (uint32_t)(SKF_AD_OFF + SKF_AD_PROTOCOL)) {
				a = proto;
				break;
			}
			if (f->code == (BPF_LD | BPF_H | BPF_IND))
				k += x;
			if (k + 2 > len)
				return 0;
			a = (uint32_t)pkt[k] << 8 | pkt[k + 1];
			break;
		case BPF_LD | BPF_B | BPF_ABS:
			if (k + 1 > len)
				return 0;
			a = pkt[k];
			break;
		case BPF_LDX | BPF_B | BPF_MSH:
			if (k + 1 > len)
				return 0;
			x = 4u * (pkt[k] & 0xf);
			break;
		case BPF_MISC | BPF_TXA:
			a = x;
			break;
		case BPF_JMP | BPF_JEQ | BPF_K:
			pc += a == k ? f->jt : f->jf;
			break;
		case BPF_JMP | BPF_JGE | BPF_K:
			pc += a >= k ? f->jt : f->jf;
			break;
		case BPF_JMP | BPF_JSET | BPF_K:
			pc += (a & k) ? f->jt : f->jf;
			break;
		case BPF_RET | BPF_K:
			return k;
		default:
			CHECK(!"an opcode this interpreter does not know");
			return 0;
		}
	}
	CHECK(!"the program ran off its end");
	return 0;
}

/* The kernel-side filter passes exactly what the parser counts: UDP to
 * the port, IPv4 first fragments with a sane IHL and IPv6, and drops the
 * rest; and the kernel's own checker accepts the program. */
static void test_capture_filter(void)
{
	struct sock_filter prog[CAPTURE_FILTER_LEN];
	size_t n = capture_filter(prog, 51820);
	uint8_t b[128];
	size_t len;

	CHECK(n == CAPTURE_FILTER_LEN);
	len = udp4(b, "203.0.113.2", 4000, 51820, 1, 0);
	CHECK(run_cbpf(prog, n, b, len, ETH_P_IP) == CAPTURE_SNAP_LEN);
	CHECK(run_cbpf(prog, n, b, len, ETH_P_ARP) == 0);
	CHECK(run_cbpf(prog, n, b, 23, ETH_P_IP) == 0);		/* no room for the port */
	len = udp4(b, "203.0.113.2", 4000, 53, 1, 0);
	CHECK(run_cbpf(prog, n, b, len, ETH_P_IP) == 0);		/* another port */
	len = udp4(b, "203.0.113.2", 4000, 51820, 1, 0x0010);
	CHECK(run_cbpf(prog, n, b, len, ETH_P_IP) == 0);		/* a later fragment */
	len = udp4(b, "203.0.113.2", 4000, 51820, 1, 0x2000);
	CHECK(run_cbpf(prog, n, b, len, ETH_P_IP) == CAPTURE_SNAP_LEN);	/* MF: the first */
	b[9] = IPPROTO_TCP;
	CHECK(run_cbpf(prog, n, b, len, ETH_P_IP) == 0);
	b[9] = IPPROTO_UDP;
	/* IHL 4 with the port where IHL 4 would put it... */
	len = udp4(b, "203.0.113.2", 4000, 51820, 1, 0);
	b[0] = 0x44;
	b[16 + UDP_DPORT] = 51820 >> 8;
	b[16 + UDP_DPORT + 1] = 51820 & 0xff;
	CHECK(run_cbpf(prog, n, b, len, ETH_P_IP) == 0);
	/* ...and IHL 6, the port 4 bytes further on. */
	len = udp4(b, "203.0.113.2", 4000, 9, 1, 0);
	b[0] = 0x46;
	b[26] = 51820 >> 8;
	b[27] = 51820 & 0xff;
	CHECK(run_cbpf(prog, n, b, len, ETH_P_IP) == CAPTURE_SNAP_LEN);

	memset(b, 0, sizeof(b));
	b[0] = 0x60;
	b[6] = IPPROTO_UDP;
	b[42] = 51820 >> 8;
	b[43] = 51820 & 0xff;
	CHECK(run_cbpf(prog, n, b, 64, ETH_P_IPV6) == CAPTURE_SNAP_LEN);
	CHECK(run_cbpf(prog, n, b, 64, ETH_P_IP) == 0);
	b[6] = 0;	/* a hop-by-hop header first */
	CHECK(run_cbpf(prog, n, b, 64, ETH_P_IPV6) == 0);
	b[6] = IPPROTO_UDP;
	b[43]++;
	CHECK(run_cbpf(prog, n, b, 64, ETH_P_IPV6) == 0);

	/* The kernel checks a classic filter when it is attached; a UDP
	 * socket takes one without privileges. */
	struct sock_fprog fprog = { .len = (unsigned short)n, .filter = prog };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (CHECK(fd >= 0)) {
		CHECK(setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof(fprog)) == 0);
		close(fd);
	}
}

/* ---- udp --------------------------------------------------------------- */

/* This host's own kernel refusing the datagrams (roamd's send_* drops) is
 * named before anything upstream is blamed. */
static void test_sending(void)
{
	struct test_peer tp;
	struct uapi_drop grew[2] = { { .reason = "send_unreachable", .count = 2 },
				     { .reason = "send_refused", .count = 40 } };
	struct uapi_drop totals[1] = { { .reason = "send_refused", .count = 149 } };
	struct uapi_device dev = { .listen_port = 51820, .extended = true, .peers = &tp.peer, .n_peers = 1 };
	struct watch_observation w = { .watched = true, .counted = true };
	struct doctor_report r = new_report();

	make_peer(&tp, 1, "198.18.0.2/32", NULL);
	/* Watched: nothing refused meanwhile. */
	CHECK(!judge_sending(&r, &dev, &w, 0));
	CHECK(last(&r)->status == DOCTOR_PASS);
	/* Refusals grew while doctor watched: FAIL, the biggest cause decides. */
	w.drops = grew;
	w.n_drops = 2;
	w.capture.elapsed_ms = 6000;
	CHECK(judge_sending(&r, &dev, &w, 0));
	CHECK(last(&r)->status == DOCTOR_FAIL && says(last(&r), "40 datagrams to peers refused by a firewall") &&
	      says(last(&r), "send_unreachable") && says(last(&r), "output path"));
	grew[0].count = 90;
	CHECK(judge_sending(&r, &dev, &w, 0));
	CHECK(last(&r)->status == DOCTOR_FAIL && says(last(&r), "no route to the endpoint"));

	/* Not watched: totals count only when no handshake is fresh. */
	w = (struct watch_observation){ .watched = false };
	dev.drops = totals;
	dev.n_drops = 1;
	CHECK(judge_sending(&r, &dev, &w, 0));
	CHECK(last(&r)->status == DOCTOR_FAIL && says(last(&r), "149 datagrams"));
	tp.peer.last_handshake_sec = 1000;
	CHECK(!judge_sending(&r, &dev, &w, 1000 * 1000 + 5000));
	CHECK(last(&r)->status == DOCTOR_PASS);

	/* wireguard-go counts nothing of the kind. */
	dev.extended = false;
	CHECK(!judge_sending(&r, &dev, &w, 0));
	CHECK(last(&r)->status == DOCTOR_SKIP);
	/* An Endpoint routed into the tunnel itself: a loop, named first. */
	snprintf(w.looped_endpoint, sizeof(w.looped_endpoint), "198.51.100.1:51820");
	CHECK(judge_sending(&r, &dev, &w, 0));
	CHECK(last(&r)->status == DOCTOR_FAIL && !strcmp(last(&r)->cause, "endpoint_routed_into_tunnel") &&
	      says(last(&r), "198.51.100.1:51820") && says(last(&r), "FwMark"));
	/* A full tunnel whose datagrams lose the fwmark on output: the
	 * rule that clears it is named, and the fix is that rule. */
	dev.fwmark = 0xca6c;
	w.mark_lost = true;
	snprintf(w.mark_rule, sizeof(w.mark_rule), "table ip clob, chain out: meta l4proto udp meta mark set 0x00000000");
	CHECK(judge_sending(&r, &dev, &w, 0));
	CHECK(last(&r)->status == DOCTOR_FAIL && !strcmp(last(&r)->cause, "fwmark_lost") &&
	      strstr(last(&r)->evidence, "lose fwmark 0xca6c and are routed into wg0 itself") &&
	      strstr(last(&r)->evidence, "table ip clob, chain out: meta l4proto udp meta mark set") &&
	      strstr(last(&r)->decision, "Remove or fix that rule") && !strstr(last(&r)->decision, "AllowedIPs"));
	w.mark_rule[0] = '\0';	/* no rule found: the collapsed path MTU told */
	CHECK(judge_sending(&r, &dev, &w, 0));
	CHECK(last(&r)->status == DOCTOR_FAIL && !strcmp(last(&r)->cause, "fwmark_lost") &&
	      says(last(&r), "MARK target"));
	/* `wg setconf` from a config without FwMark reset the daemon's mark:
	 * the rules still spare 0xca6c, so its datagrams loop. The mark is
	 * the cause, not the AllowedIPs. */
	dev.fwmark = 0;
	w.mark_lost = false;
	w.rule_fwmark = 0xca6c;
	w.rule_table = 51820;
	w.ledger_fwmark = true;
	CHECK(judge_sending(&r, &dev, &w, 0));
	CHECK(last(&r)->status == DOCTOR_FAIL && !strcmp(last(&r)->cause, "fwmark_mismatch") &&
	      strstr(last(&r)->evidence, "the daemon's fwmark is off but this tunnel's rules expect 0xca6c") &&
	      strstr(last(&r)->evidence, "not from all fwmark 0xca6c lookup 51820; roam's ledger") &&
	      strstr(last(&r)->decision, "wg set wg0 fwmark 51820") && strstr(last(&r)->decision, "roam down wg0") &&
	      !strstr(last(&r)->decision, "Take the endpoint"));
	dev.fwmark = 0x100;	/* another mark: named */
	w.ledger_fwmark = false;
	CHECK(judge_sending(&r, &dev, &w, 0));
	CHECK(!strcmp(last(&r)->cause, "fwmark_mismatch") && says(last(&r), "fwmark is 0x100 but") &&
	      !says_quietly(last(&r), "ledger"));
	doctor_report_free(&r);
}

static void test_udp(void)
{
	struct test_peer tp;
	struct uapi_device dev = { .listen_port = 51820, .extended = true, .peers = &tp.peer, .n_peers = 1 };
	struct watch_observation w = { .watched = true, .counted = true };
	struct doctor_report r = new_report();

	make_peer(&tp, 1, "198.18.0.2/32", NULL);	/* never handshaked */

	/* Packets reach the host, the daemon takes none: a local firewall. */
	w.capture.datagrams = 3;
	w.capture.by_type[1] = 3;
	w.capture.sources[0] = (struct capture_source){ prefix("203.0.113.2"), 4000, 3 };
	w.capture.n_sources = 1;
	w.capture.elapsed_ms = 6000;
	CHECK(judge_udp(&r, &dev, &w, 0));
	CHECK(last(&r)->status == DOCTOR_FAIL && says(last(&r), "received none") &&
	      says(last(&r), "203.0.113.2:4000") && says(last(&r), "firewall"));
	/* A port forward left on the listen port takes them: named, quoted. */
	snprintf(w.redirect_rule, sizeof(w.redirect_rule), "udp dport 51820 dnat to 203.0.113.99");
	CHECK(judge_udp(&r, &dev, &w, 0) && last(&r)->status == DOCTOR_FAIL &&
	      !strcmp(last(&r)->cause, "port_redirected") && says(last(&r), "dnat to 203.0.113.99"));
	w.redirect_rule[0] = '\0';

	/* ... and the daemon takes them: the handshake check explains the rest. */
	w.received = 3;
	CHECK(!judge_udp(&r, &dev, &w, 0));
	CHECK(last(&r)->status == DOCTOR_PASS && says(last(&r), "3 initiation"));

	/* Nothing arrives and no peer is fresh: reachability. */
	memset(&w.capture, 0, sizeof(w.capture));
	w.capture.elapsed_ms = 6000;
	w.received = 0;
	CHECK(judge_udp(&r, &dev, &w, 0));
	CHECK(last(&r)->status == DOCTOR_FAIL && says(last(&r), "Nothing arrives"));

	/* Nothing arrives but another peer is fresh: the silent one is away. */
	{
		struct test_peer two[2];
		struct uapi_peer peers[2];

		make_peer(&two[0], 1, "198.18.0.2/32", NULL);
		make_peer(&two[1], 2, "198.18.0.3/32", NULL);
		peers[0] = two[0].peer;
		peers[1] = two[1].peer;
		peers[1].has_last_handshake_age = true;
		peers[1].last_handshake_age_ms = 5000;
		dev.peers = peers;
		dev.n_peers = 2;
		CHECK(!judge_udp(&r, &dev, &w, 0));
		CHECK(last(&r)->status == DOCTOR_WARN);
		/* Not watched (--wait 0) while a peer is not fresh: not judged. */
		w.watched = false;
		CHECK(!judge_udp(&r, &dev, &w, 0));
		CHECK(last(&r)->status == DOCTOR_SKIP);
		/* All fresh: no need to watch. */
		peers[0].has_last_handshake_age = true;
		peers[0].last_handshake_age_ms = 1000;
		CHECK(!judge_udp(&r, &dev, &w, 0));
		CHECK(last(&r)->status == DOCTOR_PASS);
	}
	doctor_report_free(&r);
}

/* ---- handshake --------------------------------------------------------- */

static void test_handshake(void)
{
	struct test_peer tp;
	struct uapi_drop drops[1];
	struct watch_observation w = { .watched = true, .counted = true, .drops = drops, .n_drops = 1 };
	struct peer_observation p = { .peer = &tp.peer, .verdict = HANDSHAKE_NEVER };
	struct doctor_report r = new_report();
	static const struct {
		const char *reason, *says;
	} causes[] = {
		{ "bad_mac1", "OURKEY" },
		{ "unknown_peer", "no peer here" },
		{ "handshake_decrypt", "PresharedKey" },
		{ "stale_timestamp", "clock" },
	};

	make_peer(&tp, 1, "198.18.0.2/32", NULL);
	for (size_t i = 0; i < sizeof(causes) / sizeof(causes[0]); i++) {
		snprintf(drops[0].reason, sizeof(drops[0].reason), "%s", causes[i].reason);
		drops[0].count = 2;
		CHECK(judge_handshake(&r, &p, &w));
		CHECK(last(&r)->status == DOCTOR_FAIL && says(last(&r), causes[i].says));
	}
	w.n_drops = 0;

	/* The other side never answers our initiations. */
	snprintf(tp.peer.endpoint, sizeof(tp.peer.endpoint), "198.19.0.2:51820");
	tp.peer.handshake_attempts = 3;
	CHECK(judge_handshake(&r, &p, &w));
	CHECK(last(&r)->status == DOCTOR_FAIL && says(last(&r), "3 initiations sent to 198.19.0.2:51820") &&
	      says(last(&r), "run roam doctor there"));

	/* Our own kernel refused the datagrams (roamd's send_* drops of the
	 * peer): that, not the other side, is the cause. */
	{
		struct uapi_drop sent[2] = { { .reason = "send_unreachable", .count = 1 },
					     { .reason = "send_refused", .count = 7 } };

		tp.peer.drops = sent;
		tp.peer.n_drops = 2;
		CHECK(judge_handshake(&r, &p, &w));
		CHECK(last(&r)->status == DOCTOR_FAIL && says(last(&r), "7 datagrams to 198.19.0.2:51820") &&
		      says(last(&r), "send_refused") && says(last(&r), "send_unreachable") &&
		      says(last(&r), "does not let the packets out") && !strstr(last(&r)->decision, "run roam doctor there"));
		sent[0].count = 9;
		CHECK(judge_handshake(&r, &p, &w));
		CHECK(last(&r)->status == DOCTOR_FAIL && says(last(&r), "no route to the endpoint"));
		tp.peer.drops = NULL;
		tp.peer.n_drops = 0;
	}

	/* A client that never called: a warning, not a failure. */
	tp.peer.endpoint[0] = '\0';
	tp.peer.handshake_attempts = 0;
	CHECK(judge_handshake(&r, &p, &w));
	CHECK(last(&r)->status == DOCTOR_WARN);

	/* UDP already failed: not judged again. */
	p.udp_failed = "udp";
	CHECK(judge_handshake(&r, &p, &w));
	CHECK(last(&r)->status == DOCTOR_SKIP && says(last(&r), "(see udp)"));
	/* This host refused to send (the udp check is not run): the SKIP
	 * points at the check that failed, which is in the report. */
	p.udp_failed = "sending";
	CHECK(judge_handshake(&r, &p, &w));
	CHECK(last(&r)->status == DOCTOR_SKIP && says(last(&r), "(see sending)") &&
	      !strstr(last(&r)->evidence, "see udp"));
	p.udp_failed = NULL;

	/* Fresh wins over everything. */
	p.verdict = HANDSHAKE_FRESH;
	p.handshake_age_ms = 14000;
	CHECK(!judge_handshake(&r, &p, &w));
	CHECK(last(&r)->status == DOCTOR_PASS && figure(last(&r), "age_ms") == 14000);
	doctor_report_free(&r);
}

/* ---- keepalive --------------------------------------------------------- */

static void test_keepalive(void)
{
	struct test_peer tp;
	struct peer_observation p = { .peer = &tp.peer, .initiates = true, .initiates_why = "the config" };
	struct doctor_report r = new_report();

	make_peer(&tp, 1, "198.18.0.0/24", NULL);
	judge_keepalive(&r, &p);
	CHECK(last(&r)->status == DOCTOR_WARN && says(last(&r), "PersistentKeepalive = 25"));

	/* With NAT evidence the suggestion follows it. */
	tp.peer.nat_rebound_min_idle_ms = 20000;
	tp.peer.suggested_keepalive = 15;
	judge_keepalive(&r, &p);
	CHECK(last(&r)->status == DOCTOR_WARN && says(last(&r), "PersistentKeepalive = 15") &&
	      says(last(&r), "20.0 s idle"));

	/* Set, but longer than the NAT's timeout. */
	tp.peer.persistent_keepalive = 25;
	judge_keepalive(&r, &p);
	CHECK(last(&r)->status == DOCTOR_WARN && says(last(&r), "Lower PersistentKeepalive to 15"));

	/* Set, and the daemon's suggestion is no lower (an older daemon gives
	 * none, so the customary 25): never the value already set, but the
	 * NAT's measured timeout less a margin. */
	tp.peer.suggested_keepalive = 0;
	judge_keepalive(&r, &p);
	CHECK(last(&r)->status == DOCTOR_WARN && says(last(&r), "Lower PersistentKeepalive to 15") &&
	      !says_quietly(last(&r), "to 25"));
	tp.peer.suggested_keepalive = 25;
	tp.peer.nat_rebound_min_idle_ms = 24000;
	judge_keepalive(&r, &p);
	CHECK(last(&r)->status == DOCTOR_WARN && says(last(&r), "Lower PersistentKeepalive to 19"));
	/* Already at the floor, and the NAT forgets sooner: no lower value,
	 * the NAT's timeout is the cause. */
	tp.peer.persistent_keepalive = 10;
	tp.peer.nat_rebound_min_idle_ms = 9000;
	tp.peer.suggested_keepalive = 4;
	judge_keepalive(&r, &p);
	CHECK(last(&r)->status == DOCTOR_WARN && last(&r)->cause &&
	      !strcmp(last(&r)->cause, "nat_timeout_too_short") && says(last(&r), "UDP timeout") &&
	      !says_quietly(last(&r), "Lower"));
	CHECK(doctor_keepalive_suggestion(&tp.peer, 10) == 0);
	CHECK(doctor_keepalive_suggestion(&tp.peer, 25) == 0);
	/* A NAT that forgets after 15 s: 10 s, not the daemon's 7 s. */
	tp.peer.nat_rebound_min_idle_ms = 15000;
	tp.peer.suggested_keepalive = 7;
	CHECK(doctor_keepalive_suggestion(&tp.peer, 0) == 10);
	CHECK(doctor_keepalive_suggestion(&tp.peer, 25) == 10);
	CHECK(doctor_keepalive_suggestion(&tp.peer, 10) == 0);
	tp.peer.nat_rebound_min_idle_ms = 20000;
	tp.peer.suggested_keepalive = 15;

	/* Set and below it. */
	tp.peer.persistent_keepalive = 10;
	judge_keepalive(&r, &p);
	CHECK(last(&r)->status == DOCTOR_PASS && says(last(&r), "every 10 s"));

	/* The server side: the peer's NAT rebinds it after idling. */
	p.initiates = false;
	tp.peer.persistent_keepalive = 0;
	tp.peer.nat_rebinds = 2;
	judge_keepalive(&r, &p);
	CHECK(last(&r)->status == DOCTOR_WARN && says(last(&r), "On the peer"));

	/* The same NAT kept the mapping through longer idle gaps: the change
	 * was a reset (a masquerade changed), not a timeout; no keepalive
	 * would have helped. */
	tp.peer.nat_kept_max_idle_ms = 25000;
	judge_keepalive(&r, &p);
	CHECK(last(&r)->status == DOCTOR_PASS && says(last(&r), "NAT reset"));
	tp.peer.nat_kept_max_idle_ms = 0;

	/* The server side without evidence: nothing to do. */
	tp.peer.nat_rebinds = 0;
	tp.peer.nat_rebound_min_idle_ms = 0;
	judge_keepalive(&r, &p);
	CHECK(last(&r)->status == DOCTOR_PASS);
	doctor_report_free(&r);
}

/* ---- forwarding, routes, probe addresses ------------------------------- */

static void test_forwarding(void)
{
	struct test_peer a, b;
	struct uapi_peer peers[2];
	struct uapi_device dev = { .peers = peers, .n_peers = 2 };
	struct forwarding_observation o = { .hub = true, .ipv4 = 1, .ipv6 = 1, .nat = 1 };
	struct doctor_report r = new_report();
	bool v6;

	make_peer(&a, 1, "198.18.0.2/32", "fd00:2::2/128");
	make_peer(&b, 2, "198.18.0.3/32", NULL);
	peers[0] = a.peer;
	peers[1] = b.peer;
	CHECK(doctor_peers_route_through(&dev, &v6) && v6);
	make_peer(&b, 2, "198.18.0.0/24", NULL);
	peers[1] = b.peer;
	CHECK(!doctor_peers_route_through(&dev, &v6));
	dev.n_peers = 0;
	CHECK(!doctor_peers_route_through(&dev, &v6));

	snprintf(o.nat_rule, sizeof(o.nat_rule), "masquerade");
	judge_forwarding(&r, &o);
	CHECK(last(&r)->status == DOCTOR_PASS);
	/* ip_forward on, but the tunnel interface itself forwards nothing. */
	snprintf(o.interface_forwarding_off, sizeof(o.interface_forwarding_off), "net.ipv4.conf.wg0.forwarding");
	judge_forwarding(&r, &o);
	CHECK(last(&r)->status == DOCTOR_FAIL && !strcmp(last(&r)->cause, "forwarding_off") &&
	      says(last(&r), "sysctl -w net.ipv4.conf.wg0.forwarding=1") &&
	      strstr(last(&r)->evidence, "net.ipv4.conf.wg0.forwarding = 0"));
	o.interface_forwarding_off[0] = '\0';
	o.ipv4 = 0;	/* NAT set up, forwarding off: the intent is clear */
	judge_forwarding(&r, &o);
	CHECK(last(&r)->status == DOCTOR_FAIL && says(last(&r), "net.ipv4.ip_forward=1"));
	o.nat = 0;	/* neither: maybe clients only need this host */
	judge_forwarding(&r, &o);
	CHECK(last(&r)->status == DOCTOR_WARN);
	o.ipv4 = 1;	/* forwarding without a NAT */
	judge_forwarding(&r, &o);
	CHECK(last(&r)->status == DOCTOR_WARN && says(last(&r), "masquerade"));
	/* Private clients, a default route out, no NAT: nothing routes back. */
	snprintf(o.egress, sizeof(o.egress), "eth0");
	o.clients_private = true;
	judge_forwarding(&r, &o);
	CHECK(last(&r)->status == DOCTOR_FAIL && !strcmp(last(&r)->cause, "masquerade_missing") &&
	      says(last(&r), "oifname \"eth0\""));
	o.clients_private = false;	/* public clients: the network may route them */
	judge_forwarding(&r, &o);
	CHECK(last(&r)->status == DOCTOR_WARN);
	o.nat = 2;	/* a masquerade for another way out */
	snprintf(o.nat_rule, sizeof(o.nat_rule), "oifname \"ens3\" masquerade");
	judge_forwarding(&r, &o);
	CHECK(last(&r)->status == DOCTOR_FAIL && !strcmp(last(&r)->cause, "masquerade_wrong_interface") &&
	      says(last(&r), "leaves by eth0"));
	o.nat = 3;	/* a masquerade for sources the clients do not have */
	snprintf(o.nat_rule, sizeof(o.nat_rule), "ip saddr 198.19.8.0/24 oifname \"eth0\" masquerade");
	judge_forwarding(&r, &o);
	CHECK(last(&r)->status == DOCTOR_FAIL && !strcmp(last(&r)->cause, "masquerade_wrong_source") &&
	      says(last(&r), "ip saddr 198.19.8.0/24 oifname") && says(last(&r), "oifname \"eth0\" ip saddr CLIENTS"));
	o.forward_drop = 1;	/* a drop rule that matches by length: only big packets die */
	snprintf(o.forward_rule, sizeof(o.forward_rule), "table inet ddos, chain fwd: iifname \"wg0\" meta length > "
		 "1200 counter packets 3 bytes 4200 drop");
	judge_forwarding(&r, &o);
	CHECK(last(&r)->status == DOCTOR_FAIL && !strcmp(last(&r)->cause, "forward_dropped") &&
	      says(last(&r), "meta length > 1200") && says(last(&r), "Only packets longer than 1200 bytes die") &&
	      says(last(&r), "raise its limit") && !says_quietly(last(&r), "nothing beyond it"));
	snprintf(o.forward_rule, sizeof(o.forward_rule), "table inet f, chain fwd: iifname \"wg0\" drop");
	judge_forwarding(&r, &o);
	CHECK(last(&r)->status == DOCTOR_FAIL && !strcmp(last(&r)->cause, "forward_dropped") &&
	      says(last(&r), "nothing beyond it"));
	o.forward_drop = 0;
	CHECK(rule_drops_longer_than("ip length >= 1401 drop") == 1400 &&
	      rule_drops_longer_than("-A FORWARD -i wg0 -m length --length 1300:65535 -j DROP") == 1299 &&
	      rule_drops_longer_than("meta length gt 900 drop") == 900 && !rule_drops_longer_than("meta length < 100 drop") &&
	      !rule_drops_longer_than("iifname \"wg0\" drop"));
	o.nat = 1;	/* the forward chain passes the requests, drops the replies */
	o.replies_dropped = true;
	snprintf(o.replies_rule, sizeof(o.replies_rule), "table ip filter, chain FORWARD: policy drop, and only "
		 "iifname \"wg0\" is accepted");
	judge_forwarding(&r, &o);
	CHECK(last(&r)->status == DOCTOR_FAIL && !strcmp(last(&r)->cause, "forward_replies_dropped") &&
	      says(last(&r), "chain FORWARD: policy drop") && says(last(&r), "ct state established,related accept"));
	o.replies_dropped = false;
	/* A notrack rule: the masquerade never sees the clients' flows. */
	o.notrack = true;
	snprintf(o.notrack_rule, sizeof(o.notrack_rule), "iifname \"wg0\" notrack");
	judge_forwarding(&r, &o);
	CHECK(last(&r)->status == DOCTOR_FAIL && !strcmp(last(&r)->cause, "nat_bypassed_notrack") &&
	      says(last(&r), "iifname \"wg0\" notrack") && says(last(&r), "delete that notrack rule"));
	o.notrack = false;
	/* SNAT to an address this host does not have. */
	snprintf(o.nat_rule, sizeof(o.nat_rule), "oifname \"eth0\" snat to 203.0.113.99");
	snprintf(o.snat_address, sizeof(o.snat_address), "203.0.113.99");
	o.snat_address_local = 0;
	judge_forwarding(&r, &o);
	CHECK(last(&r)->status == DOCTOR_FAIL && !strcmp(last(&r)->cause, "snat_address_not_local") &&
	      says(last(&r), "203.0.113.99 is on no interface") && says(last(&r), "masquerade"));
	o.snat_address_local = 1;	/* its own address: fine */
	judge_forwarding(&r, &o);
	CHECK(last(&r)->status == DOCTOR_PASS);
	o.snat_address_local = -EPERM;	/* unknown: not blamed */
	judge_forwarding(&r, &o);
	CHECK(last(&r)->status == DOCTOR_PASS);
	o.snat_address[0] = '\0';
	snprintf(o.nat_rule, sizeof(o.nat_rule), "masquerade");
	o.nat = 1;
	/* The masquerade covers the internet only; a LAN host answers this
	 * host but not the tunnel: it lacks the route back. */
	o.lan_unreplied = 3;
	snprintf(o.lan_host, sizeof(o.lan_host), "192.0.2.10");
	snprintf(o.lan_dev, sizeof(o.lan_dev), "eth1");
	snprintf(o.lan_address, sizeof(o.lan_address), "192.0.2.1");
	snprintf(o.tunnel_net, sizeof(o.tunnel_net), "198.19.0.0/24");
	snprintf(o.tunnel_address, sizeof(o.tunnel_address), "198.19.0.1");
	judge_forwarding(&r, &o);
	CHECK(last(&r)->status == DOCTOR_FAIL && !strcmp(last(&r)->cause, "lan_no_route_back") &&
	      says(last(&r), "3 flows of the clients to 192.0.2.10 (on eth1)") &&
	      says(last(&r), "ip route add 198.19.0.0/24 via 192.0.2.1") && says(last(&r), "oifname \"eth1\""));
	/* Deaf to this host too, behind a stale static neighbour entry. */
	o.lan_fault = LAN_HOST_UNREACHABLE;
	snprintf(o.lan_neigh, sizeof(o.lan_neigh), "192.0.2.10");
	snprintf(o.lan_neigh_state, sizeof(o.lan_neigh_state), "PERMANENT");
	snprintf(o.lan_lladdr, sizeof(o.lan_lladdr), "02:00:5e:00:00:99");
	judge_forwarding(&r, &o);
	CHECK(last(&r)->status == DOCTOR_FAIL && !strcmp(last(&r)->cause, "lan_host_unreachable") &&
	      says(last(&r), "this host cannot reach 192.0.2.10 on eth1") && says(last(&r), "PERMANENT lladdr 02:00:5e") &&
	      says(last(&r), "ip neigh del 192.0.2.10 dev eth1") && !says_quietly(last(&r), "ip route add"));
	snprintf(o.lan_neigh_state, sizeof(o.lan_neigh_state), "unresolved");	/* down: no ARP answer */
	o.lan_lladdr[0] = '\0';
	judge_forwarding(&r, &o);
	CHECK(last(&r)->status == DOCTOR_FAIL && !strcmp(last(&r)->cause, "lan_host_unreachable") &&
	      says(last(&r), "is down or not on eth1") && !says_quietly(last(&r), "ip neigh del"));
	/* It answers this host from both addresses, not the client. */
	o.lan_fault = LAN_IGNORES_CLIENT;
	snprintf(o.lan_client, sizeof(o.lan_client), "198.19.0.2");
	judge_forwarding(&r, &o);
	CHECK(last(&r)->status == DOCTOR_FAIL && !strcmp(last(&r)->cause, "lan_host_ignores_client") &&
	      says(last(&r), "answers this host but not client 198.19.0.2 (3 flows unanswered)") &&
	      says(last(&r), "ip addr on 192.0.2.10 for 198.19.0.2") && !says_quietly(last(&r), "ip route add"));
	o.lan_fault = LAN_NO_ROUTE_BACK;
	o.lan_unreplied = 0;	/* not seen: as before */
	judge_forwarding(&r, &o);
	CHECK(last(&r)->status == DOCTOR_PASS);
	o.nat = 1;	/* a hub whose input chain drops the tunnel: its own services die */
	o.input_drop = 1;
	snprintf(o.input_rule, sizeof(o.input_rule), "table inet hardening, chain input: policy drop, and no rule "
		 "accepts iifname \"wg0\"");
	judge_forwarding(&r, &o);
	CHECK(last(&r)->status == DOCTOR_FAIL && !strcmp(last(&r)->cause, "input_dropped") &&
	      says(last(&r), "table inet hardening, chain input: policy drop") && says(last(&r), "iifname \"wg0\" accept"));
	o.hub = false;	/* a client: dropping what its server starts is normal */
	judge_forwarding(&r, &o);
	CHECK(last(&r)->status == DOCTOR_SKIP);
	o.hub = true;
	o.input_drop = 0;
	o.egress[0] = '\0';
	o.nat = 0;
	o.ipv6_clients = true;
	o.ipv6 = 0;
	o.nat = 1;
	/* IPv6 only inside the tunnel (the IPv4 masquerade says nothing
	 * about IPv6): forwarding it off is a choice, not a fault. */
	judge_forwarding(&r, &o);
	CHECK(last(&r)->status == DOCTOR_PASS && strstr(last(&r)->evidence, "stays inside the tunnel"));
	snprintf(o.ipv6_needed_why, sizeof(o.ipv6_needed_why), "an IPv6 source NAT takes the clients out: x");
	judge_forwarding(&r, &o);
	CHECK(last(&r)->status == DOCTOR_FAIL && says(last(&r), "net.ipv6.conf.all.forwarding=1") &&
	      strstr(last(&r)->evidence, "IPv6 source NAT"));
	o.nat = 0;	/* needed for IPv6 even without an IPv4 NAT */
	judge_forwarding(&r, &o);
	CHECK(last(&r)->status == DOCTOR_FAIL && !strcmp(last(&r)->cause, "forwarding_off"));
	o.nat = 1;
	{
		char why[320];

		CHECK(!doctor_ipv6_forwarding_needed(&dev, "", why, sizeof(why)) && !why[0]);
		CHECK(doctor_ipv6_forwarding_needed(&dev, "table ip6 n, chain p: masquerade", why, sizeof(why)) &&
		      strstr(why, "table ip6 n"));
		make_peer(&b, 2, "198.18.0.3/32", "2001:db8:1::3/128");
		peers[1] = b.peer;
		dev.n_peers = 2;
		CHECK(doctor_ipv6_forwarding_needed(&dev, NULL, why, sizeof(why)) && strstr(why, "2001:db8:1::3/128"));
	}
	o.hub = false;
	judge_forwarding(&r, &o);
	CHECK(last(&r)->status == DOCTOR_SKIP);

	{
		struct route_miss miss = { "198.18.9.0/24", "eth0", false };
		struct routes_observation ro = { .checked = 3, .total = 3, .n_peers = 2 };

		judge_routes(&r, &ro);
		CHECK(last(&r)->status == DOCTOR_PASS);
		/* IPv6 disabled on the interface: no IPv6 route can be added,
		 * so route_missing's fix would fail; name the sysctl. */
		ro.ipv6_disabled = true;
		snprintf(ro.ipv6_address, sizeof(ro.ipv6_address), "fd00:19::1/64");
		judge_routes(&r, &ro);
		CHECK(last(&r)->status == DOCTOR_FAIL && !strcmp(last(&r)->cause, "ipv6_disabled") &&
		      strstr(last(&r)->evidence, "net.ipv6.conf.wg0.disable_ipv6 = 1") &&
		      strstr(last(&r)->evidence, "fd00:19::1/64 is gone") &&
		      says(last(&r), "sysctl -w net.ipv6.conf.wg0.disable_ipv6=0"));
		ro.ipv6_disabled = false;
		ro.misses = &miss;
		ro.n_misses = ro.n_shown = 1;
		/* The config's Addresses flushed off the interface: the routes
		 * went with them, and the fix is the address, not a route. */
		ro.n_addresses_missing = 2;
		snprintf(ro.addresses_missing[0], sizeof(ro.addresses_missing[0]), "198.18.0.1/24");
		snprintf(ro.addresses_missing[1], sizeof(ro.addresses_missing[1]), "fd00:18::1/64");
		judge_routes(&r, &ro);
		CHECK(last(&r)->status == DOCTOR_FAIL && !strcmp(last(&r)->cause, "address_missing") &&
		      strstr(last(&r)->evidence, "Address 198.18.0.1/24, fd00:18::1/64 are not on wg0") &&
		      strstr(last(&r)->decision, "ip addr add 198.18.0.1/24 dev wg0; ip addr add fd00:18::1/64 dev wg0") &&
		      strstr(last(&r)->decision, "roam down wg0; roam up wg0") &&
		      !strstr(last(&r)->decision, "ip route add"));
		ro.n_addresses_missing = 0;
		judge_routes(&r, &ro);
		CHECK(last(&r)->status == DOCTOR_FAIL && says(last(&r), "198.18.9.0/24 -> eth0"));
		CHECK(!strcmp(last(&r)->cause, "route_missing"));
		/* The missed prefix is this host's own LAN on eth0: adding a
		 * route into the tunnel would cut it off its gateway. */
		ro.n_local_networks = 1;
		snprintf(ro.local_prefix, sizeof(ro.local_prefix), "198.18.9.0/24");
		snprintf(ro.local_dev, sizeof(ro.local_dev), "eth0");
		snprintf(ro.local_subnet, sizeof(ro.local_subnet), "198.18.9.7/24");
		judge_routes(&r, &ro);
		CHECK(last(&r)->status == DOCTOR_FAIL && !strcmp(last(&r)->cause, "allowed_ips_local_network") &&
		      says(last(&r), "connected to on eth0 (its address 198.18.9.7/24") &&
		      says(last(&r), "Remove 198.18.9.0/24 from the peer's AllowedIPs") &&
		      !says_quietly(last(&r), "ip route add"));
		/* The other interface holds this tunnel's own network (a
		 * leftover tunnel): its address goes, not the peer's. */
		snprintf(ro.local_prefix, sizeof(ro.local_prefix), "198.18.0.2/32");
		snprintf(ro.local_dev, sizeof(ro.local_dev), "wgo");
		snprintf(ro.local_subnet, sizeof(ro.local_subnet), "198.18.0.1/24");
		snprintf(ro.tunnel_network, sizeof(ro.tunnel_network), "198.18.0.1/24");
		snprintf(ro.local_kind, sizeof(ro.local_kind), "a tun device with a UAPI socket /var/run/wireguard/wgo.sock");
		judge_routes(&r, &ro);
		CHECK(last(&r)->status == DOCTOR_FAIL && !strcmp(last(&r)->cause, "tunnel_network_elsewhere") &&
		      strstr(last(&r)->evidence, "wgo also holds 198.18.0.1/24, this tunnel's own network") &&
		      strstr(last(&r)->evidence, "wgo is another tunnel (a tun device with a UAPI socket") &&
		      strstr(last(&r)->decision, "ip addr del 198.18.0.1/24 dev wgo") &&
		      strstr(last(&r)->decision, "ip link del wgo") &&
		      !strstr(last(&r)->decision, "Remove 198.18.0.2/32"));
		ro.local_kind[0] = '\0';	/* not a tunnel: no ip link del */
		judge_routes(&r, &ro);
		CHECK(!strcmp(last(&r)->cause, "tunnel_network_elsewhere") && !says_quietly(last(&r), "ip link del") &&
		      says(last(&r), "renumber"));
		ro.tunnel_network[0] = '\0';
		ro.n_local_networks = 0;
		/* The prefix routes in, an address inside does not: overridden. */
		struct route_miss inside = { "198.51.100.2 (DNS)", "eth0 (table main)", true };
		ro.misses = &inside;
		ro.n_misses = 0;
		ro.n_overridden = ro.n_shown = 1;
		judge_routes(&r, &ro);
		CHECK(last(&r)->status == DOCTOR_FAIL && !strcmp(last(&r)->cause, "route_overridden") &&
		      says(last(&r), "198.51.100.2 (DNS) -> eth0 (table main)"));
	}
	doctor_report_free(&r);
}

/* A full tunnel (fwmark 51820, routes in table 51820) that lost one of the
 * policy rules roam up and wg-quick add: the rule is named, not a route. */
static void test_policy_rule_missing(void)
{
	struct doctor_report r = { 0 };
	struct route_miss miss = { "0.0.0.0/0", "eth0 (table main)", false };
	struct routes_observation ro = { .checked = 2, .total = 2, .n_peers = 1, .misses = &miss,
					 .n_misses = 1, .n_shown = 1 };

	snprintf(r.ifname, sizeof(r.ifname), "wg0");
	ro.not_marked_rule_missing = true;
	ro.rule_family = AF_INET;
	ro.fwmark = ro.table = 51820;
	judge_routes(&r, &ro);
	CHECK(last(&r)->status == DOCTOR_FAIL && last(&r)->cause && !strcmp(last(&r)->cause, "policy_rule_missing") &&
	      says(last(&r), "not from all fwmark 0xca6c lookup 51820") &&
	      says(last(&r), "ip -4 rule add not fwmark 51820 table 51820") &&
	      says(last(&r), "roam down wg0; roam up wg0") && says(last(&r), "0.0.0.0/0 -> eth0") &&
	      !says_quietly(last(&r), "ip route add") && !says_quietly(last(&r), "suppress_prefixlength 0;"));
	/* Both gone, in IPv6: both rules, for ip -6. */
	ro.main_first_rule_missing = true;
	ro.rule_family = AF_INET6;
	judge_routes(&r, &ro);
	CHECK(!strcmp(last(&r)->cause, "policy_rule_missing") && says(last(&r), "ip -6 rule add not fwmark 51820") &&
	      says(last(&r), "ip -6 rule add table main suppress_prefixlength 0"));
	/* Only the rule that reads main first is gone: the AllowedIPs route
	 * in, and everything else (the LAN) goes into the tunnel too. */
	ro.not_marked_rule_missing = false;
	ro.rule_family = AF_INET;
	ro.n_misses = ro.n_shown = 0;
	snprintf(ro.lan_prefix, sizeof(ro.lan_prefix), "192.0.2.0/26");
	snprintf(ro.lan_dev, sizeof(ro.lan_dev), "eth0");
	judge_routes(&r, &ro);
	CHECK(last(&r)->status == DOCTOR_FAIL && !strcmp(last(&r)->cause, "policy_rule_missing") &&
	      says(last(&r), "192.0.2.0/26 on eth0") && says(last(&r), "ip -4 rule add table main suppress_prefixlength 0") &&
	      !says_quietly(last(&r), "not fwmark 51820 table"));
	/* Both there: the routes are judged as ever. */
	ro.main_first_rule_missing = false;
	judge_routes(&r, &ro);
	CHECK(last(&r)->status == DOCTOR_PASS);
	doctor_report_free(&r);
}

/* The source doctor_probe_address names, "" for none. */
static const char *probe_source(const struct uapi_peer *peer, const struct probe_candidates *c,
				struct ip_prefix *got)
{
	const char *source = doctor_probe_address(peer, c, got);

	return source ? source : "";
}

static void test_probe_address(void)
{
	struct test_peer t;
	struct ip_prefix own[2] = { prefix("198.18.0.2/24"), prefix("fd00:2::2/64") }, got, given, dns[2];
	struct probe_candidates c = { .own = own, .n_own = 2 };

	make_peer(&t, 1, "fd00:2::1/128", "198.18.0.1/32");	/* IPv4 first */
	CHECK(!strcmp(probe_source(&t.peer, &c, &got), "allowed_ips") && ip_prefix_equal(&got, &own[0]) == false &&
	      got.family == AF_INET && got.addr[3] == 1);
	make_peer(&t, 1, "198.18.0.0/24", NULL);		/* a network: its .1 */
	CHECK(!strcmp(probe_source(&t.peer, &c, &got), "address_prefix") && got.cidr == 32 && got.addr[3] == 1);
	make_peer(&t, 1, "0.0.0.0/0", "::/0");			/* a full tunnel: the same guess */
	CHECK(!strcmp(probe_source(&t.peer, &c, &got), "address_prefix") && got.family == AF_INET &&
	      got.addr[3] == 1);
	own[0] = prefix("198.18.0.2/32");			/* a /32 Address: IPv6's ::1 then */
	CHECK(!strcmp(probe_source(&t.peer, &c, &got), "address_prefix") && got.family == AF_INET6 &&
	      got.addr[15] == 1);
	/* A DNS server inside the peer's AllowedIPs comes before the prefix. */
	dns[0] = prefix("203.0.113.53");
	dns[1] = prefix("198.18.7.53");
	c.dns = dns;
	c.n_dns = 2;
	CHECK(!strcmp(probe_source(&t.peer, &c, &got), "dns") && got.cidr == 32 && got.addr[0] == 203 &&
	      got.addr[3] == 53);
	make_peer(&t, 1, "198.18.7.0/24", NULL);		/* split: only the DNS inside it */
	CHECK(!strcmp(probe_source(&t.peer, &c, &got), "dns") && got.addr[2] == 7 && got.addr[3] == 53);
	dns[1] = prefix("198.18.0.2");				/* our own address is no target */
	own[1] = prefix("198.18.0.2/32");
	make_peer(&t, 1, "198.18.0.0/24", NULL);
	CHECK(!strcmp(probe_source(&t.peer, &c, &got), ""));
	c.n_dns = 0;
	own[0] = prefix("198.18.0.1/24");			/* .1 is us: nothing */
	own[1] = prefix("198.18.5.1/32");
	CHECK(!strcmp(probe_source(&t.peer, &c, &got), ""));
	own[0] = prefix("fe80::1234/64");			/* link-local: never a target */
	own[1] = prefix("169.254.3.4/16");
	make_peer(&t, 1, "::/0", NULL);
	CHECK(!strcmp(probe_source(&t.peer, &c, &got), ""));
	make_peer(&t, 1, "0.0.0.0/0", NULL);
	CHECK(!strcmp(probe_source(&t.peer, &c, &got), ""));
	make_peer(&t, 1, "198.18.0.0/24", NULL);
	own[0] = prefix("198.18.0.1/24");
	own[1] = prefix("198.18.5.1/32");
	given = prefix("198.18.0.7");				/* --probe wins */
	c.given = &given;
	c.n_given = 1;
	CHECK(!strcmp(probe_source(&t.peer, &c, &got), "--probe") && got.addr[3] == 7);
	given = prefix("203.0.113.7");				/* ... inside the AllowedIPs only */
	CHECK(!strcmp(probe_source(&t.peer, &c, &got), ""));
	CHECK(doctor_probe_target_guessed("dns") && doctor_probe_target_guessed("address_prefix") &&
	      !doctor_probe_target_guessed("--probe") && !doctor_probe_target_guessed("allowed_ips") &&
	      !doctor_probe_target_guessed(NULL));
}

/* ---- mtu, dns, clock --------------------------------------------------- */

static void test_mtu_dns_clock(void)
{
	struct test_peer t;
	struct peer_observation p = { .peer = &t.peer, .verdict = HANDSHAKE_FRESH };
	struct mtu_observation m = { .has_address = true, .reachable = true, .interface_mtu = 1420, .largest = 1420 };
	struct dns_observation d = { .source = "the config's DNS", .answered = 1, .pinged = -1 };
	struct doctor_report r = new_report();

	make_peer(&t, 1, "198.18.0.1/32", NULL);
	m.address = prefix("198.18.0.1");
	judge_mtu(&r, &p, false, &m);
	CHECK(last(&r)->status == DOCTOR_PASS && figure(last(&r), "largest_packet") == 1420);
	m.largest = 1232;
	judge_mtu(&r, &p, false, &m);
	CHECK(last(&r)->status == DOCTOR_FAIL && says(last(&r), "MTU = 1232") && says(last(&r), "below 1280"));
	m.largest = 1380;
	judge_mtu(&r, &p, false, &m);
	CHECK(last(&r)->status == DOCTOR_FAIL && !strstr(last(&r)->decision, "below 1280"));
	m.reachable = false;
	judge_mtu(&r, &p, false, &m);
	CHECK(last(&r)->status == DOCTOR_WARN);
	judge_mtu(&r, &p, true, &m);
	CHECK(last(&r)->status == DOCTOR_SKIP);
	m.ping_ignored = true;	/* a ping-deaf peer: nothing to measure with */
	judge_mtu(&r, &p, false, &m);
	CHECK(last(&r)->status == DOCTOR_SKIP && says(last(&r), "ignores ping"));
	m.ping_ignored = false;
	m.over_limit = true;	/* past the peers doctor pings in one run */
	judge_mtu(&r, &p, false, &m);
	CHECK(last(&r)->status == DOCTOR_SKIP && says(last(&r), "--probe"));

	/* roamd's own path MTU is shown; where roamd already fits packets to
	 * what the pings measured, the small path is a WARN, not a FAIL. */
	m.over_limit = false;
	m.reachable = true;
	m.largest = 1232;
	snprintf(t.peer.path_mtu_origin, sizeof(t.peer.path_mtu_origin), "interface");
	snprintf(t.peer.path_probe, sizeof(t.peer.path_probe), "full");
	judge_mtu(&r, &p, false, &m);
	CHECK(last(&r)->status == DOCTOR_FAIL && says(last(&r), "the interface's (nothing smaller learnt)") &&
	      says(last(&r), "last path probe: full"));
	/* The outer path carries full size: the limit is at or behind the
	 * peer (a filter by length there), the MTU only a workaround. */
	CHECK(says(last(&r), "Packets longer than 1232 bytes die at or behind the peer") &&
	      says(last(&r), "Run roam doctor on the peer") && says(last(&r), "workaround: set MTU = 1232") &&
	      !says_quietly(last(&r), "vanish on the path"));
	snprintf(t.peer.path_mtu_origin, sizeof(t.peer.path_mtu_origin), "probe");
	snprintf(t.peer.path_probe, sizeof(t.peer.path_probe), "smaller");
	t.peer.path_mtu = 1292;
	t.peer.path_inner_mtu = 1232;
	judge_mtu(&r, &p, false, &m);
	CHECK(last(&r)->status == DOCTOR_WARN && says(last(&r), "1292 bytes outer (from probe)") &&
	      says(last(&r), "Nothing must change") && !says_quietly(last(&r), "set MTU") &&
	      figure(last(&r), "path_mtu") == 1292);
	/* The parts are separated: roamd's note, then what the pings saw. */
	CHECK(strstr(last(&r)->evidence, "last path probe: smaller; the largest packet") != NULL);
	t.peer.path_inner_mtu = 1328;	/* fits more than passes: still a FAIL */
	judge_mtu(&r, &p, false, &m);
	CHECK(last(&r)->status == DOCTOR_FAIL);
	/* roamd learnt the path while doctor probed it (its own search, set
	 * off by the probes' lost pings): the verdict follows what it knows
	 * after them, so a second run does not say otherwise. */
	struct uapi_peer after = t.peer;
	snprintf(t.peer.path_mtu_origin, sizeof(t.peer.path_mtu_origin), "interface");
	t.peer.path_mtu = t.peer.path_inner_mtu = 0;
	after.path_inner_mtu = 1232;
	m.path_after = &after;
	judge_mtu(&r, &p, false, &m);
	CHECK(last(&r)->status == DOCTOR_WARN && !strcmp(last(&r)->cause, "path_mtu") &&
	      says(last(&r), "1292 bytes outer (from probe)"));
	m.largest = 1260;	/* doctor saw more pass than roamd's fit: no MTU above the fit */
	judge_mtu(&r, &p, false, &m);
	CHECK(last(&r)->status == DOCTOR_WARN);
	after.path_inner_mtu = 1328;
	after.path_mtu = 1388;
	m.largest = 1232;
	judge_mtu(&r, &p, false, &m);
	CHECK(last(&r)->status == DOCTOR_FAIL && says(last(&r), "set MTU = 1232"));
	m.path_after = NULL;
	m.target_source = "address_prefix";
	judge_mtu(&r, &p, false, &m);
	CHECK(!strcmp(last(&r)->probe_target_source, "address_prefix"));
	m.target_source = NULL;

	d.server = prefix("198.18.0.1");
	d.inside_peer = t.peer.public_key;
	judge_dns(&r, &d);
	CHECK(last(&r)->status == DOCTOR_PASS && !strcmp(last(&r)->subject, "dns 198.18.0.1"));
	/* UDP answers, TCP 53 is dropped on the way: answers too big for UDP
	 * (truncated) fail unseen. A reset (no TCP listener) is a WARN. */
	d.tcp = DNS_TCP_NO_CONNECTION;
	judge_dns(&r, &d);
	CHECK(last(&r)->status == DOCTOR_FAIL && !strcmp(last(&r)->cause, "dns_tcp_blocked") &&
	      says(last(&r), "DNS over TCP to 198.18.0.1 times out while UDP answers"));
	d.tcp = DNS_TCP_REFUSED;
	judge_dns(&r, &d);
	CHECK(last(&r)->status == DOCTOR_WARN && !strcmp(last(&r)->cause, "dns_tcp_refused"));
	d.tcp = DNS_TCP_ANSWERED;
	judge_dns(&r, &d);
	CHECK(last(&r)->status == DOCTOR_PASS && says(last(&r), "over TCP 53 too"));
	d.tcp = DNS_TCP_NOT_TRIED;
	d.answered = 0;
	judge_dns(&r, &d);
	CHECK(last(&r)->status == DOCTOR_FAIL && says(last(&r), "does not answer"));
	d.pinged = 0;	/* nor a ping: no host at that address */
	judge_dns(&r, &d);
	CHECK(last(&r)->status == DOCTOR_FAIL && says(last(&r), "Nothing answers at 198.18.0.1") &&
	      !says_quietly(last(&r), "LAN address"));
	d.pinged = 1;	/* the host is there: its resolver does not answer */
	judge_dns(&r, &d);
	CHECK(last(&r)->status == DOCTOR_FAIL && says(last(&r), "LAN address"));
	/* A resolver behind the peer (its LAN): the peer's forwarding, filter
	 * and NAT for port 53 are the point, not a resolver on the tunnel. */
	d.server = prefix("198.51.100.53");
	d.behind_peer = true;
	snprintf(d.peer_address, sizeof(d.peer_address), "198.18.0.1");
	d.pinged = 0;
	judge_dns(&r, &d);
	CHECK(last(&r)->status == DOCTOR_FAIL && !strcmp(last(&r)->cause, "dns_no_answer") &&
	      says(last(&r), "not the peer's own address (198.18.0.1)") && says(last(&r), "roam doctor on the peer") &&
	      says(last(&r), "forward filter for 198.51.100.53 UDP 53") && !says_quietly(last(&r), "listen on the tunnel"));
	/* The host behind answers ping, not DNS: its resolver or a port-53 filter. */
	d.pinged = 1;
	judge_dns(&r, &d);
	CHECK(last(&r)->status == DOCTOR_FAIL && says(last(&r), "answers ping, but not DNS") &&
	      says(last(&r), "filter drops UDP 53 on that host") && !says_quietly(last(&r), "listen on the tunnel"));
	/* A forwarder whose upstream is down (dnsmasq --no-resolv
	 * --server=UNREACHABLE) answers localhost at once and lets the root
	 * time out: its upstream, not a resolver that is not running. */
	d.own_names_answered = true;
	judge_dns(&r, &d);
	CHECK(last(&r)->status == DOCTOR_FAIL && !strcmp(last(&r)->cause, "dns_upstream_down") &&
	      says(last(&r), "answers for its own names but not for names it must forward") &&
	      !says_quietly(last(&r), "not running"));
	d.own_names_answered = false;
	d.server = prefix("198.18.0.1");
	d.behind_peer = false;
	d.peer_address[0] = '\0';
	/* An answer that refuses or fails resolves nothing: not a PASS. */
	d.answered = 1;
	d.rcode = 5;
	judge_dns(&r, &d);
	CHECK(last(&r)->status == DOCTOR_WARN && last(&r)->cause && !strcmp(last(&r)->cause, "dns_refused") &&
	      says(last(&r), "rcode 5 (REFUSED)") && says(last(&r), "198.18.0.1"));
	d.rcode = 2;
	judge_dns(&r, &d);
	CHECK(last(&r)->status == DOCTOR_FAIL && says(last(&r), "SERVFAIL"));
	/* A forwarder without upstream refuses the root and answers its own
	 * names: it serves (dnsmasq); its upstream failing is a WARN. */
	d.own_names_answered = true;
	judge_dns(&r, &d);
	CHECK(last(&r)->status == DOCTOR_WARN && !strcmp(last(&r)->cause, "dns_refused") && says(last(&r), "upstream"));
	d.rcode = 5;
	judge_dns(&r, &d);
	CHECK(last(&r)->status == DOCTOR_PASS && says(last(&r), "answers its own names"));
	d.own_names_answered = false;
	d.rcode = 3;	/* NXDOMAIN is an answer from a working resolver */
	judge_dns(&r, &d);
	CHECK(last(&r)->status == DOCTOR_PASS);
	d.rcode = 0;
	d.inside_peer = NULL;
	snprintf(d.route_dev, sizeof(d.route_dev), "eth0");
	judge_dns(&r, &d);
	CHECK(last(&r)->status == DOCTOR_FAIL && says(last(&r), "outside every peer's AllowedIPs") &&
	      says(last(&r), "leave by eth0"));

	judge_clock(&r, 0, true, 5000, 0);
	CHECK(last(&r)->status == DOCTOR_PASS);
	judge_clock(&r, 0, true, 5000, 3);
	CHECK(last(&r)->status == DOCTOR_WARN && says(last(&r), "3 initiations"));
	judge_clock(&r, 0, false, 16000000, 0);
	CHECK(last(&r)->status == DOCTOR_WARN && says(last(&r), "NTP"));
	doctor_report_free(&r);
}

/* Connection tracking lines, as /proc/net/nf_conntrack and conntrack -L
 * give them: the directions, UNREPLIED, and whether NAT rewrote them. */
static void test_conntrack_parse(void)
{
	struct conntrack_entry e;

	CHECK(conntrack_parse("ipv4     2 udp      17 25 src=198.19.0.2 dst=192.0.2.10 sport=40000 dport=53 "
			      "[UNREPLIED] src=192.0.2.10 dst=198.19.0.2 sport=53 dport=40000 mark=0 zone=0 use=2", &e) &&
	      e.unreplied && conntrack_not_nated(&e) && e.orig_dst.addr[3] == 10 && e.reply_dst.addr[3] == 2);
	CHECK(conntrack_parse("icmp     1 29 src=198.19.0.2 dst=192.0.2.10 type=8 code=0 id=7 src=192.0.2.10 "
			      "dst=203.0.113.2 type=0 code=0 id=7 mark=0 use=1", &e) &&
	      !e.unreplied && !conntrack_not_nated(&e));
	CHECK(!conntrack_parse("ipv4     2 unknown  2 580 src=198.19.0.2 mark=0", &e));
	CHECK(!conntrack_parse("", &e));
}

/* The system resolver asks other servers than the tunnel's DNS: WARN when
 * they answer, FAIL when none does; PASS when it names the tunnel's. */
static void test_system_resolver(void)
{
	struct resolver_observation o = { .path = "/etc/resolv.conf", .tunnel_dns = "203.0.113.10", .n_servers = 2,
					   .servers = { prefix("192.0.2.1"), prefix("192.0.2.2") } };
	struct doctor_report r = new_report();

	o.answered[0] = 1, o.rcode[0] = 5;	/* refuses */
	o.answered[1] = 0;
	judge_system_resolver(&r, &o);
	CHECK(last(&r)->status == DOCTOR_FAIL && !strcmp(last(&r)->cause, "resolver_not_tunnel_dns") &&
	      says(last(&r), "192.0.2.1 (REFUSED), 192.0.2.2 (no answer)") &&
	      says(last(&r), "nameserver 203.0.113.10"));
	o.own_names_answered[0] = true;	/* refuses the root, serves its names */
	judge_system_resolver(&r, &o);
	CHECK(last(&r)->status == DOCTOR_WARN);
	o.own_names_answered[0] = false;
	o.rcode[0] = 0;
	judge_system_resolver(&r, &o);
	CHECK(last(&r)->status == DOCTOR_WARN && says(last(&r), "192.0.2.1 (answers)"));
	o.names_tunnel_dns = true;
	judge_system_resolver(&r, &o);
	CHECK(last(&r)->status == DOCTOR_PASS && !last(&r)->cause);
	o.names_tunnel_dns = false;
	o.stub = true;
	judge_system_resolver(&r, &o);
	CHECK(last(&r)->status == DOCTOR_PASS);
	o.link_asked = true;	/* systemd-resolved's link lacks the tunnel's DNS */
	judge_system_resolver(&r, &o);
	CHECK(last(&r)->status == DOCTOR_WARN && !strcmp(last(&r)->cause, "resolver_not_tunnel_dns") &&
	      says(last(&r), "resolvectl dns wg0 203.0.113.10"));
	o.link_names_tunnel_dns = true;
	judge_system_resolver(&r, &o);
	CHECK(last(&r)->status == DOCTOR_PASS);
	/* The stub it names answers: as before. Nothing listens there (no
	 * systemd-resolved): every lookup fails, whatever the link has. */
	o.servers[1] = prefix("127.0.0.53");
	o.stub_asked = true, o.stub_index = 1, o.stub_answered = 1;
	judge_system_resolver(&r, &o);
	CHECK(last(&r)->status == DOCTOR_PASS);
	o.stub_answered = 0;
	judge_system_resolver(&r, &o);
	CHECK(last(&r)->status == DOCTOR_FAIL && !strcmp(last(&r)->cause, "local_resolver_down") &&
	      says(last(&r), "nothing answers DNS at 127.0.0.53 port 53") &&
	      says(last(&r), "start the local resolver") && says(last(&r), "nameserver 203.0.113.10"));
	doctor_report_free(&r);
}

/* A daemon that holds its socket but does not answer is stuck, not gone:
 * a stopped one is resumed, a hung one restarted; none is "started". */
static void test_daemon_stuck(void)
{
	struct daemon_observation d = { .get_error = -ETIMEDOUT, .socket_path = "/var/run/wireguard/wg0.sock" };
	struct doctor_report r = new_report();

	snprintf(d.get_reason, sizeof(d.get_reason), "Connection timed out");
	CHECK(judge_daemon(&r, &d) && !strcmp(last(&r)->cause, "no_daemon"));
	d.holder_pid = 4242;
	d.holder_state = 'T';
	CHECK(judge_daemon(&r, &d) && !strcmp(last(&r)->cause, "daemon_stuck") && says(last(&r), "kill -CONT 4242") &&
	      says(last(&r), "state is T") && !says_quietly(last(&r), "Start it"));
	d.holder_state = 'S';
	CHECK(judge_daemon(&r, &d) && !strcmp(last(&r)->cause, "daemon_stuck") && says(last(&r), "restart it") &&
	      !says_quietly(last(&r), "kill -CONT"));
	/* It answers, but its interface is not here (renamed, or another
	 * namespace's socket): a cause id, and no plain "restart it". */
	struct uapi_device dev = { .listen_port = 51820 };
	d = (struct daemon_observation){ .dev = &dev, .link_error = -ENODEV,
					 .socket_path = "/var/run/wireguard/wg0.sock" };
	CHECK(judge_daemon(&r, &d) && last(&r)->cause && !strcmp(last(&r)->cause, "interface_missing") &&
	      says(last(&r), "ip link set NAME name wg0") && says(last(&r), "ip netns exec NS roam doctor wg0"));
	doctor_report_free(&r);
}

/* ---- the NAT rule search and the JSON report --------------------------- */

static void test_ruleset(void)
{
	char rule[160];
	const char *eth0 = "table ip nat {\n\tchain postrouting {\n\t\ttype nat hook postrouting "
			   "priority 100; policy accept;\n\t\toifname \"eth0\" ip saddr 198.18.6.0/24 "
			   "masquerade\n\t}\n}\n";

	/* A route chain on output that clears the daemon's mark (the full
	 * tunnel's datagrams then loop); roam up's own prerouting and
	 * postrouting chains, another mark's own port, a filter chain
	 * (its mark comes after routing) are not it. */
	{
		const char *clob = "table ip clob {\n\tchain out {\n\t\ttype route hook output priority mangle; "
				   "policy accept;\n\t\tmeta l4proto udp meta mark set 0x00000000\n\t}\n}\n";
		const char *roam_up = "table ip roam-wg0 {\n chain premangle {\n  type filter hook prerouting priority "
				      "mangle; policy accept;\n  meta l4proto udp meta mark set ct mark\n }\n}\n";

		CHECK(ruleset_find_output_mark_change(clob, 0xca6c, 51820, rule, sizeof(rule)) &&
		      !strcmp(rule, "table ip clob, chain out: meta l4proto udp meta mark set 0x00000000"));
		CHECK(!ruleset_find_output_mark_change(roam_up, 0xca6c, 51820, rule, sizeof(rule)));
		CHECK(!ruleset_find_output_mark_change("table ip m {\n chain o {\n  type route hook output priority "
						       "mangle;\n  meta mark set 0xca6c\n }\n}\n", 0xca6c, 51820,
						       rule, sizeof(rule)));
		CHECK(!ruleset_find_output_mark_change("table ip m {\n chain o {\n  type route hook output priority "
						       "mangle;\n  udp dport 53 meta mark set 0x1\n }\n}\n", 0xca6c,
						       51820, rule, sizeof(rule)));
		CHECK(!ruleset_find_output_mark_change("table ip m {\n chain o {\n  type filter hook output priority "
						       "0;\n  meta mark set 0x1\n }\n}\n", 0xca6c, 51820, rule,
						       sizeof(rule)));
	}
	/* Only a NAT that sees IPv6 needs IPv6 forwarding. */
	CHECK(!ruleset_find_ipv6_source_nat(eth0, rule, sizeof(rule)));
	CHECK(!ruleset_find_ipv6_source_nat("table inet n {\n chain p {\n  oifname \"eth0\" ip saddr 198.18.0.0/24 "
					    "masquerade\n }\n}\n", rule, sizeof(rule)));
	CHECK(ruleset_find_ipv6_source_nat("table ip6 n6 {\n chain p {\n  type nat hook postrouting priority 100;\n"
					   "  oifname \"eth0\" masquerade\n }\n}\n", rule, sizeof(rule)) &&
	      !strcmp(rule, "table ip6 n6, chain p: oifname \"eth0\" masquerade"));
	CHECK(ruleset_find_source_nat(eth0, NULL, NULL, 0, rule, sizeof(rule)) == 1 &&
	      !strcmp(rule, "oifname \"eth0\" ip saddr 198.18.6.0/24 masquerade"));
	/* The clients' traffic leaves by another interface: the rule misses it. */
	CHECK(ruleset_find_source_nat(eth0, "eth0", NULL, 0, rule, sizeof(rule)) == 1);
	CHECK(ruleset_find_source_nat(eth0, "ens3", NULL, 0, rule, sizeof(rule)) == 2 && strstr(rule, "eth0"));
	CHECK(ruleset_find_source_nat("table ip nat {\n chain post {\n  oifname \"en*\" masquerade\n }\n}\n", "ens3",
				      NULL, 0, rule, sizeof(rule)) == 1);
	CHECK(ruleset_find_source_nat("table ip nat {\n chain post {\n  snat to 203.0.113.1\n }\n}\n", "ens3", NULL, 0, rule,
				      sizeof(rule)) == 1 && !strcmp(rule, "snat to 203.0.113.1"));
	CHECK(!ruleset_find_source_nat("table inet masquerade {\n chain input {\n  udp dport 51820 accept\n }\n}\n",
				       NULL, NULL, 0, rule, sizeof(rule)));
	CHECK(!ruleset_find_source_nat("", NULL, NULL, 0, rule, sizeof(rule)));

	/* The address a SNAT writes, read only when it is one address. */
	char address[64];

	CHECK(snat_rule_address("oifname \"eth0\" ip saddr 198.19.0.0/24 snat to 203.0.113.99", address,
				sizeof(address)) && !strcmp(address, "203.0.113.99"));
	CHECK(snat_rule_address("snat ip to 203.0.113.5:1024", address, sizeof(address)) &&
	      !strcmp(address, "203.0.113.5"));
	CHECK(snat_rule_address("snat ip6 to [fd00::5]:80", address, sizeof(address)) && !strcmp(address, "fd00::5"));
	CHECK(snat_rule_address("snat ip6 to fd00::5", address, sizeof(address)) && !strcmp(address, "fd00::5"));
	CHECK(!snat_rule_address("snat to 203.0.113.5-203.0.113.9", address, sizeof(address)));
	CHECK(!snat_rule_address("snat ip to 203.0.113.4/30", address, sizeof(address)));
	CHECK(!snat_rule_address("oifname \"eth0\" masquerade", address, sizeof(address)));
	CHECK(host_address_is_local("127.0.0.1") == 1);
	CHECK(host_address_is_local("192.0.2.254") == 0);

	/* notrack rules that take in the clients, and ones too narrow to. */
	struct ip_prefix tunnel_clients[2];

	CHECK(ip_prefix_parse(&tunnel_clients[0], "198.19.0.2/32", true) && ip_prefix_parse(&tunnel_clients[1], "198.19.0.3/32", true));
	const char *raw = "table ip perf {\n\tchain pre {\n\t\ttype filter hook prerouting priority -300; policy "
			  "accept;\n\t\tiifname \"wg0\" notrack\n\t}\n}\n";

	CHECK(ruleset_find_notrack(raw, "wg0", tunnel_clients, 2, rule, sizeof(rule)) && !strcmp(rule, "iifname \"wg0\" notrack"));
	CHECK(!ruleset_find_notrack(raw, "wg1", tunnel_clients, 2, rule, sizeof(rule)));
	CHECK(ruleset_find_notrack("  ip saddr 198.19.0.0/24 counter packets 3 bytes 252 notrack\n", "wg0", tunnel_clients, 2,
				   rule, sizeof(rule)));
	CHECK(ruleset_find_notrack("  notrack\n", "wg0", tunnel_clients, 2, rule, sizeof(rule)));
	CHECK(ruleset_find_notrack("  iif \"wg0\" counter notrack\n", "wg0", tunnel_clients, 2, rule, sizeof(rule)));
	CHECK(!ruleset_find_notrack("  ip saddr != 198.19.0.0/24 notrack\n", "wg0", tunnel_clients, 2, rule,
				    sizeof(rule)));
	CHECK(!ruleset_find_notrack("  meta l4proto udp notrack\n", "wg0", tunnel_clients, 2, rule, sizeof(rule)));
	CHECK(!ruleset_find_notrack("  ip saddr 198.18.5.0/24 notrack\n", "wg0", tunnel_clients, 2, rule, sizeof(rule)));
	CHECK(!ruleset_find_notrack("  iifname \"wg0\" udp dport 53 notrack\n", "wg0", tunnel_clients, 2, rule, sizeof(rule)));
	CHECK(!ruleset_find_notrack("  iifname \"lo\" notrack\n", "wg0", tunnel_clients, 2, rule, sizeof(rule)));

	/* A port forward left on the listen port takes the peers' datagrams. */
	const char *fwd = "table ip oldfwd {\n chain pre {\n  type nat hook prerouting priority -100; policy accept;\n"
			  "  iifname \"eth1\" udp dport 51820 dnat to 203.0.113.99\n }\n}\n";
	CHECK(ruleset_find_port_redirect(fwd, 51820, rule, sizeof(rule)) &&
	      !strcmp(rule, "iifname \"eth1\" udp dport 51820 dnat to 203.0.113.99"));
	CHECK(!ruleset_find_port_redirect(fwd, 5182, rule, sizeof(rule)));
	CHECK(ruleset_find_port_redirect("  udp dport 51820 redirect to :51821\n", 51820, rule, sizeof(rule)));
	CHECK(!ruleset_find_port_redirect("  udp dport 51820 accept\n", 51820, rule, sizeof(rule)));

	/* The saddr match against the clients' addresses: a renumbered
	 * tunnel's leftover rule NATs none of them. */
	struct ip_prefix clients[2];

	CHECK(ip_prefix_parse(&clients[0], "198.18.100.2/32", false) &&
	      ip_prefix_parse(&clients[1], "fd00:100::2/128", false));
	const char *old_subnet = "table ip nat {\n chain post {\n  ip saddr 198.19.8.0/24 oifname \"eth0\" masquerade\n"
				 " }\n}\n";
	CHECK(ruleset_find_source_nat(old_subnet, "eth0", clients, 2, rule, sizeof(rule)) == 3 &&
	      !strcmp(rule, "ip saddr 198.19.8.0/24 oifname \"eth0\" masquerade"));
	CHECK(ruleset_find_source_nat(old_subnet, "eth0", NULL, 0, rule, sizeof(rule)) == 1);
	/* A second rule that covers them wins; so do no saddr, a range, a negation, a set. */
	CHECK(ruleset_find_source_nat("table ip nat {\n chain post {\n  ip saddr 198.19.8.0/24 masquerade\n"
				      "  ip saddr 198.18.100.0/24 masquerade\n }\n}\n",
				      "eth0", clients, 2, rule, sizeof(rule)) == 1 && strstr(rule, "198.18.100.0/24"));
	CHECK(ruleset_find_source_nat(eth0, "eth0", clients, 2, rule, sizeof(rule)) == 3);
	CHECK(ruleset_find_source_nat("table ip nat {\n chain post {\n  ip saddr 198.19.8.1-198.19.8.9 masquerade\n }\n}\n",
				      "eth0", clients, 2, rule, sizeof(rule)) == 1);
	CHECK(ruleset_find_source_nat("table ip nat {\n chain post {\n  ip saddr != 198.19.8.0/24 masquerade\n }\n}\n",
				      "eth0", clients, 2, rule, sizeof(rule)) == 1);
	CHECK(ruleset_find_source_nat("table ip nat {\n chain post {\n  ip saddr @nets masquerade\n }\n}\n",
				      "eth0", clients, 2, rule, sizeof(rule)) == 1);
	/* IPv6: only the IPv6 client counts for an ip6 saddr. */
	CHECK(ruleset_find_source_nat("table ip6 nat {\n chain post {\n  ip6 saddr fd00:200::/64 masquerade\n }\n}\n",
				      "eth0", clients, 2, rule, sizeof(rule)) == 3);
	CHECK(ruleset_find_source_nat("table ip6 nat {\n chain post {\n  ip6 saddr fd00:100::/64 masquerade\n }\n}\n",
				      "eth0", clients, 2, rule, sizeof(rule)) == 1);
	/* Only the IPv4 clients: an ip6 rule says nothing about them. */
	CHECK(ruleset_find_source_nat("table ip6 nat {\n chain post {\n  ip6 saddr fd00:200::/64 masquerade\n }\n}\n",
				      "eth0", clients, 1, rule, sizeof(rule)) == 1);
}

/* A full tunnel on a host with strict rp_filter: the table restores the
 * mark, but only src_valid_mark makes the check read it. */
static void test_rpfilter(void)
{
	struct rpfilter_observation o = { .full_tunnel = { true, false }, .table = { 1, 0 }, .rp_filter = 1,
					  .src_valid_mark = 1 };
	struct doctor_report r = new_report();

	snprintf(o.table_name, sizeof(o.table_name), "roam-wg0");
	snprintf(o.rp_filter_where, sizeof(o.rp_filter_where), "all");
	CHECK(!judge_rpfilter(&r, &o) && last(&r)->status == DOCTOR_PASS);
	o.src_valid_mark = 0;	/* reset by a sysctl --system */
	CHECK(judge_rpfilter(&r, &o) && last(&r)->status == DOCTOR_FAIL && !strcmp(last(&r)->cause, "rp_filter") &&
	      says(last(&r), "src_valid_mark = 0") && says(last(&r), "sysctl -w net.ipv4.conf.all.src_valid_mark=1"));
	o.rp_filter = 2;	/* loose: the replies pass whatever the mark */
	CHECK(!judge_rpfilter(&r, &o) && last(&r)->status == DOCTOR_PASS);
	o.rp_filter = 1;
	o.table[0] = 0;		/* the table gone: that is the cause named */
	CHECK(judge_rpfilter(&r, &o) && says(last(&r), "MISSING") && says(last(&r), "restore the table"));
	doctor_report_free(&r);
}

static void test_json_report(void)
{
	struct doctor_report r = new_report();
	struct doctor_finding *f;
	char *text = NULL;
	size_t len = 0;
	FILE *out;
	uint8_t key[KEY_LEN];

	memset(key, 7, sizeof(key));
	f = doctor_add(&r, "mtu", key);
	f->status = DOCTOR_FAIL;
	doctor_evidence(f, "the \"largest\" is %d", 1232);
	doctor_decision(f, "set MTU");
	doctor_figure(f, "largest_packet", 1232);
	f->probe_target_source = "dns";
	f = doctor_add(&r, "clock", NULL);
	out = open_memstream(&text, &len);
	doctor_print_json(out, &r, 1);
	fclose(out);
	CHECK(strstr(text, "{\"version\":1,\"interfaces\":[{\"interface\":\"wg0\",\"daemon\":\"roamd\",\"pid\":42,") ==
	      text);
	CHECK(strstr(text, "\"check\":\"mtu\",\"status\":\"FAIL\",\"peer\":\"BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\""));
	CHECK(strstr(text, "\"evidence\":\"the \\\"largest\\\" is 1232\""));
	CHECK(strstr(text, "\"figures\":{\"largest_packet\":1232}"));
	CHECK(strstr(text, "\"check\":\"clock\",\"status\":\"PASS\",\"peer\":null,\"subject\":null"));
	CHECK(strstr(text, "\"decision\":null,\"figures\":{}"));
	/* Where the address pinged came from; null for checks that ping none. */
	CHECK(strstr(text, "\"cause\":null,\"probe_target_source\":\"dns\"}"));
	CHECK(strstr(text, "\"cause\":null,\"probe_target_source\":null}"));
	CHECK(strstr(text, "\"passed\":1,\"warnings\":0,\"failed\":1,\"skipped\":0}],\"warnings\":0,\"failed\":1}\n"));
	free(text);
	doctor_report_free(&r);
}

/* The endpoint taken back and forth between two ports of one NAT at each
 * handshake: two devices with one key. One roam and back is not that. */
static void test_endpoint_duplicate_key(void)
{
	struct test_peer tp;
	struct uapi_history h[4] = {
		{ .kind = "endpoint_changed", .age_ms = 34000, .new_endpoint = "203.0.113.2:40544" },
		{ .kind = "endpoint_changed", .age_ms = 33000, .old_endpoint = "203.0.113.2:40544",
		  .new_endpoint = "203.0.113.2:49042" },
		{ .kind = "endpoint_changed", .age_ms = 19000, .old_endpoint = "203.0.113.2:49042",
		  .new_endpoint = "203.0.113.2:40544" },
		{ .kind = "endpoint_changed", .age_ms = 3000, .old_endpoint = "203.0.113.2:40544",
		  .new_endpoint = "203.0.113.2:49042" },
	};
	struct doctor_report r = new_report();
	struct peer_observation po = { .peer = &tp.peer };

	make_peer(&tp, 1, "198.18.0.2/32", NULL);
	snprintf(tp.peer.endpoint, sizeof(tp.peer.endpoint), "203.0.113.2:49042");
	tp.peer.history = h;
	tp.peer.n_history = 3;
	tp.peer.endpoint_changes = 3;
	judge_endpoint(&r, &po, false, 0);
	CHECK(last(&r)->status == DOCTOR_PASS);
	tp.peer.n_history = 4;
	tp.peer.endpoint_changes = 4;
	judge_endpoint(&r, &po, false, 0);
	CHECK(last(&r)->status == DOCTOR_FAIL && !strcmp(last(&r)->cause, "duplicate_peer_key") &&
	      says(last(&r), "its own key"));
	/* The flips stopped over a minute ago: the second device is gone for
	 * now; a WARN, not a FAIL beside whatever else is wrong. */
	for (size_t i = 0; i < 4; i++)
		h[i].age_ms += 90000;
	judge_endpoint(&r, &po, false, 0);
	CHECK(last(&r)->status == DOCTOR_WARN && !strcmp(last(&r)->cause, "duplicate_peer_key") &&
	      says(last(&r), "has stopped for now"));
	for (size_t i = 0; i < 4; i++)
		h[i].age_ms -= 90000;
	/* Between two addresses (Wi-Fi and mobile), twice is a flapping uplink. */
	snprintf(h[1].new_endpoint, sizeof(h[1].new_endpoint), "198.51.100.7:49042");
	snprintf(h[2].old_endpoint, sizeof(h[2].old_endpoint), "198.51.100.7:49042");
	snprintf(h[3].new_endpoint, sizeof(h[3].new_endpoint), "198.51.100.7:49042");
	judge_endpoint(&r, &po, false, 0);
	CHECK(last(&r)->status == DOCTOR_PASS);
	doctor_report_free(&r);
}

int main(void)
{
	RUN(test_system_resolver);
	RUN(test_daemon_stuck);
	RUN(test_largest_packet);
	RUN(test_capture_parser);
	RUN(test_capture_parser_bounds);
	RUN(test_capture_filter);
	RUN(test_sending);
	RUN(test_udp);
	RUN(test_handshake);
	RUN(test_keepalive);
	RUN(test_endpoint_duplicate_key);
	RUN(test_forwarding);
	RUN(test_probe_address);
	RUN(test_policy_rule_missing);
	RUN(test_mtu_dns_clock);
	RUN(test_ruleset);
	RUN(test_rpfilter);
	RUN(test_json_report);
	RUN(test_conntrack_parse);
	return test_finish("test_roam_doctor");
}
