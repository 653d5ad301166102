#ifndef KEYHOLE_PROXY_UPSTREAM_H
#define KEYHOLE_PROXY_UPSTREAM_H

#include <openssl/ssl.h>

#include "util/errbuf.h"

/*
 * TLS towards credential-route upstreams (SPEC §4.6 step 5): the system
 * trust store plus --upstream-ca, TLS 1.2 at least, SNI for names, host
 * name (or IP) verification, ALPN http/1.1.
 */
struct upstream_tls;

/* extra_ca: PEM file of additional trust anchors, or NULL. */
struct upstream_tls *proxy_upstream_tls_new(const char *extra_ca,
	    struct errbuf *e);
/* A client SSL for host (canonical; an IP literal is verified as an IP). */
SSL	*proxy_upstream_ssl(struct upstream_tls *, const char *host,
	    struct errbuf *e);
/* Why the handshake of ssl failed, for the audit reason. */
void	 proxy_upstream_tls_error(SSL *, struct errbuf *e);
void	 proxy_upstream_tls_free(struct upstream_tls *);

#endif
