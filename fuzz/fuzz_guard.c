/*
 * The address guard (proxy/guard.h) over arbitrary addresses: 16 bytes
 * as a sockaddr_in6, their first 4 as a sockaddr_in, and the IPv4 address
 * wrapped every way the guard unwraps (mapped, compatible, NAT64, 6to4).
 *
 * Input: 16 address bytes, 2 port bytes, 1 flags byte, then optionally
 * 16 + 2 bytes of the proxy's own address (self) and a text buffer size.
 *
 * Invariants: a wrapped IPv4 address is classified as the IPv4 address
 * itself; metadata is always denied, explicit or not; without self, a
 * check passes exactly for public addresses (explicit: for everything but
 * metadata); an address is its own same_addr; ntop never overruns.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "fuzz.h"
#include "proxy/guard.h"
#include "util/errbuf.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
mk6(struct sockaddr_in6 *s, const uint8_t *b, uint16_t port)
{
	memset(s, 0, sizeof(*s));
	s->sin6_family = AF_INET6;
	s->sin6_port = htons(port);
	memcpy(&s->sin6_addr, b, 16);
}

static void
mk4(struct sockaddr_in *s, const uint8_t *b, uint16_t port)
{
	memset(s, 0, sizeof(*s));
	s->sin_family = AF_INET;
	s->sin_port = htons(port);
	memcpy(&s->sin_addr, b, 4);
}

/* Check one address on its own. */
static void
check_one(const struct sockaddr *sa, bool explicit, size_t bufsz)
{
	struct errbuf		 e;
	enum guard_class	 c = proxy_guard_classify(sa);
	char			*buf;
	int			 rv;

	FZ_ASSERT(c >= GUARD_PUBLIC && c <= GUARD_MULTICAST, "class %d", c);
	FZ_ASSERT(strcmp(proxy_guard_class_name(c), "unknown") != 0,
	    "unnamed class %d", c);
	errbuf_clear(&e);
	rv = proxy_guard_check(sa, NULL, explicit, &e);
	if (c == GUARD_METADATA)
		FZ_ASSERT(rv == -1, "metadata allowed (explicit %d)",
		    explicit);
	else if (explicit)
		FZ_ASSERT(rv == 0, "explicit %s denied: %s",
		    proxy_guard_class_name(c), errbuf_msg(&e));
	else
		FZ_ASSERT((rv == 0) == (c == GUARD_PUBLIC), "%s -> %d",
		    proxy_guard_class_name(c), rv);
	if (rv == -1)
		FZ_ASSERT(strncmp(errbuf_msg(&e), "address ", 8) == 0,
		    "message '%s'", errbuf_msg(&e));
	FZ_ASSERT(proxy_guard_same_addr(sa, sa), "not its own address");
	/* Exact-size buffer: ASan sees any write past it. */
	if ((buf = malloc(bufsz == 0 ? 1 : bufsz)) == NULL)
		abort();
	(void)proxy_guard_ntop(sa, buf, bufsz);
	if (bufsz > 0)
		FZ_ASSERT(memchr(buf, '\0', bufsz) != NULL, "ntop unterminated");
	free(buf);
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
	struct sockaddr_in6	 s6, w6, self6;
	struct sockaddr_in	 s4, self4;
	struct sockaddr_storage	 odd;
	struct errbuf		 e;
	enum guard_class	 c4;
	uint8_t			 b[16];
	uint16_t		 port;
	bool			 explicit;
	size_t			 bufsz = 64;
	char			 text[INET6_ADDRSTRLEN];

	if (size < 19)
		return 0;
	port = (uint16_t)(data[16] << 8 | data[17]);
	explicit = data[18] & 1;
	if (size >= 38)
		bufsz = data[37] % 64;

	mk6(&s6, data, port);
	mk4(&s4, data, port);
	check_one((struct sockaddr *)&s6, explicit, bufsz);
	check_one((struct sockaddr *)&s4, explicit, bufsz);

	/* The IPv4 address, wrapped: the guard must see through each. */
	c4 = proxy_guard_classify((struct sockaddr *)&s4);
	memset(b, 0, 16);
	b[10] = b[11] = 0xff;
	memcpy(b + 12, data, 4);			/* ::ffff:a.b.c.d */
	mk6(&w6, b, port);
	FZ_ASSERT(proxy_guard_classify((struct sockaddr *)&w6) == c4,
	    "mapped");
	FZ_ASSERT(proxy_guard_same_addr((struct sockaddr *)&w6,
	    (struct sockaddr *)&s4), "mapped same_addr");
	memset(b, 0, 16);
	b[1] = 0x64;
	b[2] = 0xff;
	b[3] = 0x9b;
	memcpy(b + 12, data, 4);			/* 64:ff9b::a.b.c.d */
	mk6(&w6, b, port);
	FZ_ASSERT(proxy_guard_classify((struct sockaddr *)&w6) == c4,
	    "nat64");
	b[5] = 0x01;					/* 64:ff9b:1::a.b.c.d */
	mk6(&w6, b, port);
	FZ_ASSERT(proxy_guard_classify((struct sockaddr *)&w6) == c4,
	    "local nat64");
	memset(b, 0, 16);
	b[0] = 0x20;
	b[1] = 0x02;
	memcpy(b + 2, data, 4);				/* 2002:AABB:CCDD:: */
	memcpy(b + 6, data + 4, 10);
	mk6(&w6, b, port);
	FZ_ASSERT(proxy_guard_classify((struct sockaddr *)&w6) == c4,
	    "6to4");
	if (!(data[0] == 0 && data[1] == 0 && data[2] == 0 && data[3] <= 1)) {
		memset(b, 0, 16);
		memcpy(b + 12, data, 4);		/* ::a.b.c.d */
		mk6(&w6, b, port);
		FZ_ASSERT(proxy_guard_classify((struct sockaddr *)&w6) == c4,
		    "compatible");
	}
	/* Metadata text is a metadata name. */
	if (c4 == GUARD_METADATA) {
		inet_ntop(AF_INET, data, text, sizeof(text));
		FZ_ASSERT(proxy_guard_metadata_name(text), "%s", text);
	}

	/* The proxy's own address is always denied. */
	if (size >= 37) {
		uint16_t sp = (uint16_t)(data[35] << 8 | data[36]);

		mk6(&self6, data + 19, sp);
		mk4(&self4, data + 19, sp);
		(void)proxy_guard_check((struct sockaddr *)&s6,
		    (struct sockaddr *)&self6, explicit, &e);
		(void)proxy_guard_check((struct sockaddr *)&s4,
		    (struct sockaddr *)&self4, explicit, &e);
		(void)proxy_guard_check((struct sockaddr *)&s6,
		    (struct sockaddr *)&self4, explicit, &e);
		FZ_ASSERT(proxy_guard_check((struct sockaddr *)&self6,
		    (struct sockaddr *)&self6, true, &e) == -1,
		    "self6 allowed");
		FZ_ASSERT(proxy_guard_check((struct sockaddr *)&self4,
		    (struct sockaddr *)&self4, true, &e) == -1,
		    "self4 allowed");
	}

	/* Not IP at all. */
	memset(&odd, 0, sizeof(odd));
	odd.ss_family = (sa_family_t)(data[18] >> 1);
	if (odd.ss_family != AF_INET && odd.ss_family != AF_INET6) {
		FZ_ASSERT(proxy_guard_classify((struct sockaddr *)&odd) ==
		    GUARD_UNSPECIFIED, "family %d", odd.ss_family);
		FZ_ASSERT(proxy_guard_check((struct sockaddr *)&odd, NULL, true,
		    &e) == -1, "family %d allowed", odd.ss_family);
	}
	return 0;
}
