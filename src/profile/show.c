#include "profile/profile.h"

#include <dirent.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "policy/route.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

/*
 * `profile show` and `profile list`.  The JSON uses the profile schema
 * with canonical key names, so it parses again as a profile.
 */

static const char *const proc_names[] = {
	NULL, "isolated", "allow_same_sandbox", "allow_all"
};
static const char *const ipc_names[] = {
	NULL, "shared_memory_only", "full"
};
static const char *const wsl2_names[] = { NULL, "error", "insecure_proxy" };
static const char *const workdir_names[] = {
	"none", "read", "write", "readwrite"
};

static json_t *
jlist(const struct strv *sv)
{
	json_t	*a = json_array();
	size_t	 i;

	for (i = 0; i < sv->n; i++)
		json_array_append_new(a, json_string(sv->v[i]));
	return a;
}

static json_t *
jports(const struct ports *p)
{
	json_t	*a = json_array();
	size_t	 i;

	for (i = 0; i < p->n; i++)
		json_array_append_new(a, json_integer(p->v[i]));
	return a;
}

static json_t *
jmap(const struct profile_map *m)
{
	json_t	*o = json_object();
	size_t	 i;

	for (i = 0; i < m->n; i++)
		json_object_set_new(o, m->v[i].key,
		    json_string(m->v[i].value));
	return o;
}

static void
set_str(json_t *o, const char *key, const char *s)
{
	if (s != NULL)
		json_object_set_new(o, key, json_string(s));
}

static json_t *
jcustom(const struct route_def *d)
{
	json_t	*o = json_object(), *rules = json_array(), *r;
	size_t	 i;

	set_str(o, "upstream", d->upstream);
	set_str(o, "credential_key", d->credential_key);
	set_str(o, "inject_mode", policy_route_inject_mode_name(
	    d->inject_mode));
	set_str(o, "inject_header", d->inject_header);
	set_str(o, "credential_format", d->credential_format);
	set_str(o, "path_pattern", d->path_pattern);
	set_str(o, "path_replacement", d->path_replacement);
	set_str(o, "query_param_name", d->query_param_name);
	set_str(o, "env_var", d->env_var);
	for (i = 0; i < d->nrules; i++) {
		r = json_object();
		json_object_set_new(r, "method", json_string(d->rules[i].method));
		json_object_set_new(r, "path", json_string(d->rules[i].path));
		json_array_append_new(rules, r);
	}
	json_object_set_new(o, "endpoint_rules", rules);
	json_object_set_new(o, "compressed_responses",
	    json_boolean(d->compressed_responses));
	if (d->nhosts > 0) {
		json_t	*hs = json_array(), *h;

		for (i = 0; i < d->nhosts; i++) {
			h = json_object();
			set_str(h, "host", d->hosts[i].host);
			set_str(h, "inject_mode", policy_route_inject_mode_name(
			    d->hosts[i].inject_mode));
			set_str(h, "inject_header", d->hosts[i].inject_header);
			set_str(h, "credential_format",
			    d->hosts[i].credential_format);
			json_array_append_new(hs, h);
		}
		json_object_set_new(o, "hosts", hs);
	}
	return o;
}

static json_t *
jnetwork(const struct profile_net *n)
{
	json_t	*o = json_object(), *cc = json_object();
	size_t	 i;

	json_object_set_new(o, "block", json_boolean(n->block));
	if (n->report_only)
		json_object_set_new(o, "report_only", json_true());
	if (n->network_profile_state == PROFILE_NETPROF_SET)
		set_str(o, "network_profile", n->network_profile);
	else if (n->network_profile_state == PROFILE_NETPROF_CLEAR)
		json_object_set_new(o, "network_profile", json_null());
	json_object_set_new(o, "allow_domain", jlist(&n->allow_domain));
	json_object_set_new(o, "credentials",
	    n->credentials_state == PROFILE_CREDS_LIST ?
	    jlist(&n->credentials) : json_null());
	for (i = 0; i < n->ncustom; i++)
		json_object_set_new(cc, n->custom[i]->name,
		    jcustom(n->custom[i]));
	json_object_set_new(o, "custom_credentials", cc);
	json_object_set_new(o, "open_port", jports(&n->open_port));
	json_object_set_new(o, "listen_port", jports(&n->listen_port));
	if (n->upstream_proxy != NULL)
		set_str(o, "upstream_proxy", n->upstream_proxy);
	json_object_set_new(o, "upstream_bypass", jlist(&n->upstream_bypass));
	json_object_set_new(o, "no_proxy", jlist(&n->no_proxy));
	set_str(o, "tls_intercept", n->tls_intercept);
	json_object_set_new(o, "tls_intercept_exclude",
	    jlist(&n->tls_intercept_exclude));
	json_object_set_new(o, "allow_endpoint", jlist(&n->allow_endpoint));
	return o;
}

