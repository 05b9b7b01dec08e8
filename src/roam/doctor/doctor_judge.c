/* roam doctor's judges: observations in, one finding out (see doctor.h).
 * The words follow the playbook of docs/roaming.md §6: what was seen, what it means, and
 * what to do next. */
#include "doctor.h"
#include "hostinfo.h"
#include "resolve.h"

#include <inttypes.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>

static void ago_text(char *buf, size_t len, uint64_t ms)
{
	if (ms < 10000)
		snprintf(buf, len, "%.1f s", (double)ms / 1000);
	else
		format_duration(buf, len, ms / 1000);
}

/* ---- daemon ------------------------------------------------------------ */

/* The daemon is there (a live process holds its socket) but does not
 * answer: starting another is wrong, unsticking this one is right. */
static void stuck_daemon_finding(struct doctor_report *r, struct doctor_finding *f,
				 const struct daemon_observation *o)
{
	f->status = DOCTOR_FAIL;
	f->cause = "daemon_stuck";
	doctor_figure(f, "pid", o->holder_pid);
	doctor_evidence(f, "pid %d holds %s but does not answer on it: %s", o->holder_pid, o->socket_path,
			o->get_reason);
	if (o->holder_state)
		doctor_evidence(f, "; its state is %c (/proc/%d/stat)%s", o->holder_state, o->holder_pid,
				o->holder_state == 'T' || o->holder_state == 't' ? ", stopped by a signal"
				: o->holder_state == 'D'		   ? ", waiting in the kernel"
									   : "");
	if (o->holder_state == 'T' || o->holder_state == 't')
		doctor_decision(f, "The daemon is stopped (SIGSTOP, ^Z or a debugger): kill -CONT %d resumes it. Do "
				   "not start another one for %s.", o->holder_pid, r->ifname);
	else
		doctor_decision(f, "The daemon is hung: restart it (kill %d, then roam up FILE or wg-quick up %s); "
				   "if it is in state D, the kernel holds it (dmesg).", o->holder_pid, r->ifname);
}

static void daemon_finding(struct doctor_report *r, struct doctor_finding *f, const struct daemon_observation *o)
{
	const struct uapi_device *dev = o->dev;
	const char *name = r->daemon[0] ? r->daemon : "the daemon";

	if (o->get_error && o->holder_pid > 0) {
		stuck_daemon_finding(r, f, o);
		return;
	}
	if (o->get_error) {
		f->status = DOCTOR_FAIL;
		f->cause = "no_daemon";
		doctor_evidence(f, "no daemon answers on %s: %s", o->socket_path, o->get_reason);
		doctor_decision(f, "Start it (roam up FILE, or wg-quick up %s). Until it runs, this is a local service "
				   "problem, not roaming.", r->ifname);
		return;
	}
	doctor_evidence(f, "%s", name);
	if (r->pid)
		doctor_evidence(f, " (pid %d)", r->pid);
	doctor_evidence(f, " answers on %s", o->socket_path);
	if (o->link_error) {
		/* The socket's directory is shared by every network namespace,
		 * and a renamed interface keeps its daemon: restarting would
		 * clash with the old one, which still holds the addresses. */
		f->status = DOCTOR_FAIL;
		f->cause = "interface_missing";
		doctor_evidence(f, ", but there is no interface %s in this network namespace (%s)", r->ifname,
				strerror(-o->link_error));
		doctor_decision(f, "If it was renamed (ip link: a tun device holding this tunnel's addresses), rename it "
				   "back: ip link set NAME name %s. If the daemon runs in another network namespace, run "
				   "doctor there (ip netns exec NS roam doctor %s). Only if the interface is gone: "
				   "roam down %s; roam up %s.", r->ifname, r->ifname, r->ifname, r->ifname);
		return;
	}
	if (!(o->link_flags & IFF_UP)) {
		f->status = DOCTOR_FAIL;
		f->cause = "interface_down";
		doctor_evidence(f, ", but the interface is down");
		doctor_decision(f, "Bring it up (ip link set %s up; roam up and wg-quick do): a down interface has "
				   "no routes and sends nothing.", r->ifname);
		return;
	}
	if (!dev->listen_port) {
		f->status = DOCTOR_FAIL;
		f->cause = "no_listen_port";
		doctor_evidence(f, ", but it listens on no UDP port");
		doctor_decision(f, "Give it a ListenPort (wg set %s listen-port PORT).", r->ifname);
		return;
	}
	doctor_figure(f, "listen_port", dev->listen_port);
	if (o->binds_error) {
		f->status = DOCTOR_WARN;
		doctor_evidence(f, "; UDP %u: the socket table cannot be read (%s)", dev->listen_port,
				strerror(-o->binds_error));
		return;
	}
	if (!o->binds.sockets) {
		f->status = DOCTOR_FAIL;
		f->cause = "socket_lost";
		doctor_evidence(f, ", but no UDP socket of this network namespace is bound to its port %u",
				dev->listen_port);
		doctor_decision(f, "The daemon runs in another namespace or lost its socket: restart it here.");
		return;
	}
	doctor_evidence(f, "; UDP %u bound on %s; link up", dev->listen_port, o->binds.addrs);
	if (r->pid && !o->binds.owned) {
		f->status = DOCTOR_WARN;
		doctor_evidence(f, ", but by another process than pid %d", r->pid);
		doctor_decision(f, "Another program holds the port (ss -lunp): the peers' packets may go there.");
	}
}

bool judge_daemon(struct doctor_report *r, const struct daemon_observation *o)
{
	struct doctor_finding *f = doctor_add(r, "daemon", NULL);

	daemon_finding(r, f, o);
	return f->status == DOCTOR_FAIL;
}

/* ---- udp --------------------------------------------------------------- */

static void sources_text(struct doctor_finding *f, const struct capture_result *c)
{
	char a[IP_PREFIX_STRLEN];

	for (size_t i = 0; i < c->n_sources; i++) {
		const struct capture_source *s = &c->sources[i];

		doctor_evidence(f, "%s%s%s%s:%u", i ? ", " : "", s->addr.family == AF_INET6 ? "[" : "",
				ip_addr_str(&s->addr, a), s->addr.family == AF_INET6 ? "]" : "", s->port);
	}
	if (c->n_sources == CAPTURE_MAX_SOURCES)
		doctor_evidence(f, ", ...");
}

static void types_text(struct doctor_finding *f, const struct capture_result *c)
{
	static const char *const names[5] = { "other", "initiation", "response", "cookie reply", "data" };
	bool first = true;

	doctor_evidence(f, " (");
	for (int t = 1; t <= 4; t++) {
		int i = t % 5;

		if (!c->by_type[i])
			continue;
		doctor_evidence(f, "%s%" PRIu64 " %s", first ? "" : ", ", c->by_type[i], names[i]);
		first = false;
	}
	if (c->by_type[0])
		doctor_evidence(f, "%s%" PRIu64 " other", first ? "" : ", ", c->by_type[0]);
	doctor_evidence(f, ")");
}

/* ---- sending ------------------------------------------------------------- */

static const struct {
	const char *reason, *meaning;
} send_causes[] = {
	{ "send_refused", "refused by a firewall rule of this host (EPERM)" },
	{ "send_unreachable", "no route to the endpoint from here" },
	{ "send_too_big", "too big for the path" },
	{ "send_buffer_full", "the socket's send buffer was full" },
	{ "send_failed", "failed for another reason" },
};
enum { N_SEND_CAUSES = sizeof(send_causes) / sizeof(send_causes[0]) };

/* The decision for the cause that counted most. */
static void send_decision(struct doctor_finding *f, const char *why)
{
	if (!strcmp(why, "send_refused"))
		doctor_decision(f, "This host does not let the packets out: look for a rule dropping UDP to the "
				   "endpoint in the output path (nft list ruleset; iptables -S OUTPUT).");
	else if (!strcmp(why, "send_unreachable"))
		doctor_decision(f, "This host has no route to the endpoint: check `ip route get` for it (and the "
				   "fwmark's table, if one is set).");
	else
		doctor_decision(f, "The datagrams to the peer fail on this host before they leave: see roamd's "
				   "log and `roam show` for the cause.");
}

/* A full tunnel's own datagrams lose the daemon's fwmark on the way out (a
 * route chain on the output hook that sets another mark): routed again
 * without it, they go into the tunnel itself and loop, growing until this
 * host's own kernel reports them too big. */
static void mark_lost_finding(struct doctor_report *r, struct doctor_finding *f, const struct uapi_device *dev,
			      const struct watch_observation *w)
{
	f->status = DOCTOR_FAIL;
	f->cause = "fwmark_lost";
	doctor_evidence(f, "the daemon's datagrams to %s lose fwmark 0x%x and are routed into %s itself: with the "
			   "mark they leave (ip route get ADDRESS mark 0x%x), without it they go into the tunnel",
			w->looped_endpoint, dev->fwmark, r->ifname, dev->fwmark);
	if (w->mark_rule[0]) {
		doctor_evidence(f, "; a route chain on the output hook sets another mark: %s", w->mark_rule);
		doctor_decision(f, "Remove or fix that rule (nft -a list ruleset; nft delete rule TABLE CHAIN handle N), "
				   "or make it spare the daemon's datagrams (meta mark 0x%x accept before it, or match "
				   "only what it is meant for): until then the tunnel's own datagrams loop inside it. "
				   "Then flush the path MTU the loop left on the route to the endpoint (sysctl -w "
				   "net.ipv4.route.flush=1), or the next roam up takes it for the MTU.", dev->fwmark);
	} else {
		doctor_evidence(f, "; roamd learnt a path MTU from this host itself far below the way out (the "
				   "datagrams grow each time round the loop)");
		doctor_decision(f, "Find what clears or rewrites the mark on output (nft list ruleset: a meta mark set "
				   "in a route chain on the output hook; iptables -t mangle -S OUTPUT: a MARK target) "
				   "and make it spare fwmark 0x%x.", dev->fwmark);
	}
}

/* The daemon's fwmark is not the one the tunnel's policy rules were made
 * for (`wg setconf` from a config without FwMark sets it to 0): its own
 * datagrams are no longer spared by `not fwmark M lookup T` and go into the
 * tunnel. The AllowedIPs are right; the mark is what to put back. */
static void fwmark_mismatch_finding(struct doctor_report *r, struct doctor_finding *f, const struct uapi_device *dev,
				    const struct watch_observation *w)
{
	f->status = DOCTOR_FAIL;
	f->cause = "fwmark_mismatch";
	doctor_figure(f, "fwmark", dev->fwmark);
	doctor_figure(f, "rule_fwmark", w->rule_fwmark);
	doctor_figure(f, "table", w->rule_table);
	if (dev->fwmark)
		doctor_evidence(f, "the daemon's fwmark is %#x", dev->fwmark);
	else
		doctor_evidence(f, "the daemon's fwmark is off");
	doctor_evidence(f, " but this tunnel's rules expect %#x (ip rule: not from all fwmark %#x lookup %u%s)",
			w->rule_fwmark, w->rule_fwmark, w->rule_table, w->ledger_fwmark ? "; roam's ledger" : "");
	if (w->looped_endpoint[0])
		doctor_evidence(f, ": its datagrams to %s go into %s itself", w->looped_endpoint, r->ifname);
	else
		doctor_evidence(f, ": its datagrams are routed by table %u, into the tunnel", w->rule_table);
	doctor_decision(f, "Give the daemon its mark back: wg set %s fwmark %u, or roam down %s; roam up %s. Keep "
			   "FwMark = %u in any config given to wg setconf. The AllowedIPs are right as they are.",
			r->ifname, w->rule_fwmark, r->ifname, r->ifname, w->rule_fwmark);
}

