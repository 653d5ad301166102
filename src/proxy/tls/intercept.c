/*
 * TLS interception (SPEC §4.12).  The CONNECT is decided before anything
 * is dialled (connect.c); here the client's TLS is terminated, SNI
 * checked against the CONNECT host, and each request inside is held to
 * the CONNECT host (Host, absolute form: else 421) and to the route's
 * base path (else 403) before the reverse path's own code serves it.
 */
#include "proxy/tls/intercept.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "creds/secret.h"
#include "policy/allowlist.h"
#include "policy/plan.h"
#include "policy/route.h"
#include "proxy/conn.h"
#include "proxy/inject.h"
#include "proxy/server.h"
#include "proxy/tls/pki.h"
#include "proxy/upstream.h"
#include "util/log.h"
#include "util/xmalloc.h"

#define INTERCEPT_UNTRUSTED \
	"client does not trust keyhole's CA: is SSL_CERT_FILE honoured?"

/*
 * A context per leaf: its certificate, chain and the leaf key were set
 * and checked against each other once, when it was made.  Setting them
 * on each connection's SSL instead re-checked that the certificate
 * matches the key (SSL_use_certificate: ~36 k instructions, 1.4 % of a
 * full handshake, bench/intercept_rate) every time.  Keyed by the leaf
 * itself, of which a reference is held: a leaf the CA's cache replaced
 * cannot come back at the same address while its context lives.
 */
struct intercept_ctx {
	X509		*leaf;		/* a reference; NULL: free slot */
	SSL_CTX		*ctx;		/* owned */
	uint64_t	 used;
};

struct intercept_tls {
	struct pki	*pki;		/* owned */
	struct intercept_ctx ctxs[INTERCEPT_CTX_MAX];
	uint64_t	 tick;
	/*
	 * The names the CA may sign for (exact, "*.suffix"), fixed at start:
	 * a reload cannot widen them, the root key being gone.  all: no
	 * constraint (an operator's CA, or an unconstrained intermediate).
	 */
	struct strv	 names;
	bool		 all;
	/*
	 * Connections waiting for their next request that still hold their
	 * TLS record buffers, oldest first; one timer lets go of those idle
	 * for INTERCEPT_IDLE_MS (intercept_reap).
	 */
	TAILQ_HEAD(, intercept) idle;
	struct event	*reap;		/* owned; pending while idle is not */
	struct event_base *reap_base;	/* borrowed */
};

/* How long a waiting connection keeps its record buffers. */
#define INTERCEPT_IDLE_MS	200

struct intercept {
	SSL		*ssl;		/* borrowed: owned by c->client */
	char		*host;		/* owned; the CONNECT host */
	size_t		 host_len;
	char		 port_s[8];	/* ":port", as a client writes it */
	bool		 name;		/* host is no IPv6 literal */
	uint16_t	 port;
	size_t		 route_i;	/* SIZE_MAX: a plain host */
	size_t		 pool_i;	/* SIZE_MAX: no pooling */
	const struct route *route;	/* borrowed: the route or its host */
	struct route	*own;		/* owned: a plain host's route */
	const struct endpoint_rules *rules; /* borrowed: a plain host's */
	bool		 alpn_refused;	/* the client offered no http/1.1 */
	char		*sni_bad;	/* owned; a server name not the host */
	struct intercept_tls *t;	/* borrowed; set while on t->idle */
	int64_t		 idle_ms;	/* when it began to wait (coarse) */
	TAILQ_ENTRY(intercept) idle_entry;
};

/*
 * SNI must name the CONNECT host (SPEC 4.12, domain fronting): checked
 * before our certificate goes out, answered with unrecognized_name.
 */
static int
intercept_sni(SSL *ssl, int *alert, void *arg)
{
	struct intercept	*ic = SSL_get_app_data(ssl);
	const char		*sni;
	char			*canon;
	struct errbuf		 e = { 0 };
	bool			 ok;

	(void)arg;
	sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	if (ic == NULL || sni == NULL)
		return SSL_TLSEXT_ERR_OK;
	canon = policy_allowlist_canon_host(sni, strlen(sni), &e);
	ok = canon != NULL && strcmp(canon, ic->host) == 0;
	free(canon);
	if (ok)
		return SSL_TLSEXT_ERR_OK;
	free(ic->sni_bad);
	ic->sni_bad = xstrdup(sni);
	*alert = SSL_AD_UNRECOGNIZED_NAME;
	return SSL_TLSEXT_ERR_ALERT_FATAL;
}

