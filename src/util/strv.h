#ifndef KEYHOLE_UTIL_STRV_H
#define KEYHOLE_UTIL_STRV_H

#include <stdbool.h>
#include <stddef.h>

#include "util/hash.h"

/*
 * A list of owned strings, NULL-terminated so it can be handed to execve.
 * Embed by value; a zeroed struct is empty.
 */
struct strv {
	char	**v;	/* owned, and each string; v[n] == NULL */
	size_t	  n;
};

/* Append a copy of s. */
void	 strv_push(struct strv *, const char *);
/* Append s itself; the list takes ownership. */
void	 strv_push_owned(struct strv *, char *);
/* Append a copy unless an equal string is already there. */
void	 strv_push_unique(struct strv *, const char *);
bool	 strv_contains(const struct strv *, const char *);
/* Case-insensitive variant of strv_contains. */
bool	 strv_contains_icase(const struct strv *, const char *);
/* Append copies of every item of src not already in dst (dedup-append). */
void	 strv_merge(struct strv *, const struct strv *);
/* Split s on sep and push each non-empty piece. */
void	 strv_split_push(struct strv *, const char *, char sep);
/* Join with sep; the caller owns the result. */
char	*strv_join(const struct strv *, const char *sep);
void	 strv_copy(struct strv *dst, const struct strv *src);

/*
 * The strings of one list, found by hash: strv_push_unique and
 * strv_merge without a scan of the list per string, for lists that grow
 * to hundreds.  Strings are borrowed from the list, which may grow (not
 * shrink) while the set is used.  Made by strv_set_init; zeroed, it may
 * only be freed.
 */
struct strv_set {
	struct hash_index	x;	/* positions in the list */
};

/* Index the strings of sv (repeats once), with room for more. */
void	 strv_set_init(struct strv_set *, const struct strv *, size_t more);
/* strv_push_unique(sv, s) where set indexes sv: true if pushed. */
bool	 strv_set_push_unique(struct strv_set *, struct strv *, const char *);
/* The same with s itself, which the list takes or which is freed. */
bool	 strv_set_push_unique_owned(struct strv_set *, struct strv *, char *);
void	 strv_set_free(struct strv_set *);
void	 strv_free(struct strv *);

#endif
