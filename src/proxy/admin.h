#ifndef KEYHOLE_PROXY_ADMIN_H
#define KEYHOLE_PROXY_ADMIN_H

#include "util/errbuf.h"

/*
 * keyhole proxy --admin-listen ADDR:PORT (SPEC 4.10): a small HTTP/1.x
 * listener answering GET /healthz (200 while the loop runs), GET /readyz
 * (200 when proxy_server_ready(), else 503) and GET /metrics (Prometheus
 * text format 0.0.4).  One request per connection, answered with
 * Connection: close; heads over 8 KiB or slower than 5 s are dropped.
 * It serves no secret and takes no input but the request line.
 */
struct admin;
struct event_base;
struct proxy;

/*
 * Listen on addr ("127.0.0.1:9090", "[::1]:9090", "0.0.0.0:9090").  The
 * proxy is borrowed and may be replaced with proxy_admin_set_proxy().
 * NULL with e naming addr on failure.
 */
struct admin *proxy_admin_new(struct event_base *, const char *addr,
	    struct proxy *, struct errbuf *e);
void	 proxy_admin_set_proxy(struct admin *, struct proxy *);
/* Extra /metrics text appended after the proxy's (borrowed callback). */
struct strbuf;
typedef void admin_metrics_fn(struct strbuf *out, void *arg);
void	 proxy_admin_set_extra(struct admin *, admin_metrics_fn *, void *);
/* The port it listens on (for ADDR:0). */
unsigned proxy_admin_port(const struct admin *);
void	 proxy_admin_free(struct admin *);

#endif
