/* The rpfilter check (doctor_rpfilter.h). */
#include "doctor_rpfilter.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "hostinfo.h"
#include "state.h"

/* The kernel checks with max(conf.all, conf.IFACE): 1 strict, 2 loose.
 * The strictest over the interfaces a reply can arrive on (all but lo and
 * the tunnel itself) is the one that can drop it. */
static void observe_rp_filter(const char *ifname, struct rpfilter_observation *o)
{
	char name[320];
	struct dirent *e;
	int all, v;
	DIR *dir;

	o->rp_filter = -1;
	if (host_sysctl_int("net.ipv4.conf.all.rp_filter", &all))
		return;
	o->rp_filter = all;
	snprintf(o->rp_filter_where, sizeof(o->rp_filter_where), "all");
	dir = opendir("/proc/sys/net/ipv4/conf");
	if (!dir)
		return;
	while ((e = readdir(dir)) != NULL) {
		if (e->d_name[0] == '.' || !strcmp(e->d_name, "all") || !strcmp(e->d_name, "default") ||
		    !strcmp(e->d_name, "lo") || !strcmp(e->d_name, ifname))
			continue;
		snprintf(name, sizeof(name), "net.ipv4.conf.%s.rp_filter", e->d_name);
		/* 1 beats 2: loose lets the replies through. */
		if (host_sysctl_int(name, &v) == 0 && v == 1 && o->rp_filter != 1) {
			o->rp_filter = 1;
			snprintf(o->rp_filter_where, sizeof(o->rp_filter_where), "%s", e->d_name);
		}
	}
	closedir(dir);
}

/* The kernel uses the mark in the reverse-path check when conf.all or the
 * arriving interface's src_valid_mark is 1: all, else 1 only when every
 * interface a reply can arrive on has its own. */
static int observe_src_valid_mark(const char *ifname)
{
	char name[320];
	struct dirent *e;
	int all, v, effective;
	DIR *dir;

	if (host_sysctl_int("net.ipv4.conf.all.src_valid_mark", &all))
		return -1;
	if (all)
		return 1;
	dir = opendir("/proc/sys/net/ipv4/conf");
	if (!dir)
		return 0;
	effective = 1;
	while ((e = readdir(dir)) != NULL && effective) {
		if (e->d_name[0] == '.' || !strcmp(e->d_name, "all") || !strcmp(e->d_name, "default") ||
		    !strcmp(e->d_name, "lo") || !strcmp(e->d_name, ifname))
			continue;
		snprintf(name, sizeof(name), "net.ipv4.conf.%s.src_valid_mark", e->d_name);
		if (host_sysctl_int(name, &v) == 0 && v == 0)
			effective = 0;
	}
	closedir(dir);
	return effective;
}

bool observe_rpfilter(const char *ifname, struct rpfilter_observation *o)
{
	struct roam_state st;
	char err[256];

	memset(o, 0, sizeof(*o));
	if (state_load(ifname, &st, err, sizeof(err)))
		return false;
	for (size_t i = 0; i < st.n_rules; i++)
		o->full_tunnel[st.rules[i].family == AF_INET6] = true;
	state_free(&st);
	if (!o->full_tunnel[0] && !o->full_tunnel[1])
		return false;
	firewall_table_name(ifname, o->table_name);
	for (int f = 0; f < 2; f++)
		if (o->full_tunnel[f])
			o->table[f] = firewall_exists(f ? AF_INET6 : AF_INET, o->table_name);
	observe_rp_filter(ifname, o);
	o->src_valid_mark = observe_src_valid_mark(ifname);
	return true;
}

bool judge_rpfilter(struct doctor_report *r, const struct rpfilter_observation *o)
{
	struct doctor_finding *f = doctor_add(r, "rpfilter", NULL);
	bool missing4 = o->full_tunnel[0] && o->table[0] == 0, missing6 = o->full_tunnel[1] && o->table[1] == 0;

	doctor_evidence(f, "full tunnel;");
	if (o->rp_filter >= 0)
		doctor_evidence(f, " net.ipv4.conf.%s.rp_filter=%d%s;", o->rp_filter_where, o->rp_filter,
				o->rp_filter == 1 ? " (strict)" : o->rp_filter == 2 ? " (loose)" : "");
	doctor_figure(f, "rp_filter", o->rp_filter);
	for (int i = 0, n = 0; i < 2; i++) {
		if (!o->full_tunnel[i])
			continue;
		doctor_evidence(f, "%s table %s %s %s", n++ ? "," : "", i ? "ip6" : "ip", o->table_name,
				o->table[i] > 0 ? "present" : o->table[i] == 0 ? "MISSING" : "unknown (no nft)");
	}
	if (o->full_tunnel[0] && o->table[0] > 0 && o->rp_filter == 1 && o->src_valid_mark == 0) {
		/* The table puts the mark back, but the reverse-path check
		 * reads it only with src_valid_mark: a `sysctl --system` that
		 * reset what roam up set leaves the table useless. */
		f->status = DOCTOR_FAIL;
		f->cause = "rp_filter";
		doctor_figure(f, "src_valid_mark", 0);
		doctor_evidence(f, "; but net.ipv4.conf.all.src_valid_mark = 0: the reverse-path check ignores the "
				   "mark the table restores, so the endpoint's replies are dropped before the daemon "
				   "of %s sees them", r->ifname);
		doctor_decision(f, "This is rp_filter, not a firewall: sysctl -w net.ipv4.conf.all.src_valid_mark=1 "
				   "(roam up sets it; something reset it, such as sysctl --system: keep it in a "
				   "sysctl.d file), or make the check loose (sysctl net.ipv4.conf.all.rp_filter=2).");
	} else if (missing4 && o->rp_filter == 1) {
		f->status = DOCTOR_FAIL;
		f->cause = "rp_filter";
		doctor_evidence(f, ": the endpoint's replies arrive without the tunnel's mark, fail the reverse "
				   "path check and are dropped before the daemon of %s sees them", r->ifname);
		doctor_decision(f, "This is rp_filter, not a firewall: 'roam down %s' and 'roam up' again restore the "
				   "table (nftables must be installed), or make the check loose "
				   "(sysctl net.ipv4.conf.all.rp_filter=2%s%s%s).",
				r->ifname, strcmp(o->rp_filter_where, "all") ? " and net.ipv4.conf." : "",
				strcmp(o->rp_filter_where, "all") ? o->rp_filter_where : "",
				strcmp(o->rp_filter_where, "all") ? ".rp_filter=2" : "");
	} else if (missing4 || missing6) {
		f->status = DOCTOR_WARN;
		doctor_decision(f, "Without the table, a strict reverse-path filter (rp_filter=1, or an nft/firewalld "
				   "fib rpfilter rule for IPv6) drops the endpoint's replies: 'roam down %s' and "
				   "'roam up' again restore it.", r->ifname);
	}
	return f->status == DOCTOR_FAIL;
}
