/* The event loop: one epoll set for the TUN device, the UDP sockets,
 * rtnetlink, the UAPI listener and its clients, a timerfd for the engine's
 * timers, a signalfd, an inotify watch on our socket file and netwatch.
 *
 * Level-triggered throughout: a handler may stop after a budget and epoll
 * brings it back, so one busy fd cannot starve the others. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "crypto.h"
#include "daemon.h"
#include "sd_notify.h"
#include "log.h"
#include "names.h"
#include "netwatch.h"

/* A `wg` process holds a connection for milliseconds; hundreds at once
 * means something is wrong, and fds are finite. The socket is root's (0700),
 * but a stuck or hostile local tool must still not lock the operator out:
 *  - a client that moves no byte either way for CLIENT_IDLE_NS is closed;
 *  - at MAX_CLIENTS, the client idle longest is closed to make room, so a
 *    new `wg show` is answered at once instead of refused (a refused `wg`
 *    dies of EPIPE in the middle of its request);
 *  - the bytes buffered across all clients have a budget: two of the
 *    largest requests; a client whose request would grow past it (the
 *    copy made while its buffer grows included) is closed before it grows;
 *  - the log line for the last two says so at most every CLIENT_LOG_NS. */
enum { MAX_CLIENTS = 256, CLIENT_READ_ROUNDS = 16, EPOLL_BATCH = 64 };
#define MAX_CLIENTS_TEXT "256"
_Static_assert(MAX_CLIENTS == 256, "MAX_CLIENTS_TEXT says 256");
#define CLIENT_IDLE_NS (10 * NSEC_PER_SEC)
#define CLIENT_SWEEP_NS NSEC_PER_SEC
#define CLIENT_LOG_NS (10 * NSEC_PER_SEC)
#define CLIENT_BYTES_BUDGET (2 * (size_t)UAPI_MAX_REQUEST)
/* A reply this large gets a socket send buffer of the second size. */
enum { BIG_REPLY = 8 << 20, BIG_REPLY_SEND_BUFFER = 4 << 20 };
/* Connections accepted per wake-up of the listener, so a flood of `wg`
 * clients cannot starve the data path; the rest wait in the backlog. */
enum { ACCEPT_BUDGET = 16 };

struct client {
	struct watch watch;
	struct client *prev, *next;
	int fd;
	struct uapi_conn *conn;
	bool closing;		/* no more input: flush the output, then close */
	bool evicted;		/* out of epoll; freed after this batch */
	uint32_t events;	/* what epoll is asked for now */
	uint64_t last_active;	/* a byte moved either way (monotonic) */
	size_t accounted;	/* its share of d->client_bytes */
	bool big_send_buffer;	/* SO_SNDBUF raised for a large reply */
};

static int watch_fd(struct daemon *d, int op, int fd, uint32_t events, struct watch *w)
{
	struct epoll_event ev = {.events = events, .data.ptr = w};
	return epoll_ctl(d->epoll_fd, op, fd, &ev) < 0 ? -errno : 0;
}

void loop_stop(struct daemon *d, int exit_code, const char *why)
{
	if (!d->running)
		return;
	d->running = false;
	d->exit_code = exit_code;
	if (exit_code)
		log_error("exiting: %s", why);
	else
		log_info("exiting: %s", why);
}

void loop_watch_udp(struct daemon *d, const struct udp_pair *old, const struct udp_pair *cur)
{
	int gone[] = {old->fd4, old->fd6, old->hs4, old->hs6};
	for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++)
		if (gone[i] >= 0)
			epoll_ctl(d->epoll_fd, EPOLL_CTL_DEL, gone[i], NULL);
	struct {
		int fd;
		struct watch *w;
	} added[] = {
		{cur->fd4, &d->w_udp4},
		{cur->fd6, &d->w_udp6},
		{cur->hs4, &d->w_udp4_handshakes},
		{cur->hs6, &d->w_udp6_handshakes},
	};
	int ret = 0;
	for (size_t i = 0; i < sizeof(added) / sizeof(added[0]) && !ret; i++)
		if (added[i].fd >= 0)
			ret = watch_fd(d, EPOLL_CTL_ADD, added[i].fd, EPOLLIN, added[i].w);
	d->handshake_sockets_watched = true;
	if (ret)
		loop_stop(d, 1, "epoll_ctl on UDP sockets failed");
}

