#include "proxy/http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "util/pct.h"
#include "util/strnum.h"
#include "util/xmalloc.h"

static int	msg_on_begin(http_parser *);
static int	msg_on_url(http_parser *, const char *, size_t);
static int	msg_on_field(http_parser *, const char *, size_t);
static int	msg_on_value(http_parser *, const char *, size_t);
static int	msg_on_headers_complete(http_parser *);
static int	msg_on_body(http_parser *, const char *, size_t);
static int	msg_on_complete(http_parser *);

static const http_parser_settings msg_settings = {
	.on_message_begin = msg_on_begin,
	.on_url = msg_on_url,
	.on_header_field = msg_on_field,
	.on_header_value = msg_on_value,
	.on_headers_complete = msg_on_headers_complete,
	.on_body = msg_on_body,
	.on_message_complete = msg_on_complete,
};

bool
proxy_http_is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

enum http_kind
proxy_http_request_kind(const struct http_head *h)
{
	if (h->method == NULL || h->target == NULL)
		return HTTP_KIND_BAD;
	if (strcmp(h->method, "CONNECT") == 0)
		return HTTP_KIND_CONNECT;
	if (strncasecmp(h->target, "http://", 7) == 0 ||
	    strncasecmp(h->target, "https://", 8) == 0)
		return HTTP_KIND_FORWARD;
	if (h->target[0] == '/')
		return HTTP_KIND_ROUTE;
	return HTTP_KIND_BAD;
}

const char *
proxy_http_reason(int status)
{
	const char	*reason;

	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 407: return "Proxy Authentication Required";
	case 408: return "Request Timeout";
	case 411: return "Length Required";
	case 413: return "Payload Too Large";
	case 414: return "URI Too Long";
	case 417: return "Expectation Failed";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: break;
	}
	/* A status relayed from an upstream: its RFC 9110 phrase. */
	reason = http_status_str((enum http_status)status);
	return strcmp(reason, "<unknown>") == 0 ? "Unknown" : reason;
}

void
proxy_http_msg_init(struct http_msg *m, enum http_parser_type type,
    uint32_t line_max, uint32_t head_max)
{
	memset(m, 0, sizeof(*m));
	m->type = type;
	m->line_max = line_max;
	m->head_max = head_max;
	http_parser_init(&m->p, type);
	m->p.data = m;
}

void
proxy_http_msg_reset(struct http_msg *m)
{
	enum http_parser_type	type = m->type;
	uint32_t		line_max = m->line_max, head_max = m->head_max;

	proxy_http_msg_free(m);
	proxy_http_msg_init(m, type, line_max, head_max);
}

void
proxy_http_msg_free(struct http_msg *m)
{
	proxy_http_head_free(m->head);
	m->head = NULL;
	free(m->cur_field);
	free(m->cur_value);
	m->cur_field = m->cur_value = NULL;
	m->cur_field_len = m->cur_value_len = 0;
}

void
proxy_http_head_free(struct http_head *h)
{
	size_t	i;

	if (h == NULL)
		return;
	for (i = 0; i < h->nh; i++) {
		free(h->h[i].name);
		freezero_str(h->h[i].value);	/* may carry credentials */
	}
	free(h->h);
	free(h->method);
	free(h->target);
	free(h);
}

struct http_head *
proxy_http_take_head(struct http_msg *m)
{
	struct http_head	*h = m->head;

	m->head = NULL;
	return h;
}

static void
msg_bad(struct http_msg *m, int status, const char *reason)
{
	m->bad_status = status;
	snprintf(m->bad_reason, sizeof(m->bad_reason), "%s", reason);
}

/* Append bytes to a growing field or value, refusing runaway sizes. */
static void
msg_grow(char **s, size_t *len, const char *at, size_t n)
{
	*s = xreallocarray(*s, *len + n + 1, 1);
	memcpy(*s + *len, at, n);
	*len += n;
	(*s)[*len] = '\0';
}

