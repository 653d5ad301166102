#include "sandbox/env.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy/plan.h"
#include "util/hash.h"
#include "util/log.h"
#include "util/strnum.h"
#include "util/xmalloc.h"

/*
 * Variables that make a program load code or change how a shell parses
 * (reference §6.1, nono's list).  Exact names, case-sensitive.
 */
/* A word and its length, so that most names are told apart by length. */
struct env_word {
	const char	*s;
	size_t		 len;
};

#define W(s)	{ s, sizeof(s) - 1 }

static const struct env_word dangerous_names[] = {
	W("BASH_ENV"), W("ENV"), W("CDPATH"), W("GLOBIGNORE"),
	W("PROMPT_COMMAND"), W("IFS"), W("PYTHONSTARTUP"), W("PYTHONPATH"),
	W("NODE_OPTIONS"), W("NODE_PATH"), W("PERL5OPT"), W("PERL5LIB"),
	W("RUBYOPT"), W("RUBYLIB"), W("GEM_PATH"), W("GEM_HOME"),
	W("JAVA_TOOL_OPTIONS"), W("_JAVA_OPTIONS"), W("DOTNET_STARTUP_HOOKS"),
	W("GOFLAGS"), W("OP_SERVICE_ACCOUNT_TOKEN"), W("OP_CONNECT_TOKEN"),
	W("OP_CONNECT_HOST"),
};

static const struct env_word dangerous_prefixes[] = {
	W("LD_"), W("DYLD_"), W("BASH_FUNC_"), W("OP_SESSION_"),
};

/*
 * Variables that hold a credential by convention (SPEC §6): removed in
 * every mode, routes or not, so a real key never reaches the child by
 * accident.  Besides these names, every name ending in one of the
 * suffixes below.
 */
static const struct env_word credential_names[] = {
	W("ANTHROPIC_API_KEY"), W("ANTHROPIC_AUTH_TOKEN"), W("OPENAI_API_KEY"),
	W("CODEX_API_KEY"), W("GEMINI_API_KEY"), W("GOOGLE_API_KEY"),
	W("GITHUB_TOKEN"), W("GH_TOKEN"), W("GITLAB_TOKEN"),
	W("AWS_SECRET_ACCESS_KEY"), W("AWS_SESSION_TOKEN"),
	W("AZURE_OPENAI_API_KEY"), W("HF_TOKEN"), W("NPM_TOKEN"),
	W("CLAUDE_CODE_OAUTH_TOKEN"), W("OPENROUTER_API_KEY"),
	W("MISTRAL_API_KEY"), W("GROQ_API_KEY"), W("DEEPSEEK_API_KEY"),
	W("XAI_API_KEY"),
};

static const struct env_word credential_suffixes[] = {
	W("_API_KEY"), W("_TOKEN"), W("_SECRET"),
};

#undef W

#define NITEMS(a)	(sizeof(a) / sizeof((a)[0]))

/* Length of the name part of "NAME=value" (or of a bare name). */
static size_t
env_name_len(const char *s)
{
	return strcspn(s, "=");
}

/* Is the name of entry (nlen bytes) exactly word? */
static bool
name_is(const char *entry, size_t nlen, const char *word)
{
	return strlen(word) == nlen && memcmp(entry, word, nlen) == 0;
}

/* Is the name of entry (nlen bytes) exactly the word w? */
static bool
name_is_word(const char *entry, size_t nlen, const struct env_word *w)
{
	return w->len == nlen && memcmp(entry, w->s, nlen) == 0;
}

/* sandbox_env_dangerous, for a name nlen bytes long. */
static bool
env_dangerous_n(const char *name, size_t nlen)
{
	const struct env_word	*w;
	size_t			 i;

	for (i = 0; i < NITEMS(dangerous_names); i++)
		if (name_is_word(name, nlen, &dangerous_names[i]))
			return true;
	for (i = 0; i < NITEMS(dangerous_prefixes); i++) {
		w = &dangerous_prefixes[i];
		if (nlen >= w->len && memcmp(name, w->s, w->len) == 0)
			return true;
	}
	return false;
}

/* sandbox_env_credential, for a name nlen bytes long. */
static bool
env_credential_n(const char *name, size_t nlen)
{
	const struct env_word	*w;
	size_t			 i;

	for (i = 0; i < NITEMS(credential_names); i++)
		if (name_is_word(name, nlen, &credential_names[i]))
			return true;
	for (i = 0; i < NITEMS(credential_suffixes); i++) {
		w = &credential_suffixes[i];
		if (nlen > w->len && memcmp(name + nlen - w->len, w->s,
		    w->len) == 0)
			return true;
	}
	return false;
}

bool
sandbox_env_dangerous(const char *name)
{
	return env_dangerous_n(name, env_name_len(name));
}

bool
sandbox_env_credential(const char *name)
{
	return env_credential_n(name, env_name_len(name));
}

bool
sandbox_env_match(const char *pattern, const char *name)
{
	size_t	plen = strlen(pattern), nlen = env_name_len(name);

	if (plen > 0 && pattern[plen - 1] == '*')
		return nlen >= plen - 1 && memcmp(name, pattern, plen - 1) == 0;
	return name_is(name, nlen, pattern);
}