bool judge_sending(struct doctor_report *r, const struct uapi_device *dev, const struct watch_observation *w,
		   uint64_t now_ms)
{
	struct doctor_finding *f = doctor_add(r, "sending", NULL);
	const struct uapi_drop *drops = w->watched ? w->drops : dev->drops;
	size_t n_drops = w->watched ? w->n_drops : dev->n_drops;
	uint64_t most = 0, total = 0, age;
	const char *why = NULL;

	/* First: a loop makes every other reading of the datagrams' fate
	 * (ICMP from the peer's host, silence) a consequence, and a fwmark
	 * that is not the one the rules expect is what makes it. */
	if (w->rule_table && w->rule_fwmark != dev->fwmark) {
		fwmark_mismatch_finding(r, f, dev, w);
		return true;
	}
	if (w->looped_endpoint[0] && w->mark_lost) {
		mark_lost_finding(r, f, dev, w);
		return true;
	}
	if (w->looped_endpoint[0]) {
		f->status = DOCTOR_FAIL;
		f->cause = "endpoint_routed_into_tunnel";
		doctor_evidence(f, "the peer's Endpoint %s routes into %s itself (ip route get): the AllowedIPs contain "
				   "it, so the tunnel's own datagrams go back into the tunnel", w->looped_endpoint,
				r->ifname);
		doctor_decision(f, "Take the endpoint's address out of the AllowedIPs (split the prefix around it), or "
				   "route the daemon's datagrams apart: a FwMark with a table of its own and a rule for "
				   "the unmarked traffic, as wg-quick does for 0.0.0.0/0.");
		return true;
	}
	if (!dev->extended) {
		f->status = DOCTOR_SKIP;
		doctor_evidence(f, "the daemon does not count what it cannot send");
		return false;
	}
	if (!w->watched) {
		/* Totals since the start say little while handshakes are
		 * fresh: judge them only when nothing works. */
		for (size_t i = 0; i < dev->n_peers; i++)
			if (peer_handshake_verdict(&dev->peers[i], now_ms, &age) == HANDSHAKE_FRESH)
				n_drops = 0;
	}
	for (size_t i = 0; i < N_SEND_CAUSES; i++) {
		uint64_t n = drop_count(drops, n_drops, send_causes[i].reason);
		if (!n)
			continue;
		doctor_evidence(f, "%s%" PRIu64 " datagram%s to peers %s (%s)", total ? "; " : "", n, n == 1 ? "" : "s",
				send_causes[i].meaning, send_causes[i].reason);
		total += n;
		if (n > most)
			most = n, why = send_causes[i].reason;
	}
	if (!why) {
		doctor_evidence(f, w->watched ? "every datagram to the peers left this host while watched"
					      : "no datagram to the peers was refused by this host");
		return false;
	}
	doctor_figure(f, "refused", (double)total);
	if (w->watched)
		doctor_evidence(f, ", while doctor watched %.1f s", (double)w->capture.elapsed_ms / 1000);
	f->status = DOCTOR_FAIL;
	f->cause = why;
	send_decision(f, why);
	return true;
}

/* ---- udp ------------------------------------------------------------------ */

/* Host unreachable from one of this host's own addresses: its kernel
 * gave up resolving the next hop (ARP/ND), so the fault is here (a dead
 * gateway, often in a table a policy rule chose), not the peer's host. */
static void next_hop_cause(struct doctor_finding *f, const struct icmp_seen *icmp, const char *who, const char *to)
{
	const struct icmp_next_hop *h = &icmp->next_hop;
	const char *dev = h->dev[0] ? h->dev : "its interface";

	f->cause = "next_hop_unreachable";
	doctor_evidence(f, "; %s is this host's own address: its kernel could not reach the next hop", who);
	if (!h->gateway[0]) {
		doctor_evidence(f, " (%s is on the link of %s, no gateway)", to, dev);
		doctor_decision(f, "The peer's host %s does not answer ARP/ND on %s (ip neigh show dev %s: FAILED): "
				   "it is down or its address moved; check the host, or this Endpoint.", to, dev, dev);
		return;
	}
	doctor_evidence(f, ": the daemon's datagrams to %s go via %s on %s", to, h->gateway, dev);
	if (h->table)
		doctor_evidence(f, " (table %u%s", h->table, h->by_rule ? "" : ")");
	if (h->by_rule)
		doctor_evidence(f, ", chosen by rule %u: fwmark 0x%x lookup %u)", h->rule_priority, h->rule_fwmark,
				h->table);
	if (h->by_rule)
		doctor_decision(f, "This host cannot reach its next hop %s on %s for %s (table %u, chosen by rule "
				   "fwmark 0x%x lookup %u, priority %u): fix the default route in table %u (ip route "
				   "replace default via GATEWAY table %u) or remove the rule (ip rule del pref %u) if "
				   "it is a leftover.", h->gateway, dev, to, h->table, h->rule_fwmark, h->table,
				h->rule_priority, h->table, h->table, h->rule_priority);
	else
		doctor_decision(f, "This host cannot reach its next hop %s on %s for %s (ip neigh show %s: FAILED): "
				   "the gateway is down or the route names a wrong one; fix the route (ip route get %s%s).",
				h->gateway, dev, to, h->gateway, to, h->table && h->table != 254 ? " mark M" : "");
}

/* What the network said about our own datagrams while nothing arrived:
 * an ICMP error names the cause; silence after our initiations is told
 * apart by whether the peer ever answered. Adds the evidence, the
 * decision, the cause and the status. */
void doctor_icmp_cause(struct doctor_finding *f, const struct icmp_seen *icmp, bool endpoint_learned)
{
	char who[IP_PREFIX_STRLEN], to[IP_PREFIX_STRLEN];
	bool from_target = ip_prefix_equal(&icmp->reporter, &icmp->target);

	ip_addr_str(&icmp->reporter, who);
	ip_addr_str(&icmp->target, to);
	doctor_figure(f, "icmp_errors", (double)icmp->total);
	doctor_evidence(f, "; %s answered our datagrams to %s port %u with ICMP %s (%" PRIu64 " seen)",
			from_target ? "the peer's host" : who, to, icmp->target_port, icmp_kind_text(icmp->last_kind),
			icmp->total);
	f->status = DOCTOR_FAIL;
	switch (icmp->last_kind) {
	case ICMP_KIND_PORT:
		f->cause = "icmp_port_unreachable";
		if (endpoint_learned) {
			/* No Endpoint here to be wrong: the address came from
			 * the peer's own packets, so what changed is over there. */
			doctor_evidence(f, "; this host learned that address from the peer's packets (it has no "
					   "Endpoint for the peer)");
			doctor_decision(f, "Nothing listens on UDP %u at %s any more: the peer's daemon no longer "
					   "listens at that address and port (it stopped or restarted, or its NAT "
					   "mapping moved). Check the peer's side; nothing to change here: the endpoint "
					   "follows when the peer reconnects.", icmp->target_port, to);
			break;
		}
		doctor_decision(f, "Nothing listens on UDP %u at %s: this Endpoint's port is wrong (it must be the "
				   "peer's ListenPort), or the peer's daemon is not running. Fix the port, or start "
				   "the tunnel there.", icmp->target_port, to);
		break;
	case ICMP_KIND_PROHIBITED:
		f->cause = "icmp_prohibited";
		doctor_decision(f, "A firewall at %s rejects UDP %u to %s: open it there (the peer's firewall, a "
				   "security group, or a router on the way).", who, icmp->target_port, to);
		break;
	case ICMP_KIND_HOST:
		if (icmp->next_hop.reporter_local) {
			next_hop_cause(f, icmp, who, to);
			break;
		}
		/* fall through */
	default:
		f->cause = "icmp_unreachable";
		doctor_decision(f, "%s cannot deliver to %s: the peer's host is off the network (down, moved, or "
				   "its address changed). Check that it is up and that this Endpoint is current.",
				from_target ? "The peer's host" : who, to);
		break;
	}
}

/* Is the ICMP error's target a peer's endpoint this host learned from the
 * peer's packets (no Endpoint on this side)? False when unknown. */
static bool icmp_target_learned(const struct uapi_device *dev, const struct watch_observation *w)
{
	char endpoint[UAPI_ENDPOINT_MAX];

	endpoint_format(endpoint, &w->icmp.target, w->icmp.target_port);
	for (size_t i = 0; w->initiates && i < dev->n_peers; i++)
		if (!strcmp(dev->peers[i].endpoint, endpoint))
			return !w->initiates[i];
	return false;
}

static void silence_cause(struct doctor_report *r, struct doctor_finding *f, const struct uapi_device *dev,
			  const struct watch_observation *w, uint64_t now_ms)
{
	uint64_t attempts = 0, age;
	bool answered_before = false;
	const char *endpoint = NULL;	/* where the first silent peer's initiations go */

	/* A silent peer that connects here, whose learned endpoint now
	 * bounces our datagrams: its NAT forgot it (before the port
	 * unreachable is taken for a wrong port: this side set no port). */
	for (size_t i = 0; w->initiates && i < dev->n_peers; i++) {
		const struct uapi_peer *p = &dev->peers[i];
		struct session_evidence s = {
			.peer = p,
			.initiates = w->initiates[i],
			.sent_to_peer = p->handshake_attempts || w->icmp.total,
			.icmp = w->icmp_watched ? &w->icmp : NULL,
			.listen_port = dev->listen_port,
		};

		if (peer_handshake_verdict(p, now_ms, &age) == HANDSHAKE_FRESH)
			continue;
		if (doctor_nat_expired_cause(f, &s))
			return;
	}
	if (w->icmp.total) {
		doctor_icmp_cause(f, &w->icmp, icmp_target_learned(dev, w));
		return;
	}
	if (w->icmp_watched)
		doctor_evidence(f, ", and no ICMP error came back");
	for (size_t i = 0; i < dev->n_peers; i++) {
		const struct uapi_peer *p = &dev->peers[i];

		if (peer_handshake_verdict(p, now_ms, &age) == HANDSHAKE_FRESH || !p->endpoint[0])
			continue;
		attempts += p->handshake_attempts;
		answered_before |= p->last_handshake_sec != 0;
		if (!endpoint && p->handshake_attempts)
			endpoint = p->endpoint;
	}
	if (attempts) {
		doctor_figure(f, "initiations_unanswered", (double)attempts);
		f->status = DOCTOR_FAIL;
		if (answered_before) {
			f->cause = "peer_gone";
			doctor_evidence(f, "; %" PRIu64 " initiations sent meanwhile went unanswered, from a peer that "
					   "answered before", attempts);
			doctor_decision(f, "The peer went away or a filter on the way began dropping: check that the "
					   "peer's host and daemon are up (roam doctor there shows whether our "
					   "datagrams arrive); if they are, look for a new firewall rule between.");
		} else {
			f->cause = "keys_or_filter";
			doctor_evidence(f, "; %" PRIu64 " initiations sent meanwhile went unanswered, and the peer "
					   "never answered", attempts);
			doctor_decision(f, "A peer drops initiations made for another key without a word: check the "
					   "peer's PublicKey for this interface (it must be %s); if it is right, a "
					   "firewall between drops our UDP to %s (from our port %u).", r->public_key,
					endpoint ? endpoint : "the peer", dev->listen_port);
		}
		return;
	}
	if (w->peer_retry_ms > w->capture.elapsed_ms) {
		f->status = DOCTOR_WARN;
		f->cause = "evidence_incomplete";
		doctor_evidence(f, "; the peers may try again only every %.0f s, longer than the watch: the evidence "
				   "is incomplete", (double)w->peer_retry_ms / 1000);
		doctor_decision(f, "Watch longer: roam doctor %s --wait %.0f.", r->ifname,
				(double)w->peer_retry_ms / 1000 + 2);
		return;
	}
	f->status = DOCTOR_FAIL;
	f->cause = "nothing_arrives";
	doctor_decision(f, "Nothing arrives and this side cannot reach out: an upstream firewall or security group, "
			   "a wrong Endpoint or port on the peers, or peers that are not running. Run roam doctor "
			   "on a peer: its udp check shows where its datagrams go.");
}

