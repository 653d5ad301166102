#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy/route.h"
#include "profile/profile.h"
#include "util/xmalloc.h"

/*
 * Profile lookup, strict parsing and extends (nono-profile.md §1, §2, §9.1;
 * SPEC §8).  Each test gets a fresh temporary HOME and XDG_CONFIG_HOME.
 */

static char		 tmp[PATH_MAX];
static char		 xdg[PATH_MAX + 16];
static struct profile_env env;

static int
setup(void **state)
{
	(void)state;
	snprintf(tmp, sizeof(tmp), "/tmp/kh-profile-load-XXXXXX");
	if (mkdtemp(tmp) == NULL)
		return -1;
	snprintf(xdg, sizeof(xdg), "%s/xdg", tmp);
	memset(&env, 0, sizeof(env));
	env.home = tmp;
	env.xdg_config_home = xdg;
	env.uid = 1000;
	return 0;
}

static int
teardown(void **state)
{
	char	*cmd;

	(void)state;
	cmd = xasprintf("rm -rf '%s'", tmp);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup of %s failed\n", tmp);
	free(cmd);
	return 0;
}

static void
mkdirs(const char *path)
{
	char	*cmd = xasprintf("mkdir -p '%s'", path);

	assert_int_equal(system(cmd), 0);
	free(cmd);
}

