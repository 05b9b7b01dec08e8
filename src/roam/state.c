/* The roam up ledger file (format in state.h). */
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "crypto.h"
#include "trust.h"

enum { STATE_VERSION = 1, STATE_LINE_MAX = 8192 };

const char *state_dir(void)
{
	const char *dir = getenv(STATE_DIR_ENV);

	return dir && *dir ? dir : STATE_DIR;
}

void state_path(const char *ifname, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s.state", state_dir(), ifname);
}

/* ---- the directory ----------------------------------------------------- */

/* Whether the opened state directory is one to run hooks from; if not,
 * the reason in err. */
static bool state_dir_trusted(int fd, const char *dir, char *err, size_t err_len)
{
	struct stat sb;

	if (fstat(fd, &sb) < 0) {
		snprintf(err, err_len, "cannot check %s: %s", dir, strerror(errno));
		return false;
	}
	if (!trust_owner(sb.st_uid)) {
		snprintf(err, err_len, "refusing %s: it is owned by uid %u, not root", dir, (unsigned)sb.st_uid);
		return false;
	}
	if ((sb.st_mode & 07777) != 0700) {
		snprintf(err, err_len, "refusing %s: its mode is %04o, not 0700", dir, (unsigned)(sb.st_mode & 07777));
		return false;
	}
	return true;
}

