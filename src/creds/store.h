#ifndef KEYHOLE_CREDS_STORE_H
#define KEYHOLE_CREDS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/errbuf.h"
#include "util/strv.h"

struct secret;

/*
 * The credential store (SPEC §5): named secrets, each from one source
 * reference (a route's credential_key):
 *   env://NAME                 the environment snapshot given to _new
 *   file:///abs/path           re-read when the file changes
 *   op://vault/item/field      `op read -- <uri>`
 *   keyring://service/account  Secret Service via libsecret (dlopen)
 *   ACCOUNT                    the same with service "nono"
 *   cmd://COMMAND ARGS...      the command's stdout
 * A malformed reference is an error; a secret that cannot be had right
 * now only makes its name unavailable, with a reason that never holds
 * secret bytes.
 */
struct creds_store;	/* opaque */

/* Milliseconds on a monotonic clock; replaceable for tests. */
typedef uint64_t creds_clock_fn(void *arg);

/* How often a file:// source is checked for changes, at most. */
#define CREDS_FILE_CHECK_MS	1000

/*
 * A new, empty store.  envp is the supervisor's environment as it was at
 * start ("NAME=value" strings, NULL-terminated; NULL means empty); it is
 * borrowed and must stay valid and unchanged until the last
 * creds_store_add(): env:// values are copied into secrets then, and
 * op/cmd helpers run with it as their environment (and its PATH).
 */
struct creds_store *creds_store_new(char *const *envp);

/*
 * Deadline for op and cmd helpers (default 30 s); <= 0 restores the
 * default.  Affects later adds.
 */
void	 creds_store_set_timeout(struct creds_store *, int ms);
/* Replace the monotonic clock (tests); NULL restores CLOCK_MONOTONIC. */
void	 creds_store_set_clock(struct creds_store *, creds_clock_fn *,
	    void *arg);
/* dlopen this instead of libsecret-1.so.0 (tests); NULL: the default. */
void	 creds_store_set_libsecret(struct creds_store *, const char *soname);

/*
 * Add secret name from reference ref and load it once now.  0 when ref
 * is well formed, whether or not the secret is available (see
 * creds_store_reason); -1 with e, naming the credential and the
 * reference, when ref is malformed, uses an unsupported scheme
 * (apple-password://, bw:// ...) or name was already added.  An
 * unrecognised reference is not echoed: it might be a pasted key.
 */
int	 creds_store_add(struct creds_store *, const char *name,
	    const char *ref, struct errbuf *e);

/*
 * The secret of name, borrowed until the next call on this store, or NULL
 * when name is unknown or unavailable right now.  For file:// sources
 * this first checks, at most once per CREDS_FILE_CHECK_MS, whether the
 * file changed and re-reads it if so.
 */
const struct secret *creds_store_get(struct creds_store *, const char *name);

/*
 * Why name is unavailable, as of its last load ("op CLI not found"), for
 * logs; borrowed until the next call on this store.  NULL when name is
 * available; "unknown credential" when it was never added.
 */
const char *creds_store_reason(const struct creds_store *, const char *name);

/*
 * True if value[0..len) equals any secret loaded now.  Each comparison is
 * constant-time and every secret is compared, so the time does not say
 * which one matched (only secrets of length len cost a byte comparison).
 */
bool	 creds_store_matches_value(const struct creds_store *,
	    const void *value, size_t len);

/*
 * Check every file:// source now (whatever CREDS_FILE_CHECK_MS says) and
 * re-read those whose file changed: a directory watch saw something.
 */
void	 creds_store_refresh(struct creds_store *);
/* Append (once each) the path of every file:// source. */
void	 creds_store_file_paths(const struct creds_store *, struct strv *out);
/*
 * Loads so far (each add, each re-read): those that gave a secret and
 * those that did not.
 */
void	 creds_store_counts(const struct creds_store *, uint64_t *loads,
	    uint64_t *failures);

/* Append (once each) the name of every variable an env:// source reads. */
void	 creds_store_env_names(const struct creds_store *, struct strv *out);

/* Wipe every secret and free the store; NULL is a no-op. */
void	 creds_store_free(struct creds_store *);

#endif
