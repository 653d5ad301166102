#include "proxy/dns.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>

#include "util/log.h"
#include "util/xmalloc.h"

#define DNS_HOSTS_FILE	"/etc/hosts"

struct dns {
	struct event_base	*base;		/* borrowed */
	struct evdns_base	*evdns;		/* owned; NULL until first used */
	struct evdns_base	*hosts;		/* owned: hosts file only */
	bool			 failed;	/* dns_open could not */
};

struct dns_req {
	struct dns			*dns;		/* borrowed */
	struct evdns_getaddrinfo_request *q;	/* pending query */
	struct evdns_request		*q4;	/* pending A query (TTL mode) */
	struct evdns_request		*q6;	/* pending AAAA query */
	int				 outstanding;	/* of q4, q6 */
	struct event			*ev;		/* deferred answer */
	dns_done_fn			*done;		/* or: */
	dns_ttl_fn			*ttl_done;
	uint32_t			 ttl;
	void				*arg;
	bool				 cancelled;
	bool				 in_call;	/* inside resolve() */
	bool				 from_hosts;	/* probe answered */
	uint16_t			 port;
	char				 error[128];
	struct sockaddr_storage		 addrs[DNS_MAX_ADDRS];
	size_t				 naddrs;
};

/*
 * Every wait has a deadline: 2 s per try, 2 tries.  And a second resolver
 * with no nameserver answers "is it in the hosts file?" (path NULL: the
 * system's) without a packet: a miss there only queues queries that are
 * cancelled at once.  -1 when it cannot be made.
 */
static int
dns_finish(struct dns *d, const char *hosts_path)
{
	evdns_base_set_option(d->evdns, "timeout:", "2");
	evdns_base_set_option(d->evdns, "attempts:", "2");
	d->hosts = evdns_base_new(d->base, EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (d->hosts == NULL)
		return -1;
	/* NULL would mean "localhost only" to evdns.  It may be absent. */
	(void)evdns_base_load_hosts(d->hosts, hosts_path != NULL ? hosts_path :
	    DNS_HOSTS_FILE);
	return 0;
}

/*
 * The system resolver, made at the first name to resolve, not at start:
 * a proxy whose names are IP literals or --resolve entries never reads
 * resolv.conf and /etc/hosts (twice) nor opens the nameserver's socket,
 * and a start (keyhole run in proxy mode) is ~15 system calls shorter;
 * the idle proxy's memory has no resolver in it.  False when it cannot
 * be made (out of memory): the request is answered with an error.
 */
static bool
dns_open(struct dns *d)
{
	if (d->evdns != NULL)
		return true;
	if (d->failed)
		return false;
	/*
	 * Inactive evdns must not keep the loop alive; reads resolv.conf and
	 * /etc/hosts.
	 */
	d->evdns = evdns_base_new(d->base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
	    EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (d->evdns == NULL) {
		/* No resolv.conf: names still resolve through /etc/hosts. */
		d->evdns = evdns_base_new(d->base,
		    EVDNS_BASE_DISABLE_WHEN_INACTIVE);
		if (d->evdns != NULL)
			evdns_base_load_hosts(d->evdns, DNS_HOSTS_FILE);
	}
	if (d->evdns == NULL || dns_finish(d, NULL) == -1) {
		log_warnx("cannot start the DNS resolver");
		if (d->evdns != NULL)
			evdns_base_free(d->evdns, 1);
		d->evdns = NULL;
		d->failed = true;
		return false;
	}
	return true;
}

struct dns *
proxy_dns_new(struct event_base *base)
{
	struct dns	*d = xcalloc(1, sizeof(*d));

	d->base = base;
	return d;
}

struct dns *
proxy_dns_new_at(struct event_base *base, const char *nameserver,
    const char *hosts_path, struct errbuf *e)
{
	struct dns	*d = xcalloc(1, sizeof(*d));

	d->base = base;
	d->evdns = evdns_base_new(base, EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (d->evdns == NULL ||
	    evdns_base_nameserver_ip_add(d->evdns, nameserver) != 0 ||
	    (hosts_path != NULL &&
	    evdns_base_load_hosts(d->evdns, hosts_path) != 0) ||
	    dns_finish(d, hosts_path) == -1) {
		errbuf_set(e, "cannot start a DNS resolver for %s", nameserver);
		proxy_dns_free(d);
		return NULL;
	}
	return d;
}

/* Hand the answer to whoever asked, unless they cancelled. */
static void
req_call(struct dns_req *r)
{
	const char	*error = r->error[0] != '\0' ? r->error : NULL;

	if (r->cancelled)
		return;
	if (r->ttl_done != NULL)
		r->ttl_done(error, r->addrs, r->naddrs, r->ttl, r->arg);
	else
		r->done(error, r->addrs, r->naddrs, r->arg);
}

static void
req_deliver(evutil_socket_t fd, short what, void *arg)
{
	struct dns_req	*r = arg;

	(void)fd;
	(void)what;
	event_free(r->ev);
	r->ev = NULL;
	req_call(r);
	free(r);
}

/* Deliver from the loop on its next turn. */
static void
req_defer(struct dns_req *r)
{
	struct timeval	tv = { 0, 0 };

	r->ev = evtimer_new(r->dns->base, req_deliver, r);
	if (r->ev == NULL)
		log_fatalx("cannot create a DNS event");
	evtimer_add(r->ev, &tv);
}

/* The system resolver could not be made (dns_open): r fails, deferred. */
static struct dns_req *
req_no_resolver(struct dns_req *r)
{
	snprintf(r->error, sizeof(r->error), "cannot start the DNS resolver");
	req_defer(r);
	return r;
}

/* Take the addresses of a getaddrinfo answer into r; frees res. */
static void
req_collect(struct dns_req *r, int result, struct evutil_addrinfo *res)
{
	struct evutil_addrinfo	*ai;

	if (result != 0)
		snprintf(r->error, sizeof(r->error), "%s",
		    evutil_gai_strerror(result));
	for (ai = res; ai != NULL && r->naddrs < DNS_MAX_ADDRS;
	    ai = ai->ai_next) {
		if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
		    ai->ai_addrlen > sizeof(r->addrs[0]))
			continue;
		memcpy(&r->addrs[r->naddrs++], ai->ai_addr, ai->ai_addrlen);
	}
	if (res != NULL)
		evutil_freeaddrinfo(res);
	if (result == 0 && r->naddrs == 0)
		snprintf(r->error, sizeof(r->error), "no addresses");
}

/* r is complete: answer now, or from the loop if still inside the call. */
static void
req_end(struct dns_req *r)
{
	if (r->in_call) {
		req_defer(r);
		return;
	}
	req_call(r);
	free(r);
}

static void
req_answer(int result, struct evutil_addrinfo *res, void *arg)
{
	struct dns_req		*r = arg;

	r->q = NULL;
	if (result == EVUTIL_EAI_CANCEL) {
		if (res != NULL)
			evutil_freeaddrinfo(res);
		free(r);
		return;
	}
	req_collect(r, result, res);
	req_end(r);
}

/* An IP literal: one address, no query. */
static bool
req_literal(struct dns_req *r, const char *host, uint16_t port)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)&r->addrs[0];
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&r->addrs[0];

	memset(&r->addrs[0], 0, sizeof(r->addrs[0]));
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
	} else
		return false;
	r->naddrs = 1;
	return true;
}

