#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "policy/netpolicy.h"
#include "policy/route.h"

static struct netpolicy *
parse_ok(const char *json)
{
	struct errbuf		 e;
	struct netpolicy	*np;

	errbuf_clear(&e);
	if ((np = policy_netpolicy_parse(json, strlen(json), &e)) == NULL)
		fail_msg("%s", errbuf_msg(&e));
	return np;
}

static void
parse_fails(const char *json, const char *msg)
{
	struct errbuf	e;

	errbuf_clear(&e);
	assert_null(policy_netpolicy_parse(json, strlen(json), &e));
	assert_string_equal(errbuf_msg(&e), msg);
}

/* network_policy.rs 128 */
static void
test_netpolicy_builtin_parses(void **state)
{
	const struct netpolicy	*np = policy_netpolicy_builtin();

	(void)state;
	assert_non_null(np);
	assert_int_equal(np->ngroups, 8);
	assert_int_equal(np->nprofiles, 6);
	assert_int_equal(np->ncredentials, 6);
	assert_ptr_equal(policy_netpolicy_builtin(), np);
}

static void
test_netpolicy_builtin_groups(void **state)
{
	const struct netpolicy	*np = policy_netpolicy_builtin();
	const struct netgroup	*g;

	(void)state;
	g = policy_netpolicy_group(np, "llm_apis");
	assert_non_null(g);
	assert_string_equal(g->description, "Hosted model APIs");
	assert_int_equal(g->hosts.n, 16);
	assert_true(strv_contains(&g->hosts, "api.openai.com"));
	assert_true(strv_contains(&g->hosts, "api.anthropic.com"));
	assert_int_equal(g->suffixes.n, 0);
	g = policy_netpolicy_group(np, "google_cloud");
	assert_int_equal(g->hosts.n, 0);
	assert_string_equal(g->suffixes.v[0], ".googleapis.com");
	assert_null(policy_netpolicy_group(np, "nonexistent"));
}

/* network_policy.rs 129, 130 */
static void
test_netpolicy_builtin_profiles_name_groups(void **state)
{
	const struct netpolicy	 *np = policy_netpolicy_builtin();
	const struct netprofile	 *p;

	(void)state;
	p = policy_netpolicy_profile(np, "developer");
	assert_non_null(p);
	assert_true(strv_contains(&p->groups, "llm_apis"));
	assert_true(strv_contains(&p->groups, "package_registries"));
	p = policy_netpolicy_profile(np, "minimal");
	assert_int_equal(p->groups.n, 1);
	assert_string_equal(p->groups.v[0], "llm_apis");
	assert_int_equal(p->credentials.n, 0);
}

/* network_policy.rs 131 */
static void
test_netpolicy_unknown_profile_is_null(void **state)
{
	(void)state;
	assert_null(policy_netpolicy_profile(policy_netpolicy_builtin(),
	    "nonexistent"));
}

/* network_policy.rs 132 */
static void
test_netpolicy_enterprise_has_suffixes(void **state)
{
	const struct netpolicy	 *np = policy_netpolicy_builtin();
	const struct netprofile	 *p = policy_netpolicy_profile(np,
				    "enterprise");

	(void)state;
	assert_true(strv_contains(&p->groups, "google_cloud"));
	assert_true(strv_contains(&policy_netpolicy_group(np,
	    "google_cloud")->suffixes, ".googleapis.com"));
}

/* network_policy.rs 149, 150, 152 */
static void
test_netpolicy_profiles_bundle_credentials(void **state)
{
	const struct netpolicy	 *np = policy_netpolicy_builtin();

	(void)state;
	assert_true(strv_contains(&policy_netpolicy_profile(np,
	    "claude-code")->credentials, "github"));
	assert_true(strv_contains(&policy_netpolicy_profile(np,
	    "codex")->credentials, "openai"));
	assert_true(strv_contains(&policy_netpolicy_profile(np,
	    "codex")->credentials, "github"));
	assert_true(strv_contains(&policy_netpolicy_profile(np,
	    "developer")->credentials, "github"));
	assert_true(strv_contains(&policy_netpolicy_profile(np,
	    "opencode")->credentials, "google-ai"));
}

