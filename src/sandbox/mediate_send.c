#include "sandbox/mediator_int.h"

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <linux/netlink.h>

#include "util/log.h"
#include "util/xmalloc.h"

/*
 * sendto() with an address, sendmsg() and sendmmsg() (SPEC §3.2): the
 * seccomp filter cannot see msg_name (it is in the child's memory), so
 * every one is performed here, on our copies: the socket duplicated once,
 * the name, data and control bytes read once, SCM_RIGHTS descriptors
 * duplicated from the child.  Another thread rewriting msg_name or
 * dup2()ing another socket onto the descriptor afterwards changes nothing.
 * Only an AF_UNIX datagram send to a pathname is decided on (as a
 * connect); the rest is sent as asked (a stream socket ignores the name).
 */

#ifndef MSG_FASTOPEN
#define MSG_FASTOPEN	0x20000000
#endif
#ifndef UIO_MAXIOV
#define UIO_MAXIOV	1024
#endif

/* sendmmsg's fast path (send_mmsg_fast): at most this much. */
#define SEND_FAST_MSGS	8
#define SEND_FAST_IOVS	16
#define SEND_FAST_BYTES	4096

/* What the child passed for one message (its pointers, our numbers). */
struct send_args {
	uint64_t	name;
	uint64_t	namelen;
	uint64_t	iov;		/* child iovec array, or 0: base/len */
	uint64_t	iovlen;
	uint64_t	base;
	uint64_t	len;
	uint64_t	ctl;
	uint64_t	ctllen;
};

/* A send in progress: our copies of the current message. */
struct med_send {
	struct msghdr		 msg;		/* ours, into the fields below */
	struct iovec		 iov;		/* the rest of data */
	char			*data;		/* owned */
	size_t			 len;
	size_t			 off;		/* bytes sent so far */
	char			*ctl;		/* owned or NULL */
	int			*fds;		/* owned: our SCM_RIGHTS dups */
	size_t			 nfds;
	int			 flags;		/* the child's MSG_* */
	int			 domain;	/* of the socket, once known */
	int			 type;
	bool			 known;		/* domain and type read */
	int			 blocking;	/* -1: not asked yet */
	uint64_t		 vec;		/* sendmmsg vector, or 0 */
	unsigned		 vlen;
	unsigned		 done;		/* messages sent */
	struct send_args	 first;
};

void
sandbox_mediate_send_free(struct med_send *s)
{
	size_t	i;

	if (s == NULL)
		return;
	for (i = 0; i < s->nfds; i++)
		close(s->fds[i]);
	free(s->fds);
	free(s->data);
	free(s->ctl);
	free(s);
}

/* Drop the copies of the current message (sendmmsg moves on). */
static void
send_reset(struct med_op *op)
{
	struct med_send	*s = op->send;
	size_t		 i;

	for (i = 0; i < s->nfds; i++)
		close(s->fds[i]);
	s->nfds = 0;
	free(s->data);
	s->data = NULL;
	free(s->ctl);
	s->ctl = NULL;
	s->off = 0;
	if (op->pathfd != -1) {
		close(op->pathfd);
		op->pathfd = -1;
	}
	memset(&s->msg, 0, sizeof(s->msg));
}

/*
 * The socket's domain and type, asked only when a decision needs them (a
 * name, control bytes, a send too large): most sends need neither.
 */
static int
send_kind(struct med_op *op)
{
	struct med_send	*s = op->send;
	socklen_t	 sl = sizeof(int);

	if (s->known)
		return 0;
	if (getsockopt(op->sfd, SOL_SOCKET, SO_DOMAIN, &s->domain, &sl) ==
	    -1 || getsockopt(op->sfd, SOL_SOCKET, SO_TYPE, &s->type,
	    &sl) == -1)
		return errno == ENOTSOCK ? -ENOTSOCK : -errno;
	s->known = true;
	return 0;
}

