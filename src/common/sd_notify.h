/* systemd's service notification protocol (sd_notify(3)), in the few lines
 * it takes, so neither binary links libsystemd: a datagram of
 * "KEY=VALUE\n" lines to the AF_UNIX socket named by $NOTIFY_SOCKET (a path,
 * or an abstract name written with a leading '@').
 *
 * How roam@.service uses it: `roam up` is the unit's first process; the
 * roamd it starts says "MAINPID=" so systemd watches roamd from then on,
 * and pings the watchdog ("WATCHDOG=1") every half $WATCHDOG_USEC; roam up
 * says "READY=1" once every step is done (roamd run on its own says READY=1
 * itself). Hence NotifyAccess=all in the unit. */
#ifndef ROAM_SD_NOTIFY_H
#define ROAM_SD_NOTIFY_H

#include <stdint.h>

/* A datagram socket connected to $NOTIFY_SOCKET: -1 when the variable is
 * unset (not run by systemd), -errno when it cannot be reached. Opened
 * early, so a process that later drops privileges or enters a seccomp
 * filter keeps it. */
int sd_notify_open(void);
/* Sends msg on fd from sd_notify_open; 0 or -errno (nothing for fd < 0). */
int sd_notify_send(int fd, const char *msg);
/* Opens, sends, closes. */
int sd_notify_once(const char *msg);
/* The watchdog period asked for in $WATCHDOG_USEC, in nanoseconds, if it
 * is meant for this process ($WATCHDOG_PID unset or ours); 0 if none. */
uint64_t sd_watchdog_ns(void);

#endif
