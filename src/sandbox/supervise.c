#include "sandbox/supervise.h"

#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <linux/capability.h>
#include <linux/keyctl.h>

#include "policy/plan.h"
#include "proxy/server.h"
#include "sandbox/landlock.h"
#include "sandbox/seccomp.h"
#include "util/log.h"
#include "util/xmalloc.h"

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT			47
#endif
#ifndef PR_CAP_AMBIENT_CLEAR_ALL
#define PR_CAP_AMBIENT_CLEAR_ALL	4
#endif
#ifndef __NR_close_range
#define __NR_close_range		436
#endif
#ifndef CLONE_PIDFD
#define CLONE_PIDFD			0x00001000
#endif
#ifndef __NR_clone3
#define __NR_clone3			435
#endif
#define KH_CLONE_CLEAR_SIGHAND		0x100000000ULL	/* Linux 5.5 */

/* A ThreadSanitizer build (make tsan): spawn_child_tsan(). */
#if defined(__SANITIZE_THREAD__)
#define KH_TSAN				1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define KH_TSAN				1
#endif
#endif

#define DEFAULT_PATH	"/usr/local/bin:/usr/bin:/bin"
/*
 * The child's stack between clone and execve, above a guard page: it
 * shares the supervisor's memory until then (CLONE_VM), so it must not
 * run off its own stack into ours.
 */
#define CHILD_STACK_SIZE	(256 * 1024)
/* Highest capability tried when the kernel's cannot be found out. */
#define CAP_LAST_FALLBACK	63

/* Signals the supervisor forwards to the child. */
static const int forwarded[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGWINCH };
#define NFORWARD	(sizeof(forwarded) / sizeof(forwarded[0]))

/* What the child was doing when it failed (the error pipe's record). */
enum child_stage {
	STAGE_PDEATHSIG = 1,
	STAGE_SIGNALS,
	STAGE_NNP,
	STAGE_CAPS,
	STAGE_KEYRING,
	STAGE_LANDLOCK,
	STAGE_SECCOMP,
	STAGE_MEDIATOR,
	STAGE_FDS,
	STAGE_CHDIR,
	STAGE_EXEC,
};

struct child_err {
	int	stage;
	int	err;
	int	detail;		/* Landlock: where */
};

/* Everything the child needs, computed before fork. */
struct child_ctx {
	const char			*path;		/* borrowed */
	char *const			*argv;		/* borrowed */
	char *const			*envp;		/* borrowed */
	const char			*dir;		/* borrowed */
	const struct landlock_spec	*ll;		/* borrowed */
	const struct seccomp_prog	*sc;		/* borrowed */
	int				 last_cap;
	int				 errfd;
	bool				 mediate;	/* a listener, CLONE_FILES */
	/*
	 * The seccomp listener's number, written by the child into our
	 * memory (CLONE_VM) in the descriptor table it shares with us until
	 * it unshares it; -1 until then.
	 */
	int				*listener;
	pid_t				 parent;
	/* Dispositions before we touched them, restored in the child. */
	int				 sigs[NFORWARD + 2];
	struct sigaction		 orig[NFORWARD + 2];
	size_t				 nsigs;
	/* The clone made every handler SIG_DFL (CLONE_CLEAR_SIGHAND). */
	bool				 sighand_clear;
};

struct supervisor {
	pid_t		 pid;
	bool		 done;
	int		 status;
	struct proxy	*proxy;		/* borrowed */
	struct event_base *base;	/* borrowed */
};

/* Report {stage, errno} on the pipe and leave; ENOENT at exec is 127. */
static void __attribute__((noreturn))
child_fail(const struct child_ctx *c, int stage, int err, int detail)
{
	struct child_err	ce;
	ssize_t			n;

	ce.stage = stage;
	ce.err = err;
	ce.detail = detail;
	do {
		n = write(c->errfd, &ce, sizeof(ce));
	} while (n == -1 && errno == EINTR);
	_exit(stage == STAGE_EXEC && err == ENOENT ? SUPERVISE_NOT_FOUND :
	    SUPERVISE_CANNOT_EXEC);
}

/*
 * Restore what we changed; handlers (libevent's) become SIG_DFL, which
 * the clone did already when it could (64 sigaction calls fewer).
 */
