#include "sandbox/mediator.h"
#include "sandbox/mediator_int.h"

#include <sys/ioctl.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/eventfd.h>

#include <event2/event.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include "policy/plan.h"
#include "proxy/audit.h"
#include "proxy/server.h"
#include "sandbox/dnsd.h"
#include "util/hosts.h"
#include "util/log.h"
#include "util/mono.h"
#include "util/xmalloc.h"

/*
 * The notification loop: receive, dispatch by syscall number to the
 * handlers of mediate_*.c, and the helpers they share (mediator_int.h).
 */

#ifndef SYS_pidfd_open
#define SYS_pidfd_open		434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd		438
#endif
#ifndef PIDFD_THREAD
#define PIDFD_THREAD		O_EXCL	/* Linux 6.9 */
#endif
#ifndef SECCOMP_GET_NOTIF_SIZES
#define SECCOMP_GET_NOTIF_SIZES		3
#endif

#if defined(__x86_64__)
#define MEDIATOR_ARCH	AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define MEDIATOR_ARCH	AUDIT_ARCH_AARCH64
#else
#define MEDIATOR_ARCH	0	/* unchecked: the filter checks the arch */
#endif

/* Not in Linux 6.1's headers (Debian 12). */
#ifdef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define MEDIATOR_IOCTL_SET_FLAGS	SECCOMP_IOCTL_NOTIF_SET_FLAGS
#else
#define MEDIATOR_IOCTL_SET_FLAGS	SECCOMP_IOW(4, __u64)
#endif
#define MEDIATOR_SYNC_WAKE_UP		1UL	/* ..._FD_SYNC_WAKE_UP */

/*
 * The handlers, by syscall number (mediator_int.h).  Every syscall the
 * filter traps (seccomp.c) has one line here; others are refused.
 */
static const struct {
	int			 nr;
	mediator_handler_fn	*fn;
} mediator_handlers[] = {
	{ __NR_connect,		sandbox_mediate_connect },
	{ __NR_listen,		sandbox_mediate_listen },
#ifdef __NR_chmod
	{ __NR_chmod,		sandbox_mediate_meta },
#endif
	{ __NR_fchmod,		sandbox_mediate_meta },
	{ __NR_fchmodat,	sandbox_mediate_meta },
	{ MEDIATOR_NR_FCHMODAT2, sandbox_mediate_meta },
#ifdef __NR_utime
	{ __NR_utime,		sandbox_mediate_meta },
#endif
#ifdef __NR_utimes
	{ __NR_utimes,		sandbox_mediate_meta },
#endif
#ifdef __NR_futimesat
	{ __NR_futimesat,	sandbox_mediate_meta },
#endif
	{ __NR_utimensat,	sandbox_mediate_meta },
	{ __NR_setxattr,	sandbox_mediate_meta },
	{ __NR_lsetxattr,	sandbox_mediate_meta },
	{ __NR_fsetxattr,	sandbox_mediate_meta },
	{ __NR_removexattr,	sandbox_mediate_meta },
	{ __NR_lremovexattr,	sandbox_mediate_meta },
	{ __NR_fremovexattr,	sandbox_mediate_meta },
	{ __NR_ioctl,		sandbox_mediate_pty },	/* TIOCGPTPEER only */
#ifdef __NR_open
	{ __NR_open,		sandbox_mediate_pty_open }, /* O_NOCTTY only */
#endif
	{ __NR_openat,		sandbox_mediate_pty_open }, /* O_NOCTTY only */
	{ __NR_bind,		sandbox_mediate_bind },
	{ __NR_socket,		sandbox_mediate_socket }, /* DNS only */
	{ __NR_sendto,		sandbox_mediate_sendto },
	{ __NR_sendmsg,		sandbox_mediate_sendmsg },
	{ __NR_sendmmsg,	sandbox_mediate_sendmmsg },
};

/* A notification the notification thread hands to the loop. */
struct med_fwd {
	struct med_fwd		*next;
	struct seccomp_notif	 req;	/* notif_size bytes from here */
};

/* An audit record the notification thread hands to the loop. */
struct med_arec {
	struct med_arec		*next;
	const char		*mode;		/* static */
	bool			 allow;
	bool			 would;
	char			*host;		/* owned or NULL */
	int			 port;
	char			*reason;	/* owned or NULL */
};

static void	handle(struct mediator *, const struct seccomp_notif *);
static bool	thread_start(struct mediator *);

static bool
on_loop(const struct mediator *m)
{
	return pthread_equal(pthread_self(), m->loop_thread) != 0;
}

