/*
 * The supervisor's DNS answerer and its namespace helper (dnsd.h).
 *
 * Two halves.  The helper (dnsd_helper) is a forked process that lives in
 * the private network namespace: it brings lo up, puts the nameserver
 * addresses on it, binds our port-53 sockets, hands them to the
 * supervisor, then makes sockets on request, one at a time, and sends
 * them back (SCM_RIGHTS over a SOCK_SEQPACKET pair).  A fork rather than
 * setns() in the supervisor: an ordinary user can enter a user namespace
 * but never come back out of it.  The answerer runs on the supervisor's
 * event loop on the sockets the helper made: every datagram and every TCP
 * message is parsed by util/dnsmsg.c and answered from the lookup
 * callback (the mediator's direct grants), never forwarded anywhere.
 */
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>

#include "sandbox/dnsd.h"
#include "util/dnsmsg.h"
#include "util/log.h"
#include "util/xmalloc.h"

#ifndef SIOCGSKNS
#define SIOCGSKNS	0x894C
#endif
/* Not in Debian 12's headers; this number on these architectures only. */
#if !defined(SO_NETNS_COOKIE) && (defined(__x86_64__) || \
    defined(__aarch64__))
#define SO_NETNS_COOKIE	71
#endif

#define DNSD_PORT	53

enum dnsd_op {
	DNSD_OP_SOCKET = 1,
	DNSD_OP_TCP
};

struct dnsd_req {
	int			 op;
	int			 family;
	int			 type;
	int			 count;		/* DNSD_OP_SOCKET: how many */
	struct sockaddr_storage	 addr;
};

struct dnsd_rep {
	int			 err;		/* 0 or an errno */
	int			 nfds;
	char			 why[160];	/* setup failure */
};

/* Where an answer goes: a UDP client, or a TCP connection. */
struct dnsd_query {
	struct dnsd		*d;		/* borrowed */
	const struct dnsmsg_query *q;		/* borrowed */
	int			 fd;		/* UDP: our bound socket */
	struct sockaddr_storage	 from;		/* UDP: the client */
	socklen_t		 fromlen;
	struct dnsd_tcp		*c;		/* TCP, or NULL */
};

struct dnsd_wait {
	struct dnsd		*d;		/* borrowed */
	struct dnsd_wait	*next;		/* d's list */
	struct dnsmsg_query	 q;		/* our copy */
	int			 fd;
	struct sockaddr_storage	 from;
	socklen_t		 fromlen;
	struct dnsd_tcp		*c;		/* NULL: UDP, or closed */
	bool			 tcp;
};

struct dnsd_tcp {
	struct dnsd		*d;		/* borrowed */
	int			 fd;		/* owned */
	struct event		*ev;		/* owned */
	uint8_t			 buf[2 + DNSMSG_MAX];
	size_t			 len;
};

struct dnsd {
	struct event_base	*base;		/* borrowed */
	dnsd_lookup_fn		*fn;
	void			*arg;
	pid_t			 pid;		/* the helper */
	int			 sp;		/* owned: to the helper */
	dev_t			 ns_dev;	/* our namespace */
	ino_t			 ns_ino;
	struct sockaddr_storage	 servers[DNSD_MAX_SERVERS];
	size_t			 nservers;
	int			 udp[DNSD_MAX_SERVERS];	/* owned */
	int			 tcp[DNSD_MAX_SERVERS];	/* owned listeners */
	struct event		*ev[2 * DNSD_MAX_SERVERS]; /* owned */
	struct dnsd_tcp		*conns[DNSD_TCP_MAX];	/* owned */
	/* UDP sockets made ahead, [0] inet, [1] inet6, then [1] when
	 * O_NONBLOCK (as glibc asks): one helper round trip per DNSD_POOL
	 * sockets instead of one each, and no flags to set. */
	int			 pool[2][2][DNSD_POOL];	/* owned */
	size_t			 npool[2][2];
	/* The namespace's cookie (SO_NETNS_COOKIE, Linux 5.14): one
	 * getsockopt tells whether a socket lives there. */
	uint64_t		 cookie;
	bool			 have_cookie;
	/* The helper's set-up reply is taken on the loop (or when first
	 * needed): making a network namespace costs milliseconds that the
	 * child's start need not wait for. */
	struct event		*setup_ev;	/* owned or NULL */
	struct dnsd_wait	*waits;		/* owned: deferred answers */
	size_t			 nwaits;
	int			 state;		/* 0: set-up pending, 1: up,
						 * -1: failed */
	bool			 lazy;		/* no helper until needed */
	pthread_mutex_t		*mu;		/* borrowed or NULL: held in
						 * every callback of ours */
};

static bool	dnsd_ready(struct dnsd *);
static void	on_tcp_conn(evutil_socket_t, short, void *);
static void	on_udp(evutil_socket_t, short, void *);
static void	on_tcp_accept(evutil_socket_t, short, void *);
static int	dnsd_start(struct dnsd *, struct errbuf *);

/* ---- resolv.conf ------------------------------------------------------- */

