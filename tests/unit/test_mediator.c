#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "policy/plan.h"
#include "sandbox/mediator.h"
#include "util/ports.h"
#include "util/xmalloc.h"

#define PROXY	3128
#define OPEN	5000
#define DB	5432

/* A sockaddr for text address a and port; its length in *len. */
static const struct sockaddr *
addr(struct sockaddr_storage *ss, const char *a, uint16_t port,
    socklen_t *len)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, a, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		*len = sizeof(*sin);
	} else {
		assert_int_equal(inet_pton(AF_INET6, a, &sin6->sin6_addr), 1);
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		*len = sizeof(*sin6);
	}
	return (const struct sockaddr *)ss;
}

static const char	*cred_host;	/* the one credential upstream */

static bool
cred(void *arg, const char *host, uint16_t port)
{
	(void)arg;
	return cred_host != NULL && port == 443 &&
	    strcmp(host, cred_host) == 0;
}

struct fixture {
	struct mediator_policy	pol;
	struct ports		open;
};

/* One grant host:port with addresses a[0..n). */
static void
add_grant(struct mediator_policy *pol, const char *host, uint16_t port,
    const char **a, size_t n)
{
	struct mediator_grant	*g;
	socklen_t		 len;
	size_t			 i;

	pol->grants = xreallocarray(pol->grants, pol->ngrants + 1,
	    sizeof(*pol->grants));
	g = &pol->grants[pol->ngrants++];
	memset(g, 0, sizeof(*g));
	g->host = xstrdup(host);
	g->port = port;
	g->addrs = xcalloc(n, sizeof(*g->addrs));
	g->naddrs = n;
	for (i = 0; i < n; i++)
		addr(&g->addrs[i], a[i], port, &len);
}

static int
setup(void **state)
{
	static const char	*db[] = { "10.1.2.3", "2001:db8::5" };
	static const char	*api[] = { "192.0.2.7" };
	struct fixture		*f = xcalloc(1, sizeof(*f));

	ports_add(&f->open, OPEN);
	f->pol.proxy_port = PROXY;
	f->pol.open_ports = &f->open;
	f->pol.cred = cred;
	add_grant(&f->pol, "db.test", DB, db, 2);
	add_grant(&f->pol, "api.test", 443, api, 1);
	strv_push(&f->pol.unix_allow, "/run/user/1/agent.sock");
	cred_host = NULL;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture	*f = *state;

	sandbox_mediator_policy_clear(&f->pol);
	ports_free(&f->open);
	free(f);
	return 0;
}

static enum mediator_verdict
decide(struct fixture *f, const char *a, uint16_t port, const char **reason)
{
	struct sockaddr_storage	 ss;
	const struct sockaddr	*sa;
	const char		*r;
	socklen_t		 len;

	sa = addr(&ss, a, port, &len);
	if (reason == NULL)
		reason = &r;
	return sandbox_mediator_decide_inet(&f->pol, sa, len, reason, NULL);
}

static void
test_mediator_allows_proxy_port_on_127_0_0_1(void **state)
{
	assert_int_equal(decide(*state, "127.0.0.1", PROXY, NULL),
	    MEDIATOR_PROXY);
}

static void
test_mediator_allows_proxy_port_as_v4_mapped(void **state)
{
	assert_int_equal(decide(*state, "::ffff:127.0.0.1", PROXY, NULL),
	    MEDIATOR_PROXY);
}

static void
test_mediator_denies_proxy_port_on_other_loopback(void **state)
{
	const char	*reason;

	assert_int_equal(decide(*state, "127.0.0.2", PROXY, &reason),
	    MEDIATOR_DENY);
	assert_string_equal(reason, "not the proxy's address");
	assert_int_equal(decide(*state, "::1", PROXY, &reason),
	    MEDIATOR_DENY);
	assert_int_equal(decide(*state, "0.0.0.0", PROXY, &reason),
	    MEDIATOR_DENY);
}

static void
test_mediator_denies_proxy_port_without_proxy(void **state)
{
	struct fixture	*f = *state;

	f->pol.proxy_port = 0;
	assert_int_equal(decide(f, "127.0.0.1", PROXY, NULL), MEDIATOR_DENY);
}

