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

char *
path_real(const char *path, char *out, struct stat *st)
{
	size_t	len = strlen(path);
	int	fd, rc, saved;

	if (len < PATH_MAX && path_is_clean(path)) {
		if ((fd = path_open_nofollow(path)) != -1) {
			rc = st != NULL ? fstat(fd, st) : 0;
			saved = errno;
			(void)close(fd);
			if (rc == -1) {
				errno = saved;
				return NULL;
			}
			memcpy(out, path, len + 1);
			return out;
		}
		/* Nothing on the way was a symlink: realpath agrees. */
		if (errno == ENOENT || errno == ENOTDIR)
			return NULL;
		/* ELOOP (a symlink), ENOSYS, EACCES ...: the long way. */
	}
	if (realpath(path, out) == NULL)
		return NULL;
	if (st != NULL && stat(out, st) == -1)
		return NULL;
	return out;
}
