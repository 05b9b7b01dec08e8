/* roam up CONFIG|IFNAME: what wg-quick up does for a userspace
 * implementation (docs/protocol.md §7.7, §8), without wg-quick, wg or ip:
 *
 *   PreUp hooks -> start roamd -> configure it (UAPI set=1) -> addresses
 *   -> MTU and link up -> DNS -> routes (and policy rules for a full
 *   tunnel) -> PostUp hooks
 *
 * Each change is recorded in the ledger (state.h) right after it is made,
 * so `roam down` can undo exactly what was done, whoever dies when. If a
 * step fails, up undoes the ones before it and exits 1. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "crypto.h"
#include "dns.h"
#include "firewall.h"
#include "resolve.h"
#include "rtnl.h"
#include "run.h"
#include "sd_notify.h"
#include "state.h"
#include "trust.h"
#include "uapi_client.h"
#include "updown.h"

enum {
	/* wg-quick's first table for a full tunnel's routes, and the fwmark
	 * that keeps the tunnel's own packets out of it. */
	FULL_TUNNEL_TABLE = 51820,
	/* WireGuard over IPv6: 40 IP + 8 UDP + 32 WireGuard (docs/protocol.md
	 * §8.3); wg-quick takes it off whatever the path allows. */
	MTU_OVERHEAD = 80,
	MTU_FALLBACK = 1500,
};

static const char up_usage[] =
	"Usage: roam up [--no-dns] CONFIG|IFNAME\n"
	"\n"
	"Brings up an interface from a wg-quick file, the way wg-quick does with a\n"
	"userspace implementation, without needing wg-quick, wg or ip. IFNAME alone means\n"
	"/etc/wireguard/IFNAME.conf; a file's name less '.conf' names the interface.\n"
	"\n"
	"In order: PreUp hooks; roamd IFNAME (the roamd next to roam, else from PATH);\n"
	"[Interface] PrivateKey/ListenPort/FwMark and the [Peer]s through the UAPI (host\n"
	"name endpoints resolved now); Address; MTU (as given, else the smallest route MTU\n"
	"towards the endpoints, or the default route's, less 80; 1420 on a 1500 path);\n"
	"link up; DNS (resolvconf, or resolvectl); a route for each AllowedIPs prefix not\n"
	"already routed through the interface (Table = off: none; Table = N or NAME: all of\n"
	"them in that table); PostUp hooks. Hooks run with /bin/sh -c, %i being IFNAME.\n"
	"Hooks run as root, so a file with any is refused unless root alone can write it\n"
	"and the directories above it (README, \"What the CLI trusts\"); a PrivateKey that\n"
	"others can read gets a warning.\n"
	"\n"
	"A peer reachable at several addresses lists the others under Endpoint as\n"
	"  #roam: Endpoint = host:port\n"
	"lines (a comment to wg-quick and wg setconf, which use Endpoint alone), in order\n"
	"of preference, up to 15. roamd sends handshakes to the next one when one goes\n"
	"unanswered (5 s for a handshake, 15 s for traffic), moves only on an\n"
	"authenticated answer, keeps an address the peer roamed to, and probes the\n"
	"preferred one again at most every 30 s (doubling when it fails again). Host\n"
	"names are resolved now and handed to roamd as names too: it resolves them again\n"
	"itself (at TTL, 30 s to 1 h; when the peer stops answering; after a network\n"
	"change), so no cron job is needed. When the daemon is not roamd (wireguard-go\n"
	"in its place), up says that failover and following names need roamd, and each\n"
	"peer gets its first endpoint only ('roam reresolve' from a timer follows names).\n"
	"\n"
	"A full tunnel (0.0.0.0/0 or ::/0 with Table auto) gets wg-quick's policy routing:\n"
	"the default route goes to table T (51820 or the next free one, or FwMark if set),\n"
	"the daemon marks its own packets with fwmark T, and for each family used\n"
	"  ip rule add not fwmark T table T\n"
	"  ip rule add table main suppress_prefixlength 0\n"
	"so the tunnel's packets never loop into it; IPv4 also turns on\n"
	"net.ipv4.conf.all.src_valid_mark. As wg-quick does, each family also gets an\n"
	"nftables table (nft -f -), here named roam-IFNAME: prerouting copies the connection\n"
	"mark onto arriving UDP and postrouting saves fwmark T into the connection, so\n"
	"replies from the endpoint pass strict reverse-path filtering (rp_filter=1), and a\n"
	"raw rule drops packets to the interface's addresses arriving on other interfaces.\n"
	"\n"
	"Every change is recorded in " STATE_DIR "/IFNAME.state, which 'roam down' undoes\n"
	"exactly, even after roamd (or roam up itself) was killed. If a step fails, the\n"
	"earlier ones are undone. Host names of endpoints are recorded there as well.\n"
	"Each change is announced on stderr as '[#] ...' first.\n"
	"\n"
	"DNS = needs resolvconf or resolvectl. Without either, roam up fails before it\n"
	"changes anything, as wg-quick does: the system's resolvers would otherwise stay in\n"
	"use, and on a full tunnel every query would leave outside it. --no-dns brings\n"
	"the interface up anyway, ignoring DNS = (with a warning).\n"
	"\n"
	"Exit status: 0 up, 1 failure (nothing left behind), 2 usage error.\n";

