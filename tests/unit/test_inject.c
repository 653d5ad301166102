#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "creds/secret.h"
#include "policy/netpolicy.h"
#include "policy/route.h"
#include "proxy/http.h"
#include "proxy/inject.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

#define PHANTOM	"abc123"

/* How a test route injects; NULL fields keep the defaults. */
struct how {
	enum inject_mode	 mode;
	const char		*header;
	const char		*format;
	const char		*pattern;
	const char		*replacement;
	const char		*param;
};

static struct route *
mkroute(const char *name, const char *upstream, const struct how *how)
{
	struct route_def	*d = policy_route_def_new(name);
	struct route		*r;
	struct errbuf		 e;

	d->upstream = xstrdup(upstream);
	d->inject_mode = how->mode;
#define SET(f, v)	if ((v) != NULL) d->f = xstrdup(v)
	SET(inject_header, how->header);
	SET(credential_format, how->format);
	SET(path_pattern, how->pattern);
	SET(path_replacement, how->replacement);
	SET(query_param_name, how->param);
#undef SET
	errbuf_clear(&e);
	if ((r = policy_route_new(d, &e)) == NULL)
		fail_msg("route: %s", errbuf_msg(&e));
	policy_route_def_free(d);
	return r;
}

/* A route with only a header name and format (header mode). */
static struct route *
hdr_route(const char *header, const char *format)
{
	struct how	how = { .mode = INJECT_HEADER, .header = header,
			    .format = format };

	return mkroute("svc", "https://api.example.com", &how);
}

/* A request head: "NAME", "value" pairs, NULL-terminated. */
static struct http_head *
mkhead(const char *method, const char *target, ...)
{
	struct http_head	*h = proxy_http_head_new(method, target);
	const char		*n, *v;
	va_list			 ap;

	va_start(ap, target);
	while ((n = va_arg(ap, const char *)) != NULL) {
		v = va_arg(ap, const char *);
		proxy_http_head_add(h, n, v);
	}
	va_end(ap);
	return h;
}

static struct secret *
sec(const char *s)
{
	return creds_secret_new(s, strlen(s));
}

/* proxy_inject_check_phantom with the phantom PHANTOM. */
static bool
check(const struct route *r, const struct http_head *h, const char *path)
{
	struct secret	*ph = sec(PHANTOM);
	bool		 ok;

	ok = proxy_inject_check_phantom(r, ph, h, path);
	creds_secret_free(ph);
	return ok;
}

/* proxy_inject_find_phantom with the phantom PHANTOM. */
static bool
find(const struct route *r, const struct http_head *h)
{
	struct secret	*ph = sec(PHANTOM);
	bool		 ok;

	ok = proxy_inject_find_phantom(r, ph, h, "/x");
	creds_secret_free(ph);
	return ok;
}

/* The head written for secret; fails the test on -1. */
static char *
head_of(const struct route *r, const char *secret,
    const struct http_head *h, const char *path, bool upgrade)
{
	struct evbuffer	*b = evbuffer_new();
	struct secret	*s = sec(secret);
	struct errbuf	 e;
	size_t		 n;
	char		*out;

	errbuf_clear(&e);
	if (proxy_inject_write_head(b, r, s, h, path, upgrade, &e) == -1)
		fail_msg("write_head: %s", errbuf_msg(&e));
	n = evbuffer_get_length(b);
	out = xmalloc(n + 1);
	evbuffer_remove(b, out, n);
	out[n] = '\0';
	evbuffer_free(b);
	creds_secret_free(s);
	return out;
}

/* write_head fails with msg and writes nothing. */
static void
assert_head_fails(const struct route *r, const char *secret,
    const struct http_head *h, const char *path, const char *msg)
{
	struct evbuffer	*b = evbuffer_new();
	struct secret	*s = sec(secret);
	struct errbuf	 e;

	errbuf_clear(&e);
	assert_int_equal(proxy_inject_write_head(b, r, s, h, path, false, &e),
	    -1);
	assert_string_equal(errbuf_msg(&e), msg);
	assert_int_equal(evbuffer_get_length(b), 0);
	evbuffer_free(b);
	creds_secret_free(s);
}

static void
assert_head(const struct route *r, const char *secret,
    const struct http_head *h, const char *path, const char *want)
{
	char	*got = head_of(r, secret, h, path, false);

	assert_string_equal(got, want);
	free(got);
}

/* The request line of the head written for path. */
static void
assert_line(const struct route *r, const char *secret, const char *path,
    const char *want)
{
	struct http_head	*h = mkhead("GET", path, NULL);
	char			*got = head_of(r, secret, h, path, false);

	*strstr(got, "\r\n") = '\0';
	assert_string_equal(got, want);
	free(got);
	proxy_http_head_free(h);
}

