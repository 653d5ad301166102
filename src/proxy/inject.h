#ifndef KEYHOLE_PROXY_INJECT_H
#define KEYHOLE_PROXY_INJECT_H

#include <stdbool.h>
#include <stdint.h>

#include "util/errbuf.h"

struct evbuffer;
struct http_head;
struct route;
struct secret;
struct strbuf;

/*
 * Phantom token in, real credential out (SPEC §4.6 steps 3 and 5).
 * path is the request path after "/<service>" (origin form, query kept,
 * "/" at least).
 */

/*
 * True when the request presents the route's phantom token in its inject
 * location (constant-time compare):
 *  header / basic_auth: the inject header carries the token raw, as
 *    "Bearer T" (scheme in any case, one or more spaces), or, in header
 *    mode only, with the literal prefix of credential_format compared
 *    case-insensitively ("token T" for "token {}"); the first such header
 *    decides.  basic_auth does not decode a "Basic ..." phantom.
 *  url_path: path_pattern's "{}" span in path holds the token; the part
 *    before "{}" must start path (anchored), the token runs to the first
 *    following suffix in the part before '?', or with an empty suffix to
 *    the next '/' or '?' or the end.
 *  query_param: the first query_param_name=value (name exact, value
 *    percent-decoded, '+' kept) is it.
 */
bool	 proxy_inject_check_phantom(const struct route *,
	    const struct secret *phantom, const struct http_head *,
	    const char *path);
/*
 * Interception (SPEC §4.12): proxy_inject_check_phantom, or the phantom
 * in any credential-looking header (Authorization, x-api-key,
 * x-goog-api-key, Private-Token; all dropped before the upstream) or the
 * route's inject header, as raw, Bearer, token, or Basic in either
 * position (proxy_auth_has_phantom).
 */
bool	 proxy_inject_find_phantom(const struct route *,
	    const struct secret *phantom, const struct http_head *,
	    const char *path);
/*
 * Append the upstream request head to out (nothing is appended on error):
 *   "METHOD <up_path><path'> HTTP/1.1", "Host: host[:port]" (port only if
 *   not the scheme default), the client's headers minus hop-by-hop ones,
 *   those named in Connection, Proxy-*, Host, the inject header and every
 *   credential-looking header (Authorization, X-Api-Key, X-Goog-Api-Key,
 *   Private-Token) and, unless the route sets compressed_responses,
 *   Accept-Encoding, then the credential per mode (header: format with {}
 *   = secret; basic_auth: "Basic base64(secret)"), then
 *   "Accept-Encoding: identity" unless compressed_responses (responses
 *   are scrubbed, SPEC §4.6 step 6), then "Connection:
 *   keep-alive" or, for an upgrade, "Connection: upgrade" and the Upgrade
 *   header, then CRLF.  Content-Length, Transfer-Encoding and Expect are
 *   kept as sent (even when Connection names them): the body is relayed
 *   as the client framed it.
 * path' is path with the url_path token span replaced by path_replacement
 * (or path_pattern) around the percent-encoded secret, or with every
 * query parameter of that name set to the percent-encoded secret
 * (appended when absent).
 * -1 with e (the caller answers 400) for a header value holding CR, LF or
 * NUL ("header 'X' holds a CR, LF or NUL byte"), a url_path request that
 * does not match the pattern, or (header modes) a secret holding CR, LF
 * or NUL.
 * Every intermediate buffer that held the secret is wiped.
 */
/*
 * secret NULL (header and basic_auth modes only): the same head without
 * a credential line (an intercepted request that presented no phantom).
 */
int	 proxy_inject_write_head(struct evbuffer *out, const struct route *,
	    const struct secret *secret, const struct http_head *,
	    const char *path, bool upgrade, struct errbuf *e);
/*
 * Append path for logs and audit to the strbuf: every non-empty query
 * value and the url_path token span replaced by "REDACTED" (route may be
 * NULL: the query only).
 */
void	 proxy_inject_redact_path(struct strbuf *, const struct route *,
	    const char *path);

#endif
