/*
 * mconnect: connect() the way the connect-mediator tests need, inside the
 * sandbox, and report.  Exit 0 on success, else the errno after printing
 * "errno=N (NAME)" (STYLE §10); 99 when the mediator was fooled.
 *
 *   mconnect connect HOST PORT          blocking connect, "ok peer=A:P"
 *   mconnect send HOST PORT DATA        connect, write DATA (\r \n
 *                                       escapes), print what comes back
 *   mconnect nonblock HOST PORT         "connect=EINPROGRESS|0", then
 *                                       wait writable, "so_error=N"
 *   mconnect race GOOD BAD PORT SECS    one thread rewrites the sockaddr
 *                                       between GOOD and BAD while another
 *                                       connects; 99 if BAD is reached
 *   mconnect many HOST PORT N           N threads connect at once
 *   mconnect unix PATH                  AF_UNIX stream connect
 *   mconnect unixat DIR PATH            chdir(DIR) first: PATH relative
 *                                       to a cwd the supervisor's isn't
 *   mconnect abstract NAME              AF_UNIX abstract connect
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int
fail_errno(int err)
{
	const char	*name = strerrorname_np(err);

	printf("errno=%d (%s)\n", err, name != NULL ? name : "?");
	fflush(stdout);
	return err != 0 ? err : 255;
}

static int
usage(void)
{
	fprintf(stderr, "usage: mconnect connect|send|nonblock|race|many|"
	    "unix|unixat|abstract ARGS...\n");
	return 254;
}

static long
num(const char *s)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s) {
		fprintf(stderr, "mconnect: bad number %s\n", s);
		exit(254);
	}
	return v;
}

static socklen_t
addr(const char *host, long port, struct sockaddr_storage *ss)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		return sizeof(*sin);
	}
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		return sizeof(*sin6);
	}
	fprintf(stderr, "mconnect: bad address %s\n", host);
	exit(254);
}

static void
print_peer(int fd)
{
	struct sockaddr_storage	ss;
	socklen_t		sl = sizeof(ss);
	char			buf[INET6_ADDRSTRLEN] = "?";
	int			port = 0;

	if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET) {
			inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->
			    sin_addr, buf, sizeof(buf));
			port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		} else if (ss.ss_family == AF_INET6) {
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->
			    sin6_addr, buf, sizeof(buf));
			port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
		}
	}
	printf("ok peer=%s:%d\n", buf, port);
	fflush(stdout);
}

static int
do_connect(const char *host, long port, int *out)
{
	struct sockaddr_storage	ss;
	socklen_t		len = addr(host, port, &ss);
	int			fd;

	fd = socket(ss.ss_family, SOCK_STREAM, 0);
	if (fd == -1)
		return errno;
	if (connect(fd, (struct sockaddr *)&ss, len) == -1) {
		int err = errno;
		close(fd);
		return err;
	}
	*out = fd;
	return 0;
}

static int
op_connect(const char *host, long port)
{
	int	fd, err;

	if ((err = do_connect(host, port, &fd)) != 0)
		return fail_errno(err);
	print_peer(fd);
	close(fd);
	return 0;
}

/* DATA with \r and \n escapes turned into bytes. */
static size_t
unescape(const char *s, char *out)
{
	size_t	n = 0;

	for (; *s != '\0'; s++) {
		if (s[0] == '\\' && s[1] == 'r') {
			out[n++] = '\r';
			s++;
		} else if (s[0] == '\\' && s[1] == 'n') {
			out[n++] = '\n';
			s++;
		} else
			out[n++] = *s;
	}
	return n;
}

static int
op_send(const char *host, long port, const char *data)
{
	struct pollfd	pfd;
	char		buf[4096], *req;
	size_t		n;
	ssize_t		r;
	int		fd, err;

	if ((err = do_connect(host, port, &fd)) != 0)
		return fail_errno(err);
	req = malloc(strlen(data) + 1);
	n = unescape(data, req);
	if (write(fd, req, n) != (ssize_t)n)
		return fail_errno(errno);
	free(req);
	pfd.fd = fd;
	pfd.events = POLLIN;
	/* Enough for one response head; the proxy keeps the conn open. */
	while (poll(&pfd, 1, 2000) == 1) {
		r = read(fd, buf, sizeof(buf));
		if (r <= 0)
			break;
		fwrite(buf, 1, (size_t)r, stdout);
		if (memmem(buf, (size_t)r, "\r\n\r\n", 4) != NULL)
			break;
	}
	fflush(stdout);
	close(fd);
	return 0;
}

static int
op_nonblock(const char *host, long port)
{
	struct sockaddr_storage	ss;
	struct pollfd		pfd;
	socklen_t		len = addr(host, port, &ss), sl = sizeof(int);
	int			fd, rc, soerr = 0;

	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (fd == -1)
		return fail_errno(errno);
	rc = connect(fd, (struct sockaddr *)&ss, len);
	if (rc == -1 && errno != EINPROGRESS)
		return fail_errno(errno);
	printf("connect=%s\n", rc == 0 ? "0" : "EINPROGRESS");
	pfd.fd = fd;
	pfd.events = POLLOUT;
	if (poll(&pfd, 1, 5000) != 1)
		return fail_errno(ETIMEDOUT);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == -1)
		return fail_errno(errno);
	printf("so_error=%d\n", soerr);
	if (soerr != 0)
		return fail_errno(soerr);
	print_peer(fd);
	close(fd);
	return 0;
}

