#include "util/path.h"

#include <sys/syscall.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
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
static int
path_real_proc(const char *path, char *out, struct stat *st, int *fdp)
{
	char	link[32];
	ssize_t	n;
	int	fd;

	if ((fd = open(path, O_PATH | O_CLOEXEC)) == -1)
		return errno == ENOENT || errno == ENOTDIR || errno == ELOOP ?
		    -2 : -1;
	(void)snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
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

char *
path_real_fd(const char *path, char *out, struct stat *st, int *fdp)
{
	size_t	len = strlen(path);
	int	fd, saved;

	*fdp = -1;
	if (len < PATH_MAX && path_is_clean(path)) {
		if ((fd = path_open_nofollow(path)) != -1) {
			if (st != NULL && fstat(fd, st) == -1) {
				saved = errno;
				(void)close(fd);
				errno = saved;
				return NULL;
			}
			memcpy(out, path, len + 1);
			*fdp = fd;
			return out;
		}
		/* Nothing on the way was a symlink: realpath agrees. */
		if (errno == ENOENT || errno == ENOTDIR)
			return NULL;
		/* ELOOP (a symlink), ENOSYS, EACCES ...: the long way. */
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
