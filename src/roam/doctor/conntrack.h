/* The kernel's connection tracking table, as /proc/net/nf_conntrack (or
 * `conntrack -L`) lists it: each flow's original and reply direction. A
 * flow whose reply direction goes back to its own source was not NATed;
 * one still [UNREPLIED] never got an answer. */
#ifndef ROAM_DOCTOR_CONNTRACK_H
#define ROAM_DOCTOR_CONNTRACK_H

#include <stdbool.h>

#include "ip_prefix.h"

struct conntrack_entry {
	struct ip_prefix orig_src, orig_dst;	/* the first src= and dst= */
	struct ip_prefix reply_src, reply_dst;	/* the second ones */
	bool unreplied;				/* [UNREPLIED] */
};

/* Parses one line; false when it holds no two directions. */
bool conntrack_parse(const char *line, struct conntrack_entry *e);
/* Neither direction's address was rewritten (no SNAT, no DNAT). */
bool conntrack_not_nated(const struct conntrack_entry *e);

#endif
