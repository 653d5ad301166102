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
		/* ENETDOWN: the answerer never came up (warned once). */
		if (s != -ENETDOWN)
			log_warnx("DNS socket for the sandbox: %s",
			    strerror(-s));
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
		__atomic_fetch_add(&m->answered, 1, __ATOMIC_RELAXED);
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

/*
 * The lookup's connect: the child's UDP socket to a nameserver (glibc,
 * c-ares and Go connect before they send).  Our one duplicate is asked
 * its type and namespace and connected right here: a UDP connect never
 * blocks, so no file flags are touched and nothing is parked.
 */
bool
sandbox_mediate_dns_connect(struct med_op *op, int fd,
    const struct sockaddr_storage *n, uint16_t port)
{
	struct mediator			*m = op->m;
	struct seccomp_notif_addfd	 addfd;
	int				 sfd, s, proto = 0, fl, rc;
	socklen_t			 sl = sizeof(proto);

	if (m->dns == NULL)
		return false;
	/*
	 * Asked once: IPPROTO_UDP is an inet datagram socket (the filter
	 * lets no other be made), IPPROTO_TCP what connect_start checks.
	 * Usually taken and asked already (sandbox_mediate_connect).
	 */
	if (op->sfd != -1) {
		sfd = op->sfd;
		proto = op->proto;
		op->sfd = -1;
	} else {
		sfd = sandbox_mediator_getfd(m, op->tid, op->id, fd);
		if (sfd < 0)
			return false;	/* the general path answers */
		if (getsockopt(sfd, SOL_SOCKET, SO_PROTOCOL, &proto,
		    &sl) == -1)
			proto = 0;
	}
	if (proto == IPPROTO_UDP) {
		/* A UDP socket of ours may connect anywhere in its netns. */
		op->sfd = sfd;
		op->verdict = MEDIATOR_DNS;
		if (!sandbox_dnsd_owns(m->dns, sfd)) {
			sandbox_mediator_audit(m, false, "dns", port,
			    "not a DNS socket of the sandbox");
			sandbox_mediator_op_finish(op, -EACCES);
			return true;
		}
		rc = connect(sfd, (struct sockaddr *)&op->addr, op->len);
		sandbox_mediator_op_finish(op, rc == 0 ? 0 : -errno);
		return true;
	}
	if (proto != IPPROTO_TCP || !sandbox_dnsd_is_server(m->dns, n, port)) {
		/* Not DNS: the general path goes on with this duplicate. */
		op->sfd = sfd;
		op->proto = proto;
		return false;
	}
	/* The helper may have to start (lazy): its events are the loop's. */
	if (sandbox_mediator_to_loop(m)) {
		close(sfd);
		sandbox_mediator_op_free(op);
		return true;
	}
	fl = fcntl(sfd, F_GETFL);
	close(sfd);
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
