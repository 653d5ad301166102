#ifndef KEYHOLE_PROXY_TLS_BUNDLE_H
#define KEYHOLE_PROXY_TLS_BUNDLE_H

#include <openssl/x509.h>

#include "util/errbuf.h"
#include "util/strv.h"

/*
 * What clients need to trust interception (SPEC §4.12): a per-run
 * directory "keyhole-ca-XXXXXX" (0700, under $TMPDIR or /tmp) holding
 * ca-bundle.pem (the system roots, the --upstream-ca certificates and
 * the run's root; certificates only, never a key) and ca.pem (the root
 * alone), both mode 0444.
 */
#define BUNDLE_FILE	"ca-bundle.pem"
#define BUNDLE_ROOT	"ca.pem"

/*
 * Write the directory; its path (owned) or NULL with e.  system_file:
 * the system roots (NULL: OpenSSL's default, honouring SSL_CERT_FILE);
 * extra_ca: --upstream-ca or NULL.
 */
char	*proxy_tls_bundle_write(X509 *root, const char *system_file,
	    const char *extra_ca, struct errbuf *e);
/*
 * Append "NAME=path" for every variable naming the bundle (SSL_CERT_FILE,
 * CURL_CA_BUNDLE, ..., KEYHOLE_CA_BUNDLE) and KEYHOLE_CA_CERT (the root).
 */
void	 proxy_tls_bundle_env(const char *dir, struct strv *env);
/* Remove the directory and its two files. */
void	 proxy_tls_bundle_remove(const char *dir);

#endif
