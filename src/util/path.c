#include "util/path.h"

#include <sys/syscall.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/openat2.h>

#ifndef __NR_openat2
#define __NR_openat2	437
#endif

bool
path_is_clean(const char *path)
{
	const char	*p = path, *end;
	size_t		 n;

	if (path[0] != '/')
		return false;
	if (path[1] == '\0')
		return true;
	while (*p == '/') {
		p++;
		end = strchrnul(p, '/');
		n = (size_t)(end - p);
		if (n == 0 || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;	/* "//", trailing "/", ".", ".." */
		p = end;
	}
	return true;
}

/* Open path with no symlink anywhere on the way: -1 with errno if not. */
static int
path_open_nofollow(const char *path)
{
	struct open_how	how;

	memset(&how, 0, sizeof(how));
	how.flags = O_PATH | O_CLOEXEC;
	how.resolve = RESOLVE_NO_SYMLINKS;
	return (int)syscall(__NR_openat2, AT_FDCWD, path, &how, sizeof(how));
}

/*
 * Let the kernel resolve path (symlinks followed) and name what it found:
 * open, readlink of /proc/self/fd/N, close: 3 system calls where
 * realpath(3) makes a readlink per component (the built-in policy's
 * paths under /lib, /bin, /etc/alternatives ...: ~70 calls a start).
 * -1 on any other failure, errno unspecified: the caller asks realpath,
 * which gives the same answer or the error it would have given.  -2 with
 * errno when the kernel found nothing there (ENOENT, ENOTDIR, ELOOP):
 * realpath would say the same after a readlink per component (4 calls
 * for /lib/aarch64-linux-gnu on an x86_64 system, at every start).
 */
static size_t	path_proc_names;	/* path_real_proc_count */

/* "/proc/self/fd/FD" into link (32 bytes will do), without printf. */
static void
path_fd_link(char *link, size_t size, int fd)
{
	static const char	 pre[] = "/proc/self/fd/";
	char			 digits[12], *d = digits + sizeof(digits);
	unsigned int		 v = (unsigned int)fd;
	size_t			 nd;

	do {
		*--d = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	nd = (size_t)(digits + sizeof(digits) - d);
	if (sizeof(pre) + nd > size) {
		link[0] = '\0';
		return;
	}
	memcpy(link, pre, sizeof(pre) - 1);
	memcpy(link + sizeof(pre) - 1, d, nd);
	link[sizeof(pre) - 1 + nd] = '\0';
}

static int
path_real_proc(const char *path, char *out, struct stat *st, int *fdp)
{
	char	link[32];
	ssize_t	n;
	int	fd;

	path_proc_names++;

	if ((fd = open(path, O_PATH | O_CLOEXEC)) == -1)
		return errno == ENOENT || errno == ENOTDIR || errno == ELOOP ?
		    -2 : -1;
	path_fd_link(link, sizeof(link), fd);
	n = readlink(link, out, PATH_MAX);
	/* Not "/..." (not under our root, or a pseudo file): realpath. */
	if (n > 0 && n < PATH_MAX && out[0] == '/' &&
	    (st == NULL || fstat(fd, st) == 0)) {
		out[n] = '\0';
		*fdp = fd;
		return 0;
	}
	(void)close(fd);
	return -1;
}

/*
 * fd, opened with no link on the way for the clean name (len bytes), as
 * the answer: name into out, fd into *fdp, its stat into *st.  0, or -1
 * with errno (fd closed) when the stat fails.
 */
static int
path_answer(int fd, const char *name, size_t len, char *out,
    struct stat *st, int *fdp)
{
	int	saved;

	if (st != NULL && fstat(fd, st) == -1) {
		saved = errno;
		(void)close(fd);
		errno = saved;
		return -1;
	}
	memcpy(out, name, len + 1);
	*fdp = fd;
	return 0;
}

/* Under /proc: magic links (/proc/self, /proc/PID/fd/N) are not text. */
static bool
path_in_proc(const char *path)
{
	return strncmp(path, "/proc", 5) == 0 &&
	    (path[5] == '\0' || path[5] == '/');
}

/*
 * Append the n bytes at s to buf (PATH_MAX, *len used), NUL-terminated:
 * 0, or -1 when the result would not fit.
 */
static int
path_join(char *buf, size_t *len, const char *s, size_t n)
{
	if (n >= PATH_MAX - *len)
		return -1;
	memcpy(buf + *len, s, n);
	*len += n;
	buf[*len] = '\0';
	return 0;
}

/*
 * path (clean, absolute) met a symlink (openat2 said ELOOP): follow
 * ordinary links ourselves.  The first prefix of path that readlink(2)
 * can read is the link (every shorter one is a directory, not a link);
 * its target takes its place (a relative one after the link's own
 * directory) and openat2 tries again without following links.  What this
 * ends on is clean and was opened with no link on the way, so its name is
 * the one the kernel would give (path_real_proc), for a readlink or two
 * where path_real_proc's readlink of /proc/self/fd/N costs 2.3 us (11 us
 * the first in a process): /bin, /lib, /lib64 and their children on a
 * merged /usr, /etc/localtime, at every start.  Anything else takes the
 * kernel's way: a target that is not clean once joined (".", "..",
 * "//"), a path or target under /proc (magic links), a target that does
 * not look like a path ("pipe:[N]", anon_inode:), 40 links.  0 with out,
 * *fdp (and *st); -2 with errno when nothing is there (ENOENT, ENOTDIR);
 * -1: ask path_real_proc.
 */
static int
path_real_links(const char *path, char *out, struct stat *st, int *fdp)
{
	char	cur[PATH_MAX], next[PATH_MAX], target[PATH_MAX];
	char	*slash;
	size_t	plen, dlen, len;
	ssize_t	n;
	int	hops, fd;

	if (strlen(path) >= sizeof(cur))
		return -1;
	strcpy(cur, path);
	for (hops = 0; hops < 40; hops++) {
		if (path_in_proc(cur))
			return -1;
		/*
		 * The first prefix that is a link: readlink(2) follows the
		 * links before the last component, so only prefixes whose
		 * parents are known to be plain directories are asked (a
		 * magic link on the way, /x -> /proc/self/fd then x/0,
		 * would name a file, not a path to it).
		 */
		for (slash = strchr(cur + 1, '/'); ; slash = strchr(slash + 1,
		    '/')) {
			if (slash != NULL)
				*slash = '\0';
			n = readlink(cur, target, sizeof(target));
			if (slash != NULL)
				*slash = '/';
			if (n >= 0)
				break;
			if (errno == ENOENT || errno == ENOTDIR)
				return -2;
			if (errno != EINVAL || slash == NULL)
				return -1;
		}
		if (n == 0 || (size_t)n >= sizeof(target))
			return -1;
		target[n] = '\0';
		if (path_in_proc(target) || strchr(target, ':') != NULL)
			return -1;
		plen = slash != NULL ? (size_t)(slash - cur) : strlen(cur);
		/*
		 * next = [the link's directory ("" for one in "/") "/"]
		 * target rest: joined by hand, snprintf cost 5 times the
		 * system calls' user time here.
		 */
		len = 0;
		if (target[0] != '/') {
			for (dlen = plen - 1; dlen > 0 && cur[dlen] != '/';
			    dlen--)
				;
			if (path_join(next, &len, cur, dlen) == -1 ||
			    path_join(next, &len, "/", 1) == -1)
				return -1;
		}
		if (path_join(next, &len, target, (size_t)n) == -1 ||
		    (slash != NULL && path_join(next, &len, slash,
		    strlen(slash)) == -1) || !path_is_clean(next))
			return -1;
		if ((fd = path_open_nofollow(next)) != -1)
			return path_answer(fd, next, len, out, st, fdp);
		if (errno == ENOENT || errno == ENOTDIR)
			return -2;
		if (errno != ELOOP)
			return -1;
		memcpy(cur, next, len + 1);
	}
	return -1;
}

char *
path_real_fd(const char *path, char *out, struct stat *st, int *fdp)
{
	size_t	len = strlen(path);
	int	fd;

	*fdp = -1;
	if (len < PATH_MAX && path_is_clean(path)) {
		if ((fd = path_open_nofollow(path)) != -1)
			return path_answer(fd, path, len, out, st, fdp) == 0 ?
			    out : NULL;
		/* Nothing on the way was a symlink: realpath agrees. */
		if (errno == ENOENT || errno == ENOTDIR)
			return NULL;
		/* A symlink: follow the ordinary kind ourselves. */
		if (errno == ELOOP) {
			switch (path_real_links(path, out, st, fdp)) {
			case 0:
				return out;
			case -2:
				return NULL;
			}
		}
		/* ENOSYS, EACCES, a link we leave to the kernel: the long way. */
	}
	switch (path_real_proc(path, out, st, fdp)) {
	case 0:
		return out;
	case -2:
		return NULL;
	}
	if (realpath(path, out) == NULL)
		return NULL;
	if (st != NULL && stat(out, st) == -1)
		return NULL;
	return out;
}

char *
path_real(const char *path, char *out, struct stat *st)
{
	char	*r;
	int	 fd;

	if ((r = path_real_fd(path, out, st, &fd)) != NULL && fd != -1)
		(void)close(fd);
	return r;
}

size_t
path_real_proc_count(void)
{
	return path_proc_names;
}
