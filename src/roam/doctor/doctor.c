/* roam doctor: observe an interface the way the playbook of docs/roaming.md §6 does, and
 * hand each observation to its judge (doctor_judge.c). */
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "doctor.h"
#include "doctor_rpfilter.h"
#include "forked.h"
#include "json.h"
#include "rtnl.h"
#include "run.h"
#include "state.h"

static const char doctor_usage[] =
	"Usage: roam doctor [IFNAME] [--json] [--config FILE] [--probe ADDRESS]... [--dns ADDRESS]...\n"
	"                   [--wait SECONDS]\n"
	"\n"
	"Runs the fast diagnosis playbook on IFNAME (or on every interface), in its order:\n"
	"  daemon      the daemon answers, the interface is up, its UDP port is bound\n"
	"  sending     this host lets the datagrams to the peers out (roamd counts each refusal)\n"
	"  rpfilter    a full tunnel of roam up's has its nftables tables (roam-IFNAME), without\n"
	"              which strict reverse-path filtering (rp_filter=1) drops the replies\n"
	"  udp         UDP from the peers reaches this host and the daemon (watched like tcpdump)\n"
	"  handshake   each peer's handshake is fresh, or why not (wrong keys, no answer)\n"
	"  endpoint    where each peer is now, and whether it followed the peer's roams\n"
	"  keepalive   set on the side behind NAT, and below the NAT timeouts seen\n"
	"  forwarding  forwarding, a forward chain that lets them and their replies through,\n"
	"              and a source NAT that applies (no notrack) to an address of this host,\n"
	"              when the peers route through this host\n"
	"  routes      the AllowedIPs route into the interface (and a full tunnel's policy rules)\n"
	"  datapath    pings to each live peer come back through the tunnel, or where they\n"
	"              died (the daemon's drop counters meanwhile, ICMP errors)\n"
	"  mtu         the largest packet that passes unfragmented to each live peer (the\n"
	"              first 8 a run, and any named by --probe)\n"
	"  dns         each DNS server is inside the AllowedIPs and answers\n"
	"  clock       the system clock is synchronised\n"
	"Each prints PASS, WARN, FAIL or SKIP (not judged: an earlier check failed for that\n"
	"peer), the evidence, and '-> ' the decision it suggests.\n"
	"\n"
	"  --json            the report as JSON (docs/doctor-json.md)\n"
	"  --config FILE     the wg-quick file the interface came from (default: the one roam up\n"
	"                    used, else /etc/wireguard/IFNAME.conf): its Endpoints and DNS\n"
	"  --probe ADDRESS   a peer's tunnel address to ping, for peers whose AllowedIPs hold no\n"
	"                    single address (else doctor guesses one: a DNS server inside them,\n"
	"                    then the first host of this interface's Address prefix)\n"
	"  --dns ADDRESS     a DNS server to check instead of the config's\n"
	"  --wait SECONDS    how long to watch for a peer without a fresh handshake (default 6,\n"
	"                    more than one handshake retry; 0: do not watch)\n"
	"\n"
	"Needs root. Exit status: 0 nothing failed (warnings allowed), 1 a check failed or an\n"
	"interface could not be examined, 2 usage error.\n";

struct doctor_options {
	bool json;
	const char *config;
	struct ip_prefix *probes, *dns;
	size_t n_probes, n_dns;
	unsigned wait_ms;
	bool wait_given;
};

/* Drop causes of the sending side: not datagrams the daemon received. */
static bool is_send_drop(const char *reason)
{
	return !strcmp(reason, "no_route") || !strcmp(reason, "no_endpoint") || !strcmp(reason, "staged_overflow") ||
	       !strncmp(reason, "send_", 5);
}

static uint64_t received_total(const struct uapi_device *dev)
{
	uint64_t n = 0;

	for (size_t i = 0; i < dev->n_peers; i++)
		n += dev->peers[i].rx_packets;
	for (size_t i = 0; i < dev->n_drops; i++)
		if (!is_send_drop(dev->drops[i].reason))
			n += dev->drops[i].count;
	return n;
}

/* The interface's own addresses with their prefix lengths. */
size_t doctor_own_addresses(const char *ifname, struct ip_prefix **out)
{
	struct ifaddrs *list, *a;
	size_t n = 0;

	*out = NULL;
	if (getifaddrs(&list) < 0)
		return 0;
	for (a = list; a; a = a->ifa_next) {
		struct ip_prefix *p;
		const uint8_t *mask;
		size_t alen;

		if (!a->ifa_addr || !a->ifa_netmask || strcmp(a->ifa_name, ifname) ||
		    (a->ifa_addr->sa_family != AF_INET && a->ifa_addr->sa_family != AF_INET6))
			continue;
		p = ARRAY_PUSH(*out, n);
		p->family = a->ifa_addr->sa_family;
		alen = p->family == AF_INET ? 4 : 16;
		if (p->family == AF_INET) {
			memcpy(p->addr, &((struct sockaddr_in *)a->ifa_addr)->sin_addr, 4);
			mask = (const uint8_t *)&((struct sockaddr_in *)a->ifa_netmask)->sin_addr;
		} else {
			memcpy(p->addr, &((struct sockaddr_in6 *)a->ifa_addr)->sin6_addr, 16);
			mask = (const uint8_t *)&((struct sockaddr_in6 *)a->ifa_netmask)->sin6_addr;
		}
		for (size_t i = 0; i < alen; i++)
			p->cidr = (uint8_t)(p->cidr + __builtin_popcount(mask[i]));
	}
	freeifaddrs(list);
	return n;
}

/* The config the interface came from, if there is one to find; quietly
 * nothing otherwise (doctor then judges by the daemon's state alone). */
static bool load_config(const char *ifname, const char *given, struct config *cfg)
{
	struct diag_list diags = { 0 };
	struct roam_state st = { 0 };
	char path[256] = "", err[128];
	bool ok;

	if (given) {
		snprintf(path, sizeof(path), "%s", given);
	} else if (state_load(ifname, &st, err, sizeof(err)) == 0 && st.config) {
		snprintf(path, sizeof(path), "%s", st.config);
	} else {
		snprintf(path, sizeof(path), "/etc/wireguard/%s.conf", ifname);
	}
	state_free(&st);
	ok = config_parse_file(path, cfg, &diags) == 0;
	if (!ok && given)
		fprintf(stderr, "roam doctor: cannot read %s: %s\n", given, strerror(errno));
	diag_list_free(&diags);
	return ok;
}

static const struct config_peer *config_find_peer(const struct config *cfg, const uint8_t key[KEY_LEN])
{
	for (size_t i = 0; cfg && i < cfg->n_peers; i++)
		if (cfg->peers[i].public_key_line && !memcmp(cfg->peers[i].public_key, key, KEY_LEN))
			return &cfg->peers[i];
	return NULL;
}

/* Does this side connect out to the peer (and so sit behind any NAT)? */
static bool side_initiates(const struct uapi_peer *peer, const struct config *cfg, const char **why)
{
	const struct config_peer *cp = config_find_peer(cfg, peer->public_key);

	if (cp) {
		*why = cp->endpoint.line ? "the config gives its Endpoint" : "";
		return cp->endpoint.line != 0;
	}
	if (!peer->endpoint[0])
		return false;
	for (size_t i = 0; i < peer->n_allowed_ips; i++) {
		const struct ip_prefix *a = &peer->allowed_ips[i];

		if (a->cidr < (a->family == AF_INET ? 32 : 128)) {
			*why = "it has an Endpoint and networks behind it";
			return true;
		}
	}
	return false;
}

/* ---- the pingers, one per family, opened when first needed ------------ */

struct pingers {
	struct pinger p[2];
	int err[2];
	bool opened[2];
	const char *ifname;
};

static struct pinger *pinger_for(struct pingers *ps, int family, int *err)
{
	int i = family == AF_INET6;

	if (!ps->opened[i]) {
		ps->opened[i] = true;
		ps->err[i] = pinger_open(&ps->p[i], family, ps->ifname);
	}
	*err = ps->err[i];
	return ps->err[i] ? NULL : &ps->p[i];
}

static void pingers_close(struct pingers *ps)
{
	for (int i = 0; i < 2; i++)
		if (ps->opened[i] && !ps->err[i])
			pinger_close(&ps->p[i]);
}

/* ---- watching ---------------------------------------------------------- */

static bool all_fresh(const struct uapi_device *dev, uint64_t now_ms)
{
	uint64_t age;

	for (size_t i = 0; i < dev->n_peers; i++)
		if (peer_handshake_verdict(&dev->peers[i], now_ms, &age) != HANDSHAKE_FRESH)
			return false;
	return true;
}

/* The drop causes that grew from old to now, with their growth. */
static void drops_growth(const struct uapi_drop *old, size_t n_old, const struct uapi_drop *now, size_t n_now,
			 struct uapi_drop **out, size_t *n_out)
{
	for (size_t i = 0; i < n_now; i++) {
		uint64_t was = drop_count(old, n_old, now[i].reason);

		if (now[i].count > was) {
			struct uapi_drop *d = ARRAY_PUSH(*out, *n_out);

			*d = now[i];
			d->count -= was;
		}
	}
}

/* Did the daemon refuse a handshake since old, for a cause the handshake
 * check names (wrong keys, a clock gone back)? */
static bool handshake_refused(const struct uapi_drop *old, size_t n_old, const struct uapi_device *now)
{
	static const char *const causes[] = { "bad_mac1", "unknown_peer", "handshake_decrypt", "stale_timestamp" };

	for (size_t i = 0; i < sizeof(causes) / sizeof(causes[0]); i++)
		if (drop_count(now->drops, now->n_drops, causes[i]) > drop_count(old, n_old, causes[i]))
			return true;
	return false;
}
/* A DNAT/redirect of the listen port in the ruleset into rule ("" none). */
static void find_port_redirect(uint16_t port, char *rule, size_t len)
{
	char *ruleset;

	rule[0] = '\0';
	if (host_nft_ruleset(&ruleset) != 0)
		return;
	ruleset_find_port_redirect(ruleset, port, rule, len);
	free(ruleset);
}


/* Watches the UDP port while the peers without a fresh handshake get their
 * chance (and those doctor nudged answer), ending early once all are fresh.
 * *dev is replaced by the daemon's state at the end. */
