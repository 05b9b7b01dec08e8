/* The parser of a `get` reply (docs/protocol.md §7.2-§7.3; roam_* schema
 * in src/common/uapi_contract.h), fed a line at a time: uapi_get_device
 * parses a reply while it arrives instead of holding all of it (a server
 * of 100,000 peers answers get=2 with some 40 MB). */
#include "uapi_client.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "crypto.h"
#include "decimal.h"

/* Names the daemon gives (drop reasons, history kinds) go into JSON keys
 * and metric labels: keep them to one harmless alphabet. */
static bool copy_name(char out[UAPI_NAME_MAX], const char *s, size_t len)
{
	if (len == 0 || len >= UAPI_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && s[i] != '_')
			return false;
	memcpy(out, s, len);
	out[len] = '\0';
	return true;
}

/* Endpoints are numeric ("a.b.c.d:port", "[v6%zone]:port"); anything else
 * is a daemon bug, and shown text should never be surprising. */
static bool copy_endpoint(char out[UAPI_ENDPOINT_MAX], const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len >= UAPI_ENDPOINT_MAX || !strchr(s, ':'))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr(".:[]%_-", s[i]))
			return false;
	memcpy(out, s, len + 1);
	return true;
}

static bool parse_drop(struct uapi_drop **v, size_t *n, const char *value)
{
	const char *colon = strrchr(value, ':');
	struct uapi_drop d;

	if (!colon || !copy_name(d.reason, value, (size_t)(colon - value)) ||
	    !parse_decimal(colon + 1, UINT64_MAX, &d.count))
		return false;
	*ARRAY_PUSH(*v, *n) = d;
	return true;
}

/* "KIND WALL AGE_MS OLD NEW IDLE_MS", WALL being sec.nsec, OLD/NEW "-" for
 * none. */
static bool parse_history(struct uapi_peer *peer, const char *value)
{
	char buf[4 * UAPI_ENDPOINT_MAX], *field[7], *save = NULL, *dot;
	struct uapi_history h = { 0 };
	uint64_t nsec;
	size_t n = 0;

	if (strlen(value) >= sizeof(buf))
		return false;
	strcpy(buf, value);
	for (char *t = strtok_r(buf, " ", &save); t && n < 7; t = strtok_r(NULL, " ", &save))
		field[n++] = t;
	if (n != 6)
		return false;
	dot = strchr(field[1], '.');
	if (!dot || strlen(dot + 1) != 9)
		return false;
	*dot = '\0';
	if (!copy_name(h.kind, field[0], strlen(field[0])) || !parse_decimal(field[1], UINT64_MAX, &h.wall_sec) ||
	    !parse_decimal(dot + 1, 999999999, &nsec) || !parse_decimal(field[2], UINT64_MAX, &h.age_ms) ||
	    !parse_decimal(field[5], UINT64_MAX, &h.idle_ms))
		return false;
	h.wall_nsec = (uint32_t)nsec;
	if ((strcmp(field[3], "-") && !copy_endpoint(h.old_endpoint, field[3])) ||
	    (strcmp(field[4], "-") && !copy_endpoint(h.new_endpoint, field[4])))
		return false;
	*ARRAY_PUSH(peer->history, peer->n_history) = h;
	return true;
}

/* HOST:PORT TTL NEXT STATUS [EP...] (uapi_contract.h). */
static bool parse_name_line(struct uapi_peer *peer, const char *value)
{
	char buf[UAPI_HOST_PORT_MAX + 64 + UAPI_NAME_ADDRS_MAX * UAPI_ENDPOINT_MAX], *field[4 + UAPI_NAME_ADDRS_MAX + 1];
	char *save = NULL;
	struct uapi_name nm = { 0 };
	uint64_t v;
	size_t n = 0;

	if (strlen(value) >= sizeof(buf) || peer->n_names >= UAPI_MAX_ENDPOINT_CANDIDATES)
		return false;
	strcpy(buf, value);
	for (char *t = strtok_r(buf, " ", &save); t && n < sizeof(field) / sizeof(field[0]);
	     t = strtok_r(NULL, " ", &save))
		field[n++] = t;
	if (n < 4 || n > 4 + UAPI_NAME_ADDRS_MAX || strlen(field[0]) >= sizeof(nm.host_port) ||
	    strlen(field[3]) >= sizeof(nm.status) || !parse_decimal(field[1], UINT32_MAX, &v))
		return false;
	strcpy(nm.host_port, field[0]);
	nm.ttl_s = (unsigned)v;
	if (strcmp(field[2], "-")) {
		if (!parse_decimal(field[2], UINT32_MAX, &v))
			return false;
		nm.has_next = true;
		nm.next_s = (unsigned long)v;
	}
	strcpy(nm.status, field[3]);
	for (size_t i = 4; i < n; i++)
		if (!copy_endpoint(nm.addrs[nm.n_addrs++], field[i]))
			return false;
	*ARRAY_PUSH(peer->names, peer->n_names) = nm;
	return true;
}