/* network_policy.rs 134, 147 (SPEC §5: OPENAI_API_KEY, not nono's OPENAI) */
static void
test_netpolicy_builtin_openai_route(void **state)
{
	const struct route_def	*d;

	(void)state;
	d = policy_netpolicy_credential(policy_netpolicy_builtin(), "openai");
	assert_non_null(d);
	assert_string_equal(d->upstream, "https://api.openai.com/v1");
	assert_string_equal(d->credential_key, "env://OPENAI_API_KEY");
	assert_int_equal(d->inject_mode, INJECT_HEADER);
	assert_string_equal(d->inject_header, "Authorization");
	assert_string_equal(d->credential_format, "Bearer {}");
	assert_string_equal(d->env_var, "OPENAI_API_KEY");
	assert_string_equal(d->base_url_var, "OPENAI_BASE_URL");
}

/* network_policy.rs 148 */
static void
test_netpolicy_builtin_github_route(void **state)
{
	const struct route_def	*d;

	(void)state;
	d = policy_netpolicy_credential(policy_netpolicy_builtin(), "github");
	assert_string_equal(d->name, "github");
	assert_string_equal(d->upstream, "https://api.github.com");
	assert_string_equal(d->credential_key, "env://GITHUB_TOKEN");
	assert_string_equal(d->credential_format, "token {}");
	assert_string_equal(d->env_var, "GITHUB_TOKEN");
	assert_string_equal(d->base_url_var, "GITHUB_API_URL");
}

/* SPEC §5 table: every built-in route selects with its variables. */
static void
test_netpolicy_builtin_routes_select(void **state)
{
	static const struct {
		const char	*name, *host, *phantom, *base;
	} want[] = {
		{ "openai", "api.openai.com", "OPENAI_API_KEY",
		    "OPENAI_BASE_URL" },
		{ "anthropic", "api.anthropic.com", "ANTHROPIC_API_KEY",
		    "ANTHROPIC_BASE_URL" },
		{ "gemini", "generativelanguage.googleapis.com",
		    "GEMINI_API_KEY", "GEMINI_BASE_URL" },
		{ "google-ai", "generativelanguage.googleapis.com",
		    "GOOGLE_API_KEY", "GOOGLE_AI_BASE_URL" },
		{ "github", "api.github.com", "GITHUB_TOKEN",
		    "GITHUB_API_URL" },
		{ "gitlab", "gitlab.com", "GITLAB_TOKEN", "GITLAB_BASE_URL" },
	};
	struct errbuf	 e;
	struct route	*r;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		r = policy_route_new(policy_netpolicy_credential(
		    policy_netpolicy_builtin(), want[i].name), &e);
		assert_non_null(r);
		assert_string_equal(r->up_host, want[i].host);
		assert_string_equal(r->phantom_var, want[i].phantom);
		assert_string_equal(r->base_url_var, want[i].base);
		policy_route_free(r);
	}
}

/* network_policy.rs 136 re-expressed: lookup of an unknown service */
static void
test_netpolicy_unknown_credential_is_null(void **state)
{
	(void)state;
	assert_null(policy_netpolicy_credential(policy_netpolicy_builtin(),
	    "nonexistent_service"));
}

static void
test_netpolicy_credential_defaults(void **state)
{
	struct netpolicy	*np = parse_ok("{\"credentials\": {\"my-svc\":"
				    " {\"upstream\": \"https://x.com/api\"}}}");
	const struct route_def	*d = policy_netpolicy_credential(np, "my-svc");

	(void)state;
	assert_string_equal(d->credential_key, "env://MY_SVC_API_KEY");
	assert_int_equal(d->inject_mode, INJECT_HEADER);
	assert_string_equal(d->inject_header, "Authorization");
	assert_string_equal(d->credential_format, "Bearer {}");
	assert_null(d->env_var);
	assert_null(d->base_url_var);
	assert_null(d->path_pattern);
	assert_int_equal(d->nrules, 0);
	policy_netpolicy_free(np);
}

