#ifndef KEYHOLE_UTIL_MONO_H
#define KEYHOLE_UTIL_MONO_H

#include <stdint.h>

/*
 * The monotonic clock (CLOCK_MONOTONIC), for deadlines, expiries and
 * rate limits: never set back, unlike the wall clock.
 */
uint64_t	mono_s(void);
uint64_t	mono_ms(void);
uint64_t	mono_ns(void);

#endif
