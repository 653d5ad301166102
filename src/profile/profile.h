#ifndef KEYHOLE_PROFILE_PROFILE_H
#define KEYHOLE_PROFILE_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "policy/plan.h"
#include "util/errbuf.h"
#include "util/ports.h"
#include "util/strv.h"

struct route_def;			/* policy/route.h */

/*
 * Profiles (SPEC §8): nono's JSON profile format, loaded by name or path,
 * "extends" resolved, merged and finalised (implicit default groups,
 * exclusions).  A struct profile is plain data; the run plan
 * (policy/plan.c) turns it into grants, routes and the network mode.
 *
 * Files:  load.c (lookup, strict parse, extends), merge.c, validate.c
 * (credential references, custom credentials, environment rules),
 * expand.c (path variables), builtin.c (data/policy.json: groups and
 * built-in profiles, finalisation), show.c (JSON / text, listing).
 */

#define PROFILE_EXTENDS_MAX	10		/* ancestor levels */
#define PROFILE_FILE_MAX	(1024 * 1024)	/* bytes in one file */

/*
 * The environment values path expansion and lookup use.  Fields are
 * borrowed; NULL means unset.  Tests fill it by hand.
 */
struct profile_env {
	const char	*home;		/* HOME: must be set and absolute */
	const char	*workdir;	/* $WORKDIR; NULL: the current dir */
	const char	*tmpdir;	/* TMPDIR (default /tmp) */
	const char	*xdg_config_home;
	const char	*xdg_data_home;
	const char	*xdg_state_home;
	const char	*xdg_cache_home;
	const char	*xdg_runtime_dir;
	uid_t		 uid;		/* $UID */
};

enum profile_workdir {
	PROFILE_WORKDIR_NONE = 0,
	PROFILE_WORKDIR_READ,
	PROFILE_WORKDIR_WRITE,
	PROFILE_WORKDIR_READWRITE,
};

/* network.network_profile: absent = inherit, null = clear, "x" = set. */
enum profile_netprof {
	PROFILE_NETPROF_INHERIT = 0,
	PROFILE_NETPROF_CLEAR,
	PROFILE_NETPROF_SET,
};

/*
 * network.credentials (PR #518): absent or null = inherit; a list, maybe
 * empty ([] clears what the bases gave).
 */
enum profile_creds {
	PROFILE_CREDS_INHERIT = 0,
	PROFILE_CREDS_LIST,
};

/* An optional boolean: unset inherits. */
enum profile_tribool {
	PROFILE_UNSET = 0,
	PROFILE_FALSE,
	PROFILE_TRUE,
};

/* security.signal_mode and security.process_info_mode. */
enum profile_proc_mode {
	PROFILE_PROC_UNSET = 0,
	PROFILE_PROC_ISOLATED,
	PROFILE_PROC_ALLOW_SAME_SANDBOX,
	PROFILE_PROC_ALLOW_ALL,
};

enum profile_ipc_mode {
	PROFILE_IPC_UNSET = 0,
	PROFILE_IPC_SHARED_MEMORY_ONLY,
	PROFILE_IPC_FULL,
};

enum profile_wsl2 {
	PROFILE_WSL2_UNSET = 0,
	PROFILE_WSL2_ERROR,
	PROFILE_WSL2_INSECURE_PROXY,
};

/* One entry of a string map; maps keep file order, child wins per key. */
struct profile_kv {
	char	*key;		/* owned */
	char	*value;		/* owned */
};

struct profile_map {
	struct profile_kv	*v;	/* owned array */
	size_t			 n;
};

/* hooks.<name>: parsed and merged for nono compatibility, not used. */
struct profile_hook {
	char	*name;		/* owned */
	char	*event;		/* owned */
	char	*matcher;	/* owned */
	char	*script;	/* owned */
};

struct profile_meta {
	bool	 present;	/* "meta" was in the file */
	char	*name;		/* owned; "" when absent */
	char	*version;	/* owned; "" when absent */
	char	*description;	/* owned or NULL */
	char	*author;	/* owned or NULL */
};

struct profile_security {
	struct strv		 groups;	/* as written (merged) */
	struct strv		 allowed_commands;
	enum profile_proc_mode	 signal_mode;
	enum profile_proc_mode	 process_info_mode;
	enum profile_ipc_mode	 ipc_mode;
	enum profile_tribool	 capability_elevation;
	enum profile_wsl2	 wsl2_proxy_policy;
};

/* Path templates, unexpanded (profile_expand). */
struct profile_fs {
	struct strv	allow;		/* directories, read+write */
	struct strv	read;
	struct strv	write;
	struct strv	allow_file;	/* files */
	struct strv	read_file;
	struct strv	write_file;
	struct strv	allow_unix_socket;
};

