/*
 * util/jscan: finding values in raw JSON without building them.  The
 * built-in policy is indexed with jscan_members, so a value's span must
 * be exact even with strings holding quotes, braces and escapes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/jscan.h"

struct seen {
	char	names[8][32];
	char	values[8][64];
	size_t	n;
	size_t	stop_after;	/* 0: never stop */
};

/* Members of doc with their raw value text. */
struct run {
	struct seen	 s;
	const char	*doc;
};

static int
collect_spans(const char *name, size_t n, size_t start, size_t end,
    void *arg)
{
	struct run	*r = arg;

	snprintf(r->s.names[r->s.n], sizeof(r->s.names[0]), "%.*s", (int)n,
	    name);
	snprintf(r->s.values[r->s.n], sizeof(r->s.values[0]), "%.*s",
	    (int)(end - start), r->doc + start);
	r->s.n++;
	return r->s.stop_after != 0 && r->s.n >= r->s.stop_after ? -1 : 0;
}

static int
members(const char *doc, struct run *r)
{
	struct jscan	j = { doc, strlen(doc), 0 };

	memset(r, 0, sizeof(*r));
	r->doc = doc;
	return jscan_members(&j, collect_spans, r);
}

static void
test_jscan_members_spans(void **state)
{
	struct run	r;

	(void)state;
	assert_int_equal(members(" {\n \"a\" : {\"x\": [1, {\"y\": \"}\"}]},"
	    "\"b\":\"q\\\"{\" , \"c\":true,\"d\":-1.5e3, \"e\":[]}", &r), 0);
	assert_int_equal(r.s.n, 5);
	assert_string_equal(r.s.names[0], "a");
	assert_string_equal(r.s.values[0], "{\"x\": [1, {\"y\": \"}\"}]}");
	assert_string_equal(r.s.names[1], "b");
	assert_string_equal(r.s.values[1], "\"q\\\"{\"");
	assert_string_equal(r.s.values[2], "true");
	assert_string_equal(r.s.values[3], "-1.5e3");
	assert_string_equal(r.s.values[4], "[]");
}

static void
test_jscan_members_empty_object(void **state)
{
	struct run	r;

	(void)state;
	assert_int_equal(members("{}", &r), 0);
	assert_int_equal(r.s.n, 0);
}

static void
test_jscan_members_refuses_non_objects_and_truncation(void **state)
{
	struct run	r;

	(void)state;
	assert_int_equal(members("[1, 2]", &r), -1);
	assert_int_equal(members("\"a\"", &r), -1);
	assert_int_equal(members("", &r), -1);
	assert_int_equal(members("{\"a\": {\"b\": 1}", &r), -1);
	assert_int_equal(members("{\"a\" 1}", &r), -1);
	assert_int_equal(members("{\"a\": \"unterminated}", &r), -1);
}

static void
test_jscan_members_callback_stops_walk(void **state)
{
	struct jscan	j;
	struct run	r;
	const char	*doc = "{\"a\": 1, \"b\": 2, \"c\": 3}";

	(void)state;
	memset(&r, 0, sizeof(r));
	r.doc = doc;
	r.s.stop_after = 2;
	j.s = doc;
	j.len = strlen(doc);
	j.pos = 0;
	assert_int_equal(jscan_members(&j, collect_spans, &r), -1);
	assert_int_equal(r.s.n, 2);
}

static void
test_jscan_key_equals_decodes_escapes(void **state)
{
	(void)state;
	assert_true(jscan_key_equals("groups", 6, "groups"));
	assert_false(jscan_key_equals("group", 5, "groups"));
	assert_true(jscan_key_equals("a\\u0062c", 8, "abc"));
	assert_true(jscan_key_equals("q\\\"", 3, "q\""));
}

/* Any stop will do: the walk must only end. */
static int
count_member(const char *name, size_t n, size_t start, size_t end,
    void *arg)
{
	(void)name;
	(void)n;
	(void)start;
	(void)end;
	(*(size_t *)arg)++;
	return 0;
}

/*
 * Issue 22: a NUL after a number (which jansson accepts) or a stray
 * close made jscan_value return 0 without moving, and every loop over it
 * spin.  Each byte that can end a token, put at every offset of a
 * document, must leave each call advancing or failing; alarm() turns a
 * spin into a failure of this test binary.
 */
static void
test_jscan_every_call_advances_or_fails_on_any_bytes(void **state)
{
	static const char	 doc[] = "{\"a\": [8080, true], \"b\": "
	    "{\"c\": \"x\\\"y\"}, \"d\": -1.5}";
	static const char	 bytes[] = { '\0', '}', ']', ',', ':', '"',
	    '\\', '{', '[', 'x', ' ' };
	char			 buf[sizeof(doc) + 1];
	struct jscan		 j;
	size_t			 i, k, n, before;
	int			 rc;

	(void)state;
	alarm(10);
	for (i = 0; i < sizeof(doc); i++) {
		for (k = 0; k < sizeof(bytes); k++) {
			/* doc with bytes[k] inserted at i, and replacing i */
			memcpy(buf, doc, i);
			buf[i] = bytes[k];
			memcpy(buf + i + 1, doc + i, sizeof(doc) - 1 - i);
			for (n = sizeof(doc) - 1; n <= sizeof(doc); n++) {
				if (n == sizeof(doc) - 1 && i < n)
					memcpy(buf + i + 1, doc + i + 1,
					    n - i - 1);
				j.s = buf;
				j.len = n;
				for (j.pos = 0; j.pos < n; j.pos++) {
					before = j.pos;
					rc = jscan_value(&j, 0);
					assert_true(rc == -1 || j.pos > before);
					assert_true(j.pos <= n);
					j.pos = before;
				}
				j.pos = 0;
				before = 0;
				(void)jscan_members(&j, count_member, &before);
				assert_true(j.pos <= n);
			}
		}
	}
	alarm(0);
}

static void
test_jscan_value_refuses_a_stray_close_and_takes_nul_into_a_scalar(void **state)
{
	struct jscan	j;

	(void)state;
	j.s = "}";
	j.len = 1;
	j.pos = 0;
	assert_int_equal(jscan_value(&j, 0), -1);
	j.s = "[8080\0]";
	j.len = 7;
	j.pos = 0;
	/* the NUL is not a delimiter: part of the scalar, and the array ends */
	assert_int_equal(jscan_value(&j, 0), 0);
	assert_int_equal(j.pos, 7);
	j.s = "[1 }";
	j.len = 4;
	j.pos = 0;
	assert_int_equal(jscan_value(&j, 0), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_jscan_every_call_advances_or_fails_on_any_bytes),
		cmocka_unit_test(
		    test_jscan_value_refuses_a_stray_close_and_takes_nul_into_a_scalar),
		cmocka_unit_test(test_jscan_members_spans),
		cmocka_unit_test(test_jscan_members_empty_object),
		cmocka_unit_test(test_jscan_members_refuses_non_objects_and_truncation),
		cmocka_unit_test(test_jscan_members_callback_stops_walk),
		cmocka_unit_test(test_jscan_key_equals_decodes_escapes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
