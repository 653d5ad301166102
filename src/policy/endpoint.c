/*
 * Endpoint rules of credential routes (SPEC §4.6 steps 1-2).
 *
 * A rule path compiles into segments.  "*" is exactly one request segment
 * and "**" zero or more, so "/repos/X/issues" with X = "*" never matches
 * "/repos/a/b/issues" (nono's glob lets '*' cross '/'), and
 * "/api/v4/projects" followed by a "**" segment also matches
 * "/api/v4/projects" itself (zero more segments; nono wants one or more).
 * Any other glob syntax ("a*", '?', "[...]", "{a,b}", '\') is refused
 * when compiling rather than given a meaning a request path could
 * surprise; a literal '*' is written %2A.
 *
 * Request paths are checked for canonical form first (check_path), so a
 * path that is matched is exactly the path that is sent: no dot segment
 * can climb out of what a rule allowed after the match.
 */
#include "policy/endpoint.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy/route.h"
#include "util/log.h"
#include "util/pct.h"
#include "util/xmalloc.h"

/* Room for a rule shown in a message: escaped, cut at 256 bytes. */
#define ENDPOINT_SHOW_MAX	(4 * 256 + 1)

enum endpoint_seg_kind {
	SEG_LITERAL = 0,
	SEG_ONE,		/* "*": exactly one segment */
	SEG_ANY,		/* "**": zero or more segments */
};

struct endpoint_seg {
	enum endpoint_seg_kind	 kind;
	char			*lit;	/* owned; decoded, SEG_LITERAL */
	size_t			 len;
};

struct endpoint_pat {
	char			*method;	/* owned; "*" = any */
	struct endpoint_seg	*segs;		/* owned array */
	size_t			 nsegs;
};

struct endpoint_rules {
	struct endpoint_pat	*pats;		/* owned array */
	size_t			 npats;
};

/* A decoded request segment: borrowed bytes. */
struct endpoint_span {
	const char	*p;
	size_t		 len;
};

/* True for "." or ".." with any dot written %2e or %2E. */
static bool
endpoint_dot_segment(const char *s, size_t n)
{
	size_t	i = 0, dots = 0;

	while (i < n) {
		if (s[i] == '.')
			i++;
		else if (n - i >= 3 && s[i] == '%' && s[i + 1] == '2' &&
		    (s[i + 2] == 'e' || s[i + 2] == 'E'))
			i += 3;
		else
			return false;
		dots++;
	}
	return dots == 1 || dots == 2;
}

int
policy_endpoint_check_path(const char *path, struct errbuf *e)
{
	const char	*p, *seg, *where = "path";
	unsigned char	 c;
	int		 hi, lo, d;
	bool		 query = false;

	if (path == NULL || *path != '/') {
		errbuf_set(e, "path does not start with '/'");
		return -1;
	}
	for (seg = p = path; *p != '\0'; p++) {
		c = (unsigned char)*p;
		if (c < 0x20 || c == 0x7f) {
			errbuf_set(e, "NUL or control byte in %s", where);
			return -1;
		}
		/*
		 * A request target has no fragment (RFC 9112 §3.2); an
		 * upstream that cut one off would serve another path than
		 * the one matched.
		 */
		if (c == '#') {
			errbuf_set(e, "fragment ('#') in %s", where);
			return -1;
		}
		if (!query && (c == '/' || c == '?')) {
			if (endpoint_dot_segment(seg, (size_t)(p - seg))) {
				errbuf_set(e, "dot segment in path");
				return -1;
			}
			seg = p + 1;
			if (c == '?') {
				query = true;
				where = "query";
			}
			continue;
		}
		if (!query && c == '\\') {
			errbuf_set(e, "backslash in path");
			return -1;
		}
		if (c != '%')
			continue;
		if ((hi = pct_hexval(p[1])) == -1 ||
		    (lo = pct_hexval(p[2])) == -1) {
			errbuf_set(e, "invalid percent escape in %s", where);
			return -1;
		}
		p += 2;
		/*
		 * In the query an escaped byte is data and stays escaped on
		 * the way up; only the path's structure is at stake here.
		 */
		if (query)
			continue;
		d = hi << 4 | lo;
		if (d < 0x20 || d == 0x7f) {
			errbuf_set(e, "encoded NUL or control byte in path");
			return -1;
		}
		if (d == '/') {
			errbuf_set(e, "encoded slash (%%2f) in path");
			return -1;
		}
		if (d == '\\') {
			errbuf_set(e, "encoded backslash (%%5c) in path");
			return -1;
		}
	}
	if (!query && endpoint_dot_segment(seg, (size_t)(p - seg))) {
		errbuf_set(e, "dot segment in path");
		return -1;
	}
	return 0;
}

