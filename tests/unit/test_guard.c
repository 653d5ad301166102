#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <string.h>

#include "proxy/guard.h"

/* A sockaddr for text address a and port. */
static const struct sockaddr *
addr(struct sockaddr_storage *ss, const char *a, uint16_t port)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, a, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
	} else {
		assert_int_equal(inet_pton(AF_INET6, a, &sin6->sin6_addr), 1);
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
	}
	return (const struct sockaddr *)ss;
}

static enum guard_class
classify(const char *a)
{
	struct sockaddr_storage	ss;

	return proxy_guard_classify(addr(&ss, a, 443));
}

/* Check a on port 443; returns the result, message in e. */
static int
check(const char *a, bool explicit, struct errbuf *e)
{
	struct sockaddr_storage	ss;

	errbuf_clear(e);
	return proxy_guard_check(addr(&ss, a, 443), NULL, explicit, e);
}

static void
assert_denied(const char *a, bool explicit, const char *msg)
{
	struct errbuf	e;

	assert_int_equal(check(a, explicit, &e), -1);
	assert_string_equal(errbuf_msg(&e), msg);
}

static void
assert_allowed(const char *a, bool explicit)
{
	struct errbuf	e;

	assert_int_equal(check(a, explicit, &e), 0);
}

static void
test_guard_classifies_metadata_v4(void **state)
{
	(void)state;
	assert_int_equal(classify("169.254.169.254"), GUARD_METADATA);
	assert_int_equal(classify("100.100.100.200"), GUARD_METADATA);
	assert_int_equal(classify("168.63.129.16"), GUARD_METADATA);
}

static void
test_guard_classifies_metadata_v6(void **state)
{
	(void)state;
	assert_int_equal(classify("fd00:ec2::254"), GUARD_METADATA);
	assert_int_equal(classify("fd00:ec2::255"), GUARD_PUBLIC);
}

static void
test_guard_classifies_loopback(void **state)
{
	(void)state;
	assert_int_equal(classify("127.0.0.1"), GUARD_LOOPBACK);
	assert_int_equal(classify("127.255.255.254"), GUARD_LOOPBACK);
	assert_int_equal(classify("::1"), GUARD_LOOPBACK);
	assert_int_equal(classify("126.255.255.255"), GUARD_PUBLIC);
	assert_int_equal(classify("128.0.0.1"), GUARD_PUBLIC);
}

static void
test_guard_classifies_unspecified(void **state)
{
	(void)state;
	assert_int_equal(classify("0.0.0.0"), GUARD_UNSPECIFIED);
	assert_int_equal(classify("0.1.2.3"), GUARD_UNSPECIFIED);
	assert_int_equal(classify("::"), GUARD_UNSPECIFIED);
}

static void
test_guard_classifies_link_local(void **state)
{
	(void)state;
	assert_int_equal(classify("169.254.0.1"), GUARD_LINKLOCAL);
	assert_int_equal(classify("169.254.255.255"), GUARD_LINKLOCAL);
	assert_int_equal(classify("fe80::1"), GUARD_LINKLOCAL);
	assert_int_equal(classify("febf::1"), GUARD_LINKLOCAL);
	assert_int_equal(classify("fec0::1"), GUARD_PUBLIC);
	assert_int_equal(classify("169.253.255.255"), GUARD_PUBLIC);
	assert_int_equal(classify("169.255.0.0"), GUARD_PUBLIC);
}

static void
test_guard_classifies_multicast_broadcast_reserved(void **state)
{
	(void)state;
	assert_int_equal(classify("224.0.0.1"), GUARD_MULTICAST);
	assert_int_equal(classify("239.255.255.250"), GUARD_MULTICAST);
	assert_int_equal(classify("240.0.0.1"), GUARD_MULTICAST);
	assert_int_equal(classify("255.255.255.255"), GUARD_MULTICAST);
	assert_int_equal(classify("ff02::1"), GUARD_MULTICAST);
	assert_int_equal(classify("ff05::1:3"), GUARD_MULTICAST);
	assert_int_equal(classify("223.255.255.255"), GUARD_PUBLIC);
}

