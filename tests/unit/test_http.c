#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "proxy/http.h"

#define LINE_MAX_T	8192
#define HEAD_MAX_T	65536

/* Assert that haystack contains needle, printing both when it does not. */
static void
assert_contains(const char *haystack, const char *needle)
{
	if (strstr(haystack, needle) == NULL)
		fail_msg("\"%s\" does not contain \"%s\"", haystack, needle);
}

/* Feed len bytes of s to a fresh request parser in one go. */
static enum http_result
feed(struct http_msg *m, struct evbuffer *in, enum http_parser_type type,
    const char *s, size_t len)
{
	proxy_http_msg_init(m, type, LINE_MAX_T, HEAD_MAX_T);
	assert_int_equal(evbuffer_add(in, s, len), 0);
	return proxy_http_read_head(m, in);
}

/* A whole request head that must parse; the caller frees m and in. */
static void
parse_ok(struct http_msg *m, struct evbuffer *in, const char *s)
{
	enum http_result	r;

	r = feed(m, in, HTTP_REQUEST, s, strlen(s));
	if (r != HTTP_DONE)
		fail_msg("\"%s\": %d %d %s", s, r, m->bad_status,
		    m->bad_reason);
}

/*
 * The malformed-head table (STYLE §10): every entry is BAD with exactly
 * that status and reason, and nothing is drained from the buffer.
 */
struct bad_case {
	const char	*what;
	const char	*in;
	size_t		 len;		/* 0: strlen(in) */
	int		 status;
	const char	*reason;
};

/* Reasons worded by http_parser, behind our "malformed head: " prefix. */
#define CLDUP	"malformed head: unexpected content-length header"
#define BADTE	"malformed head: request has invalid transfer-encoding"
#define BADCL	"malformed head: invalid character in content-length header"
#define BADCHAR	"malformed head: invalid character in header"
#define BADURL	"malformed head: invalid URL"
#define BADMETHOD "malformed head: invalid HTTP method"

#define C(w, s, st, r)		{ w, s, 0, st, r }
#define CN(w, s, st, r)		{ w, s, sizeof(s) - 1, st, r }

static const struct bad_case bad_cases[] = {
	C("bare LF after request line",
	    "GET / HTTP/1.1\nHost: a\r\n\r\n", 400, "bare LF in the head"),
	C("bare LF after a header",
	    "GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n", 400, "bare LF in the head"),
	C("bare CR inside a header value",
	    "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", 400, "bare CR in the head"),
	C("bare CR as line end",
	    "GET / HTTP/1.1\r\nHost: a\r\rX: y\r\n\r\n", 400, "bare CR in the head"),
	C("obs-fold with space",
	    "GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n z\r\n\r\n", 400,
	    "obsolete line folding in the head"),
	C("obs-fold with tab",
	    "GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n\tz\r\n\r\n", 400,
	    "obsolete line folding in the head"),
	CN("NUL in a header value",
	    "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n", 400,
	    "NUL byte in the head"),
	CN("NUL in the target",
	    "GET /a\0b HTTP/1.1\r\nHost: a\r\n\r\n", 400, "NUL byte in the head"),
	C("two Host headers",
	    "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400,
	    "more than one Host header"),
	C("two Host headers differing in case",
	    "GET / HTTP/1.1\r\nHost: a\r\nhOST: a\r\n\r\n", 400,
	    "more than one Host header"),
	C("two Content-Length headers",
	    "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n"
	    "Content-Length: 2\r\n\r\n", 400, CLDUP),
	C("two equal Content-Length headers",
	    "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n"
	    "Content-Length: 1\r\n\r\n", 400, CLDUP),
	C("Content-Length and Transfer-Encoding",
	    "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n", 400, CLDUP),
	C("Transfer-Encoding and Content-Length",
	    "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
	    "Content-Length: 1\r\n\r\n", 400, CLDUP),
	C("Transfer-Encoding gzip",
	    "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
	    400, BADTE),
	C("Transfer-Encoding gzip, chunked",
	    "POST / HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding: gzip, chunked\r\n\r\n", 400,
	    "unsupported Transfer-Encoding"),
	C("Transfer-Encoding chunked, gzip",
	    "POST / HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding: chunked, gzip\r\n\r\n", 400,
	    BADTE),
	C("two Transfer-Encoding headers",
	    "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n", 400,
	    "more than one Transfer-Encoding header"),
	C("Content-Length with a sign",
	    "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\n", 400,
	    BADCL),
	C("Content-Length in hex",
	    "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n",
	    400, BADCL),
	C("space inside a header name",
	    "GET / HTTP/1.1\r\nHost: a\r\nBad Name: v\r\n\r\n", 400,
	    "invalid header name"),
	C("space before the colon",
	    "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400,
	    "invalid header name"),
	C("at sign in a header name",
	    "GET / HTTP/1.1\r\nHost: a\r\nBad@Name: v\r\n\r\n", 400,
	    BADCHAR),
	C("empty header name",
	    "GET / HTTP/1.1\r\nHost: a\r\n: v\r\n\r\n", 400, BADCHAR),
	C("control byte in a header value",
	    "GET / HTTP/1.1\r\nHost: a\r\nX: a\001b\r\n\r\n", 400,
	    BADCHAR),
	C("escape byte in a header value",
	    "GET / HTTP/1.1\r\nHost: a\r\nX: \033[31m\r\n\r\n", 400,
	    "control byte in a header value"),
	C("DEL in a header value",
	    "GET / HTTP/1.1\r\nHost: a\r\nX: a\177b\r\n\r\n", 400,
	    BADCHAR),
	C("empty target",
	    "GET  HTTP/1.1\r\nHost: a\r\n\r\n", 400, BADURL),
	C("no target at all",
	    "GET HTTP/1.1\r\nHost: a\r\n\r\n", 400, BADURL),
	C("HTTP/2.0",
	    "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505,
	    "unsupported HTTP version"),
	C("HTTP/1.2",
	    "GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505,
	    "unsupported HTTP version"),
	C("HTTP/0.9 style version",
	    "GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505,
	    "unsupported HTTP version"),
	C("not HTTP at all",
	    "HELLO WORLD\r\n\r\n", 400, BADMETHOD),
	C("unknown method",
	    "FROB / HTTP/1.1\r\nHost: a\r\n\r\n", 400, BADMETHOD),
	C("lower-case method",
	    "get / HTTP/1.1\r\nHost: a\r\n\r\n", 400, BADMETHOD),
	C("TLS-looking bytes to the plain listener",
	    "\x16\x03\x01\x02\x05\x01\x07\x01\xfc\x03\x03\r\n\r\n", 400,
	    BADMETHOD),
	CN("a TLS ClientHello prefix with NUL bytes",
	    "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400,
	    "NUL byte in the head"),
};

static void
test_http_rejects_malformed_heads(void **state)
{
	size_t	i, failed = 0;

	(void)state;
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case	*c = &bad_cases[i];
		struct http_msg		 m;
		struct evbuffer		*in = evbuffer_new();
		size_t			 len = c->len ? c->len : strlen(c->in);
		enum http_result	 r;

		r = feed(&m, in, HTTP_REQUEST, c->in, len);
		if (r != HTTP_BAD || m.bad_status != c->status ||
		    strcmp(m.bad_reason, c->reason) != 0) {
			print_error("%s: got %d %d \"%s\", want BAD %d "
			    "\"%s\"\n", c->what, r, m.bad_status,
			    m.bad_reason, c->status, c->reason);
			failed++;
		}
		/* A bad head is never drained: nothing is forwarded. */
		if (r == HTTP_BAD && evbuffer_get_length(in) != len) {
			print_error("%s: drained\n", c->what);
			failed++;
		}
		proxy_http_msg_free(&m);
		evbuffer_free(in);
	}
	assert_int_equal(failed, 0);
}

/* One BAD request head: status and exact reason. */
static void
assert_bad(const char *s, size_t len, int status, const char *reason)
{
	struct http_msg		 m;
	struct evbuffer		*in = evbuffer_new();

	assert_int_equal(feed(&m, in, HTTP_REQUEST, s, len), HTTP_BAD);
	assert_int_equal(m.bad_status, status);
	assert_string_equal(m.bad_reason, reason);
	proxy_http_msg_free(&m);
	evbuffer_free(in);
}

#define BAD(s, st, r)	assert_bad(s, sizeof(s) - 1, st, r)

static void
test_http_rejects_bare_lf_in_head(void **state)
{
	(void)state;
	BAD("GET / HTTP/1.1\nHost: a\r\n\r\n", 400, "bare LF in the head");
}

