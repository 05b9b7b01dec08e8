/* roamd [-f|--foreground] IFNAME — a drop-in for wireguard-go (docs/protocol.md
 * §7.6): creates the interface and the UAPI socket, then daemonises; the
 * parent exits 0 only once both exist, because wg-quick configures the
 * interface the moment we return. */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include "daemon.h"
#include "events.h"
#include "log.h"
#include "names.h"
#include "netwatch.h"
#include "privileges.h"
#include "sandbox.h"
#include "sd_notify.h"
#include "uapi_contract.h"
#include "version.h"


static void usage(FILE *f)
{
	fprintf(f, "Usage: roamd [-f|--foreground] [-u|--user USER] INTERFACE-NAME\n"
		   "       roamd --version\n"
		   "Once the interface and its UAPI socket exist, roamd runs as USER (default: \"" PRIVILEGES_DEFAULT_USER "\"\n"
		   "if that user exists, else \"" PRIVILEGES_FALLBACK_USER "\") with only CAP_NET_ADMIN (fwmark, forced\n"
		   "socket buffers) and CAP_NET_BIND_SERVICE (a listen port below 1024), NO_NEW_PRIVS and a\n"
		   "seccomp filter; a capability-less root process (roamd-keeper) removes the socket at exit.\n"
		   "             ROAMD_NO_DROP=1 stays root, ROAMD_NO_SECCOMP=1 runs without the filter,\n"
		   "             ROAMD_SECCOMP_LOG=1 only logs calls outside it to the kernel's audit log\n"
		   "             (all three for debugging, and logged as errors)\n"
		   "             WG_TUN_FD=N, WG_UAPI_FD=N: a TUN device (IFF_TUN|IFF_NO_PI, optionally\n"
		   "             IFF_VNET_HDR) and a listening UAPI socket a privileged parent opened, so\n"
		   "             roamd itself can start with no privilege at all (its MTU, and removing the\n"
		   "             socket at exit, are then the parent's)\n"
		   "systemd:     NOTIFY_SOCKET (a path, or @abstract): MAINPID and READY=1 once up, STOPPING=1\n"
		   "             at exit; WATCHDOG_USEC: WATCHDOG=1 every half of it (unless WATCHDOG_PID is\n"
		   "             another process's); ROAMD_READY_BY_PARENT=1 leaves READY=1 to the parent\n"
		   "             (roam up sends it when its steps are done)\n"
		   "Environment: WG_PROCESS_FOREGROUND=1 (same as -f), LOG_LEVEL=error|info|verbose,\n"
		   "             ROAMD_NO_NETWATCH=1 (do not send to every peer at once when this host's\n"
		   "             addresses or routes change: peers then learn a new address from our next\n"
		   "             packet; source addresses are still checked against the routes before it)\n"
		   "Offloads, each on when the kernel takes it; set any of these to 1 to turn it off:\n"
		   "             ROAMD_NO_OFFLOAD (all of them), ROAMD_NO_VNET (plain TUN reads and writes),\n"
		   "             ROAMD_NO_TSO (no super-packets from TUN), ROAMD_NO_GSO (no UDP_SEGMENT sends),\n"
		   "             ROAMD_NO_GRO (no UDP_GRO receives, no gluing for TUN);\n"
		   "             ROAMD_NO_PMTU=1 does not learn peers' path MTUs (docs/path-mtu.md): no inner\n"
		   "             packet is cut, refused with ICMP or fragmented to fit a smaller path\n"
		   "             ROAMD_VERIFY_CHECKSUMS=1 re-checks the inner checksums of decrypted packets\n"
		   "             (by default they are trusted because the AEAD authenticated them, as\n"
		   "             kernel WireGuard trusts them)\n"
		   "             ROAMD_NO_STEERING=1 reads handshake messages and data from one socket\n"
		   "             (by default the kernel steers them to sockets of their own on the\n"
		   "             port, so a flood of handshakes never fills the data's receive buffer)\n"
		   "             ROAMD_HANDSHAKE_INLINE=1 handles handshake messages where they arrive, in\n"
		   "             order with the data, and models the load (for comparison: by default they\n"
		   "             wait behind the data and the load is measured)\n"
		   "             ROAMD_HANDSHAKE_THREADS=0 does initiations' Diffie-Hellman on the data\n"
		   "             path's thread (for comparison: by default a worker thread does it)\n");
}

