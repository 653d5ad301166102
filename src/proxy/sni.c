#include "proxy/sni.h"

#include <ctype.h>
#include <stdint.h>
#include <string.h>

#define TLS_HANDSHAKE		0x16
#define TLS_CLIENT_HELLO	0x01
#define TLS_EXT_SERVER_NAME	0x0000

/* A bounded reader over the reassembled handshake bytes. */
struct rd {
	const unsigned char	*p;
	size_t			 len;
	size_t			 off;
};

static int
rd_skip(struct rd *r, size_t n)
{
	if (r->len - r->off < n)
		return -1;
	r->off += n;
	return 0;
}

static int
rd_u8(struct rd *r, unsigned *v)
{
	if (r->len - r->off < 1)
		return -1;
	*v = r->p[r->off++];
	return 0;
}

static int
rd_u16(struct rd *r, unsigned *v)
{
	if (r->len - r->off < 2)
		return -1;
	*v = (unsigned)r->p[r->off] << 8 | r->p[r->off + 1];
	r->off += 2;
	return 0;
}

/*
 * Join the payloads of consecutive handshake records into out.  Returns
 * the joined length, or -1 when the records are not handshake records.
 */
static long
sni_join(const unsigned char *s, size_t len, unsigned char *out,
    size_t outsz, size_t want)
{
	size_t	off = 0, got = 0, rl;

	while (off + 5 <= len && got < want) {
		if (s[off] != TLS_HANDSHAKE)
			return -1;
		rl = (size_t)s[off + 3] << 8 | s[off + 4];
		if (rl == 0)
			return -1;
		off += 5;
		if (rl > len - off)
			rl = len - off;
		if (rl > outsz - got)
			rl = outsz - got;
		memcpy(out + got, s + off, rl);
		got += rl;
		off += rl;
	}
	return (long)got;
}

static enum sni_result
sni_extensions(struct rd *r, char *name, size_t namesz)
{
	unsigned	 total, type, elen, listlen, ntype, nlen, i;
	size_t		 end, eend;

	if (r->off == r->len)
		return SNI_NONE;	/* no extensions at all */
	if (rd_u16(r, &total) == -1 || total > r->len - r->off)
		return SNI_BAD;
	end = r->off + total;
	while (r->off + 4 <= end) {
		if (rd_u16(r, &type) == -1 || rd_u16(r, &elen) == -1 ||
		    elen > end - r->off)
			return SNI_BAD;
		eend = r->off + elen;
		if (type != TLS_EXT_SERVER_NAME) {
			r->off = eend;
			continue;
		}
		if (rd_u16(r, &listlen) == -1 || listlen > eend - r->off ||
		    rd_u8(r, &ntype) == -1 || rd_u16(r, &nlen) == -1 ||
		    nlen > eend - r->off || ntype != 0 || nlen == 0 ||
		    nlen >= namesz)
			return SNI_BAD;
		for (i = 0; i < nlen; i++) {
			unsigned char c = r->p[r->off + i];

			if (c <= 0x20 || c >= 0x7f)
				return SNI_BAD;
			name[i] = (char)tolower(c);
		}
		name[nlen] = '\0';
		return SNI_FOUND;
	}
	return SNI_NONE;
}

enum sni_result
proxy_sni_parse(const unsigned char *s, size_t len, char *name,
    size_t namesz)
{
	unsigned char	 hs[SNI_PEEK_MAX];
	struct rd	 r;
	unsigned	 v;
	size_t		 hlen;
	long		 got;

	if (len == 0)
		return SNI_MORE;
	if (s[0] != TLS_HANDSHAKE)
		return SNI_NONE;
	if (len < 5)
		return SNI_MORE;
	if (s[1] != 0x03)
		return SNI_NONE;	/* not a TLS record layer version */
	/*
	 * The handshake header itself may be split over records (RFC 8446
	 * 5.1 allows fragmenting anywhere): join first, then read it.
	 */
	got = sni_join(s, len, hs, sizeof(hs), 4);
	if (got < 0)
		return SNI_BAD;
	if (got < 4)
		return len >= SNI_PEEK_MAX ? SNI_BAD : SNI_MORE;
	if (hs[0] != TLS_CLIENT_HELLO)
		return SNI_BAD;
	hlen = (size_t)hs[1] << 16 | (size_t)hs[2] << 8 | hs[3];
	if (hlen + 4 > sizeof(hs))
		return SNI_BAD;
	got = sni_join(s, len, hs, sizeof(hs), hlen + 4);
	if (got < 0)
		return SNI_BAD;
	if ((size_t)got < hlen + 4)
		return len >= SNI_PEEK_MAX ? SNI_BAD : SNI_MORE;
	r.p = hs + 4;
	r.len = hlen;
	r.off = 0;
	/* version, random, session id, cipher suites, compression */
	if (rd_skip(&r, 2 + 32) == -1 || rd_u8(&r, &v) == -1 ||
	    rd_skip(&r, v) == -1 || rd_u16(&r, &v) == -1 ||
	    rd_skip(&r, v) == -1 || rd_u8(&r, &v) == -1 ||
	    rd_skip(&r, v) == -1)
		return SNI_BAD;
	return sni_extensions(&r, name, namesz);
}
