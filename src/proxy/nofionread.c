/*
 * libevent asks the kernel how many bytes a socket holds (ioctl FIONREAD)
 * before every read, only to size the read, which it caps at 4 KiB anyway
 * (evbuffer_read).  That is one system call in three of a routed request
 * (readv, ioctl, writev on each side), and a third of a microsecond each
 * here.  The binaries are linked with --wrap=ioctl (Makefile): calls to
 * ioctl from the statically linked libevent and from our own code come
 * here.  FIONREAD is refused with ENOTTY, which libevent answers by
 * reading up to its cap; everything else goes to the real ioctl unchanged
 * (the mediator's seccomp notification ioctls among them).  Nothing of
 * ours uses FIONREAD (TIOCINQ, SIOCINQ: the same number).
 *
 * With a shared libevent (the sanitizer build) libevent's calls do not
 * come here: it behaves as upstream, which is also correct.
 */
#include <errno.h>
#include <stdarg.h>
#include <sys/ioctl.h>

int	__real_ioctl(int, unsigned long, ...);
int	__wrap_ioctl(int, unsigned long, ...);

int
__wrap_ioctl(int fd, unsigned long request, ...)
{
	va_list	 ap;
	void	*arg;

	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (request == FIONREAD) {
		errno = ENOTTY;
		return -1;
	}
	return __real_ioctl(fd, request, arg);
}
