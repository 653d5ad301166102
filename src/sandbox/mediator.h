#ifndef KEYHOLE_SANDBOX_MEDIATOR_H
#define KEYHOLE_SANDBOX_MEDIATOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "util/errbuf.h"
#include "util/strv.h"

struct dns_req;
struct event_base;
struct plan;
struct ports;
struct proxy;

/*
 * The mediator (SPEC §1 layer 3, §3, §3.2).  The child's seccomp filter
 * turns connect(), bind(), sendmsg(), sendmmsg() and sendto() with an
 * address into user notifications, in every network mode.  The
 * supervisor reads the arguments once from the child's memory, decides on
 * its copy from the table below, and performs the call itself on a
 * duplicate of the child's socket (pidfd_getfd), then answers with the
 * result.  Nothing is ever let through with
 * SECCOMP_USER_NOTIF_FLAG_CONTINUE.  Handlers live in mediate_*.c
 * (interface: mediator_int.h).
 *
 * Policy:
 *   connect(), AF_INET/AF_INET6 TCP (NET_BLOCKED and NET_PROXY):
 *     127.0.0.1:PROXY_PORT                          allowed (registered)
 *     127.0.0.1 or ::1 on an --open-port port        allowed
 *     a resolved address of a direct grant host:PORT allowed on PORT,
 *       unless it is a credential upstream's address or guarded
 *     anything else                                 EACCES, audited
 *   connect(), AF_INET/AF_INET6 in NET_ALLOW: performed as asked.
 *   bind(), AF_INET/AF_INET6: what Landlock allows (NET_ALLOW: any;
 *     else --open-port ports, and in NET_PROXY --listen-port ports).
 *   AF_UNIX pathname bind(): performed by the supervisor in the parent
 *     directory as the child resolves it, only where the plan grants
 *     write access (policy_why_writable); the socket file it creates is
 *     recorded as bound inside (its inode, pinned with an O_PATH fd).
 *   AF_UNIX pathname connect(), and a datagram send to a pathname: only
 *     a socket bound inside or one named by --allow-unix-socket (a
 *     directory named there covers the sockets below it); else EACCES.
 *     Write grants never imply a socket grant.  Abstract: EACCES.
 *     Unnamed: passed to the kernel (on our duplicate).
 *   AF_UNSPEC (disconnect): passed to the kernel.
 *   AF_NETLINK to the kernel (nl_pid 0): passed; other portids: EACCES
 *     (in NET_ALLOW: passed).
 *   Any other family: EACCES (in NET_ALLOW: passed).
 * sendmsg() on anything but an unconnected-style AF_UNIX datagram send
 * is performed on our copies as asked (data, SCM_RIGHTS descriptors
 * translated with pidfd_getfd); see mediate_send.c.
 */
struct mediator;	/* opaque */

/* Limits, named once (STYLE §1). */
#define MEDIATOR_MAX_PENDING	1024	/* blocking connects in flight */
#define MEDIATOR_BATCH		64	/* notifications per loop turn */
#define MEDIATOR_REFRESH_S	60	/* re-resolve grants with no TTL */
#define MEDIATOR_HOSTS_TTL_S	5	/* TTL of an /etc/hosts answer */
#define MEDIATOR_NAMES_MAX	256	/* --report-only names kept */
#define MEDIATOR_RETRY_S	10	/* after a failed re-resolution */
#define MEDIATOR_TTL_MIN_S	1	/* TTLs are clamped into this range */
#define MEDIATOR_TTL_MAX_S	3600
#define MEDIATOR_UNIX_RETRY_MS	20	/* blocking AF_UNIX, full backlog */
#define MEDIATOR_SYNC_AFTER	32	/* lone notifications: sync wake-ups */
#define MEDIATOR_THREADS	4	/* notification threads at most */
#define MEDIATOR_MULTI_CALLS	64	/* calls after a change of caller
					 * that look for more work */
#define MEDIATOR_FOLLOW_S	5	/* an idle follower's wait (s) */
#ifndef MEDIATOR_SPIN_NS
#define MEDIATOR_SPIN_NS	50000	/* look again for a next one (ns) */
#endif
#define MEDIATOR_BOUND_MAX	4096	/* unix sockets bound inside, live */
#define MEDIATOR_BOUND_SWEEP	32	/* first sweep of unlinked ones */
#define MEDIATOR_SEND_MAX	(256u * 1024)	/* bytes copied per send */
#define MEDIATOR_CTL_MAX	4096	/* control bytes copied per send */