/* Write text to dir/name, creating dir; returns the path (caller frees). */
static char *
put(const char *dir, const char *name, const char *text)
{
	char	*path;
	FILE	*f;

	mkdirs(dir);
	path = xasprintf("%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

/* A user profile in $XDG_CONFIG_HOME/keyhole/profiles. */
static void
user_profile(const char *name, const char *text)
{
	char	*dir = xasprintf("%s/keyhole/profiles", xdg);
	char	*file = xasprintf("%s.json", name);

	free(put(dir, file, text));
	free(dir);
	free(file);
}

static struct profile *
parse_ok(const char *json)
{
	struct errbuf	 e = { { 0 } };
	struct profile	*p;

	p = profile_parse_bytes(json, strlen(json), "t.json", &e);
	if (p == NULL)
		fail_msg("unexpected error: %s", errbuf_msg(&e));
	return p;
}

/* Parse must fail; the message must contain every fragment given. */
static void
parse_fails(const char *json, const char *frag1, const char *frag2)
{
	struct errbuf	 e = { { 0 } };
	struct profile	*p;

	p = profile_parse_bytes(json, strlen(json), "t.json", &e);
	if (p != NULL) {
		profile_free(p);
		fail_msg("parsed, expected an error with '%s'", frag1);
	}
	if (strstr(errbuf_msg(&e), frag1) == NULL ||
	    (frag2 != NULL && strstr(errbuf_msg(&e), frag2) == NULL))
		fail_msg("message '%s' lacks '%s' / '%s'", errbuf_msg(&e),
		    frag1, frag2 != NULL ? frag2 : "");
}

static struct profile *
load_ok(const char *arg)
{
	struct errbuf	 e = { { 0 } };
	struct profile	*p;

	p = profile_load(arg, &env, &e);
	if (p == NULL)
		fail_msg("load %s: %s", arg, errbuf_msg(&e));
	return p;
}

static void
load_fails(const char *arg, const char *frag1, const char *frag2)
{
	struct errbuf	 e = { { 0 } };
	struct profile	*p;

	p = profile_load(arg, &env, &e);
	if (p != NULL) {
		profile_free(p);
		fail_msg("load %s succeeded, expected '%s'", arg, frag1);
	}
	if (strstr(errbuf_msg(&e), frag1) == NULL ||
	    (frag2 != NULL && strstr(errbuf_msg(&e), frag2) == NULL))
		fail_msg("message '%s' lacks '%s' / '%s'", errbuf_msg(&e),
		    frag1, frag2 != NULL ? frag2 : "");
}

/* ---- names and lookup ---- */

static void
test_profile_names_are_alphanumeric_with_inner_hyphens(void **state)
{
	(void)state;
	assert_true(profile_name_valid("claude-code"));
	assert_true(profile_name_valid("openclaw"));
	assert_true(profile_name_valid("my-app-2"));
	assert_false(profile_name_valid(""));
	assert_false(profile_name_valid("-invalid"));
	assert_false(profile_name_valid("invalid-"));
	assert_false(profile_name_valid("../escape"));
	assert_false(profile_name_valid("path/traversal"));
	assert_false(profile_name_valid("under_score"));
	assert_false(profile_name_valid("has space"));
}

static void
test_load_builtin_claude_code_by_name(void **state)
{
	struct profile	*p;

	(void)state;
	p = load_ok("claude-code");
	assert_string_equal(p->meta.name, "claude-code");
	assert_false(p->net.block);
	assert_true(p->finalised);
	assert_int_equal(p->extends.n, 0);
	profile_free(p);
}

static void
test_load_nonexistent_name_is_not_found(void **state)
{
	(void)state;
	load_fails("nonexistent-profile-12345", "profile not found",
	    "nonexistent-profile-12345");
}

static void
test_load_invalid_name_is_refused(void **state)
{
	(void)state;
	load_fails("bad_name", "invalid profile name 'bad_name'",
	    "alphanumeric with hyphens");
}

static void
test_load_from_path_adds_default_groups(void **state)
{
	struct profile	*p;
	char		*path;

	(void)state;
	path = put(tmp, "custom.json", "{\"meta\":{\"name\":\"custom-test\"},"
	    "\"security\":{\"groups\":[\"node_runtime\"]},"
	    "\"network\":{\"block\":true}}");
	p = load_ok(path);
	assert_string_equal(p->meta.name, "custom-test");
	assert_true(p->net.block);
	assert_true(strv_contains(&p->groups, "deny_credentials"));
	assert_true(strv_contains(&p->groups, "node_runtime"));
	/* Default groups come first. */
	assert_string_equal(p->groups.v[0], "deny_credentials");
	profile_free(p);
	free(path);
}

static void
test_load_value_ending_in_json_is_a_path(void **state)
{
	(void)state;
	load_fails("missing.json", "profile missing.json", "not found");
}

static void
test_load_from_missing_path_fails(void **state)
{
	(void)state;
	load_fails("/tmp/does-not-exist-keyhole-test.json",
	    "/tmp/does-not-exist-keyhole-test.json", "profile file not found");
}

static void
test_user_dir_shadows_builtin(void **state)
{
	struct profile	*p;

	(void)state;
	user_profile("codex", "{\"meta\":{\"name\":\"my-codex\"},"
	    "\"filesystem\":{\"read\":[\"/opt/mine\"]}}");
	p = load_ok("codex");
	assert_string_equal(p->meta.name, "my-codex");
	assert_true(strv_contains(&p->fs.read, "/opt/mine"));
	assert_false(strv_contains(&p->fs.allow, "$HOME/.codex"));
	assert_true(p->label != NULL && strstr(p->label, xdg) != NULL);
	profile_free(p);
}

static void
test_nono_user_dir_is_searched_after_keyhole_dir(void **state)
{
	struct profile	*p;
	char		*dir;

	(void)state;
	dir = xasprintf("%s/.config/nono/profiles", tmp);
	free(put(dir, "mine.json", "{\"meta\":{\"name\":\"from-nono\"}}"));
	p = load_ok("mine");
	assert_string_equal(p->meta.name, "from-nono");
	profile_free(p);
	user_profile("mine", "{\"meta\":{\"name\":\"from-keyhole\"}}");
	p = load_ok("mine");
	assert_string_equal(p->meta.name, "from-keyhole");
	profile_free(p);
	free(dir);
}

static void
test_search_dirs_fall_back_on_relative_xdg(void **state)
{
	struct errbuf	e = { { 0 } };
	struct strv	dirs = { 0 };
	char		*want;

	(void)state;
	env.xdg_config_home = "relative/path";
	assert_int_equal(profile_search_dirs(&env, &dirs, &e), 0);
	want = xasprintf("%s/.config/keyhole/profiles", tmp);
	assert_string_equal(dirs.v[0], want);
	free(want);
	want = xasprintf("%s/.config/nono/profiles", tmp);
	assert_string_equal(dirs.v[1], want);
	free(want);
	strv_free(&dirs);
}

static void
test_search_dirs_use_canonical_absolute_xdg(void **state)
{
	struct errbuf	e = { { 0 } };
	struct strv	dirs = { 0 };
	char		*want, *messy;

	(void)state;
	mkdirs(xdg);
	messy = xasprintf("%s/./xdg", tmp);
	env.xdg_config_home = messy;
	assert_int_equal(profile_search_dirs(&env, &dirs, &e), 0);
	want = xasprintf("%s/keyhole/profiles", xdg);
	assert_string_equal(dirs.v[0], want);
	free(want);
	free(messy);
	strv_free(&dirs);
}

static void
test_list_has_builtins_and_user_files(void **state)
{
	struct errbuf	e = { { 0 } };
	struct strv	b = { 0 }, u = { 0 };

	(void)state;
	user_profile("zeta", "{}");
	user_profile("alpha", "{}");
	assert_int_equal(profile_list(&env, &b, &u, &e), 0);
	assert_true(strv_contains(&b, "claude-code"));
	assert_true(strv_contains(&b, "codex"));
	assert_true(strv_contains(&b, "openclaw"));
	assert_true(strv_contains(&b, "opencode"));
	assert_int_equal(u.n, 2);
	assert_string_equal(u.v[0], "alpha");
	assert_string_equal(u.v[1], "zeta");
	strv_free(&b);
	strv_free(&u);
}

/* ---- strict parsing ---- */

static void
test_schema_key_is_ignored(void **state)
{
	struct profile	*p;

	(void)state;
	p = parse_ok("{\"$schema\":\"https://x/schema.json\","
	    "\"meta\":{\"name\":\"s\"}}");
	assert_string_equal(p->meta.name, "s");
	profile_free(p);
}

static void
test_schema_key_below_top_level_is_unknown(void **state)
{
	(void)state;
	parse_fails("{\"network\":{\"$schema\":\"x\"}}",
	    "network.$schema: unknown field", NULL);
}

static void
test_unknown_top_level_key_rejected_with_position(void **state)
{
	(void)state;
	parse_fails("{\n  \"meta\": {\"name\": \"x\"},\n  \"polcy\": {}\n}",
	    "profile t.json: line 3 column 12: polcy: unknown field 'polcy'",
	    NULL);
}

static void
test_unknown_nested_key_rejected(void **state)
{
	(void)state;
	parse_fails("{\"policy\":{\"add_deny_acces\":[\"/x\"]}}",
	    "policy.add_deny_acces: unknown field", NULL);
	parse_fails("{\"network\":{\"custom_credentials\":{\"svc\":"
	    "{\"upstream\":\"https://a.example\",\"credential_key\":\"k\","
	    "\"bogus\":1}}}}",
	    "network.custom_credentials.svc.bogus: unknown field", NULL);
	parse_fails("{\"workdir\":{\"acess\":\"read\"}}",
	    "workdir.acess: unknown field", NULL);
}

static void
test_syntax_error_reports_line_and_column(void **state)
{
	(void)state;
	parse_fails("{\n  \"meta\": {\"name\": \"x\",}\n}",
	    "profile t.json: line 2", "column");
	parse_fails("", "profile t.json: line", NULL);
	parse_fails("{} {}", "profile t.json: line 1", NULL);
	parse_fails("// c\n{}", "profile t.json: line 1", NULL);
}

static void
test_duplicate_key_rejected(void **state)
{
	(void)state;
	parse_fails("{\"meta\":{\"name\":\"a\",\"name\":\"b\"}}",
	    "duplicate", NULL);
}

static void
test_alias_and_canonical_together_rejected(void **state)
{
	(void)state;
	parse_fails("{\"network\":{\"allow_domain\":[\"a\"],"
	    "\"proxy_allow\":[\"b\"]}}",
	    "network.proxy_allow: duplicate field", "allow_domain");
	parse_fails("{\"rollback\":{},\"undo\":{}}", "undo: duplicate field",
	    NULL);
	parse_fails("{\"env_credentials\":{},\"secrets\":{}}",
	    "secrets: duplicate field", NULL);
}

static void
test_network_aliases_accepted(void **state)
{
	struct profile	*p;

	(void)state;
	p = parse_ok("{\"network\":{\"allow_proxy\":[\"api.openai.com\"],"
	    "\"allow_port\":[3000],\"external_proxy\":\"squid.corp:3128\","
	    "\"external_proxy_bypass\":[\"*.corp\"],"
	    "\"proxy_credentials\":[\"openai\"],\"block\":true}}");
	assert_int_equal(p->net.allow_domain.n, 1);
	assert_string_equal(p->net.allow_domain.v[0], "api.openai.com");
	assert_int_equal(p->net.open_port.n, 1);
	assert_int_equal(p->net.open_port.v[0], 3000);
	assert_string_equal(p->net.upstream_proxy, "squid.corp:3128");
	assert_string_equal(p->net.upstream_bypass.v[0], "*.corp");
	assert_int_equal(p->net.credentials_state, PROFILE_CREDS_LIST);
	assert_string_equal(p->net.credentials.v[0], "openai");
	assert_true(p->net.block);
	profile_free(p);
	p = parse_ok("{\"network\":{\"proxy_allow\":[\"a\"],"
	    "\"port_allow\":[1]}}");
	assert_string_equal(p->net.allow_domain.v[0], "a");
	assert_int_equal(p->net.open_port.v[0], 1);
	profile_free(p);
}

static void
test_secrets_and_undo_aliases_accepted(void **state)
{
	struct profile	*p;

	(void)state;
	p = parse_ok("{\"secrets\":{\"openai_api_key\":\"OPENAI_API_KEY\"},"
	    "\"undo\":{\"exclude_patterns\":[\"node_modules\"]}}");
	assert_string_equal(profile_map_get(&p->env_credentials,
	    "openai_api_key"), "OPENAI_API_KEY");
	assert_string_equal(p->rollback_patterns.v[0], "node_modules");
	profile_free(p);
}

static void
test_ports_must_be_integers_in_range(void **state)
{
	(void)state;
	parse_fails("{\"network\":{\"open_port\":[0]}}",
	    "network.open_port[0]: port 0 out of range 1..65535", NULL);
	parse_fails("{\"network\":{\"open_port\":[65536]}}",
	    "out of range", NULL);
	parse_fails("{\"network\":{\"listen_port\":[-1]}}",
	    "network.listen_port[0]", "out of range");
	parse_fails("{\"network\":{\"listen_port\":[80.5]}}",
	    "must be a port number", NULL);
	parse_fails("{\"network\":{\"listen_port\":[1e3]}}",
	    "must be a port number", NULL);
	parse_fails("{\"network\":{\"listen_port\":[\"80\"]}}",
	    "must be a port number", NULL);
}

static void
test_open_port_list_is_deduplicated(void **state)
{
	struct profile	*p;

	(void)state;
	p = parse_ok("{\"network\":{\"open_port\":[5000,3000,5000],"
	    "\"listen_port\":[65535]}}");
	assert_int_equal(p->net.open_port.n, 2);
	assert_int_equal(p->net.listen_port.v[0], 65535);
	profile_free(p);
}

static void
test_null_is_refused_for_lists_and_sections(void **state)
{
	(void)state;
	parse_fails("{\"filesystem\":null}", "filesystem: must be an object",
	    NULL);
	parse_fails("{\"network\":{\"allow_domain\":null}}",
	    "network.allow_domain: must be a list", NULL);
	parse_fails("{\"network\":{\"block\":null}}",
	    "network.block: must be true or false", NULL);
}

static void
test_type_errors_name_the_key_path(void **state)
{
	(void)state;
	parse_fails("{\"filesystem\":{\"allow\":[\"/a\",3]}}",
	    "filesystem.allow[1]: must be a string", NULL);
	parse_fails("[]", "the top level must be an object", NULL);
}

static void
test_meta_name_required_when_meta_present(void **state)
{
	(void)state;
	parse_fails("{\"meta\":{\"version\":\"1\"}}",
	    "meta: missing field 'name'", NULL);
}

static void
test_meta_absent_gives_empty_name(void **state)
{
	struct profile	*p;

	(void)state;
	p = parse_ok("{}");
	assert_string_equal(p->meta.name, "");
	assert_false(p->meta.present);
	profile_free(p);
}

static void
test_security_modes_parse(void **state)
{
	struct profile	*p;

	(void)state;
	p = parse_ok("{\"security\":{\"signal_mode\":\"allow_same_sandbox\","
	    "\"process_info_mode\":\"allow_all\",\"ipc_mode\":\"full\","
	    "\"capability_elevation\":true,"
	    "\"wsl2_proxy_policy\":\"insecure_proxy\"}}");
	assert_int_equal(p->security.signal_mode,
	    PROFILE_PROC_ALLOW_SAME_SANDBOX);
	assert_int_equal(p->security.process_info_mode,
	    PROFILE_PROC_ALLOW_ALL);
	assert_int_equal(p->security.ipc_mode, PROFILE_IPC_FULL);
	assert_int_equal(p->security.capability_elevation, PROFILE_TRUE);
	assert_int_equal(p->security.wsl2_proxy_policy,
	    PROFILE_WSL2_INSECURE_PROXY);
	profile_free(p);
	p = parse_ok("{\"security\":{\"ipc_mode\":\"shared_memory_only\","
	    "\"signal_mode\":null}}");
	assert_int_equal(p->security.ipc_mode,
	    PROFILE_IPC_SHARED_MEMORY_ONLY);
	assert_int_equal(p->security.signal_mode, PROFILE_PROC_UNSET);
	assert_int_equal(p->security.process_info_mode, PROFILE_PROC_UNSET);
	profile_free(p);
}

static void
test_security_mode_unknown_variant_rejected(void **state)
{
	(void)state;
	parse_fails("{\"security\":{\"signal_mode\":\"Isolated\"}}",
	    "security.signal_mode: unknown variant 'Isolated'", NULL);
}

static void
test_allowed_commands_parse_exactly(void **state)
{
	struct profile	*p;

	(void)state;
	p = parse_ok("{\"security\":{\"allowed_commands\":[\"rm\",\"dd\"]}}");
	assert_int_equal(p->security.allowed_commands.n, 2);
	assert_string_equal(p->security.allowed_commands.v[0], "rm");
	assert_string_equal(p->security.allowed_commands.v[1], "dd");
	profile_free(p);
	p = parse_ok("{}");
	assert_int_equal(p->security.allowed_commands.n, 0);
	profile_free(p);
}

static void
test_workdir_access_values(void **state)
{
	struct profile	*p;

	(void)state;
	p = parse_ok("{\"workdir\":{\"access\":\"readwrite\"}}");
	assert_int_equal(p->workdir, PROFILE_WORKDIR_READWRITE);
	profile_free(p);
	p = parse_ok("{\"workdir\":{\"access\":\"read\"}}");
	assert_int_equal(p->workdir, PROFILE_WORKDIR_READ);
	profile_free(p);
	p = parse_ok("{\"workdir\":{\"access\":\"none\"}}");
	assert_int_equal(p->workdir, PROFILE_WORKDIR_NONE);
	profile_free(p);
	p = parse_ok("{}");
	assert_int_equal(p->workdir, PROFILE_WORKDIR_NONE);
	profile_free(p);
	parse_fails("{\"workdir\":{\"access\":\"READ\"}}",
	    "workdir.access: unknown variant", NULL);
}

static void
test_env_credentials_parse_and_default_empty(void **state)
{
	struct profile	*p;

	(void)state;
	p = parse_ok("{\"env_credentials\":{\"openai_api_key\":"
	    "\"OPENAI_API_KEY\",\"anthropic_api_key\":\"ANTHROPIC_API_KEY\"}}");
	assert_int_equal(p->env_credentials.n, 2);
	assert_string_equal(profile_map_get(&p->env_credentials,
	    "anthropic_api_key"), "ANTHROPIC_API_KEY");
	profile_free(p);
	p = parse_ok("{}");
	assert_int_equal(p->env_credentials.n, 0);
	profile_free(p);
}

static void
test_policy_lists_parse_exactly(void **state)
{
	struct profile	*p;

	(void)state;
	p = parse_ok("{\"policy\":{\"exclude_groups\":[\"deny_shell_configs\"],"
	    "\"add_allow_read\":[\"/r\"],\"add_allow_write\":[\"/w\"],"
	    "\"add_allow_readwrite\":[\"/rw\"],\"add_deny_access\":[\"/d\"],"
	    "\"add_deny_commands\":[\"curl\"],"
	    "\"override_deny\":[\"~/.docker\"]}}");
	assert_string_equal(p->policy.exclude_groups.v[0],
	    "deny_shell_configs");
	assert_string_equal(p->policy.add_allow_read.v[0], "/r");
	assert_string_equal(p->policy.add_allow_write.v[0], "/w");
	assert_string_equal(p->policy.add_allow_readwrite.v[0], "/rw");
	assert_string_equal(p->policy.add_deny_access.v[0], "/d");
	assert_string_equal(p->policy.add_deny_commands.v[0], "curl");
	assert_string_equal(p->policy.override_deny.v[0], "~/.docker");
	profile_free(p);
}

static void
test_network_profile_absent_null_and_value(void **state)
{
	struct profile	*p;

	(void)state;
	p = parse_ok("{\"network\":{}}");
	assert_int_equal(p->net.network_profile_state,
	    PROFILE_NETPROF_INHERIT);
	profile_free(p);
	p = parse_ok("{\"network\":{\"network_profile\":null}}");
	assert_int_equal(p->net.network_profile_state, PROFILE_NETPROF_CLEAR);
	assert_null(p->net.network_profile);
	profile_free(p);
	p = parse_ok("{\"network\":{\"network_profile\":\"developer\"}}");
	assert_int_equal(p->net.network_profile_state, PROFILE_NETPROF_SET);
	assert_string_equal(p->net.network_profile, "developer");
	profile_free(p);
}

static void
test_credentials_absent_null_empty_and_list(void **state)
{
	struct profile	*p;

	(void)state;
	p = parse_ok("{\"network\":{}}");
	assert_int_equal(p->net.credentials_state, PROFILE_CREDS_INHERIT);
	assert_false(profile_wants_proxy(p));
	profile_free(p);
	p = parse_ok("{\"network\":{\"credentials\":null}}");
	assert_int_equal(p->net.credentials_state, PROFILE_CREDS_INHERIT);
	profile_free(p);
	p = parse_ok("{\"network\":{\"credentials\":[]}}");
	assert_int_equal(p->net.credentials_state, PROFILE_CREDS_LIST);
	assert_int_equal(p->net.credentials.n, 0);
	assert_false(profile_wants_proxy(p));
	profile_free(p);
	p = parse_ok("{\"network\":{\"credentials\":[\"openai\"]}}");
	assert_int_equal(p->net.credentials_state, PROFILE_CREDS_LIST);
	assert_string_equal(profile_credentials(p)->v[0], "openai");
	assert_true(profile_wants_proxy(p));
	profile_free(p);
}

static void
test_environment_section_parses(void **state)
{
	struct profile	*p;

	(void)state;
	p = parse_ok("{\"environment\":{\"allow_vars\":[\"LANG\",\"LC_*\"],"
	    "\"deny_vars\":[\"AWS_*\"],\"set_vars\":{\"EDITOR\":\"vi\"}}}");
	assert_true(p->environment.allow_vars_set);
	assert_int_equal(p->environment.allow_vars.n, 2);
	assert_string_equal(p->environment.deny_vars.v[0], "AWS_*");
	assert_string_equal(profile_map_get(&p->environment.set_vars,
	    "EDITOR"), "vi");
	profile_free(p);
	p = parse_ok("{\"environment\":{}}");
	assert_false(p->environment.allow_vars_set);
	profile_free(p);
}

static void
test_extends_forms(void **state)
{
	struct profile	*p;

	(void)state;
	p = parse_ok("{\"extends\":\"claude-code\"}");
	assert_int_equal(p->extends.n, 1);
	assert_string_equal(p->extends.v[0], "claude-code");
	profile_free(p);
	p = parse_ok("{\"extends\":[\"a\",\"b\"]}");
	assert_int_equal(p->extends.n, 2);
	profile_free(p);
	p = parse_ok("{\"extends\":[]}");
	assert_int_equal(p->extends.n, 0);
	profile_free(p);
	p = parse_ok("{\"extends\":null}");
	assert_int_equal(p->extends.n, 0);
	profile_free(p);
	parse_fails("{\"extends\":42}", "extends: must be a profile name",
	    NULL);
	parse_fails("{\"extends\":[1,2]}", "extends[0]", NULL);
}

static void
test_hooks_and_other_nono_keys_parse(void **state)
{
	struct profile	*p;

	(void)state;
	p = parse_ok("{\"hooks\":{\"x\":{\"event\":\"E\",\"matcher\":\"M\","
	    "\"script\":\"s.sh\"}},\"open_urls\":{\"allow_origins\":"
	    "[\"https://a\"],\"allow_localhost\":true},"
	    "\"allow_launch_services\":false,\"interactive\":true,"
	    "\"skipdirs\":[\"vendor\"]}");
	assert_int_equal(p->nhooks, 1);
	assert_string_equal(p->hooks[0].script, "s.sh");
	assert_true(p->open_urls.present);
	assert_true(p->open_urls.allow_localhost);
	assert_int_equal(p->allow_launch_services, PROFILE_FALSE);
	assert_true(p->interactive);
	assert_string_equal(p->skipdirs.v[0], "vendor");
	profile_free(p);
	parse_fails("{\"hooks\":{\"x\":{\"event\":\"E\"}}}",
	    "hooks.x: missing field 'matcher'", NULL);
}

static void
test_custom_credential_with_file_uri_round_trips(void **state)
{
	struct profile		*p;
	const struct route_def	*d;

	(void)state;
	p = parse_ok("{\"network\":{\"custom_credentials\":{\"my_service\":"
	    "{\"upstream\":\"https://api.example.com\","
	    "\"credential_key\":\"file:///run/secrets/api-token\","
	    "\"env_var\":\"MY_API_KEY\",\"endpoint_rules\":"
	    "[{\"method\":\"GET\",\"path\":\"/v1/**\"}]}}}}");
	d = profile_custom_credential(p, "my_service");
	assert_non_null(d);
	assert_string_equal(d->upstream, "https://api.example.com");
	assert_string_equal(d->credential_key,
	    "file:///run/secrets/api-token");
	assert_string_equal(d->env_var, "MY_API_KEY");
	assert_string_equal(d->inject_header, "Authorization");
	assert_string_equal(d->credential_format, "Bearer {}");
	assert_int_equal(d->inject_mode, INJECT_HEADER);
	assert_int_equal(d->nrules, 1);
	assert_string_equal(d->rules[0].path, "/v1/**");
	profile_free(p);
}

static void
test_custom_credential_compressed_responses_is_a_boolean(void **state)
{
	struct profile		*p;
	const struct route_def	*d;

	(void)state;
	p = parse_ok("{\"network\":{\"custom_credentials\":{\"a\":"
	    "{\"upstream\":\"https://a.example\",\"credential_key\":\"k\","
	    "\"compressed_responses\":true},\"b\":"
	    "{\"upstream\":\"https://b.example\",\"credential_key\":\"k\""
	    "}}}}");
	d = profile_custom_credential(p, "a");
	assert_non_null(d);
	assert_true(d->compressed_responses);
	d = profile_custom_credential(p, "b");
	assert_non_null(d);
	assert_false(d->compressed_responses);
	profile_free(p);
	parse_fails("{\"network\":{\"custom_credentials\":{\"s\":"
	    "{\"upstream\":\"https://a.example\",\"credential_key\":\"k\","
	    "\"compressed_responses\":\"yes\"}}}}",
	    "network.custom_credentials.s.compressed_responses: must be true "
	    "or false", NULL);
}

static void
test_endpoint_rules_need_method_and_path(void **state)
{
	(void)state;
	parse_fails("{\"network\":{\"custom_credentials\":{\"s\":"
	    "{\"upstream\":\"https://a.example\",\"credential_key\":\"k\","
	    "\"endpoint_rules\":[{\"method\":\"GET\"}]}}}}",
	    "network.custom_credentials.s.endpoint_rules[0]: missing field "
	    "'path'", NULL);
	parse_fails("{\"network\":{\"custom_credentials\":{\"s\":"
	    "{\"upstream\":\"https://a.example\",\"credential_key\":\"k\","
	    "\"endpoint_rules\":[{\"method\":1,\"path\":\"/\"}]}}}}",
	    "endpoint_rules[0].method: must be a string", NULL);
}

static void
test_semantic_error_points_at_the_value(void **state)
{
	(void)state;
	parse_fails("{\n"
	    "  \"network\": {\n"
	    "    \"custom_credentials\": {\n"
	    "      \"gitlab\": {\n"
	    "        \"upstream\": \"http://gitlab.example.com\",\n"
	    "        \"credential_key\": \"gitlab_token\"\n"
	    "      }\n"
	    "    }\n"
	    "  }\n"
	    "}\n",
	    "profile t.json: line 5 column 21: "
	    "network.custom_credentials.gitlab.upstream: must be HTTPS "
	    "(plain http only for loopback)", NULL);
}

static void
test_profile_file_errors_name_the_file(void **state)
{
	char	*path;

	(void)state;
	path = put(tmp, "bad.json", "{\"network\":{\"block\":\"yes\"}}");
	load_fails(path, path, "network.block: must be true or false");
	free(path);
}

/* ---- extends ---- */

static void
test_extends_builtin_profile(void **state)
{
	struct profile	*p;
	char		*path;

	(void)state;
	path = put(tmp, "ext.json", "{\"extends\":\"claude-code\","
	    "\"meta\":{\"name\":\"ext-test\"},"
	    "\"filesystem\":{\"allow\":[\"/tmp/ext-test\"]}}");
	p = load_ok(path);
	assert_string_equal(p->meta.name, "ext-test");
	assert_true(p->fs.allow.n > 1);
	assert_true(strv_contains(&p->fs.allow, "/tmp/ext-test"));
	assert_true(strv_contains(&p->fs.allow, "$HOME/.claude"));
	assert_int_equal(p->extends.n, 0);
	assert_int_equal(p->workdir, PROFILE_WORKDIR_READWRITE);
	profile_free(p);
	free(path);
}

static void
test_extends_user_profiles_three_levels(void **state)
{
	struct profile	*p;

	(void)state;
	user_profile("b-profile", "{\"extends\":\"claude-code\","
	    "\"meta\":{\"name\":\"b-profile\"},"
	    "\"filesystem\":{\"allow\":[\"/b/path\"]},"
	    "\"network\":{\"block\":true}}");
	user_profile("a-profile", "{\"extends\":\"b-profile\","
	    "\"meta\":{\"name\":\"a-profile\"},"
	    "\"filesystem\":{\"allow\":[\"/a/path\"]}}");
	p = load_ok("a-profile");
	assert_string_equal(p->meta.name, "a-profile");
	assert_true(strv_contains(&p->fs.allow, "/a/path"));
	assert_true(strv_contains(&p->fs.allow, "/b/path"));
	assert_true(strv_contains(&p->fs.allow, "$HOME/.claude"));
	assert_true(p->net.block);
	profile_free(p);
}

static void
test_extends_missing_base_is_not_found(void **state)
{
	(void)state;
	user_profile("orphan", "{\"extends\":\"nonexistent-profile-xyz\"}");
	load_fails("orphan", "base profile 'nonexistent-profile-xyz' not found",
	    NULL);
}

static void
test_extends_empty_name_rejected(void **state)
{
	(void)state;
	user_profile("empty-base", "{\"extends\":[\"\"]}");
	load_fails("empty-base", "invalid base profile name ''", NULL);
}

static void
test_extends_path_rejected(void **state)
{
	(void)state;
	user_profile("by-path", "{\"extends\":\"./base.json\"}");
	load_fails("by-path", "invalid base profile name './base.json'",
	    NULL);
}

static void
test_extends_cycle_reports_chain(void **state)
{
	(void)state;
	user_profile("a", "{\"extends\":\"b\"}");
	user_profile("b", "{\"extends\":\"a\"}");
	load_fails("a", "circular dependency: a -> b -> a", NULL);
	/* The position of the "extends" value in b.json. */
	load_fails("a", "b.json: line 1 column 12: extends: circular", NULL);
}

static void
test_extends_self_reference_is_a_cycle(void **state)
{
	(void)state;
	user_profile("self-ref", "{\"extends\":\"self-ref\"}");
	load_fails("self-ref", "circular dependency: self-ref -> self-ref",
	    NULL);
}

static void
test_user_file_extending_its_own_builtin_name_is_a_cycle(void **state)
{
	(void)state;
	user_profile("codex", "{\"extends\":\"codex\"}");
	load_fails("codex", "circular", NULL);
}

/* A chain p0 -> p1 -> ... -> p<n>, the last without extends. */
static void
make_chain(int n)
{
	char	name[16], text[128];
	int	i;

	for (i = 0; i <= n; i++) {
		snprintf(name, sizeof(name), "p%d", i);
		if (i < n)
			snprintf(text, sizeof(text), "{\"extends\":\"p%d\","
			    "\"filesystem\":{\"read\":[\"/p%d\"]}}", i + 1, i);
		else
			snprintf(text, sizeof(text),
			    "{\"filesystem\":{\"read\":[\"/p%d\"]}}", i);
		user_profile(name, text);
	}
}

static void
test_extends_ten_levels_is_allowed(void **state)
{
	struct profile	*p;

	(void)state;
	make_chain(10);
	p = load_ok("p0");
	assert_int_equal(p->fs.read.n, 11);
	assert_string_equal(p->fs.read.v[0], "/p10");
	assert_string_equal(p->fs.read.v[10], "/p0");
	profile_free(p);
}

static void
test_extends_eleven_levels_is_too_deep(void **state)
{
	(void)state;
	make_chain(11);
	load_fails("p0", "inheritance chain too deep (max 10): p0 -> p1 -> "
	    "p2 -> p3 -> p4 -> p5 -> p6 -> p7 -> p8 -> p9 -> p10 -> p11",
	    NULL);
}

static void
test_extends_multiple_bases_fold_left_to_right(void **state)
{
	struct profile	*p;

	(void)state;
	user_profile("base-a", "{\"meta\":{\"name\":\"a\"},"
	    "\"security\":{\"groups\":[\"node_runtime\"]},"
	    "\"filesystem\":{\"allow\":[\"/a/path\"]},"
	    "\"network\":{\"network_profile\":\"net-a\"},"
	    "\"workdir\":{\"access\":\"read\"},\"interactive\":false}");
	user_profile("base-b", "{\"meta\":{\"name\":\"b\"},"
	    "\"security\":{\"groups\":[\"rust_runtime\"]},"
	    "\"filesystem\":{\"allow\":[\"/b/path\"],\"read\":[\"/b/read\"]},"
	    "\"network\":{\"network_profile\":\"net-b\"},"
	    "\"workdir\":{\"access\":\"readwrite\"},\"interactive\":true}");
	user_profile("multi", "{\"extends\":[\"base-a\",\"base-b\"],"
	    "\"meta\":{\"name\":\"child\"},"
	    "\"filesystem\":{\"allow\":[\"/child/path\"]}}");
	p = load_ok("multi");
	assert_string_equal(p->meta.name, "child");
	assert_string_equal(p->fs.allow.v[0], "/a/path");
	assert_string_equal(p->fs.allow.v[1], "/b/path");
	assert_string_equal(p->fs.allow.v[2], "/child/path");
	assert_string_equal(p->fs.read.v[0], "/b/read");
	assert_true(strv_contains(&p->groups, "node_runtime"));
	assert_true(strv_contains(&p->groups, "rust_runtime"));
	assert_string_equal(p->net.network_profile, "net-b");
	assert_int_equal(p->workdir, PROFILE_WORKDIR_READWRITE);
	assert_true(p->interactive);
	profile_free(p);
}

static void
test_extends_duplicate_base_resolves(void **state)
{
	struct profile	*p;

	(void)state;
	user_profile("dup", "{\"meta\":{\"name\":\"dup\"},"
	    "\"extends\":[\"claude-code\",\"claude-code\"]}");
	p = load_ok("dup");
	assert_string_equal(p->meta.name, "dup");
	profile_free(p);
}

static void
test_extends_builtin_default_in_a_list(void **state)
{
	struct profile	*p;
	char		*path;

	(void)state;
	path = put(tmp, "m.json", "{\"extends\":[\"default\"],"
	    "\"meta\":{\"name\":\"multi-ext\"},"
	    "\"filesystem\":{\"allow\":[\"/tmp/multi-ext\"]}}");
	p = load_ok(path);
	assert_string_equal(p->meta.name, "multi-ext");
	assert_true(strv_contains(&p->fs.allow, "/tmp/multi-ext"));
	profile_free(p);
	free(path);
}

static void
test_extends_two_builtins_sharing_default(void **state)
{
	struct profile	*p;

	(void)state;
	user_profile("both", "{\"meta\":{\"name\":\"both\"},"
	    "\"extends\":[\"claude-code\",\"opencode\"]}");
	p = load_ok("both");
	assert_string_equal(p->meta.name, "both");
	assert_true(strv_contains(&p->fs.allow, "$HOME/.claude"));
	assert_true(strv_contains(&p->fs.allow, "$HOME/.opencode"));
	profile_free(p);
}

/* D <- A, D <- B, C extends [A, B]: D merged once (SPEC §8). */
static void
test_shared_base_is_merged_once(void **state)
{
	struct profile	*p;

	(void)state;
	user_profile("d", "{\"network\":{\"network_profile\":\"d\"},"
	    "\"workdir\":{\"access\":\"readwrite\"}}");
	user_profile("a", "{\"extends\":\"d\","
	    "\"network\":{\"network_profile\":\"a\"},"
	    "\"workdir\":{\"access\":\"read\"}}");
	user_profile("b", "{\"extends\":\"d\"}");
	user_profile("c", "{\"extends\":[\"a\",\"b\"]}");
	p = load_ok("c");
	/* nono re-merged D through B and got "d" / readwrite. */
	assert_string_equal(p->net.network_profile, "a");
	assert_int_equal(p->workdir, PROFILE_WORKDIR_READ);
	profile_free(p);
}

static void
test_extends_null_network_profile_clears_builtin(void **state)
{
	struct profile	*p;
	char		*path;

	(void)state;
	path = put(tmp, "np.json", "{\"extends\":\"python-dev\","
	    "\"meta\":{\"name\":\"np\"},"
	    "\"network\":{\"network_profile\":null}}");
	p = load_ok(path);
	assert_int_equal(p->net.network_profile_state, PROFILE_NETPROF_CLEAR);
	assert_false(profile_wants_proxy(p));
	assert_true(strv_contains(&p->groups, "python_runtime"));
	profile_free(p);
	free(path);
	p = load_ok("python-dev");
	assert_string_equal(p->net.network_profile, "developer");
	assert_true(profile_wants_proxy(p));
	profile_free(p);
}

/* ---- credentials three-state through extends ---- */

static void
creds_case(const char *child_creds, size_t n, const char *first)
{
	struct profile	*p;
	char		*text;

	user_profile("cbase", "{\"network\":{\"credentials\":[\"base_cred\"]}}");
	text = xasprintf("{\"extends\":\"cbase\",\"network\":{%s}}",
	    child_creds);
	user_profile("cchild", text);
	free(text);
	p = load_ok("cchild");
	assert_int_equal(profile_credentials(p)->n, n);
	if (first != NULL)
		assert_string_equal(profile_credentials(p)->v[0], first);
	profile_free(p);
}

static void
test_credentials_absent_child_inherits_one_level(void **state)
{
	(void)state;
	creds_case("", 1, "base_cred");
}

static void
test_credentials_null_child_inherits_one_level(void **state)
{
	(void)state;
	creds_case("\"credentials\":null", 1, "base_cred");
}

static void
test_credentials_empty_child_clears_one_level(void **state)
{
	struct profile	*p;

	(void)state;
	creds_case("\"credentials\":[]", 0, NULL);
	p = load_ok("cchild");
	assert_int_equal(p->net.credentials_state, PROFILE_CREDS_LIST);
	assert_false(profile_wants_proxy(p));
	profile_free(p);
}

static void
test_credentials_list_child_appends_one_level(void **state)
{
	struct profile	*p;

	(void)state;
	creds_case("\"credentials\":[\"child_cred\",\"base_cred\"]", 2,
	    "base_cred");
	p = load_ok("cchild");
	assert_string_equal(p->net.credentials.v[1], "child_cred");
	profile_free(p);
}

static void
test_credentials_two_levels(void **state)
{
	struct profile	*p;

	(void)state;
	user_profile("g", "{\"network\":{\"credentials\":[\"g\"]}}");
	/* parent clears, child absent: stays cleared */
	user_profile("par", "{\"extends\":\"g\","
	    "\"network\":{\"credentials\":[]}}");
	user_profile("kid", "{\"extends\":\"par\"}");
	p = load_ok("kid");
	assert_int_equal(p->net.credentials_state, PROFILE_CREDS_LIST);
	assert_int_equal(p->net.credentials.n, 0);
	profile_free(p);
	/* parent clears, child adds: only the child's */
	user_profile("kid", "{\"extends\":\"par\","
	    "\"network\":{\"credentials\":[\"c\"]}}");
	p = load_ok("kid");
	assert_int_equal(p->net.credentials.n, 1);
	assert_string_equal(p->net.credentials.v[0], "c");
	profile_free(p);
	/* parent absent, child adds: grandparent's plus the child's */
	user_profile("par", "{\"extends\":\"g\"}");
	p = load_ok("kid");
	assert_int_equal(p->net.credentials.n, 2);
	assert_string_equal(p->net.credentials.v[0], "g");
	assert_string_equal(p->net.credentials.v[1], "c");
	profile_free(p);
	/* parent absent, child absent: inherited from the grandparent */
	user_profile("kid", "{\"extends\":\"par\"}");
	p = load_ok("kid");
	assert_int_equal(p->net.credentials.n, 1);
	profile_free(p);
}

static void
test_credentials_shared_ancestor_merged_once(void **state)
{
	struct profile	*p;

	(void)state;
	user_profile("d", "{\"network\":{\"credentials\":[\"x\"]}}");
	user_profile("a", "{\"extends\":\"d\","
	    "\"network\":{\"credentials\":[]}}");
	user_profile("b", "{\"extends\":\"d\"}");
	user_profile("c", "{\"extends\":[\"a\",\"b\"]}");
	p = load_ok("c");
	/* nono re-asserted ["x"] through b; D counts once here. */
	assert_int_equal(p->net.credentials_state, PROFILE_CREDS_LIST);
	assert_int_equal(p->net.credentials.n, 0);
	profile_free(p);
	user_profile("b", "{\"extends\":\"d\","
	    "\"network\":{\"credentials\":[\"y\"]}}");
	p = load_ok("c");
	assert_int_equal(p->net.credentials.n, 1);
	assert_string_equal(p->net.credentials.v[0], "y");
	profile_free(p);
}

/* ---- show ---- */

static void
test_show_json_round_trips_and_keeps_credential_states(void **state)
{
	struct errbuf	 e = { { 0 } };
	struct profile	*p, *q;
	char		*js, *js2;

	(void)state;
	p = parse_ok("{\"meta\":{\"name\":\"r\"},\"network\":{"
	    "\"credentials\":[],\"network_profile\":null,"
	    "\"proxy_allow\":[\"a.example\"],\"open_port\":[8080]}}");
	js = profile_show_json(p);
	assert_non_null(strstr(js, "\"credentials\": []"));
	assert_non_null(strstr(js, "\"network_profile\": null"));
	assert_non_null(strstr(js, "\"allow_domain\""));
	q = profile_parse_bytes(js, strlen(js), "shown", &e);
	if (q == NULL)
		fail_msg("%s", errbuf_msg(&e));
	js2 = profile_show_json(q);
	assert_string_equal(js, js2);
	free(js);
	free(js2);
	profile_free(p);
	profile_free(q);
	p = parse_ok("{\"network\":{}}");
	js = profile_show_json(p);
	assert_non_null(strstr(js, "\"credentials\": null"));
	assert_null(strstr(js, "network_profile"));
	free(js);
	profile_free(p);
}

static void
test_show_text_mentions_name_and_groups(void **state)
{
	struct profile	*p;
	char		*s;

	(void)state;
	p = load_ok("claude-code");
	s = profile_show_text(p);
	assert_non_null(strstr(s, "Profile claude-code"));
	assert_non_null(strstr(s, "deny_credentials"));
	assert_non_null(strstr(s, "workdir: readwrite"));
	free(s);
	profile_free(p);
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_profile_names_are_alphanumeric_with_inner_hyphens),
		T(test_load_builtin_claude_code_by_name),
		T(test_load_nonexistent_name_is_not_found),
		T(test_load_invalid_name_is_refused),
		T(test_load_from_path_adds_default_groups),
		T(test_load_value_ending_in_json_is_a_path),
		T(test_load_from_missing_path_fails),
		T(test_user_dir_shadows_builtin),
		T(test_nono_user_dir_is_searched_after_keyhole_dir),
		T(test_search_dirs_fall_back_on_relative_xdg),
		T(test_search_dirs_use_canonical_absolute_xdg),
		T(test_list_has_builtins_and_user_files),
		T(test_schema_key_is_ignored),
		T(test_schema_key_below_top_level_is_unknown),
		T(test_unknown_top_level_key_rejected_with_position),
		T(test_unknown_nested_key_rejected),
		T(test_syntax_error_reports_line_and_column),
		T(test_duplicate_key_rejected),
		T(test_alias_and_canonical_together_rejected),
		T(test_network_aliases_accepted),
		T(test_secrets_and_undo_aliases_accepted),
		T(test_ports_must_be_integers_in_range),
		T(test_open_port_list_is_deduplicated),
		T(test_null_is_refused_for_lists_and_sections),
		T(test_type_errors_name_the_key_path),
		T(test_meta_name_required_when_meta_present),
		T(test_meta_absent_gives_empty_name),
		T(test_security_modes_parse),
		T(test_security_mode_unknown_variant_rejected),
		T(test_allowed_commands_parse_exactly),
		T(test_workdir_access_values),
		T(test_env_credentials_parse_and_default_empty),
		T(test_policy_lists_parse_exactly),
		T(test_network_profile_absent_null_and_value),
		T(test_credentials_absent_null_empty_and_list),
		T(test_environment_section_parses),
		T(test_extends_forms),
		T(test_hooks_and_other_nono_keys_parse),
		T(test_custom_credential_with_file_uri_round_trips),
		T(test_custom_credential_compressed_responses_is_a_boolean),
		T(test_endpoint_rules_need_method_and_path),
		T(test_semantic_error_points_at_the_value),
		T(test_profile_file_errors_name_the_file),
		T(test_extends_builtin_profile),
		T(test_extends_user_profiles_three_levels),
		T(test_extends_missing_base_is_not_found),
		T(test_extends_empty_name_rejected),
		T(test_extends_path_rejected),
		T(test_extends_cycle_reports_chain),
		T(test_extends_self_reference_is_a_cycle),
		T(test_user_file_extending_its_own_builtin_name_is_a_cycle),
		T(test_extends_ten_levels_is_allowed),
		T(test_extends_eleven_levels_is_too_deep),
		T(test_extends_multiple_bases_fold_left_to_right),
		T(test_extends_duplicate_base_resolves),
		T(test_extends_builtin_default_in_a_list),
		T(test_extends_two_builtins_sharing_default),
		T(test_shared_base_is_merged_once),
		T(test_extends_null_network_profile_clears_builtin),
		T(test_credentials_absent_child_inherits_one_level),
		T(test_credentials_null_child_inherits_one_level),
		T(test_credentials_empty_child_clears_one_level),
		T(test_credentials_list_child_appends_one_level),
		T(test_credentials_two_levels),
		T(test_credentials_shared_ancestor_merged_once),
		T(test_show_json_round_trips_and_keeps_credential_states),
		T(test_show_text_mentions_name_and_groups),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
