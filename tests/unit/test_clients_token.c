#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include <openssl/evp.h>

#include "creds/secret.h"
#include "proxy/auth.h"
#include "util/xmalloc.h"

#define TOKEN	"client-token-0123456789abcdef0123456789"

static void
digest(const char *s, unsigned char md[32])
{
	unsigned int	n = 0;

	assert_int_equal(EVP_Digest(s, strlen(s), md, &n, EVP_sha256(),
	    NULL), 1);
	assert_int_equal(n, 32);
}

static void
test_sha256_secret_equals_only_its_preimage(void **state)
{
	unsigned char	 md[32];
	struct secret	*s;

	(void)state;
	digest(TOKEN, md);
	s = creds_secret_new_sha256(md);
	assert_true(creds_secret_is_sha256(s));
	assert_true(creds_secret_equal(s, TOKEN, strlen(TOKEN)));
	assert_false(creds_secret_equal(s, TOKEN, strlen(TOKEN) - 1));
	assert_false(creds_secret_equal(s, "client-token-0123456789abcdef"
	    "012345678X", strlen(TOKEN)));
	/* The digest itself is not the token. */
	assert_false(creds_secret_equal(s, md, sizeof(md)));
	creds_secret_free(s);
}

static void
test_sha256_secrets_compare_by_digest(void **state)
{
	unsigned char	 md[32];
	struct secret	*a, *b, *plain;

	(void)state;
	digest(TOKEN, md);
	a = creds_secret_new_sha256(md);
	b = creds_secret_new_sha256(md);
	plain = creds_secret_new(TOKEN, strlen(TOKEN));
	assert_true(creds_secret_equal_secret(a, b));
	/* A plain secret is matched by the hashed one. */
	assert_true(creds_secret_equal_secret(a, plain));
	assert_false(creds_secret_is_sha256(plain));
	creds_secret_free(a);
	creds_secret_free(b);
	creds_secret_free(plain);
}

static void
test_auth_digest_of_bearer_and_basic_password(void **state)
{
	unsigned char	want[32], got[32];
	char		basic[512];
	unsigned char	enc[256];
	const char	*up = "anyone:" TOKEN;

	(void)state;
	digest(TOKEN, want);
	assert_true(proxy_auth_digest("Bearer " TOKEN, strlen("Bearer "
	    TOKEN), got));
	assert_memory_equal(got, want, 32);
	EVP_EncodeBlock(enc, (const unsigned char *)up, (int)strlen(up));
	snprintf(basic, sizeof(basic), "basic %s", enc);
	memset(got, 0, sizeof(got));
	assert_true(proxy_auth_digest(basic, strlen(basic), got));
	assert_memory_equal(got, want, 32);
}

static void
test_auth_digest_refuses_what_holds_no_token(void **state)
{
	unsigned char	md[32];

	(void)state;
	assert_false(proxy_auth_digest("Bearer", 6, md));
	assert_false(proxy_auth_digest("Digest abc", 10, md));
	assert_false(proxy_auth_digest("Basic !!!!", 10, md));
	assert_false(proxy_auth_digest("Basic YWJj", 10, md)); /* no ':' */
	assert_false(proxy_auth_digest(NULL, 0, md));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256_secret_equals_only_its_preimage),
		cmocka_unit_test(test_sha256_secrets_compare_by_digest),
		cmocka_unit_test(test_auth_digest_of_bearer_and_basic_password),
		cmocka_unit_test(test_auth_digest_refuses_what_holds_no_token),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
