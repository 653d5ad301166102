#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "creds/secret.h"
#include "policy/route.h"
#include "proxy/scrub.h"
#include "util/errbuf.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

/* The evbuffer's contents as an owned string (NUL-terminated), drained. */
static char *
take(struct evbuffer *b, size_t *len)
{
	size_t	 n = evbuffer_get_length(b);
	char	*s = xmalloc(n + 1);

	evbuffer_remove(b, s, n);
	s[n] = '\0';
	if (len != NULL)
		*len = n;
	return s;
}

/* A scrubber of raw patterns pats (NULL-terminated) into repl. */
static struct scrub *
mk(const char *repl, const char *const *pats)
{
	struct secret	*r = creds_secret_new(repl, strlen(repl)), *p;
	struct scrub	*s = proxy_scrub_new(r);

	for (; *pats != NULL; pats++) {
		p = creds_secret_new(*pats, strlen(*pats));
		assert_int_equal(proxy_scrub_add(s, p, SECRET_RAW), 0);
		creds_secret_free(p);
	}
	creds_secret_free(r);
	return s;
}

/*
 * The reference: leftmost match, longest on a tie, resume after it, over
 * the whole input at once.
 */
static char *
reference(const char *in, size_t n, const char *repl,
    const char *const *pats)
{
	struct strbuf	 b = { 0 };
	size_t		 i = 0, best, l;
	const char *const *p;

	while (i < n) {
		best = 0;
		for (p = pats; *p != NULL; p++) {
			l = strlen(*p);
			if (l > best && l <= n - i && memcmp(in + i, *p, l) == 0)
				best = l;
		}
		if (best > 0) {
			strbuf_append(&b, repl);
			i += best;
		} else
			strbuf_appendc(&b, in[i++]);
	}
	if (b.s == NULL)
		return xstrdup("");
	return strbuf_steal(&b);
}

/* Feed in cut at the given offsets (ascending), then finish. */
static char *
run_cuts(struct scrub *s, const char *in, size_t n, const size_t *cuts,
    size_t ncuts)
{
	struct evbuffer	*out = evbuffer_new();
	size_t		 from = 0, i, to;
	char		*r;

	for (i = 0; i <= ncuts; i++) {
		to = i < ncuts ? cuts[i] : n;
		assert_int_equal(proxy_scrub_feed(s, in + from, to - from,
		    out), 0);
		assert_true(proxy_scrub_held(s) < proxy_scrub_maxlen(s) ||
		    proxy_scrub_maxlen(s) == 0);
		from = to;
	}
	assert_int_equal(proxy_scrub_finish(s, out), 0);
	assert_int_equal(proxy_scrub_held(s), 0);
	r = take(out, NULL);
	evbuffer_free(out);
	return r;
}

/* Every one- and two-cut split of in gives the reference's result. */
static void
check_all_splits(const char *in, const char *repl, const char *const *pats)
{
	struct scrub	*s = mk(repl, pats);
	size_t		 n = strlen(in), a, b, cuts[2];
	char		*want = reference(in, n, repl, pats), *got;

	got = run_cuts(s, in, n, NULL, 0);
	assert_string_equal(got, want);
	free(got);
	for (a = 0; a <= n; a++) {
		cuts[0] = a;
		got = run_cuts(s, in, n, cuts, 1);
		assert_string_equal(got, want);
		free(got);
		for (b = a; b <= n; b++) {
			cuts[1] = b;
			got = run_cuts(s, in, n, cuts, 2);
			assert_string_equal(got, want);
			free(got);
		}
	}
	free(want);
	proxy_scrub_free(s);
}

static void
test_scrub_replaces_secret_at_every_split_point(void **state)
{
	const char *const pats[] = { "SECRETkey42", NULL };

	(void)state;
	check_all_splits("{\"auth\":\"Bearer SECRETkey42\",\"x\":1}",
	    "PHANTOM", pats);
	check_all_splits("SECRETkey42", "P", pats);
	check_all_splits("SECRETkey42 at start", "PHANTOM_LONGER_THAN_IT",
	    pats);
	check_all_splits("at the end SECRETkey42", "", pats);
	check_all_splits("SECRETkey42SECRETkey42SECRETkey4", "p", pats);
	check_all_splits("SECRETSECRETkey4SECRETkey42", "p", pats);
}

static void
test_scrub_handles_overlapping_partial_matches(void **state)
{
	const char *const aab[] = { "aab", NULL };
	const char *const abab[] = { "abac", NULL };
	const char *const both[] = { "aab", "ab", "aaab", NULL };

	(void)state;
	check_all_splits("aaab", "X", aab);
	check_all_splits("aaaaaabaab", "X", aab);
	check_all_splits("abababacabab", "X", abab);
	check_all_splits("aaabaabab", "X", both);
	check_all_splits("aaaa", "X", both);
}

