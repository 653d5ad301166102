#include "profile/profile.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy/route.h"
#include "util/xmalloc.h"

/*
 * Validation of what a profile may say about credentials and the
 * environment (nono-profile.md §1.7.1, §1.8; nono-proxy.md §12.4; SPEC §5
 * for the sources keyhole supports).  Messages keep the fragments nono's
 * tests grep for: "cannot be empty", "invalid characters", "CRLF", "{}",
 * "env_var is required", "alphanumeric", "HTTPS", "blocklist".
 */

/* nono's dangerous-variable list (nono-profile.md §5.5). */
static const char *const dangerous_vars[] = {
	"LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT", "DYLD_INSERT_LIBRARIES",
	"DYLD_LIBRARY_PATH", "DYLD_FRAMEWORK_PATH", "BASH_ENV", "ENV", "IFS",
	"CDPATH", "PROMPT_COMMAND", "NODE_OPTIONS", "NODE_PATH",
	"PYTHONSTARTUP", "PYTHONPATH", "PERL5OPT", "PERL5LIB", "RUBYOPT",
	"RUBYLIB", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS",
	"DOTNET_STARTUP_HOOKS", "GOFLAGS", "PATH", "HOME", "SHELL", NULL
};

/* Bytes that may not appear in op://, keyring://, bw:// references. */
#define REF_FORBIDDEN	";|&$`(){}<>!\\\"'\r\n"
/* Bytes that may not appear in a file:// path. */
#define FILE_FORBIDDEN	";`|$&><\r\n"

bool
profile_env_dangerous(const char *name)
{
	size_t	i;

	for (i = 0; dangerous_vars[i] != NULL; i++)
		if (strcasecmp(name, dangerous_vars[i]) == 0)
			return true;
	return false;
}

static bool
is_word_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9') || ch == '_';
}

/* Non-empty and only [A-Za-z0-9_]. */
static bool
is_word(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!is_word_char(*s))
			return false;
	return true;
}

bool
profile_header_token_valid(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		/* RFC 7230 tchar */
		if (is_word_char(*s) && *s != '_')
			continue;
		if (strchr("!#$%&'*+-.^_`|~", *s) == NULL)
			return false;
	}
	return true;
}

int
profile_validate_env_var(const char *name, struct errbuf *e)
{
	if (*name == '\0') {
		errbuf_set(e, "env_var cannot be empty");
		return -1;
	}
	if (!is_word(name)) {
		errbuf_set(e, "env_var '%s' must contain only alphanumeric "
		    "characters and underscores", name);
		return -1;
	}
	if (profile_env_dangerous(name)) {
		errbuf_set(e, "env_var '%s' is on the dangerous-variable "
		    "blocklist", name);
		return -1;
	}
	return 0;
}

static bool
has_crlf(const char *s)
{
	return strpbrk(s, "\r\n") != NULL;
}

/* Number of non-overlapping "{}" in s. */
static size_t
placeholders(const char *s)
{
	size_t	n = 0;

	while ((s = strstr(s, "{}")) != NULL) {
		n++;
		s += 2;
	}
	return n;
}

/* Split rest on '/' and check: n segments (min..max), none empty. */
static int
segments(const char *rest, size_t min, size_t max)
{
	size_t	n = 1;

	if (*rest == '\0')
		return -1;
	for (; *rest != '\0'; rest++) {
		if (*rest == '/') {
			if (rest[1] == '/' || rest[1] == '\0')
				return -1;
			n++;
		}
	}
	return n >= min && n <= max ? 0 : -1;
}

static int
check_op(const char *rest, const char **why)
{
	if (strpbrk(rest, REF_FORBIDDEN) != NULL || strpbrk(rest, "?#")) {
		*why = "contains forbidden characters";
		return -1;
	}
	if (rest[0] == '/' || segments(rest, 3, SIZE_MAX) == -1) {
		*why = "expected op://vault/item/field (three or more "
		    "non-empty segments)";
		return -1;
	}
	return 0;
}

static int
check_two(const char *rest, const char *form, const char **why)
{
	if (strpbrk(rest, REF_FORBIDDEN) != NULL || strpbrk(rest, "?#")) {
		*why = "contains forbidden characters";
		return -1;
	}
	if (rest[0] == '/' || segments(rest, 2, 2) == -1) {
		*why = form;
		return -1;
	}
	return 0;
}