static void watch(const char *ifname, struct uapi_device *dev, int fd, struct icmp_watch *icmp, unsigned wait_ms,
		  const struct ip_prefix *probed_endpoints, size_t n_probed, struct watch_observation *w)
{
	const uint64_t before = received_total(dev);
	const uint64_t start = probe_now_ms();
	struct uapi_drop *old = NULL;
	size_t n_old = dev->n_drops;
	bool refreshed = false;
	char err[160];

	if (n_old) {
		old = xrealloc(NULL, n_old * sizeof(*old));
		memcpy(old, dev->drops, n_old * sizeof(*old));
	}
	w->watched = true;
	w->counted = dev->extended;
	while (probe_now_ms() - start < wait_ms) {
		unsigned left = (unsigned)(wait_ms - (probe_now_ms() - start));
		struct uapi_device now = { 0 };

		capture_run(fd, dev->listen_port, left < 500 ? left : 500, &w->capture);
		/* Errors about the endpoints of the peers whose data paths are
		 * probed meanwhile are theirs, not the silent peers'. */
		if (w->icmp_watched)
			icmp_watch_drain_filtered(icmp, dev->listen_port, probed_endpoints, n_probed, false,
						  &w->icmp);
		if (uapi_get_device(ifname, &now, err, sizeof(err)) != 0)
			break;
		uapi_device_free(dev);
		*dev = now;
		refreshed = true;
		if (all_fresh(dev, wall_clock_ms()))
			break;
		/* An ICMP error about our datagrams, or a handshake the daemon
		 * refused for a cause it names, is the answer: a second's worth
		 * of them is enough to tell it from a stray one. */
		if ((w->icmp.total || handshake_refused(old, n_old, dev)) && probe_now_ms() - start >= 1000)
			break;
	}
	/* Without a second reading there is nothing to compare. */
	w->counted = w->counted && refreshed;
	w->received = refreshed ? received_total(dev) - before : 0;
	if (refreshed)
		drops_growth(old, n_old, dev->drops, dev->n_drops, &w->drops, &w->n_drops);
	free(old);
	if (w->counted && w->capture.datagrams && !w->received)
		find_port_redirect(dev->listen_port, w->redirect_rule, sizeof(w->redirect_rule));
}

/* ---- routes ------------------------------------------------------------ */

/* An address of prefix that a route lookup should send into the tunnel:
 * the prefix itself for a single address, else the middle of the range
 * (not .0 or .1, which are often the network or this host), nudged by
 * `step` to get past a local address. */
static void route_sample(const struct ip_prefix *prefix, unsigned step, struct ip_prefix *out)
{
	size_t alen = prefix->family == AF_INET ? 4 : 16;

	*out = *prefix;
	ip_prefix_mask(out);
	if (prefix->cidr < alen * 8) {
		out->addr[prefix->cidr / 8] |= (uint8_t)(0x80 >> (prefix->cidr % 8));
		if ((size_t)prefix->cidr + 8 < alen * 8)
			out->addr[alen - 1] = (uint8_t)(out->addr[alen - 1] + 1 + step);
	}
	out->cidr = (uint8_t)(alen * 8);
}

/* The first (last: !first) host of prefix, or false when that is no
 * unicast address worth a route lookup: prefixes wider than a /8 (a /16
 * in IPv6) such as the default routes, whose edges are the zero network,
 * multicast or loopback, and single addresses, which the middle covers. */
static bool route_edge(const struct ip_prefix *prefix, bool first, struct ip_prefix *out)
{
	size_t alen = prefix->family == AF_INET ? 4 : 16;
	unsigned wide = prefix->family == AF_INET ? 8 : 16;

	if (prefix->cidr < wide || (size_t)prefix->cidr + 2 > alen * 8)
		return false;
	*out = *prefix;
	ip_prefix_mask(out);
	for (size_t bit = prefix->cidr; !first && bit < alen * 8; bit++)
		out->addr[bit / 8] |= (uint8_t)(0x80 >> (bit % 8));
	out->addr[alen - 1] ^= 1;	/* .0 -> .1, .255 -> .254 */
	out->cidr = (uint8_t)(alen * 8);
	if (prefix->family == AF_INET)
		return out->addr[0] != 0 && out->addr[0] != 127 && out->addr[0] < 224;
	return out->addr[0] != 0xff;
}

static const char *table_name(uint32_t table, char *buf, size_t len)
{
	if (table == 254)
		return "main";
	if (table == 253)
		return "default";
	snprintf(buf, len, "%u", table);
	return buf;
}

static bool is_host_address(const struct ip_prefix *p)
{
	return p->cidr == (p->family == AF_INET ? 32 : 128);
}

/* A prefix whose sample leaves by interface oif, inside a network this
 * host has an address on there: the prefix is (part of) the local LAN,
 * not something to route into the tunnel. */
static void note_local_network(const struct ip_prefix *sample, int oif, const char *label,
			       struct routes_observation *o)
{
	char name[IF_NAMESIZE];
	struct ip_prefix *own = NULL;
	size_t n;

	if (!if_indextoname((unsigned)oif, name))
		return;
	n = doctor_own_addresses(name, &own);
	for (size_t i = 0; i < n; i++) {
		if (is_host_address(&own[i]) || !ip_prefix_contains(&own[i], sample))
			continue;
		if (!o->n_local_networks++) {
			snprintf(o->local_prefix, sizeof(o->local_prefix), "%s", label);
			snprintf(o->local_dev, sizeof(o->local_dev), "%s", name);
			ip_prefix_str(&own[i], o->local_subnet);
		}
		break;
	}
	free(own);
}

/* Looks sample up (ip route get) and notes it as a miss of label when it
 * does not leave by ifindex: true if it missed. */
static bool route_sample_missed(struct rtnl *nl, const struct ip_prefix *sample, int ifindex, const char *label,
				bool overridden, struct routes_observation *o)
{
	enum { SHOW_MAX = 4 };
	char name[IF_NAMESIZE], tb[16];
	uint32_t table = 0;
	bool local = false;
	int oif = 0;
	int ret = rtnl_route_get_table(nl, sample, 0, &oif, &table, &local);

	if (!ret && (oif == ifindex || local))
		return false;
	if (overridden)
		o->n_overridden++;
	else
		o->n_misses++;
	if (!overridden && !ret && oif > 0)
		note_local_network(sample, oif, label, o);
	if (o->n_shown < SHOW_MAX) {
		struct route_miss *m = ARRAY_PUSH(o->misses, o->n_shown);

		m->overridden = overridden;
		snprintf(m->prefix, sizeof(m->prefix), "%s", label);
		if (ret)
			snprintf(m->goes, sizeof(m->goes), "no route");
		else
			snprintf(m->goes, sizeof(m->goes), "%s (table %s)",
				 if_indextoname((unsigned)oif, name) ? name : "another interface",
				 table_name(table, tb, sizeof(tb)));
	}
	return true;
}

static bool inside_allowed_ips(const struct uapi_device *dev, const struct ip_prefix *addr)
{
	for (size_t i = 0; i < dev->n_peers; i++)
		for (size_t j = 0; j < dev->peers[i].n_allowed_ips; j++)
			if (ip_prefix_contains(&dev->peers[i].allowed_ips[j], addr))
				return true;
	return false;
}

/* Each AllowedIPs prefix's middle must route into the interface (else the
 * route is missing); its first and last hosts, and the addresses doctor
 * and the user depend on (DNS servers, probe addresses) inside them, too:
 * when they do not, a more specific route or a policy rule takes them
 * elsewhere although the prefix's own route is there. */
static void observe_routes(const struct uapi_device *dev, int ifindex, const struct ip_prefix *extra,
			   const char *const *extra_what, size_t n_extra, struct routes_observation *o)
{
	enum { CHECK_MAX = 4096 };
	struct rtnl nl;
	char a[IP_PREFIX_STRLEN], label[IP_PREFIX_STRLEN + 16];

	memset(o, 0, sizeof(*o));
	o->n_peers = dev->n_peers;
	for (size_t i = 0; i < dev->n_peers; i++)
		o->total += dev->peers[i].n_allowed_ips;
	if (!o->total || rtnl_open(&nl) != 0)
		return;
	for (size_t i = 0; i < dev->n_peers && o->checked < CHECK_MAX; i++)
		for (size_t j = 0; j < dev->peers[i].n_allowed_ips && o->checked < CHECK_MAX; j++) {
			const struct ip_prefix *p = &dev->peers[i].allowed_ips[j];
			struct ip_prefix sample;
			bool local = false;
			int oif = 0, ret = 0;

			for (unsigned step = 0; step < 3; step++) {
				route_sample(p, step, &sample);
				ret = rtnl_route_get_oif(&nl, &sample, &oif, &local);
				if (ret || !local)
					break;
			}
			o->checked++;
			if (route_sample_missed(&nl, &sample, ifindex, ip_prefix_str(p, a), false, o))
				continue;
			for (int first = 1; first >= 0; first--)
				if (route_edge(p, first, &sample) &&
				    route_sample_missed(&nl, &sample, ifindex, ip_prefix_str(&sample, a), true, o))
					break;
		}
	for (size_t i = 0; i < n_extra; i++) {
		if (!inside_allowed_ips(dev, &extra[i]))
			continue;
		snprintf(label, sizeof(label), "%s (%s)", ip_prefix_str(&extra[i], a), extra_what[i]);
		route_sample_missed(&nl, &extra[i], ifindex, label, true, o);
	}
	rtnl_close(&nl);
}

/* ---- mtu --------------------------------------------------------------- */

struct ping_probe_ctx {
	struct pinger *pinger;
	const struct ip_prefix *dst;
	int timeout_ms;
};

static int ping_probe(void *ctx, unsigned packet_len)
{
	struct ping_probe_ctx *c = ctx;
	uint64_t rtt;
	int ret = pinger_echo(c->pinger, c->dst, packet_len, c->timeout_ms, &rtt);

	return ret == -EMSGSIZE ? 0 : ret;
}

static void observe_mtu(struct pingers *ps, const struct ip_prefix *addr, unsigned mtu, struct mtu_observation *o)
{
	struct ping_probe_ctx ctx;
	unsigned small;
	int ret = 0;

	o->interface_mtu = mtu;
	ctx.pinger = pinger_for(ps, addr->family, &o->error);
	if (!ctx.pinger)
		return;
	small = addr->family == AF_INET ? 84 : 104;	/* ping's default 56 bytes of data */
	for (int t = 0; t < 3 && ret == 0; t++) {
		ret = pinger_echo(ctx.pinger, addr, small, 1000, &o->rtt_us);
		o->probes++;
	}
	if (ret < 0) {
		o->error = ret;
		return;
	}
	o->reachable = ret == 1;
	if (!o->reachable || mtu <= small) {
		o->largest = (int)small;
		return;
	}
	/* Lost replies of a live peer come back within a few round trips. */
	ctx.dst = addr;
	ctx.timeout_ms = (int)(o->rtt_us * 4 / 1000) + 200;
	if (ctx.timeout_ms > 2000)
		ctx.timeout_ms = 2000;
	ret = largest_passing_packet(ping_probe, &ctx, small, mtu, 2, &o->probes);
	if (ret < 0)
		o->error = ret;
	else
		o->largest = ret;
}

/* ---- dns --------------------------------------------------------------- */

/* The servers resolvectl has for the link ("Link 5 (wg0): 198.18.6.1 ..."). */
static size_t resolvectl_servers(const char *ifname, struct ip_prefix **out)
{
	char prog[256], *text, *s, *tok, *save;
	size_t n = 0, len;

	*out = NULL;
	if (!run_find_program("resolvectl", prog, sizeof(prog)))
		return 0;
	if (run_capture((char *const[]){ prog, "dns", (char *)ifname, NULL }, &text, &len) != 0) {
		free(text);
		return 0;
	}
	s = strchr(text, ':');
	for (tok = s ? strtok_r(s + 1, " \t\n", &save) : NULL; tok; tok = strtok_r(NULL, " \t\n", &save)) {
		struct ip_prefix p;

		if (ip_prefix_parse(&p, tok, true))
			*ARRAY_PUSH(*out, n) = p;
	}
	free(text);
	return n;
}

/* ---- one interface ----------------------------------------------------- */