static void
test_mediator_allows_open_port_on_loopback_only(void **state)
{
	const char	*reason;

	assert_int_equal(decide(*state, "127.0.0.1", OPEN, NULL),
	    MEDIATOR_OPEN_PORT);
	assert_int_equal(decide(*state, "::1", OPEN, NULL),
	    MEDIATOR_OPEN_PORT);
	assert_int_equal(decide(*state, "127.0.0.2", OPEN, &reason),
	    MEDIATOR_DENY);
	assert_string_equal(reason,
	    "no direct grant for this address and port");
	assert_int_equal(decide(*state, "10.1.2.3", OPEN, NULL),
	    MEDIATOR_DENY);
}

static void
test_mediator_allows_grant_addresses_on_their_port(void **state)
{
	struct fixture		*f = *state;
	const struct mediator_grant *g;
	const struct sockaddr	*sa;
	struct sockaddr_storage	 ss;
	const char		*reason;
	socklen_t		 len;

	sa = addr(&ss, "10.1.2.3", DB, &len);
	assert_int_equal(sandbox_mediator_decide_inet(&f->pol, sa, len,
	    &reason, &g), MEDIATOR_GRANT);
	assert_non_null(g);
	assert_string_equal(g->host, "db.test");
	assert_int_equal(decide(f, "2001:db8::5", DB, NULL), MEDIATOR_GRANT);
	assert_int_equal(decide(f, "::ffff:10.1.2.3", DB, NULL),
	    MEDIATOR_GRANT);
}

static void
test_mediator_denies_grant_address_on_other_port(void **state)
{
	assert_int_equal(decide(*state, "10.1.2.3", DB + 1, NULL),
	    MEDIATOR_DENY);
	assert_int_equal(decide(*state, "10.1.2.3", 443, NULL),
	    MEDIATOR_DENY);
}

static void
test_mediator_denies_other_address_on_grant_port(void **state)
{
	const char	*reason;

	assert_int_equal(decide(*state, "10.1.2.4", DB, &reason),
	    MEDIATOR_DENY);
	assert_string_equal(reason,
	    "no direct grant for this address and port");
	assert_int_equal(decide(*state, "127.0.0.1", DB, NULL),
	    MEDIATOR_DENY);
}

static void
test_mediator_denies_nat64_form_of_grant_address(void **state)
{
	/* Only IPv4-mapped is the same socket address; NAT64 is not. */
	assert_int_equal(decide(*state, "64:ff9b::a01:203", DB, NULL),
	    MEDIATOR_DENY);
}

static void
test_mediator_denies_credential_upstream_by_name(void **state)
{
	const char	*reason;

	cred_host = "api.test";
	assert_int_equal(decide(*state, "192.0.2.7", 443, &reason),
	    MEDIATOR_DENY);
	assert_string_equal(reason,
	    "credential upstream: direct connect bypasses L7 filtering");
}

static void
test_mediator_denies_credential_upstream_by_address(void **state)
{
	cred_host = "192.0.2.7";
	assert_int_equal(decide(*state, "192.0.2.7", 443, NULL),
	    MEDIATOR_DENY);
}

static void
test_mediator_report_only_makes_what_no_grant_allows(void **state)
{
	struct fixture	*f = *state;
	const char	*reason;

	f->pol.report_only = true;
	assert_int_equal(decide(f, "203.0.113.5", 8080, &reason),
	    MEDIATOR_WOULD_DENY);
	assert_string_equal(reason, "no direct grant for this address and "
	    "port");
	/* a grant's address on another port; a private address; v6 */
	assert_int_equal(decide(f, "10.1.2.3", 9999, NULL),
	    MEDIATOR_WOULD_DENY);
	assert_int_equal(decide(f, "10.77.0.7", 8080, NULL),
	    MEDIATOR_WOULD_DENY);
	assert_int_equal(decide(f, "2001:db8::9", 443, NULL),
	    MEDIATOR_WOULD_DENY);
	/* what is allowed stays what it was */
	assert_int_equal(decide(f, "10.1.2.3", DB, NULL), MEDIATOR_GRANT);
	assert_int_equal(decide(f, "127.0.0.1", OPEN, NULL),
	    MEDIATOR_OPEN_PORT);
	assert_int_equal(decide(f, "127.0.0.1", PROXY, NULL), MEDIATOR_PROXY);
	/* without --report-only the same is denied */
	f->pol.report_only = false;
	assert_int_equal(decide(f, "203.0.113.5", 8080, NULL),
	    MEDIATOR_DENY);
}

