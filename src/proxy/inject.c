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
#include "proxy/auth.h"

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

/* Escape s for a message. */
static const char *
inject_show(char *buf, const char *s)
{
	size_t	n = s == NULL ? 0 : strlen(s);

	return log_escape(buf, INJECT_SHOW_MAX, n == 0 ? "" : s,
	    n > 128 ? 128 : n);
}

/*
 * True when the client's header x must not reach the upstream: RFC 9110
 * §7.6.1 hop-by-hop headers, every Proxy-* header, Host (rewritten),
 * every credential-looking header, the route's own inject header, and the
 * method-override headers (SPEC §3.2): an upstream that honours them
 * (Google's APIs do) would run DELETE on a GET the endpoint rules allowed.
 * The framing headers stay whatever Connection names: the body is relayed
 * as the client framed it, so the upstream must see the same framing.
 */
static bool
inject_dropped(const char *ih, size_t ihl, bool compressed, bool keep_creds,
    const struct http_header *x)
{
	/* A plain intercepted host gets the client's own credentials. */
	if (keep_creds && (x->field == HF_AUTHORIZATION ||
	    x->field == HF_X_API_KEY || x->field == HF_X_GOOG_API_KEY ||
	    x->field == HF_PRIVATE_TOKEN))
		return false;
	switch (x->field) {
	case HF_CONNECTION:
	case HF_KEEP_ALIVE:
	case HF_TE:
	case HF_TRAILER:
	case HF_UPGRADE:
	case HF_HOST:
	case HF_AUTHORIZATION:
	case HF_X_API_KEY:
	case HF_X_GOOG_API_KEY:
	case HF_PRIVATE_TOKEN:
	case HF_METHOD_OVERRIDE:
	case HF_PROXY_AUTHENTICATE:
	case HF_PROXY_AUTHORIZATION:
	case HF_PROXY_CONNECTION:
	case HF_PROXY_OTHER:
		return true;
	default:
		break;
	}
	if (x->name_len == ihl && proxy_http_name_eq(x->name, ih, ihl))
		return true;
	/* Identity responses, so that they can be scrubbed (§4.6 step 6). */
	if (!compressed && x->name_len == 15 &&
	    proxy_http_name_eq(x->name, "Accept-Encoding", 15))
		return true;
	if (x->field == HF_CONTENT_LENGTH || x->field == HF_TRANSFER_ENCODING)
		return false;
	return x->conn_listed;
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

bool
proxy_inject_find_phantom(const struct route *r,
    const struct secret *phantom, const struct http_head *h,
    const char *path)
{
	size_t	i;

	if (proxy_inject_check_phantom(r, phantom, h, path))
		return true;
	if (phantom == NULL || h == NULL)
		return false;
	for (i = 0; i < h->nh; i++) {
		const struct http_header *x = &h->h[i];

		/*
		 * Any credential-looking header (SPEC 4.6 drops them all):
		 * python-gitlab sends PRIVATE-TOKEN, SDKs x-api-key.
		 */
		if ((x->field == HF_AUTHORIZATION || x->field == HF_X_API_KEY ||
		    x->field == HF_X_GOOG_API_KEY ||
		    x->field == HF_PRIVATE_TOKEN || (r != NULL &&
		    strcasecmp(x->name, r->def->inject_header) == 0)) &&
		    proxy_auth_has_phantom(phantom, x->value, x->value_len))
			return true;
	}
	return false;
}

/*
 * The credential header line for header and basic_auth modes, appended
 * to out; a secret that would break the head (CR, LF or NUL) is refused.
 * -1 with e.
 */
static int
inject_cred_line(struct strbuf *out, const struct route *r,
    const struct secret *secret, struct errbuf *e)
{
	size_t	start;

	strbuf_append(out, r->def->inject_header);
	strbuf_appendn(out, ": ", 2);
	start = out->len;
	if (r->def->inject_mode == INJECT_BASIC_AUTH && r->is_host &&
	    strcmp(r->def->credential_format, "{}") != 0) {
		/* A host's Basic user: base64("x-access-token:SECRET"). */
		struct strbuf	 t = { .wipe = true };
		struct secret	*up;

		creds_secret_emit_strbuf(secret, &t, r->def->credential_format,
		    SECRET_RAW);
		up = creds_secret_new(t.s, t.len);
		strbuf_freezero(&t);
		creds_secret_emit_strbuf(up, out, "Basic {}", SECRET_BASE64);
		creds_secret_free(up);
	} else if (r->def->inject_mode == INJECT_BASIC_AUTH)
		creds_secret_emit_strbuf(secret, out, "Basic {}",
		    SECRET_BASE64);
	else
		creds_secret_emit_strbuf(secret, out,
		    r->def->credential_format, SECRET_RAW);
	if (memchr(out->s + start, '\r', out->len - start) != NULL ||
	    memchr(out->s + start, '\n', out->len - start) != NULL ||
	    memchr(out->s + start, '\0', out->len - start) != NULL) {
		errbuf_set(e, "the credential of route '%s' holds a CR, LF "
		    "or NUL byte", r->def->name);
		return -1;
	}
	strbuf_appendn(out, "\r\n", 2);
	return 0;
}

/* "Host: host[:port]": brackets for IPv6, the port when not default. */
static void
inject_add_host(struct strbuf *out, const struct route *r)
{
	bool	v6 = strchr(r->up_host, ':') != NULL;

	strbuf_appendn(out, "Host: ", 6);
	if (v6)
		strbuf_appendc(out, '[');
	strbuf_append(out, r->up_host);
	if (v6)
		strbuf_appendc(out, ']');
	if (r->up_port != (r->up_tls ? 443 : 80)) {
		char		 num[8], *d = num + sizeof(num);
		unsigned	 v = r->up_port;

		do {
			*--d = (char)('0' + v % 10);
			v /= 10;
		} while (v != 0);
		*--d = ':';
		strbuf_appendn(out, d, (size_t)(num + sizeof(num) - d));
	}
	strbuf_appendn(out, "\r\n", 2);
}

/* Check what goes into the head verbatim; -1 with e. */
static int
inject_check_head(const struct http_head *h, const char *path,
    struct errbuf *e)
{
	char				 show[INJECT_SHOW_MAX];
	const struct http_header	*x;
	const char			*p;
	size_t				 i, j;

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
		x = &h->h[i];
		for (j = 0; j < x->name_len; j++) {
			if (!proxy_http_is_tchar((unsigned char)x->name[j])) {
				errbuf_set(e, "header name '%s' is not a "
				    "token", inject_show(show, x->name));
				return -1;
			}
		}
		if (x->name_len == 0) {
			errbuf_set(e, "empty header name");
			return -1;
		}
		/* A NUL cannot be inside a C string: it ended the value. */
		if (memchr(x->value, '\r', x->value_len) != NULL ||
		    memchr(x->value, '\n', x->value_len) != NULL) {
			errbuf_set(e, "header '%s' holds a CR, LF or NUL byte",
			    inject_show(show, x->name));
			return -1;
		}
	}
	return 0;
}

