/* What roam trusts with root's power (see trust.h). */
#include "trust.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

bool trust_owner(uid_t uid)
{
	return uid == 0 || uid == geteuid();
}

bool trust_stat(const struct stat *st, char *why, size_t why_len)
{
	mode_t mode = st->st_mode & 07777;

	if (!trust_owner(st->st_uid)) {
		snprintf(why, why_len, "is owned by uid %u, neither root nor the user running roam",
			 (unsigned)st->st_uid);
		return false;
	}
	if (mode & 022) {
		snprintf(why, why_len, "is writable by %s (mode %04o)",
			 (mode & 022) == 022 ? "its group and all other users" : (mode & 020) ? "its group" : "all other users",
			 (unsigned)mode);
		return false;
	}
	return true;
}

bool trust_dir_chain(const char *dir, char *why, size_t why_len)
{
	char path[PATH_MAX], reason[128];
	struct stat st;
	char *slash;

	if (dir[0] != '/' || strlen(dir) >= sizeof(path)) {
		snprintf(why, why_len, "%s is not an absolute path", dir);
		return false;
	}
	strcpy(path, dir);
	for (;;) {
		/* lstat: a symbolic link here means dir was not resolved, and
		 * whoever owns the link decides where it leads. */
		if (lstat(path, &st) < 0) {
			snprintf(why, why_len, "cannot check directory %s: %s", path, strerror(errno));
			return false;
		}
		if (!S_ISDIR(st.st_mode)) {
			snprintf(why, why_len, "%s is not a directory", path);
			return false;
		}
		if (!trust_stat(&st, reason, sizeof(reason)) &&
		    !(trust_owner(st.st_uid) && (st.st_mode & S_ISVTX))) {
			snprintf(why, why_len, "directory %s %s", path, reason);
			return false;
		}
		if (!strcmp(path, "/"))
			return true;
		slash = strrchr(path, '/');
		slash[slash == path] = '\0';	/* "/etc" becomes "/", "/etc/x" "/etc" */
	}
}

bool trust_symlinks(const char *path, char *why, size_t why_len)
{
	char cur[PATH_MAX], rest[PATH_MAX], next[PATH_MAX], link[PATH_MAX], tmp[PATH_MAX];
	struct stat st;
	int hops = 0;

	if (path[0] == '/')
		cur[0] = '\0';
	else if (!getcwd(cur, sizeof(cur)))
		return true;	/* what resolves it will say why */
	if (strlen(path) >= sizeof(rest))
		return true;
	strcpy(rest, path);
	for (const char *p = rest; *p;) {
		while (*p == '/')
			p++;
		size_t n = strcspn(p, "/");
		if (!n)
			break;
		if (n == 1 && p[0] == '.') {
			p += n;
			continue;
		}
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			char *up = strrchr(cur, '/');
			if (up)
				*up = '\0';
			p += n;
			continue;
		}
		if ((size_t)snprintf(next, sizeof(next), "%s/%.*s", cur, (int)n, p) >= sizeof(next) ||
		    lstat(next, &st) < 0)
			return true;	/* what opens it will say why */
		if (!S_ISLNK(st.st_mode)) {
			strcpy(cur, next);
			p += n;
			continue;
		}
		/* Whoever owns a link decides where it leads. */
		if (!trust_owner(st.st_uid)) {
			snprintf(why, why_len, "%s is a symbolic link owned by uid %u, neither root nor the user running roam",
				 next, (unsigned)st.st_uid);
			return false;
		}
		ssize_t len = readlink(next, link, sizeof(link) - 1);
		if (len < 0 || ++hops > 40)
			return true;
		link[len] = '\0';
		if ((size_t)snprintf(tmp, sizeof(tmp), "%s%s", link, p + n) >= sizeof(tmp))
			return true;
		strcpy(rest, tmp);
		p = rest;
		if (link[0] == '/')
			cur[0] = '\0';
	}
	return true;
}

const char *trust_control_char(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return s;
	return NULL;
}
