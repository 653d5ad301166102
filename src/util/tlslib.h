#ifndef KEYHOLE_UTIL_TLSLIB_H
#define KEYHOLE_UTIL_TLSLIB_H

struct errbuf;

/*
 * OpenSSL on first use (docs/HACKING.md).  The release binary on x86_64
 * does not carry libssl and libcrypto in its image: every call into them
 * goes through a trampoline (build/gen/tls_stubs.S, from
 * scripts/tlsgen.py), and the first one loads keyhole-tls.so, found next
 * to the executable or in ../lib/keyhole/ from it.  A start that never
 * uses TLS never loads it.  In other builds (sanitizers, STATIC=no, other
 * architectures) OpenSSL is linked as usual and these do nothing.
 */

/*
 * Whether the library can be loaded: found, a regular file, not writable
 * by group or others.  Called before a proxy starts, so a broken install
 * is an error at start and not at the first request.  0, or -1 with the
 * path in e.
 */
int	 tlslib_check(struct errbuf *e);

/* The library's path once found ("" in builds without the split). */
const char *tlslib_path(void);

#endif
