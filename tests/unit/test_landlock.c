#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "policy/grants.h"
#include "policy/plan.h"
#include "sandbox/landlock.h"
#include "util/ports.h"
#include "util/xmalloc.h"

enum op {
	OP_READ,
	OP_WRITE,
	OP_CREATE,
	OP_CONNECT,
	OP_BIND,
};

static char	tmpdir[64];

static void
skip_without_landlock(void)
{
	if (sandbox_landlock_abi() == 0) {
		fprintf(stderr, "Landlock is not available: skipped\n");
		skip();
	}
}

static char *
tpath(const char *rel)
{
	return xasprintf("%s/%s", tmpdir, rel);
}

static void
make_file(const char *rel)
{
	char	*p = tpath(rel);
	int	 fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "hello", 5), 5);
	close(fd);
	free(p);
}

/* A directory at rel (mode), its full path returned (owned). */
static char *
make_dir(const char *rel, mode_t mode)
{
	char	*p = tpath(rel);

	assert_int_equal(mkdir(p, mode), 0);
	return p;
}

/* How many path rules the plan's ruleset is made of. */
static size_t
path_rules(const struct plan *p)
{
	struct landlock_spec	*s;
	struct errbuf		 e;
	size_t			 n;

	errbuf_clear(&e);
	if (sandbox_landlock_prepare(p, 0, &s, &e) == -1)
		fail_msg("prepare: %s", errbuf_msg(&e));
	n = sandbox_landlock_spec_npaths(s);
	sandbox_landlock_spec_free(s);
	return n;
}

static int
setup(void **state)
{
	char	*p;

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/kh-landlock-XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	p = tpath("ro");
	mkdir(p, 0755);
	free(p);
	p = tpath("rw");
	mkdir(p, 0755);
	free(p);
	p = tpath("wo");
	mkdir(p, 0755);
	free(p);
	p = tpath("none");
	mkdir(p, 0755);
	free(p);
	make_file("ro/f");
	make_file("rw/f");
	make_file("wo/f");
	make_file("none/f");
	make_file("file");
	make_file("sibling");
	return 0;
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

/* Do op once; 0 or errno. */
static int
do_op(enum op op, const char *path, uint16_t port)
{
	struct sockaddr_in	sin;
	char			c = 'x';
	int			fd;

	switch (op) {
	case OP_READ:
		if ((fd = open(path, O_RDONLY)) == -1 || read(fd, &c, 1) != 1)
			return errno;
		return 0;
	case OP_WRITE:
		if ((fd = open(path, O_WRONLY | O_APPEND)) == -1 ||
		    write(fd, &c, 1) != 1)
			return errno;
		return 0;
	case OP_CREATE:
		if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644)) == -1)
			return errno;
		return 0;
	case OP_CONNECT:
	case OP_BIND:
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = htons(port);
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
			return errno;
		if (op == OP_CONNECT ? connect(fd, (struct sockaddr *)&sin,
		    sizeof(sin)) : bind(fd, (struct sockaddr *)&sin,
		    sizeof(sin)))
			return errno;
		return 0;
	}
	return -1;
}

/*
 * Prepare the plan's ruleset here, apply it in a forked child, do op
 * there and return its errno (0: allowed).  200 if applying failed.
 */
static int
sandboxed(const struct plan *p, uint16_t proxy_port, enum op op,
    const char *path, uint16_t port)
{
	struct landlock_spec	*s;
	struct errbuf		 e;
	pid_t			 pid;
	int			 status, where;

	errbuf_clear(&e);
	if (sandbox_landlock_prepare(p, proxy_port, &s, &e) == -1)
		fail_msg("prepare: %s", errbuf_msg(&e));
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1 ||
		    sandbox_landlock_apply(s, &where) < 0)
			_exit(200);
		_exit(do_op(op, path, port));
	}
	sandbox_landlock_spec_free(s);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void
grant(struct plan *p, const char *rel, enum fs_access a, bool is_file)
{
	p->grants = xreallocarray(p->grants, p->ngrants + 1,
	    sizeof(*p->grants));
	memset(&p->grants[p->ngrants], 0, sizeof(p->grants[0]));
	p->grants[p->ngrants].path = rel[0] == '/' ? xstrdup(rel) : tpath(rel);
	p->grants[p->ngrants].access = a;
	p->grants[p->ngrants].is_file = is_file;
	p->ngrants++;
}

static void
plan_clear(struct plan *p)
{
	size_t	i;

	for (i = 0; i < p->ngrants; i++)
		free(p->grants[i].path);
	free(p->grants);
	ports_free(&p->open_ports);
	ports_free(&p->listen_ports);
	free(p->allow.v);
	memset(p, 0, sizeof(*p));
}