/* S9, S10, filter.rs 43: private networks are allowed. */
static void
test_guard_private_ranges_are_public(void **state)
{
	(void)state;
	assert_int_equal(classify("10.0.0.1"), GUARD_PUBLIC);
	assert_int_equal(classify("172.16.0.1"), GUARD_PUBLIC);
	assert_int_equal(classify("172.31.255.255"), GUARD_PUBLIC);
	assert_int_equal(classify("192.168.1.1"), GUARD_PUBLIC);
	assert_int_equal(classify("100.64.0.1"), GUARD_PUBLIC);
	assert_int_equal(classify("100.127.255.255"), GUARD_PUBLIC);
	assert_int_equal(classify("fc00::1"), GUARD_PUBLIC);
	assert_int_equal(classify("fd12:3456::1"), GUARD_PUBLIC);
	assert_allowed("10.0.0.1", false);
	assert_allowed("192.168.1.1", false);
}

/* S15, filter.rs 41/42 */
static void
test_guard_public_addresses_pass(void **state)
{
	(void)state;
	assert_int_equal(classify("104.18.7.96"), GUARD_PUBLIC);
	assert_int_equal(classify("2606:4700::6812:760"), GUARD_PUBLIC);
	assert_int_equal(classify("::ffff:104.18.7.96"), GUARD_PUBLIC);
	assert_allowed("104.18.7.96", false);
	assert_allowed("::ffff:104.18.7.96", false);
}

static void
test_guard_unwraps_ipv4_mapped(void **state)
{
	(void)state;
	assert_int_equal(classify("::ffff:169.254.169.254"), GUARD_METADATA);
	assert_int_equal(classify("::ffff:127.0.0.1"), GUARD_LOOPBACK);
	assert_int_equal(classify("::ffff:169.254.0.1"), GUARD_LINKLOCAL);
	assert_int_equal(classify("::ffff:0.0.0.0"), GUARD_UNSPECIFIED);
	assert_int_equal(classify("::ffff:224.0.0.1"), GUARD_MULTICAST);
}

static void
test_guard_unwraps_ipv4_compatible(void **state)
{
	(void)state;
	assert_int_equal(classify("::169.254.169.254"), GUARD_METADATA);
	assert_int_equal(classify("::127.0.0.1"), GUARD_LOOPBACK);
	assert_int_equal(classify("::169.254.1.1"), GUARD_LINKLOCAL);
	assert_int_equal(classify("::8.8.8.8"), GUARD_PUBLIC);
}

static void
test_guard_compat_does_not_swallow_unspecified_and_loopback(void **state)
{
	(void)state;
	/* :: and ::1 are themselves, not 0.0.0.0 and 0.0.0.1 */
	assert_int_equal(classify("::"), GUARD_UNSPECIFIED);
	assert_int_equal(classify("::1"), GUARD_LOOPBACK);
	assert_denied("::1", false, "address ::1 is loopback");
}

static void
test_guard_unwraps_nat64(void **state)
{
	(void)state;
	assert_int_equal(classify("64:ff9b::a9fe:a9fe"), GUARD_METADATA);
	assert_int_equal(classify("64:ff9b::169.254.169.254"), GUARD_METADATA);
	assert_int_equal(classify("64:ff9b::7f00:1"), GUARD_LOOPBACK);
	assert_int_equal(classify("64:ff9b::a9fe:1"), GUARD_LINKLOCAL);
	assert_int_equal(classify("64:ff9b::808:808"), GUARD_PUBLIC);
}

static void
test_guard_unwraps_nat64_local_use_prefix(void **state)
{
	(void)state;
	/* /96 reading */
	assert_int_equal(classify("64:ff9b:1::a9fe:a9fe"), GUARD_METADATA);
	/* metadata is checked under the /48 layout too: bytes 6,7,9,10 */
	assert_int_equal(classify("64:ff9b:1:a9fe:a9:fe00::"),
	    GUARD_METADATA);
	assert_int_equal(classify("64:ff9b:1::7f00:1"), GUARD_LOOPBACK);
	assert_int_equal(classify("64:ff9b:1:ab:cd::a9fe:101"),
	    GUARD_LINKLOCAL);
	assert_int_equal(classify("64:ff9b:1::808:808"), GUARD_PUBLIC);
	assert_int_equal(classify("64:ff9b:1::a00:1"), GUARD_PUBLIC);
}

