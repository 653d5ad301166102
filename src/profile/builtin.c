#include "profile/profile.h"

#include <sys/types.h>

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "util/jscan.h"
#include "util/log.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

/*
 * The embedded data/policy.json: policy groups (nono-profile.md §8) and
 * the built-in profiles (§6).  A run needs a fraction of it, and jansson
 * takes 10 ns a byte (bench/startup), so the text is only scanned at
 * first use for where each group and profile sits; each is parsed when
 * first asked for.  Bad data is a build bug, so it aborts.  Groups are
 * lenient about unknown keys (as in nono); profiles go through the
 * strict profile parser.
 */

/* Where one group or profile sits in the embedded text. */
struct builtin_item {
	char		*name;		/* owned */
	size_t		 start;		/* its value: [start, end) */
	size_t		 end;
};

struct builtin_list {
	struct builtin_item	*items;		/* owned array */
	size_t			 n;
};

struct builtin {
	struct builtin_list	 groups;
	struct profile_group	**group;	/* owned; parsed on first use */
	struct builtin_list	 profiles;
	struct profile		**profile;	/* owned; parsed on first use */
};

static struct builtin	*builtin_data;	/* scanned once, kept for the run */

static void
strlist(json_t *obj, const char *key, struct strv *out, const char *gname)
{
	json_t	*v, *it;
	size_t	 i;

	if ((v = json_object_get(obj, key)) == NULL)
		return;
	if (!json_is_array(v))
		log_fatalx("policy data: groups.%s: %s must be a list", gname,
		    key);
	json_array_foreach(v, i, it) {
		if (!json_is_string(it))
			log_fatalx("policy data: groups.%s: %s[%zu] must be "
			    "a string", gname, key, i);
		strv_push_unique(out, json_string_value(it));
	}
}

static void
parse_group(struct profile_group *g, const char *name, json_t *v)
{
	json_t	*d, *a;

	memset(g, 0, sizeof(*g));
	if (!json_is_object(v))
		log_fatalx("policy data: groups.%s must be an object", name);
	g->name = xstrdup(name);
	if (!json_is_string(d = json_object_get(v, "description")))
		log_fatalx("policy data: groups.%s: description missing", name);
	g->description = xstrdup(json_string_value(d));
	if ((d = json_object_get(v, "platform")) != NULL) {
		if (!json_is_string(d))
			log_fatalx("policy data: groups.%s: bad platform",
			    name);
		g->platform = xstrdup(json_string_value(d));
	}
	g->required = json_is_true(json_object_get(v, "required"));
	if ((a = json_object_get(v, "allow")) != NULL) {
		strlist(a, "read", &g->read, name);
		strlist(a, "write", &g->write, name);
		strlist(a, "readwrite", &g->readwrite, name);
	}
	if ((d = json_object_get(v, "deny")) != NULL) {
		strlist(d, "access", &g->deny_access, name);
		strlist(d, "commands", &g->deny_commands, name);
	}
	if ((d = json_object_get(v, "agent")) != NULL) {
		if (!json_is_string(d))
			log_fatalx("policy data: groups.%s: bad agent", name);
		g->agent = xstrdup(json_string_value(d));
	}
	if ((d = json_object_get(v, "create")) != NULL) {
		strlist(d, "dirs", &g->create_dirs, name);
		strlist(d, "files", &g->create_files, name);
	}
}

/* Record one member of "groups" or "profiles". */
static int
builtin_note(const char *name, size_t n, size_t start, size_t end,
    void *arg)
{
	struct builtin_list	*l = arg;
	struct builtin_item	*it;
	size_t			 i;

	if (memchr(name, '\\', n) != NULL)
		log_fatalx("policy data: escaped name %.*s", (int)n, name);
	for (i = 0; i < l->n; i++)
		if (strlen(l->items[i].name) == n &&
		    memcmp(l->items[i].name, name, n) == 0)
			log_fatalx("policy data: %.*s defined twice", (int)n,
			    name);
	l->items = xreallocarray(l->items, l->n + 1, sizeof(*l->items));
	it = &l->items[l->n++];
	it->name = xstrndup(name, n);
	it->start = start;
	it->end = end;
	return 0;
}

/* Index the members of one top-level section. */
static int
builtin_section(const char *name, size_t n, size_t start, size_t end,
    void *arg)
{
	struct builtin		*b = arg;
	struct builtin_list	*l;
	struct jscan		 j = { data_policy_json, end, start };

	if (jscan_key_equals(name, n, "groups"))
		l = &b->groups;
	else if (jscan_key_equals(name, n, "profiles"))
		l = &b->profiles;
	else
		return 0;
	if (l->items != NULL)
		log_fatalx("policy data: %.*s defined twice", (int)n, name);
	if (jscan_members(&j, builtin_note, l) == -1)
		log_fatalx("policy data: %.*s must be an object", (int)n,
		    name);
	return 0;
}