static void
test_scrub_feeds_byte_by_byte(void **state)
{
	const char *const pats[] = { "tok%2Fen", "tok/en", "dG9rL2Vu",
	    NULL };
	const char	*in = "a tok/en b tok%2Fen c dG9rL2Vu tok%2 tok/e";
	struct scrub	*s = mk("PH", pats);
	size_t		 n = strlen(in), cuts[64], i;
	char		*want = reference(in, n, "PH", pats), *got;

	(void)state;
	for (i = 0; i + 1 < n; i++)
		cuts[i] = i + 1;
	got = run_cuts(s, in, n, cuts, n - 1);
	assert_string_equal(got, want);
	assert_string_equal(got, "a PH b PH c PH tok%2 tok/e");
	assert_int_equal(proxy_scrub_count(s), 3);
	free(got);
	free(want);
	proxy_scrub_free(s);
}

static void
test_scrub_empty_input_and_empty_stream(void **state)
{
	const char *const pats[] = { "secret", NULL };
	const char *const none[] = { NULL };
	struct scrub	*s = mk("P", pats);
	struct evbuffer	*out = evbuffer_new();

	(void)state;
	assert_int_equal(proxy_scrub_feed(s, "", 0, out), 0);
	assert_int_equal(proxy_scrub_finish(s, out), 0);
	assert_int_equal(evbuffer_get_length(out), 0);
	proxy_scrub_free(s);
	/* No pattern: everything passes at once. */
	s = mk("P", none);
	assert_int_equal(proxy_scrub_feed(s, "secret", 6, out), 0);
	assert_int_equal(proxy_scrub_held(s), 0);
	assert_int_equal(evbuffer_get_length(out), 6);
	proxy_scrub_free(s);
	evbuffer_free(out);
}

static void
test_scrub_holds_back_only_a_possible_start(void **state)
{
	const char *const pats[] = { "sk-0123456789", NULL };
	struct scrub	*s = mk("P", pats);
	struct evbuffer	*out = evbuffer_new();
	char		*got;

	(void)state;
	/* No byte that could start the secret: nothing is held. */
	assert_int_equal(proxy_scrub_feed(s, "data: hello\n\n", 13, out), 0);
	assert_int_equal(proxy_scrub_held(s), 0);
	assert_int_equal(evbuffer_get_length(out), 13);
	/* "sk-01" may begin it: held until it is decided. */
	assert_int_equal(proxy_scrub_feed(s, "data: sk-01", 11, out), 0);
	assert_int_equal(proxy_scrub_held(s), 5);
	assert_int_equal(proxy_scrub_feed(s, "X", 1, out), 0);
	assert_int_equal(proxy_scrub_held(s), 0);
	got = take(out, NULL);
	assert_string_equal(got, "data: hello\n\ndata: sk-01X");
	free(got);
	/* Held at the end of the stream: handed on by finish. */
	assert_int_equal(proxy_scrub_feed(s, "sk-012345678", 12, out), 0);
	assert_int_equal(proxy_scrub_held(s), 12);
	assert_int_equal(evbuffer_get_length(out), 0);
	assert_int_equal(proxy_scrub_finish(s, out), 0);
	got = take(out, NULL);
	assert_string_equal(got, "sk-012345678");
	free(got);
	evbuffer_free(out);
	proxy_scrub_free(s);
}

/* An evbuffer of in, one chain per piece of step bytes. */
static struct evbuffer *
chained(const char *in, size_t n, size_t step)
{
	struct evbuffer	*b = evbuffer_new(), *t;
	size_t		 i, m;

	for (i = 0; i < n; i += m) {
		m = n - i < step ? n - i : step;
		t = evbuffer_new();
		evbuffer_add(t, in + i, m);
		evbuffer_add_buffer(b, t);
		evbuffer_free(t);
	}
	return b;
}

static void
test_scrub_feed_buffer_matches_across_chains(void **state)
{
	const char *const pats[] = { "SECRETkey42", "U0VDUkVUa2V5NDI=",
	    NULL };
	struct strbuf	 sb = { 0 };
	const char	*in;
	struct scrub	*s = mk("PHANTOM", pats);
	struct evbuffer	*b, *out;
	size_t		 n, step, got_n;
	char		*want, *got;

	(void)state;
	for (n = 0; n < 20; n++)
		strbuf_append(&sb, n % 3 == 0 ? "xx SECRETkey42 " :
		    n % 3 == 1 ? "U0VDUkVUa2V5NDI= yy " : "SECRETkey4 ");
	in = sb.s;
	n = sb.len;
	want = reference(in, n, "PHANTOM", pats);
	for (step = 1; step <= 40; step++) {
		b = chained(in, n, step);
		out = evbuffer_new();
		/* Fed in two calls, the second taking the rest. */
		assert_int_equal(proxy_scrub_feed_buffer(s, b, n / 2, out), 0);
		assert_int_equal(evbuffer_get_length(b), n - n / 2);
		assert_int_equal(proxy_scrub_feed_buffer(s, b, n - n / 2, out),
		    0);
		assert_int_equal(evbuffer_get_length(b), 0);
		assert_int_equal(proxy_scrub_finish(s, out), 0);
		got = take(out, &got_n);
		assert_string_equal(got, want);
		free(got);
		evbuffer_free(out);
		evbuffer_free(b);
	}
	free(want);
	strbuf_free(&sb);
	proxy_scrub_free(s);
}

