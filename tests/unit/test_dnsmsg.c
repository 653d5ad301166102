#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "util/dnsmsg.h"

/* A query as glibc sends it: id, RD, one question, optional OPT. */
static size_t
mkquery(uint8_t *b, const char *name, uint16_t type, bool edns,
    uint16_t size)
{
	size_t		 o = 12, l;
	const char	*p = name, *dot;

	memset(b, 0, 12);
	b[0] = 0x12;
	b[1] = 0x34;
	b[2] = 0x01;		/* RD */
	b[5] = 1;
	b[11] = edns ? 1 : 0;
	while (*p != '\0') {
		dot = strchr(p, '.');
		l = dot ? (size_t)(dot - p) : strlen(p);
		b[o++] = (uint8_t)l;
		memcpy(b + o, p, l);
		o += l;
		p += l + (dot ? 1 : 0);
	}
	b[o++] = 0;
	b[o++] = (uint8_t)(type >> 8);
	b[o++] = (uint8_t)type;
	b[o++] = 0;
	b[o++] = 1;
	if (edns) {
		b[o++] = 0;
		b[o++] = 0;
		b[o++] = 41;
		b[o++] = (uint8_t)(size >> 8);
		b[o++] = (uint8_t)size;
		memset(b + o, 0, 6);
		o += 6;
	}
	return o;
}

static void
test_glibc_query_with_edns_parses(void **state)
{
	uint8_t			 b[512];
	struct dnsmsg_query	 q;
	size_t			 n;

	(void)state;
	n = mkquery(b, "DB.Example.com", DNSMSG_T_AAAA, true, 1200);
	assert_int_equal(dnsmsg_parse(b, n, &q), DNSMSG_OK);
	assert_int_equal(q.id, 0x1234);
	assert_string_equal(q.name, "db.example.com");
	assert_true(q.name_ok);
	assert_int_equal(q.qtype, DNSMSG_T_AAAA);
	assert_int_equal(q.qclass, DNSMSG_C_IN);
	assert_true(q.edns);
	assert_int_equal(q.udp_size, 1200);
	assert_int_equal(dnsmsg_limit(&q, false), 1200);
	assert_int_equal(dnsmsg_limit(&q, true), DNSMSG_MAX);
}

static void
test_query_without_edns_is_limited_to_512(void **state)
{
	uint8_t			 b[512];
	struct dnsmsg_query	 q;
	size_t			 n;

	(void)state;
	n = mkquery(b, "a.b", DNSMSG_T_A, false, 0);
	assert_int_equal(dnsmsg_parse(b, n, &q), DNSMSG_OK);
	assert_false(q.edns);
	assert_int_equal(dnsmsg_limit(&q, false), 512);
}

static void
test_name_with_odd_bytes_never_matches(void **state)
{
	uint8_t			 b[512];
	struct dnsmsg_query	 q;
	size_t			 n;

	(void)state;
	n = mkquery(b, "a.b", DNSMSG_T_A, false, 0);
	b[13] = '.';		/* "." inside a label: "..b" must not be "b" */
	assert_int_equal(dnsmsg_parse(b, n, &q), DNSMSG_OK);
	assert_false(q.name_ok);
	assert_string_equal(q.name, "");
	b[13] = 0;		/* NUL inside a label */
	assert_int_equal(dnsmsg_parse(b, n, &q), DNSMSG_OK);
	assert_false(q.name_ok);
}

struct bad {
	const char	*what;
	size_t		 at;	/* byte to change, or SIZE_MAX */
	uint8_t		 val;
	long		 cut;	/* bytes removed (<0) or garbage added (>0) */
	enum dnsmsg_parse want;
	int		 rcode;
};

static const struct bad bads[] = {
	{ "a response", 2, 0x81, 0, DNSMSG_DROP, 0 },
	{ "opcode STATUS", 2, 0x11, 0, DNSMSG_ERROR, DNSMSG_NOTIMP },
	{ "TC in a query", 2, 0x03, 0, DNSMSG_ERROR, DNSMSG_FORMERR },
	{ "no question", 5, 0, 0, DNSMSG_ERROR, DNSMSG_FORMERR },
	{ "two questions", 5, 2, 0, DNSMSG_ERROR, DNSMSG_FORMERR },
	{ "an answer", 7, 1, 0, DNSMSG_ERROR, DNSMSG_FORMERR },
	{ "an authority", 9, 1, 0, DNSMSG_ERROR, DNSMSG_FORMERR },
	{ "two additionals", 11, 2, 0, DNSMSG_ERROR, DNSMSG_FORMERR },
	{ "compression pointer", 12, 0xc0, 0, DNSMSG_ERROR, DNSMSG_FORMERR },
	{ "reserved label type", 12, 0x40, 0, DNSMSG_ERROR, DNSMSG_FORMERR },
	{ "label past the end", 12, 60, 0, DNSMSG_ERROR, DNSMSG_FORMERR },
	{ "no root label", SIZE_MAX, 0, -16, DNSMSG_ERROR, DNSMSG_FORMERR },
	{ "short question", SIZE_MAX, 0, -13, DNSMSG_ERROR, DNSMSG_FORMERR },
	{ "trailing garbage", SIZE_MAX, 0, 3, DNSMSG_ERROR, DNSMSG_FORMERR },
	{ "OPT not root-owned", 21, 1, 0, DNSMSG_ERROR, DNSMSG_FORMERR },
	{ "additional not OPT", 23, 1, 0, DNSMSG_ERROR, DNSMSG_FORMERR },
	{ "EDNS version 1", 27, 1, 0, DNSMSG_ERROR, DNSMSG_FORMERR },
	{ "OPT rdata past end", 31, 9, 0, DNSMSG_ERROR, DNSMSG_FORMERR },
	{ "OPT cut short", SIZE_MAX, 0, -1, DNSMSG_ERROR, DNSMSG_FORMERR },
	{ "header only", SIZE_MAX, 0, -20, DNSMSG_ERROR, DNSMSG_FORMERR },
	{ "short header", SIZE_MAX, 0, -21, DNSMSG_DROP, 0 },
};

