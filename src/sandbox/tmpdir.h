#ifndef KEYHOLE_SANDBOX_TMPDIR_H
#define KEYHOLE_SANDBOX_TMPDIR_H

#include "util/errbuf.h"

/*
 * The private per-run temporary directory (SPEC §7).
 *
 * Create "keyhole-XXXXXX", mode 0700, under base when base is an absolute
 * path naming a directory (the supervisor's $TMPDIR), else under /tmp.
 * Returns its canonical path (owned), or NULL with e.
 */
char	*sandbox_tmpdir_create(const char *base, struct errbuf *e);

/*
 * Remove path and everything below it without ever following a symbolic
 * link: links are unlinked, not entered, and a directory the child made
 * unreadable (chmod 000) is given back to its owner first.  0, or -1 with
 * e naming the first thing that could not be removed (the rest is still
 * tried).
 */
int	 sandbox_tmpdir_remove(const char *path, struct errbuf *e);

#endif