/*
 * ALPN: http/1.1 or nothing.  A client that offers protocols but not
 * http/1.1 (h2 only) gets a no_application_protocol alert (RFC 7301).
 */
static int
intercept_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	struct intercept	*ic = SSL_get_app_data(ssl);
	unsigned int		 i = 0;

	(void)arg;
	while (i < inlen) {
		unsigned int n = in[i];

		if (i + 1 + n > inlen)
			break;
		if (n == 8 && memcmp(in + i + 1, "http/1.1", 8) == 0) {
			*out = in + i + 1;
			*outlen = 8;
			return SSL_TLSEXT_ERR_OK;
		}
		i += 1 + n;
	}
	if (ic != NULL)
		ic->alpn_refused = true;
	return SSL_TLSEXT_ERR_ALERT_FATAL;
}

/* The names a run's CA may sign for: what this plan intercepts. */
static bool
intercept_hosts(const struct plan *plan, struct strv *hosts)
{
	size_t	i, j;

	for (i = 0; i < plan->nroutes; i++) {
		strv_push(hosts, plan->routes[i]->up_host);
		for (j = 0; j < plan->routes[i]->nextra; j++)
			strv_push(hosts, plan->routes[i]->extra[j]->up_host);
	}
	for (i = 0; i < plan->nplain; i++)
		strv_push(hosts, plan->plain[i]->name);
	if (plan->tls_intercept != TLS_INTERCEPT_ALL)
		return true;
	if (plan->allow.n == 0)
		return false;		/* any host: no constraint can say it */
	for (i = 0; i < plan->allow.n; i++) {
		const struct allow_entry *a = &plan->allow.v[i];
		char	*s;

		if (a->kind == ALLOW_IP)
			continue;
		s = a->kind == ALLOW_SUFFIX ? xasprintf("*.%s", a->host) :
		    xstrdup(a->host);
		strv_push_owned(hosts, s);
	}
	return true;
}

/* True when plan intercepts something. */
static bool
intercept_any(const struct plan *plan)
{
	return !(plan->tls_intercept == TLS_INTERCEPT_OFF ||
	    (plan->tls_intercept == TLS_INTERCEPT_CREDENTIALS &&
	    plan->nroutes == 0 && plan->nplain == 0));
}

struct intercept_tls *
proxy_tls_intercept_tls_new(const struct plan *plan, struct strv *warnings,
    struct errbuf *e)
{
	return proxy_tls_intercept_tls_new_multi(&plan, 1, warnings, e);
}

struct intercept_tls *
proxy_tls_intercept_tls_new_multi(const struct plan *const *plans,
    size_t nplans, struct strv *warnings, struct errbuf *e)
{
	const struct plan	*plan = plans[0];
	struct intercept_tls	*t;
	struct strv		 hosts = { 0 };
	bool			 constrain = true, any = false;
	size_t			 i;

	for (i = 0; i < nplans; i++)
		any |= intercept_any(plans[i]);
	if (!any)
		return NULL;
	t = xcalloc(1, sizeof(*t));
	TAILQ_INIT(&t->idle);
	/* The CA signs for what any of the plans intercepts. */
	for (i = 0; i < nplans; i++)
		if (intercept_any(plans[i]))
			constrain &= intercept_hosts(plans[i], &hosts);
	if (plan->tls_ca_cert != NULL)
		t->pki = proxy_tls_pki_load(plan->tls_ca_cert,
		    plan->tls_ca_key, PKI_DEFAULT_DAYS, e);
	else
		t->pki = proxy_tls_pki_new(&hosts, constrain,
		    PKI_DEFAULT_DAYS, e);
	t->names = hosts;
	if (t->pki == NULL)
		goto fail;
	t->all = plan->tls_ca_cert != NULL ||
	    !proxy_tls_pki_constrained(t->pki);
	if (plan->tls_ca_cert == NULL && !proxy_tls_pki_constrained(t->pki) &&
	    warnings != NULL)
		strv_push(warnings, "TLS interception CA without name "
		    "constraints: --tls-intercept all with an empty allow-list "
		    "intercepts any host, so the run's CA may sign for any "
		    "name (it lives in keyhole's memory only)");
	return t;
fail:
	ERR_clear_error();
	proxy_tls_intercept_tls_free(t);
	return NULL;
}

