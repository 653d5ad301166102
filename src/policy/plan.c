/*
 * The run plan: command line (and, once loaded, a profile) turned into the
 * one description the proxy and the sandbox consume (SPEC §2.1, §3, §4.3,
 * §5, §6).
 */
#include "policy/plan.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "policy/grants.h"
#include "policy/netpolicy.h"
#include "policy/route.h"
#include "profile/profile.h"
#include "util/log.h"
#include "util/strbuf.h"
#include "util/strnum.h"
#include "util/xmalloc.h"

static void
plan_limits(struct plan *p, const struct cli *cli)
{
	p->limits.line_max = PLAN_LINE_MAX;
	p->limits.head_max = PLAN_HEAD_MAX;
	p->limits.head_timeout_ms = PLAN_HEAD_TIMEOUT_MS;
	p->limits.max_conns = PLAN_MAX_CONNS;
	p->limits.max_body = PLAN_MAX_BODY;
	p->limits.connect_timeout_ms = PLAN_CONNECT_TIMEOUT_MS;
	p->limits.tls_timeout_ms = PLAN_TLS_TIMEOUT_MS;
	p->limits.idle_timeout_ms = PLAN_IDLE_TIMEOUT_MS;
	if (cli->limits.head_timeout_ms)
		p->limits.head_timeout_ms = cli->limits.head_timeout_ms;
	if (cli->limits.idle_timeout_ms)
		p->limits.idle_timeout_ms = cli->limits.idle_timeout_ms;
	if (cli->limits.connect_timeout_ms) {
		p->limits.connect_timeout_ms = cli->limits.connect_timeout_ms;
		p->limits.tls_timeout_ms = cli->limits.connect_timeout_ms;
	}
	if (cli->limits.max_conns)
		p->limits.max_conns = cli->limits.max_conns;
	if (cli->limits.max_body)
		p->limits.max_body = cli->limits.max_body;
}

/* "HOST:PORT:ADDR"; ADDR may be IPv6 with or without brackets. */
static int
plan_add_resolve(struct plan *p, const char *spec, struct errbuf *e)
{
	struct resolve_entry	 r = { 0 };
	const char		*c1, *c2;
	char			*host = NULL, *addr;
	size_t			 al;
	uint16_t		 port;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&r.addr;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&r.addr;

	if (spec[0] == '[') {
		c1 = strchr(spec, ']');
		if (c1 == NULL || c1[1] != ':')
			goto bad;
		c1++;
	} else
		c1 = strchr(spec, ':');
	if (c1 == NULL || (c2 = strchr(c1 + 1, ':')) == NULL)
		goto bad;
	if (strnum_port(c1 + 1, (size_t)(c2 - c1 - 1), &port) == -1)
		goto bad;
	if ((host = policy_allowlist_canon_host(spec, (size_t)(c1 - spec),
	    e)) == NULL)
		goto bad;
	addr = xstrdup(c2 + 1);
	al = strlen(addr);
	if (al > 2 && addr[0] == '[' && addr[al - 1] == ']') {
		memmove(addr, addr + 1, al - 2);
		addr[al - 2] = '\0';
	}
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		r.addrlen = sizeof(*sin);
	} else if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		r.addrlen = sizeof(*sin6);
	} else {
		free(addr);
		goto bad;
	}
	free(addr);
	r.host = host;
	r.port = port;
	p->resolve = xreallocarray(p->resolve, p->nresolve + 1,
	    sizeof(*p->resolve));
	p->resolve[p->nresolve++] = r;
	return 0;
bad:
	free(host);
	errbuf_set(e, "invalid --resolve '%s': expected HOST:PORT:ADDR with "
	    "ADDR an IP address", spec);
	return -1;
}

/* The names of every credential service, for "unknown service" errors. */
static char *
plan_available_services(const struct netpolicy *np,
    const struct profile *prof)
{
	struct strv	names = { 0 };
	char		*s;
	size_t		 i;

	for (i = 0; i < np->ncredentials; i++)
		strv_push(&names, np->credentials[i]->name);
	if (prof != NULL)
		for (i = 0; i < prof->net.ncustom; i++)
			strv_push_unique(&names, prof->net.custom[i]->name);
	s = strv_join(&names, ", ");
	strv_free(&names);
	return s;
}

