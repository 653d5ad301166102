/*
 * File metadata (SPEC §3.2): chmod, utime*, setxattr and removexattr in
 * all their forms.  Landlock has no rule for them, so each traps here;
 * the supervisor copies the arguments once, resolves the target the way
 * the child would (its working directory or its descriptor, the final
 * symlink followed or not as the call says) to an O_PATH descriptor of
 * its own, decides on the canonical path of that descriptor, and performs
 * the call itself on that descriptor.  A symlink swapped after we look
 * changes nothing: what we decided on is what we act on.
 *
 * The supervisor may hold capabilities the child dropped (run as root):
 * the call is made with our effective capabilities emptied for its
 * duration, so the kernel's own permission checks are the child's.
 */
#include "sandbox/mediator_int.h"

#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/xattr.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

#include <linux/capability.h>
#include <linux/limits.h>
#include <linux/openat2.h>

#include "policy/grants.h"
#include "policy/plan.h"
#include "util/log.h"
#include "util/xmalloc.h"

#ifndef SYS_openat2
#define SYS_openat2		437
#endif
#ifndef AT_EMPTY_PATH
#define AT_EMPTY_PATH		0x1000
#endif

/* Text of the call and its target in audit records. */
#define META_WHAT_MAX		(PATH_MAX + 32)

enum meta_kind {
	META_MODE,
	META_TIMES,
	META_SETX,
	META_REMOVEX,
};

/* Values up to this size are copied without a malloc (ACLs: 28-76 bytes). */
#define META_XVAL_INLINE	128

/*
 * One call, decoded from the notification and copied from the child.
 * Cleared up to path: the buffers after it are written before they are
 * read.
 */
struct meta_call {
	const char	*sys;		/* the syscall's name */
	enum meta_kind	 kind;
	int		 fd;		/* dirfd or the fd itself, AT_FDCWD */
	bool		 fd_only;	/* act on fd, no path */
	bool		 nofollow;	/* the final symlink itself */
	bool		 fd_call;	/* fchmod/fsetxattr/...: no O_PATH */
	mode_t		 mode;
	struct timespec	 ts[2];
	bool		 now;		/* times NULL: both now */
	bool		 fd_null;	/* path NULL: the fd, no lookup */
	void		*xval;		/* xbuf, owned, or NULL */
	size_t		 xsize;
	int		 xflags;
	char		 path[PATH_MAX];
	char		 xname[XATTR_NAME_MAX + 1];
	unsigned char	 xbuf[META_XVAL_INLINE];
};

/*
 * Copy the string at the child's addr into buf (size bytes with the NUL).
 * The child's memory is read page by page, so a string that ends just
 * before an unmapped page is read.  0, -EFAULT, or -toolong.
 */
static int
read_str(pid_t tid, uint64_t addr, char *buf, size_t size, int toolong)
{
	size_t	got = 0, chunk, page = (size_t)sysconf(_SC_PAGESIZE);

	if (addr == 0)
		return -EFAULT;
	while (got < size) {
		chunk = page - (size_t)((addr + got) % page);
		if (chunk > size - got)
			chunk = size - got;
		if (sandbox_mediator_read(tid, addr + got, buf + got,
		    chunk) == -1)
			return -EFAULT;
		if (memchr(buf + got, '\0', chunk) != NULL)
			return 0;
		got += chunk;
	}
	return -toolong;
}

