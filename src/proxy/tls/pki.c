/*
 * The interception CA (SPEC §4.12): root, name-constrained intermediate,
 * one leaf key, and a bounded cache of leaves.  Nothing here touches the
 * disk; the child can read neither the keys nor this process's memory
 * (the sandbox denies ptrace and /proc/PID/mem of the supervisor).
 */
#include "proxy/tls/pki.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "util/hash.h"
#include "util/xmalloc.h"

struct pki_leaf {
	char		*host;		/* owned; NULL: free slot */
	X509		*cert;		/* owned */
	uint64_t	 used;		/* tick of the last use */
	int16_t		 next;		/* the bucket's next slot; -1: none */
};

/*
 * Cached leaves are found through a hash of the host (a handshake looks
 * one up; a scan of the whole cache with strcasecmp was 1.5 us when it
 * was full).  Buckets chain slots of the cache.
 */
#define PKI_BUCKETS	256

struct pki {
	X509		*root;		/* owned; the trust anchor */
	X509		*inter;		/* owned; NULL with an operator CA */
	X509		*signer;	/* borrowed: inter or root */
	EVP_PKEY	*sign_key;	/* owned; signs leaves */
	EVP_PKEY	*root_key;	/* owned while held; NULL after use */
	EVP_PKEY	*leaf_key;	/* owned; shared by every leaf */
	bool		 constrained;
	uint32_t	 days;
	struct pki_leaf	 cache[PKI_LEAF_CACHE_MAX];
	int16_t		 bucket[PKI_BUCKETS];	/* first slot; -1: none */
	uint64_t	 tick;
	uint64_t	 minted;
};

static EVP_PKEY *
pki_keygen(struct errbuf *e)
{
	EVP_PKEY	*k;

	if ((k = EVP_EC_gen("P-256")) == NULL)
		errbuf_set(e, "cannot generate a P-256 key");
	return k;
}

/* A random positive 127-bit serial (RFC 5280 §4.1.2.2: at most 20 bytes). */
static int
pki_serial(X509 *x)
{
	unsigned char	 b[16];
	BIGNUM		*bn;
	int		 rc = -1;

	if (RAND_bytes(b, sizeof(b)) != 1)
		return -1;
	b[0] &= 0x7f;
	b[0] |= 0x01;	/* never zero, never negative */
	if ((bn = BN_bin2bn(b, sizeof(b), NULL)) == NULL)
		return -1;
	if (BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL)
		rc = 0;
	BN_free(bn);
	return rc;
}

static int
pki_name(X509 *x, const char *field, const char *value)
{
	X509_NAME	*n = X509_get_subject_name(x);

	return X509_NAME_add_entry_by_txt(n, field, MBSTRING_ASC,
	    (const unsigned char *)value, -1, -1, 0) == 1 ? 0 : -1;
}

/* Extension from OpenSSL's config syntax (fixed strings only). */
static int
pki_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX	 ctx;
	X509_EXTENSION	*ext;
	int		 rc;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL)
		return -1;
	rc = X509_add_ext(x, ext, -1) == 1 ? 0 : -1;
	X509_EXTENSION_free(ext);
	return rc;
}

static int
pki_add_dns(STACK_OF(GENERAL_SUBTREE) *st, GENERAL_NAMES *gens,
    const char *name)
{
	GENERAL_NAME	*g;
	ASN1_IA5STRING	*s;
	GENERAL_SUBTREE	*sub;

	if ((g = GENERAL_NAME_new()) == NULL)
		return -1;
	if ((s = ASN1_IA5STRING_new()) == NULL ||
	    ASN1_STRING_set(s, name, (int)strlen(name)) != 1) {
		ASN1_IA5STRING_free(s);
		GENERAL_NAME_free(g);
		return -1;
	}
	GENERAL_NAME_set0_value(g, GEN_DNS, s);
	if (gens != NULL) {
		if (sk_GENERAL_NAME_push(gens, g) <= 0) {
			GENERAL_NAME_free(g);
			return -1;
		}
		return 0;
	}
	if ((sub = GENERAL_SUBTREE_new()) == NULL) {
		GENERAL_NAME_free(g);
		return -1;
	}
	GENERAL_NAME_free(sub->base);
	sub->base = g;
	if (sk_GENERAL_SUBTREE_push(st, sub) <= 0) {
		GENERAL_SUBTREE_free(sub);
		return -1;
	}
	return 0;
}

