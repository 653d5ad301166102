#include "proxy/auth.h"

#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "creds/secret.h"
#include "util/xmalloc.h"

/*
 * Longest base64 credential looked at.  "user:" plus a 64-hex token is
 * far below; the cap keeps EVP_DecodeBlock's int length safe.
 */
#define AUTH_BASIC_MAX	4096

/* True for the whitespace RFC 9110 allows around and inside the value. */
static bool
auth_ws(char c)
{
	return c == ' ' || c == '\t';
}

/* Value of one base64 symbol, or -1. */
/* Trim optional whitespace from both ends of [*p, *end). */
static void
auth_trim(const char **p, const char **end)
{
	while (*p < *end && auth_ws(**p))
		(*p)++;
	while (*end > *p && auth_ws((*end)[-1]))
		(*end)--;
}

/*
 * Split a trimmed credentials value [p, end) into its scheme and one
 * credential token.  False when no credential follows the scheme or the
 * credential holds whitespace or control bytes.
 */
static bool
auth_split(const char *p, const char *end, const char **scheme,
    size_t *slen, const char **cred, size_t *clen)
{
	size_t		 i;

	*scheme = p;
	while (p < end && !auth_ws(*p))
		p++;
	*slen = (size_t)(p - *scheme);
	if (p == end)
		return false;		/* no credential after the scheme */
	while (p < end && auth_ws(*p))
		p++;
	*cred = p;
	*clen = (size_t)(end - p);
	for (i = 0; i < *clen; i++)
		if ((unsigned char)p[i] <= 0x20 || p[i] == 0x7f)
			return false;
	return true;
}

static int
auth_b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Check that s[0..n) is canonical standard base64 (RFC 4648 §3.5): a
 * multiple of 4 long, the standard alphabet, '=' only as one or two final
 * padding symbols, and zero bits in the last symbol where the padding
 * leaves them unused (so "YR==" is not another spelling of "YQ==").
 * Returns the number of padding symbols, or -1.
 */
static int
auth_b64_canonical(const char *s, size_t n)
{
	size_t	i, data;
	int	pad = 0, v;

	if (n == 0 || n % 4 != 0)
		return -1;
	if (s[n - 1] == '=')
		pad = s[n - 2] == '=' ? 2 : 1;
	data = n - (size_t)pad;
	for (i = 0; i < data; i++)
		if (auth_b64_value((unsigned char)s[i]) == -1)
			return -1;
	v = auth_b64_value((unsigned char)s[data - 1]);
	if ((pad == 2 && (v & 0x0f) != 0) || (pad == 1 && (v & 0x03) != 0))
		return -1;
	return pad;
}

/*
 * Basic: base64(user:password), password compared with the token; with
 * either, the user too (git's "PHANTOM:x-oauth-basic").
 */
static bool
auth_basic(const struct secret *token, const char *cred, size_t n,
    bool either)
{
	unsigned char	*dec;
	const void	*colon;
	size_t		 declen, off;
	int		 pad, len;
	bool		 ok = false;

	if (n > AUTH_BASIC_MAX || (pad = auth_b64_canonical(cred, n)) == -1)
		return false;
	declen = n / 4 * 3;
	dec = xmalloc(declen + 1);
	/* EVP_DecodeBlock counts padding as zero bytes; take them off. */
	len = EVP_DecodeBlock(dec, (const unsigned char *)cred, (int)n);
	if (len < 0 || (size_t)len != declen)
		goto out;
	declen -= (size_t)pad;
	if ((colon = memchr(dec, ':', declen)) == NULL)
		goto out;
	off = (size_t)((const unsigned char *)colon - dec) + 1;
	ok = creds_secret_equal(token, dec + off, declen - off);
	/* Both compared, so the time does not say which one matched. */
	if (either)
		ok = creds_secret_equal(token, dec, off - 1) | ok;
out:
	freezero(dec, n / 4 * 3 + 1);
	return ok;
}

bool
proxy_auth_check(const struct secret *token, const char *value, size_t len)
{
	const char	*p, *end, *scheme, *cred;
	size_t		 slen, clen;

	if (token == NULL || value == NULL)
		return false;
	p = value;
	end = value + len;
	auth_trim(&p, &end);
	if (!auth_split(p, end, &scheme, &slen, &cred, &clen))
		return false;
	if (slen == 6 && strncasecmp(scheme, "Bearer", 6) == 0)
		return creds_secret_equal(token, cred, clen);
	if (slen == 5 && strncasecmp(scheme, "Basic", 5) == 0)
		return auth_basic(token, cred, clen, false);
	return false;
}

bool
proxy_auth_has_phantom(const struct secret *phantom, const char *value,
    size_t len)
{
	const char	*p, *end, *scheme, *cred;
	size_t		 slen, clen;

	if (phantom == NULL || value == NULL)
		return false;
	p = value;
	end = value + len;
	auth_trim(&p, &end);
	if (p < end && creds_secret_equal(phantom, p, (size_t)(end - p)))
		return true;		/* raw */
	if (!auth_split(p, end, &scheme, &slen, &cred, &clen))
		return false;
	if ((slen == 6 && strncasecmp(scheme, "Bearer", 6) == 0) ||
	    (slen == 5 && strncasecmp(scheme, "token", 5) == 0))
		return creds_secret_equal(phantom, cred, clen);
	if (slen == 5 && strncasecmp(scheme, "Basic", 5) == 0)
		return auth_basic(phantom, cred, clen, true);
	return false;
}

/* SHA-256 of p[0..n) into md. */
static bool
auth_sha256(const void *p, size_t n, unsigned char md[32])
{
	unsigned int	mdlen = 0;

	return EVP_Digest(p, n, md, &mdlen, EVP_sha256(), NULL) == 1 &&
	    mdlen == 32;
}

bool
proxy_auth_digest(const char *value, size_t len, unsigned char md[32])
{
	const char	*p, *end, *scheme, *cred;
	unsigned char	*dec;
	const void	*colon;
	size_t		 slen, n, declen, off;
	int		 pad, dlen;
	bool		 ok = false;

	if (value == NULL)
		return false;
	p = value;
	end = value + len;
	auth_trim(&p, &end);
	if (!auth_split(p, end, &scheme, &slen, &cred, &n))
		return false;
	if (slen == 6 && strncasecmp(scheme, "Bearer", 6) == 0)
		return auth_sha256(cred, n, md);
	if (slen != 5 || strncasecmp(scheme, "Basic", 5) != 0)
		return false;
	if (n > AUTH_BASIC_MAX || (pad = auth_b64_canonical(cred, n)) == -1)
		return false;
	declen = n / 4 * 3;
	dec = xmalloc(declen + 1);
	dlen = EVP_DecodeBlock(dec, (const unsigned char *)cred, (int)n);
	if (dlen < 0 || (size_t)dlen != declen)
		goto out;
	declen -= (size_t)pad;
	if ((colon = memchr(dec, ':', declen)) == NULL)
		goto out;
	off = (size_t)((const unsigned char *)colon - dec) + 1;
	ok = auth_sha256(dec + off, declen - off, md);
out:
	freezero(dec, n / 4 * 3 + 1);
	return ok;
}