/* Copy times from the child (kind of utime call in sys).  0 or -errno. */
static int
read_times(pid_t tid, uint64_t addr, struct meta_call *c)
{
	struct utimbuf	ub;
	struct timeval	tv[2];
	int		i;

	if (addr == 0) {
		c->now = true;
		return 0;
	}
	if (strcmp(c->sys, "utime") == 0) {
		if (sandbox_mediator_read(tid, addr, &ub, sizeof(ub)) == -1)
			return -EFAULT;
		c->ts[0].tv_sec = ub.actime;
		c->ts[1].tv_sec = ub.modtime;
		c->ts[0].tv_nsec = c->ts[1].tv_nsec = 0;
		return 0;
	}
	if (strcmp(c->sys, "utimensat") == 0)
		return sandbox_mediator_read(tid, addr, c->ts,
		    sizeof(c->ts)) == -1 ? -EFAULT : 0;
	if (sandbox_mediator_read(tid, addr, tv, sizeof(tv)) == -1)
		return -EFAULT;
	for (i = 0; i < 2; i++) {
		if (tv[i].tv_usec < 0 || tv[i].tv_usec >= 1000000)
			return -EINVAL;
		c->ts[i].tv_sec = tv[i].tv_sec;
		c->ts[i].tv_nsec = tv[i].tv_usec * 1000;
	}
	return 0;
}

/*
 * The xattr name and value of a set call in one read of the child's
 * memory when the name ends before its page does (nearly always): the
 * name's bytes up to the page's end (at most its size) and the value.
 * true when c->xname and c->xval hold both; false: read them one by one
 * (which finds the errors in the order the kernel does).
 */
static bool
read_xattr_once(pid_t tid, uint64_t name, uint64_t value, struct meta_call *c)
{
	struct iovec	local[2], remote[2];
	size_t		chunk, page = (size_t)sysconf(_SC_PAGESIZE);
	ssize_t		n;

	chunk = page - (size_t)(name % page);
	if (chunk > sizeof(c->xname))
		chunk = sizeof(c->xname);
	local[0].iov_base = c->xname;
	local[0].iov_len = chunk;
	remote[0].iov_base = (void *)(uintptr_t)name;
	remote[0].iov_len = chunk;
	local[1].iov_base = c->xval;
	local[1].iov_len = c->xsize;
	remote[1].iov_base = (void *)(uintptr_t)value;
	remote[1].iov_len = c->xsize;
	n = process_vm_readv(tid, local, 2, remote, 2, 0);
	return n == (ssize_t)(chunk + c->xsize) &&
	    memchr(c->xname, '\0', chunk) != NULL;
}

/* The xattr name and value of a set call.  0 or -errno. */
static int
read_xattr(pid_t tid, uint64_t name, uint64_t value, uint64_t size,
    struct meta_call *c, bool set)
{
	int	err;

	if (set && name != 0 && value != 0 && size > 0 &&
	    size <= XATTR_SIZE_MAX) {
		c->xsize = (size_t)size;
		c->xval = c->xsize <= sizeof(c->xbuf) ? c->xbuf :
		    xmalloc(c->xsize);
		if (read_xattr_once(tid, name, value, c))
			return c->xname[0] == '\0' ? -ERANGE : 0;
	}
	if ((err = read_str(tid, name, c->xname, sizeof(c->xname),
	    ERANGE)) != 0)
		return err;
	if (c->xname[0] == '\0')
		return -ERANGE;
	if (!set)
		return 0;
	if (size > XATTR_SIZE_MAX)
		return -E2BIG;
	c->xsize = (size_t)size;
	if (c->xsize == 0)
		return 0;
	if (value == 0)
		return -EFAULT;
	if (c->xval == NULL)
		c->xval = c->xsize <= sizeof(c->xbuf) ? c->xbuf :
		    xmalloc(c->xsize);
	if (sandbox_mediator_read(tid, value, c->xval, c->xsize) == -1)
		return -EFAULT;
	return 0;
}

/*
 * Decode notification req into c, copying what it points to once.
 * 0 or -errno (what the kernel would have said for bad arguments).
 */
