#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include <event2/buffer.h>

#include "proxy/evmem.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#endif
#ifdef TEST_ASAN
#include <sanitizer/asan_interface.h>
#endif

static int
setup(void **state)
{
	(void)state;
	proxy_evmem_release();
	return 0;
}

/* A freed block is handed back to the next request for a block. */
static void
test_block_is_reused(void **state)
{
	char	*p, *q;

	(void)state;
	p = proxy_evmem_malloc(PROXY_EVMEM_BLOCK);
	assert_non_null(p);
	memset(p, 'x', PROXY_EVMEM_BLOCK);
	proxy_evmem_free(p);
	assert_int_equal(proxy_evmem_kept(), 1);
	q = proxy_evmem_malloc(PROXY_EVMEM_BLOCK);
	assert_ptr_equal(q, p);
	assert_int_equal(proxy_evmem_kept(), 0);
	/* The whole block is usable again (ASan would report otherwise). */
	memset(q, 'y', PROXY_EVMEM_BLOCK);
	proxy_evmem_free(q);
	proxy_evmem_release();
	assert_int_equal(proxy_evmem_kept(), 0);
}

/* Other sizes go to malloc and free: nothing is kept for them. */
static void
test_other_sizes_pass_through(void **state)
{
	char	*small, *big, *p;

	(void)state;
	small = proxy_evmem_malloc(1024);
	big = proxy_evmem_malloc(4 * PROXY_EVMEM_BLOCK);
	assert_non_null(small);
	assert_non_null(big);
	proxy_evmem_free(small);
	proxy_evmem_free(big);
	proxy_evmem_free(NULL);
	assert_int_equal(proxy_evmem_kept(), 0);
	/* A listed block is not handed out for a smaller request. */
	proxy_evmem_free(proxy_evmem_malloc(PROXY_EVMEM_BLOCK));
	assert_int_equal(proxy_evmem_kept(), 1);
	p = proxy_evmem_malloc(PROXY_EVMEM_BLOCK - 1);
	assert_int_equal(proxy_evmem_kept(), 1);
	proxy_evmem_free(p);
	proxy_evmem_release();
}

/* realloc keeps the contents, to and from the block size. */
static void
test_realloc_keeps_contents(void **state)
{
	char	*p;

	(void)state;
	p = proxy_evmem_malloc(16);
	memcpy(p, "0123456789abcde", 16);
	p = proxy_evmem_realloc(p, PROXY_EVMEM_BLOCK);
	assert_string_equal(p, "0123456789abcde");
	p = proxy_evmem_realloc(p, 32);
	assert_string_equal(p, "0123456789abcde");
	proxy_evmem_free(p);
	assert_int_equal(proxy_evmem_kept(), 0);
}

/* At most PROXY_EVMEM_KEEP blocks stay listed; the rest are freed. */
static void
test_list_is_bounded(void **state)
{
	void	*v[PROXY_EVMEM_KEEP + 3];
	size_t	 i;

	(void)state;
	for (i = 0; i < PROXY_EVMEM_KEEP + 3; i++)
		assert_non_null(v[i] = proxy_evmem_malloc(PROXY_EVMEM_BLOCK));
	for (i = 0; i < PROXY_EVMEM_KEEP + 3; i++)
		proxy_evmem_free(v[i]);
	assert_int_equal(proxy_evmem_kept(), PROXY_EVMEM_KEEP);
	proxy_evmem_release();
	assert_int_equal(proxy_evmem_kept(), 0);
}

/* A listed block is poisoned: touching it after free still reports. */
static void
test_listed_block_is_poisoned(void **state)
{
	(void)state;
#ifdef TEST_ASAN
	char	*p;

	p = proxy_evmem_malloc(PROXY_EVMEM_BLOCK);
	assert_int_equal(__asan_address_is_poisoned(p), 0);
	proxy_evmem_free(p);
	assert_int_equal(__asan_address_is_poisoned(p), 1);
	assert_int_equal(__asan_address_is_poisoned(p +
	    PROXY_EVMEM_BLOCK - 1), 1);
	assert_ptr_equal(proxy_evmem_malloc(PROXY_EVMEM_BLOCK), p);
	assert_int_equal(__asan_address_is_poisoned(p), 0);
	assert_int_equal(__asan_address_is_poisoned(p +
	    PROXY_EVMEM_BLOCK - 1), 0);
	proxy_evmem_free(p);
	proxy_evmem_release();
#else
	skip();
#endif
}

/* Installed, it serves libevent: a 4 KiB read buffer is a listed block. */
static void
test_libevent_read_buffers_are_recycled(void **state)
{
	struct evbuffer	*b;

	(void)state;
	proxy_evmem_init();
	assert_non_null(b = evbuffer_new());
	assert_int_equal(evbuffer_expand(b, 4096), 0);
	evbuffer_free(b);
	assert_int_equal(proxy_evmem_kept(), 1);
	assert_non_null(b = evbuffer_new());
	assert_int_equal(evbuffer_expand(b, 4096), 0);
	assert_int_equal(proxy_evmem_kept(), 0);
	assert_int_equal(evbuffer_add(b, "abc", 3), 0);
	evbuffer_free(b);
	proxy_evmem_release();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_block_is_reused, setup),
		cmocka_unit_test_setup(test_other_sizes_pass_through, setup),
		cmocka_unit_test_setup(test_realloc_keeps_contents, setup),
		cmocka_unit_test_setup(test_list_is_bounded, setup),
		cmocka_unit_test_setup(test_listed_block_is_poisoned, setup),
		cmocka_unit_test_setup(test_libevent_read_buffers_are_recycled,
		    setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
