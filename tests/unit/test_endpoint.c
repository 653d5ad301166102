#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "policy/endpoint.h"
#include "policy/route.h"

/*
 * Compile rules given as "METHOD", "PATH" pairs (NULL-terminated) for a
 * route called "svc"; fails the test on a compile error.
 */
static struct endpoint_rules *
rules(const char *first, ...)
{
	struct route_def	*d = policy_route_def_new("svc");
	struct endpoint_rules	*r;
	struct errbuf		 e;
	const char		*m, *p;
	va_list			 ap;

	va_start(ap, first);
	for (m = first; m != NULL; m = va_arg(ap, const char *)) {
		p = va_arg(ap, const char *);
		policy_route_def_add_rule(d, m, p);
	}
	va_end(ap);
	errbuf_clear(&e);
	r = policy_endpoint_compile(d, &e);
	if (r == NULL)
		fail_msg("compile: %s", errbuf_msg(&e));
	policy_route_def_free(d);
	return r;
}

/* Compiling one rule fails with exactly msg. */
static void
assert_compile_fails(const char *method, const char *path, const char *msg)
{
	struct route_def	*d = policy_route_def_new("github");
	struct errbuf		 e;

	policy_route_def_add_rule(d, "GET", "/ok");
	policy_route_def_add_rule(d, method, path);
	errbuf_clear(&e);
	assert_null(policy_endpoint_compile(d, &e));
	assert_string_equal(errbuf_msg(&e), msg);
	policy_route_def_free(d);
}

static void
assert_path_ok(const char *path)
{
	struct errbuf	e;

	errbuf_clear(&e);
	if (policy_endpoint_check_path(path, &e) != 0)
		fail_msg("%s: %s", path, errbuf_msg(&e));
}

static void
assert_path_bad(const char *path, const char *msg)
{
	struct errbuf	e;

	errbuf_clear(&e);
	if (policy_endpoint_check_path(path, &e) != -1)
		fail_msg("%s: accepted, wanted '%s'", path, msg);
	assert_string_equal(errbuf_msg(&e), msg);
}

#define ALLOW(r, m, p)	assert_true(policy_endpoint_allows((r), (m), (p)))
#define DENY(r, m, p)	assert_false(policy_endpoint_allows((r), (m), (p)))

/* config.rs 19, 32 */
static void
test_endpoint_no_rules_allows_all(void **state)
{
	struct route_def	*d = policy_route_def_new("svc");
	struct endpoint_rules	*r;
	struct errbuf		 e;

	(void)state;
	r = policy_endpoint_compile(d, &e);
	assert_non_null(r);
	ALLOW(r, "GET", "/anything");
	ALLOW(r, "DELETE", "/admin/nuke");
	ALLOW(NULL, "DELETE", "/admin/nuke");
	policy_endpoint_free(r);
	policy_endpoint_free(NULL);
	policy_route_def_free(d);
}

/* config.rs 20 */
static void
test_endpoint_exact_path_matches_only_itself(void **state)
{
	struct endpoint_rules	*r = rules("GET", "/v1/chat/completions",
	    NULL);

	(void)state;
	ALLOW(r, "GET", "/v1/chat/completions");
	DENY(r, "GET", "/v1/chat");
	DENY(r, "GET", "/v1/chat/completions/extra");
	DENY(r, "GET", "/v1/chat/completion");
	policy_endpoint_free(r);
}

/* config.rs 21, 22, 23 */
static void
test_endpoint_methods_compare_case_insensitively(void **state)
{
	struct endpoint_rules	*r = rules("get", "/api/resource", NULL);
	struct endpoint_rules	*any = rules("*", "/api/resource", NULL);
	struct endpoint_rules	*g = rules("GET", "/api/resource", NULL);

	(void)state;
	ALLOW(r, "GET", "/api/resource");
	ALLOW(r, "Get", "/api/resource");
	ALLOW(any, "GET", "/api/resource");
	ALLOW(any, "DELETE", "/api/resource");
	ALLOW(any, "POST", "/api/resource");
	DENY(g, "POST", "/api/resource");
	DENY(g, "DELETE", "/api/resource");
	DENY(g, "GETX", "/api/resource");
	policy_endpoint_free(r);
	policy_endpoint_free(any);
	policy_endpoint_free(g);
}

