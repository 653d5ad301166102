/*
 * The trust bundle for intercepted clients (SPEC §4.12).  Certificates
 * are parsed and written back one by one, so nothing but certificates
 * (no private key that sat in an --upstream-ca file) reaches the child.
 */
#include "proxy/tls/bundle.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "util/xmalloc.h"

static const char *const bundle_vars[] = {
	"SSL_CERT_FILE", "CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE",
	"GIT_SSL_CAINFO", "PIP_CERT", "NODE_EXTRA_CA_CERTS", "AWS_CA_BUNDLE",
	"CARGO_HTTP_CAINFO", "DENO_CERT", "BUNDLE_SSL_CA_CERT",
	"NPM_CONFIG_CAFILE", "npm_config_cafile",
	"CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE", "NIX_SSL_CERT_FILE",
	"GRPC_DEFAULT_SSL_ROOTS_FILE_PATH", "KEYHOLE_CA_BUNDLE",
};

/* Append every certificate of PEM file path to out; -1 if unreadable. */
static int
bundle_copy_certs(BIO *out, const char *path)
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

char *
proxy_tls_bundle_write(X509 *root, const char *system_file,
    const char *extra_ca, struct errbuf *e)
{
	const char	*base = getenv("TMPDIR"), *sys = system_file;
	char		*dir;
	BIO		*all = NULL, *one = NULL;
	struct stat	 st;

	if (base == NULL || base[0] != '/' || stat(base, &st) == -1 ||
	    !S_ISDIR(st.st_mode))
		base = "/tmp";
	dir = xasprintf("%s/keyhole-ca-XXXXXX", base);
	if (mkdtemp(dir) == NULL) {
		errbuf_sys(e, "cannot create %s", dir);
		free(dir);
		return NULL;
	}
	if (sys == NULL && (sys = getenv(X509_get_default_cert_file_env())) ==
	    NULL)
		sys = X509_get_default_cert_file();
	if ((all = BIO_new(BIO_s_mem())) == NULL ||
	    (one = BIO_new(BIO_s_mem())) == NULL) {
		errbuf_set(e, "out of memory");
		goto fail;
	}
	/* Missing system roots leave a bundle that trusts only us. */
	(void)bundle_copy_certs(all, sys);
	if (extra_ca != NULL)
		(void)bundle_copy_certs(all, extra_ca);
	if (PEM_write_bio_X509(all, root) != 1 ||
	    PEM_write_bio_X509(one, root) != 1) {
		errbuf_set(e, "cannot write the CA certificate");
		goto fail;
	}
	if (bundle_file(dir, BUNDLE_FILE, all, e) == -1 ||
	    bundle_file(dir, BUNDLE_ROOT, one, e) == -1)
		goto fail;
	BIO_free(all);
	BIO_free(one);
	return dir;
fail:
	ERR_clear_error();
	BIO_free(all);
	BIO_free(one);
	proxy_tls_bundle_remove(dir);
	free(dir);
	return NULL;
}

void
proxy_tls_bundle_env(const char *dir, struct strv *env)
{
	size_t	i;

	for (i = 0; i < sizeof(bundle_vars) / sizeof(bundle_vars[0]); i++)
		strv_push_owned(env, xasprintf("%s=%s/%s", bundle_vars[i], dir,
		    BUNDLE_FILE));
	strv_push_owned(env, xasprintf("KEYHOLE_CA_CERT=%s/%s", dir,
	    BUNDLE_ROOT));
}

void
proxy_tls_bundle_remove(const char *dir)
{
	char	*p;

	if (dir == NULL)
		return;
	p = xasprintf("%s/%s", dir, BUNDLE_FILE);
	(void)unlink(p);
	free(p);
	p = xasprintf("%s/%s", dir, BUNDLE_ROOT);
	(void)unlink(p);
	free(p);
	(void)rmdir(dir);
}