static void
test_mediator_report_only_keeps_the_guard_and_credential_upstreams(
    void **state)
{
	struct fixture	*f = *state;
	const char	*reason;
	static const char *guarded[][2] = {
		{ "169.254.169.254", "address 169.254.169.254 is cloud metadata" },
		{ "100.100.100.200", "address 100.100.100.200 is cloud metadata" },
		{ "fd00:ec2::254", "address fd00:ec2::254 is cloud metadata" },
		{ "::ffff:169.254.169.254", "address ::ffff:169.254.169.254 is "
		    "cloud metadata" },
		{ "127.0.0.1", "address 127.0.0.1 is loopback" },
		{ "127.0.0.2", "address 127.0.0.2 is loopback" },
		{ "::1", "address ::1 is loopback" },
		{ "0.0.0.0", "address 0.0.0.0 is unspecified" },
		{ "169.254.1.1", "address 169.254.1.1 is link-local" },
		{ "224.0.0.1", "address 224.0.0.1 is multicast" },
	};
	size_t		 i;

	f->pol.report_only = true;
	for (i = 0; i < sizeof(guarded) / sizeof(guarded[0]); i++) {
		assert_int_equal(decide(f, guarded[i][0], 8080, &reason),
		    MEDIATOR_DENY);
		assert_non_null(reason);
		if (strncmp(reason, guarded[i][1], strlen(guarded[i][1])) != 0)
			fail_msg("%s: %s", guarded[i][0], reason);
	}
	/* a credential upstream's address, granted or not */
	cred_host = "192.0.2.7";
	assert_int_equal(decide(f, "192.0.2.7", 443, &reason), MEDIATOR_DENY);
	assert_string_equal(reason,
	    "credential upstream: direct connect bypasses L7 filtering");
	cred_host = "198.51.100.9";
	assert_int_equal(decide(f, "198.51.100.9", 443, &reason),
	    MEDIATOR_DENY);
	assert_string_equal(reason,
	    "credential upstream: direct connect bypasses L7 filtering");
	/* the proxy's port on another address: only where the guard lets */
	assert_int_equal(decide(f, "127.0.0.2", PROXY, NULL), MEDIATOR_DENY);
}

static void
test_mediator_denies_short_address(void **state)
{
	struct fixture		*f = *state;
	struct sockaddr_storage	 ss;
	const char		*reason;
	socklen_t		 len;

	addr(&ss, "127.0.0.1", PROXY, &len);
	assert_int_equal(sandbox_mediator_decide_inet(&f->pol,
	    (struct sockaddr *)&ss, len - 1, &reason, NULL), MEDIATOR_DENY);
	assert_string_equal(reason, "malformed address");
	addr(&ss, "::1", OPEN, &len);
	assert_int_equal(sandbox_mediator_decide_inet(&f->pol,
	    (struct sockaddr *)&ss, 20, &reason, NULL), MEDIATOR_DENY);
	/* Without sin6_scope_id, as the kernel accepts it. */
	assert_int_equal(sandbox_mediator_decide_inet(&f->pol,
	    (struct sockaddr *)&ss, 24, &reason, NULL), MEDIATOR_OPEN_PORT);
}

static void
test_mediator_denies_non_inet_family(void **state)
{
	struct fixture		*f = *state;
	struct sockaddr_storage	 ss;
	const char		*reason;

	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	assert_int_equal(sandbox_mediator_decide_inet(&f->pol,
	    (struct sockaddr *)&ss, sizeof(ss), &reason, NULL),
	    MEDIATOR_DENY);
}

/* ---- unix sockets (SPEC 3.2) ---- */

#define DEV	((dev_t)0x801)

static void
test_mediator_allows_unix_socket_bound_inside(void **state)
{
	struct fixture	*f = *state;
	const char	*reason;

	sandbox_mediator_bound_add(&f->pol, DEV, 42, -1);
	assert_int_equal(sandbox_mediator_decide_unix(&f->pol,
	    "/home/u/work/s.sock", DEV, 42, &reason), MEDIATOR_UNIX);
	/* The inode decides, not the path it is reached by. */
	assert_int_equal(sandbox_mediator_decide_unix(&f->pol,
	    "/tmp/hardlink.sock", DEV, 42, &reason), MEDIATOR_UNIX);
}

