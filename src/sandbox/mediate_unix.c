#include "sandbox/mediator_int.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>

#include "policy/grants.h"
#include "policy/plan.h"
#include "policy/why.h"
#include "util/log.h"
#include "util/xmalloc.h"

/*
 * Unix sockets (SPEC §3.2): the decision table, pathname binds performed
 * for the child (recording what is bound inside), and the resolution of
 * a pathname to a pinned socket inode for connects and datagram sends.
 */

enum mediator_verdict
sandbox_mediator_decide_unix(const struct mediator_policy *pol,
    const char *path, dev_t dev, ino_t ino, const char **reason)
{
	size_t	i;

	*reason = NULL;
	for (i = 0; i < pol->nbound; i++)
		if (pol->bound[i].dev == dev && pol->bound[i].ino == ino)
			return MEDIATOR_UNIX;
	if (path[0] == '/') {
		for (i = 0; i < pol->unix_allow.n; i++)
			if (policy_grants_path_within(path,
			    pol->unix_allow.v[i]))
				return MEDIATOR_UNIX;
	}
	*reason = "unix socket not bound in the sandbox nor named by "
	    "--allow-unix-socket";
	return MEDIATOR_DENY;
}

enum mediator_verdict
sandbox_mediator_decide_unix_bind(const struct mediator_policy *pol,
    const char *dir, const char **reason)
{
	*reason = NULL;
	if (dir[0] == '/' && pol->plan != NULL &&
	    policy_why_writable(pol->plan, dir))
		return MEDIATOR_UNIX;
	*reason = "unix socket bind outside the write grants";
	return MEDIATOR_DENY;
}

/* Drop entries whose socket files are gone (unlinked). */
static void
bound_sweep(struct mediator_policy *pol)
{
	struct stat	 st;
	size_t		 i, j;

	for (i = j = 0; i < pol->nbound; i++) {
		if (pol->bound[i].fd != -1 &&
		    (fstat(pol->bound[i].fd, &st) == -1 || st.st_nlink == 0)) {
			close(pol->bound[i].fd);
			continue;
		}
		pol->bound[j++] = pol->bound[i];
	}
	pol->nbound = j;
}

void
sandbox_mediator_bound_add(struct mediator_policy *pol, dev_t dev, ino_t ino,
    int fd)
{
	/*
	 * Unlinked sockets go as the set doubles (amortised: one fstat per
	 * add): a pinned unlinked inode stays allocated, and filesystems
	 * (ext4) search ever longer for a free one while many are.
	 */
	if (pol->nbound >= pol->sweep_at || pol->nbound >= MEDIATOR_BOUND_MAX) {
		bound_sweep(pol);
		pol->sweep_at = pol->nbound * 2 > MEDIATOR_BOUND_SWEEP ?
		    pol->nbound * 2 : MEDIATOR_BOUND_SWEEP;
	}
	if (pol->nbound >= MEDIATOR_BOUND_MAX) {
		/* All still there: the oldest becomes unreachable. */
		log_warnx("more than %d unix sockets bound in the sandbox: "
		    "forgetting the oldest", MEDIATOR_BOUND_MAX);
		if (pol->bound[0].fd != -1)
			close(pol->bound[0].fd);
		memmove(&pol->bound[0], &pol->bound[1],
		    (pol->nbound - 1) * sizeof(pol->bound[0]));
		pol->nbound--;
	}
	pol->bound = xreallocarray(pol->bound, pol->nbound + 1,
	    sizeof(*pol->bound));
	pol->bound[pol->nbound].dev = dev;
	pol->bound[pol->nbound].ino = ino;
	pol->bound[pol->nbound].fd = fd;
	pol->nbound++;
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

	for (i = 0; i < p->allow_unix_socket.n; i++)
		strv_push_owned(&pol->unix_allow,
		    canon_path(p->allow_unix_socket.v[i]));
}

/*
 * Open the socket a pathname names, as the child would: relative to its
 * working directory, symlinks followed.  The O_PATH fd (op->pathfd) pins
 * the inode we decide on and connect to (via /proc/self/fd/N), so a
 * swapped symlink after the check changes nothing.  0, or -errno.
 */