static int
child_signals(const struct child_ctx *c)
{
	struct sigaction	sa;
	sigset_t		none;
	size_t			i;
	int			sig;

	for (sig = 1; sig < NSIG && !c->sighand_clear; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		if (sigaction(sig, NULL, &sa) == -1)
			continue;	/* reserved real-time signals */
		if (sa.sa_handler == SIG_IGN || sa.sa_handler == SIG_DFL)
			continue;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = SIG_DFL;
		if (sigaction(sig, &sa, NULL) == -1)
			return -1;
	}
	for (i = 0; i < c->nsigs; i++) {
		sa = c->orig[i];
		if (sa.sa_handler != SIG_IGN)
			sa.sa_handler = SIG_DFL;
		sa.sa_flags &= ~SA_SIGINFO;
		if (sigaction(c->sigs[i], &sa, NULL) == -1)
			return -1;
	}
	sigemptyset(&none);
	return sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Empty every capability set: bounding, ambient, then E/P/I. */
static int
child_drop_caps(const struct child_ctx *c)
{
	struct __user_cap_header_struct	hdr;
	struct __user_cap_data_struct	data[2];
	int				cap;

	for (cap = 0; cap <= c->last_cap; cap++) {
		/* EPERM: no CAP_SETPCAP; no_new_privs keeps us safe then. */
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == -1 &&
		    errno != EINVAL && errno != EPERM)
			return -1;
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) == -1 &&
	    errno != EINVAL)
		return -1;
	memset(&hdr, 0, sizeof(hdr));
	memset(data, 0, sizeof(data));
	hdr.version = _LINUX_CAPABILITY_VERSION_3;
	hdr.pid = 0;
	return (int)syscall(SYS_capset, &hdr, data);
}

/* Close every fd above 2 but the error pipe. */
static int
child_close_fds(const struct child_ctx *c)
{
	struct rlimit	rl;
	unsigned int	fd, max;
	unsigned int	from = c->errfd < 3 ? 3 : (unsigned int)c->errfd + 1;

	if ((c->errfd <= 3 || syscall(__NR_close_range, 3,
	    (unsigned int)c->errfd - 1, 0) == 0) &&
	    syscall(__NR_close_range, from, ~0U, 0) == 0)
		return 0;
	if (errno != ENOSYS)
		return -1;
	max = 65536;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < max)
		max = (unsigned int)rl.rlim_cur;
	for (fd = 3; fd < max; fd++)
		if ((int)fd != c->errfd)
			(void)close((int)fd);
	return 0;
}

/*
 * The child, between fork and execve: async-signal-safe calls only
 * (STYLE §9).  Order matters: no_new_privs before Landlock and seccomp
 * (both require it), Landlock before closing fds (its rules use the O_PATH
 * fds), seccomp last but exec so nothing we do trips it.
 */
static void __attribute__((noreturn))
child_run(const struct child_ctx *c)
{
	int	rc, where = 0;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) == -1)
		child_fail(c, STAGE_PDEATHSIG, errno, 0);
	/* The parent may have died before PDEATHSIG was armed. */
	if (getppid() != c->parent)
		_exit(SUPERVISE_CANNOT_EXEC);
	if (child_signals(c) == -1)
		child_fail(c, STAGE_SIGNALS, errno, 0);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		child_fail(c, STAGE_NNP, errno, 0);
	if (child_drop_caps(c) == -1)
		child_fail(c, STAGE_CAPS, errno, 0);
	/*
	 * A new anonymous session keyring: the user's session keyring
	 * (Kerberos tickets, keyctl tokens) is not ours to inherit (SPEC
	 * §3.2).  ENOSYS: a kernel without keys has nothing to hide.
	 */
	if (syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL) == -1 &&
	    errno != ENOSYS)
		child_fail(c, STAGE_KEYRING, errno, 0);
	if ((rc = sandbox_landlock_apply(c->ll, &where)) < 0)
		child_fail(c, STAGE_LANDLOCK, -rc, where);
	if ((rc = sandbox_seccomp_load(c->sc)) < 0)
		child_fail(c, STAGE_SECCOMP, -rc, 0);
	if (c->mediate) {
		if (rc <= 0)
			child_fail(c, STAGE_MEDIATOR, EINVAL, 0);
		/*
		 * The listener was made in the descriptor table we share
		 * with the supervisor (CLONE_FILES), which is suspended
		 * until we exec: it finds the descriptor there.  We take a
		 * table of our own and close our copy: a child holding it
		 * could answer its own calls.
		 */
		*c->listener = rc;
		if (unshare(CLONE_FILES) == -1)
			child_fail(c, STAGE_MEDIATOR, errno, 0);
		(void)close(rc);
	}
	if (child_close_fds(c) == -1)
		child_fail(c, STAGE_FDS, errno, 0);
	if (chdir(c->dir) == -1)
		child_fail(c, STAGE_CHDIR, errno, 0);
	execve(c->path, c->argv, c->envp);
	child_fail(c, STAGE_EXEC, errno, 0);
}

