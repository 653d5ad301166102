#ifndef KEYHOLE_PROXY_HTTP_H
#define KEYHOLE_PROXY_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <http_parser.h>

struct evbuffer;

/*
 * The one HTTP/1.x head parser (STYLE §8), built on libhttp-parser, which
 * also does body framing (Content-Length, chunked).  The head is located
 * here (CRLF CRLF, within the limits), checked strictly, then handed to
 * http_parser; body bytes are only scanned for framing and passed on as
 * they were received.
 */

enum http_result {
	HTTP_MORE = 0,		/* need more bytes */
	HTTP_DONE,		/* a head, or a message body, is complete */
	HTTP_BAD,		/* msg->bad_status and msg->bad_reason say why */
};

/*
 * Header names the proxy acts on, recognised once when the head is read
 * so that lookups and the hop-by-hop and credential filters compare small
 * integers, not strings.
 */
enum http_field {
	HF_OTHER = 0,
	HF_AUTHORIZATION,
	HF_CONNECTION,
	HF_CONTENT_LENGTH,
	HF_EXPECT,
	HF_HOST,
	HF_KEEP_ALIVE,
	HF_METHOD_OVERRIDE,	/* X-HTTP-Method(-Override), X-Method-Override */
	HF_PRIVATE_TOKEN,
	HF_PROXY_AUTHENTICATE,
	HF_PROXY_AUTHORIZATION,
	HF_PROXY_CONNECTION,
	HF_PROXY_OTHER,		/* any other "Proxy-*" */
	HF_TE,
	HF_TRAILER,
	HF_TRANSFER_ENCODING,
	HF_UPGRADE,
	HF_X_API_KEY,
	HF_X_GOOG_API_KEY,
	HF_COUNT
};

struct http_header {
	const char	*name;		/* as sent; NUL-terminated */
	const char	*value;		/* surrounding whitespace trimmed */
	uint32_t	 name_len;
	uint32_t	 value_len;
	enum http_field	 field;
	bool		 conn_listed;	/* named by a Connection header */
};

#define HTTP_HEAD_INLINE	16	/* headers held without another malloc */

/*
 * A parsed head is one allocation: this struct, its first headers, and a
 * copy of the head's bytes that names, values and the target point into
 * (terminated in place).  It is wiped when freed: it holds credentials.
 */
struct http_head {
	const char		*method;	/* requests */
	const char		*target;	/* requests */
	int			 status;	/* responses */
	unsigned		 major, minor;
	struct http_header	*h;		/* inl, or owned when grown */
	size_t			 nh;
	size_t			 cap;		/* of h */
	size_t			 raw_len;	/* bytes of the head on the wire */
	uint32_t		 nfield[HF_COUNT];	/* count, saturated */
	uint32_t		 ifield[HF_COUNT];	/* first index */
	char			**owned;	/* built heads: their strings */
	size_t			 nowned;
	struct http_header	 inl[HTTP_HEAD_INLINE];
	size_t			 text_len;
	char			 text[];	/* the head's bytes */
};

/*
 * A strict check of chunked framing (RFC 9112 §7.1), run over exactly the
 * bytes http_parser accepted: Debian's http_parser is built non-strict and
 * takes any two bytes for the CRLF after chunk data, and control bytes in
 * chunk extensions -- shapes an upstream may read differently.  Since
 * bodies are passed on as received, they must be unambiguous.
 */
struct chunk_check {
	int		 state;
	uint64_t	 size;		/* of the chunk being read */
	unsigned	 digits;
};