/* The race: a shared sockaddr flipped by one thread, used by another. */
static struct sockaddr_in	race_sa;
static struct in_addr		race_good, race_bad;
static atomic_int		race_stop;

static void *
race_flipper(void *arg)
{
	volatile struct in_addr	*a = &race_sa.sin_addr;

	(void)arg;
	while (!atomic_load(&race_stop)) {
		a->s_addr = race_good.s_addr;
		a->s_addr = race_bad.s_addr;
	}
	return NULL;
}

static int
op_race(const char *good, const char *bad, long port, long secs)
{
	struct sockaddr_in	 peer;
	struct timespec		 t0, t;
	pthread_t		 th;
	socklen_t		 sl;
	unsigned long		 ok = 0, denied = 0, other = 0;
	int			 fd;

	memset(&race_sa, 0, sizeof(race_sa));
	race_sa.sin_family = AF_INET;
	race_sa.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, good, &race_good) != 1 ||
	    inet_pton(AF_INET, bad, &race_bad) != 1)
		return usage();
	race_sa.sin_addr = race_good;
	if (pthread_create(&th, NULL, race_flipper, NULL) != 0)
		return fail_errno(EAGAIN);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd == -1)
			return fail_errno(errno);
		if (connect(fd, (struct sockaddr *)&race_sa,
		    sizeof(race_sa)) == 0) {
			sl = sizeof(peer);
			if (getpeername(fd, (struct sockaddr *)&peer,
			    &sl) == 0 &&
			    peer.sin_addr.s_addr == race_bad.s_addr) {
				printf("REACHED %s\n", bad);
				fflush(stdout);
				atomic_store(&race_stop, 1);
				pthread_join(th, NULL);
				return 99;
			}
			ok++;
		} else if (errno == EACCES)
			denied++;
		else
			other++;
		close(fd);
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while (t.tv_sec - t0.tv_sec < secs);
	atomic_store(&race_stop, 1);
	pthread_join(th, NULL);
	printf("ok=%lu denied=%lu other=%lu\n", ok, denied, other);
	fflush(stdout);
	return 0;
}

struct many_arg {
	const char	*host;
	long		 port;
	int		 err;
};

static void *
many_one(void *arg)
{
	struct many_arg	*a = arg;
	int		 fd;

	a->err = do_connect(a->host, a->port, &fd);
	if (a->err == 0)
		close(fd);
	return NULL;
}

static int
op_many(const char *host, long port, long n)
{
	struct many_arg	*args;
	pthread_t	*th;
	long		 i, ok = 0, bad = 0, firsterr = 0;

	if (n <= 0 || n > 4096)
		return usage();
	args = calloc((size_t)n, sizeof(*args));
	th = calloc((size_t)n, sizeof(*th));
	for (i = 0; i < n; i++) {
		args[i].host = host;
		args[i].port = port;
		if (pthread_create(&th[i], NULL, many_one, &args[i]) != 0)
			return fail_errno(EAGAIN);
	}
	for (i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		if (args[i].err == 0)
			ok++;
		else {
			bad++;
			if (firsterr == 0)
				firsterr = args[i].err;
		}
	}
	printf("ok=%ld failed=%ld\n", ok, bad);
	fflush(stdout);
	free(args);
	free(th);
	return bad == 0 ? 0 : fail_errno((int)firsterr);
}

static int
op_unix(const char *path, int abstract)
{
	struct sockaddr_un	sun;
	socklen_t		len;
	size_t			n = strlen(path);
	int			fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (n + 2 > sizeof(sun.sun_path))
		return usage();
	memcpy(sun.sun_path + (abstract ? 1 : 0), path, n);
	/* Path: name and its NUL; abstract: the leading NUL and name. */
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd == -1)
		return fail_errno(errno);
	if (connect(fd, (struct sockaddr *)&sun, len) == -1)
		return fail_errno(errno);
	printf("ok\n");
	fflush(stdout);
	close(fd);
	return 0;
}

int
main(int argc, char *argv[])
{
	if (argc < 2)
		return usage();
	if (strcmp(argv[1], "connect") == 0 && argc == 4)
		return op_connect(argv[2], num(argv[3]));
	if (strcmp(argv[1], "send") == 0 && argc == 5)
		return op_send(argv[2], num(argv[3]), argv[4]);
	if (strcmp(argv[1], "nonblock") == 0 && argc == 4)
		return op_nonblock(argv[2], num(argv[3]));
	if (strcmp(argv[1], "race") == 0 && argc == 6)
		return op_race(argv[2], argv[3], num(argv[4]), num(argv[5]));
	if (strcmp(argv[1], "many") == 0 && argc == 5)
		return op_many(argv[2], num(argv[3]), num(argv[4]));
	if (strcmp(argv[1], "unix") == 0 && argc == 3)
		return op_unix(argv[2], 0);
	if (strcmp(argv[1], "unixat") == 0 && argc == 4) {
		if (chdir(argv[2]) == -1)
			return fail_errno(errno);
		return op_unix(argv[3], 0);
	}
	if (strcmp(argv[1], "abstract") == 0 && argc == 3)
		return op_unix(argv[2], 1);
	return usage();
}