size_t
sandbox_dnsd_servers(const char *text, struct sockaddr_storage *v,
    size_t max)
{
	const char		*p = text, *eol;
	char			 line[256], *tok, *save, *pct;
	size_t			 n = 0, l, i;
	struct sockaddr_storage	 ss;
	bool			 dup;

	while (p != NULL && *p != '\0' && n < max) {
		eol = strchr(p, '\n');
		l = eol != NULL ? (size_t)(eol - p) : strlen(p);
		if (l < sizeof(line)) {
			memcpy(line, p, l);
			line[l] = '\0';
			tok = strtok_r(line, " \t\r", &save);
			if (tok != NULL && strcmp(tok, "nameserver") == 0 &&
			    (tok = strtok_r(NULL, " \t\r", &save)) != NULL) {
				memset(&ss, 0, sizeof(ss));
				/* fe80::1%eth0: link-local, not served. */
				pct = strchr(tok, '%');
				if (pct == NULL && inet_pton(AF_INET, tok,
				    &((struct sockaddr_in *)&ss)->sin_addr) ==
				    1)
					ss.ss_family = AF_INET;
				else if (pct == NULL && inet_pton(AF_INET6, tok,
				    &((struct sockaddr_in6 *)&ss)->sin6_addr) ==
				    1)
					ss.ss_family = AF_INET6;
				for (i = 0, dup = false; i < n; i++)
					if (memcmp(&v[i], &ss, sizeof(ss)) ==
					    0)
						dup = true;
				if (ss.ss_family != 0 && !dup)
					v[n++] = ss;
			}
		}
		p = eol != NULL ? eol + 1 : NULL;
	}
	return n;
}

/* No nameserver line: glibc asks 127.0.0.1, Go and c-ares ::1 too. */
static size_t
dnsd_default_servers(struct sockaddr_storage *v)
{
	memset(v, 0, 2 * sizeof(*v));
	v[0].ss_family = AF_INET;
	((struct sockaddr_in *)&v[0])->sin_addr.s_addr =
	    htonl(INADDR_LOOPBACK);
	v[1].ss_family = AF_INET6;
	((struct sockaddr_in6 *)&v[1])->sin6_addr = in6addr_loopback;
	return 2;
}

static socklen_t
dnsd_salen(const struct sockaddr_storage *a)
{
	return a->ss_family == AF_INET ? sizeof(struct sockaddr_in) :
	    sizeof(struct sockaddr_in6);
}

static void
dnsd_setport(struct sockaddr_storage *a, uint16_t port)
{
	if (a->ss_family == AF_INET)
		((struct sockaddr_in *)a)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)a)->sin6_port = htons(port);
}

/* ---- the helper, inside the namespace ----------------------------------- */

static int
dnsd_send_fds(int sp, const struct dnsd_rep *rep, const int *fds, int n)
{
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*cm;
	union {
		char		buf[CMSG_SPACE(sizeof(int) *
		    (1 + 2 * DNSD_MAX_SERVERS))];
		struct cmsghdr	align;
	} u;

	memset(&msg, 0, sizeof(msg));
	iov.iov_base = (void *)rep;
	iov.iov_len = sizeof(*rep);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (n > 0) {
		memset(&u, 0, sizeof(u));
		msg.msg_control = u.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * (size_t)n);
	}
	return sendmsg(sp, &msg, MSG_NOSIGNAL) == -1 ? -1 : 0;
}

static int
dnsd_write_file(const char *path, const char *text)
{
	int	fd, rc;

	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) == -1)
		return -1;
	rc = write(fd, text, strlen(text)) == (ssize_t)strlen(text) ? 0 : -1;
	close(fd);
	return rc;
}

/* A network namespace of our own: as root directly, else in a userns. */
static int
dnsd_unshare(char *why, size_t whysz)
{
	char	map[64];
	uid_t	uid = getuid();
	gid_t	gid = getgid();

	if (unshare(CLONE_NEWNET) == 0)
		return 0;
	/*
	 * A non-dumpable process's /proc/self files belong to root: its own
	 * uid_map cannot be written.  Dumpable just for that (never as
	 * root, who needs no user namespace), before the child exists (the
	 * helper is forked lazily only as root), then never again.
	 */
	(void)prctl(PR_SET_DUMPABLE, 1);
	if (unshare(CLONE_NEWUSER | CLONE_NEWNET) == -1) {
		(void)prctl(PR_SET_DUMPABLE, 0);
		snprintf(why, whysz, "cannot make a network namespace (%s; "
		    "unprivileged user namespaces are off?)", strerror(errno));
		return -1;
	}
	snprintf(map, sizeof(map), "0 %lu 1\n", (unsigned long)uid);
	if (dnsd_write_file("/proc/self/setgroups", "deny") == -1 ||
	    dnsd_write_file("/proc/self/uid_map", map) == -1)
		goto fail;
	snprintf(map, sizeof(map), "0 %lu 1\n", (unsigned long)gid);
	if (dnsd_write_file("/proc/self/gid_map", map) == -1)
		goto fail;
	(void)prctl(PR_SET_DUMPABLE, 0);
	return 0;
fail:
	(void)prctl(PR_SET_DUMPABLE, 0);
	snprintf(why, whysz, "user namespace maps: %s", strerror(errno));
	return -1;
}