static void
assert_redacted(const struct route *r, const char *path, const char *want)
{
	struct strbuf	sb = { 0 };

	proxy_inject_redact_path(&sb, r, path);
	assert_string_equal(strbuf_str(&sb), want);
	strbuf_free(&sb);
}

/* reverse.rs 77, 78 */
static void
test_inject_bearer_phantom_is_accepted_and_wrong_one_is_not(void **state)
{
	struct route		*r = hdr_route(NULL, NULL);
	struct http_head	*ok = mkhead("POST", "/", "Content-Type",
	    "application/json", "Authorization", "Bearer " PHANTOM, "Accept",
	    "*/*", NULL);
	struct http_head	*bad = mkhead("POST", "/", "Authorization",
	    "Bearer wrong", NULL);
	struct http_head	*pfx = mkhead("POST", "/", "Authorization",
	    "Bearer " PHANTOM "x", NULL);

	(void)state;
	assert_true(check(r, ok, "/v1/chat"));
	assert_false(check(r, bad, "/v1/chat"));
	assert_false(check(r, pfx, "/v1/chat"));
	proxy_http_head_free(ok);
	proxy_http_head_free(bad);
	proxy_http_head_free(pfx);
	policy_route_free(r);
}

/* reverse.rs 79, 80 */
static void
test_inject_raw_phantom_is_accepted_in_api_key_headers(void **state)
{
	struct route		*a = hdr_route("x-api-key", "{}");
	struct route		*g = hdr_route("x-goog-api-key", "{}");
	struct http_head	*ha = mkhead("GET", "/", "x-api-key", PHANTOM,
	    NULL);
	struct http_head	*hg = mkhead("GET", "/", "x-goog-api-key",
	    PHANTOM, NULL);

	(void)state;
	assert_true(check(a, ha, "/"));
	assert_true(check(g, hg, "/"));
	assert_false(check(a, hg, "/"));
	proxy_http_head_free(ha);
	proxy_http_head_free(hg);
	policy_route_free(a);
	policy_route_free(g);
}

/* reverse.rs 81, 82 */
static void
test_inject_header_name_is_case_insensitive_and_required(void **state)
{
	struct route		*r = hdr_route(NULL, NULL);
	struct http_head	*up = mkhead("GET", "/", "AUTHORIZATION",
	    "Bearer " PHANTOM, NULL);
	struct http_head	*none = mkhead("GET", "/", "Accept", "*/*",
	    NULL);
	struct http_head	*empty = mkhead("GET", "/", "Authorization",
	    "", NULL);

	(void)state;
	assert_true(check(r, up, "/"));
	assert_false(check(r, none, "/"));
	assert_false(check(r, empty, "/"));
	proxy_http_head_free(up);
	proxy_http_head_free(none);
	proxy_http_head_free(empty);
	policy_route_free(r);
}

static void
test_inject_bearer_scheme_any_case_one_or_more_spaces(void **state)
{
	struct route	*r = hdr_route(NULL, NULL);
	const char	*good[] = { PHANTOM, "bearer " PHANTOM,
			    "BEARER   " PHANTOM, "Bearer\t" PHANTOM,
			    "  Bearer " PHANTOM "  " };
	const char	*bad[] = { "Bearer" PHANTOM, "Bearer ", "Bearer",
			    "Basic " PHANTOM, "token " PHANTOM };
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct http_head *h = mkhead("GET", "/", "Authorization",
		    good[i], NULL);

		if (!check(r, h, "/"))
			fail_msg("refused '%s'", good[i]);
		proxy_http_head_free(h);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct http_head *h = mkhead("GET", "/", "Authorization",
		    bad[i], NULL);

		if (check(r, h, "/"))
			fail_msg("accepted '%s'", bad[i]);
		proxy_http_head_free(h);
	}
	policy_route_free(r);
}

static void
test_inject_token_prefix_of_github_format_is_accepted(void **state)
{
	struct route	*r = hdr_route("Authorization", "token {}");
	struct route	*k = hdr_route("X-Key", "key={}");
	const char	*good[] = { "token " PHANTOM, "Token  " PHANTOM,
			    "TOKEN\t" PHANTOM, "Bearer " PHANTOM, PHANTOM };
	const char	*bad[] = { "token wrong", "token", "token ",
			    "token" PHANTOM, "tokens " PHANTOM };
	struct http_head *h;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		h = mkhead("GET", "/", "Authorization", good[i], NULL);
		if (!check(r, h, "/"))
			fail_msg("refused '%s'", good[i]);
		proxy_http_head_free(h);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		h = mkhead("GET", "/", "Authorization", bad[i], NULL);
		if (check(r, h, "/"))
			fail_msg("accepted '%s'", bad[i]);
		proxy_http_head_free(h);
	}
	/* A prefix without a trailing space is matched exactly. */
	h = mkhead("GET", "/", "X-Key", "KEY=" PHANTOM, NULL);
	assert_true(check(k, h, "/"));
	proxy_http_head_free(h);
	h = mkhead("GET", "/", "X-Key", "key= " PHANTOM, NULL);
	assert_false(check(k, h, "/"));
	proxy_http_head_free(h);
	policy_route_free(r);
	policy_route_free(k);
}

