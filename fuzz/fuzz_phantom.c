/*
 * The phantom recogniser of interception (proxy_auth_has_phantom).
 *
 * Input: one byte giving the phantom length (mod 65), the phantom, then
 * an Authorization value (length-carrying, in an exact-size buffer).
 *
 * Invariants: whatever proxy authentication accepts for a token (Bearer,
 * Basic password) the recogniser accepts for the same phantom; the
 * scheme's case never changes the answer; for a phantom of visible bytes
 * without ':' the raw value, "Bearer T", "token T" and Basic with T as
 * user or password are recognised, and "Bearer Tx" is not.
 */
#include <ctype.h>
#include <strings.h>

#include <openssl/evp.h>

#include "creds/secret.h"
#include "fuzz.h"
#include "proxy/auth.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Recognise in value (exactly n bytes on the heap). */
static bool
has(const struct secret *ph, const char *v, size_t n)
{
	char	*b = malloc(n == 0 ? 1 : n);
	bool	 ok;

	if (b == NULL)
		abort();
	memcpy(b, v, n);
	ok = proxy_auth_has_phantom(ph, b, n);
	free(b);
	return ok;
}

/* "Basic base64(pre T post)" recognised? */
static bool
basic(const struct secret *ph, const char *pre, const char *t, size_t tl,
    const char *post)
{
	char		plain[160], v[300];
	unsigned char	b64[240];
	int		n;

	n = snprintf(plain, sizeof(plain), "%s%.*s%s", pre, (int)tl, t, post);
	EVP_EncodeBlock(b64, (unsigned char *)plain, n);
	n = snprintf(v, sizeof(v), "Basic %s", b64);
	return has(ph, v, (size_t)n);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_quiet();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz	 f = { data, size };
	struct secret	*ph;
	char		 t[64] = { 0 }, v[200], *val;
	size_t		 tl, i, n, vl;
	bool		 plain = true, ok, auth;

	tl = fz_byte(&f) % 65;
	if (tl > f.n)
		tl = f.n;
	memcpy(t, f.p, tl);
	f.p += tl;
	f.n -= tl;
	ph = creds_secret_new(t, tl);
	for (i = 0; i < tl; i++)
		if ((unsigned char)t[i] <= 0x20 || (unsigned char)t[i] >= 0x7f ||
		    t[i] == ':')
			plain = false;

	val = fz_rest(&f, &vl);
	ok = has(ph, val, vl);
	auth = proxy_auth_check(ph, val, vl);
	FZ_ASSERT(!auth || ok, "proxy auth accepts what the recogniser "
	    "does not");
	for (i = 0; i < vl && (val[i] == ' ' || val[i] == '\t'); i++)
		;
	/*
	 * Flip a scheme's case (a phantom of visible bytes cannot equal a
	 * value with blanks inside, so the raw compare is not involved).
	 */
	if (plain && vl - i > 6 && (strncasecmp(val + i, "Bearer ", 7) == 0 ||
	    strncasecmp(val + i, "Basic ", 6) == 0 ||
	    strncasecmp(val + i, "token ", 6) == 0)) {
		for (; i < vl && val[i] != ' ' && val[i] != '\t'; i++)
			if (isalpha((unsigned char)val[i]))
				val[i] ^= 0x20;
		FZ_ASSERT(has(ph, val, vl) == ok, "scheme case changes the "
		    "answer");
	}
	free(val);

	if (plain && tl > 0) {
		FZ_ASSERT(has(ph, t, tl), "raw phantom refused");
		n = (size_t)snprintf(v, sizeof(v), "bEaReR %.*s", (int)tl, t);
		FZ_ASSERT(has(ph, v, n), "Bearer refused");
		n = (size_t)snprintf(v, sizeof(v), "Token %.*s", (int)tl, t);
		FZ_ASSERT(has(ph, v, n), "token refused");
		FZ_ASSERT(basic(ph, "x-access-token:", t, tl, ""),
		    "Basic password refused");
		FZ_ASSERT(basic(ph, "", t, tl, ":x-oauth-basic"),
		    "Basic user refused");
		n = (size_t)snprintf(v, sizeof(v), "Bearer %.*sx", (int)tl, t);
		FZ_ASSERT(!has(ph, v, n), "longer phantom accepted");
		FZ_ASSERT(!basic(ph, "u", t, tl, ":"), "user prefix accepted");
	}
	creds_secret_free(ph);
	return 0;
}