/* Whether the child's send would block (asked once, when it would). */
static bool
send_blocking(struct med_op *op)
{
	struct med_send	*s = op->send;
	int		 fl;

	if (s->blocking == -1)
		s->blocking = !(s->flags & MSG_DONTWAIT) &&
		    (fl = fcntl(op->sfd, F_GETFL)) != -1 &&
		    !(fl & O_NONBLOCK);
	return s->blocking == 1;
}

/* Replace the child's descriptors in SCM_RIGHTS by ours.  0 or -errno. */
static int
send_fds(struct med_op *op)
{
	struct med_send	*s = op->send;
	struct cmsghdr	*c;
	size_t		 i, n, left;
	int		*fdp, fd, nfd;

	left = s->msg.msg_controllen;
	for (c = CMSG_FIRSTHDR(&s->msg); c != NULL;
	    c = CMSG_NXTHDR(&s->msg, c)) {
		left = s->msg.msg_controllen -
		    (size_t)((char *)c - (char *)s->msg.msg_control);
		if (c->cmsg_len < CMSG_LEN(0) || c->cmsg_len > left)
			return -EINVAL;
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		fdp = (int *)CMSG_DATA(c);
		for (i = 0; i < n; i++) {
			memcpy(&fd, &fdp[i], sizeof(fd));
			nfd = sandbox_mediator_getfd(op->m, op->tid, op->id,
			    fd);
			if (nfd < 0)
				return nfd == -ESRCH ? -ESRCH : -EBADF;
			s->fds = xreallocarray(s->fds, s->nfds + 1,
			    sizeof(*s->fds));
			s->fds[s->nfds++] = nfd;
			memcpy(&fdp[i], &nfd, sizeof(nfd));
		}
	}
	return 0;
}

/*
 * Copy one message from the child and decide on it.  0 with s->msg ready
 * to send; -errno (-ESRCH: maybe gone, check validity).
 */
