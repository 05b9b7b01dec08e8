/* The daemon's clocks (clock.c): every `now` is monotonic nanoseconds. */
#ifndef ROAMD_CLOCK_H
#define ROAMD_CLOCK_H

#include <stdint.h>

/* Monotonic nanoseconds, the engine's `now`. */
uint64_t now_ns(void);
/* Nanoseconds since the Unix epoch (CLOCK_REALTIME), for dates only. */
uint64_t wall_ns(void);

#endif