bool judge_udp(struct doctor_report *r, const struct uapi_device *dev, const struct watch_observation *w,
	       uint64_t now_ms)
{
	struct doctor_finding *f = doctor_add(r, "udp", NULL);
	uint64_t newest = UINT64_MAX, age;
	size_t fresh = 0;
	char ago[64];

	if (!dev->n_peers) {
		f->status = DOCTOR_SKIP;
		doctor_evidence(f, "no peers configured");
		return false;
	}
	if (w->sending_failed) {
		/* Nothing comes back because nothing left: not the network's fault. */
		f->status = DOCTOR_SKIP;
		doctor_evidence(f, "not judged: this host refuses to send to the peers (see sending)");
		return true;
	}
	for (size_t i = 0; i < dev->n_peers; i++) {
		const struct uapi_peer *p = &dev->peers[i];

		if (peer_handshake_verdict(p, now_ms, &age) == HANDSHAKE_FRESH)
			fresh++;
		if (p->has_last_receive_age && p->last_receive_age_ms < newest)
			newest = p->last_receive_age_ms;
	}
	if (!w->watched) {
		if (fresh < dev->n_peers && !w->capture_error) {
			f->status = DOCTOR_SKIP;
			doctor_evidence(f, "%zu of %zu peers without a fresh handshake; not watched (--wait 0)",
					dev->n_peers - fresh, dev->n_peers);
			return false;
		}
		if (w->capture_error) {
			f->status = DOCTOR_WARN;
			doctor_evidence(f, "%zu of %zu peers without a fresh handshake, and no capture possible: %s",
					dev->n_peers - fresh, dev->n_peers, strerror(-w->capture_error));
			doctor_decision(f, "Run tcpdump -ni any udp port %u while the peer connects.", dev->listen_port);
			return false;
		}
		doctor_evidence(f, "%s completed a handshake in the last 3 minutes",
				dev->n_peers == 1 ? "the peer" : "every peer");
		if (newest != UINT64_MAX) {
			ago_text(ago, sizeof(ago), newest);
			doctor_evidence(f, "; the latest packet came %s ago", ago);
		}
		return false;
	}
	doctor_figure(f, "datagrams", (double)w->capture.datagrams);
	doctor_figure(f, "watched_ms", (double)w->capture.elapsed_ms);
	if (!w->capture.datagrams) {
		doctor_evidence(f, "in %.1f s no UDP datagram to port %u reached this host (watched where tcpdump "
				   "does); %zu of %zu peers have no fresh handshake",
				(double)w->capture.elapsed_ms / 1000, dev->listen_port, dev->n_peers - fresh,
				dev->n_peers);
		if (fresh == dev->n_peers)
			/* Watched for earlier send refusals: an idle tunnel is quiet. */
			return false;
		if (fresh) {
			/* Others are fine: the silent ones are away, or asleep. */
			f->status = DOCTOR_WARN;
			doctor_decision(f, "The silent peers are not sending: offline, asleep (power policy), or "
					   "blocked on their way. If one should be connected, check its Endpoint and "
					   "port, and the firewalls and NATs in between.");
			return false;
		}
		silence_cause(r, f, dev, w, now_ms);
		return f->status == DOCTOR_FAIL;
	}
	doctor_evidence(f, "in %.1f s %" PRIu64 " datagram%s to UDP %u reached this host",
			(double)w->capture.elapsed_ms / 1000, w->capture.datagrams,
			w->capture.datagrams == 1 ? "" : "s", dev->listen_port);
	types_text(f, &w->capture);
	doctor_evidence(f, " from ");
	sources_text(f, &w->capture);
	if (!w->counted) {
		doctor_evidence(f, "; the daemon keeps no packet counters to tell whether it got them");
		return false;
	}
	doctor_figure(f, "received_by_daemon", (double)w->received);
	if (!w->received && w->redirect_rule[0]) {
		f->status = DOCTOR_FAIL;
		f->cause = "port_redirected";
		doctor_evidence(f, ", and %s received none of them; the ruleset sends the port elsewhere: %s",
				r->daemon[0] ? r->daemon : "the daemon", w->redirect_rule);
		doctor_decision(f, "A DNAT or redirect rule takes UDP %u away from the daemon before it sees it: "
				   "delete it (nft -a list ruleset shows its handle; nft delete rule TABLE CHAIN handle "
				   "N), or narrow it so it spares this port.", dev->listen_port);
		return true;
	}
	if (!w->received) {
		f->status = DOCTOR_FAIL;
		f->cause = "input_firewall";
		doctor_evidence(f, ", and %s received none of them", r->daemon[0] ? r->daemon : "the daemon");
		doctor_decision(f, "Something on this host drops them before the daemon: a firewall rule (nft list "
				   "ruleset; iptables -S). Accept udp dport %u in the input chain.",
				dev->listen_port);
		return true;
	}
	doctor_evidence(f, ", and %s took in %" PRIu64, r->daemon[0] ? r->daemon : "the daemon", w->received);
	return false;
}

/* ---- handshake --------------------------------------------------------- */

uint64_t drop_count(const struct uapi_drop *drops, size_t n, const char *reason)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(drops[i].reason, reason))
			return drops[i].count;
	return 0;
}

static uint64_t drop_growth(const struct watch_observation *w, const char *reason)
{
	return drop_count(w->drops, w->n_drops, reason);
}

/* What roamd could not send to the peer, by cause (the send_* drops: the
 * local kernel refused the datagram, so it never left this host). Adds the
 * evidence and the decision and returns true when there were any. */
static bool send_failures_text(struct doctor_finding *f, const struct uapi_peer *peer)
{
	uint64_t n, most = 0;
	const char *why = NULL;

	for (size_t i = 0; i < N_SEND_CAUSES; i++) {
		if (!(n = drop_count(peer->drops, peer->n_drops, send_causes[i].reason)))
			continue;
		doctor_evidence(f, "; %" PRIu64 " datagram%s to %s %s (%s)", n, n == 1 ? "" : "s",
				peer->endpoint[0] ? peer->endpoint : "it", send_causes[i].meaning, send_causes[i].reason);
		if (n > most)
			most = n, why = send_causes[i].reason;
	}
	if (!why)
		return false;
	send_decision(f, why);
	return true;
}

bool judge_handshake(struct doctor_report *r, const struct peer_observation *p, const struct watch_observation *w)
{
	struct doctor_finding *f = doctor_add(r, "handshake", p->peer->public_key);
	char ago[64];
	uint64_t n;

	if (p->verdict == HANDSHAKE_FRESH) {
		ago_text(ago, sizeof(ago), p->handshake_age_ms);
		doctor_evidence(f, "latest handshake %s ago", ago);
		doctor_figure(f, "age_ms", (double)p->handshake_age_ms);
		return false;
	}
	if (p->udp_failed) {
		f->status = DOCTOR_SKIP;
		doctor_evidence(f, "not judged: no UDP reaches the daemon (see %s)", p->udp_failed);
		return true;
	}
	f->status = DOCTOR_FAIL;
	if (p->verdict == HANDSHAKE_NEVER) {
		doctor_evidence(f, "no handshake ever");
	} else {
		ago_text(ago, sizeof(ago), p->handshake_age_ms);
		doctor_evidence(f, "latest handshake %s ago, none since", ago);
	}
	if ((n = drop_growth(w, "bad_mac1"))) {
		f->cause = "bad_mac1";
		doctor_evidence(f, "; meanwhile %" PRIu64 " handshake message%s dropped for a bad mac1: made "
				   "for another public key", n, n == 1 ? " was" : "s were");
		doctor_decision(f, "Wrong keys: a peer has a wrong public key for this interface. Its [Peer] "
				   "PublicKey must be %s.", r->public_key);
		return true;
	}
	if ((n = drop_growth(w, "unknown_peer"))) {
		f->cause = "unknown_peer";
		doctor_evidence(f, "; meanwhile %" PRIu64 " initiations came from a public key with no peer here", n);
		doctor_decision(f, "Wrong keys: this peer's PublicKey here is not the key the peer has (compare with "
				   "`wg pubkey` of its private key), or the peer is missing.");
		return true;
	}
	struct session_evidence s = {
		.peer = p->peer,
		.initiates = p->initiates,
		.sent_to_peer = p->nudged || p->peer->handshake_attempts,
		.icmp = w->icmp_watched ? &w->icmp : NULL,
		.peer_data_arrived = w->watched ? w->capture.by_type[4] : 0,
		.response_decrypt_failed = drop_growth(w, "handshake_decrypt"),
		.listen_port = r->listen_port,
	};
	/* Before handshake_decrypt: initiations that authenticate here say
	 * the public keys are right, which leaves the preshared key. */
	if (doctor_responses_cause(f, &s))
		return true;
	if ((n = drop_growth(w, "handshake_decrypt"))) {
		f->cause = "handshake_decrypt";
		doctor_evidence(f, "; meanwhile %" PRIu64 " handshake messages failed to decrypt", n);
		/* Our initiation got an answer that does not decrypt: a wrong
		 * public key would have gone unanswered (bad_mac1, unknown_peer
		 * at the peer), so what differs is the preshared key. */
		if (p->nudged || p->peer->handshake_attempts) {
			doctor_evidence(f, " (this host initiated, so these are most likely the peer's responses: "
					   "the public keys pair up)");
			doctor_psk_decision(f, p->peer);
		} else {
			doctor_decision(f, "The keys do not pair up: check both sides' keys and PresharedKey.");
		}
		return true;
	}
	if ((n = drop_growth(w, "stale_timestamp"))) {
		f->cause = "stale_timestamp";
		doctor_evidence(f, "; meanwhile %" PRIu64 " initiations were older than one already accepted", n);
		doctor_decision(f, "The peer's clock went back (or someone replays it): fix its time (NTP) before "
				   "inventing new theories.");
		return true;
	}
	if (send_failures_text(f, p->peer)) {
		f->cause = "send_refused";
		return true;
	}
	if ((n = drop_growth(w, "unknown_index"))) {
		f->cause = "unknown_index";
		doctor_evidence(f, "; meanwhile %" PRIu64 " data packets came for a session this host does not have: "
				   "the peer still uses keys from before this daemon started or its keys changed", n);
		doctor_decision(f, "The peer should start a new handshake on its own within seconds; if not, the "
				   "peer has another public key for this interface: its [Peer] PublicKey must be %s.",
				r->public_key);
		return true;
	}
	if (doctor_nat_expired_cause(f, &s))
		return true;
	if (w->icmp.total) {
		doctor_icmp_cause(f, &w->icmp, !p->initiates);
		return true;
	}
	if (p->peer->endpoint[0] && (p->peer->handshake_attempts || p->nudged)) {
		f->cause = p->peer->last_handshake_sec ? "peer_gone" : "keys_or_filter";
		doctor_evidence(f, "; %" PRIu64 " initiations sent to %s without a response",
				p->peer->handshake_attempts, p->peer->endpoint);
		if (w->watched)
			doctor_evidence(f, " (%" PRIu64 " handshake responses arrived in %.1f s)",
					w->capture.by_type[2], (double)w->capture.elapsed_ms / 1000);
		if (p->peer->last_handshake_sec)
			doctor_decision(f, "The peer answered before and stopped: check that its host and daemon are "
					   "up, then for a new firewall rule between (roam doctor there).");
		else
			doctor_decision(f, "The other side does not answer: check that the keys pair up (the peer's "
					   "PublicKey for this interface must be %s, and this side's PublicKey for the "
					   "peer must be the peer's current one: wg pubkey of its private key), then its "
					   "firewall and port, and this Endpoint; run roam doctor there.",
					r->public_key);
		return true;
	}
	f->status = DOCTOR_WARN;
	if (!p->peer->endpoint[0]) {
		doctor_evidence(f, "; the peer has not contacted this interface");
		doctor_decision(f, "If it should be connected, look at the peer: running, this interface's public "
				   "key and Endpoint, and keepalive.");
	} else {
		doctor_evidence(f, "; nothing to send it, so no new one");
		doctor_decision(f, "Idle is normal: a handshake starts with the next packet to it.");
	}
	return true;
}

/* ---- endpoint ---------------------------------------------------------- */

/* The address part of "ADDR:PORT" or "[ADDR]:PORT": its length. */
static size_t endpoint_host_len(const char *endpoint)
{
	const char *colon = strrchr(endpoint, ':');

	return colon ? (size_t)(colon - endpoint) : strlen(endpoint);
}

/* How often, within the daemon's recent history, the endpoint went back to
 * the one it had just left (A -> B -> A counts one), and whether every such
 * return stayed on one address (ports of one NAT). A device that roams
 * leaves its old address for good, or comes back once; two devices with
 * the one key take the endpoint from each other at each handshake. */
