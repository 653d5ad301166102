#ifndef KEYHOLE_SANDBOX_ENV_H
#define KEYHOLE_SANDBOX_ENV_H

#include <stdbool.h>
#include <stddef.h>

#include "util/strv.h"

struct plan;

/*
 * The child's environment (SPEC §6).
 *
 * Is value (len bytes, not NUL-terminated in general) equal to a loaded
 * secret?  Implemented by the credential store (constant-time compare).
 */
typedef bool env_secret_fn(const char *value, size_t len, void *arg);

/* True when name (up to '=' or NUL) is on keyhole's dangerous list. */
bool	 sandbox_env_dangerous(const char *name);

/*
 * True when name (up to '=' or NUL) holds a credential by convention
 * (SPEC §6): a well-known name, or one ending _API_KEY, _TOKEN, _SECRET.
 */
bool	 sandbox_env_credential(const char *name);

/*
 * True when name (up to '=' or NUL) matches pattern: an exact name,
 * "PREFIX*", or "*" for every name.
 */
bool	 sandbox_env_match(const char *pattern, const char *name);

/*
 * Build the child's envp into out (cleared first) from the NULL-terminated
 * environment in, in this order:
 *   1. inherited "NAME=value" entries, first occurrence of a name only,
 *      minus: the dangerous list; every name in drop (route env://
 *      sources; may be NULL); every value is_secret says is a secret
 *      (is_secret may be NULL); names not matching p->env_allow when
 *      p->env_allow_set; names matching p->env_deny (deny wins);
 *   2. p->env_set ("NAME=value"), replacing inherited ones, except names
 *      keyhole sets itself;
 *   3. keyhole's own variables ("NAME=value", e.g. from proxy_server_env;
 *      may be NULL), replacing any earlier entry of the same name.
 * p may be NULL (no profile rules).  Entries without '=' are dropped.  out
 * owns copies; it may hold tokens, so release it with sandbox_env_free().
 */
void	 sandbox_env_build(const struct plan *p, char *const *in,
	    const struct strv *drop, env_secret_fn *is_secret, void *arg,
	    const struct strv *keyhole_vars, struct strv *out);

/* What sandbox_env_build_report() removed that the user should hear of. */
struct env_report {
	struct strv	credentials;	/* non-empty credential variables */
	struct strv	dangerous;	/* dangerous variables */
};

/*
 * sandbox_env_build(), and also: inherited credential variables
 * (sandbox_env_credential) are removed unless keyhole_vars sets the name
 * (a route's phantom), p->env_keep names it (--allow-env) or a profile
 * allow_vars pattern other than "*" matches it.  When rep is not NULL,
 * the names of removed non-empty credential variables and of removed
 * dangerous ones are added to it (release with sandbox_env_report_free).
 * sandbox_env_build() is this with rep NULL.
 */
void	 sandbox_env_build_report(const struct plan *p, char *const *in,
	    const struct strv *drop, env_secret_fn *is_secret, void *arg,
	    const struct strv *keyhole_vars, struct strv *out,
	    struct env_report *rep);
void	 sandbox_env_report_free(struct env_report *);

/* Wipe and free every string of env (freezero_str), then the list. */
void	 sandbox_env_free(struct strv *env);

/*
 * Hide the values of names from /proc/<supervisor>/environ: overwrite with
 * zero bytes, in place, the value of each named variable in the original
 * environment block (the strings environ_at_start points to -- pass main's
 * envp, or a copy of environ taken before anything called setenv/unsetenv
 * -- and the kernel's env_start..env_end area), then unsetenv() each name.
 * Call it after the secrets were read.
 */
void	 sandbox_env_wipe_original(char **environ_at_start,
	    const struct strv *names);

#endif
