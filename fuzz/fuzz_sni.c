/*
 * SNI extraction from a TLS ClientHello (proxy/sni.h).
 *
 * Input: one byte choosing the name buffer size (1..256, exact-size heap
 * buffer), then the bytes the client sent through the tunnel.
 *
 * Invariants: a found name is NUL-terminated inside the buffer, non-empty,
 * lower case and only visible ASCII; every prefix of an input whose
 * answer is FOUND answers MORE or the same name.
 */
#include <ctype.h>

#include "fuzz.h"
#include "proxy/sni.h"

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

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz		 f = { data, size };
	size_t			 namesz, n, cut, i;
	char			*name, *name2, *in;
	enum sni_result		 r, r2;

	namesz = (size_t)fz_byte(&f) + 1;
	in = fz_rest(&f, &n);
	if ((name = malloc(namesz)) == NULL ||
	    (name2 = malloc(namesz)) == NULL)
		abort();
	r = proxy_sni_parse((unsigned char *)in, n, name, namesz);
	FZ_ASSERT(r >= SNI_NONE && r <= SNI_BAD, "result %d", r);
	if (r == SNI_FOUND) {
		FZ_ASSERT(memchr(name, '\0', namesz) != NULL, "unterminated");
		FZ_ASSERT(name[0] != '\0', "empty name");
		for (i = 0; name[i] != '\0'; i++)
			FZ_ASSERT(name[i] > 0x20 && name[i] < 0x7f &&
			    !isupper((unsigned char)name[i]), "byte %#x",
			    name[i]);
		/* Any prefix: not there yet, or the same answer. */
		for (cut = 0; cut < n; cut += 1 + cut / 4) {
			r2 = proxy_sni_parse((unsigned char *)in, cut, name2,
			    namesz);
			FZ_ASSERT(r2 == SNI_MORE || (r2 == SNI_FOUND &&
			    strcmp(name, name2) == 0),
			    "prefix %zu of %zu: %d", cut, n, r2);
		}
	}
	free(name);
	free(name2);
	free(in);
	return 0;
}