/* A profile's custom credential wins over the built-in of that name. */
static const struct route_def *
plan_find_def(const struct netpolicy *np, const struct profile *prof,
    const char *name)
{
	const struct route_def	*d;

	if (prof != NULL && (d = profile_custom_credential(prof, name)) !=
	    NULL)
		return d;
	return policy_netpolicy_credential(np, name);
}

static int
plan_add_route(struct plan *p, const struct netpolicy *np,
    const struct profile *prof, const char *name, struct errbuf *e)
{
	const struct route_def	*def;
	struct route		*r;
	char			*avail;
	size_t			 i;

	for (i = 0; i < p->nroutes; i++)
		if (strcmp(p->routes[i]->def->name, name) == 0)
			return 0;
	if ((def = plan_find_def(np, prof, name)) == NULL) {
		avail = plan_available_services(np, prof);
		errbuf_set(e, "unknown credential service '%s' (available: "
		    "%s)", name, avail);
		free(avail);
		return -1;
	}
	if ((r = policy_route_new(def, e)) == NULL)
		return -1;
	p->routes = xreallocarray(p->routes, p->nroutes + 1,
	    sizeof(*p->routes));
	p->routes[p->nroutes++] = r;
	return 0;
}

/* SERVICE:METHOD:PATH, attached to an active route. */
static int
plan_add_plain_rule(struct plan *p, const char *host, const char *method,
    const char *path, struct errbuf *e)
{
	char	*canon;
	size_t	 i;

	if ((canon = policy_allowlist_canon_host(host, strlen(host), e)) ==
	    NULL) {
		errbuf_wrap(e, "--allow-endpoint %s", host);
		return -1;
	}
	if (path[0] != '/') {
		errbuf_set(e, "--allow-endpoint %s: the path must start with "
		    "'/'", host);
		free(canon);
		return -1;
	}
	for (i = 0; i < p->nplain; i++)
		if (strcmp(p->plain[i]->name, canon) == 0)
			break;
	if (i == p->nplain) {
		p->plain = xreallocarray(p->plain, p->nplain + 1,
		    sizeof(*p->plain));
		p->plain[p->nplain++] = policy_route_def_new(canon);
	}
	policy_route_def_add_rule(p->plain[i], method, path);
	free(canon);
	return 0;
}

static int
plan_add_endpoint(struct plan *p, const char *spec, struct errbuf *e)
{
	const char	*c1 = strchr(spec, ':'), *c2;
	char		*svc, *method;
	size_t		 i;

	if (c1 == NULL || (c2 = strchr(c1 + 1, ':')) == NULL ||
	    c1 == spec || c2 == c1 + 1 || c2[1] == '\0') {
		errbuf_set(e, "invalid --allow-endpoint '%s': expected "
		    "SERVICE:METHOD:/path", spec);
		return -1;
	}
	svc = xstrndup(spec, (size_t)(c1 - spec));
	method = xstrndup(c1 + 1, (size_t)(c2 - c1 - 1));
	for (i = 0; i < p->nroutes; i++)
		if (strcmp(p->routes[i]->def->name, svc) == 0)
			break;
	if (i == p->nroutes && strchr(svc, '.') != NULL) {
		/* A plain host: intercepted, these rules apply (SPEC 4.12). */
		if (plan_add_plain_rule(p, svc, method, c2 + 1, e) == -1) {
			free(svc);
			free(method);
			return -1;
		}
		free(svc);
		free(method);
		return 0;
	}
	if (i == p->nroutes) {
		errbuf_set(e, "--allow-endpoint references unknown service "
		    "'%s'; add it with --credential %s first", svc, svc);
		free(svc);
		free(method);
		return -1;
	}
	policy_route_def_add_rule(p->routes[i]->def, method, c2 + 1);
	free(svc);
	free(method);
	return 0;
}

static bool
plan_cli_wants_proxy(const struct cli *cli)
{
	return cli->allow_domain.n > 0 || cli->network_profile != NULL ||
	    cli->credential.n > 0 || cli->upstream_proxy != NULL ||
	    cli->report_only;
}

/*
 * Network mode (SPEC 2.1 precedence): --block-net beats --allow-net, which
 * beats proxy flags, which add to the profile.
 */
