#include "sandbox/mediator_int.h"

#include <sys/ioctl.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sandbox/dnsd.h"
#include "util/log.h"

/*
 * The child's DNS sockets (SPEC §3.1; sandbox/dnsd.h).  In proxy mode
 * socket(AF_INET/AF_INET6, SOCK_DGRAM, 0) traps here: the socket is made
 * in the answerer's private namespace and installed in the child
 * (SECCOMP_IOCTL_NOTIF_ADDFD with FLAG_SEND), so glibc's sendmmsg, Go's
 * and c-ares' connected UDP work natively and reach only the answerer.
 * A TCP connect to a nameserver on port 53 (the retry after a truncated
 * answer) replaces the child's socket with one connected in the namespace
 * (FLAG_SETFD).
 */

#ifndef SECCOMP_ADDFD_FLAG_SETFD
#define SECCOMP_ADDFD_FLAG_SETFD	(1UL << 0)
#endif
#ifndef SECCOMP_ADDFD_FLAG_SEND
#define SECCOMP_ADDFD_FLAG_SEND		(1UL << 1)
#endif

void
sandbox_mediate_socket(struct mediator *m, const struct seccomp_notif *req)
{
	struct seccomp_notif_addfd	 addfd;
	int				 family = (int)req->data.args[0];
	int				 type = (int)req->data.args[1];
	int				 proto = (int)req->data.args[2];
	int				 s, fd;

	/* The filter traps nothing else; checked again all the same. */
	if (m->dns == NULL || (family != AF_INET && family != AF_INET6) ||
	    (type & 0xf) != SOCK_DGRAM || proto != 0) {
		sandbox_mediator_answer(m, req->id, -EACCES);
		return;
	}
	if (type & ~(0xf | SOCK_NONBLOCK | SOCK_CLOEXEC)) {
		sandbox_mediator_answer(m, req->id, -EINVAL);
		return;
	}
	if ((s = sandbox_dnsd_socket(m->dns, family, type)) < 0) {
		log_warnx("DNS socket for the sandbox: %s", strerror(-s));
		sandbox_mediator_answer(m, req->id, -EACCES);
		return;
	}
	memset(&addfd, 0, sizeof(addfd));
	addfd.id = req->id;
	addfd.flags = SECCOMP_ADDFD_FLAG_SEND;
	addfd.srcfd = (uint32_t)s;
	addfd.newfd_flags = (type & SOCK_CLOEXEC) ? O_CLOEXEC : 0;
	fd = ioctl(m->listener, SECCOMP_IOCTL_NOTIF_ADDFD, &addfd);
	if (fd >= 0)
		m->answered++;
	else if (errno != ENOENT)
		sandbox_mediator_answer(m, req->id, -errno);
	close(s);
}

/* The close-on-exec flag of the child's descriptor fd (fdinfo). */
static int
dns_cloexec(pid_t tid, int fd)
{
	char		 path[64], buf[512], *p;
	int		 f;
	ssize_t		 r;
	unsigned long	 flags;

	snprintf(path, sizeof(path), "/proc/%ld/fdinfo/%d", (long)tid, fd);
	if ((f = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	r = read(f, buf, sizeof(buf) - 1);
	close(f);
	if (r <= 0)
		return 0;
	buf[r] = '\0';
	if ((p = strstr(buf, "flags:")) == NULL)
		return 0;
	flags = strtoul(p + 6, NULL, 8);
	return (flags & O_CLOEXEC) ? O_CLOEXEC : 0;
}

bool
sandbox_mediate_dns_connect(struct med_op *op, int fd,
    const struct sockaddr_storage *n, uint16_t port)
{
	struct mediator			*m = op->m;
	struct seccomp_notif_addfd	 addfd;
	int				 sfd, s, type, fl, rc;
	socklen_t			 sl = sizeof(type);

	if (m->dns == NULL)
		return false;
	if (!sandbox_dnsd_is_server(m->dns, n, port)) {
		/* A UDP socket of ours may connect anywhere in its netns. */
		sfd = sandbox_mediator_getfd(m, op->tid, op->id, fd);
		if (sfd < 0)
			return false;
		type = 0;
		(void)getsockopt(sfd, SOL_SOCKET, SO_TYPE, &type, &sl);
		close(sfd);
		if (type != SOCK_DGRAM)
			return false;
		op->verdict = MEDIATOR_DNS;
		sandbox_mediate_connect_start(op, fd, "dns", port);
		return true;
	}
	sfd = sandbox_mediator_getfd(m, op->tid, op->id, fd);
	if (sfd < 0)
		return false;
	type = 0;
	(void)getsockopt(sfd, SOL_SOCKET, SO_TYPE, &type, &sl);
	fl = fcntl(sfd, F_GETFL);
	close(sfd);
	if (type == SOCK_DGRAM) {
		op->verdict = MEDIATOR_DNS;
		sandbox_mediate_connect_start(op, fd, "dns", port);
		return true;
	}
	if (type != SOCK_STREAM)
		return false;
	/* The TCP retry: a socket connected to our answerer, in its place. */
	if ((s = sandbox_dnsd_tcp(m->dns, n, fl != -1 &&
	    (fl & O_NONBLOCK))) < 0) {
		sandbox_mediator_op_finish(op, -ECONNREFUSED);
		return true;
	}
	memset(&addfd, 0, sizeof(addfd));
	addfd.id = op->id;
	addfd.flags = SECCOMP_ADDFD_FLAG_SETFD;
	addfd.srcfd = (uint32_t)s;
	addfd.newfd = (uint32_t)fd;
	addfd.newfd_flags = (uint32_t)dns_cloexec(op->tid, fd);
	rc = ioctl(m->listener, SECCOMP_IOCTL_NOTIF_ADDFD, &addfd);
	close(s);
	sandbox_mediator_op_finish(op, rc >= 0 ? 0 : -ECONNREFUSED);
	return true;
}
