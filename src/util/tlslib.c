/*
 * OpenSSL on first use: loading keyhole-tls.so behind the trampolines of
 * build/gen/tls_stubs.S (util/tlslib.h, docs/HACKING.md).
 *
 * Every trampoline jumps through tlslib_table.  An entry starts at its
 * lazy stub, which saves the argument registers and calls
 * tlslib_resolve(): that loads the library once (pthread_once), fills the
 * whole table by dlsym, makes the table read-only and returns; the stub
 * then jumps to the real function with the caller's arguments.  A library
 * that cannot be loaded at that point ends keyhole with exit status 1 and
 * a message naming the file: tlslib_check() at a proxy's start makes
 * that an error at start.
 */
#include "util/tlslib.h"

#include "util/errbuf.h"

#ifndef KEYHOLE_TLSSPLIT

int
tlslib_check(struct errbuf *e)
{
	(void)e;
	return 0;
}

const char *
tlslib_path(void)
{
	return "";
}

#else

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"

#define TLSLIB_NAME	"keyhole-tls.so"

/* build/gen/tls_stubs.S */
extern void		*tlslib_table[];
extern const size_t	 tlslib_table_bytes;
extern const size_t	 tlslib_count;
extern const char	 tlslib_names[];
void			 tlslib_resolve(void);

static char		 tlslib_found[PATH_MAX];
static bool		 tlslib_have_proc;
static pthread_once_t	 tlslib_once = PTHREAD_ONCE_INIT;

/*
 * The library must be as trustworthy as the executable beside it: a
 * regular file nobody but its owner can write, owned by root, by us or by
 * whoever owns the executable (a build tree run with sudo).
 */
static int
tlslib_vet(int fd, const char *path, struct errbuf *e)
{
	struct stat	st, exe;

	if (fstat(fd, &st) == -1) {
		errbuf_sys(e, "fstat %s", path);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		errbuf_set(e, "%s: not a regular file", path);
		return -1;
	}
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		errbuf_set(e, "%s: writable by group or others (mode %04o); "
		    "refusing to load it", path, (unsigned)st.st_mode & 07777);
		return -1;
	}
	if (st.st_uid == 0 || st.st_uid == geteuid() ||
	    (stat("/proc/self/exe", &exe) == 0 && st.st_uid == exe.st_uid))
		return 0;
	errbuf_set(e, "%s: owned by uid %u, not root, us nor the executable's "
	    "owner; refusing to load it", path, (unsigned)st.st_uid);
	return -1;
}

/*
 * The library opened: beside the executable (the build tree), else in
 * ../lib/keyhole/ from it (make install, the package, the image).
 */
static int
tlslib_open(struct errbuf *e)
{
	static const char *const rel[] = {
		"/" TLSLIB_NAME,
		"/../lib/keyhole/" TLSLIB_NAME,
	};
	char		 dir[PATH_MAX], path[PATH_MAX], *slash;
	const char	*execfn;
	ssize_t		 n;
	size_t		 i;
	int		 fd, w;

	if ((n = readlink("/proc/self/exe", dir, sizeof(dir) - 1)) != -1) {
		dir[n] = '\0';
		tlslib_have_proc = true;
	} else if ((execfn = (const char *)getauxval(AT_EXECFN)) != NULL &&
	    strlen(execfn) < sizeof(dir)) {
		/* No /proc (a bare chroot): the name keyhole was run by. */
		memcpy(dir, execfn, strlen(execfn) + 1);
		tlslib_have_proc = false;
	} else {
		errbuf_sys(e, "readlink /proc/self/exe (to find %s)",
		    TLSLIB_NAME);
		return -1;
	}
	if ((slash = strrchr(dir, '/')) != NULL)
		*slash = '\0';
	else
		memcpy(dir, ".", 2);
	for (i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		w = snprintf(path, sizeof(path), "%s%s", dir, rel[i]);
		if (w < 0 || (size_t)w >= sizeof(path)) {
			errbuf_set(e, "%s: path too long for %s", dir,
			    TLSLIB_NAME);
			return -1;
		}
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
			if (errno == ENOENT)
				continue;
			errbuf_sys(e, "open %s", path);
			return -1;
		}
		if (tlslib_vet(fd, path, e) == -1) {
			close(fd);
			return -1;
		}
		memcpy(tlslib_found, path, (size_t)w + 1);
		return fd;
	}
	errbuf_set(e, "%s not found in %s or %s/../lib/keyhole (keyhole's "
	    "TLS support: install it with the executable)", TLSLIB_NAME, dir,
	    dir);
	return -1;
}

int
tlslib_check(struct errbuf *e)
{
	int	fd;

	if ((fd = tlslib_open(e)) == -1)
		return -1;
	close(fd);
	return 0;
}

const char *
tlslib_path(void)
{
	return tlslib_found;
}

static void __attribute__((noreturn))
tlslib_die(const struct errbuf *e)
{
	fprintf(stderr, "keyhole: TLS support: %s\n", errbuf_msg(e));
	_exit(1);
}

/*
 * Loaded through /proc/self/fd where there is a /proc, so the file dlopen
 * maps is the one tlslib_vet looked at.
 */
static void
tlslib_load(void)
{
	struct errbuf	 e;
	char		 proc[64];
	const char	*name;
	void		*h, *fn;
	size_t		 i;
	int		 fd;

	errbuf_clear(&e);
	if ((fd = tlslib_open(&e)) == -1)
		tlslib_die(&e);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	h = dlopen(tlslib_have_proc ? proc : tlslib_found,
	    RTLD_NOW | RTLD_LOCAL);
	close(fd);
	if (h == NULL) {
		errbuf_set(&e, "%s: %s", tlslib_found, dlerror());
		tlslib_die(&e);
	}
	name = tlslib_names;
	for (i = 0; i < tlslib_count; i++) {
		if ((fn = dlsym(h, name)) == NULL) {
			errbuf_set(&e, "%s has no %s (not built with this "
			    "executable?)", tlslib_found, name);
			tlslib_die(&e);
		}
		tlslib_table[i] = fn;
		name += strlen(name) + 1;
	}
	if (mprotect(tlslib_table, tlslib_table_bytes, PROT_READ) == -1) {
		errbuf_sys(&e, "mprotect of the TLS function table");
		tlslib_die(&e);
	}
	log_debug("tls: loaded %s (%zu functions)", tlslib_found,
	    tlslib_count);
}

void
tlslib_resolve(void)
{
	pthread_once(&tlslib_once, tlslib_load);
}

#endif
