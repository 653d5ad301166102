/*
 * path_real: the same answers and errno as realpath(3), whichever way it
 * gets them (one openat2 for clean symlink-free paths, realpath else).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/path.h"

static char	root[64];

/*
 * root/d/f (file), root/d/sub/ (dir), and the links of links[]: root/ld ->
 * d (relative), root/d/up -> ../d/sub (with ".."), root/abs -> root/d
 * (absolute), root/dangling -> nowhere, root/loop -> loop, chains, magic
 * and non-path targets.
 */
static int
group_setup(void **state)
{
	/* in_root: the target is absolute, root prefixed. */
	static const struct {
		const char	*name, *target;
		bool		 in_root;
	} links[] = {
		{ "ld", "d", false },
		{ "d/up", "../d/sub", false },
		{ "abs", "/d", true },
		{ "dangling", "nowhere", false },
		{ "loop", "loop", false },
		/* Links to links, absolute and relative, mid-path. */
		{ "chain", "ld", false },
		{ "d/sub/back", "/chain", true },
		{ "d/sub/dot", "./../f", false },
		{ "d/sub/slashes", "..//sub", false },
		/* Into /proc (magic links), a target that is not a path. */
		{ "fd", "/proc/self/fd", false },
		{ "pipe", "pipe:[1]", false },
		{ "loop2", "loop3/x", false },
		{ "loop3", "loop2/y", false },
	};
	char	p[PATH_MAX], t[PATH_MAX];
	size_t	i;

	(void)state;
	snprintf(root, sizeof(root), "/tmp/kh-test-path-XXXXXX");
	if (mkdtemp(root) == NULL)
		return -1;
	snprintf(p, sizeof(p), "%s/d", root);
	if (mkdir(p, 0700) == -1)
		return -1;
	snprintf(p, sizeof(p), "%s/d/sub", root);
	if (mkdir(p, 0700) == -1)
		return -1;
	snprintf(p, sizeof(p), "%s/d/f", root);
	if (fclose(fopen(p, "w")) != 0)
		return -1;
	for (i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", root, links[i].name);
		snprintf(t, sizeof(t), "%s%s", links[i].in_root ? root : "",
		    links[i].target);
		if (symlink(t, p) == -1)
			return -1;
	}
	return 0;
}

static int
group_teardown(void **state)
{
	char	cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

/* path_real(root + rel) agrees with realpath, result and errno. */
static void
agrees(const char *rel)
{
	char		in[PATH_MAX], want[PATH_MAX], got[PATH_MAX];
	struct stat	st, wst;
	char		*w, *g;
	int		werr, gerr;

	if (rel[0] == '/' || rel[0] == '\0')
		snprintf(in, sizeof(in), "%s%s", root, rel);
	else
		snprintf(in, sizeof(in), "%s", rel);
	errno = 0;
	w = realpath(in, want);
	werr = errno;
	errno = 0;
	g = path_real(in, got, &st);
	gerr = errno;
	if (w == NULL) {
		assert_null(g);
		assert_int_equal(gerr, werr);
		return;
	}
	assert_non_null(g);
	assert_string_equal(got, want);
	assert_int_equal(stat(want, &wst), 0);
	assert_int_equal(st.st_ino, wst.st_ino);
	assert_int_equal(st.st_mode, wst.st_mode);
}

/*
 * path_real_fd gives path_real's answer and errno, and (unless only
 * realpath could answer) an O_PATH, close-on-exec descriptor of the very
 * file the answer names.
 */
static void
agrees_fd(const char *rel)
{
	char		in[PATH_MAX], want[PATH_MAX], got[PATH_MAX];
	struct stat	st, fst, wst;
	char		*w, *g;
	int		werr, gerr, fd = -2;

	if (rel[0] == '/' || rel[0] == '\0')
		snprintf(in, sizeof(in), "%s%s", root, rel);
	else
		snprintf(in, sizeof(in), "%s", rel);
	errno = 0;
	w = path_real(in, want, NULL);
	werr = errno;
	errno = 0;
	g = path_real_fd(in, got, &st, &fd);
	gerr = errno;
	if (w == NULL) {
		assert_null(g);
		assert_int_equal(gerr, werr);
		assert_int_equal(fd, -1);
		return;
	}
	assert_non_null(g);
	assert_string_equal(got, want);
	assert_int_equal(stat(want, &wst), 0);
	assert_int_equal(st.st_ino, wst.st_ino);
	if (fd == -1)
		return;
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &fst), 0);
	assert_int_equal(fst.st_ino, wst.st_ino);
	assert_int_equal(fst.st_dev, wst.st_dev);
	assert_true(fcntl(fd, F_GETFL) & O_PATH);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);
}

