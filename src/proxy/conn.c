#include "proxy/conn.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "policy/deny.h"
#include "policy/plan.h"
#include "policy/route.h"
#include "proxy/auth.h"
#include "proxy/clients.h"
#include "proxy/inject.h"
#include "proxy/scrub.h"
#include "proxy/server.h"
#include "proxy/splice.h"
#include "proxy/tls/intercept.h"
#include "util/log.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

/* How long a final answer may take to flush and the peer to hang up. */
#define CONN_LINGER_MS	2000

static const char *const conn_state_names[] = {
	"read-head", "resolving", "connecting", "chain-reply", "sni-peek",
	"tunnel", "fwd-body", "fwd-response", "reverse", "closing",
	"tls-accept",
};

static void	conn_on_read(struct bufferevent *, void *);
static void	conn_on_write(struct bufferevent *, void *);
static void	conn_on_event(struct bufferevent *, short, void *);
static void	conn_on_timer(evutil_socket_t, short, void *);
static void	conn_read_head(struct conn *);
static void	up_on_read(struct bufferevent *, void *);
static void	up_on_write(struct bufferevent *, void *);
static void	up_on_event(struct bufferevent *, short, void *);

static const struct plan *
conn_plan(const struct conn *c)
{
	return proxy_server_plan(c->px);
}

/* Small writes (interactive tunnels, SSE) must not wait for Nagle. */
static void
conn_nodelay(int fd)
{
	int	one = 1;

	if (fd != -1)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
}

static void
now_mono(struct timespec *ts)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
}

static long
ms_between(const struct timespec *a, const struct timespec *b)
{
	return (long)((b->tv_sec - a->tv_sec) * 1000 +
	    (b->tv_nsec - a->tv_nsec) / 1000000);
}

long
proxy_conn_elapsed_ms(const struct conn *c)
{
	struct timespec	now;

	now_mono(&now);
	return ms_between(&c->started, &now);
}

/* The tick's time: enough for idle accounting and timeouts, and cheaper. */
static void
now_coarse(struct timespec *ts)
{
	if (clock_gettime(CLOCK_MONOTONIC_COARSE, ts) == -1)
		now_mono(ts);
}

void
proxy_conn_touch(struct conn *c)
{
	now_coarse(&c->last_io);
}

struct conn *
proxy_conn_new(struct proxy *px, int fd, const struct sockaddr *peer)
{
	const struct plan	*plan = proxy_server_plan(px);
	struct conn		*c = xcalloc(1, sizeof(*c));

	c->px = px;
	c->id = proxy_server_next_id(px);
	/*
	 * Made by the mediator for the sandbox: authenticated (SPEC 4.2).
	 * The mediator connects from 127.0.0.1 only; another loopback
	 * address with the same port number is someone else.
	 */
	if (peer->sa_family == AF_INET &&
	    ((const struct sockaddr_in *)peer)->sin_addr.s_addr ==
	    htonl(INADDR_LOOPBACK)) {
		c->peer_port = ntohs(((const struct sockaddr_in *)peer)->
		    sin_port);
		if (proxy_server_port_registered(px, c->peer_port)) {
			c->flags |= CONN_AUTHED | CONN_MEDIATED;
			c->t_host = proxy_server_take_transparent(px,
			    c->peer_port, &c->t_port);
			if (c->t_host != NULL)
				c->flags |= CONN_TRANSPARENT;
		}
	}
	conn_nodelay(fd);
	c->client = bufferevent_socket_new(proxy_server_base(px), fd,
	    BEV_OPT_CLOSE_ON_FREE);
	c->timer = evtimer_new(proxy_server_base(px), conn_on_timer, c);
	if (c->client == NULL || c->timer == NULL) {
		if (c->client != NULL)
			bufferevent_free(c->client);
		else
			close(fd);
		if (c->timer != NULL)
			event_free(c->timer);
		free(c);
		return NULL;
	}
	proxy_http_msg_init(&c->req, HTTP_REQUEST, plan->limits.line_max,
	    plan->limits.head_max);
	proxy_http_msg_init(&c->resp, HTTP_RESPONSE, plan->limits.line_max,
	    plan->limits.head_max);
	bufferevent_setcb(c->client, conn_on_read, conn_on_write,
	    conn_on_event, c);
	/*
	 * No read high mark: with one set, libevent re-adds the read event
	 * on every change to the input (five times per routed request).
	 * What a client may have buffered is bounded in conn_on_read.
	 */
	bufferevent_enable(c->client, EV_READ);
	now_mono(&c->started);
	proxy_conn_touch(c);
	proxy_conn_timer(c, plan->limits.head_timeout_ms);
	log_debug("conn %llu: accepted from port %u",
	    (unsigned long long)c->id, c->peer_port);
	return c;
}

void
proxy_conn_set_state(struct conn *c, enum conn_state st)
{
	log_debug("conn %llu: %s -> %s", (unsigned long long)c->id,
	    conn_state_names[c->state], conn_state_names[st]);
	c->state = st;
}