/* A scrubber for a route of mode with the given fields. */
static struct scrub *
route_scrub(enum inject_mode mode, const char *secret, struct route **rp)
{
	struct route_def	*d = policy_route_def_new("svc");
	struct errbuf		 e = { 0 };
	struct secret		*sec = creds_secret_new(secret, strlen(secret));
	struct secret		*ph = creds_secret_new("PHANTOM", 7);
	struct scrub		*s;

	d->upstream = xstrdup("https://api.test");
	d->credential_key = xstrdup("env://SVC_KEY");
	d->inject_mode = mode;
	if (mode == INJECT_URL_PATH)
		d->path_pattern = xstrdup("/k/{}");
	if (mode == INJECT_QUERY_PARAM)
		d->query_param_name = xstrdup("key");
	*rp = policy_route_new(d, &e);
	assert_non_null(*rp);
	s = proxy_scrub_for_route(*rp, sec, ph);
	assert_true(proxy_scrub_is_for(s, sec, ph));
	creds_secret_free(sec);
	sec = creds_secret_new("other", 5);
	assert_false(proxy_scrub_is_for(s, sec, ph));
	creds_secret_free(sec);
	creds_secret_free(ph);
	policy_route_def_free(d);
	return s;
}

/* Scrub in whole and return the result. */
static char *
scrub_all(struct scrub *s, const char *in)
{
	size_t	n = strlen(in);

	return run_cuts(s, in, n, NULL, 0);
}

static void
test_scrub_for_route_covers_what_each_mode_injected(void **state)
{
	struct route	*r;
	struct scrub	*s;
	char		*got;

	(void)state;
	/* base64("us:p/w+") = "dXM6cC93Kw==" */
	s = route_scrub(INJECT_BASIC_AUTH, "us:p/w+", &r);
	got = scrub_all(s, "Basic dXM6cC93Kw== raw us:p/w+ pct us%3Ap%2Fw%2B");
	assert_string_equal(got, "Basic PHANTOM raw PHANTOM pct "
	    "us%3Ap%2Fw%2B");
	free(got);
	proxy_scrub_free(s);
	policy_route_free(r);

	s = route_scrub(INJECT_URL_PATH, "us:p/w+", &r);
	got = scrub_all(s, "/k/us%3Ap%2Fw%2B and us:p/w+ b64 dXM6cC93Kw==");
	assert_string_equal(got, "/k/PHANTOM and PHANTOM b64 dXM6cC93Kw==");
	free(got);
	proxy_scrub_free(s);
	policy_route_free(r);

	s = route_scrub(INJECT_QUERY_PARAM, "a b", &r);
	got = scrub_all(s, "?key=a%20b&x=a b");
	assert_string_equal(got, "?key=PHANTOM&x=PHANTOM");
	free(got);
	proxy_scrub_free(s);
	policy_route_free(r);

	s = route_scrub(INJECT_HEADER, "sk-1", &r);
	got = scrub_all(s, "Authorization: Bearer sk-1");
	assert_string_equal(got, "Authorization: Bearer PHANTOM");
	assert_int_equal(proxy_scrub_maxlen(s), 4);
	free(got);
	proxy_scrub_free(s);
	policy_route_free(r);
}

static void
test_scrub_skips_empty_and_duplicate_patterns(void **state)
{
	struct secret	*r = creds_secret_new("P", 1);
	struct secret	*e = creds_secret_new("", 0);
	struct secret	*a = creds_secret_new("abc", 3);
	struct scrub	*s = proxy_scrub_new(r);
	size_t		 i;

	(void)state;
	assert_int_equal(proxy_scrub_add(s, e, SECRET_RAW), 0);
	assert_int_equal(proxy_scrub_maxlen(s), 0);
	assert_int_equal(proxy_scrub_add(s, a, SECRET_RAW), 0);
	assert_int_equal(proxy_scrub_add(s, a, SECRET_PCT), 0);
	assert_int_equal(proxy_scrub_maxlen(s), 3);
	assert_false(proxy_scrub_is_for(NULL, a, r));
	assert_true(proxy_scrub_is_for(s, a, r));
	/* Seven more distinct ones fill it; the ninth is refused. */
	for (i = 0; i < SCRUB_MAX_PATS - 1; i++) {
		char		 buf[8];
		struct secret	*x;

		snprintf(buf, sizeof(buf), "x%zu", i);
		x = creds_secret_new(buf, strlen(buf));
		assert_int_equal(proxy_scrub_add(s, x, SECRET_RAW), 0);
		creds_secret_free(x);
	}
	assert_int_equal(proxy_scrub_add(s, r, SECRET_RAW), -1);
	proxy_scrub_free(s);
	proxy_scrub_free(NULL);
	creds_secret_free(r);
	creds_secret_free(e);
	creds_secret_free(a);
}

