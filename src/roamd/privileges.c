/* Dropping root after set-up (privileges.h).
 *
 * What roamd still does after set-up, and what it needs for it:
 *   - reads and writes the TUN fd, the UDP sockets, netlink and UAPI
 *     clients: open fds, no privilege;
 *   - opens new UDP sockets on link up and on `wg set listen-port`: socket()
 *     and bind() need nothing, except a port below 1024, which needs
 *     CAP_NET_BIND_SERVICE (a wg-quick ListenPort = 443 is plausible, and
 *     sockets are only bound once the interface goes up, after the drop);
 *   - SO_MARK (fwmark) and SO_SNDBUFFORCE/SO_RCVBUFFORCE on those sockets:
 *     CAP_NET_ADMIN;
 *   - removes its UAPI socket at exit: /var/run/wireguard is root's, so the
 *     keeper (keeper.c) does that, not us.
 * So the effective and permitted sets are exactly NET_ADMIN and
 * NET_BIND_SERVICE, nothing inheritable or ambient, and NO_NEW_PRIVS so no
 * exec can gain anything back. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "privileges.h"

static const cap_value_t kept[] = {CAP_NET_ADMIN, CAP_NET_BIND_SERVICE};

static bool lookup(const char *name, struct privileges *p)
{
	struct passwd *pw = getpwnam(name);
	if (!pw)
		return false;
	p->uid = pw->pw_uid;
	p->gid = pw->pw_gid;
	snprintf(p->user, sizeof(p->user), "%s", name);
	return true;
}

int privileges_plan(struct privileges *p, const char *user, bool no_drop, char *err, size_t err_len)
{
	memset(p, 0, sizeof(*p));
	if (no_drop || geteuid() != 0)
		return 0;
	if (user) {
		if (!lookup(user, p)) {
			snprintf(err, err_len, "-u %s: no such user", user);
			return -1;
		}
	} else if (!lookup(PRIVILEGES_DEFAULT_USER, p) && !lookup(PRIVILEGES_FALLBACK_USER, p)) {
		snprintf(err, err_len, "neither user %s nor %s exists (give one with -u, or set ROAMD_NO_DROP=1)",
			 PRIVILEGES_DEFAULT_USER, PRIVILEGES_FALLBACK_USER);
		return -1;
	}
	if (p->uid == 0) {
		snprintf(err, err_len, "user %s is uid 0: that is no drop (set ROAMD_NO_DROP=1 to stay root)", p->user);
		return -1;
	}
	p->drop = true;
	return 0;
}

/* Sets effective and permitted to exactly the kept capabilities plus the
 * extra ones (needed for the steps still to come), nothing inheritable. */
static int set_caps(const cap_value_t *extra, int n_extra)
{
	cap_t caps = cap_init();
	if (!caps)
		return -1;
	int n = (int)(sizeof(kept) / sizeof(kept[0]));
	int ret = cap_set_flag(caps, CAP_EFFECTIVE, n, kept, CAP_SET) | cap_set_flag(caps, CAP_PERMITTED, n, kept, CAP_SET);
	if (n_extra)
		ret |= cap_set_flag(caps, CAP_EFFECTIVE, n_extra, extra, CAP_SET) |
		       cap_set_flag(caps, CAP_PERMITTED, n_extra, extra, CAP_SET);
	if (!ret)
		ret = cap_set_proc(caps);
	int e = errno;
	cap_free(caps);
	errno = e;
	return ret;
}

static bool is_kept(cap_value_t c)
{
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
		if (kept[i] == c)
			return true;
	return false;
}

int privileges_drop(const struct privileges *p, char *err, size_t err_len)
{
	if (!p->drop)
		return 0;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		snprintf(err, err_len, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
		return -1;
	}
	/* The bounding set first, while CAP_SETPCAP is ours: nothing outside
	 * the kept set can ever come back, even through a file capability. */
	for (cap_value_t c = 0; c <= CAP_LAST_CAP; c++) {
		if (is_kept(c) || !CAP_IS_SUPPORTED(c))
			continue;
		if (cap_drop_bound(c) < 0 && errno != EINVAL) {
			snprintf(err, err_len, "dropping capability %d from the bounding set: %s", (int)c, strerror(errno));
			return -1;
		}
	}
	if (cap_reset_ambient() < 0 && errno != EINVAL) {
		snprintf(err, err_len, "clearing ambient capabilities: %s", strerror(errno));
		return -1;
	}
	/* Groups while still root: setgroups needs CAP_SETGID. */
	if (setgroups(0, NULL) < 0 || setresgid(p->gid, p->gid, p->gid) < 0) {
		snprintf(err, err_len, "switching to group %u: %s", (unsigned)p->gid, strerror(errno));
		return -1;
	}
	/* Keep the permitted set across setuid (else the kernel clears it),
	 * with CAP_SETUID effective for the call itself. */
	const cap_value_t setuid_cap[] = {CAP_SETUID};
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0 || set_caps(setuid_cap, 1) < 0 ||
	    setresuid(p->uid, p->uid, p->uid) < 0) {
		snprintf(err, err_len, "switching to user %s (uid %u): %s", p->user, (unsigned)p->uid, strerror(errno));
		return -1;
	}
	if (set_caps(NULL, 0) < 0 || prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) {
		snprintf(err, err_len, "keeping only CAP_NET_ADMIN and CAP_NET_BIND_SERVICE: %s", strerror(errno));
		return -1;
	}
	/* A uid change resets "dumpable" to the fs.suid_dumpable sysctl,
	 * which an administrator may have set to 1 or 2. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
		snprintf(err, err_len, "PR_SET_DUMPABLE: %s", strerror(errno));
		return -1;
	}
	/* Trust, but check: a drop that can be undone is no drop. */
	if (setuid(0) == 0 || seteuid(0) == 0 || getuid() != p->uid || geteuid() != p->uid) {
		snprintf(err, err_len, "uid 0 can still be regained after the switch to %s", p->user);
		return -1;
	}
	return 0;
}