/* Store the header completed by the callbacks so far. */
static void
msg_flush_header(struct http_msg *m)
{
	struct http_head	*h = m->head;
	char			*v;
	size_t			 a, b;

	if (m->cur_field == NULL)
		return;
	if (h == NULL) {
		/*
		 * A trailer field of a chunked body: the head was handed on
		 * already, and trailers are not kept (found by fuzzing).
		 */
		free(m->cur_field);
		if (m->cur_value != NULL)
			freezero(m->cur_value, m->cur_value_len + 1);
		m->cur_field = m->cur_value = NULL;
		m->cur_field_len = m->cur_value_len = 0;
		m->in_value = false;
		return;
	}
	v = m->cur_value != NULL ? m->cur_value : xstrdup("");
	b = m->cur_value != NULL ? m->cur_value_len : 0;
	for (a = 0; a < b && (v[a] == ' ' || v[a] == '\t'); a++)
		;
	while (b > a && (v[b - 1] == ' ' || v[b - 1] == '\t'))
		b--;
	/* Trimmed in place: the value keeps its buffer (no copy to wipe). */
	if (a > 0) {
		memmove(v, v + a, b - a);
		explicit_bzero(v + (b - a), b - (b - a));
	}
	v[b - a] = '\0';
	if (h->nh == h->cap) {
		h->cap = h->cap == 0 ? 16 : h->cap * 2;
		h->h = xreallocarray(h->h, h->cap, sizeof(*h->h));
	}
	h->h[h->nh].name = m->cur_field;
	h->h[h->nh].value = v;
	h->nh++;
	m->cur_field = m->cur_value = NULL;
	m->cur_field_len = m->cur_value_len = 0;
	m->in_value = false;
}

static int
msg_on_begin(http_parser *p)
{
	struct http_msg	*m = p->data;

	if (m->head == NULL)
		m->head = xcalloc(1, sizeof(*m->head));
	return 0;
}

static int
msg_on_url(http_parser *p, const char *at, size_t n)
{
	struct http_msg		*m = p->data;
	struct http_head	*h = m->head;
	size_t			 len = h->target ? strlen(h->target) : 0;

	msg_grow(&h->target, &len, at, n);
	return 0;
}

static int
msg_on_field(http_parser *p, const char *at, size_t n)
{
	struct http_msg	*m = p->data;

	if (m->in_value)
		msg_flush_header(m);
	msg_grow(&m->cur_field, &m->cur_field_len, at, n);
	return 0;
}

static int
msg_on_value(http_parser *p, const char *at, size_t n)
{
	struct http_msg	*m = p->data;

	m->in_value = true;
	msg_grow(&m->cur_value, &m->cur_value_len, at, n);
	return 0;
}

static int
msg_on_headers_complete(http_parser *p)
{
	struct http_msg		*m = p->data;
	struct http_head	*h = m->head;

	msg_flush_header(m);
	m->head_done = true;
	h->major = p->http_major;
	h->minor = p->http_minor;
	if (m->type == HTTP_REQUEST)
		h->method = xstrdup(http_method_str(p->method));
	else
		h->status = (int)p->status_code;
	m->chunked = (p->flags & F_CHUNKED) != 0;
	m->has_length = (p->flags & F_CONTENTLENGTH) != 0;
	m->length = m->has_length ? p->content_length : 0;
	m->keep_alive = http_should_keep_alive(p) != 0;
	if (m->type == HTTP_RESPONSE && m->no_body)
		return 1;	/* answer to HEAD: no body whatever it says */
	return 0;
}

static int
msg_on_body(http_parser *p, const char *at, size_t n)
{
	struct http_msg	*m = p->data;

	(void)at;
	m->body_bytes += n;
	return 0;
}

static int
msg_on_complete(http_parser *p)
{
	struct http_msg	*m = p->data;

	m->msg_done = true;
	/* Stop here: what follows is the next message. */
	http_parser_pause(p, 1);
	return 0;
}

/*
 * Byte-level checks http_parser is lax about (it accepts bare LF, obs-fold
 * and NUL in places): every line ends in CRLF, no CR elsewhere, no NUL, no
 * continuation lines.  These are request smuggling shapes.
 */
static int
msg_check_bytes(struct http_msg *m, const char *s, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++) {
		if (s[i] == '\0') {
			msg_bad(m, 400, "NUL byte in the head");
			return -1;
		}
		if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) {
			msg_bad(m, 400, "bare LF in the head");
			return -1;
		}
		if (s[i] == '\r' && (i + 1 >= len || s[i + 1] != '\n')) {
			msg_bad(m, 400, "bare CR in the head");
			return -1;
		}
		if (s[i] == '\n' && i + 1 < len &&
		    (s[i + 1] == ' ' || s[i + 1] == '\t')) {
			msg_bad(m, 400, "obsolete line folding in the head");
			return -1;
		}
	}
	return 0;
}

