/*
 * Plain-HTTP forwarding (SPEC §4.5): "GET http://host[:port]/path" to an
 * allowed host, with hop-by-hop and Proxy-* headers removed and keep-alive
 * to the client.  Bodies are framed by http_parser and passed on as they
 * were received; responses are relayed as they arrive.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "policy/allowlist.h"
#include "policy/plan.h"
#include "policy/route.h"
#include "proxy/conn.h"
#include "proxy/guard.h"
#include "proxy/scrub.h"
#include "proxy/server.h"
#include "proxy/upstream.h"
#include "util/log.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

#define CRED_FORWARD_REASON \
	"credential upstream: forward bypasses L7 filtering"


/*
 * True when header x must not be forwarded: the hop-by-hop headers of RFC
 * 9110 §7.6.1 and Proxy-Connection/-Authorization/-Authenticate, and
 * anything a Connection header names -- but not the framing headers: the
 * body is relayed as the client framed it, and dropping them would
 * desynchronise the upstream connection.
 */
static bool
forward_is_hop(const struct http_header *x)
{
	switch (x->field) {
	case HF_CONNECTION:
	case HF_KEEP_ALIVE:
	case HF_PROXY_CONNECTION:
	case HF_PROXY_AUTHORIZATION:
	case HF_PROXY_AUTHENTICATE:
	case HF_TE:
	case HF_TRAILER:
	case HF_UPGRADE:
		return true;
	case HF_CONTENT_LENGTH:
	case HF_TRANSFER_ENCODING:
		return false;
	default:
		return x->conn_listed;
	}
}

/*
 * Split "http://authority/path?q" into authority and origin-form path.
 * -1 for other schemes, userinfo or an empty authority.
 */
static int
forward_split(const char *target, char **authority, char **path)
{
	const char	*a, *p;

	*authority = *path = NULL;
	if (strncasecmp(target, "http://", 7) != 0)
		return -1;
	a = target + 7;
	p = a + strcspn(a, "/?#");
	if (p == a || memchr(a, '@', (size_t)(p - a)) != NULL)
		return -1;
	*authority = xstrndup(a, (size_t)(p - a));
	if (*p == '/')
		*path = xstrndup(p, strcspn(p, "#"));
	else
		*path = xasprintf("/%.*s", (int)strcspn(p, "#"), p);
	return 0;
}

static bool
forward_cred_host(const struct conn *c)
{
	const struct plan	*plan = proxy_server_plan(c->px);
	size_t			 i;

	/* Any port: plain http to a credential host bypasses L7 rules too. */
	for (i = 0; i < plan->nroutes; i++)
		if (strcmp(plan->routes[i]->up_host, c->host) == 0)
			return true;
	return proxy_server_cred_upstream(c->px, c->host, c->port) != NULL;
}

static void	forward_send(struct conn *);
static void	forward_connected(struct conn *, int);

void
proxy_forward_start(struct conn *c)
{
	const struct plan	*plan = proxy_server_plan(c->px);
	char			*auth = NULL, *raw = NULL, reason[512];
	struct errbuf		 e = { 0 };
	uint16_t		 port;

	c->mode = CONN_MODE_FORWARD;
	if (strncasecmp(c->head->target, "https://", 8) == 0) {
		proxy_conn_deny(c, 400, "https:// requests must use CONNECT");
		return;
	}
	if (forward_split(c->head->target, &auth, &c->path) == -1 ||
	    proxy_http_parse_authority(auth, &raw, &port, 80) == -1 ||
	    (c->host = policy_allowlist_canon_host(raw, strlen(raw),
	    &e)) == NULL) {
		free(auth);
		free(raw);
		proxy_conn_deny(c, 400, "bad request URL");
		return;
	}
	free(auth);
	free(raw);
	c->port = port;
	if (!proxy_conn_authorized(c)) {
		proxy_conn_need_auth(c);
		return;
	}
	plan = proxy_server_plan(c->px);	/* the client's profile's */
	if (forward_cred_host(c)) {
		proxy_conn_deny(c, 403, CRED_FORWARD_REASON);
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
	    ALLOW_USE_FORWARD) == NULL : !policy_allowlist_allows(
	    &plan->allow, c->host, c->port, ALLOW_USE_FORWARD)) {
		if (!plan->report_only) {
			proxy_conn_deny(c, 403, "not in allow-list");
			return;
		}
		c->flags |= CONN_WOULD_DENY;
	}
	/* Reuse the upstream connection of the previous request. */
	if (c->up != NULL && c->up_port == c->port &&
	    strcmp(c->up_host, c->host) == 0) {
		forward_send(c);
		return;
	}
	proxy_conn_drop_up(c);
	proxy_conn_resolve_connect(c, c->host, c->port, 403,
	    forward_connected);
}

