#include "sandbox/seccomp.h"

#include <sys/prctl.h>
#include <sys/syscall.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/filter.h>
#include <linux/seccomp.h>

#include "policy/plan.h"
#include "sandbox/seccomp_gen.h"
#include "util/xmalloc.h"

#ifndef SECCOMP_SET_MODE_FILTER
#define SECCOMP_SET_MODE_FILTER	1
#endif
#ifndef SECCOMP_FILTER_FLAG_NEW_LISTENER
#define SECCOMP_FILTER_FLAG_NEW_LISTENER	(1UL << 3)
#endif
#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV	(1UL << 5)
#endif
#ifndef SECCOMP_GET_ACTION_AVAIL
#define SECCOMP_GET_ACTION_AVAIL	2
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open		434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd		438
#endif

struct seccomp_prog {
	const struct sock_filter *insns;	/* built in */
	unsigned short		 len;
	unsigned int		 flags;		/* SECCOMP_FILTER_FLAG_* */
};

/*
 * The filter for plan p (SPEC §1 layer 2, §3.2), compiled at build time
 * (sandbox/seccomp_gen.h): which one depends on the network mode, the
 * mediator and the DNS trap only.
 */
static int
seccomp_build(const struct plan *p, bool mediated, struct seccomp_prog **out,
    struct errbuf *e)
{
	struct seccomp_variant	 v;
	struct seccomp_prog	*prog;
	size_t			 i;

	*out = NULL;
	memset(&v, 0, sizeof(v));
	v.restricted = p->mode != NET_ALLOW;
	v.mediated = mediated;
	v.dns = v.restricted && v.mediated && p->dns_trap;
	for (i = 0; i < seccomp_nbuiltin; i++) {
		const struct seccomp_variant *b = &seccomp_builtin[i].v;

		if (b->restricted == v.restricted &&
		    b->mediated == v.mediated && b->dns == v.dns)
			break;
	}
	if (i == seccomp_nbuiltin) {
		errbuf_set(e, "cannot build the seccomp filter: no built-in "
		    "program for this mode");
		return -1;
	}
	prog = xcalloc(1, sizeof(*prog));
	prog->insns = seccomp_builtin[i].insns;
	prog->len = seccomp_builtin[i].len;
	if (mediated) {
		prog->flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
		/*
		 * WAIT_KILLABLE_RECV (5.19+) keeps a signal from restarting
		 * a call the supervisor is already working on.  Unknown
		 * flags are EINVAL; known ones reach the NULL copy.
		 */
		if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
		    SECCOMP_FILTER_FLAG_NEW_LISTENER |
		    SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, NULL) == -1 &&
		    errno == EFAULT)
			prog->flags |= SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
	}
	*out = prog;
	return 0;
}

int
sandbox_seccomp_build(const struct plan *p, struct seccomp_prog **out,
    struct errbuf *e)
{
	return seccomp_build(p, false, out, e);
}

int
sandbox_seccomp_build_mediated(const struct plan *p,
    struct seccomp_prog **out, struct errbuf *e)
{
	return seccomp_build(p, true, out, e);
}

int
sandbox_seccomp_load(const struct seccomp_prog *prog)
{
	struct sock_fprog	fprog;
	long			rc;

	fprog.len = prog->len;
	fprog.filter = (struct sock_filter *)prog->insns;
	rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, prog->flags,
	    &fprog);
	if (rc == -1 && errno == ENOSYS && prog->flags == 0)
		rc = prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog, 0, 0);
	if (rc == -1)
		return -errno;
	return (int)rc;
}

bool
sandbox_seccomp_notify_available(struct errbuf *e)
{
	uint32_t	action = SECCOMP_RET_USER_NOTIF;
	int		fd;

	if (syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) != 0) {
		errbuf_sys(e, "seccomp user notification is not available");
		return false;
	}
	fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	if (fd == -1) {
		errbuf_sys(e, "pidfd_open is not available");
		return false;
	}
	/* An invalid fd number: EBADF when the call exists. */
	if (syscall(SYS_pidfd_getfd, fd, -1, 0) != -1 || errno != EBADF) {
		errbuf_sys(e, "pidfd_getfd is not available");
		close(fd);
		return false;
	}
	close(fd);
	return true;
}

const struct sock_filter *
sandbox_seccomp_insns(const struct seccomp_prog *prog, size_t *len)
{
	*len = prog->len;
	return prog->insns;
}

size_t
sandbox_seccomp_len(const struct seccomp_prog *prog)
{
	return prog->len;
}

void
sandbox_seccomp_free(struct seccomp_prog *prog)
{
	free(prog);
}
