/*
 * cmd://COMMAND ARGS...: run a command (no shell) and take its stdout.
 */

#include <string.h>

#include "creds/secret.h"
#include "creds/source.h"

int
creds_cmd_parse(const char *body, struct strv *argv, struct errbuf *e)
{
	const char	*p;

	for (p = body; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			errbuf_set(e, "command has a control character");
			return -1;
		}
	}
	/* Split on spaces only: no quoting, no globbing, no variables. */
	strv_split_push(argv, body, ' ');
	if (argv->n == 0) {
		errbuf_set(e, "empty command");
		return -1;
	}
	return 0;
}

/* True for the whitespace trimmed from the end of a command's output. */
static bool
cmd_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
	    c == '\v' || c == '\f';
}

struct secret *
creds_cmd_load(const struct creds_ctx *ctx, const struct strv *argv,
    struct errbuf *why)
{
	struct creds_run	 r;
	struct secret		*s = NULL;
	size_t			 len;

	memset(&r, 0, sizeof(r));
	if (creds_run_argv(argv->v, ctx->envp, ctx->timeout_ms, &r,
	    why) == -1) {
		errbuf_wrap(why, "cmd");
		return NULL;
	}
	if (r.end == CREDS_RUN_NOTFOUND) {
		errbuf_set(why, "cmd: %s not found", argv->v[0]);
		goto out;
	}
	if (r.end != CREDS_RUN_EXITED || r.status != 0) {
		creds_run_describe(&r, "cmd", ctx->timeout_ms, why);
		goto out;
	}
	len = r.outlen;
	while (len > 0 && cmd_space(r.out[len - 1]))
		len--;
	if (len == 0) {
		errbuf_set(why, "cmd printed nothing");
		goto out;
	}
	s = creds_secret_new(r.out, len);
out:
	creds_run_clear(&r);
	return s;
}