struct up {
	char ifname[UAPI_IFNAME_MAX];
	char *real_config;		/* the file read, symbolic links resolved */
	bool no_dns;			/* --no-dns: DNS = is ignored */
	struct config cfg;
	struct roam_state st;
	struct rtnl nl;
	bool table_off, table_auto;
	uint32_t table;			/* explicit Table; or a full tunnel's */
	bool full_tunnel[2];		/* [0] IPv4, [1] IPv6 (Table auto only) */
	uint32_t fwmark;		/* given to the daemon */
	char (*endpoints)[UAPI_ENDPOINT_MAX];	/* per peer, "" for none */
	/* "#roam: Endpoint" addresses, resolved, each with its peer. */
	struct up_extra_endpoint {
		size_t peer;
		char text[UAPI_ENDPOINT_MAX];
	} *extras;
	size_t n_extras;
	struct ip_prefix *endpoint_addrs;	/* the resolved ones, for the MTU */
	size_t n_endpoint_addrs;
};

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
	va_list ap;

	fputs("roam up: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -1;
}

static int save(struct up *u)
{
	char err[512];

	return state_save(&u->st, err, sizeof(err)) ? fail("%s", err) : 0;
}

static char family_letter(int family)
{
	return family == AF_INET ? '4' : '6';
}

/* ---- naming ------------------------------------------------------------ */

/* wg-quick's rule for the interface a config file brings up: an interface
 * name (uapi_contract.h) of a-z A-Z 0-9 _ = + . - only. Stricter than the
 * kernel's because the name is spliced into the hooks' `sh -c` command
 * lines (%i), so it must hold no shell metacharacter. */
static bool valid_ifname(const char *s, size_t len)
{
	if (!uapi_ifname_valid(s, len))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("_=+.-", s[i]))
			return false;
	return true;
}

bool updown_target(const char *arg, char ifname[UAPI_IFNAME_MAX], char **config, char *err, size_t err_len)
{
	const char *base = strrchr(arg, '/');
	size_t len = strlen(arg);

	*config = NULL;
	if (!base && (len < 5 || strcmp(arg + len - 5, ".conf"))) {
		if (!valid_ifname(arg, len)) {
			snprintf(err, err_len, "'%s' is not an interface name (1-15 of a-z A-Z 0-9 _ = + . -)", arg);
			return false;
		}
		memcpy(ifname, arg, len + 1);
		if (asprintf(config, "/etc/wireguard/%s.conf", arg) < 0)
			*config = NULL;
		return *config != NULL;
	}
	base = base ? base + 1 : arg;
	len = strlen(base);
	if (len < 5 || strcmp(base + len - 5, ".conf") || !valid_ifname(base, len - 5)) {
		snprintf(err, err_len,
			 "'%s': the file must be named IFNAME.conf, IFNAME being 1-15 of a-z A-Z 0-9 _ = + . -", arg);
		return false;
	}
	memcpy(ifname, base, len - 5);
	ifname[len - 5] = '\0';
	*config = xstrdup(arg);
	return true;
}

/* ---- the plan ---------------------------------------------------------- */

/* A table number from /etc/iproute2/rt_tables (or its .d), as ip reads it. */
static bool table_by_name(const char *name, uint32_t *table)
{
	static const char *const files[] = { "/etc/iproute2/rt_tables", "/usr/share/iproute2/rt_tables" };
	char line[256], word[128];
	unsigned long number;
	bool found = false;
	FILE *f;

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]) && !found; i++) {
		f = fopen(files[i], "re");
		if (!f)
			continue;
		while (!found && fgets(line, sizeof(line), f))
			if (line[0] != '#' && sscanf(line, "%lu %127s", &number, word) == 2 && !strcmp(word, name) &&
			    number <= UINT32_MAX) {
				*table = (uint32_t)number;
				found = true;
			}
		fclose(f);
	}
	/* ip knows these three without any file. */
	if (!found && (!strcmp(name, "main") || !strcmp(name, "default") || !strcmp(name, "local"))) {
		*table = !strcmp(name, "main") ? 254 : !strcmp(name, "default") ? 253 : 255;
		found = true;
	}
	return found;
}

static bool table_has_routes_cb(const struct rtnl_route *route, void *ctx)
{
	uint32_t *table = ctx;

	if (route->table != *table)
		return true;
	*table = 0;	/* found one: stop */
	return false;
}

/* wg-quick's choice: 51820, or the next table with no routes in it. */
static int free_table(struct up *u, uint32_t *out)
{
	uint32_t probe;
	int ret;

	for (uint32_t t = FULL_TUNNEL_TABLE; t < FULL_TUNNEL_TABLE + 1000; t++) {
		probe = t;
		if ((ret = rtnl_route_dump(&u->nl, AF_INET, table_has_routes_cb, &probe)) < 0 ||
		    (probe && (ret = rtnl_route_dump(&u->nl, AF_INET6, table_has_routes_cb, &probe)) < 0))
			return fail("cannot read the routing tables: %s", strerror(-ret));
		if (probe) {
			*out = t;
			return 0;
		}
	}
	return fail("no free routing table from %d on", FULL_TUNNEL_TABLE);
}

