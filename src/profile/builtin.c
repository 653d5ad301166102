#include "profile/profile.h"

#include <sys/types.h>

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "profile/builtin_data.h"
#include "util/log.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

/*
 * The built-in data/policy.json: policy groups (nono-profile.md §8) and
 * the built-in profiles (§6).  The groups are compiled in at build time
 * (scripts/policygen.py, profile/builtin_data.h), which also checked
 * them; a built-in profile goes through the strict profile parser from
 * its place in the embedded text when first asked for, and bad data
 * there is a build bug, so it aborts.
 */

static struct profile	**builtin_parsed;	/* [nprofiles], kept for the run */

const struct profile_group *
profile_builtin_group(const char *name)
{
	size_t	i;

	/* The first byte first: ~80 look-ups of 45 names a run. */
	for (i = 0; i < profile_builtin_ngroups; i++)
		if (profile_builtin_groups[i].name[0] == name[0] &&
		    strcmp(profile_builtin_groups[i].name, name) == 0)
			return &profile_builtin_groups[i];
	return NULL;
}

void
profile_builtin_group_names(struct strv *out)
{
	size_t	i;

	for (i = 0; i < profile_builtin_ngroups; i++)
		strv_push(out, profile_builtin_groups[i].name);
}

void
profile_builtin_names(struct strv *out)
{
	size_t	i;

	for (i = 0; i < profile_builtin_nprofiles; i++)
		strv_push(out, profile_builtin_profiles[i].name);
}

static const struct profile *
builtin_profile(const char *name)
{
	const struct profile_builtin_span	*sp;
	struct errbuf				 e = { 0 };
	json_error_t				 je;
	json_t					*v;
	size_t					 i;

	for (i = 0; i < profile_builtin_nprofiles; i++)
		if (strcmp(profile_builtin_profiles[i].name, name) == 0)
			break;
	if (i == profile_builtin_nprofiles)
		return NULL;
	if (builtin_parsed == NULL)
		builtin_parsed = xcalloc(profile_builtin_nprofiles,
		    sizeof(*builtin_parsed));
	if (builtin_parsed[i] == NULL) {
		sp = &profile_builtin_profiles[i];
		v = json_loadb(data_policy_json + sp->start,
		    sp->end - sp->start, JSON_REJECT_DUPLICATES, &je);
		if (v == NULL)
			log_fatalx("policy data: profiles.%s: line %d column "
			    "%d: %s", name, je.line, je.column, je.text);
		builtin_parsed[i] = profile_parse_builtin(data_policy_json,
		    data_policy_json_len, v, name, &e);
		json_decref(v);
		if (builtin_parsed[i] == NULL)
			log_fatalx("policy data: %s", errbuf_msg(&e));
	}
	return builtin_parsed[i];
}

struct profile *
profile_builtin_get(const char *name)
{
	const struct profile	*src;
	struct profile		*p;

	if ((src = builtin_profile(name)) == NULL)
		return NULL;
	p = profile_copy(src);
	strv_copy(&p->extends, &src->extends);
	return p;
}

/* Compiled in: nothing parsed (test_profile_builtin.c compares). */
const struct strv *
profile_builtin_default_groups(void)
{
	return &profile_builtin_default_security_groups;
}

int
profile_finalise(struct profile *p, struct errbuf *e)
{
	const struct profile_group	*g;
	const struct strv		*ex = &p->policy.exclude_groups;
	struct strbuf			 bad = { 0 };
	size_t				 i;

	/* Required groups cannot be excluded, whatever their platform. */
	for (i = 0; i < ex->n; i++) {
		g = profile_builtin_group(ex->v[i]);
		if (g != NULL && g->required)
			strbuf_appendf(&bad, "%s'%s'", bad.len > 0 ? ", " : "",
			    ex->v[i]);
	}
	if (bad.len > 0) {
		errbuf_set(e, "policy.exclude_groups: cannot exclude required "
		    "groups: %s", strbuf_str(&bad));
		strbuf_free(&bad);
		return -1;
	}
	for (i = 0; i < p->security.groups.n; i++) {
		if (profile_builtin_group(p->security.groups.v[i]) == NULL) {
			errbuf_set(e, "security.groups: unknown policy group "
			    "'%s'", p->security.groups.v[i]);
			return -1;
		}
	}
	strv_free(&p->groups);
	if (strcmp(p->meta.name, "default") != 0)
		strv_copy(&p->groups, profile_builtin_default_groups());
	strv_merge(&p->groups, &p->security.groups);
	/* Exclusion wins over inclusion; unknown names are ignored. */
	for (i = 0; i < p->groups.n; ) {
		if (strv_contains(ex, p->groups.v[i])) {
			free(p->groups.v[i]);
			memmove(&p->groups.v[i], &p->groups.v[i + 1],
			    (p->groups.n - i) * sizeof(*p->groups.v));
			p->groups.n--;
		} else
			i++;
	}
	p->finalised = true;
	return 0;
}

