/*
 * What the interception CA made at start can still sign for after a
 * reload (SPEC 4.10, 4.12): proxy_tls_intercept_covers must say yes
 * exactly where a client's name-constraint check passes, and
 * proxy_tls_intercept_uncovered lists what a new plan adds outside.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/x509_vfy.h>

#include "policy/plan.h"
#include "policy/route.h"
#include "proxy/tls/intercept.h"
#include "proxy/tls/pki.h"
#include "util/strv.h"

/* A plan intercepting the plain hosts names (credentials mode). */
static void
plan_of(struct plan *p, const char *const *names)
{
	memset(p, 0, sizeof(*p));
	p->tls_intercept = TLS_INTERCEPT_CREDENTIALS;
	for (; *names != NULL; names++) {
		p->plain = realloc(p->plain, (p->nplain + 1) *
		    sizeof(*p->plain));
		assert_non_null(p->plain);
		p->plain[p->nplain++] = policy_route_def_new(*names);
	}
}

static void
plan_done(struct plan *p)
{
	size_t	i;

	for (i = 0; i < p->nplain; i++)
		policy_route_def_free(p->plain[i]);
	free(p->plain);
}

/* Does a leaf for host, signed by p's intermediate, verify? */
static bool
verifies(struct pki *p, const char *host)
{
	X509_STORE	*st = X509_STORE_new();
	X509_STORE_CTX	*ctx = X509_STORE_CTX_new();
	STACK_OF(X509)	*chain = sk_X509_new_null();
	struct errbuf	 e = { 0 };
	X509		*leaf = proxy_tls_pki_mint(p, host, &e);
	bool		 ok;

	assert_non_null(leaf);
	assert_int_equal(X509_STORE_add_cert(st, proxy_tls_pki_root(p)), 1);
	sk_X509_push(chain, proxy_tls_pki_chain(p));
	assert_int_equal(X509_STORE_CTX_init(ctx, st, leaf, chain), 1);
	ok = X509_verify_cert(ctx) == 1;
	X509_STORE_CTX_free(ctx);
	sk_X509_free(chain);
	X509_STORE_free(st);
	X509_free(leaf);
	return ok;
}

static const char *const names[] = { "db.test", "api.corp.test", NULL };

static void
test_intercept_covers_exactly_what_the_constraints_permit(void **state)
{
	static const char *const hosts[] = { "db.test", "x.db.test",
	    "a.b.db.test", "xdb.test", "test", "api.corp.test",
	    "corp.test", "other.corp.test", "evil.test", "db.test.evil",
	    NULL };
	struct plan		 p;
	struct intercept_tls	*t;
	struct strv		 v = { 0 };
	struct errbuf		 e = { 0 };
	struct pki		*pki;
	size_t			 i;

	(void)state;
	plan_of(&p, names);
	t = proxy_tls_intercept_tls_new(&p, NULL, &e);
	assert_non_null(t);
	for (i = 0; names[i] != NULL; i++)
		strv_push(&v, names[i]);
	pki = proxy_tls_pki_new(&v, true, 0, &e);	/* the same names */
	assert_non_null(pki);
	for (i = 0; hosts[i] != NULL; i++) {
		bool want = verifies(pki, hosts[i]);

		if (proxy_tls_intercept_covers(t, hosts[i]) != want)
			fail_msg("%s: covers %d, a client says %d", hosts[i],
			    !want, want);
	}
	assert_true(proxy_tls_intercept_covers(t, "x.db.test"));
	assert_false(proxy_tls_intercept_covers(t, "evil.test"));
	/* "*.suffix" entries of a later plan. */
	assert_true(proxy_tls_intercept_covers(t, "*.db.test"));
	assert_false(proxy_tls_intercept_covers(t, "*.test"));
	assert_false(proxy_tls_intercept_covers(t, "*.corp.test"));
	proxy_tls_pki_free(pki);
	strv_free(&v);
	proxy_tls_intercept_tls_free(t);
	plan_done(&p);
}

static void
test_intercept_uncovered_lists_what_a_reload_added(void **state)
{
	static const char *const later[] = { "db.test", "x.db.test",
	    "new.test", NULL };
	struct plan		 p, q;
	struct intercept_tls	*t;
	struct strv		 out = { 0 };
	struct errbuf		 e = { 0 };

	(void)state;
	plan_of(&p, names);
	t = proxy_tls_intercept_tls_new(&p, NULL, &e);
	assert_non_null(t);
	plan_of(&q, later);
	proxy_tls_intercept_uncovered(t, &q, &out);
	assert_int_equal(out.n, 1);
	assert_string_equal(out.v[0], "new.test");
	strv_free(&out);
	/* Nothing set up at start: every host of the new plan. */
	proxy_tls_intercept_uncovered(NULL, &q, &out);
	assert_int_equal(out.n, 3);
	strv_free(&out);
	/* Interception off in the new plan: nothing to say. */
	q.tls_intercept = TLS_INTERCEPT_OFF;
	proxy_tls_intercept_uncovered(t, &q, &out);
	assert_int_equal(out.n, 0);
	/* all with an empty allow-list: any host, which no CA covers. */
	q.tls_intercept = TLS_INTERCEPT_ALL;
	proxy_tls_intercept_uncovered(t, &q, &out);
	assert_true(strv_contains(&out, "*"));
	strv_free(&out);
	plan_done(&q);
	proxy_tls_intercept_tls_free(t);
	plan_done(&p);
}