/* Semantic checks on the parsed head. */
static int
msg_check_head(struct http_msg *m)
{
	struct http_head	*h = m->head;
	const char		*te;
	size_t			 i, j;

	for (i = 0; i < h->nh; i++) {
		if (h->h[i].name[0] == '\0') {
			msg_bad(m, 400, "empty header name");
			return -1;
		}
		for (j = 0; h->h[i].name[j] != '\0'; j++) {
			if (!proxy_http_is_tchar((unsigned char)
			    h->h[i].name[j])) {
				msg_bad(m, 400, "invalid header name");
				return -1;
			}
		}
		for (j = 0; h->h[i].value[j] != '\0'; j++) {
			unsigned char c = (unsigned char)h->h[i].value[j];

			if ((c < 0x20 && c != '\t') || c == 0x7f) {
				msg_bad(m, 400, "control byte in a header "
				    "value");
				return -1;
			}
		}
	}
	if (h->major != 1 || h->minor > 1) {
		msg_bad(m, m->type == HTTP_REQUEST ? 505 : 502,
		    "unsupported HTTP version");
		return -1;
	}
	if (m->type != HTTP_REQUEST)
		return 0;
	if (proxy_http_header_count(h, "Host") > 1) {
		msg_bad(m, 400, "more than one Host header");
		return -1;
	}
	if (proxy_http_header_count(h, "Content-Length") > 1) {
		msg_bad(m, 400, "more than one Content-Length header");
		return -1;
	}
	/* The only transfer coding a request may use here is "chunked". */
	if (proxy_http_header_count(h, "Transfer-Encoding") > 1) {
		msg_bad(m, 400, "more than one Transfer-Encoding header");
		return -1;
	}
	te = proxy_http_header(h, "Transfer-Encoding");
	if (te != NULL && strcasecmp(te, "chunked") != 0) {
		msg_bad(m, 400, "unsupported Transfer-Encoding");
		return -1;
	}
	if (te != NULL && proxy_http_header(h, "Content-Length") != NULL) {
		msg_bad(m, 400, "both Content-Length and Transfer-Encoding");
		return -1;
	}
	if (h->target == NULL || h->target[0] == '\0') {
		msg_bad(m, 400, "empty request target");
		return -1;
	}
	return 0;
}

/* Offset of the first CRLF CRLF at or after from, or -1. */
static ssize_t
msg_find_end(struct evbuffer *in, size_t from)
{
	struct evbuffer_ptr	start, found;

	if (evbuffer_ptr_set(in, &start, from, EVBUFFER_PTR_SET) == -1)
		return -1;
	found = evbuffer_search(in, "\r\n\r\n", 4, &start);
	return found.pos;
}

enum http_result
proxy_http_read_head(struct http_msg *m, struct evbuffer *in)
{
	size_t		 len = evbuffer_get_length(in), headlen, n;
	ssize_t		 end, eol;
	struct evbuffer_ptr p;
	char		*s;

	if (len == 0)
		return HTTP_MORE;
	end = msg_find_end(in, m->scan_from);
	p = evbuffer_search_eol(in, NULL, NULL, EVBUFFER_EOL_CRLF_STRICT);
	eol = p.pos;
	if (eol == -1 ? len > m->line_max : (size_t)eol > m->line_max) {
		if (m->type == HTTP_REQUEST)
			msg_bad(m, 414, "request line too long");
		else
			msg_bad(m, 502, "status line too long");
		return HTTP_BAD;
	}
	if (end == -1) {
		if (len > m->head_max) {
			msg_bad(m, m->type == HTTP_REQUEST ? 431 : 502,
			    "head too large");
			return HTTP_BAD;
		}
		m->scan_from = len >= 3 ? len - 3 : 0;
		return HTTP_MORE;
	}
	headlen = (size_t)end + 4;
	if (headlen > m->head_max) {
		msg_bad(m, m->type == HTTP_REQUEST ? 431 : 502,
		    "head too large");
		return HTTP_BAD;
	}
	if ((s = (char *)evbuffer_pullup(in, (ssize_t)headlen)) == NULL) {
		msg_bad(m, 400, "cannot read the head");
		return HTTP_BAD;
	}
	if (msg_check_bytes(m, s, headlen) == -1)
		return HTTP_BAD;
	if (m->head == NULL)
		m->head = xcalloc(1, sizeof(*m->head));
	n = http_parser_execute(&m->p, &msg_settings, s, headlen);
	if ((HTTP_PARSER_ERRNO(&m->p) != HPE_OK &&
	    HTTP_PARSER_ERRNO(&m->p) != HPE_PAUSED) || !m->head_done ||
	    n != headlen) {
		char	reason[128];

		snprintf(reason, sizeof(reason), "malformed head: %s",
		    http_errno_description(HTTP_PARSER_ERRNO(&m->p)));
		msg_bad(m, m->type == HTTP_REQUEST ? 400 : 502, reason);
		return HTTP_BAD;
	}
	m->upgrade = m->p.upgrade != 0;
	m->head->raw_len = headlen;
	if (msg_check_head(m) == -1)
		return HTTP_BAD;
	evbuffer_drain(in, headlen);
	m->scan_from = 0;
	return HTTP_DONE;
}

