/*
 * Responses never carry the secret back (SPEC §4.6 step 6).
 *
 * A fed piece D is scanned in three parts:
 *  1. the junction: the bytes held from the previous piece followed by the
 *     start of D, scanned position by position in a small window (a
 *     pattern that straddles two pieces is found here);
 *  2. the safe region, the starts that leave room for the longest pattern
 *     inside D: each pattern is looked for with memchr on its rarest byte
 *     (the anchor) and checked with memcmp, so a body without a match
 *     costs about one memchr pass per pattern (memmem where the anchor
 *     turns out to be common);
 *  3. the tail, the last (longest - 1) starts, position by position: the
 *     first one that may still begin a pattern is held back with what
 *     follows it.
 * Matching is leftmost first, longest on a tie: a start that is a prefix
 * of a longer pattern is held even when a shorter one matches there, so
 * the result does not depend on where the pieces were cut.
 */
#include "proxy/scrub.h"

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "creds/secret.h"
#include "policy/route.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

#define SCRUB_ANCHORS	16

struct scrub_pat {
	unsigned char	*b;		/* owned; wiped */
	size_t		 len;
	size_t		 at;		/* offset of the anchor byte */
	/* Offsets of distinct bytes, rarest first: anchors to try. */
	size_t		 cand[SCRUB_ANCHORS];
	size_t		 ncand;
	size_t		 ci;		/* cand[ci] is at */
};

struct scrub {
	struct scrub_pat pat[SCRUB_MAX_PATS];
	size_t		 npat;
	uint8_t		 first[256];	/* 1: some pattern starts with it */
	size_t		 maxlen;
	unsigned char	*repl;		/* owned; wiped */
	size_t		 repl_len;
	const void	*repl_from;	/* the secret repl was copied from;
					   compared by address only */
	unsigned char	*hold;		/* owned; maxlen bytes, wiped */
	size_t		 nhold;
	unsigned char	*win;		/* owned; 2 * maxlen, wiped */
	uint64_t	 count;
};

/*
 * Where the decided bytes go.  The bytes of the piece being scanned are
 * consumed in order, each either taken (passed on as they are) or skipped
 * (replaced, or copied into the hold); emitted bytes are our own.
 */
struct sink {
	struct evbuffer		*out;
	struct evbuffer		*in;	/* feed_buffer: the piece is in's */
	const unsigned char	*d;	/* feed: the piece */
	size_t			 off;	/* feed: next byte of d */
	int			 rv;
};

enum {
	AT_NONE = 0,
	AT_MATCH,
	AT_PARTIAL,	/* the bytes begin a pattern: more are needed */
};

static void
sink_emit(struct sink *k, const void *p, size_t n)
{
	if (n > 0 && evbuffer_add(k->out, p, n) == -1)
		k->rv = -1;
}

static void
sink_take(struct sink *k, size_t n)
{
	if (n == 0)
		return;
	if (k->in != NULL) {
		if (evbuffer_remove_buffer(k->in, k->out, n) != (int)n)
			k->rv = -1;
		return;
	}
	sink_emit(k, k->d + k->off, n);
	k->off += n;
}

static void
sink_skip(struct sink *k, size_t n)
{
	if (n == 0)
		return;
	if (k->in != NULL) {
		if (evbuffer_drain(k->in, n) == -1)
			k->rv = -1;
		return;
	}
	k->off += n;
}

static void
scrub_replace(struct scrub *s, struct sink *k)
{
	sink_emit(k, s->repl, s->repl_len);
	s->count++;
}

/* How rarely a byte turns up in text, JSON and headers (higher: rarer). */
static int
scrub_rarity(unsigned char c)
{
	if (c >= 0x80 || c < 0x20 || c == 0x7f)
		return 5;
	if (c >= 'A' && c <= 'Z')
		return c == 'A' || c == 'E' || c == 'T' || c == 'S' ? 3 : 4;
	if (c >= '0' && c <= '9')
		return 2;
	if (c >= 'a' && c <= 'z')
		return strchr("etaoinshrdlcu", c) != NULL ? 0 : 1;
	return strchr(" \",:{}[]./-_=", c) != NULL ? 1 : 4;
}

/*
 * What p[0..n) is at its start: the longest pattern it holds in full
 * (*len), or PARTIAL when it is a proper prefix of some pattern (unless
 * final: the stream ended, nothing more comes).
 */
