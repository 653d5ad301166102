#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "util/xmalloc.h"

#define MAXARGS	64

struct fixture {
	struct cli	cli;
	struct errbuf	e;
};

static int
setup(void **state)
{
	*state = xcalloc(1, sizeof(struct fixture));
	return 0;
}

static int
teardown(void **state)
{
	struct fixture	*f = *state;

	cli_free(&f->cli);
	free(f);
	return 0;
}

/*
 * Parse "keyhole" + the NULL-terminated words, with env (NULL-terminated
 * or NULL).  argv and env are heap copies freed before returning, so a
 * parser that kept pointers into them shows up under ASan.
 */
static int
parse_env(struct fixture *f, const char *const *env, ...)
{
	char		*argv[MAXARGS + 1], *envv[MAXARGS + 1];
	const char	*s;
	va_list		 ap;
	int		 argc = 0, n = 0, rc, i;

	argv[argc++] = xstrdup("keyhole");
	va_start(ap, env);
	while ((s = va_arg(ap, const char *)) != NULL) {
		assert_true(argc < MAXARGS);
		argv[argc++] = xstrdup(s);
	}
	va_end(ap);
	argv[argc] = NULL;
	for (; env != NULL && env[n] != NULL; n++) {
		assert_true(n < MAXARGS);
		envv[n] = xstrdup(env[n]);
	}
	envv[n] = NULL;
	rc = cli_parse(&f->cli, argc, argv, envv, &f->e);
	for (i = 0; i < argc; i++) {
		memset(argv[i], 'X', strlen(argv[i]));
		free(argv[i]);
	}
	for (i = 0; i < n; i++) {
		memset(envv[i], 'X', strlen(envv[i]));
		free(envv[i]);
	}
	return rc;
}

#define PARSE(f, ...)	parse_env(f, NULL, __VA_ARGS__, (const char *)NULL)
#define PARSE_ENV(f, env, ...) \
	parse_env(f, env, __VA_ARGS__, (const char *)NULL)

/* Expect a usage error with exactly this message. */
#define ASSERT_ERR(f, rc, msg) do {					\
	assert_int_equal((rc), -1);					\
	assert_string_equal(errbuf_msg(&(f)->e), (msg));		\
} while (0)

#define F	struct fixture *f = *state

/* ---- commands, help, version ---- */

static void
test_cli_no_command_is_usage_error(void **state)
{
	F;

	ASSERT_ERR(f, parse_env(f, NULL, (const char *)NULL),
	    "no command given (try 'keyhole help')");
}

static void
test_cli_unknown_command_is_named(void **state)
{
	F;

	ASSERT_ERR(f, PARSE(f, "frobnicate"), "unknown command 'frobnicate'");
}

static void
test_cli_version_forms(void **state)
{
	F;

	assert_int_equal(PARSE(f, "--version"), 0);
	assert_int_equal(f->cli.cmd, CLI_VERSION);
	cli_free(&f->cli);
	assert_int_equal(PARSE(f, "-V"), 0);
	assert_int_equal(f->cli.cmd, CLI_VERSION);
	cli_free(&f->cli);
	assert_int_equal(PARSE(f, "version"), 0);
	assert_int_equal(f->cli.cmd, CLI_VERSION);
}

static void
test_cli_version_takes_no_argument(void **state)
{
	F;

	ASSERT_ERR(f, PARSE(f, "version", "x"), "unexpected argument 'x'");
}

static void
test_cli_version_verbose_forms(void **state)
{
	F;

	assert_int_equal(PARSE(f, "version", "--verbose"), 0);
	assert_int_equal(f->cli.cmd, CLI_VERSION);
	assert_int_equal(f->cli.verbose, 1);
	cli_free(&f->cli);
	assert_int_equal(PARSE(f, "version", "-v"), 0);
	assert_int_equal(f->cli.verbose, 1);
	cli_free(&f->cli);
	ASSERT_ERR(f, PARSE(f, "version", "-v", "x"),
	    "unexpected argument 'x'");
	cli_free(&f->cli);
	ASSERT_ERR(f, PARSE(f, "version", "--json"),
	    "option '--json' is not valid for 'version'");
}

static void
test_cli_profile_schema_takes_nothing(void **state)
{
	F;

	assert_int_equal(PARSE(f, "profile", "schema"), 0);
	assert_int_equal(f->cli.profile_sub, CLI_PROFILE_SCHEMA);
	assert_null(f->cli.profile_arg);
	cli_free(&f->cli);
	ASSERT_ERR(f, PARSE(f, "profile", "schema", "x"),
	    "unexpected argument 'x'");
	cli_free(&f->cli);
	ASSERT_ERR(f, PARSE(f, "profile", "schema", "--json"),
	    "option '--json' is not valid for 'profile schema'");
}

static void
test_cli_version_is_not_a_run_option(void **state)
{
	F;

	ASSERT_ERR(f, PARSE(f, "run", "--version", "true"),
	    "option '--version' is not valid for 'run'");
}

static void
test_cli_top_level_help_forms(void **state)
{
	F;

	assert_int_equal(PARSE(f, "--help"), 0);
	assert_int_equal(f->cli.cmd, CLI_HELP);
	assert_true(f->cli.help);
	assert_null(f->cli.help_topic);
	cli_free(&f->cli);
	assert_int_equal(PARSE(f, "-h"), 0);
	assert_int_equal(f->cli.cmd, CLI_HELP);
	assert_null(f->cli.help_topic);
	cli_free(&f->cli);
	assert_int_equal(PARSE(f, "help"), 0);
	assert_int_equal(f->cli.cmd, CLI_HELP);
	assert_null(f->cli.help_topic);
}

static void
test_cli_help_command_names_topic(void **state)
{
	F;

	assert_int_equal(PARSE(f, "help", "run"), 0);
	assert_int_equal(f->cli.cmd, CLI_HELP);
	assert_true(f->cli.help);
	assert_string_equal(f->cli.help_topic, "run");
}

static void
test_cli_help_unknown_topic_is_error(void **state)
{
	F;

	ASSERT_ERR(f, PARSE(f, "help", "nope"), "unknown command 'nope'");
}

static void
test_cli_command_help_sets_help_and_topic(void **state)
{
	F;

	assert_int_equal(PARSE(f, "proxy", "--help"), 0);
	assert_int_equal(f->cli.cmd, CLI_PROXY);
	assert_true(f->cli.help);
	assert_string_equal(f->cli.help_topic, "proxy");
	cli_free(&f->cli);
	assert_int_equal(PARSE(f, "why", "-h"), 0);
	assert_true(f->cli.help);
	assert_string_equal(f->cli.help_topic, "why");
	cli_free(&f->cli);
	assert_int_equal(PARSE(f, "profile", "show", "--help"), 0);
	assert_true(f->cli.help);
	assert_string_equal(f->cli.help_topic, "profile");
}

static void
test_cli_run_help_needs_no_command(void **state)
{
	F;

	assert_int_equal(PARSE(f, "run", "--help"), 0);
	assert_true(f->cli.help);
	assert_string_equal(f->cli.help_topic, "run");
}

static void
test_cli_help_after_run_command_belongs_to_command(void **state)
{
	F;

	assert_int_equal(PARSE(f, "run", "ls", "--help"), 0);
	assert_false(f->cli.help);
	assert_int_equal(f->cli.argv.n, 2);
	assert_string_equal(f->cli.argv.v[1], "--help");
}