/* The server context for leaf, made once per leaf (see intercept_ctx). */
static SSL_CTX *
intercept_ctx_new(struct intercept_tls *t, X509 *leaf)
{
	SSL_CTX	*ctx;
	X509	*chain = proxy_tls_pki_chain(t->pki);

	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_max_early_data(ctx, 0);
	/*
	 * Idle tunnels hold no 16 KiB record buffers (memory per conn): they
	 * are let go when the connection waits for its next request
	 * (proxy_tls_intercept_idle), not after every record as
	 * SSL_MODE_RELEASE_BUFFERS does, which allocated and freed three per
	 * keep-alive request (two reads, one write): ~1.5 k instructions.
	 */
	SSL_CTX_set_alpn_select_cb(ctx, intercept_alpn, NULL);
	SSL_CTX_set_tlsext_servername_callback(ctx, intercept_sni);
	/*
	 * No resumption: no session cache (its entries and sweeps cost every
	 * connection) and no tickets.  A stateless ticket is a serialised,
	 * sealed session and one more record on every full handshake (5 % of
	 * its instructions, bench/intercept_rate), paid for every client
	 * while the tools an agent runs (curl, git, Python, Go: a process per
	 * call, or keep-alive) seldom offer one back; what a resumed TLS 1.3
	 * handshake saves us is the one signature.
	 */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_num_tickets(ctx, 0);
	if (SSL_CTX_use_certificate(ctx, leaf) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, proxy_tls_pki_leaf_key(t->pki)) != 1 ||
	    (chain != NULL && SSL_CTX_add1_chain_cert(ctx, chain) != 1)) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

SSL_CTX *
proxy_tls_intercept_ctx(struct intercept_tls *t, const char *host,
    struct errbuf *e)
{
	struct intercept_ctx	*ic, *victim = &t->ctxs[0];
	SSL_CTX			*ctx;
	X509			*leaf;
	size_t			 i;

	if ((leaf = proxy_tls_pki_leaf(t->pki, host, e)) == NULL)
		return NULL;
	t->tick++;
	for (i = 0; i < INTERCEPT_CTX_MAX; i++) {
		ic = &t->ctxs[i];
		if (ic->leaf == leaf) {
			ic->used = t->tick;
			return ic->ctx;
		}
		if (victim->leaf != NULL && (ic->leaf == NULL ||
		    ic->used < victim->used))
			victim = ic;
	}
	if ((ctx = intercept_ctx_new(t, leaf)) == NULL) {
		ERR_clear_error();
		errbuf_set(e, "cannot set up TLS interception");
		return NULL;
	}
	SSL_CTX_free(victim->ctx);
	X509_free(victim->leaf);
	X509_up_ref(leaf);
	victim->leaf = leaf;
	victim->ctx = ctx;
	victim->used = t->tick;
	return ctx;
}

X509 *
proxy_tls_intercept_root(const struct intercept_tls *t)
{
	return proxy_tls_pki_root(t->pki);
}

void
proxy_tls_intercept_tls_free(struct intercept_tls *t)
{
	struct intercept	*ic;
	size_t			 i;

	if (t == NULL)
		return;
	/* Connections outliving the proxy's TLS state forget it. */
	while ((ic = TAILQ_FIRST(&t->idle)) != NULL) {
		TAILQ_REMOVE(&t->idle, ic, idle_entry);
		ic->t = NULL;
	}
	if (t->reap != NULL)
		event_free(t->reap);
	for (i = 0; i < INTERCEPT_CTX_MAX; i++) {
		SSL_CTX_free(t->ctxs[i].ctx);
		X509_free(t->ctxs[i].leaf);
	}
	proxy_tls_pki_free(t->pki);
	strv_free(&t->names);
	free(t);
}

/* Does a name constraint for name (exact or "*.suffix") permit host? */
static bool
intercept_permits(const char *name, const char *host)
{
	size_t	hl = strlen(host), nl;

	if (strncmp(name, "*.", 2) == 0) {	/* ".suffix": strict subdomains */
		nl = strlen(name + 1);
		return hl > nl && strcasecmp(host + hl - nl, name + 1) == 0;
	}
	/* RFC 5280: a host name permits itself and its subdomains. */
	nl = strlen(name);
	return strcasecmp(host, name) == 0 || (hl > nl &&
	    host[hl - nl - 1] == '.' && strcasecmp(host + hl - nl, name) == 0);
}