struct http_msg {
	http_parser		 p;
	struct chunk_check	 ck;
	enum http_parser_type	 type;
	uint32_t		 line_max;	/* request/status line */
	uint32_t		 head_max;
	struct http_head	*head;		/* owned; the head being read */
	bool			 no_body;	/* response to HEAD / CONNECT */
	bool			 head_done;
	bool			 msg_done;
	bool			 chunked;	/* Transfer-Encoding: chunked */
	bool			 has_length;
	uint64_t		 length;	/* Content-Length */
	uint64_t		 body_bytes;	/* decoded body bytes so far */
	bool			 upgrade;	/* CONNECT or Upgrade */
	bool			 keep_alive;
	int			 bad_status;	/* 400, 414, 431, 502 */
	char			 bad_reason[160];
	size_t			 scan_from;	/* head search resumes here */
	/* While the head is parsed: the callbacks fill head->h. */
	bool			 in_head;
	bool			 in_value;
	bool			 split;		/* a name or value in pieces */
	bool			 has_ctl;	/* a control byte besides CRLF */
	size_t			 target_len;
	/*
	 * When set, proxy_http_scan_body() hands each piece of decoded body
	 * (chunk framing removed) to body_fn as it is scanned.
	 */
	void			(*body_fn)(void *, const char *, size_t);
	void			*body_arg;
};

void	 proxy_http_msg_init(struct http_msg *, enum http_parser_type,
	    uint32_t line_max, uint32_t head_max);
/* Forget the previous message (keep-alive) but keep type and limits. */
void	 proxy_http_msg_reset(struct http_msg *);
void	 proxy_http_msg_free(struct http_msg *);
/*
 * Read a head from in.  DONE: msg->head is complete and its bytes were
 * drained from in (what follows stays there).  BAD: bad_status/bad_reason.
 */
enum http_result proxy_http_read_head(struct http_msg *, struct evbuffer *in);
/*
 * Scan len body bytes for framing.  *used is how many belong to this
 * message (the rest starts the next one).  DONE when the message ended.
 */
enum http_result proxy_http_scan_body(struct http_msg *, const char *,
	    size_t len, size_t *used);
/* For a response read until close: the peer closed, is that a clean end? */
bool	 proxy_http_eof_ends_body(const struct http_msg *);
/* Hand the head to the caller (owned) and leave msg->head NULL. */
struct http_head *proxy_http_take_head(struct http_msg *);
void	 proxy_http_head_free(struct http_head *);
/*
 * A head made by hand (the unit tests): method and
 * target are copied, headers added one by one.  Freed with
 * proxy_http_head_free.
 */
struct http_head *proxy_http_head_new(const char *method, const char *target);
void	 proxy_http_head_add(struct http_head *, const char *name,
	    const char *value);
/* The field a header name is (HF_OTHER when none of ours). */
enum http_field proxy_http_field_of(const char *, size_t len);
/* First value of header name (case-insensitive), or NULL. */
const char *proxy_http_header(const struct http_head *, const char *name);
/* First value of a known field, or NULL. */
const char *proxy_http_field(const struct http_head *, enum http_field);
/* Number of headers called name. */
size_t	 proxy_http_header_count(const struct http_head *, const char *name);
/* True when a and b (lengths n) are equal ignoring ASCII case. */
bool	 proxy_http_name_eq(const char *a, const char *b, size_t n);
/* True when the comma-separated header list contains token (icase). */
bool	 proxy_http_header_has_token(const struct http_head *,
	    const char *name, const char *token);
/* RFC 9110 tchar. */
bool	 proxy_http_is_tchar(unsigned char);
/*
 * Split an authority "host:port", "[v6]:port" or "host" (defport) into an
 * owned host (brackets kept) and a port.  A bare IPv6 address needs
 * brackets.  -1 on anything malformed.
 */
int	 proxy_http_parse_authority(const char *, char **host, uint16_t *port,
	    uint16_t defport);
/* How the proxy serves a request (SPEC §4): by method and target form. */
enum http_kind {
	HTTP_KIND_BAD = 0,	/* none of the below: 400 */
	HTTP_KIND_CONNECT,	/* CONNECT authority: a tunnel */
	HTTP_KIND_FORWARD,	/* absolute form http(s)://...: forward */
	HTTP_KIND_ROUTE,	/* origin form /service/...: credential route */
};
enum http_kind proxy_http_request_kind(const struct http_head *);
/* Reason phrase for a status we generate or relay ("Unknown" if none). */
const char *proxy_http_reason(int status);
/* Append "name: value\r\n" for a parsed header.  0 or -1. */
int	 proxy_http_add_header(struct evbuffer *out,
	    const struct http_header *);

#endif
