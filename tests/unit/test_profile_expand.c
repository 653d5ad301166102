#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "profile/profile.h"

/* Path variables (nono-profile.md §4.1, §9.1 #2-#5, §9.5 #14). */

static struct profile_env
base_env(void)
{
	struct profile_env	env;

	memset(&env, 0, sizeof(env));
	env.home = "/home/user";
	env.workdir = "/projects/myapp";
	env.uid = 1000;
	return env;
}

static void
expands_to(const struct profile_env *env, const char *tmpl,
    const char *want)
{
	struct errbuf	 e = { { 0 } };
	char		*s;

	s = profile_expand(tmpl, env, &e);
	if (s == NULL)
		fail_msg("expand %s: %s", tmpl, errbuf_msg(&e));
	assert_string_equal(s, want);
	free(s);
}

static void
expand_fails(const struct profile_env *env, const char *tmpl,
    const char *frag)
{
	struct errbuf	 e = { { 0 } };
	char		*s;

	s = profile_expand(tmpl, env, &e);
	if (s != NULL) {
		free(s);
		fail_msg("expanded %s, expected '%s'", tmpl, frag);
	}
	if (strstr(errbuf_msg(&e), frag) == NULL)
		fail_msg("message '%s' lacks '%s'", errbuf_msg(&e), frag);
}

static void
test_expand_workdir_and_home(void **state)
{
	struct profile_env	env = base_env();

	(void)state;
	expands_to(&env, "$WORKDIR/src", "/projects/myapp/src");
	expands_to(&env, "$HOME/.config", "/home/user/.config");
}

static void
test_expand_tilde_forms(void **state)
{
	struct profile_env	env = base_env();

	(void)state;
	expands_to(&env, "~", "/home/user");
	expands_to(&env, "~/.ssh", "/home/user/.ssh");
	expands_to(&env, "~user/x", "~user/x");
	expands_to(&env, "/a/~/b", "/a/~/b");
}

/* No variable, no leading "~": the text itself, whatever its form. */
static void
test_expand_without_variables_is_the_text(void **state)
{
	struct profile_env	env = base_env();

	(void)state;
	expands_to(&env, "", "");
	expands_to(&env, "/usr/lib/x86_64-linux-gnu",
	    "/usr/lib/x86_64-linux-gnu");
	expands_to(&env, "relative/dir", "relative/dir");
	expands_to(&env, "/a/~", "/a/~");
	expands_to(&env, "/x/HOME", "/x/HOME");
	expands_to(&env, "/x/$", "/x/$");
	expands_to(&env, "/x/$HOME", "/x//home/user");
}

/* A leading $HOME or ~ with nothing after it to substitute, or more. */
static void
test_expand_home_then_text(void **state)
{
	struct profile_env	env = base_env();

	(void)state;
	expands_to(&env, "$HOME", "/home/user");
	expands_to(&env, "$HOME/", "/home/user/");
	expands_to(&env, "$HOME/.config/gcloud", "/home/user/.config/gcloud");
	expands_to(&env, "~/", "/home/user/");
	expands_to(&env, "$HOMEX/a", "$HOMEX/a");
	expands_to(&env, "$HOME_/a", "$HOME_/a");
	expands_to(&env, "$HOME.x", "/home/user.x");
	expands_to(&env, "$HOME/a/$UID", "/home/user/a/1000");
	expands_to(&env, "~/$HOME", "/home/user//home/user");
}

static void
test_expand_whole_names_only(void **state)
{
	struct profile_env	env = base_env();

	(void)state;
	expands_to(&env, "$HOMEX", "$HOMEX");
	expands_to(&env, "$HOME_DIR/x", "$HOME_DIR/x");
	expands_to(&env, "$UIDX", "$UIDX");
	expands_to(&env, "$HOME.bak", "/home/user.bak");
	expands_to(&env, "${HOME}", "${HOME}");
	expands_to(&env, "$NOT_OURS/x", "$NOT_OURS/x");
	expands_to(&env, "a$", "a$");
	expands_to(&env, "$$HOME", "$/home/user");
}

static void
test_expand_uid(void **state)
{
	struct profile_env	env = base_env();

	(void)state;
	expands_to(&env, "$TMPDIR/openclaw-$UID", "/tmp/openclaw-1000");
}

static void
test_expand_tmpdir_trims_trailing_slashes(void **state)
{
	struct profile_env	env = base_env();

	(void)state;
	env.tmpdir = "/var/tmp//";
	expands_to(&env, "$TMPDIR/x", "/var/tmp/x");
	env.tmpdir = "/";
	expands_to(&env, "$TMPDIR", "/");
}