bool
proxy_tls_intercept_covers(const struct intercept_tls *t, const char *host)
{
	size_t	i;

	if (t->all)
		return true;
	/* A "*.x" entry of a later plan: covered when x's subdomains are. */
	if (strncmp(host, "*.", 2) == 0) {
		for (i = 0; i < t->names.n; i++) {
			const char *n = t->names.v[i];

			if (strncmp(n, "*.", 2) == 0 ? intercept_permits(n,
			    host + 2) || strcasecmp(n, host) == 0 :
			    intercept_permits(n, host + 2))
				return true;
		}
		return false;
	}
	for (i = 0; i < t->names.n; i++)
		if (intercept_permits(t->names.v[i], host))
			return true;
	return false;
}

void
proxy_tls_intercept_uncovered(const struct intercept_tls *t,
    const struct plan *plan, struct strv *out)
{
	struct strv	hosts = { 0 };
	size_t		i;

	if (plan->tls_intercept == TLS_INTERCEPT_OFF)
		return;
	if (!intercept_hosts(plan, &hosts) && (t == NULL || !t->all))
		strv_push_unique(out, "*");	/* any host: no CA can say it */
	for (i = 0; i < hosts.n; i++)
		if (!policy_allowlist_is_ip(hosts.v[i]) && (t == NULL ||
		    !proxy_tls_intercept_covers(t, hosts.v[i])))
			strv_push_unique(out, hosts.v[i]);
	strv_free(&hosts);
}

static void
intercept_unidle(struct intercept *ic)
{
	if (ic->t == NULL)
		return;
	TAILQ_REMOVE(&ic->t->idle, ic, idle_entry);
	ic->t = NULL;
}

void
proxy_tls_intercept_free(struct intercept *ic)
{
	if (ic == NULL)
		return;
	intercept_unidle(ic);
	free(ic->host);
	free(ic->sni_bad);
	policy_route_free(ic->own);
	free(ic);
}

/* A TLS failure: one audit line with a reason a person can act on. */
static void
intercept_fail(struct conn *c, const char *reason)
{
	c->status = 0;
	proxy_conn_audit(c, false, reason);
	log_info("DENY intercept %s:%u %s", c->icpt->host, c->icpt->port,
	    reason);
	proxy_conn_flush_close(c, "interception failed");	/* the alert */
}

static void
intercept_handshake_failed(struct conn *c, short what)
{
	unsigned long	 err;
	int		 reason = 0, lib;
	char		 buf[300];

	while ((err = bufferevent_get_openssl_error(c->client)) != 0) {
		lib = ERR_GET_LIB(err);
		if (lib == ERR_LIB_SSL && reason == 0)
			reason = ERR_GET_REASON(err);
	}
	if (c->icpt->sni_bad != NULL) {
		snprintf(buf, sizeof(buf), "TLS SNI %s does not match CONNECT "
		    "host %s", c->icpt->sni_bad, c->icpt->host);
		intercept_fail(c, buf);
		return;
	}
	if (c->icpt->alpn_refused) {
		intercept_fail(c, "client offers no http/1.1 in ALPN (h2 "
		    "only?); keyhole intercepts HTTP/1.1: sent "
		    "no_application_protocol");
		return;
	}
	switch (reason) {
	case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
	case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
	case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
	case SSL_R_TLSV1_ALERT_DECRYPT_ERROR:
		intercept_fail(c, INTERCEPT_UNTRUSTED);
		return;
	case SSL_R_UNSUPPORTED_PROTOCOL:
	case SSL_R_WRONG_VERSION_NUMBER:
	case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
		intercept_fail(c, "client TLS version below 1.2, or not TLS");
		return;
	case 0:
		break;
	default:
		snprintf(buf, sizeof(buf), "TLS handshake with the client "
		    "failed: %s", ERR_reason_error_string(ERR_PACK(ERR_LIB_SSL,
		    0, reason)) != NULL ? ERR_reason_error_string(ERR_PACK(
		    ERR_LIB_SSL, 0, reason)) : "unknown error");
		intercept_fail(c, buf);
		return;
	}
	/* Closed without an alert: most often a client that rejected us. */
	intercept_fail(c, (what & BEV_EVENT_EOF) ? "client closed during "
	    "the TLS handshake; " INTERCEPT_UNTRUSTED : "TLS handshake with "
	    "the client failed");
}

