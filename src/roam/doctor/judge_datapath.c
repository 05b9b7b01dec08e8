/* roam doctor's datapath judge: a fresh handshake says the keys agree, not
 * that packets get through. A few pings through the tunnel, and the
 * daemon's counters read before and after, tell where unanswered ones died:
 * refused on this host, dropped by the daemon for a cause it counts, come
 * back but not delivered, or never answered by the peer. */
#include "doctor.h"

#include <errno.h>
#include <inttypes.h>
#include <sys/socket.h>
#include <string.h>

/* Drops the daemon counts while receiving, each with what it means for a
 * data path whose handshake is fresh and what to change; the first that
 * grew while doctor pinged is the cause. */
static const struct {
	const char *reason, *meaning, *decision;
} receive_causes[] = {
	{ "disallowed_src", "came from a peer with an inner source address outside that peer's AllowedIPs",
	  "A peer sends from an address this host does not accept from it: put the peer's tunnel address "
	  "(its Address) into its AllowedIPs here, or correct the Address on the peer." },
	{ "unknown_index", "arrived for a session this host does not have (the peer uses keys from before a "
			   "restart or a key change)",
	  "The peer keeps sending on a session this host forgot: restart the tunnel on the peer (roam down/up), "
	  "and check that it has this host's current public key." },
	{ "bad_auth", "failed authentication (wrong session keys or corrupted on the way)",
	  "The data does not authenticate: restart the tunnel on both sides; if it persists, something "
	  "rewrites the packets on the way." },
	{ "key_expired", "used a session past its lifetime",
	  "The peer does not rekey: restart the tunnel on the peer." },
	{ "replay", "were replays or far out of order",
	  "Packets are duplicated or heavily reordered on the way, or replayed: check the path." },
	{ "bad_inner", "decrypted to no sane IP packet",
	  "The peer sends garbage inside the tunnel: check the peer's software." },
};
enum { N_RECEIVE_CAUSES = sizeof(receive_causes) / sizeof(receive_causes[0]) };

/* The peer other than peer whose AllowedIPs hold addr, and the prefix. */
static const struct uapi_peer *allowed_ips_owner(const struct uapi_device *dev, const struct uapi_peer *peer,
						 const struct ip_prefix *addr, const struct ip_prefix **held)
{
	for (size_t i = 0; dev && i < dev->n_peers; i++) {
		const struct uapi_peer *q = &dev->peers[i];

		for (size_t j = 0; q != peer && j < q->n_allowed_ips; j++)
			if (ip_prefix_contains(&q->allowed_ips[j], addr)) {
				*held = &q->allowed_ips[j];
				return q;
			}
	}
	return NULL;
}

/* The refused inner source the daemon names is no tunnel address of the
 * peer's: a link-local one (the peer's tun sends IPv6 router solicitations
 * and MLD from fe80::) or the peer's own endpoint address (a host that
 * sources its own traffic from its public address into the tunnel). Such
 * drops are harmless noise: they never make a cause, nor a prefix to add. */
static const char *refused_source_not_tunnel(const struct uapi_peer *peer)
{
	struct ip_prefix at;

	if (!peer->has_last_disallowed_src)
		return NULL;
	if (ip_addr_is_link_local(&peer->last_disallowed_src))
		return "a link-local address";
	if (peer->endpoint[0] && doctor_endpoint_address(peer->endpoint, &at) &&
	    at.family == peer->last_disallowed_src.family &&
	    !memcmp(at.addr, peer->last_disallowed_src.addr, at.family == AF_INET ? 4 : 16))
		return "the peer's own endpoint address";
	return NULL;
}

/* Which inner source the daemon refused, when it says (roamd does). When
 * another peer holds it, adding it here would take it from that peer (the
 * same prefix moves: WireGuard keeps it on one peer; a more specific one
 * wins the routing): the conflict is named instead of that fix. */
