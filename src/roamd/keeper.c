/* The socket keeper (privileges.h): removes roamd's UAPI socket once roamd
 * is gone, because after the drop roamd itself may not.
 *
 * Why a process and not something simpler: unlinking needs write permission
 * on /var/run/wireguard, which is root's 0755 directory shared with
 * wireguard-go and read by `wg show all`; making it writable by roamd's user
 * would let that user replace any other interface's socket, and keeping
 * CAP_DAC_OVERRIDE in roamd would let a compromised roamd write any file.
 * The keeper is uid 0, so the directory's owner bits let it unlink there,
 * but it has no capability at all, NO_NEW_PRIVS, no fd but a pipe, and
 * reads nothing from anyone but roamd. A pipe's end of file also arrives
 * when roamd is killed or crashes, so the socket does not outlive it. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "privileges.h"
#include "sandbox.h"

struct keeper_msg {
	dev_t dev;
	ino_t ino;
};

/* Everything but the pipe (moved to fd 3) closed, stdio on /dev/null. */
static void keeper_fds(int rfd)
{
	/* Out of the way first: the pipe may have got fd 0-2 if stdio was
	 * closed when roamd started. */
	int high = fcntl(rfd, F_DUPFD, 10);
	if (high < 0)
		_exit(1);
	int null = open("/dev/null", O_RDWR);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
	}
	if (dup2(high, 3) < 0)
		_exit(1);
	close_range(4, ~0U, 0);
}

/* Nothing can come back: no capability, none in the bounding set, no
 * exec that gains any. */
static void keeper_confine(void)
{
	for (cap_value_t c = 0; c <= CAP_LAST_CAP; c++)
		if (CAP_IS_SUPPORTED(c))
			(void)cap_drop_bound(c);
	cap_t none = cap_init();
	if (!none || cap_set_proc(none) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		_exit(1);
	cap_free(none);
	const char *why;
	if (sandbox_supported(&why) && sandbox_keeper() < 0)
		_exit(1);
}

static void keeper_main(const char *path)
{
	struct keeper_msg m;
	size_t got = 0;
	ssize_t n;

	while (got < sizeof(m)) {
		n = read(3, (char *)&m + got, sizeof(m) - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(0); /* roamd never bound a socket: nothing to do */
		got += (size_t)n;
	}
	char c;
	do
		n = read(3, &c, 1);
	while (n > 0 || (n < 0 && errno == EINTR));
	/* roamd is gone. Only the socket it bound: another roamd may have
	 * taken the name since. */
	struct stat st;
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == m.dev && st.st_ino == m.ino)
		unlink(path);
	_exit(0);
}

int keeper_start(const char *path)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		log_error("socket keeper: pipe: %s", strerror(errno));
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		log_error("socket keeper: fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		/* Signals meant for roamd (a kill of its process group, or of
		 * everything in a namespace) must not stop the keeper before
		 * roamd itself has gone. */
		signal(SIGTERM, SIG_IGN);
		signal(SIGINT, SIG_IGN);
		signal(SIGHUP, SIG_IGN);
		prctl(PR_SET_NAME, "roamd-keeper", 0, 0, 0);
		close(p[1]);
		keeper_fds(p[0]);
		keeper_confine();
		keeper_main(path);
	}
	close(p[0]);
	return p[1];
}

void keeper_arm(int fd, dev_t dev, ino_t ino)
{
	struct keeper_msg m = {.dev = dev, .ino = ino};
	ssize_t n;
	if (fd < 0)
		return;
	do
		n = write(fd, &m, sizeof(m));
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(m))
		log_error("socket keeper: %s", n < 0 ? strerror(errno) : "short write");
}