static void
plan_mode(struct plan *p, const struct cli *cli, const struct profile *prof)
{
	bool	prof_proxy = prof != NULL && profile_wants_proxy(prof);

	if (cli->block_net || (prof != NULL && prof->net.block &&
	    !cli->allow_net && !plan_cli_wants_proxy(cli))) {
		p->mode = NET_BLOCKED;
		if (plan_cli_wants_proxy(cli) || prof_proxy)
			strv_push(&p->warnings, "--block-net overrides proxy "
			    "and credential settings: the network stays "
			    "blocked");
	} else if (cli->allow_net)
		p->mode = NET_ALLOW;
	else if (plan_cli_wants_proxy(cli) || prof_proxy ||
	    cli->cmd == CLI_PROXY)
		p->mode = NET_PROXY;
	else
		p->mode = NET_ALLOW;
}

/* Does exclude entry x (host or "*.suffix") name host? */
static bool
plan_exclude_names(const char *x, const char *host)
{
	return strncmp(x, "*.", 2) == 0 ?
	    policy_allowlist_suffix_match(host, x + 2) :
	    strcasecmp(x, host) == 0;
}

/*
 * An exclude entry that does nothing says so: outside --tls-intercept
 * all, or naming a credential host (never tunnelled blind, SPEC 4.12).
 */
static void
plan_exclude_warnings(struct plan *p)
{
	size_t	i, j, k;

	if (p->tls_intercept_exclude.n > 0 &&
	    p->tls_intercept != TLS_INTERCEPT_ALL) {
		strv_push(&p->warnings, "tls_intercept_exclude "
		    "(--tls-intercept-exclude) only applies with "
		    "--tls-intercept all: ignored");
		return;
	}
	for (i = 0; i < p->tls_intercept_exclude.n; i++)
		for (j = 0; j < p->nroutes; j++) {
			const struct route *r = p->routes[j];
			const char *h = r->up_host;

			for (k = 0; !plan_exclude_names(
			    p->tls_intercept_exclude.v[i], h) &&
			    k < r->nextra; k++)
				h = r->extra[k]->up_host;
			if (!plan_exclude_names(p->tls_intercept_exclude.v[i],
			    h))
				continue;
			strv_push_owned(&p->warnings, xasprintf(
			    "--tls-intercept-exclude %s: %s is a credential "
			    "host of route '%s', always intercepted",
			    p->tls_intercept_exclude.v[i], h, r->def->name));
			break;
		}
}

/*
 * --tls-intercept and friends (SPEC 4.12): the command line wins over
 * network.tls_intercept; --tls-ca is CERT,KEY.
 */
static int
plan_tls_intercept(struct plan *p, const struct cli *cli,
    const struct profile *prof, struct errbuf *e)
{
	const char	*m = cli->tls_intercept;
	const char	*comma;

	if (m == NULL && prof != NULL)
		m = prof->net.tls_intercept;
	if (m == NULL || strcmp(m, "credentials") == 0)
		p->tls_intercept = TLS_INTERCEPT_CREDENTIALS;
	else if (strcmp(m, "all") == 0)
		p->tls_intercept = TLS_INTERCEPT_ALL;
	else if (strcmp(m, "off") == 0)
		p->tls_intercept = TLS_INTERCEPT_OFF;
	else {
		errbuf_set(e, "network.tls_intercept '%s': expected "
		    "credentials, all or off", m);
		return -1;
	}
	/* Like the other host lists: the profile's, then the command line's. */
	if (prof != NULL)
		strv_merge(&p->tls_intercept_exclude,
		    &prof->net.tls_intercept_exclude);
	strv_merge(&p->tls_intercept_exclude, &cli->tls_intercept_exclude);
	plan_exclude_warnings(p);
	p->tls_java_truststore = cli->tls_java_truststore;

	if (cli->tls_ca != NULL) {
		comma = strchr(cli->tls_ca, ',');
		p->tls_ca_cert = xstrndup(cli->tls_ca,
		    (size_t)(comma - cli->tls_ca));
		p->tls_ca_key = xstrdup(comma + 1);
	}
	return 0;
}

