#include "policy/allowlist.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy/netpolicy.h"
#include "util/log.h"
#include "util/strbuf.h"
#include "util/strnum.h"
#include "util/xmalloc.h"

/* RFC 1035: a name is at most 253 bytes in text, a label at most 63. */
#define ALLOW_HOST_MAX	253
#define ALLOW_LABEL_MAX	63

/* Room for a host shown in a message: escaped, cut at 128 bytes. */
#define ALLOW_SHOW_MAX	(4 * 128 + 1)

/* Escape s[0..n) for a message (it may come from the wire). */
static const char *
allow_show(char *buf, const char *s, size_t n)
{
	if (n > 128)
		n = 128;
	return log_escape(buf, ALLOW_SHOW_MAX, s, n);
}

/* Parse text (NUL-terminated) as an IP literal and re-print it. */
static char *
allow_canon_ip(const char *text, int af)
{
	unsigned char	 a[sizeof(struct in6_addr)];
	char		 out[INET6_ADDRSTRLEN];

	if (inet_pton(af, text, a) != 1)
		return NULL;
	if (inet_ntop(af, a, out, sizeof(out)) == NULL)
		return NULL;
	return xstrdup(out);
}

char *
policy_allowlist_canon_host(const char *host, size_t len, struct errbuf *e)
{
	char		 show[ALLOW_SHOW_MAX], tmp[INET6_ADDRSTRLEN + 1];
	char		*s, *ip;
	size_t		 i, label;
	unsigned char	 c;

	if (len == 0) {
		errbuf_set(e, "empty host");
		return NULL;
	}
	if (host[0] == '[') {
		/* [v6]: only an IPv6 literal may be bracketed. */
		if (len < 3 || host[len - 1] != ']' || len - 2 >= sizeof(tmp))
			goto badv6;
		memcpy(tmp, host + 1, len - 2);
		tmp[len - 2] = '\0';
		if (memchr(tmp, '\0', len - 2) != NULL ||
		    (ip = allow_canon_ip(tmp, AF_INET6)) == NULL)
			goto badv6;
		return ip;
	}
	if (len > 1 && host[len - 1] == '.')
		len--;		/* "example.com." is "example.com" */
	if (len > ALLOW_HOST_MAX) {
		errbuf_set(e, "host '%s...': longer than %d bytes",
		    allow_show(show, host, 64), ALLOW_HOST_MAX);
		return NULL;
	}
	s = xstrndup(host, len);
	if (strlen(s) != len) {
		errbuf_set(e, "host '%s': contains a NUL byte",
		    allow_show(show, host, len));
		free(s);
		return NULL;
	}
	if (strchr(s, ':') != NULL) {
		/* Only an IPv6 literal has colons. */
		if ((ip = allow_canon_ip(s, AF_INET6)) == NULL) {
			errbuf_set(e, "host '%s': not a valid IPv6 address",
			    allow_show(show, host, len));
			free(s);
			return NULL;
		}
		free(s);
		return ip;
	}
	/* Strict dotted quad only; "127.1" or "0x7f.1" stay names. */
	if ((ip = allow_canon_ip(s, AF_INET)) != NULL) {
		free(s);
		return ip;
	}
	for (i = 0, label = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (c >= 'A' && c <= 'Z')
			s[i] = (char)(c - 'A' + 'a');
		else if (c == '.') {
			if (label == 0)
				goto emptylabel;
			label = 0;
			continue;
		} else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_')) {
			errbuf_set(e, "host '%s': invalid byte '%s'",
			    allow_show(show, host, len),
			    log_escape(tmp, sizeof(tmp), s + i, 1));
			free(s);
			return NULL;
		}
		if (++label > ALLOW_LABEL_MAX) {
			errbuf_set(e, "host '%s': a label is longer than %d "
			    "bytes", allow_show(show, host, len),
			    ALLOW_LABEL_MAX);
			free(s);
			return NULL;
		}
	}
	if (label == 0)
		goto emptylabel;
	return s;