static json_t *
jsecurity(const struct profile *p)
{
	const struct profile_security	*s = &p->security;
	json_t				*o = json_object();

	json_object_set_new(o, "groups",
	    jlist(p->finalised ? &p->groups : &s->groups));
	json_object_set_new(o, "allowed_commands",
	    jlist(&s->allowed_commands));
	set_str(o, "signal_mode", proc_names[s->signal_mode]);
	set_str(o, "process_info_mode", proc_names[s->process_info_mode]);
	set_str(o, "ipc_mode", ipc_names[s->ipc_mode]);
	if (s->capability_elevation != PROFILE_UNSET)
		json_object_set_new(o, "capability_elevation",
		    json_boolean(s->capability_elevation == PROFILE_TRUE));
	set_str(o, "wsl2_proxy_policy", wsl2_names[s->wsl2_proxy_policy]);
	return o;
}

static json_t *
jprofile(const struct profile *p)
{
	json_t	*o = json_object(), *s, *h;
	size_t	 i;

	if (p->extends.n > 0)
		json_object_set_new(o, "extends", jlist(&p->extends));
	s = json_object();
	set_str(s, "name", p->meta.name);
	set_str(s, "version", p->meta.version);
	set_str(s, "description", p->meta.description);
	set_str(s, "author", p->meta.author);
	json_object_set_new(o, "meta", s);
	json_object_set_new(o, "security", jsecurity(p));

	s = json_object();
	json_object_set_new(s, "allow", jlist(&p->fs.allow));
	json_object_set_new(s, "read", jlist(&p->fs.read));
	json_object_set_new(s, "write", jlist(&p->fs.write));
	json_object_set_new(s, "allow_file", jlist(&p->fs.allow_file));
	json_object_set_new(s, "read_file", jlist(&p->fs.read_file));
	json_object_set_new(s, "write_file", jlist(&p->fs.write_file));
	json_object_set_new(s, "allow_unix_socket",
	    jlist(&p->fs.allow_unix_socket));
	json_object_set_new(o, "filesystem", s);

	s = json_object();
	json_object_set_new(s, "exclude_groups",
	    jlist(&p->policy.exclude_groups));
	json_object_set_new(s, "add_allow_read",
	    jlist(&p->policy.add_allow_read));
	json_object_set_new(s, "add_allow_write",
	    jlist(&p->policy.add_allow_write));
	json_object_set_new(s, "add_allow_readwrite",
	    jlist(&p->policy.add_allow_readwrite));
	json_object_set_new(s, "add_deny_access",
	    jlist(&p->policy.add_deny_access));
	json_object_set_new(s, "add_deny_commands",
	    jlist(&p->policy.add_deny_commands));
	json_object_set_new(s, "override_deny",
	    jlist(&p->policy.override_deny));
	json_object_set_new(o, "policy", s);

	json_object_set_new(o, "network", jnetwork(&p->net));
	json_object_set_new(o, "env_credentials", jmap(&p->env_credentials));

	s = json_object();
	if (p->environment.allow_vars_set)
		json_object_set_new(s, "allow_vars",
		    jlist(&p->environment.allow_vars));
	json_object_set_new(s, "deny_vars", jlist(&p->environment.deny_vars));
	json_object_set_new(s, "set_vars", jmap(&p->environment.set_vars));
	json_object_set_new(o, "environment", s);

	s = json_object();
	json_object_set_new(s, "access",
	    json_string(workdir_names[p->workdir]));
	json_object_set_new(o, "workdir", s);

	s = json_object();
	for (i = 0; i < p->nhooks; i++) {
		h = json_object();
		set_str(h, "event", p->hooks[i].event);
		set_str(h, "matcher", p->hooks[i].matcher);
		set_str(h, "script", p->hooks[i].script);
		json_object_set_new(s, p->hooks[i].name, h);
	}
	json_object_set_new(o, "hooks", s);

	s = json_object();
	json_object_set_new(s, "exclude_patterns",
	    jlist(&p->rollback_patterns));
	json_object_set_new(s, "exclude_globs", jlist(&p->rollback_globs));
	json_object_set_new(o, "rollback", s);
	if (p->open_urls.present) {
		s = json_object();
		json_object_set_new(s, "allow_origins",
		    jlist(&p->open_urls.allow_origins));
		json_object_set_new(s, "allow_localhost",
		    json_boolean(p->open_urls.allow_localhost));
		json_object_set_new(o, "open_urls", s);
	}
	if (p->allow_launch_services != PROFILE_UNSET)
		json_object_set_new(o, "allow_launch_services",
		    json_boolean(p->allow_launch_services == PROFILE_TRUE));
	json_object_set_new(o, "interactive", json_boolean(p->interactive));
	json_object_set_new(o, "skipdirs", jlist(&p->skipdirs));
	return o;
}

