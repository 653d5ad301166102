/*
 * strv_merge and strv_set: the list a scan per string would give (first
 * occurrences, in order), whichever way it is built.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/strv.h"

/* dst + the strings of src not in dst yet, by a scan per string. */
static void
merge_by_scan(struct strv *dst, const struct strv *src)
{
	size_t	i, j;

	for (i = 0; i < src->n; i++) {
		for (j = 0; j < dst->n; j++)
			if (strcmp(dst->v[j], src->v[i]) == 0)
				break;
		if (j == dst->n)
			strv_push(dst, src->v[i]);
	}
}

static void
assert_strv_equal(const struct strv *a, const struct strv *b)
{
	size_t	i;

	assert_int_equal(a->n, b->n);
	for (i = 0; i < a->n; i++)
		assert_string_equal(a->v[i], b->v[i]);
	assert_null(a->v[a->n]);
}

/* n strings "p<k>" with k = (i * step) % mod: repeats when mod < n. */
static void
fill(struct strv *sv, const char *p, size_t n, size_t step, size_t mod)
{
	char	buf[32];
	size_t	i;

	for (i = 0; i < n; i++) {
		snprintf(buf, sizeof(buf), "%s%zu", p, (i * step) % mod);
		strv_push(sv, buf);
	}
}

/*
 * Small and large lists, repeats in either, overlapping or not, empty
 * ones, and the empty string: the scan's answer.
 */
static void
test_strv_merge_keeps_first_occurrences_in_order(void **state)
{
	static const size_t sizes[] = { 0, 1, 3, 8, 9, 40, 300 };
	struct strv	dst, want, src;
	size_t		a, b;

	(void)state;
	for (a = 0; a < sizeof(sizes) / sizeof(sizes[0]); a++)
		for (b = 0; b < sizeof(sizes) / sizeof(sizes[0]); b++) {
			memset(&dst, 0, sizeof(dst));
			memset(&want, 0, sizeof(want));
			memset(&src, 0, sizeof(src));
			fill(&dst, "x", sizes[a], 7, sizes[a] / 2 + 1);
			strv_push(&dst, "");
			fill(&src, "x", sizes[b], 3, sizes[b] + 5);
			fill(&src, "y", sizes[b], 1, sizes[b] / 3 + 1);
			strv_push(&src, "");
			strv_copy(&want, &dst);
			merge_by_scan(&want, &src);
			strv_merge(&dst, &src);
			assert_strv_equal(&dst, &want);
			strv_free(&dst);
			strv_free(&want);
			strv_free(&src);
		}
}

/*
 * One set used while its list grows from a few strings to thousands
 * (the table and the list both reallocate): pushed exactly when the
 * list did not hold the string, and the list is the scan's.
 */
static void
test_strv_set_push_unique_as_the_list_grows(void **state)
{
	struct strv	 sv = { 0 }, want = { 0 }, one = { 0 };
	struct strv_set	 set;
	char		 buf[32];
	size_t		 i, before;
	bool		 pushed;

	(void)state;
	strv_push(&sv, "k0");
	strv_push(&sv, "k0");
	strv_copy(&want, &sv);
	strv_set_init(&set, &sv, 0);
	for (i = 0; i < 5000; i++) {
		snprintf(buf, sizeof(buf), "k%zu", (i * 7919) % 3001);
		before = sv.n;
		pushed = strv_set_push_unique(&set, &sv, buf);
		assert_int_equal(pushed, sv.n == before + 1);
		strv_push(&one, buf);
		merge_by_scan(&want, &one);
		strv_free(&one);
		assert_int_equal(sv.n, want.n);
	}
	assert_strv_equal(&sv, &want);
	strv_set_free(&set);
	assert_null(set.x.slot);
	strv_free(&sv);
	strv_free(&want);
}

/*
 * The owned variant: the list takes a new string and frees a repeat
 * (LeakSanitizer and ASan would see either wrong), same list as the
 * copying one.
 */
static void
test_strv_set_push_unique_owned_takes_or_frees(void **state)
{
	struct strv	 a = { 0 }, b = { 0 };
	struct strv_set	 sa, sb;
	char		 buf[32];
	size_t		 i;

	(void)state;
	strv_set_init(&sa, &a, 0);
	strv_set_init(&sb, &b, 0);
	for (i = 0; i < 400; i++) {
		snprintf(buf, sizeof(buf), "p%zu", (i * 37) % 150);
		assert_int_equal(strv_set_push_unique_owned(&sa, &a,
		    strdup(buf)), strv_set_push_unique(&sb, &b, buf));
	}
	assert_int_equal(a.n, 150);
	assert_strv_equal(&a, &b);
	strv_set_free(&sa);
	strv_set_free(&sb);
	strv_free(&a);
	strv_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strv_merge_keeps_first_occurrences_in_order),
		cmocka_unit_test(test_strv_set_push_unique_as_the_list_grows),
		cmocka_unit_test(test_strv_set_push_unique_owned_takes_or_frees),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
