/*
 * proxy_clients_load (SPEC 4.10): per-client profiles in --clients are
 * built once each however many clients name them, and each client's
 * phantoms are checked against its own profile's routes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "creds/store.h"
#include "policy/plan.h"
#include "policy/route.h"
#include "proxy/clients.h"
#include "util/errbuf.h"
#include "util/xmalloc.h"

#define TOK(c)	"token-" c "-0123456789abcdef0123456789abcdef"
#define PH(c)	"phantom-" c "-0123456789abcdef0123456789abcdef"

/* A plan with routes named by the NULL-terminated names. */
static struct plan *
fake_plan(const char *const *names)
{
	struct plan	*p = xcalloc(1, sizeof(*p));
	size_t		 n = 0;

	while (names[n] != NULL)
		n++;
	p->routes = xcalloc(n ? n : 1, sizeof(*p->routes));
	for (p->nroutes = 0; p->nroutes < n; p->nroutes++) {
		struct route *r = xcalloc(1, sizeof(*r));

		r->def = xcalloc(1, sizeof(*r->def));
		r->def->name = xstrdup(names[p->nroutes]);
		p->routes[p->nroutes] = r;
	}
	return p;
}

struct calls {
	int	n;
	char	last[64];
};

/* Profiles "p1" (route x), "p2" (routes svc, y); anything else fails. */
static int
fake_profile(void *arg, const char *name, struct plan **plan,
    struct creds_store **creds, struct errbuf *e)
{
	static const char *const p1[] = { "x", NULL };
	static const char *const p2[] = { "svc", "y", NULL };
	struct calls	*calls = arg;

	calls->n++;
	snprintf(calls->last, sizeof(calls->last), "%s", name);
	if (strcmp(name, "p1") == 0)
		*plan = fake_plan(p1);
	else if (strcmp(name, "p2") == 0)
		*plan = fake_plan(p2);
	else {
		errbuf_set(e, "profile %s: not found", name);
		return -1;
	}
	*creds = creds_store_new(NULL);
	return 0;
}

struct fx {
	char		 path[64];
	struct plan	*plan;		/* the proxy's: route svc */
	struct calls	 calls;
	struct errbuf	 e;
};

static int
setup(void **state)
{
	static const char *const names[] = { "svc", NULL };
	struct fx	*f = xcalloc(1, sizeof(*f));
	int		 fd;

	snprintf(f->path, sizeof(f->path), "/tmp/keyhole-clients-XXXXXX");
	fd = mkstemp(f->path);
	assert_true(fd != -1);
	close(fd);
	f->plan = fake_plan(names);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx	*f = *state;

	unlink(f->path);
	policy_plan_free(f->plan);
	free(f);
	return 0;
}

static struct proxy_clients *
load(struct fx *f, const char *json)
{
	FILE	*fp = fopen(f->path, "w");

	assert_non_null(fp);
	fputs(json, fp);
	assert_int_equal(fclose(fp), 0);
	errbuf_clear(&f->e);
	return proxy_clients_load(f->path, f->plan, fake_profile, &f->calls,
	    &f->e);
}

static const struct proxy_client *
by_name(const struct proxy_clients *cs, const char *name)
{
	size_t	i;

	for (i = 0; i < cs->n; i++)
		if (strcmp(cs->v[i].name, name) == 0)
			return &cs->v[i];
	fail_msg("no client %s", name);
	return NULL;
}

static void
test_clients_profile_named_by_many_clients_is_built_once(void **state)
{
	struct fx			*f = *state;
	struct proxy_clients		*cs;
	const struct proxy_client	*a, *b, *c, *d;

	cs = load(f, "{\"clients\": {"
	    "\"a\": {\"token\": \"" TOK("a") "\", \"profile\": \"p1\","
	    " \"phantoms\": {\"x\": \"" PH("a") "\"}},"
	    "\"b\": {\"token\": \"" TOK("b") "\", \"profile\": \"p1\"},"
	    "\"c\": {\"phantoms\": {\"svc\": \"" PH("c") "\"},"
	    " \"profile\": \"p2\", \"token\": \"" TOK("c") "\"},"
	    "\"d\": {\"token\": \"" TOK("d") "\","
	    " \"phantoms\": {\"svc\": \"" PH("d") "\"}}}}");
	assert_non_null(cs);
	assert_int_equal(f->calls.n, 2);
	assert_int_equal(cs->nprofiles, 2);
	a = by_name(cs, "a");
	b = by_name(cs, "b");
	c = by_name(cs, "c");
	d = by_name(cs, "d");
	assert_int_equal(a->profile, b->profile);
	assert_ptr_equal(proxy_clients_plan(cs, a), proxy_clients_plan(cs, b));
	assert_string_equal(cs->profiles[a->profile].name, "p1");
	assert_string_equal(cs->profiles[c->profile].name, "p2");
	assert_int_equal(d->profile, -1);
	assert_ptr_equal(proxy_clients_plan(cs, d), f->plan);
	/* Phantoms are indexed by the client's own plan's routes. */
	assert_non_null(a->phantoms[0]);
	assert_null(b->phantoms[0]);
	assert_non_null(c->phantoms[0]);	/* p2's svc */
	assert_null(c->phantoms[1]);		/* p2's y */
	assert_non_null(d->phantoms[0]);
	proxy_clients_free(cs);
}

