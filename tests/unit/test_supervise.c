#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <event2/event.h>

#include "policy/plan.h"
#include "proxy/server.h"
#include "sandbox/landlock.h"
#include "sandbox/seccomp.h"
#include "sandbox/supervise.h"
#include "util/xmalloc.h"

/*
 * Stand-ins for the proxy (src/proxy/server.c): weak, so the real ones win
 * if the library links them in.  Tests hand a fake struct proxy.
 */
static int	shutdown_calls;

__attribute__((weak)) uint16_t
proxy_server_port(const struct proxy *px)
{
	(void)px;
	return 0;
}

__attribute__((weak)) void
proxy_server_shutdown(struct proxy *px)
{
	(void)px;
	shutdown_calls++;
}

static char	*env_path[] = { "PATH=/usr/bin:/bin", NULL };
static char	 tmpdir[64];

static void
skip_without_landlock(void)
{
	if (sandbox_landlock_abi() == 0) {
		fprintf(stderr, "Landlock is not available: skipped\n");
		skip();
	}
}

static void
grant(struct plan *p, const char *path, enum fs_access a)
{
	p->grants = xreallocarray(p->grants, p->ngrants + 1,
	    sizeof(*p->grants));
	memset(&p->grants[p->ngrants], 0, sizeof(p->grants[0]));
	p->grants[p->ngrants].path = xstrdup(path);
	p->grants[p->ngrants].access = a;
	p->ngrants++;
}

/* The system read grants a shell needs. */
static void
sys_plan(struct plan *p)
{
	memset(p, 0, sizeof(*p));
	grant(p, "/usr", FS_READ);
	grant(p, "/etc", FS_READ);
	grant(p, "/proc", FS_READ);
}

static void
plan_clear(struct plan *p)
{
	size_t	i;

	for (i = 0; i < p->ngrants; i++)
		free(p->grants[i].path);
	free(p->grants);
	free(p->workdir);
	memset(p, 0, sizeof(*p));
}

/* Run argv under sys_plan; returns the exit code, e filled. */
static int
run(struct plan *p, char **argv, struct errbuf *e)
{
	errbuf_clear(e);
	return sandbox_supervise_run(p, NULL, NULL, argv, env_path, e);
}

static int
run_sh(const char *script, struct errbuf *e)
{
	struct plan	 p;
	char		*argv[] = { "sh", "-c", (char *)script, NULL };
	int		 rc;

	sys_plan(&p);
	rc = run(&p, argv, e);
	plan_clear(&p);
	return rc;
}

static int
setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/kh-supervise-XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char	*cmd;

	(void)state;
	cmd = xasprintf("rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmpdir);
	free(cmd);
	return 0;
}

static void
test_supervise_exit_status_is_passed_on(void **state)
{
	struct errbuf	e;

	(void)state;
	skip_without_landlock();
	assert_int_equal(run_sh("exit 0", &e), 0);
	assert_int_equal(run_sh("exit 3", &e), 3);
}

/*
 * The child's exit is seen through its pidfd, not SIGCHLD: a supervisor
 * whose SIGCHLD is blocked still ends with the child's status (with
 * SIGCHLD alone it would wait for ever; the alarm fails the test then).
 */
static void
test_supervise_child_exit_is_seen_with_sigchld_blocked(void **state)
{
	struct errbuf	e;
	sigset_t	chld, old;
	int		rc;

	(void)state;
	skip_without_landlock();
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &old);
	alarm(20);
	rc = run_sh("exit 5", &e);
	alarm(0);
	sigprocmask(SIG_SETMASK, &old, NULL);
	assert_int_equal(rc, 5);
}

/*
 * What the child's handlers are reset by (CLONE_CLEAR_SIGHAND where the
 * kernel has it, a sigaction per signal else) keeps what was ignored
 * ignored in the program, as exec does: SIGUSR2 ignored by us, and
 * SIGHUP, which the supervisor forwards (its handler) but found ignored.
 * SigIgn has bit n-1 for signal n: SIGHUP 0x1, SIGUSR2 0x800.
 */
