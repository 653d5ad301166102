/*
 * "keyhole why" (SPEC §2): explain a decision of the plan without running
 * anything.  Paths: sensitive paths first (they cannot be granted by
 * accident), then the longest grant that covers the path.  Hosts: the
 * network mode, credential routes, the address guard's names, the
 * allow-list and its direct grants.
 */
#include "policy/why.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "policy/allowlist.h"
#include "policy/deny.h"
#include "policy/grants.h"
#include "policy/netpolicy.h"
#include "policy/plan.h"
#include "policy/route.h"
#include "proxy/guard.h"
#include "proxy/http.h"
#include "util/path.h"
#include "util/strv.h"
#include "util/xmalloc.h"

static void
why_set(struct why_answer *a, bool allowed, const char *reason,
    char *details)
{
	a->allowed = allowed;
	a->reason = xstrdup(reason);
	a->details = details;
}

static const char *
why_access_name(enum fs_access a)
{
	switch (a) {
	case FS_READ:
		return "read";
	case FS_WRITE:
		return "write";
	default:
		return "read+write";
	}
}

static char *
why_source(const struct fs_grant *g)
{
	switch (g->source) {
	case FS_SRC_USER:
		return xstrdup("user");
	case FS_SRC_PROFILE:
		return xstrdup("profile");
	case FS_SRC_GROUP:
		return xasprintf("group:%s", g->group ? g->group : "?");
	default:
		return xstrdup("system");
	}
}

/* Canonical form of a path that may not exist: its parent's + name. */
static char *
why_canon(const char *path)
{
	char	 real[PATH_MAX], *dir, *slash;

	if (path_real(path, real, NULL) != NULL)
		return xstrdup(real);
	dir = xstrdup(path);
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if (path_real(dir, real, NULL) != NULL) {
			char *r = xasprintf("%s/%s", real, slash + 1);

			free(dir);
			return r;
		}
	}
	free(dir);
	return xstrdup(path);
}

static void	why_decide(const struct plan *, const char *, bool,
		    enum fs_access, struct why_answer *);

int
policy_why_path(const struct plan *p, const char *path, const char *op,
    struct why_answer *a, struct errbuf *e)
{
	enum fs_access		 want;
	struct stat		 st;
	char			*c;
	bool			 is_file;

	memset(a, 0, sizeof(*a));
	if (strcmp(op, "read") == 0)
		want = FS_READ;
	else if (strcmp(op, "write") == 0)
		want = FS_WRITE;
	else if (strcmp(op, "readwrite") == 0)
		want = FS_READWRITE;
	else {
		errbuf_set(e, "unknown --op '%s' (read, write or readwrite)",
		    op);
		return -1;
	}
	c = why_canon(path);
	is_file = stat(c, &st) == 0 && !S_ISDIR(st.st_mode);
	why_decide(p, c, is_file, want, a);
	free(c);
	return 0;
}

/*
 * The decision of policy_why_path on canonical path c (is_file: c is not
 * a directory): filled into a.
 */
static void
why_decide(const struct plan *p, const char *c, bool is_file,
    enum fs_access want, struct why_answer *a)
{
	const struct fs_grant	*best = NULL, *cover = NULL;
	size_t			 i, j;

