#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/route.h"
#include "profile/profile.h"
#include "util/xmalloc.h"

/*
 * Custom credentials, credential references, env_credentials and
 * environment rules (nono-profile.md §1.7.1, §1.8, §9.1 #13-#60,
 * #129-#135; SPEC §5).
 */

/*
 * Fixture H (header mode) with extra fields: "svc" with upstream
 * https://api.example.com and key api_key, then `extra` (",\"k\":v"...).
 */
static char *
cred_json(const char *upstream, const char *key, const char *extra)
{
	return xasprintf("{\"network\":{\"custom_credentials\":{\"svc\":{"
	    "\"upstream\":\"%s\",\"credential_key\":\"%s\"%s}}}}",
	    upstream, key, extra);
}

static void
check(char *json, const char *frag)
{
	struct errbuf	 e = { { 0 } };
	struct profile	*p;

	p = profile_parse_bytes(json, strlen(json), "v.json", &e);
	if (frag == NULL) {
		if (p == NULL)
			fail_msg("rejected %s: %s", json, errbuf_msg(&e));
	} else {
		if (p != NULL)
			fail_msg("accepted %s, expected '%s'", json, frag);
		if (strstr(errbuf_msg(&e), frag) == NULL)
			fail_msg("message '%s' lacks '%s'", errbuf_msg(&e),
			    frag);
	}
	profile_free(p);
	free(json);
}

#define OK_CRED(u, k, x)	check(cred_json(u, k, x), NULL)
#define BAD_CRED(u, k, x, f)	check(cred_json(u, k, x), f)
#define H_UP	"https://api.example.com"

/* ---- header token ---- */

static void
test_header_token_accepts_alphanumerics(void **state)
{
	(void)state;
	assert_true(profile_header_token_valid("a"));
	assert_true(profile_header_token_valid("Z"));
	assert_true(profile_header_token_valid("0"));
	assert_true(profile_header_token_valid("9"));
}

static void
test_header_token_accepts_tchar_specials(void **state)
{
	const char	*sp = "!#$%&'*+-.^_`|~";
	char		 s[2] = { 0, 0 };

	(void)state;
	for (; *sp != '\0'; sp++) {
		s[0] = *sp;
		assert_true(profile_header_token_valid(s));
	}
}

static void
test_header_token_rejects_separators_and_controls(void **state)
{
	(void)state;
	assert_false(profile_header_token_valid(" "));
	assert_false(profile_header_token_valid(":"));
	assert_false(profile_header_token_valid("("));
	assert_false(profile_header_token_valid(")"));
	assert_false(profile_header_token_valid("\r"));
	assert_false(profile_header_token_valid("\n"));
	assert_false(profile_header_token_valid(""));
}

/* ---- custom credentials ---- */

static void
test_custom_credential_fixture_is_valid(void **state)
{
	(void)state;
	OK_CRED(H_UP, "api_key", ",\"inject_mode\":\"header\","
	    "\"inject_header\":\"Authorization\","
	    "\"credential_format\":\"Bearer {}\"");
}

static void
test_custom_credential_http_loopback_allowed(void **state)
{
	(void)state;
	OK_CRED("http://127.0.0.1:8080/api", "api_key", "");
	OK_CRED("http://127.1.2.3:8080/api", "api_key", "");
	OK_CRED("http://localhost:3000/api", "api_key", "");
	OK_CRED("http://[::1]:8080/api", "api_key", "");
}

static void
test_custom_credential_http_remote_rejected(void **state)
{
	(void)state;
	BAD_CRED("http://api.example.com", "api_key", "",
	    "network.custom_credentials.svc.upstream: must be HTTPS "
	    "(plain http only for loopback)");
}

static void
test_custom_credential_http_unspecified_address_rejected(void **state)
{
	(void)state;
	/* nono allowed 0.0.0.0 and ::; SPEC allows loopback only. */
	BAD_CRED("http://0.0.0.0:3000/api", "api_key", "", "HTTPS");
	BAD_CRED("http://[::]:3000/api", "api_key", "", "HTTPS");
}

