/*
 * Credential routes (SPEC §4.6): "METHOD /<service>/<rest>" with a phantom
 * token becomes a request to the route's upstream carrying the real
 * credential.  In order: route lookup (404), canonical path (400),
 * endpoint rules (403), phantom token (401), secret (503), body cap (413),
 * then upstream (guard, TCP, TLS; 502/504) and the exchange itself, which
 * streams both ways (forward.c).
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>

#include "creds/secret.h"
#include "creds/store.h"
#include "policy/endpoint.h"
#include "policy/plan.h"
#include "policy/route.h"
#include "proxy/conn.h"
#include "proxy/inject.h"
#include "proxy/scrub.h"
#include "proxy/server.h"
#include "proxy/tls/intercept.h"
#include "proxy/upstream.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

static void	reverse_upstream(struct conn *);
static void	reverse_send(struct conn *);
static void	reverse_ready(struct conn *);

static bool
reverse_upgrade(const struct conn *c)
{
	return proxy_http_field(c->head, HF_UPGRADE) != NULL &&
	    proxy_http_header_has_token(c->head, "Connection", "upgrade");
}

/* Split "/<service>[/rest][?q]" into the service and "/rest[?q]". */
static void
reverse_split(const char *target, char **service, char **path)
{
	const char	*t = target + 1;
	size_t		 n = strcspn(t, "/?");

	*service = xstrndup(t, n);
	t += n;
	*path = *t == '/' ? xstrdup(t) : xasprintf("/%s", t);
}

static bool
reverse_find_route(struct conn *c)
{
	const struct plan	*plan = proxy_server_plan(c->px);
	size_t			 i;

	for (i = 0; i < plan->nroutes; i++) {
		if (strcmp(plan->routes[i]->def->name, c->service) == 0) {
			c->route = plan->routes[i];
			c->route_i = i;
			c->pool_i = i;
			return true;
		}
	}
	return false;
}

void
proxy_reverse_start(struct conn *c)
{
	c->mode = CONN_MODE_REVERSE;
	reverse_split(c->head->target, &c->service, &c->rpath);
	/* Which client (and so which profile's routes), by its phantom. */
	proxy_conn_bind_phantom(c, c->service);
	if (!reverse_find_route(c)) {
		c->path = xstrdup(c->rpath);
		proxy_conn_deny_json(c, 404, NULL, "unknown service");
		return;
	}
	proxy_reverse_serve(c);
}

void
proxy_reverse_serve(struct conn *c)
{
	const struct plan	*plan = proxy_server_plan(c->px);
	struct strbuf		 b = { 0 };
	struct errbuf		 e = { 0 };
	char			 reason[600];
	const char		*cl, *why;

	c->mode = CONN_MODE_REVERSE;
	free(c->host);
	free(c->path);
	c->host = xstrdup(c->route->up_host);
	c->port = c->route->up_port;
	/* Intercepted requests are audited with the path as sent. */
	if (c->flags & CONN_INTERCEPT)
		strbuf_append(&b, c->route->up_path);
	proxy_inject_redact_path(&b, c->route, c->rpath);
	c->path = strbuf_steal(&b);
	if (policy_endpoint_check_path(c->rpath, &e) == -1) {
		snprintf(reason, sizeof(reason), "bad path: %s",
		    errbuf_msg(&e));
		proxy_conn_deny_json(c, 400, NULL, reason);
		return;
	}
	if (!policy_endpoint_allows((c->flags & CONN_INTERCEPT) ?
	    proxy_tls_intercept_rules(c) : proxy_server_rules(c->px,
	    c->route_i), c->head->method, c->rpath)) {
		snprintf(reason, sizeof(reason), "endpoint denied: %s %s",
		    c->head->method, c->path);
		proxy_conn_deny_json(c, 403, NULL, reason);
		return;
	}
	/* A plain intercepted host: the client's own credentials go. */
	if (c->route->passthrough)
		c->flags |= CONN_ANON;
	else if (!((c->flags & CONN_INTERCEPT) ? proxy_inject_find_phantom(
	    c->route, proxy_conn_phantom(c, c->route_i), c->head, c->rpath) :
	    proxy_conn_check_phantom(c, c->route_i))) {
		if (!(c->flags & CONN_INTERCEPT)) {
			proxy_conn_deny_json(c, 401, NULL, "missing or wrong "
			    "phantom token");
			return;
		}
		/* Intercepted: sent without a credential (CONN_ANON), or
		 * refused when another route's phantom came. */
		if (proxy_tls_intercept_no_phantom(c) == -1)
			return;
	}
	if (!(c->flags & CONN_ANON) && (proxy_server_creds(c->px) == NULL ||
	    creds_store_get(proxy_server_creds(c->px), c->service) == NULL)) {
		why = proxy_server_creds(c->px) == NULL ? "no store" :
		    creds_store_reason(proxy_server_creds(c->px), c->service);
		snprintf(reason, sizeof(reason), "credential unavailable: %s",
		    why);
		proxy_server_note_unavailable(c->px, c->route_i, why);
		proxy_conn_deny_json(c, 503, "credential unavailable", reason);
		return;
	}
	if ((cl = proxy_http_field(c->head, HF_CONTENT_LENGTH)) != NULL &&
	    c->req.length > plan->limits.max_body) {
		proxy_conn_deny_json(c, 413, NULL, "request body over the "
		    "limit");
		return;
	}
	/* A plain host's tunnel keeps its one upstream connection. */
	if (c->pool_i == SIZE_MAX) {
		if (c->up != NULL)
			reverse_ready(c);
		else
			reverse_upstream(c);
		return;
	}
	/* An idle upstream connection of this route serves it (pool). */
	proxy_conn_drop_up(c);
	c->up = proxy_upstream_pool_get(proxy_server_pool(c->px), c->pool_i,
	    &c->ssl);
	if (c->up != NULL) {
		reverse_ready(c);
		return;
	}
	reverse_upstream(c);
}

