/* roamd: the daemon around one struct device. Everything runs on one thread
 * in one epoll loop (loop.c), but for the Diffie-Hellman of handshake
 * initiations (handshake_worker.c, which never sees the device); the
 * pieces share this state.
 *
 *   main.c       arguments, environment, daemonising, set-up and tear-down
 *   loop.c       the event loop: fds, timers, signals, UAPI clients
 *   datapath.c   packets: TUN <-> device <-> UDP, preallocated buffers
 *   ports.c      the UDP ports: port and fwmark as UAPI `set` asks, and
 *                the sockets following the link up and down
 *   clock.c      the monotonic clock every `now` comes from
 *   netwatch.c   the host's addresses/routes changed: tell the peers now
 *   names.c      peers' host names, resolved with c-ares in the loop
 *   resume.c     the machine slept or roamd was frozen: tell the peers
 *   events.c     the authenticated facts, kept for `roam events`
 *   handshake_work.c  handshake messages queued behind the data, handled
 *                with a budget per round; under load from measured work
 *   handshake_worker.c  the thread that does initiations' Diffie-Hellman
 *   tun.c udp.c ipc_socket.c icmp.c log.c   one mechanism each
 *   uapi*.c      the UAPI protocol itself (uapi.h), driven from loop.c */
#ifndef ROAMD_DAEMON_H
#define ROAMD_DAEMON_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "clock.h"
#include "device.h"
#include "handshake_queue.h"
#include "handshake_worker.h"
#include "icmp.h"
#include "ipc_socket.h"
#include "tun.h"
#include "uapi.h"
#include "udp.h"

/* Every fd in the epoll set carries one of these, so an event knows what
 * it is about without a lookup. */
enum watch_kind {
	WATCH_TUN,
	WATCH_UDP4,
	WATCH_UDP6,
	WATCH_UDP4_HANDSHAKES,	/* the sockets handshake messages are steered to (udp.h) */
	WATCH_UDP6_HANDSHAKES,
	WATCH_NETLINK,
	WATCH_LISTENER,
	WATCH_CLIENT,
	WATCH_TIMER,
	WATCH_SIGNAL,
	WATCH_INOTIFY,
	WATCH_NETWATCH,
	WATCH_NAMES,		/* a resolver socket; obj: its slot (names.c) */
	WATCH_RESUME,		/* the CLOCK_BOOTTIME tick (resume.c) */
	WATCH_HANDSHAKE,	/* the handshake worker finished some (handshake_worker.c) */
};

struct watch {
	enum watch_kind kind;
	void *obj;	/* a struct client for WATCH_CLIENT */
};

/* A packet buffer: room in front for the data message header and behind for
 * padding and the tag, so a packet read from the TUN device is encrypted
 * where it lies. */
enum {
	PKT_MAX = 65535,
	PKT_BUF_SIZE = MESSAGE_DATA_HEADROOM + PKT_MAX + MESSAGE_DATA_TAILROOM,
	/* TUN packets handled per wake-up before the other fds get a turn. */
	TUN_BUDGET = 64,
	/* recvmmsg calls per UDP socket per wake-up. */
	UDP_ROUNDS = 2,
	/* ... while handshake messages wait: reading is cheap, and a socket
	 * left full drops data and handshakes alike, so the loop reads
	 * further before it gives handshakes their budget. */
	UDP_ROUNDS_BEHIND_HANDSHAKES = 8,
	/* Room for the packets cut from several super-packets, each with the
	 * engine's headroom and tailroom, before a flush. */
	TX_ARENA = 512 * 1024,
};

struct datapath {
	/* One allocation, carved up at start: nothing is allocated per
	 * packet. */
	uint8_t *arena;
	uint8_t *tun_buf;		/* one read from the TUN device */
	uint8_t *udp_bufs[UDP_BATCH];	/* one recvmmsg; udp_base..udp_end */
	uint8_t *udp_base, *udp_end;
	uint8_t *tx_arena;		/* packets being encrypted and sent */
	size_t tx_used;
	/* Random bytes not yet handed out (datapath.c, io_random). */
	uint8_t random_pool[512];
	size_t random_left;
	uint8_t *icmp_buf;
	struct udp_rx *rx;
	struct udp_tx *tx;
	struct gro *gro;
	struct icmp_limiter icmp_limiter;
	/* The operator's switches (environment, see roamd --help). */
	bool opt_vnet, opt_tso, opt_verify_sums;
	struct udp_options udp;		/* what the UDP sockets may do */
	/* Counters for the operator (and tests). */
	uint64_t udp_send_errors, tun_write_errors, icmp_sent, tun_bad, tun_super, udp_gro_bufs;
	uint64_t sources_checked, sources_forgotten, sent_fragmented;
	/* Path MTU (pathmtu.c): reports checked, refused as not quoting what
	 * we sent, or over the rate; inner packets refused with ICMP, sent
	 * fragmented, super-packets cut smaller. */
	struct icmp_limiter pmtu_limiter;
	uint64_t pmtu_reports_accepted, pmtu_reports_rejected, pmtu_reports_limited;
	/* Refusals by our kernel at a path MTU it may have from an error
	 * roamd refused (udp_limit_unchecked): not learnt from. */
	uint64_t pmtu_local_unchecked, sent_past_unchecked;
	uint64_t icmp_too_big_sent, pmtu_fragmented, pmtu_segments_cut;
	/* Set while the engine sends an inner packet that must leave in one
	 * datagram with fragmentation allowed (PATH_FRAGMENT_OUTER). */
	bool send_fragmentable;
	/* The routing generation sticky sources were last checked against
	 * (netwatch.h). */
	uint32_t route_gen;
};

