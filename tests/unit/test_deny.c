#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "policy/deny.h"
#include "policy/netpolicy.h"
#include "util/errbuf.h"
#include "util/strv.h"

/*
 * policy/deny: what each denial tells the agent (SPEC §4.11).  The
 * reasons here are the exact audit reasons of the proxy and the mediator.
 */

static struct deny_info
explain(const char *mode, const char *host, int port, const char *reason)
{
	struct deny_info	d;

	policy_deny_explain(mode, host, port, NULL, NULL, NULL, reason, &d);
	return d;
}

static void
test_deny_not_in_allow_list_names_the_allow_domain_flag(void **state)
{
	struct deny_info	d;

	(void)state;
	d = explain("connect", "evil.example", 443, "not in allow-list");
	assert_string_equal(d.kind, "network");
	assert_false(d.never);
	assert_string_equal(d.hint, "--allow-domain evil.example "
	    "(profile: network.allow_domain)");
	/* a forward on 80 needs no port; other ports do */
	d = explain("forward", "evil.example", 80, "not in allow-list");
	assert_string_equal(d.hint, "--allow-domain evil.example "
	    "(profile: network.allow_domain)");
	d = explain("connect", "evil.example", 8443, "not in allow-list");
	assert_string_equal(d.hint, "--allow-domain evil.example:8443 "
	    "(profile: network.allow_domain)");
	d = explain("connect", "2001:db8::1", 8443, "not in allow-list");
	assert_string_equal(d.hint, "--allow-domain [2001:db8::1]:8443 "
	    "(profile: network.allow_domain)");
}

static void
test_deny_metadata_and_the_proxy_itself_are_never_allowed(void **state)
{
	struct deny_info	d;

	(void)state;
	d = explain("connect", "metadata.google.internal", 80,
	    "host metadata.google.internal is cloud metadata");
	assert_true(d.never);
	assert_null(strstr(d.hint, "--"));
	d = explain("forward", "169.254.169.254", 80,
	    "address 169.254.169.254 is cloud metadata");
	assert_true(d.never);
	assert_null(strstr(d.hint, "--"));
	d = explain("connect", "localhost", 3128,
	    "address 127.0.0.1:3128 is the proxy itself");
	assert_true(d.never);
	assert_null(strstr(d.hint, "--"));
	/* a direct connect to a metadata address: no grant suggested */
	d = explain("direct", "169.254.169.254", 80,
	    "no direct grant for this address and port");
	assert_string_equal(d.kind, "direct");
	assert_true(d.never);
	assert_null(strstr(d.hint, "--"));
	d = explain("direct", "fd00:ec2::254", 80,
	    "no direct grant for this address and port");
	assert_true(d.never);
}

static void
test_deny_guard_ranges_suggest_naming_the_address(void **state)
{
	struct deny_info	d;

	(void)state;
	d = explain("connect", "internal.example", 5432,
	    "address 127.0.0.1 is loopback");
	assert_false(d.never);
	assert_string_equal(d.hint, "name the address on purpose: "
	    "--resolve internal.example:5432:127.0.0.1");
	/* asked for by its literal: the literal in the allow-list */
	d = explain("connect", "127.0.0.1", 5432, "address 127.0.0.1 is "
	    "loopback");
	assert_string_equal(d.hint, "--allow-domain 127.0.0.1:5432 (profile: "
	    "network.allow_domain): an address in the allow-list is named on "
	    "purpose");
	d = explain("connect", "x.example", 443, "address 224.0.0.1 is "
	    "multicast");
	assert_true(d.never);
}

static void
test_deny_credential_upstream_points_at_the_route(void **state)
{
	struct deny_info	d;

	(void)state;
	d = explain("connect", "api.openai.com", 443,
	    "credential upstream: CONNECT bypasses L7 filtering");
	assert_false(d.never);
	assert_non_null(strstr(d.hint, "credential route"));
	assert_null(strstr(d.hint, "--allow-domain"));
	d = explain("direct", "1.2.3.4", 443, "credential upstream: direct "
	    "connect bypasses L7 filtering");
	assert_non_null(strstr(d.hint, "credential route"));
}

