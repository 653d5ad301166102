/*
 * policy_plan_build: command line + optional profile -> struct plan
 * (SPEC §2.1 precedence, §4.1 limits, §4.3 allow-list, §4.7 upstream,
 * §5 routes, §6 no_proxy).  Every plan here is built for `keyhole proxy`
 * (no filesystem grants, so no HOME is read) unless a test says otherwise.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli.h"
#include "policy/allowlist.h"
#include "policy/plan.h"
#include "policy/route.h"
#include "profile/profile.h"
#include "util/errbuf.h"
#include "util/strv.h"
#include "util/xmalloc.h"

#define MAXARGS	64

/* HOME and XDG_* for the "run" plans (grants read the default profile). */
static char	tmphome[64];

struct fixture {
	struct cli	 cli;
	struct errbuf	 e;
	struct profile	*prof;
	struct plan	*plan;
};

static int
group_setup(void **state)
{
	char	xdg[128];

	(void)state;
	snprintf(tmphome, sizeof(tmphome), "/tmp/kh-test-plan-XXXXXX");
	if (mkdtemp(tmphome) == NULL)
		return -1;
	snprintf(xdg, sizeof(xdg), "%s/.config", tmphome);
	if (setenv("HOME", tmphome, 1) == -1 ||
	    setenv("XDG_CONFIG_HOME", xdg, 1) == -1)
		return -1;
	unsetenv("XDG_DATA_HOME");
	unsetenv("XDG_STATE_HOME");
	unsetenv("XDG_CACHE_HOME");
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	return rmdir(tmphome);
}

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

	policy_plan_free(f->plan);
	profile_free(f->prof);
	cli_free(&f->cli);
	free(f);
	return 0;
}

/*
 * Parse "keyhole" + the NULL-terminated words with an empty environment (so
 * KEYHOLE_* / NONO_* of whoever runs the tests cannot leak in).  The
 * parse must succeed.
 */
static void
parse(struct fixture *f, ...)
{
	char		*argv[MAXARGS + 1];
	char		*envv[1] = { NULL };
	const char	*s;
	va_list		 ap;
	int		 argc = 0, i, rc;

	argv[argc++] = xstrdup("keyhole");
	va_start(ap, f);
	while ((s = va_arg(ap, const char *)) != NULL) {
		assert_true(argc < MAXARGS);
		argv[argc++] = xstrdup(s);
	}
	va_end(ap);
	argv[argc] = NULL;
	rc = cli_parse(&f->cli, argc, argv, envv, &f->e);
	for (i = 0; i < argc; i++) {
		memset(argv[i], 'X', strlen(argv[i]));
		free(argv[i]);
	}
	if (rc != 0)
		fail_msg("cli_parse failed: %s", errbuf_msg(&f->e));
}

#define PARSE(f, ...)	parse(f, __VA_ARGS__, (const char *)NULL)

/* A profile document, parsed strictly (no extends, not finalised). */
static struct profile *
prof_json(const char *json)
{
	struct errbuf	 e = { 0 };
	struct profile	*p;

	p = profile_parse_bytes(json, strlen(json), "t.json", &e);
	if (p == NULL)
		fail_msg("profile_parse_bytes failed: %s", errbuf_msg(&e));
	return p;
}

/* A profile document loaded as `-p FILE` would be: extends, finalised. */
static struct profile *
prof_load(const char *json)
{
	struct profile_env	 env = { 0 };
	struct errbuf		 e = { 0 };
	struct profile		*p;
	char			 xdg[128];

	snprintf(xdg, sizeof(xdg), "%s/.config", tmphome);
	env.home = tmphome;
	env.xdg_config_home = xdg;
	env.uid = getuid();
	p = profile_load_bytes(json, strlen(json), "t.json", &env, &e);
	if (p == NULL)
		fail_msg("profile_load_bytes failed: %s", errbuf_msg(&e));
	return p;
}

/* Build the plan; it must succeed. */
static struct plan *
build(struct fixture *f)
{
	f->plan = policy_plan_build(&f->cli, f->prof, &f->e);
	if (f->plan == NULL)
		fail_msg("policy_plan_build failed: %s", errbuf_msg(&f->e));
	return f->plan;
}

/* Build the plan; it must fail with a message containing each needle. */
static void
build_fails(struct fixture *f, ...)
{
	const char	*needle, *msg;
	va_list		 ap;

	f->plan = policy_plan_build(&f->cli, f->prof, &f->e);
	assert_null(f->plan);
	msg = errbuf_msg(&f->e);
	va_start(ap, f);
	while ((needle = va_arg(ap, const char *)) != NULL)
		if (strstr(msg, needle) == NULL)
			fail_msg("error '%s' lacks '%s'", msg, needle);
	va_end(ap);
}

#define BUILD_FAILS(f, ...)	build_fails(f, __VA_ARGS__, (const char *)NULL)

/* Index of the allow entry written as source (canonical host), or -1. */
static int
allow_idx(const struct plan *p, const char *host)
{
	size_t	i;

	for (i = 0; i < p->allow.n; i++)
		if (strcmp(p->allow.v[i].host, host) == 0)
			return (int)i;
	return -1;
}

static bool
strv_has(const struct strv *v, const char *s)
{
	size_t	i;

	for (i = 0; i < v->n; i++)
		if (strcmp(v->v[i], s) == 0)
			return true;
	return false;
}

/* True when some warning contains needle. */
static bool
warned(const struct plan *p, const char *needle)
{
	size_t	i;

	for (i = 0; i < p->warnings.n; i++)
		if (strstr(p->warnings.v[i], needle) != NULL)
			return true;
	return false;
}

#define F	struct fixture *f = *state

/* ---- network mode (SPEC 2.1, 3) ---- */

static void
test_plan_block_net_beats_proxy_flags_with_warning(void **state)
{
	F;
	struct plan	*p;

	PARSE(f, "proxy", "--block-net", "--allow-domain", "a.test",
	    "--credential", "openai");
	p = build(f);
	assert_int_equal(p->mode, NET_BLOCKED);
	assert_false(policy_plan_proxy_on(p));
	assert_true(warned(p, "--block-net overrides"));
	assert_true(warned(p, "blocked"));
}

