/* Path MTU per peer (device.h, "Path MTU"). The engine keeps the value so
 * that it is forgotten exactly when the endpoint it describes changes, and
 * so that padding never pushes a packet that fits over the path; learning
 * it (ICMP, probes) and acting on it (cutting, refusing) is the edge's. */
#include <string.h>

#include "device_state.h"
#include "peer.h"

static bool endpoint_is_ipv6(const struct endpoint *ep)
{
	return ep->addr.sa.sa_family == AF_INET6 && !IN6_IS_ADDR_V4MAPPED(&ep->addr.in6.sin6_addr);
}

static void clear(struct peer *peer)
{
	if (peer->path_mtu)
		peer->dev->path_mtu_peers--;
	peer->path_mtu = 0;
	peer->path_mtu_origin = PATH_MTU_INTERFACE;
	peer->path_mtu_at = 0;
}

void peer_forget_path_mtu(struct peer *peer)
{
	clear(peer);
	/* A new path: the next large packet asks how large it is, and a
	 * search in flight measured the old one (answers from both paths
	 * would mix): it ends without a result. */
	peer->probe.path_changed = true;
	peer->probe.round_deadline = 0;
	peer->probe.quiet_searches = 0;
}

unsigned peer_path_overhead(const struct peer *peer)
{
	return endpoint_is_ipv6(&peer->endpoint) ? PATH_OVERHEAD_V6 : PATH_OVERHEAD_V4;
}

/* The value, unless it has outlived PATH_MTU_LIFETIME (then it counts as
 * none; the next report or forget clears it). A value a probe measured
 * stays until it is measured again (pathprobe.c does so once it is that
 * old): dropping it would black-hole what the path still drops. */
static unsigned current(const struct peer *peer, uint64_t now)
{
	if (peer->path_mtu && peer->path_mtu_origin != PATH_MTU_PROBE && now - peer->path_mtu_at >= PATH_MTU_LIFETIME)
		return 0;
	return peer->path_mtu;
}

unsigned peer_set_path_mtu(struct peer *peer, unsigned mtu, enum path_mtu_origin origin, uint64_t now)
{
	if (!endpoint_is_set(&peer->endpoint) || !mtu)
		return current(peer, now);
	/* A report of a path that carries more than anything the tunnel
	 * sends says nothing (RFC 8201 §4 ignores a larger "packet too big"):
	 * a garbled or forged MTU must not make the value meaningless. */
	unsigned largest = (peer->dev->mtu ? peer->dev->mtu : 1420) + peer_path_overhead(peer);
	if (origin != PATH_MTU_PROBE && mtu >= largest)
		return current(peer, now);
	bool v6 = endpoint_is_ipv6(&peer->endpoint);
	/* Our own kernel's refusal is obeyed as it is: it will refuse what
	 * is larger whatever we think (its own floors are 552 and 1280). */
	unsigned floor = origin == PATH_MTU_LOCAL ? (v6 ? 1280 : 68) : v6 ? PATH_MTU_FLOOR_V6 : PATH_MTU_FLOOR_V4;
	if (mtu < floor)
		mtu = floor;
	if (mtu > UINT16_MAX)
		mtu = UINT16_MAX;
	unsigned have = current(peer, now);
	if (!have)
		clear(peer);	/* an expired value */
	/* An ICMP report can only lower the value; a probe measured the
	 * path and may raise it again. */
	if (have && origin != PATH_MTU_PROBE && mtu >= have)
		return have;
	if (!have)
		peer->dev->path_mtu_peers++;
	peer->path_mtu = (uint16_t)mtu;
	peer->path_mtu_origin = (uint8_t)origin;
	peer->path_mtu_at = now;
	return mtu;
}

unsigned peer_path_mtu(const struct peer *peer, enum path_mtu_origin *origin, uint64_t now)
{
	unsigned mtu = current(peer, now);
	if (origin)
		*origin = mtu ? (enum path_mtu_origin)peer->path_mtu_origin : PATH_MTU_INTERFACE;
	return mtu;
}

unsigned peer_path_inner_limit(const struct peer *peer, uint64_t now)
{
	unsigned mtu = current(peer, now);
	if (!mtu)
		return 0;
	unsigned overhead = peer_path_overhead(peer);
	/* A multiple of 16: padding rounds up to one, so a packet this long
	 * is sent as it is. */
	return (mtu - overhead) & ~(unsigned)(MESSAGE_PADDING_MULTIPLE - 1);
}

size_t device_path_mtu_peers(const struct device *dev)
{
	return dev->path_mtu_peers;
}

/* Did the peer send a data message with this receiver index and counter
 * under one of its sessions? */
static bool sent_by(const struct peer *peer, uint32_t receiver, uint64_t counter)
{
	const struct noise_keypair *kps[] = {peer->keypairs.current, peer->keypairs.previous, peer->keypairs.next};
	for (size_t i = 0; i < sizeof(kps) / sizeof(kps[0]); i++)
		if (kps[i] && kps[i]->remote_index == receiver && counter < kps[i]->send_counter)
			return true;
	return false;
}

struct peer *device_peer_for_quoted_datagram(struct device *dev, const struct endpoint *to, const uint8_t *msg,
					     size_t len)
{
	/* Type, receiver index and counter: the first 16 bytes, which every
	 * ICMP error quotes (IPv4 routers quote at least 8 bytes beyond the
	 * UDP header: RFC 1812 asks for as much as fits in 576). */
	if (len < MESSAGE_DATA_HEADER_LEN || le32_read(msg) != MESSAGE_DATA)
		return NULL;
	uint32_t receiver = le32_read(msg + 4);
	uint64_t counter = le64_read(msg + 8);
	for (struct peer *p = dev->peers_first; p; p = p->list_next)
		if (endpoint_same_remote(&p->endpoint, to) && sent_by(p, receiver, counter))
			return p;
	return NULL;
}

const char *path_mtu_origin_name(enum path_mtu_origin origin)
{
	switch (origin) {
	case PATH_MTU_ICMP:
		return "icmp";
	case PATH_MTU_LOCAL:
		return "local";
	case PATH_MTU_PROBE:
		return "probe";
	default:
		return "interface";
	}
}