static void
test_deny_direct_connects_name_open_port_or_a_direct_grant(void **state)
{
	struct deny_info	d;

	(void)state;
	d = explain("direct", "127.0.0.1", 5432,
	    "no direct grant for this address and port");
	assert_string_equal(d.kind, "direct");
	assert_string_equal(d.hint, "--open-port 5432 "
	    "(profile: network.open_port)");
	d = explain("direct", "::1", 5432,
	    "no direct grant for this address and port");
	assert_string_equal(d.hint, "--open-port 5432 "
	    "(profile: network.open_port)");
	d = explain("direct", "203.0.113.9", 8443,
	    "no direct grant for this address and port");
	assert_non_null(strstr(d.hint,
	    "--allow-domain 203.0.113.9:8443 (profile: network.allow_domain)"));
	d = explain("direct", "2001:db8::9", 22,
	    "no direct grant for this address and port");
	assert_non_null(strstr(d.hint, "--allow-domain [2001:db8::9]:22 "));
	d = explain("direct", "?", -1, "address family not allowed");
	assert_true(d.never);
}

static void
test_deny_unix_sockets_name_allow_unix_socket(void **state)
{
	struct deny_info	d;

	(void)state;
	d = explain("direct", "unix:/run/docker.sock", -1,
	    "unix socket outside granted paths");
	assert_string_equal(d.kind, "unix");
	assert_string_equal(d.hint, "--allow-unix-socket /run/docker.sock "
	    "(profile: filesystem.allow_unix_socket)");
	d = explain("direct", "unix:@", -1, "abstract unix socket");
	assert_string_equal(d.kind, "unix");
	assert_true(d.never);
}

static void
test_deny_metadata_changes_are_filesystem_denials(void **state)
{
	struct deny_info	d;

	(void)state;
	d = explain("direct", "chmod:/etc/passwd", -1,
	    "metadata change outside write grants");
	assert_string_equal(d.kind, "filesystem");
	assert_non_null(strstr(d.hint, "--allow-file /etc/passwd"));
	d = explain("direct", "chmod:/home/u/x", -1,
	    "set-user-ID or set-group-ID program");
	assert_string_equal(d.kind, "filesystem");
	assert_true(d.never);
}

static void
test_deny_endpoint_rule_names_allow_endpoint_without_the_query(void **state)
{
	struct deny_info	d;

	(void)state;
	policy_deny_explain("reverse", "api.openai.com", 443, "openai",
	    "DELETE", "/v1/files/x?a=REDACTED", "endpoint denied: DELETE "
	    "/v1/files/x?a=REDACTED", &d);
	assert_string_equal(d.kind, "network");
	assert_non_null(strstr(d.hint,
	    "--allow-endpoint openai:DELETE:/v1/files/x "));
	assert_non_null(strstr(d.hint, "network.allow_endpoint"));
	/* A plain host intercepted (no service): its host in the rule. */
	policy_deny_explain("reverse", "db.example.com", 443, NULL, "POST",
	    "/v1/x?q=REDACTED", "endpoint denied: POST /v1/x?q=REDACTED", &d);
	assert_string_equal(d.hint, "--allow-endpoint db.example.com:POST:/v1/x "
	    "(profile: network.allow_endpoint)");
	/* other route errors are not policy: no hint */
	policy_deny_explain("reverse", NULL, -1, "nope", "GET", "/", "unknown "
	    "service", &d);
	assert_string_equal(d.hint, "");
	assert_false(d.never);
}

static void
test_deny_upstream_failures_get_no_hint(void **state)
{
	struct deny_info	d;

	(void)state;
	d = explain("connect", "a.example", 443, "upstream connect failed: "
	    "Connection refused");
	assert_string_equal(d.hint, "");
	assert_false(d.never);
}

static void
test_deny_entry_drops_only_the_default_port(void **state)
{
	char	*s;

	(void)state;
	s = policy_deny_entry("a.example", 443, false);
	assert_string_equal(s, "a.example");
	free(s);
	s = policy_deny_entry("a.example", 80, true);
	assert_string_equal(s, "a.example");
	free(s);
	s = policy_deny_entry("a.example", 80, false);
	assert_string_equal(s, "a.example:80");
	free(s);
	s = policy_deny_entry("a.example", 8080, true);
	assert_string_equal(s, "a.example:8080");
	free(s);
	s = policy_deny_entry("2001:db8::1", 443, false);
	assert_string_equal(s, "[2001:db8::1]");
	free(s);
	s = policy_deny_entry("2001:db8::1", 8443, false);
	assert_string_equal(s, "[2001:db8::1]:8443");
	free(s);
}

