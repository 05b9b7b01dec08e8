/* Endpoint candidates: where a peer's handshakes go when it has several
 * addresses (the rules are in device.h). This file only chooses targets;
 * the endpoint itself still moves in one place, peer_update_endpoint, for
 * an authenticated and fresh packet, so trying a candidate can never
 * redirect traffic on its own. */
#include <errno.h>
#include <stdlib.h>

#include "device_state.h"
#include "peer.h"
#include "timers.h"

static int candidate_index_of(const struct peer *peer, const struct endpoint *ep)
{
	if (!endpoint_is_set(ep))
		return -1;
	for (int i = 0; i < peer->candidate_count; i++)
		if (endpoint_same_remote(&peer->candidates[i], ep))
			return i;
	return -1;
}

/* Only a less preferred candidate looks back. A learned endpoint (not a
 * candidate) is newer than the configuration and is kept while it answers;
 * the preferred one has nowhere better to go. */
static void arm_return(struct peer *peer, uint64_t now)
{
	int at = peer_endpoint_candidate_index(peer);
	if (at <= 0) {
		peer->timer_deadline[TIMER_CANDIDATE_RETURN] = 0;
		return;
	}
	if (!timer_is_pending(peer, TIMER_CANDIDATE_RETURN)) {
		uint64_t when = peer->candidate_next_return > now ? peer->candidate_next_return
								  : now + peer->candidate_return_holddown;
		timers_on_candidate_return_due(peer, when);
	}
}

int peer_add_endpoint_candidate(struct peer *peer, const struct endpoint *ep, uint64_t now)
{
	if (!endpoint_is_set(ep))
		return -EINVAL;
	if (candidate_index_of(peer, ep) >= 0)
		return 0;
	if (peer->candidate_count >= MAX_ENDPOINT_CANDIDATES)
		return -E2BIG;
	if (!peer->candidates) {
		peer->candidates = calloc(MAX_ENDPOINT_CANDIDATES, sizeof(*peer->candidates));
		peer->race_msg = malloc(sizeof(struct message_handshake_initiation));
		if (!peer->candidates || !peer->race_msg) {
			free(peer->candidates);
			free(peer->race_msg);
			peer->candidates = NULL;
			peer->race_msg = NULL;
			return -ENOMEM;
		}
		peer->race_to = -1;
		peer->candidate_trying = -1;
		peer->candidate_return_holddown = CANDIDATE_RETURN_MIN;
	}
	struct endpoint *c = &peer->candidates[peer->candidate_count++];
	*c = *ep;
	/* Where a candidate is sent from is the kernel's choice: nothing of
	 * the sticky source of another address applies to it. */
	c->src_family = 0;
	c->src_ifindex = 0;
	c->src_checked = 0;
	memset(&c->src, 0, sizeof(c->src));
	/* A list that now holds something preferred to the endpoint in use
	 * may want a return. */
	arm_return(peer, now);
	return 0;
}

void peer_clear_endpoint_candidates(struct peer *peer)
{
	free(peer->candidates);
	peer->candidates = NULL;
	free(peer->race_msg);
	peer->race_msg = NULL;
	peer->race_to = -1;
	peer->timer_deadline[TIMER_FAMILY_RACE] = 0;
	peer->candidate_count = 0;
	peer->candidate_trying = -1;
	peer->candidate_probing_home = false;
	peer->candidate_returned_home = false;
	peer->timer_deadline[TIMER_CANDIDATE_RETURN] = 0;
}

size_t peer_get_endpoint_candidates(const struct peer *peer, const struct endpoint **list)
{
	*list = peer->candidates;
	return peer->candidate_count;
}

int peer_endpoint_candidate_index(const struct peer *peer)
{
	return candidate_index_of(peer, &peer->endpoint);
}

const struct endpoint *peer_handshake_target(const struct peer *peer)
{
	if (peer->candidate_count && peer->candidate_trying >= 0 && peer->candidate_trying < peer->candidate_count)
		return &peer->candidates[peer->candidate_trying];
	if (endpoint_is_set(&peer->endpoint))
		return &peer->endpoint;
	/* Configured with candidates only: the preferred one first. */
	return peer->candidate_count ? &peer->candidates[0] : NULL;
}

static void emit_tried(struct peer *peer, const struct endpoint *from, enum candidate_try why, uint64_t now)
{
	const struct endpoint *to = peer_handshake_target(peer);
	struct device_event ev = {
		.type = EVENT_CANDIDATE_TRIED,
		.peer = peer,
		.old_endpoint = from,
		.new_endpoint = to,
		.now = now,
		.candidate = to ? candidate_index_of(peer, to) : -1,
		.candidate_why = why,
	};
	device_emit(peer->dev, &ev);
}

