#include "proxy/guard.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/*
 * An address reduced to what the guard decides on: an IPv4 address (host
 * order) or the 16 bytes of an IPv6 one.
 */
struct guard_addr {
	int		 family;	/* AF_INET, AF_INET6 or AF_UNSPEC */
	uint32_t	 v4;
	unsigned char	 v6[16];
	uint16_t	 port;
};

/* Cloud metadata endpoints (SPEC §4.4). */
#define GUARD_V4(a, b, c, d)						\
	(((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) |		\
	 ((uint32_t)(c) << 8) | (uint32_t)(d))

static const uint32_t guard_meta_v4[] = {
	GUARD_V4(169, 254, 169, 254),	/* AWS, GCP, Azure, OpenStack ... */
	GUARD_V4(100, 100, 100, 200),	/* Alibaba Cloud */
	GUARD_V4(168, 63, 129, 16),	/* Azure WireServer */
};

/* fd00:ec2::254, the AWS IPv6 instance metadata service. */
static const unsigned char guard_meta_v6[16] = {
	0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54
};

static const char *const guard_meta_names[] = {
	"metadata.google.internal",
	"metadata.azure.internal",
	"169.254.169.254",
	"100.100.100.200",
	"168.63.129.16",
	"fd00:ec2::254",
};

/* Copy a sockaddr into a guard_addr without unwrapping. */
static void
guard_load(const struct sockaddr *sa, struct guard_addr *ga)
{
	struct sockaddr_in	 sin;
	struct sockaddr_in6	 sin6;

	memset(ga, 0, sizeof(*ga));
	ga->family = AF_UNSPEC;
	if (sa == NULL)
		return;
	if (sa->sa_family == AF_INET) {
		memcpy(&sin, sa, sizeof(sin));
		ga->family = AF_INET;
		ga->v4 = ntohl(sin.sin_addr.s_addr);
		ga->port = ntohs(sin.sin_port);
	} else if (sa->sa_family == AF_INET6) {
		memcpy(&sin6, sa, sizeof(sin6));
		ga->family = AF_INET6;
		memcpy(ga->v6, &sin6.sin6_addr, 16);
		ga->port = ntohs(sin6.sin6_port);
	}
}

/* The IPv4 address in bytes p[0..3]. */
static uint32_t
guard_v4_at(const unsigned char *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	    ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

/* True when bytes p[from..to) are all zero. */
static bool
guard_zero(const unsigned char *p, size_t from, size_t to)
{
	for (; from < to; from++)
		if (p[from] != 0)
			return false;
	return true;
}

/*
 * If ga is an IPv6 address that carries an IPv4 one in a well-known way,
 * turn it into that IPv4 address: IPv4-mapped ::ffff:a.b.c.d,
 * IPv4-compatible ::a.b.c.d (but not :: or ::1), NAT64 64:ff9b::/96
 * (RFC 6052) and 6to4 2002:AABB:CCDD::/16 (RFC 3056).  A packet to any of
 * them can end up at the IPv4 address, so that is what is checked.
 */
static void
guard_unwrap(struct guard_addr *ga)
{
	const unsigned char	*b = ga->v6;
	static const unsigned char nat64[4] = { 0x00, 0x64, 0xff, 0x9b };

	if (ga->family != AF_INET6)
		return;
	if (guard_zero(b, 0, 10) && b[10] == 0xff && b[11] == 0xff) {
		ga->v4 = guard_v4_at(b + 12);
	} else if (guard_zero(b, 0, 12)) {
		if (guard_zero(b, 12, 15) && b[15] <= 1)
			return;		/* :: and ::1 are themselves */
		ga->v4 = guard_v4_at(b + 12);
	} else if (memcmp(b, nat64, 4) == 0 && guard_zero(b, 4, 12)) {
		ga->v4 = guard_v4_at(b + 12);
	} else if (b[0] == 0x20 && b[1] == 0x02) {
		ga->v4 = guard_v4_at(b + 2);
	} else
		return;
	ga->family = AF_INET;
}

/*
 * Class of an IPv4 address.  240.0.0.0/4 (reserved, "future use") is put
 * with multicast and broadcast: nothing legitimate lives there and some
 * stacks treat it specially.
 */
static enum guard_class
guard_classify_v4(uint32_t a)
{
	size_t	i;

	for (i = 0; i < sizeof(guard_meta_v4) / sizeof(guard_meta_v4[0]); i++)
		if (a == guard_meta_v4[i])
			return GUARD_METADATA;
	if ((a >> 24) == 0)
		return GUARD_UNSPECIFIED;		/* 0.0.0.0/8 */
	if ((a >> 24) == 127)
		return GUARD_LOOPBACK;			/* 127.0.0.0/8 */
	if ((a >> 16) == GUARD_V4(0, 0, 169, 254))
		return GUARD_LINKLOCAL;			/* 169.254.0.0/16 */
	if ((a >> 28) >= 0xe)
		return GUARD_MULTICAST;	/* 224/4, 240/4, 255.255.255.255 */
	return GUARD_PUBLIC;	/* RFC 1918, CGNAT included (enterprise) */
}

/* Class of an IPv6 address that does not carry an IPv4 one. */
static enum guard_class
guard_classify_v6(const unsigned char *b)
{
	if (memcmp(b, guard_meta_v6, 16) == 0)
		return GUARD_METADATA;
	if (guard_zero(b, 0, 16))
		return GUARD_UNSPECIFIED;		/* :: */
	if (guard_zero(b, 0, 15) && b[15] == 1)
		return GUARD_LOOPBACK;			/* ::1 */
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
		return GUARD_LINKLOCAL;			/* fe80::/10 */
	if (b[0] == 0xff)
		return GUARD_MULTICAST;			/* ff00::/8 */
	return GUARD_PUBLIC;			/* ULA fc00::/7 included */
}

/*
 * The local-use NAT64 prefix 64:ff9b:1::/48 (RFC 8215).  Operators carve a
 * /96 out of it, so the IPv4 address is read from the last 32 bits like
 * 64:ff9b::/96.  RFC 6052 also allows /48../64 formats there, which put
 * the IPv4 address elsewhere; reading every layout for the other classes
 * would deny ordinary private addresses (a zero suffix reads as 0.0.0.0),
 * but metadata is checked under every layout: a false match needs those
 * exact bytes and the cost of a miss is the cloud credentials.
 */
static enum guard_class
guard_classify_nat64_local(const unsigned char *b)
{
	const unsigned char	 v[3][4] = {
		{ b[9], b[10], b[11], b[12] },		/* /64 */
		{ b[7], b[9], b[10], b[11] },		/* /56 */
		{ b[6], b[7], b[9], b[10] },		/* /48 */
	};
	size_t			 i;

	for (i = 0; i < 3; i++)
		if (guard_classify_v4(guard_v4_at(v[i])) == GUARD_METADATA)
			return GUARD_METADATA;
	return guard_classify_v4(guard_v4_at(b + 12));	/* /96 */
}

enum guard_class
proxy_guard_classify(const struct sockaddr *sa)
{
	struct guard_addr	 ga;
	static const unsigned char nat64l[6] = {
		0x00, 0x64, 0xff, 0x9b, 0x00, 0x01
	};

	guard_load(sa, &ga);
	if (ga.family == AF_INET6 && memcmp(ga.v6, nat64l, 6) == 0)
		return guard_classify_nat64_local(ga.v6);
	guard_unwrap(&ga);
	switch (ga.family) {
	case AF_INET:
		return guard_classify_v4(ga.v4);
	case AF_INET6:
		return guard_classify_v6(ga.v6);
	default:
		return GUARD_UNSPECIFIED;
	}
}

const char *
proxy_guard_class_name(enum guard_class c)
{
	switch (c) {
	case GUARD_PUBLIC:
		return "public";
	case GUARD_METADATA:
		return "cloud metadata";
	case GUARD_LOOPBACK:
		return "loopback";
	case GUARD_UNSPECIFIED:
		return "unspecified";
	case GUARD_LINKLOCAL:
		return "link-local";
	case GUARD_MULTICAST:
		return "multicast, broadcast or reserved";
	}
	return "unknown";
}

bool
proxy_guard_metadata_name(const char *host)
{
	size_t	i, len, nlen;

	if (host == NULL)
		return false;
	len = strlen(host);
	if (len > 1 && host[len - 1] == '.')
		len--;			/* one trailing dot is the same name */
	for (i = 0; i < sizeof(guard_meta_names) / sizeof(guard_meta_names[0]);
	    i++) {
		nlen = strlen(guard_meta_names[i]);
		if (len == nlen &&
		    strncasecmp(host, guard_meta_names[i], len) == 0)
			return true;
	}
	return false;
}

const char *
proxy_guard_ntop(const struct sockaddr *sa, char *buf, size_t len)
{
	struct guard_addr	 ga;
	struct in_addr		 in;
	const char		*p = NULL;

	if (len == 0)
		return buf;
	guard_load(sa, &ga);
	if (ga.family == AF_INET) {
		in.s_addr = htonl(ga.v4);
		p = inet_ntop(AF_INET, &in, buf, (socklen_t)len);
	} else if (ga.family == AF_INET6)
		p = inet_ntop(AF_INET6, ga.v6, buf, (socklen_t)len);
	if (p == NULL)
		snprintf(buf, len, "%s", ga.family == AF_UNSPEC ?
		    "(not an IP address)" : "(address too long)");
	return buf;
}

/* Equal after unwrapping, ports ignored. */
static bool
guard_addr_equal(const struct guard_addr *a, const struct guard_addr *b)
{
	if (a->family != b->family || a->family == AF_UNSPEC)
		return false;
	if (a->family == AF_INET)
		return a->v4 == b->v4;
	return memcmp(a->v6, b->v6, 16) == 0;
}

bool
proxy_guard_same_addr(const struct sockaddr *a, const struct sockaddr *b)
{
	struct guard_addr	ga, gb;

	guard_load(a, &ga);
	guard_load(b, &gb);
	guard_unwrap(&ga);
	guard_unwrap(&gb);
	return guard_addr_equal(&ga, &gb);
}

/*
 * True when sa is the proxy's own listener self: the same address and
 * port.  A listener on the unspecified address answers on every local
 * address; of those, loopback and the unspecified address itself are the
 * ones a client can name without knowing the host's interfaces.
 */
static bool
guard_is_self(const struct sockaddr *sa, const struct sockaddr *self)
{
	struct guard_addr	ga, gs;

	if (self == NULL)
		return false;
	guard_load(sa, &ga);
	guard_load(self, &gs);
	if (ga.family == AF_UNSPEC || gs.family == AF_UNSPEC ||
	    ga.port != gs.port)
		return false;
	if (proxy_guard_classify(self) == GUARD_UNSPECIFIED) {
		switch (proxy_guard_classify(sa)) {
		case GUARD_LOOPBACK:
		case GUARD_UNSPECIFIED:
			return true;
		default:
			break;
		}
	}
	return proxy_guard_same_addr(sa, self);
}

int
proxy_guard_check(const struct sockaddr *sa, const struct sockaddr *self,
    bool explicit, struct errbuf *e)
{
	char			 text[INET6_ADDRSTRLEN + 32];
	struct guard_addr	 ga;
	enum guard_class	 c;

	guard_load(sa, &ga);
	if (ga.family == AF_UNSPEC) {
		errbuf_set(e, "address family %d is not IPv4 or IPv6",
		    sa == NULL ? AF_UNSPEC : sa->sa_family);
		return -1;
	}
	c = proxy_guard_classify(sa);
	proxy_guard_ntop(sa, text, sizeof(text));
	if (c == GUARD_METADATA) {
		errbuf_set(e, "address %s is %s", text,
		    proxy_guard_class_name(c));
		return -1;
	}
	if (guard_is_self(sa, self)) {
		if (ga.family == AF_INET6)
			errbuf_set(e, "address [%s]:%u is the proxy itself",
			    text, ga.port);
		else
			errbuf_set(e, "address %s:%u is the proxy itself",
			    text, ga.port);
		return -1;
	}
	if (c != GUARD_PUBLIC && !explicit) {
		errbuf_set(e, "address %s is %s", text,
		    proxy_guard_class_name(c));
		return -1;
	}
	return 0;
}