	for (j = 0; j < p->deny_paths.n; j++) {
		bool over = false;

		if (!policy_grants_path_within(c, p->deny_paths.v[j]))
			continue;
		for (i = 0; i < p->override_deny.n; i++)
			if (policy_grants_path_within(p->deny_paths.v[j],
			    p->override_deny.v[i]))
				over = true;
		if (over)
			continue;
		why_set(a, false, "sensitive_path", xasprintf("%s is inside "
		    "the sensitive path %s: it cannot be granted with path "
		    "options alone (see --override-deny)", c,
		    p->deny_paths.v[j]));
		return;
	}
	for (i = 0; i < p->ngrants; i++) {
		const struct fs_grant *g = &p->grants[i];

		if (g->is_file ? strcmp(g->path, c) != 0 :
		    !policy_grants_path_within(c, g->path))
			continue;
		if ((g->access & want) == want) {
			if (best == NULL || strlen(g->path) >
			    strlen(best->path))
				best = g;
		} else if (cover == NULL || strlen(g->path) >
		    strlen(cover->path))
			cover = g;
	}
	if (best != NULL) {
		why_set(a, true, "granted_path", xasprintf("%s is granted %s "
		    "by %s", c, why_access_name(best->access), best->path));
		a->granted_by = xstrdup(best->path);
		a->source = why_source(best);
	} else {
		why_set(a, false, cover != NULL ? "insufficient_access" :
		    "path_not_granted", cover != NULL ? xasprintf("%s is "
		    "covered by %s, which grants only %s", c, cover->path,
		    why_access_name(cover->access)) : xasprintf("%s is not "
		    "covered by any grant", c));
		if (cover != NULL) {
			a->granted_by = xstrdup(cover->path);
			a->source = why_source(cover);
		}
		a->suggestion = xasprintf("--%s%s %s", want == FS_READ ?
		    "read" : want == FS_WRITE ? "write" : "allow",
		    is_file ? "-file" : "", c);
	}
}

bool
policy_why_writable(const struct plan *p, const char *canon)
{
	struct why_answer	a;
	bool			ok;

	memset(&a, 0, sizeof(a));
	why_decide(p, canon, false, FS_WRITE, &a);
	ok = a.allowed;
	policy_why_free(&a);
	return ok;
}

/* "host:port", IPv6 in brackets; caller frees. */
static char *
why_hostport(const char *host, uint16_t port)
{
	bool	v6 = strchr(host, ':') != NULL;

	return xasprintf("%s%s%s:%u", v6 ? "[" : "", host, v6 ? "]" : "",
	    port);
}

/* The same suggestion --report-only prints (SPEC 4.11). */
static void
why_suggest(struct why_answer *a, const char *host, uint16_t port, bool http)
{
	const struct netgroup	*g;
	struct strv		 one = { 0 };

	strv_push_owned(&one, policy_deny_entry(host, port, http));
	a->suggestion = xasprintf("--allow-domain %s", one.v[0]);
	a->profile = policy_deny_snippet(&one);
	if ((g = policy_deny_group_of(policy_netpolicy_builtin(),
	    one.v[0])) != NULL)
		a->group = xstrdup(g->name);
	strv_free(&one);
}

int
policy_why_host(const struct plan *p, const char *target,
    struct why_answer *a, struct errbuf *e)
{
	const char		*t = target, *end;
	const struct allow_entry *ent;
	char			*host = NULL, *raw, *hp = NULL;
	uint16_t		 port = 443;
	size_t			 i;
	bool			 http = false;