/* Could one of the entries name a group of the network policy? */
static bool
plan_names_group(const struct strv *entries)
{
	size_t	i;

	for (i = 0; i < entries->n; i++)
		if (policy_netpolicy_may_name_group(entries->v[i]))
			return true;
	return false;
}

/*
 * Does building the plan need the embedded network policy: a network
 * profile, a credential, or an allow-list entry that could be a group
 * name.  Hosts, suffixes and URLs resolve without it, so the usual
 * `--allow-domain example.com` parses no policy (bench/startup).
 */
static bool
plan_needs_netpolicy(const struct cli *cli, const struct profile *prof)
{
	if (cli->network_profile != NULL || cli->credential.n > 0 ||
	    plan_names_group(&cli->allow_domain))
		return true;
	if (prof == NULL || !profile_wants_proxy(prof))
		return false;
	return prof->net.network_profile_state == PROFILE_NETPROF_SET ||
	    profile_credentials(prof)->n > 0 ||
	    plan_names_group(&prof->net.allow_domain);
}

static int
plan_network(struct plan *p, const struct cli *cli,
    const struct profile *prof, struct errbuf *e)
{
	const struct netpolicy		*np = NULL;
	const struct netprofile		*nprof = NULL;
	const char			*nprof_name = NULL;
	const struct strv		*pcreds;
	bool				 use_prof;
	size_t				 i;

	plan_mode(p, cli, prof);
	p->report_only = p->mode == NET_PROXY && (cli->report_only ||
	    (prof != NULL && prof->net.report_only));
	/* The embedded policy is parsed only when something needs it. */
	if (plan_needs_netpolicy(cli, prof))
		np = policy_netpolicy_builtin();
	/* --allow-net drops the profile's proxy settings (nono). */
	use_prof = prof != NULL && !cli->allow_net;
	if (cli->network_profile != NULL)
		nprof_name = cli->network_profile;
	else if (use_prof && prof->net.network_profile_state ==
	    PROFILE_NETPROF_SET)
		nprof_name = prof->net.network_profile;
	if (nprof_name != NULL) {
		if ((nprof = policy_netpolicy_profile(np, nprof_name)) ==
		    NULL) {
			errbuf_set(e, "unknown network profile '%s'",
			    nprof_name);
			return -1;
		}
		if (policy_allowlist_add_profile(&p->allow, nprof_name, np,
		    e) == -1)
			return -1;
	}
	if (use_prof)
		for (i = 0; i < prof->net.allow_domain.n; i++)
			if (policy_allowlist_add(&p->allow,
			    prof->net.allow_domain.v[i], np, e) == -1) {
				errbuf_wrap(e, "profile %s", prof->label);
				return -1;
			}
	for (i = 0; i < cli->allow_domain.n; i++)
		if (policy_allowlist_add(&p->allow, cli->allow_domain.v[i], np,
		    e) == -1)
			return -1;
	if (nprof != NULL)
		for (i = 0; i < nprof->credentials.n; i++)
			if (plan_add_route(p, np, prof,
			    nprof->credentials.v[i], e) == -1)
				return -1;
	if (use_prof) {
		pcreds = profile_credentials(prof);
		for (i = 0; i < pcreds->n; i++)
			if (plan_add_route(p, np, prof, pcreds->v[i], e) == -1)
				return -1;
	}
	for (i = 0; i < cli->credential.n; i++)
		if (plan_add_route(p, np, prof, cli->credential.v[i], e) == -1)
			return -1;
	if (use_prof)
		for (i = 0; i < prof->net.allow_endpoint.n; i++)
			if (plan_add_endpoint(p, prof->net.allow_endpoint.v[i],
			    e) == -1) {
				errbuf_wrap(e, "profile %s: "
				    "network.allow_endpoint", prof->label);
				return -1;
			}
	for (i = 0; i < cli->allow_endpoint.n; i++)
		if (plan_add_endpoint(p, cli->allow_endpoint.v[i], e) == -1)
			return -1;
	if (prof != NULL) {
		ports_merge(&p->open_ports, &prof->net.open_port);
		ports_merge(&p->listen_ports, &prof->net.listen_port);
	}
	ports_merge(&p->open_ports, &cli->open_port);
	ports_merge(&p->listen_ports, &cli->listen_port);
	p->proxy_port = cli->proxy_port;
	strv_copy(&p->listen, &cli->listen);
	if (cli->upstream_proxy != NULL) {
		p->upstream_proxy = xstrdup(cli->upstream_proxy);
		strv_copy(&p->upstream_bypass, &cli->upstream_bypass);
	} else {
		if (use_prof && prof->net.upstream_proxy != NULL)
			p->upstream_proxy = xstrdup(prof->net.upstream_proxy);
		if (use_prof)
			strv_merge(&p->upstream_bypass,
			    &prof->net.upstream_bypass);
		strv_merge(&p->upstream_bypass, &cli->upstream_bypass);
	}
	if (p->upstream_bypass.n > 0 && p->upstream_proxy == NULL) {
		errbuf_set(e, "--upstream-bypass requires --upstream-proxy "
		    "(or network.upstream_proxy in the profile)");
		return -1;
	}
	if (use_prof)
		strv_copy(&p->no_proxy_extra, &prof->net.no_proxy);
	for (i = 0; i < cli->resolve.n; i++)
		if (plan_add_resolve(p, cli->resolve.v[i], e) == -1)
			return -1;
	if (cli->upstream_ca != NULL)
		p->upstream_ca = xstrdup(cli->upstream_ca);
	if (plan_tls_intercept(p, cli, use_prof ? prof : NULL, e) == -1)
		return -1;
	if (cli->audit_log != NULL)
		p->audit_log = xstrdup(cli->audit_log);
	p->allow_degraded_network = cli->allow_degraded_network;
	return 0;
}