static void
test_expand_xdg_state_home(void **state)
{
	struct profile_env	env = base_env();

	(void)state;
	env.xdg_state_home = "/custom/state";
	expands_to(&env, "$XDG_STATE_HOME/history", "/custom/state/history");
	env.xdg_state_home = NULL;
	expands_to(&env, "$XDG_STATE_HOME/history",
	    "/home/user/.local/state/history");
}

static void
test_expand_xdg_cache_home(void **state)
{
	struct profile_env	env = base_env();

	(void)state;
	env.xdg_cache_home = "/custom/cache";
	expands_to(&env, "$XDG_CACHE_HOME/pip", "/custom/cache/pip");
	env.xdg_cache_home = NULL;
	expands_to(&env, "$XDG_CACHE_HOME/pip", "/home/user/.cache/pip");
}

static void
test_expand_xdg_config_and_data_defaults(void **state)
{
	struct profile_env	env = base_env();

	(void)state;
	expands_to(&env, "$XDG_CONFIG_HOME/git", "/home/user/.config/git");
	expands_to(&env, "$XDG_DATA_HOME/x", "/home/user/.local/share/x");
	env.xdg_data_home = "/d";
	expands_to(&env, "$XDG_DATA_HOME/x", "/d/x");
}

static void
test_expand_xdg_runtime_dir_literal_when_unset(void **state)
{
	struct profile_env	env = base_env();

	(void)state;
	env.xdg_runtime_dir = "/run/user/1000";
	expands_to(&env, "$XDG_RUNTIME_DIR/pulse", "/run/user/1000/pulse");
	env.xdg_runtime_dir = NULL;
	expands_to(&env, "$XDG_RUNTIME_DIR/pulse", "$XDG_RUNTIME_DIR/pulse");
}

static void
test_expand_does_not_rescan_substituted_text(void **state)
{
	struct profile_env	env = base_env();

	(void)state;
	env.workdir = "/w/$HOME";
	expands_to(&env, "$WORKDIR/x", "/w/$HOME/x");
}

static void
test_expand_requires_absolute_home(void **state)
{
	struct profile_env	env = base_env();

	(void)state;
	env.home = NULL;
	expand_fails(&env, "/x", "HOME is not set");
	env.home = "relative";
	expand_fails(&env, "/x", "HOME must be an absolute path");
}

static void
test_expand_relative_xdg_fails_even_when_unused(void **state)
{
	struct profile_env	env = base_env();

	(void)state;
	env.xdg_cache_home = "relative";
	expand_fails(&env, "$HOME/x",
	    "environment variable XDG_CACHE_HOME must be an absolute path");
}

static void
test_expand_relative_tmpdir_fails(void **state)
{
	struct profile_env	env = base_env();

	(void)state;
	env.tmpdir = "tmp";
	expand_fails(&env, "/x", "TMPDIR must be an absolute path");
}

static void
test_expand_list_names_the_template(void **state)
{
	struct profile_env	env = base_env();
	struct errbuf		e = { { 0 } };
	struct strv		src = { 0 }, dst = { 0 };

	(void)state;
	strv_push(&src, "~/a");
	strv_push(&src, "$HOME/b");
	assert_int_equal(profile_expand_list(&src, &env, &dst, &e), 0);
	assert_string_equal(dst.v[0], "/home/user/a");
	assert_string_equal(dst.v[1], "/home/user/b");
	strv_free(&dst);
	env.xdg_config_home = "x";
	assert_int_equal(profile_expand_list(&src, &env, &dst, &e), -1);
	assert_non_null(strstr(errbuf_msg(&e), "expanding '~/a'"));
	strv_free(&src);
	strv_free(&dst);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_expand_workdir_and_home),
		cmocka_unit_test(test_expand_tilde_forms),
		cmocka_unit_test(test_expand_whole_names_only),
		cmocka_unit_test(test_expand_uid),
		cmocka_unit_test(test_expand_tmpdir_trims_trailing_slashes),
		cmocka_unit_test(test_expand_xdg_state_home),
		cmocka_unit_test(test_expand_xdg_cache_home),
		cmocka_unit_test(test_expand_xdg_config_and_data_defaults),
		cmocka_unit_test(test_expand_xdg_runtime_dir_literal_when_unset),
		cmocka_unit_test(test_expand_without_variables_is_the_text),
		cmocka_unit_test(test_expand_home_then_text),
		cmocka_unit_test(test_expand_does_not_rescan_substituted_text),
		cmocka_unit_test(test_expand_requires_absolute_home),
		cmocka_unit_test(
		    test_expand_relative_xdg_fails_even_when_unused),
		cmocka_unit_test(test_expand_relative_tmpdir_fails),
		cmocka_unit_test(test_expand_list_names_the_template),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
