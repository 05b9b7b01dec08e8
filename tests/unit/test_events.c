/* roamd's events (src/roamd/events.c, uapi_events.c): the JSON of one
 * event, the ring's cursor arithmetic across wrap-around, and the UAPI
 * "get=3" request framed and answered as roam events sends it. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "events.h"
#include "test.h"
#include "uapi.h"

/* 2026-12-07T21:00:00.123456Z */
#define WALL (UINT64_C(1796677200) * NSEC_PER_SEC + UINT64_C(123456789))

static void test_json_of_one_event(void)
{
	struct event_json ev;
	struct endpoint a, b;
	uint8_t v4[4] = {198, 51, 100, 7}, v6[16] = {0xfd, 0, 0, 5, [15] = 2};

	endpoint_from_bytes(&a, AF_INET, v4, 51820);
	endpoint_from_bytes(&b, AF_INET6, v6, 443);
	event_begin(&ev, 7, "wg\"0", "failover", NULL, 5 * NSEC_PER_SEC, WALL);
	event_put_endpoint(&ev, "from", &a);
	event_put_endpoint(&ev, "to", &b);
	event_put_endpoint(&ev, "none", NULL);
	event_put_endpoints(&ev, "addresses", (struct endpoint[]){a, b}, 2);
	event_put_number(&ev, "candidate", 2);
	event_put_string(&ev, "reason", "a\nb\\");
	CHECK(event_end(&ev));
	const char *want = "{\"seq\":7,\"time\":\"2026-12-07T21:00:00.123456Z\",\"monotonic_ms\":5000,"
			   "\"interface\":\"wg\\\"0\",\"type\":\"failover\",\"from\":\"198.51.100.7:51820\","
			   "\"to\":\"[fd00:5::2]:443\",\"none\":null,"
			   "\"addresses\":[\"198.51.100.7:51820\",\"[fd00:5::2]:443\"],\"candidate\":2,"
			   "\"reason\":\"a\\u000ab\\\\\"}";
	CHECK(ev.len == strlen(want));
	CHECK(strcmp(ev.text, want) == 0);
	if (strcmp(ev.text, want))
		fprintf(stderr, "got  %s\nwant %s\n", ev.text, want);
}

