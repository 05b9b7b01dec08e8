/* roam show [IFNAME] [--json]. The standard part follows `wg show` line
 * for line, so eyes and scripts used to wg find things where they expect
 * them; roam's additions come after it in each section. */
#include "show.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "json.h"
#include "messages.h"

static const char show_usage[] =
	"Usage: roam show [IFNAME] [--json]\n"
	"\n"
	"Shows an interface the way 'wg show' does, and for each peer what roamd adds:\n"
	"  handshake        fresh (under 3 minutes old: a session can be current),\n"
	"                   stale (older) or never\n"
	"  last receive     how long since anything authenticated came from the peer\n"
	"  packets, drops   counted by cause (bad_mac1, replay, disallowed_src, ...)\n"
	"  nat              what the endpoint history says about the NATs in the path:\n"
	"                   the shortest silence after which a mapping was lost, the\n"
	"                   longest one it survived, and the keepalive that follows\n"
	"  path MTU         the largest outer packet the path to the peer carries, when\n"
	"                   roamd learnt one smaller than the interface's (from ICMP,\n"
	"                   the outgoing interface or a probe), and the inner size that fits\n"
	"  history          endpoint changes and handshakes, oldest first, with times\n"
	"Without IFNAME: every interface with a socket in " UAPI_SOCKET_DIR ".\n"
	"Against wireguard-go (or any daemon that refuses 'get=2') only the standard part\n"
	"is shown.\n"
	"\n"
	"--json prints one document (schema version 1; docs/show-json.md has the details):\n"
	"  {\"version\": 1, \"interfaces\": [INTERFACE...]}\n"
	"  INTERFACE: {\"name\", \"public_key\" (null without a private key), \"listen_port\",\n"
	"    \"fwmark\", \"extended\" (roamd's details present), \"under_load\", \"drops\"\n"
	"    ({REASON: COUNT}), \"peers\": [PEER...]}\n"
	"  PEER: {\"public_key\", \"preshared_key\" (true/false, never the key), \"endpoint\",\n"
	"    \"allowed_ips\", \"latest_handshake\" (Unix s), \"handshake_age_ms\",\n"
	"    \"handshake\" (\"fresh\"|\"stale\"|\"never\"), \"rx_bytes\", \"tx_bytes\",\n"
	"    \"persistent_keepalive\" (s, 0 = off), \"rx_packets\", \"tx_packets\",\n"
	"    \"has_session\", \"handshake_attempts\", \"last_receive_age_ms\", \"drops\",\n"
	"    \"path_mtu\": {\"origin\", \"mtu\", \"inner_mtu\", \"probe\": {\"result\", \"age_ms\", \"sent\", \"answered\"}},\n"
	"    \"liveness\" (\"alive\"|\"stale\"|\"dead\"), \"endpoint_candidates\",\n"
	"    \"endpoint_candidate_index\", \"names\" ([{\"name\", \"addresses\", \"ttl_s\",\n"
	"    \"next_lookup_s\", \"status\"}...]: the host names roamd follows), \"endpoint_changes\",\n"
	"    \"nat\": {\"rebinds\", \"lost_after_idle_ms\",\n"
	"    \"kept_after_idle_ms\", \"suggested_keepalive\"}, \"history\": [{\"kind\", \"time\"\n"
	"    (RFC 3339, UTC), \"age_ms\", \"old_endpoint\", \"new_endpoint\", \"idle_ms\"}...]}\n"
	"  Every key is always present; what is unknown is null. Without roamd's details\n"
	"  (\"extended\": false) the keys from \"rx_packets\" on are null.\n"
	"\n"
	"Exit status: 0 success, 1 an interface could not be read, 2 usage error.\n";

/* ---- verdicts and human units ------------------------------------------ */

const char *handshake_verdict_name(enum handshake_verdict verdict)
{
	switch (verdict) {
	case HANDSHAKE_FRESH:
		return "fresh";
	case HANDSHAKE_STALE:
		return "stale";
	case HANDSHAKE_NEVER:
		break;
	}
	return "never";
}

