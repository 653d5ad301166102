#ifndef KEYHOLE_POLICY_NETPOLICY_H
#define KEYHOLE_POLICY_NETPOLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "util/errbuf.h"
#include "util/strv.h"

/*
 * The built-in network policy (data/network-policy.json, embedded at
 * build): host groups, network profiles and the built-in credential routes
 * of SPEC §5.
 */

struct netgroup {
	char		*name;		/* owned */
	char		*description;	/* owned */
	struct strv	 hosts;		/* exact hosts, lower case */
	struct strv	 suffixes;	/* ".example.com" form */
};

struct netprofile {
	char		*name;		/* owned */
	struct strv	 groups;
	struct strv	 credentials;	/* bundled credential services */
};

struct route_def;			/* policy/route.h */

struct netpolicy {
	struct netgroup		*groups;	/* owned array */
	size_t			 ngroups;
	struct netprofile	*profiles;	/* owned array */
	size_t			 nprofiles;
	struct route_def	**credentials;	/* owned array of owned */
	size_t			 ncredentials;
};

/*
 * Parse a policy document (duplicate and unknown keys are errors; hosts
 * are canonicalised; each credential is checked as policy_route_new()
 * would).  NULL with e = "network policy: line L column C: ..." or
 * "network policy: <key path>: ..." on error.
 */
struct netpolicy *policy_netpolicy_parse(const char *json, size_t len,
	    struct errbuf *e);
/*
 * The embedded policy, parsed on first use and kept for the life of the
 * process (a lazily built constant; not thread-safe).  log_fatalx if the
 * build shipped bad data.
 */
const struct netpolicy *policy_netpolicy_builtin(void);
/*
 * No group name has one of these characters (a parse error): an
 * allow-list entry with one names a host, a suffix or a URL, never a
 * group, so resolving it needs no policy (start-up skips parsing it).
 */
#define NETPOLICY_NOT_IN_GROUP_NAME	".:/*[]"
/* Could entry name a group (it has none of NETPOLICY_NOT_IN_GROUP_NAME)? */
bool	 policy_netpolicy_may_name_group(const char *entry);
const struct netgroup *policy_netpolicy_group(const struct netpolicy *,
	    const char *name);
const struct netprofile *policy_netpolicy_profile(const struct netpolicy *,
	    const char *name);
const struct route_def *policy_netpolicy_credential(const struct netpolicy *,
	    const char *name);
void	 policy_netpolicy_free(struct netpolicy *);

/* Embedded data (build/gen/data_*.c). */
extern const char	data_network_policy_json[];
extern const size_t	data_network_policy_json_len;

#endif
