#include "util/strv.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/strbuf.h"
#include "util/xmalloc.h"

/*
 * Slots allocated for a list of n strings and its NULL, when only the
 * functions here grew it: doubling from 8, so that a push reallocates
 * once in a while, not every time (a run builds lists of a hundred paths
 * and more, 10 % of its instructions went to realloc).  Never stored: a
 * list that shrank (sandbox/env.c removes entries) has at least as many.
 */
static size_t
strv_slots(size_t n)
{
	size_t	slots = 8;

	while (slots < n + 1)
		slots *= 2;
	return slots;
}

void
strv_push_owned(struct strv *sv, char *s)
{
	if (sv->v == NULL || strv_slots(sv->n + 1) > strv_slots(sv->n))
		sv->v = xreallocarray(sv->v, strv_slots(sv->n + 1),
		    sizeof(*sv->v));
	sv->v[sv->n++] = s;
	sv->v[sv->n] = NULL;
}

void
strv_push(struct strv *sv, const char *s)
{
	strv_push_owned(sv, xstrdup(s));
}

void
strv_push_unique(struct strv *sv, const char *s)
{
	if (!strv_contains(sv, s))
		strv_push(sv, s);
}

bool
strv_contains(const struct strv *sv, const char *s)
{
	size_t	i;

	for (i = 0; i < sv->n; i++)
		if (strcmp(sv->v[i], s) == 0)
			return true;
	return false;
}

bool
strv_contains_icase(const struct strv *sv, const char *s)
{
	size_t	i;

	for (i = 0; i < sv->n; i++)
		if (strcasecmp(sv->v[i], s) == 0)
			return true;
	return false;
}

void
strv_merge(struct strv *dst, const struct strv *src)
{
	size_t	i;

	for (i = 0; i < src->n; i++)
		strv_push_unique(dst, src->v[i]);
}

void
strv_split_push(struct strv *sv, const char *s, char sep)
{
	const char	*p;

	while (*s != '\0') {
		p = strchr(s, sep);
		if (p == NULL)
			p = s + strlen(s);
		if (p > s)
			strv_push_owned(sv, xstrndup(s, (size_t)(p - s)));
		if (*p == '\0')
			break;
		s = p + 1;
	}
}

char *
strv_join(const struct strv *sv, const char *sep)
{
	struct strbuf	b = { 0 };
	size_t		i;

	for (i = 0; i < sv->n; i++) {
		if (i > 0)
			strbuf_append(&b, sep);
		strbuf_append(&b, sv->v[i]);
	}
	return strbuf_steal(&b);
}

void
strv_copy(struct strv *dst, const struct strv *src)
{
	size_t	i;

	for (i = 0; i < src->n; i++)
		strv_push(dst, src->v[i]);
}

void
strv_free(struct strv *sv)
{
	size_t	i;

	for (i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->n = 0;
}
