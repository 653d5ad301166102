#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "proxy/audit.h"
#include "util/log.h"
#include "util/strbuf.h"

/* A fresh temporary directory per test, removed in teardown. */
static char	tmpdir[64];
static char	logpath[128];

static int
setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/keyhole-audit-XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(logpath, sizeof(logpath), "%s/audit.log", tmpdir);
	log_set_level(LOG_WARN);
	return 0;
}

static int
teardown(void **state)
{
	char	p[160];

	(void)state;
	unlink(logpath);
	snprintf(p, sizeof(p), "%s/fifo", tmpdir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/stderr", tmpdir);
	unlink(p);
	rmdir(tmpdir);
	log_set_level(LOG_WARN);
	return 0;
}

/* The whole of file path, NUL-terminated; caller frees. */
static char *
slurp(const char *path)
{
	FILE	*f = fopen(path, "r");
	char	*s;
	long	 n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	s = calloc(1, (size_t)n + 1);
	assert_non_null(s);
	assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return s;
}

/* The lines of s (s is modified); at most max, returns the count. */
static size_t
split_lines(char *s, char **lines, size_t max)
{
	size_t	 n = 0;
	char	*nl;

	while (*s != '\0') {
		nl = strchr(s, '\n');
		assert_non_null(nl);	/* every line is terminated */
		*nl = '\0';
		assert_true(n < max);
		lines[n++] = s;
		s = nl + 1;
	}
	return n;
}

/* Capture what f(arg) writes to stderr. */
static char *
capture_stderr(void (*f)(void *), void *arg)
{
	char	 p[160], *s;
	int	 fd, saved;

	snprintf(p, sizeof(p), "%s/stderr", tmpdir);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd != -1);
	fflush(stderr);
	saved = dup(2);
	assert_true(saved != -1);
	assert_int_equal(dup2(fd, 2), 2);
	close(fd);
	f(arg);
	fflush(stderr);
	assert_int_equal(dup2(saved, 2), 2);
	close(saved);
	s = slurp(p);
	unlink(p);
	return s;
}

static void
assert_redacts(const char *in, const char *want)
{
	struct strbuf	b = { 0 };

	proxy_audit_redact_path(&b, in);
	assert_string_equal(strbuf_str(&b), want);
	strbuf_free(&b);
}

static void
test_audit_redact_leaves_path_without_query(void **state)
{
	(void)state;
	assert_redacts("/x", "/x");
	assert_redacts("/", "/");
	assert_redacts("", "");
	assert_redacts("/a=b&c=d", "/a=b&c=d");
}

static void
test_audit_redact_replaces_every_query_value(void **state)
{
	(void)state;
	assert_redacts("/x?a=1&b=2", "/x?a=REDACTED&b=REDACTED");
	assert_redacts("/v1/models?key=sk-secret",
	    "/v1/models?key=REDACTED");
	assert_redacts("/x?a=1=2", "/x?a=REDACTED");
	assert_redacts("/x?a=", "/x?a=REDACTED");
}

static void
test_audit_redact_keeps_flags_without_value(void **state)
{
	(void)state;
	assert_redacts("/x?flag&k=v", "/x?flag&k=REDACTED");
	assert_redacts("/x?k=v&flag", "/x?k=REDACTED&flag");
}

static void
test_audit_redact_handles_empty_query(void **state)
{
	(void)state;
	assert_redacts("/x?", "/x?");
	assert_redacts("/x?&", "/x?&");
	assert_redacts("/x?a=1&&b=2", "/x?a=REDACTED&&b=REDACTED");
}

static void
test_audit_redact_handles_empty_name(void **state)
{
	(void)state;
	assert_redacts("/x?=v", "/x?=REDACTED");
	assert_redacts("/x?=", "/x?=REDACTED");
}

