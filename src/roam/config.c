/* The wg-quick configuration parser (docs/protocol.md §8.1, §8.2).
 *
 * Line handling follows wg and wg-quick: everything from '#' on is a comment,
 * then every whitespace character is removed, so "Allowed IPs = a, b" reads
 * as "AllowedIPs=a,b". The one exception is the Pre/Post Up/Down hooks, which
 * wg-quick hands to bash and whose inner spaces therefore matter: they keep
 * their value trimmed at both ends only. Section and key names are
 * case-insensitive. */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"
#include "decimal.h"

enum {
	CONFIG_MAX_FILE = 16 << 20,	/* larger than any real config, small enough to read at once */
	QUOTE_MAX = 60,			/* longest value echoed back in a message */
};

/* ---- the parser -------------------------------------------------------- */

enum section { SECTION_NONE, SECTION_INTERFACE, SECTION_PEER, SECTION_UNKNOWN };

struct parser {
	struct config *cfg;
	struct diag_list *diags;
	const char *file;
	unsigned line;
	enum section section;
	/* A key that was there but malformed already has its error; these
	 * keep it from also being reported as missing. */
	bool private_key_seen;
	bool peer_key_seen;
	/* The value being parsed as the file has it, for messages: trimmed
	 * at both ends, inner whitespace kept ('hello world', where the
	 * parser reads "helloworld"). In a list, the entry being parsed. */
	const char *written;
};

struct key_def;
typedef void key_parse_fn(struct parser *p, const struct key_def *key, char *value);

struct key_def {
	const char *name;	/* canonical spelling, used in messages */
	enum section section;
	key_parse_fn *parse;
	bool raw;		/* keeps inner whitespace (bash hooks) */
	enum config_hook hook;
};