/* The verdict of the policy table. */
enum mediator_verdict {
	MEDIATOR_DENY = 0,
	MEDIATOR_PROXY,		/* 127.0.0.1:PROXY_PORT */
	MEDIATOR_OPEN_PORT,	/* loopback on an --open-port port */
	MEDIATOR_GRANT,		/* a direct grant's address */
	MEDIATOR_WOULD_DENY,	/* denied but for --report-only: made,
				 * audited would_deny (SPEC 4.11) */
	MEDIATOR_UNIX,		/* pathname socket bound inside or named */
	MEDIATOR_DNS,		/* a UDP socket of the DNS namespace */
	MEDIATOR_PASS,		/* AF_UNSPEC, unnamed AF_UNIX, netlink,
				 * anything in NET_ALLOW but AF_UNIX */
};

/* One direct grant host:PORT and the addresses it stands for. */
struct mediator_grant {
	char			*host;		/* owned; canonical */
	uint16_t		 port;
	bool			 explicit;	/* IP literal or --resolve */
	struct sockaddr_storage	*addrs;		/* owned array */
	size_t			 naddrs;
	struct dns_req		*req;		/* pending refresh or NULL */
	struct event		*timer;		/* owned: next refresh, or NULL */
	struct mediator		*m;		/* borrowed, for refresh */
	time_t			 expires;	/* monotonic s; 0: never */
};

/* True when host:port (host canonical or an address's text) is a
 * credential upstream. */
typedef bool mediator_cred_fn(void *arg, const char *host, uint16_t port);

/* A socket file bound inside the sandbox. */
struct mediator_bound {
	dev_t			 dev;
	ino_t			 ino;
	int			 fd;		/* owned O_PATH pin, or -1 */
};

/* The decision table's inputs; pure data so tests build one by hand. */
struct mediator_policy {
	bool			 inet_any;	/* NET_ALLOW */
	uint16_t		 proxy_port;	/* 0: no proxy */
	const struct ports	*open_ports;	/* borrowed; NULL: none */
	const struct ports	*listen_ports;	/* borrowed; NULL: none */
	const struct plan	*plan;		/* borrowed: write grants */
	struct mediator_grant	*grants;	/* owned array */
	size_t			 ngrants;
	struct strv		 unix_allow;	/* --allow-unix-socket */
	struct mediator_bound	*bound;		/* owned array */
	size_t			 nbound;
	size_t			 sweep_at;	/* sweep unlinked ones here */
	mediator_cred_fn	*cred;		/* NULL: no routes */
	void			*cred_arg;
	bool			 report_only;	/* --report-only (SPEC 4.11) */
	const struct sockaddr	*self;		/* borrowed: the proxy's
						 * address, for the guard */
};

/*
 * Decide on an inet address (sa, len bytes, as copied from the child).
 * IPv4-mapped IPv6 addresses are decided as the IPv4 address.  Returns
 * the verdict; on MEDIATOR_DENY *reason says why (static text); on
 * MEDIATOR_GRANT *grant is the grant (borrowed from pol).  With
 * report_only, what would be denied for want of a grant is
 * MEDIATOR_WOULD_DENY (*reason: the denial it would have been) when the
 * address guard lets the address through (not metadata; loopback and the
 * other guarded ranges only when --open-port or a grant named them, which
 * is decided before); a credential upstream's address stays denied.
 */
enum mediator_verdict sandbox_mediator_decide_inet(
	    const struct mediator_policy *pol, const struct sockaddr *sa,
	    socklen_t len, const char **reason,
	    const struct mediator_grant **grant);

/*
 * Decide on an inet bind() (sa as copied from the child): MEDIATOR_PASS
 * or MEDIATOR_DENY with *reason.  Any bind in allow mode; else a
 * --listen-port port on any address, an --open-port port on 127.0.0.1
 * or ::1 only (SPEC §3.2), nothing else.
 */
enum mediator_verdict sandbox_mediator_decide_bind(
	    const struct mediator_policy *pol, const struct sockaddr *sa,
	    socklen_t len, const char **reason);

/*
 * Decide on reaching the AF_UNIX socket file at absolute, symlink-free
 * path (the inode dev/ino, as opened).  MEDIATOR_UNIX or MEDIATOR_DENY
 * with *reason.
 */