static void
forward_connected(struct conn *c, int rc)
{
	char	reason[256];

	if (rc == -1) {
		snprintf(reason, sizeof(reason), "upstream connect failed: %s",
		    c->connect_error);
		proxy_conn_deny(c, c->connect_timed_out ? 504 : 502, reason);
		return;
	}
	proxy_conn_set_up_key(c, c->host, c->port);
	proxy_conn_attach_up(c);
	forward_send(c);
}

/* Request head towards the origin server. */
static void
forward_write_head(struct conn *c)
{
	struct evbuffer		*out = bufferevent_get_output(c->up);
	const struct http_head	*h = c->head;
	bool			 v6 = strchr(c->host, ':') != NULL;
	bool			 upgrade;
	size_t			 i;

	upgrade = proxy_http_field(h, HF_UPGRADE) != NULL &&
	    proxy_http_header_has_token(h, "Connection", "upgrade");
	evbuffer_add_printf(out, "%s %s HTTP/1.1\r\nHost: %s%s%s", h->method,
	    c->path, v6 ? "[" : "", c->host, v6 ? "]" : "");
	if (c->port != 80)
		evbuffer_add_printf(out, ":%u", c->port);
	evbuffer_add(out, "\r\n", 2);
	for (i = 0; i < h->nh; i++) {
		if (h->h[i].field == HF_HOST || forward_is_hop(&h->h[i]))
			continue;
		proxy_http_add_header(out, &h->h[i]);
	}
	if (upgrade)
		evbuffer_add_printf(out, "Connection: upgrade\r\nUpgrade: "
		    "%s\r\n", proxy_http_field(h, HF_UPGRADE));
	evbuffer_add(out, "\r\n", 2);
}

/* Move framed body bytes from the client to the origin server. */
static void
forward_pump_body(struct conn *c)
{
	struct evbuffer		*in = bufferevent_get_input(c->client);
	struct evbuffer		*out = bufferevent_get_output(c->up);
	struct evbuffer_iovec	 v;
	size_t			 used;
	enum http_result	 r = HTTP_MORE;

	while (!c->req.msg_done && evbuffer_peek(in, -1, NULL, &v, 1) > 0) {
		r = proxy_http_scan_body(&c->req, v.iov_base, v.iov_len,
		    &used);
		if (r == HTTP_BAD) {
			proxy_conn_deny(c, 400, c->req.bad_reason);
			return;
		}
		/*
		 * Checked before the bytes move: the upstream socket may
		 * take them at once.  Streamed past the cap, the upstream
		 * gets a cut body, never one over the cap.
		 */
		if (c->mode == CONN_MODE_REVERSE && c->req.body_bytes >
		    proxy_server_plan(c->px)->limits.max_body) {
			proxy_conn_drop_up(c);
			proxy_conn_deny(c, 413, "request body over the limit");
			return;
		}
		evbuffer_remove_buffer(in, out, used);
		c->bytes_up += used;
		if (r == HTTP_DONE || used == 0)
			break;
	}
	if (c->req.msg_done) {
		if (c->state == CONN_FWD_BODY)
			proxy_conn_set_state(c, CONN_FWD_RESPONSE);
		/*
		 * Pipelined bytes wait in the input for the next request;
		 * reading goes on (toggling it costs two epoll_ctl calls per
		 * request) but stops at one head's worth (conn_on_read).
		 */
		return;
	}
	if (evbuffer_get_length(out) >= CONN_RELAY_HIGH)
		bufferevent_disable(c->client, EV_READ);
	else
		bufferevent_enable(c->client, EV_READ);
}

static void
forward_send(struct conn *c)
{
	c->scrubbing = false;
	forward_write_head(c);
	proxy_forward_exchange(c);
}

