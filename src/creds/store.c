/*
 * The credential store: parses source references, loads each secret once
 * at add time, and re-reads file:// sources when the file changes so that
 * a Vault agent sidecar that writes late or rotates works (SPEC §5).
 */

#include "creds/store.h"

#include <stdlib.h>
#include <string.h>

#include "creds/secret.h"
#include "creds/source.h"
#include "util/log.h"
#include "util/mono.h"
#include "util/xmalloc.h"

/* Room for a reference in an error message, escaped. */
#define STORE_REF_ESC_MAX	512

enum store_kind {
	STORE_ENV,
	STORE_FILE,
	STORE_OP,
	STORE_KEYRING,
	STORE_CMD,
};

struct store_entry {
	char			*name;		/* owned */
	enum store_kind		 kind;
	char			*arg;		/* owned; env name, path, op
						   uri or keyring service */
	char			*account;	/* owned; keyring only */
	struct strv		 argv;		/* owned; cmd only */
	struct secret		*secret;	/* owned; NULL: unavailable */
	char			*reason;	/* owned; NULL when available */
	struct creds_file_stamp	 stamp;		/* file only */
	uint64_t		 checked;	/* file only: last check, ms */
};

struct creds_store {
	char *const		*envp;		/* borrowed */
	int			 timeout_ms;
	creds_clock_fn		*clock;
	void			*clock_arg;
	char			*libsecret;	/* owned */
	struct store_entry	*v;		/* owned array */
	size_t			 n;
	uint64_t		 loads;		/* secrets loaded */
	uint64_t		 failures;	/* loads that gave none */
};

/* Schemes that exist elsewhere but not here (SPEC §5, nono's list). */
static const char *const store_unsupported[] = {
	"apple-password://", "apple-passwords://", "bw://",
};

/* The store's clock unless a test sets one: monotonic milliseconds. */
static uint64_t
store_monotonic(void *arg)
{
	(void)arg;
	return mono_ms();
}

struct creds_store *
creds_store_new(char *const *envp)
{
	struct creds_store	*st;

	st = xcalloc(1, sizeof(*st));
	st->envp = envp;
	st->timeout_ms = CREDS_RUN_TIMEOUT_MS;
	st->clock = store_monotonic;
	st->libsecret = xstrdup(CREDS_LIBSECRET);
	return st;
}

void
creds_store_set_timeout(struct creds_store *st, int ms)
{
	st->timeout_ms = ms > 0 ? ms : CREDS_RUN_TIMEOUT_MS;
}

void
creds_store_set_clock(struct creds_store *st, creds_clock_fn *fn, void *arg)
{
	st->clock = fn != NULL ? fn : store_monotonic;
	st->clock_arg = fn != NULL ? arg : NULL;
}

void
creds_store_set_libsecret(struct creds_store *st, const char *soname)
{
	free(st->libsecret);
	st->libsecret = xstrdup(soname != NULL ? soname : CREDS_LIBSECRET);
}

/* The entry called name, or NULL. */
static struct store_entry *
store_find(const struct creds_store *st, const char *name)
{
	size_t	i;

	for (i = 0; i < st->n; i++)
		if (strcmp(st->v[i].name, name) == 0)
			return &st->v[i];
	return NULL;
}

/* True when ref starts with prefix. */
static bool
store_prefix(const char *ref, const char *prefix)
{
	return strncmp(ref, prefix, strlen(prefix)) == 0;
}

/*
 * Parse ref into ent (kind and arguments).  -1 with e saying what is
 * wrong; the caller adds which credential and reference.  *echo is set
 * false when the reference should not be repeated in the message.
 */
static int
store_parse(struct store_entry *ent, const char *ref, bool *echo,
    struct errbuf *e)
{
	const char	*body, *colon;
	size_t		 i;

