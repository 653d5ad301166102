#include "proxy/http.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "util/pct.h"
#include "util/strnum.h"
#include "util/xmalloc.h"

static int	msg_on_url(http_parser *, const char *, size_t);
static int	msg_on_field(http_parser *, const char *, size_t);
static int	msg_on_value(http_parser *, const char *, size_t);
static int	msg_on_headers_complete(http_parser *);
static int	msg_on_body(http_parser *, const char *, size_t);
static int	msg_on_complete(http_parser *);

static const http_parser_settings msg_settings = {
	.on_url = msg_on_url,
	.on_header_field = msg_on_field,
	.on_header_value = msg_on_value,
	.on_headers_complete = msg_on_headers_complete,
	.on_body = msg_on_body,
	.on_message_complete = msg_on_complete,
};

/* RFC 9110 tchar: ALPHA, DIGIT and !#$%&'*+-.^_`|~ (a bit per byte). */
static const uint32_t http_tchar_bits[8] = {
	0x00000000,	/* 0x00-0x1f */
	0x03ff6cfa,	/* 0x20-0x3f: ! # $ % & ' * + - . 0-9 */
	0xc7fffffe,	/* 0x40-0x5f: A-Z ^ _ */
	0x57ffffff,	/* 0x60-0x7f: ` a-z | ~ */
	0, 0, 0, 0,
};

static inline bool
http_tchar(unsigned char c)
{
	return (http_tchar_bits[c >> 5] >> (c & 31)) & 1;
}

bool
proxy_http_is_tchar(unsigned char c)
{
	return http_tchar(c);
}

static inline unsigned char
http_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + ('a' - 'A')) : c;
}

bool
proxy_http_name_eq(const char *a, const char *b, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (http_lower((unsigned char)a[i]) !=
		    http_lower((unsigned char)b[i]))
			return false;
	return true;
}

/*
 * s[0..n) equals lit, which is lower case, ignoring the case of letters:
 * folding with 0x20 is exact where lit has a letter, and elsewhere the
 * byte must be lit's own (so '\r' is not '-').
 */
static inline bool
http_is_lit(const char *s, const char *lit, size_t n)
{
	size_t		i;
	unsigned char	c, l;

	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		l = (unsigned char)lit[i];
		if (c != l && ((c | 0x20) != l || l < 'a' || l > 'z'))
			return false;
	}
	return true;
}

enum http_field
proxy_http_field_of(const char *s, size_t n)
{
#define IS(lit)	http_is_lit(s, lit, n)
	switch (n) {
	case 2:
		return IS("te") ? HF_TE : HF_OTHER;
	case 4:
		return IS("host") ? HF_HOST : HF_OTHER;
	case 6:
		if (IS("expect"))
			return HF_EXPECT;
		break;
	case 7:
		if (IS("upgrade"))
			return HF_UPGRADE;
		if (IS("trailer"))
			return HF_TRAILER;
		break;
	case 9:
		if (IS("x-api-key"))
			return HF_X_API_KEY;
		break;
	case 10:
		if (IS("connection"))
			return HF_CONNECTION;
		if (IS("keep-alive"))
			return HF_KEEP_ALIVE;
		break;
	case 13:
		if (IS("authorization"))
			return HF_AUTHORIZATION;
		if (IS("private-token"))
			return HF_PRIVATE_TOKEN;
		if (IS("x-http-method"))
			return HF_METHOD_OVERRIDE;
		break;
	case 14:
		if (IS("content-length"))
			return HF_CONTENT_LENGTH;
		if (IS("x-goog-api-key"))
			return HF_X_GOOG_API_KEY;
		break;
	case 16:
		if (IS("proxy-connection"))
			return HF_PROXY_CONNECTION;
		break;
	case 17:
		if (IS("transfer-encoding"))
			return HF_TRANSFER_ENCODING;
		if (IS("x-method-override"))
			return HF_METHOD_OVERRIDE;
		break;
	case 18:
		if (IS("proxy-authenticate"))
			return HF_PROXY_AUTHENTICATE;
		break;
	case 19:
		if (IS("proxy-authorization"))
			return HF_PROXY_AUTHORIZATION;
		break;
	case 22:
		if (IS("x-http-method-override"))
			return HF_METHOD_OVERRIDE;
		break;
	default:
		break;
	}
#undef IS
	/* A bare "Proxy-" is a Proxy-* header too. */
	if (n >= 6 && http_is_lit(s, "proxy-", 6))
		return HF_PROXY_OTHER;
	return HF_OTHER;
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
}

