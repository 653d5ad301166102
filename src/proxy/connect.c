/*
 * CONNECT tunnels (SPEC §4.5) and their chaining through an upstream
 * (corporate) proxy (SPEC §4.7).  Order of checks: parse, canonicalise,
 * authenticate, credential-upstream block, metadata names, allow-list,
 * then resolve, guard every address, connect, 200, SNI check, relay.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "policy/allowlist.h"
#include "policy/plan.h"
#include "proxy/conn.h"
#include "proxy/guard.h"
#include "proxy/server.h"
#include "proxy/sni.h"
#include "proxy/tls/intercept.h"
#include "util/log.h"
#include "util/xmalloc.h"

#define CRED_CONNECT_REASON \
	"credential upstream: CONNECT bypasses L7 filtering"

static void	connect_connected(struct conn *, int);

/* upstream-bypass entries: exact host or "*.suffix" (strict). */
bool
proxy_connect_bypassed(const struct plan *plan, const char *host)
{
	size_t		 i;
	const char	*e;
	size_t		 hl = strlen(host), el;

	for (i = 0; i < plan->upstream_bypass.n; i++) {
		e = plan->upstream_bypass.v[i];
		if (strncmp(e, "*.", 2) == 0) {
			el = strlen(e + 1);	/* ".suffix" */
			if (hl > el && strcasecmp(host + hl - el, e + 1) == 0)
				return true;
		} else if (strcasecmp(e, host) == 0)
			return true;
	}
	return false;
}


void
proxy_connect_start(struct conn *c)
{
	const struct plan	*plan = proxy_server_plan(c->px);
	char			*raw = NULL, reason[512];
	struct errbuf		 e = { 0 };
	ssize_t			 cred_i;
	const struct endpoint_rules *rules;
	uint16_t		 port;

	c->mode = CONN_MODE_CONNECT;
	if (proxy_http_parse_authority(c->head->target, &raw, &port,
	    443) == -1 || (c->host = policy_allowlist_canon_host(raw,
	    strlen(raw), &e)) == NULL) {
		free(raw);
		proxy_conn_deny(c, 400, "bad CONNECT authority");
		return;
	}
	free(raw);
	c->port = port;
	if (!proxy_conn_authorized(c)) {
		proxy_conn_need_auth(c);
		return;
	}
	plan = proxy_server_plan(c->px);	/* the client's profile's */
	/*
	 * A credential host is intercepted, decided before anything is
	 * dialled, or refused: never tunnelled blind (SPEC 4.12).  An IP
	 * literal stays refused in every mode: no certificate can be
	 * name-constrained to an address.
	 */
	if ((cred_i = proxy_server_cred_route(c->px, c->host, c->port)) !=
	    -1) {
		if (plan->tls_intercept == TLS_INTERCEPT_OFF ||
		    policy_allowlist_is_ip(c->host)) {
			proxy_conn_deny(c, 403, CRED_CONNECT_REASON);
			return;
		}
		proxy_tls_intercept_start(c, (size_t)cred_i);
		return;
	}
	if (proxy_guard_metadata_name(c->host)) {
		snprintf(reason, sizeof(reason), "host %s is cloud metadata",
		    c->host);
		proxy_conn_deny(c, 403, reason);
		return;
	}
	if (plan->report_only ? plan->allow.n == 0 ||
	    policy_allowlist_match(&plan->allow, c->host, c->port,
	    ALLOW_USE_CONNECT) == NULL : !policy_allowlist_allows(
	    &plan->allow, c->host, c->port, ALLOW_USE_CONNECT)) {
		if (!plan->report_only) {
			proxy_conn_deny(c, 403, "not in allow-list");
			return;
		}
		c->flags |= CONN_WOULD_DENY;
	}
	/* A plain host with endpoint rules, or all: intercepted too. */
	if (proxy_server_plain_intercepted(c->px, c->host, &rules)) {
		proxy_tls_intercept_start_plain(c, rules);
		return;
	}
	if (plan->upstream_proxy != NULL &&
	    !proxy_connect_bypassed(plan, c->host)) {
		c->mode = CONN_MODE_EXTERNAL;
		proxy_connect_chain(c, c->head->target, NULL);
		return;
	}
	proxy_conn_resolve_connect(c, c->host, c->port, 403,
	    connect_connected);
}

/* ---- direct tunnel ---- */

