#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/sni.h"

/*
 * A small ClientHello builder.  The handshake body is built first, then
 * wrapped in a handshake header and cut into TLS records of at most
 * rec_max payload bytes.
 */
#define BUF_MAX		(64 * 1024)

struct buf {
	unsigned char	b[BUF_MAX];
	size_t		len;
};

static void
put(struct buf *b, const void *p, size_t n)
{
	assert_true(b->len + n <= sizeof(b->b));
	memcpy(b->b + b->len, p, n);
	b->len += n;
}

static void
put8(struct buf *b, unsigned v)
{
	unsigned char	c = (unsigned char)v;

	put(b, &c, 1);
}

static void
put16(struct buf *b, unsigned v)
{
	put8(b, v >> 8);
	put8(b, v & 0xff);
}

static void
put24(struct buf *b, unsigned v)
{
	put8(b, v >> 16);
	put16(b, v & 0xffff);
}

/* An extension of type with n bytes of payload p. */
static void
put_ext(struct buf *b, unsigned type, const void *p, size_t n)
{
	put16(b, type);
	put16(b, (unsigned)n);
	put(b, p, n);
}

/* The server_name extension payload for name (nlen bytes). */
static void
sni_payload(struct buf *e, const char *name, size_t nlen)
{
	e->len = 0;
	put16(e, (unsigned)(nlen + 3));	/* server_name_list length */
	put8(e, 0);			/* host_name */
	put16(e, (unsigned)nlen);
	put(e, name, nlen);
}

struct hello {
	const char	*sni;		/* NULL: no server_name extension */
	size_t		 sni_len;	/* 0: strlen(sni) */
	bool		 no_exts;	/* no extensions block at all */
	bool		 ext_before;	/* other extensions before SNI */
	bool		 ext_after;	/* and after */
	size_t		 sid_len;	/* session id length */
	size_t		 pad;		/* a padding extension this big */
	size_t		 rec_max;	/* 0: one record */
};

/* The ClientHello handshake body (after the 4-byte handshake header). */
static void
hello_body(struct buf *b, const struct hello *h)
{
	struct buf	*ext = calloc(1, sizeof(*ext));
	struct buf	*e = calloc(1, sizeof(*e));
	unsigned char	 rnd[32], sid[32];
	size_t		 i;

	memset(rnd, 0xab, sizeof(rnd));
	memset(sid, 0xcd, sizeof(sid));
	b->len = 0;
	put16(b, 0x0303);
	put(b, rnd, sizeof(rnd));
	put8(b, (unsigned)h->sid_len);
	put(b, sid, h->sid_len);
	put16(b, 6);
	put16(b, 0x1301);
	put16(b, 0x1302);
	put16(b, 0xc02f);
	put8(b, 1);
	put8(b, 0);
	if (h->no_exts)
		goto out;
	if (h->ext_before) {
		/* supported_versions: TLS 1.3, 1.2 */
		put_ext(ext, 0x002b, "\x04\x03\x04\x03\x03", 5);
		/* ec_point_formats */
		put_ext(ext, 0x000b, "\x01\x00", 2);
		/* an empty extension */
		put_ext(ext, 0x0017, "", 0);
	}
	if (h->sni != NULL) {
		sni_payload(e, h->sni, h->sni_len ? h->sni_len :
		    strlen(h->sni));
		put_ext(ext, 0x0000, e->b, e->len);
	}
	if (h->ext_after)
		put_ext(ext, 0x0010, "\x00\x03\x02h2", 5);	/* ALPN */
	if (h->pad > 0) {
		e->len = 0;
		for (i = 0; i < h->pad; i++)
			put8(e, 0);
		put_ext(ext, 0x0015, e->b, e->len);
	}
	put16(b, (unsigned)ext->len);
	put(b, ext->b, ext->len);
out:
	free(ext);
	free(e);
}

/* Wrap a handshake message (header included) in records. */
static void
records(struct buf *out, const unsigned char *hs, size_t len, size_t rec_max)
{
	size_t	off, n;

	out->len = 0;
	if (rec_max == 0)
		rec_max = 16384;
	for (off = 0; off < len; off += n) {
		n = len - off < rec_max ? len - off : rec_max;
		put8(out, 0x16);
		put16(out, 0x0301);
		put16(out, (unsigned)n);
		put(out, hs + off, n);
	}
}

