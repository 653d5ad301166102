#ifndef KEYHOLE_SANDBOX_DNSD_H
#define KEYHOLE_SANDBOX_DNSD_H

/*
 * The child's DNS, answered by the supervisor (SPEC §3.1).
 *
 * A helper process forked at start makes a private network namespace
 * (as root a new network namespace; otherwise inside a new user
 * namespace) holding only lo, up, with every nameserver address of
 * /etc/resolv.conf on it.  Our answerer listens there on port 53, UDP
 * and TCP, on each of those addresses, so an answer always comes from the
 * address the client asked.  The mediator asks the helper for a UDP
 * socket whenever the child creates one (socket() traps) and for a TCP
 * socket connected to a nameserver when the child connects to one on
 * port 53, and installs it in the child: such a socket reaches nothing
 * but our answerer, and no query ever leaves the machine.
 */

#include <sys/socket.h>

#include <pthread.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/errbuf.h"

struct event_base;
struct dnsd;

#define DNSD_MAX_SERVERS	8	/* nameserver lines used */
#define DNSD_MAX_ADDRS		128	/* addresses in one answer */
#define DNSD_TCP_MAX		32	/* TCP connections served at once */
#define DNSD_TCP_IDLE_S		10	/* an idle TCP connection is closed */
#define DNSD_HELPER_WAIT_MS	2000	/* the helper's answer, at most */
#define DNSD_POOL		16	/* UDP sockets made per helper call */

#define DNSD_WAIT_MAX		64	/* answers deferred at once */

/* One query being answered (for sandbox_dnsd_defer). */
struct dnsd_query;
/* A deferred answer (sandbox_dnsd_resume). */
struct dnsd_wait;

/* What a lookup returns besides 0 (an answer). */
#define DNSD_NXDOMAIN		(-1)
#define DNSD_SERVFAIL		(-2)
#define DNSD_LATER		1	/* deferred: sandbox_dnsd_resume */

/*
 * The answer for name (lower case, no final dot): 0 with *n addresses
 * (none: the name exists, no such record) and their TTL; DNSD_NXDOMAIN
 * (the callee audits it); DNSD_SERVFAIL; or DNSD_LATER after
 * sandbox_dnsd_defer(q) gave the callee a wait it answers later.
 */
typedef int dnsd_lookup_fn(void *arg, const char *name, uint16_t qtype,
	    struct sockaddr_storage *addrs, size_t max, size_t *n,
	    uint32_t *ttl, struct dnsd_query *q);

/*
 * Keep query q to be answered later with sandbox_dnsd_resume(), exactly
 * once, before sandbox_dnsd_free() (which drops every wait).  NULL when
 * DNSD_WAIT_MAX are waiting already.
 */
struct dnsd_wait *sandbox_dnsd_defer(struct dnsd_query *q);

/*
 * Answer a deferred query (rc, addrs, n, ttl as a lookup returns them)
 * and free w.  The client may have gone (a TCP connection closed): then
 * nothing is sent.
 */
void	 sandbox_dnsd_resume(struct dnsd_wait *w, int rc,
	    const struct sockaddr_storage *addrs, size_t n, uint32_t ttl);

/*
 * Start the helper and the answerer on base, for the nameservers of
 * resolv_conf (NULL: /etc/resolv.conf).  The helper's namespace is made
 * while the caller goes on (its reply is taken on the loop); lazy: the
 * helper is not even forked until the first socket is asked for (a
 * namespace costs milliseconds of CPU a run that never looks a name up
 * need not pay).  NULL with e saying why (fork failed); a namespace that
 * cannot be made is said later, once, and every socket then fails.
 */
struct dnsd *sandbox_dnsd_new(struct event_base *base,
	    const char *resolv_conf, bool lazy, dnsd_lookup_fn *fn,
	    void *arg, struct errbuf *e);

/*
 * Every callback of d's on the loop (the answerer, hence the lookup
 * function, and the helper's set-up reply) runs with mu held: the
 * mediator's lock, shared with its notification thread.  NULL: none.
 */
void	 sandbox_dnsd_set_lock(struct dnsd *, pthread_mutex_t *mu);

/* Stop the answerer, kill and reap the helper.  NULL is a no-op. */
void	 sandbox_dnsd_free(struct dnsd *);

/*
 * A new socket in the namespace: family AF_INET or AF_INET6, type
 * SOCK_DGRAM with SOCK_NONBLOCK/SOCK_CLOEXEC.  Owned fd, or -errno.
 */
int	 sandbox_dnsd_socket(struct dnsd *, int family, int type);

/*
 * A TCP socket connected in the namespace to nameserver a (normalised,
 * port 53), O_NONBLOCK when nonblock.  Owned fd, or -errno.
 */
int	 sandbox_dnsd_tcp(struct dnsd *, const struct sockaddr_storage *a,
	    bool nonblock);

/* True when a (normalised address, port) is one of our nameservers. */
bool	 sandbox_dnsd_is_server(const struct dnsd *,
	    const struct sockaddr_storage *a, uint16_t port);

/*
 * True when the set-up is over (up or failed; NULL too): sockets are
 * then made without starting anything on the loop.
 */
bool	 sandbox_dnsd_settled(const struct dnsd *);

/* True when socket fd was made in our namespace. */
bool	 sandbox_dnsd_owns(const struct dnsd *, int fd);

/* Parse resolv.conf text: nameserver addresses, at most max.  For tests. */
size_t	 sandbox_dnsd_servers(const char *text, struct sockaddr_storage *v,
	    size_t max);

#endif
