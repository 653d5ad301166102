/*
 * unixloop: unix-socket calls in a loop, timed from inside, for
 * bench/syscall_overhead (the calls the mediator now traps: bind, connect,
 * sendto with an address, sendmsg).  A benchmark helper, not a test.
 *
 *   unixloop stream N DIR    N x (socket, bind DIR/s.N, listen, socket,
 *                            connect, accept, close x3, unlink)
 *   unixloop dgram N DIR     N x sendto() between two sockets bound in DIR
 *   unixloop sendmsg N       N x sendmsg() of 64 bytes on a socketpair
 *   unixloop send N          N x send() (not trapped: the control)
 *
 * Prints "<what> N <ns per iteration>".
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static socklen_t
addr(struct sockaddr_un *sun, const char *dir, const char *name, long i)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	snprintf(sun->sun_path, sizeof(sun->sun_path), "%s/%s.%ld", dir,
	    name, i);
	return sizeof(*sun);
}

static void
stream(long n, const char *dir)
{
	struct sockaddr_un	sun;
	socklen_t		len;
	long			i;
	int			s, c, a;

	for (i = 0; i < n; i++) {
		len = addr(&sun, dir, "s", i);
		if ((s = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
		    bind(s, (struct sockaddr *)&sun, len) == -1 ||
		    listen(s, 4) == -1)
			err(1, "server %s", sun.sun_path);
		if ((c = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
		    connect(c, (struct sockaddr *)&sun, len) == -1)
			err(1, "connect %s", sun.sun_path);
		if ((a = accept(s, NULL, NULL)) == -1)
			err(1, "accept");
		close(a);
		close(c);
		close(s);
		unlink(sun.sun_path);
	}
}

static void
dgram(long n, const char *dir)
{
	struct sockaddr_un	ra, wa;
	socklen_t		rl, wl;
	char			buf[64];
	long			i;
	int			r, w;

	rl = addr(&ra, dir, "r", 0);
	wl = addr(&wa, dir, "w", 0);
	unlink(ra.sun_path);
	unlink(wa.sun_path);
	if ((r = socket(AF_UNIX, SOCK_DGRAM, 0)) == -1 ||
	    bind(r, (struct sockaddr *)&ra, rl) == -1 ||
	    (w = socket(AF_UNIX, SOCK_DGRAM, 0)) == -1 ||
	    bind(w, (struct sockaddr *)&wa, wl) == -1)
		err(1, "dgram sockets in %s", dir);
	memset(buf, 'x', sizeof(buf));
	for (i = 0; i < n; i++) {
		if (sendto(w, buf, sizeof(buf), 0, (struct sockaddr *)&ra,
		    rl) != sizeof(buf))
			err(1, "sendto");
		if (recv(r, buf, sizeof(buf), 0) != sizeof(buf))
			err(1, "recv");
	}
	unlink(ra.sun_path);
	unlink(wa.sun_path);
}

static void
pair(long n, int use_msg)
{
	struct msghdr	msg;
	struct iovec	iov;
	char		buf[64];
	long		i;
	int		sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		err(1, "socketpair");
	memset(buf, 'x', sizeof(buf));
	memset(&msg, 0, sizeof(msg));
	iov.iov_base = buf;
	iov.iov_len = sizeof(buf);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	for (i = 0; i < n; i++) {
		if ((use_msg ? sendmsg(sv[0], &msg, 0) :
		    send(sv[0], buf, sizeof(buf), 0)) != sizeof(buf))
			err(1, "send");
		if (recv(sv[1], buf, sizeof(buf), 0) != sizeof(buf))
			err(1, "recv");
	}
}

int
main(int argc, char **argv)
{
	double	t0;
	long	n;

	if (argc < 3)
		errx(2, "usage: unixloop stream|dgram N DIR | sendmsg|send N");
	n = strtol(argv[2], NULL, 10);
	t0 = now();
	if (strcmp(argv[1], "stream") == 0 && argc == 4)
		stream(n, argv[3]);
	else if (strcmp(argv[1], "dgram") == 0 && argc == 4)
		dgram(n, argv[3]);
	else if (strcmp(argv[1], "sendmsg") == 0)
		pair(n, 1);
	else if (strcmp(argv[1], "send") == 0)
		pair(n, 0);
	else
		errx(2, "unknown workload %s", argv[1]);
	printf("%s %ld %.0f\n", argv[1], n, (now() - t0) / (double)n);
	return 0;
}
