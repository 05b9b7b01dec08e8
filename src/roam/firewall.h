/* wg-quick's firewall rules for a full tunnel, in nftables tables of our
 * own: `roam-IFNAME`, one of family ip and one of family ip6.
 *
 * Why they are needed: with strict reverse-path filtering
 * (net.ipv4.conf.*.rp_filter=1, or an nft/firewalld "fib saddr . mark . iif"
 * check for IPv6), the kernel checks each arriving packet's source against
 * the route back to it. The tunnel's own UDP packets from the endpoint
 * arrive on the physical interface, but an unmarked lookup of the
 * endpoint's address follows the full tunnel's default route into the
 * tunnel, so the kernel drops them and nothing gets through. The rules
 * copy the fwmark roamd puts on its outgoing packets into the connection
 * (postrouting) and back onto the replies (prerouting, before the routing
 * decision), so the reverse lookup of a reply carries the mark and skips
 * the tunnel's table (net.ipv4.conf.all.src_valid_mark=1 makes the IPv4
 * check use the mark). A raw-table rule drops packets to the tunnel's own
 * addresses that arrive on any other interface, which the loose routing
 * would otherwise accept.
 *
 * They are made with `nft -f -`, as wg-quick does, rather than libnftnl:
 * the script is the one an operator can read in the "[#]" narration and
 * type again, nft validates it as a whole and applies it atomically, and
 * nftables is a package every such host has. */
#ifndef ROAM_FIREWALL_H
#define ROAM_FIREWALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ip_prefix.h"

enum { FIREWALL_TABLE_MAX = 32 };

/* "roam-IFNAME" with the characters nft does not take unquoted in a table
 * name (= and +) as '_'. */
void firewall_table_name(const char *ifname, char name[FIREWALL_TABLE_MAX]);
/* "ip" for AF_INET, "ip6" for AF_INET6. */
const char *firewall_family_name(int family);
bool firewall_family_parse(const char *s, int *family);

/* The nft script that makes the table of one family for ifname's full
 * tunnel: the table is replaced if it exists, so it never holds rules
 * twice. addrs are the interface's addresses (those of other families are
 * skipped). Returns a malloc'd string. */
char *firewall_script(int family, const char *table, const char *ifname, uint32_t fwmark,
		      const struct ip_prefix *addrs, size_t n_addrs);

/* Runs that script through `nft -f -`; 0, or the nft status / -errno. */
int firewall_add(int family, const char *table, const char *ifname, uint32_t fwmark,
		 const struct ip_prefix *addrs, size_t n_addrs);
/* Deletes the table; one that is gone already counts as deleted. */
int firewall_remove(int family, const char *table);
/* Does the table exist? -errno (-ENOENT: nft is not installed) if nft
 * cannot tell. */
int firewall_exists(int family, const char *table);

#endif