/* config.rs 24 */
static void
test_endpoint_star_is_exactly_one_segment(void **state)
{
	struct endpoint_rules	*r = rules("GET",
	    "/api/v4/projects/*/merge_requests", NULL);
	struct endpoint_rules	*i = rules("GET", "/repos/*/issues", NULL);

	(void)state;
	ALLOW(r, "GET", "/api/v4/projects/123/merge_requests");
	ALLOW(r, "GET", "/api/v4/projects/my-proj/merge_requests");
	DENY(r, "GET", "/api/v4/projects/merge_requests");
	ALLOW(i, "GET", "/repos/a/issues");
	/* nono's globset lets '*' cross '/'; here it does not. */
	DENY(i, "GET", "/repos/a/b/issues");
	DENY(i, "GET", "/repos//issues");
	DENY(i, "GET", "/repos/issues");
	policy_endpoint_free(r);
	policy_endpoint_free(i);
}

/* config.rs 25 */
static void
test_endpoint_double_star_at_end_is_zero_or_more(void **state)
{
	struct endpoint_rules	*r = rules("GET", "/api/v4/projects/**",
	    NULL);

	(void)state;
	ALLOW(r, "GET", "/api/v4/projects/123");
	ALLOW(r, "GET", "/api/v4/projects/123/merge_requests");
	ALLOW(r, "GET", "/api/v4/projects/a/b/c/d");
	/* Zero segments: stricter nono globs want one, SPEC says zero. */
	ALLOW(r, "GET", "/api/v4/projects");
	ALLOW(r, "GET", "/api/v4/projects/");
	DENY(r, "GET", "/api/v4/other");
	DENY(r, "GET", "/api/v4/projectsX/1");
	DENY(r, "GET", "/api/v4");
	policy_endpoint_free(r);
}

/* config.rs 26 */
static void
test_endpoint_double_star_in_the_middle_backtracks(void **state)
{
	struct endpoint_rules	*r = rules("*", "/api/**/notes", NULL);
	struct endpoint_rules	*m = rules("GET", "/a/**/b/*/c", NULL);

	(void)state;
	ALLOW(r, "GET", "/api/notes");
	ALLOW(r, "GET", "/api/projects/123/notes");
	ALLOW(r, "GET", "/api/a/b/c/notes");
	ALLOW(r, "GET", "/api/notes/notes");
	DENY(r, "GET", "/api/a/b/c/comments");
	DENY(r, "GET", "/api/notes/x");
	ALLOW(m, "GET", "/a/b/x/c");
	ALLOW(m, "GET", "/a/b/b/x/c");
	ALLOW(m, "GET", "/a/q/b/c/b/x/c");
	DENY(m, "GET", "/a/b/c");
	DENY(m, "GET", "/a/b/x/y/c");
	policy_endpoint_free(r);
	policy_endpoint_free(m);
}

/* config.rs 27 */
static void
test_endpoint_query_string_is_not_matched(void **state)
{
	struct endpoint_rules	*r = rules("GET", "/api/data", NULL);

	(void)state;
	ALLOW(r, "GET", "/api/data?page=1&limit=10");
	ALLOW(r, "GET", "/api/data?");
	DENY(r, "GET", "/api?/data");
	policy_endpoint_free(r);
}

/* config.rs 28, 29 */
static void
test_endpoint_empty_segments_and_trailing_slash_collapse(void **state)
{
	struct endpoint_rules	*r = rules("GET", "/api/data", NULL);
	struct endpoint_rules	*s = rules("GET", "//api//data/", NULL);

	(void)state;
	ALLOW(r, "GET", "/api/data/");
	ALLOW(r, "GET", "/api/data");
	ALLOW(r, "GET", "/api//data");
	ALLOW(r, "GET", "//api/data//");
	ALLOW(s, "GET", "/api/data");
	policy_endpoint_free(r);
	policy_endpoint_free(s);
}

