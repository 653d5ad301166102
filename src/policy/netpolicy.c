#include "policy/netpolicy.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "policy/allowlist.h"
#include "policy/route.h"
#include "util/log.h"
#include "util/xmalloc.h"

/*
 * Every error of this file is "network policy: <where>: <what>", where is
 * a key path such as groups.github.hosts[2].
 */

/* A string member; -1 with e when it is there but not a string. */
static int
np_string(json_t *v, const char *path, char **out, struct errbuf *e)
{
	if (!json_is_string(v)) {
		errbuf_set(e, "network policy: %s: must be a string", path);
		return -1;
	}
	free(*out);
	*out = xstrdup(json_string_value(v));
	return 0;
}

/* An array of strings appended to out. */
static int
np_strings(json_t *v, const char *path, struct strv *out, struct errbuf *e)
{
	json_t	*item;
	size_t	 i;

	if (!json_is_array(v))
		goto bad;
	json_array_foreach(v, i, item)
		if (!json_is_string(item))
			goto bad;
	json_array_foreach(v, i, item)
		strv_push(out, json_string_value(item));
	return 0;
bad:
	errbuf_set(e, "network policy: %s: must be an array of strings", path);
	return -1;
}

/* Canonical host, or -1 naming path[i]. */
static int
np_host(const char *path, size_t i, const char *h, char **out,
    struct errbuf *e)
{
	if ((*out = policy_allowlist_canon_host(h, strlen(h), e)) == NULL) {
		errbuf_wrap(e, "network policy: %s[%zu]", path, i);
		return -1;
	}
	return 0;
}

static int
np_group(struct netgroup *g, const char *name, json_t *obj, struct errbuf *e)
{
	struct strv	 raw = { 0 };
	const char	*key;
	json_t		*v;
	char		*path = NULL, *h;
	size_t		 i;
	int		 rv = -1;

	g->name = xstrdup(name);
	if (!policy_netpolicy_may_name_group(name)) {
		errbuf_set(e, "network policy: groups.%s: a group name has "
		    "none of '%s' (it would read as a host)", name,
		    NETPOLICY_NOT_IN_GROUP_NAME);
		return -1;
	}
	if (!json_is_object(obj)) {
		errbuf_set(e, "network policy: groups.%s: must be an object",
		    name);
		return -1;
	}
	json_object_foreach(obj, key, v) {
		free(path);
		path = xasprintf("groups.%s.%s", name, key);
		strv_free(&raw);
		if (strcmp(key, "description") == 0) {
			if (np_string(v, path, &g->description, e) == -1)
				goto out;
		} else if (strcmp(key, "hosts") == 0) {
			if (np_strings(v, path, &raw, e) == -1)
				goto out;
			for (i = 0; i < raw.n; i++) {
				if (np_host(path, i, raw.v[i], &h, e) == -1)
					goto out;
				strv_push_owned(&g->hosts, h);
			}
		} else if (strcmp(key, "suffixes") == 0) {
			if (np_strings(v, path, &raw, e) == -1)
				goto out;
			for (i = 0; i < raw.n; i++) {
				if (raw.v[i][0] != '.') {
					errbuf_set(e, "network policy: "
					    "%s[%zu]: a suffix starts with '.'",
					    path, i);
					goto out;
				}
				if (np_host(path, i, raw.v[i] + 1, &h, e) == -1)
					goto out;
				strv_push_owned(&g->suffixes,
				    xasprintf(".%s", h));
				free(h);
			}
		} else {
			errbuf_set(e, "network policy: %s: unknown key", path);
			goto out;
		}
	}
	rv = 0;
out:
	free(path);
	strv_free(&raw);
	return rv;
}

static int
np_groups(struct netpolicy *np, json_t *obj, struct errbuf *e)
{
	const char	*name;
	json_t		*v;

	if (!json_is_object(obj)) {
		errbuf_set(e, "network policy: groups: must be an object");
		return -1;
	}
	np->groups = xcalloc(json_object_size(obj), sizeof(*np->groups));
	json_object_foreach(obj, name, v) {
		if (np_group(&np->groups[np->ngroups++], name, v, e) == -1)
			return -1;
	}
	return 0;
}

