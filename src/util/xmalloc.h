#ifndef KEYHOLE_UTIL_XMALLOC_H
#define KEYHOLE_UTIL_XMALLOC_H

#include <stddef.h>

/*
 * Allocation that cannot fail: on exhaustion these print a message and
 * abort (STYLE §9).  What we allocate is bounded by our limits, so running
 * out means the machine is in trouble, not that a client was clever.
 */
void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
/* Formatted allocation; the caller owns the result. */
char	*xasprintf(const char *, ...) __attribute__((format(printf, 1, 2)));

/* Wipe then free; for anything that held a secret.  NULL is a no-op. */
void	 freezero(void *, size_t);
/* freezero(s, strlen(s) + 1) for a NUL-terminated string. */
void	 freezero_str(char *);

#endif