static void
test_audit_redact_treats_later_question_marks_as_query(void **state)
{
	(void)state;
	assert_redacts("/x?a=b?c=d", "/x?a=REDACTED");
	assert_redacts("/x?a=1&b=?&c=3", "/x?a=REDACTED&b=REDACTED&c=REDACTED");
}

static const struct audit_rec deny_rec = {
	.mode = "connect",
	.allow = false,
	.host = "evil.example",
	.port = 443,
	.service = NULL,
	.method = "CONNECT",
	.path = NULL,
	.status = 403,
	.reason = "not in allow-list",
	.bytes_up = 0,
	.bytes_down = 0,
	.ms = -1,
};

static const struct audit_rec allow_rec = {
	.mode = "reverse",
	.allow = true,
	.host = "api.example.com",
	.port = -1,
	.service = "openai",
	.method = "POST",
	.path = "/v1/chat?key=sk-live-123&stream",
	.status = 0,
	.reason = "route openai",
	.bytes_up = 12345678901ULL,
	.bytes_down = 42,
	.ms = 17,
};

/* Parse a line with jansson; it must be one JSON object. */
static json_t *
load(const char *line)
{
	json_error_t	 err;
	json_t		*j = json_loads(line, JSON_REJECT_DUPLICATES, &err);

	if (j == NULL)
		fail_msg("not JSON (%s): %s", err.text, line);
	assert_true(json_is_object(j));
	return j;
}

static void
assert_key_str(json_t *j, const char *key, const char *want)
{
	json_t	*v = json_object_get(j, key);

	if (v == NULL)
		fail_msg("key %s missing", key);
	if (want == NULL) {
		if (!json_is_null(v))
			fail_msg("key %s is not null", key);
		return;
	}
	if (!json_is_string(v))
		fail_msg("key %s is not a string", key);
	assert_string_equal(json_string_value(v), want);
}

static void
assert_key_int(json_t *j, const char *key, long long want)
{
	json_t	*v = json_object_get(j, key);

	if (v == NULL || !json_is_integer(v))
		fail_msg("key %s missing or not an integer", key);
	assert_int_equal(json_integer_value(v), want);
}

static void
assert_key_null(json_t *j, const char *key)
{
	json_t	*v = json_object_get(j, key);

	if (v == NULL || !json_is_null(v))
		fail_msg("key %s missing or not null", key);
}

/* Exactly the SPEC §4.8 keys, in order on the wire. */
static const char *const keys[] = {
	"ts", "mode", "decision", "host", "port", "service", "method",
	"path", "status", "reason", "bytes_up", "bytes_down", "ms",
};

static void
assert_exact_keys(json_t *j, const char *line)
{
	size_t		 i;
	const char	*prev = line, *at;
	char		 q[32];

	assert_int_equal(json_object_size(j), sizeof(keys) / sizeof(keys[0]));
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (json_object_get(j, keys[i]) == NULL)
			fail_msg("key %s missing: %s", keys[i], line);
		snprintf(q, sizeof(q), "\"%s\":", keys[i]);
		at = strstr(line, q);
		assert_non_null(at);
		assert_true(at >= prev);
		prev = at;
	}
}

/* ts is YYYY-MM-DDTHH:MM:SS.mmmZ and within a minute of now. */
static void
assert_timestamp(json_t *j)
{
	const char	*ts = json_string_value(json_object_get(j, "ts"));
	const char	*shape = "dddd-dd-ddTdd:dd:dd.dddZ";
	struct tm	 tm;
	time_t		 t, now = time(NULL);
	size_t		 i;

	assert_non_null(ts);
	assert_int_equal(strlen(ts), strlen(shape));
	for (i = 0; shape[i] != '\0'; i++) {
		if (shape[i] == 'd') {
			if (!isdigit((unsigned char)ts[i]))
				fail_msg("ts %s: not a digit at %zu", ts, i);
		} else if (ts[i] != shape[i])
			fail_msg("ts %s: want '%c' at %zu", ts, shape[i], i);
	}
	memset(&tm, 0, sizeof(tm));
	assert_non_null(strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm));
	t = timegm(&tm);
	assert_true(t <= now + 1 && t >= now - 60);
}