static void
test_clients_phantom_must_name_a_route_of_the_client_profile(void **state)
{
	struct fx	*f = *state;

	/* svc is the proxy's route, not p1's. */
	assert_null(load(f, "{\"clients\": {\"a\": {\"token\": \"" TOK("a")
	    "\", \"profile\": \"p1\", \"phantoms\": {\"svc\": \"" PH("a")
	    "\"}}}}"));
	assert_non_null(strstr(errbuf_msg(&f->e), "clients.a.phantoms.svc: "
	    "no such credential route"));
}

static void
test_clients_same_phantom_for_same_route_name_across_profiles_refused(
    void **state)
{
	struct fx		*f = *state;
	struct proxy_clients	*cs;

	assert_null(load(f, "{\"clients\": {"
	    "\"a\": {\"token\": \"" TOK("a") "\", \"phantoms\": {\"svc\": \""
	    PH("s") "\"}},"
	    "\"b\": {\"token\": \"" TOK("b") "\", \"profile\": \"p2\","
	    " \"phantoms\": {\"svc\": \"" PH("s") "\"}}}}"));
	assert_non_null(strstr(errbuf_msg(&f->e), ".phantoms.svc: the same "
	    "phantom as client "));
	/* The same value for routes of different names is two phantoms. */
	cs = load(f, "{\"clients\": {"
	    "\"a\": {\"token\": \"" TOK("a") "\", \"phantoms\": {\"svc\": \""
	    PH("s") "\"}},"
	    "\"b\": {\"token\": \"" TOK("b") "\", \"profile\": \"p2\","
	    " \"phantoms\": {\"y\": \"" PH("s") "\"}}}}");
	assert_non_null(cs);
	proxy_clients_free(cs);
}

static void
test_clients_profile_error_is_placed_at_the_profile_key(void **state)
{
	struct fx	*f = *state;

	assert_null(load(f, "{\"clients\": {\n"
	    " \"a\": {\"token\": \"" TOK("a") "\",\n"
	    "  \"profile\": \"nope\"}}}"));
	assert_string_equal(f->calls.last, "nope");
	assert_non_null(strstr(errbuf_msg(&f->e), "line 3 column 14: "
	    "clients.a.profile: profile nope: not found"));
	assert_null(load(f, "{\"clients\": {\"a\": {\"token\": \"" TOK("a")
	    "\", \"profile\": 7}}}"));
	assert_non_null(strstr(errbuf_msg(&f->e), "clients.a.profile: "
	    "expected a string"));
}

static void
test_clients_profile_without_a_builder_is_refused(void **state)
{
	struct fx	*f = *state;
	FILE		*fp = fopen(f->path, "w");

	assert_non_null(fp);
	fputs("{\"clients\": {\"a\": {\"token\": \"" TOK("a") "\", "
	    "\"profile\": \"p1\"}}}", fp);
	assert_int_equal(fclose(fp), 0);
	errbuf_clear(&f->e);
	assert_null(proxy_clients_load(f->path, f->plan, NULL, NULL, &f->e));
	assert_non_null(strstr(errbuf_msg(&f->e), "clients.a.profile"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_clients_profile_named_by_many_clients_is_built_once,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_clients_phantom_must_name_a_route_of_the_client_profile,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_clients_same_phantom_for_same_route_name_across_profiles_refused,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_clients_profile_error_is_placed_at_the_profile_key,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_clients_profile_without_a_builder_is_refused,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