static void
test_guard_unwraps_6to4(void **state)
{
	(void)state;
	assert_int_equal(classify("2002:a9fe:a9fe::"), GUARD_METADATA);
	assert_int_equal(classify("2002:a9fe:a9fe::1"), GUARD_METADATA);
	assert_int_equal(classify("2002:7f00:1::"), GUARD_LOOPBACK);
	assert_int_equal(classify("2002:a9fe:0101::"), GUARD_LINKLOCAL);
	assert_int_equal(classify("2002:0808:0808::"), GUARD_PUBLIC);
}

static void
test_guard_denies_metadata(void **state)
{
	(void)state;
	assert_denied("169.254.169.254", false,
	    "address 169.254.169.254 is cloud metadata");
	assert_denied("100.100.100.200", false,
	    "address 100.100.100.200 is cloud metadata");
	assert_denied("168.63.129.16", false,
	    "address 168.63.129.16 is cloud metadata");
	assert_denied("fd00:ec2::254", false,
	    "address fd00:ec2::254 is cloud metadata");
}

/* S6: metadata is denied even when the allow-list names it. */
static void
test_guard_metadata_never_lifted_by_explicit(void **state)
{
	(void)state;
	assert_denied("169.254.169.254", true,
	    "address 169.254.169.254 is cloud metadata");
	assert_denied("fd00:ec2::254", true,
	    "address fd00:ec2::254 is cloud metadata");
	assert_denied("::ffff:169.254.169.254", true,
	    "address ::ffff:169.254.169.254 is cloud metadata");
	assert_denied("64:ff9b::a9fe:a9fe", true,
	    "address 64:ff9b::a9fe:a9fe is cloud metadata");
	assert_denied("2002:a9fe:a9fe::", true,
	    "address 2002:a9fe:a9fe:: is cloud metadata");
}

/* S13, S16, S17: rebinding to metadata through any form. */
static void
test_guard_denies_wrapped_metadata(void **state)
{
	(void)state;
	assert_denied("::ffff:169.254.169.254", false,
	    "address ::ffff:169.254.169.254 is cloud metadata");
	assert_denied("::169.254.169.254", false,
	    "address ::169.254.169.254 is cloud metadata");
	assert_denied("64:ff9b::a9fe:a9fe", false,
	    "address 64:ff9b::a9fe:a9fe is cloud metadata");
	assert_denied("2002:a9fe:a9fe::", false,
	    "address 2002:a9fe:a9fe:: is cloud metadata");
}

static void
test_guard_denies_loopback(void **state)
{
	(void)state;
	assert_denied("127.0.0.1", false, "address 127.0.0.1 is loopback");
	assert_denied("127.1.2.3", false, "address 127.1.2.3 is loopback");
	assert_denied("::1", false, "address ::1 is loopback");
}

static void
test_guard_denies_wrapped_loopback(void **state)
{
	(void)state;
	assert_denied("::ffff:127.0.0.1", false,
	    "address ::ffff:127.0.0.1 is loopback");
	assert_denied("::127.0.0.1", false, "address ::127.0.0.1 is loopback");
	assert_denied("64:ff9b::7f00:1", false,
	    "address 64:ff9b::7f00:1 is loopback");
	assert_denied("2002:7f00:1::", false,
	    "address 2002:7f00:1:: is loopback");
}

/* S11, S12, S14 */
static void
test_guard_denies_link_local(void **state)
{
	(void)state;
	assert_denied("169.254.1.1", false,
	    "address 169.254.1.1 is link-local");
	assert_denied("fe80::1", false, "address fe80::1 is link-local");
	assert_denied("::ffff:169.254.0.1", false,
	    "address ::ffff:169.254.0.1 is link-local");
}

static void
test_guard_denies_wrapped_link_local(void **state)
{
	(void)state;
	assert_denied("::169.254.1.1", false,
	    "address ::169.254.1.1 is link-local");
	assert_denied("64:ff9b::a9fe:101", false,
	    "address 64:ff9b::a9fe:101 is link-local");
	assert_denied("2002:a9fe:101::", false,
	    "address 2002:a9fe:101:: is link-local");
}

static void
test_guard_denies_unspecified(void **state)
{
	(void)state;
	assert_denied("0.0.0.0", false, "address 0.0.0.0 is unspecified");
	assert_denied("::", false, "address :: is unspecified");
}

