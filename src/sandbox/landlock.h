#ifndef KEYHOLE_SANDBOX_LANDLOCK_H
#define KEYHOLE_SANDBOX_LANDLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "util/errbuf.h"

struct plan;

/*
 * Landlock (SPEC §1 layer 1, §7) in two halves.  The parent computes
 * everything with sandbox_landlock_prepare(): the handled rights of the
 * running ABI, one O_PATH descriptor and access mask per grant, the TCP
 * port rules and the scopes.  The child, between fork and execve, only
 * calls sandbox_landlock_apply(), which is async-signal-safe.
 */
struct landlock_spec;	/* opaque */

/* Where sandbox_landlock_apply() failed (its *where out-parameter). */
#define LANDLOCK_AT_CREATE	(-1)	/* landlock_create_ruleset */
#define LANDLOCK_AT_RESTRICT	(-2)	/* landlock_restrict_self */
/* where >= 0: the index of the rule that landlock_add_rule refused. */

/*
 * The Landlock ABI of the running kernel: 1 or more, or 0 when Landlock
 * is not available (not built, not in the LSM list, or disabled).
 */
int	 sandbox_landlock_abi(void);

/*
 * Build the ruleset for plan p.  proxy_port is the proxy's listening port
 * (used in NET_PROXY mode; 0: none).  On success *out is an owned spec
 * (free with sandbox_landlock_spec_free) and 0 is returned; warnings about
 * what this kernel cannot enforce are printed once with log_warnx.  -1
 * with e when Landlock is missing, the network mode needs a newer ABI, or
 * a grant cannot be opened.
 */
int	 sandbox_landlock_prepare(const struct plan *p, uint16_t proxy_port,
	    struct landlock_spec **out, struct errbuf *e);

/*
 * In the child (async-signal-safe, no allocation): create the ruleset,
 * add every rule, landlock_restrict_self.  no_new_privs must already be
 * set.  0 on success; -errno on failure with *where set to
 * LANDLOCK_AT_CREATE, LANDLOCK_AT_RESTRICT or the failing rule's index.
 */
int	 sandbox_landlock_apply(const struct landlock_spec *, int *where);

/*
 * Word a failure of sandbox_landlock_apply() into e ("cannot add Landlock
 * rule for /path: ..."), in the parent.
 */
void	 sandbox_landlock_explain(const struct landlock_spec *, int where,
	    int err, struct errbuf *e);

/* The ABI the spec was built for. */
int	 sandbox_landlock_spec_abi(const struct landlock_spec *);
/* Path rules in the spec (for tests). */
size_t	 sandbox_landlock_spec_npaths(const struct landlock_spec *);

/* Close the descriptors and free.  NULL is a no-op. */
void	 sandbox_landlock_spec_free(struct landlock_spec *);

#endif
