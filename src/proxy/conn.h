#ifndef KEYHOLE_PROXY_CONN_H
#define KEYHOLE_PROXY_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>

#include "proxy/audit.h"
#include "proxy/dns.h"
#include "proxy/http.h"

struct bufferevent;
struct event;
struct evbuffer;
struct proxy;
struct plan;
struct scrub;
struct splice_relay;
struct route;
struct intercept;

/*
 * One client connection and its state machine (STYLE §7).  Every state
 * change goes through proxy_conn_set_state(); proxy_conn_close() is the
 * only way out and frees the struct on the next loop turn.
 */
enum conn_state {
	CONN_READ_HEAD = 0,	/* waiting for a request head */
	CONN_RESOLVING,		/* DNS for the target */
	CONN_CONNECTING,	/* TCP to the target or the upstream proxy */
	CONN_CHAIN_REPLY,	/* waiting for the upstream proxy's answer */
	CONN_SNI_PEEK,		/* tunnel up, looking at the ClientHello */
	CONN_TUNNEL,		/* relaying bytes both ways */
	CONN_FWD_BODY,		/* forwarding a request body */
	CONN_FWD_RESPONSE,	/* relaying a response */
	CONN_REVERSE,		/* owned by the reverse proxy */
	CONN_CLOSING,		/* flushing a final answer, then close */
	CONN_TLS_ACCEPT,	/* intercepting: our TLS handshake */
};

enum conn_mode {
	CONN_MODE_NONE = 0,
	CONN_MODE_CONNECT,
	CONN_MODE_FORWARD,
	CONN_MODE_EXTERNAL,	/* CONNECT chained through --upstream-proxy */
	CONN_MODE_REVERSE,
};

#define CONN_DEAD		0x01	/* closed; waiting to be freed */
#define CONN_AUTHED		0x02	/* proxy auth passed on this conn */
#define CONN_EOF_CLIENT		0x04	/* client sent FIN */
#define CONN_EOF_UP		0x08	/* upstream sent FIN */
#define CONN_SHUT_UP		0x10	/* we shut down writes to upstream */
#define CONN_SHUT_CLIENT	0x20	/* we shut down writes to client */
#define CONN_AUDITED		0x40	/* the decision line is written */
#define CONN_EXPLICIT		0x80	/* target address named explicitly */
#define CONN_CLOSE_AFTER	0x100	/* close once the response is sent */
#define CONN_KA_WAIT		0x200	/* idle between keep-alive requests */
#define CONN_MEDIATED		0x400	/* made by the connect mediator */
#define CONN_WOULD_DENY		0x800	/* --report-only let it through */
#define CONN_INTERCEPT		0x1000	/* client speaks TLS to us (§4.12) */
#define CONN_RAW_WAIT		0x2000	/* waiting for TLS records to go out */
#define CONN_FLUSH_CLOSE	0x4000	/* ... then close */
#define CONN_ANON		0x8000	/* intercepted, no phantom: no secret */
#define CONN_TRANSPARENT	0x10000	/* transparent egress (SPEC 4.13) */

/* How a scrubbed response body reaches the client (forward.c). */
#define CONN_FRAME_ASIS		0	/* no body, or relayed as received */
#define CONN_FRAME_CHUNKED	1	/* re-framed as chunked */
#define CONN_FRAME_CLOSE	2	/* delimited by closing the connection */
#define CONN_FRAME_LENGTH	3	/* whole in hand: a new Content-Length */

/* Relay buffering: stop reading a side when the other holds this much. */
#define CONN_RELAY_HIGH		(1024 * 1024)

struct conn {
	uint64_t		 id;
	struct proxy		*px;		/* borrowed */
	enum conn_state		 state;
	enum conn_mode		 mode;
	int			 flags;
	uint16_t		 peer_port;	/* client's source port */
	char			*t_host;	/* owned: transparent egress */
	uint16_t		 t_port;
	char			*t_target;	/* owned: its absolute target */

	struct bufferevent	*client;	/* owned */
	struct bufferevent	*up;		/* owned; upstream */
	struct evbuffer		*pend;		/* owned; a response's turn */
	struct event		*timer;		/* owned; the current wait */
	int64_t			 deadline_ms;	/* of the wait; 0: none */
	int64_t			 timer_at_ms;	/* timer armed for; 0: not */
	struct timespec		 last_io;	/* idle accounting */

	struct http_msg		 req;		/* client request parser */
	struct http_head	*head;		/* owned; current request */
	struct http_msg		 resp;		/* upstream response parser */