static void
test_supervise_ignored_signals_stay_ignored_in_the_child(void **state)
{
	struct errbuf		e;
	struct sigaction	ign, ohup, ousr2, now;
	int			rc;

	(void)state;
	skip_without_landlock();
	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	assert_int_equal(sigaction(SIGHUP, &ign, &ohup), 0);
	assert_int_equal(sigaction(SIGUSR2, &ign, &ousr2), 0);
	rc = run_sh("v=0x$(sed -n 's/^SigIgn:[[:space:]]*//p' "
	    "/proc/self/status); [ $((v & 0x801)) -eq $((0x801)) ]", &e);
	assert_int_equal(sigaction(SIGHUP, &ohup, NULL), 0);
	assert_int_equal(sigaction(SIGUSR2, &ousr2, NULL), 0);
	assert_int_equal(rc, 0);
	/* And ours are as we left them. */
	assert_int_equal(sigaction(SIGHUP, NULL, &now), 0);
	assert_ptr_equal(now.sa_handler, ohup.sa_handler);
	/* Not ignored here: not ignored there. */
	assert_int_equal(run_sh("v=0x$(sed -n 's/^SigIgn:[[:space:]]*//p' "
	    "/proc/self/status); [ $((v & 0x800)) -eq 0 ]", &e), 0);
}

/*
 * Where clone3 is refused (Linux < 5.5 has no CLONE_CLEAR_SIGHAND, a
 * container's seccomp profile says ENOSYS), the child is started with
 * clone and resets the handlers itself: same exit statuses, same
 * dispositions.  Run in a forked process whose filter refuses clone3.
 */
static void
test_supervise_without_clone3_falls_back_to_clone(void **state)
{
	struct sock_filter	 f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		    offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 435 /* clone3 */, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog	 prog = { sizeof(f) / sizeof(f[0]), f };
	struct sigaction	 ign;
	struct errbuf		 e;
	pid_t			 pid;
	int			 st, rc;

	(void)state;
	skip_without_landlock();
	if ((pid = fork()) == 0) {
		memset(&ign, 0, sizeof(ign));
		ign.sa_handler = SIG_IGN;
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1 ||
		    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0,
		    &prog) == -1 || sigaction(SIGHUP, &ign, NULL) == -1)
			_exit(90);
		if (syscall(435, NULL, 0) != -1 || errno != ENOSYS)
			_exit(91);
		if ((rc = run_sh("exit 7", &e)) != 7)
			_exit(92);
		rc = run_sh("v=0x$(sed -n 's/^SigIgn:[[:space:]]*//p' "
		    "/proc/self/status); [ $((v & 0x1)) -eq 1 ]", &e);
		_exit(rc == 0 ? 0 : 93);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void
test_supervise_death_by_signal_is_128_plus_n(void **state)
{
	struct errbuf	e;

	(void)state;
	skip_without_landlock();
	assert_int_equal(run_sh("kill -9 $$", &e), 128 + 9);
}

static void
test_supervise_missing_command_is_127(void **state)
{
	struct plan	 p;
	struct errbuf	 e;
	char		*argv[] = { "keyhole-no-such-command", NULL };

	(void)state;
	sys_plan(&p);
	assert_int_equal(run(&p, argv, &e), 127);
	assert_string_equal(errbuf_msg(&e),
	    "keyhole-no-such-command: command not found");
	plan_clear(&p);
}

static void
test_supervise_missing_path_is_127(void **state)
{
	struct plan	 p;
	struct errbuf	 e;
	char		*argv[] = { "/usr/bin/keyhole-no-such-command", NULL };

	(void)state;
	skip_without_landlock();
	sys_plan(&p);
	assert_int_equal(run(&p, argv, &e), 127);
	assert_string_equal(errbuf_msg(&e),
	    "/usr/bin/keyhole-no-such-command: command not found");
	plan_clear(&p);
}

