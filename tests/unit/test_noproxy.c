#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "policy/allowlist.h"
#include "policy/noproxy.h"
#include "policy/route.h"
#include "util/xmalloc.h"

#define MAXR	4

/* What a test builds: allow-list entries, routes, extras. */
struct fixture {
	struct allowlist	 al;
	struct route		*routes[MAXR];
	size_t			 nroutes;
	struct strv		 extra;
	struct strv		 warnings;
};

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
	size_t		 i;

	policy_allowlist_free(&f->al);
	for (i = 0; i < f->nroutes; i++)
		policy_route_free(f->routes[i]);
	strv_free(&f->extra);
	strv_free(&f->warnings);
	free(f);
	return 0;
}

static void
allow(struct fixture *f, const char *entry)
{
	struct errbuf	e;

	if (policy_allowlist_add(&f->al, entry, NULL, &e) == -1)
		fail_msg("%s", errbuf_msg(&e));
}

static void
route(struct fixture *f, const char *name, const char *upstream)
{
	struct route_def	*d = policy_route_def_new(name);
	struct errbuf		 e;

	d->upstream = xstrdup(upstream);
	f->routes[f->nroutes] = policy_route_new(d, &e);
	assert_non_null(f->routes[f->nroutes]);
	f->nroutes++;
	policy_route_def_free(d);
}

static void
assert_noproxy(struct fixture *f, const char *want)
{
	char	*got = policy_noproxy_build(&f->al, f->routes, f->nroutes,
		    &f->extra, &f->warnings);

	assert_string_equal(got, want);
	free(got);
}

/* server.rs 72 (plus ::1) */
static void
test_noproxy_starts_with_loopback_names(void **state)
{
	assert_noproxy(*state, "localhost,127.0.0.1,::1");
}

static void
test_noproxy_null_inputs_give_the_fixed_list(void **state)
{
	char	*s = policy_noproxy_build(NULL, NULL, 0, NULL, NULL);

	(void)state;
	assert_string_equal(s, "localhost,127.0.0.1,::1");
	free(s);
}

/* server.rs 71 */
static void
test_noproxy_lists_direct_grants_without_port(void **state)
{
	struct fixture	*f = *state;

	allow(f, "nats.internal:4222");
	allow(f, "opencode.internal:4096");
	assert_noproxy(f, "localhost,127.0.0.1,::1,nats.internal,"
	    "opencode.internal");
}

static void
test_noproxy_skips_proxied_entries(void **state)
{
	struct fixture	*f = *state;

	allow(f, "api.example.com");
	allow(f, "*.example.org");
	allow(f, "https://x.example.net:8443");
	allow(f, "db.internal:5432");
	assert_noproxy(f, "localhost,127.0.0.1,::1,db.internal");
}

static void
test_noproxy_brackets_ipv6_direct_grants(void **state)
{
	struct fixture	*f = *state;

	allow(f, "[2001:db8::1]:5432");
	allow(f, "10.0.0.5:6379");
	assert_noproxy(f, "localhost,127.0.0.1,::1,[2001:db8::1],10.0.0.5");
}

static void
test_noproxy_deduplicates(void **state)
{
	struct fixture	*f = *state;

	allow(f, "db.internal:5432");
	allow(f, "db.internal:5433");
	allow(f, "localhost:8080");
	allow(f, "[::1]:9000");
	strv_push(&f->extra, "DB.internal");
	strv_push(&f->extra, "127.0.0.1");
	assert_noproxy(f, "localhost,127.0.0.1,::1,db.internal,[::1]");
}

static void
test_noproxy_appends_extras_trimmed(void **state)
{
	struct fixture	*f = *state;

	allow(f, "db.internal:5432");
	strv_push(&f->extra, "  .corp.example ");
	strv_push(&f->extra, "10.0.0.0/8");
	assert_noproxy(f, "localhost,127.0.0.1,::1,db.internal,.corp.example,"
	    "10.0.0.0/8");
	assert_int_equal(f->warnings.n, 0);
}