static unsigned endpoint_returns(const struct uapi_peer *peer, bool *same_address)
{
	enum { WINDOW_MS = 180 * 1000 };
	const struct uapi_history *prev = NULL;
	unsigned returns = 0;

	*same_address = true;
	for (size_t i = 0; i < peer->n_history; i++) {
		const struct uapi_history *h = &peer->history[i];

		if (strcmp(h->kind, "endpoint_changed") || h->age_ms > WINDOW_MS || !h->old_endpoint[0])
			continue;
		if (prev && !strcmp(h->new_endpoint, prev->old_endpoint) &&
		    !strcmp(h->old_endpoint, prev->new_endpoint)) {
			returns++;
			size_t n = endpoint_host_len(h->old_endpoint);
			if (n != endpoint_host_len(h->new_endpoint) || strncmp(h->old_endpoint, h->new_endpoint, n))
				*same_address = false;
		}
		prev = h;
	}
	return returns;
}

/* Flips older than this no longer make duplicate_peer_key a FAIL. */
enum { DUPLICATE_KEY_ONGOING_MS = 60000 };

void judge_endpoint(struct doctor_report *r, const struct peer_observation *p, bool skipped, uint64_t now_ms)
{
	struct doctor_finding *f = doctor_add(r, "endpoint", p->peer->public_key);
	const struct uapi_peer *peer = p->peer;
	const struct uapi_history *last = NULL;
	char ago[64];

	(void)now_ms;
	if (skipped || !peer->endpoint[0]) {
		f->status = DOCTOR_SKIP;
		doctor_evidence(f, skipped ? "not judged: no handshake (see handshake)" : "no endpoint yet");
		return;
	}
	for (size_t i = peer->n_history; i-- > 0;)
		if (!strcmp(peer->history[i].kind, "endpoint_changed")) {
			last = &peer->history[i];
			break;
		}
	doctor_evidence(f, "%s", peer->endpoint);
	if (peer->has_last_receive_age) {
		ago_text(ago, sizeof(ago), peer->last_receive_age_ms);
		doctor_evidence(f, ", last authenticated packet %s ago", ago);
	}
	doctor_figure(f, "changes", (double)peer->endpoint_changes);
	if (last && !last->old_endpoint[0] && peer->endpoint_changes <= 1) {
		ago_text(ago, sizeof(ago), last->age_ms);
		doctor_evidence(f, "; learned %s ago from the peer's first packet", ago);
	} else if (last) {
		ago_text(ago, sizeof(ago), last->age_ms);
		doctor_evidence(f, "; it followed the peer %" PRIu64 " time%s, the latest %s ago: %s -> %s",
				peer->endpoint_changes, peer->endpoint_changes == 1 ? "" : "s", ago,
				last->old_endpoint[0] ? last->old_endpoint : "(none)", last->new_endpoint);
	} else if (r->daemon[0] && peer->endpoint_changes == 0 && peer->rx_packets) {
		doctor_evidence(f, "; unchanged since it was set");
	}
	/* Two returns between ports of one NAT, or four between addresses
	 * (an uplink that flaps can come back once or twice). */
	bool same_address;
	unsigned returns = endpoint_returns(peer, &same_address);
	if (returns >= (same_address ? 2u : 4u)) {
		/* Two live senders flip it at every keepalive or handshake;
		 * flips that stopped a minute ago are a second device gone
		 * (or switched off): worth knowing, no longer the fault. */
		bool ongoing = last->age_ms <= DUPLICATE_KEY_ONGOING_MS;

		f->status = ongoing ? DOCTOR_FAIL : DOCTOR_WARN;
		f->cause = "duplicate_peer_key";
		doctor_figure(f, "returns", returns);
		doctor_evidence(f, "; within 3 minutes it went back %u times to the endpoint it had just left "
				   "(%s <-> %s): two senders take it from each other", returns, last->old_endpoint,
				last->new_endpoint);
		if (!ongoing) {
			ago_text(ago, sizeof(ago), last->age_ms);
			doctor_evidence(f, "; the last flip was %s ago: the second sender has stopped for now", ago);
		}
		doctor_decision(f, "Two devices use this peer's key (a config copied to a second device): give each "
				   "device its own key and its own peer here.");
	}
}

/* ---- keepalive --------------------------------------------------------- */

/* A keepalive interval shorter than this is no cure for a NAT: a mapping
 * lost sooner is reset or flushed, not timed out, and packets every few
 * seconds only hide it (and drain phones). */
enum { KEEPALIVE_FLOOR_S = 10, KEEPALIVE_MARGIN_S = 5, KEEPALIVE_CUSTOMARY_S = 25 };

unsigned doctor_keepalive_suggestion(const struct uapi_peer *peer, unsigned present)
{
	uint64_t nat_idle_s = peer->nat_rebound_min_idle_ms / 1000;
	unsigned suggest = peer->suggested_keepalive ? peer->suggested_keepalive : KEEPALIVE_CUSTOMARY_S;

	/* The suggestion must beat the NAT's measured idle timeout. */
	if ((nat_idle_s && suggest >= nat_idle_s) || suggest < KEEPALIVE_FLOOR_S)
		suggest = 0;
	if (suggest && (!present || suggest < present))
		return suggest;
	/* What is set (or the daemon's own suggestion) does not beat it: the
	 * timeout measured, less a margin for timers that start apart. */
	if (!nat_idle_s)
		return 0;
	suggest = nat_idle_s > KEEPALIVE_FLOOR_S + KEEPALIVE_MARGIN_S ? (unsigned)nat_idle_s - KEEPALIVE_MARGIN_S
								      : KEEPALIVE_FLOOR_S;
	if (suggest >= nat_idle_s)
		return 0;	/* the NAT forgets faster than a sane keepalive */
	return !present || suggest < present ? suggest : 0;
}

void judge_keepalive(struct doctor_report *r, const struct peer_observation *p)
{
	struct doctor_finding *f = doctor_add(r, "keepalive", p->peer->public_key);
	const struct uapi_peer *peer = p->peer;
	unsigned suggest = doctor_keepalive_suggestion(peer, peer->persistent_keepalive);
	double nat_idle_s = (double)peer->nat_rebound_min_idle_ms / 1000;
	/* A NAT that kept the mapping through a longer idle gap than the one
	 * after which the address changed did not forget it for idleness:
	 * the mapping was reset (a masquerade or conntrack change, a
	 * reboot), which no keepalive prevents. */
	bool rebind_idle = peer->nat_rebound_min_idle_ms &&
			   peer->nat_kept_max_idle_ms < peer->nat_rebound_min_idle_ms;

	doctor_figure(f, "persistent_keepalive", peer->persistent_keepalive);
	if (peer->nat_rebound_min_idle_ms)
		doctor_figure(f, "nat_forgot_after_ms", (double)peer->nat_rebound_min_idle_ms);
	if (p->initiates && !peer->persistent_keepalive) {
		f->status = DOCTOR_WARN;
		doctor_evidence(f, "PersistentKeepalive is off, and this side connects out (%s): behind a NAT its "
				   "mapping expires when idle (often within 30 s) and the peer can no longer reach "
				   "this host", p->initiates_why);
		if (peer->nat_rebound_min_idle_ms)
			doctor_evidence(f, "; a NAT forgot this host after %.1f s idle", nat_idle_s);
		if (suggest)
			doctor_decision(f, "Set PersistentKeepalive = %u for this peer.", suggest);
		else
			doctor_decision(f, "Set PersistentKeepalive = %u for this peer; the NAT forgot sooner than that, "
					   "so ask its owner for a longer UDP timeout too.", KEEPALIVE_FLOOR_S);
		return;
	}
	if (peer->persistent_keepalive && rebind_idle &&
	    (uint64_t)peer->persistent_keepalive * 1000 >= peer->nat_rebound_min_idle_ms) {
		f->status = DOCTOR_WARN;
		doctor_evidence(f, "every %u s, but a NAT forgot the mapping after %.1f s idle",
				peer->persistent_keepalive, nat_idle_s);
		if (suggest) {
			doctor_decision(f, "Lower PersistentKeepalive to %u.", suggest);
		} else {
			/* Already at the floor: a shorter one would only hide it. */
			f->cause = "nat_timeout_too_short";
			doctor_decision(f, "PersistentKeepalive is already %u s, as short as a keepalive should go: the "
					   "NAT on the way drops idle UDP mappings faster than that (or resets them). "
					   "Raise its UDP timeout (a router's or firewall's conntrack setting, above %u s), "
					   "or ask its owner; a lower keepalive would only hide it.",
					peer->persistent_keepalive, peer->persistent_keepalive);
		}
		return;
	}
	if (!p->initiates && peer->nat_rebinds && rebind_idle) {
		f->status = DOCTOR_WARN;
		doctor_evidence(f, "the peer's address changed %" PRIu64 " times after an idle gap, the shortest "
				   "%.1f s: its NAT forgets it, so its keepalive is off or too long",
				peer->nat_rebinds, nat_idle_s);
		doctor_decision(f, "On the peer, set PersistentKeepalive = %u for this interface.",
				suggest ? suggest : KEEPALIVE_FLOOR_S);
		return;
	}
	if (peer->persistent_keepalive)
		doctor_evidence(f, "every %u s", peer->persistent_keepalive);
	else
		doctor_evidence(f, "off on this side, which the peer connects to: the peer keeps its own NAT "
				   "mapping open");
	if (peer->nat_kept_max_idle_ms)
		doctor_evidence(f, "; a NAT on the way kept the mapping through %.1f s idle",
				(double)peer->nat_kept_max_idle_ms / 1000);
	if (peer->nat_rebound_min_idle_ms && !rebind_idle)
		doctor_evidence(f, "; the address change after %.1f s idle was no timeout (a NAT reset, or a NAT "
				   "that stopped translating)", nat_idle_s);
}

/* ---- forwarding -------------------------------------------------------- */

static bool is_host_prefix(const struct ip_prefix *p)
{
	return p->cidr == (p->family == AF_INET ? 32 : 128);
}

bool doctor_peers_route_through(const struct uapi_device *dev, bool *any_ipv6)
{
	size_t prefixes = 0;

	*any_ipv6 = false;
	for (size_t i = 0; i < dev->n_peers; i++)
		for (size_t j = 0; j < dev->peers[i].n_allowed_ips; j++) {
			const struct ip_prefix *a = &dev->peers[i].allowed_ips[j];

			if (!is_host_prefix(a))
				return false;
			*any_ipv6 |= a->family == AF_INET6;
			prefixes++;
		}
	return prefixes > 0;
}

/* fc00::/7 (unique local) and fe80::/10 (link local): nothing beyond
 * this host routes them back, so without NAT they go nowhere. */
static bool ipv6_routable(const struct ip_prefix *a)
{
	return a->family == AF_INET6 && (a->addr[0] & 0xfe) != 0xfc && !(a->addr[0] == 0xfe && (a->addr[1] & 0xc0) == 0x80);
}

bool doctor_ipv6_forwarding_needed(const struct uapi_device *dev, const char *ipv6_nat_rule, char *why, size_t len)
{
	char a[IP_PREFIX_STRLEN];

	why[0] = '\0';
	if (ipv6_nat_rule && ipv6_nat_rule[0]) {
		snprintf(why, len, "an IPv6 source NAT takes the clients out: %s", ipv6_nat_rule);
		return true;
	}
	for (size_t i = 0; i < dev->n_peers; i++)
		for (size_t j = 0; j < dev->peers[i].n_allowed_ips; j++)
			if (ipv6_routable(&dev->peers[i].allowed_ips[j])) {
				snprintf(why, len, "the client address %s is globally routable",
					 ip_prefix_str(&dev->peers[i].allowed_ips[j], a));
				return true;
			}
	return false;
}

/* Clients' flows to a LAN host stay unanswered and this host cannot reach
 * it either: the fault is between this host and that one (a stale static
 * ARP entry for a replaced machine, a host that is down), not a route. */