static bool parse_bool01(const char *s, bool *out)
{
	if (strcmp(s, "0") && strcmp(s, "1"))
		return false;
	*out = s[0] == '1';
	return true;
}

/* A device-level line; false if malformed. Unknown keys are accepted. */
static bool device_line(struct uapi_device *dev, const char *key, const char *value)
{
	uint8_t priv[KEY_LEN];
	uint64_t v;
	bool ok;

	if (!strcmp(key, "private_key")) {
		ok = key_from_hex(priv, value, strlen(value)) && x25519_public_from_private(dev->public_key, priv);
		crypto_wipe(priv, sizeof(priv));
		dev->has_private_key = ok;
		return ok;
	}
	if (!strcmp(key, "listen_port")) {
		if (!parse_decimal(value, 65535, &v))
			return false;
		dev->listen_port = (uint16_t)v;
	} else if (!strcmp(key, "fwmark")) {
		if (!parse_decimal(value, UINT32_MAX, &v))
			return false;
		dev->fwmark = (uint32_t)v;
	} else if (!strcmp(key, ROAM_KEY_VERSION)) {
		if (!parse_decimal(value, UINT32_MAX, &v))
			return false;
		dev->extended = true;
		dev->roam_version = (unsigned)v;
	} else if (!strcmp(key, ROAM_KEY_UNDER_LOAD)) {
		return parse_bool01(value, &dev->under_load);
	} else if (!strcmp(key, ROAM_KEY_DROP)) {
		return parse_drop(&dev->drops, &dev->n_drops, value);
	}
	return true;
}

/* A number-valued peer key: where it goes and its bound. */
struct peer_number {
	const char *key;
	size_t key_len;		/* compared first: most keys differ in it */
	size_t offset;
	uint64_t max;
	size_t width;		/* of the field: 2, 4 or 8 bytes */
	size_t flag;		/* offset of a bool to set, or 0 */
};

#define NUM(k, field, max) { k, sizeof(k) - 1, offsetof(struct uapi_peer, field), max, sizeof(((struct uapi_peer *)0)->field), 0 }
#define NUM_FLAG(k, field, flag) \
	{ k, sizeof(k) - 1, offsetof(struct uapi_peer, field), UINT64_MAX, sizeof(uint64_t), offsetof(struct uapi_peer, flag) }

static const struct peer_number peer_numbers[] = {
	NUM("last_handshake_time_sec", last_handshake_sec, UINT64_MAX),
	NUM("last_handshake_time_nsec", last_handshake_nsec, 999999999),
	NUM("rx_bytes", rx_bytes, UINT64_MAX),
	NUM("tx_bytes", tx_bytes, UINT64_MAX),
	NUM("persistent_keepalive_interval", persistent_keepalive, 65535),
	NUM(ROAM_KEY_RX_PACKETS, rx_packets, UINT64_MAX),
	NUM(ROAM_KEY_TX_PACKETS, tx_packets, UINT64_MAX),
	NUM(ROAM_KEY_HANDSHAKE_ATTEMPTS, handshake_attempts, UINT64_MAX),
	NUM(ROAM_KEY_RESPONSES_UNCONFIRMED, responses_unconfirmed, UINT64_MAX),
	NUM_FLAG(ROAM_KEY_LAST_RECEIVE_AGE_MS, last_receive_age_ms, has_last_receive_age),
	NUM_FLAG(ROAM_KEY_LAST_HANDSHAKE_AGE_MS, last_handshake_age_ms, has_last_handshake_age),
	NUM_FLAG(ROAM_KEY_UNANSWERED_MS, unanswered_ms, has_unanswered),
	NUM(ROAM_KEY_ENDPOINT_CHANGES, endpoint_changes, UINT64_MAX),
	NUM(ROAM_KEY_NAT_REBINDS, nat_rebinds, UINT64_MAX),
	NUM(ROAM_KEY_NAT_REBOUND_MIN_IDLE_MS, nat_rebound_min_idle_ms, UINT64_MAX),
	NUM(ROAM_KEY_NAT_KEPT_MAX_IDLE_MS, nat_kept_max_idle_ms, UINT64_MAX),
	NUM(ROAM_KEY_SUGGESTED_KEEPALIVE, suggested_keepalive, UINT32_MAX),
	NUM(ROAM_KEY_PATH_MTU, path_mtu, 65535),
	NUM(ROAM_KEY_PATH_INNER_MTU, path_inner_mtu, 65535),
	NUM_FLAG(ROAM_KEY_PATH_PROBE_AGE_MS, path_probe_age_ms, has_path_probe_age),
	NUM(ROAM_KEY_PATH_PROBES_SENT, path_probes_sent, UINT64_MAX),
	NUM(ROAM_KEY_PATH_PROBES_ANSWERED, path_probes_answered, UINT64_MAX),
};

