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

/*
 * The notification in hand on this thread (for sandbox_mediator_to_loop)
 * and how many times this thread holds mu through the two functions
 * below (the loop also takes it directly, through dnsd: only a
 * notification thread's count is trusted, by sandbox_mediator_release).
 */
static __thread const struct seccomp_notif *cur_req;
static __thread int mu_depth;

void
sandbox_mediator_lock(struct mediator *m)
{
	(void)pthread_mutex_lock(&m->mu);
	mu_depth++;
}

void
sandbox_mediator_unlock(struct mediator *m)
{
	mu_depth--;
	(void)pthread_mutex_unlock(&m->mu);
}

bool
sandbox_mediator_release(struct mediator *m)
{
	if (on_loop(m) || mu_depth != 1)
		return false;
	sandbox_mediator_unlock(m);
	return true;
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
	pthread_mutex_init(&m->pmu, NULL);
	{
		pthread_condattr_t	ca;

		/* Its waits are timed on the monotonic clock. */
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&m->pcv, &ca);
		pthread_condattr_destroy(&ca);
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
			pthread_cond_destroy(&m->pcv);
			pthread_mutex_destroy(&m->pmu);
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
 * *keep: whether the pidfd may be kept for the tid.  A pidfd naming the
 * thread, or a leader (whose tid stays taken while its process lives),
 * fails with ESRCH once the tid could name another task; one made from
 * the Tgid of another thread would not (that thread may exit and its tid
 * go to a task of another process while the first one lives on).
 */
static int
open_pidfd(pid_t tid, bool *keep)
{
	pid_t	tgid;
	int	fd;

	*keep = true;
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
	*keep = false;
	return (int)syscall(SYS_pidfd_open, tgid, 0);
}

/*
 * Pidfds of the threads that notified last, kept per thread of ours
 * (notification threads and the loop each have their own, so no lock):
 * most calls come from a few threads again and again, and a pidfd_open
 * costs three system calls (open, ID_VALID, close of the one it
 * replaces).  A stale one (that task gone, its tid reused) fails
 * pidfd_getfd with ESRCH, since a pidfd names one task.  tid 0: empty.
 */
#define MEDIATOR_PIDFDS	8
static __thread struct {
	pid_t	tid;
	int	fd;
}		 pidfds[MEDIATOR_PIDFDS];
static __thread unsigned pidfds_next;

/* Close this thread's kept pidfds (when it leaves, or the mediator goes). */
static void
pidfds_drop(void)
{
	size_t	i;

	for (i = 0; i < MEDIATOR_PIDFDS; i++)
		if (pidfds[i].tid != 0) {
			close(pidfds[i].fd);
			pidfds[i].tid = 0;
		}
}

int
sandbox_mediator_getfd(struct mediator *m, pid_t tid, uint64_t id, int fd)
{
	size_t	i;
	int	sfd, pfd, err;
	bool	keep;

	for (i = 0; i < MEDIATOR_PIDFDS; i++)
		if (pidfds[i].tid == tid)
			break;
	if (i < MEDIATOR_PIDFDS) {
		sfd = (int)syscall(SYS_pidfd_getfd, pidfds[i].fd, fd, 0);
		if (sfd >= 0)
			return sfd;
		if (errno != ESRCH)
			return -EBADF;
		close(pidfds[i].fd);	/* stale: reopen below */
		pidfds[i].tid = 0;
	}
	if ((pfd = open_pidfd(tid, &keep)) == -1)
		return -ESRCH;
	/* The tid could have been reused before pidfd_open. */
	if (!sandbox_mediator_valid(m, id)) {
		close(pfd);
		return -ESRCH;
	}
	sfd = (int)syscall(SYS_pidfd_getfd, pfd, fd, 0);
	err = errno;
	if (!keep) {
		close(pfd);
		if (sfd == -1)
			return err == ESRCH ? -ESRCH : -EBADF;
		return sfd;
	}
	if (i == MEDIATOR_PIDFDS) {
		i = pidfds_next++ % MEDIATOR_PIDFDS;
		if (pidfds[i].tid != 0)
			close(pidfds[i].fd);
	}
	pidfds[i].tid = tid;
	pidfds[i].fd = pfd;
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

/*
 * Our duplicate is closed before the answer: the child's socket then
 * outlives it, and the child's own close() is the last one, the one that
 * tears the connection down (an RST, the socket's memory), on the
 * child's CPU time, not on a notification thread's.
 */
void
sandbox_mediator_op_finish(struct med_op *op, int err)
{
	struct mediator	*m = op->m;

	if (err != 0 && err != -EINPROGRESS && op->reg_port != 0 &&
	    m->proxy != NULL)
		proxy_server_unregister_port(m->proxy, op->reg_port);
	if (op->ev != NULL) {
		/* Before its descriptor is closed: epoll is keyed by it. */
		event_free(op->ev);
		op->ev = NULL;
		TAILQ_REMOVE(&m->pending, op, entry);
		m->npending--;
	}
	if (op->sfd != -1) {
		if (op->oflags != -1)
			(void)fcntl(op->sfd, F_SETFL, op->oflags);
		op->oflags = -1;
		close(op->sfd);
		op->sfd = -1;
	}
	answer(m, op->id, 0, err);
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
	sandbox_mediator_lock(m);
	TAILQ_INSERT_TAIL(&m->toloop, op, entry);
	m->npending++;
	sandbox_mediator_unlock(m);
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
		sandbox_mediator_lock(m);
		*m->arec_tail = a;
		m->arec_tail = &a->next;
		sandbox_mediator_unlock(m);
		wake_loop(m);
		return;
	}
	sandbox_mediator_lock(m);	/* connect's handler may not hold it */
	memset(&rec, 0, sizeof(rec));
	rec.mode = mode;
	rec.allow = allow;
	rec.would_deny = would;
	rec.host = host;
	rec.port = port;
	rec.reason = reason;
	rec.ms = -1;
	proxy_audit_write(m->audit, &rec);
	sandbox_mediator_unlock(m);
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

/*
 * One notification, to its handler by syscall number, with mu held
 * (taken here; the loop holds it already).  connect()'s handler takes
 * mu itself, for its decision only (mediator_int.h).
 */
static void
handle(struct mediator *m, const struct seccomp_notif *req)
{
	size_t	i;
	bool	full;

	if (MEDIATOR_ARCH != 0 && req->data.arch != MEDIATOR_ARCH) {
		answer(m, req->id, 0, -EACCES);
		return;
	}
	sandbox_mediator_lock(m);
	full = m->npending >= MEDIATOR_MAX_PENDING;
	sandbox_mediator_unlock(m);
	if (full) {
		answer(m, req->id, 0, -EAGAIN);
		return;
	}
	if (req->data.nr == __NR_connect) {
		sandbox_mediate_connect(m, req);
		return;
	}
	for (i = 0; i < sizeof(mediator_handlers) /
	    sizeof(mediator_handlers[0]); i++)
		if (mediator_handlers[i].nr == req->data.nr) {
			sandbox_mediator_lock(m);
			mediator_handlers[i].fn(m, req);
			sandbox_mediator_unlock(m);
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
#define MEDIATOR_THREAD_NAME	"keyhole-notify"	/* 15 bytes at most */

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

/* Queue req for the loop's thread. */
static void
forward(struct mediator *m, const struct seccomp_notif *req)
{
	struct med_fwd	*f;

	f = xmalloc(offsetof(struct med_fwd, req) + m->notif_size);
	f->next = NULL;
	memcpy(&f->req, req, m->notif_size);
	sandbox_mediator_lock(m);
	*m->fwd_tail = f;
	m->fwd_tail = &f->next;
	sandbox_mediator_unlock(m);
	wake_loop(m);
}

bool
sandbox_mediator_to_loop(struct mediator *m)
{
	if (on_loop(m) || cur_req == NULL)
		return false;
	forward(m, cur_req);
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

/* True when a notification is queued that nobody has received. */
static bool
listener_queued(int lfd)
{
	struct pollfd	pfd = { .fd = lfd, .events = POLLIN };

	return poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN) != 0;
}

/* One notification on a notification thread. */
static void
handle_one(struct mediator *m, const struct seccomp_notif *req)
{
	bool	fwd;

	if (req->data.nr == __NR_socket) {
		sandbox_mediator_lock(m);
		fwd = for_loop(m, req);
		if (fwd)
			forward(m, req);
		sandbox_mediator_unlock(m);
		if (fwd)
			return;
	}
	cur_req = req;
	handle(m, req);
	cur_req = NULL;
}

static void	*notif_main(void *);

/*
 * Start one more notification thread (pmu held), all signals blocked
 * but the one that stops it.  false when it cannot.
 */
static bool
thread_spawn(struct mediator *m)
{
	sigset_t	all, old;
	bool		ok;

	if (m->nthreads >= MEDIATOR_THREADS ||
	    __atomic_load_n(&m->stop, __ATOMIC_ACQUIRE))
		return false;
	sigfillset(&all);
	sigdelset(&all, MEDIATOR_STOP_SIG);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ok = pthread_create(&m->threads[m->nthreads], NULL, notif_main,
	    m) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ok)
		m->nthreads++;
	return ok;
}

/*
 * Leader and followers: one thread at a time (the leader) waits in
 * NOTIF_RECV, since the kernel wakes every thread waiting there for each
 * notification (its wait is not exclusive) and all but one would go back
 * to sleep for nothing.  Having received one, the leader hands the lead
 * to an idle follower (starting one, up to MEDIATOR_THREADS, when none
 * is idle) only when another notification is already queued, and handles
 * its own; otherwise it handles it and goes back to RECV itself.  So a
 * program calling from one thread is served by one thread, as before
 * (no futex wake-up, no poll: that is looked for only within
 * MEDIATOR_MULTI_CALLS calls of a change of calling thread), and a busy
 * one by several at once.  Each notification is handled with mu held
 * (connect's system calls without it: mediator_int.h), or handed to the
 * loop.
 */
static void *
notif_main(void *arg)
{
	struct mediator		*m = arg;
	struct seccomp_notif	*req;
	struct timespec		 ts;
	bool			 failed = false, lead = false, look, first;
	int			 rc, err;

	req = xmalloc(m->notif_size);
	/* Seen in ps and /proc/PID/task/TID/comm (and by the tests). */
	(void)pthread_setname_np(pthread_self(), MEDIATOR_THREAD_NAME);
	/* Unix binds fchdir() and umask(): ours alone, not the loop's. */
	if (unshare(CLONE_FS) == -1) {
		log_warn("mediator thread: unshare(CLONE_FS)");
		(void)pthread_mutex_lock(&m->pmu);
		/* The first one's failure hands everything to the loop; a
		 * later one's leaves fewer threads. */
		first = pthread_equal(m->threads[0], pthread_self()) != 0;
		(void)pthread_mutex_unlock(&m->pmu);
		if (!first) {
			free(req);
			return NULL;
		}
		failed = true;
	}
	(void)pthread_mutex_lock(&m->pmu);
	while (!failed) {
		/*
		 * Follow until the lead is free.  Whoever frees it, ends
		 * the run or stops us signals pcv: the time-out is only a
		 * safety net, long so that idle followers of a long run do
		 * not wake for nothing.
		 */
		while (!lead && m->leading && !m->done &&
		    !__atomic_load_n(&m->stop, __ATOMIC_ACQUIRE)) {
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_sec += MEDIATOR_FOLLOW_S;
			m->idle++;
			(void)pthread_cond_timedwait(&m->pcv, &m->pmu, &ts);
			m->idle--;
		}
		if (m->done || __atomic_load_n(&m->stop, __ATOMIC_ACQUIRE))
			break;
		lead = m->leading = true;
		(void)pthread_mutex_unlock(&m->pmu);

		memset(req, 0, m->notif_size);
		rc = ioctl(m->listener, SECCOMP_IOCTL_NOTIF_RECV, req);
		err = errno;

		(void)pthread_mutex_lock(&m->pmu);
		if (rc == -1) {
			if (err == EINTR)
				continue;
			if (err == ENOENT) {
				/* Its task went away, or all of them did. */
				if (listener_hung_up(m->listener)) {
					m->done = true;
					break;
				}
				continue;
			}
			errno = err;
			log_warn("seccomp notification");
			/* All leave; the loop answers from now on. */
			failed = m->done = true;
			break;
		}
		if ((pid_t)req->pid != m->last_tid) {
			m->last_tid = (pid_t)req->pid;
			m->multi = MEDIATOR_MULTI_CALLS;
		} else if (m->multi > 0)
			m->multi--;
		/* Worth a look only if someone could take the lead. */
		look = m->multi > 0 && (m->idle > 0 ||
		    m->nthreads < MEDIATOR_THREADS);
		if (look && listener_queued(m->listener) &&
		    (m->idle > 0 || thread_spawn(m))) {
			/* More is queued: a follower takes the lead. */
			m->leading = lead = false;
			(void)pthread_cond_signal(&m->pcv);
		}
		(void)pthread_mutex_unlock(&m->pmu);

		handle_one(m, req);

		(void)pthread_mutex_lock(&m->pmu);
	}
	if (lead)
		m->leading = false;
	if (m->done || failed)
		(void)pthread_cond_broadcast(&m->pcv);
	(void)pthread_mutex_unlock(&m->pmu);
	free(req);
	pidfds_drop();
	if (failed) {
		sandbox_mediator_lock(m);
		m->thread_gone = true;
		sandbox_mediator_unlock(m);
		wake_loop(m);
	}
	return NULL;
}

/*
 * Start the first notification thread (more start when the child is
 * busy: notif_main).  false when it cannot run.
 */
static bool
thread_start(struct mediator *m)
{
	struct sigaction	sa;
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
	(void)pthread_mutex_lock(&m->pmu);
	ok = thread_spawn(m);
	(void)pthread_mutex_unlock(&m->pmu);
	m->threaded = ok;
	return ok;
}

void
sandbox_mediator_stop(struct mediator *m)
{
	struct timespec	ts;
	pthread_t	t;
	int		i;

	if (m == NULL)
		return;
	if (m->threaded && !m->joined) {
		__atomic_store_n(&m->stop, 1, __ATOMIC_RELEASE);
		/*
		 * No thread starts once stop is seen (under pmu); a running
		 * one may start another, so joined in order until none is
		 * left.
		 */
		for (i = 0;; i++) {
			(void)pthread_mutex_lock(&m->pmu);
			(void)pthread_cond_broadcast(&m->pcv);
			if (i >= m->nthreads) {
				(void)pthread_mutex_unlock(&m->pmu);
				break;
			}
			t = m->threads[i];
			(void)pthread_mutex_unlock(&m->pmu);
			/* Again until it is out: the signal may come before
			 * RECV. */
			for (;;) {
				(void)pthread_kill(t, MEDIATOR_STOP_SIG);
				clock_gettime(CLOCK_REALTIME, &ts);
				ts.tv_nsec += 20 * 1000 * 1000;
				if (ts.tv_nsec >= 1000000000L) {
					ts.tv_sec++;
					ts.tv_nsec -= 1000000000L;
				}
				if (pthread_timedjoin_np(t, NULL, &ts) == 0)
					break;
			}
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
	pidfds_drop();		/* the loop's */
	if (m->cwdfd != -1)
		close(m->cwdfd);
	if (m->diagfd != -1)
		close(m->diagfd);
	if (m->fddir != -1)
		close(m->fddir);
	pthread_cond_destroy(&m->pcv);
	pthread_mutex_destroy(&m->pmu);
	pthread_mutex_destroy(&m->mu);
	free(m);
}