static int
scrub_at(const struct scrub *s, const unsigned char *p, size_t n, bool final,
    size_t *len)
{
	const struct scrub_pat	*q;
	size_t			 i, best = 0;
	bool			 partial = false;

	if (!s->first[p[0]])
		return AT_NONE;
	for (i = 0; i < s->npat; i++) {
		q = &s->pat[i];
		if (q->b[0] != p[0])
			continue;
		if (q->len <= n) {
			if (q->len > best && memcmp(p, q->b, q->len) == 0)
				best = q->len;
		} else if (!final && memcmp(p, q->b, n) == 0)
			partial = true;
	}
	if (partial)
		return AT_PARTIAL;
	*len = best;
	return best > 0 ? AT_MATCH : AT_NONE;
}

/*
 * First start of pattern j in d[from..safe), or SIZE_MAX.  memchr on the
 * anchor is fastest while the anchor is rare (tens of GB/s); where it is
 * not (a base64 blob holds any letter every 64 bytes) memchr stops too
 * often.  After SCRUB_DENSE misses within SCRUB_DENSE * 256 bytes the
 * rest of the piece is left to memmem (glibc's skips by up to the
 * pattern's length) and the next piece tries the pattern's next anchor
 * candidate: a stream settles on a byte that is rare in it, if the
 * pattern has one ('-' in a base64 body).
 */
#define SCRUB_DENSE	8

static size_t
scrub_find(struct scrub *s, size_t j, const unsigned char *d,
    size_t from, size_t safe)
{
	struct scrub_pat	*q = &s->pat[j];
	const unsigned char	*a, *end, *hit;
	size_t			 start, miss = 0;

	if (from >= safe)
		return SIZE_MAX;
	a = d + from + q->at;
	end = d + safe + q->at;
	while (a < end && (a = memchr(a, q->b[q->at], (size_t)(end - a))) !=
	    NULL) {
		start = (size_t)(a - d) - q->at;
		if (memcmp(d + start, q->b, q->len) == 0)
			return start;
		a++;
		if (++miss == SCRUB_DENSE && start - from < SCRUB_DENSE * 256) {
			q->ci = (q->ci + 1) % q->ncand;
			q->at = q->cand[q->ci];
			/* Starts from start + 1 on, ending by safe - 1 + len. */
			start++;
			hit = memmem(d + start, safe - 1 + q->len - start, q->b,
			    q->len);
			return hit == NULL ? SIZE_MAX : (size_t)(hit - d);
		}
	}
	return SIZE_MAX;
}

/*
 * The held bytes and the start of d, position by position over the held
 * ones.  Returns how many bytes of d were consumed (skipped), or SIZE_MAX
 * when all of d was taken into the hold.
 */
static size_t
scrub_junction(struct scrub *s, const unsigned char *d, size_t n,
    struct sink *k)
{
	unsigned char	*w = s->win;
	size_t		 h = s->nhold, kk, wl, pos = 0, i = 0, len = 0;
	int		 r;

	kk = n < s->maxlen ? n : s->maxlen;
	wl = h + kk;
	memcpy(w, s->hold, h);
	memcpy(w + h, d, kk);
	explicit_bzero(s->hold, h);
	s->nhold = 0;
	while (i < h) {
		r = scrub_at(s, w + i, wl - i, false, &len);
		if (r == AT_PARTIAL) {
			/* Only when all of d is in the window (kk == n). */
			sink_emit(k, w + pos, i - pos);
			memcpy(s->hold, w + i, wl - i);
			s->nhold = wl - i;
			sink_skip(k, n);
			explicit_bzero(w, wl);
			return SIZE_MAX;
		}
		if (r == AT_MATCH) {
			sink_emit(k, w + pos, i - pos);
			scrub_replace(s, k);
			pos = i = i + len;
			continue;
		}
		i++;
	}
	if (pos < h) {
		sink_emit(k, w + pos, h - pos);
		explicit_bzero(w, wl);
		return 0;
	}
	explicit_bzero(w, wl);
	sink_skip(k, pos - h);
	return pos - h;
}