static void
test_path_real_fd_opens_what_it_names(void **state)
{
	static const char *const rels[] = { "", "/d", "/d/f", "/d/sub", "/",
	    "/ld", "/ld/f", "/ld/sub", "/d/up", "/abs/sub", "/d/", "/d/./f",
	    "/d/../d/f", "/nope", "/d/f/x", "/loop" };
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(rels) / sizeof(rels[0]); i++)
		agrees_fd(rels[i]);
}

static void
test_path_real_clean_paths_are_kept(void **state)
{
	(void)state;
	agrees("");
	agrees("/d");
	agrees("/d/f");
	agrees("/d/sub");
	agrees("/");
}

static void
test_path_real_symlinks_resolved(void **state)
{
	(void)state;
	agrees("/ld");
	agrees("/ld/f");
	agrees("/ld/sub");
	agrees("/d/up");
	agrees("/abs/sub");
}

/*
 * Links met on the way are followed without /proc where they are
 * ordinary (chains, absolute, relative, deep): the same answers, and the
 * same errors for what is not there; what is left to the kernel (".."
 * or "." in a target, magic links, non-path targets, loops) too.
 */
static void
test_path_real_link_chains_and_targets(void **state)
{
	static const char *const plain[] = { "/chain", "/chain/f",
	    "/chain/sub/back/f", "/d/sub/back", "/d/sub/back/sub/back/f",
	    "/chain/missing", "/chain/f/x", "/d/sub/back/missing/deeper",
	    "/abs/f", "/abs/sub/back/f", "/ld/sub", "/dangling" };
	static const char *const kernel[] = { "/d/sub/dot", "/d/sub/slashes",
	    "/fd", "/fd/0", "/d/up", "/pipe", "/loop2", "/loop2/z" };
	size_t	i, before;

	(void)state;
	before = path_real_proc_count();
	for (i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		agrees(plain[i]);
		agrees_fd(plain[i]);
	}
	assert_int_equal(path_real_proc_count(), before);
	for (i = 0; i < sizeof(kernel) / sizeof(kernel[0]); i++) {
		before = path_real_proc_count();
		agrees(kernel[i]);
		agrees_fd(kernel[i]);
		assert_true(path_real_proc_count() > before);
	}
}

/*
 * A link whose target joined with the rest of the path is PATH_MAX - 2,
 * PATH_MAX - 1 (the longest name that fits with its NUL) or PATH_MAX
 * bytes long, absolute and relative: realpath's answers and errors, the
 * ones that fit without /proc, the one that does not by the kernel's way
 * (an off-by-one in the join would overflow or answer it).
 */
static void
test_path_real_link_joins_at_path_max(void **state)
{
	char		dir[PATH_MAX], rel[PATH_MAX], name[NAME_MAX + 1];
	char		comp[201];
	size_t		len, i, n, before;
	int		dfd, fd, next;

	(void)state;
	memset(comp, 'c', sizeof(comp) - 1);
	comp[sizeof(comp) - 1] = '\0';
	snprintf(dir, sizeof(dir), "%s/big", root);
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_true((dfd = open(dir, O_PATH | O_DIRECTORY)) >= 0);
	len = strlen(dir);
	for (i = 0; i < 19; i++) {
		assert_int_equal(mkdirat(dfd, comp, 0700), 0);
		assert_true((next = openat(dfd, comp, O_PATH |
		    O_DIRECTORY)) >= 0);
		close(dfd);
		dfd = next;
		len += snprintf(dir + len, sizeof(dir) - len, "/%s", comp);
	}
	assert_true(len < PATH_MAX - 8 && PATH_MAX - len - 1 <= NAME_MAX);
	snprintf(rel, sizeof(rel), "%s/lbig", root);
	assert_int_equal(symlink(dir, rel), 0);
	for (n = PATH_MAX - 2 - len - 1; n <= PATH_MAX - len - 1; n++) {
		memset(name, 'n', n);
		name[n] = '\0';
		assert_true((fd = openat(dfd, name, O_WRONLY | O_CREAT, 0600)) >=
		    0);
		close(fd);
		/* dir/rl -> name, relative: joined after the link's dir. */
		(void)unlinkat(dfd, "rl", 0);
		assert_int_equal(symlinkat(name, dfd, "rl"), 0);
		before = path_real_proc_count();
		snprintf(rel, sizeof(rel), "/lbig/%s", name);
		agrees(rel);
		agrees_fd(rel);
		snprintf(rel, sizeof(rel), "%s/rl", dir + strlen(root));
		agrees(rel);
		agrees_fd(rel);
		if (len + 1 + n < PATH_MAX)
			assert_int_equal(path_real_proc_count(), before);
		else
			assert_true(path_real_proc_count() > before);
	}
	close(dfd);
}

