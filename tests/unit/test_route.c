#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "policy/route.h"
#include "util/xmalloc.h"

static void
assert_url(const char *url, bool tls, const char *host, uint16_t port,
    const char *path)
{
	struct errbuf	 e;
	char		*h, *p;
	uint16_t	 pt;
	bool		 t;

	errbuf_clear(&e);
	if (policy_route_parse_url(url, &t, &h, &pt, &p, &e) == -1)
		fail_msg("%s: %s", url, errbuf_msg(&e));
	assert_int_equal(t, tls);
	assert_string_equal(h, host);
	assert_int_equal(pt, port);
	assert_string_equal(p, path);
	free(h);
	free(p);
}

static void
assert_url_fails(const char *url, const char *msg)
{
	struct errbuf	 e;
	char		*h = (char *)1, *p = (char *)1;
	uint16_t	 pt;
	bool		 t;

	errbuf_clear(&e);
	assert_int_equal(policy_route_parse_url(url, &t, &h, &pt, &p, &e), -1);
	assert_string_equal(errbuf_msg(&e), msg);
	assert_null(h);
	assert_null(p);
}

/* A definition with name and upstream; the caller frees it. */
static struct route_def *
def(const char *name, const char *upstream)
{
	struct route_def	*d = policy_route_def_new(name);

	d->upstream = xstrdup(upstream);
	return d;
}

static struct route *
route_ok(const struct route_def *d)
{
	struct errbuf	 e;
	struct route	*r;

	errbuf_clear(&e);
	if ((r = policy_route_new(d, &e)) == NULL)
		fail_msg("%s: %s", d->name, errbuf_msg(&e));
	return r;
}

static void
route_fails(const struct route_def *d, const char *msg)
{
	struct errbuf	e;

	errbuf_clear(&e);
	assert_null(policy_route_new(d, &e));
	assert_string_equal(errbuf_msg(&e), msg);
}

/* credential.rs 54 */
static void
test_route_url_https_defaults_to_443(void **state)
{
	(void)state;
	assert_url("https://api.openai.com", true, "api.openai.com", 443, "");
}

/* credential.rs 55 */
static void
test_route_url_https_with_port(void **state)
{
	(void)state;
	assert_url("https://api.openai.com:8443", true, "api.openai.com", 8443,
	    "");
}

/* credential.rs 56 */
static void
test_route_url_http_with_port(void **state)
{
	(void)state;
	assert_url("http://internal:4096", false, "internal", 4096, "");
}

/* credential.rs 57 */
static void
test_route_url_http_defaults_to_80(void **state)
{
	(void)state;
	assert_url("http://internal-service", false, "internal-service", 80,
	    "");
}

/* credential.rs 58 */
static void
test_route_url_host_is_lower_cased(void **state)
{
	(void)state;
	assert_url("https://GitLab-PRD.Home.Example.COM", true,
	    "gitlab-prd.home.example.com", 443, "");
	assert_url("HTTPS://api.example.com.", true, "api.example.com", 443,
	    "");
}

/* credential.rs 59, reverse.rs 88 */
static void
test_route_url_keeps_path(void **state)
{
	(void)state;
	assert_url("https://api.example.com/v1/endpoint", true,
	    "api.example.com", 443, "/v1/endpoint");
	assert_url("https://api.openai.com/v1/chat/completions", true,
	    "api.openai.com", 443, "/v1/chat/completions");
}

/* reverse.rs 89 */
static void
test_route_url_http_localhost_with_path(void **state)
{
	(void)state;
	assert_url("http://localhost:8080/api", false, "localhost", 8080,
	    "/api");
}

/* reverse.rs 90 */
static void
test_route_url_drops_trailing_slashes(void **state)
{
	(void)state;
	assert_url("https://api.anthropic.com/", true, "api.anthropic.com",
	    443, "");
	assert_url("https://gitlab.com/api/", true, "gitlab.com", 443, "/api");
	assert_url("https://gitlab.com/api//", true, "gitlab.com", 443,
	    "/api");
}

static void
test_route_url_ipv6_host(void **state)
{
	(void)state;
	assert_url("http://[::1]:8080/x", false, "::1", 8080, "/x");
	assert_url("https://[2001:DB8::1]", true, "2001:db8::1", 443, "");
}

