#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "policy/route.h"
#include "profile/profile.h"

/*
 * Raw merge (no extends, no finalisation): nono-profile.md §3 and the
 * mod.rs merge tests of §9.1 with its BASE / CHILD fixtures.
 */

static const char BASE[] =
    "{\"meta\":{\"name\":\"base\",\"version\":\"1.0\","
    "\"description\":\"Base profile\"},"
    "\"security\":{\"groups\":[\"base_group\"]},"
    "\"filesystem\":{\"allow\":[\"/base/rw\"],\"read\":[\"/base/read\"],"
    "\"read_file\":[\"/base/file.txt\"]},"
    "\"policy\":{\"exclude_groups\":[\"base_excluded\"],"
    "\"add_allow_read\":[\"/base/policy-read\"],"
    "\"add_deny_access\":[\"/base/policy-deny\"],"
    "\"override_deny\":[\"/base/override-deny\"]},"
    "\"network\":{\"network_profile\":\"base-net\","
    "\"allow_domain\":[\"base.example.com\"],\"open_port\":[3000],"
    "\"listen_port\":[4000],\"credentials\":[\"base_cred\"]},"
    "\"env_credentials\":{\"base_key\":\"BASE_VAR\"},"
    "\"workdir\":{\"access\":\"readwrite\"},"
    "\"rollback\":{\"exclude_patterns\":[\"node_modules\"],"
    "\"exclude_globs\":[\"*.pyc\"]},"
    "\"open_urls\":{\"allow_origins\":[\"https://base.example.com\"],"
    "\"allow_localhost\":false},"
    "\"allow_launch_services\":false,\"skipdirs\":[\"vendor\"]}";

static const char CHILD[] =
    "{\"extends\":\"base\",\"meta\":{\"name\":\"child\",\"version\":\"2.0\","
    "\"description\":\"Child profile\"},"
    "\"security\":{\"groups\":[\"child_group\"]},"
    "\"filesystem\":{\"allow\":[\"/child/rw\"]},"
    "\"policy\":{\"exclude_groups\":[\"child_excluded\"],"
    "\"add_allow_write\":[\"/child/policy-write\"],"
    "\"add_allow_readwrite\":[\"/child/policy-rw\"],"
    "\"add_deny_access\":[\"/child/policy-deny\"],"
    "\"override_deny\":[\"/child/override-deny\"]},"
    "\"network\":{\"allow_domain\":[\"child.example.com\"],"
    "\"open_port\":[3000,5000],\"listen_port\":[4000,6000]},"
    "\"env_credentials\":{\"child_key\":\"CHILD_VAR\"},"
    "\"open_urls\":{\"allow_origins\":[\"https://child.example.com\"],"
    "\"allow_localhost\":true},"
    "\"allow_launch_services\":true,\"skipdirs\":[\"dist\"]}";

static struct profile *
parse(const char *json)
{
	struct errbuf	 e = { { 0 } };
	struct profile	*p;

	p = profile_parse_bytes(json, strlen(json), "t.json", &e);
	if (p == NULL)
		fail_msg("parse: %s", errbuf_msg(&e));
	return p;
}

static struct profile *
merge_json(const char *base, const char *child)
{
	struct profile	*b = parse(base), *c = parse(child), *m;

	m = profile_merge(b, c);
	profile_free(b);
	profile_free(c);
	return m;
}

static struct profile *
merged_fixture(void)
{
	return merge_json(BASE, CHILD);
}

static void
assert_list(const struct strv *sv, const char *const *want, size_t n)
{
	size_t	i;

	assert_int_equal(sv->n, n);
	for (i = 0; i < n; i++)
		assert_string_equal(sv->v[i], want[i]);
}

static void
test_merge_appends_filesystem_paths(void **state)
{
	struct profile	*m = merged_fixture();
	static const char *const allow[] = { "/base/rw", "/child/rw" };

	(void)state;
	assert_list(&m->fs.allow, allow, 2);
	assert_string_equal(m->fs.read.v[0], "/base/read");
	assert_string_equal(m->fs.read_file.v[0], "/base/file.txt");
	profile_free(m);
}

static void
test_merge_deduplicates_open_port(void **state)
{
	struct profile	*m = merged_fixture();

	(void)state;
	assert_int_equal(m->net.open_port.n, 2);
	assert_int_equal(m->net.open_port.v[0], 3000);
	assert_int_equal(m->net.open_port.v[1], 5000);
	assert_int_equal(m->net.listen_port.n, 2);
	profile_free(m);
}

