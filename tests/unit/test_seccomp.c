#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "policy/plan.h"
#include "sandbox/seccomp.h"
#include "sandbox/seccomp_gen.h"

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP	262
#endif
#ifndef TIOCLINUX
#define TIOCLINUX	0x541C
#endif

enum op {
	OP_SOCKET,		/* a = family, b = type, c = protocol */
	OP_TIOCSTI,		/* a = high bits of cmd */
	OP_TIOCLINUX,
	OP_IO_URING,
	OP_FASTOPEN_SENDTO,
	OP_FASTOPEN_SENDMSG,
	OP_SEND_PLAIN,
	OP_X32_GETPID,
	OP_KEYCTL,		/* KEYCTL_GET_KEYRING_ID of @s */
	OP_ADD_KEY,
	OP_REQUEST_KEY,
};

struct call {
	enum op		op;
	long		a, b, c;
};

static int
do_call(const struct call *cl)
{
	struct sockaddr_in	sin;
	struct msghdr		mh;
	struct iovec		iov;
	char			c = 'x', params[120];
	int			sv[2];

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(9);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	switch (cl->op) {
	case OP_SOCKET:
		if (syscall(SYS_socket, cl->a, cl->b, cl->c) == -1)
			return errno;
		return 0;
	case OP_TIOCSTI:
		if (syscall(SYS_ioctl, 0, (unsigned long)cl->a | TIOCSTI,
		    &c) == -1)
			return errno;
		return 0;
	case OP_TIOCLINUX:
		c = 0;
		if (ioctl(0, TIOCLINUX, &c) == -1)
			return errno;
		return 0;
	case OP_IO_URING:
		memset(params, 0, sizeof(params));
		if (syscall(SYS_io_uring_setup, 1, params) == -1)
			return errno;
		return 0;
	case OP_FASTOPEN_SENDTO:
		if ((sv[0] = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
		    sendto(sv[0], &c, 1, MSG_FASTOPEN,
		    (struct sockaddr *)&sin, sizeof(sin)) == -1)
			return errno;
		return 0;
	case OP_FASTOPEN_SENDMSG:
		memset(&mh, 0, sizeof(mh));
		iov.iov_base = &c;
		iov.iov_len = 1;
		mh.msg_name = &sin;
		mh.msg_namelen = sizeof(sin);
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		if ((sv[0] = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
		    sendmsg(sv[0], &mh, MSG_FASTOPEN) == -1)
			return errno;
		return 0;
	case OP_SEND_PLAIN:
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1 ||
		    sendto(sv[0], &c, 1, 0, NULL, 0) == -1)
			return errno;
		return 0;
	case OP_X32_GETPID:
		if (syscall(0x40000000L | SYS_getpid) == -1)
			return errno;
		return 0;
	case OP_KEYCTL:
		/* KEYCTL_GET_KEYRING_ID (0) of KEY_SPEC_SESSION_KEYRING (-3) */
		if (syscall(SYS_keyctl, 0L, -3L, 0L) == -1)
			return errno;
		return 0;
	case OP_ADD_KEY:
		/* KEY_SPEC_PROCESS_KEYRING (-2): gone with this process */
		if (syscall(SYS_add_key, "user", "kh-unit", "v", 1L,
		    -2L) == -1)
			return errno;
		return 0;
	case OP_REQUEST_KEY:
		if (syscall(SYS_request_key, "user", "kh-unit-none", NULL,
		    0L) == -1)
			return errno;
		return 0;
	}
	return 255;
}

/*
 * Build the filter for mode here, load it in a forked child, make the call
 * there.  Returns the child's wait status; exit code = errno (0: allowed).
 */
static int
filtered_status(enum net_mode mode, struct call cl)
{
	struct seccomp_prog	*prog;
	struct plan		 p;
	struct errbuf		 e;
	pid_t			 pid;
	int			 status;

	memset(&p, 0, sizeof(p));
	p.mode = mode;
	if (sandbox_seccomp_build(&p, &prog, &e) == -1)
		fail_msg("build: %s", errbuf_msg(&e));
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1 ||
		    sandbox_seccomp_load(prog) < 0)
			_exit(200);
		_exit(do_call(&cl));
	}
	sandbox_seccomp_free(prog);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static int
filtered(enum net_mode mode, struct call cl)
{
	int	status = filtered_status(mode, cl);

	assert_true(WIFEXITED(status));
	assert_int_not_equal(WEXITSTATUS(status), 200);
	return WEXITSTATUS(status);
}

static struct call
sock(long family, long type, long proto)
{
	struct call	cl = { OP_SOCKET, family, type, proto };

	return cl;
}

static struct call
op(enum op o, long a)
{
	struct call	cl = { o, a, 0, 0 };

	return cl;
}

