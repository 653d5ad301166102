#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/hosts.h"

/* The text form of v[i]. */
static const char *
ntop(const struct sockaddr_storage *v, size_t i, char *buf, size_t len)
{
	if (v[i].ss_family == AF_INET)
		return inet_ntop(AF_INET,
		    &((const struct sockaddr_in *)&v[i])->sin_addr, buf,
		    (socklen_t)len);
	return inet_ntop(AF_INET6,
	    &((const struct sockaddr_in6 *)&v[i])->sin6_addr, buf,
	    (socklen_t)len);
}

static void
test_hosts_names_get_their_addresses_in_file_order(void **state)
{
	struct hosts		*h;
	struct sockaddr_storage	 v[8];
	char			 t[INET6_ADDRSTRLEN];
	size_t			 n;

	(void)state;
	h = hosts_new_text("# comment\n"
	    "127.0.0.1\tlocalhost\n"
	    "::1 localhost ip6-localhost # trailing comment\n"
	    "10.9.8.7 DB.Internal db  \r\n"
	    "fd00::7 db.internal\n"
	    "10.9.8.8 db.internal.\n"		/* final dot: same name */
	    "10.9.8.7 db.internal\n"		/* twice: once */
	    "fe80::1%eth0 scoped.test\n"	/* scoped: skipped */
	    "not-an-address bad.test\n"
	    "#10.1.1.1 commented.test\n"
	    "10.1.1.2");			/* no name, no newline */
	assert_true(hosts_lookup(h, "db.internal", v, 8, &n));
	assert_int_equal(n, 3);
	assert_string_equal(ntop(v, 0, t, sizeof(t)), "10.9.8.7");
	assert_string_equal(ntop(v, 1, t, sizeof(t)), "fd00::7");
	assert_string_equal(ntop(v, 2, t, sizeof(t)), "10.9.8.8");
	assert_true(hosts_lookup(h, "db", v, 8, &n));
	assert_int_equal(n, 1);
	assert_true(hosts_lookup(h, "localhost", v, 8, &n));
	assert_int_equal(n, 2);
	assert_true(hosts_lookup(h, "ip6-localhost", v, 8, &n));
	assert_int_equal(n, 1);
	assert_int_equal(v[0].ss_family, AF_INET6);
	/* At most max. */
	assert_true(hosts_lookup(h, "db.internal", v, 1, &n));
	assert_int_equal(n, 1);
	hosts_free(h);
}

static void
test_hosts_unknown_odd_and_commented_names_are_not_found(void **state)
{
	struct hosts		*h;
	struct sockaddr_storage	 v[4];
	size_t			 n = 99;

	(void)state;
	h = hosts_new_text("10.9.8.7 db.internal\nfe80::1%eth0 scoped.test\n"
	    "x bad.test\n#10.1.1.1 commented.test\n");
	assert_false(hosts_lookup(h, "scoped.test", v, 4, &n));
	assert_int_equal(n, 0);
	assert_false(hosts_lookup(h, "bad.test", v, 4, &n));
	assert_false(hosts_lookup(h, "commented.test", v, 4, &n));
	assert_false(hosts_lookup(h, "db.internal.evil", v, 4, &n));
	assert_false(hosts_lookup(h, "internal", v, 4, &n));
	assert_false(hosts_lookup(h, "", v, 4, &n));
	assert_false(hosts_lookup(NULL, "db.internal", v, 4, &n));
	hosts_free(h);
	hosts_free(NULL);
}

static void
test_hosts_large_file_is_searched(void **state)
{
	struct hosts		*h;
	struct sockaddr_storage	 v[4];
	char			*text, *p;
	size_t			 n, i;

	(void)state;
	text = malloc(100000 * 40);
	assert_non_null(text);
	for (i = 0, p = text; i < 100000; i++)
		p += sprintf(p, "0.0.0.0 ad%zu.example\n", 99999 - i);
	h = hosts_new_text(text);
	free(text);
	assert_true(hosts_lookup(h, "ad0.example", v, 4, &n));
	assert_int_equal(n, 1);
	assert_true(hosts_lookup(h, "ad99999.example", v, 4, &n));
	assert_true(hosts_lookup(h, "ad50000.example", v, 4, &n));
	assert_false(hosts_lookup(h, "ad100000.example", v, 4, &n));
	hosts_free(h);
}

static void
test_hosts_file_edit_is_seen_after_the_check_interval(void **state)
{
	struct hosts		*h;
	struct sockaddr_storage	 v[4];
	char			 path[] = "/tmp/keyhole-hosts-XXXXXX";
	size_t			 n;
	FILE			*f;
	int			 fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd != -1);
	assert_true(write(fd, "10.0.0.1 one.test\n", 18) == 18);
	close(fd);
	h = hosts_new(path);
	assert_true(hosts_lookup(h, "one.test", v, 4, &n));
	assert_false(hosts_lookup(h, "two.test", v, 4, &n));
	f = fopen(path, "a");
	assert_non_null(f);
	fputs("10.0.0.2 two.test\n", f);
	fclose(f);
	usleep(HOSTS_CHECK_S * 1000000 + 100000);
	assert_true(hosts_lookup(h, "two.test", v, 4, &n));
	assert_int_equal(n, 1);
	unlink(path);
	usleep(HOSTS_CHECK_S * 1000000 + 100000);
	/* Gone: no names. */
	assert_false(hosts_lookup(h, "one.test", v, 4, &n));
	hosts_free(h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_hosts_names_get_their_addresses_in_file_order),
		cmocka_unit_test(
		    test_hosts_unknown_odd_and_commented_names_are_not_found),
		cmocka_unit_test(test_hosts_large_file_is_searched),
		cmocka_unit_test(
		    test_hosts_file_edit_is_seen_after_the_check_interval),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
