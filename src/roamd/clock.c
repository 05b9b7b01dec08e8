/* The daemon's one clock: every `now` handed to the engine, the timers and
 * the UAPI comes from here, so they can never disagree. Monotonic, because
 * wall-clock steps (NTP, suspend) must not fire or starve protocol timers. */
#include <time.h>

#include "daemon.h"

uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}