static void
test_merge_appends_security_groups(void **state)
{
	struct profile	*m = merged_fixture();

	(void)state;
	assert_true(strv_contains(&m->security.groups, "base_group"));
	assert_true(strv_contains(&m->security.groups, "child_group"));
	profile_free(m);
}

/* SPEC 4.12's profile keys merge like the other lists. */
static void
test_merge_appends_allow_endpoint_and_intercept_exclude(void **state)
{
	struct profile	*m;
	static const char *const ep[] = { "a.test:GET:/x", "b.test:*:/**" };
	static const char *const ex[] = { "pin.test", "*.mtls.test" };

	(void)state;
	m = merge_json("{\"network\":{\"allow_endpoint\":[\"a.test:GET:/x\"],"
	    "\"tls_intercept_exclude\":[\"pin.test\"]}}",
	    "{\"network\":{\"allow_endpoint\":[\"b.test:*:/**\","
	    "\"a.test:GET:/x\"],\"tls_intercept_exclude\":[\"*.mtls.test\"]}}");
	assert_list(&m->net.allow_endpoint, ep, 2);
	assert_list(&m->net.tls_intercept_exclude, ex, 2);
	profile_free(m);
	/* A child without the keys inherits the base's. */
	m = merge_json("{\"network\":{\"allow_endpoint\":[\"a.test:GET:/x\"]}}",
	    "{\"network\":{}}");
	assert_list(&m->net.allow_endpoint, ep, 1);
	profile_free(m);
}

static void
test_merge_list_dedup_keeps_first_occurrence_order(void **state)
{
	struct profile	*m;
	static const char *const want[] = {
		"shared_group", "base_only", "child_only"
	};

	(void)state;
	m = merge_json("{\"security\":{\"groups\":[\"shared_group\","
	    "\"base_only\"]}}", "{\"security\":{\"groups\":[\"shared_group\","
	    "\"child_only\"]}}");
	assert_list(&m->security.groups, want, 3);
	profile_free(m);
}

static void
test_dedup_append_preserves_order(void **state)
{
	struct profile	*m;
	static const char *const want[] = { "a", "b", "c", "d" };

	(void)state;
	m = merge_json("{\"filesystem\":{\"read\":[\"a\",\"b\",\"c\"]}}",
	    "{\"filesystem\":{\"read\":[\"b\",\"d\",\"a\"]}}");
	assert_list(&m->fs.read, want, 4);
	profile_free(m);
}

static void
test_dedup_append_empty_lists(void **state)
{
	struct profile	*m;

	(void)state;
	m = merge_json("{}", "{}");
	assert_int_equal(m->fs.read.n, 0);
	profile_free(m);
	m = merge_json("{}", "{\"filesystem\":{\"read\":[\"x\"]}}");
	assert_int_equal(m->fs.read.n, 1);
	profile_free(m);
	m = merge_json("{\"filesystem\":{\"read\":[\"x\"]}}", "{}");
	assert_int_equal(m->fs.read.n, 1);
	profile_free(m);
}

static void
test_merge_paths_are_compared_byte_exact(void **state)
{
	struct profile	*m;

	(void)state;
	m = merge_json("{\"filesystem\":{\"read\":[\"~/x\",\"/x/\"]}}",
	    "{\"filesystem\":{\"read\":[\"$HOME/x\",\"/x\"]}}");
	assert_int_equal(m->fs.read.n, 4);
	profile_free(m);
}

static void
test_merge_replaces_meta(void **state)
{
	struct profile	*m = merged_fixture();

	(void)state;
	assert_string_equal(m->meta.name, "child");
	assert_string_equal(m->meta.version, "2.0");
	assert_string_equal(m->meta.description, "Child profile");
	profile_free(m);
}

static void
test_merge_absent_child_meta_empties_meta(void **state)
{
	struct profile	*m;

	(void)state;
	m = merge_json(BASE, "{}");
	assert_string_equal(m->meta.name, "");
	assert_null(m->meta.description);
	profile_free(m);
}