void
proxy_forward_exchange(struct conn *c)
{
	const struct plan	*plan = proxy_server_plan(c->px);

	if (!c->req.keep_alive || proxy_server_closing(c->px))
		c->flags |= CONN_CLOSE_AFTER;
	proxy_conn_set_state(c, CONN_FWD_BODY);
	proxy_http_msg_reset(&c->resp);
	c->resp.no_body = strcmp(c->head->method, "HEAD") == 0;
	proxy_conn_bev_watermark(c->client, EV_READ, 0, 0);
	proxy_conn_bev_watermark(c->up, EV_WRITE, CONN_RELAY_HIGH / 2, 0);
	proxy_conn_bev_watermark(c->client, EV_WRITE, CONN_RELAY_HIGH / 2, 0);
	proxy_conn_bev_enable(c->up, EV_READ);
	proxy_conn_touch(c);
	proxy_conn_timer(c, plan->limits.idle_timeout_ms);
	forward_pump_body(c);
	/* A bad body may have answered and dropped the upstream already. */
	if ((c->flags & CONN_DEAD) || c->state == CONN_CLOSING ||
	    c->up == NULL)
		return;
	if (evbuffer_get_length(bufferevent_get_input(c->up)) > 0)
		proxy_forward_on_read(c, c->up);
}

/* Response head towards the client, hop-by-hop headers removed. */
/* Append n bytes at *p (room was reserved). */
static inline void
put(char **p, const void *s, size_t n)
{
	memcpy(*p, s, n);
	*p += n;
}

/*
 * Response head towards the client, hop-by-hop headers removed, written
 * into one reserved extent of out (measured first, written once).
 */
static void
forward_write_response_head(struct conn *c, const struct http_head *h,
    struct evbuffer *out, bool reframe, const char *extra)
{
	const char		*reason = proxy_http_reason(h->status);
	const char		*up = proxy_http_field(h, HF_UPGRADE);
	struct evbuffer_iovec	 v;
	char			 num[16], *p, *d;
	unsigned		 st = h->status > 0 ? (unsigned)h->status : 0;
	size_t			 i, room;

	if (up == NULL)
		up = "websocket";
	if (extra == NULL)
		extra = "";
	room = 9 + sizeof(num) + 1 + strlen(reason) + 2 + 30 + strlen(up) +
	    2 + 19 + 2 + strlen(extra);
	for (i = 0; i < h->nh; i++)
		room += h->h[i].name_len + h->h[i].value_len + 4;
	if (evbuffer_reserve_space(out, (ev_ssize_t)room, &v, 1) != 1) {
		proxy_conn_close(c, "out of memory");
		return;
	}
	p = v.iov_base;
	d = num + sizeof(num);
	do {
		*--d = (char)('0' + st % 10);
		st /= 10;
	} while (st != 0);
	put(&p, "HTTP/1.1 ", 9);
	put(&p, d, (size_t)(num + sizeof(num) - d));
	put(&p, " ", 1);
	put(&p, reason, strlen(reason));
	put(&p, "\r\n", 2);
	for (i = 0; i < h->nh; i++) {
		const struct http_header *x = &h->h[i];

		if (forward_is_hop(x) || (reframe &&
		    (x->field == HF_CONTENT_LENGTH ||
		    x->field == HF_TRANSFER_ENCODING)))
			continue;
		put(&p, x->name, x->name_len);
		put(&p, ": ", 2);
		put(&p, x->value, x->value_len);
		put(&p, "\r\n", 2);
	}
	if (h->status == 101) {
		put(&p, "Connection: upgrade\r\nUpgrade: ", 30);
		put(&p, up, strlen(up));
		put(&p, "\r\n", 2);
	} else if (c->flags & CONN_CLOSE_AFTER)
		put(&p, "Connection: close\r\n", 19);
	put(&p, extra, strlen(extra));
	put(&p, "\r\n", 2);
	v.iov_len = (size_t)(p - (char *)v.iov_base);
	evbuffer_commit_space(out, &v, 1);
}

/* The most a TLS record carries (RFC 8446 §5.1). */
#define FORWARD_RECORD_MAX	16384

/*
 * Hand what a turn produced to the client.  When nothing is queued yet it
 * is written straight to the socket: going through the bufferevent's
 * output turns write interest on and off again, two epoll_ctl calls per
 * response.  What the socket does not take is queued as usual.
 */
