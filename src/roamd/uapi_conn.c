/* One UAPI client connection's byte stream (docs/protocol.md §7.2), split into
 * requests and answered with uapi_get/uapi_set.
 *
 * A request is an op line, exactly "get=1\n" or "set=1\n", or our own
 * "get=2\n" (get=1 plus the roam_* lines; wireguard-go closes on it, so a
 * client can tell which daemon it talks to and fall back) and "get=3\n"
 * (events after a cursor, uapi_events.c; framed like set). get is followed
 * by one byte that must be "\n"; set by lines up to an empty one. Bytes may
 * arrive in any split, down to one at a time, and several requests may
 * follow each other; scanning resumes where the last feed stopped, so a
 * request costs time linear in its size however it is fed.
 *
 * Framing errors, as in wireguard-go:
 *  - any other op line: close without a reply. The op is checked as a
 *    prefix while it arrives, so a client cannot make us buffer a long
 *    bogus first line;
 *  - get followed by anything but "\n": "errno=-22\n\n"; that one byte is
 *    consumed and the next op line is expected after it.
 * Oversized set (more than UAPI_MAX_REQUEST bytes of lines): the lines are
 * dropped from then on but the request is still read to its blank line,
 * then "errno=-12\n\n" is sent and the connection closed. Answering only
 * once the client has finished writing keeps `wg` sane: it writes the
 * whole request before reading, so a reply or close in the middle would
 * meet it with EPIPE instead of a message ("Cannot allocate memory").
 * Memory stays bounded while we wait, since nothing is kept.
 *
 * Output is not bounded by the request size (a get reply can be large), so
 * the caller should stop reading while output is pending; a client that
 * pipelines requests without reading is cut off once more than
 * UAPI_MAX_REQUEST bytes are waiting. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "uapi.h"
#include "uapi_contract.h"

enum conn_state {
	CONN_OP,	/* reading the op line */
	CONN_GET,	/* after "get=1\n": the next byte must be "\n" */
	CONN_SET,	/* collecting set lines */
	CONN_CLOSED,
};

static const char OP_GET[] = "get=1\n", OP_GET_ROAM[] = "get=2\n", OP_SET[] = "set=1\n",
		  OP_EVENTS[] = UAPI_OP_EVENTS;
enum {
	OP_LEN = sizeof(OP_GET) - 1,
	BIG_BUFFER = 64 * 1024,	/* kept between requests only up to this */
};

struct uapi_conn {
	struct device *dev;
	const struct uapi_host *host;
	enum conn_state state;

	char op[OP_LEN];
	size_t op_len;
	bool roam_get;
	bool events;		/* the lines being collected are get=3's */

	/* The set request's lines so far (without "set=1\n"). */
	char *in;
	size_t in_len, in_cap;
	bool at_line_start;	/* the next byte begins a line */
	bool oversized;		/* lines are being dropped; answer -ENOMEM */
	/* The most the buffers may hold while one grows (the old block and
	 * the new one exist together for the copy); 0: no limit. Past it
	 * the connection is closed (over_budget). */
	size_t memory_limit;
	bool over_budget;

	/* Replies; out_off bytes of them are already written. */
	struct uapi_buf out;
	size_t out_off;
};

struct uapi_conn *uapi_conn_new(struct device *dev, const struct uapi_host *host)
{
	struct uapi_conn *conn = calloc(1, sizeof(*conn));
	if (!conn)
		return NULL;
	conn->dev = dev;
	conn->host = host;
	conn->state = CONN_OP;
	return conn;
}

/* Set requests carry private and preshared keys: wipe them once used. */
static void clear_input(struct uapi_conn *conn)
{
	if (conn->in)
		crypto_wipe(conn->in, conn->in_len);
	conn->in_len = 0;
}

void uapi_conn_free(struct uapi_conn *conn)
{
	if (!conn)
		return;
	clear_input(conn);
	free(conn->in);
	/* A get reply holds the private key. */
	if (conn->out.data)
		crypto_wipe(conn->out.data, conn->out.len);
	uapi_buf_free(&conn->out);
	free(conn);
}

/* Appends to the set lines unless that would pass UAPI_MAX_REQUEST (or
 * memory runs out): then the request is only scanned to its end. */
static void append_input(struct uapi_conn *conn, const char *data, size_t n)
{
	if (conn->oversized)
		return;
	if (n > UAPI_MAX_REQUEST - conn->in_len) {
		conn->oversized = true;
		clear_input(conn);
		return;
	}
	if (conn->in_len + n > conn->in_cap) {
		size_t cap = conn->in_cap ? conn->in_cap : 4096;
		while (cap < conn->in_len + n)
			cap *= 2;
		size_t out_cap = conn->out.data ? conn->out.cap : 0;
		if (conn->memory_limit && conn->in_cap + cap + out_cap > conn->memory_limit) {
			conn->over_budget = true;
			conn->state = CONN_CLOSED;
			clear_input(conn);
			return;
		}
		/* malloc + copy + wipe rather than realloc, which could leave
		 * a copy of the keys behind in freed memory. */
		char *in = malloc(cap);
		if (!in) {
			conn->oversized = true;
			clear_input(conn);
			return;
		}
		if (conn->in_len) {
			memcpy(in, conn->in, conn->in_len);
			crypto_wipe(conn->in, conn->in_len);
		}
		free(conn->in);
		conn->in = in;
		conn->in_cap = cap;
	}
	memcpy(conn->in + conn->in_len, data, n);
	conn->in_len += n;
}

