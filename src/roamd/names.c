/* Peers' host names, resolved by roamd with c-ares (names.h).
 *
 * c-ares runs inside the epoll loop: it tells us which sockets to watch
 * (sock_state_cb), we hand it their readiness (ares_process_fd) and its
 * timeouts come through the loop's one timerfd. Nothing here blocks: a
 * resolver that never answers costs a retry timer, not the tunnel. */
#include <arpa/inet.h>
#include <ares.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "daemon.h"
#include "events.h"
#include "log.h"
#include "names.h"
#include "names_answer.h"
#include "uapi.h"
#include "uapi_contract.h"

enum {
	NAMES_FDS = 16,		/* sockets c-ares holds at once */
	LOOKUP_TIMEOUT_MS = 2000,
	LOOKUP_TRIES = 2,
};
/* After a failed lookup: ask again this soon (the addresses known stay). */
#define NAMES_RETRY (30 * NSEC_PER_SEC)

struct name_entry {
	struct peer *peer;	/* dropped at EVENT_PEER_REMOVED */
	unsigned order;
	uint64_t id;		/* what a late answer is matched by */
	char host[NAMES_HOST_MAX + 1];
	uint16_t port;
	bool literal;		/* an address: never asked */
	bool in_flight, dirty;
	int last_status;
	uint64_t due;		/* next lookup (0 = none) */
	uint64_t last_query;
	uint64_t ttl;
	struct endpoint addrs[NAMES_MAX_ADDRS];
	unsigned n_addrs;
};

struct names_fd {
	struct watch watch;	/* obj: this slot */
	int fd;			/* -1: free */
	uint32_t events;
};

struct names {
	ares_channel channel;
	struct name_entry *v;
	size_t n, cap;
	uint64_t next_id;
	struct names_fd fds[NAMES_FDS];
};

/* ---- c-ares in the epoll loop ------------------------------------------ */

static void sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct daemon *d = data;
	struct names *nm = d->names;
	struct names_fd *slot = NULL, *free_slot = NULL;
	for (int i = 0; i < NAMES_FDS; i++) {
		if (nm->fds[i].fd == fd)
			slot = &nm->fds[i];
		else if (nm->fds[i].fd < 0 && !free_slot)
			free_slot = &nm->fds[i];
	}
	uint32_t events = (readable ? EPOLLIN : 0) | (writable ? EPOLLOUT : 0);
	if (!events) {
		if (slot) {
			epoll_ctl(d->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
			slot->fd = -1;
		}
		return;
	}
	int op = EPOLL_CTL_MOD;
	if (!slot) {
		if (!free_slot) {
			/* Never expected (c-ares opens one socket per server
			 * and protocol); its own timeout ends the query. */
			log_error("names: more than %d resolver sockets; one is not watched", NAMES_FDS);
			return;
		}
		slot = free_slot;
		slot->fd = fd;
		op = EPOLL_CTL_ADD;
	}
	slot->events = events;
	struct epoll_event ev = {.events = events, .data.ptr = &slot->watch};
	if (epoll_ctl(d->epoll_fd, op, fd, &ev) < 0)
		log_error("names: epoll_ctl on a resolver socket: %s", strerror(errno));
}

int names_init(struct daemon *d, char *err, size_t err_len)
{
	struct names *nm = calloc(1, sizeof(*nm));
	if (!nm) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	for (int i = 0; i < NAMES_FDS; i++) {
		nm->fds[i].fd = -1;
		nm->fds[i].watch = (struct watch){.kind = WATCH_NAMES, .obj = &nm->fds[i]};
	}
	int ret = ares_library_init(ARES_LIB_INIT_ALL);
	struct ares_options opts = {
		.sock_state_cb = sock_state,
		.sock_state_cb_data = d,
		.timeout = LOOKUP_TIMEOUT_MS,
		.tries = LOOKUP_TRIES,
	};
	if (ret == ARES_SUCCESS)
		ret = ares_init_options(&nm->channel, &opts, ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES);
	if (ret != ARES_SUCCESS) {
		snprintf(err, err_len, "c-ares: %s", ares_strerror(ret));
		free(nm);
		return -ENOTSUP;
	}
	d->names = nm;
	return 0;
}

