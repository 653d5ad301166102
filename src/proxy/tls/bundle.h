#ifndef KEYHOLE_PROXY_TLS_BUNDLE_H
#define KEYHOLE_PROXY_TLS_BUNDLE_H

#include <stdbool.h>

#include <openssl/x509.h>

#include "util/errbuf.h"
#include "util/strv.h"

/*
 * What clients need to trust interception (SPEC §4.12): a per-run
 * directory "keyhole-ca-XXXXXX" (0700, under $TMPDIR or /tmp) holding
 * ca-bundle.pem (the system roots, the --upstream-ca certificates and
 * the run's root; certificates only, never a key) and ca.pem (the root
 * alone), both mode 0444; with java also truststore.p12, the same
 * certificates for the JVM (PKCS#12, no key, no password).
 */
#define BUNDLE_FILE	"ca-bundle.pem"
#define BUNDLE_ROOT	"ca.pem"
/* --tls-java-truststore: the same certificates as a PKCS#12 truststore. */
#define BUNDLE_JAVA	"truststore.p12"
#define BUNDLE_JAVA_VAR	"JAVA_TOOL_OPTIONS"

/*
 * Write the directory; its path (owned) or NULL with e.  system_file:
 * the system roots (NULL: OpenSSL's default, honouring SSL_CERT_FILE);
 * extra_ca: --upstream-ca or NULL; java: write truststore.p12 too.
 * *lock gets a descriptor (close-on-exec) holding a shared flock on the
 * directory for as long as it is open: it tells later runs the
 * directory is in use.  Before writing, directories of this user that
 * no run holds and that are older than BUNDLE_STALE_S (left by a run
 * killed with SIGKILL) are removed.
 */
#define BUNDLE_STALE_S	10
char	*proxy_tls_bundle_write(X509 *root, const char *system_file,
	    const char *extra_ca, bool java, int *lock, struct errbuf *e);
/*
 * Append "NAME=path" for every variable naming the bundle (SSL_CERT_FILE,
 * CURL_CA_BUNDLE, ..., KEYHOLE_CA_BUNDLE) and KEYHOLE_CA_CERT (the root);
 * with java also JAVA_TOOL_OPTIONS with the JVM's trustStore flags.
 */
void	 proxy_tls_bundle_env(const char *dir, bool java, struct strv *env);
/* Remove the directory and its files; close lock (-1: none). */
void	 proxy_tls_bundle_remove(const char *dir, int lock);

#endif