static void
forward_to_client(struct conn *c, struct evbuffer *pend)
{
	struct evbuffer	*out = bufferevent_get_output(c->client);
	/* An intercepted client's fd carries TLS records, not this. */
	int		 fd = (c->flags & CONN_INTERCEPT) ? -1 :
			    bufferevent_getfd(c->client);

	if (evbuffer_get_length(pend) == 0)
		return;
	if (evbuffer_get_length(out) == 0 && fd != -1)
		(void)evbuffer_write(pend, fd);
	/*
	 * The TLS layer makes a record of each piece it is given: a head and
	 * a small body would be two, each sealed, and two reads for the
	 * client.  One record carries up to 16 KiB.
	 */
	if ((c->flags & CONN_INTERCEPT) && evbuffer_get_length(pend) <=
	    FORWARD_RECORD_MAX)
		(void)evbuffer_pullup(pend, -1);
	evbuffer_add_buffer(out, pend);
}

/* The response is complete: audit it and go on with the client. */
static void
forward_done(struct conn *c)
{
	proxy_conn_audit(c, true, (c->flags & CONN_ANON) ? "no phantom: "
	    "sent without a credential" : NULL);
	if (!c->resp.keep_alive)
		proxy_conn_drop_up(c);
	else if (c->mode == CONN_MODE_REVERSE && c->up != NULL &&
	    c->pool_i != SIZE_MAX) {
		/* Any client may use it next (SPEC 4.6). */
		proxy_upstream_pool_put(proxy_server_pool(c->px), c->pool_i,
		    c->up, c->ssl);
		c->up = NULL;
		proxy_conn_drop_up(c);
	}
	if (c->flags & CONN_CLOSE_AFTER) {
		proxy_conn_set_state(c, CONN_CLOSING);
		bufferevent_setwatermark(c->client, EV_WRITE, 0, 0);
		if (evbuffer_get_length(bufferevent_get_output(c->client)) ==
		    0)
			proxy_conn_flush_close(c, "forward done");
		return;
	}
	proxy_conn_next_request(c);
}

/*
 * Scrubbed responses (SPEC §4.6 step 6).  The body is scanned decoded:
 * a Content-Length body wholly in hand is scrubbed at once and gets its
 * new length; otherwise, since replacing changes the length, it goes to
 * an HTTP/1.1 client as chunked (one chunk per turn) and to an HTTP/1.0
 * client delimited by close.  A body read until close stays so.  The
 * upstream's trailers are not passed on.  Content codings cannot be
 * scanned: without compressed_responses such a response is refused.
 */
#define FORWARD_WHOLE_MAX	(256 * 1024)

/* http_msg's body_fn: a decoded piece of a chunked body. */
static void
forward_scrub_piece(void *arg, const char *p, size_t n)
{
	struct conn	*c = arg;

	if (proxy_scrub_feed(c->scrub, p, n, c->sout) == -1)
		c->scrub_failed = true;
}

/*
 * Move this turn's framed body bytes out of in: as received into pend, or
 * scrubbed into c->sout.  -1 when c was closed.
 */
static int
forward_body(struct conn *c, struct evbuffer *in, struct evbuffer *pend)
{
	struct evbuffer_iovec	 v;
	size_t			 used;
	enum http_result	 r;
	/* A clean body whole in hand goes as received (CONN_FRAME_ASIS). */
	bool			 scrub = c->scrubbing &&
				    c->out_frame != CONN_FRAME_ASIS;

	while (!c->resp.msg_done && evbuffer_peek(in, -1, NULL, &v, 1) > 0) {
		if (scrub && c->resp.chunked) {
			c->resp.body_fn = forward_scrub_piece;
			c->resp.body_arg = c;
		}
		r = proxy_http_scan_body(&c->resp, v.iov_base, v.iov_len,
		    &used);
		c->resp.body_fn = NULL;
		if (r == HTTP_BAD) {
			forward_to_client(c, pend);
			proxy_conn_close(c, "malformed response body");
			return -1;
		}
		if (!scrub)
			evbuffer_remove_buffer(in, pend, used);
		else if (c->resp.chunked)
			evbuffer_drain(in, used);
		else if (proxy_scrub_feed_buffer(c->scrub, in, used,
		    c->sout) == -1)
			c->scrub_failed = true;
		c->bytes_down += used;
		if (r == HTTP_DONE || used == 0)
			break;
	}
	if (c->scrub_failed) {
		proxy_conn_close(c, "out of memory");
		return -1;
	}
	return 0;
}