enum {
	CK_SIZE_START = 0, CK_SIZE, CK_EXT, CK_SIZE_LF, CK_DATA, CK_DATA_CR,
	CK_DATA_LF, CK_TRAILER_START, CK_TRAILER, CK_TRAILER_LF, CK_END_LF,
	CK_DONE,
};

/* 0, or -1 with the reason set, for a framing violation in s[0..len). */
static int
chunk_check(struct http_msg *m, const char *s, size_t len)
{
	struct chunk_check	*k = &m->ck;
	size_t			 i = 0, n;
	unsigned char		 c;
	int			 h;

	while (i < len) {
		c = (unsigned char)s[i];
		switch (k->state) {
		case CK_SIZE_START:
		case CK_SIZE:
			if ((h = pct_hexval((char)c)) >= 0) {
				if (++k->digits > 15)
					goto bad;
				k->size = k->size * 16 + (uint64_t)h;
				k->state = CK_SIZE;
			} else if (k->state == CK_SIZE && c == ';')
				k->state = CK_EXT;
			else if (k->state == CK_SIZE && c == '\r')
				k->state = CK_SIZE_LF;
			else
				goto bad;
			break;
		case CK_EXT:
			if (c == '\r')
				k->state = CK_SIZE_LF;
			else if ((c < 0x20 && c != '\t') || c == 0x7f)
				goto bad;
			break;
		case CK_SIZE_LF:
			if (c != '\n')
				goto bad;
			k->state = k->size == 0 ? CK_TRAILER_START : CK_DATA;
			k->digits = 0;
			break;
		case CK_DATA:
			n = len - i;
			if (n > k->size)
				n = (size_t)k->size;
			k->size -= n;
			i += n;
			if (k->size == 0)
				k->state = CK_DATA_CR;
			continue;
		case CK_DATA_CR:
			if (c != '\r')
				goto bad;
			k->state = CK_DATA_LF;
			break;
		case CK_DATA_LF:
			if (c != '\n')
				goto bad;
			k->state = CK_SIZE_START;
			break;
		case CK_TRAILER_START:
			k->state = c == '\r' ? CK_END_LF : CK_TRAILER;
			if (c != '\r' && (c < 0x20 || c == 0x7f))
				goto bad;
			break;
		case CK_TRAILER:
			if (c == '\r')
				k->state = CK_TRAILER_LF;
			else if ((c < 0x20 && c != '\t') || c == 0x7f)
				goto bad;
			break;
		case CK_TRAILER_LF:
		case CK_END_LF:
			if (c != '\n')
				goto bad;
			k->state = k->state == CK_END_LF ? CK_DONE :
			    CK_TRAILER_START;
			break;
		default:
			goto bad;
		}
		i++;
	}
	return 0;
bad:
	msg_bad(m, m->type == HTTP_REQUEST ? 400 : 502,
	    "malformed body: bad chunked framing");
	return -1;
}

enum http_result
proxy_http_scan_body(struct http_msg *m, const char *data, size_t len,
    size_t *used)
{
	size_t	n;

	*used = 0;
	if (m->msg_done)
		return HTTP_DONE;
	if (HTTP_PARSER_ERRNO(&m->p) == HPE_PAUSED)
		http_parser_pause(&m->p, 0);
	if (len == 0)
		return HTTP_MORE;
	n = http_parser_execute(&m->p, &msg_settings, data, len);
	*used = n;
	if (m->chunked && m->type == HTTP_REQUEST &&
	    chunk_check(m, data, n) == -1)
		return HTTP_BAD;
	if (m->msg_done)
		return HTTP_DONE;
	if (HTTP_PARSER_ERRNO(&m->p) != HPE_OK) {
		char	reason[128];

		snprintf(reason, sizeof(reason), "malformed body: %s",
		    http_errno_description(HTTP_PARSER_ERRNO(&m->p)));
		msg_bad(m, m->type == HTTP_REQUEST ? 400 : 502, reason);
		return HTTP_BAD;
	}
	return HTTP_MORE;
}

bool
proxy_http_eof_ends_body(const struct http_msg *m)
{
	if (m->msg_done)
		return true;
	/* A body without length or chunking runs until close (RFC 9112 6.3). */
	return m->head_done && !m->chunked && !m->has_length;
}

const char *
proxy_http_header(const struct http_head *h, const char *name)
{
	size_t	i;

	for (i = 0; i < h->nh; i++)
		if (strcasecmp(h->h[i].name, name) == 0)
			return h->h[i].value;
	return NULL;
}

