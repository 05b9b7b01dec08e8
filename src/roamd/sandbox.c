/* seccomp allowlists with libseccomp (sandbox.h).
 *
 * The list is what the running daemon was seen to call across the
 * integration suites (interop, tools, netwatch, offloads, lifecycle, the
 * roaming lab), run with the filter in log mode and the kernel's audit
 * records read back, plus what glibc does on rare paths of the same
 * functions (abort, syslog reconnecting, time zone checks). Where a call's
 * arguments say what it can reach, they are checked too: files only for
 * reading (no O_CREAT/O_TRUNC, no write access), sockets only of the
 * families roamd uses. Everything else, notably execve, ptrace, fork/clone,
 * mount, open-for-write, chmod/chown, setuid and friends, is trapped, and
 * so is any new executable mapping. */
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <seccomp.h>
#include <signal.h>
#include <ucontext.h>
#include <stdio.h>
#include <string.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/sockios.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include "log.h"
#include "sandbox.h"

/* Allowed with any arguments. */
static const char *const daemon_calls[] = {
	/* the event loop and its fds */
	"epoll_wait", "epoll_pwait", "epoll_pwait2", "epoll_ctl", "read", "readv", "write", "writev", "close",
	"timerfd_settime", "timerfd_gettime", "fcntl", "lseek",
	/* sockets: UDP data path, UAPI clients, netlink, syslog */
	"recvmmsg", "sendmmsg", "recvmsg", "sendmsg", "recvfrom", "sendto", "accept4", "accept", "bind", "connect",
	"setsockopt", "getsockopt", "getsockname", "getpeername", "shutdown",
	/* memory: malloc, secmem (mlock, MADV_DONTDUMP), OpenSSL; mmap and
	 * mprotect only without PROT_EXEC (add_no_exec_mappings) */
	"munmap", "madvise", "mlock", "munlock", "brk", "mremap",
	/* time, randomness, identity */
	"clock_gettime", "clock_getres", "gettimeofday", "time", "nanosleep", "clock_nanosleep", "getrandom",
	"getpid", "gettid", "getuid", "geteuid", "getgid", "getegid", "uname",
	/* glibc's qsort asks how much memory there is (sysinfo) before
	 * sorting more than a few hundred bytes: c-ares sorts the addresses
	 * of an answer, and a record of 100 addresses killed roamd here */
	"sysinfo",
	/* the UAPI socket check (lstat) and glibc's time zone check (stat) */
	"fstat", "newfstatat", "lstat", "stat", "statx",
	/* removing our own socket at exit: fails with EACCES in root's
	 * directory (the keeper does it); harmless to let it try */
	"unlink", "unlinkat",
	/* signals, threads' locks (OpenSSL), ending (tgkill: to ourselves
	 * only, add_sockets) */
	"rt_sigreturn", "rt_sigprocmask", "rt_sigaction", "sigaltstack", "futex", "sched_yield",
	"restart_syscall", "exit", "exit_group",
};

static const char *const keeper_calls[] = {
	"read", "fstat", "newfstatat", "lstat", "stat", "statx", "unlink", "unlinkat",
	"close", "rt_sigreturn", "exit", "exit_group",
	/* AddressSanitizer's interceptors set up an alternate signal stack on
	 * first use; harmless, and lets the test run the same filter there */
	"sigaltstack",
};

/* Names for the SIGSYS handler, resolved while malloc is still safe to call. */
enum { MAX_NR = 512 };
static char *nr_names[MAX_NR];

static void on_sigsys(int sig, siginfo_t *si, void *ucv)
{
	(void)sig;
	int nr = si->si_syscall;
	const char *name = nr >= 0 && nr < MAX_NR && nr_names[nr] ? nr_names[nr] : "?";
	unsigned long long a0 = 0, a1 = 0;
#if defined(__x86_64__)
	/* The first two arguments tell an ioctl's request or a socket's
	 * family: enough to tell a gap in the list from an attack. */
	const ucontext_t *uc = ucv;
	a0 = (unsigned long long)uc->uc_mcontext.gregs[REG_RDI];
	a1 = (unsigned long long)uc->uc_mcontext.gregs[REG_RSI];
#else
	(void)ucv;
#endif
	/* Not async-signal-safe (log_line formats, may call syslog), but the
	 * process ends here either way and the name is what the operator
	 * needs: an allowlist gap or an attack. */
	log_error("seccomp: forbidden system call %s (%d, arguments 0x%llx, 0x%llx); exiting", name, nr, a0, a1);
	/* Die of SIGSYS: with the default action restored, the kernel's forced
	 * SIGSYS for the same call again is fatal (it unblocks it). */
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	sigaction(SIGSYS, &dfl, NULL);
	syscall(SYS_ptrace, 0, 0, 0, 0); /* never on the list */
	_exit(128 + SIGSYS);
}

