#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "creds/secret.h"
#include "creds/source.h"
#include "creds/store.h"
#include "util/errbuf.h"
#include "util/xmalloc.h"

/*
 * Each test gets a temporary directory holding helper scripts, among them
 * a fake `op`, and an environment snapshot whose PATH starts there.
 */
struct fix {
	char	 dir[64];
	char	*path_var;	/* "PATH=<dir>:/usr/bin:/bin" */
	char	*envp[3];
};

/* The fake 1Password CLI: `op read -- op://vault/item/field`. */
static const char fake_op[] =
    "#!/bin/sh\n"
    "[ \"$1\" = read ] && [ \"$2\" = -- ] || { echo usage >&2; exit 2; }\n"
    "case \"$3\" in\n"
    "op://vault/item/field) printf 'op-secret\\r\\n\\n' ;;\n"
    "op://vault/item/sub/field) printf 'deep-secret\\n' ;;\n"
    "op://vault/signedout/*)\n"
    "  echo '[ERROR] You are not signed in. Run op signin' >&2\n"
    "  exit 1 ;;\n"
    "op://vault/missing/*)\n"
    "  echo \"[ERROR] \\\"missing\\\" isn't an item in vault\" >&2\n"
    "  exit 1 ;;\n"
    "*) echo '[ERROR] something broke' >&2; exit 4 ;;\n"
    "esac\n";

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Write an executable script dir/name. */
static void
put_script(const struct fix *f, const char *name, const char *body)
{
	char	*p = xasprintf("%s/%s", f->dir, name);
	FILE	*fp = fopen(p, "w");

	assert_non_null(fp);
	fputs(body, fp);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(chmod(p, 0755), 0);
	free(p);
}