/* A reply was appended; false if the output buffer could not grow (it is
 * then empty, earlier replies lost with it, so the stream is broken). */
static bool output_ok(struct uapi_conn *conn)
{
	if (conn->out.data && conn->out.len - conn->out_off <= UAPI_MAX_REQUEST)
		return true;
	conn->state = CONN_CLOSED;
	return false;
}

/* Consumes the rest of a set request from data; returns how many bytes
 * were used. Finishes the request when its blank line is among them. */
static size_t feed_set(struct uapi_conn *conn, const char *data, size_t len)
{
	size_t i = 0;

	while (i < len) {
		if (conn->at_line_start && data[i] == '\n') {
			i++;
			if (conn->events && !conn->oversized) {
				uapi_get_events(conn->host, conn->in, conn->in_len, &conn->out);
			} else {
				int ret = conn->oversized ? -ENOMEM
							  : uapi_set(conn->dev, conn->host, conn->in, conn->in_len);
				uapi_buf_printf(&conn->out, "errno=%d\n\n", ret);
			}
			clear_input(conn);
			/* A connection may idle on after a huge request. */
			if (conn->in_cap > BIG_BUFFER) {
				free(conn->in);
				conn->in = NULL;
				conn->in_cap = 0;
			}
			conn->state = conn->oversized ? CONN_CLOSED : CONN_OP;
			conn->oversized = false;
			return i;
		}
		const char *nl = memchr(data + i, '\n', len - i);
		size_t n = nl ? (size_t)(nl - (data + i)) + 1 : len - i;
		append_input(conn, data + i, n);
		conn->at_line_start = nl != NULL;
		i += n;
		if (conn->over_budget)
			return len;
	}
	return i;
}

bool uapi_conn_feed(struct uapi_conn *conn, const char *data, size_t len)
{
	size_t i = 0;

	while (i < len && conn->state != CONN_CLOSED) {
		switch (conn->state) {
		case CONN_OP: {
			char c = data[i++];
			conn->op[conn->op_len++] = c;
			bool get = memcmp(conn->op, OP_GET, conn->op_len) == 0;
			bool roam_get = memcmp(conn->op, OP_GET_ROAM, conn->op_len) == 0;
			bool set = memcmp(conn->op, OP_SET, conn->op_len) == 0;
			bool events = memcmp(conn->op, OP_EVENTS, conn->op_len) == 0;
			if (!get && !roam_get && !set && !events) {
				conn->state = CONN_CLOSED;
				break;
			}
			if (conn->op_len == OP_LEN) {
				conn->op_len = 0;
				conn->state = get || roam_get ? CONN_GET : CONN_SET;
				conn->roam_get = roam_get;
				conn->events = events;
				conn->at_line_start = true;
			}
			break;
		}
		case CONN_GET:
			if (data[i++] == '\n')
				uapi_get(conn->dev, conn->host, conn->roam_get, &conn->out);
			else
				uapi_buf_printf(&conn->out, "errno=%d\n\n", -EINVAL);
			conn->state = CONN_OP;
			output_ok(conn);
			break;
		case CONN_SET:
			i += feed_set(conn, data + i, len - i);
			if (conn->state != CONN_SET)
				output_ok(conn);
			break;
		case CONN_CLOSED:
			break;
		}
	}
	return conn->state != CONN_CLOSED;
}

void uapi_conn_limit_memory(struct uapi_conn *conn, size_t limit)
{
	conn->memory_limit = limit ? limit : 1;
}

bool uapi_conn_over_budget(const struct uapi_conn *conn)
{
	return conn->over_budget;
}

size_t uapi_conn_memory(const struct uapi_conn *conn)
{
	/* A poisoned reply buffer has cap SIZE_MAX and no data. */
	return (conn->in ? conn->in_cap : 0) + (conn->out.data ? conn->out.cap : 0);
}

const char *uapi_conn_output(const struct uapi_conn *conn, size_t *len)
{
	if (!conn->out.data) {
		*len = 0;
		return "";
	}
	*len = conn->out.len - conn->out_off;
	return conn->out.data + conn->out_off;
}

void uapi_conn_consume_output(struct uapi_conn *conn, size_t n)
{
	if (!conn->out.data)
		return;
	size_t pending = conn->out.len - conn->out_off;
	conn->out_off += n < pending ? n : pending;
	if (conn->out_off == conn->out.len) {
		/* Everything written: start over at the front, cheaply, and
		 * give back what a huge get reply took. */
		crypto_wipe(conn->out.data, conn->out.len);
		conn->out.len = 0;
		conn->out_off = 0;
		if (conn->out.cap > BIG_BUFFER)
			uapi_buf_free(&conn->out);
	} else if (conn->out_off > conn->out.len / 2 && conn->out_off > BIG_BUFFER) {
		/* Keep a slow reader from pinning a large prefix. */
		size_t off = conn->out_off;
		memmove(conn->out.data, conn->out.data + off, conn->out.len - off);
		conn->out.len -= off;
		conn->out_off = 0;
		crypto_wipe(conn->out.data + conn->out.len, off);
		conn->out.data[conn->out.len] = '\0';
	}
}