/* What the steps of examine share about the interface under examination. */
struct exam {
	const char *ifname;
	const struct doctor_options *opt;
	struct doctor_report *r;
	struct uapi_device dev;		/* refreshed by the watch */
	struct config cfg;
	bool have_cfg;
	struct ip_prefix *own;		/* this host's addresses on the interface */
	size_t n_own;
	struct ip_prefix *dns;		/* --dns, else the config's DNS addresses */
	size_t n_dns;
	struct probe_candidates probe;	/* what a peer's probe target is chosen from */
	int ifindex;
	struct pingers ps;
	struct watch_observation w;
	bool *nudged;			/* per peer, indexed as before the watch */
	size_t n_nudged;
	bool *skipped;			/* per peer: later checks are SKIP */
	bool *datapath_failed;		/* per peer: its mtu and dns are SKIP */
	bool *ping_ignored;		/* per peer: answers TCP or DNS, not ping: its mtu is SKIP */
	bool *target_silent;		/* per peer: a guessed target answered nothing: its mtu is SKIP */
	int *datapath_family;		/* per peer: the family of the address pinged, 0 none */
	bool routes_failed;
	bool rpfilter_failed;		/* the replies die in this host's reverse-path filter */
	bool udp_failed;		/* UDP does not reach the daemon (see udp) */
	struct icmp_watch icmp;		/* fd4, fd6 -1 when not open */
	uint64_t now_ms;		/* of the per-peer checks; the MTU ones reuse it */
	struct datapath_job *jobs;	/* the datapath probes under way, one child each */
	size_t n_jobs;
	struct ip_prefix *probed_endpoints;	/* the endpoint addresses of the peers probed early */
	size_t n_probed_endpoints;
};

/* One peer's datapath probe, running in a child (forked.h) so that all
 * peers' probes share one window: a dead peer costs seconds of waiting for
 * replies and ICMP errors, and a hub has many. */
struct datapath_job {
	uint8_t key[KEY_LEN];
	struct ip_prefix address;
	struct forked f;
};

/* The daemon: the process that holds the UAPI socket now and, of several,
 * the one that holds the UDP port too. The socket's peer credentials are
 * only the fallback: they name whoever made the socket, which for
 * wireguard-go is a parent that has exited since. */
static int daemon_pid(const char *ifname, const char *socket_path, uint16_t port)
{
	pid_t holders[8];
	size_t n = host_socket_holders(socket_path, holders, 8);
	struct host_udp_binds b;

	for (size_t i = 0; i < n; i++)
		if (n == 1 || (host_udp_binds(port, holders[i], &b) == 0 && b.owned))
			return holders[i];
	return n ? holders[0] : uapi_daemon_pid(ifname);
}

/* A process's state letter from /proc/PID/stat (the field after the
 * parenthesised name, which may itself hold parentheses); 0 if gone. */
static char process_state(pid_t pid)
{
	char path[64], buf[512], *close_paren;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	close_paren = strrchr(buf, ')');
	return close_paren && close_paren[1] == ' ' ? close_paren[2] : 0;
}

/* The daemon did not answer: is a live process holding its socket (a
 * stopped or hung daemon), or is there none (not running)? */
static void note_socket_holder(struct daemon_observation *d)
{
	pid_t holders[8];
	size_t n = host_socket_holders(d->socket_path, holders, 8);

	for (size_t i = 0; i < n; i++) {
		char state = process_state(holders[i]);

		if (state && state != 'Z' && state != 'X') {
			d->holder_pid = holders[i];
			d->holder_state = state;
			return;
		}
	}
}

/* Asks the daemon and judges it; true when nothing else can be examined. */
static bool check_daemon(struct exam *x)
{
	struct daemon_observation d = { 0 };
	int pid;

	uapi_socket_path(x->ifname, d.socket_path);
	d.get_error = uapi_get_device(x->ifname, &x->dev, d.get_reason, sizeof(d.get_reason));
	if (d.get_error) {
		note_socket_holder(&d);
		return judge_daemon(x->r, &d);
	}
	d.dev = &x->dev;
	key_to_base64(x->r->public_key, x->dev.public_key);
	x->r->listen_port = x->dev.listen_port;
	pid = daemon_pid(x->ifname, d.socket_path, x->dev.listen_port);
	if (pid > 0) {
		x->r->pid = pid;
		host_process_name(pid, x->r->daemon, sizeof(x->r->daemon));
	}
	d.link_error = host_link_flags(x->ifname, &d.link_flags);
	d.binds_error = host_udp_binds(x->dev.listen_port, pid > 0 ? pid : 0, &d.binds);
	return judge_daemon(x->r, &d);
}

/* Peers without a fresh handshake: nudge those we can reach (a ping
 * starts a handshake), and watch what arrives meanwhile. */
/* Has this host ever refused a datagram to the peer (roamd's send_*
 * drops)? Then doctor watches, and nudges, even a peer whose handshake is
 * fresh: whether the refusals go on is what the sending check judges. */
static bool send_refusals(const struct uapi_drop *drops, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strncmp(drops[i].reason, "send_", 5) && drops[i].count)
			return true;
	return false;
}

/* How long to watch: long enough to see the silent peers try again, as
 * far as the daemon can tell. A peer doctor nudged answers within a round
 * trip, and one whose handshake is under way retries every 5 s; one that
 * gave up tries again with its next packet, its keepalive (taken to be
 * this side's for it, else the customary 25 s). Past what a run should
 * take (9 s), the watch stays short and the udp check says the evidence
 * is incomplete. --wait given: that, always. */
static unsigned watch_length(struct exam *x, uint64_t now_ms)
{
	enum { RETRY_MS = 5000, CUSTOMARY_KEEPALIVE_S = 25, LONGEST_MS = 9000 };
	uint64_t retry = 0, age;

	for (size_t i = 0; i < x->dev.n_peers; i++) {
		const struct uapi_peer *p = &x->dev.peers[i];
		uint64_t gap;

		if (peer_handshake_verdict(p, now_ms, &age) == HANDSHAKE_FRESH || x->nudged[i])
			continue;
		gap = p->handshake_attempts ? RETRY_MS
					    : (uint64_t)(p->persistent_keepalive ? p->persistent_keepalive
										  : CUSTOMARY_KEEPALIVE_S) * 1000;
		if (gap > retry)
			retry = gap;
	}
	x->w.peer_retry_ms = retry;
	if (x->opt->wait_given || retry + 1000 <= x->opt->wait_ms || retry + 1000 > LONGEST_MS)
		return x->opt->wait_ms;
	return (unsigned)retry + 1000;
}

static void nudge_and_watch(struct exam *x)
{
	uint64_t now_ms = wall_clock_ms(), age;
	int fd = -1, err;

	x->n_nudged = x->dev.n_peers;
	x->nudged = xrealloc(NULL, (x->n_nudged + 1) * sizeof(*x->nudged));
	memset(x->nudged, 0, (x->n_nudged + 1) * sizeof(*x->nudged));
	bool refusals = send_refusals(x->dev.drops, x->dev.n_drops);
	if ((all_fresh(&x->dev, now_ms) && !refusals) || !x->opt->wait_ms)
		return;
	fd = capture_open(x->dev.listen_port);
	if (fd < 0)
		x->w.capture_error = fd;
	for (size_t i = 0; i < x->dev.n_peers; i++) {
		const struct uapi_peer *p = &x->dev.peers[i];
		struct ip_prefix addr;
		struct pinger *pg;
		uint64_t rtt;

		if ((peer_handshake_verdict(p, now_ms, &age) == HANDSHAKE_FRESH &&
		     !send_refusals(p->drops, p->n_drops)) || !p->endpoint[0] ||
		    !doctor_probe_address(p, &x->probe, &addr))
			continue;
		pg = pinger_for(&x->ps, addr.family, &err);
		if (pg && pinger_echo(pg, &addr, PING_MIN_PACKET, 0, &rtt) >= 0)
			x->nudged[i] = true;
	}
	unsigned wait_ms = watch_length(x, now_ms);

	if (fd >= 0) {
		watch(x->ifname, &x->dev, fd, &x->icmp, wait_ms, x->probed_endpoints, x->n_probed_endpoints, &x->w);
		close(fd);
	}
}

/* Per peer, in the playbook's order: handshake, endpoint, keepalive. */
static void check_peers(struct exam *x, const char *udp_failed)
{
	/* The watch refreshed dev: size by what the daemon says now. */
	x->skipped = xrealloc(NULL, (x->dev.n_peers + 1) * sizeof(*x->skipped));
	memset(x->skipped, 0, (x->dev.n_peers + 1) * sizeof(*x->skipped));
	x->now_ms = wall_clock_ms();
	for (size_t i = 0; i < x->dev.n_peers; i++) {
		struct peer_observation po = { .peer = &x->dev.peers[i], .udp_failed = udp_failed };

		po.verdict = peer_handshake_verdict(po.peer, x->now_ms, &po.handshake_age_ms);
		po.initiates = side_initiates(po.peer, x->have_cfg ? &x->cfg : NULL, &po.initiates_why);
		/* The nudges were indexed before the refresh; peers keep their order. */
		po.nudged = i < x->n_nudged && x->nudged[i];
		x->skipped[i] = judge_handshake(x->r, &po, &x->w);
		judge_endpoint(x->r, &po, x->skipped[i], x->now_ms);
		judge_keepalive(x->r, &po);
	}
}

static bool note_default_route(const struct rtnl_route *route, void *ctx)
{
	int *oif = ctx;

	if (route->dst.cidr || route->table != 254 || !route->oif)
		return true;
	*oif = route->oif;
	return false;
}

/* The interface forwarded clients' traffic to the world leaves by: the
 * main table's default route's. */
static void default_route_interface(char name[IF_NAMESIZE])
{
	struct rtnl nl;
	int oif = 0;

	name[0] = '\0';
	if (rtnl_open(&nl) != 0)
		return;
	rtnl_route_dump(&nl, AF_INET, note_default_route, &oif);
	rtnl_close(&nl);
	if (oif && !if_indextoname((unsigned)oif, name))
		name[0] = '\0';
}

/* Addresses nothing upstream routes back to this host unless told: the
 * private ranges (RFC 1918, shared 100.64/10) and the documentation and
 * benchmark ones. */
static bool unroutable_upstream(const struct ip_prefix *a)
{
	const uint8_t *b = a->addr;

	return b[0] == 10 || (b[0] == 172 && (b[1] & 0xf0) == 16) || (b[0] == 192 && b[1] == 168) ||
	       (b[0] == 100 && (b[1] & 0xc0) == 64) || (b[0] == 198 && (b[1] & 0xfe) == 18) ||
	       (b[0] == 192 && b[1] == 0 && b[2] == 2) || (b[0] == 198 && b[1] == 51 && b[2] == 100) ||
	       (b[0] == 203 && b[1] == 0 && b[2] == 113);
}

static bool clients_private(const struct uapi_device *dev)
{
	size_t n = 0;

	for (size_t i = 0; i < dev->n_peers; i++)
		for (size_t j = 0; j < dev->peers[i].n_allowed_ips; j++) {
			const struct ip_prefix *a = &dev->peers[i].allowed_ips[j];

			if (a->family != AF_INET)
				continue;
			if (!unroutable_upstream(a))
				return false;
			n++;
		}
	return n > 0;
}

/* Every peer's AllowedIPs in one array (the caller frees), for the
 * source NAT's saddr match; NULL with none or no memory, which the search
 * takes as no opinion on the source. */
static struct ip_prefix *clients_prefixes(const struct uapi_device *dev, size_t *n)
{
	struct ip_prefix *all;
	size_t total = 0;

