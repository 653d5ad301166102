#include "util/strv.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/hash.h"
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

/*
 * Lists this short are merged by scanning: a table costs more (the
 * default profile's groups: 19 into 0, several times a run).
 */
#define STRV_MERGE_SCAN	64

void
strv_merge(struct strv *dst, const struct strv *src)
{
	struct strv_set	set;
	size_t		i;

	if (dst->n * src->n <= STRV_MERGE_SCAN) {
		for (i = 0; i < src->n; i++)
			strv_push_unique(dst, src->v[i]);
		return;
	}
	strv_set_init(&set, dst, src->n);
	for (i = 0; i < src->n; i++)
		(void)strv_set_push_unique(&set, dst, src->v[i]);
	strv_set_free(&set);
}

/* hash_index callbacks: the strings of the list the set indexes. */
static bool
strv_set_match(size_t pos, const void *key, const void *arg)
{
	const struct strv	*sv = arg;

	return strcmp(sv->v[pos], key) == 0;
}

static uint32_t
strv_set_hash_at(size_t pos, const void *arg)
{
	const struct strv	*sv = arg;

	return hash_str_fast(sv->v[pos]);
}

/* Index the string at pos unless an equal one is: true if indexed. */
static bool
strv_set_add(struct strv_set *set, const struct strv *sv, size_t pos)
{
	size_t	slot, at;

	slot = hash_index_slot(&set->x, hash_str_fast(sv->v[pos]),
	    strv_set_match, sv->v[pos], sv);
	if (hash_index_at(&set->x, slot, &at))
		return false;
	hash_index_put(&set->x, slot, pos, strv_set_hash_at, sv);
	return true;
}

void
strv_set_init(struct strv_set *set, const struct strv *sv, size_t more)
{
	size_t	i;

	hash_index_init(&set->x, sv->n + more);
	for (i = 0; i < sv->n; i++)
		(void)strv_set_add(set, sv, i);
}

/*
 * Push s unless set has it: true if pushed.  own: s itself, owned (the
 * list takes it, or it is freed); NULL: push a copy.
 */
static bool
strv_set_push(struct strv_set *set, struct strv *sv, const char *s,
    char *own)
{
	size_t	slot, at;

	slot = hash_index_slot(&set->x, hash_str_fast(s), strv_set_match, s,
	    sv);
	if (hash_index_at(&set->x, slot, &at)) {
		free(own);
		return false;
	}
	strv_push_owned(sv, own != NULL ? own : xstrdup(s));
	hash_index_put(&set->x, slot, sv->n - 1, strv_set_hash_at, sv);
	return true;
}

bool
strv_set_push_unique(struct strv_set *set, struct strv *sv, const char *s)
{
	return strv_set_push(set, sv, s, NULL);
}

bool
strv_set_push_unique_owned(struct strv_set *set, struct strv *sv, char *s)
{
	return strv_set_push(set, sv, s, s);
}

void
strv_set_free(struct strv_set *set)
{
	hash_index_free(&set->x);
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