/* Handshake messages waiting behind the data, and the work they cost
 * (handshake_work.c). */
enum { WINDOW_SLOTS = 8 };
struct handshake_work {
	struct handshake_queue queue;
	bool inline_mode;	/* ROAMD_HANDSHAKE_INLINE: no queue (comparison) */
	/* Initiations opened on the worker thread (ROAMD_HANDSHAKE_THREADS,
	 * default 1; 0: on this thread, for comparison). */
	bool threaded;
	struct handshake_worker worker;
	uint64_t worker_busy_seen; /* worker.busy_ns already in the window */
	uint64_t worker_ns;	   /* of busy_ns, the worker's */
	uint64_t offloaded, responses_offloaded;
	struct watch worker_watch;
	uint64_t dh_ns;		/* one X25519 here, measured at start */
	unsigned backlog_limit;	/* waiting messages that mean under load */
	/* Time spent on handshakes: a sliding second of slots. */
	uint64_t slot_epoch[WINDOW_SLOTS], slot_ns[WINDOW_SLOTS];
	uint64_t processed, busy_ns, backlog_reports, time_reports;
};

/* The UDP sockets and what the UAPI configured for them. */
struct ports {
	struct udp_pair cur;		/* open while the interface is up */
	struct udp_pair pending;	/* prepared by a UAPI set, not yet live */
	bool pending_set;
	uint16_t pending_port;		/* what that set asked for */
	uint16_t port;			/* configured; the bound one once up */
	uint32_t fwmark;
	/* The operator asked for this port (ListenPort): it is never changed
	 * behind their back. Not pinned: roamd may move to a fresh one. */
	bool pinned;
	uint64_t fresh_at;		/* the last fresh port (rate limit) */
	uint64_t fresh_ports;
	/* Sends to a peer the kernel refused with EPERM (a firewall rule)
	 * or ENETUNREACH (a routing rule): since when without a gap, the
	 * last one and where it went; a fresh port is then wanted, and taken
	 * between two rounds of the loop (not in the middle of a send). */
	uint64_t refused_since, refused_last;
	struct endpoint refused_to;
	bool fresh_wanted;
};

struct client;
struct netwatch;
struct names;
struct event_ring;

struct daemon {
	char ifname[IFNAMSIZ];
	struct device *dev;
	struct tun tun;
	struct link_state link;
	struct ports ports;
	struct datapath dp;
	struct handshake_work hs;
	struct ipc_socket ipc;
	struct uapi_host host;

	int epoll_fd, timer_fd, signal_fd;
	uint64_t armed_deadline;	/* what timer_fd is set to (0 = off) */
	struct watch w_tun, w_udp4, w_udp6, w_netlink, w_listener, w_timer, w_signal, w_inotify;
	/* The handshake sockets, watched only while the handshake queue has
	 * room: a full queue leaves the excess in their buffers, for the
	 * kernel to drop, without waking the loop for it. */
	struct watch w_udp4_handshakes, w_udp6_handshakes;
	bool handshake_sockets_watched;
	struct netwatch *netwatch;	/* NULL when disabled (netwatch.h) */
	struct names *names;		/* NULL without a resolver (names.h) */
	struct event_ring *events;	/* events.h; NULL if it could not be had */
	/* resume.c: a CLOCK_BOOTTIME tick that notices sleep and freezes. */
	int resume_fd;
	struct watch w_resume;
	uint64_t resume_slept, resumes;
	struct watch w_netwatch;
	struct client *clients;
	unsigned client_count;
	unsigned clients_closing;	/* evicted, freed after the batch */
	size_t client_bytes;		/* buffered across all clients */
	uint64_t client_sweep_at;	/* next check for idle clients */
	uint64_t client_log_at;		/* rate limit of the eviction log */
	unsigned client_log_skipped;

