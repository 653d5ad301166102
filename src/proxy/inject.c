/*
 * Phantom token in, real credential out (SPEC §4.6 steps 3 and 5).
 *
 * Deliberate differences from nono (reference §8.3, §8.5, §8.8):
 *  - url_path: path_pattern's prefix must start the path (nono finds it
 *    anywhere, query included), the token lies in the path part, and the
 *    secret is percent-encoded on the way up, so a '/', '?', '#' or '%' in
 *    it cannot change the shape of the URL.
 *  - header mode also takes the literal prefix of credential_format
 *    ("token T" for "token {}"); basic_auth takes only T or "Bearer T"
 *    (a Basic-encoded phantom is not decoded).
 *  - query_param: every parameter of that name is replaced; when none is
 *    there it is appended, without a stray '&' after an empty query.
 *  - Hop-by-hop, Proxy-* and credential-looking headers are removed, a
 *    CR or LF in a header value is refused, Host keeps a non-default
 *    port, Content-Length / Transfer-Encoding / Expect are passed on as
 *    the client sent them (the body is relayed as it was framed).
 */
#include "proxy/inject.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "creds/secret.h"
#include "policy/route.h"
#include "proxy/http.h"
#include "util/log.h"
#include "util/pct.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

#define INJECT_REDACTED		"REDACTED"
/* Room for a name or pattern shown in a message: escaped, cut at 128. */
#define INJECT_SHOW_MAX		(4 * 128 + 1)

/*
 * Never forwarded: RFC 9110 §7.6.1 hop-by-hop headers (Proxy-* go by
 * prefix), Host (rewritten) and every credential-looking header.
 */
static const char *const inject_drop[] = {
	"Connection", "Keep-Alive", "TE", "Trailer", "Upgrade",
	"Host", "Authorization", "X-Api-Key", "X-Goog-Api-Key",
	"Private-Token", NULL,
};

/*
 * Framing headers stay whatever Connection names: the body is relayed as
 * the client framed it, so the upstream must see the same framing.
 */
static const char *const inject_keep[] = {
	"Content-Length", "Transfer-Encoding", NULL,
};

/* Escape s for a message. */
static const char *
inject_show(char *buf, const char *s)
{
	size_t	n = s == NULL ? 0 : strlen(s);

	return log_escape(buf, INJECT_SHOW_MAX, n == 0 ? "" : s,
	    n > 128 ? 128 : n);
}

/* True when name is in the NULL-terminated list (case-insensitive). */
static bool
inject_listed(const char *const *list, const char *name)
{
	size_t	i;

	for (i = 0; list[i] != NULL; i++)
		if (strcasecmp(list[i], name) == 0)
			return true;
	return false;
}

/* True when the client's header name must not reach the upstream. */
static bool
inject_dropped(const struct route *r, const struct http_head *h,
    const char *name)
{
	if (inject_listed(inject_drop, name) ||
	    strncasecmp(name, "Proxy-", 6) == 0 ||
	    strcasecmp(name, r->def->inject_header) == 0)
		return true;
	if (inject_listed(inject_keep, name))
		return false;
	return proxy_http_header_has_token(h, "Connection", name);
}

/*
 * Locate pattern's "{}" span in path.  The prefix (before "{}") must
 * start the path; the token runs to the first occurrence of the suffix
 * within the path part (before '?'), or with an empty suffix to the next
 * '/' or '?' or the end.  Fills the token offset and length and the end
 * of the span (after the suffix).  False when the path does not match or
 * the token would be empty.
 */
static bool
inject_span(const char *pattern, const char *path, size_t *tok,
    size_t *toklen, size_t *end)
{
	const char	*brace, *suffix, *found;
	size_t		 plen, slen, pathlen;

	if (pattern == NULL || path == NULL ||
	    (brace = strstr(pattern, "{}")) == NULL)
		return false;
	plen = (size_t)(brace - pattern);
	suffix = brace + 2;
	slen = strlen(suffix);
	pathlen = strcspn(path, "?");
	if (plen > pathlen || strncmp(path, pattern, plen) != 0)
		return false;
	if (slen == 0) {
		*toklen = strcspn(path + plen, "/?");
		*end = plen + *toklen;
	} else {
		found = memmem(path + plen, pathlen - plen, suffix, slen);
		if (found == NULL)
			return false;
		*toklen = (size_t)(found - (path + plen));
		*end = plen + *toklen + slen;
	}
	*tok = plen;
	return *toklen > 0;
}

