/* Noticing that the machine slept, or that roamd was frozen (SIGSTOP, a
 * debugger, a VM paused): the NAT mappings and the far side's view of us
 * may have expired meanwhile, yet nothing on the network says so, and the
 * engine's timers (on CLOCK_MONOTONIC, which stops in suspend) have no idea
 * time passed. The tunnel then "shows connected, but no traffic flows"
 * until the next keepalive, which may be minutes away.
 *
 * A periodic timerfd on CLOCK_BOOTTIME (which counts suspended time) tells
 * both: its expiration count says how many ticks were missed, and the gap
 * between CLOCK_BOOTTIME and CLOCK_MONOTONIC grows by the time slept. Either
 * beyond a few ticks is treated as a network change: every active peer gets
 * a keepalive (or a handshake) at once, and names are asked again. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "events.h"
#include "log.h"
#include "names.h"
#include "netwatch.h"

/* One wake-up every RESUME_TICK (cheap: a read and two clock reads). A
 * freeze or sleep of RESUME_MISSED ticks or more counts as a resume: short
 * enough for any NAT timeout (30 s and up), long enough that a busy machine
 * is never taken for a sleeping one. */
#define RESUME_TICK (2 * NSEC_PER_SEC)
enum { RESUME_MISSED = 3 };

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* How far CLOCK_BOOTTIME is ahead of CLOCK_MONOTONIC: the time slept. */
static uint64_t slept_ns(void)
{
	uint64_t boot = clock_ns(CLOCK_BOOTTIME), mono = clock_ns(CLOCK_MONOTONIC);
	return boot > mono ? boot - mono : 0;
}

int resume_init(struct daemon *d, char *err, size_t err_len)
{
	d->resume_fd = timerfd_create(CLOCK_BOOTTIME, TFD_NONBLOCK | TFD_CLOEXEC);
	if (d->resume_fd < 0) {
		snprintf(err, err_len, "timerfd (CLOCK_BOOTTIME): %s", strerror(errno));
		return -errno;
	}
	struct itimerspec its = {
		.it_interval = {.tv_sec = (time_t)(RESUME_TICK / NSEC_PER_SEC)},
		.it_value = {.tv_sec = (time_t)(RESUME_TICK / NSEC_PER_SEC)},
	};
	d->w_resume = (struct watch){.kind = WATCH_RESUME};
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &d->w_resume};
	if (timerfd_settime(d->resume_fd, 0, &its, NULL) < 0 ||
	    epoll_ctl(d->epoll_fd, EPOLL_CTL_ADD, d->resume_fd, &ev) < 0) {
		snprintf(err, err_len, "resume timer: %s", strerror(errno));
		close(d->resume_fd);
		d->resume_fd = -1;
		return -errno;
	}
	d->resume_slept = slept_ns();
	return 0;
}

void resume_free(struct daemon *d)
{
	if (d->resume_fd >= 0)
		close(d->resume_fd);
	d->resume_fd = -1;
}

void resume_event(struct daemon *d)
{
	uint64_t ticks = 0;
	if (read(d->resume_fd, &ticks, sizeof(ticks)) != (ssize_t)sizeof(ticks))
		return;
	uint64_t slept = slept_ns(), slept_now = slept - d->resume_slept;
	d->resume_slept = slept;
	bool suspended = slept_now >= RESUME_MISSED * RESUME_TICK;
	if (ticks < RESUME_MISSED && !suspended)
		return;
	d->resumes++;
	if (!device_is_up(d->dev))
		return;
	uint64_t now = now_ns();
	/* NAT and conntrack entries may have expired or gone stale while we
	 * slept: a fresh port makes new ones (unless the port is pinned). */
	ports_fresh_port(d, "resume", "resumed");
	unsigned dormant = 0, told = netwatch_tell_peers(d, now, &dormant);
	names_refresh_all(d);
	if (suspended)
		events_resume(d, "slept", slept_now / NSEC_PER_SEC, told);
	else
		events_resume(d, "frozen", ticks * RESUME_TICK / NSEC_PER_SEC, told);
	if (suspended)
		log_info("resume: the machine slept for %llu s; %u peer%s told at once",
			 (unsigned long long)(slept_now / NSEC_PER_SEC), told, told == 1 ? "" : "s");
	else
		log_info("resume: the event loop did not run for about %llu s (frozen); %u peer%s told at once",
			 (unsigned long long)(ticks * RESUME_TICK / NSEC_PER_SEC), told, told == 1 ? "" : "s");
}