static void
test_custom_credential_other_scheme_rejected(void **state)
{
	(void)state;
	BAD_CRED("ftp://api.example.com", "api_key", "",
	    "svc.upstream: invalid upstream URL");
}

static void
test_custom_credential_crlf_header_rejected(void **state)
{
	(void)state;
	BAD_CRED(H_UP, "api_key",
	    ",\"inject_header\":\"X-Header\\r\\nEvil: injected\"",
	    "svc.inject_header: inject_header contains invalid characters");
}

static void
test_custom_credential_crlf_format_rejected(void **state)
{
	(void)state;
	BAD_CRED(H_UP, "api_key",
	    ",\"credential_format\":\"Bearer {}\\r\\nX-Evil: 1\"",
	    "svc.credential_format: credential_format contains invalid CRLF");
}

static void
test_custom_credential_format_lone_cr_rejected(void **state)
{
	(void)state;
	BAD_CRED(H_UP, "api_key", ",\"credential_format\":\"Bearer {}\\r\"",
	    "CRLF");
}

static void
test_custom_credential_format_lone_lf_rejected(void **state)
{
	(void)state;
	BAD_CRED(H_UP, "api_key", ",\"credential_format\":\"Bearer\\n{}\"",
	    "CRLF");
}

static void
test_custom_credential_key_with_hyphen_rejected(void **state)
{
	(void)state;
	BAD_CRED(H_UP, "api-key", "",
	    "svc.credential_key: credential_key must contain only "
	    "alphanumeric");
}

static void
test_custom_credential_bad_key_is_not_echoed(void **state)
{
	struct errbuf	 e = { { 0 } };
	struct profile	*p;
	char		*js;

	(void)state;
	js = cred_json(H_UP, "sk-live-SECRETVALUE", "");
	p = profile_parse_bytes(js, strlen(js), "v.json", &e);
	assert_null(p);
	assert_null(strstr(errbuf_msg(&e), "SECRETVALUE"));
	free(js);
}

static void
test_custom_credential_empty_key_rejected(void **state)
{
	(void)state;
	BAD_CRED(H_UP, "", "", "credential_key cannot be empty");
}

static void
test_custom_credential_empty_header_rejected(void **state)
{
	(void)state;
	BAD_CRED(H_UP, "api_key", ",\"inject_header\":\"\"",
	    "inject_header cannot be empty");
}

static void
test_custom_credential_header_with_space_rejected(void **state)
{
	(void)state;
	BAD_CRED(H_UP, "api_key", ",\"inject_header\":\"X Header\"",
	    "invalid characters");
}

static void
test_custom_credential_header_with_colon_rejected(void **state)
{
	(void)state;
	BAD_CRED(H_UP, "api_key", ",\"inject_header\":\"X-Header:\"",
	    "invalid characters");
}

static void
test_custom_credential_header_with_special_chars_allowed(void **state)
{
	(void)state;
	OK_CRED(H_UP, "api_key", ",\"inject_header\":\"X-Header!\"");
}

static void
test_custom_credential_various_formats_allowed(void **state)
{
	(void)state;
	OK_CRED(H_UP, "api_key", ",\"credential_format\":\"Bearer {}\"");
	OK_CRED(H_UP, "api_key", ",\"credential_format\":\"Token {}\"");
	OK_CRED(H_UP, "api_key", ",\"credential_format\":\"{}\"");
	OK_CRED(H_UP, "api_key", ",\"credential_format\":\"Basic {}\"");
	OK_CRED(H_UP, "api_key", ",\"credential_format\":\"ApiKey={}\"");
}

