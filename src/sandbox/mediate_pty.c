/*
 * Ptys the child opens itself (SPEC §3.2).  /dev/pts is not granted (only
 * the child's own terminal is), and Landlock checks the slave's path even
 * when it is reached through ioctl(master, TIOCGPTPEER), which is how
 * glibc's openpty() and forkpty() open it (python's os.openpty and
 * pty.spawn, script, tmux, screen).  So that ioctl traps here: we take
 * our own duplicate of the child's descriptor, ask the kernel for the
 * peer of *that* master, and install the slave in the child
 * (SECCOMP_IOCTL_NOTIF_ADDFD).  The kernel only ever opens the other end
 * of a master the child holds, so no other terminal is reachable this
 * way; a descriptor that is not a master gets the kernel's ENOTTY.
 *
 * Not covered: programs that open the slave by its path after ptsname()
 * (vim's :terminal, expect); they get EACCES.  Granting paths of ptys
 * made later would take a Landlock rule the domain cannot gain.
 */
#include "sandbox/mediator_int.h"

#include <sys/ioctl.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"

#ifndef TIOCGPTPEER
#define TIOCGPTPEER		_IO('T', 0x41)
#endif
#ifndef SECCOMP_IOCTL_NOTIF_ADDFD
#define SECCOMP_IOCTL_NOTIF_ADDFD	SECCOMP_IOW(3, \
	    struct seccomp_notif_addfd)
#endif
#ifndef SECCOMP_ADDFD_FLAG_SEND
#define SECCOMP_ADDFD_FLAG_SEND		(1UL << 1)
#endif

/* The open flags TIOCGPTPEER may carry; anything else is EINVAL. */
#define PTY_PEER_FLAGS	(O_ACCMODE | O_NOCTTY | O_CLOEXEC | O_NONBLOCK)

/*
 * Install peer in the child as the answer to id.  FLAG_SEND (5.14) adds
 * it and answers atomically; before it, add then answer with the number.
 * The number, or -errno.
 */
static int
pty_install(struct mediator *m, uint64_t id, int peer, int cloexec)
{
	struct seccomp_notif_addfd	addfd = { 0 };
	int				fd;

	addfd.id = id;
	addfd.flags = SECCOMP_ADDFD_FLAG_SEND;
	addfd.srcfd = (uint32_t)peer;
	addfd.newfd_flags = (uint32_t)cloexec;
	fd = ioctl(m->listener, SECCOMP_IOCTL_NOTIF_ADDFD, &addfd);
	if (fd >= 0) {
		m->answered++;
		return fd;
	}
	if (errno != EINVAL)
		return -errno;
	addfd.flags = 0;
	if ((fd = ioctl(m->listener, SECCOMP_IOCTL_NOTIF_ADDFD, &addfd)) < 0)
		return -errno;
	sandbox_mediator_answer_val(m, id, fd);
	return fd;
}

void
sandbox_mediate_pty(struct mediator *m, const struct seccomp_notif *req)
{
	uint64_t	 id = req->id;
	pid_t		 tid = (pid_t)req->pid;
	int		 flags = (int)req->data.args[2];
	int		 mfd, peer, err, rc;

	/* The filter traps nothing else; the kernel reads cmd's low half. */
	if ((uint32_t)req->data.args[1] != (uint32_t)TIOCGPTPEER) {
		sandbox_mediator_answer(m, id, -EACCES);
		return;
	}
	if ((flags & ~PTY_PEER_FLAGS) != 0) {
		sandbox_mediator_answer(m, id, -EINVAL);
		return;
	}
	mfd = sandbox_mediator_getfd(m, tid, id, (int)req->data.args[0]);
	if (mfd < 0) {
		if (mfd == -ESRCH && !sandbox_mediator_valid(m, id))
			return;
		sandbox_mediator_answer(m, id, mfd);
		return;
	}
	/* Our copy is close-on-exec whatever the child asked for. */
	peer = ioctl(mfd, TIOCGPTPEER, (flags & ~O_CLOEXEC) | O_CLOEXEC);
	err = errno;
	(void)close(mfd);
	if (peer == -1) {
		sandbox_mediator_answer(m, id, -err);
		return;
	}
	rc = pty_install(m, id, peer, flags & O_CLOEXEC);
	(void)close(peer);
	if (rc >= 0)
		return;
	if (rc == -ENOENT || !sandbox_mediator_valid(m, id))
		return;		/* the caller is gone */
	log_debug("pty peer for notification %llu: %s",
	    (unsigned long long)id, strerror(-rc));
	sandbox_mediator_answer(m, id, rc);
}