static void
test_supervise_unexecutable_file_is_126(void **state)
{
	struct plan	 p;
	struct errbuf	 e;
	char		*path, *argv[2];
	int		 fd;

	(void)state;
	skip_without_landlock();
	path = xasprintf("%s/not-executable", tmpdir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "#!/bin/sh\n", 10), 10);
	close(fd);
	sys_plan(&p);
	grant(&p, tmpdir, FS_READ);
	argv[0] = path;
	argv[1] = NULL;
	assert_int_equal(run(&p, argv, &e), 126);
	assert_non_null(strstr(errbuf_msg(&e), "cannot execute "));
	assert_string_equal(errbuf_msg(&e) + strlen(errbuf_msg(&e)) - 19,
	    ": Permission denied");
	plan_clear(&p);
	free(path);
}

static void
test_supervise_exec_outside_grants_is_126(void **state)
{
	struct plan	 p;
	struct errbuf	 e;
	char		*argv[] = { "/usr/bin/true", NULL };

	(void)state;
	skip_without_landlock();
	memset(&p, 0, sizeof(p));
	grant(&p, "/etc", FS_READ);
	assert_int_equal(run(&p, argv, &e), 126);
	assert_string_equal(errbuf_msg(&e), "cannot execute /usr/bin/true: "
	    "Permission denied (is it granted for reading?)");
	plan_clear(&p);
}

static void
test_supervise_bad_workdir_is_126(void **state)
{
	struct plan	 p;
	struct errbuf	 e;
	char		*argv[] = { "true", NULL };

	(void)state;
	skip_without_landlock();
	sys_plan(&p);
	p.workdir = xstrdup("/nonexistent-keyhole-dir");
	assert_int_equal(run(&p, argv, &e), 126);
	assert_string_equal(errbuf_msg(&e), "cannot change directory to "
	    "/nonexistent-keyhole-dir: No such file or directory");
	plan_clear(&p);
}

static void
test_supervise_child_starts_in_workdir(void **state)
{
	struct plan	 p;
	struct errbuf	 e;
	char		*script, *argv[4];

	(void)state;
	skip_without_landlock();
	sys_plan(&p);
	p.workdir = xstrdup(tmpdir);
	script = xasprintf("[ \"$(pwd)\" = %s ]", tmpdir);
	argv[0] = "sh";
	argv[1] = "-c";
	argv[2] = script;
	argv[3] = NULL;
	assert_int_equal(run(&p, argv, &e), 0);
	plan_clear(&p);
	free(script);
}

static void
test_supervise_capabilities_are_all_zero_in_the_child(void **state)
{
	struct errbuf	e;

	(void)state;
	skip_without_landlock();
	assert_int_equal(run_sh(
	    "while read k v; do case $k in "
	    "CapInh:|CapPrm:|CapEff:|CapBnd:|CapAmb:) "
	    "[ \"$v\" = 0000000000000000 ] || exit 1;; esac; "
	    "done < /proc/self/status; "
	    "grep -q '^NoNewPrivs:.1' /proc/self/status || exit 2", &e), 0);
}

static void
test_supervise_inherited_fds_are_closed(void **state)
{
	struct errbuf	 e;
	char		*script;
	int		 fd;

	(void)state;
	skip_without_landlock();
	fd = open("/dev/null", O_RDONLY);	/* deliberately not CLOEXEC */
	assert_true(fd > 2);
	script = xasprintf("[ ! -e /proc/self/fd/%d ]", fd);
	assert_int_equal(run_sh(script, &e), 0);
	free(script);
	close(fd);
}

static void
test_supervise_envp_is_the_childs_environment(void **state)
{
	struct plan	 p;
	struct errbuf	 e;
	char		*argv[] = { "sh", "-c", "[ \"$KH_X\" = yes ]", NULL };
	char		*envp[] = { "PATH=/usr/bin", "KH_X=yes", NULL };

	(void)state;
	skip_without_landlock();
	sys_plan(&p);
	assert_int_equal(sandbox_supervise_run(&p, NULL, NULL, argv, envp, &e),
	    0);
	plan_clear(&p);
}

static void
raise_term(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	raise(SIGTERM);
}