static int
child_entry(void *arg)
{
	child_run(arg);
}

/*
 * Start the child as posix_spawn does: clone(CLONE_VM | CLONE_VFORK) on a
 * stack of its own.  No page tables are copied and no copy-on-write
 * faults follow, which a fork of this process (6 MB mapped) pays for at
 * every start (bench/startup); we wait until the child has exec'd or
 * failed.  The child makes system calls only (STYLE §9), so sharing our
 * memory for that while is safe.  Nothing it does before execve may wait
 * for us: we are suspended (none of its calls is a notified one).  With a
 * mediator it shares our descriptor table too (CLONE_FILES) until its
 * listener is made, then unshares it (child_run).
 *
 * The stack stays mapped: unmapping it after the child ran on another CPU
 * costs a TLB shootdown (~20 us of every start, perf); 256 KB of address
 * space, the few pages the child touched resident.  With pidfd non-NULL
 * the kernel also gives us a pidfd of the child there (CLONE_PIDFD,
 * Linux 5.2+; EINVAL before).  -1 with errno.
 */
#if defined(__x86_64__) && !defined(__ILP32__)
/* struct clone_args up to tls (CLONE_ARGS_SIZE_VER0), as the kernel's. */
struct kh_clone_args {
	uint64_t	flags;
	uint64_t	pidfd;
	uint64_t	child_tid;
	uint64_t	parent_tid;
	uint64_t	exit_signal;
	uint64_t	stack;
	uint64_t	stack_size;
	uint64_t	tls;
};

/*
 * clone3(2), the child calling fn(arg) on the stack the arguments name
 * and exiting with what it returns (it never does: child_entry execs or
 * _exits).  glibc has no wrapper; the child starts on its new stack with
 * nothing of ours on it, so the call is made here, before any C code
 * runs there (the registers keep fn and arg: a system call changes only
 * rax, rcx and r11).  The pid, or -errno.
 */
static long
spawn_clone3(struct kh_clone_args *ca, int (*fn)(void *), void *arg)
{
	register long		 rax __asm__("rax") = __NR_clone3;
	register void		*rdi __asm__("rdi") = ca;
	register unsigned long	 rsi __asm__("rsi") = sizeof(*ca);
	register int		(*r8)(void *) __asm__("r8") = fn;
	register void		*r9 __asm__("r9") = arg;

	__asm__ __volatile__(
	    "syscall\n\t"
	    "testq %%rax, %%rax\n\t"
	    "jnz 1f\n\t"
	    "xorl %%ebp, %%ebp\n\t"
	    "movq %%r9, %%rdi\n\t"
	    "callq *%%r8\n\t"
	    "movl %%eax, %%edi\n\t"
	    "movl $60, %%eax\n\t"	/* __NR_exit */
	    "syscall\n\t"
	    "ud2\n"
	    "1:"
	    : "+r" (rax)
	    : "r" (rdi), "r" (rsi), "r" (r8), "r" (r9)
	    : "rcx", "r11", "memory", "cc");
	return rax;
}
#endif

