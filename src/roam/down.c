/* roam down CONFIG|IFNAME: undoes what roam up recorded in its ledger
 * (state.h), and nothing else:
 *
 *   PreDown hooks -> policy rules -> nftables tables -> DNS -> delete the link (its addresses
 *   and routes go with it, and roamd exits) -> wait for roamd -> a socket
 *   roamd could not remove -> src_valid_mark -> PostDown hooks -> ledger
 *
 * It works from the ledger alone, so it also cleans up after a roamd that
 * was killed (its interface died with it, but rules, DNS and the socket
 * file stay) and after a roam up that died half-way. */
#include <errno.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dns.h"
#include "firewall.h"
#include "rtnl.h"
#include "run.h"
#include "state.h"
#include "uapi_client.h"
#include "updown.h"

enum {
	/* Deleting its interface makes roamd exit; how long to wait before
	 * asking with SIGTERM, and then before SIGKILL. */
	ROAMD_EXIT_WAIT_MS = 5000,
	ROAMD_TERM_WAIT_MS = 2000,
	POLL_MS = 20,
};

static const char down_usage[] =
	"Usage: roam down CONFIG|IFNAME\n"
	"\n"
	"Takes down an interface that 'roam up' brought up, undoing exactly what it\n"
	"recorded in " STATE_DIR "/IFNAME.state: PreDown hooks, the policy rules and nftables\n"
	"tables (roam-IFNAME) of a full tunnel, the DNS registration, the interface (with its addresses and routes,\n"
	"which makes roamd exit), the daemon itself if it lingers, its socket if roamd was\n"
	"killed and could not remove it, src_valid_mark, then PostDown hooks. Anything\n"
	"already gone (a roamd killed with -9 takes its interface along) counts as done.\n"
	"The hooks are those of the file at 'roam up' time. CONFIG|IFNAME is read as by\n"
	"'roam up'; the file itself is not needed.\n"
	"\n"
	"The hooks run as root, so the ledger is refused unless " STATE_DIR " is a real\n"
	"directory (no symbolic link) owned by root, of mode 0700, and the file a regular\n"
	"one owned by root that no one else can write, holding no control character.\n"
	"\n"
	"Exit status: 0 down, 1 something could not be undone (the state file is kept, so\n"
	"'roam down' can be run again), 2 usage error.\n";

/* Things that no longer exist are what down wants anyway. */
static bool already_gone(int err)
{
	return err == -ENOENT || err == -ESRCH || err == -ENODEV || err == -EADDRNOTAVAIL;
}

static int problem(const char *what, int err)
{
	fprintf(stderr, "roam down: cannot %s: %s\n", what, strerror(-err));
	return 1;
}

static int delete_rules(const struct roam_state *st)
{
	struct rtnl nl;
	int failures = 0, err;

	if (!st->n_rules)
		return 0;
	if ((err = rtnl_open(&nl)) < 0)
		return problem("open rtnetlink", err);
	for (size_t i = st->n_rules; i-- > 0;) {
		const struct rtnl_rule *r = &st->rules[i];
		if (r->suppress_prefixlen >= 0)
			run_say("ip -%c rule delete pref %u table main suppress_prefixlength %d",
				r->family == AF_INET ? '4' : '6', r->priority, r->suppress_prefixlen);
		else
			run_say("ip -%c rule delete pref %u not fwmark %u table %u", r->family == AF_INET ? '4' : '6',
				r->priority, r->fwmark, r->table);
		err = rtnl_rule_delete(&nl, r);
		if (err && !already_gone(err))
			failures += problem("delete that rule", err);
	}
	rtnl_close(&nl);
	return failures;
}

/* A table that is gone already is fine (firewall_remove), and so is a
 * host where nft has since been removed: the tables went with it only if
 * nftables was flushed, but nothing else could delete them either. */
static int delete_nft_tables(const struct roam_state *st)
{
	int failures = 0, ret;

	for (size_t i = st->n_nft_tables; i-- > 0;) {
		ret = firewall_remove(st->nft_tables[i].family, st->nft_tables[i].name);
		if (ret == -ENOENT)
			fprintf(stderr, "roam down: warning: nft is not installed; table %s %s stays if it exists\n",
				firewall_family_name(st->nft_tables[i].family), st->nft_tables[i].name);
		else if (ret)
			failures += problem("delete the nftables table", ret < 0 ? ret : -EIO);
	}
	return failures;
}

static bool is_our_roamd(const struct roam_state *st)
{
	return st->roamd_start && state_process_running(st->roamd_pid, st->roamd_start);
}

/* Polls until our roamd has gone, up to ms; true if it has. */
static bool wait_roamd_gone(const struct roam_state *st, int ms)
{
	struct timespec pause = { 0, POLL_MS * 1000000L };

	for (int waited = 0; is_our_roamd(st); waited += POLL_MS) {
		if (waited >= ms)
			return false;
		nanosleep(&pause, NULL);
	}
	return true;
}

/* The daemon exits when its interface goes; one that does not (hung, or
 * the interface was already gone and it somehow lives) is asked to. The
 * start time check keeps a reused pid from being signalled. */
