#ifndef KEYHOLE_UTIL_LOG_H
#define KEYHOLE_UTIL_LOG_H

#include <stddef.h>

/*
 * Diagnostics on stderr (STYLE §5).  The level is the one global:
 *   LOG_SILENT  -s: only "keyhole: <error>" lines printed by main
 *   LOG_WARN    default: warnings
 *   LOG_INFO    -v: one line per decision
 *   LOG_DEBUG   -vv: internals
 * Every line passes log_escape(), so bytes from the wire cannot forge lines.
 */
enum log_level {
	LOG_SILENT = 0,
	LOG_WARN = 1,
	LOG_INFO = 2,
	LOG_DEBUG = 3,
};

extern int log_level;

void	 log_set_level(int);
/* Warning with ": strerror(errno)" appended. */
void	 log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
/* A broken invariant: print and abort. */
void	 log_fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
/*
 * Copy src into dst (size dstsz, always terminated) turning control bytes,
 * DEL and backslash into \xNN / \\.  Returns dst.
 */
char	*log_escape(char *dst, size_t dstsz, const char *src, size_t srclen);

#endif
