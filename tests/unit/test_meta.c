#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "policy/grants.h"
#include "policy/plan.h"
#include "sandbox/mediator.h"
#include "util/strv.h"

/*
 * The metadata decision (SPEC §3.2): what sandbox_mediator_meta_decide
 * says for a canonical path, with a plan built by hand: /w (user, rw),
 * /tmp (group, rw), /r (user, read only), /f/file (file, rw),
 * /dev/null (group file, rw), and the sensitive path /w/.ssh.
 */

struct fx {
	struct plan	p;
	struct fs_grant	g[5];
};

static int
setup(void **state)
{
	static struct fx	fx;

	memset(&fx, 0, sizeof(fx));
	fx.g[0] = (struct fs_grant){ .path = "/w", .access = FS_READWRITE,
	    .source = FS_SRC_USER };
	fx.g[1] = (struct fs_grant){ .path = "/tmp", .access = FS_READWRITE,
	    .source = FS_SRC_GROUP };
	fx.g[2] = (struct fs_grant){ .path = "/r", .access = FS_READ,
	    .source = FS_SRC_USER };
	fx.g[3] = (struct fs_grant){ .path = "/f/file", .access = FS_WRITE,
	    .is_file = true, .source = FS_SRC_USER };
	fx.g[4] = (struct fs_grant){ .path = "/dev/null",
	    .access = FS_READWRITE, .is_file = true, .source = FS_SRC_GROUP };
	fx.p.grants = fx.g;
	fx.p.ngrants = 5;
	strv_push(&fx.p.deny_paths, "/w/.ssh");
	*state = &fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx	*fx = *state;

	strv_free(&fx->p.deny_paths);
	strv_free(&fx->p.override_deny);
	return 0;
}

static int
decide(void **state, const char *path, mode_t type, nlink_t nlink,
    bool chmod, mode_t mode, const char **reason)
{
	struct fx	*fx = *state;

	return sandbox_mediator_meta_decide(&fx->p, path, type, nlink, chmod,
	    mode, reason);
}

static void
test_meta_allows_files_inside_a_write_grant(void **state)
{
	const char	*r;

	assert_int_equal(decide(state, "/w/src/a.c", S_IFREG, 1, true, 0755,
	    &r), 0);
	assert_null(r);
	assert_int_equal(decide(state, "/w", S_IFDIR, 2, false, 0, &r), 0);
	assert_int_equal(decide(state, "/tmp/x", S_IFREG, 1, false, 0, &r),
	    0);
	assert_int_equal(decide(state, "/f/file", S_IFREG, 1, true, 0600,
	    &r), 0);
}

static void
test_meta_denies_outside_write_grants_with_eacces(void **state)
{
	const char	*r;

	assert_int_equal(decide(state, "/etc/passwd", S_IFREG, 1, true, 0777,
	    &r), -EACCES);
	assert_string_equal(r, "metadata change outside write grants");
	/* Read-only grant, a sibling with the same prefix, a file grant's
	 * neighbour. */
	assert_int_equal(decide(state, "/r/x", S_IFREG, 1, false, 0, &r),
	    -EACCES);
	assert_int_equal(decide(state, "/wx/a", S_IFREG, 1, false, 0, &r),
	    -EACCES);
	assert_int_equal(decide(state, "/f/other", S_IFREG, 1, false, 0, &r),
	    -EACCES);
}

static void
test_meta_denies_the_root_of_a_group_grant(void **state)
{
	const char	*r;

	/* /tmp's own mode and sticky bit stay the system's. */
	assert_int_equal(decide(state, "/tmp", S_IFDIR, 10, true, 0777, &r),
	    -EACCES);
	assert_string_equal(r, "metadata change outside write grants");
}

static void
test_meta_denies_sensitive_paths_unless_overridden(void **state)
{
	struct fx	*fx = *state;
	const char	*r;

	assert_int_equal(decide(state, "/w/.ssh/id_rsa", S_IFREG, 1, true,
	    04777, &r), -EACCES);
	assert_string_equal(r, "metadata change inside a sensitive path");
	strv_push(&fx->p.override_deny, "/w/.ssh");
	assert_int_equal(decide(state, "/w/.ssh/id_rsa", S_IFREG, 1, true,
	    0600, &r), 0);
}

static void
test_meta_denies_device_nodes_even_when_granted(void **state)
{
	const char	*r;

	assert_int_equal(decide(state, "/dev/null", S_IFCHR, 1, true, 0,
	    &r), -EACCES);
	assert_string_equal(r, "metadata change on a device node");
}

static void
test_meta_refuses_setid_programs_with_eperm(void **state)
{
	const char	*r;

	assert_int_equal(decide(state, "/w/bin", S_IFREG, 1, true, 04755,
	    &r), -EPERM);
	assert_string_equal(r, "set-user-ID or set-group-ID program");
	assert_int_equal(decide(state, "/w/bin", S_IFREG, 1, true, 02755,
	    &r), -EPERM);
	/* setgid without group execute (locking) and setgid directories
	 * are no programs. */
	assert_int_equal(decide(state, "/w/bin", S_IFREG, 1, true, 02644,
	    &r), 0);
	assert_int_equal(decide(state, "/w/dir", S_IFDIR, 2, true, 02775,
	    &r), 0);
	/* Unlinked files too: they can be linked back. */
	assert_int_equal(decide(state, "/memfd:x (deleted)", S_IFREG, 0,
	    true, 04755, &r), -EPERM);
}

static void
test_meta_allows_pathless_and_unlinked_objects(void **state)
{
	const char	*r;

	assert_int_equal(decide(state, "pipe:[1234]", S_IFIFO, 1, true, 0600,
	    &r), 0);
	assert_int_equal(decide(state, "/memfd:x (deleted)", S_IFREG, 0,
	    true, 0600, &r), 0);
	assert_int_equal(decide(state, "/etc/gone (deleted)", S_IFREG, 0,
	    false, 0, &r), 0);
}

static void
test_meta_denies_a_deleted_path_with_other_links(void **state)
{
	const char	*r;

	assert_int_equal(decide(state, "/w/x (deleted)", S_IFREG, 1, false,
	    0, &r), -EACCES);
	assert_string_equal(r, "metadata change on an unlinked path");
}

static void
test_grants_meta_check_needs_an_absolute_path(void **state)
{
	struct fx	*fx = *state;

	assert_string_equal(policy_grants_meta_check(&fx->p, "w/a"),
	    "not an absolute path");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_meta_allows_files_inside_a_write_grant),
		T(test_meta_denies_outside_write_grants_with_eacces),
		T(test_meta_denies_the_root_of_a_group_grant),
		T(test_meta_denies_sensitive_paths_unless_overridden),
		T(test_meta_denies_device_nodes_even_when_granted),
		T(test_meta_refuses_setid_programs_with_eperm),
		T(test_meta_allows_pathless_and_unlinked_objects),
		T(test_meta_denies_a_deleted_path_with_other_links),
		T(test_grants_meta_check_needs_an_absolute_path),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
