/*
 * The interception CA (SPEC §4.12): chain shape, critical name
 * constraints that a client enforces even on a leaf the intermediate
 * signed, AKI/SKI, serials, validity, the leaf cache, the operator CA.
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
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "proxy/tls/pki.h"
#include "util/strv.h"

static struct pki *
make(const char *const *hosts, bool constrain)
{
	struct strv	 v = { 0 };
	struct errbuf	 e = { 0 };
	struct pki	*p;

	for (; hosts != NULL && *hosts != NULL; hosts++)
		strv_push(&v, *hosts);
	p = proxy_tls_pki_new(&v, constrain, 0, &e);
	strv_free(&v);
	assert_non_null(p);
	assert_string_equal(errbuf_msg(&e), "");
	return p;
}

/* X509_verify_cert of leaf with the root trusted: the error code. */
static int
verify(struct pki *p, X509 *leaf, const char *host)
{
	X509_STORE	*st = X509_STORE_new();
	X509_STORE_CTX	*ctx = X509_STORE_CTX_new();
	STACK_OF(X509)	*chain = sk_X509_new_null();
	int		 err;

	assert_non_null(st);
	assert_non_null(ctx);
	assert_int_equal(X509_STORE_add_cert(st, proxy_tls_pki_root(p)), 1);
	if (proxy_tls_pki_chain(p) != NULL)
		sk_X509_push(chain, proxy_tls_pki_chain(p));
	assert_int_equal(X509_STORE_CTX_init(ctx, st, leaf, chain), 1);
	X509_VERIFY_PARAM_set_flags(X509_STORE_CTX_get0_param(ctx),
	    X509_V_FLAG_X509_STRICT);
	if (host != NULL)
		X509_VERIFY_PARAM_set1_host(X509_STORE_CTX_get0_param(ctx),
		    host, 0);
	err = X509_verify_cert(ctx) == 1 ? X509_V_OK :
	    X509_STORE_CTX_get_error(ctx);
	X509_STORE_CTX_free(ctx);
	sk_X509_free(chain);
	X509_STORE_free(st);
	return err;
}

static const char *const hosts[] = { "api.openai.com", "*.example.test",
	"10.1.2.3", NULL };

static void
test_pki_leaf_verifies_for_its_host(void **state)
{
	struct pki	*p = make(hosts, true);
	struct errbuf	 e = { 0 };
	X509		*leaf;

	(void)state;
	leaf = proxy_tls_pki_leaf(p, "api.openai.com", &e);
	assert_non_null(leaf);
	assert_int_equal(verify(p, leaf, "api.openai.com"), X509_V_OK);
	leaf = proxy_tls_pki_leaf(p, "a.example.test", &e);
	assert_non_null(leaf);
	assert_int_equal(verify(p, leaf, "a.example.test"), X509_V_OK);
	assert_true(proxy_tls_pki_constrained(p));
	proxy_tls_pki_free(p);
}

static void
test_pki_name_outside_constraints_fails_even_signed_by_intermediate(
    void **state)
{
	struct pki	*p = make(hosts, true);
	struct errbuf	 e = { 0 };
	X509		*leaf;

	(void)state;
	/* The intermediate signs it; a client still refuses it. */
	leaf = proxy_tls_pki_mint(p, "www.google.com", &e);
	assert_non_null(leaf);
	assert_int_equal(verify(p, leaf, "www.google.com"),
	    X509_V_ERR_PERMITTED_VIOLATION);
	X509_free(leaf);
	/* A "*.x" entry is a strict-subdomain subtree: x itself is out. */
	leaf = proxy_tls_pki_mint(p, "example.test", &e);
	assert_int_equal(verify(p, leaf, "example.test"),
	    X509_V_ERR_PERMITTED_VIOLATION);
	X509_free(leaf);
	/* A look-alike suffix is out too. */
	leaf = proxy_tls_pki_mint(p, "evilapi.openai.com", &e);
	assert_int_equal(verify(p, leaf, "evilapi.openai.com"),
	    X509_V_ERR_PERMITTED_VIOLATION);
	X509_free(leaf);
	proxy_tls_pki_free(p);
}