static int
send_prepare(struct med_op *op, const struct send_args *a)
{
	struct mediator		*m = op->m;
	struct med_send		*s = op->send;
	struct iovec		*civ = NULL, *liv;
	struct sockaddr_nl	*nl;
	size_t			 i, total = 0, niov;
	int			 err;

	send_reset(op);
	/* The name (the kernel's limits). */
	op->len = 0;
	if (a->name != 0 && a->namelen != 0) {
		if (a->namelen > sizeof(op->addr))
			return -EINVAL;
		op->len = (socklen_t)a->namelen;
		if (sandbox_mediator_read(op->tid, a->name, &op->addr,
		    op->len) == -1)
			return -EFAULT;
	}
	/* The data, at most MEDIATOR_SEND_MAX bytes. */
	if (a->iov != 0 || a->iovlen != 0) {
		if (a->iovlen > UIO_MAXIOV)
			return -EMSGSIZE;
		niov = (size_t)a->iovlen;
		civ = xcalloc(niov == 0 ? 1 : niov, sizeof(*civ));
		if (niov != 0 && sandbox_mediator_read(op->tid, a->iov, civ,
		    niov * sizeof(*civ)) == -1) {
			free(civ);
			return -EFAULT;
		}
	} else {
		niov = 1;
		civ = xcalloc(1, sizeof(*civ));
		civ[0].iov_base = (void *)(uintptr_t)a->base;
		civ[0].iov_len = (size_t)a->len;
	}
	for (i = 0; i < niov; i++) {
		if (civ[i].iov_len > MEDIATOR_SEND_MAX - total) {
			if ((err = send_kind(op)) != 0) {
				free(civ);
				return err;
			}
			if (s->type != SOCK_STREAM) {
				free(civ);
				return -EMSGSIZE;
			}
			/* A stream takes a short write. */
			civ[i].iov_len = MEDIATOR_SEND_MAX - total;
			niov = i + 1;
		}
		total += civ[i].iov_len;
	}
	s->data = xmalloc(total == 0 ? 1 : total);
	s->len = total;
	if (total > 0) {
		liv = &s->iov;
		liv->iov_base = s->data;
		liv->iov_len = total;
		if (process_vm_readv(op->tid, liv, 1, civ, niov, 0) !=
		    (ssize_t)total) {
			free(civ);
			return -EFAULT;
		}
	}
	free(civ);
	s->iov.iov_base = s->data;
	s->iov.iov_len = total;
	s->msg.msg_iov = &s->iov;
	s->msg.msg_iovlen = 1;
	/* Control bytes. */
	if (a->ctl != 0 && a->ctllen != 0) {
		if (a->ctllen > MEDIATOR_CTL_MAX)
			return -ENOBUFS;
		s->ctl = xmalloc((size_t)a->ctllen);
		if (sandbox_mediator_read(op->tid, a->ctl, s->ctl,
		    (size_t)a->ctllen) == -1)
			return -EFAULT;
		s->msg.msg_control = s->ctl;
		s->msg.msg_controllen = (size_t)a->ctllen;
		if ((err = send_kind(op)) != 0 ||
		    (s->domain == AF_UNIX && (err = send_fds(op)) != 0))
			return err;
	}
	if (op->len == 0)
		return 0;
	if ((err = send_kind(op)) != 0)
		return err;
	/* The name: decided on as a connect would be. */
	if (s->domain == AF_UNIX && s->type == SOCK_DGRAM &&
	    op->addr.ss_family == AF_UNIX) {
		if ((err = sandbox_mediate_unix_resolve(op)) != 0)
			return err;
	} else if (s->domain == AF_NETLINK && !m->pol.inet_any &&
	    op->addr.ss_family == AF_NETLINK) {
		nl = (struct sockaddr_nl *)&op->addr;
		if (op->len >= sizeof(*nl) && nl->nl_pid != 0) {
			sandbox_mediator_audit(m, false, "netlink", -1,
			    "netlink peer is not the kernel");
			return -EACCES;
		}
	}
	s->msg.msg_name = &op->addr;
	s->msg.msg_namelen = op->len;
	return 0;
}

/* Read message i of a sendmmsg vector into a.  0 or -EFAULT. */
static int
send_mmsg_args(struct med_op *op, unsigned i, struct send_args *a)
{
	struct mmsghdr	mh;

	if (sandbox_mediator_read(op->tid, op->send->vec +
	    (uint64_t)i * sizeof(mh), &mh, sizeof(mh)) == -1)
		return -EFAULT;
	memset(a, 0, sizeof(*a));
	a->name = (uint64_t)(uintptr_t)mh.msg_hdr.msg_name;
	a->namelen = mh.msg_hdr.msg_namelen;
	a->iov = (uint64_t)(uintptr_t)mh.msg_hdr.msg_iov;
	a->iovlen = mh.msg_hdr.msg_iovlen;
	a->ctl = (uint64_t)(uintptr_t)mh.msg_hdr.msg_control;
	a->ctllen = mh.msg_hdr.msg_controllen;
	return 0;
}

/* Tell the child how much message i sent (sendmmsg's msg_len). */
static void
send_mmsg_len(struct med_op *op, unsigned i, unsigned len)
{
	struct iovec	local, remote;

	local.iov_base = &len;
	local.iov_len = sizeof(len);
	remote.iov_base = (void *)(uintptr_t)(op->send->vec +
	    (uint64_t)i * sizeof(struct mmsghdr) +
	    offsetof(struct mmsghdr, msg_len));
	remote.iov_len = sizeof(len);
	(void)process_vm_writev(op->tid, &local, 1, &remote, 1, 0);
}

static void	send_go(struct med_op *);