static void
test_http_never_accepts_bare_lf_only_head(void **state)
{
	struct http_msg		 m;
	struct evbuffer		*in = evbuffer_new();
	const char		*s = "GET / HTTP/1.1\nHost: a\n\n";
	enum http_result	 r;

	(void)state;
	/* No CRLF CRLF at all: a head of bare LFs is never DONE. */
	r = feed(&m, in, HTTP_REQUEST, s, strlen(s));
	assert_int_not_equal(r, HTTP_DONE);
	proxy_http_msg_free(&m);
	evbuffer_free(in);
}

static void
test_http_rejects_bare_cr_in_head(void **state)
{
	(void)state;
	BAD("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", 400,
	    "bare CR in the head");
}

static void
test_http_rejects_obs_fold(void **state)
{
	(void)state;
	BAD("GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n z\r\n\r\n", 400,
	    "obsolete line folding in the head");
}

static void
test_http_rejects_nul_in_head(void **state)
{
	(void)state;
	BAD("GET / HTTP/1.1\r\nHost: a\0\r\n\r\n", 400, "NUL byte in the head");
}

static void
test_http_rejects_second_host(void **state)
{
	(void)state;
	BAD("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400,
	    "more than one Host header");
}

static void
test_http_rejects_transfer_encoding_gzip_chunked(void **state)
{
	(void)state;
	BAD("POST / HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding: gzip, chunked\r\n\r\n", 400,
	    "unsupported Transfer-Encoding");
}

static void
test_http_rejects_http2_version_with_505(void **state)
{
	(void)state;
	BAD("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505,
	    "unsupported HTTP version");
}

static void
test_http_response_with_bad_version_is_502(void **state)
{
	struct http_msg		 m;
	struct evbuffer		*in = evbuffer_new();
	const char		*s = "HTTP/2.0 200 OK\r\n\r\n";

	(void)state;
	assert_int_equal(feed(&m, in, HTTP_RESPONSE, s, strlen(s)), HTTP_BAD);
	assert_int_equal(m.bad_status, 502);
	assert_string_equal(m.bad_reason, "unsupported HTTP version");
	proxy_http_msg_free(&m);
	evbuffer_free(in);
}

static void
test_http_accepts_simple_get(void **state)
{
	struct http_msg		 m;
	struct evbuffer		*in = evbuffer_new();
	const char		*s = "GET /a?b=c HTTP/1.1\r\nHost: x.example\r\n"
	    "X-Pad:   spaced value \t\r\n\r\n";

	(void)state;
	parse_ok(&m, in, s);
	assert_string_equal(m.head->method, "GET");
	assert_string_equal(m.head->target, "/a?b=c");
	assert_int_equal(m.head->major, 1);
	assert_int_equal(m.head->minor, 1);
	assert_int_equal(m.head->nh, 2);
	assert_string_equal(m.head->h[0].name, "Host");
	assert_string_equal(m.head->h[0].value, "x.example");
	assert_string_equal(m.head->h[1].name, "X-Pad");
	assert_string_equal(m.head->h[1].value, "spaced value");
	assert_int_equal(m.head->raw_len, strlen(s));
	assert_true(m.head_done);
	assert_true(m.msg_done);	/* no body */
	assert_true(m.keep_alive);
	assert_int_equal(evbuffer_get_length(in), 0);
	proxy_http_msg_free(&m);
	evbuffer_free(in);
}

static void
test_http_accepts_http10_without_keep_alive(void **state)
{
	struct http_msg		 m;
	struct evbuffer		*in = evbuffer_new();

	(void)state;
	parse_ok(&m, in, "GET http://a/ HTTP/1.0\r\n\r\n");
	assert_int_equal(m.head->minor, 0);
	assert_string_equal(m.head->target, "http://a/");
	assert_false(m.keep_alive);
	proxy_http_msg_free(&m);
	evbuffer_free(in);
}

static void
test_http_accepts_empty_header_value(void **state)
{
	struct http_msg		 m;
	struct evbuffer		*in = evbuffer_new();

	(void)state;
	parse_ok(&m, in, "GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\n\r\n");
	assert_int_equal(m.head->nh, 2);
	assert_string_equal(proxy_http_header(m.head, "x-empty"), "");
	proxy_http_msg_free(&m);
	evbuffer_free(in);
}

static void
test_http_accepts_tab_in_header_value(void **state)
{
	struct http_msg		 m;
	struct evbuffer		*in = evbuffer_new();

	(void)state;
	parse_ok(&m, in, "GET / HTTP/1.1\r\nHost: a\r\nX: a\tb\r\n\r\n");
	assert_string_equal(proxy_http_header(m.head, "X"), "a\tb");
	proxy_http_msg_free(&m);
	evbuffer_free(in);
}

static void
test_http_request_line_too_long_is_414(void **state)
{
	struct http_msg		 m;
	struct evbuffer		*in = evbuffer_new();
	char			*s;
	size_t			 n = 200;

	(void)state;
	/* Line of n bytes + CRLF, with a line_max below n. */
	s = malloc(n + 32);
	memcpy(s, "GET /", 5);
	memset(s + 5, 'a', n - 5 - 9);
	memcpy(s + n - 9, " HTTP/1.1", 9);
	memcpy(s + n, "\r\nHost: a\r\n\r\n", 14);
	proxy_http_msg_init(&m, HTTP_REQUEST, 100, HEAD_MAX_T);
	evbuffer_add(in, s, n + 14);
	assert_int_equal(proxy_http_read_head(&m, in), HTTP_BAD);
	assert_int_equal(m.bad_status, 414);
	assert_string_equal(m.bad_reason, "request line too long");
	proxy_http_msg_free(&m);
	evbuffer_free(in);
	free(s);
}

static void
test_http_request_line_too_long_without_crlf_is_414(void **state)
{
	struct http_msg		 m;
	struct evbuffer		*in = evbuffer_new();
	char			 s[101];

	(void)state;
	/* 101 bytes of an unfinished request line, line_max 100. */
	memcpy(s, "GET /", 5);
	memset(s + 5, 'a', sizeof(s) - 5);
	proxy_http_msg_init(&m, HTTP_REQUEST, 100, HEAD_MAX_T);
	evbuffer_add(in, s, sizeof(s));
	assert_int_equal(proxy_http_read_head(&m, in), HTTP_BAD);
	assert_int_equal(m.bad_status, 414);
	assert_string_equal(m.bad_reason, "request line too long");
	proxy_http_msg_free(&m);
	evbuffer_free(in);
}

static void
test_http_request_line_at_line_max_is_accepted(void **state)
{
	struct http_msg		 m;
	struct evbuffer		*in = evbuffer_new();
	char			 s[100 + 14];

	(void)state;
	/* Exactly line_max bytes before the CRLF. */
	memcpy(s, "GET /", 5);
	memset(s + 5, 'a', 100 - 5 - 9);
	memcpy(s + 100 - 9, " HTTP/1.1", 9);
	memcpy(s + 100, "\r\nHost: a\r\n\r\n", 14);
	proxy_http_msg_init(&m, HTTP_REQUEST, 100, HEAD_MAX_T);
	evbuffer_add(in, s, sizeof(s));
	assert_int_equal(proxy_http_read_head(&m, in), HTTP_DONE);
	assert_int_equal(strlen(m.head->target), 100 - 4 - 9);
	proxy_http_msg_free(&m);
	evbuffer_free(in);
}

static void
test_http_long_header_line_is_not_414(void **state)
{
	struct http_msg		 m;
	struct evbuffer		*in = evbuffer_new();
	char			 v[300];

	(void)state;
	/* line_max bounds the request line, not every header line. */
	memset(v, 'v', sizeof(v) - 1);
	v[sizeof(v) - 1] = '\0';
	proxy_http_msg_init(&m, HTTP_REQUEST, 100, HEAD_MAX_T);
	evbuffer_add_printf(in, "GET / HTTP/1.1\r\nHost: a\r\nX: %s\r\n\r\n",
	    v);
	assert_int_equal(proxy_http_read_head(&m, in), HTTP_DONE);
	assert_string_equal(proxy_http_header(m.head, "X"), v);
	proxy_http_msg_free(&m);
	evbuffer_free(in);
}

static void
test_http_head_too_large_is_431(void **state)
{
	struct http_msg		 m;
	struct evbuffer		*in = evbuffer_new();
	int			 i;

	(void)state;
	proxy_http_msg_init(&m, HTTP_REQUEST, 100, 1024);
	evbuffer_add_printf(in, "GET / HTTP/1.1\r\nHost: a\r\n");
	for (i = 0; i < 40; i++)
		evbuffer_add_printf(in, "X-%02d: %040d\r\n", i, i);
	evbuffer_add_printf(in, "\r\n");
	assert_int_equal(proxy_http_read_head(&m, in), HTTP_BAD);
	assert_int_equal(m.bad_status, 431);
	assert_string_equal(m.bad_reason, "head too large");
	proxy_http_msg_free(&m);
	evbuffer_free(in);
}