	*n = 0;
	for (size_t i = 0; i < dev->n_peers; i++)
		total += dev->peers[i].n_allowed_ips;
	if (!total || !(all = calloc(total, sizeof(*all))))
		return NULL;
	for (size_t i = 0; i < dev->n_peers; i++)
		for (size_t j = 0; j < dev->peers[i].n_allowed_ips; j++)
			all[(*n)++] = dev->peers[i].allowed_ips[j];
	return all;
}

/* The first of the tunnel's and the egress's net.ipv4.conf.X.forwarding
 * that reads 0, into out ("" when both forward). IPv4 only: IPv6 forwards
 * by net.ipv6.conf.all.forwarding alone, its per-interface value only
 * makes the interface a router or a host for autoconfiguration. */
static void find_interface_forwarding_off(const char *tunnel, const char *egress, char *out, size_t len)
{
	const char *const names[] = { tunnel, egress };
	char sysctl[64 + IF_NAMESIZE];
	int v;

	out[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!names[i] || !names[i][0])
			continue;
		snprintf(sysctl, sizeof(sysctl), "net.ipv4.conf.%s.forwarding", names[i]);
		if (host_sysctl_int(sysctl, &v) == 0 && v == 0) {
			snprintf(out, len, "%s", sysctl);
			return;
		}
	}
}

static void check_forwarding(struct exam *x)
{
	struct forwarding_observation fo = { 0 };

	fo.hub = doctor_peers_route_through(&x->dev, &fo.ipv6_clients);
	if (host_sysctl_int("net.ipv4.ip_forward", &fo.ipv4))
		fo.ipv4 = -1;
	if (host_sysctl_int("net.ipv6.conf.all.forwarding", &fo.ipv6))
		fo.ipv6 = -1;
	if (fo.hub) {
		char *ruleset;
		int err = host_nft_ruleset(&ruleset);

		default_route_interface(fo.egress);
		fo.clients_private = clients_private(&x->dev);
		/* One read for both: nft takes a while on a large ruleset. */
		size_t n_clients = 0;
		struct ip_prefix *clients = clients_prefixes(&x->dev, &n_clients);

		fo.nat = err ? err
			     : ruleset_find_source_nat(ruleset, fo.egress, clients, n_clients, fo.nat_rule,
						       sizeof(fo.nat_rule));
		fo.notrack = !err && ruleset_find_notrack(ruleset, x->ifname, clients, n_clients, fo.notrack_rule,
							  sizeof(fo.notrack_rule));
		if (fo.ipv4 == 1)
			doctor_observe_lan_replies(x->ifindex, x->own, x->n_own, clients, n_clients, &fo);
		free(clients);
		fo.replies_dropped = !err && ruleset_find_forward_replies_drop(ruleset, x->ifname, fo.replies_rule,
									       sizeof(fo.replies_rule));
		if (fo.nat == 1 && snat_rule_address(fo.nat_rule, fo.snat_address, sizeof(fo.snat_address)))
			fo.snat_address_local = host_address_is_local(fo.snat_address);
		fo.forward_drop = err ? err
				      : ruleset_find_forward_drop(ruleset, x->ifname, fo.forward_rule,
								  sizeof(fo.forward_rule));
		fo.input_drop = err ? err
				    : ruleset_find_input_drop(ruleset, x->ifname, fo.input_rule, sizeof(fo.input_rule));
		char ipv6_nat[256] = "";
		if (!err)
			ruleset_find_ipv6_source_nat(ruleset, ipv6_nat, sizeof(ipv6_nat));
		doctor_ipv6_forwarding_needed(&x->dev, ipv6_nat, fo.ipv6_needed_why, sizeof(fo.ipv6_needed_why));
		free(ruleset);
		find_interface_forwarding_off(x->ifname, fo.egress, fo.interface_forwarding_off,
					      sizeof(fo.interface_forwarding_off));
	}
	judge_forwarding(x->r, &fo);
}

/* A full tunnel's table: a table other than main and local with a route
 * into the interface. */
struct tunnel_table_search {
	int ifindex;
	uint32_t table;			/* 0: none found */
	struct rtnl_route lan;		/* a main-table network on another interface */
};

static bool tunnel_table_cb(const struct rtnl_route *route, void *ctx)
{
	struct tunnel_table_search *s = ctx;

	if (route->oif == s->ifindex && route->table != RTNL_TABLE_MAIN && route->table != 255 && !s->table)
		s->table = route->table;
	if (route->table == RTNL_TABLE_MAIN && route->oif > 0 && route->oif != s->ifindex && route->dst.cidr &&
	    !s->lan.oif)
		s->lan = *route;
	return true;
}

struct full_tunnel_rules {
	uint32_t fwmark, table;
	bool not_marked, main_first;
};

static bool full_tunnel_rule_cb(const struct rtnl_rule *rule, void *ctx)
{
	struct full_tunnel_rules *s = ctx;

	if (rule->invert && rule->fwmark == s->fwmark && rule->table == s->table)
		s->not_marked = true;
	if (!rule->invert && !rule->fwmark && rule->table == RTNL_TABLE_MAIN && rule->suppress_prefixlen == 0)
		s->main_first = true;
	return true;
}

/* A full tunnel as roam up and wg-quick make it (the daemon's fwmark M, the
 * AllowedIPs in table T, `not fwmark M table T` and `table main
 * suppress_prefixlength 0`): which of its rules are gone, per family. */
static void observe_policy_rules(const struct uapi_device *dev, int ifindex, struct routes_observation *o)
{
	static const int families[] = { AF_INET, AF_INET6 };
	struct rtnl nl;

	if (!dev->fwmark || rtnl_open(&nl) != 0)
		return;
	for (size_t i = 0; i < 2; i++) {
		struct tunnel_table_search t = { .ifindex = ifindex };
		struct full_tunnel_rules rules = { .fwmark = dev->fwmark };

		if (rtnl_route_dump(&nl, families[i], tunnel_table_cb, &t) < 0 || !t.table)
			continue;
		rules.table = t.table;
		if (rtnl_rule_dump(&nl, families[i], full_tunnel_rule_cb, &rules) < 0 ||
		    (rules.not_marked && rules.main_first))
			continue;
		o->not_marked_rule_missing = !rules.not_marked;
		o->main_first_rule_missing = !rules.main_first;
		o->rule_family = families[i];
		o->fwmark = dev->fwmark;
		o->table = t.table;
		if (t.lan.oif && if_indextoname((unsigned)t.lan.oif, o->lan_dev))
			ip_prefix_str(&t.lan.dst, o->lan_prefix);
		break;
	}
	rtnl_close(&nl);
}

struct marked_rule_search {
	uint32_t table, fwmark;		/* fwmark 0: none found */
};

static bool marked_rule_cb(const struct rtnl_rule *rule, void *ctx)
{
	struct marked_rule_search *s = ctx;

	if (rule->invert && rule->fwmark && rule->table == s->table && !s->fwmark)
		s->fwmark = rule->fwmark;
	return true;
}

/* A full tunnel's `not fwmark M lookup T` (T: a table with routes into the
 * interface) whose M is not the daemon's fwmark: w->rule_fwmark, rule_table,
 * and whether roam's ledger recorded M (what roam up gave the daemon). */
static void observe_fwmark_rules(const struct uapi_device *dev, const char *ifname, int ifindex,
				 struct watch_observation *w)
{
	static const int families[] = { AF_INET, AF_INET6 };
	struct roam_state st = { 0 };
	char err[128];
	struct rtnl nl;

	if (rtnl_open(&nl) != 0)
		return;
	for (size_t i = 0; i < 2 && !w->rule_table; i++) {
		struct tunnel_table_search t = { .ifindex = ifindex };
		struct marked_rule_search m = { 0 };

		if (rtnl_route_dump(&nl, families[i], tunnel_table_cb, &t) < 0 || !t.table)
			continue;
		m.table = t.table;
		if (rtnl_rule_dump(&nl, families[i], marked_rule_cb, &m) < 0 || !m.fwmark || m.fwmark == dev->fwmark)
			continue;
		w->rule_fwmark = m.fwmark;
		w->rule_table = t.table;
	}
	rtnl_close(&nl);
	/* roam up records the rules it added (and the fwmark, when it says). */
	if (w->rule_table && state_load(ifname, &st, err, sizeof(err)) == 0) {
		w->ledger_fwmark = st.fwmark == w->rule_fwmark;
		for (size_t i = 0; i < st.n_rules; i++)
			w->ledger_fwmark |= st.rules[i].invert && st.rules[i].fwmark == w->rule_fwmark;
	}
	state_free(&st);
}

static bool on_interface(const struct exam *x, const struct ip_prefix *address)
{
	size_t alen = address->family == AF_INET ? 4 : 16;

	for (size_t i = 0; i < x->n_own; i++)
		if (x->own[i].family == address->family && !memcmp(x->own[i].addr, address->addr, alen))
			return true;
	return false;
}

/* The config's Addresses against the link: those that are not on it
 * (ro->addresses_missing), and a tunnel with IPv6 (in the config's Address,
 * or the peers' AllowedIPs) on an interface whose IPv6 is disabled:
 * ro->ipv6_disabled, with the config's first IPv6 Address to name. */
static void observe_config_addresses(const struct exam *x, struct routes_observation *ro)
{
	char sysctl[64 + IF_NAMESIZE];
	bool wanted = false;
	int v;

	for (size_t i = 0; x->have_cfg && i < x->cfg.iface.n_addresses; i++) {
		const struct ip_prefix *a = &x->cfg.iface.addresses[i].prefix;

		if (a->family == AF_INET6) {
			if (!wanted)
				ip_prefix_str(a, ro->ipv6_address);
			wanted = true;
		}
		if (!on_interface(x, a) && ro->n_addresses_missing++ < ROUTES_ADDRESSES_SHOWN)
			ip_prefix_str(a, ro->addresses_missing[ro->n_addresses_missing - 1]);
	}
	for (size_t i = 0; i < x->dev.n_peers; i++)
		for (size_t j = 0; j < x->dev.peers[i].n_allowed_ips; j++)
			wanted |= x->dev.peers[i].allowed_ips[j].family == AF_INET6;
	snprintf(sysctl, sizeof(sysctl), "net.ipv6.conf.%s.disable_ipv6", x->ifname);
	ro->ipv6_disabled = wanted && host_sysctl_int(sysctl, &v) == 0 && v == 1;
}

/* The LAN that holds a missed prefix is this tunnel's own network: the
 * host's address there lies in a prefix of this interface's Addresses (on
 * the link, or in the config). ro->tunnel_network names that Address. */
static void observe_tunnel_network_elsewhere(const struct exam *x, struct routes_observation *ro)
{
	struct ip_prefix other;

	if (!ro->n_local_networks || !ip_prefix_parse(&other, ro->local_subnet, false))
		return;
	other.cidr = (uint8_t)(other.family == AF_INET ? 32 : 128);
	for (size_t i = 0; i < x->n_own + (x->have_cfg ? x->cfg.iface.n_addresses : 0); i++) {
		const struct ip_prefix *mine = i < x->n_own ? &x->own[i] : &x->cfg.iface.addresses[i - x->n_own].prefix;

		if (!ip_prefix_contains(mine, &other))
			continue;
		ip_prefix_str(mine, ro->tunnel_network);
		host_link_is_tunnel(ro->local_dev, ro->local_kind, sizeof(ro->local_kind));
		return;
	}
}