const char *peer_liveness_name(enum peer_liveness liveness)
{
	return liveness == LIVENESS_ALIVE ? "alive" : liveness == LIVENESS_DEAD ? "dead" : "stale";
}

enum peer_liveness peer_liveness_of(const struct uapi_peer *peer, uint64_t now_ms)
{
	uint64_t age_ms = 0;
	bool fresh = peer_handshake_verdict(peer, now_ms, &age_ms) == HANDSHAKE_FRESH;
	if (peer->has_last_receive_age && peer->last_receive_age_ms < 15000)
		return LIVENESS_ALIVE;
	if (peer->handshake_attempts >= 2)
		return LIVENESS_DEAD;
	if (fresh && peer->has_session && peer->handshake_attempts == 0)
		return LIVENESS_ALIVE;
	return LIVENESS_STALE;
}

enum handshake_verdict peer_handshake_verdict(const struct uapi_peer *peer, uint64_t now_ms, uint64_t *age_ms)
{
	uint64_t at_ms;

	/* roamd's age comes from its monotonic clock, which a wall-clock
	 * step cannot bend; wireguard-go only gives the wall time. */
	if (peer->has_last_handshake_age) {
		*age_ms = peer->last_handshake_age_ms;
	} else if (peer->last_handshake_sec) {
		at_ms = peer->last_handshake_sec * 1000 + peer->last_handshake_nsec / 1000000;
		*age_ms = now_ms > at_ms ? now_ms - at_ms : 0;
	} else {
		return HANDSHAKE_NEVER;
	}
	return *age_ms < REJECT_AFTER_TIME / NSEC_PER_MSEC ? HANDSHAKE_FRESH : HANDSHAKE_STALE;
}

void format_duration(char *buf, size_t len, uint64_t seconds)
{
	static const struct {
		const char *name;
		uint64_t seconds;
	} units[] = {
		{ "year", 365 * 24 * 3600 }, { "day", 24 * 3600 }, { "hour", 3600 }, { "minute", 60 }, { "second", 1 },
	};
	size_t off = 0;
	uint64_t n;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]) && off < len; i++) {
		n = seconds / units[i].seconds;
		seconds %= units[i].seconds;
		if (!n)
			continue;
		off += (size_t)snprintf(buf + off, len - off, "%s%" PRIu64 " %s%s", off ? ", " : "", n, units[i].name,
					n == 1 ? "" : "s");
	}
	if (!buf[0])
		snprintf(buf, len, "0 seconds");
}

void format_bytes(char *buf, size_t len, uint64_t bytes)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
	double v = (double)bytes;
	size_t i;

	if (bytes < 1024) {
		snprintf(buf, len, "%" PRIu64 " B", bytes);
		return;
	}
	for (i = 0, v /= 1024; i + 1 < sizeof(units) / sizeof(units[0]) && v >= 1024; i++)
		v /= 1024;
	snprintf(buf, len, "%.2f %s", v, units[i]);
}

/* "3 minutes, 2 seconds ago", or "just now" under a second. */
static void format_ago(char *buf, size_t len, uint64_t ms)
{
	size_t off;

	if (ms < 1000) {
		snprintf(buf, len, "just now");
		return;
	}
	format_duration(buf, len, ms / 1000);
	off = strlen(buf);
	snprintf(buf + off, len - off, " ago");
}

/* ---- text -------------------------------------------------------------- */