/* Profile "environment" rules (SPEC 6). */
static void
plan_environment(struct plan *p, const struct profile *prof)
{
	size_t	i;

	if (prof == NULL)
		return;
	p->env_allow_set = prof->environment.allow_vars_set;
	strv_copy(&p->env_allow, &prof->environment.allow_vars);
	strv_copy(&p->env_deny, &prof->environment.deny_vars);
	for (i = 0; i < prof->environment.set_vars.n; i++)
		strv_push_owned(&p->env_set, xasprintf("%s=%s",
		    prof->environment.set_vars.v[i].key,
		    prof->environment.set_vars.v[i].value));
}

struct plan *
policy_plan_build(const struct cli *cli, const struct profile *prof,
    struct errbuf *e)
{
	struct plan	*p = xcalloc(1, sizeof(*p));

	plan_limits(p, cli);
	p->verbose = cli->verbose;
	p->silent = cli->silent;
	p->dry_run = cli->dry_run;
	if (plan_network(p, cli, prof, e) == -1) {
		policy_plan_free(p);
		return NULL;
	}
	plan_environment(p, prof);
	strv_copy(&p->env_keep, &cli->allow_env);
	if (cli->cmd != CLI_PROXY &&
	    policy_grants_build(p, cli, prof, e) == -1) {
		policy_plan_free(p);
		return NULL;
	}
	/* A secret the child can read or swap is no secret (SPEC §3.2). */
	if ((cli->cmd == CLI_RUN || cli->cmd == CLI_SHELL) &&
	    policy_grants_check_secrets(p, e) == -1) {
		policy_plan_free(p);
		return NULL;
	}
	return p;
}

bool
policy_plan_proxy_on(const struct plan *p)
{
	return p->mode == NET_PROXY;
}

const struct route *
policy_plan_route(const struct plan *p, const char *name)
{
	size_t	i;

	for (i = 0; i < p->nroutes; i++)
		if (strcmp(p->routes[i]->def->name, name) == 0)
			return p->routes[i];
	return NULL;
}

const struct resolve_entry *
policy_plan_resolve(const struct plan *p, const char *host, uint16_t port)
{
	size_t	i;

	for (i = 0; i < p->nresolve; i++)
		if (p->resolve[i].port == port &&
		    strcmp(p->resolve[i].host, host) == 0)
			return &p->resolve[i];
	return NULL;
}

static int
plan_fd_cmp(const void *a, const void *b)
{
	int	x = *(const int *)a, y = *(const int *)b;

	return x < y ? -1 : x > y;
}

/*
 * The grants' descriptors were opened one after the other, so their
 * numbers are mostly one run: closed with a close_range(2) per run of
 * consecutive numbers (all ours), not ~65 close(2) at every start.
 */