static void lan_host_unreachable_finding(struct doctor_finding *f, const struct forwarding_observation *o)
{
	bool gateway = strcmp(o->lan_neigh, o->lan_host) != 0, permanent = !strcmp(o->lan_neigh_state, "PERMANENT");

	f->status = DOCTOR_FAIL;
	f->cause = "lan_host_unreachable";
	doctor_figure(f, "unreplied_flows", (double)o->lan_unreplied);
	doctor_evidence(f, "; %" PRIu64 " flow%s of the clients to %s (on %s) got no reply, and this host cannot reach "
			   "%s on %s either (no answer to a ping from its address there, %s); its neighbour entry for %s%s: %s%s%s",
			o->lan_unreplied, o->lan_unreplied == 1 ? "" : "s", o->lan_host, o->lan_dev, o->lan_host, o->lan_dev,
			o->lan_address, o->lan_neigh, gateway ? " (its gateway)" : "",
			o->lan_neigh_state, o->lan_lladdr[0] ? " lladdr " : "", o->lan_lladdr);
	if (permanent)
		doctor_decision(f, "This host cannot reach %s on %s: its static neighbour entry sends %s's packets to "
				   "%s, which nobody there answers (a replaced machine?). Fix it or delete it (ip neigh "
				   "del %s dev %s) and let ARP find the host.", o->lan_host, o->lan_dev, o->lan_neigh,
				o->lan_lladdr[0] ? o->lan_lladdr : "a stale lladdr", o->lan_neigh, o->lan_dev);
	else
		doctor_decision(f, "This host cannot reach %s on %s: %s does not answer ARP there (ip neigh show dev "
				   "%s). The host is down or not on %s's network; check it and its address, not the "
				   "tunnel.", o->lan_host, o->lan_dev, o->lan_neigh, o->lan_dev, o->lan_dev);
}

/* One client's flows to a LAN host stay unanswered while the host answers
 * this host from both its LAN and its tunnel address: the way back works,
 * the host itself keeps or drops that client's replies. */
static void lan_host_ignores_client_finding(struct doctor_finding *f, const struct forwarding_observation *o)
{
	f->status = DOCTOR_FAIL;
	f->cause = "lan_host_ignores_client";
	doctor_figure(f, "unreplied_flows", (double)o->lan_unreplied);
	doctor_evidence(f, "; %" PRIu64 " flow%s of client %s to %s (on %s) got no reply (none of them did), while %s "
			   "answers a ping from this host's %s and from its tunnel address %s",
			o->lan_unreplied, o->lan_unreplied == 1 ? "" : "s", o->lan_client, o->lan_host, o->lan_dev,
			o->lan_host, o->lan_address, o->tunnel_address);
	doctor_decision(f, "%s answers this host but not client %s (%" PRIu64 " flow%s unanswered): %s may hold %s's "
			   "address itself (an address conflict: check ip addr on %s for %s) or filter it. The "
			   "routes are fine.", o->lan_host, o->lan_client, o->lan_unreplied,
			o->lan_unreplied == 1 ? "" : "s", o->lan_host, o->lan_client, o->lan_host, o->lan_client);
}

void judge_forwarding(struct doctor_report *r, const struct forwarding_observation *o)
{
	struct doctor_finding *f = doctor_add(r, "forwarding", NULL);
	bool need_ipv6 = o->ipv6_clients && o->ipv6_needed_why[0];
	bool v4_off = o->ipv4 == 0, v6_off = need_ipv6 && o->ipv6 == 0;

	if (!o->hub) {
		f->status = DOCTOR_SKIP;
		doctor_evidence(f, "not needed: the peers hold networks this host reaches through them, not "
				   "clients routing through this host");
		return;
	}
	doctor_evidence(f, "the peers are single addresses (clients of this host); net.ipv4.ip_forward = %d",
			o->ipv4);
	if (need_ipv6)
		doctor_evidence(f, ", net.ipv6.conf.all.forwarding = %d (needed: %s)", o->ipv6, o->ipv6_needed_why);
	else if (o->ipv6_clients && o->ipv6 == 0)
		/* Only the peers' own /128s, unique-local, no NAT66: the
		 * clients reach this host over IPv6 (input, not forward). */
		doctor_evidence(f, ", net.ipv6.conf.all.forwarding = 0, which is fine: the clients' IPv6 stays inside "
				   "the tunnel (unique-local addresses, no IPv6 source NAT)");
	if (o->nat == 1)
		doctor_evidence(f, "; source NAT: %s", o->nat_rule);
	else if (o->nat == 2)
		doctor_evidence(f, "; source NAT only for other interfaces: %s", o->nat_rule);
	else if (o->nat == 3)
		doctor_evidence(f, "; source NAT only for other source addresses: %s, and no peer's AllowedIPs fall in "
				   "its saddr", o->nat_rule);
	else if (o->nat == 0)
		doctor_evidence(f, "; no masquerade or SNAT rule in the ruleset");
	else
		doctor_evidence(f, "; the ruleset could not be read (%s)", strerror(-o->nat));
	if (v4_off || v6_off) {
		/* A NAT rule for the tunnel shows the intent to route: then
		 * forwarding off is the fault, not a choice. */
		f->status = o->nat == 1 || o->nat == 3 || (v6_off && !v4_off) ? DOCTOR_FAIL : DOCTOR_WARN;
		f->cause = "forwarding_off";
		doctor_decision(f, "Clients handshake fine but reach nothing beyond this host: turn forwarding on "
				   "(sysctl -w %s=1) before chasing roaming bugs%s.",
				v4_off ? "net.ipv4.ip_forward" : "net.ipv6.conf.all.forwarding",
				o->nat == 1 ? "" : ", unless the clients only need this host");
		return;
	}
	if (o->ipv4 == 1 && o->interface_forwarding_off[0]) {
		/* ip_forward = 1 writes every interface's forwarding, but one
		 * set off later still routes nothing: the kernel asks the
		 * interface a packet came in on, so the requests (in on the
		 * tunnel) or the replies (in on the egress) die there. */
		f->status = DOCTOR_FAIL;
		f->cause = "forwarding_off";
		doctor_evidence(f, "; but %s = 0: that interface forwards nothing it receives",
				o->interface_forwarding_off);
		doctor_decision(f, "Clients handshake fine but reach nothing beyond this host: turn forwarding on for "
				   "the interface (sysctl -w %s=1), and find what set it off (a sysctl.d file, a network "
				   "manager).", o->interface_forwarding_off);
		return;
	}
	if (o->forward_drop == 1) {
		/* The clients reach this host (input) but not past it. */
		unsigned longest;

		f->status = DOCTOR_FAIL;
		f->cause = "forward_dropped";
		doctor_evidence(f, "; the forward filter drops what the clients send beyond this host: %s",
				o->forward_rule);
		if ((longest = rule_drops_longer_than(o->forward_rule))) {
			/* Small packets pass: pings and handshakes work, big
			 * transfers stall, as a path MTU would make them. */
			doctor_figure(f, "largest_passing", longest);
			doctor_decision(f, "Only packets longer than %u bytes die here: clients beyond this host see "
					   "path-MTU-like stalls (small requests work, big transfers hang). Remove the "
					   "rule or raise its limit above the tunnel's MTU (nft -a list ruleset; nft "
					   "delete rule TABLE CHAIN handle N).", longest);
			return;
		}
		doctor_decision(f, "Clients reach this host but nothing beyond it: let the tunnel through the forward "
				   "chain (nft add rule TABLE CHAIN iifname \"%s\" accept, and ct state "
				   "established,related accept for the replies; or iptables -A FORWARD -i %s -j ACCEPT).",
				r->ifname, r->ifname);
		return;
	}
	if (o->replies_dropped) {
		/* The requests leave, but the answers come in on the egress and
		 * fall to the policy: every client loses everything beyond this
		 * host, while this host's own pings (input, not forward) work. */
		f->status = DOCTOR_FAIL;
		f->cause = "forward_replies_dropped";
		doctor_evidence(f, "; the forward filter passes what the clients send but drops the replies: %s",
				o->replies_rule);
		doctor_decision(f, "Clients' requests leave but no answer comes back: accept the replies in the forward "
				   "chain (nft add rule TABLE CHAIN ct state established,related accept; or an accept "
				   "for oifname \"%s\"; iptables -A FORWARD -m conntrack --ctstate "
				   "ESTABLISHED,RELATED -j ACCEPT).", r->ifname);
		return;
	}
	if (o->nat == 2 && o->egress[0]) {
		/* The masquerade is there, for a way out the clients do not take. */
		f->status = DOCTOR_FAIL;
		f->cause = "masquerade_wrong_interface";
		doctor_evidence(f, "; forwarded traffic leaves by %s (the default route)", o->egress);
		doctor_decision(f, "Clients reach this host but not the internet: the masquerade names another output "
				   "interface; make it oifname \"%s\" (nft add rule TABLE CHAIN oifname \"%s\" ip saddr "
				   "CLIENTS masquerade).", o->egress, o->egress);
		return;
	}
	if (o->nat == 3) {
		/* The masquerade is there, for addresses the clients do not
		 * have (a tunnel subnet renumbered, a rule copied from another
		 * host): their traffic leaves with its own source and no reply
		 * finds the way back. */
		f->status = DOCTOR_FAIL;
		f->cause = "masquerade_wrong_source";
		doctor_decision(f, "Clients reach this host but not the internet: the masquerade matches a source none "
				   "of them has; make its ip saddr the clients' addresses (their AllowedIPs here), or "
				   "drop the source match (nft add rule TABLE CHAIN%s%s%s ip saddr CLIENTS masquerade).",
				o->egress[0] ? " oifname \"" : "", o->egress, o->egress[0] ? "\"" : "");
		return;
	}
	if (o->nat == 0 && o->egress[0] && o->clients_private && o->ipv4 == 1) {
		/* Private or test addresses: no network upstream routes them
		 * back here, so replies to the clients never return. */
		f->status = DOCTOR_FAIL;
		f->cause = "masquerade_missing";
		doctor_evidence(f, "; the clients' addresses are private ones nothing upstream routes back here, and "
				   "forwarded traffic leaves by %s (the default route)", o->egress);
		doctor_decision(f, "Full-tunnel clients get no answers from the internet: masquerade them on %s (nft "
				   "add rule TABLE CHAIN oifname \"%s\" ip saddr CLIENTS masquerade; or iptables -t nat "
				   "-A POSTROUTING -o %s -j MASQUERADE).", o->egress, o->egress, o->egress);
		return;
	}
	if (o->nat == 1 && o->notrack) {
		/* NAT is done by conntrack: an untracked flow passes the nat
		 * chains untouched and leaves with the client's own address. */
		f->status = DOCTOR_FAIL;
		f->cause = "nat_bypassed_notrack";
		doctor_evidence(f, "; but a notrack rule takes the clients' traffic out of connection tracking, so no "
				   "NAT applies to it: %s", o->notrack_rule);
		doctor_decision(f, "Clients' traffic leaves with their own tunnel addresses and no reply returns: "
				   "delete that notrack rule (nft -a list ruleset; nft delete rule TABLE CHAIN handle N), "
				   "or narrow it to traffic that needs no NAT.");
		return;
	}
	if (o->nat == 1 && o->snat_address[0] && o->snat_address_local == 0) {
		/* Replies come back to the SNAT address; no interface here
		 * has it, so nobody answers ARP/ND for it and they die. */
		f->status = DOCTOR_FAIL;
		f->cause = "snat_address_not_local";
		doctor_evidence(f, "; but %s is on no interface of this host, so replies to it never arrive",
				o->snat_address);
		doctor_decision(f, "Clients reach this host but not the internet: the source NAT writes an address this "
				   "host does not have (renumbered?); masquerade instead (nft add rule TABLE CHAIN "
				   "oifname \"%s\" ip saddr CLIENTS masquerade) or snat to %s's own address.",
				o->egress[0] ? o->egress : "EGRESS", o->egress[0] ? o->egress : "the egress");
		return;
	}
	if (o->lan_unreplied && o->lan_fault == LAN_HOST_UNREACHABLE) {
		lan_host_unreachable_finding(f, o);
		return;
	}
	if (o->lan_unreplied && o->lan_fault == LAN_IGNORES_CLIENT) {
		lan_host_ignores_client_finding(f, o);
		return;
	}
	if (o->lan_unreplied) {
		/* The flows leave with the clients' own addresses, and the
		 * host answers this host but not the tunnel: its replies to
		 * the tunnel's subnet go to its default gateway, not here. */
		f->status = DOCTOR_FAIL;
		f->cause = "lan_no_route_back";
		doctor_figure(f, "unreplied_flows", (double)o->lan_unreplied);
		doctor_evidence(f, "; %" PRIu64 " flow%s of the clients to %s (on %s) left without a source NAT and got "
				   "no reply, and %s answers a ping from this host's %s but not one from its tunnel "
				   "address %s", o->lan_unreplied, o->lan_unreplied == 1 ? "" : "s", o->lan_host,
				o->lan_dev, o->lan_host, o->lan_address, o->tunnel_address);
		doctor_decision(f, "Hosts on %s's network do not answer the tunnel's clients: without a masquerade they "
				   "need a route to %s via this host's %s. Add it on them or on their gateway (ip route "
				   "add %s via %s), or masquerade the tunnel subnet out of %s (nft add rule TABLE CHAIN "
				   "oifname \"%s\" ip saddr %s masquerade).", o->lan_dev, o->tunnel_net, o->lan_address,
				o->tunnel_net, o->lan_address, o->lan_dev, o->lan_dev, o->tunnel_net);
		return;
	}
	if (o->input_drop == 1) {
		/* Routed traffic passes, but what the clients send to this
		 * host itself (its DNS, its services) dies in the input
		 * chain; this host's own pings come back as established, so
		 * only a client notices. A client host drops its server's
		 * new connections by design: this is judged on hubs only. */
		f->status = DOCTOR_FAIL;
		f->cause = "input_dropped";
		doctor_evidence(f, "; the input filter drops what the clients send to this host itself: %s",
				o->input_rule);
		doctor_decision(f, "Clients reach the internet through this host but not this host's own services (its "
				   "DNS, SSH on its tunnel address): accept the tunnel in the input chain (nft add rule "
				   "TABLE CHAIN iifname \"%s\" accept; or iptables -A INPUT -i %s -j ACCEPT), or only "
				   "the ports it should offer them.", r->ifname, r->ifname);
		return;
	}
	if (o->nat == 0) {
		f->status = DOCTOR_WARN;
		doctor_decision(f, "Full-tunnel clients reach the internet only if the network routes the tunnel's "
				   "addresses back here; otherwise add a masquerade for them (\"VPN drops sites\").");
	}
}