#ifdef KH_TSAN
/*
 * ThreadSanitizer builds only: the child gets memory of its own (no
 * CLONE_VM), through glibc's clone(), which TSan intercepts and treats as
 * a fork.  A child sharing our memory runs instrumented code and TSan's
 * interceptors (sigaction, close) on the main thread's TSan state: TSan
 * then drops the signals we forward (its table of handlers says SIG_DFL),
 * shows stale frames, and through an intercepted clone(CLONE_VM) it no
 * longer saw the main thread's locks and reported races under mu that
 * were none (docs/HACKING.md "ThreadSanitizer").  CLONE_VFORK stays: the
 * descriptor table is shared (CLONE_FILES) until the listener is made,
 * the error pipe's write end with it, which our caller closes once we
 * return.  The listener's number comes back through a shared page.
 */
static pid_t
spawn_child_tsan(struct child_ctx *c, char *top, int *pidfd)
{
	int	*mine = c->listener, *shared;
	pid_t	 pid;
	int	 err;

	shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared == MAP_FAILED)
		return -1;
	*shared = -1;
	c->listener = shared;
	c->sighand_clear = false;
	pid = clone(child_entry, top, CLONE_VFORK | SIGCHLD |
	    (c->mediate ? CLONE_FILES : 0) |
	    (pidfd != NULL ? CLONE_PIDFD : 0), c, pidfd);
	err = errno;
	c->listener = mine;
	*mine = *shared;
	(void)munmap(shared, sizeof(*shared));
	errno = err;
	return pid;
}
#endif

static pid_t
spawn_child(struct child_ctx *c, int *pidfd)
{
	static char	*kept;
	size_t	 guard = (size_t)sysconf(_SC_PAGESIZE);
	char	*stack;
	pid_t	 pid;
	int	 err;
#if defined(__x86_64__) && !defined(__ILP32__)
	struct kh_clone_args	ca;
	long			r;
#endif

	if ((stack = kept) == NULL) {
		stack = mmap(NULL, guard + CHILD_STACK_SIZE, PROT_READ |
		    PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
		if (stack == MAP_FAILED)
			return -1;
		if (mprotect(stack, guard, PROT_NONE) == -1) {
			err = errno;
			(void)munmap(stack, guard + CHILD_STACK_SIZE);
			errno = err;
			return -1;
		}
		kept = stack;
	}
#ifdef KH_TSAN
	return spawn_child_tsan(c, stack + guard + CHILD_STACK_SIZE, pidfd);
#endif
#if defined(__x86_64__) && !defined(__ILP32__)
	/*
	 * clone3 with CLONE_CLEAR_SIGHAND: the kernel makes the handlers
	 * SIG_DFL, the child no longer asks about all 64 signals.  Refused
	 * (Linux < 5.5, a seccomp filter of a container): clone below.
	 */
	if (pidfd != NULL) {
		memset(&ca, 0, sizeof(ca));
		ca.flags = CLONE_VM | CLONE_VFORK | CLONE_PIDFD |
		    KH_CLONE_CLEAR_SIGHAND | (c->mediate ? CLONE_FILES : 0);
		ca.pidfd = (uint64_t)(uintptr_t)pidfd;
		ca.exit_signal = SIGCHLD;
		ca.stack = (uint64_t)(uintptr_t)(stack + guard);
		ca.stack_size = CHILD_STACK_SIZE;
		c->sighand_clear = true;
		if ((r = spawn_clone3(&ca, child_entry, c)) > 0)
			return (pid_t)r;
		c->sighand_clear = false;
	}
#endif
	pid = clone(child_entry, stack + guard + CHILD_STACK_SIZE,
	    CLONE_VM | CLONE_VFORK | SIGCHLD | (c->mediate ? CLONE_FILES : 0) |
	    (pidfd != NULL ? CLONE_PIDFD : 0), c, pidfd);
	return pid;
}

/* The value of PATH in envp, else keyhole's, else a default. */
static const char *
search_path(char *const envp[])
{
	const char	*s;
	size_t		 i;

	for (i = 0; envp != NULL && envp[i] != NULL; i++)
		if (strncmp(envp[i], "PATH=", 5) == 0)
			return envp[i] + 5;
	if ((s = getenv("PATH")) != NULL)
		return s;
	return DEFAULT_PATH;
}

/*
 * Resolve name like execvp, in the parent (before the sandbox hides
 * anything).  0 with *out owned; ENOENT when not found.  A match that is
 * not executable is kept if nothing better follows, so exec reports it
 * (126, as shells do).
 */
static int
resolve_cmd(const char *name, char *const envp[], char **out)
{
	const char	*p, *end;
	char		 cand[PATH_MAX], *noexec = NULL;
	struct stat	 st;
	size_t		 len, nlen = strlen(name);

	*out = NULL;
	if (name[0] == '\0')
		return ENOENT;
	if (strchr(name, '/') != NULL) {
		*out = xstrdup(name);
		return 0;
	}
	for (p = search_path(envp); ; p = end + 1) {
		end = strchr(p, ':');
		len = end != NULL ? (size_t)(end - p) : strlen(p);
		if (len == 0) {
			p = ".";
			len = 1;
		}
		/* dir/name, built in place (stat says ENAMETOOLONG anyway). */
		if (len + 1 + nlen < sizeof(cand)) {
			memcpy(cand, p, len);
			cand[len] = '/';
			memcpy(cand + len + 1, name, nlen + 1);
			if (stat(cand, &st) == 0 && S_ISREG(st.st_mode)) {
				if (access(cand, X_OK) == 0) {
					free(noexec);
					*out = xstrdup(cand);
					return 0;
				}
				if (noexec == NULL)
					noexec = xstrdup(cand);
			}
		}
		if (end == NULL)
			break;
	}
	if (noexec != NULL) {
		*out = noexec;
		return 0;
	}
	return ENOENT;
}

/*
 * The highest capability number of this kernel, asked of prctl: reading
 * a bounding-set bit past the last one says EINVAL.  Starting from the
 * headers' last, that is two calls where /proc/sys/kernel/cap_last_cap
 * was three and a procfs lookup at every start.  Anything unexpected
 * (prctl refused): CAP_LAST_FALLBACK, and the drop loop then tries every
 * number up to it (EINVAL for the ones that do not exist).
 */
int
sandbox_supervise_last_cap(void)
{
	int	cap = CAP_LAST_CAP;

	if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) < 0) {
		if (errno != EINVAL)
			return CAP_LAST_FALLBACK;
		/* An older kernel: fewer than the headers know. */
		while (--cap >= 0)
			if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0)
				return cap;
		return CAP_LAST_FALLBACK;
	}
	while (cap < CAP_LAST_FALLBACK &&
	    prctl(PR_CAPBSET_READ, cap + 1, 0, 0, 0) >= 0)
		cap++;
	return cap;
}