static int
dnsd_lo_up(void)
{
	struct ifreq	 ifr;
	int		 s, rc = -1;

	if ((s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		rc = ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	close(s);
	return rc;
}

/* Put address a on lo (a nameserver outside 127/8 and ::1). */
static int
dnsd_lo_addr(const struct sockaddr_storage *a)
{
	struct {
		struct nlmsghdr		nh;
		struct ifaddrmsg	ifa;
		char			attrs[64];
	} req;
	struct {
		struct nlmsghdr		nh;
		struct nlmsgerr		err;
	} ack;
	struct rtattr		*rta;
	const void		*addr;
	size_t			 alen, i;
	int			 s, rc = -1;

	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(req.ifa));
	req.nh.nlmsg_type = RTM_NEWADDR;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL |
	    NLM_F_ACK;
	req.nh.nlmsg_seq = 1;
	req.ifa.ifa_family = (unsigned char)a->ss_family;
	req.ifa.ifa_index = if_nametoindex("lo");
	req.ifa.ifa_scope = RT_SCOPE_HOST;
	if (a->ss_family == AF_INET) {
		addr = &((const struct sockaddr_in *)a)->sin_addr;
		alen = 4;
		req.ifa.ifa_prefixlen = 32;
	} else {
		addr = &((const struct sockaddr_in6 *)a)->sin6_addr;
		alen = 16;
		req.ifa.ifa_prefixlen = 128;
		req.ifa.ifa_flags = IFA_F_NODAD;
	}
	for (i = 0; i < 2; i++) {
		rta = (struct rtattr *)((char *)&req +
		    NLMSG_ALIGN(req.nh.nlmsg_len));
		rta->rta_type = i == 0 ? IFA_LOCAL : IFA_ADDRESS;
		rta->rta_len = (unsigned short)RTA_LENGTH(alen);
		memcpy(RTA_DATA(rta), addr, alen);
		req.nh.nlmsg_len = NLMSG_ALIGN(req.nh.nlmsg_len) +
		    RTA_ALIGN(rta->rta_len);
	}
	if ((s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC,
	    NETLINK_ROUTE)) == -1)
		return -1;
	if (send(s, &req, req.nh.nlmsg_len, 0) == (ssize_t)req.nh.nlmsg_len &&
	    recv(s, &ack, sizeof(ack), 0) >= (ssize_t)sizeof(ack) &&
	    ack.nh.nlmsg_type == NLMSG_ERROR &&
	    (ack.err.error == 0 || ack.err.error == -EEXIST))
		rc = 0;
	close(s);
	return rc;
}

static bool
dnsd_on_lo(const struct sockaddr_storage *a)
{
	if (a->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)a)->sin_addr.s_addr)
		    >> 24) == 127;
	return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)a)->
	    sin6_addr);
}

