/*
 * The HTTP head parser and body framing (proxy/http.h), the way conn.c,
 * forward.c and connect.c drive it: bytes arrive in pieces, a head is read
 * with the limits, the body is scanned for framing, and keep-alive resets
 * the message for the next pipelined request.
 *
 * Input: one flags byte, then the wire bytes.
 *   bit 0	response parser (else request)
 *   bit 1	small limits (line 64, head 256) instead of 8 KiB / 64 KiB
 *   bit 2	the response answers HEAD (no body)
 *   bits 3-7	piece size - 1 (0: every byte at once)
 * The same input is also run in one piece: both runs must agree on every
 * head they read (the incremental CRLF CRLF search must not change what
 * is parsed).
 */
#include <event2/buffer.h>

#include "fuzz.h"
#include "policy/allowlist.h"
#include "proxy/http.h"
#include "util/errbuf.h"
#include "util/strbuf.h"

#define MSG_MAX	8	/* pipelined messages looked at */

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);
static void	check_dispatch(const struct http_msg *,
		    const struct http_head *);

/* Check a head the parser accepted; append a summary of it to sb. */
static void
check_head(const struct http_msg *m, const struct http_head *h,
    struct strbuf *sb)
{
	size_t		 i, j;
	const char	*v;
	char		*host;
	uint16_t	 port;
	struct errbuf	 e;

	FZ_ASSERT(h != NULL, "DONE without a head");
	FZ_ASSERT(h->raw_len >= 4, "raw_len %zu", h->raw_len);
	FZ_ASSERT(h->major == 1 && h->minor <= 1, "version %u.%u", h->major,
	    h->minor);
	strbuf_appendf(sb, "[%u.%u %zu", h->major, h->minor, h->raw_len);
	if (m->type == HTTP_REQUEST) {
		FZ_ASSERT(h->method != NULL && h->method[0] != '\0',
		    "no method");
		FZ_ASSERT(h->target != NULL && h->target[0] != '\0',
		    "no target");
		strbuf_appendf(sb, " %s %s", h->method, h->target);
		FZ_ASSERT(proxy_http_header_count(h, "Host") <= 1, "2 Host");
		FZ_ASSERT(proxy_http_header_count(h, "Content-Length") <= 1,
		    "2 Content-Length");
		FZ_ASSERT(!(proxy_http_header(h, "Content-Length") != NULL &&
		    proxy_http_header(h, "Transfer-Encoding") != NULL),
		    "CL and TE");
		/* What connect.c does with a CONNECT target. */
		if (strcmp(h->method, "CONNECT") == 0 &&
		    proxy_http_parse_authority(h->target, &host, &port,
		    443) == 0) {
			free(policy_allowlist_canon_host(host, strlen(host),
			    &e));
			free(host);
		}
	} else
		strbuf_appendf(sb, " %d", h->status);
	for (i = 0; i < h->nh; i++) {
		FZ_ASSERT(h->h[i].name[0] != '\0', "empty header name");
		for (j = 0; h->h[i].name[j] != '\0'; j++)
			FZ_ASSERT(proxy_http_is_tchar(
			    (unsigned char)h->h[i].name[j]),
			    "header name byte %#x", h->h[i].name[j]);
		for (v = h->h[i].value; *v != '\0'; v++)
			FZ_ASSERT((unsigned char)*v >= 0x20 || *v == '\t',
			    "header value byte %#x", *v);
		strbuf_appendf(sb, " %s=%s", h->h[i].name, h->h[i].value);
	}
	(void)proxy_http_header_has_token(h, "Connection", "close");
	(void)proxy_http_header_has_token(h, "Connection", "upgrade");
	strbuf_appendf(sb, " c%d l%d:%llu u%d k%d]", m->chunked, m->has_length,
	    (unsigned long long)m->length, m->upgrade, m->keep_alive);
}

/*
 * Run the input in pieces of size piece (0: all at once).  Appends one
 * summary per head to sb; returns the final status ("MORE", a BAD status,
 * or how the body ended).
 */