static void
test_http_unfinished_head_over_head_max_is_431(void **state)
{
	struct http_msg		 m;
	struct evbuffer		*in = evbuffer_new();
	int			 i;

	(void)state;
	/* No blank line yet, but already over head_max: stop reading. */
	proxy_http_msg_init(&m, HTTP_REQUEST, 100, 1024);
	evbuffer_add_printf(in, "GET / HTTP/1.1\r\nHost: a\r\n");
	for (i = 0; i < 40; i++)
		evbuffer_add_printf(in, "X-%02d: %040d\r\n", i, i);
	assert_int_equal(proxy_http_read_head(&m, in), HTTP_BAD);
	assert_int_equal(m.bad_status, 431);
	assert_string_equal(m.bad_reason, "head too large");
	proxy_http_msg_free(&m);
	evbuffer_free(in);
}

static void
test_http_response_head_too_large_is_502(void **state)
{
	struct http_msg		 m;
	struct evbuffer		*in = evbuffer_new();
	int			 i;

	(void)state;
	proxy_http_msg_init(&m, HTTP_RESPONSE, 100, 512);
	evbuffer_add_printf(in, "HTTP/1.1 200 OK\r\n");
	for (i = 0; i < 20; i++)
		evbuffer_add_printf(in, "X-%02d: %040d\r\n", i, i);
	evbuffer_add_printf(in, "\r\n");
	assert_int_equal(proxy_http_read_head(&m, in), HTTP_BAD);
	assert_int_equal(m.bad_status, 502);
	assert_string_equal(m.bad_reason, "head too large");
	proxy_http_msg_free(&m);
	evbuffer_free(in);
}

/* Feed s in pieces of step bytes; DONE must come once, at the last piece. */
static void
feed_split(const char *s, size_t step)
{
	struct http_msg		 m;
	struct evbuffer		*in = evbuffer_new();
	size_t			 len = strlen(s), off, n, done = 0;
	enum http_result	 r, want;
	char			 err[256] = "";

	proxy_http_msg_init(&m, HTTP_REQUEST, LINE_MAX_T, HEAD_MAX_T);
	for (off = 0; off < len; off += n) {
		n = len - off < step ? len - off : step;
		evbuffer_add(in, s + off, n);
		r = proxy_http_read_head(&m, in);
		want = off + n < len ? HTTP_MORE : HTTP_DONE;
		if (r != want) {
			snprintf(err, sizeof(err), "step %zu at %zu/%zu: got "
			    "%d %d \"%s\", want %d", step, off + n, len, r,
			    m.bad_status, m.bad_reason, want);
			break;
		}
		if (r == HTTP_DONE)
			done++;
	}
	if (err[0] != '\0') {
		/* Free first: fail_msg does not return. */
		proxy_http_msg_free(&m);
		evbuffer_free(in);
		fail_msg("%s", err);
	}
	assert_int_equal(done, 1);
	assert_string_equal(m.head->method, "POST");
	assert_string_equal(m.head->target, "/upload");
	assert_int_equal(m.head->nh, 3);
	assert_string_equal(proxy_http_header(m.head, "host"), "a.example");
	assert_string_equal(proxy_http_header(m.head, "x-long"),
	    "0123456789abcdef");
	assert_true(m.has_length);
	assert_int_equal(m.length, 5);
	assert_int_equal(m.head->raw_len, len);
	assert_int_equal(evbuffer_get_length(in), 0);
	proxy_http_msg_free(&m);
	evbuffer_free(in);
}

static const char split_head[] =
    "POST /upload HTTP/1.1\r\nHost: a.example\r\n"
    "X-Long: 0123456789abcdef\r\nContent-Length: 5\r\n\r\n";

static void
test_http_head_split_in_small_pieces_is_more_then_done_once(void **state)
{
	size_t	step;

	(void)state;
	for (step = 1; step < sizeof(split_head); step++)
		feed_split(split_head, step);
}

/*
 * The first read of a slow client: a request line still arriving, well
 * under line_max, is MORE (regression: an unfinished first line without
 * CRLF was answered 414).
 */
static void
test_http_partial_request_line_is_more(void **state)
{
	struct http_msg		 m;
	struct evbuffer		*in = evbuffer_new();
	enum http_result	 r;
	int			 st;

	(void)state;
	proxy_http_msg_init(&m, HTTP_REQUEST, LINE_MAX_T, HEAD_MAX_T);
	evbuffer_add(in, "GET / HT", 8);
	r = proxy_http_read_head(&m, in);
	st = m.bad_status;
	proxy_http_msg_free(&m);
	evbuffer_free(in);
	assert_int_equal(st, 0);
	assert_int_equal(r, HTTP_MORE);
}

static void
test_http_split_crlfcrlf_across_additions_is_found(void **state)
{
	struct http_msg		 m;
	struct evbuffer		*in = evbuffer_new();
	const char		*a = "GET / HTTP/1.1\r\nHost: a\r\n\r";

	(void)state;
	proxy_http_msg_init(&m, HTTP_REQUEST, LINE_MAX_T, HEAD_MAX_T);
	evbuffer_add(in, a, strlen(a));
	assert_int_equal(proxy_http_read_head(&m, in), HTTP_MORE);
	evbuffer_add(in, "\n", 1);
	assert_int_equal(proxy_http_read_head(&m, in), HTTP_DONE);
	assert_string_equal(proxy_http_header(m.head, "Host"), "a");
	proxy_http_msg_free(&m);
	evbuffer_free(in);
}

static void
test_http_empty_buffer_is_more(void **state)
{
	struct http_msg		 m;
	struct evbuffer		*in = evbuffer_new();

	(void)state;
	proxy_http_msg_init(&m, HTTP_REQUEST, LINE_MAX_T, HEAD_MAX_T);
	assert_int_equal(proxy_http_read_head(&m, in), HTTP_MORE);
	proxy_http_msg_free(&m);
	evbuffer_free(in);
}

static void
test_http_connect_leaves_early_bytes_in_buffer(void **state)
{
	struct http_msg		 m;
	struct evbuffer		*in = evbuffer_new();
	const char		 early[] = "\x16\x03\x01\x00\x05hello";
	unsigned char		 got[sizeof(early)];

	(void)state;
	proxy_http_msg_init(&m, HTTP_REQUEST, LINE_MAX_T, HEAD_MAX_T);
	evbuffer_add_printf(in, "CONNECT a.example:443 HTTP/1.1\r\n"
	    "Host: a.example:443\r\n\r\n");
	evbuffer_add(in, early, sizeof(early) - 1);
	assert_int_equal(proxy_http_read_head(&m, in), HTTP_DONE);
	assert_string_equal(m.head->method, "CONNECT");
	assert_string_equal(m.head->target, "a.example:443");
	assert_true(m.upgrade);
	assert_int_equal(evbuffer_get_length(in), sizeof(early) - 1);
	assert_int_equal(evbuffer_copyout(in, got, sizeof(got)),
	    sizeof(early) - 1);
	assert_memory_equal(got, early, sizeof(early) - 1);
	proxy_http_msg_free(&m);
	evbuffer_free(in);
}

static void
test_http_connect_ipv6_target(void **state)
{
	struct http_msg		 m;
	struct evbuffer		*in = evbuffer_new();

	(void)state;
	parse_ok(&m, in, "CONNECT [::1]:8443 HTTP/1.1\r\nHost: [::1]:8443"
	    "\r\n\r\n");
	assert_string_equal(m.head->target, "[::1]:8443");
	assert_true(m.upgrade);
	proxy_http_msg_free(&m);
	evbuffer_free(in);
}

static void
test_http_pipelined_get_leaves_next_request(void **state)
{
	struct http_msg		 m;
	struct evbuffer		*in = evbuffer_new();
	const char		*next = "GET /2 HTTP/1.1\r\nHost: a\r\n\r\n";

	(void)state;
	proxy_http_msg_init(&m, HTTP_REQUEST, LINE_MAX_T, HEAD_MAX_T);
	evbuffer_add_printf(in, "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n%s", next);
	assert_int_equal(proxy_http_read_head(&m, in), HTTP_DONE);
	assert_string_equal(m.head->target, "/1");
	assert_true(m.msg_done);
	assert_int_equal(evbuffer_get_length(in), strlen(next));
	proxy_http_msg_reset(&m);
	assert_int_equal(proxy_http_read_head(&m, in), HTTP_DONE);
	assert_string_equal(m.head->target, "/2");
	assert_int_equal(evbuffer_get_length(in), 0);
	proxy_http_msg_free(&m);
	evbuffer_free(in);
}