/* Build the whole ClientHello (records) into out. */
static void
build(struct buf *out, const struct hello *h)
{
	struct buf	*body = calloc(1, sizeof(*body));
	struct buf	*hs = calloc(1, sizeof(*hs));

	hello_body(body, h);
	put8(hs, 0x01);
	put24(hs, (unsigned)body->len);
	put(hs, body->b, body->len);
	records(out, hs->b, hs->len, h->rec_max);
	free(body);
	free(hs);
}

/* Offsets into a one-record hello built with sid_len 0, no ext_before. */
#define OFF_HS		5		/* handshake header */
#define OFF_BODY	9
#define OFF_SID		(OFF_BODY + 2 + 32)
#define OFF_CIPHERS	(OFF_SID + 1)
#define OFF_COMP	(OFF_CIPHERS + 2 + 6)
#define OFF_EXTS	(OFF_COMP + 2)	/* extensions total length */
#define OFF_SNI_EXT	(OFF_EXTS + 2)	/* type, length */
#define OFF_SNI_LIST	(OFF_SNI_EXT + 4)
#define OFF_SNI_TYPE	(OFF_SNI_LIST + 2)
#define OFF_SNI_LEN	(OFF_SNI_TYPE + 1)
#define OFF_SNI_NAME	(OFF_SNI_LEN + 2)

static struct buf	*cur;

static int
setup(void **state)
{
	(void)state;
	cur = calloc(1, sizeof(*cur));
	return cur == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	(void)state;
	free(cur);
	return 0;
}

static enum sni_result
parse(const unsigned char *p, size_t len, char *name, size_t namesz)
{
	memset(name, 'X', namesz);
	return proxy_sni_parse(p, len, name, namesz);
}

static void
set16(struct buf *b, size_t off, unsigned v)
{
	b->b[off] = (unsigned char)(v >> 8);
	b->b[off + 1] = (unsigned char)v;
}

/* A simple hello for "a.example" to be broken by a test. */
static void
simple(struct buf *b)
{
	struct hello	h = { .sni = "a.example" };

	build(b, &h);
	/* The offsets above must describe it. */
	assert_int_equal(b->b[OFF_SNI_NAME], 'a');
	assert_int_equal(b->b[OFF_SNI_LEN + 1], 9);
	assert_int_equal(b->len, OFF_SNI_NAME + 9);
}

static void
assert_bad(const struct buf *b)
{
	char	name[256];

	assert_int_equal(parse(b->b, b->len, name, sizeof(name)), SNI_BAD);
}

static void
test_sni_finds_name_lower_cased(void **state)
{
	struct hello	h = { .sni = "Api.Example.COM" };
	char		name[256];

	(void)state;
	build(cur, &h);
	assert_int_equal(parse(cur->b, cur->len, name, sizeof(name)),
	    SNI_FOUND);
	assert_string_equal(name, "api.example.com");
}

static void
test_sni_finds_name_among_other_extensions(void **state)
{
	struct hello	h = { .sni = "b.example", .ext_before = true,
	    .ext_after = true, .sid_len = 32 };
	char		name[256];

	(void)state;
	build(cur, &h);
	assert_int_equal(parse(cur->b, cur->len, name, sizeof(name)),
	    SNI_FOUND);
	assert_string_equal(name, "b.example");
}

static void
test_sni_finds_name_with_trailing_bytes(void **state)
{
	struct hello	h = { .sni = "a.example" };
	char		name[256];

	(void)state;
	/* Application data may already follow the ClientHello. */
	build(cur, &h);
	put(cur, "\x17\x03\x03\x00\x01Z", 6);
	assert_int_equal(parse(cur->b, cur->len, name, sizeof(name)),
	    SNI_FOUND);
	assert_string_equal(name, "a.example");
}

static void
test_sni_name_filling_the_buffer_exactly(void **state)
{
	struct hello	h = { .sni = "abcdefghi" };
	char		name[10];

	(void)state;
	build(cur, &h);
	assert_int_equal(parse(cur->b, cur->len, name, sizeof(name)),
	    SNI_FOUND);
	assert_string_equal(name, "abcdefghi");
}

static void
test_sni_name_too_long_for_buffer_is_bad(void **state)
{
	struct hello	h = { .sni = "abcdefghij" };
	char		name[10];

	(void)state;
	build(cur, &h);
	assert_int_equal(parse(cur->b, cur->len, name, sizeof(name)),
	    SNI_BAD);
}

