/* The roam up ledger (src/roam/state.c): every record written and read
 * back exactly, the file private to its owner and replaced atomically,
 * malformed or foreign files refused with their line, a file or state
 * directory someone else could have written refused (roam down runs the
 * hooks in it as root), and the process identity down relies on to never
 * signal a reused pid.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "alloc.h"
#include "state.h"
#include "test.h"

static char dir[64];

static void path_in_dir(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

static void fill(struct roam_state *st)
{
	struct ip_prefix p;

	memset(st, 0, sizeof(*st));
	strcpy(st->ifname, "wg-test0");
	st->config = xstrdup("/etc/wireguard/a file with spaces.conf");
	st->netns = 4026531840u;
	st->roamd_pid = 4242;
	st->roamd_start = 123456789;
	st->ifindex = 17;
	st->fwmark = 51820;
	st->src_valid_mark = true;
	st->dns = DNS_RESOLVCONF;
	ip_prefix_parse(&p, "198.18.0.1/24", false);
	*ARRAY_PUSH(st->addresses, st->n_addresses) = p;
	ip_prefix_parse(&p, "fd00:2::1/64", false);
	*ARRAY_PUSH(st->addresses, st->n_addresses) = p;
	ip_prefix_parse(&p, "0.0.0.0/0", false);
	*ARRAY_PUSH(st->routes, st->n_routes) = (struct state_route){ p, 51820 };
	ip_prefix_parse(&p, "198.51.100.0/24", false);
	*ARRAY_PUSH(st->routes, st->n_routes) = (struct state_route){ p, 254 };
	*ARRAY_PUSH(st->rules, st->n_rules) = (struct rtnl_rule){ AF_INET, 32765, 51820, 51820, true, -1 };
	*ARRAY_PUSH(st->rules, st->n_rules) = (struct rtnl_rule){ AF_INET6, 32764, 254, 0, false, 0 };
	*ARRAY_PUSH(st->nft_tables, st->n_nft_tables) = (struct state_nft_table){ AF_INET, "roam-wg-test0" };
	*ARRAY_PUSH(st->nft_tables, st->n_nft_tables) = (struct state_nft_table){ AF_INET6, "roam-wg-test0" };
	struct state_endpoint *e = ARRAY_PUSH(st->endpoints, st->n_endpoints);
	memset(e->public_key, 0xb1, KEY_LEN);
	e->host = xstrdup("vpn.example.test");
	e->port = 51820;
	strcpy(e->resolved, "[fd00:1::2]:51820");
	*ARRAY_PUSH(st->pre_down, st->n_pre_down) = xstrdup("echo  two  spaces %i");
	*ARRAY_PUSH(st->post_down, st->n_post_down) = xstrdup("logger 'down %i' # not a comment here");
}

/* Field by field: memcmp would also compare the padding after `invert`,
 * which nothing initialises (the hardened build's stack layout shows it). */
static bool rule_eq(const struct rtnl_rule *a, const struct rtnl_rule *b)
{
	return a->family == b->family && a->priority == b->priority && a->table == b->table &&
	       a->fwmark == b->fwmark && a->invert == b->invert && a->suppress_prefixlen == b->suppress_prefixlen;
}

