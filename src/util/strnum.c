#include "util/strnum.h"

#include <string.h>

int
strnum_parse(const char *s, size_t len, uint64_t min, uint64_t max,
    uint64_t *out)
{
	uint64_t	v = 0;
	size_t		i;

	if (len == 0 || len > 20)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
strnum_parse_str(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	return strnum_parse(s, strlen(s), min, max, out);
}

int
strnum_port(const char *s, size_t len, uint16_t *out)
{
	uint64_t	v;

	if (strnum_parse(s, len, 1, 65535, &v) == -1)
		return -1;
	*out = (uint16_t)v;
	return 0;
}