static bool
match_any(const struct strv *patterns, const char *name)
{
	size_t	i;

	for (i = 0; i < patterns->n; i++)
		if (sandbox_env_match(patterns->v[i], name))
			return true;
	return false;
}

/* Is the name of entry (nlen bytes) one of the names in list? */
static bool
name_in(const struct strv *list, const char *entry, size_t nlen)
{
	size_t	i;

	if (list == NULL)
		return false;
	for (i = 0; i < list->n; i++)
		if (name_is(entry, nlen, list->v[i]))
			return true;
	return false;
}

/* Index of the entry named like entry (nlen bytes) in env, or -1. */
static ssize_t
env_find(const struct strv *env, const char *entry, size_t nlen)
{
	size_t	i;

	for (i = 0; i < env->n; i++)
		if (strncmp(env->v[i], entry, nlen) == 0 &&
		    (env->v[i][nlen] == '=' || env->v[i][nlen] == '\0'))
			return (ssize_t)i;
	return -1;
}

/*
 * The names of the entries already inherited, so that the first entry of
 * a name wins without a scan of the list per entry: a hash_index of the
 * "NAME=value" strings of the list being built.
 */
struct env_name {
	const char	*name;
	size_t		 nlen;
};

static bool
env_names_match(size_t pos, const void *key, const void *arg)
{
	const struct strv	*env = arg;
	const struct env_name	*k = key;

	return strncmp(env->v[pos], k->name, k->nlen) == 0 &&
	    env->v[pos][k->nlen] == '=';
}

static uint32_t
env_names_hash_at(size_t pos, const void *arg)
{
	const struct strv	*env = arg;

	return hash_mem(env->v[pos], env_name_len(env->v[pos]));
}

/* The slot of name (nlen bytes) in env's index; *found: whether there. */
static size_t
env_names_find(const struct hash_index *x, const struct strv *env,
    const char *name, size_t nlen, bool *found)
{
	struct env_name	k = { name, nlen };
	size_t		slot, pos;

	slot = hash_index_slot(x, hash_mem(name, nlen), env_names_match, &k,
	    env);
	*found = hash_index_at(x, slot, &pos);
	return slot;
}

/* Remove (and wipe) the entry named like entry, if present. */
static void
env_remove(struct strv *env, const char *entry, size_t nlen)
{
	ssize_t	i = env_find(env, entry, nlen);

	if (i < 0)
		return;
	freezero_str(env->v[i]);
	memmove(&env->v[i], &env->v[i + 1],
	    (env->n - (size_t)i) * sizeof(*env->v));	/* with the NULL */
	env->n--;
}

/* Does a "NAME=value" list hold an entry named like entry? */
static bool
entry_in(const struct strv *list, const char *entry, size_t nlen)
{
	return list != NULL && env_find(list, entry, nlen) >= 0;
}

/*
 * Does the user keep credential variable entry: --allow-env names it, or
 * a profile allow_vars pattern other than a bare "*" matches it?
 */
static bool
env_credential_kept(const struct plan *p, const char *entry, size_t nlen)
{
	size_t	i;

	if (p == NULL)
		return false;
	if (name_in(&p->env_keep, entry, nlen))
		return true;
	if (!p->env_allow_set)
		return false;
	for (i = 0; i < p->env_allow.n; i++)
		if (strcmp(p->env_allow.v[i], "*") != 0 &&
		    sandbox_env_match(p->env_allow.v[i], entry))
			return true;
	return false;
}

/* Record name (nlen bytes) in list, once. */
static void
env_note(struct strv *list, const char *entry, size_t nlen)
{
	char	*name;

	if (list == NULL || name_in(list, entry, nlen))
		return;
	name = xstrndup(entry, nlen);
	strv_push_owned(list, name);
}

/* Should inherited entry (with '=' at nlen) reach the child? */
static bool
env_inherit_ok(const struct plan *p, const char *entry, size_t nlen,
    const struct strv *drop, env_secret_fn *is_secret, void *arg,
    const struct strv *keyhole_vars, struct env_report *rep)
{
	const char	*value = entry + nlen + 1;

	if (env_dangerous_n(entry, nlen)) {
		if (rep != NULL && !entry_in(keyhole_vars, entry, nlen))
			env_note(&rep->dangerous, entry, nlen);
		return false;
	}
	if (name_in(drop, entry, nlen))
		return false;
	if (p != NULL) {
		if (p->env_allow_set && !match_any(&p->env_allow, entry))
			return false;
		if (match_any(&p->env_deny, entry))
			return false;
	}
	if (is_secret != NULL && is_secret(value, strlen(value), arg))
		return false;
	/* A route's phantom replaces it anyway: nothing to say. */
	if (env_credential_n(entry, nlen) && !entry_in(keyhole_vars, entry,
	    nlen) && !env_credential_kept(p, entry, nlen)) {
		if (rep != NULL && value[0] != '\0')
			env_note(&rep->credentials, entry, nlen);
		return false;
	}
	return true;
}