/*
 * If v[0..n) starts with word (case-insensitive) and then, when space is
 * set, one or more spaces or tabs, point *rest past them.
 */
static bool
inject_strip(const char *v, size_t n, const char *word, size_t wlen,
    bool space, const char **rest, size_t *restlen)
{
	size_t	i = wlen;

	if (wlen == 0 || n < wlen || strncasecmp(v, word, wlen) != 0)
		return false;
	if (space) {
		if (i >= n || (v[i] != ' ' && v[i] != '\t'))
			return false;
		while (i < n && (v[i] == ' ' || v[i] == '\t'))
			i++;
	}
	*rest = v + i;
	*restlen = n - i;
	return true;
}

/* Header and basic_auth modes: the first inject header decides. */
static bool
inject_check_header(const struct route *r, const struct secret *phantom,
    const struct http_head *h)
{
	const char	*v, *fmt, *brace, *t;
	size_t		 n, wlen, tn;

	if ((v = proxy_http_header(h, r->def->inject_header)) == NULL)
		return false;
	while (*v == ' ' || *v == '\t')
		v++;
	for (n = strlen(v); n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t');
	    n--)
		;
	if (n == 0)
		return false;
	if (creds_secret_equal(phantom, v, n))
		return true;
	if (inject_strip(v, n, "Bearer", 6, true, &t, &tn) && tn > 0 &&
	    creds_secret_equal(phantom, t, tn))
		return true;
	/* basic_auth ignores credential_format: "Basic {}" is fixed. */
	if (r->def->inject_mode != INJECT_HEADER ||
	    (fmt = r->def->credential_format) == NULL ||
	    (brace = strstr(fmt, "{}")) == NULL)
		return false;
	/* "token {}": "token" then spaces; "key={}": "key=" exactly. */
	for (wlen = (size_t)(brace - fmt);
	    wlen > 0 && (fmt[wlen - 1] == ' ' || fmt[wlen - 1] == '\t'); wlen--)
		;
	return inject_strip(v, n, fmt, wlen, wlen < (size_t)(brace - fmt),
	    &t, &tn) && tn > 0 && creds_secret_equal(phantom, t, tn);
}

/* query_param mode: the first parameter of that name decides. */
static bool
inject_check_query(const struct route *r, const struct secret *phantom,
    const char *path)
{
	const char	*name = r->def->query_param_name, *p, *amp, *eq;
	char		*val;
	size_t		 nlen, vlen;
	bool		 ok;

	if (name == NULL || (p = strchr(path, '?')) == NULL)
		return false;
	nlen = strlen(name);
	for (p++;; p = amp + 1) {
		amp = strchrnul(p, '&');
		eq = memchr(p, '=', (size_t)(amp - p));
		if (eq != NULL && (size_t)(eq - p) == nlen &&
		    memcmp(p, name, nlen) == 0) {
			/* The decoded phantom is wiped like any token. */
			val = xmalloc((size_t)(amp - eq));
			vlen = pct_decode(eq + 1, (size_t)(amp - eq - 1),
			    val);
			ok = vlen > 0 && creds_secret_equal(phantom, val, vlen);
			freezero(val, (size_t)(amp - eq));
			return ok;
		}
		if (*amp == '\0')
			return false;
	}
}

bool
proxy_inject_check_phantom(const struct route *r,
    const struct secret *phantom, const struct http_head *h,
    const char *path)
{
	size_t	tok, toklen, end;

	if (r == NULL || phantom == NULL || h == NULL || path == NULL)
		return false;
	switch (r->def->inject_mode) {
	case INJECT_HEADER:
	case INJECT_BASIC_AUTH:
		return inject_check_header(r, phantom, h);
	case INJECT_URL_PATH:
		return inject_span(r->def->path_pattern, path, &tok, &toklen,
		    &end) && creds_secret_equal(phantom, path + tok, toklen);
	case INJECT_QUERY_PARAM:
		return inject_check_query(r, phantom, path);
	}
	return false;
}