/* ---- routes ------------------------------------------------------------ */

/* An AllowedIPs prefix that is this host's own LAN: adding the route
 * into the tunnel (route_missing's fix) would take the gateway with it. */
static void local_network_finding(struct doctor_finding *f, const struct routes_observation *o)
{
	f->cause = "allowed_ips_local_network";
	doctor_figure(f, "local_networks", (double)o->n_local_networks);
	doctor_evidence(f, "the AllowedIPs %s %s the network this host is connected to on %s (its address %s there)",
			o->local_prefix, o->n_local_networks == 1 ? "overlap" : "and others overlap", o->local_dev,
			o->local_subnet);
	doctor_evidence(f, ": it stays routed there, not into the tunnel");
	doctor_decision(f, "Do not route it into the tunnel: that would cut this host off its LAN and its "
			   "gateway. Remove %s from the peer's AllowedIPs, or name only the remote hosts you need "
			   "there (a more specific prefix that is not on the local LAN); if the remote network really "
			   "uses the same addresses, one side must renumber.", o->local_prefix);
}

/* Another interface (a leftover tunnel, most often) holds an address in
 * this tunnel's own network, and its route wins: the replies to the peers
 * go there. Removing the peers' addresses from AllowedIPs (the LAN's fix)
 * would cut them off; the other interface's address is what must go. */
static void tunnel_network_elsewhere_finding(struct doctor_report *r, struct doctor_finding *f,
					     const struct routes_observation *o)
{
	f->cause = "tunnel_network_elsewhere";
	doctor_evidence(f, "%s also holds %s, this tunnel's own network (Address %s on %s): %s routes there, and "
			   "the replies to the peers go there", o->local_dev, o->local_subnet, o->tunnel_network,
			r->ifname, o->local_prefix);
	if (o->local_kind[0])
		doctor_evidence(f, "; %s is another tunnel (%s)", o->local_dev, o->local_kind);
	doctor_decision(f, "Take the address off %s: ip addr del %s dev %s", o->local_dev, o->local_subnet,
			o->local_dev);
	if (o->local_kind[0])
		doctor_decision(f, ", or, as it is another tunnel (a leftover?), delete it: ip link del %s (and stop "
				   "its daemon)", o->local_dev);
	else
		doctor_decision(f, "; if %s is a LAN that really uses these addresses, one of the two must renumber",
				o->local_dev);
	doctor_decision(f, ". Keep %s in the peer's AllowedIPs: removing it cuts the peer off.", o->local_prefix);
}

/* A full tunnel's policy rule is gone (deleted by hand, or by a tool that
 * flushed the rules): the routes are all in table T, so adding routes
 * (route_missing's fix) is wrong; the rule is what is missing. */
static void policy_rule_finding(struct doctor_report *r, struct doctor_finding *f, const struct routes_observation *o)
{
	char v = o->rule_family == AF_INET6 ? '6' : '4';

	f->status = DOCTOR_FAIL;
	f->cause = "policy_rule_missing";
	doctor_figure(f, "table", o->table);
	doctor_figure(f, "fwmark", o->fwmark);
	if (o->not_marked_rule_missing) {
		doctor_evidence(f, "a full tunnel: the AllowedIPs' routes are in table %u and the daemon marks its "
				   "datagrams %#x, but the rule `not from all fwmark %#x lookup %u` is gone (ip -%c rule "
				   "show)%s: nothing sends the traffic there", o->table, o->fwmark, o->fwmark, o->table, v,
				o->main_first_rule_missing ? ", and `lookup main suppress_prefixlength 0` too" : "");
		for (size_t i = 0; i < o->n_shown; i++)
			if (!o->misses[i].overridden) {
				doctor_evidence(f, "; %zu of %zu AllowedIPs leave elsewhere: %s -> %s", o->n_misses,
						o->checked, o->misses[i].prefix, o->misses[i].goes);
				break;
			}
		doctor_decision(f, "Traffic bypasses the tunnel (a leak): put the rule back, ip -%c rule add not fwmark "
				   "%u table %u", v, o->fwmark, o->table);
		if (o->main_first_rule_missing)
			doctor_decision(f, "; ip -%c rule add table main suppress_prefixlength 0", v);
		doctor_decision(f, "; or roam down %s; roam up %s, which adds the rules. Do not add routes to the "
				   "main table.", r->ifname, r->ifname);
		return;
	}
	doctor_evidence(f, "a full tunnel: the rule `not from all fwmark %#x lookup %u` is there, but `from all lookup "
			   "main suppress_prefixlength 0` is gone (ip -%c rule show): every unmarked packet goes by "
			   "table %u, whose default route leads into %s, and the main table's own routes are never "
			   "read", o->fwmark, o->table, v, o->table, r->ifname);
	if (o->lan_prefix[0])
		doctor_evidence(f, "; %s on %s (this host's own network) now goes into the tunnel", o->lan_prefix,
				o->lan_dev);
	doctor_decision(f, "The tunnel works, but this host's own networks do not (the LAN's printer, its "
			   "gateway's services, a LAN DNS: their traffic goes to the peer): put the rule back, ip -%c "
			   "rule add table main suppress_prefixlength 0; or roam down %s; roam up %s.", v, r->ifname,
			r->ifname);
}

/* The config's Address is no longer on the interface (a network manager
 * flushed it, or ip addr flush): put the address back, not the routes. */
static void address_missing_finding(struct doctor_report *r, struct doctor_finding *f,
				    const struct routes_observation *o)
{
	size_t shown = o->n_addresses_missing < ROUTES_ADDRESSES_SHOWN ? o->n_addresses_missing
								       : ROUTES_ADDRESSES_SHOWN;

	f->status = DOCTOR_FAIL;
	f->cause = "address_missing";
	doctor_figure(f, "addresses_missing", (double)o->n_addresses_missing);
	doctor_evidence(f, "the config's Address ");
	for (size_t i = 0; i < shown; i++)
		doctor_evidence(f, "%s%s", i ? ", " : "", o->addresses_missing[i]);
	if (shown < o->n_addresses_missing)
		doctor_evidence(f, ", ...");
	doctor_evidence(f, " %s not on %s (ip addr show dev %s): the routes that came with %s are gone, and this "
			   "host's own packets to the peers leave with another source",
			o->n_addresses_missing == 1 ? "is" : "are", r->ifname, r->ifname,
			o->n_addresses_missing == 1 ? "it" : "them");
	doctor_decision(f, "Put the address back:");
	for (size_t i = 0; i < shown; i++)
		doctor_decision(f, "%s ip addr add %s dev %s", i ? ";" : "", o->addresses_missing[i], r->ifname);
	doctor_decision(f, "; or roam down %s; roam up %s. Adding routes alone does not fix it. If a network "
			   "manager removed it, make it leave %s alone (unmanaged).", r->ifname, r->ifname, r->ifname);
}

void judge_routes(struct doctor_report *r, const struct routes_observation *o)
{
	struct doctor_finding *f = doctor_add(r, "routes", NULL);

	doctor_figure(f, "checked", (double)o->checked);
	doctor_figure(f, "misrouted", (double)o->n_misses);
	if (!o->total) {
		f->status = DOCTOR_SKIP;
		doctor_evidence(f, "no AllowedIPs to route");
		return;
	}
	if (o->ipv6_disabled) {
		/* First: every IPv6 route into the interface is missing for
		 * this one reason, and adding them fails ("IPv6 is disabled
		 * on nexthop device"). */
		f->status = DOCTOR_FAIL;
		f->cause = "ipv6_disabled";
		doctor_evidence(f, "IPv6 is disabled on %s (net.ipv6.conf.%s.disable_ipv6 = 1): ", r->ifname,
				r->ifname);
		if (o->ipv6_address[0])
			doctor_evidence(f, "its IPv6 Address %s is gone", o->ipv6_address);
		else
			doctor_evidence(f, "its IPv6 addresses are gone");
		doctor_evidence(f, ", and no IPv6 route can go into it");
		doctor_decision(f, "Turn IPv6 back on for the interface (sysctl -w net.ipv6.conf.%s.disable_ipv6=0; "
				   "and find what set it, a hardening script or a sysctl.d file), then roam down/up the "
				   "tunnel (or re-add the address: ip addr add %s dev %s) to get its IPv6 address and "
				   "routes back.", r->ifname, o->ipv6_address[0] ? o->ipv6_address : "ADDRESS",
				r->ifname);
		return;
	}
	if (o->n_addresses_missing) {
		/* Next: the routes that went with the address are gone, and
		 * adding them back leaves this host's own packets without
		 * their source (the peer drops them). */
		address_missing_finding(r, f, o);
		return;
	}
	if (o->not_marked_rule_missing || o->main_first_rule_missing) {
		policy_rule_finding(r, f, o);
		return;
	}
	if (!o->n_misses && !o->n_overridden) {
		doctor_evidence(f, "all %zu AllowedIPs of %zu peer%s route into %s", o->checked, o->n_peers,
				o->n_peers == 1 ? "" : "s", r->ifname);
		if (o->checked < o->total)
			doctor_evidence(f, " (the first %zu of %zu checked)", o->checked, o->total);
		return;
	}
	f->status = DOCTOR_FAIL;
	if (o->n_local_networks && o->tunnel_network[0]) {
		tunnel_network_elsewhere_finding(r, f, o);
		return;
	}
	if (o->n_local_networks) {
		local_network_finding(f, o);
		return;
	}
	if (o->n_misses) {
		f->cause = "route_missing";
		doctor_evidence(f, "%zu of %zu AllowedIPs do not route into %s: ", o->n_misses, o->checked,
				r->ifname);
	} else {
		/* Each prefix's own route is there, yet addresses inside leave
		 * elsewhere: something more specific wins. */
		f->cause = "route_overridden";
		doctor_figure(f, "overridden", (double)o->n_overridden);
		doctor_evidence(f, "the AllowedIPs route into %s, but %zu address%s inside do%s not: ", r->ifname,
				o->n_overridden, o->n_overridden == 1 ? "" : "es", o->n_overridden == 1 ? "es" : "");
	}
	size_t shown = 0;
	for (size_t i = 0; i < o->n_shown; i++)
		if (o->misses[i].overridden == !o->n_misses)
			doctor_evidence(f, "%s%s -> %s", shown++ ? ", " : "", o->misses[i].prefix, o->misses[i].goes);
	if (shown < (o->n_misses ? o->n_misses : o->n_overridden))
		doctor_evidence(f, ", ...");
	if (o->n_misses)
		doctor_decision(f, "Traffic for them leaves elsewhere: add routes via %s (roam up and wg-quick do; by "
				   "hand ip route add PREFIX dev %s), or the AllowedIPs are not what you meant.",
				r->ifname, r->ifname);
	else
		doctor_decision(f, "A more specific route or a policy rule takes them out of the tunnel (see ip route "
				   "get ADDRESS, ip rule show): remove it, or add a route for them via %s in the table "
				   "the tunnel uses.", r->ifname);
}