/* What cli_usage(topic) prints on stdout, as an owned string. */
static char *
usage_text(const char *topic)
{
	FILE	*tmp = tmpfile();
	char	*buf;
	long	 n;
	int	 saved;

	assert_non_null(tmp);
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	assert_true(saved != -1);
	assert_true(dup2(fileno(tmp), STDOUT_FILENO) != -1);
	cli_usage(topic);
	fflush(stdout);
	assert_true(dup2(saved, STDOUT_FILENO) != -1);
	close(saved);
	n = ftell(tmp);
	assert_true(n > 0);
	buf = xcalloc(1, (size_t)n + 1);
	rewind(tmp);
	assert_int_equal(fread(buf, 1, (size_t)n, tmp), (size_t)n);
	fclose(tmp);
	return buf;
}

static void
test_cli_usage_lines_fit_80_columns(void **state)
{
	static const char *const topics[] = { NULL, "run", "shell", "proxy",
	    "why", "profile", "help", "version", "bogus" };
	char	*text, *line, *nl;
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(topics) / sizeof(topics[0]); i++) {
		text = usage_text(topics[i]);
		for (line = text; *line != '\0'; line = nl + 1) {
			nl = strchr(line, '\n');
			assert_non_null(nl);
			if (nl - line > 80)
				fail_msg("help %s: long line: %.*s",
				    topics[i] ? topics[i] : "(overview)",
				    (int)(nl - line), line);
		}
		free(text);
	}
}

static void
test_cli_usage_overview_lists_commands(void **state)
{
	static const char *const want[] = { "keyhole run [OPTIONS] [--] CMD",
	    "keyhole shell", "keyhole proxy", "keyhole why",
	    "keyhole profile list", "--version", "Exit status" };
	char	*text = usage_text(NULL);
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (strstr(text, want[i]) == NULL)
			fail_msg("overview lacks '%s'", want[i]);
	free(text);
}

static void
test_cli_usage_run_lists_options_aliases_and_env(void **state)
{
	static const char *const want[] = { "-a, --allow DIR", "--block-net",
	    "(also --net-block)", "(also --allow-proxy, --proxy-allow)",
	    "--allow-endpoint SERVICE:METHOD:PATH", "--resolve HOST:PORT:ADDR",
	    "--max-body BYTES", "--dry-run", "KEYHOLE_ALLOW_DOMAIN" };
	char	*text = usage_text("run");
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (strstr(text, want[i]) == NULL)
			fail_msg("run help lacks '%s'", want[i]);
	assert_null(strstr(text, "--shell"));
	assert_null(strstr(text, "--json"));
	assert_null(strstr(text, "--version"));
	free(text);
}

static void
test_cli_usage_proxy_hides_filesystem_options(void **state)
{
	char	*text = usage_text("proxy");

	(void)state;
	assert_non_null(strstr(text, "--allow-domain"));
	assert_non_null(strstr(text, "--head-timeout"));
	assert_null(strstr(text, "--allow DIR"));
	assert_null(strstr(text, "--path"));
	assert_null(strstr(text, "KEYHOLE_ALLOW "));
	free(text);
}

/* ---- run's trailing command ---- */

static void
test_cli_run_first_word_starts_command(void **state)
{
	F;

	assert_int_equal(PARSE(f, "run", "--allow", "/tmp", "echo", "hi"), 0);
	assert_int_equal(f->cli.cmd, CLI_RUN);
	assert_int_equal(f->cli.argv.n, 2);
	assert_string_equal(f->cli.argv.v[0], "echo");
	assert_string_equal(f->cli.argv.v[1], "hi");
	assert_null(f->cli.argv.v[2]);
	assert_int_equal(f->cli.allow.n, 1);
	assert_string_equal(f->cli.allow.v[0], "/tmp");
}

static void
test_cli_run_double_dash_ends_options(void **state)
{
	F;

	assert_int_equal(PARSE(f, "run", "--allow", "/tmp", "--", "-x", "y"),
	    0);
	assert_int_equal(f->cli.argv.n, 2);
	assert_string_equal(f->cli.argv.v[0], "-x");
	assert_string_equal(f->cli.argv.v[1], "y");
}

static void
test_cli_run_options_after_command_belong_to_command(void **state)
{
	F;

	assert_int_equal(PARSE(f, "run", "echo", "--allow", ".", "--", "-v"),
	    0);
	assert_int_equal(f->cli.allow.n, 0);
	assert_int_equal(f->cli.verbose, 0);
	assert_int_equal(f->cli.argv.n, 5);
	assert_string_equal(f->cli.argv.v[1], "--allow");
	assert_string_equal(f->cli.argv.v[3], "--");
	assert_string_equal(f->cli.argv.v[4], "-v");
}

static void
test_cli_run_without_command_is_error(void **state)
{
	F;

	ASSERT_ERR(f, PARSE(f, "run", "--allow", "/tmp"),
	    "run needs a command (keyhole run [OPTIONS] [--] CMD [ARGS...])");
	cli_free(&f->cli);
	ASSERT_ERR(f, PARSE(f, "run", "--"),
	    "run needs a command (keyhole run [OPTIONS] [--] CMD [ARGS...])");
}

/* ---- option syntax ---- */

static void
test_cli_long_option_with_equals(void **state)
{
	F;

	assert_int_equal(PARSE(f, "run", "--allow=/a", "--workdir=/w",
	    "--proxy-port=8080", "true"), 0);
	assert_string_equal(f->cli.allow.v[0], "/a");
	assert_string_equal(f->cli.workdir, "/w");
	assert_int_equal(f->cli.proxy_port, 8080);
	assert_true(f->cli.proxy_port_set);
}

static void
test_cli_short_option_value_forms(void **state)
{
	F;

	assert_int_equal(PARSE(f, "run", "-a", "/one", "-a/two", "-a=/three",
	    "-r/ro", "-w", "/wo", "-pdev", "true"), 0);
	assert_int_equal(f->cli.allow.n, 3);
	assert_string_equal(f->cli.allow.v[0], "/one");
	assert_string_equal(f->cli.allow.v[1], "/two");
	assert_string_equal(f->cli.allow.v[2], "/three");
	assert_string_equal(f->cli.read.v[0], "/ro");
	assert_string_equal(f->cli.write.v[0], "/wo");
	assert_string_equal(f->cli.profile, "dev");
}

static void
test_cli_verbose_counts_repeats_and_clusters(void **state)
{
	F;

	assert_int_equal(PARSE(f, "run", "-v", "-vv", "--verbose", "true"), 0);
	assert_int_equal(f->cli.verbose, 4);
	cli_free(&f->cli);
	assert_int_equal(PARSE(f, "run", "-vvv", "true"), 0);
	assert_int_equal(f->cli.verbose, 3);
}

static void
test_cli_flag_cluster_may_end_in_value_option(void **state)
{
	F;

	assert_int_equal(PARSE(f, "run", "-vsa", "/x", "true"), 0);
	assert_int_equal(f->cli.verbose, 1);
	assert_true(f->cli.silent);
	assert_string_equal(f->cli.allow.v[0], "/x");
}