static void
test_deny_snippet_is_a_profile_with_the_entries(void **state)
{
	struct strv	 v = { 0 };
	char		*s;

	(void)state;
	s = policy_deny_snippet(&v);
	assert_string_equal(s, "{\"network\": {\"allow_domain\": []}}");
	free(s);
	strv_push(&v, "a.example");
	strv_push(&v, "b.example:8443");
	strv_push(&v, "q\"x");
	s = policy_deny_snippet(&v);
	assert_string_equal(s, "{\"network\": {\"allow_domain\": "
	    "[\"a.example\", \"b.example:8443\", \"q\\\"x\"]}}");
	free(s);
	strv_free(&v);
}

/* A small policy: a group of four hosts, one of sixteen, one of suffixes. */
static const char suggest_policy[] =
    "{\"meta\": {\"version\": 1, \"schema_version\": \"1.0\"},"
    " \"groups\": {"
    "  \"four\": {\"description\": \"d\", \"hosts\": [\"a.four\", \"b.four\","
    "   \"c.four\", \"d.four\"]},"
    "  \"big\": {\"description\": \"d\", \"hosts\": [\"h1.big\", \"h2.big\","
    "   \"h3.big\", \"h4.big\", \"h5.big\", \"h6.big\", \"h7.big\","
    "   \"h8.big\", \"h9.big\", \"h10.big\", \"h11.big\", \"h12.big\","
    "   \"h13.big\", \"h14.big\", \"h15.big\", \"a.four\"]},"
    "  \"sfx\": {\"description\": \"d\", \"suffixes\": [\".cloud.test\"]}"
    " },"
    " \"profiles\": {}, \"credentials\": {}}";

static struct netpolicy *
suggest_np(void)
{
	struct errbuf		 e = { 0 };
	struct netpolicy	*np;

	np = policy_netpolicy_parse(suggest_policy, strlen(suggest_policy),
	    &e);
	if (np == NULL)
		fail_msg("%s", errbuf_msg(&e));
	return np;
}

/* entries, space-separated, through the builder; the result joined. */
static char *
suggest(const struct netpolicy *np, const char *entries, char **groups)
{
	struct strv	 in = { 0 }, out = { 0 }, g = { 0 };
	char		*r;

	strv_split_push(&in, entries, ' ');
	policy_deny_suggest(&in, np, &out, &g);
	r = strv_join(&out, " ");
	*groups = strv_join(&g, " ");
	strv_free(&in);
	strv_free(&out);
	strv_free(&g);
	return r;
}

static void
test_deny_suggest_names_a_group_half_of_whose_hosts_were_used(void **state)
{
	struct netpolicy	*np = suggest_np();
	char			*s, *g;

	(void)state;
	/* Two of four: the group, where its first host stood. */
	s = suggest(np, "x.test b.four y.test:8080 C.FOUR.", &g);
	assert_string_equal(s, "x.test four y.test:8080");
	assert_string_equal(g, "four");
	free(s);
	free(g);
	/* The whole group. */
	s = suggest(np, "a.four b.four c.four d.four", &g);
	assert_string_equal(s, "four");
	assert_string_equal(g, "four");
	free(s);
	free(g);
	/* One of four is listed as itself. */
	s = suggest(np, "b.four x.test", &g);
	assert_string_equal(s, "b.four x.test");
	assert_string_equal(g, "");
	free(s);
	free(g);
	policy_netpolicy_free(np);
}

static void
test_deny_suggest_keeps_ports_and_literals_and_few_of_a_big_group(
    void **state)
{
	struct netpolicy	*np = suggest_np();
	char			*s, *g;

	(void)state;
	/* A port is not the group's: host:PORT stays (and is a direct grant). */
	s = suggest(np, "a.four:8443 b.four:8443 c.four", &g);
	assert_string_equal(s, "a.four:8443 b.four:8443 c.four");
	assert_string_equal(g, "");
	free(s);
	free(g);
	/* Seven of sixteen is not enough; eight is. */
	s = suggest(np, "h1.big h2.big h3.big h4.big h5.big h6.big h7.big",
	    &g);
	assert_string_equal(s, "h1.big h2.big h3.big h4.big h5.big h6.big "
	    "h7.big");
	free(s);
	free(g);
	s = suggest(np, "h1.big h2.big h3.big h4.big h5.big h6.big h7.big "
	    "h8.big [::1]:443 10.0.0.1", &g);
	assert_string_equal(s, "big [::1]:443 10.0.0.1");
	assert_string_equal(g, "big");
	free(s);
	free(g);
	policy_netpolicy_free(np);
}

