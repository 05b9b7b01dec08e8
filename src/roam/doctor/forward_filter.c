/* roam doctor: does this host's forward filter let the tunnel's clients
 * through? A full-tunnel server whose clients handshake and ping it, yet
 * reach nothing beyond it, most often has a forward chain (nftables, or
 * iptables-nft, which shows in the same ruleset) that drops them: a
 * `policy drop` with nothing accepting the tunnel interface, or a drop rule
 * that names it. Read from `nft list ruleset`, as an operator would. */
#include "hostinfo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The statement a rule ends in, nft's last word: "accept", "drop", ... */
static bool rule_verdict_is(const char *rule, const char *verdict)
{
	const char *w = strstr(rule, verdict);

	while (w) {
		const char *after = w + strlen(verdict);

		if ((w == rule || w[-1] == ' ') && (!*after || *after == ' '))
			return true;
		w = strstr(after, verdict);
	}
	return false;
}

/* Does the rule apply to every packet (its first word a statement), or
 * name the tunnel interface? Those are the ones that decide for the
 * tunnel's forwarded packets; rules matching other things may not. */
static bool rule_concerns(const char *rule, const char *quoted_ifname)
{
	static const char *const statements[] = { "accept", "drop", "reject", "counter" };

	if (strstr(rule, quoted_ifname))
		return true;
	for (size_t i = 0; i < sizeof(statements) / sizeof(statements[0]); i++)
		if (!strncmp(rule, statements[i], strlen(statements[i])))
			return true;
	return false;
}

static void trim(char *s)
{
	char *start = s, *end;

	while (*start == ' ' || *start == '\t')
		start++;
	memmove(s, start, strlen(start) + 1);
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		*--end = '\0';
}

/* Does an accept rule take in traffic by its source address, which may be
 * the tunnel's ("ip saddr 198.18.100.0/24 accept")? Read for the input
 * hook, where such rules are common, as letting the tunnel in. */
/* Which table and chain a ruleset line belongs to, kept as the lines go
 * by: "table ..." names the table, "chain NAME {" the chain. Says which of
 * the two the line was (a chain's state starts afresh), or neither. */
enum scope_line { SCOPE_NONE, SCOPE_TABLE, SCOPE_CHAIN };
static enum scope_line track_table_and_chain(const char *line, char *table, size_t table_len, char *chain,
					     size_t chain_len)
{
	if (!strncmp(line, "table ", 6)) {
		snprintf(table, table_len, "%.*s", (int)strcspn(line, "{"), line);
		trim(table);
		return SCOPE_TABLE;
	}
	if (strncmp(line, "chain ", 6))
		return SCOPE_NONE;
	snprintf(chain, chain_len, "%.*s", (int)strcspn(line + 6, " {"), line + 6);
	return SCOPE_CHAIN;
}

static bool accepts_by_source(const char *rule)
{
	return strstr(rule, "saddr ") && rule_verdict_is(rule, "accept");
}

/* The first base chain with the hook that drops what comes in from
 * ifname: its policy with nothing accepting ifname, or a drop naming it.
 * For the input hook only the policy is read: a rule that drops the tunnel
 * outright drops the replies to this host's own pings too, which the
 * datapath check names (tunnel_input_dropped), and an accept by source
 * address counts as letting the tunnel in. */
