#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/strnum.h"
#include "util/xmalloc.h"

/*
 * The command line (SPEC §2), parsed the way nono's clap parser does it
 * (reference/nono-sandbox.md §1.1): long options as "--opt value" or
 * "--opt=value", short ones as "-a DIR", "-aDIR" or "-a=DIR", flags
 * clustered ("-vv", "-vs"), the first non-option word of `run` starting the
 * child's command.  Nothing is kept pointing into argv or env.
 */

/* Limits on the numeric options (SPEC §4.1). */
#define CLI_TIMEOUT_MAX_SECS	86400
#define CLI_MAX_CONNS_MAX	1000000
#define CLI_MAX_BODY_MAX	(UINT64_C(1) << 40)

/* Longest option spelling we keep for messages ("--allow-degraded-..."). */
#define CLI_OPTNAME_MAX		48

/* Help layout: descriptions start at this column. */
#define CLI_HELP_COL		32

/* Which commands accept an option: one bit per command word. */
#define C_TOP		0x001	/* before the command word */
#define C_RUN		0x002
#define C_SHELL		0x004
#define C_PROXY		0x008
#define C_WHY		0x010
#define C_PROFILE	0x020
#define C_HELP		0x040
#define C_VERSION	0x080

#define C_FS		(C_RUN | C_SHELL | C_WHY)
#define C_NET		(C_RUN | C_SHELL | C_PROXY | C_WHY)
#define C_LIM		(C_RUN | C_SHELL | C_PROXY)
#define C_SANDBOX	(C_RUN | C_SHELL | C_PROXY | C_WHY)
#define C_GENERAL	(C_TOP | C_SANDBOX | C_PROFILE)
#define C_ANY		0x0ff

enum opt_id {
	O_HELP,
	O_VERSION,
	O_ALLOW,
	O_READ,
	O_WRITE,
	O_ALLOW_FILE,
	O_READ_FILE,
	O_WRITE_FILE,
	O_ALLOW_CWD,
	O_WORKDIR,
	O_OVERRIDE_DENY,
	O_ALLOW_UNIX_SOCKET,
	O_BLOCK_NET,
	O_ALLOW_NET,
	O_ALLOW_DOMAIN,
	O_NETWORK_PROFILE,
	O_CREDENTIAL,
	O_ALLOW_ENDPOINT,
	O_OPEN_PORT,
	O_LISTEN_PORT,
	O_PROXY_PORT,
	O_UPSTREAM_PROXY,
	O_UPSTREAM_BYPASS,
	O_RESOLVE,
	O_UPSTREAM_CA,
	O_TLS_INTERCEPT,
	O_TLS_INTERCEPT_EXCLUDE,
	O_TLS_CA,
	O_TLS_JAVA_TRUSTSTORE,
	O_AUDIT_LOG,
	O_ALLOW_DEGRADED,
	O_REPORT_ONLY,
	O_HEAD_TIMEOUT,
	O_IDLE_TIMEOUT,
	O_CONNECT_TIMEOUT,
	O_MAX_CONNS,
	O_MAX_BODY,
	O_PROFILE,
	O_DRY_RUN,
	O_VERBOSE,
	O_SILENT,
	O_ALLOW_ENV,
	O_KEEP_TMP,
	O_ENV_FILE,
	O_LOG_FORMAT,
	O_ADMIN_LISTEN,
	O_DRAIN_TIMEOUT,
	O_LISTEN,
	O_CLIENTS,
	O_SHELL,
	O_SHELL_CMD,
	O_PATH,
	O_OP,
	O_HOST,
	O_JSON,
	O__MAX
};

/* Sections of the help text, in the order they are printed. */
enum opt_sect {
	S_WHY,
	S_SHELL,
	S_FS,
	S_NET,
	S_LIM,
	S_GEN,
	S__MAX
};

static const char *const sect_title[S__MAX] = {
	[S_WHY] = "Command",
	[S_SHELL] = "Shell",
	[S_FS] = "Filesystem",
	[S_NET] = "Network",
	[S_LIM] = "Proxy limit",
	[S_GEN] = "Profile and general",
};

#define OPT_MULTI	0x1	/* may be repeated; values accumulate */
#define OPT_ALIAS	0x2	/* another spelling; help shows it on the main */

struct opt {
	const char	*lname;		/* long name without "--"; NULL: none */
	char		 sname;		/* short letter; 0: none */
	enum opt_id	 id;
	const char	*arg;		/* value placeholder; NULL: a flag */
	unsigned	 cmds;		/* C_* bits of commands accepting it */
	unsigned	 flags;		/* OPT_* */
	enum opt_sect	 sect;
	const char	*help;		/* one line; NULL for aliases */
};