static void
test_scrub_random_inputs_agree_with_the_reference(void **state)
{
	const char *const pats[] = { "abca", "bca", "cc", NULL };
	char		 in[64];
	size_t		 cuts[8], n, nc, i, round;
	struct scrub	*s = mk("Z", pats);
	char		*want, *got;
	unsigned	 seed = 1;

	(void)state;
	for (round = 0; round < 3000; round++) {
		n = (size_t)(rand_r(&seed) % 40);
		for (i = 0; i < n; i++)
			in[i] = "abc"[rand_r(&seed) % 3];
		in[n] = '\0';
		nc = (size_t)(rand_r(&seed) % 8);
		for (i = 0; i < nc; i++)
			cuts[i] = n == 0 ? 0 : (size_t)(rand_r(&seed) %
			    (n + 1));
		/* Ascending. */
		for (i = 1; i < nc; i++) {
			size_t	j = i, t;

			while (j > 0 && cuts[j - 1] > cuts[j]) {
				t = cuts[j];
				cuts[j] = cuts[j - 1];
				cuts[j - 1] = t;
				j--;
			}
		}
		want = reference(in, n, "Z", pats);
		got = run_cuts(s, in, n, cuts, nc);
		assert_string_equal(got, want);
		free(got);
		free(want);
	}
	proxy_scrub_free(s);
}

static void
test_scrub_finds_matches_where_the_anchor_byte_is_common(void **state)
{
	const char *const pats[] = { "abcdabcdaabbccdd", "ddcc", NULL };
	size_t		 n = 64 * 1024, i, step, cuts[64], nc;
	char		*in = xmalloc(n + 1), *want, *got;
	struct scrub	*s = mk("<P>", pats);
	unsigned	 seed = 7;

	(void)state;
	for (i = 0; i < n; i++)
		in[i] = "abcd"[rand_r(&seed) % 4];
	for (i = 0; i < 50; i++)
		memcpy(in + rand_r(&seed) % (n - 16), pats[0], 16);
	in[n] = '\0';
	want = reference(in, n, "<P>", pats);
	for (step = 4096; step >= 1024; step /= 2) {
		for (nc = 0; (nc + 1) * step < n && nc < 64; nc++)
			cuts[nc] = (nc + 1) * step;
		got = run_cuts(s, in, n, cuts, nc);
		assert_string_equal(got, want);
		free(got);
	}
	assert_true(proxy_scrub_count(s) > 50);
	free(want);
	free(in);
	proxy_scrub_free(s);
}

static void
test_scrub_contains_finds_any_pattern_anywhere(void **state)
{
	const char *const pats[] = { "sk-42", "c2stNDI=", NULL };
	struct scrub	*s = mk("P", pats);

	(void)state;
	assert_true(proxy_scrub_contains(s, "sk-42", 5));
	assert_true(proxy_scrub_contains(s, "Bearer sk-42 x", 14));
	assert_true(proxy_scrub_contains(s, "Basic c2stNDI=", 14));
	assert_false(proxy_scrub_contains(s, "sk-4", 4));
	assert_false(proxy_scrub_contains(s, "sk-4 2 sk_42", 12));
	assert_false(proxy_scrub_contains(s, "", 0));
	/* Nothing held counts, and nothing is held after. */
	assert_int_equal(proxy_scrub_held(s), 0);
	proxy_scrub_free(s);
}

int
main(void)
{
#define T(f)	cmocka_unit_test(f)
	const struct CMUnitTest tests[] = {
		T(test_scrub_replaces_secret_at_every_split_point),
		T(test_scrub_handles_overlapping_partial_matches),
		T(test_scrub_feeds_byte_by_byte),
		T(test_scrub_empty_input_and_empty_stream),
		T(test_scrub_holds_back_only_a_possible_start),
		T(test_scrub_feed_buffer_matches_across_chains),
		T(test_scrub_for_route_covers_what_each_mode_injected),
		T(test_scrub_skips_empty_and_duplicate_patterns),
		T(test_scrub_random_inputs_agree_with_the_reference),
		T(test_scrub_finds_matches_where_the_anchor_byte_is_common),
		T(test_scrub_contains_finds_any_pattern_anywhere),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
