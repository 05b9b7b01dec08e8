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

const char *trust_control_char(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return s;
	return NULL;
}