static void disallowed_source_text(struct doctor_finding *f, const struct uapi_peer *peer,
				   const struct uapi_device *dev)
{
	char a[IP_PREFIX_STRLEN], held_text[IP_PREFIX_STRLEN], key[KEY_B64_LEN + 1];
	const struct ip_prefix *held = NULL;
	const struct uapi_peer *owner;
	int bits = peer->last_disallowed_src.family == AF_INET ? 32 : 128;
	const char *not_tunnel = refused_source_not_tunnel(peer);

	if (!peer->has_last_disallowed_src)
		return;
	ip_addr_str(&peer->last_disallowed_src, a);
	doctor_evidence(f, "; the latest came from %s", a);
	if (not_tunnel) {
		doctor_evidence(f, ", %s: no tunnel address, not one to add to the AllowedIPs", not_tunnel);
		return;
	}
	owner = allowed_ips_owner(dev, peer, &peer->last_disallowed_src, &held);
	if (!owner) {
		doctor_decision(f, " Its source address was %s: add %s/%d to the peer's AllowedIPs on this host if "
				   "that is the peer's address.", a, a, bits);
		return;
	}
	key_to_base64(key, owner->public_key);
	ip_prefix_str(held, held_text);
	doctor_evidence(f, ", and %s belongs to peer %s (its AllowedIPs %s)", a, key, held_text);
	if (!strcmp(f->cause, "disallowed_src"))
		f->cause = "allowed_ips_conflict";
	f->decision[0] = '\0';
	doctor_decision(f, "Do not add %s to this peer's AllowedIPs: %s. This device sends from an address peer %s "
			   "holds: give it an address of its own (its Address, and that address in its AllowedIPs "
			   "here), or, if peer %s no longer uses %s, take it out of that peer's AllowedIPs first.", a,
			held->cidr == bits ? "an address belongs to one peer, and WireGuard would move it away from "
					     "that peer"
					   : "the more specific prefix would take it from that peer's",
			key, key, a);
	if (held->cidr != bits)
		doctor_decision(f, " (%s)", held_text);
}

static bool unanswered_cause(struct doctor_report *r, struct doctor_finding *f, const struct datapath_observation *o,
			     const struct session_evidence *s)
{
	static const char *const refusals[] = { "send_refused", "send_unreachable", "send_too_big" };

	/* The daemon could not send them: this host's kernel refused. */
	for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
		uint64_t n = drop_count(o->drops, o->n_drops, refusals[i]);

		if (!n)
			continue;
		doctor_evidence(f, "; meanwhile this host refused %" PRIu64 " of the daemon's datagrams to the peer "
				   "(%s)", n, refusals[i]);
		doctor_decision(f, "%s", !strcmp(refusals[i], "send_refused")
						 ? "This host does not let the packets out: look for a rule dropping UDP "
						   "to the endpoint in the output path (nft list ruleset; iptables -S "
						   "OUTPUT)."
						 : "This host cannot send to the endpoint: check `ip route get` for it.");
		f->cause = refusals[i];
		return true;
	}
	for (size_t i = 0; i < N_RECEIVE_CAUSES; i++) {
		uint64_t n = drop_count(o->drops, o->n_drops, receive_causes[i].reason);

		/* The growth of noise (a link-local source, the peer's own
		 * endpoint address) is no cause: judged as if none came. */
		if (!n || (!strcmp(receive_causes[i].reason, "disallowed_src") && refused_source_not_tunnel(s->peer)))
			continue;
		doctor_evidence(f, "; meanwhile %" PRIu64 " packet%s %s (%s)", n, n == 1 ? "" : "s",
				receive_causes[i].meaning, receive_causes[i].reason);
		doctor_decision(f, "%s", receive_causes[i].decision);
		f->cause = receive_causes[i].reason;
		if (!strcmp(f->cause, "disallowed_src"))
			disallowed_source_text(f, s->peer, o->dev);
		return true;
	}
	/* Another peer's datagrams that reached the daemon meanwhile (its
	 * probe runs at the same time) say the port is open. */
	if (o->captured && o->capture.datagrams && !o->rx_delta && !o->received_delta) {
		/* The packet socket saw them arrive; the daemon got none. */
		doctor_figure(f, "datagrams_arrived", (double)o->capture.datagrams);
		doctor_evidence(f, "; %" PRIu64 " datagram%s to UDP %u reached this host meanwhile, and the daemon "
				   "received none of them", o->capture.datagrams, o->capture.datagrams == 1 ? "" : "s",
				o->listen_port);
		f->cause = "input_firewall";
		doctor_decision(f, "This host's input firewall drops UDP port %u: accept udp dport %u in the input "
				   "chain (nft list ruleset; iptables -S INPUT).", o->listen_port, o->listen_port);
		return true;
	}
	/* Before the decrypted-replies test: a peer that re-initiates while
	 * its data still comes is the one-way case, not a firewall here. */
	if (doctor_responses_cause(f, s))
		return true;
	if (o->rx_delta >= o->sent) {
		doctor_evidence(f, "; the daemon decrypted %" PRIu64 " packets from the peer meanwhile, so the "
				   "replies came back, yet no ping saw them", o->rx_delta);
		doctor_decision(f, "This host drops what comes out of the tunnel: a firewall rule on input from %s "
				   "(nft list ruleset; iptables -S INPUT). Accept iifname %s.", r->ifname, r->ifname);
		f->cause = "tunnel_input_dropped";
		return true;
	}
	if (!o->tx_delta) {
		doctor_evidence(f, "; none of them reached the daemon (it sent the peer nothing meanwhile)");
		doctor_decision(f, "The pings do not enter the tunnel: a firewall rule on this host drops output to "
				   "%s, or policy routing sends them elsewhere (ip rule; ip route get ADDRESS).",
				r->ifname);
		f->cause = "tunnel_output_dropped";
		return true;
	}
	return false;
}

