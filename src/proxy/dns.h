#ifndef KEYHOLE_PROXY_DNS_H
#define KEYHOLE_PROXY_DNS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "util/errbuf.h"

struct event_base;

/*
 * Asynchronous name resolution (evdns, which reads /etc/hosts and
 * resolv.conf).  IP literals are answered without a query.  Answers always
 * arrive from the loop, never from inside proxy_dns_resolve().
 */
struct dns;
struct dns_req;

#define DNS_MAX_ADDRS	16

/* error: 0, or a message such as "no such host" (borrowed). */
typedef void dns_done_fn(const char *error,
	    const struct sockaddr_storage *addrs, size_t n, void *arg);

/*
 * Like dns_done_fn, with how long the answer may be used: the smallest TTL
 * of its records in seconds, or DNS_TTL_UNKNOWN when it did not come from
 * a DNS answer (an IP literal, /etc/hosts, or no nameserver configured).
 */
#define DNS_TTL_UNKNOWN	UINT32_MAX
typedef void dns_ttl_fn(const char *error,
	    const struct sockaddr_storage *addrs, size_t n, uint32_t ttl,
	    void *arg);

/* The system resolver, made at the first name it is asked for. */
struct dns *proxy_dns_new(struct event_base *);
/*
 * A resolver that asks only nameserver ("IP:PORT") and reads hosts_path
 * (NULL: none) instead of the system's files.  For tests.
 */
struct dns *proxy_dns_new_at(struct event_base *, const char *nameserver,
	    const char *hosts_path, struct errbuf *e);
/* host is canonical (no brackets). */
struct dns_req *proxy_dns_resolve(struct dns *, const char *host,
	    uint16_t port, dns_done_fn *, void *arg);
/*
 * Resolve host as proxy_dns_resolve() does (/etc/hosts first), but ask DNS
 * for A and AAAA records directly so the answer's TTL is known.
 */
struct dns_req *proxy_dns_resolve_ttl(struct dns *, const char *host,
	    uint16_t port, dns_ttl_fn *, void *arg);
/* Cancel a pending request: its callback will not run. */
void	 proxy_dns_cancel(struct dns_req *);
void	 proxy_dns_free(struct dns *);

#endif