static void
on_send_event(int fd, short what, struct med_op *op)
{
	struct med_send	*s = op->send;

	(void)fd;
	event_free(op->ev);
	op->ev = NULL;
	TAILQ_REMOVE(&op->m->pending, op, entry);
	op->m->npending--;
	if (!sandbox_mediator_valid(op->m, op->id)) {
		sandbox_mediator_op_free(op);
		return;
	}
	if (what & EV_TIMEOUT) {
		/* SO_SNDTIMEO passed. */
		if (s->vec != 0 && s->done > 0)
			sandbox_mediator_answer_val(op->m, op->id, s->done);
		else if (s->off > 0)
			sandbox_mediator_answer_val(op->m, op->id,
			    (int64_t)s->off);
		else {
			sandbox_mediator_op_finish(op, -EAGAIN);
			return;
		}
		sandbox_mediator_op_free(op);
		return;
	}
	send_go(op);
}

/* Wait on the loop until the socket takes more (a blocking send). */
static void
send_wait(struct med_op *op)
{
	struct timeval	 tv, *tvp = NULL;
	socklen_t	 sl = sizeof(tv);

	if (getsockopt(op->sfd, SOL_SOCKET, SO_SNDTIMEO, &tv, &sl) == 0 &&
	    (tv.tv_sec != 0 || tv.tv_usec != 0))
		tvp = &tv;
	sandbox_mediator_op_wait(op, op->sfd, EV_WRITE, on_send_event, tvp);
}

/* Answer op after an error err (-errno) of the current message. */
static void
send_fail(struct med_op *op, int err)
{
	struct med_send	*s = op->send;

	if (err == -ESRCH && !sandbox_mediator_valid(op->m, op->id)) {
		sandbox_mediator_op_free(op);
		return;
	}
	if (s->vec != 0 && s->done > 0) {
		sandbox_mediator_answer_val(op->m, op->id, s->done);
		sandbox_mediator_op_free(op);
		return;
	}
	sandbox_mediator_op_finish(op, err);
}

/*
 * Send the prepared message (the rest of it, for a stream), then the
 * next of a vector; park when a blocking socket is full.
 */
static void
send_go(struct med_op *op)
{
	struct med_send		*s = op->send;
	struct send_args	 a;
	ssize_t			 n;
	int			 err;

	for (;;) {
		s->iov.iov_base = s->data + s->off;
		s->iov.iov_len = s->len - s->off;
		n = sendmsg(op->sfd, &s->msg, s->flags | MSG_DONTWAIT |
		    MSG_NOSIGNAL);
		if (n == -1) {
			err = errno;
			if ((err == EAGAIN || err == EWOULDBLOCK) &&
			    s->done == 0 && send_blocking(op)) {
				send_wait(op);
				return;
			}
			if (err == EPIPE && !(s->flags & MSG_NOSIGNAL))
				sandbox_mediator_kill(op->m, op->tid, SIGPIPE);
			if (s->off > 0 && s->vec == 0) {
				sandbox_mediator_answer_val(op->m, op->id,
				    (int64_t)s->off);
				sandbox_mediator_op_free(op);
				return;
			}
			send_fail(op, -err);
			return;
		}
		s->off += (size_t)n;
		/* A blocking stream send goes on until all is taken. */
		if (s->off < s->len && n > 0 && s->vec == 0 &&
		    send_kind(op) == 0 && s->type == SOCK_STREAM &&
		    send_blocking(op)) {
			s->msg.msg_control = NULL;	/* sent with the first */
			s->msg.msg_controllen = 0;
			continue;
		}
		if (s->vec == 0) {
			sandbox_mediator_answer_val(op->m, op->id,
			    (int64_t)s->off);
			sandbox_mediator_op_free(op);
			return;
		}
		send_mmsg_len(op, s->done, (unsigned)s->off);
		s->done++;
		if (s->done >= s->vlen) {
			sandbox_mediator_answer_val(op->m, op->id, s->done);
			sandbox_mediator_op_free(op);
			return;
		}
		if ((err = send_mmsg_args(op, s->done, &a)) != 0 ||
		    (err = send_prepare(op, &a)) != 0) {
			send_fail(op, err);
			return;
		}
	}
}