void names_free(struct daemon *d)
{
	struct names *nm = d->names;
	if (!nm)
		return;
	/* Pending callbacks run with ARES_EDESTRUCTION and find nothing. */
	nm->n = 0;
	ares_destroy(nm->channel);
	ares_library_cleanup();
	free(nm->v);
	free(nm);
	d->names = NULL;
}

void names_fd_event(struct daemon *d, void *slot, uint32_t events)
{
	struct names_fd *s = slot;
	if (!d->names || s->fd < 0)
		return;
	int fd = s->fd;
	ares_process_fd(d->names->channel, events & (EPOLLIN | EPOLLERR | EPOLLHUP) ? fd : ARES_SOCKET_BAD,
			events & EPOLLOUT ? fd : ARES_SOCKET_BAD);
}

/* ---- the candidates of a peer ------------------------------------------- */

static bool same_addrs(const struct endpoint *a, unsigned na, const struct endpoint *b, unsigned nb)
{
	if (na != nb)
		return false;
	for (unsigned i = 0; i < na; i++)
		if (!endpoint_same_remote(&a[i], &b[i]))
			return false;
	return true;
}

static void addrs_text(const struct endpoint *a, unsigned n, char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = '\0';
	if (!n)
		snprintf(buf, len, "(none)");
	for (unsigned i = 0; i < n && used + ENDPOINT_TEXT_LEN + 2 < len; i++) {
		if (i)
			buf[used++] = ' ';
		used += endpoint_format(&a[i], buf + used, len - used);
	}
}

/* The peer's names in order, their addresses one after the other. */
static void rebuild(struct daemon *d, struct peer *peer, uint64_t now)
{
	struct names *nm = d->names;
	struct endpoint list[MAX_ENDPOINT_CANDIDATES];
	size_t n = 0;
	for (unsigned order = 0; order < NAMES_MAX_PER_PEER; order++)
		for (size_t i = 0; i < nm->n; i++) {
			struct name_entry *e = &nm->v[i];
			if (e->peer != peer || e->order != order)
				continue;
			e->dirty = false;
			for (unsigned k = 0; k < e->n_addrs && n < MAX_ENDPOINT_CANDIDATES; k++)
				list[n++] = e->addrs[k];
		}
	if (n)
		peer_replace_endpoint_candidates(peer, list, n, now);
}

/* ---- lookups ------------------------------------------------------------- */

static struct name_entry *entry_by_id(struct names *nm, uint64_t id)
{
	for (size_t i = 0; i < nm->n; i++)
		if (nm->v[i].id == id)
			return &nm->v[i];
	return NULL;
}

struct answer_ctx {
	struct daemon *d;
	uint64_t id;
};

static void on_answer(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
	struct answer_ctx *ctx = arg;
	struct daemon *d = ctx->d;
	(void)timeouts;
	struct name_entry *e = d->names && status != ARES_EDESTRUCTION ? entry_by_id(d->names, ctx->id) : NULL;
	free(ctx);
	if (!e) {
		ares_freeaddrinfo(res);
		return;
	}
	uint64_t now = now_ns();
	e->in_flight = false;
	if (status != ARES_SUCCESS || !res || !res->nodes) {
		if (status != e->last_status)
			log_error("name %s: %s; keeping %u known address%s, asking again in %llu s", e->host,
				  status == ARES_SUCCESS ? "no address" : ares_strerror(status), e->n_addrs,
				  e->n_addrs == 1 ? "" : "es", (unsigned long long)(NAMES_RETRY / NSEC_PER_SEC));
		e->last_status = status == ARES_SUCCESS ? ARES_ENODATA : status;
		e->due = now + NAMES_RETRY;
		ares_freeaddrinfo(res);
		return;
	}
	struct names_answer got;
	names_answer_take(res, e->port, &got);
	ares_freeaddrinfo(res);
	e->ttl = got.ttl_ns;
	e->due = now + got.ttl_ns;
	e->last_status = ARES_SUCCESS;
	if (!got.n)
		return;
	if (same_addrs(got.addrs, got.n, e->addrs, e->n_addrs))
		return;
	char before[256], after[256];
	addrs_text(e->addrs, e->n_addrs, before, sizeof(before));
	addrs_text(got.addrs, got.n, after, sizeof(after));
	if (got.seen > got.n)
		log_info("name %s: %s -> %s (TTL %d s; %u of %u addresses kept)", e->host, before, after, got.ttl, got.n,
			 got.seen);
	else
		log_info("name %s: %s -> %s (TTL %d s)", e->host, before, after, got.ttl);
	events_name_resolved(d, e->peer, e->host, e->addrs, e->n_addrs, got.addrs, got.n,
			     got.ttl > 0 ? (unsigned)got.ttl : 0);
	memcpy(e->addrs, got.addrs, got.n * sizeof(got.addrs[0]));
	e->n_addrs = got.n;
	rebuild(d, e->peer, now);
}

