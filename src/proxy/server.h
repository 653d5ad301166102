#ifndef KEYHOLE_PROXY_SERVER_H
#define KEYHOLE_PROXY_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/errbuf.h"
#include "util/strv.h"

struct event_base;
struct plan;
struct secret;

/*
 * The proxy (SPEC §4): one listener on 127.0.0.1, served by the caller's
 * libevent loop.  proxy_server_new() binds and listens at once, so the
 * port is known before the sandboxed child is built; connections queue in
 * the backlog until the loop runs.
 */
struct proxy;

/* NULL with e on failure (e.g. "bind 127.0.0.1:8080: Address in use"). */
struct proxy *proxy_server_new(const struct plan *, struct event_base *,
	    struct errbuf *e);
struct proxy_client;
struct proxy_clients;
/*
 * keyhole proxy --clients (SPEC 4.10; cs borrowed, NULL: none): only
 * client tokens and client phantoms are accepted, proxy_server_env()
 * prints no token, and each profile the clients name gets a view of the
 * proxy (its own plan, routes, rules and credential store) serving the
 * connections of those clients.  The interception CA signs for the
 * hosts of every profile.
 */
struct proxy *proxy_server_new_clients(const struct plan *,
	    const struct proxy_clients *cs, struct event_base *,
	    struct errbuf *e);
/*
 * SIGHUP (SPEC 4.10): a proxy for the new plan and clients that takes
 * over old's listeners, audit log and interception CA and keeps old's
 * token and the phantoms of routes of the same name; old keeps serving
 * its open connections (retire it).  Old must be freed before the new
 * one.  NULL with e (old untouched) on failure.
 */
struct proxy *proxy_server_renew(const struct plan *,
	    const struct proxy_clients *cs, struct proxy *old,
	    struct errbuf *e);
/*
 * The proxy (root or view) serving client cl's connections: the view of
 * its profile, or the root when it has none.
 */
struct proxy *proxy_server_view(struct proxy *, const struct proxy_client *);
/*
 * After a renew: close old's idle connections and call gone(arg) (on a
 * later loop turn) once its last connection closed; gone frees it.
 */
void	 proxy_server_retire(struct proxy *, void (*gone)(void *), void *arg);
size_t	 proxy_server_nconns(const struct proxy *);
/*
 * True while draining or retired: each exchange's answer then says
 * "Connection: close" and the connection ends after it, so a keep-alive
 * client moves to a new connection (and the new policy) without a race.
 */
bool	 proxy_server_closing(const struct proxy *);
uint16_t proxy_server_port(const struct proxy *);
/*
 * Append to env, as "NAME=value" strings, every variable a client needs
 * (SPEC §6): proxy URLs, NO_PROXY, NODE_USE_ENV_PROXY, KEYHOLE_PROXY_TOKEN,
 * per route its base-URL and phantom variables.  Warnings from the NO_PROXY
 * computation go to warnings (may be NULL).  The strings hold tokens: free
 * them with freezero_str().
 */
void	 proxy_server_env(const struct proxy *, struct strv *env,
	    struct strv *warnings);
/*
 * Register / unregister a local TCP port of a connection the mediator made
 * to the proxy on the sandbox's behalf: such connections are authenticated
 * (SPEC §4.2).
 */
void	 proxy_server_register_port(struct proxy *, uint16_t);
void	 proxy_server_unregister_port(struct proxy *, uint16_t);
/*
 * Transparent egress (SPEC 4.13): the mediator connected a child's connect
 * to host:dport to us from local port port.  The connection accepted from
 * that port is served as a CONNECT to host:dport (as a plain-HTTP forward
 * when dport is 80).  take: the host (owned by the caller) and *dport of
 * port's registration, removed; NULL when there is none.
 */
#define PROXY_TRANSPARENT_MAX	256
void	 proxy_server_register_transparent(struct proxy *, uint16_t port,
	    const char *host, uint16_t dport);
char	*proxy_server_take_transparent(struct proxy *, uint16_t port,
	    uint16_t *dport);
struct sockaddr;
/*
 * Record an inet port a sandboxed process binds (the mediator calls this
 * before it performs the bind, so the record is never late).  A route
 * never sends its secret to a loopback upstream on a recorded port: the
 * listener there may be the sandbox's own (SPEC §3.2).  Records stay for
 * the run.
 */
void	 proxy_server_sandbox_bound(struct proxy *, uint16_t);
bool	 proxy_server_is_sandbox_bound(const struct proxy *, uint16_t);
struct sockaddr_storage;
/*
 * Parse "A.B.C.D:PORT" or "[V6]:PORT" (port 0-65535; no names) into ss
 * and *len.  -1 when text is not that.
 */
int	 proxy_server_parse_addr(const char *text, struct sockaddr_storage *ss,
	    unsigned int *len);