static bool ruleset_find_hook_drop(const char *ruleset, const char *hook, bool input, const char *ifname, char *found,
				   size_t len)
{
	char quoted[40], table[96] = "", chain[96] = "";
	bool in_hook = false, policy_drop = false, accepted = false;
	const char *line = ruleset;
	bool source_accepts = input, rules_drop = !input;

	char buf[512];

	snprintf(quoted, sizeof(quoted), "\"%s\"", ifname);
	while (ruleset_next_line(&line, buf, sizeof(buf))) {
		trim(buf);
		enum scope_line scope = track_table_and_chain(buf, table, sizeof(table), chain, sizeof(chain));
		if (scope == SCOPE_CHAIN) {
			in_hook = policy_drop = accepted = false;
		} else if (scope == SCOPE_TABLE) {
			continue;
		} else if (strstr(buf, hook) && strstr(buf, "type ")) {
			in_hook = true;
			policy_drop = strstr(buf, "policy drop") != NULL;
		} else if (in_hook && !strcmp(buf, "}")) {
			/* The chain's end: its policy applies to what nothing accepted. */
			in_hook = false;
			if (policy_drop && !accepted) {
				snprintf(found, len, "%s, chain %s: policy drop, and no rule accepts iifname %s", table,
					 chain, quoted);
				return true;
			}
		} else if (in_hook && source_accepts && accepts_by_source(buf)) {
			accepted = true;
		} else if (in_hook && rule_concerns(buf, quoted) && !accepted) {
			/* "ct state established,related accept" lets only
			 * replies through: not an accept of the clients' traffic. */
			if (rule_verdict_is(buf, "accept") && (!strstr(buf, "ct state") || strstr(buf, "new"))) {
				accepted = true;
			} else if (rules_drop && (rule_verdict_is(buf, "drop") || strstr(buf, "reject"))) {
				snprintf(found, len, "%s, chain %s: %s", table, chain, buf);
				return true;
			}
		}
	}
	return false;
}

bool ruleset_find_forward_drop(const char *ruleset, const char *ifname, char *found, size_t len)
{
	return ruleset_find_hook_drop(ruleset, "hook forward", false, ifname, found, len);
}

bool ruleset_find_input_drop(const char *ruleset, const char *ifname, char *found, size_t len)
{
	return ruleset_find_hook_drop(ruleset, "hook input", true, ifname, found, len);
}

/* Could this accept rule let the replies to the tunnel's clients through
 * (in on the egress, out on the tunnel)? Not when it names the tunnel as
 * the way in (that is the clients' new traffic), another interface as the
 * way out, or only new connections; anything else, unread, may. */
static bool accept_may_pass_replies(const char *rule, const char *ifname)
{
	char iif[48], oif[48];

	snprintf(iif, sizeof(iif), "iifname \"%s\"", ifname);
	snprintf(oif, sizeof(oif), "oifname \"%s\"", ifname);
	if (strstr(rule, "established") || strstr(rule, oif))
		return true;
	if (strstr(rule, iif))
		return false;
	if (strstr(rule, "oifname "))
		return false;
	return !(strstr(rule, "ct state new") && !strstr(rule, "established"));
}

bool ruleset_find_forward_replies_drop(const char *ruleset, const char *ifname, char *found, size_t len)
{
	char iif[48], table[96] = "", chain[96] = "", buf[512];
	bool in_hook = false, policy_drop = false, outbound = false, replies = false, unread = false;
	const char *line = ruleset;

	snprintf(iif, sizeof(iif), "iifname \"%s\"", ifname);
	while (ruleset_next_line(&line, buf, sizeof(buf))) {
		trim(buf);
		enum scope_line scope = track_table_and_chain(buf, table, sizeof(table), chain, sizeof(chain));
		if (scope == SCOPE_CHAIN) {
			in_hook = policy_drop = outbound = replies = unread = false;
		} else if (scope == SCOPE_TABLE) {
			continue;
		} else if (strstr(buf, "hook forward") && strstr(buf, "type ")) {
			in_hook = true;
			policy_drop = strstr(buf, "policy drop") != NULL;
		} else if (in_hook && !strcmp(buf, "}")) {
			/* Replies fall to the policy when only the clients'
			 * own direction is accepted; a jump or goto may accept
			 * them elsewhere, so such a chain is not judged. */
			in_hook = false;
			if (policy_drop && outbound && !replies && !unread) {
				snprintf(found, len, "%s, chain %s: policy drop, and only %s is accepted: nothing "
						     "accepts the replies (no ct state established accept, no oifname "
						     "\"%s\" accept)", table, chain, iif, ifname);
				return true;
			}
		} else if (in_hook && (strstr(buf, "jump ") || strstr(buf, "goto "))) {
			unread = true;
		} else if (in_hook && rule_verdict_is(buf, "accept")) {
			if (strstr(buf, iif) && !strstr(buf, "established"))
				outbound = true;
			if (accept_may_pass_replies(buf, ifname))
				replies = true;
		}
	}
	return false;
}