/* An excluded subtree for every address of one family (len 8 or 32). */
static int
pki_add_ip_all(STACK_OF(GENERAL_SUBTREE) *st, int len)
{
	unsigned char		 zero[32] = { 0 };
	GENERAL_SUBTREE		*sub;
	ASN1_OCTET_STRING	*o;

	if ((sub = GENERAL_SUBTREE_new()) == NULL)
		return -1;
	if ((o = ASN1_OCTET_STRING_new()) == NULL ||
	    ASN1_OCTET_STRING_set(o, zero, len) != 1) {
		ASN1_OCTET_STRING_free(o);
		GENERAL_SUBTREE_free(sub);
		return -1;
	}
	GENERAL_NAME_set0_value(sub->base, GEN_IPADD, o);
	if (sk_GENERAL_SUBTREE_push(st, sub) <= 0) {
		GENERAL_SUBTREE_free(sub);
		return -1;
	}
	return 0;
}

static bool
pki_is_ip(const char *h)
{
	return strspn(h, "0123456789.") == strlen(h) || strchr(h, ':') !=
	    NULL || h[0] == '[';
}

/*
 * Critical name constraints: permitted DNS subtrees for hosts ("*.x" as
 * ".x", which OpenSSL and RFC 5280 read as strict subdomains; "x" as x and
 * its subdomains), every IPv4 and IPv6 address excluded.  0 when added, 1
 * when hosts holds no name (nothing to permit), -1 on failure.
 */
static int
pki_constraints(X509 *x, const struct strv *hosts)
{
	NAME_CONSTRAINTS	*nc;
	size_t			 i, n = 0;
	int			 rc = -1;

	if ((nc = NAME_CONSTRAINTS_new()) == NULL)
		return -1;
	nc->permittedSubtrees = sk_GENERAL_SUBTREE_new_null();
	nc->excludedSubtrees = sk_GENERAL_SUBTREE_new_null();
	if (nc->permittedSubtrees == NULL || nc->excludedSubtrees == NULL)
		goto out;
	for (i = 0; hosts != NULL && i < hosts->n; i++) {
		const char *h = hosts->v[i];

		if (strncmp(h, "*.", 2) == 0)
			h++;
		if (*h == '\0' || strcmp(h, ".") == 0 || pki_is_ip(h))
			continue;
		if (pki_add_dns(nc->permittedSubtrees, NULL, h) == -1)
			goto out;
		n++;
	}
	if (n == 0) {
		rc = 1;
		goto out;
	}
	if (pki_add_ip_all(nc->excludedSubtrees, 8) == -1 ||
	    pki_add_ip_all(nc->excludedSubtrees, 32) == -1)
		goto out;
	if (X509_add1_ext_i2d(x, NID_name_constraints, nc, 1,
	    X509V3_ADD_DEFAULT) != 1)
		goto out;
	rc = 0;
out:
	NAME_CONSTRAINTS_free(nc);
	return rc;
}

static int
pki_validity(X509 *x, time_t from, time_t to)
{
	if (X509_time_adj_ex(X509_getm_notBefore(x), 0, 0, &from) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), 0, 0, &to) == NULL)
		return -1;
	return 0;
}

/*
 * x signed and frozen: the same certificate parsed back from its own DER.
 * OpenSSL keeps the DER of a parsed certificate and copies it out on every
 * i2d, while one built in memory is encoded anew each time, and a
 * handshake encodes the leaf and the chain twice each (bench/intercept_rate:
 * 7 us a handshake).  x is freed; NULL on failure.
 */