static void print_drops(FILE *f, const struct uapi_drop *drops, size_t n)
{
	fputs("  drops: ", f);
	if (!n)
		fputs("none", f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s%s %" PRIu64, i ? ", " : "", drops[i].reason, drops[i].count);
	fputc('\n', f);
}

static void print_nat(FILE *f, const struct uapi_peer *p)
{
	char d[96];

	fputs("  nat: ", f);
	if (!p->nat_rebinds && !p->nat_rebound_min_idle_ms && !p->nat_kept_max_idle_ms) {
		fputs("no evidence yet (it comes from the peer going quiet and coming back)\n", f);
		return;
	}
	fprintf(f, "%" PRIu64 " rebind%s", p->nat_rebinds, p->nat_rebinds == 1 ? "" : "s");
	if (p->nat_rebound_min_idle_ms) {
		format_duration(d, sizeof(d), p->nat_rebound_min_idle_ms / 1000);
		fprintf(f, "; a mapping was lost after %s idle", d);
	}
	if (p->nat_kept_max_idle_ms) {
		format_duration(d, sizeof(d), p->nat_kept_max_idle_ms / 1000);
		fprintf(f, "; a mapping survived %s idle", d);
	}
	fputc('\n', f);
	if (p->suggested_keepalive) {
		fprintf(f, "  suggested keepalive: %u second%s", p->suggested_keepalive,
			p->suggested_keepalive == 1 ? "" : "s");
		if (!p->persistent_keepalive)
			fputs(" (now off)\n", f);
		else if (p->persistent_keepalive > p->suggested_keepalive)
			fprintf(f, " (now %u: too long for this path)\n", p->persistent_keepalive);
		else
			fprintf(f, " (now %u: fine)\n", p->persistent_keepalive);
	}
}

static void print_history(FILE *f, const struct uapi_peer *p)
{
	char when[32], ago[96], idle[96];
	struct tm tm;
	time_t t;

	if (!p->n_history) {
		fputs("  history: none yet\n", f);
		return;
	}
	fputs("  history:\n", f);
	for (size_t i = 0; i < p->n_history; i++) {
		const struct uapi_history *h = &p->history[i];
		t = (time_t)h->wall_sec;
		if (!localtime_r(&t, &tm) || !strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm))
			snprintf(when, sizeof(when), "@%" PRIu64, h->wall_sec);
		format_ago(ago, sizeof(ago), h->age_ms);
		fprintf(f, "    %s (%s)  %s", when, ago, h->kind);
		if (h->old_endpoint[0] || h->new_endpoint[0])
			fprintf(f, "  %s -> %s", h->old_endpoint[0] ? h->old_endpoint : "(none)",
				h->new_endpoint[0] ? h->new_endpoint : "(none)");
		if (!strcmp(h->kind, "endpoint_changed") && h->idle_ms) {
			format_duration(idle, sizeof(idle), h->idle_ms / 1000);
			fprintf(f, " after %s idle", idle);
		}
		fputc('\n', f);
	}
}