static int plan_routing(struct up *u)
{
	const char *t = u->cfg.iface.table;
	uint64_t v;
	char *end;

	u->table_auto = !t || !strcmp(t, "auto");
	u->table_off = t && !strcmp(t, "off");
	if (t && !u->table_auto && !u->table_off) {
		errno = 0;
		v = strtoull(t, &end, 10);
		if (isdigit((unsigned char)t[0]) && !*end && !errno && v > 0 && v <= UINT32_MAX)
			u->table = (uint32_t)v;
		else if (!table_by_name(t, &u->table))
			return fail("%s:%u: Table '%s' is no number, auto, off or name in /etc/iproute2/rt_tables",
				    u->cfg.path, u->cfg.iface.table_line,
				    u->cfg.iface.table_written ? u->cfg.iface.table_written : t);
	}
	for (size_t i = 0; u->table_auto && i < u->cfg.n_peers; i++)
		for (size_t j = 0; j < u->cfg.peers[i].n_allowed_ips; j++)
			if (u->cfg.peers[i].allowed_ips[j].prefix.cidr == 0)
				u->full_tunnel[u->cfg.peers[i].allowed_ips[j].prefix.family == AF_INET6] = true;
	u->fwmark = u->cfg.iface.fwmark;
	if (!u->full_tunnel[0] && !u->full_tunnel[1])
		return 0;
	/* wg-quick: the table is the fwmark when one is set. */
	if (u->fwmark) {
		u->table = u->fwmark;
		return 0;
	}
	if (free_table(u, &u->table) < 0)
		return -1;
	u->fwmark = u->table;
	return 0;
}

/* A host name endpoint becomes an address now, as wg does before it
 * talks to the daemon (which only takes numbers); the name goes into the
 * ledger so `roam reresolve` can resolve it again later. */
static int resolve_endpoint(struct up *u, const struct config_peer *peer, char out[UAPI_ENDPOINT_MAX])
{
	const struct config_endpoint *ep = &peer->endpoint;
	struct state_endpoint *rec;
	struct ip_prefix addr = ep->addr;
	char err[128];

	if (ep->is_literal)
		endpoint_format(out, &addr, ep->port);
	else if (endpoint_resolve(ep->host, ep->port, &addr, out, err, sizeof(err)))
		return fail("%s:%u: cannot resolve endpoint host '%s': %s", u->cfg.path, ep->line, ep->host, err);
	*ARRAY_PUSH(u->endpoint_addrs, u->n_endpoint_addrs) = addr;
	if (!ep->is_literal) {
		rec = ARRAY_PUSH(u->st.endpoints, u->st.n_endpoints);
		memcpy(rec->public_key, peer->public_key, KEY_LEN);
		rec->host = xstrdup(ep->host);
		rec->port = ep->port;
		strcpy(rec->resolved, out);
	}
	return 0;
}

/* The extra endpoints of a peer ("#roam: Endpoint"), resolved once now
 * like Endpoint; roamd tries them in order when the first goes unanswered.
 * They stay out of the ledger: `roam reresolve` follows Endpoint only. */
static int resolve_extra_endpoints(struct up *u, size_t i)
{
	const struct config_peer *peer = &u->cfg.peers[i];
	char err[128];

	for (size_t j = 0; j < peer->n_extra_endpoints; j++) {
		const struct config_endpoint *ep = &peer->extra_endpoints[j];
		struct up_extra_endpoint *x = ARRAY_PUSH(u->extras, u->n_extras);
		struct ip_prefix addr = ep->addr;
		x->peer = i;
		if (ep->is_literal)
			endpoint_format(x->text, &addr, ep->port);
		else if (endpoint_resolve(ep->host, ep->port, &addr, x->text, err, sizeof(err)))
			return fail("%s:%u: cannot resolve endpoint host '%s': %s", u->cfg.path, ep->line, ep->host,
				    err);
		*ARRAY_PUSH(u->endpoint_addrs, u->n_endpoint_addrs) = addr;
	}
	return 0;
}

static bool peer_has_host_name(const struct config_peer *peer)
{
	if (peer->endpoint.line && !peer->endpoint.is_literal)
		return true;
	for (size_t j = 0; j < peer->n_extra_endpoints; j++)
		if (!peer->extra_endpoints[j].is_literal)
			return true;
	return false;
}

static void put_name(struct uapi_request *req, const struct config_endpoint *ep)
{
	if (ep->is_literal && ep->addr.family == AF_INET6)
		uapi_request_add(req, ROAM_KEY_ENDPOINT_NAME "=[%s]:%u\n", ep->host, ep->port);
	else
		uapi_request_add(req, ROAM_KEY_ENDPOINT_NAME "=%s:%u\n", ep->host, ep->port);
}

/* The file is read from its resolved path, opened without following a
 * link, so that what check_config_trust looks at (the opened file and the
 * directories of that path) is what was read. */
