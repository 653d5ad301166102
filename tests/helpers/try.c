/*
 * try: attempt ONE operation named on the command line and exit 0 on
 * success, or with the errno number after printing "errno=N (NAME)" on
 * stdout (STYLE §10, bubblewrap's try-syscall style).  Run inside the
 * sandbox by the tests.
 *
 *   try read PATH | write PATH | list DIR
 *   try connect HOST PORT | bind PORT | udp HOST PORT | fastopen HOST PORT
 *   try mmsg unix PATH | mmsg udp HOST PORT   (sendmmsg of two datagrams;
 *                                     fails with EIO when not both went)
 *   try mmsg udpc HOST PORT   (connect, then sendmmsg of "aA", "bbB",
 *                             "ccc" without names, two iovecs each;
 *                             EIO when a count or msg_len is wrong)
 *   try socket FAMILY TYPE [PROTO]   (inet inet6 unix packet netlink N;
 *                                     stream dgram raw seqpacket N;
 *                                     tcp udp mptcp sctp N)
 *   try tiocsti [high] | tioclinux | io_uring | x32
 *   try env NAME | caps | read-proc-environ PID
 */
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/syscall.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP	262
#endif
#ifndef TIOCLINUX
#define TIOCLINUX	0x541C
#endif
#ifndef MSG_FASTOPEN
#define MSG_FASTOPEN	0x20000000
#endif

static int
fail(void)
{
	int	err = errno;
	const char *name = strerrorname_np(err);

	printf("errno=%d (%s)\n", err, name != NULL ? name : "?");
	fflush(stdout);
	return err != 0 ? err : 255;
}

static int
usage(void)
{
	fprintf(stderr, "usage: try OPERATION [ARGS...]\n");
	return 254;
}

static long
num(const char *s)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 0);
	if (errno != 0 || *end != '\0' || end == s) {
		fprintf(stderr, "try: bad number %s\n", s);
		exit(254);
	}
	return v;
}

/* Fill ss from HOST PORT (IPv4 or IPv6 literal). */
static socklen_t
addr(const char *host, const char *port, struct sockaddr_storage *ss)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)num(port));
		return sizeof(*sin);
	}
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)num(port));
		return sizeof(*sin6);
	}
	fprintf(stderr, "try: bad address %s\n", host);
	exit(254);
}

static int
word(const char *s, const char *const names[], const int values[])
{
	size_t	i;

	for (i = 0; names[i] != NULL; i++)
		if (strcmp(s, names[i]) == 0)
			return values[i];
	return (int)num(s);
}

static int
try_socket(int argc, char **argv)
{
	static const char *const fam_n[] = { "inet", "inet6", "unix",
	    "packet", "netlink", NULL };
	static const int fam_v[] = { AF_INET, AF_INET6, AF_UNIX, AF_PACKET,
	    AF_NETLINK };
	static const char *const type_n[] = { "stream", "dgram", "raw",
	    "seqpacket", NULL };
	static const int type_v[] = { SOCK_STREAM, SOCK_DGRAM, SOCK_RAW,
	    SOCK_SEQPACKET };
	static const char *const proto_n[] = { "tcp", "udp", "mptcp", "sctp",
	    "icmp", NULL };
	static const int proto_v[] = { IPPROTO_TCP, IPPROTO_UDP,
	    IPPROTO_MPTCP, IPPROTO_SCTP, IPPROTO_ICMP };
	int	proto = 0;

	if (argc < 4)
		return usage();
	if (argc > 4)
		proto = word(argv[4], proto_n, proto_v);
	if (socket(word(argv[2], fam_n, fam_v), word(argv[3], type_n, type_v),
	    proto) == -1)
		return fail();
	return 0;
}

static int
try_caps(void)
{
	char	line[256];
	FILE	*f;
	int	bad = 0;

	if ((f = fopen("/proc/self/status", "r")) == NULL)
		return fail();
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "Cap", 3) != 0)
			continue;
		fputs(line, stdout);
		if (strstr(line, "0000000000000000") == NULL)
			bad = 1;
	}
	fclose(f);
	return bad;
}

static int
try_cat(const char *path)
{
	char	buf[4096];
	ssize_t	n;
	int	fd;

	if ((fd = open(path, O_RDONLY)) == -1)
		return fail();
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, (size_t)n, stdout);
	if (n == -1)
		return fail();
	return 0;
}

