#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/allowlist.h"
#include "policy/netpolicy.h"

/* Parse one entry into a fresh list; asserts success. */
static void
add_ok(struct allowlist *al, const char *entry)
{
	struct errbuf	e;

	errbuf_clear(&e);
	if (policy_allowlist_add(al, entry, policy_netpolicy_builtin(),
	    &e) == -1)
		fail_msg("%s: %s", entry, errbuf_msg(&e));
}

/* Assert entry is refused with message msg. */
static void
add_fails(const char *entry, const char *msg)
{
	struct allowlist	al = { 0 };
	struct errbuf		e;

	errbuf_clear(&e);
	assert_int_equal(policy_allowlist_add(&al, entry,
	    policy_netpolicy_builtin(), &e), -1);
	assert_string_equal(errbuf_msg(&e), msg);
	assert_int_equal(al.n, 0);
	policy_allowlist_free(&al);
}

/* Assert entry parses to exactly one entry of these values. */
static void
assert_entry(const char *entry, enum allow_kind kind, const char *host,
    uint16_t port, bool direct)
{
	struct allowlist	al = { 0 };

	add_ok(&al, entry);
	assert_int_equal(al.n, 1);
	assert_int_equal(al.v[0].kind, kind);
	assert_string_equal(al.v[0].host, host);
	assert_int_equal(al.v[0].port, port);
	assert_int_equal(al.v[0].direct, direct);
	policy_allowlist_free(&al);
}

static bool
allows(const char *entry, const char *host, uint16_t port, enum allow_use u)
{
	struct allowlist	al = { 0 };
	bool			ok;

	add_ok(&al, entry);
	ok = policy_allowlist_allows(&al, host, port, u);
	policy_allowlist_free(&al);
	return ok;
}

static char *
canon(const char *h)
{
	struct errbuf	e;

	return policy_allowlist_canon_host(h, strlen(h), &e);
}