static int64_t
mono_ms(void)
{
	struct timespec	ts;

	now_coarse(&ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
conn_arm(struct conn *c, int64_t at, int64_t now)
{
	int64_t		ms = at > now ? at - now : 0;
	struct timeval	tv = { (time_t)(ms / 1000),
			    (suseconds_t)(ms % 1000) * 1000 };

	evtimer_add(c->timer, &tv);
	c->timer_at_ms = at;
}

void
proxy_conn_timer(struct conn *c, uint32_t ms)
{
	int64_t	now = mono_ms();

	/* Never 0 (that means "none"), even on a clock that starts there. */
	c->deadline_ms = now + ms > 0 ? now + ms : 1;
	if (c->timer_at_ms != 0 && c->timer_at_ms <= c->deadline_ms)
		return;		/* fires first and looks again */
	conn_arm(c, c->deadline_ms, now);
}

void
proxy_conn_timer_stop(struct conn *c)
{
	c->deadline_ms = 0;	/* the armed event, if any, finds nothing */
}

/* The timer fired: true when the conn's deadline has really passed. */
static bool
conn_deadline_passed(struct conn *c)
{
	int64_t	now;

	c->timer_at_ms = 0;
	if (c->deadline_ms == 0)
		return false;
	now = mono_ms();
	if (now < c->deadline_ms) {
		conn_arm(c, c->deadline_ms, now);
		return false;
	}
	c->deadline_ms = 0;
	return true;
}

static void
conn_free_later(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c = arg;

	(void)fd;
	(void)what;
	free(c);
}

void
proxy_conn_set_up_key(struct conn *c, const char *host, uint16_t port)
{
	size_t	n = strnlen(host, sizeof(c->up_host) - 1);

	memcpy(c->up_host, host, n);
	c->up_host[n] = '\0';
	c->up_port = port;
}

/* Free the upstream side only (forward reuse, tunnel end). */
void
proxy_conn_drop_up(struct conn *c)
{
	if (c->up != NULL) {
		bufferevent_free(c->up);
		c->up = NULL;
	}
	c->up_host[0] = '\0';
	c->up_port = 0;
	c->ssl = NULL;
}

void
proxy_conn_close(struct conn *c, const char *why)
{
	struct timeval	zero = { 0, 0 };

	if (c->flags & CONN_DEAD)
		return;
	c->flags |= CONN_DEAD;
	log_debug("conn %llu: close (%s)", (unsigned long long)c->id, why);
	/* An allowed exchange is audited when it ends, with its bytes. */
	if (c->mode != CONN_MODE_NONE && !(c->flags & CONN_AUDITED))
		proxy_conn_audit(c, true, NULL);
	proxy_dns_cancel(c->dns);
	c->dns = NULL;
	/* The port is free for others once this connection is gone. */
	if (c->flags & CONN_MEDIATED)
		proxy_server_unregister_port(c->px, c->peer_port);
	proxy_splice_free(c->splice);	/* its events watch our fds */
	c->splice = NULL;
	proxy_conn_drop_up(c);
	if (c->client != NULL) {
		bufferevent_free(c->client);
		c->client = NULL;
	}
	proxy_tls_intercept_free(c->icpt);	/* its SSL went with client */
	c->icpt = NULL;
	event_free(c->timer);
	c->timer = NULL;
	if (c->pend != NULL)
		evbuffer_free(c->pend);
	c->pend = NULL;
	proxy_scrub_free(c->scrub);
	c->scrub = NULL;
	if (c->sout != NULL)
		evbuffer_free(c->sout);
	if (c->shead != NULL)
		evbuffer_free(c->shead);
	c->sout = c->shead = NULL;
	proxy_http_msg_free(&c->req);
	proxy_http_msg_free(&c->resp);
	proxy_http_head_free(c->head);
	c->head = NULL;
	free(c->host);
	free(c->path);
	free(c->service);
	freezero_str(c->rpath);
	free(c->chain_target);
	c->host = c->path = c->service = c->rpath = c->chain_target = NULL;
	free(c->t_host);
	free(c->t_target);
	c->t_host = c->t_target = NULL;
	proxy_server_conn_gone(c->px, c);
	/* Callbacks already queued this turn see CONN_DEAD, not freed memory. */
	if (event_base_once(proxy_server_base(c->px), -1, EV_TIMEOUT,
	    conn_free_later, c, &zero) == -1)
		log_fatalx("cannot schedule conn free");
}

static const char *
conn_mode_name(const struct conn *c)
{
	if (c->flags & CONN_TRANSPARENT)
		return "transparent";
	if (c->flags & CONN_INTERCEPT)
		return "intercept";
	switch (c->mode) {
	case CONN_MODE_CONNECT:
		return "connect";
	case CONN_MODE_FORWARD:
		return "forward";
	case CONN_MODE_EXTERNAL:
		return "external";
	case CONN_MODE_REVERSE:
		return "reverse";
	default:
		return "connect";
	}
}

void
proxy_conn_audit(struct conn *c, bool allow, const char *reason)
{
	struct audit_rec	r = { 0 };

	if (c->flags & CONN_AUDITED)
		return;
	c->flags |= CONN_AUDITED;
	r.mode = conn_mode_name(c);
	r.client = c->who != NULL ? c->who->name : NULL;
	r.allow = allow;
	r.would_deny = allow && (c->flags & CONN_WOULD_DENY);
	r.host = c->host;
	r.port = c->host != NULL ? c->port : -1;
	r.method = c->head != NULL ? c->head->method : NULL;
	r.service = c->service;
	r.path = c->mode == CONN_MODE_FORWARD ||
	    c->mode == CONN_MODE_REVERSE ? c->path : NULL;
	r.status = c->status;
	r.reason = reason;
	r.bytes_up = c->bytes_up;
	r.bytes_down = c->bytes_down;
	r.ms = proxy_conn_elapsed_ms(c);
	proxy_audit_write(proxy_server_audit(c->px), &r);
}

static void	conn_linger(struct conn *);

/*
 * The TLS records under an intercepted client (its socket bufferevent):
 * what they hold is not yet on the wire, though the TLS layer's own
 * output is empty.  NULL for a plain client.
 */
static struct evbuffer *
conn_raw_out(struct conn *c)
{
	struct bufferevent	*raw;

	if (!(c->flags & CONN_INTERCEPT) || c->client == NULL ||
	    (raw = bufferevent_get_underlying(c->client)) == NULL)
		return NULL;
	return bufferevent_get_output(raw);
}

/* The records went out: go on with the linger or the close. */
static void
conn_raw_drained(struct evbuffer *buf, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct conn	*c = arg;

	(void)info;
	if ((c->flags & CONN_DEAD) || evbuffer_get_length(buf) > 0 ||
	    !(c->flags & CONN_RAW_WAIT))
		return;
	c->flags &= ~CONN_RAW_WAIT;
	evbuffer_remove_cb(buf, conn_raw_drained, c);
	if (c->flags & CONN_FLUSH_CLOSE)
		proxy_conn_close(c, "flushed");
	else
		conn_linger(c);
}

/* True (and a callback set) when TLS records still wait for the socket. */
static bool
conn_raw_pending(struct conn *c)
{
	struct evbuffer	*out = conn_raw_out(c);

	if (out == NULL || evbuffer_get_length(out) == 0)
		return false;
	if (!(c->flags & CONN_RAW_WAIT)) {
		c->flags |= CONN_RAW_WAIT;
		evbuffer_add_cb(out, conn_raw_drained, c);
	}
	return true;
}

void
proxy_conn_flush_close(struct conn *c, const char *why)
{
	if (!conn_raw_pending(c)) {
		proxy_conn_close(c, why);
		return;
	}
	c->flags |= CONN_FLUSH_CLOSE;
	proxy_conn_set_state(c, CONN_CLOSING);
	bufferevent_disable(c->client, EV_READ);
	proxy_conn_timer(c, CONN_LINGER_MS);
}

/* After the final answer is flushed: half-close and wait for the peer. */
static void
conn_linger(struct conn *c)
{
	int	fd;

	if (conn_raw_pending(c))
		return;		/* again once the records are out */
	fd = bufferevent_getfd(c->client);

	if (fd != -1)
		shutdown(fd, SHUT_WR);
	c->flags |= CONN_SHUT_CLIENT;
	/* Read and discard what the client still sends, so close() does not
	 * turn into a reset that destroys the answer in flight. */
	bufferevent_setwatermark(c->client, EV_READ, 0, 0);
	bufferevent_enable(c->client, EV_READ);
	if (c->flags & CONN_DEAD)
		return;		/* a TLS client's read ran at once, closed c */
	proxy_conn_timer(c, CONN_LINGER_MS);
}

static void
conn_write_answer(struct conn *c, int status, const char *ctype,
    const char *body, const char *extra, bool close)
{
	struct evbuffer	*out = bufferevent_get_output(c->client);

	c->status = status;
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\n%s%s\r\n%s", status,
	    proxy_http_reason(status), ctype, strlen(body),
	    close ? "Connection: close\r\n" : "",
	    extra != NULL ? extra : "", body);
	if (!close)
		return;
	proxy_conn_drop_up(c);
	proxy_conn_set_state(c, CONN_CLOSING);
	bufferevent_disable(c->client, EV_READ);
	evbuffer_drain(bufferevent_get_input(c->client),
	    evbuffer_get_length(bufferevent_get_input(c->client)));
	proxy_conn_timer(c, CONN_LINGER_MS);
	bufferevent_setwatermark(c->client, EV_WRITE, 0, 0);
	if (evbuffer_get_length(out) == 0)
		conn_linger(c);
}

void
proxy_conn_reply(struct conn *c, int status, const char *reason,
    const char *extra, bool close)
{
	struct strbuf	body = { 0 };
	char		esc[2048];

	/*
	 * A transparent TLS client (SPEC 4.13) asked no proxy anything: an
	 * HTTP answer would only read as a broken handshake.  It gets the
	 * connection closed; the audit record says why.
	 */
	if ((c->flags & CONN_TRANSPARENT) && c->t_port != 80 &&
	    !(c->flags & CONN_INTERCEPT)) {
		c->status = status;
		if (!(c->flags & CONN_AUDITED))
			proxy_conn_audit(c, false, reason);
		proxy_conn_close(c, reason);
		return;
	}
	/* The reason may hold a host name from the wire: escape it. */
	log_escape(esc, sizeof(esc), reason, strlen(reason));
	strbuf_appendf(&body, "%s\n", esc);
	conn_write_answer(c, status, "text/plain; charset=utf-8",
	    strbuf_str(&body), extra, close);
	strbuf_free(&body);
}

static void
conn_reply_json(struct conn *c, int status, const char *msg,
    const char *extra, bool close)
{
	struct strbuf	body = { 0 };
	const char	*r = msg != NULL ? msg : proxy_http_reason(status);

	strbuf_append(&body, "{\"error\":");
	strbuf_append_json(&body, r, strlen(r));
	strbuf_append(&body, "}");
	conn_write_answer(c, status, "application/json", strbuf_str(&body),
	    extra, close);
	strbuf_free(&body);
}

/*
 * The one-line answer to a policy denial (SPEC §4.11): it names keyhole's
 * policy, what was denied and why, and the flag and profile key that
 * would allow it, or that nothing does.  An agent reading it must not
 * mistake it for a network failure to retry around.
 */
void
proxy_conn_deny_text(const struct conn *c, const char *reason,
    struct strbuf *out)
{
	struct deny_info	 d;
	const char		*mode = c->mode == CONN_MODE_REVERSE ? "reverse" :
				    conn_mode_name(c);
	bool			 v6 = c->host != NULL &&
				    strchr(c->host, ':') != NULL;

	policy_deny_explain(mode, c->host, c->host != NULL ? c->port : -1,
	    c->service, c->head != NULL ? c->head->method : NULL, c->path,
	    reason, &d);
	strbuf_append(out, "keyhole's sandbox policy denied ");
	if (c->mode == CONN_MODE_REVERSE && c->service != NULL)
		strbuf_appendf(out, "%s /%s%s", c->head != NULL ?
		    c->head->method : "the request", c->service,
		    c->path != NULL ? c->path : "");
	else {
		strbuf_appendf(out, "%s ", c->head != NULL ? c->head->method :
		    mode);
		if (c->host != NULL)
			strbuf_appendf(out, "%s%s%s:%u", v6 ? "[" : "",
			    c->host, v6 ? "]" : "", c->port);
	}
	strbuf_appendf(out, ": %s", reason);
	if (d.never)
		strbuf_appendf(out, "; %s", d.hint);
	else if (d.hint[0] != '\0' && strncmp(d.hint, "--", 2) == 0)
		strbuf_appendf(out, "; to allow it: %s", d.hint);
	else if (d.hint[0] != '\0')
		strbuf_appendf(out, "; %s", d.hint);
	strbuf_append(out, ". This is a policy decision, not a network "
	    "error: do not retry it another way");
}

void
proxy_conn_reply_json(struct conn *c, int status, const char *msg,
    bool close)
{
	conn_reply_json(c, status, msg, NULL, close);
}

void
proxy_conn_deny_json_extra(struct conn *c, int status, const char *msg,
    const char *reason, const char *extra)
{
	c->status = status;
	proxy_conn_audit(c, false, reason);
	conn_reply_json(c, status, msg, extra, true);
}

void
proxy_conn_deny_json(struct conn *c, int status, const char *msg,
    const char *reason)
{
	struct strbuf	text = { 0 };

	c->status = status;
	proxy_conn_audit(c, false, reason);
	if (status == 403 && msg == NULL && reason != NULL) {
		proxy_conn_deny_text(c, reason, &text);
		msg = strbuf_str(&text);
	}
	proxy_conn_reply_json(c, status, msg, true);
	strbuf_free(&text);
}

void
proxy_conn_deny(struct conn *c, int status, const char *reason)
{
	struct strbuf	text = { 0 };

	if (c->mode == CONN_MODE_REVERSE) {
		proxy_conn_deny_json(c, status, NULL, reason);
		return;
	}
	c->status = status;
	proxy_conn_audit(c, false, reason);
	if (status == 403) {
		proxy_conn_deny_text(c, reason, &text);
		reason = strbuf_str(&text);
	}
	proxy_conn_reply(c, status, reason, NULL, true);
	strbuf_free(&text);
}

/* Reset per-request state and parse whatever is already buffered. */
void
proxy_conn_next_request(struct conn *c)
{
	const struct plan	*plan = conn_plan(c);

	proxy_http_head_free(c->head);
	c->head = NULL;
	free(c->host);
	free(c->path);
	free(c->service);
	freezero_str(c->rpath);
	c->host = c->path = c->service = c->rpath = NULL;
	c->route = NULL;
	c->mode = CONN_MODE_NONE;
	c->flags &= ~(CONN_AUDITED | CONN_EXPLICIT | CONN_CLOSE_AFTER |
	    CONN_WOULD_DENY | CONN_ANON);
	c->status = 0;
	c->bytes_up = c->bytes_down = 0;
	c->naddrs = c->addr_i = 0;
	proxy_http_msg_reset(&c->req);
	proxy_http_msg_reset(&c->resp);
	proxy_conn_set_state(c, CONN_READ_HEAD);
	now_mono(&c->started);
	proxy_conn_bev_enable(c->client, EV_READ);
	/*
	 * On a TLS client (interception) enabling reads tries SSL_read at
	 * once: its callbacks may have read a head, or closed c.
	 */
	if ((c->flags & CONN_DEAD) || c->state != CONN_READ_HEAD ||
	    c->head != NULL)
		return;
	if (evbuffer_get_length(bufferevent_get_input(c->client)) > 0) {
		proxy_conn_timer(c, plan->limits.head_timeout_ms);
		conn_read_head(c);
	} else {
		c->flags |= CONN_KA_WAIT;
		proxy_conn_timer(c, plan->limits.idle_timeout_ms);
		if (c->flags & CONN_INTERCEPT)
			proxy_tls_intercept_idle(c);
	}
}

/* True when the buffered request line is "METHOD /..." (a route). */
static bool
conn_origin_form(struct evbuffer *in)
{
	struct evbuffer_ptr	 sp;
	char			 ch;

	sp = evbuffer_search(in, " ", 1, NULL);
	if (sp.pos < 0 || sp.pos > 32 ||
	    evbuffer_ptr_set(in, &sp, 1, EVBUFFER_PTR_ADD) == -1 ||
	    evbuffer_copyout_from(in, &sp, &ch, 1) != 1)
		return false;
	return ch == '/';
}

/*
 * Transparent plain HTTP (SPEC 4.13): the origin-form request of a client
 * that believes it talks to t_host becomes a forward to http://t_host,
 * provided its Host names that host.  -1: answered (c may be closed).
 */
static int
conn_transparent_target(struct conn *c)
{
	const char	*host = proxy_http_header(c->head, "Host");
	size_t		 hl = strlen(c->t_host);
	char		 want[300];

	c->mode = CONN_MODE_FORWARD;
	if (c->head->target[0] != '/') {
		c->status = 400;
		proxy_conn_reply(c, 400, "bad request target", NULL, true);
		return -1;
	}
	snprintf(want, sizeof(want), "%s:%u", c->t_host, c->t_port);
	if (host == NULL || !((strncasecmp(host, c->t_host, hl) == 0 &&
	    host[hl] == '\0') || strcasecmp(host, want) == 0)) {
		proxy_conn_deny(c, 403, "Host does not match the name the "
		    "address was resolved for");
		return -1;
	}
	free(c->t_target);
	if (asprintf(&c->t_target, "http://%s:%u%s", c->t_host, c->t_port,
	    c->head->target) == -1)
		log_fatalx("out of memory");
	c->head->target = c->t_target;
	return 0;
}

/*
 * Transparent egress to a port other than 80: the client speaks (TLS) as
 * to the host itself, so the connection is served as if it had asked
 * CONNECT host:port first, without the 200 line (SPEC 4.13): that head is
 * made here, on the first bytes, and goes the way of every CONNECT.
 */
static void
conn_transparent_connect(struct conn *c)
{
	struct evbuffer		*tmp;
	enum http_result	 r = HTTP_BAD;

	if ((tmp = evbuffer_new()) != NULL) {
		evbuffer_add_printf(tmp, "CONNECT %s:%u HTTP/1.1\r\n"
		    "Host: %s:%u\r\n\r\n", c->t_host, c->t_port, c->t_host,
		    c->t_port);
		r = proxy_http_read_head(&c->req, tmp);
		evbuffer_free(tmp);
	}
	if (r != HTTP_DONE) {
		proxy_conn_close(c, "cannot make the transparent CONNECT");
		return;
	}
	proxy_conn_timer_stop(c);
	c->head = proxy_http_take_head(&c->req);
	now_mono(&c->started);
	proxy_connect_start(c);
}

static void
conn_read_head(struct conn *c)
{
	struct evbuffer		*in = bufferevent_get_input(c->client);
	const struct plan	*plan = conn_plan(c);

	if ((c->flags & CONN_TRANSPARENT) && c->t_port != 80 &&
	    c->mode == CONN_MODE_NONE) {
		conn_transparent_connect(c);
		return;		/* may have closed c */
	}

	/* Between keep-alive requests the head clock starts at the first byte. */
	if ((c->flags & CONN_KA_WAIT) && evbuffer_get_length(in) > 0) {
		c->flags &= ~CONN_KA_WAIT;
		if (c->flags & CONN_INTERCEPT)
			proxy_tls_intercept_busy(c);
		proxy_conn_timer(c, plan->limits.head_timeout_ms);
	}
	switch (proxy_http_read_head(&c->req, in)) {
	case HTTP_MORE:
		return;
	case HTTP_BAD:
		c->status = c->req.bad_status;
		/* Requests to a route get JSON errors (SPEC 4.6), even here. */
		if (conn_origin_form(in))
			c->mode = CONN_MODE_REVERSE;
		proxy_conn_deny(c, c->req.bad_status, c->req.bad_reason);
		return;
	case HTTP_DONE:
		break;
	}
	proxy_conn_timer_stop(c);
	c->head = proxy_http_take_head(&c->req);
	now_mono(&c->started);
	if (c->flags & CONN_INTERCEPT) {
		proxy_tls_intercept_request(c);
		return;		/* may have closed c */
	}
	if ((c->flags & CONN_TRANSPARENT) && c->t_port == 80 &&
	    conn_transparent_target(c) == -1)
		return;
	switch (proxy_http_request_kind(c->head)) {
	case HTTP_KIND_CONNECT:
		proxy_connect_start(c);
		return;
	case HTTP_KIND_FORWARD:
		proxy_forward_start(c);
		return;
	case HTTP_KIND_ROUTE:
		proxy_reverse_start(c);
		return;
	default:
		c->status = 400;
		proxy_conn_reply(c, 400, "bad request target", NULL, true);
		return;
	}
}

/* ---- relay (tunnels and upgraded connections) ---- */

static struct bufferevent *
relay_peer(struct conn *c, struct bufferevent *bev)
{
	return bev == c->client ? c->up : c->client;
}

static void
relay_shut(struct conn *c, struct bufferevent *to)
{
	int	fd = bufferevent_getfd(to);
	int	flag = to == c->client ? CONN_SHUT_CLIENT : CONN_SHUT_UP;

	if (c->flags & flag)
		return;
	c->flags |= flag;
	if (fd != -1)
		shutdown(fd, SHUT_WR);
}

static void
relay_maybe_done(struct conn *c)
{
	if ((c->flags & CONN_SHUT_CLIENT) && (c->flags & CONN_SHUT_UP))
		proxy_conn_close(c, "tunnel finished");
}

static void
relay_pump(struct conn *c, struct bufferevent *from)
{
	struct bufferevent	*to = relay_peer(c, from);
	struct evbuffer		*in = bufferevent_get_input(from);
	struct evbuffer		*out = bufferevent_get_output(to);
	size_t			 n = evbuffer_get_length(in);

	if (n == 0)
		return;
	if (from == c->client)
		c->bytes_up += n;
	else
		c->bytes_down += n;
	evbuffer_add_buffer(out, in);
	proxy_conn_touch(c);
	/* Back-pressure: stop reading until the other side drains. */
	if (evbuffer_get_length(out) >= CONN_RELAY_HIGH)
		bufferevent_disable(from, EV_READ);
}

/* to's output drained below its low watermark. */
static void
relay_drained(struct conn *c, struct bufferevent *to)
{
	struct bufferevent	*from = relay_peer(c, to);
	int			 eof = from == c->client ? CONN_EOF_CLIENT :
				    CONN_EOF_UP;

	if (c->flags & eof) {
		if (evbuffer_get_length(bufferevent_get_output(to)) == 0) {
			relay_shut(c, to);
			relay_maybe_done(c);
		}
		return;
	}
	bufferevent_enable(from, EV_READ);
}

static void
relay_eof(struct conn *c, struct bufferevent *from)
{
	struct bufferevent	*to = relay_peer(c, from);

	c->flags |= from == c->client ? CONN_EOF_CLIENT : CONN_EOF_UP;
	relay_pump(c, from);
	if (evbuffer_get_length(bufferevent_get_output(to)) == 0) {
		relay_shut(c, to);
		relay_maybe_done(c);
		return;
	}
	/* Shut down once what is queued has gone out. */
	bufferevent_setwatermark(to, EV_WRITE, 0, 0);
}

void
proxy_conn_relay(struct conn *c)
{
	const struct plan	*plan = conn_plan(c);

	proxy_conn_set_state(c, CONN_TUNNEL);
	proxy_conn_touch(c);
	proxy_conn_timer(c, plan->limits.idle_timeout_ms);
	if (c->flags & CONN_INTERCEPT)
		proxy_tls_intercept_tunnel(c);
	if (proxy_splice_start(c) == 0)
		return;
	bufferevent_setcb(c->up, up_on_read, up_on_write, up_on_event, c);
	bufferevent_setwatermark(c->client, EV_READ, 0, 0);
	bufferevent_setwatermark(c->up, EV_READ, 0, 0);
	bufferevent_setwatermark(c->client, EV_WRITE, CONN_RELAY_HIGH / 2, 0);
	bufferevent_setwatermark(c->up, EV_WRITE, CONN_RELAY_HIGH / 2, 0);
	bufferevent_enable(c->client, EV_READ);
	if (c->flags & CONN_DEAD)
		return;		/* a TLS client's read ran at once */
	bufferevent_enable(c->up, EV_READ);
	if (c->flags & CONN_DEAD)
		return;
	proxy_conn_touch(c);
	proxy_conn_timer(c, plan->limits.idle_timeout_ms);
	/* Early bytes (sent before our 200) go first. */
	relay_pump(c, c->client);
	relay_pump(c, c->up);
}

/* ---- connecting to an upstream address ---- */

static void	connect_try(struct conn *);

static void
connect_on_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn	*c = arg;
	int		 err;

	(void)bev;
	if (c->flags & CONN_DEAD)
		return;
	if (what & BEV_EVENT_CONNECTED) {
		proxy_conn_timer_stop(c);
		conn_nodelay(bufferevent_getfd(c->up));
		c->on_connected(c, 0);
		return;
	}
	err = EVUTIL_SOCKET_ERROR();
	snprintf(c->connect_error, sizeof(c->connect_error), "%s",
	    err != 0 ? strerror(err) : "connection failed");
	proxy_conn_drop_up(c);
	connect_try(c);
}