static void
test_cli_general_flags_before_command(void **state)
{
	F;

	assert_int_equal(PARSE(f, "-s", "-v", "run", "true"), 0);
	assert_true(f->cli.silent);
	assert_int_equal(f->cli.verbose, 1);
}

static void
test_cli_sandbox_option_before_command_is_error(void **state)
{
	F;

	ASSERT_ERR(f, PARSE(f, "--allow", "/x", "run", "true"),
	    "option '--allow' must come after the command "
	    "(keyhole run --allow ...)");
}

static void
test_cli_flag_rejects_value(void **state)
{
	F;

	ASSERT_ERR(f, PARSE(f, "run", "--block-net=yes", "true"),
	    "option '--block-net' takes no value");
	cli_free(&f->cli);
	ASSERT_ERR(f, PARSE(f, "run", "--dry-run=1", "true"),
	    "option '--dry-run' takes no value");
	cli_free(&f->cli);
	ASSERT_ERR(f, PARSE(f, "run", "-v=2", "true"),
	    "option '-v' takes no value");
}

static void
test_cli_unknown_long_option_is_named(void **state)
{
	F;

	ASSERT_ERR(f, PARSE(f, "run", "--foo", "true"),
	    "unexpected argument '--foo'");
	cli_free(&f->cli);
	ASSERT_ERR(f, PARSE(f, "run", "--foo=bar", "true"),
	    "unexpected argument '--foo'");
}

static void
test_cli_unknown_short_option_is_named(void **state)
{
	F;

	ASSERT_ERR(f, PARSE(f, "run", "-vx", "true"),
	    "unexpected argument '-x'");
}

static void
test_cli_missing_value_names_option(void **state)
{
	F;

	ASSERT_ERR(f, PARSE(f, "run", "--allow"),
	    "option '--allow' needs a value");
	cli_free(&f->cli);
	ASSERT_ERR(f, PARSE(f, "run", "-a"), "option '-a' needs a value");
	cli_free(&f->cli);
	ASSERT_ERR(f, PARSE(f, "run", "--allow", "--block-net", "true"),
	    "option '--allow' needs a value");
	cli_free(&f->cli);
	ASSERT_ERR(f, PARSE(f, "run", "--workdir=", "true"),
	    "option '--workdir' needs a value");
	cli_free(&f->cli);
	ASSERT_ERR(f, PARSE(f, "run", "--allow", ",", "true"),
	    "option '--allow' needs a value");
}

static void
test_cli_single_value_option_cannot_repeat(void **state)
{
	F;

	ASSERT_ERR(f, PARSE(f, "run", "--workdir", "/a", "--workdir", "/b",
	    "true"), "option '--workdir' cannot be given more than once");
	cli_free(&f->cli);
	ASSERT_ERR(f, PARSE(f, "run", "--upstream-proxy", "a:1",
	    "--external-proxy", "b:2", "true"),
	    "option '--external-proxy' cannot be given more than once");
}

/* ---- lists ---- */

static void
test_cli_allow_read_write_are_comma_split(void **state)
{
	F;

	assert_int_equal(PARSE(f, "run", "-a", "/a,/b", "--allow", "/c",
	    "-r", "/r1,,/r2", "--write=/w1,/w2", "true"), 0);
	assert_int_equal(f->cli.allow.n, 3);
	assert_string_equal(f->cli.allow.v[0], "/a");
	assert_string_equal(f->cli.allow.v[1], "/b");
	assert_string_equal(f->cli.allow.v[2], "/c");
	assert_int_equal(f->cli.read.n, 2);
	assert_string_equal(f->cli.read.v[1], "/r2");
	assert_int_equal(f->cli.write.n, 2);
	assert_string_equal(f->cli.write.v[1], "/w2");
}

static void
test_cli_upstream_bypass_is_comma_split(void **state)
{
	F;

	assert_int_equal(PARSE(f, "proxy", "--upstream-proxy", "corp:3128",
	    "--upstream-bypass", "a.example,*.b.example",
	    "--upstream-bypass", "c.example"), 0);
	assert_string_equal(f->cli.upstream_proxy, "corp:3128");
	assert_int_equal(f->cli.upstream_bypass.n, 3);
	assert_string_equal(f->cli.upstream_bypass.v[0], "a.example");
	assert_string_equal(f->cli.upstream_bypass.v[1], "*.b.example");
	assert_string_equal(f->cli.upstream_bypass.v[2], "c.example");
}

static void
test_cli_allow_domain_and_credential_are_not_comma_split(void **state)
{
	F;

	assert_int_equal(PARSE(f, "proxy", "--allow-domain", "a,b",
	    "--credential", "openai"), 0);
	assert_int_equal(f->cli.allow_domain.n, 1);
	assert_string_equal(f->cli.allow_domain.v[0], "a,b");
	assert_string_equal(f->cli.credential.v[0], "openai");
}

static void
test_cli_filesystem_options_are_stored(void **state)
{
	F;

	assert_int_equal(PARSE(f, "shell", "--allow-file", "/f1",
	    "--read-file", "/f2", "--write-file", "/f3", "--allow-cwd",
	    "--workdir", "/wd", "--override-deny", "~/.docker",
	    "--allow-unix-socket", "/run/x.sock", "--shell", "/bin/bash",
	    "-c", "echo hi"), 0);
	assert_int_equal(f->cli.cmd, CLI_SHELL);
	assert_string_equal(f->cli.allow_file.v[0], "/f1");
	assert_string_equal(f->cli.read_file.v[0], "/f2");
	assert_string_equal(f->cli.write_file.v[0], "/f3");
	assert_true(f->cli.allow_cwd);
	assert_string_equal(f->cli.workdir, "/wd");
	assert_string_equal(f->cli.override_deny.v[0], "~/.docker");
	assert_string_equal(f->cli.allow_unix_socket.v[0], "/run/x.sock");
	assert_string_equal(f->cli.shell, "/bin/bash");
	assert_string_equal(f->cli.shell_command, "echo hi");
}

static void
test_cli_network_options_are_stored(void **state)
{
	F;

	assert_int_equal(PARSE(f, "run", "--network-profile", "developer",
	    "--upstream-ca", "/ca.pem", "--audit-log", "/a.log",
	    "--allow-degraded-network", "--dry-run", "--open-port", "3000",
	    "--open-port", "3000", "--listen-port", "8000", "--block-net",
	    "true"), 0);
	assert_string_equal(f->cli.network_profile, "developer");
	assert_string_equal(f->cli.upstream_ca, "/ca.pem");
	assert_string_equal(f->cli.audit_log, "/a.log");
	assert_true(f->cli.allow_degraded_network);
	assert_true(f->cli.dry_run);
	assert_true(f->cli.block_net);
	assert_int_equal(f->cli.open_port.n, 1);
	assert_int_equal(f->cli.open_port.v[0], 3000);
	assert_int_equal(f->cli.listen_port.v[0], 8000);
	assert_false(f->cli.proxy_port_set);
}

/* ---- aliases ---- */

static void
test_cli_alias_net_block(void **state)
{
	F;

	assert_int_equal(PARSE(f, "run", "--net-block", "true"), 0);
	assert_true(f->cli.block_net);
}

static void
test_cli_alias_net_allow(void **state)
{
	F;

	assert_int_equal(PARSE(f, "run", "--net-allow", "true"), 0);
	assert_true(f->cli.allow_net);
}

