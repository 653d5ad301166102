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

struct http_header {
	char	*name;		/* owned; as sent */
	char	*value;		/* owned; surrounding whitespace trimmed */
};

struct http_head {
	char			*method;	/* owned; requests */
	char			*target;	/* owned; requests */
	int			 status;	/* responses */
	unsigned		 major, minor;
	struct http_header	*h;		/* owned array */
	size_t			 nh;
	size_t			 cap;		/* of h; the parser's growth */
	size_t			 raw_len;	/* bytes of the head on the wire */
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
	/* Being built by the callbacks. */
	char			*cur_field;	/* owned */
	size_t			 cur_field_len;
	char			*cur_value;	/* owned */
	size_t			 cur_value_len;
	bool			 in_value;
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
/* First value of header name (case-insensitive), or NULL. */
const char *proxy_http_header(const struct http_head *, const char *name);
/* Number of headers called name. */
size_t	 proxy_http_header_count(const struct http_head *, const char *name);
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
/*
 * Append "name: value\r\n" to out in one piece (the head writers' hot
 * loop; evbuffer_add_printf costs three times as much).  0 or -1.
 */
struct evbuffer;
int	 proxy_http_add_field(struct evbuffer *out, const char *name,
	    const char *value);
/* "HTTP/1.1 STATUS REASON\r\n" with our reason phrase.  0 or -1. */
int	 proxy_http_add_status_line(struct evbuffer *out, int status);
/*
 * "Host: host[:port]\r\n": an IPv6 literal gets brackets, the port is left
 * out when it is defport.  0 or -1.
 */
int	 proxy_http_add_host(struct evbuffer *out, const char *host,
	    uint16_t port, uint16_t defport);

#endif
