#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <time.h>

#include "util/mono.h"

/* The three readings are one clock in three units, and it never goes back. */
static void
test_mono_units_agree_and_never_go_back(void **state)
{
	uint64_t	s, ms, ns, ns2;

	(void)state;
	ns = mono_ns();
	ms = mono_ms();
	s = mono_s();
	ns2 = mono_ns();
	assert_true(ns2 >= ns);
	assert_true(ms >= ns / 1000000);
	assert_true(ms <= ns2 / 1000000);
	assert_true(s >= ns / 1000000000);
	assert_true(s <= ns2 / 1000000000);
}

/* A 20 ms sleep reads as at least 20 ms on it. */
static void
test_mono_counts_a_sleep(void **state)
{
	struct timespec	 d = { 0, 20 * 1000000 };
	uint64_t	 t0;

	(void)state;
	t0 = mono_ms();
	while (nanosleep(&d, &d) == -1 && errno == EINTR)
		;
	assert_true(mono_ms() - t0 >= 20);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mono_units_agree_and_never_go_back),
		cmocka_unit_test(test_mono_counts_a_sleep),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
