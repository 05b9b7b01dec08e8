/* The event ring and the JSON of each event (events.h; the format is
 * docs/events-json.md). Formatted once, when the fact happens: a reply is
 * then a copy of finished lines, and the ring's memory is fixed. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "daemon.h"
#include "events.h"
#include "key_encoding.h"
#include "uapi.h"
#include "uapi_contract.h"

/* ---- the ring ------------------------------------------------------------ */

struct event_ring *event_ring_new(void)
{
	return calloc(1, sizeof(struct event_ring));
}

void event_ring_free(struct event_ring *ring)
{
	free(ring);
}

void event_ring_push(struct event_ring *ring, const char *json, size_t len)
{
	if (len >= EVENT_JSON_MAX)
		return;
	ring->last_seq++;
	unsigned slot = (unsigned)(ring->last_seq % EVENTS_KEPT);
	memcpy(ring->json[slot], json, len);
	ring->len[slot] = (uint16_t)len;
	if (ring->count < EVENTS_KEPT)
		ring->count++;
}

void event_ring_put_after(const struct event_ring *ring, uint64_t after, struct uapi_buf *out)
{
	uint64_t first = ring->last_seq - ring->count + 1;
	uint64_t from = after + 1 > first ? after + 1 : first;
	for (uint64_t seq = from; seq <= ring->last_seq; seq++) {
		unsigned slot = (unsigned)(seq % EVENTS_KEPT);
		uapi_buf_put(out, ROAM_KEY_EVENT "=", sizeof(ROAM_KEY_EVENT));
		uapi_buf_put(out, ring->json[slot], ring->len[slot]);
		uapi_buf_put(out, "\n", 1);
	}
	uapi_buf_put_number(out, ROAM_KEY_EVENTS_LAST, ring->last_seq);
}

/* ---- one object ---------------------------------------------------------- */