static void test_too_long_is_never_half_kept(void)
{
	struct event_json ev;
	char long_name[2 * EVENT_JSON_MAX];
	memset(long_name, 'x', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	event_begin(&ev, 1, "wg0", "name_resolved", NULL, 0, WALL);
	event_put_string(&ev, "name", long_name);
	CHECK(!event_end(&ev));
}

/* The events after `after`, as the reply lists them: their seqs. */
static size_t seqs_after(struct event_ring *ring, uint64_t after, uint64_t *seqs, size_t max, uint64_t *last)
{
	struct uapi_buf out = {0};
	size_t n = 0;
	event_ring_put_after(ring, after, &out);
	uapi_buf_put(&out, "", 1);
	for (char *line = out.data; line && *line;) {
		char *nl = strchr(line, '\n');
		unsigned long long v;
		if (sscanf(line, "roam_event={\"seq\":%llu", &v) == 1 && n < max)
			seqs[n++] = v;
		if (sscanf(line, "roam_events_last=%llu", &v) == 1)
			*last = v;
		line = nl ? nl + 1 : NULL;
	}
	uapi_buf_free(&out);
	return n;
}

static void push(struct event_ring *ring)
{
	struct event_json ev;
	event_begin(&ev, ring->last_seq + 1, "wg0", "handshake_completed", NULL, 0, WALL);
	event_end(&ev);
	event_ring_push(ring, ev.text, ev.len);
}

static void test_ring_cursor(void)
{
	struct event_ring *ring = event_ring_new();
	uint64_t seqs[EVENTS_KEPT + 1], last = 99;

	CHECK(ring);
	CHECK(seqs_after(ring, 0, seqs, EVENTS_KEPT, &last) == 0 && last == 0);
	for (int i = 0; i < 3; i++)
		push(ring);
	CHECK(seqs_after(ring, 0, seqs, EVENTS_KEPT, &last) == 3 && seqs[0] == 1 && seqs[2] == 3 && last == 3);
	CHECK(seqs_after(ring, 2, seqs, EVENTS_KEPT, &last) == 1 && seqs[0] == 3);
	CHECK(seqs_after(ring, 3, seqs, EVENTS_KEPT, &last) == 0 && last == 3);
	/* A cursor from a previous roamd, beyond what this one has: nothing,
	 * and last (3) tells the reader to start again. */
	CHECK(seqs_after(ring, 1000, seqs, EVENTS_KEPT, &last) == 0 && last == 3);
	/* Wrapped: only the newest EVENTS_KEPT are kept, in order. */
	for (int i = 0; i < EVENTS_KEPT + 10; i++)
		push(ring);
	uint64_t newest = 3 + EVENTS_KEPT + 10;
	CHECK(seqs_after(ring, 0, seqs, EVENTS_KEPT + 1, &last) == EVENTS_KEPT && last == newest);
	CHECK(seqs[0] == newest - EVENTS_KEPT + 1 && seqs[EVENTS_KEPT - 1] == newest);
	CHECK(seqs_after(ring, newest - 2, seqs, EVENTS_KEPT, &last) == 2 && seqs[0] == newest - 1);
	event_ring_free(ring);
}

/* A host whose only ability is events. */
static struct event_ring *host_ring;
static void host_put_events(void *ctx, uint64_t after, struct uapi_buf *out)
{
	(void)ctx;
	event_ring_put_after(host_ring, after, out);
}

static char *answer(const struct uapi_host *host, const char *request, bool *open)
{
	struct uapi_conn *conn = uapi_conn_new(NULL, host);
	/* Fed one byte at a time: the framing must not care. */
	*open = true;
	for (size_t i = 0; request[i] && *open; i++)
		*open = uapi_conn_feed(conn, request + i, 1);
	size_t len;
	const char *out = uapi_conn_output(conn, &len);
	char *copy = strndup(out ? out : "", out ? len : 0);
	uapi_conn_free(conn);
	return copy;
}

static void test_get3_request(void)
{
	struct uapi_host host = {.put_events = host_put_events}, none = {0};
	bool open;
	char *r;

	host_ring = event_ring_new();
	push(host_ring);
	push(host_ring);
	r = answer(&host, "get=3\nroam_events_after=1\n\n", &open);
	CHECK(open);
	CHECK(strncmp(r, "roam_event={\"seq\":2,", 20) == 0);
	CHECK(strstr(r, "\nroam_events_last=2\nerrno=0\n\n") != NULL);
	CHECK(strstr(r, "\"seq\":1,") == NULL);
	free(r);
	/* No cursor: everything kept. Two requests on one connection. */
	r = answer(&host, "get=3\n\nget=3\nroam_events_after=2\n\n", &open);
	CHECK(open && strstr(r, "\"seq\":1,") && strstr(r, "errno=0\n\nroam_events_last=2\nerrno=0\n\n"));
	free(r);
	/* Anything else in the body is refused, and nothing is listed. */
	r = answer(&host, "get=3\nroam_events_after=x\n\n", &open);
	CHECK(open && strcmp(r, "errno=-22\n\n") == 0);
	free(r);
	r = answer(&host, "get=3\npublic_key=00\n\n", &open);
	CHECK(open && strcmp(r, "errno=-22\n\n") == 0);
	free(r);
	r = answer(&host, "get=3\nroam_events_after=99999999999999999999\n\n", &open);
	CHECK(open && strcmp(r, "errno=-22\n\n") == 0);
	free(r);
	/* A host without events says so. */
	r = answer(&none, "get=3\n\n", &open);
	CHECK(open && strcmp(r, "errno=-95\n\n") == 0);
	free(r);
	/* Not an op: closed without a word. */
	r = answer(&host, "get=4\n\n", &open);
	CHECK(!open && strcmp(r, "") == 0);
	free(r);
	event_ring_free(host_ring);
}

int main(void)
{
	RUN(test_json_of_one_event);
	RUN(test_too_long_is_never_half_kept);
	RUN(test_ring_cursor);
	RUN(test_get3_request);
	return test_finish("test_events");
}