static void
test_inject_first_inject_header_decides(void **state)
{
	struct route		*r = hdr_route(NULL, NULL);
	struct http_head	*h = mkhead("GET", "/", "Authorization",
	    "Bearer wrong", "Authorization", "Bearer " PHANTOM, NULL);

	(void)state;
	assert_false(check(r, h, "/"));
	proxy_http_head_free(h);
	policy_route_free(r);
}

static void
test_inject_basic_auth_takes_raw_or_bearer_phantom_only(void **state)
{
	struct how	 how = { .mode = INJECT_BASIC_AUTH };
	struct route	*r = mkroute("svc", "https://api.example.com", &how);
	struct http_head *h;

	(void)state;
	h = mkhead("GET", "/", "Authorization", PHANTOM, NULL);
	assert_true(check(r, h, "/"));
	proxy_http_head_free(h);
	h = mkhead("GET", "/", "Authorization", "Bearer " PHANTOM, NULL);
	assert_true(check(r, h, "/"));
	proxy_http_head_free(h);
	/* base64("user:abc123"): a Basic phantom is not decoded. */
	h = mkhead("GET", "/", "Authorization", "Basic dXNlcjphYmMxMjM=",
	    NULL);
	assert_false(check(r, h, "/"));
	proxy_http_head_free(h);
	policy_route_free(r);
}

/* reverse.rs 97, 98, 99 */
static void
test_inject_url_path_phantom_is_checked_anchored(void **state)
{
	struct how	 how = { .mode = INJECT_URL_PATH,
			    .pattern = "/bot/{}/" };
	struct how	 end = { .mode = INJECT_URL_PATH,
			    .pattern = "/bot/{}" };
	struct route	*r = mkroute("tg", "https://api.telegram.org", &how);
	struct route	*e = mkroute("tg", "https://api.telegram.org", &end);
	struct http_head *h = mkhead("GET", "/", NULL);

	(void)state;
	assert_true(check(r, h, "/bot/" PHANTOM "/getMe"));
	assert_false(check(r, h, "/bot/wrong_token/getMe"));
	assert_false(check(r, h, "/api/getMe"));
	/* Anchored: nono would find the prefix anywhere. */
	assert_false(check(r, h, "/x/bot/" PHANTOM "/getMe"));
	/* The suffix is looked for before the query only. */
	assert_false(check(r, h, "/bot/" PHANTOM "?a=/"));
	assert_false(check(r, h, "/bot//getMe"));
	assert_true(check(e, h, "/bot/" PHANTOM));
	assert_true(check(e, h, "/bot/" PHANTOM "/getMe"));
	assert_true(check(e, h, "/bot/" PHANTOM "?x=1"));
	assert_false(check(e, h, "/bot/"));
	proxy_http_head_free(h);
	policy_route_free(r);
	policy_route_free(e);
}

/* reverse.rs 103-107 */
static void
test_inject_query_phantom_is_decoded_and_first_one_decides(void **state)
{
	struct how	 how = { .mode = INJECT_QUERY_PARAM,
			    .param = "api_key" };
	struct route	*r = mkroute("svc", "https://api.example.com", &how);
	struct http_head *h = mkhead("GET", "/", NULL);
	struct secret	*sp = sec("token with spaces");

	(void)state;
	assert_true(check(r, h, "/api/data?api_key=" PHANTOM "&other=value"));
	assert_true(check(r, h, "/api/data?x=1&api_key=%61bc123"));
	assert_false(check(r, h, "/api/data?api_key=wrong_token"));
	assert_false(check(r, h, "/api/data?other=value"));
	assert_false(check(r, h, "/api/data"));
	assert_false(check(r, h, "/api/data?API_KEY=" PHANTOM));
	assert_false(check(r, h, "/api/data?api_key=x&api_key=" PHANTOM));
	assert_false(check(r, h, "/api/data?api_key=&x=1"));
	assert_true(proxy_inject_check_phantom(r, sp, h,
	    "/api/data?api_key=token%20with%20spaces"));
	/* '+' is not a space. */
	assert_false(proxy_inject_check_phantom(r, sp, h,
	    "/api/data?api_key=token+with+spaces"));
	creds_secret_free(sp);
	proxy_http_head_free(h);
	policy_route_free(r);
}

