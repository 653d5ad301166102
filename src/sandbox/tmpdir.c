/*
 * The private per-run temporary directory (SPEC §7): created before the
 * child starts, exported as TMPDIR and friends, removed when it is gone.
 */
#include "sandbox/tmpdir.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/path.h"
#include "util/xmalloc.h"

/*
 * How deep removal descends.  Each level holds one descriptor; a tree the
 * child built deeper than this is left (and reported) rather than running
 * the supervisor out of descriptors.
 */
#define TMPDIR_DEPTH_MAX	256

char *
sandbox_tmpdir_create(const char *base, struct errbuf *e)
{
	char		 tmpl[PATH_MAX], real[PATH_MAX];
	struct stat	 st;
	int		 n;

	if (base == NULL || base[0] != '/' || stat(base, &st) == -1 ||
	    !S_ISDIR(st.st_mode))
		base = "/tmp";
	n = snprintf(tmpl, sizeof(tmpl), "%s/keyhole-XXXXXX", base);
	if (n < 0 || (size_t)n >= sizeof(tmpl)) {
		errbuf_set(e, "temporary directory under %s: path too long",
		    base);
		return NULL;
	}
	/* mkdtemp(3) creates it 0700, whatever the umask. */
	if (mkdtemp(tmpl) == NULL) {
		errbuf_sys(e, "cannot create a temporary directory under %s",
		    base);
		return NULL;
	}
	if (path_real(tmpl, real, NULL) == NULL) {
		errbuf_sys(e, "temporary directory %s", tmpl);
		(void)rmdir(tmpl);
		return NULL;
	}
	return xstrdup(real);
}

/* First failure wins the message. */
static void
tmpdir_fail(struct errbuf *e, int *rc, const char *what, const char *name)
{
	if (*rc == 0)
		errbuf_sys(e, "cannot remove %s%s", what, name);
	*rc = -1;
}

/*
 * Open directory name under dirfd for listing, never through a link.  A
 * directory without rwx for its owner gets it first (we are its owner;
 * the chmod goes through /proc/self/fd, so it acts on what we opened).
 */
static int
tmpdir_open_dir(int dirfd, const char *name)
{
	char		 proc[64];
	struct stat	 st;
	int		 pfd, fd;

	pfd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_DIRECTORY |
	    O_CLOEXEC);
	if (pfd == -1)
		return -1;
	if (fstat(pfd, &st) == 0 && (st.st_mode & S_IRWXU) != S_IRWXU) {
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pfd);
		(void)chmod(proc, st.st_mode | S_IRWXU);
	}
	fd = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	close(pfd);
	return fd;
}

/* Empty the directory open as fd (owned: closed here). */
static void
tmpdir_empty(int fd, int depth, struct errbuf *e, int *rc)
{
	DIR		*d;
	struct dirent	*de;
	int		 sub;

	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		tmpdir_fail(e, rc, "a directory in the temporary directory",
		    "");
		return;
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == 0)
			continue;
		if (errno != EISDIR && errno != EPERM) {
			if (errno != ENOENT)
				tmpdir_fail(e, rc, "", de->d_name);
			continue;
		}
		/* A directory (unlink(2) says EISDIR, or EPERM on Linux). */
		if (depth >= TMPDIR_DEPTH_MAX) {
			errno = ELOOP;
			tmpdir_fail(e, rc, "", de->d_name);
			continue;
		}
		if ((sub = tmpdir_open_dir(dirfd(d), de->d_name)) == -1) {
			tmpdir_fail(e, rc, "", de->d_name);
			continue;
		}
		tmpdir_empty(sub, depth + 1, e, rc);
		if (unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) == -1 &&
		    errno != ENOENT)
			tmpdir_fail(e, rc, "", de->d_name);
	}
	closedir(d);
}

int
sandbox_tmpdir_remove(const char *path, struct errbuf *e)
{
	int	fd, rc = 0;

	/*
	 * Empty, the usual case (`keyhole run -- true`): one rmdir, which
	 * follows no link at the end of path (ENOTDIR: the careful way
	 * below says so), instead of ten calls after the child has exited,
	 * while our caller waits.
	 */
	if (rmdir(path) == 0 || errno == ENOENT)
		return 0;
	if ((fd = tmpdir_open_dir(AT_FDCWD, path)) == -1) {
		if (errno == ENOENT)
			return 0;
		tmpdir_fail(e, &rc, "", path);
		return rc;
	}
	tmpdir_empty(fd, 0, e, &rc);
	if (rmdir(path) == -1 && errno != ENOENT)
		tmpdir_fail(e, &rc, "", path);
	return rc;
}