static void
test_plan_block_net_alone_has_no_warning(void **state)
{
	F;
	struct plan	*p;

	PARSE(f, "proxy", "--block-net");
	p = build(f);
	assert_int_equal(p->mode, NET_BLOCKED);
	assert_int_equal(p->warnings.n, 0);
}

static void
test_plan_block_net_overrides_profile_proxy_with_warning(
    void **state)
{
	F;
	struct plan	*p;

	f->prof = prof_json("{\"network\":{\"allow_domain\":[\"p.test\"]}}");
	PARSE(f, "proxy", "--block-net");
	p = build(f);
	assert_int_equal(p->mode, NET_BLOCKED);
	assert_true(warned(p, "--block-net overrides"));
}

static void
test_plan_block_net_beats_allow_net(void **state)
{
	F;

	PARSE(f, "proxy", "--block-net", "--allow-net");
	assert_int_equal(build(f)->mode, NET_BLOCKED);
}

static void
test_plan_allow_net_gives_allow_mode(void **state)
{
	F;
	struct plan	*p;

	PARSE(f, "proxy", "--allow-net");
	p = build(f);
	assert_int_equal(p->mode, NET_ALLOW);
	assert_false(policy_plan_proxy_on(p));
}

static void
test_plan_allow_net_ignores_profile_proxy_settings(void **state)
{
	F;
	struct plan	*p;

	f->prof = prof_json("{\"network\":{\"allow_domain\":[\"p.test\"],"
	    "\"network_profile\":\"minimal\",\"credentials\":[\"openai\"],"
	    "\"upstream_proxy\":\"corp.test:3128\","
	    "\"upstream_bypass\":[\"in.test\"],"
	    "\"no_proxy\":[\"np.test\"]}}");
	PARSE(f, "proxy", "--allow-net");
	p = build(f);
	assert_int_equal(p->mode, NET_ALLOW);
	assert_int_equal(p->allow.n, 0);
	assert_int_equal(p->nroutes, 0);
	assert_null(p->upstream_proxy);
	assert_int_equal(p->upstream_bypass.n, 0);
	assert_int_equal(p->no_proxy_extra.n, 0);
}

static void
test_plan_allow_net_beats_profile_block(void **state)
{
	F;

	f->prof = prof_json("{\"network\":{\"block\":true}}");
	PARSE(f, "proxy", "--allow-net");
	assert_int_equal(build(f)->mode, NET_ALLOW);
}

static void
test_plan_each_proxy_flag_turns_proxy_on(void **state)
{
	static const char *const flags[][2] = {
		{ "--allow-domain", "a.test" },
		{ "--network-profile", "minimal" },
		{ "--credential", "openai" },
		{ "--upstream-proxy", "corp.test:3128" },
	};
	F;
	size_t	i;

	for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		/* "run" would otherwise be proxy-less: it needs the flag. */
		PARSE(f, "run", flags[i][0], flags[i][1], "--", "true");
		f->plan = policy_plan_build(&f->cli, NULL, &f->e);
		if (f->plan == NULL)
			fail_msg("%s: %s", flags[i][0], errbuf_msg(&f->e));
		if (f->plan->mode != NET_PROXY)
			fail_msg("%s did not give proxy mode", flags[i][0]);
		assert_true(policy_plan_proxy_on(f->plan));
		policy_plan_free(f->plan);
		f->plan = NULL;
		cli_free(&f->cli);
		memset(&f->cli, 0, sizeof(f->cli));
	}
}

static void
test_plan_run_without_network_options_is_allow(void **state)
{
	F;

	PARSE(f, "run", "--", "true");
	assert_int_equal(build(f)->mode, NET_ALLOW);
}

static void
test_plan_profile_block_gives_blocked(void **state)
{
	F;

	f->prof = prof_json("{\"network\":{\"block\":true}}");
	PARSE(f, "proxy");
	assert_int_equal(build(f)->mode, NET_BLOCKED);
}

static void
test_plan_profile_allow_domain_gives_proxy(void **state)
{
	F;
	struct plan	*p;

	f->prof = prof_load("{\"network\":{\"allow_domain\":[\"p.test\"]}}");
	PARSE(f, "run", "--", "true");
	p = build(f);
	assert_int_equal(p->mode, NET_PROXY);
	assert_int_not_equal(allow_idx(p, "p.test"), -1);
}

static void
test_plan_cli_proxy_flag_beats_profile_block(void **state)
{
	F;
	struct plan	*p;

	f->prof = prof_json("{\"network\":{\"block\":true}}");
	PARSE(f, "proxy", "--allow-domain", "a.test");
	p = build(f);
	assert_int_equal(p->mode, NET_PROXY);
	assert_int_not_equal(allow_idx(p, "a.test"), -1);
	assert_false(warned(p, "--block-net overrides"));
}

/* ---- allow-list (SPEC 4.3) ---- */

static void
test_plan_network_profile_hosts_are_allowed(void **state)
{
	F;
	struct plan	*p;

	PARSE(f, "proxy", "--network-profile", "minimal");
	p = build(f);
	assert_int_not_equal(allow_idx(p, "api.openai.com"), -1);
	assert_int_not_equal(allow_idx(p, "api.anthropic.com"), -1);
	assert_true(policy_allowlist_allows(&p->allow, "api.openai.com", 443,
	    ALLOW_USE_CONNECT));
	assert_false(policy_allowlist_allows(&p->allow, "evil.test", 443,
	    ALLOW_USE_CONNECT));
}

static void
test_plan_unknown_network_profile_is_named(void **state)
{
	F;

	PARSE(f, "proxy", "--network-profile", "no-such-np");
	BUILD_FAILS(f, "unknown network profile 'no-such-np'");
}

static void
test_plan_allow_list_order_netprofile_profile_cli(
    void **state)
{
	F;
	struct plan	*p;
	int		 np, pr, cl;

	f->prof = prof_json("{\"network\":{\"allow_domain\":[\"p.test\"]}}");
	PARSE(f, "proxy", "--network-profile", "minimal", "--allow-domain",
	    "c.test");
	p = build(f);
	np = allow_idx(p, "api.openai.com");
	pr = allow_idx(p, "p.test");
	cl = allow_idx(p, "c.test");
	assert_int_not_equal(np, -1);
	assert_int_not_equal(pr, -1);
	assert_int_not_equal(cl, -1);
	assert_true(np < pr);
	assert_true(pr < cl);
	assert_int_equal(cl, (int)p->allow.n - 1);
}

