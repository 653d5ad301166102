#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "proxy/http.h"

/*
 * Inputs the fuzz targets (fuzz/) found crashing, replayed the way the
 * proxy drives the code.  The raw inputs are in fuzz/crashes/.
 */

/*
 * fuzz/crashes/http-trailer-null-head.bin: a chunked body whose trailer
 * section has two fields.  The second field flushed the first into
 * msg->head, which proxy_http_take_head() had already handed away (NULL):
 * a NULL dereference in msg_flush_header (http.c) from proxy_http_scan_body,
 * reachable by any client (request body) or upstream (response body).
 */
static const char trailer_request[] =
    "POST / HTTP/1.1\r\n"
    "Transfer-Encoding: chunked\r\n"
    "\r\n"
    "0\r\n"
    "A: b\r\n"
    "C: d\r\n"
    "\r\n";

static const char trailer_response[] =
    "HTTP/1.1 200 OK\r\n"
    "Transfer-Encoding: chunked\r\n"
    "\r\n"
    "5\r\nhello\r\n"
    "0\r\n"
    "A: b\r\n"
    "C: d\r\n"
    "\r\n";

/* fuzz/crashes/http-trailer-null-head-min.bin without its flags byte. */
static const unsigned char trailer_min[] = {
	0x48, 0x54, 0x54, 0x50, 0x2f, 0x31, 0x2e, 0x31, 0x20, 0x32, 0x0d,
	0x0a, 0x54, 0x72, 0x61, 0x6e, 0x73, 0x66, 0x65, 0x72, 0x2d, 0x45, 0x6e,
	0x63, 0x6f, 0x64, 0x69, 0x6e, 0x67, 0x3a, 0x63, 0x68, 0x75, 0x6e, 0x6b,
	0x65, 0x64, 0x0d, 0x0a, 0x0d, 0x0a, 0x30, 0x0d, 0x63, 0x6f, 0x3a, 0x0a,
	0x2e
};

/*
 * As conn.c/forward.c: read the head, take it, then scan the body bytes.
 * Returns the body result; *used is how many body bytes were consumed.
 */
static enum http_result
head_then_body(enum http_parser_type type, const void *s, size_t len,
    size_t *used, uint64_t *body)
{
	struct http_msg		 m;
	struct evbuffer		*in = evbuffer_new();
	struct evbuffer_iovec	 v;
	enum http_result	 r;

	assert_non_null(in);
	proxy_http_msg_init(&m, type, 8192, 65536);
	assert_int_equal(evbuffer_add(in, s, len), 0);
	assert_int_equal(proxy_http_read_head(&m, in), HTTP_DONE);
	proxy_http_head_free(proxy_http_take_head(&m));
	*used = 0;
	r = HTTP_MORE;
	if (evbuffer_peek(in, -1, NULL, &v, 1) > 0)
		r = proxy_http_scan_body(&m, v.iov_base, v.iov_len, used);
	*body = m.body_bytes;
	proxy_http_msg_free(&m);
	evbuffer_free(in);
	return r;
}

static void
test_fuzz_regress_request_with_two_trailer_fields_completes(void **state)
{
	const char	*body = strstr(trailer_request, "\r\n\r\n") + 4;
	size_t		 used;
	uint64_t	 n;

	(void)state;
	assert_int_equal(head_then_body(HTTP_REQUEST, trailer_request,
	    strlen(trailer_request), &used, &n), HTTP_DONE);
	assert_int_equal(used, strlen(body));
	assert_int_equal(n, 0);
}

static void
test_fuzz_regress_response_with_two_trailer_fields_completes(void **state)
{
	const char	*body = strstr(trailer_response, "\r\n\r\n") + 4;
	size_t		 used;
	uint64_t	 n;

	(void)state;
	assert_int_equal(head_then_body(HTTP_RESPONSE, trailer_response,
	    strlen(trailer_response), &used, &n), HTTP_DONE);
	assert_int_equal(used, strlen(body));
	assert_int_equal(n, 5);
}

static void
test_fuzz_regress_minimised_trailer_input_does_not_crash(void **state)
{
	size_t		 used;
	uint64_t	 n;
	enum http_result r;

	(void)state;
	/* Malformed trailers: any verdict but a crash will do. */
	r = head_then_body(HTTP_RESPONSE, trailer_min, sizeof(trailer_min),
	    &used, &n);
	assert_true(r == HTTP_MORE || r == HTTP_DONE || r == HTTP_BAD);
}

/*
 * fuzz/crashes/http-empty-value-next-name.bin (flags byte 0x08: request,
 * two-byte pieces): "Host: " with an empty value.  http_parser reports the
 * empty value pointing at the next line; terminating the value there cut
 * the next header's name to "" in a head the parser had accepted.
 */
static const char empty_value[] =
    "CONNECT aptiig.pi.github.close86 HTTP/1.1\r\n"
    "Host: \r\n"
    "oxy-AuthorkPOSTon: Bearer abc\r\n"
    "\r\n";

static void
test_fuzz_regress_empty_value_does_not_cut_the_next_name(void **state)
{
	struct http_msg	 m;
	struct evbuffer	*in = evbuffer_new();
	size_t		 i;

	(void)state;
	proxy_http_msg_init(&m, HTTP_REQUEST, 8192, 65536);
	/* In two-byte pieces, as the fuzzer fed it. */
	for (i = 0; i < sizeof(empty_value) - 1; i += 2) {
		assert_int_equal(evbuffer_add(in, empty_value + i,
		    i + 2 <= sizeof(empty_value) - 1 ? 2 : 1), 0);
		if (proxy_http_read_head(&m, in) != HTTP_MORE)
			break;
	}
	assert_true(m.head_done);
	assert_int_equal(m.head->nh, 2);
	assert_string_equal(m.head->h[0].name, "Host");
	assert_string_equal(m.head->h[0].value, "");
	assert_string_equal(m.head->h[1].name, "oxy-AuthorkPOSTon");
	assert_string_equal(m.head->h[1].value, "Bearer abc");
	proxy_http_msg_free(&m);
	evbuffer_free(in);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_fuzz_regress_empty_value_does_not_cut_the_next_name),
		cmocka_unit_test(
		    test_fuzz_regress_request_with_two_trailer_fields_completes),
		cmocka_unit_test(
		    test_fuzz_regress_response_with_two_trailer_fields_completes),
		cmocka_unit_test(
		    test_fuzz_regress_minimised_trailer_input_does_not_crash),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
