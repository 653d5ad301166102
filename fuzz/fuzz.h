/*
 * Shared helpers for keyhole's libFuzzer targets (fuzz/README.md).
 *
 * Text targets read their input as '\n'-separated fields so the seed
 * corpora stay readable; fields are copied into exact-size heap buffers so
 * ASan sees any read past the end.  A broken invariant aborts through
 * FZ_ASSERT with a message, which libFuzzer records as a crash.
 */
#ifndef KEYHOLE_FUZZ_FUZZ_H
#define KEYHOLE_FUZZ_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

#define FZ_ASSERT(cond, ...) do {					\
	if (!(cond)) {							\
		fprintf(stderr, "fuzz invariant failed: %s:%d: %s: ",	\
		    __FILE__, __LINE__, #cond);				\
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
		abort();						\
	}								\
} while (0)

/* A cursor over the fuzzer's input. */
struct fz {
	const uint8_t	*p;
	size_t		 n;
};

/* Next byte, 0 when the input is used up. */
static inline uint8_t
fz_byte(struct fz *f)
{
	uint8_t	c;

	if (f->n == 0)
		return 0;
	c = *f->p;
	f->p++;
	f->n--;
	return c;
}

/* True while input is left. */
static inline bool
fz_more(const struct fz *f)
{
	return f->n > 0;
}

/*
 * The next field: bytes up to sep (consumed, not included) or the end, as
 * an owned NUL-terminated copy (an embedded NUL just shortens the C
 * string).  *lenp, if not NULL, gets the field's byte length.
 */
static inline char *
fz_field(struct fz *f, char sep, size_t *lenp)
{
	const uint8_t	*e = memchr(f->p, sep, f->n);
	size_t		 len = e != NULL ? (size_t)(e - f->p) : f->n;
	char		*s = malloc(len + 1);

	if (s == NULL)
		abort();
	if (len > 0)
		memcpy(s, f->p, len);
	s[len] = '\0';
	f->p += len;
	f->n -= len;
	if (e != NULL) {
		f->p++;
		f->n--;
	}
	if (lenp != NULL)
		*lenp = len;
	return s;
}

/* The rest of the input as an owned copy of exactly n bytes (no NUL). */
static inline char *
fz_rest(struct fz *f, size_t *lenp)
{
	char	*s = malloc(f->n == 0 ? 1 : f->n);

	if (s == NULL)
		abort();
	if (f->n > 0)
		memcpy(s, f->p, f->n);
	*lenp = f->n;
	f->p += f->n;
	f->n = 0;
	return s;
}

/* Messages from the code under test are noise here. */
static inline void
fz_quiet(void)
{
	log_set_level(LOG_SILENT);
}

#endif