emptylabel:
	errbuf_set(e, "host '%s': empty label", allow_show(show, host, len));
	free(s);
	return NULL;
badv6:
	errbuf_set(e, "host '%s': not a valid IPv6 address in brackets",
	    allow_show(show, host, len));
	return NULL;
}

bool
policy_allowlist_is_ip(const char *host)
{
	unsigned char	a[sizeof(struct in6_addr)];

	if (host == NULL)
		return false;
	return inet_pton(AF_INET, host, a) == 1 ||
	    inet_pton(AF_INET6, host, a) == 1;
}

/* Append one entry unless an identical one is there; takes host. */
static void
allow_push(struct allowlist *al, enum allow_kind kind, char *host,
    uint16_t port, bool direct, const char *source)
{
	struct allow_entry	*ae;
	size_t			 i;

	for (i = 0; i < al->n; i++) {
		ae = &al->v[i];
		if (ae->kind == kind && ae->port == port &&
		    ae->direct == direct && strcmp(ae->host, host) == 0) {
			free(host);
			return;
		}
	}
	al->v = xreallocarray(al->v, al->n + 1, sizeof(*al->v));
	ae = &al->v[al->n++];
	ae->kind = kind;
	ae->host = host;
	ae->port = port;
	ae->direct = direct;
	ae->source = xstrdup(source);
}

/* Append the hosts and suffixes of group g, each with source g->name. */
static int
allow_push_group(struct allowlist *al, const struct netgroup *g,
    struct errbuf *e)
{
	const char	*sfx;
	char		*h;
	size_t		 i;

	for (i = 0; i < g->hosts.n; i++) {
		h = policy_allowlist_canon_host(g->hosts.v[i],
		    strlen(g->hosts.v[i]), e);
		if (h == NULL) {
			errbuf_wrap(e, "network group '%s'", g->name);
			return -1;
		}
		allow_push(al, policy_allowlist_is_ip(h) ? ALLOW_IP :
		    ALLOW_HOST, h, 0, false, g->name);
	}
	for (i = 0; i < g->suffixes.n; i++) {
		sfx = g->suffixes.v[i];
		if (sfx[0] == '.')
			sfx++;
		h = policy_allowlist_canon_host(sfx, strlen(sfx), e);
		if (h == NULL || policy_allowlist_is_ip(h)) {
			if (h != NULL)
				errbuf_set(e, "suffix '%s' is an IP address",
				    g->suffixes.v[i]);
			free(h);
			errbuf_wrap(e, "network group '%s'", g->name);
			return -1;
		}
		allow_push(al, ALLOW_SUFFIX, h, 0, false, g->name);
	}
	return 0;
}

/*
 * Split "host[:port]" or "[v6][:port]" (n bytes at s) into the host part
 * and the port.  A bare IPv6 literal (two or more colons, no brackets) is
 * all host.  *port is 0 without a port; -1 with e on a bad port.
 */
static int
allow_split_port(const char *s, size_t n, size_t *hostlen, uint16_t *port,
    bool *hasport, struct errbuf *e)
{
	const char	*colon, *rb;

	*hostlen = n;
	*port = 0;
	*hasport = false;
	if (n > 0 && s[0] == '[') {
		if ((rb = memchr(s, ']', n)) == NULL) {
			errbuf_set(e, "missing ']' after an IPv6 address");
			return -1;
		}
		*hostlen = (size_t)(rb - s) + 1;
		if (*hostlen == n)
			return 0;
		if (rb[1] != ':') {
			errbuf_set(e, "unexpected text after ']'");
			return -1;
		}
		colon = rb + 1;
	} else {
		if ((colon = memchr(s, ':', n)) == NULL)
			return 0;
		if (memchr(colon + 1, ':', n - (size_t)(colon + 1 - s)) != NULL)
			return 0;	/* bare IPv6: all host */
		*hostlen = (size_t)(colon - s);
	}
	*hasport = true;
	if (strnum_port(colon + 1, n - (size_t)(colon + 1 - s), port) == -1) {
		errbuf_set(e, "bad port '%.*s' (1-65535)",
		    (int)(n - (size_t)(colon + 1 - s)), colon + 1);
		return -1;
	}
	return 0;
}

