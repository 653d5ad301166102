/*
 * Endpoint rules (policy/endpoint.h): compile rules from a route_def
 * built with policy_route_def_new + policy_route_def_add_rule, check
 * request paths for canonical form and match them.
 *
 * Input: lines.  Rules "METHOD PATH" until a line "---", then requests
 * "METHOD PATH".
 *
 * Invariants: a path that is allowed is canonical; the matcher agrees
 * with a straightforward reference (dynamic programming over decoded
 * segments, written here from the header's description); a compiled rule
 * path, sent as a request with a method it names, is allowed.
 */
#include "fuzz.h"
#include "policy/endpoint.h"
#include "policy/route.h"
#include "util/errbuf.h"

#define RULES_MAX	16
#define SEGS_MAX	64

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* A segment: kind 0 literal (decoded), 1 "*", 2 "**". */
struct seg {
	int	 kind;
	char	*s;
	size_t	 len;
};

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void
segs_free(struct seg *s, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		free(s[i].s);
}

/* Split path (up to '?') into decoded segments; -1 when too many. */
static int
split(const char *path, bool glob, struct seg *out, size_t *n)
{
	size_t	 plen = strcspn(path, "?"), i = 0, j, len;
	char	*d;
	int	 hi, lo;

	*n = 0;
	while (i < plen) {
		while (i < plen && path[i] == '/')
			i++;
		for (j = i; j < plen && path[j] != '/'; j++)
			;
		if (j == i)
			break;
		if (*n == SEGS_MAX) {
			segs_free(out, *n);
			return -1;
		}
		out[*n].kind = 0;
		if (glob && j - i == 1 && path[i] == '*')
			out[*n].kind = 1;
		else if (glob && j - i == 2 && path[i] == '*' &&
		    path[i + 1] == '*')
			out[*n].kind = 2;
		d = malloc(j - i + 1);
		if (d == NULL)
			abort();
		for (len = 0; i < j; i++) {
			if (path[i] == '%' && i + 2 < j &&
			    (hi = hexval(path[i + 1])) != -1 &&
			    (lo = hexval(path[i + 2])) != -1) {
				d[len++] = (char)(hi << 4 | lo);
				i += 2;
			} else
				d[len++] = path[i];
		}
		out[*n].s = d;
		out[*n].len = len;
		(*n)++;
	}
	return 0;
}

/* Reference: does pattern p[0..np) match request r[0..nr)? */
static bool
ref_match(const struct seg *p, size_t np, const struct seg *r, size_t nr)
{
	bool	dp[SEGS_MAX + 1][SEGS_MAX + 1];
	size_t	i, j;

	/* dp[i][j]: p[i..] matches r[j..]. */
	for (i = np + 1; i-- > 0;) {
		for (j = nr + 1; j-- > 0;) {
			if (i == np)
				dp[i][j] = j == nr;
			else if (p[i].kind == 2)
				dp[i][j] = dp[i + 1][j] ||
				    (j < nr && dp[i][j + 1]);
			else if (j == nr)
				dp[i][j] = false;
			else if (p[i].kind == 1)
				dp[i][j] = dp[i + 1][j + 1];
			else
				dp[i][j] = p[i].len == r[j].len &&
				    memcmp(p[i].s, r[j].s, r[j].len) == 0 &&
				    dp[i + 1][j + 1];
		}
	}
	return dp[0][0];
}

struct rule {
	char	*method;
	char	*path;
};

/* "METHOD PATH" into owned halves (no space: all method, path ""). */
static void
split_line(const char *line, char **m, char **p)
{
	const char	*sp = strchr(line, ' ');
	size_t		 ml = sp != NULL ? (size_t)(sp - line) : strlen(line);

	*m = malloc(ml + 1);
	if (*m == NULL)
		abort();
	memcpy(*m, line, ml);
	(*m)[ml] = '\0';
	*p = strdup(sp != NULL ? sp + 1 : "");
	if (*p == NULL)
		abort();
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
	struct fz		 f = { data, size };
	struct route_def	*def = policy_route_def_new("fuzz");
	struct endpoint_rules	*er;
	struct rule		 rules[RULES_MAX];
	struct seg		 ps[SEGS_MAX], rs[SEGS_MAX];
	struct errbuf		 e;
	char			*line, *m, *p;
	size_t			 nr = 0, i, nps, nrs;
	bool			 ok, ref, canon;

	while (fz_more(&f) && nr < RULES_MAX) {
		line = fz_field(&f, '\n', NULL);
		if (strcmp(line, "---") == 0) {
			free(line);
			break;
		}
		split_line(line, &rules[nr].method, &rules[nr].path);
		policy_route_def_add_rule(def, rules[nr].method,
		    rules[nr].path);
		nr++;
		free(line);
	}
	errbuf_clear(&e);
	er = policy_endpoint_compile(def, &e);
	if (er == NULL) {
		FZ_ASSERT(strncmp(errbuf_msg(&e), "route 'fuzz': endpoint "
		    "rule '", 29) == 0, "message '%s'", errbuf_msg(&e));
		goto out;
	}
	/* Each rule path, sent as a request, is allowed. */
	for (i = 0; i < nr; i++) {
		m = strcmp(rules[i].method, "*") == 0 ? "GET" :
		    rules[i].method;
		FZ_ASSERT(policy_endpoint_check_path(rules[i].path, &e) == 0,
		    "compiled rule path '%s' not canonical", rules[i].path);
		FZ_ASSERT(policy_endpoint_allows(er, m, rules[i].path),
		    "rule '%s %s' does not allow itself", m, rules[i].path);
	}
	while (fz_more(&f)) {
		line = fz_field(&f, '\n', NULL);
		split_line(line, &m, &p);
		free(line);
		canon = policy_endpoint_check_path(p, &e) == 0;
		ok = policy_endpoint_allows(er, m, p);
		if (nr > 0)
			FZ_ASSERT(!ok || canon, "'%s' allowed, not canonical",
			    p);
		else
			FZ_ASSERT(ok, "no rules must allow everything");
		if (canon && nr > 0 && split(p, false, rs, &nrs) == 0) {
			ref = false;
			for (i = 0; i < nr && !ref; i++) {
				if (strcmp(rules[i].method, "*") != 0 &&
				    strcasecmp(rules[i].method, m) != 0)
					continue;
				if (split(rules[i].path, true, ps, &nps) == -1) {
					ref = ok;	/* too long to check */
					break;
				}
				ref = ref_match(ps, nps, rs, nrs);
				segs_free(ps, nps);
			}
			FZ_ASSERT(ok == ref, "'%s %s': allows %d, reference %d",
			    m, p, ok, ref);
			segs_free(rs, nrs);
		}
		free(m);
		free(p);
	}
	policy_endpoint_free(er);
out:
	for (i = 0; i < nr; i++) {
		free(rules[i].method);
		free(rules[i].path);
	}
	policy_route_def_free(def);
	return 0;
}
