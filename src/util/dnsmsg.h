#ifndef KEYHOLE_UTIL_DNSMSG_H
#define KEYHOLE_UTIL_DNSMSG_H

/*
 * DNS messages as the sandbox's answerer sees them (SPEC §3.1): one query
 * from the child parsed strictly, one answer built.  Only what a stub
 * resolver sends is accepted: a header, exactly one question, and at most
 * one additional record, which must be an EDNS0 OPT.  Names are never
 * decompressed (a stub's question never uses a pointer), so no input can
 * make the parser loop or jump.  No allocation; every length is checked
 * against the message before it is read.
 */

#include <sys/socket.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNSMSG_HDR		12
#define DNSMSG_UDP_MIN		512	/* without EDNS0 (RFC 1035) */
#define DNSMSG_EDNS_SIZE	1232	/* what we advertise and send at most */
#define DNSMSG_MAX		65535	/* TCP */
#define DNSMSG_NAME_MAX		253	/* text, without the final dot */
#define DNSMSG_WIRE_MAX		255	/* a name on the wire */

#define DNSMSG_T_A		1
#define DNSMSG_T_AAAA		28
#define DNSMSG_T_OPT		41
#define DNSMSG_C_IN		1

#define DNSMSG_NOERROR		0
#define DNSMSG_FORMERR		1
#define DNSMSG_SERVFAIL		2
#define DNSMSG_NXDOMAIN		3
#define DNSMSG_NOTIMP		4
#define DNSMSG_REFUSED		5

enum dnsmsg_parse {
	DNSMSG_OK,		/* q is filled */
	DNSMSG_ERROR,		/* answer with dnsmsg_error(q, q->rcode) */
	DNSMSG_DROP		/* not a query we can answer at all */
};

struct dnsmsg_query {
	uint16_t	 id;
	uint16_t	 flags;		/* as sent (RD is echoed) */
	int		 rcode;		/* with DNSMSG_ERROR */
	/*
	 * The name, lower case, dots between labels, no final dot ("" for
	 * the root).  name_ok is false when a label holds a byte other than
	 * a letter, digit, '-' or '_': such a name never matches anything.
	 */
	char		 name[DNSMSG_NAME_MAX + 1];
	bool		 name_ok;
	uint8_t		 wire[DNSMSG_WIRE_MAX];	/* the question's name, as sent */
	size_t		 wirelen;
	uint16_t	 qtype;
	uint16_t	 qclass;
	bool		 edns;		/* an OPT record came with it */
	uint16_t	 udp_size;	/* the client's limit, >= 512 */
};

/* Parse one query of len bytes (a datagram, or a TCP message unframed). */
enum dnsmsg_parse dnsmsg_parse(const uint8_t *msg, size_t len,
	    struct dnsmsg_query *q);

/*
 * Build the answer to q into out (outsz bytes): rcode, and for NOERROR
 * the addresses of addrs[0..n) whose family matches q->qtype (A: AF_INET,
 * AAAA: AF_INET6; none: NODATA) with ttl.  limit is the largest message
 * the transport takes (dnsmsg_limit); a larger answer is sent with
 * the TC bit and no records, so the client retries over TCP.  Returns the
 * length, 0 when outsz is too small.
 */
size_t	 dnsmsg_answer(const struct dnsmsg_query *q, int rcode,
	    const struct sockaddr_storage *addrs, size_t n, uint32_t ttl,
	    size_t limit, uint8_t *out, size_t outsz);

/* A header-only answer (FORMERR, NOTIMP) to what parse left in q. */
size_t	 dnsmsg_error(const struct dnsmsg_query *q, int rcode,
	    uint8_t *out, size_t outsz);

/* The largest answer for q: over UDP 512 or its EDNS0 size (at most ours). */
size_t	 dnsmsg_limit(const struct dnsmsg_query *q, bool tcp);

/*
 * TCP framing: the length of the first whole message in buf (len bytes,
 * starting with its two-byte length), with *msg pointing at it; 0 while
 * more is needed.  A zero-length message is reported as SIZE_MAX.
 */
size_t	 dnsmsg_tcp_take(const uint8_t *buf, size_t len,
	    const uint8_t **msg);

/* Prefix out[2..2+len) with its length; returns len + 2. */
size_t	 dnsmsg_tcp_frame(uint8_t *out, size_t len);

#endif