/* The handshake sockets are read only while the queue has room: with none,
 * their readiness would wake the loop for nothing, so they leave the epoll
 * set's interest until the queue drains (the kernel meanwhile drops what
 * does not fit their buffers). */
static void watch_handshake_sockets(struct daemon *d)
{
	bool want = handshake_work_room(d) > 0;
	if (want == d->handshake_sockets_watched)
		return;
	const struct udp_pair *cur = &d->ports.cur;
	if (cur->hs4 >= 0)
		watch_fd(d, EPOLL_CTL_MOD, cur->hs4, want ? EPOLLIN : 0, &d->w_udp4_handshakes);
	if (cur->hs6 >= 0)
		watch_fd(d, EPOLL_CTL_MOD, cur->hs6, want ? EPOLLIN : 0, &d->w_udp6_handshakes);
	d->handshake_sockets_watched = want;
}

/* ---- UAPI clients ----------------------------------------------------- */

static void client_free(struct daemon *d, struct client *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		d->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	d->client_count--;
	if (c->evicted)
		d->clients_closing--;
	d->client_bytes -= c->accounted;
	close(c->fd);	/* also leaves the epoll set */
	uapi_conn_free(c->conn);
	free(c);
}

/* Says why clients are closed, at most once per CLIENT_LOG_NS, with how
 * many went unsaid since. */
static void client_log(struct daemon *d, const char *what)
{
	uint64_t now = now_ns();
	if (d->client_log_at && now - d->client_log_at < CLIENT_LOG_NS) {
		d->client_log_skipped++;
		return;
	}
	if (d->client_log_skipped)
		log_error("UAPI: %s (and %u more like it since the last message)", what, d->client_log_skipped);
	else
		log_error("UAPI: %s", what);
	d->client_log_at = now;
	d->client_log_skipped = 0;
}

/* At the cap: the client idle longest gives up its place. It leaves epoll
 * now but is freed only after the batch, which may still hold its event. */
static bool client_evict_idlest(struct daemon *d)
{
	struct client *victim = NULL;
	for (struct client *c = d->clients; c; c = c->next)
		if (!c->evicted && (!victim || c->last_active < victim->last_active))
			victim = c;
	if (!victim)
		return false;
	epoll_ctl(d->epoll_fd, EPOLL_CTL_DEL, victim->fd, NULL);
	victim->evicted = true;
	d->clients_closing++;
	client_log(d, "more than " MAX_CLIENTS_TEXT " clients at once: closing the one idle longest");
	return true;
}

static void client_accept(struct daemon *d)
{
	for (int i = 0; i < ACCEPT_BUDGET; i++) {
		int fd = accept4(d->ipc.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_error("accept on %s: %s", d->ipc.path, strerror(errno));
			return;
		}
		/* Past the cap, refuse at once. The cap also keeps us far
		 * below RLIMIT_NOFILE, so accept cannot fail with EMFILE and
		 * leave the listener readable forever. */
		if (d->client_count - d->clients_closing >= MAX_CLIENTS && !client_evict_idlest(d)) {
			close(fd);
			continue;
		}
		struct client *c = calloc(1, sizeof(*c));
		if (c)
			c->conn = uapi_conn_new(d->dev, &d->host);
		if (!c || !c->conn) {
			free(c);
			close(fd);
			continue;
		}
		c->watch = (struct watch){.kind = WATCH_CLIENT, .obj = c};
		c->fd = fd;
		c->events = EPOLLIN;
		c->last_active = now_ns();
		if (watch_fd(d, EPOLL_CTL_ADD, fd, c->events, &c->watch) < 0) {
			uapi_conn_free(c->conn);
			free(c);
			close(fd);
			continue;
		}
		c->next = d->clients;
		if (d->clients)
			d->clients->prev = c;
		d->clients = c;
		d->client_count++;
	}
}

