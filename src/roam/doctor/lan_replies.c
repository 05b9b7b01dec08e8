/* Do hosts on this server's other networks answer the tunnel's clients?
 * A client's flow to a LAN host that leaves without a source NAT carries
 * the client's tunnel address; the host answers only if it (or its
 * gateway) routes the tunnel's subnet back to this server. Connection
 * tracking shows such flows staying [UNREPLIED]; one ping to that host
 * from this host's own address there (answered) and one from its tunnel
 * address (not answered) make it clear that the way back is missing, not
 * the host. A host deaf to both pings whose neighbour entry here is
 * PERMANENT or unresolved is one this host cannot reach at all; a host
 * answering both while one client's flows stay unanswered ignores that
 * client (it may hold the client's address itself). */
#include "alloc.h"
#include "conntrack.h"
#include "doctor.h"
#include "rtnl.h"
#include "run.h"

#include <net/if.h>
#include <net/if_arp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum {
	LAN_LINES_MAX = 65536,	/* of the table read: a busy router has more */
	LAN_HOSTS_MAX = 32,	/* distinct hosts followed */
	LAN_PING_MS = 700,
	LAN_RECHECK_MS = 1000,	/* a client that just started has its answers by then */
};

/* One client's flows to one host. */
struct lan_host {
	struct ip_prefix addr, client;
	int oif;
	uint64_t unreplied, replied;
};

struct lan_search {
	const struct ip_prefix *clients;
	size_t n_clients;
	int tunnel_ifindex;
	struct rtnl nl;
	struct lan_host hosts[LAN_HOSTS_MAX];
	size_t n_hosts;
};

static bool is_client(const struct lan_search *s, const struct ip_prefix *a)
{
	for (size_t i = 0; i < s->n_clients; i++)
		if (ip_prefix_contains(&s->clients[i], a))
			return true;
	return false;
}

/* One flow: a client's, to a host off another interface, not NATed. */
static void lan_note(struct lan_search *s, const struct conntrack_entry *e)
{
	struct lan_host *h = NULL;
	int oif = 0;
	bool local = false;

	if (e->orig_src.family != AF_INET || !is_client(s, &e->orig_src) || is_client(s, &e->orig_dst) ||
	    !conntrack_not_nated(e))
		return;
	for (size_t i = 0; i < s->n_hosts && !h; i++)
		if (ip_prefix_equal(&s->hosts[i].addr, &e->orig_dst) && ip_prefix_equal(&s->hosts[i].client, &e->orig_src))
			h = &s->hosts[i];
	if (!h) {
		if (s->n_hosts == LAN_HOSTS_MAX || rtnl_route_get_oif(&s->nl, &e->orig_dst, &oif, &local) != 0 ||
		    local || oif <= 0 || oif == s->tunnel_ifindex)
			return;
		h = &s->hosts[s->n_hosts++];
		h->addr = e->orig_dst;
		h->client = e->orig_src;
		h->oif = oif;
	}
	if (e->unreplied)
		h->unreplied++;
	else
		h->replied++;
}