static void
connect_try(struct conn *c)
{
	const struct plan	*plan = conn_plan(c);
	struct sockaddr_storage	*sa;
	socklen_t		 len;

	if (c->addr_i >= c->naddrs) {
		proxy_conn_timer_stop(c);
		c->on_connected(c, -1);
		return;
	}
	sa = &c->addrs[c->addr_i++];
	len = sa->ss_family == AF_INET ? sizeof(struct sockaddr_in) :
	    sizeof(struct sockaddr_in6);
	c->up = bufferevent_socket_new(proxy_server_base(c->px), -1,
	    BEV_OPT_CLOSE_ON_FREE);
	if (c->up == NULL) {
		snprintf(c->connect_error, sizeof(c->connect_error),
		    "cannot create a socket");
		connect_try(c);
		return;
	}
	bufferevent_setcb(c->up, NULL, NULL, connect_on_event, c);
	proxy_conn_timer(c, plan->limits.connect_timeout_ms);
	if (bufferevent_socket_connect(c->up, (struct sockaddr *)sa,
	    (int)len) == -1) {
		snprintf(c->connect_error, sizeof(c->connect_error), "%s",
		    strerror(errno));
		proxy_conn_drop_up(c);
		connect_try(c);
	}
}

void
proxy_conn_connect(struct conn *c, void (*done)(struct conn *, int))
{
	c->on_connected = done;
	c->connect_timed_out = false;
	c->connect_error[0] = '\0';
	proxy_conn_set_state(c, CONN_CONNECTING);
	connect_try(c);
}

