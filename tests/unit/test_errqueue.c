#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/err.h>

/*
 * Linked with --wrap=ERR_clear_error like the binaries (Makefile): the
 * calls below go through src/proxy/errqueue.c.
 */
void	__wrap_ERR_clear_error(void);
void	__real_ERR_new(void);

/* A queued error is cleared, as by OpenSSL's own function. */
static void
test_queued_error_is_cleared(void **state)
{
	(void)state;
	ERR_raise(ERR_LIB_SYS, 5);
	assert_int_not_equal(ERR_peek_error(), 0);
	ERR_clear_error();
	assert_int_equal(ERR_peek_error(), 0);
	assert_int_equal(ERR_get_error(), 0);
}

/* More errors than the queue's 16 slots (it wraps): all of them go. */
static void
test_full_queue_is_cleared(void **state)
{
	int	i;

	(void)state;
	for (i = 1; i <= 40; i++)
		ERR_raise(ERR_LIB_SYS, i);
	assert_int_not_equal(ERR_peek_last_error(), 0);
	__wrap_ERR_clear_error();
	assert_int_equal(ERR_peek_error(), 0);
	assert_int_equal(ERR_peek_last_error(), 0);
	/* And the queue works afterwards. */
	ERR_raise(ERR_LIB_SYS, 7);
	assert_int_equal(ERR_GET_REASON(ERR_get_error()), 7);
	assert_int_equal(ERR_get_error(), 0);
}

/* On an empty queue it is a no-op, repeatedly, and errors queue again. */
static void
test_empty_queue_stays_usable(void **state)
{
	int	i;

	(void)state;
	ERR_clear_error();
	for (i = 0; i < 3; i++) {
		ERR_clear_error();
		assert_int_equal(ERR_peek_error(), 0);
	}
	ERR_raise(ERR_LIB_SYS, 9);
	ERR_raise(ERR_LIB_SYS, 10);
	assert_int_equal(ERR_GET_REASON(ERR_peek_error()), 9);
	assert_int_equal(ERR_GET_REASON(ERR_peek_last_error()), 10);
	ERR_clear_error();
	assert_int_equal(ERR_peek_error(), 0);
}

/*
 * Also linked with --wrap=ERR_new and --wrap=ERR_peek_error, as the
 * release binary: once the queue was seen empty, errors are noticed as
 * they are queued, after errors were taken off it one by one too.
 */
static void
test_errors_are_seen_as_they_are_queued(void **state)
{
	(void)state;
	ERR_clear_error();
	assert_int_equal(ERR_peek_error(), 0);
	ERR_raise(ERR_LIB_SYS, 11);
	assert_int_equal(ERR_GET_REASON(ERR_peek_error()), 11);
	/* Taken off by the reader: empty again, and seen so. */
	assert_int_equal(ERR_GET_REASON(ERR_get_error()), 11);
	assert_int_equal(ERR_peek_error(), 0);
	ERR_clear_error();
	assert_int_equal(ERR_peek_error(), 0);
	/* A clear after a clear does not hide the next error. */
	ERR_raise(ERR_LIB_SYS, 12);
	ERR_clear_error();
	ERR_raise(ERR_LIB_SYS, 13);
	assert_int_equal(ERR_GET_REASON(ERR_peek_error()), 13);
	ERR_clear_error();
	assert_int_equal(ERR_get_error(), 0);
}

/*
 * The queue is not looked at while no error entered it: one queued
 * behind ERR_new's back (which OpenSSL 3.0 never does) stays unseen.
 * This is what saves the looks; it fails if the tracking is off.
 */
static void
test_an_empty_queue_is_not_looked_at(void **state)
{
	(void)state;
	ERR_clear_error();
	assert_int_equal(ERR_peek_error(), 0);
	__real_ERR_new();
	ERR_set_error(ERR_LIB_SYS, 14, NULL);
	assert_int_equal(ERR_peek_error(), 0);
	/* The real look still finds it, and an ERR_new shows it. */
	assert_int_equal(ERR_GET_REASON(ERR_peek_last_error()), 14);
	ERR_raise(ERR_LIB_SYS, 15);
	assert_int_equal(ERR_GET_REASON(ERR_peek_error()), 14);
	ERR_clear_error();
	assert_int_equal(ERR_peek_last_error(), 0);
}

/*
 * Marks (also wrapped: skipped on a queue known empty) behave as
 * OpenSSL's: a mark set on an empty queue is no mark, so popping to it
 * takes everything queued since; one set behind an error keeps it.
 */
static void
test_marks_on_an_empty_queue_and_behind_an_error(void **state)
{
	(void)state;
	ERR_clear_error();
	assert_int_equal(ERR_set_mark(), 0);
	ERR_raise(ERR_LIB_SYS, 16);
	assert_int_equal(ERR_pop_to_mark(), 0);
	assert_int_equal(ERR_peek_last_error(), 0);
	assert_int_equal(ERR_clear_last_mark(), 0);
	ERR_raise(ERR_LIB_SYS, 17);
	assert_int_equal(ERR_set_mark(), 1);
	ERR_raise(ERR_LIB_SYS, 18);
	assert_int_equal(ERR_pop_to_mark(), 1);
	assert_int_equal(ERR_GET_REASON(ERR_peek_last_error()), 17);
	assert_int_equal(ERR_set_mark(), 1);
	assert_int_equal(ERR_clear_last_mark(), 1);
	assert_int_equal(ERR_pop_to_mark(), 0);	/* no mark left: all go */
	assert_int_equal(ERR_peek_last_error(), 0);
	ERR_clear_error();
	assert_int_equal(ERR_clear_last_mark(), 0);
	assert_int_equal(ERR_set_mark(), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_queued_error_is_cleared),
		cmocka_unit_test(test_full_queue_is_cleared),
		cmocka_unit_test(test_empty_queue_stays_usable),
		cmocka_unit_test(test_errors_are_seen_as_they_are_queued),
		cmocka_unit_test(test_an_empty_queue_is_not_looked_at),
		cmocka_unit_test(
		    test_marks_on_an_empty_queue_and_behind_an_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