size_t
proxy_http_header_count(const struct http_head *h, const char *name)
{
	size_t	i, n = 0;

	for (i = 0; i < h->nh; i++)
		if (strcasecmp(h->h[i].name, name) == 0)
			n++;
	return n;
}

bool
proxy_http_header_has_token(const struct http_head *h, const char *name,
    const char *token)
{
	size_t		 i, tl = strlen(token);
	const char	*v, *e;

	for (i = 0; i < h->nh; i++) {
		if (strcasecmp(h->h[i].name, name) != 0)
			continue;
		for (v = h->h[i].value; *v != '\0'; v = e) {
			while (*v == ' ' || *v == '\t' || *v == ',')
				v++;
			for (e = v; *e != '\0' && *e != ','; e++)
				;
			if ((size_t)(e - v) >= tl &&
			    strncasecmp(v, token, tl) == 0) {
				const char *r = v + tl;

				while (r < e && (*r == ' ' || *r == '\t'))
					r++;
				if (r == e)
					return true;
			}
		}
	}
	return false;
}

/*
 * Split "host:port", "[v6]:port", "host" (port 443) into host and port.
 * A bare IPv6 address needs brackets.  -1 on anything malformed.
 */
int
proxy_http_parse_authority(const char *a, char **host, uint16_t *port,
    uint16_t defport)
{
	const char	*colon, *end;
	size_t		 hl;

	*host = NULL;
	if (a[0] == '[') {
		if ((end = strchr(a, ']')) == NULL || end == a + 1)
			return -1;
		hl = (size_t)(end - a) + 1;
		colon = end[1] == ':' ? end + 1 : NULL;
		if (end[1] != '\0' && colon == NULL)
			return -1;
	} else {
		colon = strchr(a, ':');
		if (colon != NULL && strchr(colon + 1, ':') != NULL)
			return -1;	/* IPv6 without brackets */
		hl = colon != NULL ? (size_t)(colon - a) : strlen(a);
	}
	if (hl == 0)
		return -1;
	*port = defport;
	if (colon != NULL && strnum_port(colon + 1, strlen(colon + 1),
	    port) == -1)
		return -1;
	*host = xstrndup(a, hl);
	return 0;
}

int
proxy_http_add_field(struct evbuffer *out, const char *name,
    const char *value)
{
	struct evbuffer_iovec	 v;
	size_t			 nl = strlen(name), vl = strlen(value);
	char			*p;

	if (evbuffer_reserve_space(out, (ev_ssize_t)(nl + vl + 4), &v,
	    1) != 1)
		return -1;
	p = v.iov_base;
	memcpy(p, name, nl);
	p += nl;
	*p++ = ':';
	*p++ = ' ';
	memcpy(p, value, vl);
	p += vl;
	*p++ = '\r';
	*p = '\n';
	v.iov_len = nl + vl + 4;
	return evbuffer_commit_space(out, &v, 1);
}

/* Decimal digits of v at the end of buf[0..len); the start. */
static char *
http_utoa(char *end, unsigned int v)
{
	do {
		*--end = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	return end;
}

int
proxy_http_add_status_line(struct evbuffer *out, int status)
{
	const char	*reason = proxy_http_reason(status);
	char		 num[16], *d;

	if (status < 0)
		status = 0;
	d = http_utoa(num + sizeof(num), (unsigned int)status);
	if (evbuffer_add(out, "HTTP/1.1 ", 9) == -1 ||
	    evbuffer_add(out, d, (size_t)(num + sizeof(num) - d)) == -1 ||
	    evbuffer_add(out, " ", 1) == -1 ||
	    evbuffer_add(out, reason, strlen(reason)) == -1)
		return -1;
	return evbuffer_add(out, "\r\n", 2);
}

int
proxy_http_add_host(struct evbuffer *out, const char *host, uint16_t port,
    uint16_t defport)
{
	bool	 v6 = strchr(host, ':') != NULL;
	char	 num[8], *d;

	if (evbuffer_add(out, "Host: ", 6) == -1 ||
	    (v6 && evbuffer_add(out, "[", 1) == -1) ||
	    evbuffer_add(out, host, strlen(host)) == -1 ||
	    (v6 && evbuffer_add(out, "]", 1) == -1))
		return -1;
	if (port != defport) {
		d = http_utoa(num + sizeof(num), port);
		if (evbuffer_add(out, ":", 1) == -1 ||
		    evbuffer_add(out, d, (size_t)(num + sizeof(num) - d)) ==
		    -1)
			return -1;
	}
	return evbuffer_add(out, "\r\n", 2);
}