struct dns_req *
proxy_dns_resolve(struct dns *d, const char *host, uint16_t port,
    dns_done_fn *done, void *arg)
{
	struct dns_req		*r = xcalloc(1, sizeof(*r));
	struct evutil_addrinfo	 hints;
	char			 portstr[8];

	r->dns = d;
	r->done = done;
	r->arg = arg;
	if (req_literal(r, host, port)) {
		req_defer(r);
		return r;
	}
	if (!dns_open(d))
		return req_no_resolver(r);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	snprintf(portstr, sizeof(portstr), "%u", port);
	r->in_call = true;
	r->q = evdns_getaddrinfo(d->evdns, host, portstr, &hints, req_answer,
	    r);
	r->in_call = false;
	return r;
}

/* ---- TTL mode ---------------------------------------------------------- */

/*
 * The hosts-file probe's callback.  *slot is the request while the probe
 * can still answer from inside evdns_getaddrinfo(); a probe that went to
 * DNS is cancelled at once and only frees its slot.
 */
static void
req_probe_answer(int result, struct evutil_addrinfo *res, void *arg)
{
	struct dns_req	**slot = arg;

	if (result == 0 && *slot != NULL) {
		req_collect(*slot, result, res);
		(*slot)->from_hosts = true;
		free(slot);
		return;
	}
	if (result != EVUTIL_EAI_CANCEL && *slot != NULL) {
		/* Not in the file (no nameserver to ask): DNS decides. */
		if (res != NULL)
			evutil_freeaddrinfo(res);
		free(slot);
		return;
	}
	if (res != NULL)
		evutil_freeaddrinfo(res);
	free(slot);
}

/* True when host is in the hosts file; the answer is then in r. */
static bool
req_from_hosts(struct dns_req *r, const char *host, const char *port)
{
	struct evutil_addrinfo		 hints;
	struct evdns_getaddrinfo_request *q;
	struct dns_req			**slot = xmalloc(sizeof(*slot));

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	*slot = r;
	q = evdns_getaddrinfo(r->dns->hosts, host, port, &hints,
	    req_probe_answer, slot);
	if (q == NULL)
		return r->from_hosts;
	/*
	 * Not in the hosts file: the probe's queries wait for a nameserver
	 * it does not have.  Drop them (the callback then only frees the
	 * slot); the caller asks DNS for the records and their TTLs.
	 */
	*slot = NULL;
	evdns_getaddrinfo_cancel(q);
	return false;
}

