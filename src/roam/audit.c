/* roam audit FILE...: lint wg-quick configurations, one device's or a whole
 * fleet's at once, for the mistakes that turn into "the VPN is flaky"
 * tickets: shared keys, AllowedIPs that collide or swallow the local
 * network, DNS that leaks around the tunnel, NAT mappings left to expire,
 * MTUs that black-hole, and private keys others can read.
 *
 * Every finding is FILE:LINE: severity: message (check-id). The parser's own
 * findings (syntax, unknown keys, malformed values) come first in the list
 * and the checks below run on whatever did parse, so one run shows all. */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "run.h"
#include "crypto.h"

/* Exit status, documented in the help below. */
enum {
	AUDIT_CLEAN = 0,
	AUDIT_WARNINGS = 1,
	AUDIT_ERRORS = 2,
	AUDIT_USAGE = 3,
};

/* WireGuard's overhead over an IPv6 outer header (docs/protocol.md §8.3): the
 * largest MTU that fits a 1500-byte path. */
enum { MTU_MAX_ON_1500 = 1420, IPV6_MIN_MTU = 1280 };

/* Every check, for --help and --skip. The parser's ids are here too. */
static const struct check_doc {
	const char *id;
	const char *severity;
	const char *what;
} checks[] = {
	{ "syntax", "error", "a line that is neither [Section] nor Key = Value, or a key before any section" },
	{ "unknown-section", "error", "a section other than [Interface] and [Peer]" },
	{ "unknown-key", "error", "a key wg-quick does not know, or one in the wrong section" },
	{ "bad-value", "error", "a malformed key, address, port, number or endpoint" },
	{ "no-interface", "error", "no [Interface] section (an empty file too): roam up and wg-quick refuse it" },
	{ "duplicate-interface", "error", "a second [Interface] section" },
	{ "duplicate-key", "warning", "a single-valued key set twice in one section (the last wins)" },
	{ "missing-public-key", "error", "a [Peer] without PublicKey" },
	{ "no-private-key", "warning", "an [Interface] without PrivateKey" },
	{ "host-bits", "warning", "an AllowedIPs prefix with host bits set" },
	{ "key-file-mode", "error", "a file holding a PrivateKey that other users can read" },
	{ "same-device-key", "error", "two files (devices) with the same PrivateKey" },
	{ "same-peer-key", "error", "two [Peer] sections with the same PublicKey" },
	{ "own-key-as-peer", "error", "the interface's own public key as one of its peers" },
	{ "same-allowed-ips", "error", "one prefix on two peers: it silently moves to the last one" },
	{ "overlapping-allowed-ips", "warning", "a prefix inside another peer's: the more specific one wins" },
	{ "local-network", "warning", "AllowedIPs covering this machine's address on a local network" },
	{ "full-tunnel", "info", "0.0.0.0/0 or ::/0 covering local networks (expected with wg-quick)" },
	{ "dns-outside-tunnel", "warning", "a DNS server outside every peer's AllowedIPs (a DNS leak)" },
	{ "no-keepalive", "warning", "a peer with an Endpoint and no PersistentKeepalive" },
	{ "mtu", "warning", "MTU above 1420, or below 1280 on an interface with IPv6 addresses" },
	{ "hook-syntax", "error", "a PreUp/PostUp/PreDown/PostDown that bash cannot parse" },
	{ "space-in-value", "warning", "whitespace inside an Endpoint: wg removes it, joining the words" },
};

enum { N_CHECKS = sizeof(checks) / sizeof(checks[0]) };

