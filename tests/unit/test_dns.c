#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "proxy/dns.h"
#include "util/errbuf.h"

/*
 * proxy_dns_resolve_ttl against a nameserver of our own on 127.0.0.1: a
 * UDP socket on the same loop that answers db.test from a table.
 */

struct fake {
	int		 fd;
	struct event	*ev;
	const char	*a;		/* NULL: no A records */
	uint32_t	 ttl_a;
	const char	*aaaa;		/* NULL: no AAAA records */
	uint32_t	 ttl_aaaa;
	int		 rcode;		/* 3: NXDOMAIN */
	bool		 silent;	/* never answer */
	int		 queries;
};

struct answer {
	bool			 called;
	char			 error[128];
	struct sockaddr_storage	 addrs[DNS_MAX_ADDRS];
	size_t			 n;
	uint32_t		 ttl;
	struct event_base	*base;
};

struct fixture {
	struct event_base	*base;
	struct fake		 fake;
	struct dns		*dns;
	struct answer		 ans;
	char			 hosts[64];
};

static size_t
put16(unsigned char *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
	return 2;
}

static size_t
put32(unsigned char *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
	return 4;
}

/* Build the answer to query q (len bytes) in r; its length, 0: none. */
static size_t
fake_reply(struct fake *f, const unsigned char *q, size_t len,
    unsigned char *r)
{
	size_t		 i = 12, qend, o;
	uint16_t	 qtype, flags;
	const char	*addr;
	unsigned char	 raw[16];
	int		 family;

	if (len < 12)
		return 0;
	while (i < len && q[i] != 0)
		i += 1 + q[i];
	if (i + 5 > len)
		return 0;
	qtype = (uint16_t)(q[i + 1] << 8 | q[i + 2]);
	qend = i + 5;
	addr = qtype == 1 ? f->a : qtype == 28 ? f->aaaa : NULL;
	family = qtype == 1 ? AF_INET : AF_INET6;
	flags = 0x8180 | (q[2] << 8 & 0x0100) | (uint16_t)f->rcode;
	memcpy(r, q, 2);				/* id */
	o = 2;
	o += put16(r + o, flags);
	o += put16(r + o, 1);				/* questions */
	o += put16(r + o, addr != NULL && f->rcode == 0 ? 1 : 0);
	o += put16(r + o, 0);
	o += put16(r + o, 0);
	memcpy(r + o, q + 12, qend - 12);
	o += qend - 12;
	if (addr == NULL || f->rcode != 0)
		return o;
	assert_int_equal(inet_pton(family, addr, raw), 1);
	o += put16(r + o, 0xc00c);			/* the question's name */
	o += put16(r + o, qtype);
	o += put16(r + o, 1);
	o += put32(r + o, qtype == 1 ? f->ttl_a : f->ttl_aaaa);
	o += put16(r + o, family == AF_INET ? 4 : 16);
	memcpy(r + o, raw, family == AF_INET ? 4 : 16);
	return o + (family == AF_INET ? 4 : 16);
}

static void
fake_read(evutil_socket_t fd, short what, void *arg)
{
	struct fake		*f = arg;
	unsigned char		 q[512], r[600];
	struct sockaddr_storage	 peer;
	socklen_t		 plen = sizeof(peer);
	ssize_t			 n;
	size_t			 rl;

	(void)what;
	n = recvfrom(fd, q, sizeof(q), 0, (struct sockaddr *)&peer, &plen);
	if (n <= 0)
		return;
	f->queries++;
	if (f->silent || (rl = fake_reply(f, q, (size_t)n, r)) == 0)
		return;
	(void)sendto(fd, r, rl, 0, (struct sockaddr *)&peer, plen);
}

static void
done(const char *error, const struct sockaddr_storage *addrs, size_t n,
    uint32_t ttl, void *arg)
{
	struct answer	*a = arg;

	a->called = true;
	if (error != NULL)
		snprintf(a->error, sizeof(a->error), "%s", error);
	memcpy(a->addrs, addrs, n * sizeof(*addrs));
	a->n = n;
	a->ttl = ttl;
	event_base_loopbreak(a->base);
}

