/* FNV-1a string hash for in-memory tables (util/hash.h). */
#include "util/hash.h"

#include <string.h>

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
	uint64_t	h = 0x9e3779b97f4a7c15ull, w;
	size_t		n = strlen(s);

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
