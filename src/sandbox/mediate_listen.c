/*
 * listen() (SPEC §3.2, sockets that bind themselves): on an inet socket
 * that was never bound the kernel picks a port itself, on every address,
 * and Landlock's bind rule never sees it.  The filter traps listen() in
 * blocked and proxy mode (allow mode restricts no bind, so there is
 * nothing to get around there); the supervisor looks at its duplicate of
 * the socket and refuses an unbound inet socket, else listens on the
 * duplicate itself and answers with the result.  The mediator's loop
 * handles one notification at a time, and connect()'s disconnect
 * (AF_UNSPEC) goes through it too, so the socket cannot lose its port
 * between the look and the listen.
 */
#include "sandbox/mediator_int.h"

#include <sys/socket.h>

#include <errno.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "util/log.h"

/* The local port of inet socket fd; 0 when unbound; -1: not inet. */
static int
listen_port(int fd, int *err)
{
	struct sockaddr_storage	ss;
	socklen_t		sl = sizeof(ss);
	int			dom;
	socklen_t		dl = sizeof(dom);

	*err = 0;
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &dom, &dl) == -1) {
		*err = errno == ENOTSOCK ? -ENOTSOCK : -errno;
		return -1;
	}
	if (dom != AF_INET && dom != AF_INET6)
		return -1;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == -1) {
		*err = -errno;
		return -1;
	}
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return -1;
}

void
sandbox_mediate_listen(struct mediator *m, const struct seccomp_notif *req)
{
	pid_t	tid = (pid_t)req->pid;
	int	fd, port, err, backlog = (int)req->data.args[1];

	fd = sandbox_mediator_getfd(m, tid, req->id, (int)req->data.args[0]);
	if (fd < 0) {
		if (fd == -ESRCH && !sandbox_mediator_valid(m, req->id))
			return;
		sandbox_mediator_answer(m, req->id, fd);
		return;
	}
	port = listen_port(fd, &err);
	if (err != 0) {
		close(fd);
		sandbox_mediator_answer(m, req->id, err);
		return;
	}
	if (port == 0) {
		close(fd);
		sandbox_mediator_audit(m, false, "listen", 0,
		    "listen on an unbound socket: the kernel would choose "
		    "its port and address past the bind rules");
		sandbox_mediator_answer(m, req->id, -EACCES);
		return;
	}
	err = listen(fd, backlog) == -1 ? -errno : 0;
	close(fd);
	sandbox_mediator_answer(m, req->id, err);
}