static void
test_cli_alias_allow_proxy_and_proxy_allow(void **state)
{
	F;

	assert_int_equal(PARSE(f, "run", "--allow-proxy", "a.example",
	    "--proxy-allow", "b.example", "--allow-domain", "c.example",
	    "true"), 0);
	assert_int_equal(f->cli.allow_domain.n, 3);
	assert_string_equal(f->cli.allow_domain.v[0], "a.example");
	assert_string_equal(f->cli.allow_domain.v[1], "b.example");
}

static void
test_cli_alias_proxy_credential(void **state)
{
	F;

	assert_int_equal(PARSE(f, "run", "--proxy-credential", "github",
	    "true"), 0);
	assert_string_equal(f->cli.credential.v[0], "github");
}

static void
test_cli_alias_allow_port_and_allow_bind(void **state)
{
	F;

	assert_int_equal(PARSE(f, "run", "--allow-port", "5432",
	    "--allow-bind", "8080", "true"), 0);
	assert_true(ports_has(&f->cli.open_port, 5432));
	assert_true(ports_has(&f->cli.listen_port, 8080));
}

static void
test_cli_alias_external_proxy_and_bypass(void **state)
{
	F;

	assert_int_equal(PARSE(f, "run", "--external-proxy", "corp:8080",
	    "--external-proxy-bypass", "x.example,y.example", "true"), 0);
	assert_string_equal(f->cli.upstream_proxy, "corp:8080");
	assert_int_equal(f->cli.upstream_bypass.n, 2);
}

static void
test_cli_alias_bypass_protection(void **state)
{
	F;

	assert_int_equal(PARSE(f, "run", "--bypass-protection", "/p", "true"),
	    0);
	assert_string_equal(f->cli.override_deny.v[0], "/p");
}

/* ---- ports and numbers ---- */

static void
test_cli_bad_ports_are_usage_errors(void **state)
{
	static const char *const bad[] = { "x", "0", "65536", "-1", "+80",
	    " 80", "80 ", "0x50", "99999999999999999999999" };
	char	want[128];
	char	*arg;
	size_t	i;
	F;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(want, sizeof(want), "invalid value '%s' for "
		    "'--open-port': expected a port 1-65535", bad[i]);
		/* "=" so that "-1" is a value, not an option. */
		arg = xasprintf("--open-port=%s", bad[i]);
		ASSERT_ERR(f, PARSE(f, "run", arg, "true"), want);
		free(arg);
		cli_free(&f->cli);
	}
	ASSERT_ERR(f, PARSE(f, "run", "--listen-port", "70000", "true"),
	    "invalid value '70000' for '--listen-port': expected a port "
	    "1-65535");
	cli_free(&f->cli);
	ASSERT_ERR(f, PARSE(f, "run", "--allow-port", "0", "true"),
	    "invalid value '0' for '--allow-port': expected a port 1-65535");
	cli_free(&f->cli);
	ASSERT_ERR(f, PARSE(f, "run", "--proxy-port", "65536", "true"),
	    "invalid value '65536' for '--proxy-port': expected a port "
	    "0-65535");
}

static void
test_cli_proxy_port_zero_is_kernel_chosen(void **state)
{
	F;

	assert_int_equal(PARSE(f, "proxy", "--proxy-port", "0"), 0);
	assert_int_equal(f->cli.proxy_port, 0);
	assert_true(f->cli.proxy_port_set);
}

static void
test_cli_limits_are_stored_in_ms_and_bytes(void **state)
{
	F;

	assert_int_equal(PARSE(f, "proxy", "--head-timeout", "5",
	    "--idle-timeout", "86400", "--connect-timeout=1",
	    "--max-connections", "1000000", "--max-body", "1099511627776"), 0);
	assert_int_equal(f->cli.limits.head_timeout_ms, 5000);
	assert_int_equal(f->cli.limits.idle_timeout_ms, 86400000);
	assert_int_equal(f->cli.limits.connect_timeout_ms, 1000);
	assert_int_equal(f->cli.limits.max_conns, 1000000);
	assert_int_equal(f->cli.limits.max_body, UINT64_C(1099511627776));
}

static void
test_cli_limits_out_of_range_are_errors(void **state)
{
	F;

	ASSERT_ERR(f, PARSE(f, "proxy", "--head-timeout", "0"),
	    "invalid value '0' for '--head-timeout': expected seconds "
	    "1-86400");
	cli_free(&f->cli);
	ASSERT_ERR(f, PARSE(f, "proxy", "--idle-timeout", "86401"),
	    "invalid value '86401' for '--idle-timeout': expected seconds "
	    "1-86400");
	cli_free(&f->cli);
	ASSERT_ERR(f, PARSE(f, "proxy", "--max-connections", "1000001"),
	    "invalid value '1000001' for '--max-connections': expected a "
	    "number 1-1000000");
	cli_free(&f->cli);
	ASSERT_ERR(f, PARSE(f, "proxy", "--max-body", "1099511627777"),
	    "invalid value '1099511627777' for '--max-body': expected bytes "
	    "1-1099511627776");
	cli_free(&f->cli);
	ASSERT_ERR(f, PARSE(f, "proxy", "--max-body", "1k"),
	    "invalid value '1k' for '--max-body': expected bytes "
	    "1-1099511627776");
}

/* ---- --allow-endpoint and --resolve ---- */

static void
test_cli_allow_endpoint_valid_forms(void **state)
{
	F;

	assert_int_equal(PARSE(f, "run", "--credential", "github",
	    "--allow-endpoint", "github:GET:/repos/**",
	    "--allow-endpoint", "github:*:/a:b", "true"), 0);
	assert_int_equal(f->cli.allow_endpoint.n, 2);
	assert_string_equal(f->cli.allow_endpoint.v[0],
	    "github:GET:/repos/**");
	assert_string_equal(f->cli.allow_endpoint.v[1], "github:*:/a:b");
}

static void
test_cli_allow_endpoint_malformed_is_error(void **state)
{
	static const char *const bad[] = { "github", "github:GET",
	    "github:GET:", ":GET:/x", "github::/x", "::" };
	char	want[128];
	char	*arg;
	size_t	i;
	F;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(want, sizeof(want), "invalid --allow-endpoint '%s': "
		    "expected SERVICE:METHOD:/path", bad[i]);
		arg = xasprintf("--allow-endpoint=%s", bad[i]);
		ASSERT_ERR(f, PARSE(f, "run", arg, "true"), want);
		free(arg);
		cli_free(&f->cli);
	}
}

static void
test_cli_resolve_valid_shapes(void **state)
{
	F;

	assert_int_equal(PARSE(f, "run",
	    "--resolve", "example.com:443:127.0.0.1",
	    "--resolve", "example.com:443:::1",
	    "--resolve", "example.com:8443:[2001:db8::1]",
	    "--resolve", "[::1]:80:::1",
	    "true"), 0);
	assert_int_equal(f->cli.resolve.n, 4);
	assert_string_equal(f->cli.resolve.v[1], "example.com:443:::1");
	assert_string_equal(f->cli.resolve.v[3], "[::1]:80:::1");
}