/* Wipe every byte an evbuffer holds, then free it. */
static void
inject_evbuffer_freezero(struct evbuffer *b)
{
	struct evbuffer_iovec	*v;
	int			 n, i;

	if (b == NULL)
		return;
	if ((n = evbuffer_peek(b, -1, NULL, NULL, 0)) > 0) {
		v = xcalloc((size_t)n, sizeof(*v));
		n = evbuffer_peek(b, -1, NULL, v, n);
		for (i = 0; i < n; i++)
			explicit_bzero(v[i].iov_base, v[i].iov_len);
		free(v);
	}
	evbuffer_free(b);
}

/* True when b holds a CR, LF or NUL byte. */
static bool
inject_evbuffer_has_crlf(struct evbuffer *b)
{
	return evbuffer_search(b, "\r", 1, NULL).pos != -1 ||
	    evbuffer_search(b, "\n", 1, NULL).pos != -1 ||
	    evbuffer_search(b, "", 1, NULL).pos != -1;
}

/*
 * The credential header line for header and basic_auth modes, built
 * apart so a secret that would break the head is refused before anything
 * is written.  NULL (e set) when it cannot go into a header.
 */
static struct evbuffer *
inject_cred_line(const struct route *r, const struct secret *secret,
    struct errbuf *e)
{
	struct evbuffer	*b;
	int		 rv;

	if ((b = evbuffer_new()) == NULL) {
		errbuf_set(e, "cannot buffer the request head");
		return NULL;
	}
	if (evbuffer_add(b, r->def->inject_header,
	    strlen(r->def->inject_header)) == -1 ||
	    evbuffer_add(b, ": ", 2) == -1)
		rv = -1;
	else if (r->def->inject_mode == INJECT_BASIC_AUTH)
		rv = creds_secret_emit(secret, b, "Basic {}", SECRET_BASE64);
	else
		rv = creds_secret_emit(secret, b, r->def->credential_format,
		    SECRET_RAW);
	if (rv == -1) {
		errbuf_set(e, "cannot buffer the request head");
		inject_evbuffer_freezero(b);
		return NULL;
	}
	if (inject_evbuffer_has_crlf(b)) {
		errbuf_set(e, "the credential of route '%s' holds a CR, LF "
		    "or NUL byte", r->def->name);
		inject_evbuffer_freezero(b);
		return NULL;
	}
	if (evbuffer_add(b, "\r\n", 2) == -1) {
		errbuf_set(e, "cannot buffer the request head");
		inject_evbuffer_freezero(b);
		return NULL;
	}
	return b;
}

/* Check what goes into the head verbatim; -1 with e. */
static int
inject_check_head(const struct http_head *h, const char *path,
    struct errbuf *e)
{
	char		 show[INJECT_SHOW_MAX];
	const char	*p;
	size_t		 i;

	if (h->method == NULL || *h->method == '\0') {
		errbuf_set(e, "no request method");
		return -1;
	}
	for (p = h->method; *p != '\0'; p++) {
		if (!proxy_http_is_tchar((unsigned char)*p)) {
			errbuf_set(e, "method '%s' is not a token",
			    inject_show(show, h->method));
			return -1;
		}
	}
	if (*path != '/') {
		errbuf_set(e, "path does not start with '/'");
		return -1;
	}
	for (p = path; *p != '\0'; p++) {
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p == 0x7f) {
			errbuf_set(e, "space or control byte in the path");
			return -1;
		}
	}
	for (i = 0; i < h->nh; i++) {
		for (p = h->h[i].name; *p != '\0'; p++) {
			if (!proxy_http_is_tchar((unsigned char)*p)) {
				errbuf_set(e, "header name '%s' is not a "
				    "token", inject_show(show, h->h[i].name));
				return -1;
			}
		}
		if (p == h->h[i].name) {
			errbuf_set(e, "empty header name");
			return -1;
		}
		/* A NUL cannot be inside a C string: it ended the value. */
		if (strpbrk(h->h[i].value, "\r\n") != NULL) {
			errbuf_set(e, "header '%s' holds a CR, LF or NUL byte",
			    inject_show(show, h->h[i].name));
			return -1;
		}
	}
	return 0;
}

