/*
 * keyring://service/account and bare account names (service "nono"): the
 * Secret Service over D-Bus through libsecret, opened with dlopen so that
 * keyhole runs where libsecret is absent (SPEC §5).
 *
 * We declare the few libsecret/GLib types we touch ourselves instead of
 * including their headers (which would drag GLib into the build).  They are
 * part of libsecret's stable ABI (secret-schema.h, GLib's gerror.h).
 *
 * secret_password_lookup_sync() is variadic.  Calling a variadic function
 * through a pointer of its exact variadic type is well defined; what is not
 * is calling it through a non-variadic prototype, so the pointer type below
 * repeats the real one, "..." included, and every vararg is a char * with a
 * (char *)NULL terminator as libsecret reads them.  The alternative,
 * secret_password_lookupv_sync(), takes a GHashTable and would need half a
 * dozen more GLib symbols resolved by hand for no gain in safety.
 */

#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "creds/secret.h"
#include "creds/source.h"
#include "util/log.h"
#include "util/xmalloc.h"

/* libsecret's SecretSchemaFlags and SecretSchemaAttributeType values. */
#define KEYRING_SCHEMA_DONT_MATCH_NAME	(1 << 1)
#define KEYRING_ATTRIBUTE_STRING	0

/* SecretSchemaAttribute */
struct keyring_attr {
	const char	*name;
	int		 type;
};

/* SecretSchema, with its reserved tail so the size matches. */
struct keyring_schema {
	const char		*name;
	int			 flags;
	struct keyring_attr	 attributes[32];
	int			 reserved;
	void			*reserved1;
	void			*reserved2;
	void			*reserved3;
	void			*reserved4;
	void			*reserved5;
	void			*reserved6;
	void			*reserved7;
};

/* GError */
struct keyring_gerror {
	uint32_t	 domain;
	int		 code;
	char		*message;
};

typedef char *keyring_lookup_fn(const struct keyring_schema *,
    void *cancellable, struct keyring_gerror **, ...);
typedef void keyring_free_fn(char *);
typedef void keyring_error_free_fn(struct keyring_gerror *);

/* Account and service names: [A-Za-z0-9_] plus, for services, ".-@+". */
static bool
keyring_name_ok(const char *s, size_t len, bool service)
{
	size_t	i;
	char	c;

	if (len == 0)
		return false;
	for (i = 0; i < len; i++) {
		c = s[i];
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '_')
			continue;
		if (service && strchr(".-@+", c) != NULL)
			continue;
		return false;
	}
	return true;
}

bool
creds_keyring_is_account(const char *s)
{
	return keyring_name_ok(s, strlen(s), false);
}

int
creds_keyring_parse(const char *body, char **service, char **account,
    struct errbuf *e)
{
	const char	*slash;

	*service = *account = NULL;
	slash = strchr(body, '/');
	if (slash == NULL) {
		errbuf_set(e, "expected keyring://service/account");
		return -1;
	}
	if (!keyring_name_ok(body, (size_t)(slash - body), true)) {
		errbuf_set(e, "service may only hold A-Z a-z 0-9 _ . - @ +");
		return -1;
	}
	if (!keyring_name_ok(slash + 1, strlen(slash + 1), false)) {
		errbuf_set(e, "account may only hold A-Z a-z 0-9 _");
		return -1;
	}
	*service = xstrndup(body, (size_t)(slash - body));
	*account = xstrdup(slash + 1);
	return 0;
}

/*
 * True when a session bus can be found without autolaunching one: GDBus
 * would otherwise try dbus-launch, which on a headless host can hang or
 * start an X11 helper.
 */
static bool
keyring_have_bus(char *const *envp)
{
	const char	*addr, *rt;
	struct stat	 st;
	char		*path;
	bool		 ok;

	addr = creds_env_lookup(envp, "DBUS_SESSION_BUS_ADDRESS");
	if (addr != NULL && *addr != '\0')
		return true;
	rt = creds_env_lookup(envp, "XDG_RUNTIME_DIR");
	if (rt == NULL || *rt != '/')
		return false;
	path = xasprintf("%s/bus", rt);
	ok = stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
	free(path);
	return ok;
}

struct secret *
creds_keyring_load(const struct creds_ctx *ctx, const char *service,
    const char *account, struct errbuf *why)
{
	struct keyring_schema	 schema;
	struct keyring_gerror	*gerr = NULL;
	keyring_lookup_fn	*lookup;
	keyring_free_fn		*pwfree;
	keyring_error_free_fn	*errfree;
	struct secret		*s;
	char			*pw, esc[256];
	void			*h;

	/*
	 * The handle is never closed: GLib starts threads and registers
	 * types that cannot be unloaded.  dlopen of an open library only
	 * bumps its count.
	 */
	h = dlopen(ctx->libsecret, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		errbuf_set(why, "libsecret not found (%s)", ctx->libsecret);
		return NULL;
	}
	lookup = (keyring_lookup_fn *)dlsym(h, "secret_password_lookup_sync");
	pwfree = (keyring_free_fn *)dlsym(h, "secret_password_free");
	errfree = (keyring_error_free_fn *)dlsym(h, "g_error_free");
	if (lookup == NULL || pwfree == NULL || errfree == NULL) {
		errbuf_set(why, "libsecret (%s) lacks "
		    "secret_password_lookup_sync", ctx->libsecret);
		return NULL;
	}
	if (!keyring_have_bus(ctx->envp)) {
		errbuf_set(why, "no D-Bus session bus for the keyring "
		    "(DBUS_SESSION_BUS_ADDRESS is unset)");
		return NULL;
	}

	/*
	 * Reasons name neither service nor account: a bare "account" may be
	 * a key pasted where a reference belongs.
	 */

	/* The attributes keyring-rs (so nono) stores; any schema name. */
	memset(&schema, 0, sizeof(schema));
	schema.name = "org.freedesktop.Secret.Generic";
	schema.flags = KEYRING_SCHEMA_DONT_MATCH_NAME;
	schema.attributes[0].name = "service";
	schema.attributes[0].type = KEYRING_ATTRIBUTE_STRING;
	schema.attributes[1].name = "username";
	schema.attributes[1].type = KEYRING_ATTRIBUTE_STRING;
	schema.attributes[2].name = "target";
	schema.attributes[2].type = KEYRING_ATTRIBUTE_STRING;

	pw = lookup(&schema, NULL, &gerr, "service", service, "username",
	    account, "target", "default", (char *)NULL);
	if (gerr != NULL) {
		log_escape(esc, sizeof(esc), gerr->message != NULL ?
		    gerr->message : "", gerr->message != NULL ?
		    strlen(gerr->message) : 0);
		errbuf_set(why, "keyring lookup failed: %s", esc);
		errfree(gerr);
		if (pw != NULL)
			pwfree(pw);
		return NULL;
	}
	if (pw == NULL) {
		errbuf_set(why, "no such keyring item");
		return NULL;
	}
	if (*pw == '\0') {
		pwfree(pw);
		errbuf_set(why, "keyring item is empty");
		return NULL;
	}
	s = creds_secret_new(pw, strlen(pw));
	pwfree(pw);	/* secret_password_free wipes before freeing */
	return s;
}
