/* The roam up ledger (src/roam/state.c): every record written and read
 * back exactly, the file private to its owner and replaced atomically,
 * malformed or foreign files refused with their line, and the process
 * identity down relies on to never signal a reused pid.
 */
#include <errno.h>
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
	RUN(test_process_identity);
	RUN(test_dns_names);
	rmdir(dir);
	return test_finish("test_roam_state");
}