int state_dir_open(bool create, char *err, size_t err_len)
{
	const char *dir = state_dir(), *base;
	char parent[4096], why[256], *real;
	bool made = false;
	int pfd, fd, ret;

	base = strrchr(dir, '/');
	if (dir[0] != '/' || !base[1] || (size_t)(base - dir) >= sizeof(parent)) {
		snprintf(err, err_len, "state directory %s is not an absolute path to a directory", dir);
		return -EINVAL;
	}
	snprintf(parent, sizeof(parent), "%.*s", base == dir ? 1 : (int)(base - dir), dir);
	base++;
	/* The directory itself is opened relative to its parent, resolved
	 * once and checked, so nothing can be swapped in along the path; the
	 * links on the way there are checked before they are followed. */
	if (!trust_symlinks(parent, why, sizeof(why))) {
		snprintf(err, err_len, "refusing %s: %s", dir, why);
		return -EPERM;
	}
	real = realpath(parent, NULL);
	if (!real) {
		ret = -errno;
		snprintf(err, err_len, "cannot open %s: %s", parent, strerror(errno));
		return ret;
	}
	if (!trust_dir_chain(real, why, sizeof(why))) {
		snprintf(err, err_len, "refusing %s: %s", dir, why);
		free(real);
		return -EPERM;
	}
	pfd = open(real, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(real);
	if (pfd < 0) {
		ret = -errno;
		snprintf(err, err_len, "cannot open %s: %s", parent, strerror(errno));
		return ret;
	}
	if (create) {
		if (mkdirat(pfd, base, 0700) == 0)
			made = true;
		else if (errno != EEXIST) {
			ret = -errno;
			snprintf(err, err_len, "cannot create %s: %s", dir, strerror(errno));
			close(pfd);
			return ret;
		}
	}
	fd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	ret = -errno;
	if (fd < 0 && (ret == -ELOOP || ret == -ENOTDIR)) {
		/* Linux says ENOTDIR for a symbolic link here: tell which. */
		struct stat sb;
		bool is_link = fstatat(pfd, base, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(sb.st_mode);
		snprintf(err, err_len, "refusing %s: it is %s", dir, is_link ? "a symbolic link" : "not a directory");
		close(pfd);
		return -EPERM;
	}
	close(pfd);
	if (fd < 0) {
		snprintf(err, err_len, "cannot open %s: %s", dir, strerror(-ret));
		return ret;
	}
	/* Ours, just made: 0700 whatever the umask took off. */
	if (made && fchmod(fd, 0700) < 0) {
		ret = -errno;
		snprintf(err, err_len, "cannot chmod %s: %s", dir, strerror(errno));
		close(fd);
		return ret;
	}
	if (!state_dir_trusted(fd, dir, err, err_len)) {
		close(fd);
		return -EPERM;
	}
	return fd;
}

/* ---- writing ----------------------------------------------------------- */

static void write_records(FILE *f, const struct roam_state *st)
{
	char a[IP_PREFIX_STRLEN], b64[KEY_B64_LEN + 1];

	fprintf(f, "roam-state %d\n# What 'roam up' changed, for 'roam down %s' to undo. Written by roam.\n",
		STATE_VERSION, st->ifname);
	fprintf(f, "interface %s\n", st->ifname);
	if (st->config)
		fprintf(f, "config %s\n", st->config);
	fprintf(f, "netns %" PRIu64 "\n", st->netns);
	for (size_t i = 0; i < st->n_pre_down; i++)
		fprintf(f, "pre_down %s\n", st->pre_down[i]);
	for (size_t i = 0; i < st->n_post_down; i++)
		fprintf(f, "post_down %s\n", st->post_down[i]);
	for (size_t i = 0; i < st->n_endpoints; i++) {
		key_to_base64(b64, st->endpoints[i].public_key);
		fprintf(f, "endpoint %s %s %u %s\n", b64, st->endpoints[i].host, st->endpoints[i].port,
			st->endpoints[i].resolved);
	}
	if (st->roamd_pid)
		fprintf(f, "roamd %d %" PRIu64 "\n", (int)st->roamd_pid, st->roamd_start);
	if (st->ifindex)
		fprintf(f, "link %d\n", st->ifindex);
	if (st->fwmark)
		fprintf(f, "fwmark %" PRIu32 "\n", st->fwmark);
	for (size_t i = 0; i < st->n_addresses; i++)
		fprintf(f, "address %s\n", ip_prefix_str(&st->addresses[i], a));
	if (st->dns != DNS_NONE)
		fprintf(f, "dns %s\n", dns_method_name(st->dns));
	if (st->src_valid_mark)
		fputs("src_valid_mark 1\n", f);
	for (size_t i = 0; i < st->n_rules; i++) {
		const struct rtnl_rule *r = &st->rules[i];
		fprintf(f, "rule %s %" PRIu32 " %" PRIu32 " %" PRIu32 " %s ", r->family == AF_INET ? "inet" : "inet6",
			r->priority, r->table, r->fwmark, r->invert ? "invert" : "-");
		if (r->suppress_prefixlen >= 0)
			fprintf(f, "%d\n", r->suppress_prefixlen);
		else
			fputs("-\n", f);
	}
	for (size_t i = 0; i < st->n_nft_tables; i++)
		fprintf(f, "nft %s %s\n", firewall_family_name(st->nft_tables[i].family), st->nft_tables[i].name);
	for (size_t i = 0; i < st->n_routes; i++)
		fprintf(f, "route %" PRIu32 " %s\n", st->routes[i].table, ip_prefix_str(&st->routes[i].dst, a));
}

/* Every free-text value is one line of printable text: a newline in a
 * path would start a record of its own (a forged post_down). */
static bool records_printable(const struct roam_state *st)
{
	if (st->config && trust_control_char(st->config))
		return false;
	for (size_t i = 0; i < st->n_pre_down; i++)
		if (trust_control_char(st->pre_down[i]))
			return false;
	for (size_t i = 0; i < st->n_post_down; i++)
		if (trust_control_char(st->post_down[i]))
			return false;
	for (size_t i = 0; i < st->n_endpoints; i++)
		if (trust_control_char(st->endpoints[i].host) || strchr(st->endpoints[i].host, ' '))
			return false;
	return true;
}

/* Writes name (relative to dirfd, or a path with AT_FDCWD) through
 * name.tmp and a rename. */
static int write_at(int dirfd, const char *name, const struct roam_state *st)
{
	char tmp[4096];
	FILE *f;
	int fd, err = 0;

	if (!records_printable(st))
		return -EINVAL;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", name) >= sizeof(tmp))
		return -ENAMETOOLONG;
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	/* Whatever the umask: it records hooks, which may hold secrets. */
	if (fchmod(fd, 0600) < 0 || !(f = fdopen(fd, "w"))) {
		err = -errno;
		close(fd);
		unlinkat(dirfd, tmp, 0);
		return err;
	}
	write_records(f, st);
	if (fflush(f) != 0 || fsync(fileno(f)) < 0)
		err = -errno;
	if (fclose(f) != 0 && !err)
		err = -errno;
	if (!err && renameat(dirfd, tmp, dirfd, name) < 0)
		err = -errno;
	if (err)
		unlinkat(dirfd, tmp, 0);
	return err;
}

int state_write_file(const char *path, const struct roam_state *st)
{
	return write_at(AT_FDCWD, path, st);
}

/* ---- reading ----------------------------------------------------------- */

static bool record_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return !errno && !*end && *out <= max;
}

static bool record_u32(const char *s, uint32_t *out)
{
	uint64_t v;

	if (!record_u64(s, UINT32_MAX, &v))
		return false;
	*out = (uint32_t)v;
	return true;
}

/* Splits line into at most max space-separated words. */
static size_t split(char *line, char **words, size_t max)
{
	char *save = NULL;
	size_t n = 0;

	for (char *w = strtok_r(line, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		if (n == max)
			return max + 1;
		words[n++] = w;
	}
	return n;
}

static bool record_rule(char **w, size_t n, struct rtnl_rule *r)
{
	uint64_t v;

	if (n != 7)
		return false;
	if (!strcmp(w[1], "inet"))
		r->family = AF_INET;
	else if (!strcmp(w[1], "inet6"))
		r->family = AF_INET6;
	else
		return false;
	if (!record_u32(w[2], &r->priority) || !record_u32(w[3], &r->table) || !record_u32(w[4], &r->fwmark))
		return false;
	if (strcmp(w[5], "invert") && strcmp(w[5], "-"))
		return false;
	r->invert = !strcmp(w[5], "invert");
	r->suppress_prefixlen = -1;
	if (strcmp(w[6], "-")) {
		if (!record_u64(w[6], 128, &v))
			return false;
		r->suppress_prefixlen = (int)v;
	}
	return true;
}

static bool record_endpoint(char **w, size_t n, struct state_endpoint *e)
{
	uint64_t port;

	if (n != 5 || !key_from_base64(e->public_key, w[1]) || !record_u64(w[3], 65535, &port) ||
	    strlen(w[4]) >= sizeof(e->resolved))
		return false;
	e->host = xstrdup(w[2]);
	e->port = (uint16_t)port;
	strcpy(e->resolved, w[4]);
	return true;
}

/* One record; false if it is malformed. */
static bool parse_record(struct roam_state *st, char *line)
{
	char *rest = strchr(line, ' '), *w[8];
	size_t n;
	uint64_t v, v2;

	if (!rest || !rest[1])
		return false;
	rest++;
	/* Free text to the end of the line. */
	if (!strncmp(line, "config ", 7)) {
		free(st->config);
		st->config = xstrdup(rest);
		return true;
	}
	if (!strncmp(line, "pre_down ", 9)) {
		*ARRAY_PUSH(st->pre_down, st->n_pre_down) = xstrdup(rest);
		return true;
	}
	if (!strncmp(line, "post_down ", 10)) {
		*ARRAY_PUSH(st->post_down, st->n_post_down) = xstrdup(rest);
		return true;
	}
	n = split(line, w, 7);
	if (n == 0)
		return false;
	if (!strcmp(w[0], "roam-state"))
		return n == 2 && record_u64(w[1], STATE_VERSION, &v) && v == STATE_VERSION;
	if (!strcmp(w[0], "interface")) {
		if (n != 2 || strlen(w[1]) >= sizeof(st->ifname))
			return false;
		strcpy(st->ifname, w[1]);
		return true;
	}
	if (!strcmp(w[0], "netns"))
		return n == 2 && record_u64(w[1], UINT64_MAX, &st->netns);
	if (!strcmp(w[0], "roamd")) {
		if (n != 3 || !record_u64(w[1], INT32_MAX, &v) || !record_u64(w[2], UINT64_MAX, &v2))
			return false;
		st->roamd_pid = (pid_t)v;
		st->roamd_start = v2;
		return true;
	}
	if (!strcmp(w[0], "link")) {
		if (n != 2 || !record_u64(w[1], INT32_MAX, &v))
			return false;
		st->ifindex = (int)v;
		return true;
	}
	if (!strcmp(w[0], "fwmark"))
		return n == 2 && record_u32(w[1], &st->fwmark);
	if (!strcmp(w[0], "src_valid_mark"))
		return n == 2 && !strcmp(w[1], "1") && (st->src_valid_mark = true);
	if (!strcmp(w[0], "dns"))
		return n == 2 && dns_method_parse(w[1], &st->dns);
	if (!strcmp(w[0], "address")) {
		struct ip_prefix p;
		if (n != 2 || !ip_prefix_parse(&p, w[1], false))
			return false;
		*ARRAY_PUSH(st->addresses, st->n_addresses) = p;
		return true;
	}
	if (!strcmp(w[0], "route")) {
		struct state_route r;
		if (n != 3 || !record_u32(w[1], &r.table) || !ip_prefix_parse(&r.dst, w[2], false))
			return false;
		*ARRAY_PUSH(st->routes, st->n_routes) = r;
		return true;
	}
	if (!strcmp(w[0], "rule")) {
		struct rtnl_rule r;
		if (!record_rule(w, n, &r))
			return false;
		*ARRAY_PUSH(st->rules, st->n_rules) = r;
		return true;
	}
	if (!strcmp(w[0], "nft")) {
		struct state_nft_table t = { 0 };
		if (n != 3 || !firewall_family_parse(w[1], &t.family) || strlen(w[2]) >= sizeof(t.name))
			return false;
		strcpy(t.name, w[2]);
		*ARRAY_PUSH(st->nft_tables, st->n_nft_tables) = t;
		return true;
	}
	if (!strcmp(w[0], "endpoint")) {
		struct state_endpoint e = { 0 };
		if (!record_endpoint(w, n, &e))
			return false;
		*ARRAY_PUSH(st->endpoints, st->n_endpoints) = e;
		return true;
	}
	return false;
}

/* Reads the records of an open ledger; path names it in messages. */
static int read_records(FILE *f, const char *path, struct roam_state *st, char *err, size_t err_len)
{
	char *line = NULL;
	size_t cap = 0, len;
	unsigned lineno = 0;
	ssize_t n;
	int ret = 0;

	while ((n = getline(&line, &cap, f)) > 0) {
		lineno++;
		len = (size_t)n;
		if (line[len - 1] == '\n')
			line[--len] = '\0';
		/* Too long, a NUL inside, or a control character: a line roam
		 * never writes, and a hook `roam down` will not run. */
		if (len >= STATE_LINE_MAX || strlen(line) != len || trust_control_char(line))
			len = 0;
		if (line[0] == '#' && len)
			continue;
		if (!len || (lineno == 1 && strncmp(line, "roam-state ", 11)) || !parse_record(st, line)) {
			snprintf(err, err_len, "%s:%u: not a roam state record (written by another version?)", path,
				 lineno);
			ret = -EINVAL;
			break;
		}
	}
	if (!ret && ferror(f))
		ret = -EIO;
	if (!ret && !st->ifname[0]) {
		snprintf(err, err_len, "%s: no interface record", path);
		ret = -EINVAL;
	}
	/* Hooks may hold secrets. */
	if (line)
		crypto_wipe(line, cap);
	free(line);
	return ret;
}

/* fd is the ledger, opened without following a symbolic link; the checks
 * are made on it, not on the path, so nothing can be swapped in between.
 * Takes fd. */
static int read_ledger(int fd, const char *path, struct roam_state *st, char *err, size_t err_len)
{
	char why[160];
	struct stat sb;
	FILE *f;
	int ret;

	memset(st, 0, sizeof(*st));
	if (fd < 0) {
		ret = -errno;
		if (ret == -ELOOP) {
			snprintf(err, err_len, "refusing %s: it is a symbolic link", path);
			return -EPERM;
		}
		snprintf(err, err_len, "cannot read %s: %s", path, strerror(-ret));
		return ret;
	}
	if (fstat(fd, &sb) < 0) {
		ret = -errno;
		close(fd);
		snprintf(err, err_len, "cannot read %s: %s", path, strerror(-ret));
		return ret;
	}
	if (!S_ISREG(sb.st_mode) || !trust_stat(&sb, why, sizeof(why))) {
		snprintf(err, err_len, "refusing %s: it %s", path, S_ISREG(sb.st_mode) ? why : "is not a regular file");
		close(fd);
		return -EPERM;
	}
	f = fdopen(fd, "re");
	if (!f) {
		ret = -errno;
		close(fd);
		snprintf(err, err_len, "cannot read %s: %s", path, strerror(-ret));
		return ret;
	}
	ret = state_read_stream(f, path, st, err, err_len);
	fclose(f);
	return ret;
}

int state_read_stream(FILE *f, const char *path, struct roam_state *st, char *err, size_t err_len)
{
	int ret;

	memset(st, 0, sizeof(*st));
	ret = read_records(f, path, st, err, err_len);
	if (ret == -EIO)
		snprintf(err, err_len, "cannot read %s: %s", path, strerror(EIO));
	if (ret)
		state_free(st);
	return ret;
}

/* O_NONBLOCK: a FIFO put in the ledger's place must not hang roam. */
#define LEDGER_OPEN_FLAGS (O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)

int state_read_file(const char *path, struct roam_state *st, char *err, size_t err_len)
{
	return read_ledger(open(path, LEDGER_OPEN_FLAGS), path, st, err, err_len);
}

static void ledger_name(const char *ifname, char *buf, size_t len)
{
	snprintf(buf, len, "%s.state", ifname);
}

int state_save(const struct roam_state *st, char *err, size_t err_len)
{
	char name[64], path[4200];
	int dirfd = state_dir_open(true, err, err_len), ret;

	if (dirfd < 0)
		return dirfd;
	ledger_name(st->ifname, name, sizeof(name));
	ret = write_at(dirfd, name, st);
	close(dirfd);
	if (ret) {
		state_path(st->ifname, path, sizeof(path));
		snprintf(err, err_len, "cannot write %s: %s", path,
			 ret == -EINVAL ? "a path or hook holds a control character" : strerror(-ret));
	}
	return ret;
}

int state_load(const char *ifname, struct roam_state *st, char *err, size_t err_len)
{
	char name[64], path[4200];
	int dirfd = state_dir_open(false, err, err_len), ret;

	memset(st, 0, sizeof(*st));
	if (dirfd < 0)
		return dirfd;
	ledger_name(ifname, name, sizeof(name));
	state_path(ifname, path, sizeof(path));
	ret = read_ledger(openat(dirfd, name, LEDGER_OPEN_FLAGS), path, st, err, err_len);
	close(dirfd);
	return ret;
}

int state_remove(const char *ifname)
{
	char name[64], err[256];
	int dirfd = state_dir_open(false, err, sizeof(err)), ret = 0;

	if (dirfd < 0)
		return dirfd == -ENOENT ? 0 : dirfd;
	ledger_name(ifname, name, sizeof(name));
	if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
		ret = -errno;
	close(dirfd);
	return ret;
}

void state_free(struct roam_state *st)
{
	for (size_t i = 0; i < st->n_endpoints; i++)
		free(st->endpoints[i].host);
	for (size_t i = 0; i < st->n_pre_down; i++)
		free(st->pre_down[i]);
	for (size_t i = 0; i < st->n_post_down; i++)
		free(st->post_down[i]);
	free(st->config);
	free(st->addresses);
	free(st->routes);
	free(st->rules);
	free(st->nft_tables);
	free(st->endpoints);
	free(st->pre_down);
	free(st->post_down);
	memset(st, 0, sizeof(*st));
}

uint64_t state_current_netns(void)
{
	struct stat sb;

	return stat("/proc/self/ns/net", &sb) < 0 ? 0 : (uint64_t)sb.st_ino;
}

/* Field 3 (state) and field 22 (start time) of /proc/PID/stat; false if
 * the process is not there. */
static bool process_stat(pid_t pid, char *state, unsigned long long *start)
{
	char path[64], buf[1024], *p;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The name in parentheses may hold spaces and ')': skip to the
	 * last ')', then state is field 3 and starttime field 22. */
	p = strrchr(buf, ')');
	return p && sscanf(p + 2, "%c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
			   state, start) == 2;
}

uint64_t state_process_start(pid_t pid)
{
	unsigned long long start;
	char state;

	return process_stat(pid, &state, &start) ? start : 0;
}

bool state_process_running(pid_t pid, uint64_t start)
{
	unsigned long long now_start;
	char state;

	/* A zombie (or a process being reaped) has ended; only its parent
	 * has yet to collect it. */
	return pid > 0 && process_stat(pid, &state, &now_start) && now_start == start && state != 'Z' && state != 'X';
}