	memset(a, 0, sizeof(*a));
	if (strncasecmp(t, "https://", 8) == 0)
		t += 8;
	else if (strncasecmp(t, "http://", 7) == 0) {
		t += 7;
		port = 80;
		http = true;
	}
	end = t + strcspn(t, "/?#");
	raw = xstrndup(t, (size_t)(end - t));
	if (raw[0] == '[' || strchr(raw, ':') == strrchr(raw, ':')) {
		char		*h = NULL;

		if (proxy_http_parse_authority(raw, &h, &port, port) == 0) {
			host = policy_allowlist_canon_host(h, strlen(h), e);
			free(h);
		}
	} else
		host = policy_allowlist_canon_host(raw, strlen(raw), e);
	free(raw);
	if (host == NULL) {
		errbuf_set(e, "cannot read a host from '%s'", target);
		return -1;
	}
	hp = why_hostport(host, port);
	if (p->mode == NET_ALLOW) {
		why_set(a, true, "network_allowed", xasprintf("the network "
		    "is unrestricted: %s can be reached directly", hp));
		goto out;
	}
	if (p->mode == NET_BLOCKED) {
		why_set(a, false, "network_blocked", xasprintf("the network "
		    "is blocked: %s cannot be reached", hp));
		why_suggest(a, host, port, http);
		goto out;
	}
	for (i = 0; i < p->nroutes; i++) {
		const struct route *r = p->routes[i];

		/*
		 * CONNECT is refused on the upstream's own port; a plain-http
		 * forward to its host on any port (SPEC 4.5).
		 */
		if (strcmp(r->up_host, host) != 0 ||
		    (!http && r->up_port != port))
			continue;
		/*
		 * Unless --tls-intercept off, a CONNECT to the upstream is
		 * intercepted: keyhole terminates TLS and serves each request
		 * through the route (SPEC 4.12).  Plain-http forwarding stays
		 * refused.
		 */
		if (!http && p->tls_intercept != TLS_INTERCEPT_OFF) {
			why_set(a, true, "credential_intercepted", xasprintf(
			    "%s is the upstream of credential route '%s': a "
			    "CONNECT is intercepted (keyhole terminates TLS, "
			    "applies the route's rules and injects its "
			    "credential); clients must trust keyhole's CA "
			    "(SSL_CERT_FILE); the reverse path "
			    "http://127.0.0.1:PORT/%s (%s) needs no CA", hp,
			    r->def->name, r->def->name, r->base_url_var));
			a->granted_by = xstrdup(r->def->name);
			goto out;
		}
		why_set(a, false, "credential_route", xasprintf("%s is the "
		    "upstream of credential route '%s': %s is refused, use "
		    "the reverse path http://127.0.0.1:PORT/%s (%s)", hp,
		    r->def->name, http ? "forwarding" : "CONNECT",
		    r->def->name, r->base_url_var));
		a->granted_by = xstrdup(r->def->name);
		goto out;
	}
	if (proxy_guard_metadata_name(host)) {
		why_set(a, false, "cloud_metadata", xasprintf("%s is a cloud "
		    "metadata address and is always denied", hp));
		goto out;
	}
	if (!policy_allowlist_allows(&p->allow, host, port,
	    ALLOW_USE_CONNECT) && !(port == 80 && policy_allowlist_allows(
	    &p->allow, host, port, ALLOW_USE_FORWARD))) {
		why_set(a, false, "not_in_allow_list", xasprintf("%s is not "
		    "in the allow-list", hp));
		why_suggest(a, host, port, http);
		goto out;
	}
	ent = policy_allowlist_match(&p->allow, host, port,
	    ALLOW_USE_CONNECT);
	if (ent == NULL)
		ent = policy_allowlist_match(&p->allow, host, port,
		    ALLOW_USE_FORWARD);
	if (ent != NULL && ent->direct)
		why_set(a, true, "direct_grant", xasprintf("%s is a direct "
		    "grant (%s): the sandbox may connect to it directly, and "
		    "through the proxy", hp, ent->source));
	else
		why_set(a, true, "proxy_allowed", xasprintf("%s is allowed "
		    "through the proxy%s%s%s", hp,
		    ent != NULL ? " by '" : " (empty allow-list: any host)",
		    ent != NULL ? ent->source : "", ent != NULL ? "'" : ""));
	if (ent != NULL)
		a->granted_by = xstrdup(ent->source);
out:
	free(hp);
	free(host);
	return 0;
}

char *
policy_why_json(const struct why_answer *a)
{
	json_t	*o = json_object();
	char	*s, *r;

	json_object_set_new(o, "status", json_string(a->allowed ?
	    "allowed" : "denied"));
	json_object_set_new(o, "reason", json_string(a->reason));
	json_object_set_new(o, "details", json_string(a->details));
	if (a->granted_by != NULL)
		json_object_set_new(o, "granted_by",
		    json_string(a->granted_by));
	if (a->source != NULL)
		json_object_set_new(o, "source", json_string(a->source));
	if (a->suggestion != NULL)
		json_object_set_new(o, "suggested_flag",
		    json_string(a->suggestion));
	if (a->profile != NULL)
		json_object_set_new(o, "suggested_profile",
		    json_loads(a->profile, 0, NULL));
	if (a->group != NULL)
		json_object_set_new(o, "suggested_group",
		    json_string(a->group));
	s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(o);
	r = xstrdup(s != NULL ? s : "{}");
	free(s);
	return r;
}

void
policy_why_free(struct why_answer *a)
{
	free(a->reason);
	free(a->details);
	free(a->granted_by);
	free(a->source);
	free(a->suggestion);
	free(a->profile);
	free(a->group);
	memset(a, 0, sizeof(*a));
}