static int
setup(void **state)
{
	struct fix	*f = xcalloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/keyhole-creds-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	f->path_var = xasprintf("PATH=%s:/usr/bin:/bin", f->dir);
	f->envp[0] = f->path_var;
	f->envp[1] = (char *)"HELPER_VAR=from-snapshot";
	f->envp[2] = NULL;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fix	*f = *state;

	nftw(f->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	free(f->path_var);
	free(f);
	return 0;
}

static void
assert_secret(const struct secret *s, const char *want)
{
	assert_non_null(s);
	assert_int_equal(creds_secret_len(s), strlen(want));
	assert_true(creds_secret_equal(s, want, strlen(want)));
}

/* A store on f's snapshot with ref added as "c" (must parse). */
static struct creds_store *
store_with(struct fix *f, const char *ref)
{
	struct creds_store	*st = creds_store_new(f->envp);
	struct errbuf		 e;

	errbuf_clear(&e);
	creds_store_set_timeout(st, 5000);
	assert_int_equal(creds_store_add(st, "c", ref, &e), 0);
	return st;
}

/* Add ref as "c"; expect failure with exactly message want. */
static void
assert_add_fails(const char *ref, const char *want)
{
	struct creds_store	*st = creds_store_new(NULL);
	struct errbuf		 e;

	errbuf_clear(&e);
	assert_int_equal(creds_store_add(st, "c", ref, &e), -1);
	assert_string_equal(errbuf_msg(&e), want);
	creds_store_free(st);
}

static void
test_cmd_stdout_is_the_secret_trailing_space_trimmed(void **state)
{
	struct fix		*f = *state;
	struct creds_store	*st;
	char			*ref;

	put_script(f, "ok.sh", "#!/bin/sh\nprintf '%s-%s-%s \\t\\n\\n' "
	    "\"$1\" \"$2\" \"$HELPER_VAR\"\necho noise >&2\n");
	ref = xasprintf("cmd://%s/ok.sh  one two", f->dir);
	st = store_with(f, ref);
	/* Split on spaces, no shell; the snapshot is the environment. */
	assert_secret(creds_store_get(st, "c"), "one-two-from-snapshot");
	assert_null(creds_store_reason(st, "c"));
	free(ref);
	creds_store_free(st);
}

static void
test_cmd_is_found_on_the_snapshot_path(void **state)
{
	struct fix		*f = *state;
	struct creds_store	*st;

	put_script(f, "my-secret-helper", "#!/bin/sh\necho helper-out\n");
	st = store_with(f, "cmd://my-secret-helper");
	assert_secret(creds_store_get(st, "c"), "helper-out");
	creds_store_free(st);
}

static void
test_cmd_arguments_are_not_shell_expanded(void **state)
{
	struct fix		*f = *state;
	struct creds_store	*st;
	char			*ref;

	put_script(f, "echo1.sh", "#!/bin/sh\nprintf '%s' \"$1\"\n");
	ref = xasprintf("cmd://%s/echo1.sh $HOME;*", f->dir);
	st = store_with(f, ref);
	assert_secret(creds_store_get(st, "c"), "$HOME;*");
	free(ref);
	creds_store_free(st);
}

static void
test_cmd_nonzero_exit_is_unavailable_with_status(void **state)
{
	struct fix		*f = *state;
	struct creds_store	*st;
	char			*ref;

	put_script(f, "fail.sh", "#!/bin/sh\necho partial\nexit 3\n");
	ref = xasprintf("cmd://%s/fail.sh", f->dir);
	st = store_with(f, ref);
	assert_null(creds_store_get(st, "c"));
	assert_string_equal(creds_store_reason(st, "c"),
	    "cmd exited with status 3");
	free(ref);
	creds_store_free(st);
}

static void
test_cmd_timeout_kills_it_and_is_unavailable(void **state)
{
	struct fix		*f = *state;
	struct creds_store	*st;
	struct errbuf		 e;
	struct timespec		 t0, t1;
	char			*ref;
	long			 ms;

	/* The sleep is a grandchild holding stdout: the group is killed. */
	put_script(f, "slow.sh", "#!/bin/sh\nsleep 30\necho late\n");
	ref = xasprintf("cmd://%s/slow.sh", f->dir);
	st = creds_store_new(f->envp);
	creds_store_set_timeout(st, 300);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(creds_store_add(st, "c", ref, &e), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 +
	    (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(ms >= 250 && ms < 5000);
	assert_null(creds_store_get(st, "c"));
	assert_string_equal(creds_store_reason(st, "c"),
	    "cmd timed out after 300 ms");
	free(ref);
	creds_store_free(st);
}

static void
test_cmd_done_when_it_exits_though_a_child_holds_stdout(void **state)
{
	struct fix		*f = *state;
	struct creds_store	*st;
	struct timespec		 t0, t1;
	char			*ref;
	long			 ms;

	/* Like op leaving its session daemon behind with our pipes. */
	put_script(f, "daemon.sh", "#!/bin/sh\n(sleep 2 &)\necho quick\n");
	ref = xasprintf("cmd://%s/daemon.sh", f->dir);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	st = store_with(f, ref);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 +
	    (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(ms < 1500);
	assert_secret(creds_store_get(st, "c"), "quick");
	free(ref);
	creds_store_free(st);
}

static void
test_cmd_empty_output_is_unavailable(void **state)
{
	struct fix		*f = *state;
	struct creds_store	*st;
	char			*ref;

	put_script(f, "blank.sh", "#!/bin/sh\necho '  '\n");
	ref = xasprintf("cmd://%s/blank.sh", f->dir);
	st = store_with(f, ref);
	assert_null(creds_store_get(st, "c"));
	assert_string_equal(creds_store_reason(st, "c"), "cmd printed nothing");
	free(ref);
	creds_store_free(st);
}

static void
test_cmd_over_64k_output_is_unavailable(void **state)
{
	struct fix		*f = *state;
	struct creds_store	*st;
	char			*ref;

	put_script(f, "big.sh", "#!/bin/sh\nhead -c 70000 /dev/zero | "
	    "tr '\\0' x\n");
	ref = xasprintf("cmd://%s/big.sh", f->dir);
	st = store_with(f, ref);
	assert_null(creds_store_get(st, "c"));
	assert_string_equal(creds_store_reason(st, "c"),
	    "cmd output exceeds 64 KiB");
	free(ref);
	creds_store_free(st);
}

static void
test_cmd_missing_program_is_unavailable(void **state)
{
	struct fix		*f = *state;
	struct creds_store	*st;

	st = store_with(f, "cmd://no-such-helper-xyz arg");
	assert_null(creds_store_get(st, "c"));
	assert_string_equal(creds_store_reason(st, "c"),
	    "cmd: no-such-helper-xyz not found");
	creds_store_free(st);
}

static void
test_cmd_bad_refs_are_errors(void **state)
{
	(void)state;
	assert_add_fails("cmd://", "credential c: cmd://: empty command");
	assert_add_fails("cmd://   ", "credential c: cmd://   : empty command");
	assert_add_fails("cmd://a\nb", "credential c: cmd://a\\x0ab: command "
	    "has a control character");
}

static void
test_op_reads_the_uri_and_trims_cr_lf(void **state)
{
	struct fix		*f = *state;
	struct creds_store	*st;

	put_script(f, "op", fake_op);
	st = store_with(f, "op://vault/item/field");
	assert_secret(creds_store_get(st, "c"), "op-secret");
	creds_store_free(st);
	st = store_with(f, "op://vault/item/sub/field");
	assert_secret(creds_store_get(st, "c"), "deep-secret");
	creds_store_free(st);
}

static void
test_op_not_signed_in_is_unavailable(void **state)
{
	struct fix		*f = *state;
	struct creds_store	*st;

	put_script(f, "op", fake_op);
	st = store_with(f, "op://vault/signedout/field");
	assert_null(creds_store_get(st, "c"));
	assert_string_equal(creds_store_reason(st, "c"), "op: not signed in");
	creds_store_free(st);
}

static void
test_op_missing_item_is_unavailable(void **state)
{
	struct fix		*f = *state;
	struct creds_store	*st;

	put_script(f, "op", fake_op);
	st = store_with(f, "op://vault/missing/field");
	assert_null(creds_store_get(st, "c"));
	assert_string_equal(creds_store_reason(st, "c"), "op: item not found");
	creds_store_free(st);
}

static void
test_op_other_failure_names_status_not_stderr(void **state)
{
	struct fix		*f = *state;
	struct creds_store	*st;

	put_script(f, "op", fake_op);
	st = store_with(f, "op://vault/other/field");
	assert_null(creds_store_get(st, "c"));
	assert_string_equal(creds_store_reason(st, "c"),
	    "op exited with status 4");
	creds_store_free(st);
}

static void
test_op_cli_missing_is_unavailable(void **state)
{
	struct fix		*f = *state;
	struct creds_store	*st;

	/* No op in f->dir, /usr/bin or /bin. */
	if (access("/usr/bin/op", X_OK) == 0 || access("/bin/op", X_OK) == 0)
		skip();
	st = store_with(f, "op://vault/item/field");
	assert_null(creds_store_get(st, "c"));
	assert_string_equal(creds_store_reason(st, "c"), "op CLI not found");
	creds_store_free(st);
}

static void
test_op_bad_refs_are_errors(void **state)
{
	(void)state;
	assert_add_fails("op://vault/item", "credential c: op://vault/item: "
	    "reference needs vault, item and field (op://vault/item/field)");
	assert_add_fails("op://vault//field", "credential c: "
	    "op://vault//field: reference has an empty segment "
	    "(op://vault/item/field)");
	assert_add_fails("op://vault/item/field/", "credential c: "
	    "op://vault/item/field/: reference has an empty segment "
	    "(op://vault/item/field)");
	assert_add_fails("op://", "credential c: op://: reference has an "
	    "empty segment (op://vault/item/field)");
	assert_add_fails("op://v/i/f?attr=otp", "credential c: "
	    "op://v/i/f?attr=otp: reference has a forbidden character (one "
	    "of ?#;|&$`(){}<>!\\\"' or a control character)");
	assert_add_fails("op://v/i/$(id)", "credential c: op://v/i/$(id): "
	    "reference has a forbidden character (one of ?#;|&$`(){}<>!\\\"' "
	    "or a control character)");
	assert_add_fails("op://v/i/f\r", "credential c: op://v/i/f\\x0d: "
	    "reference has a forbidden character (one of ?#;|&$`(){}<>!\\\"' "
	    "or a control character)");
}

static void
test_keyring_without_libsecret_is_unavailable(void **state)
{
	struct fix		*f = *state;
	struct creds_store	*st = creds_store_new(f->envp);
	struct errbuf		 e;

	creds_store_set_libsecret(st, "libsecret-keyhole-test-absent.so.0");
	assert_int_equal(creds_store_add(st, "bare", "my_account", &e), 0);
	assert_int_equal(creds_store_add(st, "full", "keyring://svc/acct",
	    &e), 0);
	assert_null(creds_store_get(st, "bare"));
	assert_null(creds_store_get(st, "full"));
	assert_string_equal(creds_store_reason(st, "bare"), "libsecret not "
	    "found (libsecret-keyhole-test-absent.so.0)");
	assert_string_equal(creds_store_reason(st, "full"), "libsecret not "
	    "found (libsecret-keyhole-test-absent.so.0)");
	creds_store_free(st);
}

static void
test_keyring_default_library_absent_or_no_bus_is_unavailable(void **state)
{
	struct fix		*f = *state;
	struct creds_store	*st = creds_store_new(f->envp);
	struct errbuf		 e;
	const char		*why;

	/* f->envp has no D-Bus address, so this never talks to a bus. */
	assert_int_equal(creds_store_add(st, "c", "keyring://svc/acct", &e),
	    0);
	assert_null(creds_store_get(st, "c"));
	why = creds_store_reason(st, "c");
	assert_non_null(why);
	if (strcmp(why, "libsecret not found (libsecret-1.so.0)") != 0)
		assert_string_equal(why, "no D-Bus session bus for the keyring "
		    "(DBUS_SESSION_BUS_ADDRESS is unset)");
	creds_store_free(st);
}

static void
test_keyring_refs_parse_service_and_account(void **state)
{
	struct errbuf	 e;
	char		*svc, *acct;

	(void)state;
	assert_int_equal(creds_keyring_parse("my.app-1/user_2", &svc, &acct,
	    &e), 0);
	assert_string_equal(svc, "my.app-1");
	assert_string_equal(acct, "user_2");
	free(svc);
	free(acct);
	assert_true(creds_keyring_is_account("openai_key"));
	assert_false(creds_keyring_is_account("openai-key"));
	assert_false(creds_keyring_is_account(""));
}

static void
test_keyring_bad_refs_are_errors(void **state)
{
	(void)state;
	assert_add_fails("keyring://svc", "credential c: keyring://svc: "
	    "expected keyring://service/account");
	assert_add_fails("keyring:///acct", "credential c: keyring:///acct: "
	    "service may only hold A-Z a-z 0-9 _ . - @ +");
	assert_add_fails("keyring://svc/", "credential c: keyring://svc/: "
	    "account may only hold A-Z a-z 0-9 _");
	assert_add_fails("keyring://svc/a/b", "credential c: "
	    "keyring://svc/a/b: account may only hold A-Z a-z 0-9 _");
}

static void
test_run_reports_signal_death(void **state)
{
	struct fix		*f = *state;
	struct creds_run	 r;
	struct errbuf		 e;
	char			*argv[] = { (char *)"/bin/sh", (char *)"-c",
				    (char *)"kill -9 $$", NULL };

	memset(&r, 0, sizeof(r));
	assert_int_equal(creds_run_argv(argv, f->envp, 5000, &r, &e), 0);
	assert_int_equal(r.end, CREDS_RUN_SIGNALED);
	creds_run_describe(&r, "cmd", 5000, &e);
	assert_string_equal(errbuf_msg(&e), "cmd killed by signal 9");
	creds_run_clear(&r);
}

int
main(void)
{
#define T(fn)	cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_cmd_stdout_is_the_secret_trailing_space_trimmed),
		T(test_cmd_is_found_on_the_snapshot_path),
		T(test_cmd_arguments_are_not_shell_expanded),
		T(test_cmd_nonzero_exit_is_unavailable_with_status),
		T(test_cmd_timeout_kills_it_and_is_unavailable),
		T(test_cmd_done_when_it_exits_though_a_child_holds_stdout),
		T(test_cmd_empty_output_is_unavailable),
		T(test_cmd_over_64k_output_is_unavailable),
		T(test_cmd_missing_program_is_unavailable),
		cmocka_unit_test(test_cmd_bad_refs_are_errors),
		T(test_op_reads_the_uri_and_trims_cr_lf),
		T(test_op_not_signed_in_is_unavailable),
		T(test_op_missing_item_is_unavailable),
		T(test_op_other_failure_names_status_not_stderr),
		T(test_op_cli_missing_is_unavailable),
		cmocka_unit_test(test_op_bad_refs_are_errors),
		T(test_keyring_without_libsecret_is_unavailable),
		T(test_keyring_default_library_absent_or_no_bus_is_unavailable),
		cmocka_unit_test(test_keyring_refs_parse_service_and_account),
		cmocka_unit_test(test_keyring_bad_refs_are_errors),
		T(test_run_reports_signal_death),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