/* One endpoint rule {method, path} appended to d. */
static int
np_rule(struct route_def *d, const char *path, json_t *obj, struct errbuf *e)
{
	const char	*key;
	json_t		*v;
	char		*method = NULL, *rpath = NULL, *kp;
	int		 rv = -1;

	if (!json_is_object(obj)) {
		errbuf_set(e, "network policy: %s: must be an object", path);
		return -1;
	}
	json_object_foreach(obj, key, v) {
		kp = xasprintf("%s.%s", path, key);
		if (strcmp(key, "method") == 0)
			rv = np_string(v, kp, &method, e);
		else if (strcmp(key, "path") == 0)
			rv = np_string(v, kp, &rpath, e);
		else {
			errbuf_set(e, "network policy: %s: unknown key", kp);
			rv = -1;
		}
		free(kp);
		if (rv == -1)
			goto out;
	}
	rv = -1;
	if (method == NULL || rpath == NULL) {
		errbuf_set(e, "network policy: %s: needs method and path",
		    path);
		goto out;
	}
	policy_route_def_add_rule(d, method, rpath);
	rv = 0;
out:
	free(method);
	free(rpath);
	return rv;
}

/* The string fields of a credential definition, by key. */
static char **
np_cred_field(struct route_def *d, const char *key)
{
	if (strcmp(key, "upstream") == 0)
		return &d->upstream;
	if (strcmp(key, "credential_key") == 0)
		return &d->credential_key;
	if (strcmp(key, "inject_header") == 0)
		return &d->inject_header;
	if (strcmp(key, "credential_format") == 0)
		return &d->credential_format;
	if (strcmp(key, "path_pattern") == 0)
		return &d->path_pattern;
	if (strcmp(key, "path_replacement") == 0)
		return &d->path_replacement;
	if (strcmp(key, "query_param_name") == 0)
		return &d->query_param_name;
	if (strcmp(key, "env_var") == 0)
		return &d->env_var;
	if (strcmp(key, "base_url_var") == 0)
		return &d->base_url_var;
	return NULL;
}

/* "hosts": [{"host", "inject_mode", "inject_header", "credential_format"}] */
static int
np_hosts(struct route_def *d, const char *path, json_t *v, struct errbuf *e)
{
	json_t		*item, *f;
	const char	*s[4], *keys[4] = { "host", "inject_mode",
			    "inject_header", "credential_format" };
	size_t		 i, k;

	if (!json_is_array(v)) {
		errbuf_set(e, "network policy: %s: must be an array", path);
		return -1;
	}
	json_array_foreach(v, i, item) {
		if (!json_is_object(item) || json_object_size(item) > 4) {
			errbuf_set(e, "network policy: %s[%zu]: must be an "
			    "object of host, inject_mode, inject_header, "
			    "credential_format", path, i);
			return -1;
		}
		for (k = 0; k < 4; k++) {
			f = json_object_get(item, keys[k]);
			if (f != NULL && !json_is_string(f)) {
				errbuf_set(e, "network policy: %s[%zu].%s: must "
				    "be a string", path, i, keys[k]);
				return -1;
			}
			s[k] = f != NULL ? json_string_value(f) : NULL;
		}
		if (s[0] == NULL) {
			errbuf_set(e, "network policy: %s[%zu].host: required",
			    path, i);
			return -1;
		}
		if (policy_route_def_add_host(d, s[0], s[1], s[2], s[3], e) ==
		    -1) {
			errbuf_wrap(e, "network policy: %s", path);
			return -1;
		}
	}
	return 0;
}

