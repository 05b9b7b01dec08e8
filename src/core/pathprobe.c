/* Path probing (device.h, "Path probing"): the engine measures the largest
 * packet the path to a peer carries, for paths that drop large packets
 * without a word (routers or firewalls that filter ICMP too).
 *
 * The measure needs something that answers, and WireGuard itself answers
 * nothing: a data message is never acknowledged. So a probe is an inner
 * packet the peer's host answers, sent through the tunnel in a data message
 * of exactly the size it tests: an ICMP echo request with a hop limit of 1,
 * from an address the peer routes back to us (the source of what we last
 * sent it) to an address behind it (a host route in its AllowedIPs, else
 * the destination of what we last sent it). A host that owns the address
 * answers with an echo reply; a host that would forward it answers "time
 * exceeded" (or "unreachable") quoting it; the hop limit keeps it from ever
 * going further. Either way the answer comes back through the tunnel,
 * authenticated, and is consumed here instead of reaching the TUN. It works
 * whatever implementation the peer runs: its operating system answers.
 *
 * A search's first round sends up to PATH_PROBE_RUNGS probes at once, spread
 * between the base size (what every path must carry: 576 bytes outer over
 * IPv4, 1280 over IPv6) and the largest packet the tunnel sends. Linux
 * answers "time exceeded" at most 6 at once and then 1 a second per
 * destination, and an answer its limiter swallowed looks like a probe the
 * path lost; so when the answers are such errors (echo replies are not
 * limited, and then a loss is the path's), every later round sends a
 * single probe, a second apart:
 * first the smallest size lost again. Lost twice, it is the path: the
 * largest size answered becomes the path MTU (the data path uses it at
 * once, about 2 s after the search began), and the next rounds halve the
 * gap between what passed and what was lost, to 16 bytes, raising the value
 * each time a larger probe passes.
 *
 * What counts as traffic that should be answered: packets other than ICMP
 * replies and errors. The peer's host answering our probes (its echo
 * replies come back through the tunnel) is no reason for it to search; two
 * roamds would otherwise probe each other forever.
 *
 * Costs on the data path: recording each sent packet's addresses, a time
 * and a flag; the answer check runs only while a round is in flight. */
#include <stdlib.h>
#include <string.h>

#include "checksum.h"
#include "device_state.h"
#include "ip_header.h"
#include "peer.h"

enum {
	PROBE_MAX_ROUNDS = 8,
	PROBE_STEP = MESSAGE_PADDING_MULTIPLE,	/* sizes are multiples of it */
	PROTO_ICMP = 1,
	PROTO_ICMPV6 = 58,
	ICMP_HDR = 8,
	ICMP4_ECHO_REPLY = 0,
	ICMP4_UNREACHABLE = 3,
	ICMP4_FRAG_NEEDED = 4,		/* a code of ICMP4_UNREACHABLE */
	ICMP4_ECHO = 8,
	ICMP4_TIME_EXCEEDED = 11,
	ICMP6_UNREACHABLE = 1,
	ICMP6_TIME_EXCEEDED = 3,
	ICMP6_ECHO = 128,
	ICMP6_ECHO_REPLY = 129,
	IP6_FRAGMENT_HDR = 44,
};
/* After a search, the next one that silence may start; doubled for each
 * search in a row that silence started and that found the whole path (a
 * one-way stream the peer never answers is not a black hole) or left the
 * value as it was, up to the
 * longest; after one that nothing answered, 30 s (the peer may be gone). */
#define PROBE_INTERVAL (2 * NSEC_PER_SEC)
#define PROBE_INTERVAL_LONGEST (64 * NSEC_PER_SEC)
#define PROBE_INTERVAL_UNANSWERED (30 * NSEC_PER_SEC)
/* A roam may start a search sooner, but not more than this often. */
#define PROBE_MIN_INTERVAL (1 * NSEC_PER_SEC)

void device_set_path_probing(struct device *dev, bool on)
{
	dev->path_probing = on;
}

bool peer_last_large_packet(const struct peer *peer, const uint8_t **hdr, size_t *hdr_len, size_t *total)
{
	const struct path_probe *pr = &peer->probe;
	*hdr = pr->last_large;
	*hdr_len = pr->last_large_len;
	*total = pr->last_large_total;
	return pr->last_large_len != 0;
}

bool device_sending_path_probe(const struct device *dev)
{
	return dev->sending_probe;
}