/* The addresses the user and doctor depend on: the DNS servers given or
 * in the config, and the addresses doctor pings. */
static void check_routes(struct exam *x)
{
	struct routes_observation ro;
	struct ip_prefix *extra = NULL;
	const char **what = NULL;
	size_t n = 0, n_what = 0;

	for (size_t i = 0; i < x->opt->n_dns; i++) {
		*ARRAY_PUSH(extra, n) = x->opt->dns[i];
		*ARRAY_PUSH(what, n_what) = "DNS";
	}
	for (size_t i = 0; x->have_cfg && i < x->cfg.iface.n_dns; i++)
		if (x->cfg.iface.dns[i].is_addr) {
			*ARRAY_PUSH(extra, n) = x->cfg.iface.dns[i].addr;
			*ARRAY_PUSH(what, n_what) = "DNS";
		}
	for (size_t i = 0; i < x->dev.n_peers; i++) {
		struct ip_prefix addr;

		if (doctor_probe_address(&x->dev.peers[i], &x->probe, &addr)) {
			*ARRAY_PUSH(extra, n) = addr;
			*ARRAY_PUSH(what, n_what) = "probe";
		}
	}
	observe_routes(&x->dev, x->ifindex, extra, what, n, &ro);
	observe_policy_rules(&x->dev, x->ifindex, &ro);
	observe_config_addresses(x, &ro);
	observe_tunnel_network_elsewhere(x, &ro);
	judge_routes(x->r, &ro);
	x->routes_failed = ro.n_misses + ro.n_overridden > 0 || ro.ipv6_disabled || ro.n_addresses_missing;
	free(ro.misses);
	free(extra);
	free(what);
}

/* ---- datapath ---------------------------------------------------------- */

/* Does addr leave by the interface under examination? */
static bool routes_into(const struct ip_prefix *addr, int ifindex)
{
	struct rtnl nl;
	int oif = 0;
	bool local = false, ok;

	if (rtnl_open(&nl) != 0)
		return true;	/* cannot tell: ping and see */
	ok = rtnl_route_get_oif(&nl, addr, &oif, &local) == 0 && oif == ifindex && !local;
	rtnl_close(&nl);
	return ok;
}

static const struct uapi_peer *find_peer(const struct uapi_device *dev, const uint8_t key[KEY_LEN])
{
	for (size_t i = 0; i < dev->n_peers; i++)
		if (!memcmp(dev->peers[i].public_key, key, KEY_LEN))
			return &dev->peers[i];
	return NULL;
}

/* The peer's old port is closed (our data bounced with port unreachable):
 * its device restarted. When it came back with a config that does not fit
 * this host, its initiations arrive and are refused (bad_mac1: made for
 * another public key of ours; unknown_peer: its key is no peer here) —
 * one at least every 5 s, its retry; so wait for one up to that long,
 * counted from `before`, the reading ahead of the pings. */
static void watch_refused_initiations(struct exam *x, const struct uapi_device *before,
				      struct datapath_observation *o)
{
	enum { STEP_MS = 250, WAIT_MS = 3500 };	/* after 2.1 s of pings: 5.6 s in all */
	static const char *const reasons[] = { "bad_mac1", "unknown_peer" };
	char err[160];

	for (unsigned waited = 0; waited <= WAIT_MS; waited += STEP_MS) {
		struct uapi_device now = { 0 };

		if (uapi_get_device(x->ifname, &now, err, sizeof(err)) != 0)
			return;
		for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]) && !o->refused; i++) {
			uint64_t n = drop_count(now.drops, now.n_drops, reasons[i]) -
				     drop_count(before->drops, before->n_drops, reasons[i]);
			if (n) {
				o->refused_reason = reasons[i];
				o->refused = n;
			}
		}
		uapi_device_free(&now);
		if (o->refused)
			return;
		poll(NULL, 0, STEP_MS);
	}
}

/* Nothing answered and no ICMP error came yet: a router still resolving
 * the peer's old address says host unreachable only when its ARP gives up
 * (~3 s after the send), so read on until DATAPATH_ICMP_WAIT_MS. */
static void wait_for_late_icmp(struct exam *x, uint64_t pings_started, const struct ip_prefix *target,
			       struct datapath_observation *o)
{
	unsigned grace;

	while ((grace = datapath_icmp_grace_ms(probe_now_ms() - pings_started, o)) > 0) {
		struct pollfd fds[2] = { { .fd = x->icmp.fd4, .events = POLLIN }, { .fd = x->icmp.fd6, .events = POLLIN } };

		if (poll(fds, 2, (int)grace) <= 0)
			return;
		icmp_watch_drain_about(&x->icmp, x->dev.listen_port, target, &o->icmp);
	}
}

/* Does server answer for localhost, a name every resolver holds itself
 * (NOERROR or NXDOMAIN)? One query. */
static bool answers_own_names(const struct ip_prefix *server, int timeout_ms)
{
	int rcode = 0;
	uint64_t rtt;

	return dns_probe(server, "localhost", timeout_ms, 1, &rcode, &rtt) == 1 && (rcode == 0 || rcode == 3);
}

/* Asks server for the root's NS; when it refuses or fails that, asks it
 * for localhost too, which a resolver without upstream still answers
 * (own_names) and one that refuses this host does not. */
static int dns_ask(const struct ip_prefix *server, int timeout_ms, unsigned tries, int *rcode, uint64_t *rtt_us,
		   bool *own_names)
{
	int ret = dns_probe(server, NULL, timeout_ms, tries, rcode, rtt_us);

	*own_names = ret == 1 && (*rcode == 2 || *rcode == 5) && answers_own_names(server, timeout_ms);
	return ret;
}

/* The tunnel's DNS server: dns_ask, with two tries for the root, but when
 * the first goes unanswered the next query is for localhost (1 s): a
 * forwarder whose upstream is down answers that at once and lets every
 * other name time out, while a resolver that is not there answers neither
 * (two queries unanswered, as two tries for the root were). When localhost
 * answers, the root is asked once more: one lost datagram is no dead
 * upstream. */
static int dns_ask_tunnel_server(const struct ip_prefix *server, int *rcode, uint64_t *rtt_us, bool *own_names)
{
	enum { ROOT_MS = 1500, OWN_NAMES_MS = 1000 };
	int ret = dns_ask(server, ROOT_MS, 1, rcode, rtt_us, own_names);

	if (ret != 0)
		return ret;
	*own_names = answers_own_names(server, OWN_NAMES_MS);
	return *own_names ? dns_probe(server, NULL, ROOT_MS, 1, rcode, rtt_us) : 0;
}

/* The tunnel's DNS servers: --dns, else the config's DNS, else what
 * resolvectl has for the link; *source says which. The caller frees *out. */
static size_t tunnel_dns_servers(const struct exam *x, struct ip_prefix **out, const char **source)
{
	const struct config *cfg = x->have_cfg ? &x->cfg : NULL;
	size_t n = 0;

	*out = NULL;
	*source = "--dns";
	for (size_t i = 0; i < x->opt->n_dns; i++)
		*ARRAY_PUSH(*out, n) = x->opt->dns[i];
	if (n)
		return n;
	*source = "the config's DNS";
	for (size_t i = 0; cfg && i < cfg->iface.n_dns; i++)
		if (cfg->iface.dns[i].is_addr)
			*ARRAY_PUSH(*out, n) = cfg->iface.dns[i].addr;
	if (n)
		return n;
	free(*out);
	*out = NULL;
	*source = "resolvectl";
	return resolvectl_servers(x->ifname, out);
}

/* The pings went unanswered: a host that ignores ICMP echo still answers
 * a TCP SYN, with a SYN-ACK or a reset, so one connection attempt tells a
 * ping-deaf peer from a broken path. Bounded to 1 s, as a lost SYN is
 * not retried sooner. */
static void tcp_instead_of_ping(struct datapath_observation *o)
{
	enum { TCP_PROBE_PORT = 22, TCP_PROBE_MS = 1000 };

	o->tcp_tried = true;
	o->tcp_port = TCP_PROBE_PORT;
	o->tcp_answered = tcp_probe(&o->address, TCP_PROBE_PORT, TCP_PROBE_MS) == 1;
}

/* Neither ping nor TCP answered: a host that ignores both (ICMP echo off,
 * port 22 filtered) may still serve the tunnel. A DNS server of the tunnel
 * inside this peer's AllowedIPs, of the same family and routed into this
 * interface, that answers one query proves the way there and back. */
static void dns_instead_of_ping(const struct exam *x, const struct uapi_peer *peer, struct datapath_observation *o)
{
	struct ip_prefix *servers;
	const char *source;
	size_t n = tunnel_dns_servers(x, &servers, &source);

	for (size_t i = 0; i < n && !o->dns_tried; i++) {
		bool inside = false;
		int rcode;
		uint64_t rtt;

		for (size_t j = 0; j < peer->n_allowed_ips && !inside; j++)
			inside = ip_prefix_contains(&peer->allowed_ips[j], &servers[i]);
		if (!inside || servers[i].family != o->address.family || !routes_into(&servers[i], x->ifindex))
			continue;
		o->dns_tried = true;
		o->dns_server = servers[i];
		o->dns_answered = dns_probe(&servers[i], NULL, 1000, 1, &rcode, &rtt) == 1;
	}
	free(servers);
}

static bool same_address(const struct ip_prefix *a, const struct ip_prefix *b)
{
	return a->family == b->family && !memcmp(a->addr, b->addr, a->family == AF_INET ? 4 : 16);
}

/* Did the peer's datagrams reach this host and stop short of the daemon?
 * Counted by the endpoint's address, not its port, and against every peer
 * at that address: clients behind one NAT share it, and one of them heard
 * means the address is not dropped. */
static void note_endpoint_arrivals(const struct uapi_peer *peer, const struct uapi_device *before,
				   const struct uapi_device *after, struct datapath_observation *o)
{
	struct ip_prefix at, other;

	if (!o->captured || !doctor_endpoint_address(peer->endpoint, &at))
		return;
	for (size_t i = 0; i < o->capture.n_sources; i++)
		if (same_address(&o->capture.sources[i].addr, &at))
			o->endpoint_arrived += o->capture.sources[i].count;
	if (!o->endpoint_arrived)
		return;
	for (size_t i = 0; i < after->n_peers; i++) {
		const struct uapi_peer *a = &after->peers[i], *b = find_peer(before, a->public_key);

		if (b && doctor_endpoint_address(a->endpoint, &other) && same_address(&other, &at) &&
		    a->rx_packets > b->rx_packets)
			o->endpoint_reached_daemon = true;
	}
}

/* Nothing from the peer reached the daemon: a port forward left on the
 * listen port explains that whether or not one of its datagrams came
 * during the pings (a keepalive every 25 s often does not). */
static void note_port_redirect(struct datapath_observation *o)
{
	if (!o->answered && !o->rx_delta && !o->endpoint_reached_daemon)
		find_port_redirect(o->listen_port, o->redirect_rule, sizeof(o->redirect_rule));
}

/* The earlier check that failed, so the data path is not judged: pings
 * cannot come back while it holds (one cause, one FAIL). NULL if none. */