void
sandbox_mediator_lock(struct mediator *m)
{
	(void)pthread_mutex_lock(&m->mu);
}

void
sandbox_mediator_unlock(struct mediator *m)
{
	(void)pthread_mutex_unlock(&m->mu);
}

/* Wake the loop's thread for what the notification thread handed it. */
static void
wake_loop(struct mediator *m)
{
	uint64_t	one = 1;

	/* EAGAIN: the counter is full, the loop is woken all the same. */
	if (m->wakefd != -1 && write(m->wakefd, &one, sizeof(one)) == -1 &&
	    errno != EAGAIN)
		log_debug("%s: eventfd: %s", __func__, strerror(errno));
}

/* ---- the mediator ----------------------------------------------------- */

struct mediator *
sandbox_mediator_new(const struct plan *p, struct event_base *base,
    struct proxy *proxy, uint16_t proxy_port, struct errbuf *e)
{
	struct mediator		*m;
	struct seccomp_notif_sizes sizes;
	struct errbuf		 de;

	if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) != 0) {
		errbuf_sys(e, "seccomp notification sizes");
		return NULL;
	}
	m = xcalloc(1, sizeof(*m));
	{
		pthread_mutexattr_t	ma;

		pthread_mutexattr_init(&ma);
		pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
		pthread_mutex_init(&m->mu, &ma);
		pthread_mutexattr_destroy(&ma);
	}
	m->loop_thread = pthread_self();
	m->wakefd = -1;
	TAILQ_INIT(&m->toloop);
	m->fwd_tail = &m->fwd;
	m->arec_tail = &m->arecs;
	m->plan = p;
	m->base = base;
	m->proxy = proxy;
	m->listener = -1;
	m->pidfd = -1;
	m->diagfd = -1;
	m->fddir = -1;
	/* Unix binds happen in the child's directories, then back here. */
	m->cwdfd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	TAILQ_INIT(&m->pending);
	/* The kernel's structs may be larger than our headers' (newer). */
	m->notif_size = sizes.seccomp_notif > sizeof(struct seccomp_notif) ?
	    sizes.seccomp_notif : sizeof(struct seccomp_notif);
	m->resp_size = sizes.seccomp_notif_resp >
	    sizeof(struct seccomp_notif_resp) ? sizes.seccomp_notif_resp :
	    sizeof(struct seccomp_notif_resp);
	if (proxy != NULL) {
		memcpy(&m->self, proxy_server_self(proxy), sizeof(m->self));
		m->audit = proxy_server_audit(proxy);
	} else {
		m->self.sin_family = AF_INET;
		m->self.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		m->self.sin_port = htons(proxy_port);
		if ((m->own_audit = proxy_audit_open(p->audit_log, e)) ==
		    NULL) {
			if (m->cwdfd != -1)
				close(m->cwdfd);
			pthread_mutex_destroy(&m->mu);
			free(m);
			return NULL;
		}
		m->audit = m->own_audit;
	}
	m->pol.inet_any = p->mode == NET_ALLOW;
	m->pol.proxy_port = p->mode == NET_PROXY ? proxy_port : 0;
	m->pol.open_ports = &p->open_ports;
	m->pol.listen_ports = p->mode == NET_PROXY ? &p->listen_ports : NULL;
	m->pol.plan = p;
	sandbox_mediator_policy_unix(&m->pol, p);
	m->meta_drop = sandbox_mediate_meta_caps(m);
	if (sandbox_mediate_inet_init(m, p, e) == -1) {
		sandbox_mediator_free(m);
		return NULL;
	}
	if (p->mode == NET_PROXY || p->mode == NET_BLOCKED) {
		m->hosts = hosts_new(NULL);
		/*
		 * The namespace waits for the child's first UDP socket: most
		 * runs make none (HTTP clients hand names to the proxy, and
		 * glibc reads /etc/hosts itself), and making it is the
		 * largest single start-up cost of proxy mode (bench/README).
		 * Only as root, where the helper never turns dumpable (an
		 * ordinary user's writes its uid_map, which must happen
		 * before the child exists).
		 */
		m->dns = sandbox_dnsd_new(base, NULL, geteuid() == 0,
		    sandbox_mediate_inet_lookup, m, &de);
		sandbox_dnsd_set_lock(m->dns, &m->mu);
		if (m->dns == NULL)
			log_warnx("the sandbox's DNS cannot be answered (%s): "
			    "direct grants work by address only, lookups "
			    "fail at once", errbuf_msg(&de));
	}
	return m;
}