static void
test_merge_custom_credentials_union(void **state)
{
	struct profile	*m;

	(void)state;
	m = merge_json("{\"network\":{\"custom_credentials\":{\"svc_a\":"
	    "{\"upstream\":\"https://a.example.com\","
	    "\"credential_key\":\"key_a\"}}}}",
	    "{\"network\":{\"custom_credentials\":{\"svc_b\":"
	    "{\"upstream\":\"https://b.example.com\","
	    "\"credential_key\":\"key_b\"}}}}");
	assert_int_equal(m->net.ncustom, 2);
	assert_non_null(profile_custom_credential(m, "svc_a"));
	assert_non_null(profile_custom_credential(m, "svc_b"));
	profile_free(m);
}

static void
test_merge_custom_credentials_child_wins_whole_entry(void **state)
{
	struct profile		*m;
	const struct route_def	*d;

	(void)state;
	m = merge_json("{\"network\":{\"custom_credentials\":{\"svc_shared\":"
	    "{\"upstream\":\"https://base.example.com\","
	    "\"credential_key\":\"key_base\",\"inject_header\":\"X-Base\","
	    "\"endpoint_rules\":[{\"method\":\"GET\",\"path\":\"/a\"}]}}}}",
	    "{\"network\":{\"custom_credentials\":{\"svc_shared\":"
	    "{\"upstream\":\"https://child.example.com\","
	    "\"credential_key\":\"key_child\"}}}}");
	assert_int_equal(m->net.ncustom, 1);
	d = profile_custom_credential(m, "svc_shared");
	assert_string_equal(d->upstream, "https://child.example.com");
	assert_string_equal(d->credential_key, "key_child");
	/* No field-level merge: the base's header and rules are gone. */
	assert_string_equal(d->inject_header, "Authorization");
	assert_int_equal(d->nrules, 0);
	profile_free(m);
}

static void
test_merge_network_profile_child_absent_inherits(void **state)
{
	struct profile	*m = merged_fixture();

	(void)state;
	assert_int_equal(m->net.network_profile_state, PROFILE_NETPROF_SET);
	assert_string_equal(m->net.network_profile, "base-net");
	profile_free(m);
}

static void
test_merge_network_profile_child_value_overrides(void **state)
{
	struct profile	*m;

	(void)state;
	m = merge_json(BASE, "{\"network\":{\"network_profile\":"
	    "\"child-net\"}}");
	assert_string_equal(m->net.network_profile, "child-net");
	profile_free(m);
}

static void
test_merge_network_profile_null_clears_base(void **state)
{
	struct profile	*m, *m2, *top;

	(void)state;
	m = merge_json(BASE, "{\"network\":{\"network_profile\":null}}");
	assert_int_equal(m->net.network_profile_state, PROFILE_NETPROF_CLEAR);
	assert_null(m->net.network_profile);
	/* The cleared state persists through a later absent child. */
	top = parse("{}");
	m2 = profile_merge(m, top);
	assert_int_equal(m2->net.network_profile_state,
	    PROFILE_NETPROF_CLEAR);
	profile_free(m);
	profile_free(m2);
	profile_free(top);
}

static void
test_merge_block_is_ored(void **state)
{
	struct profile	*m;

	(void)state;
	m = merge_json("{\"network\":{\"block\":true}}",
	    "{\"network\":{\"block\":false}}");
	assert_true(m->net.block);
	profile_free(m);
	m = merge_json("{}", "{\"network\":{\"block\":true}}");
	assert_true(m->net.block);
	profile_free(m);
}

static void
test_merge_workdir_child_none_inherits(void **state)
{
	struct profile	*m = merged_fixture();

	(void)state;
	assert_int_equal(m->workdir, PROFILE_WORKDIR_READWRITE);
	profile_free(m);
	m = merge_json(BASE, "{\"workdir\":{\"access\":\"none\"}}");
	assert_int_equal(m->workdir, PROFILE_WORKDIR_READWRITE);
	profile_free(m);
}

static void
test_merge_workdir_child_value_overrides(void **state)
{
	struct profile	*m;

	(void)state;
	m = merge_json(BASE, "{\"workdir\":{\"access\":\"read\"}}");
	assert_int_equal(m->workdir, PROFILE_WORKDIR_READ);
	profile_free(m);
}

static void
test_merge_hooks_union_child_wins(void **state)
{
	struct profile	*m;

	(void)state;
	m = merge_json("{\"hooks\":{\"claude-code\":{\"event\":\"E\","
	    "\"matcher\":\"M\",\"script\":\"base.sh\"}}}",
	    "{\"hooks\":{\"opencode\":{\"event\":\"E2\",\"matcher\":\"M\","
	    "\"script\":\"o.sh\"},\"claude-code\":{\"event\":\"PreToolUse\","
	    "\"matcher\":\"M\",\"script\":\"child-hook.sh\"}}}");
	assert_int_equal(m->nhooks, 2);
	assert_string_equal(m->hooks[0].name, "claude-code");
	assert_string_equal(m->hooks[0].script, "child-hook.sh");
	assert_string_equal(m->hooks[0].event, "PreToolUse");
	assert_string_equal(m->hooks[1].name, "opencode");
	profile_free(m);
}