static void print_peer(FILE *f, const struct uapi_device *dev, const struct uapi_peer *p, uint64_t now_ms)
{
	char b64[KEY_B64_LEN + 1], a[IP_PREFIX_STRLEN], ago[96], t[96], rx[32], tx[32];
	enum handshake_verdict verdict;
	uint64_t age_ms = 0;

	key_to_base64(b64, p->public_key);
	fprintf(f, "\npeer: %s\n", b64);
	if (p->has_preshared_key)
		fputs("  preshared key: (hidden)\n", f);
	if (p->endpoint[0])
		fprintf(f, "  endpoint: %s\n", p->endpoint);
	if (p->n_candidates) {
		/* In order of preference; the one in use marked, or none when
		 * the endpoint is one the peer roamed to. */
		fputs("  endpoint candidates: ", f);
		for (size_t i = 0; i < p->n_candidates; i++)
			fprintf(f, "%s%s%s", i ? ", " : "", p->candidates[i],
				(int)i == p->candidate_index ? " (in use)" : "");
		fputc('\n', f);
	}
	for (size_t i = 0; i < p->n_names; i++) {
		/* The names roamd follows, what they gave and when it asks
		 * again: where the candidates above came from. */
		const struct uapi_name *nm = &p->names[i];
		fprintf(f, "  name: %s ->", nm->host_port);
		if (!nm->n_addrs)
			fputs(" (none yet)", f);
		for (size_t k = 0; k < nm->n_addrs; k++)
			fprintf(f, "%s %s", k ? "," : "", nm->addrs[k]);
		if (nm->ttl_s)
			fprintf(f, " (TTL %u s", nm->ttl_s);
		else
			fputs(" (no answer yet", f);
		if (nm->has_next)
			fprintf(f, ", next lookup in %lu s", nm->next_s);
		if (strcmp(nm->status, "ok"))
			fprintf(f, ", %s", nm->status);
		fputs(")\n", f);
	}
	fputs("  allowed ips: ", f);
	if (!p->n_allowed_ips)
		fputs("(none)", f);
	for (size_t i = 0; i < p->n_allowed_ips; i++)
		fprintf(f, "%s%s", i ? ", " : "", ip_prefix_str(&p->allowed_ips[i], a));
	fputc('\n', f);
	verdict = peer_handshake_verdict(p, now_ms, &age_ms);
	if (verdict != HANDSHAKE_NEVER) {
		format_ago(ago, sizeof(ago), age_ms);
		fprintf(f, "  latest handshake: %s\n", ago);
	}
	if (p->rx_bytes || p->tx_bytes) {
		format_bytes(rx, sizeof(rx), p->rx_bytes);
		format_bytes(tx, sizeof(tx), p->tx_bytes);
		fprintf(f, "  transfer: %s received, %s sent\n", rx, tx);
	}
	if (p->persistent_keepalive) {
		format_duration(t, sizeof(t), p->persistent_keepalive);
		fprintf(f, "  persistent keepalive: every %s\n", t);
	}

	/* roam's part. The verdict needs nothing from roamd. */
	if (verdict == HANDSHAKE_NEVER)
		fputs("  handshake: never\n", f);
	else
		fprintf(f, "  handshake: %s (%s)\n", handshake_verdict_name(verdict), ago);
	if (!dev->extended)
		return;
	fprintf(f, "  liveness: %s\n", peer_liveness_name(peer_liveness_of(p, now_ms)));
	if (p->has_last_receive_age) {
		format_ago(t, sizeof(t), p->last_receive_age_ms);
		fprintf(f, "  last receive: %s\n", t);
	} else {
		fputs("  last receive: never\n", f);
	}
	fprintf(f, "  packets: %" PRIu64 " received, %" PRIu64 " sent\n", p->rx_packets, p->tx_packets);
	if (p->has_session)
		fputs("  session: established\n", f);
	else
		fprintf(f, "  session: none (%" PRIu64 " handshake attempt%s since the last success)\n",
			p->handshake_attempts, p->handshake_attempts == 1 ? "" : "s");
	print_drops(f, p->drops, p->n_drops);
	if (p->path_mtu)
		fprintf(f, "  path MTU: %u (from %s), inner packets up to %u\n", p->path_mtu, p->path_mtu_origin,
			p->path_inner_mtu);
	else if (p->path_mtu_origin[0])
		fputs("  path MTU: the interface's (nothing smaller learnt)\n", f);
	if (p->path_probe[0] && strcmp(p->path_probe, "none")) {
		fprintf(f, "  path probe: %s", p->path_probe);
		if (p->has_path_probe_age)
			fprintf(f, ", %" PRIu64 " s ago", p->path_probe_age_ms / 1000);
		fprintf(f, " (%" PRIu64 " probes sent, %" PRIu64 " answered)\n", p->path_probes_sent,
			p->path_probes_answered);
	}
	fprintf(f, "  endpoint changes: %" PRIu64 "\n", p->endpoint_changes);
	print_nat(f, p);
	print_history(f, p);
}