static void
assert_canon(const char *in, const char *want)
{
	char	*got = canon(in);

	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void
assert_canon_fails(const char *in, const char *msg)
{
	struct errbuf	 e;

	errbuf_clear(&e);
	assert_null(policy_allowlist_canon_host(in, strlen(in), &e));
	assert_string_equal(errbuf_msg(&e), msg);
}

static void
test_allowlist_host_entry(void **state)
{
	(void)state;
	assert_entry("api.openai.com", ALLOW_HOST, "api.openai.com", 0, false);
}

/* S2 */
static void
test_allowlist_host_is_lower_cased(void **state)
{
	(void)state;
	assert_entry("API.OpenAI.COM", ALLOW_HOST, "api.openai.com", 0, false);
	assert_true(allows("API.OpenAI.COM", "api.openai.com", 443,
	    ALLOW_USE_CONNECT));
}

static void
test_allowlist_trailing_dot_is_ignored(void **state)
{
	(void)state;
	assert_entry("example.com.", ALLOW_HOST, "example.com", 0, false);
	add_fails("example.com..",
	    "allow-domain 'example.com..': host 'example.com.': empty label");
}

static void
test_allowlist_entry_is_trimmed(void **state)
{
	(void)state;
	assert_entry("  example.com\t", ALLOW_HOST, "example.com", 0, false);
}

/* S1, S3, filter.rs 41 */
static void
test_allowlist_exact_host_matches_only_itself(void **state)
{
	(void)state;
	assert_true(allows("api.openai.com", "api.openai.com", 443,
	    ALLOW_USE_CONNECT));
	assert_false(allows("api.openai.com", "evil.com", 443,
	    ALLOW_USE_CONNECT));
	assert_false(allows("api.openai.com", "x.api.openai.com", 443,
	    ALLOW_USE_CONNECT));
	assert_false(allows("api.openai.com", "openai.com", 443,
	    ALLOW_USE_CONNECT));
}

static void
test_allowlist_host_ports_for_connect_and_forward(void **state)
{
	(void)state;
	assert_true(allows("example.com", "example.com", 443,
	    ALLOW_USE_CONNECT));
	assert_false(allows("example.com", "example.com", 80,
	    ALLOW_USE_CONNECT));
	assert_false(allows("example.com", "example.com", 22,
	    ALLOW_USE_CONNECT));
	assert_true(allows("example.com", "example.com", 80,
	    ALLOW_USE_FORWARD));
	assert_false(allows("example.com", "example.com", 443,
	    ALLOW_USE_FORWARD));
}

/* S4 */
static void
test_allowlist_wildcard_matches_subdomains(void **state)
{
	(void)state;
	assert_entry("*.googleapis.com", ALLOW_SUFFIX, "googleapis.com", 0,
	    false);
	assert_true(allows("*.googleapis.com", "storage.googleapis.com", 443,
	    ALLOW_USE_CONNECT));
	assert_true(allows("*.googleapis.com",
	    "us-central1-aiplatform.googleapis.com", 443, ALLOW_USE_CONNECT));
	assert_true(allows("*.googleapis.com", "a.b.googleapis.com", 443,
	    ALLOW_USE_CONNECT));
	assert_true(allows("*.GoogleAPIs.com", "a.googleapis.com", 80,
	    ALLOW_USE_FORWARD));
}

/* S5 */
static void
test_allowlist_wildcard_does_not_match_bare_domain(void **state)
{
	(void)state;
	assert_false(allows("*.googleapis.com", "googleapis.com", 443,
	    ALLOW_USE_CONNECT));
}

static void
test_allowlist_wildcard_needs_label_boundary(void **state)
{
	(void)state;
	assert_false(allows("*.example.com", "evilexample.com", 443,
	    ALLOW_USE_CONNECT));
	assert_false(allows("*.example.com", ".example.com", 443,
	    ALLOW_USE_CONNECT));
	assert_false(policy_allowlist_suffix_match("xexample.com",
	    "example.com"));
	assert_true(policy_allowlist_suffix_match("x.example.com",
	    "example.com"));
	assert_false(policy_allowlist_suffix_match("example.com",
	    "example.com"));
}

static void
test_allowlist_rejects_bad_wildcards(void **state)
{
	static const char *const bad[] = {
		"*", "*foo.com", "**.x", "*.", "*..x", "*.a.*.com", "*.*",
	};
	char	msg[256];
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(msg, sizeof(msg), "allow-domain '%s': a wildcard must "
		    "be '*.' followed by a domain, as in '*.example.com'",
		    bad[i]);
		add_fails(bad[i], msg);
	}
}

static void
test_allowlist_rejects_wildcard_with_port_or_ip(void **state)
{
	(void)state;
	add_fails("*.example.com:8443",
	    "allow-domain '*.example.com:8443': a wildcard entry may not "
	    "carry a port");
	add_fails("*.1.2.3.4", "allow-domain '*.1.2.3.4': a wildcard needs "
	    "a domain, not an IP address");
}

/* S22 */
static void
test_allowlist_host_port_is_direct_grant(void **state)
{
	(void)state;
	assert_entry("nats.example.com:4222", ALLOW_HOST, "nats.example.com",
	    4222, true);
	assert_entry("postgres.example.com:5432", ALLOW_HOST,
	    "postgres.example.com", 5432, true);
	assert_entry("localhost:8080", ALLOW_HOST, "localhost", 8080, true);
}

static void
test_allowlist_host_port_matches_only_that_port(void **state)
{
	(void)state;
	assert_true(allows("nats.example.com:4222", "nats.example.com", 4222,
	    ALLOW_USE_CONNECT));
	assert_true(allows("nats.example.com:4222", "nats.example.com", 4222,
	    ALLOW_USE_FORWARD));
	assert_false(allows("nats.example.com:4222", "nats.example.com", 443,
	    ALLOW_USE_CONNECT));
	assert_false(allows("nats.example.com:4222", "nats.example.com", 80,
	    ALLOW_USE_FORWARD));
}

static void
test_allowlist_explicit_443_is_direct(void **state)
{
	(void)state;
	assert_entry("example.com:443", ALLOW_HOST, "example.com", 443, true);
	assert_true(allows("example.com:443", "example.com", 443,
	    ALLOW_USE_CONNECT));
}

