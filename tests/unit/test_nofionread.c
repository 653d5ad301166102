#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Linked with --wrap=ioctl like the binaries (Makefile). */

/* FIONREAD is refused; the kernel would have answered. */
static void
test_fionread_is_refused(void **state)
{
	int	sv[2], n = -7;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(write(sv[0], "abc", 3), 3);
	errno = 0;
	assert_int_equal(ioctl(sv[1], FIONREAD, &n), -1);
	assert_int_equal(errno, ENOTTY);
	assert_int_equal(n, -7);
	/* The system call itself still works: only the wrapper refuses. */
	assert_int_equal(syscall(SYS_ioctl, sv[1], FIONREAD, &n), 0);
	assert_int_equal(n, 3);
	close(sv[0]);
	close(sv[1]);
}

/* Every other request reaches the kernel with its argument. */
static void
test_other_requests_pass_through(void **state)
{
	int	sv[2], on = 1;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_false(fcntl(sv[0], F_GETFL) & O_NONBLOCK);
	assert_int_equal(ioctl(sv[0], FIONBIO, &on), 0);
	assert_true(fcntl(sv[0], F_GETFL) & O_NONBLOCK);
	errno = 0;
	assert_int_equal(ioctl(-1, FIONBIO, &on), -1);
	assert_int_equal(errno, EBADF);
	close(sv[0]);
	close(sv[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fionread_is_refused),
		cmocka_unit_test(test_other_requests_pass_through),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
