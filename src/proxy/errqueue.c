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
 * With shared libraries (the sanitizer build) only our own calls come
 * here; libevent's go to OpenSSL as upstream, which is also correct.
 */
#include <openssl/err.h>

void	__real_ERR_clear_error(void);
void	__wrap_ERR_clear_error(void);

void
__wrap_ERR_clear_error(void)
{
	if (ERR_peek_error() != 0)
		__real_ERR_clear_error();
}
