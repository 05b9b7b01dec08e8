/* UAPI get and set against a device (docs/protocol.md §7.3-§7.5).
 *
 * set is a transaction in two phases:
 *  1. parse: every line is validated and turned into a compact plan (an
 *     array of small ops plus side tables for keys and endpoints). Anything
 *     that could make the apply phase fail for a reason other than memory
 *     is decided here: syntax, ranges, key order, which public key is our
 *     own after this request's private_key.
 *  2. apply: the listen port is prepared and the fwmark set (both can fail,
 *     and then nothing has been touched), then the plan runs through the
 *     device.h calls and the port is committed.
 * Only an allocation failure can stop phase 2 part-way (peer creation or
 * an allowed-ip insert); the configuration is then a prefix of the request
 * applied, which is what wireguard-go leaves for any error.
 *
 * Deliberate differences from wireguard-go, which applies lines as it reads
 * them: a block with remove=true only removes the peer (go first applies
 * the block's earlier lines to it, so an allowed_ip there would steal a
 * prefix from another peer and then vanish with the removed one); a block
 * with update_only for a peer that does not exist is skipped as a whole
 * wherever update_only appears in it. `wg` never sends either combination. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "key_encoding.h"
#include "uapi.h"
#include "uapi_contract.h"

_Static_assert((int)UAPI_MAX_ENDPOINT_CANDIDATES == (int)MAX_ENDPOINT_CANDIDATES, "roam and the core bound the list alike");

/* ---- get -------------------------------------------------------------- */

/* name=<64 hex digits>, made in the reply itself so that the hex form of
 * a secret key is never anywhere else. */
static void put_key(struct uapi_buf *out, const char *name, const uint8_t key[KEY_LEN])
{
	size_t name_len = strlen(name);
	char *at = uapi_buf_append(out, name_len + 1 + KEY_HEX_LEN + 1);

	if (!at)
		return;
	memcpy(at, name, name_len);
	at[name_len] = '=';
	key_to_hex(at + name_len + 1, key);	/* its NUL lands where the '\n' goes */
	at[name_len + 1 + KEY_HEX_LEN] = '\n';
}

static void put_text(struct uapi_buf *out, const char *s)
{
	uapi_buf_put(out, s, strlen(s));
}

/* Numeric only: `wg` hands the text to getaddrinfo, and anything it cannot
 * parse crashes old versions (docs/protocol.md §7.3), so no interface names for the scope. */
static void put_endpoint(struct uapi_buf *out, const struct endpoint *ep)
{
	char text[ENDPOINT_TEXT_LEN];
	if (endpoint_format(ep, text, sizeof(text))) {
		put_text(out, "endpoint=");
		put_text(out, text);
		put_text(out, "\n");
	}
}

static bool put_allowed_ip(void *ctx, int family, const uint8_t *addr, uint8_t cidr)
{
	struct uapi_buf *out = ctx;
	char ip[INET6_ADDRSTRLEN + 8];
	size_t len;

	if (inet_ntop(family, addr, ip, INET6_ADDRSTRLEN)) {
		/* "/cidr\n" by hand: cidr is at most 128. */
		len = strlen(ip);
		ip[len++] = '/';
		if (cidr >= 100)
			ip[len++] = (char)('0' + cidr / 100);
		if (cidr >= 10)
			ip[len++] = (char)('0' + cidr / 10 % 10);
		ip[len++] = (char)('0' + cidr % 10);
		ip[len++] = '\n';
		put_text(out, "allowed_ip=");
		uapi_buf_put(out, ip, len);
	}
	/* Nothing more can be written once the buffer is poisoned. */
	return !uapi_buf_poisoned(out);
}