/* reverse.rs 83 */
static void
test_inject_head_drops_host_and_authorization_keeps_order(void **state)
{
	struct route		*r = hdr_route(NULL, NULL);
	struct http_head	*h = mkhead("POST", "/v1/chat", "Host",
	    "127.0.0.1:8080", "Authorization", "Bearer " PHANTOM,
	    "Content-Type", "application/json", "Accept", "*/*", NULL);

	(void)state;
	assert_head(r, "real-key", h, "/v1/chat",
	    "POST /v1/chat HTTP/1.1\r\n"
	    "Host: api.example.com\r\n"
	    "Content-Type: application/json\r\n"
	    "Accept: */*\r\n"
	    "Authorization: Bearer real-key\r\n"
	    "Accept-Encoding: identity\r\n"
	    "Connection: keep-alive\r\n"
	    "\r\n");
	proxy_http_head_free(h);
	policy_route_free(r);
}

static void
test_inject_asks_identity_unless_compressed_responses(
    void **state)
{
	struct route		*r = hdr_route(NULL, NULL);
	struct http_head	*h = mkhead("GET", "/x", "Authorization",
	    "Bearer " PHANTOM, "accept-encoding", "gzip, br", NULL);
	char			*got;

	(void)state;
	assert_head(r, "real-key", h, "/x",
	    "GET /x HTTP/1.1\r\n"
	    "Host: api.example.com\r\n"
	    "Authorization: Bearer real-key\r\n"
	    "Accept-Encoding: identity\r\n"
	    "Connection: keep-alive\r\n"
	    "\r\n");
	/* The route gives up scrubbing: the client's choice goes on. */
	r->def->compressed_responses = true;
	got = head_of(r, "real-key", h, "/x", false);
	assert_non_null(strstr(got, "\r\naccept-encoding: gzip, br\r\n"));
	assert_null(strstr(got, "identity"));
	free(got);
	proxy_http_head_free(h);
	policy_route_free(r);
}

/* reverse.rs 84, 85 */
static void
test_inject_head_drops_every_credential_looking_header(void **state)
{
	struct route		*r = hdr_route("x-api-key", "{}");
	struct route		*p = hdr_route("PRIVATE-TOKEN", "{}");
	struct http_head	*h = mkhead("GET", "/", "x-api-key", PHANTOM,
	    "authorization", "Bearer x", "X-GOOG-API-KEY", "g",
	    "Private-Token", "p", "Content-Type", "text/plain", NULL);

	(void)state;
	assert_head(r, "sk-real", h, "/",
	    "GET / HTTP/1.1\r\n"
	    "Host: api.example.com\r\n"
	    "Content-Type: text/plain\r\n"
	    "x-api-key: sk-real\r\n"
	    "Accept-Encoding: identity\r\n"
	    "Connection: keep-alive\r\n"
	    "\r\n");
	assert_head(p, "glpat", h, "/",
	    "GET / HTTP/1.1\r\n"
	    "Host: api.example.com\r\n"
	    "Content-Type: text/plain\r\n"
	    "PRIVATE-TOKEN: glpat\r\n"
	    "Accept-Encoding: identity\r\n"
	    "Connection: keep-alive\r\n"
	    "\r\n");
	proxy_http_head_free(h);
	policy_route_free(r);
	policy_route_free(p);
}

/* SPEC 3.2: an endpoint rule on the method cannot be talked around. */
static void
test_inject_head_drops_method_override_headers(void **state)
{
	struct route		*r = hdr_route(NULL, NULL);
	struct http_head	*h = mkhead("GET", "/v1/files", "A", "1",
	    "X-HTTP-Method-Override", "DELETE", "x-http-method", "DELETE",
	    "X-METHOD-OVERRIDE", "PUT", "X-HTTP-Method-Overrides", "kept",
	    "B", "2", NULL);

	(void)state;
	assert_head(r, "real-key", h, "/v1/files",
	    "GET /v1/files HTTP/1.1\r\n"
	    "Host: api.example.com\r\n"
	    "A: 1\r\n"
	    "X-HTTP-Method-Overrides: kept\r\n"
	    "B: 2\r\n"
	    "Authorization: Bearer real-key\r\n"
	    "Accept-Encoding: identity\r\n"
	    "Connection: keep-alive\r\n"
	    "\r\n");
	proxy_http_head_free(h);
	policy_route_free(r);
}

