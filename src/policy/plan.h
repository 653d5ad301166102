#ifndef KEYHOLE_POLICY_PLAN_H
#define KEYHOLE_POLICY_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "policy/allowlist.h"
#include "util/errbuf.h"
#include "util/ports.h"
#include "util/strv.h"

struct cli;
struct grants_index;
struct profile;
struct route;

/*
 * The run plan: a resolved profile plus the command line, turned into one
 * description that the proxy and the sandbox consume.  Built once, read
 * only afterwards.
 */

enum net_mode {
	NET_ALLOW = 0,		/* no network options: nono's default */
	NET_BLOCKED,
	NET_PROXY,
};

/* --resolve HOST:PORT:ADDR */
struct resolve_entry {
	char			*host;		/* owned; canonical */
	uint16_t		 port;
	struct sockaddr_storage	 addr;		/* port filled in */
	socklen_t		 addrlen;
};

/* Proxy limits (SPEC §4.1), all in force. */
struct plan_limits {
	uint32_t	line_max;		/* 8 KiB -> 414 */
	uint32_t	head_max;		/* 64 KiB -> 431 */
	uint32_t	head_timeout_ms;	/* 30 s -> 408 */
	uint32_t	max_conns;		/* 1024 -> 503 */
	uint64_t	max_body;		/* 16 MiB -> 413 */
	uint32_t	connect_timeout_ms;	/* 10 s -> 502/504 */
	uint32_t	tls_timeout_ms;		/* 10 s */
	uint32_t	idle_timeout_ms;	/* 10 min */
};

#define PLAN_LINE_MAX		(8u * 1024)
#define PLAN_HEAD_MAX		(64u * 1024)
#define PLAN_HEAD_TIMEOUT_MS	(30u * 1000)
#define PLAN_MAX_CONNS		1024u
#define PLAN_MAX_BODY		(16ull * 1024 * 1024)
#define PLAN_CONNECT_TIMEOUT_MS	(10u * 1000)
#define PLAN_TLS_TIMEOUT_MS	(10u * 1000)
#define PLAN_IDLE_TIMEOUT_MS	(10u * 60 * 1000)

/* --tls-intercept (SPEC 4.12). */
enum tls_intercept {
	TLS_INTERCEPT_CREDENTIALS = 0,	/* credential and endpoint-ruled hosts */
	TLS_INTERCEPT_ALL,		/* every allowed host */
	TLS_INTERCEPT_OFF,		/* the seed's 403 */
};

enum fs_access {
	FS_READ = 1,
	FS_WRITE = 2,
	FS_READWRITE = 3,
};

enum fs_source {
	FS_SRC_USER = 0,	/* command line */
	FS_SRC_PROFILE,
	FS_SRC_GROUP,		/* a policy group */
	FS_SRC_SYSTEM,		/* keyhole's own (devices, /tmp, workdir) */
};

struct fs_grant {
	char		*path;		/* owned; canonical */
	enum fs_access	 access;
	bool		 is_file;
	/* Missing at plan time; created by policy_grants_create(). */
	bool		 create;
	enum fs_source	 source;
	/* NULL or a built-in group's name (static: never freed). */
	const char	*group;
	/*
	 * has_fd: fd is an owned O_PATH descriptor of what path named when
	 * the plan was built, and mode its st_mode; the Landlock rule uses
	 * it rather than opening the path again.  False (a zeroed grant)
	 * when it was not opened then: created later, or added by name.
	 */
	bool		 has_fd;
	int		 fd;
	mode_t		 mode;
	/*
	 * A Landlock rule of its own even where an ancestor's rule grants
	 * as much (sandbox/landlock.c, landlock_prune): the private
	 * temporary directory, whose inode the child's domain then holds.
	 */
	bool		 own_rule;
};

