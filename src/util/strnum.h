#ifndef KEYHOLE_UTIL_STRNUM_H
#define KEYHOLE_UTIL_STRNUM_H

#include <stddef.h>
#include <stdint.h>

/*
 * The one strict number parser (STYLE §8): decimal digits only -- no sign,
 * space, "0x" or empty string -- and min <= value <= max.
 * 0 on success with *out set; -1 otherwise (*out untouched).
 */
int	 strnum_parse(const char *, size_t len, uint64_t min, uint64_t max,
	    uint64_t *out);
/* strnum_parse over a NUL-terminated string. */
int	 strnum_parse_str(const char *, uint64_t min, uint64_t max,
	    uint64_t *out);
/* A TCP port 1..65535 (0 refused) or -1. */
int	 strnum_port(const char *, size_t len, uint16_t *out);

#endif
