#ifndef KEYHOLE_UTIL_ERRBUF_H
#define KEYHOLE_UTIL_ERRBUF_H

#include <stddef.h>

/*
 * An error message travelling up the stack (STYLE §4).  The lowest layer
 * says what broke with errbuf_set(); each caller that adds meaning
 * prefixes its context with errbuf_wrap(); main prints it once.
 */
#define ERRBUF_MAX	1024

struct errbuf {
	char	msg[ERRBUF_MAX];
};

void	 errbuf_clear(struct errbuf *);
/* Replace the message. */
void	 errbuf_set(struct errbuf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
/* Replace the message and append ": strerror(errno)" (errno read first). */
void	 errbuf_sys(struct errbuf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
/* Prefix context: "<ctx>: <old message>". */
void	 errbuf_wrap(struct errbuf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
/* The message; "" when none was set. NULL errbuf is allowed everywhere. */
const char *errbuf_msg(const struct errbuf *);

#endif