/* wg's order: the most recent handshake first. */
static int peer_order(const void *a, const void *b, void *peers)
{
	const struct uapi_peer *x = (const struct uapi_peer *)peers + *(const size_t *)a;
	const struct uapi_peer *y = (const struct uapi_peer *)peers + *(const size_t *)b;

	if (x->last_handshake_sec != y->last_handshake_sec)
		return x->last_handshake_sec > y->last_handshake_sec ? -1 : 1;
	if (x->last_handshake_nsec != y->last_handshake_nsec)
		return x->last_handshake_nsec > y->last_handshake_nsec ? -1 : 1;
	/* Ties keep the daemon's order (qsort is not stable). */
	return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

void show_text(FILE *f, const struct uapi_device *dev, uint64_t now_ms)
{
	char b64[KEY_B64_LEN + 1];
	size_t *order = xrealloc(NULL, (dev->n_peers + 1) * sizeof(*order));

	fprintf(f, "interface: %s\n", dev->name);
	if (dev->has_private_key) {
		key_to_base64(b64, dev->public_key);
		fprintf(f, "  public key: %s\n  private key: (hidden)\n", b64);
	}
	if (dev->listen_port)
		fprintf(f, "  listening port: %u\n", dev->listen_port);
	if (dev->fwmark)
		fprintf(f, "  fwmark: 0x%x\n", dev->fwmark);
	if (dev->extended) {
		fprintf(f, "  under load: %s\n", dev->under_load ? "yes (handshakes need cookies)" : "no");
		print_drops(f, dev->drops, dev->n_drops);
	} else {
		fputs("  details: none (the daemon refused get=2: not roamd)\n", f);
	}
	for (size_t i = 0; i < dev->n_peers; i++)
		order[i] = i;
	if (dev->n_peers > 1)
		qsort_r(order, dev->n_peers, sizeof(*order), peer_order, dev->peers);
	for (size_t i = 0; i < dev->n_peers; i++)
		print_peer(f, dev, &dev->peers[order[i]], now_ms);
	free(order);
}

/* ---- JSON -------------------------------------------------------------- */

static void json_drops(FILE *f, const struct uapi_drop *drops, size_t n)
{
	fputc('{', f);
	for (size_t i = 0; i < n; i++) {
		fputs(i ? ", " : "", f);
		json_string(f, drops[i].reason);
		fprintf(f, ": %" PRIu64, drops[i].count);
	}
	fputc('}', f);
}

static void json_u64_or_null(FILE *f, bool present, uint64_t v)
{
	if (present)
		fprintf(f, "%" PRIu64, v);
	else
		fputs("null", f);
}

static void json_history(FILE *f, const struct uapi_peer *p)
{
	struct tm tm;
	time_t t;
	char when[32];

	fputc('[', f);
	for (size_t i = 0; i < p->n_history; i++) {
		const struct uapi_history *h = &p->history[i];
		t = (time_t)h->wall_sec;
		if (!gmtime_r(&t, &tm) || !strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm))
			snprintf(when, sizeof(when), "1970-01-01T00:00:00");
		fprintf(f, "%s\n          {\"kind\": ", i ? "," : "");
		json_string(f, h->kind);
		fprintf(f, ", \"time\": \"%s.%09" PRIu32 "Z\", \"age_ms\": %" PRIu64 ", \"old_endpoint\": ", when,
			h->wall_nsec, h->age_ms);
		json_string_or_null(f, h->old_endpoint);
		fputs(", \"new_endpoint\": ", f);
		json_string_or_null(f, h->new_endpoint);
		fprintf(f, ", \"idle_ms\": %" PRIu64 "}", h->idle_ms);
	}
	fputs(p->n_history ? "\n        ]" : "]", f);
}

