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

#endif
