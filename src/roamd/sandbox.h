/* The seccomp allowlists (sandbox.c): which system calls roamd may make once
 * set up, and which the socket keeper may make. */
#ifndef ROAMD_SANDBOX_H
#define ROAMD_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>

/* Installs the daemon's filter on the calling process (all threads: roamd
 * has one). A call outside it is trapped: the SIGSYS handler logs
 * "seccomp: forbidden system call NAME (NR)" and the process dies of
 * SIGSYS. log_only (ROAMD_SECCOMP_LOG): the kernel's audit log records the
 * call (dmesg: type=1326 ... syscall=NR) and it goes ahead; for finding what
 * a different kernel or libc needs. Needs NO_NEW_PRIVS (or CAP_SYS_ADMIN).
 * 0, or -1 with err. */
int sandbox_enter(bool log_only, char *err, size_t err_len);

/* The keeper's filter: read, stat, unlink, exit. Dies silently outside it
 * (the keeper has no log). */
int sandbox_keeper(void);

/* Whether this build can take the filter: AddressSanitizer's runtime (and
 * LeakSanitizer's ptrace-based exit check) makes calls no allowlist of
 * ours knows, so sanitizer builds run without it, and say so. */
bool sandbox_supported(const char **why);

#endif
