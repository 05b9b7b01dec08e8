/* sd_notify.h: the notification datagram, without libsystemd. */
#include "sd_notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int sd_notify_open(void)
{
	const char *name = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len;
	int fd, err;

	if (!name || !*name)
		return -1;
	len = strlen(name);
	if ((name[0] != '/' && name[0] != '@') || len >= sizeof(sa.sun_path))
		return -EINVAL;
	memcpy(sa.sun_path, name, len);
	/* An abstract address: a NUL first, and the length says where it
	 * ends (no terminating NUL). */
	if (name[0] == '@')
		sa.sun_path[0] = '\0';
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa,
		    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (name[0] == '/'))) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int sd_notify_send(int fd, const char *msg)
{
	ssize_t n;

	if (fd < 0)
		return 0;
	do
		n = send(fd, msg, strlen(msg), MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : 0;
}

int sd_notify_once(const char *msg)
{
	int fd = sd_notify_open(), ret;

	if (fd < 0)
		return fd == -1 ? 0 : fd;
	ret = sd_notify_send(fd, msg);
	close(fd);
	return ret;
}

uint64_t sd_watchdog_ns(void)
{
	const char *usec = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
	unsigned long long v;
	char *end;

	if (!usec || !*usec)
		return 0;
	if (pid && *pid && strtol(pid, &end, 10) != (long)getpid())
		return 0;
	errno = 0;
	v = strtoull(usec, &end, 10);
	if (errno || *end || v == 0 || v > UINT64_MAX / 1000)
		return 0;
	return (uint64_t)v * 1000;
}
