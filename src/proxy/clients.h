#ifndef KEYHOLE_PROXY_CLIENTS_H
#define KEYHOLE_PROXY_CLIENTS_H

#include <stddef.h>

#include "util/errbuf.h"

/*
 * keyhole proxy --clients FILE (SPEC 4.10): named clients, each with its
 * own pinned proxy token and phantom tokens, so every replica reading the
 * same file accepts the same tokens.  Format (docs/clients-format.md):
 *
 *   { "clients": { "NAME": { "token": "T",
 *                            "profile": "PROFILE",
 *                            "phantoms": { "ROUTE": "P", ... } } } }
 *
 * T and P are the token itself (32-512 bytes of [A-Za-z0-9._~+/=-]) or
 * "sha256:" and the 64 hex digits of its SHA-256.  Errors name the file,
 * line and column and the key path, as profile errors do.
 */
struct creds_store;
struct plan;
struct secret;

struct proxy_client {
	char		 *name;		/* owned */
	unsigned char	  digest[32];	/* SHA-256 of the proxy token */
	struct secret	**phantoms;	/* owned; one per route of its plan,
					 * or NULL */
	int		  profile;	/* index in profiles; -1: the proxy's */
};

/*
 * A profile some clients name: loaded once however many name it, so
 * 10,000 clients of a few profiles hold a few plans and stores.
 */
struct proxy_clients_profile {
	char			*name;		/* owned; as written */
	struct plan		*plan;		/* owned */
	struct creds_store	*creds;		/* owned */
};

struct proxy_clients {
	struct proxy_client	 *v;	/* owned; sorted by digest */
	size_t			  n;
	const struct plan	 *plan;	/* borrowed; the proxy's */
	struct proxy_clients_profile *profiles;	/* owned */
	size_t			  nprofiles;
};

/*
 * Build the plan and credential store of profile name (a client's
 * "profile" value, as written).  -1 with e (the message is placed at
 * the client's "profile" key).
 */
typedef int proxy_clients_profile_fn(void *arg, const char *name,
	    struct plan **, struct creds_store **, struct errbuf *e);

/*
 * Load path.  Clients without "profile" use plan (the proxy's, borrowed:
 * it must outlive the result); each profile named is built once with
 * fn (NULL: "profile" is refused).  A phantom for a route the client's
 * plan does not declare is an error.  NULL with e on failure.
 */
struct proxy_clients *proxy_clients_load(const char *path,
	    const struct plan *plan, proxy_clients_profile_fn *fn, void *arg,
	    struct errbuf *e);
/* The plan client cl is served by. */
const struct plan *proxy_clients_plan(const struct proxy_clients *,
	    const struct proxy_client *cl);
/*
 * The client whose token is the one in the Proxy-Authorization value, or
 * NULL.  The digest is found by binary search, then compared in constant
 * time: the search's timing depends only on SHA-256 outputs.
 */
const struct proxy_client *proxy_clients_by_auth(const struct proxy_clients *,
	    const char *value, size_t len);
void	 proxy_clients_free(struct proxy_clients *);

#endif