static void
test_noproxy_splits_extras_on_commas(void **state)
{
	struct fixture	*f = *state;

	route(f, "github", "https://api.github.com");
	strv_push(&f->extra, "a.example, github.com,,b.example");
	assert_noproxy(f, "localhost,127.0.0.1,::1,a.example,b.example");
	assert_int_equal(f->warnings.n, 1);
}

static void
test_noproxy_drops_credential_upstream_host(void **state)
{
	struct fixture	*f = *state;

	route(f, "github", "https://api.github.com");
	allow(f, "api.github.com:443");
	assert_noproxy(f, "localhost,127.0.0.1,::1");
	assert_int_equal(f->warnings.n, 1);
	assert_string_equal(f->warnings.v[0], "NO_PROXY: dropping "
	    "'api.github.com': it covers credential upstream api.github.com");
}

static void
test_noproxy_drops_parent_domain_with_warning(void **state)
{
	struct fixture	*f = *state;

	route(f, "github", "https://api.github.com");
	strv_push(&f->extra, "github.com");
	strv_push(&f->extra, ".github.com");
	strv_push(&f->extra, "*.github.com");
	strv_push(&f->extra, "GitHub.COM.");
	strv_push(&f->extra, "gitlab.com");
	assert_noproxy(f, "localhost,127.0.0.1,::1,gitlab.com");
	assert_int_equal(f->warnings.n, 4);
	assert_string_equal(f->warnings.v[0], "NO_PROXY: dropping "
	    "'github.com': it covers credential upstream api.github.com");
	assert_string_equal(f->warnings.v[1], "NO_PROXY: dropping "
	    "'.github.com': it covers credential upstream api.github.com");
	assert_string_equal(f->warnings.v[2], "NO_PROXY: dropping "
	    "'*.github.com': it covers credential upstream api.github.com");
}

static void
test_noproxy_drops_direct_grant_parent_of_upstream(void **state)
{
	struct fixture	*f = *state;

	route(f, "gitlab", "https://gitlab.example.com/api");
	allow(f, "example.com:22");
	allow(f, "ssh.example.com:22");
	assert_noproxy(f, "localhost,127.0.0.1,::1,ssh.example.com");
	assert_string_equal(f->warnings.v[0], "NO_PROXY: dropping "
	    "'example.com': it covers credential upstream gitlab.example.com");
}

static void
test_noproxy_keeps_siblings_and_lookalikes(void **state)
{
	struct fixture	*f = *state;

	route(f, "github", "https://api.github.com");
	strv_push(&f->extra, "hub.com");
	strv_push(&f->extra, "xapi.github.com");
	strv_push(&f->extra, "v2.api.github.com");
	assert_noproxy(f, "localhost,127.0.0.1,::1,hub.com,xapi.github.com,"
	    "v2.api.github.com");
	assert_int_equal(f->warnings.n, 0);
}

static void
test_noproxy_drops_entry_with_port_covering_upstream(void **state)
{
	struct fixture	*f = *state;

	route(f, "github", "https://api.github.com");
	strv_push(&f->extra, "api.github.com:443");
	strv_push(&f->extra, "*");
	assert_noproxy(f, "localhost,127.0.0.1,::1");
	assert_int_equal(f->warnings.n, 2);
}

static void
test_noproxy_drops_ip_upstream_and_keeps_loopback(void **state)
{
	struct fixture	*f = *state;

	route(f, "local", "http://127.0.0.1:8080");
	route(f, "v6", "https://[2001:db8::5]");
	strv_push(&f->extra, "[2001:db8::5]");
	strv_push(&f->extra, "2001:db8::5");
	strv_push(&f->extra, "localhost");
	assert_noproxy(f, "localhost,127.0.0.1,::1");
	assert_int_equal(f->warnings.n, 2);
}