static void
test_malformed_queries_are_refused(void **state)
{
	uint8_t			 b[600];
	struct dnsmsg_query	 q;
	size_t			 n, i;
	enum dnsmsg_parse	 r;

	(void)state;
	for (i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		/* "a.b" A with OPT: header 12, name 5 (12..16), 4, OPT 11 */
		n = mkquery(b, "a.b", DNSMSG_T_A, true, 1232);
		assert_int_equal(n, 32);
		if (bads[i].at != SIZE_MAX)
			b[bads[i].at] = bads[i].val;
		if (bads[i].cut < 0)
			n -= (size_t)-bads[i].cut;
		else {
			memset(b + n, 0xee, (size_t)bads[i].cut);
			n += (size_t)bads[i].cut;
		}
		r = dnsmsg_parse(b, n, &q);
		if (r != bads[i].want)
			fail_msg("%s: %d, want %d", bads[i].what, r,
			    bads[i].want);
		if (r == DNSMSG_ERROR && q.rcode != bads[i].rcode)
			fail_msg("%s: rcode %d", bads[i].what, q.rcode);
		if (r == DNSMSG_ERROR) {
			assert_false(q.name_ok);
			assert_int_equal(dnsmsg_answer(&q, q.rcode, NULL, 0,
			    0, 512, b, sizeof(b)), 12);
			assert_int_equal(b[3] & 0xf, bads[i].rcode);
			assert_int_equal(b[2] & 0x80, 0x80);
		}
	}
	assert_int_equal(dnsmsg_parse(NULL, 0, &q), DNSMSG_DROP);
}

static void
test_name_longer_than_255_is_refused(void **state)
{
	uint8_t			 b[600];
	char			 name[300];
	struct dnsmsg_query	 q;
	size_t			 n;

	(void)state;
	/* 4 labels of 63: wire 4*64+1 = 257 */
	memset(name, 'x', sizeof(name));
	name[63] = name[127] = name[191] = '.';
	name[255] = '\0';
	n = mkquery(b, name, DNSMSG_T_A, false, 0);
	assert_int_equal(dnsmsg_parse(b, n, &q), DNSMSG_ERROR);
	/* 253 characters: the longest name is fine */
	name[253] = '\0';
	n = mkquery(b, name, DNSMSG_T_A, false, 0);
	assert_int_equal(dnsmsg_parse(b, n, &q), DNSMSG_OK);
	assert_int_equal(strlen(q.name), 253);
}

static void
addr4(struct sockaddr_storage *ss, const char *s)
{
	memset(ss, 0, sizeof(*ss));
	ss->ss_family = AF_INET;
	assert_int_equal(inet_pton(AF_INET,
	    s, &((struct sockaddr_in *)ss)->sin_addr), 1);
}

static void
addr6(struct sockaddr_storage *ss, const char *s)
{
	memset(ss, 0, sizeof(*ss));
	ss->ss_family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6,
	    s, &((struct sockaddr_in6 *)ss)->sin6_addr), 1);
}

static void
test_a_answer_holds_only_v4_addresses_with_ttl(void **state)
{
	uint8_t			 b[600], out[1500];
	struct dnsmsg_query	 q;
	struct sockaddr_storage	 a[3];
	size_t			 n;

	(void)state;
	addr4(&a[0], "10.1.2.3");
	addr6(&a[1], "fd00::1");
	addr4(&a[2], "10.1.2.4");
	n = mkquery(b, "db.test", DNSMSG_T_A, true, 1232);
	assert_int_equal(dnsmsg_parse(b, n, &q), DNSMSG_OK);
	n = dnsmsg_answer(&q, DNSMSG_NOERROR, a, 3, 300,
	    dnsmsg_limit(&q, false), out, sizeof(out));
	/* header, question (9+4), 2 A records (16 each), OPT */
	assert_int_equal(n, 12 + 13 + 32 + 11);
	assert_int_equal(out[0], 0x12);
	assert_int_equal(out[2], 0x85);		/* QR AA RD */
	assert_int_equal(out[3], 0x80);		/* RA, NOERROR */
	assert_int_equal(out[7], 2);		/* ANCOUNT */
	assert_int_equal(out[11], 1);		/* the OPT */
	assert_memory_equal(out + 12, b + 12, 13);
	assert_int_equal(out[25], 0xc0);
	assert_int_equal(out[26], 12);
	assert_int_equal(out[31] << 24 | out[32] << 16 | out[33] << 8 |
	    out[34], 300);
	assert_memory_equal(out + 37, "\x0a\x01\x02\x03", 4);
	assert_memory_equal(out + 53, "\x0a\x01\x02\x04", 4);
}

