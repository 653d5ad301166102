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
 * `keyhole run`, and its heap (bench/README.md).  What a program depends
 * on is this variant and the handoff descriptor; the descriptor is patched
 * in at run time (sandbox/seccomp.c).
 */
struct seccomp_variant {
	bool	restricted;	/* NET_BLOCKED or NET_PROXY: socket, send rules */
	bool	mediated;	/* the mediator's notifications, the handoff */
	bool	dns;		/* restricted and mediated: UDP DNS sockets trap */
};

/* One program compiled at build time. */
struct seccomp_builtin {
	struct seccomp_variant	 v;
	const struct sock_filter *insns;
	unsigned short		 len;
	/* Instructions whose k is the handoff descriptor (JEQ #fd). */
	const unsigned short	*handoff_at;
	size_t			 nhandoff;
};

/* build/gen/seccomp_builtin.c: every variant, and the seal. */
extern const struct seccomp_builtin	seccomp_builtin[];
extern const size_t			seccomp_nbuiltin;
extern const struct seccomp_builtin	seccomp_builtin_seal;

/*
 * libseccomp (sandbox/seccomp_rules.c): the program for variant v with
 * handoff descriptor handoff (mediated only; else ignored), or the seal
 * for handoff.  0 with *insns (malloc'd) and *len; -1 with e.
 */
int	 sandbox_seccomp_compile(const struct seccomp_variant *v, int handoff,
	    struct sock_filter **insns, size_t *len, struct errbuf *e);
int	 sandbox_seccomp_compile_seal(int handoff, struct sock_filter **insns,
	    size_t *len, struct errbuf *e);

struct seccomp_prog;

/* For tests: the instructions of prog, or of its seal; *len set. */
const struct sock_filter *sandbox_seccomp_insns(const struct seccomp_prog *,
	    bool seal, size_t *len);

#endif
