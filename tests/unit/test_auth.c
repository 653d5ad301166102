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

#define TOKEN	"0123456789abcdef0123456789abcdef" \
		"0123456789abcdef0123456789abcdef"

static int
setup(void **state)
{
	*state = creds_secret_new(TOKEN, strlen(TOKEN));
	return 0;
}

static int
teardown(void **state)
{
	creds_secret_free(*state);
	return 0;
}

static bool
check(void **state, const char *value)
{
	return proxy_auth_check(*state, value, strlen(value));
}

/* "Basic " + base64(userpass), owned. */
static char *
basic(const char *scheme, const char *userpass)
{
	size_t		 n = strlen(userpass);
	unsigned char	*b64 = xmalloc(n / 3 * 4 + 5);
	char		*v;

	EVP_EncodeBlock(b64, (const unsigned char *)userpass, (int)n);
	v = xasprintf("%s %s", scheme, b64);
	free(b64);
	return v;
}

static bool
check_basic(void **state, const char *userpass)
{
	char	*v = basic("Basic", userpass);
	bool	 ok = check(state, v);

	free(v);
	return ok;
}

/* token.rs 8 */
static void
test_auth_accepts_bearer(void **state)
{
	assert_true(check(state, "Bearer " TOKEN));
}

/* token.rs 9 */
static void
test_auth_scheme_is_case_insensitive(void **state)
{
	char	*v;

	assert_true(check(state, "BEARER " TOKEN));
	assert_true(check(state, "bearer " TOKEN));
	v = basic("bAsIc", "keyhole:" TOKEN);
	assert_true(check(state, v));
	free(v);
}

/* token.rs 10 */
static void
test_auth_rejects_wrong_bearer(void **state)
{
	assert_false(check(state, "Bearer wrong"));
	assert_false(check(state, "Bearer " TOKEN "0"));
	assert_false(check(state, "Bearer 0123456789ABCDEF0123456789abcdef"
	    "0123456789abcdef0123456789abcdef"));
}

/* token.rs 11 */
static void
test_auth_accepts_basic(void **state)
{
	assert_true(check_basic(state, "keyhole:" TOKEN));
	assert_true(check_basic(state, "nono:" TOKEN));
}

/* token.rs 12 */
static void
test_auth_rejects_basic_wrong_password(void **state)
{
	assert_false(check_basic(state, "keyhole:wrong"));
	assert_false(check_basic(state, "keyhole:"));
	assert_false(check_basic(state, TOKEN ":x"));
}

/* token.rs 13 */
static void
test_auth_basic_ignores_user(void **state)
{
	assert_true(check_basic(state, "whatever:" TOKEN));
	assert_true(check_basic(state, ":" TOKEN));
	assert_true(check_basic(state, "a user with spaces:" TOKEN));
}

static void
test_auth_basic_password_after_first_colon(void **state)
{
	struct secret	*t = creds_secret_new("pa:ss:word", 10);
	char		*v = basic("Basic", "user:pa:ss:word");

	(void)state;
	assert_true(proxy_auth_check(t, v, strlen(v)));
	free(v);
	v = basic("Basic", "user:pa:ss");
	assert_false(proxy_auth_check(t, v, strlen(v)));
	free(v);
	creds_secret_free(t);
}

static void
test_auth_basic_without_colon_is_rejected(void **state)
{
	assert_false(check_basic(state, TOKEN));
}

/* token.rs 14 */
static void
test_auth_rejects_empty_and_garbage(void **state)
{
	assert_false(check(state, ""));
	assert_false(check(state, "   "));
	assert_false(check(state, "Bearer"));
	assert_false(check(state, "Bearer "));
	assert_false(check(state, "Basic"));
	assert_false(check(state, "Basic "));
	assert_false(check(state, TOKEN));
	assert_false(check(state, "Digest " TOKEN));
	assert_false(check(state, "Bearer: " TOKEN));
	assert_false(check(state, "Bearer" TOKEN));
	assert_false(check(state, "Token " TOKEN));
	assert_false(proxy_auth_check(*state, NULL, 0));
	assert_false(proxy_auth_check(NULL, "Bearer x", 8));
}

static void
test_auth_trims_surrounding_whitespace(void **state)
{
	char	*v;

	assert_true(check(state, "  Bearer \t " TOKEN " \t"));
	v = basic("\tBasic ", "keyhole:" TOKEN);
	assert_true(check(state, v));
	free(v);
}

static void
test_auth_rejects_whitespace_inside_credential(void **state)
{
	assert_false(check(state, "Bearer 0123456789abcdef0123456789abcdef "
	    "0123456789abcdef0123456789abcdef"));
}

static void
test_auth_rejects_whitespace_inside_basic(void **state)
{
	char	*v = basic("Basic", "k:" TOKEN);
	char	*w;

	assert_true(check(state, v));
	/* the same base64 split in two by a space */
	w = xasprintf("%.20s %s", v, v + 20);
	assert_false(check(state, w));
	free(w);
	w = xasprintf("%.20s\r\n%s", v, v + 20);
	assert_false(check(state, w));
	free(w);
	free(v);
}

static void
test_auth_rejects_bytes_after_token(void **state)
{
	static const char v[] = "Bearer " TOKEN "\0x";

	assert_false(proxy_auth_check(*state, v, sizeof(v) - 1));
	assert_true(proxy_auth_check(*state, v, strlen(v)));
}