char *
profile_show_json(const struct profile *p)
{
	json_t	*o = jprofile(p);
	char	*s, *out;

	s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (s == NULL)
		return xstrdup("{}");
	/* Hand back memory from our allocator, whatever jansson uses. */
	out = xstrdup(s);
	free(s);
	return out;
}

static void
text_list(struct strbuf *sb, const char *label, const struct strv *sv)
{
	size_t	i;

	if (sv->n == 0)
		return;
	strbuf_appendf(sb, "  %s:", label);
	for (i = 0; i < sv->n; i++)
		strbuf_appendf(sb, "%s%s", i > 0 ? ", " : " ", sv->v[i]);
	strbuf_appendc(sb, '\n');
}

static void
text_ports(struct strbuf *sb, const char *label, const struct ports *p)
{
	size_t	i;

	if (p->n == 0)
		return;
	strbuf_appendf(sb, "  %s:", label);
	for (i = 0; i < p->n; i++)
		strbuf_appendf(sb, "%s%u", i > 0 ? ", " : " ",
		    (unsigned)p->v[i]);
	strbuf_appendc(sb, '\n');
}

char *
profile_show_text(const struct profile *p)
{
	struct strbuf		 sb = { 0 };
	const struct profile_net *n = &p->net;
	const struct route_def	*d;
	size_t			 i;

	strbuf_appendf(&sb, "Profile %s", p->meta.name[0] != '\0' ?
	    p->meta.name : "(unnamed)");
	if (p->meta.version[0] != '\0')
		strbuf_appendf(&sb, " %s", p->meta.version);
	strbuf_appendc(&sb, '\n');
	if (p->meta.description != NULL)
		strbuf_appendf(&sb, "  %s\n", p->meta.description);
	if (p->label != NULL)
		strbuf_appendf(&sb, "  source: %s\n", p->label);
	text_list(&sb, "groups", p->finalised ? &p->groups :
	    &p->security.groups);
	strbuf_append(&sb, "Filesystem\n");
	strbuf_appendf(&sb, "  workdir: %s\n", workdir_names[p->workdir]);
	text_list(&sb, "allow", &p->fs.allow);
	text_list(&sb, "read", &p->fs.read);
	text_list(&sb, "write", &p->fs.write);
	text_list(&sb, "allow_file", &p->fs.allow_file);
	text_list(&sb, "read_file", &p->fs.read_file);
	text_list(&sb, "write_file", &p->fs.write_file);
	text_list(&sb, "allow_unix_socket", &p->fs.allow_unix_socket);
	text_list(&sb, "add_allow_read", &p->policy.add_allow_read);
	text_list(&sb, "add_allow_write", &p->policy.add_allow_write);
	text_list(&sb, "add_allow_readwrite", &p->policy.add_allow_readwrite);
	text_list(&sb, "add_deny_access", &p->policy.add_deny_access);
	text_list(&sb, "override_deny", &p->policy.override_deny);
	text_list(&sb, "exclude_groups", &p->policy.exclude_groups);
	text_list(&sb, "add_deny_commands", &p->policy.add_deny_commands);
	text_list(&sb, "allowed_commands", &p->security.allowed_commands);
	strbuf_append(&sb, "Network\n");
	strbuf_appendf(&sb, "  mode: %s\n", n->block ? "blocked" :
	    profile_wants_proxy(p) ? "proxy" : "allow");
	if (n->network_profile_state == PROFILE_NETPROF_SET)
		strbuf_appendf(&sb, "  network_profile: %s\n",
		    n->network_profile);
	else if (n->network_profile_state == PROFILE_NETPROF_CLEAR)
		strbuf_append(&sb, "  network_profile: (cleared)\n");
	text_list(&sb, "allow_domain", &n->allow_domain);
	if (n->credentials_state == PROFILE_CREDS_LIST &&
	    n->credentials.n == 0)
		strbuf_append(&sb, "  credentials: (cleared)\n");
	text_list(&sb, "credentials", &n->credentials);
	for (i = 0; i < n->ncustom; i++) {
		d = n->custom[i];
		strbuf_appendf(&sb, "  custom credential %s: %s (%s, %s)\n",
		    d->name, d->upstream != NULL ? d->upstream : "?",
		    policy_route_inject_mode_name(d->inject_mode),
		    d->credential_key != NULL ? d->credential_key : "?");
	}
	text_ports(&sb, "open_port", &n->open_port);
	text_ports(&sb, "listen_port", &n->listen_port);
	if (n->upstream_proxy != NULL)
		strbuf_appendf(&sb, "  upstream_proxy: %s\n",
		    n->upstream_proxy);
	text_list(&sb, "upstream_bypass", &n->upstream_bypass);
	text_list(&sb, "no_proxy", &n->no_proxy);
	text_list(&sb, "tls_intercept_exclude", &n->tls_intercept_exclude);
	text_list(&sb, "allow_endpoint", &n->allow_endpoint);
	if (p->env_credentials.n > 0 || p->environment.allow_vars_set ||
	    p->environment.deny_vars.n > 0 ||
	    p->environment.set_vars.n > 0) {
		strbuf_append(&sb, "Environment\n");
		for (i = 0; i < p->env_credentials.n; i++)
			strbuf_appendf(&sb, "  %s <- %s\n",
			    p->env_credentials.v[i].value,
			    p->env_credentials.v[i].key);
		if (p->environment.allow_vars_set)
			strbuf_appendf(&sb, "  allow_vars:%s\n",
			    p->environment.allow_vars.n == 0 ? " (none)" : "");
		text_list(&sb, "allow_vars", &p->environment.allow_vars);
		text_list(&sb, "deny_vars", &p->environment.deny_vars);
		for (i = 0; i < p->environment.set_vars.n; i++)
			strbuf_appendf(&sb, "  set %s=%s\n",
			    p->environment.set_vars.v[i].key,
			    p->environment.set_vars.v[i].value);
	}
	return strbuf_steal(&sb);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
list_dir(const char *dir, struct strv *out)
{
	DIR		*d;
	struct dirent	*de;
	size_t		 n;
	char		*stem;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		n = strlen(de->d_name);
		if (n <= 5 || strcmp(de->d_name + n - 5, ".json") != 0)
			continue;
		stem = xstrndup(de->d_name, n - 5);
		if (profile_name_valid(stem))
			strv_push_unique(out, stem);
		free(stem);
	}
	closedir(d);
}

int
profile_list(const struct profile_env *env, struct strv *builtin,
    struct strv *user, struct errbuf *e)
{
	struct profile_env	 own;
	struct strv		 dirs = { 0 };
	size_t			 i;

	if (env == NULL) {
		profile_env_from_environ(&own);
		env = &own;
	}
	profile_builtin_names(builtin);
	if (profile_search_dirs(env, &dirs, e) == -1)
		return -1;
	for (i = 0; i < dirs.n; i++)
		list_dir(dirs.v[i], user);
	strv_free(&dirs);
	if (user->n > 1)
		qsort(user->v, user->n, sizeof(*user->v), cmp_str);
	return 0;
}