static const char usage[] =
	"Usage: roam audit [--json] [--skip CHECK[,CHECK...]] FILE...\n"
	"\n"
	"Checks wg-quick configuration files. Give every device's file at once to audit\n"
	"a fleet: keys are then compared across files too (a peer listed in several files\n"
	"is normal; one PrivateKey in two files is not).\n"
	"\n"
	"Output: one line per finding, ordered by file (as given) and line,\n"
	"  FILE:LINE: error|warning|info: MESSAGE (CHECK)\n"
	"then a summary line. With --json, one object instead:\n"
	"  {\"files\": [FILE...],\n"
	"   \"findings\": [{\"file\": F, \"line\": N, \"severity\": \"error\"|\"warning\"|\"info\",\n"
	"                 \"check\": CHECK, \"message\": M}...],\n"
	"   \"errors\": N, \"warnings\": N, \"infos\": N}\n"
	"Line 0 means the file as a whole. --skip leaves out findings of the given checks.\n"
	"The local-network checks look at this machine's own interfaces.\n"
	"\n"
	"Exit status:\n"
	"  0  no errors or warnings (info findings allowed)\n"
	"  1  warnings, no errors\n"
	"  2  errors\n"
	"  3  usage problem: bad option, no file, a file that cannot be read\n"
	"\n"
	"Checks:\n";

struct audit_file {
	const char *path;
	struct config cfg;
	struct diag_list diags;
	bool has_public_key;
	uint8_t public_key[KEY_LEN];
};

/* An address of this machine and the network its netmask makes of it. */
struct local_addr {
	struct ip_prefix addr;	/* /32 or /128 */
	struct ip_prefix net;	/* masked */
};

struct audit {
	struct audit_file *files;
	size_t n_files;
	struct local_addr *locals;
	size_t n_locals;
	bool skip[N_CHECKS];
	bool json;
};

/* ---- this machine's addresses ------------------------------------------ */

static unsigned netmask_bits(const struct sockaddr *sa)
{
	const uint8_t *b;
	unsigned i, len, bits = 0;

	if (!sa)
		return 0;
	if (sa->sa_family == AF_INET) {
		b = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
		len = 4;
	} else {
		b = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
		len = 16;
	}
	for (i = 0; i < len; i++)
		bits += (unsigned)__builtin_popcount(b[i]);
	return bits;
}

static int local_cmp(const void *a, const void *b)
{
	const struct local_addr *x = a, *y = b;

	if (x->addr.family != y->addr.family)
		return x->addr.family == AF_INET ? -1 : 1;
	return memcmp(x->addr.addr, y->addr.addr, sizeof(x->addr.addr));
}

/* Addresses on up, non-loopback interfaces. Link-local ones are left out:
 * every interface has one, and their routes are per-device and more
 * specific than anything in AllowedIPs, so a tunnel never takes them. */
static void read_local_addresses(struct audit *a)
{
	static const struct ip_prefix link_local4 = { AF_INET, 16, { 169, 254 } };
	static const struct ip_prefix link_local6 = { AF_INET6, 10, { 0xfe, 0x80 } };
	struct ifaddrs *ifa, *list;
	struct local_addr *l, tmp;

	if (getifaddrs(&list) < 0) {
		fprintf(stderr, "roam audit: cannot list this machine's addresses (%s); skipping local-network checks\n",
			strerror(errno));
		return;
	}
	for (ifa = list; ifa; ifa = ifa->ifa_next) {
		if (!ifa->ifa_addr || (ifa->ifa_flags & IFF_LOOPBACK) || !(ifa->ifa_flags & IFF_UP))
			continue;
		memset(&tmp, 0, sizeof(tmp));
		if (ifa->ifa_addr->sa_family == AF_INET) {
			tmp.addr.family = AF_INET;
			tmp.addr.cidr = 32;
			memcpy(tmp.addr.addr, &((struct sockaddr_in *)ifa->ifa_addr)->sin_addr, 4);
		} else if (ifa->ifa_addr->sa_family == AF_INET6) {
			tmp.addr.family = AF_INET6;
			tmp.addr.cidr = 128;
			memcpy(tmp.addr.addr, ((struct sockaddr_in6 *)ifa->ifa_addr)->sin6_addr.s6_addr, 16);
		} else {
			continue;
		}
		if (ip_prefix_contains(&link_local4, &tmp.addr) || ip_prefix_contains(&link_local6, &tmp.addr))
			continue;
		tmp.net = tmp.addr;
		tmp.net.cidr = (uint8_t)netmask_bits(ifa->ifa_netmask);
		ip_prefix_mask(&tmp.net);
		l = ARRAY_PUSH(a->locals, a->n_locals);
		*l = tmp;
	}
	freeifaddrs(list);
	/* getifaddrs order depends on interface indexes; sorted, the messages
	 * are the same on every run. */
	if (a->n_locals)
		qsort(a->locals, a->n_locals, sizeof(*a->locals), local_cmp);
}