static int
check_file(const char *rest, const char **why)
{
	const char	*p;
	size_t		 n, seg;

	if (rest[0] != '/') {
		*why = "the path must be absolute (file:///path)";
		return -1;
	}
	n = strlen(rest);
	while (n > 0 && rest[n - 1] == '/')
		n--;
	if (n == 0) {
		*why = "the path cannot be empty or '/'";
		return -1;
	}
	if (strpbrk(rest, FILE_FORBIDDEN) != NULL) {
		*why = "contains forbidden characters";
		return -1;
	}
	for (p = rest; *p != '\0'; p += seg) {
		while (*p == '/')
			p++;
		seg = strcspn(p, "/");
		if (seg == 2 && p[0] == '.' && p[1] == '.') {
			*why = "'..' path components are not allowed";
			return -1;
		}
	}
	return 0;
}

int
profile_validate_credential_ref(const char *ref, bool *is_uri,
    struct errbuf *e)
{
	const char	*sep, *why = NULL;

	if (is_uri != NULL)
		*is_uri = false;
	if (*ref == '\0') {
		errbuf_set(e, "credential_key cannot be empty");
		return -1;
	}
	if ((sep = strstr(ref, "://")) == NULL) {
		if (is_word(ref))
			return 0;
		/* Not echoed: a pasted secret would end up in a log. */
		errbuf_set(e, "credential_key must contain only alphanumeric "
		    "characters and underscores (a keyring account name), or "
		    "be a env://, file://, op://, keyring:// or cmd:// "
		    "reference");
		return -1;
	}
	if (is_uri != NULL)
		*is_uri = true;
	if (strncmp(ref, "env://", 6) == 0) {
		if (profile_validate_env_var(ref + 6, e) == -1) {
			errbuf_wrap(e, "invalid env:// URI '%s'", ref);
			return -1;
		}
		return 0;
	}
	if (strncmp(ref, "file://", 7) == 0) {
		if (check_file(ref + 7, &why) == -1) {
			errbuf_set(e, "invalid file:// URI '%s': %s", ref, why);
			return -1;
		}
		return 0;
	}
	if (strncmp(ref, "op://", 5) == 0) {
		if (check_op(ref + 5, &why) == -1) {
			errbuf_set(e, "invalid 1Password URI '%s': %s", ref,
			    why);
			return -1;
		}
		return 0;
	}
	if (strncmp(ref, "keyring://", 10) == 0) {
		if (check_two(ref + 10, "expected keyring://service/account",
		    &why) == -1) {
			errbuf_set(e, "invalid keyring:// URI '%s': %s", ref,
			    why);
			return -1;
		}
		return 0;
	}
	if (strncmp(ref, "cmd://", 6) == 0) {
		if (ref[6] == '\0' || strpbrk(ref, "\r\n") != NULL) {
			errbuf_set(e, "invalid cmd:// URI: the command cannot "
			    "be empty or contain CR/LF");
			return -1;
		}
		return 0;
	}
	if (strncmp(ref, "apple-password://", 17) == 0 ||
	    strncmp(ref, "apple-passwords://", 18) == 0) {
		if (check_two(sep + 3, "expected apple-password://server/"
		    "account", &why) == -1) {
			errbuf_set(e, "invalid Apple Passwords URI '%s': %s",
			    ref, why);
			return -1;
		}
		errbuf_set(e, "apple-password:// (Apple Passwords) is not "
		    "supported on Linux");
		return -1;
	}
	if (strncmp(ref, "bw://", 5) == 0) {
		if (ref[5] == '\0' || strpbrk(ref + 5, REF_FORBIDDEN)) {
			errbuf_set(e, "invalid bw:// URI '%s'", ref);
			return -1;
		}
		errbuf_set(e, "bw:// (Bitwarden) is not supported on Linux");
		return -1;
	}
	errbuf_set(e, "unsupported credential source scheme '%.*s://' (use "
	    "env://, file://, op://, keyring:// or cmd://)",
	    (int)(sep - ref > 32 ? 32 : sep - ref), ref);
	return -1;
}