/* S24 re-expressed: a bad port is an error, not 443. */
static void
test_allowlist_rejects_bad_ports(void **state)
{
	(void)state;
	add_fails("host:notaport",
	    "allow-domain 'host:notaport': bad port 'notaport' (1-65535)");
	add_fails("host:0", "allow-domain 'host:0': bad port '0' (1-65535)");
	add_fails("host:65536",
	    "allow-domain 'host:65536': bad port '65536' (1-65535)");
	add_fails("host:", "allow-domain 'host:': bad port '' (1-65535)");
	add_fails("host:+80", "allow-domain 'host:+80': bad port '+80' "
	    "(1-65535)");
	add_fails("[::1]:x", "allow-domain '[::1]:x': bad port 'x' "
	    "(1-65535)");
	add_fails(":443", "allow-domain ':443': empty host");
}

static void
test_allowlist_ipv4_literal(void **state)
{
	(void)state;
	assert_entry("1.2.3.4", ALLOW_IP, "1.2.3.4", 0, false);
	assert_entry("10.0.0.5:5432", ALLOW_IP, "10.0.0.5", 5432, true);
	assert_true(allows("1.2.3.4", "1.2.3.4", 443, ALLOW_USE_CONNECT));
}

static void
test_allowlist_ipv6_forms(void **state)
{
	(void)state;
	assert_entry("::1", ALLOW_IP, "::1", 0, false);
	assert_entry("[::1]", ALLOW_IP, "::1", 0, false);
	assert_entry("2001:DB8:0:0::1", ALLOW_IP, "2001:db8::1", 0, false);
	assert_entry("[2001:db8::1]:8443", ALLOW_IP, "2001:db8::1", 8443,
	    true);
	assert_entry("::ffff:1.2.3.4", ALLOW_IP, "::ffff:1.2.3.4", 0, false);
}

static void
test_allowlist_bare_ipv6_is_not_host_port(void **state)
{
	(void)state;
	/* "fe80::1" is an address, not host "fe80:" port 1 */
	assert_entry("fe80::1", ALLOW_IP, "fe80::1", 0, false);
	add_fails("2001:db8::zz", "allow-domain '2001:db8::zz': host "
	    "'2001:db8::zz': not a valid IPv6 address");
}

static void
test_allowlist_rejects_bad_brackets(void **state)
{
	(void)state;
	add_fails("[::1", "allow-domain '[::1': missing ']' after an IPv6 "
	    "address");
	add_fails("[::1]x", "allow-domain '[::1]x': unexpected text after "
	    "']'");
	add_fails("[1.2.3.4]", "allow-domain '[1.2.3.4]': host '[1.2.3.4]': "
	    "not a valid IPv6 address in brackets");
	add_fails("[example.com]:80", "allow-domain '[example.com]:80': host "
	    "'[example.com]': not a valid IPv6 address in brackets");
}

static void
test_allowlist_https_url(void **state)
{
	(void)state;
	assert_entry("https://api.example.com", ALLOW_HOST, "api.example.com",
	    443, false);
	assert_entry("https://api.example.com/", ALLOW_HOST,
	    "api.example.com", 443, false);
	assert_entry("HTTPS://API.example.com:8443", ALLOW_HOST,
	    "api.example.com", 8443, false);
	assert_entry("https://[::1]:9443/", ALLOW_IP, "::1", 9443, false);
}

static void
test_allowlist_http_url_uses_port_80(void **state)
{
	(void)state;
	assert_entry("http://example.com", ALLOW_HOST, "example.com", 80,
	    false);
	assert_true(allows("http://example.com", "example.com", 80,
	    ALLOW_USE_FORWARD));
	assert_false(allows("http://example.com", "example.com", 443,
	    ALLOW_USE_CONNECT));
}

static void
test_allowlist_url_with_path_is_an_error(void **state)
{
	(void)state;
	add_fails("https://x/v1", "allow-domain 'https://x/v1': a URL may "
	    "not carry a path (path rules belong to credential routes)");
	add_fails("https://x//", "allow-domain 'https://x//': a URL may "
	    "not carry a path (path rules belong to credential routes)");
	add_fails("https://x?a=b", "allow-domain 'https://x?a=b': a URL may "
	    "not carry a query or fragment");
	add_fails("https://u:p@x", "allow-domain 'https://u:p@x': a URL may "
	    "not carry user info");
	add_fails("ftp://x", "allow-domain 'ftp://x': only http:// and "
	    "https:// URLs are allowed");
	add_fails("https://", "allow-domain 'https://': empty host");
}

