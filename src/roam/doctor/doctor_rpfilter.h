/* roam doctor's "rpfilter" check: a full tunnel that `roam up` made, on a
 * host with strict reverse-path filtering, carries nothing unless its
 * nftables tables (firewall.h) put the connection's mark back on the
 * endpoint's replies. When that is the cause, doctor says so, instead of
 * blaming a firewall upstream for the silence. Kept apart from
 * doctor_judge.c: it reads the ledger and the firewall, which the other
 * checks do not. */
#ifndef ROAM_DOCTOR_RPFILTER_H
#define ROAM_DOCTOR_RPFILTER_H

#include <stdbool.h>

#include "doctor.h"
#include "firewall.h"

struct rpfilter_observation {
	bool full_tunnel[2];		/* [0] IPv4, [1] IPv6: the ledger has that family's rules */
	int table[2];			/* 1 present, 0 missing, -errno unknown */
	char table_name[FIREWALL_TABLE_MAX];
	int rp_filter;			/* the strictest effective value, -1 unknown */
	char rp_filter_where[256];	/* "all", or the interface that has it */
	/* net.ipv4.conf.all.src_valid_mark, or 1 when every interface has its
	 * own on (the kernel takes either): without it the reverse-path check
	 * ignores the mark the table restores. -1 unknown. */
	int src_valid_mark;
};

/* Fills o from the ledger of ifname, nft and /proc/sys; false when ifname
 * is no full tunnel of roam up's (nothing to judge). */
bool observe_rpfilter(const char *ifname, struct rpfilter_observation *o);
/* Adds the finding; true when it failed (strict rp_filter, and no IPv4
 * table or src_valid_mark off), so the udp check does not blame the
 * network for it. */
bool judge_rpfilter(struct doctor_report *r, const struct rpfilter_observation *o);

#endif