/* A head with room for textlen bytes of text (and a NUL). */
static struct http_head *
head_alloc(size_t textlen)
{
	struct http_head	*h;

	h = xmalloc(sizeof(*h) + textlen + 1);
	memset(h, 0, offsetof(struct http_head, inl));
	h->h = h->inl;
	h->cap = HTTP_HEAD_INLINE;
	h->text_len = textlen;
	h->text[textlen] = '\0';
	return h;
}

void
proxy_http_head_free(struct http_head *h)
{
	size_t	i;

	if (h == NULL)
		return;
	for (i = 0; i < h->nowned; i++)
		freezero_str(h->owned[i]);	/* may carry credentials */
	free(h->owned);
	if (h->h != h->inl)
		free(h->h);
	explicit_bzero(h->text, h->text_len);
	free(h);
}

struct http_head *
proxy_http_take_head(struct http_msg *m)
{
	struct http_head	*h = m->head;

	m->head = NULL;
	return h;
}

/* Room for one more header. */
static struct http_header *
head_push(struct http_head *h)
{
	if (h->nh == h->cap) {
		if (h->h == h->inl) {
			h->h = xreallocarray(NULL, h->cap * 2, sizeof(*h->h));
			memcpy(h->h, h->inl, sizeof(h->inl));
		} else
			h->h = xreallocarray(h->h, h->cap * 2, sizeof(*h->h));
		h->cap *= 2;
	}
	memset(&h->h[h->nh], 0, sizeof(h->h[h->nh]));
	return &h->h[h->nh++];
}

/* Keep a string a built head owns. */
static const char *
head_own(struct http_head *h, const char *s)
{
	h->owned = xreallocarray(h->owned, h->nowned + 1, sizeof(*h->owned));
	h->owned[h->nowned] = xstrdup(s);
	return h->owned[h->nowned++];
}

/* Mark every header that a Connection header of h names. */
static void
head_mark_listed(struct http_head *h)
{
	const struct http_header	*c;
	const char			*v, *e, *t;
	size_t				 i, j, tl;

	for (i = 0; i < h->nh; i++) {
		c = &h->h[i];
		if (c->field != HF_CONNECTION)
			continue;
		for (v = c->value; *v != '\0'; v = e) {
			while (*v == ' ' || *v == '\t' || *v == ',')
				v++;
			for (e = v; *e != '\0' && *e != ','; e++)
				;
			for (t = e; t > v && (t[-1] == ' ' || t[-1] == '\t');
			    t--)
				;
			if ((tl = (size_t)(t - v)) == 0)
				continue;
			for (j = 0; j < h->nh; j++)
				if (h->h[j].name_len == tl &&
				    proxy_http_name_eq(h->h[j].name, v, tl))
					h->h[j].conn_listed = true;
		}
	}
}

/* Field, counts and Connection marks of every header. */
static void
head_index(struct http_head *h)
{
	struct http_header	*x;
	size_t			 i;

	memset(h->nfield, 0, sizeof(h->nfield));
	for (i = 0; i < h->nh; i++) {
		x = &h->h[i];
		x->field = proxy_http_field_of(x->name, x->name_len);
		x->conn_listed = false;
		if (h->nfield[x->field] == 0)
			h->ifield[x->field] = (uint32_t)i;
		if (h->nfield[x->field] < UINT32_MAX)
			h->nfield[x->field]++;
	}
	if (h->nfield[HF_CONNECTION] > 0)
		head_mark_listed(h);
}

