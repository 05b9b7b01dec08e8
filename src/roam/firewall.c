/* The nftables tables of a full tunnel (firewall.h). */
#include "firewall.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "alloc.h"
#include "run.h"

/* wg-quick's priorities: raw (-300) sees packets before conntrack, mangle
 * (-150) before the routing decision, which is where rp_filter looks. */
static const char chains[] =
	"add chain %1$s %2$s preraw { type filter hook prerouting priority -300; }\n"
	"add chain %1$s %2$s premangle { type filter hook prerouting priority -150; }\n"
	"add chain %1$s %2$s postmangle { type filter hook postrouting priority -150; }\n";

void firewall_table_name(const char *ifname, char name[FIREWALL_TABLE_MAX])
{
	snprintf(name, FIREWALL_TABLE_MAX, "roam-%s", ifname);
	for (char *c = name; *c; c++)
		if (*c == '=' || *c == '+')
			*c = '_';
}

const char *firewall_family_name(int family)
{
	return family == AF_INET ? "ip" : "ip6";
}

bool firewall_family_parse(const char *s, int *family)
{
	if (!strcmp(s, "ip"))
		*family = AF_INET;
	else if (!strcmp(s, "ip6"))
		*family = AF_INET6;
	else
		return false;
	return true;
}

/* Appends printf output to a malloc'd string. */
static void append(char **s, size_t *len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void append(char **s, size_t *len, const char *fmt, ...)
{
	va_list ap;
	char *more;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&more, fmt, ap);
	va_end(ap);
	if (n < 0)
		out_of_memory();
	*s = xrealloc(*s, *len + (size_t)n + 1);
	memcpy(*s + *len, more, (size_t)n + 1);
	*len += (size_t)n;
	free(more);
}

char *firewall_script(int family, const char *table, const char *ifname, uint32_t fwmark,
		      const struct ip_prefix *addrs, size_t n_addrs)
{
	const char *pf = firewall_family_name(family);
	char *s = NULL, a[IP_PREFIX_STRLEN];
	size_t len = 0;

	/* add-then-delete empties a table left by an earlier run (roam up
	 * killed before it could record it) and is no error if none is. */
	append(&s, &len, "add table %1$s %2$s\ndelete table %1$s %2$s\nadd table %1$s %2$s\n", pf, table);
	append(&s, &len, chains, pf, table);
	for (size_t i = 0; i < n_addrs; i++) {
		struct ip_prefix host = addrs[i];

		if (host.family != family)
			continue;
		host.cidr = family == AF_INET ? 32 : 128;
		ip_prefix_str(&host, a);
		*strchr(a, '/') = '\0';
		append(&s, &len, "add rule %s %s preraw iifname != \"%s\" %s daddr %s fib saddr type != local drop\n",
		       pf, table, ifname, pf, a);
	}
	append(&s, &len, "add rule %s %s postmangle meta l4proto udp mark %u ct mark set mark\n", pf, table,
	       (unsigned)fwmark);
	append(&s, &len, "add rule %s %s premangle meta l4proto udp meta mark set ct mark\n", pf, table);
	return s;
}

/* Runs script through nft -f -, narrating it line by line. */
static int nft_script(const char *script)
{
	char path[256];
	const char *line, *end;

	if (!run_find_program("nft", path, sizeof(path)))
		return -ENOENT;
	run_say("nft -f - <<EOF");
	for (line = script; *line; line = *end ? end + 1 : end) {
		end = strchrnul(line, '\n');
		fprintf(stderr, "    %.*s\n", (int)(end - line), line);
	}
	fputs("    EOF\n", stderr);
	return run_command((char *const[]){ path, "-f", "-", NULL }, script);
}

int firewall_add(int family, const char *table, const char *ifname, uint32_t fwmark,
		 const struct ip_prefix *addrs, size_t n_addrs)
{
	char *script = firewall_script(family, table, ifname, fwmark, addrs, n_addrs);
	int ret = nft_script(script);

	free(script);
	return ret;
}

int firewall_remove(int family, const char *table)
{
	char *script = NULL;
	size_t len = 0;
	int ret;

	/* Adding it first makes the delete succeed whether or not it is
	 * still there, in one atomic transaction. */
	append(&script, &len, "add table %1$s %2$s\ndelete table %1$s %2$s\n", firewall_family_name(family), table);
	ret = nft_script(script);
	free(script);
	return ret;
}

int firewall_exists(int family, const char *table)
{
	char path[256], *out;
	size_t len;
	int ret;

	if (!run_find_program("nft", path, sizeof(path)))
		return -ENOENT;
	ret = run_capture((char *const[]){ path, "list", "table", (char *)firewall_family_name(family),
					   (char *)table, NULL },
			  &out, &len);
	free(out);
	if (ret < 0)
		return ret;
	return ret == 0;
}