static void
test_seccomp_udp_socket_is_eacces_when_restricted(void **state)
{
	(void)state;
	assert_int_equal(filtered(NET_BLOCKED, sock(AF_INET, SOCK_DGRAM, 0)),
	    EACCES);
	assert_int_equal(filtered(NET_PROXY, sock(AF_INET6, SOCK_DGRAM, 0)),
	    EACCES);
	assert_int_equal(filtered(NET_PROXY,
	    sock(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)), EACCES);
	assert_int_equal(filtered(NET_PROXY, sock(AF_INET, SOCK_RAW,
	    IPPROTO_ICMP)), EACCES);
}

static void
test_seccomp_tcp_socket_is_allowed_when_restricted(void **state)
{
	(void)state;
	assert_int_equal(filtered(NET_PROXY, sock(AF_INET, SOCK_STREAM, 0)),
	    0);
	assert_int_equal(filtered(NET_PROXY, sock(AF_INET6,
	    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP)), 0);
	assert_int_equal(filtered(NET_BLOCKED, sock(AF_UNIX, SOCK_DGRAM, 0)),
	    0);
	assert_int_equal(filtered(NET_BLOCKED, sock(AF_NETLINK, SOCK_RAW, 0)),
	    0);
	assert_int_equal(filtered(NET_PROXY, op(OP_SEND_PLAIN, 0)), 0);
}

static void
test_seccomp_mptcp_and_sctp_sockets_are_eacces(void **state)
{
	(void)state;
	assert_int_equal(filtered(NET_PROXY, sock(AF_INET, SOCK_STREAM,
	    IPPROTO_MPTCP)), EACCES);
	assert_int_equal(filtered(NET_BLOCKED, sock(AF_INET6, SOCK_STREAM,
	    IPPROTO_MPTCP)), EACCES);
	assert_int_equal(filtered(NET_PROXY, sock(AF_INET, SOCK_STREAM,
	    IPPROTO_SCTP)), EACCES);
	assert_int_equal(filtered(NET_PROXY, sock(AF_INET, SOCK_SEQPACKET,
	    IPPROTO_SCTP)), EACCES);
	assert_int_equal(filtered(NET_PROXY, sock(AF_INET, SOCK_STREAM, 1)),
	    EACCES);
}

static void
test_seccomp_high_argument_bits_do_not_bypass(void **state)
{
	(void)state;
	/* The kernel reads ints as their low 32 bits. */
	assert_int_equal(filtered(NET_PROXY, sock((1L << 32) | AF_INET,
	    SOCK_DGRAM, 0)), EACCES);
	assert_int_equal(filtered(NET_PROXY, sock(AF_INET, SOCK_STREAM,
	    (1L << 32) | IPPROTO_MPTCP)), EACCES);
	assert_int_equal(filtered(NET_PROXY, sock((1L << 32) | AF_PACKET,
	    SOCK_RAW, 0)), EACCES);
	assert_int_equal(filtered(NET_ALLOW, op(OP_TIOCSTI, 1L << 32)),
	    EACCES);
}

static void
test_seccomp_packet_and_other_families_are_eacces(void **state)
{
	(void)state;
	assert_int_equal(filtered(NET_BLOCKED, sock(AF_PACKET, SOCK_RAW, 0)),
	    EACCES);
	assert_int_equal(filtered(NET_PROXY, sock(AF_VSOCK, SOCK_STREAM, 0)),
	    EACCES);
	assert_int_equal(filtered(NET_PROXY, sock(43 /* AF_SMC */,
	    SOCK_STREAM, 0)), EACCES);
}

static void
test_seccomp_allow_mode_leaves_sockets_alone(void **state)
{
	(void)state;
	assert_int_equal(filtered(NET_ALLOW, sock(AF_INET, SOCK_DGRAM, 0)), 0);
}

static void
test_seccomp_tiocsti_is_eacces_in_every_mode(void **state)
{
	(void)state;
	/* Unfiltered, fd 0 of a test is no tty: ENOTTY or EBADF, not EACCES */
	assert_int_equal(filtered(NET_ALLOW, op(OP_TIOCSTI, 0)), EACCES);
	assert_int_equal(filtered(NET_PROXY, op(OP_TIOCSTI, 0)), EACCES);
	assert_int_equal(filtered(NET_BLOCKED, op(OP_TIOCLINUX, 0)), EACCES);
}

/* SPEC 3.2: the kernel keyrings are out of reach in every mode. */
static void
test_seccomp_key_calls_are_eacces_in_every_mode(void **state)
{
	static const enum net_mode	modes[] = { NET_ALLOW, NET_BLOCKED,
	    NET_PROXY };
	size_t				i;

	(void)state;
	/*
	 * Control: unfiltered, reading the session keyring's id works (or a
	 * container's own filter says EPERM): EACCES below is ours.
	 */
	assert_int_not_equal(do_call(&(struct call){ OP_KEYCTL, 0, 0, 0 }),
	    EACCES);
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		assert_int_equal(filtered(modes[i], op(OP_KEYCTL, 0)), EACCES);
		assert_int_equal(filtered(modes[i], op(OP_ADD_KEY, 0)),
		    EACCES);
		assert_int_equal(filtered(modes[i], op(OP_REQUEST_KEY, 0)),
		    EACCES);
	}
}