static void
test_plan_host_port_entry_is_a_direct_grant(void **state)
{
	F;
	struct plan	*p;
	int		 d, h;

	PARSE(f, "proxy", "--allow-domain", "db.test:5432", "--allow-domain",
	    "web.test");
	p = build(f);
	d = allow_idx(p, "db.test");
	h = allow_idx(p, "web.test");
	assert_int_not_equal(d, -1);
	assert_int_not_equal(h, -1);
	assert_true(p->allow.v[d].direct);
	assert_int_equal(p->allow.v[d].port, 5432);
	assert_string_equal(p->allow.v[d].source, "db.test:5432");
	assert_false(p->allow.v[h].direct);
	assert_int_equal(p->allow.v[h].port, 0);
}

static void
test_plan_bad_cli_allow_domain_fails_naming_it(void **state)
{
	F;

	PARSE(f, "proxy", "--allow-domain", "https://a.test/path");
	BUILD_FAILS(f, "https://a.test/path");
}

/* ---- credential routes (SPEC 5) ---- */

static void
test_plan_credential_openai_route(void **state)
{
	F;
	struct plan		*p;
	const struct route	*r;

	PARSE(f, "proxy", "--credential", "openai");
	p = build(f);
	assert_int_equal(p->nroutes, 1);
	r = policy_plan_route(p, "openai");
	assert_non_null(r);
	assert_true(r->up_tls);
	assert_string_equal(r->up_host, "api.openai.com");
	assert_int_equal(r->up_port, 443);
	assert_string_equal(r->up_path, "/v1");
	assert_string_equal(r->base_url_var, "OPENAI_BASE_URL");
	assert_string_equal(r->phantom_var, "OPENAI_API_KEY");
	assert_string_equal(r->def->credential_key, "env://OPENAI_API_KEY");
	assert_null(policy_plan_route(p, "github"));
	/* Only --credential: the allow-list stays empty (any host). */
	assert_int_equal(p->allow.n, 0);
}

static void
test_plan_credential_given_twice_is_one_route(void **state)
{
	F;

	PARSE(f, "proxy", "--credential", "openai", "--credential", "openai");
	assert_int_equal(build(f)->nroutes, 1);
}

static void
test_plan_network_profile_codex_bundles_openai_and_github(void **state)
{
	F;
	struct plan		*p;
	const struct route	*r;

	PARSE(f, "proxy", "--network-profile", "codex");
	p = build(f);
	assert_int_equal(p->nroutes, 2);
	assert_non_null(policy_plan_route(p, "openai"));
	r = policy_plan_route(p, "github");
	assert_non_null(r);
	assert_string_equal(r->up_host, "api.github.com");
	assert_string_equal(r->base_url_var, "GITHUB_API_URL");
	assert_string_equal(r->phantom_var, "GITHUB_TOKEN");
}

static void
test_plan_profile_credentials_add_routes(void **state)
{
	F;
	struct plan	*p;

	f->prof = prof_json("{\"network\":{\"credentials\":[\"github\"]}}");
	PARSE(f, "proxy", "--credential", "openai");
	p = build(f);
	assert_int_equal(p->nroutes, 2);
	assert_non_null(policy_plan_route(p, "github"));
	assert_non_null(policy_plan_route(p, "openai"));
}

static void
test_plan_profile_empty_credentials_clear_the_base(void **state)
{
	F;
	struct profile	*base, *child, *keep;
	struct plan	*p;

	base = prof_json("{\"network\":{\"credentials\":[\"openai\"]}}");
	/* Control: a child without credentials inherits the base's. */
	child = prof_json("{\"network\":{}}");
	keep = profile_merge(base, child);
	profile_free(child);
	PARSE(f, "proxy");
	p = policy_plan_build(&f->cli, keep, &f->e);
	profile_free(keep);
	assert_non_null(p);
	assert_non_null(policy_plan_route(p, "openai"));
	assert_int_equal(p->mode, NET_PROXY);
	policy_plan_free(p);

	child = prof_json("{\"network\":{\"credentials\":[]}}");
	f->prof = profile_merge(base, child);
	profile_free(child);
	profile_free(base);
	p = build(f);
	assert_int_equal(p->nroutes, 0);
	assert_null(policy_plan_route(p, "openai"));
}

static void
test_plan_profile_custom_credential_overrides_builtin(void **state)
{
	F;
	struct plan		*p;
	const struct route	*r;

	f->prof = prof_json("{\"network\":{\"custom_credentials\":{\"openai\":"
	    "{\"upstream\":\"https://llm.corp.test/api\","
	    "\"credential_key\":\"env://CORP_LLM_KEY\","
	    "\"env_var\":\"CORP_LLM_TOKEN\"}}}}");
	PARSE(f, "proxy", "--credential", "openai");
	p = build(f);
	assert_int_equal(p->nroutes, 1);
	r = policy_plan_route(p, "openai");
	assert_non_null(r);
	assert_string_equal(r->up_host, "llm.corp.test");
	assert_string_equal(r->up_path, "/api");
	assert_string_equal(r->def->upstream, "https://llm.corp.test/api");
	assert_string_equal(r->def->credential_key, "env://CORP_LLM_KEY");
	assert_string_equal(r->phantom_var, "CORP_LLM_TOKEN");
	/* The name is still openai: the base-URL variable follows it. */
	assert_string_equal(r->base_url_var, "OPENAI_BASE_URL");
}

static void
test_plan_profile_custom_credential_is_selectable(void **state)
{
	F;
	struct plan		*p;
	const struct route	*r;

	f->prof = prof_json("{\"network\":{\"custom_credentials\":{\"corp\":"
	    "{\"upstream\":\"https://corp.test\","
	    "\"credential_key\":\"corp_key\"}}}}");
	PARSE(f, "proxy", "--credential", "corp");
	p = build(f);
	r = policy_plan_route(p, "corp");
	assert_non_null(r);
	assert_string_equal(r->up_host, "corp.test");
	assert_string_equal(r->base_url_var, "CORP_BASE_URL");
	/* A bare keyring account names the phantom variable. */
	assert_string_equal(r->phantom_var, "CORP_KEY");
}