/* True for "*" or an RFC 9110 token. */
static bool
endpoint_method_ok(const char *m)
{
	if (m == NULL || *m == '\0')
		return false;
	return strspn(m, "!#$%&'*+-.^_`|~0123456789"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") ==
	    strlen(m);
}

/* Free the segments of one compiled rule. */
static void
endpoint_pat_clear(struct endpoint_pat *p)
{
	size_t	i;

	free(p->method);
	for (i = 0; i < p->nsegs; i++)
		free(p->segs[i].lit);
	free(p->segs);
	memset(p, 0, sizeof(*p));
}

/* Compile one rule into p; -1 with e (unwrapped) on error. */
static int
endpoint_pat_compile(struct endpoint_pat *p, const char *method,
    const char *path, struct errbuf *e)
{
	const char	*s, *end, *bad;
	size_t		 n;

	memset(p, 0, sizeof(*p));
	if (!endpoint_method_ok(method)) {
		errbuf_set(e, "the method must be a token or *");
		return -1;
	}
	if (path == NULL || *path != '/') {
		errbuf_set(e, "the path must start with '/'");
		return -1;
	}
	/* Glob syntax first, so "/a/[x" is named for what it is. */
	for (s = path; *s != '\0'; s = end) {
		while (*s == '/')
			s++;
		end = s + strcspn(s, "/");
		n = (size_t)(end - s);
		if ((n == 1 && s[0] == '*') ||
		    (n == 2 && s[0] == '*' && s[1] == '*'))
			continue;
		for (bad = s; bad < end; bad++)
			if (strchr("*?[]{}\\", *bad) != NULL)
				break;
		if (bad < end) {
			errbuf_set(e, "glob character '%c' is not supported "
			    "(a segment is a literal, * or **)", *bad);
			return -1;
		}
	}
	/* A rule no canonical request path could match is a mistake. */
	if (policy_endpoint_check_path(path, e) == -1)
		return -1;
	p->method = xstrdup(method);
	for (s = path; *s != '\0'; s = end) {
		while (*s == '/')
			s++;
		end = s + strcspn(s, "/");
		n = (size_t)(end - s);
		if (n == 0)
			continue;	/* empty segments and a trailing '/' */
		p->segs = xreallocarray(p->segs, p->nsegs + 1,
		    sizeof(*p->segs));
		memset(&p->segs[p->nsegs], 0, sizeof(p->segs[p->nsegs]));
		if (n == 1 && s[0] == '*')
			p->segs[p->nsegs].kind = SEG_ONE;
		else if (n == 2 && s[0] == '*' && s[1] == '*')
			p->segs[p->nsegs].kind = SEG_ANY;
		else {
			p->segs[p->nsegs].kind = SEG_LITERAL;
			p->segs[p->nsegs].lit = xmalloc(n + 1);
			p->segs[p->nsegs].len = pct_decode(s, n,
			    p->segs[p->nsegs].lit);
			p->segs[p->nsegs].lit[p->segs[p->nsegs].len] = '\0';
		}
		p->nsegs++;
	}
	return 0;
}

struct endpoint_rules *
policy_endpoint_compile(const struct route_def *def, struct errbuf *e)
{
	char			 m[ENDPOINT_SHOW_MAX], s[ENDPOINT_SHOW_MAX];
	struct endpoint_rules	*r;
	const struct endpoint_rule *rule;
	size_t			 i, n;

	r = xcalloc(1, sizeof(*r));
	if (def->nrules == 0)
		return r;
	r->pats = xcalloc(def->nrules, sizeof(*r->pats));
	for (i = 0; i < def->nrules; i++) {
		rule = &def->rules[i];
		if (endpoint_pat_compile(&r->pats[i], rule->method, rule->path,
		    e) == -1) {
			n = rule->method == NULL ? 0 : strlen(rule->method);
			log_escape(m, sizeof(m), n == 0 ? "" : rule->method,
			    n > 256 ? 256 : n);
			n = rule->path == NULL ? 0 : strlen(rule->path);
			log_escape(s, sizeof(s), n == 0 ? "" : rule->path,
			    n > 256 ? 256 : n);
			errbuf_wrap(e, "route '%s': endpoint rule '%s %s'",
			    def->name == NULL ? "" : def->name, m, s);
			r->npats = i + 1;
			policy_endpoint_free(r);
			return NULL;
		}
	}
	r->npats = def->nrules;
	return r;
}

/* Compiled segment p equals decoded request segment s. */
static bool
endpoint_seg_match(const struct endpoint_seg *p, const struct endpoint_span *s)
{
	if (p->kind == SEG_ONE)
		return true;
	return p->len == s->len && memcmp(p->lit, s->p, s->len) == 0;
}

/*
 * Match segments with "**" backtracking: remember the last "**" and where
 * it started; on a mismatch let it swallow one more segment.  Every other
 * kind takes exactly one segment, so this greedy walk is exact and stays
 * O(np * ns).
 */
static bool
endpoint_pat_match(const struct endpoint_pat *pat,
    const struct endpoint_span *s, size_t ns)
{
	const struct endpoint_seg *p = pat->segs;
	size_t		 np = pat->nsegs, pi = 0, si = 0;
	size_t		 any_p = SIZE_MAX, any_s = 0;

	while (si < ns) {
		if (pi < np && p[pi].kind == SEG_ANY) {
			any_p = pi++;
			any_s = si;
			continue;
		}
		if (pi < np && endpoint_seg_match(&p[pi], &s[si])) {
			pi++;
			si++;
			continue;
		}
		if (any_p == SIZE_MAX)
			return false;
		pi = any_p + 1;
		si = ++any_s;
	}
	while (pi < np && p[pi].kind == SEG_ANY)
		pi++;
	return pi == np;
}

bool
policy_endpoint_allows(const struct endpoint_rules *r, const char *method,
    const char *path)
{
	struct endpoint_span	*segs;
	const char		*s, *end;
	char			*buf;
	size_t			 plen, i, n, ns = 0, off = 0, max = 1;
	bool			 ok = false;

	if (r == NULL || r->npats == 0)
		return true;
	/* Callers check first; a path not in canonical form never matches. */
	if (method == NULL || policy_endpoint_check_path(path, NULL) == -1)
		return false;
	plen = strcspn(path, "?");
	for (i = 0; i < plen; i++)
		if (path[i] == '/')
			max++;
	segs = xcalloc(max, sizeof(*segs));
	buf = xmalloc(plen + 1);
	for (s = path; s < path + plen; s = end) {
		while (s < path + plen && *s == '/')
			s++;
		end = memchr(s, '/', (size_t)(path + plen - s));
		if (end == NULL)
			end = path + plen;
		if ((n = (size_t)(end - s)) == 0)
			continue;
		segs[ns].p = buf + off;
		segs[ns].len = pct_decode(s, n, buf + off);
		off += segs[ns].len;
		ns++;
	}
	for (i = 0; i < r->npats && !ok; i++) {
		if (strcmp(r->pats[i].method, "*") != 0 &&
		    strcasecmp(r->pats[i].method, method) != 0)
			continue;
		ok = endpoint_pat_match(&r->pats[i], segs, ns);
	}
	free(buf);
	free(segs);
	return ok;
}

void
policy_endpoint_free(struct endpoint_rules *r)
{
	size_t	i;

	if (r == NULL)
		return;
	for (i = 0; i < r->npats; i++)
		endpoint_pat_clear(&r->pats[i]);
	free(r->pats);
	free(r);
}
