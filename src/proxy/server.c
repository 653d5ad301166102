/*
 * The proxy's listener and connection table (SPEC §4.1): accept with a
 * connection limit (503 past it) and a back-off on EMFILE, the proxy token
 * and per-route phantom tokens, the environment a client needs, and the
 * credential upstreams' addresses for the CONNECT block (SPEC §4.5).
 */
#include "proxy/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "creds/secret.h"
#include "policy/allowlist.h"
#include "creds/store.h"
#include "policy/endpoint.h"
#include "policy/noproxy.h"
#include "policy/plan.h"
#include "policy/route.h"
#include "proxy/audit.h"
#include "proxy/clients.h"
#include "proxy/conn.h"
#include "proxy/dns.h"
#include "proxy/guard.h"
#include "proxy/tls/bundle.h"
#include "proxy/tls/intercept.h"
#include "proxy/upstream.h"
#include "util/log.h"
#include "util/mono.h"
#include "util/strbuf.h"
#include "util/strnum.h"
#include "util/tlslib.h"
#include "util/xmalloc.h"

#define PROXY_BACKLOG		1024
#define PROXY_ACCEPT_PAUSE_MS	1000

/* Addresses of one credential upstream (for IP-literal CONNECTs). */
struct route_addrs {
	struct sockaddr_storage	 a[DNS_MAX_ADDRS];
	size_t			 n;
	struct dns_req		*req;	/* pending */
	struct proxy		*px;	/* borrowed */
};

/* 503s of one route while its secret is missing (SPEC §5, issue 15). */
struct unavail {
	uint64_t	last_ms;	/* monotonic; 0: never reported */
	uint64_t	quiet;		/* answered since the last line */
};

/* At most one line per route this often about its 503s. */
#define PROXY_UNAVAIL_REPORT_MS	5000

struct proxy {
	const struct plan	*plan;		/* borrowed */
	struct event_base	*base;		/* borrowed */
	struct evconnlistener	*listener;	/* owned */
	struct event		*accept_pause;	/* owned */
	struct sockaddr_storage	 self;		/* the first listener */
	char			 url_host[INET6_ADDRSTRLEN + 2]; /* in URLs */
	struct evconnlistener	**more;		/* owned; --listen 2nd.. */
	size_t			 nmore;
	struct secret		*token;		/* owned */
	struct secret		**phantoms;	/* owned; one per route */
	struct route_addrs	*raddrs;	/* owned; one per pool slot */
	size_t			 nraddrs;
	struct dns		*dns;		/* owned */
	struct audit		*audit;		/* owned */
	struct creds_store	*creds;		/* borrowed */
	struct upstream_tls	*tls;		/* a reference; NULL: no routes */
	struct stat		 ca_st;		/* plan->upstream_ca as read */
	struct upstream_pool	*pool;		/* owned */
	struct intercept_tls	*itls;		/* owned; NULL: no interception */
	size_t			*pool_base;	/* owned; slot of routes[i]'s
						 * first extra host */
	char			*ca_dir;	/* owned; the clients' CA bundle */
	bool			 ca_java;	/* ca_dir has truststore.p12 */
	int			 ca_lock;	/* flock held on ca_dir, or -1 */
	struct endpoint_rules	**rules;	/* owned; one per route */
	struct endpoint_rules	**plain_rules;	/* owned; plan->plain's */
	struct unavail		*unavail;	/* owned; one per route */
	struct conn_list	 conns;
	size_t			 nconns;
	uint64_t		 accepted;	/* connections, for /metrics */
	uint64_t		 unavail_total;	/* 503s: secret missing */
	bool			 draining;	/* SIGTERM with a drain timeout */
	const struct proxy_clients *clients;	/* borrowed; --clients */
	/*
	 * Per-client profiles (SPEC 4.10): one view per profile the clients
	 * file names, built with the proxy and freed with it.  A view has
	 * the profile's plan, routes, rules, pool and credential store, and
	 * borrows its parent's audit log, interception CA, listen address
	 * and connection table; a connection moves to the view of the
	 * client it authenticates as (conn->px).
	 */
	struct proxy		*parent;	/* borrowed; NULL: the root */
	struct proxy		**views;	/* owned; clients->nprofiles */
	size_t			 nviews;
	/*
	 * SIGHUP (SPEC 4.10): a new proxy takes over the listeners, the
	 * token, the phantoms of routes kept, the audit log and the
	 * interception CA; the old one serves its open connections and
	 * is freed once they are gone.  The newest owns what was moved.
	 */
	bool			 borrowed;	/* audit, itls, ca_dir not ours */
	bool			 retired;
	void			(*gone)(void *);
	void			*gone_arg;
	uint64_t		 next_id;
	/*
	 * Mediated client ports: a count, as a port can be reused before
	 * the close of its previous connection has been seen.  Made at the
	 * first registration (72 KB with the next: a proxy without a
	 * sandbox never needs them, and a table made with the proxy was
	 * zeroed into resident memory); NULL: nothing registered.
	 */
	uint8_t			*registered;	/* owned: [65536] */
	/* Inet ports a sandboxed process bound (a bit each). */
	uint8_t			*sandbox_bound;	/* owned: [65536 / 8] */
	/* Transparent egress (SPEC 4.13): mediated source port -> host. */
	struct {
		uint16_t	 port;
		uint16_t	 dport;
		char		*host;		/* owned */
	}			 transp[PROXY_TRANSPARENT_MAX];
	size_t			 ntransp;
};

/* The proxy owning the listeners and the connection table. */
static struct proxy *
server_root(struct proxy *px)
{
	return px->parent != NULL ? px->parent : px;
}

static void	server_on_accept(struct evconnlistener *, evutil_socket_t,
		    struct sockaddr *, int, void *);
static void	server_on_accept_error(struct evconnlistener *, void *);