/* network.allow_endpoint and tls_intercept_exclude (SPEC 4.12). */
static void
test_allow_endpoint_and_intercept_exclude_are_checked_at_load(void **state)
{
	(void)state;
	check(xstrdup("{\"network\":{\"allow_endpoint\":[\"db.test:GET:/v1/**\","
	    "\"openai:*:/x\"],\"tls_intercept_exclude\":[\"pin.test\","
	    "\"*.mtls.test\"]}}"), NULL);
	check(xstrdup("{\"network\":{\"allow_endpoint\":[\"db.test:GET\"]}}"),
	    "network.allow_endpoint[0]: 'db.test:GET': expected "
	    "HOST:METHOD:/path");
	check(xstrdup("{\"network\":{\"allow_endpoint\":[\"db.test:GET:x\"]}}"),
	    "expected HOST:METHOD:/path");
	check(xstrdup("{\"network\":{\"allow_endpoint\":[\"::GET:/x\"]}}"),
	    "expected HOST:METHOD:/path");
	check(xstrdup("{\"network\":{\"allow_endpoint\":[\"a..b:GET:/x\"]}}"),
	    "network.allow_endpoint[0]");
	check(xstrdup("{\"network\":{\"allow_endpoint\":\"db.test:GET:/\"}}"),
	    "network.allow_endpoint");
	check(xstrdup("{\"network\":{\"tls_intercept_exclude\":[\"a.test:443\"]"
	    "}}"), "network.tls_intercept_exclude[0]: 'a.test:443': expected "
	    "a host name or *.suffix");
	check(xstrdup("{\"network\":{\"tls_intercept_exclude\":[\"\"]}}"),
	    "tls_intercept_exclude[0]");
}

static void
test_custom_credential_missing_upstream_rejected(void **state)
{
	(void)state;
	check(xstrdup("{\"network\":{\"custom_credentials\":{\"svc\":"
	    "{\"credential_key\":\"k\"}}}}"),
	    "network.custom_credentials.svc: missing field 'upstream'");
}

static void
test_custom_credential_unknown_inject_mode_rejected(void **state)
{
	(void)state;
	BAD_CRED(H_UP, "api_key", ",\"inject_mode\":\"cookie\"",
	    "svc.inject_mode: unknown variant 'cookie'");
}

static void
test_url_path_mode_valid(void **state)
{
	(void)state;
	OK_CRED(H_UP, "api_key", ",\"inject_mode\":\"url_path\","
	    "\"path_pattern\":\"/bot{}/\"");
}

static void
test_url_path_mode_needs_pattern(void **state)
{
	(void)state;
	BAD_CRED(H_UP, "api_key", ",\"inject_mode\":\"url_path\"",
	    "svc.path_pattern: path_pattern is required");
}

static void
test_url_path_pattern_needs_placeholder(void **state)
{
	(void)state;
	BAD_CRED(H_UP, "api_key", ",\"inject_mode\":\"url_path\","
	    "\"path_pattern\":\"/bot/token/\"", "{}");
}

static void
test_url_path_pattern_needs_exactly_one_placeholder(void **state)
{
	(void)state;
	BAD_CRED(H_UP, "api_key", ",\"inject_mode\":\"url_path\","
	    "\"path_pattern\":\"/bot{}/{}\"", "exactly one {}");
}

static void
test_url_path_mode_with_replacement_valid(void **state)
{
	(void)state;
	OK_CRED(H_UP, "api_key", ",\"inject_mode\":\"url_path\","
	    "\"path_pattern\":\"/bot{}/\","
	    "\"path_replacement\":\"/v2/bot{}/\"");
}

static void
test_url_path_replacement_needs_placeholder(void **state)
{
	(void)state;
	BAD_CRED(H_UP, "api_key", ",\"inject_mode\":\"url_path\","
	    "\"path_pattern\":\"/bot{}/\","
	    "\"path_replacement\":\"/v2/bot/fixed/\"",
	    "svc.path_replacement: path_replacement '/v2/bot/fixed/' must "
	    "contain exactly one {}");
}