/* The peer's packets were dropped here for their inner source before
 * doctor looked (the user gave up; doctor's own pings made the peer send
 * nothing new): the count is still evidence, and the fix is on this side.
 * Only when the latest refused source is a tunnel address: a total of
 * link-local noise, or of the peer's endpoint address, says nothing. A
 * total that did not grow ranks below what the run saw (ICMP errors, an
 * unconfirmed handshake, data unanswered for long, the endpoint moving). */
static bool earlier_disallowed_cause(struct doctor_finding *f, const struct uapi_peer *peer,
				     const struct uapi_device *dev)
{
	uint64_t n = drop_count(peer->drops, peer->n_drops, "disallowed_src");

	if (!n || refused_source_not_tunnel(peer))
		return false;
	doctor_figure(f, "disallowed_src", (double)n);
	f->cause = "disallowed_src";
	doctor_evidence(f, "; this host has dropped %" PRIu64 " packet%s from the peer whose inner source address "
			   "is outside the peer's AllowedIPs here (disallowed_src), before doctor looked", n,
			n == 1 ? "" : "s");
	doctor_decision(f, "Fix it on THIS side: the peer's AllowedIPs here must hold the peer's tunnel address "
			   "(its Address), or the peer uses a wrong Address.");
	disallowed_source_text(f, peer, dev);
	return true;
}

/* Our session looks fresh, yet data and our own new initiations go
 * unanswered: the peer most often lost that session (it restarted with a
 * new key, or dropped this host as a peer) and refuses our handshakes, so
 * the key comes first, the path second. */
static void refused_handshakes_decision(struct doctor_finding *f, const struct uapi_peer *peer)
{
	doctor_figure(f, "handshake_attempts", (double)peer->handshake_attempts);
	doctor_evidence(f, "; this host's own %" PRIu64 " new handshake initiation%s went unanswered too",
			peer->handshake_attempts, peer->handshake_attempts == 1 ? "" : "s");
	doctor_decision(f, "The peer lost our session and refuses our handshakes: its PublicKey here may be wrong "
			   "(the peer's key changed: compare with `wg show` there), or the peer no longer has this "
			   "host as a peer (its config lost this host's key); else it went away or a filter between "
			   "drops the tunnel's UDP (to %s), or the NAT in front of this host stopped translating "
			   "(the peer then sees this host at an address nobody routes back to): run roam doctor "
			   "there, which names it.",
			peer->endpoint[0] ? peer->endpoint : "it");
}

/* The peer's latest endpoint move from another endpoint, if it came within
 * within_ms; NULL otherwise. */
static const struct uapi_history *latest_move(const struct uapi_peer *peer, uint64_t within_ms)
{
	for (size_t i = peer->n_history; i-- > 0;) {
		const struct uapi_history *h = &peer->history[i];

		if (!strcmp(h->kind, "endpoint_changed"))
			return h->old_endpoint[0] && h->age_ms <= within_ms ? h : NULL;
	}
	return NULL;
}