/* Writes what is pending; false if the client is gone. MSG_NOSIGNAL: a
 * client that went away must not kill us with SIGPIPE (it is also ignored). */
static bool client_flush(struct client *c)
{
	for (;;) {
		size_t len;
		const char *out = uapi_conn_output(c->conn, &len);
		if (!len)
			return true;
		/* A get of 100,000 peers is some 40 MB: through the default
		 * 208 KB socket buffer that is 200 rounds of waking the
		 * reader and waiting for it, each a wait for a CPU on a busy
		 * machine. A few MB (up to net.core.wmem_max) make it a
		 * dozen. Only for such replies: they already hold far more
		 * of our memory than this holds of the kernel's. */
		if (len >= BIG_REPLY && !c->big_send_buffer) {
			int size = BIG_REPLY_SEND_BUFFER;
			setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
			c->big_send_buffer = true;
		}
		ssize_t n = send(c->fd, out, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK;
		}
		if (n > 0)
			c->last_active = now_ns();
		uapi_conn_consume_output(c->conn, (size_t)n);
	}
}

static bool client_has_output(const struct client *c)
{
	size_t pending;
	uapi_conn_output(c->conn, &pending);
	return pending != 0;
}

/* Keeps d->client_bytes in step with c's buffers; false (c freed) when
 * that passes the budget. */
static bool client_account(struct daemon *d, struct client *c)
{
	size_t now = uapi_conn_memory(c->conn);
	d->client_bytes = d->client_bytes - c->accounted + now;
	c->accounted = now;
	if (d->client_bytes <= CLIENT_BYTES_BUDGET || !now)
		return true;
	/* Replies nobody reads must not lock the operator out: the clients
	 * whose output has waited longest without a byte taken give way
	 * first (their bytes leave the count now; they are freed after the
	 * batch), and only then the one that grew. */
	while (d->client_bytes > CLIENT_BYTES_BUDGET) {
		struct client *victim = NULL;
		for (struct client *o = d->clients; o; o = o->next)
			if (o != c && !o->evicted && o->accounted && client_has_output(o) &&
			    (!victim || o->last_active < victim->last_active))
				victim = o;
		if (!victim)
			break;
		epoll_ctl(d->epoll_fd, EPOLL_CTL_DEL, victim->fd, NULL);
		victim->evicted = true;
		d->clients_closing++;
		d->client_bytes -= victim->accounted;
		victim->accounted = 0;
		client_log(d, "clients hold more than their byte budget: closing the one whose reply waited longest");
	}
	if (d->client_bytes <= CLIENT_BYTES_BUDGET)
		return true;
	client_log(d, "clients hold more than their byte budget: closing the one that grew");
	client_free(d, c);
	return false;
}