/* path with the query parameter set to the encoded secret, into out. */
static void
inject_query_path(struct strbuf *out, const struct route *r,
    const struct secret *secret, const char *path)
{
	const char	*name = r->def->query_param_name, *q, *p, *amp;
	size_t		 nlen = strlen(name), plen;
	bool		 done = false;

	if ((q = strchr(path, '?')) == NULL) {
		strbuf_append(out, path);
		strbuf_appendc(out, '?');
		strbuf_appendn(out, name, nlen);
		strbuf_appendc(out, '=');
		creds_secret_emit_strbuf(secret, out, NULL, SECRET_PCT);
		return;
	}
	strbuf_appendn(out, path, (size_t)(q - path) + 1);
	for (p = q + 1;; p = amp + 1) {
		amp = strchrnul(p, '&');
		plen = strcspn(p, "=&");
		if (plen == nlen && memcmp(p, name, nlen) == 0) {
			/* Every one: none may carry the phantom upstream. */
			strbuf_appendn(out, name, nlen);
			strbuf_appendc(out, '=');
			creds_secret_emit_strbuf(secret, out, NULL,
			    SECRET_PCT);
			done = true;
		} else
			strbuf_appendn(out, p, (size_t)(amp - p));
		if (*amp == '\0')
			break;
		strbuf_appendc(out, '&');
	}
	if (done)
		return;
	/* No '&' after an empty query or one that ends in '&'. */
	if (q[1] != '\0' && amp[-1] != '&')
		strbuf_appendc(out, '&');
	strbuf_appendn(out, name, nlen);
	strbuf_appendc(out, '=');
	creds_secret_emit_strbuf(secret, out, NULL, SECRET_PCT);
}

/*
 * The head is built in one private buffer and handed over as one piece:
 * the output of a TLS bufferevent encrypts on every add and every chain,
 * and one record per request is also one write to the socket (eight small
 * records cost a fifth of the proxy's CPU).  The piece is memory of ours,
 * wiped when the TLS layer has consumed it: the head holds the credential.
 * The buffer is sized for the head up front; if it must grow, the old
 * copy is wiped (strbuf's wipe mode).
 */
static int	inject_build_head(struct strbuf *, const struct route *,
		    const struct secret *, const struct http_head *,
		    const char *, bool, struct errbuf *);

/* evbuffer_add_reference's cleanup for the head: arg is its capacity. */
static void
inject_head_wipe(const void *data, size_t len, void *arg)
{
	(void)len;
	freezero((void *)(uintptr_t)data, (size_t)(uintptr_t)arg);
}