static void
test_aaaa_without_v6_addresses_is_nodata(void **state)
{
	uint8_t			 b[600], out[1500];
	struct dnsmsg_query	 q;
	struct sockaddr_storage	 a;
	size_t			 n;

	(void)state;
	addr4(&a, "10.1.2.3");
	n = mkquery(b, "db.test", DNSMSG_T_AAAA, false, 0);
	assert_int_equal(dnsmsg_parse(b, n, &q), DNSMSG_OK);
	n = dnsmsg_answer(&q, DNSMSG_NOERROR, &a, 1, 300, 512, out,
	    sizeof(out));
	assert_int_equal(n, 12 + 13);
	assert_int_equal(out[3] & 0xf, DNSMSG_NOERROR);
	assert_int_equal(out[7], 0);
}

static void
test_nxdomain_echoes_the_question(void **state)
{
	uint8_t			 b[600], out[1500];
	struct dnsmsg_query	 q;
	size_t			 n;

	(void)state;
	n = mkquery(b, "Exfil-1234.evil.example", DNSMSG_T_A, false, 0);
	assert_int_equal(dnsmsg_parse(b, n, &q), DNSMSG_OK);
	n = dnsmsg_answer(&q, DNSMSG_NXDOMAIN, NULL, 0, 0, 512, out,
	    sizeof(out));
	assert_int_equal(n, 12 + q.wirelen + 4);
	assert_int_equal(out[3] & 0xf, DNSMSG_NXDOMAIN);
	assert_int_equal(out[5], 1);
	assert_memory_equal(out + 12, b + 12, q.wirelen + 4);
}

static void
test_udp_answer_over_the_limit_sets_tc(void **state)
{
	uint8_t			 b[600], out[DNSMSG_MAX];
	struct dnsmsg_query	 q;
	struct sockaddr_storage	 a[40];
	size_t			 n, i;
	char			 s[32];

	(void)state;
	for (i = 0; i < 40; i++) {
		snprintf(s, sizeof(s), "10.0.0.%zu", i + 1);
		addr4(&a[i], s);
	}
	n = mkquery(b, "many.test", DNSMSG_T_A, false, 0);
	assert_int_equal(dnsmsg_parse(b, n, &q), DNSMSG_OK);
	/* 12 + 15 + 40*16 = 667 > 512 */
	n = dnsmsg_answer(&q, DNSMSG_NOERROR, a, 40, 60, 512, out,
	    sizeof(out));
	assert_int_equal(n, 12 + 15);
	assert_int_equal(out[2] & 0x02, 0x02);
	assert_int_equal(out[7], 0);
	n = dnsmsg_answer(&q, DNSMSG_NOERROR, a, 40, 60,
	    dnsmsg_limit(&q, true), out, sizeof(out));
	assert_int_equal(n, 12 + 15 + 40 * 16);
	assert_int_equal(out[2] & 0x02, 0);
	assert_int_equal(out[7], 40);
}

static void
test_tcp_framing_waits_for_the_whole_message(void **state)
{
	uint8_t			 b[10] = { 0, 3, 'a', 'b' };
	const uint8_t		*m;

	(void)state;
	assert_int_equal(dnsmsg_tcp_take(b, 1, &m), 0);
	assert_int_equal(dnsmsg_tcp_take(b, 4, &m), 0);
	assert_null(m);
	b[4] = 'c';
	assert_int_equal(dnsmsg_tcp_take(b, 5, &m), 3);
	assert_ptr_equal(m, b + 2);
	b[1] = 0;
	assert_int_equal(dnsmsg_tcp_take(b, 5, &m), SIZE_MAX);
	assert_int_equal(dnsmsg_tcp_frame(b, 300), 302);
	assert_int_equal(b[0], 1);
	assert_int_equal(b[1], 44);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_glibc_query_with_edns_parses),
		cmocka_unit_test(test_query_without_edns_is_limited_to_512),
		cmocka_unit_test(test_name_with_odd_bytes_never_matches),
		cmocka_unit_test(test_malformed_queries_are_refused),
		cmocka_unit_test(test_name_longer_than_255_is_refused),
		cmocka_unit_test(test_a_answer_holds_only_v4_addresses_with_ttl),
		cmocka_unit_test(test_aaaa_without_v6_addresses_is_nodata),
		cmocka_unit_test(test_nxdomain_echoes_the_question),
		cmocka_unit_test(test_udp_answer_over_the_limit_sets_tc),
		cmocka_unit_test(test_tcp_framing_waits_for_the_whole_message),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
