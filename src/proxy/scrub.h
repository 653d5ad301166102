#ifndef KEYHOLE_PROXY_SCRUB_H
#define KEYHOLE_PROXY_SCRUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "creds/secret.h"

struct evbuffer;
struct route;

/*
 * Responses never carry the secret back (SPEC §4.6 step 6): a streaming
 * replacer of a few patterns (the secret and the encoded forms keyhole
 * put on the wire) by one replacement (the route's phantom token).
 *
 * Bytes are fed in pieces as they arrive; every occurrence of a pattern
 * in the concatenation of the pieces is replaced, wherever the piece
 * boundaries fall.  Matching is leftmost first, the longest pattern on a
 * tie, and resumes after the replaced bytes (replacements are not
 * scanned again).  Only bytes that may still begin a pattern are held
 * back: at most (longest pattern - 1) of them, the longest suffix of what
 * was fed that is a proper prefix of some pattern; everything before it
 * is handed on at once, so streams (SSE) keep their latency.
 * proxy_scrub_finish() hands on what is held at the end of a stream.
 *
 * The scrubber holds copies of the patterns, the replacement and the
 * held bytes; all are wiped when they are let go and when it is freed.
 */
struct scrub;

/*
 * A scrubber that replaces with repl's bytes (copied); no patterns yet.
 * repl may be empty (the matches are then cut out).
 */
struct scrub	*proxy_scrub_new(const struct secret *repl);
/*
 * Add secret encoded as enc (creds_secret_emit's encodings) as a pattern:
 * an empty one, or one already there, is skipped.  At most SCRUB_MAX_PATS
 * patterns; 0, or -1 when full.
 */
#define SCRUB_MAX_PATS	8
int	 proxy_scrub_add(struct scrub *, const struct secret *,
	    enum secret_enc);
/*
 * The scrubber for a credential route carrying secret (SPEC §4.6 step 6):
 * the raw secret always, plus what the inject mode put on the wire --
 * basic_auth: its base64; url_path and query_param: its percent-encoding
 * (when it differs).  The header mode's format ("Bearer {}") holds the
 * secret raw.  Replaced by phantom.  The caller owns the result.
 */
struct scrub	*proxy_scrub_for_route(const struct route *,
	    const struct secret *secret, const struct secret *phantom);
/*
 * True when s was made for secret and phantom (constant-time compares of
 * the raw pattern and the replacement): a rotated secret needs a new one.
 */
bool	 proxy_scrub_is_for(const struct scrub *, const struct secret *secret,
	    const struct secret *phantom);
/*
 * True when p[0..n) holds a pattern (on its own: nothing held counts).
 * For a quick look at what can be written unchanged when it holds none.
 */
bool	 proxy_scrub_contains(const struct scrub *, const void *p, size_t n);
/*
 * Feed n bytes at p; what can be decided is appended to out (copied).
 * 0, or -1 when out refused bytes (the stream is then broken: reset).
 */
int	 proxy_scrub_feed(struct scrub *, const void *p, size_t n,
	    struct evbuffer *out);
/*
 * The same for the first n bytes of in, which are removed from in:
 * spans without a match move to out without a copy where evbuffer can.
 */
int	 proxy_scrub_feed_buffer(struct scrub *, struct evbuffer *in, size_t n,
	    struct evbuffer *out);
/*
 * The stream ended: append what is held (its own matches replaced) to
 * out.  The scrubber is then ready for a new stream.  0 or -1 as above.
 */
int	 proxy_scrub_finish(struct scrub *, struct evbuffer *out);
/* Forget (wipe) what is held, for a stream given up. */
void	 proxy_scrub_reset(struct scrub *);
/* Bytes held back now (< the longest pattern). */
size_t	 proxy_scrub_held(const struct scrub *);
/* The longest pattern's length (0: none). */
size_t	 proxy_scrub_maxlen(const struct scrub *);
/* Replacements made since the scrubber was made. */
uint64_t proxy_scrub_count(const struct scrub *);
/* Wipe and free; NULL is a no-op. */
void	 proxy_scrub_free(struct scrub *);

#endif