static const struct opt opts[] = {
	/* Query (why). */
	{ "path", 0, O_PATH, "P", C_WHY, 0, S_WHY,
	    "the path to check" },
	{ "op", 0, O_OP, "OP", C_WHY, 0, S_WHY,
	    "access to check with --path: read, write or\n"
	    "readwrite (default read)" },
	{ "host", 0, O_HOST, "HOST", C_WHY, 0, S_WHY,
	    "the host, host:PORT or URL to check" },
	{ "json", 0, O_JSON, NULL, C_WHY | C_PROFILE, 0, S_WHY,
	    "print the answer as JSON" },

	/* Shell. */
	{ "shell", 0, O_SHELL, "PATH", C_SHELL, 0, S_SHELL,
	    "the shell to run (default: $SHELL, else /bin/sh)" },
	{ NULL, 'c', O_SHELL_CMD, "STRING", C_SHELL, 0, S_SHELL,
	    "run STRING with the shell's -c and exit" },

	/* Filesystem. */
	{ "allow", 'a', O_ALLOW, "DIR", C_FS, OPT_MULTI, S_FS,
	    "grant read+write on DIR and below (repeatable,\n"
	    "comma-split)" },
	{ "read", 'r', O_READ, "DIR", C_FS, OPT_MULTI, S_FS,
	    "grant read on DIR and below (repeatable,\n"
	    "comma-split)" },
	{ "write", 'w', O_WRITE, "DIR", C_FS, OPT_MULTI, S_FS,
	    "grant write, not read, on DIR and below\n"
	    "(repeatable, comma-split)" },
	{ "allow-file", 0, O_ALLOW_FILE, "FILE", C_FS, OPT_MULTI, S_FS,
	    "grant read+write on one file (repeatable)" },
	{ "read-file", 0, O_READ_FILE, "FILE", C_FS, OPT_MULTI, S_FS,
	    "grant read on one file (repeatable)" },
	{ "write-file", 0, O_WRITE_FILE, "FILE", C_FS, OPT_MULTI, S_FS,
	    "grant write on one file (repeatable)" },
	{ "allow-cwd", 0, O_ALLOW_CWD, NULL, C_FS, 0, S_FS,
	    "grant the working directory without asking" },
	{ "workdir", 0, O_WORKDIR, "DIR", C_FS, 0, S_FS,
	    "the child's working directory and $WORKDIR\n"
	    "(default: the current directory)" },
	{ "override-deny", 0, O_OVERRIDE_DENY, "PATH", C_FS, OPT_MULTI, S_FS,
	    "lift the policy's deny rule for PATH; PATH still\n"
	    "needs a grant (repeatable)" },
	{ "bypass-protection", 0, O_OVERRIDE_DENY, "PATH", C_FS,
	    OPT_MULTI | OPT_ALIAS, S_FS, NULL },
	{ "allow-unix-socket", 0, O_ALLOW_UNIX_SOCKET, "PATH", C_FS, OPT_MULTI,
	    S_FS, "allow connecting to the unix socket PATH\n"
	    "(repeatable)" },

	/* Network. */
	{ "block-net", 0, O_BLOCK_NET, NULL, C_NET, 0, S_NET,
	    "no network at all; wins over every other network\n"
	    "option and the profile" },
	{ "net-block", 0, O_BLOCK_NET, NULL, C_NET, OPT_ALIAS, S_NET, NULL },
	{ "allow-net", 0, O_ALLOW_NET, NULL, C_NET, 0, S_NET,
	    "unrestricted network; drops the profile's proxy\n"
	    "settings (not with proxy options)" },
	{ "net-allow", 0, O_ALLOW_NET, NULL, C_NET, OPT_ALIAS, S_NET, NULL },
	{ "allow-domain", 0, O_ALLOW_DOMAIN, "ENTRY", C_NET, OPT_MULTI, S_NET,
	    "proxy mode; allow host, *.suffix, host:PORT,\n"
	    "a URL or a policy group (repeatable)" },
	{ "allow-proxy", 0, O_ALLOW_DOMAIN, "ENTRY", C_NET,
	    OPT_MULTI | OPT_ALIAS, S_NET, NULL },
	{ "proxy-allow", 0, O_ALLOW_DOMAIN, "ENTRY", C_NET,
	    OPT_MULTI | OPT_ALIAS, S_NET, NULL },
	{ "network-profile", 0, O_NETWORK_PROFILE, "NAME", C_NET, 0, S_NET,
	    "proxy mode; allow a named host list: minimal,\n"
	    "developer, claude-code, codex, opencode,\n"
	    "enterprise" },
	{ "credential", 0, O_CREDENTIAL, "SERVICE", C_NET, OPT_MULTI, S_NET,
	    "proxy mode; route SERVICE through the proxy,\n"
	    "which injects its real key (repeatable)" },
	{ "proxy-credential", 0, O_CREDENTIAL, "SERVICE", C_NET,
	    OPT_MULTI | OPT_ALIAS, S_NET, NULL },
	{ "allow-endpoint", 0, O_ALLOW_ENDPOINT, "SERVICE:METHOD:PATH", C_NET,
	    OPT_MULTI, S_NET,
	    "allow only matching requests through\n"
	    "SERVICE's route (* one path segment, ** any;\n"
	    "repeatable); a SERVICE with a dot is a plain\n"
	    "host, intercepted so that its rules apply" },
	{ "open-port", 0, O_OPEN_PORT, "PORT", C_NET, OPT_MULTI, S_NET,
	    "localhost IPC port: allow connect and bind\n(repeatable)" },
	{ "allow-port", 0, O_OPEN_PORT, "PORT", C_NET, OPT_MULTI | OPT_ALIAS,
	    S_NET, NULL },
	{ "listen-port", 0, O_LISTEN_PORT, "PORT", C_NET, OPT_MULTI, S_NET,
	    "allow bind on PORT in proxy mode (repeatable)" },
	{ "allow-bind", 0, O_LISTEN_PORT, "PORT", C_NET, OPT_MULTI | OPT_ALIAS,
	    S_NET, NULL },
	{ "proxy-port", 0, O_PROXY_PORT, "PORT", C_NET, 0, S_NET,
	    "the proxy's port on 127.0.0.1 (default 0:\n"
	    "kernel-chosen)" },
	{ "upstream-proxy", 0, O_UPSTREAM_PROXY, "HOST:PORT", C_NET, 0, S_NET,
	    "chain CONNECT tunnels through this proxy" },
	{ "external-proxy", 0, O_UPSTREAM_PROXY, "HOST:PORT", C_NET,
	    OPT_ALIAS, S_NET, NULL },
	{ "upstream-bypass", 0, O_UPSTREAM_BYPASS, "HOST", C_NET, OPT_MULTI,
	    S_NET, "reach host or *.suffix without the upstream\n"
	    "proxy (repeatable, comma-split)" },
	{ "external-proxy-bypass", 0, O_UPSTREAM_BYPASS, "HOST", C_NET,
	    OPT_MULTI | OPT_ALIAS, S_NET, NULL },
	{ "resolve", 0, O_RESOLVE, "HOST:PORT:ADDR", C_NET, OPT_MULTI, S_NET,
	    "use ADDR for HOST:PORT, as curl does; ADDR\n"
	    "counts as deliberately chosen (repeatable)" },
	{ "upstream-ca", 0, O_UPSTREAM_CA, "FILE", C_NET, 0, S_NET,
	    "extra trust anchors (PEM) for upstream TLS" },
	{ "tls-intercept", 0, O_TLS_INTERCEPT, "MODE", C_NET, 0, S_NET,
	    "TLS interception: credentials (default: the\n"
	    "credential hosts), all (every allowed host)\n"
	    "or off (CONNECT to a credential host is 403)" },
	{ "tls-intercept-exclude", 0, O_TLS_INTERCEPT_EXCLUDE, "HOST", C_NET,
	    OPT_MULTI, S_NET, "tunnel HOST untouched under --tls-intercept\n"
	    "all (never a credential host; repeatable)" },
	{ "tls-ca", 0, O_TLS_CA, "CERT,KEY", C_PROXY, 0, S_NET,
	    "sign intercepted hosts' certificates with this\n"
	    "CA (PEM files) instead of a per-run one" },
	{ "tls-java-truststore", 0, O_TLS_JAVA_TRUSTSTORE, NULL, C_NET, 0,
	    S_NET, "also write the interception trust as a PKCS#12\n"
	    "truststore and point the JVM at it\n"
	    "(JAVA_TOOL_OPTIONS)" },
	{ "audit-log", 0, O_AUDIT_LOG, "FILE", C_NET, 0, S_NET,
	    "append one JSON line per network decision\n"
	    "to FILE" },
	{ "report-only", 0, O_REPORT_ONLY, NULL, C_NET, 0, S_NET,
	    "proxy mode; allow what the allow-list would\n"
	    "deny (audited would_deny; guard and credential\n"
	    "hosts still apply), then print the allow-list\n"
	    "that allows it" },
	{ "allow-degraded-network", 0, O_ALLOW_DEGRADED, NULL, C_NET, 0, S_NET,
	    "accept proxy mode without the connect mediator\n"
	    "(kernels without seccomp user notification)" },

	/* Proxy limits. */
	{ "head-timeout", 0, O_HEAD_TIMEOUT, "SECS", C_LIM, 0, S_LIM,
	    "time to receive a request head (default 30)" },
	{ "idle-timeout", 0, O_IDLE_TIMEOUT, "SECS", C_LIM, 0, S_LIM,
	    "idle keep-alive or tunnel (default 600)" },
	{ "connect-timeout", 0, O_CONNECT_TIMEOUT, "SECS", C_LIM, 0, S_LIM,
	    "upstream connect and TLS handshake (default 10)" },
	{ "max-connections", 0, O_MAX_CONNS, "N", C_LIM, 0, S_LIM,
	    "open client connections (default 1024)" },
	{ "max-body", 0, O_MAX_BODY, "BYTES", C_LIM, 0, S_LIM,
	    "request body through a route (default 16777216)" },

	/* Profile and general. */
	{ "profile", 'p', O_PROFILE, "NAME|PATH", C_SANDBOX, 0, S_GEN,
	    "load a profile by name, or from a path\n"
	    "(contains '/' or ends in .json)" },
	{ "dry-run", 0, O_DRY_RUN, NULL, C_LIM, 0, S_GEN,
	    "show what would be done, then exit" },
	{ "verbose", 'v', O_VERBOSE, NULL, C_GENERAL | C_VERSION, OPT_MULTI,
	    S_GEN, "more output: -v decisions, -vv internals;\n"
	    "version: the kernel and library features" },
	{ "silent", 's', O_SILENT, NULL, C_GENERAL, 0, S_GEN,
	    "print nothing but errors" },
	{ "allow-env", 0, O_ALLOW_ENV, "NAME", C_RUN | C_SHELL, OPT_MULTI,
	    S_GEN, "keep the credential variable NAME in the\n"
	    "child's environment (repeatable, comma-split)" },
	{ "keep-tmp", 0, O_KEEP_TMP, NULL, C_RUN | C_SHELL, 0, S_GEN,
	    "keep the run's private temporary directory\n"
	    "and print its path" },
	{ "env-file", 0, O_ENV_FILE, "FILE", C_PROXY, 0, S_GEN,
	    "also write the NAME=value lines, shell-quoted,\n"
	    "to FILE (mode 0640), for '. FILE' in a shell" },
	{ "listen", 0, O_LISTEN, "ADDR:PORT", C_PROXY, OPT_MULTI, S_GEN,
	    "listen there instead of 127.0.0.1 (repeatable;\n"
	    "IP literal, [v6] in brackets, port 0: any)" },
	{ "clients", 0, O_CLIENTS, "FILE", C_PROXY, 0, S_GEN,
	    "named clients with pinned tokens (JSON; see\n"
	    "docs/clients-format.md); no token is printed" },
	{ "log-format", 0, O_LOG_FORMAT, "text|json", C_PROXY, 0, S_GEN,
	    "stderr lines as text (default) or one JSON\n"
	    "object per line (level, msg, audit fields)" },
	{ "admin-listen", 0, O_ADMIN_LISTEN, "ADDR:PORT", C_PROXY, 0, S_GEN,
	    "serve /healthz, /readyz and /metrics there\n"
	    "(off by default)" },
	{ "drain-timeout", 0, O_DRAIN_TIMEOUT, "SECS", C_PROXY, 0, S_GEN,
	    "on SIGTERM stop accepting and give open\n"
	    "exchanges up to SECS (default 0: close now)" },
	{ "help", 'h', O_HELP, NULL, C_ANY, 0, S_GEN,
	    "print this help" },
	{ "version", 'V', O_VERSION, NULL, C_TOP, 0, S_GEN,
	    "print the version" },
};