static void
test_inject_head_drops_hop_by_hop_and_keeps_framing(void **state)
{
	struct route		*r = hdr_route("x-api-key", "{}");
	struct http_head	*h = mkhead("POST", "/m", "connection",
	    "keep-alive, X-Trace, Content-Length, Transfer-Encoding",
	    "KEEP-ALIVE", "timeout=5", "te", "trailers", "Trailer", "x",
	    "upgrade", "h2c", "Proxy-Authorization", "Basic eA==",
	    "proxy-connection", "close", "PROXY-Whatever", "1", "X-Trace", "t",
	    "A", "1", "Content-Length", "12", "Transfer-Encoding", "chunked",
	    "Expect", "100-continue", "x-nono-token", "kept", "B", "2", NULL);

	(void)state;
	assert_head(r, "k", h, "/m",
	    "POST /m HTTP/1.1\r\n"
	    "Host: api.example.com\r\n"
	    "A: 1\r\n"
	    "Content-Length: 12\r\n"
	    "Transfer-Encoding: chunked\r\n"
	    "Expect: 100-continue\r\n"
	    "x-nono-token: kept\r\n"
	    "B: 2\r\n"
	    "x-api-key: k\r\n"
	    "Accept-Encoding: identity\r\n"
	    "Connection: keep-alive\r\n"
	    "\r\n");
	proxy_http_head_free(h);
	policy_route_free(r);
}

static void
test_inject_head_refuses_cr_or_lf_in_a_header_value(void **state)
{
	struct route		*r = hdr_route(NULL, NULL);
	struct http_head	*cr = mkhead("GET", "/", "X-A", "a\rb", NULL);
	struct http_head	*lf = mkhead("GET", "/", "Accept", "*/*",
	    "X-Evil", "a\r\nX-Injected: 1", NULL);
	struct http_head	*dropped = mkhead("GET", "/", "Authorization",
	    "x\ny", NULL);
	struct http_head	*name = mkhead("GET", "/", "X A", "1", NULL);
	struct http_head	*ok = mkhead("GET", "/", NULL);

	(void)state;
	assert_head_fails(r, "s", cr, "/",
	    "header 'X-A' holds a CR, LF or NUL byte");
	assert_head_fails(r, "s", lf, "/",
	    "header 'X-Evil' holds a CR, LF or NUL byte");
	assert_head_fails(r, "s", dropped, "/",
	    "header 'Authorization' holds a CR, LF or NUL byte");
	assert_head_fails(r, "s", name, "/",
	    "header name 'X A' is not a token");
	assert_head_fails(r, "s", ok, "/a b",
	    "space or control byte in the path");
	assert_head_fails(r, "s", ok, "a",
	    "path does not start with '/'");
	proxy_http_head_free(cr);
	proxy_http_head_free(lf);
	proxy_http_head_free(dropped);
	proxy_http_head_free(name);
	proxy_http_head_free(ok);
	policy_route_free(r);
}

static void
test_inject_head_refuses_a_secret_that_splits_the_header(void **state)
{
	struct route		*r = hdr_route(NULL, NULL);
	struct how		 how = { .mode = INJECT_QUERY_PARAM,
				    .param = "key" };
	struct route		*q = mkroute("q", "https://api.example.com",
	    &how);
	struct http_head	*h = mkhead("GET", "/", NULL);
	char			*got;

	(void)state;
	assert_head_fails(r, "a\r\nX-Injected: 1", h, "/",
	    "the credential of route 'svc' holds a CR, LF or NUL byte");
	assert_head_fails(r, "a\nb", h, "/",
	    "the credential of route 'svc' holds a CR, LF or NUL byte");
	/* Percent-encoded, the same secret is harmless in a query. */
	got = head_of(q, "a\r\nb", h, "/", false);
	*strstr(got, "\r\n") = '\0';
	assert_string_equal(got, "GET /?key=a%0D%0Ab HTTP/1.1");
	free(got);
	proxy_http_head_free(h);
	policy_route_free(r);
	policy_route_free(q);
}

static void
test_inject_host_carries_only_a_non_default_port(void **state)
{
	struct how	 how = { .mode = INJECT_HEADER };
	struct route	*a = mkroute("a", "https://api.example.com:443/v1",
	    &how);
	struct route	*b = mkroute("b", "https://api.example.com:8443", &how);
	struct route	*c = mkroute("c", "http://127.0.0.1:80/x/", &how);
	struct route	*d = mkroute("d", "http://127.0.0.1:8080", &how);
	struct route	*v = mkroute("v", "http://[::1]:9000/api", &how);
	struct route	*w = mkroute("w", "https://[2001:db8::1]", &how);
	struct http_head *h = mkhead("GET", "/", "Host", "127.0.0.1:1", NULL);
	char		*got;
	size_t		 i;
	struct {
		struct route	*r;
		const char	*want;
	} t[] = {
		{ a, "GET /v1/x HTTP/1.1\r\nHost: api.example.com\r\n" },
		{ b, "GET /x HTTP/1.1\r\nHost: api.example.com:8443\r\n" },
		{ c, "GET /x/x HTTP/1.1\r\nHost: 127.0.0.1\r\n" },
		{ d, "GET /x HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n" },
		{ v, "GET /api/x HTTP/1.1\r\nHost: [::1]:9000\r\n" },
		{ w, "GET /x HTTP/1.1\r\nHost: [2001:db8::1]\r\n" },
	};

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		got = head_of(t[i].r, "s", h, "/x", false);
		got[strlen(t[i].want)] = '\0';
		assert_string_equal(got, t[i].want);
		free(got);
		policy_route_free(t[i].r);
	}
	proxy_http_head_free(h);
}