void uapi_get(struct device *dev, const struct uapi_host *host, bool roam, struct uapi_buf *out)
{
	uint8_t key[KEY_LEN];
	struct peer_info info;

	/* About what a peer's lines take (get=2: some 420 bytes with one
	 * allowed IP), so that the buffer grows once, not by doubling. */
	uapi_buf_reserve(out, device_peer_count(dev) * (roam ? 512 : 256));
	if (device_private_key(dev, key))
		put_key(out, "private_key", key);
	crypto_wipe(key, sizeof(key));
	uint16_t port = host->listen_port(host->ctx);
	if (port)
		uapi_buf_put_number(out, "listen_port", port);
	uint32_t mark = host->fwmark(host->ctx);
	if (mark)
		uapi_buf_put_number(out, "fwmark", mark);
	uint64_t now = host->now(host->ctx);
	if (roam)
		uapi_put_roam_device(dev, now, out);

	for (struct peer *peer = device_peer_first(dev); peer; peer = device_peer_next(peer)) {
		/* Once per peer: its fields are scattered in memory, and a
		 * reply of 100,000 peers waits on every cache miss. */
		peer_get_info(peer, &info);
		put_key(out, "public_key", info.public_key);
		/* Fetched only here, wiped at once: peer_info carries no secret. */
		peer_get_preshared_key(peer, key);
		put_key(out, "preshared_key", key);
		crypto_wipe(key, sizeof(key));
		put_text(out, "protocol_version=1\n");
		if (endpoint_is_set(&info.endpoint))
			put_endpoint(out, &info.endpoint);
		uapi_buf_put_number(out, "last_handshake_time_sec", info.last_handshake_wall_ns / NSEC_PER_SEC);
		uapi_buf_put_number(out, "last_handshake_time_nsec", info.last_handshake_wall_ns % NSEC_PER_SEC);
		uapi_buf_put_number(out, "tx_bytes", info.tx_bytes);
		uapi_buf_put_number(out, "rx_bytes", info.rx_bytes);
		uapi_buf_put_number(out, "persistent_keepalive_interval", info.persistent_keepalive);
		peer_allowedips_walk(peer, put_allowed_ip, out);
		if (roam) {
			uapi_put_roam_peer(peer, &info, now, out);
			if (host->put_peer_names)
				host->put_peer_names(host->ctx, peer, now, out);
		}
		crypto_wipe(&info, sizeof(info));
		if (uapi_buf_poisoned(out))
			return;
	}
	put_text(out, "errno=0\n\n");
}

/* ---- set: the plan ---------------------------------------------------- */

enum op_type {
	OP_PEER,		/* ref: public key; flags: PEER_* */
	OP_PRESHARED_KEY,	/* ref: key */
	OP_ENDPOINT,		/* ref: endpoint */
	OP_KEEPALIVE,		/* num: seconds */
	OP_REPLACE_ALLOWED_IPS,
	OP_ALLOWED_IP_ADD,	/* family, cidr, addr */
	OP_ALLOWED_IP_REMOVE,
	OP_REPLACE_CANDIDATES,
	OP_CANDIDATE_ADD,	/* ref: endpoint */
	OP_REPLACE_NAMES,
	OP_NAME_ADD,		/* ref: name */
};

enum {
	PEER_UPDATE_ONLY = 1,	/* do not create it */
	PEER_REMOVE = 2,	/* remove it; the block has no other ops */
};

/* 20 bytes: a 500,000-line allowed_ip request is a 10 MB plan. */
struct op {
	uint8_t type;
	uint8_t family;
	uint8_t cidr;
	uint8_t flags;
	union {
		uint8_t addr[16];
		uint32_t ref;
		uint32_t num;
	} u;
};

struct plan {
	/* Device lines; for repeated ones the last wins. */
	bool has_private_key, has_listen_port, has_fwmark, replace_peers;
	uint8_t private_key[KEY_LEN];
	uint16_t listen_port;
	uint32_t fwmark;

	struct op *ops;
	size_t n_ops, cap_ops;
	uint8_t (*keys)[KEY_LEN];
	size_t n_keys, cap_keys;
	struct endpoint *endpoints;
	size_t n_endpoints, cap_endpoints;
	struct plan_name {
		char host[254];
		uint8_t len;
		uint16_t port;
	} *names;
	size_t n_names, cap_names;
	bool resolve_names;

	/* Parser state. After the first public_key only peer keys are valid. */
	bool in_peers;
	/* Our public key once this request's private_key is applied: a peer
	 * line with it is ignored, as is everything in its block. */
	bool has_self;
	uint8_t self_public[KEY_LEN];
	/* The current block's lines are validated but produce no ops (our
	 * own key, or the peer is being removed). */
	bool skipping;
	size_t peer_op;
	/* roam_endpoint_candidate / _name lines in the current peer block. */
	unsigned block_candidates, block_names;
};