/* The words of a notrack rule that leave the tunnel's clients in it: the
 * tunnel as the way in, a source prefix holding a client, a counter. */
static bool notrack_word_takes_clients(const char **p, const char *quoted, const struct ip_prefix *clients,
				       size_t n)
{
	char word[96], arg[96];
	int used = 0;

	if (sscanf(*p, "%95s%n", word, &used) != 1)
		return false;
	*p += used;
	if (!strcmp(word, "notrack") || !strcmp(word, "counter"))
		return true;
	if (!strcmp(word, "packets") || !strcmp(word, "bytes"))
		return sscanf(*p, "%95s%n", arg, &used) == 1 && (*p += used, true);
	if (!strcmp(word, "meta"))
		return true;
	if (!strcmp(word, "iifname") || !strcmp(word, "iif"))
		return sscanf(*p, "%95s%n", arg, &used) == 1 && (*p += used, !strcmp(arg, quoted));
	if (!strcmp(word, "ip") || !strcmp(word, "ip6")) {
		struct ip_prefix source;

		if (sscanf(*p, "%95s %95s%n", word, arg, &used) != 2 || strcmp(word, "saddr") ||
		    !ip_prefix_parse(&source, arg, true))
			return false;
		*p += used;
		for (size_t i = 0; i < n; i++)
			if (ip_prefix_contains(&source, &clients[i]))
				return true;
	}
	return false;
}

bool ruleset_find_notrack(const char *ruleset, const char *ifname, const struct ip_prefix *clients, size_t n,
			  char *found, size_t len)
{
	const char *line = ruleset;
	char quoted[40], buf[512];

	snprintf(quoted, sizeof(quoted), "\"%s\"", ifname);
	while (ruleset_next_line(&line, buf, sizeof(buf))) {
		const char *p = buf;
		bool takes = true;

		trim(buf);
		if (!rule_verdict_is(buf, "notrack") || strchr(buf, '{'))
			continue;
		/* Only a rule made of matches read here as taking in the
		 * clients is blamed: one port, one other source, is narrow. */
		while (takes && *p)
			takes = notrack_word_takes_clients(&p, quoted, clients, n), p += strspn(p, " ");
		if (takes) {
			snprintf(found, len, "%s", buf);
			return true;
		}
	}
	return false;
}

/* The address a "snat to ADDRESS" / "snat ip to ADDRESS" rule writes in,
 * without a port; false for a range, a map, or anything else not read as
 * one address (a prefix, "snat to 203.0.113.4/30", is a pool). */
bool snat_rule_address(const char *rule, char *address, size_t len)
{
	const char *m = strstr(rule, "snat ");
	char word[64];

	if (!m || !(m = strstr(m, " to ")))
		return false;
	if (sscanf(m + 4, "%63s", word) != 1 || strchr(word, '-') || strchr(word, '{') || strchr(word, '/'))
		return false;
	if (word[0] == '[') {
		/* [2001:db8::1]:80 */
		memmove(word, word + 1, strlen(word));
		word[strcspn(word, "]")] = '\0';
	} else if (!strchr(word, ':') || strchr(word, ':') == strrchr(word, ':')) {
		word[strcspn(word, ":")] = '\0';	/* 203.0.113.1:1024 */
	}
	struct ip_prefix p;

	if (!ip_prefix_parse(&p, word, true))
		return false;
	snprintf(address, len, "%s", word);
	return true;
}

/* Does a source NAT rule apply to IPv6: one in a "table ip6", or in a
 * "table inet" that does not confine itself to IPv4 (ip saddr, ip daddr,
 * snat ip to, meta nfproto ipv4)? A masquerade in "table ip" never sees
 * IPv6, so it says nothing about whether the clients' IPv6 leaves. */