static int read_config(struct up *u, const char *config, struct diag_list *diags)
{
	int fd, err;

	u->real_config = realpath(config, NULL);
	if (!u->real_config)
		return fail("cannot read %s: %s", config, strerror(errno));
	fd = open(u->real_config, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return fail("cannot read %s: %s", config, strerror(errno));
	err = config_parse_fd(fd, config, &u->cfg, diags);
	close(fd);
	return err ? fail("cannot read %s: %s", config, strerror(-err)) : 0;
}

/* As wg-quick does, a private key others can read is worth a warning (not
 * a refusal: the key is theirs already). Hooks are another matter: up and
 * down run them as root, so a file that someone else could have written
 * (or put in place: the directories above it count too) is refused, and
 * so are control characters in what the ledger will record (trust.h). */
static int check_config_trust(struct up *u, const char *config)
{
	const struct config_interface *in = &u->cfg.iface;
	mode_t mode = u->cfg.mode;
	char why[512], *dir, *slash;
	size_t hooks = 0;
	bool trusted;

	if (in->private_key_line && (mode & 044))
		fprintf(stderr,
			"roam up: warning: %s holds a PrivateKey and is readable by %s (mode %04o); chmod 600 it\n",
			config, (mode & 044) == 044 ? "its group and all other users" : (mode & 040) ? "its group" : "all other users",
			(unsigned)mode);
	if (trust_control_char(u->real_config))
		return fail("the path of %s holds a control character; roam down could not find it again", config);
	for (int k = 0; k < CONFIG_HOOK_COUNT; k++) {
		hooks += in->n_hooks[k];
		for (size_t i = 0; i < in->n_hooks[k]; i++)
			if (trust_control_char(in->hooks[k][i].s))
				return fail("%s:%u: the hook holds a control character; refusing to run it", config,
					    in->hooks[k][i].line);
	}
	if (!hooks)
		return 0;
	struct stat st = { .st_mode = S_IFREG | mode, .st_uid = u->cfg.uid };
	if (!trust_stat(&st, why, sizeof(why)))
		return fail("refusing to run the hooks of %s: it %s, and they would run as root", config, why);
	if (!trust_symlinks(config, why, sizeof(why)))
		return fail("refusing to run the hooks of %s: %s, and they would run as root", config, why);
	dir = xstrdup(u->real_config);
	slash = strrchr(dir, '/');
	slash[slash == dir] = '\0';
	trusted = trust_dir_chain(dir, why, sizeof(why));
	free(dir);
	if (!trusted)
		return fail("refusing to run the hooks of %s: %s, and they would run as root", config, why);
	return 0;
}

/* Reads and checks everything before anything is changed. */
/* A ledger whose roamd is gone (killed, or its interface deleted, as
 * `wg-quick down` does) is what is left of an interface that is no longer
 * up: take it down as `roam down` would, and go on. The pid with its start
 * time tells a dead daemon from a live one, and from another process that
 * got its pid. A ledger without a daemon (roam up died before starting it,
 * or is running now) or from another namespace is left alone: -1. */
static int left_by_dead_daemon(struct up *u)
{
	const struct roam_state *st = &u->st;
	uint64_t netns = state_current_netns();

	if (!st->roamd_pid)
		return -1;
	/* A roamd just killed may take a moment to die (its interface is
	 * already gone): wait for it, briefly, rather than call it up. */
	bool running = state_process_running(st->roamd_pid, st->roamd_start);
	for (int i = 0; running && i < 30 && !if_nametoindex(u->ifname); i++) {
		struct timespec tick = {.tv_nsec = 100 * 1000 * 1000};
		nanosleep(&tick, NULL);
		running = state_process_running(st->roamd_pid, st->roamd_start);
	}
	if (running)
		return -1;
	if (st->netns && netns && st->netns != netns)
		return -1;
	fprintf(stderr, "roam up: %s's roamd (pid %d) is gone; undoing what was left, as 'roam down %s' would\n",
		u->ifname, (int)st->roamd_pid, u->ifname);
	state_free(&u->st);
	if (updown_take_down(u->ifname, "roam up") != 0)
		return fail("what %s's last 'roam up' left could not all be undone; see above, then 'roam down %s'",
			    u->ifname, u->ifname);
	return 0;
}

static int prepare(struct up *u, const char *config)
{
	struct diag_list diags = { 0 };
	size_t errors, i;
	char path[4200], why[512];
	int err, fd;

	if (read_config(u, config, &diags) < 0) {
		diag_list_free(&diags);
		return -1;
	}
	errors = diag_count(&diags, DIAG_ERROR);
	diag_sort(&diags);
	for (i = 0; errors && i < diags.n; i++) {
		if (diags.v[i].severity != DIAG_ERROR)
			continue;
		fail("%s:%u: %s%s", config, diags.v[i].line, diags.v[i].message,
		     errors > 1 ? " (and more: 'roam audit' lists them all)" : "");
		break;
	}
	diag_list_free(&diags);
	if (errors)
		return -1;
	if (!u->cfg.iface.line)
		return fail("%s has no [Interface] section", config);
	if (check_config_trust(u, config) < 0)
		return -1;
	if (u->cfg.iface.save_config)
		fprintf(stderr, "roam up: warning: %s:%u: SaveConfig is not supported; the file is never rewritten\n",
			config, u->cfg.iface.save_config_line);

	err = state_load(u->ifname, &u->st, why, sizeof(why));
	if (err == -EPERM) {
		state_free(&u->st);
		return fail("%s", why);
	}
	/* A ledger whose daemon died is cleaned up here, as roam down would. */
	if (err != -ENOENT && (err != 0 || left_by_dead_daemon(u) < 0)) {
		state_free(&u->st);
		state_path(u->ifname, path, sizeof(path));
		return fail("%s is already up (%s exists); 'roam down %s' first", u->ifname, path, u->ifname);
	}
	state_free(&u->st);
	if (if_nametoindex(u->ifname))
		return fail("an interface named %s already exists", u->ifname);
	fd = uapi_connect(u->ifname);
	if (fd >= 0) {
		close(fd);
		return fail("a daemon already serves %s (%s/%s.sock)", u->ifname, UAPI_SOCKET_DIR, u->ifname);
	}

	u->endpoints = xrealloc(NULL, (u->cfg.n_peers + 1) * sizeof(*u->endpoints));
	for (i = 0; i < u->cfg.n_peers; i++) {
		u->endpoints[i][0] = '\0';
		if (u->cfg.peers[i].endpoint.line && resolve_endpoint(u, &u->cfg.peers[i], u->endpoints[i]) < 0)
			return -1;
		if (resolve_extra_endpoints(u, i) < 0)
			return -1;
	}
	if ((err = rtnl_open(&u->nl)) < 0)
		return fail("cannot open rtnetlink: %s", strerror(-err));
	return plan_routing(u);
}

/* ---- the steps --------------------------------------------------------- */

static int run_hooks(struct up *u, enum config_hook which, const char *name)
{
	const struct config_interface *in = &u->cfg.iface;
	int ret;

	for (size_t i = 0; i < in->n_hooks[which]; i++) {
		ret = run_hook(in->hooks[which][i].s, u->ifname);
		if (ret)
			return fail("%s:%u: %s hook failed (%s %d)", u->cfg.path, in->hooks[which][i].line, name,
				    ret < 0 ? "error" : "status", ret < 0 ? -ret : ret);
	}
	return 0;
}

/* The roamd beside this roam (a build tree, or one install prefix), else
 * the one PATH finds. */
static void roamd_path(char *path, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (n > 0) {
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash && (size_t)snprintf(path, len, "%.*s/roamd", (int)(slash - self), self) < len &&
		    access(path, X_OK) == 0)
			return;
	}
	snprintf(path, len, "roamd");
}

