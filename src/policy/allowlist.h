#ifndef KEYHOLE_POLICY_ALLOWLIST_H
#define KEYHOLE_POLICY_ALLOWLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/errbuf.h"

struct netpolicy;

/*
 * Allow-list entries (SPEC §4.3).  Hosts are kept canonical: lower case,
 * one trailing dot removed, IP literals re-printed by inet_ntop without
 * brackets.
 */
enum allow_kind {
	ALLOW_HOST = 0,		/* exact name */
	ALLOW_SUFFIX,		/* *.suffix: strict subdomains only */
	ALLOW_IP,		/* IPv4 or IPv6 literal */
};

enum allow_use {
	ALLOW_USE_CONNECT = 0,	/* default port 443 */
	ALLOW_USE_FORWARD,	/* default port 80 */
};

struct allow_entry {
	enum allow_kind	 kind;
	char		*host;		/* owned; SUFFIX: without the "*." */
	uint16_t	 port;		/* 0: the default port of the use */
	bool		 direct;	/* host:PORT form: a direct grant */
	char		*source;	/* owned; the entry as written */
};

struct allowlist {
	struct allow_entry	*v;	/* owned array */
	size_t			 n;
};

/*
 * Parse one entry and append what it allows: "host", "*.suffix",
 * "host:PORT", IP literals, "[v6]", "[v6]:PORT", "https://host[:port]",
 * "http://host[:port]" (a path is an error) or a group name of np (np may
 * be NULL: no groups).  The entry is trimmed first; an identical entry
 * already in the list is not added again.  -1 with e naming the entry
 * ("allow-domain 'x': ...") and nothing appended.
 */
int	 policy_allowlist_add(struct allowlist *, const char *entry,
	    const struct netpolicy *np, struct errbuf *e);
/* Append the hosts and suffixes of network profile name.  -1 if unknown. */
int	 policy_allowlist_add_profile(struct allowlist *, const char *name,
	    const struct netpolicy *np, struct errbuf *e);
/*
 * Canonical form of a host from the wire or a config (len bytes, may carry
 * [] around IPv6): lower case, one trailing dot dropped, IP literals
 * re-printed (IPv4 only as a strict dotted quad: "127.1" stays a name).
 * Names are [a-z0-9._-], no empty label, labels <= 63, total <= 253.
 * Returns an owned string, or NULL with e set ("host 'x': ...").
 */
char	*policy_allowlist_canon_host(const char *host, size_t len,
	    struct errbuf *e);
/* True when host (canonical) is an IPv4/IPv6 literal. */
bool	 policy_allowlist_is_ip(const char *host);
/*
 * The entry that allows canonical host on port for use, or NULL.  An empty
 * list allows everything: it returns NULL too, so check
 * policy_allowlist_allows() for the decision.
 */
const struct allow_entry *policy_allowlist_match(const struct allowlist *,
	    const char *host, uint16_t port, enum allow_use);
/* The decision: empty list, or a matching entry. */
bool	 policy_allowlist_allows(const struct allowlist *, const char *host,
	    uint16_t port, enum allow_use);
/* True when host (canonical) matches suffix entry s strictly. */
bool	 policy_allowlist_suffix_match(const char *host, const char *suffix);
/* Free the entries and empty the list (the struct itself is the caller's). */
void	 policy_allowlist_free(struct allowlist *);

#endif