/* The handshake is done (SNI checked in intercept_sni). */
static void
intercept_ready(struct conn *c)
{
	/* The tunnel's own record: intercepted, then one per request. */
	c->status = 200;
	proxy_conn_audit(c, true, "TLS intercepted");
	proxy_conn_attach_client(c);
	proxy_conn_next_request(c);
}

static void
intercept_on_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn	*c = arg;

	(void)bev;
	if (c->flags & CONN_DEAD)
		return;
	proxy_conn_timer_stop(c);
	if (what & BEV_EVENT_CONNECTED) {
		intercept_ready(c);
		return;
	}
	intercept_handshake_failed(c, what);
}

static int64_t
intercept_now_ms(void)
{
	struct timespec	ts;

	if (clock_gettime(CLOCK_MONOTONIC_COARSE, &ts) == -1)
		clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Let go of the buffers of connections waiting for INTERCEPT_IDLE_MS. */
static void
intercept_reap(evutil_socket_t fd, short what, void *arg)
{
	struct intercept_tls	*t = arg;
	struct intercept	*ic;
	int64_t			 now = intercept_now_ms();

	(void)fd;
	(void)what;
	while ((ic = TAILQ_FIRST(&t->idle)) != NULL &&
	    now - ic->idle_ms >= INTERCEPT_IDLE_MS) {
		/* Refused (and kept) while a record is half read or written. */
		(void)SSL_free_buffers(ic->ssl);
		intercept_unidle(ic);
	}
	if (TAILQ_EMPTY(&t->idle))
		event_del(t->reap);
}

/*
 * Waiting for the next request, the TLS record buffers (~33 KiB) are let
 * go after INTERCEPT_IDLE_MS: not at once, since a keep-alive client's
 * next request usually follows within microseconds and would allocate
 * them again; and not after every record (SSL_MODE_RELEASE_BUFFERS): three
 * allocations and frees per request, ~1.5 k instructions.
 */
void
proxy_tls_intercept_idle(struct conn *c)
{
	struct intercept_tls	*t = proxy_server_itls(c->px);
	struct event_base	*base = proxy_server_base(c->px);
	struct intercept	*ic = c->icpt;
	struct timeval		 tv = { 0, INTERCEPT_IDLE_MS * 1000 / 2 };

	if (ic == NULL || ic->ssl == NULL || ic->t != NULL)
		return;
	if (t == NULL || (t->reap_base != NULL && t->reap_base != base)) {
		(void)SSL_free_buffers(ic->ssl);	/* no timer: now */
		return;
	}
	if (t->reap == NULL) {
		t->reap = event_new(base, -1, EV_PERSIST, intercept_reap, t);
		if (t->reap == NULL) {
			(void)SSL_free_buffers(ic->ssl);
			return;
		}
		t->reap_base = base;
	}
	ic->idle_ms = intercept_now_ms();
	ic->t = t;
	TAILQ_INSERT_TAIL(&t->idle, ic, idle_entry);
	/* Every half period: a buffer goes at most 1.5 periods late. */
	if (!event_pending(t->reap, EV_TIMEOUT, NULL))
		event_add(t->reap, &tv);
}

void
proxy_tls_intercept_busy(struct conn *c)
{
	if (c->icpt != NULL)
		intercept_unidle(c->icpt);
}

/*
 * A tunnel (WebSocket after 101) may idle for hours between messages and
 * never waits for a next request: its buffers go after each record again,
 * as SSL_MODE_RELEASE_BUFFERS does.
 */
void
proxy_tls_intercept_tunnel(struct conn *c)
{
	if (c->icpt == NULL || c->icpt->ssl == NULL)
		return;
	intercept_unidle(c->icpt);
	SSL_set_mode(c->icpt->ssl, SSL_MODE_RELEASE_BUFFERS);
}

void
proxy_tls_intercept_timeout(struct conn *c)
{
	intercept_fail(c, "TLS handshake with the client timed out");
}

static void	intercept_begin(struct conn *, struct intercept *);

void
proxy_tls_intercept_start_plain(struct conn *c,
    const struct endpoint_rules *rules)
{
	struct intercept	*ic = xcalloc(1, sizeof(*ic));

	ic->route_i = SIZE_MAX;
	ic->pool_i = SIZE_MAX;
	ic->own = policy_route_passthrough_new(c->host, c->port);
	ic->route = ic->own;
	ic->rules = rules;
	intercept_begin(c, ic);
}

const struct endpoint_rules *
proxy_tls_intercept_rules(const struct conn *c)
{
	if (c->icpt == NULL || c->icpt->route_i != SIZE_MAX)
		return proxy_server_rules(c->px, c->route_i);
	return c->icpt->rules;
}

void
proxy_tls_intercept_start(struct conn *c, size_t route_i)
{
	struct intercept	*ic = xcalloc(1, sizeof(*ic));

	ic->route_i = route_i;
	ic->route = proxy_server_cred_view(c->px, route_i, c->host, c->port,
	    &ic->pool_i);
	intercept_begin(c, ic);
}

/*
 * The CONNECT's 200, written now when nothing is queued before it (as a
 * rule: the client waits for it): a bufferevent write would first arm
 * EPOLLOUT, wait for it and disarm it again, three system calls and a
 * loop turn on every intercepted connection.  What the socket does not
 * take (or an error, which the bufferevent then reports) goes the usual
 * way.
 */
static void
intercept_answer(struct bufferevent *raw)
{
	static const char	 ok[] = "HTTP/1.1 200 Connection Established"
	    "\r\n\r\n";
	struct evbuffer		*out = bufferevent_get_output(raw);
	ssize_t			 n = 0;

	if (evbuffer_get_length(out) == 0) {
		n = send(bufferevent_getfd(raw), ok, sizeof(ok) - 1,
		    MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0)
			n = 0;
	}
	if ((size_t)n < sizeof(ok) - 1)
		evbuffer_add(out, ok + n, sizeof(ok) - 1 - (size_t)n);
}

static void
intercept_begin(struct conn *c, struct intercept *ic)
{
	const struct plan	*plan = proxy_server_plan(c->px);
	struct intercept_tls	*t = proxy_server_itls(c->px);
	struct bufferevent	*tls, *raw = c->client;
	struct errbuf		 e = { 0 };
	SSL_CTX			*ctx;
	SSL			*ssl;

	ic->host = xstrdup(c->host);
	ic->host_len = strlen(ic->host);
	ic->port = c->port;
	snprintf(ic->port_s, sizeof(ic->port_s), ":%u", c->port);
	ic->name = strchr(ic->host, ':') == NULL;
	/*
	 * Fail closed: a host to intercept is never tunnelled blind.  After
	 * a reload the CA is still the one made at start (its root key is
	 * gone): a host outside its name constraints, or any host when
	 * nothing was intercepted at start, is refused with what to do.
	 */
	if (t == NULL || !proxy_tls_intercept_covers(t, c->host)) {
		proxy_tls_intercept_free(ic);
		proxy_conn_deny(c, 403, t == NULL ? "TLS interception was not "
		    "set up when keyhole proxy started (nothing to intercept "
		    "then): restart it to intercept this host" : "host is "
		    "outside the interception CA's name constraints, fixed "
		    "when keyhole proxy started (a reload added it): restart "
		    "it to intercept this host");
		return;
	}
	if ((ctx = proxy_tls_intercept_ctx(t, c->host, &e)) == NULL) {
		proxy_tls_intercept_free(ic);
		proxy_conn_deny(c, 502, errbuf_msg(&e));
		return;
	}
	if ((ssl = SSL_new(ctx)) == NULL) {
		ERR_clear_error();
		proxy_tls_intercept_free(ic);
		proxy_conn_deny(c, 502, "cannot set up TLS interception");
		return;
	}
	SSL_set_app_data(ssl, ic);
	/* Our 200 goes out in clear before the first TLS record. */
	if (!(c->flags & CONN_TRANSPARENT))	/* no CONNECT was sent */
		intercept_answer(raw);
	tls = bufferevent_openssl_filter_new(proxy_server_base(c->px), raw,
	    ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (tls == NULL) {
		SSL_free(ssl);
		proxy_tls_intercept_free(ic);
		proxy_conn_deny(c, 502, "cannot set up TLS interception");
		return;
	}
	ic->ssl = ssl;
	c->client = tls;
	c->icpt = ic;
	c->flags |= CONN_INTERCEPT;
	c->status = 200;
	bufferevent_openssl_set_allow_dirty_shutdown(tls, 1);
	/*
	 * Records go to the client's socket as the TLS layer makes them (as
	 * to an upstream): not an EPOLLOUT turn and two epoll_ctl calls for
	 * each handshake flight and each response.  With no high mark on
	 * that socket the TLS layer turned all it was given into records at
	 * once, its own output never filled, and a client that stopped
	 * reading never pushed back on the upstream (SPEC §4.6: bounded).
	 */
	bufferevent_setwatermark(raw, EV_WRITE, CONN_RELAY_HIGH / 2,
	    CONN_RELAY_HIGH);
	proxy_upstream_write_through(raw);
	bufferevent_setcb(tls, NULL, NULL, intercept_on_event, c);
	bufferevent_enable(tls, EV_READ | EV_WRITE);
	proxy_conn_set_state(c, CONN_TLS_ACCEPT);
	proxy_conn_timer(c, plan->limits.tls_timeout_ms);
	/* A ClientHello sent before our 200 is already buffered. */
	if (evbuffer_get_length(bufferevent_get_input(raw)) > 0)
		bufferevent_trigger(raw, EV_READ, BEV_TRIG_IGNORE_WATERMARKS);
}

/* 0 when authority ("host[:port]") names the CONNECT host and port. */
static int
intercept_same_host(const struct intercept *ic, const char *authority,
    size_t len)
{
	char		*a, *raw = NULL, *canon;
	uint16_t	 port;
	struct errbuf	 e = { 0 };
	int		 rc = -1;
	size_t		 pl = strlen(ic->port_s);

	/*
	 * What clients send on every request: the CONNECT host itself (any
	 * case) and its port as written, or no port for 443.  Canonical
	 * already, so the same answer as parsing it, with no copies.
	 */
	if (ic->name && len >= ic->host_len &&
	    strncasecmp(authority, ic->host, ic->host_len) == 0 &&
	    ((len == ic->host_len && ic->port == 443) ||
	    (len == ic->host_len + pl &&
	    memcmp(authority + ic->host_len, ic->port_s, pl) == 0)))
		return 0;
	a = xstrndup(authority, len);
	if (proxy_http_parse_authority(a, &raw, &port, 443) == 0 &&
	    (canon = policy_allowlist_canon_host(raw, strlen(raw), &e)) !=
	    NULL) {
		if (strcmp(canon, ic->host) == 0 && port == ic->port)
			rc = 0;
		free(canon);
	}
	free(raw);
	free(a);
	return rc;
}

/*
 * A request refused before the route serves it: audited with the CONNECT
 * host and no path (proxy_reverse_serve sets both for the others, so
 * they are not made for every request).
 */
static void
intercept_deny(struct conn *c, int status, const char *msg,
    const char *reason)
{
	free(c->host);
	free(c->path);
	c->host = xstrdup(c->icpt->host);
	c->path = xstrdup("");
	proxy_conn_deny_json(c, status, msg, reason);
}

void
proxy_tls_intercept_request(struct conn *c)
{
	struct intercept	*ic = c->icpt;
	const struct route	*r = ic->route;
	const char		*target = c->head->target, *path, *host, *end;
	size_t			 n = strlen(r->up_path);
	char			 reason[300];

	c->mode = CONN_MODE_REVERSE;	/* JSON answers, the route's rules */
	c->port = ic->port;
	if (strcasecmp(c->head->method, "TRACE") == 0 ||
	    strcasecmp(c->head->method, "TRACK") == 0) {
		intercept_deny(c, 405, NULL, "TRACE and TRACK are "
		    "refused inside an intercepted tunnel");
		return;
	}
	if (strcasecmp(c->head->method, "CONNECT") == 0) {
		intercept_deny(c, 405, NULL, "CONNECT inside an "
		    "intercepted tunnel");
		return;
	}
	if (proxy_http_header_has_token(c->head, "Upgrade", "h2c")) {
		intercept_deny(c, 400, "Upgrade: h2c refused",
		    "Upgrade: h2c refused inside an intercepted tunnel");
		return;
	}
	if (target[0] == '/')
		path = target;
	else if (strncasecmp(target, "https://", 8) == 0) {
		host = target + 8;
		end = host + strcspn(host, "/?#");
		if (intercept_same_host(ic, host, (size_t)(end - host)) == -1) {
			intercept_deny(c, 421, NULL, "request target "
			    "names another host than the CONNECT");
			return;
		}
		path = *end == '/' ? end : *end == '?' ? end : "/";
	} else {
		intercept_deny(c, 400, NULL, "bad request target");
		return;
	}
	host = proxy_http_field(c->head, HF_HOST);
	if (host == NULL || intercept_same_host(ic, host, strlen(host)) ==
	    -1) {
		intercept_deny(c, 421, NULL, host == NULL ? "no Host "
		    "header" : "Host names another host than the CONNECT");
		return;
	}
	/* The route serves its base path only (SPEC 4.12). */
	if (strncmp(path, r->up_path, n) != 0 || (path[n] != '\0' &&
	    path[n] != '/' && path[n] != '?')) {
		snprintf(reason, sizeof(reason), "path outside the route's "
		    "base path %s", r->up_path);
		intercept_deny(c, 403, NULL, reason);
		return;
	}
	c->route = r;
	c->route_i = ic->route_i;
	c->pool_i = ic->pool_i;
	c->service = r->passthrough ? NULL : xstrdup(r->def->name);
	c->rpath = path[n] == '/' ? xstrdup(path + n) :
	    xasprintf("/%s", path + n);
	proxy_reverse_serve(c);
}

struct intercept_scan {
	const struct http_head	*head;
	bool			 found;
};

static void
intercept_scan_lent(void *arg, const void *ph, size_t len)
{
	struct intercept_scan	*sc = arg;

	sc->found = len > 0 && memmem(sc->head->text, sc->head->text_len, ph,
	    len) != NULL;
}

/*
 * Does the head hold phantom ph anywhere (a header keyhole does not read,
 * the query)?  Phantoms kept as SHA-256 only (--clients) cannot be
 * looked for.
 */
static bool
intercept_phantom_anywhere(const struct http_head *h,
    const struct secret *ph)
{
	struct intercept_scan	sc = { h, false };

	if (ph == NULL || creds_secret_is_sha256(ph))
		return false;
	creds_secret_lend(ph, SECRET_RAW, intercept_scan_lent, &sc);
	return sc.found;
}

int
proxy_tls_intercept_no_phantom(struct conn *c)
{
	const struct plan	*plan = proxy_server_plan(c->px);
	char			 reason[400];
	size_t			 i;

	for (i = 0; i < plan->nroutes; i++) {
		if (i == c->route_i || !proxy_inject_find_phantom(
		    plan->routes[i], proxy_conn_phantom(c, i), c->head,
		    c->rpath))
			continue;
		snprintf(reason, sizeof(reason), "phantom token of route '%s' "
		    "sent to %s (route '%s'): not replaced",
		    plan->routes[i]->def->name, c->icpt->host,
		    c->route->def->name);
		proxy_conn_deny_json_extra(c, 401, NULL, reason,
		    "WWW-Authenticate: Basic realm=\"keyhole\"\r\n");
		return -1;
	}
	if (c->route->def->inject_mode != INJECT_HEADER &&
	    c->route->def->inject_mode != INJECT_BASIC_AUTH) {
		proxy_conn_deny_json(c, 401, NULL, "missing or wrong phantom "
		    "token");
		return -1;
	}
	/*
	 * A phantom somewhere keyhole does not read it (a custom header, the
	 * query) would go out to the host as it is: refused, saying where
	 * keyhole looks.
	 */
	for (i = 0; i < plan->nroutes; i++) {
		if (!intercept_phantom_anywhere(c->head,
		    proxy_conn_phantom(c, i)))
			continue;
		snprintf(reason, sizeof(reason), "phantom token of route '%s' "
		    "in a place keyhole does not read: not sent; send it in "
		    "Authorization (raw, Bearer, token or Basic)%s%s",
		    plan->routes[i]->def->name, strcasecmp(
		    c->route->def->inject_header, "Authorization") == 0 ? "" :
		    " or ", strcasecmp(c->route->def->inject_header,
		    "Authorization") == 0 ? "" : c->route->def->inject_header);
		proxy_conn_deny_json_extra(c, 401, NULL, reason,
		    "WWW-Authenticate: Basic realm=\"keyhole\"\r\n");
		return -1;
	}
	/*
	 * No phantom: the request goes out without any credential (the
	 * client's credential headers are dropped as always), so public
	 * resources work and the server's own 401 makes git ask its
	 * credential helper, which has the phantom.
	 */
	c->flags |= CONN_ANON;
	return 0;
}