static int start_roamd(struct up *u)
{
	char path[PATH_MAX];
	int ret, pid;

	roamd_path(path, sizeof(path));
	/* roamd daemonises and returns once its interface and socket exist,
	 * unless this asks it to stay in the foreground, which would make
	 * us wait for it forever. */
	unsetenv("WG_PROCESS_FOREGROUND");
	/* Under systemd (roam@.service), roamd becomes the unit's main
	 * process (it says MAINPID=) and pings the watchdog, which is meant
	 * for it and not for us; READY=1 is ours to say, once every step is
	 * done (sd_notify.h). */
	if (getenv("NOTIFY_SOCKET")) {
		setenv("ROAMD_READY_BY_PARENT", "1", 1);
		unsetenv("WATCHDOG_PID");
	}
	run_say("%s %s", path, u->ifname);
	ret = run_command((char *const[]){ path, u->ifname, NULL }, NULL);
	if (ret)
		return fail("%s %s %s %d", path, u->ifname, ret < 0 ? "could not start: error" : "failed with status",
			    ret < 0 ? -ret : ret);
	u->st.ifindex = (int)if_nametoindex(u->ifname);
	pid = uapi_daemon_pid(u->ifname);
	if (pid > 0) {
		u->st.roamd_pid = pid;
		u->st.roamd_start = state_process_start(pid);
	}
	if (save(u) < 0)
		return -1;
	if (!u->st.ifindex)
		return fail("roamd started but interface %s is not there", u->ifname);
	if (pid <= 0)
		return fail("roamd started but its socket does not answer: %s", strerror(-pid));
	return 0;
}

/* The set request of the whole configuration. roam_lines: with roamd's
 * own keys (endpoint candidates, names), which wireguard-go refuses. */
static void build_setconf(struct up *u, struct uapi_request *req, bool roam_lines, bool *has_roam_lines)
{
	const struct config_interface *in = &u->cfg.iface;
	char a[IP_PREFIX_STRLEN];
	struct ip_prefix p;

	*has_roam_lines = false;
	if (in->private_key_line)
		uapi_request_add_key(req, "private_key", in->private_key);
	if (in->listen_port_line)
		uapi_request_add(req, "listen_port=%u\n", in->listen_port);
	if (u->fwmark)
		uapi_request_add(req, "fwmark=%u\n", u->fwmark);
	uapi_request_add(req, "replace_peers=true\n");
	for (size_t i = 0; i < u->cfg.n_peers; i++) {
		const struct config_peer *peer = &u->cfg.peers[i];
		uapi_request_add_key(req, "public_key", peer->public_key);
		if (peer->preshared_key_line)
			uapi_request_add_key(req, "preshared_key", peer->preshared_key);
		if (u->endpoints[i][0])
			uapi_request_add(req, "endpoint=%s\n", u->endpoints[i]);
		if (peer_has_host_name(peer)) {
			/* roamd follows names itself: every address of the
			 * peer goes as a name (literals too, to keep the order),
			 * resolved again at TTL and when the peer goes silent. */
			*has_roam_lines = true;
			if (roam_lines) {
				uapi_request_add(req, ROAM_KEY_REPLACE_ENDPOINT_NAMES "=true\n");
				put_name(req, &peer->endpoint);
				for (size_t j = 0; j < peer->n_extra_endpoints; j++)
					put_name(req, &peer->extra_endpoints[j]);
			}
		} else if (peer->n_extra_endpoints && u->endpoints[i][0]) {
			/* Endpoint first: the list is in order of preference. */
			*has_roam_lines = true;
			if (roam_lines) {
				uapi_request_add(req, ROAM_KEY_REPLACE_ENDPOINT_CANDIDATES "=true\n");
				uapi_request_add(req, ROAM_KEY_ENDPOINT_CANDIDATE "=%s\n", u->endpoints[i]);
				for (size_t j = 0; j < u->n_extras; j++)
					if (u->extras[j].peer == i)
						uapi_request_add(req, ROAM_KEY_ENDPOINT_CANDIDATE "=%s\n",
								 u->extras[j].text);
			}
		}
		if (peer->persistent_keepalive_line)
			uapi_request_add(req, "persistent_keepalive_interval=%u\n", peer->persistent_keepalive);
		uapi_request_add(req, "replace_allowed_ips=true\n");
		for (size_t j = 0; j < peer->n_allowed_ips; j++) {
			p = peer->allowed_ips[j].prefix;
			ip_prefix_mask(&p);
			uapi_request_add(req, "allowed_ip=%s\n", ip_prefix_str(&p, a));
		}
	}
}

