/* Events an operator can act on (`roam events`, docs/events-json.md).
 *
 * Only authenticated facts and roamd's own decisions are recorded:
 * a handshake completed or was given up, a session expired, the endpoint
 * moved because of an authenticated packet, handshakes failed over to
 * another candidate, a name resolved to new addresses, a resume was
 * noticed, a fresh source port was opened. Nothing a stranger's datagram
 * can cause on its own, so a flood leaves the ring untouched.
 *
 * Each event is one JSON object, formatted once when it happens and kept
 * in a bounded ring (the oldest is dropped): a client asks for the events
 * after the last sequence number it saw (UAPI "get=3", uapi.h). */
#ifndef ROAMD_EVENTS_H
#define ROAMD_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "endpoint.h"

struct daemon;
struct device_event;
struct peer;
struct uapi_buf;

enum {
	EVENTS_KEPT = 256,	/* the ring: a follower polling twice a second misses none */
	EVENT_JSON_MAX = 1024,	/* one object; 8 + 8 addresses fit */
};

struct event_ring {
	uint64_t last_seq;	/* of the newest event; 0: none yet */
	unsigned count;		/* held, at most EVENTS_KEPT */
	uint16_t len[EVENTS_KEPT];
	char json[EVENTS_KEPT][EVENT_JSON_MAX];
};

/* One event under construction: events_begin, fields, events_commit. */
struct event_json {
	char text[EVENT_JSON_MAX];
	size_t len;
	bool truncated;
};

/* The ring itself (kept apart from the daemon for the unit test). */
struct event_ring *event_ring_new(void);
void event_ring_free(struct event_ring *ring);
/* Adds a finished object; its seq is last_seq + 1, already written in it
 * by events_begin. */
void event_ring_push(struct event_ring *ring, const char *json, size_t len);
/* "roam_event=JSON\n" for every event with seq > after, oldest first,
 * then "roam_events_last=N\n" (so a client that asked with a future
 * cursor, after a restart of roamd, can start again from 0). */
void event_ring_put_after(const struct event_ring *ring, uint64_t after, struct uapi_buf *out);

/* Building one object. type: "handshake_completed", ...; peer may be NULL
 * (an event about the whole interface). */
void event_begin(struct event_json *ev, uint64_t seq, const char *ifname, const char *type, const struct peer *peer,
		 uint64_t mono_ns, uint64_t wall_ns);
void event_put_string(struct event_json *ev, const char *key, const char *value);
void event_put_number(struct event_json *ev, const char *key, uint64_t value);
void event_put_endpoint(struct event_json *ev, const char *key, const struct endpoint *ep);
void event_put_endpoints(struct event_json *ev, const char *key, const struct endpoint *eps, unsigned n);
/* Closes the object; false if it did not fit (never pushed half). */
bool event_end(struct event_json *ev);

/* The daemon's side: one ring per roamd (d->events). */
int events_init(struct daemon *d);
void events_free(struct daemon *d);
/* The engine's events: the authenticated ones become events (io_event,
 * next to the log line of the same fact). */
void events_from_device(struct daemon *d, const struct device_event *ev);
void events_name_resolved(struct daemon *d, struct peer *peer, const char *host, const struct endpoint *before,
			  unsigned n_before, const struct endpoint *after, unsigned n_after, unsigned ttl_s);
/* how: "slept" or "frozen". */
void events_resume(struct daemon *d, const char *how, uint64_t seconds, unsigned peers_told);
void events_fresh_port(struct daemon *d, uint16_t old_port, uint16_t new_port, const char *why);
/* UAPI (struct uapi_host.put_events). */
void events_put_after(void *ctx, uint64_t after, struct uapi_buf *out);

#endif