static void
test_pki_intermediate_constraints_are_critical_and_exclude_all_ips(
    void **state)
{
	struct pki		*p = make(hosts, true);
	X509			*inter = proxy_tls_pki_chain(p);
	NAME_CONSTRAINTS	*nc;
	GENERAL_SUBTREE		*sub;
	int			 crit = -1, i;
	bool			 v4 = false, v6 = false;

	(void)state;
	assert_non_null(inter);
	nc = X509_get_ext_d2i(inter, NID_name_constraints, &crit, NULL);
	assert_non_null(nc);
	assert_int_equal(crit, 1);
	/* Names only: the IP literal in the host set is not permitted. */
	assert_int_equal(sk_GENERAL_SUBTREE_num(nc->permittedSubtrees), 2);
	sub = sk_GENERAL_SUBTREE_value(nc->permittedSubtrees, 0);
	assert_int_equal(sub->base->type, GEN_DNS);
	assert_memory_equal(sub->base->d.dNSName->data, "api.openai.com", 14);
	sub = sk_GENERAL_SUBTREE_value(nc->permittedSubtrees, 1);
	assert_int_equal(sub->base->d.dNSName->length, 13);
	assert_memory_equal(sub->base->d.dNSName->data, ".example.test", 13);
	for (i = 0; i < sk_GENERAL_SUBTREE_num(nc->excludedSubtrees); i++) {
		sub = sk_GENERAL_SUBTREE_value(nc->excludedSubtrees, i);
		assert_int_equal(sub->base->type, GEN_IPADD);
		if (sub->base->d.iPAddress->length == 8)
			v4 = true;
		if (sub->base->d.iPAddress->length == 32)
			v6 = true;
	}
	assert_true(v4 && v6);
	NAME_CONSTRAINTS_free(nc);
	proxy_tls_pki_free(p);
}

static void
test_pki_leaf_names_exactly_its_host_with_aki_ski(void **state)
{
	struct pki		*p = make(hosts, true);
	struct errbuf		 e = { 0 };
	X509			*leaf;
	GENERAL_NAMES		*san;
	GENERAL_NAME		*g;
	const ASN1_OCTET_STRING	*aki, *ski;
	BASIC_CONSTRAINTS	*bc;
	int			 crit;

	(void)state;
	leaf = proxy_tls_pki_leaf(p, "api.openai.com", &e);
	san = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
	assert_non_null(san);
	assert_int_equal(sk_GENERAL_NAME_num(san), 1);
	g = sk_GENERAL_NAME_value(san, 0);
	assert_int_equal(g->type, GEN_DNS);
	assert_int_equal(g->d.dNSName->length, 14);
	GENERAL_NAMES_free(san);
	aki = X509_get0_authority_key_id(leaf);
	ski = X509_get0_subject_key_id(proxy_tls_pki_chain(p));
	assert_non_null(aki);
	assert_non_null(ski);
	assert_int_equal(ASN1_OCTET_STRING_cmp(aki, ski), 0);
	assert_non_null(X509_get0_subject_key_id(leaf));
	/* Not a CA, and not on a CA key. */
	bc = X509_get_ext_d2i(leaf, NID_basic_constraints, &crit, NULL);
	assert_non_null(bc);
	assert_false(bc->ca);
	assert_int_equal(crit, 1);
	BASIC_CONSTRAINTS_free(bc);
	assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(leaf),
	    X509_get0_pubkey(proxy_tls_pki_chain(p))), 0);
	assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(leaf),
	    proxy_tls_pki_leaf_key(p)), 1);
	assert_int_equal(EVP_PKEY_get_bits(proxy_tls_pki_leaf_key(p)), 256);
	proxy_tls_pki_free(p);
}

static void
test_pki_root_key_is_gone_after_signing(void **state)
{
	struct pki	*p = make(hosts, true);

	(void)state;
	assert_false(proxy_tls_pki_holds_root_key(p));
	/* The intermediate is signed by the root. */
	assert_int_equal(X509_verify(proxy_tls_pki_chain(p),
	    X509_get0_pubkey(proxy_tls_pki_root(p))), 1);
	proxy_tls_pki_free(p);
}