static void
test_plan_unknown_credential_names_it_and_the_available(void **state)
{
	F;

	PARSE(f, "proxy", "--credential", "nosuchsvc");
	BUILD_FAILS(f, "unknown credential service 'nosuchsvc'", "available:",
	    "openai", "github", "anthropic", "gitlab");
}

static void
test_plan_unknown_credential_lists_profile_custom_ones(void **state)
{
	F;

	f->prof = prof_json("{\"network\":{\"custom_credentials\":{\"corp\":"
	    "{\"upstream\":\"https://corp.test\","
	    "\"credential_key\":\"corp_key\"}}}}");
	PARSE(f, "proxy", "--credential", "nosuchsvc");
	BUILD_FAILS(f, "'nosuchsvc'", "openai", "corp");
}

static void
test_plan_allow_endpoint_attaches_a_rule_to_the_route(void **state)
{
	F;
	struct plan		*p;
	const struct route	*r;

	PARSE(f, "proxy", "--credential", "openai", "--allow-endpoint",
	    "openai:GET:/x");
	p = build(f);
	r = policy_plan_route(p, "openai");
	assert_non_null(r);
	assert_int_equal(r->def->nrules, 1);
	assert_string_equal(r->def->rules[0].method, "GET");
	assert_string_equal(r->def->rules[0].path, "/x");
}

static void
test_plan_allow_endpoint_leaves_the_builtin_alone(
    void **state)
{
	F;
	struct plan	*p;

	PARSE(f, "proxy", "--credential", "openai", "--allow-endpoint",
	    "openai:POST:/v1/chat/**");
	p = build(f);
	assert_int_equal(policy_plan_route(p, "openai")->def->nrules, 1);
	policy_plan_free(f->plan);
	f->plan = NULL;
	cli_free(&f->cli);
	memset(&f->cli, 0, sizeof(f->cli));
	PARSE(f, "proxy", "--credential", "openai");
	p = build(f);
	assert_int_equal(policy_plan_route(p, "openai")->def->nrules, 0);
}

static void
test_plan_allow_endpoint_for_unrequested_service_fails(void **state)
{
	F;

	PARSE(f, "proxy", "--credential", "openai", "--allow-endpoint",
	    "github:GET:/user");
	BUILD_FAILS(f, "--allow-endpoint references unknown service 'github'",
	    "--credential github");
}

/* SPEC 4.12: a HOST with a dot is a plain host with endpoint rules. */
static void
test_plan_allow_endpoint_for_a_plain_host(void **state)
{
	struct plan	*p;
	F;

	PARSE(f, "proxy", "--allow-domain", "db.test", "--allow-endpoint",
	    "DB.test.:GET:/ok/**", "--allow-endpoint", "db.test:POST:/x",
	    "--tls-intercept", "all", "--tls-intercept-exclude", "*.pin.test");
	p = build(f);
	assert_int_equal(p->nplain, 1);
	assert_string_equal(p->plain[0]->name, "db.test");
	assert_int_equal(p->plain[0]->nrules, 2);
	assert_string_equal(p->plain[0]->rules[1].method, "POST");
	assert_int_equal(p->tls_intercept, TLS_INTERCEPT_ALL);
	assert_int_equal(p->tls_intercept_exclude.n, 1);
}

/* The profile's allow_endpoint and tls_intercept_exclude (SPEC 4.12). */
static void
test_plan_profile_allow_endpoint_and_intercept_exclude(void **state)
{
	struct plan	*p;
	F;

	f->prof = prof_json("{\"network\":{\"allow_domain\":[\"db.test\"],"
	    "\"credentials\":[\"openai\"],\"tls_intercept\":\"all\","
	    "\"allow_endpoint\":[\"db.test:GET:/ok/**\",\"openai:POST:/v1/x\"],"
	    "\"tls_intercept_exclude\":[\"pin.test\"]}}");
	PARSE(f, "proxy", "--allow-endpoint", "db.test:POST:/x",
	    "--tls-intercept-exclude", "*.mtls.test");
	p = build(f);
	assert_int_equal(p->nplain, 1);
	assert_string_equal(p->plain[0]->name, "db.test");
	assert_int_equal(p->plain[0]->nrules, 2);
	/* The profile's first, then the command line's. */
	assert_string_equal(p->plain[0]->rules[0].path, "/ok/**");
	assert_string_equal(p->plain[0]->rules[1].method, "POST");
	assert_int_equal(policy_plan_route(p, "openai")->def->nrules, 1);
	assert_int_equal(p->tls_intercept_exclude.n, 2);
	assert_string_equal(p->tls_intercept_exclude.v[0], "pin.test");
	assert_string_equal(p->tls_intercept_exclude.v[1], "*.mtls.test");
}

static void
test_plan_profile_allow_endpoint_for_a_missing_route_fails(void **state)
{
	F;

	f->prof = prof_json("{\"network\":{\"allow_domain\":[\"db.test\"],"
	    "\"allow_endpoint\":[\"github:GET:/user\"]}}");
	PARSE(f, "proxy");
	BUILD_FAILS(f, "network.allow_endpoint",
	    "references unknown service 'github'");
}

/* An exclude entry that does nothing says so. */
static void
test_plan_intercept_exclude_that_does_nothing_warns(void **state)
{
	struct plan	*p;
	F;

	PARSE(f, "proxy", "--credential", "github", "--allow-domain",
	    "x.test", "--tls-intercept-exclude", "x.test");
	p = build(f);
	assert_true(strv_contains(&p->warnings,
	    "tls_intercept_exclude (--tls-intercept-exclude) only applies "
	    "with --tls-intercept all: ignored"));
	policy_plan_free(f->plan);
	f->plan = NULL;
	cli_free(&f->cli);
	memset(&f->cli, 0, sizeof(f->cli));
	PARSE(f, "proxy", "--credential", "github", "--allow-domain",
	    "x.test", "--tls-intercept", "all", "--tls-intercept-exclude",
	    "x.test", "--tls-intercept-exclude", "github.com");
	p = build(f);
	assert_int_equal(p->warnings.n, 1);
	assert_string_equal(p->warnings.v[0], "--tls-intercept-exclude "
	    "github.com: github.com is a credential host of route 'github', "
	    "always intercepted");
}

