/*
 * The admin listener of keyhole proxy (SPEC 4.10): health, readiness and
 * Prometheus metrics for an orchestrator.  Separate from the proxy's
 * listener so probes never need the proxy token.
 */
#include "proxy/admin.h"

#include <sys/queue.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "proxy/server.h"
#include "util/log.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

#define ADMIN_HEAD_MAX		8192
#define ADMIN_TIMEOUT_SECS	5
#define ADMIN_MAX_CONNS		64

struct admin {
	struct event_base	*base;		/* borrowed */
	struct proxy		*px;		/* borrowed */
	struct evconnlistener	*listener;	/* owned */
	admin_metrics_fn	*extra;
	void			*extra_arg;
	unsigned		 port;
	size_t			 nconns;
	TAILQ_HEAD(, admin_conn) conns;
};

struct admin_conn {
	struct admin		*ad;		/* borrowed */
	struct bufferevent	*bev;		/* owned */
	TAILQ_ENTRY(admin_conn)	 entry;
};

static void
admin_conn_free(struct admin_conn *ac)
{
	ac->ad->nconns--;
	TAILQ_REMOVE(&ac->ad->conns, ac, entry);
	bufferevent_free(ac->bev);
	free(ac);
}

static void
admin_on_write(struct bufferevent *bev, void *arg)
{
	(void)bev;
	admin_conn_free(arg);
}

static void
admin_answer(struct admin_conn *ac, int status, const char *reason,
    const char *ctype, const struct strbuf *body)
{
	struct evbuffer	*out = bufferevent_get_output(ac->bev);

	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\nCache-Control: no-store\r\n"
	    "Connection: close\r\n\r\n", status, reason, ctype, body->len);
	if (body->len > 0)
		evbuffer_add(out, body->s, body->len);
	bufferevent_disable(ac->bev, EV_READ);
	bufferevent_setcb(ac->bev, NULL, admin_on_write, NULL, ac);
	bufferevent_enable(ac->bev, EV_WRITE);
}

static void
admin_serve(struct admin_conn *ac, const char *line)
{
	struct admin	*ad = ac->ad;
	struct strbuf	 b = { 0 };
	const char	*sp, *target;
	size_t		 tlen;

	if (strncmp(line, "GET ", 4) != 0) {
		strbuf_append(&b, "method not allowed\n");
		admin_answer(ac, 405, "Method Not Allowed", "text/plain", &b);
		strbuf_free(&b);
		return;
	}
	target = line + 4;
	if ((sp = strchr(target, ' ')) == NULL)
		sp = target + strlen(target);
	tlen = (size_t)(sp - target);
	if (memchr(target, '?', tlen) != NULL)
		tlen = (size_t)((const char *)memchr(target, '?', tlen) -
		    target);
#define IS(p)	(tlen == strlen(p) && memcmp(target, p, tlen) == 0)
	if (IS("/healthz")) {
		strbuf_append(&b, "ok\n");
		admin_answer(ac, 200, "OK", "text/plain", &b);
	} else if (IS("/readyz")) {
		if (ad->px != NULL && proxy_server_ready(ad->px)) {
			strbuf_append(&b, "ready\n");
			admin_answer(ac, 200, "OK", "text/plain", &b);
		} else {
			strbuf_append(&b, "not ready\n");
			admin_answer(ac, 503, "Service Unavailable",
			    "text/plain", &b);
		}
	} else if (IS("/metrics")) {
		if (ad->px != NULL)
			proxy_server_metrics(ad->px, &b);
		if (ad->extra != NULL)
			ad->extra(&b, ad->extra_arg);
		admin_answer(ac, 200, "OK",
		    "text/plain; version=0.0.4; charset=utf-8", &b);
	} else {
		strbuf_append(&b, "not found\n");
		admin_answer(ac, 404, "Not Found", "text/plain", &b);
	}
#undef IS
	strbuf_free(&b);
}

static void
admin_on_read(struct bufferevent *bev, void *arg)
{
	struct admin_conn	*ac = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct evbuffer_ptr	 end;
	char			*line;
	size_t			 n;

	end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
	if (end.pos == -1)
		end = evbuffer_search(in, "\n\n", 2, NULL);
	if (end.pos == -1) {
		if (evbuffer_get_length(in) > ADMIN_HEAD_MAX)
			admin_conn_free(ac);
		return;
	}
	if ((line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF)) == NULL) {
		admin_conn_free(ac);
		return;
	}
	admin_serve(ac, line);
	free(line);
}

static void
admin_on_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)what;
	admin_conn_free(arg);
}

static void
admin_on_accept(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct admin		*ad = arg;
	struct admin_conn	*ac;
	struct timeval		 tv = { ADMIN_TIMEOUT_SECS, 0 };

	(void)l;
	(void)sa;
	(void)salen;
	if (ad->nconns >= ADMIN_MAX_CONNS) {
		evutil_closesocket(fd);
		return;
	}
	ac = xcalloc(1, sizeof(*ac));
	ac->ad = ad;
	ac->bev = bufferevent_socket_new(ad->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (ac->bev == NULL) {
		evutil_closesocket(fd);
		free(ac);
		return;
	}
	ad->nconns++;
	TAILQ_INSERT_TAIL(&ad->conns, ac, entry);
	bufferevent_setcb(ac->bev, admin_on_read, NULL, admin_on_event, ac);
	bufferevent_set_timeouts(ac->bev, &tv, &tv);
	bufferevent_enable(ac->bev, EV_READ);
}

struct admin *
proxy_admin_new(struct event_base *base, const char *addr, struct proxy *px,
    struct errbuf *e)
{
	struct admin		*ad;
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss), sslen;
	evutil_socket_t		 fd;

	if (proxy_server_parse_addr(addr, &ss, &sslen) == -1) {
		errbuf_set(e, "--admin-listen %s: expected ADDR:PORT with an "
		    "IP address (127.0.0.1:9090, [::1]:9090, 0.0.0.0:9090)",
		    addr);
		return NULL;
	}
	ad = xcalloc(1, sizeof(*ad));
	ad->base = base;
	ad->px = px;
	TAILQ_INIT(&ad->conns);
	ad->listener = evconnlistener_new_bind(base, admin_on_accept, ad,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC |
	    LEV_OPT_REUSEABLE, 64, (struct sockaddr *)&ss, (int)sslen);
	if (ad->listener == NULL) {
		errbuf_sys(e, "--admin-listen %s: cannot listen", addr);
		free(ad);
		return NULL;
	}
	fd = evconnlistener_get_fd(ad->listener);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
		ad->port = ntohs(ss.ss_family == AF_INET6 ?
		    ((struct sockaddr_in6 *)&ss)->sin6_port :
		    ((struct sockaddr_in *)&ss)->sin_port);
	return ad;
}

void
proxy_admin_set_proxy(struct admin *ad, struct proxy *px)
{
	ad->px = px;
}

void
proxy_admin_set_extra(struct admin *ad, admin_metrics_fn *fn, void *arg)
{
	ad->extra = fn;
	ad->extra_arg = arg;
}

unsigned
proxy_admin_port(const struct admin *ad)
{
	return ad->port;
}

void
proxy_admin_free(struct admin *ad)
{
	if (ad == NULL)
		return;
	while (!TAILQ_EMPTY(&ad->conns))
		admin_conn_free(TAILQ_FIRST(&ad->conns));
	evconnlistener_free(ad->listener);
	free(ad);
}
