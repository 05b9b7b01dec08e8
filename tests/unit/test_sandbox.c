/* roamd's seccomp filters (src/roamd/sandbox.c): each case forks a child
 * that installs the filter exactly as roamd does and then makes one call;
 * allowed calls must go through, forbidden ones must kill the child by
 * SIGSYS, with the daemon's filter naming the call in its log line. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <linux/netlink.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "sandbox.h"
#include "test.h"

enum what {
	ALLOWED_CALLS,	/* getpid, read-only open, a UDP socket: exits 0 */
	OPEN_FOR_WRITE,
	EXECVE,
	PACKET_SOCKET,
	RAW_SOCKET,	/* AF_INET raw: the family is allowed, the type is not */
	NETFILTER_SOCKET, /* netlink, but not NETLINK_ROUTE */
	SIGNAL_OTHERS,	/* tgkill to another process (the parent) */
	EXEC_MAPPING,	/* mmap with PROT_EXEC */
	EXEC_PROTECT,	/* mprotect of a data page to PROT_EXEC */
	KEEPER_UNLINK,	/* keeper filter: unlink of a missing file is fine */
	KEEPER_SOCKET,	/* keeper filter: any socket is fatal */
};

static int compare_ints(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

static void child(enum what w)
{
	char err[160];
	pid_t parent = getppid();	/* asked before the filter, which forbids it */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		_exit(90);
	if (w >= KEEPER_UNLINK) {
		if (sandbox_keeper() < 0)
			_exit(91);
	} else if (sandbox_enter(false, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		_exit(91);
	}
	switch (w) {
	case ALLOWED_CALLS: {
		if (getpid() <= 0)
			_exit(2);
		int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			_exit(3);
		close(fd);
		int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (s < 0)
			_exit(4);
		close(s);
		s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
		if (s < 0)
			_exit(6);
		close(s);
		/* A signal to itself (abort and raise send them so). */
		if (syscall(SYS_tgkill, getpid(), gettid(), 0) < 0)
			_exit(7);
		/* glibc's qsort of more than a few hundred bytes asks
		 * sysinfo how much memory there is: c-ares sorting a record
		 * of 100 addresses did, and roamd was killed for it. */
		int many[1000];
		for (int i = 0; i < 1000; i++)
			many[i] = 1000 - i;
		qsort(many, 1000, sizeof(many[0]), compare_ints);
		if (many[0] != 1)
			_exit(8);
		/* Data mappings and read-only protection changes. */
		void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED || mprotect(m, 4096, PROT_READ) < 0)
			_exit(8);
		_exit(0);
	}
	case OPEN_FOR_WRITE:
		(void)open("/tmp/roam-test-sandbox-must-not-exist", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		break;
	case EXECVE: {
		char *argv[] = {"true", NULL};
		execve("/bin/true", argv, (char *[]){NULL});
		break;
	}
	case PACKET_SOCKET:
		(void)socket(AF_PACKET, SOCK_RAW, 0);
		break;
	case RAW_SOCKET:
		(void)socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
		break;
	case NETFILTER_SOCKET:
		(void)socket(AF_NETLINK, SOCK_RAW, NETLINK_NETFILTER);
		break;
	case SIGNAL_OTHERS:
		(void)syscall(SYS_tgkill, parent, parent, 0);
		break;
	case EXEC_MAPPING:
		(void)mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		break;
	case EXEC_PROTECT: {
		void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED)
			_exit(9);
		(void)mprotect(m, 4096, PROT_READ | PROT_EXEC);
		break;
	}
	case KEEPER_UNLINK:
		if (unlink("/nonexistent/roam-test-sandbox") < 0 && errno == ENOENT)
			_exit(0);
		_exit(5);
	case KEEPER_SOCKET:
		(void)socket(AF_UNIX, SOCK_STREAM, 0);
		break;
	}
	_exit(0); /* survived a call that should have killed it */
}

/* Runs child(w); returns its wait status, its stderr in out. */
static int run(enum what w, char *out, size_t out_len)
{
	int p[2];
	out[0] = '\0';
	if (pipe(p) < 0)
		return -1;
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		close(p[0]);
		dup2(p[1], STDERR_FILENO);
		child(w);
	}
	close(p[1]);
	size_t got = 0;
	ssize_t n;
	while (got + 1 < out_len && (n = read(p[0], out + got, out_len - 1 - got)) > 0)
		got += (size_t)n;
	out[got] = '\0';
	close(p[0]);
	int status;
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return status;
}

static bool killed_by_sigsys(int status)
{
	return status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS;
}

static void test_allowed_calls_pass(void)
{
	char out[512];
	int st = run(ALLOWED_CALLS, out, sizeof(out));
	CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	if (out[0])
		printf("  child said: %s", out);
}

static void test_forbidden_calls_kill(void)
{
	char out[512];
	CHECK(killed_by_sigsys(run(OPEN_FOR_WRITE, out, sizeof(out))));
	CHECK(strstr(out, "forbidden system call openat") != NULL);
	struct stat st;
	CHECK(stat("/tmp/roam-test-sandbox-must-not-exist", &st) < 0);

	CHECK(killed_by_sigsys(run(EXECVE, out, sizeof(out))));
	CHECK(strstr(out, "forbidden system call execve") != NULL);

	CHECK(killed_by_sigsys(run(PACKET_SOCKET, out, sizeof(out))));
	CHECK(strstr(out, "forbidden system call socket") != NULL);

	CHECK(killed_by_sigsys(run(RAW_SOCKET, out, sizeof(out))));
	CHECK(strstr(out, "forbidden system call socket") != NULL);
	CHECK(killed_by_sigsys(run(NETFILTER_SOCKET, out, sizeof(out))));
	CHECK(strstr(out, "forbidden system call socket") != NULL);
	CHECK(killed_by_sigsys(run(SIGNAL_OTHERS, out, sizeof(out))));
	if (!CHECK(strstr(out, "forbidden system call tgkill") != NULL))
		printf("  child said: %s\n", out);
	CHECK(killed_by_sigsys(run(EXEC_MAPPING, out, sizeof(out))));
	CHECK(strstr(out, "forbidden system call mmap") != NULL);
	CHECK(killed_by_sigsys(run(EXEC_PROTECT, out, sizeof(out))));
	CHECK(strstr(out, "forbidden system call mprotect") != NULL);
}

static void test_keeper_filter(void)
{
	char out[512];
	int st = run(KEEPER_UNLINK, out, sizeof(out));
	CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK(killed_by_sigsys(run(KEEPER_SOCKET, out, sizeof(out))));
}

int main(void)
{
	log_init(LOG_LEVEL_INFO, "test");
	RUN(test_allowed_calls_pass);
	RUN(test_forbidden_calls_kill);
	RUN(test_keeper_filter);
	return test_finish("test_sandbox");
}