#define NOPTS	(sizeof(opts) / sizeof(opts[0]))

struct cmd {
	const char	*name;
	enum cli_cmd	 cmd;
	unsigned	 bit;
	const char	*synopsis;	/* after "keyhole " */
	const char	*summary;	/* one line for the overview */
	const char	*about;		/* paragraph for the command's help */
};

static const struct cmd cmds[] = {
	{ "run", CLI_RUN, C_RUN, "run [OPTIONS] [--] CMD [ARGS...]",
	    "run CMD sandboxed",
	    "Run CMD in the sandbox.  The first word that is not an option\n"
	    "starts CMD and everything after it is CMD's, even words that look\n"
	    "like options; '--' also ends keyhole's options.  Exits with CMD's\n"
	    "status (128+N if it died from signal N)." },
	{ "shell", CLI_SHELL, C_SHELL, "shell [OPTIONS] [--shell PATH] "
	    "[-c STRING]",
	    "run a shell sandboxed",
	    "Run a shell in the sandbox: --shell PATH, else $SHELL, else\n"
	    "/bin/sh.  With -c STRING the shell runs STRING and exits." },
	{ "proxy", CLI_PROXY, C_PROXY, "proxy [OPTIONS]",
	    "run only the proxy (containers, sidecars, tests)",
	    "Run only the proxy, without a sandbox.  Once it listens it prints\n"
	    "NAME=value lines on stdout, one per variable a client needs, then\n"
	    "an empty line; it stops on SIGINT or SIGTERM." },
	{ "why", CLI_WHY, C_WHY, "why (--path P [--op OP] | --host HOST) "
	    "[OPTIONS]",
	    "say whether the policy allows a path or host",
	    "Say whether the policy (profile plus options) allows access to a\n"
	    "path or a connection to a host, and which rule decides." },
	{ "profile", CLI_PROFILE, C_PROFILE, "profile list | show NAME [--json] "
	    "| validate FILE | schema",
	    "list, show, validate profiles; print the schema",
	    "Inspect profiles.\n"
	    "  list            the built-in and user profiles\n"
	    "  show NAME       NAME fully resolved (extends applied)\n"
	    "  validate FILE   check a profile file and report every error\n"
	    "  schema          print the JSON Schema (draft 2020-12) of the\n"
	    "                  profile format" },
	{ "help", CLI_HELP, C_HELP, "help [COMMAND]",
	    "show this overview or a command's options",
	    "Show the overview, or the options of COMMAND." },
	{ "version", CLI_VERSION, C_VERSION, "version [--verbose]",
	    "print the version",
	    "Print the version as one line, \"keyhole X.Y.Z\" (also --version,\n"
	    "-V).  With --verbose, also the Landlock ABI, the seccomp features,\n"
	    "the OpenSSL version and whether libsecret was found." },
};

#define NCMDS	(sizeof(cmds) / sizeof(cmds[0]))

/*
 * Environment equivalents (SPEC §2.1): KEYHOLE_<name>, else NONO_<name>,
 * else nono's legacy spellings of it.
 */
enum env_type {
	ENV_LIST,	/* comma-separated list */
	ENV_STR,
	ENV_BOOL,
};

struct envvar {
	const char	*name;
	enum opt_id	 id;
	enum env_type	 type;
	const char	*legacy[3];	/* NULL-terminated */
};

static const struct envvar envvars[] = {
	{ "ALLOW", O_ALLOW, ENV_LIST, { NULL } },
	{ "PROFILE", O_PROFILE, ENV_STR, { NULL } },
	{ "ALLOW_DOMAIN", O_ALLOW_DOMAIN, ENV_LIST,
	    { "NONO_ALLOW_PROXY", "NONO_PROXY_ALLOW", NULL } },
	{ "NETWORK_PROFILE", O_NETWORK_PROFILE, ENV_STR, { NULL } },
	{ "CREDENTIAL", O_CREDENTIAL, ENV_LIST,
	    { "NONO_PROXY_CREDENTIAL", NULL } },
	{ "UPSTREAM_PROXY", O_UPSTREAM_PROXY, ENV_STR,
	    { "NONO_EXTERNAL_PROXY", NULL } },
	{ "UPSTREAM_BYPASS", O_UPSTREAM_BYPASS, ENV_LIST,
	    { "NONO_EXTERNAL_PROXY_BYPASS", NULL } },
	{ "ALLOW_ENV", O_ALLOW_ENV, ENV_LIST, { NULL } },
	{ "BLOCK_NET", O_BLOCK_NET, ENV_BOOL, { "NONO_NET_BLOCK", NULL } },
	{ "ALLOW_NET", O_ALLOW_NET, ENV_BOOL, { "NONO_NET_ALLOW", NULL } },
};

