#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "profile/builtin_data.h"
#include "profile/profile.h"
#include "util/xmalloc.h"

/*
 * Built-in profiles and policy groups (nono-profile.md §6, §8, §3.6,
 * §9.2).  HOME points at an empty temporary directory so no user profile
 * shadows a built-in.
 */

static char		 home[64];
static struct profile_env env;

static int
setup(void **state)
{
	(void)state;
	snprintf(home, sizeof(home), "/tmp/kh-profile-builtin-XXXXXX");
	if (mkdtemp(home) == NULL)
		return -1;
	memset(&env, 0, sizeof(env));
	env.home = home;
	env.uid = 1000;
	return 0;
}

static int
teardown(void **state)
{
	char	*cmd;

	(void)state;
	cmd = xasprintf("rm -rf '%s'", home);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup of %s failed\n", home);
	free(cmd);
	return 0;
}

static struct profile *
load(const char *name)
{
	struct errbuf	 e = { { 0 } };
	struct profile	*p;

	p = profile_load(name, &env, &e);
	if (p == NULL)
		fail_msg("load %s: %s", name, errbuf_msg(&e));
	return p;
}

static struct profile *
load_json(const char *json, struct errbuf *e)
{
	return profile_load_bytes(json, strlen(json), "t.json", &env, e);
}

static const char *const default_groups[] = {
	"deny_credentials", "deny_keychains_macos", "deny_keychains_linux",
	"deny_browser_data_macos", "deny_browser_data_linux",
	"deny_macos_private", "deny_shell_history", "deny_shell_configs",
	"system_read_macos", "system_read_linux_core", "system_tools_linux",
	"git_config", "system_write_macos", "system_write_linux", "user_tools", "homebrew", "dangerous_commands",
	"dangerous_commands_macos", "dangerous_commands_linux", NULL
};

static const char *const all_builtins[] = {
	"default", "linux-host-compat", "claude-code", "codex", "opencode",
	"openclaw", "swival", "python-dev", "node-dev", "rust-dev", "go-dev",
	NULL
};

static void
test_builtin_claude_code(void **state)
{
	struct profile	*p;

	(void)state;
	p = load("claude-code");
	assert_string_equal(p->meta.name, "claude-code");
	assert_false(p->net.block);
	assert_int_equal(p->workdir, PROFILE_WORKDIR_READWRITE);
	assert_true(p->groups.n > 0);
	assert_true(strv_contains(&p->groups, "deny_credentials"));
	assert_true(strv_contains(&p->fs.allow, "$HOME/.claude"));
	assert_true(strv_contains(&p->fs.allow_file, "$HOME/.claude.json"));
	/* ... which a group creates when missing (SPEC 7). */
	assert_true(strv_contains(&p->groups, "claude_code_state_linux"));
	assert_int_equal(p->security.capability_elevation, PROFILE_FALSE);
	assert_true(p->interactive);
	profile_free(p);
}

static void
test_builtin_default(void **state)
{
	struct profile	*p;

	(void)state;
	p = load("default");
	assert_string_equal(p->meta.name, "default");
	assert_int_equal(p->workdir, PROFILE_WORKDIR_NONE);
	assert_false(p->interactive);
	assert_false(p->net.block);
	profile_free(p);
}

static void
test_builtin_claude_code_lists_both_platform_groups(void **state)
{
	struct profile	*p;

	(void)state;
	p = load("claude-code");
	assert_true(strv_contains(&p->groups, "claude_code_macos"));
	assert_true(strv_contains(&p->groups, "claude_code_linux"));
	assert_true(strv_contains(&p->groups, "vscode_macos"));
	assert_true(strv_contains(&p->groups, "vscode_linux"));
	assert_false(strv_contains(&p->fs.read, "$HOME/.local/share/claude"));
	profile_free(p);
}

static void
test_builtin_openclaw(void **state)
{
	struct profile	*p;

	(void)state;
	p = load("openclaw");
	assert_false(p->net.block);
	assert_true(strv_contains(&p->fs.allow, "$HOME/.openclaw"));
	assert_int_equal(p->workdir, PROFILE_WORKDIR_READ);
	profile_free(p);
}