void
proxy_server_note_unavailable(struct proxy *px, size_t i, const char *why)
{
	struct unavail	*u;
	uint64_t	 now;

	if (i >= px->plan->nroutes)
		return;
	server_root(px)->unavail_total++;
	if (why == NULL)
		why = "not loaded";
	u = &px->unavail[i];
	now = mono_ms();
	if (u->last_ms != 0 && now - u->last_ms < PROXY_UNAVAIL_REPORT_MS) {
		u->quiet++;
		return;
	}
	if (u->quiet > 0)
		log_warnx("route %s: answered 503 (credential unavailable: "
		    "%s), and %llu more since the last report",
		    px->plan->routes[i]->def->name, why,
		    (unsigned long long)u->quiet);
	else
		log_warnx("route %s: answered 503 (credential unavailable: "
		    "%s); the client's requests fail until the secret "
		    "appears", px->plan->routes[i]->def->name, why);
	u->last_ms = now;
	u->quiet = 0;
}

const struct plan *
proxy_server_plan(const struct proxy *px)
{
	return px->plan;
}

struct event_base *
proxy_server_base(const struct proxy *px)
{
	return px->base;
}

const struct secret *
proxy_server_token(const struct proxy *px)
{
	return px->token;
}

struct dns *
proxy_server_dns(const struct proxy *px)
{
	return px->dns;
}

struct audit *
proxy_server_audit(const struct proxy *px)
{
	return px->audit;
}

const struct sockaddr *
proxy_server_self(const struct proxy *px)
{
	return (const struct sockaddr *)&px->self;
}

uint64_t
proxy_server_next_id(struct proxy *px)
{
	return ++server_root(px)->next_id;
}

uint16_t
proxy_server_port(const struct proxy *px)
{
	if (px->self.ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)&px->self)->
		    sin6_port);
	return ntohs(((const struct sockaddr_in *)&px->self)->sin_port);
}

unsigned long
proxy_server_denials(const struct proxy *px)
{
	return proxy_audit_denials(px->audit);
}

void
proxy_server_register_port(struct proxy *px, uint16_t port)
{
	if (px->registered == NULL)
		px->registered = xcalloc(65536, sizeof(*px->registered));
	if (px->registered[port] < UINT8_MAX)
		px->registered[port]++;
}

void
proxy_server_unregister_port(struct proxy *px, uint16_t port)
{
	if (px->registered != NULL && px->registered[port] > 0)
		px->registered[port]--;
}

void
proxy_server_register_transparent(struct proxy *px, uint16_t port,
    const char *host, uint16_t dport)
{
	size_t	i;

	for (i = 0; i < px->ntransp; i++)
		if (px->transp[i].port == port)
			break;
	if (i == px->ntransp) {
		if (px->ntransp == PROXY_TRANSPARENT_MAX) {
			/* Never accepted (the child gave up): the oldest. */
			free(px->transp[0].host);
			memmove(&px->transp[0], &px->transp[1],
			    (px->ntransp - 1) * sizeof(px->transp[0]));
			px->ntransp--;
			i = px->ntransp;
		}
		px->ntransp++;
	} else
		free(px->transp[i].host);
	px->transp[i].port = port;
	px->transp[i].dport = dport;
	px->transp[i].host = xstrdup(host);
}

char *
proxy_server_take_transparent(struct proxy *px, uint16_t port,
    uint16_t *dport)
{
	char	*h;
	size_t	 i;

	for (i = 0; i < px->ntransp; i++) {
		if (px->transp[i].port != port)
			continue;
		h = px->transp[i].host;
		*dport = px->transp[i].dport;
		memmove(&px->transp[i], &px->transp[i + 1],
		    (px->ntransp - i - 1) * sizeof(px->transp[0]));
		px->ntransp--;
		return h;
	}
	return NULL;
}

void
proxy_server_sandbox_bound(struct proxy *px, uint16_t port)
{
	if (px->sandbox_bound == NULL)
		px->sandbox_bound = xcalloc(65536 / 8,
		    sizeof(*px->sandbox_bound));
	px->sandbox_bound[port / 8] |= (uint8_t)(1u << (port % 8));
}

bool
proxy_server_is_sandbox_bound(const struct proxy *px, uint16_t port)
{
	return px->sandbox_bound != NULL &&
	    (px->sandbox_bound[port / 8] & (1u << (port % 8))) != 0;
}

bool
proxy_server_is_loopback(const struct sockaddr *sa)
{
	const struct sockaddr_in	*s4 = (const struct sockaddr_in *)sa;
	const struct sockaddr_in6	*s6 = (const struct sockaddr_in6 *)sa;

	if (sa->sa_family == AF_INET)
		return (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family != AF_INET6)
		return false;
	return IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr) ||
	    (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr) &&
	    s6->sin6_addr.s6_addr[12] == 127);
}

bool
proxy_server_peer_in_sandbox(const struct proxy *px,
    const struct sockaddr *sa)
{
	uint16_t	port;

	if (!proxy_server_is_loopback(sa))
		return false;
	port = sa->sa_family == AF_INET ?
	    ntohs(((const struct sockaddr_in *)sa)->sin_port) :
	    ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	return proxy_server_is_sandbox_bound(px, port);
}

bool
proxy_server_port_registered(const struct proxy *px, uint16_t port)
{
	return port != 0 && px->registered != NULL &&
	    px->registered[port] > 0;
}

static void
server_gone_cb(evutil_socket_t fd, short what, void *arg)
{
	struct proxy	*px = arg;

	(void)fd;
	(void)what;
	px->gone(px->gone_arg);
}

/* A retired proxy with nothing open: its owner frees it, next turn. */
static void
server_maybe_gone(struct proxy *px)
{
	struct timeval	zero = { 0, 0 };

	if (!px->retired || px->nconns > 0 || px->gone == NULL)
		return;
	px->retired = false;	/* once */
	if (event_base_once(px->base, -1, EV_TIMEOUT, server_gone_cb, px,
	    &zero) == -1)
		log_fatalx("cannot schedule the end of a retired proxy");
}

void
proxy_server_retire(struct proxy *px, void (*gone)(void *), void *arg)
{
	px->retired = true;
	px->gone = gone;
	px->gone_arg = arg;
	server_maybe_gone(px);
}

bool
proxy_server_closing(const struct proxy *px)
{
	if (px->parent != NULL)
		px = px->parent;
	return px->draining || px->gone != NULL;
}

size_t
proxy_server_nconns(const struct proxy *px)
{
	return px->nconns;
}