static bool peer_line(struct uapi_peer *peer, const char *key, size_t key_len, const char *value)
{
	uint8_t psk[KEY_LEN], zero[KEY_LEN] = { 0 };
	uint64_t v;
	uint32_t v32;
	uint16_t v16;

	for (size_t i = 0; i < sizeof(peer_numbers) / sizeof(peer_numbers[0]); i++) {
		const struct peer_number *n = &peer_numbers[i];
		if (key_len != n->key_len || memcmp(key, n->key, key_len))
			continue;
		if (!parse_decimal(value, n->max, &v))
			return false;
		v16 = (uint16_t)v;
		v32 = (uint32_t)v;
		memcpy((char *)peer + n->offset, n->width == 2 ? (void *)&v16 : n->width == 4 ? (void *)&v32 : (void *)&v,
		       n->width);
		if (n->flag)
			*(bool *)((char *)peer + n->flag) = true;
		return true;
	}
	if (!strcmp(key, "preshared_key")) {
		if (!key_from_hex(psk, value, strlen(value)))
			return false;
		peer->has_preshared_key = memcmp(psk, zero, KEY_LEN) != 0;
		crypto_wipe(psk, sizeof(psk));
	} else if (!strcmp(key, "endpoint")) {
		return copy_endpoint(peer->endpoint, value);
	} else if (!strcmp(key, ROAM_KEY_LAST_DISALLOWED_SRC)) {
		peer->has_last_disallowed_src = ip_prefix_parse(&peer->last_disallowed_src, value, true);
		return peer->has_last_disallowed_src;
	} else if (!strcmp(key, "allowed_ip")) {
		struct ip_prefix prefix;
		if (!ip_prefix_parse(&prefix, value, false))
			return false;
		*ARRAY_PUSH(peer->allowed_ips, peer->n_allowed_ips) = prefix;
	} else if (!strcmp(key, "protocol_version")) {
		return !strcmp(value, "1");
	} else if (!strcmp(key, ROAM_KEY_HAS_SESSION)) {
		return parse_bool01(value, &peer->has_session);
	} else if (!strcmp(key, ROAM_KEY_DROP)) {
		return parse_drop(&peer->drops, &peer->n_drops, value);
	} else if (!strcmp(key, ROAM_KEY_HISTORY)) {
		return parse_history(peer, value);
	} else if (!strcmp(key, ROAM_KEY_NAME)) {
		return parse_name_line(peer, value);
	} else if (!strcmp(key, ROAM_KEY_PATH_MTU_ORIGIN)) {
		if (strlen(value) >= sizeof(peer->path_mtu_origin))
			return false;
		strcpy(peer->path_mtu_origin, value);
	} else if (!strcmp(key, ROAM_KEY_ENDPOINT_CANDIDATE)) {
		char (*slot)[UAPI_ENDPOINT_MAX];
		if (peer->n_candidates >= UAPI_MAX_ENDPOINT_CANDIDATES)
			return false;
		slot = ARRAY_PUSH(peer->candidates, peer->n_candidates);
		return copy_endpoint(*slot, value);
	} else if (!strcmp(key, ROAM_KEY_ENDPOINT_CANDIDATE_INDEX)) {
		if (!parse_decimal(value, UAPI_MAX_ENDPOINT_CANDIDATES - 1, &v))
			return false;
		peer->candidate_index = (int)v;
	} else if (!strcmp(key, ROAM_KEY_PATH_PROBE)) {
		if (strlen(value) >= sizeof(peer->path_probe))
			return false;
		strcpy(peer->path_probe, value);
	}
	return true;
}

static int reply_error(struct uapi_get_parser *gp, const char *what)
{
	snprintf(gp->err, gp->err_len, "malformed reply from the daemon, line %u: %s", gp->lineno, what);
	return gp->ret = -EPROTO;
}

/* Whether the key of len bytes is the literal word. */
#define KEY_IS(key, len, word) ((len) == sizeof(word) - 1 && !memcmp((key), (word), (len)))