static void
connect_established(struct conn *c)
{
	struct evbuffer	*out = bufferevent_get_output(c->client);

	c->status = 200;
	if (!(c->flags & CONN_TRANSPARENT))	/* no CONNECT was sent */
		evbuffer_add(out,
		    "HTTP/1.1 200 Connection Established\r\n\r\n", 39);
	proxy_conn_set_state(c, CONN_SNI_PEEK);
	proxy_conn_attach_up(c);
	bufferevent_setwatermark(c->client, EV_READ, 0, SNI_PEEK_MAX);
	bufferevent_enable(c->client, EV_READ);
	proxy_conn_timer(c, proxy_server_plan(c->px)->limits.idle_timeout_ms);
	proxy_connect_on_read(c, c->client);	/* early bytes */
}

static void
connect_connected(struct conn *c, int rc)
{
	char	reason[256];

	if (rc == -1) {
		snprintf(reason, sizeof(reason), "upstream connect failed: %s",
		    c->connect_error);
		proxy_conn_deny(c, c->connect_timed_out ? 504 : 502, reason);
		return;
	}
	connect_established(c);
}

int
proxy_connect_vet(struct conn *c, char *reason, size_t reasonsz)
{
	const struct plan	*plan = proxy_server_plan(c->px);
	const struct allow_entry *ent;
	struct errbuf		 e = { 0 }, first = { 0 };
	size_t			 i, kept = 0;
	bool			 explicit;

	ent = policy_allowlist_match(&plan->allow, c->host, c->port,
	    c->mode == CONN_MODE_FORWARD ? ALLOW_USE_FORWARD :
	    ALLOW_USE_CONNECT);
	/*
	 * Explicit intent (SPEC 4.4): a --resolve for this host:port, or an
	 * allow-list entry that is this IP literal or "localhost".  A name
	 * from the wire alone never is.
	 */
	explicit = (c->flags & CONN_EXPLICIT) || (ent != NULL &&
	    (ent->kind == ALLOW_IP || strcmp(ent->host, "localhost") == 0));
	for (i = 0; i < c->naddrs; i++) {
		const struct sockaddr *sa = (struct sockaddr *)&c->addrs[i];

		if (proxy_guard_classify(sa) == GUARD_METADATA) {
			proxy_guard_check(sa, NULL, false, &e);
			snprintf(reason, reasonsz, "%s", errbuf_msg(&e));
			return -1;
		}
		if (proxy_guard_check(sa, proxy_server_self(c->px), explicit,
		    &e) == -1) {
			if (first.msg[0] == '\0')
				first = e;
			continue;
		}
		c->addrs[kept++] = c->addrs[i];
	}
	c->naddrs = kept;
	if (kept == 0) {
		snprintf(reason, reasonsz, "%s", first.msg[0] != '\0' ?
		    first.msg : "no usable address");
		return -1;
	}
	return 0;
}

/* ---- SNI check on the first client bytes (domain fronting) ---- */

static void
connect_sni(struct conn *c)
{
	struct evbuffer	*in = bufferevent_get_input(c->client);
	size_t		 len = evbuffer_get_length(in);
	char		 name[256], reason[600];
	unsigned char	*p;
	char		*canon;
	struct errbuf	 e = { 0 };

	if (len == 0)
		return;
	if (len > SNI_PEEK_MAX)
		len = SNI_PEEK_MAX;
	p = evbuffer_pullup(in, (ssize_t)len);
	switch (proxy_sni_parse(p, len, name, sizeof(name))) {
	case SNI_MORE:
		return;
	case SNI_NONE:
		break;
	case SNI_BAD:
		proxy_conn_audit(c, false, "malformed TLS ClientHello");
		proxy_conn_close(c, "bad ClientHello");
		return;
	case SNI_FOUND:
		canon = policy_allowlist_canon_host(name, strlen(name), &e);
		if (canon == NULL || strcmp(canon, c->host) != 0) {
			snprintf(reason, sizeof(reason), "TLS SNI %s does not "
			    "match CONNECT host %s", name, c->host);
			free(canon);
			proxy_conn_audit(c, false, reason);
			proxy_conn_close(c, "SNI mismatch");
			return;
		}
		free(canon);
		break;
	}
	proxy_conn_relay(c);
}

/* ---- chaining through the upstream proxy ---- */

