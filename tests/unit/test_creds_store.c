#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "creds/secret.h"
#include "creds/store.h"
#include "util/errbuf.h"
#include "util/strv.h"
#include "util/xmalloc.h"

/* A temporary directory for the file:// tests, and a hand-driven clock. */
struct fix {
	char		 dir[64];
	uint64_t	 now;
};

static uint64_t
fake_clock(void *arg)
{
	return ((struct fix *)arg)->now;
}

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
setup(void **state)
{
	struct fix	*f = xcalloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/keyhole-creds-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	f->now = 1000000;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fix	*f = *state;

	nftw(f->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* dir/name, owned. */
static char *
fpath(const struct fix *f, const char *name)
{
	return xasprintf("%s/%s", f->dir, name);
}

/* Replace dir/name atomically (a new inode, as a Vault agent does). */
static void
put_file(const struct fix *f, const char *name, const void *p, size_t n)
{
	char	*tmp = fpath(f, ".tmp"), *dst = fpath(f, name);
	FILE	*fp = fopen(tmp, "w");

	assert_non_null(fp);
	assert_int_equal(fwrite(p, 1, n, fp), n);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(rename(tmp, dst), 0);
	free(tmp);
	free(dst);
}

static void
put_str(const struct fix *f, const char *name, const char *s)
{
	put_file(f, name, s, strlen(s));
}

/* A store using f's clock with one file:// credential "c" for dir/name. */
static struct creds_store *
file_store(struct fix *f, const char *name)
{
	struct creds_store	*st = creds_store_new(NULL);
	struct errbuf		 e;
	char			*p = fpath(f, name), *ref;

	creds_store_set_clock(st, fake_clock, f);
	ref = xasprintf("file://%s", p);
	errbuf_clear(&e);
	assert_int_equal(creds_store_add(st, "c", ref, &e), 0);
	free(ref);
	free(p);
	return st;
}

static void
assert_secret(const struct secret *s, const char *want)
{
	assert_non_null(s);
	assert_int_equal(creds_secret_len(s), strlen(want));
	assert_true(creds_secret_equal(s, want, strlen(want)));
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
	assert_null(creds_store_get(st, "c"));
	creds_store_free(st);
}

static char *env_snapshot[] = {
	(char *)"OPENAI_API_KEY=sk-test-123",
	(char *)"EMPTY_KEY=",
	(char *)"OTHER=x",
	NULL,
};

static void
test_store_env_present_is_copied_at_add(void **state)
{
	struct creds_store	*st;
	char			 val[] = "GITHUB_TOKEN=ghp_abc";
	char			*envp[] = { val, NULL };
	struct errbuf		 e;

	(void)state;
	st = creds_store_new(envp);
	assert_int_equal(creds_store_add(st, "github", "env://GITHUB_TOKEN",
	    &e), 0);
	/* The supervisor scrubs its environment after start. */
	explicit_bzero(val, sizeof(val));
	assert_secret(creds_store_get(st, "github"), "ghp_abc");
	assert_null(creds_store_reason(st, "github"));
	creds_store_free(st);
}

static void
test_store_env_absent_is_unavailable_not_an_error(void **state)
{
	struct creds_store	*st = creds_store_new(env_snapshot);
	struct errbuf		 e;

	(void)state;
	assert_int_equal(creds_store_add(st, "a", "env://ANTHROPIC_API_KEY",
	    &e), 0);
	assert_null(creds_store_get(st, "a"));
	assert_string_equal(creds_store_reason(st, "a"),
	    "ANTHROPIC_API_KEY is not set");
	assert_int_equal(creds_store_add(st, "b", "env://EMPTY_KEY", &e), 0);
	assert_null(creds_store_get(st, "b"));
	assert_string_equal(creds_store_reason(st, "b"), "EMPTY_KEY is empty");
	creds_store_free(st);
}

static void
test_store_env_name_is_exact_not_prefix(void **state)
{
	struct creds_store	*st = creds_store_new(env_snapshot);
	struct errbuf		 e;

	(void)state;
	assert_int_equal(creds_store_add(st, "a", "env://OPENAI_API", &e), 0);
	assert_null(creds_store_get(st, "a"));
	creds_store_free(st);
}

static void
test_store_env_dangerous_name_is_refused_any_case(void **state)
{
	(void)state;
	assert_add_fails("env://LD_PRELOAD", "credential c: env://LD_PRELOAD: "
	    "LD_PRELOAD is a dangerous variable and cannot hold a credential");
	assert_add_fails("env://path", "credential c: env://path: path is a "
	    "dangerous variable and cannot hold a credential");
	assert_add_fails("env://Node_Options", "credential c: "
	    "env://Node_Options: Node_Options is a dangerous variable and "
	    "cannot hold a credential");
	assert_add_fails("env://HOME", "credential c: env://HOME: HOME is a "
	    "dangerous variable and cannot hold a credential");
}

static void
test_store_env_bad_name_is_refused(void **state)
{
	(void)state;
	assert_add_fails("env://", "credential c: env://: empty variable name");
	assert_add_fails("env://A-B", "credential c: env://A-B: variable name "
	    "may only hold A-Z a-z 0-9 _");
	assert_add_fails("env://A B", "credential c: env://A B: variable name "
	    "may only hold A-Z a-z 0-9 _");
}

static void
test_store_env_names_lists_every_env_source_once(void **state)
{
	struct creds_store	*st = creds_store_new(env_snapshot);
	struct strv		 names = { 0 };
	struct errbuf		 e;

	(void)state;
	assert_int_equal(creds_store_add(st, "openai", "env://OPENAI_API_KEY",
	    &e), 0);
	assert_int_equal(creds_store_add(st, "missing", "env://NOT_SET_KEY",
	    &e), 0);
	assert_int_equal(creds_store_add(st, "again", "env://OPENAI_API_KEY",
	    &e), 0);
	assert_int_equal(creds_store_add(st, "f", "file:///nonexistent/k",
	    &e), 0);
	creds_store_env_names(st, &names);
	assert_int_equal(names.n, 2);
	assert_string_equal(names.v[0], "OPENAI_API_KEY");
	assert_string_equal(names.v[1], "NOT_SET_KEY");
	strv_free(&names);
	creds_store_free(st);
}

static void
test_store_file_trims_exactly_one_newline(void **state)
{
	struct fix		*f = *state;
	struct creds_store	*st;

	put_str(f, "k1", "abc\n\n");
	st = file_store(f, "k1");
	assert_secret(creds_store_get(st, "c"), "abc\n");
	creds_store_free(st);

	put_str(f, "k2", "abc\r\n");
	st = file_store(f, "k2");
	assert_secret(creds_store_get(st, "c"), "abc");
	creds_store_free(st);

	put_str(f, "k3", "  abc \t");
	st = file_store(f, "k3");
	assert_secret(creds_store_get(st, "c"), "  abc \t");
	creds_store_free(st);

	put_str(f, "k4", "abc\r");
	st = file_store(f, "k4");
	assert_secret(creds_store_get(st, "c"), "abc\r");
	creds_store_free(st);
}

static void
test_store_file_missing_is_unavailable_not_an_error(void **state)
{
	struct fix		*f = *state;
	struct creds_store	*st = file_store(f, "nope");
	char			*want = xasprintf("%s/nope does not exist",
				    f->dir);

	assert_null(creds_store_get(st, "c"));
	assert_string_equal(creds_store_reason(st, "c"), want);
	free(want);
	creds_store_free(st);
}

static void
test_store_file_empty_is_unavailable(void **state)
{
	struct fix		*f = *state;
	struct creds_store	*st;
	char			*want = xasprintf("%s/e is empty", f->dir);

	put_str(f, "e", "");
	st = file_store(f, "e");
	assert_null(creds_store_get(st, "c"));
	assert_string_equal(creds_store_reason(st, "c"), want);
	creds_store_free(st);

	/* One newline alone is empty once trimmed. */
	put_str(f, "e", "\n");
	st = file_store(f, "e");
	assert_null(creds_store_get(st, "c"));
	assert_string_equal(creds_store_reason(st, "c"), want);
	free(want);
	creds_store_free(st);
}

static void
test_store_file_over_64k_is_unavailable(void **state)
{
	struct fix		*f = *state;
	struct creds_store	*st;
	char			*big = xmalloc(64 * 1024 + 1), *want;

	memset(big, 'x', 64 * 1024 + 1);
	put_file(f, "big", big, 64 * 1024 + 1);
	st = file_store(f, "big");
	assert_null(creds_store_get(st, "c"));
	want = xasprintf("%s/big is larger than 64 KiB", f->dir);
	assert_string_equal(creds_store_reason(st, "c"), want);
	free(want);
	creds_store_free(st);

	/* Exactly 64 KiB is fine. */
	put_file(f, "big", big, 64 * 1024);
	st = file_store(f, "big");
	assert_non_null(creds_store_get(st, "c"));
	assert_int_equal(creds_secret_len(creds_store_get(st, "c")),
	    64 * 1024);
	creds_store_free(st);
	free(big);
}

static void
test_store_file_that_appears_later_becomes_available(void **state)
{
	struct fix		*f = *state;
	struct creds_store	*st = file_store(f, "late");

	assert_null(creds_store_get(st, "c"));
	put_str(f, "late", "vault-token\n");
	/* Not looked at again within the check interval... */
	f->now += CREDS_FILE_CHECK_MS - 1;
	assert_null(creds_store_get(st, "c"));
	assert_non_null(creds_store_reason(st, "c"));
	/* ...but once it has passed. */
	f->now += 1;
	assert_secret(creds_store_get(st, "c"), "vault-token");
	assert_null(creds_store_reason(st, "c"));
	creds_store_free(st);
}

static void
test_store_file_rotation_is_picked_up(void **state)
{
	struct fix		*f = *state;
	struct creds_store	*st;

	put_str(f, "rot", "old-token\n");
	st = file_store(f, "rot");
	assert_secret(creds_store_get(st, "c"), "old-token");
	put_str(f, "rot", "new-token\n");
	f->now += CREDS_FILE_CHECK_MS / 2;
	assert_secret(creds_store_get(st, "c"), "old-token");
	f->now += CREDS_FILE_CHECK_MS;
	assert_secret(creds_store_get(st, "c"), "new-token");
	/* The old value no longer counts as a secret. */
	assert_false(creds_store_matches_value(st, "old-token", 9));
	assert_true(creds_store_matches_value(st, "new-token", 9));
	creds_store_free(st);
}

static void
test_store_file_rewritten_in_place_is_picked_up(void **state)
{
	struct fix		*f = *state;
	struct creds_store	*st;
	char			*p = fpath(f, "inplace");
	FILE			*fp;

	put_str(f, "inplace", "first\n");
	st = file_store(f, "inplace");
	assert_secret(creds_store_get(st, "c"), "first");
	/* Same inode, different size. */
	fp = fopen(p, "w");
	assert_non_null(fp);
	fputs("second-value\n", fp);
	assert_int_equal(fclose(fp), 0);
	f->now += CREDS_FILE_CHECK_MS;
	assert_secret(creds_store_get(st, "c"), "second-value");
	free(p);
	creds_store_free(st);
}

static void
test_store_file_removed_becomes_unavailable(void **state)
{
	struct fix		*f = *state;
	struct creds_store	*st;
	char			*p = fpath(f, "gone");

	put_str(f, "gone", "tok\n");
	st = file_store(f, "gone");
	assert_secret(creds_store_get(st, "c"), "tok");
	assert_int_equal(unlink(p), 0);
	f->now += CREDS_FILE_CHECK_MS;
	assert_null(creds_store_get(st, "c"));
	assert_false(creds_store_matches_value(st, "tok", 3));
	free(p);
	creds_store_free(st);
}

static void
test_store_refresh_rereads_a_changed_file_without_waiting(void **state)
{
	struct fix		*f = *state;
	struct creds_store	*st;
	uint64_t		 loads, fails;

	st = file_store(f, "ref");
	creds_store_counts(st, &loads, &fails);
	assert_int_equal(loads, 0);
	assert_int_equal(fails, 1);
	put_str(f, "ref", "watched-one\n");
	/* A watch saw it: no check interval to wait for. */
	creds_store_refresh(st);
	creds_store_counts(st, &loads, &fails);
	assert_int_equal(loads, 1);
	assert_int_equal(fails, 1);
	assert_secret(creds_store_get(st, "c"), "watched-one");
	/* Unchanged: a refresh reads nothing. */
	creds_store_refresh(st);
	creds_store_counts(st, &loads, &fails);
	assert_int_equal(loads, 1);
	put_str(f, "ref", "watched-two\n");
	creds_store_refresh(st);
	creds_store_counts(st, &loads, &fails);
	assert_int_equal(loads, 2);
	assert_secret(creds_store_get(st, "c"), "watched-two");
	creds_store_free(st);
}

static void
test_store_file_paths_lists_file_sources_only_once(void **state)
{
	struct fix		*f = *state;
	struct creds_store	*st = file_store(f, "p1");
	struct strv		 paths = { 0 };
	struct errbuf		 e;
	char			*p = fpath(f, "p1"), *ref;

	errbuf_clear(&e);
	ref = xasprintf("file://%s", p);
	assert_int_equal(creds_store_add(st, "d", ref, &e), 0);
	assert_int_equal(creds_store_add(st, "x", "env://OTHER", &e), 0);
	creds_store_file_paths(st, &paths);
	assert_int_equal(paths.n, 1);
	assert_string_equal(paths.v[0], p);
	strv_free(&paths);
	free(ref);
	free(p);
	creds_store_free(st);
}

static void
test_store_file_unchanged_is_not_reread(void **state)
{
	struct fix		*f = *state;
	struct creds_store	*st;
	const struct secret	*s1;

	put_str(f, "same", "tok\n");
	st = file_store(f, "same");
	s1 = creds_store_get(st, "c");
	f->now += 10 * CREDS_FILE_CHECK_MS;
	/* The same object: nothing was reloaded. */
	assert_ptr_equal(creds_store_get(st, "c"), s1);
	creds_store_free(st);
}

static void
test_store_file_bad_refs_are_errors(void **state)
{
	(void)state;
	assert_add_fails("file://relative/path", "credential c: "
	    "file://relative/path: path must be absolute (file:///abs/path)");
	assert_add_fails("file://", "credential c: file://: path must be "
	    "absolute (file:///abs/path)");
	assert_add_fails("file:///", "credential c: file:///: path must not "
	    "be /");
	assert_add_fails("file:///run/../etc/shadow", "credential c: "
	    "file:///run/../etc/shadow: path has a '..' component");
	assert_add_fails("file:///run/secrets/..", "credential c: "
	    "file:///run/secrets/..: path has a '..' component");
	assert_add_fails("file:///run/a;b", "credential c: file:///run/a;b: "
	    "path has a forbidden character (CR, LF or one of ;`|$&><)");
	assert_add_fails("file:///run/$(id)", "credential c: "
	    "file:///run/$(id): path has a forbidden character (CR, LF or "
	    "one of ;`|$&><)");
	assert_add_fails("file:///run/a\nb", "credential c: "
	    "file:///run/a\\x0ab: path has a forbidden character (CR, LF or "
	    "one of ;`|$&><)");
	assert_add_fails("file:///run/a|b", "credential c: file:///run/a|b: "
	    "path has a forbidden character (CR, LF or one of ;`|$&><)");
}

static void
test_store_file_dotdot_lookalikes_are_allowed(void **state)
{
	struct creds_store	*st = creds_store_new(NULL);
	struct errbuf		 e;

	(void)state;
	assert_int_equal(creds_store_add(st, "a", "file:///run/..x/k", &e), 0);
	assert_int_equal(creds_store_add(st, "b", "file:///run/x../k", &e), 0);
	assert_int_equal(creds_store_add(st, "c", "file:///run/./k", &e), 0);
	creds_store_free(st);
}

static void
test_store_unsupported_schemes_are_errors(void **state)
{
	(void)state;
	assert_add_fails("apple-password://github.com/me", "credential c: "
	    "apple-password://github.com/me: apple-password:// is not "
	    "supported on Linux");
	assert_add_fails("apple-passwords://github.com/me", "credential c: "
	    "apple-passwords://github.com/me: apple-passwords:// is not "
	    "supported on Linux");
	assert_add_fails("bw://item/field", "credential c: bw://item/field: "
	    "bw:// is not supported on Linux");
}

static void
test_store_unknown_reference_is_not_echoed(void **state)
{
	(void)state;
	/* A key pasted where a reference belongs must not reach stderr. */
	assert_add_fails("sk-proj-AbCdEf0123456789", "credential c: reference "
	    "is not env://, file://, op://, keyring://, cmd:// or a keyring "
	    "account name");
	assert_add_fails("vault://secret/data/x", "credential c: unknown "
	    "scheme vault://");
	assert_add_fails("", "credential c: reference is not env://, file://, "
	    "op://, keyring://, cmd:// or a keyring account name");
}

static void
test_store_duplicate_name_is_an_error(void **state)
{
	struct creds_store	*st = creds_store_new(env_snapshot);
	struct errbuf		 e;

	(void)state;
	assert_int_equal(creds_store_add(st, "openai", "env://OPENAI_API_KEY",
	    &e), 0);
	assert_int_equal(creds_store_add(st, "openai", "env://OTHER", &e), -1);
	assert_string_equal(errbuf_msg(&e), "credential openai: already "
	    "defined");
	assert_secret(creds_store_get(st, "openai"), "sk-test-123");
	creds_store_free(st);
}

static void
test_store_unknown_name_is_unavailable(void **state)
{
	struct creds_store	*st = creds_store_new(NULL);

	(void)state;
	assert_null(creds_store_get(st, "nope"));
	assert_string_equal(creds_store_reason(st, "nope"),
	    "unknown credential");
	creds_store_free(st);
}

static void
test_store_matches_value_finds_any_loaded_secret(void **state)
{
	struct creds_store	*st = creds_store_new(env_snapshot);
	struct errbuf		 e;

	(void)state;
	assert_int_equal(creds_store_add(st, "a", "env://OTHER", &e), 0);
	assert_int_equal(creds_store_add(st, "b", "env://OPENAI_API_KEY",
	    &e), 0);
	assert_int_equal(creds_store_add(st, "c", "env://NOT_SET_KEY", &e), 0);
	assert_true(creds_store_matches_value(st, "sk-test-123", 11));
	assert_true(creds_store_matches_value(st, "x", 1));
	creds_store_free(st);
}

static void
test_store_matches_value_rejects_near_misses(void **state)
{
	struct creds_store	*st = creds_store_new(env_snapshot);
	struct errbuf		 e;

	(void)state;
	assert_int_equal(creds_store_add(st, "b", "env://OPENAI_API_KEY",
	    &e), 0);
	assert_int_equal(creds_store_add(st, "c", "env://NOT_SET_KEY", &e), 0);
	assert_false(creds_store_matches_value(st, "sk-test-124", 11));
	assert_false(creds_store_matches_value(st, "sk-test-12", 10));
	assert_false(creds_store_matches_value(st, "sk-test-1234", 12));
	assert_false(creds_store_matches_value(st, "", 0));
	creds_store_free(st);
}

static void
test_store_free_null_is_a_noop(void **state)
{
	(void)state;
	creds_store_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_store_env_present_is_copied_at_add),
		cmocka_unit_test(
		    test_store_env_absent_is_unavailable_not_an_error),
		cmocka_unit_test(test_store_env_name_is_exact_not_prefix),
		cmocka_unit_test(
		    test_store_env_dangerous_name_is_refused_any_case),
		cmocka_unit_test(test_store_env_bad_name_is_refused),
		cmocka_unit_test(
		    test_store_env_names_lists_every_env_source_once),
		cmocka_unit_test_setup_teardown(
		    test_store_file_trims_exactly_one_newline, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_store_file_missing_is_unavailable_not_an_error, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_store_file_empty_is_unavailable, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_store_file_over_64k_is_unavailable, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_store_file_that_appears_later_becomes_available, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_store_file_rotation_is_picked_up, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_store_file_rewritten_in_place_is_picked_up, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_store_file_removed_becomes_unavailable, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_store_file_unchanged_is_not_reread, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_store_refresh_rereads_a_changed_file_without_waiting,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_store_file_paths_lists_file_sources_only_once, setup,
		    teardown),
		cmocka_unit_test(test_store_file_bad_refs_are_errors),
		cmocka_unit_test(test_store_file_dotdot_lookalikes_are_allowed),
		cmocka_unit_test(test_store_unsupported_schemes_are_errors),
		cmocka_unit_test(test_store_unknown_reference_is_not_echoed),
		cmocka_unit_test(test_store_duplicate_name_is_an_error),
		cmocka_unit_test(test_store_unknown_name_is_unavailable),
		cmocka_unit_test(
		    test_store_matches_value_finds_any_loaded_secret),
		cmocka_unit_test(test_store_matches_value_rejects_near_misses),
		cmocka_unit_test(test_store_free_null_is_a_noop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