static int
np_credential(struct route_def *d, json_t *obj, struct errbuf *e)
{
	struct route	*r;
	const char	*key;
	json_t		*v, *item;
	char		*path = NULL, *ip, *mode = NULL, **field;
	size_t		 i;
	int		 rv = -1;

	if (!json_is_object(obj)) {
		errbuf_set(e, "network policy: credentials.%s: must be an "
		    "object", d->name);
		return -1;
	}
	json_object_foreach(obj, key, v) {
		free(path);
		path = xasprintf("credentials.%s.%s", d->name, key);
		if ((field = np_cred_field(d, key)) != NULL) {
			if (np_string(v, path, field, e) == -1)
				goto out;
		} else if (strcmp(key, "inject_mode") == 0) {
			if (np_string(v, path, &mode, e) == -1)
				goto out;
			if (policy_route_inject_mode(mode, &d->inject_mode) ==
			    -1) {
				errbuf_set(e, "network policy: %s: unknown "
				    "mode '%s' (header, url_path, query_param, "
				    "basic_auth)", path, mode);
				goto out;
			}
		} else if (strcmp(key, "hosts") == 0) {
			if (np_hosts(d, path, v, e) == -1)
				goto out;
		} else if (strcmp(key, "endpoint_rules") == 0) {
			if (!json_is_array(v)) {
				errbuf_set(e, "network policy: %s: must be an "
				    "array", path);
				goto out;
			}
			json_array_foreach(v, i, item) {
				ip = xasprintf("%s[%zu]", path, i);
				rv = np_rule(d, ip, item, e);
				free(ip);
				if (rv == -1)
					goto out;
			}
			rv = -1;
		} else {
			errbuf_set(e, "network policy: %s: unknown key", path);
			goto out;
		}
	}
	if (d->upstream == NULL) {
		errbuf_set(e, "network policy: credentials.%s.upstream: "
		    "required", d->name);
		goto out;
	}
	policy_route_def_fill_defaults(d);
	/* Check it the way a run will use it, so bad data fails early. */
	if ((r = policy_route_new(d, e)) == NULL) {
		errbuf_wrap(e, "network policy: credentials.%s", d->name);
		goto out;
	}
	policy_route_free(r);
	rv = 0;
out:
	free(path);
	free(mode);
	return rv;
}

static int
np_credentials(struct netpolicy *np, json_t *obj, struct errbuf *e)
{
	const char	*name;
	json_t		*v;

	if (!json_is_object(obj)) {
		errbuf_set(e, "network policy: credentials: must be an object");
		return -1;
	}
	np->credentials = xcalloc(json_object_size(obj),
	    sizeof(*np->credentials));
	json_object_foreach(obj, name, v) {
		np->credentials[np->ncredentials] = policy_route_def_new(name);
		if (np_credential(np->credentials[np->ncredentials++], v,
		    e) == -1)
			return -1;
	}
	return 0;
}

static int
np_profile(struct netpolicy *np, struct netprofile *p, const char *name,
    json_t *obj, struct errbuf *e)
{
	const char	*key;
	json_t		*v;
	char		*path;
	size_t		 i;

	p->name = xstrdup(name);
	if (!json_is_object(obj)) {
		errbuf_set(e, "network policy: profiles.%s: must be an object",
		    name);
		return -1;
	}
	json_object_foreach(obj, key, v) {
		path = xasprintf("profiles.%s.%s", name, key);
		if (strcmp(key, "groups") == 0) {
			if (np_strings(v, path, &p->groups, e) == -1)
				goto fail;
			for (i = 0; i < p->groups.n; i++) {
				if (policy_netpolicy_group(np,
				    p->groups.v[i]) == NULL) {
					errbuf_set(e, "network policy: %s: "
					    "unknown group '%s'", path,
					    p->groups.v[i]);
					goto fail;
				}
			}
		} else if (strcmp(key, "credentials") == 0) {
			if (np_strings(v, path, &p->credentials, e) == -1)
				goto fail;
			for (i = 0; i < p->credentials.n; i++) {
				if (policy_netpolicy_credential(np,
				    p->credentials.v[i]) == NULL) {
					errbuf_set(e, "network policy: %s: "
					    "unknown credential '%s'", path,
					    p->credentials.v[i]);
					goto fail;
				}
			}
		} else {
			errbuf_set(e, "network policy: %s: unknown key", path);
			goto fail;
		}
		free(path);
	}
	return 0;
fail:
	free(path);
	return -1;
}

static int
np_profiles(struct netpolicy *np, json_t *obj, struct errbuf *e)
{
	const char	*name;
	json_t		*v;

	if (!json_is_object(obj)) {
		errbuf_set(e, "network policy: profiles: must be an object");
		return -1;
	}
	np->profiles = xcalloc(json_object_size(obj), sizeof(*np->profiles));
	json_object_foreach(obj, name, v) {
		if (np_profile(np, &np->profiles[np->nprofiles++], name, v,
		    e) == -1)
			return -1;
	}
	return 0;
}