static void
test_guard_denies_multicast_and_broadcast(void **state)
{
	(void)state;
	assert_denied("224.0.0.251", false,
	    "address 224.0.0.251 is multicast, broadcast or reserved");
	assert_denied("255.255.255.255", false,
	    "address 255.255.255.255 is multicast, broadcast or reserved");
	assert_denied("240.1.2.3", false,
	    "address 240.1.2.3 is multicast, broadcast or reserved");
	assert_denied("ff02::fb", false,
	    "address ff02::fb is multicast, broadcast or reserved");
}

static void
test_guard_explicit_lifts_loopback_and_others(void **state)
{
	(void)state;
	assert_allowed("127.0.0.1", true);
	assert_allowed("::1", true);
	assert_allowed("::ffff:127.0.0.1", true);
	assert_allowed("169.254.1.1", true);
	assert_allowed("fe80::1", true);
	assert_allowed("0.0.0.0", true);
	assert_allowed("224.0.0.1", true);
}

static void
test_guard_denies_self(void **state)
{
	struct sockaddr_storage	ss, self;
	struct errbuf		e;

	(void)state;
	addr(&self, "127.0.0.1", 8080);
	assert_int_equal(proxy_guard_check(addr(&ss, "127.0.0.1", 8080),
	    (struct sockaddr *)&self, true, &e), -1);
	assert_string_equal(errbuf_msg(&e),
	    "address 127.0.0.1:8080 is the proxy itself");
	assert_int_equal(proxy_guard_check(addr(&ss, "::ffff:127.0.0.1",
	    8080), (struct sockaddr *)&self, true, &e), -1);
	assert_string_equal(errbuf_msg(&e),
	    "address [::ffff:127.0.0.1]:8080 is the proxy itself");
}

static void
test_guard_self_needs_same_port(void **state)
{
	struct sockaddr_storage	ss, self;
	struct errbuf		e;

	(void)state;
	addr(&self, "127.0.0.1", 8080);
	assert_int_equal(proxy_guard_check(addr(&ss, "127.0.0.1", 8081),
	    (struct sockaddr *)&self, true, &e), 0);
	assert_int_equal(proxy_guard_check(addr(&ss, "127.0.0.1", 8081),
	    (struct sockaddr *)&self, false, &e), -1);
	assert_string_equal(errbuf_msg(&e), "address 127.0.0.1 is loopback");
}

static void
test_guard_self_on_unspecified_listener_covers_loopback(void **state)
{
	struct sockaddr_storage	ss, self;
	struct errbuf		e;

	(void)state;
	addr(&self, "0.0.0.0", 3128);
	assert_int_equal(proxy_guard_check(addr(&ss, "127.0.0.2", 3128),
	    (struct sockaddr *)&self, true, &e), -1);
	assert_string_equal(errbuf_msg(&e),
	    "address 127.0.0.2:3128 is the proxy itself");
	assert_int_equal(proxy_guard_check(addr(&ss, "10.0.0.1", 3128),
	    (struct sockaddr *)&self, true, &e), 0);
}

static void
test_guard_metadata_beats_self(void **state)
{
	struct sockaddr_storage	ss, self;
	struct errbuf		e;

	(void)state;
	addr(&self, "169.254.169.254", 80);
	assert_int_equal(proxy_guard_check(addr(&ss, "169.254.169.254", 80),
	    (struct sockaddr *)&self, true, &e), -1);
	assert_string_equal(errbuf_msg(&e),
	    "address 169.254.169.254 is cloud metadata");
}

static void
test_guard_denies_non_ip_family(void **state)
{
	struct sockaddr_un	sun;
	struct errbuf		e;

	(void)state;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	assert_int_equal(proxy_guard_classify((struct sockaddr *)&sun),
	    GUARD_UNSPECIFIED);
	assert_int_equal(proxy_guard_check((struct sockaddr *)&sun, NULL,
	    true, &e), -1);
	assert_string_equal(errbuf_msg(&e),
	    "address family 1 is not IPv4 or IPv6");
}