/* path with the query parameter set to the encoded secret, into out. */
static int
inject_query_path(struct evbuffer *out, const struct route *r,
    const struct secret *secret, const char *path)
{
	const char	*name = r->def->query_param_name, *q, *p, *amp;
	size_t		 nlen = strlen(name), plen;
	bool		 done = false;

	if ((q = strchr(path, '?')) == NULL) {
		evbuffer_add_printf(out, "%s?%s=", path, name);
		return creds_secret_emit(secret, out, NULL, SECRET_PCT);
	}
	evbuffer_add(out, path, (size_t)(q - path) + 1);
	for (p = q + 1;; p = amp + 1) {
		amp = strchrnul(p, '&');
		plen = strcspn(p, "=&");
		if (plen == nlen && memcmp(p, name, nlen) == 0) {
			/* Every one: none may carry the phantom upstream. */
			evbuffer_add_printf(out, "%s=", name);
			if (creds_secret_emit(secret, out, NULL,
			    SECRET_PCT) == -1)
				return -1;
			done = true;
		} else
			evbuffer_add(out, p, (size_t)(amp - p));
		if (*amp == '\0')
			break;
		evbuffer_add(out, "&", 1);
	}
	if (done)
		return 0;
	/* No '&' after an empty query or one that ends in '&'. */
	if (q[1] != '\0' && amp[-1] != '&')
		evbuffer_add(out, "&", 1);
	evbuffer_add_printf(out, "%s=", name);
	return creds_secret_emit(secret, out, NULL, SECRET_PCT);
}

/*
 * The head is built in a private buffer and handed over as one piece: the
 * output of a TLS bufferevent encrypts on every add and every chain, and
 * one record per request is also one write to the socket (eight small
 * records cost a fifth of the proxy's CPU).  The piece is a reference to
 * memory of ours, wiped when the TLS layer has consumed it: the head holds
 * the credential.
 */
static int	inject_build_head(struct evbuffer *, const struct route *,
		    const struct secret *, const struct http_head *,
		    const char *, bool, struct errbuf *);

/* evbuffer_add_reference's cleanup for a copy of the head. */
static void
inject_head_wipe(const void *data, size_t len, void *arg)
{
	(void)arg;
	freezero((void *)(uintptr_t)data, len);
}

int
proxy_inject_write_head(struct evbuffer *dst, const struct route *r,
    const struct secret *secret, const struct http_head *h,
    const char *path, bool upgrade, struct errbuf *e)
{
	struct evbuffer	*out;
	unsigned char	*piece;
	size_t		 len;
	int		 rc;

	if ((out = evbuffer_new()) == NULL) {
		errbuf_set(e, "cannot buffer the request head");
		return -1;
	}
	if ((rc = inject_build_head(out, r, secret, h, path, upgrade,
	    e)) == 0) {
		len = evbuffer_get_length(out);
		piece = xmalloc(len == 0 ? 1 : len);
		(void)evbuffer_copyout(out, piece, len);
		if (evbuffer_add_reference(dst, piece, len, inject_head_wipe,
		    NULL) == -1) {
			freezero(piece, len == 0 ? 1 : len);
			errbuf_set(e, "cannot buffer the request head");
			rc = -1;
		}
	}
	inject_evbuffer_freezero(out);
	return rc;
}