/*
 * sendmmsg() of a few small messages without names or control bytes (the
 * shape of glibc's parallel A+AAAA queries on its connected DNS socket):
 * the vector, the iovecs and the data are read in three process_vm_readv,
 * sent with one sendmmsg and the lengths written back with one
 * process_vm_writev, instead of five calls a message.  What it reads is
 * what the general path would send (a message without a name is sent as
 * asked).  true when op was answered; false: nothing was sent, the
 * general path takes it from the start (and reports any error).
 */
static bool
send_mmsg_fast(struct med_op *op)
{
	struct med_send	*s = op->send;
	struct mmsghdr	 ch[SEND_FAST_MSGS], mh[SEND_FAST_MSGS];
	struct iovec	 civ[SEND_FAST_IOVS], rem[SEND_FAST_MSGS];
	struct iovec	 miov[SEND_FAST_MSGS], loc;
	size_t		 nciv[SEND_FAST_MSGS];
	char		 buf[SEND_FAST_BYTES];
	unsigned	 lens[SEND_FAST_MSGS];
	size_t		 niov = 0, total = 0, off = 0, i, j;
	int		 n;

	if (s->vlen > SEND_FAST_MSGS)
		return false;
	if (sandbox_mediator_read(op->tid, s->vec, ch,
	    s->vlen * sizeof(ch[0])) == -1)
		return false;
	for (i = 0; i < s->vlen; i++) {
		if ((ch[i].msg_hdr.msg_name != NULL &&
		    ch[i].msg_hdr.msg_namelen != 0) ||
		    (ch[i].msg_hdr.msg_control != NULL &&
		    ch[i].msg_hdr.msg_controllen != 0) ||
		    ch[i].msg_hdr.msg_iovlen > SEND_FAST_IOVS - niov)
			return false;
		nciv[i] = ch[i].msg_hdr.msg_iovlen;
		rem[i].iov_base = ch[i].msg_hdr.msg_iov;
		rem[i].iov_len = nciv[i] * sizeof(civ[0]);
		niov += nciv[i];
	}
	loc.iov_base = civ;
	loc.iov_len = niov * sizeof(civ[0]);
	if (niov > 0 && process_vm_readv(op->tid, &loc, 1, rem, s->vlen,
	    0) != (ssize_t)loc.iov_len)
		return false;
	for (i = 0; i < niov; i++) {
		if (civ[i].iov_len > sizeof(buf) - total)
			return false;
		total += civ[i].iov_len;
	}
	loc.iov_base = buf;
	loc.iov_len = total;
	if (total > 0 && process_vm_readv(op->tid, &loc, 1, civ, niov, 0) !=
	    (ssize_t)total)
		return false;
	memset(mh, 0, s->vlen * sizeof(mh[0]));
	for (i = 0, j = 0; i < s->vlen; i++) {
		miov[i].iov_base = buf + off;
		miov[i].iov_len = 0;
		for (; nciv[i] > 0; nciv[i]--, j++)
			miov[i].iov_len += civ[j].iov_len;
		off += miov[i].iov_len;
		mh[i].msg_hdr.msg_iov = &miov[i];
		mh[i].msg_hdr.msg_iovlen = 1;
	}
	n = sendmmsg(op->sfd, mh, s->vlen, s->flags | MSG_DONTWAIT |
	    MSG_NOSIGNAL);
	if (n <= 0)
		return false;
	for (i = 0; i < (size_t)n; i++) {
		lens[i] = mh[i].msg_len;
		rem[i].iov_base = (void *)(uintptr_t)(s->vec + i *
		    sizeof(struct mmsghdr) + offsetof(struct mmsghdr, msg_len));
		rem[i].iov_len = sizeof(lens[i]);
	}
	loc.iov_base = lens;
	loc.iov_len = (size_t)n * sizeof(lens[0]);
	(void)process_vm_writev(op->tid, &loc, 1, rem, (unsigned long)n, 0);
	if ((unsigned)n == s->vlen) {
		sandbox_mediator_answer_val(op->m, op->id, n);
		sandbox_mediator_op_free(op);
		return true;
	}
	/* The rest the general way (a blocking socket waits for room). */
	s->done = (unsigned)n;
	if ((n = send_mmsg_args(op, s->done, &s->first)) != 0 ||
	    (n = send_prepare(op, &s->first)) != 0) {
		send_fail(op, n);
		return true;
	}
	send_go(op);
	return true;
}

