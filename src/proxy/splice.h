#ifndef KEYHOLE_PROXY_SPLICE_H
#define KEYHOLE_PROXY_SPLICE_H

struct conn;

/*
 * Zero-copy relay of an established plain-TCP tunnel with splice(2):
 * socket -> pipe -> socket in each direction, so tunnel bytes never enter
 * user space (bufferevents read 4 KiB at a time, which made a CONNECT
 * tunnel CPU-bound at a fifth of loopback speed).  Half-close is passed
 * on per direction; the conn is closed when both directions are done or
 * on an error.
 */
struct splice_relay;

/*
 * Take over c->client and c->up (both plain sockets; their bufferevents
 * are disabled, not freed).  Bytes still buffered in them (our 200, early
 * bytes of either peer) move to the relay and are written out first, as
 * the peer accepts them; then the direction splices.  -1 only when a side
 * is TLS (intercepted): the caller relays with bufferevents instead.
 * With -vv the close logs the bytes spliced and copied per direction.
 */
int	 proxy_splice_start(struct conn *);
void	 proxy_splice_free(struct splice_relay *);

#endif