static void plan_free(struct plan *plan)
{
	if (plan->keys)
		crypto_wipe(plan->keys, plan->n_keys * sizeof(*plan->keys));
	free(plan->keys);
	free(plan->ops);
	free(plan->endpoints);
	free(plan->names);
	crypto_wipe(plan->private_key, sizeof(plan->private_key));
}

/* Makes room for one more element of an array that doubles as it grows.
 * secret: the array holds keys, so the old block is wiped when it moves. */
static bool grow_array(void **array, size_t *cap, size_t n, size_t size, bool secret)
{
	if (n < *cap)
		return true;
	size_t ncap = *cap ? *cap * 2 : 16;
	if (ncap > SIZE_MAX / size)
		return false;
	void *p = secret ? crypto_realloc_wiped(*array, n * size, ncap * size) : realloc(*array, ncap * size);
	if (!p)
		return false;
	*array = p;
	*cap = ncap;
	return true;
}

static struct op *plan_add_op(struct plan *plan, enum op_type type)
{
	if (!grow_array((void **)&plan->ops, &plan->cap_ops, plan->n_ops, sizeof(*plan->ops), false))
		return NULL;
	struct op *op = &plan->ops[plan->n_ops++];
	memset(op, 0, sizeof(*op));
	op->type = (uint8_t)type;
	return op;
}

/* An op referring to a new 32-byte key slot; returns the slot. */
static uint8_t *plan_add_key_op(struct plan *plan, enum op_type type)
{
	if (!grow_array((void **)&plan->keys, &plan->cap_keys, plan->n_keys, sizeof(*plan->keys), true))
		return NULL;
	struct op *op = plan_add_op(plan, type);
	if (!op)
		return NULL;
	op->u.ref = (uint32_t)plan->n_keys;
	return plan->keys[plan->n_keys++];
}

/* ---- set: value parsers ----------------------------------------------- */

static bool is_key(const char *k, size_t klen, const char *name)
{
	return strlen(name) == klen && memcmp(k, name, klen) == 0;
}

/* Plain decimal digits, nothing else (no sign, no space), at most max.
 * Leading zeros are accepted, as Go's strconv.ParseUint does. */
static bool parse_uint(const char *s, size_t n, uint32_t max, uint32_t *out)
{
	uint64_t v = 0;

	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > max)
			return false;
	}
	*out = (uint32_t)v;
	return true;
}

static bool parse_true(const char *s, size_t n)
{
	return n == 4 && memcmp(s, "true", 4) == 0;
}

/* inet_pton wants a C string; copies s first. Rejects embedded NULs by
 * length, since the copy would otherwise stop early. */
static bool parse_ip(int family, const char *s, size_t n, void *out)
{
	char tmp[INET6_ADDRSTRLEN];

	if (n == 0 || n >= sizeof(tmp) || memchr(s, '\0', n))
		return false;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	return inet_pton(family, tmp, out) == 1;
}

/* `a.b.c.d:port`, `[v6]:port` or `[v6%scope]:port`, all numeric (`wg`
 * resolves hostnames itself; wireguard-go rejects them too). The scope may be an
 * index or an interface name, since `wg` prints link-local endpoints with
 * getnameinfo, which names the interface. */
static bool parse_endpoint(const char *s, size_t n, struct endpoint *ep)
{
	uint8_t addr[16];
	uint32_t port, scope = 0;
	const char *port_s;
	int family;

	if (n > 0 && s[0] == '[') {
		const char *close = memchr(s, ']', n);
		if (!close || (size_t)(close - s) + 2 > n || close[1] != ':')
			return false;
		const char *ip = s + 1, *pct = memchr(ip, '%', (size_t)(close - ip));
		size_t ip_len = (size_t)((pct ? pct : close) - ip);
		if (!parse_ip(AF_INET6, ip, ip_len, addr))
			return false;
		if (pct) {
			const char *name = pct + 1;
			size_t name_len = (size_t)(close - name);
			if (!parse_uint(name, name_len, UINT32_MAX, &scope)) {
				char ifname[IF_NAMESIZE];
				if (name_len == 0 || name_len >= sizeof(ifname) || memchr(name, '\0', name_len))
					return false;
				memcpy(ifname, name, name_len);
				ifname[name_len] = '\0';
				scope = if_nametoindex(ifname);
			}
			if (!scope)
				return false;
		}
		family = AF_INET6;
		port_s = close + 2;
	} else {
		/* Unbracketed: IPv4 only, as Go's netip.ParseAddrPort demands. */
		const char *colon = memrchr(s, ':', n);
		if (!colon || !parse_ip(AF_INET, s, (size_t)(colon - s), addr))
			return false;
		family = AF_INET;
		port_s = colon + 1;
	}
	if (!parse_uint(port_s, (size_t)(s + n - port_s), 65535, &port))
		return false;
	endpoint_from_bytes(ep, family, addr, (uint16_t)port);
	if (family == AF_INET6)
		ep->addr.in6.sin6_scope_id = scope;
	return true;
}