static void
test_builtin_codex(void **state)
{
	struct profile	*p;
	static const char *const g[] = {
		"codex_macos", "codex_state_linux", "node_runtime",
		"rust_runtime", "python_runtime", "nix_runtime",
		"unlink_protection"
	};
	size_t		 i;

	(void)state;
	p = load("codex");
	assert_int_equal(p->workdir, PROFILE_WORKDIR_READWRITE);
	assert_true(p->interactive);
	assert_true(strv_contains(&p->fs.allow, "$HOME/.codex"));
	for (i = 0; i < sizeof(g) / sizeof(g[0]); i++)
		assert_true(strv_contains(&p->groups, g[i]));
	profile_free(p);
}

static void
test_builtin_opencode(void **state)
{
	struct profile	*p;

	(void)state;
	p = load("opencode");
	assert_int_equal(p->workdir, PROFILE_WORKDIR_READWRITE);
	assert_true(p->interactive);
	assert_true(strv_contains(&p->fs.allow, "$HOME/.opencode"));
	assert_true(strv_contains(&p->fs.allow, "$HOME/.local/share/opentui"));
	profile_free(p);
}

static void
test_builtin_swival(void **state)
{
	struct profile	*p;

	(void)state;
	p = load("swival");
	assert_int_equal(p->workdir, PROFILE_WORKDIR_READWRITE);
	assert_true(p->interactive);
	assert_false(p->net.block);
	assert_true(strv_contains(&p->fs.allow, "$HOME/.config/swival"));
	assert_true(strv_contains(&p->groups, "python_runtime"));
	assert_true(strv_contains(&p->groups, "unlink_protection"));
	profile_free(p);
}

static void
test_builtin_dev_profiles_use_developer_network(void **state)
{
	static const char *const dev[] = {
		"python-dev", "node-dev", "rust-dev", "go-dev"
	};
	struct profile	*p;
	size_t		 i;

	(void)state;
	for (i = 0; i < 4; i++) {
		p = load(dev[i]);
		assert_int_equal(p->net.network_profile_state,
		    PROFILE_NETPROF_SET);
		assert_string_equal(p->net.network_profile, "developer");
		assert_int_equal(p->workdir, PROFILE_WORKDIR_READWRITE);
		profile_free(p);
	}
	p = load("python-dev");
	assert_int_equal(p->security.ipc_mode, PROFILE_IPC_FULL);
	profile_free(p);
}

static void
test_builtin_nonexistent_is_null(void **state)
{
	(void)state;
	assert_null(profile_builtin_get("nonexistent"));
}

static void
test_builtin_list_has_every_profile(void **state)
{
	struct strv	names = { 0 };
	size_t		i;

	(void)state;
	profile_builtin_names(&names);
	for (i = 0; all_builtins[i] != NULL; i++)
		assert_true(strv_contains(&names, all_builtins[i]));
	assert_int_equal(names.n, 11);
	strv_free(&names);
}

static void
test_builtin_group_merging(void **state)
{
	struct profile	*p;

	(void)state;
	p = load("claude-code");
	assert_true(strv_contains(&p->groups, "deny_credentials"));
	assert_true(strv_contains(&p->groups, "node_runtime"));
	assert_true(strv_contains(&p->groups, "rust_runtime"));
	assert_true(strv_contains(&p->groups, "unlink_protection"));
	profile_free(p);
}

static void
test_default_groups_appear_in_openclaw(void **state)
{
	struct profile	*d, *o;
	size_t		 i;

	(void)state;
	d = load("default");
	o = load("openclaw");
	for (i = 0; i < d->groups.n; i++)
		assert_true(strv_contains(&o->groups, d->groups.v[i]));
	profile_free(d);
	profile_free(o);
}

static void
test_default_group_set_is_explicit(void **state)
{
	const struct strv	*dg = profile_builtin_default_groups();
	size_t			 i;

	(void)state;
	for (i = 0; default_groups[i] != NULL; i++)
		assert_true(strv_contains(dg, default_groups[i]));
	assert_int_equal(dg->n, i);
}

static void
test_embedded_profiles_extend_default(void **state)
{
	struct profile	*p;
	size_t		 i;

	(void)state;
	for (i = 0; all_builtins[i] != NULL; i++) {
		p = profile_builtin_get(all_builtins[i]);
		assert_non_null(p);
		if (strcmp(all_builtins[i], "default") == 0)
			assert_int_equal(p->extends.n, 0);
		else {
			assert_int_equal(p->extends.n, 1);
			assert_string_equal(p->extends.v[0], "default");
			assert_int_equal(p->security.signal_mode,
			    PROFILE_PROC_ISOLATED);
		}
		profile_free(p);
	}
}

