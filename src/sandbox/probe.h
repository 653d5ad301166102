#ifndef KEYHOLE_SANDBOX_PROBE_H
#define KEYHOLE_SANDBOX_PROBE_H

#include <stdbool.h>

/*
 * What the running kernel offers the supervisor (keyhole version
 * --verbose, SPEC §10).  Each answer comes from asking the kernel, not
 * from its version number.
 */
struct probe_seccomp {
	bool	user_notif;	/* SECCOMP_RET_USER_NOTIF (5.0) */
	/*
	 * Whether the listener could be made to ask the two below: not when
	 * a filter above us already has one (inside keyhole run, say).
	 */
	bool	listener;
	bool	addfd;		/* SECCOMP_IOCTL_NOTIF_ADDFD (5.9) */
	bool	sync_wakeup;	/* SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (6.6) */
};

/*
 * Fill *out.  ADDFD and the sync wake-up flag are tried on a listener of
 * an allow-everything filter installed in a short-lived child, so the
 * caller stays unfiltered.  Never fails: what cannot be asked is false,
 * and listener says whether addfd and sync_wakeup could be asked at all.
 */
void	 sandbox_probe_seccomp(struct probe_seccomp *out);

#endif
