/* roam doctor: measurements in child processes (forked.h). */
#include "forked.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

int forked_start(struct forked *f, void (*fn)(void *ctx, int fd), void *ctx)
{
	int p[2];

	f->pid = 0;
	f->fd = -1;
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	f->pid = fork();
	if (f->pid < 0) {
		int err = -errno;

		close(p[0]);
		close(p[1]);
		f->pid = 0;
		return err;
	}
	if (f->pid == 0) {
		close(p[0]);
		/* The parent may stop reading (it judged without us). */
		signal(SIGPIPE, SIG_IGN);
		fn(ctx, p[1]);
		_exit(0);
	}
	close(p[1]);
	f->fd = p[0];
	return 0;
}

bool forked_write(int fd, const void *buf, size_t len)
{
	const char *b = buf;

	while (len) {
		ssize_t n = write(fd, b, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		b += n;
		len -= (size_t)n;
	}
	return true;
}

bool forked_read(struct forked *f, void *buf, size_t len)
{
	char *b = buf;

	while (len && f->fd >= 0) {
		ssize_t n = read(f->fd, b, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		b += n;
		len -= (size_t)n;
	}
	return !len;
}

void forked_cancel(struct forked *f)
{
	if (f->pid > 0)
		kill(f->pid, SIGKILL);
	forked_end(f);
}

void forked_end(struct forked *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	/* Bounded by the child's own deadlines: its probes all time out. */
	while (f->pid > 0 && waitpid(f->pid, NULL, 0) < 0 && errno == EINTR)
		;
	f->pid = 0;
}