static void put_raw(struct event_json *ev, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put_raw(struct event_json *ev, const char *fmt, ...)
{
	if (ev->truncated)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(ev->text + ev->len, sizeof(ev->text) - ev->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(ev->text) - ev->len) {
		ev->truncated = true;
		return;
	}
	ev->len += (size_t)n;
}

/* A JSON string: our own words, interface names and host names (which
 * names.c has checked), escaped anyway so nothing can break a line. */
static void put_quoted(struct event_json *ev, const char *s)
{
	put_raw(ev, "\"");
	for (; *s && !ev->truncated; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			put_raw(ev, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			put_raw(ev, "\\u%04x", c);
		else
			put_raw(ev, "%c", c);
	}
	put_raw(ev, "\"");
}

void event_begin(struct event_json *ev, uint64_t seq, const char *ifname, const char *type, const struct peer *peer,
		 uint64_t mono_ns, uint64_t wall_ns)
{
	ev->len = 0;
	ev->truncated = false;
	time_t sec = (time_t)(wall_ns / NSEC_PER_SEC);
	struct tm tm;
	char when[32];
	gmtime_r(&sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	put_raw(ev, "{\"seq\":%llu,\"time\":\"%s.%06lluZ\",\"monotonic_ms\":%llu,\"interface\":",
		(unsigned long long)seq, when, (unsigned long long)(wall_ns % NSEC_PER_SEC / 1000),
		(unsigned long long)(mono_ns / NSEC_PER_MSEC));
	put_quoted(ev, ifname);
	put_raw(ev, ",\"type\":");
	put_quoted(ev, type);
	if (peer) {
		struct peer_info info;
		char b64[KEY_B64_LEN + 1];
		peer_get_info(peer, &info);
		key_to_base64(b64, info.public_key);
		/* peer_get_info copied the preshared key too. */
		crypto_wipe(&info, sizeof(info));
		put_raw(ev, ",\"peer\":\"%s\"", b64);
	}
}

void event_put_string(struct event_json *ev, const char *key, const char *value)
{
	put_raw(ev, ",\"%s\":", key);
	put_quoted(ev, value);
}

void event_put_number(struct event_json *ev, const char *key, uint64_t value)
{
	put_raw(ev, ",\"%s\":%llu", key, (unsigned long long)value);
}

void event_put_endpoint(struct event_json *ev, const char *key, const struct endpoint *ep)
{
	char text[ENDPOINT_TEXT_LEN];
	if (ep && endpoint_format(ep, text, sizeof(text)))
		event_put_string(ev, key, text);
	else
		put_raw(ev, ",\"%s\":null", key);
}

void event_put_endpoints(struct event_json *ev, const char *key, const struct endpoint *eps, unsigned n)
{
	put_raw(ev, ",\"%s\":[", key);
	for (unsigned i = 0; i < n; i++) {
		char text[ENDPOINT_TEXT_LEN];
		if (!endpoint_format(&eps[i], text, sizeof(text)))
			continue;
		put_raw(ev, "%s\"%s\"", i ? "," : "", text);
	}
	put_raw(ev, "]");
}

bool event_end(struct event_json *ev)
{
	put_raw(ev, "}");
	return !ev->truncated;
}

/* ---- the daemon's events --------------------------------------------------- */

int events_init(struct daemon *d)
{
	d->events = event_ring_new();
	return d->events ? 0 : -ENOMEM;
}

void events_free(struct daemon *d)
{
	event_ring_free(d->events);
	d->events = NULL;
}

static void begin(struct daemon *d, struct event_json *ev, const char *type, const struct peer *peer)
{
	event_begin(ev, d->events->last_seq + 1, d->ifname, type, peer, now_ns(), wall_ns());
}

static void commit(struct daemon *d, struct event_json *ev)
{
	if (event_end(ev))
		event_ring_push(d->events, ev->text, ev->len);
}

static const char *candidate_reason(enum candidate_try why)
{
	switch (why) {
	case CANDIDATE_FAILOVER:
		return "unanswered";
	case CANDIDATE_PROBE_HOME:
		return "probe_preferred";
	case CANDIDATE_BACK:
		return "preferred_unanswered";
	case CANDIDATE_RACE:
		return "other_family";
	}
	return "?";
}

void events_from_device(struct daemon *d, const struct device_event *e)
{
	if (!d->events)
		return;
	struct event_json ev;
	switch (e->type) {
	case EVENT_HANDSHAKE_COMPLETE:
		begin(d, &ev, "handshake_completed", e->peer);
		break;
	case EVENT_HANDSHAKE_GIVEN_UP:
		begin(d, &ev, "handshake_given_up", e->peer);
		event_put_number(&ev, "attempts", MAX_TIMER_HANDSHAKES + 2);
		break;
	case EVENT_KEYS_ZEROED:
		begin(d, &ev, "session_expired", e->peer);
		break;
	case EVENT_ENDPOINT_CHANGED:
		/* Only ever raised for an authenticated packet (device.h). */
		begin(d, &ev, "endpoint_changed", e->peer);
		event_put_endpoint(&ev, "old_endpoint", e->old_endpoint);
		event_put_endpoint(&ev, "new_endpoint", e->new_endpoint);
		if (e->candidate >= 0)
			event_put_number(&ev, "candidate", (uint64_t)e->candidate + 1);
		if (e->idle_before)
			event_put_number(&ev, "idle_before_ms", e->idle_before / NSEC_PER_MSEC);
		break;
	case EVENT_CANDIDATE_TRIED:
		/* A failover: our retransmit timer moved the handshakes on.
		 * The race over the other family and the probes of the
		 * preferred candidate are part of one attempt, not a change an
		 * operator acts on; an answer to either shows as
		 * endpoint_changed. */
		if (e->candidate_why != CANDIDATE_FAILOVER)
			return;
		begin(d, &ev, "failover", e->peer);
		event_put_endpoint(&ev, "from", e->old_endpoint);
		event_put_endpoint(&ev, "to", e->new_endpoint);
		if (e->candidate >= 0)
			event_put_number(&ev, "candidate", (uint64_t)e->candidate + 1);
		event_put_string(&ev, "reason", candidate_reason(e->candidate_why));
		break;
	default:
		return;
	}
	commit(d, &ev);
}

void events_name_resolved(struct daemon *d, struct peer *peer, const char *host, const struct endpoint *before,
			  unsigned n_before, const struct endpoint *after, unsigned n_after, unsigned ttl_s)
{
	if (!d->events)
		return;
	struct event_json ev;
	begin(d, &ev, "name_resolved", peer);
	event_put_string(&ev, "name", host);
	event_put_endpoints(&ev, "old_addresses", before, n_before);
	event_put_endpoints(&ev, "new_addresses", after, n_after);
	event_put_number(&ev, "ttl_s", ttl_s);
	commit(d, &ev);
}

void events_resume(struct daemon *d, const char *how, uint64_t seconds, unsigned peers_told)
{
	if (!d->events)
		return;
	struct event_json ev;
	begin(d, &ev, "resume", NULL);
	event_put_string(&ev, "reason", how);
	event_put_number(&ev, "seconds", seconds);
	event_put_number(&ev, "peers_told", peers_told);
	commit(d, &ev);
}

void events_fresh_port(struct daemon *d, uint16_t old_port, uint16_t new_port, const char *why)
{
	if (!d->events)
		return;
	struct event_json ev;
	begin(d, &ev, "fresh_port", NULL);
	event_put_number(&ev, "old_port", old_port);
	event_put_number(&ev, "new_port", new_port);
	event_put_string(&ev, "reason", why);
	commit(d, &ev);
}

void events_put_after(void *ctx, uint64_t after, struct uapi_buf *out)
{
	struct daemon *d = ctx;
	if (d->events)
		event_ring_put_after(d->events, after, out);
}
