#ifndef KEYHOLE_SANDBOX_SECCOMP_H
#define KEYHOLE_SANDBOX_SECCOMP_H

#include <stdbool.h>
#include <stddef.h>

#include "util/errbuf.h"

struct plan;

/*
 * The seccomp filter (SPEC §1 layer 2): its rules are compiled with
 * libseccomp at build time (sandbox/seccomp_gen.h), so the architecture is
 * always checked (foreign architectures and x32 kill the process); a run
 * takes the program for its variant and loads it in the child with the
 * raw seccomp(2) syscall (async-signal-safe).
 *
 * Always: ioctl TIOCSTI / TIOCLINUX -> EACCES.
 * NET_BLOCKED and NET_PROXY also: socket() families other than AF_UNIX,
 * AF_INET, AF_INET6, AF_NETLINK -> EACCES; AF_INET/AF_INET6 only as
 * SOCK_STREAM with protocol 0 or IPPROTO_TCP (no UDP, raw, MPTCP, SCTP)
 * -> EACCES; sendto/sendmsg/sendmmsg with MSG_FASTOPEN -> EACCES;
 * io_uring_setup/enter/register -> ENOSYS.
 * Mediated (sandbox_seccomp_build_mediated, every mode): connect(), bind(),
 * sendmsg(), sendmmsg() and sendto() with an address -> user notification
 * for the mediator (sandbox/mediator.h).
 */
struct seccomp_prog;	/* opaque */

/*
 * Build the filter for plan p.  0 with *out owned by the caller (free with
 * sandbox_seccomp_free); -1 with e.
 */
int	 sandbox_seccomp_build(const struct plan *p, struct seccomp_prog **out,
	    struct errbuf *e);

/*
 * The same filter plus the mediator's rules: the calls trap to a
 * listener, created when the filter is loaded.  Same returns.
 */
int	 sandbox_seccomp_build_mediated(const struct plan *p,
	    struct seccomp_prog **out, struct errbuf *e);

/*
 * In the child (async-signal-safe): install the filter.  no_new_privs
 * must be set.  Returns 0, or for a mediated filter the notification
 * listener fd (owned by the caller, close-on-exec); -errno on failure.
 */
int	 sandbox_seccomp_load(const struct seccomp_prog *);

/*
 * Whether this kernel can run the connect mediator: seccomp user
 * notification, pidfd_open and pidfd_getfd (Linux 5.6+).  false with e
 * naming what is missing.
 */
bool	 sandbox_seccomp_notify_available(struct errbuf *e);

/* Number of BPF instructions (for tests and -vv). */
size_t	 sandbox_seccomp_len(const struct seccomp_prog *);

/* NULL is a no-op. */
void	 sandbox_seccomp_free(struct seccomp_prog *);

#endif
