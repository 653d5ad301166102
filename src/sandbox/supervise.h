#ifndef KEYHOLE_SANDBOX_SUPERVISE_H
#define KEYHOLE_SANDBOX_SUPERVISE_H

#include <stdbool.h>

#include "util/errbuf.h"

struct event_base;
struct plan;
struct proxy;

/* Exit codes of SPEC §2 that the supervisor itself produces. */
#define SUPERVISE_CANNOT_EXEC	126	/* sandbox not applied, exec failed */
#define SUPERVISE_NOT_FOUND	127	/* command not found */

/*
 * Run argv (argv[0] resolved through the PATH of envp, else of keyhole)
 * with environment envp as a sandboxed child of plan p, and supervise it
 * on base (NULL: a private loop) until it exits: SIGINT, SIGTERM, SIGHUP,
 * SIGQUIT and SIGWINCH are forwarded to it; when it is gone,
 * proxy_server_shutdown(proxy) is called (proxy may be NULL; in NET_PROXY
 * mode without a proxy, p->proxy_port is the port granted).
 *
 * Returns the exit code to use: the child's status, 128+N for death by
 * signal N, 126 when the sandbox could not be applied or exec failed
 * (EACCES, ENOEXEC, ...), 127 when the command is not found.  For 126/127
 * caused here the message has already been written on stderr as
 * "keyhole: <msg>" and is also left in e (do not print it again).
 * Returns -1 with e for a keyhole error before the child existed (main
 * prints it and exits 1).
 *
 * Once the child has exec'd, the descriptors the plan's grants hold (the
 * Landlock rules' objects) are closed (policy_plan_close_fds): while the
 * child runs, not after it, when the caller is waiting to exit.
 */
int	 sandbox_supervise_run(struct plan *p, struct event_base *base,
	    struct proxy *proxy, char *const argv[], char *const envp[],
	    struct errbuf *e);

/*
 * Takes the seccomp notification listener of the child (an fd, owned from
 * then on, also on failure); arg is the caller's.  -1 with e.
 */
typedef int supervise_listener_fn(int listener, void *arg, struct errbuf *e);

/*
 * The same with the connect mediator (SPEC §1 layer 3): in NET_BLOCKED and
 * NET_PROXY, when on_listener is not NULL, the child's connect() traps to
 * a listener made in the supervisor's descriptor table (the child shares
 * it until then), and on_listener(fd, arg) is
 * called before the loop runs (sandbox_mediator_start fits).  With
 * on_listener NULL on a kernel that cannot mediate, NET_PROXY is refused
 * unless plan->allow_degraded_network, which also drops the direct
 * grants' Landlock ports.  Returns as sandbox_supervise_run.
 */
int	 sandbox_supervise_run_mediated(struct plan *p,
	    struct event_base *base, struct proxy *proxy,
	    supervise_listener_fn *on_listener, void *arg,
	    char *const argv[], char *const envp[], struct errbuf *e);

/*
 * Whether the connect mediator runs (SPEC §3, issue 6).  have: the caller
 * brought one.  missing: NULL when the kernel can run a mediator, else
 * what it lacks.  In NET_BLOCKED and NET_PROXY with a mediator: *mediate.
 * Without one on a kernel that cannot, proxy mode is refused (-1 with e)
 * unless p->allow_degraded_network, which runs without the mediator and
 * drops the direct grants' Landlock ports: *llp then points at lp, a
 * shallow copy of p whose allow-list *av (caller frees) has no direct
 * grants.  Otherwise *llp is p.
 */
struct allow_entry;
int	 sandbox_supervise_mediator_mode(const struct plan *p, bool have,
	    const char *missing, bool *mediate, struct plan *lp,
	    struct allow_entry **av, const struct plan **llp,
	    struct errbuf *e);

/* The highest capability number this kernel knows (for the drop loop). */
int	 sandbox_supervise_last_cap(void);

#endif