/* Inner bytes every path to the peer carries (the outer floor less the
 * encapsulation, rounded down to PROBE_STEP). */
static unsigned base_size(const struct peer *peer)
{
	bool v6 = peer_path_overhead(peer) == PATH_OVERHEAD_V6;
	unsigned floor = v6 ? PATH_MTU_FLOOR_V6 : PATH_MTU_FLOOR_V4;
	return (floor - peer_path_overhead(peer)) & ~(unsigned)(PROBE_STEP - 1);
}

/* The largest inner packet the tunnel sends. */
static unsigned top_size(const struct peer *peer)
{
	unsigned mtu = peer->dev->mtu ? peer->dev->mtu : 1420;
	return mtu > UINT16_MAX - PATH_OVERHEAD_V6 ? UINT16_MAX - PATH_OVERHEAD_V6 : mtu;
}

/* Does the packet call for an answer from the far side? All but ICMP replies
 * and errors (echo requests do). Only asked of large packets. */
static bool expects_answer(const uint8_t *pkt, size_t len, int family)
{
	if (family == AF_INET) {
		size_t hlen = (size_t)(pkt[IP_VERSION_BYTE] & 0x0f) * 4;
		return pkt[IP4_PROTO] != PROTO_ICMP || len <= hlen || pkt[hlen] == ICMP4_ECHO;
	}
	return pkt[IP6_NEXT_HDR] != PROTO_ICMPV6 || len <= IP6_HDR_LEN || pkt[IP6_HDR_LEN] == ICMP6_ECHO;
}

void pathprobe_note_sent(struct peer *peer, const uint8_t *pkt, size_t len, int family, uint64_t now)
{
	struct path_probe *pr = &peer->probe;
	if (family == AF_INET) {
		memcpy(pr->src4, pkt + IP4_SRC, IP4_ADDR_LEN);
		memcpy(pr->dst4, pkt + IP4_DST, IP4_ADDR_LEN);
		pr->have4 = true;
	} else {
		memcpy(pr->src6, pkt + IP6_SRC, IP6_ADDR_LEN);
		memcpy(pr->dst6, pkt + IP6_DST, IP6_ADDR_LEN);
		pr->have6 = true;
	}
	if (len <= base_size(peer))
		return;
	pr->last_large_len = (uint8_t)(len < PATH_LAST_LARGE_QUOTE ? len : PATH_LAST_LARGE_QUOTE);
	memcpy(pr->last_large, pkt, pr->last_large_len);
	pr->last_large_total = (uint16_t)(len < UINT16_MAX ? len : UINT16_MAX);
	if (!peer->dev->path_probing || !expects_answer(pkt, len, family))
		return;
	/* A measured value is kept past PATH_MTU_LIFETIME (forgetting it
	 * would black-hole what the path still drops): measured again. */
	if (peer->path_mtu && peer->path_mtu_origin == PATH_MTU_PROBE && now - peer->path_mtu_at >= PATH_MTU_LIFETIME &&
	    !pr->round_deadline && !pr->search_wanted) {
		pr->search_wanted = true;
		timers_on_path_probe_due(peer, now);
	}
	if (pr->path_changed) {
		pr->path_changed = false;
		pr->search_wanted = true;
		timers_on_path_probe_due(peer, now);
	}
	if (!pr->silent_since) {
		pr->silent_since = now;
		timers_on_path_probe_due(peer, now + PATH_PROBE_SILENCE);
	}
}

/* ---- one probe ----------------------------------------------------------- */

/* An ICMP echo request of len bytes, hop limit 1, identified by the
 * search's ident and seq (round and rung). */