static int
run(const uint8_t *d, size_t n, int type, uint32_t line_max,
    uint32_t head_max, bool no_body, size_t piece, struct strbuf *sb)
{
	struct http_msg		 m;
	struct evbuffer		*in = evbuffer_new();
	struct evbuffer_iovec	 v;
	struct http_head	*h;
	enum http_result	 r;
	size_t			 off = 0, k, used, nmsg = 0;
	int			 status = 0;
	bool			 in_body = false;

	if (piece == 0)
		piece = n;
	proxy_http_msg_init(&m, type, line_max, head_max);
	m.no_body = no_body;
	for (;;) {
		if (!in_body) {
			r = proxy_http_read_head(&m, in);
			if (r == HTTP_BAD) {
				FZ_ASSERT(m.bad_status == 400 ||
				    m.bad_status == 414 ||
				    m.bad_status == 431 ||
				    m.bad_status == 502 ||
				    m.bad_status == 505, "status %d",
				    m.bad_status);
				FZ_ASSERT(m.bad_reason[0] != '\0',
				    "no reason");
				status = m.bad_status;
				break;
			}
			if (r == HTTP_DONE) {
				h = proxy_http_take_head(&m);
				check_head(&m, h, sb);
				check_dispatch(&m, h);
				proxy_http_head_free(h);
				if (m.upgrade)
					break;	/* a tunnel from here on */
				in_body = true;
				continue;
			}
		} else {
			while (!m.msg_done &&
			    evbuffer_peek(in, -1, NULL, &v, 1) > 0) {
				r = proxy_http_scan_body(&m, v.iov_base,
				    v.iov_len, &used);
				FZ_ASSERT(used <= v.iov_len, "used %zu of %zu",
				    used, v.iov_len);
				if (r == HTTP_BAD) {
					status = m.bad_status;
					goto out;
				}
				evbuffer_drain(in, used);
				if (r == HTTP_DONE || used == 0)
					break;
			}
			if (m.msg_done) {
				strbuf_appendf(sb, "{%llu}", (unsigned long long)
				    m.body_bytes);
				if (++nmsg >= MSG_MAX)
					break;
				proxy_http_msg_reset(&m);
				m.no_body = no_body;
				in_body = false;
				continue;
			}
		}
		if (off >= n) {
			status = in_body && proxy_http_eof_ends_body(&m) ?
			    1 : 0;
			break;
		}
		k = n - off < piece ? n - off : piece;
		evbuffer_add(in, d + off, k);
		off += k;
	}
out:
	proxy_http_msg_free(&m);
	evbuffer_free(in);
	return status;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_quiet();
	return 0;
}

/*
 * Dispatch as conn.c does: every request head is exactly one kind, and a
 * CONNECT's authority parses or is refused cleanly.
 */
static void
check_dispatch(const struct http_msg *m, const struct http_head *h)
{
	enum http_kind	 k;
	char		*host = NULL;
	uint16_t	 port;

	if (m->type != HTTP_REQUEST)
		return;
	k = proxy_http_request_kind(h);
	FZ_ASSERT(k >= HTTP_KIND_BAD && k <= HTTP_KIND_ROUTE, "kind %d", k);
	if (k == HTTP_KIND_CONNECT &&
	    proxy_http_parse_authority(h->target, &host, &port, 443) == 0) {
		FZ_ASSERT(host != NULL && host[0] != '\0' && port != 0,
		    "authority %s parsed to nothing", h->target);
		free(host);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct strbuf	 a = { 0 }, b = { 0 };
	uint8_t		 fl;
	int		 type, sa, sb;
	uint32_t	 lmax, hmax;
	bool		 small;

	if (size < 1)
		return 0;
	fl = data[0];
	data++;
	size--;
	type = (fl & 1) ? HTTP_RESPONSE : HTTP_REQUEST;
	small = (fl & 2) != 0;
	lmax = small ? 64 : 8192;
	hmax = small ? 256 : 65536;
	sa = run(data, size, type, lmax, hmax, (fl & 4) != 0,
	    (size_t)(fl >> 3), &a);
	sb = run(data, size, type, lmax, hmax, (fl & 4) != 0, 0, &b);
	/*
	 * Split or whole, the same heads.  A limit error may strike earlier
	 * in pieces (a partial line is measured as it grows), so only the
	 * heads both runs read are compared when one ran into a limit.
	 */
	if (sa == 414 || sa == 431 || sb == 414 || sb == 431 ||
	    ((sa == 502 || sb == 502) && type == HTTP_RESPONSE)) {
		size_t l = a.len < b.len ? a.len : b.len;

		FZ_ASSERT(l == 0 || memcmp(a.s, b.s, l) == 0,
		    "pieces and whole differ before a limit:\n"
		    " pieces(%d): %s\n whole(%d): %s", sa, strbuf_str(&a), sb,
		    strbuf_str(&b));
	} else {
		FZ_ASSERT(a.len == b.len && (a.len == 0 ||
		    memcmp(a.s, b.s, a.len) == 0),
		    "pieces and whole differ:\n pieces(%d): %s\n whole(%d): %s",
		    sa, strbuf_str(&a), sb, strbuf_str(&b));
		FZ_ASSERT(sa == sb, "final status %d vs %d", sa, sb);
	}
	strbuf_free(&a);
	strbuf_free(&b);
	return 0;
}