static void
test_supervise_sigterm_is_forwarded_to_the_child(void **state)
{
	struct event_base	*base;
	struct event		*timer;
	struct timeval		 tv = { 0, 300 * 1000 };
	struct plan		 p;
	struct errbuf		 e;
	char			*argv[] = { "sleep", "10", NULL };
	int			 dummy;

	(void)state;
	skip_without_landlock();
	base = event_base_new();
	assert_non_null(base);
	timer = evtimer_new(base, raise_term, NULL);
	evtimer_add(timer, &tv);
	sys_plan(&p);
	shutdown_calls = 0;
	assert_int_equal(sandbox_supervise_run(&p, base,
	    (struct proxy *)&dummy, argv, env_path, &e), 128 + SIGTERM);
	assert_int_equal(shutdown_calls, 1);
	plan_clear(&p);
	event_free(timer);
	event_base_free(base);
}

/* Nest Landlock domains to the kernel's limit (16). */
static int
fill_landlock_layers(void)
{
	uint64_t	attr[1] = { 1ULL << 9 };	/* MAKE_SOCK */
	int		i, fd;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		return -1;
	for (i = 0; i < 16; i++) {
		fd = (int)syscall(444, attr, sizeof(attr), 0);
		if (fd == -1)
			return -1;
		if (syscall(446, fd, 0) == -1)
			return i == 0 ? -1 : 0;
		close(fd);
	}
	return 0;
}

static void
test_supervise_landlock_failure_comes_through_error_pipe(void **state)
{
	struct plan	 p;
	struct errbuf	 e;
	char		*argv[] = { "true", NULL };
	pid_t		 pid;
	int		 status, rc;

	(void)state;
	skip_without_landlock();
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		/* Here no child can stack another domain: E2BIG. */
		if (fill_landlock_layers() == -1)
			_exit(90);
		sys_plan(&p);
		rc = run(&p, argv, &e);
		if (rc != 126)
			_exit(91);
		if (strcmp(errbuf_msg(&e), "cannot apply Landlock: "
		    "landlock_restrict_self: Argument list too long (already "
		    "inside 16 nested Landlock sandboxes)") != 0) {
			fprintf(stderr, "got: %s\n", errbuf_msg(&e));
			_exit(92);
		}
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void
test_supervise_no_command_is_an_error(void **state)
{
	struct plan	 p;
	struct errbuf	 e;
	char		*argv[] = { NULL };

	(void)state;
	sys_plan(&p);
	assert_int_equal(run(&p, argv, &e), -1);
	assert_string_equal(errbuf_msg(&e), "no command to run");
	plan_clear(&p);
}

/*
 * The grants' descriptors (the Landlock rules' objects, opened when the
 * plan was built) are closed once the child runs, and the plan says so.
 */
static void
test_supervise_grant_descriptors_are_closed_once_the_child_runs(
    void **state)
{
	struct plan	 p;
	struct errbuf	 e;
	char		*argv[] = { "sh", "-c", "exit 0", NULL };
	int		 fd;

	(void)state;
	skip_without_landlock();
	sys_plan(&p);
	fd = open("/usr", O_PATH | O_CLOEXEC);
	assert_true(fd > 2);
	p.grants[0].has_fd = true;
	p.grants[0].fd = fd;
	p.grants[0].mode = S_IFDIR | 0755;
	assert_int_equal(run(&p, argv, &e), 0);
	assert_false(p.grants[0].has_fd);
	assert_int_equal(fcntl(fd, F_GETFD), -1);
	assert_int_equal(errno, EBADF);
	plan_clear(&p);
}

/* The last capability, asked of prctl, is the one procfs names. */
static void
test_supervise_last_cap_is_the_kernels(void **state)
{
	char	buf[16];
	FILE	*f;

	(void)state;
	f = fopen("/proc/sys/kernel/cap_last_cap", "r");
	if (f == NULL)
		skip();
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_int_equal(sandbox_supervise_last_cap(), atoi(buf));
}

/* What take_listener saw: the fd and whether it was a seccomp listener. */
static int	taken = -1;
static bool	taken_is_listener;

static int
take_listener(int fd, void *arg, struct errbuf *e)
{
	char	path[64], target[128];
	ssize_t	n;

	(void)arg;
	(void)e;
	taken = fd;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, target, sizeof(target) - 1);
	target[n > 0 ? n : 0] = '\0';
	taken_is_listener = strstr(target, "seccomp") != NULL;
	return 0;
}