static int
meta_decode(const struct seccomp_notif *req, struct meta_call *c)
{
	const __u64	*a = req->data.args;
	pid_t		 tid = (pid_t)req->pid;
	uint64_t	 pathp = 0, times = 0;
	bool		 null_ok = false;
	int		 flags = 0, err;

	c->fd = AT_FDCWD;
	switch (req->data.nr) {
#ifdef __NR_chmod
	case __NR_chmod:
		c->sys = "chmod";
		c->kind = META_MODE;
		pathp = a[0];
		c->mode = (mode_t)a[1];
		break;
#endif
	case __NR_fchmod:
		c->sys = "fchmod";
		c->kind = META_MODE;
		c->fd = (int)a[0];
		c->fd_only = c->fd_call = true;
		c->mode = (mode_t)a[1];
		break;
	case __NR_fchmodat:
		c->sys = "fchmodat";
		c->kind = META_MODE;
		c->fd = (int)a[0];
		pathp = a[1];
		c->mode = (mode_t)a[2];
		break;
	case MEDIATOR_NR_FCHMODAT2:
		c->sys = "fchmodat2";
		c->kind = META_MODE;
		c->fd = (int)a[0];
		pathp = a[1];
		c->mode = (mode_t)a[2];
		flags = (int)a[3];
		if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
			return -EINVAL;
		break;
#ifdef __NR_utime
	case __NR_utime:
		c->sys = "utime";
		c->kind = META_TIMES;
		pathp = a[0];
		times = a[1];
		break;
#endif
#ifdef __NR_utimes
	case __NR_utimes:
		c->sys = "utimes";
		c->kind = META_TIMES;
		pathp = a[0];
		times = a[1];
		break;
#endif
#ifdef __NR_futimesat
	case __NR_futimesat:
		c->sys = "futimesat";
		c->kind = META_TIMES;
		c->fd = (int)a[0];
		pathp = a[1];
		times = a[2];
		null_ok = true;
		break;
#endif
	case __NR_utimensat:
		c->sys = "utimensat";
		c->kind = META_TIMES;
		c->fd = (int)a[0];
		pathp = a[1];
		times = a[2];
		flags = (int)a[3];
		null_ok = true;
		if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
			return -EINVAL;
		if (pathp == 0 && flags != 0)
			return -EINVAL;
		break;
	case __NR_setxattr:
	case __NR_lsetxattr:
		c->sys = req->data.nr == __NR_setxattr ? "setxattr" :
		    "lsetxattr";
		c->kind = META_SETX;
		c->nofollow = req->data.nr == __NR_lsetxattr;
		pathp = a[0];
		c->xflags = (int)a[4];
		if ((err = read_xattr(tid, a[1], a[2], a[3], c, true)) != 0)
			return err;
		break;
	case __NR_fsetxattr:
		c->sys = "fsetxattr";
		c->kind = META_SETX;
		c->fd = (int)a[0];
		c->fd_only = c->fd_call = true;
		c->xflags = (int)a[4];
		if ((err = read_xattr(tid, a[1], a[2], a[3], c, true)) != 0)
			return err;
		break;
	case __NR_removexattr:
	case __NR_lremovexattr:
		c->sys = req->data.nr == __NR_removexattr ? "removexattr" :
		    "lremovexattr";
		c->kind = META_REMOVEX;
		c->nofollow = req->data.nr == __NR_lremovexattr;
		pathp = a[0];
		if ((err = read_xattr(tid, a[1], 0, 0, c, false)) != 0)
			return err;
		break;
	case __NR_fremovexattr:
		c->sys = "fremovexattr";
		c->kind = META_REMOVEX;
		c->fd = (int)a[0];
		c->fd_only = c->fd_call = true;
		if ((err = read_xattr(tid, a[1], 0, 0, c, false)) != 0)
			return err;
		break;
	default:
		return -ENOSYS;
	}
	if (flags & AT_SYMLINK_NOFOLLOW)
		c->nofollow = true;
	if (c->kind == META_TIMES && (err = read_times(tid, times, c)) !=
	    0)
		return err;
	if (c->fd_only)
		return 0;
	if (pathp == 0 && null_ok) {
		/* futimesat/utimensat(fd, NULL, ...): the fd itself. */
		if (c->fd == AT_FDCWD)
			return -EFAULT;
		c->fd_only = c->fd_null = true;
		return 0;
	}
	if ((err = read_str(tid, pathp, c->path, sizeof(c->path),
	    ENAMETOOLONG)) != 0)
		return err;
	if (c->path[0] == '\0') {
		if (!(flags & AT_EMPTY_PATH))
			return -ENOENT;
		c->fd_only = true;
	}
	return 0;
}