static void json_peer(FILE *f, const struct uapi_device *dev, const struct uapi_peer *p, uint64_t now_ms)
{
	char b64[KEY_B64_LEN + 1], a[IP_PREFIX_STRLEN];
	enum handshake_verdict verdict;
	uint64_t age_ms = 0;
	bool ext = dev->extended;

	key_to_base64(b64, p->public_key);
	fprintf(f, "\n      {\n        \"public_key\": \"%s\",\n        \"preshared_key\": %s,\n        \"endpoint\": ", b64,
		p->has_preshared_key ? "true" : "false");
	json_string_or_null(f, p->endpoint);
	fputs(",\n        \"allowed_ips\": [", f);
	for (size_t i = 0; i < p->n_allowed_ips; i++)
		fprintf(f, "%s\"%s\"", i ? ", " : "", ip_prefix_str(&p->allowed_ips[i], a));
	verdict = peer_handshake_verdict(p, now_ms, &age_ms);
	fputs("],\n        \"latest_handshake\": ", f);
	json_u64_or_null(f, p->last_handshake_sec != 0, p->last_handshake_sec);
	fputs(",\n        \"handshake_age_ms\": ", f);
	json_u64_or_null(f, verdict != HANDSHAKE_NEVER, age_ms);
	fprintf(f,
		",\n        \"handshake\": \"%s\",\n        \"rx_bytes\": %" PRIu64 ",\n        \"tx_bytes\": %" PRIu64
		",\n        \"persistent_keepalive\": %u,\n        \"rx_packets\": ",
		handshake_verdict_name(verdict), p->rx_bytes, p->tx_bytes, p->persistent_keepalive);
	json_u64_or_null(f, ext, p->rx_packets);
	fputs(",\n        \"tx_packets\": ", f);
	json_u64_or_null(f, ext, p->tx_packets);
	fprintf(f, ",\n        \"has_session\": %s,\n        \"handshake_attempts\": ",
		!ext ? "null" : p->has_session ? "true" : "false");
	json_u64_or_null(f, ext, p->handshake_attempts);
	fputs(",\n        \"last_receive_age_ms\": ", f);
	json_u64_or_null(f, ext && p->has_last_receive_age, p->last_receive_age_ms);
	fputs(",\n        \"drops\": ", f);
	if (ext)
		json_drops(f, p->drops, p->n_drops);
	else
		fputs("null", f);
	fputs(",\n        \"path_mtu\": ", f);
	if (ext && p->path_mtu_origin[0]) {
		fputs("{\"origin\": ", f);
		json_string(f, p->path_mtu_origin);
		fputs(", \"mtu\": ", f);
		json_u64_or_null(f, p->path_mtu != 0, p->path_mtu);
		fputs(", \"inner_mtu\": ", f);
		json_u64_or_null(f, p->path_mtu != 0, p->path_inner_mtu);
		fputs(", \"probe\": ", f);
		if (p->path_probe[0]) {
			fputs("{\"result\": ", f);
			json_string(f, p->path_probe);
			fputs(", \"age_ms\": ", f);
			json_u64_or_null(f, p->has_path_probe_age, p->path_probe_age_ms);
			fprintf(f, ", \"sent\": %" PRIu64 ", \"answered\": %" PRIu64 "}", p->path_probes_sent,
				p->path_probes_answered);
		} else {
			fputs("null", f);
		}
		fputc('}', f);
	} else {
		fputs("null", f);
	}
	fputs(",\n        \"liveness\": ", f);
	if (ext)
		fprintf(f, "\"%s\"", peer_liveness_name(peer_liveness_of(p, now_ms)));
	else
		fputs("null", f);
	fputs(",\n        \"endpoint_candidates\": ", f);
	if (ext) {
		fputc('[', f);
		for (size_t i = 0; i < p->n_candidates; i++) {
			fputs(i ? ", " : "", f);
			json_string_or_null(f, p->candidates[i]);
		}
		fputs("], \"endpoint_candidate_index\": ", f);
		json_u64_or_null(f, p->candidate_index >= 0, (uint64_t)(p->candidate_index >= 0 ? p->candidate_index : 0));
	} else {
		fputs("null, \"endpoint_candidate_index\": null", f);
	}
	fputs(",\n        \"names\": ", f);
	if (ext) {
		fputc('[', f);
		for (size_t i = 0; i < p->n_names; i++) {
			const struct uapi_name *nm = &p->names[i];
			fputs(i ? ", {\"name\": " : "{\"name\": ", f);
			json_string_or_null(f, nm->host_port);
			fputs(", \"addresses\": [", f);
			for (size_t k = 0; k < nm->n_addrs; k++) {
				fputs(k ? ", " : "", f);
				json_string_or_null(f, nm->addrs[k]);
			}
			fputs("], \"ttl_s\": ", f);
			json_u64_or_null(f, nm->ttl_s != 0, nm->ttl_s);
			fputs(", \"next_lookup_s\": ", f);
			json_u64_or_null(f, nm->has_next, nm->next_s);
			fputs(", \"status\": ", f);
			json_string_or_null(f, nm->status);
			fputc('}', f);
		}
		fputc(']', f);
	} else {
		fputs("null", f);
	}
	fputs(",\n        \"endpoint_changes\": ", f);
	json_u64_or_null(f, ext, p->endpoint_changes);
	fputs(",\n        \"nat\": ", f);
	if (ext) {
		fprintf(f, "{\"rebinds\": %" PRIu64 ", \"lost_after_idle_ms\": ", p->nat_rebinds);
		json_u64_or_null(f, p->nat_rebound_min_idle_ms != 0, p->nat_rebound_min_idle_ms);
		fputs(", \"kept_after_idle_ms\": ", f);
		json_u64_or_null(f, p->nat_kept_max_idle_ms != 0, p->nat_kept_max_idle_ms);
		fputs(", \"suggested_keepalive\": ", f);
		json_u64_or_null(f, p->suggested_keepalive != 0, p->suggested_keepalive);
		fputc('}', f);
	} else {
		fputs("null", f);
	}
	fputs(",\n        \"history\": ", f);
	if (ext)
		json_history(f, p);
	else
		fputs("null", f);
	fputs("\n      }", f);
}

