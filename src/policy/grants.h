#ifndef KEYHOLE_POLICY_GRANTS_H
#define KEYHOLE_POLICY_GRANTS_H

#include <stdbool.h>

#include "util/errbuf.h"

struct cli;
struct plan;
struct profile;

/*
 * The filesystem half of the run plan (SPEC §7): what the policy groups,
 * the profile and the command line grant, the working directory, and the
 * refusal of grants that equal, contain or lie inside a sensitive path
 * unless --override-deny names it.  Paths are canonical; missing ones are
 * skipped with a warning in plan->warnings.  prof NULL: the built-in
 * default groups only.  -1 with e.
 */
int	 policy_grants_build(struct plan *, const struct cli *,
	    const struct profile *, struct errbuf *e);
/*
 * Grant read+write on the run's private temporary directory (SPEC §7),
 * a canonical path keyhole created itself.
 */
void	 policy_grants_add_tmpdir(struct plan *, const char *path);
/* True when path equals root or lies inside it (component-wise). */
bool	 policy_grants_path_within(const char *path, const char *root);

#endif
