#include "sandbox/mediator.h"

#include <sys/ioctl.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/netlink.h>
#include <linux/seccomp.h>

#include "policy/allowlist.h"
#include "policy/plan.h"
#include "proxy/audit.h"
#include "proxy/dns.h"
#include "proxy/guard.h"
#include "proxy/server.h"
#include "util/log.h"
#include "util/ports.h"
#include "util/xmalloc.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open		434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd		438
#endif
#ifndef PIDFD_THREAD
#define PIDFD_THREAD		O_EXCL	/* Linux 6.9 */
#endif
#ifndef SECCOMP_GET_ACTION_AVAIL
#define SECCOMP_GET_ACTION_AVAIL	2
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

/* Text of an address or path in audit records and logs. */
#define MEDIATOR_WHAT_MAX	(PATH_MAX + 8)

/* One notification being answered: the dup'ed socket and our copy. */
struct med_op {
	struct mediator		*m;		/* borrowed */
	TAILQ_ENTRY(med_op)	 entry;
	uint64_t		 id;
	pid_t			 tid;
	int			 sfd;		/* owned: the child's socket */
	int			 pathfd;	/* owned: O_PATH socket, or -1 */
	int			 oflags;	/* to restore, -1: untouched */
	struct sockaddr_storage	 addr;		/* what we connect to */
	socklen_t		 len;
	enum mediator_verdict	 verdict;
	uint16_t		 reg_port;	/* registered, 0: none */
	struct event		*ev;		/* owned: write wait or retry */
	bool			 retry;		/* ev is the retry timer */
};
TAILQ_HEAD(med_ops, med_op);

struct mediator {
	const struct plan	*plan;		/* borrowed */
	struct event_base	*base;		/* borrowed */
	struct proxy		*proxy;		/* borrowed or NULL */
	struct audit		*audit;		/* borrowed or own_audit */
	struct audit		*own_audit;	/* owned or NULL */
	struct mediator_policy	 pol;		/* owned */
	struct sockaddr_in	 self;		/* the proxy's address */
	int			 listener;	/* owned or -1 */
	struct event		*lev;		/* owned */
	struct med_ops		 pending;
	size_t			 npending;
	size_t			 notif_size;
	size_t			 resp_size;
	unsigned long		 answered;
	/*
	 * The last notifying thread's pidfd, kept: most connects come from
	 * the same thread.  A stale one (that task gone, its tid reused)
	 * fails pidfd_getfd with ESRCH, since a pidfd names one task.
	 */
	int			 pidfd;		/* owned or -1 */
	pid_t			 pidfd_tid;
	bool			 sync_ok;	/* kernel has sync wake-ups */
	bool			 sync;		/* and they are on */
	unsigned		 singles;	/* wakes with one notification */
};

/* ---- the decision table (pure) ---------------------------------------- */

/*
 * Copy an inet address into out with IPv4-mapped IPv6 turned into IPv4,
 * and its port.  false when it is too short for its family.
 */
static bool
inet_norm(const struct sockaddr *sa, socklen_t len,
    struct sockaddr_storage *out, uint16_t *port)
{
	struct sockaddr_in		*o4 = (struct sockaddr_in *)out;
	const struct sockaddr_in	*s4;
	const struct sockaddr_in6	*s6;
	struct sockaddr_in6		*o6 = (struct sockaddr_in6 *)out;

	memset(out, 0, sizeof(*out));
	if (sa->sa_family == AF_INET) {
		if (len < (socklen_t)sizeof(*s4))
			return false;
		s4 = (const struct sockaddr_in *)sa;
		o4->sin_family = AF_INET;
		o4->sin_addr = s4->sin_addr;
		*port = ntohs(s4->sin_port);
		return true;
	}
	/* The kernel takes IPv6 addresses without sin6_scope_id. */
	if (sa->sa_family != AF_INET6 ||
	    len < (socklen_t)offsetof(struct sockaddr_in6, sin6_scope_id))
		return false;
	s6 = (const struct sockaddr_in6 *)sa;
	*port = ntohs(s6->sin6_port);
	if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		o4->sin_family = AF_INET;
		memcpy(&o4->sin_addr, &s6->sin6_addr.s6_addr[12], 4);
		return true;
	}
	o6->sin6_family = AF_INET6;
	o6->sin6_addr = s6->sin6_addr;
	return true;
}

/* Equal normalised addresses (ports and scope ignored). */
static bool
inet_same(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		    ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (a->ss_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		    &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
	return false;
}

static bool
inet_is_lo4(const struct sockaddr_storage *a)
{
	return a->ss_family == AF_INET &&
	    ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
	    htonl(INADDR_LOOPBACK);
}

static bool
inet_is_lo6(const struct sockaddr_storage *a)
{
	return a->ss_family == AF_INET6 &&
	    IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)a)->sin6_addr);
}

