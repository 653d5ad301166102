#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include <event2/buffer.h>
#include <openssl/evp.h>

#include "creds/secret.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

/* The evbuffer contents as an owned C string. */
static char *
drain(struct evbuffer *b)
{
	size_t	 n = evbuffer_get_length(b);
	char	*s = xmalloc(n + 1);

	evbuffer_remove(b, s, n);
	s[n] = '\0';
	return s;
}

/* Emit s with format/enc into a fresh evbuffer; return the text. */
static char *
emit(const struct secret *s, const char *format, enum secret_enc enc)
{
	struct evbuffer	*b = evbuffer_new();
	char		*out;

	assert_int_equal(creds_secret_emit(s, b, format, enc), 0);
	out = drain(b);
	evbuffer_free(b);
	return out;
}

static void
assert_emits(const char *secret, const char *format, enum secret_enc enc,
    const char *want)
{
	struct secret	*s = creds_secret_new(secret, strlen(secret));
	char		*got = emit(s, format, enc);
	struct strbuf	 sb = { 0 };

	assert_string_equal(got, want);
	free(got);
	creds_secret_emit_strbuf(s, &sb, format, enc);
	assert_string_equal(strbuf_str(&sb), want);
	strbuf_freezero(&sb);
	creds_secret_free(s);
}

/* token.rs 1 */
static void
test_secret_random_hex_32_bytes_is_64_chars(void **state)
{
	struct errbuf	 e = { 0 };
	struct secret	*s = creds_secret_random_hex(32, &e);

	(void)state;
	assert_non_null(s);
	assert_int_equal(creds_secret_len(s), 64);
	creds_secret_free(s);
}

/* token.rs 2 */
static void
test_secret_random_hex_is_lower_case_hex(void **state)
{
	struct errbuf	 e = { 0 };
	struct secret	*s = creds_secret_random_hex(32, &e);
	char		*t;
	size_t		 i;

	(void)state;
	t = emit(s, NULL, SECRET_RAW);
	assert_int_equal(strlen(t), 64);
	for (i = 0; i < 64; i++)
		assert_non_null(strchr("0123456789abcdef", t[i]));
	free(t);
	creds_secret_free(s);
}

/* token.rs 3 */
static void
test_secret_random_hex_is_unique(void **state)
{
	struct errbuf	 e = { 0 };
	struct secret	*a = creds_secret_random_hex(32, &e);
	struct secret	*b = creds_secret_random_hex(32, &e);

	(void)state;
	assert_false(creds_secret_equal_secret(a, b));
	creds_secret_free(a);
	creds_secret_free(b);
}

static void
test_secret_random_hex_large_request_is_filled(void **state)
{
	struct errbuf	 e = { 0 };
	struct secret	*s = creds_secret_random_hex(1000, &e);
	char		*t;

	(void)state;
	assert_int_equal(creds_secret_len(s), 2000);
	t = emit(s, NULL, SECRET_RAW);
	assert_int_equal(strspn(t, "0123456789abcdef"), 2000);
	free(t);
	creds_secret_free(s);
}

/* token.rs 4 */
static void
test_secret_equal_same_bytes(void **state)
{
	struct secret	*s = creds_secret_new("hello", 5);

	(void)state;
	assert_true(creds_secret_equal(s, "hello", 5));
	creds_secret_free(s);
}

/* token.rs 5 */
static void
test_secret_not_equal_different_bytes_same_length(void **state)
{
	struct secret	*s = creds_secret_new("hello", 5);

	(void)state;
	assert_false(creds_secret_equal(s, "hellp", 5));
	assert_false(creds_secret_equal(s, "Hello", 5));
	creds_secret_free(s);
}

/* token.rs 6 */
static void
test_secret_not_equal_different_length(void **state)
{
	struct secret	*s = creds_secret_new("hello", 5);

	(void)state;
	assert_false(creds_secret_equal(s, "hi", 2));
	assert_false(creds_secret_equal(s, "hello!", 6));
	assert_false(creds_secret_equal(s, "hell", 4));
	creds_secret_free(s);
}

/* token.rs 7 */
static void
test_secret_two_empty_are_equal(void **state)
{
	struct secret	*s = creds_secret_new("", 0);
	struct secret	*t = creds_secret_new(NULL, 0);

	(void)state;
	assert_true(creds_secret_equal(s, "", 0));
	assert_true(creds_secret_equal(s, NULL, 0));
	assert_true(creds_secret_equal_secret(s, t));
	assert_false(creds_secret_equal(s, "x", 1));
	creds_secret_free(s);
	creds_secret_free(t);
}