static void
test_http_scan_body_content_length_counts_exactly(void **state)
{
	struct http_msg		 m;
	struct evbuffer		*in = evbuffer_new();
	const char		*next = "GET /n HTTP/1.1\r\nHost: a\r\n\r\n";
	char			 body[64];
	size_t			 used;

	(void)state;
	parse_ok(&m, in, "POST / HTTP/1.1\r\nHost: a\r\n"
	    "Content-Length: 10\r\n\r\n");
	assert_true(m.has_length);
	assert_false(m.chunked);
	assert_int_equal(m.length, 10);
	assert_false(m.msg_done);
	/* 4 bytes: MORE, all used. */
	assert_int_equal(proxy_http_scan_body(&m, "0123", 4, &used),
	    HTTP_MORE);
	assert_int_equal(used, 4);
	/* The other 6 and a pipelined request: DONE, 6 used. */
	snprintf(body, sizeof(body), "456789%s", next);
	assert_int_equal(proxy_http_scan_body(&m, body, strlen(body), &used),
	    HTTP_DONE);
	assert_int_equal(used, 6);
	assert_int_equal(m.body_bytes, 10);
	assert_true(m.msg_done);
	/* Once done, nothing more belongs to this message. */
	assert_int_equal(proxy_http_scan_body(&m, next, strlen(next), &used),
	    HTTP_DONE);
	assert_int_equal(used, 0);
	/* The leftover is the next request. */
	proxy_http_msg_reset(&m);
	evbuffer_add(in, body + 6, strlen(body + 6));
	assert_int_equal(proxy_http_read_head(&m, in), HTTP_DONE);
	assert_string_equal(m.head->target, "/n");
	proxy_http_msg_free(&m);
	evbuffer_free(in);
}

static void
test_http_scan_body_zero_content_length_is_done_at_head(void **state)
{
	struct http_msg		 m;
	struct evbuffer		*in = evbuffer_new();
	size_t			 used = 99;

	(void)state;
	parse_ok(&m, in, "POST / HTTP/1.1\r\nHost: a\r\n"
	    "Content-Length: 0\r\n\r\n");
	assert_true(m.msg_done);
	assert_int_equal(proxy_http_scan_body(&m, "GET", 3, &used), HTTP_DONE);
	assert_int_equal(used, 0);
	proxy_http_msg_free(&m);
	evbuffer_free(in);
}

static void
test_http_scan_body_chunked_counts_exactly(void **state)
{
	struct http_msg		 m;
	struct evbuffer		*in = evbuffer_new();
	const char		*c1 = "5\r\nhel";
	const char		*c2 = "lo\r\n1a\r\n";
	const char		*c3 = "abcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n";
	const char		*next = "GET /n HTTP/1.1\r\nHost: a\r\n\r\n";
	char			 buf[256];
	size_t			 used;

	(void)state;
	parse_ok(&m, in, "POST / HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n");
	assert_true(m.chunked);
	assert_false(m.has_length);
	assert_int_equal(proxy_http_scan_body(&m, c1, strlen(c1), &used),
	    HTTP_MORE);
	assert_int_equal(used, strlen(c1));
	assert_int_equal(proxy_http_scan_body(&m, c2, strlen(c2), &used),
	    HTTP_MORE);
	assert_int_equal(used, strlen(c2));
	snprintf(buf, sizeof(buf), "%s%s", c3, next);
	assert_int_equal(proxy_http_scan_body(&m, buf, strlen(buf), &used),
	    HTTP_DONE);
	assert_int_equal(used, strlen(c3));
	assert_int_equal(m.body_bytes, 5 + 26);
	assert_string_equal(buf + used, next);
	proxy_http_msg_free(&m);
	evbuffer_free(in);
}

static void
test_http_scan_body_chunked_with_trailer(void **state)
{
	struct http_msg		 m;
	struct evbuffer		*in = evbuffer_new();
	const char		*b = "3\r\nabc\r\n0\r\nX-Sum: 1\r\n\r\nNEXT";
	size_t			 used;

	(void)state;
	parse_ok(&m, in, "POST / HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n");
	assert_int_equal(proxy_http_scan_body(&m, b, strlen(b), &used),
	    HTTP_DONE);
	assert_int_equal(used, strlen(b) - 4);
	assert_int_equal(m.body_bytes, 3);
	proxy_http_msg_free(&m);
	evbuffer_free(in);
}

static void
test_http_scan_body_chunked_bytewise(void **state)
{
	struct http_msg		 m;
	struct evbuffer		*in = evbuffer_new();
	const char		*b = "3\r\nabc\r\n10\r\n0123456789abcdef\r\n"
	    "0\r\n\r\n";
	size_t			 i, used, len = strlen(b);

	(void)state;
	parse_ok(&m, in, "POST / HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n");
	for (i = 0; i + 1 < len; i++) {
		assert_int_equal(proxy_http_scan_body(&m, b + i, 1, &used),
		    HTTP_MORE);
		assert_int_equal(used, 1);
	}
	assert_int_equal(proxy_http_scan_body(&m, b + i, 1, &used), HTTP_DONE);
	assert_int_equal(used, 1);
	assert_int_equal(m.body_bytes, 3 + 16);
	proxy_http_msg_free(&m);
	evbuffer_free(in);
}

/* A chunked body that must be BAD with a "malformed body" reason. */
static void
assert_bad_chunks(const char *b)
{
	struct http_msg		 m;
	struct evbuffer		*in = evbuffer_new();
	size_t			 used;

	parse_ok(&m, in, "POST / HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n");
	if (proxy_http_scan_body(&m, b, strlen(b), &used) != HTTP_BAD)
		fail_msg("chunked body \"%s\" was not BAD", b);
	assert_int_equal(m.bad_status, 400);
	assert_contains(m.bad_reason, "malformed body: ");
	proxy_http_msg_free(&m);
	evbuffer_free(in);
}

static void
test_http_scan_body_bad_chunk_size_is_bad(void **state)
{
	(void)state;
	assert_bad_chunks("zz\r\nabc\r\n0\r\n\r\n");
	assert_bad_chunks("-5\r\nhello\r\n0\r\n\r\n");
	assert_bad_chunks("+5\r\nhello\r\n0\r\n\r\n");
	assert_bad_chunks("\r\nhello\r\n0\r\n\r\n");
	assert_bad_chunks("fffffffffffffffffff\r\n");
	assert_bad_chunks("3\r\nabcX\r\n0\r\n\r\n");
}

static void
test_http_scan_body_bad_chunk_reason_names_the_error(void **state)
{
	struct http_msg		 m;
	struct evbuffer		*in = evbuffer_new();
	size_t			 used;

	(void)state;
	parse_ok(&m, in, "POST / HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n");
	assert_int_equal(proxy_http_scan_body(&m, "zz\r\n", 4, &used),
	    HTTP_BAD);
	assert_int_equal(m.bad_status, 400);
	assert_string_equal(m.bad_reason,
	    "malformed body: invalid character in chunk size header");
	proxy_http_msg_free(&m);
	evbuffer_free(in);
}

static void
test_http_scan_body_bad_chunk_in_response_is_502(void **state)
{
	struct http_msg		 m;
	struct evbuffer		*in = evbuffer_new();
	const char		*s = "HTTP/1.1 200 OK\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n";
	size_t			 used;

	(void)state;
	assert_int_equal(feed(&m, in, HTTP_RESPONSE, s, strlen(s)), HTTP_DONE);
	assert_int_equal(proxy_http_scan_body(&m, "xyz\r\n", 5, &used),
	    HTTP_BAD);
	assert_int_equal(m.bad_status, 502);
	assert_contains(m.bad_reason, "malformed body: ");
	proxy_http_msg_free(&m);
	evbuffer_free(in);
}