static int add_all(scmp_filter_ctx ctx, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int nr = seccomp_syscall_resolve_name(names[i]);
		if (nr == __NR_SCMP_ERROR)
			continue; /* not on this architecture (e.g. epoll_pwait2 on old headers) */
		int ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* open/openat only to read: glibc re-reads /etc/localtime when it changed,
 * and a resolver or NSS path could look at /etc files. */
static int add_read_only_opens(scmp_filter_ctx ctx)
{
	const scmp_datum_t forbidden = O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND | O_TMPFILE;
	int ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
				   SCMP_A2(SCMP_CMP_MASKED_EQ, forbidden, O_RDONLY));
	if (!ret && seccomp_syscall_resolve_name("open") != __NR_SCMP_ERROR)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(open), 1,
				       SCMP_A1(SCMP_CMP_MASKED_EQ, forbidden, O_RDONLY));
	return ret;
}

/* mmap and mprotect, but never with PROT_EXEC: the running daemon loads no
 * code (no dlopen: c-ares and libcrypto's default provider are linked in),
 * so an executable mapping can only be an exploit staging its shellcode. */
static int add_no_exec_mappings(scmp_filter_ctx ctx)
{
	int ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
				       SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	return ret;
}

/* New sockets: UDP on link up and listen-port changes (and TCP, when the
 * resolver falls back to it), a datagram socket for route lookups, AF_UNIX
 * for syslog, NETLINK_ROUTE for a re-opened watch. No raw or packet
 * sockets, no other netlink protocol (netfilter, xfrm, audit...): with
 * CAP_NET_ADMIN those would reconfigure the host. */
static int add_sockets(scmp_filter_ctx ctx)
{
	/* The type's low bits; SOCK_NONBLOCK and SOCK_CLOEXEC may ride along. */
	const scmp_datum_t type_mask = 0xf;
	static const struct {
		int family, type;
	} kinds[] = {
		{AF_INET, SOCK_DGRAM},	{AF_INET, SOCK_STREAM}, {AF_INET6, SOCK_DGRAM},
		{AF_INET6, SOCK_STREAM}, {AF_UNIX, SOCK_DGRAM},	{AF_UNIX, SOCK_STREAM},
	};
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		int ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 2,
					   SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)kinds[i].family),
					   SCMP_A1(SCMP_CMP_MASKED_EQ, type_mask, (scmp_datum_t)kinds[i].type));
		if (ret < 0)
			return ret;
	}
	int ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 2, SCMP_A0(SCMP_CMP_EQ, AF_NETLINK),
				   SCMP_A2(SCMP_CMP_EQ, NETLINK_ROUTE));
	if (ret < 0)
		return ret;
	/* Signals to ourselves only (abort, raise): every roamd runs as the
	 * same user, and one must not be able to stop the others. */
	ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid()));
	if (ret < 0)
		return ret;
	/* Read-only ioctls: stdio asks whether a stream is a terminal;
	 * if_indextoname (netwatch names an interface in its log lines) and
	 * if_nametoindex (a UAPI endpoint with %IFNAME scope) ask the kernel
	 * on a throwaway socket. Nothing that configures anything. */
	static const unsigned long ioctls[] = {TCGETS, SIOCGIFNAME, SIOCGIFINDEX};
	for (size_t i = 0; i < sizeof(ioctls) / sizeof(ioctls[0]); i++) {
		int ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
					   SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)ioctls[i]));
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int load(scmp_filter_ctx ctx, int ret)
{
	/* The filter does not depend on NO_NEW_PRIVS being set by libseccomp:
	 * privileges.c set it already (and the keeper did). */
	if (!ret)
		ret = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	/* Every thread, the handshake worker's too (handshake_worker.c),
	 * not only the one installing it. */
	if (!ret)
		ret = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (!ret)
		ret = seccomp_load(ctx);
	seccomp_release(ctx);
	return ret;
}

bool sandbox_supported(const char **why)
{
#if defined(__SANITIZE_ADDRESS__)
	*why = "an AddressSanitizer build";
	return false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
	*why = "an AddressSanitizer build";
	return false;
#endif
#endif
	*why = NULL;
	return true;
}

int sandbox_enter(bool log_only, char *err, size_t err_len)
{
	for (int nr = 0; nr < MAX_NR; nr++)
		if (!nr_names[nr])
			nr_names[nr] = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
	struct sigaction sa = {.sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO};
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0) {
		snprintf(err, err_len, "sigaction(SIGSYS): %s", strerror(errno));
		return -1;
	}
	scmp_filter_ctx ctx = seccomp_init(log_only ? SCMP_ACT_LOG : SCMP_ACT_TRAP);
	if (!ctx) {
		snprintf(err, err_len, "seccomp_init failed");
		return -1;
	}
	int ret = add_all(ctx, daemon_calls, sizeof(daemon_calls) / sizeof(daemon_calls[0]));
	if (!ret)
		ret = add_read_only_opens(ctx);
	if (!ret)
		ret = add_sockets(ctx);
	if (!ret)
		ret = add_no_exec_mappings(ctx);
	ret = load(ctx, ret);
	if (ret < 0) {
		snprintf(err, err_len, "seccomp filter: %s", strerror(-ret));
		return -1;
	}
	return 0;
}

int sandbox_keeper(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!ctx)
		return -1;
	return load(ctx, add_all(ctx, keeper_calls, sizeof(keeper_calls) / sizeof(keeper_calls[0])));
}
