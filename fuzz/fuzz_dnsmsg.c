/*
 * The sandbox answerer's DNS query parser and answer builder
 * (util/dnsmsg.h): the bytes are what a sandboxed process sent to port 53.
 *
 * Input: one byte choosing the transport (even: UDP, odd: TCP, the rest
 * framed with its two-byte length), then the message.
 *
 * Invariants: a parsed name is at most 253 bytes of [a-z0-9_-.] when
 * name_ok, empty otherwise; every answer is a response (QR) with the
 * query's id, no longer than the transport's limit, and says TC exactly
 * when the records did not fit; the question is echoed byte for byte.
 */
#include <netinet/in.h>

#include "fuzz.h"
#include "util/dnsmsg.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_quiet();
	return 0;
}

static uint8_t	 out[DNSMSG_MAX + 2];

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz		 f = { data, size };
	struct dnsmsg_query	 q;
	struct sockaddr_storage	 a[64];
	const uint8_t		*msg;
	char			*in;
	size_t			 n, len, i, lim;
	bool			 tcp;
	enum dnsmsg_parse	 r;

	tcp = fz_byte(&f) & 1;
	in = fz_rest(&f, &n);
	msg = (uint8_t *)in;
	len = n;
	if (tcp) {
		len = dnsmsg_tcp_take((uint8_t *)in, n, &msg);
		if (len == 0 || len == SIZE_MAX) {
			FZ_ASSERT(msg == NULL, "message without length");
			free(in);
			return 0;
		}
		FZ_ASSERT(len + 2 <= n, "frame %zu of %zu", len, n);
	}
	r = dnsmsg_parse(msg, len, &q);
	if (r == DNSMSG_DROP) {
		free(in);
		return 0;
	}
	FZ_ASSERT(strlen(q.name) <= DNSMSG_NAME_MAX, "name length");
	for (i = 0; q.name[i] != '\0'; i++)
		FZ_ASSERT(q.name_ok && (q.name[i] == '.' || q.name[i] == '-' ||
		    q.name[i] == '_' || (q.name[i] >= 'a' && q.name[i] <= 'z') ||
		    (q.name[i] >= '0' && q.name[i] <= '9')), "byte %#x",
		    (unsigned char)q.name[i]);
	memset(a, 0, sizeof(a));
	for (i = 0; i < 64; i++) {
		a[i].ss_family = (i % 3) ? AF_INET : AF_INET6;
		memset((char *)&a[i] + 4, (int)i, 20);
	}
	lim = dnsmsg_limit(&q, tcp);
	n = dnsmsg_answer(&q, r == DNSMSG_OK ? DNSMSG_NOERROR : q.rcode, a,
	    (size_t)(len % 65), 300, lim, out, sizeof(out));
	FZ_ASSERT(n >= DNSMSG_HDR && n <= lim, "answer %zu limit %zu", n, lim);
	FZ_ASSERT((out[2] & 0x80) && out[0] == msg[0] && out[1] == msg[1],
	    "not our response");
	if (r == DNSMSG_OK) {
		FZ_ASSERT(memcmp(out + DNSMSG_HDR, msg + DNSMSG_HDR,
		    q.wirelen + 4) == 0, "question not echoed");
		FZ_ASSERT(!(out[2] & 0x02) || out[7] == 0, "TC with records");
	}
	n = dnsmsg_tcp_frame(out, n);
	FZ_ASSERT(n >= DNSMSG_HDR + 2, "frame");
	free(in);
	return 0;
}
