/* The roam_* lines of a "get=2" reply: what roamd knows beyond what `wg`
 * shows, for `roam show`, `roam doctor` and `roam metrics`. Stable schema
 * (add keys, never change one):
 *
 * device lines, before the first public_key:
 *   roam_version=1
 *   roam_peers=N
 *   roam_under_load=0|1
 *   roam_drop=REASON:COUNT            one per non-zero cause, all peers
 * peer lines, after the peer's allowed_ip lines:
 *   roam_rx_packets=N, roam_tx_packets=N
 *   roam_has_session=0|1
 *   roam_handshake_attempts=N         initiations since the last success
 *   roam_last_receive_age_ms=N        omitted if nothing was ever received
 *   roam_last_handshake_age_ms=N      omitted if never
 *   roam_drop=REASON:COUNT            one per non-zero cause
 *   roam_path_mtu_origin=O            interface|icmp|local|probe: where the
 *                                     path MTU below came from; "interface"
 *                                     = nothing learnt, the interface's MTU
 *   roam_path_mtu=N                   outer bytes; omitted when none learnt
 *   roam_path_inner_mtu=N             the largest inner packet that fits;
 *                                     omitted when none learnt
 *   roam_endpoint_changes=N           all time
 *   roam_nat_rebinds=N
 *   roam_nat_rebound_min_idle_ms=N    a NAT forgot the mapping within this
 *   roam_nat_kept_max_idle_ms=N       a NAT kept the mapping at least this
 *   roam_suggested_keepalive=S        seconds; omitted without evidence
 *   roam_history=KIND WALL AGE_MS OLD NEW IDLE_MS
 *                                     oldest first; WALL is sec.nsec since
 *                                     the epoch, OLD/NEW are endpoints or -
 * Durations are milliseconds, endpoints numeric. */
#include <stdio.h>

#include "history.h"
#include "uapi.h"

static void put_drops(struct uapi_buf *out, const uint64_t drops[DROP_REASON_COUNT])
{
	for (int r = 1; r < DROP_REASON_COUNT; r++)
		if (drops[r])
			uapi_buf_printf(out, "roam_drop=%s:%llu\n", drop_reason_name((enum drop_reason)r),
					(unsigned long long)drops[r]);
}

static unsigned long long ms(uint64_t ns)
{
	return (unsigned long long)(ns / NSEC_PER_MSEC);
}

void uapi_put_roam_device(const struct device *dev, uint64_t now, struct uapi_buf *out)
{
	uint64_t drops[DROP_REASON_COUNT];
	uapi_buf_printf(out, "roam_version=1\nroam_peers=%zu\nroam_under_load=%d\n", device_peer_count(dev),
			device_is_under_load(dev, now) ? 1 : 0);
	device_get_drops(dev, drops);
	put_drops(out, drops);
}

static void put_history(struct uapi_buf *out, const struct peer_history *h, uint64_t now)
{
	uapi_buf_printf(out, "roam_endpoint_changes=%llu\nroam_nat_rebinds=%llu\n",
			(unsigned long long)h->endpoint_changes, (unsigned long long)h->nat_rebinds);
	if (h->nat_rebound_min_idle)
		uapi_buf_printf(out, "roam_nat_rebound_min_idle_ms=%llu\n", ms(h->nat_rebound_min_idle));
	if (h->nat_kept_max_idle)
		uapi_buf_printf(out, "roam_nat_kept_max_idle_ms=%llu\n", ms(h->nat_kept_max_idle));
	unsigned keepalive = history_suggested_keepalive(h);
	if (keepalive)
		uapi_buf_printf(out, "roam_suggested_keepalive=%u\n", keepalive);
	for (unsigned i = 0; i < h->count; i++) {
		const struct history_entry *e = history_entry_at(h, i);
		char old_text[ENDPOINT_TEXT_LEN], new_text[ENDPOINT_TEXT_LEN];
		if (!endpoint_format(&e->old_endpoint, old_text, sizeof(old_text)))
			snprintf(old_text, sizeof(old_text), "-");
		if (!endpoint_format(&e->new_endpoint, new_text, sizeof(new_text)))
			snprintf(new_text, sizeof(new_text), "-");
		uapi_buf_printf(out, "roam_history=%s %llu.%09llu %llu %s %s %llu\n", history_kind_name(e->kind),
				(unsigned long long)(e->wall_ns / NSEC_PER_SEC),
				(unsigned long long)(e->wall_ns % NSEC_PER_SEC), ms(now - e->mono), old_text, new_text,
				ms(e->idle_before));
	}
}

void uapi_put_roam_peer(const struct peer *peer, uint64_t now, struct uapi_buf *out)
{
	struct peer_info info;
	peer_get_info(peer, &info);
	uapi_buf_printf(out, "roam_rx_packets=%llu\nroam_tx_packets=%llu\nroam_has_session=%d\n"
			     "roam_handshake_attempts=%llu\n",
			(unsigned long long)info.rx_packets, (unsigned long long)info.tx_packets,
			info.has_current_keypair ? 1 : 0, (unsigned long long)info.handshake_attempts);
	if (info.last_receive_mono)
		uapi_buf_printf(out, "roam_last_receive_age_ms=%llu\n", ms(now - info.last_receive_mono));
	if (info.last_handshake_mono)
		uapi_buf_printf(out, "roam_last_handshake_age_ms=%llu\n", ms(now - info.last_handshake_mono));
	put_drops(out, info.drops);
	enum path_mtu_origin origin;
	unsigned mtu = peer_path_mtu(peer, &origin, now);
	uapi_buf_printf(out, "roam_path_mtu_origin=%s\n", path_mtu_origin_name(origin));
	if (mtu)
		uapi_buf_printf(out, "roam_path_mtu=%u\nroam_path_inner_mtu=%u\n", mtu,
				peer_path_inner_limit(peer, now));
	const struct peer_history *h = peer_get_history(peer);
	if (h)
		put_history(out, h, now);
}
