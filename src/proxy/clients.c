/*
 * --clients FILE (SPEC 4.10): named clients with pinned tokens.
 */
#include "proxy/clients.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "creds/secret.h"
#include "creds/store.h"
#include "policy/plan.h"
#include "policy/route.h"
#include "profile/profile.h"
#include "proxy/auth.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

#define CLIENTS_FILE_MAX	(64u << 20)
#define CLIENTS_NAME_MAX	64
#define CLIENTS_TOKEN_MIN	32
#define CLIENTS_TOKEN_MAX	512
#define CLIENTS_PROFILES_MAX	256

/* A phantom, for the duplicate check: route name and SHA-256. */
struct ph_ent {
	const char	*route;		/* borrowed from a plan */
	const char	*client;	/* borrowed */
	unsigned char	 md[32];
};

struct cctx {
	const char		*path;
	const char		*text;
	size_t			 len;
	struct errbuf		*e;
	struct proxy_clients	*cs;
	proxy_clients_profile_fn *fn;
	void			*arg;
	struct ph_ent		*ph;		/* owned; every phantom */
	size_t			 nph;
};

static int	cerr(struct cctx *, const char *const *, size_t,
		    const char *, ...) __attribute__((format(printf, 4, 5)));

/* "clients PATH: line L column C: KEY.PATH: msg"; returns -1. */
static int
cerr(struct cctx *c, const char *const *keys, size_t nkeys, const char *fmt,
    ...)
{
	struct strbuf	b = { 0 };
	char		msg[ERRBUF_MAX];
	va_list		ap;
	int		line = 0, col = 0;
	size_t		i;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	profile_json_locate(c->text, c->len, keys, nkeys, &line, &col);
	strbuf_appendf(&b, "clients %s: ", c->path);
	if (line > 0)
		strbuf_appendf(&b, "line %d column %d: ", line, col);
	for (i = 0; i < nkeys; i++)
		strbuf_appendf(&b, "%s%s", i > 0 ? "." : "", keys[i]);
	if (nkeys > 0)
		strbuf_append(&b, ": ");
	strbuf_append(&b, msg);
	errbuf_set(c->e, "%s", strbuf_str(&b));
	strbuf_free(&b);
	return -1;
}

static int
hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/*
 * A token value: the token, or "sha256:HEX".  *out gets a secret (plain
 * or digest) and md its SHA-256.  -1 with the reason in why.
 */
static int
parse_token(const char *v, struct secret **out, unsigned char md[32],
    const char **why)
{
	unsigned int	mdlen = 0;
	size_t		n = strlen(v), i;
	int		hi, lo;

	if (strncmp(v, "sha256:", 7) == 0) {
		if (n != 7 + 64) {
			*why = "a sha256: token needs 64 hex digits";
			return -1;
		}
		for (i = 0; i < 32; i++) {
			if ((hi = hexval(v[7 + 2 * i])) == -1 ||
			    (lo = hexval(v[8 + 2 * i])) == -1) {
				*why = "a sha256: token needs 64 hex digits";
				return -1;
			}
			md[i] = (unsigned char)(hi << 4 | lo);
		}
		*out = creds_secret_new_sha256(md);
		return 0;
	}
	if (n < CLIENTS_TOKEN_MIN || n > CLIENTS_TOKEN_MAX) {
		*why = "a token is 32 to 512 characters (or sha256:HEX)";
		return -1;
	}
	for (i = 0; i < n; i++)
		if (!((v[i] >= 'a' && v[i] <= 'z') || (v[i] >= 'A' &&
		    v[i] <= 'Z') || (v[i] >= '0' && v[i] <= '9') ||
		    strchr("._~+/=-", v[i]) != NULL)) {
			*why = "a token may hold only letters, digits and "
			    "._~+/=-";
			return -1;
		}
	if (EVP_Digest(v, n, md, &mdlen, EVP_sha256(), NULL) != 1) {
		*why = "SHA-256 failed";
		return -1;
	}
	*out = creds_secret_new(v, n);
	return 0;
}

