/*
 * The trust bundle for intercepted clients (SPEC §4.12).  Certificates
 * are parsed and written back one by one, so nothing but certificates
 * (no private key that sat in an --upstream-ca file) reaches the child.
 * For Java (--tls-java-truststore) the same certificates also go into a
 * PKCS#12 truststore.
 */
#include "proxy/tls/bundle.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>

#include "util/xmalloc.h"

#define BUNDLE_PREFIX	"keyhole-ca-"

static const char *const bundle_files[] = {
	BUNDLE_FILE, BUNDLE_ROOT, BUNDLE_JAVA,
};

static const char *const bundle_vars[] = {
	"SSL_CERT_FILE", "CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE",
	"GIT_SSL_CAINFO", "PIP_CERT", "NODE_EXTRA_CA_CERTS", "AWS_CA_BUNDLE",
	"CARGO_HTTP_CAINFO", "DENO_CERT", "BUNDLE_SSL_CA_CERT",
	"NPM_CONFIG_CAFILE", "npm_config_cafile",
	"CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE", "NIX_SSL_CERT_FILE",
	"GRPC_DEFAULT_SSL_ROOTS_FILE_PATH", "KEYHOLE_CA_BUNDLE",
};

/*
 * The bag attribute Java's PKCS12KeyStore reads as "trusted certificate
 * entry" (Oracle's trustedKeyUsage, what keytool -importcert writes and
 * OpenSSL 3.2's pkcs12 -jdktrust adds): a certificate bag without it and
 * without a key is not loaded as a trust anchor.  Its value is the
 * extended key usage the anchor is trusted for: anyExtendedKeyUsage.
 */
#define BUNDLE_JDK_TRUST_OID	"2.16.840.1.113894.746875.1.1"
#define BUNDLE_ANY_EKU_OID	"2.5.29.37.0"

/*
 * Append every certificate of PEM file path to out, and to certs when
 * not NULL; -1 if unreadable.
 */
static int
bundle_copy_certs(BIO *out, STACK_OF(X509) *certs, const char *path)
{
	BIO	*in;
	X509	*x;
	int	 n = 0;

	if ((in = BIO_new_file(path, "r")) == NULL) {
		ERR_clear_error();
		return -1;
	}
	while ((x = PEM_read_bio_X509(in, NULL, NULL, NULL)) != NULL) {
		PEM_write_bio_X509(out, x);
		if (certs == NULL || sk_X509_push(certs, x) == 0)
			X509_free(x);
		n++;
	}
	ERR_clear_error();	/* the end of the file, or a non-cert block */
	BIO_free(in);
	return n;
}

/* Write out's bytes to dir/name, 0444, never following a link. */
static int
bundle_file(const char *dir, const char *name, BIO *mem, struct errbuf *e)
{
	char	*path = xasprintf("%s/%s", dir, name), *data;
	long	 n = BIO_get_mem_data(mem, &data);
	ssize_t	 w;
	int	 fd;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0444);
	if (fd == -1) {
		errbuf_sys(e, "%s", path);
		free(path);
		return -1;
	}
	while (n > 0) {
		if ((w = write(fd, data, (size_t)n)) == -1) {
			if (errno == EINTR)
				continue;
			errbuf_sys(e, "write %s", path);
			close(fd);
			free(path);
			return -1;
		}
		data += w;
		n -= w;
	}
	(void)fchmod(fd, 0444);		/* whatever the umask said */
	close(fd);
	free(path);
	return 0;
}

/*
 * A PKCS#12 truststore of certs for Java 9 and later, to mem: certificate
 * bags only (no key), each with a unique friendlyName (Java's alias; the
 * root is "keyhole-ca") and the JDK trust attribute; the bags are not
 * encrypted and there is no MAC, so no password is needed (Java skips the
 * integrity check when javax.net.ssl.trustStorePassword is unset, and a
 * password known to every reader would protect nothing).
 */
