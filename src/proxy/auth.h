#ifndef KEYHOLE_PROXY_AUTH_H
#define KEYHOLE_PROXY_AUTH_H

#include <stdbool.h>
#include <stddef.h>

struct secret;

/*
 * Proxy authentication (SPEC §4.2).  A Proxy-Authorization value is
 * accepted when it is "Basic base64(ANYUSER:TOKEN)" (strict base64,
 * canonical padding) or "Bearer TOKEN"; the scheme is case-insensitive and
 * the token compared in constant time.
 */
bool	 proxy_auth_check(const struct secret *token, const char *value,
	    size_t len);

#endif
