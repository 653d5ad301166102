#include "sandbox/mediator_int.h"

#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "policy/allowlist.h"
#include "policy/plan.h"
#include "proxy/dns.h"
#include "proxy/guard.h"
#include "proxy/server.h"
#include "sandbox/dnsd.h"
#include "util/dnsmsg.h"
#include "util/hosts.h"
#include "util/log.h"
#include "util/mono.h"
#include "util/xmalloc.h"

/*
 * Inet connects: the decision table, the direct grants it is built from
 * (resolved, then refreshed as their DNS TTLs run out), and the
 * registration of connects made to the proxy.
 */

static bool	synth_connect(struct med_op *, int,
		    const struct sockaddr_storage *, uint16_t);

/* A name --report-only resolved (see would_lookup). */
struct med_name {
	char			*name;		/* owned */
	struct sockaddr_storage	 addrs[DNS_MAX_ADDRS];
	size_t			 n;
	bool			 nx;		/* no such name */
	time_t			 expires;	/* monotonic */
};


/* ---- the decision table (pure) ---------------------------------------- */

/*
 * Copy an inet address into out with IPv4-mapped IPv6 turned into IPv4,
 * and its port.  false when it is too short for its family.
 */
static bool
inet_norm(const struct sockaddr *sa, socklen_t len,
    struct sockaddr_storage *out, uint16_t *port)
{
	struct sockaddr_in		*o4 = (struct sockaddr_in *)out;
	const struct sockaddr_in	*s4;
	const struct sockaddr_in6	*s6;
	struct sockaddr_in6		*o6 = (struct sockaddr_in6 *)out;

	memset(out, 0, sizeof(*out));
	if (sa->sa_family == AF_INET) {
		if (len < (socklen_t)sizeof(*s4))
			return false;
		s4 = (const struct sockaddr_in *)sa;
		o4->sin_family = AF_INET;
		o4->sin_addr = s4->sin_addr;
		*port = ntohs(s4->sin_port);
		return true;
	}
	/* The kernel takes IPv6 addresses without sin6_scope_id. */
	if (sa->sa_family != AF_INET6 ||
	    len < (socklen_t)offsetof(struct sockaddr_in6, sin6_scope_id))
		return false;
	s6 = (const struct sockaddr_in6 *)sa;
	*port = ntohs(s6->sin6_port);
	if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		o4->sin_family = AF_INET;
		memcpy(&o4->sin_addr, &s6->sin6_addr.s6_addr[12], 4);
		return true;
	}
	o6->sin6_family = AF_INET6;
	o6->sin6_addr = s6->sin6_addr;
	return true;
}

/* Equal normalised addresses (ports and scope ignored). */
static bool
inet_same(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		    ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (a->ss_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		    &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
	return false;
}

static bool
inet_is_lo4(const struct sockaddr_storage *a)
{
	return a->ss_family == AF_INET &&
	    ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
	    htonl(INADDR_LOOPBACK);
}

static bool
inet_is_lo6(const struct sockaddr_storage *a)
{
	return a->ss_family == AF_INET6 &&
	    IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)a)->sin6_addr);
}

/* The guard's reason for a --report-only connect it refused. */
static char	guard_reason[ERRBUF_MAX];