static void
test_guard_same_addr_unwraps(void **state)
{
	struct sockaddr_storage	a, b;

	(void)state;
	assert_true(proxy_guard_same_addr(addr(&a, "127.0.0.1", 1),
	    addr(&b, "::ffff:127.0.0.1", 2)));
	assert_true(proxy_guard_same_addr(addr(&a, "10.1.2.3", 1),
	    addr(&b, "64:ff9b::a01:203", 1)));
	assert_true(proxy_guard_same_addr(addr(&a, "::1", 1),
	    addr(&b, "::1", 9)));
	assert_false(proxy_guard_same_addr(addr(&a, "127.0.0.1", 1),
	    addr(&b, "127.0.0.2", 1)));
	assert_false(proxy_guard_same_addr(addr(&a, "::1", 1),
	    addr(&b, "127.0.0.1", 1)));
}

static void
test_guard_metadata_names(void **state)
{
	(void)state;
	assert_true(proxy_guard_metadata_name("metadata.google.internal"));
	assert_true(proxy_guard_metadata_name("METADATA.Google.Internal"));
	assert_true(proxy_guard_metadata_name("metadata.google.internal."));
	assert_true(proxy_guard_metadata_name("metadata.azure.internal"));
	assert_true(proxy_guard_metadata_name("169.254.169.254"));
	assert_true(proxy_guard_metadata_name("fd00:ec2::254"));
	assert_false(proxy_guard_metadata_name("metadata.google.internal.x"));
	assert_false(proxy_guard_metadata_name("google.internal"));
	assert_false(proxy_guard_metadata_name(""));
	assert_false(proxy_guard_metadata_name(NULL));
}

static void
test_guard_ntop_keeps_mapped_form(void **state)
{
	struct sockaddr_storage	ss;
	char			buf[64];

	(void)state;
	assert_string_equal(proxy_guard_ntop(addr(&ss, "::ffff:1.2.3.4", 1),
	    buf, sizeof(buf)), "::ffff:1.2.3.4");
	assert_string_equal(proxy_guard_ntop(addr(&ss, "1.2.3.4", 1),
	    buf, sizeof(buf)), "1.2.3.4");
	assert_string_equal(proxy_guard_ntop(addr(&ss, "2001:DB8::1", 1),
	    buf, sizeof(buf)), "2001:db8::1");
}

static void
test_guard_class_names(void **state)
{
	(void)state;
	assert_string_equal(proxy_guard_class_name(GUARD_PUBLIC), "public");
	assert_string_equal(proxy_guard_class_name(GUARD_METADATA),
	    "cloud metadata");
	assert_string_equal(proxy_guard_class_name(GUARD_LINKLOCAL),
	    "link-local");
}

int
main(void)
{
#define T(f)	cmocka_unit_test(f)
	const struct CMUnitTest tests[] = {
		T(test_guard_classifies_metadata_v4),
		T(test_guard_classifies_metadata_v6),
		T(test_guard_classifies_loopback),
		T(test_guard_classifies_unspecified),
		T(test_guard_classifies_link_local),
		T(test_guard_classifies_multicast_broadcast_reserved),
		T(test_guard_private_ranges_are_public),
		T(test_guard_public_addresses_pass),
		T(test_guard_unwraps_ipv4_mapped),
		T(test_guard_unwraps_ipv4_compatible),
		T(test_guard_compat_does_not_swallow_unspecified_and_loopback),
		T(test_guard_unwraps_nat64),
		T(test_guard_unwraps_nat64_local_use_prefix),
		T(test_guard_unwraps_6to4),
		T(test_guard_denies_metadata),
		T(test_guard_metadata_never_lifted_by_explicit),
		T(test_guard_denies_wrapped_metadata),
		T(test_guard_denies_loopback),
		T(test_guard_denies_wrapped_loopback),
		T(test_guard_denies_link_local),
		T(test_guard_denies_wrapped_link_local),
		T(test_guard_denies_unspecified),
		T(test_guard_denies_multicast_and_broadcast),
		T(test_guard_explicit_lifts_loopback_and_others),
		T(test_guard_denies_self),
		T(test_guard_self_needs_same_port),
		T(test_guard_self_on_unspecified_listener_covers_loopback),
		T(test_guard_metadata_beats_self),
		T(test_guard_denies_non_ip_family),
		T(test_guard_same_addr_unwraps),
		T(test_guard_metadata_names),
		T(test_guard_ntop_keeps_mapped_form),
		T(test_guard_class_names),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
