#include "sandbox/mediator_int.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy/plan.h"
#include "util/log.h"
#include "util/xmalloc.h"

/*
 * Unix sockets (SPEC §3.2): the decision table and pathname connects.
 */

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
		if (!sandbox_mediator_valid(op->m, op->id)) {
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

void
sandbox_mediate_unix_connect(struct med_op *op, int fd)
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
		sandbox_mediate_connect_start(op, fd, "unix:", -1);
		return;
	}
	n = op->len - off;
	if (n > sizeof(sun->sun_path))
		n = sizeof(sun->sun_path);
	if (sun->sun_path[0] == '\0') {
		sandbox_mediator_audit(m, false, "unix:@", -1,
		    "abstract unix socket");
		sandbox_mediator_op_finish(op, -EACCES);
		return;
	}
	n = strnlen(sun->sun_path, n);
	memcpy(path, sun->sun_path, n);
	path[n] = '\0';
	if ((err = unix_open(op, path, &canon)) != 0) {
		if (err == -ESRCH && !sandbox_mediator_valid(m, op->id)) {
			sandbox_mediator_op_free(op);
			return;
		}
		/* Not there or not a socket: what the kernel would say
		 * (existence is no secret: Landlock lets stat() through). */
		log_debug("%s: unix:%s: %s", __func__, path, strerror(-err));
		sandbox_mediator_op_finish(op, err);
		return;
	}
	what = xasprintf("unix:%s", canon);
	op->verdict = sandbox_mediator_decide_unix(&m->pol, canon, &reason);
	free(canon);
	if (op->verdict == MEDIATOR_DENY) {
		sandbox_mediator_audit(m, false, what, -1, reason);
		free(what);
		sandbox_mediator_op_finish(op, -EACCES);
		return;
	}
	sandbox_mediator_audit(m, true, what, -1, "unix socket granted");
	unix_addr(op);
	sandbox_mediate_connect_start(op, fd, what, -1);
	free(what);
}