/* HOST:PORT for roamd's resolver: a name of letters, digits, '.', '-' and
 * '_', or an IPv4 address, or [v6]:PORT. What the name means is the
 * resolver's business; this only bounds it. */
static bool parse_name(const char *s, size_t n, struct plan_name *name)
{
	uint32_t port;
	const char *colon = memrchr(s, ':', n), *host = s;
	if (!colon)
		return false;
	size_t host_len = (size_t)(colon - s);
	if (host_len >= 2 && s[0] == '[' && s[host_len - 1] == ']') {
		host++;
		host_len -= 2;
	} else if (memchr(s, ':', host_len)) {
		return false; /* IPv6 without brackets */
	}
	if (host_len == 0 || host_len >= sizeof(name->host))
		return false;
	for (size_t i = 0; i < host_len; i++) {
		char c = host[i];
		bool v6 = host != s && (c == ':' || c == '%');
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
		      c == '-' || c == '_' || v6))
			return false;
	}
	if (!parse_uint(colon + 1, (size_t)(s + n - colon - 1), 65535, &port) || !port)
		return false;
	memcpy(name->host, host, host_len);
	name->host[host_len] = '\0';
	name->len = (uint8_t)host_len;
	name->port = (uint16_t)port;
	return true;
}

/* `ip/cidr`, or `-ip/cidr` for removal; cidr required. */
static bool parse_allowed_ip(const char *s, size_t n, struct op *op)
{
	uint32_t cidr;
	bool remove = n > 0 && s[0] == '-';

	if (remove) {
		s++;
		n--;
	}
	const char *slash = memchr(s, '/', n);
	if (!slash)
		return false;
	size_t ip_len = (size_t)(slash - s);
	int family = memchr(s, ':', ip_len) ? AF_INET6 : AF_INET;
	if (!parse_ip(family, s, ip_len, op->u.addr))
		return false;
	if (!parse_uint(slash + 1, (size_t)(s + n - slash - 1), family == AF_INET ? 32 : 128, &cidr))
		return false;
	op->type = remove ? OP_ALLOWED_IP_REMOVE : OP_ALLOWED_IP_ADD;
	op->family = (uint8_t)family;
	op->cidr = (uint8_t)cidr;
	return true;
}

/* ---- set: parsing lines into the plan --------------------------------- */

/* Leaves the device section: fixes which public key is ours from now on. */
static int enter_peers(struct plan *plan, struct device *dev)
{
	plan->in_peers = true;
	if (!plan->has_private_key) {
		plan->has_self = device_public_key(dev, plan->self_public);
		return 0;
	}
	if (crypto_is_zero(plan->private_key, KEY_LEN)) {
		plan->has_self = false;
		return 0;
	}
	uint8_t clamped[KEY_LEN];
	memcpy(clamped, plan->private_key, KEY_LEN);
	x25519_clamp(clamped);
	/* A clamped scalar never yields the all-zero point, so failure here
	 * can only be libcrypto running out of memory. */
	bool ok = x25519_public_from_private(plan->self_public, clamped);
	crypto_wipe(clamped, sizeof(clamped));
	if (!ok)
		return -ENOMEM;
	plan->has_self = true;
	return 0;
}