static void
fs_plan(struct plan *p)
{
	memset(p, 0, sizeof(*p));
	grant(p, "ro", FS_READ, false);
	grant(p, "rw", FS_READWRITE, false);
	grant(p, "wo", FS_WRITE, false);
	grant(p, "file", FS_READ, true);
}

static int
check(struct plan *p, enum op op, const char *rel)
{
	char	*path = tpath(rel);
	int	 rc = sandboxed(p, 0, op, path, 0);

	free(path);
	return rc;
}

static void
test_landlock_read_grant_allows_reading_only(void **state)
{
	struct plan	p;

	(void)state;
	skip_without_landlock();
	fs_plan(&p);
	assert_int_equal(check(&p, OP_READ, "ro/f"), 0);
	assert_int_equal(check(&p, OP_WRITE, "ro/f"), EACCES);
	assert_int_equal(check(&p, OP_CREATE, "ro/new"), EACCES);
	plan_clear(&p);
}

static void
test_landlock_readwrite_grant_allows_both(void **state)
{
	struct plan	p;

	(void)state;
	skip_without_landlock();
	fs_plan(&p);
	assert_int_equal(check(&p, OP_READ, "rw/f"), 0);
	assert_int_equal(check(&p, OP_WRITE, "rw/f"), 0);
	assert_int_equal(check(&p, OP_CREATE, "rw/new"), 0);
	plan_clear(&p);
}

static void
test_landlock_write_grant_does_not_allow_reading(void **state)
{
	struct plan	p;

	(void)state;
	skip_without_landlock();
	fs_plan(&p);
	assert_int_equal(check(&p, OP_WRITE, "wo/f"), 0);
	assert_int_equal(check(&p, OP_READ, "wo/f"), EACCES);
	plan_clear(&p);
}

static void
test_landlock_outside_grants_is_eacces(void **state)
{
	struct plan	p;

	(void)state;
	skip_without_landlock();
	fs_plan(&p);
	assert_int_equal(check(&p, OP_READ, "none/f"), EACCES);
	assert_int_equal(check(&p, OP_WRITE, "none/f"), EACCES);
	assert_int_equal(check(&p, OP_CREATE, "none/new"), EACCES);
	assert_int_equal(sandboxed(&p, 0, OP_READ, "/etc/passwd", 0), EACCES);
	plan_clear(&p);
}

static void
test_landlock_file_grant_covers_only_that_file(void **state)
{
	struct plan	p;

	(void)state;
	skip_without_landlock();
	fs_plan(&p);
	assert_int_equal(check(&p, OP_READ, "file"), 0);
	assert_int_equal(check(&p, OP_WRITE, "file"), EACCES);
	assert_int_equal(check(&p, OP_READ, "sibling"), EACCES);
	plan_clear(&p);
}

static void
test_landlock_write_file_grant_gets_file_rights_only(void **state)
{
	struct plan	p;

	(void)state;
	skip_without_landlock();
	memset(&p, 0, sizeof(p));
	/* Directory rights on a file would make the kernel say EINVAL. */
	grant(&p, "file", FS_READWRITE, true);
	assert_int_equal(check(&p, OP_WRITE, "file"), 0);
	assert_int_equal(check(&p, OP_READ, "file"), 0);
	plan_clear(&p);
}

static void
test_landlock_vanished_grant_is_skipped(void **state)
{
	struct plan	p;

	(void)state;
	skip_without_landlock();
	fs_plan(&p);
	grant(&p, "no-such-dir", FS_READ, false);
	assert_int_equal(check(&p, OP_READ, "ro/f"), 0);
	plan_clear(&p);
}

/*
 * A grant the plan opened when it resolved the path (fs_grant.fd) is the
 * rule's object: moved away and replaced by another directory before the
 * sandbox is built, the rule still covers what the plan checked, not
 * what the path names now.
 */
static void
test_landlock_rule_covers_what_the_plan_opened(void **state)
{
	struct plan	 p;
	char		*orig = tpath("opened"), *moved = tpath("opened-moved");
	int		 fd;

	(void)state;
	skip_without_landlock();
	assert_int_equal(mkdir(orig, 0755), 0);
	fd = open(orig, O_PATH | O_CLOEXEC);
	assert_true(fd >= 0);
	memset(&p, 0, sizeof(p));
	grant(&p, "opened", FS_READWRITE, false);
	p.grants[0].has_fd = true;
	p.grants[0].fd = fd;
	p.grants[0].mode = S_IFDIR | 0755;
	assert_int_equal(rename(orig, moved), 0);
	assert_int_equal(mkdir(orig, 0755), 0);
	assert_int_equal(check(&p, OP_CREATE, "opened-moved/new"), 0);
	assert_int_equal(check(&p, OP_CREATE, "opened/new"), EACCES);
	/* The plan still owns its descriptor. */
	assert_true(fcntl(fd, F_GETFD) != -1);
	close(fd);
	plan_clear(&p);
	free(orig);
	free(moved);
}