static int
inject_build_head(struct evbuffer *out, const struct route *r,
    const struct secret *secret, const struct http_head *h,
    const char *path, bool upgrade, struct errbuf *e)
{
	char			 show[INJECT_SHOW_MAX];
	const struct route_def	*d;
	struct evbuffer		*cred = NULL;
	const char		*repl, *up;
	size_t			 tok = 0, toklen = 0, end = 0, i;
	int			 rv = 0;

	if (r == NULL || secret == NULL || h == NULL || path == NULL) {
		errbuf_set(e, "no route, secret, head or path");
		return -1;
	}
	if (inject_check_head(h, path, e) == -1)
		return -1;
	d = r->def;
	if (d->inject_mode == INJECT_URL_PATH &&
	    !inject_span(d->path_pattern, path, &tok, &toklen, &end)) {
		errbuf_set(e, "path does not match path_pattern '%s'",
		    inject_show(show, d->path_pattern));
		return -1;
	}
	if ((d->inject_mode == INJECT_HEADER ||
	    d->inject_mode == INJECT_BASIC_AUTH) &&
	    (cred = inject_cred_line(r, secret, e)) == NULL)
		return -1;

	evbuffer_add(out, h->method, strlen(h->method));
	evbuffer_add(out, " ", 1);
	evbuffer_add(out, r->up_path, strlen(r->up_path));
	switch (d->inject_mode) {
	case INJECT_URL_PATH:
		/* The span starts the path: the pattern is anchored. */
		repl = d->path_replacement != NULL ? d->path_replacement :
		    d->path_pattern;
		rv = creds_secret_emit(secret, out, repl, SECRET_PCT);
		evbuffer_add(out, path + end, strlen(path + end));
		break;
	case INJECT_QUERY_PARAM:
		rv = inject_query_path(out, r, secret, path);
		break;
	case INJECT_HEADER:
	case INJECT_BASIC_AUTH:
		evbuffer_add(out, path, strlen(path));
		break;
	}
	if (rv == -1) {
		errbuf_set(e, "cannot buffer the request head");
		inject_evbuffer_freezero(cred);
		return -1;
	}

	evbuffer_add(out, " HTTP/1.1\r\n", 11);
	proxy_http_add_host(out, r->up_host, r->up_port,
	    r->up_tls ? 443 : 80);
	for (i = 0; i < h->nh; i++) {
		if (inject_dropped(r, h, h->h[i].name))
			continue;
		proxy_http_add_field(out, h->h[i].name, h->h[i].value);
	}
	if (cred != NULL) {
		/* Moves the chains: no copy of the secret stays behind. */
		rv = evbuffer_add_buffer(out, cred);
		inject_evbuffer_freezero(cred);
		if (rv == -1) {
			errbuf_set(e, "cannot buffer the request head");
			return -1;
		}
	}
	if (upgrade && (up = proxy_http_header(h, "Upgrade")) != NULL)
		evbuffer_add_printf(out, "Connection: upgrade\r\nUpgrade: "
		    "%s\r\n", up);
	else
		evbuffer_add(out, "Connection: keep-alive\r\n", 24);
	evbuffer_add(out, "\r\n", 2);
	return 0;
}

void
proxy_inject_redact_path(struct strbuf *sb, const struct route *r,
    const char *path)
{
	const char	*q, *p, *amp, *eq;
	size_t		 pathlen, tok, toklen, end;

	if (path == NULL)
		return;
	pathlen = strcspn(path, "?");
	if (r != NULL && r->def->inject_mode == INJECT_URL_PATH &&
	    inject_span(r->def->path_pattern, path, &tok, &toklen, &end)) {
		strbuf_appendn(sb, path, tok);
		strbuf_append(sb, INJECT_REDACTED);
		strbuf_appendn(sb, path + tok + toklen,
		    pathlen - tok - toklen);
	} else
		strbuf_appendn(sb, path, pathlen);
	if (path[pathlen] != '?')
		return;
	q = path + pathlen;
	strbuf_appendc(sb, '?');
	for (p = q + 1;; p = amp + 1) {
		amp = strchrnul(p, '&');
		eq = memchr(p, '=', (size_t)(amp - p));
		if (eq != NULL && eq + 1 < amp) {
			strbuf_appendn(sb, p, (size_t)(eq - p) + 1);
			strbuf_append(sb, INJECT_REDACTED);
		} else
			strbuf_appendn(sb, p, (size_t)(amp - p));
		if (*amp == '\0')
			break;
		strbuf_appendc(sb, '&');
	}
}