static void build_probe(const struct path_probe *pr, uint8_t *pkt, size_t len, uint16_t seq)
{
	memset(pkt, 0, len);
	uint8_t *icmp;
	if (pr->family == AF_INET) {
		pkt[IP_VERSION_BYTE] = 0x45;
		ip_put16(pkt + IP4_TOTAL_LEN, (uint16_t)len);
		ip_put16(pkt + IP4_ID, seq);
		pkt[IP4_FRAG] = IP4_DF;
		pkt[IP4_TTL] = 1;
		pkt[IP4_PROTO] = PROTO_ICMP;
		memcpy(pkt + IP4_SRC, pr->source, IP4_ADDR_LEN);
		memcpy(pkt + IP4_DST, pr->target, IP4_ADDR_LEN);
		csum_store(pkt + IP4_CSUM, csum_add(0, pkt, IP4_HDR_LEN));
		icmp = pkt + IP4_HDR_LEN;
		icmp[0] = ICMP4_ECHO;
		ip_put16(icmp + 4, pr->ident);
		ip_put16(icmp + 6, seq);
		csum_store(icmp + 2, csum_add(0, icmp, len - IP4_HDR_LEN));
		return;
	}
	pkt[IP_VERSION_BYTE] = 0x60;
	ip_put16(pkt + IP6_PAYLOAD_LEN, (uint16_t)(len - IP6_HDR_LEN));
	pkt[IP6_NEXT_HDR] = PROTO_ICMPV6;
	pkt[IP6_HOP_LIMIT] = 1;
	memcpy(pkt + IP6_SRC, pr->source, IP6_ADDR_LEN);
	memcpy(pkt + IP6_DST, pr->target, IP6_ADDR_LEN);
	icmp = pkt + IP6_HDR_LEN;
	icmp[0] = ICMP6_ECHO;
	ip_put16(icmp + 4, pr->ident);
	ip_put16(icmp + 6, seq);
	uint64_t sum = csum_pseudo(pkt + IP6_SRC, pkt + IP6_DST, IP6_ADDR_LEN, PROTO_ICMPV6,
				   (uint32_t)(len - IP6_HDR_LEN));
	csum_store(icmp + 2, csum_add(sum, icmp, len - IP6_HDR_LEN));
}

static uint16_t probe_seq(const struct path_probe *pr, unsigned rung)
{
	return (uint16_t)(pr->round << 8 | rung);
}

/* ---- the search ---------------------------------------------------------- */

static void emit_probed(struct peer *peer, enum path_probe_result result, uint64_t now)
{
	struct device_event ev = {
		.type = EVENT_PATH_PROBED,
		.peer = peer,
		.now = now,
		.probe_result = result,
		.path_mtu = peer_path_mtu(peer, NULL, now),
	};
	device_emit(peer->dev, &ev);
}

static void finish(struct peer *peer, enum path_probe_result result, uint64_t now)
{
	struct path_probe *pr = &peer->probe;
	/* Measured again: valid for another PATH_MTU_LIFETIME. */
	if (result == PATH_PROBE_SMALLER && peer->path_mtu && peer->path_mtu_origin == PATH_MTU_PROBE)
		peer->path_mtu_at = now;
	pr->round_deadline = 0;
	pr->last_result = (uint8_t)result;
	pr->last_result_at = now;
	uint64_t wait = PROBE_INTERVAL << (pr->quiet_searches < 5 ? pr->quiet_searches : 5);
	pr->next_search = now + (result == PATH_PROBE_UNANSWERED ? PROBE_INTERVAL_UNANSWERED
				 : wait < PROBE_INTERVAL_LONGEST ? wait : PROBE_INTERVAL_LONGEST);
	/* Large packets sent during the search said nothing new. */
	pr->silent_since = 0;
	emit_probed(peer, result, now);
}

/* The rungs of the next round: spread over [base, top] in the first; then
 * one: the size lost in the first round again, until it is lost twice, then
 * halfway between what passed and what was lost. */
static unsigned plan_round(struct peer *peer, unsigned most, uint64_t now)
{
	struct path_probe *pr = &peer->probe;
	unsigned n = 0;
	if (pr->round == 0) {
		unsigned lo = base_size(peer), hi = top_size(peer);
		for (unsigned i = 0; i < most; i++) {
			unsigned s = lo + (hi - lo) * i / (most - 1);
			if (i < most - 1)
				s &= ~(unsigned)(PROBE_STEP - 1);
			if (!n || s > pr->size[n - 1])
				pr->size[n++] = (uint16_t)s;
		}
		/* The value in use is one of the rungs: whether it still
		 * passes is the first thing to know. */
		unsigned have = peer_path_inner_limit(peer, now);
		for (unsigned i = 1; have && i + 1 < n; i++)
			if (have > pr->size[i - 1] && have < pr->size[i + 1]) {
				pr->size[i] = (uint16_t)have;
				break;
			}
	} else if (!pr->answers_limited) {
		/* Echo replies: several at once, between what passed and what
		 * was lost. */
		unsigned lo = pr->good, hi = pr->bad ? pr->bad : top_size(peer) + 1;
		for (unsigned i = 1; i <= most; i++) {
			unsigned s = (lo + (hi - lo) * i / (most + 1)) & ~(unsigned)(PROBE_STEP - 1);
			if (s > lo && s < hi && (!n || s > pr->size[n - 1]))
				pr->size[n++] = (uint16_t)s;
		}
	} else if (!pr->bad_confirmed) {
		pr->size[n++] = pr->bad ? pr->bad : (uint16_t)top_size(peer);
	} else {
		unsigned s = ((unsigned)pr->good + pr->bad) / 2 & ~(unsigned)(PROBE_STEP - 1);
		if (s > pr->good && s < pr->bad)
			pr->size[n++] = (uint16_t)s;
	}
	pr->rungs = (uint8_t)n;
	pr->answered = 0;
	return n;
}

