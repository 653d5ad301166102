#include "profile/profile.h"

#include <stdlib.h>
#include <string.h>

#include "policy/route.h"
#include "util/xmalloc.h"

/*
 * merge(base, child), SPEC §8 and nono-profile.md §3.1.  Merging into an
 * empty profile copies, which profile_copy relies on.
 */

const char *
profile_map_get(const struct profile_map *m, const char *key)
{
	size_t	i;

	for (i = 0; i < m->n; i++)
		if (strcmp(m->v[i].key, key) == 0)
			return m->v[i].value;
	return NULL;
}

void
profile_map_set(struct profile_map *m, const char *key, const char *value)
{
	size_t	i;

	for (i = 0; i < m->n; i++) {
		if (strcmp(m->v[i].key, key) == 0) {
			free(m->v[i].value);
			m->v[i].value = xstrdup(value);
			return;
		}
	}
	m->v = xreallocarray(m->v, m->n + 1, sizeof(*m->v));
	m->v[m->n].key = xstrdup(key);
	m->v[m->n].value = xstrdup(value);
	m->n++;
}

void
profile_map_free(struct profile_map *m)
{
	size_t	i;

	for (i = 0; i < m->n; i++) {
		free(m->v[i].key);
		free(m->v[i].value);
	}
	free(m->v);
	m->v = NULL;
	m->n = 0;
}

static void
map_merge(struct profile_map *dst, const struct profile_map *src)
{
	size_t	i;

	for (i = 0; i < src->n; i++)
		profile_map_set(dst, src->v[i].key, src->v[i].value);
}

/* Child wins when set. */
static void
str_override(char **dst, const char *src)
{
	if (src == NULL)
		return;
	free(*dst);
	*dst = xstrdup(src);
}

static char *
dup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

static void
merge_custom(struct profile_net *dst, const struct profile_net *src)
{
	size_t	i, j;

	for (i = 0; i < src->ncustom; i++) {
		for (j = 0; j < dst->ncustom; j++)
			if (strcmp(dst->custom[j]->name,
			    src->custom[i]->name) == 0)
				break;
		if (j == dst->ncustom) {
			dst->custom = xreallocarray(dst->custom,
			    dst->ncustom + 1, sizeof(*dst->custom));
			dst->ncustom++;
		} else
			policy_route_def_free(dst->custom[j]);
		/* The whole entry is replaced, no field-level merge. */
		dst->custom[j] = policy_route_def_copy(src->custom[i]);
	}
}

static void
merge_hooks(struct profile *dst, const struct profile *src)
{
	struct profile_hook	*h;
	size_t			 i, j;

	for (i = 0; i < src->nhooks; i++) {
		for (j = 0; j < dst->nhooks; j++)
			if (strcmp(dst->hooks[j].name, src->hooks[i].name) ==
			    0)
				break;
		if (j == dst->nhooks) {
			dst->hooks = xreallocarray(dst->hooks, dst->nhooks + 1,
			    sizeof(*dst->hooks));
			dst->nhooks++;
			h = &dst->hooks[j];
			h->name = xstrdup(src->hooks[i].name);
		} else {
			h = &dst->hooks[j];
			free(h->event);
			free(h->matcher);
			free(h->script);
		}
		h->event = xstrdup(src->hooks[i].event);
		h->matcher = xstrdup(src->hooks[i].matcher);
		h->script = xstrdup(src->hooks[i].script);
	}
}

static void
merge_meta(struct profile_meta *dst, const struct profile_meta *src)
{
	/* The child's meta replaces the base's wholesale. */
	free(dst->name);
	free(dst->version);
	free(dst->description);
	free(dst->author);
	dst->present = src->present;
	dst->name = xstrdup(src->name);
	dst->version = xstrdup(src->version);
	dst->description = dup_or_null(src->description);
	dst->author = dup_or_null(src->author);
}

static void
merge_security(struct profile_security *d, const struct profile_security *s)
{
	strv_merge(&d->groups, &s->groups);
	strv_merge(&d->allowed_commands, &s->allowed_commands);
	if (s->signal_mode != PROFILE_PROC_UNSET)
		d->signal_mode = s->signal_mode;
	if (s->process_info_mode != PROFILE_PROC_UNSET)
		d->process_info_mode = s->process_info_mode;
	if (s->ipc_mode != PROFILE_IPC_UNSET)
		d->ipc_mode = s->ipc_mode;
	if (s->capability_elevation != PROFILE_UNSET)
		d->capability_elevation = s->capability_elevation;
	if (s->wsl2_proxy_policy != PROFILE_WSL2_UNSET)
		d->wsl2_proxy_policy = s->wsl2_proxy_policy;
}

