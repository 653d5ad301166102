#include "policy/route.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy/allowlist.h"
#include "util/log.h"
#include "util/strbuf.h"
#include "util/strnum.h"
#include "util/xmalloc.h"

/* Room for a URL shown in a message: escaped, cut at 256 bytes. */
#define ROUTE_SHOW_MAX	(4 * 256 + 1)

static const char *const route_mode_names[] = {
	[INJECT_HEADER] = "header",
	[INJECT_URL_PATH] = "url_path",
	[INJECT_QUERY_PARAM] = "query_param",
	[INJECT_BASIC_AUTH] = "basic_auth",
};

/* Escape s for a message. */
static const char *
route_show(char *buf, const char *s)
{
	size_t	n = strlen(s);

	return log_escape(buf, ROUTE_SHOW_MAX, s, n > 256 ? 256 : n);
}

/* xstrdup that passes NULL through. */
static char *
route_strdup(const char *s)
{
	return s == NULL ? NULL : xstrdup(s);
}

/* NAME upper-cased with '-' turned into '_', then suffix. */
static char *
route_var(const char *name, const char *suffix)
{
	struct strbuf	b = { 0 };
	const char	*p;

	for (p = name; *p != '\0'; p++) {
		if (*p == '-')
			strbuf_appendc(&b, '_');
		else if (*p >= 'a' && *p <= 'z')
			strbuf_appendc(&b, (char)(*p - 'a' + 'A'));
		else
			strbuf_appendc(&b, *p);
	}
	strbuf_append(&b, suffix);
	return strbuf_steal(&b);
}

/* True when s is non-empty and only [A-Za-z0-9_]. */
static bool
route_is_word(const char *s)
{
	if (s == NULL || *s == '\0')
		return false;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789_") == strlen(s);
}

struct route_def *
policy_route_def_new(const char *name)
{
	struct route_def	*d;

	d = xcalloc(1, sizeof(*d));
	d->name = xstrdup(name);
	d->inject_mode = INJECT_HEADER;
	return d;
}

void
policy_route_def_fill_defaults(struct route_def *d)
{
	char	*var;

	if (d->credential_key == NULL) {
		var = route_var(d->name, "_API_KEY");
		d->credential_key = xasprintf("env://%s", var);
		free(var);
	}
	if (d->inject_header == NULL)
		d->inject_header = xstrdup("Authorization");
	if (d->credential_format == NULL)
		d->credential_format = xstrdup("Bearer {}");
}

struct route_def *
policy_route_def_copy(const struct route_def *s)
{
	struct route_def	*d;
	size_t			 i;

	d = policy_route_def_new(s->name);
	d->upstream = route_strdup(s->upstream);
	d->credential_key = route_strdup(s->credential_key);
	d->inject_mode = s->inject_mode;
	d->inject_header = route_strdup(s->inject_header);
	d->credential_format = route_strdup(s->credential_format);
	d->path_pattern = route_strdup(s->path_pattern);
	d->path_replacement = route_strdup(s->path_replacement);
	d->query_param_name = route_strdup(s->query_param_name);
	d->env_var = route_strdup(s->env_var);
	d->base_url_var = route_strdup(s->base_url_var);
	d->compressed_responses = s->compressed_responses;
	for (i = 0; i < s->nrules; i++)
		policy_route_def_add_rule(d, s->rules[i].method,
		    s->rules[i].path);
	d->hosts = xcalloc(s->nhosts ? s->nhosts : 1, sizeof(*d->hosts));
	for (i = 0; i < s->nhosts; i++) {
		d->hosts[i].host = xstrdup(s->hosts[i].host);
		d->hosts[i].inject_mode = s->hosts[i].inject_mode;
		d->hosts[i].inject_header = route_strdup(
		    s->hosts[i].inject_header);
		d->hosts[i].credential_format = route_strdup(
		    s->hosts[i].credential_format);
	}
	d->nhosts = s->nhosts;
	return d;
}

int
policy_route_def_add_host(struct route_def *d, const char *host,
    const char *mode, const char *header, const char *format,
    struct errbuf *e)
{
	struct route_host_def	*h;
	enum inject_mode	 m = INJECT_HEADER;

	if (mode != NULL && (policy_route_inject_mode(mode, &m) == -1 ||
	    (m != INJECT_HEADER && m != INJECT_BASIC_AUTH))) {
		errbuf_set(e, "hosts: inject_mode '%s': a host takes header "
		    "or basic_auth", mode);
		return -1;
	}
	d->hosts = xreallocarray(d->hosts, d->nhosts + 1, sizeof(*d->hosts));
	h = &d->hosts[d->nhosts++];
	h->host = xstrdup(host);
	h->inject_mode = m;
	h->inject_header = route_strdup(header);
	h->credential_format = route_strdup(format);
	return 0;
}

