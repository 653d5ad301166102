#ifndef KEYHOLE_SANDBOX_SECCOMP_GEN_H
#define KEYHOLE_SANDBOX_SECCOMP_GEN_H

#include <stdbool.h>
#include <stddef.h>

#include <linux/filter.h>

#include "util/errbuf.h"

/*
 * The seccomp programs are compiled with libseccomp at build time
 * (scripts/seccompgen.c writes build/gen/seccomp_builtin.c), not at every
 * start: libseccomp took 65 us (allow mode) to 275 us (proxy mode) of each
 * `keyhole run`, and its heap (bench/README.md).  A program depends on
 * this variant only.
 */
struct seccomp_variant {
	bool	restricted;	/* NET_BLOCKED or NET_PROXY: socket, send rules */
	bool	mediated;	/* the mediator's notifications */
	bool	dns;		/* restricted and mediated: UDP DNS sockets trap */
};

/* One program compiled at build time. */
struct seccomp_builtin {
	struct seccomp_variant	 v;
	const struct sock_filter *insns;
	unsigned short		 len;
};

/* build/gen/seccomp_builtin.c: every variant. */
extern const struct seccomp_builtin	seccomp_builtin[];
extern const size_t			seccomp_nbuiltin;

/*
 * libseccomp (sandbox/seccomp_rules.c): the program for variant v.  0 with
 * *insns (malloc'd) and *len; -1 with e.
 */
int	 sandbox_seccomp_compile(const struct seccomp_variant *v,
	    struct sock_filter **insns, size_t *len, struct errbuf *e);

struct seccomp_prog;

/* For tests: the instructions of prog; *len set. */
const struct sock_filter *sandbox_seccomp_insns(const struct seccomp_prog *,
	    size_t *len);

#endif