struct profile_policy {
	struct strv	exclude_groups;
	struct strv	add_allow_read;		/* directories */
	struct strv	add_allow_write;
	struct strv	add_allow_readwrite;
	struct strv	add_deny_access;	/* path templates */
	struct strv	add_deny_commands;
	struct strv	override_deny;		/* path templates */
};

struct profile_net {
	bool			 block;		/* OR-merged */
	bool			 report_only;	/* OR-merged (SPEC 4.11) */
	enum profile_netprof	 network_profile_state;
	char			*network_profile; /* owned; NULL unless SET */
	struct strv		 allow_domain;	/* SPEC §4.3 entries */
	enum profile_creds	 credentials_state;
	struct strv		 credentials;	/* meaningful when LIST */
	struct route_def	**custom;	/* owned array of owned */
	size_t			 ncustom;
	struct ports		 open_port;
	struct ports		 listen_port;
	char			*upstream_proxy; /* owned; HOST:PORT or NULL */
	struct strv		 upstream_bypass;
	struct strv		 no_proxy;
	char			*tls_intercept;	/* owned or NULL */
	struct strv		 tls_intercept_exclude; /* hosts, *.suffix */
	struct strv		 allow_endpoint; /* HOST|SERVICE:METHOD:PATH */
};

struct profile_environment {
	bool			 allow_vars_set; /* false: no allow filter */
	struct strv		 allow_vars;	/* names, "PREFIX*" patterns */
	struct strv		 deny_vars;
	struct profile_map	 set_vars;	/* name -> value */
};

struct profile_open_urls {
	bool		 present;
	struct strv	 allow_origins;
	bool		 allow_localhost;
};

struct profile {
	char			*label;		/* owned; path, builtin:NAME */
	struct strv		 extends;	/* raw; empty after load */
	int			 extends_line;	/* of "extends" in the file; */
	int			 extends_col;	/* 0 when unknown */
	struct profile_meta	 meta;
	struct profile_security	 security;
	struct profile_fs	 fs;
	struct profile_policy	 policy;
	struct profile_net	 net;
	struct profile_map	 env_credentials; /* source ref -> var */
	struct profile_environment environment;
	enum profile_workdir	 workdir;
	struct profile_hook	*hooks;		/* owned array */
	size_t			 nhooks;
	struct strv		 rollback_patterns;
	struct strv		 rollback_globs;
	struct profile_open_urls open_urls;
	enum profile_tribool	 allow_launch_services;
	bool			 interactive;
	struct strv		 skipdirs;

	/* Set by finalisation (profile_load / profile_finalise). */
	bool			 finalised;
	struct strv		 groups;	/* effective, all platforms */
};

/*
 * A policy group of data/policy.json.  Paths are templates; the built-in
 * groups live as long as the process.
 */
struct profile_group {
	char		*name;		/* owned */
	char		*description;	/* owned */
	char		*platform;	/* owned; NULL: every platform */
	bool		 required;	/* cannot be excluded */
	struct strv	 read;
	struct strv	 write;
	struct strv	 readwrite;
	struct strv	 deny_access;
	struct strv	 deny_commands;
	/*
	 * Granted paths keyhole creates when missing, before a run (SPEC
	 * §7: agent state files, tool caches): "create": {"dirs": [...],
	 * "files": [...]} in the data.
	 */
	struct strv	 create_dirs;
	struct strv	 create_files;
	/* Owned or NULL: an agent keyhole configures for the run ("agent"). */
	char		*agent;
};

/* What to do with a group grant whose path does not exist yet. */
enum profile_create {
	PROFILE_CREATE_NONE = 0,
	PROFILE_CREATE_DIR,	/* mkdir 0700 before the run */
	PROFILE_CREATE_FILE,	/* an empty file, 0600, before the run */
};

/* One expanded group grant. */
struct profile_grant {
	char		*path;		/* owned; expanded, not canonical */
	enum fs_access	 access;
	const char	*group;		/* borrowed from the built-in data */
	enum profile_create create;
};

/* What a set of groups grants and denies, expanded. */
struct profile_group_paths {
	struct profile_grant	*grants;	/* owned array */
	size_t			 ngrants;
	struct strv		 deny_access;	/* expanded paths */
	struct strv		 deny_commands;	/* basenames */
	/*
	 * Set by a caller that does not read deny_commands (the run's
	 * grants): profile_groups_expand leaves it empty.
	 */
	bool			 no_commands;
};

/* ---- load.c ---- */

