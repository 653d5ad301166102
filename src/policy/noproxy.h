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
 * domain of one (each such removal adds a warning to warnings).  No
 * duplicates.  Returns an owned string.
 */
char	*policy_noproxy_build(const struct allowlist *,
	    struct route *const *routes, size_t nroutes,
	    const struct strv *extra, struct strv *warnings);

#endif