/* ---- per-file checks --------------------------------------------------- */

static const char *peer_line_str(const struct config_peer *peer, char buf[32])
{
	snprintf(buf, 32, "the [Peer] on line %u", peer->line);
	return buf;
}

static void check_interface_key(struct audit_file *f)
{
	const struct config_interface *in = &f->cfg.iface;
	const char *who;
	mode_t mode = f->cfg.mode;

	if (!in->private_key_line)
		return;
	f->has_public_key = x25519_public_from_private(f->public_key, in->private_key);
	if (!(mode & 044))
		return;
	who = (mode & 044) == 044 ? "its group and all other users" : (mode & 040) ? "its group" : "all other users";
	char *path = run_shell_quote(f->path);
	diag_add(&f->diags, f->path, in->private_key_line, DIAG_ERROR, "key-file-mode",
		 "the file holds this PrivateKey and %s can read it (mode %04o); run chmod 600 %s", who,
		 (unsigned)mode, path);
	free(path);
}

/* Each PreUp/PostUp/PreDown/PostDown through bash -n (parse, run
 * nothing): wg-quick evals hooks in bash and stops halfway through up or
 * down at a hook that does not parse, leaving routes or rules behind. */
static void check_hooks(struct audit_file *f)
{
	static const char *const names[CONFIG_HOOK_COUNT] = {"PreUp", "PostUp", "PreDown", "PostDown"};
	const struct config_interface *in = &f->cfg.iface;
	char bash[256];

	if (!run_find_program("bash", bash, sizeof(bash)))
		return;
	for (int h = 0; h < CONFIG_HOOK_COUNT; h++)
		for (size_t i = 0; i < in->n_hooks[h]; i++) {
			const struct config_string *hook = &in->hooks[h][i];
			char *out;
			size_t len;
			/* bash -n writes its complaint on stderr, which
			 * run_capture drops: the inner shell sends it to stdout. */
			int rc = run_capture((char *const[]){bash, "-c", "exec 2>&1; exec \"$0\" -n -c \"$1\"", bash,
							     hook->s, NULL},
					     &out, &len);
			if (rc == 0 || rc < 0 || !out) {
				free(out);
				continue;
			}
			/* "bash: -c: line 1: unexpected EOF ..." -> the part after
			 * "line N: ", first line only. */
			char *nl = strchr(out, '\n'), *why = strstr(out, "line ");
			if (nl)
				*nl = '\0';
			if (why && (why = strchr(why, ':')) != NULL)
				why += why[1] == ' ' ? 2 : 1;
			diag_add(&f->diags, f->path, hook->line, DIAG_ERROR, "hook-syntax",
				 "this %s is not valid bash (%s): wg-quick stops at it halfway through, leaving what "
				 "ran before it in place",
				 names[h], why && *why ? why : "bash -n fails");
			free(out);
		}
}

/* Peers sorted by public key, so equal keys are neighbours: O(n log n) for a
 * server with thousands of peers. */
struct peer_ref {
	const struct config_peer *peer;
	size_t index;
};