/* True when sa is on loopback (127/8, ::1, IPv4-mapped 127/8). */
bool	 proxy_server_is_loopback(const struct sockaddr *sa);
/*
 * True when sa, the peer an upstream connection reached, is on loopback
 * on a port a sandboxed process bound: possibly the sandbox's listener.
 */
bool	 proxy_server_peer_in_sandbox(const struct proxy *,
	    const struct sockaddr *sa);
/* Number of denials so far (for the end-of-run summary). */
unsigned long proxy_server_denials(const struct proxy *);
/*
 * Stop listening and close every connection now (SIGTERM path); the loop
 * then has nothing left to do for the proxy.
 */
void	 proxy_server_shutdown(struct proxy *);
/*
 * SIGTERM with a drain timeout (SPEC 4.10): stop listening, mark the
 * proxy not ready, close connections idle between requests.  Returns the
 * connections still open; call again (e.g. every 100 ms) until 0, then
 * proxy_server_shutdown().
 */
size_t	 proxy_server_drain(struct proxy *);
const struct proxy_clients *proxy_server_clients(const struct proxy *);
/* /readyz: listening, not draining, every route's secret loaded. */
bool	 proxy_server_ready(const struct proxy *);
struct strbuf;
/* Append the /metrics text (Prometheus 0.0.4) of the proxy to out. */
void	 proxy_server_metrics(const struct proxy *, struct strbuf *out);
void	 proxy_server_free(struct proxy *);

/* For the proxy's own modules (conn, connect, forward, reverse). */
struct audit;
struct conn;
struct dns;
struct sockaddr;
const struct plan *proxy_server_plan(const struct proxy *);
struct event_base *proxy_server_base(const struct proxy *);
const struct secret *proxy_server_token(const struct proxy *);
struct dns *proxy_server_dns(const struct proxy *);
struct audit *proxy_server_audit(const struct proxy *);
bool	 proxy_server_port_registered(const struct proxy *, uint16_t);
/* The proxy's own listen address (127.0.0.1:PORT). */
const struct sockaddr *proxy_server_self(const struct proxy *);
uint64_t proxy_server_next_id(struct proxy *);
/* A conn was closed: forget it (conn.c calls this once). */
void	 proxy_server_conn_gone(struct proxy *, struct conn *);
/*
 * The route whose upstream is host:port (canonical host), or, when host is
 * an IP literal, one of whose resolved addresses host is; else NULL.
 */
const char *proxy_server_cred_upstream(const struct proxy *,
	    const char *host, uint16_t port);
/* The same as an index into plan->routes; -1 when none. */
ssize_t	 proxy_server_cred_route(const struct proxy *, const char *host,
	    uint16_t port);
/*
 * What serves host:port for plan->routes[i]: the route itself, or the
 * extra host route (route key "hosts") naming it; *pool_i its upstream
 * pool slot.
 */
const struct route *proxy_server_cred_view(const struct proxy *, size_t i,
	    const char *host, uint16_t port, size_t *pool_i);
struct intercept_tls;
/* Interception's CA and TLS context, or NULL when nothing is intercepted. */
struct intercept_tls *proxy_server_itls(const struct proxy *);
/*
 * A plain (non-credential) host whose CONNECT is intercepted (SPEC
 * 4.12): it has endpoint rules (*rules set), or --tls-intercept all and
 * it is not excluded (*rules NULL).  Never an IP literal.
 */
struct endpoint_rules;
bool	 proxy_server_plain_intercepted(const struct proxy *,
	    const char *host, const struct endpoint_rules **rules);
/*
 * The directory holding the CA bundle clients of interception trust
 * (proxy/tls/bundle.h), or NULL; removed by proxy_server_free().
 */
const char *proxy_server_ca_dir(const struct proxy *);
struct creds_store;
struct endpoint_rules;
struct upstream_tls;
/*
 * The credential store routes take their secrets from (borrowed; set
 * before the loop runs).  Without one every route answers 503.
 */
void	 proxy_server_set_creds(struct proxy *, struct creds_store *);
struct creds_store *proxy_server_creds(const struct proxy *);
struct upstream_pool;
/* Idle upstream connections of the routes. */
struct upstream_pool *proxy_server_pool(const struct proxy *);
/* Upstream TLS context (NULL when there are no routes). */
struct upstream_tls *proxy_server_tls(const struct proxy *);
/* Compiled endpoint rules of plan->routes[i]. */
const struct endpoint_rules *proxy_server_rules(const struct proxy *,
	    size_t i);
/* The phantom token of plan->routes[i]. */
/*
 * Route i answered 503 because its secret is missing (why: the store's
 * reason): say so on stderr as it happens, at most one line per route
 * every 5 seconds (the line counts those in between).
 */
void	 proxy_server_note_unavailable(struct proxy *, size_t i,
	    const char *why);
const struct secret *proxy_server_phantom_at(const struct proxy *, size_t i);
/* The phantom token of route name, or NULL. */
const struct secret *proxy_server_phantom(const struct proxy *,
	    const char *name);

#endif