/* The peer's endpoint moved to another address within the last minute:
 * the run's evidence that its path changed, which a count of drops from
 * before does not outrank. A new port on the same address is its NAT's
 * new mapping (an expired one, a restart), no new path. */
static bool endpoint_moved_lately(const struct uapi_peer *peer)
{
	const struct uapi_history *move = latest_move(peer, 60 * 1000);
	struct ip_prefix before, now;

	return move && doctor_endpoint_address(move->old_endpoint, &before) &&
	       doctor_endpoint_address(move->new_endpoint, &now) && !ip_prefix_equal(&before, &now);
}

/* Nothing came back and nothing was dropped here. A live peer that gets
 * data answers within KEEPALIVE_TIMEOUT (10 s), with a keepalive if it has
 * nothing else to send, even when it then drops the data: so a peer that
 * sent nothing for longer while data to it went unanswered does not get
 * our packets, or its answers are lost. One that spoke while doctor pinged
 * (its packets reach this host) and answered none gets them and drops them.
 * Before 10 s nothing tells the two apart: how long ago the peer last
 * spoke, from before our data, does not (outside test t2: a run said
 * peer_drops and one 4 s later peer_no_answer, while the NAT in front of
 * this host had stopped translating and the peer's answers went to this
 * host's unroutable address). */
static void silent_peer_cause(struct doctor_finding *f, const struct uapi_peer *peer,
			      const struct datapath_observation *o)
{
	/* KEEPALIVE_TIMEOUT + REKEY_TIMEOUT: data unanswered this long
	 * makes this host initiate anew. */
	enum { LIVE_PEER_ANSWERS_MS = 10500, NEW_HANDSHAKE_AFTER_MS = 15000 };

	doctor_evidence(f, "; the daemon sent the peer %" PRIu64 " packets and got %" PRIu64 " back, and dropped "
			   "nothing here meanwhile", o->tx_delta, o->rx_delta);
	if (peer->has_unanswered)
		doctor_figure(f, "unanswered_ms", (double)peer->unanswered_ms);
	if (peer->has_unanswered && peer->unanswered_ms >= LIVE_PEER_ANSWERS_MS) {
		f->cause = "peer_unreachable";
		doctor_evidence(f, "; data to it has gone unanswered for %.1f s, and a live peer answers within 10 s "
				   "(a keepalive at least): our packets do not reach it, or its answers do not reach this "
				   "host (from here the two look alike)", (double)peer->unanswered_ms / 1000);
		if (peer->handshake_attempts) {
			refused_handshakes_decision(f, peer);
			return;
		}
		if (peer->unanswered_ms < NEW_HANDSHAKE_AFTER_MS) {
			/* Too early for our own new handshake, whose fate would
			 * tell a peer that lost our session from one gone. */
			doctor_decision(f, "If the peer restarted with a new key or dropped this host, it lost our "
					   "session: this host starts a new handshake after %.0f s of unanswered data, so "
					   "run roam doctor again in %.0f s to tell. ",
					(double)NEW_HANDSHAKE_AFTER_MS / 1000,
					(double)(NEW_HANDSHAKE_AFTER_MS - peer->unanswered_ms) / 1000 + 1.5);
		}
		doctor_decision(f, "The peer went away or a filter between drops the tunnel's UDP (to %s, or its "
				   "answers from there): check that the peer's host and daemon are up; roam doctor there "
				   "tells the direction (our datagrams arriving and its answers lost is one_way_to_peer "
				   "there; an endpoint for this host that the network cannot route back to is the NAT in "
				   "front of this host, which stopped translating), then the firewalls between.",
				peer->endpoint[0] ? peer->endpoint : "it");
		return;
	}
	if (!endpoint_moved_lately(peer) && earlier_disallowed_cause(f, peer, o->dev))
		return;
	if (o->rx_delta) {
		f->cause = "peer_drops";
		doctor_evidence(f, "; the peer is alive (it sent %" PRIu64 " packet%s while doctor pinged) but answers "
				   "none: it takes them in and drops them", o->rx_delta, o->rx_delta == 1 ? "" : "s");
		doctor_decision(f, "The peer drops them after decrypting: run roam doctor there. Its AllowedIPs for "
				   "this host must hold this host's tunnel address (it counts disallowed_src), its "
				   "firewall must accept input from its tunnel interface, and it must route the replies "
				   "back.");
		return;
	}
	f->cause = "peer_no_answer";
	if (peer->has_last_receive_age)
		doctor_evidence(f, "; the peer's latest packet came %.1f s before the pings, none since",
				(double)peer->last_receive_age_ms / 1000);
	doctor_decision(f, "Either the peer drops our packets, or they reach it and its answers do not come back: "
			   "a NAT or router in front of this host that stopped translating sends them to an address "
			   "nobody routes back to. Run roam doctor on the peer: it names the address it sees this "
			   "host at (an unroutable one is this side's NAT) or what it drops; or here again in %.0f s, "
			   "when a live peer must have answered.",
			peer->has_unanswered && peer->unanswered_ms < LIVE_PEER_ANSWERS_MS
				? (double)(LIVE_PEER_ANSWERS_MS - peer->unanswered_ms) / 1000 + 1 : 11.0);
}

