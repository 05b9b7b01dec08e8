/* UAPI client: sockets, get (with the get=2 fallback), set, and the one
 * parser of a get reply (docs/protocol.md §7.2-§7.3; roam_* schema in
 * src/common/uapi_contract.h). */
#include "uapi_client.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "alloc.h"
#include "crypto.h"
#include "decimal.h"

enum {
	/* Far beyond any real reply (a 100,000-peer server is ~20 MB), and
	 * a bound on what a confused daemon can make us allocate. */
	REPLY_MAX = 256 << 20,
	IO_TIMEOUT_SEC = 10,
};

/* ---- parsing ----------------------------------------------------------- */

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
	size_t offset;
	uint64_t max;
	size_t width;		/* of the field: 2, 4 or 8 bytes */
	size_t flag;		/* offset of a bool to set, or 0 */
};

#define NUM(k, field, max) { k, offsetof(struct uapi_peer, field), max, sizeof(((struct uapi_peer *)0)->field), 0 }
#define NUM_FLAG(k, field, flag) \
	{ k, offsetof(struct uapi_peer, field), UINT64_MAX, sizeof(uint64_t), offsetof(struct uapi_peer, flag) }

static const struct peer_number peer_numbers[] = {
	NUM("last_handshake_time_sec", last_handshake_sec, UINT64_MAX),
	NUM("last_handshake_time_nsec", last_handshake_nsec, 999999999),
	NUM("rx_bytes", rx_bytes, UINT64_MAX),
	NUM("tx_bytes", tx_bytes, UINT64_MAX),
	NUM("persistent_keepalive_interval", persistent_keepalive, 65535),
	NUM(ROAM_KEY_RX_PACKETS, rx_packets, UINT64_MAX),
	NUM(ROAM_KEY_TX_PACKETS, tx_packets, UINT64_MAX),
	NUM(ROAM_KEY_HANDSHAKE_ATTEMPTS, handshake_attempts, UINT64_MAX),
	NUM_FLAG(ROAM_KEY_LAST_RECEIVE_AGE_MS, last_receive_age_ms, has_last_receive_age),
	NUM_FLAG(ROAM_KEY_LAST_HANDSHAKE_AGE_MS, last_handshake_age_ms, has_last_handshake_age),
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

static bool peer_line(struct uapi_peer *peer, const char *key, const char *value)
{
	uint8_t psk[KEY_LEN], zero[KEY_LEN] = { 0 };
	uint64_t v;
	uint32_t v32;
	uint16_t v16;

	for (size_t i = 0; i < sizeof(peer_numbers) / sizeof(peer_numbers[0]); i++) {
		const struct peer_number *n = &peer_numbers[i];
		if (strcmp(key, n->key))
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

static int reply_error(char *err, size_t err_len, unsigned line, const char *what)
{
	snprintf(err, err_len, "malformed reply from the daemon, line %u: %s", line, what);
	return -EPROTO;
}

int uapi_parse_get(const char *text, size_t len, struct uapi_device *dev, char *err, size_t err_len)
{
	struct uapi_peer *peer = NULL;
	char *buf, *line, *next, *eq;
	bool have_errno = false;
	int64_t daemon_errno = 0;
	unsigned lineno = 0;
	uint64_t v;
	int ret = 0;

	memset(dev, 0, sizeof(*dev));
	if (memchr(text, '\0', len))
		return reply_error(err, err_len, 0, "a NUL byte");
	buf = xrealloc(NULL, len + 1);
	memcpy(buf, text, len);
	buf[len] = '\0';
	for (line = buf; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		if (!*line)
			break;		/* the blank line that ends a reply */
		if (have_errno) {
			ret = reply_error(err, err_len, lineno, "a line after errno");
			goto out;
		}
		eq = strchr(line, '=');
		if (!eq) {
			ret = reply_error(err, err_len, lineno, "no '='");
			goto out;
		}
		*eq = '\0';
		if (!strcmp(line, "errno")) {
			bool negative = eq[1] == '-';
			if (!parse_decimal(eq + 1 + negative, INT32_MAX, &v)) {
				ret = reply_error(err, err_len, lineno, "errno is not a number");
				goto out;
			}
			daemon_errno = (int64_t)v;
			have_errno = true;
		} else if (!strcmp(line, "public_key")) {
			peer = ARRAY_PUSH(dev->peers, dev->n_peers);
			peer->candidate_index = -1;
			if (!key_from_hex(peer->public_key, eq + 1, strlen(eq + 1))) {
				ret = reply_error(err, err_len, lineno, "public_key is not 64 hex digits");
				goto out;
			}
		} else if (!peer) {
			if (!device_line(dev, line, eq + 1)) {
				ret = reply_error(err, err_len, lineno, line);
				goto out;
			}
		} else if (!strcmp(line, "private_key") || !strcmp(line, "listen_port") || !strcmp(line, "fwmark") ||
			   !strcmp(line, ROAM_KEY_VERSION)) {
			/* wg accepts device keys only before the first peer. */
			ret = reply_error(err, err_len, lineno, "a device key after the first peer");
			goto out;
		} else if (!peer_line(peer, line, eq + 1)) {
			ret = reply_error(err, err_len, lineno, line);
			goto out;
		}
	}
	if (!have_errno) {
		ret = reply_error(err, err_len, lineno, "no errno line (reply cut short?)");
	} else if (daemon_errno) {
		snprintf(err, err_len, "the daemon answered: %s", strerror((int)daemon_errno));
		ret = -(int)daemon_errno;
	}
out:
	/* The reply held the private key in hex. */
	free_wiped(buf, len + 1);
	if (ret)
		uapi_device_free(dev);
	return ret;
}

void uapi_device_free(struct uapi_device *dev)
{
	for (size_t i = 0; i < dev->n_peers; i++) {
		free(dev->peers[i].allowed_ips);
		free(dev->peers[i].drops);
		free(dev->peers[i].history);
		free(dev->peers[i].candidates);
	}
	free(dev->peers);
	free(dev->drops);
	memset(dev, 0, sizeof(*dev));
}

/* ---- sockets ----------------------------------------------------------- */

bool uapi_socket_path(const char *ifname, char path[UAPI_SOCKET_PATH_MAX])
{
	if (!uapi_ifname_valid(ifname, strlen(ifname)))
		return false;
	snprintf(path, UAPI_SOCKET_PATH_MAX, "%s/%s.sock", UAPI_SOCKET_DIR, ifname);
	return true;
}

int uapi_connect(const char *ifname)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = IO_TIMEOUT_SEC };
	int fd, err;

	if (!uapi_socket_path(ifname, addr.sun_path))
		return -EINVAL;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A daemon that accepts and then hangs must not hang us. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int uapi_daemon_pid(const char *ifname)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int fd = uapi_connect(ifname), ret;

	if (fd < 0)
		return fd;
	/* On a stream socket the peer's credentials are those of the process
	 * that called listen(): the daemon itself, not whoever started it. */
	ret = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ? -errno : (int)cred.pid;
	close(fd);
	return ret;
}

static int send_all(int fd, const char *data, size_t len)
{
	ssize_t n;

	while (len) {
		/* MSG_NOSIGNAL: wireguard-go hangs up on get=2 before we may
		 * have finished writing; that is an answer, not a crash. */
		n = send(fd, data, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads one reply: up to the blank line that ends it, or EOF. *len 0 with
 * a return of 0 means the daemon hung up without answering. */
static int read_reply(int fd, char **out, size_t *len)
{
	size_t cap = 0, grown;
	char *buf = NULL;
	ssize_t n;

	*len = 0;
	for (;;) {
		if (*len >= 2 && buf[*len - 1] == '\n' && buf[*len - 2] == '\n')
			break;
		if (*len + 4096 > cap) {
			if (cap >= REPLY_MAX) {
				free_wiped(buf, cap);
				return -EFBIG;
			}
			/* A get reply starts with private_key: a moved
			 * buffer must not leave a copy of it behind. */
			grown = cap ? cap * 2 : 16384;
			buf = xrealloc_wiped(buf, cap, grown);
			cap = grown;
		}
		n = recv(fd, buf + *len, cap - *len - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = errno == EAGAIN ? -ETIMEDOUT : -errno;
			free_wiped(buf, cap);
			return err;
		}
		if (n == 0)
			break;
		*len += (size_t)n;
	}
	*out = buf;
	return 0;
}

/* One request on a fresh connection; the reply in *reply. */
static int transact(const char *ifname, const char *head, const char *body, size_t body_len, char **reply,
		    size_t *reply_len)
{
	int fd = uapi_connect(ifname), ret;

	*reply = NULL;
	*reply_len = 0;
	if (fd < 0)
		return fd;
	ret = send_all(fd, head, strlen(head));
	if (!ret && body_len)
		ret = send_all(fd, body, body_len);
	if (!ret)
		ret = send_all(fd, "\n", 1);
	/* The daemon may have closed before reading all of it (get=2 to
	 * wireguard-go): the reply, or its absence, is what counts. */
	if (ret == -EPIPE || ret == -ECONNRESET || !ret)
		ret = read_reply(fd, reply, reply_len);
	close(fd);
	return ret;
}

static void socket_error(const char *ifname, int err, char *msg, size_t msg_len)
{
	if (err == -ENOENT)
		snprintf(msg, msg_len, "no interface '%s' (no %s/%s.sock)", ifname, UAPI_SOCKET_DIR, ifname);
	else if (err == -ECONNREFUSED)
		snprintf(msg, msg_len, "the daemon of '%s' is gone (stale %s/%s.sock)", ifname, UAPI_SOCKET_DIR,
			 ifname);
	else if (err == -EINVAL)
		snprintf(msg, msg_len, "'%s' is not an interface name", ifname);
	else
		snprintf(msg, msg_len, "cannot talk to the daemon of '%s': %s", ifname, strerror(-err));
}

int uapi_get_device(const char *ifname, struct uapi_device *dev, char *err, size_t err_len)
{
	char *reply;
	size_t len;
	int ret;

	memset(dev, 0, sizeof(*dev));
	ret = transact(ifname, "get=2\n", NULL, 0, &reply, &len);
	if (!ret && len == 0) {
		/* Not roamd: ask the standard question. */
		free(reply);
		ret = transact(ifname, "get=1\n", NULL, 0, &reply, &len);
	}
	if (ret) {
		free(reply);
		socket_error(ifname, ret, err, err_len);
		return ret;
	}
	ret = uapi_parse_get(reply ? reply : "", len, dev, err, err_len);
	free_wiped(reply, len);
	snprintf(dev->name, sizeof(dev->name), "%s", ifname);
	return ret;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int uapi_list_interfaces(char ***names, size_t *n)
{
	DIR *dir = opendir(UAPI_SOCKET_DIR);
	struct dirent *e;
	struct stat st;
	char path[sizeof(UAPI_SOCKET_DIR) + 300];
	size_t len;
	int fd;

	*names = NULL;
	*n = 0;
	if (!dir)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(dir)) != NULL) {
		len = strlen(e->d_name);
		if (len <= 5 || len - 5 >= UAPI_IFNAME_MAX || strcmp(e->d_name + len - 5, ".sock"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", UAPI_SOCKET_DIR, e->d_name);
		if (stat(path, &st) < 0 || !S_ISSOCK(st.st_mode))
			continue;
		e->d_name[len - 5] = '\0';
		fd = uapi_connect(e->d_name);
		if (fd < 0)
			continue;
		close(fd);
		*ARRAY_PUSH(*names, *n) = xstrdup(e->d_name);
	}
	closedir(dir);
	*ARRAY_PUSH(*names, *n) = NULL;
	(*n)--;
	qsort(*names, *n, sizeof(**names), name_cmp);
	return 0;
}

void uapi_names_free(char **names)
{
	for (size_t i = 0; names && names[i]; i++)
		free(names[i]);
	free(names);
}

int uapi_get_devices(const char *cmd, const char *ifname, struct uapi_device **devs, size_t *n)
{
	char **names = NULL, *one[2] = { (char *)ifname, NULL }, err[256];
	size_t n_names = 1;
	int failed = 0, r;

	*devs = NULL;
	*n = 0;
	if (!ifname && (r = uapi_list_interfaces(&names, &n_names)) < 0) {
		fprintf(stderr, "roam %s: cannot list %s: %s\n", cmd, UAPI_SOCKET_DIR, strerror(-r));
		return -1;
	}
	for (size_t i = 0; i < n_names; i++) {
		struct uapi_device *d = ARRAY_PUSH(*devs, *n);
		r = uapi_get_device(ifname ? one[i] : names[i], d, err, sizeof(err));
		if (r < 0)
			(*n)--;
		/* Listed a moment ago and gone now: it was taken down, which
		 * is no error of anybody's. */
		if (r < 0 && (ifname || (r != -ENOENT && r != -ECONNREFUSED))) {
			fprintf(stderr, "roam %s: %s\n", cmd, err);
			failed++;
		}
	}
	uapi_names_free(names);
	return failed;
}

void uapi_devices_free(struct uapi_device *devs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		uapi_device_free(&devs[i]);
	free(devs);
}

/* ---- set --------------------------------------------------------------- */

/* Grows to hold extra more bytes. realloc could leave a copy of the keys
 * in freed memory, so the move wipes the old copy (alloc.h). */
static void request_reserve(struct uapi_request *req, size_t extra)
{
	size_t cap = req->cap ? req->cap : 1024;

	if (req->cap - req->len > extra)
		return;
	while (cap - req->len <= extra)
		cap *= 2;
	req->data = xrealloc_wiped(req->data, req->cap, cap);
	req->cap = cap;
}

void uapi_request_add(struct uapi_request *req, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	request_reserve(req, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(req->data + req->len, req->cap - req->len, fmt, ap);
	va_end(ap);
	req->len += (size_t)n;
}

void uapi_request_add_key(struct uapi_request *req, const char *name, const uint8_t key[KEY_LEN])
{
	size_t need = strlen(name) + 1 + KEY_HEX_LEN + 1;
	char *p;

	/* Written in place, so the hex form never sits anywhere else. */
	request_reserve(req, need);
	p = req->data + req->len;
	p += sprintf(p, "%s=", name);
	key_to_hex(p, key);
	p += KEY_HEX_LEN;
	*p++ = '\n';
	*p = '\0';
	req->len += need;
}

void uapi_request_free(struct uapi_request *req)
{
	free_wiped(req->data, req->cap);
	memset(req, 0, sizeof(*req));
}

int uapi_set_device(const char *ifname, const struct uapi_request *req, char *err, size_t err_len)
{
	char *reply;
	size_t len;
	int ret;
	uint64_t v;

	ret = transact(ifname, "set=1\n", req->data, req->len, &reply, &len);
	if (ret) {
		free(reply);
		socket_error(ifname, ret, err, err_len);
		return ret;
	}
	/* The reply is exactly "errno=N\n\n"; N is negative from
	 * wireguard-go and roamd (docs/protocol.md §7.5), but take either sign. */
	if (len > 8 && !strncmp(reply, "errno=", 6) && reply[len - 1] == '\n' && reply[len - 2] == '\n') {
		reply[len - 2] = '\0';
		bool negative = reply[6] == '-';
		if (parse_decimal(reply + 6 + negative, INT32_MAX, &v)) {
			free(reply);
			if (v)
				snprintf(err, err_len, "the daemon refused the configuration: %s", strerror((int)v));
			return -(int)v;
		}
	}
	free(reply);
	snprintf(err, err_len, "the daemon of '%s' gave no valid answer to set", ifname);
	return -EPROTO;
}