static int
setup(void **state)
{
	struct fixture		*fx = calloc(1, sizeof(*fx));
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	struct errbuf		 e = { 0 };
	char			 ns[32];
	FILE			*fp;
	int			 hfd;

	fx->base = event_base_new();
	fx->fake.fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fx->fake.fd, (struct sockaddr *)&sin,
	    sizeof(sin)), 0);
	assert_int_equal(getsockname(fx->fake.fd, (struct sockaddr *)&sin,
	    &len), 0);
	fx->fake.ev = event_new(fx->base, fx->fake.fd, EV_READ | EV_PERSIST,
	    fake_read, &fx->fake);
	event_add(fx->fake.ev, NULL);
	snprintf(fx->hosts, sizeof(fx->hosts), "/tmp/test-dns-hosts.XXXXXX");
	hfd = mkstemp(fx->hosts);
	assert_true(hfd != -1);
	fp = fdopen(hfd, "w");
	fprintf(fp, "127.0.0.1 localhost\n10.9.9.9 pinned.test\n");
	fclose(fp);
	snprintf(ns, sizeof(ns), "127.0.0.1:%u", ntohs(sin.sin_port));
	fx->dns = proxy_dns_new_at(fx->base, ns, fx->hosts, &e);
	assert_non_null(fx->dns);
	fx->ans.base = fx->base;
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture	*fx = *state;

	proxy_dns_free(fx->dns);
	event_free(fx->fake.ev);
	close(fx->fake.fd);
	event_base_free(fx->base);
	unlink(fx->hosts);
	free(fx);
	return 0;
}

/* Resolve host on port 443; run the loop until the answer (or 3 s). */
static void
resolve(struct fixture *fx, const char *host)
{
	struct timeval	tv = { 3, 0 };

	assert_non_null(proxy_dns_resolve_ttl(fx->dns, host, 443, done,
	    &fx->ans));
	assert_false(fx->ans.called);	/* never from inside the call */
	event_base_loopexit(fx->base, &tv);
	event_base_dispatch(fx->base);
	assert_true(fx->ans.called);
}

static void
assert_addr(const struct sockaddr_storage *ss, const char *want)
{
	char	buf[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)ss;

		inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf));
		assert_int_equal(ntohs(sin->sin_port), 443);
	} else {
		const struct sockaddr_in6 *sin6 = (const void *)ss;

		assert_int_equal(ss->ss_family, AF_INET6);
		inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof(buf));
		assert_int_equal(ntohs(sin6->sin6_port), 443);
	}
	assert_string_equal(buf, want);
}

static void
test_dns_ttl_is_the_smallest_record_ttl(void **state)
{
	struct fixture	*fx = *state;

	fx->fake.a = "10.1.2.3";
	fx->fake.ttl_a = 30;
	fx->fake.aaaa = "2001:db8::1";
	fx->fake.ttl_aaaa = 20;
	resolve(fx, "db.test");
	assert_string_equal(fx->ans.error, "");
	assert_int_equal(fx->ans.n, 2);
	assert_int_equal(fx->ans.ttl, 20);
	if (fx->ans.addrs[0].ss_family == AF_INET) {
		assert_addr(&fx->ans.addrs[0], "10.1.2.3");
		assert_addr(&fx->ans.addrs[1], "2001:db8::1");
	} else {
		assert_addr(&fx->ans.addrs[0], "2001:db8::1");
		assert_addr(&fx->ans.addrs[1], "10.1.2.3");
	}
}

static void
test_dns_ttl_family_without_records_is_not_an_error(void **state)
{
	struct fixture	*fx = *state;

	fx->fake.a = "10.1.2.3";
	fx->fake.ttl_a = 7;
	resolve(fx, "db.test");
	assert_string_equal(fx->ans.error, "");
	assert_int_equal(fx->ans.n, 1);
	assert_addr(&fx->ans.addrs[0], "10.1.2.3");
	assert_int_equal(fx->ans.ttl, 7);
	assert_int_equal(fx->fake.queries, 2);	/* A and AAAA */
}

static void
test_dns_ttl_zero_is_reported_as_zero(void **state)
{
	struct fixture	*fx = *state;

	fx->fake.a = "10.1.2.3";
	fx->fake.ttl_a = 0;
	resolve(fx, "db.test");
	assert_int_equal(fx->ans.n, 1);
	assert_int_equal(fx->ans.ttl, 0);
}

static void
test_dns_ttl_nxdomain_is_an_error(void **state)
{
	struct fixture	*fx = *state;

	fx->fake.rcode = 3;
	resolve(fx, "db.test");
	assert_int_equal(fx->ans.n, 0);
	assert_true(fx->ans.error[0] != '\0');
}

static void
test_dns_ttl_literal_needs_no_query(void **state)
{
	struct fixture	*fx = *state;

	resolve(fx, "192.0.2.1");
	assert_string_equal(fx->ans.error, "");
	assert_int_equal(fx->ans.n, 1);
	assert_addr(&fx->ans.addrs[0], "192.0.2.1");
	assert_int_equal(fx->ans.ttl, DNS_TTL_UNKNOWN);
	assert_int_equal(fx->fake.queries, 0);
}