void
policy_plan_close_fds(struct plan *p)
{
	int	*fds;
	size_t	 i, j, n = 0;

	fds = xreallocarray(NULL, p->ngrants + 1, sizeof(*fds));
	for (i = 0; i < p->ngrants; i++) {
		if (p->grants[i].has_fd)
			fds[n++] = p->grants[i].fd;
		p->grants[i].has_fd = false;
		p->grants[i].fd = -1;
	}
	/* Usually in order already (opened so): sort only if not. */
	for (i = 1; i < n && fds[i - 1] < fds[i]; i++)
		;
	if (i < n)
		qsort(fds, n, sizeof(*fds), plan_fd_cmp);
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && fds[j] == fds[j - 1] + 1; j++)
			;
		if (j - i > 1 && close_range((unsigned int)fds[i],
		    (unsigned int)fds[j - 1], 0) == 0)
			continue;
		for (; i < j; i++)
			(void)close(fds[i]);
	}
	free(fds);
}

void
policy_plan_free(struct plan *p)
{
	size_t	i;

	if (p == NULL)
		return;
	policy_allowlist_free(&p->allow);
	for (i = 0; i < p->nroutes; i++)
		policy_route_free(p->routes[i]);
	free(p->routes);
	strv_free(&p->no_proxy_extra);
	ports_free(&p->open_ports);
	ports_free(&p->listen_ports);
	free(p->upstream_proxy);
	strv_free(&p->upstream_bypass);
	strv_free(&p->listen);
	for (i = 0; i < p->nresolve; i++)
		free(p->resolve[i].host);
	free(p->resolve);
	free(p->upstream_ca);
	strv_free(&p->tls_intercept_exclude);
	for (i = 0; i < p->nplain; i++)
		policy_route_def_free(p->plain[i]);
	free(p->plain);
	free(p->tls_ca_cert);
	free(p->tls_ca_key);
	free(p->audit_log);
	policy_plan_close_fds(p);
	for (i = 0; i < p->ngrants; i++)
		free(p->grants[i].path);
	free(p->grants);
	strv_free(&p->deny_paths);
	strv_free(&p->override_deny);
	strv_free(&p->allow_unix_socket);
	free(p->workdir);
	strv_free(&p->env_allow);
	strv_free(&p->env_deny);
	strv_free(&p->env_set);
	strv_free(&p->env_keep);
	strv_free(&p->warnings);
	strv_free(&p->agents);
	free(p);
}

/* Whether a route's upstream host:port is on loopback (by name, literal or
 * --resolve). */
static bool
plan_route_on_loopback(const struct plan *p, const struct route *r)
{
	const struct resolve_entry	*re;
	struct in_addr			 a4;
	struct in6_addr			 a6;
	const char			*h = r->up_host;
	size_t				 n = strlen(h);

	if ((re = policy_plan_resolve(p, h, r->up_port)) != NULL) {
		if (re->addr.ss_family == AF_INET)
			return (ntohl(((const struct sockaddr_in *)
			    &re->addr)->sin_addr.s_addr) >> 24) == 127;
		a6 = ((const struct sockaddr_in6 *)&re->addr)->sin6_addr;
		return IN6_IS_ADDR_LOOPBACK(&a6) ||
		    (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
	}
	if (strcasecmp(h, "localhost") == 0 || (n > 10 &&
	    strcasecmp(h + n - 10, ".localhost") == 0))
		return true;
	if (inet_pton(AF_INET, h, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, h, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6) ||
		    (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
	return false;
}

int
policy_plan_check_listen(const struct plan *p, struct errbuf *e)
{
	const struct route	*r;
	const char		*flag;
	size_t			 i;

	for (i = 0; i < p->nroutes; i++) {
		r = p->routes[i];
		if (ports_has(&p->open_ports, r->up_port))
			flag = "--open-port";
		else if (ports_has(&p->listen_ports, r->up_port))
			flag = "--listen-port";
		else
			continue;
		if (!plan_route_on_loopback(p, r))
			continue;
		errbuf_set(e, "%s %u: credential route %s sends its secret to "
		    "%s:%u on loopback, where the sandbox could then listen; "
		    "choose another port", flag, r->up_port, r->def->name,
		    r->up_host, r->up_port);
		return -1;
	}
	return 0;
}
