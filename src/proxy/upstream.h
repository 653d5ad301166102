#ifndef KEYHOLE_PROXY_UPSTREAM_H
#define KEYHOLE_PROXY_UPSTREAM_H

#include <stdint.h>

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
/*
 * Another reference (a proxy's views and the configuration after a
 * reload share one context); each is dropped with _free.
 */
struct upstream_tls *proxy_upstream_tls_ref(struct upstream_tls *);
void	 proxy_upstream_tls_free(struct upstream_tls *);

struct bufferevent;

/*
 * From now on, write what the TLS layer puts in the output of raw (the
 * socket under a bufferevent_openssl filter) to the socket at once.
 * libevent would turn write interest on, wait a loop turn for EPOLLOUT
 * and turn it off again: two epoll_ctl calls and a turn per request
 * (bench/reverse_rate).  When the socket does not take everything, write
 * interest goes on and libevent finishes the job as usual; once it has,
 * writes go straight out again.  Call it once per connection, after the
 * handshake: what is already queued is written now.
 */
void	 proxy_upstream_write_through(struct bufferevent *raw);

/*
 * Idle upstream connections of credential routes, shared by every client
 * connection (SPEC §4.6: upstream connections are kept alive and reused).
 * An idle connection that the server closes, or that talks out of turn,
 * is dropped; so is one idle for UPSTREAM_POOL_IDLE_MS.
 */
#define UPSTREAM_POOL_PER_ROUTE	256
#define UPSTREAM_POOL_IDLE_MS	30000

struct event_base;
struct upstream_pool;

struct upstream_pool *proxy_upstream_pool_new(struct event_base *,
	    size_t nroutes);
/* Park bev (and its SSL, or NULL) for route i; the pool owns it now. */
void	 proxy_upstream_pool_put(struct upstream_pool *, size_t i,
	    struct bufferevent *, void *ssl);
/* An idle connection for route i (caller owns it; callbacks cleared). */
struct bufferevent *proxy_upstream_pool_get(struct upstream_pool *,
	    size_t i, void **ssl);
size_t	 proxy_upstream_pool_idle(const struct upstream_pool *, size_t i);
/* How long a connection may idle (UPSTREAM_POOL_IDLE_MS; tests shorten it). */
void	 proxy_upstream_pool_set_idle_ms(struct upstream_pool *, uint32_t ms);
void	 proxy_upstream_pool_free(struct upstream_pool *);

#endif
