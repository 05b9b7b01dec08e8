/* The UDP ports: the listening port and the firewall mark the UAPI sets
 * on them (the uapi_host callbacks), and the sockets following the link's
 * state.
 *
 * Sockets exist only while the interface is up (docs/protocol.md §5.5, §7.6);
 * while it is down a port set through the UAPI is only remembered. A port
 * change is two-phase: prepare binds the new pair next to the old one, so a
 * failure (port in use) leaves everything as it was and sessions survive a
 * successful change (the peers follow our new source port like any
 * roaming). */
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "crypto.h"
#include "daemon.h"
#include "events.h"
#include "log.h"
#include "names.h"

static int ports_prepare_listen_port(void *ctx, uint16_t port, uint16_t *bound)
{
	struct daemon *d = ctx;
	struct ports *ports = &d->ports;

	udp_pair_close(&ports->pending);
	ports->pending_set = true;
	ports->pending_port = port;
	*bound = port;
	/* Asking for the port we already have changes nothing (binding it
	 * again would collide with ourselves). */
	if (udp_pair_is_open(&ports->cur) && port && port == ports->cur.port)
		return 0;
	/* Down and no particular port: nothing to check until up. */
	if (!udp_pair_is_open(&ports->cur) && !port)
		return 0;
	/* Up: the new sockets; down: a trial bind, so `wg set listen-port`
	 * of a busy port fails now and not silently at the next up. */
	int ret = udp_pair_bind(&ports->pending, port, ports->fwmark, &d->dp.udp);
	if (ret) {
		ports->pending_set = false;
		return ret;
	}
	*bound = ports->pending.port;
	return 0;
}

static void ports_commit_listen_port(void *ctx, bool commit)
{
	struct daemon *d = ctx;
	struct ports *ports = &d->ports;

	if (!ports->pending_set)
		return;
	ports->pending_set = false;
	if (!commit) {
		udp_pair_close(&ports->pending);
		return;
	}
	/* listen_port=0 asks for any port: roamd may change it later. */
	ports->pinned = ports->pending_port != 0;
	if (!udp_pair_is_open(&ports->cur)) {
		/* Down: remember the port, bind it when we come up. If the
		 * link is already up, an earlier bind failed: try again now
		 * that the operator chose another port. */
		udp_pair_close(&ports->pending);
		ports->port = ports->pending_port;
		if (d->link.up)
			ports_link_up(d);
		return;
	}
	if (!udp_pair_is_open(&ports->pending))
		return;	/* the same port as now */
	struct udp_pair old = ports->cur;
	ports->cur = ports->pending;
	ports->pending = UDP_PAIR_CLOSED;
	ports->port = ports->cur.port;
	loop_watch_udp(d, &old, &ports->cur);
	udp_pair_close(&old);
	/* The sticky sources were learnt on the old sockets' port. */
	datapath_clear_sources(d);
	log_info("listening on port %u", ports->port);
}

static uint16_t ports_listen_port(void *ctx)
{
	struct daemon *d = ctx;
	return udp_pair_is_open(&d->ports.cur) ? d->ports.cur.port : d->ports.port;
}

static int ports_set_fwmark(void *ctx, uint32_t mark)
{
	struct daemon *d = ctx;
	struct ports *ports = &d->ports;
	if (mark == ports->fwmark)
		return 0;
	int ret = udp_pair_set_fwmark(&ports->cur, mark);
	if (!ret)
		ret = udp_pair_set_fwmark(&ports->pending, mark);
	if (ret) {
		/* All or nothing: put back the mark that was there. */
		udp_pair_set_fwmark(&ports->cur, ports->fwmark);
		udp_pair_set_fwmark(&ports->pending, ports->fwmark);
		return ret;
	}
	ports->fwmark = mark;
	/* Another mark may mean another routing table, so another source. */
	datapath_clear_sources(d);
	log_info("fwmark set to 0x%x", mark);
	return 0;
}

static uint32_t ports_fwmark(void *ctx)
{
	struct daemon *d = ctx;
	return d->ports.fwmark;
}

static uint64_t ports_now(void *ctx)
{
	(void)ctx;
	return now_ns();
}

void ports_init(struct daemon *d)
{
	d->ports.cur = UDP_PAIR_CLOSED;
	d->ports.pending = UDP_PAIR_CLOSED;
	d->host = (struct uapi_host){
		.ctx = d,
		.prepare_listen_port = ports_prepare_listen_port,
		.commit_listen_port = ports_commit_listen_port,
		.listen_port = ports_listen_port,
		.set_fwmark = ports_set_fwmark,
		.fwmark = ports_fwmark,
		.now = ports_now,
		.clear_peer_names = names_clear_peer,
		.add_peer_name = names_add_peer,
		.resolve_names = names_refresh_all,
		.put_events = events_put_after,
		.put_peer_names = names_put_peer,
	};
}

void ports_link_up(struct daemon *d)
{
	struct ports *ports = &d->ports;
	if (device_is_up(d->dev))
		return;
	struct udp_pair none = UDP_PAIR_CLOSED;
	int ret = udp_pair_bind(&ports->cur, ports->port, ports->fwmark, &d->dp.udp);
	if (ret) {
		/* Nothing can be sent or received: stay down inside until the
		 * next up (the operator sees the error and fixes the port). */
		log_error("cannot listen on port %u: %s; the tunnel stays down", ports->port, strerror(-ret));
		return;
	}
	/* A random port, once chosen, is kept across down/up. */
	ports->port = ports->cur.port;
	loop_watch_udp(d, &none, &ports->cur);
	device_up(d->dev, now_ns());
	log_info("interface up, listening on port %u", ports->port);
}