#define NENVVARS	(sizeof(envvars) / sizeof(envvars[0]))

/* Proxy options that --allow-net cannot be combined with (SPEC §2.1). */
static const enum opt_id allow_net_conflicts[] = {
	O_ALLOW_DOMAIN, O_NETWORK_PROFILE, O_CREDENTIAL, O_UPSTREAM_PROXY,
	O_UPSTREAM_BYPASS, O_PROXY_PORT, O_ALLOW_ENDPOINT, O_REPORT_ONLY,
};

/* Parser state for one cli_parse() call. */
struct parse {
	struct cli		*cli;
	const struct cmd	*cmd;	/* NULL before the command word */
	/* Spelling of each option as first given on the command line. */
	char			 seen[O__MAX][CLI_OPTNAME_MAX];
	struct errbuf		*e;
};

/* The long option named by the n bytes at s, or NULL. */
static const struct opt *
find_long(const char *s, size_t n)
{
	size_t	i;

	for (i = 0; i < NOPTS; i++)
		if (opts[i].lname != NULL && strlen(opts[i].lname) == n &&
		    strncmp(opts[i].lname, s, n) == 0)
			return &opts[i];
	return NULL;
}

/* The option with short letter c, or NULL. */
static const struct opt *
find_short(char c)
{
	size_t	i;

	for (i = 0; i < NOPTS; i++)
		if (opts[i].sname != 0 && opts[i].sname == c)
			return &opts[i];
	return NULL;
}

/* The main (non-alias) entry for an option id. */
static const struct opt *
find_id(enum opt_id id)
{
	size_t	i;

	for (i = 0; i < NOPTS; i++)
		if (opts[i].id == id && !(opts[i].flags & OPT_ALIAS))
			return &opts[i];
	return NULL;
}

static const struct cmd *
find_cmd(const char *name)
{
	size_t	i;

	for (i = 0; i < NCMDS; i++)
		if (strcmp(cmds[i].name, name) == 0)
			return &cmds[i];
	return NULL;
}

/* The value of NAME in env, or NULL.  env may be NULL. */
static const char *
env_get(char **env, const char *name)
{
	size_t	n = strlen(name);

	if (env == NULL)
		return NULL;
	for (; *env != NULL; env++)
		if (strncmp(*env, name, n) == 0 && (*env)[n] == '=')
			return *env + n + 1;
	return NULL;
}

/* A word that would be read as an option, so cannot be a value. */
static bool
looks_like_option(const char *s)
{
	return s[0] == '-' && s[1] != '\0';
}

/* Replace an owned string. */
static void
set_str(char **dst, const char *val)
{
	free(*dst);
	*dst = xstrdup(val);
}

static int
parse_port(struct parse *p, const char *name, const char *val, uint16_t min,
    uint16_t *out)
{
	uint64_t	v;

	if (strnum_parse_str(val, min, 65535, &v) == -1) {
		errbuf_set(p->e, "invalid value '%s' for '%s': expected a "
		    "port %u-65535", val, name, min);
		return -1;
	}
	*out = (uint16_t)v;
	return 0;
}

static int
parse_secs_ms(struct parse *p, const char *name, const char *val,
    uint32_t *out)
{
	uint64_t	v;

	if (strnum_parse_str(val, 1, CLI_TIMEOUT_MAX_SECS, &v) == -1) {
		errbuf_set(p->e, "invalid value '%s' for '%s': expected "
		    "seconds 1-%d", val, name, CLI_TIMEOUT_MAX_SECS);
		return -1;
	}
	*out = (uint32_t)(v * 1000);
	return 0;
}

/* SERVICE:METHOD:PATH, split at the first two ':', no part empty. */
static int
check_endpoint(struct parse *p, const char *val)
{
	const char	*c1, *c2;

	c1 = strchr(val, ':');
	c2 = c1 != NULL ? strchr(c1 + 1, ':') : NULL;
	if (c1 == NULL || c2 == NULL || c1 == val || c2 == c1 + 1 ||
	    c2[1] == '\0') {
		errbuf_set(p->e, "invalid --allow-endpoint '%s': expected "
		    "SERVICE:METHOD:/path", val);
		return -1;
	}
	return 0;
}

/*
 * HOST:PORT:ADDR as curl's --resolve: HOST may be a bracketed IPv6
 * literal, PORT is 1-65535, and ADDR is the rest (an IPv6 literal keeps
 * its colons, with or without brackets).  Only the shape is checked here.
 */
static int
check_resolve(struct parse *p, const char *val)
{
	const char	*host_end, *port, *port_end, *addr;
	uint16_t	 pn;
	size_t		 alen;

	if (val[0] == '[') {
		host_end = strchr(val, ']');
		if (host_end == NULL || host_end == val + 1 ||
		    host_end[1] != ':')
			goto shape;
		host_end++;
	} else {
		host_end = strchr(val, ':');
		if (host_end == NULL || host_end == val)
			goto shape;
	}
	port = host_end + 1;
	port_end = strchr(port, ':');
	if (port_end == NULL)
		goto shape;
	if (strnum_port(port, (size_t)(port_end - port), &pn) == -1) {
		errbuf_set(p->e, "invalid --resolve '%s': PORT must be "
		    "1-65535", val);
		return -1;
	}
	addr = port_end + 1;
	alen = strlen(addr);
	if (alen == 0)
		goto shape;
	if ((addr[0] == '[') != (addr[alen - 1] == ']') ||
	    (addr[0] == '[' && alen < 3))
		goto shape;
	return 0;
 shape:
	errbuf_set(p->e, "invalid --resolve '%s': expected HOST:PORT:ADDR",
	    val);
	return -1;
}

static int
check_nonempty_list(struct parse *p, const char *name, const char *val)
{
	if (strspn(val, ",") == strlen(val)) {
		errbuf_set(p->e, "option '%s' needs a value", name);
		return -1;
	}
	return 0;
}

/*
 * Validate and store one value of option id (val is NULL for a flag).
 * name is what to call the option in messages: its spelling on the command
 * line, or the environment variable it came from.
 */