static void
test_linux_host_compat_groups(void **state)
{
	struct profile	*p;

	(void)state;
	p = load("linux-host-compat");
	assert_true(strv_contains(&p->groups, "linux_runtime_state"));
	assert_true(strv_contains(&p->groups, "linux_sysfs_read"));
	assert_true(strv_contains(&p->groups, "linux_temp_read"));
	profile_free(p);
}

static void
test_interactive_profiles_have_sysfs_not_runtime_or_temp(void **state)
{
	static const char *const names[] = {
		"claude-code", "codex", "opencode", "swival"
	};
	struct profile	*p;
	size_t		 i;

	(void)state;
	for (i = 0; i < 4; i++) {
		p = load(names[i]);
		assert_true(strv_contains(&p->groups, "linux_sysfs_read"));
		assert_false(strv_contains(&p->groups, "linux_runtime_state"));
		assert_false(strv_contains(&p->groups, "linux_temp_read"));
		profile_free(p);
	}
}

static void
test_every_builtin_expands_its_linux_groups(void **state)
{
	struct errbuf			e = { { 0 } };
	struct profile			*p;
	struct strv			g = { 0 };
	struct profile_group_paths	gp;
	size_t				i;

	(void)state;
	for (i = 0; all_builtins[i] != NULL; i++) {
		p = load(all_builtins[i]);
		memset(&gp, 0, sizeof(gp));
		assert_int_equal(profile_effective_groups(p, &g, &e), 0);
		assert_false(strv_contains(&g, "system_read_macos"));
		assert_true(strv_contains(&g, "system_read_linux_core"));
		if (profile_groups_expand(&g, &env, &gp, &e) == -1)
			fail_msg("%s: %s", all_builtins[i], errbuf_msg(&e));
		assert_true(gp.ngrants > 0);
		assert_true(gp.deny_access.n > 0);
		profile_group_paths_free(&gp);
		strv_free(&g);
		profile_free(p);
	}
}

static void
test_group_grants_are_expanded_with_access(void **state)
{
	struct errbuf			 e = { { 0 } };
	struct strv			 g = { 0 };
	struct profile_group_paths	 gp;
	char				*want;
	size_t				 i, n;
	bool				 found = false;

	(void)state;
	memset(&gp, 0, sizeof(gp));
	env.tmpdir = "/var/tmp/";
	strv_push(&g, "system_write_linux");
	strv_push(&g, "user_caches_linux");
	strv_push(&g, "deny_credentials");
	strv_push(&g, "dangerous_commands");
	strv_push(&g, "homebrew");		/* macOS: skipped */
	assert_int_equal(profile_groups_expand(&g, &env, &gp, &e), 0);
	want = xasprintf("%s/.cache", home);
	for (i = 0; i < gp.ngrants; i++) {
		if (strcmp(gp.grants[i].path, want) == 0) {
			assert_int_equal(gp.grants[i].access, FS_READWRITE);
			assert_string_equal(gp.grants[i].group,
			    "user_caches_linux");
			found = true;
		}
		assert_string_not_equal(gp.grants[i].path, "/opt/homebrew");
	}
	assert_true(found);
	assert_int_equal(gp.grants[0].access, FS_WRITE);
	assert_string_equal(gp.grants[gp.ngrants - 2].path, "/var/tmp");
	free(want);
	want = xasprintf("%s/.ssh", home);
	assert_true(strv_contains(&gp.deny_access, want));
	free(want);
	assert_true(strv_contains(&gp.deny_commands, "rm"));
	/* Without the commands (no_commands): the same paths, no commands. */
	n = gp.ngrants;
	profile_group_paths_free(&gp);
	memset(&gp, 0, sizeof(gp));
	gp.no_commands = true;
	assert_int_equal(profile_groups_expand(&g, &env, &gp, &e), 0);
	assert_int_equal(gp.ngrants, n);
	assert_int_equal(gp.deny_commands.n, 0);
	want = xasprintf("%s/.ssh", home);
	assert_true(strv_contains(&gp.deny_access, want));
	free(want);
	profile_group_paths_free(&gp);
	strv_free(&g);
}

