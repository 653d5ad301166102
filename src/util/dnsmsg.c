/*
 * A strict DNS query parser and answer builder (see dnsmsg.h).
 *
 * Chosen over ldns (libldns-dev): the answerer needs a header, one
 * question and the OPT record; ldns would bring a general wire parser
 * (compression, every RR type, its own history of CVEs) into the
 * supervisor for bytes that come from the sandbox.  This file accepts the
 * one shape a stub resolver sends and refuses everything else, and is
 * fuzzed (fuzz/fuzz_dnsmsg.c).
 */
#include <netinet/in.h>

#include <string.h>

#include "util/dnsmsg.h"

#define F_QR		0x8000
#define F_OPCODE	0x7800
#define F_AA		0x0400
#define F_TC		0x0200
#define F_RD		0x0100
#define F_RA		0x0080

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static void
put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static bool
dnsmsg_namechar(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* The question's name at msg[*off]; FORMERR on anything odd. */
static int
dnsmsg_name(const uint8_t *msg, size_t len, size_t *off,
    struct dnsmsg_query *q)
{
	size_t	 o = *off, t = 0, l, i;
	uint8_t	 c;

	q->name_ok = true;
	for (;;) {
		if (o >= len)
			return -1;
		l = msg[o];
		if (l & 0xc0)		/* pointer or reserved label type */
			return -1;
		if (o - *off + 1 + l > DNSMSG_WIRE_MAX)
			return -1;
		if (l == 0)
			break;
		if (o + 1 + l > len)
			return -1;
		if (t != 0)
			q->name[t++] = '.';
		for (i = 0; i < l; i++) {
			c = msg[o + 1 + i];
			if (!dnsmsg_namechar(c))
				q->name_ok = false;
			if (c >= 'A' && c <= 'Z')
				c = (uint8_t)(c - 'A' + 'a');
			q->name[t++] = (char)c;
		}
		o += 1 + l;
	}
	o++;
	q->wirelen = o - *off;
	memcpy(q->wire, msg + *off, q->wirelen);
	q->name[t] = '\0';
	if (!q->name_ok)
		q->name[0] = '\0';
	*off = o;
	return 0;
}

/* The one additional record: an EDNS0 OPT, version 0, owned by the root. */
static int
dnsmsg_opt(const uint8_t *msg, size_t len, size_t *off,
    struct dnsmsg_query *q)
{
	size_t		 o = *off;
	uint16_t	 rdlen;

	if (len - o < 11 || msg[o] != 0)
		return -1;
	if (get16(msg + o + 1) != DNSMSG_T_OPT)
		return -1;
	q->udp_size = get16(msg + o + 3);
	if (q->udp_size < DNSMSG_UDP_MIN)
		q->udp_size = DNSMSG_UDP_MIN;
	if (msg[o + 6] != 0)		/* EDNS version */
		return -1;
	rdlen = get16(msg + o + 9);
	if (len - o - 11 < rdlen)
		return -1;
	q->edns = true;
	*off = o + 11 + rdlen;
	return 0;
}

enum dnsmsg_parse
dnsmsg_parse(const uint8_t *msg, size_t len, struct dnsmsg_query *q)
{
	size_t	 off = DNSMSG_HDR;

	memset(q, 0, sizeof(*q));
	q->udp_size = DNSMSG_UDP_MIN;
	if (msg == NULL || len < DNSMSG_HDR || len > DNSMSG_MAX)
		return DNSMSG_DROP;
	q->id = get16(msg);
	q->flags = get16(msg + 2);
	if (q->flags & F_QR)		/* a response: never answered */
		return DNSMSG_DROP;
	q->rcode = DNSMSG_FORMERR;
	if ((q->flags & F_OPCODE) != 0) {
		q->rcode = DNSMSG_NOTIMP;
		return DNSMSG_ERROR;
	}
	if ((q->flags & F_TC) || get16(msg + 4) != 1 || get16(msg + 6) != 0 ||
	    get16(msg + 8) != 0 || get16(msg + 10) > 1)
		return DNSMSG_ERROR;
	if (dnsmsg_name(msg, len, &off, q) == -1 || len - off < 4)
		goto bad;
	q->qtype = get16(msg + off);
	q->qclass = get16(msg + off + 2);
	off += 4;
	if (get16(msg + 10) == 1 && dnsmsg_opt(msg, len, &off, q) == -1)
		goto bad;
	if (off != len)
		goto bad;
	q->rcode = DNSMSG_NOERROR;
	return DNSMSG_OK;
bad:
	q->name[0] = '\0';
	q->name_ok = false;
	q->wirelen = 0;
	return DNSMSG_ERROR;
}

size_t
dnsmsg_limit(const struct dnsmsg_query *q, bool tcp)
{
	if (tcp)
		return DNSMSG_MAX;
	if (!q->edns)
		return DNSMSG_UDP_MIN;
	return q->udp_size < DNSMSG_EDNS_SIZE ? q->udp_size : DNSMSG_EDNS_SIZE;
}

static void
dnsmsg_header(uint8_t *out, const struct dnsmsg_query *q, int rcode,
    unsigned qd, unsigned an, unsigned ar, bool tc)
{
	unsigned	 f;

	f = F_QR | F_AA | F_RA | (q->flags & F_RD) | (rcode & 0xf);
	if (tc)
		f |= F_TC;
	put16(out, q->id);
	put16(out + 2, f);
	put16(out + 4, qd);
	put16(out + 6, an);
	put16(out + 8, 0);
	put16(out + 10, ar);
}

size_t
dnsmsg_error(const struct dnsmsg_query *q, int rcode, uint8_t *out,
    size_t outsz)
{
	if (outsz < DNSMSG_HDR)
		return 0;
	dnsmsg_header(out, q, rcode, 0, 0, 0, false);
	return DNSMSG_HDR;
}

/* One answer record's size, and whether addrs[i] answers qtype. */
static size_t
dnsmsg_rrlen(const struct dnsmsg_query *q, const struct sockaddr_storage *a)
{
	if (q->qtype == DNSMSG_T_A && a->ss_family == AF_INET)
		return 12 + 4;
	if (q->qtype == DNSMSG_T_AAAA && a->ss_family == AF_INET6)
		return 12 + 16;
	return 0;
}

size_t
dnsmsg_answer(const struct dnsmsg_query *q, int rcode,
    const struct sockaddr_storage *addrs, size_t n, uint32_t ttl,
    size_t limit, uint8_t *out, size_t outsz)
{
	size_t		 need, o, i, rl, an = 0;
	bool		 tc = false;

	if (q->wirelen == 0)
		return dnsmsg_error(q, rcode, out, outsz);
	if (limit > outsz)
		limit = outsz;
	need = DNSMSG_HDR + q->wirelen + 4 + (q->edns ? 11 : 0);
	if (need > limit)
		return 0;
	if (rcode == DNSMSG_NOERROR && q->qclass == DNSMSG_C_IN) {
		for (i = 0; i < n; i++) {
			if ((rl = dnsmsg_rrlen(q, &addrs[i])) == 0)
				continue;
			if (need + rl > limit) {
				tc = true;
				an = 0;
				break;
			}
			need += rl;
			an++;
		}
	}
	dnsmsg_header(out, q, rcode, 1, (unsigned)an, q->edns ? 1 : 0, tc);
	o = DNSMSG_HDR;
	memcpy(out + o, q->wire, q->wirelen);
	o += q->wirelen;
	put16(out + o, q->qtype);
	put16(out + o + 2, q->qclass);
	o += 4;
	for (i = 0; an > 0 && i < n; i++) {
		if ((rl = dnsmsg_rrlen(q, &addrs[i])) == 0)
			continue;
		put16(out + o, 0xc000 | DNSMSG_HDR);	/* the question's name */
		put16(out + o + 2, q->qtype);
		put16(out + o + 4, DNSMSG_C_IN);
		put32(out + o + 6, ttl);
		put16(out + o + 10, (unsigned)(rl - 12));
		if (addrs[i].ss_family == AF_INET)
			memcpy(out + o + 12, &((const struct sockaddr_in *)
			    &addrs[i])->sin_addr, 4);
		else
			memcpy(out + o + 12, &((const struct sockaddr_in6 *)
			    &addrs[i])->sin6_addr, 16);
		o += rl;
	}
	if (q->edns) {
		out[o] = 0;
		put16(out + o + 1, DNSMSG_T_OPT);
		put16(out + o + 3, DNSMSG_EDNS_SIZE);
		put32(out + o + 5, 0);
		put16(out + o + 9, 0);
		o += 11;
	}
	return o;
}

size_t
dnsmsg_tcp_take(const uint8_t *buf, size_t len, const uint8_t **msg)
{
	size_t	 l;

	*msg = NULL;
	if (len < 2)
		return 0;
	l = get16(buf);
	if (l == 0)
		return SIZE_MAX;
	if (len - 2 < l)
		return 0;
	*msg = buf + 2;
	return l;
}

size_t
dnsmsg_tcp_frame(uint8_t *out, size_t len)
{
	put16(out, (unsigned)len);
	return len + 2;
}