static int parse_device_line(struct plan *plan, const char *k, size_t klen, const char *v, size_t vlen)
{
	uint32_t num;

	if (is_key(k, klen, "private_key")) {
		if (!key_from_hex(plan->private_key, v, vlen))
			return -EINVAL;
		plan->has_private_key = true;
	} else if (is_key(k, klen, "listen_port")) {
		if (!parse_uint(v, vlen, 65535, &num))
			return -EINVAL;
		plan->listen_port = (uint16_t)num;
		plan->has_listen_port = true;
	} else if (is_key(k, klen, "fwmark")) {
		if (!parse_uint(v, vlen, UINT32_MAX, &plan->fwmark))
			return -EINVAL;
		plan->has_fwmark = true;
	} else if (is_key(k, klen, "replace_peers")) {
		if (!parse_true(v, vlen))
			return -EINVAL;
		plan->replace_peers = true;
	} else if (is_key(k, klen, ROAM_KEY_RESOLVE_NAMES)) {
		if (!parse_true(v, vlen))
			return -EINVAL;
		plan->resolve_names = true;
	} else {
		return -EINVAL;
	}
	return 0;
}

static int parse_public_key(struct plan *plan, const char *v, size_t vlen)
{
	uint8_t key[KEY_LEN];

	if (!key_from_hex(key, v, vlen))
		return -EINVAL;
	plan->skipping = plan->has_self && memcmp(key, plan->self_public, KEY_LEN) == 0;
	if (plan->skipping)
		return 0;
	plan->peer_op = plan->n_ops;
	plan->block_candidates = 0;
	plan->block_names = 0;
	uint8_t *slot = plan_add_key_op(plan, OP_PEER);
	if (!slot)
		return -ENOMEM;
	memcpy(slot, key, KEY_LEN);
	return 0;
}