static void
test_plan_tls_intercept_defaults_to_credentials(void **state)
{
	F;

	PARSE(f, "proxy", "--credential", "openai");
	assert_int_equal(build(f)->tls_intercept, TLS_INTERCEPT_CREDENTIALS);
}

/* ---- upstream proxy (SPEC 4.7) ---- */

static void
test_plan_upstream_bypass_needs_upstream_proxy(void **state)
{
	F;

	PARSE(f, "proxy", "--allow-domain", "a.test", "--upstream-bypass",
	    "in.test");
	BUILD_FAILS(f, "--upstream-bypass requires --upstream-proxy");
}

static void
test_plan_cli_upstream_proxy_and_bypass(void **state)
{
	F;
	struct plan	*p;

	PARSE(f, "proxy", "--upstream-proxy", "corp.test:3128",
	    "--upstream-bypass", "in.test,*.lan.test");
	p = build(f);
	assert_int_equal(p->mode, NET_PROXY);
	assert_string_equal(p->upstream_proxy, "corp.test:3128");
	assert_int_equal(p->upstream_bypass.n, 2);
	assert_true(strv_has(&p->upstream_bypass, "in.test"));
	assert_true(strv_has(&p->upstream_bypass, "*.lan.test"));
}

static void
test_plan_profile_upstream_proxy_used_without_cli_one(void **state)
{
	F;
	struct plan	*p;

	f->prof = prof_json("{\"network\":{\"upstream_proxy\":"
	    "\"corp.test:3128\",\"upstream_bypass\":[\"in.test\"]}}");
	PARSE(f, "proxy", "--upstream-bypass", "cli.test");
	p = build(f);
	assert_int_equal(p->mode, NET_PROXY);
	assert_non_null(p->upstream_proxy);
	assert_string_equal(p->upstream_proxy, "corp.test:3128");
	/* No CLI proxy: profile and CLI bypass lists merge. */
	assert_int_equal(p->upstream_bypass.n, 2);
	assert_true(strv_has(&p->upstream_bypass, "in.test"));
	assert_true(strv_has(&p->upstream_bypass, "cli.test"));
}

static void
test_plan_profile_bypass_satisfies_with_profile_upstream(void **state)
{
	F;
	struct plan	*p;

	f->prof = prof_json("{\"network\":{\"upstream_proxy\":"
	    "\"corp.test:3128\",\"upstream_bypass\":[\"in.test\"]}}");
	PARSE(f, "proxy");
	p = build(f);
	assert_string_equal(p->upstream_proxy, "corp.test:3128");
	assert_int_equal(p->upstream_bypass.n, 1);
	assert_string_equal(p->upstream_bypass.v[0], "in.test");
}

static void
test_plan_cli_upstream_proxy_replaces_profile_bypass(void **state)
{
	F;
	struct plan	*p;

	f->prof = prof_json("{\"network\":{\"upstream_proxy\":"
	    "\"corp.test:3128\",\"upstream_bypass\":[\"in.test\"]}}");
	PARSE(f, "proxy", "--upstream-proxy", "other.test:8080");
	p = build(f);
	assert_string_equal(p->upstream_proxy, "other.test:8080");
	assert_int_equal(p->upstream_bypass.n, 0);
	policy_plan_free(f->plan);
	f->plan = NULL;
	cli_free(&f->cli);
	memset(&f->cli, 0, sizeof(f->cli));

	PARSE(f, "proxy", "--upstream-proxy", "other.test:8080",
	    "--upstream-bypass", "cli.test");
	p = build(f);
	assert_string_equal(p->upstream_proxy, "other.test:8080");
	assert_int_equal(p->upstream_bypass.n, 1);
	assert_string_equal(p->upstream_bypass.v[0], "cli.test");
	assert_false(strv_has(&p->upstream_bypass, "in.test"));
}

static void
test_plan_profile_bypass_without_any_upstream_fails(void **state)
{
	F;

	f->prof = prof_json("{\"network\":{\"allow_domain\":[\"a.test\"],"
	    "\"upstream_bypass\":[\"in.test\"]}}");
	PARSE(f, "proxy");
	BUILD_FAILS(f, "--upstream-bypass requires --upstream-proxy",
	    "network.upstream_proxy");
}

/* ---- --resolve ---- */

static void
test_plan_resolve_ipv4(void **state)
{
	F;
	const struct resolve_entry	*r;
	const struct sockaddr_in	*sin;
	char				 buf[INET_ADDRSTRLEN];

	PARSE(f, "proxy", "--resolve", "Host.Test.:443:127.0.0.1");
	build(f);
	assert_int_equal(f->plan->nresolve, 1);
	r = policy_plan_resolve(f->plan, "host.test", 443);
	assert_non_null(r);
	assert_string_equal(r->host, "host.test");
	assert_int_equal(r->port, 443);
	assert_int_equal(r->addrlen, sizeof(struct sockaddr_in));
	sin = (const struct sockaddr_in *)&r->addr;
	assert_int_equal(sin->sin_family, AF_INET);
	assert_int_equal(ntohs(sin->sin_port), 443);
	assert_non_null(inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf)));
	assert_string_equal(buf, "127.0.0.1");
	assert_null(policy_plan_resolve(f->plan, "host.test", 80));
	assert_null(policy_plan_resolve(f->plan, "other.test", 443));
}