	/* systemd's notification socket (sd_notify.h), -1 if not run by it;
	 * the watchdog is pinged every watchdog_ns (half of WATCHDOG_USEC,
	 * 0: off), next at watchdog_at (monotonic). */
	int notify_fd;
	uint64_t watchdog_ns, watchdog_at;

	bool running;
	int exit_code;
};


/* main.c: an environment switch is on when set to anything but "" or "0". */
bool env_on(const char *name);

/* datapath.c */
/* Reads the offload switches from the environment and allocates. */
int datapath_init(struct daemon *d);
/* The TUN device exists: negotiate its offloads. */
void datapath_tun_ready(struct daemon *d);
void datapath_free(struct datapath *dp);
/* One line of counters for the log (at exit). */
void datapath_log_stats(struct daemon *d);
struct device_io datapath_device_io(struct daemon *d);
/* Readable fds: handle a bounded amount of traffic. false from tun: the
 * interface is gone. */
bool datapath_from_tun(struct daemon *d);
void datapath_from_udp(struct daemon *d, int fd);
/* Sends what the round queued (cookie replies made by handshake work). */
void datapath_flush(struct daemon *d);
/* The same for a socket handshake messages are steered to: reads only
 * while the handshake queue has room. */
void datapath_from_udp_handshakes(struct daemon *d, int fd);
/* A UDP socket reported errors (EPOLLERR): learn what they say. */
void datapath_udp_errors(struct daemon *d);
/* Forget every peer's sticky source (after a port or fwmark change the
 * old one may no longer be right). */
void datapath_clear_sources(struct daemon *d);

/* handshake_work.c */
/* Measures one X25519 and takes the load estimate over (after device_new). */
int handshake_work_init(struct daemon *d);
void handshake_work_free(struct daemon *d);
/* Starts the worker thread (after the privileges are dropped, before the
 * seccomp filter, which then covers it too) and watches its wake-ups. */
int handshake_work_start(struct daemon *d);
/* The worker's done_fd was readable. */
void handshake_work_event(struct daemon *d);
/* A datagram from the network: true if it is a handshake message, queued
 * (or dropped with the queue full) for handshake_work_run. */
bool handshake_work_defer(struct daemon *d, const struct endpoint *from, const uint8_t *buf, size_t len,
			  uint64_t now);
bool handshake_work_pending(const struct daemon *d);
/* How many more handshake messages the queue takes now. */
unsigned handshake_work_room(const struct daemon *d);
/* Handles waiting messages, oldest first, for one round's budget. */
void handshake_work_run(struct daemon *d);
void handshake_work_log_stats(struct daemon *d);

/* ports.c */
void ports_init(struct daemon *d);
/* The interface went up or down: sockets follow, then the engine. */
void ports_link_up(struct daemon *d);
void ports_link_down(struct daemon *d);
void ports_free(struct daemon *d);
/* The path's state looks bad (stale NAT or conntrack entries): unless the
 * port is pinned, move to new sockets on a fresh random port, so the next
 * datagrams make new mappings. Rate-limited; reason (one word) goes to the
 * event, why to the log. */
void ports_fresh_port(struct daemon *d, const char *reason, const char *why);
/* The engine's events: a handshake to a peer that had a session going
 * unanswered again asks for a fresh port. */
void ports_on_device_event(struct daemon *d, const struct device_event *ev);
/* A send to a peer failed with EPERM or ENETUNREACH (datapath.c). */
void ports_send_refused(struct daemon *d, const struct endpoint *to);
/* Between two rounds of the loop: a fresh port, if refusals asked for one. */
void ports_run(struct daemon *d);

/* resume.c: the machine slept or roamd was frozen: tell the peers at once.
 * init is said but not fatal when it fails (resume_fd stays -1). */
int resume_init(struct daemon *d, char *err, size_t err_len);
void resume_event(struct daemon *d);
void resume_free(struct daemon *d);

/* loop.c */
/* The signals that stop the loop (SIGTERM, SIGINT, SIGHUP): main blocks
 * them before set-up, the loop reads them from a signalfd. */
void loop_signals(sigset_t *set);
int loop_init(struct daemon *d, char *err, size_t err_len);
void loop_run(struct daemon *d);
void loop_free(struct daemon *d);
/* The UDP fds changed: keep the epoll set in step. */
void loop_watch_udp(struct daemon *d, const struct udp_pair *old, const struct udp_pair *cur);
void loop_stop(struct daemon *d, int exit_code, const char *why);

#endif
