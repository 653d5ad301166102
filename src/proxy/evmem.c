#include "proxy/evmem.h"

#include <malloc.h>
#include <stdlib.h>

#include <event2/event.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define EVMEM_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define EVMEM_ASAN 1
#endif

#ifdef EVMEM_ASAN
#include <sanitizer/asan_interface.h>
#define evmem_poison(p, n)	ASAN_POISON_MEMORY_REGION((p), (n))
#define evmem_unpoison(p, n)	ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define evmem_poison(p, n)	((void)(p), (void)(n))
#define evmem_unpoison(p, n)	((void)(p), (void)(n))
#endif

/* See evmem.h: libevent's hooks carry no context. */
static void	*evmem_list[PROXY_EVMEM_KEEP];
static size_t	 evmem_n;
static size_t	 evmem_usable;	/* malloc_usable_size of a block; 0: unknown */

/* What malloc really gives for a block request, so free can tell one. */
static size_t
evmem_block_usable(void)
{
	void	*p;

	if (evmem_usable == 0 && (p = malloc(PROXY_EVMEM_BLOCK)) != NULL) {
		evmem_usable = malloc_usable_size(p);
		free(p);
	}
	return evmem_usable;
}

void *
proxy_evmem_malloc(size_t n)
{
	void	*p;

	if (n == PROXY_EVMEM_BLOCK && evmem_n > 0) {
		p = evmem_list[--evmem_n];
		evmem_unpoison(p, PROXY_EVMEM_BLOCK);
		return p;
	}
	return malloc(n);
}

void *
proxy_evmem_realloc(void *p, size_t n)
{
	return realloc(p, n);
}

void
proxy_evmem_free(void *p)
{
	if (p == NULL)
		return;
	if (evmem_n < PROXY_EVMEM_KEEP &&
	    malloc_usable_size(p) == evmem_block_usable()) {
		evmem_poison(p, PROXY_EVMEM_BLOCK);
		evmem_list[evmem_n++] = p;
		return;
	}
	free(p);
}

size_t
proxy_evmem_kept(void)
{
	return evmem_n;
}

void
proxy_evmem_release(void)
{
	while (evmem_n > 0) {
		evmem_n--;
		evmem_unpoison(evmem_list[evmem_n], PROXY_EVMEM_BLOCK);
		free(evmem_list[evmem_n]);
	}
}

void
proxy_evmem_init(void)
{
	(void)evmem_block_usable();
	event_set_mem_functions(proxy_evmem_malloc, proxy_evmem_realloc,
	    proxy_evmem_free);
}
