/*
 * The child's NO_PROXY (policy/noproxy.h).
 *
 * Input: lines.  Allow-list entries until "---", then credential upstream
 * URLs until "---", then profile no_proxy strings (one per line).
 *
 * Invariants: the list starts with localhost,127.0.0.1,::1; it has no
 * empty entry and no duplicate (case-insensitive); and no entry, read the
 * way curl, Go and Python read NO_PROXY (split on ',', blanks trimmed,
 * leading "*" and ".", [] and :port dropped, a parent domain or "*"
 * matching), sends a credential upstream host around the proxy --
 * except the fixed localhost, 127.0.0.1 and ::1 (also "[::1]"), which
 * the header says are never removed.
 */
#include <strings.h>

#include "fuzz.h"
#include "policy/allowlist.h"
#include "policy/noproxy.h"
#include "policy/route.h"
#include "util/errbuf.h"
#include "util/strv.h"
#include "util/xmalloc.h"

#define ROUTES_MAX	8

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_quiet();
	return 0;
}

/* Does a client skip the proxy for host because of entry e[0..n)? */
static bool
client_bypasses(const char *e, size_t n, const char *host)
{
	size_t	hl = strlen(host), kl;

	while (n > 0 && (*e == ' ' || *e == '\t')) {
		e++;
		n--;
	}
	while (n > 0 && (e[n - 1] == ' ' || e[n - 1] == '\t'))
		n--;
	if (n == 1 && e[0] == '*')
		return true;
	if (n > 0 && e[0] == '*') {
		e++;
		n--;
	}
	if (n > 0 && e[0] == '.') {
		e++;
		n--;
	}
	if (n > 0 && e[0] == '[') {
		const char *rb = memchr(e, ']', n);

		e++;
		n = rb != NULL ? (size_t)(rb - e) : n - 1;
	} else {
		const char *c = memchr(e, ':', n);

		if (c != NULL && memchr(c + 1, ':', n - (size_t)(c + 1 - e)) ==
		    NULL)
			n = (size_t)(c - e);
	}
	if (n > 0 && e[n - 1] == '.')
		n--;
	kl = n;
	if (kl == 0)
		return false;
	/* The proxy's own hosts stay by design (header: never removed). */
	if ((kl == 9 && strncasecmp(e, "localhost", 9) == 0) ||
	    (kl == 9 && strncmp(e, "127.0.0.1", 9) == 0) ||
	    (kl == 3 && strncmp(e, "::1", 3) == 0))
		return false;
	if (kl == hl && strncasecmp(e, host, kl) == 0)
		return true;
	return hl > kl && host[hl - kl - 1] == '.' &&
	    strncasecmp(host + hl - kl, e, kl) == 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz		 f = { data, size };
	struct allowlist	 al = { 0 };
	struct route		*routes[ROUTES_MAX];
	struct route_def	*d;
	struct strv		 extra = { 0 }, warn = { 0 }, seen = { 0 };
	struct errbuf		 e;
	char			*line, *s, *p, *q, *ent, name[16];
	size_t			 nr = 0, i;
	int			 part = 0;

	while (fz_more(&f)) {
		line = fz_field(&f, '\n', NULL);
		if (strcmp(line, "---") == 0 && part < 2) {
			part++;
			free(line);
			continue;
		}
		if (part == 0)
			(void)policy_allowlist_add(&al, line, NULL, &e);
		else if (part == 1 && nr < ROUTES_MAX) {
			snprintf(name, sizeof(name), "r%zu", nr);
			d = policy_route_def_new(name);
			d->upstream = xstrdup(line);
			if ((routes[nr] = policy_route_new(d, &e)) != NULL)
				nr++;
			policy_route_def_free(d);
		} else if (part == 2)
			strv_push(&extra, line);
		free(line);
	}
	s = policy_noproxy_build(&al, routes, nr, &extra, &warn);
	FZ_ASSERT(strncmp(s, "localhost,127.0.0.1,::1", 23) == 0 &&
	    (s[23] == '\0' || s[23] == ','), "'%s'", s);
	for (p = s;; p = q + 1) {
		q = strchr(p, ',');
		if (q == NULL)
			q = p + strlen(p);
		ent = xstrndup(p, (size_t)(q - p));
		FZ_ASSERT(ent[0] != '\0', "empty entry in '%s'", s);
		FZ_ASSERT(!strv_contains_icase(&seen, ent), "'%s' twice in '%s'",
		    ent, s);
		strv_push(&seen, ent);
		if (seen.n > 3) {
			for (i = 0; i < nr; i++)
				FZ_ASSERT(!client_bypasses(ent, strlen(ent),
				    routes[i]->up_host),
				    "'%s' lets a client bypass the proxy for "
				    "credential upstream %s", ent,
				    routes[i]->up_host);
		}
		free(ent);
		if (*q == '\0')
			break;
	}
	free(s);
	strv_free(&seen);
	strv_free(&extra);
	strv_free(&warn);
	for (i = 0; i < nr; i++)
		policy_route_free(routes[i]);
	policy_allowlist_free(&al);
	return 0;
}