static void client_event(struct daemon *d, struct client *c, uint32_t events)
{
	char buf[16384];
	if (c->evicted)
		return;
	/* Read a bounded amount, and nothing while an answer waits to be
	 * written: a client that sends without reading is held back by its
	 * own socket buffer instead of growing ours. */
	for (int i = 0; i < CLIENT_READ_ROUNDS && !c->closing && !client_has_output(c) &&
			(events & (EPOLLIN | EPOLLHUP | EPOLLERR));
	     i++) {
		ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0) {
			c->last_active = now_ns();
			/* What the others hold is theirs; the rest of the
			 * budget bounds this one's growth, copy included. */
			size_t others = d->client_bytes - c->accounted;
			uapi_conn_limit_memory(c->conn, others < CLIENT_BYTES_BUDGET ? CLIENT_BYTES_BUDGET - others : 0);
			bool fed = uapi_conn_feed(c->conn, buf, (size_t)n);
			/* A set request may carry private or pre-shared keys:
			 * none stays behind on the stack. */
			crypto_wipe(buf, (size_t)n);
			if (!fed && uapi_conn_over_budget(c->conn)) {
				client_log(d, "clients hold more than their byte budget: closing the one that grew");
				client_free(d, c);
				return;
			}
			if (!fed)
				c->closing = true;
			continue;
		}
		if (n == 0) {
			c->closing = true;	/* it said all it will say */
			break;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			client_free(d, c);
			return;
		}
		break;
	}
	if (!client_flush(c)) {
		client_free(d, c);
		return;
	}
	if (!client_account(d, c))
		return;
	bool pending = client_has_output(c);
	if (c->closing && !pending) {
		client_free(d, c);
		return;
	}
	/* EPOLLHUP and EPOLLERR are always reported, so a client that
	 * vanishes while we wait to write is still noticed. */
	uint32_t want = pending ? EPOLLOUT : c->closing ? 0 : EPOLLIN;
	if (want != c->events) {
		c->events = want;
		if (watch_fd(d, EPOLL_CTL_MOD, c->fd, want, &c->watch) < 0)
			client_free(d, c);
	}
}

/* ---- timers, signals, link, socket file ------------------------------ */

