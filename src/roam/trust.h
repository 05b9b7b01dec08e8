/* Files whose contents roam acts on with root's power: the hooks of a
 * config file (run by /bin/sh as root) and the ledger under the state
 * directory (whose PreDown/PostDown hooks `roam down` runs). Such a file
 * must be one that no other user could have written, or any local user who
 * can write it owns the machine the next time root brings a tunnel up or
 * down.
 *
 * "Trusted" means owned by root or by the user roam itself runs as (running
 * as that user, a hook gains nothing it did not have) and writable by
 * nobody else: neither group- nor world-writable. The directories above it
 * must be trusted the same way, or another user could rename the file away
 * and put their own in its place; a sticky world-writable directory such as
 * /tmp is the exception, since only an entry's owner may rename or remove
 * it there, and the entry below it is checked in turn. */
#ifndef ROAM_TRUST_H
#define ROAM_TRUST_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

/* Root, or the user roam runs as. */
bool trust_owner(uid_t uid);

/* false, with why (e.g. "is writable by its group (mode 0664)"), if a user
 * other than a trusted owner could change the object st describes. */
bool trust_stat(const struct stat *st, char *why, size_t why_len);

/* Every directory from dir up to / (dir absolute, without symbolic links,
 * as realpath gives it) is trusted, or sticky. false with why naming the
 * first one that is not. */
bool trust_dir_chain(const char *dir, char *why, size_t why_len);

/* The first control character (below 0x20, or DEL) in s, or NULL. A
 * control character in a path or a hook would let it pass for something
 * else on a terminal, or split a ledger record in two. */
/* Every symbolic link met on the way to path (as given, before it is
 * resolved) is owned by root or by the user running roam: the owner of a
 * link chooses where it leads, and so which file root reads. The
 * directories they lead to are checked after, on the resolved path. */
bool trust_symlinks(const char *path, char *why, size_t why_len);
const char *trust_control_char(const char *s);

#endif