static void
test_netpolicy_credential_all_fields(void **state)
{
	struct netpolicy	*np = parse_ok("{\"credentials\": {\"tg\": {"
	    "\"upstream\": \"https://api.telegram.org\","
	    "\"credential_key\": \"telegram_bot_token\","
	    "\"inject_mode\": \"url_path\","
	    "\"inject_header\": \"X-Custom-Auth\","
	    "\"credential_format\": \"Token {}\","
	    "\"path_pattern\": \"/bot{}/\","
	    "\"path_replacement\": \"/bot{}/\","
	    "\"query_param_name\": \"key\","
	    "\"env_var\": \"TG_TOKEN\","
	    "\"base_url_var\": \"TG_URL\","
	    "\"endpoint_rules\": [{\"method\": \"GET\","
	    " \"path\": \"/bot*/getMe\"},"
	    " {\"path\": \"/x\", \"method\": \"*\"}]}}}");
	const struct route_def	*d = policy_netpolicy_credential(np, "tg");

	(void)state;
	assert_string_equal(d->upstream, "https://api.telegram.org");
	assert_string_equal(d->credential_key, "telegram_bot_token");
	assert_int_equal(d->inject_mode, INJECT_URL_PATH);
	assert_string_equal(d->inject_header, "X-Custom-Auth");
	assert_string_equal(d->credential_format, "Token {}");
	assert_string_equal(d->path_pattern, "/bot{}/");
	assert_string_equal(d->path_replacement, "/bot{}/");
	assert_string_equal(d->query_param_name, "key");
	assert_string_equal(d->env_var, "TG_TOKEN");
	assert_string_equal(d->base_url_var, "TG_URL");
	assert_int_equal(d->nrules, 2);
	assert_string_equal(d->rules[0].method, "GET");
	assert_string_equal(d->rules[0].path, "/bot*/getMe");
	assert_string_equal(d->rules[1].method, "*");
	policy_netpolicy_free(np);
}

static void
test_netpolicy_group_hosts_are_canonical(void **state)
{
	struct netpolicy	*np = parse_ok("{\"groups\": {\"g\": {"
	    "\"hosts\": [\"Foo.COM.\", \"[::1]\"], \"suffixes\": [\".Bar.com\"]"
	    "}}}");
	const struct netgroup	*g = policy_netpolicy_group(np, "g");

	(void)state;
	assert_null(g->description);
	assert_string_equal(g->hosts.v[0], "foo.com");
	assert_string_equal(g->hosts.v[1], "::1");
	assert_string_equal(g->suffixes.v[0], ".bar.com");
	policy_netpolicy_free(np);
}

static void
test_netpolicy_empty_document_is_empty_policy(void **state)
{
	struct netpolicy	*np = parse_ok("{}");

	(void)state;
	assert_int_equal(np->ngroups + np->nprofiles + np->ncredentials, 0);
	policy_netpolicy_free(np);
	policy_netpolicy_free(NULL);
}

static void
test_netpolicy_syntax_error_names_line_and_column(void **state)
{
	(void)state;
	parse_fails("{\n  \"groups\": {,}\n}", "network policy: line 2 column "
	    "14: string or '}' expected near ','");
	parse_fails("", "network policy: line 1 column 0: '[' or '{' expected "
	    "near end of file");
}

static void
test_netpolicy_rejects_duplicate_keys(void **state)
{
	(void)state;
	parse_fails("{\"groups\": {\"a\": {}, \"a\": {}}}", "network policy: "
	    "line 1 column 24: duplicate object key near '\"a\"'");
}