static void
test_url_path_pattern_crlf_rejected(void **state)
{
	(void)state;
	BAD_CRED(H_UP, "api_key", ",\"inject_mode\":\"url_path\","
	    "\"path_pattern\":\"/bot{}\\r\\n\"", "CRLF");
}

static void
test_query_param_mode_valid(void **state)
{
	(void)state;
	OK_CRED(H_UP, "api_key", ",\"inject_mode\":\"query_param\","
	    "\"query_param_name\":\"key\"");
	OK_CRED(H_UP, "api_key", ",\"inject_mode\":\"query_param\","
	    "\"query_param_name\":\"api-key_2\"");
}

static void
test_query_param_mode_needs_name(void **state)
{
	(void)state;
	BAD_CRED(H_UP, "api_key", ",\"inject_mode\":\"query_param\"",
	    "query_param_name is required");
}

static void
test_query_param_name_cannot_be_empty(void **state)
{
	(void)state;
	BAD_CRED(H_UP, "api_key", ",\"inject_mode\":\"query_param\","
	    "\"query_param_name\":\"\"", "cannot be empty");
}

static void
test_query_param_name_charset(void **state)
{
	(void)state;
	BAD_CRED(H_UP, "api_key", ",\"inject_mode\":\"query_param\","
	    "\"query_param_name\":\"a&b\"",
	    "alphanumeric characters, underscores, and hyphens");
}

static void
test_basic_auth_mode_valid(void **state)
{
	(void)state;
	OK_CRED(H_UP, "api_key", ",\"inject_mode\":\"basic_auth\"");
}

static void
test_op_uri_requires_env_var(void **state)
{
	(void)state;
	BAD_CRED(H_UP, "op://Development/OpenAI/credential", "",
	    "svc.env_var: env_var is required");
}

static void
test_op_uri_with_env_var_ok(void **state)
{
	(void)state;
	OK_CRED(H_UP, "op://Development/OpenAI/credential",
	    ",\"env_var\":\"OPENAI_API_KEY\"");
}

static void
test_op_uri_needs_three_segments(void **state)
{
	(void)state;
	BAD_CRED(H_UP, "op://vault/item", ",\"env_var\":\"X\"",
	    "invalid 1Password URI");
	BAD_CRED(H_UP, "op://vault//field", ",\"env_var\":\"X\"",
	    "invalid 1Password URI");
	BAD_CRED(H_UP, "op://v/i/f;rm", ",\"env_var\":\"X\"",
	    "forbidden characters");
}

static void
test_apple_password_uri_is_not_supported_on_linux(void **state)
{
	(void)state;
	BAD_CRED(H_UP, "apple-password://github.com/alice@example.com",
	    ",\"env_var\":\"GITHUB_PASSWORD\"", "not supported on Linux");
	BAD_CRED(H_UP, "apple-passwords://github.com/alice",
	    ",\"env_var\":\"GITHUB_PASSWORD\"", "not supported on Linux");
}

static void
test_invalid_apple_password_uri_is_named(void **state)
{
	(void)state;
	BAD_CRED(H_UP, "apple-password://github.com", ",\"env_var\":\"X\"",
	    "invalid Apple Passwords URI");
}

static void
test_bitwarden_uri_is_not_supported_on_linux(void **state)
{
	(void)state;
	BAD_CRED(H_UP, "bw://item-id", ",\"env_var\":\"X\"",
	    "bw:// (Bitwarden) is not supported on Linux");
}

static void
test_env_var_empty_rejected(void **state)
{
	(void)state;
	BAD_CRED(H_UP, "api_key", ",\"env_var\":\"\"",
	    "svc.env_var: env_var cannot be empty");
}

static void
test_env_var_invalid_chars_rejected(void **state)
{
	(void)state;
	BAD_CRED(H_UP, "api_key", ",\"env_var\":\"OPEN-AI_KEY\"",
	    "alphanumeric");
}