/* Forks. The parent waits on a pipe for the child's verdict and never
 * returns: exit 0 once the child says it is ready, 1 if the child dies
 * first (it has printed why on the stderr they share). The child returns
 * the pipe's write end. */
static int daemonise(void)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		fprintf(stderr, "roamd: pipe: %s\n", strerror(errno));
		exit(1);
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "roamd: fork: %s\n", strerror(errno));
		exit(1);
	}
	if (pid > 0) {
		close(p[1]);
		char c = 0;
		ssize_t n;
		do
			n = read(p[0], &c, 1);
		while (n < 0 && errno == EINTR);
		if (n == 1 && c == 'R')
			_exit(0);
		waitpid(pid, NULL, 0);
		_exit(1);
	}
	close(p[0]);
	/* No controlling terminal: closing the shell that started us must
	 * not send us SIGHUP. */
	setsid();
	return p[1];
}

/* The daemon no longer talks to whoever started it. */
static void detach_stdio(void)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	if (chdir("/") < 0)
		log_verbose("chdir /: %s", strerror(errno));
}

bool env_on(const char *name)
{
	const char *v = getenv(name);
	return v && *v && strcmp(v, "0") != 0;
}

/* An fd handed over by the parent in the environment variable name (as
 * wireguard-go takes WG_TUN_FD and WG_UAPI_FD): -1 if unset, -2 if not a
 * number above 2. */
static int env_fd(const char *name)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return -1;
	char *end;
	errno = 0;
	long fd = strtol(v, &end, 10);
	if (errno || *end || fd <= STDERR_FILENO || fd > 65535)
		return -2;
	return (int)fd;
}

/* Whatever else the starting process left open (a shell's pipes, a
 * supervisor's log file) is closed: a long-lived daemon that parses bytes
 * from the internet holds no fd it was not meant to have. Only the fds
 * handed over on purpose (WG_TUN_FD, WG_UAPI_FD; -1 if none) survive. */
static void close_inherited_fds(int keep_a, int keep_b)
{
	int keep[2] = {keep_a < keep_b ? keep_a : keep_b, keep_a < keep_b ? keep_b : keep_a};
	unsigned from = STDERR_FILENO + 1;
	for (int i = 0; i < 2; i++) {
		if (keep[i] < (int)from)
			continue;
		if ((unsigned)keep[i] > from)
			close_range(from, (unsigned)keep[i] - 1, 0);
		from = (unsigned)keep[i] + 1;
	}
	close_range(from, ~0U, 0);
}