/* Word the child's failure record into e; returns the exit code. */
static int
explain_child(const struct child_ctx *c, const struct child_err *ce,
    struct errbuf *e)
{
	const char	*msg = strerror(ce->err);

	switch (ce->stage) {
	case STAGE_PDEATHSIG:
		errbuf_set(e, "cannot set the parent-death signal: %s", msg);
		break;
	case STAGE_SIGNALS:
		errbuf_set(e, "cannot reset signal handling: %s", msg);
		break;
	case STAGE_NNP:
		errbuf_set(e, "cannot set no_new_privs: %s", msg);
		break;
	case STAGE_CAPS:
		errbuf_set(e, "cannot drop capabilities: %s", msg);
		break;
	case STAGE_KEYRING:
		errbuf_set(e, "cannot start a new session keyring: %s", msg);
		break;
	case STAGE_LANDLOCK:
		sandbox_landlock_explain(c->ll, ce->detail, ce->err, e);
		errbuf_wrap(e, "cannot apply Landlock");
		break;
	case STAGE_SECCOMP:
		if (ce->err == EBUSY && c->mediate)
			errbuf_set(e, "cannot load the seccomp filter: %s "
			    "(another seccomp listener is already in force: "
			    "nested sandbox?)", msg);
		else
			errbuf_set(e, "cannot load the seccomp filter: %s",
			    msg);
		break;
	case STAGE_MEDIATOR:
		errbuf_set(e, "cannot hand the connect mediator its "
		    "listener: %s", msg);
		break;
	case STAGE_FDS:
		errbuf_set(e, "cannot close inherited file descriptors: %s",
		    msg);
		break;
	case STAGE_CHDIR:
		errbuf_set(e, "cannot change directory to %s: %s", c->dir,
		    msg);
		break;
	case STAGE_EXEC:
		if (ce->err == ENOENT)
			errbuf_set(e, "%s: command not found", c->argv[0]);
		else if (ce->err == EACCES && access(c->path, X_OK) == 0)
			/* Executable out here: Landlock refused it. */
			errbuf_set(e, "cannot execute %s: %s (is it granted "
			    "for reading?)", c->path, msg);
		else
			errbuf_set(e, "cannot execute %s: %s", c->path, msg);
		return ce->err == ENOENT ? SUPERVISE_NOT_FOUND :
		    SUPERVISE_CANNOT_EXEC;
	default:
		errbuf_set(e, "sandbox setup failed (stage %d): %s",
		    ce->stage, msg);
		break;
	}
	return SUPERVISE_CANNOT_EXEC;
}

