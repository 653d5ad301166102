#ifndef KEYHOLE_PROXY_SNI_H
#define KEYHOLE_PROXY_SNI_H

#include <stddef.h>

/*
 * Find the server name in the first bytes a client sends through a tunnel
 * (a TLS ClientHello), to catch domain fronting (SPEC §4.5).  The
 * ClientHello may span several TLS records; at most SNI_PEEK_MAX bytes are
 * looked at.
 */
#define SNI_PEEK_MAX	(16 * 1024 + 5)

enum sni_result {
	SNI_NONE = 0,		/* not TLS, or a ClientHello without SNI */
	SNI_FOUND,		/* name copied (lower-cased) */
	SNI_MORE,		/* a ClientHello has started: need more bytes */
	SNI_BAD,		/* TLS handshake bytes that do not parse */
};

enum sni_result proxy_sni_parse(const unsigned char *, size_t len,
	    char *name, size_t namesz);

#endif
