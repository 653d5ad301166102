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
 *                            "phantoms": { "ROUTE": "P", ... } } } }
 *
 * T and P are the token itself (32-512 bytes of [A-Za-z0-9._~+/=-]) or
 * "sha256:" and the 64 hex digits of its SHA-256.  Errors name the file,
 * line and column and the key path, as profile errors do.
 */
struct plan;
struct secret;

struct proxy_client {
	char		 *name;		/* owned */
	unsigned char	  digest[32];	/* SHA-256 of the proxy token */
	struct secret	**phantoms;	/* owned; one per plan route, or NULL */
};

struct proxy_clients {
	struct proxy_client	 *v;	/* owned; sorted by digest */
	size_t			  n;
	size_t			  nroutes;
};

/*
 * Load path against plan's routes (a phantom for a route the plan does
 * not declare is an error).  NULL with e on failure.
 */
struct proxy_clients *proxy_clients_load(const char *path,
	    const struct plan *, struct errbuf *e);
/*
 * The client whose token is the one in the Proxy-Authorization value, or
 * NULL.  The digest is found by binary search, then compared in constant
 * time: the search's timing depends only on SHA-256 outputs.
 */
const struct proxy_client *proxy_clients_by_auth(const struct proxy_clients *,
	    const char *value, size_t len);
void	 proxy_clients_free(struct proxy_clients *);

#endif