static void
test_deny_suggest_suffix_groups_and_overlaps(void **state)
{
	struct netpolicy	*np = suggest_np();
	const struct netgroup	*grp;
	char			*s, *g;

	(void)state;
	/* Two hosts under a suffix-only group's suffix; not the suffix. */
	s = suggest(np, "cloud.test a.cloud.test b.x.cloud.test", &g);
	assert_string_equal(s, "cloud.test sfx");
	assert_string_equal(g, "sfx");
	free(s);
	free(g);
	s = suggest(np, "a.cloud.test", &g);
	assert_string_equal(s, "a.cloud.test");
	free(s);
	free(g);
	/*
	 * a.four is in both groups: the group covering more takes it first
	 * (big: a.four and seven of its own, eight of sixteen), and the
	 * other counts only what is left (b.four: one of four).
	 */
	s = suggest(np, "a.four b.four h1.big h2.big h3.big h4.big h5.big "
	    "h6.big h7.big", &g);
	assert_string_equal(s, "big b.four");
	assert_string_equal(g, "big");
	free(s);
	free(g);
	/* Nothing to suggest, no policy: unchanged. */
	s = suggest(np, "", &g);
	assert_string_equal(s, "");
	free(s);
	free(g);
	s = suggest(NULL, "a.four b.four", &g);
	assert_string_equal(s, "a.four b.four");
	free(s);
	free(g);
	/* keyhole why: the first group a bare host is in. */
	grp = policy_deny_group_of(np, "a.four");
	assert_non_null(grp);
	assert_string_equal(grp->name, "four");
	assert_string_equal(policy_deny_group_of(np, "z.cloud.test")->name,
	    "sfx");
	assert_null(policy_deny_group_of(np, "a.four:8443"));
	assert_null(policy_deny_group_of(np, "x.test"));
	policy_netpolicy_free(np);
}

static void
test_deny_dns_names_a_direct_grant_never_metadata(void **state)
{
	struct deny_info	d;

	(void)state;
	d = explain("dns", "db.test", 53, "not a direct grant: NXDOMAIN");
	assert_string_equal(d.kind, "dns");
	assert_false(d.never);
	assert_string_equal(d.hint, "--allow-domain db.test:PORT with the "
	    "port the program connects to (a direct grant, whose name the "
	    "sandbox's DNS answers; profile: network.allow_domain)");
	d = explain("dns", "metadata.google.internal", 53,
	    "not a direct grant: NXDOMAIN");
	assert_true(d.never);
	assert_null(strstr(d.hint, "--allow-domain"));
	d = explain("dns", "(malformed name)", 53,
	    "not a direct grant: NXDOMAIN");
	assert_string_equal(d.hint, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_deny_not_in_allow_list_names_the_allow_domain_flag),
		cmocka_unit_test(
		    test_deny_metadata_and_the_proxy_itself_are_never_allowed),
		cmocka_unit_test(
		    test_deny_guard_ranges_suggest_naming_the_address),
		cmocka_unit_test(
		    test_deny_credential_upstream_points_at_the_route),
		cmocka_unit_test(
		    test_deny_direct_connects_name_open_port_or_a_direct_grant),
		cmocka_unit_test(test_deny_unix_sockets_name_allow_unix_socket),
		cmocka_unit_test(
		    test_deny_metadata_changes_are_filesystem_denials),
		cmocka_unit_test(
		    test_deny_endpoint_rule_names_allow_endpoint_without_the_query),
		cmocka_unit_test(test_deny_upstream_failures_get_no_hint),
		cmocka_unit_test(test_deny_entry_drops_only_the_default_port),
		cmocka_unit_test(
		    test_deny_snippet_is_a_profile_with_the_entries),
		cmocka_unit_test(
		    test_deny_suggest_names_a_group_half_of_whose_hosts_were_used),
		cmocka_unit_test(
		    test_deny_suggest_keeps_ports_and_literals_and_few_of_a_big_group),
		cmocka_unit_test(test_deny_suggest_suffix_groups_and_overlaps),
		cmocka_unit_test(
		    test_deny_dns_names_a_direct_grant_never_metadata),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
