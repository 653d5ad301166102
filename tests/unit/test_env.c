#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "policy/plan.h"
#include "sandbox/env.h"
#include "util/strv.h"

#define WIPE_CHILD_FLAG	"--wipe-child"

static const char *
get(const struct strv *env, const char *name)
{
	size_t	i, n = strlen(name);

	for (i = 0; i < env->n; i++)
		if (strncmp(env->v[i], name, n) == 0 && env->v[i][n] == '=')
			return env->v[i] + n + 1;
	return NULL;
}

static size_t
count(const struct strv *env, const char *name)
{
	size_t	i, n = strlen(name), c = 0;

	for (i = 0; i < env->n; i++)
		if (strncmp(env->v[i], name, n) == 0 && env->v[i][n] == '=')
			c++;
	return c;
}

static void
test_env_dangerous_variables_are_removed(void **state)
{
	static char *const in[] = {
		"LD_PRELOAD=/x.so", "LD_LIBRARY_PATH=/x", "LD_AUDIT=/a",
		"DYLD_INSERT_LIBRARIES=/y", "BASH_ENV=/e", "ENV=/e",
		"CDPATH=/", "GLOBIGNORE=*", "BASH_FUNC_ls%%=() { :; }",
		"PROMPT_COMMAND=x", "IFS=x", "PYTHONSTARTUP=/p",
		"PYTHONPATH=/p", "NODE_OPTIONS=--require x", "NODE_PATH=/n",
		"PERL5OPT=-Mx", "PERL5LIB=/l", "RUBYOPT=-rx", "RUBYLIB=/r",
		"GEM_PATH=/g", "GEM_HOME=/g", "JAVA_TOOL_OPTIONS=-x",
		"_JAVA_OPTIONS=-x", "DOTNET_STARTUP_HOOKS=/d", "GOFLAGS=-x",
		"OP_SERVICE_ACCOUNT_TOKEN=t", "OP_CONNECT_TOKEN=t",
		"OP_CONNECT_HOST=h", "OP_SESSION_abc=s",
		"PATH=/usr/bin", "HOME=/root", "OPENAI_BASE_URL=u",
		"OPERATOR=o", "OPTIONS=x", "ld_preload=lower",
		"ENVIRONMENT=prod", "LDFLAGS=-L", NULL,
	};
	static const char *const kept[] = { "PATH", "HOME", "OPENAI_BASE_URL",
	    "OPERATOR", "OPTIONS", "ld_preload", "ENVIRONMENT",
	    "LDFLAGS" };
	struct strv	out = { 0 };
	size_t		i;

	(void)state;
	sandbox_env_build(NULL, in, NULL, NULL, NULL, NULL, &out);
	assert_int_equal(out.n, sizeof(kept) / sizeof(kept[0]));
	for (i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
		assert_non_null(get(&out, kept[i]));
	assert_null(out.v[out.n]);
	sandbox_env_free(&out);
}

static void
test_env_drop_list_removes_route_sources(void **state)
{
	static char *const in[] = { "OPENAI_API_KEY=sk-real", "KEEP=1",
	    "GITHUB_TOKEN=ghp", NULL };
	struct strv	drop = { 0 }, out = { 0 };

	(void)state;
	strv_push(&drop, "OPENAI_API_KEY");
	strv_push(&drop, "GITHUB_TOKEN");
	sandbox_env_build(NULL, in, &drop, NULL, NULL, NULL, &out);
	assert_int_equal(out.n, 1);
	assert_string_equal(out.v[0], "KEEP=1");
	sandbox_env_free(&out);
	strv_free(&drop);
}

static bool
is_secret(const char *value, size_t len, void *arg)
{
	const char	*secret = arg;

	return len == strlen(secret) && memcmp(value, secret, len) == 0;
}

static void
test_env_secret_values_are_removed_whatever_the_name(void **state)
{
	static char *const in[] = { "MY_COPY=s3cr3t", "OTHER=s3cr3tx",
	    "EMPTY=", NULL };
	struct strv	out = { 0 };

	(void)state;
	sandbox_env_build(NULL, in, NULL, is_secret, (void *)"s3cr3t", NULL,
	    &out);
	assert_null(get(&out, "MY_COPY"));
	assert_string_equal(get(&out, "OTHER"), "s3cr3tx");
	assert_string_equal(get(&out, "EMPTY"), "");
	sandbox_env_free(&out);
}

static void
test_env_allow_patterns_keep_only_matching_names(void **state)
{
	static char *const in[] = { "PATH=/bin", "AWS_REGION=eu",
	    "AWS_SECRET=x", "HOME=/h", "TERM=xterm", NULL };
	struct plan	p;
	struct strv	out = { 0 };

	(void)state;
	memset(&p, 0, sizeof(p));
	p.env_allow_set = true;
	strv_push(&p.env_allow, "PATH");
	strv_push(&p.env_allow, "AWS_*");
	strv_push(&p.env_deny, "AWS_SECRET");
	sandbox_env_build(&p, in, NULL, NULL, NULL, NULL, &out);
	assert_int_equal(out.n, 2);
	assert_string_equal(get(&out, "PATH"), "/bin");
	assert_string_equal(get(&out, "AWS_REGION"), "eu");
	sandbox_env_free(&out);

	/* Present but empty: nothing inherited passes. */
	strv_free(&p.env_allow);
	sandbox_env_build(&p, in, NULL, NULL, NULL, NULL, &out);
	assert_int_equal(out.n, 0);
	sandbox_env_free(&out);
	strv_free(&p.env_deny);
}

static void
test_env_deny_patterns_win_and_star_matches_all(void **state)
{
	static char *const in[] = { "PATH=/bin", "GIT_DIR=/x",
	    "GIT_CONFIG=/y", "HOME=/h", NULL };
	struct plan	p;
	struct strv	out = { 0 };

	(void)state;
	memset(&p, 0, sizeof(p));
	p.env_allow_set = true;
	strv_push(&p.env_allow, "*");
	strv_push(&p.env_deny, "GIT_*");
	sandbox_env_build(&p, in, NULL, NULL, NULL, NULL, &out);
	assert_int_equal(out.n, 2);
	assert_non_null(get(&out, "PATH"));
	assert_non_null(get(&out, "HOME"));
	sandbox_env_free(&out);
	strv_free(&p.env_allow);
	strv_free(&p.env_deny);
	assert_true(sandbox_env_match("AWS_*", "AWS_=x"));
	assert_false(sandbox_env_match("AWS_*", "AWS=x"));
	assert_false(sandbox_env_match("PATH", "PATHX"));
	assert_true(sandbox_env_match("PATH", "PATH=/bin"));
}

static void
test_env_set_vars_override_inherited_but_not_keyhole(void **state)
{
	static char *const in[] = { "EDITOR=vi", "HTTP_PROXY=http://old",
	    NULL };
	struct plan	p;
	struct strv	kh = { 0 }, out = { 0 };

	(void)state;
	memset(&p, 0, sizeof(p));
	strv_push(&p.env_set, "EDITOR=nano");
	strv_push(&p.env_set, "HTTP_PROXY=http://mine");
	strv_push(&p.env_set, "NEW=1");
	strv_push(&kh, "HTTP_PROXY=http://keyhole:tok@127.0.0.1:1");
	sandbox_env_build(&p, in, NULL, NULL, NULL, &kh, &out);
	assert_string_equal(get(&out, "EDITOR"), "nano");
	assert_int_equal(count(&out, "EDITOR"), 1);
	assert_string_equal(get(&out, "NEW"), "1");
	assert_string_equal(get(&out, "HTTP_PROXY"),
	    "http://keyhole:tok@127.0.0.1:1");
	assert_int_equal(count(&out, "HTTP_PROXY"), 1);
	sandbox_env_free(&out);
	strv_free(&kh);
	strv_free(&p.env_set);
}

static void
test_env_keyhole_vars_override_inherited(void **state)
{
	static char *const in[] = { "HTTPS_PROXY=http://corp:3128",
	    "NO_PROXY=*", "A=1", "A=2", "noequals", "=x", NULL };
	struct strv	kh = { 0 }, out = { 0 };

	(void)state;
	strv_push(&kh, "HTTPS_PROXY=http://keyhole:t@127.0.0.1:9");
	strv_push(&kh, "NO_PROXY=localhost,127.0.0.1,::1");
	sandbox_env_build(NULL, in, NULL, NULL, NULL, &kh, &out);
	assert_int_equal(out.n, 3);
	assert_string_equal(get(&out, "A"), "1");
	assert_string_equal(get(&out, "HTTPS_PROXY"),
	    "http://keyhole:t@127.0.0.1:9");
	assert_string_equal(get(&out, "NO_PROXY"), "localhost,127.0.0.1,::1");
	sandbox_env_free(&out);
	strv_free(&kh);
}

/*
 * A large environment with repeated names: exactly the first acceptable
 * entry of each name, in input order (one refused for its secret value
 * leaves the name to a later one); set_vars and keyhole's own move to
 * the end, in their order.
 */
static void
test_env_first_entry_of_each_name_kept_in_order(void **state)
{
	char		*in[700], want[400][32], *s;
	struct plan	 p;
	struct strv	 kh = { 0 }, out = { 0 };
	size_t		 i, n = 0, w = 0;

	(void)state;
	memset(&p, 0, sizeof(p));
	for (i = 0; i < 300; i++) {
		assert_true(asprintf(&in[n++], "V%zu=%zu", i, i) > 0);
		if (i % 7 == 3)
			assert_true(asprintf(&in[n++], "V%zu=again", i - 3) > 0);
		if (i == 10) {
			in[n++] = strdup("S=s3cr3t");
			in[n++] = strdup("LD_PRELOAD=/x.so");
			in[n++] = strdup("noequals");
			in[n++] = strdup("S=fine");
			in[n++] = strdup("S=late");
		}
		if (i != 7)
			snprintf(want[w++], sizeof(want[0]), "V%zu=%zu", i, i);
		if (i == 10)
			snprintf(want[w++], sizeof(want[0]), "S=fine");
	}
	in[n] = NULL;
	snprintf(want[w++], sizeof(want[0]), "V7=set");
	snprintf(want[w++], sizeof(want[0]), "V9=keyhole");
	strv_push(&p.env_set, "V7=set");
	strv_push(&kh, "V9=keyhole");
	/* V9's inherited entry goes: keyhole's replaces it, at the end. */
	for (i = 0; i < w; i++)
		if (strcmp(want[i], "V9=9") == 0) {
			memmove(want[i], want[i + 1], (w - i - 1) *
			    sizeof(want[0]));
			w--;
			break;
		}
	sandbox_env_build(&p, in, NULL, is_secret, (void *)"s3cr3t", &kh,
	    &out);
	assert_int_equal(out.n, w);
	for (i = 0; i < w; i++)
		assert_string_equal(out.v[i], want[i]);
	assert_null(out.v[out.n]);
	sandbox_env_free(&out);
	strv_free(&kh);
	strv_free(&p.env_set);
	for (i = 0; i < n; i++) {
		s = in[i];
		free(s);
	}
}

static void
test_env_wipe_original_zeroes_value_bytes(void **state)
{
	char		 a[] = "KH_SECRET_A=topsecret";
	char		 b[] = "KH_OTHER=visible";
	char		*fake[] = { a, b, NULL };
	struct strv	 names = { 0 };
	size_t		 i;

	(void)state;
	setenv("KH_SECRET_A", "heapcopy", 1);
	strv_push(&names, "KH_SECRET_A");
	sandbox_env_wipe_original(fake, &names);
	assert_memory_equal(a, "KH_SECRET_A=", 12);
	for (i = 12; i < sizeof(a); i++)
		assert_int_equal(a[i], 0);
	assert_string_equal(b, "KH_OTHER=visible");
	assert_null(getenv("KH_SECRET_A"));
	strv_free(&names);
}

/* Read all of /proc/self/environ into buf; returns the length. */
static size_t
read_environ(char *buf, size_t size)
{
	size_t	got = 0;
	ssize_t	n;
	int	fd = open("/proc/self/environ", O_RDONLY);

	if (fd == -1)
		return 0;
	while (got < size && (n = read(fd, buf + got, size - got)) > 0)
		got += (size_t)n;
	close(fd);
	return got;
}

static bool
contains(const char *hay, size_t len, const char *needle)
{
	return memmem(hay, len, needle, strlen(needle)) != NULL;
}

/* Run in a re-executed copy of this test with a known environment. */
static int
wipe_child(char **envp, bool use_array)
{
	static char	buf[1 << 16];
	struct strv	names = { 0 };
	size_t		len;

	len = read_environ(buf, sizeof(buf));
	if (!contains(buf, len, "kh-wipe-me-123"))
		return 10;
	/* An unsetenv shifts the environ array: the block is still found. */
	unsetenv("KH_FIRST");
	strv_push(&names, "KH_TEST_SECRET");
	sandbox_env_wipe_original(use_array ? envp : NULL, &names);
	strv_free(&names);
	len = read_environ(buf, sizeof(buf));
	if (contains(buf, len, "kh-wipe-me-123"))
		return 11;
	if (!contains(buf, len, "KH_KEEP=still-here"))
		return 12;
	if (getenv("KH_TEST_SECRET") != NULL)
		return 13;
	return 0;
}

static void
run_wipe_child(char *mode)
{
	char	*argv[] = { "/proc/self/exe", WIPE_CHILD_FLAG, mode, NULL };
	char	*envp[] = { "KH_FIRST=1", "KH_TEST_SECRET=kh-wipe-me-123",
	    "KH_KEEP=still-here", "ASAN_OPTIONS=detect_leaks=0", NULL };
	pid_t	 pid;
	int	 status;

	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		execve("/proc/self/exe", argv, envp);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void
test_env_wipe_original_hides_values_from_proc_environ(void **state)
{
	(void)state;
	run_wipe_child("array");
}

static void
test_env_wipe_original_finds_the_block_without_the_array(void **state)
{
	(void)state;
	run_wipe_child("block");
}

static void
test_env_credential_variables_are_removed_in_every_mode(void **state)
{
	static char *const in[] = {
		"ANTHROPIC_API_KEY=sk-ant", "OPENAI_API_KEY=sk", "GH_TOKEN=g",
		"AWS_SECRET_ACCESS_KEY=a", "CLAUDE_CODE_OAUTH_TOKEN=c",
		"MY_SERVICE_API_KEY=m", "DEPLOY_TOKEN=d", "APP_SECRET=s",
		"EMPTY_TOKEN=", "PATH=/usr/bin", "TOKEN=plain",
		"TOKENIZER=t", "SECRETARY=s", "API_KEY_FILE=/f", NULL,
	};
	static const char *const gone[] = { "ANTHROPIC_API_KEY",
	    "OPENAI_API_KEY", "GH_TOKEN", "AWS_SECRET_ACCESS_KEY",
	    "CLAUDE_CODE_OAUTH_TOKEN", "MY_SERVICE_API_KEY", "DEPLOY_TOKEN",
	    "APP_SECRET", "EMPTY_TOKEN" };
	static const char *const kept[] = { "PATH", "TOKEN", "TOKENIZER",
	    "SECRETARY", "API_KEY_FILE" };
	struct env_report	rep = { 0 };
	struct strv		out = { 0 };
	size_t			i;

	(void)state;
	sandbox_env_build_report(NULL, in, NULL, NULL, NULL, NULL, &out,
	    &rep);
	for (i = 0; i < sizeof(gone) / sizeof(gone[0]); i++)
		assert_null(get(&out, gone[i]));
	for (i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
		assert_non_null(get(&out, kept[i]));
	/* Reported once each; an empty one is not worth a word. */
	assert_int_equal(rep.credentials.n, 8);
	assert_true(strv_contains(&rep.credentials, "ANTHROPIC_API_KEY"));
	assert_false(strv_contains(&rep.credentials, "EMPTY_TOKEN"));
	sandbox_env_report_free(&rep);
	sandbox_env_free(&out);
}

static void
test_env_credential_kept_by_allow_env_and_allow_vars(void **state)
{
	static char *const in[] = {
		"ANTHROPIC_API_KEY=sk-ant", "GH_TOKEN=g", "HF_TOKEN=h",
		"PATH=/usr/bin", NULL,
	};
	struct plan		p = { 0 };
	struct env_report	rep = { 0 };
	struct strv		out = { 0 };

	(void)state;
	strv_push(&p.env_keep, "ANTHROPIC_API_KEY");
	p.env_allow_set = true;
	strv_push(&p.env_allow, "GH_*");
	strv_push(&p.env_allow, "PATH");
	strv_push(&p.env_allow, "HF_TOKEN");
	sandbox_env_build_report(&p, in, NULL, NULL, NULL, NULL, &out, &rep);
	assert_string_equal(get(&out, "GH_TOKEN"), "g");
	assert_string_equal(get(&out, "HF_TOKEN"), "h");
	/* --allow-env keeps it, but allow_vars (set) did not list it. */
	assert_null(get(&out, "ANTHROPIC_API_KEY"));
	assert_int_equal(rep.credentials.n, 0);
	sandbox_env_free(&out);
	strv_free(&p.env_allow);

	/* A bare "*" lets everything through but credentials. */
	strv_push(&p.env_allow, "*");
	sandbox_env_build_report(&p, in, NULL, NULL, NULL, NULL, &out, &rep);
	assert_string_equal(get(&out, "ANTHROPIC_API_KEY"), "sk-ant");
	assert_null(get(&out, "GH_TOKEN"));
	assert_null(get(&out, "HF_TOKEN"));
	assert_int_equal(rep.credentials.n, 2);
	sandbox_env_report_free(&rep);
	sandbox_env_free(&out);
	strv_free(&p.env_allow);
	strv_free(&p.env_keep);
}

static void
test_env_credential_replaced_by_phantom_is_not_reported(void **state)
{
	static char *const in[] = { "OPENAI_API_KEY=sk-real",
	    "NODE_OPTIONS=--require /x", NULL };
	struct strv		kh = { 0 }, out = { 0 };
	struct env_report	rep = { 0 };

	(void)state;
	strv_push(&kh, "OPENAI_API_KEY=phantom");
	sandbox_env_build_report(NULL, in, NULL, NULL, NULL, &kh, &out, &rep);
	assert_string_equal(get(&out, "OPENAI_API_KEY"), "phantom");
	assert_int_equal(rep.credentials.n, 0);
	assert_int_equal(rep.dangerous.n, 1);
	assert_string_equal(rep.dangerous.v[0], "NODE_OPTIONS");
	sandbox_env_report_free(&rep);
	sandbox_env_free(&out);
	strv_free(&kh);
}

int
main(int argc, char **argv, char **envp)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_env_dangerous_variables_are_removed),
		cmocka_unit_test(
		    test_env_credential_variables_are_removed_in_every_mode),
		cmocka_unit_test(
		    test_env_credential_kept_by_allow_env_and_allow_vars),
		cmocka_unit_test(
		    test_env_credential_replaced_by_phantom_is_not_reported),
		cmocka_unit_test(test_env_drop_list_removes_route_sources),
		cmocka_unit_test(
		    test_env_secret_values_are_removed_whatever_the_name),
		cmocka_unit_test(
		    test_env_allow_patterns_keep_only_matching_names),
		cmocka_unit_test(
		    test_env_deny_patterns_win_and_star_matches_all),
		cmocka_unit_test(
		    test_env_set_vars_override_inherited_but_not_keyhole),
		cmocka_unit_test(test_env_keyhole_vars_override_inherited),
		cmocka_unit_test(test_env_first_entry_of_each_name_kept_in_order),
		cmocka_unit_test(test_env_wipe_original_zeroes_value_bytes),
		cmocka_unit_test(
		    test_env_wipe_original_hides_values_from_proc_environ),
		cmocka_unit_test(
		    test_env_wipe_original_finds_the_block_without_the_array),
	};

	if (argc == 3 && strcmp(argv[1], WIPE_CHILD_FLAG) == 0)
		return wipe_child(envp, strcmp(argv[2], "array") == 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