size_t peer_replace_endpoint_candidates(struct peer *peer, const struct endpoint *list, size_t n, uint64_t now)
{
	bool was_listed = peer_endpoint_candidate_index(peer) >= 0;
	/* Keep the hold-down state: a new answer is no reason to flap. */
	uint64_t holddown = peer->candidate_return_holddown, next_return = peer->candidate_next_return;
	bool returned = peer->candidate_returned_home;
	peer_clear_endpoint_candidates(peer);
	for (size_t i = 0; i < n; i++)
		if (peer_add_endpoint_candidate(peer, &list[i], now) == -E2BIG)
			break;
	if (holddown) {
		peer->candidate_return_holddown = holddown;
		peer->candidate_next_return = next_return;
		peer->candidate_returned_home = returned;
	}
	/* A session that is carrying traffic proves its endpoint right, as
	 * any authenticated packet beats configuration: it keeps it, and the
	 * new addresses wait for it to go unanswered. */
	bool heard = peer->last_receive_mono && now - peer->last_receive_mono < KEEPALIVE_TIMEOUT;
	if (was_listed && !heard && peer->candidate_count && peer_endpoint_candidate_index(peer) < 0) {
		struct endpoint old = peer->endpoint;
		peer->candidate_trying = 0;
		emit_tried(peer, &old, CANDIDATE_FAILOVER, now);
		/* The one-initiation-per-REKEY_TIMEOUT rule spares the peer;
		 * the last initiation went to an address it no longer has. */
		peer->has_sent_handshake = false;
		peer_send_initiation(peer, false, now);
	}
	return peer->candidate_count;
}

void candidates_on_unanswered(struct peer *peer, uint64_t now)
{
	struct device_event unanswered = {.type = EVENT_ATTEMPT_UNANSWERED, .peer = peer, .now = now};
	device_emit(peer->dev, &unanswered);
	int n = peer->candidate_count;
	if (!n)
		return;
	struct endpoint from_target;
	const struct endpoint *t = peer_handshake_target(peer);
	if (t)
		from_target = *t;
	else
		memset(&from_target, 0, sizeof(from_target));
	if (peer->candidate_probing_home) {
		/* The preferred one is still dead: back to the endpoint that
		 * works, and wait a hold-down before asking again. */
		peer->candidate_probing_home = false;
		peer->candidate_trying = -1;
		peer->candidate_next_return = now + peer->candidate_return_holddown;
		emit_tried(peer, &from_target, CANDIDATE_BACK, now);
		return;
	}
	int from = peer->candidate_trying;
	if (from < 0 && !endpoint_is_set(&peer->endpoint))
		from = 0; /* the target was the preferred candidate */
	else if (from < 0) {
		/* Leaving the endpoint in use. If it is the preferred candidate
		 * we came back to, it failed again: wait longer next time. */
		if (peer_endpoint_candidate_index(peer) == 0 && peer->candidate_returned_home) {
			peer->candidate_return_holddown *= 2;
			if (peer->candidate_return_holddown > CANDIDATE_RETURN_MAX)
				peer->candidate_return_holddown = CANDIDATE_RETURN_MAX;
		}
		peer->candidate_returned_home = false;
		peer->candidate_next_return = now + peer->candidate_return_holddown;
	}
	/* The cycle is: endpoint (-1), candidate 0, 1, ... n-1, endpoint...
	 * A candidate equal to the endpoint is the endpoint: skipped. */
	int next = from;
	for (int step = 0; step <= n; step++) {
		next = next + 1 >= n ? -1 : next + 1;
		if (next < 0) {
			if (endpoint_is_set(&peer->endpoint))
				break;
			continue;
		}
		if (!endpoint_same_remote(&peer->candidates[next], &peer->endpoint))
			break;
	}
	if (next == from)
		return;
	peer->candidate_trying = (int8_t)next;
	emit_tried(peer, &from_target, CANDIDATE_FAILOVER, now);
}

void candidates_on_response_unanswered(struct peer *peer, uint64_t now)
{
	/* A peer at one address has nowhere else to be tried. */
	if (!peer->candidate_count)
		return;
	candidates_on_unanswered(peer, now);
	/* Our initiation goes to the next address at once: the response just
	 * sent would otherwise hold it back REKEY_TIMEOUT, and the peer's
	 * next initiation would be answered into the same hole. A retry, so
	 * that this attempt is not counted as unanswered twice. */
	peer->has_sent_handshake = false;
	peer_send_initiation(peer, true, now);
}