/* localhost, 127.0.0.0/8, ::1 (also as ::ffff:127.x.y.z). */
static bool
loopback_host(const char *host)
{
	struct in_addr	 a4;
	struct in6_addr	 a6;

	if (strcasecmp(host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6) ||
		    (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
	return false;
}

static int
check_upstream(const char *url, struct errbuf *e)
{
	char		*host = NULL, *path = NULL;
	uint16_t	 port;
	bool		 tls, lo;

	if (policy_route_parse_url(url, &tls, &host, &port, &path, e) == -1) {
		errbuf_wrap(e, "invalid upstream URL");
		return -1;
	}
	lo = loopback_host(host);
	free(host);
	free(path);
	if (!tls && !lo) {
		errbuf_set(e, "must be HTTPS (plain http only for loopback): "
		    "%s", url);
		return -1;
	}
	return 0;
}

static int
check_path_template(const char *what, const char *s, struct errbuf *e)
{
	if (has_crlf(s)) {
		errbuf_set(e, "%s contains invalid CRLF characters", what);
		return -1;
	}
	if (placeholders(s) != 1) {
		errbuf_set(e, "%s '%s' must contain exactly one {} "
		    "placeholder for the token", what, s);
		return -1;
	}
	return 0;
}

int
profile_validate_custom_credential(const struct route_def *d,
    const char **field, struct errbuf *e)
{
	const char	*c;
	bool		 uri;

	*field = "credential_key";
	if (d->credential_key == NULL) {
		errbuf_set(e, "missing field 'credential_key'");
		return -1;
	}
	if (profile_validate_credential_ref(d->credential_key, &uri, e) ==
	    -1)
		return -1;
	*field = "env_var";
	if (uri && d->env_var == NULL) {
		errbuf_set(e, "env_var is required when credential_key is a "
		    "URI (env://, file://, op://, keyring://, cmd://): it "
		    "names the variable that carries the phantom token");
		return -1;
	}
	if (d->env_var != NULL && profile_validate_env_var(d->env_var, e) ==
	    -1)
		return -1;
	*field = "upstream";
	if (d->upstream == NULL) {
		errbuf_set(e, "missing field 'upstream'");
		return -1;
	}
	if (check_upstream(d->upstream, e) == -1)
		return -1;
	/*
	 * The header and format are checked in every mode, not only header
	 * mode as in nono: they are cheap to get right.
	 */
	*field = "inject_header";
	if (d->inject_header != NULL) {
		if (d->inject_header[0] == '\0') {
			errbuf_set(e, "inject_header cannot be empty");
			return -1;
		}
		if (!profile_header_token_valid(d->inject_header)) {
			errbuf_set(e, "inject_header contains invalid "
			    "characters (an RFC 7230 token is required)");
			return -1;
		}
	}
	*field = "credential_format";
	if (d->credential_format != NULL && has_crlf(d->credential_format)) {
		errbuf_set(e, "credential_format contains invalid CRLF "
		    "characters");
		return -1;
	}
	switch (d->inject_mode) {
	case INJECT_URL_PATH:
		*field = "path_pattern";
		if (d->path_pattern == NULL) {
			errbuf_set(e, "path_pattern is required with "
			    "inject_mode 'url_path'");
			return -1;
		}
		if (check_path_template("path_pattern", d->path_pattern, e) ==
		    -1)
			return -1;
		*field = "path_replacement";
		if (d->path_replacement != NULL &&
		    check_path_template("path_replacement",
		    d->path_replacement, e) == -1)
			return -1;
		break;
	case INJECT_QUERY_PARAM:
		*field = "query_param_name";
		c = d->query_param_name;
		if (c == NULL) {
			errbuf_set(e, "query_param_name is required with "
			    "inject_mode 'query_param'");
			return -1;
		}
		if (*c == '\0') {
			errbuf_set(e, "query_param_name cannot be empty");
			return -1;
		}
		for (; *c != '\0'; c++) {
			if (!is_word_char(*c) && *c != '-') {
				errbuf_set(e, "query_param_name must contain "
				    "only alphanumeric characters, "
				    "underscores, and hyphens");
				return -1;
			}
		}
		break;
	case INJECT_HEADER:
	case INJECT_BASIC_AUTH:
		break;
	}
	*field = "endpoint_rules";
	return 0;
}
