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
 * Create the granted paths the plan marks (fs_grant.create: agent state
 * files, tool caches that do not exist yet): directories 0700 (missing
 * parents too), files empty and 0600, never through a link.  Call it
 * before the sandbox is built; a failure is a warning (the grant is then
 * skipped like any missing path).
 */
void	 policy_grants_create(const struct plan *);
/*
 * Grant read+write on the run's private temporary directory (SPEC §7),
 * a canonical path keyhole created itself; its Landlock rule is never
 * pruned (fs_grant.own_rule).
 */
void	 policy_grants_add_tmpdir(struct plan *, const char *path);
/*
 * SPEC §3.2: refuse a file:// credential of the plan's routes that the
 * sandboxed program could read or replace through a grant (the file, or
 * a directory above it, granted; checked for the path as written and as
 * resolved).  0, or -1 with e naming the credential and the grant.
 */
int	 policy_grants_check_secrets(const struct plan *, struct errbuf *e);
/* A system read grant (keyhole's CA bundle directory, SPEC 4.12). */
void	 policy_grants_add_read(struct plan *, const char *path);
/*
 * True when path equals root or lies inside it (component-wise; trailing
 * slashes of root ignored).
 */
bool	 policy_grants_path_within(const char *path, const char *root);
/*
 * May the child change the metadata (mode, times, extended attributes)
 * of the file at canonical path (SPEC §3.2)?  Only inside a grant with
 * write access: a file grant is that file; a directory grant from the
 * command line or a profile covers itself and what lies below it, one
 * from a policy group or keyhole itself only what lies below it (the
 * mode and sticky bit of /tmp itself stay the system's); and never
 * inside a sensitive path --override-deny does not name.  NULL when it
 * may, else why not (static text).
 */
const char *policy_grants_meta_check(const struct plan *, const char *path);

#endif