/* A probe a second, up to a burst of PATH_PROBE_RUNGS: what Linux's ICMP
 * limiter answers ("time exceeded" is limited, echo replies are not; we
 * cannot tell which answers until they come). */
#define PROBE_CREDIT_MAX ((uint64_t)PATH_PROBE_RUNGS * NSEC_PER_SEC)

static unsigned credit_now(struct path_probe *pr, uint64_t now)
{
	if (!pr->credit_at)
		pr->credit_ns = PROBE_CREDIT_MAX;
	else if (now - pr->credit_at >= PROBE_CREDIT_MAX - pr->credit_ns)
		pr->credit_ns = PROBE_CREDIT_MAX;
	else
		pr->credit_ns += now - pr->credit_at;
	pr->credit_at = now;
	return (unsigned)(pr->credit_ns / NSEC_PER_SEC);
}

/* Sends the next round, or waits (a round of no rungs) until the peer's
 * limiter can answer it: a first round needs at least the base and the
 * top size. false: nothing more to ask, or no session to ask over. */
static bool send_round(struct peer *peer, uint64_t now)
{
	struct device *dev = peer->dev;
	struct path_probe *pr = &peer->probe;
	unsigned can = credit_now(pr, now), need = pr->round == 0 ? 2 : 1;
	if (pr->answers && !pr->answers_limited)
		can = PATH_PROBE_RUNGS;	/* echo replies: no limiter */
	if (can < need) {
		pr->rungs = 0;
		pr->round_deadline = now + need * NSEC_PER_SEC - pr->credit_ns;
		timers_on_path_probe_due(peer, pr->round_deadline);
		return true;
	}
	if (!plan_round(peer, can < PATH_PROBE_RUNGS ? can : PATH_PROBE_RUNGS, now))
		return false;
	pr->credit_ns -= pr->rungs * NSEC_PER_SEC;
	for (unsigned i = 0; i < pr->rungs; i++) {
		uint8_t *pkt = dev->probe_buf + MESSAGE_DATA_HEADROOM;
		build_probe(pr, pkt, pr->size[i], probe_seq(pr, i));
		dev->sending_probe = true;
		bool sent = peer_encrypt_and_send_unpadded(peer, pkt, pr->size[i], now);
		dev->sending_probe = false;
		if (!sent)
			return false;
		pr->probes_sent++;
	}
	pr->round_deadline = now + PATH_PROBE_ROUND_TIMEOUT;
	timers_on_path_probe_due(peer, pr->round_deadline);
	return true;
}

struct host_route_search {
	struct path_probe *pr;
	bool found;
};

static bool take_host_route(void *ctx, int family, const uint8_t *addr, uint8_t cidr)
{
	struct host_route_search *s = ctx;
	struct path_probe *pr = s->pr;
	if (family == AF_INET && cidr == 32 && pr->have4) {
		pr->family = AF_INET;
		memcpy(pr->target, addr, IP4_ADDR_LEN);
		memcpy(pr->source, pr->src4, IP4_ADDR_LEN);
	} else if (family == AF_INET6 && cidr == 128 && pr->have6) {
		pr->family = AF_INET6;
		memcpy(pr->target, addr, IP6_ADDR_LEN);
		memcpy(pr->source, pr->src6, IP6_ADDR_LEN);
	} else {
		return true;
	}
	s->found = true;
	return false;	/* stop walking */
}

/* Whom to ask: a host route of the peer's (usually its own tunnel
 * address), else the destination we last sent it, in a family we have a
 * source for. */
