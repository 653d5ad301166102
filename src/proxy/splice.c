#include "proxy/splice.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
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

/*
 * Pipe capacity, the most one splice reads, and the most rounds one
 * callback makes before yielding.  The first two can be set at build time
 * (make CFLAGS="-O2 -g -DSPLICE_READ_MAX=131072") to compare builds with
 * bench/connect_throughput KEYHOLE_BASE=...: under load, smaller reads
 * cost twice the CPU per GiB and their throughput was not told apart
 * from noise (bench/README.md, results of 2026-12-06 03:20-04:00).
 */
#ifndef SPLICE_PIPE_SIZE
#define SPLICE_PIPE_SIZE	(1024 * 1024)
#endif
#ifndef SPLICE_READ_MAX
#define SPLICE_READ_MAX		SPLICE_PIPE_SIZE
#endif
#define SPLICE_ROUNDS		16

struct splice_dir {
	struct splice_relay	*sr;		/* borrowed: the owner */
	int			 from, to;	/* borrowed socket fds */
	int			 pipe[2];	/* owned; -1 until needed */
	size_t			 in_pipe;
	struct event		*rev;		/* owned; readable from */
	struct event		*wev;		/* owned; writable to */
	struct evbuffer		*pending;	/* owned; bytes buffered
						   before the splice, to
						   write first */
	size_t			 uncounted;	/* leading pending bytes
						   that are ours (the 200) */
	uint64_t		 spliced;	/* bytes moved by splice */
	uint64_t		 copied;	/* bytes written from pending */
	bool			 eof;		/* from sent FIN */
	bool			 done;		/* FIN passed on */
	bool			 upward;	/* client -> upstream */
};

struct splice_relay {
	struct conn		*c;		/* borrowed */
	struct splice_dir	 d[2];
};

static void	dir_pump(struct splice_dir *);
static int	dir_flush(struct splice_dir *);

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
	/* Bytes buffered before the splice go first, then the pipe. */
	if (evbuffer_get_length(d->pending) > 0 && dir_flush(d) != 0)
		return;
	for (round = 0; round < SPLICE_ROUNDS; round++) {
		if (d->in_pipe > 0) {
			n = splice(d->pipe[0], NULL, d->to, NULL, d->in_pipe,
			    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n > 0) {
				d->in_pipe -= (size_t)n;
				d->spliced += (uint64_t)n;
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
		n = splice(d->from, NULL, d->pipe[1], NULL, SPLICE_READ_MAX,
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

/*
 * Write d->pending to d->to without blocking; count what is not ours.
 * 0 when it is empty; 1 when the peer is slow (we wait for it to be
 * writable, not reading meanwhile); -1 when the conn was closed.
 */
static int
dir_flush(struct splice_dir *d)
{
	struct conn	*c = d->sr->c;
	size_t		 ours;
	int		 n;

	while (evbuffer_get_length(d->pending) > 0) {
		n = evbuffer_write(d->pending, d->to);
		if (n <= 0) {
			if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
				event_del(d->rev);
				event_add(d->wev, NULL);
				return 1;
			}
			dir_fail(d, "tunnel write failed");
			return -1;
		}
		ours = (size_t)n < d->uncounted ? (size_t)n : d->uncounted;
		d->uncounted -= ours;
		d->copied += (uint64_t)n - ours;
		if (d->upward)
			c->bytes_up += (uint64_t)n - ours;
		else
			c->bytes_down += (uint64_t)n - ours;
		proxy_conn_touch(c);
	}
	return 0;
}

/*
 * Move what a bufferevent still holds into d->pending: first what it was
 * writing to d->to (our 200, ours), then what it read from d->from (early
 * peer bytes).  A bufferevent freezes the start of its output buffer
 * between its own writes; we take the buffer over, so thaw it for the
 * move.  Nothing is written here: a write that would block must not
 * cost the tunnel its splice (server-first protocols: the greeting
 * arrives together with the connect).
 */
static int
dir_take(struct splice_dir *d, struct bufferevent *to_bev,
    struct bufferevent *from_bev)
{
	struct evbuffer	*out = bufferevent_get_output(to_bev);
	struct evbuffer	*in = bufferevent_get_input(from_bev);
	int		 rc;

	if ((d->pending = evbuffer_new()) == NULL)
		return -1;
	d->uncounted = evbuffer_get_length(out);
	evbuffer_unfreeze(out, 1);
	rc = evbuffer_add_buffer(d->pending, out);
	evbuffer_freeze(out, 1);
	if (rc == -1 || evbuffer_add_buffer(d->pending, in) == -1)
		return -1;
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
	bufferevent_disable(c->client, EV_READ | EV_WRITE);
	bufferevent_disable(c->up, EV_READ | EV_WRITE);
	sr = xcalloc(1, sizeof(*sr));
	sr->c = c;
	sr->d[0].pipe[0] = sr->d[0].pipe[1] = -1;
	sr->d[1].pipe[0] = sr->d[1].pipe[1] = -1;
	/* Our 200 and early server bytes down, early client bytes up. */
	if (dir_take(&sr->d[0], c->up, c->client) == -1 ||
	    dir_take(&sr->d[1], c->client, c->up) == -1)
		log_fatalx("cannot take over the tunnel's buffers");
	for (i = 0; i < 2; i++) {
		struct splice_dir *d = &sr->d[i];

		d->sr = sr;
		d->upward = i == 0;
		d->from = d->upward ? cfd : ufd;
		d->to = d->upward ? ufd : cfd;
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
	log_debug("conn %llu: tunnel spliced", (unsigned long long)c->id);
	for (i = 0; i < 2; i++) {
		if (sr->d[i].eof || evbuffer_get_length(sr->d[i].pending) > 0)
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
	log_debug("conn %llu: spliced %llu bytes up, %llu down; copied "
	    "%llu up, %llu down", (unsigned long long)sr->c->id,
	    (unsigned long long)sr->d[0].spliced,
	    (unsigned long long)sr->d[1].spliced,
	    (unsigned long long)sr->d[0].copied,
	    (unsigned long long)sr->d[1].copied);
	for (i = 0; i < 2; i++) {
		if (sr->d[i].pending != NULL)
			evbuffer_free(sr->d[i].pending);
		event_free(sr->d[i].rev);
		event_free(sr->d[i].wev);
		for (j = 0; j < 2; j++)
			if (sr->d[i].pipe[j] != -1)
				close(sr->d[i].pipe[j]);
	}
	free(sr);
}