/* sendmmsg() of three datagrams, no names, on a connected UDP socket. */
static int
try_mmsg_connected(char **argv)
{
	static char		*parts[3][2] = { { "a", "A" }, { "bb", "B" },
				    { "ccc", "" } };
	struct sockaddr_storage	 ss;
	struct mmsghdr		 mm[3];
	struct iovec		 iov[3][2];
	socklen_t		 len;
	int			 fd, i, j, n;

	len = addr(argv[3], argv[4], &ss);
	if ((fd = socket(ss.ss_family, SOCK_DGRAM, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&ss, len) == -1)
		return fail();
	memset(mm, 0, sizeof(mm));
	for (i = 0; i < 3; i++) {
		for (j = 0; j < 2; j++) {
			iov[i][j].iov_base = parts[i][j];
			iov[i][j].iov_len = strlen(parts[i][j]);
		}
		mm[i].msg_hdr.msg_iov = iov[i];
		mm[i].msg_hdr.msg_iovlen = 2;
	}
	if ((n = sendmmsg(fd, mm, 3, 0)) == -1)
		return fail();
	if (n != 3 || mm[0].msg_len != 2 || mm[1].msg_len != 3 ||
	    mm[2].msg_len != 3) {
		errno = EIO;
		return fail();
	}
	return 0;
}

/* sendmmsg() of two datagrams to a unix path or a UDP address. */
static int
try_mmsg(int argc, char **argv)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_un	*sun = (struct sockaddr_un *)&ss;
	struct mmsghdr		 mm[2];
	struct iovec		 iov[2];
	socklen_t		 len;
	char			 a = 'a', b = 'b';
	int			 fd, i, n;

	memset(&ss, 0, sizeof(ss));
	if (strcmp(argv[2], "udpc") == 0 && argc == 5)
		return try_mmsg_connected(argv);
	if (strcmp(argv[2], "unix") == 0 && argc == 4) {
		sun->sun_family = AF_UNIX;
		snprintf(sun->sun_path, sizeof(sun->sun_path), "%s", argv[3]);
		len = sizeof(*sun);
	} else if (strcmp(argv[2], "udp") == 0 && argc == 5)
		len = addr(argv[3], argv[4], &ss);
	else
		return usage();
	if ((fd = socket(ss.ss_family, SOCK_DGRAM, 0)) == -1)
		return fail();
	memset(mm, 0, sizeof(mm));
	iov[0].iov_base = &a;
	iov[1].iov_base = &b;
	for (i = 0; i < 2; i++) {
		iov[i].iov_len = 1;
		mm[i].msg_hdr.msg_name = &ss;
		mm[i].msg_hdr.msg_namelen = len;
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	if ((n = sendmmsg(fd, mm, 2, 0)) == -1)
		return fail();
	if (n != 2 || mm[0].msg_len != 1 || mm[1].msg_len != 1) {
		errno = EIO;
		return fail();
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	const char		*op, *v;
	char			 c = 'x';
	char			 path[64];
	int			 fd;

	if (argc < 2)
		return usage();
	op = argv[1];
	if (strcmp(op, "read") == 0 && argc == 3) {
		if ((fd = open(argv[2], O_RDONLY)) == -1 ||
		    read(fd, &c, 1) == -1)
			return fail();
		return 0;
	}
	if (strcmp(op, "write") == 0 && argc == 3) {
		if ((fd = open(argv[2], O_WRONLY | O_CREAT | O_APPEND,
		    0644)) == -1 || write(fd, &c, 1) == -1)
			return fail();
		return 0;
	}
	if (strcmp(op, "list") == 0 && argc == 3)
		return opendir(argv[2]) == NULL ? fail() : 0;
	if (strcmp(op, "connect") == 0 && argc == 4) {
		len = addr(argv[2], argv[3], &ss);
		if ((fd = socket(ss.ss_family, SOCK_STREAM, 0)) == -1 ||
		    connect(fd, (struct sockaddr *)&ss, len) == -1)
			return fail();
		return 0;
	}
	if (strcmp(op, "bind") == 0 && argc == 3) {
		len = addr("127.0.0.1", argv[2], &ss);
		if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
		    bind(fd, (struct sockaddr *)&ss, len) == -1)
			return fail();
		return 0;
	}
	if (strcmp(op, "udp") == 0 && argc == 4) {
		len = addr(argv[2], argv[3], &ss);
		if ((fd = socket(ss.ss_family, SOCK_DGRAM, 0)) == -1 ||
		    sendto(fd, &c, 1, 0, (struct sockaddr *)&ss, len) == -1)
			return fail();
		return 0;
	}
	if (strcmp(op, "mmsg") == 0 && (argc == 4 || argc == 5))
		return try_mmsg(argc, argv);
	if (strcmp(op, "fastopen") == 0 && argc == 4) {
		len = addr(argv[2], argv[3], &ss);
		if ((fd = socket(ss.ss_family, SOCK_STREAM, 0)) == -1 ||
		    sendto(fd, &c, 1, MSG_FASTOPEN, (struct sockaddr *)&ss,
		    len) == -1)
			return fail();
		return 0;
	}
	if (strcmp(op, "socket") == 0)
		return try_socket(argc, argv);
	if (strcmp(op, "tiocsti") == 0) {
		unsigned long cmd = TIOCSTI;

		/* The kernel truncates cmd: high bits must not bypass. */
		if (argc == 3 && strcmp(argv[2], "high") == 0)
			cmd |= 0x100000000UL;
		if (syscall(SYS_ioctl, 0, cmd, &c) == -1)
			return fail();
		return 0;
	}
	if (strcmp(op, "tioclinux") == 0) {
		char	sub = 0;

		if (ioctl(0, TIOCLINUX, &sub) == -1)
			return fail();
		return 0;
	}
	if (strcmp(op, "io_uring") == 0) {
		char	params[120];

		memset(params, 0, sizeof(params));
		if ((fd = (int)syscall(SYS_io_uring_setup, 1, params)) == -1)
			return fail();
		return 0;
	}
	if (strcmp(op, "x32") == 0) {
		if (syscall(0x40000000L | SYS_getpid) == -1)
			return fail();
		return 0;
	}
	if (strcmp(op, "env") == 0 && argc == 3) {
		if ((v = getenv(argv[2])) == NULL) {
			errno = ENOENT;
			return fail();
		}
		printf("%s\n", v);
		return 0;
	}
	if (strcmp(op, "caps") == 0)
		return try_caps();
	if (strcmp(op, "read-proc-environ") == 0 && argc == 3) {
		snprintf(path, sizeof(path), "/proc/%ld/environ", num(argv[2]));
		return try_cat(path);
	}
	return usage();
}
