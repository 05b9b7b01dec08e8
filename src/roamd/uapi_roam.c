/* The roam_* lines of a "get=2" reply: what roamd knows beyond what `wg`
 * shows. The schema, shared with roam's parser, is in uapi_contract.h. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "history.h"
#include "uapi.h"
#include "uapi_contract.h"

static void put_drops(struct uapi_buf *out, const uint64_t drops[DROP_REASON_COUNT])
{
	for (int r = 1; r < DROP_REASON_COUNT; r++)
		if (drops[r])
			uapi_buf_printf(out, ROAM_KEY_DROP "=%s:%llu\n", drop_reason_name((enum drop_reason)r),
					(unsigned long long)drops[r]);
}

static unsigned long long ms(uint64_t ns)
{
	return (unsigned long long)(ns / NSEC_PER_MSEC);
}

void uapi_put_roam_device(const struct device *dev, uint64_t now, struct uapi_buf *out)
{
	uint64_t drops[DROP_REASON_COUNT];
	uapi_buf_printf(out, ROAM_KEY_VERSION "=%d\n" ROAM_KEY_PEERS "=%zu\n" ROAM_KEY_UNDER_LOAD "=%d\n",
			UAPI_ROAM_VERSION, device_peer_count(dev), device_is_under_load(dev, now) ? 1 : 0);
	uint64_t computed, cookies;
	device_get_handshake_counts(dev, &computed, &cookies);
	uapi_buf_printf(out, ROAM_KEY_HANDSHAKES_COMPUTED "=%llu\n" ROAM_KEY_COOKIE_REPLIES "=%llu\n",
			(unsigned long long)computed, (unsigned long long)cookies);
	device_get_drops(dev, drops);
	put_drops(out, drops);
}

static void put_history(struct uapi_buf *out, const struct peer_history *h, uint64_t now)
{
	uapi_buf_put_number(out, ROAM_KEY_ENDPOINT_CHANGES, h->endpoint_changes);
	uapi_buf_put_number(out, ROAM_KEY_NAT_REBINDS, h->nat_rebinds);
	if (h->nat_rebound_min_idle)
		uapi_buf_printf(out, ROAM_KEY_NAT_REBOUND_MIN_IDLE_MS "=%llu\n", ms(h->nat_rebound_min_idle));
	if (h->nat_kept_max_idle)
		uapi_buf_printf(out, ROAM_KEY_NAT_KEPT_MAX_IDLE_MS "=%llu\n", ms(h->nat_kept_max_idle));
	unsigned keepalive = history_suggested_keepalive(h);
	if (keepalive)
		uapi_buf_printf(out, ROAM_KEY_SUGGESTED_KEEPALIVE "=%u\n", keepalive);
	for (unsigned i = 0; i < h->count; i++) {
		const struct history_entry *e = history_entry_at(h, i);
		char old_text[ENDPOINT_TEXT_LEN], new_text[ENDPOINT_TEXT_LEN];
		if (!endpoint_format(&e->old_endpoint, old_text, sizeof(old_text)))
			snprintf(old_text, sizeof(old_text), "-");
		if (!endpoint_format(&e->new_endpoint, new_text, sizeof(new_text)))
			snprintf(new_text, sizeof(new_text), "-");
		uapi_buf_printf(out, ROAM_KEY_HISTORY "=%s %llu.%09llu %llu %s %s %llu\n", history_kind_name(e->kind),
				(unsigned long long)(e->wall_ns / NSEC_PER_SEC),
				(unsigned long long)(e->wall_ns % NSEC_PER_SEC), ms(now - e->mono), old_text, new_text,
				ms(e->idle_before));
	}
}

static void put_named(struct uapi_buf *out, const char *key, const char *name)
{
	size_t key_len = strlen(key), name_len = strlen(name);
	char *at = uapi_buf_append(out, key_len + 1 + name_len + 1);

	if (!at)
		return;
	memcpy(at, key, key_len);
	at[key_len] = '=';
	memcpy(at + key_len + 1, name, name_len);
	at[key_len + 1 + name_len] = '\n';
}

/* info: what uapi_get fetched for the peer's standard lines. The lines
 * are put piece by piece rather than printf'd: a reply of 100,000 peers
 * has some 1.5 million of them. */
void uapi_put_roam_peer(const struct peer *peer, const struct peer_info *info, uint64_t now, struct uapi_buf *out)
{
	uapi_buf_put_number(out, ROAM_KEY_RX_PACKETS, info->rx_packets);
	uapi_buf_put_number(out, ROAM_KEY_TX_PACKETS, info->tx_packets);
	uapi_buf_put_number(out, ROAM_KEY_HAS_SESSION, info->has_current_keypair ? 1 : 0);
	uapi_buf_put_number(out, ROAM_KEY_HANDSHAKE_ATTEMPTS, info->handshake_attempts);
	uapi_buf_put_number(out, ROAM_KEY_RESPONSES_UNCONFIRMED, info->responses_unconfirmed);
	if (info->last_disallowed_family) {
		char a[INET6_ADDRSTRLEN];

		if (inet_ntop(info->last_disallowed_family, info->last_disallowed_src, a, sizeof(a)))
			put_named(out, ROAM_KEY_LAST_DISALLOWED_SRC, a);
	}
	if (info->last_receive_mono)
		uapi_buf_put_number(out, ROAM_KEY_LAST_RECEIVE_AGE_MS, ms(now - info->last_receive_mono));
	if (info->unanswered_since_mono)
		uapi_buf_put_number(out, ROAM_KEY_UNANSWERED_MS, ms(now - info->unanswered_since_mono));
	if (info->last_handshake_mono)
		uapi_buf_put_number(out, ROAM_KEY_LAST_HANDSHAKE_AGE_MS, ms(now - info->last_handshake_mono));
	put_drops(out, info->drops);
	enum path_mtu_origin origin;
	unsigned mtu = peer_path_mtu(peer, &origin, now);
	put_named(out, ROAM_KEY_PATH_MTU_ORIGIN, path_mtu_origin_name(origin));
	if (mtu) {
		uapi_buf_put_number(out, ROAM_KEY_PATH_MTU, mtu);
		uapi_buf_put_number(out, ROAM_KEY_PATH_INNER_MTU, peer_path_inner_limit(peer, now));
	}
	struct path_probe_info probe;
	peer_get_path_probe_info(peer, &probe);
	put_named(out, ROAM_KEY_PATH_PROBE, path_probe_result_name(probe.result));
	uapi_buf_put_number(out, ROAM_KEY_PATH_PROBES_SENT, probe.probes_sent);
	uapi_buf_put_number(out, ROAM_KEY_PATH_PROBES_ANSWERED, probe.answers);
	if (probe.result_at)
		uapi_buf_put_number(out, ROAM_KEY_PATH_PROBE_AGE_MS, ms(now - probe.result_at));
	const struct peer_history *h = peer_get_history(peer);
	if (h)
		put_history(out, h, now);
	const struct endpoint *list;
	size_t n = peer_get_endpoint_candidates(peer, &list);
	for (size_t i = 0; i < n; i++) {
		char text[ENDPOINT_TEXT_LEN];
		if (endpoint_format(&list[i], text, sizeof(text)))
			uapi_buf_printf(out, ROAM_KEY_ENDPOINT_CANDIDATE "=%s\n", text);
	}
	int at = peer_endpoint_candidate_index(peer);
	if (at >= 0)
		uapi_buf_printf(out, ROAM_KEY_ENDPOINT_CANDIDATE_INDEX "=%d\n", at);
}