/*
 * Paths that name the caller itself (/proc/self, /dev/fd, /dev/stdout,
 * ...) mean the child here, not us: rewritten to /proc/TID.  true when
 * path was rewritten into out.
 */
static bool
meta_self_path(const char *path, pid_t tid, char *out, size_t size)
{
	static const struct {
		const char	*prefix;
		const char	*to;
	} map[] = {
		{ "/proc/self/",	"" },
		{ "/proc/thread-self/", "" },
		{ "/dev/fd/",		"fd/" },
		{ "/dev/stdin",		"fd/0" },
		{ "/dev/stdout",	"fd/1" },
		{ "/dev/stderr",	"fd/2" },
	};
	size_t	i, n;
	int	w;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		n = strlen(map[i].prefix);
		if (strncmp(path, map[i].prefix, n) != 0)
			continue;
		if (map[i].prefix[n - 1] != '/' && path[n] != '\0' &&
		    path[n] != '/')
			continue;
		w = snprintf(out, size, "/proc/%ld/%s%s", (long)tid,
		    map[i].to, path + n);
		return w > 0 && (size_t)w < size;
	}
	return false;
}

/*
 * Our descriptor for the call's target, resolved as the child would: the
 * child's own descriptor for fd-only calls, else an O_PATH descriptor
 * opened relative to its working directory or dirfd.  -errno on failure.
 */
static int
meta_target(struct mediator *m, const struct seccomp_notif *req,
    struct meta_call *c)
{
	struct open_how	 how;
	char		 self[PATH_MAX + 32];
	const char	*path = c->path;
	pid_t		 tid = (pid_t)req->pid;
	int		 base = AT_FDCWD, fd, err, w;
	bool		 check = false;

	if (c->fd_only)
		return sandbox_mediator_getfd(m, tid, req->id, c->fd);
	memset(&how, 0, sizeof(how));
	how.flags = O_PATH | O_CLOEXEC | (c->nofollow ? O_NOFOLLOW : 0);
	/*
	 * Magic links (/proc/N/fd/M) are followed only where the path is
	 * the child's own /proc entry: anywhere else they would be ours.
	 */
	how.resolve = RESOLVE_NO_MAGICLINKS;
	if (path[0] == '/') {
		if (meta_self_path(path, tid, self, sizeof(self))) {
			path = self;
			how.resolve = 0;
		}
	} else if (c->fd == AT_FDCWD && (w = snprintf(self, sizeof(self),
	    "/proc/%ld/cwd/%s", (long)tid, path)) > 0 &&
	    (size_t)w < sizeof(self)) {
		/*
		 * Relative to the child's working directory, in one lookup
		 * through its cwd link: what that link leads to is the
		 * child's, and the decision is on where we end up.
		 */
		path = self;
		how.resolve = 0;
		check = true;
	} else if ((base = sandbox_mediator_dirfd(m, tid, req->id,
	    c->fd)) < 0)
		return base;
	fd = (int)syscall(SYS_openat2, base, path, &how, sizeof(how));
	err = errno;
	if (base != AT_FDCWD)
		close(base);
	/* /proc/TID was the notifying task's while the lookup ran. */
	if (check && !sandbox_mediator_valid(m, req->id)) {
		if (fd != -1)
			close(fd);
		return -ESRCH;
	}
	return fd == -1 ? -err : fd;
}