static void
test_audit_writes_one_json_line_per_decision(void **state)
{
	struct errbuf	 e;
	struct audit	*a;
	char		*s, *lines[4];
	json_t		*d, *al;

	(void)state;
	a = proxy_audit_open(logpath, &e);
	assert_non_null(a);
	proxy_audit_write(a, &deny_rec);
	proxy_audit_write(a, &allow_rec);
	proxy_audit_free(a);

	s = slurp(logpath);
	assert_int_equal(split_lines(s, lines, 4), 2);

	d = load(lines[0]);
	assert_exact_keys(d, lines[0]);
	assert_timestamp(d);
	assert_key_str(d, "mode", "connect");
	assert_key_str(d, "decision", "deny");
	assert_key_str(d, "host", "evil.example");
	assert_key_int(d, "port", 443);
	assert_key_null(d, "service");
	assert_key_str(d, "method", "CONNECT");
	assert_key_null(d, "path");
	assert_key_int(d, "status", 403);
	assert_key_str(d, "reason", "not in allow-list");
	assert_key_int(d, "bytes_up", 0);
	assert_key_int(d, "bytes_down", 0);
	assert_key_null(d, "ms");

	al = load(lines[1]);
	assert_exact_keys(al, lines[1]);
	assert_timestamp(al);
	assert_key_str(al, "mode", "reverse");
	assert_key_str(al, "decision", "allow");
	assert_key_str(al, "host", "api.example.com");
	assert_key_null(al, "port");
	assert_key_str(al, "service", "openai");
	assert_key_str(al, "method", "POST");
	assert_key_str(al, "path", "/v1/chat?key=REDACTED&stream");
	assert_key_null(al, "status");
	assert_key_str(al, "reason", "route openai");
	assert_key_int(al, "bytes_up", 12345678901LL);
	assert_key_int(al, "bytes_down", 42);
	assert_key_int(al, "ms", 17);

	json_decref(d);
	json_decref(al);
	free(s);
}

static void
test_audit_never_writes_query_values(void **state)
{
	struct errbuf	 e;
	struct audit	*a;
	char		*s;

	(void)state;
	a = proxy_audit_open(logpath, &e);
	assert_non_null(a);
	proxy_audit_write(a, &allow_rec);
	proxy_audit_free(a);
	s = slurp(logpath);
	assert_null(strstr(s, "sk-live-123"));
	free(s);
}

static void
test_audit_null_host_and_zero_ms_status(void **state)
{
	struct errbuf		 e;
	struct audit		*a;
	struct audit_rec	 r = { .mode = "direct", .allow = false,
	    .host = NULL, .port = 0, .status = 0, .ms = 0 };
	char			*s, *lines[2];
	json_t			*j;

	(void)state;
	a = proxy_audit_open(logpath, &e);
	assert_non_null(a);
	proxy_audit_write(a, &r);
	proxy_audit_free(a);
	s = slurp(logpath);
	assert_int_equal(split_lines(s, lines, 2), 1);
	j = load(lines[0]);
	assert_exact_keys(j, lines[0]);
	assert_key_null(j, "host");
	assert_key_int(j, "port", 0);		/* only -1 is null */
	assert_key_null(j, "status");
	assert_key_null(j, "reason");
	assert_key_null(j, "method");
	assert_key_int(j, "ms", 0);		/* only -1 is null */
	json_decref(j);
	free(s);
}

static void
test_audit_counts_denials(void **state)
{
	struct errbuf	 e;
	struct audit	*a;

	(void)state;
	a = proxy_audit_open(logpath, &e);
	assert_non_null(a);
	assert_int_equal(proxy_audit_denials(a), 0);
	proxy_audit_write(a, &deny_rec);
	proxy_audit_write(a, &allow_rec);
	proxy_audit_write(a, &deny_rec);
	proxy_audit_write(a, &allow_rec);
	proxy_audit_write(a, &deny_rec);
	assert_int_equal(proxy_audit_denials(a), 3);
	proxy_audit_free(a);
}