/* ---- resolve, vet, connect ---- */

static void
conn_vet_and_connect(struct conn *c)
{
	char	reason[256];

	if (proxy_connect_vet(c, reason, sizeof(reason)) == -1) {
		if (c->mode == CONN_MODE_REVERSE) {
			char	msg[400];

			/* Routes answer JSON naming the rule (SPEC 4.6). */
			snprintf(msg, sizeof(msg), "upstream address denied by "
			    "keyhole's address guard: %s", reason);
			proxy_conn_deny_json(c, c->vet_status, msg, reason);
			return;
		}
		proxy_conn_deny(c, c->vet_status, reason);
		return;
	}
	c->addr_i = 0;
	proxy_conn_connect(c, c->on_connected);
}

static void
conn_resolved(const char *err, const struct sockaddr_storage *addrs,
    size_t n, void *arg)
{
	struct conn	*c = arg;
	char		 reason[300];

	c->dns = NULL;
	if (c->flags & CONN_DEAD)
		return;
	proxy_conn_timer_stop(c);
	if (err != NULL) {
		snprintf(reason, sizeof(reason), "DNS resolution failed for "
		    "%s: %s", c->host, err);
		proxy_conn_deny(c, 502, reason);
		return;
	}
	memcpy(c->addrs, addrs, n * sizeof(*addrs));
	c->naddrs = n;
	conn_vet_and_connect(c);
}