static bool choose_target(struct peer *peer)
{
	struct path_probe *pr = &peer->probe;
	struct host_route_search s = {.pr = pr};
	peer_allowedips_walk(peer, take_host_route, &s);
	if (s.found)
		return true;
	if (pr->have4) {
		pr->family = AF_INET;
		memcpy(pr->target, pr->dst4, IP4_ADDR_LEN);
		memcpy(pr->source, pr->src4, IP4_ADDR_LEN);
		return true;
	}
	if (pr->have6) {
		pr->family = AF_INET6;
		memcpy(pr->target, pr->dst6, IP6_ADDR_LEN);
		memcpy(pr->source, pr->src6, IP6_ADDR_LEN);
		return true;
	}
	return false;
}

static void start_search(struct peer *peer, bool by_silence, uint64_t now)
{
	struct device *dev = peer->dev;
	struct path_probe *pr = &peer->probe;
	if (!dev->probe_buf) {
		dev->probe_buf = malloc(MESSAGE_DATA_HEADROOM + UINT16_MAX + MESSAGE_DATA_TAILROOM);
		if (!dev->probe_buf)
			return;
	}
	pr->searches++;
	pr->by_silence = by_silence;
	pr->changed = false;
	if (!choose_target(peer)) {
		finish(peer, PATH_PROBE_NO_TARGET, now);
		return;
	}
	device_random(dev, &pr->ident, sizeof(pr->ident));
	pr->round = 0;
	pr->good = 0;
	pr->bad = 0;
	pr->bad_confirmed = false;
	pr->last_result = PATH_PROBE_SEARCHING;
	if (base_size(peer) >= top_size(peer) || !send_round(peer, now)) {
		/* Nothing to measure, or no session to carry probes yet (the
		 * next large packet after the handshake asks again). */
		pr->round_deadline = 0;
		pr->path_changed = true;
		pr->last_result = PATH_PROBE_NONE;
	}
}

/* A search silence started that changed nothing (a one-way stream on a
 * path already known) makes the next one wait longer. */
static void note_quiet(struct path_probe *pr, bool changed)
{
	if (changed || !pr->by_silence)
		pr->quiet_searches = 0;
	else if (pr->quiet_searches < UINT8_MAX)
		pr->quiet_searches++;
}

static void end_round(struct peer *peer, uint64_t now)
{
	struct path_probe *pr = &peer->probe;
	int best = -1, lost = -1;
	if (!pr->rungs) {
		/* A wait for the limiter's credit, over. */
		if (!send_round(peer, now))
			finish(peer, pr->round ? PATH_PROBE_SMALLER : PATH_PROBE_NONE, now);
		return;
	}
	for (int i = 0; i < pr->rungs; i++)
		if (pr->answered & (1u << i))
			best = i;
	for (int i = best + 1; i < pr->rungs; i++)
		if (!(pr->answered & (1u << i))) {
			lost = i;
			break;
		}
	if (pr->round == 0 && best < 0) {
		/* Not even the base size: the target does not answer, or the
		 * peer is gone. That tells nothing about sizes. */
		finish(peer, PATH_PROBE_UNANSWERED, now);
		return;
	}
	if (best >= 0 && pr->size[best] > pr->good)
		pr->good = pr->size[best];
	if (lost >= 0 && !pr->answers_limited) {
		/* Echo replies are not rate-limited: a loss is the path's. */
		if (!pr->bad || pr->size[lost] < pr->bad)
			pr->bad = pr->size[lost];
		pr->bad_confirmed = true;
	} else if (lost >= 0) {
		uint16_t size = pr->size[lost];
		if (pr->round > 0 && !pr->bad_confirmed && size == pr->bad)
			pr->bad_confirmed = true;	/* lost twice */
		else if (pr->round > 0)
			pr->bad = size, pr->bad_confirmed = true;
		else
			pr->bad = size;
	} else if (pr->round > 0 && !pr->bad_confirmed && best >= 0) {
		/* What the first round lost passed now: its answer was
		 * swallowed, not the probe. Ask above it again. */
		pr->bad = 0;
	}
	if (pr->good >= top_size(peer)) {
		/* Everything the tunnel sends passes: what ICMP said (if
		 * anything) is stale. */
		bool changed = peer->path_mtu != 0;
		if (changed)
			peer_forget_path_mtu(peer);
		pr->path_changed = false;
		note_quiet(pr, changed);
		finish(peer, PATH_PROBE_FULL, now);
		return;
	}
	/* Used once a loss is confirmed (a first-round loss may be an answer
	 * the peer's limiter swallowed, and a value too small would teach
	 * every inner sender a smaller MTU for ten minutes). A value already
	 * in use is lowered only when a probe of its own size was lost twice;
	 * otherwise rounds only raise it. */
	unsigned have = peer_path_inner_limit(peer, now);
	bool shrink_proven = pr->bad_confirmed && have && pr->bad <= have;
	if (pr->bad_confirmed && pr->good && pr->good != have && (!have || pr->good > have || shrink_proven)) {
		peer_set_path_mtu(peer, pr->good + peer_path_overhead(peer), PATH_MTU_PROBE, now);
		pr->changed = true;
		emit_probed(peer, PATH_PROBE_SEARCHING, now);
	}
	pr->round++;
	if ((pr->bad_confirmed && pr->bad - pr->good <= PROBE_STEP) || pr->round >= PROBE_MAX_ROUNDS ||
	    !send_round(peer, now)) {
		note_quiet(pr, pr->changed);
		finish(peer, PATH_PROBE_SMALLER, now);
	}
}

