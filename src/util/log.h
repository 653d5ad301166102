#ifndef KEYHOLE_UTIL_LOG_H
#define KEYHOLE_UTIL_LOG_H

#include <stdbool.h>
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
/* --log-format json: every line is one JSON object (SPEC 4.10). */
extern bool log_json;

void	 log_set_json(bool);
/* RFC 3339 UTC with milliseconds ("2026-01-02T03:04:05.678Z"). */
void	 log_timestamp(char *buf, size_t sz);
/*
 * One JSON line on stderr: {"ts":..,"level":level,"msg":msg[,fields]};
 * fields, when not NULL, is a list of "key":value pairs without braces.
 */
void	 log_json_line(const char *level, const char *msg,
	    const char *fields);

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