static void
test_cli_resolve_malformed_shapes_are_errors(void **state)
{
	static const char *const shape[] = { "example.com", "example.com:443",
	    ":443:1.2.3.4", "example.com:443:", "[]:443:1.2.3.4",
	    "[::1:443:1.2.3.4", "[::1]443:1.2.3.4", "h:443:[::1",
	    "h:443:::1]", "h:443:[]" };
	static const char *const port[] = { "h:0:1.2.3.4", "h:65536:1.2.3.4",
	    "h:x:1.2.3.4", "h::1.2.3.4", "[::1]:-1:::1" };
	char	want[128];
	char	*arg;
	size_t	i;
	F;

	for (i = 0; i < sizeof(shape) / sizeof(shape[0]); i++) {
		snprintf(want, sizeof(want), "invalid --resolve '%s': "
		    "expected HOST:PORT:ADDR", shape[i]);
		arg = xasprintf("--resolve=%s", shape[i]);
		ASSERT_ERR(f, PARSE(f, "run", arg, "true"), want);
		free(arg);
		cli_free(&f->cli);
	}
	for (i = 0; i < sizeof(port) / sizeof(port[0]); i++) {
		snprintf(want, sizeof(want), "invalid --resolve '%s': "
		    "PORT must be 1-65535", port[i]);
		arg = xasprintf("--resolve=%s", port[i]);
		ASSERT_ERR(f, PARSE(f, "run", arg, "true"), want);
		free(arg);
		cli_free(&f->cli);
	}
}

/* ---- conflicts ---- */

static void
test_cli_allow_net_conflicts_with_each_proxy_option(void **state)
{
	static const char *const opt[] = { "--allow-domain", "--network-profile",
	    "--credential", "--upstream-proxy", "--upstream-bypass",
	    "--proxy-port", "--allow-endpoint" };
	static const char *const val[] = { "a.example", "developer", "openai",
	    "corp:3128", "b.example", "0", "openai:GET:/v1" };
	char	want[128];
	size_t	i;
	F;

	for (i = 0; i < sizeof(opt) / sizeof(opt[0]); i++) {
		snprintf(want, sizeof(want), "the argument '--allow-net' "
		    "cannot be used with '%s'", opt[i]);
		ASSERT_ERR(f, PARSE(f, "run", "--allow-net", opt[i], val[i],
		    "true"), want);
		cli_free(&f->cli);
		/* Order on the command line does not matter. */
		ASSERT_ERR(f, PARSE(f, "run", opt[i], val[i], "--allow-net",
		    "true"), want);
		cli_free(&f->cli);
	}
}

static void
test_cli_allow_net_conflict_names_aliases_as_typed(void **state)
{
	F;

	ASSERT_ERR(f, PARSE(f, "run", "--net-allow", "--allow-proxy", "x",
	    "true"), "the argument '--net-allow' cannot be used with "
	    "'--allow-proxy'");
}

static void
test_cli_block_net_with_allow_net_is_not_error(void **state)
{
	F;

	assert_int_equal(PARSE(f, "run", "--block-net", "--allow-net",
	    "true"), 0);
	assert_true(f->cli.block_net);
	assert_true(f->cli.allow_net);
}

static void
test_cli_allow_net_with_env_proxy_option_is_not_error(void **state)
{
	static const char *const env[] = { "KEYHOLE_ALLOW_DOMAIN=a.example",
	    NULL };
	F;

	assert_int_equal(PARSE_ENV(f, env, "run", "--allow-net", "true"), 0);
	assert_true(f->cli.allow_net);
	assert_int_equal(f->cli.allow_domain.n, 1);
}

/* ---- options per command ---- */

static void
test_cli_option_not_valid_for_command_is_named(void **state)
{
	F;

	ASSERT_ERR(f, PARSE(f, "proxy", "--allow", "/x"),
	    "option '--allow' is not valid for 'proxy'");
	cli_free(&f->cli);
	ASSERT_ERR(f, PARSE(f, "proxy", "-a", "/x"),
	    "option '-a' is not valid for 'proxy'");
	cli_free(&f->cli);
	ASSERT_ERR(f, PARSE(f, "why", "--path", "/x", "--dry-run"),
	    "option '--dry-run' is not valid for 'why'");
	cli_free(&f->cli);
	ASSERT_ERR(f, PARSE(f, "why", "--path", "/x", "--max-body", "1"),
	    "option '--max-body' is not valid for 'why'");
	cli_free(&f->cli);
	ASSERT_ERR(f, PARSE(f, "run", "--shell", "/bin/sh", "true"),
	    "option '--shell' is not valid for 'run'");
	cli_free(&f->cli);
	ASSERT_ERR(f, PARSE(f, "run", "--json", "true"),
	    "option '--json' is not valid for 'run'");
	cli_free(&f->cli);
	ASSERT_ERR(f, PARSE(f, "run", "-c", "x", "true"),
	    "option '-c' is not valid for 'run'");
	cli_free(&f->cli);
	ASSERT_ERR(f, PARSE(f, "profile", "list", "--block-net"),
	    "option '--block-net' is not valid for 'profile'");
	cli_free(&f->cli);
	ASSERT_ERR(f, PARSE(f, "shell", "--path", "/x"),
	    "option '--path' is not valid for 'shell'");
}

static void
test_cli_shell_rejects_positional(void **state)
{
	F;

	ASSERT_ERR(f, PARSE(f, "shell", "ls"),
	    "unexpected argument 'ls' (shell runs no command; use -c STRING)");
}

static void
test_cli_proxy_rejects_positional(void **state)
{
	F;

	ASSERT_ERR(f, PARSE(f, "proxy", "extra"),
	    "unexpected argument 'extra'");
}

/* ---- why ---- */

static void
test_cli_why_needs_path_or_host(void **state)
{
	F;

	ASSERT_ERR(f, PARSE(f, "why"), "why needs --path or --host");
	cli_free(&f->cli);
	ASSERT_ERR(f, PARSE(f, "why", "--json"), "why needs --path or --host");
}

static void
test_cli_why_path_defaults_to_read(void **state)
{
	F;

	assert_int_equal(PARSE(f, "why", "--path", "/etc/passwd", "--json",
	    "-a", "/tmp", "--block-net", "-p", "dev"), 0);
	assert_int_equal(f->cli.cmd, CLI_WHY);
	assert_string_equal(f->cli.why_path, "/etc/passwd");
	assert_string_equal(f->cli.why_op, "read");
	assert_true(f->cli.json);
	assert_string_equal(f->cli.allow.v[0], "/tmp");
	assert_true(f->cli.block_net);
	assert_string_equal(f->cli.profile, "dev");
}

static void
test_cli_why_op_accepts_three_values(void **state)
{
	static const char *const ok[] = { "read", "write", "readwrite" };
	size_t	i;
	F;

	for (i = 0; i < 3; i++) {
		assert_int_equal(PARSE(f, "why", "--path", "/x", "--op", ok[i]),
		    0);
		assert_string_equal(f->cli.why_op, ok[i]);
		cli_free(&f->cli);
	}
}

static void
test_cli_why_op_rejects_other_values(void **state)
{
	F;

	ASSERT_ERR(f, PARSE(f, "why", "--path", "/x", "--op", "execute"),
	    "invalid value 'execute' for '--op': expected read, write or "
	    "readwrite");
	cli_free(&f->cli);
	ASSERT_ERR(f, PARSE(f, "why", "--path", "/x", "--op=READ"),
	    "invalid value 'READ' for '--op': expected read, write or "
	    "readwrite");
}