static int
dnsd_bound(const struct sockaddr_storage *srv, int type)
{
	struct sockaddr_storage	 a = *srv;
	int			 s, one = 1;

	dnsd_setport(&a, DNSD_PORT);
	if ((s = socket(a.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		return -1;
	(void)setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (a.ss_family == AF_INET6)
		(void)setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &one,
		    sizeof(one));
	if (bind(s, (struct sockaddr *)&a, dnsd_salen(&a)) == -1 ||
	    (type == SOCK_STREAM && listen(s, 64) == -1)) {
		close(s);
		return -1;
	}
	return s;
}

/* One request: a socket made here, sent back. */
static void
dnsd_serve(int sp, const struct dnsd_req *rq)
{
	struct dnsd_rep		 rep;
	struct sockaddr_storage	 a;
	int			 s = -1, fl, v[DNSD_POOL], n = 0;

	memset(&rep, 0, sizeof(rep));
	if (rq->family != AF_INET && rq->family != AF_INET6) {
		rep.err = EAFNOSUPPORT;
		goto out;
	}
	if (rq->op == DNSD_OP_SOCKET) {
		while (n < rq->count && n < DNSD_POOL && (v[n] =
		    socket(rq->family, SOCK_DGRAM | SOCK_CLOEXEC |
		    (rq->type & SOCK_NONBLOCK), 0)) != -1)
			n++;
		rep.err = n == 0 ? errno : 0;
		rep.nfds = n;
		(void)dnsd_send_fds(sp, &rep, v, n);
		while (n > 0)
			close(v[--n]);
		return;
	} else if (rq->op == DNSD_OP_TCP) {
		a = rq->addr;
		if (a.ss_family != rq->family) {
			rep.err = EINVAL;
			goto out;
		}
		dnsd_setport(&a, DNSD_PORT);
		/* Our own listener on lo: connected at once, or refused. */
		s = socket(rq->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (s != -1 && connect(s, (struct sockaddr *)&a,
		    dnsd_salen(&a)) == -1) {
			rep.err = errno;
			close(s);
			s = -1;
			goto out;
		}
		if (s != -1 && (rq->type & SOCK_NONBLOCK) &&
		    (fl = fcntl(s, F_GETFL)) != -1)
			(void)fcntl(s, F_SETFL, fl | O_NONBLOCK);
	} else {
		rep.err = EINVAL;
		goto out;
	}
	if (s == -1)
		rep.err = errno;
out:
	rep.nfds = s != -1 ? 1 : 0;
	(void)dnsd_send_fds(sp, &rep, &s, rep.nfds);
	if (s != -1)
		close(s);
}

static void __attribute__((noreturn))
dnsd_helper(int sp, pid_t parent, const struct sockaddr_storage *srv,
    size_t n)
{
	struct dnsd_rep	 rep;
	struct dnsd_req	 rq;
	sigset_t	 none;
	int		 fds[1 + 2 * DNSD_MAX_SERVERS], nfds = 0, i, sig;
	size_t		 k;
	ssize_t		 r;

	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(0);
	for (sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			(void)signal(sig, SIG_DFL);
	(void)signal(SIGINT, SIG_IGN);
	(void)signal(SIGQUIT, SIG_IGN);
	(void)signal(SIGTSTP, SIG_IGN);
	(void)signal(SIGHUP, SIG_IGN);
	(void)signal(SIGPIPE, SIG_IGN);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	/* Nothing of the supervisor's but the pair. */
	if (sp > 3)
		(void)close_range(3, (unsigned)sp - 1, 0);
	(void)close_range((unsigned)sp + 1, ~0U, 0);
	memset(&rep, 0, sizeof(rep));
	if (dnsd_unshare(rep.why, sizeof(rep.why)) == -1)
		goto fail;
	if (dnsd_lo_up() == -1) {
		snprintf(rep.why, sizeof(rep.why), "cannot bring lo up in "
		    "our network namespace: %s", strerror(errno));
		goto fail;
	}
	if ((fds[nfds] = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)) ==
	    -1) {
		snprintf(rep.why, sizeof(rep.why), "/proc/self/ns/net: %s",
		    strerror(errno));
		goto fail;
	}
	nfds++;
	for (k = 0; k < n; k++) {
		if (!dnsd_on_lo(&srv[k]) && dnsd_lo_addr(&srv[k]) == -1) {
			snprintf(rep.why, sizeof(rep.why), "cannot put "
			    "nameserver %zu on lo: %s", k + 1,
			    strerror(errno));
			goto fail;
		}
		if ((fds[nfds] = dnsd_bound(&srv[k], SOCK_DGRAM)) == -1 ||
		    (fds[nfds + 1] = dnsd_bound(&srv[k], SOCK_STREAM)) == -1) {
			snprintf(rep.why, sizeof(rep.why), "cannot listen on "
			    "nameserver %zu port 53: %s", k + 1,
			    strerror(errno));
			goto fail;
		}
		nfds += 2;
	}
	rep.nfds = nfds;
	if (dnsd_send_fds(sp, &rep, fds, nfds) == -1)
		_exit(1);
	for (i = 0; i < nfds; i++)
		close(fds[i]);
	for (;;) {
		r = recv(sp, &rq, sizeof(rq), 0);
		if (r == -1 && errno == EINTR)
			continue;
		if (r != (ssize_t)sizeof(rq))
			_exit(0);
		dnsd_serve(sp, &rq);
	}
fail:
	rep.err = errno != 0 ? errno : EPERM;
	rep.nfds = 0;
	(void)dnsd_send_fds(sp, &rep, NULL, 0);
	_exit(1);
}

/* ---- talking to the helper ---------------------------------------------- */

/* Wait for the helper's reply: *rep, and its descriptors into fds. */
static int
dnsd_recv(struct dnsd *d, struct dnsd_rep *rep, int *fds, int max)
{
	struct pollfd	 pfd = { .fd = d->sp, .events = POLLIN };
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*cm;
	union {
		char		buf[CMSG_SPACE(sizeof(int) *
		    (1 + 2 * DNSD_MAX_SERVERS))];
		struct cmsghdr	align;
	} u;
	ssize_t		 r;
	int		 n = 0, rc;

	do
		rc = poll(&pfd, 1, DNSD_HELPER_WAIT_MS);
	while (rc == -1 && errno == EINTR);
	if (rc != 1)
		return -ETIMEDOUT;
	memset(&msg, 0, sizeof(msg));
	iov.iov_base = rep;
	iov.iov_len = sizeof(*rep);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = u.buf;
	msg.msg_controllen = sizeof(u.buf);
	r = recvmsg(d->sp, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	if (r != (ssize_t)sizeof(*rep))
		return -EIO;
	for (cm = CMSG_FIRSTHDR(&msg); cm != NULL; cm = CMSG_NXTHDR(&msg, cm)) {
		if (cm->cmsg_level != SOL_SOCKET ||
		    cm->cmsg_type != SCM_RIGHTS)
			continue;
		n = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		if (n > max) {
			/* Never more than asked; close what came. */
			int	*v = (int *)CMSG_DATA(cm), i;

			for (i = 0; i < n; i++)
				close(v[i]);
			return -EIO;
		}
		memcpy(fds, CMSG_DATA(cm), sizeof(int) * (size_t)n);
	}
	if (n != rep->nfds) {
		while (n > 0)
			close(fds[--n]);
		return -EIO;
	}
	return n;
}

/* Ask the helper; up to max descriptors into fds.  Their number, -errno. */
static int
dnsd_call(struct dnsd *d, int op, int family, int type,
    const struct sockaddr_storage *a, int *fds, int max)
{
	struct dnsd_req	 rq;
	struct dnsd_rep	 rep;
	int		 n;

	memset(&rq, 0, sizeof(rq));
	rq.op = op;
	rq.family = family;
	rq.type = type;
	rq.count = max;
	if (a != NULL)
		rq.addr = *a;
	if (send(d->sp, &rq, sizeof(rq), MSG_NOSIGNAL | MSG_DONTWAIT) !=
	    (ssize_t)sizeof(rq))
		return -EAGAIN;
	if ((n = dnsd_recv(d, &rep, fds, max)) < 0)
		return n;
	if (rep.err != 0 || n == 0) {
		while (n > 0)
			close(fds[--n]);
		return rep.err != 0 ? -rep.err : -EIO;
	}
	return n;
}

int
sandbox_dnsd_socket(struct dnsd *d, int family, int type)
{
	size_t	 k = family == AF_INET6 ? 1 : 0;
	size_t	 nb = (type & SOCK_NONBLOCK) ? 1 : 0;
	int	 n;

	if (family != AF_INET && family != AF_INET6)
		return -EAFNOSUPPORT;
	if (!dnsd_ready(d))
		return -ENETDOWN;
	/* A fresh socket of ours: its file flags are the child's to ask. */
	if (d->npool[k][nb] == 0) {
		n = dnsd_call(d, DNSD_OP_SOCKET, family, nb ? SOCK_NONBLOCK : 0,
		    NULL, d->pool[k][nb], DNSD_POOL);
		if (n < 0)
			return n;
		d->npool[k][nb] = (size_t)n;
	}
	return d->pool[k][nb][--d->npool[k][nb]];
}

int
sandbox_dnsd_tcp(struct dnsd *d, const struct sockaddr_storage *a,
    bool nonblock)
{
	int	fd, n;

	if (!dnsd_ready(d))
		return -ENETDOWN;
	n = dnsd_call(d, DNSD_OP_TCP, a->ss_family,
	    nonblock ? SOCK_NONBLOCK : 0, a, &fd, 1);
	return n < 0 ? n : fd;
}

bool
sandbox_dnsd_is_server(const struct dnsd *d, const struct sockaddr_storage *a,
    uint16_t port)
{
	size_t	i;

	if (d == NULL || port != DNSD_PORT)
		return false;
	for (i = 0; i < d->nservers; i++) {
		if (a->ss_family != d->servers[i].ss_family)
			continue;
		if (a->ss_family == AF_INET &&
		    ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		    ((const struct sockaddr_in *)&d->servers[i])->sin_addr.
		    s_addr)
			return true;
		if (a->ss_family == AF_INET6 &&
		    memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		    &((const struct sockaddr_in6 *)&d->servers[i])->sin6_addr,
		    16) == 0)
			return true;
	}
	return false;
}

bool
sandbox_dnsd_settled(const struct dnsd *d)
{
	return d == NULL || d->state != 0;
}

bool
sandbox_dnsd_owns(const struct dnsd *d, int fd)
{
	struct stat	 st;
	int		 ns;
	bool		 ok;

	if (d == NULL || d->state != 1)
		return false;
#ifdef SO_NETNS_COOKIE
	if (d->have_cookie) {
		uint64_t	cookie;
		socklen_t	sl = sizeof(cookie);

		return getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &cookie,
		    &sl) == 0 && sl == sizeof(cookie) && cookie == d->cookie;
	}
#endif
	if ((ns = ioctl(fd, SIOCGSKNS)) == -1)
		return false;
	ok = fstat(ns, &st) == 0 && st.st_dev == d->ns_dev &&
	    st.st_ino == d->ns_ino;
	close(ns);
	return ok;
}

/* ---- the answerer ------------------------------------------------------- */

/* The answer to one message (len bytes) into out; 0: none (or later). */
static size_t
dnsd_answer(struct dnsd_query *dq, const uint8_t *msg, size_t len,
    uint8_t *out, size_t outsz)
{
	struct dnsmsg_query	 q;
	struct sockaddr_storage	 addrs[DNSD_MAX_ADDRS];
	size_t			 n = 0;
	uint32_t		 ttl = 0;
	int			 rc;
	bool			 tcp = dq->c != NULL;

	switch (dnsmsg_parse(msg, len, &q)) {
	case DNSMSG_DROP:
		return 0;
	case DNSMSG_ERROR:
		return dnsmsg_error(&q, q.rcode, out, outsz);
	case DNSMSG_OK:
		break;
	}
	dq->q = &q;
	rc = dq->d->fn(dq->d->arg, q.name_ok ? q.name : "", q.qtype, addrs,
	    DNSD_MAX_ADDRS, &n, &ttl, dq);
	if (rc == DNSD_LATER)
		return 0;
	return dnsmsg_answer(&q, rc == 0 ? DNSMSG_NOERROR :
	    rc == DNSD_NXDOMAIN ? DNSMSG_NXDOMAIN : DNSMSG_SERVFAIL, addrs, n,
	    ttl, dnsmsg_limit(&q, tcp), out, outsz);
}

struct dnsd_wait *
sandbox_dnsd_defer(struct dnsd_query *dq)
{
	struct dnsd		*d = dq->d;
	struct dnsd_wait	*w;

	if (d->nwaits >= DNSD_WAIT_MAX)
		return NULL;
	w = xcalloc(1, sizeof(*w));
	w->d = d;
	w->q = *dq->q;
	w->fd = dq->fd;
	w->from = dq->from;
	w->fromlen = dq->fromlen;
	w->c = dq->c;
	w->tcp = dq->c != NULL;
	w->next = d->waits;
	d->waits = w;
	d->nwaits++;
	return w;
}

static void
dnsd_wait_free(struct dnsd_wait *w)
{
	struct dnsd_wait	**pp;

	for (pp = &w->d->waits; *pp != NULL; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			w->d->nwaits--;
			break;
		}
	free(w);
}

void
sandbox_dnsd_resume(struct dnsd_wait *w, int rc,
    const struct sockaddr_storage *addrs, size_t n, uint32_t ttl)
{
	uint8_t	*out;
	size_t	 len;

	out = xmalloc(2 + DNSMSG_MAX);
	len = dnsmsg_answer(&w->q, rc == 0 ? DNSMSG_NOERROR :
	    rc == DNSD_NXDOMAIN ? DNSMSG_NXDOMAIN : DNSMSG_SERVFAIL, addrs, n,
	    ttl, dnsmsg_limit(&w->q, w->tcp), out + 2, DNSMSG_MAX);
	if (len > 0 && !w->tcp)
		(void)sendto(w->fd, out + 2, len, MSG_DONTWAIT | MSG_NOSIGNAL,
		    (struct sockaddr *)&w->from, w->fromlen);
	else if (len > 0 && w->c != NULL)
		/* Small: a client that does not read is its own loss. */
		(void)send(w->c->fd, out, dnsmsg_tcp_frame(out, len),
		    MSG_DONTWAIT | MSG_NOSIGNAL);
	free(out);
	dnsd_wait_free(w);
}

static void
on_udp_locked(evutil_socket_t fd, short what, void *arg)
{
	struct dnsd		*d = arg;
	struct dnsd_query	 dq;
	struct sockaddr_storage	 from;
	socklen_t		 fl;
	uint8_t			 in[DNSMSG_MAX], out[DNSMSG_EDNS_SIZE];
	ssize_t			 r;
	size_t			 n;
	int			 i;

	(void)what;
	for (i = 0; i < 64; i++) {
		fl = sizeof(from);
		r = recvfrom(fd, in, sizeof(in), MSG_DONTWAIT,
		    (struct sockaddr *)&from, &fl);
		if (r == -1)
			return;
		memset(&dq, 0, sizeof(dq));
		dq.d = d;
		dq.fd = fd;
		dq.from = from;
		dq.fromlen = fl;
		n = dnsd_answer(&dq, in, (size_t)r, out, sizeof(out));
		if (n > 0)
			(void)sendto(fd, out, n, MSG_DONTWAIT | MSG_NOSIGNAL,
			    (struct sockaddr *)&from, fl);
	}
}

static void
dnsd_tcp_close(struct dnsd_tcp *c)
{
	struct dnsd_wait	*w;
	size_t			 i;

	/* Deferred answers for it are dropped when they come. */
	for (w = c->d->waits; w != NULL; w = w->next)
		if (w->c == c)
			w->c = NULL;
	for (i = 0; i < DNSD_TCP_MAX; i++)
		if (c->d->conns[i] == c)
			c->d->conns[i] = NULL;
	event_free(c->ev);
	close(c->fd);
	free(c);
}

static void
on_tcp_conn_locked(evutil_socket_t fd, short what, void *arg)
{
	struct dnsd_tcp	*c = arg;
	struct dnsd_query dq;
	struct timeval	 idle = { DNSD_TCP_IDLE_S, 0 };
	const uint8_t	*msg;
	uint8_t		*out;
	ssize_t		 r;
	size_t		 l, n;

	if (what & EV_TIMEOUT) {
		dnsd_tcp_close(c);
		return;
	}
	r = recv(fd, c->buf + c->len, sizeof(c->buf) - c->len, MSG_DONTWAIT);
	if (r == 0 || (r == -1 && errno != EAGAIN && errno != EINTR)) {
		dnsd_tcp_close(c);
		return;
	}
	if (r > 0)
		c->len += (size_t)r;
	out = xmalloc(2 + DNSMSG_MAX);
	while ((l = dnsmsg_tcp_take(c->buf, c->len, &msg)) != 0) {
		if (l == SIZE_MAX) {
			free(out);
			dnsd_tcp_close(c);
			return;
		}
		memset(&dq, 0, sizeof(dq));
		dq.d = c->d;
		dq.fd = fd;
		dq.c = c;
		n = dnsd_answer(&dq, msg, l, out + 2, DNSMSG_MAX);
		/* Answers are small: a client that does not read is cut. */
		if (n > 0 && send(fd, out, dnsmsg_tcp_frame(out, n),
		    MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)(n + 2)) {
			free(out);
			dnsd_tcp_close(c);
			return;
		}
		memmove(c->buf, c->buf + 2 + l, c->len - 2 - l);
		c->len -= 2 + l;
	}
	free(out);
	(void)event_add(c->ev, &idle);
}

static void
on_tcp_accept_locked(evutil_socket_t fd, short what, void *arg)
{
	struct dnsd	*d = arg;
	struct dnsd_tcp	*c;
	struct timeval	 idle = { DNSD_TCP_IDLE_S, 0 };
	size_t		 i;
	int		 s;

	(void)what;
	if ((s = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1)
		return;
	for (i = 0; i < DNSD_TCP_MAX && d->conns[i] != NULL; i++)
		;
	if (i == DNSD_TCP_MAX) {
		close(s);
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->d = d;
	c->fd = s;
	c->ev = event_new(d->base, s, EV_READ | EV_PERSIST, on_tcp_conn, c);
	if (c->ev == NULL || event_add(c->ev, &idle) == -1) {
		if (c->ev != NULL)
			event_free(c->ev);
		close(s);
		free(c);
		return;
	}
	d->conns[i] = c;
}

/* The loop's callbacks: each with the mediator's lock held (dnsd.h). */
static void
dnsd_locked(struct dnsd *d, event_callback_fn fn, evutil_socket_t fd,
    short what, void *arg)
{
	if (d->mu != NULL)
		(void)pthread_mutex_lock(d->mu);
	fn(fd, what, arg);
	if (d->mu != NULL)
		(void)pthread_mutex_unlock(d->mu);
}

static void
on_udp(evutil_socket_t fd, short what, void *arg)
{
	dnsd_locked(arg, on_udp_locked, fd, what, arg);
}

static void
on_tcp_conn(evutil_socket_t fd, short what, void *arg)
{
	struct dnsd_tcp	*c = arg;

	dnsd_locked(c->d, on_tcp_conn_locked, fd, what, arg);
}

static void
on_tcp_accept(evutil_socket_t fd, short what, void *arg)
{
	dnsd_locked(arg, on_tcp_accept_locked, fd, what, arg);
}

/* ---- life cycle --------------------------------------------------------- */

/* The helper's set-up reply: the namespace's sockets, or why not. */
static int
dnsd_setup(struct dnsd *d, struct errbuf *e)
{
	struct dnsd_rep	 rep;
	struct stat	 st;
	int		 fds[1 + 2 * DNSD_MAX_SERVERS], n;
	size_t		 k;

	n = dnsd_recv(d, &rep, fds, 1 + 2 * DNSD_MAX_SERVERS);
	if (n < 0 || rep.err != 0) {
		if (n > 0)
			while (n > 0)
				close(fds[--n]);
		rep.why[sizeof(rep.why) - 1] = '\0';
		errbuf_set(e, "%s", n < 0 ? "the namespace helper did not "
		    "answer" : rep.why);
		return -1;
	}
	if (n != 1 + 2 * (int)d->nservers || fstat(fds[0], &st) == -1) {
		while (n > 0)
			close(fds[--n]);
		errbuf_set(e, "the namespace helper sent the wrong sockets");
		return -1;
	}
	d->ns_dev = st.st_dev;
	d->ns_ino = st.st_ino;
	close(fds[0]);
	for (k = 0; k < d->nservers; k++) {
		d->udp[k] = fds[1 + 2 * k];
		d->tcp[k] = fds[2 + 2 * k];
	}
#ifdef SO_NETNS_COOKIE
	{
		socklen_t	sl = sizeof(d->cookie);

		d->have_cookie = getsockopt(d->udp[0], SOL_SOCKET,
		    SO_NETNS_COOKIE, &d->cookie, &sl) == 0 &&
		    sl == sizeof(d->cookie);
	}
#endif
	for (k = 0; k < d->nservers; k++) {
		d->ev[2 * k] = event_new(d->base, d->udp[k],
		    EV_READ | EV_PERSIST, on_udp, d);
		d->ev[2 * k + 1] = event_new(d->base, d->tcp[k],
		    EV_READ | EV_PERSIST, on_tcp_accept, d);
		if (d->ev[2 * k] == NULL || d->ev[2 * k + 1] == NULL ||
		    event_add(d->ev[2 * k], NULL) == -1 ||
		    event_add(d->ev[2 * k + 1], NULL) == -1) {
			errbuf_set(e, "cannot watch the DNS sockets");
			return -1;
		}
	}
	return 0;
}

/* Finish the set-up now if it is pending.  true when the answerer is up. */
static bool
dnsd_ready(struct dnsd *d)
{
	struct errbuf	e;

	if (d->state != 0)
		return d->state == 1;
	errbuf_clear(&e);
	if (d->pid == -1 && (!d->lazy || dnsd_start(d, &e) == -1)) {
		d->state = -1;
		log_warnx("the sandbox's DNS cannot be answered (%s): "
		    "lookups fail at once", errbuf_msg(&e));
		return false;
	}
	if (d->setup_ev != NULL) {
		event_free(d->setup_ev);
		d->setup_ev = NULL;
	}
	errbuf_clear(&e);
	if (dnsd_setup(d, &e) == -1) {
		d->state = -1;
		log_warnx("the sandbox's DNS cannot be answered (%s): "
		    "lookups fail at once", errbuf_msg(&e));
		return false;
	}
	d->state = 1;
	return true;
}

static void
on_setup_locked(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)dnsd_ready(arg);
}

static void
on_setup(evutil_socket_t fd, short what, void *arg)
{
	dnsd_locked(arg, on_setup_locked, fd, what, arg);
}

/* Fork the helper; its set-up reply is awaited on the loop. */
static int
dnsd_start(struct dnsd *d, struct errbuf *e)
{
	int	sp[2], fl;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) == -1) {
		errbuf_sys(e, "socketpair");
		return -1;
	}
	if ((d->pid = fork()) == -1) {
		errbuf_sys(e, "fork");
		close(sp[0]);
		close(sp[1]);
		return -1;
	}
	if (d->pid == 0) {
		close(sp[0]);
		dnsd_helper(sp[1], getppid(), d->servers, d->nservers);
	}
	close(sp[1]);
	d->sp = sp[0];
	if ((fl = fcntl(d->sp, F_GETFL)) != -1)
		(void)fcntl(d->sp, F_SETFL, fl | O_NONBLOCK);
	d->setup_ev = event_new(d->base, d->sp, EV_READ, on_setup, d);
	if (d->setup_ev == NULL || event_add(d->setup_ev, NULL) == -1) {
		errbuf_set(e, "cannot watch the namespace helper");
		return -1;
	}
	return 0;
}

struct dnsd *
sandbox_dnsd_new(struct event_base *base, const char *resolv_conf,
    bool lazy, dnsd_lookup_fn *fn, void *arg, struct errbuf *e)
{
	struct dnsd	*d;
	char		 text[8192];
	int		 fd;
	size_t		 i;
	ssize_t		 r;

	d = xcalloc(1, sizeof(*d));
	d->base = base;
	d->fn = fn;
	d->arg = arg;
	d->sp = -1;
	d->pid = -1;
	for (i = 0; i < DNSD_MAX_SERVERS; i++)
		d->udp[i] = d->tcp[i] = -1;
	if (resolv_conf == NULL)
		resolv_conf = "/etc/resolv.conf";
	text[0] = '\0';
	if ((fd = open(resolv_conf, O_RDONLY | O_CLOEXEC)) != -1) {
		r = read(fd, text, sizeof(text) - 1);
		text[r > 0 ? r : 0] = '\0';
		close(fd);
	}
	d->nservers = sandbox_dnsd_servers(text, d->servers,
	    DNSD_MAX_SERVERS);
	if (d->nservers == 0)
		d->nservers = dnsd_default_servers(d->servers);
	d->lazy = lazy;
	if (!lazy && dnsd_start(d, e) == -1) {
		sandbox_dnsd_free(d);
		return NULL;
	}
	return d;
}

void
sandbox_dnsd_set_lock(struct dnsd *d, pthread_mutex_t *mu)
{
	if (d != NULL)
		d->mu = mu;
}

void
sandbox_dnsd_free(struct dnsd *d)
{
	size_t	i;
	int	status;

	if (d == NULL)
		return;
	if (d->setup_ev != NULL)
		event_free(d->setup_ev);
	while (d->waits != NULL)
		dnsd_wait_free(d->waits);
	for (i = 0; i < DNSD_TCP_MAX; i++)
		if (d->conns[i] != NULL)
			dnsd_tcp_close(d->conns[i]);
	for (i = 0; i < 2 * DNSD_MAX_SERVERS; i++)
		if (d->ev[i] != NULL)
			event_free(d->ev[i]);
	for (i = 0; i < DNSD_MAX_SERVERS; i++) {
		if (d->udp[i] != -1)
			close(d->udp[i]);
		if (d->tcp[i] != -1)
			close(d->tcp[i]);
	}
	for (i = 0; i < 4; i++)
		while (d->npool[i / 2][i % 2] > 0)
			close(d->pool[i / 2][i % 2][--d->npool[i / 2][i % 2]]);
	if (d->sp != -1)
		close(d->sp);
	if (d->pid > 0) {
		(void)kill(d->pid, SIGKILL);
		while (waitpid(d->pid, &status, 0) == -1 && errno == EINTR)
			;
	}
	free(d);
}