void
policy_route_def_add_rule(struct route_def *d, const char *method,
    const char *path)
{
	d->rules = xreallocarray(d->rules, d->nrules + 1, sizeof(*d->rules));
	d->rules[d->nrules].method = xstrdup(method);
	d->rules[d->nrules].path = xstrdup(path);
	d->nrules++;
}

void
policy_route_def_free(struct route_def *d)
{
	size_t	i;

	if (d == NULL)
		return;
	free(d->name);
	free(d->upstream);
	free(d->credential_key);
	free(d->inject_header);
	free(d->credential_format);
	free(d->path_pattern);
	free(d->path_replacement);
	free(d->query_param_name);
	free(d->env_var);
	free(d->base_url_var);
	for (i = 0; i < d->nrules; i++) {
		free(d->rules[i].method);
		free(d->rules[i].path);
	}
	free(d->rules);
	for (i = 0; i < d->nhosts; i++) {
		free(d->hosts[i].host);
		free(d->hosts[i].inject_header);
		free(d->hosts[i].credential_format);
	}
	free(d->hosts);
	free(d);
}

int
policy_route_inject_mode(const char *s, enum inject_mode *m)
{
	size_t	i;

	for (i = 0; i < sizeof(route_mode_names) / sizeof(route_mode_names[0]);
	    i++) {
		if (strcmp(s, route_mode_names[i]) == 0) {
			*m = (enum inject_mode)i;
			return 0;
		}
	}
	return -1;
}

const char *
policy_route_inject_mode_name(enum inject_mode m)
{
	if ((size_t)m >= sizeof(route_mode_names) / sizeof(route_mode_names[0]))
		return "unknown";
	return route_mode_names[m];
}

int
policy_route_parse_url(const char *url, bool *tls, char **host,
    uint16_t *port, char **path, struct errbuf *e)
{
	char		 show[ROUTE_SHOW_MAX];
	const char	*auth, *p, *hend, *colon = NULL;
	size_t		 alen, plen;
	uint16_t	 defport;

	*host = NULL;
	*path = NULL;
	*tls = false;
	*port = 0;
	if (strncasecmp(url, "https://", 8) == 0) {
		*tls = true;
		auth = url + 8;
		defport = 443;
	} else if (strncasecmp(url, "http://", 7) == 0) {
		auth = url + 7;
		defport = 80;
	} else {
		errbuf_set(e, "URL '%s': scheme must be http:// or https://",
		    route_show(show, url));
		return -1;
	}
	if (strpbrk(url, "?#") != NULL) {
		errbuf_set(e, "URL '%s': a query or fragment is not allowed",
		    route_show(show, url));
		return -1;
	}
	alen = strcspn(auth, "/");
	if (memchr(auth, '@', alen) != NULL) {
		errbuf_set(e, "URL '%s': user info is not allowed",
		    route_show(show, url));
		return -1;
	}
	/* Find where the host ends: after ']' for [v6], else at ':'. */
	if (alen > 0 && auth[0] == '[') {
		if ((hend = memchr(auth, ']', alen)) == NULL) {
			errbuf_set(e, "URL '%s': missing ']'",
			    route_show(show, url));
			return -1;
		}
		hend++;
		if (hend < auth + alen && *hend != ':') {
			errbuf_set(e, "URL '%s': unexpected text after ']'",
			    route_show(show, url));
			return -1;
		}
		if (hend < auth + alen)
			colon = hend;
	} else {
		colon = memchr(auth, ':', alen);
		hend = colon != NULL ? colon : auth + alen;
	}
	if (colon != NULL) {
		if (strnum_port(colon + 1, (size_t)(auth + alen - colon - 1),
		    port) == -1) {
			errbuf_set(e, "URL '%s': bad port (1-65535)",
			    route_show(show, url));
			return -1;
		}
	} else
		*port = defport;
	if ((*host = policy_allowlist_canon_host(auth, (size_t)(hend - auth),
	    e)) == NULL) {
		errbuf_wrap(e, "URL '%s'", route_show(show, url));
		return -1;
	}
	p = auth + alen;
	for (plen = strlen(p); plen > 0 && p[plen - 1] == '/'; plen--)
		;
	for (alen = 0; alen < plen; alen++) {
		if ((unsigned char)p[alen] <= 0x20 ||
		    (unsigned char)p[alen] == 0x7f) {
			errbuf_set(e, "URL '%s': space or control byte in the "
			    "path", route_show(show, url));
			free(*host);
			*host = NULL;
			return -1;
		}
	}
	*path = xstrndup(p, plen);
	return 0;
}