static X509 *
pki_settle(X509 *x)
{
	unsigned char		*der = NULL;
	const unsigned char	*q;
	X509			*y = NULL;
	int			 n;

	if ((n = i2d_X509(x, &der)) > 0) {
		q = der;
		y = d2i_X509(NULL, &q, n);
	}
	OPENSSL_free(der);
	X509_free(x);
	return y;
}

/* A CA certificate for key, signed by issuer/ikey (self when NULL). */
static X509 *
pki_ca_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *ikey,
    const struct strv *hosts, bool constrain, uint32_t days, bool *nc_set)
{
	X509	*x;
	time_t	 now = time(NULL);
	int	 rc;

	if ((x = X509_new()) == NULL)
		return NULL;
	if (X509_set_version(x, X509_VERSION_3) != 1 || pki_serial(x) ||
	    pki_validity(x, now - PKI_BACKDATE_SECS,
	    now + (time_t)days * 86400) == -1 ||
	    pki_name(x, "O", "keyhole") == -1 || pki_name(x, "CN", cn) == -1 ||
	    X509_set_pubkey(x, key) != 1)
		goto fail;
	if (issuer == NULL)
		issuer = x;
	if (X509_set_issuer_name(x, X509_get_subject_name(issuer)) != 1)
		goto fail;
	if (pki_ext(x, issuer, NID_basic_constraints, ikey == key ?
	    "critical,CA:TRUE,pathlen:1" : "critical,CA:TRUE,pathlen:0") ==
	    -1 ||
	    pki_ext(x, issuer, NID_key_usage, "critical,keyCertSign,cRLSign")
	    == -1 ||
	    pki_ext(x, issuer, NID_subject_key_identifier, "hash") == -1)
		goto fail;
	if (issuer != x && pki_ext(x, issuer, NID_authority_key_identifier,
	    "keyid:always") == -1)
		goto fail;
	if (nc_set != NULL) {
		*nc_set = false;
		if (constrain) {
			if ((rc = pki_constraints(x, hosts)) == -1)
				goto fail;
			*nc_set = rc == 0;
		}
	}
	if (X509_sign(x, ikey, EVP_sha256()) <= 0)
		goto fail;
	return pki_settle(x);
fail:
	X509_free(x);
	return NULL;
}

/* An empty pki: no keys, an empty leaf cache; days 0: the default. */
static struct pki *
pki_alloc(uint32_t days)
{
	struct pki	*p = xcalloc(1, sizeof(*p));

	memset(p->bucket, 0xff, sizeof(p->bucket));	/* all -1: empty */
	p->days = days != 0 ? days : PKI_DEFAULT_DAYS;
	return p;
}

struct pki *
proxy_tls_pki_new(const struct strv *hosts, bool constrain, uint32_t days,
    struct errbuf *e)
{
	struct pki	*p = pki_alloc(days);

	if ((p->root_key = pki_keygen(e)) == NULL ||
	    (p->sign_key = pki_keygen(e)) == NULL ||
	    (p->leaf_key = pki_keygen(e)) == NULL)
		goto fail;
	if ((p->root = pki_ca_cert("keyhole interception root (this run "
	    "only)", p->root_key, NULL, p->root_key, NULL, false, p->days,
	    NULL)) == NULL) {
		errbuf_set(e, "cannot make the interception root certificate");
		goto fail;
	}
	if ((p->inter = pki_ca_cert("keyhole interception CA (this run only)",
	    p->sign_key, p->root, p->root_key, hosts, constrain, p->days,
	    &p->constrained)) == NULL) {
		errbuf_set(e, "cannot make the interception intermediate "
		    "certificate");
		goto fail;
	}
	/* The root has signed all it ever will: drop its key (cleared). */
	EVP_PKEY_free(p->root_key);
	p->root_key = NULL;
	p->signer = p->inter;
	return p;
fail:
	ERR_clear_error();
	proxy_tls_pki_free(p);
	return NULL;
}