static void
test_env_var_on_blocklist_rejected(void **state)
{
	(void)state;
	BAD_CRED(H_UP, "api_key", ",\"env_var\":\"LD_PRELOAD\"", "blocklist");
	BAD_CRED(H_UP, "api_key", ",\"env_var\":\"ld_preload\"", "blocklist");
	BAD_CRED(H_UP, "api_key", ",\"env_var\":\"Path\"", "blocklist");
}

static void
test_env_var_optional_for_keyring_keys(void **state)
{
	(void)state;
	OK_CRED(H_UP, "api_key", "");
	OK_CRED(H_UP, "api_key", ",\"env_var\":\"MY_CUSTOM_VAR\"");
}

static void
test_env_uri_key_accepted_with_env_var(void **state)
{
	(void)state;
	/* nono refused env:// here; SPEC §5 lists it as a source. */
	OK_CRED(H_UP, "env://TOKEN", ",\"env_var\":\"TOKEN\"");
	BAD_CRED(H_UP, "env://TOKEN", "", "env_var is required");
	BAD_CRED(H_UP, "env://LD_PRELOAD", ",\"env_var\":\"X\"",
	    "invalid env:// URI");
	BAD_CRED(H_UP, "env://", ",\"env_var\":\"X\"", "invalid env:// URI");
}

static void
test_keyring_and_cmd_uris(void **state)
{
	(void)state;
	OK_CRED(H_UP, "keyring://keyhole/openai", ",\"env_var\":\"X\"");
	BAD_CRED(H_UP, "keyring://keyhole", ",\"env_var\":\"X\"",
	    "invalid keyring:// URI");
	OK_CRED(H_UP, "cmd://pass show openai", ",\"env_var\":\"X\"");
	BAD_CRED(H_UP, "cmd://", ",\"env_var\":\"X\"", "invalid cmd:// URI");
	BAD_CRED(H_UP, "vault://x/y", ",\"env_var\":\"X\"",
	    "unsupported credential source scheme 'vault://'");
}

static void
test_file_uri_key_accepted(void **state)
{
	(void)state;
	OK_CRED(H_UP, "file:///run/secrets/api-token",
	    ",\"env_var\":\"API_TOKEN\"");
}

static void
test_file_uri_requires_env_var(void **state)
{
	(void)state;
	BAD_CRED(H_UP, "file:///run/secrets/api-token", "",
	    "env_var is required");
}

static void
test_file_uri_relative_rejected(void **state)
{
	(void)state;
	BAD_CRED(H_UP, "file://relative/path", ",\"env_var\":\"X\"",
	    "invalid file:// URI");
}

static void
test_file_uri_traversal_rejected(void **state)
{
	(void)state;
	BAD_CRED(H_UP, "file:///run/secrets/../../../etc/shadow",
	    ",\"env_var\":\"X\"", "'..' path components");
	BAD_CRED(H_UP, "file:///", ",\"env_var\":\"X\"", "invalid file://");
	BAD_CRED(H_UP, "file:///a;b", ",\"env_var\":\"X\"",
	    "forbidden characters");
}

static void
test_validate_function_reports_the_field(void **state)
{
	struct errbuf		 e = { { 0 } };
	struct route_def	*d;
	const char		*field = NULL;

	(void)state;
	d = policy_route_def_new("x");
	d->upstream = xstrdup(H_UP);
	d->credential_key = xstrdup("key");
	d->inject_mode = INJECT_QUERY_PARAM;
	assert_int_equal(profile_validate_custom_credential(d, &field, &e),
	    -1);
	assert_string_equal(field, "query_param_name");
	d->query_param_name = xstrdup("k");
	assert_int_equal(profile_validate_custom_credential(d, &field, &e),
	    0);
	policy_route_def_free(d);
}

/* ---- env_credentials ---- */

static void
test_env_credentials_accept_uris(void **state)
{
	(void)state;
	check(xstrdup("{\"env_credentials\":{\"op://v/i/f\":\"A\","
	    "\"file:///run/secrets/api-token\":\"B\","
	    "\"env://SRC\":\"C\",\"my-keyring-account\":\"D\"}}"), NULL);
}