/* ---- talking to the kernel -------------------------------------------- */

bool
sandbox_mediator_valid(const struct mediator *m, uint64_t id)
{
	return ioctl(m->listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

static void
answer(struct mediator *m, uint64_t id, int64_t val, int err)
{
	union {
		struct seccomp_notif_resp	r;
		char				b[128];
	}				 buf;
	struct seccomp_notif_resp	*resp = &buf.r;

	if (m->listener == -1)
		return;
	/* A kernel's struct larger than ours (newer) is padded with 0. */
	if (m->resp_size > sizeof(buf))
		resp = xcalloc(1, m->resp_size);
	else
		memset(&buf, 0, m->resp_size);
	resp->id = id;
	resp->val = val;
	resp->error = err;
	resp->flags = 0;	/* never SECCOMP_USER_NOTIF_FLAG_CONTINUE */
	if (ioctl(m->listener, SECCOMP_IOCTL_NOTIF_SEND, resp) == -1 &&
	    errno != ENOENT)
		log_warn("seccomp answer %llu", (unsigned long long)id);
	if (resp != &buf.r)
		free(resp);
	__atomic_fetch_add(&m->answered, 1, __ATOMIC_RELAXED);
}

void
sandbox_mediator_answer(struct mediator *m, uint64_t id, int err)
{
	answer(m, id, 0, err);
}

void
sandbox_mediator_answer_val(struct mediator *m, uint64_t id, int64_t val)
{
	answer(m, id, val, 0);
}

int
sandbox_mediator_read(pid_t tid, uint64_t addr, void *buf, size_t len)
{
	struct iovec	local, remote;
	ssize_t		n;

	local.iov_base = buf;
	local.iov_len = len;
	remote.iov_base = (void *)(uintptr_t)addr;
	remote.iov_len = len;
	n = process_vm_readv(tid, &local, 1, &remote, 1, 0);
	if (n == -1)
		return -1;
	if ((size_t)n != len) {
		errno = EFAULT;
		return -1;
	}
	return 0;
}

long
sandbox_mediator_proc_status(pid_t tid, const char *field, int base)
{
	char		 path[64], buf[1024], *s;
	ssize_t		 n;
	long		 v;
	int		 fd;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)tid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* Fields start a line; Name (the first) is the child's to choose. */
	for (s = buf; (s = strchr(s, '\n')) != NULL; s++)
		if (strncmp(s + 1, field, strlen(field)) == 0)
			break;
	if (s == NULL)
		return -1;
	v = strtol(s + 1 + strlen(field), NULL, base);
	return v >= 0 ? v : -1;
}

/* The thread group id of tid from /proc, or -1. */
static pid_t
read_tgid(pid_t tid)
{
	long	v = sandbox_mediator_proc_status(tid, "Tgid:", 10);

	return v > 0 ? (pid_t)v : -1;
}

/*
 * A pidfd for the notifying thread: its own (PIDFD_THREAD, 6.9+), else
 * its process's (a thread is not a pidfd_open target before 6.9).
 */
static int
open_pidfd(pid_t tid)
{
	pid_t	tgid;
	int	fd;

	fd = (int)syscall(SYS_pidfd_open, tid, PIDFD_THREAD);
	if (fd >= 0 || errno != EINVAL)
		return fd;
	fd = (int)syscall(SYS_pidfd_open, tid, 0);
	if (fd >= 0 || errno != EINVAL)
		return fd;
	if ((tgid = read_tgid(tid)) == -1) {
		errno = ESRCH;
		return -1;
	}
	return (int)syscall(SYS_pidfd_open, tgid, 0);
}

int
sandbox_mediator_getfd(struct mediator *m, pid_t tid, uint64_t id, int fd)
{
	int	sfd = -1, err = ESRCH;

	if (m->pidfd != -1 && m->pidfd_tid == tid) {
		sfd = (int)syscall(SYS_pidfd_getfd, m->pidfd, fd, 0);
		err = errno;
		if (sfd == -1 && err == ESRCH) {
			close(m->pidfd);	/* stale: reopen below */
			m->pidfd = -1;
		}
	}
	if (sfd == -1 && err == ESRCH) {
		if (m->pidfd != -1)
			close(m->pidfd);
		if ((m->pidfd = open_pidfd(tid)) == -1)
			return -ESRCH;
		m->pidfd_tid = tid;
		/* The tid could have been reused before pidfd_open. */
		if (!sandbox_mediator_valid(m, id)) {
			close(m->pidfd);
			m->pidfd = -1;
			return -ESRCH;
		}
		sfd = (int)syscall(SYS_pidfd_getfd, m->pidfd, fd, 0);
		err = errno;
	}
	if (sfd == -1)
		return err == ESRCH ? -ESRCH : -EBADF;
	return sfd;
}

int
sandbox_mediator_dirfd(struct mediator *m, pid_t tid, uint64_t id, int dfd)
{
	struct stat	 st;
	char		 link[64];
	int		 fd;

	if (dfd == AT_FDCWD) {
		snprintf(link, sizeof(link), "/proc/%ld/cwd", (long)tid);
		fd = open(link, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (fd == -1)
			return -ESRCH;
		/* The cwd of the task the notification is about. */
		if (!sandbox_mediator_valid(m, id)) {
			close(fd);
			return -ESRCH;
		}
		return fd;
	}
	if ((fd = sandbox_mediator_getfd(m, tid, id, dfd)) < 0)
		return fd;
	if (fstat(fd, &st) == -1 || !S_ISDIR(st.st_mode)) {
		close(fd);
		return -ENOTDIR;
	}
	return fd;
}

ssize_t
sandbox_mediator_fdpath(const struct mediator *m, int fd, char *buf,
    size_t size)
{
	char	name[32], *p = name + sizeof(name);
	int	v = fd;

	if (fd < 0) {
		errno = EBADF;
		return -1;
	}
	/* The decimal name, without a printf per call. */
	*--p = '\0';
	do
		*--p = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	if (m->fddir != -1)
		return readlinkat(m->fddir, p, buf, size);
	snprintf(name, sizeof(name), "/proc/self/fd/%d", fd);
	return readlink(name, buf, size);
}

void
sandbox_mediator_kill(struct mediator *m, pid_t tid, int sig)
{
	pid_t	tgid;

	(void)m;
	if ((tgid = read_tgid(tid)) != -1)
		(void)syscall(SYS_tgkill, tgid, tid, sig);
}

/* ---- ops --------------------------------------------------------------- */

struct med_op *
sandbox_mediator_op_new(struct mediator *m, const struct seccomp_notif *req)
{
	struct med_op	*op;

	op = xcalloc(1, sizeof(*op));
	op->m = m;
	op->id = req->id;
	op->tid = (pid_t)req->pid;
	op->sfd = -1;
	op->pathfd = -1;
	op->oflags = -1;
	return op;
}

void
sandbox_mediator_op_free(struct med_op *op)
{
	struct mediator	*m = op->m;

	if (op->ev != NULL) {
		event_free(op->ev);
		TAILQ_REMOVE(&m->pending, op, entry);
		m->npending--;
	}
	if (op->sfd != -1) {
		if (op->oflags != -1)
			(void)fcntl(op->sfd, F_SETFL, op->oflags);
		close(op->sfd);
	}
	if (op->pathfd != -1)
		close(op->pathfd);
	sandbox_mediate_send_free(op->send);
	free(op->thost);
	free(op);
}

void
sandbox_mediator_op_finish(struct med_op *op, int err)
{
	if (err != 0 && err != -EINPROGRESS && op->reg_port != 0 &&
	    op->m->proxy != NULL)
		proxy_server_unregister_port(op->m->proxy, op->reg_port);
	if (op->sfd != -1 && op->oflags != -1) {
		(void)fcntl(op->sfd, F_SETFL, op->oflags);
		op->oflags = -1;
	}
	answer(op->m, op->id, 0, err);
	sandbox_mediator_op_free(op);
}

/* A wait's event fired (on the loop): its callback, with mu held. */
static void
op_event(evutil_socket_t fd, short what, void *arg)
{
	struct med_op	*op = arg;
	struct mediator	*m = op->m;

	sandbox_mediator_lock(m);
	op->wcb((int)fd, what, op);
	sandbox_mediator_unlock(m);
}

/* Add op's wait to the loop (loop's thread only). */
static void
op_add(struct med_op *op)
{
	struct mediator	*m = op->m;

	op->ev = event_new(m->base, op->wfd, op->wwhat, op_event, op);
	if (op->ev == NULL || event_add(op->ev, op->wtimed ? &op->wtv :
	    NULL) == -1) {
		if (op->ev != NULL)
			event_free(op->ev);
		op->ev = NULL;
		sandbox_mediator_op_finish(op, -ENOMEM);
		return;
	}
	TAILQ_INSERT_TAIL(&m->pending, op, entry);
	m->npending++;
}

void
sandbox_mediator_op_wait(struct med_op *op, int fd, short what,
    med_op_cb *cb, const struct timeval *tvp)
{
	struct mediator	*m = op->m;

	op->wfd = fd;
	op->wwhat = what;
	op->wcb = cb;
	op->wtimed = tvp != NULL;
	if (tvp != NULL)
		op->wtv = *tvp;
	if (on_loop(m)) {
		op_add(op);
		return;
	}
	/* Counted as pending already: MEDIATOR_MAX_PENDING holds. */
	TAILQ_INSERT_TAIL(&m->toloop, op, entry);
	m->npending++;
	wake_loop(m);
}

struct audit *
sandbox_mediator_audit_log(const struct mediator *m)
{
	return m->audit;
}

bool
sandbox_mediator_dns(const struct mediator *m)
{
	return m != NULL && m->dns != NULL;
}

static void
audit_put(struct mediator *m, const char *mode, bool allow, bool would,
    const char *host, int port, const char *reason)
{
	struct audit_rec	 rec;
	struct med_arec		*a;

	/* The proxy's audit is the loop's: handed over, written there. */
	if (m->proxy != NULL && !on_loop(m)) {
		a = xcalloc(1, sizeof(*a));
		a->mode = mode;
		a->allow = allow;
		a->would = would;
		a->host = host != NULL ? xstrdup(host) : NULL;
		a->port = port;
		a->reason = reason != NULL ? xstrdup(reason) : NULL;
		*m->arec_tail = a;
		m->arec_tail = &a->next;
		wake_loop(m);
		return;
	}
	memset(&rec, 0, sizeof(rec));
	rec.mode = mode;
	rec.allow = allow;
	rec.would_deny = would;
	rec.host = host;
	rec.port = port;
	rec.reason = reason;
	rec.ms = -1;
	proxy_audit_write(m->audit, &rec);
}

void
sandbox_mediator_audit(struct mediator *m, bool allow, const char *host,
    int port, const char *reason)
{
	audit_put(m, m->audit_mode != NULL ? m->audit_mode : "direct", allow,
	    false, host, port, reason);
}

void
sandbox_mediator_audit_would(struct mediator *m, const char *host, int port,
    const char *reason)
{
	audit_put(m, m->audit_mode != NULL ? m->audit_mode : "direct", true,
	    true, host, port, reason);
}

/*
 * What the notification thread handed over, on the loop's thread with mu
 * held: audit records, waits to add, notifications to handle.
 */
static void
drain(struct mediator *m)
{
	struct med_arec	*a;
	struct med_fwd	*f;
	struct med_op	*op;

	if (m->thread_gone && m->lev != NULL) {
		m->thread_gone = false;
		log_warnx("the mediator's thread stopped; the loop answers");
		if (event_add(m->lev, NULL) == -1)
			log_warnx("cannot watch the seccomp listener");
	}
	while ((a = m->arecs) != NULL) {
		m->arecs = a->next;
		if (m->arecs == NULL)
			m->arec_tail = &m->arecs;
		audit_put(m, a->mode, a->allow, a->would, a->host, a->port,
		    a->reason);
		free(a->host);
		free(a->reason);
		free(a);
	}
	while ((op = TAILQ_FIRST(&m->toloop)) != NULL) {
		TAILQ_REMOVE(&m->toloop, op, entry);
		m->npending--;
		op_add(op);
	}
	while ((f = m->fwd) != NULL) {
		m->fwd = f->next;
		if (m->fwd == NULL)
			m->fwd_tail = &m->fwd;
		handle(m, &f->req);
		free(f);
	}
}

static void
on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct mediator	*m = arg;
	uint64_t	 n;

	(void)what;
	if (read(fd, &n, sizeof(n)) == -1 && errno != EAGAIN)
		log_debug("%s: eventfd: %s", __func__, strerror(errno));
	sandbox_mediator_lock(m);
	drain(m);
	sandbox_mediator_unlock(m);
}

/* ---- dispatch ---------------------------------------------------------- */

/* One notification, to its handler by syscall number. */
static void
handle(struct mediator *m, const struct seccomp_notif *req)
{
	size_t	i;

	if (MEDIATOR_ARCH != 0 && req->data.arch != MEDIATOR_ARCH) {
		answer(m, req->id, 0, -EACCES);
		return;
	}
	if (m->npending >= MEDIATOR_MAX_PENDING) {
		answer(m, req->id, 0, -EAGAIN);
		return;
	}
	for (i = 0; i < sizeof(mediator_handlers) /
	    sizeof(mediator_handlers[0]); i++)
		if (mediator_handlers[i].nr == req->data.nr) {
			mediator_handlers[i].fn(m, req);
			return;
		}
	answer(m, req->id, 0, -EACCES);
}

/*
 * Synchronous wake-ups (Linux 6.6+) run the woken side on the waker's CPU:
 * a lone connect's round trip (child -> us -> child) then costs half, but
 * many threads connecting at once would all be served on one CPU.  So
 * they are on while notifications come one per wake, off as soon as
 * several come together, and on again after MEDIATOR_SYNC_AFTER lone ones.
 */
static void
wakeup_mode(struct mediator *m, int batch)
{
	bool	want;

	if (!m->sync_ok || batch == 0)
		return;
	if (batch > 1)
		m->singles = 0;
	else if (m->singles < MEDIATOR_SYNC_AFTER)
		m->singles++;
	want = m->singles >= MEDIATOR_SYNC_AFTER;
	if (want == m->sync)
		return;
	if (ioctl(m->listener, MEDIATOR_IOCTL_SET_FLAGS,
	    want ? MEDIATOR_SYNC_WAKE_UP : 0UL) == 0)
		m->sync = want;
}

/*
 * Wait for the next notification: 1 when one is queued, 0 when none is,
 * -1 when the listener hung up (its tasks are all gone: it then polls as
 * readable forever).  While synchronous wake-ups are on (one notification
 * at a time: a thread of the program calling again and again), and once
 * this turn has answered one, the CPU is given away and the listener
 * looked at again for up to MEDIATOR_SPIN_NS before going back to the
 * loop.  The thread just answered was woken on this CPU, so its next call
 * comes back here without an idle CPU having to be woken for either side;
 * in a VM such a wake-up costs tens of microseconds, several times the
 * round trip itself (bench/README.md).  *spun says whether it waited.
 */
static int
listener_next(struct mediator *m, int lfd, bool may_spin, bool *spun)
{
	struct pollfd	 pfd;
	uint64_t	 t0 = 0;

	*spun = false;
	for (;;) {
		pfd.fd = lfd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (poll(&pfd, 1, 0) > 0) {
			if (pfd.revents & POLLIN)
				return 1;
			return (pfd.revents & (POLLHUP | POLLERR | POLLNVAL)) ?
			    -1 : 0;
		}
		if (!may_spin || !m->sync)
			return 0;
		if (!*spun) {
			t0 = mono_ns();
			*spun = true;
		} else if (mono_ns() - t0 >= MEDIATOR_SPIN_NS)
			return 0;
		sched_yield();
	}
}

/*
 * The listener is readable.  NOTIF_RECV blocks when nothing is queued
 * (O_NONBLOCK is not honoured): look first (listener_next), receive only
 * when something is there, stop watching on a hang-up.  What counts as
 * notifications coming together, for wakeup_mode, is those found queued
 * one after another without waiting, from different threads.
 */
static void
on_listener(evutil_socket_t lfd, short what, void *arg)
{
	struct mediator		*m = arg;
	struct seccomp_notif	*req;
	int			 i, r, run = 0, burst = 0;
	__u32			 last = 0;
	bool			 spun;

	(void)what;
	/*
	 * The first notification starts the thread, which takes it (and
	 * every later one) from the queue: a run that makes none (`keyhole
	 * run -- true`) never pays for a thread.
	 */
	if (!m->threaded && !m->no_thread) {
		/* Not for the hang-up that ends every run. */
		if ((r = listener_next(m, lfd, false, &spun)) != 1) {
			if (r == -1)
				event_del(m->lev);
			return;
		}
		event_del(m->lev);
		if (thread_start(m))
			return;
		m->no_thread = true;
		log_debug("%s: no notification thread: answered on the loop",
		    __func__);
		if (event_add(m->lev, NULL) == -1)
			log_warnx("cannot watch the seccomp listener");
	}
	req = xmalloc(m->notif_size);
	sandbox_mediator_lock(m);
	for (i = 0; i < MEDIATOR_BATCH; i++) {
		if ((r = listener_next(m, lfd, i > 0, &spun)) <= 0) {
			if (r == -1) {
				log_debug("%s: listener hung up", __func__);
				event_del(m->lev);
			}
			break;
		}
		memset(req, 0, m->notif_size);
		if (ioctl(lfd, SECCOMP_IOCTL_NOTIF_RECV, req) == -1) {
			if (errno == EINTR || errno == ENOENT)
				continue;
			log_warn("seccomp notification");
			break;
		}
		/* A thread has one call pending at most: its next is not
		 * "together" with the last, however soon it came. */
		run = spun || req->pid == last ? 1 : run + 1;
		last = req->pid;
		if (run > burst)
			burst = run;
		handle(m, req);
	}
	wakeup_mode(m, burst);
	sandbox_mediator_unlock(m);
	free(req);
}

/* ---- the notification thread ------------------------------------------ */

#define MEDIATOR_STOP_SIG	SIGURG	/* ignored by default: harmless */

static void
on_stop_signal(int sig)
{
	(void)sig;	/* only to interrupt NOTIF_RECV (EINTR) */
}

/*
 * Calls whose handling needs the loop's thread from the start: socket()
 * until the DNS helper is up (it may be forked then: events of its own).
 * Handlers hand over the rest themselves (sandbox_mediator_to_loop):
 * proxy-mode inet connects and binds (the proxy's registrations and
 * configuration are the loop's), a TCP connect to a nameserver.
 */
static bool
for_loop(const struct mediator *m, const struct seccomp_notif *req)
{
	return req->data.nr == __NR_socket && !sandbox_dnsd_settled(m->dns);
}

/* Queue req for the loop's thread (mu held). */
static void
forward(struct mediator *m, const struct seccomp_notif *req)
{
	struct med_fwd	*f;

	f = xmalloc(offsetof(struct med_fwd, req) + m->notif_size);
	f->next = NULL;
	memcpy(&f->req, req, m->notif_size);
	*m->fwd_tail = f;
	m->fwd_tail = &f->next;
	wake_loop(m);
}

bool
sandbox_mediator_to_loop(struct mediator *m)
{
	if (on_loop(m) || m->cur == NULL)
		return false;
	forward(m, m->cur);
	return true;
}

/* True when every task of the listener's filter is gone. */
static bool
listener_hung_up(int lfd)
{
	struct pollfd	pfd = { .fd = lfd, .events = POLLIN };

	return poll(&pfd, 1, 0) == 1 &&
	    (pfd.revents & (POLLHUP | POLLERR | POLLNVAL)) != 0;
}

/*
 * The notification thread: blocked in NOTIF_RECV, so a notification
 * wakes it directly (never through epoll, which loses the synchronous
 * wake-up) and, with SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP, on the
 * notifying task's CPU; the answer wakes that task on ours.  A round
 * trip then needs no idle CPU woken (bench/README.md).  Each
 * notification is handled with mu held, or handed to the loop.
 */
static void *
notif_main(void *arg)
{
	struct mediator		*m = arg;
	struct seccomp_notif	*req;
	bool			 failed = false;

	req = xmalloc(m->notif_size);
	/* Unix binds fchdir() and umask(): ours alone, not the loop's. */
	if (unshare(CLONE_FS) == -1) {
		log_warn("mediator thread: unshare(CLONE_FS)");
		failed = true;
	}
	while (!failed && !__atomic_load_n(&m->stop, __ATOMIC_ACQUIRE)) {
		memset(req, 0, m->notif_size);
		if (ioctl(m->listener, SECCOMP_IOCTL_NOTIF_RECV, req) == -1) {
			if (errno == EINTR)
				continue;
			if (errno == ENOENT) {
				/* Its task went away, or all of them did. */
				if (listener_hung_up(m->listener))
					break;
				continue;
			}
			log_warn("seccomp notification");
			failed = true;
			break;
		}
		sandbox_mediator_lock(m);
		if (for_loop(m, req))
			forward(m, req);
		else {
			m->cur = req;
			handle(m, req);
			m->cur = NULL;
		}
		sandbox_mediator_unlock(m);
	}
	free(req);
	if (failed) {
		sandbox_mediator_lock(m);
		m->thread_gone = true;
		sandbox_mediator_unlock(m);
		wake_loop(m);
	}
	return NULL;
}

/*
 * Start the notification thread: all signals blocked but the one that
 * stops it, its own working directory and umask (unix binds change
 * them: CLONE_FS unshared).  false when it cannot run.
 */
static bool
thread_start(struct mediator *m)
{
	struct sigaction	sa;
	sigset_t		all, old;
	bool			ok;

	if ((m->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		return false;
	m->wev = event_new(m->base, m->wakefd, EV_READ | EV_PERSIST, on_wake,
	    m);
	if (m->wev == NULL || event_add(m->wev, NULL) == -1)
		return false;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;	/* no SA_RESTART: RECV says EINTR */
	sigemptyset(&sa.sa_mask);
	if (sigaction(MEDIATOR_STOP_SIG, &sa, NULL) == -1)
		return false;
	sigfillset(&all);
	sigdelset(&all, MEDIATOR_STOP_SIG);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ok = pthread_create(&m->thread, NULL, notif_main, m) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	m->threaded = ok;
	return ok;
}

void
sandbox_mediator_stop(struct mediator *m)
{
	struct timespec	ts;

	if (m == NULL)
		return;
	if (m->threaded && !m->joined) {
		__atomic_store_n(&m->stop, 1, __ATOMIC_RELEASE);
		/* Again until it is out: the signal may come before RECV. */
		for (;;) {
			(void)pthread_kill(m->thread, MEDIATOR_STOP_SIG);
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 20 * 1000 * 1000;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			if (pthread_timedjoin_np(m->thread, NULL, &ts) == 0)
				break;
		}
		m->joined = true;
	}
	sandbox_mediator_lock(m);
	drain(m);
	sandbox_mediator_unlock(m);
}

int
sandbox_mediator_start(int listener, void *arg, struct errbuf *e)
{
	struct mediator	*m = arg;
	int		 fl;

	m->listener = listener;
	/*
	 * Opened here, in the process that runs the loop: "self" is
	 * resolved now, once.  Without it fdpath walks /proc/self/fd/N.
	 */
	if (m->fddir == -1)
		m->fddir = open("/proc/self/fd", O_PATH | O_DIRECTORY |
		    O_CLOEXEC);
	/* Only for poll's sake: RECV ignores it. */
	if ((fl = fcntl(listener, F_GETFL)) != -1)
		(void)fcntl(listener, F_SETFL, fl | O_NONBLOCK);
	/* Older kernels say EINVAL and keep ordinary wake-ups. */
	m->sync_ok = ioctl(listener, MEDIATOR_IOCTL_SET_FLAGS,
	    MEDIATOR_SYNC_WAKE_UP) == 0;
	m->sync = m->sync_ok;
	m->singles = MEDIATOR_SYNC_AFTER;
	m->lev = event_new(m->base, listener, EV_READ | EV_PERSIST,
	    on_listener, m);
	if (m->lev == NULL) {
		errbuf_set(e, "cannot watch the seccomp listener");
		return -1;
	}
	/* Until the first notification: on_listener starts the thread. */
	if (event_add(m->lev, NULL) == -1) {
		errbuf_set(e, "cannot watch the seccomp listener");
		return -1;
	}
	return 0;
}

unsigned long
sandbox_mediator_answered(const struct mediator *m)
{
	return __atomic_load_n(&m->answered, __ATOMIC_RELAXED);
}

const struct mediator_policy *
sandbox_mediator_policy(const struct mediator *m)
{
	return &m->pol;
}

void
sandbox_mediator_free(struct mediator *m)
{
	struct med_op	*op;

	if (m == NULL)
		return;
	sandbox_mediator_stop(m);
	/* Nothing runs on the loop any more: handed-over waits are freed. */
	while ((op = TAILQ_FIRST(&m->toloop)) != NULL) {
		TAILQ_REMOVE(&m->toloop, op, entry);
		m->npending--;
		sandbox_mediator_op_free(op);
	}
	while ((op = TAILQ_FIRST(&m->pending)) != NULL)
		sandbox_mediator_op_free(op);	/* restores socket flags */
	sandbox_mediate_inet_free(m);	/* before the waits it holds go */
	sandbox_dnsd_free(m->dns);
	m->dns = NULL;
	hosts_free(m->hosts);
	m->hosts = NULL;
	while (m->nsynth > 0)
		free(m->synth[--m->nsynth]);
	free(m->synth);
	m->synth = NULL;
	if (m->lev != NULL)
		event_free(m->lev);
	if (m->wev != NULL)
		event_free(m->wev);
	if (m->wakefd != -1)
		close(m->wakefd);
	if (m->listener != -1)
		close(m->listener);
	sandbox_mediator_policy_clear(&m->pol);
	proxy_audit_free(m->own_audit);
	if (m->pidfd != -1)
		close(m->pidfd);
	if (m->cwdfd != -1)
		close(m->cwdfd);
	if (m->diagfd != -1)
		close(m->diagfd);
	if (m->fddir != -1)
		close(m->fddir);
	pthread_mutex_destroy(&m->mu);
	free(m);
}