bool ruleset_find_ipv6_source_nat(const char *ruleset, char *rule, size_t len)
{
	char table[96] = "", chain[96] = "", buf[512];
	const char *line = ruleset;

	while (ruleset_next_line(&line, buf, sizeof(buf))) {
		trim(buf);
		if (track_table_and_chain(buf, table, sizeof(table), chain, sizeof(chain)) != SCOPE_NONE)
			continue;
		if ((!strstr(buf, "masquerade") && !strstr(buf, "snat ")) || strchr(buf, '{'))
			continue;
		bool ip6 = !strncmp(table, "table ip6 ", 10);
		bool inet = !strncmp(table, "table inet ", 11);
		bool ipv4_only = strstr(buf, "ip saddr") || strstr(buf, "ip daddr") || strstr(buf, "snat ip to") ||
				 strstr(buf, "nfproto ipv4");
		if (ip6 || (inet && !ipv4_only)) {
			snprintf(rule, len, "%s, chain %s: %s", table, chain, buf);
			return true;
		}
	}
	return false;
}

/* Does "... mark set VALUE ..." write a mark other than fwmark? A number
 * is compared; an expression that keeps the mark's bits (meta mark | X,
 * meta mark or X) keeps it; anything else (ct mark, a map) may not. */
static bool mark_set_changes(const char *rule, uint32_t fwmark)
{
	const char *v = strstr(rule, "mark set ");
	char word[64];

	if (!v || sscanf(v + 9, "%63s", word) != 1)
		return false;
	if (word[0] >= '0' && word[0] <= '9')
		return (uint32_t)strtoul(word, NULL, 0) != fwmark;
	return !strstr(v, "mark |") && !strstr(v, "mark or ");
}

/* A rule limited to another destination port cannot touch the daemon's
 * datagrams to port. */
static bool rule_spares_port(const char *rule, uint16_t port)
{
	const char *d = strstr(rule, "dport ");
	char word[32];

	if (!d || sscanf(d + 6, "%31s", word) != 1 || word[0] == '{' || !port)
		return false;
	return (unsigned long)strtoul(word, NULL, 10) != port;
}

bool ruleset_find_output_mark_change(const char *ruleset, uint32_t fwmark, uint16_t port, char *rule, size_t len)
{
	char table[96] = "", chain[96] = "", buf[512];
	const char *line = ruleset;
	bool reroutes = false;

	while (ruleset_next_line(&line, buf, sizeof(buf))) {
		trim(buf);
		enum scope_line scope = track_table_and_chain(buf, table, sizeof(table), chain, sizeof(chain));
		if (scope == SCOPE_CHAIN) {
			reroutes = false;
		} else if (scope == SCOPE_TABLE) {
			continue;
		} else if (strstr(buf, "type ") && strstr(buf, "hook ")) {
			/* Only a route chain on output routes the packet again
			 * after its mark changed (iptables' mangle OUTPUT is
			 * one); a filter chain's new mark comes too late. */
			reroutes = strstr(buf, "type route") && strstr(buf, "hook output");
		} else if (reroutes && mark_set_changes(buf, fwmark) && !rule_spares_port(buf, port)) {
			snprintf(rule, len, "%s, chain %s: %s", table, chain, buf);
			return true;
		}
	}
	return false;
}

/* A drop rule that matches by length kills only the bigger packets: "meta
 * length > N" or "gt N", ">= N" or "ge N" (nft's ip length, too), and
 * iptables' "-m length --length N:M". The largest packet it lets pass, 0
 * when it matches no lower bound. */
unsigned rule_drops_longer_than(const char *rule)
{
	const char *w = rule;
	unsigned n;
	int used;

	while ((w = strstr(w, "length "))) {
		w += strlen("length ");
		if ((sscanf(w, "> %u%n", &n, &used) == 1 || sscanf(w, "gt %u%n", &n, &used) == 1) && n)
			return n;
		if ((sscanf(w, ">= %u%n", &n, &used) == 1 || sscanf(w, "ge %u%n", &n, &used) == 1) && n > 1)
			return n - 1;
		if (sscanf(w, "%u:%n", &n, &used) == 1 && used && n > 1)
			return n - 1;
	}
	return 0;
}