static void
test_state_and_cache_groups_mark_what_to_create(void **state)
{
	struct errbuf			 e = { { 0 } };
	struct strv			 g = { 0 };
	struct profile_group_paths	 gp;
	char				*file, *dir, *npm;
	size_t				 i, seen = 0;

	(void)state;
	memset(&gp, 0, sizeof(gp));
	strv_push(&g, "claude_code_state_linux");
	strv_push(&g, "npm_cache");
	strv_push(&g, "node_runtime");
	assert_int_equal(profile_groups_expand(&g, &env, &gp, &e), 0);
	file = xasprintf("%s/.claude.json", home);
	dir = xasprintf("%s/.claude", home);
	npm = xasprintf("%s/.npm", home);
	for (i = 0; i < gp.ngrants; i++) {
		const struct profile_grant *gr = &gp.grants[i];

		if (strcmp(gr->path, file) == 0) {
			assert_int_equal(gr->create, PROFILE_CREATE_FILE);
			assert_int_equal(gr->access, FS_READWRITE);
			seen++;
		} else if (strcmp(gr->path, dir) == 0) {
			assert_int_equal(gr->create, PROFILE_CREATE_DIR);
			seen++;
		} else if (strcmp(gr->path, npm) == 0 &&
		    strcmp(gr->group, "npm_cache") == 0) {
			assert_int_equal(gr->create, PROFILE_CREATE_DIR);
			assert_int_equal(gr->access, FS_READWRITE);
			seen++;
		} else
			/* node_runtime's read of ~/.npm creates nothing. */
			assert_int_equal(gr->create, PROFILE_CREATE_NONE);
	}
	assert_int_equal(seen, 3);
	free(file);
	free(dir);
	free(npm);
	profile_group_paths_free(&gp);
	strv_free(&g);
}

static void
test_builtin_group_lookup(void **state)
{
	const struct profile_group	*g;

	(void)state;
	g = profile_builtin_group("deny_credentials");
	assert_non_null(g);
	assert_true(g->required);
	assert_null(g->platform);
	assert_true(strv_contains(&g->deny_access, "~/.ssh"));
	g = profile_builtin_group("deny_shell_configs");
	assert_true(g->required);
	g = profile_builtin_group("deny_keychains_macos");
	assert_string_equal(g->platform, "macos");
	g = profile_builtin_group("dangerous_commands");
	assert_false(g->required);
	assert_null(profile_builtin_group("nope"));
	assert_null(profile_builtin_group(""));
	assert_null(profile_builtin_group("deny_credential"));
	assert_null(profile_builtin_group("deny_credentialsx"));
	assert_null(profile_builtin_group("Deny_credentials"));
}

/* Every group is found by its name, and only by it. */
static void
test_builtin_every_group_found_by_its_name(void **state)
{
	const struct profile_group	*g;
	char				 name[128];
	size_t				 i;

	(void)state;
	for (i = 0; i < profile_builtin_ngroups; i++) {
		g = &profile_builtin_groups[i];
		assert_ptr_equal(profile_builtin_group(g->name), g);
		snprintf(name, sizeof(name), "%s_", g->name);
		assert_null(profile_builtin_group(name));
	}
}

/*
 * The groups are compiled into C at build time (scripts/policygen.py)
 * and the profiles are parsed from spans the generator found: what is
 * compiled in must be exactly what parsing data/policy.json gives.  The
 * reference below is the run-time parser the generator replaced: each
 * list keeps the first occurrence of each string, in order.
 */
static void
assert_list_is_json(const struct strv *got, json_t *obj, const char *key)
{
	struct strv	 want = { 0 };
	json_t		*a, *it;
	size_t		 i;

	a = json_object_get(obj, key);
	if (a != NULL) {
		assert_true(json_is_array(a));
		json_array_foreach(a, i, it) {
			assert_true(json_is_string(it));
			strv_push_unique(&want, json_string_value(it));
		}
	}
	assert_int_equal(got->n, want.n);
	for (i = 0; i < want.n; i++)
		assert_string_equal(got->v[i], want.v[i]);
	if (got->n > 0)
		assert_null(got->v[got->n]);
	strv_free(&want);
}

