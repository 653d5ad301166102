#ifndef KEYHOLE_UTIL_HASH_H
#define KEYHOLE_UTIL_HASH_H

#include <stdbool.h>
#include <stdint.h>

/*
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

#endif