struct http_head *
proxy_http_head_new(const char *method, const char *target)
{
	struct http_head	*h = head_alloc(0);

	h->major = h->minor = 1;
	h->method = method != NULL ? head_own(h, method) : NULL;
	h->target = target != NULL ? head_own(h, target) : NULL;
	return h;
}

void
proxy_http_head_add(struct http_head *h, const char *name, const char *value)
{
	struct http_header	*x = head_push(h);

	x->name = head_own(h, name);
	x->value = head_own(h, value);
	x->name_len = (uint32_t)strlen(name);
	x->value_len = (uint32_t)strlen(value);
	head_index(h);
}

/*
 * Terminate the names, values and target the callbacks found in the
 * head's text, trimming values, and index the headers.
 */
static void
head_finish(struct http_head *h, size_t target_len)
{
	struct http_header	*x;
	char			*v;
	size_t			 i, a, b;

	if (h->target != NULL)
		((char *)(uintptr_t)h->target)[target_len] = '\0';
	for (i = 0; i < h->nh; i++) {
		x = &h->h[i];
		((char *)(uintptr_t)x->name)[x->name_len] = '\0';
		if (x->value == NULL) {
			x->value = "";
			continue;
		}
		v = (char *)(uintptr_t)x->value;
		b = x->value_len;
		for (a = 0; a < b && (v[a] == ' ' || v[a] == '\t'); a++)
			;
		while (b > a && (v[b - 1] == ' ' || v[b - 1] == '\t'))
			b--;
		v[b] = '\0';
		x->value = v + a;
		x->value_len = (uint32_t)(b - a);
	}
	head_index(h);
}

static void
msg_bad(struct http_msg *m, int status, const char *reason)
{
	m->bad_status = status;
	snprintf(m->bad_reason, sizeof(m->bad_reason), "%s", reason);
}

/*
 * The callbacks record where things are in the head's text (which is
 * whole: one call to http_parser_execute sees all of it).  A name or
 * value handed over in pieces that do not join up is a folded line.
 */
static int
msg_on_url(http_parser *p, const char *at, size_t n)
{
	struct http_msg		*m = p->data;
	struct http_head	*h = m->head;

	/* An empty piece may point anywhere (even the next line): ignored. */
	if (!m->in_head || n == 0)
		return 0;
	if (h->target == NULL) {
		h->target = at;
		m->target_len = n;
	} else if (h->target + m->target_len == at)
		m->target_len += n;
	else
		m->split = true;
	return 0;
}

static int
msg_on_field(http_parser *p, const char *at, size_t n)
{
	struct http_msg		*m = p->data;
	struct http_head	*h = m->head;
	struct http_header	*x;

	if (!m->in_head || n == 0)
		return 0;	/* a trailer field: not kept */
	x = h->nh > 0 ? &h->h[h->nh - 1] : NULL;
	if (!m->in_value && x != NULL && x->name + x->name_len == at) {
		x->name_len += (uint32_t)n;
		return 0;
	}
	x = head_push(h);
	x->name = at;
	x->name_len = (uint32_t)n;
	m->in_value = false;
	return 0;
}

static int
msg_on_value(http_parser *p, const char *at, size_t n)
{
	struct http_msg		*m = p->data;
	struct http_head	*h = m->head;
	struct http_header	*x;

	/*
	 * "Name: \r\n" reports an empty value that points past its line, at
	 * the next name (found by fuzzing: terminating it there cut that
	 * name to ""): empty pieces are ignored, the value stays "".
	 */
	if (!m->in_head || n == 0)
		return 0;
	if (h->nh == 0) {
		m->split = true;
		return 0;
	}
	x = &h->h[h->nh - 1];
	if (x->value == NULL) {
		x->value = at;
		x->value_len = (uint32_t)n;
	} else if (x->value + x->value_len == at)
		x->value_len += (uint32_t)n;
	else
		m->split = true;
	m->in_value = true;
	return 0;
}