/* Room the head will most likely need, so the buffer never moves. */
static size_t
inject_head_room(const struct route *r, const struct secret *secret,
    const struct http_head *h, const char *path)
{
	const struct route_def	*d = r->def;
	size_t			 n = 128;

	n += h->raw_len + strlen(path) + strlen(r->up_path) +
	    strlen(r->up_host) + 3 * (secret != NULL ?
	    creds_secret_len(secret) : 0);
	if (d->inject_header != NULL)
		n += strlen(d->inject_header);
	if (d->credential_format != NULL)
		n += strlen(d->credential_format);
	if (d->path_replacement != NULL)
		n += strlen(d->path_replacement);
	if (d->query_param_name != NULL)
		n += strlen(d->query_param_name);
	return n;
}

int
proxy_inject_write_head(struct evbuffer *dst, const struct route *r,
    const struct secret *secret, const struct http_head *h,
    const char *path, bool upgrade, struct errbuf *e)
{
	struct strbuf	out = { .wipe = true };

	/* No secret: header modes only, sent without a credential. */
	if (r == NULL || h == NULL || path == NULL || (secret == NULL &&
	    r->def->inject_mode != INJECT_HEADER &&
	    r->def->inject_mode != INJECT_BASIC_AUTH)) {
		errbuf_set(e, "no route, secret, head or path");
		return -1;
	}
	strbuf_reserve(&out, inject_head_room(r, secret, h, path));
	if (inject_build_head(&out, r, secret, h, path, upgrade, e) == -1) {
		strbuf_freezero(&out);
		return -1;
	}
	if (evbuffer_add_reference(dst, out.s, out.len, inject_head_wipe,
	    (void *)(uintptr_t)out.cap) == -1) {
		strbuf_freezero(&out);
		errbuf_set(e, "cannot buffer the request head");
		return -1;
	}
	return 0;
}

static int
inject_build_head(struct strbuf *out, const struct route *r,
    const struct secret *secret, const struct http_head *h,
    const char *path, bool upgrade, struct errbuf *e)
{
	char			 show[INJECT_SHOW_MAX];
	const struct route_def	*d;
	const char		*repl, *up, *ih;
	size_t			 tok = 0, toklen = 0, end = 0, ihl, i;

	if (inject_check_head(h, path, e) == -1)
		return -1;
	d = r->def;
	if (d->inject_mode == INJECT_URL_PATH &&
	    !inject_span(d->path_pattern, path, &tok, &toklen, &end)) {
		errbuf_set(e, "path does not match path_pattern '%s'",
		    inject_show(show, d->path_pattern));
		return -1;
	}

	strbuf_append(out, h->method);
	strbuf_appendc(out, ' ');
	strbuf_append(out, r->up_path);
	switch (d->inject_mode) {
	case INJECT_URL_PATH:
		/* The span starts the path: the pattern is anchored. */
		repl = d->path_replacement != NULL ? d->path_replacement :
		    d->path_pattern;
		creds_secret_emit_strbuf(secret, out, repl, SECRET_PCT);
		strbuf_append(out, path + end);
		break;
	case INJECT_QUERY_PARAM:
		inject_query_path(out, r, secret, path);
		break;
	case INJECT_HEADER:
	case INJECT_BASIC_AUTH:
		strbuf_append(out, path);
		break;
	}
	strbuf_appendn(out, " HTTP/1.1\r\n", 11);
	inject_add_host(out, r);
	ih = d->inject_header != NULL && !r->passthrough ? d->inject_header :
	    "";
	ihl = strlen(ih);
	for (i = 0; i < h->nh; i++) {
		const struct http_header *x = &h->h[i];

		if (inject_dropped(ih, ihl, d->compressed_responses,
		    r->passthrough, x))
			continue;
		strbuf_appendn(out, x->name, x->name_len);
		strbuf_appendn(out, ": ", 2);
		strbuf_appendn(out, x->value, x->value_len);
		strbuf_appendn(out, "\r\n", 2);
	}
	if ((d->inject_mode == INJECT_HEADER ||
	    d->inject_mode == INJECT_BASIC_AUTH) && secret != NULL &&
	    inject_cred_line(out, r, secret, e) == -1)
		return -1;
	/*
	 * Without any Accept-Encoding an upstream may pick any coding (RFC
	 * 9110 §12.5.3): ask for identity outright.
	 */
	if (!d->compressed_responses)
		strbuf_append(out, "Accept-Encoding: identity\r\n");
	if (upgrade && (up = proxy_http_field(h, HF_UPGRADE)) != NULL) {
		strbuf_append(out, "Connection: upgrade\r\nUpgrade: ");
		strbuf_append(out, up);
		strbuf_appendn(out, "\r\n", 2);
	} else
		strbuf_appendn(out, "Connection: keep-alive\r\n", 24);
	strbuf_appendn(out, "\r\n", 2);
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