static void
test_allowlist_rejects_bad_host_names(void **state)
{
	(void)state;
	add_fails("", "allow-domain '': empty entry");
	add_fails("  ", "allow-domain '': empty entry");
	add_fails("a..b", "allow-domain 'a..b': host 'a..b': empty label");
	add_fails(".a", "allow-domain '.a': host '.a': empty label");
	add_fails("exa mple.com", "allow-domain 'exa mple.com': host "
	    "'exa mple.com': invalid byte ' '");
	add_fails("ex/ample", "allow-domain 'ex/ample': host 'ex/ample': "
	    "invalid byte '/'");
	add_fails("a.*.com", "allow-domain 'a.*.com': host 'a.*.com': "
	    "invalid byte '*'");
}

static void
test_allowlist_group_name_expands(void **state)
{
	struct allowlist	al = { 0 };
	size_t			i;

	(void)state;
	add_ok(&al, "github");
	assert_int_equal(al.n, 8);
	for (i = 0; i < al.n; i++) {
		assert_int_equal(al.v[i].kind, ALLOW_HOST);
		assert_string_equal(al.v[i].source, "github");
		assert_false(al.v[i].direct);
	}
	assert_string_equal(al.v[0].host, "github.com");
	assert_true(policy_allowlist_allows(&al, "api.github.com", 443,
	    ALLOW_USE_CONNECT));
	assert_false(policy_allowlist_allows(&al, "gist.github.com", 443,
	    ALLOW_USE_CONNECT));
	policy_allowlist_free(&al);
}

static void
test_allowlist_group_suffixes_become_wildcards(void **state)
{
	struct allowlist	al = { 0 };

	(void)state;
	add_ok(&al, "azure");
	assert_int_equal(al.n, 2);
	assert_int_equal(al.v[0].kind, ALLOW_SUFFIX);
	assert_string_equal(al.v[0].host, "openai.azure.com");
	assert_string_equal(al.v[1].host, "cognitiveservices.azure.com");
	assert_true(policy_allowlist_allows(&al, "x.openai.azure.com", 443,
	    ALLOW_USE_CONNECT));
	assert_false(policy_allowlist_allows(&al, "openai.azure.com", 443,
	    ALLOW_USE_CONNECT));
	policy_allowlist_free(&al);
}

static void
test_allowlist_add_profile_expands_groups(void **state)
{
	struct allowlist	 al = { 0 };
	struct errbuf		 e;

	(void)state;
	assert_int_equal(policy_allowlist_add_profile(&al, "enterprise",
	    policy_netpolicy_builtin(), &e), 0);
	assert_true(policy_allowlist_allows(&al, "registry.npmjs.org", 443,
	    ALLOW_USE_CONNECT));
	assert_true(policy_allowlist_allows(&al, "storage.googleapis.com",
	    443, ALLOW_USE_CONNECT));
	assert_false(policy_allowlist_allows(&al, "evil.com", 443,
	    ALLOW_USE_CONNECT));
	policy_allowlist_free(&al);
	assert_int_equal(policy_allowlist_add_profile(&al, "minimal",
	    policy_netpolicy_builtin(), &e), 0);
	assert_true(policy_allowlist_allows(&al, "api.openai.com", 443,
	    ALLOW_USE_CONNECT));
	assert_false(policy_allowlist_allows(&al, "registry.npmjs.org", 443,
	    ALLOW_USE_CONNECT));
	policy_allowlist_free(&al);
}

static void
test_allowlist_unknown_profile_is_an_error(void **state)
{
	struct allowlist	 al = { 0 };
	struct errbuf		 e;

	(void)state;
	assert_int_equal(policy_allowlist_add_profile(&al, "nonexistent",
	    policy_netpolicy_builtin(), &e), -1);
	assert_string_equal(errbuf_msg(&e), "unknown network profile "
	    "'nonexistent' (known: minimal, developer, claude-code, codex, "
	    "opencode, enterprise)");
	assert_int_equal(al.n, 0);
}