static int
unix_open(struct med_op *op, const char *path, struct stat *st)
{
	int	dirfd = AT_FDCWD, fd, err;

	if (path[0] != '/') {
		dirfd = sandbox_mediator_dirfd(op->m, op->tid, op->id,
		    AT_FDCWD);
		if (dirfd < 0)
			return dirfd;
	}
	fd = openat(dirfd, path, O_PATH | O_CLOEXEC);
	err = errno;
	if (dirfd != AT_FDCWD)
		close(dirfd);
	if (fd == -1)
		return err == ENOENT || err == ENOTDIR || err == ELOOP ||
		    err == EACCES || err == ENAMETOOLONG ? -err : -ENOENT;
	if (fstat(fd, st) == -1 || !S_ISSOCK(st->st_mode)) {
		close(fd);
		return -ECONNREFUSED;
	}
	op->pathfd = fd;
	return 0;
}

/* The canonical path of the pinned socket (owned), or NULL. */
static char *
unix_canon(const struct mediator *m, int fd)
{
	char		 buf[PATH_MAX];
	ssize_t		 n;

	if ((n = sandbox_mediator_fdpath(m, fd, buf, sizeof(buf) - 1)) <= 0)
		return NULL;
	buf[n] = '\0';
	return xstrdup(buf);
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


/* The path in op's AF_UNIX address (bounded), into path. */
static void
unix_path(const struct med_op *op, char *path, size_t size)
{
	const struct sockaddr_un *sun = (const struct sockaddr_un *)&op->addr;
	size_t		 n;

	n = op->len - offsetof(struct sockaddr_un, sun_path);
	if (n > sizeof(sun->sun_path))
		n = sizeof(sun->sun_path);
	n = strnlen(sun->sun_path, n);
	if (n >= size)
		n = size - 1;
	memcpy(path, sun->sun_path, n);
	path[n] = '\0';
}

int
sandbox_mediate_unix_resolve(struct med_op *op)
{
	struct mediator		*m = op->m;
	struct sockaddr_un	*sun = (struct sockaddr_un *)&op->addr;
	struct stat		 st;
	const char		*reason;
	char			 path[sizeof(sun->sun_path) + 1], *canon, *what;
	int			 err;

	if (op->len <= offsetof(struct sockaddr_un, sun_path)) {
		/* Unnamed: the kernel answers it. */
		op->verdict = MEDIATOR_PASS;
		return 0;
	}
	if (sun->sun_path[0] == '\0') {
		sandbox_mediator_audit(m, false, "unix:@", -1,
		    "abstract unix socket");
		return -EACCES;
	}
	unix_path(op, path, sizeof(path));
	if ((err = unix_open(op, path, &st)) != 0) {
		/* Not there or not a socket: what the kernel would say
		 * (existence is no secret: Landlock lets stat() through). */
		log_debug("%s: unix:%s: %s", __func__, path, strerror(-err));
		return err;
	}
	/* Bound inside: decided by the inode alone, no path needed. */
	op->verdict = sandbox_mediator_decide_unix(&m->pol, "", st.st_dev,
	    st.st_ino, &reason);
	if (op->verdict == MEDIATOR_DENY) {
		if ((canon = unix_canon(op->m, op->pathfd)) == NULL)
			return -ENOENT;
		op->verdict = sandbox_mediator_decide_unix(&m->pol, canon,
		    st.st_dev, st.st_ino, &reason);
		what = xasprintf("unix:%s", canon);
		free(canon);
		if (op->verdict == MEDIATOR_DENY) {
			sandbox_mediator_audit(m, false, what, -1, reason);
			free(what);
			return -EACCES;
		}
		log_debug("%s: %s named by --allow-unix-socket", __func__,
		    what);
		free(what);
	}
	unix_addr(op);
	return 0;
}

void
sandbox_mediate_unix_connect(struct med_op *op, int fd)
{
	int	err;

	if ((err = sandbox_mediate_unix_resolve(op)) != 0) {
		if (err == -ESRCH && !sandbox_mediator_valid(op->m, op->id)) {
			sandbox_mediator_op_free(op);
			return;
		}
		sandbox_mediator_op_finish(op, err);
		return;
	}
	sandbox_mediate_connect_start(op, fd, "unix", -1);
}

/* ---- bind -------------------------------------------------------------- */

/*
 * The file a bound unix socket created, as the kernel recorded it
 * (sock_diag UNIX_DIAG_VFS): no path lookup, so no race.  0 or -1.
 */
static int
unix_vfs(struct mediator *m, int sfd, dev_t *dev, uint32_t *ino)
{
	struct {
		struct nlmsghdr		nlh;
		struct unix_diag_req	req;
	} q;
	union {
		struct nlmsghdr		nlh;
		char			buf[1024];
	} r;
	struct unix_diag_msg	*msg;
	struct unix_diag_vfs	 vfs;
	struct rtattr		*rta;
	struct stat		 st;
	ssize_t			 n;
	int			 len;

	if (fstat(sfd, &st) == -1)
		return -1;
	if (m->diagfd == -1 && (m->diagfd = socket(AF_NETLINK, SOCK_DGRAM |
	    SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_SOCK_DIAG)) == -1)
		return -1;
	memset(&q, 0, sizeof(q));
	q.nlh.nlmsg_len = sizeof(q);
	q.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	q.nlh.nlmsg_flags = NLM_F_REQUEST;
	q.nlh.nlmsg_seq = (uint32_t)st.st_ino;
	q.req.sdiag_family = AF_UNIX;
	q.req.udiag_states = ~0U;
	q.req.udiag_ino = (uint32_t)st.st_ino;
	q.req.udiag_show = UDIAG_SHOW_VFS;
	q.req.udiag_cookie[0] = q.req.udiag_cookie[1] = ~0U;
	if (send(m->diagfd, &q, sizeof(q), 0) != (ssize_t)sizeof(q))
		return -1;
	/* The answer is queued before send returns. */
	n = recv(m->diagfd, &r, sizeof(r), MSG_DONTWAIT);
	if (n < (ssize_t)(sizeof(r.nlh) + sizeof(*msg)) ||
	    !NLMSG_OK(&r.nlh, (size_t)n) ||
	    r.nlh.nlmsg_type != SOCK_DIAG_BY_FAMILY ||
	    r.nlh.nlmsg_seq != (uint32_t)st.st_ino)
		return -1;
	msg = NLMSG_DATA(&r.nlh);
	if (msg->udiag_ino != (uint32_t)st.st_ino)
		return -1;
	len = (int)r.nlh.nlmsg_len - NLMSG_LENGTH(sizeof(*msg));
	for (rta = (struct rtattr *)(msg + 1); RTA_OK(rta, len);
	    rta = RTA_NEXT(rta, len)) {
		if (rta->rta_type != UNIX_DIAG_VFS ||
		    RTA_PAYLOAD(rta) < sizeof(vfs))
			continue;
		memcpy(&vfs, RTA_DATA(rta), sizeof(vfs));
		/* The kernel's dev_t: 12 bits major, 20 bits minor. */
		*dev = makedev(vfs.udiag_vfs_dev >> 20,
		    vfs.udiag_vfs_dev & 0xfffff);
		*ino = vfs.udiag_vfs_ino;
		return 0;
	}
	return -1;
}

/* The child's umask (/proc/TID/status), or -1. */
static int
unix_umask(pid_t tid)
{
	long	v = sandbox_mediator_proc_status(tid, "Umask:", 8);

	return v == -1 ? -1 : (int)(v & 0777);
}

/*
 * bind() to a pathname in directory dirfd (ours, resolved as the child
 * would) under name: with our working directory there for the duration
 * and the child's umask (the notification thread's own, CLONE_FS
 * unshared; without that thread the loop's, which is then the only one
 * that looks at either).  0 or -errno.
 */
static int
unix_bind_at(struct med_op *op, int dirfd, const char *name)
{
	struct mediator		*m = op->m;
	struct sockaddr_un	 sun;
	mode_t			 old;
	int			 cmask, rc, err;
	bool			 dropped;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(name) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	memcpy(sun.sun_path, name, strlen(name));
	cmask = unix_umask(op->tid);
	if (fchdir(dirfd) == -1)
		return -errno;
	old = umask(cmask == -1 ? 077 : (mode_t)cmask);
	/* With the child's privileges: no directory it could not write. */
	dropped = sandbox_mediator_caps(m, true);
	rc = bind(op->sfd, (struct sockaddr *)&sun,
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
	    strlen(name) + 1));
	err = errno;
	if (dropped)
		sandbox_mediator_caps(m, false);
	umask(old);
	if (fchdir(m->cwdfd) == -1)
		log_warn("cannot return to the supervisor's directory");
	return rc == -1 ? -err : 0;
}