static int
store(struct parse *p, enum opt_id id, const char *name, const char *val)
{
	struct cli	*cli = p->cli;
	uint64_t	 v;
	uint16_t	 port;

	switch (id) {
	case O_HELP:
		cli->help = true;
		if (p->cmd == NULL) {
			cli->cmd = CLI_HELP;
			cli->help_topic = NULL;
		} else
			cli->help_topic = p->cmd->name;
		return 0;
	case O_VERSION:
		cli->cmd = CLI_VERSION;
		return 0;
	case O_ALLOW:
	case O_READ:
	case O_WRITE:
	case O_UPSTREAM_BYPASS:
		if (check_nonempty_list(p, name, val) == -1)
			return -1;
		strv_split_push(id == O_ALLOW ? &cli->allow :
		    id == O_READ ? &cli->read :
		    id == O_WRITE ? &cli->write : &cli->upstream_bypass,
		    val, ',');
		return 0;
	case O_ALLOW_FILE:
		strv_push(&cli->allow_file, val);
		return 0;
	case O_READ_FILE:
		strv_push(&cli->read_file, val);
		return 0;
	case O_WRITE_FILE:
		strv_push(&cli->write_file, val);
		return 0;
	case O_ALLOW_CWD:
		cli->allow_cwd = true;
		return 0;
	case O_WORKDIR:
		set_str(&cli->workdir, val);
		return 0;
	case O_OVERRIDE_DENY:
		strv_push(&cli->override_deny, val);
		return 0;
	case O_ALLOW_UNIX_SOCKET:
		strv_push(&cli->allow_unix_socket, val);
		return 0;
	case O_BLOCK_NET:
		cli->block_net = true;
		return 0;
	case O_ALLOW_NET:
		cli->allow_net = true;
		return 0;
	case O_ALLOW_DOMAIN:
		strv_push(&cli->allow_domain, val);
		return 0;
	case O_NETWORK_PROFILE:
		set_str(&cli->network_profile, val);
		return 0;
	case O_CREDENTIAL:
		strv_push(&cli->credential, val);
		return 0;
	case O_ALLOW_ENDPOINT:
		if (check_endpoint(p, val) == -1)
			return -1;
		strv_push(&cli->allow_endpoint, val);
		return 0;
	case O_OPEN_PORT:
	case O_LISTEN_PORT:
		if (parse_port(p, name, val, 1, &port) == -1)
			return -1;
		ports_add(id == O_OPEN_PORT ? &cli->open_port :
		    &cli->listen_port, port);
		return 0;
	case O_PROXY_PORT:
		/* 0 asks the kernel for a free port. */
		if (parse_port(p, name, val, 0, &port) == -1)
			return -1;
		cli->proxy_port = port;
		cli->proxy_port_set = true;
		return 0;
	case O_UPSTREAM_PROXY:
		set_str(&cli->upstream_proxy, val);
		return 0;
	case O_RESOLVE:
		if (check_resolve(p, val) == -1)
			return -1;
		strv_push(&cli->resolve, val);
		return 0;
	case O_UPSTREAM_CA:
		set_str(&cli->upstream_ca, val);
		return 0;
	case O_TLS_INTERCEPT:
		if (strcmp(val, "credentials") != 0 && strcmp(val, "all") != 0
		    && strcmp(val, "off") != 0) {
			errbuf_set(p->e, "invalid --tls-intercept '%s': "
			    "expected credentials, all or off", val);
			return -1;
		}
		set_str(&cli->tls_intercept, val);
		return 0;
	case O_TLS_INTERCEPT_EXCLUDE:
		strv_push(&cli->tls_intercept_exclude, val);
		return 0;
	case O_TLS_CA:
		if (strchr(val, ',') == NULL || val[0] == ',' ||
		    strchr(val, ',')[1] == '\0') {
			errbuf_set(p->e, "invalid --tls-ca '%s': expected "
			    "CERT,KEY (two PEM files)", val);
			return -1;
		}
		set_str(&cli->tls_ca, val);
		return 0;
	case O_TLS_JAVA_TRUSTSTORE:
		cli->tls_java_truststore = true;
		return 0;
	case O_AUDIT_LOG:
		set_str(&cli->audit_log, val);
		return 0;
	case O_REPORT_ONLY:
		cli->report_only = true;
		return 0;
	case O_ALLOW_DEGRADED:
		cli->allow_degraded_network = true;
		return 0;
	case O_HEAD_TIMEOUT:
		return parse_secs_ms(p, name, val,
		    &cli->limits.head_timeout_ms);
	case O_IDLE_TIMEOUT:
		return parse_secs_ms(p, name, val,
		    &cli->limits.idle_timeout_ms);
	case O_CONNECT_TIMEOUT:
		return parse_secs_ms(p, name, val,
		    &cli->limits.connect_timeout_ms);
	case O_MAX_CONNS:
		if (strnum_parse_str(val, 1, CLI_MAX_CONNS_MAX, &v) == -1) {
			errbuf_set(p->e, "invalid value '%s' for '%s': "
			    "expected a number 1-%d", val, name,
			    CLI_MAX_CONNS_MAX);
			return -1;
		}
		cli->limits.max_conns = (uint32_t)v;
		return 0;
	case O_MAX_BODY:
		if (strnum_parse_str(val, 1, CLI_MAX_BODY_MAX, &v) == -1) {
			errbuf_set(p->e, "invalid value '%s' for '%s': "
			    "expected bytes 1-%llu", val, name,
			    (unsigned long long)CLI_MAX_BODY_MAX);
			return -1;
		}
		cli->limits.max_body = v;
		return 0;
	case O_PROFILE:
		set_str(&cli->profile, val);
		return 0;
	case O_DRY_RUN:
		cli->dry_run = true;
		return 0;
	case O_VERBOSE:
		cli->verbose++;
		return 0;
	case O_SILENT:
		cli->silent = true;
		return 0;
	case O_ALLOW_ENV:
		if (check_nonempty_list(p, name, val) == -1)
			return -1;
		strv_split_push(&cli->allow_env, val, ',');
		return 0;
	case O_KEEP_TMP:
		cli->keep_tmp = true;
		return 0;
	case O_ENV_FILE:
		set_str(&cli->env_file, val);
		return 0;
	case O_LOG_FORMAT:
		if (strcmp(val, "text") != 0 && strcmp(val, "json") != 0) {
			errbuf_set(p->e, "invalid value '%s' for '%s': "
			    "expected text or json", val, name);
			return -1;
		}
		cli->log_json = strcmp(val, "json") == 0;
		return 0;
	case O_LISTEN:
		if (check_nonempty_list(p, name, val) == -1)
			return -1;
		strv_push(&cli->listen, val);
		return 0;
	case O_CLIENTS:
		set_str(&cli->clients, val);
		return 0;
	case O_ADMIN_LISTEN:
		set_str(&cli->admin_listen, val);
		return 0;
	case O_DRAIN_TIMEOUT:
		if (strnum_parse_str(val, 0, CLI_TIMEOUT_MAX_SECS, &v) == -1) {
			errbuf_set(p->e, "invalid value '%s' for '%s': "
			    "expected seconds 0-%d", val, name,
			    CLI_TIMEOUT_MAX_SECS);
			return -1;
		}
		cli->drain_timeout_ms = (uint64_t)v * 1000;
		return 0;
	case O_SHELL:
		set_str(&cli->shell, val);
		return 0;
	case O_SHELL_CMD:
		set_str(&cli->shell_command, val);
		return 0;
	case O_PATH:
		set_str(&cli->why_path, val);
		return 0;
	case O_OP:
		if (strcmp(val, "read") != 0 && strcmp(val, "write") != 0 &&
		    strcmp(val, "readwrite") != 0) {
			errbuf_set(p->e, "invalid value '%s' for '%s': "
			    "expected read, write or readwrite", val, name);
			return -1;
		}
		set_str(&cli->why_op, val);
		return 0;
	case O_HOST:
		set_str(&cli->why_host, val);
		return 0;
	case O_JSON:
		cli->json = true;
		return 0;
	case O__MAX:
		break;
	}
	errbuf_set(p->e, "option '%s' is not handled", name);
	return -1;
}

/* Is o accepted where we are (before or after the command word)? */
static int
check_cmd(struct parse *p, const struct opt *o, const char *name)
{
	unsigned	bit = p->cmd != NULL ? p->cmd->bit : C_TOP;

	if (o->cmds & bit)
		return 0;
	if (p->cmd == NULL)
		errbuf_set(p->e, "option '%s' must come after the command "
		    "(keyhole run %s ...)", name, name);
	else
		errbuf_set(p->e, "option '%s' is not valid for '%s'", name,
		    p->cmd->name);
	return -1;
}

