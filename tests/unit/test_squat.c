#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdbool.h>
#include <string.h>

#include <event2/event.h>

#include "policy/plan.h"
#include "proxy/server.h"
#include "util/errbuf.h"

/*
 * SPEC §3.2: a route's secret never reaches a listener of the sandbox.
 * The mediator records every inet port the sandbox binds; the proxy
 * refuses a loopback upstream peer on a recorded port.
 */

struct fx {
	struct event_base	*base;
	struct plan		 plan;
	struct proxy		*px;
};

static int
setup(void **state)
{
	static struct fx	fx;
	struct errbuf		e = { 0 };

	memset(&fx, 0, sizeof(fx));
	fx.base = event_base_new();
	assert_non_null(fx.base);
	fx.px = proxy_server_new(&fx.plan, fx.base, &e);
	assert_non_null(fx.px);
	*state = &fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx	*fx = *state;

	proxy_server_free(fx->px);
	event_base_free(fx->base);
	return 0;
}

static const struct sockaddr *
sa(struct sockaddr_storage *ss, const char *a, uint16_t port)
{
	struct sockaddr_in	*s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, a, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
	} else {
		assert_int_equal(inet_pton(AF_INET6, a, &s6->sin6_addr), 1);
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
	}
	return (const struct sockaddr *)ss;
}

static void
test_squat_recorded_port_on_loopback_is_the_sandbox(void **state)
{
	struct fx		*fx = *state;
	struct sockaddr_storage	 ss;

	assert_false(proxy_server_peer_in_sandbox(fx->px,
	    sa(&ss, "127.0.0.1", 4242)));
	proxy_server_sandbox_bound(fx->px, 4242);
	assert_true(proxy_server_is_sandbox_bound(fx->px, 4242));
	assert_true(proxy_server_peer_in_sandbox(fx->px,
	    sa(&ss, "127.0.0.1", 4242)));
	assert_true(proxy_server_peer_in_sandbox(fx->px,
	    sa(&ss, "127.0.0.2", 4242)));
	assert_true(proxy_server_peer_in_sandbox(fx->px,
	    sa(&ss, "::1", 4242)));
	assert_true(proxy_server_peer_in_sandbox(fx->px,
	    sa(&ss, "::ffff:127.0.0.1", 4242)));
}

static void
test_squat_other_ports_and_hosts_are_not(void **state)
{
	struct fx		*fx = *state;
	struct sockaddr_storage	 ss;

	proxy_server_sandbox_bound(fx->px, 4242);
	assert_false(proxy_server_is_sandbox_bound(fx->px, 4241));
	assert_false(proxy_server_is_sandbox_bound(fx->px, 4243));
	assert_false(proxy_server_peer_in_sandbox(fx->px,
	    sa(&ss, "127.0.0.1", 4243)));
	assert_false(proxy_server_peer_in_sandbox(fx->px,
	    sa(&ss, "10.0.0.1", 4242)));
	assert_false(proxy_server_peer_in_sandbox(fx->px,
	    sa(&ss, "::ffff:10.0.0.1", 4242)));
	assert_false(proxy_server_peer_in_sandbox(fx->px,
	    sa(&ss, "2001:db8::1", 4242)));
	proxy_server_sandbox_bound(fx->px, 65535);
	assert_true(proxy_server_is_sandbox_bound(fx->px, 65535));
}

/*
 * The port tables are made at the first registration or bind: before it
 * every port reads as neither, an unregistration is harmless, and the
 * first registration counts like any other (twice in, once out: still
 * registered).
 */
static void
test_squat_port_tables_made_at_first_use_count_from_the_start(void **state)
{
	struct fx		*fx = *state;
	struct sockaddr_storage	 ss;

	assert_false(proxy_server_port_registered(fx->px, 5000));
	assert_false(proxy_server_is_sandbox_bound(fx->px, 5000));
	assert_false(proxy_server_peer_in_sandbox(fx->px,
	    sa(&ss, "127.0.0.1", 5000)));
	proxy_server_unregister_port(fx->px, 5000);
	assert_false(proxy_server_port_registered(fx->px, 5000));
	proxy_server_register_port(fx->px, 5000);
	proxy_server_register_port(fx->px, 5000);
	assert_true(proxy_server_port_registered(fx->px, 5000));
	assert_false(proxy_server_port_registered(fx->px, 5001));
	proxy_server_unregister_port(fx->px, 5000);
	assert_true(proxy_server_port_registered(fx->px, 5000));
	proxy_server_unregister_port(fx->px, 5000);
	assert_false(proxy_server_port_registered(fx->px, 5000));
	assert_false(proxy_server_is_sandbox_bound(fx->px, 5000));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_squat_recorded_port_on_loopback_is_the_sandbox,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_squat_other_ports_and_hosts_are_not, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_squat_port_tables_made_at_first_use_count_from_the_start,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