static void
test_netpolicy_rejects_non_object(void **state)
{
	(void)state;
	parse_fails("[]", "network policy: the document must be an object");
	parse_fails("{\"groups\": []}", "network policy: groups: must be an "
	    "object");
	parse_fails("{\"meta\": 1}", "network policy: meta: must be an object");
	parse_fails("{\"profiles\": 1}", "network policy: profiles: must be "
	    "an object");
	parse_fails("{\"credentials\": \"x\"}", "network policy: credentials: "
	    "must be an object");
}

static void
test_netpolicy_rejects_unknown_keys(void **state)
{
	(void)state;
	parse_fails("{\"gropus\": {}}", "network policy: gropus: unknown key");
	parse_fails("{\"groups\": {\"g\": {\"host\": []}}}", "network policy: "
	    "groups.g.host: unknown key");
	parse_fails("{\"profiles\": {\"p\": {\"group\": []}}}", "network "
	    "policy: profiles.p.group: unknown key");
	parse_fails("{\"credentials\": {\"c\": {\"upstream\": \"https://x\", "
	    "\"inject\": \"header\"}}}",
	    "network policy: credentials.c.inject: unknown key");
}

static void
test_netpolicy_bad_hosts_name_the_key_path(void **state)
{
	(void)state;
	parse_fails("{\"groups\": {\"github\": {\"hosts\": \"github.com\"}}}",
	    "network policy: groups.github.hosts: must be an array of "
	    "strings");
	parse_fails("{\"groups\": {\"github\": {\"hosts\": [\"a\", 1]}}}",
	    "network policy: groups.github.hosts: must be an array of "
	    "strings");
	parse_fails("{\"groups\": {\"g\": {\"hosts\": [\"ok.com\", "
	    "\"a..b\"]}}}",
	    "network policy: groups.g.hosts[1]: host 'a..b': empty label");
	parse_fails("{\"groups\": {\"g\": {\"suffixes\": [\"x.com\"]}}}",
	    "network policy: groups.g.suffixes[0]: a suffix starts with '.'");
	parse_fails("{\"groups\": {\"g\": {\"description\": 5}}}",
	    "network policy: groups.g.description: must be a string");
}

static void
test_netpolicy_profile_with_unknown_group_is_an_error(void **state)
{
	(void)state;
	parse_fails("{\"profiles\": {\"p\": {\"groups\": [\"nope\"]}}, "
	    "\"groups\": {}}", "network policy: profiles.p.groups: unknown "
	    "group 'nope'");
}

static void
test_netpolicy_profile_with_unknown_credential_is_an_error(void **state)
{
	(void)state;
	parse_fails("{\"profiles\": {\"p\": {\"credentials\": [\"nope\"]}}}",
	    "network policy: profiles.p.credentials: unknown credential "
	    "'nope'");
}

static void
test_netpolicy_profiles_may_precede_groups(void **state)
{
	struct netpolicy	*np = parse_ok("{\"profiles\": {\"p\": "
	    "{\"groups\": [\"g\"]}}, \"groups\": {\"g\": {\"hosts\": "
	    "[\"a.com\"]}}}");

	(void)state;
	assert_string_equal(policy_netpolicy_profile(np, "p")->groups.v[0],
	    "g");
	policy_netpolicy_free(np);
}

static void
test_netpolicy_credential_errors_name_the_key_path(void **state)
{
	(void)state;
	parse_fails("{\"credentials\": {\"c\": {}}}", "network policy: "
	    "credentials.c.upstream: required");
	parse_fails("{\"credentials\": {\"c\": {\"upstream\": 1}}}", "network "
	    "policy: credentials.c.upstream: must be a string");
	parse_fails("{\"credentials\": {\"c\": {\"upstream\": \"https://x\", "
	    "\"inject_mode\": \"cookie\"}}}", "network policy: "
	    "credentials.c.inject_mode: unknown mode 'cookie' (header, "
	    "url_path, query_param, basic_auth)");
	parse_fails("{\"credentials\": {\"c\": {\"upstream\": \"https://x\", "
	    "\"endpoint_rules\": [{\"method\": \"GET\"}]}}}", "network policy: "
	    "credentials.c.endpoint_rules[0]: needs method and path");
	parse_fails("{\"credentials\": {\"c\": {\"upstream\": \"https://x\", "
	    "\"endpoint_rules\": {}}}}", "network policy: "
	    "credentials.c.endpoint_rules: must be an array");
	parse_fails("{\"credentials\": {\"c\": {\"upstream\": \"https://x\", "
	    "\"endpoint_rules\": [{\"method\": \"GET\", \"path\": \"/\", "
	    "\"x\": 1}]}}}", "network policy: "
	    "credentials.c.endpoint_rules[0].x: unknown key");
}