static void test_round_trip(void)
{
	struct roam_state st, got;
	char path[128], err[256], a[IP_PREFIX_STRLEN];
	struct stat sb;

	fill(&st);
	path_in_dir(path, sizeof(path), "wg-test0.state");
	umask(022);
	CHECK(state_write_file(path, &st) == 0);
	CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
	path_in_dir(err, sizeof(err), "wg-test0.state.tmp");
	CHECK(access(err, F_OK) < 0);	/* the temporary is gone */
	CHECK(state_read_file(path, &got, err, sizeof(err)) == 0);
	CHECK(!strcmp(got.ifname, "wg-test0") && !strcmp(got.config, st.config));
	CHECK(got.netns == st.netns && got.roamd_pid == 4242 && got.roamd_start == 123456789 && got.ifindex == 17);
	CHECK(got.fwmark == 51820 && got.src_valid_mark && got.dns == DNS_RESOLVCONF);
	CHECK(got.n_addresses == 2 && !strcmp(ip_prefix_str(&got.addresses[0], a), "198.18.0.1/24") &&
	      !strcmp(ip_prefix_str(&got.addresses[1], a), "fd00:2::1/64"));
	CHECK(got.n_routes == 2 && got.routes[0].table == 51820 && got.routes[0].dst.cidr == 0 &&
	      got.routes[0].dst.family == AF_INET && got.routes[1].table == 254 &&
	      !strcmp(ip_prefix_str(&got.routes[1].dst, a), "198.51.100.0/24"));
	CHECK(got.n_rules == 2 && rule_eq(&got.rules[0], &st.rules[0]) && rule_eq(&got.rules[1], &st.rules[1]));
	CHECK(got.n_nft_tables == 2 && got.nft_tables[0].family == AF_INET && got.nft_tables[1].family == AF_INET6 &&
	      !strcmp(got.nft_tables[0].name, "roam-wg-test0") && !strcmp(got.nft_tables[1].name, "roam-wg-test0"));
	CHECK(got.n_endpoints == 1 && !memcmp(got.endpoints[0].public_key, st.endpoints[0].public_key, KEY_LEN) &&
	      !strcmp(got.endpoints[0].host, "vpn.example.test") && got.endpoints[0].port == 51820 &&
	      !strcmp(got.endpoints[0].resolved, "[fd00:1::2]:51820"));
	CHECK(got.n_pre_down == 1 && !strcmp(got.pre_down[0], st.pre_down[0]));
	CHECK(got.n_post_down == 1 && !strcmp(got.post_down[0], st.post_down[0]));
	state_free(&got);

	/* Rewriting replaces, it does not append. */
	st.n_addresses = 0;
	CHECK(state_write_file(path, &st) == 0 && state_read_file(path, &got, err, sizeof(err)) == 0);
	CHECK(got.n_addresses == 0 && got.n_rules == 2);
	state_free(&got);
	state_free(&st);
	unlink(path);

	/* A state of nothing but the interface (up died at once) reads. */
	memset(&st, 0, sizeof(st));
	strcpy(st.ifname, "wg1");
	CHECK(state_write_file(path, &st) == 0 && state_read_file(path, &got, err, sizeof(err)) == 0);
	CHECK(!strcmp(got.ifname, "wg1") && got.roamd_pid == 0 && got.dns == DNS_NONE && !got.config);
	state_free(&got);
	unlink(path);
}

static void test_refused(void)
{
	static const struct {
		const char *text;
		const char *where;
	} bad[] = {
		{ "interface wg0\n", ":1:" },
		{ "roam-state 2\ninterface wg0\n", ":1:" },
		{ "roam-state 1\n", "no interface" },
		{ "roam-state 1\ninterface wg0\nfrobnicate 1\n", ":3:" },
		{ "roam-state 1\ninterface wg0\nrule inet 1 2 3 maybe -\n", ":3:" },
		{ "roam-state 1\ninterface wg0\nrule inet 1 2 3 invert 129\n", ":3:" },
		{ "roam-state 1\ninterface wg0\nrule ipx 1 2 3 - -\n", ":3:" },
		{ "roam-state 1\ninterface wg0\naddress 198.18.0.1\n", ":3:" },
		{ "roam-state 1\ninterface wg0\nroute main 198.18.0.0/24\n", ":3:" },
		{ "roam-state 1\ninterface wg0\ndns nsupdate\n", ":3:" },
		{ "roam-state 1\ninterface wg0\nroamd -1 5\n", ":3:" },
		{ "roam-state 1\ninterface wg0\nendpoint notakey host 1 192.0.2.1:1\n", ":3:" },
		{ "roam-state 1\ninterface wg0\nlink 1 2\n", ":3:" },
		{ "roam-state 1\ninterface sixteen-chars-xx\n", ":2:" },
		{ "roam-state 1\ninterface wg0\nconfig\n", ":3:" },
		{ "roam-state 1\ninterface wg0\nnft inet roam-wg0\n", ":3:" },
		{ "roam-state 1\ninterface wg0\nnft ip\n", ":3:" },
		{ "roam-state 1\ninterface wg0\n \n", ":3:" },
	};
	struct roam_state st;
	char path[128], err[256];
	FILE *f;

	path_in_dir(path, sizeof(path), "bad.state");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		f = fopen(path, "w");
		fputs(bad[i].text, f);
		fclose(f);
		err[0] = '\0';
		bool ok = state_read_file(path, &st, err, sizeof(err)) == -EINVAL && strstr(err, bad[i].where);
		if (!CHECK(ok))
			fprintf(stderr, "    case %zu: %s\n", i, err);
		CHECK(st.addresses == NULL && st.rules == NULL);
	}
	unlink(path);
	CHECK(state_read_file(path, &st, err, sizeof(err)) == -ENOENT);
}