static void
chain_connected(struct conn *c, int rc)
{
	struct evbuffer	*out;
	char		 reason[256];

	if (rc == -1) {
		snprintf(reason, sizeof(reason), "upstream proxy connect "
		    "failed: %s", c->connect_error);
		proxy_conn_deny(c, c->connect_timed_out ? 504 : 502, reason);
		return;
	}
	/* The corporate proxy gets the name as the client sent it (§4.7). */
	out = bufferevent_get_output(c->up);
	evbuffer_add_printf(out, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n",
	    c->chain_target, c->chain_target);
	proxy_conn_set_state(c, CONN_CHAIN_REPLY);
	c->resp.no_body = true;
	proxy_conn_attach_up(c);
	proxy_conn_timer(c, proxy_server_plan(c->px)->limits.connect_timeout_ms);
}

static void
chain_resolved(const char *err, const struct sockaddr_storage *addrs,
    size_t n, void *arg)
{
	struct conn	*c = arg;
	char		 reason[300];

	c->dns = NULL;
	if (c->flags & CONN_DEAD)
		return;
	proxy_conn_timer_stop(c);
	if (err != NULL) {
		snprintf(reason, sizeof(reason), "upstream proxy DNS failed: "
		    "%s", err);
		proxy_conn_deny(c, 502, reason);
		return;
	}
	memcpy(c->addrs, addrs, n * sizeof(*addrs));
	c->naddrs = n;
	c->addr_i = 0;
	proxy_conn_connect(c, chain_connected);
}

void
proxy_connect_chain(struct conn *c, const char *target,
    void (*done)(struct conn *))
{
	const struct plan	*plan = proxy_server_plan(c->px);
	char			*raw = NULL, *host;
	uint16_t		 port;
	struct errbuf		 e = { 0 };

	free(c->chain_target);
	c->chain_target = xstrdup(target);
	c->on_chained = done;
	if (proxy_http_parse_authority(plan->upstream_proxy, &raw, &port,
	    3128) == -1 || (host = policy_allowlist_canon_host(raw,
	    strlen(raw), &e)) == NULL) {
		free(raw);
		proxy_conn_deny(c, 502, "bad --upstream-proxy address");
		return;
	}
	free(raw);
	/* The configured corporate proxy is the user's choice: no guard. */
	proxy_conn_set_state(c, CONN_RESOLVING);
	proxy_conn_timer(c, plan->limits.connect_timeout_ms);
	c->dns = proxy_dns_resolve(proxy_server_dns(c->px), host, port,
	    chain_resolved, c);
	free(host);
}

static void
chain_reply(struct conn *c)
{
	struct evbuffer		*in = bufferevent_get_input(c->up);
	struct http_head	*h;
	char			 reason[128];
	int			 status;

	switch (proxy_http_read_head(&c->resp, in)) {
	case HTTP_MORE:
		return;
	case HTTP_BAD:
		proxy_conn_deny(c, 502, "upstream proxy sent a malformed "
		    "answer");
		return;
	case HTTP_DONE:
		break;
	}
	h = proxy_http_take_head(&c->resp);
	status = h->status;
	proxy_http_head_free(h);
	proxy_conn_timer_stop(c);
	if (status < 200 || status > 299) {
		snprintf(reason, sizeof(reason), "upstream proxy refused with "
		    "status %d", status);
		if (status < 400 || status > 599)
			status = 502;
		proxy_conn_deny(c, status, reason);
		return;
	}
	if (c->on_chained != NULL) {
		c->on_chained(c);	/* a credential route: TLS next */
		return;
	}
	connect_established(c);
}

void
proxy_connect_on_read(struct conn *c, struct bufferevent *bev)
{
	switch (c->state) {
	case CONN_CHAIN_REPLY:
		if (bev == c->up)
			chain_reply(c);
		return;
	case CONN_SNI_PEEK:
		if (bev == c->up) {
			/* The server speaks first: not a TLS client. */
			proxy_conn_relay(c);
			return;
		}
		connect_sni(c);
		return;
	default:
		return;
	}
}

void
proxy_connect_on_event(struct conn *c, struct bufferevent *bev, short what)
{
	(void)what;
	if (c->state == CONN_CHAIN_REPLY && bev == c->up) {
		proxy_conn_deny(c, 502, "upstream proxy closed the "
		    "connection");
		return;
	}
	proxy_conn_close(c, bev == c->up ? "upstream closed" :
	    "client closed");
}