	/* The target of the current request. */
	char			*host;		/* owned; canonical */
	uint16_t		 port;
	char			*path;		/* owned; forward: origin form */
	struct dns_req		*dns;		/* pending */
	struct sockaddr_storage	 addrs[DNS_MAX_ADDRS];
	size_t			 naddrs;
	size_t			 addr_i;	/* next address to try */
	char			 up_host[256];	/* forward reuse key */
	uint16_t		 up_port;
	char			 connect_error[128];
	bool			 connect_timed_out;
	int			 vet_status;	/* answer when the guard denies */
	void			(*on_connected)(struct conn *, int);

	/* Audit of the current decision. */
	struct timespec		 started;
	uint64_t		 bytes_up;
	uint64_t		 bytes_down;
	int			 status;

	/* Reverse proxy (credential routes). */
	char			*service;	/* owned; route name */
	const struct route	*route;		/* borrowed from the plan */
	size_t			 route_i;	/* index in plan->routes */
	size_t			 pool_i;	/* upstream pool slot */
	void			*ssl;		/* borrowed: SSL of c->up */
	char			*rpath;		/* owned; path after /service */

	/* Responses of a route are scrubbed (SPEC §4.6 step 6, scrub.h). */
	struct scrub		*scrub;		/* owned; kept across requests */
	size_t			 scrub_route;	/* the pool slot scrub is for */
	struct evbuffer		*sout;		/* owned; scrubbed bytes */
	struct evbuffer		*shead;		/* owned; a head to scrub */
	bool			 scrubbing;	/* this response is scrubbed */
	bool			 scrub_failed;	/* an evbuffer refused bytes */
	bool			 scrub_ended;	/* the body's end is framed */
	uint8_t			 out_frame;	/* CONN_FRAME_* */

	/* --clients: the client this connection authenticated as. */
	const struct proxy_client *who;		/* borrowed */

	struct splice_relay	*splice;	/* owned; zero-copy tunnel */
	struct intercept	*icpt;		/* owned; TLS interception */
	char			*chain_target;	/* owned; CONNECT to corp proxy */
	void			(*on_chained)(struct conn *);

	TAILQ_ENTRY(conn)	 entry;
};

TAILQ_HEAD(conn_list, conn);

struct secret;
/*
 * The phantom token of route i for this connection: the proxy's, or with
 * --clients the connection's client's (NULL: none, so nothing matches).
 */
const struct secret *proxy_conn_phantom(const struct conn *, size_t i);
/*
 * With --clients, find the client whose phantom for route i the request
 * carries and bind the connection to it; a connection already bound
 * checks only its own client's.  Without --clients, the proxy's phantom.
 * True when the request carries the right phantom.
 */
bool	 proxy_conn_check_phantom(struct conn *, size_t i);
/*
 * --clients (SPEC 4.10): a route request for service on a connection of
 * no client yet: when it carries some client's phantom for the route of
 * that name in the client's plan, the connection becomes that client's
 * (and is served by its profile's view from now on).
 */
void	 proxy_conn_bind_phantom(struct conn *, const char *service);

/* Take an accepted socket.  NULL only if libevent cannot. */
struct conn *proxy_conn_new(struct proxy *, int fd,
	    const struct sockaddr *peer);
void	 proxy_conn_set_state(struct conn *, enum conn_state);
/* Close with a reason for -vv; the struct is freed on the next turn. */
void	 proxy_conn_close(struct conn *, const char *why);
/*
 * Close once what is queued for the client has reached the socket (an
 * intercepted client's TLS records, an alert); at once otherwise.
 */
void	 proxy_conn_flush_close(struct conn *, const char *why);
/*
 * Answer with a proxy-generated response: text/plain reason body.
 * close: close once it is flushed.  extra_headers: "Name: v\r\n..." or
 * NULL.
 */
void	 proxy_conn_reply(struct conn *, int status, const char *reason,
	    const char *extra_headers, bool close);
/*
 * The same with a JSON body {"error":"<msg>"} (reverse); msg NULL means
 * the status's reason phrase.
 */
void	 proxy_conn_reply_json(struct conn *, int status, const char *msg,
	    bool close);
/* Reverse deny: audit with reason, JSON answer, close. */
void	 proxy_conn_deny_json(struct conn *, int status, const char *msg,
	    const char *reason);
/* The same with extra header lines ("Name: v\r\n..."). */
void	 proxy_conn_deny_json_extra(struct conn *, int status,
	    const char *msg, const char *reason, const char *extra);
/* Write one audit line for the current request (once). */
void	 proxy_conn_audit(struct conn *, bool allow, const char *reason);
/*
 * Append to out the one-line explanation of a policy denial (SPEC §4.11):
 * keyhole's policy, the request, reason, and the flag and profile key
 * that would allow it (or that nothing does).
 */
struct strbuf;
void	 proxy_conn_deny_text(const struct conn *, const char *reason,
	    struct strbuf *out);
/*
 * Deny: audit, then status with reason, close; a 403 answers with
 * proxy_conn_deny_text (a route's as its JSON error).
 */
