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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jscan_members_spans),
		cmocka_unit_test(test_jscan_members_empty_object),
		cmocka_unit_test(test_jscan_members_refuses_non_objects_and_truncation),
		cmocka_unit_test(test_jscan_members_callback_stops_walk),
		cmocka_unit_test(test_jscan_key_equals_decodes_escapes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
