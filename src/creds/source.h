#ifndef KEYHOLE_CREDS_SOURCE_H
#define KEYHOLE_CREDS_SOURCE_H

/*
 * Credential sources (SPEC §5), internal to src/creds: only store.c and
 * the per-source files include this.  Each source has
 *   creds_<src>_parse()  check the reference (the part after "scheme://");
 *                        -1 with e saying what is wrong with it: malformed
 *                        references are errors (SPEC §9);
 *   creds_<src>_load()   fetch the secret now: a new secret, or NULL with
 *                        why holding a short reason ("op CLI not found").
 *                        Unavailable is never fatal, and no reason ever
 *                        carries secret bytes.
 * Every buffer that held secret bytes is wiped before it is freed.
 */

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "util/errbuf.h"
#include "util/strv.h"

struct secret;

/* Largest secret any source returns; more is "unavailable". */
#define CREDS_SECRET_MAX	(64 * 1024)
/* Default deadline for op, cmd (SPEC §5 via nono: 30 s). */
#define CREDS_RUN_TIMEOUT_MS	30000
/* Bytes of a helper's stderr kept for classification. */
#define CREDS_RUN_ERR_MAX	4096
/* The Secret Service client library, opened with dlopen (SPEC §5). */
#define CREDS_LIBSECRET		"libsecret-1.so.0"
/* Keyring service of bare account names, as nono. */
#define CREDS_KEYRING_SERVICE	"nono"

/* What a load needs besides the reference.  All borrowed. */
struct creds_ctx {
	char *const	*envp;		/* environment snapshot; may be NULL */
	int		 timeout_ms;	/* op, cmd */
	const char	*libsecret;	/* soname for dlopen */
};

/*
 * Value of name in envp ("NAME=value"), or NULL.  Borrowed from envp.
 */
const char *creds_env_lookup(char *const *envp, const char *name);

/* env:// (env.c) */
/* True for names on SPEC's dangerous-variable list (case-insensitive). */
bool	 creds_env_dangerous(const char *name);
/* body: NAME.  -1 with e when not [A-Za-z0-9_]+ or dangerous. */
int	 creds_env_parse(const char *body, struct errbuf *e);
struct secret *creds_env_load(const struct creds_ctx *, const char *name,
	    struct errbuf *why);

/* file:// (file.c) */
/* What a file looked like when it was last read: its change detector. */
struct creds_file_stamp {
	bool		 valid;		/* false: could not be opened */
	dev_t		 dev;
	ino_t		 ino;
	off_t		 size;
	struct timespec	 mtime;
	struct timespec	 ctime;
};
/* body: "/abs/path".  -1 with e on a relative path, "/", "..", bad bytes. */
int	 creds_file_parse(const char *body, struct errbuf *e);
/* Read the file; *stamp describes what was read (valid false: missing). */
struct secret *creds_file_load(const char *path,
	    struct creds_file_stamp *stamp, struct errbuf *why);
/* True when path no longer matches stamp (appeared, vanished, rewritten). */
bool	 creds_file_changed(const char *path,
	    const struct creds_file_stamp *stamp);

/* op:// (op.c) */
/* uri: the whole "op://vault/item/field".  -1 with e when malformed. */
int	 creds_op_parse(const char *uri, struct errbuf *e);
struct secret *creds_op_load(const struct creds_ctx *, const char *uri,
	    struct errbuf *why);

/* keyring:// and bare account names (keyring.c) */
/* body: "service/account"; fills both (owned).  -1 with e. */
int	 creds_keyring_parse(const char *body, char **service, char **account,
	    struct errbuf *e);
/* True when s is a bare keyring account name: [A-Za-z0-9_]+. */
bool	 creds_keyring_is_account(const char *s);
struct secret *creds_keyring_load(const struct creds_ctx *,
	    const char *service, const char *account, struct errbuf *why);

/* cmd:// (cmd.c) */
/* body: "COMMAND ARGS..." split on spaces into argv.  -1 with e. */
int	 creds_cmd_parse(const char *body, struct strv *argv,
	    struct errbuf *e);
struct secret *creds_cmd_load(const struct creds_ctx *,
	    const struct strv *argv, struct errbuf *why);

/*
 * Running a helper program (run.c), shared by op and cmd: no shell, stdin
 * /dev/null, stdout and stderr captured, its own process group, killed
 * with the group at the deadline.
 */
enum creds_run_end {
	CREDS_RUN_EXITED = 0,	/* status holds the exit status */
	CREDS_RUN_SIGNALED,	/* status holds the signal */
	CREDS_RUN_TIMEOUT,	/* killed at the deadline */
	CREDS_RUN_TOOBIG,	/* stdout over CREDS_SECRET_MAX; killed */
	CREDS_RUN_NOTFOUND,	/* no such program on PATH */
};

struct creds_run {
	enum creds_run_end	 end;
	int			 status;
	unsigned char		*out;		/* owned; wiped by clear */
	size_t			 outlen;
	size_t			 outcap;
	char			 err[CREDS_RUN_ERR_MAX + 1]; /* NUL-ended */
	size_t			 errlen;
};

/*
 * Run argv[0] (searched on envp's PATH when it has no '/') with envp as
 * its environment.  0 with r filled (any end, check r->end), or -1 with
 * why when it could not be started for another reason than "not found".
 */
int	 creds_run_argv(char *const argv[], char *const *envp,
	    int timeout_ms, struct creds_run *r, struct errbuf *why);
/* "<what> timed out after 30 s" etc. for an end that is not a clean exit. */
void	 creds_run_describe(const struct creds_run *, const char *what,
	    int timeout_ms, struct errbuf *why);
/* Wipe and free the captured output; r can be reused. */
void	 creds_run_clear(struct creds_run *r);

#endif