/* An empty profile (every state "inherit"). */
struct profile *profile_new(void);
void	 profile_free(struct profile *);
/* True for [A-Za-z0-9-]+ not starting or ending with '-'. */
bool	 profile_name_valid(const char *);
/*
 * Parse one profile document strictly and validate it (custom credentials,
 * env_credentials, environment).  extends is kept raw, nothing resolved
 * or finalised.  label names the document in errors.  NULL with e as
 * "profile LABEL: line L column C: KEY.PATH: what".
 */
struct profile *profile_parse_bytes(const char *json, size_t len,
	    const char *label, struct errbuf *e);
/* profile_parse_bytes over a file (at most PROFILE_FILE_MAX bytes). */
struct profile *profile_parse_file(const char *path, struct errbuf *e);
/*
 * Load by name or path (SPEC §8): a value with '/' or ending in ".json"
 * is a path; a name is looked up in profile_search_dirs() then the
 * built-ins.  extends is resolved and the result finalised.  env NULL:
 * the process environment.  The caller owns the result.
 */
struct profile *profile_load(const char *name_or_path,
	    const struct profile_env *env, struct errbuf *e);
/*
 * Internal to src/profile (builtin.c): parse obj, the built-in definition
 * at profiles.NAME of the policy document doc, with the same strict
 * schema; doc is only read to place errors.
 */
struct json_t;
struct profile *profile_parse_builtin(const char *doc, size_t len,
	    struct json_t *obj, const char *name, struct errbuf *e);
/* As profile_load for a document in memory (tests, fuzzing). */
struct profile *profile_load_bytes(const char *json, size_t len,
	    const char *label, const struct profile_env *env,
	    struct errbuf *e);
/*
 * The user profile directories, in lookup order:
 * $XDG_CONFIG_HOME/keyhole/profiles (XDG_CONFIG_HOME relative or unset:
 * $HOME/.config, with a warning when relative), $HOME/.config/nono/profiles.
 * -1 with e when HOME is unusable.
 */
int	 profile_search_dirs(const struct profile_env *, struct strv *out,
	    struct errbuf *e);
/* Fill env from the process environment (getenv, getuid). */
void	 profile_env_from_environ(struct profile_env *);

/* ---- merge.c ---- */

/*
 * Merge child over base in place (SPEC §8, nono-profile.md §3.1): lists
 * dedup-append, maps child wins per key, booleans OR, scalars child wins
 * when set, meta replaced, workdir child unless none, network_profile and
 * credentials three-state.  extends and finalisation are not merged.
 */
void	 profile_merge_into(struct profile *base, const struct profile *child);
/* merge(base, child) as a new profile; the caller owns it. */
struct profile *profile_merge(const struct profile *base,
	    const struct profile *child);
/* A deep copy (extends dropped). */
struct profile *profile_copy(const struct profile *);
/* The resolved credentials: the list, or an empty list when inherited. */
const struct strv *profile_credentials(const struct profile *);
/*
 * True when the profile asks for the proxy (nono "has proxy flags"):
 * network_profile set, or allow_domain, resolved credentials non-empty,
 * or upstream_proxy set.
 */
bool	 profile_wants_proxy(const struct profile *);
/* The custom credential definition called name, or NULL (borrowed). */
const struct route_def *profile_custom_credential(const struct profile *,
	    const char *name);
/* Map helpers: value for key or NULL (borrowed); set (child wins). */
const char *profile_map_get(const struct profile_map *, const char *key);
void	 profile_map_set(struct profile_map *, const char *key,
	    const char *value);
void	 profile_map_free(struct profile_map *);

/* ---- validate.c ---- */

/* True when name is on nono's dangerous-variable list (any case). */
bool	 profile_env_dangerous(const char *name);
/* True for a non-empty RFC 7230 token. */
bool	 profile_header_token_valid(const char *);
/*
 * A destination environment variable: non-empty, [A-Za-z0-9_], not on
 * the dangerous list ("blocklist").  -1 with e.
 */
int	 profile_validate_env_var(const char *name, struct errbuf *e);
/*
 * A credential source reference: env://NAME, file:///abs, op://v/i/f,
 * keyring://service/account, cmd://..., or a bare [A-Za-z0-9_]+ keyring
 * account.  apple-password(s):// and bw:// parse but are refused ("not
 * supported on Linux").  *is_uri (may be NULL) says whether it has a
 * scheme.  -1 with e; the message never repeats a bare key (it may be a
 * pasted secret).
 */
int	 profile_validate_credential_ref(const char *ref, bool *is_uri,
	    struct errbuf *e);
/*
 * A custom credential definition (nono-proxy.md §12.4 with SPEC changes).
 * -1 with e and *field set to the offending field name.
 */
int	 profile_validate_custom_credential(const struct route_def *,
	    const char **field, struct errbuf *e);

/* ---- expand.c ---- */

