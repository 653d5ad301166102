#ifndef KEYHOLE_POLICY_WHY_H
#define KEYHOLE_POLICY_WHY_H

#include <stdbool.h>

#include "util/errbuf.h"

struct plan;

/*
 * "keyhole why": does the plan allow this path or host, and why.  The
 * answer is plain data printed by main as text or JSON.
 */
struct why_answer {
	bool	 allowed;
	char	*reason;	/* owned; a short key: "granted_path", ... */
	char	*details;	/* owned; one sentence */
	char	*granted_by;	/* owned or NULL: the grant or entry */
	char	*source;	/* owned or NULL: user, profile, group:x */
	char	*suggestion;	/* owned or NULL: a flag that would grant it */
	char	*profile;	/* owned or NULL: the same as a profile
				 * snippet (one line of JSON) */
	char	*group;		/* owned or NULL: the network-policy group
				 * the suggested host belongs to */
};

/* op: "read", "write" or "readwrite". */
int	 policy_why_path(const struct plan *, const char *path, const char *op,
	    struct why_answer *, struct errbuf *e);
/*
 * True when directory canon (absolute, symlink-free: the caller resolved
 * it, e.g. by readlink of /proc/self/fd/N) lies inside a write grant and
 * not inside a denied sensitive path: what policy_why_path says for
 * "write", without resolving anything again.
 */
bool	 policy_why_writable(const struct plan *, const char *canon);
/* target: "host", "host:port" or a URL. */
int	 policy_why_host(const struct plan *, const char *target,
	    struct why_answer *, struct errbuf *e);
/* The answer as a JSON object text (caller frees). */
char	*policy_why_json(const struct why_answer *);
void	 policy_why_free(struct why_answer *);

#endif