static int
bundle_p12(STACK_OF(X509) *certs, BIO *mem, struct errbuf *e)
{
	STACK_OF(PKCS12_SAFEBAG) *bags = NULL;
	STACK_OF(PKCS7)		*safes = NULL;
	PKCS12_SAFEBAG		*bag;
	PKCS12			*p12 = NULL;
	ASN1_OBJECT		*any;
	char			 alias[32];
	int			 i, n = sk_X509_num(certs), rc = -1;

	if ((any = OBJ_txt2obj(BUNDLE_ANY_EKU_OID, 1)) == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		/* The root is last: the name a person looks for. */
		if (i == n - 1)
			snprintf(alias, sizeof(alias), "keyhole-ca");
		else
			snprintf(alias, sizeof(alias), "ca-%04d", i + 1);
		if ((bag = PKCS12_add_cert(&bags, sk_X509_value(certs, i))) ==
		    NULL || PKCS12_add_friendlyname_asc(bag, alias, -1) != 1 ||
		    PKCS12_add1_attr_by_txt(bag, BUNDLE_JDK_TRUST_OID,
		    V_ASN1_OBJECT, (const unsigned char *)any, -1) != 1)
			goto out;
	}
	/* nid_safe -1: the certificates are not encrypted. */
	if (PKCS12_add_safe(&safes, bags, -1, 0, NULL) != 1 ||
	    (p12 = PKCS12_add_safes(safes, 0)) == NULL ||
	    i2d_PKCS12_bio(mem, p12) != 1)
		goto out;
	rc = 0;
out:
	if (rc == -1) {
		errbuf_set(e, "cannot build the Java truststore");
		ERR_clear_error();
	}
	PKCS12_free(p12);
	sk_PKCS7_pop_free(safes, PKCS7_free);
	sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
	ASN1_OBJECT_free(any);
	return rc;
}

/*
 * Remove base/name if it is a bundle directory of ours that no run holds
 * (its flock is free) and that is old enough not to be one a starting
 * run has just made and not yet locked.  Only the bundle's own files are
 * removed: a directory holding anything else stays.
 */
static void
bundle_sweep_one(int basefd, const char *name, time_t now)
{
	struct stat	st;
	size_t		i;
	int		fd;

	if (fstatat(basefd, name, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
	    !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
	    now - st.st_mtime < BUNDLE_STALE_S)
		return;
	fd = openat(basefd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (fd == -1)
		return;
	if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
		for (i = 0; i < sizeof(bundle_files) / sizeof(bundle_files[0]);
		    i++)
			(void)unlinkat(fd, bundle_files[i], 0);
		(void)unlinkat(basefd, name, AT_REMOVEDIR);
	}
	close(fd);
}

/* Remove the stale bundle directories of this user under base. */
static void
bundle_sweep(const char *base)
{
	DIR		*d;
	struct dirent	*de;
	time_t		 now = time(NULL);

	if ((d = opendir(base)) == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, BUNDLE_PREFIX,
		    sizeof(BUNDLE_PREFIX) - 1) == 0)
			bundle_sweep_one(dirfd(d), de->d_name, now);
	closedir(d);
}

/* Hold a shared flock on dir for as long as the descriptor is open. */
static int
bundle_lock(const char *dir, struct errbuf *e)
{
	int	fd;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1 || flock(fd, LOCK_SH | LOCK_NB) == -1) {
		errbuf_sys(e, "cannot lock %s", dir);
		if (fd != -1)
			close(fd);
		return -1;
	}
	return fd;
}