/* credential.rs 60, reverse.rs 91 */
static void
test_route_url_needs_http_scheme(void **state)
{
	(void)state;
	assert_url_fails("api.openai.com", "URL 'api.openai.com': scheme "
	    "must be http:// or https://");
	assert_url_fails("ftp://example.com", "URL 'ftp://example.com': "
	    "scheme must be http:// or https://");
	assert_url_fails("https:/x", "URL 'https:/x': scheme must be http:// "
	    "or https://");
}

static void
test_route_url_rejects_userinfo(void **state)
{
	(void)state;
	assert_url_fails("https://user:pw@api.example.com",
	    "URL 'https://user:pw@api.example.com': user info is not allowed");
}

static void
test_route_url_rejects_query_and_fragment(void **state)
{
	(void)state;
	assert_url_fails("https://x.com/v1?a=b", "URL 'https://x.com/v1?a=b': "
	    "a query or fragment is not allowed");
	assert_url_fails("https://x.com#f", "URL 'https://x.com#f': a query "
	    "or fragment is not allowed");
}

static void
test_route_url_rejects_bad_ports(void **state)
{
	(void)state;
	assert_url_fails("https://x.com:0", "URL 'https://x.com:0': bad port "
	    "(1-65535)");
	assert_url_fails("https://x.com:65536", "URL 'https://x.com:65536': "
	    "bad port (1-65535)");
	assert_url_fails("https://x.com:", "URL 'https://x.com:': bad port "
	    "(1-65535)");
	assert_url_fails("https://x.com:8a/", "URL 'https://x.com:8a/': bad "
	    "port (1-65535)");
	assert_url_fails("https://x.com:-1", "URL 'https://x.com:-1': bad "
	    "port (1-65535)");
	assert_url_fails("https://x.com:1:2", "URL 'https://x.com:1:2': bad "
	    "port (1-65535)");
}

static void
test_route_url_rejects_bad_hosts(void **state)
{
	(void)state;
	assert_url_fails("https://", "URL 'https://': empty host");
	assert_url_fails("https:///v1", "URL 'https:///v1': empty host");
	assert_url_fails("https://a..b", "URL 'https://a..b': host 'a..b': "
	    "empty label");
	assert_url_fails("https://[::1", "URL 'https://[::1': missing ']'");
	assert_url_fails("https://[::1]x", "URL 'https://[::1]x': unexpected "
	    "text after ']'");
	assert_url_fails("https://[x]", "URL 'https://[x]': host '[x]': not a "
	    "valid IPv6 address in brackets");
}

static void
test_route_url_rejects_space_in_path(void **state)
{
	(void)state;
	assert_url_fails("https://x.com/a b", "URL 'https://x.com/a b': space "
	    "or control byte in the path");
}

static void
test_route_inject_mode_names_round_trip(void **state)
{
	static const char *const names[] = {
		"header", "url_path", "query_param", "basic_auth",
	};
	enum inject_mode	 m;
	size_t			 i;

	(void)state;
	for (i = 0; i < 4; i++) {
		assert_int_equal(policy_route_inject_mode(names[i], &m), 0);
		assert_int_equal(m, (enum inject_mode)i);
		assert_string_equal(policy_route_inject_mode_name(m),
		    names[i]);
	}
	assert_int_equal(policy_route_inject_mode("Header", &m), -1);
	assert_int_equal(policy_route_inject_mode("cookie", &m), -1);
}

static void
test_route_def_copy_is_deep(void **state)
{
	struct route_def	*d = def("svc", "https://x.com");
	struct route_def	*c;

	(void)state;
	d->env_var = xstrdup("SVC_KEY");
	d->inject_mode = INJECT_QUERY_PARAM;
	d->query_param_name = xstrdup("key");
	policy_route_def_add_rule(d, "GET", "/v1/*");
	policy_route_def_add_rule(d, "*", "/v2/**");
	c = policy_route_def_copy(d);
	policy_route_def_free(d);
	assert_string_equal(c->name, "svc");
	assert_string_equal(c->upstream, "https://x.com");
	assert_string_equal(c->env_var, "SVC_KEY");
	assert_int_equal(c->inject_mode, INJECT_QUERY_PARAM);
	assert_string_equal(c->query_param_name, "key");
	assert_null(c->path_pattern);
	assert_int_equal(c->nrules, 2);
	assert_string_equal(c->rules[1].method, "*");
	assert_string_equal(c->rules[1].path, "/v2/**");
	policy_route_def_free(c);
	policy_route_def_free(NULL);
}

