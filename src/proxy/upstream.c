#include "proxy/upstream.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "util/xmalloc.h"

struct upstream_tls {
	SSL_CTX	*ctx;	/* owned */
};

struct upstream_tls *
proxy_upstream_tls_new(const char *extra_ca, struct errbuf *e)
{
	static const unsigned char alpn[] = "\x08http/1.1";
	struct upstream_tls	*t = xcalloc(1, sizeof(*t));

	if ((t->ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		errbuf_set(e, "cannot create the upstream TLS context");
		goto fail;
	}
	SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
	if (SSL_CTX_set_default_verify_paths(t->ctx) != 1) {
		errbuf_set(e, "cannot load the system trust store");
		goto fail;
	}
	if (extra_ca != NULL &&
	    SSL_CTX_load_verify_locations(t->ctx, extra_ca, NULL) != 1) {
		errbuf_set(e, "--upstream-ca %s: cannot load certificates "
		    "(expected PEM)", extra_ca);
		goto fail;
	}
	SSL_CTX_set_alpn_protos(t->ctx, alpn, sizeof(alpn) - 1);
	/* Pooled connections are reused; no session tickets needed. */
	SSL_CTX_set_session_cache_mode(t->ctx, SSL_SESS_CACHE_CLIENT);
	return t;
fail:
	ERR_clear_error();
	proxy_upstream_tls_free(t);
	return NULL;
}

SSL *
proxy_upstream_ssl(struct upstream_tls *t, const char *host,
    struct errbuf *e)
{
	SSL			*ssl;
	X509_VERIFY_PARAM	*vp;
	unsigned char		 buf[16];
	bool			 is_ip;

	if ((ssl = SSL_new(t->ctx)) == NULL) {
		errbuf_set(e, "cannot create a TLS session");
		return NULL;
	}
	is_ip = inet_pton(AF_INET, host, buf) == 1 ||
	    inet_pton(AF_INET6, host, buf) == 1;
	vp = SSL_get0_param(ssl);
	if (is_ip) {
		if (X509_VERIFY_PARAM_set1_ip_asc(vp, host) != 1)
			goto fail;
	} else {
		/* SNI for names only (RFC 6066 §3). */
		if (SSL_set_tlsext_host_name(ssl, host) != 1 ||
		    SSL_set1_host(ssl, host) != 1)
			goto fail;
		X509_VERIFY_PARAM_set_hostflags(vp,
		    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	}
	return ssl;
fail:
	errbuf_set(e, "cannot set up TLS verification for %s", host);
	SSL_free(ssl);
	ERR_clear_error();
	return NULL;
}

void
proxy_upstream_tls_error(SSL *ssl, struct errbuf *e)
{
	unsigned long	err = ERR_peek_last_error();
	long		vr = ssl != NULL ? SSL_get_verify_result(ssl) : X509_V_OK;
	char		buf[256];

	if (vr != X509_V_OK) {
		errbuf_set(e, "certificate verification failed: %s",
		    X509_verify_cert_error_string(vr));
	} else if (err != 0) {
		ERR_error_string_n(err, buf, sizeof(buf));
		errbuf_set(e, "TLS handshake failed: %s", buf);
	} else
		errbuf_set(e, "TLS handshake failed: connection closed");
	ERR_clear_error();
}

void
proxy_upstream_tls_free(struct upstream_tls *t)
{
	if (t == NULL)
		return;
	SSL_CTX_free(t->ctx);
	free(t);
}
