#include "creds/secret.h"

#include <sys/random.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "util/strbuf.h"
#include "util/xmalloc.h"

/* Bytes of secret encoded per chunk; a multiple of 3 for base64. */
#define SECRET_CHUNK	48

struct secret {
	size_t		 len;
	unsigned char	*buf;	/* owned; wiped on free */
	bool		 sha256; /* buf is the SHA-256 of the value */
};

/* Where emitted bytes go: an evbuffer or a strbuf. */
typedef int secret_sink_fn(void *, const void *, size_t);

struct secret *
creds_secret_new(const void *p, size_t len)
{
	struct secret	*s;

	s = xcalloc(1, sizeof(*s));
	s->buf = xmalloc(len == 0 ? 1 : len);
	if (len > 0)
		memcpy(s->buf, p, len);
	s->len = len;
	return s;
}

struct secret *
creds_secret_random_token(const char *prefix, size_t nchars,
    struct errbuf *e)
{
	static const char	 an[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				    "abcdefghijklmnopqrstuvwxyz0123456789";
	struct secret		*s;
	unsigned char		 raw[64];
	size_t			 pl = strlen(prefix), got = 0, i;
	ssize_t			 n;

	s = xcalloc(1, sizeof(*s));
	s->len = pl + nchars;
	s->buf = xmalloc(s->len == 0 ? 1 : s->len);
	memcpy(s->buf, prefix, pl);
	while (got < nchars) {
		if ((n = getrandom(raw, sizeof(raw), 0)) == -1) {
			if (errno == EINTR)
				continue;
			errbuf_sys(e, "getrandom (%zu bytes)", sizeof(raw));
			creds_secret_free(s);
			explicit_bzero(raw, sizeof(raw));
			return NULL;
		}
		/* 248 = 4 * 62: no bias towards the first letters. */
		for (i = 0; i < (size_t)n && got < nchars; i++)
			if (raw[i] < 248)
				s->buf[pl + got++] = (unsigned char)an[raw[i] % 62];
	}
	explicit_bzero(raw, sizeof(raw));
	return s;
}

struct secret *
creds_secret_random_hex(size_t nbytes, struct errbuf *e)
{
	static const char	 hex[] = "0123456789abcdef";
	struct secret		*s;
	unsigned char		*raw;
	size_t			 got = 0, i;
	ssize_t			 n;

	if (nbytes > SIZE_MAX / 2) {
		errbuf_set(e, "random token of %zu bytes: too long", nbytes);
		return NULL;
	}
	raw = xmalloc(nbytes == 0 ? 1 : nbytes);
	while (got < nbytes) {
		/* getrandom may return fewer bytes than asked (> 256). */
		n = getrandom(raw + got, nbytes - got, 0);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			errbuf_sys(e, "getrandom (%zu bytes)", nbytes);
			freezero(raw, nbytes);
			return NULL;
		}
		got += (size_t)n;
	}
	s = xcalloc(1, sizeof(*s));
	s->len = 2 * nbytes;
	s->buf = xmalloc(s->len == 0 ? 1 : s->len);
	for (i = 0; i < nbytes; i++) {
		s->buf[2 * i] = (unsigned char)hex[raw[i] >> 4];
		s->buf[2 * i + 1] = (unsigned char)hex[raw[i] & 0xf];
	}
	freezero(raw, nbytes == 0 ? 1 : nbytes);
	return s;
}

size_t
creds_secret_len(const struct secret *s)
{
	return s == NULL ? 0 : s->len;
}

struct secret *
creds_secret_dup(const struct secret *s)
{
	struct secret	*d = creds_secret_new(s->buf, s->len);

	d->sha256 = s->sha256;
	return d;
}

struct secret *
creds_secret_new_sha256(const unsigned char digest[32])
{
	struct secret	*s = creds_secret_new(digest, 32);

	s->sha256 = true;
	return s;
}

bool
creds_secret_is_sha256(const struct secret *s)
{
	return s != NULL && s->sha256;
}