void
proxy_server_conn_gone(struct proxy *px, struct conn *c)
{
	px = server_root(px);
	TAILQ_REMOVE(&px->conns, c, entry);
	px->nconns--;
	server_maybe_gone(px);
}

void
proxy_server_set_creds(struct proxy *px, struct creds_store *cs)
{
	px->creds = cs;
}

struct creds_store *
proxy_server_creds(const struct proxy *px)
{
	return px->creds;
}

struct upstream_pool *
proxy_server_pool(const struct proxy *px)
{
	return px->pool;
}

struct upstream_tls *
proxy_server_tls(const struct proxy *px)
{
	return px->tls;
}

const struct endpoint_rules *
proxy_server_rules(const struct proxy *px, size_t i)
{
	return px->rules[i];
}

const struct secret *
proxy_server_phantom_at(const struct proxy *px, size_t i)
{
	return px->phantoms[i];
}

const struct secret *
proxy_server_phantom(const struct proxy *px, const char *name)
{
	size_t	i;

	for (i = 0; i < px->plan->nroutes; i++)
		if (strcmp(px->plan->routes[i]->def->name, name) == 0)
			return px->phantoms[i];
	return NULL;
}

/* Parse an IP literal into ss (port 0); false when host is a name. */
static bool
server_literal(const char *host, struct sockaddr_storage *ss)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		return true;
	}
	return false;
}

static bool
server_addr_in(const struct route_addrs *ra, const struct sockaddr_storage *a)
{
	size_t	j;

	for (j = 0; j < ra->n; j++)
		if (proxy_guard_same_addr((const struct sockaddr *)a,
		    (const struct sockaddr *)&ra->a[j]))
			return true;
	return false;
}

ssize_t
proxy_server_cred_route(const struct proxy *px, const char *host,
    uint16_t port)
{
	const struct plan	*plan = px->plan;
	struct sockaddr_storage	 lit;
	bool			 is_lit = server_literal(host, &lit);
	size_t			 i, j;

	/* Routes count from their declaration, loaded or not (§4.5). */
	for (i = 0; i < plan->nroutes; i++) {
		const struct route *r = plan->routes[i];

		if (r->up_port == port && strcmp(r->up_host, host) == 0)
			return (ssize_t)i;
		for (j = 0; j < r->nextra; j++)
			if (r->extra[j]->up_port == port &&
			    strcmp(r->extra[j]->up_host, host) == 0)
				return (ssize_t)i;
		if (!is_lit)
			continue;
		if (server_addr_in(&px->raddrs[i], &lit))
			return (ssize_t)i;
		for (j = 0; j < r->nextra; j++)
			if (server_addr_in(&px->raddrs[px->pool_base[i] + j],
			    &lit))
				return (ssize_t)i;
	}
	return -1;
}

const char *
proxy_server_cred_upstream(const struct proxy *px, const char *host,
    uint16_t port)
{
	ssize_t	i = proxy_server_cred_route(px, host, port);

	return i == -1 ? NULL : px->plan->routes[i]->def->name;
}

struct intercept_tls *
proxy_server_itls(const struct proxy *px)
{
	return px->itls;
}

const struct route *
proxy_server_cred_view(const struct proxy *px, size_t i, const char *host,
    uint16_t port, size_t *pool_i)
{
	const struct route	*r = px->plan->routes[i];
	size_t			 j;

	for (j = 0; j < r->nextra; j++)
		if (r->extra[j]->up_port == port &&
		    strcmp(r->extra[j]->up_host, host) == 0) {
			*pool_i = px->pool_base[i] + j;
			return r->extra[j];
		}
	*pool_i = i;
	return r;
}

bool
proxy_server_plain_intercepted(const struct proxy *px, const char *host,
    const struct endpoint_rules **rules)
{
	const struct plan	*plan = px->plan;
	size_t			 i;

	*rules = NULL;
	if (px->itls == NULL || policy_allowlist_is_ip(host))
		return false;
	for (i = 0; i < plan->nplain; i++)
		if (strcmp(plan->plain[i]->name, host) == 0) {
			*rules = px->plain_rules[i];
			return true;
		}
	if (plan->tls_intercept != TLS_INTERCEPT_ALL)
		return false;
	for (i = 0; i < plan->tls_intercept_exclude.n; i++) {
		const char *x = plan->tls_intercept_exclude.v[i];

		if (strncmp(x, "*.", 2) == 0 ?
		    policy_allowlist_suffix_match(host, x + 2) :
		    strcasecmp(x, host) == 0)
			return false;
	}
	return true;
}

const char *
proxy_server_ca_dir(const struct proxy *px)
{
	return px->ca_dir;
}

static void
server_route_resolved(const char *err, const struct sockaddr_storage *addrs,
    size_t n, void *arg)
{
	struct route_addrs	*ra = arg;

	ra->req = NULL;
	if (err != NULL) {
		log_debug("credential upstream lookup failed: %s", err);
		return;
	}
	memcpy(ra->a, addrs, n * sizeof(*addrs));
	ra->n = n;
}

/*
 * Learn each credential upstream's addresses, so a CONNECT to one of them
 * by IP literal is refused too.  XXX(issue 6): refresh on TTL expiry.
 */
static void
server_resolve_routes(struct proxy *px)
{
	const struct plan		*plan = px->plan;
	const struct resolve_entry	*re;
	size_t				 i, j;

	px->nraddrs = plan->nroutes;
	for (i = 0; i < plan->nroutes; i++)
		px->nraddrs += plan->routes[i]->nextra;
	px->raddrs = xcalloc(px->nraddrs ? px->nraddrs : 1,
	    sizeof(*px->raddrs));
	/*
	 * A route's extra hosts (github.com) by --resolve or literal only:
	 * looking them up would send every run's DNS for hosts it may never
	 * use.  XXX(issue 17): resolve them too.
	 */
	for (i = 0; i < plan->nroutes; i++)
		for (j = 0; j < plan->routes[i]->nextra; j++) {
			const struct route *x = plan->routes[i]->extra[j];
			struct route_addrs *ra = &px->raddrs[px->pool_base[i] +
			    j];

			ra->px = px;
			if ((re = policy_plan_resolve(plan, x->up_host,
			    x->up_port)) != NULL) {
				memcpy(&ra->a[0], &re->addr, sizeof(re->addr));
				ra->n = 1;
			} else if (server_literal(x->up_host, &ra->a[0]))
				ra->n = 1;
		}
	for (i = 0; i < plan->nroutes; i++) {
		const struct route	*r = plan->routes[i];
		struct route_addrs	*ra = &px->raddrs[i];

		ra->px = px;
		re = policy_plan_resolve(plan, r->up_host, r->up_port);
		if (re != NULL) {
			memcpy(&ra->a[0], &re->addr, sizeof(re->addr));
			ra->n = 1;
		} else if (server_literal(r->up_host, &ra->a[0]))
			ra->n = 1;
		else
			ra->req = proxy_dns_resolve(px->dns, r->up_host,
			    r->up_port, server_route_resolved, ra);
	}
}