struct pki *
proxy_tls_pki_load(const char *cert_file, const char *key_file,
    uint32_t days, struct errbuf *e)
{
	struct pki	*p = pki_alloc(days);
	BIO		*b;
	BASIC_CONSTRAINTS *bc;

	if ((b = BIO_new_file(cert_file, "r")) == NULL ||
	    (p->root = PEM_read_bio_X509(b, NULL, NULL, NULL)) == NULL) {
		BIO_free(b);
		errbuf_set(e, "--tls-ca %s: cannot read a PEM certificate",
		    cert_file);
		goto fail;
	}
	BIO_free(b);
	bc = X509_get_ext_d2i(p->root, NID_basic_constraints, NULL, NULL);
	if (bc == NULL || !bc->ca) {
		BASIC_CONSTRAINTS_free(bc);
		errbuf_set(e, "--tls-ca %s: not a CA certificate "
		    "(basicConstraints CA:TRUE missing)", cert_file);
		goto fail;
	}
	BASIC_CONSTRAINTS_free(bc);
	if ((b = BIO_new_file(key_file, "r")) == NULL ||
	    (p->sign_key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL)) ==
	    NULL) {
		BIO_free(b);
		errbuf_set(e, "--tls-ca %s: cannot read a PEM private key",
		    key_file);
		goto fail;
	}
	BIO_free(b);
	if (X509_check_private_key(p->root, p->sign_key) != 1) {
		errbuf_set(e, "--tls-ca: %s is not the key of %s", key_file,
		    cert_file);
		goto fail;
	}
	if ((p->leaf_key = pki_keygen(e)) == NULL)
		goto fail;
	/* The operator decides what the CA may name. */
	p->constrained = X509_get_ext_by_NID(p->root, NID_name_constraints,
	    -1) >= 0;
	p->signer = p->root;
	return p;
fail:
	ERR_clear_error();
	proxy_tls_pki_free(p);
	return NULL;
}

X509 *
proxy_tls_pki_mint(struct pki *p, const char *host, struct errbuf *e)
{
	X509		*x;
	GENERAL_NAMES	*san = NULL;
	time_t		 now = time(NULL), from, to;
	const ASN1_TIME	*ca_from = X509_get0_notBefore(p->signer);
	const ASN1_TIME	*ca_to = X509_get0_notAfter(p->signer);

	if ((x = X509_new()) == NULL)
		goto fail;
	from = now - PKI_BACKDATE_SECS;
	to = now + (time_t)p->days * 86400;
	if (X509_set_version(x, X509_VERSION_3) != 1 || pki_serial(x) == -1 ||
	    pki_validity(x, from, to) == -1)
		goto fail;
	/* Inside the CA's validity, whatever the clocks say. */
	if (ASN1_TIME_compare(X509_get0_notBefore(x), ca_from) < 0 &&
	    X509_set1_notBefore(x, ca_from) != 1)
		goto fail;
	if (ASN1_TIME_compare(X509_get0_notAfter(x), ca_to) > 0 &&
	    X509_set1_notAfter(x, ca_to) != 1)
		goto fail;
	/* CN is at most 64 characters (RFC 5280 ub-common-name). */
	if (pki_name(x, "CN", strlen(host) <= 64 ? host : "keyhole leaf") ==
	    -1 ||
	    X509_set_issuer_name(x, X509_get_subject_name(p->signer)) != 1 ||
	    X509_set_pubkey(x, p->leaf_key) != 1)
		goto fail;
	if ((san = sk_GENERAL_NAME_new_null()) == NULL ||
	    pki_add_dns(NULL, san, host) == -1 ||
	    X509_add1_ext_i2d(x, NID_subject_alt_name, san, 0,
	    X509V3_ADD_DEFAULT) != 1)
		goto fail;
	if (pki_ext(x, p->signer, NID_basic_constraints, "critical,CA:FALSE")
	    == -1 ||
	    pki_ext(x, p->signer, NID_key_usage, "critical,digitalSignature")
	    == -1 ||
	    pki_ext(x, p->signer, NID_ext_key_usage, "serverAuth") == -1 ||
	    pki_ext(x, p->signer, NID_subject_key_identifier, "hash") == -1 ||
	    pki_ext(x, p->signer, NID_authority_key_identifier,
	    "keyid:always") == -1)
		goto fail;
	if (X509_sign(x, p->sign_key, EVP_sha256()) <= 0)
		goto fail;
	GENERAL_NAMES_free(san);
	san = NULL;
	if ((x = pki_settle(x)) == NULL)
		goto fail;
	p->minted++;
	return x;
fail:
	GENERAL_NAMES_free(san);
	X509_free(x);
	ERR_clear_error();
	errbuf_set(e, "cannot make a certificate for %s", host);
	return NULL;
}