/* config.rs 30 */
static void
test_endpoint_root_rule_matches_only_root(void **state)
{
	struct endpoint_rules	*r = rules("GET", "/", NULL);

	(void)state;
	ALLOW(r, "GET", "/");
	ALLOW(r, "GET", "//");
	ALLOW(r, "GET", "/?x=1");
	DENY(r, "GET", "/anything");
	policy_endpoint_free(r);
}

/* config.rs 31, 34 */
static void
test_endpoint_several_rules_any_may_allow(void **state)
{
	struct endpoint_rules	*r = rules("GET", "/repos/*/issues",
	    "POST", "/repos/*/issues/*/comments", NULL);

	(void)state;
	ALLOW(r, "GET", "/repos/myrepo/issues");
	ALLOW(r, "POST", "/repos/myrepo/issues/42/comments");
	DENY(r, "DELETE", "/repos/myrepo");
	DENY(r, "GET", "/repos/myrepo/pulls");
	DENY(r, "POST", "/repos/myrepo/issues");
	DENY(r, "GET", "/repos/myrepo/issues/42/comments");
	policy_endpoint_free(r);
}

/* config.rs 33 */
static void
test_endpoint_compile_refuses_character_class(void **state)
{
	(void)state;
	assert_compile_fails("GET", "/api/[invalid", "route 'github': "
	    "endpoint rule 'GET /api/[invalid': glob character '[' is not "
	    "supported (a segment is a literal, * or **)");
}

static void
test_endpoint_compile_refuses_other_glob_syntax(void **state)
{
	(void)state;
	assert_compile_fails("GET", "/a*", "route 'github': endpoint rule "
	    "'GET /a*': glob character '*' is not supported (a segment is a "
	    "literal, * or **)");
	assert_compile_fails("GET", "/x/***/y", "route 'github': endpoint "
	    "rule 'GET /x/***/y': glob character '*' is not supported (a "
	    "segment is a literal, * or **)");
	assert_compile_fails("GET", "/a/b?", "route 'github': endpoint rule "
	    "'GET /a/b?': glob character '?' is not supported (a segment is a "
	    "literal, * or **)");
	assert_compile_fails("GET", "/{a,b}", "route 'github': endpoint "
	    "rule 'GET /{a,b}': glob character '{' is not supported (a "
	    "segment is a literal, * or **)");
	assert_compile_fails("GET", "/a]", "route 'github': endpoint rule "
	    "'GET /a]': glob character ']' is not supported (a segment is a "
	    "literal, * or **)");
	assert_compile_fails("GET", "/a\\b", "route 'github': endpoint rule "
	    "'GET /a\\\\b': glob character '\\' is not supported (a segment "
	    "is a literal, * or **)");
}

static void
test_endpoint_compile_refuses_bad_method_and_path(void **state)
{
	(void)state;
	assert_compile_fails("GE T", "/a", "route 'github': endpoint rule "
	    "'GE T /a': the method must be a token or *");
	assert_compile_fails("", "/a", "route 'github': endpoint rule "
	    "' /a': the method must be a token or *");
	assert_compile_fails("GET", "api/x", "route 'github': endpoint rule "
	    "'GET api/x': the path must start with '/'");
	assert_compile_fails("GET", "", "route 'github': endpoint rule "
	    "'GET ': the path must start with '/'");
	assert_compile_fails("GET", "/a/../b", "route 'github': endpoint "
	    "rule 'GET /a/../b': dot segment in path");
	assert_compile_fails("GET", "/a%2fb", "route 'github': endpoint "
	    "rule 'GET /a%2fb': encoded slash (%2f) in path");
	assert_compile_fails("GET", "/a%zz", "route 'github': endpoint "
	    "rule 'GET /a%zz': invalid percent escape in path");
	assert_compile_fails("GET", "/a\x01", "route 'github': endpoint "
	    "rule 'GET /a\\x01': NUL or control byte in path");
}