static void
test_dns_ttl_hosts_entry_wins_over_dns(void **state)
{
	struct fixture	*fx = *state;

	fx->fake.a = "10.1.2.3";
	fx->fake.ttl_a = 30;
	resolve(fx, "pinned.test");
	assert_string_equal(fx->ans.error, "");
	assert_int_equal(fx->ans.n, 1);
	assert_addr(&fx->ans.addrs[0], "10.9.9.9");
	assert_int_equal(fx->ans.ttl, DNS_TTL_UNKNOWN);
	assert_int_equal(fx->fake.queries, 0);
}

static void
test_dns_ttl_cancelled_request_never_answers(void **state)
{
	struct fixture	*fx = *state;
	struct dns_req	*r;
	struct timeval	 tv = { 0, 300000 };

	fx->fake.silent = true;
	r = proxy_dns_resolve_ttl(fx->dns, "db.test", 443, done, &fx->ans);
	assert_non_null(r);
	event_base_loopexit(fx->base, &tv);
	event_base_dispatch(fx->base);		/* the queries go out */
	assert_int_equal(fx->fake.queries, 2);
	proxy_dns_cancel(r);
	tv.tv_usec = 100000;
	event_base_loopexit(fx->base, &tv);
	event_base_dispatch(fx->base);		/* cancellations run */
	assert_false(fx->ans.called);
	/* Under ASan, teardown shows the request was freed. */
}

static void
test_dns_ttl_cancel_after_answer_arrived_is_safe(void **state)
{
	struct fixture	*fx = *state;
	struct dns_req	*r;

	fx->fake.a = "10.1.2.3";
	fx->fake.ttl_a = 30;
	r = proxy_dns_resolve_ttl(fx->dns, "db.test", 443, done, &fx->ans);
	assert_non_null(r);
	proxy_dns_cancel(r);		/* before the loop ran at all */
	event_base_loop(fx->base, EVLOOP_NONBLOCK);
	usleep(50000);
	event_base_loop(fx->base, EVLOOP_NONBLOCK);
	event_base_loop(fx->base, EVLOOP_NONBLOCK);
	assert_false(fx->ans.called);
}

/* Descriptors open in this process. */
static int
count_fds(void)
{
	DIR		*d = opendir("/proc/self/fd");
	struct dirent	*de;
	int		 n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

struct plain_answer {
	bool		called;
	char		error[128];
	size_t		n;
};

static void
plain_done(const char *error, const struct sockaddr_storage *addrs,
    size_t n, void *arg)
{
	struct plain_answer	*a = arg;

	(void)addrs;
	a->called = true;
	a->n = n;
	snprintf(a->error, sizeof(a->error), "%s", error != NULL ? error : "");
}

/*
 * The system resolver is made at the first name to resolve: a new one,
 * and one that answered only IP literals, has opened nothing (evdns opens
 * the nameserver's socket when it starts); the first name is answered
 * (localhost, from /etc/hosts).
 */
static void
test_dns_system_resolver_is_made_at_first_use(void **state)
{
	struct event_base	*base = event_base_new();
	struct timeval		 tv = { 3, 0 };
	struct plain_answer	 a = { 0 };
	struct dns		*d;
	int			 n0;

	(void)state;
	assert_non_null(base);
	n0 = count_fds();
	d = proxy_dns_new(base);
	assert_non_null(d);
	assert_non_null(proxy_dns_resolve(d, "192.0.2.7", 80, plain_done,
	    &a));
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
	assert_true(a.called);
	assert_int_equal(a.n, 1);
	assert_int_equal(count_fds(), n0);

	memset(&a, 0, sizeof(a));
	assert_non_null(proxy_dns_resolve(d, "localhost", 80, plain_done,
	    &a));
	assert_false(a.called);
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
	assert_true(a.called);
	assert_string_equal(a.error, "");
	assert_true(a.n >= 1);
	proxy_dns_free(d);
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dns_system_resolver_is_made_at_first_use),
		cmocka_unit_test_setup_teardown(
		    test_dns_ttl_is_the_smallest_record_ttl, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_dns_ttl_family_without_records_is_not_an_error, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_dns_ttl_zero_is_reported_as_zero, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_dns_ttl_nxdomain_is_an_error, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_dns_ttl_literal_needs_no_query, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_dns_ttl_hosts_entry_wins_over_dns, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_dns_ttl_cancelled_request_never_answers, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_dns_ttl_cancel_after_answer_arrived_is_safe, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