static const char *datapath_not_judged(struct exam *x, const struct ip_prefix *address)
{
	if (x->w.sending_failed || x->rpfilter_failed || x->udp_failed)
		return x->w.sending_failed ? "sending" : x->rpfilter_failed ? "rpfilter" : "udp";
	if (x->routes_failed && !routes_into(address, x->ifindex))
		return "routes";
	return NULL;
}

/* Up to three small pings (the first answer ends them), with the daemon's
 * counters and the ICMP errors about datagrams to the peer's endpoint
 * read around them. */
static void measure_datapath(struct exam *x, const struct uapi_peer *peer, struct datapath_observation *o)
{
	struct uapi_device before = { 0 }, after = { 0 };
	struct icmp_seen ignored = { 0 };
	struct ip_prefix at;
	/* Other peers' probes run meanwhile: only errors about this one's. */
	const struct ip_prefix *target = doctor_endpoint_address(peer->endpoint, &at) ? &at : NULL;
	struct pinger *pg;
	char err[160];
	int ret = 0;

	pg = pinger_for(&x->ps, o->address.family, &o->error);
	if (!pg)
		return;
	bool counted = x->dev.extended && uapi_get_device(x->ifname, &before, err, sizeof(err)) == 0;
	/* Watched as the udp check does, so a reply that reaches this host
	 * but not the daemon (an input firewall) is told from one that never
	 * came: the packet socket sees it before the firewall does. */
	int cap = capture_open(x->dev.listen_port);
	o->listen_port = x->dev.listen_port;
	if (x->w.icmp_watched)
		icmp_watch_drain_about(&x->icmp, x->dev.listen_port, target, &ignored);
	/* 3 x 700 ms: a reply across the world comes within 300 ms, and
	 * the daemon's counters need a moment of traffic to tell a story. */
	uint64_t pings_started = probe_now_ms();
	while (o->sent < 3 && ret == 0) {
		ret = pinger_echo(pg, &o->address, PING_MIN_PACKET, 700, &o->rtt_us);
		o->sent += ret >= 0;
	}
	if (ret < 0)
		o->error = ret;
	o->answered = ret == 1;
	if (x->w.icmp_watched)
		icmp_watch_drain_about(&x->icmp, x->dev.listen_port, target, &o->icmp);
	/* An ICMP error about our datagrams already says the path is broken. */
	if (!o->answered && !o->error && !o->icmp.total)
		tcp_instead_of_ping(o);
	if (o->tcp_tried && !o->tcp_answered)
		dns_instead_of_ping(x, peer, o);
	if (x->w.icmp_watched) {
		icmp_watch_drain_about(&x->icmp, x->dev.listen_port, target, &o->icmp);
		wait_for_late_icmp(x, pings_started, target, o);
		doctor_locate_next_hop(&o->icmp, x->dev.fwmark);
	}
	if (cap >= 0) {
		capture_run(cap, x->dev.listen_port, 0, &o->capture);
		o->captured = true;
		close(cap);
	}
	if (counted && uapi_get_device(x->ifname, &after, err, sizeof(err)) == 0) {
		const struct uapi_peer *b = find_peer(&before, peer->public_key), *a = find_peer(&after, peer->public_key);

		if (a && b) {
			o->counted = true;
			o->received_delta = received_total(&after) - received_total(&before);
			o->tx_delta = a->tx_packets - b->tx_packets;
			o->rx_delta = a->rx_packets - b->rx_packets;
			/* The peer's own drops, so another peer's trouble (or the
			 * kernel's multicast into the interface, no_route) is not
			 * taken for this one's; and unknown_index, which names no
			 * peer by nature. */
			drops_growth(b->drops, b->n_drops, a->drops, a->n_drops, &o->drops, &o->n_drops);
			/* Responses to our initiations fail to decrypt without a
			 * peer to count them on: the device's count. */
			o->decrypt_delta = drop_count(after.drops, after.n_drops, "handshake_decrypt") -
					   drop_count(before.drops, before.n_drops, "handshake_decrypt");
			uint64_t unknown = drop_count(after.drops, after.n_drops, "unknown_index") -
					   drop_count(before.drops, before.n_drops, "unknown_index");
			if (unknown && !drop_count(o->drops, o->n_drops, "unknown_index")) {
				struct uapi_drop *d = ARRAY_PUSH(o->drops, o->n_drops);

				snprintf(d->reason, sizeof(d->reason), "unknown_index");
				d->count = unknown;
			}
		}
	}
	if (o->counted) {
		note_endpoint_arrivals(peer, &before, &after, o);
		note_port_redirect(o);
	}
	/* Only for a peer whose endpoint this side learned (a client): one
	 * this side connects to does not restart onto a new port. */
	const char *why;
	if (o->counted && !o->answered && o->icmp.total && o->icmp.last_kind == ICMP_KIND_PORT &&
	    !side_initiates(peer, x->have_cfg ? &x->cfg : NULL, &why))
		watch_refused_initiations(x, &before, o);
	uapi_device_free(&before);
	uapi_device_free(&after);
}

/* ---- datapath probes, all at once -------------------------------------- */

struct datapath_child {
	struct exam *x;
	const struct uapi_peer *peer;
	struct ip_prefix address;
};

/* In the child: its own pingers and ICMP sockets (the inherited ones are
 * read by the parent and the other children), the measurement, and the
 * observation with its drops written back. */
static void datapath_child(void *ctx, int fd)
{
	struct datapath_child *c = ctx;
	struct exam *x = c->x;
	struct datapath_observation o = { .has_address = true, .address = c->address };

	memset(x->ps.opened, 0, sizeof(x->ps.opened));
	x->icmp.fd4 = x->icmp.fd6 = -1;
	x->w.icmp_watched = icmp_watch_open(&x->icmp) == 0;
	measure_datapath(x, c->peer, &o);
	if (forked_write(fd, &o, sizeof(o)) && o.n_drops)
		forked_write(fd, o.drops, o.n_drops * sizeof(*o.drops));
}

static struct datapath_job *find_job(struct exam *x, const uint8_t key[KEY_LEN], const struct ip_prefix *address)
{
	for (size_t i = 0; i < x->n_jobs; i++)
		if (x->jobs[i].f.pid && !memcmp(x->jobs[i].key, key, KEY_LEN) &&
		    ip_prefix_equal(&x->jobs[i].address, address))
			return &x->jobs[i];
	return NULL;
}

/* Starts the peer's probe unless one is under way already. */
static void start_datapath_job(struct exam *x, const struct uapi_peer *peer, const struct ip_prefix *address)
{
	struct datapath_child c = { .x = x, .peer = peer, .address = *address };
	struct datapath_job *j;

	if (find_job(x, peer->public_key, address))
		return;
	j = ARRAY_PUSH(x->jobs, x->n_jobs);
	memcpy(j->key, peer->public_key, KEY_LEN);
	j->address = *address;
	if (forked_start(&j->f, datapath_child, &c) != 0)
		x->n_jobs--;	/* measured in process, when judged */
}

/* The probe's observation (its drops are the caller's to free); measured
 * here when no child could be started for it. */
static void collect_datapath(struct exam *x, const struct uapi_peer *peer, struct datapath_observation *o)
{
	struct datapath_job *j = find_job(x, peer->public_key, &o->address);
	struct datapath_observation got;
	bool ok;

	if (!j) {
		measure_datapath(x, peer, o);
		return;
	}
	ok = forked_read(&j->f, &got, sizeof(got));
	got.drops = NULL;
	if (ok && got.n_drops) {
		got.drops = xrealloc(NULL, got.n_drops * sizeof(*got.drops));
		ok = forked_read(&j->f, got.drops, got.n_drops * sizeof(*got.drops));
	}
	forked_end(&j->f);
	if (!ok) {
		free(got.drops);
		o->error = -ECHILD;
		return;
	}
	*o = got;
}

/* The probes not collected were started early for peers judged otherwise
 * since (an earlier check failed): their results are not wanted. */
static void end_datapath_jobs(struct exam *x)
{
	for (size_t i = 0; i < x->n_jobs; i++)
		forked_cancel(&x->jobs[i].f);
	free(x->jobs);
	x->jobs = NULL;
	x->n_jobs = 0;
}

/* Is the peer's data path probed, and at which address? At most
 * DOCTOR_MTU_PEERS_MAX peers beyond those named with --probe (counted in
 * *probed, in the peers' order). */
static bool datapath_probed(const struct exam *x, const struct uapi_peer *peer, struct ip_prefix *address,
			    int *probed)
{
	const struct doctor_options *opt = x->opt;
	bool named = false;

	if (!doctor_probe_address(peer, &x->probe, address))
		return false;
	for (size_t g = 0; g < opt->n_probes; g++)
		named |= ip_prefix_equal(&opt->probes[g], address);
	if (!named && *probed >= DOCTOR_MTU_PEERS_MAX)
		return false;
	*probed += !named;
	return true;
}

/* Before the watch: the probes of the peers whose handshake is fresh
 * already run while doctor watches the others; judged (or discarded, when
 * an earlier check fails) by check_datapath. */
static void start_datapath_early(struct exam *x)
{
	uint64_t now_ms = wall_clock_ms(), age;
	int probed = 0;

	for (size_t i = 0; i < x->dev.n_peers; i++) {
		const struct uapi_peer *peer = &x->dev.peers[i];
		struct ip_prefix address, at;

		if (peer_handshake_verdict(peer, now_ms, &age) != HANDSHAKE_FRESH ||
		    !datapath_probed(x, peer, &address, &probed))
			continue;
		start_datapath_job(x, peer, &address);
		if (doctor_endpoint_address(peer->endpoint, &at))
			*ARRAY_PUSH(x->probed_endpoints, x->n_probed_endpoints) = at;
	}
}

/* Pings through the tunnel to each live peer (at most DOCTOR_MTU_PEERS_MAX
 * beyond those named), judged with what the daemon counted meanwhile. All
 * probes run at once; the findings keep the peers' order. */