/* "https://host[:port]" or "http://host[:port]" with an optional "/". */
static int
allow_add_url(struct allowlist *al, const char *entry, size_t skip,
    uint16_t defport, struct errbuf *e)
{
	const char	*auth = entry + skip, *rest;
	char		*h;
	size_t		 alen, hlen;
	uint16_t	 port;
	bool		 hasport;

	alen = strcspn(auth, "/?#");
	rest = auth + alen;
	if (rest[0] == '?' || rest[0] == '#') {
		errbuf_set(e, "a URL may not carry a query or fragment");
		return -1;
	}
	if (rest[0] == '/' && rest[1] != '\0') {
		errbuf_set(e, "a URL may not carry a path (path rules belong "
		    "to credential routes)");
		return -1;
	}
	if (memchr(auth, '@', alen) != NULL) {
		errbuf_set(e, "a URL may not carry user info");
		return -1;
	}
	if (allow_split_port(auth, alen, &hlen, &port, &hasport, e) == -1)
		return -1;
	if ((h = policy_allowlist_canon_host(auth, hlen, e)) == NULL)
		return -1;
	allow_push(al, policy_allowlist_is_ip(h) ? ALLOW_IP : ALLOW_HOST, h,
	    hasport ? port : defport, false, entry);
	return 0;
}

/* "*.suffix": strict subdomains of suffix. */
static int
allow_add_wildcard(struct allowlist *al, const char *entry, struct errbuf *e)
{
	char	*h;

	if (strncmp(entry, "*.", 2) != 0 || entry[2] == '\0' ||
	    entry[2] == '.' || strchr(entry + 1, '*') != NULL) {
		errbuf_set(e, "a wildcard must be '*.' followed by a domain, "
		    "as in '*.example.com'");
		return -1;
	}
	if (strchr(entry, ':') != NULL || strchr(entry, '[') != NULL) {
		errbuf_set(e, "a wildcard entry may not carry a port");
		return -1;
	}
	if ((h = policy_allowlist_canon_host(entry + 2, strlen(entry + 2),
	    e)) == NULL)
		return -1;
	if (policy_allowlist_is_ip(h)) {
		errbuf_set(e, "a wildcard needs a domain, not an IP address");
		free(h);
		return -1;
	}
	allow_push(al, ALLOW_SUFFIX, h, 0, false, entry);
	return 0;
}

/* Parse one trimmed entry; errors without the entry prefix. */
static int
allow_add(struct allowlist *al, const char *entry, const struct netpolicy *np,
    struct errbuf *e)
{
	const struct netgroup	*g;
	char			*h;
	size_t			 n = strlen(entry), hlen;
	uint16_t		 port;
	bool			 hasport;

	if (n == 0) {
		errbuf_set(e, "empty entry");
		return -1;
	}
	if (np != NULL && (g = policy_netpolicy_group(np, entry)) != NULL)
		return allow_push_group(al, g, e);
	if (strncasecmp(entry, "https://", 8) == 0)
		return allow_add_url(al, entry, 8, 443, e);
	if (strncasecmp(entry, "http://", 7) == 0)
		return allow_add_url(al, entry, 7, 80, e);
	if (strstr(entry, "://") != NULL) {
		errbuf_set(e, "only http:// and https:// URLs are allowed");
		return -1;
	}
	if (entry[0] == '*')
		return allow_add_wildcard(al, entry, e);
	if (allow_split_port(entry, n, &hlen, &port, &hasport, e) == -1)
		return -1;
	if ((h = policy_allowlist_canon_host(entry, hlen, e)) == NULL)
		return -1;
	/* host:PORT is a direct grant (SPEC §4.3). */
	allow_push(al, policy_allowlist_is_ip(h) ? ALLOW_IP : ALLOW_HOST, h,
	    port, hasport, entry);
	return 0;
}

