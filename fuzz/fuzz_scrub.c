/*
 * The response scrubber (proxy/scrub.h): it reads bytes an upstream
 * controls.
 *
 * Input: one byte (bits 0-1: patterns - 1; bits 2-7: the largest piece
 * size - 1), one seed byte for the piece sizes, then the patterns and the
 * replacement as '\n'-terminated fields, then the body.
 *
 * Invariants: fed in pieces (alternately copied from memory and taken
 * from an evbuffer of small chains), the output equals a whole-input
 * reference (leftmost match, longest on a tie, resume after it); fewer
 * bytes than the longest pattern are ever held back; finish leaves none;
 * proxy_scrub_contains() is true exactly when the reference replaced
 * something.
 */
#include <event2/buffer.h>

#include "creds/secret.h"
#include "fuzz.h"
#include "proxy/scrub.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define NPAT	4

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_quiet();
	return 0;
}

/* The reference result of body, as an evbuffer. */
static struct evbuffer *
reference(const char *body, size_t n, char *const *pat, const size_t *plen,
    size_t npat, const char *repl, size_t rlen, size_t *nrep)
{
	struct evbuffer	*out = evbuffer_new();
	size_t		 i = 0, j, best;

	if (out == NULL)
		abort();
	while (i < n) {
		best = 0;
		for (j = 0; j < npat; j++)
			if (plen[j] > best && plen[j] <= n - i &&
			    memcmp(body + i, pat[j], plen[j]) == 0)
				best = plen[j];
		if (best > 0) {
			(*nrep)++;
			evbuffer_add(out, repl, rlen);
			i += best;
		} else
			evbuffer_add(out, body + i++, 1);
	}
	return out;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz	 f = { data, size };
	char		*pat[NPAT], *repl, *body;
	size_t		 plen[NPAT], rlen, n, npat, maxpiece, off, m, i, maxlen;
	struct secret	*sr, *sp;
	struct scrub	*s;
	struct evbuffer	*out, *want, *in, *t;
	unsigned	 seed, k = 0;
	size_t		 nrep = 0;
	uint8_t		 b0;

	b0 = fz_byte(&f);
	npat = (size_t)(b0 & 3) + 1;
	maxpiece = (size_t)(b0 >> 2) + 1;
	seed = fz_byte(&f);
	maxlen = 0;
	for (i = 0; i < npat; i++) {
		pat[i] = fz_field(&f, '\n', &plen[i]);
		if (plen[i] > maxlen)
			maxlen = plen[i];
	}
	repl = fz_field(&f, '\n', &rlen);
	body = fz_rest(&f, &n);

	sr = creds_secret_new(repl, rlen);
	s = proxy_scrub_new(sr);
	for (i = 0; i < npat; i++) {
		sp = creds_secret_new(pat[i], plen[i]);
		FZ_ASSERT(proxy_scrub_add(s, sp, SECRET_RAW) == 0, "add");
		creds_secret_free(sp);
	}
	FZ_ASSERT(proxy_scrub_maxlen(s) == maxlen, "maxlen %zu != %zu",
	    proxy_scrub_maxlen(s), maxlen);
	out = evbuffer_new();
	in = evbuffer_new();
	if (out == NULL || in == NULL)
		abort();
	for (off = 0; off < n; off += m) {
		seed = seed * 1103515245u + 12345u;
		m = (size_t)(seed >> 16) % maxpiece + 1;
		if (m > n - off)
			m = n - off;
		if (k++ % 2 == 0) {
			FZ_ASSERT(proxy_scrub_feed(s, body + off, m, out) == 0,
			    "feed");
		} else {
			/* Chains of at most 3 bytes: matches cross them. */
			for (i = 0; i < m; i += 3) {
				if ((t = evbuffer_new()) == NULL)
					abort();
				evbuffer_add(t, body + off + i,
				    m - i < 3 ? m - i : 3);
				evbuffer_add_buffer(in, t);
				evbuffer_free(t);
			}
			FZ_ASSERT(proxy_scrub_feed_buffer(s, in, m, out) == 0,
			    "feed_buffer");
			FZ_ASSERT(evbuffer_get_length(in) == 0, "in left");
		}
		FZ_ASSERT(maxlen == 0 || proxy_scrub_held(s) < maxlen,
		    "held %zu of max %zu", proxy_scrub_held(s), maxlen);
	}
	FZ_ASSERT(proxy_scrub_finish(s, out) == 0, "finish");
	FZ_ASSERT(proxy_scrub_held(s) == 0, "held after finish");
	want = reference(body, n, pat, plen, npat, repl, rlen, &nrep);
	FZ_ASSERT(proxy_scrub_contains(s, body, n) == (nrep > 0),
	    "contains says %d, the reference replaced %zu",
	    (int)proxy_scrub_contains(s, body, n), nrep);
	FZ_ASSERT(evbuffer_get_length(out) == evbuffer_get_length(want) &&
	    (evbuffer_get_length(out) == 0 ||
	    memcmp(evbuffer_pullup(out, -1), evbuffer_pullup(want, -1),
	    evbuffer_get_length(out)) == 0), "output differs from the "
	    "reference (%zu vs %zu bytes)", evbuffer_get_length(out),
	    evbuffer_get_length(want));

	evbuffer_free(want);
	evbuffer_free(out);
	evbuffer_free(in);
	proxy_scrub_free(s);
	creds_secret_free(sr);
	for (i = 0; i < npat; i++)
		free(pat[i]);
	free(repl);
	free(body);
	return 0;
}