/* ---- mtu --------------------------------------------------------------- */

static bool first_host_of_subnet(const struct ip_prefix *own, struct ip_prefix *out)
{
	size_t alen = own->family == AF_INET ? 4 : 16;

	if (is_host_prefix(own) || (size_t)own->cidr + 2 > alen * 8)
		return false;
	*out = *own;
	ip_prefix_mask(out);
	out->cidr = (uint8_t)(alen * 8);
	out->addr[alen - 1] |= 1;
	return memcmp(out->addr, own->addr, alen) != 0;
}

static bool inside_peer(const struct uapi_peer *peer, const struct ip_prefix *addr)
{
	for (size_t i = 0; i < peer->n_allowed_ips; i++)
		if (ip_prefix_contains(&peer->allowed_ips[i], addr))
			return true;
	return false;
}

static bool one_of_ours(const struct probe_candidates *c, const struct ip_prefix *addr)
{
	size_t alen = addr->family == AF_INET ? 4 : 16;

	for (size_t o = 0; o < c->n_own; o++)
		if (c->own[o].family == addr->family && !memcmp(c->own[o].addr, addr->addr, alen))
			return true;
	return false;
}

const char *doctor_probe_address(const struct uapi_peer *peer, const struct probe_candidates *c,
				 struct ip_prefix *out)
{
	for (size_t g = 0; g < c->n_given; g++)
		if (inside_peer(peer, &c->given[g])) {
			*out = c->given[g];
			return "--probe";
		}
	for (int family = AF_INET; family; family = family == AF_INET ? AF_INET6 : 0)
		for (size_t i = 0; i < peer->n_allowed_ips; i++)
			if (peer->allowed_ips[i].family == family && is_host_prefix(&peer->allowed_ips[i])) {
				*out = peer->allowed_ips[i];
				return "allowed_ips";
			}
	/* A DNS server through this peer is a host that is surely there. */
	for (size_t d = 0; d < c->n_dns; d++) {
		struct ip_prefix host = c->dns[d];

		host.cidr = (uint8_t)(host.family == AF_INET ? 32 : 128);
		if ((host.family == AF_INET || host.family == AF_INET6) && inside_peer(peer, &host) &&
		    !one_of_ours(c, &host)) {
			*out = host;
			return "dns";
		}
	}
	for (int family = AF_INET; family; family = family == AF_INET ? AF_INET6 : 0)
		for (size_t o = 0; o < c->n_own; o++) {
			struct ip_prefix host;

			/* A link-local network's first host (fe80::1, 169.254.0.1)
			 * is nobody's address through a tunnel. */
			if (c->own[o].family != family || ip_addr_is_link_local(&c->own[o]) ||
			    !first_host_of_subnet(&c->own[o], &host) || one_of_ours(c, &host))
				continue;
			if (inside_peer(peer, &host)) {
				*out = host;
				return "address_prefix";
			}
		}
	return NULL;
}

bool doctor_probe_target_guessed(const char *source)
{
	return source && (!strcmp(source, "dns") || !strcmp(source, "address_prefix"));
}

/* Where the address pinged came from, in the evidence when doctor guessed
 * it (the operator should know it may be nobody's). */
void doctor_note_probe_target(struct doctor_finding *f, const char *source)
{
	f->probe_target_source = source;
	if (!doctor_probe_target_guessed(source))
		return;
	doctor_evidence(f, " (target guessed from %s, since the peer's AllowedIPs hold no single address)",
			!strcmp(source, "dns") ? "a DNS server of the interface" : "this interface's Address prefix");
}

/* What roamd itself uses for the peer's path (docs/path-mtu.md): the
 * outer bytes and where they came from, and its last path search. */
static void note_path_mtu(struct doctor_finding *f, const struct uapi_peer *peer)
{
	if (!peer->path_mtu_origin[0])
		return;	/* not roamd */
	const char *probe = peer->path_probe[0] ? peer->path_probe : "none";
	if (peer->path_mtu) {
		doctor_figure(f, "path_mtu", peer->path_mtu);
		doctor_evidence(f, "roamd fits packets to this peer's path: %u bytes outer (from %s), inner packets up to "
				   "%u; last path probe: %s",
				peer->path_mtu, peer->path_mtu_origin, peer->path_inner_mtu, probe);
	} else {
		doctor_evidence(f, "roamd's path MTU for this peer: the interface's (nothing smaller learnt); last path "
				   "probe: %s",
				probe);
	}
}

void judge_mtu(struct doctor_report *r, const struct peer_observation *p, bool skipped,
	       const struct mtu_observation *o)
{
	struct doctor_finding *f = doctor_add(r, "mtu", p->peer->public_key);
	/* What roamd knows of the path now, after doctor's probes. */
	const struct uapi_peer *path = o->path_after ? o->path_after : p->peer;
	char a[IP_PREFIX_STRLEN];

	note_path_mtu(f, path);

	/* After roamd's own path MTU, if note_path_mtu said it. */
	const char *sep = f->evidence[0] ? "; " : "";

	if (skipped) {
		f->status = DOCTOR_SKIP;
		doctor_evidence(f, "%snot judged: no handshake (see handshake)", sep);
		return;
	}
	if (o->not_judged) {
		f->status = DOCTOR_SKIP;
		doctor_evidence(f, "%snot judged: small packets do not pass either (see %s)", sep, o->not_judged);
		return;
	}
	if (o->ping_ignored) {
		f->status = DOCTOR_SKIP;
		doctor_evidence(f, "%snot probed: the peer ignores ping (see datapath), and the path is measured with "
				   "pings", sep);
		return;
	}
	if (!o->has_address) {
		f->status = DOCTOR_SKIP;
		doctor_evidence(f, "%sno address of the peer to ping: its AllowedIPs hold no single address", sep);
		doctor_decision(f, "Name one with --probe ADDRESS.");
		return;
	}
	if (o->over_limit) {
		f->status = DOCTOR_SKIP;
		doctor_evidence(f, "%snot probed: doctor pings at most %d peers a run", sep, DOCTOR_MTU_PEERS_MAX);
		doctor_decision(f, "Name its tunnel address with --probe ADDRESS to probe it.");
		return;
	}
	ip_addr_str(&o->address, a);
	f->probe_target_source = o->target_source;
	doctor_figure(f, "interface_mtu", o->interface_mtu);
	if (o->error) {
		f->status = DOCTOR_WARN;
		doctor_evidence(f, "%scannot ping %s: %s", sep, a, strerror(-o->error));
		return;
	}
	if (!o->reachable) {
		f->status = DOCTOR_WARN;
		doctor_evidence(f, "%s%s answers no ping through the tunnel", sep, a);
		doctor_decision(f, "The peer may drop ICMP or not route the reply back; name another address with "
				   "--probe, or test with a TCP connection.");
		return;
	}
	doctor_figure(f, "largest_packet", o->largest);
	doctor_figure(f, "rtt_ms", (double)o->rtt_us / 1000);
	if (o->largest >= (int)o->interface_mtu) {
		doctor_evidence(f, "%s%d-byte packets reach %s unfragmented, the interface MTU (%u probes; rtt %.1f ms)",
				sep, o->largest, a, o->probes, (double)o->rtt_us / 1000);
		return;
	}
	/* roamd already answers bigger inner packets with "fragmentation
	 * needed" for this path: transfers adapt. Doctor's pings then stop at
	 * roamd's own fit and cannot see past it, so their largest says
	 * nothing more about the path: no MTU to recommend. */
	bool fitted = path->path_mtu && path->path_inner_mtu <= (unsigned)o->largest;
	f->status = fitted ? DOCTOR_WARN : DOCTOR_FAIL;
	f->cause = "path_mtu";
	if (fitted) {
		doctor_evidence(f, "%sthe largest packet that reaches %s is %d bytes, the size roamd fits packets to (%u "
				   "probes with don't-fragment pings; they cannot see past that fit)",
				sep, a, o->largest, o->probes);
		doctor_decision(f, "Nothing must change: transfers work, roamd answers larger packets with "
				   "'fragmentation needed'. It measures the path again itself (after a roam, after "
				   "silence, and 10 minutes after its last measure), so a path that grew back is used "
				   "again.");
		return;
	}
	/* roamd's own search found full-size datagrams crossing the outer
	 * path to the peer: what eats the bigger inner packets is at the peer
	 * or behind it (a filter by length, a smaller link there). */
	bool outer_full = !strcmp(path->path_probe, "full");

	doctor_evidence(f, "%sthe largest packet that reaches %s unfragmented is %d bytes, but the interface MTU is "
			   "%u: bigger packets vanish %s (%u probes with don't-fragment pings)",
			sep, a, o->largest, o->interface_mtu,
			outer_full ? "at or behind the peer, since roamd's outer path probe found the full size passing"
				   : "on the path",
			o->probes);
	if (outer_full) {
		doctor_decision(f, "Packets longer than %d bytes die at or behind the peer, not between the two hosts: a "
				   "filter dropping by length there (meta length > %d in a forward or input chain) or "
				   "a smaller link behind it. Run roam doctor on the peer. Only as a workaround: set "
				   "MTU = %d on this interface and the peer%s.",
				o->largest, o->largest, o->largest,
				o->largest < 1280 ? " (below 1280 IPv6 cannot run inside)" : "");
		return;
	}
	/* Not fitted: roamd fits nothing smaller, or more than passed, so
	 * what passed is never more than roamd says fits the path. */
	doctor_decision(f, "Small requests work and big transfers stall: set MTU = %d on this interface and "
			   "the peer%s.",
			o->largest, o->largest < 1280 ? " (below 1280 IPv6 cannot run inside: fix the path instead)" : "");
}

/* ---- dns --------------------------------------------------------------- */

/* SERVFAIL (2) and REFUSED (5) answer, but resolve nothing. */
static bool dns_rcode_refuses(int rcode)
{
	return rcode == 2 || rcode == 5;
}

static const char *dns_rcode_name(int rcode)
{
	return rcode == 2 ? "SERVFAIL" : rcode == 5 ? "REFUSED" : "an error";
}