static void
test_audit_counts_denials_without_a_file(void **state)
{
	struct errbuf	 e;
	struct audit	*a;

	(void)state;
	a = proxy_audit_open(NULL, &e);
	assert_non_null(a);
	proxy_audit_write(a, &deny_rec);
	proxy_audit_write(a, &allow_rec);
	proxy_audit_write(a, &deny_rec);
	assert_int_equal(proxy_audit_denials(a), 2);
	proxy_audit_free(a);
	proxy_audit_free(NULL);
}

static void
test_audit_escapes_quote_and_control_bytes(void **state)
{
	const char		*host = "ev\"il\\.ex\001am\nple\x7f";
	struct errbuf		 e;
	struct audit		*a;
	struct audit_rec	 r = deny_rec;
	char			*s, *lines[2];
	json_t			*j;

	(void)state;
	r.host = host;
	r.reason = "a\r\n{\"decision\":\"allow\"}";
	a = proxy_audit_open(logpath, &e);
	assert_non_null(a);
	proxy_audit_write(a, &r);
	proxy_audit_free(a);
	s = slurp(logpath);
	/* One line: the newlines in the values are escaped. */
	assert_non_null(strstr(s, "\"host\":\"ev\\\"il\\\\.ex\\u0001am\\n"
	    "ple\\u007f\""));
	assert_int_equal(split_lines(s, lines, 2), 1);
	j = load(lines[0]);
	assert_exact_keys(j, lines[0]);
	assert_key_str(j, "host", host);
	assert_key_str(j, "reason", "a\r\n{\"decision\":\"allow\"}");
	assert_key_str(j, "decision", "deny");
	json_decref(j);
	free(s);
}

