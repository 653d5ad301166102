#include "profile/profile.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/strbuf.h"
#include "util/xmalloc.h"

/*
 * Path variables (nono-profile.md §4.1), with whole-name matching: nono
 * substitutes substrings, so "$HOMEX" became "<home>X"; here a name ends
 * at the first byte outside [A-Za-z0-9_] and unknown names stay literal.
 */

static int
check_abs(const char *name, const char *v, struct errbuf *e)
{
	if (v == NULL)
		return 0;
	if (v[0] != '/') {
		errbuf_set(e, "environment variable %s must be an absolute "
		    "path, got: '%s'", name, v);
		return -1;
	}
	return 0;
}

int
profile_env_check(const struct profile_env *env, struct errbuf *e)
{
	if (env->home == NULL || env->home[0] == '\0') {
		errbuf_set(e, "environment variable HOME is not set");
		return -1;
	}
	/* Every set variable is checked, used or not (as nono does). */
	if (check_abs("HOME", env->home, e) == -1 ||
	    check_abs("TMPDIR", env->tmpdir, e) == -1 ||
	    check_abs("XDG_CONFIG_HOME", env->xdg_config_home, e) == -1 ||
	    check_abs("XDG_DATA_HOME", env->xdg_data_home, e) == -1 ||
	    check_abs("XDG_STATE_HOME", env->xdg_state_home, e) == -1 ||
	    check_abs("XDG_CACHE_HOME", env->xdg_cache_home, e) == -1 ||
	    check_abs("XDG_RUNTIME_DIR", env->xdg_runtime_dir, e) == -1)
		return -1;
	return 0;
}

/* Append v, or home + "/" + sub when v is unset. */
static void
xdg(struct strbuf *sb, const char *v, const char *home, const char *sub)
{
	if (v != NULL)
		strbuf_append(sb, v);
	else
		strbuf_appendf(sb, "%s/%s", home, sub);
}

/* Substitute the variable name[0..n) into sb.  false: not ours. */
static bool
subst(struct strbuf *sb, const char *name, size_t n,
    const struct profile_env *env)
{
	char	cwd[PATH_MAX];
	size_t	len;

#define IS(s)	(n == sizeof(s) - 1 && memcmp(name, s, n) == 0)
	if (IS("HOME"))
		strbuf_append(sb, env->home);
	else if (IS("WORKDIR")) {
		if (env->workdir != NULL)
			strbuf_append(sb, env->workdir);
		else if (getcwd(cwd, sizeof(cwd)) != NULL)
			strbuf_append(sb, cwd);
		else
			strbuf_append(sb, ".");
	} else if (IS("TMPDIR")) {
		const char *t = env->tmpdir != NULL ? env->tmpdir : "/tmp";

		len = strlen(t);
		while (len > 1 && t[len - 1] == '/')
			len--;
		strbuf_appendn(sb, t, len);
	} else if (IS("UID"))
		strbuf_appendf(sb, "%lu", (unsigned long)env->uid);
	else if (IS("XDG_CONFIG_HOME"))
		xdg(sb, env->xdg_config_home, env->home, ".config");
	else if (IS("XDG_DATA_HOME"))
		xdg(sb, env->xdg_data_home, env->home, ".local/share");
	else if (IS("XDG_STATE_HOME"))
		xdg(sb, env->xdg_state_home, env->home, ".local/state");
	else if (IS("XDG_CACHE_HOME"))
		xdg(sb, env->xdg_cache_home, env->home, ".cache");
	else if (IS("XDG_RUNTIME_DIR") && env->xdg_runtime_dir != NULL)
		strbuf_append(sb, env->xdg_runtime_dir);
	else
		return false;
#undef IS
	return true;
}

static bool
name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_';
}

/* Length of a leading "$HOME" or "~" followed by "/" or the end, else 0. */
static size_t
expand_home_prefix(const char *p)
{
	if (p[0] == '~' && (p[1] == '\0' || p[1] == '/'))
		return 1;
	if (strncmp(p, "$HOME", 5) == 0 && (p[5] == '\0' || p[5] == '/'))
		return 5;
	return 0;
}

/* a + b, allocated once. */
static char *
expand_join(const char *a, const char *b)
{
	size_t	 na = strlen(a), nb = strlen(b);
	char	*s;

	s = xmalloc(na + nb + 1);
	memcpy(s, a, na);
	memcpy(s + na, b, nb + 1);
	return s;
}

char *
profile_expand(const char *tmpl, const struct profile_env *env,
    struct errbuf *e)
{
	struct strbuf	 sb = { 0 };
	const char	*p = tmpl;
	size_t		 n;

	if (profile_env_check(env, e) == -1)
		return NULL;
	/* Nothing to substitute (the system paths of the groups). */
	if (p[0] != '~' && strchr(p, '$') == NULL)
		return xstrdup(p);
	/* "$HOME/rest" or "~/rest", nothing else to substitute: one copy. */
	if ((n = expand_home_prefix(p)) != 0 && strchr(p + n, '$') == NULL)
		return expand_join(env->home, p + n);
	if (p[0] == '~' && (p[1] == '\0' || p[1] == '/')) {
		strbuf_append(&sb, env->home);
		p++;
	}
	while (*p != '\0') {
		if (*p != '$') {
			n = strcspn(p, "$");
			strbuf_appendn(&sb, p, n);
			p += n;
			continue;
		}
		for (n = 0; name_char(p[1 + n]); n++)
			;
		if (n == 0 || !subst(&sb, p + 1, n, env))
			strbuf_appendn(&sb, p, n + 1);
		p += n + 1;
	}
	return strbuf_steal(&sb);
}

int
profile_expand_list(const struct strv *src, const struct profile_env *env,
    struct strv *dst, struct errbuf *e)
{
	char	*s;
	size_t	 i;

	for (i = 0; i < src->n; i++) {
		if ((s = profile_expand(src->v[i], env, e)) == NULL) {
			errbuf_wrap(e, "expanding '%s'", src->v[i]);
			return -1;
		}
		strv_push_owned(dst, s);
	}
	return 0;
}