/* Decimal of n into buf (at least 20 bytes); returns its length. */
static size_t
forward_dec(char *buf, size_t n)
{
	char	tmp[24], *d = tmp + sizeof(tmp);
	size_t	len;

	do {
		*--d = (char)('0' + n % 10);
		n /= 10;
	} while (n != 0);
	len = (size_t)(tmp + sizeof(tmp) - d);
	memcpy(buf, d, len);
	return len;
}

/*
 * One pass over h's headers: the first Content-Encoding value (*ce) and
 * how many there are; true when a name or value holds a pattern.
 */
static bool
forward_head_has(const struct conn *c, const struct http_head *h,
    const char **ce, size_t *nce)
{
	const struct http_header	*x;
	const char			*t = h->text, *te = t + h->text_len;
	size_t				 i;
	bool				 has;

	*ce = NULL;
	*nce = 0;
	/*
	 * Names and values read from the wire lie in the head's text: one
	 * look at it covers them (a match across a separator only sends
	 * the head the slow way).  Any other is looked at on its own.
	 */
	has = proxy_scrub_contains(c->scrub, t, h->text_len);
	for (i = 0; i < h->nh; i++) {
		x = &h->h[i];
		if (x->name_len == 16 &&
		    proxy_http_name_eq(x->name, "Content-Encoding", 16) &&
		    (*nce)++ == 0)
			*ce = x->value;
		if (has)
			continue;
		if ((x->name < t || x->name + x->name_len > te) &&
		    proxy_scrub_contains(c->scrub, x->name, x->name_len))
			has = true;
		if ((x->value < t || x->value + x->value_len > te) &&
		    proxy_scrub_contains(c->scrub, x->value, x->value_len))
			has = true;
	}
	return has;
}

/*
 * True when the whole Content-Length body is in in's first chain and
 * holds no pattern: it can go as received, with its own length.
 */
static bool
forward_clean_body(const struct conn *c, struct evbuffer *in)
{
	struct evbuffer_iovec	v;

	if (c->resp.length == 0)
		return true;
	return evbuffer_peek(in, (ev_ssize_t)c->resp.length, NULL, &v, 1) ==
	    1 && v.iov_len >= c->resp.length &&
	    !proxy_scrub_contains(c->scrub, v.iov_base, c->resp.length);
}

/*
 * Refuse what cannot be scrubbed, choose the body's framing, and write
 * the head, scrubbed, into pend (with the body when it is whole in hand).
 * -1 when c was answered or closed.
 */
static int
forward_scrub_head(struct conn *c, const struct http_head *h,
    struct evbuffer *in, struct evbuffer *pend)
{
	const char	*ce, *te, *extra = NULL;
	char		 len[48], reason[256], show[64];
	size_t		 n, nce;
	bool		 body, has;