static void
test_env_credentials_reject_invalid_file_uri(void **state)
{
	(void)state;
	check(xstrdup("{\"env_credentials\":{\"file://relative/path\":"
	    "\"X\"}}"), "env_credentials.file://relative/path: invalid "
	    "file:// URI");
}

static void
test_env_credentials_reject_invalid_apple_uri(void **state)
{
	(void)state;
	check(xstrdup("{\"env_credentials\":{\"apple-password://github.com\":"
	    "\"X\"}}"), "Apple Passwords URI");
	check(xstrdup("{\"secrets\":{\"apple-password://github.com/alice\":"
	    "\"X\"}}"), "secrets.apple-password://github.com/alice: "
	    "apple-password:// (Apple Passwords) is not supported on Linux");
}

static void
test_env_credentials_destination_checked(void **state)
{
	(void)state;
	check(xstrdup("{\"env_credentials\":{\"k\":\"LD_PRELOAD\"}}"),
	    "env_credentials.k: invalid destination env var: env_var "
	    "'LD_PRELOAD' is on the dangerous-variable blocklist");
	check(xstrdup("{\"env_credentials\":{\"k\":\"\"}}"),
	    "cannot be empty");
	check(xstrdup("{\"env_credentials\":{\"k\":\"A-B\"}}"),
	    "alphanumeric");
	check(xstrdup("{\"env_credentials\":{\"k\":1}}"),
	    "env_credentials.k: must be a string");
}

/* ---- environment ---- */

static void
test_environment_set_vars_blocklist(void **state)
{
	(void)state;
	check(xstrdup("{\"environment\":{\"set_vars\":{\"LD_PRELOAD\":"
	    "\"/x.so\"}}}"), "environment.set_vars.LD_PRELOAD: env_var "
	    "'LD_PRELOAD' is on the dangerous-variable blocklist");
	check(xstrdup("{\"environment\":{\"set_vars\":{\"NONO_X\":\"1\"}}}"),
	    "reserved");
	check(xstrdup("{\"environment\":{\"set_vars\":{\"KEYHOLE_X\":"
	    "\"1\"}}}"), "reserved");
	check(xstrdup("{\"environment\":{\"set_vars\":{\"1X\":\"1\"}}}"),
	    "cannot start with a digit");
}

static void
test_environment_patterns_checked(void **state)
{
	(void)state;
	check(xstrdup("{\"environment\":{\"allow_vars\":[\"LC_*\",\"LANG\"],"
	    "\"deny_vars\":[\"AWS_*\"]}}"), NULL);
	check(xstrdup("{\"environment\":{\"deny_vars\":[\"A*B\"]}}"),
	    "environment.deny_vars[0]: 'A*B' is not a variable name");
	check(xstrdup("{\"environment\":{\"allow_vars\":[\"\"]}}"),
	    "environment.allow_vars[0]");
}