char *
proxy_tls_bundle_write(X509 *root, const char *system_file,
    const char *extra_ca, bool java, int *lock, struct errbuf *e)
{
	const char	*base = getenv("TMPDIR"), *sys = system_file;
	char		*dir;
	BIO		*all = NULL, *one = NULL, *p12 = NULL;
	STACK_OF(X509)	*certs = NULL;
	struct stat	 st;

	/*
	 * The JVM splits JAVA_TOOL_OPTIONS at white space: the truststore's
	 * path must have none.
	 */
	if (base == NULL || base[0] != '/' || stat(base, &st) == -1 ||
	    !S_ISDIR(st.st_mode) || (java && base[strcspn(base,
	    " \t\n\"'\\")] != '\0'))
		base = "/tmp";
	*lock = -1;
	bundle_sweep(base);
	dir = xasprintf("%s/" BUNDLE_PREFIX "XXXXXX", base);
	if (mkdtemp(dir) == NULL) {
		errbuf_sys(e, "cannot create %s", dir);
		free(dir);
		return NULL;
	}
	if ((*lock = bundle_lock(dir, e)) == -1) {
		(void)rmdir(dir);
		free(dir);
		return NULL;
	}
	if (sys == NULL && (sys = getenv(X509_get_default_cert_file_env())) ==
	    NULL)
		sys = X509_get_default_cert_file();
	if ((all = BIO_new(BIO_s_mem())) == NULL ||
	    (one = BIO_new(BIO_s_mem())) == NULL ||
	    (java && ((p12 = BIO_new(BIO_s_mem())) == NULL ||
	    (certs = sk_X509_new_null()) == NULL))) {
		errbuf_set(e, "out of memory");
		goto fail;
	}
	/* Missing system roots leave a bundle that trusts only us. */
	(void)bundle_copy_certs(all, certs, sys);
	if (extra_ca != NULL)
		(void)bundle_copy_certs(all, certs, extra_ca);
	if (PEM_write_bio_X509(all, root) != 1 ||
	    PEM_write_bio_X509(one, root) != 1 ||
	    (certs != NULL && sk_X509_push(certs, root) == 0)) {
		errbuf_set(e, "cannot write the CA certificate");
		goto fail;
	}
	if (certs != NULL && X509_up_ref(root) != 1) {
		(void)sk_X509_pop(certs);
		errbuf_set(e, "cannot write the CA certificate");
		goto fail;
	}
	if (bundle_file(dir, BUNDLE_FILE, all, e) == -1 ||
	    bundle_file(dir, BUNDLE_ROOT, one, e) == -1 ||
	    (java && (bundle_p12(certs, p12, e) == -1 ||
	    bundle_file(dir, BUNDLE_JAVA, p12, e) == -1)))
		goto fail;
	BIO_free(all);
	BIO_free(one);
	BIO_free(p12);
	sk_X509_pop_free(certs, X509_free);
	return dir;
fail:
	ERR_clear_error();
	BIO_free(all);
	BIO_free(one);
	BIO_free(p12);
	sk_X509_pop_free(certs, X509_free);
	proxy_tls_bundle_remove(dir, *lock);
	*lock = -1;
	free(dir);
	return NULL;
}

void
proxy_tls_bundle_env(const char *dir, bool java, struct strv *env)
{
	size_t	i;

	for (i = 0; i < sizeof(bundle_vars) / sizeof(bundle_vars[0]); i++)
		strv_push_owned(env, xasprintf("%s=%s/%s", bundle_vars[i], dir,
		    BUNDLE_FILE));
	strv_push_owned(env, xasprintf("KEYHOLE_CA_CERT=%s/%s", dir,
	    BUNDLE_ROOT));
	if (java)
		strv_push_owned(env, xasprintf("%s=-Djavax.net.ssl.trustStore="
		    "%s/%s -Djavax.net.ssl.trustStoreType=PKCS12",
		    BUNDLE_JAVA_VAR, dir, BUNDLE_JAVA));
}

void
proxy_tls_bundle_remove(const char *dir, int lock)
{
	size_t	i;
	char	*p;

	if (dir != NULL) {
		for (i = 0; i < sizeof(bundle_files) / sizeof(bundle_files[0]);
		    i++) {
			p = xasprintf("%s/%s", dir, bundle_files[i]);
			(void)unlink(p);
			free(p);
		}
		(void)rmdir(dir);
	}
	if (lock != -1)
		close(lock);
}
