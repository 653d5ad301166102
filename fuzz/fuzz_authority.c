/*
 * CONNECT authority splitting and host canonicalisation: what connect.c
 * and forward.c do with a request target (proxy_http_parse_authority,
 * then policy_allowlist_canon_host), plus policy_route_parse_url on the
 * same text as an upstream URL.
 *
 * Input: one byte choosing the default port (even: 443, odd: 80), then
 * the authority.  The raw bytes (NULs included) also go to canon_host
 * directly.
 *
 * Invariants: a canonical host is non-empty, lower case [a-z0-9._-] or an
 * IP literal that inet_pton reads; canonicalising it again changes
 * nothing (idempotent), and metadata names stay metadata names.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "fuzz.h"
#include "policy/allowlist.h"
#include "policy/route.h"
#include "proxy/guard.h"
#include "proxy/http.h"
#include "util/errbuf.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_canon(const char *c)
{
	unsigned char	 a[16];
	struct errbuf	 e;
	char		*again;
	const char	*p;
	bool		 ip;

	FZ_ASSERT(c[0] != '\0', "empty canonical host");
	ip = inet_pton(AF_INET, c, a) == 1 || inet_pton(AF_INET6, c, a) == 1;
	FZ_ASSERT(ip == policy_allowlist_is_ip(c), "is_ip '%s'", c);
	if (!ip) {
		FZ_ASSERT(strlen(c) <= 253, "length %zu", strlen(c));
		for (p = c; *p != '\0'; p++)
			FZ_ASSERT((*p >= 'a' && *p <= 'z') ||
			    (*p >= '0' && *p <= '9') || *p == '.' ||
			    *p == '-' || *p == '_', "byte %#x in '%s'", *p, c);
		FZ_ASSERT(c[0] != '.' && strstr(c, "..") == NULL &&
		    c[strlen(c) - 1] != '.', "empty label in '%s'", c);
	}
	errbuf_clear(&e);
	again = policy_allowlist_canon_host(c, strlen(c), &e);
	FZ_ASSERT(again != NULL, "'%s' not canonical again: %s", c,
	    errbuf_msg(&e));
	FZ_ASSERT(strcmp(again, c) == 0, "'%s' re-canonicalised to '%s'", c,
	    again);
	free(again);
	/* A bracketed IPv6 literal reads as the same address. */
	if (strchr(c, ':') != NULL) {
		char	*br = malloc(strlen(c) + 3);

		if (br == NULL)
			abort();
		br[0] = '[';
		memcpy(br + 1, c, strlen(c));
		br[strlen(c) + 1] = ']';
		br[strlen(c) + 2] = '\0';
		again = policy_allowlist_canon_host(br, strlen(br), &e);
		FZ_ASSERT(again != NULL && strcmp(again, c) == 0,
		    "'%s' bracketed", c);
		free(again);
		free(br);
	}
	(void)proxy_guard_metadata_name(c);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_quiet();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz	 f = { data, size };
	struct errbuf	 e;
	char		*a, *raw, *host, *c, *path, *url;
	size_t		 len;
	uint16_t	 port, defport;
	bool		 tls;

	if (size < 1)
		return 0;
	defport = (fz_byte(&f) & 1) ? 80 : 443;
	raw = fz_rest(&f, &len);

	/* The wire bytes as they are (length-carrying, NULs and all). */
	errbuf_clear(&e);
	if ((c = policy_allowlist_canon_host(raw, len, &e)) != NULL) {
		check_canon(c);
		free(c);
	} else
		FZ_ASSERT(errbuf_msg(&e)[0] != '\0', "no message");

	/* As connect.c: a NUL-terminated target. */
	a = malloc(len + 1);
	if (a == NULL)
		abort();
	memcpy(a, raw, len);
	a[len] = '\0';
	host = NULL;
	port = 0;
	if (proxy_http_parse_authority(a, &host, &port, defport) == 0) {
		FZ_ASSERT(host != NULL && host[0] != '\0', "empty host");
		FZ_ASSERT(port != 0, "port 0");
		FZ_ASSERT(strchr(a, ':') != NULL || port == defport,
		    "port without a colon");
		if ((c = policy_allowlist_canon_host(host, strlen(host),
		    &e)) != NULL) {
			check_canon(c);
			free(c);
		}
	} else
		FZ_ASSERT(host == NULL, "host left on failure");
	free(host);

	/* The same text as an upstream URL. */
	url = malloc(len + 9);
	if (url == NULL)
		abort();
	memcpy(url, "https://", 8);
	memcpy(url + 8, a, len + 1);
	if (policy_route_parse_url(url, &tls, &host, &port, &path, &e) == 0) {
		FZ_ASSERT(tls && port != 0 && host != NULL && path != NULL,
		    "parse_url fields");
		check_canon(host);
		FZ_ASSERT(path[0] == '\0' || (path[0] == '/' &&
		    path[strlen(path) - 1] != '/'), "path '%s'", path);
		free(host);
		free(path);
	} else
		FZ_ASSERT(host == NULL && path == NULL, "left on failure");
	free(url);
	free(a);
	free(raw);
	return 0;
}