	c->out_frame = CONN_FRAME_ASIS;
	c->scrub_ended = false;
	body = !c->resp.no_body && h->status >= 200 && h->status != 204 &&
	    h->status != 304;
	has = forward_head_has(c, h, &ce, &nce);
	te = proxy_http_field(h, HF_TRANSFER_ENCODING);
	if (body && ((ce != NULL && (strcasecmp(ce, "identity") != 0 ||
	    nce > 1)) ||
	    (te != NULL && (h->nfield[HF_TRANSFER_ENCODING] > 1 ||
	    strcasecmp(te, "chunked") != 0)))) {
		log_escape(show, sizeof(show), ce != NULL ? ce : te,
		    strlen(ce != NULL ? ce : te) > 15 ? 15 :
		    strlen(ce != NULL ? ce : te));
		snprintf(reason, sizeof(reason), "upstream sent %s '%s': a "
		    "coded response cannot be scrubbed (route without "
		    "compressed_responses)", ce != NULL ? "Content-Encoding" :
		    "Transfer-Encoding", show);
		evbuffer_drain(pend, evbuffer_get_length(pend));
		proxy_conn_drop_up(c);
		proxy_conn_deny(c, 502, reason);
		return -1;
	}
	if (body) {
		if (c->resp.has_length && !c->resp.chunked &&
		    c->resp.length <= FORWARD_WHOLE_MAX &&
		    evbuffer_get_length(in) >= c->resp.length)
			c->out_frame = forward_clean_body(c, in) ?
			    CONN_FRAME_ASIS : CONN_FRAME_LENGTH;
		else if (!c->resp.has_length && !c->resp.chunked)
			c->out_frame = CONN_FRAME_CLOSE;
		else if (c->head->major == 1 && c->head->minor == 0) {
			c->out_frame = CONN_FRAME_CLOSE;
			c->flags |= CONN_CLOSE_AFTER;
		} else {
			c->out_frame = CONN_FRAME_CHUNKED;
			extra = "Transfer-Encoding: chunked\r\n";
		}
	}
	if (c->out_frame == CONN_FRAME_LENGTH) {
		if (forward_body(c, in, pend) == -1)
			return -1;
		if (proxy_scrub_finish(c->scrub, c->sout) == -1) {
			proxy_conn_close(c, "out of memory");
			return -1;
		}
		c->scrub_ended = true;
		memcpy(len, "Content-Length: ", 16);
		n = forward_dec(len + 16, evbuffer_get_length(c->sout));
		memcpy(len + 16 + n, "\r\n", 3);
		extra = len;
	}
	/* Most heads hold nothing to replace: written as they are. */
	if (!has) {
		forward_write_response_head(c, h, pend,
		    c->out_frame != CONN_FRAME_ASIS, extra);
		if (c->flags & CONN_DEAD)
			return -1;
		if (c->out_frame == CONN_FRAME_LENGTH &&
		    evbuffer_add_buffer(pend, c->sout) == -1) {
			proxy_conn_close(c, "out of memory");
			return -1;
		}
		return 0;
	}
	forward_write_response_head(c, h, c->shead,
	    c->out_frame != CONN_FRAME_ASIS, extra);
	if (c->flags & CONN_DEAD)
		return -1;
	if (proxy_scrub_feed_buffer(c->scrub, c->shead,
	    evbuffer_get_length(c->shead), pend) == -1 ||
	    proxy_scrub_finish(c->scrub, pend) == -1 ||
	    (c->out_frame == CONN_FRAME_LENGTH &&
	    evbuffer_add_buffer(pend, c->sout) == -1)) {
		proxy_conn_close(c, "out of memory");
		return -1;
	}
	return 0;
}

/* "%zx\r\n" of n into buf (at least 20 bytes); returns its length. */
static size_t
forward_hex(char *buf, size_t n)
{
	char	tmp[16], *d = tmp + sizeof(tmp);
	size_t	len;

	do {
		*--d = "0123456789abcdef"[n & 0xf];
		n >>= 4;
	} while (n != 0);
	len = (size_t)(tmp + sizeof(tmp) - d);
	memcpy(buf, d, len);
	memcpy(buf + len, "\r\n", 2);
	return len + 2;
}

/*
 * Hand this turn's scrubbed body bytes to pend, framed; at the end of the
 * body (end: also a body read until close), what the scrubber held and,
 * for chunked, the last chunk.  -1 when c was closed.
 */
static int
forward_scrub_flush(struct conn *c, struct evbuffer *pend, bool end)
{
	char	hex[24];
	size_t	n;
	int	rv = 0;

	if (c->scrub_ended || c->out_frame == CONN_FRAME_ASIS)
		return 0;
	if (end) {
		rv = proxy_scrub_finish(c->scrub, c->sout);
		c->scrub_ended = true;
	}
	n = evbuffer_get_length(c->sout);
	if (c->out_frame == CONN_FRAME_CHUNKED) {
		if (n > 0) {
			if (evbuffer_add(pend, hex, forward_hex(hex, n)) == -1 ||
			    evbuffer_add_buffer(pend, c->sout) == -1 ||
			    evbuffer_add(pend, "\r\n", 2) == -1)
				rv = -1;
		}
		if (end && evbuffer_add(pend, "0\r\n\r\n", 5) == -1)
			rv = -1;
	} else if (n > 0 && evbuffer_add_buffer(pend, c->sout) == -1)
		rv = -1;
	if (rv == -1) {
		proxy_conn_close(c, "out of memory");
		return -1;
	}
	return 0;
}