void pathprobe_timer(struct peer *peer, uint64_t now)
{
	struct path_probe *pr = &peer->probe;
	if (pr->round_deadline) {
		if (now >= pr->round_deadline)
			end_round(peer, now);
		else
			timers_on_path_probe_due(peer, pr->round_deadline);
		return;
	}
	if (!peer->dev->path_probing)
		return;
	/* The path changed (a roam): search now, unless one just ran. */
	if (pr->search_wanted) {
		uint64_t since = pr->last_result_at ? now - pr->last_result_at : UINT64_MAX;
		if (since < PROBE_MIN_INTERVAL) {
			timers_on_path_probe_due(peer, pr->last_result_at + PROBE_MIN_INTERVAL);
			return;
		}
		pr->search_wanted = false;
		start_search(peer, false, now);
		return;
	}
	/* Large packets and no word from the peer since: a black hole? */
	if (!pr->silent_since)
		return;
	uint64_t due = pr->silent_since + PATH_PROBE_SILENCE;
	if (pr->next_search > due)
		due = pr->next_search;
	if (now < due) {
		timers_on_path_probe_due(peer, due);
		return;
	}
	start_search(peer, true, now);
}

/* ---- answers ------------------------------------------------------------- */

/* The rung an echo (ours: ident, round) names, or -1. */
static int rung_of(const struct path_probe *pr, const uint8_t *echo)
{
	if (ip_get16(echo + 4) != pr->ident)
		return -1;
	uint16_t seq = ip_get16(echo + 6);
	if (seq >> 8 != pr->round || (seq & 0xff) >= pr->rungs)
		return -1;
	return seq & 0xff;
}

/* A quoted probe: the IP header we built and the start of its echo. */
static int rung_of_quoted(const struct path_probe *pr, const uint8_t *q, size_t qlen)
{
	if (pr->family == AF_INET) {
		if (qlen < IP4_HDR_LEN + ICMP_HDR || q[IP_VERSION_BYTE] != 0x45 || q[IP4_PROTO] != PROTO_ICMP ||
		    memcmp(q + IP4_DST, pr->target, IP4_ADDR_LEN) || q[IP4_HDR_LEN] != ICMP4_ECHO)
			return -1;
		return rung_of(pr, q + IP4_HDR_LEN);
	}
	if (qlen < IP6_HDR_LEN + ICMP_HDR || q[IP_VERSION_BYTE] >> 4 != 6 || q[IP6_NEXT_HDR] != PROTO_ICMPV6 ||
	    memcmp(q + IP6_DST, pr->target, IP6_ADDR_LEN) || q[IP6_HDR_LEN] != ICMP6_ECHO)
		return -1;
	return rung_of(pr, q + IP6_HDR_LEN);
}

/* Which probe the inner packet answers, or -1. len is the packet's own
 * length (padding stripped). An echo reply may come back in fragments (the
 * peer's side fits it to a path it believes smaller): its first fragment
 * answers as well, since what a probe measures is the way there. */
