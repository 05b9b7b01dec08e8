/* Running as little as possible once set up (privileges.c), and the one
 * root-owned chore left for the end (keeper.c). README "Hardening and
 * privileges" is the operator's view. */
#ifndef ROAMD_PRIVILEGES_H
#define ROAMD_PRIVILEGES_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* The account used when -u is not given: "roamd" if it exists (make install
 * creates it), else "nobody". */
#define PRIVILEGES_DEFAULT_USER "roamd"
#define PRIVILEGES_FALLBACK_USER "nobody"

struct privileges {
	bool drop;		/* false: stay as started (not root, or ROAMD_NO_DROP) */
	uid_t uid;
	gid_t gid;
	char user[64];
};

/* Decides, before set-up (the user database is read here, while files may
 * still be opened): user is -u's value or NULL for the default. no_drop is
 * ROAMD_NO_DROP. Returns 0, or -1 with err set (an unknown -u user). */
int privileges_plan(struct privileges *p, const char *user, bool no_drop, char *err, size_t err_len);

/* After the TUN device, the UAPI socket and the netlink sockets are open:
 * PR_SET_NO_NEW_PRIVS, every capability but CAP_NET_ADMIN and
 * CAP_NET_BIND_SERVICE gone (also from the bounding set), then uid/gid and
 * supplementary groups of p->user, then dumpable 0 again (a uid change
 * resets it). Checks that uid 0 cannot be regained. 0 or -1 with err. */
int privileges_drop(const struct privileges *p, char *err, size_t err_len);

/* The socket keeper (keeper.c). Forked before anything is opened, it holds
 * only a pipe and stays uid 0 with no capabilities at all, because
 * /var/run/wireguard belongs to root and only its owner may unlink a
 * socket there once roamd runs as another user. When the pipe closes
 * (roamd exited, crashed or was killed) it removes the socket if it is still
 * the one roamd bound (same device and inode), then exits.
 * keeper_start returns the pipe's write end (-1 on failure, logged);
 * keeper_arm tells it which socket. */
int keeper_start(const char *path);
void keeper_arm(int fd, dev_t dev, ino_t ino);

#endif