/* test_deduplication */
static void
test_allowlist_skips_duplicates(void **state)
{
	struct allowlist	al = { 0 };

	(void)state;
	add_ok(&al, "example.com");
	add_ok(&al, "EXAMPLE.com.");
	add_ok(&al, "example.com:8080");
	add_ok(&al, "llm_apis");
	add_ok(&al, "llm_apis");
	assert_int_equal(al.n, 2 + 16);
	policy_allowlist_free(&al);
}

/* S8, filter.rs 42 */
static void
test_allowlist_empty_allows_everything(void **state)
{
	struct allowlist	al = { 0 };

	(void)state;
	assert_true(policy_allowlist_allows(&al, "any-host.example.com", 443,
	    ALLOW_USE_CONNECT));
	assert_true(policy_allowlist_allows(&al, "x", 22, ALLOW_USE_FORWARD));
	assert_true(policy_allowlist_allows(NULL, "x", 22, ALLOW_USE_FORWARD));
	assert_null(policy_allowlist_match(&al, "x", 443, ALLOW_USE_CONNECT));
}

/* S20 */
static void
test_allowlist_counts_entries(void **state)
{
	struct allowlist	al = { 0 };

	(void)state;
	add_ok(&al, "api.openai.com");
	add_ok(&al, "*.googleapis.com");
	add_ok(&al, "github.com");
	assert_int_equal(al.n, 3);
	assert_string_equal(al.v[1].source, "*.googleapis.com");
	policy_allowlist_free(&al);
}

static void
test_allowlist_match_returns_the_entry(void **state)
{
	struct allowlist		 al = { 0 };
	const struct allow_entry	*ae;

	(void)state;
	add_ok(&al, "a.com");
	add_ok(&al, "b.com:8080");
	ae = policy_allowlist_match(&al, "b.com", 8080, ALLOW_USE_CONNECT);
	assert_non_null(ae);
	assert_string_equal(ae->source, "b.com:8080");
	assert_null(policy_allowlist_match(&al, "b.com", 443,
	    ALLOW_USE_CONNECT));
	policy_allowlist_free(&al);
	policy_allowlist_free(&al);
}

static void
test_allowlist_canon_host_lowers_and_drops_one_dot(void **state)
{
	(void)state;
	assert_canon("Example.COM", "example.com");
	assert_canon("example.com.", "example.com");
	assert_canon("under_score.example", "under_score.example");
	assert_canon_fails("example.com..",
	    "host 'example.com.': empty label");
	assert_canon_fails(".", "host '.': empty label");
}

static void
test_allowlist_canon_host_reprints_ips(void **state)
{
	(void)state;
	assert_canon("[::1]", "::1");
	assert_canon("[0:0::1]", "::1");
	assert_canon("[2001:DB8::0:1]", "2001:db8::1");
	assert_canon("2001:db8:0::1", "2001:db8::1");
	assert_canon("[::FFFF:127.0.0.1]", "::ffff:127.0.0.1");
	assert_canon("127.0.0.1", "127.0.0.1");
	assert_canon("127.0.0.1.", "127.0.0.1");
}

static void
test_allowlist_canon_host_ipv4_only_dotted_quad(void **state)
{
	(void)state;
	/* not IP literals: kept as names (the resolver and guard decide) */
	assert_canon("127.1", "127.1");
	assert_canon("2130706433", "2130706433");
	assert_canon("0x7f.0.0.1", "0x7f.0.0.1");
	assert_false(policy_allowlist_is_ip("127.1"));
	assert_false(policy_allowlist_is_ip("010.0.0.1"));
	assert_true(policy_allowlist_is_ip("10.0.0.1"));
	assert_true(policy_allowlist_is_ip("::1"));
}