static int setup(struct daemon *d, const char *ifname, int tun_fd, int uapi_fd, char *err, size_t err_len)
{
	memset(d, 0, sizeof(*d));
	d->epoll_fd = d->timer_fd = d->signal_fd = d->notify_fd = d->resume_fd = -1;
	d->tun.fd = -1;
	d->ipc.fd = d->ipc.inotify_fd = -1;
	snprintf(d->ifname, sizeof(d->ifname), "%s", ifname);
	ports_init(d);
	/* Without the ring (256 KiB) roamd would still work, but an operator
	 * relying on `roam events` would miss facts without knowing. */
	if (events_init(d) < 0 || datapath_init(d) < 0) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	struct device_io io = datapath_device_io(d);
	d->dev = device_new(&io);
	if (!d->dev || handshake_work_init(d) < 0) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	/* A parent that opened the TUN device and the UAPI listener for us
	 * (WG_TUN_FD, WG_UAPI_FD) lets roamd start without any privilege. */
	int ret = tun_fd >= 0 ? tun_adopt(&d->tun, tun_fd, ifname, err, err_len)
			      : tun_open(&d->tun, ifname, DEFAULT_MTU, d->dp.opt_vnet, err, err_len);
	if (ret)
		return ret;
	datapath_tun_ready(d);
	device_set_mtu(d->dev, DEFAULT_MTU);
	/* Probing the path goes with learning it (ROAMD_NO_PMTU: neither). */
	device_set_path_probing(d->dev, d->dp.udp.pmtu);
	d->link.mtu = DEFAULT_MTU;
	ret = uapi_fd >= 0 ? ipc_socket_adopt(&d->ipc, uapi_fd, ifname, err, err_len)
			   : ipc_socket_open(&d->ipc, ifname, err, err_len);
	if (ret)
		return ret;
	/* Without it the tunnel works as wireguard-go's does, so a failure is
	 * said but not fatal. ROAMD_NO_NETWATCH=1 turns off the rounds that
	 * tell peers of a change at once; the routing generation that keeps
	 * sticky sources honest stays (wireguard-go has that too). */
	bool notify = !env_on("ROAMD_NO_NETWATCH");
	if (!notify)
		log_verbose("netwatch: no notification rounds (ROAMD_NO_NETWATCH)");
	char nw_err[128];
	d->netwatch = netwatch_open(d->tun.ifindex, notify, nw_err, sizeof(nw_err));
	if (!d->netwatch)
		log_error("%s: peers will learn of network changes only from our next packet", nw_err);
	ret = loop_init(d, err, err_len);
	if (ret)
		return ret;
	/* Without it roamd works as before: numeric endpoints only (roam up
	 * resolves names once). Said, not fatal. */
	char names_err[128];
	if (names_init(d, names_err, sizeof(names_err)) < 0)
		log_error("%s: host names of peers will not be followed", names_err);
	if (resume_init(d, names_err, sizeof(names_err)) < 0)
		log_error("%s: a resume is noticed only at the next timer", names_err);
	return 0;
}

static void teardown(struct daemon *d)
{
	/* Clients first (they hold the device), then the socket file so `wg`
	 * stops seeing us, then the engine, which wipes every key, and last
	 * the TUN fd, whose closing deletes the interface. */
	names_free(d);
	resume_free(d);
	loop_free(d);
	netwatch_close(d->netwatch);
	d->netwatch = NULL;
	ipc_socket_close(&d->ipc);
	if (d->dev)
		device_down(d->dev);
	ports_free(d);
	device_free(d->dev);
	d->dev = NULL;
	tun_close(&d->tun);
	datapath_free(&d->dp);
	handshake_work_free(d);
	events_free(d);
	if (d->notify_fd >= 0)
		close(d->notify_fd);
	d->notify_fd = -1;
}

/* systemd's socket is connected while we may still reach it (its path is
 * root's; the seccomp filter allows no new connection to it later). */
static void notify_open(struct daemon *d)
{
	d->notify_fd = sd_notify_open();
	if (d->notify_fd < -1)
		log_error("NOTIFY_SOCKET=%s: %s; systemd will not hear that we are ready", getenv("NOTIFY_SOCKET"),
			  strerror(-d->notify_fd));
	d->watchdog_ns = d->notify_fd >= 0 ? sd_watchdog_ns() / 2 : 0;
	d->watchdog_at = now_ns();
}

/* Tells systemd who to watch (we may be a forked child of the process it
 * started) and that we are ready, unless the roam up that started us says
 * READY itself once it has configured the interface. */
static void notify_ready(struct daemon *d)
{
	char msg[160];
	snprintf(msg, sizeof(msg), "MAINPID=%d\n%sSTATUS=%s up\n", (int)getpid(),
		 env_on("ROAMD_READY_BY_PARENT") ? "" : "READY=1\n", d->ifname);
	int ret = sd_notify_send(d->notify_fd, msg);
	if (ret < 0)
		log_error("NOTIFY_SOCKET: %s", strerror(-ret));
	else if (d->watchdog_ns)
		log_verbose("systemd watchdog: a ping every %llu ms", (unsigned long long)(d->watchdog_ns / 1000000));
}

