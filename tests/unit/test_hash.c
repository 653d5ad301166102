#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

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

/*
 * hash_str_fast: a function of the bytes up to the NUL only (the same
 * text at different addresses and alignments, whatever follows), and
 * spread in the low bits tables use: 4096 paths of every length from 0
 * to 60 into 1024 buckets, none badly overfull, few collisions.
 */
static void
test_hash_str_fast_depends_on_the_string_only_and_spreads(void **state)
{
	static unsigned	 bucket[1024];
	char		 a[80], b[96], path[80];
	uint32_t	 h[4096];
	size_t		 i, j, len, same = 0, max = 0;

	(void)state;
	for (len = 0; len < 61; len++) {
		memset(a, 'x', len);
		a[len] = '\0';
		for (i = 0; i < 8; i++) {
			memset(b, 'y', sizeof(b));
			memcpy(b + i, a, len + 1);
			assert_int_equal(hash_str_fast(b + i), hash_str_fast(a));
		}
		if (len > 0) {
			a[len - 1] = 'z';
			memcpy(b, a, len + 1);
			a[len - 1] = 'x';
			assert_int_not_equal(hash_str_fast(b), hash_str_fast(a));
		}
	}
	for (i = 0; i < 4096; i++) {
		snprintf(path, sizeof(path), "/home/user/.config/%.*s%zu",
		    (int)(i % 40), "abcdefghijklmnopqrstuvwxyzabcdefghijklmn", i);
		h[i] = hash_str_fast(path);
		bucket[h[i] & 1023]++;
	}
	for (i = 0; i < 1024; i++)
		if (bucket[i] > max)
			max = bucket[i];
	assert_true(max <= 16);
	for (i = 0; i < 4096; i++)
		for (j = 0; j < i; j++)
			same += h[i] == h[j];
	assert_true(same <= 4);
}

/* hash_mem over a string's bytes is hash_str_fast of it. */
static void
test_hash_mem_is_hash_str_fast_over_a_length(void **state)
{
	static const char	text[] = "/usr/lib/x86_64-linux-gnu/keyhole";
	char			cut[sizeof(text)];
	size_t			n;

	(void)state;
	for (n = 0; n < sizeof(text); n++) {
		memcpy(cut, text, n);
		cut[n] = '\0';
		assert_int_equal(hash_mem(text, n), hash_str_fast(cut));
	}
}

/* An index of an array of numbers, keyed by value (same hash for all
 * multiples of 64: long probe runs on purpose). */
static bool
num_match(size_t pos, const void *key, const void *arg)
{
	return ((const unsigned *)arg)[pos] == *(const unsigned *)key;
}

static uint32_t
num_hash(unsigned v)
{
	return v % 64 == 0 ? 7 : hash_mem(&v, sizeof(v));
}

static uint32_t
num_hash_at(size_t pos, const void *arg)
{
	return num_hash(((const unsigned *)arg)[pos]);
}

/*
 * Every position put is found by its key, through the table's growth
 * from room for 4 to 3000 keys (half of them colliding), and a key never
 * put finds an empty slot; after hash_index_free the index is empty.
 */
static void
test_hash_index_finds_every_position_as_it_grows(void **state)
{
	static unsigned		 v[3000];
	struct hash_index	 x;
	size_t			 i, j, slot, pos;
	unsigned		 absent;

	(void)state;
	hash_index_init(&x, 4);
	for (i = 0; i < 3000; i++) {
		v[i] = (unsigned)(i % 2 ? i * 64 : i * 7 + 1);
		slot = hash_index_slot(&x, num_hash(v[i]), num_match, &v[i], v);
		assert_false(hash_index_at(&x, slot, &pos));
		hash_index_put(&x, slot, i, num_hash_at, v);
		assert_true(2 * x.n <= x.mask + 1);
		if (i % 97 != 0)
			continue;
		for (j = 0; j <= i; j++) {
			slot = hash_index_slot(&x, num_hash(v[j]), num_match,
			    &v[j], v);
			assert_true(hash_index_at(&x, slot, &pos));
			assert_int_equal(pos, j);
		}
	}
	absent = 3 * 64 * 3000;
	slot = hash_index_slot(&x, num_hash(absent), num_match, &absent, v);
	assert_false(hash_index_at(&x, slot, &pos));
	hash_index_free(&x);
	assert_null(x.slot);
	assert_int_equal(x.n, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_str_is_fnv1a),
		cmocka_unit_test(test_hash_str_fold_lowers_ascii_letters_only),
		cmocka_unit_test(
		    test_hash_str_fast_depends_on_the_string_only_and_spreads),
		cmocka_unit_test(test_hash_mem_is_hash_str_fast_over_a_length),
		cmocka_unit_test(
		    test_hash_index_finds_every_position_as_it_grows),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
