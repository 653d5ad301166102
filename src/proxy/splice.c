#include "proxy/splice.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "proxy/conn.h"
#include "proxy/server.h"
#include "util/log.h"
#include "util/xmalloc.h"

/* Pipe capacity and the most one callback moves before yielding. */
#define SPLICE_PIPE_SIZE	(1024 * 1024)
#define SPLICE_ROUNDS		16

struct splice_dir {
	struct splice_relay	*sr;		/* borrowed: the owner */
	int			 from, to;	/* borrowed socket fds */
	int			 pipe[2];	/* owned; -1 until needed */
	size_t			 in_pipe;
	struct event		*rev;		/* owned; readable from */
	struct event		*wev;		/* owned; writable to */
	bool			 eof;		/* from sent FIN */
	bool			 done;		/* FIN passed on */
	bool			 upward;	/* client -> upstream */
};

struct splice_relay {
	struct conn		*c;		/* borrowed */
	struct splice_dir	 d[2];
};

static void	dir_pump(struct splice_dir *);

static void
dir_on_read(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	dir_pump(arg);
}

static void
dir_on_write(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	dir_pump(arg);
}

static void
dir_fail(struct splice_dir *d, const char *why)
{
	proxy_conn_close(d->sr->c, why);
}

static int
dir_pipe(struct splice_dir *d)
{
	if (d->pipe[0] != -1)
		return 0;
	if (pipe2(d->pipe, O_NONBLOCK | O_CLOEXEC) == -1)
		return -1;
	/* Best effort: a bigger pipe means fewer rounds per megabyte. */
	(void)fcntl(d->pipe[1], F_SETPIPE_SZ, SPLICE_PIPE_SIZE);
	return 0;
}

/* One direction finished: pass the FIN on, close when both are. */
static void
dir_finish(struct splice_dir *d)
{
	struct conn	*c = d->sr->c;

	d->done = true;
	event_del(d->rev);
	event_del(d->wev);
	shutdown(d->to, SHUT_WR);
	c->flags |= d->upward ? CONN_SHUT_UP : CONN_SHUT_CLIENT;
	if (d->sr->d[0].done && d->sr->d[1].done)
		proxy_conn_close(c, "tunnel finished");
}

static void
dir_pump(struct splice_dir *d)
{
	struct conn	*c = d->sr->c;
	ssize_t		 n;
	int		 round;

	if (c->flags & CONN_DEAD)
		return;
	for (round = 0; round < SPLICE_ROUNDS; round++) {
		if (d->in_pipe > 0) {
			n = splice(d->pipe[0], NULL, d->to, NULL, d->in_pipe,
			    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n > 0) {
				d->in_pipe -= (size_t)n;
				if (d->upward)
					c->bytes_up += (uint64_t)n;
				else
					c->bytes_down += (uint64_t)n;
				proxy_conn_touch(c);
				continue;
			}
			if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
				/* The peer is slow: stop reading, wait. */
				event_del(d->rev);
				event_add(d->wev, NULL);
				return;
			}
			dir_fail(d, "tunnel write failed");
			return;
		}
		if (d->eof) {
			dir_finish(d);
			return;
		}
		if (dir_pipe(d) == -1) {
			dir_fail(d, "no pipe for the tunnel");
			return;
		}
		n = splice(d->from, NULL, d->pipe[1], NULL, SPLICE_PIPE_SIZE,
		    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n > 0) {
			d->in_pipe += (size_t)n;
			continue;
		}
		if (n == 0) {
			d->eof = true;
			continue;
		}
		if (errno == EAGAIN || errno == EINTR) {
			event_del(d->wev);
			event_add(d->rev, NULL);
			return;
		}
		dir_fail(d, "tunnel read failed");
		return;
	}
	/* Yield to other connections; level-triggered events come back. */
	if (d->in_pipe > 0)
		event_add(d->wev, NULL);
	else
		event_add(d->rev, NULL);
}

/* Write what a bufferevent still holds, without blocking; count it. */
static int
flush_buffer(struct evbuffer *buf, int fd, uint64_t *count)
{
	int	n;

	while (evbuffer_get_length(buf) > 0) {
		if ((n = evbuffer_write(buf, fd)) <= 0)
			return -1;
		if (count != NULL)
			*count += (uint64_t)n;
	}
	return 0;
}

int
proxy_splice_start(struct conn *c)
{
	struct splice_relay	*sr;
	struct event_base	*base = proxy_server_base(c->px);
	int			 cfd = bufferevent_getfd(c->client);
	int			 ufd = bufferevent_getfd(c->up);
	int			 i;

	/* Either side in TLS: the bytes must go through OpenSSL. */
	if (cfd == -1 || ufd == -1 || c->ssl != NULL ||
	    (c->flags & CONN_INTERCEPT))
		return -1;
	/* Our 200, early client bytes, early server bytes: in order. */
	if (flush_buffer(bufferevent_get_output(c->client), cfd, NULL) ==
	    -1 || flush_buffer(bufferevent_get_output(c->up), ufd, NULL) ==
	    -1 || flush_buffer(bufferevent_get_input(c->client), ufd,
	    &c->bytes_up) == -1 || flush_buffer(bufferevent_get_input(c->up),
	    cfd, &c->bytes_down) == -1)
		return -1;
	bufferevent_disable(c->client, EV_READ | EV_WRITE);
	bufferevent_disable(c->up, EV_READ | EV_WRITE);
	sr = xcalloc(1, sizeof(*sr));
	sr->c = c;
	for (i = 0; i < 2; i++) {
		struct splice_dir *d = &sr->d[i];

		d->sr = sr;
		d->upward = i == 0;
		d->from = d->upward ? cfd : ufd;
		d->to = d->upward ? ufd : cfd;
		d->pipe[0] = d->pipe[1] = -1;
		d->rev = event_new(base, d->from, EV_READ | EV_PERSIST,
		    dir_on_read, d);
		d->wev = event_new(base, d->to, EV_WRITE | EV_PERSIST,
		    dir_on_write, d);
		if (d->rev == NULL || d->wev == NULL)
			log_fatalx("cannot create tunnel events");
		/* A side that already sent its FIN (early EOF). */
		if (c->flags & (d->upward ? CONN_EOF_CLIENT : CONN_EOF_UP))
			d->eof = true;
	}
	c->splice = sr;
	for (i = 0; i < 2; i++) {
		if (sr->d[i].eof)
			dir_pump(&sr->d[i]);
		else
			event_add(sr->d[i].rev, NULL);
		if (c->flags & CONN_DEAD)
			break;
	}
	return 0;
}

void
proxy_splice_free(struct splice_relay *sr)
{
	int	i, j;

	if (sr == NULL)
		return;
	for (i = 0; i < 2; i++) {
		event_free(sr->d[i].rev);
		event_free(sr->d[i].wev);
		for (j = 0; j < 2; j++)
			if (sr->d[i].pipe[j] != -1)
				close(sr->d[i].pipe[j]);
	}
	free(sr);
}