/* System paths behind links, as the default profile names them. */
static void
test_path_real_system_links(void **state)
{
	static const char *const paths[] = { "/bin", "/lib", "/lib64",
	    "/sbin", "/lib/terminfo", "/etc/localtime", "/etc/os-release",
	    "/dev/stdin", "/dev/stdout", "/dev/fd", "/lib/no-such-dir",
	    "/proc/self", "/proc/self/fd/0" };
	char		got[PATH_MAX], want[PATH_MAX];
	struct stat	st;
	char		*w, *g;
	size_t		i;
	int		werr, gerr, fd;

	(void)state;
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		errno = 0;
		w = realpath(paths[i], want);
		werr = errno;
		errno = 0;
		g = path_real_fd(paths[i], got, &st, &fd);
		gerr = errno;
		if (w == NULL) {
			assert_null(g);
			assert_int_equal(gerr, werr);
			continue;
		}
		assert_non_null(g);
		assert_string_equal(got, want);
		if (fd != -1)
			close(fd);
	}
}

static void
test_path_real_unclean_paths(void **state)
{
	(void)state;
	agrees("/d/");
	agrees("//d//sub");
	agrees("/d/./sub");
	agrees("/d/sub/..");
	agrees("/d/sub/../f");
	agrees("/ld/../d/f");
}

static void
test_path_real_errors_match(void **state)
{
	(void)state;
	agrees("/missing");
	agrees("/missing/deeper");
	agrees("/d/f/under-a-file");
	agrees("/d/f/");
	agrees("/dangling");
	agrees("/dangling/x");
	agrees("/loop");
	agrees("/ld/missing");
	agrees("/ld/missing/deeper");
	agrees("/ld/f/under-a-file");
	agrees("/loop/x");
}

static void
test_path_real_relative_path(void **state)
{
	char	cwd[PATH_MAX];

	(void)state;
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(root), 0);
	agrees("d/sub");
	agrees("ld");
	agrees(".");
	assert_int_equal(chdir(cwd), 0);
}

static void
test_path_real_without_stat(void **state)
{
	char	in[PATH_MAX], out[PATH_MAX], want[PATH_MAX];

	(void)state;
	snprintf(in, sizeof(in), "%s/d/sub", root);
	assert_non_null(path_real(in, out, NULL));
	assert_non_null(realpath(in, want));
	assert_string_equal(out, want);
}

static void
test_path_is_clean(void **state)
{
	(void)state;
	assert_true(path_is_clean("/"));
	assert_true(path_is_clean("/usr/lib"));
	assert_true(path_is_clean("/a/.b/..c/b.."));
	assert_false(path_is_clean(""));
	assert_false(path_is_clean("usr/lib"));
	assert_false(path_is_clean("/usr/"));
	assert_false(path_is_clean("//usr"));
	assert_false(path_is_clean("/usr//lib"));
	assert_false(path_is_clean("/usr/./lib"));
	assert_false(path_is_clean("/usr/lib/."));
	assert_false(path_is_clean("/usr/../lib"));
	assert_false(path_is_clean("/usr/lib/.."));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_real_clean_paths_are_kept),
		cmocka_unit_test(test_path_real_symlinks_resolved),
		cmocka_unit_test(test_path_real_unclean_paths),
		cmocka_unit_test(test_path_real_errors_match),
		cmocka_unit_test(test_path_real_relative_path),
		cmocka_unit_test(test_path_real_without_stat),
		cmocka_unit_test(test_path_is_clean),
		cmocka_unit_test(test_path_real_fd_opens_what_it_names),
		cmocka_unit_test(test_path_real_link_chains_and_targets),
		cmocka_unit_test(test_path_real_system_links),
		cmocka_unit_test(test_path_real_link_joins_at_path_max),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