static void check_datapath(struct exam *x)
{
	size_t n = x->dev.n_peers;
	enum { NOT_PROBED, PROBED, OVER_LIMIT };
	int probed = 0;
	unsigned char *probe = xrealloc(NULL, (n + 1) * sizeof(*probe));
	struct ip_prefix *address = xrealloc(NULL, (n + 1) * sizeof(*address));

	x->datapath_failed = xrealloc(NULL, (n + 1) * sizeof(*x->datapath_failed));
	memset(x->datapath_failed, 0, (n + 1) * sizeof(*x->datapath_failed));
	x->ping_ignored = xrealloc(NULL, (n + 1) * sizeof(*x->ping_ignored));
	memset(x->ping_ignored, 0, (n + 1) * sizeof(*x->ping_ignored));
	x->target_silent = xrealloc(NULL, (n + 1) * sizeof(*x->target_silent));
	memset(x->target_silent, 0, (n + 1) * sizeof(*x->target_silent));
	x->datapath_family = xrealloc(NULL, (n + 1) * sizeof(*x->datapath_family));
	memset(x->datapath_family, 0, (n + 1) * sizeof(*x->datapath_family));
	const char **source = xrealloc(NULL, (n + 1) * sizeof(*source));
	for (size_t i = 0; i < n; i++) {
		const struct uapi_peer *peer = &x->dev.peers[i];

		source[i] = doctor_probe_address(peer, &x->probe, &address[i]);
		probe[i] = x->skipped[i] || !source[i] ? NOT_PROBED
			   : datapath_probed(x, peer, &address[i], &probed) ? PROBED
									    : OVER_LIMIT;
		if (probe[i] == PROBED && !datapath_not_judged(x, &address[i]))
			start_datapath_job(x, peer, &address[i]);
	}
	for (size_t i = 0; i < n; i++) {
		struct peer_observation po = { .peer = &x->dev.peers[i] };
		struct datapath_observation o = { .dev = &x->dev };

		if (probe[i] == OVER_LIMIT)
			continue;	/* the mtu check says so */
		po.initiates = side_initiates(po.peer, x->have_cfg ? &x->cfg : NULL, &po.initiates_why);
		po.verdict = peer_handshake_verdict(po.peer, x->now_ms, &po.handshake_age_ms);
		o.has_address = probe[i] == PROBED;
		o.address = address[i];
		if (o.has_address && !(o.not_judged = datapath_not_judged(x, &o.address)))
			collect_datapath(x, po.peer, &o);
		/* Set after the probe's own copy of the observation. */
		o.dev = &x->dev;
		o.target_source = source[i];
		if (!o.has_address)
			o.has_address = source[i] != NULL;
		/* Not judged for an earlier failure: what depends on it is not either. */
		x->datapath_failed[i] = judge_datapath(x->r, &po, x->skipped[i], &o) || o.not_judged;
		x->ping_ignored[i] = o.tcp_answered || o.dns_answered;
		x->datapath_family[i] = o.has_address ? o.address.family : 0;
		const char *cause = x->r->v[x->r->n - 1].cause;
		x->target_silent[i] = cause && !strcmp(cause, "probe_target_silent");
		free(o.drops);
	}
	end_datapath_jobs(x);
	free(probe);
	free(address);
	free(source);
}

/* The interface's MTU, or 0 if netlink cannot tell. */
static uint32_t link_mtu(int ifindex)
{
	struct rtnl nl;
	uint32_t mtu = 0;

	if (rtnl_open(&nl) == 0) {
		if (rtnl_link_mtu(&nl, ifindex, &mtu))
			mtu = 0;
		rtnl_close(&nl);
	}
	return mtu;
}

/* What roamd knows of a peer's path after doctor's probes, read into now
 * (NULL: nothing to read). The probes' lost large pings can start roamd's
 * own search (docs/path-mtu.md), whose value comes about 2 s later: read
 * again until it ended, bounded, so the verdict follows what roamd settles
 * on and does not depend on when doctor ran. */
static const struct uapi_peer *path_after_probes(const struct exam *x, const uint8_t key[KEY_LEN],
						 struct uapi_device *now)
{
	enum { STEP_MS = 200, SEARCH_WAIT_MS = 3000 };
	char err[160];

	for (unsigned waited = 0;; waited += STEP_MS) {
		if (!x->dev.extended || uapi_get_device(x->ifname, now, err, sizeof(err)) != 0)
			return NULL;
		const struct uapi_peer *peer = find_peer(now, key);
		if (!peer || strcmp(peer->path_probe, "searching") || waited >= SEARCH_WAIT_MS)
			return peer;
		uapi_device_free(now);
		poll(NULL, 0, STEP_MS);
	}
}

/* The largest packet through, per peer, for at most DOCTOR_MTU_PEERS_MAX
 * peers beyond those the operator named. */
static void check_mtu(struct exam *x)
{
	const struct doctor_options *opt = x->opt;
	uint32_t mtu = link_mtu(x->ifindex);
	int probed = 0;

	for (size_t i = 0; i < x->dev.n_peers; i++) {
		struct peer_observation po = { .peer = &x->dev.peers[i] };
		struct mtu_observation mo = { 0 };

		po.verdict = peer_handshake_verdict(po.peer, x->now_ms, &po.handshake_age_ms);
		mo.target_source = doctor_probe_address(po.peer, &x->probe, &mo.address);
		mo.has_address = mo.target_source != NULL;
		if (x->datapath_failed[i] || x->target_silent[i])
			mo.not_judged = "datapath";
		else if (x->ping_ignored[i])
			mo.ping_ignored = true;	/* don't-fragment pings cannot measure it */
		else if (!x->skipped[i] && mo.has_address) {
			bool named = false;

			for (size_t g = 0; g < opt->n_probes; g++)
				named |= ip_prefix_equal(&opt->probes[g], &mo.address);
			mo.over_limit = !named && probed >= DOCTOR_MTU_PEERS_MAX;
			if (!mo.over_limit) {
				observe_mtu(&x->ps, &mo.address, mtu, &mo);
				probed += !named;
			}
		}
		struct uapi_device now = { 0 };

		/* Before a verdict on a small path, roamd's view after the probes. */
		if (mo.reachable && !mo.error && mo.largest < (int)mtu)
			mo.path_after = path_after_probes(x, po.peer->public_key, &now);
		judge_mtu(x->r, &po, x->skipped[i], &mo);
		uapi_device_free(&now);
	}
}

/* The check a DNS server's queries depend on, if it failed: sending or
 * udp, the handshake or data path of the peer whose AllowedIPs hold it, or
 * the routes when they take its queries elsewhere. */
/* Is addr on the tunnel's own network, where the peers' own addresses are?
 * An Address given as a single host (10.0.0.2/32, common in wg-quick
 * files) says nothing of its network: the /24 (/64) around it stands in,
 * as tunnels number their peers there. */
static bool on_tunnel_network(const struct exam *x, const struct ip_prefix *addr)
{
	for (size_t i = 0; i < x->n_own; i++) {
		struct ip_prefix net = x->own[i];

		if (is_host_address(&net))
			net.cidr = net.family == AF_INET ? 24 : 64;
		if (ip_prefix_contains(&net, addr))
			return true;
	}
	return false;
}

/* Is the DNS server a host behind the peer (its LAN, the internet of a full
 * tunnel) rather than the peer itself? Off the tunnel's network it is; the
 * peer's own address, for the text, is the one doctor pings. */
static void note_dns_behind_peer(const struct exam *x, const struct uapi_peer *peer, struct dns_observation *o)
{
	struct ip_prefix self;

	if (on_tunnel_network(x, &o->server))
		return;
	o->behind_peer = true;
	/* Not the DNS guess: that would be the server itself. */
	struct probe_candidates own_only = { .own = x->own, .n_own = x->n_own };

	if (doctor_probe_address(peer, &own_only, &self) && on_tunnel_network(x, &self))
		ip_addr_str(&self, o->peer_address);
}

static const char *dns_depends_on_failed(const struct exam *x, const struct dns_observation *o, size_t peer)
{
	if (!o->inside_peer)
		return NULL;
	if (x->w.sending_failed)
		return "sending";
	if (x->rpfilter_failed)
		return "rpfilter";
	if (x->skipped[peer])
		return "handshake";
	if (x->datapath_failed[peer] && datapath_failure_covers(x->datapath_family[peer], o->server.family))
		return "datapath";
	if (x->routes_failed && strcmp(o->route_dev, x->ifname))
		return "routes";
	return NULL;
}

/* The nameservers of the system resolver's file, at most
 * RESOLVER_SERVERS_MAX, into o. */
static void read_system_resolver(struct resolver_observation *o)
{
	char line[256];
	FILE *f = fopen(o->path, "r");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f) && o->n_servers < RESOLVER_SERVERS_MAX) {
		char word[16], addr[64];
		struct ip_prefix p;

		if (sscanf(line, "%15s %63s", word, addr) == 2 && !strcmp(word, "nameserver") &&
		    ip_prefix_parse(&p, addr, true))
			o->servers[o->n_servers++] = p;
	}
	fclose(f);
}

static bool is_loopback(const struct ip_prefix *p)
{
	static const uint8_t v6_loopback[16] = { [15] = 1 };

	return p->family == AF_INET ? p->addr[0] == 127 : !memcmp(p->addr, v6_loopback, 16);
}

/* Does the local stub answer at all? A stub that is not running (no
 * systemd-resolved or dnsmasq where resolv.conf expects one) fails every
 * lookup, whatever the tunnel's DNS does. One bounded query: a refused
 * port gives up at once. */
static void ask_stub(struct resolver_observation *o)
{
	int rcode;
	uint64_t rtt;
	bool own_names;

	for (size_t i = 0; i < o->n_servers && !o->stub_asked; i++)
		if (is_loopback(&o->servers[i])) {
			o->stub_asked = true;
			o->stub_index = i;
			o->stub_answered = dns_ask(&o->servers[i], 1000, 1, &rcode, &rtt, &own_names);
		}
}

/* Behind a local stub: does systemd-resolved have the tunnel's DNS for
 * the link? Only when resolvectl is there to ask. */
static void ask_resolved_link(const char *ifname, const struct ip_prefix *servers, size_t n,
			      struct resolver_observation *o)
{
	char prog[256];
	struct ip_prefix *link = NULL;
	size_t n_link;

	if (!run_find_program("resolvectl", prog, sizeof(prog)))
		return;
	o->link_asked = true;
	n_link = resolvectl_servers(ifname, &link);
	for (size_t i = 0; i < n_link; i++)
		for (size_t j = 0; j < n; j++)
			o->link_names_tunnel_dns |= ip_prefix_equal(&link[i], &servers[j]);
	free(link);
}

/* Does the system resolver ask the tunnel's DNS (servers, n)? Asks the
 * servers it names instead, when it does not. */
static void check_system_resolver(struct exam *x, const struct ip_prefix *servers, size_t n)
{
	struct resolver_observation o = { .path = "/etc/resolv.conf" };
	char tunnel_dns[IP_PREFIX_STRLEN];

	ip_addr_str(&servers[0], tunnel_dns);
	o.tunnel_dns = tunnel_dns;
	read_system_resolver(&o);
	for (size_t i = 0; i < o.n_servers; i++) {
		o.stub |= is_loopback(&o.servers[i]);
		for (size_t j = 0; j < n; j++)
			o.names_tunnel_dns |= ip_prefix_equal(&o.servers[i], &servers[j]);
	}
	if (o.stub && !o.names_tunnel_dns) {
		ask_stub(&o);
		ask_resolved_link(x->ifname, servers, n, &o);
	}
	for (size_t i = 0; i < o.n_servers && !o.names_tunnel_dns && !o.stub; i++) {
		uint64_t rtt;

		o.answered[i] = dns_ask(&o.servers[i], 1000, 1, &o.rcode[i], &rtt, &o.own_names_answered[i]);
	}
	judge_system_resolver(x->r, &o);
}

