#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sandbox/tmpdir.h"
#include "util/errbuf.h"

/* A scratch base for one test, under /tmp. */
static char *
base_new(void)
{
	char	tmpl[] = "/tmp/test-tmpdir-XXXXXX";

	assert_non_null(mkdtemp(tmpl));
	return strdup(tmpl);
}

static void
put(const char *dir, const char *name, const char *text)
{
	char	path[PATH_MAX];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
}

static void
test_tmpdir_created_0700_under_base(void **state)
{
	struct errbuf	 e = { 0 };
	struct stat	 st;
	char		*base = base_new(), *d;

	(void)state;
	d = sandbox_tmpdir_create(base, &e);
	assert_non_null(d);
	assert_int_equal(strncmp(d, base, strlen(base)), 0);
	assert_int_equal(strncmp(d + strlen(base), "/keyhole-", 9), 0);
	assert_int_equal(stat(d, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(sandbox_tmpdir_remove(d, &e), 0);
	assert_int_equal(access(d, F_OK), -1);
	free(d);
	assert_int_equal(rmdir(base), 0);
	free(base);
}

static void
test_tmpdir_falls_back_to_tmp_for_a_bad_base(void **state)
{
	struct errbuf	 e = { 0 };
	char		*d;

	(void)state;
	d = sandbox_tmpdir_create("relative/dir", &e);
	assert_non_null(d);
	assert_int_equal(strncmp(d, "/tmp/keyhole-", 13), 0);
	assert_int_equal(sandbox_tmpdir_remove(d, &e), 0);
	free(d);
	d = sandbox_tmpdir_create("/nonexistent/keyhole-test", &e);
	assert_non_null(d);
	assert_int_equal(strncmp(d, "/tmp/keyhole-", 13), 0);
	assert_int_equal(sandbox_tmpdir_remove(d, &e), 0);
	free(d);
}

static void
test_tmpdir_remove_never_follows_links(void **state)
{
	struct errbuf	 e = { 0 };
	char		*base = base_new(), *d, path[PATH_MAX + 32], out[PATH_MAX / 2];
	char		 link[PATH_MAX + 16];

	(void)state;
	/* Something outside that links inside the tree point at. */
	snprintf(out, sizeof(out), "%s/outside", base);
	assert_int_equal(mkdir(out, 0755), 0);
	put(out, "keep.txt", "keep\n");
	d = sandbox_tmpdir_create(base, &e);
	assert_non_null(d);
	snprintf(path, sizeof(path), "%s/a", d);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/a/b", d);
	assert_int_equal(mkdir(path, 0700), 0);
	put(path, "f", "x");
	snprintf(link, sizeof(link), "%s/a/dirlink", d);
	assert_int_equal(symlink(out, link), 0);
	snprintf(link, sizeof(link), "%s/filelink", d);
	snprintf(path, sizeof(path), "%s/keep.txt", out);
	assert_int_equal(symlink(path, link), 0);
	/* A directory its maker locked. */
	snprintf(path, sizeof(path), "%s/locked", d);
	assert_int_equal(mkdir(path, 0700), 0);
	put(path, "g", "y");
	assert_int_equal(chmod(path, 0), 0);

	assert_int_equal(sandbox_tmpdir_remove(d, &e), 0);
	assert_int_equal(access(d, F_OK), -1);
	snprintf(path, sizeof(path), "%s/keep.txt", out);
	assert_int_equal(access(path, R_OK), 0);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(out), 0);
	assert_int_equal(rmdir(base), 0);
	free(d);
	free(base);
}

/*
 * Removing an empty directory, however its mode was left, and one that a
 * link took the place of: the link goes, never what it points at.
 */
static void
test_tmpdir_remove_of_empty_or_replaced_directory(void **state)
{
	struct errbuf	 e = { 0 };
	char		*base = base_new(), *d, out[PATH_MAX / 2];

	(void)state;
	d = sandbox_tmpdir_create(base, &e);
	assert_non_null(d);
	assert_int_equal(chmod(d, 0), 0);
	assert_int_equal(sandbox_tmpdir_remove(d, &e), 0);
	assert_int_equal(access(d, F_OK), -1);
	free(d);

	snprintf(out, sizeof(out), "%s/outside", base);
	assert_int_equal(mkdir(out, 0755), 0);
	d = sandbox_tmpdir_create(base, &e);
	assert_non_null(d);
	assert_int_equal(rmdir(d), 0);
	assert_int_equal(symlink(out, d), 0);
	assert_int_equal(sandbox_tmpdir_remove(d, &e), -1);
	assert_int_equal(access(out, F_OK), 0);
	assert_int_equal(unlink(d), 0);
	assert_int_equal(rmdir(out), 0);
	assert_int_equal(rmdir(base), 0);
	free(d);
	free(base);
}

static void
test_tmpdir_remove_of_missing_directory_is_fine(void **state)
{
	struct errbuf	e = { 0 };

	(void)state;
	assert_int_equal(sandbox_tmpdir_remove("/tmp/keyhole-test-missing-x",
	    &e), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tmpdir_created_0700_under_base),
		cmocka_unit_test(test_tmpdir_falls_back_to_tmp_for_a_bad_base),
		cmocka_unit_test(test_tmpdir_remove_never_follows_links),
		cmocka_unit_test(
		    test_tmpdir_remove_of_empty_or_replaced_directory),
		cmocka_unit_test(
		    test_tmpdir_remove_of_missing_directory_is_fine),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
