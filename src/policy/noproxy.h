#ifndef KEYHOLE_POLICY_NOPROXY_H
#define KEYHOLE_POLICY_NOPROXY_H

#include <stddef.h>

#include "util/strv.h"

struct allowlist;
struct route;

/*
 * The child's NO_PROXY (SPEC §6): "localhost,127.0.0.1,::1", then every
 * direct-grant host of the allow-list with its port stripped (IPv6 keeps
 * its brackets), then the extra (profile network.no_proxy) entries --
 * minus every credential upstream host and any entry that is a parent
 * domain of one (each such removal adds a warning to warnings, which may
 * be NULL).  An entry covers an upstream when, after dropping a leading
 * "*", ".", [] and a :port, it equals the host or a parent domain of it,
 * is "*", or is a CIDR block holding an IP-literal upstream.  Extras are
 * split on ',' and trimmed.  localhost, 127.0.0.1 and ::1 are never
 * removed.  No duplicates (case-insensitive).  Returns an owned string.
 */
char	*policy_noproxy_build(const struct allowlist *,
	    struct route *const *routes, size_t nroutes,
	    const struct strv *extra, struct strv *warnings);

#endif