static void
req_ttl_finish(struct dns_req *r)
{
	if (--r->outstanding > 0)
		return;
	if (r->naddrs > 0)
		r->error[0] = '\0';	/* one family answering is enough */
	else if (r->error[0] == '\0')
		snprintf(r->error, sizeof(r->error), "no addresses");
	req_end(r);
}

/* Take the records of one A or AAAA answer into r. */
static void
req_ttl_record(struct dns_req *r, int result, char type, int count,
    int ttl, const void *addresses)
{
	struct sockaddr_in	*sin;
	struct sockaddr_in6	*sin6;
	int			 i;

	if (result != DNS_ERR_NONE) {
		if (r->error[0] == '\0' && result != DNS_ERR_CANCEL)
			snprintf(r->error, sizeof(r->error), "%s",
			    evdns_err_to_string(result));
		return;
	}
	for (i = 0; i < count && r->naddrs < DNS_MAX_ADDRS; i++) {
		memset(&r->addrs[r->naddrs], 0, sizeof(r->addrs[0]));
		if (type == DNS_IPv4_A) {
			sin = (struct sockaddr_in *)&r->addrs[r->naddrs];
			sin->sin_family = AF_INET;
			sin->sin_port = htons(r->port);
			memcpy(&sin->sin_addr, (const char *)addresses +
			    (size_t)i * 4, 4);
		} else if (type == DNS_IPv6_AAAA) {
			sin6 = (struct sockaddr_in6 *)&r->addrs[r->naddrs];
			sin6->sin6_family = AF_INET6;
			sin6->sin6_port = htons(r->port);
			memcpy(&sin6->sin6_addr, (const char *)addresses +
			    (size_t)i * 16, 16);
		} else
			return;
		r->naddrs++;
	}
	if (count > 0 && (uint32_t)(ttl < 0 ? 0 : ttl) < r->ttl)
		r->ttl = (uint32_t)(ttl < 0 ? 0 : ttl);
}

static void
req_ttl_answer4(int result, char type, int count, int ttl, void *addresses,
    void *arg)
{
	struct dns_req	*r = arg;

	r->q4 = NULL;
	req_ttl_record(r, result, type, count, ttl, addresses);
	req_ttl_finish(r);
}

static void
req_ttl_answer6(int result, char type, int count, int ttl, void *addresses,
    void *arg)
{
	struct dns_req	*r = arg;

	r->q6 = NULL;
	req_ttl_record(r, result, type, count, ttl, addresses);
	req_ttl_finish(r);
}

struct dns_req *
proxy_dns_resolve_ttl(struct dns *d, const char *host, uint16_t port,
    dns_ttl_fn *done, void *arg)
{
	struct dns_req	*r = xcalloc(1, sizeof(*r));
	char		 portstr[8];

	r->dns = d;
	r->ttl_done = done;
	r->arg = arg;
	r->port = port;
	r->ttl = DNS_TTL_UNKNOWN;
	snprintf(portstr, sizeof(portstr), "%u", port);
	if (!req_literal(r, host, port) && !dns_open(d))
		return req_no_resolver(r);
	if (r->naddrs > 0 || req_from_hosts(r, host, portstr) ||
	    evdns_base_count_nameservers(d->evdns) == 0) {
		if (r->naddrs == 0 && r->error[0] == '\0')
			snprintf(r->error, sizeof(r->error),
			    "not in the hosts file and no nameserver");
		req_defer(r);
		return r;
	}
	r->in_call = true;
	r->outstanding = 3;	/* one for this call, so nothing ends in it */
	r->q4 = evdns_base_resolve_ipv4(d->evdns, host, 0, req_ttl_answer4,
	    r);
	if (r->q4 == NULL)
		r->outstanding--;
	r->q6 = evdns_base_resolve_ipv6(d->evdns, host, 0, req_ttl_answer6,
	    r);
	if (r->q6 == NULL)
		r->outstanding--;
	if (r->q4 == NULL && r->q6 == NULL)
		snprintf(r->error, sizeof(r->error), "cannot start a query");
	req_ttl_finish(r);	/* defers if this was the last */
	r->in_call = false;
	return r;
}

void
proxy_dns_cancel(struct dns_req *r)
{
	if (r == NULL)
		return;
	r->cancelled = true;
	if (r->q != NULL) {
		evdns_getaddrinfo_cancel(r->q);	/* frees r via the callback */
		return;
	}
	/* Each callback still runs once (later); the last one frees r. */
	if (r->q4 != NULL)
		evdns_cancel_request(r->dns->evdns, r->q4);
	if (r->q6 != NULL)
		evdns_cancel_request(r->dns->evdns, r->q6);
}

void
proxy_dns_free(struct dns *d)
{
	if (d == NULL)
		return;
	if (d->evdns != NULL)
		evdns_base_free(d->evdns, 1);
	if (d->hosts != NULL)
		evdns_base_free(d->hosts, 1);
	free(d);
}