/*
 * A route's phantom (SPEC 4.12): shaped like the real key where clients
 * check the prefix (ghp_ + 36 alphanumerics for GitHub, sk-... for
 * OpenAI, sk-ant-... for Anthropic), else 64 hex; at least 214 random
 * bits either way.
 */
static struct secret *
server_phantom(const struct route *r, struct errbuf *e)
{
	const char	*n = r->def->name;

	if (strcmp(n, "github") == 0)
		return creds_secret_random_token("ghp_", 36, e);
	if (strcmp(n, "openai") == 0)
		return creds_secret_random_token("sk-proj-", 48, e);
	if (strcmp(n, "anthropic") == 0)
		return creds_secret_random_token("sk-ant-api03-", 48, e);
	return creds_secret_random_hex(32, e);
}

/* The interception CA and context (SPEC 4.12); warnings said at start. */
static int
server_intercept(struct proxy *px, const struct proxy_clients *cs,
    struct errbuf *e)
{
	const struct plan	**plans;
	struct strv		  warn = { 0 };
	size_t			  i, n = 1;

	/* One CA for every client: it signs for every profile's hosts. */
	plans = xcalloc(1 + (cs != NULL ? cs->nprofiles : 0), sizeof(*plans));
	plans[0] = px->plan;
	for (i = 0; cs != NULL && i < cs->nprofiles; i++)
		plans[n++] = cs->profiles[i].plan;
	px->itls = proxy_tls_intercept_tls_new_multi(plans, n, &warn, e);
	free(plans);
	for (i = 0; i < warn.n; i++)
		log_warnx("%s", warn.v[i]);
	strv_free(&warn);
	if (px->itls == NULL && errbuf_msg(e)[0] == '\0' &&
	    px->plan->tls_java_truststore)
		log_warnx("--tls-java-truststore: nothing is intercepted (no "
		    "credential route or endpoint-ruled host, or "
		    "--tls-intercept off), so no truststore is written");
	if (px->itls == NULL)
		return errbuf_msg(e)[0] != '\0' ? -1 : 0;
	px->ca_dir = proxy_tls_bundle_write(proxy_tls_intercept_root(px->itls),
	    NULL, px->plan->upstream_ca, px->plan->tls_java_truststore,
	    &px->ca_lock, e);
	if (px->ca_dir == NULL) {
		errbuf_wrap(e, "TLS interception CA bundle");
		return -1;
	}
	px->ca_java = px->plan->tls_java_truststore;
	return 0;
}

/*
 * After a reload: the CA made at start cannot be widened (its root key is
 * gone), so a host the new plan intercepts outside its name constraints
 * is refused (403, connect.c) until a restart; say which, once.
 */
static void
server_intercept_reloaded(const struct proxy *px)
{
	struct strv	out = { 0 };
	struct strbuf	b = { 0 };
	size_t		i;

	proxy_tls_intercept_uncovered(px->itls, px->plan, &out);
	if (out.n == 0)
		return;
	for (i = 0; i < out.n && i < 8; i++)
		strbuf_appendf(&b, "%s%s", i ? ", " : "", out.v[i]);
	if (out.n > i)
		strbuf_appendf(&b, " and %zu more", out.n - i);
	log_warnx("reload: TLS interception %s: CONNECTs to %s are refused "
	    "(403) until keyhole proxy restarts", px->itls == NULL ?
	    "was not set up at start" : "cannot widen the CA's name "
	    "constraints made at start", strbuf_str(&b));
	strbuf_free(&b);
	strv_free(&out);
}

/*
 * Listen on ss (len bytes); text names it in errors.  The listener goes
 * to *out.  When self, its bound address becomes px->self.
 */
static int
server_listen_on(struct proxy *px, struct sockaddr_storage *ss,
    socklen_t len, const char *text, bool self, struct evconnlistener **out,
    struct errbuf *e)
{
	socklen_t	blen = sizeof(*ss);
	int		fd, one = 1;

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1) {
		errbuf_sys(e, "proxy socket for %s", text);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss->ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)ss, len) == -1) {
		errbuf_sys(e, "bind %s", text);
		close(fd);
		return -1;
	}
	if (listen(fd, PROXY_BACKLOG) == -1 || (self && getsockname(fd,
	    (struct sockaddr *)&px->self, &blen) == -1)) {
		errbuf_sys(e, "listen %s", text);
		close(fd);
		return -1;
	}
	*out = evconnlistener_new(px->base, server_on_accept, px,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, PROXY_BACKLOG, fd);
	if (*out == NULL) {
		errbuf_set(e, "cannot listen on %s", text);
		close(fd);
		return -1;
	}
	evconnlistener_set_error_cb(*out, server_on_accept_error);
	return 0;
}

/*
 * The host clients are told (SPEC 4.9): the first listener's address, or
 * 127.0.0.1 / ::1 for the unspecified address (a sidecar's clients share
 * the loopback interface).
 */
static void
server_set_url_host(struct proxy *px)
{
	char	a[INET6_ADDRSTRLEN];

	if (px->self.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 =
		    (const struct sockaddr_in6 *)&px->self;

		if (IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr))
			snprintf(px->url_host, sizeof(px->url_host), "[::1]");
		else {
			inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
			snprintf(px->url_host, sizeof(px->url_host), "[%s]",
			    a);
		}
		return;
	}
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)&px->self;

	if (s4->sin_addr.s_addr == htonl(INADDR_ANY))
		snprintf(px->url_host, sizeof(px->url_host), "127.0.0.1");
	else
		inet_ntop(AF_INET, &s4->sin_addr, px->url_host,
		    sizeof(px->url_host));
}

