/*
 * notifyfloor: the least one seccomp user notification costs on this
 * machine, whoever answers it.  A benchmark helper, not a test: the
 * physical limit for issue 14's metadata goal (every fchmod, utimensat
 * and fsetxattr of the child goes to the supervisor), as the splice relay
 * is for tunnels.
 *
 *   notifyfloor MODE N FILE
 *
 * A child makes N fchmod(FILE) calls and times them from inside; the
 * parent answers its notifications in the least work each MODE allows:
 *   none     no filter: the call itself
 *   filter   a filter that allows every call: the BPF's share
 *   poll     notification; the answerer waits in poll(2), then RECV and
 *            answers CONTINUE (an event loop's wake-up)
 *   recv     notification; the answerer blocks in SECCOMP_IOCTL_NOTIF_RECV
 *            and answers CONTINUE
 *   sync     as recv, with SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (Linux 6.6):
 *            the kernel switches child -> answerer -> child on one CPU
 *   act      as sync, and the answerer acts on the child's behalf, as
 *            keyhole must to be race-free: pidfd_getfd, fchmod, close
 *
 * Prints "MODE N <ns per call>".
 *
 *   notifyfloor connect MODE N PORT THREADS ANSWERERS
 *
 * The connect variant (issue 16's connect_mediated goal): a child of
 * THREADS threads makes N connects in all (socket, blocking connect to
 * 127.0.0.1:PORT, close with an RST, as bench/connloop.c does), answered
 * by ANSWERERS threads of the parent, each blocked in NOTIF_RECV with
 * synchronous wake-ups on, in the least work a race-free mediator can
 * do: the address read once (process_vm_readv) and ID_VALID after it,
 * the socket taken (pidfd_getfd; pidfds kept per thread id), made
 * non-blocking for the call and restored (F_GETFL, F_SETFL x2), connect,
 * a second connect for the outcome, our duplicate closed, the answer.  No
 * decision, no lock, no audit.  MODE none: no filter at all; continue:
 * answered SECCOMP_USER_NOTIF_FLAG_CONTINUE at once (not race-free, the
 * child connects itself: the notification's round trip alone).  Prints
 * "connect MODE N THREADS ANSWERERS <connects/s> <cpu us per connect>"
 * (CPU: user+system of child and answerers together).
 */
#define _GNU_SOURCE	/* process_vm_readv */
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS	SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP	1UL
#endif
#if defined(__x86_64__)
#define ARCH	AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define ARCH	AUDIT_ARCH_AARCH64
#else
#error "notifyfloor: unknown architecture"
#endif

static double
now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* Install the filter; the listener's descriptor, or -1 for "filter". */
static int
install(int notify, int nr)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		    offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		    offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, notify ? SECCOMP_RET_USER_NOTIF :
		    SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };
	long	fd;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		err(1, "PR_SET_NO_NEW_PRIVS");
	fd = syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER,
	    notify ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0, &prog);
	if (fd == -1)
		err(1, "seccomp");
	return notify ? (int)fd : -1;
}

static void
send_fd(int sock, int fd)
{
	char		 byte = 0, cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec	 iov = { &byte, 1 };
	struct msghdr	 m = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr	*c = CMSG_FIRSTHDR(&m);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	if (sendmsg(sock, &m, 0) != 1)
		err(1, "sendmsg");
}

/*
 * fork() with a socket pair between the two: the parent keeps sv[0], the
 * child sv[1].
 */
static pid_t
fork_paired(int sv[2])
{
	pid_t	pid;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		err(1, "socketpair");
	if ((pid = fork()) == -1)
		err(1, "fork");
	close(sv[pid == 0 ? 0 : 1]);
	return pid;
}

/* User + system seconds of RUSAGE_SELF or RUSAGE_CHILDREN. */
static double
cpu_seconds(int who)
{
	struct rusage	ru;

	if (getrusage(who, &ru) == -1)
		err(1, "getrusage");
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
	    ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
}