static void parse_error(struct parser *p, const char *check, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void parse_error(struct parser *p, const char *check, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_vadd(p->diags, p->file, p->line, DIAG_ERROR, check, fmt, ap);
	va_end(ap);
}

/* Trims whitespace at both ends in place; returns the start. */
static char *trim(char *s)
{
	char *end = s + strlen(s);

	while (isspace((unsigned char)*s))
		s++;
	while (end > s && isspace((unsigned char)end[-1]))
		end--;
	*end = '\0';
	return s;
}

/* A value made safe to print: printable ASCII only, cut at QUOTE_MAX. Never
 * used for keys, which may be secret even when mistyped. */
static const char *quote(const char *value, char buf[QUOTE_MAX + 4])
{
	size_t i;

	for (i = 0; value[i] && i < QUOTE_MAX; i++)
		buf[i] = isprint((unsigned char)value[i]) ? value[i] : '?';
	strcpy(buf + i, value[i] ? "..." : "");
	return buf;
}

/* The value being parsed, quoted as written (parser.written). */
static const char *quote_written(const struct parser *p, char buf[QUOTE_MAX + 4])
{
	return quote(p->written ? p->written : "", buf);
}

static struct config_peer *current_peer(struct parser *p)
{
	return &p->cfg->peers[p->cfg->n_peers - 1];
}

/* Single-valued keys: wg and wg-quick let a repeated key replace the
 * earlier one silently; say so, since it is usually a paste mistake. */
static void note_set(struct parser *p, unsigned *line, const char *name)
{
	if (*line)
		diag_add(p->diags, p->file, p->line, DIAG_WARNING, "duplicate-key",
			 "%s is already set on line %u; this one replaces it", name, *line);
	*line = p->line;
}

static bool parse_key_value(struct parser *p, const struct key_def *key, const char *value,
			    uint8_t out[KEY_LEN])
{
	size_t len = strlen(value);

	/* Keys are never quoted, even mistyped (a private key pasted as a
	 * PublicKey would be shown); their spaces are counted instead. */
	size_t spaces = p->written ? strlen(p->written) - len : 0;
	char spaced[48] = "";

	if (key_from_base64(out, value))
		return true;
	if (spaces)
		snprintf(spaced, sizeof(spaced), " and %zu space%s", spaces, spaces == 1 ? "" : "s");
	if (len != KEY_B64_LEN)
		parse_error(p, "bad-value", "%s is not a key: a key is 44 base64 characters ending in '=', this has %zu%s",
			    key->name, len, spaced);
	else
		parse_error(p, "bad-value",
			    "%s is not a key: it is 44 characters long%s but not valid base64 of 32 bytes", key->name,
			    spaces ? " besides its spaces" : "");
	return false;
}

static void parse_private_key(struct parser *p, const struct key_def *key, char *value)
{
	struct config_interface *in = &p->cfg->iface;
	uint8_t k[KEY_LEN];

	p->private_key_seen = true;
	if (parse_key_value(p, key, value, k)) {
		note_set(p, &in->private_key_line, key->name);
		memcpy(in->private_key, k, KEY_LEN);
	}
	crypto_wipe(k, sizeof(k));
}

static void parse_public_key(struct parser *p, const struct key_def *key, char *value)
{
	struct config_peer *peer = current_peer(p);
	uint8_t k[KEY_LEN];

	p->peer_key_seen = true;
	if (parse_key_value(p, key, value, k)) {
		note_set(p, &peer->public_key_line, key->name);
		memcpy(peer->public_key, k, KEY_LEN);
	}
}

static void parse_preshared_key(struct parser *p, const struct key_def *key, char *value)
{
	struct config_peer *peer = current_peer(p);
	uint8_t k[KEY_LEN];

	if (parse_key_value(p, key, value, k)) {
		note_set(p, &peer->preshared_key_line, key->name);
		memcpy(peer->preshared_key, k, KEY_LEN);
	}
	crypto_wipe(k, sizeof(k));
}

static void parse_listen_port(struct parser *p, const struct key_def *key, char *value)
{
	struct config_interface *in = &p->cfg->iface;
	struct servent *se;
	uint64_t v;
	char q[QUOTE_MAX + 4];

	/* wg resolves the port with getaddrinfo, so a service name from
	 * /etc/services works too. */
	if (parse_decimal(value, 65535, &v)) {
		in->listen_port = (uint16_t)v;
	} else if (*value && (se = getservbyname(value, "udp")) != NULL) {
		in->listen_port = ntohs((uint16_t)se->s_port);
	} else {
		parse_error(p, "bad-value", "%s '%s' is not a port number (0-65535) or a UDP service name",
			    key->name, quote_written(p, q));
		return;
	}
	note_set(p, &in->listen_port_line, key->name);
}

static void parse_fwmark(struct parser *p, const struct key_def *key, char *value)
{
	struct config_interface *in = &p->cfg->iface;
	uint64_t v = 0;
	bool ok = true;
	char q[QUOTE_MAX + 4];
	const char *s;

	if (!strcasecmp(value, "off")) {
		v = 0;
	} else if (value[0] == '0' && (value[1] == 'x' || value[1] == 'X') && value[2]) {
		for (s = value + 2; *s && ok; s++) {
			ok = isxdigit((unsigned char)*s) && v <= UINT32_MAX / 16;
			v = v * 16 + (uint64_t)(isdigit((unsigned char)*s) ? *s - '0' : (tolower((unsigned char)*s) - 'a' + 10));
		}
		ok = ok && v <= UINT32_MAX;
	} else {
		ok = parse_decimal(value, UINT32_MAX, &v);
	}
	if (!ok) {
		parse_error(p, "bad-value", "%s '%s' is not off, a decimal number or 0x hex below 2^32", key->name,
			    quote_written(p, q));
		return;
	}
	note_set(p, &in->fwmark_line, key->name);
	in->fwmark = (uint32_t)v;
}

/* Host names and DNS search domains: dot-separated labels of letters,
 * digits, '-' and '_', none empty, at most 253 characters in all. */
static bool valid_hostname(const char *s)
{
	size_t len = strlen(s), label = 0;
	bool only_digits = true;

	if (len == 0 || len > 253)
		return false;
	for (; *s; s++) {
		if (*s == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_')
			return false;
		if (!isdigit((unsigned char)*s))
			only_digits = false;
		if (++label > 63)
			return false;
	}
	/* "198.18.0.300" is a broken address, not a name; a trailing dot
	 * (a fully qualified name) is fine. */
	return !only_digits;
}

/* Calls fn for each comma-separated entry of value; reports empty entries.
 * An empty value is an empty list, as in wg (it clears AllowedIPs). */
static void for_each_entry(struct parser *p, const struct key_def *key, char *value,
			   void (*fn)(struct parser *p, const struct key_def *key, const char *entry))
{
	char *entry, *rest = value, *written_rest, *written;

	if (!*value)
		return;
	/* The entries as written, in step: removing whitespace removes no
	 * comma, so the two lists have the same number of entries. */
	written_rest = xstrdup(p->written ? p->written : value);
	written = written_rest;
	while ((entry = strsep(&rest, ",")) != NULL) {
		char *as_written = strsep(&written_rest, ",");
		p->written = trim(as_written ? as_written : entry);
		if (!*entry) {
			parse_error(p, "bad-value", "%s has an empty entry (two commas, or one at an end)", key->name);
			continue;
		}
		fn(p, key, entry);
	}
	free(written);
	p->written = NULL;
}

static void add_address(struct parser *p, const struct key_def *key, const char *entry)
{
	struct config_interface *in = &p->cfg->iface;
	struct ip_prefix prefix;
	struct config_prefix *a;
	char q[QUOTE_MAX + 4];

	if (!ip_prefix_parse(&prefix, entry, true)) {
		parse_error(p, "bad-value", "%s '%s' is not an IP address with an optional /prefix length", key->name,
			    quote_written(p, q));
		return;
	}
	a = ARRAY_PUSH(in->addresses, in->n_addresses);
	a->prefix = prefix;
	a->line = p->line;
}

static void parse_address(struct parser *p, const struct key_def *key, char *value)
{
	for_each_entry(p, key, value, add_address);
}

static void add_dns(struct parser *p, const struct key_def *key, const char *entry)
{
	struct config_interface *in = &p->cfg->iface;
	struct ip_prefix addr;
	struct config_dns *d;
	char q[QUOTE_MAX + 4];

	/* wg-quick: IP addresses are nameservers, anything else a search domain. */
	if (ip_prefix_parse(&addr, entry, true) && addr.cidr == (addr.family == AF_INET ? 32 : 128)) {
		d = ARRAY_PUSH(in->dns, in->n_dns);
		d->is_addr = true;
		d->addr = addr;
	} else if (!strchr(entry, '/') && !strchr(entry, ':') && valid_hostname(entry)) {
		d = ARRAY_PUSH(in->dns, in->n_dns);
		d->domain = xstrdup(entry);
	} else {
		parse_error(p, "bad-value", "%s '%s' is neither an IP address nor a search domain", key->name,
			    quote_written(p, q));
		return;
	}
	d->line = p->line;
}

static void parse_dns(struct parser *p, const struct key_def *key, char *value)
{
	for_each_entry(p, key, value, add_dns);
}

static void parse_mtu(struct parser *p, const struct key_def *key, char *value)
{
	struct config_interface *in = &p->cfg->iface;
	uint64_t v;
	char q[QUOTE_MAX + 4];

	/* 68 is the smallest MTU IPv4 allows (RFC 791); whether a value is wise
	 * is for `roam audit` to say. */
	if (!parse_decimal(value, 65535, &v) || v < 68) {
		parse_error(p, "bad-value", "%s '%s' is not a number between 68 and 65535", key->name, quote_written(p, q));
		return;
	}
	note_set(p, &in->mtu_line, key->name);
	in->mtu = (uint32_t)v;
}

static void parse_table(struct parser *p, const struct key_def *key, char *value)
{
	struct config_interface *in = &p->cfg->iface;
	char q[QUOTE_MAX + 4];
	const char *s;

	/* auto, off, a number, or a name from /etc/iproute2/rt_tables. */
	for (s = value; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
			break;
	if (!*value || *s) {
		parse_error(p, "bad-value", "%s '%s' is not auto, off, a table number or a table name", key->name,
			    quote_written(p, q));
		return;
	}
	note_set(p, &in->table_line, key->name);
	free(in->table);
	in->table = xstrdup(value);
	free(in->table_written);
	in->table_written = xstrdup(p->written ? p->written : value);
}

static void parse_hook(struct parser *p, const struct key_def *key, char *value)
{
	struct config_interface *in = &p->cfg->iface;
	struct config_string *h = ARRAY_PUSH(in->hooks[key->hook], in->n_hooks[key->hook]);

	h->s = xstrdup(value);
	h->line = p->line;
}

static void parse_save_config(struct parser *p, const struct key_def *key, char *value)
{
	struct config_interface *in = &p->cfg->iface;
	char q[QUOTE_MAX + 4];

	if (strcasecmp(value, "true") && strcasecmp(value, "false")) {
		parse_error(p, "bad-value", "%s '%s' is not true or false", key->name, quote_written(p, q));
		return;
	}
	note_set(p, &in->save_config_line, key->name);
	in->save_config = !strcasecmp(value, "true");
}

static void add_allowed_ip(struct parser *p, const struct key_def *key, const char *entry)
{
	struct config_peer *peer = current_peer(p);
	struct ip_prefix prefix, masked;
	struct config_prefix *a;
	char q[QUOTE_MAX + 4], b1[IP_PREFIX_STRLEN], b2[IP_PREFIX_STRLEN];

	if (!ip_prefix_parse(&prefix, entry, true)) {
		parse_error(p, "bad-value", "%s '%s' is not an IP address with an optional /prefix length", key->name,
			    quote_written(p, q));
		return;
	}
	if (ip_prefix_has_host_bits(&prefix)) {
		masked = prefix;
		ip_prefix_mask(&masked);
		diag_add(p->diags, p->file, p->line, DIAG_WARNING, "host-bits",
			 "%s %s has host bits set; WireGuard stores it as %s", key->name, ip_prefix_str(&prefix, b1),
			 ip_prefix_str(&masked, b2));
	}
	a = ARRAY_PUSH(peer->allowed_ips, peer->n_allowed_ips);
	a->prefix = prefix;
	a->line = p->line;
}

static void parse_allowed_ips(struct parser *p, const struct key_def *key, char *value)
{
	for_each_entry(p, key, value, add_allowed_ip);
}

static bool parse_port(const char *s, uint16_t *port)
{
	uint64_t v;

	if (!parse_decimal(s, 65535, &v) || v == 0)
		return false;
	*port = (uint16_t)v;
	return true;
}

/* host:port or [v6]:port into e (host not yet copied); false after
 * reporting what is wrong. */
static bool parse_endpoint_value(struct parser *p, const char *name, char *value, struct config_endpoint *e,
				 char **host_out)
{
	char q[QUOTE_MAX + 4];
	char *host, *port, *close;

	memset(e, 0, sizeof(*e));
	quote_written(p, q);
	/* wg reads "vpn example.org:51820" as "vpnexample.org:51820": legal,
	 * but almost surely not the host meant (said below, once the rest of
	 * the value is known to be good: else the error says enough). */
	char *joined = p->written && strpbrk(p->written, " \t") ? xstrdup(value) : NULL;
	if (value[0] == '[') {
		/* [v6]:port; the brackets are what keeps the port apart. */
		close = strchr(value, ']');
		if (!close || close[1] != ':') {
			parse_error(p, "bad-value", "%s '%s' is not [IPv6 address]:port", name, q);
			free(joined);
			return false;
		}
		*close = '\0';
		host = value + 1;
		port = close + 2;
		if (!ip_prefix_parse(&e->addr, host, true) || e->addr.family != AF_INET6 || e->addr.cidr != 128) {
			parse_error(p, "bad-value", "%s '%s' has no IPv6 address inside its brackets", name, q);
			free(joined);
			return false;
		}
		e->is_literal = true;
	} else {
		port = strrchr(value, ':');
		if (!port) {
			parse_error(p, "bad-value", "%s '%s' has no port: write host:port or [IPv6 address]:port", name,
				    q);
			free(joined);
			return false;
		}
		if (strchr(value, ':') != port) {
			parse_error(p, "bad-value", "%s '%s': an IPv6 endpoint needs brackets, as in [fd00::1]:51820",
				    name, q);
			free(joined);
			return false;
		}
		*port++ = '\0';
		host = value;
		if (ip_prefix_parse(&e->addr, host, true) && !strchr(host, '/')) {
			e->is_literal = true;
		} else if (!valid_hostname(host)) {
			parse_error(p, "bad-value", "%s '%s' is not an IPv4 address or a host name before the port", name,
				    q);
			free(joined);
			return false;
		}
	}
	if (!parse_port(port, &e->port)) {
		parse_error(p, "bad-value", "%s '%s' has no port between 1 and 65535", name, q);
		free(joined);
		return false;
	}
	if (joined)
		diag_add(p->diags, p->file, p->line, DIAG_WARNING, "space-in-value",
			 "%s '%s' has whitespace inside; wg removes it and reads '%s'", name, q, joined);
	free(joined);
	*host_out = host;
	return true;
}

static void parse_endpoint(struct parser *p, const struct key_def *key, char *value)
{
	struct config_endpoint *ep = &current_peer(p)->endpoint;
	struct config_endpoint e;
	char *host;

	if (!parse_endpoint_value(p, key->name, value, &e, &host))
		return;
	note_set(p, &ep->line, key->name);
	free(ep->host);
	e.host = xstrdup(host);
	e.line = ep->line;
	*ep = e;
}

static bool same_endpoint(const struct config_endpoint *a, const struct config_endpoint *b)
{
	return a->port == b->port && !strcasecmp(a->host, b->host);
}

/* "#roam: Endpoint = host:port": one more address of the peer, less
 * preferred than Endpoint and than the directives above it. */
static void parse_extra_endpoint(struct parser *p, const struct key_def *key, char *value)
{
	struct config_peer *peer = current_peer(p);
	struct config_endpoint e;
	char *host;

	if (!parse_endpoint_value(p, CONFIG_DIRECTIVE " Endpoint", value, &e, &host))
		return;
	e.host = host;
	e.line = p->line;
	if (peer->endpoint.line && same_endpoint(&peer->endpoint, &e)) {
		diag_add(p->diags, p->file, p->line, DIAG_WARNING, "duplicate-endpoint",
			 "%s %s:%u repeats the Endpoint of line %u; ignored", CONFIG_DIRECTIVE " Endpoint", host, e.port,
			 peer->endpoint.line);
		return;
	}
	for (size_t i = 0; i < peer->n_extra_endpoints; i++)
		if (same_endpoint(&peer->extra_endpoints[i], &e)) {
			diag_add(p->diags, p->file, p->line, DIAG_WARNING, "duplicate-endpoint",
				 "%s %s:%u repeats line %u; ignored", CONFIG_DIRECTIVE " Endpoint", host, e.port,
				 peer->extra_endpoints[i].line);
			return;
		}
	if (peer->n_extra_endpoints + 1 >= CONFIG_MAX_ENDPOINTS) {
		parse_error(p, "too-many-endpoints", "a peer has at most %d endpoints (Endpoint and %d %s lines)",
			    CONFIG_MAX_ENDPOINTS, CONFIG_MAX_ENDPOINTS - 1, CONFIG_DIRECTIVE " Endpoint");
		return;
	}
	(void)key;
	e.host = xstrdup(host);
	*ARRAY_PUSH(peer->extra_endpoints, peer->n_extra_endpoints) = e;
}

static void parse_keepalive(struct parser *p, const struct key_def *key, char *value)
{
	struct config_peer *peer = current_peer(p);
	uint64_t v = 0;
	char q[QUOTE_MAX + 4];

	if (strcasecmp(value, "off") && !parse_decimal(value, 65535, &v)) {
		parse_error(p, "bad-value", "%s '%s' is not off or a number of seconds (0-65535)", key->name,
			    quote_written(p, q));
		return;
	}
	note_set(p, &peer->persistent_keepalive_line, key->name);
	peer->persistent_keepalive = (uint16_t)v;
}

static const struct key_def keys[] = {
	{ "PrivateKey", SECTION_INTERFACE, parse_private_key, false, 0 },
	{ "ListenPort", SECTION_INTERFACE, parse_listen_port, false, 0 },
	{ "FwMark", SECTION_INTERFACE, parse_fwmark, false, 0 },
	{ "Address", SECTION_INTERFACE, parse_address, false, 0 },
	{ "DNS", SECTION_INTERFACE, parse_dns, false, 0 },
	{ "MTU", SECTION_INTERFACE, parse_mtu, false, 0 },
	{ "Table", SECTION_INTERFACE, parse_table, false, 0 },
	{ "PreUp", SECTION_INTERFACE, parse_hook, true, CONFIG_PRE_UP },
	{ "PostUp", SECTION_INTERFACE, parse_hook, true, CONFIG_POST_UP },
	{ "PreDown", SECTION_INTERFACE, parse_hook, true, CONFIG_PRE_DOWN },
	{ "PostDown", SECTION_INTERFACE, parse_hook, true, CONFIG_POST_DOWN },
	{ "SaveConfig", SECTION_INTERFACE, parse_save_config, false, 0 },
	{ "PublicKey", SECTION_PEER, parse_public_key, false, 0 },
	{ "PresharedKey", SECTION_PEER, parse_preshared_key, false, 0 },
	{ "AllowedIPs", SECTION_PEER, parse_allowed_ips, false, 0 },
	{ "Endpoint", SECTION_PEER, parse_endpoint, false, 0 },
	{ "PersistentKeepalive", SECTION_PEER, parse_keepalive, false, 0 },
};

/* What may follow CONFIG_DIRECTIVE: roam's own keys, hidden from wg-quick
 * and wg setconf in a comment. */
static const struct key_def directives[] = {
	{ "Endpoint", SECTION_PEER, parse_extra_endpoint, false, 0 },
};

static const char *section_name(enum section s)
{
	return s == SECTION_INTERFACE ? "[Interface]" : "[Peer]";
}

/* Case-insensitive edit distance, capped: enough to suggest "AllowedIPs"
 * for "AllowedIP" or "Endpiont". */
static unsigned edit_distance(const char *a, const char *b)
{
	unsigned row[64], i, j, diag, up, la = (unsigned)strlen(a), lb = (unsigned)strlen(b);

	if (la >= 64 || lb >= 64)
		return UINT_MAX;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		diag = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			up = row[j];
			row[j] = diag + (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
			if (row[j] > up + 1)
				row[j] = up + 1;
			if (row[j] > row[j - 1] + 1)
				row[j] = row[j - 1] + 1;
			diag = up;
		}
	}
	return row[lb];
}

static void unknown_key(struct parser *p, const char *name, const char *shown)
{
	const struct key_def *best = NULL;
	unsigned d, best_d = 3;
	char q[QUOTE_MAX + 4];
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (!strcasecmp(name, keys[i].name)) {
			parse_error(p, "unknown-key", "%s belongs in %s, not in %s", keys[i].name,
				    section_name(keys[i].section), section_name(p->section));
			return;
		}
		d = edit_distance(name, keys[i].name);
		if (d < best_d && keys[i].section == p->section) {
			best_d = d;
			best = &keys[i];
		}
	}
	if (best)
		parse_error(p, "unknown-key", "unknown key '%s' in %s; did you mean %s?", quote(shown, q),
			    section_name(p->section), best->name);
	else
		parse_error(p, "unknown-key", "unknown key '%s' in %s", quote(shown, q), section_name(p->section));
}

/* Called when a section ends: at the next header and at the end of file. */
static void end_section(struct parser *p)
{
	if (p->section == SECTION_PEER && !p->peer_key_seen)
		diag_add(p->diags, p->file, current_peer(p)->line, DIAG_ERROR, "missing-public-key",
			 "this [Peer] has no PublicKey; wg refuses a peer without one");
	if (p->section == SECTION_PEER && current_peer(p)->n_extra_endpoints && !current_peer(p)->endpoint.line)
		diag_add(p->diags, p->file, current_peer(p)->extra_endpoints[0].line, DIAG_ERROR, "missing-endpoint",
			 "%s Endpoint without an Endpoint: wg-quick would bring this peer up with no address at all; "
			 "write the preferred one as Endpoint",
			 CONFIG_DIRECTIVE);
}

/* compact decides (wg ignores whitespace); shown is the line as written,
 * for the message. */
static void parse_section(struct parser *p, const char *compact, const char *shown)
{
	struct config *cfg = p->cfg;
	struct config_peer *peer;
	char q[QUOTE_MAX + 4];

	end_section(p);
	if (!strcasecmp(compact, "[Interface]")) {
		if (cfg->iface.line)
			parse_error(p, "duplicate-interface",
				    "a second [Interface] (the first is on line %u); its keys are merged into the first",
				    cfg->iface.line);
		else
			cfg->iface.line = p->line;
		p->section = SECTION_INTERFACE;
	} else if (!strcasecmp(compact, "[Peer]")) {
		peer = ARRAY_PUSH(cfg->peers, cfg->n_peers);
		peer->line = p->line;
		p->section = SECTION_PEER;
		p->peer_key_seen = false;
	} else {
		/* Its keys are skipped quietly: one error for the section is
		 * clearer than one per line in it. */
		parse_error(p, "unknown-section", "unknown section '%s'; only [Interface] and [Peer] exist",
			    quote(shown, q));
		p->section = SECTION_UNKNOWN;
	}
}

/* Removes every whitespace character (wg's rule) into out. */
static void compact_copy(char *out, const char *in)
{
	for (; *in; in++)
		if (!isspace((unsigned char)*in))
			*out++ = *in;
	*out = '\0';
}

/* A line that is only a comment beginning with CONFIG_DIRECTIVE ("#roam:
 * Endpoint = host:port") is a roam directive; true if it was one. Anything
 * else after '#' stays an ordinary comment, so no existing file changes
 * meaning. */
static bool parse_directive(struct parser *p, char *raw, char *comment)
{
	const struct key_def *key = NULL;
	char q[QUOTE_MAX + 4];
	char *eq, *compact;
	size_t n = strlen(CONFIG_DIRECTIVE);

	for (char *c = raw; c < comment; c++)
		if (!isspace((unsigned char)*c))
			return false;
	if (strncasecmp(comment, CONFIG_DIRECTIVE, n))
		return false;
	compact = xrealloc(NULL, strlen(comment) + 1);
	compact_copy(compact, comment + n);
	eq = strchr(compact, '=');
	if (eq)
		*eq = '\0';
	for (size_t i = 0; eq && i < sizeof(directives) / sizeof(directives[0]); i++)
		if (!strcasecmp(compact, directives[i].name))
			key = &directives[i];
	if (!key)
		parse_error(p, "unknown-directive", "'%s' is not a roam directive; the one there is: %s Endpoint = host:port",
			    quote(comment, q), CONFIG_DIRECTIVE);
	else if (p->section != key->section)
		parse_error(p, "unknown-directive", "%s %s belongs in %s", CONFIG_DIRECTIVE, key->name,
			    section_name(key->section));
	else {
		/* What error messages quote: the value as written. */
		char *written = strchr(comment, '=');
		p->written = written ? trim(written + 1) : NULL;
		key->parse(p, key, eq + 1);
	}
	free(compact);
	return true;
}

static void parse_line(struct parser *p, char *raw, size_t len)
{
	char *compact, *eq, *comment, *value, *shown, *shown_key, *raw_eq;
	const struct key_def *key = NULL;
	char q[QUOTE_MAX + 4];
	size_t i, size;

	(void)len;	/* a NUL byte was refused for the whole file */
	comment = strchr(raw, '#');
	if (comment && parse_directive(p, raw, comment))
		return;
	if (comment)
		*comment = '\0';
	size = strlen(raw) + 1;
	compact = xrealloc(NULL, size);
	compact_copy(compact, raw);
	/* Messages quote what the user wrote ('hello world'), not the
	 * whitespace-free form the parser reads. */
	shown = xrealloc(NULL, size);
	strcpy(shown, raw);
	raw_eq = strchr(shown, '=');
	if (raw_eq)
		*raw_eq = '\0';
	shown_key = trim(shown);
	if (raw_eq)
		*raw_eq = '=';
	if (!*compact)
		goto out;
	if (compact[0] == '[') {
		parse_section(p, compact, trim(shown));
		goto out;
	}
	eq = strchr(compact, '=');
	if (!eq || eq == compact) {
		parse_error(p, "syntax", "'%s' is neither [Interface], [Peer] nor Key = Value", quote(trim(shown), q));
		goto out;
	}
	*eq = '\0';
	if (raw_eq)
		*raw_eq = '\0';	/* shown_key ends at the '=' again */
	if (p->section == SECTION_UNKNOWN)
		goto out;
	if (p->section == SECTION_NONE) {
		parse_error(p, "syntax", "%s comes before any [Interface] or [Peer] section", quote(shown_key, q));
		goto out;
	}
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (keys[i].section == p->section && !strcasecmp(compact, keys[i].name))
			key = &keys[i];
	if (!key) {
		unknown_key(p, compact, shown_key);
		goto out;
	}
	value = key->raw ? trim(strchr(raw, '=') + 1) : eq + 1;
	/* shown still holds the line as written; its value starts after
	 * the '=' that raw_eq marks. */
	p->written = trim(raw_eq + 1);
	key->parse(p, key, value);
	p->written = NULL;
out:
	/* The line may have held a private key. */
	crypto_wipe(compact, size);
	crypto_wipe(shown, size);
	free(compact);
	free(shown);
}

/* Checks that need the whole file. */
static void parse_finish(struct parser *p)
{
	end_section(p);
	/* A file without [Interface] is a fragment for `wg addconf`: fine. */
	if (p->cfg->iface.line && !p->private_key_seen)
		diag_add(p->diags, p->file, p->cfg->iface.line, DIAG_WARNING, "no-private-key",
			 "[Interface] has no PrivateKey: this device cannot make a handshake");
}

void config_parse_string(const char *name, const char *text, size_t len, struct config *cfg,
			 struct diag_list *diags)
{
	struct parser p = { .cfg = cfg, .diags = diags, .file = name };
	size_t start = 0, end;
	char *line;

	memset(cfg, 0, sizeof(*cfg));
	cfg->path = xstrdup(name);
	/* A binary file: one error, not one per line that holds a NUL. */
	const char *nul = memchr(text, '\0', len);
	if (nul) {
		for (const char *c = text; c < nul; c++)
			p.line += *c == '\n';
		p.line++;
		parse_error(&p, "syntax", "the file contains a NUL byte (first on this line): it is not a text file");
		return;
	}
	while (start < len) {
		for (end = start; end < len && text[end] != '\n'; end++)
			;
		p.line++;
		line = xrealloc(NULL, end - start + 1);
		memcpy(line, text + start, end - start);
		line[end - start] = '\0';
		parse_line(&p, line, end - start);
		crypto_wipe(line, end - start);
		free(line);
		start = end + 1;
	}
	parse_finish(&p);
}

int config_parse_fd(int fd, const char *name, struct config *cfg, struct diag_list *diags)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0, cap = 0, grown;
	ssize_t n;
	int err = 0;

	memset(cfg, 0, sizeof(*cfg));
	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	/* Read to EOF rather than trusting st_size: the path may be a pipe
	 * (/dev/stdin, <(...)). */
	for (;;) {
		if (len == cap) {
			if (cap >= CONFIG_MAX_FILE) {
				err = -EFBIG;
				goto out;
			}
			/* It holds the private key: no copy may stay behind
			 * in the block realloc would have freed. */
			grown = cap ? cap * 2 : 4096;
			buf = xrealloc_wiped(buf, cap, grown);
			cap = grown;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	config_parse_string(name, buf, len, cfg, diags);
	cfg->mode = st.st_mode & 07777;
	cfg->uid = st.st_uid;
out:
	free_wiped(buf, cap);
	return err;
}

int config_parse_file(const char *path, struct config *cfg, struct diag_list *diags)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), err;

	if (fd < 0) {
		memset(cfg, 0, sizeof(*cfg));
		return -errno;
	}
	err = config_parse_fd(fd, path, cfg, diags);
	close(fd);
	return err;
}

void config_free(struct config *cfg)
{
	struct config_interface *in = &cfg->iface;
	size_t i, j;

	for (i = 0; i < in->n_dns; i++)
		free(in->dns[i].domain);
	for (i = 0; i < CONFIG_HOOK_COUNT; i++) {
		for (j = 0; j < in->n_hooks[i]; j++)
			free(in->hooks[i][j].s);
		free(in->hooks[i]);
	}
	free(in->addresses);
	free(in->dns);
	free(in->table);
	free(in->table_written);
	for (i = 0; i < cfg->n_peers; i++) {
		free(cfg->peers[i].allowed_ips);
		free(cfg->peers[i].endpoint.host);
		for (j = 0; j < cfg->peers[i].n_extra_endpoints; j++)
			free(cfg->peers[i].extra_endpoints[j].host);
		free(cfg->peers[i].extra_endpoints);
	}
	free(cfg->peers);
	free(cfg->path);
	crypto_wipe(cfg, sizeof(*cfg));
}