/* Arms timer_fd for the engine's next deadline (absolute, monotonic). */
static void rearm_timer(struct daemon *d)
{
	uint64_t deadline = device_next_deadline(d->dev), names = names_next_deadline(d);
	if (names < deadline)
		deadline = names;
	if (deadline == UINT64_MAX)
		deadline = 0;
	/* 0 would disarm: a deadline at time 0 is simply overdue. */
	else if (deadline == 0)
		deadline = 1;
	if (deadline == d->armed_deadline)
		return;
	struct itimerspec its = {
		.it_value = {.tv_sec = (time_t)(deadline / NSEC_PER_SEC), .tv_nsec = (long)(deadline % NSEC_PER_SEC)},
	};
	if (timerfd_settime(d->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
		d->armed_deadline = deadline;
}

static void timer_event(struct daemon *d)
{
	uint64_t expirations;
	if (read(d->timer_fd, &expirations, sizeof(expirations)) < 0 && errno == EAGAIN)
		return;
	d->armed_deadline = 0;
	uint64_t now = now_ns();
	device_run_timers(d->dev, now);
	names_run(d, now);
}

static void signal_event(struct daemon *d)
{
	struct signalfd_siginfo si;
	while (read(d->signal_fd, &si, sizeof(si)) == sizeof(si)) {
		const char *name = si.ssi_signo == SIGTERM ? "SIGTERM" : si.ssi_signo == SIGINT ? "SIGINT" : "SIGHUP";
		loop_stop(d, 0, name);
	}
}

static void netlink_event(struct daemon *d)
{
	struct link_state before = d->link;
	tun_netlink_read(&d->tun, &d->link);
	if (d->link.gone) {
		loop_stop(d, 0, "interface deleted");
		return;
	}
	if (d->link.mtu && d->link.mtu != before.mtu) {
		device_set_mtu(d->dev, d->link.mtu);
		log_verbose("MTU %u", d->link.mtu);
	}
	if (d->link.up)
		ports_link_up(d);
	else
		ports_link_down(d);
}

static void inotify_event(struct daemon *d)
{
	if (!ipc_socket_still_ours(&d->ipc))
		loop_stop(d, 0, "UAPI socket deleted");
}

/* ---- the loop --------------------------------------------------------- */

void loop_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
}

int loop_init(struct daemon *d, char *err, size_t err_len)
{
	d->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	d->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	sigset_t set;
	loop_signals(&set);
	d->signal_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (d->epoll_fd < 0 || d->timer_fd < 0 || d->signal_fd < 0) {
		snprintf(err, err_len, "event loop: %s", strerror(errno));
		return -errno;
	}
	d->w_tun = (struct watch){.kind = WATCH_TUN};
	d->w_udp4 = (struct watch){.kind = WATCH_UDP4};
	d->w_udp6 = (struct watch){.kind = WATCH_UDP6};
	d->w_udp4_handshakes = (struct watch){.kind = WATCH_UDP4_HANDSHAKES};
	d->w_udp6_handshakes = (struct watch){.kind = WATCH_UDP6_HANDSHAKES};
	d->w_netlink = (struct watch){.kind = WATCH_NETLINK};
	d->w_listener = (struct watch){.kind = WATCH_LISTENER};
	d->w_timer = (struct watch){.kind = WATCH_TIMER};
	d->w_signal = (struct watch){.kind = WATCH_SIGNAL};
	d->w_inotify = (struct watch){.kind = WATCH_INOTIFY};
	d->w_netwatch = (struct watch){.kind = WATCH_NETWATCH};
	int ret = watch_fd(d, EPOLL_CTL_ADD, d->tun.fd, EPOLLIN, &d->w_tun);
	if (!ret)
		ret = watch_fd(d, EPOLL_CTL_ADD, tun_netlink_fd(&d->tun), EPOLLIN, &d->w_netlink);
	if (!ret)
		ret = watch_fd(d, EPOLL_CTL_ADD, d->ipc.fd, EPOLLIN, &d->w_listener);
	if (!ret)
		ret = watch_fd(d, EPOLL_CTL_ADD, d->timer_fd, EPOLLIN, &d->w_timer);
	if (!ret)
		ret = watch_fd(d, EPOLL_CTL_ADD, d->signal_fd, EPOLLIN, &d->w_signal);
	/* None for a socket a parent bound elsewhere (ipc_socket_adopt). */
	if (!ret && d->ipc.inotify_fd >= 0)
		ret = watch_fd(d, EPOLL_CTL_ADD, d->ipc.inotify_fd, EPOLLIN, &d->w_inotify);
	if (!ret && d->netwatch)
		ret = watch_fd(d, EPOLL_CTL_ADD, netwatch_fd(d->netwatch), EPOLLIN, &d->w_netwatch);
	if (ret) {
		snprintf(err, err_len, "epoll_ctl: %s", strerror(-ret));
		return ret;
	}
	d->running = true;
	return 0;
}

/* After a batch: free the evicted, and close clients idle too long. The
 * sweep runs at most once a second, and only while clients exist, so the
 * data path pays nothing for it. */
static void clients_tidy(struct daemon *d)
{
	if (!d->client_count)
		return;
	uint64_t now = now_ns();
	bool sweep = now >= d->client_sweep_at;
	if (!sweep && !d->clients_closing)
		return;
	for (struct client *c = d->clients, *next; c; c = next) {
		next = c->next;
		if (c->evicted || (sweep && now - c->last_active >= CLIENT_IDLE_NS)) {
			if (!c->evicted)
				log_verbose("UAPI: closing a client silent for %llu s",
					    (unsigned long long)(CLIENT_IDLE_NS / NSEC_PER_SEC));
			client_free(d, c);
		}
	}
	if (sweep)
		d->client_sweep_at = now + CLIENT_SWEEP_NS;
}

/* Pings systemd's watchdog when due; returns how long epoll may sleep
 * before the next ping (ms, -1: no watchdog). A loop stuck anywhere stops
 * pinging, and systemd restarts us: the point of the watchdog. */
static int watchdog_tick(struct daemon *d)
{
	if (!d->watchdog_ns)
		return -1;
	uint64_t now = now_ns();
	if (now >= d->watchdog_at) {
		sd_notify_send(d->notify_fd, "WATCHDOG=1");
		d->watchdog_at = now + d->watchdog_ns;
	}
	return (int)((d->watchdog_at - now + 999999) / 1000000);
}

/* A UDP socket is ready. Errors first: their queue shares the receive
 * buffer with the datagrams, and they land on the handshake sockets too
 * (datapath.c, read_udp_errors), where epoll reports them even while the
 * socket's reading is paused. */
static void udp_event(struct daemon *d, enum watch_kind kind, uint32_t events)
{
	const struct udp_pair *cur = &d->ports.cur;
	if (events & EPOLLERR)
		datapath_udp_errors(d);
	bool data = kind == WATCH_UDP4 || kind == WATCH_UDP6;
	bool v4 = kind == WATCH_UDP4 || kind == WATCH_UDP4_HANDSHAKES;
	int fd = data ? (v4 ? cur->fd4 : cur->fd6) : (v4 ? cur->hs4 : cur->hs6);
	if (fd < 0)
		return;
	if (data)
		datapath_from_udp(d, fd);
	else
		datapath_from_udp_handshakes(d, fd);
}

void loop_run(struct daemon *d)
{
	struct epoll_event events[EPOLL_BATCH];
	while (d->running) {
		ports_run(d);
		rearm_timer(d);
		/* With clients connected, wake at least once a second to close
		 * the idle ones; with a watchdog, in time for its next ping;
		 * with handshakes waiting, only look for data. */
		int timeout = d->client_count ? 1000 : -1, dog = watchdog_tick(d);
		if (dog >= 0 && (timeout < 0 || dog < timeout))
			timeout = dog;
		if (handshake_work_pending(d))
			timeout = 0;
		int n = epoll_wait(d->epoll_fd, events, EPOLL_BATCH, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			loop_stop(d, 1, "epoll_wait failed");
			break;
		}
		for (int i = 0; i < n && d->running; i++) {
			struct watch *w = events[i].data.ptr;
			switch (w->kind) {
			case WATCH_TUN:
				if (!datapath_from_tun(d))
					loop_stop(d, 0, "interface gone (TUN read failed)");
				break;
			case WATCH_UDP4:
			case WATCH_UDP6:
			case WATCH_UDP4_HANDSHAKES:
			case WATCH_UDP6_HANDSHAKES:
				udp_event(d, w->kind, events[i].events);
				break;
			case WATCH_NETLINK:
				netlink_event(d);
				break;
			case WATCH_LISTENER:
				client_accept(d);
				break;
			case WATCH_CLIENT:
				/* Safe: a client is freed only by its own
				 * handler, and epoll reports an fd at most
				 * once per batch. */
				client_event(d, w->obj, events[i].events);
				break;
			case WATCH_TIMER:
				timer_event(d);
				break;
			case WATCH_SIGNAL:
				signal_event(d);
				break;
			case WATCH_INOTIFY:
				inotify_event(d);
				break;
			case WATCH_NETWATCH:
				netwatch_event(d);
				break;
			case WATCH_NAMES:
				names_fd_event(d, w->obj, events[i].events);
				break;
			case WATCH_RESUME:
				resume_event(d);
				break;
			case WATCH_HANDSHAKE:
				/* Finished after the round's data, below. */
				handshake_work_event(d);
				break;
			}
		}
		clients_tidy(d);
		/* After the data of this round: handshake messages, for a
		 * bounded time (handshake_work.c). */
		if (handshake_work_pending(d))
			handshake_work_run(d);
		watch_handshake_sockets(d);
	}
}

void loop_free(struct daemon *d)
{
	while (d->clients)
		client_free(d, d->clients);
	if (d->epoll_fd >= 0)
		close(d->epoll_fd);
	if (d->timer_fd >= 0)
		close(d->timer_fd);
	if (d->signal_fd >= 0)
		close(d->signal_fd);
	d->epoll_fd = d->timer_fd = d->signal_fd = -1;
}
