/*
 * Phantom-token extraction and the upstream head (proxy/inject.h), per
 * inject mode, over a head read by the real parser.
 *
 * Input: lines, then the raw request head:
 *   1  mode: first byte % 4 (header, url_path, query_param, basic_auth);
 *      a second byte, if any: bit 0 asks for an upgrade
 *   2  inject_header     3  credential_format   4  path_pattern
 *   5  path_replacement  6  query_param_name    7  upstream URL
 *   8  the real secret   9  the phantom token
 *   rest  the request head (CRLF CRLF), read with proxy_http_read_head;
 *      the path given to inject is the request target
 * An empty field is left unset (the default).  A definition
 * policy_route_new() refuses falls back to a fixed valid one of the same
 * mode, so the head is always exercised.  A head the parser refuses is
 * built by hand from the lines instead (inject's own checks then run on
 * bytes the parser would have refused).
 *
 * Invariants on a written head: it is one request head (ends in CRLF
 * CRLF, no other empty line, no bare CR or LF, no NUL); no Proxy-*
 * header and no client credential header goes up; header modes carry
 * exactly one inject header; a head that came from the parser re-parses.
 */
#include <stdint.h>
#include <strings.h>

#include <event2/buffer.h>

#include "creds/secret.h"
#include "fuzz.h"
#include "policy/route.h"
#include "proxy/http.h"
#include "proxy/inject.h"
#include "util/errbuf.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static char *
opt(char *s)
{
	if (s[0] == '\0') {
		free(s);
		return NULL;
	}
	return s;
}

static struct route *
fallback(enum inject_mode mode)
{
	struct route_def	*d = policy_route_def_new("svc");
	struct route		*r;
	struct errbuf		 e;

	d->upstream = xstrdup("https://api.example.com:8443/v1");
	d->inject_mode = mode;
	d->path_pattern = xstrdup("/bot{}/");
	d->query_param_name = xstrdup("key");
	if ((r = policy_route_new(d, &e)) == NULL) {
		fprintf(stderr, "fallback route: %s\n", errbuf_msg(&e));
		abort();
	}
	policy_route_def_free(d);
	return r;
}

/* A head from raw lines without any checks: "METHOD TARGET", "N: V". */
static struct http_head *
raw_head(const char *s, size_t n)
{
	struct http_head	*h = NULL;
	const char		*p = s, *end = s + n, *eol, *sp;
	char			*line, *c;

	for (; p < end; p = eol + 1) {
		if ((eol = memchr(p, '\n', (size_t)(end - p))) == NULL)
			eol = end;
		line = xstrndup(p, (size_t)(eol - p));
		if (h == NULL) {
			if ((sp = strchr(line, ' ')) != NULL) {
				*(char *)(uintptr_t)sp = '\0';
				h = proxy_http_head_new(line, sp + 1);
			} else
				h = proxy_http_head_new(line, "/");
		} else if ((c = strchr(line, ':')) != NULL) {
			*c = '\0';
			proxy_http_head_add(h, line, c + 1 +
			    (c[1] == ' ' ? 1 : 0));
		}
		free(line);
		if (eol == end)
			break;
	}
	return h != NULL ? h : proxy_http_head_new("GET", "/");
}