static int peer_ref_cmp(const void *a, const void *b)
{
	const struct peer_ref *x = a, *y = b;
	int c = memcmp(x->peer->public_key, y->peer->public_key, KEY_LEN);

	if (c)
		return c;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* Reports peers sharing a key and fills owner[i] with the index of the
 * first peer holding peer i's key: WireGuard merges such sections into one
 * peer, so the AllowedIPs checks must treat them as one. */
static void check_peer_keys(struct audit_file *f, size_t *owner)
{
	const struct config *cfg = &f->cfg;
	struct peer_ref *refs = xrealloc(NULL, cfg->n_peers * sizeof(*refs));
	size_t i, n = 0, first = 0;
	char where[32];

	for (i = 0; i < cfg->n_peers; i++) {
		owner[i] = i;
		if (cfg->peers[i].public_key_line)
			refs[n++] = (struct peer_ref){ &cfg->peers[i], i };
	}
	if (n)
		qsort(refs, n, sizeof(*refs), peer_ref_cmp);
	for (i = 0; i < n; i++) {
		if (i == 0 || memcmp(refs[i].peer->public_key, refs[first].peer->public_key, KEY_LEN)) {
			first = i;
			continue;
		}
		owner[refs[i].index] = refs[first].index;
		diag_add(&f->diags, f->path, refs[i].peer->public_key_line, DIAG_ERROR, "same-peer-key",
			 "%s has the same PublicKey: WireGuard merges both into one peer and this section's "
			 "AllowedIPs replace that one's; give every device its own key",
			 peer_line_str(refs[first].peer, where));
	}
	for (i = 0; f->has_public_key && i < cfg->n_peers; i++)
		if (cfg->peers[i].public_key_line && !memcmp(cfg->peers[i].public_key, f->public_key, KEY_LEN))
			diag_add(&f->diags, f->path, cfg->peers[i].public_key_line, DIAG_ERROR, "own-key-as-peer",
				 "this is the interface's own public key (its PrivateKey is on line %u): a device "
				 "cannot be its own peer; the wrong key was pasted here",
				 cfg->iface.private_key_line);
	free(refs);
}

struct route {
	struct ip_prefix prefix;	/* masked */
	size_t owner;			/* peer index, merged by key */
	const struct config_peer *peer;
	unsigned line;
};

/* Network order, then shorter prefix first: a prefix then comes after
 * every prefix that contains it. Equal prefixes keep file order. */
static int route_cmp(const void *a, const void *b)
{
	const struct route *x = a, *y = b;
	int c;

	if (x->prefix.family != y->prefix.family)
		return x->prefix.family == AF_INET ? -1 : 1;
	c = memcmp(x->prefix.addr, y->prefix.addr, sizeof(x->prefix.addr));
	if (c)
		return c;
	if (x->prefix.cidr != y->prefix.cidr)
		return x->prefix.cidr < y->prefix.cidr ? -1 : 1;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->owner < y->owner ? -1 : x->owner > y->owner;
}

/* Duplicate and nested AllowedIPs across peers, in one sweep over the sorted
 * routes: a stack holds the chain of prefixes containing the current one
 * (prefixes either nest or are disjoint, so whatever does not contain the
 * current prefix cannot contain any later one either). */
static void check_allowed_ips(struct audit_file *f, const size_t *owner)
{
	const struct config *cfg = &f->cfg;
	struct route *routes = NULL, *r, **stack;
	size_t n = 0, depth = 0, i, j, k;
	char b1[IP_PREFIX_STRLEN], b2[IP_PREFIX_STRLEN], where[32];

	for (i = 0; i < cfg->n_peers; i++) {
		for (j = 0; j < cfg->peers[i].n_allowed_ips; j++) {
			r = ARRAY_PUSH(routes, n);
			r->prefix = cfg->peers[i].allowed_ips[j].prefix;
			ip_prefix_mask(&r->prefix);
			r->owner = owner[i];
			r->peer = &cfg->peers[i];
			r->line = cfg->peers[i].allowed_ips[j].line;
		}
	}
	if (!n)
		return;
	qsort(routes, n, sizeof(*routes), route_cmp);
	stack = xrealloc(NULL, n * sizeof(*stack));
	for (i = 0; i < n; i++) {
		r = &routes[i];
		while (depth && !ip_prefix_contains(&stack[depth - 1]->prefix, &r->prefix))
			depth--;
		if (depth && ip_prefix_equal(&stack[depth - 1]->prefix, &r->prefix)) {
			/* The same prefix again: harmless on one peer, lost by
			 * the earlier one on two. */
			if (stack[depth - 1]->owner != r->owner)
				diag_add(&f->diags, f->path, r->line, DIAG_ERROR, "same-allowed-ips",
					 "%s is also in the AllowedIPs of %s; WireGuard silently moves it to this "
					 "peer (the last one wins), so that one never gets this traffic",
					 ip_prefix_str(&r->prefix, b1), peer_line_str(stack[depth - 1]->peer, where));
		} else {
			/* The innermost container on another peer. A /0 is left
			 * out: a default route is there to be overridden by the
			 * more specific routes of other peers. */
			for (k = depth; k > 0; k--) {
				const struct route *c = stack[k - 1];

				if (c->owner == r->owner || c->prefix.cidr == 0)
					continue;
				diag_add(&f->diags, f->path, r->line, DIAG_WARNING, "overlapping-allowed-ips",
					 "%s lies inside %s of %s: the more specific prefix wins, so this peer "
					 "takes that part of the traffic",
					 ip_prefix_str(&r->prefix, b1), ip_prefix_str(&c->prefix, b2),
					 peer_line_str(c->peer, where));
				break;
			}
		}
		stack[depth++] = r;
	}
	free(stack);
	free(routes);
}

static bool is_own_address(const struct config_interface *in, const struct ip_prefix *addr)
{
	struct ip_prefix a;
	size_t i;

	for (i = 0; i < in->n_addresses; i++) {
		a = in->addresses[i].prefix;
		a.cidr = addr->cidr;
		if (ip_prefix_equal(&a, addr))
			return true;
	}
	return false;
}

/* Appends ", NET" (or "NET" first) to a growing message. */
static void append_net(char **list, size_t *len, const struct ip_prefix *net)
{
	char buf[IP_PREFIX_STRLEN];
	size_t add;

	ip_prefix_str(net, buf);
	add = strlen(buf) + 2;
	*list = xrealloc(*list, *len + add + 1);
	sprintf(*list + *len, "%s%s", *len ? ", " : "", buf);
	*len += strlen(*list + *len);
}

/* AllowedIPs become routes (with Table = auto, the default), so a prefix
 * holding one of this machine's addresses pulls its local network, or part
 * of it, into the tunnel. The tunnel's own Address is no local network. */
static void check_local_networks(struct audit *a, struct audit_file *f)
{
	const struct config_interface *in = &f->cfg.iface;
	const struct config_prefix *ip;
	const struct local_addr *l, *last;
	struct ip_prefix masked;
	char b1[IP_PREFIX_STRLEN], b2[IP_PREFIX_STRLEN], b3[IP_PREFIX_STRLEN];
	char *nets;
	size_t i, j, k, len;

	/* wg-quick routes AllowedIPs through the main table only with Table =
	 * auto (the default) or main: off adds no routes, and a table of its
	 * own takes no traffic until the operator's own rules send some. A /0
	 * gets the fwmark treatment only with auto. */
	bool table_auto = !in->table || !strcasecmp(in->table, "auto");

	if (!table_auto && strcasecmp(in->table, "main"))
		return;
	for (i = 0; i < f->cfg.n_peers; i++) {
		for (j = 0; j < f->cfg.peers[i].n_allowed_ips; j++) {
			ip = &f->cfg.peers[i].allowed_ips[j];
			masked = ip->prefix;
			ip_prefix_mask(&masked);
			nets = NULL;
			len = 0;
			last = NULL;
			for (k = 0; k < a->n_locals; k++) {
				l = &a->locals[k];
				if (!ip_prefix_contains(&masked, &l->addr) || is_own_address(in, &l->addr))
					continue;
				/* One finding per network, however many of our
				 * addresses it has (the list is sorted). */
				if (last && ip_prefix_equal(&last->net, &l->net))
					continue;
				last = l;
				if (masked.cidr == 0) {
					if (table_auto)
						append_net(&nets, &len, &l->net);
					continue;
				}
				diag_add(&f->diags, f->path, ip->line, DIAG_WARNING, "local-network",
					 "AllowedIPs %s covers %s, this machine's address on the local network %s: "
					 "traffic to it (gateway, printers, captive portals) would go into the tunnel",
					 ip_prefix_str(&ip->prefix, b1), ip_addr_str(&l->addr, b2),
					 ip_prefix_str(&l->net, b3));
			}
			if (nets)
				diag_add(&f->diags, f->path, ip->line, DIAG_INFO, "full-tunnel",
					 "%s is a full tunnel and also covers the local network%s %s; that is expected: "
					 "wg-quick marks the tunnel's own packets (FwMark) and keeps the more specific "
					 "local routes in the main table (suppress_prefixlength 0), so they stay reachable",
					 ip_prefix_str(&masked, b1), strchr(nets, ',') ? "s" : "", nets);
			free(nets);
		}
	}
}

static void check_dns(struct audit_file *f)
{
	const struct config_interface *in = &f->cfg.iface;
	const struct config_peer *peer;
	bool covered;
	size_t i, j, k;
	char buf[IP_PREFIX_STRLEN];

	for (i = 0; i < in->n_dns; i++) {
		if (!in->dns[i].is_addr)
			continue;
		covered = false;
		for (j = 0; j < f->cfg.n_peers && !covered; j++) {
			peer = &f->cfg.peers[j];
			for (k = 0; k < peer->n_allowed_ips && !covered; k++)
				covered = ip_prefix_contains(&peer->allowed_ips[k].prefix, &in->dns[i].addr);
		}
		if (!covered)
			diag_add(&f->diags, f->path, in->dns[i].line, DIAG_WARNING, "dns-outside-tunnel",
				 "DNS server %s is outside every peer's AllowedIPs: lookups go around the tunnel "
				 "(a DNS leak) and internal names fail on networks that cannot reach it; add it to "
				 "the AllowedIPs of the peer that serves it",
				 ip_addr_str(&in->dns[i].addr, buf));
	}
}

static void check_keepalive(struct audit_file *f)
{
	const struct config_peer *peer;
	size_t i;

	for (i = 0; i < f->cfg.n_peers; i++) {
		peer = &f->cfg.peers[i];
		if (!peer->endpoint.line || peer->persistent_keepalive)
			continue;
		diag_add(&f->diags, f->path, peer->endpoint.line, DIAG_WARNING, "no-keepalive",
			 "this peer has an Endpoint but %s: behind NAT (mobile carriers, home routers) the "
			 "mapping expires while the tunnel is idle and replies stop arriving; set "
			 "PersistentKeepalive = 25 on the side behind NAT",
			 peer->persistent_keepalive_line ? "PersistentKeepalive is off" : "no PersistentKeepalive");
	}
}

static void check_mtu(struct audit_file *f)
{
	const struct config_interface *in = &f->cfg.iface;
	size_t i;

	if (!in->mtu_line)
		return;
	if (in->mtu > MTU_MAX_ON_1500) {
		diag_add(&f->diags, f->path, in->mtu_line, DIAG_WARNING, "mtu",
			 "MTU %u is above 1420, the most a 1500-byte path carries after WireGuard's 80 bytes: "
			 "bigger packets fragment or black-hole, which users report as a flaky VPN; use 1420, "
			 "or 1280 for mobile-first setups",
			 in->mtu);
		return;
	}
	for (i = 0; i < in->n_addresses && in->mtu < IPV6_MIN_MTU; i++) {
		if (in->addresses[i].prefix.family != AF_INET6)
			continue;
		diag_add(&f->diags, f->path, in->mtu_line, DIAG_WARNING, "mtu",
			 "MTU %u is below 1280, the least IPv6 allows: Linux turns IPv6 off on the interface, so "
			 "the IPv6 Address on line %u cannot work; 1280 is the safe value for mobile",
			 in->mtu, in->addresses[i].line);
		return;
	}
}

static void check_file(struct audit *a, struct audit_file *f)
{
	size_t *owner = xrealloc(NULL, (f->cfg.n_peers + 1) * sizeof(*owner));

	/* What `roam up` refuses once the file parses (so a binary file keeps
	 * its one error); a fragment for `wg addconf` may skip the check. */
	if (!f->cfg.iface.line && !diag_count(&f->diags, DIAG_ERROR))
		diag_add(&f->diags, f->path, 0, DIAG_ERROR, "no-interface",
			 "no [Interface] section: 'roam up' and wg-quick refuse this file");

	check_interface_key(f);
	check_peer_keys(f, owner);
	check_allowed_ips(f, owner);
	check_local_networks(a, f);
	check_dns(f);
	check_keepalive(f);
	check_mtu(f);
	check_hooks(f);
	free(owner);
}

/* ---- fleet checks ------------------------------------------------------ */

/* One device, one key: two files with the same PrivateKey are two devices
 * that peers cannot tell apart. Peers' public keys may repeat across files
 * (every client lists the same server). */
static void check_device_keys(struct audit *a)
{
	struct audit_file *f, *g;
	char *others;
	size_t i, j, len, add;

	for (i = 0; i < a->n_files; i++) {
		f = &a->files[i];
		if (!f->has_public_key)
			continue;
		others = NULL;
		len = 0;
		for (j = 0; j < a->n_files; j++) {
			g = &a->files[j];
			if (j == i || !g->has_public_key || memcmp(f->public_key, g->public_key, KEY_LEN))
				continue;
			add = strlen(g->path) + 16;
			others = xrealloc(others, len + add);
			len += (size_t)snprintf(others + len, add, "%s%s:%u", len ? ", " : "", g->path,
						g->cfg.iface.private_key_line);
		}
		if (others)
			diag_add(&f->diags, f->path, f->cfg.iface.private_key_line, DIAG_ERROR, "same-device-key",
				 "the same PrivateKey as %s: peers see one device, its endpoint flips to whichever "
				 "sent last and they steal each other's traffic; give each device its own key "
				 "(roam genkey)",
				 others);
		free(others);
	}
}

/* ---- output ------------------------------------------------------------ */

/* The length of the valid UTF-8 sequence at s, or 0 (RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF). */
static size_t utf8_len(const unsigned char *s)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/* Messages are ASCII, but file names are whatever the file system holds:
 * bytes that are not UTF-8 become U+FFFD so the document always parses. */
static void json_string(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n;

	putchar('"');
	while (*s) {
		n = utf8_len(s);
		if (n == 0) {
			fputs("\\ufffd", stdout);
			n = 1;
		} else if (*s == '"' || *s == '\\') {
			printf("\\%c", *s);
		} else if (*s < 0x20) {
			printf("\\u%04x", *s);
		} else {
			fwrite(s, 1, n, stdout);
		}
		s += n;
	}
	putchar('"');
}

static bool skipped(const struct audit *a, const char *check)
{
	size_t i;

	for (i = 0; i < N_CHECKS; i++)
		if (!strcmp(checks[i].id, check))
			return a->skip[i];
	return false;
}

static const char *plural(size_t n)
{
	return n == 1 ? "" : "s";
}

/* Prints everything not skipped; returns the exit status. */
static int report(struct audit *a)
{
	size_t count[3] = { 0 }, i, j, shown = 0;
	const struct diag *d;

	if (a->json) {
		fputs("{\n  \"files\": [", stdout);
		for (i = 0; i < a->n_files; i++) {
			fputs(i ? ", " : "", stdout);
			json_string(a->files[i].path);
		}
		fputs("],\n  \"findings\": [", stdout);
	}
	for (i = 0; i < a->n_files; i++) {
		diag_sort(&a->files[i].diags);
		for (j = 0; j < a->files[i].diags.n; j++) {
			d = &a->files[i].diags.v[j];
			if (skipped(a, d->check))
				continue;
			count[d->severity]++;
			if (!a->json) {
				/* Line 0: the file as a whole. */
				if (d->line)
					printf("%s:%u: ", d->file, d->line);
				else
					printf("%s: ", d->file);
				printf("%s: %s (%s)\n", diag_severity_name(d->severity), d->message, d->check);
				continue;
			}
			fputs(shown++ ? ",\n    {\"file\": " : "\n    {\"file\": ", stdout);
			json_string(d->file);
			printf(", \"line\": %u, \"severity\": \"%s\", \"check\": ", d->line,
			       diag_severity_name(d->severity));
			json_string(d->check);
			fputs(", \"message\": ", stdout);
			json_string(d->message);
			putchar('}');
		}
	}
	if (a->json)
		printf("%s],\n  \"errors\": %zu,\n  \"warnings\": %zu,\n  \"infos\": %zu\n}\n", shown ? "\n  " : "",
		       count[DIAG_ERROR], count[DIAG_WARNING], count[DIAG_INFO]);
	else
		printf("%zu file%s checked: %zu error%s, %zu warning%s, %zu info\n", a->n_files, plural(a->n_files),
		       count[DIAG_ERROR], plural(count[DIAG_ERROR]), count[DIAG_WARNING], plural(count[DIAG_WARNING]),
		       count[DIAG_INFO]);
	if (count[DIAG_ERROR])
		return AUDIT_ERRORS;
	return count[DIAG_WARNING] ? AUDIT_WARNINGS : AUDIT_CLEAN;
}

/* ---- the command ------------------------------------------------------- */

static bool parse_skip(struct audit *a, char *list)
{
	char *id;
	size_t i;

	while ((id = strsep(&list, ",")) != NULL) {
		for (i = 0; i < N_CHECKS && strcmp(checks[i].id, id); i++)
			;
		if (i == N_CHECKS) {
			fprintf(stderr, "roam audit: --skip: unknown check '%s' (roam audit --help lists them)\n", id);
			return false;
		}
		a->skip[i] = true;
	}
	return true;
}

static void audit_free(struct audit *a)
{
	size_t i;

	for (i = 0; i < a->n_files; i++) {
		config_free(&a->files[i].cfg);
		diag_list_free(&a->files[i].diags);
		crypto_wipe(a->files[i].public_key, KEY_LEN);
	}
	free(a->files);
	free(a->locals);
}

/* Options and files in any order, as in show and doctor ("roam audit
 * FILE... --json"); after "--" everything is a file. The files are put in
 * files[], in order. */
static int parse_args(struct audit *a, int argc, char **argv, char **files, int *n_files)
{
	bool options = true;
	size_t i;
	int n;

	*n_files = 0;
	for (n = 1; n < argc; n++) {
		if (!options || argv[n][0] != '-' || !argv[n][1]) {
			files[(*n_files)++] = argv[n];
		} else if (!strcmp(argv[n], "--")) {
			options = false;
		} else if (!strcmp(argv[n], "--help") || !strcmp(argv[n], "-h")) {
			fputs(usage, stdout);
			for (i = 0; i < N_CHECKS; i++)
				printf("  %-24s %-8s %s\n", checks[i].id, checks[i].severity, checks[i].what);
			return AUDIT_CLEAN;
		} else if (!strcmp(argv[n], "--json")) {
			a->json = true;
		} else if (!strncmp(argv[n], "--skip=", 7)) {
			if (!parse_skip(a, argv[n] + 7))
				return AUDIT_USAGE;
		} else if (!strcmp(argv[n], "--skip") && n + 1 < argc) {
			if (!parse_skip(a, argv[++n]))
				return AUDIT_USAGE;
		} else {
			fprintf(stderr, "roam audit: unknown option '%s' (see roam audit --help)\n", argv[n]);
			return AUDIT_USAGE;
		}
	}
	if (!*n_files) {
		fputs("roam audit: no files given; usage: roam audit [--json] [--skip CHECK,...] FILE...\n", stderr);
		return AUDIT_USAGE;
	}
	return -1;
}

int cmd_audit(int argc, char **argv)
{
	struct audit a = { 0 };
	struct audit_file *f;
	char **files = xrealloc(NULL, (size_t)argc * sizeof(files[0]));
	int n_files, ret, err, i;
	size_t j;

	ret = parse_args(&a, argc, argv, files, &n_files);
	if (ret >= 0) {
		free(files);
		return ret;
	}
	/* Read everything before reporting anything: a file that cannot be
	 * read is a usage problem, and half a report would hide it. */
	for (i = 0; i < n_files; i++) {
		for (j = 0; j < a.n_files && strcmp(a.files[j].path, files[i]); j++)
			;
		if (j < a.n_files)
			continue;	/* the same file twice is not two devices */
		f = ARRAY_PUSH(a.files, a.n_files);
		f->path = files[i];
		err = config_parse_file(files[i], &f->cfg, &f->diags);
		if (err) {
			fprintf(stderr, "roam audit: cannot read %s: %s\n", files[i], strerror(-err));
			audit_free(&a);
			free(files);
			return AUDIT_USAGE;
		}
	}
	free(files);
	read_local_addresses(&a);
	for (j = 0; j < a.n_files; j++)
		check_file(&a, &a.files[j]);
	check_device_keys(&a);
	ret = report(&a);
	audit_free(&a);
	return ret;
}