/* One option occurrence from the command line. */
static int
apply(struct parse *p, const struct opt *o, const char *name,
    const char *val)
{
	if (val != NULL && *val == '\0') {
		errbuf_set(p->e, "option '%s' needs a value", name);
		return -1;
	}
	if (p->seen[o->id][0] != '\0') {
		if (o->arg != NULL && !(o->flags & OPT_MULTI)) {
			errbuf_set(p->e, "option '%s' cannot be given more "
			    "than once", name);
			return -1;
		}
	} else
		snprintf(p->seen[o->id], sizeof(p->seen[o->id]), "%s", name);
	return store(p, o->id, name, val);
}

/* argv[*i] is "--name" or "--name=value"; may consume the next word. */
static int
parse_long(struct parse *p, int argc, char **argv, int *i)
{
	const char		*a = argv[*i] + 2, *eq, *val = NULL;
	const struct opt	*o;
	char			 name[CLI_OPTNAME_MAX];
	size_t			 n;

	eq = strchr(a, '=');
	n = eq != NULL ? (size_t)(eq - a) : strlen(a);
	if ((o = find_long(a, n)) == NULL) {
		errbuf_set(p->e, "unexpected argument '--%.*s'", (int)n, a);
		return -1;
	}
	snprintf(name, sizeof(name), "--%s", o->lname);
	if (check_cmd(p, o, name) == -1)
		return -1;
	if (o->arg == NULL) {
		if (eq != NULL) {
			errbuf_set(p->e, "option '%s' takes no value", name);
			return -1;
		}
	} else if (eq != NULL)
		val = eq + 1;
	else {
		if (*i + 1 >= argc || looks_like_option(argv[*i + 1])) {
			errbuf_set(p->e, "option '%s' needs a value", name);
			return -1;
		}
		val = argv[++*i];
	}
	return apply(p, o, name, val);
}

/* argv[*i] is "-x...": a cluster of flags, maybe ending in one with a value. */
static int
parse_short(struct parse *p, int argc, char **argv, int *i)
{
	const char		*s = argv[*i] + 1, *val;
	const struct opt	*o;
	char			 name[CLI_OPTNAME_MAX];

	for (; *s != '\0'; s++) {
		snprintf(name, sizeof(name), "-%c", *s);
		if ((o = find_short(*s)) == NULL) {
			errbuf_set(p->e, "unexpected argument '%s'", name);
			return -1;
		}
		if (check_cmd(p, o, name) == -1)
			return -1;
		if (o->arg == NULL) {
			if (s[1] == '=') {
				errbuf_set(p->e, "option '%s' takes no value",
				    name);
				return -1;
			}
			if (apply(p, o, name, NULL) == -1)
				return -1;
			if (p->cli->help)
				return 0;
			continue;
		}
		/* -aDIR, -a=DIR (as clap), or -a DIR. */
		val = s + 1;
		if (*val == '=')
			val++;
		else if (*val == '\0') {
			if (*i + 1 >= argc || looks_like_option(argv[*i + 1])) {
				errbuf_set(p->e, "option '%s' needs a value",
				    name);
				return -1;
			}
			val = argv[++*i];
		}
		return apply(p, o, name, val);
	}
	return 0;
}

/* A positional word of `profile`: the subcommand, then its argument. */
static int
profile_word(struct parse *p, const char *w)
{
	struct cli	*cli = p->cli;

	if (cli->profile_sub == CLI_PROFILE_NONE) {
		if (strcmp(w, "list") == 0)
			cli->profile_sub = CLI_PROFILE_LIST;
		else if (strcmp(w, "show") == 0)
			cli->profile_sub = CLI_PROFILE_SHOW;
		else if (strcmp(w, "validate") == 0)
			cli->profile_sub = CLI_PROFILE_VALIDATE;
		else if (strcmp(w, "schema") == 0)
			cli->profile_sub = CLI_PROFILE_SCHEMA;
		else {
			errbuf_set(p->e, "unknown profile subcommand '%s' "
			    "(expected list, show, validate or schema)", w);
			return -1;
		}
		return 0;
	}
	if (cli->profile_sub != CLI_PROFILE_LIST &&
	    cli->profile_sub != CLI_PROFILE_SCHEMA && cli->profile_arg == NULL) {
		cli->profile_arg = xstrdup(w);
		return 0;
	}
	errbuf_set(p->e, "unexpected argument '%s'", w);
	return -1;
}

/* The words after `help`, from argv[i]. */
static int
parse_help(struct parse *p, int argc, char **argv, int i)
{
	const struct cmd	*c;

	p->cli->cmd = CLI_HELP;
	p->cli->help = true;
	if (i >= argc)
		return 0;
	if (looks_like_option(argv[i])) {
		errbuf_set(p->e, "unexpected argument '%s'", argv[i]);
		return -1;
	}
	if ((c = find_cmd(argv[i])) == NULL) {
		errbuf_set(p->e, "unknown command '%s'", argv[i]);
		return -1;
	}
	p->cli->help_topic = c->name;
	if (i + 1 < argc) {
		errbuf_set(p->e, "unexpected argument '%s'", argv[i + 1]);
		return -1;
	}
	return 0;
}

/* A word that is not an option, at argv[*i]. */
static int
positional(struct parse *p, int argc, char **argv, int *i)
{
	const char	*w = argv[*i];

	if (p->cmd == NULL) {
		if ((p->cmd = find_cmd(w)) == NULL) {
			errbuf_set(p->e, "unknown command '%s'", w);
			return -1;
		}
		if (p->cmd->cmd == CLI_HELP) {
			if (parse_help(p, argc, argv, *i + 1) == -1)
				return -1;
			*i = argc;
			return 0;
		}
		p->cli->cmd = p->cmd->cmd;
		return 0;
	}
	switch (p->cmd->cmd) {
	case CLI_RUN:
		/* Trailing var arg: the rest is CMD's, options or not. */
		for (; *i < argc; ++*i)
			strv_push(&p->cli->argv, argv[*i]);
		return 0;
	case CLI_PROFILE:
		return profile_word(p, w);
	case CLI_SHELL:
		errbuf_set(p->e, "unexpected argument '%s' (shell runs no "
		    "command; use -c STRING)", w);
		return -1;
	default:
		errbuf_set(p->e, "unexpected argument '%s'", w);
		return -1;
	}
}

static int
parse_argv(struct parse *p, int argc, char **argv)
{
	bool	options = true;
	int	i;

	for (i = 1; i < argc; i++) {
		if (options && strcmp(argv[i], "--") == 0) {
			if (p->cmd == NULL) {
				errbuf_set(p->e, "unexpected argument '--' "
				    "before the command");
				return -1;
			}
			options = false;
			continue;
		}
		if (options && looks_like_option(argv[i])) {
			if ((argv[i][1] == '-' ? parse_long(p, argc, argv, &i) :
			    parse_short(p, argc, argv, &i)) == -1)
				return -1;
			/* --help and --version end parsing, as in clap. */
			if (p->cli->help || (p->cli->cmd == CLI_VERSION &&
			    (p->cmd == NULL || p->cmd->cmd != CLI_VERSION)))
				return 0;
			continue;
		}
		if (positional(p, argc, argv, &i) == -1)
			return -1;
	}
	return 0;
}