/* True when s[0..n) is only visible ASCII or space (NULL: true). */
static bool
visible(const char *s, size_t n, bool space)
{
	size_t	i;

	for (i = 0; s != NULL && i < n; i++)
		if ((unsigned char)s[i] < (space ? 0x20 : 0x21) ||
		    (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

/*
 * Whether the written head should parse again: the secret and the
 * route's own text are the configuration's business (inject refuses only
 * CR, LF and NUL there), so only when they hold plain visible bytes.
 */
static bool
plain_route(const struct route *r, const char *sec, size_t seclen)
{
	const struct route_def	*d = r->def;
	const char		*repl = d->path_replacement != NULL ?
				    d->path_replacement : d->path_pattern;

	static const char *const framing[] = { "Host", "Content-Length",
	    "Transfer-Encoding", "Connection", "Upgrade", "Expect", "TE",
	    "Trailer", "Keep-Alive", NULL };
	size_t			 i;

	/* Neither is checked by policy_route_new (reported). */
	if (d->inject_mode == INJECT_URL_PATH && repl[0] != '/')
		return false;
	/* By prefix: http_parser 2.9 flags "Transfer-EncodingX" as TE. */
	for (i = 0; framing[i] != NULL; i++)
		if (strncasecmp(d->inject_header, framing[i],
		    strlen(framing[i])) == 0 &&
		    (strlen(framing[i]) > 2 || d->inject_header[2] == '\0'))
			return false;
	return visible(sec, seclen, true) &&
	    visible(d->credential_format, d->credential_format == NULL ? 0 :
	    strlen(d->credential_format), true) &&
	    visible(d->path_pattern, d->path_pattern == NULL ? 0 :
	    strlen(d->path_pattern), false) &&
	    visible(d->path_replacement, d->path_replacement == NULL ? 0 :
	    strlen(d->path_replacement), false);
}

/* The written head must be one well-formed request head. */
static void
check_out(struct evbuffer *out, const struct route *r, bool parsed,
    bool plain)
{
	size_t		 n = evbuffer_get_length(out), i, ninj = 0;
	char		*s = malloc(n + 1), *line, *next, *colon;
	struct http_msg	 m;
	struct evbuffer	*again;
	enum http_result rr;
	bool		 hdrmode;

	if (s == NULL)
		abort();
	evbuffer_copyout(out, s, n);
	s[n] = '\0';
	FZ_ASSERT(n >= 4 && memcmp(s + n - 4, "\r\n\r\n", 4) == 0,
	    "head does not end in CRLF CRLF");
	FZ_ASSERT(memmem(s, n, "\r\n\r\n", 4) == s + n - 4,
	    "an empty line inside the head:\n%s", s);
	for (i = 0; i < n; i++) {
		FZ_ASSERT(s[i] != '\0', "NUL at %zu", i);
		FZ_ASSERT(s[i] != '\n' || (i > 0 && s[i - 1] == '\r'),
		    "bare LF at %zu", i);
		FZ_ASSERT(s[i] != '\r' || (i + 1 < n && s[i + 1] == '\n'),
		    "bare CR at %zu", i);
	}
	hdrmode = r->def->inject_mode == INJECT_HEADER ||
	    r->def->inject_mode == INJECT_BASIC_AUTH;
	line = strstr(s, "\r\n") + 2;		/* skip the request line */
	FZ_ASSERT(strncmp(line, "Host: ", 6) == 0, "Host is not first");
	line = strstr(line, "\r\n") + 2;
	for (; *line != '\r'; line = next) {
		next = strstr(line, "\r\n") + 2;
		colon = strchr(line, ':');
		FZ_ASSERT(colon != NULL && colon < next, "no colon");
		*colon = '\0';
		/* The route's own header is what it asked for. */
		if (hdrmode && strcasecmp(line, r->def->inject_header) == 0)
			ninj++;
		else
			FZ_ASSERT(strncasecmp(line, "Proxy-", 6) != 0 &&
			    strcasecmp(line, "Host") != 0 &&
			    strcasecmp(line, r->def->inject_header) != 0 &&
			    strcasecmp(line, "Authorization") != 0 &&
			    strcasecmp(line, "X-Api-Key") != 0 &&
			    strcasecmp(line, "X-Goog-Api-Key") != 0 &&
			    strcasecmp(line, "Private-Token") != 0,
			    "client header %s goes up", line);
		*colon = ':';
	}
	if (plain)
		FZ_ASSERT(ninj == (hdrmode ? 1 : 0), "%zu inject headers",
		    ninj);
	else
		FZ_ASSERT(!hdrmode || ninj >= 1, "no inject header");
	if (parsed && plain) {
		again = evbuffer_new();
		evbuffer_add(again, s, n);
		proxy_http_msg_init(&m, HTTP_REQUEST, 1 << 20, 1 << 22);
		rr = proxy_http_read_head(&m, again);
		FZ_ASSERT(rr == HTTP_DONE, "written head does not parse: %s\n%s",
		    m.bad_reason, s);
		proxy_http_msg_free(&m);
		evbuffer_free(again);
	}
	free(s);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_quiet();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz		 f = { data, size };
	struct route_def	*d;
	struct route		*r;
	struct secret		*secret, *phantom;
	struct http_head	*h = NULL;
	struct http_msg		 m;
	struct evbuffer		*in, *out;
	struct strbuf		 sb = { 0 };
	struct errbuf		 e;
	enum inject_mode	 mode;
	char			*line, *sec, *ph, *raw;
	size_t			 seclen, phlen, rawlen;
	bool			 upgrade = false, parsed = false;
	int			 rv;

	line = fz_field(&f, '\n', NULL);
	mode = (enum inject_mode)((unsigned char)line[0] % 4);
	if (line[0] != '\0')
		upgrade = (line[1] & 1) != 0;
	free(line);
	d = policy_route_def_new("svc");
	d->inject_mode = mode;
	d->inject_header = opt(fz_field(&f, '\n', NULL));
	d->credential_format = opt(fz_field(&f, '\n', NULL));
	d->path_pattern = opt(fz_field(&f, '\n', NULL));
	d->path_replacement = opt(fz_field(&f, '\n', NULL));
	d->query_param_name = opt(fz_field(&f, '\n', NULL));
	d->upstream = opt(fz_field(&f, '\n', NULL));
	sec = fz_field(&f, '\n', &seclen);
	ph = fz_field(&f, '\n', &phlen);
	raw = fz_rest(&f, &rawlen);

	errbuf_clear(&e);
	if ((r = policy_route_new(d, &e)) == NULL)
		r = fallback(mode);
	policy_route_def_free(d);
	secret = creds_secret_new(sec, seclen);
	phantom = creds_secret_new(ph, phlen);

	in = evbuffer_new();
	evbuffer_add(in, raw, rawlen);
	proxy_http_msg_init(&m, HTTP_REQUEST, 8192, 65536);
	if (proxy_http_read_head(&m, in) == HTTP_DONE) {
		h = proxy_http_take_head(&m);
		parsed = true;
	} else
		h = raw_head(raw, rawlen);
	proxy_http_msg_free(&m);
	evbuffer_free(in);

	(void)proxy_inject_check_phantom(r, phantom, h, h->target);
	out = evbuffer_new();
	errbuf_clear(&e);
	rv = proxy_inject_write_head(out, r, secret, h, h->target, upgrade,
	    &e);
	if (rv == 0)
		check_out(out, r, parsed, plain_route(r, sec, seclen));
	else {
		FZ_ASSERT(evbuffer_get_length(out) == 0,
		    "%zu bytes written on error", evbuffer_get_length(out));
		FZ_ASSERT(errbuf_msg(&e)[0] != '\0', "no message");
	}
	proxy_inject_redact_path(&sb, r, h->target);
	proxy_inject_redact_path(&sb, NULL, h->target);
	strbuf_free(&sb);

	evbuffer_free(out);
	proxy_http_head_free(h);
	creds_secret_free(secret);
	creds_secret_free(phantom);
	policy_route_free(r);
	free(sec);
	free(ph);
	free(raw);
	return 0;
}
