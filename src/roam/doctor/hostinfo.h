/* What roam doctor reads off the host, where an operator would run ss,
 * sysctl, nft, ip link and timedatectl: each answer as data plus a short
 * description of what was seen, for the evidence column. */
#ifndef ROAM_HOSTINFO_H
#define ROAM_HOSTINFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ip_prefix.h"

/* An integer sysctl by its dotted name ("net.ipv4.ip_forward"): 0 or -errno. */
int host_sysctl_int(const char *name, int *value);

/* UDP sockets of this network namespace bound to port (ss -lun): how many,
 * how many of them are pid's, and their local addresses ("0.0.0.0, ::"). */
struct host_udp_binds {
	unsigned sockets, owned;
	char addrs[128];
};
int host_udp_binds(uint16_t port, pid_t pid, struct host_udp_binds *out);

/* The processes that hold the listening UNIX socket at path among their
 * open files (what ss -lxp shows): up to max pids, how many. A daemon that
 * forked after listening (wireguard-go) is found here, where the socket's
 * peer credentials still name the parent that made it and exited. */
size_t host_socket_holders(const char *path, pid_t *pids, size_t max);

/* The ruleset's text (nft list ruleset; iptables-nft's rules show there
 * too), read once for the searches below: 0, or -ENOENT if nft is not
 * installed, another -errno if it could not be asked. The caller frees. */
int host_nft_ruleset(char **out);
/* The next line of a ruleset's text into buf (cut to len - 1 bytes), and
 * *cursor past it; false at the end. */
bool ruleset_next_line(const char **cursor, char *buf, size_t len);
/* A source NAT in the ruleset for the clients' traffic leaving by egress
 * (NULL or "": any): 1 with the first rule that takes it in, trimmed; 2
 * when the source NAT rules there are all for other output interfaces (the
 * first in rule); 3 when those for egress all match a source (ip saddr,
 * ip6 saddr) that none of the n clients' prefixes fall in (the first of
 * them in rule); 0 when there is none. A source match that is a set, a
 * negation or anything not read as one prefix takes the clients in. */
int ruleset_find_source_nat(const char *ruleset, const char *egress, const struct ip_prefix *clients, size_t n,
			    char *rule, size_t len);

/* A rule that takes UDP to port away from the local socket before it sees
 * it (a prerouting "udp dport PORT dnat to ..." or "redirect to ..."): true
 * with the rule, trimmed, in rule. */
bool ruleset_find_port_redirect(const char *ruleset, uint16_t port, char *rule, size_t len);

/* A forward chain that drops what comes in from ifname (forward_filter.c):
 * true with where ("table inet f, chain fwd: policy drop, ...") in found.
 * Base chains with a forward hook are all read: each must let it pass. */
bool ruleset_find_forward_drop(const char *ruleset, const char *ifname, char *found, size_t len);
/* The largest packet a drop rule matching by length lets pass (meta length
 * > N: N), 0 when it matches no lower bound. */
unsigned rule_drops_longer_than(const char *rule);
/* The same for the input hook: what the tunnel's clients send to this host
 * itself (its DNS, its services). An accept by source address (ip saddr)
 * counts as letting them in, since it may name the tunnel's subnet. */
bool ruleset_find_input_drop(const char *ruleset, const char *ifname, char *found, size_t len);
/* A base chain with a forward hook, policy drop, that accepts the clients'
 * new traffic (iifname the tunnel) but nothing that could pass the replies
 * back (ct state established, oifname the tunnel, or a rule not read as
 * excluding them); a chain with a jump or goto is not judged. True with
 * where in found. */
bool ruleset_find_forward_replies_drop(const char *ruleset, const char *ifname, char *found, size_t len);
/* A notrack rule that takes in the tunnel's clients: every match it has is
 * iifname the tunnel or a source prefix holding one of the n clients (none
 * at all takes everything). Their flows are then untracked and no NAT
 * applies to them. True with the rule, trimmed, in found. */
bool ruleset_find_notrack(const char *ruleset, const char *ifname, const struct ip_prefix *clients, size_t n,
			  char *found, size_t len);
/* A source NAT rule that applies to IPv6 (in a table ip6, or a table inet
 * rule not confined to IPv4): true with where, trimmed, in rule. */
bool ruleset_find_ipv6_source_nat(const char *ruleset, char *rule, size_t len);
/* A rule in a route chain on the output hook (the one that routes a packet
 * again when its mark changes) that sets a mark other than fwmark on what
 * may be the daemon's datagrams (to UDP port): "meta l4proto udp meta mark
 * set 0". Those datagrams then lose the mark that routes them outside the
 * tunnel. True with where, trimmed, in rule. */
bool ruleset_find_output_mark_change(const char *ruleset, uint32_t fwmark, uint16_t port, char *rule, size_t len);
/* The one address a source NAT rule writes ("snat to 203.0.113.5",
 * "snat ip to 203.0.113.5:1024", "snat ip6 to [2001:db8::1]"): true with it
 * in address; false for masquerade, a range, a map. */
bool snat_rule_address(const char *rule, char *address, size_t len);
/* Is address one of this host's interface addresses (getifaddrs)? 1 yes,
 * 0 no, -errno when they could not be read. */
int host_address_is_local(const char *address);

/* The interface's flags (IFF_UP, ...): 0 or -errno. */
int host_link_flags(const char *ifname, unsigned *flags);

/* Is the system clock disciplined (adjtimex, what timedatectl reports as
 * "System clock synchronized")? max_error_us is the kernel's estimate. */
int host_clock_synced(bool *synced, long *max_error_us);

/* Is ifname a tunnel of its own: a WireGuard device (kernel), a tun
 * device (wireguard-go, roamd), with a UAPI socket? Into kind, e.g. "a tun
 * device with a UAPI socket /var/run/wireguard/wg1.sock"; "" and false when
 * none of these. */
bool host_link_is_tunnel(const char *ifname, char *kind, size_t len);

/* The name of pid's program (/proc/PID/comm), "?" if unknown. */
void host_process_name(pid_t pid, char *name, size_t len);

#endif