static void
test_route_def_defaults(void **state)
{
	struct route_def	*d = policy_route_def_new("my-svc");

	(void)state;
	assert_int_equal(d->inject_mode, INJECT_HEADER);
	assert_null(d->credential_key);
	policy_route_def_fill_defaults(d);
	assert_string_equal(d->credential_key, "env://MY_SVC_API_KEY");
	assert_string_equal(d->inject_header, "Authorization");
	assert_string_equal(d->credential_format, "Bearer {}");
	policy_route_def_free(d);
}

static void
test_route_new_parses_upstream(void **state)
{
	struct route_def	*d = def("openai", "https://api.openai.com/v1");
	struct route		*r = route_ok(d);

	(void)state;
	assert_true(r->up_tls);
	assert_string_equal(r->up_host, "api.openai.com");
	assert_int_equal(r->up_port, 443);
	assert_string_equal(r->up_path, "/v1");
	assert_string_equal(r->def->inject_header, "Authorization");
	policy_route_free(r);
	policy_route_def_free(d);
}

/* network_policy.rs 140, 143 */
static void
test_route_new_allows_http_for_loopback(void **state)
{
	static const char *const ok[] = {
		"http://localhost:8080/api", "http://127.0.0.1:3000",
		"http://127.1.2.3:8080/api", "http://[::1]:9000",
		"http://LOCALHOST.",
	};
	struct route_def	*d;
	struct route		*r;
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		d = def("local", ok[i]);
		r = route_ok(d);
		assert_false(r->up_tls);
		policy_route_free(r);
		policy_route_def_free(d);
	}
}

static void
test_route_new_refuses_http_elsewhere(void **state)
{
	struct route_def	*d = def("svc", "http://api.example.com/v1");

	(void)state;
	route_fails(d, "route 'svc': upstream http://api.example.com/v1 must "
	    "use https (plain http only for loopback)");
	policy_route_def_free(d);
	/* 0.0.0.0 is not loopback (nono allowed it; SPEC §4.6 does not) */
	d = def("svc", "http://0.0.0.0:3000/api");
	route_fails(d, "route 'svc': upstream http://0.0.0.0:3000/api must "
	    "use https (plain http only for loopback)");
	policy_route_def_free(d);
	d = def("svc", "http://10.0.0.1");
	route_fails(d, "route 'svc': upstream http://10.0.0.1 must use https "
	    "(plain http only for loopback)");
	policy_route_def_free(d);
}

static void
test_route_new_names_the_route_on_bad_url(void **state)
{
	struct route_def	*d = def("svc", "ftp://x");

	(void)state;
	route_fails(d, "route 'svc': upstream: URL 'ftp://x': scheme must be "
	    "http:// or https://");
	policy_route_def_free(d);
	d = policy_route_def_new("svc");
	route_fails(d, "route 'svc': no upstream");
	policy_route_def_free(d);
}

static void
test_route_new_derives_variable_names(void **state)
{
	struct route_def	*d = def("my-svc", "https://x.com");
	struct route		*r = route_ok(d);

	(void)state;
	assert_string_equal(r->base_url_var, "MY_SVC_BASE_URL");
	assert_string_equal(r->phantom_var, "MY_SVC_API_KEY");
	assert_string_equal(r->def->credential_key, "env://MY_SVC_API_KEY");
	policy_route_free(r);
	policy_route_def_free(d);
}

static void
test_route_new_uses_explicit_variable_names(void **state)
{
	struct route_def	*d = def("github", "https://api.github.com");
	struct route		*r;

	(void)state;
	d->env_var = xstrdup("GITHUB_TOKEN");
	d->base_url_var = xstrdup("GITHUB_API_URL");
	d->credential_key = xstrdup("env://GITHUB_TOKEN");
	r = route_ok(d);
	assert_string_equal(r->base_url_var, "GITHUB_API_URL");
	assert_string_equal(r->phantom_var, "GITHUB_TOKEN");
	policy_route_free(r);
	policy_route_def_free(d);
}

/* server.rs 68: a bare key name becomes the phantom variable. */
static void
test_route_new_phantom_var_from_bare_key(void **state)
{
	struct route_def	*d = def("openai", "https://api.openai.com");
	struct route		*r;

	(void)state;
	d->credential_key = xstrdup("openai_api_key");
	r = route_ok(d);
	assert_string_equal(r->phantom_var, "OPENAI_API_KEY");
	policy_route_free(r);
	policy_route_def_free(d);
}

