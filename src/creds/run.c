/*
 * Run a credential helper (op, cmd://) without a shell and collect what it
 * prints, within a deadline.
 */

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "creds/source.h"
#include "util/mono.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

/* PATH when the snapshot has none (execvp's default minus "."). */
#define RUN_DEFAULT_PATH	"/usr/local/bin:/usr/bin:/bin"
/* How often to look for the helper's exit while waiting on its pipes. */
#define RUN_REAP_POLL_MS	20

/* True when path is a regular file we may execute. */
static bool
run_executable(const char *path)
{
	struct stat	st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
	    access(path, X_OK) == 0;
}

/*
 * Find name on the snapshot's PATH, as execvp would, but from the
 * environment the store was given rather than ours.  Owned, or NULL.
 */
static char *
run_find(const char *name, char *const *envp)
{
	const char	*path, *p, *end;
	char		*cand;
	size_t		 dirlen;

	if (strchr(name, '/') != NULL)
		return run_executable(name) ? xstrdup(name) : NULL;
	path = creds_env_lookup(envp, "PATH");
	if (path == NULL)
		path = RUN_DEFAULT_PATH;
	for (p = path;; p = end + 1) {
		end = strchr(p, ':');
		if (end == NULL)
			end = p + strlen(p);
		dirlen = (size_t)(end - p);
		/* An empty element means the current directory; skip it. */
		if (dirlen > 0) {
			cand = xasprintf("%.*s/%s", (int)dirlen, p, name);
			if (run_executable(cand))
				return cand;
			free(cand);
		}
		if (*end == '\0')
			return NULL;
	}
}

/* Append n bytes to r->out, growing it without leaving unwiped copies. */
static void
run_out_append(struct creds_run *r, const unsigned char *p, size_t n)
{
	unsigned char	*nbuf;
	size_t		 ncap;

	if (r->outlen + n > r->outcap) {
		ncap = r->outcap == 0 ? 256 : r->outcap;
		while (ncap < r->outlen + n)
			ncap *= 2;
		nbuf = xmalloc(ncap);
		if (r->outlen > 0)
			memcpy(nbuf, r->out, r->outlen);
		freezero(r->out, r->outcap);
		r->out = nbuf;
		r->outcap = ncap;
	}
	memcpy(r->out + r->outlen, p, n);
	r->outlen += n;
}

/* Kill the helper's whole process group and reap it. */
static void
run_kill(pid_t pid)
{
	int	status;

	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
}

/* Record how the helper ended from its wait status. */
static void
run_set_status(struct creds_run *r, int status)
{
	if (WIFSIGNALED(status)) {
		r->end = CREDS_RUN_SIGNALED;
		r->status = WTERMSIG(status);
	} else {
		r->end = CREDS_RUN_EXITED;
		r->status = WEXITSTATUS(status);
	}
}

/*
 * One read from pipe i (0 stdout, 1 stderr) into r.  1: read some; 2:
 * nothing there now; 0: EOF; -1: stdout went over CREDS_SECRET_MAX.
 */
static int
run_read(struct creds_run *r, int i, int fd)
{
	unsigned char	 buf[4096];
	ssize_t		 n;
	size_t		 keep;
	int		 rv = 1;

	n = read(fd, buf, sizeof(buf));
	if (n == -1)
		return errno == EINTR || errno == EAGAIN ? 2 : 0;
	if (n == 0)
		return 0;
	if (i == 0) {
		if (r->outlen + (size_t)n > CREDS_SECRET_MAX)
			rv = -1;
		else
			run_out_append(r, buf, (size_t)n);
	} else {
		/* Keep the head of stderr; drain the rest. */
		keep = CREDS_RUN_ERR_MAX - r->errlen;
		if (keep > (size_t)n)
			keep = (size_t)n;
		memcpy(r->err + r->errlen, buf, keep);
		r->errlen += keep;
		r->err[r->errlen] = '\0';
	}
	explicit_bzero(buf, sizeof(buf));
	return rv;
}

/*
 * Read both pipes until the helper exits, the deadline passes or stdout
 * grows too big; then reap it.  Closes the fds.
 *
 * The end is the helper's exit, not EOF: a helper may leave a descendant
 * holding the pipes (op starts a session daemon).  Everything the helper
 * wrote is in the pipes by the time it has exited, so after the exit one
 * non-blocking drain collects it.
 */