void
proxy_conn_resolve_connect(struct conn *c, const char *host, uint16_t port,
    int vet_status, void (*done)(struct conn *, int))
{
	const struct plan		*plan = conn_plan(c);
	const struct resolve_entry	*r;

	c->vet_status = vet_status;
	c->on_connected = done;
	if ((r = policy_plan_resolve(plan, host, port)) != NULL) {
		memcpy(&c->addrs[0], &r->addr, sizeof(r->addr));
		c->naddrs = 1;
		c->flags |= CONN_EXPLICIT;	/* --resolve is intent (§2.1) */
		conn_vet_and_connect(c);
		return;
	}
	proxy_conn_set_state(c, CONN_RESOLVING);
	proxy_conn_timer(c, plan->limits.connect_timeout_ms);
	c->dns = proxy_dns_resolve(proxy_server_dns(c->px), host, port,
	    conn_resolved, c);
}

/* ---- callbacks ---- */

/*
 * A client that sends more than a head's worth while we are not reading
 * from it (a pipelined request waiting for the answer, early bytes of a
 * tunnel being set up) is paused until its turn: what it can make us
 * buffer stays bounded.  The states that consume the input do their own
 * bounding (READ_HEAD: 431; body and tunnel: the relay's high marks).
 */
static bool
conn_input_full(struct conn *c)
{
	switch (c->state) {
	case CONN_READ_HEAD:
	case CONN_TUNNEL:
	case CONN_SNI_PEEK:
	case CONN_FWD_BODY:
	case CONN_CLOSING:
		return false;
	default:
		break;
	}
	if (evbuffer_get_length(bufferevent_get_input(c->client)) <=
	    conn_plan(c)->limits.head_max)
		return false;
	bufferevent_disable(c->client, EV_READ);
	return true;
}