static void
test_sni_without_server_name_is_none(void **state)
{
	struct hello	h = { .ext_before = true, .ext_after = true };
	char		name[256];

	(void)state;
	build(cur, &h);
	assert_int_equal(parse(cur->b, cur->len, name, sizeof(name)),
	    SNI_NONE);
}

static void
test_sni_without_extensions_is_none(void **state)
{
	struct hello	h = { .no_exts = true };
	char		name[256];

	(void)state;
	build(cur, &h);
	assert_int_equal(parse(cur->b, cur->len, name, sizeof(name)),
	    SNI_NONE);
}

static void
test_sni_non_tls_first_byte_is_none(void **state)
{
	char		 name[256];
	const char	*http = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
	const unsigned char ssh[] = "SSH-2.0-OpenSSH_9.6\r\n";
	const unsigned char appdata[] = "\x17\x03\x03\x00\x05hello";

	(void)state;
	assert_int_equal(parse((const unsigned char *)http, strlen(http),
	    name, sizeof(name)), SNI_NONE);
	assert_int_equal(parse(ssh, sizeof(ssh) - 1, name, sizeof(name)),
	    SNI_NONE);
	assert_int_equal(parse(appdata, sizeof(appdata) - 1, name,
	    sizeof(name)), SNI_NONE);
	/* One byte is enough to know. */
	assert_int_equal(parse((const unsigned char *)"G", 1, name,
	    sizeof(name)), SNI_NONE);
}

static void
test_sni_non_tls_record_version_is_none(void **state)
{
	char	name[256];

	(void)state;
	simple(cur);
	cur->b[1] = 0x02;
	assert_int_equal(parse(cur->b, cur->len, name, sizeof(name)),
	    SNI_NONE);
}

static void
test_sni_every_truncation_is_more(void **state)
{
	struct hello	h = { .sni = "a.example", .ext_before = true,
	    .ext_after = true, .sid_len = 32 };
	char		name[256];
	size_t		n;

	(void)state;
	build(cur, &h);
	for (n = 0; n < cur->len; n++)
		if (parse(cur->b, n, name, sizeof(name)) != SNI_MORE)
			fail_msg("prefix of %zu/%zu bytes is not MORE", n,
			    cur->len);
	assert_int_equal(parse(cur->b, n, name, sizeof(name)), SNI_FOUND);
}

static void
test_sni_split_across_two_records_is_found(void **state)
{
	struct hello	h = { .sni = "Split.Example", .ext_before = true,
	    .sid_len = 32 };
	char		name[256];
	size_t		first;

	(void)state;
	/* Find the one-record size, then cut the handshake in two. */
	build(cur, &h);
	first = (cur->len - 5) / 2;
	h.rec_max = first;
	build(cur, &h);
	assert_int_equal(cur->b[0], 0x16);
	assert_int_equal(cur->b[5 + first], 0x16);	/* second header */
	assert_int_equal(parse(cur->b, cur->len, name, sizeof(name)),
	    SNI_FOUND);
	assert_string_equal(name, "split.example");
	/* Only the first record (and part of the second): MORE. */
	assert_int_equal(parse(cur->b, 5 + first, name, sizeof(name)),
	    SNI_MORE);
	assert_int_equal(parse(cur->b, 5 + first + 7, name, sizeof(name)),
	    SNI_MORE);
}

static void
test_sni_split_across_many_records_is_found(void **state)
{
	struct hello	h = { .sni = "many.example", .ext_before = true,
	    .ext_after = true, .sid_len = 32, .rec_max = 16 };
	char		name[256];

	(void)state;
	build(cur, &h);
	assert_int_equal(parse(cur->b, cur->len, name, sizeof(name)),
	    SNI_FOUND);
	assert_string_equal(name, "many.example");
}

/*
 * RFC 8446 §5.1 lets a handshake message be fragmented anywhere, even
 * inside its 4-byte header.  SOURCE BUG while this fails: the handshake
 * length is read from s[6..8] of the first record, which here are partly
 * the next record's header (record payload 1: BAD; 2: MORE forever; 3:
 * BAD).
 */