enum mediator_verdict
sandbox_mediator_decide_inet(const struct mediator_policy *pol,
    const struct sockaddr *sa, socklen_t len, const char **reason,
    const struct mediator_grant **grant)
{
	struct sockaddr_storage	 a, ga;
	const struct mediator_grant *g;
	char			 text[INET6_ADDRSTRLEN];
	struct errbuf		 e;
	uint16_t		 port, gport;
	size_t			 i, j;
	bool			 cred_hit = false;

	*reason = NULL;
	if (grant != NULL)
		*grant = NULL;
	if (!inet_norm(sa, len, &a, &port)) {
		*reason = "malformed address";
		return MEDIATOR_DENY;
	}
	if (pol->proxy_port != 0 && port == pol->proxy_port && inet_is_lo4(&a))
		return MEDIATOR_PROXY;
	if (pol->open_ports != NULL && ports_has(pol->open_ports, port) &&
	    (inet_is_lo4(&a) || inet_is_lo6(&a)))
		return MEDIATOR_OPEN_PORT;
	for (i = 0; i < pol->ngrants; i++) {
		g = &pol->grants[i];
		if (g->port != port)
			continue;
		for (j = 0; j < g->naddrs; j++) {
			if (!inet_norm((const struct sockaddr *)&g->addrs[j],
			    sizeof(g->addrs[j]), &ga, &gport) ||
			    !inet_same(&a, &ga))
				continue;
			/* Routes are decided now: their addresses may have
			 * resolved after the grant did (SPEC §4.5). */
			if (pol->cred != NULL &&
			    (pol->cred(pol->cred_arg, g->host, port) ||
			    (proxy_guard_ntop((const struct sockaddr *)&a,
			    text, sizeof(text)) != NULL &&
			    pol->cred(pol->cred_arg, text, port)))) {
				cred_hit = true;
				continue;
			}
			if (grant != NULL)
				*grant = g;
			return MEDIATOR_GRANT;
		}
	}
	if (cred_hit) {
		*reason = "credential upstream: direct connect bypasses L7 "
		    "filtering";
		return MEDIATOR_DENY;
	}
	if (pol->proxy_port != 0 && port == pol->proxy_port)
		*reason = "not the proxy's address";
	else
		*reason = "no direct grant for this address and port";
	if (!pol->report_only)
		return MEDIATOR_DENY;
	/* --report-only: the guard still decides (SPEC 4.11). */
	if (proxy_guard_check(sa, pol->self, false, &e) == -1) {
		/* The mediator is one thread: the text lives until the next. */
		snprintf(guard_reason, sizeof(guard_reason), "%s",
		    errbuf_msg(&e));
		*reason = guard_reason;
		return MEDIATOR_DENY;
	}
	/* A credential upstream's address, on any port (SPEC 4.5). */
	if (pol->cred != NULL && proxy_guard_ntop((const struct sockaddr *)&a,
	    text, sizeof(text)) != NULL && pol->cred(pol->cred_arg, text,
	    port)) {
		*reason = "credential upstream: direct connect bypasses L7 "
		    "filtering";
		return MEDIATOR_DENY;
	}
	return MEDIATOR_WOULD_DENY;
}

void
sandbox_mediator_policy_clear(struct mediator_policy *pol)
{
	size_t	i;

	for (i = 0; i < pol->ngrants; i++) {
		if (pol->grants[i].req != NULL)
			proxy_dns_cancel(pol->grants[i].req);
		if (pol->grants[i].timer != NULL)
			event_free(pol->grants[i].timer);
		free(pol->grants[i].host);
		free(pol->grants[i].addrs);
	}
	free(pol->grants);
	strv_free(&pol->unix_allow);
	for (i = 0; i < pol->nbound; i++)
		if (pol->bound[i].fd != -1)
			close(pol->bound[i].fd);
	free(pol->bound);
	memset(pol, 0, sizeof(*pol));
}

enum mediator_verdict
sandbox_mediator_decide_bind(const struct mediator_policy *pol,
    const struct sockaddr *sa, socklen_t len, const char **reason)
{
	struct sockaddr_storage	 a;
	uint16_t		 port;

	*reason = NULL;
	if (pol->inet_any)
		return MEDIATOR_PASS;
	if (!inet_norm(sa, len, &a, &port)) {
		*reason = "malformed address";
		return MEDIATOR_DENY;
	}
	/* The ports Landlock's bind rule allows (sandbox/landlock.c). */
	if (port != 0 && pol->listen_ports != NULL &&
	    ports_has(pol->listen_ports, port))
		return MEDIATOR_PASS;
	/* --open-port is loopback IPC: bound on loopback only (SPEC §3.2). */
	if (port != 0 && pol->open_ports != NULL &&
	    ports_has(pol->open_ports, port)) {
		if (inet_is_lo4(&a) || inet_is_lo6(&a))
			return MEDIATOR_PASS;
		*reason = "an --open-port port binds on loopback only "
		    "(127.0.0.1, ::1)";
		return MEDIATOR_DENY;
	}
	*reason = "bind port not granted (--open-port, --listen-port)";
	return MEDIATOR_DENY;
}

/* ---- grants ----------------------------------------------------------- */

