#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "util/strbuf.h"

/* After reserve(n), n more bytes go in without the string moving. */
static void
test_strbuf_reserve_keeps_the_string_in_place(void **state)
{
	struct strbuf	 b = { 0 };
	const char	*s;
	size_t		 i;

	(void)state;
	strbuf_append(&b, "head ");
	strbuf_reserve(&b, 1000);
	assert_true(b.cap >= b.len + 1000 + 1);
	assert_string_equal(strbuf_str(&b), "head ");
	s = b.s;
	for (i = 0; i < 100; i++)
		strbuf_appendn(&b, "0123456789", 10);
	assert_ptr_equal(b.s, s);
	assert_int_equal(b.len, 5 + 1000);
	assert_int_equal(b.s[b.len], '\0');
	strbuf_free(&b);
}

/* A secret buffer grows by copy (old copy wiped), content intact. */
static void
test_strbuf_wipe_mode_grows_by_copy(void **state)
{
	struct strbuf	 b = { .wipe = true };
	char		 want[3000];
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(want) - 1; i++) {
		want[i] = (char)('a' + i % 26);
		strbuf_appendc(&b, want[i]);
	}
	want[sizeof(want) - 1] = '\0';
	assert_string_equal(strbuf_str(&b), want);
	assert_true(b.wipe);
	strbuf_reserve(&b, 10000);
	assert_string_equal(strbuf_str(&b), want);
	strbuf_freezero(&b);
	assert_null(b.s);
	assert_int_equal(b.len, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strbuf_reserve_keeps_the_string_in_place),
		cmocka_unit_test(test_strbuf_wipe_mode_grows_by_copy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