static void
conn_on_read(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;

	if (c->flags & CONN_DEAD)
		return;
	proxy_conn_touch(c);
	if (bev == c->client && conn_input_full(c))
		return;
	switch (c->state) {
	case CONN_READ_HEAD:
		conn_read_head(c);
		return;		/* may have closed c */
	case CONN_TUNNEL:
		relay_pump(c, bev);
		return;
	case CONN_SNI_PEEK:
		proxy_connect_on_read(c, bev);
		return;
	case CONN_FWD_BODY:
	case CONN_FWD_RESPONSE:
	case CONN_REVERSE:
		proxy_forward_on_read(c, bev);
		return;
	case CONN_CLOSING:
		evbuffer_drain(bufferevent_get_input(bev),
		    evbuffer_get_length(bufferevent_get_input(bev)));
		return;
	default:
		return;		/* early bytes wait for the tunnel (§4.5) */
	}
}

static void
conn_on_write(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;

	if (c->flags & CONN_DEAD)
		return;
	switch (c->state) {
	case CONN_CLOSING:
		if (!(c->flags & CONN_SHUT_CLIENT) &&
		    evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			conn_linger(c);
		return;
	case CONN_TUNNEL:
		relay_drained(c, bev);
		return;
	case CONN_FWD_BODY:
	case CONN_FWD_RESPONSE:
	case CONN_REVERSE:
		proxy_forward_on_write(c, bev);
		return;
	default:
		return;
	}
}

static void
conn_on_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn	*c = arg;

	if (c->flags & CONN_DEAD)
		return;
	if (c->state == CONN_TUNNEL && (what & BEV_EVENT_EOF) &&
	    !(what & BEV_EVENT_ERROR)) {
		relay_eof(c, bev);
		return;
	}
	if (c->state == CONN_FWD_BODY || c->state == CONN_FWD_RESPONSE ||
	    c->state == CONN_REVERSE) {
		proxy_forward_on_event(c, bev, what);
		return;
	}
	proxy_conn_close(c, (what & BEV_EVENT_EOF) ? "client closed" :
	    "client error");
}

