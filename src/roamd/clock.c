/* The daemon's clocks. Every `now` handed to the engine, the timers and the
 * UAPI comes from now_ns, so they can never disagree: monotonic, because
 * wall-clock steps (NTP, suspend) must not fire or starve protocol timers.
 * Wall time (wall_ns) is only for what is shown or sent as a date: the
 * handshake's TAI64N timestamp, the last handshake time. */
#include <time.h>

#include "daemon.h"

uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

uint64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}