int
sandbox_mediator_meta_decide(const struct plan *p, const char *canon,
    mode_t type, nlink_t nlink, bool chmod, mode_t mode,
    const char **reason)
{
	size_t	n = strlen(canon);
	const char del[] = " (deleted)";

	*reason = NULL;
	/* Pipes, sockets, anonymous inodes: the child's own objects. */
	if (canon[0] != '/')
		return 0;
	/* Unlinked everywhere (O_TMPFILE, memfd, deleted): nobody else's. */
	if (nlink == 0 && S_ISREG(type))
		goto setid;
	if (n >= sizeof(del) - 1 && strcmp(canon + n - (sizeof(del) - 1),
	    del) == 0) {
		*reason = "metadata change on an unlinked path";
		return -EACCES;
	}
	if (S_ISCHR(type) || S_ISBLK(type)) {
		*reason = "metadata change on a device node";
		return -EACCES;
	}
	if ((*reason = policy_grants_meta_check(p, canon)) != NULL)
		return -EACCES;
setid:
	/*
	 * No set-user-ID or set-group-ID programs: a sandboxed program
	 * never makes one that runs unsandboxed with its owner's rights
	 * (set-group-ID directories, which only pass on their group, stay).
	 */
	if (chmod && ((mode & S_ISUID) || ((mode & S_ISGID) &&
	    (mode & S_IXGRP) && !S_ISDIR(type)))) {
		*reason = "set-user-ID or set-group-ID program";
		return -EPERM;
	}
	return 0;
}

/*
 * The kernel's own checks must be the child's, which has no
 * capabilities: when we hold some (run as root), our effective set is
 * emptied (this thread's only) around the call and restored after.
 */
bool
sandbox_mediate_meta_caps(struct mediator *m)
{
	struct __user_cap_header_struct	hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };

	m->meta_uid = geteuid();
	if (syscall(SYS_capget, &hdr, m->meta_caps) == -1)
		return false;
	return m->meta_caps[0].effective != 0 ||
	    m->meta_caps[1].effective != 0;
}

bool
sandbox_mediator_caps(struct mediator *m, bool drop)
{
	struct __user_cap_header_struct	hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct	d[2];

	if (!m->meta_drop)
		return false;
	memcpy(d, m->meta_caps, sizeof(d));
	if (drop)
		d[0].effective = d[1].effective = 0;
	if (syscall(SYS_capset, &hdr, d) == 0)
		return true;
	if (!drop)
		log_warn("cannot restore the supervisor's capabilities");
	return false;
}

/*
 * Whether our capabilities could make c succeed where the child's call
 * would not.  On a file we own they cannot for times, a mode without the
 * set-group-ID bit, or an ACL on a file without it (the kernel clears
 * that bit unless the caller is in the group or capable); everything else
 * (another owner's file, user.* xattrs, which check write permission,
 * trusted.* and security.*) is done with the child's.
 */
static bool
meta_caps_matter(const struct mediator *m, const struct meta_call *c,
    const struct stat *st)
{
	if (!m->meta_drop || st->st_uid != m->meta_uid)
		return m->meta_drop;
	switch (c->kind) {
	case META_TIMES:
		return false;
	case META_MODE:
		return (c->mode & S_ISGID) != 0;
	default:
		return (strcmp(c->xname, "system.posix_acl_access") != 0 &&
		    strcmp(c->xname, "system.posix_acl_default") != 0) ||
		    (st->st_mode & S_ISGID) != 0;
	}
}

/* "/proc/self/fd/FD" in buf: a path to our descriptor fd. */
static const char *
meta_proc(char *buf, size_t size, int fd)
{
	snprintf(buf, size, "/proc/self/fd/%d", fd);
	return buf;
}

