#include "policy/noproxy.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy/allowlist.h"
#include "policy/route.h"
#include "util/strbuf.h"
#include "util/strnum.h"
#include "util/xmalloc.h"

/* Always present and never removed: the proxy itself lives there. */
static const char *const noproxy_fixed[] = { "localhost", "127.0.0.1", "::1" };

static char	*noproxy_key(const char *);

/* True when entry names one of the fixed hosts ("[::1]" is "::1"). */
static bool
noproxy_is_fixed(const char *entry)
{
	char	*k = noproxy_key(entry);
	size_t	 i;
	bool	 fixed = false;

	for (i = 0; i < sizeof(noproxy_fixed) / sizeof(noproxy_fixed[0]); i++)
		if (strcmp(k, noproxy_fixed[i]) == 0)
			fixed = true;
	free(k);
	return fixed;
}

/*
 * The host an entry names the way clients read NO_PROXY (curl, Go,
 * Python): leading "*." / "*" / "." dropped (they all mean "this domain
 * and below"), [v6] unbracketed, a ":port" dropped, one trailing dot
 * dropped.  "" means every host ("*").  Owned.
 */
static char *
noproxy_key(const char *entry)
{
	const char	*p = entry, *end, *c;
	char		*k;
	size_t		 i;

	if (p[0] == '*')
		p++;
	if (p[0] == '.')
		p++;
	end = p + strlen(p);
	if (p[0] == '[') {
		p++;
		if ((c = strchr(p, ']')) != NULL)
			end = c;
	} else if ((c = strchr(p, ':')) != NULL && strchr(c + 1, ':') == NULL)
		end = c;		/* host:port; a bare IPv6 has 2+ */
	if (end > p && end[-1] == '.')
		end--;
	k = xstrndup(p, (size_t)(end - p));
	for (i = 0; k[i] != '\0'; i++)
		if (k[i] >= 'A' && k[i] <= 'Z')
			k[i] = (char)(k[i] - 'A' + 'a');
	return k;
}

/*
 * True when key is a CIDR block ("10.0.0.0/8", "2001:db8::/32"; curl, Go
 * and requests honour these) that contains the IP literal host.
 */
static bool
noproxy_cidr_covers(const char *key, const char *host)
{
	unsigned char	 net[16], addr[16];
	const char	*slash = strchr(key, '/');
	char		*a;
	uint64_t	 bits;
	size_t		 i;
	int		 af, ok;

	if (slash == NULL)
		return false;
	af = strchr(key, ':') != NULL ? AF_INET6 : AF_INET;
	a = xstrndup(key, (size_t)(slash - key));
	ok = inet_pton(af, a, net) == 1 && inet_pton(af, host, addr) == 1 &&
	    strnum_parse_str(slash + 1, 0, af == AF_INET ? 32 : 128,
	    &bits) == 0;
	free(a);
	if (!ok)
		return false;
	for (i = 0; i < bits / 8; i++)
		if (net[i] != addr[i])
			return false;
	if (bits % 8 != 0 &&
	    ((net[i] ^ addr[i]) & (0xff << (8 - bits % 8)) & 0xff) != 0)
		return false;
	return true;
}

/* True when NO_PROXY entry would send requests for host around the proxy. */
static bool
noproxy_covers(const char *entry, const char *host)
{
	char	*k = noproxy_key(entry);
	size_t	 kl = strlen(k), hl = strlen(host);
	bool	 covers;

	if (kl == 0)
		covers = true;
	else if (strchr(k, '/') != NULL)
		covers = noproxy_cidr_covers(k, host);
	else if (kl == hl)
		covers = strcasecmp(k, host) == 0;
	else
		covers = hl > kl && host[hl - kl - 1] == '.' &&
		    strcasecmp(host + hl - kl, k) == 0;
	free(k);
	return covers;
}

/* Add entry unless present, or dropped because it covers an upstream. */
static void
noproxy_add(struct strv *out, const char *entry, struct route *const *routes,
    size_t nroutes, struct strv *warnings)
{
	size_t	i, j;

	if (*entry == '\0' || strv_contains_icase(out, entry))
		return;
	/*
	 * Fixed hosts are there already, and never dropped; a bracketed
	 * "[::1]" is added as written (SPEC 6: IPv6 keeps its brackets),
	 * since some clients compare the bracketed form.
	 */
	if (noproxy_is_fixed(entry) && entry[0] != '*' && entry[0] != '.') {
		if (entry[0] == '[')
			strv_push(out, entry);
		return;
	}
	for (i = 0; i < nroutes; i++) {
		if (routes[i] == NULL || routes[i]->up_host == NULL)
			continue;
		/* The route's own host, then its extra hosts (SPEC 4.12). */
		for (j = 0; j <= routes[i]->nextra; j++) {
			const char *h = j == 0 ? routes[i]->up_host :
			    routes[i]->extra[j - 1]->up_host;

			if (!noproxy_covers(entry, h))
				continue;
			if (warnings != NULL)
				strv_push_owned(warnings, xasprintf("NO_PROXY: "
				    "dropping '%s': it covers credential "
				    "upstream %s", entry, h));
			return;
		}
	}
	strv_push(out, entry);
}

/*
 * Add the comma-separated pieces of an extra entry, each trimmed: one
 * profile string "a.com,github.com" must not smuggle a parent domain of
 * a credential upstream past the check.
 */
static void
noproxy_add_extra(struct strv *out, const char *extra,
    struct route *const *routes, size_t nroutes, struct strv *warnings)
{
	const char	*p = extra, *q, *end;
	char		*piece;

	for (;;) {
		q = p + strcspn(p, ",");
		end = q;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		piece = xstrndup(p, (size_t)(end - p));
		noproxy_add(out, piece, routes, nroutes, warnings);
		free(piece);
		if (*q == '\0')
			break;
		p = q + 1;
	}
}

char *
policy_noproxy_build(const struct allowlist *al, struct route *const *routes,
    size_t nroutes, const struct strv *extra, struct strv *warnings)
{
	struct strv	 out = { 0 };
	const char	*h;
	char		*s;
	size_t		 i;

	for (i = 0; i < sizeof(noproxy_fixed) / sizeof(noproxy_fixed[0]); i++)
		strv_push(&out, noproxy_fixed[i]);
	for (i = 0; al != NULL && i < al->n; i++) {
		if (!al->v[i].direct)
			continue;
		h = al->v[i].host;
		if (strchr(h, ':') != NULL) {
			s = xasprintf("[%s]", h);
			noproxy_add(&out, s, routes, nroutes, warnings);
			free(s);
		} else
			noproxy_add(&out, h, routes, nroutes, warnings);
	}
	for (i = 0; extra != NULL && i < extra->n; i++)
		noproxy_add_extra(&out, extra->v[i], routes, nroutes, warnings);
	s = strv_join(&out, ",");
	strv_free(&out);
	return s;
}