static void
assert_opt_string_is_json(const char *got, json_t *obj, const char *key)
{
	json_t	*v = json_object_get(obj, key);

	if (v == NULL) {
		assert_null(got);
		return;
	}
	assert_non_null(got);
	assert_string_equal(got, json_string_value(v));
}

static void
test_builtin_compiled_groups_equal_the_parsed_json(void **state)
{
	const struct profile_group	*g;
	struct strv			 names = { 0 };
	json_error_t			 je;
	json_t				*root, *groups, *v, *a, *d, *c;
	const char			*name;
	size_t				 i = 0;

	(void)state;
	root = json_loadb(data_policy_json, data_policy_json_len,
	    JSON_REJECT_DUPLICATES, &je);
	assert_non_null(root);
	groups = json_object_get(root, "groups");
	profile_builtin_group_names(&names);
	assert_int_equal(names.n, json_object_size(groups));
	assert_int_equal(profile_builtin_ngroups, names.n);
	json_object_foreach(groups, name, v) {
		/* Data order, as `keyhole policy` lists them. */
		assert_string_equal(names.v[i], name);
		g = profile_builtin_group(name);
		assert_ptr_equal(g, &profile_builtin_groups[i]);
		i++;
		assert_string_equal(g->name, name);
		assert_opt_string_is_json(g->description, v, "description");
		assert_opt_string_is_json(g->platform, v, "platform");
		assert_opt_string_is_json(g->agent, v, "agent");
		assert_int_equal(g->required,
		    json_is_true(json_object_get(v, "required")));
		a = json_object_get(v, "allow");
		assert_list_is_json(&g->read, a, "read");
		assert_list_is_json(&g->write, a, "write");
		assert_list_is_json(&g->readwrite, a, "readwrite");
		d = json_object_get(v, "deny");
		assert_list_is_json(&g->deny_access, d, "access");
		assert_list_is_json(&g->deny_commands, d, "commands");
		c = json_object_get(v, "create");
		assert_list_is_json(&g->create_dirs, c, "dirs");
		assert_list_is_json(&g->create_files, c, "files");
	}
	strv_free(&names);
	json_decref(root);
}

/*
 * A run without --profile takes the built-in default's groups from the
 * compiled list (nothing parsed): it must be what parsing its JSON
 * gives, and profile_default_groups what loading "default" gives, with
 * and without a user's default.json shadowing the built-in.
 */
static void
test_builtin_compiled_default_groups_equal_the_parsed_json(void **state)
{
	struct profile	*p;
	json_error_t	 je;
	json_t		*root, *d;

	(void)state;
	root = json_loadb(data_policy_json, data_policy_json_len,
	    JSON_REJECT_DUPLICATES, &je);
	assert_non_null(root);
	d = json_object_get(json_object_get(root, "profiles"), "default");
	assert_non_null(d);
	assert_list_is_json(profile_builtin_default_groups(),
	    json_object_get(d, "security"), "groups");
	assert_true(profile_builtin_default_groups()->n > 0);
	json_decref(root);
	p = profile_builtin_get("default");
	assert_non_null(p);
	assert_int_equal(p->security.groups.n,
	    profile_builtin_default_groups()->n);
	assert_int_equal(p->extends.n, 0);
	profile_free(p);
}

static void
assert_default_groups_are_loaded_defaults(void)
{
	struct errbuf	 e = { { 0 } };
	struct strv	 got = { 0 }, want = { 0 };
	struct profile	*p;
	size_t		 i;

	assert_int_equal(profile_default_groups(&env, &got, &e), 0);
	p = load("default");
	assert_int_equal(profile_effective_groups(p, &want, &e), 0);
	assert_true(want.n > 0);
	assert_int_equal(got.n, want.n);
	for (i = 0; i < want.n; i++)
		assert_string_equal(got.v[i], want.v[i]);
	profile_free(p);
	strv_free(&got);
	strv_free(&want);
}