int
policy_allowlist_add(struct allowlist *al, const char *entry,
    const struct netpolicy *np, struct errbuf *e)
{
	char		 show[ALLOW_SHOW_MAX];
	const char	*p = entry, *end;
	char		*t;
	int		 rv;

	while (*p == ' ' || *p == '\t')
		p++;
	end = p + strlen(p);
	while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	t = xstrndup(p, (size_t)(end - p));
	if ((rv = allow_add(al, t, np, e)) == -1)
		errbuf_wrap(e, "allow-domain '%s'",
		    allow_show(show, t, strlen(t)));
	free(t);
	return rv;
}

int
policy_allowlist_add_profile(struct allowlist *al, const char *name,
    const struct netpolicy *np, struct errbuf *e)
{
	const struct netprofile	*p;
	const struct netgroup	*g;
	struct strv		 names = { 0 };
	char			*known;
	size_t			 i;

	if (np == NULL || (p = policy_netpolicy_profile(np, name)) == NULL) {
		for (i = 0; np != NULL && i < np->nprofiles; i++)
			strv_push(&names, np->profiles[i].name);
		known = strv_join(&names, ", ");
		errbuf_set(e, "unknown network profile '%s' (known: %s)", name,
		    known);
		free(known);
		strv_free(&names);
		return -1;
	}
	for (i = 0; i < p->groups.n; i++) {
		if ((g = policy_netpolicy_group(np, p->groups.v[i])) == NULL) {
			errbuf_set(e, "network profile '%s': unknown group "
			    "'%s'", name, p->groups.v[i]);
			return -1;
		}
		if (allow_push_group(al, g, e) == -1) {
			errbuf_wrap(e, "network profile '%s'", name);
			return -1;
		}
	}
	return 0;
}

bool
policy_allowlist_suffix_match(const char *host, const char *suffix)
{
	size_t	hl, sl;

	if (host == NULL || suffix == NULL)
		return false;
	hl = strlen(host);
	sl = strlen(suffix);
	/* Strictly longer, and the suffix starts at a label boundary. */
	if (sl == 0 || hl < sl + 2)
		return false;
	return host[hl - sl - 1] == '.' &&
	    strcasecmp(host + hl - sl, suffix) == 0;
}

const struct allow_entry *
policy_allowlist_match(const struct allowlist *al, const char *host,
    uint16_t port, enum allow_use use)
{
	const struct allow_entry	*ae;
	uint16_t			 def;
	size_t				 i;

	if (al == NULL || host == NULL)
		return NULL;
	def = use == ALLOW_USE_FORWARD ? 80 : 443;
	for (i = 0; i < al->n; i++) {
		ae = &al->v[i];
		if (ae->port != port && !(ae->port == 0 && port == def))
			continue;
		if (ae->kind == ALLOW_SUFFIX) {
			if (policy_allowlist_suffix_match(host, ae->host))
				return ae;
		} else if (strcasecmp(host, ae->host) == 0)
			return ae;
	}
	return NULL;
}

bool
policy_allowlist_allows(const struct allowlist *al, const char *host,
    uint16_t port, enum allow_use use)
{
	if (al == NULL || al->n == 0)
		return true;
	return policy_allowlist_match(al, host, port, use) != NULL;
}

void
policy_allowlist_free(struct allowlist *al)
{
	size_t	i;

	if (al == NULL)
		return;
	for (i = 0; i < al->n; i++) {
		free(al->v[i].host);
		free(al->v[i].source);
	}
	free(al->v);
	al->v = NULL;
	al->n = 0;
}