static void
test_http_response_without_length_reads_until_close(void **state)
{
	struct http_msg		 m;
	struct evbuffer		*in = evbuffer_new();
	const char		*s = "HTTP/1.1 200 OK\r\nContent-Type: x\r\n\r\n";
	size_t			 used;

	(void)state;
	assert_int_equal(feed(&m, in, HTTP_RESPONSE, s, strlen(s)), HTTP_DONE);
	assert_int_equal(m.head->status, 200);
	assert_false(m.msg_done);
	assert_false(m.has_length);
	assert_false(m.chunked);
	assert_int_equal(proxy_http_scan_body(&m, "abc", 3, &used), HTTP_MORE);
	assert_int_equal(used, 3);
	assert_int_equal(proxy_http_scan_body(&m, "defgh", 5, &used),
	    HTTP_MORE);
	assert_int_equal(used, 5);
	assert_int_equal(m.body_bytes, 8);
	assert_false(m.keep_alive);
	assert_true(proxy_http_eof_ends_body(&m));
	proxy_http_msg_free(&m);
	evbuffer_free(in);
}

static void
test_http_eof_inside_content_length_body_is_not_clean(void **state)
{
	struct http_msg		 m;
	struct evbuffer		*in = evbuffer_new();
	const char		*s = "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n";
	size_t			 used;

	(void)state;
	assert_int_equal(feed(&m, in, HTTP_RESPONSE, s, strlen(s)), HTTP_DONE);
	assert_int_equal(proxy_http_scan_body(&m, "abc", 3, &used), HTTP_MORE);
	assert_false(proxy_http_eof_ends_body(&m));
	assert_int_equal(proxy_http_scan_body(&m, "defghi", 6, &used),
	    HTTP_DONE);
	assert_true(proxy_http_eof_ends_body(&m));
	proxy_http_msg_free(&m);
	evbuffer_free(in);
}

static void
test_http_eof_inside_chunked_body_is_not_clean(void **state)
{
	struct http_msg		 m;
	struct evbuffer		*in = evbuffer_new();
	const char		*s = "HTTP/1.1 200 OK\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n";
	size_t			 used;

	(void)state;
	assert_int_equal(feed(&m, in, HTTP_RESPONSE, s, strlen(s)), HTTP_DONE);
	assert_int_equal(proxy_http_scan_body(&m, "3\r\nab", 5, &used),
	    HTTP_MORE);
	assert_false(proxy_http_eof_ends_body(&m));
	proxy_http_msg_free(&m);
	evbuffer_free(in);
}

static void
test_http_eof_before_head_is_not_clean(void **state)
{
	struct http_msg		 m;

	(void)state;
	proxy_http_msg_init(&m, HTTP_RESPONSE, LINE_MAX_T, HEAD_MAX_T);
	assert_false(proxy_http_eof_ends_body(&m));
	proxy_http_msg_free(&m);
}

static void
test_http_head_response_has_no_body(void **state)
{
	struct http_msg		 m;
	struct evbuffer		*in = evbuffer_new();
	const char		*next = "HTTP/1.1 204 No Content\r\n\r\n";
	size_t			 used;

	(void)state;
	proxy_http_msg_init(&m, HTTP_RESPONSE, LINE_MAX_T, HEAD_MAX_T);
	m.no_body = true;
	evbuffer_add_printf(in, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n"
	    "\r\n%s", next);
	assert_int_equal(proxy_http_read_head(&m, in), HTTP_DONE);
	assert_int_equal(m.head->status, 200);
	assert_true(m.has_length);
	assert_int_equal(m.length, 1000);
	assert_true(m.msg_done);
	assert_int_equal(evbuffer_get_length(in), strlen(next));
	assert_int_equal(proxy_http_scan_body(&m, next, strlen(next), &used),
	    HTTP_DONE);
	assert_int_equal(used, 0);
	assert_true(proxy_http_eof_ends_body(&m));
	proxy_http_msg_free(&m);
	evbuffer_free(in);
}

static void
test_http_204_response_has_no_body(void **state)
{
	struct http_msg		 m;
	struct evbuffer		*in = evbuffer_new();
	const char		*s = "HTTP/1.1 204 No Content\r\n\r\n";

	(void)state;
	assert_int_equal(feed(&m, in, HTTP_RESPONSE, s, strlen(s)), HTTP_DONE);
	assert_int_equal(m.head->status, 204);
	assert_true(m.msg_done);
	assert_true(m.keep_alive);
	proxy_http_msg_free(&m);
	evbuffer_free(in);
}

static void
test_http_100_continue_then_final_response_after_reset(void **state)
{
	struct http_msg		 m;
	struct evbuffer		*in = evbuffer_new();
	size_t			 used;
	char			 rest[8];

	(void)state;
	proxy_http_msg_init(&m, HTTP_RESPONSE, LINE_MAX_T, HEAD_MAX_T);
	evbuffer_add_printf(in, "HTTP/1.1 100 Continue\r\n\r\n"
	    "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok");
	assert_int_equal(proxy_http_read_head(&m, in), HTTP_DONE);
	assert_int_equal(m.head->status, 100);
	assert_true(m.msg_done);
	proxy_http_msg_reset(&m);
	assert_int_equal(m.type, HTTP_RESPONSE);
	assert_int_equal(m.line_max, LINE_MAX_T);
	assert_int_equal(m.head_max, HEAD_MAX_T);
	assert_null(m.head);
	assert_false(m.msg_done);
	assert_int_equal(proxy_http_read_head(&m, in), HTTP_DONE);
	assert_int_equal(m.head->status, 201);
	assert_true(m.has_length);
	assert_int_equal(evbuffer_get_length(in), 2);
	assert_int_equal(evbuffer_remove(in, rest, sizeof(rest)), 2);
	assert_int_equal(proxy_http_scan_body(&m, rest, 2, &used), HTTP_DONE);
	assert_int_equal(used, 2);
	proxy_http_msg_free(&m);
	evbuffer_free(in);
}