static void
test_default_groups_are_those_of_the_loaded_default(void **state)
{
	struct errbuf	 e = { { 0 } };
	struct strv	 got = { 0 }, want = { 0 };
	char		*dir, *file, *cmd;
	FILE		*fp;
	size_t		 i;

	(void)state;
	assert_default_groups_are_loaded_defaults();
	/* The built-in's, appended after what the list held. */
	assert_int_equal(profile_default_groups(&env, &want, &e), 0);
	strv_push(&got, "x");
	assert_int_equal(profile_builtin_default_effective(&got, &e), 0);
	assert_int_equal(got.n, want.n + 1);
	assert_string_equal(got.v[0], "x");
	for (i = 0; i < want.n; i++)
		assert_string_equal(got.v[i + 1], want.v[i]);
	assert_null(got.v[got.n]);
	strv_free(&got);
	strv_free(&want);
	/* A user's default.json shadows the built-in. */
	dir = xasprintf("%s/.config/keyhole/profiles", home);
	file = xasprintf("%s/default.json", dir);
	cmd = xasprintf("mkdir -p '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	assert_non_null(fp = fopen(file, "w"));
	fputs("{\"meta\":{\"name\":\"default\"},\"security\":"
	    "{\"groups\":[\"system_write_linux\",\"deny_credentials\"]}}",
	    fp);
	fclose(fp);
	assert_default_groups_are_loaded_defaults();
	assert_int_equal(profile_default_groups(&env, &got, &e), 0);
	assert_int_equal(got.n, 2);
	assert_string_equal(got.v[0], "system_write_linux");
	strv_free(&got);
	/* Its errors are profile_load's. */
	assert_non_null(fp = fopen(file, "w"));
	fputs("{\"security\":{\"groups\":[\"no_such_group\"]}}", fp);
	fclose(fp);
	assert_int_equal(profile_default_groups(&env, &got, &e), -1);
	assert_non_null(strstr(errbuf_msg(&e), "no_such_group"));
	assert_int_equal(got.n, 0);
	unlink(file);
	free(file);
	free(dir);
}

static void
test_builtin_profile_spans_are_the_profiles_in_the_json(void **state)
{
	const struct profile_builtin_span	*sp;
	struct strv				 names = { 0 };
	json_error_t				 je;
	json_t					*root, *profiles, *v, *piece;
	const char				*name;
	size_t					 i = 0;

	(void)state;
	root = json_loadb(data_policy_json, data_policy_json_len,
	    JSON_REJECT_DUPLICATES, &je);
	assert_non_null(root);
	profiles = json_object_get(root, "profiles");
	profile_builtin_names(&names);
	assert_int_equal(names.n, json_object_size(profiles));
	assert_int_equal(profile_builtin_nprofiles, names.n);
	json_object_foreach(profiles, name, v) {
		assert_string_equal(names.v[i], name);
		sp = &profile_builtin_profiles[i++];
		assert_string_equal(sp->name, name);
		assert_true(sp->start < sp->end);
		assert_true(sp->end <= data_policy_json_len);
		piece = json_loadb(data_policy_json + sp->start,
		    sp->end - sp->start, JSON_REJECT_DUPLICATES, &je);
		assert_non_null(piece);
		assert_true(json_equal(piece, v));
		json_decref(piece);
	}
	strv_free(&names);
	json_decref(root);
}

static void
test_finalise_adds_default_groups_once(void **state)
{
	struct errbuf	 e = { { 0 } };
	struct profile	*p;
	size_t		 i, j;

	(void)state;
	p = load_json("{\"security\":{\"groups\":[\"node_runtime\","
	    "\"deny_credentials\"]}}", &e);
	assert_non_null(p);
	assert_true(strv_contains(&p->groups, "deny_credentials"));
	assert_true(strv_contains(&p->groups, "system_read_linux_core"));
	assert_string_equal(p->groups.v[p->groups.n - 1], "node_runtime");
	for (i = 0; i < p->groups.n; i++)
		for (j = i + 1; j < p->groups.n; j++)
			assert_string_not_equal(p->groups.v[i], p->groups.v[j]);
	profile_free(p);
}

static void
test_finalise_respects_exclude_groups(void **state)
{
	struct errbuf	 e = { { 0 } };
	struct profile	*p;

	(void)state;
	p = load_json("{\"security\":{\"groups\":[\"dangerous_commands\"]},"
	    "\"policy\":{\"exclude_groups\":[\"dangerous_commands\","
	    "\"no_such_group\"]}}", &e);
	assert_non_null(p);
	assert_false(strv_contains(&p->groups, "dangerous_commands"));
	profile_free(p);
}

static void
test_extends_default_respects_excluded_groups(void **state)
{
	struct errbuf	 e = { { 0 } };
	struct profile	*p;

	(void)state;
	p = load_json("{\"extends\":\"default\",\"meta\":{\"name\":\"x\"},"
	    "\"policy\":{\"exclude_groups\":[\"dangerous_commands\","
	    "\"dangerous_commands_linux\",\"dangerous_commands_macos\"]}}",
	    &e);
	if (p == NULL)
		fail_msg("%s", errbuf_msg(&e));
	assert_false(strv_contains(&p->groups, "dangerous_commands"));
	assert_false(strv_contains(&p->groups, "dangerous_commands_linux"));
	assert_false(strv_contains(&p->groups, "dangerous_commands_macos"));
	assert_true(strv_contains(&p->groups, "deny_credentials"));
	profile_free(p);
}

static void
test_excluding_required_group_is_refused(void **state)
{
	struct errbuf	 e = { { 0 } };
	struct profile	*p;

	(void)state;
	p = load_json("{\"policy\":{\"exclude_groups\":[\"deny_credentials\","
	    "\"dangerous_commands\",\"deny_shell_configs\"]}}", &e);
	assert_null(p);
	assert_non_null(strstr(errbuf_msg(&e), "profile t.json: "
	    "policy.exclude_groups: cannot exclude required groups: "
	    "'deny_credentials', 'deny_shell_configs'"));
}

static void
test_excluding_macos_required_group_is_refused_on_linux(void **state)
{
	struct errbuf	 e = { { 0 } };
	struct profile	*p;

	(void)state;
	p = load_json("{\"policy\":{\"exclude_groups\":"
	    "[\"deny_keychains_macos\"]}}", &e);
	assert_null(p);
	assert_non_null(strstr(errbuf_msg(&e), "required"));
	assert_non_null(strstr(errbuf_msg(&e), "deny_keychains_macos"));
}

static void
test_unknown_group_is_refused(void **state)
{
	struct errbuf	 e = { { 0 } };
	struct profile	*p;

	(void)state;
	p = load_json("{\"security\":{\"groups\":[\"no_such_group\"]}}", &e);
	assert_null(p);
	assert_non_null(strstr(errbuf_msg(&e),
	    "security.groups: unknown policy group 'no_such_group'"));
}

static void
test_default_profile_gets_no_implicit_groups(void **state)
{
	struct errbuf	 e = { { 0 } };
	struct profile	*p;

	(void)state;
	p = load_json("{\"meta\":{\"name\":\"default\"},"
	    "\"security\":{\"groups\":[\"node_runtime\"]}}", &e);
	assert_non_null(p);
	assert_int_equal(p->groups.n, 1);
	assert_string_equal(p->groups.v[0], "node_runtime");
	profile_free(p);
}

int
main(void)
{
#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_builtin_claude_code),
		T(test_builtin_default),
		T(test_builtin_claude_code_lists_both_platform_groups),
		T(test_builtin_openclaw),
		T(test_builtin_codex),
		T(test_builtin_opencode),
		T(test_builtin_swival),
		T(test_builtin_dev_profiles_use_developer_network),
		T(test_builtin_nonexistent_is_null),
		T(test_builtin_every_group_found_by_its_name),
		T(test_builtin_list_has_every_profile),
		T(test_builtin_group_merging),
		T(test_default_groups_appear_in_openclaw),
		T(test_default_group_set_is_explicit),
		T(test_embedded_profiles_extend_default),
		T(test_linux_host_compat_groups),
		T(test_interactive_profiles_have_sysfs_not_runtime_or_temp),
		T(test_every_builtin_expands_its_linux_groups),
		T(test_group_grants_are_expanded_with_access),
		T(test_state_and_cache_groups_mark_what_to_create),
		T(test_builtin_group_lookup),
		T(test_builtin_compiled_groups_equal_the_parsed_json),
		T(test_builtin_profile_spans_are_the_profiles_in_the_json),
		T(test_builtin_compiled_default_groups_equal_the_parsed_json),
		T(test_default_groups_are_those_of_the_loaded_default),
		T(test_finalise_adds_default_groups_once),
		T(test_finalise_respects_exclude_groups),
		T(test_extends_default_respects_excluded_groups),
		T(test_excluding_required_group_is_refused),
		T(test_excluding_macos_required_group_is_refused_on_linux),
		T(test_unknown_group_is_refused),
		T(test_default_profile_gets_no_implicit_groups),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