static void
test_netpolicy_credential_is_checked_as_a_route(void **state)
{
	(void)state;
	parse_fails("{\"credentials\": {\"c\": {\"upstream\": "
	    "\"http://api.example.com\"}}}", "network policy: credentials.c: "
	    "route 'c': upstream http://api.example.com must use https (plain "
	    "http only for loopback)");
}

/*
 * Start-up skips parsing the policy when no allow-list entry could name
 * a group: that is only right while no group name looks like a host.
 */
static void
test_netpolicy_group_name_that_reads_as_a_host_is_refused(void **state)
{
	(void)state;
	parse_fails("{\"groups\": {\"example.com\": {\"hosts\": []}}}",
	    "network policy: groups.example.com: a group name has none of "
	    "'.:/*[]' (it would read as a host)");
	parse_fails("{\"groups\": {\"a:1\": {}}}", "network policy: "
	    "groups.a:1: a group name has none of '.:/*[]' (it would read as "
	    "a host)");
}

static void
test_netpolicy_only_entries_without_host_characters_may_name_groups(
    void **state)
{
	const struct netpolicy	*np = policy_netpolicy_builtin();
	size_t			 i;

	(void)state;
	for (i = 0; i < np->ngroups; i++)
		assert_true(policy_netpolicy_may_name_group(
		    np->groups[i].name));
	assert_true(policy_netpolicy_may_name_group("localhost"));
	assert_false(policy_netpolicy_may_name_group("example.com"));
	assert_false(policy_netpolicy_may_name_group("*.example.com"));
	assert_false(policy_netpolicy_may_name_group("host:443"));
	assert_false(policy_netpolicy_may_name_group("https://x"));
	assert_false(policy_netpolicy_may_name_group("[::1]"));
}

int
main(void)
{
#define T(f)	cmocka_unit_test(f)
	const struct CMUnitTest tests[] = {
		T(test_netpolicy_builtin_parses),
		T(test_netpolicy_group_name_that_reads_as_a_host_is_refused),
		T(test_netpolicy_only_entries_without_host_characters_may_name_groups),
		T(test_netpolicy_builtin_groups),
		T(test_netpolicy_builtin_profiles_name_groups),
		T(test_netpolicy_unknown_profile_is_null),
		T(test_netpolicy_enterprise_has_suffixes),
		T(test_netpolicy_profiles_bundle_credentials),
		T(test_netpolicy_builtin_openai_route),
		T(test_netpolicy_builtin_github_route),
		T(test_netpolicy_builtin_routes_select),
		T(test_netpolicy_unknown_credential_is_null),
		T(test_netpolicy_credential_defaults),
		T(test_netpolicy_credential_all_fields),
		T(test_netpolicy_group_hosts_are_canonical),
		T(test_netpolicy_empty_document_is_empty_policy),
		T(test_netpolicy_syntax_error_names_line_and_column),
		T(test_netpolicy_rejects_duplicate_keys),
		T(test_netpolicy_rejects_non_object),
		T(test_netpolicy_rejects_unknown_keys),
		T(test_netpolicy_bad_hosts_name_the_key_path),
		T(test_netpolicy_profile_with_unknown_group_is_an_error),
		T(test_netpolicy_profile_with_unknown_credential_is_an_error),
		T(test_netpolicy_profiles_may_precede_groups),
		T(test_netpolicy_credential_errors_name_the_key_path),
		T(test_netpolicy_credential_is_checked_as_a_route),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
