#include "proxy/upstream.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "proxy/conn.h"
#include "util/log.h"
#include "util/xmalloc.h"

struct upstream_tls {
	SSL_CTX	*ctx;	/* owned */
	size_t	 refs;
};

struct upstream_tls *
proxy_upstream_tls_new(const char *extra_ca, struct errbuf *e)
{
	static const unsigned char alpn[] = "\x08http/1.1";
	struct upstream_tls	*t = xcalloc(1, sizeof(*t));

	t->refs = 1;
	if ((t->ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		errbuf_set(e, "cannot create the upstream TLS context");
		goto fail;
	}
	SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
	if (SSL_CTX_set_default_verify_paths(t->ctx) != 1) {
		errbuf_set(e, "cannot load the system trust store");
		goto fail;
	}
	if (extra_ca != NULL &&
	    SSL_CTX_load_verify_locations(t->ctx, extra_ca, NULL) != 1) {
		errbuf_set(e, "--upstream-ca %s: cannot load certificates "
		    "(expected PEM)", extra_ca);
		goto fail;
	}
	SSL_CTX_set_alpn_protos(t->ctx, alpn, sizeof(alpn) - 1);
	/* Pooled connections are reused; no session tickets needed. */
	SSL_CTX_set_session_cache_mode(t->ctx, SSL_SESS_CACHE_CLIENT);
	return t;
fail:
	ERR_clear_error();
	proxy_upstream_tls_free(t);
	return NULL;
}

SSL *
proxy_upstream_ssl(struct upstream_tls *t, const char *host,
    struct errbuf *e)
{
	SSL			*ssl;
	X509_VERIFY_PARAM	*vp;
	unsigned char		 buf[16];
	bool			 is_ip;

	if ((ssl = SSL_new(t->ctx)) == NULL) {
		errbuf_set(e, "cannot create a TLS session");
		return NULL;
	}
	is_ip = inet_pton(AF_INET, host, buf) == 1 ||
	    inet_pton(AF_INET6, host, buf) == 1;
	vp = SSL_get0_param(ssl);
	if (is_ip) {
		if (X509_VERIFY_PARAM_set1_ip_asc(vp, host) != 1)
			goto fail;
	} else {
		/* SNI for names only (RFC 6066 §3). */
		if (SSL_set_tlsext_host_name(ssl, host) != 1 ||
		    SSL_set1_host(ssl, host) != 1)
			goto fail;
		X509_VERIFY_PARAM_set_hostflags(vp,
		    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	}
	return ssl;
fail:
	errbuf_set(e, "cannot set up TLS verification for %s", host);
	SSL_free(ssl);
	ERR_clear_error();
	return NULL;
}

void
proxy_upstream_tls_error(SSL *ssl, struct errbuf *e)
{
	unsigned long	err = ERR_peek_last_error();
	long		vr = ssl != NULL ? SSL_get_verify_result(ssl) : X509_V_OK;
	char		buf[256];

	if (vr != X509_V_OK) {
		errbuf_set(e, "certificate verification failed: %s",
		    X509_verify_cert_error_string(vr));
	} else if (err != 0) {
		ERR_error_string_n(err, buf, sizeof(buf));
		errbuf_set(e, "TLS handshake failed: %s", buf);
	} else
		errbuf_set(e, "TLS handshake failed: connection closed");
	ERR_clear_error();
}

struct upstream_tls *
proxy_upstream_tls_ref(struct upstream_tls *t)
{
	t->refs++;
	return t;
}

void
proxy_upstream_tls_free(struct upstream_tls *t)
{
	if (t == NULL || --t->refs > 0)
		return;
	SSL_CTX_free(t->ctx);
	free(t);
}

/* Write raw's output now; write interest only for what is left. */
static void
write_through_flush(struct bufferevent *raw)
{
	struct evbuffer	*out = bufferevent_get_output(raw);
	int		 fd = bufferevent_getfd(raw);

	/*
	 * The socket bufferevent keeps the start of its output frozen and
	 * thaws it around its own writes; so do we.  A failed write leaves
	 * the bytes for libevent, which then reports the error.
	 */
	if (fd != -1 && evbuffer_get_length(out) > 0) {
		evbuffer_unfreeze(out, 1);
		(void)evbuffer_write(out, fd);
		evbuffer_freeze(out, 1);
	}
	if (evbuffer_get_length(out) > 0)
		bufferevent_enable(raw, EV_WRITE);
}

static void
write_through_cb(struct evbuffer *out, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct bufferevent	*raw = arg;

	if ((bufferevent_get_enabled(raw) & EV_WRITE) == 0) {
		if (info->n_added > 0)
			write_through_flush(raw);
	} else if (info->n_deleted > 0 && evbuffer_get_length(out) == 0)
		bufferevent_disable(raw, EV_WRITE);	/* libevent caught up */
}

void
proxy_upstream_write_through(struct bufferevent *raw)
{
	bufferevent_disable(raw, EV_WRITE);
	evbuffer_add_cb(bufferevent_get_output(raw), write_through_cb, raw);
	write_through_flush(raw);
}

struct pool_entry {
	struct upstream_pool	*pool;		/* borrowed */
	size_t			 route;
	struct bufferevent	*bev;		/* owned */
	void			*ssl;		/* borrowed from bev */
	uint64_t		 parked_ms;	/* monotonic */
	TAILQ_ENTRY(pool_entry)	 entry;
};

TAILQ_HEAD(pool_list, pool_entry);

/*
 * Idle connections expire from one sweep timer, not a timer each: parking
 * and taking back happen on every routed request.  Lists hold the newest
 * first, so a sweep stops at the first entry still young enough.
 */
struct upstream_pool {
	struct event_base	*base;		/* borrowed */
	struct pool_list	*lists;		/* owned; one per route */
	/*
	 * Entries kept for the next park (on every routed request): no
	 * allocation per request.  At most as many as were ever parked at
	 * once, freed with the pool.
	 */
	struct pool_list	 spare;		/* owned */
	size_t			*counts;	/* owned */
	size_t			 nroutes;
	size_t			 nidle;		/* over all routes */
	uint32_t		 idle_ms;
	struct event		*sweep;		/* owned; pending while nidle */
};

static uint64_t
pool_now_ms(void)
{
	struct timespec	ts;

	/* The tick's time: idle expiry counts in seconds. */
	if (clock_gettime(CLOCK_MONOTONIC_COARSE, &ts) == -1)
		clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void	pool_on_sweep(evutil_socket_t, short, void *);

struct upstream_pool *
proxy_upstream_pool_new(struct event_base *base, size_t nroutes)
{
	struct upstream_pool	*p = xcalloc(1, sizeof(*p));
	size_t			 i;

	p->base = base;
	p->nroutes = nroutes;
	p->lists = xcalloc(nroutes ? nroutes : 1, sizeof(*p->lists));
	p->counts = xcalloc(nroutes ? nroutes : 1, sizeof(*p->counts));
	TAILQ_INIT(&p->spare);
	for (i = 0; i < nroutes; i++)
		TAILQ_INIT(&p->lists[i]);
	p->idle_ms = UPSTREAM_POOL_IDLE_MS;
	p->sweep = event_new(base, -1, EV_PERSIST, pool_on_sweep, p);
	if (p->sweep == NULL)
		log_fatalx("upstream pool: cannot create the sweep timer");
	return p;
}

void
proxy_upstream_pool_set_idle_ms(struct upstream_pool *p, uint32_t ms)
{
	p->idle_ms = ms;
}

static void
pool_entry_free(struct pool_entry *pe)
{
	struct upstream_pool	*p = pe->pool;

	TAILQ_REMOVE(&p->lists[pe->route], pe, entry);
	p->counts[pe->route]--;
	if (--p->nidle == 0)
		event_del(p->sweep);
	if (pe->bev != NULL)
		bufferevent_free(pe->bev);
	pe->bev = NULL;
	TAILQ_INSERT_HEAD(&p->spare, pe, entry);
}

static void
pool_on_sweep(evutil_socket_t fd, short what, void *arg)
{
	struct upstream_pool	*p = arg;
	struct pool_entry	*pe;
	uint64_t		 now = pool_now_ms();
	size_t			 i;

	(void)fd;
	(void)what;
	for (i = 0; i < p->nroutes; i++) {
		while ((pe = TAILQ_LAST(&p->lists[i], pool_list)) != NULL &&
		    now - pe->parked_ms >= p->idle_ms)
			pool_entry_free(pe);
	}
}

/* An idle connection spoke or closed: it is no use any more. */
static void
pool_on_read(struct bufferevent *bev, void *arg)
{
	(void)bev;
	pool_entry_free(arg);
}

static void
pool_on_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)what;
	pool_entry_free(arg);
}

void
proxy_upstream_pool_put(struct upstream_pool *p, size_t i,
    struct bufferevent *bev, void *ssl)
{
	struct pool_entry	*pe;
	uint32_t		 every;
	struct timeval		 tv;

	if (i >= p->nroutes || p->counts[i] >= UPSTREAM_POOL_PER_ROUTE ||
	    evbuffer_get_length(bufferevent_get_input(bev)) > 0 ||
	    evbuffer_get_length(bufferevent_get_output(bev)) > 0) {
		bufferevent_free(bev);
		return;
	}
	if ((pe = TAILQ_FIRST(&p->spare)) != NULL)
		TAILQ_REMOVE(&p->spare, pe, entry);
	else
		pe = xcalloc(1, sizeof(*pe));
	pe->pool = p;
	pe->route = i;
	pe->bev = bev;
	pe->ssl = ssl;
	pe->parked_ms = pool_now_ms();
	TAILQ_INSERT_HEAD(&p->lists[i], pe, entry);
	p->counts[i]++;
	if (p->nidle++ == 0) {
		/* Expiry is late by at most a tenth of the idle time. */
		every = p->idle_ms / 10 > 0 ? p->idle_ms / 10 : 1;
		tv.tv_sec = every / 1000;
		tv.tv_usec = (every % 1000) * 1000;
		event_add(p->sweep, &tv);
	}
	/*
	 * A read high mark would stop it noticing that the server spoke or
	 * closed.  The write marks stay (no write callback while parked):
	 * the next exchange sets the same ones again (forward.c).
	 */
	proxy_conn_bev_watermark(bev, EV_READ, 0, 0);
	bufferevent_setcb(bev, pool_on_read, NULL, pool_on_event, pe);
	proxy_conn_bev_enable(bev, EV_READ);
}

struct bufferevent *
proxy_upstream_pool_get(struct upstream_pool *p, size_t i, void **ssl)
{
	struct pool_entry	*pe;
	struct bufferevent	*bev;

	*ssl = NULL;
	if (i >= p->nroutes || (pe = TAILQ_FIRST(&p->lists[i])) == NULL)
		return NULL;
	bev = pe->bev;
	*ssl = pe->ssl;
	pe->bev = NULL;
	bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
	pool_entry_free(pe);
	return bev;
}

size_t
proxy_upstream_pool_idle(const struct upstream_pool *p, size_t i)
{
	return i < p->nroutes ? p->counts[i] : 0;
}

void
proxy_upstream_pool_free(struct upstream_pool *p)
{
	struct pool_entry	*pe;
	size_t			 i;

	if (p == NULL)
		return;
	for (i = 0; i < p->nroutes; i++)
		while (!TAILQ_EMPTY(&p->lists[i]))
			pool_entry_free(TAILQ_FIRST(&p->lists[i]));
	while ((pe = TAILQ_FIRST(&p->spare)) != NULL) {
		TAILQ_REMOVE(&p->spare, pe, entry);
		free(pe);
	}
	event_free(p->sweep);
	free(p->lists);
	free(p->counts);
	free(p);
}