/* Whether the daemon serving ifname is roamd (it answers get=2). */
static bool daemon_is_roamd(const char *ifname)
{
	struct uapi_device dev;
	char err[256];
	bool roamd = uapi_get_device(ifname, &dev, err, sizeof(err)) == 0 && dev.extended;

	uapi_device_free(&dev);
	return roamd;
}

static int configure(struct up *u)
{
	struct uapi_request req = { 0 };
	char err[256];
	bool has_roam_lines;
	int ret;

	build_setconf(u, &req, true, &has_roam_lines);
	run_say("wg setconf %s %s (over %s/%s.sock)", u->ifname, u->cfg.path, UAPI_SOCKET_DIR, u->ifname);
	ret = uapi_set_device(u->ifname, &req, err, sizeof(err));
	uapi_request_free(&req);
	if (ret && has_roam_lines && !daemon_is_roamd(u->ifname)) {
		/* Another daemon (wireguard-go as roamd, a wrapper): it refuses
		 * our keys, and set it all again without them, as wg setconf
		 * would. The tunnel works; what only roamd does is said. */
		fprintf(stderr,
			"roam up: %s is not served by roamd: failover between a peer's endpoints and following its "
			"host names need roamd; each peer gets its first endpoint only (run 'roam reresolve' from a "
			"timer to follow names)\n",
			u->ifname);
		build_setconf(u, &req, false, &has_roam_lines);
		ret = uapi_set_device(u->ifname, &req, err, sizeof(err));
		uapi_request_free(&req);
	}
	return ret ? fail("%s", err) : 0;
}

static int add_addresses(struct up *u)
{
	const struct config_interface *in = &u->cfg.iface;
	char a[IP_PREFIX_STRLEN];
	int err;

	for (size_t i = 0; i < in->n_addresses; i++) {
		const struct ip_prefix *p = &in->addresses[i].prefix;
		run_say("ip -%c address add %s dev %s", family_letter(p->family), ip_prefix_str(p, a), u->ifname);
		err = rtnl_addr(&u->nl, true, u->st.ifindex, p);
		if (err == -EEXIST)
			continue;	/* listed twice: once is enough, and undone once */
		if (err)
			return fail("cannot add address %s: %s", a, strerror(-err));
		*ARRAY_PUSH(u->st.addresses, u->st.n_addresses) = *p;
		if (save(u) < 0)
			return -1;
	}
	return 0;
}

static bool default_route_cb(const struct rtnl_route *route, void *ctx)
{
	struct rtnl_route *found = ctx;

	if (route->table != RTNL_TABLE_MAIN || route->dst.cidr != 0)
		return true;
	*found = *route;
	return false;
}

/* docs/protocol.md §8.3. wg-quick's script takes the largest MTU among the
 * endpoints' routes; a tunnel packet must fit every path, so the
 * smallest is taken here. */
static uint32_t automatic_mtu(struct up *u)
{
	struct rtnl_route def;
	uint32_t mtu = 0, m;

	for (size_t i = 0; i < u->n_endpoint_addrs; i++)
		if (rtnl_route_get_mtu(&u->nl, &u->endpoint_addrs[i], &m) == 0 && m && (!mtu || m < mtu))
			mtu = m;
	for (int family = AF_INET; !mtu && family; family = family == AF_INET ? AF_INET6 : 0) {
		memset(&def, 0, sizeof(def));
		if (rtnl_route_dump(&u->nl, family, default_route_cb, &def) == 0 && def.oif)
			mtu = def.mtu;
		if (!mtu && def.oif)
			rtnl_link_mtu(&u->nl, def.oif, &mtu);
	}
	if (!mtu)
		mtu = MTU_FALLBACK;
	return mtu > MTU_OVERHEAD + 68 ? mtu - MTU_OVERHEAD : 68;
}

static int link_up(struct up *u)
{
	uint32_t mtu = u->cfg.iface.mtu_line ? u->cfg.iface.mtu : automatic_mtu(u);
	int err;

	run_say("ip link set mtu %u up dev %s", mtu, u->ifname);
	err = rtnl_link_up(&u->nl, u->st.ifindex, mtu);
	return err ? fail("cannot set %s up with MTU %u: %s", u->ifname, mtu, strerror(-err)) : 0;
}

/* DNS = without a tool to set it fails, as in wg-quick, and before any
 * change: a full tunnel would leak every query to the local resolvers. */
static int dns_tool_present(struct up *u)
{
	if (!u->cfg.iface.n_dns)
		return 0;
	if (u->no_dns) {
		fprintf(stderr, "roam up: warning: --no-dns: DNS = (line %u) is ignored; the system's resolvers stay "
				"in use\n", u->cfg.iface.dns[0].line);
		return 0;
	}
	if (dns_method_available() == DNS_NONE)
		return fail("DNS = (line %u) needs resolvconf or resolvectl, and neither is installed "
			    "(install one, e.g. apt-get install resolvconf, or use systemd-resolved, or bring the interface up without "
			    "DNS: roam up --no-dns)", u->cfg.iface.dns[0].line);
	return 0;
}