static void
test_http_take_head_hands_over_ownership(void **state)
{
	struct http_msg		 m;
	struct evbuffer		*in = evbuffer_new();
	struct http_head	*h;

	(void)state;
	parse_ok(&m, in, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
	h = proxy_http_take_head(&m);
	assert_non_null(h);
	assert_null(m.head);
	proxy_http_msg_free(&m);
	assert_string_equal(h->method, "GET");
	proxy_http_head_free(h);
	proxy_http_head_free(NULL);
	evbuffer_free(in);
}

/* A head built from "Name: value" pairs for the header helpers. */
static struct http_msg	hm;
static struct evbuffer	*hin;

static const struct http_head *
helpers_head(void)
{
	hin = evbuffer_new();
	parse_ok(&hm, hin, "GET / HTTP/1.1\r\n"
	    "Host: a\r\n"
	    "Connection: keep-alive, Upgrade\r\n"
	    "connection:  close ,\tTE \r\n"
	    "X-List: ,,gzip,,  deflate  ,\r\n"
	    "X-Prefix: chunkedx, xchunked, chunked extra\r\n"
	    "Accept: a\r\n"
	    "ACCEPT: b\r\n"
	    "aCcEpT: c\r\n\r\n");
	return hm.head;
}

static void
helpers_done(void)
{
	proxy_http_msg_free(&hm);
	evbuffer_free(hin);
}

static void
test_http_header_lookup_is_case_insensitive(void **state)
{
	const struct http_head	*h = helpers_head();

	(void)state;
	assert_string_equal(proxy_http_header(h, "HOST"), "a");
	assert_string_equal(proxy_http_header(h, "host"), "a");
	assert_string_equal(proxy_http_header(h, "accept"), "a");
	assert_string_equal(proxy_http_header(h, "CONNECTION"),
	    "keep-alive, Upgrade");
	assert_null(proxy_http_header(h, "Hos"));
	assert_null(proxy_http_header(h, "Host2"));
	assert_null(proxy_http_header(h, ""));
	helpers_done();
}

static void
test_http_header_count_counts_every_spelling(void **state)
{
	const struct http_head	*h = helpers_head();

	(void)state;
	assert_int_equal(proxy_http_header_count(h, "Accept"), 3);
	assert_int_equal(proxy_http_header_count(h, "connection"), 2);
	assert_int_equal(proxy_http_header_count(h, "HOST"), 1);
	assert_int_equal(proxy_http_header_count(h, "Absent"), 0);
	helpers_done();
}

static void
test_http_header_has_token_reads_comma_lists(void **state)
{
	const struct http_head	*h = helpers_head();

	(void)state;
	assert_true(proxy_http_header_has_token(h, "Connection", "keep-alive"));
	assert_true(proxy_http_header_has_token(h, "Connection", "upgrade"));
	assert_true(proxy_http_header_has_token(h, "CONNECTION", "UPGRADE"));
	/* Second Connection header, padded with spaces and tabs. */
	assert_true(proxy_http_header_has_token(h, "Connection", "close"));
	assert_true(proxy_http_header_has_token(h, "Connection", "te"));
	assert_true(proxy_http_header_has_token(h, "X-List", "gzip"));
	assert_true(proxy_http_header_has_token(h, "X-List", "deflate"));
	assert_false(proxy_http_header_has_token(h, "Connection", "keep"));
	assert_false(proxy_http_header_has_token(h, "Connection", "alive"));
	assert_false(proxy_http_header_has_token(h, "X-Prefix", "chunked"));
	assert_false(proxy_http_header_has_token(h, "X-List", "gzi"));
	assert_false(proxy_http_header_has_token(h, "Absent", "gzip"));
	assert_false(proxy_http_header_has_token(h, "Host", "b"));
	helpers_done();
}

static void
test_http_tchar_is_the_rfc9110_set(void **state)
{
	const char	*yes = "!#$%&'*+-.^_`|~09azAZ";
	const char	*no = "\"(),/:;<=>?@[\\]{} \t\x7f";
	unsigned	 c;

	(void)state;
	for (; *yes != '\0'; yes++)
		assert_true(proxy_http_is_tchar((unsigned char)*yes));
	for (; *no != '\0'; no++)
		assert_false(proxy_http_is_tchar((unsigned char)*no));
	for (c = 0; c < 0x20; c++)
		assert_false(proxy_http_is_tchar((unsigned char)c));
	for (c = 0x80; c < 0x100; c++)
		assert_false(proxy_http_is_tchar((unsigned char)c));
}

static void
test_http_reason_phrases(void **state)
{
	(void)state;
	assert_string_equal(proxy_http_reason(414), "URI Too Long");
	assert_string_equal(proxy_http_reason(431),
	    "Request Header Fields Too Large");
	assert_string_equal(proxy_http_reason(505),
	    "HTTP Version Not Supported");
	assert_string_equal(proxy_http_reason(407),
	    "Proxy Authentication Required");
	assert_string_equal(proxy_http_reason(299), "Unknown");
	assert_string_equal(proxy_http_reason(201), "Created");
	assert_string_equal(proxy_http_reason(101), "Switching Protocols");
	assert_string_equal(proxy_http_reason(200), "OK");
	assert_string_equal(proxy_http_reason(-1), "Unknown");
}

/* Parse a that must succeed with host and port. */
static void
assert_authority(const char *a, uint16_t defport, const char *host,
    uint16_t port)
{
	char		*h = (char *)"untouched";
	uint16_t	 p = 0;

	if (proxy_http_parse_authority(a, &h, &p, defport) != 0)
		fail_msg("authority \"%s\" refused", a);
	assert_string_equal(h, host);
	assert_int_equal(p, port);
	free(h);
}

static void
assert_authority_bad(const char *a)
{
	char		*h = (char *)"untouched";
	uint16_t	 p = 0;

	if (proxy_http_parse_authority(a, &h, &p, 443) != -1)
		fail_msg("authority \"%s\" accepted as \"%s\" %u", a,
		    h != NULL ? h : "(null)", p);
	assert_null(h);
}

static void
test_http_parse_authority_host_and_port(void **state)
{
	(void)state;
	assert_authority("a.example:8443", 443, "a.example", 8443);
	assert_authority("a.example:1", 443, "a.example", 1);
	assert_authority("a.example:65535", 443, "a.example", 65535);
	assert_authority("10.0.0.1:80", 443, "10.0.0.1", 80);
}

static void
test_http_parse_authority_bracketed_v6_keeps_brackets(void **state)
{
	(void)state;
	assert_authority("[::1]:8443", 443, "[::1]", 8443);
	assert_authority("[2001:db8::1]:443", 80, "[2001:db8::1]", 443);
	assert_authority("[::1]", 443, "[::1]", 443);
}

static void
test_http_parse_authority_host_only_gets_default_port(void **state)
{
	(void)state;
	assert_authority("a.example", 443, "a.example", 443);
	assert_authority("a.example", 80, "a.example", 80);
}

static void
test_http_parse_authority_refuses_bare_v6(void **state)
{
	(void)state;
	assert_authority_bad("::1");
	assert_authority_bad("2001:db8::1");
	assert_authority_bad("::1:443");
	assert_authority_bad("a:1:2");
}

static void
test_http_parse_authority_refuses_bad_ports(void **state)
{
	(void)state;
	assert_authority_bad("a.example:0");
	assert_authority_bad("a.example:65536");
	assert_authority_bad("a.example:99999999999999999999");
	assert_authority_bad("a.example:abc");
	assert_authority_bad("a.example:");
	assert_authority_bad("a.example:+80");
	assert_authority_bad("a.example:-1");
	assert_authority_bad("a.example: 80");
	assert_authority_bad("a.example:0x50");
	assert_authority_bad("[::1]:");
	assert_authority_bad("[::1]:0");
	assert_authority_bad("[::1]:65536");
}

static void
test_http_parse_authority_refuses_malformed_brackets(void **state)
{
	(void)state;
	assert_authority_bad("[]");
	assert_authority_bad("[]:443");
	assert_authority_bad("[::1]x");
	assert_authority_bad("[::1]x:443");
	assert_authority_bad("[::1");
	assert_authority_bad("[::1]]:443");
}

static void
test_http_parse_authority_refuses_empty_host(void **state)
{
	(void)state;
	assert_authority_bad("");
	assert_authority_bad(":443");
}

static void
test_http_request_kind_dispatches_by_method_and_target(void **state)
{
	struct http_head	h = { 0 };

	(void)state;
	h.method = "CONNECT";
	h.target = "api.test:443";
	assert_int_equal(proxy_http_request_kind(&h), HTTP_KIND_CONNECT);
	h.method = "GET";
	h.target = "http://web.test/x";
	assert_int_equal(proxy_http_request_kind(&h), HTTP_KIND_FORWARD);
	h.target = "HTTPS://web.test/x";
	assert_int_equal(proxy_http_request_kind(&h), HTTP_KIND_FORWARD);
	h.target = "/openai/v1/chat";
	assert_int_equal(proxy_http_request_kind(&h), HTTP_KIND_ROUTE);
	h.target = "*";
	assert_int_equal(proxy_http_request_kind(&h), HTTP_KIND_BAD);
	h.target = "ftp://x/";
	assert_int_equal(proxy_http_request_kind(&h), HTTP_KIND_BAD);
	h.method = "connect";	/* methods are case-sensitive */
	h.target = "api.test:443";
	assert_int_equal(proxy_http_request_kind(&h), HTTP_KIND_BAD);
}

/* "GET / HTTP/1.1\r\nX-" + k bytes of padding + rest, fed to a parser. */
static enum http_result
feed_padded(struct http_msg *m, struct evbuffer *in, size_t k,
    const char *rest, char nul_at)
{
	char	head[128], pad[17], *z;
	int	n;

	assert_true(k < sizeof(pad));
	memset(pad, 'p', k);
	pad[k] = '\0';
	n = snprintf(head, sizeof(head), "GET / HTTP/1.1\r\nX-%s%s", pad,
	    rest);
	assert_true(n > 0 && (size_t)n < sizeof(head));
	if (nul_at != '\0' && (z = strchr(head, nul_at)) != NULL)
		*z = '\0';
	return feed(m, in, HTTP_REQUEST, head, (size_t)n);
}

/*
 * The byte checks look at eight bytes at a time: each bad shape must be
 * caught wherever it falls in a word, so it is tried behind every padding
 * from 0 to 16 bytes.
 */
static void
test_http_byte_checks_hold_at_every_offset(void **state)
{
	static const struct {
		const char	*rest;	/* after "GET / HTTP/1.1 X-<pad>" */
		char		 nul_at;	/* this byte becomes a NUL */
		const char	*reason;
	} shapes[] = {
		{ ": a\nb\r\n\r\n", 0, "bare LF in the head" },
		{ ": a\rb\r\n\r\n", 0, "bare CR in the head" },
		{ ": a\r\n b\r\n\r\n", 0, "obsolete line folding in the head" },
		{ ": a\r\n\tb\r\n\r\n", 0, "obsolete line folding in the head" },
		{ ": aZb\r\n\r\n", 'Z', "NUL byte in the head" },
		/* http_parser refuses these before our own check does. */
		{ ": a\x01" "b\r\n\r\n", 0, BADCHAR },
		{ ": a\x7f" "b\r\n\r\n", 0, BADCHAR },
	};
	size_t	i, k;

	(void)state;
	for (i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		for (k = 0; k <= 16; k++) {
			struct http_msg	 m;
			struct evbuffer	*in = evbuffer_new();

			assert_int_equal(feed_padded(&m, in, k, shapes[i].rest,
			    shapes[i].nul_at), HTTP_BAD);
			assert_int_equal(m.bad_status, 400);
			assert_string_equal(m.bad_reason, shapes[i].reason);
			proxy_http_msg_free(&m);
			evbuffer_free(in);
		}
	}
	/* And the clean head of every padding parses, value intact. */
	for (k = 0; k <= 16; k++) {
		struct http_msg	 m;
		struct evbuffer	*in = evbuffer_new();

		assert_int_equal(feed_padded(&m, in, k, ": a\tb\r\nHost: h"
		    "\r\n\r\n", 0), HTTP_DONE);
		assert_string_equal(m.head->h[0].value, "a\tb");
		assert_int_equal(m.head->h[0].name_len, 2 + k);
		assert_string_equal(proxy_http_header(m.head, "host"), "h");
		proxy_http_msg_free(&m);
		evbuffer_free(in);
	}
}

/*
 * "Name: " with nothing after the space: http_parser reports the empty
 * value pointing at the next line.  Terminating it there cut the next
 * name to "" (fuzz/crashes/http-empty-value-next-name.bin).
 */
static void
test_http_empty_value_leaves_the_next_name_whole(void **state)
{
	struct http_msg	 m;
	struct evbuffer	*in = evbuffer_new();

	(void)state;
	parse_ok(&m, in, "GET / HTTP/1.1\r\nHost: \r\nX-Next: v\r\n"
	    "X-Tab:\t\r\nX-Last: w\r\n\r\n");
	assert_int_equal(m.head->nh, 4);
	assert_string_equal(m.head->h[0].value, "");
	assert_string_equal(m.head->h[1].name, "X-Next");
	assert_string_equal(m.head->h[1].value, "v");
	assert_string_equal(m.head->h[2].value, "");
	assert_string_equal(m.head->h[3].name, "X-Last");
	assert_int_equal(m.head->h[3].name_len, 6);
	proxy_http_msg_free(&m);
	evbuffer_free(in);
}

/* A head arriving in many chains is found and parsed the same way. */
static void
test_http_head_in_pieces_parses_the_same(void **state)
{
	static const char *const pieces[] = {
		"GET /a HT", "TP/1.1\r", "\nHost: x.exa", "mple\r\nX-A:  ",
		"one two  \r", "\n\r", "\nrest",
	};
	struct http_msg	 m;
	struct evbuffer	*in = evbuffer_new();
	size_t		 i;

	(void)state;
	proxy_http_msg_init(&m, HTTP_REQUEST, LINE_MAX_T, HEAD_MAX_T);
	for (i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
		assert_int_equal(evbuffer_add_reference(in, pieces[i],
		    strlen(pieces[i]), NULL, NULL), 0);
		if (i < 5)
			assert_int_equal(proxy_http_read_head(&m, in),
			    HTTP_MORE);
	}
	assert_true(evbuffer_get_contiguous_space(in) <
	    evbuffer_get_length(in));
	assert_int_equal(proxy_http_read_head(&m, in), HTTP_DONE);
	assert_string_equal(m.head->method, "GET");
	assert_string_equal(m.head->target, "/a");
	assert_int_equal(m.head->nh, 2);
	assert_string_equal(proxy_http_header(m.head, "Host"), "x.example");
	assert_string_equal(proxy_http_header(m.head, "x-a"), "one two");
	assert_int_equal(m.head->h[1].value_len, 7);
	assert_int_equal(evbuffer_get_length(in), 4);
	proxy_http_msg_free(&m);
	evbuffer_free(in);
}

/* More headers than the head holds inline: all kept, in order. */
static void
test_http_many_headers_are_all_kept(void **state)
{
	struct http_msg	 m;
	struct evbuffer	*in = evbuffer_new();
	char		 name[16], want[16];
	size_t		 i;

	(void)state;
	proxy_http_msg_init(&m, HTTP_REQUEST, LINE_MAX_T, HEAD_MAX_T);
	evbuffer_add_printf(in, "GET / HTTP/1.1\r\n");
	for (i = 0; i < 3 * HTTP_HEAD_INLINE + 1; i++)
		evbuffer_add_printf(in, "X-%zu: v%zu\r\n", i, i);
	evbuffer_add_printf(in, "Host: last\r\n\r\n");
	assert_int_equal(proxy_http_read_head(&m, in), HTTP_DONE);
	assert_int_equal(m.head->nh, 3 * HTTP_HEAD_INLINE + 2);
	for (i = 0; i < 3 * HTTP_HEAD_INLINE + 1; i++) {
		snprintf(name, sizeof(name), "x-%zu", i);
		snprintf(want, sizeof(want), "v%zu", i);
		assert_string_equal(proxy_http_header(m.head, name), want);
	}
	assert_string_equal(proxy_http_field(m.head, HF_HOST), "last");
	assert_int_equal(m.head->h[m.head->nh - 1].field, HF_HOST);
	proxy_http_msg_free(&m);
	evbuffer_free(in);
}

/* Every name the proxy acts on is recognised in any case; others not. */
static void
test_http_field_of_recognises_our_names(void **state)
{
	static const struct {
		const char	*name;
		enum http_field	 f;
	} cases[] = {
		{ "Authorization", HF_AUTHORIZATION },
		{ "connection", HF_CONNECTION },
		{ "CONTENT-LENGTH", HF_CONTENT_LENGTH },
		{ "Expect", HF_EXPECT },
		{ "hOsT", HF_HOST },
		{ "Keep-Alive", HF_KEEP_ALIVE },
		{ "Private-Token", HF_PRIVATE_TOKEN },
		{ "Proxy-Authenticate", HF_PROXY_AUTHENTICATE },
		{ "proxy-authorization", HF_PROXY_AUTHORIZATION },
		{ "Proxy-Connection", HF_PROXY_CONNECTION },
		{ "Proxy-Anything", HF_PROXY_OTHER },
		{ "PROXY-x", HF_PROXY_OTHER },
		{ "Proxy-", HF_PROXY_OTHER },
		{ "Proxy", HF_OTHER },
		{ "te", HF_TE },
		{ "Trailer", HF_TRAILER },
		{ "Transfer-Encoding", HF_TRANSFER_ENCODING },
		{ "Upgrade", HF_UPGRADE },
		{ "X-API-Key", HF_X_API_KEY },
		{ "x-goog-api-key", HF_X_GOOG_API_KEY },
		{ "X-HTTP-Method-Override", HF_METHOD_OVERRIDE },
		{ "x-http-method", HF_METHOD_OVERRIDE },
		{ "X-Method-Override", HF_METHOD_OVERRIDE },
		/* Near misses. */
		{ "X-HTTP-Method-Overridf", HF_OTHER },
		{ "X-HTTP-Methods", HF_OTHER },
		{ "X-Method-Overrid", HF_OTHER },
		{ "Hosts", HF_OTHER },
		{ "Hos", HF_OTHER },
		{ "Host ", HF_OTHER },
		{ "Jost", HF_OTHER },
		{ "Content-Lengtx", HF_OTHER },
		{ "tf", HF_OTHER },
		{ "Upgradf", HF_OTHER },
		{ "Trailers", HF_OTHER },
		{ "X-Api-Keys", HF_OTHER },
		{ "", HF_OTHER },
		/* Case folding is ASCII letters only: '\r' is not '-'. */
		{ "Keep\rAlive", HF_OTHER },
		{ "Content\rLength", HF_OTHER },
	};
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (proxy_http_field_of(cases[i].name,
		    strlen(cases[i].name)) != cases[i].f)
			fail_msg("'%s': field %d, not %d", cases[i].name,
			    proxy_http_field_of(cases[i].name,
			    strlen(cases[i].name)), cases[i].f);
	}
	assert_true(proxy_http_name_eq("aBc-1", "AbC-1", 5));
	assert_false(proxy_http_name_eq("a", "b", 1));
	assert_false(proxy_http_name_eq("[", "{", 1));
	assert_true(proxy_http_name_eq("x", "y", 0));
}

