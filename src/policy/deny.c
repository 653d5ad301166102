#include "policy/deny.h"

#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "policy/netpolicy.h"
#include "proxy/guard.h"
#include "util/strv.h"
#include "util/xmalloc.h"

/*
 * The reasons are the audit reasons of proxy/connect.c, proxy/forward.c,
 * proxy/reverse.c, proxy/guard.c and the mediator (sandbox/mediate_*.c);
 * tests/unit/test_deny.c holds each one.
 */

static bool
has_prefix(const char *s, const char *prefix)
{
	return s != NULL && strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The address class of a literal, or GUARD_PUBLIC when not one. */
static enum guard_class
literal_class(const char *host)
{
	struct sockaddr_in	 s4;
	struct sockaddr_in6	 s6;

	memset(&s4, 0, sizeof(s4));
	memset(&s6, 0, sizeof(s6));
	if (host == NULL)
		return GUARD_PUBLIC;
	if (inet_pton(AF_INET, host, &s4.sin_addr) == 1) {
		s4.sin_family = AF_INET;
		return proxy_guard_classify((struct sockaddr *)&s4);
	}
	if (inet_pton(AF_INET6, host, &s6.sin6_addr) == 1) {
		s6.sin6_family = AF_INET6;
		return proxy_guard_classify((struct sockaddr *)&s6);
	}
	return GUARD_PUBLIC;
}

/* host, or [host] for an IPv6 literal, with :port unless it is def. */
static void
hostport(char *buf, size_t sz, const char *host, int port, int def)
{
	bool	v6 = strchr(host, ':') != NULL;

	if (port < 0 || port == def)
		snprintf(buf, sz, "%s%s%s", v6 ? "[" : "", host, v6 ? "]" : "");
	else
		snprintf(buf, sz, "%s%s%s:%d", v6 ? "[" : "", host,
		    v6 ? "]" : "", port);
}

static void
never(struct deny_info *out, const char *why)
{
	out->never = true;
	snprintf(out->hint, sizeof(out->hint), "nothing allows this: %s",
	    why);
}

static const char cred_hint[] =
    "this host is a credential upstream: send its requests to the "
    "credential route instead (the *_BASE_URL variable keyhole set), "
    "where the real key is injected";

/* connect, forward and external: the proxy's own decisions. */
static void
explain_proxy(const char *mode, const char *host, int port,
    const char *reason, struct deny_info *out)
{
	char		 hp[300], addr[64];
	const char	*a, *e;
	size_t		 n;

	if (has_prefix(reason, "credential upstream")) {
		snprintf(out->hint, sizeof(out->hint), "%s", cred_hint);
		return;
	}
	if (strstr(reason, "cloud metadata") != NULL) {
		never(out, "cloud metadata addresses are always denied");
		return;
	}
	if (strstr(reason, "the proxy itself") != NULL) {
		never(out, "the proxy does not connect to itself");
		return;
	}
	if (host != NULL && strcmp(reason, "not in allow-list") == 0) {
		hostport(hp, sizeof(hp), host, port,
		    strcmp(mode, "forward") == 0 ? 80 : 443);
		snprintf(out->hint, sizeof(out->hint), "--allow-domain %s "
		    "(profile: network.allow_domain)", hp);
		return;
	}
	/* The guard: "address 10.1.2.3 is loopback" and the like. */
	if (host != NULL && has_prefix(reason, "address ") &&
	    (e = strstr(reason + 8, " is ")) != NULL) {
		a = reason + 8;
		n = (size_t)(e - a);
		if (n >= sizeof(addr))
			n = sizeof(addr) - 1;
		memcpy(addr, a, n);
		addr[n] = '\0';
		if (strcmp(e + 4, "multicast") == 0 ||
		    strcmp(e + 4, "unspecified") == 0) {
			never(out, "the address cannot be a destination");
			return;
		}
		/*
		 * Only an address named on purpose passes the guard: a
		 * --resolve, or an allow-list entry that is the literal the
		 * client asks for (SPEC 4.4); an entry for the address does
		 * not help a client that asks for the name.
		 */
		if (strcmp(host, addr) == 0) {
			hostport(hp, sizeof(hp), host, port,
			    strcmp(mode, "forward") == 0 ? 80 : 443);
			snprintf(out->hint, sizeof(out->hint), "--allow-domain "
			    "%s (profile: network.allow_domain): an address "
			    "in the allow-list is named on purpose", hp);
		} else
			snprintf(out->hint, sizeof(out->hint), "name the "
			    "address on purpose: --resolve %s:%d:%s", host,
			    port, addr);
		return;
	}
}

/* direct: the connect mediator. */
static void
explain_direct(const char *host, int port, const char *reason,
    struct deny_info *out)
{
	char	hp[300];

	if (has_prefix(host, "unix:")) {
		out->kind = "unix";
		if (strcmp(reason, "unix socket outside granted paths") == 0)
			snprintf(out->hint, sizeof(out->hint),
			    "--allow-unix-socket %s (profile: "
			    "filesystem.allow_unix_socket)", host + 5);
		else if (strcmp(reason, "abstract unix socket") == 0)
			never(out, "abstract unix sockets are always denied");
		return;
	}
	if (has_prefix(reason, "metadata change") ||
	    strcmp(reason, "set-user-ID or set-group-ID program") == 0 ||
	    strcmp(reason, "target has no path") == 0) {
		out->kind = "filesystem";
		if (strcmp(reason, "metadata change outside write grants") ==
		    0 && host != NULL && strchr(host, ':') != NULL)
			snprintf(out->hint, sizeof(out->hint), "a write grant: "
			    "--allow DIR or --allow-file %s (profile: "
			    "filesystem.allow)", strchr(host, ':') + 1);
		else
			never(out, "the sandbox never changes this");
		return;
	}
	if (has_prefix(reason, "credential upstream")) {
		snprintf(out->hint, sizeof(out->hint), "%s", cred_hint);
		return;
	}
	if (strcmp(reason, "not the proxy's address") == 0) {
		snprintf(out->hint, sizeof(out->hint), "reach the proxy at "
		    "127.0.0.1 (HTTPS_PROXY and HTTP_PROXY name it)");
		return;
	}
	if (host != NULL && port > 0 &&
	    strcmp(reason, "no direct grant for this address and port") == 0) {
		switch (literal_class(host)) {
		case GUARD_METADATA:
			never(out, "cloud metadata addresses are always "
			    "denied");
			return;
		case GUARD_LOOPBACK:
			snprintf(out->hint, sizeof(out->hint), "--open-port %d "
			    "(profile: network.open_port)", port);
			return;
		case GUARD_MULTICAST:
		case GUARD_UNSPECIFIED:
			never(out, "the address cannot be a destination");
			return;
		default:
			hostport(hp, sizeof(hp), host, port, -2);
			snprintf(out->hint, sizeof(out->hint), "go through the "
			    "proxy (HTTPS_PROXY), or a direct grant: "
			    "--allow-domain %s (profile: network.allow_domain)",
			    hp);
			return;
		}
	}
	never(out, "the sandbox allows no such connection");
}

void
policy_deny_explain(const char *mode, const char *host, int port,
    const char *service, const char *method, const char *path,
    const char *reason, struct deny_info *out)
{
	char	p[200];
	size_t	n;

	memset(out, 0, sizeof(*out));
	out->kind = "network";
	if (reason == NULL)
		reason = "";
	if (mode == NULL)
		mode = "";
	if (strcmp(mode, "direct") == 0) {
		out->kind = "direct";
		explain_direct(host, port, reason, out);
		return;
	}
	if (strcmp(mode, "dns") == 0) {
		/*
		 * The child's DNS answers direct grants' names only (SPEC
		 * 3.1): the entry needs the port the program connects to.
		 */
		out->kind = "dns";
		if (host != NULL && proxy_guard_metadata_name(host))
			never(out, "cloud metadata is always denied");
		else if (host != NULL && host[0] != '(')
			snprintf(out->hint, sizeof(out->hint), "--allow-domain "
			    "%s:PORT with the port the program connects to (a "
			    "direct grant, whose name the sandbox's DNS answers; "
			    "profile: network.allow_domain)", host);
		return;
	}
	if (strcmp(mode, "reverse") == 0) {
		if ((service != NULL || host != NULL) && method != NULL &&
		    path != NULL && has_prefix(reason, "endpoint denied")) {
			/* The rule matches the path without its query. */
			n = strcspn(path, "?");
			if (n >= sizeof(p))
				n = sizeof(p) - 1;
			memcpy(p, path, n);
			p[n] = '\0';
			/* No service: a plain host intercepted (SPEC 4.12). */
			if (service == NULL)
				snprintf(out->hint, sizeof(out->hint),
				    "--allow-endpoint %s:%s:%s (profile: "
				    "network.allow_endpoint)", host, method, p);
			else
				snprintf(out->hint, sizeof(out->hint),
				    "--allow-endpoint %s:%s:%s (profile: "
				    "network.allow_endpoint, or for a custom "
				    "route network.custom_credentials.%s."
				    "endpoint_rules)", service, method, p,
				    service);
		}
		return;
	}
	explain_proxy(mode, host, port, reason, out);
}

char *
policy_deny_entry(const char *host, int port, bool forward)
{
	char	buf[300];

	hostport(buf, sizeof(buf), host, port, forward ? 80 : 443);
	return xstrdup(buf);
}

char *
policy_deny_snippet(const struct strv *entries)
{
	json_t	*list = json_array(), *net = json_object(), *doc = json_object();
	char	*s, *r;
	size_t	 i;

	for (i = 0; i < entries->n; i++)
		json_array_append_new(list, json_string(entries->v[i]));
	json_object_set_new(net, "allow_domain", list);
	json_object_set_new(doc, "network", net);
	s = json_dumps(doc, JSON_PRESERVE_ORDER);
	json_decref(doc);
	r = xstrdup(s != NULL ? s : "{}");
	free(s);
	return r;
}

/* True when the bare host entry ent is one of g's hosts or under a suffix. */
static bool
group_covers(const struct netgroup *g, const char *ent)
{
	size_t	i, n = strlen(ent), m;

	if (n > 0 && ent[n - 1] == '.')
		n--;
	for (i = 0; i < g->hosts.n; i++)
		if (strlen(g->hosts.v[i]) == n &&
		    strncasecmp(g->hosts.v[i], ent, n) == 0)
			return true;
	for (i = 0; i < g->suffixes.n; i++) {
		m = strlen(g->suffixes.v[i]);
		if (n > m && strncasecmp(ent + n - m, g->suffixes.v[i],
		    m) == 0)
			return true;
	}
	return false;
}

/* A bare host entry (default ports): no port, not a bracketed literal. */
static bool
bare_host(const char *ent)
{
	return ent[0] != '[' && strchr(ent, ':') == NULL;
}

static size_t
group_count(const struct netgroup *g, const struct strv *entries,
    const bool *taken)
{
	size_t	i, n = 0;

	for (i = 0; i < entries->n; i++)
		if (!taken[i] && bare_host(entries->v[i]) &&
		    group_covers(g, entries->v[i]))
			n++;
	return n;
}

bool
policy_deny_group_fits(const struct netgroup *g, size_t used)
{
	return used >= 2 && 2 * used >= g->hosts.n;
}

void
policy_deny_suggest(const struct strv *entries, const struct netpolicy *np,
    struct strv *out, struct strv *groups)
{
	const struct netgroup	*best;
	bool			*taken;
	char			**at;
	size_t			 i, j, n, bestn;

	taken = xcalloc(entries->n + 1, sizeof(*taken));
	at = xcalloc(entries->n + 1, sizeof(*at));
	for (;;) {
		best = NULL;
		bestn = 0;
		for (j = 0; np != NULL && j < np->ngroups; j++) {
			n = group_count(&np->groups[j], entries, taken);
			if (n > bestn && policy_deny_group_fits(&np->groups[j],
			    n)) {
				best = &np->groups[j];
				bestn = n;
			}
		}
		if (best == NULL)
			break;
		/* The group takes the place of the first host it covers. */
		for (i = 0, n = 0; i < entries->n; i++) {
			if (taken[i] || !bare_host(entries->v[i]) ||
			    !group_covers(best, entries->v[i]))
				continue;
			taken[i] = true;
			if (n++ == 0)
				at[i] = best->name;
		}
		if (groups != NULL)
			strv_push(groups, best->name);
	}
	for (i = 0; i < entries->n; i++) {
		if (at[i] != NULL)
			strv_push(out, at[i]);
		else if (!taken[i])
			strv_push(out, entries->v[i]);
	}
	free(at);
	free(taken);
}

const struct netgroup *
policy_deny_group_of(const struct netpolicy *np, const char *ent)
{
	size_t	j;

	if (np == NULL || !bare_host(ent))
		return NULL;
	for (j = 0; j < np->ngroups; j++)
		if (group_covers(&np->groups[j], ent))
			return &np->groups[j];
	return NULL;
}