/* Check what only the whole command line can tell. */
static int
check_command(struct parse *p)
{
	struct cli	*cli = p->cli;
	size_t		 i;

	if (p->cmd == NULL) {
		errbuf_set(p->e, "no command given (try 'keyhole help')");
		return -1;
	}
	if (p->seen[O_ALLOW_NET][0] != '\0') {
		for (i = 0; i < sizeof(allow_net_conflicts) /
		    sizeof(allow_net_conflicts[0]); i++) {
			if (p->seen[allow_net_conflicts[i]][0] == '\0')
				continue;
			errbuf_set(p->e, "the argument '%s' cannot be used "
			    "with '%s'", p->seen[O_ALLOW_NET],
			    p->seen[allow_net_conflicts[i]]);
			return -1;
		}
	}
	switch (cli->cmd) {
	case CLI_RUN:
		if (cli->argv.n == 0) {
			errbuf_set(p->e, "run needs a command (keyhole run "
			    "[OPTIONS] [--] CMD [ARGS...])");
			return -1;
		}
		break;
	case CLI_WHY:
		if (cli->why_path == NULL && cli->why_host == NULL) {
			errbuf_set(p->e, "why needs --path or --host");
			return -1;
		}
		if (cli->why_path != NULL && cli->why_host != NULL) {
			errbuf_set(p->e, "the argument '%s' cannot be used "
			    "with '%s'", p->seen[O_PATH], p->seen[O_HOST]);
			return -1;
		}
		if (cli->why_op != NULL && cli->why_path == NULL) {
			errbuf_set(p->e, "option '%s' needs --path",
			    p->seen[O_OP]);
			return -1;
		}
		if (cli->why_path != NULL && cli->why_op == NULL)
			cli->why_op = xstrdup("read");
		break;
	case CLI_PROFILE:
		switch (cli->profile_sub) {
		case CLI_PROFILE_NONE:
			errbuf_set(p->e, "profile needs a subcommand: list, "
			    "show NAME or validate FILE");
			return -1;
		case CLI_PROFILE_LIST:
		case CLI_PROFILE_SCHEMA:
			break;
		case CLI_PROFILE_SHOW:
			if (cli->profile_arg == NULL) {
				errbuf_set(p->e, "profile show needs a "
				    "profile NAME");
				return -1;
			}
			break;
		case CLI_PROFILE_VALIDATE:
			if (cli->profile_arg == NULL) {
				errbuf_set(p->e, "profile validate needs a "
				    "FILE");
				return -1;
			}
			break;
		}
		if (cli->json && cli->profile_sub != CLI_PROFILE_SHOW) {
			errbuf_set(p->e, "option '%s' is not valid for "
			    "'profile %s'", p->seen[O_JSON],
			    cli->profile_sub == CLI_PROFILE_LIST ? "list" :
			    cli->profile_sub == CLI_PROFILE_SCHEMA ? "schema" :
			    "validate");
			return -1;
		}
		break;
	default:
		break;
	}
	return 0;
}

/* nono's boolish parser: 1 true, 0 false, -1 neither. */
static int
parse_bool(const char *s)
{
	static const char *const yes[] = { "y", "yes", "t", "true", "on",
	    "1" };
	static const char *const no[] = { "n", "no", "f", "false", "off",
	    "0" };
	size_t	i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (strcasecmp(s, yes[i]) == 0)
			return 1;
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (strcasecmp(s, no[i]) == 0)
			return 0;
	return -1;
}

/*
 * The entries of env whose names could be an equivalent's (KEYHOLE_ or
 * NONO_), in order: what env_lookup scans ~30 times, where env is what
 * the user's shell exported.  NULL-terminated, owned (not the strings);
 * NULL when env is.
 */
static char **
env_ours(char **env)
{
	char	**out;
	size_t	  i, n = 0;

	if (env == NULL)
		return NULL;
	for (i = 0; env[i] != NULL; i++)
		;
	out = xreallocarray(NULL, i + 1, sizeof(*out));
	for (i = 0; env[i] != NULL; i++)
		if (strncmp(env[i], "KEYHOLE_", 8) == 0 ||
		    strncmp(env[i], "NONO_", 5) == 0)
			out[n++] = env[i];
	out[n] = NULL;
	return out;
}

/*
 * Look up one environment equivalent: KEYHOLE_X, else NONO_X, else the
 * legacy NONO_ names.  An empty value counts as unset.  *var gets the
 * name that was used (in buf or a static string).  ours: env_ours(env),
 * asked for the names it holds; any other name is looked up in env.
 */
static const char *
env_lookup(char **env, char **ours, const struct envvar *ev, char *buf,
    size_t bufsz, const char **var)
{
	static const char *const prefixes[] = { "KEYHOLE_", "NONO_" };
	const char	*val;
	size_t		 i, plen, nlen = strlen(ev->name);

	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		plen = strlen(prefixes[i]);
		if (plen + nlen >= bufsz)
			continue;
		memcpy(buf, prefixes[i], plen);
		memcpy(buf + plen, ev->name, nlen + 1);
		if ((val = env_get(ours, buf)) != NULL && *val != '\0') {
			*var = buf;
			return val;
		}
	}
	for (i = 0; ev->legacy[i] != NULL; i++) {
		if ((val = env_get(strncmp(ev->legacy[i], "NONO_", 5) == 0 ?
		    ours : env, ev->legacy[i])) != NULL && *val != '\0') {
			*var = ev->legacy[i];
			return val;
		}
	}
	return NULL;
}

/* Fill options the command line did not give from the environment. */
static int
apply_env(struct parse *p, char **env)
{
	const struct envvar	*ev;
	const struct opt	*o;
	struct strv		 list = { 0 };
	const char		*val, *var;
	char			 buf[64], **ours;
	size_t			 i, j;
	int			 b, rc = -1;

	ours = env_ours(env);
	for (i = 0; i < NENVVARS; i++) {
		ev = &envvars[i];
		o = find_id(ev->id);
		if (o == NULL || !(o->cmds & p->cmd->bit) ||
		    p->seen[ev->id][0] != '\0')
			continue;
		if ((val = env_lookup(env, ours, ev, buf, sizeof(buf),
		    &var)) == NULL)
			continue;
		switch (ev->type) {
		case ENV_BOOL:
			if ((b = parse_bool(val)) == -1) {
				errbuf_set(p->e, "invalid value '%s' for %s: "
				    "expected a boolean (1/0, true/false, "
				    "yes/no, on/off)", val, var);
				goto out;
			}
			if (b == 1 && store(p, ev->id, var, NULL) == -1)
				goto out;
			break;
		case ENV_STR:
			if (store(p, ev->id, var, val) == -1)
				goto out;
			break;
		case ENV_LIST:
			strv_split_push(&list, val, ',');
			for (j = 0; j < list.n; j++)
				if (store(p, ev->id, var, list.v[j]) == -1)
					break;
			j = j < list.n;
			strv_free(&list);
			if (j)
				goto out;
			break;
		}
	}
	rc = 0;
out:
	free(ours);
	return rc;
}

int
cli_parse(struct cli *cli, int argc, char **argv, char **env,
    struct errbuf *e)
{
	struct parse	*p;
	int		 rc = -1;