static void
test_inject_header_mode_follows_credential_format(void **state)
{
	struct route		*gh = hdr_route("Authorization", "token {}");
	struct route		*an = hdr_route("x-api-key", "{}");
	struct http_head	*h = mkhead("GET", "/", "Authorization",
	    "token " PHANTOM, NULL);
	char			*got;

	(void)state;
	got = head_of(gh, "ghp_real", h, "/user", false);
	assert_non_null(strstr(got, "\r\nAuthorization: token ghp_real\r\n"));
	assert_null(strstr(got, PHANTOM));
	free(got);
	got = head_of(an, "sk ant/real", h, "/user", false);
	assert_non_null(strstr(got, "\r\nx-api-key: sk ant/real\r\n"));
	/* The client's Authorization is credential-looking: dropped. */
	assert_null(strstr(got, PHANTOM));
	free(got);
	proxy_http_head_free(h);
	policy_route_free(gh);
	policy_route_free(an);
}

static void
test_inject_basic_auth_emits_base64_of_the_secret(void **state)
{
	struct how		 how = { .mode = INJECT_BASIC_AUTH,
				    .format = "ignored {}" };
	struct route		*r = mkroute("svc", "https://api.example.com",
	    &how);
	struct http_head	*h = mkhead("GET", "/", "Authorization",
	    PHANTOM, NULL);

	(void)state;
	assert_head(r, "user:pass word", h, "/",
	    "GET / HTTP/1.1\r\n"
	    "Host: api.example.com\r\n"
	    "Authorization: Basic dXNlcjpwYXNzIHdvcmQ=\r\n"
	    "Accept-Encoding: identity\r\n"
	    "Connection: keep-alive\r\n"
	    "\r\n");
	proxy_http_head_free(h);
	policy_route_free(r);
}

/* reverse.rs 100, 101, 102 */
static void
test_inject_url_path_token_span_gets_the_encoded_secret(void **state)
{
	struct how	 same = { .mode = INJECT_URL_PATH,
			    .pattern = "/bot/{}/" };
	struct how	 diff = { .mode = INJECT_URL_PATH,
			    .pattern = "/api/v1/{}/",
			    .replacement = "/v2/bot/{}/" };
	struct how	 end = { .mode = INJECT_URL_PATH,
			    .pattern = "/bot/{}" };
	struct route	*s = mkroute("tg", "https://api.telegram.org", &same);
	struct route	*d = mkroute("tg", "https://api.telegram.org", &diff);
	struct route	*e = mkroute("tg", "https://api.telegram.org/x", &end);
	struct http_head *h = mkhead("GET", "/", NULL);

	(void)state;
	assert_line(s, "real_token", "/bot/phantom_token/getMe",
	    "GET /bot/real_token/getMe HTTP/1.1");
	assert_line(s, "real_token", "/bot/phantom_token/getMe?a=1",
	    "GET /bot/real_token/getMe?a=1 HTTP/1.1");
	assert_line(d, "real_token", "/api/v1/phantom_token/chat",
	    "GET /v2/bot/real_token/chat HTTP/1.1");
	assert_line(e, "real_token", "/bot/phantom_token",
	    "GET /x/bot/real_token HTTP/1.1");
	assert_line(e, "real_token", "/bot/phantom_token?q=1",
	    "GET /x/bot/real_token?q=1 HTTP/1.1");
	/* '/', '?', '%', ':' and ' ' cannot reshape the URL. */
	assert_line(s, "12:a/b?c%d e", "/bot/p/getMe",
	    "GET /bot/12%3Aa%2Fb%3Fc%25d%20e/getMe HTTP/1.1");
	assert_head_fails(s, "real", h, "/api/getMe",
	    "path does not match path_pattern '/bot/{}/'");
	assert_head_fails(s, "real", h, "/bot/p",
	    "path does not match path_pattern '/bot/{}/'");
	proxy_http_head_free(h);
	policy_route_free(s);
	policy_route_free(d);
	policy_route_free(e);
}

