/*
 * Profiles from bytes (profile/profile.h): strict parse, merge, show, and
 * loading with "extends" resolved against the built-in profiles.
 *
 * Input: one or two JSON documents separated by a line "----".
 *
 * Invariants: show_json of a parsed profile parses again to the same
 * show_json (what keyhole prints, it reads back); merging a profile over
 * itself changes nothing; merge(base, child) and copy survive show.
 * Documents whose "extends" names a path are not loaded (the fuzzer does
 * not read files); names resolve in an empty HOME, so only built-ins.
 */
#include "fuzz.h"
#include "profile/profile.h"
#include "util/errbuf.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct profile_env env = {
	.home = "/nonexistent/keyhole-fuzz-home",
	.workdir = "/nonexistent/keyhole-fuzz-work",
	.tmpdir = "/tmp",
	.uid = 1000,
};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_quiet();
	return 0;
}

/* True when no extends entry is a path (those would be read as files). */
static bool
extends_by_name(const struct profile *p)
{
	size_t	i, n;

	for (i = 0; i < p->extends.n; i++) {
		n = strlen(p->extends.v[i]);
		if (strchr(p->extends.v[i], '/') != NULL ||
		    (n >= 5 && strcmp(p->extends.v[i] + n - 5, ".json") == 0))
			return false;
	}
	return true;
}

/* show_json(p) reads back as the same show_json; returns it (owned). */
static char *
roundtrip(const struct profile *p)
{
	struct profile	*q;
	struct errbuf	 e;
	char		*s, *t;

	s = profile_show_json(p);
	FZ_ASSERT(s != NULL, "show_json failed");
	errbuf_clear(&e);
	q = profile_parse_bytes(s, strlen(s), "roundtrip", &e);
	FZ_ASSERT(q != NULL, "shown profile does not parse: %s\n%s",
	    errbuf_msg(&e), s);
	t = profile_show_json(q);
	FZ_ASSERT(t != NULL && strcmp(s, t) == 0,
	    "show/parse/show differs:\n%s\n----\n%s", s, t);
	free(t);
	profile_free(q);
	return s;
}

static void
one(const char *doc, size_t len, struct profile **out)
{
	struct errbuf	 e;
	struct profile	*p, *l;

	*out = NULL;
	errbuf_clear(&e);
	p = profile_parse_bytes(doc, len, "fuzz", &e);
	if (p == NULL) {
		FZ_ASSERT(strncmp(errbuf_msg(&e), "profile fuzz", 12) == 0,
		    "message '%s'", errbuf_msg(&e));
		return;
	}
	free(roundtrip(p));
	free(profile_show_text(p));
	if (extends_by_name(p)) {
		l = profile_load_bytes(doc, len, "fuzz", &env, &e);
		if (l != NULL) {
			FZ_ASSERT(l->finalised, "loaded, not finalised");
			free(profile_show_json(l));
			free(profile_show_text(l));
			(void)profile_wants_proxy(l);
			profile_free(l);
		}
	}
	*out = p;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t	*sep;
	struct profile	*a, *b, *m, *c;
	size_t		 alen;
	char		*doc, *s1, *s2;

	sep = memmem(data, size, "\n----\n", 6);
	alen = sep != NULL ? (size_t)(sep - data) : size;
	/* Exact-size copies: the parser must not read past len. */
	if ((doc = malloc(size + 1)) == NULL)
		abort();
	memcpy(doc, data, size);
	one(doc, alen, &a);
	b = NULL;
	if (sep != NULL)
		one(doc + alen + 6, size - alen - 6, &b);
	if (a != NULL) {
		/* Over itself: nothing changes (extends is not merged). */
		m = profile_merge(a, a);
		c = profile_copy(a);
		s1 = profile_show_json(c);
		profile_free(c);
		s2 = profile_show_json(m);
		FZ_ASSERT(strcmp(s1, s2) == 0, "merge(a, a) != a:\n%s\n----\n%s",
		    s1, s2);
		free(s1);
		free(s2);
		profile_free(m);
		c = profile_copy(a);
		free(profile_show_json(c));
		profile_free(c);
	}
	if (a != NULL && b != NULL) {
		m = profile_merge(a, b);
		free(roundtrip(m));
		free(profile_show_text(m));
		(void)profile_credentials(m);
		(void)profile_wants_proxy(m);
		profile_free(m);
	}
	profile_free(a);
	profile_free(b);
	free(doc);
	return 0;
}