static int set_dns(struct up *u)
{
	enum dns_method method;

	if (!u->cfg.iface.n_dns || u->no_dns)
		return 0;
	method = dns_method_available();
	if (method == DNS_NONE)	/* dns_tool_present said so before anything changed */
		return fail("neither resolvconf nor resolvectl is installed: DNS cannot be set");
	/* Recorded first: a half-done registration must be undone too. */
	u->st.dns = method;
	if (save(u) < 0)
		return -1;
	if (dns_register(method, u->ifname, &u->cfg.iface, u->full_tunnel[0] || u->full_tunnel[1]) < 0)
		return fail("%s could not set the DNS servers", dns_method_name(method));
	return 0;
}

static int add_route(struct up *u, const struct ip_prefix *dst, uint32_t table)
{
	struct rtnl_route route = { .dst = *dst, .table = table, .oif = u->st.ifindex };
	char a[IP_PREFIX_STRLEN], t[24] = "";
	int err;

	if (table != RTNL_TABLE_MAIN)
		snprintf(t, sizeof(t), " table %u", table);
	run_say("ip -%c route add %s dev %s%s", family_letter(dst->family), ip_prefix_str(dst, a), u->ifname, t);
	err = rtnl_route(&u->nl, true, &route);
	if (err == -EEXIST) {
		fprintf(stderr, "roam up: note: that route exists already; left as it is\n");
		return 0;
	}
	if (err)
		return fail("cannot add route %s: %s", a, strerror(-err));
	*ARRAY_PUSH(u->st.routes, u->st.n_routes) = (struct state_route){ *dst, table };
	return save(u);
}

static int add_rule(struct up *u, struct rtnl_rule *rule, const char *words)
{
	int err;

	run_say("ip -%c rule add %s", family_letter(rule->family), words);
	err = rtnl_rule_add(&u->nl, rule);
	if (err)
		return fail("cannot add rule '%s': %s", words, strerror(-err));
	*ARRAY_PUSH(u->st.rules, u->st.n_rules) = *rule;
	return save(u);
}

/* wg-quick's nftables rules for the family (firewall.h): without them a
 * host with strict reverse-path filtering drops every reply from the
 * endpoint. Recorded before nft runs, as a table half made must go too. */
static int add_firewall(struct up *u, int family)
{
	struct state_nft_table *t = ARRAY_PUSH(u->st.nft_tables, u->st.n_nft_tables);
	int ret;

	t->family = family;
	firewall_table_name(u->ifname, t->name);
	if (save(u) < 0)
		return -1;
	ret = firewall_add(family, t->name, u->ifname, u->fwmark, u->st.addresses, u->st.n_addresses);
	if (ret == -ENOENT) {
		u->st.n_nft_tables--;
		fprintf(stderr, "roam up: warning: nft is not installed, so the full tunnel has no connection-mark "
				"rules: on a host with strict reverse-path filtering (rp_filter=1) it carries nothing; "
				"install nftables\n");
		return save(u);
	}
	if (ret)
		return fail("nft could not add table %s %s (%s %d)", firewall_family_name(family), t->name,
			    ret < 0 ? "error" : "status", ret < 0 ? -ret : ret);
	return 0;
}

/* Packets the daemon sends carry fwmark T and so skip table T, whose
 * default route leads into the tunnel; all others look there, after the
 * main table had its say on anything more specific than a default route
 * (suppress_prefixlength 0 ignores main's own default). */
static int add_full_tunnel(struct up *u, int family)
{
	struct rtnl_rule not_marked = { family, 0, u->table, u->fwmark, true, -1 };
	struct rtnl_rule main_first = { family, 0, RTNL_TABLE_MAIN, 0, false, 0 };
	struct ip_prefix any = { .family = family, .cidr = 0 };
	static const char path[] = "/proc/sys/net/ipv4/conf/all/src_valid_mark";
	char words[64], v = '1';
	FILE *f;

	snprintf(words, sizeof(words), "not fwmark %u table %u", u->fwmark, u->table);
	if (add_rule(u, &not_marked, words) < 0 || add_rule(u, &main_first, "table main suppress_prefixlength 0") < 0 ||
	    add_route(u, &any, u->table) < 0 || add_firewall(u, family) < 0)
		return -1;
	if (family != AF_INET)
		return 0;
	/* With rp_filter, replies to marked packets are only accepted when
	 * the mark takes part in the reverse path lookup. */
	f = fopen(path, "r+e");
	if (!f || fread(&v, 1, 1, f) != 1 || v != '0') {
		if (f)
			fclose(f);
		return 0;
	}
	run_say("sysctl -q net.ipv4.conf.all.src_valid_mark=1");
	rewind(f);
	if (fputs("1\n", f) < 0 || fclose(f) != 0)
		return fail("cannot turn on net.ipv4.conf.all.src_valid_mark: %s", strerror(errno));
	u->st.src_valid_mark = true;
	return save(u);
}

/* wg-quick's order: the most specific prefixes first. */
static int prefix_order(const void *a, const void *b)
{
	const struct ip_prefix *x = a, *y = b;

	if (x->cidr != y->cidr)
		return x->cidr > y->cidr ? -1 : 1;
	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	return memcmp(x->addr, y->addr, sizeof(x->addr));
}

struct on_link {
	int ifindex;
	struct ip_prefix *v;
	size_t n;
};

