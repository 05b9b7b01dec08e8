/* Do hosts on this server's other networks answer the tunnel's clients?
 * A client's flow to a LAN host that leaves without a source NAT carries
 * the client's tunnel address; the host answers only if it (or its
 * gateway) routes the tunnel's subnet back to this server. Connection
 * tracking shows such flows staying [UNREPLIED]; one ping to that host
 * from this host's own address there (answered) and one from its tunnel
 * address (not answered) make it clear that the way back is missing, not
 * the host. */
#include "alloc.h"
#include "conntrack.h"
#include "doctor.h"
#include "rtnl.h"
#include "run.h"

#include <net/if.h>
#include <stdlib.h>
#include <string.h>

enum {
	LAN_LINES_MAX = 65536,	/* of the table read: a busy router has more */
	LAN_HOSTS_MAX = 32,	/* distinct hosts followed */
	LAN_PING_MS = 700,
};

struct lan_host {
	struct ip_prefix addr;
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
		if (ip_prefix_equal(&s->hosts[i].addr, &e->orig_dst))
			h = &s->hosts[i];
	if (!h) {
		if (s->n_hosts == LAN_HOSTS_MAX || rtnl_route_get_oif(&s->nl, &e->orig_dst, &oif, &local) != 0 ||
		    local || oif <= 0 || oif == s->tunnel_ifindex)
			return;
		h = &s->hosts[s->n_hosts++];
		h->addr = e->orig_dst;
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

void doctor_observe_lan_replies(int tunnel_ifindex, const struct ip_prefix *own, size_t n_own,
				const struct ip_prefix *clients, size_t n_clients, struct forwarding_observation *o)
{
	struct lan_search s = { .clients = clients, .n_clients = n_clients, .tunnel_ifindex = tunnel_ifindex };
	const struct ip_prefix *tunnel = NULL;
	struct lan_host *worst = NULL;
	struct ip_prefix here, net;
	char *table, *line, *save = NULL, dev[IF_NAMESIZE];

	for (size_t i = 0; i < n_own && !tunnel; i++)
		if (own[i].family == AF_INET)
			tunnel = &own[i];
	if (!tunnel || !n_clients || !(table = conntrack_table()))
		return;
	if (rtnl_open(&s.nl) == 0) {
		for (line = strtok_r(table, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			struct conntrack_entry e;

			if (conntrack_parse(line, &e))
				lan_note(&s, &e);
		}
		rtnl_close(&s.nl);
	}
	free(table);
	/* A host some client flow got an answer from has its way back. */
	for (size_t i = 0; i < s.n_hosts; i++)
		if (!s.hosts[i].replied && s.hosts[i].unreplied && (!worst || s.hosts[i].unreplied > worst->unreplied))
			worst = &s.hosts[i];
	if (!worst || !if_indextoname((unsigned)worst->oif, dev) || !address_towards(dev, &worst->addr, &here))
		return;
	here.cidr = 32;
	if (!answers_from(dev, &here, &worst->addr) || answers_from(dev, tunnel, &worst->addr))
		return;	/* deaf to both, or it answers the tunnel: not this */
	net = *tunnel;
	ip_prefix_mask(&net);
	o->lan_unreplied = worst->unreplied;
	ip_addr_str(&worst->addr, o->lan_host);
	snprintf(o->lan_dev, sizeof(o->lan_dev), "%s", dev);
	ip_addr_str(&here, o->lan_address);
	ip_prefix_str(&net, o->tunnel_net);
	ip_addr_str(tunnel, o->tunnel_address);
}