/* The bucket of host, case folded (names compare with strcasecmp). */
static size_t
pki_bucket(const char *host)
{
	return hash_str(host, true) % PKI_BUCKETS;
}

X509 *
proxy_tls_pki_leaf(struct pki *p, const char *host, struct errbuf *e)
{
	struct pki_leaf	*l, *victim = NULL;
	size_t		 i, b = pki_bucket(host);
	int16_t		*at, j;
	X509		*x;

	p->tick++;
	for (j = p->bucket[b]; j != -1; j = p->cache[j].next) {
		l = &p->cache[j];
		if (strcasecmp(l->host, host) == 0) {
			l->used = p->tick;
			return l->cert;
		}
	}
	/* A free slot, else the least recently used one. */
	for (i = 0; i < PKI_LEAF_CACHE_MAX; i++) {
		l = &p->cache[i];
		if (l->host == NULL) {
			victim = l;
			break;
		}
		if (victim == NULL || l->used < victim->used)
			victim = l;
	}
	if ((x = proxy_tls_pki_mint(p, host, e)) == NULL)
		return NULL;
	if (victim->host != NULL) {
		/* Out of its bucket's chain. */
		at = &p->bucket[pki_bucket(victim->host)];
		while (&p->cache[*at] != victim)
			at = &p->cache[*at].next;
		*at = victim->next;
	}
	free(victim->host);
	X509_free(victim->cert);
	victim->host = xstrdup(host);
	victim->cert = x;
	victim->used = p->tick;
	victim->next = p->bucket[b];
	p->bucket[b] = (int16_t)(victim - p->cache);
	return x;
}

EVP_PKEY *
proxy_tls_pki_leaf_key(const struct pki *p)
{
	return p->leaf_key;
}

X509 *
proxy_tls_pki_chain(const struct pki *p)
{
	return p->inter;
}

X509 *
proxy_tls_pki_root(const struct pki *p)
{
	return p->root;
}

bool
proxy_tls_pki_constrained(const struct pki *p)
{
	return p->constrained;
}

bool
proxy_tls_pki_holds_root_key(const struct pki *p)
{
	return p->root_key != NULL;
}

uint64_t
proxy_tls_pki_minted(const struct pki *p)
{
	return p->minted;
}

char *
proxy_tls_pki_pem(X509 *x)
{
	BIO	*b;
	char	*data, *s;
	long	 n;

	if ((b = BIO_new(BIO_s_mem())) == NULL)
		return NULL;
	if (PEM_write_bio_X509(b, x) != 1) {
		BIO_free(b);
		return NULL;
	}
	n = BIO_get_mem_data(b, &data);
	s = xstrndup(data, (size_t)n);
	BIO_free(b);
	return s;
}

void
proxy_tls_pki_free(struct pki *p)
{
	size_t	i;

	if (p == NULL)
		return;
	for (i = 0; i < PKI_LEAF_CACHE_MAX; i++) {
		free(p->cache[i].host);
		X509_free(p->cache[i].cert);
	}
	X509_free(p->root);
	X509_free(p->inter);
	/* EVP_PKEY_free clears EC private keys (BN_clear_free). */
	EVP_PKEY_free(p->root_key);
	EVP_PKEY_free(p->sign_key);
	EVP_PKEY_free(p->leaf_key);
	free(p);
}