/* The seccomp filter, unless switched off or a sanitizer build (sandbox.h).
 * false: it could not be installed (logged). */
static bool enter_sandbox(char *err, size_t err_len)
{
	const char *why;
	bool log_only = env_on("ROAMD_SECCOMP_LOG");
	if (env_on("ROAMD_NO_SECCOMP")) {
		log_error("ROAMD_NO_SECCOMP is set: running without the seccomp filter (for debugging only)");
	} else if (!sandbox_supported(&why)) {
		log_info("no seccomp filter in %s (its runtime makes calls the filter does not know)", why);
	} else if (sandbox_enter(log_only, err, err_len) < 0) {
		log_error("%s", err);
		return false;
	} else if (log_only) {
		log_error("ROAMD_SECCOMP_LOG is set: calls outside the seccomp filter are only logged (audit log)");
	}
	return true;
}

int main(int argc, char **argv)
{
	bool foreground = false;
	const char *ifname = NULL, *user = NULL;

	/* First thing, before any key exists: no core dump of this process
	 * (it would hold the private key), and no ptrace attach by a process
	 * of the same uid once we drop privileges; /proc/PID/ files become
	 * root-owned. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		fprintf(stderr, "roamd: prctl(PR_SET_DUMPABLE): %s\n", strerror(errno));
	/* Blocks of a MiB or more (UAPI requests and replies) are mapped on
	 * their own and given back when freed. glibc would otherwise raise
	 * that threshold after the first such free and keep later ones in
	 * its heap, where a burst of large requests stays resident. */
	mallopt(M_MMAP_THRESHOLD, 1 << 20);

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--version") || !strcmp(a, "-v")) {
			printf("roamd %s\n"
			       "A WireGuard-compatible userspace daemon (cross-platform UAPI, protocol version 1).\n",
			       ROAM_VERSION);
			return 0;
		}
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		}
		if (!strcmp(a, "-f") || !strcmp(a, "--foreground")) {
			foreground = true;
		} else if ((!strcmp(a, "-u") || !strcmp(a, "--user")) && i + 1 < argc) {
			user = argv[++i];
		} else if (a[0] == '-' || ifname) {
			usage(stderr);
			return 1;
		} else {
			ifname = a;
		}
	}
	if (!ifname) {
		usage(stderr);
		return 1;
	}
	if (!uapi_ifname_valid(ifname, strlen(ifname))) {
		/* Say the rule (the kernel's, dev_valid_name), not just "no". */
		size_t len = strlen(ifname);
		if (len >= UAPI_IFNAME_MAX)
			fprintf(stderr,
				"roamd: invalid interface name '%s': %zu characters, the limit is %d "
				"(any but '/', ':' and whitespace; not '.' or '..')\n",
				ifname, len, UAPI_IFNAME_MAX - 1);
		else
			fprintf(stderr,
				"roamd: invalid interface name '%s': 1 to %d characters, any but '/', ':' and "
				"whitespace; not '.' or '..'\n",
				ifname, UAPI_IFNAME_MAX - 1);
		return 1;
	}
	const char *fg = getenv("WG_PROCESS_FOREGROUND");
	if (fg && !strcmp(fg, "1"))
		foreground = true;
	enum log_level level;
	if (!log_parse_level(getenv("LOG_LEVEL"), &level)) {
		fprintf(stderr, "roamd: unknown LOG_LEVEL '%s' (error, info or verbose)\n", getenv("LOG_LEVEL"));
		return 1;
	}
	log_init(level, ifname);

	int tun_fd = env_fd("WG_TUN_FD"), uapi_fd = env_fd("WG_UAPI_FD");
	if (tun_fd == -2 || uapi_fd == -2) {
		fprintf(stderr, "roamd: WG_TUN_FD and WG_UAPI_FD must be open file descriptors above 2\n");
		return 1;
	}
	close_inherited_fds(tun_fd, uapi_fd);

	/* Who to become is settled now, while the user database can still be
	 * read and a mistake still reaches the terminal. */
	struct privileges priv;
	char perr[160];
	bool no_drop = env_on("ROAMD_NO_DROP");
	if (privileges_plan(&priv, user, no_drop, perr, sizeof(perr)) < 0) {
		fprintf(stderr, "roamd: %s\n", perr);
		return 1;
	}

	int ready_fd = -1;
	if (!foreground) {
		ready_fd = daemonise();
		log_to_syslog(true);
	}

	/* Signals arrive through the loop's signalfd; blocking them now means
	 * one sent during set-up waits there instead of killing us with the
	 * interface half made. Inherited only by threads we do not start. */
	sigset_t set;
	loop_signals(&set);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* Forked while we hold no fd worth having (privileges.h). */
	int keeper_fd = -1;
	if (priv.drop && uapi_fd < 0) {
		char path[UAPI_SOCKET_PATH_MAX];
		snprintf(path, sizeof(path), "%s/%s.sock", UAPI_SOCKET_DIR, ifname);
		keeper_fd = keeper_start(path);
	}

	struct daemon d;
	char err[256] = "";
	if (setup(&d, ifname, tun_fd, uapi_fd, err, sizeof(err)) < 0) {
		log_error("%s", err);
		teardown(&d);
		log_close();
		return 1;
	}
	keeper_arm(keeper_fd, d.ipc.dev, d.ipc.ino);
	notify_open(&d);
	if (privileges_drop(&priv, err, sizeof(err)) < 0) {
		log_error("dropping privileges: %s", err);
		teardown(&d);
		log_close();
		return 1;
	}
	/* With the privileges dropped (the thread inherits that) and before
	 * the seccomp filter, which covers every thread. */
	int hs_ret = handshake_work_start(&d);
	if (hs_ret < 0) {
		log_error("handshake worker thread: %s", strerror(-hs_ret));
		teardown(&d);
		log_close();
		return 1;
	}
	if (priv.drop)
		log_info("running as %s (uid %u) with CAP_NET_ADMIN and CAP_NET_BIND_SERVICE only", priv.user,
			 (unsigned)priv.uid);
	else if (no_drop)
		log_error("ROAMD_NO_DROP is set: running with all of root's privileges (for debugging only)");
	else
		log_verbose("started without root: nothing to drop");
	log_info("interface %s created (MTU %u, down), UAPI socket %s", ifname, DEFAULT_MTU, d.ipc.path);

	if (!foreground) {
		/* Logs must not vanish without a word: with no syslog daemon
		 * to take them, say so while someone still reads stderr. (Not
		 * keeping stderr instead: whoever started roamd, a shell's
		 * $(roam up) say, would wait for it to close.) */
		if (!log_syslog_reachable())
			log_error("no syslog daemon listens on %s: roamd's log lines will be lost; run it with -f under "
				  "a supervisor that keeps stderr, or start journald or rsyslog",
				  _PATH_LOG);
		detach_stdio();
		log_to_syslog(false);
	}
	/* After the drop (the filter need not allow setresuid or capset) and
	 * after detaching (no opening /dev/null for writing, no chdir), but
	 * before a daemonising parent reports success: a filter that cannot be
	 * installed is a failed start. */
	if (!enter_sandbox(err, sizeof(err))) {
		teardown(&d);
		log_close();
		return 1;
	}
	if (!foreground) {
		ssize_t n;
		do
			n = write(ready_fd, "R", 1);
		while (n < 0 && errno == EINTR);
		close(ready_fd);
	}
	notify_ready(&d);

	loop_run(&d);
	sd_notify_send(d.notify_fd, "STOPPING=1");
	datapath_log_stats(&d);
	handshake_work_log_stats(&d);
	teardown(&d);
	log_close();
	return d.exit_code;
}
