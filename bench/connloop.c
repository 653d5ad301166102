/*
 * connloop: the connect loop for bench/connect_mediated.  Not part of
 * keyhole.
 *
 *   connloop server PORTFILE [THREADS]
 *	Listen on 127.0.0.1, kernel-chosen port, written to PORTFILE once
 *	listening.  THREADS (2) threads accept and close at once, until
 *	killed.
 *
 *   connloop client PORT N [THREADS]
 *	THREADS (1) threads share N connections to 127.0.0.1:PORT; each
 *	connection is socket(), a blocking connect(), close().  The client
 *	aborts its end (SO_LINGER 0, an RST), so no TIME_WAIT is left and
 *	the ephemeral ports never run out.  Each connect() call is timed
 *	with CLOCK_MONOTONIC.  Prints one line:
 *	  <N> <wall seconds> <connects/s> <median us> <p99 us> <max us> <cpu s>
 *	connects/s is N over the wall time of the whole loop (socket,
 *	connect and close; threads included); the microseconds are of the
 *	connect() call alone; cpu s is the client's own CPU time (user and
 *	system, all its threads), so a sandbox's share is the rest.
 */
#define _GNU_SOURCE
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void
die(const char *what)
{
	fprintf(stderr, "connloop: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void
dief(const char *what)
{
	fprintf(stderr, "connloop: %s\n", what);
	exit(1);
}

static long
num(const char *s, long lo, long hi)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *s == '\0' || *end != '\0' || v < lo || v > hi)
		dief("bad number");
	return v;
}

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- server ---- */

static void *
acceptor(void *arg)
{
	int	lfd = *(int *)arg, fd;

	for (;;) {
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EINTR || errno == ECONNABORTED ||
			    errno == EMFILE || errno == ENFILE)
				continue;
			die("accept");
		}
		close(fd);
	}
	return NULL;
}

static int
server(const char *portfile, int nthreads)
{
	struct sockaddr_in	 sin;
	socklen_t		 sl = sizeof(sin);
	pthread_t		 t;
	FILE			*f;
	int			 lfd, one = 1, i;

	if ((lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		die("socket");
	(void)setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		die("bind");
	if (listen(lfd, 4096) == -1)
		die("listen");
	if (getsockname(lfd, (struct sockaddr *)&sin, &sl) == -1)
		die("getsockname");
	if ((f = fopen(portfile, "w")) == NULL)
		die(portfile);
	fprintf(f, "%u\n", ntohs(sin.sin_port));
	if (fclose(f) != 0)
		die(portfile);
	for (i = 1; i < nthreads; i++)
		if (pthread_create(&t, NULL, acceptor, &lfd) != 0)
			dief("pthread_create");
	acceptor(&lfd);
	return 0;
}

/* ---- client ---- */

struct worker {
	pthread_t	 t;
	uint16_t	 port;
	long		 n;
	double		*lat;		/* n connect() times, seconds */
};

static void *
work(void *arg)
{
	struct worker		*w = arg;
	struct sockaddr_in	 sin;
	struct linger		 lg = { 1, 0 };
	double			 t0;
	long			 i;
	int			 fd, rc;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(w->port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (i = 0; i < w->n; i++) {
		if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC,
		    0)) == -1)
			die("socket");
		if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg,
		    sizeof(lg)) == -1)
			die("SO_LINGER");
		t0 = now();
		do
			rc = connect(fd, (struct sockaddr *)&sin, sizeof(sin));
		while (rc == -1 && errno == EINTR);
		w->lat[i] = now() - t0;
		if (rc == -1)
			die("connect");
		close(fd);
	}
	return NULL;
}

static int
cmp(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int
client(uint16_t port, long n, int nthreads)
{
	struct worker	*w;
	struct rusage	 ru;
	double		*lat, t0, wall, cpu;
	long		 per, off = 0, k;
	int		 i;

	if ((lat = calloc((size_t)n, sizeof(*lat))) == NULL ||
	    (w = calloc((size_t)nthreads, sizeof(*w))) == NULL)
		dief("out of memory");
	per = n / nthreads;
	for (i = 0; i < nthreads; i++) {
		w[i].port = port;
		w[i].n = per + (i < n % nthreads ? 1 : 0);
		w[i].lat = lat + off;
		off += w[i].n;
	}
	t0 = now();
	if (nthreads == 1)
		work(&w[0]);
	else {
		for (i = 0; i < nthreads; i++)
			if (pthread_create(&w[i].t, NULL, work, &w[i]) != 0)
				dief("pthread_create");
		for (i = 0; i < nthreads; i++)
			pthread_join(w[i].t, NULL);
	}
	wall = now() - t0;
	if (getrusage(RUSAGE_SELF, &ru) == -1)
		die("getrusage");
	cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
	    ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
	qsort(lat, (size_t)n, sizeof(*lat), cmp);
	k = (long)((double)n * 0.99);
	if (k >= n)
		k = n - 1;
	printf("%ld %.6f %.1f %.2f %.2f %.2f %.4f\n", n, wall,
	    (double)n / wall,
	    (n % 2 ? lat[n / 2] : (lat[n / 2 - 1] + lat[n / 2]) / 2) * 1e6,
	    lat[k] * 1e6, lat[n - 1] * 1e6, cpu);
	free(lat);
	free(w);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc >= 3 && argc <= 4 && strcmp(argv[1], "server") == 0)
		return server(argv[2],
		    argc == 4 ? (int)num(argv[3], 1, 64) : 2);
	if (argc >= 4 && argc <= 5 && strcmp(argv[1], "client") == 0)
		return client((uint16_t)num(argv[2], 1, 65535),
		    num(argv[3], 1, 100000000),
		    argc == 5 ? (int)num(argv[4], 1, 256) : 1);
	fprintf(stderr, "usage: connloop server PORTFILE [THREADS]\n"
	    "       connloop client PORT N [THREADS]\n");
	return 2;
}
