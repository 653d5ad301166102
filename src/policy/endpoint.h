#ifndef KEYHOLE_POLICY_ENDPOINT_H
#define KEYHOLE_POLICY_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>

#include "util/errbuf.h"

struct route_def;

/*
 * Endpoint rules of a credential route (SPEC §4.6 steps 1-2).  Paths are
 * matched segment by segment over percent-decoded segments: "*" is exactly
 * one segment, "**" zero or more (a rule "/a" then "**" matches "/a");
 * methods compare case-insensitively and "*" is any method.  The query is not
 * matched; empty segments and a trailing '/' do not count.  Before any
 * matching, a request path must be in canonical form, so what is matched
 * is exactly what is sent.
 */
struct endpoint_rules;

/*
 * Compile the rules of def.  A rule path starts with '/' and is itself in
 * canonical form; a segment is a literal (percent-decoded here, so %2A is
 * a literal '*'), "*" or "**"; any other glob character ("a*", '?', '[',
 * ']', '{', '}', '\') is an error.  The method is a token or "*".  NULL
 * with e naming the route and the rule ("route 'github': endpoint rule
 * 'GET /a/[x': ...") on error.  The caller owns the result.
 */
struct endpoint_rules *policy_endpoint_compile(const struct route_def *def,
	    struct errbuf *e);
/*
 * True when some rule matches method and path (query ignored).  No rules
 * (or a NULL set) allows everything; otherwise a path that fails
 * policy_endpoint_check_path() is never allowed.
 */
bool	 policy_endpoint_allows(const struct endpoint_rules *,
	    const char *method, const char *path);
void	 policy_endpoint_free(struct endpoint_rules *);
/*
 * SPEC §4.6 step 1 on an origin-form path (query allowed): 0 when
 * canonical; -1 with e saying why for a path not starting with '/'
 * ("path does not start with '/'"), a dot segment ("." or "..", also
 * %2e-encoded: "dot segment in path"), a backslash ("backslash in path")
 * or %5c ("encoded backslash (%5c) in path"), an encoded slash %2f
 * ("encoded slash (%2f) in path"), a NUL or control byte ("NUL or control
 * byte in path", encoded: "encoded NUL or control byte in path"), or an
 * invalid escape ("invalid percent escape in path"), or a raw '#'
 * ("fragment ('#') in path").  The query (after the first '?') is only
 * refused for a raw NUL or control byte, a '#' or an invalid escape
 * ("... in query"); there an encoded byte is data and stays encoded on the
 * way up.
 */
int	 policy_endpoint_check_path(const char *path, struct errbuf *e);

#endif
