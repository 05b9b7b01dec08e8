/* roam events [IFNAME] [--no-follow] [--new]: roamd's events as JSON
 * lines, one object per event (docs/events-json.md), followed like
 * `journalctl -f`.
 *
 * The daemon keeps the events in a ring and answers "get=3" with those
 * after a cursor; this command keeps one cursor per interface and asks
 * again every POLL_MS. A poll is one short UAPI request, so following
 * costs the daemon nothing between polls and needs no connection held
 * open. The daemon going away is an error (exit 1): a follower that kept
 * silent then would look like a quiet tunnel. */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <unistd.h>

#include "alloc.h"
#include "uapi_client.h"

enum {
	POLL_MS = 200,	/* a follower sees an event within this */
};

static const char events_usage[] =
	"Usage: roam events [IFNAME] [--no-follow] [--new | --after SEQ]\n"
	"\n"
	"Prints roamd's events as JSON lines, one object per event, oldest first, then\n"
	"follows (like 'journalctl -f') until interrupted. Only authenticated facts and\n"
	"roamd's own decisions are events; nothing a stranger's packet can cause:\n"
	"  handshake_completed, handshake_given_up, session_expired, endpoint_changed\n"
	"  (by an authenticated packet), failover (handshakes moved to another endpoint\n"
	"  candidate), name_resolved (a peer's host name has new addresses), resume (the\n"
	"  machine slept or roamd was frozen), fresh_port (a new source port).\n"
	"Each object has \"seq\", \"time\" (RFC 3339, UTC), \"monotonic_ms\", \"interface\",\n"
	"\"type\", \"peer\" (base64 public key; absent for interface-wide events) and the\n"
	"fields of its type; docs/events-json.md describes them all.\n"
	"Without IFNAME: every interface run by roamd (others are skipped with a note).\n"
	"roamd keeps the last 256 events of each interface.\n"
	"\n"
	"  --no-follow   print the events kept and exit\n"
	"  --new         skip the events kept: only those from now on\n"
	"  --after SEQ   only the events after sequence number SEQ (a saved cursor: a\n"
	"                reader that restarts misses nothing the ring still holds)\n"
	"\n"
	"Exit status: 0 (also when interrupted, or when the reader of the output goes\n"
	"away), 1 when the interface's daemon cannot be reached or goes away (without\n"
	"IFNAME: when the last one does; the others are followed on), 2 usage error.\n";

struct followed {
	char name[UAPI_IFNAME_MAX];
	uint64_t cursor;
	bool stalled;	/* the last poll timed out (said once) */
	bool gone;	/* its daemon went away (following them all) */
};

static struct followed *zeroed(size_t n)
{
	struct followed *fs = xrealloc(NULL, n * sizeof(*fs));
	memset(fs, 0, n * sizeof(*fs));
	return fs;
}

static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

/* Prints the events of one reply and moves the cursor. 0, -EPIPE when
 * stdout is gone, -EPROTO on a reply we do not understand. */
static int print_reply(struct followed *f, char *reply, size_t len, bool print)
{
	static const char ev_key[] = ROAM_KEY_EVENT "=", last_key[] = ROAM_KEY_EVENTS_LAST "=";
	char *line = reply, *end = reply + len;
	int daemon_errno = 1;

	while (line < end) {
		char *nl = memchr(line, '\n', (size_t)(end - line));
		if (!nl)
			break;
		*nl = '\0';
		if (!strncmp(line, ev_key, sizeof(ev_key) - 1)) {
			if (print && printf("%s\n", line + sizeof(ev_key) - 1) < 0)
				return -EPIPE;
		} else if (!strncmp(line, last_key, sizeof(last_key) - 1)) {
			uint64_t last = strtoull(line + sizeof(last_key) - 1, NULL, 10);
			/* Fewer than we saw: a new roamd, counting from 1 again. */
			f->cursor = last;
		} else if (!strncmp(line, "errno=", 6)) {
			daemon_errno = atoi(line + 6);
		}
		line = nl + 1;
	}
	if (fflush(stdout) == EOF)
		return -EPIPE;
	return daemon_errno ? -EPROTO : 0;
}

/* One round over every interface. 0, or 1 after saying what failed;
 * *gone_reader when stdout's reader left (not a failure). Following them
 * all (all), an interface that goes away is said and dropped, and only
 * the last one's going is a failure: interfaces come and go on a host. */