static bool
on_linux(const struct profile_group *g)
{
	return g->platform == NULL || strcmp(g->platform, "linux") == 0;
}

int
profile_builtin_default_effective(struct strv *out, struct errbuf *e)
{
	const struct strv		*names = profile_builtin_default_groups();
	const struct profile_group	*g;
	size_t				 i, j, n = out->n;

	for (i = 0; i < names->n; i++) {
		if ((g = profile_builtin_group(names->v[i])) == NULL) {
			errbuf_set(e, "profile builtin:default: security.groups: "
			    "unknown policy group '%s'", names->v[i]);
			while (out->n > n)
				free(out->v[--out->n]);
			if (out->v != NULL)
				out->v[out->n] = NULL;
			return -1;
		}
		/* Once each, as finalise merges it; then Linux's only. */
		for (j = 0; j < i; j++)
			if (names->v[j][0] == names->v[i][0] &&
			    strcmp(names->v[j], names->v[i]) == 0)
				break;
		if (j == i && on_linux(g))
			strv_push(out, g->name);
	}
	return 0;
}

int
profile_effective_groups(const struct profile *p, struct strv *out,
    struct errbuf *e)
{
	const struct profile_group	*g;
	size_t				 i;

	if (!p->finalised) {
		errbuf_set(e, "profile %s: not finalised", p->label != NULL ?
		    p->label : "(unnamed)");
		return -1;
	}
	for (i = 0; i < p->groups.n; i++) {
		if ((g = profile_builtin_group(p->groups.v[i])) == NULL) {
			errbuf_set(e, "unknown policy group '%s'",
			    p->groups.v[i]);
			return -1;
		}
		if (on_linux(g))
			strv_push(out, g->name);
	}
	return 0;
}

static int
add_grants(struct profile_group_paths *out, const struct profile_group *g,
    const struct strv *paths, enum fs_access acc,
    const struct profile_env *env, struct errbuf *e)
{
	struct profile_grant	*gr;
	char			*s;
	size_t			 i;

	for (i = 0; i < paths->n; i++) {
		if ((s = profile_expand(paths->v[i], env, e)) == NULL) {
			errbuf_wrap(e, "group %s: '%s'", g->name,
			    paths->v[i]);
			return -1;
		}
		/* Room made by profile_groups_expand. */
		gr = &out->grants[out->ngrants++];
		gr->path = s;
		gr->access = acc;
		gr->group = g->name;
		gr->create = strv_contains(&g->create_dirs, paths->v[i]) ?
		    PROFILE_CREATE_DIR : strv_contains(&g->create_files,
		    paths->v[i]) ? PROFILE_CREATE_FILE : PROFILE_CREATE_NONE;
	}
	return 0;
}

int
profile_groups_expand(const struct strv *groups,
    const struct profile_env *env, struct profile_group_paths *out,
    struct errbuf *e)
{
	const struct profile_group	*g;
	struct strv_set			 commands;
	size_t				 i, j, n;
	int				 rc = -1;

	/* One allocation for the grants, one table for the commands. */
	for (i = j = n = 0; i < groups->n; i++)
		if ((g = profile_builtin_group(groups->v[i])) != NULL) {
			j += g->deny_commands.n;
			n += g->read.n + g->write.n + g->readwrite.n;
		}
	out->grants = xreallocarray(out->grants, out->ngrants + n + 1,
	    sizeof(*out->grants));
	strv_set_init(&commands, &out->deny_commands, out->no_commands ? 0 :
	    j);
	for (i = 0; i < groups->n; i++) {
		if ((g = profile_builtin_group(groups->v[i])) == NULL) {
			errbuf_set(e, "unknown policy group '%s'",
			    groups->v[i]);
			goto out;
		}
		if (!on_linux(g))
			continue;
		if (add_grants(out, g, &g->read, FS_READ, env, e) == -1 ||
		    add_grants(out, g, &g->write, FS_WRITE, env, e) == -1 ||
		    add_grants(out, g, &g->readwrite, FS_READWRITE, env,
		    e) == -1)
			goto out;
		if (profile_expand_list(&g->deny_access, env,
		    &out->deny_access, e) == -1) {
			errbuf_wrap(e, "group %s", g->name);
			goto out;
		}
		/* strv_merge, with one table for all the groups. */
		for (j = 0; !out->no_commands && j < g->deny_commands.n; j++)
			(void)strv_set_push_unique(&commands,
			    &out->deny_commands, g->deny_commands.v[j]);
	}
	rc = 0;
out:
	strv_set_free(&commands);
	return rc;
}

void
profile_group_paths_free(struct profile_group_paths *gp)
{
	size_t	i;

	for (i = 0; i < gp->ngrants; i++)
		free(gp->grants[i].path);
	free(gp->grants);
	gp->grants = NULL;
	gp->ngrants = 0;
	strv_free(&gp->deny_access);
	strv_free(&gp->deny_commands);
}