static void
test_pki_serials_are_random_and_validity_inside_ca(void **state)
{
	struct pki	*p = make(hosts, true);
	struct errbuf	 e = { 0 };
	X509		*a, *b;
	X509		*ca;

	(void)state;
	a = proxy_tls_pki_mint(p, "api.openai.com", &e);
	b = proxy_tls_pki_mint(p, "api.openai.com", &e);
	assert_non_null(a);
	assert_non_null(b);
	assert_int_not_equal(ASN1_INTEGER_cmp(X509_get0_serialNumber(a),
	    X509_get0_serialNumber(b)), 0);
	ca = proxy_tls_pki_chain(p);
	assert_true(ASN1_TIME_compare(X509_get0_notBefore(a),
	    X509_get0_notBefore(ca)) >= 0);
	assert_true(ASN1_TIME_compare(X509_get0_notAfter(a),
	    X509_get0_notAfter(ca)) <= 0);
	/* The default covers 30 days from now. */
	assert_true(X509_cmp_time(X509_get0_notAfter(a), NULL) > 0);
	{
		time_t	t = time(NULL) + 29 * 86400;

		assert_true(X509_cmp_time(X509_get0_notAfter(a), &t) > 0);
	}
	X509_free(a);
	X509_free(b);
	proxy_tls_pki_free(p);
}

static void
test_pki_leaf_cache_reuses_and_stays_bounded(void **state)
{
	struct pki	*p = make(hosts, true);
	struct errbuf	 e = { 0 };
	X509		*first;
	char		 name[64];
	int		 i;

	(void)state;
	first = proxy_tls_pki_leaf(p, "api.openai.com", &e);
	assert_ptr_equal(proxy_tls_pki_leaf(p, "API.openai.com", &e), first);
	assert_int_equal(proxy_tls_pki_minted(p), 1);
	/* Fill the cache, touching the first name all along: it stays. */
	for (i = 0; i < PKI_LEAF_CACHE_MAX + 10; i++) {
		snprintf(name, sizeof(name), "h%d.example.test", i);
		assert_non_null(proxy_tls_pki_leaf(p, name, &e));
		assert_ptr_equal(proxy_tls_pki_leaf(p, "api.openai.com", &e),
		    first);
	}
	assert_int_equal(proxy_tls_pki_minted(p), PKI_LEAF_CACHE_MAX + 11);
	/* The oldest other names were evicted: minted again. */
	assert_non_null(proxy_tls_pki_leaf(p, "h0.example.test", &e));
	assert_int_equal(proxy_tls_pki_minted(p), PKI_LEAF_CACHE_MAX + 12);
	proxy_tls_pki_free(p);
}

/*
 * The cache is looked up through a hash of the host: through hundreds of
 * evictions every host gets its own leaf, in any case, and exactly the
 * least recently used one is minted again.
 */
static void
test_pki_leaf_cache_finds_each_host_through_evictions(void **state)
{
	struct pki	*p = make(hosts, true);
	struct errbuf	 e = { 0 };
	X509		*x;
	char		 name[64];
	uint64_t	 minted;
	int		 i, n = 2 * PKI_LEAF_CACHE_MAX + 88;

	(void)state;
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "n%d.example.test", i);
		x = proxy_tls_pki_leaf(p, name, &e);
		assert_non_null(x);
		assert_int_equal(X509_check_host(x, name, 0, 0, NULL), 1);
	}
	assert_int_equal(proxy_tls_pki_minted(p), (uint64_t)n);
	/* The last PKI_LEAF_CACHE_MAX are cached: found in any case. */
	for (i = n - PKI_LEAF_CACHE_MAX; i < n; i++) {
		snprintf(name, sizeof(name), "N%d.EXAMPLE.test", i);
		x = proxy_tls_pki_leaf(p, name, &e);
		snprintf(name, sizeof(name), "n%d.example.test", i);
		assert_int_equal(X509_check_host(x, name, 0, 0, NULL), 1);
	}
	minted = proxy_tls_pki_minted(p);
	assert_int_equal(minted, (uint64_t)n);
	/* An evicted one comes back: the least recently used goes. */
	assert_non_null(proxy_tls_pki_leaf(p, "n0.example.test", &e));
	assert_int_equal(proxy_tls_pki_minted(p), minted + 1);
	for (i = n - PKI_LEAF_CACHE_MAX + 1; i < n; i++) {
		snprintf(name, sizeof(name), "n%d.example.test", i);
		x = proxy_tls_pki_leaf(p, name, &e);
		assert_int_equal(X509_check_host(x, name, 0, 0, NULL), 1);
	}
	assert_int_equal(proxy_tls_pki_minted(p), minted + 1);
	snprintf(name, sizeof(name), "n%d.example.test", n -
	    PKI_LEAF_CACHE_MAX);
	x = proxy_tls_pki_leaf(p, name, &e);
	assert_int_equal(X509_check_host(x, name, 0, 0, NULL), 1);
	assert_int_equal(proxy_tls_pki_minted(p), minted + 2);
	proxy_tls_pki_free(p);
}