/*
 * A rule that rules on its ancestors cover is dropped, and what it granted
 * stays granted: ro/sub (read, under ro read) goes; rw/sub (read, under rw
 * read+write) goes; ro/w (write, under ro read only) stays, and writing
 * there works while writing elsewhere under ro does not.
 */
static void
test_landlock_rules_their_ancestors_cover_are_dropped(void **state)
{
	struct plan		 p, q;
	size_t			 n;

	(void)state;
	skip_without_landlock();
	free(make_dir("ro/sub", 0755));
	make_file("ro/sub/f");
	free(make_dir("ro/w", 0755));
	free(make_dir("rw/sub", 0755));
	memset(&p, 0, sizeof(p));
	grant(&p, "ro", FS_READ, false);
	grant(&p, "ro/sub", FS_READ, false);
	grant(&p, "rw", FS_READWRITE, false);
	grant(&p, "rw/sub", FS_READ, false);
	grant(&p, "ro/w", FS_READWRITE, false);
	/* The same without the two subs: as many rules (tty ones too). */
	memset(&q, 0, sizeof(q));
	grant(&q, "ro", FS_READ, false);
	grant(&q, "rw", FS_READWRITE, false);
	grant(&q, "ro/w", FS_READWRITE, false);
	n = path_rules(&q);
	plan_clear(&q);
	assert_true(n >= 3);
	assert_int_equal(path_rules(&p), n);
	assert_int_equal(check(&p, OP_READ, "ro/sub/f"), 0);
	assert_int_equal(check(&p, OP_CREATE, "ro/sub/g"), EACCES);
	assert_int_equal(check(&p, OP_CREATE, "ro/w/g"), 0);
	assert_int_equal(check(&p, OP_CREATE, "rw/sub/g"), 0);
	assert_int_equal(check(&p, OP_CREATE, "ro/h"), EACCES);
	plan_clear(&p);
}

/*
 * The private temporary directory keeps a rule of its own under an
 * ancestor granting as much (the child's domain then holds its inode, so
 * our rmdir does not free it on the run's time), and grants what it did.
 */
static void
test_landlock_private_tmpdir_keeps_its_rule_under_a_covering_ancestor(
    void **state)
{
	struct plan		 p;
	size_t			 n;
	char			*d;

	(void)state;
	skip_without_landlock();
	d = make_dir("rw/keyhole-t", 0700);
	memset(&p, 0, sizeof(p));
	grant(&p, "rw", FS_READWRITE, false);
	n = path_rules(&p);
	/* An ordinary grant there is folded into rw's rule ... */
	grant(&p, "rw/keyhole-t", FS_READWRITE, false);
	assert_int_equal(path_rules(&p), n);
	/* ... the private temporary directory's is not. */
	policy_grants_add_tmpdir(&p, d);
	assert_true(p.grants[p.ngrants - 1].own_rule);
	assert_int_equal(path_rules(&p), n + 1);
	assert_int_equal(check(&p, OP_CREATE, "rw/keyhole-t/f"), 0);
	assert_int_equal(check(&p, OP_CREATE, "rw/g"), 0);
	free(d);
	plan_clear(&p);
}

/* A listener on 127.0.0.1:<kernel-chosen>; returns the fd, sets *port. */
static int
listener(uint16_t *port)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);
	int			fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, 8), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

static void
skip_without_net(void)
{
	skip_without_landlock();
	if (sandbox_landlock_abi() < 4) {
		fprintf(stderr, "Landlock ABI < 4: skipped\n");
		skip();
	}
}

static void
test_landlock_blocked_mode_denies_ungranted_tcp_port(void **state)
{
	struct plan	p;
	uint16_t	open_port, other;
	int		a, b;

	(void)state;
	skip_without_net();
	a = listener(&open_port);
	b = listener(&other);
	memset(&p, 0, sizeof(p));
	p.mode = NET_BLOCKED;
	ports_add(&p.open_ports, open_port);
	assert_int_equal(sandboxed(&p, 0, OP_CONNECT, NULL, open_port), 0);
	assert_int_equal(sandboxed(&p, 0, OP_CONNECT, NULL, other), EACCES);
	close(a);
	close(b);
	plan_clear(&p);
}