static void
test_cli_why_op_needs_path(void **state)
{
	F;

	ASSERT_ERR(f, PARSE(f, "why", "--host", "example.com", "--op",
	    "write"), "option '--op' needs --path");
}

static void
test_cli_why_host_is_stored(void **state)
{
	F;

	assert_int_equal(PARSE(f, "why", "--host",
	    "https://api.github.com:443", "--allow-domain", "api.github.com"),
	    0);
	assert_string_equal(f->cli.why_host, "https://api.github.com:443");
	assert_null(f->cli.why_op);
	assert_string_equal(f->cli.allow_domain.v[0], "api.github.com");
}

static void
test_cli_why_path_and_host_together_is_error(void **state)
{
	F;

	ASSERT_ERR(f, PARSE(f, "why", "--path", "/x", "--host", "h"),
	    "the argument '--path' cannot be used with '--host'");
}

/* ---- profile ---- */

static void
test_cli_profile_list(void **state)
{
	F;

	assert_int_equal(PARSE(f, "profile", "list"), 0);
	assert_int_equal(f->cli.cmd, CLI_PROFILE);
	assert_int_equal(f->cli.profile_sub, CLI_PROFILE_LIST);
	assert_null(f->cli.profile_arg);
}

static void
test_cli_profile_show_with_json(void **state)
{
	F;

	assert_int_equal(PARSE(f, "profile", "show", "claude-code", "--json"),
	    0);
	assert_int_equal(f->cli.profile_sub, CLI_PROFILE_SHOW);
	assert_string_equal(f->cli.profile_arg, "claude-code");
	assert_true(f->cli.json);
}

static void
test_cli_profile_validate(void **state)
{
	F;

	assert_int_equal(PARSE(f, "profile", "validate", "./p.json"), 0);
	assert_int_equal(f->cli.profile_sub, CLI_PROFILE_VALIDATE);
	assert_string_equal(f->cli.profile_arg, "./p.json");
}

static void
test_cli_profile_errors(void **state)
{
	F;

	ASSERT_ERR(f, PARSE(f, "profile"), "profile needs a subcommand: "
	    "list, show NAME or validate FILE");
	cli_free(&f->cli);
	ASSERT_ERR(f, PARSE(f, "profile", "edit"), "unknown profile "
	    "subcommand 'edit' (expected list, show, validate or schema)");
	cli_free(&f->cli);
	ASSERT_ERR(f, PARSE(f, "profile", "show"),
	    "profile show needs a profile NAME");
	cli_free(&f->cli);
	ASSERT_ERR(f, PARSE(f, "profile", "validate"),
	    "profile validate needs a FILE");
	cli_free(&f->cli);
	ASSERT_ERR(f, PARSE(f, "profile", "list", "x"),
	    "unexpected argument 'x'");
	cli_free(&f->cli);
	ASSERT_ERR(f, PARSE(f, "profile", "show", "a", "b"),
	    "unexpected argument 'b'");
	cli_free(&f->cli);
	ASSERT_ERR(f, PARSE(f, "profile", "list", "--json"),
	    "option '--json' is not valid for 'profile list'");
	cli_free(&f->cli);
	ASSERT_ERR(f, PARSE(f, "profile", "validate", "f", "--json"),
	    "option '--json' is not valid for 'profile validate'");
}

/* ---- environment ---- */

static void
test_cli_env_allow_is_comma_list(void **state)
{
	static const char *const env[] = { "NONO_ALLOW=/a,/b", NULL };
	F;

	assert_int_equal(PARSE_ENV(f, env, "run", "true"), 0);
	assert_int_equal(f->cli.allow.n, 2);
	assert_string_equal(f->cli.allow.v[0], "/a");
	assert_string_equal(f->cli.allow.v[1], "/b");
}

static void
test_cli_env_keyhole_beats_nono(void **state)
{
	static const char *const env[] = { "NONO_PROFILE=nono-one",
	    "KEYHOLE_PROFILE=keyhole-one", "NONO_NETWORK_PROFILE=minimal",
	    "KEYHOLE_NETWORK_PROFILE=developer", "NONO_ALLOW=/n",
	    "KEYHOLE_ALLOW=/k", NULL };
	F;

	assert_int_equal(PARSE_ENV(f, env, "run", "true"), 0);
	assert_string_equal(f->cli.profile, "keyhole-one");
	assert_string_equal(f->cli.network_profile, "developer");
	assert_int_equal(f->cli.allow.n, 1);
	assert_string_equal(f->cli.allow.v[0], "/k");
}

static void
test_cli_env_each_variable_is_read(void **state)
{
	static const char *const env[] = { "KEYHOLE_ALLOW_DOMAIN=a.example,b",
	    "KEYHOLE_CREDENTIAL=openai,github",
	    "KEYHOLE_UPSTREAM_PROXY=corp:3128",
	    "KEYHOLE_UPSTREAM_BYPASS=x.example,y.example",
	    "KEYHOLE_BLOCK_NET=true", "KEYHOLE_ALLOW_NET=YES",
	    "KEYHOLE_PROFILE=p", "KEYHOLE_NETWORK_PROFILE=codex", NULL };
	F;

	assert_int_equal(PARSE_ENV(f, env, "run", "true"), 0);
	assert_int_equal(f->cli.allow_domain.n, 2);
	assert_string_equal(f->cli.allow_domain.v[1], "b");
	assert_int_equal(f->cli.credential.n, 2);
	assert_string_equal(f->cli.credential.v[1], "github");
	assert_string_equal(f->cli.upstream_proxy, "corp:3128");
	assert_int_equal(f->cli.upstream_bypass.n, 2);
	assert_true(f->cli.block_net);
	assert_true(f->cli.allow_net);
	assert_string_equal(f->cli.profile, "p");
	assert_string_equal(f->cli.network_profile, "codex");
}

static void
test_cli_env_nono_names_are_read(void **state)
{
	static const char *const env[] = { "NONO_ALLOW_DOMAIN=a.example",
	    "NONO_CREDENTIAL=anthropic", "NONO_UPSTREAM_PROXY=corp:1",
	    "NONO_UPSTREAM_BYPASS=z.example", "NONO_BLOCK_NET=1", NULL };
	F;

	assert_int_equal(PARSE_ENV(f, env, "run", "true"), 0);
	assert_string_equal(f->cli.allow_domain.v[0], "a.example");
	assert_string_equal(f->cli.credential.v[0], "anthropic");
	assert_string_equal(f->cli.upstream_proxy, "corp:1");
	assert_string_equal(f->cli.upstream_bypass.v[0], "z.example");
	assert_true(f->cli.block_net);
}

static void
test_cli_env_booleans_accept_nono_spellings(void **state)
{
	static const char *const yes[] = { "y", "YES", "t", "True", "on",
	    "1" };
	static const char *const no[] = { "n", "No", "f", "FALSE", "off",
	    "0" };
	const char	*env[2] = { NULL, NULL };
	char		*var;
	size_t		 i;
	F;

	for (i = 0; i < 6; i++) {
		var = xasprintf("KEYHOLE_BLOCK_NET=%s", yes[i]);
		env[0] = var;
		assert_int_equal(PARSE_ENV(f, env, "run", "true"), 0);
		assert_true(f->cli.block_net);
		cli_free(&f->cli);
		free(var);
		var = xasprintf("NONO_ALLOW_NET=%s", no[i]);
		env[0] = var;
		assert_int_equal(PARSE_ENV(f, env, "run", "true"), 0);
		assert_false(f->cli.allow_net);
		cli_free(&f->cli);
		free(var);
	}
}