int
proxy_server_parse_addr(const char *text, struct sockaddr_storage *ss,
    socklen_t *len)
{
	struct sockaddr_in	*s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*s6 = (struct sockaddr_in6 *)ss;
	const char		*colon;
	char			 host[INET6_ADDRSTRLEN + 2];
	uint64_t		 port;
	size_t			 hl;

	memset(ss, 0, sizeof(*ss));
	if ((colon = strrchr(text, ':')) == NULL ||
	    strnum_parse_str(colon + 1, 0, 65535, &port) == -1)
		return -1;
	hl = (size_t)(colon - text);
	if (text[0] == '[') {
		if (hl < 3 || text[hl - 1] != ']' || hl - 2 >= sizeof(host))
			return -1;
		memcpy(host, text + 1, hl - 2);
		host[hl - 2] = '\0';
		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			return -1;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*s6);
		return 0;
	}
	if (hl == 0 || hl >= sizeof(host))
		return -1;
	memcpy(host, text, hl);
	host[hl] = '\0';
	if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
		return -1;
	s4->sin_family = AF_INET;
	s4->sin_port = htons((uint16_t)port);
	*len = sizeof(*s4);
	return 0;
}

/*
 * The listeners: 127.0.0.1:--proxy-port, or each --listen ADDR:PORT.
 * Any address may be used: keyhole proxy has no unauthenticated client
 * (SPEC 4.2, 4.10).  CONNECT and forward requests need the proxy token
 * or a client token (407), route requests the route's phantom token
 * (401); connections made by the mediator count as authenticated only
 * from 127.0.0.1, which a remote peer cannot be.
 */
static int
server_listen(struct proxy *px, uint16_t port, struct errbuf *e)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*s4 = (struct sockaddr_in *)&ss;
	char			 text[64];
	socklen_t		 len;
	size_t			 i;

	if (px->plan->listen.n == 0) {
		memset(&ss, 0, sizeof(ss));
		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		s4->sin_port = htons(port);
		snprintf(text, sizeof(text), "127.0.0.1:%u", port);
		if (server_listen_on(px, &ss, sizeof(*s4), text, true,
		    &px->listener, e) == -1)
			return -1;
		server_set_url_host(px);
		return 0;
	}
	px->more = xcalloc(px->plan->listen.n, sizeof(*px->more));
	for (i = 0; i < px->plan->listen.n; i++) {
		const char *addr = px->plan->listen.v[i];

		if (proxy_server_parse_addr(addr, &ss, &len) == -1) {
			errbuf_set(e, "--listen %s: expected ADDR:PORT with an "
			    "IP address (127.0.0.1:3128, [::1]:3128, "
			    "0.0.0.0:3128)", addr);
			return -1;
		}
		if (server_listen_on(px, &ss, len, addr, i == 0,
		    i == 0 ? &px->listener : &px->more[px->nmore], e) == -1)
			return -1;
		if (i > 0)
			px->nmore++;
	}
	server_set_url_host(px);
	return 0;
}

/* Stop accepting on every listener. */
static void
server_close_listeners(struct proxy *px)
{
	size_t	i;

	if (px->listener != NULL) {
		evconnlistener_free(px->listener);
		px->listener = NULL;
	}
	for (i = 0; i < px->nmore; i++)
		evconnlistener_free(px->more[i]);
	px->nmore = 0;
	if (px->accept_pause != NULL)
		evtimer_del(px->accept_pause);
}

static void
server_resume_accept(evutil_socket_t fd, short what, void *arg)
{
	struct proxy	*px = arg;
	size_t		 i;

	(void)fd;
	(void)what;
	if (px->listener != NULL)
		evconnlistener_enable(px->listener);
	for (i = 0; i < px->nmore; i++)
		evconnlistener_enable(px->more[i]);
}

/* EMFILE and friends: pause accepting for a second, no busy loop. */
static void
server_on_accept_error(struct evconnlistener *l, void *arg)
{
	struct proxy	*px = arg;
	struct timeval	 tv = { PROXY_ACCEPT_PAUSE_MS / 1000, 0 };
	int		 err = EVUTIL_SOCKET_ERROR();

	log_warnx("accept on the proxy listener failed: %s; pausing for a "
	    "second", strerror(err));
	evconnlistener_disable(l);
	evtimer_add(px->accept_pause, &tv);
}