enum mediator_verdict
sandbox_mediator_decide_inet(const struct mediator_policy *pol,
    const struct sockaddr *sa, socklen_t len, const char **reason,
    const struct mediator_grant **grant)
{
	struct sockaddr_storage	 a, ga;
	const struct mediator_grant *g;
	char			 text[INET6_ADDRSTRLEN];
	uint16_t		 port, gport;
	size_t			 i, j;
	bool			 cred_hit = false;

	*reason = NULL;
	if (grant != NULL)
		*grant = NULL;
	if (!inet_norm(sa, len, &a, &port)) {
		*reason = "malformed address";
		return MEDIATOR_DENY;
	}
	if (pol->proxy_port != 0 && port == pol->proxy_port && inet_is_lo4(&a))
		return MEDIATOR_PROXY;
	if (pol->open_ports != NULL && ports_has(pol->open_ports, port) &&
	    (inet_is_lo4(&a) || inet_is_lo6(&a)))
		return MEDIATOR_OPEN_PORT;
	for (i = 0; i < pol->ngrants; i++) {
		g = &pol->grants[i];
		if (g->port != port)
			continue;
		for (j = 0; j < g->naddrs; j++) {
			if (!inet_norm((const struct sockaddr *)&g->addrs[j],
			    sizeof(g->addrs[j]), &ga, &gport) ||
			    !inet_same(&a, &ga))
				continue;
			/* Routes are decided now: their addresses may have
			 * resolved after the grant did (SPEC §4.5). */
			if (pol->cred != NULL &&
			    (pol->cred(pol->cred_arg, g->host, port) ||
			    (proxy_guard_ntop((const struct sockaddr *)&a,
			    text, sizeof(text)) != NULL &&
			    pol->cred(pol->cred_arg, text, port)))) {
				cred_hit = true;
				continue;
			}
			if (grant != NULL)
				*grant = g;
			return MEDIATOR_GRANT;
		}
	}
	if (cred_hit)
		*reason = "credential upstream: direct connect bypasses L7 "
		    "filtering";
	else if (pol->proxy_port != 0 && port == pol->proxy_port)
		*reason = "not the proxy's address";
	else
		*reason = "no direct grant for this address and port";
	return MEDIATOR_DENY;
}

/* True when path is dir or lies below it (both absolute, canonical). */
static bool
path_within(const char *path, const char *dir)
{
	size_t	n = strlen(dir);

	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (n == 1 && dir[0] == '/')
		return path[0] == '/';
	return strncmp(path, dir, n) == 0 &&
	    (path[n] == '\0' || path[n] == '/');
}

enum mediator_verdict
sandbox_mediator_decide_unix(const struct mediator_policy *pol,
    const char *path, const char **reason)
{
	size_t	i;

	*reason = NULL;
	if (path[0] != '/') {
		*reason = "unix socket path is not absolute";
		return MEDIATOR_DENY;
	}
	for (i = 0; i < pol->unix_allow.n; i++)
		if (path_within(path, pol->unix_allow.v[i]))
			return MEDIATOR_UNIX;
	for (i = 0; i < pol->unix_dirs.n; i++)
		if (path_within(path, pol->unix_dirs.v[i]))
			return MEDIATOR_UNIX;
	*reason = "unix socket outside granted paths";
	return MEDIATOR_DENY;
}

/* path made absolute (against our cwd) and symlink-free where it exists. */
static char *
canon_path(const char *path)
{
	char	 cwd[PATH_MAX], *abs, *r, *slash, *dir;

	if (path[0] == '/')
		abs = xstrdup(path);
	else if (getcwd(cwd, sizeof(cwd)) != NULL)
		abs = xasprintf("%s/%s", cwd, path);
	else
		return xstrdup(path);
	if ((r = realpath(abs, NULL)) != NULL) {
		free(abs);
		return r;
	}
	/* Not there yet: resolve the directory, keep the name. */
	slash = strrchr(abs, '/');
	if (slash != NULL && slash != abs) {
		dir = xstrndup(abs, (size_t)(slash - abs));
		if ((r = realpath(dir, NULL)) != NULL) {
			free(dir);
			dir = xasprintf("%s%s", r, slash);
			free(r);
			free(abs);
			return dir;
		}
		free(dir);
	}
	return abs;
}

void
sandbox_mediator_policy_unix(struct mediator_policy *pol,
    const struct plan *p)
{
	size_t	i;

	for (i = 0; i < p->ngrants; i++)
		if (p->grants[i].access & FS_WRITE)
			strv_push_owned(&pol->unix_dirs,
			    canon_path(p->grants[i].path));
	for (i = 0; i < p->allow_unix_socket.n; i++)
		strv_push_owned(&pol->unix_allow,
		    canon_path(p->allow_unix_socket.v[i]));
}