static void
test_endpoint_encoded_star_in_a_rule_is_a_literal(void **state)
{
	struct endpoint_rules	*r = rules("GET", "/a/%2A", NULL);

	(void)state;
	ALLOW(r, "GET", "/a/*");
	ALLOW(r, "GET", "/a/%2a");
	DENY(r, "GET", "/a/b");
	policy_endpoint_free(r);
}

/* config.rs 36, 37, 38 */
static void
test_endpoint_request_segments_are_percent_decoded(void **state)
{
	struct endpoint_rules	*r = rules("GET", "/api/v4/projects/*/issues",
	    NULL);
	struct endpoint_rules	*d = rules("POST", "/api/data", NULL);
	struct endpoint_rules	*c = rules("GET", "/repos/*/issues", NULL);
	struct endpoint_rules	*sp = rules("GET", "/a%20b", NULL);

	(void)state;
	ALLOW(r, "GET", "/api/v4/%70rojects/123/issues");
	ALLOW(r, "GET", "/api/v4/pro%6Aects/123/issues");
	ALLOW(r, "GET", "/api/v4/projects/%31%32/issues");
	ALLOW(d, "POST", "/api/%64%61%74%61");
	ALLOW(c, "GET", "/repos/myrepo/%69ssues");
	DENY(c, "GET", "/repos/myrepo/%70ulls");
	ALLOW(sp, "GET", "/a%20b");
	policy_endpoint_free(r);
	policy_endpoint_free(d);
	policy_endpoint_free(c);
	policy_endpoint_free(sp);
}

/* config.rs 39 */
static void
test_endpoint_invalid_utf8_never_matches_a_different_literal(void **state)
{
	struct endpoint_rules	*r = rules("GET", "/api/projects", NULL);
	struct endpoint_rules	*f = rules("GET", "/api/%FFprojects", NULL);

	(void)state;
	DENY(r, "GET", "/api/%FFprojects");
	/* Bytes stay bytes: the same invalid byte matches itself. */
	ALLOW(f, "GET", "/api/%ffprojects");
	policy_endpoint_free(r);
	policy_endpoint_free(f);
}

static void
test_endpoint_allows_refuses_noncanonical_paths(void **state)
{
	struct endpoint_rules	*r = rules("GET", "/repos/*/issues/**",
	    NULL);

	(void)state;
	/* nono allowed this one and sent /user/keys upstream. */
	DENY(r, "GET", "/repos/x/issues/../../../user/keys");
	DENY(r, "GET", "/repos/x/issues/%2e%2e/%2E%2e/user");
	DENY(r, "GET", "/repos/x/issues/a%2fb");
	DENY(r, "GET", "/repos/x/issues/a\\b");
	DENY(r, "GET", "repos/x/issues");
	DENY(r, "GET", NULL);
	DENY(r, NULL, "/repos/x/issues");
	ALLOW(r, "GET", "/repos/x/issues/...");
	policy_endpoint_free(r);
}

static void
test_check_path_refuses_dot_segments(void **state)
{
	(void)state;
	assert_path_bad("/..", "dot segment in path");
	assert_path_bad("/.", "dot segment in path");
	assert_path_bad("/a/./b", "dot segment in path");
	assert_path_bad("/a/../b", "dot segment in path");
	assert_path_bad("/a/..?x=1", "dot segment in path");
	assert_path_bad("/a/%2e%2e/b", "dot segment in path");
	assert_path_bad("/a/.%2E", "dot segment in path");
	assert_path_bad("/a/%2e", "dot segment in path");
	assert_path_bad("/a/%2E/", "dot segment in path");
}