void
sandbox_env_build(const struct plan *p, char *const *in,
    const struct strv *drop, env_secret_fn *is_secret, void *arg,
    const struct strv *keyhole_vars, struct strv *out)
{
	sandbox_env_build_report(p, in, drop, is_secret, arg, keyhole_vars,
	    out, NULL);
}

void
sandbox_env_report_free(struct env_report *rep)
{
	strv_free(&rep->credentials);
	strv_free(&rep->dangerous);
}

void
sandbox_env_build_report(const struct plan *p, char *const *in,
    const struct strv *drop, env_secret_fn *is_secret, void *arg,
    const struct strv *keyhole_vars, struct strv *out,
    struct env_report *rep)
{
	struct hash_index	 seen;
	const char		*s;
	size_t			 i, nlen, slot;
	bool			 found;

	sandbox_env_free(out);
	for (i = 0; in != NULL && in[i] != NULL; i++)
		;
	hash_index_init(&seen, i);
	for (i = 0; in != NULL && in[i] != NULL; i++) {
		s = in[i];
		nlen = env_name_len(s);
		if (nlen == 0 || s[nlen] != '=')
			continue;
		slot = env_names_find(&seen, out, s, nlen, &found);
		if (!found && env_inherit_ok(p, s, nlen, drop, is_secret, arg,
		    keyhole_vars, rep)) {
			strv_push(out, s);
			hash_index_put(&seen, slot, out->n - 1,
			    env_names_hash_at, out);
		}
	}
	hash_index_free(&seen);
	for (i = 0; p != NULL && i < p->env_set.n; i++) {
		s = p->env_set.v[i];
		nlen = env_name_len(s);
		if (nlen == 0 || s[nlen] != '=')
			continue;
		if (entry_in(keyhole_vars, s, nlen)) {
			log_warnx("environment: set_vars cannot override "
			    "%.*s, which keyhole sets", (int)nlen, s);
			continue;
		}
		env_remove(out, s, nlen);
		strv_push(out, s);
	}
	for (i = 0; keyhole_vars != NULL && i < keyhole_vars->n; i++) {
		s = keyhole_vars->v[i];
		nlen = env_name_len(s);
		if (nlen == 0 || s[nlen] != '=')
			continue;
		env_remove(out, s, nlen);
		strv_push(out, s);
	}
}

void
sandbox_env_free(struct strv *env)
{
	size_t	i;

	for (i = 0; i < env->n; i++)
		freezero_str(env->v[i]);
	free(env->v);
	env->v = NULL;
	env->n = 0;
}

/* Zero the value of one "NAME=value" string (len bytes) if named. */
static void
wipe_entry(char *s, size_t len, const struct strv *names)
{
	const char	*eq = memchr(s, '=', len);
	size_t		 nlen;

	if (eq == NULL)
		return;
	nlen = (size_t)(eq - s);
	if (!name_in(names, s, nlen))
		return;
	explicit_bzero(s + nlen + 1, len - nlen - 1);
}

/*
 * The environment area the kernel shows as /proc/self/environ: fields 50
 * and 51 (env_start, env_end) of /proc/self/stat.  -1 when unknown.
 */
static int
env_area(uintptr_t *start, uintptr_t *end)
{
	char		 buf[4096], *p, *q;
	ssize_t		 n;
	uint64_t	 v;
	int		 fd, field;

	fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* comm may hold spaces and ')': fields restart after the last ')'. */
	if ((p = strrchr(buf, ')')) == NULL)
		return -1;
	*start = *end = 0;
	for (field = 2, p++; *p != '\0' && field < 51; p = q) {
		p += strspn(p, " \n");
		q = p + strcspn(p, " \n");
		if (q == p)
			break;
		field++;
		if (field < 50)
			continue;
		if (strnum_parse(p, (size_t)(q - p), 0, UINTPTR_MAX, &v) == -1)
			return -1;
		if (field == 50)
			*start = (uintptr_t)v;
		else
			*end = (uintptr_t)v;
	}
	return *start != 0 && *end > *start ? 0 : -1;
}

void
sandbox_env_wipe_original(char **environ_at_start, const struct strv *names)
{
	uintptr_t	 start, end;
	char		*s;
	size_t		 i, len;

	if (names == NULL || names->n == 0)
		return;
	for (i = 0; environ_at_start != NULL && environ_at_start[i] != NULL;
	    i++)
		wipe_entry(environ_at_start[i], strlen(environ_at_start[i]),
		    names);
	/*
	 * Also walk the block itself: a setenv() or unsetenv() before us may
	 * have moved pointers out of the array, not the bytes out of the
	 * block the kernel shows.
	 */
	if (env_area(&start, &end) == 0) {
		for (s = (char *)start; s < (char *)end; s += len + 1) {
			len = strnlen(s, (size_t)((char *)end - s));
			wipe_entry(s, len, names);
		}
	}
	for (i = 0; i < names->n; i++)
		unsetenv(names->v[i]);
}
