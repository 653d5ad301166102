#ifndef KEYHOLE_CREDS_WATCH_H
#define KEYHOLE_CREDS_WATCH_H

#include "util/errbuf.h"

/*
 * Credential files watched by directory (SPEC 4.10): inotify on the
 * directory holding each file:// source, so a file that appears, is
 * rewritten, renamed over (Vault Agent) or swapped by a "..data" symlink
 * rename (Kubernetes Secret volumes) is re-read at once, without a
 * signal and without waiting for a request.  Events are gathered for
 * CREDS_WATCH_DEBOUNCE_MS, then creds_store_refresh() re-checks every
 * file source (a stat each; only changed files are read).  A directory
 * that is missing or disappears is looked for again every
 * CREDS_WATCH_RETRY_MS (no busy loop); meanwhile, and when inotify is
 * unavailable, the store's stat-on-use check still sees changes.
 */
struct creds_store;
struct creds_watch;
struct event_base;

#define CREDS_WATCH_DEBOUNCE_MS	50
#define CREDS_WATCH_RETRY_MS	1000

/*
 * Watch the directories of st's file:// sources (st borrowed; it must
 * outlive the watch).  NULL without e when st has none; NULL with e when
 * inotify cannot be had (the caller warns and goes on).
 */
struct creds_watch *creds_watch_new(struct event_base *,
	    struct creds_store *st, struct errbuf *e);
/* Directories being watched now (tests, logs). */
unsigned creds_watch_active(const struct creds_watch *);
void	 creds_watch_free(struct creds_watch *);

#endif