static void write_text(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "w");

	fwrite(text, 1, len, f);
	fclose(f);
}

/* A control character in a recorded path or hook is refused when read
 * (it would pass for something else on a terminal) and never written (a
 * newline in a path would forge a record of its own). */
static void test_control_characters(void)
{
	static const char *const bad[] = { "\t", "\r", "\x1b[2J", "\x7f", "\b", "\0" };
	struct roam_state st;
	char path[128], text[256], err[256];
	size_t len;

	path_in_dir(path, sizeof(path), "ctl.state");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t blen = bad[i][0] ? strlen(bad[i]) : 1;
		len = (size_t)snprintf(text, sizeof(text), "roam-state 1\ninterface wg0\npost_down echo a");
		memcpy(text + len, bad[i], blen);
		len += blen;
		len += (size_t)snprintf(text + len, sizeof(text) - len, "b\n");
		write_text(path, text, len);
		chmod(path, 0600);
		err[0] = '\0';
		bool ok = state_read_file(path, &st, err, sizeof(err)) == -EINVAL && strstr(err, ":3:");
		if (!CHECK(ok))
			fprintf(stderr, "    case %zu: %s\n", i, err);
		CHECK(st.post_down == NULL);
	}
	/* Written: the same refusal, and the old file stays. */
	fill(&st);
	CHECK(state_write_file(path, &st) == 0);
	free(st.config);
	st.config = xstrdup("/etc/wireguard/x\npost_down touch /tmp/owned\n/wg0.conf");
	CHECK(state_write_file(path, &st) == -EINVAL);
	free(st.config);
	st.config = NULL;
	free(st.pre_down[0]);
	st.pre_down[0] = xstrdup("echo \x1b]0;title\x07");
	CHECK(state_write_file(path, &st) == -EINVAL);
	state_free(&st);
	CHECK(state_read_file(path, &st, err, sizeof(err)) == 0 && st.config &&
	      !strcmp(st.config, "/etc/wireguard/a file with spaces.conf"));
	state_free(&st);
	unlink(path);
}

/* A ledger another user could have written, or one reached through a
 * symbolic link, is refused before a line of it is read. */
static void test_untrusted_ledger(void)
{
	struct roam_state st;
	char path[128], link[128], err[256];

	path_in_dir(path, sizeof(path), "trust.state");
	path_in_dir(link, sizeof(link), "link.state");
	fill(&st);
	CHECK(state_write_file(path, &st) == 0);
	state_free(&st);
	CHECK(state_read_file(path, &st, err, sizeof(err)) == 0);
	state_free(&st);

	CHECK(chmod(path, 0620) == 0);
	CHECK(state_read_file(path, &st, err, sizeof(err)) == -EPERM && strstr(err, "writable by its group"));
	CHECK(st.pre_down == NULL);
	CHECK(chmod(path, 0602) == 0);
	CHECK(state_read_file(path, &st, err, sizeof(err)) == -EPERM && strstr(err, "all other users"));
	CHECK(chmod(path, 0600) == 0);

	CHECK(symlink(path, link) == 0);
	CHECK(state_read_file(link, &st, err, sizeof(err)) == -EPERM && strstr(err, "symbolic link"));
	unlink(link);

	CHECK(mkfifo(link, 0600) == 0);
	CHECK(state_read_file(link, &st, err, sizeof(err)) == -EPERM && strstr(err, "not a regular file"));
	unlink(link);

	/* Owned by someone else: only root can make such a file. */
	if (geteuid() == 0) {
		CHECK(chown(path, 65534, 65534) == 0);
		CHECK(state_read_file(path, &st, err, sizeof(err)) == -EPERM && strstr(err, "owned by uid 65534"));
	}
	unlink(path);
}

/* The state directory, pointed elsewhere as the integration tests do:
 * created 0700 whatever the umask, refused when it is a symbolic link,
 * not 0700 or not absolute, and its absence means "nothing is up". */