/* reverse.rs 108-111 */
static void
test_inject_query_param_is_replaced_in_place_or_appended(void **state)
{
	struct how	 how = { .mode = INJECT_QUERY_PARAM,
			    .param = "api_key" };
	struct route	*r = mkroute("svc", "https://api.example.com", &how);

	(void)state;
	assert_line(r, "real_key", "/api/data",
	    "GET /api/data?api_key=real_key HTTP/1.1");
	assert_line(r, "real_key", "/api/data?other=value",
	    "GET /api/data?other=value&api_key=real_key HTTP/1.1");
	assert_line(r, "real_key", "/api/data?api_key=phantom&other=value",
	    "GET /api/data?api_key=real_key&other=value HTTP/1.1");
	assert_line(r, "real_key", "/a?x=1&api_key=p&y=2&api_key=q",
	    "GET /a?x=1&api_key=real_key&y=2&api_key=real_key HTTP/1.1");
	assert_line(r, "real_key", "/a?x=1&api_key",
	    "GET /a?x=1&api_key=real_key HTTP/1.1");
	assert_line(r, "real_key", "/a?", "GET /a?api_key=real_key HTTP/1.1");
	assert_line(r, "real_key", "/a?x=1&",
	    "GET /a?x=1&api_key=real_key HTTP/1.1");
	assert_line(r, "real_key", "/a?api_keyx=1&x_api_key=2",
	    "GET /a?api_keyx=1&x_api_key=2&api_key=real_key HTTP/1.1");
	assert_line(r, "key with spaces", "/api/data",
	    "GET /api/data?api_key=key%20with%20spaces HTTP/1.1");
	assert_line(r, "a&b=c#d", "/x?api_key=p",
	    "GET /x?api_key=a%26b%3Dc%23d HTTP/1.1");
	policy_route_free(r);
}

static void
test_inject_upgrade_sends_connection_upgrade(void **state)
{
	struct route		*r = hdr_route(NULL, NULL);
	struct http_head	*h = mkhead("GET", "/ws", "Connection",
	    "Upgrade", "Upgrade", "websocket", "Sec-WebSocket-Key", "k==",
	    NULL);
	char			*got;

	(void)state;
	got = head_of(r, "s", h, "/ws", true);
	assert_string_equal(got,
	    "GET /ws HTTP/1.1\r\n"
	    "Host: api.example.com\r\n"
	    "Sec-WebSocket-Key: k==\r\n"
	    "Authorization: Bearer s\r\n"
	    "Accept-Encoding: identity\r\n"
	    "Connection: upgrade\r\n"
	    "Upgrade: websocket\r\n"
	    "\r\n");
	free(got);
	proxy_http_head_free(h);
	policy_route_free(r);
}

static void
test_inject_redact_path_hides_query_values_and_path_token(void **state)
{
	struct how	 how = { .mode = INJECT_URL_PATH,
			    .pattern = "/bot/{}/" };
	struct route	*u = mkroute("tg", "https://api.telegram.org", &how);
	struct route	*h = hdr_route(NULL, NULL);

	(void)state;
	assert_redacted(h, "/v1/chat", "/v1/chat");
	assert_redacted(h, "/a?key=secret&x=1&flag&empty=",
	    "/a?key=REDACTED&x=REDACTED&flag&empty=");
	assert_redacted(NULL, "/a?k=v", "/a?k=REDACTED");
	assert_redacted(u, "/bot/" PHANTOM "/getMe?chat=5",
	    "/bot/REDACTED/getMe?chat=REDACTED");
	assert_redacted(u, "/other/x", "/other/x");
	assert_redacted(h, "/bot/" PHANTOM "/getMe", "/bot/" PHANTOM
	    "/getMe");
	policy_route_free(u);
	policy_route_free(h);
}