static int stop_roamd(const struct roam_state *st)
{
	if (wait_roamd_gone(st, ROAMD_EXIT_WAIT_MS))
		return 0;
	run_say("kill -TERM %d", (int)st->roamd_pid);
	kill(st->roamd_pid, SIGTERM);
	if (wait_roamd_gone(st, ROAMD_TERM_WAIT_MS))
		return 0;
	run_say("kill -KILL %d", (int)st->roamd_pid);
	kill(st->roamd_pid, SIGKILL);
	return wait_roamd_gone(st, ROAMD_TERM_WAIT_MS) ? 0 : problem("stop roamd", -EBUSY);
}

/* A killed roamd leaves its socket file, and a socket nobody answers on
 * is what wg itself removes (docs/protocol.md §7.1). One a daemon answers is
 * somebody else's now and stays. */
static void remove_stale_socket(const char *ifname)
{
	char path[UAPI_SOCKET_PATH_MAX];
	int fd = uapi_connect(ifname);

	if (fd >= 0) {
		close(fd);
		return;
	}
	if (fd == -ECONNREFUSED && uapi_socket_path(ifname, path)) {
		run_say("rm %s", path);
		unlink(path);
	}
}

int updown_teardown(const struct roam_state *st)
{
	int failures = 0, err, now_index = st->ifindex ? (int)if_nametoindex(st->ifname) : 0;
	bool link_ours = st->ifindex && now_index == st->ifindex;
	struct rtnl nl;
	FILE *f;

	failures += delete_rules(st);
	failures += delete_nft_tables(st);
	/* resolved forgets a link's DNS when the link goes; asking it to
	 * revert one that is gone would only fail. */
	if (st->dns != DNS_NONE && (st->dns != DNS_RESOLVECTL || link_ours) && dns_unregister(st->dns, st->ifname) < 0)
		failures += problem("remove the DNS registration", -EIO);
	if (link_ours) {
		run_say("ip link delete dev %s", st->ifname);
		if ((err = rtnl_open(&nl)) < 0) {
			failures += problem("open rtnetlink", err);
		} else {
			err = rtnl_link_delete(&nl, st->ifindex);
			if (err && !already_gone(err))
				failures += problem("delete the interface", err);
			rtnl_close(&nl);
		}
	} else if (st->ifindex && now_index) {
		fprintf(stderr, "roam down: note: %s is now another interface (index %d, was %d); left alone\n",
			st->ifname, now_index, st->ifindex);
	}
	if (st->roamd_pid) {
		failures += stop_roamd(st);
		remove_stale_socket(st->ifname);
	}
	if (st->src_valid_mark) {
		run_say("sysctl -q net.ipv4.conf.all.src_valid_mark=0");
		f = fopen("/proc/sys/net/ipv4/conf/all/src_valid_mark", "we");
		if (!f || fputs("0\n", f) < 0 || fclose(f) != 0)
			failures += problem("turn net.ipv4.conf.all.src_valid_mark off again", -errno);
	}
	return failures;
}

static void run_down_hooks(char **hooks, size_t n, const char *ifname, const char *name)
{
	int ret;

	/* A failing hook must not stop down half-way: say so, go on. */
	for (size_t i = 0; i < n; i++)
		if ((ret = run_hook(hooks[i], ifname)) != 0)
			fprintf(stderr, "roam down: warning: a %s hook failed (%s %d)\n", name,
				ret < 0 ? "error" : "status", ret < 0 ? -ret : ret);
}

int updown_take_down(const char *ifname, const char *who)
{
	char err[512], path[4200];
	struct roam_state st;
	uint64_t netns;
	int ret;

	ret = state_load(ifname, &st, err, sizeof(err));
	if (ret == -ENOENT) {
		state_path(ifname, path, sizeof(path));
		fprintf(stderr, "%s: %s is not up (no %s; only what 'roam up' started can be taken down)\n", who,
			ifname, path);
		return 1;
	}
	if (ret) {
		/* The reason is in err: a malformed record, or a directory
		 * or file someone else could have written (state.h). */
		fprintf(stderr, "%s: %s\n", who, err);
		return 1;
	}
	/* Interfaces, rules and routes belong to a network namespace; from
	 * another one, down would remove someone else's. */
	netns = state_current_netns();
	if (st.netns && netns && st.netns != netns) {
		fprintf(stderr, "%s: %s was brought up in another network namespace (net:[%llu]); run it there\n",
			who, ifname, (unsigned long long)st.netns);
		state_free(&st);
		return 1;
	}
	run_down_hooks(st.pre_down, st.n_pre_down, ifname, "PreDown");
	ret = updown_teardown(&st);
	run_down_hooks(st.post_down, st.n_post_down, ifname, "PostDown");
	if (ret == 0)
		state_remove(ifname);
	else
		fprintf(stderr, "%s: %d thing%s could not be undone; %s/%s.state is kept for another try\n", who, ret,
			ret == 1 ? "" : "s", state_dir(), ifname);
	state_free(&st);
	return ret ? 1 : 0;
}

int cmd_down(int argc, char **argv)
{
	char ifname[UAPI_IFNAME_MAX], *config = NULL, err[512];

	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(down_usage, stdout);
		return 0;
	}
	if (argc != 2) {
		fputs("roam down: give one CONFIG file or IFNAME (see roam down --help)\n", stderr);
		return 2;
	}
	if (!updown_target(argv[1], ifname, &config, err, sizeof(err))) {
		fprintf(stderr, "roam down: %s\n", err);
		return 2;
	}
	free(config);
	return updown_take_down(ifname, "roam down");
}
