#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <string.h>

#include "sandbox/dnsd.h"

static void
test_resolv_conf_nameservers_are_read_in_order(void **state)
{
	struct sockaddr_storage	 v[DNSD_MAX_SERVERS];
	char			 text[INET6_ADDRSTRLEN];
	size_t			 n;

	(void)state;
	n = sandbox_dnsd_servers("# comment\nsearch example.com\n"
	    "nameserver 10.53.0.1\n"
	    "nameserver\t127.0.0.53 # systemd\n"
	    "nameserver 10.53.0.1\n"		/* twice: once */
	    "nameserver fe80::1%eth0\n"		/* link-local: not served */
	    "nameserver ::1\n"
	    "nameserver not-an-address\n"
	    "options edns0 timeout:1\n", v, DNSD_MAX_SERVERS);
	assert_int_equal(n, 3);
	assert_int_equal(v[0].ss_family, AF_INET);
	inet_ntop(AF_INET, &((struct sockaddr_in *)&v[0])->sin_addr, text,
	    sizeof(text));
	assert_string_equal(text, "10.53.0.1");
	inet_ntop(AF_INET, &((struct sockaddr_in *)&v[1])->sin_addr, text,
	    sizeof(text));
	assert_string_equal(text, "127.0.0.53");
	assert_int_equal(v[2].ss_family, AF_INET6);
	assert_true(IN6_IS_ADDR_LOOPBACK(
	    &((struct sockaddr_in6 *)&v[2])->sin6_addr));
}

static void
test_resolv_conf_without_nameserver_gives_none(void **state)
{
	struct sockaddr_storage	 v[DNSD_MAX_SERVERS];

	(void)state;
	assert_int_equal(sandbox_dnsd_servers("search x\n", v,
	    DNSD_MAX_SERVERS), 0);
	assert_int_equal(sandbox_dnsd_servers("", v, DNSD_MAX_SERVERS), 0);
	/* At most max. */
	assert_int_equal(sandbox_dnsd_servers("nameserver 1.1.1.1\n"
	    "nameserver 1.0.0.1\nnameserver 8.8.8.8\n", v, 2), 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_resolv_conf_nameservers_are_read_in_order),
		cmocka_unit_test(
		    test_resolv_conf_without_nameserver_gives_none),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
