#ifndef KEYHOLE_POLICY_DENY_H
#define KEYHOLE_POLICY_DENY_H

#include <stdbool.h>
#include <stddef.h>

/*
 * What a denial tells the agent and the person (SPEC §4.11): the kind of
 * the denial for the <sandbox_violations> block, and the flag and
 * profile key that would allow it.  The explanation is derived from the
 * audit record's mode, target and reason, the same text every deny
 * answer, -v line and violation line uses.  Nothing is ever suggested
 * for what no flag allows (cloud metadata, the proxy itself, abstract
 * unix sockets, ...): never is set instead.
 */
struct deny_info {
	const char	*kind;		/* network direct unix dns filesystem */
	bool		 never;		/* no flag or profile key allows it */
	char		 hint[1024];	/* "--allow-domain x (profile: ...)"
					 * or what to do instead; "" if none */
};

/*
 * Explain one denial.  mode: the audit mode (connect forward reverse
 * external direct dns); host and port: its target (port -1: none);
 * service, method and path: a route request's (else NULL); reason: the
 * audit reason.
 */
void	 policy_deny_explain(const char *mode, const char *host, int port,
	    const char *service, const char *method, const char *path,
	    const char *reason, struct deny_info *out);

/*
 * The allow-list entry (SPEC 4.3) that allows exactly host on port:
 * "host" for CONNECT on 443 and forwards on 80 (forward: the request was
 * a plain-HTTP forward), else "host:port"; IPv6 literals in brackets.
 * Owned.
 */
char	*policy_deny_entry(const char *host, int port, bool forward);

/*
 * The profile snippet that allows entries: {"network": {"allow_domain":
 * [...]}} on one line.  Owned.
 */
struct strv;
char	*policy_deny_snippet(const struct strv *entries);

/*
 * The suggestion --report-only prints (SPEC 4.11): entries (as
 * policy_deny_entry made them, in order) with a network-policy group's
 * name in place of the bare hosts it covers when the group fits (below);
 * the group stands where its first host stood.  Entries with a port or a
 * bracketed literal stay as they are: a group allows its hosts on the
 * default ports only.  Greedy: the group covering the most remaining
 * hosts first, ties to the policy's order.  The entries go to out, the
 * chosen group names (if groups is not NULL) to groups.
 */
struct netpolicy;
struct netgroup;
void	 policy_deny_suggest(const struct strv *entries,
	    const struct netpolicy *np, struct strv *out, struct strv *groups);
/*
 * Whether a group whose used hosts number used is suggested in their
 * place: at least two of them, and at least half of the group's listed
 * hosts (a group of suffixes only: any two hosts under them).  The whole
 * group used always fits; a large group is not suggested for a few of its
 * hosts (llm_apis, 16 hosts, needs 8).
 */
bool	 policy_deny_group_fits(const struct netgroup *, size_t used);
/* The first group that covers the bare host entry ent, or NULL. */
const struct netgroup *policy_deny_group_of(const struct netpolicy *,
	    const char *ent);

#endif
