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
 */
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
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
install(int notify)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		    offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		    offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_fchmod, 0, 1),
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

/* The child: filter, hand the listener over, wait for go, time N calls. */
static void
child(const char *mode, long n, const char *file, int sock)
{
	int	notify = strcmp(mode, "filter") != 0, lfd = -1, fd;
	char	go;
	double	t0;
	long	i;

	if ((fd = open(file, O_RDONLY)) == -1)
		err(1, "%s", file);
	if (strcmp(mode, "none") != 0)
		lfd = install(notify);
	if (lfd != -1) {
		send_fd(sock, lfd);
		close(lfd);
	}
	if (read(sock, &go, 1) != 1)
		errx(1, "no go from the answerer");
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

int
main(int argc, char **argv)
{
	struct seccomp_notif		req;
	struct seccomp_notif_resp	resp;
	const char			*mode;
	int				 sv[2], lfd = -1, pidfd = -1, st;
	long				 n, i;
	pid_t				 pid;

	if (argc != 4 || (n = atol(argv[2])) <= 0)
		errx(2, "usage: notifyfloor none|filter|poll|recv|sync|act N "
		    "FILE");
	mode = argv[1];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		err(1, "socketpair");
	if ((pid = fork()) == -1)
		err(1, "fork");
	if (pid == 0) {
		close(sv[0]);
		child(mode, n, argv[3], sv[1]);
	}
	close(sv[1]);
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