static void
server_refuse(struct proxy *px, int fd, const struct sockaddr *sa)
{
	static const char	msg[] = "HTTP/1.1 503 Service Unavailable\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\nContent-Length: 26\r\n"
	    "Connection: close\r\n\r\ntoo many open connections\n";
	struct audit_rec	r = { 0 };
	ssize_t			n;

	if (sa->sa_family == AF_INET && ((const struct sockaddr_in *)sa)->
	    sin_addr.s_addr == htonl(INADDR_LOOPBACK))
		proxy_server_unregister_port(px,
		    ntohs(((const struct sockaddr_in *)sa)->sin_port));
	/* Best effort: the socket is fresh, the answer fits its buffer. */
	n = send(fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	(void)n;
	shutdown(fd, SHUT_WR);
	close(fd);
	r.mode = "connect";
	r.allow = false;
	r.port = -1;
	r.status = 503;
	r.reason = "connection limit reached";
	r.ms = -1;
	proxy_audit_write(px->audit, &r);
}

static void
server_on_accept(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct proxy	*px = arg;
	struct conn	*c;

	(void)l;
	(void)salen;
	if (px->nconns >= px->plan->limits.max_conns) {
		server_refuse(px, fd, sa);
		return;
	}
	if ((c = proxy_conn_new(px, fd, sa)) == NULL) {
		log_warnx("cannot set up a client connection");
		return;
	}
	TAILQ_INSERT_TAIL(&px->conns, c, entry);
	px->nconns++;
	px->accepted++;
}

/* The phantom old gave route name, or NULL. */
static const struct secret *
server_old_phantom(const struct proxy *old, const char *name)
{
	size_t	i;

	if (old == NULL)
		return NULL;
	for (i = 0; i < old->plan->nroutes; i++)
		if (strcmp(old->plan->routes[i]->def->name, name) == 0)
			return old->phantoms[i];
	return NULL;
}

/* Move old's listeners, audit log and interception CA to px. */
static void
server_take_over(struct proxy *px, struct proxy *old)
{
	size_t	i;

	px->self = old->self;
	memcpy(px->url_host, old->url_host, sizeof(px->url_host));
	px->listener = old->listener;
	px->more = old->more;
	px->nmore = old->nmore;
	old->listener = NULL;
	old->more = NULL;
	old->nmore = 0;
	if (px->listener != NULL)
		evconnlistener_set_cb(px->listener, server_on_accept, px);
	for (i = 0; i < px->nmore; i++)
		evconnlistener_set_cb(px->more[i], server_on_accept, px);
	if (old->accept_pause != NULL)
		evtimer_del(old->accept_pause);
	px->audit = old->audit;
	px->itls = old->itls;
	px->ca_dir = old->ca_dir;
	px->ca_java = old->ca_java;
	px->ca_lock = old->ca_lock;
	old->borrowed = true;
	px->accepted = old->accepted;
	px->unavail_total = old->unavail_total;
}

/* Whether plan (or, for a root, one of cs's profiles) needs upstream TLS. */
static bool
server_needs_tls(const struct plan *plan, const struct proxy_clients *cs)
{
	size_t	i;

	if (plan->nroutes > 0 || plan->nplain > 0 ||
	    plan->tls_intercept == TLS_INTERCEPT_ALL)
		return true;
	for (i = 0; cs != NULL && i < cs->nprofiles; i++)
		if (server_needs_tls(cs->profiles[i].plan, NULL))
			return true;
	return false;
}

/* The same --upstream-ca (path and file) as when old read it. */
static bool
server_same_ca(const struct proxy *px, const struct proxy *old)
{
	const char	*a = px->plan->upstream_ca, *b = old->plan->upstream_ca;

	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0 && px->ca_st.st_dev == old->ca_st.st_dev &&
	    px->ca_st.st_ino == old->ca_st.st_ino &&
	    px->ca_st.st_size == old->ca_st.st_size &&
	    px->ca_st.st_mtim.tv_sec == old->ca_st.st_mtim.tv_sec &&
	    px->ca_st.st_mtim.tv_nsec == old->ca_st.st_mtim.tv_nsec;
}

/*
 * The upstream TLS context: a view's is its root's, and a reload keeps
 * the one before when the trust anchors are the same (building one reads
 * the system trust store: ~20 ms, the bulk of a reload).  Each holds a
 * reference, so configurations may be freed in any order.
 */
static int
server_upstream_tls(struct proxy *px, const struct proxy *old,
    struct errbuf *e)
{
	if (px->plan->upstream_ca != NULL &&
	    stat(px->plan->upstream_ca, &px->ca_st) == -1)
		memset(&px->ca_st, 0, sizeof(px->ca_st));
	if (px->parent != NULL && px->parent->tls != NULL &&
	    server_same_ca(px, px->parent)) {
		px->tls = proxy_upstream_tls_ref(px->parent->tls);
		return 0;
	}
	if (old != NULL && old->tls != NULL && server_same_ca(px, old)) {
		px->tls = proxy_upstream_tls_ref(old->tls);
		return 0;
	}
	px->tls = proxy_upstream_tls_new(px->plan->upstream_ca, e);
	return px->tls == NULL ? -1 : 0;
}

static struct proxy *server_build(const struct plan *, struct event_base *,
		    struct proxy *, struct proxy *, const struct proxy_clients *,
		    struct errbuf *);

/*
 * What a view borrows from its root, once the root has it all (after a
 * take-over on reload).
 */
static void
server_view_sync(struct proxy *v, struct proxy *root)
{
	v->self = root->self;
	memcpy(v->url_host, root->url_host, sizeof(v->url_host));
	v->audit = root->audit;
	v->itls = root->itls;
	v->ca_dir = root->ca_dir;
}

/* One view per profile of cs (SPEC 4.10). */
static int
server_views(struct proxy *px, const struct proxy_clients *cs,
    struct errbuf *e)
{
	size_t	i;

	px->clients = cs;
	if (cs == NULL || cs->nprofiles == 0)
		return 0;
	px->views = xcalloc(cs->nprofiles, sizeof(*px->views));
	for (i = 0; i < cs->nprofiles; i++) {
		px->views[i] = server_build(cs->profiles[i].plan, px->base,
		    NULL, px, cs, e);
		if (px->views[i] == NULL) {
			errbuf_wrap(e, "client profile %s",
			    cs->profiles[i].name);
			return -1;
		}
		px->nviews++;
		px->views[i]->creds = cs->profiles[i].creds;
	}
	return 0;
}

static struct proxy *
server_build(const struct plan *plan, struct event_base *base,
    struct proxy *old, struct proxy *parent, const struct proxy_clients *cs,
    struct errbuf *e)
{
	struct proxy		*px = xcalloc(1, sizeof(*px));
	const struct secret	*ph;
	size_t			 i, n;

	px->plan = plan;
	px->base = base;
	px->parent = parent;
	px->clients = cs;
	px->ca_lock = -1;
	/* A view's audit log, CA and address are its root's. */
	px->borrowed = parent != NULL;
	TAILQ_INIT(&px->conns);
	if (parent != NULL)
		px->token = creds_secret_dup(parent->token);
	else if (old != NULL)
		px->token = creds_secret_dup(old->token);
	else if ((px->token = creds_secret_random_hex(32, e)) == NULL)
		goto fail;
	px->phantoms = xcalloc(plan->nroutes ? plan->nroutes : 1,
	    sizeof(*px->phantoms));
	for (i = 0; i < plan->nroutes; i++) {
		/* A route kept across a reload keeps its phantom. */
		if ((ph = server_old_phantom(old, plan->routes[i]->def->name))
		    != NULL)
			px->phantoms[i] = creds_secret_dup(ph);
		else if ((px->phantoms[i] = server_phantom(plan->routes[i],
		    e)) == NULL)
			goto fail;
	}
	/* Bad endpoint rules fail at start, naming the rule (SPEC 4.6). */
	px->unavail = xcalloc(plan->nroutes ? plan->nroutes : 1,
	    sizeof(*px->unavail));
	px->rules = xcalloc(plan->nroutes ? plan->nroutes : 1,
	    sizeof(*px->rules));
	for (i = 0; i < plan->nroutes; i++)
		if ((px->rules[i] = policy_endpoint_compile(
		    plan->routes[i]->def, e)) == NULL)
			goto fail;
	px->plain_rules = xcalloc(plan->nplain ? plan->nplain : 1,
	    sizeof(*px->plain_rules));
	for (i = 0; i < plan->nplain; i++)
		if ((px->plain_rules[i] = policy_endpoint_compile(
		    plan->plain[i], e)) == NULL)
			goto fail;
	/* Routes, and plain hosts intercepted, go out over our TLS. */
	if (server_needs_tls(plan, parent == NULL ? cs : NULL) &&
	    server_upstream_tls(px, old, e) == -1)
		goto fail;
	px->pool_base = xcalloc(plan->nroutes ? plan->nroutes : 1,
	    sizeof(*px->pool_base));
	for (i = 0, n = plan->nroutes; i < plan->nroutes; i++) {
		px->pool_base[i] = n;
		n += plan->routes[i]->nextra;
	}
	px->pool = proxy_upstream_pool_new(base, n);
	if (parent == NULL && old == NULL && server_intercept(px, cs, e) == -1)
		goto fail;
	if (parent == NULL && old == NULL &&
	    (px->audit = proxy_audit_open(plan->audit_log, e)) == NULL)
		goto fail;
	px->dns = proxy_dns_new(base);
	px->accept_pause = evtimer_new(base, server_resume_accept, px);
	if (px->accept_pause == NULL) {
		errbuf_set(e, "cannot create the accept timer");
		goto fail;
	}
	/* Views before the take-over: a failure must leave old serving. */
	if (parent == NULL && server_views(px, cs, e) == -1)
		goto fail;
	if (parent != NULL)
		;	/* no listener: the root accepts */
	else if (old != NULL) {
		server_take_over(px, old);
		server_intercept_reloaded(px);
	} else if (server_listen(px, plan->proxy_port, e) == -1)
		goto fail;
	for (i = 0; i < px->nviews; i++) {
		server_view_sync(px->views[i], px);
		if (old != NULL)
			server_intercept_reloaded(px->views[i]);
	}
	server_resolve_routes(px);
	return px;
fail:
	proxy_server_free(px);
	return NULL;
}

struct proxy *
proxy_server_new(const struct plan *plan, struct event_base *base,
    struct errbuf *e)
{
	return proxy_server_new_clients(plan, NULL, base, e);
}

struct proxy *
proxy_server_new_clients(const struct plan *plan,
    const struct proxy_clients *cs, struct event_base *base,
    struct errbuf *e)
{
	/* OpenSSL is loaded at its first use; a missing library is an
	 * error now, not at the first request (util/tlslib.h). */
	if (tlslib_check(e) == -1)
		return NULL;
	return server_build(plan, base, NULL, NULL, cs, e);
}

struct proxy *
proxy_server_renew(const struct plan *plan, const struct proxy_clients *cs,
    struct proxy *old, struct errbuf *e)
{
	return server_build(plan, old->base, old, NULL, cs, e);
}

struct proxy *
proxy_server_view(struct proxy *px, const struct proxy_client *cl)
{
	px = server_root(px);
	if (cl == NULL || cl->profile < 0 || (size_t)cl->profile >=
	    px->nviews)
		return px;
	return px->views[cl->profile];
}

void
proxy_server_env(const struct proxy *px, struct strv *env,
    struct strv *warnings)
{
	const struct plan	*plan = px->plan;
	struct strbuf		 url = { 0 }, b = { 0 };
	const char		*names[] = { "HTTP_PROXY", "HTTPS_PROXY",
				    "http_proxy", "https_proxy" };
	struct strv		 aliases = { 0 };
	char			*noproxy;
	size_t			 i, j;

	/* With --clients each client has its own tokens: none printed. */
	strbuf_append(&url, "http://");
	if (px->clients == NULL) {
		strbuf_append(&url, "keyhole:");
		creds_secret_emit_strbuf(px->token, &url, NULL, SECRET_RAW);
		strbuf_append(&url, "@");
	}
	strbuf_appendf(&url, "%s:%u", px->url_host, proxy_server_port(px));
	for (i = 0; i < 4; i++) {
		strbuf_appendf(&b, "%s=%s", names[i], strbuf_str(&url));
		strv_push_owned(env, strbuf_steal(&b));
	}
	noproxy = policy_noproxy_build(&plan->allow, plan->routes,
	    plan->nroutes, &plan->no_proxy_extra, warnings);
	strv_push_owned(env, xasprintf("NO_PROXY=%s", noproxy));
	strv_push_owned(env, xasprintf("no_proxy=%s", noproxy));
	free(noproxy);
	strv_push(env, "NODE_USE_ENV_PROXY=1");
	if (px->clients == NULL) {
		strbuf_append(&b, "KEYHOLE_PROXY_TOKEN=");
		creds_secret_emit_strbuf(px->token, &b, NULL, SECRET_RAW);
		strv_push_owned(env, strbuf_steal(&b));
	}
	for (i = 0; i < plan->nroutes; i++) {
		const struct route *r = plan->routes[i];

		strv_push_owned(env, xasprintf("%s=http://%s:%u/%s",
		    r->base_url_var, px->url_host, proxy_server_port(px),
		    r->def->name));
		if (px->clients != NULL)
			continue;
		strbuf_appendf(&b, "%s=", r->phantom_var);
		creds_secret_emit_strbuf(px->phantoms[i], &b, NULL,
		    SECRET_RAW);
		strv_push_owned(env, strbuf_steal(&b));
		/* The same phantom where other clients look (SPEC §6). */
		policy_route_alias_vars(r, &aliases);
		for (j = 0; j < aliases.n; j++) {
			strbuf_appendf(&b, "%s=", aliases.v[j]);
			creds_secret_emit_strbuf(px->phantoms[i], &b, NULL,
			    SECRET_RAW);
			strv_push_owned(env, strbuf_steal(&b));
		}
		strv_free(&aliases);
	}
	/* Clients of interception trust the run's CA (SPEC 4.12). */
	if (px->ca_dir != NULL)
		proxy_tls_bundle_env(px->ca_dir, px->ca_java, env);
	strbuf_freezero(&url);
}

const struct proxy_clients *
proxy_server_clients(const struct proxy *px)
{
	return px->clients;
}

/*
 * Whether every route of px and of its views has its secret; *declared
 * and *loaded (when not NULL) count them all.
 */
static bool
server_all_loaded(const struct proxy *px, size_t counts[2])
{
	size_t	i, v, declared = 0, loaded = 0;
	const struct proxy *p;

	for (v = 0; v <= px->nviews; v++) {
		p = v == 0 ? px : px->views[v - 1];
		for (i = 0; i < p->plan->nroutes; i++) {
			declared++;
			if (p->creds != NULL && creds_store_get(p->creds,
			    p->plan->routes[i]->def->name) != NULL)
				loaded++;
			else if (counts == NULL)
				return false;
		}
	}
	if (counts != NULL) {
		counts[0] = declared;
		counts[1] = loaded;
	}
	return declared == loaded;
}

bool
proxy_server_ready(const struct proxy *px)
{
	if (px->draining || px->listener == NULL)
		return false;
	return server_all_loaded(px, NULL);
}

void
proxy_server_metrics(const struct proxy *px, struct strbuf *out)
{
	const struct conn	*c;
	size_t			 tunnels = 0, counts[2];
	uint64_t		 unavail = px->unavail_total;	/* views' too */

	TAILQ_FOREACH(c, &px->conns, entry)
		if (c->state == CONN_TUNNEL || c->state == CONN_SNI_PEEK)
			tunnels++;
	(void)server_all_loaded(px, counts);
	strbuf_appendf(out, "# HELP keyhole_connections Open client "
	    "connections.\n"
	    "# TYPE keyhole_connections gauge\n"
	    "keyhole_connections %zu\n"
	    "# HELP keyhole_connections_total Client connections accepted.\n"
	    "# TYPE keyhole_connections_total counter\n"
	    "keyhole_connections_total %llu\n"
	    "# HELP keyhole_tunnels Open CONNECT tunnels.\n"
	    "# TYPE keyhole_tunnels gauge\n"
	    "keyhole_tunnels %zu\n"
	    "# HELP keyhole_credentials_declared Credential routes declared.\n"
	    "# TYPE keyhole_credentials_declared gauge\n"
	    "keyhole_credentials_declared %zu\n"
	    "# HELP keyhole_credentials_loaded Credential routes whose secret "
	    "is loaded now.\n"
	    "# TYPE keyhole_credentials_loaded gauge\n"
	    "keyhole_credentials_loaded %zu\n"
	    "# HELP keyhole_credential_unavailable_total Route requests "
	    "answered 503 because the secret was missing.\n"
	    "# TYPE keyhole_credential_unavailable_total counter\n"
	    "keyhole_credential_unavailable_total %llu\n"
	    "# HELP keyhole_draining 1 while a SIGTERM drain runs.\n"
	    "# TYPE keyhole_draining gauge\n"
	    "keyhole_draining %d\n",
	    px->nconns, (unsigned long long)px->accepted, tunnels,
	    counts[0], counts[1], (unsigned long long)unavail,
	    px->draining ? 1 : 0);
	proxy_audit_metrics(px->audit, out);
}

size_t
proxy_server_drain(struct proxy *px)
{
	struct conn	*c, *next;

	px->draining = true;
	server_close_listeners(px);
	/* Connections waiting for a request have nothing in flight. */
	for (c = TAILQ_FIRST(&px->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->state == CONN_READ_HEAD && c->head == NULL &&
		    (c->client == NULL || evbuffer_get_length(
		    bufferevent_get_input(c->client)) == 0))
			proxy_conn_close(c, "proxy draining");
	}
	return px->nconns;
}

void
proxy_server_shutdown(struct proxy *px)
{
	struct conn	*c, *next;
	size_t		 i;

	server_close_listeners(px);
	for (c = TAILQ_FIRST(&px->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		proxy_conn_close(c, "proxy shutting down");
	}
	if (px->raddrs != NULL)
		for (i = 0; i < px->nraddrs; i++) {
			proxy_dns_cancel(px->raddrs[i].req);
			px->raddrs[i].req = NULL;
		}
	proxy_upstream_pool_free(px->pool);
	px->pool = NULL;
}

void
proxy_server_free(struct proxy *px)
{
	size_t	i;

	if (px == NULL)
		return;
	/* Freed by its owner now: no "gone" callback for it any more. */
	px->retired = false;
	px->gone = NULL;
	proxy_server_shutdown(px);
	/* Every connection is closed: the views' pools are idle. */
	for (i = 0; i < px->nviews; i++)
		proxy_server_free(px->views[i]);
	free(px->views);
	for (i = 0; i < px->ntransp; i++)
		free(px->transp[i].host);
	px->ntransp = 0;
	if (px->accept_pause != NULL)
		event_free(px->accept_pause);
	proxy_dns_free(px->dns);
	if (!px->borrowed)
		proxy_audit_free(px->audit);
	creds_secret_free(px->token);
	if (px->phantoms != NULL)
		for (i = 0; i < px->plan->nroutes; i++)
			creds_secret_free(px->phantoms[i]);
	free(px->phantoms);
	free(px->unavail);
	if (px->rules != NULL)
		for (i = 0; i < px->plan->nroutes; i++)
			policy_endpoint_free(px->rules[i]);
	free(px->rules);
	if (px->plain_rules != NULL)
		for (i = 0; i < px->plan->nplain; i++)
			policy_endpoint_free(px->plain_rules[i]);
	free(px->plain_rules);
	proxy_upstream_tls_free(px->tls);
	if (!px->borrowed) {
		proxy_tls_intercept_tls_free(px->itls);
		proxy_tls_bundle_remove(px->ca_dir, px->ca_lock);
		free(px->ca_dir);
	}
	free(px->more);
	free(px->raddrs);
	free(px->pool_base);
	free(px->registered);
	free(px->sandbox_bound);
	free(px);
}
