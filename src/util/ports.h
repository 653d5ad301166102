#ifndef KEYHOLE_UTIL_PORTS_H
#define KEYHOLE_UTIL_PORTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A small set of TCP ports, kept sorted and without duplicates. */
struct ports {
	uint16_t	*v;	/* owned */
	size_t		 n;
};

void	 ports_add(struct ports *, uint16_t);
bool	 ports_has(const struct ports *, uint16_t);
void	 ports_merge(struct ports *, const struct ports *);
void	 ports_free(struct ports *);

#endif