static void
test_plan_resolve_ipv6_with_and_without_brackets(void **state)
{
	F;
	const struct resolve_entry	*r;
	const struct sockaddr_in6	*sin6;
	char				 buf[INET6_ADDRSTRLEN];

	PARSE(f, "proxy", "--resolve", "v6.test:8443:[::1]", "--resolve",
	    "w6.test:443:::1");
	build(f);
	assert_int_equal(f->plan->nresolve, 2);
	r = policy_plan_resolve(f->plan, "v6.test", 8443);
	assert_non_null(r);
	assert_int_equal(r->addrlen, sizeof(struct sockaddr_in6));
	sin6 = (const struct sockaddr_in6 *)&r->addr;
	assert_int_equal(sin6->sin6_family, AF_INET6);
	assert_int_equal(ntohs(sin6->sin6_port), 8443);
	assert_non_null(inet_ntop(AF_INET6, &sin6->sin6_addr, buf,
	    sizeof(buf)));
	assert_string_equal(buf, "::1");
	r = policy_plan_resolve(f->plan, "w6.test", 443);
	assert_non_null(r);
	sin6 = (const struct sockaddr_in6 *)&r->addr;
	assert_int_equal(sin6->sin6_family, AF_INET6);
	assert_int_equal(ntohs(sin6->sin6_port), 443);
	assert_true(IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr));
}

static void
test_plan_resolve_bad_address_is_named(void **state)
{
	F;

	PARSE(f, "proxy", "--resolve", "h.test:443:not-an-ip");
	BUILD_FAILS(f, "invalid --resolve 'h.test:443:not-an-ip'",
	    "HOST:PORT:ADDR");
}

static void
test_plan_resolve_bad_host_is_named(void **state)
{
	F;

	PARSE(f, "proxy", "--resolve", "bad_host!:443:127.0.0.1");
	BUILD_FAILS(f, "invalid --resolve 'bad_host!:443:127.0.0.1'");
}

/* ---- limits (SPEC 4.1) ---- */

static void
test_plan_limits_defaults(void **state)
{
	F;
	struct plan	*p;

	PARSE(f, "proxy");
	p = build(f);
	assert_int_equal(p->limits.line_max, 8 * 1024);
	assert_int_equal(p->limits.head_max, 64 * 1024);
	assert_int_equal(p->limits.head_timeout_ms, 30 * 1000);
	assert_int_equal(p->limits.max_conns, 1024);
	assert_int_equal(p->limits.max_body, 16ull * 1024 * 1024);
	assert_int_equal(p->limits.connect_timeout_ms, 10 * 1000);
	assert_int_equal(p->limits.tls_timeout_ms, 10 * 1000);
	assert_int_equal(p->limits.idle_timeout_ms, 10 * 60 * 1000);
	/* No network options on proxy: still the proxy (SPEC 4.9). */
	assert_int_equal(p->mode, NET_PROXY);
}

static void
test_plan_limits_overrides(void **state)
{
	F;
	struct plan	*p;

	PARSE(f, "proxy", "--head-timeout", "5", "--max-connections", "7",
	    "--max-body", "4096", "--idle-timeout", "60",
	    "--connect-timeout", "3");
	p = build(f);
	assert_int_equal(p->limits.head_timeout_ms, 5000);
	assert_int_equal(p->limits.max_conns, 7);
	assert_int_equal(p->limits.max_body, 4096);
	assert_int_equal(p->limits.idle_timeout_ms, 60000);
	assert_int_equal(p->limits.connect_timeout_ms, 3000);
	assert_int_equal(p->limits.tls_timeout_ms, 3000);
	/* The line and head sizes are not configurable: still defaults. */
	assert_int_equal(p->limits.line_max, PLAN_LINE_MAX);
	assert_int_equal(p->limits.head_max, PLAN_HEAD_MAX);
}

/* ---- no_proxy, ports, misc ---- */

static void
test_plan_profile_no_proxy_copied(void **state)
{
	F;
	struct plan	*p;

	f->prof = prof_json("{\"network\":{\"allow_domain\":[\"a.test\"],"
	    "\"no_proxy\":[\"corp.internal\",\".lan.test\"]}}");
	PARSE(f, "proxy");
	p = build(f);
	assert_int_equal(p->no_proxy_extra.n, 2);
	assert_string_equal(p->no_proxy_extra.v[0], "corp.internal");
	assert_string_equal(p->no_proxy_extra.v[1], ".lan.test");
}

static void
test_plan_ports_merge_profile_and_cli(void **state)
{
	F;
	struct plan	*p;

	f->prof = prof_json("{\"network\":{\"open_port\":[3000],"
	    "\"listen_port\":[8000]}}");
	PARSE(f, "proxy", "--open-port", "4000", "--listen-port", "9000",
	    "--proxy-port", "18080");
	p = build(f);
	assert_true(ports_has(&p->open_ports, 3000));
	assert_true(ports_has(&p->open_ports, 4000));
	assert_true(ports_has(&p->listen_ports, 8000));
	assert_true(ports_has(&p->listen_ports, 9000));
	assert_false(ports_has(&p->open_ports, 9000));
	assert_int_equal(p->proxy_port, 18080);
}

static void
test_plan_copies_general_options(void **state)
{
	F;
	struct plan	*p;

	PARSE(f, "proxy", "--dry-run", "-v", "-v", "--audit-log",
	    "/tmp/a.jsonl", "--upstream-ca", "/tmp/ca.pem");
	p = build(f);
	assert_true(p->dry_run);
	assert_int_equal(p->verbose, 2);
	assert_string_equal(p->audit_log, "/tmp/a.jsonl");
	assert_string_equal(p->upstream_ca, "/tmp/ca.pem");
	/* proxy builds no filesystem grants. */
	assert_int_equal(p->ngrants, 0);
}

/*
 * A run plan's existing grants carry the descriptor their resolution
 * opened (the Landlock rule's object, no second open): it names the
 * grant's canonical path; one not opened (created later) has none; the
 * plan owns them and policy_plan_free closes them.
 */
