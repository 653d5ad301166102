#ifndef KEYHOLE_PROFILE_BUILTIN_DATA_H
#define KEYHOLE_PROFILE_BUILTIN_DATA_H

#include <stddef.h>

#include "profile/profile.h"

/*
 * data/policy.json compiled at build time (scripts/policygen.py writes
 * build/gen/policy_builtin.c), so that a run parses no policy JSON for
 * the groups: the groups as constants, in data order (lists without
 * duplicates, as the JSON parser built them), where each built-in
 * profile's value sits in the embedded text (data_policy_json), parsed
 * when first asked for, and the default profile's groups.  Internal to
 * src/profile and its tests.
 */
struct profile_builtin_span {
	const char	*name;
	size_t		 start;		/* its value: [start, end) */
	size_t		 end;
};

extern const struct profile_group		profile_builtin_groups[];
extern const size_t				profile_builtin_ngroups;
extern const struct profile_builtin_span	profile_builtin_profiles[];
extern const size_t				profile_builtin_nprofiles;
/*
 * The built-in default profile's security.groups (duplicates dropped, as
 * the parser does): all a run without --profile needs of it, so that it
 * parses nothing (profile_default_groups).  Never pushed to or freed.
 */
extern const struct strv			profile_builtin_default_security_groups;

#endif