static void
forward_response(struct conn *c)
{
	struct evbuffer		*in = bufferevent_get_input(c->up);
	struct evbuffer		*out = bufferevent_get_output(c->client);
	struct evbuffer		*pend;
	struct http_head	*h;

	/* Kept for the conn's life: one evbuffer less per response. */
	if (c->pend == NULL && (c->pend = evbuffer_new()) == NULL) {
		proxy_conn_close(c, "out of memory");
		return;
	}
	pend = c->pend;
	while (!c->resp.head_done) {
		switch (proxy_http_read_head(&c->resp, in)) {
		case HTTP_MORE:
			goto flush;
		case HTTP_BAD:
			evbuffer_drain(pend, evbuffer_get_length(pend));
			proxy_conn_deny(c, 502, c->resp.bad_reason);
			return;
		case HTTP_DONE:
			break;
		}
		h = proxy_http_take_head(&c->resp);
		c->status = h->status;
		/* The origin may close: the client need not. */
		if (!c->resp.keep_alive && !c->resp.has_length &&
		    !c->resp.chunked && !c->resp.no_body &&
		    h->status != 204 && h->status != 304 && h->status >= 200)
			c->flags |= CONN_CLOSE_AFTER;
		if (!c->scrubbing)
			forward_write_response_head(c, h, pend, false, NULL);
		else if (forward_scrub_head(c, h, in, pend) == -1) {
			proxy_http_head_free(h);
			return;
		}
		proxy_http_head_free(h);
		if (c->status == 101) {
			forward_to_client(c, pend);
			proxy_conn_relay(c);
			return;
		}
		if (c->status >= 100 && c->status < 200) {
			/* 100 Continue and friends: the real answer follows. */
			proxy_http_msg_reset(&c->resp);
			c->resp.no_body = strcmp(c->head->method, "HEAD") == 0;
		}
	}
	if (forward_body(c, in, pend) == -1)
		return;
	if (c->scrubbing && forward_scrub_flush(c, pend, c->resp.msg_done) ==
	    -1)
		return;
flush:
	forward_to_client(c, pend);
	if (c->resp.msg_done && c->state == CONN_FWD_RESPONSE) {
		forward_done(c);
		return;
	}
	if (evbuffer_get_length(out) >= CONN_RELAY_HIGH)
		bufferevent_disable(c->up, EV_READ);
}

void
proxy_forward_on_read(struct conn *c, struct bufferevent *bev)
{
	if (bev == c->client) {
		if (c->state == CONN_FWD_BODY)
			forward_pump_body(c);
		return;
	}
	forward_response(c);
}

void
proxy_forward_on_write(struct conn *c, struct bufferevent *bev)
{
	if (bev == c->up) {
		if (c->state == CONN_FWD_BODY && !c->req.msg_done)
			bufferevent_enable(c->client, EV_READ);
		return;
	}
	if (c->state == CONN_CLOSING) {
		proxy_conn_close(c, "forward done");
		return;
	}
	if (c->up != NULL)
		bufferevent_enable(c->up, EV_READ);
}

void
proxy_forward_on_event(struct conn *c, struct bufferevent *bev, short what)
{
	if (bev == c->client) {
		/* A client that half-closes after its request still gets
		 * the answer; the connection ends after it. */
		if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR) &&
		    c->state == CONN_FWD_RESPONSE) {
			c->flags |= CONN_EOF_CLIENT | CONN_CLOSE_AFTER;
			return;
		}
		proxy_conn_close(c, "client closed");
		return;
	}
	/* The origin closed: the end of a read-until-close body? */
	if ((what & BEV_EVENT_EOF) && c->resp.head_done &&
	    proxy_http_eof_ends_body(&c->resp)) {
		forward_response(c);
		if (c->flags & CONN_DEAD)
			return;
		/* A body read until close ends here: what was held goes. */
		if (c->scrubbing) {
			if (forward_scrub_flush(c, c->pend, true) == -1)
				return;
			forward_to_client(c, c->pend);
		}
		c->flags |= CONN_CLOSE_AFTER;
		proxy_conn_drop_up(c);
		if (c->state == CONN_FWD_RESPONSE || c->state == CONN_FWD_BODY)
			forward_done(c);
		return;
	}
	if (!c->resp.head_done && c->status == 0) {
		proxy_conn_deny(c, 502, "upstream closed before answering");
		return;
	}
	proxy_conn_close(c, "upstream closed mid-response");
}