static void
test_plan_grants_keep_what_resolving_opened(void **state)
{
	const struct fs_grant	*g;
	struct stat		 want, got;
	int			 fds[256];
	size_t			 i, nfds = 0;
	F;

	PARSE(f, "run", "--read", "/usr", "--", "true");
	build(f);
	assert_true(f->plan->ngrants > 0);
	for (i = 0; i < f->plan->ngrants; i++) {
		g = &f->plan->grants[i];
		if (!g->has_fd) {
			assert_true(g->create ||
			    stat(g->path, &want) == -1 ||
			    strcmp(g->path, "/proc") == 0 ||
			    strncmp(g->path, "/tmp/keyhole-", 13) == 0);
			continue;
		}
		assert_int_equal(stat(g->path, &want), 0);
		assert_int_equal(fstat(g->fd, &got), 0);
		assert_int_equal(got.st_ino, want.st_ino);
		assert_int_equal(got.st_dev, want.st_dev);
		assert_int_equal(g->mode, want.st_mode);
		assert_int_equal(g->is_file, !S_ISDIR(want.st_mode));
		if (strcmp(g->path, "/usr") == 0)
			assert_true(g->access & FS_READ);
		assert_true(nfds < sizeof(fds) / sizeof(fds[0]));
		fds[nfds++] = g->fd;
	}
	assert_true(nfds > 0);
	policy_plan_free(f->plan);
	f->plan = NULL;
	for (i = 0; i < nfds; i++)
		assert_int_equal(fcntl(fds[i], F_GETFD), -1);
}

/*
 * The descriptors the plan's grants hold, in grant order, with the grants
 * holding them (at most FDS_MAX).
 */
#define FDS_MAX	256
static size_t
grant_fds(struct plan *p, int *fds, struct fs_grant **holders)
{
	size_t	i, n = 0;

	for (i = 0; i < p->ngrants; i++) {
		if (!p->grants[i].has_fd)
			continue;
		assert_true(n < FDS_MAX);
		holders[n] = &p->grants[i];
		fds[n++] = p->grants[i].fd;
	}
	return n;
}

/*
 * policy_plan_close_fds closes runs of consecutive grant descriptors at
 * once: every grant's descriptor is closed, a descriptor in the middle
 * of a run that is not the plan's stays open, and the grants say none.
 */
static void
test_plan_close_fds_closes_the_grants_and_no_other(void **state)
{
	struct fs_grant	*holders[FDS_MAX], *mid;
	int		 fds[FDS_MAX], other;
	size_t		 i, nfds;
	F;

	PARSE(f, "run", "--allow-cwd", "--", "true");
	build(f);
	nfds = grant_fds(f->plan, fds, holders);
	assert_true(nfds > 3);
	mid = holders[2];
	/* Its number becomes someone else's descriptor. */
	assert_int_equal(close(mid->fd), 0);
	other = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_int_equal(other, mid->fd);
	mid->has_fd = false;
	mid->fd = -1;
	policy_plan_close_fds(f->plan);
	for (i = 0; i < nfds; i++)
		if (fds[i] != other)
			assert_int_equal(fcntl(fds[i], F_GETFD), -1);
	assert_true(fcntl(other, F_GETFD) != -1);
	for (i = 0; i < f->plan->ngrants; i++) {
		assert_false(f->plan->grants[i].has_fd);
		assert_int_equal(f->plan->grants[i].fd, -1);
	}
	close(other);
}

/*
 * A grant is named by the canonical path, not the one given: through a
 * link, the target (and no grant of the link's name); a path without
 * links, as written.
 */
static void
test_plan_grant_names_the_canonical_path(void **state)
{
	char	real[128], link[128], plain[128];
	size_t	i, nreal = 0, nplain = 0;
	F;

	snprintf(real, sizeof(real), "%s/real", tmphome);
	snprintf(link, sizeof(link), "%s/ln", tmphome);
	snprintf(plain, sizeof(plain), "%s/plain", tmphome);
	assert_int_equal(mkdir(real, 0700), 0);
	assert_int_equal(mkdir(plain, 0700), 0);
	assert_int_equal(symlink("real", link), 0);
	PARSE(f, "run", "--read", link, "--write", plain, "--", "true");
	build(f);
	for (i = 0; i < f->plan->ngrants; i++) {
		assert_string_not_equal(f->plan->grants[i].path, link);
		nreal += strcmp(f->plan->grants[i].path, real) == 0;
		nplain += strcmp(f->plan->grants[i].path, plain) == 0;
	}
	assert_int_equal(nreal, 1);
	assert_int_equal(nplain, 1);
	assert_int_equal(unlink(link), 0);
	assert_int_equal(rmdir(real), 0);
	assert_int_equal(rmdir(plain), 0);
}

/*
 * Descriptors held out of order (a grant widened by a later one that
 * opened first, say): still every one closed, and only those.
 */
static void
test_plan_close_fds_in_any_order(void **state)
{
	struct fs_grant	*holders[FDS_MAX], *first, *last;
	int		 fds[FDS_MAX], other, t;
	size_t		 i, nfds;
	F;

	PARSE(f, "run", "--allow-cwd", "--", "true");
	build(f);
	nfds = grant_fds(f->plan, fds, holders);
	assert_true(nfds > 3);
	first = holders[0];
	last = holders[nfds - 1];
	t = first->fd;
	first->fd = last->fd;
	last->fd = t;
	other = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(other >= 0);
	policy_plan_close_fds(f->plan);
	for (i = 0; i < nfds; i++)
		assert_int_equal(fcntl(fds[i], F_GETFD), -1);
	assert_true(fcntl(other, F_GETFD) != -1);
	close(other);
}

/*
 * A path several groups grant (the default profile has /tmp and the
 * devices in two groups each) is resolved once and is one grant, with
 * the write access one of them gives.
 */
static void
test_plan_path_of_several_groups_is_one_grant(void **state)
{
	const struct fs_grant	*g;
	size_t			 i, j, ntmp = 0;
	F;

	PARSE(f, "run", "--allow-cwd", "--", "true");
	build(f);
	for (i = 0; i < f->plan->ngrants; i++) {
		g = &f->plan->grants[i];
		for (j = 0; j < i; j++)
			assert_false(f->plan->grants[j].is_file == g->is_file &&
			    strcmp(f->plan->grants[j].path, g->path) == 0);
		if (strcmp(g->path, "/tmp") == 0 ||
		    strcmp(g->path, "/dev/null") == 0) {
			assert_true(g->access & FS_WRITE);
			assert_true(g->has_fd);
			ntmp++;
		}
	}
	assert_int_equal(ntmp, 2);
}

