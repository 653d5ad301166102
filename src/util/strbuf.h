#ifndef KEYHOLE_UTIL_STRBUF_H
#define KEYHOLE_UTIL_STRBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

/*
 * A growable, always NUL-terminated byte string (STYLE §9).  Appends take
 * the struct; the pointer inside may move.  Embed it by value and
 * strbuf_free() it; a zeroed struct is an empty string.
 */
struct strbuf {
	char	*s;	/* owned; NULL until the first append */
	size_t	 len;
	size_t	 cap;
	bool	 wipe;	/* secret: growing wipes the old copy */
};

/* Room for n more bytes and the NUL (the slow path of the appends). */
void	 strbuf_grow(struct strbuf *, size_t n);

/* Inline: head writers append a dozen small pieces per request. */
static inline void
strbuf_appendn(struct strbuf *b, const void *p, size_t n)
{
	if (b->len + n + 1 > b->cap)
		strbuf_grow(b, n);
	if (n > 0)
		memcpy(b->s + b->len, p, n);
	b->len += n;
	b->s[b->len] = '\0';
}

void	 strbuf_append(struct strbuf *, const char *);
void	 strbuf_appendc(struct strbuf *, char);
void	 strbuf_appendf(struct strbuf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
/* JSON string literal with quotes, escaping control bytes and non-ASCII
 * bytes that are not valid UTF-8 as \u00XX. */
void	 strbuf_append_json(struct strbuf *, const char *, size_t);
/* Make room for n more bytes without moving the string again. */
void	 strbuf_reserve(struct strbuf *, size_t n);
void	 strbuf_reset(struct strbuf *);
/* The string, "" when empty; borrowed. */
const char *strbuf_str(const struct strbuf *);
/* Hand the string to the caller (never NULL) and reset the buffer. */
char	*strbuf_steal(struct strbuf *);
void	 strbuf_free(struct strbuf *);
/* strbuf_free after wiping the whole capacity. */
void	 strbuf_freezero(struct strbuf *);

#endif