static void
test_mediator_denies_unix_socket_in_write_grant_not_bound_inside(void **state)
{
	struct fixture	*f = *state;
	const char	*reason;

	/* /home/u/work is a write grant: no socket grant for all that. */
	assert_int_equal(sandbox_mediator_decide_unix(&f->pol,
	    "/home/u/work/s.sock", DEV, 43, &reason), MEDIATOR_DENY);
	assert_string_equal(reason, "unix socket not bound in the sandbox "
	    "nor named by --allow-unix-socket");
}

static void
test_mediator_denies_same_inode_on_other_device(void **state)
{
	struct fixture	*f = *state;
	const char	*reason;

	sandbox_mediator_bound_add(&f->pol, DEV, 42, -1);
	assert_int_equal(sandbox_mediator_decide_unix(&f->pol,
	    "/mnt/s.sock", DEV + 1, 42, &reason), MEDIATOR_DENY);
}

static void
test_mediator_denies_outside_daemons_sockets(void **state)
{
	struct fixture	*f = *state;
	const char	*reason;

	assert_int_equal(sandbox_mediator_decide_unix(&f->pol,
	    "/var/run/docker.sock", DEV, 7, &reason), MEDIATOR_DENY);
	assert_int_equal(sandbox_mediator_decide_unix(&f->pol,
	    "/tmp/tmux-1000/default", DEV, 8, &reason), MEDIATOR_DENY);
	assert_int_equal(sandbox_mediator_decide_unix(&f->pol,
	    "/run/user/1/bus", DEV, 9, &reason), MEDIATOR_DENY);
}

static void
test_mediator_allows_named_unix_socket(void **state)
{
	struct fixture	*f = *state;
	const char	*reason;

	assert_int_equal(sandbox_mediator_decide_unix(&f->pol,
	    "/run/user/1/agent.sock", DEV, 5, &reason), MEDIATOR_UNIX);
	assert_int_equal(sandbox_mediator_decide_unix(&f->pol,
	    "/run/user/1/agent.sock2", DEV, 5, &reason), MEDIATOR_DENY);
}

/* A directory named with a trailing slash covers what lies below it only. */
static void
test_mediator_allows_sockets_below_a_named_directory(void **state)
{
	struct fixture	*f = *state;
	const char	*reason;

	strv_push(&f->pol.unix_allow, "/run/user/2/");
	assert_int_equal(sandbox_mediator_decide_unix(&f->pol,
	    "/run/user/2/gpg/S.agent", DEV, 5, &reason), MEDIATOR_UNIX);
	assert_int_equal(sandbox_mediator_decide_unix(&f->pol,
	    "/run/user/2", DEV, 5, &reason), MEDIATOR_UNIX);
	assert_int_equal(sandbox_mediator_decide_unix(&f->pol,
	    "/run/user/22/bus", DEV, 5, &reason), MEDIATOR_DENY);
}

static void
test_mediator_denies_relative_unix_path_not_bound_inside(void **state)
{
	struct fixture	*f = *state;
	const char	*reason;

	assert_int_equal(sandbox_mediator_decide_unix(&f->pol,
	    "run/user/1/agent.sock", DEV, 5, &reason), MEDIATOR_DENY);
}

/* A plan with a write grant, a read grant and a denied path below. */
static void
bind_plan(struct plan *p, struct fs_grant *g)
{
	memset(p, 0, sizeof(*p));
	memset(g, 0, 2 * sizeof(*g));
	g[0].path = "/home/u/work";
	g[0].access = FS_READWRITE;
	g[1].path = "/home/u/docs";
	g[1].access = FS_READ;
	p->grants = g;
	p->ngrants = 2;
	strv_push(&p->deny_paths, "/home/u/work/.ssh");
}

static void
test_mediator_binds_unix_socket_only_in_write_grant(void **state)
{
	struct fixture	*f = *state;
	struct fs_grant	 g[2];
	struct plan	 p;
	const char	*reason;

	bind_plan(&p, g);
	f->pol.plan = &p;
	assert_int_equal(sandbox_mediator_decide_unix_bind(&f->pol,
	    "/home/u/work", &reason), MEDIATOR_UNIX);
	assert_int_equal(sandbox_mediator_decide_unix_bind(&f->pol,
	    "/home/u/work/sub", &reason), MEDIATOR_UNIX);
	assert_int_equal(sandbox_mediator_decide_unix_bind(&f->pol,
	    "/home/u/docs", &reason), MEDIATOR_DENY);
	assert_string_equal(reason, "unix socket bind outside the write "
	    "grants");
	assert_int_equal(sandbox_mediator_decide_unix_bind(&f->pol,
	    "/home/u/workshop", &reason), MEDIATOR_DENY);
	assert_int_equal(sandbox_mediator_decide_unix_bind(&f->pol,
	    "/home/u/work/.ssh", &reason), MEDIATOR_DENY);
	f->pol.plan = NULL;
	strv_free(&p.deny_paths);
}

