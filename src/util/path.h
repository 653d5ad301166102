#ifndef KEYHOLE_UTIL_PATH_H
#define KEYHOLE_UTIL_PATH_H

#include <sys/stat.h>

#include <stdbool.h>
#include <stddef.h>

/*
 * realpath(3) with the same answers and errno, cheaper: a clean absolute
 * path (no ".", "..", "//" or trailing "/") that openat2() can open
 * without meeting a symlink is already canonical, so one system call
 * replaces realpath's readlink of every component.  Anything else falls
 * back to realpath.  out has PATH_MAX bytes; returns out, or NULL with
 * errno.  When st is not NULL it receives stat(2) of the result.
 */
char	*path_real(const char *path, char *out, struct stat *st);
/*
 * path_real, and *fdp an O_PATH descriptor (close-on-exec, the caller's)
 * of the file it named, so that a caller who opens the result next
 * opens nothing twice; *fdp is -1 when only realpath(3) could answer.
 */
char	*path_real_fd(const char *path, char *out, struct stat *st, int *fdp);

/*
 * For tests: how many times a name was asked of the kernel (open, then
 * readlink of /proc/self/fd/N) rather than found by following ordinary
 * links; only magic links, ".." in a link and the like need it.
 */
size_t	 path_real_proc_count(void);

/* True when path is absolute and has no ".", ".." or empty component. */
bool	 path_is_clean(const char *path);

#endif
