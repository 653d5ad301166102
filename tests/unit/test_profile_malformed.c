#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "profile/profile.h"
#include "util/errbuf.h"
#include "util/xmalloc.h"

/*
 * Malformed profiles (issue 22): each is answered with an error naming
 * the file, never a hang.  Every case runs under a CPU-time bound of
 * 100 ms, and a 10 s alarm turns a spin into this binary's death with
 * the case's name on stderr.
 */

#define CASE_CPU_MAX_NS	(100 * 1000 * 1000L)

/* The case running, for the alarm's message. */
static char	 current[96];

static void
on_alarm(int sig)
{
	static const char	msg[] = "test_profile_malformed: hang in case ";

	(void)sig;
	(void)!write(2, msg, sizeof(msg) - 1);
	(void)!write(2, current, strnlen(current, sizeof(current)));
	(void)!write(2, "\n", 1);
	_exit(1);
}

static long
cpu_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

/*
 * Parse doc[0..len): it must fail within the bound, with a message that
 * starts "profile t.json: line " (located) and contains want (if set).
 * Returns the message (static).
 */
static const char *
refused(const char *doc, size_t len, const char *want, const char *name)
{
	static struct errbuf	 e;
	struct profile		*p;
	long			 t0, dt;

	snprintf(current, sizeof(current), "%s", name);
	memset(&e, 0, sizeof(e));
	alarm(10);
	t0 = cpu_ns();
	p = profile_parse_bytes(doc, len, "t.json", &e);
	dt = cpu_ns() - t0;
	alarm(0);
	if (p != NULL) {
		profile_free(p);
		fail_msg("%s: parsed, expected an error", name);
	}
	if (dt > CASE_CPU_MAX_NS)
		fail_msg("%s: took %ld ms of CPU", name, dt / 1000000);
	if (strncmp(errbuf_msg(&e), "profile t.json: line ", 21) != 0)
		fail_msg("%s: error not located: '%s'", name, errbuf_msg(&e));
	if (want != NULL && strstr(errbuf_msg(&e), want) == NULL)
		fail_msg("%s: '%s' lacks '%s'", name, errbuf_msg(&e), want);
	return errbuf_msg(&e);
}

/* A valid profile on one line, touching most sections. */
static const char valid[] =
    "{\"meta\": {\"name\": \"m\"}, \"extends\": \"default\", "
    "\"network\": {\"open_port\": [8080, 9090], \"allow_domain\": "
    "[\"api.example.com\"], \"block\": false}, \"filesystem\": "
    "{\"read\": [\"/usr\"]}, \"env_credentials\": {\"k\": \"K\"}, "
    "\"workdir\": {\"access\": \"readwrite\"}}";

static void
test_valid_table_profile_parses(void **state)
{
	struct errbuf	 e = { { 0 } };
	struct profile	*p;

	(void)state;
	p = profile_parse_bytes(valid, sizeof(valid) - 1, "t.json", &e);
	if (p == NULL)
		fail_msg("%s", errbuf_msg(&e));
	profile_free(p);
}

/* The reduced input of issue 22: it spun in the error locator. */
static void
test_nul_after_a_number_before_an_unknown_key_is_refused_at_once(void **state)
{
	static const char	doc[] =
	    "{\"network\": {\"open_port\": [8080\0], \"bogus\": 1}}";

	(void)state;
	assert_string_equal(refused(doc, sizeof(doc) - 1, NULL, "issue 22"),
	    "profile t.json: line 1 column 32: a NUL byte (JSON text "
	    "cannot contain one)");
}

/* Without the NUL the unknown key is found past the list, at its value. */
static void
test_unknown_key_after_a_list_is_located_at_its_value(void **state)
{
	static const char	doc[] =
	    "{\"network\": {\"open_port\": [8080], \"bogus\": 1}}";

	(void)state;
	assert_string_equal(refused(doc, sizeof(doc) - 1, NULL, "no nul"),
	    "profile t.json: line 1 column 44: network.bogus: unknown "
	    "field 'bogus'");
}

/*
 * The locator reads keys and skipped values with jansson: brackets and
 * quotes inside strings, escaped keys and nested lists are stepped over.
 */
static void
test_locator_skips_strings_escapes_and_nesting(void **state)
{
	static const char	doc[] =
	    "{\"network\": {\n"
	    "  \"allow_domain\": [\"]}\\\"{\", [[{\"x\": \"}\"}]], \"\\u005d\"],\n"
	    "  \"\\u0062ogus\": [1]\n"
	    "}}";

	(void)state;
	assert_string_equal(refused(doc, sizeof(doc) - 1, NULL, "escapes"),
	    "profile t.json: line 3 column 17: network.bogus: unknown "
	    "field 'bogus'");
}

/* A NUL at any offset is refused at that offset. */
static void
test_nul_at_every_offset_is_refused_there(void **state)
{
	char	buf[sizeof(valid) + 1];
	char	want[64], name[64];
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(valid); i++) {
		memcpy(buf, valid, i);
		buf[i] = '\0';
		memcpy(buf + i + 1, valid + i, sizeof(valid) - 1 - i);
		snprintf(want, sizeof(want), "line 1 column %zu: a NUL byte",
		    i + 1);
		snprintf(name, sizeof(name), "nul inserted at %zu", i);
		refused(buf, sizeof(valid), want, name);
		if (i < sizeof(valid) - 1) {
			memcpy(buf, valid, sizeof(valid) - 1);
			buf[i] = '\0';
			snprintf(name, sizeof(name), "nul replacing %zu", i);
			refused(buf, sizeof(valid) - 1, want, name);
		}
	}
}