void
sandbox_mediator_policy_clear(struct mediator_policy *pol)
{
	size_t	i;

	for (i = 0; i < pol->ngrants; i++) {
		if (pol->grants[i].req != NULL)
			proxy_dns_cancel(pol->grants[i].req);
		if (pol->grants[i].timer != NULL)
			event_free(pol->grants[i].timer);
		free(pol->grants[i].host);
		free(pol->grants[i].addrs);
	}
	free(pol->grants);
	strv_free(&pol->unix_dirs);
	strv_free(&pol->unix_allow);
	memset(pol, 0, sizeof(*pol));
}

/* ---- grants ----------------------------------------------------------- */

/* Append addr to g if the address guard lets it through. */
static void
grant_add_addr(struct mediator *m, struct mediator_grant *g,
    const struct sockaddr *sa, struct sockaddr_storage **v, size_t *n)
{
	struct sockaddr_storage	 ss;
	struct errbuf		 e;
	size_t			 i;

	if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
		return;
	/*
	 * Check the address the child would reach, on the grant's port: a
	 * resolver answer has port 0, which would compare as the proxy's
	 * own address when there is no proxy.
	 */
	memset(&ss, 0, sizeof(ss));
	memcpy(&ss, sa, sa->sa_family == AF_INET ?
	    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
	if (ss.ss_family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_port = htons(g->port);
	else
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(g->port);
	sa = (const struct sockaddr *)&ss;
	if (proxy_guard_check(sa, (const struct sockaddr *)&m->self,
	    g->explicit, &e) == -1) {
		log_warnx("direct grant %s:%u: %s: not granted", g->host,
		    g->port, errbuf_msg(&e));
		return;
	}
	for (i = 0; i < *n; i++)
		if (proxy_guard_same_addr(sa, (struct sockaddr *)&(*v)[i]))
			return;
	*v = xreallocarray(*v, *n + 1, sizeof(**v));
	memset(&(*v)[*n], 0, sizeof(**v));
	memcpy(&(*v)[*n], sa, sa->sa_family == AF_INET ?
	    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
	(*n)++;
}

/* Blocking first resolution of g (start-up only). */
static void
grant_resolve_now(struct mediator *m, struct mediator_grant *g, bool lit)
{
	struct addrinfo	 hints, *res = NULL, *ai;
	int		 rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = lit ? AI_NUMERICHOST : 0;
	rc = getaddrinfo(g->host, NULL, &hints, &res);
	if (rc != 0) {
		log_warnx("direct grant %s:%u: cannot resolve %s: %s; it allows "
		    "nothing until a refresh succeeds", g->host, g->port,
		    g->host, gai_strerror(rc));
		return;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next)
		grant_add_addr(m, g, ai->ai_addr, &g->addrs, &g->naddrs);
	freeaddrinfo(res);
}

/* Build the grants of plan p: --resolve, IP literals, else DNS. */
static void
grants_build(struct mediator *m, const struct plan *p)
{
	const struct allow_entry *ae;
	struct mediator_grant	*g;
	size_t			 i, j;

	for (i = 0; i < p->allow.n; i++) {
		ae = &p->allow.v[i];
		if (!ae->direct || ae->port == 0 || ae->kind == ALLOW_SUFFIX)
			continue;
		m->pol.grants = xreallocarray(m->pol.grants,
		    m->pol.ngrants + 1, sizeof(*m->pol.grants));
		g = &m->pol.grants[m->pol.ngrants++];
		memset(g, 0, sizeof(*g));
		g->host = xstrdup(ae->host);
		g->port = ae->port;
		g->m = m;
		for (j = 0; j < p->nresolve; j++) {
			if (p->resolve[j].port != g->port ||
			    strcmp(p->resolve[j].host, g->host) != 0)
				continue;
			g->explicit = true;
			grant_add_addr(m, g,
			    (const struct sockaddr *)&p->resolve[j].addr,
			    &g->addrs, &g->naddrs);
		}
		if (g->explicit)
			continue;
		/* An IP literal or "localhost" names its address on purpose
		 * (SPEC 4.4), as in the proxy. */
		g->explicit = ae->kind == ALLOW_IP ||
		    strcmp(ae->host, "localhost") == 0;
		grant_resolve_now(m, g, ae->kind == ALLOW_IP);
	}
}

/* Re-resolve g in secs seconds. */
static void
grant_schedule(struct mediator_grant *g, uint32_t secs)
{
	struct timeval	tv = { (time_t)secs, 0 };

	if (evtimer_add(g->timer, &tv) == -1)
		log_warnx("direct grant %s:%u: cannot schedule its refresh; "
		    "keeping its addresses", g->host, g->port);
}

/* How long an answer with this TTL is used. */
static uint32_t
grant_ttl_secs(uint32_t ttl)
{
	if (ttl == DNS_TTL_UNKNOWN)
		return MEDIATOR_REFRESH_S;
	if (ttl < MEDIATOR_TTL_MIN_S)
		return MEDIATOR_TTL_MIN_S;
	return ttl > MEDIATOR_TTL_MAX_S ? MEDIATOR_TTL_MAX_S : ttl;
}

static void
grant_refreshed(const char *error, const struct sockaddr_storage *addrs,
    size_t n, uint32_t ttl, void *arg)
{
	struct mediator_grant	*g = arg;
	struct sockaddr_storage	*v = NULL;
	size_t			 i, nv = 0;

	g->req = NULL;
	if (error != NULL) {
		log_debug("%s: direct grant %s:%u: %s; keeping the old "
		    "addresses", __func__, g->host, g->port, error);
		grant_schedule(g, MEDIATOR_RETRY_S);
		return;
	}
	for (i = 0; i < n; i++)
		grant_add_addr(g->m, g, (const struct sockaddr *)&addrs[i],
		    &v, &nv);
	if (nv == 0) {
		/* Only guarded answers (a rebinding attempt): keep the old. */
		free(v);
		grant_schedule(g, MEDIATOR_RETRY_S);
		return;
	}
	free(g->addrs);
	g->addrs = v;
	g->naddrs = nv;
	log_debug("%s: direct grant %s:%u: %zu addresses for %u s", __func__,
	    g->host, g->port, nv, grant_ttl_secs(ttl));
	grant_schedule(g, grant_ttl_secs(ttl));
}

/* A grant's addresses expired: ask again (their TTL is learnt too). */
static void
on_grant_expired(evutil_socket_t fd, short what, void *arg)
{
	struct mediator_grant	*g = arg;
	struct dns		*dns;

	(void)fd;
	(void)what;
	if (g->req != NULL || (dns = proxy_server_dns(g->m->proxy)) == NULL)
		return;
	g->req = proxy_dns_resolve_ttl(dns, g->host, g->port,
	    grant_refreshed, g);
}

/*
 * Names (not --resolve, not literals) are looked up once more right away
 * through the resolver that reports TTLs, then whenever theirs runs out.
 */
static int
grants_schedule(struct mediator *m, struct errbuf *e)
{
	struct mediator_grant	*g;
	size_t			 i;

	if (m->proxy == NULL)
		return 0;
	for (i = 0; i < m->pol.ngrants; i++) {
		g = &m->pol.grants[i];
		if (g->explicit)
			continue;
		g->timer = evtimer_new(m->base, on_grant_expired, g);
		if (g->timer == NULL) {
			errbuf_set(e, "direct grant %s:%u: cannot schedule "
			    "its refresh", g->host, g->port);
			return -1;
		}
		grant_schedule(g, 0);
	}
	return 0;
}

static bool
cred_upstream(void *arg, const char *host, uint16_t port)
{
	return proxy_server_cred_upstream(arg, host, port) != NULL;
}

struct mediator *
sandbox_mediator_new(const struct plan *p, struct event_base *base,
    struct proxy *proxy, uint16_t proxy_port, struct errbuf *e)
{
	struct mediator		*m;
	struct seccomp_notif_sizes sizes;

	if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) != 0) {
		errbuf_sys(e, "seccomp notification sizes");
		return NULL;
	}
	m = xcalloc(1, sizeof(*m));
	m->plan = p;
	m->base = base;
	m->proxy = proxy;
	m->listener = -1;
	m->pidfd = -1;
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
		m->pol.cred = cred_upstream;
		m->pol.cred_arg = proxy;
	} else {
		m->self.sin_family = AF_INET;
		m->self.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		m->self.sin_port = htons(proxy_port);
		if ((m->own_audit = proxy_audit_open(p->audit_log, e)) ==
		    NULL) {
			free(m);
			return NULL;
		}
		m->audit = m->own_audit;
	}
	m->pol.proxy_port = p->mode == NET_PROXY ? proxy_port : 0;
	m->pol.open_ports = &p->open_ports;
	sandbox_mediator_policy_unix(&m->pol, p);
	if (p->mode == NET_PROXY)
		grants_build(m, p);
	if (grants_schedule(m, e) == -1) {
		sandbox_mediator_free(m);
		return NULL;
	}
	return m;
}

