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
/*
 * Interception (SPEC §4.12): true when an Authorization-style value holds
 * phantom wherever a client puts it: raw, "Bearer T", "token T" (the
 * scheme case-insensitive), or "Basic base64(user:pass)" (strict base64)
 * with T as the user or as the password (git's x-access-token:T and
 * T:x-oauth-basic).  Constant-time compares; decoded bytes are wiped.
 */
bool	 proxy_auth_has_phantom(const struct secret *phantom,
	    const char *value, size_t len);

/*
 * --clients (SPEC 4.10): the SHA-256 of the token a Proxy-Authorization
 * value carries ("Bearer T", or the password of "Basic"), into md.
 * False when the value holds none.
 */
bool	 proxy_auth_digest(const char *value, size_t len,
	    unsigned char md[32]);

#endif