/*
 * Responses to this request are scrubbed of secret (SPEC §4.6 step 6)
 * unless the route gave that up for compressed responses.  The scrubber
 * is kept on the conn and made again when the route or secret changes.
 * False when the buffers cannot be had.
 */
static bool
reverse_scrub(struct conn *c, const struct secret *secret)
{
	const struct secret	*ph;

	/* Nothing injected (intercepted without a phantom, or a plain
	 * host): nothing to hide. */
	c->scrubbing = !c->route->def->compressed_responses && secret != NULL;
	if (!c->scrubbing)
		return true;
	ph = proxy_server_phantom_at(c->px, c->route_i);
	if ((c->sout == NULL && (c->sout = evbuffer_new()) == NULL) ||
	    (c->shead == NULL && (c->shead = evbuffer_new()) == NULL))
		return false;
	/* By pool slot: a route's extra host injects its own form. */
	if (c->scrub != NULL && c->scrub_route == c->pool_i &&
	    proxy_scrub_is_for(c->scrub, secret, ph)) {
		proxy_scrub_reset(c->scrub);
		return true;
	}
	proxy_scrub_free(c->scrub);
	c->scrub = proxy_scrub_for_route(c->route, secret, ph);
	c->scrub_route = c->pool_i;
	return true;
}

static void
reverse_send(struct conn *c)
{
	const struct secret	*secret;
	struct errbuf		 e = { 0 };
	char			 reason[300];

	/* Take the secret now: a rotated file may have replaced it. */
	secret = (c->flags & CONN_ANON) ? NULL :
	    creds_store_get(proxy_server_creds(c->px), c->service);
	if (secret == NULL && !(c->flags & CONN_ANON)) {
		proxy_server_note_unavailable(c->px, c->route_i,
		    creds_store_reason(proxy_server_creds(c->px), c->service));
		proxy_conn_drop_up(c);
		proxy_conn_deny_json(c, 503, "credential unavailable",
		    "credential unavailable");
		return;
	}
	if (proxy_inject_write_head(bufferevent_get_output(c->up), c->route,
	    secret, c->head, c->rpath, reverse_upgrade(c), &e) == -1) {
		snprintf(reason, sizeof(reason), "bad request: %s",
		    errbuf_msg(&e));
		proxy_conn_drop_up(c);
		proxy_conn_deny_json(c, 400, NULL, reason);
		return;
	}
	if (!reverse_scrub(c, secret)) {
		proxy_conn_drop_up(c);
		proxy_conn_close(c, "out of memory");
		return;
	}
	proxy_forward_exchange(c);
}

static void
reverse_ready(struct conn *c)
{
	proxy_conn_set_up_key(c, c->route->up_host, c->route->up_port);
	proxy_conn_attach_up(c);
	reverse_send(c);
}

static void
reverse_tls_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn		*c = arg;
	struct bufferevent	*raw;
	struct errbuf		 e = { 0 };
	char			 reason[400];

	if (c->flags & CONN_DEAD)
		return;
	proxy_conn_timer_stop(c);
	if (what & BEV_EVENT_CONNECTED) {
		raw = bufferevent_get_underlying(bev);
		/*
		 * The TLS layer turns everything queued into records at once;
		 * with no high mark on the socket under it, a body for a slow
		 * upstream piled up there and never pushed back on the client.
		 * Past the mark it stops, its own output fills, and the relay
		 * stops reading the client (bounded memory, SPEC §4.6).
		 */
		bufferevent_setwatermark(raw, EV_WRITE, CONN_RELAY_HIGH / 2,
		    CONN_RELAY_HIGH);
		proxy_upstream_write_through(raw);
		reverse_ready(c);
		return;
	}
	proxy_upstream_tls_error(c->ssl, &e);
	snprintf(reason, sizeof(reason), "upstream %s: %s", c->host,
	    errbuf_msg(&e));
	proxy_conn_drop_up(c);
	proxy_conn_deny_json(c, 502, NULL, reason);
}