static struct builtin *
builtin_get(void)
{
	struct builtin	*b;
	struct jscan	 j = { data_policy_json, data_policy_json_len, 0 };

	if (builtin_data != NULL)
		return builtin_data;
	b = xcalloc(1, sizeof(*b));
	if (jscan_members(&j, builtin_section, b) == -1)
		log_fatalx("policy data: not a JSON object");
	if (b->groups.items == NULL || b->profiles.items == NULL)
		log_fatalx("policy data: groups and profiles required");
	b->group = xcalloc(b->groups.n, sizeof(*b->group));
	b->profile = xcalloc(b->profiles.n, sizeof(*b->profile));
	builtin_data = b;
	return b;
}

/* Index of name in l, or -1. */
static ssize_t
builtin_find(const struct builtin_list *l, const char *name)
{
	size_t	i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->items[i].name, name) == 0)
			return (ssize_t)i;
	return -1;
}

/* Parse one item's value; the caller owns the result. */
static json_t *
builtin_parse(const char *section, const struct builtin_item *it)
{
	json_error_t	 je;
	json_t		*v;

	v = json_loadb(data_policy_json + it->start, it->end - it->start,
	    JSON_REJECT_DUPLICATES, &je);
	if (v == NULL)
		log_fatalx("policy data: %s.%s: line %d column %d: %s",
		    section, it->name, je.line, je.column, je.text);
	return v;
}

const struct profile_group *
profile_builtin_group(const char *name)
{
	struct builtin	*b = builtin_get();
	json_t		*v;
	ssize_t		 i;

	if ((i = builtin_find(&b->groups, name)) == -1)
		return NULL;
	if (b->group[i] == NULL) {
		v = builtin_parse("groups", &b->groups.items[i]);
		b->group[i] = xcalloc(1, sizeof(*b->group[i]));
		parse_group(b->group[i], name, v);
		json_decref(v);
	}
	return b->group[i];
}

void
profile_builtin_group_names(struct strv *out)
{
	const struct builtin	*b = builtin_get();
	size_t			 i;

	for (i = 0; i < b->groups.n; i++)
		strv_push(out, b->groups.items[i].name);
}

void
profile_builtin_names(struct strv *out)
{
	const struct builtin	*b = builtin_get();
	size_t			 i;

	for (i = 0; i < b->profiles.n; i++)
		strv_push(out, b->profiles.items[i].name);
}

static const struct profile *
builtin_profile(const char *name)
{
	struct builtin	*b = builtin_get();
	struct errbuf	 e = { 0 };
	json_t		*v;
	ssize_t		 i;

	if ((i = builtin_find(&b->profiles, name)) == -1)
		return NULL;
	if (b->profile[i] == NULL) {
		v = builtin_parse("profiles", &b->profiles.items[i]);
		b->profile[i] = profile_parse_builtin(data_policy_json,
		    data_policy_json_len, v, name, &e);
		json_decref(v);
		if (b->profile[i] == NULL)
			log_fatalx("policy data: %s", errbuf_msg(&e));
	}
	return b->profile[i];
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

const struct strv *
profile_builtin_default_groups(void)
{
	const struct profile	*d;

	if ((d = builtin_profile("default")) == NULL)
		log_fatalx("policy data: no built-in profile 'default'");
	return &d->security.groups;
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
		out->grants = xreallocarray(out->grants, out->ngrants + 1,
		    sizeof(*out->grants));
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
	size_t				 i;

	for (i = 0; i < groups->n; i++) {
		if ((g = profile_builtin_group(groups->v[i])) == NULL) {
			errbuf_set(e, "unknown policy group '%s'",
			    groups->v[i]);
			return -1;
		}
		if (!on_linux(g))
			continue;
		if (add_grants(out, g, &g->read, FS_READ, env, e) == -1 ||
		    add_grants(out, g, &g->write, FS_WRITE, env, e) == -1 ||
		    add_grants(out, g, &g->readwrite, FS_READWRITE, env,
		    e) == -1)
			return -1;
		if (profile_expand_list(&g->deny_access, env,
		    &out->deny_access, e) == -1) {
			errbuf_wrap(e, "group %s", g->name);
			return -1;
		}
		strv_merge(&out->deny_commands, &g->deny_commands);
	}
	return 0;
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
