#include "sandbox/probe.h"

#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <linux/filter.h>
#include <linux/seccomp.h>

#ifndef SECCOMP_GET_ACTION_AVAIL
#define SECCOMP_GET_ACTION_AVAIL	2
#endif
/* Not in Linux 6.1's headers (Debian 12). */
#ifdef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define PROBE_IOCTL_SET_FLAGS		SECCOMP_IOCTL_NOTIF_SET_FLAGS
#else
#define PROBE_IOCTL_SET_FLAGS		SECCOMP_IOW(4, __u64)
#endif
#define PROBE_SYNC_WAKE_UP		1UL

/* Bits of the probing child's exit status. */
#define PROBE_ADDFD		0x1
#define PROBE_SYNC		0x2
#define PROBE_FAILED		0x40

/*
 * In the child: install "allow everything" with a new listener, then ask
 * the listener.  ADDFD for a notification id that does not exist is
 * ENOENT where the ioctl is known and EINVAL where it is not; SET_FLAGS
 * succeeds only where the flag is known.
 */
static int
probe_child(void)
{
	struct sock_filter	 insn = BPF_STMT(BPF_RET | BPF_K,
				    SECCOMP_RET_ALLOW);
	struct sock_fprog	 prog = { 1, &insn };
	struct seccomp_notif_addfd addfd;
	int			 fd, bits = 0;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		return PROBE_FAILED;
	fd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
	    SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
	if (fd < 0)
		return PROBE_FAILED;
	memset(&addfd, 0, sizeof(addfd));
	addfd.id = UINT64_MAX;
	addfd.srcfd = (unsigned)fd;
	if (ioctl(fd, SECCOMP_IOCTL_NOTIF_ADDFD, &addfd) == -1 &&
	    errno == ENOENT)
		bits |= PROBE_ADDFD;
	if (ioctl(fd, PROBE_IOCTL_SET_FLAGS, PROBE_SYNC_WAKE_UP) == 0)
		bits |= PROBE_SYNC;
	return bits;
}

void
sandbox_probe_seccomp(struct probe_seccomp *out)
{
	uint32_t	action = SECCOMP_RET_USER_NOTIF;
	pid_t		pid, w;
	int		status;

	memset(out, 0, sizeof(*out));
	if (syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) != 0)
		return;
	out->user_notif = true;
	if ((pid = fork()) == -1)
		return;
	if (pid == 0)
		_exit(probe_child());
	do
		w = waitpid(pid, &status, 0);
	while (w == -1 && errno == EINTR);
	if (w != pid || !WIFEXITED(status) ||
	    (WEXITSTATUS(status) & PROBE_FAILED))
		return;
	out->listener = true;
	out->addfd = (WEXITSTATUS(status) & PROBE_ADDFD) != 0;
	out->sync_wakeup = (WEXITSTATUS(status) & PROBE_SYNC) != 0;
}
