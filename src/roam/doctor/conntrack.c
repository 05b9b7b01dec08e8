/* Parsing of connection tracking lines (see conntrack.h). */
#include "conntrack.h"

#include <stdio.h>
#include <string.h>

bool conntrack_parse(const char *line, struct conntrack_entry *e)
{
	struct ip_prefix *srcs[2] = { &e->orig_src, &e->reply_src }, *dsts[2] = { &e->orig_dst, &e->reply_dst };
	unsigned n_src = 0, n_dst = 0;
	char word[80];
	int used;

	memset(e, 0, sizeof(*e));
	while (sscanf(line, " %79s%n", word, &used) == 1) {
		line += used;
		if (!strcmp(word, "[UNREPLIED]"))
			e->unreplied = true;
		else if (!strncmp(word, "src=", 4) && n_src < 2 && ip_prefix_parse(srcs[n_src], word + 4, true))
			n_src++;
		else if (!strncmp(word, "dst=", 4) && n_dst < 2 && ip_prefix_parse(dsts[n_dst], word + 4, true))
			n_dst++;
	}
	return n_src == 2 && n_dst == 2;
}

bool conntrack_not_nated(const struct conntrack_entry *e)
{
	return ip_prefix_equal(&e->reply_dst, &e->orig_src) && ip_prefix_equal(&e->reply_src, &e->orig_dst);
}