static void check_dns(struct exam *x)
{
	struct doctor_report *r = x->r;
	const struct uapi_device *dev = &x->dev;
	struct ip_prefix *servers;
	const char *source;
	size_t n_tool = tunnel_dns_servers(x, &servers, &source);
	struct rtnl nl;
	bool nl_ok;

	if (!n_tool) {
		struct doctor_finding *f = doctor_add(r, "dns", NULL);

		f->status = DOCTOR_SKIP;
		doctor_evidence(f, "no DNS server set for this interface (none given, in a config, or in resolvectl)");
		free(servers);
		return;
	}
	nl_ok = rtnl_open(&nl) == 0;
	for (size_t i = 0; i < n_tool; i++) {
		struct dns_observation o = { .server = servers[i], .source = source, .pinged = -1 };
		int oif = 0;
		bool local = false;
		size_t peer = 0;

		for (size_t p = 0; p < dev->n_peers && !o.inside_peer; p++)
			for (size_t j = 0; j < dev->peers[p].n_allowed_ips; j++)
				if (ip_prefix_contains(&dev->peers[p].allowed_ips[j], &servers[i])) {
					o.inside_peer = dev->peers[p].public_key;
					peer = p;
					break;
				}
		if (nl_ok && rtnl_route_get_oif(&nl, &servers[i], &oif, &local) == 0) {
			if (local)
				snprintf(o.route_dev, sizeof(o.route_dev), "this host");
			else if (!oif || !if_indextoname((unsigned)oif, o.route_dev))
				snprintf(o.route_dev, sizeof(o.route_dev), "another interface");
		}
		if (o.inside_peer)
			note_dns_behind_peer(x, &dev->peers[peer], &o);
		o.not_judged = dns_depends_on_failed(x, &o, peer);
		/* Routed into the tunnel with no peer for it: the daemon drops
		 * every query, no need to wait for answers. */
		if (!o.not_judged && (o.inside_peer || strcmp(o.route_dev, x->ifname)))
			o.answered = dns_ask_tunnel_server(&servers[i], &o.rcode, &o.rtt_us, &o.own_names_answered);
		/* It answers on UDP: does it over TCP, which a truncated
		 * answer (DNSSEC, many records) needs? A filter that drops TCP
		 * 53 on the way breaks only those, unseen by UDP queries. */
		if (o.answered == 1 && o.rcode != 2 && o.rcode != 5)
			o.tcp = dns_tcp_probe(&servers[i], 1000);
		/* Unanswered through a tunnel that works (else not judged):
		 * is there a host at that address at all? (One that answered
		 * localhost is there.) */
		if (!o.not_judged && o.inside_peer && o.answered == 0 && !o.own_names_answered) {
			int err = 0;
			uint64_t rtt = 0;
			struct pinger *pg = pinger_for(&x->ps, servers[i].family, &err);

			if (pg)
				o.pinged = pinger_echo(pg, &servers[i], PING_MIN_PACKET, 1000, &rtt) == 1;
		}
		judge_dns(r, &o);
	}
	if (nl_ok)
		rtnl_close(&nl);
	/* resolvectl's servers are the system resolver's already. */
	if (strcmp(source, "resolvectl"))
		check_system_resolver(x, servers, n_tool);
	free(servers);
}

static void check_clock(struct exam *x)
{
	bool synced = false;
	long max_error = 0;
	int err = host_clock_synced(&synced, &max_error);

	judge_clock(x->r, err, synced, max_error, drop_count(x->dev.drops, x->dev.n_drops, "stale_timestamp"));
}

static void exam_free(struct exam *x)
{
	end_datapath_jobs(x);
	free(x->probed_endpoints);
	pingers_close(&x->ps);
	icmp_watch_close(&x->icmp);
	free(x->datapath_failed);
	free(x->ping_ignored);
	free(x->target_silent);
	free(x->datapath_family);
	free(x->w.drops);
	free(x->own);
	free(x->dns);
	free(x->nudged);
	free(x->skipped);
	config_free(&x->cfg);
	uapi_device_free(&x->dev);
}

/* The --probe addresses, the DNS servers (--dns, else the config's) and
 * this interface's own addresses: what a peer's probe target may be. */
static void probe_candidates_of(struct exam *x)
{
	for (size_t i = 0; i < x->opt->n_dns; i++)
		*ARRAY_PUSH(x->dns, x->n_dns) = x->opt->dns[i];
	for (size_t i = 0; !x->opt->n_dns && x->have_cfg && i < x->cfg.iface.n_dns; i++)
		if (x->cfg.iface.dns[i].is_addr)
			*ARRAY_PUSH(x->dns, x->n_dns) = x->cfg.iface.dns[i].addr;
	x->probe = (struct probe_candidates){ .given = x->opt->probes, .n_given = x->opt->n_probes,
					      .dns = x->dns, .n_dns = x->n_dns, .own = x->own, .n_own = x->n_own };
}

static void examine(const char *ifname, const struct doctor_options *opt, struct doctor_report *r)
{
	struct exam x = { .ifname = ifname, .opt = opt, .r = r, .ps = { .ifname = ifname }, .icmp = { -1, -1 } };

	snprintf(r->ifname, sizeof(r->ifname), "%s", ifname);
	if (!check_daemon(&x)) {
		x.have_cfg = load_config(ifname, opt->config, &x.cfg);
		x.n_own = doctor_own_addresses(ifname, &x.own);
		probe_candidates_of(&x);
		x.ifindex = (int)if_nametoindex(ifname);
		/* Before the nudges: their ICMP errors come back within a round trip. */
		x.w.icmp_watched = icmp_watch_open(&x.icmp) == 0;
		/* The fresh peers' data paths are probed while the others are
		 * watched: one window for all. */
		start_datapath_early(&x);
		nudge_and_watch(&x);
		doctor_locate_next_hop(&x.w.icmp, x.dev.fwmark);
		/* Sending first: when this host refuses the datagrams, nothing
		 * arriving is its consequence, not an upstream firewall. */
		if (!doctor_endpoint_loop(&x.dev, x.ifindex, x.w.looped_endpoint))
			x.w.mark_lost = doctor_endpoint_mark_lost(&x.dev, x.ifindex, x.w.looped_endpoint,
								  x.w.mark_rule, sizeof(x.w.mark_rule));
		observe_fwmark_rules(&x.dev, ifname, x.ifindex, &x.w);
		x.w.sending_failed = judge_sending(r, &x.dev, &x.w, wall_clock_ms());
		/* A full tunnel's replies lost to rp_filter look like an
		 * upstream firewall to the udp check: name the real cause. */
		struct rpfilter_observation rpf;
		x.rpfilter_failed = observe_rpfilter(ifname, &rpf) && judge_rpfilter(r, &rpf);
		bool refused = x.w.sending_failed || x.rpfilter_failed;
		bool *initiates = xrealloc(NULL, (x.dev.n_peers + 1) * sizeof(*initiates));
		for (size_t i = 0; i < x.dev.n_peers; i++) {
			const char *why;

			initiates[i] = side_initiates(&x.dev.peers[i], x.have_cfg ? &x.cfg : NULL, &why);
		}
		x.w.initiates = initiates;
		bool silent = !refused && judge_udp(r, &x.dev, &x.w, wall_clock_ms());
		x.udp_failed = silent;
		x.w.initiates = NULL;
		free(initiates);
		/* The SKIPs point at the check that failed, which is in the report. */
		check_peers(&x, x.w.sending_failed ? "sending" : x.rpfilter_failed ? "rpfilter" : silent ? "udp" : NULL);
		check_forwarding(&x);
		check_routes(&x);
		check_datapath(&x);
		check_mtu(&x);
		check_dns(&x);
		check_clock(&x);
	}
	exam_free(&x);
}

/* ---- the command ------------------------------------------------------- */

static int parse_address_arg(const char *opt, const char *value, struct ip_prefix **list, size_t *n)
{
	struct ip_prefix p;

	if (!value) {
		fprintf(stderr, "roam doctor: %s needs an address\n", opt);
		return -1;
	}
	if (!ip_prefix_parse(&p, value, true) || p.cidr != (p.family == AF_INET ? 32 : 128)) {
		fprintf(stderr, "roam doctor: %s: '%s' is not an IP address\n", opt, value);
		return -1;
	}
	*ARRAY_PUSH(*list, *n) = p;
	return 0;
}

int cmd_doctor(int argc, char **argv)
{
	struct doctor_options opt = { .wait_ms = 6000 };
	struct doctor_report *reports = NULL;
	size_t n_reports = 0, failed = 0;
	const char *ifname = NULL;
	char **names = NULL;
	size_t n_names = 0;
	int rc = 2;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			fputs(doctor_usage, stdout);
			rc = 0;
			goto out;
		} else if (!strcmp(a, "--json")) {
			opt.json = true;
		} else if (!strcmp(a, "--config")) {
			if (!(opt.config = argv[++i])) {
				fputs("roam doctor: --config needs a file\n", stderr);
				goto out;
			}
		} else if (!strcmp(a, "--probe") || !strcmp(a, "--dns")) {
			bool probe = !strcmp(a, "--probe");

			if (parse_address_arg(a, argv[++i], probe ? &opt.probes : &opt.dns,
					      probe ? &opt.n_probes : &opt.n_dns))
				goto out;
		} else if (!strcmp(a, "--wait")) {
			char *end;
			unsigned long s;

			if (!argv[++i] || (s = strtoul(argv[i], &end, 10), *end || end == argv[i] || s > 600)) {
				fputs("roam doctor: --wait needs a number of seconds (0 to 600)\n", stderr);
				goto out;
			}
			opt.wait_ms = (unsigned)s * 1000;
			opt.wait_given = true;
		} else if (a[0] == '-' || ifname) {
			fprintf(stderr, "roam doctor: unexpected argument '%s' (see roam doctor --help)\n", a);
			goto out;
		} else {
			ifname = a;
		}
	}
	if (opt.config && access(opt.config, R_OK) < 0) {
		fprintf(stderr, "roam doctor: cannot read %s: %s\n", opt.config, strerror(errno));
		rc = 1;
		goto out;
	}
	if (ifname) {
		char path[UAPI_SOCKET_PATH_MAX];

		if (!uapi_socket_path(ifname, path)) {
			fprintf(stderr, "roam doctor: '%s' cannot be an interface name\n", ifname);
			goto out;
		}
		/* A kernel WireGuard interface (or any other link) without a
		 * socket: no playbook applies, and "start it" would mislead. */
		char why[512];
		int fd = uapi_connect(ifname);
		if (fd >= 0)
			close(fd);
		else if (fd == -ENOENT && uapi_link_without_socket(ifname, why, sizeof(why))) {
			fprintf(stderr, "roam doctor: %s\n", why);
			rc = 1;
			goto out;
		}
		names = calloc(2, sizeof(*names));
		if (!names)
			goto out;
		names[0] = xstrdup(ifname);
		n_names = 1;
	} else if (uapi_list_interfaces(&names, &n_names) < 0) {
		fputs("roam doctor: cannot list the interfaces in " UAPI_SOCKET_DIR "\n", stderr);
		rc = 1;
		goto out;
	}
	if (!n_names) {
		fputs("roam doctor: no interfaces to examine (no daemon socket in " UAPI_SOCKET_DIR ")\n", stderr);
		rc = 1;
		goto out;
	}
	for (size_t i = 0; i < n_names; i++) {
		struct doctor_report *r = ARRAY_PUSH(reports, n_reports);

		examine(names[i], &opt, r);
		failed += doctor_count(r, DOCTOR_FAIL);
		if (!opt.json) {
			if (i)
				fputc('\n', stdout);
			doctor_print_text(stdout, r);
			fflush(stdout);
		}
	}
	if (opt.json)
		doctor_print_json(stdout, reports, n_reports);
	rc = failed ? 1 : 0;
	if (fflush(stdout) != 0) {
		fprintf(stderr, "roam doctor: cannot write to standard output: %s\n", strerror(errno));
		rc = 1;
	}
out:
	for (size_t i = 0; i < n_reports; i++)
		doctor_report_free(&reports[i]);
	free(reports);
	if (names && ifname) {
		free(names[0]);
		free(names);
	} else if (names) {
		uapi_names_free(names);
	}
	free(opt.probes);
	free(opt.dns);
	return rc;
}
