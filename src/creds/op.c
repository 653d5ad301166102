/*
 * op://vault/item/field: 1Password through its CLI, `op read -- <uri>`.
 */

#include <string.h>

#include "creds/secret.h"
#include "creds/source.h"

int
creds_op_parse(const char *uri, struct errbuf *e)
{
	const char	*p, *body = uri + strlen("op://");
	size_t		 len, nseg = 0;

	/* op would never need these; a shell or op's own syntax might. */
	for (p = uri; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f ||
		    strchr("?#;|&$`(){}<>!\\\"'", *p) != NULL) {
			errbuf_set(e, "reference has a forbidden character "
			    "(one of ?#;|&$`(){}<>!\\\"' or a control "
			    "character)");
			return -1;
		}
	}
	for (p = body;; p += len + 1) {
		len = strcspn(p, "/");
		if (len == 0) {
			errbuf_set(e, "reference has an empty segment "
			    "(op://vault/item/field)");
			return -1;
		}
		nseg++;
		if (p[len] == '\0')
			break;
	}
	if (nseg < 3) {
		errbuf_set(e, "reference needs vault, item and field "
		    "(op://vault/item/field)");
		return -1;
	}
	return 0;
}

/* True when the NUL-terminated haystack contains needle, any case. */
static bool
op_has(const char *haystack, const char *needle)
{
	return strcasestr(haystack, needle) != NULL;
}

struct secret *
creds_op_load(const struct creds_ctx *ctx, const char *uri,
    struct errbuf *why)
{
	struct creds_run	 r;
	struct secret		*s = NULL;
	char			*argv[5];
	size_t			 len;

	argv[0] = (char *)"op";
	argv[1] = (char *)"read";
	argv[2] = (char *)"--";
	argv[3] = (char *)uri;
	argv[4] = NULL;
	memset(&r, 0, sizeof(r));
	if (creds_run_argv(argv, ctx->envp, ctx->timeout_ms, &r,
	    why) == -1) {
		errbuf_wrap(why, "op");
		return NULL;
	}
	if (r.end == CREDS_RUN_NOTFOUND) {
		errbuf_set(why, "op CLI not found");
		goto out;
	}
	if (r.end != CREDS_RUN_EXITED) {
		creds_run_describe(&r, "op", ctx->timeout_ms, why);
		goto out;
	}
	/*
	 * stderr only picks the reason; it is never shown, since a confused
	 * helper could echo secret bytes there.
	 */
	if (r.status != 0) {
		if (op_has(r.err, "not signed in") ||
		    op_has(r.err, "sign in") ||
		    op_has(r.err, "signed in") ||
		    op_has(r.err, "authentication required") ||
		    op_has(r.err, "session expired"))
			errbuf_set(why, "op: not signed in");
		else if (op_has(r.err, "not found") ||
		    op_has(r.err, "could not find") ||
		    op_has(r.err, "isn't an item"))
			errbuf_set(why, "op: item not found");
		else
			creds_run_describe(&r, "op", ctx->timeout_ms, why);
		goto out;
	}
	len = r.outlen;
	while (len > 0 && (r.out[len - 1] == '\n' || r.out[len - 1] == '\r'))
		len--;
	if (len == 0) {
		errbuf_set(why, "op printed nothing");
		goto out;
	}
	s = creds_secret_new(r.out, len);
out:
	creds_run_clear(&r);
	return s;
}