/* server.rs 69: a URI key never becomes a variable name. */
static void
test_route_new_phantom_var_not_from_uri_key(void **state)
{
	struct route_def	*d = def("openai", "https://api.openai.com");
	struct route		*r;

	(void)state;
	d->credential_key = xstrdup("op://Development/OpenAI/credential");
	r = route_ok(d);
	assert_string_equal(r->phantom_var, "OPENAI_API_KEY");
	policy_route_free(r);
	policy_route_def_free(d);
}

static void
test_route_new_copies_the_definition(void **state)
{
	struct route_def	*d = def("svc", "https://x.com");
	struct route		*r;

	(void)state;
	policy_route_def_add_rule(d, "GET", "/a");
	r = route_ok(d);
	policy_route_def_free(d);
	assert_string_equal(r->def->name, "svc");
	assert_int_equal(r->def->nrules, 1);
	assert_string_equal(r->def->rules[0].path, "/a");
	policy_route_free(r);
	policy_route_free(NULL);
}

static void
test_route_new_rejects_bad_names(void **state)
{
	struct route_def	*d = def("a/b", "https://x.com");

	(void)state;
	route_fails(d, "route 'a/b': a name is letters, digits, '_' or '-'");
	policy_route_def_free(d);
	d = def("", "https://x.com");
	route_fails(d, "route '': a name is letters, digits, '_' or '-'");
	policy_route_def_free(d);
}

/* network_policy.rs 145 and the inject-mode checks of §12.4 */
static void
test_route_new_checks_inject_mode_needs(void **state)
{
	struct route_def	*d = def("svc", "https://x.com");
	struct route		*r;

	(void)state;
	d->inject_header = xstrdup("X Custom");
	route_fails(d, "route 'svc': inject_header 'X Custom' is not a header "
	    "name");
	free(d->inject_header);
	d->inject_header = xstrdup("X-Custom-Auth");
	d->credential_format = xstrdup("Token {}\r\nX: y");
	route_fails(d, "route 'svc': credential_format contains CR or LF");
	free(d->credential_format);
	d->credential_format = xstrdup("Token {}");
	r = route_ok(d);
	assert_string_equal(r->def->inject_header, "X-Custom-Auth");
	assert_string_equal(r->def->credential_format, "Token {}");
	policy_route_free(r);
	d->inject_mode = INJECT_URL_PATH;
	route_fails(d, "route 'svc': inject_mode url_path needs a path_pattern "
	    "containing {}");
	d->path_pattern = xstrdup("/bot{}/");
	d->path_replacement = xstrdup("/bot/");
	route_fails(d, "route 'svc': path_replacement must contain {}");
	d->inject_mode = INJECT_QUERY_PARAM;
	route_fails(d, "route 'svc': inject_mode query_param needs a "
	    "query_param_name of letters, digits, '_' or '-'");
	d->query_param_name = xstrdup("api_key");
	r = route_ok(d);
	policy_route_free(r);
	policy_route_def_free(d);
}

int
main(void)
{
#define T(f)	cmocka_unit_test(f)
	const struct CMUnitTest tests[] = {
		T(test_route_url_https_defaults_to_443),
		T(test_route_url_https_with_port),
		T(test_route_url_http_with_port),
		T(test_route_url_http_defaults_to_80),
		T(test_route_url_host_is_lower_cased),
		T(test_route_url_keeps_path),
		T(test_route_url_http_localhost_with_path),
		T(test_route_url_drops_trailing_slashes),
		T(test_route_url_ipv6_host),
		T(test_route_url_needs_http_scheme),
		T(test_route_url_rejects_userinfo),
		T(test_route_url_rejects_query_and_fragment),
		T(test_route_url_rejects_bad_ports),
		T(test_route_url_rejects_bad_hosts),
		T(test_route_url_rejects_space_in_path),
		T(test_route_inject_mode_names_round_trip),
		T(test_route_def_copy_is_deep),
		T(test_route_def_defaults),
		T(test_route_new_parses_upstream),
		T(test_route_new_allows_http_for_loopback),
		T(test_route_new_refuses_http_elsewhere),
		T(test_route_new_names_the_route_on_bad_url),
		T(test_route_new_derives_variable_names),
		T(test_route_new_uses_explicit_variable_names),
		T(test_route_new_phantom_var_from_bare_key),
		T(test_route_new_phantom_var_not_from_uri_key),
		T(test_route_new_copies_the_definition),
		T(test_route_new_rejects_bad_names),
		T(test_route_new_checks_inject_mode_needs),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