static void test_state_dir(void)
{
	char sdir[128], link[128], err[256];
	struct roam_state st;
	mode_t old;
	int fd;

	path_in_dir(sdir, sizeof(sdir), "state");
	path_in_dir(link, sizeof(link), "state-link");
	setenv(STATE_DIR_ENV, sdir, 1);
	CHECK(!strcmp(state_dir(), sdir));
	CHECK(state_load("wg-test0", &st, err, sizeof(err)) == -ENOENT);
	CHECK(state_remove("wg-test0") == 0);

	old = umask(0);
	fill(&st);
	CHECK(state_save(&st, err, sizeof(err)) == 0);
	umask(old);
	state_free(&st);
	struct stat sb;
	CHECK(lstat(sdir, &sb) == 0 && S_ISDIR(sb.st_mode) && (sb.st_mode & 07777) == 0700);
	CHECK(state_load("wg-test0", &st, err, sizeof(err)) == 0 && st.n_pre_down == 1);
	state_free(&st);

	CHECK(chmod(sdir, 0750) == 0);
	CHECK(state_load("wg-test0", &st, err, sizeof(err)) == -EPERM && strstr(err, "0750"));
	fill(&st);
	CHECK(state_save(&st, err, sizeof(err)) == -EPERM);
	state_free(&st);
	CHECK(chmod(sdir, 0700) == 0);

	CHECK(symlink(sdir, link) == 0);
	setenv(STATE_DIR_ENV, link, 1);
	err[0] = '\0';
	CHECK(state_load("wg-test0", &st, err, sizeof(err)) == -EPERM && strstr(err, "symbolic link"));
	CHECK(st.pre_down == NULL);
	fd = state_dir_open(true, err, sizeof(err));
	CHECK(fd == -EPERM);
	unlink(link);

	setenv(STATE_DIR_ENV, "relative/state", 1);
	CHECK(state_dir_open(true, err, sizeof(err)) == -EINVAL);

	setenv(STATE_DIR_ENV, sdir, 1);
	CHECK(state_remove("wg-test0") == 0);
	unsetenv(STATE_DIR_ENV);
	CHECK(!strcmp(state_dir(), STATE_DIR));
	rmdir(sdir);
}

static void test_process_identity(void)
{
	pid_t child;
	uint64_t mine = state_process_start(getpid());

	CHECK(mine != 0);
	CHECK(state_process_start(getpid()) == mine);
	child = fork();
	if (child == 0)
		_exit(0);
	waitpid(child, NULL, 0);
	/* Reaped: nothing to find (or, were the pid reused this fast, a
	 * process that started later than this one). */
	CHECK(state_process_start(child) == 0 || state_process_start(child) > mine);
	CHECK(state_current_netns() != 0);
	CHECK(state_process_running(getpid(), mine));
	CHECK(!state_process_running(getpid(), mine + 1));	/* another process with our pid */

	/* A daemon killed but not yet collected by its parent (a zombie) has
	 * ended: roam up must not take it for a running roamd. */
	int p[2];
	CHECK(pipe(p) == 0);
	child = fork();
	if (child == 0) {
		close(p[0]);
		_exit(0);
	}
	close(p[1]);
	char c;
	CHECK(read(p[0], &c, 1) == 0);	/* the child has exited */
	close(p[0]);
	uint64_t start = 0;
	for (int i = 0; i < 100 && !start; i++)
		start = state_process_start(child);
	CHECK(start != 0);	/* still there, as a zombie */
	bool zombie_running = true;
	for (int i = 0; i < 200 && zombie_running; i++) {
		zombie_running = state_process_running(child, start);
		if (zombie_running)
			usleep(5000);	/* until the kernel marks it Z */
	}
	CHECK(!zombie_running);
	waitpid(child, NULL, 0);
}

static void test_dns_names(void)
{
	enum dns_method m;

	for (int i = DNS_NONE; i <= DNS_RESOLVECTL; i++)
		CHECK(dns_method_parse(dns_method_name((enum dns_method)i), &m) && m == (enum dns_method)i);
	CHECK(!dns_method_parse("resolved", &m));
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/roam-state-test.XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	RUN(test_round_trip);
	RUN(test_refused);
	RUN(test_control_characters);
	RUN(test_untrusted_ledger);
	RUN(test_state_dir);
	RUN(test_process_identity);
	RUN(test_dns_names);
	rmdir(dir);
	return test_finish("test_roam_state");
}
