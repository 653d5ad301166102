/*
 * bench/icptload: a small HTTPS load client for bench/intercept_rate.
 * Each of CONNS threads holds one connection (blocking OpenSSL), made
 * either straight to HOST:PORT (nginx terminating TLS) or through an HTTP
 * proxy with CONNECT (keyhole intercepting), and sends GET requests one
 * after the other until the time is up.  NEWCONN=1: a new connection
 * (TCP, CONNECT, full TLS handshake, no resumption) for every request.
 *
 *   icptload HOST PORT SNI CAFILE CONNS SECONDS NEWCONN AUTH \
 *       [PROXYPORT PROXYTOKEN]
 *
 * Prints "requests N rps X p50_us A p99_us B errors E".
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#define LAT_MAX	(1 << 20)

static const char	*host, *sni, *auth, *ptoken;
static int		 port, pport, newconn;
static double		 deadline;
static SSL_CTX		*ctx;

struct worker {
	pthread_t	 t;
	long		 n, err;
	unsigned	*lat;	/* microseconds */
	long		 nlat, cap;	/* cap: room in lat */
};

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
tcp(int p)
{
	struct sockaddr_in	sa = { .sin_family = AF_INET };
	int			fd, one = 1;

	sa.sin_port = htons((uint16_t)p);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* CONNECT through the proxy; 0 when it answered 200. */
static int
proxy_connect(int fd)
{
	char		 req[1024], buf[4096], cred[256], *p;
	unsigned char	 b64[400];
	size_t		 got = 0;
	ssize_t		 n;

	snprintf(cred, sizeof(cred), "keyhole:%s", ptoken);
	EVP_EncodeBlock(b64, (unsigned char *)cred, (int)strlen(cred));
	n = snprintf(req, sizeof(req), "CONNECT %s:%d HTTP/1.1\r\nHost: "
	    "%s:%d\r\nProxy-Authorization: Basic %s\r\n\r\n", sni, port, sni,
	    port, b64);
	if (write(fd, req, (size_t)n) != n)
		return -1;
	/*
	 * Read as a client library does, not a byte at a time: nothing
	 * follows the proxy's answer before our ClientHello, so a read ends
	 * at its blank line (a byte-wise read cost this client ~40 system
	 * calls per connection, CPU that nginx's runs did not pay).
	 */
	while (got < sizeof(buf) - 1) {
		if ((n = read(fd, buf + got, sizeof(buf) - 1 - got)) <= 0)
			return -1;
		got += (size_t)n;
		buf[got] = '\0';
		if (strstr(buf, "\r\n\r\n") != NULL)
			break;
	}
	p = strstr(buf, "\r\n\r\n");
	if (p == NULL || p + 4 != buf + got)	/* bytes after it: not TLS */
		return -1;
	return strncmp(buf, "HTTP/1.1 200", 12) == 0 ? 0 : -1;
}

static SSL *
open_conn(void)
{
	SSL	*ssl;
	int	 fd;

	if ((fd = tcp(pport ? pport : port)) == -1)
		return NULL;
	if (pport && proxy_connect(fd) == -1) {
		close(fd);
		return NULL;
	}
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	SSL_set_tlsext_host_name(ssl, sni);
	SSL_set1_host(ssl, sni);
	if (SSL_connect(ssl) != 1) {
		SSL_free(ssl);
		close(fd);
		return NULL;
	}
	return ssl;
}

static void
close_conn(SSL *ssl)
{
	int	fd = SSL_get_fd(ssl);

	SSL_free(ssl);
	close(fd);
}

/* One request and its response (Content-Length); 0 on success. */
static int
exchange(SSL *ssl, const char *req, size_t reqlen)
{
	char	 buf[16384], *p, *cl;
	int	 n, got = 0, need = -1;

	if (SSL_write(ssl, req, (int)reqlen) != (int)reqlen)
		return -1;
	for (;;) {
		if ((n = SSL_read(ssl, buf + got, (int)sizeof(buf) - 1 - got))
		    <= 0)
			return -1;
		got += n;
		buf[got] = '\0';
		if (need == -1 && (p = strstr(buf, "\r\n\r\n")) != NULL) {
			if (strncmp(buf, "HTTP/1.1 200", 12) != 0)
				return -1;
			cl = strcasestr(buf, "content-length:");
			need = (int)(p + 4 - buf) + (cl ? atoi(cl + 15) : 0);
		}
		if (need != -1 && got >= need)
			return 0;
		if (got >= (int)sizeof(buf) - 1)
			return -1;
	}
}

static void *
run(void *arg)
{
	struct worker	*w = arg;
	char		 req[1024];
	size_t		 reqlen;
	SSL		*ssl = NULL;
	double		 t0;

	reqlen = (size_t)snprintf(req, sizeof(req), "GET /bench HTTP/1.1\r\n"
	    "Host: %s:%d\r\nAuthorization: %s\r\n\r\n", sni, port, auth);
	while (now() < deadline) {
		t0 = now();
		if (ssl == NULL && (ssl = open_conn()) == NULL) {
			w->err++;
			usleep(1000);
			continue;
		}
		if (exchange(ssl, req, reqlen) == -1) {
			w->err++;
			close_conn(ssl);
			ssl = NULL;
			continue;
		}
		w->n++;
		if (w->nlat < w->cap)
			w->lat[w->nlat++] = (unsigned)((now() - t0) * 1e6);
		if (newconn) {
			close_conn(ssl);
			ssl = NULL;
		}
	}
	if (ssl != NULL)
		close_conn(ssl);
	return NULL;
}

static int
cmp(const void *a, const void *b)
{
	unsigned	x = *(const unsigned *)a, y = *(const unsigned *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	struct worker	*w;
	unsigned	*all;
	long		 n = 0, err = 0, nl = 0, i, j;
	int		 conns;
	double		 secs, t0;

	if (argc != 9 && argc != 11) {
		fprintf(stderr, "usage: icptload HOST PORT SNI CAFILE CONNS "
		    "SECONDS NEWCONN AUTH [PROXYPORT TOKEN]\n");
		return 2;
	}
	host = argv[1];
	port = atoi(argv[2]);
	sni = argv[3];
	conns = atoi(argv[5]);
	secs = atof(argv[6]);
	newconn = atoi(argv[7]);
	auth = argv[8];
	if (argc == 11) {
		pport = atoi(argv[9]);
		ptoken = argv[10];
	}
	(void)host;
	/*
	 * A write to a connection the server closed is an error to count,
	 * not a SIGPIPE that kills the client before it prints anything
	 * (the bench then said only "keyhole: ''").
	 */
	signal(SIGPIPE, SIG_IGN);
	ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	if (SSL_CTX_load_verify_locations(ctx, argv[4], NULL) != 1) {
		fprintf(stderr, "icptload: cannot load %s\n", argv[4]);
		return 2;
	}
	w = calloc((size_t)conns, sizeof(*w));
	t0 = now();
	deadline = t0 + secs;
	for (i = 0; i < conns; i++) {
		w[i].cap = LAT_MAX / conns;
		w[i].lat = malloc(sizeof(unsigned) * (size_t)w[i].cap);
		pthread_create(&w[i].t, NULL, run, &w[i]);
	}
	for (i = 0; i < conns; i++) {
		pthread_join(w[i].t, NULL);
		n += w[i].n;
		err += w[i].err;
		nl += w[i].nlat;
	}
	secs = now() - t0;
	all = malloc(sizeof(unsigned) * (size_t)(nl + 1));
	for (i = 0, nl = 0; i < conns; i++)
		for (j = 0; j < w[i].nlat; j++)
			all[nl++] = w[i].lat[j];
	qsort(all, (size_t)nl, sizeof(*all), cmp);
	printf("requests %ld rps %.0f p50_us %u p99_us %u errors %ld\n", n,
	    n / secs, nl ? all[nl / 2] : 0, nl ? all[nl * 99 / 100] : 0, err);
	return 0;
}