/* ---- talking to the kernel -------------------------------------------- */

static bool
notif_valid(const struct mediator *m, uint64_t id)
{
	return ioctl(m->listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

/* Answer notification id with 0 or -errno. */
static void
answer(struct mediator *m, uint64_t id, int err)
{
	struct seccomp_notif_resp	*resp;

	if (m->listener == -1)
		return;
	resp = xcalloc(1, m->resp_size);
	resp->id = id;
	resp->val = 0;
	resp->error = err;
	resp->flags = 0;	/* never SECCOMP_USER_NOTIF_FLAG_CONTINUE */
	if (ioctl(m->listener, SECCOMP_IOCTL_NOTIF_SEND, resp) == -1 &&
	    errno != ENOENT)
		log_warn("seccomp answer %llu", (unsigned long long)id);
	free(resp);
	m->answered++;
}

/* Read len bytes at the child's addr, once. */
static int
read_child(pid_t tid, uint64_t addr, void *buf, size_t len)
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

/* The thread group id of tid from /proc, or -1. */
static pid_t
read_tgid(pid_t tid)
{
	char		 path[64], buf[512], *s;
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
	if ((s = strstr(buf, "\nTgid:")) == NULL)
		return -1;
	v = strtol(s + 6, NULL, 10);
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

/* ---- one notification ------------------------------------------------- */

static void
op_free(struct med_op *op)
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
	free(op);
}

/* Answer op with err (0 or -errno) and free it. */
static void
op_finish(struct med_op *op, int err)
{
	if (err != 0 && err != -EINPROGRESS && op->reg_port != 0 &&
	    op->m->proxy != NULL)
		proxy_server_unregister_port(op->m->proxy, op->reg_port);
	if (op->sfd != -1 && op->oflags != -1) {
		(void)fcntl(op->sfd, F_SETFL, op->oflags);
		op->oflags = -1;
	}
	answer(op->m, op->id, err);
	op_free(op);
}

static void
audit_direct(struct mediator *m, bool allow, const char *host, int port,
    const char *reason)
{
	struct audit_rec	rec;

	memset(&rec, 0, sizeof(rec));
	rec.mode = "direct";
	rec.allow = allow;
	rec.host = host;
	rec.port = port;
	rec.reason = reason;
	rec.ms = -1;
	proxy_audit_write(m->audit, &rec);
}

/*
 * Connections to the proxy port are registered by their local port right
 * away, before the proxy's accept can run on this loop (SPEC §4.2).  Only
 * a 127.0.0.1 source: the proxy matches on the port alone.
 */
static void
op_register(struct med_op *op)
{
	struct sockaddr_storage	 ss, n;
	socklen_t		 sl = sizeof(ss);
	uint16_t		 port;

	if (op->verdict != MEDIATOR_PROXY || op->m->proxy == NULL)
		return;
	if (getsockname(op->sfd, (struct sockaddr *)&ss, &sl) == -1 ||
	    !inet_norm((struct sockaddr *)&ss, sl, &n, &port) ||
	    !inet_is_lo4(&n) || port == 0)
		return;
	proxy_server_register_port(op->m->proxy, port);
	op->reg_port = port;
}

static void	op_connect(struct med_op *);

static void
on_op_event(evutil_socket_t fd, short what, void *arg)
{
	struct med_op	*op = arg;
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
		if (!notif_valid(op->m, op->id)) {
			op_free(op);
			return;
		}
		op_connect(op);
		return;
	}
	if (what & EV_TIMEOUT) {
		/* SO_SNDTIMEO passed: what a blocking connect says then. */
		op_finish(op, -EINPROGRESS);
		return;
	}
	if (getsockopt(op->sfd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == -1)
		soerr = errno;
	op_finish(op, -soerr);
}

/* Park op on the loop: EV_WRITE on the socket, or a retry timer. */
static void
op_wait(struct med_op *op, bool retry)
{
	struct mediator	*m = op->m;
	struct timeval	 tv, *tvp = NULL;
	socklen_t	 sl = sizeof(tv);

	if (retry) {
		tv.tv_sec = 0;
		tv.tv_usec = MEDIATOR_UNIX_RETRY_MS * 1000;
		tvp = &tv;
		op->retry = true;
		op->ev = event_new(m->base, -1, 0, on_op_event, op);
	} else {
		if (getsockopt(op->sfd, SOL_SOCKET, SO_SNDTIMEO, &tv,
		    &sl) == 0 && (tv.tv_sec != 0 || tv.tv_usec != 0))
			tvp = &tv;
		op->ev = event_new(m->base, op->sfd, EV_WRITE, on_op_event,
		    op);
	}
	if (op->ev == NULL || event_add(op->ev, tvp) == -1) {
		if (op->ev != NULL)
			event_free(op->ev);
		op->ev = NULL;
		op_finish(op, -ENOMEM);
		return;
	}
	TAILQ_INSERT_TAIL(&m->pending, op, entry);
	m->npending++;
}

/*
 * connect() on our duplicate with our copy.  The supervisor never blocks:
 * a blocking socket is made non-blocking for the duration and its
 * completion awaited on the loop.
 */
static void
op_connect(struct med_op *op)
{
	int	rc, err;
	bool	blocking = op->oflags != -1;

	rc = connect(op->sfd, (struct sockaddr *)&op->addr, op->len);
	err = rc == 0 ? 0 : errno;
	if (rc == 0) {
		op_register(op);
		op_finish(op, 0);
		return;
	}
	if (err == EINPROGRESS || (blocking && err == EALREADY)) {
		struct pollfd	pfd = { .fd = op->sfd, .events = POLLOUT };
		socklen_t	sl = sizeof(int);
		int		soerr = 0;

		op_register(op);
		if (!blocking) {
			op_finish(op, -EINPROGRESS);
			return;
		}
		/*
		 * Loopback connects are nearly always complete already: answer
		 * in this turn rather than a loop round trip later.
		 */
		if (poll(&pfd, 1, 0) == 1 && getsockopt(op->sfd, SOL_SOCKET,
		    SO_ERROR, &soerr, &sl) == 0) {
			op_finish(op, -soerr);
			return;
		}
		op_wait(op, false);
		return;
	}
	/* A blocking AF_UNIX connect waits for room in the backlog. */
	if (err == EAGAIN && blocking && op->addr.ss_family == AF_UNIX) {
		op_wait(op, true);
		return;
	}
	op_finish(op, -err);
}

/*
 * Take the child's socket (pidfd_getfd), check it is what the verdict is
 * about, and connect.  fd is the child's descriptor number.
 */
static void
op_start(struct med_op *op, int fd, const char *what, int port)
{
	struct mediator	*m = op->m;
	int		 v, fl, err = ESRCH;
	socklen_t	 sl = sizeof(v);

	op->sfd = -1;
	if (m->pidfd != -1 && m->pidfd_tid == op->tid) {
		op->sfd = (int)syscall(SYS_pidfd_getfd, m->pidfd, fd, 0);
		err = errno;
		if (op->sfd == -1 && err == ESRCH) {
			close(m->pidfd);		/* stale: reopen below */
			m->pidfd = -1;
		}
	}
	if (op->sfd == -1 && err == ESRCH) {
		if (m->pidfd != -1)
			close(m->pidfd);
		if ((m->pidfd = open_pidfd(op->tid)) == -1) {
			op_finish(op, -ESRCH);
			return;
		}
		m->pidfd_tid = op->tid;
		/* The tid could have been reused before pidfd_open. */
		if (!notif_valid(m, op->id)) {
			close(m->pidfd);
			m->pidfd = -1;
			op_free(op);
			return;
		}
		op->sfd = (int)syscall(SYS_pidfd_getfd, m->pidfd, fd, 0);
		err = errno;
	}
	if (op->sfd == -1) {
		op_finish(op, err == ESRCH ? -ESRCH : -EBADF);
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
		if (getsockopt(op->sfd, SOL_SOCKET, SO_PROTOCOL, &v, &sl) ==
		    -1) {
			op_finish(op, errno == ENOTSOCK ? -ENOTSOCK : -errno);
			return;
		}
		if (v != IPPROTO_TCP) {
			audit_direct(m, false, what, port, "not a TCP socket");
			op_finish(op, -EACCES);
			return;
		}
		break;
	case MEDIATOR_UNIX:
		if (getsockopt(op->sfd, SOL_SOCKET, SO_DOMAIN, &v, &sl) ==
		    -1) {
			op_finish(op, errno == ENOTSOCK ? -ENOTSOCK : -errno);
			return;
		}
		if (v != AF_UNIX) {
			op_finish(op, -EAFNOSUPPORT);
			return;
		}
		break;
	default:
		break;
	}
	if ((fl = fcntl(op->sfd, F_GETFL)) == -1) {
		op_finish(op, -errno);
		return;
	}
	if (!(fl & O_NONBLOCK)) {
		/* Shared file description: restored before we answer. */
		if (fcntl(op->sfd, F_SETFL, fl | O_NONBLOCK) == -1) {
			op_finish(op, -errno);
			return;
		}
		op->oflags = fl;
	}
	op_connect(op);
}

/*
 * Open the socket a pathname names, as the child would: relative to its
 * working directory, symlinks followed.  The O_PATH fd pins the inode we
 * decide on and connect to (via /proc/self/fd/N), so a swapped symlink
 * after the check changes nothing.  0, or -errno; *canon is owned.
 */
static int
unix_open(struct med_op *op, const char *path, char **canon)
{
	char		 link[64], buf[PATH_MAX];
	struct stat	 st;
	ssize_t		 n;
	int		 dirfd = AT_FDCWD, fd, err;

	*canon = NULL;
	if (path[0] != '/') {
		snprintf(link, sizeof(link), "/proc/%ld/cwd", (long)op->tid);
		dirfd = open(link, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (dirfd == -1)
			return -ESRCH;
		if (!notif_valid(op->m, op->id)) {
			close(dirfd);
			return -ESRCH;
		}
	}
	fd = openat(dirfd, path, O_PATH | O_CLOEXEC);
	err = errno;
	if (dirfd != AT_FDCWD)
		close(dirfd);
	if (fd == -1)
		return err == ENOENT || err == ENOTDIR || err == ELOOP ||
		    err == EACCES || err == ENAMETOOLONG ? -err : -ENOENT;
	if (fstat(fd, &st) == -1 || !S_ISSOCK(st.st_mode)) {
		close(fd);
		return -ECONNREFUSED;
	}
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, buf, sizeof(buf) - 1);
	if (n <= 0) {
		close(fd);
		return -ENOENT;
	}
	buf[n] = '\0';
	op->pathfd = fd;
	*canon = xstrdup(buf);
	return 0;
}

/* Point op->addr at the pinned socket inode. */
static void
unix_addr(struct med_op *op)
{
	struct sockaddr_un	*sun = (struct sockaddr_un *)&op->addr;
	int			 n;

	memset(&op->addr, 0, sizeof(op->addr));
	sun->sun_family = AF_UNIX;
	n = snprintf(sun->sun_path, sizeof(sun->sun_path), "/proc/self/fd/%d",
	    op->pathfd);
	op->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
	    (size_t)n + 1);
}

static void
handle_unix(struct med_op *op, int fd)
{
	struct mediator		*m = op->m;
	struct sockaddr_un	*sun = (struct sockaddr_un *)&op->addr;
	const size_t		 off = offsetof(struct sockaddr_un, sun_path);
	const char		*reason;
	char			 path[sizeof(sun->sun_path) + 1], *canon, *what;
	size_t			 n;
	int			 err;

	if (op->len <= off) {
		/* Unnamed: the kernel answers it (EINVAL). */
		op->verdict = MEDIATOR_PASS;
		op_start(op, fd, "unix:", -1);
		return;
	}
	n = op->len - off;
	if (n > sizeof(sun->sun_path))
		n = sizeof(sun->sun_path);
	if (sun->sun_path[0] == '\0') {
		audit_direct(m, false, "unix:@", -1, "abstract unix socket");
		op_finish(op, -EACCES);
		return;
	}
	n = strnlen(sun->sun_path, n);
	memcpy(path, sun->sun_path, n);
	path[n] = '\0';
	if ((err = unix_open(op, path, &canon)) != 0) {
		if (err == -ESRCH && !notif_valid(m, op->id)) {
			op_free(op);
			return;
		}
		/* Not there or not a socket: what the kernel would say
		 * (existence is no secret: Landlock lets stat() through). */
		log_debug("%s: unix:%s: %s", __func__, path, strerror(-err));
		op_finish(op, err);
		return;
	}
	what = xasprintf("unix:%s", canon);
	op->verdict = sandbox_mediator_decide_unix(&m->pol, canon, &reason);
	free(canon);
	if (op->verdict == MEDIATOR_DENY) {
		audit_direct(m, false, what, -1, reason);
		free(what);
		op_finish(op, -EACCES);
		return;
	}
	audit_direct(m, true, what, -1, "unix socket granted");
	unix_addr(op);
	op_start(op, fd, what, -1);
	free(what);
}

static void
handle_inet(struct med_op *op, int fd)
{
	struct mediator			*m = op->m;
	const struct mediator_grant	*g = NULL;
	struct sockaddr_storage		 n;
	const char			*reason;
	char				 host[INET6_ADDRSTRLEN];
	uint16_t			 port;

	if (!inet_norm((struct sockaddr *)&op->addr, op->len, &n, &port)) {
		op_finish(op, -EINVAL);
		return;
	}
	if (proxy_guard_ntop((struct sockaddr *)&op->addr, host,
	    sizeof(host)) == NULL)
		snprintf(host, sizeof(host), "?");
	op->verdict = sandbox_mediator_decide_inet(&m->pol,
	    (struct sockaddr *)&op->addr, op->len, &reason, &g);
	switch (op->verdict) {
	case MEDIATOR_DENY:
		audit_direct(m, false, host, port, reason);
		op_finish(op, -EACCES);
		return;
	case MEDIATOR_PROXY:
		log_debug("%s: connect to the proxy", __func__);
		break;
	case MEDIATOR_OPEN_PORT:
		audit_direct(m, true, host, port, "open port");
		break;
	default:
		audit_direct(m, true, host, port, "direct grant");
		break;
	}
	op_start(op, fd, host, port);
}

/*
 * One notification.  The address is copied out of the child once and
 * every decision is taken on that copy: the child can rewrite its memory
 * after we look (SPEC §1, layer 3).
 */
static void
handle(struct mediator *m, const struct seccomp_notif *req)
{
	struct med_op		*op;
	struct sockaddr_nl	*nl;
	int64_t			 ulen = (int32_t)req->data.args[2];
	int			 fd = (int)req->data.args[0];

	if (req->data.nr != __NR_connect ||
	    (MEDIATOR_ARCH != 0 && req->data.arch != MEDIATOR_ARCH)) {
		answer(m, req->id, -EACCES);
		return;
	}
	if (m->npending >= MEDIATOR_MAX_PENDING) {
		answer(m, req->id, -EAGAIN);
		return;
	}
	/* The kernel's own limits for a socket address. */
	if (ulen < (int64_t)sizeof(sa_family_t) ||
	    ulen > (int64_t)sizeof(struct sockaddr_storage)) {
		answer(m, req->id, -EINVAL);
		return;
	}
	op = xcalloc(1, sizeof(*op));
	op->m = m;
	op->id = req->id;
	op->tid = (pid_t)req->pid;
	op->sfd = -1;
	op->pathfd = -1;
	op->oflags = -1;
	op->len = (socklen_t)ulen;
	if (read_child(op->tid, req->data.args[1], &op->addr,
	    (size_t)ulen) == -1) {
		op_finish(op, -EFAULT);
		return;
	}
	/* What we read came from the task the notification is about. */
	if (!notif_valid(m, op->id)) {
		op_free(op);
		return;
	}
	switch (op->addr.ss_family) {
	case AF_INET:
	case AF_INET6:
		handle_inet(op, fd);
		return;
	case AF_UNIX:
		handle_unix(op, fd);
		return;
	case AF_UNSPEC:
		op->verdict = MEDIATOR_PASS;
		op_start(op, fd, "unspec", -1);
		return;
	case AF_NETLINK:
		nl = (struct sockaddr_nl *)&op->addr;
		if (op->len >= sizeof(*nl) && nl->nl_pid == 0) {
			op->verdict = MEDIATOR_PASS;
			op_start(op, fd, "netlink", -1);
			return;
		}
		audit_direct(m, false, "netlink", -1,
		    "netlink peer is not the kernel");
		op_finish(op, -EACCES);
		return;
	default:
		audit_direct(m, false, "?", -1, "address family not allowed");
		op_finish(op, -EACCES);
		return;
	}
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
 * The listener is readable.  NOTIF_RECV blocks when nothing is queued
 * (O_NONBLOCK is not honoured), and a listener whose tasks are all gone
 * polls as readable forever (POLLHUP): poll first, receive only on
 * POLLIN, stop watching on a hang-up.
 */
static void
on_listener(evutil_socket_t lfd, short what, void *arg)
{
	struct mediator		*m = arg;
	struct seccomp_notif	*req;
	struct pollfd		 pfd;
	int			 i;

	(void)what;
	req = xmalloc(m->notif_size);
	for (i = 0; i < MEDIATOR_BATCH; i++) {
		pfd.fd = lfd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (poll(&pfd, 1, 0) <= 0)
			break;
		if (!(pfd.revents & POLLIN)) {
			if (pfd.revents & (POLLHUP | POLLERR | POLLNVAL)) {
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
		handle(m, req);
	}
	free(req);
	wakeup_mode(m, i);
}

int
sandbox_mediator_start(int listener, void *arg, struct errbuf *e)
{
	struct mediator	*m = arg;
	int		 fl;

	m->listener = listener;
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
	if (m->lev == NULL || event_add(m->lev, NULL) == -1) {
		errbuf_set(e, "cannot watch the seccomp listener");
		return -1;
	}
	return 0;
}

unsigned long
sandbox_mediator_answered(const struct mediator *m)
{
	return m->answered;
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
	while ((op = TAILQ_FIRST(&m->pending)) != NULL)
		op_free(op);	/* restores the socket's flags */
	if (m->lev != NULL)
		event_free(m->lev);
	if (m->listener != -1)
		close(m->listener);
	sandbox_mediator_policy_clear(&m->pol);
	proxy_audit_free(m->own_audit);
	if (m->pidfd != -1)
		close(m->pidfd);
	free(m);
}