static void
run_collect(pid_t pid, int fds[2], int64_t deadline, struct creds_run *r)
{
	struct pollfd	 pfd[2];
	int64_t		 left;
	int		 i, ready, got, status;
	pid_t		 w;
	bool		 exited = false;

	for (i = 0; i < 2; i++) {
		fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
		pfd[i].fd = fds[i];
		pfd[i].events = POLLIN;
	}
	for (;;) {
		w = waitpid(pid, &status, WNOHANG);
		if (w == pid) {
			run_set_status(r, status);
			exited = true;
		} else if (w == -1 && errno != EINTR) {
			/* Reaped elsewhere (a SIGCHLD handler): say exit 0. */
			r->end = CREDS_RUN_EXITED;
			r->status = 0;
			exited = true;
		}
		left = deadline - (int64_t)mono_ms();
		if (!exited && left <= 0) {
			r->end = CREDS_RUN_TIMEOUT;
			break;
		}
		/* After the exit, or with both pipes closed, only poll fast. */
		if (exited || (pfd[0].fd == -1 && pfd[1].fd == -1))
			left = exited ? 0 : RUN_REAP_POLL_MS;
		else if (left > RUN_REAP_POLL_MS)
			left = RUN_REAP_POLL_MS;
		ready = poll(pfd, 2, (int)left);
		for (i = 0; ready > 0 && i < 2; i++) {
			if (pfd[i].fd == -1 || pfd[i].revents == 0)
				continue;
			/* Once exited, drain each pipe until it is empty. */
			do {
				got = run_read(r, i, pfd[i].fd);
			} while (exited && got == 1);
			if (got == -1) {
				r->end = CREDS_RUN_TOOBIG;
				goto kill;
			}
			if (got == 0) {
				close(pfd[i].fd);
				pfd[i].fd = -1;
			}
		}
		if (exited) {
			for (i = 0; i < 2; i++)
				if (pfd[i].fd != -1)
					close(pfd[i].fd);
			return;
		}
	}
kill:
	for (i = 0; i < 2; i++)
		if (pfd[i].fd != -1)
			close(pfd[i].fd);
	if (!exited)
		run_kill(pid);
}

int
creds_run_argv(char *const argv[], char *const *envp, int timeout_ms,
    struct creds_run *r, struct errbuf *why)
{
	static char *const		 noenv[] = { NULL };
	posix_spawn_file_actions_t	 fa;
	posix_spawnattr_t		 attr;
	sigset_t			 none, all;
	char				*path;
	int				 outp[2] = { -1, -1 };
	int				 errp[2] = { -1, -1 };
	int				 fds[2], rv, saved;
	pid_t				 pid;

	r->end = CREDS_RUN_EXITED;
	r->status = 0;
	r->errlen = 0;
	r->err[0] = '\0';
	if ((path = run_find(argv[0], envp)) == NULL) {
		r->end = CREDS_RUN_NOTFOUND;
		return 0;
	}
	if (pipe2(outp, O_CLOEXEC) == -1 || pipe2(errp, O_CLOEXEC) == -1) {
		saved = errno;
		if (outp[0] != -1) {
			close(outp[0]);
			close(outp[1]);
		}
		free(path);
		errno = saved;
		errbuf_sys(why, "pipe");
		return -1;
	}

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null",
	    O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, outp[1], STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&fa, errp[1], STDERR_FILENO);
	/*
	 * Own process group, so a timeout kills what the helper started too
	 * (a shell script's children hold the pipe open); default signal
	 * dispositions and an empty mask whatever the supervisor set.
	 */
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP |
	    POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	rv = posix_spawn(&pid, path, &fa, &attr, argv,
	    envp != NULL ? envp : noenv);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	close(outp[1]);
	close(errp[1]);
	if (rv != 0) {
		close(outp[0]);
		close(errp[0]);
		if (rv == ENOENT) {
			free(path);
			r->end = CREDS_RUN_NOTFOUND;
			return 0;
		}
		errno = rv;
		errbuf_sys(why, "run %s", path);
		free(path);
		return -1;
	}
	free(path);
	if (timeout_ms <= 0)
		timeout_ms = CREDS_RUN_TIMEOUT_MS;
	fds[0] = outp[0];
	fds[1] = errp[0];
	run_collect(pid, fds, (int64_t)mono_ms() + timeout_ms, r);
	return 0;
}

void
creds_run_describe(const struct creds_run *r, const char *what,
    int timeout_ms, struct errbuf *why)
{
	switch (r->end) {
	case CREDS_RUN_EXITED:
		errbuf_set(why, "%s exited with status %d", what, r->status);
		break;
	case CREDS_RUN_SIGNALED:
		errbuf_set(why, "%s killed by signal %d", what, r->status);
		break;
	case CREDS_RUN_TIMEOUT:
		if (timeout_ms % 1000 == 0)
			errbuf_set(why, "%s timed out after %d s", what,
			    timeout_ms / 1000);
		else
			errbuf_set(why, "%s timed out after %d ms", what,
			    timeout_ms);
		break;
	case CREDS_RUN_TOOBIG:
		errbuf_set(why, "%s output exceeds %d KiB", what,
		    CREDS_SECRET_MAX / 1024);
		break;
	case CREDS_RUN_NOTFOUND:
		errbuf_set(why, "%s not found", what);
		break;
	}
}

void
creds_run_clear(struct creds_run *r)
{
	freezero(r->out, r->outcap);
	r->out = NULL;
	r->outlen = r->outcap = 0;
	/* stderr may echo part of the secret; wipe it too. */
	explicit_bzero(r->err, sizeof(r->err));
	r->errlen = 0;
}