static void
test_seccomp_io_uring_is_enosys_when_restricted(void **state)
{
	(void)state;
	assert_int_equal(filtered(NET_PROXY, op(OP_IO_URING, 0)), ENOSYS);
	assert_int_equal(filtered(NET_BLOCKED, op(OP_IO_URING, 0)), ENOSYS);
}

static void
test_seccomp_msg_fastopen_is_eacces(void **state)
{
	(void)state;
	assert_int_equal(filtered(NET_PROXY, op(OP_FASTOPEN_SENDTO, 0)),
	    EACCES);
	assert_int_equal(filtered(NET_BLOCKED, op(OP_FASTOPEN_SENDMSG, 0)),
	    EACCES);
}

static void
test_seccomp_x32_syscall_kills_the_process(void **state)
{
	int	status;

	(void)state;
#if defined(__x86_64__)
	status = filtered_status(NET_ALLOW, op(OP_X32_GETPID, 0));
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGSYS);
#else
	(void)status;
	skip();
#endif
}

static void
test_seccomp_filter_fits_the_kernel_limit(void **state)
{
	struct seccomp_prog	*prog;
	struct plan		 p;
	struct errbuf		 e;

	(void)state;
	memset(&p, 0, sizeof(p));
	p.mode = NET_PROXY;
	assert_int_equal(sandbox_seccomp_build(&p, &prog, &e), 0);
	assert_true(sandbox_seccomp_len(prog) > 10);
	assert_true(sandbox_seccomp_len(prog) < 4096);
	sandbox_seccomp_free(prog);
}

/*
 * The programs compiled at build time (build/gen/seccomp_builtin.c) are
 * exactly what libseccomp makes now from the rules, for every network
 * mode, mediated or not, DNS trap or not.
 */
static void
test_seccomp_builtin_programs_are_what_libseccomp_compiles(void **state)
{
	static const enum net_mode	modes[] = { NET_ALLOW, NET_BLOCKED,
					    NET_PROXY };
	const struct sock_filter	*insns;
	struct sock_filter		*want;
	struct seccomp_variant		 v;
	struct seccomp_prog		*prog;
	struct plan			 p;
	struct errbuf			 e;
	size_t				 m, n, nwant;
	int				 dns, med;

	(void)state;
	for (m = 0; m < sizeof(modes) / sizeof(modes[0]); m++)
	for (dns = 0; dns <= 1; dns++)
	for (med = 0; med <= 1; med++) {
		memset(&p, 0, sizeof(p));
		p.mode = modes[m];
		p.dns_trap = dns;
		if ((med ? sandbox_seccomp_build_mediated(&p, &prog, &e) :
		    sandbox_seccomp_build(&p, &prog, &e)) == -1)
			fail_msg("build: %s", errbuf_msg(&e));
		memset(&v, 0, sizeof(v));
		v.restricted = modes[m] != NET_ALLOW;
		v.mediated = med;
		v.dns = v.restricted && v.mediated && dns;
		if (sandbox_seccomp_compile(&v, &want, &nwant, &e) == -1)
			fail_msg("libseccomp: %s", errbuf_msg(&e));
		insns = sandbox_seccomp_insns(prog, &n);
		assert_int_equal(n, nwant);
		assert_memory_equal(insns, want, n * sizeof(*want));
		free(want);
		sandbox_seccomp_free(prog);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_seccomp_udp_socket_is_eacces_when_restricted),
		cmocka_unit_test(
		    test_seccomp_tcp_socket_is_allowed_when_restricted),
		cmocka_unit_test(
		    test_seccomp_mptcp_and_sctp_sockets_are_eacces),
		cmocka_unit_test(test_seccomp_high_argument_bits_do_not_bypass),
		cmocka_unit_test(
		    test_seccomp_packet_and_other_families_are_eacces),
		cmocka_unit_test(test_seccomp_allow_mode_leaves_sockets_alone),
		cmocka_unit_test(test_seccomp_tiocsti_is_eacces_in_every_mode),
		cmocka_unit_test(
		    test_seccomp_key_calls_are_eacces_in_every_mode),
		cmocka_unit_test(
		    test_seccomp_io_uring_is_enosys_when_restricted),
		cmocka_unit_test(test_seccomp_msg_fastopen_is_eacces),
		cmocka_unit_test(test_seccomp_x32_syscall_kills_the_process),
		cmocka_unit_test(test_seccomp_filter_fits_the_kernel_limit),
		cmocka_unit_test(
		    test_seccomp_builtin_programs_are_what_libseccomp_compiles),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
