#include "util/mono.h"

#include <time.h>

static struct timespec
mono_now(void)
{
	struct timespec	ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts;
}

uint64_t
mono_s(void)
{
	return (uint64_t)mono_now().tv_sec;
}

uint64_t
mono_ms(void)
{
	struct timespec	ts = mono_now();

	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t
mono_ns(void)
{
	struct timespec	ts = mono_now();

	return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}