static void
test_mediator_bound_set_forgets_the_oldest_when_full(void **state)
{
	struct fixture	*f = *state;
	const char	*reason;
	ino_t		 i;

	for (i = 0; i <= MEDIATOR_BOUND_MAX; i++)
		sandbox_mediator_bound_add(&f->pol, DEV, 1000 + i, -1);
	assert_int_equal(f->pol.nbound, MEDIATOR_BOUND_MAX);
	assert_int_equal(sandbox_mediator_decide_unix(&f->pol, "/x", DEV,
	    1000, &reason), MEDIATOR_DENY);
	assert_int_equal(sandbox_mediator_decide_unix(&f->pol, "/x", DEV,
	    1000 + MEDIATOR_BOUND_MAX, &reason), MEDIATOR_UNIX);
}

static void
test_mediator_unix_list_takes_allow_unix_socket_only(void **state)
{
	struct mediator_policy	pol;
	struct fs_grant		g[2];
	struct plan		p;

	(void)state;
	memset(&pol, 0, sizeof(pol));
	memset(&p, 0, sizeof(p));
	memset(g, 0, sizeof(g));
	g[0].path = "/nonexistent-keyhole-test/rw";
	g[0].access = FS_READWRITE;
	p.grants = g;
	p.ngrants = 1;
	strv_push(&p.allow_unix_socket, "/nonexistent-keyhole-test/a.sock");
	sandbox_mediator_policy_unix(&pol, &p);
	assert_int_equal(pol.unix_allow.n, 1);
	assert_string_equal(pol.unix_allow.v[0],
	    "/nonexistent-keyhole-test/a.sock");
	strv_free(&p.allow_unix_socket);
	sandbox_mediator_policy_clear(&pol);
}

/* ---- inet binds mirror Landlock's rule ---- */