static void
test_sni_handshake_header_split_across_records_is_found(void **state)
{
	struct hello	h = { .sni = "frag.example" };
	char		name[256];
	enum sni_result	r[4];
	size_t		i;

	(void)state;
	for (i = 0; i < 4; i++) {
		h.rec_max = i + 1;
		build(cur, &h);
		assert_int_equal(cur->b[4], i + 1);
		r[i] = parse(cur->b, cur->len, name, sizeof(name));
		if (r[i] == SNI_FOUND)
			assert_string_equal(name, "frag.example");
	}
	for (i = 0; i < 4; i++)
		if (r[i] != SNI_FOUND)
			fail_msg("records of %zu payload bytes: %d, want FOUND; "
			    "all: %d %d %d %d", i + 1, r[i], r[0], r[1], r[2],
			    r[3]);
}

static void
test_sni_zero_length_record_is_bad(void **state)
{
	struct hello	h = { .sni = "a.example", .rec_max = 40 };
	char		name[256];

	(void)state;
	build(cur, &h);
	/* Make the second record empty (its payload moves to the third). */
	set16(cur, 5 + 40 + 3, 0);
	assert_int_equal(parse(cur->b, cur->len, name, sizeof(name)),
	    SNI_BAD);
}

static void
test_sni_second_record_not_handshake_is_bad(void **state)
{
	struct hello	h = { .sni = "a.example", .rec_max = 40 };
	char		name[256];

	(void)state;
	build(cur, &h);
	cur->b[5 + 40] = 0x17;
	assert_int_equal(parse(cur->b, cur->len, name, sizeof(name)),
	    SNI_BAD);
}

static void
test_sni_handshake_not_client_hello_is_bad(void **state)
{
	(void)state;
	simple(cur);
	cur->b[OFF_HS] = 0x02;		/* ServerHello */
	assert_bad(cur);
}

static void
test_sni_bad_session_id_length_is_bad(void **state)
{
	(void)state;
	simple(cur);
	cur->b[OFF_SID] = 0xff;
	assert_bad(cur);
}

static void
test_sni_bad_cipher_suites_length_is_bad(void **state)
{
	(void)state;
	simple(cur);
	set16(cur, OFF_CIPHERS, 0xfff0);
	assert_bad(cur);
}

static void
test_sni_bad_compression_length_is_bad(void **state)
{
	(void)state;
	simple(cur);
	cur->b[OFF_COMP] = 0xff;
	assert_bad(cur);
}

static void
test_sni_bad_extensions_length_is_bad(void **state)
{
	(void)state;
	simple(cur);
	set16(cur, OFF_EXTS, 0x1000);
	assert_bad(cur);
}

static void
test_sni_extension_longer_than_block_is_bad(void **state)
{
	(void)state;
	simple(cur);
	set16(cur, OFF_SNI_EXT + 2, 0x0100);
	assert_bad(cur);
}

static void
test_sni_bad_server_name_list_length_is_bad(void **state)
{
	(void)state;
	simple(cur);
	set16(cur, OFF_SNI_LIST, 0x0100);
	assert_bad(cur);
}

static void
test_sni_name_longer_than_extension_is_bad(void **state)
{
	(void)state;
	simple(cur);
	set16(cur, OFF_SNI_LEN, 10);
	assert_bad(cur);
}

static void
test_sni_empty_name_is_bad(void **state)
{
	(void)state;
	simple(cur);
	set16(cur, OFF_SNI_LEN, 0);
	assert_bad(cur);
}

static void
test_sni_non_host_name_type_is_bad(void **state)
{
	(void)state;
	simple(cur);
	cur->b[OFF_SNI_TYPE] = 1;
	assert_bad(cur);
}

static void
test_sni_handshake_length_beyond_record_data_is_bad_not_overread(
    void **state)
{
	char	name[256];

	(void)state;
	/* Body shorter than its lengths claim, inside a whole message. */
	simple(cur);
	cur->len = OFF_CIPHERS + 1;
	cur->b[OFF_HS + 3] = (unsigned char)(cur->len - OFF_BODY);
	cur->b[OFF_HS + 2] = 0;
	cur->b[OFF_HS + 1] = 0;
	set16(cur, 3, (unsigned)(cur->len - 5));
	assert_int_equal(parse(cur->b, cur->len, name, sizeof(name)),
	    SNI_BAD);
}