/* Headers a Connection header names are marked, any case, trimmed. */
static void
test_http_connection_listed_headers_are_marked(void **state)
{
	struct http_msg	 m;
	struct evbuffer	*in = evbuffer_new();
	size_t		 i;
	static const struct {
		const char	*name;
		bool		 listed;
	} want[] = {
		{ "Connection", false }, { "X-Hop", true }, { "x-other", true },
		{ "X-Kept", false }, { "connection", false },
		{ "Keep-Alive", true }, { "X-Ho", false },
	};

	(void)state;
	parse_ok(&m, in, "GET / HTTP/1.1\r\n"
	    "Connection: x-hop , X-OTHER\r\n"
	    "X-Hop: 1\r\nx-other: 2\r\nX-Kept: 3\r\n"
	    "connection: ,,keep-alive,\r\n"
	    "Keep-Alive: 5\r\nX-Ho: 6\r\n\r\n");
	assert_int_equal(m.head->nh, sizeof(want) / sizeof(want[0]));
	for (i = 0; i < m.head->nh; i++) {
		assert_string_equal(m.head->h[i].name, want[i].name);
		if (m.head->h[i].conn_listed != want[i].listed)
			fail_msg("%s: listed %d", want[i].name,
			    m.head->h[i].conn_listed);
	}
	assert_int_equal(m.head->nfield[HF_CONNECTION], 2);
	assert_int_equal(m.head->ifield[HF_CONNECTION], 0);
	assert_int_equal(proxy_http_header_count(m.head, "CONNECTION"), 2);
	assert_null(proxy_http_field(m.head, HF_UPGRADE));
	assert_null(proxy_http_field(m.head, HF_OTHER));
	assert_null(proxy_http_field(m.head, HF_COUNT));
	proxy_http_msg_free(&m);
	evbuffer_free(in);
}