/* True for localhost, 127.0.0.0/8 and ::1 (canonical host). */
static bool
route_loopback(const char *host)
{
	struct in_addr	a;

	if (strcmp(host, "localhost") == 0 || strcmp(host, "::1") == 0)
		return true;
	return inet_pton(AF_INET, host, &a) == 1 &&
	    (ntohl(a.s_addr) >> 24) == 127;
}

/* True for a token in the sense of RFC 9110 §5.6.2 (header names). */
static bool
route_is_token(const char *s)
{
	if (s == NULL || *s == '\0')
		return false;
	return strspn(s, "!#$%&'*+-.^_`|~0123456789"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") ==
	    strlen(s);
}

/* Check what the injection mode needs; -1 with e (unwrapped). */
/*
 * Headers an injected credential may not take: they frame the request or
 * are the proxy's own (a second Host or Content-Length is a smuggling
 * shape).
 */
static bool
route_reserved_header(const char *h)
{
	static const char *const reserved[] = { "Host", "Content-Length",
	    "Transfer-Encoding", "Connection", "Keep-Alive", "Upgrade", "TE",
	    "Trailer", "Expect", "Proxy-Authorization", "Proxy-Connection",
	    NULL };
	size_t	i;

	for (i = 0; reserved[i] != NULL; i++)
		if (strcasecmp(h, reserved[i]) == 0)
			return true;
	return false;
}

static int
route_check_inject(const struct route_def *d, struct errbuf *e)
{
	if (strpbrk(d->credential_format, "\r\n") != NULL) {
		errbuf_set(e, "credential_format contains CR or LF");
		return -1;
	}
	switch (d->inject_mode) {
	case INJECT_HEADER:
	case INJECT_BASIC_AUTH:
		if (!route_is_token(d->inject_header)) {
			errbuf_set(e, "inject_header '%s' is not a header name",
			    d->inject_header);
			return -1;
		}
		if (route_reserved_header(d->inject_header)) {
			errbuf_set(e, "inject_header '%s' is a header the proxy "
			    "sets or frames requests with", d->inject_header);
			return -1;
		}
		break;
	case INJECT_URL_PATH:
		if (d->path_pattern == NULL ||
		    strstr(d->path_pattern, "{}") == NULL ||
		    strpbrk(d->path_pattern, "\r\n") != NULL) {
			errbuf_set(e, "inject_mode url_path needs a "
			    "path_pattern containing {}");
			return -1;
		}
		if (d->path_replacement != NULL &&
		    (strstr(d->path_replacement, "{}") == NULL ||
		    strpbrk(d->path_replacement, "\r\n") != NULL)) {
			errbuf_set(e, "path_replacement must contain {}");
			return -1;
		}
		break;
	case INJECT_QUERY_PARAM:
		if (d->query_param_name == NULL ||
		    *d->query_param_name == '\0' ||
		    strspn(d->query_param_name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "abcdefghijklmnopqrstuvwxyz0123456789_-") !=
		    strlen(d->query_param_name)) {
			errbuf_set(e, "inject_mode query_param needs a "
			    "query_param_name of letters, digits, '_' or '-'");
			return -1;
		}
		break;
	}
	return 0;
}

/* The def's hosts as routes of their own (struct route, extra). */
static int
route_extra(struct route *r, struct errbuf *e)
{
	const struct route_def	*d = r->def;
	struct route		*x;
	char			*url;
	size_t			 i;

	if (d->nhosts == 0)
		return 0;
	r->extra = xcalloc(d->nhosts, sizeof(*r->extra));
	for (i = 0; i < d->nhosts; i++) {
		const struct route_host_def *h = &d->hosts[i];

		x = xcalloc(1, sizeof(*x));
		x->is_host = true;
		r->extra[r->nextra++] = x;
		x->def = policy_route_def_new(d->name);
		x->def->credential_key = route_strdup(d->credential_key);
		x->def->compressed_responses = d->compressed_responses;
		x->def->inject_mode = h->inject_mode;
		x->def->inject_header = xstrdup(h->inject_header != NULL ?
		    h->inject_header : "Authorization");
		x->def->credential_format = xstrdup(h->credential_format !=
		    NULL ? h->credential_format : h->inject_mode ==
		    INJECT_BASIC_AUTH ? "{}" : d->credential_format);
		url = xasprintf("https://%s", h->host);
		x->def->upstream = url;
		if (strpbrk(x->def->credential_format, "\r\n") != NULL ||
		    strstr(x->def->credential_format, "{}") == NULL) {
			errbuf_set(e, "hosts: %s: credential_format needs {} "
			    "and no CR or LF", h->host);
			return -1;
		}
		if (policy_route_parse_url(url, &x->up_tls, &x->up_host,
		    &x->up_port, &x->up_path, e) == -1 || x->up_path[0] !=
		    '\0') {
			if (x->up_path != NULL && x->up_path[0] != '\0')
				errbuf_set(e, "a host takes no path");
			errbuf_wrap(e, "hosts: %s", h->host);
			return -1;
		}
	}
	return 0;
}

struct route *
policy_route_passthrough_new(const char *host, uint16_t port)
{
	struct route	*r = xcalloc(1, sizeof(*r));

	r->def = policy_route_def_new("-");
	r->def->inject_header = xstrdup("Authorization");
	r->def->credential_format = xstrdup("{}");
	r->def->compressed_responses = true;
	r->up_tls = true;
	r->up_host = xstrdup(host);
	r->up_port = port;
	r->up_path = xstrdup("");
	r->is_host = true;
	r->passthrough = true;
	return r;
}

struct route *
policy_route_new(const struct route_def *def, struct errbuf *e)
{
	char		 show[ROUTE_SHOW_MAX];
	struct route	*r;
	const char	*name = def->name;

	if (name == NULL || *name == '\0' ||
	    strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789_-") != strlen(name)) {
		errbuf_set(e, "route '%s': a name is letters, digits, '_' or "
		    "'-'", name == NULL ? "" : route_show(show, name));
		return NULL;
	}
	if (def->upstream == NULL) {
		errbuf_set(e, "route '%s': no upstream", name);
		return NULL;
	}
	r = xcalloc(1, sizeof(*r));
	r->def = policy_route_def_copy(def);
	policy_route_def_fill_defaults(r->def);
	if (route_check_inject(r->def, e) == -1)
		goto fail;
	if (policy_route_parse_url(def->upstream, &r->up_tls, &r->up_host,
	    &r->up_port, &r->up_path, e) == -1) {
		errbuf_wrap(e, "upstream");
		goto fail;
	}
	if (!r->up_tls && !route_loopback(r->up_host)) {
		errbuf_set(e, "upstream %s must use https (plain http only for "
		    "loopback)", route_show(show, def->upstream));
		goto fail;
	}
	if (route_extra(r, e) == -1)
		goto fail;
	if (def->base_url_var != NULL)
		r->base_url_var = xstrdup(def->base_url_var);
	else
		r->base_url_var = route_var(name, "_BASE_URL");
	if (def->env_var != NULL)
		r->phantom_var = xstrdup(def->env_var);
	else if (route_is_word(r->def->credential_key))
		r->phantom_var = route_var(r->def->credential_key, "");
	else
		r->phantom_var = route_var(name, "_API_KEY");
	return r;
fail:
	errbuf_wrap(e, "route '%s'", name);
	policy_route_free(r);
	return NULL;
}

void
policy_route_free(struct route *r)
{
	size_t	i;

	if (r == NULL)
		return;
	for (i = 0; i < r->nextra; i++)
		policy_route_free(r->extra[i]);
	free(r->extra);
	policy_route_def_free(r->def);
	free(r->up_host);
	free(r->up_path);
	free(r->base_url_var);
	free(r->phantom_var);
	free(r);
}

/* Which built-in service each well-known key variable belongs to. */
static const struct {
	const char	*var;
	const char	*service;
	bool		 alias;		/* exported as a second phantom */
} route_vars[] = {
	{ "OPENAI_API_KEY", "openai", false },
	{ "CODEX_API_KEY", "openai", true },
	{ "ANTHROPIC_API_KEY", "anthropic", false },
	{ "GEMINI_API_KEY", "gemini", false },
	{ "GOOGLE_API_KEY", "google-ai", false },
	{ "GITHUB_TOKEN", "github", false },
	{ "GH_TOKEN", "github", true },
	{ "GITLAB_TOKEN", "gitlab", false },
};

void
policy_route_alias_vars(const struct route *r, struct strv *out)
{
	size_t	i;

	for (i = 0; i < sizeof(route_vars) / sizeof(route_vars[0]); i++)
		if (route_vars[i].alias &&
		    strcmp(route_vars[i].service, r->def->name) == 0 &&
		    strcmp(route_vars[i].var, r->phantom_var) != 0)
			strv_push_unique(out, route_vars[i].var);
}

const char *
policy_route_service_for_var(const char *name)
{
	size_t	i;

	for (i = 0; i < sizeof(route_vars) / sizeof(route_vars[0]); i++)
		if (strcmp(route_vars[i].var, name) == 0)
			return route_vars[i].service;
	return NULL;
}
