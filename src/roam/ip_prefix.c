/* IPv4 and IPv6 addresses with prefix lengths (see ip_prefix.h). */
#include "ip_prefix.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "decimal.h"

static unsigned family_bits(int family)
{
	return family == AF_INET ? 32 : 128;
}

bool ip_prefix_parse(struct ip_prefix *out, const char *s, bool cidr_optional)
{
	char buf[IP_PREFIX_STRLEN];
	const char *slash = strchr(s, '/');
	size_t len = slash ? (size_t)(slash - s) : strlen(s);
	uint64_t cidr;

	memset(out, 0, sizeof(*out));
	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	out->family = strchr(buf, ':') ? AF_INET6 : AF_INET;
	/* inet_pton takes only the plain forms: dotted quads of four decimal
	 * parts, no zone ids, which is what WireGuard's tools accept too. */
	if (inet_pton(out->family, buf, out->addr) != 1)
		return false;
	if (!slash) {
		if (!cidr_optional)
			return false;
		cidr = family_bits(out->family);
	} else if (!parse_decimal(slash + 1, family_bits(out->family), &cidr)) {
		return false;
	}
	out->cidr = (uint8_t)cidr;
	return true;
}

/* Do a and b agree on their first bits bits? */
static bool prefix_bits_equal(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned bytes = bits / 8, rest = bits % 8;
	uint8_t mask;

	if (memcmp(a, b, bytes) != 0)
		return false;
	if (!rest)
		return true;
	mask = (uint8_t)(0xff << (8 - rest));
	return ((a[bytes] ^ b[bytes]) & mask) == 0;
}

bool ip_prefix_contains(const struct ip_prefix *outer, const struct ip_prefix *inner)
{
	return outer->family == inner->family && outer->cidr <= inner->cidr &&
	       prefix_bits_equal(outer->addr, inner->addr, outer->cidr);
}

bool ip_prefix_overlap(const struct ip_prefix *a, const struct ip_prefix *b)
{
	/* Two prefixes either nest or are disjoint. */
	return ip_prefix_contains(a, b) || ip_prefix_contains(b, a);
}

bool ip_prefix_has_host_bits(const struct ip_prefix *p)
{
	struct ip_prefix masked = *p;

	ip_prefix_mask(&masked);
	return memcmp(masked.addr, p->addr, sizeof(p->addr)) != 0;
}

void ip_prefix_mask(struct ip_prefix *p)
{
	unsigned i, bits = p->cidr;

	for (i = 0; i < sizeof(p->addr); i++) {
		if (bits >= 8) {
			bits -= 8;
			continue;
		}
		p->addr[i] &= (uint8_t)(0xff << (8 - bits));
		bits = 0;
	}
}

bool ip_prefix_equal(const struct ip_prefix *a, const struct ip_prefix *b)
{
	return a->family == b->family && a->cidr == b->cidr &&
	       memcmp(a->addr, b->addr, family_bits(a->family) / 8) == 0;
}

bool ip_addr_is_link_local(const struct ip_prefix *p)
{
	if (p->family == AF_INET6)
		return p->addr[0] == 0xfe && (p->addr[1] & 0xc0) == 0x80;
	return p->addr[0] == 169 && p->addr[1] == 254;
}

const char *ip_addr_str(const struct ip_prefix *p, char buf[IP_PREFIX_STRLEN])
{
	if (!inet_ntop(p->family, p->addr, buf, IP_PREFIX_STRLEN))
		strcpy(buf, "?");
	return buf;
}

const char *ip_prefix_str(const struct ip_prefix *p, char buf[IP_PREFIX_STRLEN])
{
	size_t len = strlen(ip_addr_str(p, buf));

	snprintf(buf + len, IP_PREFIX_STRLEN - len, "/%u", p->cidr);
	return buf;
}