static void
test_noproxy_drops_cidr_covering_ip_upstream(void **state)
{
	struct fixture	*f = *state;

	route(f, "corp", "https://10.1.2.3/api");
	route(f, "v6", "https://[2001:db8::5]");
	strv_push(&f->extra, "10.0.0.0/8");
	strv_push(&f->extra, "10.1.2.0/25");
	strv_push(&f->extra, "10.1.2.128/25");
	strv_push(&f->extra, "192.168.0.0/16");
	strv_push(&f->extra, "2001:db8::/32");
	strv_push(&f->extra, "2001:db9::/32");
	assert_noproxy(f, "localhost,127.0.0.1,::1,10.1.2.128/25,"
	    "192.168.0.0/16,2001:db9::/32");
	assert_int_equal(f->warnings.n, 3);
	assert_string_equal(f->warnings.v[0], "NO_PROXY: dropping "
	    "'10.0.0.0/8': it covers credential upstream 10.1.2.3");
}

static void
test_noproxy_checks_every_route(void **state)
{
	struct fixture	*f = *state;

	route(f, "openai", "https://api.openai.com/v1");
	route(f, "anthropic", "https://api.anthropic.com");
	strv_push(&f->extra, "openai.com");
	strv_push(&f->extra, "anthropic.com");
	strv_push(&f->extra, "example.com");
	assert_noproxy(f, "localhost,127.0.0.1,::1,example.com");
	assert_string_equal(f->warnings.v[1], "NO_PROXY: dropping "
	    "'anthropic.com': it covers credential upstream api.anthropic.com");
}

static void
test_noproxy_warnings_may_be_null(void **state)
{
	struct fixture	*f = *state;
	char		*s;

	route(f, "github", "https://api.github.com");
	strv_push(&f->extra, "github.com");
	s = policy_noproxy_build(&f->al, f->routes, f->nroutes, &f->extra,
	    NULL);
	assert_string_equal(s, "localhost,127.0.0.1,::1");
	free(s);
}

/* SPEC 4.12: a route's extra host is a credential upstream too. */
static void
test_noproxy_drops_a_routes_extra_host(void **state)
{
	struct fixture		*f = *state;
	struct route_def	*d = policy_route_def_new("svc");
	struct errbuf		 e;

	d->upstream = xstrdup("https://api.example.com");
	assert_int_equal(policy_route_def_add_host(d, "git.example.org",
	    "basic_auth", NULL, "x-access-token:{}", &e), 0);
	f->routes[f->nroutes] = policy_route_new(d, &e);
	assert_non_null(f->routes[f->nroutes]);
	f->nroutes++;
	policy_route_def_free(d);
	strv_push(&f->extra, "git.example.org");
	strv_push(&f->extra, "example.org");
	strv_push(&f->extra, "other.example.org");
	assert_noproxy(f, "localhost,127.0.0.1,::1,other.example.org");
	assert_int_equal(f->warnings.n, 2);
}

int
main(void)
{
#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_noproxy_starts_with_loopback_names),
		T(test_noproxy_drops_a_routes_extra_host),
		T(test_noproxy_null_inputs_give_the_fixed_list),
		T(test_noproxy_lists_direct_grants_without_port),
		T(test_noproxy_skips_proxied_entries),
		T(test_noproxy_brackets_ipv6_direct_grants),
		T(test_noproxy_deduplicates),
		T(test_noproxy_appends_extras_trimmed),
		T(test_noproxy_splits_extras_on_commas),
		T(test_noproxy_drops_credential_upstream_host),
		T(test_noproxy_drops_parent_domain_with_warning),
		T(test_noproxy_drops_direct_grant_parent_of_upstream),
		T(test_noproxy_keeps_siblings_and_lookalikes),
		T(test_noproxy_drops_entry_with_port_covering_upstream),
		T(test_noproxy_drops_ip_upstream_and_keeps_loopback),
		T(test_noproxy_drops_cidr_covering_ip_upstream),
		T(test_noproxy_checks_every_route),
		T(test_noproxy_warnings_may_be_null),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