/* The table: /proc/net/nf_conntrack, else `conntrack -L`; NULL if none. */
static char *conntrack_table(void)
{
	char prog[256], *text = NULL;
	size_t len;
	FILE *f = fopen("/proc/net/nf_conntrack", "r");

	if (f) {
		char line[512];
		size_t cap = 0, used = 0, lines = 0;

		while (lines++ < LAN_LINES_MAX && fgets(line, sizeof(line), f)) {
			size_t n = strlen(line);

			if (used + n + 1 > cap) {
				cap = (used + n + 1) * 2;
				text = xrealloc(text, cap);
			}
			memcpy(text + used, line, n + 1);
			used += n;
		}
		fclose(f);
		return text;
	}
	if (!run_find_program("conntrack", prog, sizeof(prog)) ||
	    run_capture((char *const[]){ prog, "-L", "-f", "ipv4", NULL }, &text, &len) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

/* This host's address on ifname in the same network as host, else its
 * first IPv4 one there. */
static bool address_towards(const char *ifname, const struct ip_prefix *host, struct ip_prefix *out)
{
	struct ip_prefix *addrs;
	size_t n = doctor_own_addresses(ifname, &addrs);
	bool found = false;

	for (size_t i = 0; i < n; i++) {
		if (addrs[i].family != AF_INET)
			continue;
		if (!found || ip_prefix_contains(&addrs[i], host))
			*out = addrs[i];
		found = true;
	}
	free(addrs);
	return found;
}

/* Does host answer a ping sent out of ifname from src? */
static bool answers_from(const char *ifname, const struct ip_prefix *src, const struct ip_prefix *host)
{
	struct pinger pg;
	uint64_t rtt;
	bool answered = false;

	if (pinger_open(&pg, AF_INET, ifname) != 0)
		return false;
	for (int i = 0; i < 2 && !answered && pinger_bind_source(&pg, src) == 0; i++)
		answered = pinger_echo(&pg, host, PING_MIN_PACKET, LAN_PING_MS, &rtt) == 1;
	pinger_close(&pg);
	return answered;
}

/* Reads the clients' flows into s; false without a table. */
static bool lan_search_fill(struct lan_search *s)
{
	char *table = conntrack_table(), *line, *save = NULL;

	s->n_hosts = 0;
	if (!table)
		return false;
	if (rtnl_open(&s->nl) == 0) {
		for (line = strtok_r(table, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			struct conntrack_entry e;

			if (conntrack_parse(line, &e))
				lan_note(s, &e);
		}
		rtnl_close(&s->nl);
	}
	free(table);
	return true;
}

/* The one client's flows to host, NULL if none was seen. */
static const struct lan_host *lan_pair(const struct lan_search *s, const struct lan_host *like)
{
	for (size_t i = 0; i < s->n_hosts; i++)
		if (ip_prefix_equal(&s->hosts[i].addr, &like->addr) && ip_prefix_equal(&s->hosts[i].client, &like->client))
			return &s->hosts[i];
	return NULL;
}

/* Flows of any client to host that got an answer. */
static uint64_t host_replied(const struct lan_search *s, const struct ip_prefix *host)
{
	uint64_t n = 0;

	for (size_t i = 0; i < s->n_hosts; i++)
		if (ip_prefix_equal(&s->hosts[i].addr, host))
			n += s->hosts[i].replied;
	return n;
}

/* The neighbour entry (ARP) this host holds for addr on dev, as
 * /proc/net/arp lists it: "PERMANENT", "complete", "unresolved"
 * (INCOMPLETE or FAILED: nobody answered ARP) or "none". */
static void neighbour_entry(const char *dev, const char *addr, struct forwarding_observation *o)
{
	char line[256], ip[64], hw[64], ifname[IF_NAMESIZE + 8];
	unsigned type, flags;
	FILE *f = fopen("/proc/net/arp", "r");

	snprintf(o->lan_neigh_state, sizeof(o->lan_neigh_state), "none");
	o->lan_lladdr[0] = '\0';
	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63s %x %x %63s %*s %23s", ip, &type, &flags, hw, ifname) != 5 || strcmp(ip, addr) ||
		    strcmp(ifname, dev))
			continue;
		snprintf(o->lan_neigh_state, sizeof(o->lan_neigh_state), "%s",
			 flags & ATF_PERM ? "PERMANENT" : flags & ATF_COM ? "complete" : "unresolved");
		if (flags & ATF_COM)
			snprintf(o->lan_lladdr, sizeof(o->lan_lladdr), "%s", hw);
		break;
	}
	if (f)
		fclose(f);
}

/* The host deaf to this host too: is its neighbour entry (or its
 * gateway's) one that explains it? A complete one means it answers ARP
 * and only ignores pings: not named. */
static bool host_unreachable(struct lan_search *s, const char *dev, const struct ip_prefix *host,
			     struct forwarding_observation *o)
{
	struct rtnl_route via = { 0 };
	bool local = false;

	ip_addr_str(host, o->lan_neigh);
	if (rtnl_open(&s->nl) == 0) {
		if (rtnl_route_get_via(&s->nl, host, 0, &via, &local) == 0 && via.gateway.family == AF_INET)
			ip_addr_str(&via.gateway, o->lan_neigh);
		rtnl_close(&s->nl);
	}
	neighbour_entry(dev, o->lan_neigh, o);
	return strcmp(o->lan_neigh_state, "complete") != 0;
}

/* Both pings answered: does this client's flows to host still get no
 * answer a moment later? A client that just started has its answers by
 * then. */
static bool client_still_ignored(struct lan_search *s, const struct lan_host *worst)
{
	struct lan_host was = *worst;
	const struct lan_host *now;

	nanosleep(&(struct timespec){ .tv_sec = LAN_RECHECK_MS / 1000, .tv_nsec = LAN_RECHECK_MS % 1000 * 1000000L },
		  NULL);
	if (!lan_search_fill(s) || !(now = lan_pair(s, &was)))
		return false;
	return !now->replied && now->unreplied && !host_replied(s, &was.addr);
}

void doctor_observe_lan_replies(int tunnel_ifindex, const struct ip_prefix *own, size_t n_own,
				const struct ip_prefix *clients, size_t n_clients, struct forwarding_observation *o)
{
	struct lan_search s = { .clients = clients, .n_clients = n_clients, .tunnel_ifindex = tunnel_ifindex };
	const struct ip_prefix *tunnel = NULL;
	struct lan_host *worst = NULL, found;
	struct ip_prefix here, net;
	char dev[IF_NAMESIZE];
	bool others_answered;
	enum lan_fault fault;

	for (size_t i = 0; i < n_own && !tunnel; i++)
		if (own[i].family == AF_INET)
			tunnel = &own[i];
	if (!tunnel || !n_clients || !lan_search_fill(&s))
		return;
	/* A client some flow to that host answered has its way back. A host
	 * inside the tunnel's own network is no LAN host: when its route
	 * leaves by another interface, the routes check names that. */
	for (size_t i = 0; i < s.n_hosts; i++)
		if (!s.hosts[i].replied && s.hosts[i].unreplied && !ip_prefix_contains(tunnel, &s.hosts[i].addr) &&
		    (!worst || s.hosts[i].unreplied > worst->unreplied))
			worst = &s.hosts[i];
	if (!worst || !if_indextoname((unsigned)worst->oif, dev) || !address_towards(dev, &worst->addr, &here))
		return;
	found = *worst;
	others_answered = host_replied(&s, &found.addr) != 0;
	here.cidr = 32;
	if (!answers_from(dev, &here, &found.addr)) {
		if (others_answered || !host_unreachable(&s, dev, &found.addr, o))
			return;
		fault = LAN_HOST_UNREACHABLE;
	} else if (!answers_from(dev, tunnel, &found.addr)) {
		if (others_answered)
			return;
		fault = LAN_NO_ROUTE_BACK;
	} else {
		if (!client_still_ignored(&s, &found))
			return;
		fault = LAN_IGNORES_CLIENT;
	}
	net = *tunnel;
	ip_prefix_mask(&net);
	o->lan_fault = fault;
	o->lan_unreplied = found.unreplied;
	ip_addr_str(&found.addr, o->lan_host);
	ip_addr_str(&found.client, o->lan_client);
	snprintf(o->lan_dev, sizeof(o->lan_dev), "%s", dev);
	ip_addr_str(&here, o->lan_address);
	ip_prefix_str(&net, o->tunnel_net);
	ip_addr_str(tunnel, o->tunnel_address);
}
