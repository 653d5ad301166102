#include "util/errbuf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void
errbuf_clear(struct errbuf *e)
{
	if (e != NULL)
		e->msg[0] = '\0';
}

void
errbuf_set(struct errbuf *e, const char *fmt, ...)
{
	va_list	ap;

	if (e == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
}

void
errbuf_sys(struct errbuf *e, const char *fmt, ...)
{
	int	saved_errno = errno;
	va_list	ap;
	size_t	len;

	if (e == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	len = strlen(e->msg);
	snprintf(e->msg + len, sizeof(e->msg) - len, ": %s",
	    strerror(saved_errno));
	errno = saved_errno;
}

void
errbuf_wrap(struct errbuf *e, const char *fmt, ...)
{
	char	old[ERRBUF_MAX];
	va_list	ap;
	size_t	len;

	if (e == NULL)
		return;
	memcpy(old, e->msg, sizeof(old));
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	len = strlen(e->msg);
	if (old[0] != '\0')
		snprintf(e->msg + len, sizeof(e->msg) - len, ": %s", old);
}

const char *
errbuf_msg(const struct errbuf *e)
{
	return e == NULL ? "" : e->msg;
}