	*echo = true;
	for (i = 0; i < sizeof(store_unsupported) /
	    sizeof(*store_unsupported); i++) {
		if (store_prefix(ref, store_unsupported[i])) {
			errbuf_set(e, "%.*s:// is not supported on Linux",
			    (int)(strlen(store_unsupported[i]) - 3),
			    store_unsupported[i]);
			return -1;
		}
	}
	if (store_prefix(ref, "env://")) {
		body = ref + strlen("env://");
		ent->kind = STORE_ENV;
		if (creds_env_parse(body, e) == -1)
			return -1;
		ent->arg = xstrdup(body);
		return 0;
	}
	if (store_prefix(ref, "file://")) {
		body = ref + strlen("file://");
		ent->kind = STORE_FILE;
		if (creds_file_parse(body, e) == -1)
			return -1;
		ent->arg = xstrdup(body);
		return 0;
	}
	if (store_prefix(ref, "op://")) {
		ent->kind = STORE_OP;
		if (creds_op_parse(ref, e) == -1)
			return -1;
		ent->arg = xstrdup(ref);
		return 0;
	}
	if (store_prefix(ref, "keyring://")) {
		body = ref + strlen("keyring://");
		ent->kind = STORE_KEYRING;
		return creds_keyring_parse(body, &ent->arg, &ent->account, e);
	}
	if (store_prefix(ref, "cmd://")) {
		body = ref + strlen("cmd://");
		ent->kind = STORE_CMD;
		return creds_cmd_parse(body, &ent->argv, e);
	}
	if (creds_keyring_is_account(ref)) {
		ent->kind = STORE_KEYRING;
		ent->arg = xstrdup(CREDS_KEYRING_SERVICE);
		ent->account = xstrdup(ref);
		return 0;
	}
	/*
	 * Not a reference we know.  It may be the key itself pasted into
	 * credential_key, so name at most a short, scheme-looking prefix.
	 */
	*echo = false;
	colon = strstr(ref, "://");
	if (colon != NULL && colon > ref && colon - ref <= 16 &&
	    strspn(ref, "abcdefghijklmnopqrstuvwxyz0123456789+-.") ==
	    (size_t)(colon - ref))
		errbuf_set(e, "unknown scheme %.*s://", (int)(colon - ref),
		    ref);
	else
		errbuf_set(e, "reference is not env://, file://, op://, "
		    "keyring://, cmd:// or a keyring account name");
	return -1;
}

/* Load (or reload) ent's secret now, replacing what it had. */
static void
store_load(struct creds_store *st, struct store_entry *ent)
{
	struct creds_ctx	 ctx;
	struct errbuf		 why;

	ctx.envp = st->envp;
	ctx.timeout_ms = st->timeout_ms;
	ctx.libsecret = st->libsecret;
	errbuf_clear(&why);
	creds_secret_free(ent->secret);
	ent->secret = NULL;
	switch (ent->kind) {
	case STORE_ENV:
		ent->secret = creds_env_load(&ctx, ent->arg, &why);
		break;
	case STORE_FILE:
		ent->secret = creds_file_load(ent->arg, &ent->stamp, &why);
		ent->checked = st->clock(st->clock_arg);
		break;
	case STORE_OP:
		ent->secret = creds_op_load(&ctx, ent->arg, &why);
		break;
	case STORE_KEYRING:
		ent->secret = creds_keyring_load(&ctx, ent->arg, ent->account,
		    &why);
		break;
	case STORE_CMD:
		ent->secret = creds_cmd_load(&ctx, &ent->argv, &why);
		break;
	}
	free(ent->reason);
	ent->reason = NULL;
	if (ent->secret != NULL)
		st->loads++;
	else
		st->failures++;
	if (ent->secret == NULL)
		ent->reason = xstrdup(errbuf_msg(&why)[0] != '\0' ?
		    errbuf_msg(&why) : "unavailable");
}

/* Free what ent owns, wiping its secret. */
static void
store_entry_clear(struct store_entry *ent)
{
	free(ent->name);
	free(ent->arg);
	free(ent->account);
	strv_free(&ent->argv);
	creds_secret_free(ent->secret);
	free(ent->reason);
	memset(ent, 0, sizeof(*ent));
}