struct netpolicy *
policy_netpolicy_parse(const char *json, size_t len, struct errbuf *e)
{
	struct netpolicy	*np;
	json_error_t		 je;
	json_t			*root, *v;
	const char		*key;

	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
	if (root == NULL) {
		errbuf_set(e, "network policy: line %d column %d: %s",
		    je.line, je.column, je.text);
		return NULL;
	}
	np = xcalloc(1, sizeof(*np));
	if (!json_is_object(root)) {
		errbuf_set(e, "network policy: the document must be an "
		    "object");
		goto fail;
	}
	json_object_foreach(root, key, v) {
		if (strcmp(key, "meta") == 0) {
			/* version information only; nothing to check */
			if (!json_is_object(v)) {
				errbuf_set(e, "network policy: meta: must be "
				    "an object");
				goto fail;
			}
		} else if (strcmp(key, "groups") == 0) {
			if (np_groups(np, v, e) == -1)
				goto fail;
		} else if (strcmp(key, "credentials") == 0) {
			if (np_credentials(np, v, e) == -1)
				goto fail;
		} else if (strcmp(key, "profiles") != 0 &&
		    strcmp(key, "$schema") != 0) {
			errbuf_set(e, "network policy: %s: unknown key", key);
			goto fail;
		}
	}
	/* Profiles last: they name groups and credentials. */
	if ((v = json_object_get(root, "profiles")) != NULL &&
	    np_profiles(np, v, e) == -1)
		goto fail;
	json_decref(root);
	return np;
fail:
	json_decref(root);
	policy_netpolicy_free(np);
	return NULL;
}

/*
 * The embedded policy is a constant of the build: parse it on first use
 * and keep it for the life of the process (never freed; the supervisor is
 * single-threaded, so no lock).  Bad embedded data is a build bug.
 */
const struct netpolicy *
policy_netpolicy_builtin(void)
{
	static struct netpolicy	*builtin;
	struct errbuf		 e;

	if (builtin == NULL) {
		errbuf_clear(&e);
		builtin = policy_netpolicy_parse(data_network_policy_json,
		    data_network_policy_json_len, &e);
		if (builtin == NULL)
			log_fatalx("built-in %s", errbuf_msg(&e));
	}
	return builtin;
}

bool
policy_netpolicy_may_name_group(const char *entry)
{
	return entry[strcspn(entry, NETPOLICY_NOT_IN_GROUP_NAME)] == '\0';
}

const struct netgroup *
policy_netpolicy_group(const struct netpolicy *np, const char *name)
{
	size_t	i;

	for (i = 0; np != NULL && i < np->ngroups; i++)
		if (strcmp(np->groups[i].name, name) == 0)
			return &np->groups[i];
	return NULL;
}

const struct netprofile *
policy_netpolicy_profile(const struct netpolicy *np, const char *name)
{
	size_t	i;

	for (i = 0; np != NULL && i < np->nprofiles; i++)
		if (strcmp(np->profiles[i].name, name) == 0)
			return &np->profiles[i];
	return NULL;
}

const struct route_def *
policy_netpolicy_credential(const struct netpolicy *np, const char *name)
{
	size_t	i;

	for (i = 0; np != NULL && i < np->ncredentials; i++)
		if (strcmp(np->credentials[i]->name, name) == 0)
			return np->credentials[i];
	return NULL;
}

void
policy_netpolicy_free(struct netpolicy *np)
{
	size_t	i;

	if (np == NULL)
		return;
	for (i = 0; i < np->ngroups; i++) {
		free(np->groups[i].name);
		free(np->groups[i].description);
		strv_free(&np->groups[i].hosts);
		strv_free(&np->groups[i].suffixes);
	}
	free(np->groups);
	for (i = 0; i < np->nprofiles; i++) {
		free(np->profiles[i].name);
		strv_free(&np->profiles[i].groups);
		strv_free(&np->profiles[i].credentials);
	}
	free(np->profiles);
	for (i = 0; i < np->ncredentials; i++)
		policy_route_def_free(np->credentials[i]);
	free(np->credentials);
	free(np);
}