static void json_device(FILE *f, const struct uapi_device *dev, uint64_t now_ms)
{
	char b64[KEY_B64_LEN + 1];

	fputs("\n    {\n      \"name\": ", f);
	json_string(f, dev->name);
	fputs(",\n      \"public_key\": ", f);
	if (dev->has_private_key) {
		key_to_base64(b64, dev->public_key);
		fprintf(f, "\"%s\"", b64);
	} else {
		fputs("null", f);
	}
	fprintf(f, ",\n      \"listen_port\": %u,\n      \"fwmark\": %" PRIu32 ",\n      \"extended\": %s", dev->listen_port,
		dev->fwmark, dev->extended ? "true" : "false");
	fprintf(f, ",\n      \"under_load\": %s,\n      \"drops\": ",
		!dev->extended ? "null" : dev->under_load ? "true" : "false");
	if (dev->extended)
		json_drops(f, dev->drops, dev->n_drops);
	else
		fputs("null", f);
	fputs(",\n      \"peers\": [", f);
	for (size_t i = 0; i < dev->n_peers; i++) {
		json_peer(f, dev, &dev->peers[i], now_ms);
		if (i + 1 < dev->n_peers)
			fputc(',', f);
	}
	fputs(dev->n_peers ? "\n      ]\n    }" : "]\n    }", f);
}

void show_json(FILE *f, const struct uapi_device *devs, size_t n, uint64_t now_ms)
{
	fputs("{\n  \"version\": 1,\n  \"interfaces\": [", f);
	for (size_t i = 0; i < n; i++) {
		json_device(f, &devs[i], now_ms);
		if (i + 1 < n)
			fputc(',', f);
	}
	fputs(n ? "\n  ]\n}\n" : "]\n}\n", f);
}

/* ---- the command ------------------------------------------------------- */

uint64_t wall_clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int cmd_show(int argc, char **argv)
{
	struct uapi_device *devs = NULL;
	const char *ifname = NULL;
	size_t n_devs = 0;
	bool json = false;
	int failed;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(show_usage, stdout);
			return 0;
		} else if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (argv[i][0] == '-' || ifname) {
			fprintf(stderr, "roam show: unexpected argument '%s' (usage: roam show [IFNAME] [--json])\n",
				argv[i]);
			return 2;
		} else {
			ifname = argv[i];
		}
	}
	failed = uapi_get_devices("show", ifname, &devs, &n_devs);
	/* One interface asked for by name and unreadable: only the error. */
	if (failed >= 0 && !(ifname && failed)) {
		if (json) {
			show_json(stdout, devs, n_devs, wall_clock_ms());
		} else {
			for (size_t i = 0; i < n_devs; i++) {
				if (i)
					fputc('\n', stdout);
				show_text(stdout, &devs[i], wall_clock_ms());
			}
		}
	}
	uapi_devices_free(devs, n_devs);
	if (fflush(stdout) != 0) {
		fprintf(stderr, "roam show: cannot write to standard output: %s\n", strerror(errno));
		return 1;
	}
	return failed ? 1 : 0;
}