static void
test_merge_env_credentials_child_wins_per_key(void **state)
{
	struct profile	*m;

	(void)state;
	m = merge_json("{\"env_credentials\":{\"base_key\":\"BASE_VAR\","
	    "\"shared_key\":\"BASE_SHARED\"}}",
	    "{\"env_credentials\":{\"child_key\":\"CHILD_VAR\","
	    "\"shared_key\":\"CHILD_SHARED\"}}");
	assert_string_equal(profile_map_get(&m->env_credentials,
	    "shared_key"), "CHILD_SHARED");
	assert_string_equal(profile_map_get(&m->env_credentials,
	    "base_key"), "BASE_VAR");
	assert_string_equal(profile_map_get(&m->env_credentials,
	    "child_key"), "CHILD_VAR");
	profile_free(m);
}

static void
test_merge_interactive_is_ored(void **state)
{
	struct profile	*m;

	(void)state;
	m = merge_json("{\"interactive\":false}", "{\"interactive\":false}");
	assert_false(m->interactive);
	profile_free(m);
	m = merge_json("{\"interactive\":true}", "{\"interactive\":false}");
	assert_true(m->interactive);
	profile_free(m);
	m = merge_json("{\"interactive\":false}", "{\"interactive\":true}");
	assert_true(m->interactive);
	profile_free(m);
}

static void
test_merge_consumes_extends(void **state)
{
	struct profile	*m = merged_fixture();

	(void)state;
	assert_int_equal(m->extends.n, 0);
	profile_free(m);
}

static void
test_merge_open_urls_child_replaces(void **state)
{
	struct profile	*m = merged_fixture();

	(void)state;
	assert_int_equal(m->open_urls.allow_origins.n, 1);
	assert_string_equal(m->open_urls.allow_origins.v[0],
	    "https://child.example.com");
	assert_true(m->open_urls.allow_localhost);
	profile_free(m);
}

static void
test_merge_open_urls_child_absent_inherits(void **state)
{
	struct profile	*m;

	(void)state;
	m = merge_json(BASE, "{}");
	assert_string_equal(m->open_urls.allow_origins.v[0],
	    "https://base.example.com");
	assert_false(m->open_urls.allow_localhost);
	profile_free(m);
	m = merge_json(BASE, "{\"open_urls\":null}");
	assert_int_equal(m->open_urls.allow_origins.n, 1);
	profile_free(m);
}

static void
test_merge_open_urls_child_narrows(void **state)
{
	struct profile	*m;

	(void)state;
	m = merge_json(BASE, "{\"open_urls\":{\"allow_origins\":[],"
	    "\"allow_localhost\":false}}");
	assert_int_equal(m->open_urls.allow_origins.n, 0);
	assert_false(m->open_urls.allow_localhost);
	profile_free(m);
}

static void
test_merge_allow_launch_services_child_overrides(void **state)
{
	struct profile	*m = merged_fixture();

	(void)state;
	assert_int_equal(m->allow_launch_services, PROFILE_TRUE);
	profile_free(m);
	m = merge_json("{\"allow_launch_services\":true}",
	    "{\"allow_launch_services\":false}");
	assert_int_equal(m->allow_launch_services, PROFILE_FALSE);
	profile_free(m);
	m = merge_json("{\"allow_launch_services\":true}",
	    "{\"allow_launch_services\":null}");
	assert_int_equal(m->allow_launch_services, PROFILE_TRUE);
	profile_free(m);
}

static void
test_merge_policy_lists(void **state)
{
	struct profile	*m = merged_fixture();

	(void)state;
	assert_true(strv_contains(&m->policy.exclude_groups, "base_excluded"));
	assert_true(strv_contains(&m->policy.exclude_groups,
	    "child_excluded"));
	assert_string_equal(m->policy.add_allow_read.v[0], "/base/policy-read");
	assert_string_equal(m->policy.add_allow_write.v[0],
	    "/child/policy-write");
	assert_string_equal(m->policy.add_allow_readwrite.v[0],
	    "/child/policy-rw");
	assert_int_equal(m->policy.add_deny_access.n, 2);
	assert_int_equal(m->policy.override_deny.n, 2);
	profile_free(m);
}

