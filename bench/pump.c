/*
 * pump: the data pump for bench/connect_throughput.  Not part of keyhole.
 *
 *   pump server PORTFILE
 *	Listen on 127.0.0.1, kernel-chosen port, written to PORTFILE once
 *	listening.  One thread per connection.  A connection starts with a
 *	9-byte header: op ('U', 'D' or 'H') and a big-endian 64-bit size.
 *	  U  read SIZE bytes, then answer one byte 'K'   (upload sink)
 *	  D  write SIZE bytes, then wait for EOF        (download source)
 *	  H  echo everything until EOF                  (idle tunnel holder)
 *	A second listener, its port on PORTFILE's second line, speaks first
 *	(as SSH, SMTP or MySQL servers do): it sends one byte 'G' on accept,
 *	then serves the connection the same way.
 *
 *   pump up|down|sfup|sfdown SIZE HOST PORT [PROXYHOST:PROXYPORT TARGET [AUTH]]
 *	Connect (through an HTTP CONNECT proxy to TARGET when given, with
 *	"Proxy-Authorization: AUTH" when AUTH is given), move SIZE bytes and
 *	print "<bytes> <seconds>" for the data phase only (tunnel set-up is
 *	not timed).  up ends when the server has acknowledged the last byte.
 *	sfup and sfdown first read the server-first listener's 'G'.
 *
 *   pump hold N HOST PORT [PROXYHOST:PROXYPORT TARGET [AUTH]]
 *	Open N connections (tunnels), check each with an echoed byte, print
 *	"ready N", then hold them until stdin reaches EOF.
 *
 *   pump relay PORTFILE
 *	The minimal splice relay the proxies are measured against: an HTTP
 *	CONNECT proxy (TARGET an IPv4 literal:port, no authentication)
 *	that, once connected, runs one thread per direction doing blocking
 *	splice(2) socket -> pipe (default size) -> socket, and nothing else.
 */
#define _GNU_SOURCE
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BUFSZ	(256 * 1024)