/*
 * The child makes its seccomp listener in the descriptor table it shares
 * with the supervisor until then (CLONE_FILES): the supervisor gets the
 * listener, and the program the child runs has no descriptor of it (it
 * could answer its own trapped calls with one).
 */
static void
test_supervise_listener_reaches_the_supervisor_not_the_child(void **state)
{
	struct plan	 p;
	struct errbuf	 e = { 0 };
	char		*argv[] = { "sh", "-c", "for f in /proc/self/fd/*; do "
			    "case $(readlink $f) in *seccomp*) exit 3;; esac; "
			    "done; exit 0", NULL };
	int		 rc;

	(void)state;
	skip_without_landlock();
	if (!sandbox_seccomp_notify_available(NULL))
		skip();
	sys_plan(&p);
	taken = -1;
	rc = sandbox_supervise_run_mediated(&p, NULL, NULL, take_listener,
	    NULL, argv, env_path, &e);
	plan_clear(&p);
	assert_int_equal(rc, 0);
	assert_true(taken > 2);
	assert_true(taken_is_listener);
	/* Close-on-exec, like every descriptor the supervisor keeps. */
	assert_int_equal(fcntl(taken, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	close(taken);
}

/* ---- mediator mode (issue 6: refuse proxy mode without a mediator) ---- */

static void
mode_plan(struct plan *p, enum net_mode mode, bool degraded)
{
	memset(p, 0, sizeof(*p));
	p->mode = mode;
	p->allow_degraded_network = degraded;
	p->allow.v = xcalloc(2, sizeof(*p->allow.v));
	p->allow.v[0].host = xstrdup("db.test");
	p->allow.v[0].port = 5432;
	p->allow.v[0].direct = true;
	p->allow.v[0].source = xstrdup("db.test:5432");
	p->allow.v[1].host = xstrdup("api.test");
	p->allow.v[1].source = xstrdup("api.test");
	p->allow.n = 2;
}

static void
test_supervise_mediator_used_when_given(void **state)
{
	struct plan		 p, lp;
	const struct plan	*llp;
	struct allow_entry	*av;
	struct errbuf		 e = { 0 };
	bool			 mediate;

	(void)state;
	mode_plan(&p, NET_PROXY, false);
	assert_int_equal(sandbox_supervise_mediator_mode(&p, true, NULL,
	    &mediate, &lp, &av, &llp, &e), 0);
	assert_true(mediate);
	assert_ptr_equal(llp, &p);
	assert_null(av);
	policy_allowlist_free(&p.allow);
}

static void
test_supervise_allow_mode_mediates_for_unix_sockets(void **state)
{
	struct plan		 p, lp;
	const struct plan	*llp;
	struct allow_entry	*av;
	struct errbuf		 e = { 0 };
	bool			 mediate = false;

	(void)state;
	mode_plan(&p, NET_ALLOW, false);
	assert_int_equal(sandbox_supervise_mediator_mode(&p, true, NULL,
	    &mediate, &lp, &av, &llp, &e), 0);
	assert_true(mediate);
	/* A kernel that cannot: allow mode still runs, with a warning. */
	assert_int_equal(sandbox_supervise_mediator_mode(&p, false,
	    "no pidfd_getfd", &mediate, &lp, &av, &llp, &e), 0);
	assert_false(mediate);
	policy_allowlist_free(&p.allow);
}

static void
test_supervise_proxy_mode_without_mediator_is_refused(void **state)
{
	struct plan		 p, lp;
	const struct plan	*llp;
	struct allow_entry	*av;
	struct errbuf		 e = { 0 };
	bool			 mediate;

	(void)state;
	mode_plan(&p, NET_PROXY, false);
	assert_int_equal(sandbox_supervise_mediator_mode(&p, false,
	    "no pidfd_getfd", &mediate, &lp, &av, &llp, &e), -1);
	assert_non_null(strstr(errbuf_msg(&e), "needs the connect mediator"));
	assert_non_null(strstr(errbuf_msg(&e), "no pidfd_getfd"));
	assert_non_null(strstr(errbuf_msg(&e), "--allow-degraded-network"));
	policy_allowlist_free(&p.allow);
}

static void
test_supervise_degraded_network_drops_direct_grants(void **state)
{
	struct plan		 p, lp;
	const struct plan	*llp;
	struct allow_entry	*av;
	struct errbuf		 e = { 0 };
	bool			 mediate = true;

	(void)state;
	mode_plan(&p, NET_PROXY, true);
	assert_int_equal(sandbox_supervise_mediator_mode(&p, false,
	    "no seccomp user notification", &mediate, &lp, &av, &llp, &e), 0);
	assert_false(mediate);
	assert_ptr_equal(llp, &lp);
	assert_int_equal(llp->allow.n, 2);
	assert_false(llp->allow.v[0].direct);	/* no port-only hole */
	assert_true(p.allow.v[0].direct);	/* the plan is untouched */
	free(av);
	policy_allowlist_free(&p.allow);
}

static void
test_supervise_blocked_mode_without_mediator_keeps_landlock(void **state)
{
	struct plan		 p, lp;
	const struct plan	*llp;
	struct allow_entry	*av;
	struct errbuf		 e = { 0 };
	bool			 mediate = true;

	(void)state;
	mode_plan(&p, NET_BLOCKED, false);
	assert_int_equal(sandbox_supervise_mediator_mode(&p, false,
	    "no pidfd_getfd", &mediate, &lp, &av, &llp, &e), 0);
	assert_false(mediate);
	assert_ptr_equal(llp, &p);
	policy_allowlist_free(&p.allow);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_supervise_mediator_used_when_given),
		cmocka_unit_test(
		    test_supervise_ignored_signals_stay_ignored_in_the_child),
		cmocka_unit_test(
		    test_supervise_without_clone3_falls_back_to_clone),
		cmocka_unit_test(
		    test_supervise_allow_mode_mediates_for_unix_sockets),
		cmocka_unit_test(
		    test_supervise_proxy_mode_without_mediator_is_refused),
		cmocka_unit_test(
		    test_supervise_degraded_network_drops_direct_grants),
		cmocka_unit_test(
		    test_supervise_blocked_mode_without_mediator_keeps_landlock),
		cmocka_unit_test(test_supervise_exit_status_is_passed_on),
		cmocka_unit_test(test_supervise_child_exit_is_seen_with_sigchld_blocked),
		cmocka_unit_test(test_supervise_death_by_signal_is_128_plus_n),
		cmocka_unit_test(test_supervise_missing_command_is_127),
		cmocka_unit_test(test_supervise_missing_path_is_127),
		cmocka_unit_test(test_supervise_unexecutable_file_is_126),
		cmocka_unit_test(test_supervise_exec_outside_grants_is_126),
		cmocka_unit_test(test_supervise_bad_workdir_is_126),
		cmocka_unit_test(test_supervise_child_starts_in_workdir),
		cmocka_unit_test(
		    test_supervise_capabilities_are_all_zero_in_the_child),
		cmocka_unit_test(test_supervise_inherited_fds_are_closed),
		cmocka_unit_test(
		    test_supervise_listener_reaches_the_supervisor_not_the_child),
		cmocka_unit_test(test_supervise_last_cap_is_the_kernels),
		cmocka_unit_test(
		    test_supervise_grant_descriptors_are_closed_once_the_child_runs),
		cmocka_unit_test(test_supervise_envp_is_the_childs_environment),
		cmocka_unit_test(
		    test_supervise_sigterm_is_forwarded_to_the_child),
		cmocka_unit_test(
		    test_supervise_landlock_failure_comes_through_error_pipe),
		cmocka_unit_test(test_supervise_no_command_is_an_error),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
