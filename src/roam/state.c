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

enum { STATE_VERSION = 1, STATE_LINE_MAX = 8192 };

void state_path(const char *ifname, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s.state", STATE_DIR, ifname);
}

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

int state_write_file(const char *path, const struct roam_state *st)
{
	char tmp[4096];
	FILE *f;
	int fd, err = 0;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	/* Whatever the umask: it records hooks, which may hold secrets. */
	if (fchmod(fd, 0600) < 0 || !(f = fdopen(fd, "w"))) {
		err = -errno;
		close(fd);
		unlink(tmp);
		return err;
	}
	write_records(f, st);
	if (fflush(f) != 0 || fsync(fileno(f)) < 0)
		err = -errno;
	if (fclose(f) != 0 && !err)
		err = -errno;
	if (!err && rename(tmp, path) < 0)
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
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

int state_read_file(const char *path, struct roam_state *st, char *err, size_t err_len)
{
	char line[STATE_LINE_MAX];
	unsigned lineno = 0;
	size_t len;
	FILE *f;
	int ret = 0;

	memset(st, 0, sizeof(*st));
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		len = strlen(line);
		if (len && line[len - 1] == '\n')
			line[--len] = '\0';
		else if (!feof(f))
			len = 0;	/* too long: malformed */
		if (line[0] == '#' && len)
			continue;
		if (!len || (lineno == 1 && strncmp(line, "roam-state ", 11)) || !parse_record(st, line)) {
			snprintf(err, err_len, "%s:%u: not a roam state record (written by another version?)", path,
				 lineno);
			ret = -EINVAL;
			break;
		}
	}
	if (!ret && !st->ifname[0]) {
		snprintf(err, err_len, "%s: no interface record", path);
		ret = -EINVAL;
	}
	fclose(f);
	if (ret)
		state_free(st);
	return ret;
}

int state_save(const struct roam_state *st)
{
	char path[256];

	if (mkdir(STATE_DIR, 0700) < 0 && errno != EEXIST)
		return -errno;
	state_path(st->ifname, path, sizeof(path));
	return state_write_file(path, st);
}

int state_load(const char *ifname, struct roam_state *st, char *err, size_t err_len)
{
	char path[256];

	state_path(ifname, path, sizeof(path));
	return state_read_file(path, st, err, err_len);
}

int state_remove(const char *ifname)
{
	char path[256];

	state_path(ifname, path, sizeof(path));
	return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
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

uint64_t state_process_start(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long start = 0;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The name in parentheses may hold spaces and ')': skip to the
	 * last ')', then state is field 3 and starttime field 22. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
			 &start) != 1)
		return 0;
	return start;
}
