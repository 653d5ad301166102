#ifndef KEYHOLE_PROXY_GUARD_H
#define KEYHOLE_PROXY_GUARD_H

#include <stdbool.h>
#include <sys/socket.h>

#include "util/errbuf.h"

/*
 * The address guard (SPEC §4.4): every resolved address is checked before
 * anything connects to it.  IPv4-mapped, IPv4-compatible, NAT64
 * (64:ff9b::/96, and the local-use 64:ff9b:1::/48 read as a /96) and 6to4
 * (2002::/16) addresses are unwrapped and checked as the IPv4 address they
 * carry.
 */
enum guard_class {
	GUARD_PUBLIC = 0,	/* includes RFC 1918, CGNAT, ULA: allowed */
	GUARD_METADATA,		/* cloud metadata: always denied */
	GUARD_LOOPBACK,
	GUARD_UNSPECIFIED,
	GUARD_LINKLOCAL,
	GUARD_MULTICAST,	/* includes broadcast and reserved 240/4 */
};

/* Classify one address (AF_INET or AF_INET6; anything else: UNSPECIFIED). */
enum guard_class proxy_guard_classify(const struct sockaddr *);
/* Human name of a class: "loopback", "cloud metadata", ... */
const char *proxy_guard_class_name(enum guard_class);
/*
 * True for the metadata host names of SPEC §4.4 and the text of the
 * metadata addresses (case-insensitive, one trailing dot ignored).
 */
bool	 proxy_guard_metadata_name(const char *host);
/*
 * Decide on one address.  explicit: the allow-list entry, a --resolve or
 * the name "localhost" named this address deliberately, which lifts every
 * denial but metadata.  self: the proxy's own listen address (or NULL),
 * which is always denied so the proxy cannot loop into itself (same
 * address and port; a listener on 0.0.0.0/:: also covers loopback).
 * 0 to allow; -1 with e = "address A is B" ("address A:P is the proxy
 * itself"; a non-IP family is denied too) otherwise.
 */
int	 proxy_guard_check(const struct sockaddr *sa,
	    const struct sockaddr *self, bool explicit, struct errbuf *e);
/* Text form of an address without port ("::ffff:1.2.3.4" kept as is). */
const char *proxy_guard_ntop(const struct sockaddr *, char *, size_t);
/* True when two addresses are equal after unwrapping (ports ignored). */
bool	 proxy_guard_same_addr(const struct sockaddr *,
	    const struct sockaddr *);

#endif
