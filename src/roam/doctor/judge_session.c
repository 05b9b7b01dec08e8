/* roam doctor: causes told from a peer's session counters, shared by the
 * handshake judge (no fresh handshake) and the datapath judge (a fresh one
 * whose data goes unanswered). Each looks at what only one direction of the
 * exchange can prove: a packet from the peer proves the way from the peer
 * here, never the way back. */
#include "doctor.h"

#include <inttypes.h>
#include <string.h>

/* The peer re-initiated, this host answered each time, and the peer never
 * used what we answered: our responses do not reach it, or do not
 * authenticate there. Two are needed: one may be in flight. */
enum { RESPONSES_UNCONFIRMED_MIN = 2 };

static bool doctor_responses_cause_min(struct doctor_finding *f, const struct session_evidence *s, uint64_t min);

bool doctor_responses_cause(struct doctor_finding *f, const struct session_evidence *s)
{
	return doctor_responses_cause_min(f, s, RESPONSES_UNCONFIRMED_MIN);
}

static bool doctor_responses_cause_min(struct doctor_finding *f, const struct session_evidence *s, uint64_t min)
{
	const struct uapi_peer *peer = s->peer;

	if (peer->responses_unconfirmed < min)
		return false;
	doctor_figure(f, "responses_unconfirmed", (double)peer->responses_unconfirmed);
	f->status = DOCTOR_FAIL;
	doctor_evidence(f, "; the peer initiated again, and %" PRIu64 " handshake response%s from this host went "
			   "unconfirmed (its initiations authenticate here, so both public keys are right)",
			peer->responses_unconfirmed, peer->responses_unconfirmed == 1 ? "" : "s");
	if (s->response_decrypt_failed) {
		/* Our own initiation was answered, and the answer did not
		 * authenticate: the one secret the keys do not cover. */
		f->cause = "psk_mismatch";
		doctor_evidence(f, "; and the peer's response to our initiation failed to decrypt here (%" PRIu64
				   " handshake_decrypt)", s->response_decrypt_failed);
		doctor_psk_decision(f, peer);
		return true;
	}
	if (s->peer_data_arrived) {
		f->cause = "one_way_to_peer";
		doctor_evidence(f, "; meanwhile the peer's data kept arriving (%" PRIu64 " data datagrams): the way "
				   "from the peer to this host works, the way from this host to the peer does not",
				s->peer_data_arrived);
		doctor_decision(f, "Traffic from this host to %s is lost on the way (one direction only): look for "
				   "a filter or broken route on the way out of this host towards it (this host's "
				   "output chain, its upstream router, the peer's inbound firewall for UDP from %u).",
				peer->endpoint[0] ? peer->endpoint : "the peer", s->listen_port);
		return true;
	}
	/* From here a PresharedKey that differs and a filter that drops
	 * only this host's datagrams look the same: both causes, plainly,
	 * and where the other side tells them apart. */
	f->cause = "one_way_or_psk";
	doctor_evidence(f, "; the peer sends nothing but new initiations: it cannot complete the handshakes this "
			   "host answers, either because our responses do not reach it or because they do not "
			   "authenticate there (from this side the two look alike)");
	const char *to = peer->endpoint[0] ? peer->endpoint : "the peer";
	/* We see our own PresharedKey, never the peer's: a key on one side
	 * only breaks the handshake as surely as two different ones. */
	if (peer->has_preshared_key)
		doctor_decision(f, "Either the preshared keys differ or this host's datagrams to %s are lost on the "
				   "way (a filter for one direction only). This side has a PresharedKey for this peer: "
				   "compare it with the peer's for this host (the same key, or none on either side); if "
				   "they match, look for the filter. roam doctor on the peer tells: psk_mismatch or "
				   "handshake_decrypt there, or nothing arriving from this host.",
				to);
	else
		doctor_decision(f, "Either the peer has a PresharedKey that this side lacks or this host's datagrams "
				   "to %s are lost on the way (a filter for one direction only). No PresharedKey here: if "
				   "the peer has one for us, remove it or set the same here; if it has none, look for the "
				   "filter. roam doctor on the peer tells: psk_mismatch or handshake_decrypt there, or "
				   "nothing arriving from this host.",
				to);
	return true;
}

void doctor_psk_decision(struct doctor_finding *f, const struct uapi_peer *peer)
{
	if (peer->has_preshared_key)
		doctor_decision(f, "PresharedKey differs: this side has one, check the peer's (it must have the same "
				   "one for this host, or remove it on both sides).");
	else
		doctor_decision(f, "PresharedKey on one side only: no PresharedKey here, so the peer has one for this "
				   "host; remove it there or set the same here.");
}

bool doctor_response_pending_cause(struct doctor_finding *f, const struct session_evidence *s)
{
	const struct uapi_peer *peer = s->peer;

	if (!peer->responses_unconfirmed)
		return false;
	/* One response unconfirmed (the second may be on its way) and the
	 * data unanswered: the peer re-initiated, so it is alive, but it did
	 * not take our answer. Not peer_drops, which needs a working session. */
	return doctor_responses_cause_min(f, s, 1);
}

/* A peer that connects to this host (its endpoint was learned from its
 * packets) and has said nothing for longer than any keepalive would allow:
 * when our datagrams to the endpoint it came from bounce (port unreachable,
 * from the address itself) or vanish, the NAT in front of it forgot the
 * mapping. A peer with a keepalive refreshes it before it expires. */
enum { NAT_SILENCE_MS = 10500 };

bool doctor_nat_expired_cause(struct doctor_finding *f, const struct session_evidence *s)
{
	const struct uapi_peer *peer = s->peer;
	bool bounced = s->icmp && s->icmp->total && s->icmp->last_kind == ICMP_KIND_PORT;
	bool vanished = !s->icmp || !s->icmp->total;

	if (s->initiates || !peer->endpoint[0] || !peer->has_last_receive_age ||
	    peer->last_receive_age_ms < NAT_SILENCE_MS || !(bounced || vanished) || !s->sent_to_peer)
		return false;
	doctor_figure(f, "silent_ms", (double)peer->last_receive_age_ms);
	f->status = DOCTOR_FAIL;
	f->cause = "nat_mapping_expired";
	doctor_evidence(f, "; this host learned %s from the peer's own packets, the peer has said nothing for %.0f s "
			   "(a keepalive would have come), and our datagrams to it %s",
			peer->endpoint, (double)peer->last_receive_age_ms / 1000,
			bounced ? "bounce with ICMP port unreachable: nothing holds that port any more"
				: "get no answer");
	/* The peer's keepalive is not ours to see: one at or below the
	 * suggestion already would have kept the mapping. */
	unsigned keepalive = doctor_keepalive_suggestion(peer, 0);
	if (!keepalive)
		keepalive = 10;
	doctor_decision(f, "The peer sits behind a NAT whose mapping expired while it was idle, so this host cannot "
			   "reach it until it sends again: set PersistentKeepalive = %u for this host in the PEER's "
			   "config (the client's). If it has one of %u s or less already, the peer went away.",
			keepalive, keepalive);
	return true;
}