/* A peer with no AllowedIPs at all (wg set ... allowed-ips of another
 * peer took its address: an address belongs to one peer only): nothing
 * routes to it, and all it sends is dropped for its source. */
static void no_allowed_ips_finding(struct doctor_finding *f, const struct uapi_peer *peer,
				   const struct uapi_device *dev)
{
	uint64_t dropped = drop_count(peer->drops, peer->n_drops, "disallowed_src");

	f->status = DOCTOR_FAIL;
	f->cause = "no_allowed_ips";
	doctor_evidence(f, "the peer has no AllowedIPs: nothing is sent to it, and every packet from it is dropped");
	if (dropped) {
		doctor_figure(f, "disallowed_src", (double)dropped);
		doctor_evidence(f, " (%" PRIu64 " so far, disallowed_src)", dropped);
	}
	doctor_decision(f, "Give the peer its tunnel address as AllowedIPs (wg set IFACE peer KEY allowed-ips "
			   "ADDRESS/32); if another peer holds that address now, take it out there (an address "
			   "belongs to one peer).");
	disallowed_source_text(f, peer, dev);
}

bool datapath_failure_covers(int probed_family, int family)
{
	return !probed_family || probed_family == family;
}

unsigned datapath_icmp_grace_ms(uint64_t elapsed_ms, const struct datapath_observation *o)
{
	if (o->answered || o->tcp_answered || o->dns_answered || o->error || o->icmp.total || elapsed_ms >= DATAPATH_ICMP_WAIT_MS)
		return 0;
	return (unsigned)(DATAPATH_ICMP_WAIT_MS - elapsed_ms);
}

/* The peer's datagrams reach this host (the capture sits before netfilter)
 * and not the daemon: whatever else is true of the peer (its silence looks
 * like an expired NAT mapping from the daemon's side), this host drops
 * them, in a ban set of its input chain or by sending the port elsewhere. */
static bool dropped_before_daemon_cause(struct doctor_finding *f, const struct uapi_peer *peer,
					const struct datapath_observation *o)
{
	bool arrived = o->endpoint_arrived && !o->endpoint_reached_daemon;

	if (!o->counted || (!arrived && !o->redirect_rule[0]) || o->rx_delta)
		return false;
	if (arrived) {
		doctor_figure(f, "datagrams_arrived", (double)o->endpoint_arrived);
		doctor_evidence(f, "; %" PRIu64 " datagram%s from the peer's address (its endpoint %s) to UDP %u "
				   "reached this host meanwhile (seen before the firewall), and the daemon received "
				   "nothing from there", o->endpoint_arrived, o->endpoint_arrived == 1 ? "" : "s",
				peer->endpoint, o->listen_port);
	} else {
		doctor_evidence(f, "; the daemon received nothing from the peer meanwhile");
	}
	if (o->redirect_rule[0]) {
		f->cause = "port_redirected";
		doctor_evidence(f, "; the ruleset sends the port elsewhere: %s", o->redirect_rule);
		doctor_decision(f, "A DNAT or redirect rule takes UDP %u away from the daemon before it sees it: "
				   "delete it (nft -a list ruleset shows its handle; nft delete rule TABLE CHAIN handle "
				   "N), or narrow it so it spares this port.", o->listen_port);
		return true;
	}
	f->cause = "input_firewall";
	doctor_decision(f, "This host's input firewall drops the peer's datagrams to UDP %u: a rule or a ban set "
			   "(fail2ban-style) that takes in its address (nft list ruleset; iptables -S INPUT). Accept "
			   "udp dport %u from it, or take it out of the set.", o->listen_port, o->listen_port);
	return true;
}

