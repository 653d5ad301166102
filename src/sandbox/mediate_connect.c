#include "sandbox/mediator_int.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <linux/netlink.h>

#include "proxy/server.h"
#include "sandbox/dnsd.h"
#include "util/xmalloc.h"

/*
 * connect(): the address is read once, decided by family (mediate_inet.c,
 * mediate_unix.c), and the connect performed here on our duplicate of the
 * child's socket, without ever blocking the loop.
 */

static void	connect_go(struct med_op *);
static void	connect_decide(struct mediator *, struct med_op *, int);

static void
on_connect_event(int fd, short what, struct med_op *op)
{
	socklen_t	 sl = sizeof(int);
	int		 soerr = 0;

	(void)fd;
	if (op->retry) {
		/* Retry timer of a blocking connect to a full backlog. */
		event_free(op->ev);
		op->ev = NULL;
		op->retry = false;
		TAILQ_REMOVE(&op->m->pending, op, entry);
		op->m->npending--;
		if (!sandbox_mediator_valid(op->m, op->id)) {
			sandbox_mediator_op_free(op);
			return;
		}
		connect_go(op);
		return;
	}
	if (what & EV_TIMEOUT) {
		/* SO_SNDTIMEO passed: what a blocking connect says then. */
		sandbox_mediator_op_finish(op, -EINPROGRESS);
		return;
	}
	if (getsockopt(op->sfd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == -1)
		soerr = errno;
	sandbox_mediator_op_finish(op, -soerr);
}

/* Park op on the loop: EV_WRITE on the socket, or a retry timer. */
static void
connect_wait(struct med_op *op, bool retry)
{
	struct timeval	 tv, *tvp = NULL;
	socklen_t	 sl = sizeof(tv);

	if (retry) {
		tv.tv_sec = 0;
		tv.tv_usec = MEDIATOR_UNIX_RETRY_MS * 1000;
		op->retry = true;
		sandbox_mediator_op_wait(op, -1, 0, on_connect_event, &tv);
		return;
	}
	if (getsockopt(op->sfd, SOL_SOCKET, SO_SNDTIMEO, &tv, &sl) == 0 &&
	    (tv.tv_sec != 0 || tv.tv_usec != 0))
		tvp = &tv;
	sandbox_mediator_op_wait(op, op->sfd, EV_WRITE, on_connect_event, tvp);
}

/*
 * connect() on our duplicate with our copy.  The supervisor never blocks:
 * a blocking socket is made non-blocking for the duration and its
 * completion awaited on the loop.
 */
static void
connect_go(struct med_op *op)
{
	int	rc, err;
	bool	blocking = op->oflags != -1;

	rc = connect(op->sfd, (struct sockaddr *)&op->addr, op->len);
	err = rc == 0 ? 0 : errno;
	if (rc == 0) {
		sandbox_mediate_inet_register(op);
		sandbox_mediator_op_finish(op, 0);
		return;
	}
	if (err == EINPROGRESS || (blocking && err == EALREADY)) {
		sandbox_mediate_inet_register(op);
		if (!blocking) {
			sandbox_mediator_op_finish(op, -EINPROGRESS);
			return;
		}
		/*
		 * Loopback connects are nearly always complete already: answer
		 * in this turn rather than a loop round trip later.  A second
		 * connect() of a TCP socket says so in one call (poll and
		 * SO_ERROR took two): 0 (or EISCONN) once established, EALREADY
		 * while the handshake goes on, else the error, taken.
		 */
		rc = connect(op->sfd, (struct sockaddr *)&op->addr, op->len);
		err = rc == 0 ? 0 : errno;
		if (err == 0 || err == EISCONN) {
			sandbox_mediator_op_finish(op, 0);
			return;
		}
		if (err != EALREADY && err != EINPROGRESS) {
			sandbox_mediator_op_finish(op, -err);
			return;
		}
		connect_wait(op, false);
		return;
	}
	/* A blocking AF_UNIX connect waits for room in the backlog. */
	if (err == EAGAIN && blocking && op->addr.ss_family == AF_UNIX) {
		connect_wait(op, true);
		return;
	}
	sandbox_mediator_op_finish(op, -err);
}

/*
 * Take the child's socket (pidfd_getfd), check it is what the verdict is
 * about, and connect.  fd is the child's descriptor number.
 */
static void
connect_start(struct med_op *op, int fd, const char *what, int port)
{
	struct mediator	*m = op->m;
	int		 v, fl, err;
	bool		 ours;
	socklen_t	 sl = sizeof(v);

	/* Taken already when the DNS check looked at it (mediate_dns.c). */
	if (op->sfd == -1)
		op->sfd = sandbox_mediator_getfd(m, op->tid, op->id, fd);
	if (op->sfd < 0) {
		err = op->sfd;
		op->sfd = -1;
		if (err == -ESRCH && !sandbox_mediator_valid(m, op->id)) {
			sandbox_mediator_op_free(op);
			return;
		}
		sandbox_mediator_op_finish(op, err);
		return;
	}
	/*
	 * The socket must be what the verdict is about: SO_PROTOCOL is
	 * IPPROTO_TCP only for inet stream TCP sockets (MPTCP is 262).
	 */
	switch (op->verdict) {
	case MEDIATOR_PROXY:
	case MEDIATOR_OPEN_PORT:
	case MEDIATOR_GRANT:
	case MEDIATOR_WOULD_DENY:
		if (op->proto != 0)
			v = op->proto;
		else if (getsockopt(op->sfd, SOL_SOCKET, SO_PROTOCOL, &v,
		    &sl) == -1) {
			sandbox_mediator_op_finish(op, errno == ENOTSOCK ?
			    -ENOTSOCK : -errno);
			return;
		}
		if (v != IPPROTO_TCP) {
			sandbox_mediator_audit(m, false, what, port,
			    "not a TCP socket");
			sandbox_mediator_op_finish(op, -EACCES);
			return;
		}
		if (op->verdict == MEDIATOR_WOULD_DENY)
			sandbox_mediator_audit_would(m, what, port, op->would);
		break;
	case MEDIATOR_DNS:
		/* Only a datagram socket made in the DNS namespace. */
		sandbox_mediator_lock(m);
		ours = getsockopt(op->sfd, SOL_SOCKET, SO_TYPE, &v, &sl) == 0 &&
		    v == SOCK_DGRAM && sandbox_dnsd_owns(m->dns, op->sfd);
		sandbox_mediator_unlock(m);
		if (!ours) {
			sandbox_mediator_audit(m, false, what, port,
			    "not a DNS socket of the sandbox");
			sandbox_mediator_op_finish(op, -EACCES);
			return;
		}
		break;
	case MEDIATOR_UNIX:
		if (getsockopt(op->sfd, SOL_SOCKET, SO_DOMAIN, &v, &sl) ==
		    -1) {
			sandbox_mediator_op_finish(op, errno == ENOTSOCK ?
			    -ENOTSOCK : -errno);
			return;
		}
		if (v != AF_UNIX) {
			sandbox_mediator_op_finish(op, -EAFNOSUPPORT);
			return;
		}
		break;
	default:
		break;
	}
	if ((fl = fcntl(op->sfd, F_GETFL)) == -1) {
		sandbox_mediator_op_finish(op, -errno);
		return;
	}
	if (!(fl & O_NONBLOCK)) {
		/* Shared file description: restored before we answer. */
		if (fcntl(op->sfd, F_SETFL, fl | O_NONBLOCK) == -1) {
			sandbox_mediator_op_finish(op, -errno);
			return;
		}
		op->oflags = fl;
	}
	connect_go(op);
}

/*
 * Called with mu held, and on a notification thread performed without
 * it: from here on the op touches only its own copies (the address, the
 * duplicate) and what locks itself (audit, waits, hand-overs), so a busy
 * child's connects are made in parallel (mediator_int.h).
 */
void
sandbox_mediate_connect_start(struct med_op *op, int fd, const char *what,
    int port)
{
	struct mediator	*m = op->m;
	bool		 released;

	released = sandbox_mediator_release(m);
	connect_start(op, fd, what, port);
	if (released)
		sandbox_mediator_lock(m);
}

/*
 * A new op holding our one copy of the call's socket address (args 1 and
 * 2), or NULL when the call was answered (EINVAL, EFAULT) or is gone.
 */
static struct med_op *
op_with_addr(struct mediator *m, const struct seccomp_notif *req)
{
	struct med_op	*op;
	int64_t		 ulen = (int32_t)req->data.args[2];

	/* The kernel's own limits for a socket address. */
	if (ulen < (int64_t)sizeof(sa_family_t) ||
	    ulen > (int64_t)sizeof(struct sockaddr_storage)) {
		sandbox_mediator_answer(m, req->id, -EINVAL);
		return NULL;
	}
	op = sandbox_mediator_op_new(m, req);
	op->len = (socklen_t)ulen;
	if (sandbox_mediator_read(op->tid, req->data.args[1], &op->addr,
	    (size_t)ulen) == -1) {
		sandbox_mediator_op_finish(op, -EFAULT);
		return NULL;
	}
	/* What we read came from the task the notification is about. */
	if (!sandbox_mediator_valid(m, op->id)) {
		sandbox_mediator_op_free(op);
		return NULL;
	}
	return op;
}

/*
 * One connect().  The address is copied out of the child once and
 * every decision is taken on that copy: the child can rewrite its memory
 * after we look (SPEC §1, layer 3).
 */
void
sandbox_mediate_connect(struct mediator *m, const struct seccomp_notif *req)
{
	struct med_op		*op;
	int			 fd = (int)req->data.args[0];
	socklen_t		 sl = sizeof(op->proto);

	/* Called without mu (mediator.c's handle): our copies only. */
	if ((op = op_with_addr(m, req)) == NULL)
		return;
	if (op->addr.ss_family == AF_INET || op->addr.ss_family == AF_INET6) {
		/*
		 * The duplicate and its protocol, needed by every inet path
		 * (the DNS check asks first), taken before the decision
		 * holds mu.  Failures are met again, and answered, there.
		 */
		if ((op->sfd = sandbox_mediator_getfd(m, op->tid, op->id,
		    fd)) < 0)
			op->sfd = -1;
		else if (getsockopt(op->sfd, SOL_SOCKET, SO_PROTOCOL,
		    &op->proto, &sl) == -1)
			op->proto = 0;
	}
	sandbox_mediator_lock(m);
	connect_decide(m, op, fd);
	sandbox_mediator_unlock(m);
}

/* connect(), mu held: the decision on our copy of the address. */
static void
connect_decide(struct mediator *m, struct med_op *op, int fd)
{
	struct sockaddr_nl	*nl;

	switch (op->addr.ss_family) {
	case AF_INET:
	case AF_INET6:
		sandbox_mediate_inet_connect(op, fd);
		return;
	case AF_UNIX:
		sandbox_mediate_unix_connect(op, fd);
		return;
	case AF_UNSPEC:
		op->verdict = MEDIATOR_PASS;
		sandbox_mediate_connect_start(op, fd, "unspec", -1);
		return;
	case AF_NETLINK:
		nl = (struct sockaddr_nl *)&op->addr;
		if (op->len >= sizeof(*nl) && nl->nl_pid == 0) {
			op->verdict = MEDIATOR_PASS;
			sandbox_mediate_connect_start(op, fd, "netlink", -1);
			return;
		}
		sandbox_mediator_audit(m, false, "netlink", -1,
		    "netlink peer is not the kernel");
		sandbox_mediator_op_finish(op, -EACCES);
		return;
	default:
		if (m->pol.inet_any) {
			op->verdict = MEDIATOR_PASS;
			sandbox_mediate_connect_start(op, fd, "other", -1);
			return;
		}
		sandbox_mediator_audit(m, false, "?", -1,
		    "address family not allowed");
		sandbox_mediator_op_finish(op, -EACCES);
		return;
	}
}

/* ---- bind -------------------------------------------------------------- */

void
sandbox_mediate_bind_start(struct med_op *op, int fd)
{
	struct mediator	*m = op->m;
	int		 err;
	bool		 dropped;

	op->sfd = sandbox_mediator_getfd(m, op->tid, op->id, fd);
	if (op->sfd < 0) {
		err = op->sfd;
		op->sfd = -1;
		if (err == -ESRCH && !sandbox_mediator_valid(m, op->id)) {
			sandbox_mediator_op_free(op);
			return;
		}
		sandbox_mediator_op_finish(op, err);
		return;
	}
	/* With the child's privileges: no port below 1024 it could not. */
	dropped = sandbox_mediator_caps(m, true);
	err = bind(op->sfd, (struct sockaddr *)&op->addr, op->len) == -1 ?
	    -errno : 0;
	if (dropped)
		sandbox_mediator_caps(m, false);
	sandbox_mediator_op_finish(op, err);
}

/*
 * One bind().  As for connect, the address is copied once; a pathname
 * AF_UNIX bind is performed in mediate_unix.c, inet ones by the rule
 * Landlock would apply (the supervisor is not under Landlock), others as
 * asked.
 */
void
sandbox_mediate_bind(struct mediator *m, const struct seccomp_notif *req)
{
	struct med_op	*op;
	int		 fd = (int)req->data.args[0];

	if ((op = op_with_addr(m, req)) == NULL)
		return;
	switch (op->addr.ss_family) {
	case AF_UNIX:
		sandbox_mediate_unix_bind(op, fd);
		return;
	case AF_INET:
	case AF_INET6:
		sandbox_mediate_inet_bind(op, fd);
		return;
	default:
		op->verdict = MEDIATOR_PASS;
		sandbox_mediate_bind_start(op, fd);
		return;
	}
}