static bool on_link_cb(const struct rtnl_route *route, void *ctx)
{
	struct on_link *l = ctx;

	if (route->table == RTNL_TABLE_MAIN && route->oif == l->ifindex)
		*ARRAY_PUSH(l->v, l->n) = route->dst;
	return true;
}

static bool routed_already(const struct on_link *l, const struct ip_prefix *p)
{
	for (size_t i = 0; i < l->n; i++)
		if (ip_prefix_contains(&l->v[i], p))
			return true;
	return false;
}

static int add_routes(struct up *u)
{
	struct on_link on_link = { .ifindex = u->st.ifindex };
	struct ip_prefix *all = NULL;
	size_t n = 0, i, j;
	int ret = 0;

	if (u->table_off)
		return 0;
	for (i = 0; i < u->cfg.n_peers; i++) {
		for (j = 0; j < u->cfg.peers[i].n_allowed_ips; j++) {
			struct ip_prefix *p = ARRAY_PUSH(all, n);
			*p = u->cfg.peers[i].allowed_ips[j].prefix;
			ip_prefix_mask(p);
		}
	}
	if (n)
		qsort(all, n, sizeof(*all), prefix_order);
	/* What the addresses already route through the interface (their
	 * subnets) needs no route of its own, as in wg-quick. Every prefix
	 * after this one is as long or shorter, so only the kernel's routes
	 * and duplicates can contain it. */
	if (u->table_auto && ((ret = rtnl_route_dump(&u->nl, AF_INET, on_link_cb, &on_link)) < 0 ||
			      (ret = rtnl_route_dump(&u->nl, AF_INET6, on_link_cb, &on_link)) < 0))
		ret = fail("cannot read the routing table: %s", strerror(-ret));
	for (i = 0; !ret && i < n; i++) {
		if (i && ip_prefix_equal(&all[i], &all[i - 1]))
			continue;
		if (!u->table_auto)
			ret = add_route(u, &all[i], u->table);
		else if (all[i].cidr == 0)
			ret = add_full_tunnel(u, all[i].family);
		else if (!routed_already(&on_link, &all[i]))
			ret = add_route(u, &all[i], RTNL_TABLE_MAIN);
	}
	free(on_link.v);
	free(all);
	return ret;
}

/* ---- the command ------------------------------------------------------- */

static void up_free(struct up *u)
{
	rtnl_close(&u->nl);
	config_free(&u->cfg);
	state_free(&u->st);
	free(u->endpoints);
	free(u->extras);
	free(u->endpoint_addrs);
	free(u->real_config);
}

/* The ledger's first version: what down needs even if nothing else
 * happens (the hooks it must run, where this came from). */
static void start_ledger(struct up *u)
{
	const struct config_interface *in = &u->cfg.iface;

	snprintf(u->st.ifname, sizeof(u->st.ifname), "%s", u->ifname);
	u->st.config = xstrdup(u->real_config);
	u->st.netns = state_current_netns();
	for (size_t i = 0; i < in->n_hooks[CONFIG_PRE_DOWN]; i++)
		*ARRAY_PUSH(u->st.pre_down, u->st.n_pre_down) = xstrdup(in->hooks[CONFIG_PRE_DOWN][i].s);
	for (size_t i = 0; i < in->n_hooks[CONFIG_POST_DOWN]; i++)
		*ARRAY_PUSH(u->st.post_down, u->st.n_post_down) = xstrdup(in->hooks[CONFIG_POST_DOWN][i].s);
}

int cmd_up(int argc, char **argv)
{
	struct up u = { 0 };
	char *config = NULL, err[256];
	int ret = 1;

	const char *target = NULL;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(up_usage, stdout);
			return 0;
		} else if (!strcmp(argv[i], "--no-dns")) {
			u.no_dns = true;
		} else if (argv[i][0] == '-' || target) {
			target = NULL;
			break;
		} else {
			target = argv[i];
		}
	}
	if (!target) {
		fputs("roam up: give one CONFIG file or IFNAME, and maybe --no-dns (see roam up --help)\n", stderr);
		return 2;
	}
	if (!updown_target(target, u.ifname, &config, err, sizeof(err))) {
		fprintf(stderr, "roam up: %s\n", err);
		return 2;
	}
	if (prepare(&u, config) < 0 || dns_tool_present(&u) < 0)
		goto out;
	start_ledger(&u);
	if (save(&u) < 0)
		goto out;
	if (run_hooks(&u, CONFIG_PRE_UP, "PreUp") < 0 || start_roamd(&u) < 0 || configure(&u) < 0 ||
	    add_addresses(&u) < 0 || link_up(&u) < 0 || set_dns(&u) < 0 || add_routes(&u) < 0 ||
	    run_hooks(&u, CONFIG_POST_UP, "PostUp") < 0) {
		fprintf(stderr, "roam up: undoing what was done\n");
		if (updown_teardown(&u.st) == 0)
			state_remove(u.ifname);
		else
			fprintf(stderr, "roam up: not all of it could be undone; 'roam down %s' tries again\n", u.ifname);
		goto out;
	}
	ret = 0;
	snprintf(err, sizeof(err), "READY=1\nSTATUS=%s up (roamd pid %d)\n", u.ifname, (int)u.st.roamd_pid);
	if (sd_notify_once(err) < 0)
		fprintf(stderr, "roam up: warning: cannot tell systemd (NOTIFY_SOCKET) that %s is up\n", u.ifname);
out:
	up_free(&u);
	free(config);
	return ret;
}
