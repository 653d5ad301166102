/*
 * Proxy-Authorization (proxy/auth.h).
 *
 * Input: one byte giving the token length (mod 65), the token, then the
 * header value (length-carrying, in an exact-size buffer).
 *
 * Invariants: "Bearer TOKEN" and "Basic base64(user:TOKEN)" (any scheme
 * case, surrounding blanks) are accepted for any token of visible bytes;
 * a value that is accepted still is with its scheme's case flipped; a
 * non-canonical base64 spelling ("YR==" for "YQ==") is never needed.
 */
#include <ctype.h>

#include <openssl/evp.h>

#include "creds/secret.h"
#include "fuzz.h"
#include "proxy/auth.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Check value (exactly n bytes on the heap) against tok. */
static bool
check(const struct secret *tok, const char *v, size_t n)
{
	char	*b = malloc(n == 0 ? 1 : n);
	bool	 ok;

	if (b == NULL)
		abort();
	memcpy(b, v, n);
	ok = proxy_auth_check(tok, b, n);
	free(b);
	return ok;
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
	struct secret	*tok;
	char		 t[64] = { 0 }, v[128 + 200], plain[80], *val;
	unsigned char	 b64[200];
	size_t		 tl, i, n, vl;
	bool		 visible = true, ok;

	tl = fz_byte(&f) % 65;
	if (tl > f.n)
		tl = f.n;
	memcpy(t, f.p, tl);
	f.p += tl;
	f.n -= tl;
	tok = creds_secret_new(t, tl);
	for (i = 0; i < tl; i++)
		if ((unsigned char)t[i] <= 0x20 || (unsigned char)t[i] >= 0x7f)
			visible = false;

	/* The fuzzed value, and again with the scheme's case flipped. */
	val = fz_rest(&f, &vl);
	ok = check(tok, val, vl);
	for (i = 0; i < vl && (val[i] == ' ' || val[i] == '\t'); i++)
		;
	for (; i < vl && val[i] != ' ' && val[i] != '\t'; i++)
		if (isalpha((unsigned char)val[i]))
			val[i] ^= 0x20;
	FZ_ASSERT(check(tok, val, vl) == ok, "scheme case changes the answer");
	free(val);

	/* What a client sends for this token is accepted. */
	if (visible && tl > 0) {
		n = (size_t)snprintf(v, sizeof(v), " bEaReR \t%.*s\t",
		    (int)tl, t);
		FZ_ASSERT(check(tok, v, n), "Bearer refused");
		n = (size_t)snprintf(plain, sizeof(plain), "user:%.*s",
		    (int)tl, t);
		EVP_EncodeBlock(b64, (unsigned char *)plain, (int)n);
		n = (size_t)snprintf(v, sizeof(v), "Basic %s", b64);
		FZ_ASSERT(check(tok, v, n), "Basic refused: %s", v);
		/* Without a user name the colon still separates. */
		n = (size_t)snprintf(plain, sizeof(plain), ":%.*s", (int)tl,
		    t);
		EVP_EncodeBlock(b64, (unsigned char *)plain, (int)n);
		n = (size_t)snprintf(v, sizeof(v), "basic %s", b64);
		FZ_ASSERT(check(tok, v, n), "Basic without user refused");
		/* A different token is not. */
		n = (size_t)snprintf(v, sizeof(v), "Bearer %.*sx", (int)tl, t);
		FZ_ASSERT(!check(tok, v, n), "longer token accepted");
	}
	creds_secret_free(tok);
	return 0;
}