/* SPEC 4.12: github covers github.com for git, Basic x-access-token. */
static void
test_inject_github_host_gets_basic_x_access_token(void **state)
{
	const struct route_def	*d;
	struct route		*r;
	struct errbuf		 e;
	struct http_head	*h;
	char			*out;

	(void)state;
	d = policy_netpolicy_credential(policy_netpolicy_builtin(), "github");
	assert_non_null(d);
	r = policy_route_new(d, &e);
	assert_non_null(r);
	assert_int_equal(r->nextra, 1);
	assert_string_equal(r->extra[0]->up_host, "github.com");
	assert_int_equal(r->extra[0]->up_port, 443);
	assert_string_equal(r->extra[0]->up_path, "");
	assert_true(r->extra[0]->is_host);
	h = mkhead("GET", "/o/r.git/info/refs", "Authorization",
	    "Basic eC1hY2Nlc3MtdG9rZW46cGhhbnRvbQ==", NULL);
	out = head_of(r->extra[0], "s3cret", h, "/o/r.git/info/refs", false);
	/* base64("x-access-token:s3cret"); the client's Basic is gone. */
	assert_non_null(strstr(out, "\r\nAuthorization: Basic "
	    "eC1hY2Nlc3MtdG9rZW46czNjcmV0\r\n"));
	assert_null(strstr(out, "cGhhbnRvbQ"));
	assert_non_null(strstr(out, "\r\nHost: github.com\r\n"));
	free(out);
	proxy_http_head_free(h);
	policy_route_free(r);
	/* gitlab: user oauth2. */
	d = policy_netpolicy_credential(policy_netpolicy_builtin(), "gitlab");
	r = policy_route_new(d, &e);
	assert_non_null(r);
	assert_string_equal(r->extra[0]->up_host, "gitlab.com");
	assert_string_equal(r->extra[0]->def->credential_format, "oauth2:{}");
	policy_route_free(r);
}

static void
test_inject_host_mode_must_be_header_or_basic(void **state)
{
	struct route_def	*d = policy_route_def_new("x");
	struct errbuf		 e;

	(void)state;
	errbuf_clear(&e);
	assert_int_equal(policy_route_def_add_host(d, "a.example", "url_path",
	    NULL, NULL, &e), -1);
	assert_string_equal(errbuf_msg(&e), "hosts: inject_mode 'url_path': "
	    "a host takes header or basic_auth");
	policy_route_def_free(d);
}

/*
 * Interception finds the phantom in any credential-looking header, all
 * of which are dropped before the upstream: the route's own credential
 * replaces it (python-gitlab's PRIVATE-TOKEN towards a Bearer route).
 */
static void
test_inject_find_phantom_in_any_credential_header(void **state)
{
	struct route	*r = hdr_route("Authorization", "Bearer {}");
	struct http_head *h;
	size_t		 i;
	static const char *const names[] = { "PRIVATE-TOKEN", "x-api-key",
	    "X-Goog-Api-Key", "Authorization" };

	(void)state;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		h = mkhead("GET", "/x", names[i], PHANTOM, NULL);
		assert_true(find(r, h));
		proxy_http_head_free(h);
		h = mkhead("GET", "/x", names[i], "not-it", NULL);
		assert_false(find(r, h));
		proxy_http_head_free(h);
	}
	/* Elsewhere it is not read: another header, or only a prefix. */
	h = mkhead("GET", "/x", "X-Auth-Token", PHANTOM, NULL);
	assert_false(find(r, h));
	proxy_http_head_free(h);
	h = mkhead("GET", "/x", "x-api-key", PHANTOM "x", NULL);
	assert_false(find(r, h));
	proxy_http_head_free(h);
	policy_route_free(r);
}

int
main(void)
{
#define T(f)	cmocka_unit_test(f)
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_inject_find_phantom_in_any_credential_header),
		T(test_inject_bearer_phantom_is_accepted_and_wrong_one_is_not),
		T(test_inject_github_host_gets_basic_x_access_token),
		T(test_inject_host_mode_must_be_header_or_basic),
		T(test_inject_raw_phantom_is_accepted_in_api_key_headers),
		T(test_inject_header_name_is_case_insensitive_and_required),
		T(test_inject_bearer_scheme_any_case_one_or_more_spaces),
		T(test_inject_token_prefix_of_github_format_is_accepted),
		T(test_inject_first_inject_header_decides),
		T(test_inject_basic_auth_takes_raw_or_bearer_phantom_only),
		T(test_inject_url_path_phantom_is_checked_anchored),
		T(test_inject_query_phantom_is_decoded_and_first_one_decides),
		T(test_inject_head_drops_host_and_authorization_keeps_order),
		T(test_inject_asks_identity_unless_compressed_responses),
		T(test_inject_head_drops_every_credential_looking_header),
		T(test_inject_head_drops_method_override_headers),
		T(test_inject_head_drops_hop_by_hop_and_keeps_framing),
		T(test_inject_head_refuses_cr_or_lf_in_a_header_value),
		T(test_inject_head_refuses_a_secret_that_splits_the_header),
		T(test_inject_host_carries_only_a_non_default_port),
		T(test_inject_header_mode_follows_credential_format),
		T(test_inject_basic_auth_emits_base64_of_the_secret),
		T(test_inject_url_path_token_span_gets_the_encoded_secret),
		T(test_inject_query_param_is_replaced_in_place_or_appended),
		T(test_inject_upgrade_sends_connection_upgrade),
		T(test_inject_redact_path_hides_query_values_and_path_token),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