static void
test_check_path_refuses_backslashes_and_encoded_slashes(void **state)
{
	(void)state;
	assert_path_bad("/a\\b", "backslash in path");
	assert_path_bad("/a/%5cb", "encoded backslash (%5c) in path");
	assert_path_bad("/a/%5C", "encoded backslash (%5c) in path");
	assert_path_bad("/a%2fb", "encoded slash (%2f) in path");
	assert_path_bad("/a%2F", "encoded slash (%2f) in path");
}

static void
test_check_path_refuses_control_bytes_and_bad_escapes(void **state)
{
	(void)state;
	assert_path_bad("/a\tb", "NUL or control byte in path");
	assert_path_bad("/a\x7f", "NUL or control byte in path");
	assert_path_bad("/a\r\n", "NUL or control byte in path");
	assert_path_bad("/a%00", "encoded NUL or control byte in path");
	assert_path_bad("/a%0d%0a", "encoded NUL or control byte in path");
	assert_path_bad("/a%1F", "encoded NUL or control byte in path");
	assert_path_bad("/a%7f", "encoded NUL or control byte in path");
	assert_path_bad("/a%", "invalid percent escape in path");
	assert_path_bad("/a%4", "invalid percent escape in path");
	assert_path_bad("/a%g0", "invalid percent escape in path");
	assert_path_bad("/a?x=%", "invalid percent escape in query");
	assert_path_bad("/a?x=%zz", "invalid percent escape in query");
	assert_path_bad("/a?x=\x01", "NUL or control byte in query");
	assert_path_bad("/a#b", "fragment ('#') in path");
	assert_path_bad("/a/*/c#/..", "fragment ('#') in path");
	assert_path_bad("/a?x=1#f", "fragment ('#') in query");
	assert_path_bad("a/b", "path does not start with '/'");
	assert_path_bad("", "path does not start with '/'");
	assert_path_bad(NULL, "path does not start with '/'");
}

static void
test_check_path_accepts_canonical_paths(void **state)
{
	(void)state;
	assert_path_ok("/");
	assert_path_ok("/v1/chat/completions");
	assert_path_ok("/a//b/");
	assert_path_ok("/a/.../b");
	assert_path_ok("/a/.b/c.");
	assert_path_ok("/a/%2e%2e%2e");
	assert_path_ok("/a%20b/%41%ff");
	/* The query is data: only raw controls and bad escapes count. */
	assert_path_ok("/v1/chat/completions?x=%2F");
	assert_path_ok("/a?x=../..&y=%5c\\&z=%0A%00");
	assert_path_ok("/a?b?c");
	assert_path_ok("/a/%23");
}

int
main(void)
{
#define T(f)	cmocka_unit_test(f)
	const struct CMUnitTest tests[] = {
		T(test_endpoint_no_rules_allows_all),
		T(test_endpoint_exact_path_matches_only_itself),
		T(test_endpoint_methods_compare_case_insensitively),
		T(test_endpoint_star_is_exactly_one_segment),
		T(test_endpoint_double_star_at_end_is_zero_or_more),
		T(test_endpoint_double_star_in_the_middle_backtracks),
		T(test_endpoint_query_string_is_not_matched),
		T(test_endpoint_empty_segments_and_trailing_slash_collapse),
		T(test_endpoint_root_rule_matches_only_root),
		T(test_endpoint_several_rules_any_may_allow),
		T(test_endpoint_compile_refuses_character_class),
		T(test_endpoint_compile_refuses_other_glob_syntax),
		T(test_endpoint_compile_refuses_bad_method_and_path),
		T(test_endpoint_encoded_star_in_a_rule_is_a_literal),
		T(test_endpoint_request_segments_are_percent_decoded),
		T(test_endpoint_invalid_utf8_never_matches_a_different_literal),
		T(test_endpoint_allows_refuses_noncanonical_paths),
		T(test_check_path_refuses_dot_segments),
		T(test_check_path_refuses_backslashes_and_encoded_slashes),
		T(test_check_path_refuses_control_bytes_and_bad_escapes),
		T(test_check_path_accepts_canonical_paths),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
