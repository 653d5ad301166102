/*
 * env://NAME: a secret from the supervisor's environment, as it was when
 * the store was created (the supervisor scrubs its own environment later).
 */

#include <string.h>
#include <strings.h>

#include "creds/secret.h"
#include "creds/source.h"

/*
 * Variables that change how programs load code or find files (SPEC §5,
 * nono's list minus the macOS DYLD_* ones): reading a "secret" from them
 * would hand that value to every route and hide the variable's purpose.
 */
static const char *const env_dangerous[] = {
	"LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT", "BASH_ENV", "ENV", "IFS",
	"CDPATH", "PROMPT_COMMAND", "NODE_OPTIONS", "NODE_PATH",
	"PYTHONSTARTUP", "PYTHONPATH", "PERL5OPT", "PERL5LIB", "RUBYOPT",
	"RUBYLIB", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS",
	"DOTNET_STARTUP_HOOKS", "GOFLAGS", "PATH", "HOME", "SHELL",
};

const char *
creds_env_lookup(char *const *envp, const char *name)
{
	size_t	len = strlen(name);

	if (envp == NULL)
		return NULL;
	for (; *envp != NULL; envp++)
		if (strncmp(*envp, name, len) == 0 && (*envp)[len] == '=')
			return *envp + len + 1;
	return NULL;
}

bool
creds_env_dangerous(const char *name)
{
	size_t	i;

	for (i = 0; i < sizeof(env_dangerous) / sizeof(*env_dangerous); i++)
		if (strcasecmp(name, env_dangerous[i]) == 0)
			return true;
	return false;
}

int
creds_env_parse(const char *body, struct errbuf *e)
{
	const char	*p;

	if (*body == '\0') {
		errbuf_set(e, "empty variable name");
		return -1;
	}
	for (p = body; *p != '\0'; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '_')
			continue;
		errbuf_set(e, "variable name may only hold A-Z a-z 0-9 _");
		return -1;
	}
	if (creds_env_dangerous(body)) {
		errbuf_set(e, "%s is a dangerous variable and cannot hold a "
		    "credential", body);
		return -1;
	}
	return 0;
}

struct secret *
creds_env_load(const struct creds_ctx *ctx, const char *name,
    struct errbuf *why)
{
	const char	*v;

	v = creds_env_lookup(ctx->envp, name);
	if (v == NULL) {
		errbuf_set(why, "%s is not set", name);
		return NULL;
	}
	if (*v == '\0') {
		errbuf_set(why, "%s is empty", name);
		return NULL;
	}
	return creds_secret_new(v, strlen(v));
}