void ports_link_down(struct daemon *d)
{
	struct ports *ports = &d->ports;
	if (!device_is_up(d->dev) && !udp_pair_is_open(&ports->cur))
		return;
	struct udp_pair none = UDP_PAIR_CLOSED;
	device_down(d->dev);
	loop_watch_udp(d, &ports->cur, &none);
	udp_pair_close(&ports->cur);
	log_info("interface down, sessions dropped");
}

void ports_free(struct daemon *d)
{
	udp_pair_close(&d->ports.cur);
	udp_pair_close(&d->ports.pending);
}

/* ---- a fresh source port ---------------------------------------------- */

/* At most one fresh port per FRESH_PORT_GAP: a path that stays dead must
 * not churn sockets (each new port is a new NAT mapping for every peer). */
#define FRESH_PORT_GAP (20 * NSEC_PER_SEC)

void ports_fresh_port(struct daemon *d, const char *reason, const char *why)
{
	struct ports *ports = &d->ports;
	/* Never when the operator pinned the port (a server, a port forward,
	 * a firewall rule for it: the peers and the rules expect that port),
	 * never while down (no sockets), never twice in a short while. */
	if (ports->pinned || !udp_pair_is_open(&ports->cur) || ports->pending_set)
		return;
	uint64_t now = now_ns();
	if (ports->fresh_at && now - ports->fresh_at < FRESH_PORT_GAP)
		return;
	ports->fresh_at = now;
	struct udp_pair fresh = UDP_PAIR_CLOSED;
	int ret = udp_pair_bind(&fresh, 0, ports->fwmark, &d->dp.udp);
	if (ret) {
		log_error("a fresh source port (%s): %s", why, strerror(-ret));
		return;
	}
	struct udp_pair old = ports->cur;
	/* Before the close, which forgets it. */
	uint16_t old_port = old.port;
	ports->cur = fresh;
	ports->port = fresh.port;
	loop_watch_udp(d, &old, &ports->cur);
	udp_pair_close(&old);
	datapath_clear_sources(d);
	ports->fresh_ports++;
	log_info("new source port %u (was %u): %s", fresh.port, old_port, why);
	events_fresh_port(d, old_port, fresh.port, reason);
}

/* Whether the kernel has a route to ep (with our fwmark) for a socket on
 * another port: a UDP connect() is a route lookup and sends nothing. No
 * route at all (the uplink is down) is not a port's fault, and a fresh
 * port would not help. */
static bool route_exists(const struct daemon *d, const struct endpoint *ep)
{
	int family = ep->addr.sa.sa_family;
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	uint32_t mark = d->ports.fwmark;
	if (mark)
		setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark));
	bool ok = connect(fd, &ep->addr.sa, family == AF_INET ? sizeof(ep->addr.in4) : sizeof(ep->addr.in6)) == 0;
	close(fd);
	return ok;
}

/* Refusals for REFUSED_FOR (one handshake retry), without a gap longer
 * than REFUSED_GAP (a retry and its jitter, so that retries alone keep a
 * streak going), ask for a fresh port: a moment's refusal (a firewall
 * reloading) does not, and FRESH_PORT_GAP bounds how often it happens. */
#define REFUSED_FOR (REKEY_TIMEOUT)
#define REFUSED_GAP (REKEY_TIMEOUT + REKEY_TIMEOUT / 2)

void ports_send_refused(struct daemon *d, const struct endpoint *to)
{
	struct ports *ports = &d->ports;
	if (ports->pinned)
		return;
	uint64_t now = now_ns();
	if (!ports->refused_since || now - ports->refused_last > REFUSED_GAP)
		ports->refused_since = now;
	ports->refused_last = now;
	ports->refused_to = *to;
	if (now - ports->refused_since >= REFUSED_FOR)
		ports->fresh_wanted = true;
}

void ports_run(struct daemon *d)
{
	struct ports *ports = &d->ports;
	if (!ports->fresh_wanted)
		return;
	ports->fresh_wanted = false;
	ports->refused_since = 0;
	/* The kernel refused our datagrams (EPERM: a firewall rule; or
	 * ENETUNREACH: a routing rule) while it has a route to the peer:
	 * the rule may be about this source port (a stale conntrack entry,
	 * a sport-based policy). With no route at all, the uplink is down:
	 * a new port would change nothing. */
	if (route_exists(d, &ports->refused_to))
		ports_fresh_port(d, "send_refused",
				 "sends to a peer were refused (EPERM/ENETUNREACH) for 5 s while a route to it exists");
}

void ports_on_device_event(struct daemon *d, const struct device_event *ev)
{
	if (ev->type != EVENT_ATTEMPT_UNANSWERED || d->ports.pinned)
		return;
	/* A handshake we sent went unanswered (not only data), to a peer that
	 * had a session: the address was good, so the path's state may be
	 * what is bad. */
	struct peer_info info;
	peer_get_info(ev->peer, &info);
	bool known_good = info.last_handshake_mono != 0 && info.handshake_attempts >= 1;
	crypto_wipe(&info, sizeof(info));
	if (known_good)
		ports_fresh_port(d, "unanswered", "a handshake to a peer that answered before went unanswered");
}
