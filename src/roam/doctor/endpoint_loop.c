/* A routing loop: a peer's Endpoint lies inside the AllowedIPs (of any
 * peer) and its route goes into the tunnel interface itself, so the
 * encrypted datagrams would be encrypted again instead of leaving. wg-quick
 * avoids it for 0.0.0.0/0 with a fwmark and a table of its own; with
 * plain routes the endpoint has to stay outside the AllowedIPs. Checked
 * with the daemon's fwmark, which its own datagrams carry. */
#include <string.h>

#include "doctor.h"
#include "rtnl.h"

/* The address of "198.51.100.1:51820" or "[fd00::1]:51820". */
static bool endpoint_address(const char *endpoint, struct ip_prefix *out)
{
	char host[UAPI_ENDPOINT_MAX];
	const char *end;

	if (endpoint[0] == '[') {
		endpoint++;
		end = strchr(endpoint, ']');
	} else {
		end = strrchr(endpoint, ':');
	}
	if (!end || (size_t)(end - endpoint) >= sizeof(host))
		return false;
	memcpy(host, endpoint, (size_t)(end - endpoint));
	host[end - endpoint] = '\0';
	/* A scoped link-local address: the scope is no part of the address. */
	char *scope = strchr(host, '%');
	if (scope)
		*scope = '\0';
	return ip_prefix_parse(out, host, true);
}

bool doctor_endpoint_loop(const struct uapi_device *dev, int ifindex, char endpoint[UAPI_ENDPOINT_MAX])
{
	struct rtnl nl;
	bool found = false;

	if (ifindex <= 0 || rtnl_open(&nl) != 0)
		return false;
	for (size_t i = 0; i < dev->n_peers && !found; i++) {
		struct ip_prefix addr;
		uint32_t table;
		bool local = false;
		int oif = 0;

		if (!dev->peers[i].endpoint[0] || !endpoint_address(dev->peers[i].endpoint, &addr))
			continue;
		if (rtnl_route_get_table(&nl, &addr, dev->fwmark, &oif, &table, &local) == 0 && !local &&
		    oif == ifindex) {
			snprintf(endpoint, UAPI_ENDPOINT_MAX, "%s", dev->peers[i].endpoint);
			found = true;
		}
	}
	rtnl_close(&nl);
	return found;
}