/* A head built by hand is indexed like a parsed one. */
static void
test_http_built_head_is_indexed(void **state)
{
	struct http_head	*h = proxy_http_head_new("POST", "/x?y");
	size_t			 i;

	(void)state;
	assert_string_equal(h->method, "POST");
	assert_string_equal(h->target, "/x?y");
	assert_int_equal(h->major, 1);
	assert_int_equal(h->minor, 1);
	proxy_http_head_add(h, "Content-Length", "3");
	proxy_http_head_add(h, "X-Drop", "a");
	proxy_http_head_add(h, "Connection", "x-drop");
	for (i = 0; i < 2 * HTTP_HEAD_INLINE; i++)
		proxy_http_head_add(h, "X-Fill", "f");
	assert_int_equal(h->nh, 3 + 2 * HTTP_HEAD_INLINE);
	assert_int_equal(h->h[0].field, HF_CONTENT_LENGTH);
	assert_true(h->h[1].conn_listed);
	assert_false(h->h[0].conn_listed);
	assert_string_equal(proxy_http_field(h, HF_CONNECTION), "x-drop");
	assert_int_equal(proxy_http_header_count(h, "x-fill"),
	    2 * HTTP_HEAD_INLINE);
	proxy_http_head_free(h);
}

/*
 * Header names hold tchar bytes only.  msg_check_head leaves all but the
 * space to http_parser: every other byte is tried here, so a parser that
 * let one through would fail this test.
 */
static void
test_http_names_are_tchar_only(void **state)
{
	char	head[64];
	int	b;

	(void)state;
	for (b = 0; b < 256; b++) {
		struct http_msg	 m;
		struct evbuffer	*in;
		enum http_result r;
		int		 n;

		if (b == ':')
			continue;	/* ends the name */
		in = evbuffer_new();
		n = snprintf(head, sizeof(head), "GET / HTTP/1.1\r\nX%cY: 1"
		    "\r\n\r\n", b);
		r = feed(&m, in, HTTP_REQUEST, head, (size_t)n);
		if (proxy_http_is_tchar((unsigned char)b)) {
			if (r != HTTP_DONE)
				fail_msg("byte 0x%02x: %s", b, m.bad_reason);
			assert_int_equal(m.head->h[0].name_len, 3);
		} else {
			if (r != HTTP_BAD)
				fail_msg("byte 0x%02x accepted in a name", b);
			assert_int_equal(m.bad_status, 400);
		}
		proxy_http_msg_free(&m);
		evbuffer_free(in);
	}
	assert_true(proxy_http_is_tchar('~'));
	assert_true(proxy_http_is_tchar('z'));
	assert_false(proxy_http_is_tchar('"'));
	assert_false(proxy_http_is_tchar(0x80));
}

static void
test_http_add_header_appends_one_line(void **state)
{
	struct evbuffer		*out = evbuffer_new();
	struct http_head	*h = proxy_http_head_new("GET", "/");
	char			 big[5000];
	char			*s;
	size_t			 n, i;

	(void)state;
	proxy_http_head_add(h, "Content-Type", "application/json");
	proxy_http_head_add(h, "X-Empty", "");
	/* Bigger than what is left in the chain: still one piece. */
	memset(big, 'v', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	proxy_http_head_add(h, "X-Big", big);
	for (i = 0; i < h->nh; i++)
		assert_int_equal(proxy_http_add_header(out, &h->h[i]), 0);
	n = evbuffer_get_length(out);
	assert_int_equal(n, 32 + 11 + 7 + sizeof(big) - 1 + 2);
	s = (char *)evbuffer_pullup(out, -1);
	assert_memory_equal(s, "Content-Type: application/json\r\n"
	    "X-Empty: \r\nX-Big: vvv", 53);
	assert_memory_equal(s + n - 3, "v\r\n", 3);
	proxy_http_head_free(h);
	evbuffer_free(out);
}

int
main(void)
{
#define T(f)	cmocka_unit_test(f)
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_http_request_kind_dispatches_by_method_and_target),
		T(test_http_rejects_malformed_heads),
		T(test_http_add_header_appends_one_line),
		T(test_http_names_are_tchar_only),
		T(test_http_byte_checks_hold_at_every_offset),
		T(test_http_empty_value_leaves_the_next_name_whole),
		T(test_http_head_in_pieces_parses_the_same),
		T(test_http_many_headers_are_all_kept),
		T(test_http_field_of_recognises_our_names),
		T(test_http_connection_listed_headers_are_marked),
		T(test_http_built_head_is_indexed),
		T(test_http_rejects_bare_lf_in_head),
		T(test_http_never_accepts_bare_lf_only_head),
		T(test_http_rejects_bare_cr_in_head),
		T(test_http_rejects_obs_fold),
		T(test_http_rejects_nul_in_head),
		T(test_http_rejects_second_host),
		T(test_http_rejects_transfer_encoding_gzip_chunked),
		T(test_http_rejects_http2_version_with_505),
		T(test_http_response_with_bad_version_is_502),
		T(test_http_accepts_simple_get),
		T(test_http_accepts_http10_without_keep_alive),
		T(test_http_accepts_empty_header_value),
		T(test_http_accepts_tab_in_header_value),
		T(test_http_request_line_too_long_is_414),
		T(test_http_request_line_too_long_without_crlf_is_414),
		T(test_http_request_line_at_line_max_is_accepted),
		T(test_http_long_header_line_is_not_414),
		T(test_http_head_too_large_is_431),
		T(test_http_unfinished_head_over_head_max_is_431),
		T(test_http_response_head_too_large_is_502),
		T(test_http_head_split_in_small_pieces_is_more_then_done_once),
		T(test_http_partial_request_line_is_more),
		T(test_http_split_crlfcrlf_across_additions_is_found),
		T(test_http_empty_buffer_is_more),
		T(test_http_connect_leaves_early_bytes_in_buffer),
		T(test_http_connect_ipv6_target),
		T(test_http_pipelined_get_leaves_next_request),
		T(test_http_scan_body_content_length_counts_exactly),
		T(test_http_scan_body_zero_content_length_is_done_at_head),
		T(test_http_scan_body_chunked_counts_exactly),
		T(test_http_scan_body_chunked_with_trailer),
		T(test_http_scan_body_chunked_bytewise),
		T(test_http_scan_body_bad_chunk_size_is_bad),
		T(test_http_scan_body_bad_chunk_reason_names_the_error),
		T(test_http_scan_body_bad_chunk_in_response_is_502),
		T(test_http_response_without_length_reads_until_close),
		T(test_http_eof_inside_content_length_body_is_not_clean),
		T(test_http_eof_inside_chunked_body_is_not_clean),
		T(test_http_eof_before_head_is_not_clean),
		T(test_http_head_response_has_no_body),
		T(test_http_204_response_has_no_body),
		T(test_http_100_continue_then_final_response_after_reset),
		T(test_http_take_head_hands_over_ownership),
		T(test_http_header_lookup_is_case_insensitive),
		T(test_http_header_count_counts_every_spelling),
		T(test_http_header_has_token_reads_comma_lists),
		T(test_http_tchar_is_the_rfc9110_set),
		T(test_http_reason_phrases),
		T(test_http_parse_authority_host_and_port),
		T(test_http_parse_authority_bracketed_v6_keeps_brackets),
		T(test_http_parse_authority_host_only_gets_default_port),
		T(test_http_parse_authority_refuses_bare_v6),
		T(test_http_parse_authority_refuses_bad_ports),
		T(test_http_parse_authority_refuses_malformed_brackets),
		T(test_http_parse_authority_refuses_empty_host),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