static int
msg_on_headers_complete(http_parser *p)
{
	struct http_msg		*m = p->data;
	struct http_head	*h = m->head;

	m->head_done = true;
	if (h == NULL)
		return 0;
	m->in_head = false;
	h->major = p->http_major;
	h->minor = p->http_minor;
	if (m->type == HTTP_REQUEST)
		h->method = http_method_str(p->method);
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

	m->body_bytes += n;
	if (m->body_fn != NULL)
		m->body_fn(m->body_arg, at, n);
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
 * Bytes of the word below 0x20 or equal to 0x7f: the high bit of each
 * such byte is set.  A borrow can mark a byte above a real one too, but
 * never below it: the lowest mark is exact.
 */
static inline uint64_t
word_ctl_mask(uint64_t x)
{
	const uint64_t	ones = 0x0101010101010101ull;
	const uint64_t	highs = 0x8080808080808080ull;
	uint64_t	del = x ^ (ones * 0x7f);

	return (((x - ones * 0x20) & ~x) | ((del - ones) & ~del)) & highs;
}

/* Offset in the word of the first byte its mask marks. */
static inline size_t
word_first(uint64_t mask, const char *s)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	(void)s;
	return (size_t)__builtin_ctzll(mask) >> 3;
#else
	size_t	k;

	(void)mask;
	for (k = 0; k < 7; k++)
		if ((unsigned char)s[k] < 0x20 || (unsigned char)s[k] == 0x7f)
			break;
	return k;
#endif
}

/*
 * The control byte at s[*i]: only CR LF (not followed by a space or tab)
 * may end a line.  Steps *i past what it looked at.  -1 with the reason.
 */
static int
msg_check_ctl(struct http_msg *m, const char *s, size_t len, size_t *i)
{
	unsigned char	c = (unsigned char)s[*i];

	if (c == '\0') {
		msg_bad(m, 400, "NUL byte in the head");
		return -1;
	}
	if (c == '\n') {
		msg_bad(m, 400, "bare LF in the head");
		return -1;
	}
	if (c != '\r') {
		m->has_ctl = true;	/* msg_check_head says where */
		(*i)++;
		return 0;
	}
	if (*i + 1 >= len || s[*i + 1] != '\n') {
		msg_bad(m, 400, "bare CR in the head");
		return -1;
	}
	if (*i + 2 < len && (s[*i + 2] == ' ' || s[*i + 2] == '\t')) {
		msg_bad(m, 400, "obsolete line folding in the head");
		return -1;
	}
	*i += 2;
	return 0;
}

/*
 * Byte-level checks http_parser is lax about (it accepts bare LF, obs-fold
 * and NUL in places): every line ends in CRLF, no CR elsewhere, no NUL, no
 * continuation lines.  These are request smuggling shapes.  Other control
 * bytes are noted for msg_check_head.  Eight bytes at a time, jumping to
 * the first control byte of a word.
 */
static int
msg_check_bytes(struct http_msg *m, const char *s, size_t len)
{
	uint64_t	w, mask;
	size_t		i = 0;
	unsigned char	c;

	m->has_ctl = false;
	while (i + 8 <= len) {
		memcpy(&w, s + i, 8);
		if ((mask = word_ctl_mask(w)) == 0) {
			i += 8;
			continue;
		}
		i += word_first(mask, s + i);
		if (msg_check_ctl(m, s, len, &i) == -1)
			return -1;
	}
	while (i < len) {
		c = (unsigned char)s[i];
		if (c >= 0x20 && c != 0x7f) {
			i++;
			continue;
		}
		if (msg_check_ctl(m, s, len, &i) == -1)
			return -1;
	}
	return 0;
}

/* True when the header's value is "chunked" (any case). */
static bool
msg_is_chunked(const struct http_head *h)
{
	const struct http_header	*x = &h->h[h->ifield[HF_TRANSFER_ENCODING]];

	return x->value_len == 7 && proxy_http_name_eq(x->value, "chunked", 7);
}