/*
 * Check the environment for expansion: HOME set and absolute; TMPDIR and
 * every XDG_* that is set absolute.  -1 with e naming the variable.
 */
int	 profile_env_check(const struct profile_env *, struct errbuf *e);
/*
 * Expand a path template: leading "~" / "~/", and the whole names $HOME,
 * $WORKDIR, $TMPDIR (trailing '/' trimmed), $UID, $XDG_CONFIG_HOME,
 * $XDG_DATA_HOME, $XDG_STATE_HOME, $XDG_CACHE_HOME, $XDG_RUNTIME_DIR
 * (literal when unset).  A name ends at a byte outside [A-Za-z0-9_];
 * other names stay literal.  One pass: substituted text is not rescanned.
 * The caller owns the result; NULL with e (profile_env_check failed).
 */
char	*profile_expand(const char *tmpl, const struct profile_env *,
	    struct errbuf *e);
/* profile_expand every item of src, appending to dst.  -1 with e. */
int	 profile_expand_list(const struct strv *src,
	    const struct profile_env *, struct strv *dst, struct errbuf *e);

/* ---- builtin.c ---- */

/* A built-in group by name, or NULL (borrowed, lives forever). */
const struct profile_group *profile_builtin_group(const char *name);
/* Names of every built-in group, in data order. */
void	 profile_builtin_group_names(struct strv *out);
/* Names of the built-in profiles, in data order. */
void	 profile_builtin_names(struct strv *out);
/* A copy of a built-in profile definition, unresolved; NULL if unknown. */
struct profile *profile_builtin_get(const char *name);
/* security.groups of the built-in "default" (the implicit groups). */
const struct strv *profile_builtin_default_groups(void);
/*
 * profile_effective_groups of the built-in default, finalised (its
 * security.groups once each, the Linux ones), appended to out: what
 * profile_default_groups gives without a user default.json, with no
 * profile made.  -1 with e (out as it was).
 */
int	 profile_builtin_default_effective(struct strv *out, struct errbuf *e);
/*
 * Finalise a merged profile (nono-profile.md §3.6): refuse excluding a
 * required group ("required"), refuse unknown groups, then groups =
 * implicit defaults (unless meta.name is "default") + security.groups,
 * minus policy.exclude_groups.  -1 with e.
 */
int	 profile_finalise(struct profile *, struct errbuf *e);
/*
 * profile_effective_groups of profile_load("default", env): a user's
 * default.json when the search directories have one, else the built-in
 * default's groups, compiled in (nothing parsed: every run without
 * --profile asks).  -1 with e.
 */
int	 profile_default_groups(const struct profile_env *, struct strv *out,
	    struct errbuf *e);
/*
 * The effective groups of a finalised profile that apply on Linux
 * (platform absent or "linux"), in order.  -1 with e.
 */
int	 profile_effective_groups(const struct profile *, struct strv *out,
	    struct errbuf *e);
/*
 * Expand what the named groups (Linux ones; others skipped) grant and
 * deny into out (zeroed by the caller).  -1 with e on an unknown group
 * or an expansion error.
 */
int	 profile_groups_expand(const struct strv *groups,
	    const struct profile_env *, struct profile_group_paths *out,
	    struct errbuf *e);
void	 profile_group_paths_free(struct profile_group_paths *);
/* Embedded data (build/gen/data_policy.c). */
extern const char	data_policy_json[];
extern const size_t	data_policy_json_len;
/* The JSON Schema of the format (data/profile-schema.json, SPEC §10). */
extern const char	data_profile_schema_json[];
extern const size_t	data_profile_schema_json_len;

/* ---- show.c ---- */

/*
 * The profile as JSON in the profile schema (canonical key names; a
 * finalised profile shows its effective groups as security.groups).
 * credentials: null when inherited, [] when cleared.  network_profile:
 * absent when inherited, null when cleared.  Caller frees with free().
 */
char	*profile_show_json(const struct profile *);
/* A human rendering, several lines; caller frees with free(). */
char	*profile_show_text(const struct profile *);
/*
 * Available profiles: built-in names, and the stems of *.json files in the
 * user directories (valid names only, sorted, deduplicated).  env NULL:
 * the process environment.  -1 with e when HOME is unusable.
 */
int	 profile_list(const struct profile_env *, struct strv *builtin,
	    struct strv *user, struct errbuf *e);

/*
 * Line and column (1-based) in the JSON text of the deepest value of the
 * object-key path keys[0..nkeys) that exists, read the way profiles are
 * (jansson decodes every key and value on the way).  For other JSON files
 * that report errors as profiles do (--clients).
 */
void	 profile_json_locate(const char *text, size_t len,
	    const char *const *keys, size_t nkeys, int *line, int *col);

#endif