static int parse_peer_line(struct plan *plan, const char *k, size_t klen, const char *v, size_t vlen)
{
	uint8_t key[KEY_LEN];
	uint32_t num;
	struct op *op;

	if (is_key(k, klen, "public_key"))
		return parse_public_key(plan, v, vlen);

	if (is_key(k, klen, "update_only")) {
		if (!parse_true(v, vlen))
			return -EINVAL;
		if (!plan->skipping)
			plan->ops[plan->peer_op].flags |= PEER_UPDATE_ONLY;
	} else if (is_key(k, klen, "remove")) {
		if (!parse_true(v, vlen))
			return -EINVAL;
		if (!plan->skipping) {
			/* The block's earlier ops would only touch a peer
			 * about to go; drop them (see the top comment). */
			plan->ops[plan->peer_op].flags |= PEER_REMOVE;
			plan->n_ops = plan->peer_op + 1;
			plan->skipping = true;
		}
	} else if (is_key(k, klen, "preshared_key")) {
		if (!key_from_hex(key, v, vlen))
			return -EINVAL;
		if (!plan->skipping) {
			uint8_t *slot = plan_add_key_op(plan, OP_PRESHARED_KEY);
			if (!slot) {
				crypto_wipe(key, sizeof(key));
				return -ENOMEM;
			}
			memcpy(slot, key, KEY_LEN);
		}
		crypto_wipe(key, sizeof(key));
	} else if (is_key(k, klen, "endpoint") || is_key(k, klen, ROAM_KEY_ENDPOINT_CANDIDATE)) {
		bool candidate = klen != strlen("endpoint");
		struct endpoint ep;
		if (!parse_endpoint(v, vlen, &ep))
			return -EINVAL;
		/* A bound checked before anything is applied: a 1,000-line
		 * list fails whole, with an errno that says why. */
		if (candidate && ++plan->block_candidates > UAPI_MAX_ENDPOINT_CANDIDATES)
			return -E2BIG;
		if (!plan->skipping) {
			if (!grow_array((void **)&plan->endpoints, &plan->cap_endpoints, plan->n_endpoints,
				  sizeof(*plan->endpoints), false) ||
			    !(op = plan_add_op(plan, candidate ? OP_CANDIDATE_ADD : OP_ENDPOINT)))
				return -ENOMEM;
			op->u.ref = (uint32_t)plan->n_endpoints;
			plan->endpoints[plan->n_endpoints++] = ep;
		}
	} else if (is_key(k, klen, ROAM_KEY_ENDPOINT_NAME)) {
		struct plan_name name;
		if (!parse_name(v, vlen, &name))
			return -EINVAL;
		if (++plan->block_names > UAPI_MAX_ENDPOINT_CANDIDATES)
			return -E2BIG;
		if (!plan->skipping) {
			if (!grow_array((void **)&plan->names, &plan->cap_names, plan->n_names, sizeof(*plan->names),
					false) ||
			    !(op = plan_add_op(plan, OP_NAME_ADD)))
				return -ENOMEM;
			op->u.ref = (uint32_t)plan->n_names;
			plan->names[plan->n_names++] = name;
		}
	} else if (is_key(k, klen, ROAM_KEY_REPLACE_ENDPOINT_NAMES)) {
		if (!parse_true(v, vlen))
			return -EINVAL;
		if (!plan->skipping && !plan_add_op(plan, OP_REPLACE_NAMES))
			return -ENOMEM;
	} else if (is_key(k, klen, ROAM_KEY_REPLACE_ENDPOINT_CANDIDATES)) {
		if (!parse_true(v, vlen))
			return -EINVAL;
		if (!plan->skipping && !plan_add_op(plan, OP_REPLACE_CANDIDATES))
			return -ENOMEM;
	} else if (is_key(k, klen, "persistent_keepalive_interval")) {
		if (!parse_uint(v, vlen, 65535, &num))
			return -EINVAL;
		if (!plan->skipping) {
			if (!(op = plan_add_op(plan, OP_KEEPALIVE)))
				return -ENOMEM;
			op->u.num = num;
		}
	} else if (is_key(k, klen, "replace_allowed_ips")) {
		if (!parse_true(v, vlen))
			return -EINVAL;
		if (!plan->skipping && !plan_add_op(plan, OP_REPLACE_ALLOWED_IPS))
			return -ENOMEM;
	} else if (is_key(k, klen, "allowed_ip")) {
		struct op parsed;
		if (!parse_allowed_ip(v, vlen, &parsed))
			return -EINVAL;
		if (!plan->skipping) {
			if (!(op = plan_add_op(plan, (enum op_type)parsed.type)))
				return -ENOMEM;
			*op = parsed;
		}
	} else if (is_key(k, klen, "protocol_version")) {
		if (!(vlen == 1 && v[0] == '1'))
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	return 0;
}

static int plan_parse(struct plan *plan, struct device *dev, const char *body, size_t len)
{
	if (len == 0)
		return 0; /* body may then be NULL, and NULL + 0 is undefined */
	const char *p = body, *end = body + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *line_end = nl ? nl : end;
		/* No '=' (an empty line included: the caller strips the one
		 * that ends the request) is a framing error, not a bad value. */
		const char *eq = memchr(p, '=', (size_t)(line_end - p));
		if (!eq)
			return -EPROTO;
		const char *k = p, *v = eq + 1;
		size_t klen = (size_t)(eq - p), vlen = (size_t)(line_end - v);
		int ret;

		if (!plan->in_peers && is_key(k, klen, "public_key")) {
			ret = enter_peers(plan, dev);
			if (ret)
				return ret;
		}
		ret = plan->in_peers ? parse_peer_line(plan, k, klen, v, vlen) :
				       parse_device_line(plan, k, klen, v, vlen);
		if (ret)
			return ret;
		p = nl ? nl + 1 : end;
	}
	return 0;
}

/* ---- set: applying the plan ------------------------------------------- */

