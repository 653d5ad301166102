/*
 * proxy_upstream_write_through and the conn bufferevent helpers: bytes
 * added to the output of an upstream socket go to the socket at once
 * (no loop turn, no write interest), and when the socket is full libevent
 * takes over and gives the job back once it has caught up.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "proxy/conn.h"
#include "proxy/upstream.h"

struct pair {
	struct event_base	*base;
	struct bufferevent	*bev;	/* our side, fd[0] */
	int			 peer;	/* the other end, non-blocking */
};

/* A socket pair; our side on base (a new one when NULL). */
static void
pair_open_on(struct pair *p, struct event_base *base, int sndbuf)
{
	int	fd[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fd), 0);
	if (sndbuf > 0) {
		assert_int_equal(setsockopt(fd[0], SOL_SOCKET, SO_SNDBUF,
		    &sndbuf, sizeof(sndbuf)), 0);
		assert_int_equal(setsockopt(fd[1], SOL_SOCKET, SO_RCVBUF,
		    &sndbuf, sizeof(sndbuf)), 0);
	}
	assert_int_equal(fcntl(fd[0], F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(fcntl(fd[1], F_SETFL, O_NONBLOCK), 0);
	p->base = base != NULL ? base : event_base_new();
	assert_non_null(p->base);
	p->bev = bufferevent_socket_new(p->base, fd[0],
	    BEV_OPT_CLOSE_ON_FREE);
	assert_non_null(p->bev);
	bufferevent_enable(p->bev, EV_READ | EV_WRITE);
	p->peer = fd[1];
}

static void
pair_open(struct pair *p, int sndbuf)
{
	pair_open_on(p, NULL, sndbuf);
}

static void
pair_close(struct pair *p)
{
	bufferevent_free(p->bev);
	close(p->peer);
	event_base_free(p->base);
}

/* Read what is there now; the count. */
static size_t
peer_read(struct pair *p, char *buf, size_t len)
{
	ssize_t	n;
	size_t	got = 0;

	while (got < len && (n = read(p->peer, buf + got, len - got)) > 0)
		got += (size_t)n;
	return got;
}

static void
test_write_through_writes_without_a_loop_turn(void **state)
{
	struct pair	p;
	char		buf[64];

	(void)state;
	pair_open(&p, 0);
	/* Queued before the switch: written by it. */
	bufferevent_write(p.bev, "early ", 6);
	proxy_upstream_write_through(p.bev);
	assert_int_equal(bufferevent_get_enabled(p.bev) & EV_WRITE, 0);
	assert_int_equal(peer_read(&p, buf, sizeof(buf)), 6);
	assert_memory_equal(buf, "early ", 6);
	/* No event_base_loop in between: the add itself writes. */
	bufferevent_write(p.bev, "request", 7);
	assert_int_equal(evbuffer_get_length(bufferevent_get_output(p.bev)),
	    0);
	assert_int_equal(peer_read(&p, buf, sizeof(buf)), 7);
	assert_memory_equal(buf, "request", 7);
	assert_int_equal(bufferevent_get_enabled(p.bev) & EV_WRITE, 0);
	pair_close(&p);
}

static void
test_write_through_full_socket_hands_over_and_back(void **state)
{
	static char	out[1 << 20], in[1 << 20];
	struct pair	p;
	size_t		i, got = 0;

	(void)state;
	for (i = 0; i < sizeof(out); i++)
		out[i] = (char)(i * 7 + i / 251);
	pair_open(&p, 4096);
	proxy_upstream_write_through(p.bev);
	bufferevent_write(p.bev, out, sizeof(out));
	/* The socket took part; libevent has the rest, write interest on. */
	assert_true(evbuffer_get_length(bufferevent_get_output(p.bev)) > 0);
	assert_int_equal(bufferevent_get_enabled(p.bev) & EV_WRITE, EV_WRITE);
	while (got < sizeof(in)) {
		got += peer_read(&p, in + got, sizeof(in) - got);
		event_base_loop(p.base, EVLOOP_NONBLOCK);
	}
	assert_memory_equal(in, out, sizeof(out));
	/* Caught up: back to writing at once. */
	assert_int_equal(evbuffer_get_length(bufferevent_get_output(p.bev)),
	    0);
	assert_int_equal(bufferevent_get_enabled(p.bev) & EV_WRITE, 0);
	bufferevent_write(p.bev, "next", 4);
	assert_int_equal(peer_read(&p, in, sizeof(in)), 4);
	assert_memory_equal(in, "next", 4);
	pair_close(&p);
}

static void
test_bev_watermark_sets_only_what_changes(void **state)
{
	struct pair	p;
	size_t		lo, hi;

	(void)state;
	pair_open(&p, 0);
	proxy_conn_bev_watermark(p.bev, EV_READ | EV_WRITE, 0, 100);
	assert_int_equal(bufferevent_getwatermark(p.bev, EV_READ, &lo, &hi),
	    0);
	assert_int_equal(lo, 0);
	assert_int_equal(hi, 100);
	assert_int_equal(bufferevent_getwatermark(p.bev, EV_WRITE, &lo,
	    &hi), 0);
	assert_int_equal(hi, 100);
	proxy_conn_bev_watermark(p.bev, EV_WRITE, 5, 0);
	assert_int_equal(bufferevent_getwatermark(p.bev, EV_WRITE, &lo,
	    &hi), 0);
	assert_int_equal(lo, 5);
	assert_int_equal(hi, 0);
	assert_int_equal(bufferevent_getwatermark(p.bev, EV_READ, &lo, &hi),
	    0);
	assert_int_equal(hi, 100);
	pair_close(&p);
}

static void
test_bev_enable_enables_what_is_off(void **state)
{
	struct pair	p;

	(void)state;
	pair_open(&p, 0);
	bufferevent_disable(p.bev, EV_READ | EV_WRITE);
	proxy_conn_bev_enable(p.bev, EV_READ);
	assert_int_equal(bufferevent_get_enabled(p.bev), EV_READ);
	proxy_conn_bev_enable(p.bev, EV_READ);
	assert_int_equal(bufferevent_get_enabled(p.bev), EV_READ);
	proxy_conn_bev_enable(p.bev, EV_READ | EV_WRITE);
	assert_int_equal(bufferevent_get_enabled(p.bev), EV_READ | EV_WRITE);
	pair_close(&p);
}

/* Run base's loop for about ms milliseconds. */
static void
loop_for(struct event_base *base, int ms)
{
	struct timeval	tv = { ms / 1000, (ms % 1000) * 1000 };

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

static void
test_pool_parked_connection_expires_and_closes(void **state)
{
	struct upstream_pool	*pool;
	struct pair		 p;
	char			 c;

	(void)state;
	pair_open(&p, 0);
	pool = proxy_upstream_pool_new(p.base, 1);
	proxy_upstream_pool_set_idle_ms(pool, 100);
	proxy_upstream_pool_put(pool, 0, p.bev, NULL);
	assert_int_equal(proxy_upstream_pool_idle(pool, 0), 1);
	loop_for(p.base, 30);
	assert_int_equal(proxy_upstream_pool_idle(pool, 0), 1);
	loop_for(p.base, 250);
	assert_int_equal(proxy_upstream_pool_idle(pool, 0), 0);
	/* Freed, so closed: the server sees the end. */
	assert_int_equal(read(p.peer, &c, 1), 0);
	proxy_upstream_pool_free(pool);
	close(p.peer);
	event_base_free(p.base);
}

static void
test_pool_gives_back_the_newest_and_drops_a_talker(void **state)
{
	struct upstream_pool	*pool;
	struct pair		 a, b;
	struct bufferevent	*got;
	void			*ssl;
	char			 c;

	(void)state;
	pair_open(&a, 0);
	pair_open_on(&b, a.base, 0);
	pool = proxy_upstream_pool_new(a.base, 1);
	proxy_upstream_pool_put(pool, 0, a.bev, NULL);
	proxy_upstream_pool_put(pool, 0, b.bev, NULL);
	assert_int_equal(proxy_upstream_pool_idle(pool, 0), 2);
	got = proxy_upstream_pool_get(pool, 0, &ssl);
	assert_ptr_equal(got, b.bev);
	assert_null(ssl);
	assert_int_equal(proxy_upstream_pool_idle(pool, 0), 1);
	/* An idle server that talks out of turn loses its place. */
	assert_int_equal(write(a.peer, "x", 1), 1);
	loop_for(a.base, 50);
	assert_int_equal(proxy_upstream_pool_idle(pool, 0), 0);
	assert_null(proxy_upstream_pool_get(pool, 0, &ssl));
	assert_int_equal(read(a.peer, &c, 1), 0);
	bufferevent_free(got);
	proxy_upstream_pool_free(pool);
	close(a.peer);
	close(b.peer);
	event_base_free(a.base);
}

/*
 * Entries are kept for the next park (no allocation per request): a
 * connection parked again and again in the same entry is still watched
 * (its server's close drops it), a read high mark is lifted while it is
 * parked (or it would not see the close), its write marks stay for the
 * next exchange, and the pool frees what it kept (ASan: no leak).
 */
static void
test_pool_reuses_entries_and_still_watches_parked(void **state)
{
	struct upstream_pool	*pool;
	struct pair		 a, b;
	struct bufferevent	*got;
	void			*ssl;
	size_t			 lo, hi;
	char			 c;
	int			 i;

	(void)state;
	pair_open(&a, 0);
	pair_open_on(&b, a.base, 0);
	pool = proxy_upstream_pool_new(a.base, 2);
	for (i = 0; i < 5; i++) {
		proxy_conn_bev_watermark(a.bev, EV_READ, 0, 10);
		proxy_conn_bev_watermark(a.bev, EV_WRITE, 7, 0);
		proxy_upstream_pool_put(pool, 1, a.bev, NULL);
		assert_int_equal(proxy_upstream_pool_idle(pool, 1), 1);
		assert_int_equal(bufferevent_getwatermark(a.bev, EV_READ, &lo,
		    &hi), 0);
		assert_int_equal(hi, 0);
		assert_int_equal(bufferevent_getwatermark(a.bev, EV_WRITE,
		    &lo, &hi), 0);
		assert_int_equal(lo, 7);
		got = proxy_upstream_pool_get(pool, 1, &ssl);
		assert_ptr_equal(got, a.bev);
		assert_int_equal(proxy_upstream_pool_idle(pool, 1), 0);
	}
	proxy_upstream_pool_put(pool, 1, a.bev, NULL);
	proxy_upstream_pool_put(pool, 0, b.bev, NULL);
	assert_int_equal(proxy_upstream_pool_idle(pool, 0), 1);
	assert_int_equal(proxy_upstream_pool_idle(pool, 1), 1);
	/* The server of the twice-used entry closes: that one goes. */
	shutdown(a.peer, SHUT_WR);
	loop_for(a.base, 50);
	assert_int_equal(proxy_upstream_pool_idle(pool, 1), 0);
	assert_int_equal(proxy_upstream_pool_idle(pool, 0), 1);
	assert_int_equal(read(a.peer, &c, 1), 0);
	assert_null(proxy_upstream_pool_get(pool, 1, &ssl));
	proxy_upstream_pool_free(pool);	/* frees b.bev and the spares */
	loop_for(a.base, 10);		/* libevent closes on its turn */
	assert_int_equal(read(b.peer, &c, 1), 0);
	close(a.peer);
	close(b.peer);
	event_base_free(a.base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_through_writes_without_a_loop_turn),
		cmocka_unit_test(
		    test_write_through_full_socket_hands_over_and_back),
		cmocka_unit_test(test_bev_watermark_sets_only_what_changes),
		cmocka_unit_test(test_bev_enable_enables_what_is_off),
		cmocka_unit_test(
		    test_pool_parked_connection_expires_and_closes),
		cmocka_unit_test(
		    test_pool_gives_back_the_newest_and_drops_a_talker),
		cmocka_unit_test(
		    test_pool_reuses_entries_and_still_watches_parked),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
