/* The UAPI listening socket. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipc_socket.h"

/* Somebody accepts connections on path: a live daemon owns it. */
static bool someone_listens(const struct sockaddr_un *sun)
{
	/* Non-blocking: a daemon with a full backlog answers EAGAIN instead
	 * of stalling our start-up. */
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0)
		return false;
	bool answered = connect(s, (const struct sockaddr *)sun, sizeof(*sun)) == 0 || errno == EAGAIN;
	close(s);
	return answered;
}

static int bind_private(int fd, const struct sockaddr_un *sun)
{
	/* The socket is created with the process umask: 077 makes it 0700 so
	 * only root can configure the interface, as with wireguard-go. */
	mode_t old = umask(077);
	int ret = bind(fd, (const struct sockaddr *)sun, sizeof(*sun)) < 0 ? -errno : 0;
	umask(old);
	return ret;
}

int ipc_socket_open(struct ipc_socket *ipc, const char *ifname, char *err, size_t err_len)
{
	memset(ipc, 0, sizeof(*ipc));
	ipc->fd = -1;
	ipc->inotify_fd = -1;

	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int n = snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s.sock", UAPI_SOCKET_DIR, ifname);
	if (n < 0 || (size_t)n >= sizeof(sun.sun_path)) {
		snprintf(err, err_len, "socket path for %s is too long", ifname);
		return -ENAMETOOLONG;
	}
	snprintf(ipc->path, sizeof(ipc->path), "%s", sun.sun_path);

	mode_t old = umask(022);
	int ret = mkdir(UAPI_SOCKET_DIR, 0755) < 0 && errno != EEXIST ? -errno : 0;
	umask(old);
	if (ret) {
		snprintf(err, err_len, "mkdir %s: %s", UAPI_SOCKET_DIR, strerror(-ret));
		return ret;
	}

	ipc->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ipc->fd < 0) {
		ret = -errno;
		snprintf(err, err_len, "unix socket: %s", strerror(-ret));
		return ret;
	}
	ret = bind_private(ipc->fd, &sun);
	if (ret == -EADDRINUSE) {
		/* A file is there. If a daemon answers on it, the name is
		 * taken; if not, it is what a crashed daemon left behind. */
		if (someone_listens(&sun)) {
			snprintf(err, err_len, "%s: unix socket in use", ipc->path);
			close(ipc->fd);
			ipc->fd = -1;
			return -EADDRINUSE;
		}
		unlink(ipc->path);
		ret = bind_private(ipc->fd, &sun);
	}
	if (!ret && listen(ipc->fd, 64) < 0)
		ret = -errno;
	struct stat st;
	if (!ret && stat(ipc->path, &st) < 0)
		ret = -errno;
	if (ret) {
		snprintf(err, err_len, "%s: %s", ipc->path, strerror(-ret));
		close(ipc->fd);
		ipc->fd = -1;
		return ret;
	}
	ipc->dev = st.st_dev;
	ipc->ino = st.st_ino;

	/* Unlinking a bound socket does not free its inode (the socket holds
	 * it), so IN_DELETE_SELF would only come once we close it; the
	 * link-count change arrives as IN_ATTRIB. */
	ipc->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (ipc->inotify_fd < 0 ||
	    inotify_add_watch(ipc->inotify_fd, ipc->path, IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF) < 0) {
		ret = -errno;
		snprintf(err, err_len, "inotify on %s: %s", ipc->path, strerror(-ret));
		ipc_socket_close(ipc);
		return ret;
	}
	return 0;
}

int ipc_socket_adopt(struct ipc_socket *ipc, int fd, const char *ifname, char *err, size_t err_len)
{
	memset(ipc, 0, sizeof(*ipc));
	ipc->fd = -1;
	ipc->inotify_fd = -1;
	int listening = 0;
	socklen_t len = sizeof(listening);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0 || !listening) {
		snprintf(err, err_len, "WG_UAPI_FD %d is not a listening socket", fd);
		return -EINVAL;
	}
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		int e = errno;
		snprintf(err, err_len, "WG_UAPI_FD %d: %s", fd, strerror(e));
		return -e;
	}
	ipc->fd = fd;
	snprintf(ipc->path, sizeof(ipc->path), "%s/%s.sock", UAPI_SOCKET_DIR, ifname);
	/* Watched like our own when the parent bound it at the usual path;
	 * anywhere else it is the parent's to look after. */
	struct stat st;
	if (lstat(ipc->path, &st) == 0 && S_ISSOCK(st.st_mode)) {
		ipc->dev = st.st_dev;
		ipc->ino = st.st_ino;
		/* Watching a root-owned 0700 socket needs read access to it,
		 * which an unprivileged roamd lacks; the directory's changes
		 * (0755) tell the same, a little less precisely. */
		ipc->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (ipc->inotify_fd >= 0 &&
		    inotify_add_watch(ipc->inotify_fd, ipc->path, IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF) < 0 &&
		    inotify_add_watch(ipc->inotify_fd, UAPI_SOCKET_DIR, IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE) < 0) {
			close(ipc->inotify_fd);
			ipc->inotify_fd = -1;
		}
	} else {
		ipc->path[0] = '\0';
	}
	return 0;
}

bool ipc_socket_still_ours(struct ipc_socket *ipc)
{
	/* Drain the events: the stat below is the whole answer. */
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	while (ipc->inotify_fd >= 0 && read(ipc->inotify_fd, buf, sizeof(buf)) > 0)
		;
	struct stat st;
	return lstat(ipc->path, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == ipc->dev && st.st_ino == ipc->ino;
}

void ipc_socket_close(struct ipc_socket *ipc)
{
	if (ipc->inotify_fd >= 0)
		close(ipc->inotify_fd);
	ipc->inotify_fd = -1;
	if (ipc->fd >= 0) {
		struct stat st;
		if (lstat(ipc->path, &st) == 0 && st.st_dev == ipc->dev && st.st_ino == ipc->ino)
			unlink(ipc->path);
		close(ipc->fd);
	}
	ipc->fd = -1;
}