/* The peer's datagrams came from a new address lately and our answers to
 * it draw ICMP host/net unreachable from a router: that address is one the
 * network cannot route back to, a private one leaking out because the NAT
 * in front of the peer stopped translating (its masquerade rule or its
 * state lost). Said instead of "the peer's host is off the network", and
 * the endpoint check, which saw only a move, no longer passes it. */
static bool moved_to_unroutable(struct doctor_report *r, struct doctor_finding *f, const struct uapi_peer *peer,
				const struct icmp_seen *icmp)
{
	enum { MOVED_WITHIN_MS = 180 * 1000 };
	const struct uapi_history *move = latest_move(peer, MOVED_WITHIN_MS);
	char who[IP_PREFIX_STRLEN], to[IP_PREFIX_STRLEN];
	struct ip_prefix now, before;

	if (!move || icmp->last_kind != ICMP_KIND_HOST || icmp->next_hop.reporter_local ||
	    !doctor_endpoint_address(move->new_endpoint, &now) || !ip_prefix_equal(&now, &icmp->target) ||
	    !doctor_endpoint_address(move->old_endpoint, &before) || ip_prefix_equal(&before, &now) ||
	    ip_prefix_equal(&icmp->reporter, &icmp->target))
		return false;
	ip_addr_str(&icmp->reporter, who);
	ip_addr_str(&now, to);
	doctor_evidence(f, "; the peer's packets come from %s since %.1f s before doctor looked (before from %s), and "
			   "%s cannot route back there", move->new_endpoint, (double)move->age_ms / 1000,
			move->old_endpoint, who);
	f->decision[0] = '\0';
	doctor_decision(f, "The peer's packets now arrive from %s, which the network cannot route back to: the NAT in "
			   "front of the peer stopped translating (its masquerade or SNAT rule, or its state, was "
			   "lost), so the peer's own address leaks out. Fix that router's NAT (on the peer's side); "
			   "nothing to change here: the endpoint follows once the peer's packets come from its public "
			   "address again.", to);
	for (size_t i = 0; i < r->n; i++) {
		struct doctor_finding *e = &r->v[i];

		if (strcmp(e->check, "endpoint") || strcmp(e->peer, f->peer) || e->status != DOCTOR_PASS)
			continue;
		e->status = DOCTOR_WARN;
		e->cause = "endpoint_unroutable";
		doctor_evidence(e, "; but %s cannot route back to %s (see datapath)", who, to);
		doctor_decision(e, "The new endpoint is no address the network routes back to: see datapath.");
	}
	return true;
}

