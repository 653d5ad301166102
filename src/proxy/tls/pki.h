#ifndef KEYHOLE_PROXY_TLS_PKI_H
#define KEYHOLE_PROXY_TLS_PKI_H

#include <stdbool.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "util/errbuf.h"
#include "util/strv.h"

/*
 * The certificate authority of TLS interception (SPEC §4.12), made per
 * run in the supervisor's memory only: a P-256 root whose private key is
 * freed (OpenSSL clears it) as soon as it has signed a P-256
 * intermediate; the intermediate carries critical name constraints that
 * permit only the intercepted host set and exclude every IP address, so
 * even its leaked key cannot impersonate any other site.  Leaves share
 * one P-256 key (not a CA key), name exactly one host (SAN dNSName), carry
 * AKI and SKI, a random serial and a validity inside the CA's, and are
 * cached (least recently used out first).
 */
#define PKI_DEFAULT_DAYS	30
#define PKI_LEAF_CACHE_MAX	256
/* Leaves are backdated this much for clocks that lag ours. */
#define PKI_BACKDATE_SECS	3600

struct pki;

/*
 * A fresh CA for hosts (exact names, or "*.suffix" for strict
 * subdomains; IP literals are ignored).  constrain false (or no name in
 * hosts) makes an intermediate without name constraints (the caller warns:
 * e.g. --tls-intercept all with an empty allow-list).  days: validity.
 * NULL with e on failure.
 */
struct pki *proxy_tls_pki_new(const struct strv *hosts, bool constrain,
	    uint32_t days, struct errbuf *e);
/*
 * An operator's CA (--tls-ca CERT,KEY): PEM certificate and its PEM
 * private key sign the leaves directly.  NULL with e naming the file.
 */
struct pki *proxy_tls_pki_load(const char *cert_file, const char *key_file,
	    uint32_t days, struct errbuf *e);
/*
 * The leaf for host (canonical, no trailing dot), minted on first use and
 * cached; borrowed from the cache (valid until the next call).  NULL with
 * e only if OpenSSL fails.  The PKI does not check host against its set:
 * the intermediate's constraints are what a client checks.
 */
X509	*proxy_tls_pki_leaf(struct pki *, const char *host, struct errbuf *e);
/* The key of every leaf (borrowed). */
EVP_PKEY *proxy_tls_pki_leaf_key(const struct pki *);
/*
 * The certificates a server sends after the leaf (borrowed): the
 * intermediate, or none (NULL) with an operator's CA.
 */
X509	*proxy_tls_pki_chain(const struct pki *);
/* The trust anchor clients need (borrowed): our root or the operator's. */
X509	*proxy_tls_pki_root(const struct pki *);
/* True when the intermediate carries name constraints. */
bool	 proxy_tls_pki_constrained(const struct pki *);
/* True while a CA private key other than the signing one is held. */
bool	 proxy_tls_pki_holds_root_key(const struct pki *);
/* Leaves minted so far (for tests: a cached leaf is not minted again). */
uint64_t proxy_tls_pki_minted(const struct pki *);
/* Append cert as PEM to out (a NUL-terminated string, owned by caller). */
char	*proxy_tls_pki_pem(X509 *);
/*
 * Sign a leaf for host with the signing key, bypassing the cache (tests
 * and the bench's mint timing).  Caller owns it.
 */
X509	*proxy_tls_pki_mint(struct pki *, const char *host, struct errbuf *e);
void	 proxy_tls_pki_free(struct pki *);

#endif