/* Exit code for a wait status (SPEC §2). */
static int
status_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 1;
}

static void
on_forward(evutil_socket_t sig, short what, void *arg)
{
	struct supervisor	*sv = arg;

	(void)what;
	if (!sv->done && sv->pid > 0)
		(void)kill(sv->pid, (int)sig);
}

/*
 * The child has exited (its pidfd is readable) or a SIGCHLD came: reap it
 * if it is gone and end the loop.
 */
static void
sv_reap(struct supervisor *sv)
{
	pid_t	r;
	int	status;

	if (sv->done)
		return;
	do {
		r = waitpid(sv->pid, &status, WNOHANG);
	} while (r == -1 && errno == EINTR);
	if (r == 0)
		return;
	if (r == -1) {
		log_warn("waitpid %ld", (long)sv->pid);
		status = 1 << 8;	/* exit 1 */
	}
	sv->done = true;
	sv->status = status;
	if (sv->proxy != NULL)
		proxy_server_shutdown(sv->proxy);
	event_base_loopbreak(sv->base);
}

static void
on_sigchld(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	sv_reap(arg);
}

static void
on_pidfd(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	sv_reap(arg);
}

/* Blocking reap, for paths where the loop does not run. */
static int
reap(pid_t pid)
{
	int	status = 0;

	while (waitpid(pid, &status, 0) == -1) {
		if (errno != EINTR)
			return 1 << 8;
	}
	return status;
}

/*
 * Decide whether the mediator runs (SPEC §3): in NET_BLOCKED and NET_PROXY
 * when the caller brought one (it does when the kernel can run it).
 * Without it on a kernel that cannot, proxy mode is refused unless
 * --allow-degraded-network, which also drops the direct grants' Landlock
 * ports (*llp then points at a copy of p without them; free *av).
 */
int
sandbox_supervise_mediator_mode(const struct plan *p, bool have,
    const char *missing, bool *mediate, struct plan *lp,
    struct allow_entry **av, const struct plan **llp, struct errbuf *e)
{
	size_t		i;

	*mediate = false;
	*av = NULL;
	*llp = p;
	if (have) {
		*mediate = true;
		return 0;
	}
	/* A capable kernel without a mediator: the caller's choice. */
	if (missing == NULL)
		return 0;
	if (p->mode == NET_ALLOW) {
		log_warnx("no mediator (%s): unix sockets outside the sandbox "
		    "stay reachable (SPEC 3.2)", missing);
		return 0;
	}
	if (p->mode == NET_BLOCKED) {
		log_info("no connect mediator (%s): Landlock port rules only",
		    missing);
		return 0;
	}
	if (!p->allow_degraded_network) {
		errbuf_set(e, "proxy mode needs the connect mediator, which "
		    "this kernel cannot run (%s; it needs Linux 5.6+ with "
		    "seccomp user notification and pidfd_getfd); "
		    "--allow-degraded-network runs with port-only rules and "
		    "no direct grants", missing);
		return -1;
	}
	log_warnx("no connect mediator (%s): network rules are per port "
	    "only and direct grants are off (--allow-degraded-network)",
	    missing);
	*lp = *p;
	if (p->allow.n > 0) {
		*av = xcalloc(p->allow.n, sizeof(**av));
		for (i = 0; i < p->allow.n; i++) {
			(*av)[i] = p->allow.v[i];	/* shallow: borrowed */
			(*av)[i].direct = false;
		}
		lp->allow.v = *av;
	}
	*llp = lp;
	return 0;
}