static void
test_dangerous_list_is_case_insensitive(void **state)
{
	(void)state;
	assert_true(profile_env_dangerous("LD_PRELOAD"));
	assert_true(profile_env_dangerous("node_options"));
	assert_true(profile_env_dangerous("_JAVA_OPTIONS"));
	assert_true(profile_env_dangerous("IFS"));
	assert_false(profile_env_dangerous("OPENAI_API_KEY"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_token_accepts_alphanumerics),
		cmocka_unit_test(test_header_token_accepts_tchar_specials),
		cmocka_unit_test(
		    test_header_token_rejects_separators_and_controls),
		cmocka_unit_test(test_custom_credential_fixture_is_valid),
		cmocka_unit_test(test_custom_credential_http_loopback_allowed),
		cmocka_unit_test(test_custom_credential_http_remote_rejected),
		cmocka_unit_test(
		    test_custom_credential_http_unspecified_address_rejected),
		cmocka_unit_test(test_custom_credential_other_scheme_rejected),
		cmocka_unit_test(test_custom_credential_crlf_header_rejected),
		cmocka_unit_test(test_custom_credential_crlf_format_rejected),
		cmocka_unit_test(test_custom_credential_format_lone_cr_rejected),
		cmocka_unit_test(test_custom_credential_format_lone_lf_rejected),
		cmocka_unit_test(test_custom_credential_key_with_hyphen_rejected),
		cmocka_unit_test(test_custom_credential_bad_key_is_not_echoed),
		cmocka_unit_test(test_custom_credential_empty_key_rejected),
		cmocka_unit_test(test_custom_credential_empty_header_rejected),
		cmocka_unit_test(
		    test_custom_credential_header_with_space_rejected),
		cmocka_unit_test(
		    test_custom_credential_header_with_colon_rejected),
		cmocka_unit_test(
		    test_custom_credential_header_with_special_chars_allowed),
		cmocka_unit_test(test_custom_credential_various_formats_allowed),
		cmocka_unit_test(
		    test_custom_credential_missing_upstream_rejected),
		cmocka_unit_test(
		    test_allow_endpoint_and_intercept_exclude_are_checked_at_load),
		cmocka_unit_test(
		    test_custom_credential_unknown_inject_mode_rejected),
		cmocka_unit_test(test_url_path_mode_valid),
		cmocka_unit_test(test_url_path_mode_needs_pattern),
		cmocka_unit_test(test_url_path_pattern_needs_placeholder),
		cmocka_unit_test(
		    test_url_path_pattern_needs_exactly_one_placeholder),
		cmocka_unit_test(test_url_path_mode_with_replacement_valid),
		cmocka_unit_test(test_url_path_replacement_needs_placeholder),
		cmocka_unit_test(test_url_path_pattern_crlf_rejected),
		cmocka_unit_test(test_query_param_mode_valid),
		cmocka_unit_test(test_query_param_mode_needs_name),
		cmocka_unit_test(test_query_param_name_cannot_be_empty),
		cmocka_unit_test(test_query_param_name_charset),
		cmocka_unit_test(test_basic_auth_mode_valid),
		cmocka_unit_test(test_op_uri_requires_env_var),
		cmocka_unit_test(test_op_uri_with_env_var_ok),
		cmocka_unit_test(test_op_uri_needs_three_segments),
		cmocka_unit_test(
		    test_apple_password_uri_is_not_supported_on_linux),
		cmocka_unit_test(test_invalid_apple_password_uri_is_named),
		cmocka_unit_test(test_bitwarden_uri_is_not_supported_on_linux),
		cmocka_unit_test(test_env_var_empty_rejected),
		cmocka_unit_test(test_env_var_invalid_chars_rejected),
		cmocka_unit_test(test_env_var_on_blocklist_rejected),
		cmocka_unit_test(test_env_var_optional_for_keyring_keys),
		cmocka_unit_test(test_env_uri_key_accepted_with_env_var),
		cmocka_unit_test(test_keyring_and_cmd_uris),
		cmocka_unit_test(test_file_uri_key_accepted),
		cmocka_unit_test(test_file_uri_requires_env_var),
		cmocka_unit_test(test_file_uri_relative_rejected),
		cmocka_unit_test(test_file_uri_traversal_rejected),
		cmocka_unit_test(test_validate_function_reports_the_field),
		cmocka_unit_test(test_env_credentials_accept_uris),
		cmocka_unit_test(test_env_credentials_reject_invalid_file_uri),
		cmocka_unit_test(test_env_credentials_reject_invalid_apple_uri),
		cmocka_unit_test(test_env_credentials_destination_checked),
		cmocka_unit_test(test_environment_set_vars_blocklist),
		cmocka_unit_test(test_environment_patterns_checked),
		cmocka_unit_test(test_dangerous_list_is_case_insensitive),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