static bool
good_name(const char *n)
{
	size_t	i, len = strlen(n);

	if (len == 0 || len > CLIENTS_NAME_MAX)
		return false;
	for (i = 0; i < len; i++)
		if (!((n[i] >= 'a' && n[i] <= 'z') || (n[i] >= 'A' &&
		    n[i] <= 'Z') || (n[i] >= '0' && n[i] <= '9') ||
		    n[i] == '.' || n[i] == '_' || n[i] == '-'))
			return false;
	return true;
}

static int
cmp_client(const void *a, const void *b)
{
	return memcmp(((const struct proxy_client *)a)->digest,
	    ((const struct proxy_client *)b)->digest, 32);
}

static char *
read_file(const char *path, size_t *len, struct errbuf *e)
{
	struct stat	 st;
	char		*buf;
	size_t		 off = 0;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		errbuf_sys(e, "clients %s", path);
		return NULL;
	}
	if (fstat(fd, &st) == -1) {
		errbuf_sys(e, "clients %s", path);
		close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > CLIENTS_FILE_MAX) {
		errbuf_set(e, "clients %s: not a regular file of at most "
		    "64 MiB", path);
		close(fd);
		return NULL;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	while (off < (size_t)st.st_size) {
		n = read(fd, buf + off, (size_t)st.st_size - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	close(fd);
	buf[off] = '\0';
	*len = off;
	return buf;
}

/*
 * The index of profile name in c->cs->profiles, built with c->fn the
 * first time a client names it; -1 with the error placed at keys.
 */
static int
find_profile(struct cctx *c, const char *name, const char *const *keys)
{
	struct proxy_clients	*cs = c->cs;
	struct plan		*plan = NULL;
	struct creds_store	*creds = NULL;
	struct errbuf		 pe = { 0 };
	size_t			 i;

	for (i = 0; i < cs->nprofiles; i++)
		if (strcmp(cs->profiles[i].name, name) == 0)
			return (int)i;
	if (c->fn == NULL)
		return cerr(c, keys, 3, "per-client profiles are not "
		    "available here");
	if (name[0] == '\0')
		return cerr(c, keys, 3, "expected a profile name or path");
	if (cs->nprofiles >= CLIENTS_PROFILES_MAX)
		return cerr(c, keys, 3, "more than %d distinct profiles",
		    CLIENTS_PROFILES_MAX);
	if (c->fn(c->arg, name, &plan, &creds, &pe) == -1)
		return cerr(c, keys, 3, "%s", errbuf_msg(&pe));
	cs->profiles = xreallocarray(cs->profiles, cs->nprofiles + 1,
	    sizeof(*cs->profiles));
	cs->profiles[cs->nprofiles].name = xstrdup(name);
	cs->profiles[cs->nprofiles].plan = plan;
	cs->profiles[cs->nprofiles].creds = creds;
	return (int)cs->nprofiles++;
}

static int
load_client(struct cctx *c, const char *name, json_t *obj,
    struct proxy_client *cl)
{
	const char	*keys[5] = { "clients", name, NULL, NULL, NULL };
	const char	*k, *why;
	const struct plan *plan;
	json_t		*v, *ph;
	struct secret	*tok = NULL;
	size_t		 i;

	cl->profile = -1;
	if (!good_name(name))
		return cerr(c, keys, 2, "a client name is 1-64 letters, "
		    "digits, '.', '_' or '-'");
	if (!json_is_object(obj))
		return cerr(c, keys, 2, "expected an object");
	cl->name = xstrdup(name);
	/* The profile first: it says which routes phantoms may name. */
	if ((v = json_object_get(obj, "profile")) != NULL) {
		keys[2] = "profile";
		if (!json_is_string(v))
			return cerr(c, keys, 3, "expected a string (a profile "
			    "name or path)");
		if ((cl->profile = find_profile(c, json_string_value(v),
		    keys)) == -1)
			return -1;
	}
	plan = proxy_clients_plan(c->cs, cl);
	cl->phantoms = xcalloc(plan->nroutes ? plan->nroutes : 1,
	    sizeof(*cl->phantoms));
	json_object_foreach(obj, k, v) {
		keys[2] = k;
		if (strcmp(k, "token") == 0) {
			if (!json_is_string(v))
				return cerr(c, keys, 3, "expected a string");
			if (parse_token(json_string_value(v), &tok,
			    cl->digest, &why) == -1)
				return cerr(c, keys, 3, "%s", why);
			creds_secret_free(tok);
			tok = NULL;
		} else if (strcmp(k, "phantoms") == 0) {
			if (!json_is_object(v))
				return cerr(c, keys, 3, "expected an object "
				    "of route names to phantom tokens");
			json_object_foreach(v, k, ph) {
				unsigned char	md[32];

				keys[3] = k;
				for (i = 0; i < plan->nroutes; i++)
					if (strcmp(plan->routes[i]->def->name,
					    k) == 0)
						break;
				if (i == plan->nroutes)
					return cerr(c, keys, 4, "no such "
					    "credential route (declare it with "
					    "--credential or the profile)");
				if (!json_is_string(ph))
					return cerr(c, keys, 4, "expected a "
					    "string");
				if (parse_token(json_string_value(ph),
				    &cl->phantoms[i], md, &why) == -1)
					return cerr(c, keys, 4, "%s", why);
				c->ph = xreallocarray(c->ph, c->nph + 1,
				    sizeof(*c->ph));
				c->ph[c->nph].route = plan->routes[i]->def->name;
				c->ph[c->nph].client = cl->name;
				memcpy(c->ph[c->nph++].md, md, sizeof(md));
				explicit_bzero(md, sizeof(md));
			}
		} else if (strcmp(k, "profile") != 0)
			return cerr(c, keys, 3, "unknown key (expected token, "
			    "profile, phantoms)");
	}
	keys[2] = NULL;
	if (json_object_get(obj, "token") == NULL)
		return cerr(c, keys, 2, "missing \"token\"");
	return 0;
}

static int
cmp_ph(const void *a, const void *b)
{
	const struct ph_ent	*x = a, *y = b;
	int			 r = strcmp(x->route, y->route);

	return r != 0 ? r : memcmp(x->md, y->md, 32);
}

const struct plan *
proxy_clients_plan(const struct proxy_clients *cs,
    const struct proxy_client *cl)
{
	return cl->profile < 0 ? cs->plan : cs->profiles[cl->profile].plan;
}

struct proxy_clients *
proxy_clients_load(const char *path, const struct plan *plan,
    proxy_clients_profile_fn *fn, void *arg, struct errbuf *e)
{
	struct proxy_clients	*cs = NULL;
	struct cctx		 c = { .path = path, .e = e, .fn = fn,
				    .arg = arg };
	const char		*keys[2] = { "clients", NULL };
	const char		*k, *name;
	json_error_t		 je;
	json_t			*root = NULL, *all, *v;
	char			*text;
	size_t			 len, i;

	if ((text = read_file(path, &len, e)) == NULL)
		return NULL;
	c.text = text;
	c.len = len;
	if (memchr(text, '\0', len) != NULL) {
		errbuf_set(e, "clients %s: a NUL byte (JSON text cannot "
		    "contain one)", path);
		goto fail;
	}
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (root == NULL) {
		errbuf_set(e, "clients %s: line %d column %d: %s", path,
		    je.line, je.column, je.text);
		goto fail;
	}
	if (!json_is_object(root)) {
		cerr(&c, NULL, 0, "expected an object with \"clients\"");
		goto fail;
	}
	json_object_foreach(root, k, v)
		if (strcmp(k, "clients") != 0) {
			keys[0] = k;
			cerr(&c, keys, 1, "unknown key (expected clients)");
			goto fail;
		}
	all = json_object_get(root, "clients");
	if (!json_is_object(all)) {
		cerr(&c, keys, all == NULL ? 0 : 1, all == NULL ?
		    "missing \"clients\"" : "expected an object of client "
		    "names");
		goto fail;
	}
	cs = xcalloc(1, sizeof(*cs));
	cs->plan = plan;
	c.cs = cs;
	cs->v = xcalloc(json_object_size(all) ? json_object_size(all) : 1,
	    sizeof(*cs->v));
	json_object_foreach(all, name, v) {
		if (load_client(&c, name, v, &cs->v[cs->n++]) == -1)
			goto fail;
	}
	qsort(cs->v, cs->n, sizeof(*cs->v), cmp_client);
	for (i = 1; i < cs->n; i++)
		if (memcmp(cs->v[i - 1].digest, cs->v[i].digest, 32) == 0) {
			const char *kk[3] = { "clients", cs->v[i].name,
			    "token" };

			cerr(&c, kk, 3, "the same token as client %s",
			    cs->v[i - 1].name);
			goto fail;
		}
	/*
	 * One phantom names one client: the same one twice for routes of
	 * the same name is refused (sorted by route and digest, so 10,000
	 * clients cost no pairwise comparison).
	 */
	if (c.nph > 1)
		qsort(c.ph, c.nph, sizeof(*c.ph), cmp_ph);
	for (i = 1; i < c.nph; i++)
		if (cmp_ph(&c.ph[i - 1], &c.ph[i]) == 0) {
			const char *kk[4] = { "clients", c.ph[i].client,
			    "phantoms", c.ph[i].route };

			cerr(&c, kk, 4, "the same phantom as client %s",
			    c.ph[i - 1].client);
			goto fail;
		}
	freezero(c.ph, c.nph * sizeof(*c.ph));
	c.ph = NULL;
	json_decref(root);
	freezero(text, len + 1);
	/* The parse tree of a large file is gone: give its pages back. */
	malloc_trim(0);
	return cs;
fail:
	if (c.ph != NULL)
		freezero(c.ph, c.nph * sizeof(*c.ph));
	proxy_clients_free(cs);
	json_decref(root);
	freezero(text, len + 1);
	return NULL;
}

static int
cmp_digest(const void *key, const void *el)
{
	return memcmp(key, ((const struct proxy_client *)el)->digest, 32);
}

const struct proxy_client *
proxy_clients_by_auth(const struct proxy_clients *cs, const char *value,
    size_t len)
{
	const struct proxy_client	*cl;
	unsigned char			 md[32];

	if (cs == NULL || !proxy_auth_digest(value, len, md))
		return NULL;
	cl = bsearch(md, cs->v, cs->n, sizeof(*cs->v), cmp_digest);
	if (cl != NULL && CRYPTO_memcmp(cl->digest, md, 32) != 0)
		cl = NULL;
	explicit_bzero(md, sizeof(md));
	return cl;
}

void
proxy_clients_free(struct proxy_clients *cs)
{
	size_t	i, r, nr;

	if (cs == NULL)
		return;
	for (i = 0; i < cs->n; i++) {
		free(cs->v[i].name);
		if (cs->v[i].phantoms != NULL) {
			nr = proxy_clients_plan(cs, &cs->v[i])->nroutes;
			for (r = 0; r < nr; r++)
				creds_secret_free(cs->v[i].phantoms[r]);
		}
		free(cs->v[i].phantoms);
	}
	free(cs->v);
	for (i = 0; i < cs->nprofiles; i++) {
		free(cs->profiles[i].name);
		creds_store_free(cs->profiles[i].creds);
		policy_plan_free(cs->profiles[i].plan);
	}
	free(cs->profiles);
	free(cs);
}
