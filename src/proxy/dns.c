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

struct dns {
	struct event_base	*base;		/* borrowed */
	struct evdns_base	*evdns;		/* owned */
};

struct dns_req {
	struct dns			*dns;		/* borrowed */
	struct evdns_getaddrinfo_request *q;	/* pending query */
	struct event			*ev;		/* deferred answer */
	dns_done_fn			*done;
	void				*arg;
	bool				 cancelled;
	bool				 in_call;	/* inside resolve() */
	char				 error[128];
	struct sockaddr_storage		 addrs[DNS_MAX_ADDRS];
	size_t				 naddrs;
};

struct dns *
proxy_dns_new(struct event_base *base, struct errbuf *e)
{
	struct dns	*d = xcalloc(1, sizeof(*d));

	d->base = base;
	/*
	 * Inactive evdns must not keep the loop alive; reads resolv.conf and
	 * /etc/hosts.
	 */
	d->evdns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
	    EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (d->evdns == NULL) {
		/* No resolv.conf: names still resolve through /etc/hosts. */
		d->evdns = evdns_base_new(base,
		    EVDNS_BASE_DISABLE_WHEN_INACTIVE);
		if (d->evdns == NULL) {
			errbuf_set(e, "cannot start the DNS resolver");
			free(d);
			return NULL;
		}
		evdns_base_load_hosts(d->evdns, NULL);
	}
	/* Every wait has a deadline: 2 s per try, 2 tries. */
	evdns_base_set_option(d->evdns, "timeout:", "2");
	evdns_base_set_option(d->evdns, "attempts:", "2");
	return d;
}

static void
req_deliver(evutil_socket_t fd, short what, void *arg)
{
	struct dns_req	*r = arg;

	(void)fd;
	(void)what;
	event_free(r->ev);
	r->ev = NULL;
	if (!r->cancelled)
		r->done(r->error[0] != '\0' ? r->error : NULL, r->addrs,
		    r->naddrs, r->arg);
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

static void
req_answer(int result, struct evutil_addrinfo *res, void *arg)
{
	struct dns_req		*r = arg;
	struct evutil_addrinfo	*ai;

	r->q = NULL;
	if (result == EVUTIL_EAI_CANCEL) {
		if (res != NULL)
			evutil_freeaddrinfo(res);
		free(r);
		return;
	}
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
	if (r->in_call) {
		req_defer(r);
		return;
	}
	if (!r->cancelled)
		r->done(r->error[0] != '\0' ? r->error : NULL, r->addrs,
		    r->naddrs, r->arg);
	free(r);
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

void
proxy_dns_cancel(struct dns_req *r)
{
	if (r == NULL)
		return;
	r->cancelled = true;
	if (r->q != NULL)
		evdns_getaddrinfo_cancel(r->q);	/* frees r via the callback */
}

void
proxy_dns_free(struct dns *d)
{
	if (d == NULL)
		return;
	evdns_base_free(d->evdns, 1);
	free(d);
}