/* Scan one contiguous piece. */
static void
scrub_scan(struct scrub *s, const unsigned char *d, size_t n, struct sink *k)
{
	size_t	nx[SCRUB_MAX_PATS], pos = 0, safe, i, j, m, len = 0;
	int	r;

	if (n == 0)
		return;
	if (s->npat == 0) {
		sink_take(k, n);
		return;
	}
	if (s->nhold > 0 && (pos = scrub_junction(s, d, n, k)) == SIZE_MAX)
		return;
	/* Starts below safe leave room for every pattern inside d. */
	safe = n >= s->maxlen ? n - s->maxlen + 1 : 0;
	for (j = 0; j < s->npat; j++)
		nx[j] = scrub_find(s, j, d, pos, safe);
	for (;;) {
		m = SIZE_MAX;
		for (j = 0; j < s->npat; j++) {
			if (nx[j] < m || (nx[j] == m && m != SIZE_MAX &&
			    s->pat[j].len > len)) {
				m = nx[j];
				len = s->pat[j].len;
			}
		}
		if (m == SIZE_MAX)
			break;
		sink_take(k, m - pos);
		scrub_replace(s, k);
		sink_skip(k, len);
		pos = m + len;
		for (j = 0; j < s->npat; j++)
			if (nx[j] < pos)
				nx[j] = scrub_find(s, j, d, pos, safe);
	}
	for (i = pos > safe ? pos : safe; i < n;) {
		if (!s->first[d[i]]) {
			i++;
			continue;
		}
		r = scrub_at(s, d + i, n - i, false, &len);
		if (r == AT_PARTIAL) {
			sink_take(k, i - pos);
			memcpy(s->hold, d + i, n - i);
			s->nhold = n - i;
			sink_skip(k, n - i);
			return;
		}
		if (r == AT_MATCH) {
			sink_take(k, i - pos);
			scrub_replace(s, k);
			sink_skip(k, len);
			pos = i = i + len;
			continue;
		}
		i++;
	}
	sink_take(k, n - pos);
}

/* creds_secret_lend's callback: copy the replacement. */
static void
scrub_take_repl(void *arg, const void *p, size_t n)
{
	struct scrub	*s = arg;

	freezero(s->repl, s->repl_len + 1);
	s->repl = xmalloc(n + 1);
	memcpy(s->repl, p, n);
	s->repl_len = n;
}

struct scrub *
proxy_scrub_new(const struct secret *repl)
{
	struct scrub	*s;

	s = xcalloc(1, sizeof(*s));
	s->repl = xmalloc(1);
	creds_secret_lend(repl, SECRET_RAW, scrub_take_repl, s);
	s->repl_from = repl;
	return s;
}

struct scrub_add {
	struct scrub	*s;
	int		 rv;
};

/* creds_secret_lend's callback: take the lent bytes as a pattern. */
static void
scrub_take_pattern(void *arg, const void *p, size_t n)
{
	struct scrub_add	*a = arg;
	struct scrub		*s = a->s;
	struct scrub_pat	*q;
	size_t			 i, k, t;
	int			 rk;

	if (n == 0)
		return;
	for (i = 0; i < s->npat; i++)
		if (s->pat[i].len == n && memcmp(s->pat[i].b, p, n) == 0)
			return;
	if (s->npat == SCRUB_MAX_PATS) {
		a->rv = -1;
		return;
	}
	q = &s->pat[s->npat++];
	q->b = xmalloc(n);
	memcpy(q->b, p, n);
	q->len = n;
	s->first[q->b[0]] = 1;
	/*
	 * The first offset of each distinct byte, rarest first (a stable
	 * insertion sort), at most SCRUB_ANCHORS of them.
	 */
	for (i = 0; i < n; i++) {
		for (k = 0; k < q->ncand && q->b[q->cand[k]] != q->b[i]; k++)
			;
		if (k < q->ncand)
			continue;
		rk = scrub_rarity(q->b[i]);
		for (k = q->ncand; k > 0 &&
		    scrub_rarity(q->b[q->cand[k - 1]]) < rk; k--)
			;
		if (k == SCRUB_ANCHORS)
			continue;
		t = q->ncand < SCRUB_ANCHORS ? q->ncand++ : SCRUB_ANCHORS - 1;
		memmove(&q->cand[k + 1], &q->cand[k], (t - k) * sizeof(size_t));
		q->cand[k] = i;
	}
	q->ci = 0;
	q->at = q->cand[0];
	if (n > s->maxlen) {
		freezero(s->hold, s->maxlen);
		freezero(s->win, 2 * s->maxlen);
		s->maxlen = n;
		s->hold = xmalloc(n);
		s->win = xmalloc(2 * n);
		s->nhold = 0;
	}
}

int
proxy_scrub_add(struct scrub *s, const struct secret *secret,
    enum secret_enc enc)
{
	struct scrub_add	a = { .s = s, .rv = 0 };

	if (s == NULL || secret == NULL)
		return -1;
	creds_secret_lend(secret, enc, scrub_take_pattern, &a);
	return a.rv;
}

