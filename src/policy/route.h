#ifndef KEYHOLE_POLICY_ROUTE_H
#define KEYHOLE_POLICY_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/errbuf.h"
#include "util/strv.h"

/*
 * A credential route (SPEC §5): the service name, where requests go, where
 * the secret comes from and how it is injected.  route_def is the
 * definition as written (built-in data or profile custom_credentials);
 * route is a definition selected for a run, with its upstream parsed and
 * its endpoint rules attached.
 */

enum inject_mode {
	INJECT_HEADER = 0,
	INJECT_URL_PATH,
	INJECT_QUERY_PARAM,
	INJECT_BASIC_AUTH,
};

struct endpoint_rule {
	char	*method;	/* owned; "*" = any */
	char	*path;		/* owned; glob */
};

/*
 * One more host a route serves through interception (SPEC §4.12, custom
 * route key "hosts"), with its own injection: the built-in github route
 * covers github.com for git (Basic, user x-access-token).
 */
struct route_host_def {
	char			*host;		/* owned; "name[:port]" */
	enum inject_mode	 inject_mode;
	char			*inject_header;	/* owned or NULL: Authorization */
	char			*credential_format; /* owned or NULL: the route's;
						 * basic_auth: base64 of it */
};

struct route_def {
	char			*name;			/* owned */
	char			*upstream;		/* owned; URL */
	char			*credential_key;	/* owned; source ref */
	enum inject_mode	 inject_mode;
	char			*inject_header;		/* owned */
	char			*credential_format;	/* owned */
	char			*path_pattern;		/* owned or NULL */
	char			*path_replacement;	/* owned or NULL */
	char			*query_param_name;	/* owned or NULL */
	char			*env_var;		/* owned or NULL */
	char			*base_url_var;		/* owned or NULL */
	struct endpoint_rule	*rules;			/* owned array */
	size_t			 nrules;
	/*
	 * Pass the client's Accept-Encoding on and compressed responses
	 * back: gives up scrubbing the secret out of responses (SPEC §4.6
	 * step 6).
	 */
	bool			 compressed_responses;
	struct route_host_def	*hosts;			/* owned array */
	size_t			 nhosts;
};

struct route {
	struct route_def	*def;		/* owned copy */
	bool			 up_tls;	/* https */
	char			*up_host;	/* owned; canonical, no [] */
	uint16_t		 up_port;
	char			*up_path;	/* owned; base path, no trailing / */
	char			*base_url_var;	/* owned; e.g. OPENAI_BASE_URL */
	char			*phantom_var;	/* owned; e.g. OPENAI_API_KEY */
	/*
	 * The def's hosts as routes of their own (https, port 443 unless
	 * named, base path "", the host's injection; no variables): what
	 * interception serves for a CONNECT to one of them.
	 */
	struct route		**extra;	/* owned array of owned */
	size_t			 nextra;
	bool			 is_host;	/* one of another's extra */
	bool			 passthrough;	/* a plain intercepted host: no
						 * credential, the client's kept */
};

/*
 * A definition with only its name (copied) set: inject_mode header, every
 * other field NULL.  Fill what was written, then call
 * policy_route_def_fill_defaults().
 */
struct route_def *policy_route_def_new(const char *name);
/*
 * Set the fields left NULL to their defaults (SPEC §5): credential_key
 * "env://NAME_API_KEY" (NAME upper-cased, '-' as '_'), inject_header
 * "Authorization", credential_format "Bearer {}".  policy_route_new()
 * does this on its copy too.
 */
void	 policy_route_def_fill_defaults(struct route_def *);
/* A deep copy; the caller owns it. */
struct route_def *policy_route_def_copy(const struct route_def *);
void	 policy_route_def_add_rule(struct route_def *, const char *method,
	    const char *path);
void	 policy_route_def_free(struct route_def *);
/*
 * Add a host to d: mode NULL (header) or an inject mode name, header and
 * format NULL for the defaults.  -1 with e on an unknown mode.
 */
int	 policy_route_def_add_host(struct route_def *, const char *host,
	    const char *mode, const char *header, const char *format,
	    struct errbuf *e);
/* "header" etc. to the enum; -1 when unknown. */
int	 policy_route_inject_mode(const char *, enum inject_mode *);
const char *policy_route_inject_mode_name(enum inject_mode);

/*
 * Select a definition for a run: copy it (defaults filled), check the
 * name ([A-Za-z0-9_-]+) and what the inject mode needs (header name a
 * token, url_path pattern with {}, query_param name), parse its upstream
 * URL (https, or http only for a loopback host: localhost, 127/8, ::1),
 * derive the variable names: base_url_var, else NAME_BASE_URL; phantom_var
 * = env_var, else a [A-Za-z0-9_]+ credential_key upper-cased, else
 * NAME_API_KEY (NAME upper-cased, '-' as '_').  NULL with e naming the
 * route on error.
 */
struct route *policy_route_new(const struct route_def *, struct errbuf *e);
void	 policy_route_free(struct route *);
/*
 * A plain host intercepted (SPEC 4.12: endpoint rules for a plain host,
 * or --tls-intercept all): https://host:port, no credential injected,
 * the client's own credential headers kept, compressed responses passed.
 */
struct route *policy_route_passthrough_new(const char *host, uint16_t port);

/*
 * Append to out the other variables the clients of route r's service read
 * their key from (SPEC §6: Codex reads CODEX_API_KEY, gh GH_TOKEN); the
 * phantom is exported under these too.  Names equal to r->phantom_var
 * are left out.
 */
void	 policy_route_alias_vars(const struct route *r, struct strv *out);
/*
 * The built-in service whose route would carry the key of variable name
 * (OPENAI_API_KEY and CODEX_API_KEY: "openai"), or NULL.
 */
const char *policy_route_service_for_var(const char *name);

/*
 * Parse an upstream URL "scheme://host[:port][/path]".  Fills tls, host
 * (canonical, owned), port and path (owned, "" or "/x" without trailing
 * slash).  -1 with e on a malformed URL or a scheme other than http/https.
 */
int	 policy_route_parse_url(const char *url, bool *tls, char **host,
	    uint16_t *port, char **path, struct errbuf *e);

#endif
