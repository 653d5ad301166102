#include "util/ports.h"

#include <stdlib.h>
#include <string.h>

#include "util/xmalloc.h"

void
ports_add(struct ports *p, uint16_t port)
{
	size_t	i;

	for (i = 0; i < p->n && p->v[i] < port; i++)
		;
	if (i < p->n && p->v[i] == port)
		return;
	p->v = xreallocarray(p->v, p->n + 1, sizeof(*p->v));
	memmove(p->v + i + 1, p->v + i, (p->n - i) * sizeof(*p->v));
	p->v[i] = port;
	p->n++;
}

bool
ports_has(const struct ports *p, uint16_t port)
{
	size_t	i;

	for (i = 0; i < p->n; i++)
		if (p->v[i] == port)
			return true;
	return false;
}

void
ports_merge(struct ports *dst, const struct ports *src)
{
	size_t	i;

	for (i = 0; i < src->n; i++)
		ports_add(dst, src->v[i]);
}

void
ports_free(struct ports *p)
{
	free(p->v);
	p->v = NULL;
	p->n = 0;
}