void judge_system_resolver(struct doctor_report *r, const struct resolver_observation *o)
{
	struct doctor_finding *f = doctor_add(r, "dns", NULL);
	char a[IP_PREFIX_STRLEN];
	size_t serving = 0;

	snprintf(f->subject, sizeof(f->subject), "system resolver");
	if (!o->n_servers) {
		f->status = DOCTOR_SKIP;
		doctor_evidence(f, "%s names no nameserver", o->path);
		return;
	}
	if (o->stub_asked && o->stub_answered != 1) {
		/* Every lookup goes to a resolver that is not there. */
		ip_addr_str(&o->servers[o->stub_index], a);
		f->status = DOCTOR_FAIL;
		f->cause = "local_resolver_down";
		doctor_evidence(f, "%s names a local stub resolver, and nothing answers DNS at %s port 53 (%s)",
				o->path, a, o->stub_answered == 0 ? "no answer, or the port is closed" : "could not ask");
		doctor_decision(f, "Name lookups on this host fail: start the local resolver (systemd-resolved, "
				   "dnsmasq), or point %s at the tunnel's DNS (nameserver %s).", o->path,
				o->tunnel_dns);
		return;
	}
	if (o->stub && o->link_asked && !o->link_names_tunnel_dns) {
		/* systemd-resolved answers, but not with the tunnel's DNS. */
		f->status = DOCTOR_WARN;
		f->cause = "resolver_not_tunnel_dns";
		doctor_evidence(f, "%s names a local stub resolver, and resolvectl dns %s names none of the tunnel's DNS "
				   "(%s): lookups go to the other links' servers", o->path, r->ifname, o->tunnel_dns);
		doctor_decision(f, "Give the link its DNS: resolvectl dns %s %s; resolvectl domain %s '~.' to send "
				   "all lookups there (roam up does both for a full tunnel, without --no-dns).", r->ifname, o->tunnel_dns,
				r->ifname);
		return;
	}
	if (o->names_tunnel_dns || o->stub) {
		doctor_evidence(f, "%s names %s", o->path,
				o->stub ? "a local stub resolver (the tunnel's DNS is judged from its servers above)"
					: "the tunnel's DNS server");
		return;
	}
	doctor_evidence(f, "%s names ", o->path);
	for (size_t i = 0; i < o->n_servers; i++) {
		ip_addr_str(&o->servers[i], a);
		bool serves = o->answered[i] == 1 && (!dns_rcode_refuses(o->rcode[i]) || o->own_names_answered[i]);

		serving += serves;
		doctor_evidence(f, "%s%s (%s)", i ? ", " : "", a,
				serves ? "answers" : o->answered[i] == 1 ? dns_rcode_name(o->rcode[i]) : "no answer");
	}
	doctor_evidence(f, ", not the tunnel's DNS %s: name lookups on this host do not ask it", o->tunnel_dns);
	f->cause = "resolver_not_tunnel_dns";
	f->status = serving ? DOCTOR_WARN : DOCTOR_FAIL;
	doctor_figure(f, "servers_answering", (double)serving);
	doctor_decision(f, "%sPut nameserver %s into %s (roam up does it without --no-dns; or resolvconf, or "
			   "resolvectl dns %s %s), and stop the DHCP client or tool that rewrote it.",
			serving ? "" : "Name lookups fail: ", o->tunnel_dns, o->path, r->ifname, o->tunnel_dns);
}

/* A resolver behind the peer (its LAN, or the internet of a full tunnel)
 * is reached only if the peer forwards the queries and routes or NATs the
 * answers back: the resolver listening on the tunnel is not the point. */
static void dns_behind_peer_decision(struct doctor_finding *f, const struct dns_observation *o, const char *a)
{
	doctor_evidence(f, "; it is not the peer's own address%s%s%s but a host behind the peer, reached through its "
			   "forwarding", o->peer_address[0] ? " (" : "", o->peer_address,
			o->peer_address[0] ? ")" : "");
	if (o->pinged == 1) {
		doctor_evidence(f, "; that host answers a ping through the tunnel");
		doctor_decision(f, "The peer forwards to %s and the host there answers ping, but not DNS: its "
				   "resolver is not running or does not listen on %s, or a filter drops UDP 53 on that "
				   "host (or on the peer's forward path). Check the resolver on %s and its firewall for "
				   "port 53; roam doctor on the peer shows its forward filter and NAT.", a, a, a);
		return;
	}
	if (o->pinged == 0)
		doctor_evidence(f, ", nor a ping through the tunnel");
	doctor_decision(f, "Look at the peer, not at a resolver on the tunnel: the peer must forward the queries to %s "
			   "and bring the answers back. Run roam doctor on the peer (its forwarding check): its IP "
			   "forwarding, its forward filter for %s UDP 53, and its NAT (a masquerade for this host's "
			   "tunnel address) or a route back from %s's network; if all that is right, check that a "
			   "resolver is at %s (the DNS= address).", a, a, a, a);
}

/* UDP answered; answers too big for it (truncated: DNSSEC, many records)
 * are asked again over TCP, so TCP 53 must pass too. */
static void judge_dns_over_tcp(struct doctor_finding *f, const struct dns_observation *o, const char *a)
{
	switch (o->tcp) {
	case DNS_TCP_NO_CONNECTION:
		f->status = DOCTOR_FAIL;
		f->cause = "dns_tcp_blocked";
		doctor_evidence(f, "; over TCP 53 the connection got no answer within 1 s");
		doctor_decision(f, "DNS over TCP to %s times out while UDP answers: answers too big for UDP "
				   "(DNSSEC, many records) fail. A filter drops TCP 53 on the way (here, or at the peer: "
				   "its forward or input filter; roam doctor there quotes it): allow TCP 53 wherever UDP "
				   "53 is allowed.", a);
		return;
	case DNS_TCP_REFUSED:
		f->status = DOCTOR_WARN;
		f->cause = "dns_tcp_refused";
		doctor_evidence(f, "; a connection to its TCP 53 is refused (a reset)");
		doctor_decision(f, "%s does not take DNS over TCP: answers too big for UDP (DNSSEC, many records) "
				   "fail. Make its resolver listen on TCP 53 too, or remove the filter that rejects it.",
				a);
		return;
	case DNS_TCP_NO_ANSWER:
		doctor_evidence(f, "; over TCP 53 it took the connection but did not answer within 1 s");
		return;
	case DNS_TCP_ANSWERED:
		doctor_evidence(f, "; over TCP 53 too");
		return;
	case DNS_TCP_NOT_TRIED:
	case DNS_TCP_ERROR:
		return;
	}
}

void judge_dns(struct doctor_report *r, const struct dns_observation *o)
{
	struct doctor_finding *f = doctor_add(r, "dns", o->inside_peer);
	char a[IP_PREFIX_STRLEN];

	ip_addr_str(&o->server, a);
	snprintf(f->subject, sizeof(f->subject), "dns %s", a);
	if (o->not_judged) {
		/* The resolver is not to blame while the way to it is broken. */
		f->status = DOCTOR_SKIP;
		doctor_evidence(f, "not judged: the way to %s (%s) is broken (see %s)", a, o->source, o->not_judged);
		return;
	}
	if (!o->inside_peer) {
		f->status = DOCTOR_FAIL;
		f->cause = "dns_outside_allowed_ips";
		if (!strcmp(o->route_dev, r->ifname))
			doctor_evidence(f, "%s (%s) is outside every peer's AllowedIPs, yet routed into %s: the daemon "
					   "has no peer to send its queries to and drops them (no_route)", a, o->source,
					r->ifname);
		else
			doctor_evidence(f, "%s (%s) is outside every peer's AllowedIPs: its queries leave by %s, not "
					   "through the tunnel", a, o->source, o->route_dev[0] ? o->route_dev : "no route");
		doctor_evidence(f, o->answered == 1 ? ", and it answers there" : ", and get no answer");
		doctor_decision(f, "Put %s inside the AllowedIPs of the peer that serves it, or use the tunnel's "
				   "DNS server (\"VPN says connected, but DNS is broken\").", a);
		return;
	}
	if (o->answered == 1 && dns_rcode_refuses(o->rcode) && o->own_names_answered) {
		/* It resolves what it holds itself: a forwarder without an
		 * upstream (REFUSED) serves its own names; one whose upstream
		 * fails (SERVFAIL) resolves nothing else. */
		doctor_figure(f, "rcode", o->rcode);
		doctor_evidence(f, "%s (%s) is inside the peer's AllowedIPs and answers its own names (localhost), but "
				   "%s a query for the root's name servers (rcode %d)", a, o->source,
				o->rcode == 5 ? "refuses" : "fails", o->rcode);
		if (o->rcode == 2) {
			f->status = DOCTOR_WARN;
			f->cause = "dns_refused";
			doctor_decision(f, "The resolver at %s cannot reach its upstream: names beyond its own fail. "
					   "Check its upstream servers.", a);
		}
		return;
	}
	if (o->answered == 1 && dns_rcode_refuses(o->rcode)) {
		/* An answer that says no is no service. REFUSED to both may
		 * still be a resolver that serves only names it was given (no
		 * upstream, no hosts file): doctor cannot know those names, so
		 * that is a WARN; SERVFAIL to both is a broken resolver. */
		bool refused = o->rcode == 5;

		f->status = refused ? DOCTOR_WARN : DOCTOR_FAIL;
		f->cause = "dns_refused";
		doctor_figure(f, "rcode", o->rcode);
		doctor_evidence(f, "%s (%s) is inside the peer's AllowedIPs and answers, but with rcode %d (%s) to a "
				   "query for the root's name servers, and to one for localhost", a, o->source, o->rcode,
				dns_rcode_name(o->rcode));
		doctor_decision(f, "%s resolver at %s %s: allow the tunnel's addresses in its access list "
				   "(allow-query, access-control), and give it a working upstream.",
				refused ? "If name lookups fail, the" : "The", a,
				refused ? "refuses this host's queries, or serves only the names it was given"
					: "fails every query");
		return;
	}
	if (o->answered == 1) {
		doctor_evidence(f, "%s (%s) is inside the peer's AllowedIPs and answered in %.1f ms (rcode %d)", a,
				o->source, (double)o->rtt_us / 1000, o->rcode);
		doctor_figure(f, "rtt_ms", (double)o->rtt_us / 1000);
		judge_dns_over_tcp(f, o, a);
		return;
	}
	f->status = DOCTOR_FAIL;
	if (o->answered == 0 && o->own_names_answered) {
		/* Something listens and answers what it holds itself: the
		 * resolver runs, its way out to the names it forwards does not. */
		f->cause = "dns_upstream_down";
		doctor_evidence(f, "%s (%s) is inside the peer's AllowedIPs and answers its own names (localhost) "
				   "at once, but not a query for the root's name servers (no answer on UDP 53)", a,
				o->source);
		doctor_decision(f, "%s answers for its own names but not for names it must forward: its upstream "
				   "(forwarders) are unreachable or down. Check on that host the resolver's upstream "
				   "servers (dnsmasq --server, resolv.conf, forwarders) and its route to them.", a);
		return;
	}
	f->cause = "dns_no_answer";
	doctor_evidence(f, "%s (%s) is inside the peer's AllowedIPs but %s", a, o->source,
			o->answered == 0 ? "does not answer on UDP 53" : "could not be asked");
	if (o->pinged >= 0)
		doctor_figure(f, "ping_answered", o->pinged);
	if (o->behind_peer) {
		dns_behind_peer_decision(f, o, a);
		return;
	}
	if (o->pinged == 0) {
		/* The tunnel works (else not judged), yet nothing at that
		 * address answers a ping either: most often no host is there. */
		doctor_evidence(f, ", nor a ping through the tunnel");
		doctor_decision(f, "Nothing answers at %s: no host there? Check the DNS= address (a typo, or the "
				   "resolver moved); if a host is there, its firewall drops what comes from the tunnel.",
				a);
		return;
	}
	if (o->pinged == 1)
		doctor_evidence(f, "; the host answers a ping through the tunnel");
	doctor_decision(f, "If pings by address work and names fail, it is DNS: the resolver may listen only on "
			   "its LAN address; make it listen on the tunnel and accept queries from it.");
}

/* ---- clock ------------------------------------------------------------- */

void judge_clock(struct doctor_report *r, int error, bool synced, long max_error_us, uint64_t stale_timestamps)
{
	struct doctor_finding *f = doctor_add(r, "clock", NULL);

	if (error) {
		f->status = DOCTOR_WARN;
		doctor_evidence(f, "the clock's state cannot be read: %s", strerror(-error));
		return;
	}
	doctor_figure(f, "max_error_ms", (double)max_error_us / 1000);
	if (synced)
		doctor_evidence(f, "the system clock is synchronised (max error %.1f ms)", (double)max_error_us / 1000);
	else
		doctor_evidence(f, "the system clock is not synchronised (no NTP discipline)");
	if (stale_timestamps)
		doctor_evidence(f, "; %" PRIu64 " initiations were refused as older than an accepted one",
				stale_timestamps);
	if (!synced || stale_timestamps) {
		f->status = DOCTOR_WARN;
		doctor_decision(f, "Turn NTP on (timedatectl set-ntp true): a clock that jumps back makes peers "
				   "refuse this host's handshakes until it catches up.");
	}
}