static void
up_on_read(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;

	if (c->flags & CONN_DEAD)
		return;
	proxy_conn_touch(c);
	switch (c->state) {
	case CONN_READ_HEAD:
		/* Nothing is owed between requests: drop a chatty upstream. */
		proxy_conn_drop_up(c);
		return;
	case CONN_TUNNEL:
		relay_pump(c, bev);
		return;
	case CONN_CHAIN_REPLY:
	case CONN_SNI_PEEK:
		proxy_connect_on_read(c, bev);
		return;
	case CONN_FWD_BODY:
	case CONN_FWD_RESPONSE:
	case CONN_REVERSE:
		proxy_forward_on_read(c, bev);
		return;
	default:
		return;
	}
}

static void
up_on_write(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;

	if (c->flags & CONN_DEAD)
		return;
	switch (c->state) {
	case CONN_TUNNEL:
		relay_drained(c, bev);
		return;
	case CONN_FWD_BODY:
	case CONN_FWD_RESPONSE:
	case CONN_REVERSE:
		proxy_forward_on_write(c, bev);
		return;
	default:
		return;
	}
}

static void
up_on_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn	*c = arg;

	if (c->flags & CONN_DEAD)
		return;
	switch (c->state) {
	case CONN_READ_HEAD:
		/* A kept-alive upstream went away between requests. */
		proxy_conn_drop_up(c);
		return;
	case CONN_TUNNEL:
		if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR)) {
			relay_eof(c, bev);
			return;
		}
		proxy_conn_close(c, "upstream error");
		return;
	case CONN_CHAIN_REPLY:
	case CONN_SNI_PEEK:
		proxy_connect_on_event(c, bev, what);
		return;
	case CONN_FWD_BODY:
	case CONN_FWD_RESPONSE:
	case CONN_REVERSE:
		proxy_forward_on_event(c, bev, what);
		return;
	default:
		proxy_conn_close(c, "upstream event");
		return;
	}
}

void
proxy_conn_bev_enable(struct bufferevent *bev, short events)
{
	if ((bufferevent_get_enabled(bev) & events) != events)
		bufferevent_enable(bev, events);
}

/* With no high mark nothing can be suspended, so equal marks are no-ops. */
void
proxy_conn_bev_watermark(struct bufferevent *bev, short events, size_t low,
    size_t high)
{
	size_t	l, h;
	short	ev;

	for (ev = EV_READ; ev <= EV_WRITE; ev <<= 1) {
		if ((events & ev) == 0)
			continue;
		if (bufferevent_getwatermark(bev, ev, &l, &h) == 0 &&
		    l == low && h == high)
			continue;
		bufferevent_setwatermark(bev, ev, low, high);
	}
}

void
proxy_conn_attach_client(struct conn *c)
{
	bufferevent_setcb(c->client, conn_on_read, conn_on_write,
	    conn_on_event, c);
}

void
proxy_conn_attach_up(struct conn *c)
{
	bufferevent_setcb(c->up, up_on_read, up_on_write, up_on_event, c);
	proxy_conn_bev_enable(c->up, EV_READ);
}