static void
test_auth_basic_requires_canonical_padding(void **state)
{
	struct secret	*t = creds_secret_new("a", 1);

	(void)state;
	assert_true(proxy_auth_check(t, "Basic OmE=", 10));	/* ":a" */
	assert_false(proxy_auth_check(t, "Basic OmE", 9));	/* no pad */
	assert_false(proxy_auth_check(t, "Basic OmE==", 11));	/* extra */
	assert_false(proxy_auth_check(t, "Basic OmF=", 10));	/* bits */
	assert_false(proxy_auth_check(t, "Basic Om=E", 10));	/* inside */
	assert_false(proxy_auth_check(t, "Basic =OmE", 10));
	creds_secret_free(t);
}

static void
test_auth_basic_rejects_two_byte_pad_with_stray_bits(void **state)
{
	struct secret	*t = creds_secret_new("", 0);

	(void)state;
	/* ":" is "Og==" ; "Oh==" decodes to ":" in lax decoders */
	assert_true(proxy_auth_check(t, "Basic Og==", 10));
	assert_false(proxy_auth_check(t, "Basic Oh==", 10));
	assert_false(proxy_auth_check(t, "Basic Og=", 9));
	assert_false(proxy_auth_check(t, "Basic O===", 10));
	assert_false(proxy_auth_check(t, "Basic ====", 10));
	creds_secret_free(t);
}

static void
test_auth_basic_rejects_url_safe_alphabet(void **state)
{
	struct secret	*t = creds_secret_new("\xfb\xff", 2);

	(void)state;
	/* ":\xfb\xff" = "Ovv/" */
	assert_true(proxy_auth_check(t, "Basic Ovv/", 10));
	assert_false(proxy_auth_check(t, "Basic Ovv_", 10));
	assert_false(proxy_auth_check(t, "Basic Ovv-", 10));
	creds_secret_free(t);
}

static void
test_auth_basic_rejects_non_base64(void **state)
{
	assert_false(check(state, "Basic !!!!"));
	assert_false(check(state, "Basic keyhole:" TOKEN));
	assert_false(check(state, "Basic abc"));
}

static void
test_auth_rejects_overlong_basic(void **state)
{
	char	*big = xmalloc(9000);
	char	*v;

	memset(big, 'a', 8999);
	big[0] = ':';
	big[8999] = '\0';
	v = basic("Basic", big);
	assert_false(check(state, v));
	free(v);
	free(big);
}


static bool
phantom(void **state, const char *value)
{
	return proxy_auth_has_phantom(*state, value, strlen(value));
}

static bool
phantom_basic(void **state, const char *userpass)
{
	char	*v = basic("Basic", userpass);
	bool	 ok = phantom(state, v);

	free(v);
	return ok;
}

static void
test_phantom_found_raw_bearer_and_token(void **state)
{
	assert_true(phantom(state, TOKEN));
	assert_true(phantom(state, "  " TOKEN "\t"));
	assert_true(phantom(state, "Bearer " TOKEN));
	assert_true(phantom(state, "bearer  " TOKEN));
	assert_true(phantom(state, "token " TOKEN));
	assert_true(phantom(state, "TOKEN " TOKEN));
	assert_false(phantom(state, "Bearer x" TOKEN));
	assert_false(phantom(state, "Digest " TOKEN));
	assert_false(phantom(state, "token"));
	assert_false(phantom(state, ""));
}

static void
test_phantom_found_in_basic_either_position(void **state)
{
	assert_true(phantom_basic(state, "x-access-token:" TOKEN));
	assert_true(phantom_basic(state, TOKEN ":x-oauth-basic"));
	assert_true(phantom_basic(state, "oauth2:" TOKEN));
	assert_true(phantom_basic(state, TOKEN ":"));
	assert_false(phantom_basic(state, "x-access-token:" TOKEN "x"));
	assert_false(phantom_basic(state, "u" TOKEN ":x"));
	assert_false(phantom_basic(state, TOKEN));	/* no colon */
	/* Proxy auth keeps looking at the password only. */
	assert_false(check_basic(state, TOKEN ":x-oauth-basic"));
}

static void
test_phantom_basic_is_strict_base64(void **state)
{
	char	*v = basic("Basic", "x-access-token:" TOKEN);
	size_t	 n = strlen(v);

	/* Drop the padding: no longer canonical, not recognised. */
	while (v[n - 1] == '=')
		v[--n] = '\0';
	assert_false(phantom(state, v));
	free(v);
}

int
main(void)
{
#define T(f)	cmocka_unit_test(f)
	const struct CMUnitTest tests[] = {
		T(test_auth_accepts_bearer),
		T(test_auth_scheme_is_case_insensitive),
		T(test_auth_rejects_wrong_bearer),
		T(test_auth_accepts_basic),
		T(test_auth_rejects_basic_wrong_password),
		T(test_auth_basic_ignores_user),
		T(test_auth_basic_password_after_first_colon),
		T(test_auth_basic_without_colon_is_rejected),
		T(test_auth_rejects_empty_and_garbage),
		T(test_auth_trims_surrounding_whitespace),
		T(test_auth_rejects_whitespace_inside_credential),
		T(test_auth_rejects_whitespace_inside_basic),
		T(test_auth_rejects_bytes_after_token),
		T(test_auth_basic_requires_canonical_padding),
		T(test_auth_basic_rejects_two_byte_pad_with_stray_bits),
		T(test_auth_basic_rejects_url_safe_alphabet),
		T(test_auth_basic_rejects_non_base64),
		T(test_auth_rejects_overlong_basic),
		T(test_phantom_found_raw_bearer_and_token),
		T(test_phantom_found_in_basic_either_position),
		T(test_phantom_basic_is_strict_base64),
	};
#undef T

	return cmocka_run_group_tests(tests, setup, teardown);
}