bool candidates_hold_endpoint(const struct peer *peer, const struct endpoint *from, enum message_type type,
			      uint64_t now)
{
	/* A peer at several addresses initiates from its routing's source,
	 * which need not be the address that reaches it (an uplink that can
	 * send but not receive), and until our answer arrives its data leaves
	 * from there too. While the endpoint in use has answered within the
	 * time after which unanswered data fails over, such packets leave it
	 * where it is: the response goes there, and the peer takes it at any
	 * of its addresses. A response always moves it (it answers what we
	 * sent to where it comes from); data from an address not in the list
	 * is a roam, and moves it as ever. */
	if (!peer->candidate_count || type == MESSAGE_HANDSHAKE_RESPONSE || !endpoint_is_set(&peer->endpoint) ||
	    endpoint_same_remote(&peer->endpoint, from))
		return false;
	if (type != MESSAGE_HANDSHAKE_INITIATION && candidate_index_of(peer, from) < 0)
		return false;
	return peer->last_heard_back_mono && now - peer->last_heard_back_mono < KEEPALIVE_TIMEOUT + REKEY_TIMEOUT;
}

void candidates_on_endpoint_learned(struct peer *peer)
{
	/* Whatever we were trying, the peer has just shown where it is. */
	if (peer->candidate_probing_home && peer_endpoint_candidate_index(peer) == 0)
		peer->candidate_returned_home = true;
	peer->candidate_trying = -1;
	peer->candidate_probing_home = false;
}

void candidates_on_handshake_complete(struct peer *peer, uint64_t now)
{
	if (!peer->candidate_count)
		return;
	peer->candidate_trying = -1;
	peer->candidate_probing_home = false;
	arm_return(peer, now);
}

void candidates_return_timer(struct peer *peer, uint64_t now)
{
	if (!peer->candidate_count || peer_endpoint_candidate_index(peer) <= 0)
		return;
	/* A path that is failing over already has its own cycle, and one
	 * that has been silent is not one to leave from: the return is for a
	 * working endpoint that is merely not the preferred one. An
	 * initiation in flight waits for its answer or its retry. */
	bool heard = peer->last_receive_mono && now - peer->last_receive_mono < KEEPALIVE_TIMEOUT + REKEY_TIMEOUT;
	if (peer->candidate_trying >= 0 || !heard || timer_is_pending(peer, TIMER_RETRANSMIT_HANDSHAKE) ||
	    (peer->has_sent_handshake && now - peer->last_sent_handshake < REKEY_TIMEOUT)) {
		timers_on_candidate_return_due(peer, now + REKEY_TIMEOUT);
		return;
	}
	peer->candidate_trying = 0;
	peer->candidate_probing_home = true;
	peer->candidate_next_return = now + peer->candidate_return_holddown;
	emit_tried(peer, &peer->endpoint, CANDIDATE_PROBE_HOME, now);
	peer_send_initiation(peer, false, now);
	timers_on_candidate_return_due(peer, peer->candidate_next_return);
}

/* ---- both address families ----------------------------------------------- */

void candidates_on_initiation_sent(struct peer *peer, const struct endpoint *target, const uint8_t *msg, size_t len,
				   uint64_t now)
{
	int n = peer->candidate_count;
	peer->race_to = -1;
	if (n < 2 || !peer->race_msg || len != sizeof(struct message_handshake_initiation))
		return;
	/* A rekey over a path that answers has nothing to race. */
	if (peer->last_receive_mono && now - peer->last_receive_mono < KEEPALIVE_TIMEOUT)
		return;
	/* The next candidate after the target, in order, of the other family. */
	int at = candidate_index_of(peer, target);
	for (int step = 1; step < n + (at < 0); step++) {
		int i = at < 0 ? step - 1 : (at + step) % n;
		const struct endpoint *c = &peer->candidates[i];
		if (c->addr.sa.sa_family != target->addr.sa.sa_family && !endpoint_same_remote(c, target)) {
			peer->race_to = (int8_t)i;
			break;
		}
	}
	if (peer->race_to < 0)
		return;
	memcpy(peer->race_msg, msg, len);
	peer->race_for = peer->last_sent_handshake;
	timers_on_family_race_due(peer, now + FAMILY_RACE_DELAY);
}

void candidates_race_timer(struct peer *peer, uint64_t now)
{
	int to = peer->race_to;
	peer->race_to = -1;
	/* Still the same initiation, still unanswered. */
	if (to < 0 || to >= peer->candidate_count || peer->handshake.state != HANDSHAKE_CREATED_INITIATION ||
	    peer->last_sent_handshake != peer->race_for)
		return;
	const struct endpoint *c = &peer->candidates[to];
	struct endpoint from = *peer_handshake_target(peer);
	struct device_event ev = {
		.type = EVENT_CANDIDATE_TRIED,
		.peer = peer,
		.old_endpoint = &from,
		.new_endpoint = c,
		.now = now,
		.candidate = to,
		.candidate_why = CANDIDATE_RACE,
	};
	device_emit(peer->dev, &ev);
	/* Copied: the device may encrypt or pad in place what it sends. */
	uint8_t copy[sizeof(struct message_handshake_initiation)];
	memcpy(copy, peer->race_msg, sizeof(copy));
	peer_transmit_to(peer, c, copy, sizeof(copy));
}
