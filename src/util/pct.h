#ifndef KEYHOLE_UTIL_PCT_H
#define KEYHOLE_UTIL_PCT_H

#include <stddef.h>

/* Value of hex digit c, or -1. */
int	 pct_hexval(char c);
/*
 * Percent-decode s[0..n) into out (room for n bytes); an invalid escape
 * stays as written.  Returns the decoded length.
 */
size_t	 pct_decode(const char *s, size_t n, char *out);

#endif
