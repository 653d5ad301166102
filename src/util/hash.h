#ifndef KEYHOLE_UTIL_HASH_H
#define KEYHOLE_UTIL_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Hashes and an index for in-memory tables.
 *
 * FNV-1a of a string, for in-memory tables only (never for anything an
 * attacker could want to collide on purpose: it is not keyed).  fold:
 * ASCII letters hashed lower-case, for names compared with strcasecmp.
 */
uint32_t	hash_str(const char *s, bool fold);

/*
 * A hash of a string read 8 bytes at a time, for in-memory tables of
 * paths (the plan's: ~200 a run, where hash_str's byte loop cost 30k
 * instructions).  Same caveat: not keyed.
 */
uint32_t	hash_str_fast(const char *s);
/* The same over n bytes (hash_str_fast(s) == hash_mem(s, strlen(s))). */
uint32_t	hash_mem(const void *p, size_t n);

/*
 * An index of the elements of an array by key, the array the caller's:
 * open addressing over positions + 1 (0: empty), linear probing, at most
 * half full.  The caller hashes the keys and says through match whether
 * the element at a position has a key; growing rehashes the positions
 * through hash_at.  Made by hash_index_init; hash_index_free frees it.
 */
struct hash_index {
	uint32_t	*slot;
	size_t		 mask;	/* slots - 1 */
	size_t		 n;
};

typedef bool	 hash_match_fn(size_t pos, const void *key, const void *arg);
typedef uint32_t hash_at_fn(size_t pos, const void *arg);

/* Empty, with room for n positions before it grows. */
void	 hash_index_init(struct hash_index *, size_t n);
/* The slot of key (hash h): its element's, or the empty one it takes. */
size_t	 hash_index_slot(const struct hash_index *, uint32_t h,
	    hash_match_fn *, const void *key, const void *arg);
/* Whether slot holds a position, and which. */
bool	 hash_index_at(const struct hash_index *, size_t slot, size_t *pos);
/*
 * Record pos in slot (an empty one hash_index_slot gave: no other put
 * since); the table doubles when it would be over half full.
 */
void	 hash_index_put(struct hash_index *, size_t slot, size_t pos,
	    hash_at_fn *, const void *arg);
void	 hash_index_free(struct hash_index *);

#endif