int
creds_store_add(struct creds_store *st, const char *name, const char *ref,
    struct errbuf *e)
{
	struct store_entry	 ent;
	char			 esc[STORE_REF_ESC_MAX];
	bool			 echo;

	if (store_find(st, name) != NULL) {
		errbuf_set(e, "credential %s: already defined", name);
		return -1;
	}
	memset(&ent, 0, sizeof(ent));
	if (store_parse(&ent, ref, &echo, e) == -1) {
		if (echo) {
			log_escape(esc, sizeof(esc), ref, strlen(ref));
			errbuf_wrap(e, "credential %s: %s", name, esc);
		} else
			errbuf_wrap(e, "credential %s", name);
		store_entry_clear(&ent);
		return -1;
	}
	ent.name = xstrdup(name);
	st->v = xreallocarray(st->v, st->n + 1, sizeof(*st->v));
	st->v[st->n] = ent;
	store_load(st, &st->v[st->n]);
	st->n++;
	return 0;
}

/* Re-read ent (a file source) when its file changed; say what changed. */
static void
store_recheck(struct creds_store *st, struct store_entry *ent, uint64_t now)
{
	bool	had;

	ent->checked = now;
	if (!creds_file_changed(ent->arg, &ent->stamp))
		return;
	had = ent->secret != NULL;
	store_load(st, ent);
	if (ent->secret != NULL)
		log_info("credential %s: %s from %s", ent->name,
		    had ? "reloaded" : "now available", ent->arg);
	else if (had)
		log_info("credential %s: now unavailable: %s", ent->name,
		    ent->reason);
}

const struct secret *
creds_store_get(struct creds_store *st, const char *name)
{
	struct store_entry	*ent;
	uint64_t		 now;

	if ((ent = store_find(st, name)) == NULL)
		return NULL;
	if (ent->kind != STORE_FILE)
		return ent->secret;
	/* A stat per request would be cheap, but once a second is enough. */
	now = st->clock(st->clock_arg);
	if (now - ent->checked >= CREDS_FILE_CHECK_MS)
		store_recheck(st, ent, now);
	return ent->secret;
}

void
creds_store_refresh(struct creds_store *st)
{
	uint64_t	now = st->clock(st->clock_arg);
	size_t		i;

	for (i = 0; i < st->n; i++)
		if (st->v[i].kind == STORE_FILE)
			store_recheck(st, &st->v[i], now);
}

void
creds_store_file_paths(const struct creds_store *st, struct strv *out)
{
	size_t	i;

	for (i = 0; i < st->n; i++)
		if (st->v[i].kind == STORE_FILE)
			strv_push_unique(out, st->v[i].arg);
}

void
creds_store_counts(const struct creds_store *st, uint64_t *loads,
    uint64_t *failures)
{
	*loads = st->loads;
	*failures = st->failures;
}

const char *
creds_store_reason(const struct creds_store *st, const char *name)
{
	const struct store_entry	*ent;

	if ((ent = store_find(st, name)) == NULL)
		return "unknown credential";
	return ent->reason;
}

bool
creds_store_matches_value(const struct creds_store *st, const void *value,
    size_t len)
{
	size_t	i;
	bool	found = false;

	/* No early exit: every secret is compared whatever matched. */
	for (i = 0; i < st->n; i++)
		found |= creds_secret_equal(st->v[i].secret, value, len);
	return found;
}

void
creds_store_env_names(const struct creds_store *st, struct strv *out)
{
	size_t	i;

	for (i = 0; i < st->n; i++)
		if (st->v[i].kind == STORE_ENV)
			strv_push_unique(out, st->v[i].arg);
}

void
creds_store_free(struct creds_store *st)
{
	size_t	i;

	if (st == NULL)
		return;
	for (i = 0; i < st->n; i++)
		store_entry_clear(&st->v[i]);
	free(st->v);
	free(st->libsecret);
	free(st);
}