static void
test_cli_env_bad_boolean_names_variable(void **state)
{
	static const char *const env[] = { "NONO_BLOCK_NET=maybe", NULL };
	static const char *const legacy[] = { "NONO_NET_ALLOW=sure", NULL };
	F;

	ASSERT_ERR(f, PARSE_ENV(f, env, "run", "true"),
	    "invalid value 'maybe' for NONO_BLOCK_NET: expected a boolean "
	    "(1/0, true/false, yes/no, on/off)");
	cli_free(&f->cli);
	ASSERT_ERR(f, PARSE_ENV(f, legacy, "run", "true"),
	    "invalid value 'sure' for NONO_NET_ALLOW: expected a boolean "
	    "(1/0, true/false, yes/no, on/off)");
}

/*
 * Among other variables, look-alikes and repeats: the first entry of a
 * name is its value (getenv's), an empty one is unset, a name that only
 * starts like one (KEYHOLE_ALLOWX, XKEYHOLE_ALLOW) is not it.
 */
static void
test_cli_env_first_entry_of_a_name_among_others_counts(void **state)
{
	static const char *const env[] = { "PATH=/bin", "XKEYHOLE_ALLOW=/x",
	    "KEYHOLE_ALLOWX=/y", "KEYHOLE_PROFILE=first", "HOME=/h",
	    "KEYHOLE_PROFILE=second", "NONO_ALLOW=", "KEYHOLE_ALLOW=",
	    "NONO_ALLOW=/second", "NONO_NETWORK_PROFILE=", "LANG=C",
	    "NONO_ALLOW_PROXY=legacy.example", "KEYHOLE_ALLOW_DOMAIN=",
	    NULL };
	F;

	assert_int_equal(PARSE_ENV(f, env, "run", "true"), 0);
	assert_string_equal(f->cli.profile, "first");
	assert_int_equal(f->cli.allow.n, 0);
	assert_null(f->cli.network_profile);
	assert_int_equal(f->cli.allow_domain.n, 1);
	assert_string_equal(f->cli.allow_domain.v[0], "legacy.example");
}

static void
test_cli_env_keyhole_false_beats_nono_true(void **state)
{
	static const char *const env[] = { "NONO_BLOCK_NET=1",
	    "KEYHOLE_BLOCK_NET=0", NULL };
	F;

	assert_int_equal(PARSE_ENV(f, env, "run", "true"), 0);
	assert_false(f->cli.block_net);
}

static void
test_cli_env_legacy_names_are_copied(void **state)
{
	static const char *const env[] = { "NONO_NET_BLOCK=on",
	    "NONO_NET_ALLOW=true", "NONO_ALLOW_PROXY=a.example",
	    "NONO_PROXY_CREDENTIAL=gemini", "NONO_EXTERNAL_PROXY=old:3128",
	    "NONO_EXTERNAL_PROXY_BYPASS=p.example,q.example", NULL };
	F;

	assert_int_equal(PARSE_ENV(f, env, "run", "true"), 0);
	assert_true(f->cli.block_net);
	assert_true(f->cli.allow_net);
	assert_string_equal(f->cli.allow_domain.v[0], "a.example");
	assert_string_equal(f->cli.credential.v[0], "gemini");
	assert_string_equal(f->cli.upstream_proxy, "old:3128");
	assert_int_equal(f->cli.upstream_bypass.n, 2);
}

static void
test_cli_env_legacy_proxy_allow_is_read(void **state)
{
	static const char *const env[] = { "NONO_PROXY_ALLOW=b.example", NULL };
	F;

	assert_int_equal(PARSE_ENV(f, env, "run", "true"), 0);
	assert_string_equal(f->cli.allow_domain.v[0], "b.example");
}

static void
test_cli_env_new_name_beats_legacy(void **state)
{
	static const char *const env[] = { "NONO_EXTERNAL_PROXY=old:1",
	    "NONO_UPSTREAM_PROXY=new:2", "NONO_ALLOW_PROXY=old.example",
	    "NONO_ALLOW_DOMAIN=new.example", NULL };
	F;

	assert_int_equal(PARSE_ENV(f, env, "run", "true"), 0);
	assert_string_equal(f->cli.upstream_proxy, "new:2");
	assert_int_equal(f->cli.allow_domain.n, 1);
	assert_string_equal(f->cli.allow_domain.v[0], "new.example");
}

static void
test_cli_command_line_beats_env(void **state)
{
	static const char *const env[] = { "KEYHOLE_PROFILE=envprof",
	    "KEYHOLE_ALLOW=/env", "KEYHOLE_ALLOW_DOMAIN=env.example",
	    "KEYHOLE_BLOCK_NET=maybe", "NONO_UPSTREAM_PROXY=env:1", NULL };
	F;

	assert_int_equal(PARSE_ENV(f, env, "run", "-p", "cliprof", "-a",
	    "/cli", "--proxy-allow", "cli.example", "--net-block",
	    "--external-proxy", "cli:2", "true"), 0);
	assert_string_equal(f->cli.profile, "cliprof");
	assert_int_equal(f->cli.allow.n, 1);
	assert_string_equal(f->cli.allow.v[0], "/cli");
	assert_int_equal(f->cli.allow_domain.n, 1);
	assert_string_equal(f->cli.allow_domain.v[0], "cli.example");
	assert_true(f->cli.block_net);
	assert_string_equal(f->cli.upstream_proxy, "cli:2");
}

static void
test_cli_env_applies_only_to_commands_accepting_option(void **state)
{
	static const char *const env[] = { "KEYHOLE_ALLOW=/a",
	    "KEYHOLE_PROFILE=p", "KEYHOLE_BLOCK_NET=maybe", NULL };
	static const char *const penv[] = { "KEYHOLE_ALLOW=/a",
	    "KEYHOLE_PROFILE=p", NULL };
	F;

	/* proxy takes no filesystem options; profile takes neither. */
	assert_int_equal(PARSE_ENV(f, penv, "proxy"), 0);
	assert_int_equal(f->cli.allow.n, 0);
	assert_string_equal(f->cli.profile, "p");
	cli_free(&f->cli);
	assert_int_equal(PARSE_ENV(f, env, "profile", "list"), 0);
	assert_int_equal(f->cli.allow.n, 0);
	assert_null(f->cli.profile);
	assert_false(f->cli.block_net);
}

static void
test_cli_env_empty_value_counts_as_unset(void **state)
{
	static const char *const env[] = { "KEYHOLE_PROFILE=",
	    "NONO_PROFILE=fallback", "KEYHOLE_BLOCK_NET=", NULL };
	F;

	assert_int_equal(PARSE_ENV(f, env, "run", "true"), 0);
	assert_string_equal(f->cli.profile, "fallback");
	assert_false(f->cli.block_net);
}