static void
test_merge_credentials_absent_child_inherits(void **state)
{
	struct profile	*m = merged_fixture();

	(void)state;
	assert_int_equal(profile_credentials(m)->n, 1);
	assert_string_equal(profile_credentials(m)->v[0], "base_cred");
	profile_free(m);
}

static void
test_merge_credentials_empty_child_clears(void **state)
{
	struct profile	*m;

	(void)state;
	m = merge_json(BASE, "{\"network\":{\"credentials\":[]}}");
	assert_int_equal(m->net.credentials_state, PROFILE_CREDS_LIST);
	assert_int_equal(profile_credentials(m)->n, 0);
	profile_free(m);
}

static void
test_merge_credentials_list_child_appends(void **state)
{
	struct profile	*m;

	(void)state;
	m = merge_json(BASE, "{\"network\":{\"credentials\":"
	    "[\"child_cred\"]}}");
	assert_int_equal(profile_credentials(m)->n, 2);
	assert_string_equal(profile_credentials(m)->v[0], "base_cred");
	assert_string_equal(profile_credentials(m)->v[1], "child_cred");
	profile_free(m);
}

static void
test_merge_credentials_null_child_inherits(void **state)
{
	struct profile	*m;

	(void)state;
	m = merge_json(BASE, "{\"network\":{\"credentials\":null}}");
	assert_int_equal(profile_credentials(m)->n, 1);
	profile_free(m);
}

static void
test_merge_scalars_child_wins_when_set(void **state)
{
	struct profile	*m;

	(void)state;
	m = merge_json("{\"network\":{\"upstream_proxy\":\"a:1\"},"
	    "\"security\":{\"signal_mode\":\"allow_all\","
	    "\"capability_elevation\":true}}",
	    "{\"network\":{\"upstream_proxy\":null},"
	    "\"security\":{\"signal_mode\":\"isolated\"}}");
	assert_string_equal(m->net.upstream_proxy, "a:1");
	assert_int_equal(m->security.signal_mode, PROFILE_PROC_ISOLATED);
	assert_int_equal(m->security.capability_elevation, PROFILE_TRUE);
	profile_free(m);
	m = merge_json("{\"network\":{\"upstream_proxy\":\"a:1\"}}",
	    "{\"network\":{\"upstream_proxy\":\"b:2\"}}");
	assert_string_equal(m->net.upstream_proxy, "b:2");
	profile_free(m);
}

static void
test_merge_network_lists(void **state)
{
	struct profile	*m;

	(void)state;
	m = merge_json("{\"network\":{\"upstream_bypass\":[\"a\"],"
	    "\"no_proxy\":[\"n1\"]}}",
	    "{\"network\":{\"upstream_bypass\":[\"b\",\"a\"],"
	    "\"no_proxy\":[\"n2\"]}}");
	assert_int_equal(m->net.upstream_bypass.n, 2);
	assert_int_equal(m->net.no_proxy.n, 2);
	profile_free(m);
	m = merged_fixture();
	assert_int_equal(m->net.allow_domain.n, 2);
	assert_string_equal(m->net.allow_domain.v[1], "child.example.com");
	profile_free(m);
}

static void
test_merge_environment_rules(void **state)
{
	struct profile	*m;

	(void)state;
	m = merge_json("{\"environment\":{\"allow_vars\":[\"A\"],"
	    "\"deny_vars\":[\"D1\"],\"set_vars\":{\"X\":\"1\",\"Y\":\"1\"}}}",
	    "{\"environment\":{\"deny_vars\":[\"D2\"],"
	    "\"set_vars\":{\"X\":\"2\"}}}");
	assert_true(m->environment.allow_vars_set);
	assert_int_equal(m->environment.allow_vars.n, 1);
	assert_int_equal(m->environment.deny_vars.n, 2);
	assert_string_equal(profile_map_get(&m->environment.set_vars, "X"),
	    "2");
	assert_string_equal(profile_map_get(&m->environment.set_vars, "Y"),
	    "1");
	profile_free(m);
	m = merge_json("{}", "{\"environment\":{\"allow_vars\":[]}}");
	assert_true(m->environment.allow_vars_set);
	assert_int_equal(m->environment.allow_vars.n, 0);
	profile_free(m);
}

