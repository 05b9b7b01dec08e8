/* UAPI client: sockets, get (with the get=2 fallback), set
 * (docs/protocol.md §7.2-§7.5). A get reply is parsed as it arrives, by
 * the one parser of get replies in uapi_parse.c. */
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
#include "rtnl.h"
#include "crypto.h"
#include "decimal.h"

enum {
	/* Far beyond any real reply (a 100,000-peer server is ~20 MB), and
	 * a bound on what a confused daemon can make us allocate. */
	REPLY_MAX = 256 << 20,
	/* Per read or write, not per reply: a daemon that goes this long
	 * without a byte is stuck. Short enough that a scrape of several
	 * interfaces, one of them stuck, ends within Prometheus's 10 s. */
	IO_TIMEOUT_SEC = 3,
	/* A get reply is parsed a piece this large at a time. */
	GET_CHUNK = 256 << 10,
};

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

/* No socket, but maybe a link of that name: `wg-quick up` made a kernel
 * WireGuard interface (it tries `ip link add type wireguard` before any
 * userspace daemon), or the name is some other interface's. Either way
 * "no interface" would be wrong. */
bool uapi_link_without_socket(const char *ifname, char *msg, size_t msg_len)
{
	char kind[32];
	struct rtnl nl;
	int err;

	if (rtnl_open(&nl) < 0)
		return false;
	err = rtnl_link_kind(&nl, ifname, kind, sizeof(kind));
	rtnl_close(&nl);
	if (err)
		return false;
	if (!strcmp(kind, "wireguard"))
		snprintf(msg, msg_len,
			 "'%s' is a kernel WireGuard interface: roamd does not run it (no %s/%s.sock), so roam "
			 "cannot read it; 'wg show %s' can. To run it on roamd: 'roam up %s' or the roam@%s "
			 "service (README, \"Kernel WireGuard or roamd\")",
			 ifname, UAPI_SOCKET_DIR, ifname, ifname, ifname, ifname);
	else
		snprintf(msg, msg_len, "'%s' is a%s %s interface, not a WireGuard one: no daemon serves it (no %s/%s.sock)",
			 ifname, kind[0] ? "" : "n", kind[0] ? kind : "ordinary", UAPI_SOCKET_DIR, ifname);
	return true;
}

static void socket_error(const char *ifname, int err, char *msg, size_t msg_len)
{
	if (err == -ENOENT && uapi_link_without_socket(ifname, msg, msg_len))
		return;
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

/* Asks for a get (head: "get=1\n" or "get=2\n") and parses the reply as it
 * arrives, a chunk at a time. 0 or the parser's error (its reason in err),
 * or a socket's -errno with *socket_failed set. *answered: whether the
 * daemon sent anything at all. */
static int get_parsed(const char *ifname, const char *head, struct uapi_device *dev, char *err, size_t err_len,
		      bool *answered, bool *socket_failed)
{
	struct uapi_get_parser gp;
	size_t have = 0, total = 0, used;
	char *buf;
	ssize_t n;
	int fd = uapi_connect(ifname), ret;

	*answered = false;
	*socket_failed = true;
	memset(dev, 0, sizeof(*dev));
	if (fd < 0)
		return fd;
	ret = send_all(fd, head, strlen(head));
	if (!ret)
		ret = send_all(fd, "\n", 1);
	/* The daemon may have closed before reading all of it (get=2 to
	 * wireguard-go): the reply, or its absence, is what counts. */
	if (ret && ret != -EPIPE && ret != -ECONNRESET) {
		close(fd);
		return ret;
	}
	ret = 0;
	uapi_get_parser_init(&gp, dev, err, err_len);
	buf = xrealloc(NULL, GET_CHUNK);
	while (!uapi_get_parser_done(&gp)) {
		if (have == GET_CHUNK - 1) {
			ret = -EFBIG;	/* one line as large as the buffer */
			break;
		}
		/* One byte kept for the NUL that ends a last, cut-off line. */
		n = recv(fd, buf + have, GET_CHUNK - 1 - have, 0);
		if (n < 0 && errno == EINTR)
			continue;
		/* wireguard-go closing on get=2 with our request unread makes
		 * the kernel reset the connection: a hang-up, not a failure
		 * (seen as ECONNRESET instead of EOF now and then). */
		if (n < 0 && errno == ECONNRESET && !*answered)
			break;
		if (n < 0) {
			ret = errno == EAGAIN ? -ETIMEDOUT : -errno;
			break;
		}
		if (n == 0)
			break;
		*answered = true;
		total += (size_t)n;
		if (total > REPLY_MAX) {
			ret = -EFBIG;
			break;
		}
		have += (size_t)n;
		used = uapi_get_parser_feed(&gp, buf, have);
		have -= used;
		memmove(buf, buf + used, have);
	}
	close(fd);
	if (ret) {
		uapi_device_free(dev);
	} else {
		*socket_failed = false;
		buf[uapi_get_parser_done(&gp) ? 0 : have] = '\0';
		ret = *answered ? uapi_get_parser_finish(&gp, buf) : 0;
	}
	/* The reply held the private key in hex. */
	free_wiped(buf, GET_CHUNK);
	return ret;
}

int uapi_get_device(const char *ifname, struct uapi_device *dev, char *err, size_t err_len)
{
	bool answered, socket_failed;
	int ret;

	ret = get_parsed(ifname, "get=2\n", dev, err, err_len, &answered, &socket_failed);
	/* Not roamd: ask the standard question. */
	if (!ret && !answered)
		ret = get_parsed(ifname, "get=1\n", dev, err, err_len, &answered, &socket_failed);
	if (ret && socket_failed)
		socket_error(ifname, ret, err, err_len);
	else if (!ret && !answered)
		ret = uapi_parse_get("", 0, dev, err, err_len);	/* says the reply was empty */
	snprintf(dev->name, sizeof(dev->name), "%s", ifname);
	return ret;
}

int uapi_fetch_events(const char *ifname, uint64_t after, char **reply, size_t *reply_len, char *err,
		      size_t err_len)
{
	char body[64];
	int n = snprintf(body, sizeof(body), ROAM_KEY_EVENTS_AFTER "=%llu\n", (unsigned long long)after);
	int ret = transact(ifname, UAPI_OP_EVENTS, body, (size_t)n, reply, reply_len);

	/* A reset instead of EOF is wireguard-go hanging up too (see
	 * get_parsed). */
	if (ret == -ECONNRESET) {
		ret = 0;
		*reply_len = 0;
	}
	if (ret)
		socket_error(ifname, ret, err, err_len);
	else if (!*reply_len)
		snprintf(err, err_len, "'%s' is not run by roamd: only roamd keeps events (wireguard-go has none)",
			 ifname);
	if (!ret && !*reply_len) {
		free(*reply);
		*reply = NULL;
		ret = -ENOTSUP;
	}
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
