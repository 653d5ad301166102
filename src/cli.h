#ifndef KEYHOLE_CLI_H
#define KEYHOLE_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "util/errbuf.h"
#include "util/ports.h"
#include "util/strv.h"

/*
 * The command line, parsed into plain data (SPEC §2).  Nothing here is
 * interpreted: the run plan (policy/plan.c) decides what the options mean
 * together with the profile.  Options not given on the command line are
 * filled from KEYHOLE_* then NONO_* environment variables (SPEC §2.1).
 */

#define KEYHOLE_VERSION	"0.1.0"

enum cli_cmd {
	CLI_NONE = 0,
	CLI_RUN,
	CLI_SHELL,
	CLI_PROXY,
	CLI_WHY,
	CLI_PROFILE,
	CLI_HELP,
	CLI_VERSION,
};

enum cli_profile_sub {
	CLI_PROFILE_NONE = 0,
	CLI_PROFILE_LIST,
	CLI_PROFILE_SHOW,
	CLI_PROFILE_VALIDATE,
	CLI_PROFILE_SCHEMA,
};

/* Proxy limits (SPEC §4.1); 0 means "use the default". */
struct cli_limits {
	uint32_t	head_timeout_ms;	/* --head-timeout SECS */
	uint32_t	idle_timeout_ms;	/* --idle-timeout SECS */
	uint32_t	connect_timeout_ms;	/* --connect-timeout SECS */
	uint32_t	max_conns;		/* --max-connections N */
	uint64_t	max_body;		/* --max-body BYTES */
};

struct cli {
	enum cli_cmd	 cmd;
	bool		 help;		/* any help form: print usage, exit 0 */
	/* Borrowed (a static string): the command to show help for, set by
	 * "CMD --help" and "help CMD"; NULL for the overview. */
	const char	*help_topic;

	/* Filesystem (SPEC §2.1); lists are comma-split for -a/-r/-w. */
	struct strv	 allow, read, write;
	struct strv	 allow_file, read_file, write_file;
	bool		 allow_cwd;
	char		*workdir;		/* owned */
	struct strv	 override_deny;
	struct strv	 allow_unix_socket;

	/* Network. */
	bool		 block_net;
	bool		 allow_net;
	struct strv	 allow_domain;
	char		*network_profile;	/* owned; NULL when not given */
	struct strv	 credential;
	struct strv	 allow_endpoint;	/* SERVICE:METHOD:PATH */
	struct ports	 open_port;
	struct ports	 listen_port;
	uint16_t	 proxy_port;		/* 0: kernel-chosen */
	bool		 proxy_port_set;
	char		*upstream_proxy;	/* owned; HOST:PORT */
	struct strv	 upstream_bypass;
	struct strv	 resolve;		/* HOST:PORT:ADDR */
	char		*upstream_ca;		/* owned; path */
	char		*tls_intercept;		/* owned; credentials|all|off */
	struct strv	 tls_intercept_exclude;	/* HOST */
	char		*tls_ca;		/* owned; CERT,KEY (proxy) */
	bool		 tls_java_truststore;	/* PKCS#12 + JAVA_TOOL_OPTIONS */
	char		*audit_log;		/* owned; path */
	bool		 allow_degraded_network;
	bool		 report_only;	/* --report-only (SPEC 4.11) */
	struct cli_limits limits;

	/* Profile and general. */
	char		*profile;		/* owned; name or path */
	bool		 dry_run;
	int		 verbose;		/* count of -v */
	bool		 silent;
	struct strv	 allow_env;		/* --allow-env NAME (SPEC §6) */
	bool		 keep_tmp;		/* --keep-tmp (SPEC §7) */
	char		*env_file;		/* owned; proxy --env-file */
	bool		 log_json;		/* proxy --log-format json */
	char		*admin_listen;		/* owned; proxy --admin-listen */
	char		*clients;		/* owned; proxy --clients FILE */
	struct strv	 listen;		/* proxy --listen ADDR:PORT */
	uint64_t	 drain_timeout_ms;	/* proxy --drain-timeout */

	/* run / shell */
	struct strv	 argv;			/* CMD ARGS... (run) */
	char		*shell;			/* owned; --shell PATH */
	char		*shell_command;		/* owned; shell -c STRING */

	/* why */
	char		*why_path;		/* owned */
	char		*why_op;		/* owned; read|write|readwrite;
						 * "read" when --path has no --op */
	char		*why_host;		/* owned */
	bool		 json;

	/* profile */
	enum cli_profile_sub profile_sub;
	char		*profile_arg;		/* owned; NAME or FILE */
};

/*
 * Parse argv (argv[0] is the program).  0 on success; -1 on a usage error
 * with e saying what is wrong (main prints "error: <msg>" and exits 2).
 * env is the environment to read KEYHOLE_* / NONO_* from (environ).
 */
int	 cli_parse(struct cli *, int argc, char **argv, char **env,
	    struct errbuf *e);
/* Print usage for a command (or the overview for NULL) to stdout. */
void	 cli_usage(const char *cmd);
void	 cli_free(struct cli *);

#endif
