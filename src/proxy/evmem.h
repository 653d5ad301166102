#ifndef KEYHOLE_PROXY_EVMEM_H
#define KEYHOLE_PROXY_EVMEM_H

#include <stddef.h>

/*
 * libevent's memory functions, with its socket-read buffers recycled.
 *
 * Every read of a bufferevent allocates a fresh evbuffer chain for up to
 * 4 KiB, which with its header is an 8 KiB block, and frees it once the
 * bytes are consumed: three such blocks per routed request (client,
 * upstream socket, decrypted TLS).  Blocks that size are beyond malloc's
 * per-thread cache, so each cost a trip through the general allocator.
 * Freed blocks of that size are kept on a short list instead and handed
 * back to the next request for that size; everything else goes straight
 * to malloc, realloc and free.
 *
 * libevent's hooks take no context, so the list is the one piece of
 * file-scope state besides the log level (STYLE.md §2), and libevent is
 * used from one thread only.  Under AddressSanitizer listed blocks are
 * poisoned, so a use after free still reports.
 */

/* Largest number of blocks kept; what is freed beyond it goes to free(). */
#define PROXY_EVMEM_KEEP	16
/* The recycled request size: an evbuffer chain for one 4 KiB read. */
#define PROXY_EVMEM_BLOCK	8192

/* Install the functions; call before anything creates a libevent object. */
void	 proxy_evmem_init(void);

/* The functions themselves, for tests. */
void	*proxy_evmem_malloc(size_t);
void	*proxy_evmem_realloc(void *, size_t);
void	 proxy_evmem_free(void *);
/* Blocks on the list now. */
size_t	 proxy_evmem_kept(void);
/* Free every listed block (tests, and to make a leak checker's view exact). */
void	 proxy_evmem_release(void);

#endif