/* Every proper prefix of a valid profile is an error. */
static void
test_truncation_at_every_offset_is_an_error(void **state)
{
	char	*buf;
	char	 name[64];
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(valid) - 1; i++) {
		/* an exact-size copy, so ASan sees any read past the end */
		buf = xmalloc(i + 1);
		memcpy(buf, valid, i);
		snprintf(name, sizeof(name), "truncated to %zu", i);
		refused(buf, i, NULL, name);
		free(buf);
	}
}

/* n copies of open, then tail, then n copies of close; owned. */
static char *
nest(size_t n, const char *open, const char *tail, const char *close,
    const char *head, size_t *lenp)
{
	size_t	 ho = strlen(head), o = strlen(open), t = strlen(tail),
		 c = strlen(close), i, len;
	char	*s, *p;

	len = ho + n * o + t + n * c + 2;
	p = s = xmalloc(len + 32);	/* room for a tail */
	memcpy(p, head, ho);
	p += ho;
	for (i = 0; i < n; i++, p += o)
		memcpy(p, open, o);
	memcpy(p, tail, t);
	p += t;
	for (i = 0; i < n; i++, p += c)
		memcpy(p, close, c);
	memcpy(p, "}}", 2);
	p += 2;
	*p = '\0';
	*lenp = (size_t)(p - s);
	return s;
}

static void
test_deep_nesting_is_an_error(void **state)
{
	char	*s;
	size_t	 len;

	(void)state;
	/* past jansson's depth limit */
	s = nest(100000, "[", "1", "]", "{\"network\": {\"block\": ", &len);
	refused(s, len, "depth", "100000 lists");
	free(s);
	s = nest(100000, "{\"a\": ", "1", "}", "{\"network\": {\"block\": ",
	    &len);
	refused(s, len, "depth", "100000 objects");
	free(s);
	/* within it: the locator steps over the deep value to the bad key */
	s = nest(1500, "[", "1", "]", "{\"network\": {\"open_port\": ", &len);
	memcpy(s + len - 2, ", \"bogus\": 1}}", 15);
	refused(s, len + 12, "column 3039: network.bogus: unknown field",
	    "1500 lists then an unknown key");
	free(s);
	/* unterminated */
	s = nest(1500, "[", "", "", "{\"network\": {\"open_port\": ", &len);
	refused(s, len - 2, NULL, "1500 open lists");
	free(s);
}

static void
test_huge_strings_are_errors(void **state)
{
	size_t	 n = PROFILE_FILE_MAX, len;
	char	*s = xmalloc(n + 64);

	(void)state;
	/* a huge value under an unknown key */
	len = (size_t)snprintf(s, 64, "{\"bogus\": \"");
	memset(s + len, 'A', n);
	len += n;
	memcpy(s + len, "\"}", 2);
	len += 2;
	refused(s, len, "line 1 column 11: bogus: unknown field",
	    "huge value");
	/* a huge unknown key: the message is cut at its buffer, not overrun */
	len = (size_t)snprintf(s, 64, "{\"");
	memset(s + len, 'B', n);
	len += n;
	memcpy(s + len, "\": 1}", 5);
	len += 5;
	refused(s, len, "line 1 column 1048582: BBBB", "huge key");
	/* unterminated */
	len = (size_t)snprintf(s, 64, "{\"meta\": {\"name\": \"");
	memset(s + len, 'C', n);
	len += n;
	refused(s, len, NULL, "huge unterminated string");
	free(s);
}

static void
test_invalid_utf8_is_an_error(void **state)
{
	static const char *const	docs[] = {
		"{\"meta\": {\"name\": \"\xff\"}}",
		"{\"\xc3\": 1}",
		"{\"meta\": {\"name\": \"\xc0\xaf\"}}",		/* overlong */
		"{\"meta\": {\"name\": \"\xed\xa0\x80\"}}",	/* surrogate */
		"{\"meta\": {\"name\": \"\xf4\x90\x80\x80\"}}",	/* > U+10FFFF */
		"{\"network\": {\"open_port\": [8080\xc3\xa9]}}",
		"\xef\xbb\xbf{}",				/* a BOM */
	};
	char				 name[32];
	size_t				 i;

	(void)state;
	for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		snprintf(name, sizeof(name), "utf-8 case %zu", i);
		refused(docs[i], strlen(docs[i]), NULL, name);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_table_profile_parses),
		cmocka_unit_test(
		    test_nul_after_a_number_before_an_unknown_key_is_refused_at_once),
		cmocka_unit_test(
		    test_unknown_key_after_a_list_is_located_at_its_value),
		cmocka_unit_test(test_locator_skips_strings_escapes_and_nesting),
		cmocka_unit_test(test_nul_at_every_offset_is_refused_there),
		cmocka_unit_test(test_truncation_at_every_offset_is_an_error),
		cmocka_unit_test(test_deep_nesting_is_an_error),
		cmocka_unit_test(test_huge_strings_are_errors),
		cmocka_unit_test(test_invalid_utf8_is_an_error),
	};

	signal(SIGALRM, on_alarm);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
