/* Hashes and an index for in-memory tables (util/hash.h). */
#include "util/hash.h"

#include <stdlib.h>
#include <string.h>

#include "util/xmalloc.h"

#define HASH_FNV_BASIS	2166136261u
#define HASH_FNV_PRIME	16777619u

uint32_t
hash_str(const char *s, bool fold)
{
	uint32_t	h = HASH_FNV_BASIS;
	unsigned char	c;

	for (; (c = (unsigned char)*s) != '\0'; s++) {
		if (fold && c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		h = (h ^ c) * HASH_FNV_PRIME;
	}
	return h;
}

uint32_t
hash_str_fast(const char *s)
{
	return hash_mem(s, strlen(s));
}

uint32_t
hash_mem(const void *p, size_t n)
{
	const char	*s = p;
	uint64_t	 h = 0x9e3779b97f4a7c15ull, w;

	h ^= n;
	for (; n >= 8; s += 8, n -= 8) {
		memcpy(&w, s, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	w = 0;
	memcpy(&w, s, n);
	h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 29;
	return (uint32_t)h;
}

/* The table for n positions, at most half full: 16 slots or more. */
static void
hash_index_alloc(struct hash_index *x, size_t n)
{
	size_t	slots = 16;

	while (slots < 2 * n)
		slots *= 2;
	x->slot = xcalloc(slots, sizeof(*x->slot));
	x->mask = slots - 1;
}

void
hash_index_init(struct hash_index *x, size_t n)
{
	memset(x, 0, sizeof(*x));
	hash_index_alloc(x, n);
}

size_t
hash_index_slot(const struct hash_index *x, uint32_t h, hash_match_fn *match,
    const void *key, const void *arg)
{
	size_t	i = h & x->mask;

	while (x->slot[i] != 0 && !match(x->slot[i] - 1, key, arg))
		i = (i + 1) & x->mask;
	return i;
}

bool
hash_index_at(const struct hash_index *x, size_t slot, size_t *pos)
{
	if (x->slot[slot] == 0)
		return false;
	*pos = x->slot[slot] - 1;
	return true;
}

void
hash_index_put(struct hash_index *x, size_t slot, size_t pos,
    hash_at_fn *hash_at, const void *arg)
{
	uint32_t	*old = x->slot;
	size_t		 i, j, nold = x->mask + 1;

	x->slot[slot] = (uint32_t)(pos + 1);
	if (2 * ++x->n <= nold)
		return;
	hash_index_alloc(x, x->n);
	for (i = 0; i < nold; i++) {
		if (old[i] == 0)
			continue;
		j = hash_at(old[i] - 1, arg) & x->mask;
		while (x->slot[j] != 0)
			j = (j + 1) & x->mask;
		x->slot[j] = old[i];
	}
	free(old);
}

void
hash_index_free(struct hash_index *x)
{
	free(x->slot);
	memset(x, 0, sizeof(*x));
}