/* Record the socket file op's socket created as name in dirfd. */
static void
unix_record(struct med_op *op, int dirfd, const char *name)
{
	struct stat	 st;
	dev_t		 dev;
	uint32_t	 ino;
	int		 pin;

	if (unix_vfs(op->m, op->sfd, &dev, &ino) == -1) {
		log_warnx("unix socket %s: cannot learn its file (sock_diag); "
		    "it is not reachable from the sandbox", name);
		return;
	}
	/*
	 * The pin keeps the inode (and so its number) ours while recorded.
	 * Opened by name, it must be the file the kernel recorded: another
	 * thread may have renamed a different socket file into its place.
	 */
	pin = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (pin != -1 && fstat(pin, &st) == 0 && S_ISSOCK(st.st_mode) &&
	    st.st_dev == dev && (uint32_t)st.st_ino == ino) {
		sandbox_mediator_bound_add(&op->m->pol, st.st_dev, st.st_ino,
		    pin);
		return;
	}
	if (pin != -1)
		close(pin);
	log_warnx("unix socket %s: moved while being bound; it is not "
	    "reachable from the sandbox", name);
}

void
sandbox_mediate_unix_bind(struct med_op *op, int fd)
{
	struct mediator		*m = op->m;
	struct sockaddr_un	*sun = (struct sockaddr_un *)&op->addr;
	const char		*reason, *name;
	char			 path[sizeof(sun->sun_path) + 1];
	char			 dir[PATH_MAX], *slash, *what;
	ssize_t			 n;
	int			 base = AT_FDCWD, dirfd, v, err;
	socklen_t		 sl = sizeof(v);

	if (op->len <= offsetof(struct sockaddr_un, sun_path) ||
	    sun->sun_path[0] == '\0') {
		/* Autobind and abstract names: as asked (connecting to an
		 * abstract socket is what is refused). */
		op->verdict = MEDIATOR_PASS;
		sandbox_mediate_bind_start(op, fd);
		return;
	}
	unix_path(op, path, sizeof(path));
	if (path[0] != '/' &&
	    (base = sandbox_mediator_dirfd(m, op->tid, op->id,
	    AT_FDCWD)) < 0) {
		if (!sandbox_mediator_valid(m, op->id)) {
			sandbox_mediator_op_free(op);
			return;
		}
		sandbox_mediator_op_finish(op, base);
		return;
	}
	if ((slash = strrchr(path, '/')) != NULL) {
		*slash = '\0';
		name = slash + 1;
		dirfd = openat(base, slash == path ? "/" : path,
		    O_PATH | O_DIRECTORY | O_CLOEXEC);
	} else {
		name = path;
		dirfd = openat(base, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	}
	err = errno;
	if (base != AT_FDCWD)
		close(base);
	if (dirfd == -1) {
		sandbox_mediator_op_finish(op, -err);
		return;
	}
	if (*name == '\0' || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0) {
		close(dirfd);
		sandbox_mediator_op_finish(op, -EADDRINUSE);
		return;
	}
	if ((n = sandbox_mediator_fdpath(m, dirfd, dir, sizeof(dir) - 1)) <=
	    0) {
		close(dirfd);
		sandbox_mediator_op_finish(op, -ENOENT);
		return;
	}
	dir[n] = '\0';
	what = xasprintf("unix:%s%s%s", dir, strcmp(dir, "/") == 0 ? "" :
	    "/", name);
	if (sandbox_mediator_decide_unix_bind(&m->pol, dir, &reason) ==
	    MEDIATOR_DENY) {
		sandbox_mediator_audit(m, false, what, -1, reason);
		free(what);
		close(dirfd);
		sandbox_mediator_op_finish(op, -EACCES);
		return;
	}
	op->sfd = sandbox_mediator_getfd(m, op->tid, op->id, fd);
	if (op->sfd < 0) {
		err = op->sfd;
		op->sfd = -1;
		free(what);
		close(dirfd);
		if (err == -ESRCH && !sandbox_mediator_valid(m, op->id)) {
			sandbox_mediator_op_free(op);
			return;
		}
		sandbox_mediator_op_finish(op, err);
		return;
	}
	if (getsockopt(op->sfd, SOL_SOCKET, SO_DOMAIN, &v, &sl) == -1 ||
	    v != AF_UNIX) {
		/* Not a unix socket: the kernel's answer to this address. */
		err = bind(op->sfd, (struct sockaddr *)&op->addr, op->len) ==
		    -1 ? -errno : 0;
	} else if ((err = unix_bind_at(op, dirfd, name)) == 0) {
		unix_record(op, dirfd, name);
		log_debug("%s: %s bound inside", __func__, what);
	}
	free(what);
	close(dirfd);
	sandbox_mediator_op_finish(op, err);
}
