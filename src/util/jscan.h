#ifndef KEYHOLE_UTIL_JSCAN_H
#define KEYHOLE_UTIL_JSCAN_H

#include <stdbool.h>
#include <stddef.h>

/*
 * A cursor over raw JSON text that finds where values are without
 * building them, so that profile/builtin.c parses only the pieces of the
 * embedded policy (data/policy.json) a run needs.  Only for that trusted
 * text: user input is located with jansson itself (profile/load.c).
 * Still total on any bytes: every call either advances or returns -1,
 * and nesting is bounded, so no input makes a loop over it spin.
 */
struct jscan {
	const char	*s;		/* borrowed */
	size_t		 len;
	size_t		 pos;
};

/* Skip JSON whitespace. */
void	 jscan_ws(struct jscan *);
/* At '"': raw contents to start/n, pos past the closing quote. 0 / -1. */
int	 jscan_string(struct jscan *, size_t *start, size_t *n);
/* Skip one value (after whitespace); depth is the nesting so far. */
int	 jscan_value(struct jscan *, int depth);
/* Does the raw JSON string s[0..n) decode to key? */
bool	 jscan_key_equals(const char *s, size_t n, const char *key);

/* One member of an object: its raw name and its value's span. */
typedef int jscan_member_fn(const char *name, size_t namelen,
    size_t start, size_t end, void *arg);
/*
 * Call fn for each member of the object at j, in order; fn returning -1
 * stops the walk.  0, or -1 when the text is not an object or fn failed.
 */
int	 jscan_members(struct jscan *, jscan_member_fn *fn, void *arg);

#endif