static void
test_allowlist_canon_host_rejects_bad_input(void **state)
{
	char	long_host[300];

	(void)state;
	assert_canon_fails("", "empty host");
	assert_canon_fails("[::1", "host '[::1': not a valid IPv6 address "
	    "in brackets");
	assert_canon_fails("[]", "host '[]': not a valid IPv6 address in "
	    "brackets");
	assert_canon_fails("[fe80::1%eth0]", "host '[fe80::1%eth0]': not a "
	    "valid IPv6 address in brackets");
	assert_canon_fails("a:b", "host 'a:b': not a valid IPv6 address");
	assert_canon_fails("evil\r\nx", "host 'evil\\x0d\\x0ax': invalid "
	    "byte '\\x0d'");
	assert_canon_fails("caf\xc3\xa9.com", "host 'caf\xc3\xa9.com': "
	    "invalid byte '\xc3'");
	memset(long_host, 'a', sizeof(long_host) - 1);
	long_host[sizeof(long_host) - 1] = '\0';
	long_host[100] = '.';
	long_host[200] = '.';
	assert_canon_fails(long_host, "host 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...': longer than 253 bytes");
}

static void
test_allowlist_canon_host_rejects_long_label(void **state)
{
	char	h[80];

	(void)state;
	memset(h, 'a', 64);
	memcpy(h + 64, ".com", 5);
	assert_null(canon(h));
	assert_canon(h + 1, h + 1);	/* 63 bytes is the limit */
}

static void
test_allowlist_canon_host_rejects_embedded_nul(void **state)
{
	struct errbuf	e;

	(void)state;
	assert_null(policy_allowlist_canon_host("a\0b.com", 7, &e));
	assert_string_equal(errbuf_msg(&e), "host 'a\\x00b.com': contains a "
	    "NUL byte");
	assert_null(policy_allowlist_canon_host("[::1\0]", 6, &e));
}

static void
test_allowlist_canon_host_uses_only_len_bytes(void **state)
{
	struct errbuf	 e;
	char		*h;

	(void)state;
	h = policy_allowlist_canon_host("Example.com:443", 11, &e);
	assert_string_equal(h, "example.com");
	free(h);
}

int
main(void)
{
#define T(f)	cmocka_unit_test(f)
	const struct CMUnitTest tests[] = {
		T(test_allowlist_host_entry),
		T(test_allowlist_host_is_lower_cased),
		T(test_allowlist_trailing_dot_is_ignored),
		T(test_allowlist_entry_is_trimmed),
		T(test_allowlist_exact_host_matches_only_itself),
		T(test_allowlist_host_ports_for_connect_and_forward),
		T(test_allowlist_wildcard_matches_subdomains),
		T(test_allowlist_wildcard_does_not_match_bare_domain),
		T(test_allowlist_wildcard_needs_label_boundary),
		T(test_allowlist_rejects_bad_wildcards),
		T(test_allowlist_rejects_wildcard_with_port_or_ip),
		T(test_allowlist_host_port_is_direct_grant),
		T(test_allowlist_host_port_matches_only_that_port),
		T(test_allowlist_explicit_443_is_direct),
		T(test_allowlist_rejects_bad_ports),
		T(test_allowlist_ipv4_literal),
		T(test_allowlist_ipv6_forms),
		T(test_allowlist_bare_ipv6_is_not_host_port),
		T(test_allowlist_rejects_bad_brackets),
		T(test_allowlist_https_url),
		T(test_allowlist_http_url_uses_port_80),
		T(test_allowlist_url_with_path_is_an_error),
		T(test_allowlist_rejects_bad_host_names),
		T(test_allowlist_group_name_expands),
		T(test_allowlist_group_suffixes_become_wildcards),
		T(test_allowlist_add_profile_expands_groups),
		T(test_allowlist_unknown_profile_is_an_error),
		T(test_allowlist_skips_duplicates),
		T(test_allowlist_empty_allows_everything),
		T(test_allowlist_counts_entries),
		T(test_allowlist_match_returns_the_entry),
		T(test_allowlist_canon_host_lowers_and_drops_one_dot),
		T(test_allowlist_canon_host_reprints_ips),
		T(test_allowlist_canon_host_ipv4_only_dotted_quad),
		T(test_allowlist_canon_host_rejects_bad_input),
		T(test_allowlist_canon_host_rejects_long_label),
		T(test_allowlist_canon_host_rejects_embedded_nul),
		T(test_allowlist_canon_host_uses_only_len_bytes),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