static void lookup(struct daemon *d, struct name_entry *e, uint64_t now)
{
	struct answer_ctx *ctx = malloc(sizeof(*ctx));
	if (!ctx) {
		e->due = now + NAMES_RETRY;
		return;
	}
	*ctx = (struct answer_ctx){.d = d, .id = e->id};
	char port[8];
	snprintf(port, sizeof(port), "%u", e->port);
	struct ares_addrinfo_hints hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM};
	e->in_flight = true;
	e->due = 0;
	e->last_query = now;
	/* The answer may come before this returns (the hosts file): e may
	 * not be touched after the call. */
	ares_getaddrinfo(d->names->channel, e->host, port, &hints, on_answer, ctx);
}

static void schedule(struct name_entry *e, uint64_t now)
{
	if (e->literal || e->in_flight)
		return;
	uint64_t at = e->last_query && now - e->last_query < NAMES_MIN_INTERVAL ? e->last_query + NAMES_MIN_INTERVAL : now;
	if (!e->due || at < e->due)
		e->due = at;
}

uint64_t names_next_deadline(struct daemon *d)
{
	struct names *nm = d->names;
	if (!nm)
		return UINT64_MAX;
	uint64_t next = UINT64_MAX, now = 0;
	for (size_t i = 0; i < nm->n; i++) {
		const struct name_entry *e = &nm->v[i];
		if (e->dirty)
			return 1;
		if (e->due && !e->in_flight && e->due < next)
			next = e->due;
	}
	struct timeval tv;
	if (ares_timeout(nm->channel, NULL, &tv)) {
		now = now_ns();
		uint64_t at = now + (uint64_t)tv.tv_sec * NSEC_PER_SEC + (uint64_t)tv.tv_usec * 1000;
		if (at < next)
			next = at;
	}
	return next;
}

void names_run(struct daemon *d, uint64_t now)
{
	struct names *nm = d->names;
	if (!nm)
		return;
	/* Timeouts and retransmissions of queries in flight. */
	ares_process_fd(nm->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	for (size_t i = 0; i < nm->n; i++)
		if (nm->v[i].dirty)
			rebuild(d, nm->v[i].peer, now);
	/* By id, not by index: a lookup's answer may arrive at once and a
	 * rebuild may emit events, but neither adds or removes entries. */
	for (size_t i = 0; i < nm->n; i++)
		if (nm->v[i].due && nm->v[i].due <= now && !nm->v[i].in_flight)
			lookup(d, &nm->v[i], now);
}

/* ---- what asks for names ------------------------------------------------- */

void names_clear_peer(void *ctx, struct peer *peer)
{
	struct daemon *d = ctx;
	struct names *nm = d->names;
	if (!nm)
		return;
	size_t kept = 0;
	for (size_t i = 0; i < nm->n; i++)
		if (nm->v[i].peer != peer)
			nm->v[kept++] = nm->v[i];
	nm->n = kept;
}

/* host:port text already split; a literal address needs no lookup. */
static bool parse_literal(const char *host, uint16_t port, struct endpoint *ep)
{
	uint8_t a[16];
	if (inet_pton(AF_INET, host, a) == 1) {
		endpoint_from_bytes(ep, AF_INET, a, port);
		return true;
	}
	if (inet_pton(AF_INET6, host, a) == 1) {
		endpoint_from_bytes(ep, AF_INET6, a, port);
		return true;
	}
	return false;
}

static bool valid_host(const char *h, size_t n)
{
	if (!n || n > NAMES_HOST_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = h[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
		      c == '-' || c == ':' || c == '_'))
			return false;
	}
	return true;
}