/*
 * Start a send on notification req: our socket, the first message.
 * flags: the child's MSG_* flags; vec/vlen: a sendmmsg vector or 0.
 */
static void
send_start(struct mediator *m, const struct seccomp_notif *req,
    const struct send_args *a, int flags, uint64_t vec, unsigned vlen)
{
	struct med_op	*op;
	struct med_send	*s;
	int		 err;

	op = sandbox_mediator_op_new(m, req);
	/*
	 * MSG_FASTOPEN connects as it sends, which nothing here decides on:
	 * refused in the restricted modes, as the filter refuses it when no
	 * address traps the call (SPEC 3).
	 */
	if (!m->pol.inet_any && (flags & MSG_FASTOPEN)) {
		sandbox_mediator_op_finish(op, -EACCES);
		return;
	}
	s = op->send = xcalloc(1, sizeof(*s));
	s->flags = flags;
	s->vec = vec;
	s->vlen = vlen;
	op->sfd = sandbox_mediator_getfd(m, op->tid, op->id,
	    (int)req->data.args[0]);
	if (op->sfd < 0) {
		err = op->sfd;
		op->sfd = -1;
		send_fail(op, err);
		return;
	}
	s->blocking = -1;
	if (vec != 0 && send_mmsg_fast(op))
		return;
	if (vec != 0 && (err = send_mmsg_args(op, 0, &s->first)) != 0) {
		send_fail(op, err);
		return;
	}
	if ((err = send_prepare(op, vec != 0 ? &s->first : a)) != 0) {
		send_fail(op, err);
		return;
	}
	send_go(op);
}

void
sandbox_mediate_sendto(struct mediator *m, const struct seccomp_notif *req)
{
	struct send_args	a;

	memset(&a, 0, sizeof(a));
	a.base = req->data.args[1];
	a.len = req->data.args[2];
	a.name = req->data.args[4];
	a.namelen = (uint32_t)req->data.args[5];
	send_start(m, req, &a, (int)req->data.args[3], 0, 0);
}

void
sandbox_mediate_sendmsg(struct mediator *m, const struct seccomp_notif *req)
{
	struct send_args	a;
	struct msghdr		mh;

	if (sandbox_mediator_read((pid_t)req->pid, req->data.args[1], &mh,
	    sizeof(mh)) == -1) {
		sandbox_mediator_answer(m, req->id, -EFAULT);
		return;
	}
	memset(&a, 0, sizeof(a));
	a.name = (uint64_t)(uintptr_t)mh.msg_name;
	a.namelen = mh.msg_namelen;
	a.iov = (uint64_t)(uintptr_t)mh.msg_iov;
	a.iovlen = mh.msg_iovlen;
	a.ctl = (uint64_t)(uintptr_t)mh.msg_control;
	a.ctllen = mh.msg_controllen;
	send_start(m, req, &a, (int)req->data.args[2], 0, 0);
}

void
sandbox_mediate_sendmmsg(struct mediator *m, const struct seccomp_notif *req)
{
	unsigned	vlen = (unsigned)req->data.args[2];

	if (vlen > UIO_MAXIOV)
		vlen = UIO_MAXIOV;
	if (vlen == 0) {
		sandbox_mediator_answer_val(m, req->id, 0);
		return;
	}
	send_start(m, req, NULL, (int)req->data.args[3], req->data.args[1],
	    vlen);
}