	memset(cli, 0, sizeof(*cli));
	errbuf_clear(e);
	p = xcalloc(1, sizeof(*p));
	p->cli = cli;
	p->e = e;

	if (parse_argv(p, argc, argv) == -1)
		goto out;
	/* Help and version need nothing else to be right. */
	if (cli->help || cli->cmd == CLI_VERSION) {
		rc = 0;
		goto out;
	}
	if (check_command(p) == -1 || apply_env(p, env) == -1)
		goto out;
	rc = 0;
 out:
	free(p);
	if (rc == -1)
		cli_free(cli);
	return rc;
}

void
cli_free(struct cli *cli)
{
	if (cli == NULL)
		return;
	strv_free(&cli->allow);
	strv_free(&cli->read);
	strv_free(&cli->write);
	strv_free(&cli->allow_file);
	strv_free(&cli->read_file);
	strv_free(&cli->write_file);
	free(cli->workdir);
	strv_free(&cli->override_deny);
	strv_free(&cli->allow_unix_socket);
	strv_free(&cli->allow_domain);
	free(cli->network_profile);
	strv_free(&cli->credential);
	strv_free(&cli->allow_endpoint);
	ports_free(&cli->open_port);
	ports_free(&cli->listen_port);
	free(cli->upstream_proxy);
	strv_free(&cli->upstream_bypass);
	strv_free(&cli->resolve);
	free(cli->upstream_ca);
	free(cli->tls_intercept);
	strv_free(&cli->tls_intercept_exclude);
	free(cli->tls_ca);
	free(cli->audit_log);
	free(cli->profile);
	strv_free(&cli->allow_env);
	free(cli->env_file);
	free(cli->admin_listen);
	free(cli->clients);
	strv_free(&cli->listen);
	strv_free(&cli->argv);
	free(cli->shell);
	free(cli->shell_command);
	free(cli->why_path);
	free(cli->why_op);
	free(cli->why_host);
	free(cli->profile_arg);
	memset(cli, 0, sizeof(*cli));
}

/* Print "  left" then help (which may span lines) at CLI_HELP_COL. */
static void
usage_line(const char *left, const char *help)
{
	const char	*nl;
	int		 w;

	w = printf("  %s", left);
	if (w >= CLI_HELP_COL - 1) {
		putchar('\n');
		w = 0;
	}
	for (;;) {
		printf("%*s", CLI_HELP_COL - w, "");
		if ((nl = strchr(help, '\n')) == NULL) {
			printf("%s\n", help);
			return;
		}
		printf("%.*s\n", (int)(nl - help), help);
		help = nl + 1;
		w = 0;
	}
}

/* One option's help: its spellings, value, description and aliases. */
static void
usage_opt(const struct opt *o)
{
	char	left[96];
	char	aliases[160];
	size_t	i, n = 0;
	int	w;

	if (o->sname != 0 && o->lname != NULL)
		w = snprintf(left, sizeof(left), "-%c, --%s", o->sname,
		    o->lname);
	else if (o->sname != 0)
		w = snprintf(left, sizeof(left), "-%c", o->sname);
	else
		w = snprintf(left, sizeof(left), "    --%s", o->lname);
	if (o->arg != NULL && w > 0 && (size_t)w < sizeof(left))
		snprintf(left + w, sizeof(left) - (size_t)w, " %s", o->arg);
	usage_line(left, o->help);

	aliases[0] = '\0';
	for (i = 0; i < NOPTS; i++) {
		if (opts[i].id != o->id || !(opts[i].flags & OPT_ALIAS))
			continue;
		w = snprintf(aliases + n, sizeof(aliases) - n, "%s--%s",
		    n == 0 ? "" : ", ", opts[i].lname);
		if (w < 0 || (size_t)w >= sizeof(aliases) - n)
			break;
		n += (size_t)w;
	}
	if (n > 0)
		printf("%*s(also %s)\n", CLI_HELP_COL, "", aliases);
}

/* The options section(s) of one command (bit) or the top level. */
static void
usage_opts(unsigned bit)
{
	size_t	i;
	int	s;
	bool	title;

	for (s = 0; s < S__MAX; s++) {
		title = false;
		for (i = 0; i < NOPTS; i++) {
			if (opts[i].sect != (enum opt_sect)s ||
			    (opts[i].flags & OPT_ALIAS) ||
			    !(opts[i].cmds & bit))
				continue;
			if (!title) {
				printf("\n%s options:\n", sect_title[s]);
				title = true;
			}
			usage_opt(&opts[i]);
		}
	}
}

/* The environment equivalents a command reads. */
static void
usage_env(unsigned bit)
{
	const struct opt	*o;
	char			 left[64], help[96];
	size_t			 i;
	bool			 title = false;

	for (i = 0; i < NENVVARS; i++) {
		o = find_id(envvars[i].id);
		if (o == NULL || !(o->cmds & bit))
			continue;
		if (!title) {
			printf("\nEnvironment (used when the option is not "
			    "given; KEYHOLE_X first, then NONO_X):\n");
			title = true;
		}
		snprintf(left, sizeof(left), "KEYHOLE_%s", envvars[i].name);
		snprintf(help, sizeof(help), "--%s%s", o->lname,
		    envvars[i].type == ENV_LIST ? " (comma list)" :
		    envvars[i].type == ENV_BOOL ? " (1/0, true/false, "
		    "yes/no, on/off)" : "");
		usage_line(left, help);
	}
}

static void
usage_overview(void)
{
	size_t	i;

	printf("keyhole %s - run a program in a Linux sandbox whose network "
	    "goes through\na proxy that holds the real credentials\n\n",
	    KEYHOLE_VERSION);
	printf("Usage:\n");
	for (i = 0; i < NCMDS; i++)
		printf("  keyhole %s\n", cmds[i].synopsis);
	printf("\nCommands:\n");
	for (i = 0; i < NCMDS; i++)
		usage_line(cmds[i].name, cmds[i].summary);
	usage_opts(C_TOP);
	printf("\nExit status: the command's own; 128+N if it died from "
	    "signal N; 126 if the\nsandbox could not be applied or the "
	    "command not executed; 127 if it was\nnot found; 1 for a keyhole "
	    "error; 2 for a usage error.\n");
	printf("\nRun 'keyhole help COMMAND' or 'keyhole COMMAND --help' "
	    "for a command's options.\n");
}

void
cli_usage(const char *cmd)
{
	const struct cmd	*c = cmd != NULL ? find_cmd(cmd) : NULL;

	if (c == NULL || c->cmd == CLI_HELP) {
		usage_overview();
		return;
	}
	printf("Usage: keyhole %s\n\n%s\n", c->synopsis, c->about);
	usage_opts(c->bit);
	usage_env(c->bit);
	if (c->cmd == CLI_RUN || c->cmd == CLI_SHELL || c->cmd == CLI_PROXY)
		printf("\nNetwork: --block-net beats --allow-net, which beats "
		    "the proxy options;\nthose add to the profile's.  "
		    "--allow-net with a proxy option is an error.\n");
	if (c->cmd == CLI_RUN)
		printf("\nExamples:\n"
		    "  keyhole run --allow . -- make test\n"
		    "  keyhole run -p claude-code --credential anthropic "
		    "claude\n"
		    "  keyhole run --allow-domain api.github.com "
		    "--allow-domain '*.npmjs.org' npm ci\n");
}