struct scrub *
proxy_scrub_for_route(const struct route *r, const struct secret *secret,
    const struct secret *phantom)
{
	struct scrub	*s;

	s = proxy_scrub_new(phantom);
	/* The raw secret first: proxy_scrub_is_for() compares with it. */
	(void)proxy_scrub_add(s, secret, SECRET_RAW);
	switch (r->def->inject_mode) {
	case INJECT_BASIC_AUTH:
		(void)proxy_scrub_add(s, secret, SECRET_BASE64);
		/* A route's host sends base64("x-access-token:SECRET"). */
		if (r->is_host && strcmp(r->def->credential_format, "{}") != 0) {
			struct strbuf	 t = { .wipe = true };
			struct secret	*f;

			creds_secret_emit_strbuf(secret, &t,
			    r->def->credential_format, SECRET_RAW);
			f = creds_secret_new(t.s, t.len);
			strbuf_freezero(&t);
			(void)proxy_scrub_add(s, f, SECRET_BASE64);
			creds_secret_free(f);
		}
		break;
	case INJECT_URL_PATH:
	case INJECT_QUERY_PARAM:
		(void)proxy_scrub_add(s, secret, SECRET_PCT);
		break;
	case INJECT_HEADER:
		break;
	}
	return s;
}

bool
proxy_scrub_is_for(const struct scrub *s, const struct secret *secret,
    const struct secret *phantom)
{
	if (s == NULL || s->npat == 0)
		return false;
	/*
	 * Our copies against the store's: no wire bytes, so no need for
	 * constant time.  The same phantom object needs no compare at all
	 * (phantoms are fixed).
	 */
	return creds_secret_same(secret, s->pat[0].b, s->pat[0].len) &&
	    (phantom == s->repl_from ||
	    creds_secret_same(phantom, s->repl, s->repl_len));
}

bool
proxy_scrub_contains(const struct scrub *s, const void *p, size_t n)
{
	const unsigned char	*d = p, *a, *end;
	const struct scrub_pat	*q;
	size_t			 j;

	for (j = 0; j < s->npat; j++) {
		q = &s->pat[j];
		if (n < q->len)
			continue;
		a = d + q->at;
		end = d + n - q->len + 1 + q->at;
		while (a < end && (a = memchr(a, q->b[q->at],
		    (size_t)(end - a))) != NULL) {
			if (memcmp(a - q->at, q->b, q->len) == 0)
				return true;
			a++;
		}
	}
	return false;
}

int
proxy_scrub_feed(struct scrub *s, const void *p, size_t n,
    struct evbuffer *out)
{
	struct sink	k = { .out = out, .d = p };

	scrub_scan(s, p, n, &k);
	return k.rv;
}

int
proxy_scrub_feed_buffer(struct scrub *s, struct evbuffer *in, size_t n,
    struct evbuffer *out)
{
	struct sink		k = { .out = out, .in = in };
	struct evbuffer_iovec	v;
	size_t			m;

	while (n > 0 && k.rv == 0) {
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
			return -1;
		m = v.iov_len < n ? v.iov_len : n;
		/*
		 * The scan moves or drains in's first chain only after it is
		 * done reading the bytes concerned.
		 */
		scrub_scan(s, v.iov_base, m, &k);
		n -= m;
	}
	return k.rv;
}

int
proxy_scrub_finish(struct scrub *s, struct evbuffer *out)
{
	struct sink	 k = { .out = out };
	unsigned char	*h = s->hold;
	size_t		 n = s->nhold, pos = 0, i = 0, len = 0;

	if (n == 0)
		return 0;
	while (i < n) {
		if (scrub_at(s, h + i, n - i, true, &len) == AT_MATCH) {
			sink_emit(&k, h + pos, i - pos);
			scrub_replace(s, &k);
			pos = i = i + len;
			continue;
		}
		i++;
	}
	sink_emit(&k, h + pos, n - pos);
	proxy_scrub_reset(s);
	return k.rv;
}

void
proxy_scrub_reset(struct scrub *s)
{
	if (s->nhold > 0)
		explicit_bzero(s->hold, s->nhold);
	s->nhold = 0;
}

size_t
proxy_scrub_held(const struct scrub *s)
{
	return s->nhold;
}

size_t
proxy_scrub_maxlen(const struct scrub *s)
{
	return s->maxlen;
}

uint64_t
proxy_scrub_count(const struct scrub *s)
{
	return s->count;
}

void
proxy_scrub_free(struct scrub *s)
{
	size_t	i;

	if (s == NULL)
		return;
	for (i = 0; i < s->npat; i++)
		freezero(s->pat[i].b, s->pat[i].len);
	freezero(s->repl, s->repl_len + 1);
	freezero(s->hold, s->maxlen);
	freezero(s->win, 2 * s->maxlen);
	freezero(s, sizeof(*s));
}