struct plan {
	/* Network. */
	enum net_mode		 mode;
	struct allowlist	 allow;		/* empty + proxy: any host */
	struct route		**routes;	/* owned array of owned */
	size_t			 nroutes;
	struct strv		 no_proxy_extra; /* profile network.no_proxy */
	struct ports		 open_ports;	/* loopback IPC, connect+bind */
	struct ports		 listen_ports;	/* bind */
	uint16_t		 proxy_port;	/* 0: kernel-chosen */
	struct strv		 listen;	/* proxy --listen; empty: loopback */
	char			*upstream_proxy; /* owned; HOST:PORT or NULL */
	struct strv		 upstream_bypass;
	struct resolve_entry	*resolve;	/* owned array */
	size_t			 nresolve;
	char			*upstream_ca;	/* owned or NULL */
	enum tls_intercept	 tls_intercept;
	struct strv		 tls_intercept_exclude;
	char			*tls_ca_cert;	/* owned or NULL: --tls-ca */
	char			*tls_ca_key;	/* owned or NULL */
	bool			 tls_java_truststore; /* SPEC 4.12 Java */
	/* --allow-endpoint HOST:METHOD:PATH for plain hosts (HOST has a
	 * dot): a definition holding the rules, its name the host. */
	struct route_def	**plain;	/* owned array of owned */
	size_t			 nplain;
	char			*audit_log;	/* owned or NULL */
	bool			 allow_degraded_network;
	/*
	 * --report-only / network.report_only (SPEC 4.11): what the
	 * allow-list would deny is allowed and audited would_deny; an
	 * empty allow-list then allows nothing, so everything used is
	 * reported.
	 */
	bool			 report_only;
	struct plan_limits	 limits;

	/* Filesystem. */
	struct fs_grant		*grants;	/* owned array */
	size_t			 ngrants;
	/*
	 * grants.c's index of the grants by path and kind, with the
	 * array's room: set during policy_grants_build only (~130 adds),
	 * NULL otherwise (an add then scans).
	 */
	struct grants_index	*grants_index;
	struct strv		 deny_paths;	/* sensitive paths, expanded */
	struct strv		 override_deny;
	struct strv		 allow_unix_socket;
	char			*workdir;	/* owned; canonical */

	/* Environment (profile "environment"). */
	struct strv		 env_allow;	/* patterns; empty = all */
	bool			 env_allow_set;
	struct strv		 env_deny;
	struct strv		 env_set;	/* "NAME=value" */
	struct strv		 env_keep;	/* --allow-env NAME */

	/* Agents the profile's groups ask keyhole to set up (e.g. "codex"). */
	struct strv		 agents;

	/* Messages for the user (e.g. --block-net overriding proxy flags). */
	struct strv		 warnings;
	int			 verbose;
	bool			 silent;
	bool			 dry_run;
	/* Set by main when the mediator answers DNS (SPEC §3.1): the filter
	 * traps socket(AF_INET/AF_INET6, SOCK_DGRAM, 0). */
	bool			 dns_trap;
};

/*
 * Build the plan from the command line and an optional resolved profile
 * (NULL: none).  NULL with e saying what is wrong (a usage-level problem
 * such as an unknown credential service names the available ones).
 */
struct plan *policy_plan_build(const struct cli *, const struct profile *,
	    struct errbuf *e);
/* True when the proxy runs for this plan. */
bool	 policy_plan_proxy_on(const struct plan *);
/* The route serving service name, or NULL. */
const struct route *policy_plan_route(const struct plan *, const char *name);
/* The --resolve entry for host:port, or NULL. */
const struct resolve_entry *policy_plan_resolve(const struct plan *,
	    const char *host, uint16_t port);
/*
 * SPEC §3.2: an --open-port or --listen-port equal to the port of a
 * route's loopback upstream would let the sandbox listen where the
 * route's secret goes.  A usage error: -1 with e naming the flag, the
 * port and the route.
 */
int	 policy_plan_check_listen(const struct plan *, struct errbuf *e);
/*
 * Close the descriptors the grants hold (fs_grant.fd): once the child's
 * Landlock rules are in force nothing needs them.  The grants stay.
 */
void	 policy_plan_close_fds(struct plan *);
void	 policy_plan_free(struct plan *);

#endif