static void
test_cli_env_lookalike_names_are_ignored(void **state)
{
	static const char *const env[] = { "KEYHOLE_PROFILEX=no",
	    "XKEYHOLE_PROFILE=no", "KEYHOLE_ALLOW_NETWORK=1", NULL };
	F;

	assert_int_equal(PARSE_ENV(f, env, "run", "true"), 0);
	assert_null(f->cli.profile);
	assert_false(f->cli.allow_net);
}

static void
test_cli_help_skips_env_validation(void **state)
{
	static const char *const env[] = { "KEYHOLE_BLOCK_NET=maybe", NULL };
	F;

	assert_int_equal(PARSE_ENV(f, env, "run", "--help"), 0);
	assert_true(f->cli.help);
}

static void
test_cli_free_twice_is_safe(void **state)
{
	F;

	assert_int_equal(PARSE(f, "run", "-a", "/x", "true"), 0);
	cli_free(&f->cli);
	cli_free(&f->cli);
	cli_free(NULL);
}

static void
test_cli_allow_env_keep_tmp_and_env_file(void **state)
{
	static const char *const env[] = { "NONO_ALLOW_ENV=GH_TOKEN", NULL };
	F;

	assert_int_equal(PARSE(f, "run", "--allow-env", "A_TOKEN,B_KEY",
	    "--allow-env", "C_SECRET", "--keep-tmp", "true"), 0);
	assert_int_equal(f->cli.allow_env.n, 3);
	assert_string_equal(f->cli.allow_env.v[1], "B_KEY");
	assert_true(f->cli.keep_tmp);
	cli_free(&f->cli);
	memset(&f->cli, 0, sizeof(f->cli));
	/* The environment equivalent, when the flag is not given. */
	assert_int_equal(PARSE_ENV(f, env, "shell"), 0);
	assert_int_equal(f->cli.allow_env.n, 1);
	assert_string_equal(f->cli.allow_env.v[0], "GH_TOKEN");
	cli_free(&f->cli);
	memset(&f->cli, 0, sizeof(f->cli));
	assert_int_equal(PARSE(f, "proxy", "--env-file", "/x/k.env"), 0);
	assert_string_equal(f->cli.env_file, "/x/k.env");
	cli_free(&f->cli);
	memset(&f->cli, 0, sizeof(f->cli));
	/* --env-file is the proxy's; --keep-tmp a run's. */
	assert_int_equal(PARSE(f, "run", "--env-file", "/x", "true"), -1);
	cli_free(&f->cli);
	memset(&f->cli, 0, sizeof(f->cli));
	assert_int_equal(PARSE(f, "proxy", "--keep-tmp"), -1);
}

int
main(void)
{
#define T(fn)	cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_cli_no_command_is_usage_error),
		T(test_cli_unknown_command_is_named),
		T(test_cli_version_forms),
		T(test_cli_version_takes_no_argument),
		T(test_cli_version_verbose_forms),
		T(test_cli_profile_schema_takes_nothing),
		T(test_cli_version_is_not_a_run_option),
		T(test_cli_top_level_help_forms),
		T(test_cli_help_command_names_topic),
		T(test_cli_help_unknown_topic_is_error),
		T(test_cli_command_help_sets_help_and_topic),
		T(test_cli_run_help_needs_no_command),
		T(test_cli_help_after_run_command_belongs_to_command),
		T(test_cli_usage_lines_fit_80_columns),
		T(test_cli_usage_overview_lists_commands),
		T(test_cli_usage_run_lists_options_aliases_and_env),
		T(test_cli_usage_proxy_hides_filesystem_options),
		T(test_cli_run_first_word_starts_command),
		T(test_cli_run_double_dash_ends_options),
		T(test_cli_run_options_after_command_belong_to_command),
		T(test_cli_run_without_command_is_error),
		T(test_cli_long_option_with_equals),
		T(test_cli_short_option_value_forms),
		T(test_cli_verbose_counts_repeats_and_clusters),
		T(test_cli_flag_cluster_may_end_in_value_option),
		T(test_cli_general_flags_before_command),
		T(test_cli_sandbox_option_before_command_is_error),
		T(test_cli_flag_rejects_value),
		T(test_cli_unknown_long_option_is_named),
		T(test_cli_unknown_short_option_is_named),
		T(test_cli_missing_value_names_option),
		T(test_cli_single_value_option_cannot_repeat),
		T(test_cli_allow_read_write_are_comma_split),
		T(test_cli_upstream_bypass_is_comma_split),
		T(test_cli_allow_domain_and_credential_are_not_comma_split),
		T(test_cli_filesystem_options_are_stored),
		T(test_cli_network_options_are_stored),
		T(test_cli_alias_net_block),
		T(test_cli_alias_net_allow),
		T(test_cli_alias_allow_proxy_and_proxy_allow),
		T(test_cli_alias_proxy_credential),
		T(test_cli_alias_allow_port_and_allow_bind),
		T(test_cli_alias_external_proxy_and_bypass),
		T(test_cli_alias_bypass_protection),
		T(test_cli_bad_ports_are_usage_errors),
		T(test_cli_proxy_port_zero_is_kernel_chosen),
		T(test_cli_limits_are_stored_in_ms_and_bytes),
		T(test_cli_limits_out_of_range_are_errors),
		T(test_cli_allow_endpoint_valid_forms),
		T(test_cli_allow_endpoint_malformed_is_error),
		T(test_cli_resolve_valid_shapes),
		T(test_cli_resolve_malformed_shapes_are_errors),
		T(test_cli_allow_net_conflicts_with_each_proxy_option),
		T(test_cli_allow_net_conflict_names_aliases_as_typed),
		T(test_cli_block_net_with_allow_net_is_not_error),
		T(test_cli_allow_net_with_env_proxy_option_is_not_error),
		T(test_cli_option_not_valid_for_command_is_named),
		T(test_cli_shell_rejects_positional),
		T(test_cli_proxy_rejects_positional),
		T(test_cli_why_needs_path_or_host),
		T(test_cli_why_path_defaults_to_read),
		T(test_cli_why_op_accepts_three_values),
		T(test_cli_why_op_rejects_other_values),
		T(test_cli_why_op_needs_path),
		T(test_cli_why_host_is_stored),
		T(test_cli_why_path_and_host_together_is_error),
		T(test_cli_profile_list),
		T(test_cli_profile_show_with_json),
		T(test_cli_profile_validate),
		T(test_cli_profile_errors),
		T(test_cli_env_allow_is_comma_list),
		T(test_cli_env_keyhole_beats_nono),
		T(test_cli_env_each_variable_is_read),
		T(test_cli_env_nono_names_are_read),
		T(test_cli_env_booleans_accept_nono_spellings),
		T(test_cli_env_bad_boolean_names_variable),
		T(test_cli_env_first_entry_of_a_name_among_others_counts),
		T(test_cli_env_keyhole_false_beats_nono_true),
		T(test_cli_env_legacy_names_are_copied),
		T(test_cli_env_legacy_proxy_allow_is_read),
		T(test_cli_env_new_name_beats_legacy),
		T(test_cli_command_line_beats_env),
		T(test_cli_env_applies_only_to_commands_accepting_option),
		T(test_cli_env_empty_value_counts_as_unset),
		T(test_cli_env_lookalike_names_are_ignored),
		T(test_cli_help_skips_env_validation),
		T(test_cli_free_twice_is_safe),
		T(test_cli_allow_env_keep_tmp_and_env_file),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
