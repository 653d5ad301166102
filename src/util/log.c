#include "util/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int log_level = LOG_WARN;

void
log_set_level(int level)
{
	log_level = level;
}

char *
log_escape(char *dst, size_t dstsz, const char *src, size_t srclen)
{
	static const char	 hex[] = "0123456789abcdef";
	size_t			 i, o = 0;
	unsigned char		 c;

	if (dstsz == 0)
		return dst;
	for (i = 0; i < srclen; i++) {
		c = (unsigned char)src[i];
		if (c >= 0x20 && c != 0x7f && c != '\\') {
			if (o + 1 >= dstsz)
				break;
			dst[o++] = (char)c;
			continue;
		}
		if (o + 4 >= dstsz)
			break;
		dst[o++] = '\\';
		if (c == '\\') {
			dst[o++] = '\\';
			continue;
		}
		dst[o++] = 'x';
		dst[o++] = hex[c >> 4];
		dst[o++] = hex[c & 0xf];
	}
	dst[o] = '\0';
	return dst;
}

static void __attribute__((format(printf, 2, 0)))
log_vemit(const char *prefix, const char *fmt, va_list ap, const char *suffix)
{
	char	raw[2048], esc[4096];
	int	n;

	n = vsnprintf(raw, sizeof(raw), fmt, ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(raw))
		n = sizeof(raw) - 1;
	log_escape(esc, sizeof(esc), raw, (size_t)n);
	fprintf(stderr, "%s%s%s%s\n", prefix, esc, suffix ? ": " : "",
	    suffix ? suffix : "");
	fflush(stderr);
}

void
log_warn(const char *fmt, ...)
{
	int	saved_errno = errno;
	va_list	ap;

	if (log_level < LOG_WARN)
		return;
	va_start(ap, fmt);
	log_vemit("keyhole: warning: ", fmt, ap, strerror(saved_errno));
	va_end(ap);
	errno = saved_errno;
}

void
log_warnx(const char *fmt, ...)
{
	va_list	ap;

	if (log_level < LOG_WARN)
		return;
	va_start(ap, fmt);
	log_vemit("keyhole: warning: ", fmt, ap, NULL);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	ap;

	if (log_level < LOG_INFO)
		return;
	va_start(ap, fmt);
	log_vemit("keyhole: ", fmt, ap, NULL);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	ap;

	if (log_level < LOG_DEBUG)
		return;
	va_start(ap, fmt);
	log_vemit("keyhole: debug: ", fmt, ap, NULL);
	va_end(ap);
}

void
log_fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vemit("keyhole: fatal: ", fmt, ap, NULL);
	va_end(ap);
	abort();
}