/* Perform c on fd (ours; O_PATH when opath).  0 or -errno. */
static int
meta_perform(struct mediator *m, const struct meta_call *c, int fd,
    bool opath, const struct stat *st)
{
	char				proc[32];
	bool				dropped;
	int				rc = 0, err = 0;

	if (c->kind == META_MODE && S_ISLNK(st->st_mode))
		return -EOPNOTSUPP;	/* what fchmodat2 says */
	dropped = meta_caps_matter(m, c, st) && sandbox_mediator_caps(m, true);
	switch (c->kind) {
	case META_MODE:
		if (c->fd_call) {
			rc = fchmod(fd, c->mode);
			break;
		}
		/* fchmodat2 (6.6) acts on an O_PATH fd without a lookup. */
		rc = (int)syscall(MEDIATOR_NR_FCHMODAT2, fd, "", c->mode,
		    AT_EMPTY_PATH);
		if (rc == -1 && (errno == ENOSYS || errno == EINVAL))
			rc = fchmodat(AT_FDCWD, meta_proc(proc, sizeof(proc),
			    fd), c->mode, 0);
		break;
	case META_TIMES:
		/*
		 * The NULL-path form takes the fd as the kernel does (not an
		 * O_PATH one: EBADF), with no lookup of "".
		 */
		rc = c->fd_null ? futimens(fd, c->now ? NULL : c->ts) :
		    utimensat(fd, "", c->now ? NULL : c->ts, AT_EMPTY_PATH);
		break;
	case META_SETX:
		rc = opath ? setxattr(meta_proc(proc, sizeof(proc), fd),
		    c->xname, c->xval, c->xsize, c->xflags) :
		    fsetxattr(fd, c->xname, c->xval, c->xsize, c->xflags);
		break;
	case META_REMOVEX:
		rc = opath ? removexattr(meta_proc(proc, sizeof(proc), fd),
		    c->xname) : fremovexattr(fd, c->xname);
		break;
	}
	err = errno;
	if (dropped)
		sandbox_mediator_caps(m, false);
	return rc == -1 ? -err : 0;
}

void
sandbox_mediate_meta(struct mediator *m, const struct seccomp_notif *req)
{
	struct meta_call	 call, *c = &call;
	struct stat		 st;
	const char		*reason;
	char			 canon[PATH_MAX], *what;
	ssize_t			 n = 0;
	int			 fd = -1, err;
	bool			 opath;

	/* The loop has one thread: one call at a time, on the stack. */
	memset(c, 0, offsetof(struct meta_call, path));
	c->path[0] = c->xname[0] = '\0';
	if ((err = meta_decode(req, c)) != 0)
		goto answer;
	if ((fd = meta_target(m, req, c)) < 0) {
		err = fd;
		if (err == -ESRCH && !sandbox_mediator_valid(m, req->id))
			goto drop;
		goto answer;
	}
	if (fstat(fd, &st) == -1) {
		err = -EBADF;
		goto answer;
	}
	/*
	 * Ours from openat2 is O_PATH.  The child's own descriptor is acted
	 * on with the f* call it made (which refuses an O_PATH one, as the
	 * kernel would), or with the AT_EMPTY_PATH form it asked for.
	 */
	opath = !c->fd_only;
	/* A path that does not fit might be cut before what decides. */
	if ((n = sandbox_mediator_fdpath(m, fd, canon, sizeof(canon))) <= 0 ||
	    (size_t)n >= sizeof(canon)) {
		n = 0;
		err = -EACCES;
		reason = "target has no path that fits PATH_MAX";
		goto deny;
	}
	canon[n] = '\0';
	err = sandbox_mediator_meta_decide(m->plan, canon, st.st_mode,
	    st.st_nlink, c->kind == META_MODE, c->mode, &reason);
	if (err != 0)
		goto deny;
	err = meta_perform(m, c, fd, opath, &st);
	goto answer;
deny:
	what = xasprintf("%s:%s", c->sys, n > 0 ? canon : "?");
	sandbox_mediator_audit(m, false, what, -1, reason);
	free(what);
answer:
	sandbox_mediator_answer(m, req->id, err);
drop:
	if (fd >= 0)
		close(fd);
	if (c->xval != c->xbuf)
		free(c->xval);
}