static int poll_round(struct followed *fs, size_t n, bool all, bool print, bool *gone_reader)
{
	size_t left = 0;
	for (size_t i = 0; i < n; i++) {
		char *reply = NULL, err[256];
		size_t len = 0;
		uint64_t before = fs[i].cursor;
		if (fs[i].gone)
			continue;
		int ret = uapi_fetch_events(fs[i].name, before, &reply, &len, err, sizeof(err));
		if (all && (ret == -ENOENT || ret == -ECONNREFUSED)) {
			fprintf(stderr, "roam events: %s; following the others\n", err);
			fs[i].gone = true;
			continue;
		}
		left++;
		/* A daemon that is there but does not answer in time (stopped,
		 * swamped) is not gone: its events wait in the ring. */
		if (ret == -ETIMEDOUT) {
			if (!fs[i].stalled)
				fprintf(stderr, "roam events: %s: no answer yet, still trying\n", fs[i].name);
			fs[i].stalled = true;
			continue;
		}
		fs[i].stalled = false;
		if (ret) {
			fprintf(stderr, "roam events: %s\n", err);
			return 1;
		}
		ret = print_reply(&fs[i], reply, len, print);
		free(reply);
		if (ret == -EPIPE) {
			*gone_reader = true;
			return 0;
		}
		if (ret) {
			fprintf(stderr, "roam events: %s: the daemon's reply was not understood\n", fs[i].name);
			return 1;
		}
		/* A restarted roamd counts from 1 again: start over with it
		 * at once rather than wait for it to pass the old count. */
		if (fs[i].cursor < before) {
			fs[i].cursor = 0;
			i--;
			left--;
		}
	}
	if (!left && !*gone_reader) {
		fputs("roam events: no interface left to follow\n", stderr);
		return 1;
	}
	return 0;
}

/* Waits POLL_MS, or less if stdout's reader went away (a pipe whose
 * reading end closed reports POLLERR): `roam events | head -n 1` ends
 * then, not at the next event. true: the reader is gone. */
static bool wait_or_reader_gone(void)
{
	struct pollfd pfd = {.fd = STDOUT_FILENO, .events = 0};
	int n = poll(&pfd, 1, POLL_MS);	/* EINTR: a signal, seen by the caller */
	return n > 0 && (pfd.revents & (POLLERR | POLLHUP));
}

int cmd_events(int argc, char **argv)
{
	const char *ifname = NULL;
	bool follow = true, only_new = false;
	uint64_t after = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(events_usage, stdout);
			return 0;
		} else if (!strcmp(argv[i], "--no-follow")) {
			follow = false;
		} else if (!strcmp(argv[i], "--new")) {
			only_new = true;
		} else if (!strcmp(argv[i], "--after") && i + 1 < argc) {
			char *end;
			errno = 0;
			after = strtoull(argv[++i], &end, 10);
			if (errno || end == argv[i] || *end || argv[i][0] == '-') {
				fprintf(stderr, "roam events: --after takes a sequence number, not '%s'\n", argv[i]);
				return 2;
			}
		} else if (argv[i][0] == '-' || ifname) {
			fprintf(stderr, "roam events: unexpected '%s'\n%s", argv[i], events_usage);
			return 2;
		} else {
			ifname = argv[i];
		}
	}

	struct followed *fs;
	size_t n = 0;
	if (ifname) {
		fs = zeroed(1);
		snprintf(fs[0].name, sizeof(fs[0].name), "%s", ifname);
		n = 1;
	} else {
		char **names;
		size_t count;
		if (uapi_list_interfaces(&names, &count) < 0) {
			fprintf(stderr, "roam events: cannot list %s: %s\n", UAPI_SOCKET_DIR, strerror(errno));
			return 1;
		}
		fs = zeroed(count ? count : 1);
		for (size_t i = 0; i < count; i++) {
			char *reply = NULL, err[256];
			size_t len = 0;
			/* Only roamd has events: a wireguard-go interface is
			 * not an error here, only not followed. */
			if (uapi_fetch_events(names[i], UINT64_MAX / 2, &reply, &len, err, sizeof(err)) == -ENOTSUP) {
				fprintf(stderr, "roam events: skipping %s\n", err);
				continue;
			}
			free(reply);
			snprintf(fs[n++].name, sizeof(fs[0].name), "%s", names[i]);
		}
		uapi_names_free(names);
		if (!n) {
			fputs("roam events: no interface run by roamd\n", stderr);
			free(fs);
			return 1;
		}
	}

	/* A closed pipe is an answer (head, a reader that quit), seen as
	 * EPIPE on write; SIGINT and SIGTERM end the loop between polls. */
	struct sigaction sa = {.sa_handler = on_stop};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	for (size_t i = 0; i < n; i++)
		fs[i].cursor = after;
	bool gone_reader = false;
	int ret = poll_round(fs, n, !ifname, !only_new, &gone_reader);
	while (!ret && follow && !stop && !gone_reader) {
		if (wait_or_reader_gone())
			break;
		if (stop)
			break;
		ret = poll_round(fs, n, !ifname, true, &gone_reader);
	}
	free(fs);
	return ret;
}