static void
test_landlock_allow_mode_leaves_tcp_alone(void **state)
{
	struct plan	p;
	uint16_t	port;
	int		a;

	(void)state;
	skip_without_landlock();
	a = listener(&port);
	memset(&p, 0, sizeof(p));
	assert_int_equal(sandboxed(&p, 0, OP_CONNECT, NULL, port), 0);
	close(a);
	plan_clear(&p);
}

static void
test_landlock_proxy_mode_allows_proxy_and_direct_ports(void **state)
{
	struct plan	p;
	uint16_t	proxy, direct, other, listen_port;
	int		a, b, c;

	(void)state;
	skip_without_net();
	a = listener(&proxy);
	b = listener(&direct);
	c = listener(&other);
	memset(&p, 0, sizeof(p));
	p.mode = NET_PROXY;
	p.allow.v = xcalloc(2, sizeof(*p.allow.v));
	p.allow.n = 2;
	p.allow.v[0].host = (char *)"example.com";	/* not direct */
	p.allow.v[1].host = (char *)"127.0.0.1";
	p.allow.v[1].port = direct;
	p.allow.v[1].direct = true;
	listen_port = (uint16_t)(other == 65535 ? 65534 : other + 1);
	ports_add(&p.listen_ports, listen_port);
	assert_int_equal(sandboxed(&p, proxy, OP_CONNECT, NULL, proxy), 0);
	assert_int_equal(sandboxed(&p, proxy, OP_CONNECT, NULL, direct), 0);
	assert_int_equal(sandboxed(&p, proxy, OP_CONNECT, NULL, other),
	    EACCES);
	/* Binding: only listen ports, not the proxy port's neighbours. */
	assert_int_equal(sandboxed(&p, proxy, OP_BIND, NULL, other), EACCES);
	assert_int_not_equal(sandboxed(&p, proxy, OP_BIND, NULL, listen_port),
	    EACCES);
	close(a);
	close(b);
	close(c);
	plan_clear(&p);
}

static void
test_landlock_explain_names_the_path(void **state)
{
	struct plan		 p;
	struct landlock_spec	*s;
	struct errbuf		 e;
	char			*want;

	(void)state;
	skip_without_landlock();
	fs_plan(&p);
	assert_int_equal(sandbox_landlock_prepare(&p, 0, &s, &e), 0);
	sandbox_landlock_explain(s, 1, EBADFD, &e);
	want = xasprintf("cannot add Landlock rule for %s/rw: %s (the "
	    "filesystem may not support Landlock)", tmpdir, strerror(EBADFD));
	assert_string_equal(errbuf_msg(&e), want);
	sandbox_landlock_explain(s, LANDLOCK_AT_RESTRICT, E2BIG, &e);
	assert_non_null(strstr(errbuf_msg(&e), "16 nested"));
	free(want);
	sandbox_landlock_spec_free(s);
	plan_clear(&p);
}

static void
test_landlock_unopenable_grant_is_an_error(void **state)
{
	struct plan		 p;
	struct landlock_spec	*s;
	struct errbuf		 e;

	(void)state;
	skip_without_landlock();
	memset(&p, 0, sizeof(p));
	grant(&p, "file/below-a-file", FS_READ, false);
	assert_int_equal(sandbox_landlock_prepare(&p, 0, &s, &e), -1);
	assert_null(s);
	assert_non_null(strstr(errbuf_msg(&e),
	    "cannot open /tmp/kh-landlock-"));
	assert_non_null(strstr(errbuf_msg(&e), "for a Landlock rule: "));
	plan_clear(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_landlock_read_grant_allows_reading_only),
		cmocka_unit_test(test_landlock_readwrite_grant_allows_both),
		cmocka_unit_test(
		    test_landlock_write_grant_does_not_allow_reading),
		cmocka_unit_test(test_landlock_outside_grants_is_eacces),
		cmocka_unit_test(
		    test_landlock_file_grant_covers_only_that_file),
		cmocka_unit_test(
		    test_landlock_write_file_grant_gets_file_rights_only),
		cmocka_unit_test(test_landlock_vanished_grant_is_skipped),
		cmocka_unit_test(test_landlock_rule_covers_what_the_plan_opened),
		cmocka_unit_test(
		    test_landlock_rules_their_ancestors_cover_are_dropped),
		cmocka_unit_test(test_landlock_private_tmpdir_keeps_its_rule_under_a_covering_ancestor),
		cmocka_unit_test(
		    test_landlock_blocked_mode_denies_ungranted_tcp_port),
		cmocka_unit_test(test_landlock_allow_mode_leaves_tcp_alone),
		cmocka_unit_test(
		    test_landlock_proxy_mode_allows_proxy_and_direct_ports),
		cmocka_unit_test(test_landlock_explain_names_the_path),
		cmocka_unit_test(test_landlock_unopenable_grant_is_an_error),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