static void
test_sni_oversize_handshake_is_bad(void **state)
{
	char	name[256];

	(void)state;
	simple(cur);
	/* A handshake length larger than SNI_PEEK_MAX. */
	cur->b[OFF_HS + 1] = 0x01;
	cur->b[OFF_HS + 2] = 0x00;
	cur->b[OFF_HS + 3] = 0x00;
	assert_int_equal(parse(cur->b, cur->len, name, sizeof(name)),
	    SNI_BAD);
	cur->b[OFF_HS + 1] = 0xff;
	cur->b[OFF_HS + 2] = 0xff;
	cur->b[OFF_HS + 3] = 0xff;
	assert_int_equal(parse(cur->b, cur->len, name, sizeof(name)),
	    SNI_BAD);
}

static void
test_sni_largest_single_record_hello_is_found(void **state)
{
	struct hello	h = { .sni = "big.example", .pad = 1 };
	char		name[256];
	size_t		body;

	(void)state;
	/* Pad so the handshake is exactly 16384 bytes: one full record. */
	build(cur, &h);
	body = cur->len - 5;
	h.pad = 1 + 16384 - body;
	build(cur, &h);
	assert_int_equal(cur->len, 5 + 16384);
	assert_int_equal(parse(cur->b, cur->len, name, sizeof(name)),
	    SNI_FOUND);
	assert_string_equal(name, "big.example");
}

static void
test_sni_hello_over_peek_max_across_records_is_bad(void **state)
{
	struct hello	h = { .sni = "big.example", .pad = 16000,
	    .rec_max = 100 };
	char		name[256];

	(void)state;
	/*
	 * Fits SNI_PEEK_MAX as a message, but not with its record headers:
	 * at SNI_PEEK_MAX bytes it is still unfinished.
	 */
	build(cur, &h);
	assert_true(cur->len > SNI_PEEK_MAX);
	assert_int_equal(parse(cur->b, SNI_PEEK_MAX - 1, name, sizeof(name)),
	    SNI_MORE);
	assert_int_equal(parse(cur->b, SNI_PEEK_MAX, name, sizeof(name)),
	    SNI_BAD);
}

/* A name with byte c at position 1: BAD. */
static void
assert_bad_name_byte(unsigned char c)
{
	struct hello	h = { 0 };
	char		sni[] = "aXb.example", name[256];

	sni[1] = (char)c;
	h.sni = sni;
	h.sni_len = strlen("aXb.example");
	build(cur, &h);
	if (parse(cur->b, cur->len, name, sizeof(name)) != SNI_BAD)
		fail_msg("SNI byte 0x%02x accepted", c);
}

static void
test_sni_name_with_control_bytes_is_bad(void **state)
{
	unsigned	c;

	(void)state;
	for (c = 0; c <= 0x20; c++)
		assert_bad_name_byte((unsigned char)c);
	assert_bad_name_byte(0x7f);
	for (c = 0x80; c <= 0xff; c++)
		assert_bad_name_byte((unsigned char)c);
}

int
main(void)
{
#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_sni_finds_name_lower_cased),
		T(test_sni_finds_name_among_other_extensions),
		T(test_sni_finds_name_with_trailing_bytes),
		T(test_sni_name_filling_the_buffer_exactly),
		T(test_sni_name_too_long_for_buffer_is_bad),
		T(test_sni_without_server_name_is_none),
		T(test_sni_without_extensions_is_none),
		T(test_sni_non_tls_first_byte_is_none),
		T(test_sni_non_tls_record_version_is_none),
		T(test_sni_every_truncation_is_more),
		T(test_sni_split_across_two_records_is_found),
		T(test_sni_split_across_many_records_is_found),
		T(test_sni_handshake_header_split_across_records_is_found),
		T(test_sni_zero_length_record_is_bad),
		T(test_sni_second_record_not_handshake_is_bad),
		T(test_sni_handshake_not_client_hello_is_bad),
		T(test_sni_bad_session_id_length_is_bad),
		T(test_sni_bad_cipher_suites_length_is_bad),
		T(test_sni_bad_compression_length_is_bad),
		T(test_sni_bad_extensions_length_is_bad),
		T(test_sni_extension_longer_than_block_is_bad),
		T(test_sni_bad_server_name_list_length_is_bad),
		T(test_sni_name_longer_than_extension_is_bad),
		T(test_sni_empty_name_is_bad),
		T(test_sni_non_host_name_type_is_bad),
		T(test_sni_handshake_length_beyond_record_data_is_bad_not_overread),
		T(test_sni_oversize_handshake_is_bad),
		T(test_sni_largest_single_record_hello_is_found),
		T(test_sni_hello_over_peek_max_across_records_is_bad),
		T(test_sni_name_with_control_bytes_is_bad),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