static bool judge_pings(struct doctor_report *r, const struct peer_observation *p, bool skipped,
			const struct datapath_observation *o)
{
	struct doctor_finding *f = doctor_add(r, "datapath", p->peer->public_key);
	char a[IP_PREFIX_STRLEN];

	/* Before the handshake: without AllowedIPs nothing could pass anyway. */
	if (!p->peer->n_allowed_ips) {
		no_allowed_ips_finding(f, p->peer, o->dev);
		return true;
	}
	if (skipped) {
		f->status = DOCTOR_SKIP;
		doctor_evidence(f, "not judged: no handshake (see handshake)");
		return false;
	}
	if (!o->has_address) {
		f->status = DOCTOR_SKIP;
		doctor_evidence(f, "no address of the peer to ping: its AllowedIPs hold no single address");
		doctor_decision(f, "Name one with --probe ADDRESS.");
		return false;
	}
	ip_addr_str(&o->address, a);
	if (o->not_judged) {
		f->status = DOCTOR_SKIP;
		if (!strcmp(o->not_judged, "udp"))
			doctor_evidence(f, "not judged: the peers' datagrams do not reach the daemon, so no answer from "
					   "%s could (see udp)", a);
		else
			doctor_evidence(f, "not judged: %s does not go through the tunnel as it should (see %s)", a,
					o->not_judged);
		return false;
	}
	if (o->error == -EPERM || o->error == -EACCES) {
		f->status = DOCTOR_FAIL;
		f->cause = "tunnel_output_refused";
		doctor_evidence(f, "this host refuses pings to %s into %s: %s", a, r->ifname, strerror(-o->error));
		doctor_decision(f, "A firewall rule on this host drops output to %s (nft list ruleset; iptables -S "
				   "OUTPUT): accept oifname %s.", r->ifname, r->ifname);
		return true;
	}
	if (o->error) {
		f->status = DOCTOR_WARN;
		doctor_evidence(f, "cannot ping %s: %s", a, strerror(-o->error));
		return false;
	}
	doctor_figure(f, "sent", o->sent);
	doctor_figure(f, "answered", o->answered);
	if (o->answered) {
		doctor_figure(f, "rtt_ms", (double)o->rtt_us / 1000);
		doctor_evidence(f, "%s answered %u of %u ping%s through the tunnel (rtt %.1f ms)", a, o->answered,
				o->sent, o->sent == 1 ? "" : "s", (double)o->rtt_us / 1000);
		return false;
	}
	if (o->tcp_answered || o->dns_answered) {
		/* Our SYN or DNS query went through and its answer came back:
		 * the tunnel carries both ways, the host only ignores ICMP echo. */
		f->status = DOCTOR_WARN;
		f->cause = "ping_ignored";
		doctor_figure(f, o->tcp_answered ? "tcp_answered" : "dns_answered", 1);
		doctor_evidence(f, "%s answered none of %u pings through the tunnel, but ", a, o->sent);
		if (o->tcp_answered) {
			doctor_evidence(f, "answered a TCP connection to port %u (accepted or reset)", o->tcp_port);
		} else {
			char d[IP_PREFIX_STRLEN];

			ip_addr_str(&o->dns_server, d);
			doctor_evidence(f, "the DNS server %s inside the peer's AllowedIPs answered a query through it (a "
					   "TCP connection to %s port %u got no answer)", d, a, o->tcp_port);
			if (o->counted)
				doctor_evidence(f, "; the daemon received %" PRIu64 " packets from the peer meanwhile",
						o->rx_delta);
		}
		doctor_evidence(f, ": the tunnel works both ways; the host ignores ping");
		doctor_decision(f, "Nothing must change for the tunnel. For ping to work, let the peer answer ICMP "
				   "echo (sysctl net.ipv4.icmp_echo_ignore_all=0, or its firewall).");
		return false;
	}
	f->status = DOCTOR_FAIL;
	doctor_evidence(f, "the handshake is fresh, but %s answered none of %u pings through the tunnel", a, o->sent);
	if (o->tcp_tried)
		doctor_evidence(f, ", nor a TCP connection to port %u", o->tcp_port);
	struct session_evidence s = {
		.peer = p->peer,
		.initiates = p->initiates,
		.sent_to_peer = true,
		.icmp = &o->icmp,
		.peer_data_arrived = o->captured ? o->capture.by_type[4] : 0,
		.response_decrypt_failed = o->decrypt_delta,
		.listen_port = o->listen_port,
	};
	if (o->refused) {
		/* The peer's old port is closed and refused initiations
		 * arrive: it came back with keys that do not fit this host. */
		doctor_figure(f, "refused_initiations", (double)o->refused);
		doctor_evidence(f, "; our datagrams to %s bounce with ICMP port unreachable (its old port is "
				   "closed: it restarted), and meanwhile %" PRIu64 " handshake message%s arrived that this "
				   "host refused (%s)", p->peer->endpoint, o->refused, o->refused == 1 ? "" : "s",
				o->refused_reason);
		if (!strcmp(o->refused_reason, "bad_mac1")) {
			f->cause = "bad_mac1";
			doctor_decision(f, "The client restarted with a wrong public key for this server: its [Peer] "
					   "PublicKey must be %s.", r->public_key);
		} else {
			f->cause = "unknown_peer";
			doctor_decision(f, "The client restarted with a key that is no peer here (a new private key, "
					   "or another device's config): give this peer its new public key, or restore "
					   "the old key there.");
		}
		return true;
	}
	if (dropped_before_daemon_cause(f, p->peer, o))
		return true;
	if (doctor_nat_expired_cause(f, &s))
		return true;
	if (o->icmp.total) {
		/* The peer's host or a router said why: it went away. */
		doctor_icmp_cause(f, &o->icmp, !p->initiates);
		moved_to_unroutable(r, f, p->peer, &o->icmp);
		return true;
	}
	if (!o->counted) {
		f->cause = "no_reply";
		doctor_decision(f, "The keys agree but data does not pass: check the AllowedIPs on both sides and "
				   "the firewalls on the tunnel interfaces; run roam doctor on the peer.");
		return true;
	}
	doctor_figure(f, "tx_packets_delta", (double)o->tx_delta);
	doctor_figure(f, "rx_packets_delta", (double)o->rx_delta);
	for (size_t i = 0; i < o->n_drops && f->n_figures < DOCTOR_FIGURES_MAX; i++)
		if (!strcmp(o->drops[i].reason, "disallowed_src") || !strcmp(o->drops[i].reason, "unknown_index"))
			doctor_figure(f, !strcmp(o->drops[i].reason, "disallowed_src") ? "disallowed_src_delta"
											 : "unknown_index_delta",
				      (double)o->drops[i].count);
	if (unanswered_cause(r, f, o, &s))
		return true;
	if (doctor_response_pending_cause(f, &s))
		return true;
	silent_peer_cause(f, p->peer, o);
	return true;
}