static void
test_audit_appends_to_an_existing_file(void **state)
{
	struct errbuf	 e;
	struct audit	*a;
	char		*s, *lines[4];
	FILE		*f;
	struct stat	 st;

	(void)state;
	f = fopen(logpath, "w");
	assert_non_null(f);
	fputs("{\"earlier\":1}\n", f);
	fclose(f);
	a = proxy_audit_open(logpath, &e);
	assert_non_null(a);
	proxy_audit_write(a, &deny_rec);
	proxy_audit_free(a);
	s = slurp(logpath);
	assert_int_equal(split_lines(s, lines, 4), 2);
	assert_string_equal(lines[0], "{\"earlier\":1}");
	free(s);

	/* A new file is private to the user. */
	unlink(logpath);
	a = proxy_audit_open(logpath, &e);
	assert_non_null(a);
	assert_int_equal(stat(logpath, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	proxy_audit_free(a);
}

static void
test_audit_open_fails_naming_the_path(void **state)
{
	struct errbuf	 e;
	char		 p[160], want[256];

	(void)state;
	snprintf(p, sizeof(p), "%s/no-such-dir/audit.log", tmpdir);
	errbuf_clear(&e);
	assert_null(proxy_audit_open(p, &e));
	snprintf(want, sizeof(want), "audit log %s: %s", p, strerror(ENOENT));
	assert_string_equal(errbuf_msg(&e), want);

	/* A directory (fails for root too). */
	errbuf_clear(&e);
	assert_null(proxy_audit_open(tmpdir, &e));
	snprintf(want, sizeof(want), "audit log %s: %s", tmpdir,
	    strerror(EISDIR));
	assert_string_equal(errbuf_msg(&e), want);
}

static struct audit	*full_audit;
static const char	*open_path;

static void
open_it(void *arg)
{
	full_audit = proxy_audit_open(open_path, arg);
}

static void
test_audit_fifo_without_reader_does_not_fail_open(void **state)
{
	struct errbuf	 e;
	char		 p[160], want[256], *out;

	(void)state;
	snprintf(p, sizeof(p), "%s/fifo", tmpdir);
	assert_int_equal(mkfifo(p, 0600), 0);
	open_path = p;
	out = capture_stderr(open_it, &e);
	assert_non_null(full_audit);
	snprintf(want, sizeof(want), "keyhole: warning: audit log %s: no "
	    "reader on the FIFO; audit lines are dropped\n", p);
	assert_string_equal(out, want);
	proxy_audit_write(full_audit, &deny_rec);
	assert_int_equal(proxy_audit_denials(full_audit), 1);
	proxy_audit_free(full_audit);
	free(out);
}

static void
write_twice(void *arg)
{
	(void)arg;
	proxy_audit_write(full_audit, &deny_rec);
	proxy_audit_write(full_audit, &deny_rec);
}

static void
test_audit_write_failure_is_reported_once(void **state)
{
	struct errbuf	 e;
	char		*out, *first;

	(void)state;
	if (access("/dev/full", W_OK) != 0)
		skip();
	full_audit = proxy_audit_open("/dev/full", &e);
	assert_non_null(full_audit);
	out = capture_stderr(write_twice, NULL);
	first = strstr(out, "keyhole: warning: audit log /dev/full: write "
	    "failed; further audit lines are dropped: ");
	if (first == NULL)
		fail_msg("no warning: %s", out);
	/* Nothing after that one line. */
	assert_string_equal(strchr(first, '\n'), "\n");
	assert_true(first == out);
	assert_int_equal(proxy_audit_denials(full_audit), 2);
	proxy_audit_free(full_audit);
	free(out);
}

static const struct audit_rec	*vrec;

static void
write_vrec(void *arg)
{
	(void)arg;
	proxy_audit_write(full_audit, vrec);
}

static void
test_audit_verbose_prints_one_line_per_decision(void **state)
{
	struct errbuf		 e;
	struct audit_rec	 r = allow_rec;
	char			*out;

	(void)state;
	full_audit = proxy_audit_open(NULL, &e);
	assert_non_null(full_audit);
	log_set_level(LOG_INFO);
	vrec = &deny_rec;
	out = capture_stderr(write_vrec, NULL);
	/* A denial names keyhole's policy and the flag that allows it. */
	assert_string_equal(out,
	    "keyhole: DENY CONNECT evil.example:443 403 not in allow-list "
	    "(keyhole policy; to allow it: --allow-domain evil.example "
	    "(profile: network.allow_domain))\n");
	free(out);

	/* The path is redacted on stderr too. */
	r.host = NULL;
	vrec = &r;
	out = capture_stderr(write_vrec, NULL);
	assert_string_equal(out, "keyhole: ALLOW POST /openai"
	    "/v1/chat?key=REDACTED&stream route openai\n");
	free(out);

	/* An IPv6 host (stored without brackets) gets them back. */
	r = deny_rec;
	r.host = "2001:db8::1";
	r.port = 8443;
	r.method = NULL;
	r.status = 0;
	out = capture_stderr(write_vrec, NULL);
	assert_string_equal(out,
	    "keyhole: DENY connect [2001:db8::1]:8443 not in allow-list "
	    "(keyhole policy; to allow it: --allow-domain [2001:db8::1]:8443 "
	    "(profile: network.allow_domain))\n");
	free(out);

	/* Default level: nothing. */
	log_set_level(LOG_WARN);
	vrec = &deny_rec;
	out = capture_stderr(write_vrec, NULL);
	assert_string_equal(out, "");
	free(out);
	proxy_audit_free(full_audit);
}

static void
test_audit_verbose_line_cannot_forge_lines(void **state)
{
	struct errbuf		 e;
	struct audit_rec	 r = deny_rec;
	char			*out;

	(void)state;
	full_audit = proxy_audit_open(NULL, &e);
	assert_non_null(full_audit);
	log_set_level(LOG_INFO);
	r.host = "a\nkeyhole: ALLOW CONNECT b";
	vrec = &r;
	out = capture_stderr(write_vrec, NULL);
	assert_non_null(strchr(out, '\n'));
	assert_string_equal(strchr(out, '\n'), "\n");	/* only at the end */
	free(out);
	proxy_audit_free(full_audit);
}

/* The block after a run (SPEC §4.11), from the denials written to a. */
static char *
block(struct audit *a, bool fs_reported)
{
	struct strbuf	b = { 0 };
	char		*s;

	proxy_audit_violations(a, fs_reported, &b);
	s = strdup(strbuf_str(&b));
	strbuf_free(&b);
	assert_non_null(s);
	return s;
}

static void
test_audit_violations_one_line_per_distinct_denial_with_counts(void **state)
{
	struct errbuf		 e;
	struct audit		*a;
	struct audit_rec	 direct = { 0 }, metadata = deny_rec;
	char			*out;

	(void)state;
	a = proxy_audit_open(NULL, &e);
	assert_non_null(a);
	direct.mode = "direct";
	direct.host = "203.0.113.9";
	direct.port = 8443;
	direct.reason = "no direct grant for this address and port";
	direct.ms = -1;
	metadata.host = "169.254.169.254";
	metadata.port = 80;
	metadata.method = "GET";
	metadata.reason = "address 169.254.169.254 is cloud metadata";
	proxy_audit_write(a, &deny_rec);
	proxy_audit_write(a, &allow_rec);
	proxy_audit_write(a, &direct);
	proxy_audit_write(a, &deny_rec);
	proxy_audit_write(a, &metadata);
	proxy_audit_write(a, &deny_rec);
	out = block(a, false);
	assert_string_equal(out,
	    "<sandbox_violations>\n"
	    "network CONNECT evil.example:443: not in allow-list (3 times); "
	    "to allow it: --allow-domain evil.example "
	    "(profile: network.allow_domain)\n"
	    "direct 203.0.113.9:8443: no direct grant for this address and "
	    "port (1 time); go through the proxy (HTTPS_PROXY), or a direct "
	    "grant: --allow-domain 203.0.113.9:8443 "
	    "(profile: network.allow_domain)\n"
	    "network GET 169.254.169.254:80: address 169.254.169.254 is cloud "
	    "metadata (1 time); nothing allows this: cloud metadata addresses "
	    "are always denied\n"
	    "filesystem denials are not reported here: an EACCES or EPERM "
	    "from a file operation is the sandbox's filesystem policy "
	    "(keyhole why --path PATH explains one)\n"
	    "</sandbox_violations>\n");
	free(out);
	/* Where the kernel reports them, no such line. */
	out = block(a, true);
	assert_null(strstr(out, "filesystem denials are not reported"));
	free(out);
	proxy_audit_free(a);
}

static void
test_audit_violations_nothing_without_denials(void **state)
{
	struct errbuf	 e;
	struct audit	*a;
	char		*out;

	(void)state;
	a = proxy_audit_open(NULL, &e);
	assert_non_null(a);
	proxy_audit_write(a, &allow_rec);
	out = block(a, false);
	assert_string_equal(out, "");
	free(out);
	proxy_audit_free(a);
}

static void
test_audit_violations_stay_bounded_with_10000_denials(void **state)
{
	struct errbuf		 e;
	struct audit		*a;
	struct audit_rec	 r = deny_rec;
	char			 host[300], *out, *p;
	size_t			 i, lines = 0;

	(void)state;
	a = proxy_audit_open(NULL, &e);
	assert_non_null(a);
	for (i = 0; i < 10000; i++) {
		/* every one a new, long host name */
		snprintf(host, sizeof(host), "h%zu.%0250d.example", i, 0);
		r.host = host;
		proxy_audit_write(a, &r);
	}
	assert_int_equal(proxy_audit_denials(a), 10000);
	out = block(a, false);
	for (p = out; (p = strchr(p, '\n')) != NULL; p++)
		lines++;
	/* open, AUDIT_VIOL_MAX lines, the rest, filesystem, close */
	assert_int_equal(lines, AUDIT_VIOL_MAX + 4);
	assert_true(strlen(out) < (AUDIT_VIOL_MAX + 4) * AUDIT_VIOL_LINE_MAX);
	assert_non_null(strstr(out, "... and 9968 more denials of other "
	    "targets"));
	free(out);
	proxy_audit_free(a);
}

static void
test_audit_violations_cannot_forge_lines(void **state)
{
	struct errbuf		 e;
	struct audit		*a;
	struct audit_rec	 r = deny_rec;
	char			*out;

	(void)state;
	a = proxy_audit_open(NULL, &e);
	assert_non_null(a);
	r.host = "a\n</sandbox_violations>\nnetwork b";
	proxy_audit_write(a, &r);
	out = block(a, true);
	assert_non_null(strstr(out, "a\\x0a</sandbox_violations>"));
	/* three lines: the tags and the one denial */
	assert_non_null(strchr(out, '\n'));
	assert_non_null(strchr(strchr(out, '\n') + 1, '\n'));
	assert_string_equal(strchr(strchr(strchr(out, '\n') + 1, '\n') + 1,
	    '\n'), "\n");
	free(out);
	proxy_audit_free(a);
}

static void
test_audit_would_deny_is_its_own_decision_and_suggested(void **state)
{
	struct errbuf		 e;
	struct audit		*a;
	struct audit_rec	 r = allow_rec, f = deny_rec;
	struct strbuf		 b = { 0 };
	char			*s;

	(void)state;
	a = proxy_audit_open(logpath, &e);
	assert_non_null(a);
	/* a CONNECT on 443, a forward on 80 and one on 8080, twice each */
	f.allow = true;
	f.would_deny = true;
	f.status = 200;
	r.mode = "forward";
	r.service = NULL;
	r.host = "b.example";
	r.port = 80;
	r.allow = true;
	r.would_deny = true;
	proxy_audit_write(a, &f);
	proxy_audit_write(a, &f);
	proxy_audit_write(a, &r);
	r.port = 8080;
	proxy_audit_write(a, &r);
	proxy_audit_write(a, &r);
	assert_int_equal(proxy_audit_denials(a), 0);
	proxy_audit_report_only(a, &b);
	assert_string_equal(strbuf_str(&b),
	    "keyhole: report-only: 3 destinations outside the allow-list "
	    "were used; to allow exactly these:\n"
	    "keyhole:   --allow-domain evil.example --allow-domain b.example "
	    "--allow-domain b.example:8080\n"
	    "keyhole:   profile: {\"network\": {\"allow_domain\": "
	    "[\"evil.example\", \"b.example\", \"b.example:8080\"]}}\n");
	strbuf_free(&b);
	proxy_audit_free(a);
	s = slurp(logpath);
	assert_non_null(strstr(s, "\"decision\":\"would_deny\""));
	assert_null(strstr(s, "\"decision\":\"allow\""));
	free(s);
}

static void
test_audit_report_only_says_when_nothing_was_outside(void **state)
{
	struct errbuf	 e;
	struct audit	*a;
	struct strbuf	 b = { 0 };

	(void)state;
	a = proxy_audit_open(NULL, &e);
	assert_non_null(a);
	proxy_audit_write(a, &allow_rec);
	proxy_audit_report_only(a, &b);
	assert_string_equal(strbuf_str(&b), "keyhole: report-only: nothing "
	    "outside the allow-list was used\n");
	strbuf_free(&b);
	proxy_audit_free(a);
}

static void
test_audit_report_only_is_bounded(void **state)
{
	struct errbuf		 e;
	struct audit		*a;
	struct audit_rec	 r = deny_rec;
	struct strbuf		 b = { 0 };
	char			 host[64];
	size_t			 i;

	(void)state;
	a = proxy_audit_open(NULL, &e);
	assert_non_null(a);
	r.allow = r.would_deny = true;
	for (i = 0; i < 1000; i++) {
		snprintf(host, sizeof(host), "h%zu.example", i);
		r.host = host;
		proxy_audit_write(a, &r);
	}
	proxy_audit_report_only(a, &b);
	assert_non_null(strstr(strbuf_str(&b), "64 destinations"));
	assert_non_null(strstr(strbuf_str(&b), "(and 936 more, not listed"));
	assert_null(strstr(strbuf_str(&b), "h64.example"));
	strbuf_free(&b);
	proxy_audit_free(a);
}

static void
test_audit_report_only_names_a_group_half_of_whose_hosts_were_used(
    void **state)
{
	struct errbuf		 e;
	struct audit		*a;
	struct audit_rec	 r = deny_rec;
	struct strbuf		 b = { 0 };
	static const char	*hosts[] = { "rekor.sigstore.dev",
	    "api.github.com", "fulcio.sigstore.dev", "x.example" };
	size_t			 i;

	(void)state;
	a = proxy_audit_open(NULL, &e);
	assert_non_null(a);
	r.allow = r.would_deny = true;
	/* sigstore has 4 hosts: 2 used is half; github's one is kept. */
	for (i = 0; i < 4; i++) {
		r.host = hosts[i];
		r.port = i == 1 ? 8443 : 443;
		proxy_audit_write(a, &r);
	}
	proxy_audit_report_only(a, &b);
	assert_string_equal(strbuf_str(&b),
	    "keyhole: report-only: 4 destinations outside the allow-list "
	    "were used; to allow them:\n"
	    "keyhole:   --allow-domain sigstore --allow-domain "
	    "api.github.com:8443 --allow-domain x.example\n"
	    "keyhole:   profile: {\"network\": {\"allow_domain\": "
	    "[\"sigstore\", \"api.github.com:8443\", \"x.example\"]}}\n"
	    "keyhole:   (sigstore is a network-policy group: 4 hosts; list "
	    "the hosts instead to allow only those used)\n");
	strbuf_free(&b);
	proxy_audit_free(a);
}

int
main(void)
{
#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_audit_redact_leaves_path_without_query),
		T(test_audit_report_only_names_a_group_half_of_whose_hosts_were_used),
		T(test_audit_redact_replaces_every_query_value),
		T(test_audit_redact_keeps_flags_without_value),
		T(test_audit_redact_handles_empty_query),
		T(test_audit_redact_handles_empty_name),
		T(test_audit_redact_treats_later_question_marks_as_query),
		T(test_audit_writes_one_json_line_per_decision),
		T(test_audit_never_writes_query_values),
		T(test_audit_null_host_and_zero_ms_status),
		T(test_audit_counts_denials),
		T(test_audit_counts_denials_without_a_file),
		T(test_audit_escapes_quote_and_control_bytes),
		T(test_audit_appends_to_an_existing_file),
		T(test_audit_open_fails_naming_the_path),
		T(test_audit_fifo_without_reader_does_not_fail_open),
		T(test_audit_write_failure_is_reported_once),
		T(test_audit_verbose_prints_one_line_per_decision),
		T(test_audit_verbose_line_cannot_forge_lines),
		T(test_audit_violations_one_line_per_distinct_denial_with_counts),
		T(test_audit_violations_nothing_without_denials),
		T(test_audit_violations_stay_bounded_with_10000_denials),
		T(test_audit_violations_cannot_forge_lines),
		T(test_audit_would_deny_is_its_own_decision_and_suggested),
		T(test_audit_report_only_says_when_nothing_was_outside),
		T(test_audit_report_only_is_bounded),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