static int plan_apply(const struct plan *plan, struct device *dev, const struct uapi_host *host, uint64_t now)
{
	struct peer *peer = NULL;
	int err;

	/* Before the key change, so that change does not start handshakes
	 * with peers that are about to go. */
	if (plan->replace_peers)
		device_peers_remove_all(dev);
	if (plan->has_private_key)
		device_set_private_key(dev, plan->private_key, now);

	for (size_t i = 0; i < plan->n_ops; i++) {
		const struct op *op = &plan->ops[i];

		if (op->type == OP_PEER) {
			const uint8_t *key = plan->keys[op->u.ref];
			peer = device_peer_lookup(dev, key);
			if (op->flags & PEER_REMOVE) {
				if (peer)
					device_peer_remove(dev, peer);
				peer = NULL;
			} else if (!peer && !(op->flags & PEER_UPDATE_ONLY)) {
				/* Neither a duplicate (looked up just now) nor
				 * our own key (filtered while parsing, against
				 * the key set above): only memory can fail. */
				peer = device_peer_create(dev, key, now, &err);
				if (!peer)
					return err;
			}
			continue;
		}
		if (!peer)
			continue; /* lines of a peer update_only did not create */
		switch ((enum op_type)op->type) {
		case OP_PRESHARED_KEY: {
			const uint8_t *psk = plan->keys[op->u.ref];
			peer_set_preshared_key(peer, crypto_is_zero(psk, KEY_LEN) ? NULL : psk);
			break;
		}
		case OP_ENDPOINT:
			peer_set_endpoint(peer, &plan->endpoints[op->u.ref]);
			break;
		case OP_KEEPALIVE:
			peer_set_persistent_keepalive(peer, (uint16_t)op->u.num, now);
			break;
		case OP_REPLACE_ALLOWED_IPS:
			peer_allowedips_clear(peer);
			break;
		case OP_ALLOWED_IP_ADD:
			err = peer_allowedips_insert(peer, op->family, op->u.addr, op->cidr);
			if (err)
				return err;
			break;
		case OP_ALLOWED_IP_REMOVE:
			/* Removing a prefix the peer does not hold is a no-op. */
			peer_allowedips_remove(peer, op->family, op->u.addr, op->cidr);
			break;
		case OP_REPLACE_CANDIDATES:
			peer_clear_endpoint_candidates(peer);
			break;
		case OP_CANDIDATE_ADD:
			/* Only -E2BIG (lines added over several requests) or
			 * -ENOMEM can fail; duplicates are ignored. */
			err = peer_add_endpoint_candidate(peer, &plan->endpoints[op->u.ref], now);
			if (err)
				return err;
			break;
		case OP_REPLACE_NAMES:
			if (host->clear_peer_names)
				host->clear_peer_names(host->ctx, peer);
			break;
		case OP_NAME_ADD: {
			const struct plan_name *name = &plan->names[op->u.ref];
			err = host->add_peer_name ? host->add_peer_name(host->ctx, peer, name->host, name->len, name->port)
						  : -ENOTSUP;
			if (err)
				return err;
			break;
		}
		case OP_PEER:
			break;
		}
	}
	if (plan->resolve_names && host->resolve_names)
		host->resolve_names(host->ctx);
	return 0;
}

int uapi_set(struct device *dev, const struct uapi_host *host, const char *body, size_t len)
{
	struct plan plan;
	bool port_prepared = false;
	int ret;

	memset(&plan, 0, sizeof(plan));
	ret = plan_parse(&plan, dev, body, len);
	if (ret)
		goto out;

	/* Re-binding the port we already hold would collide with ourselves,
	 * and changes nothing; 0 asks for a fresh random port, as in wireguard-go. */
	if (plan.has_listen_port && !(plan.listen_port && plan.listen_port == host->listen_port(host->ctx))) {
		uint16_t bound = 0;
		ret = host->prepare_listen_port(host->ctx, plan.listen_port, &bound);
		if (ret) {
			ret = ret < 0 ? ret : -EADDRINUSE;
			goto out;
		}
		port_prepared = true;
	}
	/* The host's errno goes back as it is (e.g. -EPERM says more than
	 * wireguard-go's blanket -EADDRINUSE); a positive value would be a host bug,
	 * made negative so `wg` still reports a failure. The new mark is the
	 * last thing that can fail, so nothing else is to be undone then. */
	if (plan.has_fwmark && plan.fwmark != host->fwmark(host->ctx)) {
		ret = host->set_fwmark(host->ctx, plan.fwmark);
		if (ret) {
			ret = ret < 0 ? ret : -EADDRINUSE;
			if (port_prepared)
				host->commit_listen_port(host->ctx, false);
			goto out;
		}
	}

	ret = plan_apply(&plan, dev, host, host->now(host->ctx));
	/* Even after a failed allocation part-way: the port line came before
	 * anything that was applied, so keeping it keeps the result a prefix
	 * of the request. */
	if (port_prepared)
		host->commit_listen_port(host->ctx, true);
out:
	plan_free(&plan);
	return ret;
}