int names_add_peer(void *ctx, struct peer *peer, const char *host, size_t host_len, uint16_t port)
{
	struct daemon *d = ctx;
	struct names *nm = d->names;
	if (!nm)
		return -ENOTSUP;
	if (!valid_host(host, host_len) || !port)
		return -EINVAL;
	unsigned order = 0;
	for (size_t i = 0; i < nm->n; i++)
		if (nm->v[i].peer == peer) {
			if (nm->v[i].port == port && strlen(nm->v[i].host) == host_len &&
			    !strncasecmp(nm->v[i].host, host, host_len))
				return 0; /* a repeat */
			order++;
		}
	if (order >= NAMES_MAX_PER_PEER)
		return -E2BIG;
	if (nm->n == nm->cap) {
		size_t cap = nm->cap ? nm->cap * 2 : 16;
		struct name_entry *v = realloc(nm->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		nm->v = v;
		nm->cap = cap;
	}
	struct name_entry *e = &nm->v[nm->n++];
	memset(e, 0, sizeof(*e));
	e->peer = peer;
	e->order = order;
	e->id = ++nm->next_id;
	memcpy(e->host, host, host_len);
	e->host[host_len] = '\0';
	e->port = port;
	e->last_status = ARES_SUCCESS;
	struct endpoint ep;
	if (parse_literal(e->host, port, &ep)) {
		e->literal = true;
		e->addrs[0] = ep;
		e->n_addrs = 1;
		e->dirty = true;
	} else {
		e->due = now_ns();
	}
	return 0;
}

void names_refresh_all(void *ctx)
{
	struct daemon *d = ctx;
	struct names *nm = d->names;
	if (!nm)
		return;
	uint64_t now = now_ns();
	for (size_t i = 0; i < nm->n; i++)
		schedule(&nm->v[i], now);
}

void names_on_device_event(struct daemon *d, const struct device_event *ev)
{
	struct names *nm = d->names;
	if (!nm)
		return;
	if (ev->type == EVENT_PEER_REMOVED) {
		names_clear_peer(d, ev->peer);
		return;
	}
	if (ev->type != EVENT_ATTEMPT_UNANSWERED)
		return;
	for (size_t i = 0; i < nm->n; i++)
		if (nm->v[i].peer == ev->peer)
			schedule(&nm->v[i], ev->now);
}

/* ---- what get=2 shows ------------------------------------------------------ */

/* A scan of every name per peer: roamd serves a few peers by name (a
 * client's servers), not a server's thousands of clients, which have none
 * and cost one empty check. */
void names_put_peer(void *ctx, const struct peer *peer, uint64_t now, struct uapi_buf *out)
{
	struct daemon *d = ctx;
	struct names *nm = d->names;
	if (!nm)
		return;
	for (size_t i = 0; i < nm->n; i++) {
		const struct name_entry *e = &nm->v[i];
		if (e->peer != peer || e->literal)
			continue;
		const char *status = e->in_flight ? "resolving" : e->last_status != ARES_SUCCESS ? "failed" : "ok";
		char next[24] = "-";
		if (e->due && !e->in_flight)
			snprintf(next, sizeof(next), "%llu",
				 (unsigned long long)(e->due > now ? (e->due - now) / NSEC_PER_SEC : 0));
		uapi_buf_printf(out, ROAM_KEY_NAME "=%s:%u %llu %s %s", e->host, e->port,
				(unsigned long long)(e->ttl / NSEC_PER_SEC), next, status);
		for (unsigned k = 0; k < e->n_addrs; k++) {
			char text[ENDPOINT_TEXT_LEN];
			if (endpoint_format(&e->addrs[k], text, sizeof(text)))
				uapi_buf_printf(out, " %s", text);
		}
		uapi_buf_put(out, "\n", 1);
	}
}
