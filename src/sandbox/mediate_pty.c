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
 * Programs that open the slave by its path after ptsname() (vim's
 * :terminal, Go's creack/pty, glibc without TIOCGPTPEER) pass O_NOCTTY;
 * an open or openat with that flag traps too.  When the path we read is
 * /dev/pts/N and the calling process itself holds a master whose peer is
 * that very device, we install that peer as above.  Anything else is
 * handed back to the kernel (SECCOMP_USER_NOTIF_FLAG_CONTINUE), which
 * performs the child's own open under its Landlock domain: we only ever
 * add the child's own pty, never skip a check, so the child rewriting
 * the path after we read it gains nothing.  A slave opened by path
 * without O_NOCTTY (expect), or by a process that does not hold its
 * master, stays refused (EACCES): Landlock cannot be taught paths of ptys
 * made after the sandbox started.
 */
#include "sandbox/mediator_int.h"

#include <sys/ioctl.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"
#include "util/xmalloc.h"

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

#ifndef SECCOMP_USER_NOTIF_FLAG_CONTINUE
#define SECCOMP_USER_NOTIF_FLAG_CONTINUE	(1UL << 0)
#endif
#ifndef TIOCGPTN
#define TIOCGPTN		_IOR('T', 0x30, unsigned int)
#endif

/* The open flags TIOCGPTPEER may carry; anything else is EINVAL. */
#define PTY_PEER_FLAGS	(O_ACCMODE | O_NOCTTY | O_CLOEXEC | O_NONBLOCK)
/* The kernel's O_LARGEFILE, which 64-bit userland headers define as 0. */
#define PTY_LARGEFILE	0100000
/* __O_TMPFILE: the bit of O_TMPFILE that is not O_DIRECTORY. */
#define PTY_O_TMPFILE	020000000
/* "/dev/pts/" and a pty number: longer paths are not ours. */
#define PTY_PATH_MAX	32
/* Descriptors of the caller looked at for its master, at most. */
#define PTY_SCAN_MAX	4096

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
		__atomic_fetch_add(&m->answered, 1, __ATOMIC_RELAXED);
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

/* Let the kernel run the call as the child made it (see the top). */
static void
pty_continue(struct mediator *m, uint64_t id)
{
	struct seccomp_notif_resp	*resp;

	resp = xcalloc(1, m->resp_size);
	resp->id = id;
	resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
	if (ioctl(m->listener, SECCOMP_IOCTL_NOTIF_SEND, resp) == -1 &&
	    errno != ENOENT)
		log_warn("seccomp answer %llu", (unsigned long long)id);
	free(resp);
	__atomic_fetch_add(&m->answered, 1, __ATOMIC_RELAXED);
}

/*
 * The pty number of path when it is "/dev/pts/N" exactly (read from the
 * child at addr, at most PTY_PATH_MAX bytes); -1 otherwise.
 */
static long
pty_path_number(pid_t tid, uint64_t addr)
{
	char		 buf[PTY_PATH_MAX], *end;
	size_t		 page = (size_t)sysconf(_SC_PAGESIZE), chunk;
	long		 n;

	if (addr == 0)
		return -1;
	/* Within one page first: a short path may end before a hole. */
	chunk = page - (size_t)(addr % page);
	if (chunk > sizeof(buf))
		chunk = sizeof(buf);
	if (sandbox_mediator_read(tid, addr, buf, chunk) == -1)
		return -1;
	if (memchr(buf, '\0', chunk) == NULL && chunk < sizeof(buf) &&
	    sandbox_mediator_read(tid, addr + chunk, buf + chunk,
	    sizeof(buf) - chunk) == -1)
		return -1;
	if (memchr(buf, '\0', sizeof(buf)) == NULL ||
	    strncmp(buf, "/dev/pts/", 9) != 0 || buf[9] < '0' || buf[9] > '9' ||
	    (buf[9] == '0' && buf[10] != '\0'))
		return -1;
	errno = 0;
	n = strtol(buf + 9, &end, 10);
	if (errno != 0 || *end != '\0' || n < 0 || n > 0x7fffffff)
		return -1;
	return n;
}

/*
 * The peer of the master of pty num held by the calling process, opened
 * with flags (plus O_CLOEXEC) when it is the device st names; else -1.
 */
static int
pty_own_peer(struct mediator *m, const struct seccomp_notif *req,
    unsigned int num, const struct stat *st, int flags)
{
	char		 dir[64], link[64 + NAME_MAX + 2], target[32];
	struct dirent	*de;
	struct stat	 pst;
	unsigned int	 got;
	DIR		*d;
	ssize_t		 n;
	long		 fd;
	int		 mfd, peer = -1, seen = 0;

	snprintf(dir, sizeof(dir), "/proc/%ld/fd", (long)req->pid);
	if ((d = opendir(dir)) == NULL)
		return -1;
	while (peer == -1 && seen++ < PTY_SCAN_MAX &&
	    (de = readdir(d)) != NULL) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		fd = strtol(de->d_name, NULL, 10);
		snprintf(link, sizeof(link), "%s/%s", dir, de->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (strcmp(target, "/dev/ptmx") != 0 &&
		    strcmp(target, "/dev/pts/ptmx") != 0)
			continue;
		mfd = sandbox_mediator_getfd(m, (pid_t)req->pid, req->id,
		    (int)fd);
		if (mfd < 0)
			continue;
		if (ioctl(mfd, TIOCGPTN, &got) == 0 && got == num) {
			peer = ioctl(mfd, TIOCGPTPEER,
			    (flags & PTY_PEER_FLAGS) | O_CLOEXEC);
			/* Same number, other devpts instance: not it. */
			if (peer != -1 && (fstat(peer, &pst) == -1 ||
			    pst.st_rdev != st->st_rdev ||
			    pst.st_dev != st->st_dev)) {
				(void)close(peer);
				peer = -1;
			}
		}
		(void)close(mfd);
	}
	closedir(d);
	return peer;
}

void
sandbox_mediate_pty_open(struct mediator *m, const struct seccomp_notif *req)
{
	struct stat	 st;
	char		 path[PTY_PATH_MAX];
	uint64_t	 id = req->id;
	long		 num;
	int		 flags, fd, peer, rc;

	if (req->data.nr == __NR_openat) {
		num = pty_path_number((pid_t)req->pid, req->data.args[1]);
		flags = (int)req->data.args[2];
	} else {
		num = pty_path_number((pid_t)req->pid, req->data.args[0]);
		flags = (int)req->data.args[1];
	}
	/* The filter sends no create; never let one past it (set-id rules). */
	if ((flags & (O_CREAT | PTY_O_TMPFILE)) != 0) {
		sandbox_mediator_answer(m, id, -EPERM);
		return;
	}
	if (num < 0 || (flags & ~(PTY_PEER_FLAGS | PTY_LARGEFILE)) != 0) {
		pty_continue(m, id);
		return;
	}
	/* The device the child names, as it would resolve it. */
	snprintf(path, sizeof(path), "/dev/pts/%ld", num);
	fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1 || fstat(fd, &st) == -1 || !S_ISCHR(st.st_mode)) {
		if (fd != -1)
			(void)close(fd);
		pty_continue(m, id);
		return;
	}
	(void)close(fd);
	peer = pty_own_peer(m, req, (unsigned int)num, &st, flags);
	if (peer == -1) {
		if (sandbox_mediator_valid(m, id))
			pty_continue(m, id);
		return;
	}
	rc = pty_install(m, id, peer, flags & O_CLOEXEC);
	(void)close(peer);
	if (rc >= 0 || rc == -ENOENT || !sandbox_mediator_valid(m, id))
		return;
	sandbox_mediator_answer(m, id, rc);
}