static void
test_merge_rollback_and_skipdirs_append(void **state)
{
	struct profile	*m;

	(void)state;
	m = merge_json(BASE, "{\"rollback\":{\"exclude_patterns\":"
	    "[\"target\"]},\"skipdirs\":[\"dist\"]}");
	assert_int_equal(m->rollback_patterns.n, 2);
	assert_int_equal(m->rollback_globs.n, 1);
	assert_int_equal(m->skipdirs.n, 2);
	profile_free(m);
}

static void
test_empty_child_inherits_everything(void **state)
{
	struct profile	*m;

	(void)state;
	m = merge_json(BASE, "{}");
	assert_string_equal(m->fs.allow.v[0], "/base/rw");
	assert_string_equal(m->fs.read.v[0], "/base/read");
	assert_string_equal(m->fs.read_file.v[0], "/base/file.txt");
	assert_string_equal(m->security.groups.v[0], "base_group");
	assert_int_equal(m->workdir, PROFILE_WORKDIR_READWRITE);
	assert_string_equal(m->net.network_profile, "base-net");
	assert_string_equal(m->net.allow_domain.v[0], "base.example.com");
	assert_string_equal(m->rollback_patterns.v[0], "node_modules");
	assert_string_equal(m->rollback_globs.v[0], "*.pyc");
	profile_free(m);
}

static void
test_copy_is_deep_and_equal(void **state)
{
	struct profile	*b = parse(BASE), *c;
	char		*j1, *j2;

	(void)state;
	c = profile_copy(b);
	j1 = profile_show_json(b);
	j2 = profile_show_json(c);
	assert_string_equal(j1, j2);
	profile_free(b);
	assert_string_equal(c->fs.allow.v[0], "/base/rw");
	free(j1);
	free(j2);
	profile_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_merge_appends_filesystem_paths),
		cmocka_unit_test(test_merge_deduplicates_open_port),
		cmocka_unit_test(test_merge_appends_security_groups),
		cmocka_unit_test(
		    test_merge_appends_allow_endpoint_and_intercept_exclude),
		cmocka_unit_test(
		    test_merge_list_dedup_keeps_first_occurrence_order),
		cmocka_unit_test(test_dedup_append_preserves_order),
		cmocka_unit_test(test_dedup_append_empty_lists),
		cmocka_unit_test(test_merge_paths_are_compared_byte_exact),
		cmocka_unit_test(test_merge_replaces_meta),
		cmocka_unit_test(test_merge_absent_child_meta_empties_meta),
		cmocka_unit_test(test_merge_custom_credentials_union),
		cmocka_unit_test(
		    test_merge_custom_credentials_child_wins_whole_entry),
		cmocka_unit_test(
		    test_merge_network_profile_child_absent_inherits),
		cmocka_unit_test(
		    test_merge_network_profile_child_value_overrides),
		cmocka_unit_test(test_merge_network_profile_null_clears_base),
		cmocka_unit_test(test_merge_block_is_ored),
		cmocka_unit_test(test_merge_workdir_child_none_inherits),
		cmocka_unit_test(test_merge_workdir_child_value_overrides),
		cmocka_unit_test(test_merge_hooks_union_child_wins),
		cmocka_unit_test(test_merge_env_credentials_child_wins_per_key),
		cmocka_unit_test(test_merge_interactive_is_ored),
		cmocka_unit_test(test_merge_consumes_extends),
		cmocka_unit_test(test_merge_open_urls_child_replaces),
		cmocka_unit_test(test_merge_open_urls_child_absent_inherits),
		cmocka_unit_test(test_merge_open_urls_child_narrows),
		cmocka_unit_test(
		    test_merge_allow_launch_services_child_overrides),
		cmocka_unit_test(test_merge_policy_lists),
		cmocka_unit_test(test_merge_credentials_absent_child_inherits),
		cmocka_unit_test(test_merge_credentials_empty_child_clears),
		cmocka_unit_test(test_merge_credentials_list_child_appends),
		cmocka_unit_test(test_merge_credentials_null_child_inherits),
		cmocka_unit_test(test_merge_scalars_child_wins_when_set),
		cmocka_unit_test(test_merge_network_lists),
		cmocka_unit_test(test_merge_environment_rules),
		cmocka_unit_test(test_merge_rollback_and_skipdirs_append),
		cmocka_unit_test(test_empty_child_inherits_everything),
		cmocka_unit_test(test_copy_is_deep_and_equal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