void	 proxy_conn_deny(struct conn *, int status, const char *reason);
/*
 * Arm the conn's timer for ms; on expiry on_timeout() of the state.  Lazy:
 * the event is only re-armed when the new deadline is earlier than the
 * armed one; an event that fires before the deadline re-arms itself.
 * Most requests move the deadline three times, which now costs three
 * clock reads instead of three timer heap updates and a removal.
 */
void	 proxy_conn_timer(struct conn *, uint32_t ms);
void	 proxy_conn_timer_stop(struct conn *);
/* Go back to reading the next request (keep-alive). */
void	 proxy_conn_next_request(struct conn *);
/* Note traffic for the idle timeout. */
void	 proxy_conn_touch(struct conn *);
/* Milliseconds since the current request started. */
long	 proxy_conn_elapsed_ms(const struct conn *);
/*
 * Connect c->up to c->addrs[c->addr_i...] in turn (connect timeout each);
 * then done(c, 0) or done(c, -1) with c->connect_error set.
 */
void	 proxy_conn_connect(struct conn *, void (*done)(struct conn *, int));
/*
 * Find the addresses of host:port (a --resolve entry, which counts as
 * explicit intent, or DNS), check them with the address guard (denied:
 * vet_status and the guard's reason), and connect; then done(c, 0|-1) as
 * for proxy_conn_connect.  A DNS failure is answered 502.
 */
void	 proxy_conn_resolve_connect(struct conn *, const char *host,
	    uint16_t port, int vet_status, void (*done)(struct conn *, int));
/* Start relaying bytes between client and up (tunnel). */
void	 proxy_conn_relay(struct conn *);
/*
 * bufferevent_enable and bufferevent_setwatermark, only when they change
 * something.  On a TLS bufferevent every enable of reading, and every
 * read watermark set, makes libevent try an SSL_read at once: four
 * wasted tries per routed request were a tenth of the proxy's CPU.
 */
void	 proxy_conn_bev_enable(struct bufferevent *, short events);
void	 proxy_conn_bev_watermark(struct bufferevent *, short events,
	    size_t low, size_t high);
/* Wire c->client to the generic client callbacks (after a handshake). */
void	 proxy_conn_attach_client(struct conn *);
/* Wire c->up to the generic upstream callbacks and start reading. */
void	 proxy_conn_attach_up(struct conn *);
/* Remember which host and port c->up goes to (cut to up_host's size). */
void	 proxy_conn_set_up_key(struct conn *, const char *host, uint16_t port);
/* Free the upstream side only. */
void	 proxy_conn_drop_up(struct conn *);
/* Proxy authentication for CONNECT/forward (SPEC 4.2); true if passed. */
bool	 proxy_conn_authorized(struct conn *);
/* Answer 407 and keep the connection for a retry. */
void	 proxy_conn_need_auth(struct conn *);

/*
 * Check every address of c->addrs (SPEC 4.4): metadata anywhere denies the
 * request; other guarded addresses are dropped; none left denies it.
 * 0 when c->addrs holds only vetted addresses, else -1 with reason.
 */
int	 proxy_connect_vet(struct conn *, char *reason, size_t reasonsz);

/*
 * Forward a request whose head is already in c->up's output: stream the
 * body (framed by c->req), relay the response, audit, keep-alive.
 */
void	 proxy_forward_exchange(struct conn *);

/* True when host matches --upstream-bypass (exact or *.suffix). */
bool	 proxy_connect_bypassed(const struct plan *, const char *host);
/*
 * Reach target ("host:port") through --upstream-proxy: connect, CONNECT,
 * read its answer.  A refusal is denied with its status; on 2xx, done(c)
 * runs with c->up tunnelled (NULL done: a client CONNECT, answer 200).
 */
void	 proxy_connect_chain(struct conn *, const char *target,
	    void (*done)(struct conn *));

/* Per-mode handlers (connect.c, forward.c, reverse.c). */
void	 proxy_connect_start(struct conn *);
void	 proxy_forward_start(struct conn *);
void	 proxy_reverse_start(struct conn *);
/*
 * Serve one request through c->route (c->route, c->route_i, c->service
 * and c->rpath set): canonical path, endpoint rules, phantom, secret,
 * body cap, upstream, exchange.  The reverse path and interception
 * (proxy/tls/intercept.c) share it.
 */
void	 proxy_reverse_serve(struct conn *);
void	 proxy_forward_on_read(struct conn *, struct bufferevent *);
void	 proxy_forward_on_write(struct conn *, struct bufferevent *);
void	 proxy_forward_on_event(struct conn *, struct bufferevent *, short);
void	 proxy_connect_on_read(struct conn *, struct bufferevent *);
void	 proxy_connect_on_event(struct conn *, struct bufferevent *, short);

#endif
