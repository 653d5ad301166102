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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_queued_error_is_cleared),
		cmocka_unit_test(test_full_queue_is_cleared),
		cmocka_unit_test(test_empty_queue_stays_usable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