static void
test_secret_equal_secret_compares_contents(void **state)
{
	struct secret	*a = creds_secret_new("token", 5);
	struct secret	*b = creds_secret_new("token", 5);
	struct secret	*c = creds_secret_new("tokex", 5);

	(void)state;
	assert_true(creds_secret_equal_secret(a, b));
	assert_false(creds_secret_equal_secret(a, c));
	assert_false(creds_secret_equal_secret(a, NULL));
	assert_false(creds_secret_equal(NULL, "token", 5));
	creds_secret_free(a);
	creds_secret_free(b);
	creds_secret_free(c);
}

static void
test_secret_new_copies_the_bytes(void **state)
{
	char		 buf[] = "abc";
	struct secret	*s = creds_secret_new(buf, 3);

	(void)state;
	buf[0] = 'x';
	assert_true(creds_secret_equal(s, "abc", 3));
	assert_int_equal(creds_secret_len(s), 3);
	creds_secret_free(s);
}

static void
test_secret_emit_null_format_is_the_secret(void **state)
{
	(void)state;
	assert_emits("sk-123", NULL, SECRET_RAW, "sk-123");
}

static void
test_secret_emit_bearer_format(void **state)
{
	(void)state;
	assert_emits("sk-123", "Bearer {}", SECRET_RAW, "Bearer sk-123");
	assert_emits("ghp_x", "token {}", SECRET_RAW, "token ghp_x");
}

static void
test_secret_emit_replaces_every_placeholder(void **state)
{
	(void)state;
	assert_emits("k", "{}-{}{}.", SECRET_RAW, "k-kk.");
}

static void
test_secret_emit_format_without_placeholder_is_literal(void **state)
{
	(void)state;
	assert_emits("k", "no secret here", SECRET_RAW, "no secret here");
	assert_emits("k", "", SECRET_RAW, "");
}

static void
test_secret_emit_keeps_lone_braces(void **state)
{
	(void)state;
	assert_emits("k", "{ } { {{}} }", SECRET_RAW, "{ } { {k} }");
	assert_emits("k", "trailing {", SECRET_RAW, "trailing {");
}

static void
test_secret_emit_base64_standard_padded(void **state)
{
	(void)state;
	assert_emits("user:pass", "Basic {}", SECRET_BASE64,
	    "Basic dXNlcjpwYXNz");
	assert_emits("a", NULL, SECRET_BASE64, "YQ==");
	assert_emits("ab", NULL, SECRET_BASE64, "YWI=");
	assert_emits("abc", NULL, SECRET_BASE64, "YWJj");
	assert_emits("\xfb\xff", NULL, SECRET_BASE64, "+/8=");
}

static void
test_secret_emit_base64_long_secret_is_one_encoding(void **state)
{
	char	 in[101];
	char	*got;
	struct secret *s;
	unsigned char want[200];

	(void)state;
	memset(in, 'z', 100);
	in[100] = '\0';
	s = creds_secret_new(in, 100);
	got = emit(s, NULL, SECRET_BASE64);
	EVP_EncodeBlock(want, (unsigned char *)in, 100);
	assert_string_equal(got, (char *)want);
	free(got);
	creds_secret_free(s);
}

static void
test_secret_emit_pct_encodes_reserved_bytes_uppercase(void **state)
{
	(void)state;
	assert_emits("key with spaces", "api_key={}", SECRET_PCT,
	    "api_key=key%20with%20spaces");
	assert_emits("a/b?c&d=e%f+g", NULL, SECRET_PCT,
	    "a%2Fb%3Fc%26d%3De%25f%2Bg");
	assert_emits("\xff\x01", NULL, SECRET_PCT, "%FF%01");
}

static void
test_secret_emit_pct_keeps_unreserved(void **state)
{
	(void)state;
	assert_emits("AZaz09-._~", NULL, SECRET_PCT, "AZaz09-._~");
}

static void
test_secret_emit_pct_long_secret(void **state)
{
	char		 in[130];
	struct strbuf	 want = { 0 };
	size_t		 i;

	(void)state;
	for (i = 0; i < 129; i++) {
		in[i] = (i % 2) ? 'a' : ' ';
		strbuf_append(&want, (i % 2) ? "a" : "%20");
	}
	in[129] = '\0';
	assert_emits(in, NULL, SECRET_PCT, strbuf_str(&want));
	strbuf_free(&want);
}

static void
test_secret_emit_empty_secret(void **state)
{
	(void)state;
	assert_emits("", "Bearer {}", SECRET_RAW, "Bearer ");
	assert_emits("", "[{}]", SECRET_BASE64, "[]");
	assert_emits("", "[{}]", SECRET_PCT, "[]");
}

