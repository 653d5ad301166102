#ifndef KEYHOLE_CREDS_SECRET_H
#define KEYHOLE_CREDS_SECRET_H

#include <stdbool.h>
#include <stddef.h>

#include "util/errbuf.h"

struct evbuffer;
struct strbuf;

/*
 * A secret cannot be had as a C string (STYLE §5): it can be compared in
 * constant time, appended into an outgoing buffer, and freed (wiped).
 * Real credentials, phantom tokens and the proxy token are all secrets.
 */
struct secret;

enum secret_enc {
	SECRET_RAW = 0,
	SECRET_BASE64,		/* standard alphabet, padded */
	SECRET_PCT,		/* percent-encode all but A-Za-z0-9-._~ */
};

/* A copy of len bytes.  The caller should wipe its own copy. */
struct secret *creds_secret_new(const void *, size_t);
/* nbytes random bytes from getrandom, as 2*nbytes lower-case hex. */
struct secret *creds_secret_random_hex(size_t nbytes, struct errbuf *e);
/* prefix then nchars random [A-Za-z0-9] (a phantom shaped like a key). */
struct secret *creds_secret_random_token(const char *prefix, size_t nchars,
	    struct errbuf *e);
/*
 * A secret known only by its SHA-256 (--clients "sha256:HEX"): equality
 * hashes the candidate and compares the digests in constant time.  It
 * cannot be emitted (its bytes are the digest).
 */
/* A copy of s (wiped on free like any secret). */
struct secret *creds_secret_dup(const struct secret *);
struct secret *creds_secret_new_sha256(const unsigned char digest[32]);
bool	 creds_secret_is_sha256(const struct secret *);
size_t	 creds_secret_len(const struct secret *);
/* Constant-time equality with len bytes (lengths compared first). */
bool	 creds_secret_equal(const struct secret *, const void *, size_t);
bool	 creds_secret_equal_secret(const struct secret *,
	    const struct secret *);
/*
 * The same, not in constant time: only for comparing with a copy of our
 * own secret (a cache's key), never with bytes from the wire.
 */
bool	 creds_secret_same(const struct secret *, const void *, size_t);
/*
 * Append format with each "{}" replaced by the secret (encoded as enc);
 * format NULL means "{}".  0, or -1 if the evbuffer refused.
 */
int	 creds_secret_emit(const struct secret *, struct evbuffer *,
	    const char *format, enum secret_enc enc);
/* The same into a strbuf (for the child's environment block). */
void	 creds_secret_emit_strbuf(const struct secret *, struct strbuf *,
	    const char *format, enum secret_enc enc);
/*
 * Lend the secret, encoded as enc exactly as creds_secret_emit() puts it
 * on the wire, to fn for the length of the call.  For a holder that must
 * compare wire bytes with it (the response scrubber, proxy/scrub.c): fn
 * copies what it needs into memory it wipes.  The lent copy is wiped when
 * fn returns.
 */
void	 creds_secret_lend(const struct secret *, enum secret_enc,
	    void (*fn)(void *arg, const void *, size_t), void *arg);
/* Wipe and free; NULL is a no-op. */
void	 creds_secret_free(struct secret *);

#endif