/* The causes a guessed target's silence alone would name: no host at that
 * address looks the same from here. */
static bool silence_of_the_target(const char *cause)
{
	static const char *const causes[] = { "tunnel_input_dropped", "peer_drops", "peer_no_answer", "no_reply" };

	for (size_t i = 0; i < sizeof(causes) / sizeof(causes[0]); i++)
		if (cause && !strcmp(cause, causes[i]))
			return true;
	return false;
}

/* The daemon's counters say the data path itself is broken: our packets
 * went out, and fewer came back from the peer than the pings sent (not a
 * reply each; a keepalive may fall in the window). */
static bool counters_say_broken(const struct datapath_observation *o)
{
	return o->counted && o->tx_delta >= o->sent && o->rx_delta < o->sent;
}

/* A guessed target that did not answer, while the counters do not show a
 * broken path: maybe nobody has that address. The evidence is said anew:
 * the cause the silence alone suggested is not one. */
static void guessed_target_silent(struct doctor_finding *f, const struct datapath_observation *o)
{
	char a[IP_PREFIX_STRLEN];

	ip_addr_str(&o->address, a);
	f->status = DOCTOR_WARN;
	f->cause = "probe_target_silent";
	f->evidence[0] = f->decision[0] = 0;
	doctor_evidence(f, "the guessed host %s answered none of %u pings through the tunnel", a, o->sent);
	if (o->tcp_tried)
		doctor_evidence(f, ", nor a TCP connection to port %u", o->tcp_port);
	if (o->counted)
		doctor_evidence(f, "; the daemon's counters do not show a broken path (meanwhile it sent the peer %"
				   PRIu64 " packets and got %" PRIu64 " back)", o->tx_delta, o->rx_delta);
	else
		doctor_evidence(f, "; the daemon has no counters to tell a broken path from an address nobody has");
	doctor_decision(f, "%s may be nobody's address: name a host behind the peer that answers ping with --probe "
			   "ADDRESS (its tunnel address) to judge the data path. If %s is the peer, this host or the "
			   "peer drops the pings (their input firewalls).", a, a);
}

bool judge_datapath(struct doctor_report *r, const struct peer_observation *p, bool skipped,
		    const struct datapath_observation *o)
{
	bool failed = judge_pings(r, p, skipped, o);
	struct doctor_finding *f = &r->v[r->n - 1];

	if (!o->has_address || skipped || !p->peer->n_allowed_ips)
		return failed;
	bool silent = f->status == DOCTOR_FAIL && doctor_probe_target_guessed(o->target_source) &&
		      silence_of_the_target(f->cause) && !counters_say_broken(o);

	if (silent)
		guessed_target_silent(f, o);
	doctor_note_probe_target(f, o->target_source);
	return failed && !silent;
}