static int
recv_fd(int sock)
{
	char		 byte, cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec	 iov = { &byte, 1 };
	struct msghdr	 m = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr	*c;
	int		 fd;

	if (recvmsg(sock, &m, 0) != 1 || (c = CMSG_FIRSTHDR(&m)) == NULL)
		errx(1, "no listener from the child");
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

/*
 * The child's start: the filter for nr (when filter; notify: trapping it,
 * else allowing it), its listener handed to the answerer over sock, then
 * the answerer's go.
 */
static void
filter_then_go(int sock, int filter, int notify, int nr)
{
	int	lfd = -1;
	char	go;

	if (filter)
		lfd = install(notify, nr);
	if (lfd != -1) {
		send_fd(sock, lfd);
		close(lfd);
	}
	if (read(sock, &go, 1) != 1)
		errx(1, "no go from the answerer");
}

/* The child: filter, hand the listener over, wait for go, time N calls. */
static void
child(const char *mode, long n, const char *file, int sock)
{
	int	fd;
	double	t0;
	long	i;

	if ((fd = open(file, O_RDONLY)) == -1)
		err(1, "%s", file);
	filter_then_go(sock, strcmp(mode, "none") != 0,
	    strcmp(mode, "filter") != 0, __NR_fchmod);
	t0 = now_ns();
	for (i = 0; i < n; i++)
		if (fchmod(fd, (i & 1) ? 0644 : 0640) == -1)
			err(1, "fchmod");
	printf("%s %ld %.0f\n", mode, n, (now_ns() - t0) / n);
	fflush(stdout);
	_exit(0);
}

/* Answer one notification the way mode says. */
static void
answer(const char *mode, int lfd, int pidfd, struct seccomp_notif *req,
    struct seccomp_notif_resp *resp)
{
	struct pollfd	pfd = { lfd, POLLIN, 0 };
	int		fd;

	if (strcmp(mode, "poll") == 0 && poll(&pfd, 1, -1) != 1)
		err(1, "poll");
	memset(req, 0, sizeof(*req));
	while (ioctl(lfd, SECCOMP_IOCTL_NOTIF_RECV, req) == -1)
		if (errno != EINTR)
			err(1, "SECCOMP_IOCTL_NOTIF_RECV");
	memset(resp, 0, sizeof(*resp));
	resp->id = req->id;
	if (strcmp(mode, "act") == 0) {
		fd = (int)syscall(__NR_pidfd_getfd, pidfd,
		    (int)req->data.args[0], 0);
		if (fd == -1 || fchmod(fd, (mode_t)req->data.args[1]) == -1)
			resp->error = -errno;
		if (fd != -1)
			close(fd);
	} else
		resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
	if (ioctl(lfd, SECCOMP_IOCTL_NOTIF_SEND, resp) == -1)
		err(1, "SECCOMP_IOCTL_NOTIF_SEND");
}

/* ---- the connect variant ---- */

static uint16_t	 c_port;
static long	 c_n;

static void *
c_work(void *arg)
{
	struct sockaddr_in	sin;
	struct linger		lg = { 1, 0 };
	long			i, n = (long)(intptr_t)arg;
	int			fd;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(c_port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (i = 0; i < n; i++) {
		if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
			err(1, "socket");
		if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) == -1)
			err(1, "SO_LINGER");
		while (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
			if (errno != EINTR)
				err(1, "connect");
		close(fd);
	}
	return NULL;
}

/* The child: filter (unless none), hand the listener over, connect. */
static void
c_child(int filter, int threads, int sock)
{
	pthread_t	t[256];
	double		t0, wall;
	int		i;

	filter_then_go(sock, filter, 1, __NR_connect);
	t0 = now_ns();
	for (i = 0; i < threads; i++)
		if (pthread_create(&t[i], NULL, c_work, (void *)(intptr_t)
		    (c_n / threads + (i < c_n % threads))) != 0)
			errx(1, "pthread_create");
	for (i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	wall = now_ns() - t0;
	if (write(sock, &wall, sizeof(wall)) != sizeof(wall))
		err(1, "write");
	_exit(0);
}

static int	c_lfd;
static int	c_continue;	/* mode continue */

/* An answerer: the least a race-free mediated connect does. */
static void *
c_answer(void *arg)
{
	static __thread struct {
		pid_t	tid;
		int	fd;
	}				 pidfds[64];
	struct seccomp_notif		 req;
	struct seccomp_notif_resp	 resp;
	struct sockaddr_storage		 ss;
	struct iovec			 l, r;
	uint64_t			 id;
	int				 fd, fl, rc, e, slot;
	socklen_t			 len;

	(void)arg;
	for (;;) {
		memset(&req, 0, sizeof(req));
		if (ioctl(c_lfd, SECCOMP_IOCTL_NOTIF_RECV, &req) == -1) {
			if (errno == EINTR)
				continue;
			return NULL;	/* ENOENT/hung up: the child is gone */
		}
		memset(&resp, 0, sizeof(resp));
		resp.id = id = req.id;
		if (c_continue) {
			/* Not race-free: the round trip alone, for scale. */
			resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
			goto send;
		}
		len = (socklen_t)req.data.args[2];
		if (len > sizeof(ss))
			len = sizeof(ss);
		l.iov_base = &ss;
		l.iov_len = len;
		r.iov_base = (void *)(uintptr_t)req.data.args[1];
		r.iov_len = len;
		if (process_vm_readv(req.pid, &l, 1, &r, 1, 0) != (ssize_t)len) {
			resp.error = -EFAULT;
			goto send;
		}
		if (ioctl(c_lfd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == -1)
			continue;
		slot = (int)(req.pid % 64);
		if (pidfds[slot].tid != (pid_t)req.pid) {
			if (pidfds[slot].tid != 0)
				close(pidfds[slot].fd);
			pidfds[slot].tid = (pid_t)req.pid;
			pidfds[slot].fd = (int)syscall(__NR_pidfd_open, req.pid,
			    O_EXCL /* PIDFD_THREAD */);
			if (pidfds[slot].fd == -1)
				err(1, "pidfd_open");
		}
		fd = (int)syscall(__NR_pidfd_getfd, pidfds[slot].fd,
		    (int)req.data.args[0], 0);
		if (fd == -1) {
			resp.error = -errno;
			goto send;
		}
		fl = fcntl(fd, F_GETFL);
		(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
		rc = connect(fd, (struct sockaddr *)&ss, len);
		e = rc == 0 ? 0 : errno;
		if (e == EINPROGRESS) {
			rc = connect(fd, (struct sockaddr *)&ss, len);
			e = rc == 0 || errno == EISCONN ? 0 : errno;
		}
		if (e == EALREADY || e == EINPROGRESS) {
			/* Rare on loopback (a dropped SYN): wait, as keyhole
			 * does on its loop. */
			struct pollfd	pfd = { fd, POLLOUT, 0 };
			socklen_t	sl = sizeof(e);

			if (poll(&pfd, 1, 10000) != 1 || getsockopt(fd,
			    SOL_SOCKET, SO_ERROR, &e, &sl) == -1)
				e = ETIMEDOUT;
		}
		(void)fcntl(fd, F_SETFL, fl);
		close(fd);
		resp.error = -e;
send:
		if (ioctl(c_lfd, SECCOMP_IOCTL_NOTIF_SEND, &resp) == -1 &&
		    errno != ENOENT)
			err(1, "SECCOMP_IOCTL_NOTIF_SEND");
	}
}

static int
c_main(int argc, char **argv)
{
	pthread_t	 t[16];
	const char	*mode;
	double		 wall, cpu;
	int		 sv[2], threads, answerers, filter, st, i;
	pid_t		 pid;

	if (argc != 7)
		errx(2, "usage: notifyfloor connect none|continue|act N PORT "
		    "THREADS "
		    "ANSWERERS");
	mode = argv[2];
	c_n = atol(argv[3]);
	c_port = (uint16_t)atoi(argv[4]);
	threads = atoi(argv[5]);
	answerers = atoi(argv[6]);
	if (c_n <= 0 || threads < 1 || threads > 256 || answerers < 1 ||
	    answerers > 16)
		errx(2, "bad numbers");
	c_continue = strcmp(mode, "continue") == 0;
	filter = strcmp(mode, "act") == 0 || c_continue;
	if ((pid = fork_paired(sv)) == 0)
		c_child(filter, threads, sv[1]);
	if (filter) {
		c_lfd = recv_fd(sv[0]);
		if (ioctl(c_lfd, SECCOMP_IOCTL_NOTIF_SET_FLAGS,
		    SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP) == -1)
			err(1, "SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP");
		for (i = 0; i < answerers; i++)
			if (pthread_create(&t[i], NULL, c_answer, NULL) != 0)
				errx(1, "pthread_create");
	}
	if (write(sv[0], "g", 1) != 1)
		err(1, "go");
	if (read(sv[0], &wall, sizeof(wall)) != sizeof(wall))
		errx(1, "the child failed");
	if (waitpid(pid, &st, 0) == -1 || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0)
		errx(1, "the child failed");
	/* The answerers leave once RECV says the child is gone. */
	if (filter) {
		close(c_lfd);
		for (i = 0; i < answerers; i++)
			pthread_cancel(t[i]);
		for (i = 0; i < answerers; i++)
			pthread_join(t[i], NULL);
	}
	cpu = cpu_seconds(RUSAGE_SELF) + cpu_seconds(RUSAGE_CHILDREN);
	printf("connect %s %ld %d %d %.0f %.2f\n", mode, c_n, threads,
	    answerers, (double)c_n / (wall / 1e9), cpu * 1e6 / (double)c_n);
	return 0;
}

int
main(int argc, char **argv)
{
	struct seccomp_notif		req;
	struct seccomp_notif_resp	resp;
	const char			*mode;
	int				 sv[2], lfd = -1, pidfd = -1, st;
	long				 n, i;
	pid_t				 pid;

	if (argc >= 2 && strcmp(argv[1], "connect") == 0)
		return c_main(argc, argv);
	if (argc != 4 || (n = atol(argv[2])) <= 0)
		errx(2, "usage: notifyfloor none|filter|poll|recv|sync|act N "
		    "FILE");
	mode = argv[1];
	if ((pid = fork_paired(sv)) == 0)
		child(mode, n, argv[3], sv[1]);
	if (strcmp(mode, "none") != 0 && strcmp(mode, "filter") != 0) {
		lfd = recv_fd(sv[0]);
		if ((strcmp(mode, "sync") == 0 || strcmp(mode, "act") == 0) &&
		    ioctl(lfd, SECCOMP_IOCTL_NOTIF_SET_FLAGS,
		    SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP) == -1)
			err(1, "SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP");
		if ((pidfd = (int)syscall(__NR_pidfd_open, pid, 0)) == -1)
			err(1, "pidfd_open");
	}
	if (write(sv[0], "g", 1) != 1)
		err(1, "go");
	for (i = 0; lfd != -1 && i < n; i++)
		answer(mode, lfd, pidfd, &req, &resp);
	if (waitpid(pid, &st, 0) == -1 || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0)
		errx(1, "the child failed");
	return 0;
}