/* An unconstrained CA (all with an empty allow-list) covers any host. */
static void
test_intercept_unconstrained_covers_anything(void **state)
{
	struct plan		 p;
	struct intercept_tls	*t;
	struct errbuf		 e = { 0 };
	struct strv		 out = { 0 };

	(void)state;
	plan_of(&p, (const char *const []){ NULL });
	p.tls_intercept = TLS_INTERCEPT_ALL;
	t = proxy_tls_intercept_tls_new(&p, NULL, &e);
	assert_non_null(t);
	assert_true(proxy_tls_intercept_covers(t, "anything.example"));
	proxy_tls_intercept_uncovered(t, &p, &out);
	assert_int_equal(out.n, 0);
	proxy_tls_intercept_tls_free(t);
	plan_done(&p);
}


/* Does ctx serve a leaf for host, with the chain and a matching key? */
static bool
serves(SSL_CTX *ctx, const char *host)
{
	STACK_OF(X509)	*chain = NULL;
	X509		*leaf = SSL_CTX_get0_certificate(ctx);

	SSL_CTX_get0_chain_certs(ctx, &chain);
	return leaf != NULL && X509_check_host(leaf, host, 0, 0, NULL) == 1 &&
	    chain != NULL && sk_X509_num(chain) == 1 &&
	    SSL_CTX_check_private_key(ctx) == 1;
}

static void
test_intercept_ctx_is_made_once_per_leaf_and_kept(void **state)
{
	static const char *const hosts[] = { "a.test", "b.test", NULL };
	struct plan		 plan;
	struct intercept_tls	*t;
	struct errbuf		 e = { 0 };
	SSL_CTX			*a, *b, *first;
	char			 host[32];
	size_t			 i;
	SSL			*ssl;

	(void)state;
	plan_of(&plan, hosts);
	t = proxy_tls_intercept_tls_new(&plan, NULL, &e);
	assert_non_null(t);
	a = proxy_tls_intercept_ctx(t, "a.test", &e);
	b = proxy_tls_intercept_ctx(t, "b.test", &e);
	assert_non_null(a);
	assert_non_null(b);
	assert_ptr_not_equal(a, b);
	assert_true(serves(a, "a.test"));
	assert_false(serves(a, "b.test"));
	assert_true(serves(b, "b.test"));
	/* The next connection to a host reuses its context. */
	assert_ptr_equal(proxy_tls_intercept_ctx(t, "a.test", &e), a);
	assert_ptr_equal(proxy_tls_intercept_ctx(t, "b.test", &e), b);
	/* What every context holds to: TLS >= 1.2, no resumption. */
	assert_int_equal(SSL_CTX_get_min_proto_version(a), TLS1_2_VERSION);
	assert_int_equal(SSL_CTX_get_num_tickets(a), 0);
	assert_true(SSL_CTX_get_options(a) & SSL_OP_NO_TICKET);
	assert_int_equal(SSL_CTX_get_session_cache_mode(a),
	    SSL_SESS_CACHE_OFF);
	ssl = SSL_new(b);
	assert_non_null(ssl);
	assert_ptr_equal(SSL_get_certificate(ssl), SSL_CTX_get0_certificate(b));
	/*
	 * Past INTERCEPT_CTX_MAX leaves the least used go (b among them);
	 * a, used all along, is kept.
	 */
	for (i = 0; i < INTERCEPT_CTX_MAX + 8; i++) {
		snprintf(host, sizeof(host), "h%zu.a.test", i);
		first = proxy_tls_intercept_ctx(t, host, &e);
		assert_non_null(first);
		assert_true(serves(first, host));
		assert_ptr_equal(proxy_tls_intercept_ctx(t, "a.test", &e), a);
	}
	snprintf(host, sizeof(host), "h%zu.a.test", (size_t)0);
	first = proxy_tls_intercept_ctx(t, host, &e);
	assert_true(serves(first, host));
	/* An SSL made before its context went keeps its leaf (refcount). */
	assert_int_equal(X509_check_host(SSL_get_certificate(ssl), "b.test", 0,
	    0, NULL), 1);
	assert_ptr_not_equal(proxy_tls_intercept_ctx(t, "b.test", &e), NULL);
	SSL_free(ssl);
	proxy_tls_intercept_tls_free(t);
	plan_done(&plan);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_intercept_covers_exactly_what_the_constraints_permit),
		cmocka_unit_test(
		    test_intercept_uncovered_lists_what_a_reload_added),
		cmocka_unit_test(test_intercept_unconstrained_covers_anything),
		cmocka_unit_test(
		    test_intercept_ctx_is_made_once_per_leaf_and_kept),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
