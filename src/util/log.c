#include "util/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "util/strbuf.h"

int log_level = LOG_WARN;
bool log_json;

void
log_set_json(bool on)
{
	log_json = on;
}

void
log_timestamp(char *buf, size_t sz)
{
	struct timeval	tv;
	struct tm	tm;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	snprintf(buf, sz, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (long)(tv.tv_usec / 1000));
}

/* The level word of a line's prefix, for --log-format json. */
static const char *
log_level_word(const char *prefix)
{
	if (strstr(prefix, "warning") != NULL)
		return "warning";
	if (strstr(prefix, "debug") != NULL)
		return "debug";
	if (strstr(prefix, "fatal") != NULL)
		return "fatal";
	return "info";
}

void
log_json_line(const char *level, const char *msg, const char *fields)
{
	struct strbuf	b = { 0 };
	char		ts[64];

	log_timestamp(ts, sizeof(ts));
	strbuf_appendf(&b, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":", ts,
	    level);
	strbuf_append_json(&b, msg, strlen(msg));
	if (fields != NULL && fields[0] != '\0')
		strbuf_appendf(&b, ",%s", fields);
	strbuf_append(&b, "}\n");
	fwrite(b.s, 1, b.len, stderr);
	fflush(stderr);
	strbuf_free(&b);
}

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
	if (log_json) {
		struct strbuf	m = { 0 };

		strbuf_appendn(&m, raw, (size_t)n);
		if (suffix != NULL)
			strbuf_appendf(&m, ": %s", suffix);
		log_json_line(log_level_word(prefix), strbuf_str(&m), NULL);
		strbuf_free(&m);
		return;
	}
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