static void
test_secret_emit_appends_to_existing_contents(void **state)
{
	struct secret	*s = creds_secret_new("T", 1);
	struct evbuffer	*b = evbuffer_new();
	char		*got;

	(void)state;
	evbuffer_add(b, "Authorization: ", 15);
	assert_int_equal(creds_secret_emit(s, b, "Bearer {}", SECRET_RAW), 0);
	got = drain(b);
	assert_string_equal(got, "Authorization: Bearer T");
	free(got);
	evbuffer_free(b);
	creds_secret_free(s);
}

static void
test_secret_free_null_is_noop(void **state)
{
	(void)state;
	creds_secret_free(NULL);
	assert_int_equal(creds_secret_len(NULL), 0);
}

/* creds_secret_lend's callback: keep a copy as a string. */
static void
lend_copy(void *arg, const void *p, size_t n)
{
	char	**out = arg;

	*out = xstrndup(p, n);
}

static void
test_secret_lend_gives_the_bytes_emit_puts_on_the_wire(void **state)
{
	char		 raw[100];
	struct secret	*s;
	char		*lent, *emitted;
	enum secret_enc	 enc;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(raw); i++)
		raw[i] = (char)(i % 3 == 0 ? '/' : 'a' + (int)(i % 26));
	s = creds_secret_new(raw, sizeof(raw));
	for (enc = SECRET_RAW; enc <= SECRET_PCT; enc++) {
		lent = NULL;
		creds_secret_lend(s, enc, lend_copy, &lent);
		emitted = emit(s, NULL, enc);
		assert_non_null(lent);
		assert_string_equal(lent, emitted);
		free(lent);
		free(emitted);
	}
	creds_secret_free(s);
	/* NULL secret: fn is not called. */
	lent = NULL;
	creds_secret_lend(NULL, SECRET_RAW, lend_copy, &lent);
	assert_null(lent);
}

/* Phantoms shaped like real keys (SPEC 4.12): prefix + alphanumerics. */
static void
test_secret_random_token_has_prefix_and_alphanumerics(void **state)
{
	struct errbuf	 e;
	struct secret	*a, *b;
	struct strbuf	 sa = { 0 }, sb = { 0 };
	size_t		 i;

	(void)state;
	errbuf_clear(&e);
	a = creds_secret_random_token("ghp_", 36, &e);
	b = creds_secret_random_token("ghp_", 36, &e);
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(creds_secret_len(a), 40);
	creds_secret_emit_strbuf(a, &sa, NULL, SECRET_RAW);
	creds_secret_emit_strbuf(b, &sb, NULL, SECRET_RAW);
	assert_memory_equal(sa.s, "ghp_", 4);
	for (i = 4; i < sa.len; i++)
		assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijk"
		    "lmnopqrstuvwxyz0123456789", sa.s[i]));
	assert_int_not_equal(memcmp(sa.s, sb.s, sa.len), 0);
	strbuf_free(&sa);
	strbuf_free(&sb);
	creds_secret_free(a);
	creds_secret_free(b);
}

int
main(void)
{
#define T(f)	cmocka_unit_test(f)
	const struct CMUnitTest tests[] = {
		T(test_secret_random_hex_32_bytes_is_64_chars),
		T(test_secret_lend_gives_the_bytes_emit_puts_on_the_wire),
		T(test_secret_random_token_has_prefix_and_alphanumerics),
		T(test_secret_random_hex_is_lower_case_hex),
		T(test_secret_random_hex_is_unique),
		T(test_secret_random_hex_large_request_is_filled),
		T(test_secret_equal_same_bytes),
		T(test_secret_not_equal_different_bytes_same_length),
		T(test_secret_not_equal_different_length),
		T(test_secret_two_empty_are_equal),
		T(test_secret_equal_secret_compares_contents),
		T(test_secret_new_copies_the_bytes),
		T(test_secret_emit_null_format_is_the_secret),
		T(test_secret_emit_bearer_format),
		T(test_secret_emit_replaces_every_placeholder),
		T(test_secret_emit_format_without_placeholder_is_literal),
		T(test_secret_emit_keeps_lone_braces),
		T(test_secret_emit_base64_standard_padded),
		T(test_secret_emit_base64_long_secret_is_one_encoding),
		T(test_secret_emit_pct_encodes_reserved_bytes_uppercase),
		T(test_secret_emit_pct_keeps_unreserved),
		T(test_secret_emit_pct_long_secret),
		T(test_secret_emit_empty_secret),
		T(test_secret_emit_appends_to_existing_contents),
		T(test_secret_free_null_is_noop),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