/* Read the error pipe to EOF: 1 with *ce on a child failure, 0 on exec. */
static int
read_child_err(int fd, struct child_err *ce)
{
	ssize_t	n;

	do {
		n = read(fd, ce, sizeof(*ce));
	} while (n == -1 && errno == EINTR);
	if (n == (ssize_t)sizeof(*ce))
		return 1;
	if (n > 0) {
		ce->stage = 0;
		ce->err = EIO;
		return 1;
	}
	return 0;
}

int
sandbox_supervise_run(struct plan *p, struct event_base *base,
    struct proxy *proxy, char *const argv[], char *const envp[],
    struct errbuf *e)
{
	return sandbox_supervise_run_mediated(p, base, proxy, NULL, NULL, argv,
	    envp, e);
}

int
sandbox_supervise_run_mediated(struct plan *p, struct event_base *base,
    struct proxy *proxy, supervise_listener_fn *on_listener, void *arg,
    char *const argv[], char *const envp[], struct errbuf *e)
{
	struct supervisor	 sv;
	struct child_ctx	 c;
	struct child_err	 ce;
	struct landlock_spec	*ll = NULL;
	struct seccomp_prog	*sc = NULL;
	struct plan		 lplan;
	const struct plan	*llp;
	struct allow_entry	*lav = NULL;
	struct errbuf		 why = { 0 };
	const char		*missing = NULL;
	struct event		*evs[NFORWARD + 1];
	struct event_base	*own = NULL;
	struct sigaction	 ign, old_pipe;
	sigset_t		 all, oldmask;
	char			*path = NULL;
	int			 pfd[2] = { -1, -1 }, ret = -1, err;
	int			 listener = -1, pidfd = -1;
	bool			 mediate;
	size_t			 i, nevs = 0;
	uint16_t		 port;
	pid_t			 pid;

	memset(&sv, 0, sizeof(sv));
	memset(&c, 0, sizeof(c));
	if (argv == NULL || argv[0] == NULL) {
		errbuf_set(e, "no command to run");
		return -1;
	}
	if ((err = resolve_cmd(argv[0], envp, &path)) != 0) {
		errbuf_set(e, "%s: command not found", argv[0]);
		fprintf(stderr, "keyhole: %s\n", errbuf_msg(e));
		return SUPERVISE_NOT_FOUND;
	}
	/* No one of our uid may ptrace us and read the proxy's secrets. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1) {
		errbuf_sys(e, "prctl(PR_SET_DUMPABLE)");
		goto out;
	}
	port = proxy != NULL ? proxy_server_port(proxy) : p->proxy_port;
	if (on_listener == NULL && !sandbox_seccomp_notify_available(&why))
		missing = errbuf_msg(&why);
	if (sandbox_supervise_mediator_mode(p, on_listener != NULL, missing,
	    &mediate, &lplan, &lav, &llp, e) == -1)
		goto out;
	if (sandbox_landlock_prepare(llp, port, &ll, e) == -1 ||
	    (mediate ? sandbox_seccomp_build_mediated(p, &sc, e) :
	    sandbox_seccomp_build(p, &sc, e)) == -1)
		goto out;
	if (base == NULL) {
		if ((own = base = event_base_new()) == NULL) {
			errbuf_set(e, "cannot create an event loop");
			goto out;
		}
	}

	c.path = path;
	c.argv = argv;
	c.envp = envp;
	c.dir = p->workdir != NULL ? p->workdir : "/";
	c.ll = ll;
	c.sc = sc;
	c.last_cap = sandbox_supervise_last_cap();
	c.parent = getpid();
	for (i = 0; i < NFORWARD; i++)
		c.sigs[c.nsigs++] = forwarded[i];
	c.sigs[c.nsigs++] = SIGCHLD;
	c.sigs[c.nsigs++] = SIGPIPE;
	for (i = 0; i < c.nsigs; i++)
		(void)sigaction(c.sigs[i], NULL, &c.orig[i]);
	old_pipe = c.orig[c.nsigs - 1];

	sv.base = base;
	sv.proxy = proxy;
	/*
	 * Armed before fork: a signal in between is not lost.  The child's
	 * exit is watched through its pidfd (below), whose readiness cannot
	 * be lost either: the loop wakes once when it exits, where SIGCHLD
	 * costs a signal delivery, libevent's handler writing its pipe and a
	 * second pass of the loop reading it.
	 */
	for (i = 0; i < NFORWARD; i++)
		evs[nevs++] = evsignal_new(base, forwarded[i], on_forward, &sv);
	for (i = 0; i < nevs; i++) {
		if (evs[i] == NULL || event_add(evs[i], NULL) == -1) {
			errbuf_set(e, "cannot watch signals");
			goto out;
		}
	}
	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	(void)sigaction(SIGPIPE, &ign, NULL);

	if (pipe2(pfd, O_CLOEXEC) == -1) {
		errbuf_sys(e, "pipe");
		goto out_sig;
	}
	c.errfd = pfd[1];
	c.mediate = mediate;
	c.listener = &listener;
	/* No handler may run in the child before it resets them. */
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &oldmask);
	pid = spawn_child(&c, &pidfd);
	if (pid == -1 && errno == EINVAL) {
		/* No CLONE_PIDFD (Linux < 5.2): SIGCHLD, armed before. */
		pidfd = -1;
		evs[nevs] = evsignal_new(base, SIGCHLD, on_sigchld, &sv);
		if (evs[nevs] == NULL || event_add(evs[nevs++], NULL) == -1) {
			sigprocmask(SIG_SETMASK, &oldmask, NULL);
			errbuf_set(e, "cannot watch signals");
			goto out_sig;
		}
		pid = spawn_child(&c, NULL);
	}
	err = errno;
	sigprocmask(SIG_SETMASK, &oldmask, NULL);
	close(pfd[1]);
	pfd[1] = -1;
	if (pid == -1) {
		errno = err;
		errbuf_sys(e, "cannot start the child (clone)");
		goto out_sig;
	}
	sv.pid = pid;
	if (pidfd != -1) {
		evs[nevs] = event_new(base, pidfd, EV_READ | EV_PERSIST,
		    on_pidfd, &sv);
		if (evs[nevs] == NULL || event_add(evs[nevs++], NULL) == -1) {
			(void)kill(pid, SIGKILL);
			(void)reap(pid);
			sv.done = true;
			errbuf_set(e, "cannot watch the child");
			goto out_sig;
		}
	}

	if (read_child_err(pfd[0], &ce)) {
		(void)reap(pid);
		sv.done = true;
		if (listener != -1)
			(void)close(listener);
		ret = explain_child(&c, &ce, e);
		fprintf(stderr, "keyhole: %s\n", errbuf_msg(e));
		goto out_sig;
	}
	if (mediate) {
		/* Made in our descriptor table before the exec. */
		if (listener == -1)
			errbuf_set(e, "the sandboxed child did not hand over "
			    "its connect mediator listener");
		if (listener == -1 || on_listener(listener, arg, e) == -1) {
			(void)kill(pid, SIGKILL);
			(void)reap(pid);
			sv.done = true;
			fprintf(stderr, "keyhole: %s\n", errbuf_msg(e));
			ret = SUPERVISE_CANNOT_EXEC;
			goto out_sig;
		}
	}
	/*
	 * The Landlock rules are in force: their objects, the plan's grant
	 * descriptors among them, are no longer needed.  Closed now, while
	 * the child runs, not after it has exited.
	 */
	sandbox_landlock_spec_free(ll);
	ll = NULL;
	policy_plan_close_fds(p);
	while (!sv.done) {
		if (event_base_dispatch(base) == -1) {
			log_warnx("event loop failed; waiting for the child");
			break;
		}
	}
	if (!sv.done) {
		sv.status = reap(pid);
		sv.done = true;
		if (proxy != NULL)
			proxy_server_shutdown(proxy);
	}
	ret = status_code(sv.status);
out_sig:
	(void)sigaction(SIGPIPE, &old_pipe, NULL);
out:
	for (i = 0; i < nevs; i++)
		if (evs[i] != NULL)
			event_free(evs[i]);
	if (pidfd != -1)
		close(pidfd);
	if (pfd[0] != -1)
		close(pfd[0]);
	if (pfd[1] != -1)
		close(pfd[1]);
	free(lav);
	if (own != NULL)
		event_base_free(own);
	sandbox_landlock_spec_free(ll);
	sandbox_seccomp_free(sc);
	free(path);
	return ret;
}