/* Semantic checks on the parsed head. */
static int
msg_check_head(struct http_msg *m)
{
	struct http_head	*h = m->head;
	const struct http_header *x;
	size_t			 i, j;

	for (i = 0; i < h->nh; i++) {
		x = &h->h[i];
		if (x->name_len == 0) {
			msg_bad(m, 400, "empty header name");
			return -1;
		}
		/*
		 * http_parser takes only tchar bytes in a name, and a space
		 * (it is built non-strict): the space is ours to refuse.
		 * test_http_names_are_tchar_only holds it to that.
		 */
		if (memchr(x->name, ' ', x->name_len) != NULL) {
			msg_bad(m, 400, "invalid header name");
			return -1;
		}
		for (j = 0; m->has_ctl && j < x->value_len; j++) {
			unsigned char c = (unsigned char)x->value[j];

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
	if (h->nfield[HF_HOST] > 1) {
		msg_bad(m, 400, "more than one Host header");
		return -1;
	}
	if (h->nfield[HF_CONTENT_LENGTH] > 1) {
		msg_bad(m, 400, "more than one Content-Length header");
		return -1;
	}
	/* The only transfer coding a request may use here is "chunked". */
	if (h->nfield[HF_TRANSFER_ENCODING] > 1) {
		msg_bad(m, 400, "more than one Transfer-Encoding header");
		return -1;
	}
	if (h->nfield[HF_TRANSFER_ENCODING] > 0 && !msg_is_chunked(h)) {
		msg_bad(m, 400, "unsupported Transfer-Encoding");
		return -1;
	}
	if (h->nfield[HF_TRANSFER_ENCODING] > 0 &&
	    h->nfield[HF_CONTENT_LENGTH] > 0) {
		msg_bad(m, 400, "both Content-Length and Transfer-Encoding");
		return -1;
	}
	if (h->target == NULL || h->target[0] == '\0') {
		msg_bad(m, 400, "empty request target");
		return -1;
	}
	return 0;
}

/*
 * Where the head ends (*end: offset of CRLF CRLF, or -1) and where its
 * first line does (*eol: offset of the first CRLF, or -1).  *base is the
 * buffer's bytes when they are in one piece (the usual case: searched
 * with memmem), else NULL.
 */
static void
msg_locate(struct http_msg *m, struct evbuffer *in, size_t len,
    ssize_t *end, ssize_t *eol, const char **base)
{
	struct evbuffer_iovec	 v;
	struct evbuffer_ptr	 start, p;
	const char		*s, *f;
	size_t			 from;

	*base = NULL;
	if (evbuffer_peek(in, -1, NULL, &v, 1) >= 1 && v.iov_len == len) {
		s = v.iov_base;
		*base = s;
		*eol = *end = -1;
		/* The first CRLF: memchr is far cheaper than memmem here. */
		for (f = s; (f = memchr(f, '\n', len - (size_t)(f - s))) !=
		    NULL; f++) {
			if (f > s && f[-1] == '\r') {
				*eol = f - 1 - s;
				break;
			}
		}
		if (*eol == -1)
			return;
		/* CRLF CRLF, looked for as an LF ending it. */
		from = m->scan_from > (size_t)*eol ? m->scan_from :
		    (size_t)*eol;
		for (f = s + from; (f = memchr(f, '\n',
		    len - (size_t)(f - s))) != NULL; f++) {
			if (f - s >= 3 && f[-1] == '\r' && f[-2] == '\n' &&
			    f[-3] == '\r') {
				*end = f - 3 - s;
				break;
			}
		}
		return;
	}
	p = evbuffer_search_eol(in, NULL, NULL, EVBUFFER_EOL_CRLF_STRICT);
	*eol = p.pos;
	*end = -1;
	if (evbuffer_ptr_set(in, &start, m->scan_from, EVBUFFER_PTR_SET) == 0)
		*end = evbuffer_search(in, "\r\n\r\n", 4, &start).pos;
}

enum http_result
proxy_http_read_head(struct http_msg *m, struct evbuffer *in)
{
	size_t			 len = evbuffer_get_length(in), headlen, n;
	ssize_t			 end, eol;
	const char		*base;
	struct http_head	*h;

	if (len == 0)
		return HTTP_MORE;
	msg_locate(m, in, len, &end, &eol, &base);
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
	proxy_http_head_free(m->head);
	m->head = h = head_alloc(headlen);
	if (base != NULL)
		memcpy(h->text, base, headlen);
	else if (evbuffer_copyout(in, h->text, headlen) != (ssize_t)headlen) {
		msg_bad(m, 400, "cannot read the head");
		return HTTP_BAD;
	}
	if (msg_check_bytes(m, h->text, headlen) == -1)
		return HTTP_BAD;
	m->in_head = true;
	m->in_value = m->split = false;
	n = http_parser_execute(&m->p, &msg_settings, h->text, headlen);
	m->in_head = false;
	if ((HTTP_PARSER_ERRNO(&m->p) != HPE_OK &&
	    HTTP_PARSER_ERRNO(&m->p) != HPE_PAUSED) || !m->head_done ||
	    n != headlen) {
		char	reason[128];

		snprintf(reason, sizeof(reason), "malformed head: %s",
		    http_errno_description(HTTP_PARSER_ERRNO(&m->p)));
		msg_bad(m, m->type == HTTP_REQUEST ? 400 : 502, reason);
		return HTTP_BAD;
	}
	if (m->split) {
		msg_bad(m, m->type == HTTP_REQUEST ? 400 : 502,
		    "malformed head: a line in pieces");
		return HTTP_BAD;
	}
	head_finish(h, m->target_len);
	m->upgrade = m->p.upgrade != 0;
	h->raw_len = headlen;
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
proxy_http_field(const struct http_head *h, enum http_field f)
{
	if (f <= HF_OTHER || f >= HF_COUNT || h->nfield[f] == 0)
		return NULL;
	return h->h[h->ifield[f]].value;
}

const char *
proxy_http_header(const struct http_head *h, const char *name)
{
	size_t		n = strlen(name), i;
	enum http_field	f = proxy_http_field_of(name, n);

	if (f != HF_OTHER && f != HF_PROXY_OTHER)
		return proxy_http_field(h, f);
	for (i = 0; i < h->nh; i++)
		if (h->h[i].name_len == n &&
		    proxy_http_name_eq(h->h[i].name, name, n))
			return h->h[i].value;
	return NULL;
}

size_t
proxy_http_header_count(const struct http_head *h, const char *name)
{
	size_t		n = strlen(name), i, k = 0;
	enum http_field	f = proxy_http_field_of(name, n);

	if (f != HF_OTHER && f != HF_PROXY_OTHER)
		return h->nfield[f];
	for (i = 0; i < h->nh; i++)
		if (h->h[i].name_len == n &&
		    proxy_http_name_eq(h->h[i].name, name, n))
			k++;
	return k;
}

bool
proxy_http_header_has_token(const struct http_head *h, const char *name,
    const char *token)
{
	size_t		 i, tl = strlen(token), nl = strlen(name);
	const char	*v, *e, *t;

	for (i = 0; i < h->nh; i++) {
		if (h->h[i].name_len != nl ||
		    !proxy_http_name_eq(h->h[i].name, name, nl))
			continue;
		for (v = h->h[i].value; *v != '\0'; v = e) {
			while (*v == ' ' || *v == '\t' || *v == ',')
				v++;
			for (e = v; *e != '\0' && *e != ','; e++)
				;
			for (t = e; t > v && (t[-1] == ' ' || t[-1] == '\t');
			    t--)
				;
			if ((size_t)(t - v) == tl &&
			    proxy_http_name_eq(v, token, tl))
				return true;
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
proxy_http_add_header(struct evbuffer *out, const struct http_header *x)
{
	struct evbuffer_iovec	 v;
	char			*p;

	if (evbuffer_reserve_space(out, (ev_ssize_t)(x->name_len +
	    x->value_len + 4), &v, 1) != 1)
		return -1;
	p = v.iov_base;
	memcpy(p, x->name, x->name_len);
	p += x->name_len;
	*p++ = ':';
	*p++ = ' ';
	memcpy(p, x->value, x->value_len);
	p += x->value_len;
	*p++ = '\r';
	*p = '\n';
	v.iov_len = x->name_len + x->value_len + 4;
	return evbuffer_commit_space(out, &v, 1);
}