bool
creds_secret_equal(const struct secret *s, const void *p, size_t len)
{
	unsigned char	md[32];
	unsigned int	mdlen = 0;
	bool		ok;

	if (s == NULL)
		return false;
	if (s->sha256) {
		if (EVP_Digest(p, len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
		    mdlen != sizeof(md))
			return false;
		ok = CRYPTO_memcmp(s->buf, md, sizeof(md)) == 0;
		explicit_bzero(md, sizeof(md));
		return ok;
	}
	/* The length is not secret (SPEC §4.2: tokens are always 64). */
	if (s->len != len)
		return false;
	if (len == 0)
		return true;
	return CRYPTO_memcmp(s->buf, p, len) == 0;
}

bool
creds_secret_same(const struct secret *s, const void *p, size_t len)
{
	return s != NULL && s->len == len &&
	    (len == 0 || memcmp(s->buf, p, len) == 0);
}

bool
creds_secret_equal_secret(const struct secret *a, const struct secret *b)
{
	if (a == NULL || b == NULL)
		return false;
	if (b->sha256)
		return a->sha256 && a->len == b->len &&
		    CRYPTO_memcmp(a->buf, b->buf, b->len) == 0;
	return creds_secret_equal(a, b->buf, b->len);
}

/* Percent-encode in[0..n) into out (3 * n bytes); returns the length. */
static size_t
secret_pct(const unsigned char *in, size_t n, char *out)
{
	static const char	 hex[] = "0123456789ABCDEF";
	size_t			 i, o = 0;
	unsigned char		 c;

	for (i = 0; i < n; i++) {
		c = in[i];
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_' || c == '~') {
			out[o++] = (char)c;
			continue;
		}
		out[o++] = '%';
		out[o++] = hex[c >> 4];
		out[o++] = hex[c & 0xf];
	}
	return o;
}

/*
 * Put the encoded secret into the sink, SECRET_CHUNK bytes at a time
 * through a stack buffer that is wiped afterwards, so no heap copy of the
 * secret is made here.
 */
static int
secret_put(const struct secret *s, enum secret_enc enc, secret_sink_fn *put,
    void *ctx)
{
	char		 tmp[SECRET_CHUNK * 3 + 1];
	size_t		 off, n, o;
	int		 rv = 0;

	if (enc == SECRET_RAW)
		return s->len == 0 ? 0 : put(ctx, s->buf, s->len);
	for (off = 0; off < s->len && rv == 0; off += n) {
		n = s->len - off;
		if (n > SECRET_CHUNK)
			n = SECRET_CHUNK;
		if (enc == SECRET_BASE64)
			o = (size_t)EVP_EncodeBlock((unsigned char *)tmp,
			    s->buf + off, (int)n);
		else
			o = secret_pct(s->buf + off, n, tmp);
		rv = put(ctx, tmp, o);
	}
	explicit_bzero(tmp, sizeof(tmp));
	return rv;
}

/* Emit format with every "{}" replaced by the encoded secret. */
static int
secret_format(const struct secret *s, const char *format, enum secret_enc enc,
    secret_sink_fn *put, void *ctx)
{
	const char	*p, *run;

	if (format == NULL)
		format = "{}";
	for (run = p = format; *p != '\0'; p++) {
		if (p[0] != '{' || p[1] != '}')
			continue;
		if (p > run && put(ctx, run, (size_t)(p - run)) == -1)
			return -1;
		if (secret_put(s, enc, put, ctx) == -1)
			return -1;
		run = p + 2;
		p++;
	}
	if (p > run && put(ctx, run, (size_t)(p - run)) == -1)
		return -1;
	return 0;
}

/* Sink: evbuffer_add. */
static int
secret_sink_evbuffer(void *ctx, const void *p, size_t n)
{
	return evbuffer_add(ctx, p, n) == 0 ? 0 : -1;
}

/* Sink: strbuf_appendn (cannot fail). */
static int
secret_sink_strbuf(void *ctx, const void *p, size_t n)
{
	strbuf_appendn(ctx, p, n);
	return 0;
}

int
creds_secret_emit(const struct secret *s, struct evbuffer *out,
    const char *format, enum secret_enc enc)
{
	if (s == NULL || out == NULL)
		return -1;
	return secret_format(s, format, enc, secret_sink_evbuffer, out);
}

void
creds_secret_emit_strbuf(const struct secret *s, struct strbuf *out,
    const char *format, enum secret_enc enc)
{
	if (s == NULL || out == NULL)
		return;
	(void)secret_format(s, format, enc, secret_sink_strbuf, out);
}

void
creds_secret_lend(const struct secret *s, enum secret_enc enc,
    void (*fn)(void *, const void *, size_t), void *arg)
{
	struct strbuf	b = { .wipe = true };

	if (s == NULL || fn == NULL)
		return;
	strbuf_reserve(&b, 4 * s->len + 8);
	(void)secret_put(s, enc, secret_sink_strbuf, &b);
	fn(arg, b.len == 0 ? "" : b.s, b.len);
	strbuf_freezero(&b);
}

void
creds_secret_free(struct secret *s)
{
	if (s == NULL)
		return;
	freezero(s->buf, s->len == 0 ? 1 : s->len);
	freezero(s, sizeof(*s));
}