static void
die(const char *what)
{
	fprintf(stderr, "pump: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void
dief(const char *what)
{
	fprintf(stderr, "pump: %s\n", what);
	exit(1);
}

static int
readn(int fd, void *buf, size_t n)
{
	char *p = buf;

	while (n > 0) {
		ssize_t r = recv(fd, p, n, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int
writen(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * The pump's own small writes (header, ping) must not wait for an ACK
 * (Nagle + delayed ACK is 40 ms on Linux), or that would be measured.
 */
static void
nodelay(int fd)
{
	int one = 1;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* ---- server ---- */

static void *
serve(void *arg)
{
	int fd = (int)((intptr_t)arg >> 1), greet = (int)((intptr_t)arg & 1);
	unsigned char hdr[9];
	uint64_t size = 0;
	char *buf;
	int i;

	nodelay(fd);
	if (greet && writen(fd, "G", 1) == -1) {
		close(fd);
		return NULL;
	}
	buf = malloc(BUFSZ);
	if (buf == NULL || readn(fd, hdr, sizeof(hdr)) == -1)
		goto out;
	for (i = 1; i < 9; i++)
		size = size << 8 | hdr[i];
	if (hdr[0] == 'U') {
		while (size > 0) {
			ssize_t r = recv(fd, buf,
			    size < BUFSZ ? size : BUFSZ, 0);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				goto out;
			size -= (uint64_t)r;
		}
		(void)writen(fd, "K", 1);
		while (recv(fd, buf, BUFSZ, 0) > 0)
			;
	} else if (hdr[0] == 'D') {
		memset(buf, 'd', BUFSZ);
		while (size > 0) {
			size_t n = size < BUFSZ ? size : BUFSZ;
			if (writen(fd, buf, n) == -1)
				goto out;
			size -= n;
		}
		while (recv(fd, buf, BUFSZ, 0) > 0)
			;
	} else if (hdr[0] == 'H') {
		ssize_t r;
		while ((r = recv(fd, buf, 4096, 0)) > 0)
			if (writen(fd, buf, (size_t)r) == -1)
				break;
	}
out:
	free(buf);
	close(fd);
	return NULL;
}

struct listener {
	int	lfd;
	int	greet;
};

static void *
accept_loop(void *arg)
{
	struct listener *l = arg;
	pthread_attr_t attr;

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	for (;;) {
		pthread_t t;
		int fd = accept(l->lfd, NULL, NULL);
		if (fd == -1) {
			if (errno == EINTR || errno == ECONNABORTED ||
			    errno == EMFILE || errno == ENFILE)
				continue;
			die("accept");
		}
		if (pthread_create(&t, &attr, serve,
		    (void *)((intptr_t)fd << 1 | l->greet)) != 0) {
			close(fd);
			continue;
		}
	}
	return NULL;
}

static int
listen_any(void)
{
	struct sockaddr_in sin;
	int lfd, one = 1;

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd == -1)
		die("socket");
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		die("bind");
	if (listen(lfd, 4096) == -1)
		die("listen");
	return lfd;
}

static unsigned
port_of(int lfd)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	if (getsockname(lfd, (struct sockaddr *)&sin, &len) == -1)
		die("getsockname");
	return ntohs(sin.sin_port);
}

static int
cmd_server(const char *portfile)
{
	static struct listener plain, first;
	pthread_t t;
	FILE *f;

	plain.lfd = listen_any();
	first.lfd = listen_any();
	first.greet = 1;
	f = fopen(portfile, "w");
	if (f == NULL)
		die(portfile);
	fprintf(f, "%u\n%u\n", port_of(plain.lfd), port_of(first.lfd));
	fclose(f);
	if (pthread_create(&t, NULL, accept_loop, &first) != 0)
		dief("pthread_create");
	accept_loop(&plain);
	return 0;
}

/* ---- client ---- */

struct target {
	const char	*host;		/* where to connect (IPv4 literal) */
	int		 port;
	const char	*proxy;		/* "host:port" or NULL */
	const char	*connect_to;	/* CONNECT target */
	const char	*auth;		/* Proxy-Authorization value or NULL */
};

static int
tcp_connect(const char *host, int port)
{
	struct sockaddr_in sin;
	int fd;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
		dief("host must be an IPv4 literal");
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd == -1)
		die("socket");
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		die("connect");
	nodelay(fd);
	return fd;
}

/* Open a connection to t, through CONNECT when t->proxy is set. */
static int
open_target(const struct target *t)
{
	char req[1024], resp[4096], phost[256], *colon;
	size_t got = 0;
	int fd, n;

	if (t->proxy == NULL)
		return tcp_connect(t->host, t->port);

	snprintf(phost, sizeof(phost), "%s", t->proxy);
	colon = strrchr(phost, ':');
	if (colon == NULL)
		dief("proxy must be HOST:PORT");
	*colon = '\0';
	fd = tcp_connect(phost, atoi(colon + 1));
	if (t->auth != NULL)
		n = snprintf(req, sizeof(req),
		    "CONNECT %s HTTP/1.1\r\nHost: %s\r\n"
		    "Proxy-Authorization: %s\r\n\r\n",
		    t->connect_to, t->connect_to, t->auth);
	else
		n = snprintf(req, sizeof(req),
		    "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n",
		    t->connect_to, t->connect_to);
	if (writen(fd, req, (size_t)n) == -1)
		die("send CONNECT");
	/* Read byte by byte so no tunnel byte is swallowed. */
	while (got < sizeof(resp) - 1) {
		if (readn(fd, resp + got, 1) == -1) {
			resp[got] = '\0';
			fprintf(stderr, "pump: proxy closed during CONNECT "
			    "answer: %s\n", resp);
			exit(1);
		}
		got++;
		if (got >= 4 && memcmp(resp + got - 4, "\r\n\r\n", 4) == 0)
			break;
	}
	resp[got] = '\0';
	if (strncmp(resp, "HTTP/1.1 200", 12) != 0 &&
	    strncmp(resp, "HTTP/1.0 200", 12) != 0) {
		fprintf(stderr, "pump: CONNECT %s via %s refused: %s\n",
		    t->connect_to, t->proxy, resp);
		exit(1);
	}
	return fd;
}

static void
send_header(int fd, char op, uint64_t size)
{
	unsigned char hdr[9];
	int i;

	hdr[0] = (unsigned char)op;
	for (i = 8; i >= 1; i--) {
		hdr[i] = size & 0xff;
		size >>= 8;
	}
	if (writen(fd, hdr, sizeof(hdr)) == -1)
		die("send header");
}

static int
cmd_transfer(int up, int greeted, uint64_t size, const struct target *t)
{
	char *buf = malloc(BUFSZ);
	uint64_t left = size;
	double t0, t1;
	char ack;
	int fd;

	if (buf == NULL)
		die("malloc");
	memset(buf, 'u', BUFSZ);
	fd = open_target(t);
	if (greeted && (readn(fd, &ack, 1) == -1 || ack != 'G'))
		dief("no greeting from the server-first listener");
	t0 = now();
	send_header(fd, up ? 'U' : 'D', size);
	if (up) {
		while (left > 0) {
			size_t n = left < BUFSZ ? left : BUFSZ;
			if (writen(fd, buf, n) == -1)
				die("send data");
			left -= n;
		}
		if (readn(fd, &ack, 1) == -1 || ack != 'K')
			dief("no acknowledgement from the sink");
	} else {
		while (left > 0) {
			ssize_t r = recv(fd, buf,
			    left < BUFSZ ? left : BUFSZ, 0);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				dief("download ended early");
			left -= (uint64_t)r;
		}
	}
	t1 = now();
	close(fd);
	free(buf);
	printf("%llu %.6f\n", (unsigned long long)size, t1 - t0);
	return 0;
}

static int
cmd_hold(int n, const struct target *t)
{
	struct rlimit rl;
	int *fds, i;
	char c;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur < (rlim_t)n + 64) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	fds = calloc((size_t)n, sizeof(*fds));
	if (fds == NULL)
		die("calloc");
	for (i = 0; i < n; i++) {
		fds[i] = open_target(t);
		send_header(fds[i], 'H', 0);
		if (writen(fds[i], "p", 1) == -1 ||
		    readn(fds[i], &c, 1) == -1 || c != 'p') {
			fprintf(stderr, "pump: tunnel %d did not echo\n", i);
			exit(1);
		}
	}
	printf("ready %d\n", n);
	fflush(stdout);
	while (read(0, &c, 1) > 0)
		;
	for (i = 0; i < n; i++)
		close(fds[i]);
	return 0;
}

/* ---- the minimal splice relay ---- */

struct relay_dir {
	int	from, to;
};

static void *
relay_copy(void *arg)
{
	struct relay_dir *d = arg;
	int p[2];
	ssize_t n, w;

	if (pipe(p) == -1)
		return NULL;
	for (;;) {
		n = splice(d->from, NULL, p[1], NULL, 1 << 20, SPLICE_F_MOVE);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		while (n > 0) {
			w = splice(p[0], NULL, d->to, NULL, (size_t)n,
			    SPLICE_F_MOVE);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				goto out;
			n -= w;
		}
	}
out:
	shutdown(d->to, SHUT_WR);
	close(p[0]);
	close(p[1]);
	return NULL;
}

static void *
relay_conn(void *arg)
{
	int cfd = (int)(intptr_t)arg, ufd = -1;
	char req[4096], host[64];
	static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
	struct relay_dir up, down;
	size_t got = 0;
	pthread_t t;
	int port;

	nodelay(cfd);
	while (got < sizeof(req) - 1) {
		if (readn(cfd, req + got, 1) == -1)
			goto out;
		got++;
		if (got >= 4 && memcmp(req + got - 4, "\r\n\r\n", 4) == 0)
			break;
	}
	req[got] = '\0';
	if (sscanf(req, "CONNECT %63[0-9.]:%d ", host, &port) != 2)
		goto out;
	ufd = tcp_connect(host, port);
	if (writen(cfd, ok, sizeof(ok) - 1) == -1)
		goto out;
	up.from = cfd;
	up.to = ufd;
	down.from = ufd;
	down.to = cfd;
	if (pthread_create(&t, NULL, relay_copy, &up) != 0)
		goto out;
	relay_copy(&down);
	pthread_join(t, NULL);
out:
	if (ufd != -1)
		close(ufd);
	close(cfd);
	return NULL;
}

static int
cmd_relay(const char *portfile)
{
	pthread_attr_t attr;
	int lfd = listen_any();
	FILE *f;

	f = fopen(portfile, "w");
	if (f == NULL)
		die(portfile);
	fprintf(f, "%u\n", port_of(lfd));
	fclose(f);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	for (;;) {
		pthread_t t;
		int fd = accept(lfd, NULL, NULL);
		if (fd == -1) {
			if (errno == EINTR || errno == ECONNABORTED ||
			    errno == EMFILE || errno == ENFILE)
				continue;
			die("accept");
		}
		if (pthread_create(&t, &attr, relay_conn,
		    (void *)(intptr_t)fd) != 0)
			close(fd);
	}
	return 0;
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: pump server PORTFILE\n"
	    "       pump up|down|sfup|sfdown SIZE HOST PORT [PROXY TARGET "
	    "[AUTH]]\n"
	    "       pump hold N HOST PORT [PROXY TARGET [AUTH]]\n"
	    "       pump relay PORTFILE\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	struct target t;

	signal(SIGPIPE, SIG_IGN);
	if (argc == 3 && strcmp(argv[1], "server") == 0)
		return cmd_server(argv[2]);
	if (argc == 3 && strcmp(argv[1], "relay") == 0)
		return cmd_relay(argv[2]);
	if (argc < 5 || argc > 8 || argc == 6)
		usage();
	memset(&t, 0, sizeof(t));
	t.host = argv[3];
	t.port = atoi(argv[4]);
	if (argc >= 7) {
		t.proxy = argv[5];
		t.connect_to = argv[6];
	}
	if (argc == 8)
		t.auth = argv[7];
	if (strcmp(argv[1], "up") == 0 || strcmp(argv[1], "down") == 0)
		return cmd_transfer(argv[1][0] == 'u', 0,
		    strtoull(argv[2], NULL, 10), &t);
	if (strcmp(argv[1], "sfup") == 0 || strcmp(argv[1], "sfdown") == 0)
		return cmd_transfer(argv[1][2] == 'u', 1,
		    strtoull(argv[2], NULL, 10), &t);
	if (strcmp(argv[1], "hold") == 0)
		return cmd_hold(atoi(argv[2]), &t);
	usage();
	return 2;
}