const struct secret *
proxy_conn_phantom(const struct conn *c, size_t i)
{
	const struct proxy_clients	*cs = proxy_server_clients(c->px);

	if (cs == NULL)
		return proxy_server_phantom_at(c->px, i);
	if (c->who == NULL || i >= proxy_clients_plan(cs, c->who)->nroutes)
		return NULL;
	return c->who->phantoms[i];
}

/*
 * The connection is client cl's from now on: it is served by the view
 * of cl's profile (SPEC 4.10).
 */
static void
conn_bind(struct conn *c, const struct proxy_client *cl)
{
	c->who = cl;
	c->px = proxy_server_view(c->px, cl);
}

void
proxy_conn_bind_phantom(struct conn *c, const char *service)
{
	const struct proxy_clients	*cs = proxy_server_clients(c->px);
	const struct proxy_client	*cl;
	const struct plan		*plan;
	ssize_t				*ri;
	size_t				 k, p, np;

	if (cs == NULL || c->who != NULL)
		return;
	/* The route called service in each plan: [0] the proxy's. */
	np = 1 + cs->nprofiles;
	ri = xcalloc(np, sizeof(*ri));
	for (p = 0; p < np; p++) {
		plan = p == 0 ? cs->plan : cs->profiles[p - 1].plan;
		ri[p] = -1;
		for (k = 0; k < plan->nroutes; k++)
			if (strcmp(plan->routes[k]->def->name, service) == 0) {
				ri[p] = (ssize_t)k;
				break;
			}
	}
	for (k = 0; k < cs->n; k++) {
		cl = &cs->v[k];
		p = (size_t)(cl->profile + 1);
		if (ri[p] == -1 || cl->phantoms[ri[p]] == NULL)
			continue;
		plan = proxy_clients_plan(cs, cl);
		if (proxy_inject_check_phantom(plan->routes[ri[p]],
		    cl->phantoms[ri[p]], c->head, c->rpath)) {
			conn_bind(c, cl);
			break;
		}
	}
	free(ri);
}

bool
proxy_conn_check_phantom(struct conn *c, size_t i)
{
	const struct proxy_clients	*cs = proxy_server_clients(c->px);
	const struct route		*r = proxy_server_plan(c->px)->routes[i];
	size_t				 k;

	if (cs == NULL || c->who != NULL)
		return proxy_inject_check_phantom(r, proxy_conn_phantom(c, i),
		    c->head, c->rpath);
	/* Clients of the proxy's own plan (the others: bind_phantom). */
	for (k = 0; k < cs->n; k++)
		if (cs->v[k].profile < 0 && cs->v[k].phantoms[i] != NULL &&
		    proxy_inject_check_phantom(r, cs->v[k].phantoms[i],
		    c->head, c->rpath)) {
			conn_bind(c, &cs->v[k]);
			return true;
		}
	return false;
}

bool
proxy_conn_authorized(struct conn *c)
{
	const struct proxy_clients	*cs = proxy_server_clients(c->px);
	const struct proxy_client	*cl;
	const char			*v;

	if (cs != NULL) {
		/* A client's token names the client (SPEC 4.10). */
		v = proxy_http_field(c->head, HF_PROXY_AUTHORIZATION);
		if (v == NULL)
			return (c->flags & CONN_AUTHED) != 0;
		cl = proxy_clients_by_auth(cs, v, strlen(v));
		if (cl == NULL || (c->who != NULL && c->who != cl))
			return false;
		if (c->who == NULL)
			conn_bind(c, cl);
		c->flags |= CONN_AUTHED;
		return true;
	}
	if (c->flags & CONN_AUTHED)
		return true;
	v = proxy_http_field(c->head, HF_PROXY_AUTHORIZATION);
	if (v == NULL || !proxy_auth_check(proxy_server_token(c->px), v,
	    strlen(v)))
		return false;
	/* Authenticated once, the connection stays so (same client). */
	c->flags |= CONN_AUTHED;
	return true;
}

void
proxy_conn_need_auth(struct conn *c)
{
	c->status = 407;
	proxy_conn_audit(c, false, "proxy authentication required");
	proxy_conn_reply(c, 407, "proxy authentication required",
	    "Proxy-Authenticate: Basic realm=\"keyhole\"\r\n", false);
	proxy_conn_next_request(c);
}

static void
conn_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct conn		*c = arg;
	const struct plan	*plan;
	struct timespec		 now;
	long			 idle;

	(void)fd;
	(void)what;
	if ((c->flags & CONN_DEAD) || !conn_deadline_passed(c))
		return;
	plan = conn_plan(c);
	switch (c->state) {
	case CONN_READ_HEAD:
		if (c->flags & CONN_KA_WAIT) {
			proxy_conn_close(c, "keep-alive idle");
			return;
		}
		c->status = 408;
		proxy_conn_audit(c, false, "request head timeout");
		proxy_conn_reply(c, 408, "request head timeout", NULL, true);
		return;
	case CONN_CONNECTING:
		c->connect_timed_out = true;
		snprintf(c->connect_error, sizeof(c->connect_error),
		    "timed out");
		proxy_conn_drop_up(c);
		connect_try(c);
		return;
	case CONN_RESOLVING:
	case CONN_CHAIN_REPLY:
		proxy_dns_cancel(c->dns);
		c->dns = NULL;
		proxy_conn_deny(c, 504, "upstream timed out");
		return;
	case CONN_CLOSING:
		proxy_conn_close(c, "linger done");
		return;
	case CONN_TLS_ACCEPT:
		proxy_tls_intercept_timeout(c);
		return;
	default:
		now_mono(&now);
		idle = ms_between(&c->last_io, &now);
		if (idle >= (long)plan->limits.idle_timeout_ms) {
			proxy_conn_close(c, "idle timeout");
			return;
		}
		proxy_conn_timer(c, plan->limits.idle_timeout_ms -
		    (uint32_t)idle);
		return;
	}
}