static int answered_rung(const struct path_probe *pr, const uint8_t *pkt, size_t len, int family, bool *limited)
{
	*limited = false;
	if (family != pr->family)
		return -1;
	const uint8_t *icmp;
	size_t hlen;
	bool fragment = false;
	if (family == AF_INET) {
		hlen = (size_t)(pkt[IP_VERSION_BYTE] & 0x0f) * 4;
		uint16_t frag = ip_get16(pkt + IP4_FRAG);
		if (hlen < IP4_HDR_LEN || len < hlen + ICMP_HDR || pkt[IP4_PROTO] != PROTO_ICMP || (frag & 0x1fff))
			return -1;
		fragment = frag & 0x2000;	/* more fragments follow */
		icmp = pkt + hlen;
		if (icmp[0] == ICMP4_ECHO_REPLY) {
			int rung = rung_of(pr, icmp);
			/* An echo reply is as long as the request. */
			if (rung < 0 || (!fragment && len != pr->size[rung]) ||
			    memcmp(pkt + IP4_SRC, pr->target, IP4_ADDR_LEN))
				return -1;
			return rung;
		}
		if (fragment)
			return -1;
		*limited = true;
		if (icmp[0] == ICMP4_TIME_EXCEEDED || (icmp[0] == ICMP4_UNREACHABLE && icmp[1] != ICMP4_FRAG_NEEDED))
			return rung_of_quoted(pr, icmp + ICMP_HDR, len - hlen - ICMP_HDR);
		return -1;
	}
	hlen = IP6_HDR_LEN;
	uint8_t next = pkt[IP6_NEXT_HDR];
	if (next == IP6_FRAGMENT_HDR) {
		/* The fragment header: next header, reserved, offset and M. */
		if (len < hlen + 8 || (ip_get16(pkt + hlen + 2) & 0xfff8))
			return -1;
		next = pkt[hlen];
		fragment = true;
		hlen += 8;
	}
	if (len < hlen + ICMP_HDR || next != PROTO_ICMPV6)
		return -1;
	icmp = pkt + hlen;
	if (icmp[0] == ICMP6_ECHO_REPLY) {
		int rung = rung_of(pr, icmp);
		if (rung < 0 || (!fragment && len != pr->size[rung]) || memcmp(pkt + IP6_SRC, pr->target, IP6_ADDR_LEN))
			return -1;
		return rung;
	}
	if (fragment)
		return -1;
	*limited = true;
	if (icmp[0] == ICMP6_TIME_EXCEEDED || icmp[0] == ICMP6_UNREACHABLE)
		return rung_of_quoted(pr, icmp + ICMP_HDR, len - hlen - ICMP_HDR);
	return -1;
}

bool pathprobe_consume_answer(struct peer *peer, const uint8_t *pkt, size_t len, int family, uint64_t now)
{
	struct path_probe *pr = &peer->probe;
	bool limited;
	int rung = answered_rung(pr, pkt, len, family, &limited);
	if (rung < 0)
		return false;
	pr->answers_limited = limited;
	if (!(pr->answered & (1u << rung))) {
		pr->answered |= (uint8_t)(1u << rung);
		pr->answers++;
	}
	/* Every rung answered: nothing left to wait for. */
	if (pr->answered == (1u << pr->rungs) - 1)
		end_round(peer, now);
	return true;
}

/* ---- for operators ------------------------------------------------------- */

const char *path_probe_result_name(enum path_probe_result result)
{
	switch (result) {
	case PATH_PROBE_SEARCHING:
		return "searching";
	case PATH_PROBE_FULL:
		return "full";
	case PATH_PROBE_SMALLER:
		return "smaller";
	case PATH_PROBE_UNANSWERED:
		return "unanswered";
	case PATH_PROBE_NO_TARGET:
		return "no-target";
	default:
		return "none";
	}
}

void peer_get_path_probe_info(const struct peer *peer, struct path_probe_info *info)
{
	const struct path_probe *pr = &peer->probe;
	info->result = pr->round_deadline ? PATH_PROBE_SEARCHING : (enum path_probe_result)pr->last_result;
	info->result_at = pr->last_result_at;
	info->largest_answered = pr->good;
	info->searches = pr->searches;
	info->probes_sent = pr->probes_sent;
	info->answers = pr->answers;
}

void device_forget_paths(struct device *dev)
{
	for (struct peer *p = dev->peers_first; p; p = p->list_next)
		peer_forget_path_mtu(p);
}