static void
test_mediator_bind_allows_open_and_listen_ports_only(void **state)
{
	struct fixture		*f = *state;
	struct sockaddr_storage	 ss;
	struct ports		 listen;
	const char		*reason;
	socklen_t		 len;

	memset(&listen, 0, sizeof(listen));
	ports_add(&listen, 8080);
	f->pol.listen_ports = &listen;
	addr(&ss, "127.0.0.1", OPEN, &len);
	assert_int_equal(sandbox_mediator_decide_bind(&f->pol,
	    (struct sockaddr *)&ss, len, &reason), MEDIATOR_PASS);
	addr(&ss, "0.0.0.0", 8080, &len);
	assert_int_equal(sandbox_mediator_decide_bind(&f->pol,
	    (struct sockaddr *)&ss, len, &reason), MEDIATOR_PASS);
	addr(&ss, "127.0.0.1", 0, &len);
	assert_int_equal(sandbox_mediator_decide_bind(&f->pol,
	    (struct sockaddr *)&ss, len, &reason), MEDIATOR_DENY);
	addr(&ss, "::1", 9999, &len);
	assert_int_equal(sandbox_mediator_decide_bind(&f->pol,
	    (struct sockaddr *)&ss, len, &reason), MEDIATOR_DENY);
	f->pol.inet_any = true;
	assert_int_equal(sandbox_mediator_decide_bind(&f->pol,
	    (struct sockaddr *)&ss, len, &reason), MEDIATOR_PASS);
	f->pol.listen_ports = NULL;
	ports_free(&listen);
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

/* ---- direct grants built from a plan pass the address guard ---- */

static void
plan_grant(struct plan *p, const char *host, enum allow_kind kind,
    uint16_t port)
{
	struct allow_entry	*a;

	p->allow.v = xreallocarray(p->allow.v, p->allow.n + 1,
	    sizeof(*p->allow.v));
	a = &p->allow.v[p->allow.n++];
	memset(a, 0, sizeof(*a));
	a->kind = kind;
	a->host = xstrdup(host);
	a->port = port;
	a->direct = true;
	a->source = xasprintf("%s:%u", host, port);
}

static void
plan_resolve(struct plan *p, const char *host, uint16_t port, const char *a)
{
	struct resolve_entry	*r;
	socklen_t		 len;

	p->resolve = xreallocarray(p->resolve, p->nresolve + 1,
	    sizeof(*p->resolve));
	r = &p->resolve[p->nresolve++];
	memset(r, 0, sizeof(*r));
	r->host = xstrdup(host);
	r->port = port;
	addr(&r->addr, a, port, &len);
	r->addrlen = len;
}

static enum mediator_verdict
decide_m(const struct mediator *m, const char *a, uint16_t port)
{
	struct sockaddr_storage	 ss;
	const struct sockaddr	*sa;
	const char		*r;
	socklen_t		 len;

	sa = addr(&ss, a, port, &len);
	return sandbox_mediator_decide_inet(sandbox_mediator_policy(m), sa,
	    len, &r, NULL);
}

static void
test_mediator_grants_never_include_guarded_addresses(void **state)
{
	struct plan		*p = xcalloc(1, sizeof(*p));
	struct event_base	*base = event_base_new();
	struct mediator		*m;
	struct errbuf		 e = { 0 };
	size_t			 i;

	(void)state;
	p->mode = NET_PROXY;
	/* A name that resolves to loopback is not intent: guarded. */
	plan_grant(p, "127.1", ALLOW_HOST, 9001);
	/* "localhost" named in the entry is (SPEC 4.4). */
	plan_grant(p, "localhost", ALLOW_HOST, 9002);
	/* Metadata is never lifted, not even by --resolve. */
	plan_grant(p, "meta.test", ALLOW_HOST, 9003);
	plan_resolve(p, "meta.test", 9003, "169.254.169.254");
	/* An ordinary --resolve grant works. */
	plan_grant(p, "db.test", ALLOW_HOST, 9004);
	plan_resolve(p, "db.test", 9004, "192.0.2.44");
	m = sandbox_mediator_new(p, base, NULL, 0, &e);
	assert_non_null(m);
	assert_int_equal(decide_m(m, "127.0.0.1", 9001), MEDIATOR_DENY);
	assert_int_equal(decide_m(m, "127.0.0.1", 9002), MEDIATOR_GRANT);
	assert_int_equal(decide_m(m, "169.254.169.254", 9003),
	    MEDIATOR_DENY);
	assert_int_equal(decide_m(m, "192.0.2.44", 9004), MEDIATOR_GRANT);
	assert_int_equal(decide_m(m, "192.0.2.44", 9003), MEDIATOR_DENY);
	sandbox_mediator_free(m);
	event_base_free(base);
	policy_allowlist_free(&p->allow);
	for (i = 0; i < p->nresolve; i++)
		free(p->resolve[i].host);
	free(p->resolve);
	free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_mediator_grants_never_include_guarded_addresses),
		T(test_mediator_allows_proxy_port_on_127_0_0_1),
		T(test_mediator_allows_proxy_port_as_v4_mapped),
		T(test_mediator_denies_proxy_port_on_other_loopback),
		T(test_mediator_denies_proxy_port_without_proxy),
		T(test_mediator_allows_open_port_on_loopback_only),
		T(test_mediator_allows_grant_addresses_on_their_port),
		T(test_mediator_denies_grant_address_on_other_port),
		T(test_mediator_denies_other_address_on_grant_port),
		T(test_mediator_denies_nat64_form_of_grant_address),
		T(test_mediator_denies_credential_upstream_by_name),
		T(test_mediator_denies_credential_upstream_by_address),
		T(test_mediator_report_only_makes_what_no_grant_allows),
		T(test_mediator_report_only_keeps_the_guard_and_credential_upstreams),
		T(test_mediator_denies_short_address),
		T(test_mediator_denies_non_inet_family),
		T(test_mediator_allows_unix_socket_bound_inside),
		T(test_mediator_denies_unix_socket_in_write_grant_not_bound_inside),
		T(test_mediator_denies_same_inode_on_other_device),
		T(test_mediator_denies_outside_daemons_sockets),
		T(test_mediator_allows_named_unix_socket),
		T(test_mediator_allows_sockets_below_a_named_directory),
		T(test_mediator_denies_relative_unix_path_not_bound_inside),
		T(test_mediator_binds_unix_socket_only_in_write_grant),
		T(test_mediator_bound_set_forgets_the_oldest_when_full),
		T(test_mediator_unix_list_takes_allow_unix_socket_only),
		T(test_mediator_bind_allows_open_and_listen_ports_only),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
