#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "util/hash.h"

/* The published FNV-1a (32-bit) test vectors. */
static void
test_hash_str_is_fnv1a(void **state)
{
	(void)state;
	assert_int_equal(hash_str("", false), 0x811c9dc5u);
	assert_int_equal(hash_str("a", false), 0xe40c292cu);
	assert_int_equal(hash_str("foobar", false), 0xbf9cf968u);
}

/* fold hashes ASCII letters lower-case and nothing else differently. */
static void
test_hash_str_fold_lowers_ascii_letters_only(void **state)
{
	(void)state;
	assert_int_equal(hash_str("Api.TEST:443", true),
	    hash_str("api.test:443", false));
	assert_int_not_equal(hash_str("Api.TEST", false),
	    hash_str("api.test", false));
	assert_int_equal(hash_str("\xc3\x89t\xc3\xa9", true),
	    hash_str("\xc3\x89t\xc3\xa9", false));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_str_is_fnv1a),
		cmocka_unit_test(test_hash_str_fold_lowers_ascii_letters_only),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