void uapi_get_parser_init(struct uapi_get_parser *gp, struct uapi_device *dev, char *err, size_t err_len)
{
	*gp = (struct uapi_get_parser){ .dev = dev, .err = err, .err_len = err_len };
	memset(dev, 0, sizeof(*dev));
}

bool uapi_get_parser_done(const struct uapi_get_parser *gp)
{
	return gp->ended || gp->ret;
}

bool uapi_get_parser_line(struct uapi_get_parser *gp, char *line)
{
	struct uapi_device *dev = gp->dev;
	char *eq;
	size_t key_len;
	uint64_t v;

	if (uapi_get_parser_done(gp))
		return false;
	gp->lineno++;
	if (!*line) {
		gp->ended = true;	/* the blank line that ends a reply */
		return false;
	}
	if (gp->have_errno)
		return reply_error(gp, "a line after errno"), false;
	eq = strchr(line, '=');
	if (!eq)
		return reply_error(gp, "no '='"), false;
	*eq = '\0';
	key_len = (size_t)(eq - line);
	if (KEY_IS(line, key_len, "errno")) {
		bool negative = eq[1] == '-';
		if (!parse_decimal(eq + 1 + negative, INT32_MAX, &v))
			return reply_error(gp, "errno is not a number"), false;
		gp->daemon_errno = (int64_t)v;
		gp->have_errno = true;
	} else if (KEY_IS(line, key_len, "public_key")) {
		gp->peer = ARRAY_PUSH(dev->peers, dev->n_peers);
		gp->peer->candidate_index = -1;
		if (!key_from_hex(gp->peer->public_key, eq + 1, strlen(eq + 1)))
			return reply_error(gp, "public_key is not 64 hex digits"), false;
	} else if (!gp->peer) {
		if (!device_line(dev, line, eq + 1))
			return reply_error(gp, line), false;
	} else if (KEY_IS(line, key_len, "private_key") || KEY_IS(line, key_len, "listen_port") ||
		   KEY_IS(line, key_len, "fwmark") || KEY_IS(line, key_len, ROAM_KEY_VERSION)) {
		/* wg accepts device keys only before the first peer. */
		return reply_error(gp, "a device key after the first peer"), false;
	} else if (!peer_line(gp->peer, line, key_len, eq + 1)) {
		return reply_error(gp, line), false;
	}
	return true;
}

size_t uapi_get_parser_feed(struct uapi_get_parser *gp, char *data, size_t len)
{
	size_t used = 0;
	char *nl;

	if (memchr(data, '\0', len)) {
		reply_error(gp, "a NUL byte");
		return len;
	}
	while (used < len && !uapi_get_parser_done(gp) && (nl = memchr(data + used, '\n', len - used)) != NULL) {
		*nl = '\0';
		uapi_get_parser_line(gp, data + used);
		used = (size_t)(nl + 1 - data);
	}
	return used;
}

int uapi_get_parser_finish(struct uapi_get_parser *gp, char *rest)
{
	/* A last line the reply's end cut off is still a line. */
	if (*rest)
		uapi_get_parser_line(gp, rest);
	if (gp->ret) {
		/* the reason is in err already */
	} else if (!gp->have_errno) {
		reply_error(gp, "no errno line (reply cut short?)");
	} else if (gp->daemon_errno) {
		snprintf(gp->err, gp->err_len, "the daemon answered: %s", strerror((int)gp->daemon_errno));
		gp->ret = -(int)gp->daemon_errno;
	}
	if (gp->ret)
		uapi_device_free(gp->dev);
	return gp->ret;
}

int uapi_parse_get(const char *text, size_t len, struct uapi_device *dev, char *err, size_t err_len)
{
	struct uapi_get_parser gp;
	size_t used;
	char *buf;
	int ret;

	uapi_get_parser_init(&gp, dev, err, err_len);
	if (memchr(text, '\0', len))
		return reply_error(&gp, "a NUL byte");
	buf = xrealloc(NULL, len + 1);
	memcpy(buf, text, len);
	buf[len] = '\0';
	used = uapi_get_parser_feed(&gp, buf, len);
	ret = uapi_get_parser_finish(&gp, uapi_get_parser_done(&gp) ? buf + len : buf + used);
	/* The reply held the private key in hex. */
	free_wiped(buf, len + 1);
	return ret;
}

void uapi_device_free(struct uapi_device *dev)
{
	for (size_t i = 0; i < dev->n_peers; i++) {
		free(dev->peers[i].allowed_ips);
		free(dev->peers[i].drops);
		free(dev->peers[i].history);
		free(dev->peers[i].candidates);
		free(dev->peers[i].names);
	}
	free(dev->peers);
	free(dev->drops);
	memset(dev, 0, sizeof(*dev));
}

