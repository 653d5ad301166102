#ifndef KEYHOLE_PROXY_TLS_INTERCEPT_H
#define KEYHOLE_PROXY_TLS_INTERCEPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "util/errbuf.h"
#include "util/strv.h"

/*
 * TLS interception (SPEC §4.12): a CONNECT to a credential route's host
 * is answered 200 and its TLS terminated here with a leaf of the run's
 * CA (proxy/tls/pki.c); each request inside then goes through the route
 * exactly as on the reverse path (proxy_reverse_serve), upstream over
 * verified TLS.  TLS 1.2 or later, no renegotiation, no early data, ALPN
 * http/1.1 only.
 */
struct conn;
struct plan;
struct intercept;	/* per connection; opaque */
/* Server contexts kept, one per leaf (proxy_tls_intercept_ctx). */
#define INTERCEPT_CTX_MAX	64

struct intercept_tls;	/* per proxy: the CA and the server contexts */

/*
 * Set up interception for plan, or NULL (no error) when nothing would
 * be intercepted.  Warnings for the user (an unconstrained CA) go to
 * warnings.  NULL with e on failure (--tls-ca unreadable, OpenSSL).
 */
struct intercept_tls *proxy_tls_intercept_tls_new(const struct plan *,
	    struct strv *warnings, struct errbuf *e);
/*
 * The same for several plans sharing one CA (keyhole proxy --clients
 * with per-client profiles): NULL when none intercepts; otherwise the CA
 * may sign for what any of them intercepts.  plans[0]'s --tls-ca is used.
 */
struct intercept_tls *proxy_tls_intercept_tls_new_multi(
	    const struct plan *const *plans, size_t nplans,
	    struct strv *warnings, struct errbuf *e);
/*
 * Can the CA made at start sign for host (canonical, or "*.suffix")?
 * Always with an operator's CA or an unconstrained one.
 */
bool	 proxy_tls_intercept_covers(const struct intercept_tls *,
	    const char *host);
/*
 * Append to out each host plan would intercept that t (NULL: none set up)
 * cannot sign for ("*" for any host): what a reload cannot intercept.
 */
void	 proxy_tls_intercept_uncovered(const struct intercept_tls *,
	    const struct plan *, struct strv *out);
/*
 * The server context for host (canonical, covered): its leaf (minted, or
 * from the CA's cache), the chain and the key set once per leaf, the
 * contexts of the INTERCEPT_CTX_MAX leaves used last kept.  Borrowed
 * (SSL_new takes its own reference); NULL with e on failure.
 */
SSL_CTX	*proxy_tls_intercept_ctx(struct intercept_tls *, const char *host,
	    struct errbuf *e);
/* The certificate clients must trust (borrowed). */
X509	*proxy_tls_intercept_root(const struct intercept_tls *);
void	 proxy_tls_intercept_tls_free(struct intercept_tls *);

/*
 * Intercept c's CONNECT (authenticated, c->host/c->port canonical) for
 * route plan->routes[route_i]: answer 200 and start our handshake.
 */
void	 proxy_tls_intercept_start(struct conn *, size_t route_i);
struct endpoint_rules;
/*
 * Intercept c's CONNECT to a plain host (proxy_server_plain_intercepted):
 * rules (borrowed, or NULL: all allowed) apply to each request, which
 * goes out with the client's own headers and no credential.
 */
void	 proxy_tls_intercept_start_plain(struct conn *,
	    const struct endpoint_rules *rules);
/* The endpoint rules for c's current request (route's or plain host's). */
const struct endpoint_rules *proxy_tls_intercept_rules(const struct conn *);
/* A request head arrived inside the tunnel (c->head). */
void	 proxy_tls_intercept_request(struct conn *);
/*
 * The request carries no phantom of its route.  0: it goes out without a
 * credential (CONN_ANON set).  -1: answered 401 -- a phantom of another
 * route came (named in the audit reason, never replaced), or the route
 * injects into the path or query, which cannot go out bare.
 */
int	 proxy_tls_intercept_no_phantom(struct conn *);
/*
 * c waits for its next request with nothing buffered: its TLS record
 * buffers are let go unless it is busy again within a moment (they come
 * back with the next record).
 */
void	 proxy_tls_intercept_idle(struct conn *);
/* c's next request began to arrive (after proxy_tls_intercept_idle). */
void	 proxy_tls_intercept_busy(struct conn *);
/* c becomes a tunnel (WebSocket): record buffers go after each record. */
void	 proxy_tls_intercept_tunnel(struct conn *);
/* The handshake deadline passed. */
void	 proxy_tls_intercept_timeout(struct conn *);
void	 proxy_tls_intercept_free(struct intercept *);

#endif
