/*
 * libevent's OpenSSL bufferevents clear OpenSSL's error queue before
 * every SSL_read and SSL_write (so that SSL_get_error sees only what that
 * call queued).  OpenSSL 3's ERR_clear_error walks all 16 slots of the
 * thread's queue every time, queued errors or not: about 800 instructions
 * a call, three calls and 5 % of a routed request's instructions
 * (callgrind, bench/README.md).  The binaries are linked with
 * --wrap=ERR_clear_error (Makefile): calls from the statically linked
 * libevent, libssl and libcrypto and from our own code come here, and an
 * empty queue, the usual case, is left as it is; a queue with an error in
 * it is cleared by the real function, as before.  What callers rely on
 * (ERR_peek_error and SSL_get_error finding nothing afterwards) holds
 * either way.
 *
 * Even the look (ERR_peek_error: the thread's state, OpenSSL's init
 * check, the queue) is ~200 instructions, and an intercepted request made
 * eight of them (six clears, two SSL_get_error): 2.5 % of it.  In OpenSSL
 * 3.0 every error enters a queue through ERR_new (ERR_raise, ERR_put_error
 * and the providers' core_new_error all call it), so the statically
 * linked release binary also wraps ERR_new and ERR_peek_error (Makefile,
 * STATIC=yes only): ERR_new marks this thread's queue as possibly holding
 * something, and until it does, a queue once seen empty is known to be
 * empty without looking.  The mark stays until a look finds the queue
 * empty again.  Whether ERR_new is wrapped is known from __real_ERR_new,
 * a weak reference that only the wrapping link resolves.
 *
 * With shared libraries (the sanitizer build) only our own calls come
 * here, ERR_new is not wrapped (errors raised inside libssl.so would not
 * be seen) and every clear looks, as before.
 */
#include <stdbool.h>
#include <stddef.h>

#include <openssl/err.h>

void		__real_ERR_clear_error(void);
void		__wrap_ERR_clear_error(void);
void		__real_ERR_new(void) __attribute__((weak));
void		__wrap_ERR_new(void);
unsigned long	__real_ERR_peek_error(void) __attribute__((weak));
unsigned long	__wrap_ERR_peek_error(void);
int		__real_ERR_set_mark(void) __attribute__((weak));
int		__wrap_ERR_set_mark(void);
int		__real_ERR_clear_last_mark(void) __attribute__((weak));
int		__wrap_ERR_clear_last_mark(void);

/* Something may have been queued since the queue was last seen empty. */
static _Thread_local bool	errq_maybe = true;

/*
 * Known to be empty without looking: seen empty since the last ERR_new,
 * and ERR_new is wrapped (so that errq_maybe can be trusted).
 */
static bool
errq_known_empty(void)
{
	return !errq_maybe && __real_ERR_new != NULL &&
	    __real_ERR_peek_error != NULL;
}

static unsigned long
errq_peek(void)
{
	unsigned long	e;

	if (__real_ERR_peek_error == NULL)
		return ERR_peek_error();	/* not wrapped: the real one */
	if (errq_known_empty())
		return 0;
	if ((e = __real_ERR_peek_error()) == 0)
		errq_maybe = false;
	return e;
}

void
__wrap_ERR_new(void)
{
	errq_maybe = true;
	__real_ERR_new();
}

unsigned long
__wrap_ERR_peek_error(void)
{
	return errq_peek();
}

/*
 * On an empty queue both return 0 and change nothing (OpenSSL 3.0's
 * err.c): no mark is set, none is there to clear.
 */
int
__wrap_ERR_set_mark(void)
{
	if (errq_known_empty())
		return 0;
	return __real_ERR_set_mark();
}

int
__wrap_ERR_clear_last_mark(void)
{
	if (errq_known_empty())
		return 0;
	return __real_ERR_clear_last_mark();
}

void
__wrap_ERR_clear_error(void)
{
	if (errq_peek() != 0) {
		__real_ERR_clear_error();
		errq_maybe = false;
	}
}