/* Append addr to g if the address guard lets it through. */
static void
grant_add_addr(struct mediator *m, struct mediator_grant *g,
    const struct sockaddr *sa, struct sockaddr_storage **v, size_t *n)
{
	struct sockaddr_storage	 ss;
	struct errbuf		 e;
	size_t			 i;

	if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
		return;
	/*
	 * Check the address the child would reach, on the grant's port: a
	 * resolver answer has port 0, which would compare as the proxy's
	 * own address when there is no proxy.
	 */
	memset(&ss, 0, sizeof(ss));
	memcpy(&ss, sa, sa->sa_family == AF_INET ?
	    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
	if (ss.ss_family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_port = htons(g->port);
	else
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(g->port);
	sa = (const struct sockaddr *)&ss;
	if (proxy_guard_check(sa, (const struct sockaddr *)&m->self,
	    g->explicit, &e) == -1) {
		log_warnx("direct grant %s:%u: %s: not granted", g->host,
		    g->port, errbuf_msg(&e));
		return;
	}
	for (i = 0; i < *n; i++)
		if (proxy_guard_same_addr(sa, (struct sockaddr *)&(*v)[i]))
			return;
	*v = xreallocarray(*v, *n + 1, sizeof(**v));
	memset(&(*v)[*n], 0, sizeof(**v));
	memcpy(&(*v)[*n], sa, sa->sa_family == AF_INET ?
	    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
	(*n)++;
}

/* Blocking first resolution of g (start-up only). */
static void
grant_resolve_now(struct mediator *m, struct mediator_grant *g, bool lit)
{
	struct addrinfo	 hints, *res = NULL, *ai;
	int		 rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = lit ? AI_NUMERICHOST : 0;
	rc = getaddrinfo(g->host, NULL, &hints, &res);
	if (rc != 0) {
		log_warnx("direct grant %s:%u: cannot resolve %s: %s; it allows "
		    "nothing until a refresh succeeds", g->host, g->port,
		    g->host, gai_strerror(rc));
		return;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next)
		grant_add_addr(m, g, ai->ai_addr, &g->addrs, &g->naddrs);
	freeaddrinfo(res);
}

/* Build the grants of plan p: --resolve, IP literals, else DNS. */
static void
grants_build(struct mediator *m, const struct plan *p)
{
	const struct allow_entry *ae;
	struct mediator_grant	*g;
	size_t			 i, j;

	for (i = 0; i < p->allow.n; i++) {
		ae = &p->allow.v[i];
		if (!ae->direct || ae->port == 0 || ae->kind == ALLOW_SUFFIX)
			continue;
		m->pol.grants = xreallocarray(m->pol.grants,
		    m->pol.ngrants + 1, sizeof(*m->pol.grants));
		g = &m->pol.grants[m->pol.ngrants++];
		memset(g, 0, sizeof(*g));
		g->host = xstrdup(ae->host);
		g->port = ae->port;
		g->m = m;
		for (j = 0; j < p->nresolve; j++) {
			if (p->resolve[j].port != g->port ||
			    strcmp(p->resolve[j].host, g->host) != 0)
				continue;
			g->explicit = true;
			grant_add_addr(m, g,
			    (const struct sockaddr *)&p->resolve[j].addr,
			    &g->addrs, &g->naddrs);
		}
		if (g->explicit)
			continue;
		/* An IP literal or "localhost" names its address on purpose
		 * (SPEC 4.4), as in the proxy. */
		g->explicit = ae->kind == ALLOW_IP ||
		    strcmp(ae->host, "localhost") == 0;
		grant_resolve_now(m, g, ae->kind == ALLOW_IP);
	}
}

/* Re-resolve g in secs seconds. */
static void
grant_schedule(struct mediator_grant *g, uint32_t secs)
{
	struct timeval	tv = { (time_t)secs, 0 };

	g->expires = (time_t)mono_s() + (time_t)secs;

	if (evtimer_add(g->timer, &tv) == -1)
		log_warnx("direct grant %s:%u: cannot schedule its refresh; "
		    "keeping its addresses", g->host, g->port);
}

/* How long an answer with this TTL is used. */
static uint32_t
grant_ttl_secs(uint32_t ttl)
{
	if (ttl == DNS_TTL_UNKNOWN)
		return MEDIATOR_REFRESH_S;
	if (ttl < MEDIATOR_TTL_MIN_S)
		return MEDIATOR_TTL_MIN_S;
	return ttl > MEDIATOR_TTL_MAX_S ? MEDIATOR_TTL_MAX_S : ttl;
}

static void
grant_refreshed_locked(const char *error, const struct sockaddr_storage *addrs,
    size_t n, uint32_t ttl, void *arg)
{
	struct mediator_grant	*g = arg;
	struct sockaddr_storage	*v = NULL;
	size_t			 i, nv = 0;

	g->req = NULL;
	if (error != NULL) {
		log_debug("%s: direct grant %s:%u: %s; keeping the old "
		    "addresses", __func__, g->host, g->port, error);
		grant_schedule(g, MEDIATOR_RETRY_S);
		return;
	}
	for (i = 0; i < n; i++)
		grant_add_addr(g->m, g, (const struct sockaddr *)&addrs[i],
		    &v, &nv);
	if (nv == 0) {
		/* Only guarded answers (a rebinding attempt): keep the old. */
		free(v);
		grant_schedule(g, MEDIATOR_RETRY_S);
		return;
	}
	free(g->addrs);
	g->addrs = v;
	g->naddrs = nv;
	log_debug("%s: direct grant %s:%u: %zu addresses for %u s", __func__,
	    g->host, g->port, nv, grant_ttl_secs(ttl));
	grant_schedule(g, grant_ttl_secs(ttl));
}

/* The proxy resolver's answer, on the loop: with the mediator's lock. */
static void
grant_refreshed(const char *error, const struct sockaddr_storage *addrs,
    size_t n, uint32_t ttl, void *arg)
{
	struct mediator_grant	*g = arg;
	struct mediator		*m = g->m;

	sandbox_mediator_lock(m);
	grant_refreshed_locked(error, addrs, n, ttl, arg);
	sandbox_mediator_unlock(m);
}

/* A grant's addresses expired: ask again (their TTL is learnt too). */
static void
on_grant_expired(evutil_socket_t fd, short what, void *arg)
{
	struct mediator_grant	*g = arg;
	struct mediator		*m = g->m;
	struct dns		*dns;

	(void)fd;
	(void)what;
	sandbox_mediator_lock(m);
	if (g->req == NULL && (dns = proxy_server_dns(m->proxy)) != NULL)
		g->req = proxy_dns_resolve_ttl(dns, g->host, g->port,
		    grant_refreshed, g);
	sandbox_mediator_unlock(m);
}

/*
 * Names (not --resolve, not literals) are looked up once more right away
 * through the resolver that reports TTLs, then whenever theirs runs out.
 */
static int
grants_schedule(struct mediator *m, struct errbuf *e)
{
	struct mediator_grant	*g;
	size_t			 i;

	if (m->proxy == NULL)
		return 0;
	for (i = 0; i < m->pol.ngrants; i++) {
		g = &m->pol.grants[i];
		if (g->explicit)
			continue;
		g->timer = evtimer_new(m->base, on_grant_expired, g);
		if (g->timer == NULL) {
			errbuf_set(e, "direct grant %s:%u: cannot schedule "
			    "its refresh", g->host, g->port);
			return -1;
		}
		grant_schedule(g, 0);
	}
	return 0;
}

static bool
cred_upstream(void *arg, const char *host, uint16_t port)
{
	return proxy_server_cred_upstream(arg, host, port) != NULL;
}

int
sandbox_mediate_inet_init(struct mediator *m, const struct plan *p,
    struct errbuf *e)
{
	if (m->proxy != NULL) {
		m->pol.cred = cred_upstream;
		m->pol.cred_arg = m->proxy;
	}
	m->pol.report_only = p->report_only;
	m->pol.self = (const struct sockaddr *)&m->self;
	if (p->mode == NET_PROXY)
		grants_build(m, p);
	return grants_schedule(m, e);
}

/*
 * Connections to the proxy port are registered by their local port right
 * away, before the proxy's accept can run on this loop (SPEC §4.2).  Only
 * a 127.0.0.1 source: the proxy matches on the port alone.
 */
void
sandbox_mediate_inet_register(struct med_op *op)
{
	struct sockaddr_storage	 ss, n;
	socklen_t		 sl = sizeof(ss);
	uint16_t		 port;

	if (op->verdict != MEDIATOR_PROXY || op->m->proxy == NULL)
		return;
	if (getsockname(op->sfd, (struct sockaddr *)&ss, &sl) == -1 ||
	    !inet_norm((struct sockaddr *)&ss, sl, &n, &port) ||
	    !inet_is_lo4(&n) || port == 0)
		return;
	proxy_server_register_port(op->m->proxy, port);
	op->reg_port = port;
	if (op->thost != NULL)
		proxy_server_register_transparent(op->m->proxy, port,
		    op->thost, op->tport);
}

/*
 * The name the child's DNS answers with address a (normalised): the host
 * of a direct grant holding it, or NULL.
 */
static const char *
inet_known_name(const struct mediator_policy *pol,
    const struct sockaddr_storage *a)
{
	struct sockaddr_storage	 ga;
	uint16_t		 gport;
	size_t			 i, j;

	for (i = 0; i < pol->ngrants; i++)
		for (j = 0; j < pol->grants[i].naddrs; j++)
			if (inet_norm((const struct sockaddr *)
			    &pol->grants[i].addrs[j],
			    sizeof(pol->grants[i].addrs[j]), &ga, &gport) &&
			    inet_same(a, &ga))
				return pol->grants[i].host;
	return NULL;
}

/* The --report-only name whose look-up gave address a, or NULL. */
static const char *
inet_would_name(const struct mediator *m, const struct sockaddr_storage *a)
{
	struct sockaddr_storage	 na;
	uint16_t		 port;
	size_t			 i, j;

	for (i = 0; i < m->nnames; i++)
		for (j = 0; j < m->names[i].n; j++)
			if (inet_norm((const struct sockaddr *)
			    &m->names[i].addrs[j],
			    sizeof(m->names[i].addrs[j]), &na, &port) &&
			    inet_same(a, &na))
				return m->names[i].name;
	return NULL;
}

void
sandbox_mediate_inet_connect(struct med_op *op, int fd)
{
	struct mediator			*m = op->m;
	const struct mediator_grant	*g = NULL;
	struct sockaddr_storage		 n;
	const char			*reason, *name;
	char				 host[256];
	uint16_t			 port;

	if (!inet_norm((struct sockaddr *)&op->addr, op->len, &n, &port)) {
		sandbox_mediator_op_finish(op, -EINVAL);
		return;
	}
	if (m->pol.inet_any) {
		/* NET_ALLOW: any address, no audit record. */
		op->verdict = MEDIATOR_PASS;
		sandbox_mediate_connect_start(op, fd, "inet", port);
		return;
	}
	if (sandbox_mediate_dns_connect(op, fd, &n, port))
		return;
	/* The proxy's registrations and credential hosts are the loop's. */
	if (m->proxy != NULL && sandbox_mediator_to_loop(m)) {
		sandbox_mediator_op_free(op);
		return;
	}
	if (synth_connect(op, fd, &n, port))
		return;
	if (proxy_guard_ntop((struct sockaddr *)&op->addr, host,
	    sizeof(host)) == NULL)
		snprintf(host, sizeof(host), "?");
	op->verdict = sandbox_mediator_decide_inet(&m->pol,
	    (struct sockaddr *)&op->addr, op->len, &reason, &g);
	switch (op->verdict) {
	case MEDIATOR_DENY:
		sandbox_mediator_audit(m, false, host, port, reason);
		sandbox_mediator_op_finish(op, -EACCES);
		return;
	case MEDIATOR_WOULD_DENY:
		/*
		 * Audited once the socket is known to be TCP (a grant could
		 * not allow anything else), by the name the child's DNS
		 * answered with this address, if any: the suggestion is then
		 * that name with this port.
		 */
		op->would = reason;
		if (m->dns != NULL && ((name = inet_known_name(&m->pol,
		    &n)) != NULL || (name = inet_would_name(m, &n)) != NULL))
			snprintf(host, sizeof(host), "%s", name);
		break;
	case MEDIATOR_PROXY:
		log_debug("%s: connect to the proxy", __func__);
		break;
	case MEDIATOR_OPEN_PORT:
		sandbox_mediator_audit(m, true, host, port, "open port");
		break;
	default:
		sandbox_mediator_audit(m, true, host, port, "direct grant");
		break;
	}
	sandbox_mediate_connect_start(op, fd, host, port);
}

void
sandbox_mediate_inet_bind(struct med_op *op, int fd)
{
	struct mediator		*m = op->m;
	struct sockaddr_storage	 n;
	const char		*reason;
	char			 host[INET6_ADDRSTRLEN];
	uint16_t		 port;

	/* proxy_server_sandbox_bound below: the loop's. */
	if (m->proxy != NULL && sandbox_mediator_to_loop(m)) {
		sandbox_mediator_op_free(op);
		return;
	}
	op->verdict = sandbox_mediator_decide_bind(&m->pol,
	    (struct sockaddr *)&op->addr, op->len, &reason);
	if (op->verdict == MEDIATOR_DENY) {
		if (!inet_norm((struct sockaddr *)&op->addr, op->len, &n,
		    &port)) {
			sandbox_mediator_op_finish(op, -EINVAL);
			return;
		}
		if (proxy_guard_ntop((struct sockaddr *)&op->addr, host,
		    sizeof(host)) == NULL)
			snprintf(host, sizeof(host), "?");
		sandbox_mediator_audit(m, false, host, port, reason);
		sandbox_mediator_op_finish(op, -EACCES);
		return;
	}
	/*
	 * Recorded before the bind: from then on the proxy never sends a
	 * route's secret to a loopback upstream on this port (SPEC §3.2).
	 * Port 0 is bound by the kernel's choice only in allow mode, which
	 * has no routes.
	 */
	if (m->proxy != NULL && inet_norm((struct sockaddr *)&op->addr,
	    op->len, &n, &port) && port != 0)
		proxy_server_sandbox_bound(m->proxy, port);
	sandbox_mediate_bind_start(op, fd);
}

/* ---- transparent egress (SPEC §4.13) ------------------------------------ */

/*
 * Allow-listed hosts are answered with synthetic addresses from
 * 198.18.0.0/15 (RFC 2544's benchmarking range, never routed on the
 * internet), one per name, for the whole run: the address alone then names
 * the host unambiguously (real addresses are shared by CDNs and change),
 * the answer needs no upstream query (nothing the child asks leaves the
 * machine), and a connect to it can only mean "this host, through the
 * proxy", which resolves and guards the real addresses itself.
 */
#define SYNTH_BASE	0xc6120000u	/* 198.18.0.0 */
#define SYNTH_MAX	131070u

static bool
synth_index(const struct sockaddr_storage *a, size_t *i)
{
	uint32_t	v;

	if (a->ss_family != AF_INET)
		return false;
	v = ntohl(((const struct sockaddr_in *)a)->sin_addr.s_addr);
	if ((v & 0xfffe0000u) != SYNTH_BASE || v == SYNTH_BASE)
		return false;
	*i = v - SYNTH_BASE - 1;
	return true;
}

/* The entry of the proxy's allow-list for host on port, or NULL. */
static const struct allow_entry *
synth_entry(const struct mediator *m, const char *host, uint16_t port)
{
	const struct allow_entry *ae;

	ae = policy_allowlist_match(&m->plan->allow, host, port,
	    port == 80 ? ALLOW_USE_FORWARD : ALLOW_USE_CONNECT);
	return ae != NULL && !ae->direct ? ae : NULL;
}

/* The synthetic address of an allow-listed host, made on first use. */
static bool
synth_addr(struct mediator *m, const char *host, struct sockaddr_storage *a)
{
	size_t	i;

	if (m->proxy == NULL || proxy_guard_metadata_name(host) ||
	    (synth_entry(m, host, 443) == NULL &&
	    synth_entry(m, host, 80) == NULL))
		return false;
	for (i = 0; i < m->nsynth; i++)
		if (strcmp(m->synth[i], host) == 0)
			break;
	if (i == m->nsynth) {
		if (m->nsynth == SYNTH_MAX)
			return false;
		m->synth = xreallocarray(m->synth, m->nsynth + 1,
		    sizeof(*m->synth));
		m->synth[m->nsynth++] = xstrdup(host);
	}
	memset(a, 0, sizeof(*a));
	a->ss_family = AF_INET;
	((struct sockaddr_in *)a)->sin_addr.s_addr =
	    htonl(SYNTH_BASE + 1 + (uint32_t)i);
	return true;
}

/*
 * A connect to a synthetic address: to the proxy, for the host it
 * stands for, when the host's allow-list entry covers the port.  true
 * when op was taken.
 */
static bool
synth_connect(struct med_op *op, int fd, const struct sockaddr_storage *n,
    uint16_t port)
{
	struct mediator	*m = op->m;
	char		 text[INET6_ADDRSTRLEN];
	size_t		 i;

	if (m->proxy == NULL || !synth_index(n, &i))
		return false;
	if (i >= m->nsynth || synth_entry(m, m->synth[i], port) == NULL) {
		if (proxy_guard_ntop((const struct sockaddr *)n, text,
		    sizeof(text)) == NULL)
			snprintf(text, sizeof(text), "?");
		sandbox_mediator_audit(m, false, i < m->nsynth ?
		    m->synth[i] : text, port, i < m->nsynth ?
		    "allow-listed host, not on this port" :
		    "no host has this address");
		sandbox_mediator_op_finish(op, -EACCES);
		return true;
	}
	op->thost = xstrdup(m->synth[i]);
	op->tport = port;
	if (op->addr.ss_family == AF_INET6) {
		/* A dual-stack socket (Java): the proxy as ::ffff:127.0.0.1. */
		struct sockaddr_in6	*s6 = (struct sockaddr_in6 *)&op->addr;

		memset(&op->addr, 0, sizeof(op->addr));
		s6->sin6_family = AF_INET6;
		s6->sin6_port = m->self.sin_port;
		s6->sin6_addr.s6_addr[10] = 0xff;
		s6->sin6_addr.s6_addr[11] = 0xff;
		memcpy(&s6->sin6_addr.s6_addr[12], &m->self.sin_addr, 4);
		op->len = sizeof(*s6);
	} else {
		memset(&op->addr, 0, sizeof(op->addr));
		memcpy(&op->addr, &m->self, sizeof(m->self));
		op->len = sizeof(m->self);
	}
	op->verdict = MEDIATOR_PROXY;
	sandbox_mediate_connect_start(op, fd, op->thost, port);
	return true;
}

/* ---- --report-only names (SPEC 4.11) ----------------------------------- */

/*
 * Under --report-only a name that would get NXDOMAIN is resolved by the
 * supervisor's resolver instead, so the program being observed works,
 * and audited would_deny (mode dns).  What it found is kept (at most
 * MEDIATOR_NAMES_MAX names, for its TTL): repeated questions are
 * answered from it, and a connect to one of its addresses is audited and
 * suggested by the name.  The look-up leaves the machine, as the
 * connect after it does: report-only allows what would be denied.
 */
struct med_resolve {
	struct mediator		*m;		/* borrowed */
	struct med_resolve	*next;		/* m's list */
	struct dns_req		*req;		/* pending */
	struct dnsd_wait	*w;		/* answered once resolved */
	char			*name;		/* owned */
};

static void
would_audit(struct mediator *m, const char *name)
{
	m->audit_mode = "dns";
	sandbox_mediator_audit_would(m, name, 53,
	    "not a direct grant: resolved (report-only)");
	m->audit_mode = NULL;
}

/* The kept answer for name, or NULL (none, or expired). */
static struct med_name *
would_find(struct mediator *m, const char *name)
{
	time_t	now = (time_t)mono_s();
	size_t	i;

	for (i = 0; i < m->nnames; i++)
		if (m->names[i].name != NULL && m->names[i].expires > now &&
		    strcmp(m->names[i].name, name) == 0)
			return &m->names[i];
	return NULL;
}

static void
would_keep(struct mediator *m, const char *name,
    const struct sockaddr_storage *addrs, size_t n, bool nx, uint32_t ttl)
{
	struct med_name	*e;
	size_t		 i;

	if (m->names == NULL)
		m->names = xcalloc(MEDIATOR_NAMES_MAX, sizeof(*m->names));
	for (i = 0; i < m->nnames; i++)
		if (m->names[i].name != NULL &&
		    strcmp(m->names[i].name, name) == 0)
			break;
	if (i == m->nnames) {
		if (m->nnames < MEDIATOR_NAMES_MAX)
			i = m->nnames++;
		else {
			i = m->names_next;
			m->names_next = (m->names_next + 1) %
			    MEDIATOR_NAMES_MAX;
		}
	}
	e = &m->names[i];
	free(e->name);
	e->name = xstrdup(name);
	e->n = n < DNS_MAX_ADDRS ? n : DNS_MAX_ADDRS;
	memcpy(e->addrs, addrs, e->n * sizeof(*addrs));
	e->nx = nx;
	e->expires = (time_t)mono_s() + (time_t)ttl;
}

static uint32_t
would_ttl(uint32_t ttl)
{
	if (ttl == DNS_TTL_UNKNOWN || ttl > MEDIATOR_REFRESH_S)
		return MEDIATOR_REFRESH_S;
	return ttl < MEDIATOR_TTL_MIN_S ? MEDIATOR_TTL_MIN_S : ttl;
}

static void
would_free(struct med_resolve *r)
{
	struct med_resolve	**pp;

	for (pp = &r->m->resolves; *pp != NULL; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	free(r->name);
	free(r);
}

static void
would_resolved(const char *error, const struct sockaddr_storage *addrs,
    size_t n, uint32_t ttl, void *arg)
{
	struct med_resolve	*r = arg;
	struct mediator		*m = r->m;

	sandbox_mediator_lock(m);
	r->req = NULL;
	ttl = would_ttl(ttl);
	if (error != NULL) {
		log_debug("%s: %s: %s", __func__, r->name, error);
		would_keep(r->m, r->name, NULL, 0, true, ttl);
		sandbox_dnsd_resume(r->w, DNSD_NXDOMAIN, NULL, 0, 0);
	} else {
		would_keep(r->m, r->name, addrs, n, false, ttl);
		sandbox_dnsd_resume(r->w, 0, addrs, n, ttl);
	}
	would_free(r);
	sandbox_mediator_unlock(m);
}

/* A name not allowed, under --report-only: resolved, then answered. */
static int
would_lookup(struct mediator *m, const char *name,
    struct sockaddr_storage *addrs, size_t max, size_t *n, uint32_t *ttl,
    struct dnsd_query *dq)
{
	struct med_name		*e;
	struct med_resolve	*r;
	struct dnsd_wait	*w;
	struct dns		*dns;

	would_audit(m, name);
	if ((e = would_find(m, name)) != NULL) {
		*n = e->n < max ? e->n : max;
		memcpy(addrs, e->addrs, *n * sizeof(*addrs));
		*ttl = (uint32_t)(e->expires - (time_t)mono_s());
		return e->nx ? DNSD_NXDOMAIN : 0;
	}
	if (m->proxy == NULL || (dns = proxy_server_dns(m->proxy)) == NULL ||
	    (w = sandbox_dnsd_defer(dq)) == NULL)
		return DNSD_SERVFAIL;
	r = xcalloc(1, sizeof(*r));
	r->m = m;
	r->w = w;
	r->name = xstrdup(name);
	r->next = m->resolves;
	m->resolves = r;
	r->req = proxy_dns_resolve_ttl(dns, name, 0, would_resolved, r);
	if (r->req == NULL) {
		sandbox_dnsd_resume(w, DNSD_SERVFAIL, NULL, 0, 0);
		would_free(r);
	}
	return DNSD_LATER;
}

void
sandbox_mediate_inet_free(struct mediator *m)
{
	size_t	i;

	while (m->resolves != NULL) {
		if (m->resolves->req != NULL)
			proxy_dns_cancel(m->resolves->req);
		/* Its wait goes with the answerer. */
		would_free(m->resolves);
	}
	for (i = 0; i < m->nnames; i++)
		free(m->names[i].name);
	free(m->names);
	m->names = NULL;
	m->nnames = 0;
}

/*
 * The child's DNS (SPEC §3.1): a direct grant's host answers with exactly
 * its pinned addresses (every port's grant), for no longer than the pin
 * holds; names of /etc/hosts as the file says (glibc reads it before it
 * asks, but c-ares' resolve4 and anything that asks the nameserver
 * itself do not), "localhost" as loopback when the file lacks it; every
 * other name NXDOMAIN, audited.  In blocked mode only the first two.
 */
int
sandbox_mediate_inet_lookup(void *arg, const char *name, uint16_t qtype,
    struct sockaddr_storage *addrs, size_t max, size_t *n, uint32_t *ttl,
    struct dnsd_query *dq)
{
	struct mediator		*m = arg;
	struct mediator_grant	*g;
	struct sockaddr_in	*s4;
	struct sockaddr_in6	*s6;
	size_t			 i, j, k;
	time_t			 now = (time_t)mono_s(), left;
	bool			 found = false;

	(void)qtype;
	*n = 0;
	*ttl = MEDIATOR_REFRESH_S;
	/* As the system says: glibc reads the file before it asks. */
	if (hosts_lookup(m->hosts, name, addrs, max, n)) {
		*ttl = MEDIATOR_HOSTS_TTL_S;
		return 0;
	}
	if (strcmp(name, "localhost") == 0 ||
	    (strlen(name) > 10 && strcmp(name + strlen(name) - 10,
	    ".localhost") == 0)) {
		memset(addrs, 0, 2 * sizeof(*addrs));
		s4 = (struct sockaddr_in *)&addrs[0];
		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		s6 = (struct sockaddr_in6 *)&addrs[1];
		s6->sin6_family = AF_INET6;
		s6->sin6_addr = in6addr_loopback;
		*n = 2;
		return 0;
	}
	for (i = 0; name[0] != '\0' && i < m->pol.ngrants; i++) {
		g = &m->pol.grants[i];
		if (strcmp(g->host, name) != 0)
			continue;
		found = true;
		if (g->expires != 0) {
			left = g->expires > now ? g->expires - now : 0;
			if ((uint32_t)left < *ttl)
				*ttl = (uint32_t)left;
		}
		for (j = 0; j < g->naddrs && *n < max; j++) {
			for (k = 0; k < *n; k++)
				if (inet_same(&addrs[k], &g->addrs[j]))
					break;
			if (k == *n) {
				addrs[*n] = g->addrs[j];
				(*n)++;
			}
		}
	}
	if (found)
		return 0;
	if (m->plan->mode != NET_PROXY) {
		/* Blocked: only /etc/hosts names and localhost (SPEC 3.1). */
		m->audit_mode = "dns";
		sandbox_mediator_audit(m, false, name[0] != '\0' ? name :
		    "(malformed name)", 53, "network blocked: NXDOMAIN");
		m->audit_mode = NULL;
		return DNSD_NXDOMAIN;
	}
	if (synth_addr(m, name, &addrs[0])) {
		/* IPv4 only: AAAA gets no data, the client uses A. */
		*n = qtype == DNSMSG_T_AAAA ? 0 : 1;
		*ttl = MEDIATOR_REFRESH_S;
		return 0;
	}
	if (m->pol.report_only && name[0] != '\0' &&
	    !proxy_guard_metadata_name(name))
		return would_lookup(m, name, addrs, max, n, ttl, dq);
	m->audit_mode = "dns";
	sandbox_mediator_audit(m, false, name[0] != '\0' ? name :
	    "(malformed name)", 53, "not a direct grant: NXDOMAIN");
	m->audit_mode = NULL;
	return DNSD_NXDOMAIN;
}