static void
merge_net(struct profile_net *d, const struct profile_net *s)
{
	d->block = d->block || s->block;
	d->report_only = d->report_only || s->report_only;
	switch (s->network_profile_state) {
	case PROFILE_NETPROF_INHERIT:
		break;
	case PROFILE_NETPROF_CLEAR:
		d->network_profile_state = PROFILE_NETPROF_CLEAR;
		free(d->network_profile);
		d->network_profile = NULL;
		break;
	case PROFILE_NETPROF_SET:
		d->network_profile_state = PROFILE_NETPROF_SET;
		str_override(&d->network_profile, s->network_profile);
		break;
	}
	strv_merge(&d->allow_domain, &s->allow_domain);
	/* PR #518: inherit / [] clears / a list dedup-appends. */
	if (s->credentials_state == PROFILE_CREDS_LIST) {
		if (s->credentials.n == 0)
			strv_free(&d->credentials);
		else
			strv_merge(&d->credentials, &s->credentials);
		d->credentials_state = PROFILE_CREDS_LIST;
	}
	merge_custom(d, s);
	ports_merge(&d->open_port, &s->open_port);
	ports_merge(&d->listen_port, &s->listen_port);
	str_override(&d->upstream_proxy, s->upstream_proxy);
	str_override(&d->tls_intercept, s->tls_intercept);
	strv_merge(&d->upstream_bypass, &s->upstream_bypass);
	strv_merge(&d->no_proxy, &s->no_proxy);
	strv_merge(&d->tls_intercept_exclude, &s->tls_intercept_exclude);
	strv_merge(&d->allow_endpoint, &s->allow_endpoint);
}

void
profile_merge_into(struct profile *d, const struct profile *s)
{
	merge_meta(&d->meta, &s->meta);
	merge_security(&d->security, &s->security);

	strv_merge(&d->fs.allow, &s->fs.allow);
	strv_merge(&d->fs.read, &s->fs.read);
	strv_merge(&d->fs.write, &s->fs.write);
	strv_merge(&d->fs.allow_file, &s->fs.allow_file);
	strv_merge(&d->fs.read_file, &s->fs.read_file);
	strv_merge(&d->fs.write_file, &s->fs.write_file);
	strv_merge(&d->fs.allow_unix_socket, &s->fs.allow_unix_socket);

	strv_merge(&d->policy.exclude_groups, &s->policy.exclude_groups);
	strv_merge(&d->policy.add_allow_read, &s->policy.add_allow_read);
	strv_merge(&d->policy.add_allow_write, &s->policy.add_allow_write);
	strv_merge(&d->policy.add_allow_readwrite,
	    &s->policy.add_allow_readwrite);
	strv_merge(&d->policy.add_deny_access, &s->policy.add_deny_access);
	strv_merge(&d->policy.add_deny_commands,
	    &s->policy.add_deny_commands);
	strv_merge(&d->policy.override_deny, &s->policy.override_deny);

	merge_net(&d->net, &s->net);
	map_merge(&d->env_credentials, &s->env_credentials);

	if (s->environment.allow_vars_set)
		d->environment.allow_vars_set = true;
	strv_merge(&d->environment.allow_vars, &s->environment.allow_vars);
	strv_merge(&d->environment.deny_vars, &s->environment.deny_vars);
	map_merge(&d->environment.set_vars, &s->environment.set_vars);

	/* A child cannot reduce workdir to none (nono v1 limitation). */
	if (s->workdir != PROFILE_WORKDIR_NONE)
		d->workdir = s->workdir;
	merge_hooks(d, s);
	strv_merge(&d->rollback_patterns, &s->rollback_patterns);
	strv_merge(&d->rollback_globs, &s->rollback_globs);
	if (s->open_urls.present) {
		strv_free(&d->open_urls.allow_origins);
		strv_copy(&d->open_urls.allow_origins,
		    &s->open_urls.allow_origins);
		d->open_urls.allow_localhost = s->open_urls.allow_localhost;
		d->open_urls.present = true;
	}
	if (s->allow_launch_services != PROFILE_UNSET)
		d->allow_launch_services = s->allow_launch_services;
	d->interactive = d->interactive || s->interactive;
	strv_merge(&d->skipdirs, &s->skipdirs);
	if (s->label != NULL) {
		free(d->label);
		d->label = xstrdup(s->label);
	}
}

struct profile *
profile_merge(const struct profile *base, const struct profile *child)
{
	struct profile	*p;

	p = profile_new();
	profile_merge_into(p, base);
	profile_merge_into(p, child);
	return p;
}

struct profile *
profile_copy(const struct profile *src)
{
	struct profile	*p;

	p = profile_new();
	profile_merge_into(p, src);
	if (src->finalised) {
		p->finalised = true;
		strv_copy(&p->groups, &src->groups);
	}
	return p;
}

const struct strv *
profile_credentials(const struct profile *p)
{
	/* An inherited (absent) list is empty: nothing given. */
	return &p->net.credentials;
}

bool
profile_wants_proxy(const struct profile *p)
{
	return p->net.network_profile_state == PROFILE_NETPROF_SET ||
	    p->net.allow_domain.n > 0 || p->net.report_only ||
	    profile_credentials(p)->n > 0 ||
	    p->net.upstream_proxy != NULL;
}

const struct route_def *
profile_custom_credential(const struct profile *p, const char *name)
{
	size_t	i;

	for (i = 0; i < p->net.ncustom; i++)
		if (strcmp(p->net.custom[i]->name, name) == 0)
			return p->net.custom[i];
	return NULL;
}
