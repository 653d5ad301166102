/*
 * Credential files watched by directory (SPEC 4.10), with inotify.
 */
#include "creds/watch.h"

#include <sys/inotify.h>

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "creds/store.h"
#include "util/log.h"
#include "util/strv.h"
#include "util/xmalloc.h"

/* Whatever can make a file in the directory new, changed or gone. */
#define WATCH_MASK	(IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | \
			 IN_CLOSE_WRITE | IN_DELETE | IN_ATTRIB | \
			 IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

struct creds_watch {
	struct creds_store	*st;		/* borrowed */
	struct strv		 dirs;		/* owned; unique */
	int			*wd;		/* per dir; -1: not watched */
	int			 fd;		/* inotify */
	struct event		*ev;		/* fd readable */
	struct event		*debounce;	/* then refresh */
	struct event		*retry;		/* look for missing dirs */
};

/* The directory part of an absolute path ("/" for "/x"). */
static char *
watch_dirname(const char *path)
{
	const char	*slash = strrchr(path, '/');
	size_t		 n = slash != NULL ? (size_t)(slash - path) : 0;
	char		*d;

	if (n == 0)
		return xstrdup("/");
	d = xmalloc(n + 1);
	memcpy(d, path, n);
	d[n] = '\0';
	return d;
}

static void
watch_later(struct event *ev, unsigned ms)
{
	struct timeval	tv = { ms / 1000, (ms % 1000) * 1000 };

	if (!evtimer_pending(ev, NULL))
		evtimer_add(ev, &tv);
}

/* Watch every directory not watched yet; true when one still is not. */
static bool
watch_arm(struct creds_watch *w, bool *added)
{
	bool	missing = false;
	size_t	i;

	*added = false;
	for (i = 0; i < w->dirs.n; i++) {
		if (w->wd[i] != -1)
			continue;
		w->wd[i] = inotify_add_watch(w->fd, w->dirs.v[i], WATCH_MASK);
		if (w->wd[i] == -1) {
			log_debug("credential files: cannot watch %s: %s",
			    w->dirs.v[i], strerror(errno));
			missing = true;
		} else {
			log_debug("credential files: watching %s",
			    w->dirs.v[i]);
			*added = true;
		}
	}
	return missing;
}

static void
watch_on_debounce(evutil_socket_t fd, short what, void *arg)
{
	struct creds_watch	*w = arg;

	(void)fd;
	(void)what;
	creds_store_refresh(w->st);
}

static void
watch_on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct creds_watch	*w = arg;
	bool			 added;

	(void)fd;
	(void)what;
	if (watch_arm(w, &added))
		watch_later(w->retry, CREDS_WATCH_RETRY_MS);
	/* A directory that came back may hold the file already. */
	if (added)
		watch_later(w->debounce, CREDS_WATCH_DEBOUNCE_MS);
}

static void
watch_on_read(evutil_socket_t fd, short what, void *arg)
{
	struct creds_watch		*w = arg;
	const struct inotify_event	*ev;
	char				 buf[4096]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	bool				 any = false, lost = false;
	ssize_t				 n, off;
	size_t				 i;

	(void)what;
	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;	/* EAGAIN: all read */
		for (off = 0; off + (ssize_t)sizeof(*ev) <= n;
		    off += (ssize_t)sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)(buf + off);
			any = true;
			if (!(ev->mask & (IN_IGNORED | IN_MOVE_SELF)))
				continue;
			/*
			 * The directory is gone, or moved (the watch would
			 * follow it, not its path): look for the path again.
			 */
			for (i = 0; i < w->dirs.n; i++)
				if (w->wd[i] == ev->wd) {
					if (ev->mask & IN_MOVE_SELF)
						(void)inotify_rm_watch(w->fd,
						    ev->wd);
					w->wd[i] = -1;
					lost = true;
				}
		}
	}
	if (lost) {
		log_debug("credential files: a watched directory went away");
		watch_later(w->retry, CREDS_WATCH_RETRY_MS);
	}
	if (any)
		watch_later(w->debounce, CREDS_WATCH_DEBOUNCE_MS);
}

struct creds_watch *
creds_watch_new(struct event_base *base, struct creds_store *st,
    struct errbuf *e)
{
	struct creds_watch	*w;
	struct strv		 paths = { 0 };
	size_t			 i;
	bool			 added;
	char			*d;

	creds_store_file_paths(st, &paths);
	if (paths.n == 0) {
		strv_free(&paths);
		return NULL;
	}
	w = xcalloc(1, sizeof(*w));
	w->st = st;
	w->fd = -1;
	for (i = 0; i < paths.n; i++) {
		d = watch_dirname(paths.v[i]);
		strv_push_unique(&w->dirs, d);
		free(d);
	}
	strv_free(&paths);
	w->wd = xcalloc(w->dirs.n, sizeof(*w->wd));
	for (i = 0; i < w->dirs.n; i++)
		w->wd[i] = -1;
	if ((w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1) {
		errbuf_sys(e, "inotify");
		goto fail;
	}
	w->ev = event_new(base, w->fd, EV_READ | EV_PERSIST, watch_on_read,
	    w);
	w->debounce = evtimer_new(base, watch_on_debounce, w);
	w->retry = evtimer_new(base, watch_on_retry, w);
	if (w->ev == NULL || w->debounce == NULL || w->retry == NULL ||
	    event_add(w->ev, NULL) == -1) {
		errbuf_set(e, "inotify: cannot add the event");
		goto fail;
	}
	if (watch_arm(w, &added))
		watch_later(w->retry, CREDS_WATCH_RETRY_MS);
	return w;
fail:
	creds_watch_free(w);
	return NULL;
}

unsigned
creds_watch_active(const struct creds_watch *w)
{
	unsigned	n = 0;
	size_t		i;

	for (i = 0; w != NULL && i < w->dirs.n; i++)
		n += w->wd[i] != -1;
	return n;
}

void
creds_watch_free(struct creds_watch *w)
{
	if (w == NULL)
		return;
	if (w->ev != NULL)
		event_free(w->ev);
	if (w->debounce != NULL)
		event_free(w->debounce);
	if (w->retry != NULL)
		event_free(w->retry);
	if (w->fd != -1)
		close(w->fd);
	strv_free(&w->dirs);
	free(w->wd);
	free(w);
}
