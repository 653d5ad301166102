/* FNV-1a string hash for in-memory tables (util/hash.h). */
#include "util/hash.h"

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