/* A route host that names loopback: localhost or a loopback literal. */
static bool
reverse_host_is_loopback(const char *host)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*s6 = (struct sockaddr_in6 *)&ss;
	size_t			 n = strlen(host);

	if (strcasecmp(host, "localhost") == 0 || (n > 10 &&
	    strcasecmp(host + n - 10, ".localhost") == 0))
		return true;
	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1)
		ss.ss_family = AF_INET;
	else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1)
		ss.ss_family = AF_INET6;
	else
		return false;
	return proxy_server_is_loopback((struct sockaddr *)&ss);
}

/*
 * SPEC §3.2: a loopback upstream on a port a sandboxed process has bound
 * may be the sandbox's own listener (squatting a port the real upstream
 * left free, or sharing it with SO_REUSEPORT): the route's secret is
 * never sent there.  Decided on the peer the connection reached (through
 * an upstream proxy: on the route's host and port).  true when c was
 * denied (502, audited).
 */
static bool
reverse_squatted(struct conn *c, bool chained)
{
	struct sockaddr_storage	ss;
	socklen_t		sl = sizeof(ss);
	char			reason[300];
	uint16_t		port = c->route->up_port;

	if (chained) {
		if (!reverse_host_is_loopback(c->route->up_host) ||
		    !proxy_server_is_sandbox_bound(c->px, port))
			return false;
	} else {
		/* No peer (reset already): the write fails anyway; deny. */
		memset(&ss, 0, sizeof(ss));
		if (getpeername(bufferevent_getfd(c->up),
		    (struct sockaddr *)&ss, &sl) == 0 &&
		    !proxy_server_peer_in_sandbox(c->px,
		    (struct sockaddr *)&ss))
			return false;
	}
	snprintf(reason, sizeof(reason), "upstream port %u on loopback was "
	    "bound inside the sandbox: the route's secret is not sent to a "
	    "listener the sandbox may own", port);
	proxy_conn_drop_up(c);
	proxy_conn_deny_json(c, 502, NULL, reason);
	return true;
}

static void
reverse_connected_via(struct conn *c, int rc, bool chained)
{
	const struct plan	*plan = proxy_server_plan(c->px);
	struct bufferevent	*tls;
	struct errbuf		 e = { 0 };
	char			 reason[400];
	SSL			*ssl;

	if (rc == -1) {
		snprintf(reason, sizeof(reason), "upstream connect failed: %s",
		    c->connect_error);
		proxy_conn_deny_json(c, c->connect_timed_out ? 504 : 502, NULL,
		    reason);
		return;
	}
	if (reverse_squatted(c, chained))
		return;
	if (!c->route->up_tls) {
		reverse_ready(c);
		return;
	}
	if ((ssl = proxy_upstream_ssl(proxy_server_tls(c->px),
	    c->route->up_host, &e)) == NULL) {
		proxy_conn_drop_up(c);
		proxy_conn_deny_json(c, 502, NULL, errbuf_msg(&e));
		return;
	}
	tls = bufferevent_openssl_filter_new(proxy_server_base(c->px), c->up,
	    ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (tls == NULL) {
		SSL_free(ssl);
		proxy_conn_drop_up(c);
		proxy_conn_deny_json(c, 502, NULL, "cannot start TLS");
		return;
	}
	c->up = tls;
	c->ssl = ssl;
	/* A peer that closes without close_notify ends the stream (§7). */
	bufferevent_openssl_set_allow_dirty_shutdown(tls, 1);
	bufferevent_setcb(tls, NULL, NULL, reverse_tls_event, c);
	bufferevent_enable(tls, EV_READ | EV_WRITE);
	proxy_conn_timer(c, plan->limits.tls_timeout_ms);
}

/* Connected directly (proxy_conn_resolve_connect's callback). */
static void
reverse_connected(struct conn *c, int rc)
{
	reverse_connected_via(c, rc, false);
}

/* Through the corporate proxy: CONNECT is up, TLS next (SPEC 4.7). */
static void
reverse_chained(struct conn *c)
{
	reverse_connected_via(c, 0, true);
}

/*
 * The upstream need not be in the allow-list, but its addresses pass the
 * guard (SPEC §4.6).  A route naming an IP literal or localhost, or a
 * --resolve for it, names its address on purpose.
 */
static void
reverse_upstream(struct conn *c)
{
	const struct plan	*plan = proxy_server_plan(c->px);

	if (plan->upstream_proxy != NULL &&
	    !proxy_connect_bypassed(plan, c->route->up_host)) {
		char *t = xasprintf("%s%s%s:%u", strchr(c->route->up_host,
		    ':') ? "[" : "", c->route->up_host, strchr(
		    c->route->up_host, ':') ? "]" : "", c->route->up_port);

		proxy_connect_chain(c, t, reverse_chained);
		free(t);
		return;
	}
	if (policy_allowlist_is_ip(c->route->up_host))
		c->flags |= CONN_EXPLICIT;
	/* A guarded address is a policy denial, not a failure (SPEC 4.5). */
	proxy_conn_resolve_connect(c, c->route->up_host, c->route->up_port,
	    403, reverse_connected);
}
