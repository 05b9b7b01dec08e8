/* IPv4 and IPv6 addresses with prefix lengths: AllowedIPs, Address, routes
 * and rules, wherever the CLI reads, compares or prints them. */
#ifndef ROAM_IP_PREFIX_H
#define ROAM_IP_PREFIX_H

#include <stdbool.h>
#include <stdint.h>

/* An IPv4 or IPv6 address with a prefix length. A plain address is a prefix
 * of 32 or 128. addr keeps host bits as written (an Address such as
 * 198.18.0.2/24 needs them); compare with ip_prefix_contains. */
struct ip_prefix {
	int family;		/* AF_INET or AF_INET6 */
	uint8_t cidr;
	uint8_t addr[16];	/* 4 bytes used for AF_INET */
};

enum { IP_PREFIX_STRLEN = 46 + 4 };	/* INET6_ADDRSTRLEN + "/128" */

/* "ip" or "ip/cidr". Without a /cidr the result is a single address when
 * cidr_optional, else the parse fails. Strict: no spaces, no leading '+',
 * cidr in decimal within the family's width. */
bool ip_prefix_parse(struct ip_prefix *out, const char *s, bool cidr_optional);
/* True when every address of inner lies in outer (same family). */
bool ip_prefix_contains(const struct ip_prefix *outer, const struct ip_prefix *inner);
bool ip_prefix_overlap(const struct ip_prefix *a, const struct ip_prefix *b);
bool ip_prefix_has_host_bits(const struct ip_prefix *p);
/* Clears the host bits: the form WireGuard stores and reports. */
void ip_prefix_mask(struct ip_prefix *p);
bool ip_prefix_equal(const struct ip_prefix *a, const struct ip_prefix *b);
/* fe80::/10 or 169.254.0.0/16: an address that lives on one link only. */
bool ip_addr_is_link_local(const struct ip_prefix *p);
/* "addr/cidr" and "addr" into buf; both return buf. */
const char *ip_prefix_str(const struct ip_prefix *p, char buf[IP_PREFIX_STRLEN]);
const char *ip_addr_str(const struct ip_prefix *p, char buf[IP_PREFIX_STRLEN]);

#endif