/*
 * Hundreds of grants (the index of the grants rebuilt several times as
 * it grows): each directory granted read and again read or write is one
 * grant with both accesses, in the order first given, after the groups'.
 */
static void
test_plan_many_grants_of_one_path_are_one_each(void **state)
{
	enum { NDIRS = 300 };
	char		 dir[128], *argv[2 * (2 * NDIRS) + 8];
	char		*envv[1] = { NULL };
	const struct fs_grant *g;
	size_t		 i, first = 0, nfound = 0;
	int		 argc = 0;
	F;

	argv[argc++] = xstrdup("keyhole");
	argv[argc++] = xstrdup("run");
	for (i = 0; i < NDIRS; i++) {
		snprintf(dir, sizeof(dir), "%s/d%03zu", tmphome, i);
		assert_int_equal(mkdir(dir, 0700), 0);
		argv[argc++] = xstrdup("--read");
		argv[argc++] = xstrdup(dir);
	}
	for (i = 0; i < NDIRS; i += 3) {
		snprintf(dir, sizeof(dir), "%s/d%03zu", tmphome, i);
		argv[argc++] = xstrdup(i % 2 == 0 ? "--write" : "--read");
		argv[argc++] = xstrdup(dir);
	}
	argv[argc++] = xstrdup("--");
	argv[argc++] = xstrdup("true");
	argv[argc] = NULL;
	assert_int_equal(cli_parse(&f->cli, argc, argv, envv, &f->e), 0);
	build(f);
	for (i = 0; i < f->plan->ngrants; i++) {
		g = &f->plan->grants[i];
		if (strncmp(g->path, tmphome, strlen(tmphome)) != 0 ||
		    g->path[strlen(tmphome)] != '/')
			continue;
		if (nfound == 0)
			first = i;
		snprintf(dir, sizeof(dir), "%s/d%03zu", tmphome, nfound);
		assert_int_equal(i, first + nfound);
		assert_string_equal(g->path, dir);
		assert_int_equal(g->access, nfound % 6 == 0 ?
		    FS_READ | FS_WRITE : FS_READ);
		assert_int_equal(g->source, FS_SRC_USER);
		nfound++;
	}
	assert_int_equal(nfound, NDIRS);
	for (i = 0; i < (size_t)argc; i++)
		free(argv[i]);
	for (i = 0; i < NDIRS; i++) {
		snprintf(dir, sizeof(dir), "%s/d%03zu", tmphome, i);
		assert_int_equal(rmdir(dir), 0);
	}
}

static void
test_plan_free_null_is_a_noop(void **state)
{
	(void)state;
	policy_plan_free(NULL);
}

int
main(void)
{
#define T(fn)	cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_plan_block_net_beats_proxy_flags_with_warning),
		T(test_plan_block_net_alone_has_no_warning),
		T(test_plan_block_net_overrides_profile_proxy_with_warning),
		T(test_plan_block_net_beats_allow_net),
		T(test_plan_allow_net_gives_allow_mode),
		T(test_plan_allow_net_ignores_profile_proxy_settings),
		T(test_plan_allow_net_beats_profile_block),
		T(test_plan_each_proxy_flag_turns_proxy_on),
		T(test_plan_run_without_network_options_is_allow),
		T(test_plan_grants_keep_what_resolving_opened),
		T(test_plan_path_of_several_groups_is_one_grant),
		T(test_plan_close_fds_closes_the_grants_and_no_other),
		T(test_plan_profile_block_gives_blocked),
		T(test_plan_profile_allow_domain_gives_proxy),
		T(test_plan_cli_proxy_flag_beats_profile_block),
		T(test_plan_network_profile_hosts_are_allowed),
		T(test_plan_unknown_network_profile_is_named),
		T(test_plan_allow_list_order_netprofile_profile_cli),
		T(test_plan_host_port_entry_is_a_direct_grant),
		T(test_plan_bad_cli_allow_domain_fails_naming_it),
		T(test_plan_credential_openai_route),
		T(test_plan_credential_given_twice_is_one_route),
		T(test_plan_network_profile_codex_bundles_openai_and_github),
		T(test_plan_profile_credentials_add_routes),
		T(test_plan_profile_empty_credentials_clear_the_base),
		T(test_plan_profile_custom_credential_overrides_builtin),
		T(test_plan_profile_custom_credential_is_selectable),
		T(test_plan_unknown_credential_names_it_and_the_available),
		T(test_plan_unknown_credential_lists_profile_custom_ones),
		T(test_plan_allow_endpoint_attaches_a_rule_to_the_route),
		T(test_plan_allow_endpoint_leaves_the_builtin_alone),
		T(test_plan_allow_endpoint_for_unrequested_service_fails),
		T(test_plan_allow_endpoint_for_a_plain_host),
		T(test_plan_tls_intercept_defaults_to_credentials),
		T(test_plan_intercept_exclude_that_does_nothing_warns),
		T(test_plan_profile_allow_endpoint_and_intercept_exclude),
		T(test_plan_profile_allow_endpoint_for_a_missing_route_fails),
		T(test_plan_upstream_bypass_needs_upstream_proxy),
		T(test_plan_cli_upstream_proxy_and_bypass),
		T(test_plan_profile_upstream_proxy_used_without_cli_one),
		T(test_plan_profile_bypass_satisfies_with_profile_upstream),
		T(test_plan_cli_upstream_proxy_replaces_profile_bypass),
		T(test_plan_profile_bypass_without_any_upstream_fails),
		T(test_plan_resolve_ipv4),
		T(test_plan_resolve_ipv6_with_and_without_brackets),
		T(test_plan_resolve_bad_address_is_named),
		T(test_plan_resolve_bad_host_is_named),
		T(test_plan_limits_defaults),
		T(test_plan_limits_overrides),
		T(test_plan_profile_no_proxy_copied),
		T(test_plan_ports_merge_profile_and_cli),
		T(test_plan_copies_general_options),
		T(test_plan_many_grants_of_one_path_are_one_each),
		T(test_plan_close_fds_in_any_order),
		T(test_plan_grant_names_the_canonical_path),
		T(test_plan_free_null_is_a_noop),
	};
#undef T

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