/* Thread CPU nanoseconds of 200 encodings of x (the best of 5 runs). */
static long
encode_ns(X509 *x)
{
	unsigned char	 buf[4096], *o;
	struct timespec	 a, b;
	long		 best = -1, ns;
	int		 r, i;

	for (r = 0; r < 5; r++) {
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
		for (i = 0; i < 200; i++) {
			o = buf;
			assert_true(i2d_X509(x, NULL) < (int)sizeof(buf));
			assert_true(i2d_X509(x, &o) > 0);
		}
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
		ns = (b.tv_sec - a.tv_sec) * 1000000000L + b.tv_nsec -
		    a.tv_nsec;
		if (best == -1 || ns < best)
			best = ns;
	}
	return best;
}

/*
 * Every handshake encodes the leaf and the intermediate: they must be
 * copied from their DER, not encoded anew (10x the work).  The copy made
 * to re-encode (i2d_re_X509_tbs) shows what that would cost; the bytes
 * are the same either way.
 */
static void
test_pki_leaf_and_chain_are_sent_from_their_der(void **state)
{
	struct pki	*p = make(hosts, true);
	struct errbuf	 e = { 0 };
	X509		*certs[2], *fresh;
	unsigned char	*a = NULL, *b = NULL;
	int		 i, na, nb;

	(void)state;
	certs[0] = proxy_tls_pki_leaf(p, "api.openai.com", &e);
	certs[1] = proxy_tls_pki_chain(p);
	for (i = 0; i < 2; i++) {
		assert_non_null(certs[i]);
		assert_non_null(fresh = X509_dup(certs[i]));
		assert_true(i2d_re_X509_tbs(fresh, NULL) > 0);
		na = i2d_X509(certs[i], &a);
		nb = i2d_X509(fresh, &b);
		assert_int_equal(na, nb);
		assert_memory_equal(a, b, (size_t)na);
		OPENSSL_free(a);
		OPENSSL_free(b);
		a = b = NULL;
		assert_true(encode_ns(certs[i]) * 3 < encode_ns(fresh));
		X509_free(fresh);
	}
	assert_int_equal(verify(p, certs[0], "api.openai.com"), X509_V_OK);
	proxy_tls_pki_free(p);
}

static void
test_pki_unconstrained_without_names(void **state)
{
	static const char *const ips[] = { "10.0.0.1", NULL };
	struct pki	*p = make(ips, true);
	struct errbuf	 e = { 0 };
	X509		*leaf;

	(void)state;
	assert_false(proxy_tls_pki_constrained(p));
	assert_int_equal(X509_get_ext_by_NID(proxy_tls_pki_chain(p),
	    NID_name_constraints, -1), -1);
	leaf = proxy_tls_pki_leaf(p, "anything.test", &e);
	assert_int_equal(verify(p, leaf, "anything.test"), X509_V_OK);
	proxy_tls_pki_free(p);
	p = make(hosts, false);
	assert_false(proxy_tls_pki_constrained(p));
	proxy_tls_pki_free(p);
}

static void
write_pem(const char *path, X509 *x, EVP_PKEY *k)
{
	FILE	*f = fopen(path, "w");

	assert_non_null(f);
	if (x != NULL)
		assert_int_equal(PEM_write_X509(f, x), 1);
	if (k != NULL)
		assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0,
		    NULL, NULL), 1);
	fclose(f);
}