enum mediator_verdict sandbox_mediator_decide_unix(
	    const struct mediator_policy *pol, const char *path, dev_t dev,
	    ino_t ino, const char **reason);

/*
 * Decide on binding an AF_UNIX socket in directory dir (absolute,
 * symlink-free).  MEDIATOR_UNIX or MEDIATOR_DENY with *reason.
 */
enum mediator_verdict sandbox_mediator_decide_unix_bind(
	    const struct mediator_policy *pol, const char *dir,
	    const char **reason);

/*
 * Record a socket file bound inside (fd: an O_PATH pin, taken over, or
 * -1).  Entries whose files are unlinked are dropped each time the set
 * has doubled; when MEDIATOR_BOUND_MAX live ones remain, the oldest.
 */
void	 sandbox_mediator_bound_add(struct mediator_policy *pol, dev_t dev,
	    ino_t ino, int fd);

/*
 * Fill pol's --allow-unix-socket list from plan p (made absolute against
 * the current directory, symlinks resolved where they exist).
 */
void	 sandbox_mediator_policy_unix(struct mediator_policy *pol,
	    const struct plan *p);

/*
 * Decide on a metadata call (chmod, utime*, setxattr, removexattr; SPEC
 * §3.2) on the file whose canonical path is canon (as read back from our
 * descriptor of it), of type type (st_mode) with nlink links.  chmod:
 * the call sets mode.  0 when it may go ahead; else -EACCES (outside
 * write grants, inside a sensitive path, a device node, a path unlinked
 * while other links remain) or -EPERM (a set-user-ID or set-group-ID
 * program), with *reason (static text).  Objects without a path (pipes,
 * sockets) and files unlinked everywhere are the child's own.
 */
int	 sandbox_mediator_meta_decide(const struct plan *p,
	    const char *canon, mode_t type, nlink_t nlink, bool chmod,
	    mode_t mode, const char **reason);

/* Free what pol owns (not pol itself); the struct is zeroed. */
void	 sandbox_mediator_policy_clear(struct mediator_policy *pol);

/*
 * Build the mediator for plan p (any mode) before
 * the child starts: resolves the direct grants now (blocking: --resolve
 * and IP literals need no query), then re-resolves each through the
 * proxy's resolver on base when its DNS TTL runs out (clamped to
 * MEDIATOR_TTL_MIN_S..MEDIATOR_TTL_MAX_S; every MEDIATOR_REFRESH_S for
 * names from /etc/hosts).  proxy may be NULL (then nothing
 * is registered, and audit records go to p->audit_log directly);
 * proxy_port is the port connections to the proxy go to (0: none).
 * NULL with e on failure.
 */
struct mediator *sandbox_mediator_new(const struct plan *p,
	    struct event_base *base, struct proxy *proxy,
	    uint16_t proxy_port, struct errbuf *e);

/*
 * Start answering notifications on listener fd (taken over: closed by
 * sandbox_mediator_free, also on failure) from the child's process tree;
 * arg is the struct mediator.  The shape of supervise_listener_fn
 * (sandbox/supervise.h), which hands it over.  -1 with e.
 */
int	 sandbox_mediator_start(int listener, void *arg, struct errbuf *e);
/* The decision table m was built with (borrowed; for tests and why). */
const struct mediator_policy *sandbox_mediator_policy(
	    const struct mediator *);

/*
 * The audit m writes its decisions to (borrowed): the proxy's, or its
 * own without a proxy.  For the summary and <sandbox_violations> after
 * a run.
 */
struct audit *sandbox_mediator_audit_log(const struct mediator *);

/*
 * True when the mediator answers the child's DNS (SPEC §3.1): the filter
 * must then trap socket(AF_INET/AF_INET6, SOCK_DGRAM, 0) (plan dns_trap).
 */
bool	 sandbox_mediator_dns(const struct mediator *);

/*
 * The child's run is over: stop the notification thread (its tasks may
 * outlive the child) and write what it handed the loop, so the audit is
 * complete.  Answering stops.  NULL is a no-op; sandbox_mediator_free
 * calls it too.
 */
void	 sandbox_mediator_stop(struct mediator *);

/* Number of notifications answered so far (tests, -vv). */
unsigned long sandbox_mediator_answered(const struct mediator *);

/*
 * Stop: close the listener (syscalls still waiting fail with ENOSYS),
 * cancel pending work, restore the flags of sockets being connected.
 * NULL is a no-op.
 */
void	 sandbox_mediator_free(struct mediator *);

#endif