static void
test_pki_operator_ca_signs_leaves_and_wrong_key_is_refused(void **state)
{
	char		 dir[] = "/tmp/test_pki.XXXXXX", cert[64], key[64],
			 other[64];
	struct errbuf	 e = { 0 };
	struct pki	*gen = make(hosts, true), *p;
	EVP_PKEY	*k = EVP_EC_gen("P-256"), *k2 = EVP_EC_gen("P-256");
	X509		*ca = X509_new(), *leaf;
	X509V3_CTX	 ctx;
	X509_EXTENSION	*ext;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(cert, sizeof(cert), "%s/ca.pem", dir);
	snprintf(key, sizeof(key), "%s/key.pem", dir);
	snprintf(other, sizeof(other), "%s/other.pem", dir);
	/* A self-signed operator CA built here. */
	X509_set_version(ca, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(ca), 7);
	X509_gmtime_adj(X509_getm_notBefore(ca), -3600);
	X509_gmtime_adj(X509_getm_notAfter(ca), 86400 * 365);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(ca), "CN",
	    MBSTRING_ASC, (const unsigned char *)"op CA", -1, -1, 0);
	X509_set_issuer_name(ca, X509_get_subject_name(ca));
	X509_set_pubkey(ca, k);
	X509V3_set_ctx(&ctx, ca, ca, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints,
	    "critical,CA:TRUE");
	X509_add_ext(ca, ext, -1);
	X509_EXTENSION_free(ext);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_key_usage,
	    "critical,keyCertSign");
	X509_add_ext(ca, ext, -1);
	X509_EXTENSION_free(ext);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_key_identifier,
	    "hash");
	X509_add_ext(ca, ext, -1);
	X509_EXTENSION_free(ext);
	assert_true(X509_sign(ca, k, EVP_sha256()) > 0);
	write_pem(cert, ca, NULL);
	write_pem(key, NULL, k);
	write_pem(other, NULL, k2);

	p = proxy_tls_pki_load(cert, key, 0, &e);
	assert_non_null(p);
	assert_null(proxy_tls_pki_chain(p));
	leaf = proxy_tls_pki_leaf(p, "api.openai.com", &e);
	assert_non_null(leaf);
	assert_int_equal(verify(p, leaf, "api.openai.com"), X509_V_OK);
	/* Validity inside the operator's CA and at most the default. */
	assert_true(ASN1_TIME_compare(X509_get0_notAfter(leaf),
	    X509_get0_notAfter(ca)) < 0);
	proxy_tls_pki_free(p);

	assert_null(proxy_tls_pki_load(cert, other, 0, &e));
	assert_non_null(strstr(errbuf_msg(&e), "is not the key of"));
	assert_null(proxy_tls_pki_load("/nonexistent.pem", key, 0, &e));
	assert_string_equal(errbuf_msg(&e), "--tls-ca /nonexistent.pem: "
	    "cannot read a PEM certificate");
	/* A leaf is no CA. */
	write_pem(other, proxy_tls_pki_leaf(gen, "x.example.test", &e),
	    NULL);
	assert_null(proxy_tls_pki_load(other, key, 0, &e));
	assert_non_null(strstr(errbuf_msg(&e), "not a CA certificate"));

	unlink(cert);
	unlink(key);
	unlink(other);
	rmdir(dir);
	X509_free(ca);
	EVP_PKEY_free(k);
	EVP_PKEY_free(k2);
	proxy_tls_pki_free(gen);
}

static void
test_pki_pem_round_trips(void **state)
{
	struct pki	*p = make(hosts, true);
	char		*pem = proxy_tls_pki_pem(proxy_tls_pki_root(p));
	BIO		*b;
	X509		*x;

	(void)state;
	assert_non_null(pem);
	assert_non_null(strstr(pem, "-----BEGIN CERTIFICATE-----"));
	assert_null(strstr(pem, "PRIVATE"));
	b = BIO_new_mem_buf(pem, -1);
	x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	assert_non_null(x);
	assert_int_equal(X509_cmp(x, proxy_tls_pki_root(p)), 0);
	X509_free(x);
	BIO_free(b);
	free(pem);
	proxy_tls_pki_free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pki_leaf_verifies_for_its_host),
		cmocka_unit_test(
		    test_pki_name_outside_constraints_fails_even_signed_by_intermediate),
		cmocka_unit_test(
		    test_pki_intermediate_constraints_are_critical_and_exclude_all_ips),
		cmocka_unit_test(test_pki_leaf_names_exactly_its_host_with_aki_ski),
		cmocka_unit_test(test_pki_root_key_is_gone_after_signing),
		cmocka_unit_test(
		    test_pki_serials_are_random_and_validity_inside_ca),
		cmocka_unit_test(test_pki_leaf_cache_reuses_and_stays_bounded),
		cmocka_unit_test(
		    test_pki_leaf_cache_finds_each_host_through_evictions),
		cmocka_unit_test(test_pki_leaf_and_chain_are_sent_from_their_der),
		cmocka_unit_test(test_pki_unconstrained_without_names),
		cmocka_unit_test(
		    test_pki_operator_ca_signs_leaves_and_wrong_key_is_refused),
		cmocka_unit_test(test_pki_pem_round_trips),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
