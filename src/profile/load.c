#include "profile/profile.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy/allowlist.h"
#include "policy/netpolicy.h"
#include "policy/route.h"
#include "util/log.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

/*
 * Strict profile parsing.  jansson checks the syntax (and rejects
 * duplicate keys); this file checks the schema.  A semantic error finds
 * its value again in the raw text by its key path (locate()), reading
 * every key and value on the way with jansson too.
 */

#define PATH_DEPTH_MAX	16

struct pathel {
	const char	*key;		/* borrowed; NULL: an array index */
	size_t		 idx;
};

struct pctx {
	const char	*label;		/* borrowed */
	const char	*text;		/* borrowed; the raw document */
	size_t		 len;
	struct pathel	 path[PATH_DEPTH_MAX];
	size_t		 depth;
	size_t		 skip;		/* leading elements not shown */
	struct errbuf	*e;
};

/* One key a section accepts; alias maps to its canonical name. */
struct field {
	const char	*name;
	const char	*canon;		/* NULL: name is canonical */
};

/*
 * ---- locating a key path in the raw text ----
 *
 * jansson keeps no positions for values, so a semantic error finds its
 * value again in the raw text by its key path.  Every key and value on
 * the way is read by jansson itself: json_loadb with JSON_DECODE_ANY and
 * JSON_DISABLE_EOF_CHECK decodes one value and reports in its position
 * how many bytes that took.  The walk between values knows only JSON
 * whitespace and the structural bytes { [ , : ] }.  Each step consumes at
 * least one byte or ends the walk, and the values it skips are disjoint,
 * so locating costs at most one pass over the text whatever the bytes
 * are.  (A second, hand-written JSON scanner used to do this; a NUL byte
 * after a number, which jansson accepts, made it spin: issue 22.)
 */

/* A position in the raw text. */
struct walk {
	const char	*s;		/* borrowed */
	size_t		 len;
	size_t		 pos;
};

static void
walk_ws(struct walk *w)
{
	while (w->pos < w->len && (w->s[w->pos] == ' ' ||
	    w->s[w->pos] == '\t' || w->s[w->pos] == '\n' ||
	    w->s[w->pos] == '\r'))
		w->pos++;
}

/*
 * Decode the value at w with jansson and move past it.  The caller owns
 * the result; NULL (w unchanged past whitespace) when there is none.
 */
static json_t *
walk_value(struct walk *w)
{
	json_error_t	 je;
	json_t		*v;

	walk_ws(w);
	if (w->pos >= w->len)
		return NULL;
	v = json_loadb(w->s + w->pos, w->len - w->pos,
	    JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK, &je);
	if (v == NULL)
		return NULL;
	if (je.position <= 0 || (size_t)je.position > w->len - w->pos) {
		json_decref(v);
		return NULL;
	}
	w->pos += (size_t)je.position;
	return v;
}

/* Move w to the value of path element el inside the value at w.  -1: no. */
static int
walk_descend(struct walk *w, const struct pathel *el)
{
	json_t	*k, *v;
	size_t	 idx = 0;
	bool	 match;

	walk_ws(w);
	if (w->pos >= w->len || w->s[w->pos] != (el->key != NULL ? '{' : '['))
		return -1;
	w->pos++;
	for (;;) {
		walk_ws(w);
		if (w->pos >= w->len || w->s[w->pos] == '}' ||
		    w->s[w->pos] == ']')
			return -1;
		if (w->s[w->pos] == ',') {
			w->pos++;
			continue;
		}
		if (el->key != NULL) {
			if ((k = walk_value(w)) == NULL)
				return -1;
			match = json_is_string(k) &&
			    strcmp(json_string_value(k), el->key) == 0;
			json_decref(k);
			walk_ws(w);
			if (w->pos >= w->len || w->s[w->pos] != ':')
				return -1;
			w->pos++;
		} else
			match = idx++ == el->idx;
		if (match) {
			walk_ws(w);
			return 0;
		}
		if ((v = walk_value(w)) == NULL)
			return -1;
		json_decref(v);
	}
}

/*
 * Line and column (1-based) of the deepest value of the path that exists
 * in the text.  0/0 when the text is not available.
 */
static void
locate(const struct pctx *c, int *line, int *col)
{
	struct walk	w = { c->text, c->len, 0 };
	size_t		i, at, ls = 0;

	*line = *col = 0;
	if (c->text == NULL)
		return;
	walk_ws(&w);
	at = w.pos;
	for (i = 0; i < c->depth; i++) {
		if (walk_descend(&w, &c->path[i]) == -1)
			break;
		at = w.pos;
	}
	*line = 1;
	for (i = 0; i < at && i < c->len; i++)
		if (c->text[i] == '\n') {
			(*line)++;
			ls = i + 1;
		}
	*col = (int)(at - ls) + 1;
}

void
profile_json_locate(const char *text, size_t len, const char *const *keys,
    size_t nkeys, int *line, int *col)
{
	struct pctx	c = { 0 };
	size_t		i;

	c.text = text;
	c.len = len;
	for (i = 0; i < nkeys && i < PATH_DEPTH_MAX; i++)
		c.path[i].key = keys[i];
	c.depth = i;
	locate(&c, line, col);
}

/* ---- errors ---- */

static void
keypath(const struct pctx *c, struct strbuf *sb)
{
	size_t	i;

	for (i = c->skip; i < c->depth; i++) {
		if (c->path[i].key == NULL)
			strbuf_appendf(sb, "[%zu]", c->path[i].idx);
		else {
			if (sb->len > 0)
				strbuf_appendc(sb, '.');
			strbuf_append(sb, c->path[i].key);
		}
	}
}

/* Set "profile LABEL: line L column C: KEY.PATH: <msg>"; returns -1. */
static int
perr(struct pctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
perr(struct pctx *c, const char *fmt, ...)
{
	struct strbuf	sb = { 0 };
	char		msg[ERRBUF_MAX];
	va_list		ap;
	int		line, col;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	strbuf_appendf(&sb, "profile %s: ", c->label);
	locate(c, &line, &col);
	if (line > 0)
		strbuf_appendf(&sb, "line %d column %d: ", line, col);
	{
		struct strbuf	kp = { 0 };

		keypath(c, &kp);
		if (kp.len > 0)
			strbuf_appendf(&sb, "%s: ", strbuf_str(&kp));
		strbuf_free(&kp);
	}
	strbuf_append(&sb, msg);
	errbuf_set(c->e, "%s", strbuf_str(&sb));
	strbuf_free(&sb);
	return -1;
}

/* Like perr with the error text of e appended as the message. */
static int
perr_from(struct pctx *c, const struct errbuf *sub)
{
	char	msg[ERRBUF_MAX];

	snprintf(msg, sizeof(msg), "%s", errbuf_msg(sub));
	return perr(c, "%s", msg);
}

static void
push_key(struct pctx *c, const char *key)
{
	if (c->depth >= PATH_DEPTH_MAX)
		log_fatalx("profile key path too deep");
	c->path[c->depth].key = key;
	c->path[c->depth].idx = 0;
	c->depth++;
}

static void
push_idx(struct pctx *c, size_t idx)
{
	if (c->depth >= PATH_DEPTH_MAX)
		log_fatalx("profile key path too deep");
	c->path[c->depth].key = NULL;
	c->path[c->depth].idx = idx;
	c->depth++;
}

static void
pop(struct pctx *c)
{
	c->depth--;
}

static const char *
type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "a list";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	case JSON_NULL: return "null";
	}
	return "a value";
}

/* ---- schema helpers ---- */

static const struct field *
field_find(const struct field *tab, const char *name)
{
	for (; tab->name != NULL; tab++)
		if (strcmp(tab->name, name) == 0)
			return tab;
	return NULL;
}

static const char *
field_canon(const struct field *f)
{
	return f->canon != NULL ? f->canon : f->name;
}

/*
 * Every key of obj must be in tab; an alias and its canonical name (or two
 * aliases) must not both appear.
 */
static int
check_keys(struct pctx *c, json_t *obj, const struct field *tab)
{
	const char		*key, *k2;
	json_t			*v, *v2;
	const struct field	*f, *f2;
	int			 rc;

	json_object_foreach(obj, key, v) {
		if (strcmp(key, "$schema") == 0 && c->depth == c->skip)
			continue;
		f = field_find(tab, key);
		if (f == NULL) {
			push_key(c, key);
			rc = perr(c, "unknown field '%s'", key);
			pop(c);
			return rc;
		}
		json_object_foreach(obj, k2, v2) {
			if (k2 == key)
				break;
			f2 = field_find(tab, k2);
			if (f2 != NULL && strcmp(field_canon(f),
			    field_canon(f2)) == 0) {
				push_key(c, key);
				rc = perr(c, "duplicate field: '%s' and '%s' "
				    "are the same setting", k2, key);
				pop(c);
				return rc;
			}
		}
	}
	return 0;
}

/* The value for canonical name canon (through any alias), key in *name. */
static json_t *
field_get(json_t *obj, const struct field *tab, const char *canon,
    const char **name)
{
	json_t	*v;

	for (; tab->name != NULL; tab++) {
		if (strcmp(field_canon(tab), canon) != 0)
			continue;
		if ((v = json_object_get(obj, tab->name)) != NULL) {
			*name = tab->name;
			return v;
		}
	}
	*name = canon;
	return NULL;
}

/*
 * The value of canon pushed onto the path (pop it after) or NULL when
 * absent (nothing pushed).
 */
static json_t *
enter(struct pctx *c, json_t *obj, const struct field *tab, const char *canon)
{
	const char	*name;
	json_t		*v;

	if ((v = field_get(obj, tab, canon, &name)) != NULL)
		push_key(c, name);
	return v;
}

static int
want_type(struct pctx *c, json_t *v, json_type t, const char *what)
{
	if (json_typeof(v) == t ||
	    (t == JSON_TRUE && json_typeof(v) == JSON_FALSE))
		return 0;
	return perr(c, "must be %s, not %s", what, type_name(v));
}

/* A list of strings (null refused), dedup-appended to out. */
static int
get_strlist(struct pctx *c, json_t *obj, const struct field *tab,
    const char *canon, struct strv *out)
{
	json_t	*v, *it;
	size_t	 i;

	if ((v = enter(c, obj, tab, canon)) == NULL)
		return 0;
	if (want_type(c, v, JSON_ARRAY, "a list of strings") == -1)
		return -1;
	json_array_foreach(v, i, it) {
		push_idx(c, i);
		if (want_type(c, it, JSON_STRING, "a string") == -1)
			return -1;
		pop(c);
		strv_push_unique(out, json_string_value(it));
	}
	pop(c);
	return 0;
}

/*
 * A string; *out replaced.  nullable: null leaves *out alone and sets
 * *was_null (may be NULL).
 */
static int
get_str(struct pctx *c, json_t *obj, const struct field *tab,
    const char *canon, bool nullable, char **out, bool *was_null)
{
	json_t	*v;

	if (was_null != NULL)
		*was_null = false;
	if ((v = enter(c, obj, tab, canon)) == NULL)
		return 0;
	if (json_is_null(v) && nullable) {
		if (was_null != NULL)
			*was_null = true;
		pop(c);
		return 0;
	}
	if (want_type(c, v, JSON_STRING, "a string") == -1)
		return -1;
	free(*out);
	*out = xstrdup(json_string_value(v));
	pop(c);
	return 0;
}

/* A boolean; absent leaves *out alone; nullable null too. */
static int
get_bool(struct pctx *c, json_t *obj, const struct field *tab,
    const char *canon, bool nullable, enum profile_tribool *out)
{
	json_t	*v;

	if ((v = enter(c, obj, tab, canon)) == NULL)
		return 0;
	if (json_is_null(v) && nullable) {
		pop(c);
		return 0;
	}
	if (want_type(c, v, JSON_TRUE, "true or false") == -1)
		return -1;
	*out = json_is_true(v) ? PROFILE_TRUE : PROFILE_FALSE;
	pop(c);
	return 0;
}

static int
get_plain_bool(struct pctx *c, json_t *obj, const struct field *tab,
    const char *canon, bool *out)
{
	enum profile_tribool	tb = PROFILE_UNSET;

	if (get_bool(c, obj, tab, canon, false, &tb) == -1)
		return -1;
	if (tb != PROFILE_UNSET)
		*out = tb == PROFILE_TRUE;
	return 0;
}

/* An enum string out of names[] (index+1 stored); null: unset. */
static int
get_enum(struct pctx *c, json_t *obj, const struct field *tab,
    const char *canon, const char *const *names, bool nullable, int *out)
{
	json_t		*v;
	const char	*s;
	struct strbuf	 sb = { 0 };
	int		 i, rc;

	if ((v = enter(c, obj, tab, canon)) == NULL)
		return 0;
	if (json_is_null(v) && nullable) {
		pop(c);
		return 0;
	}
	if (want_type(c, v, JSON_STRING, "a string") == -1)
		return -1;
	s = json_string_value(v);
	for (i = 0; names[i] != NULL; i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = i + 1;
			pop(c);
			strbuf_free(&sb);
			return 0;
		}
		strbuf_appendf(&sb, "%s%s", i > 0 ? ", " : "", names[i]);
	}
	rc = perr(c, "unknown variant '%s' (expected one of: %s)", s,
	    strbuf_str(&sb));
	strbuf_free(&sb);
	return rc;
}

/* A list of ports 1..65535 added to out. */
static int
get_ports(struct pctx *c, json_t *obj, const struct field *tab,
    const char *canon, struct ports *out)
{
	json_t		*v, *it;
	size_t		 i;
	json_int_t	 n;

	if ((v = enter(c, obj, tab, canon)) == NULL)
		return 0;
	if (want_type(c, v, JSON_ARRAY, "a list of ports") == -1)
		return -1;
	json_array_foreach(v, i, it) {
		push_idx(c, i);
		if (!json_is_integer(it))
			return perr(c, "must be a port number 1..65535, "
			    "not %s", type_name(it));
		n = json_integer_value(it);
		if (n < 1 || n > 65535)
			return perr(c, "port %lld out of range 1..65535",
			    (long long)n);
		ports_add(out, (uint16_t)n);
		pop(c);
	}
	pop(c);
	return 0;
}

/* A string -> string object into map (no fixed keys). */
static int
get_strmap(struct pctx *c, json_t *obj, const struct field *tab,
    const char *canon, struct profile_map *out)
{
	json_t		*v, *it;
	const char	*key;

	if ((v = enter(c, obj, tab, canon)) == NULL)
		return 0;
	if (want_type(c, v, JSON_OBJECT, "an object") == -1)
		return -1;
	json_object_foreach(v, key, it) {
		push_key(c, key);
		if (want_type(c, it, JSON_STRING, "a string") == -1)
			return -1;
		profile_map_set(out, key, json_string_value(it));
		pop(c);
	}
	pop(c);
	return 0;
}

/* Enter a section object: NULL when absent (nothing pushed). */
static json_t *
section(struct pctx *c, json_t *obj, const struct field *tab,
    const char *canon, const struct field *inner, int *rc)
{
	json_t	*v;

	*rc = 0;
	if ((v = enter(c, obj, tab, canon)) == NULL)
		return NULL;
	if (want_type(c, v, JSON_OBJECT, "an object") == -1 ||
	    check_keys(c, v, inner) == -1) {
		*rc = -1;
		return NULL;
	}
	return v;
}

/* ---- sections ---- */

static const struct field top_fields[] = {
	{ "extends", NULL }, { "meta", NULL }, { "security", NULL },
	{ "filesystem", NULL }, { "policy", NULL }, { "network", NULL },
	{ "env_credentials", NULL }, { "secrets", "env_credentials" },
	{ "environment", NULL }, { "workdir", NULL }, { "hooks", NULL },
	{ "rollback", NULL }, { "undo", "rollback" }, { "open_urls", NULL },
	{ "allow_launch_services", NULL }, { "interactive", NULL },
	{ "skipdirs", NULL }, { NULL, NULL }
};

static const struct field meta_fields[] = {
	{ "name", NULL }, { "version", NULL }, { "description", NULL },
	{ "author", NULL }, { NULL, NULL }
};

static const struct field security_fields[] = {
	{ "groups", NULL }, { "allowed_commands", NULL },
	{ "signal_mode", NULL }, { "process_info_mode", NULL },
	{ "ipc_mode", NULL }, { "capability_elevation", NULL },
	{ "wsl2_proxy_policy", NULL }, { NULL, NULL }
};

static const struct field fs_fields[] = {
	{ "allow", NULL }, { "read", NULL }, { "write", NULL },
	{ "allow_file", NULL }, { "read_file", NULL },
	{ "write_file", NULL }, { "allow_unix_socket", NULL },
	{ NULL, NULL }
};

static const struct field policy_fields[] = {
	{ "exclude_groups", NULL }, { "add_allow_read", NULL },
	{ "add_allow_write", NULL }, { "add_allow_readwrite", NULL },
	{ "add_deny_access", NULL }, { "add_deny_commands", NULL },
	{ "override_deny", NULL }, { NULL, NULL }
};

static const struct field net_fields[] = {
	{ "block", NULL }, { "report_only", NULL },
	{ "network_profile", NULL },
	{ "allow_domain", NULL }, { "proxy_allow", "allow_domain" },
	{ "allow_proxy", "allow_domain" },
	{ "credentials", NULL }, { "proxy_credentials", "credentials" },
	{ "custom_credentials", NULL },
	{ "open_port", NULL }, { "port_allow", "open_port" },
	{ "allow_port", "open_port" }, { "listen_port", NULL },
	{ "upstream_proxy", NULL }, { "external_proxy", "upstream_proxy" },
	{ "upstream_bypass", NULL },
	{ "external_proxy_bypass", "upstream_bypass" },
	{ "no_proxy", NULL }, { "tls_intercept", NULL },
	{ "tls_intercept_exclude", NULL }, { "allow_endpoint", NULL },
	{ NULL, NULL }
};

static const struct field cred_fields[] = {
	{ "upstream", NULL }, { "credential_key", NULL },
	{ "inject_mode", NULL }, { "inject_header", NULL },
	{ "credential_format", NULL }, { "path_pattern", NULL },
	{ "path_replacement", NULL }, { "query_param_name", NULL },
	{ "env_var", NULL }, { "endpoint_rules", NULL },
	{ "compressed_responses", NULL }, { "hosts", NULL }, { NULL, NULL }
};

static const struct field host_fields[] = {
	{ "host", NULL }, { "inject_mode", NULL }, { "inject_header", NULL },
	{ "credential_format", NULL }, { NULL, NULL }
};

static const struct field rule_fields[] = {
	{ "method", NULL }, { "path", NULL }, { NULL, NULL }
};

static const struct field env_fields[] = {
	{ "allow_vars", NULL }, { "deny_vars", NULL }, { "set_vars", NULL },
	{ NULL, NULL }
};

static const struct field workdir_fields[] = {
	{ "access", NULL }, { NULL, NULL }
};

static const struct field hook_fields[] = {
	{ "event", NULL }, { "matcher", NULL }, { "script", NULL },
	{ NULL, NULL }
};

static const struct field rollback_fields[] = {
	{ "exclude_patterns", NULL }, { "exclude_globs", NULL },
	{ NULL, NULL }
};

static const struct field open_urls_fields[] = {
	{ "allow_origins", NULL }, { "allow_localhost", NULL },
	{ NULL, NULL }
};

static const char *const proc_modes[] = {
	"isolated", "allow_same_sandbox", "allow_all", NULL
};
static const char *const ipc_modes[] = { "shared_memory_only", "full", NULL };
static const char *const wsl2_modes[] = { "error", "insecure_proxy", NULL };
static const char *const workdir_modes[] = {
	"none", "read", "write", "readwrite", NULL
};

static int
parse_extends(struct pctx *c, json_t *root, struct profile *p)
{
	json_t	*v, *it;
	size_t	 i;

	if ((v = enter(c, root, top_fields, "extends")) == NULL)
		return 0;
	/*
	 * Remember where "extends" is for errors found while resolving; the
	 * built-in data is ours and scanning it on every start is costly.
	 */
	if (c->skip == 0)
		locate(c, &p->extends_line, &p->extends_col);
	if (json_is_string(v))
		strv_push(&p->extends, json_string_value(v));
	else if (json_is_array(v)) {
		json_array_foreach(v, i, it) {
			push_idx(c, i);
			if (!json_is_string(it))
				return perr(c, "extends must be a profile "
				    "name or a list of names, not %s",
				    type_name(it));
			pop(c);
			strv_push(&p->extends, json_string_value(it));
		}
	} else if (!json_is_null(v))
		return perr(c, "must be a profile name or a list of names, "
		    "not %s", type_name(v));
	pop(c);
	return 0;
}

static int
parse_meta(struct pctx *c, json_t *root, struct profile *p)
{
	json_t	*m;
	int	 rc;

	if ((m = section(c, root, top_fields, "meta", meta_fields, &rc)) ==
	    NULL)
		return rc;
	p->meta.present = true;
	if (json_object_get(m, "name") == NULL)
		return perr(c, "missing field 'name'");
	if (get_str(c, m, meta_fields, "name", false, &p->meta.name,
	    NULL) == -1 ||
	    get_str(c, m, meta_fields, "version", false, &p->meta.version,
	    NULL) == -1 ||
	    get_str(c, m, meta_fields, "description", true,
	    &p->meta.description, NULL) == -1 ||
	    get_str(c, m, meta_fields, "author", true, &p->meta.author,
	    NULL) == -1)
		return -1;
	pop(c);
	return 0;
}

static int
parse_security(struct pctx *c, json_t *root, struct profile *p)
{
	json_t			*s;
	struct profile_security	*sec = &p->security;
	int			 rc, sig = 0, pim = 0, ipc = 0, wsl = 0;

	if ((s = section(c, root, top_fields, "security", security_fields,
	    &rc)) == NULL)
		return rc;
	if (get_strlist(c, s, security_fields, "groups", &sec->groups) ==
	    -1 ||
	    get_strlist(c, s, security_fields, "allowed_commands",
	    &sec->allowed_commands) == -1 ||
	    get_enum(c, s, security_fields, "signal_mode", proc_modes, true,
	    &sig) == -1 ||
	    get_enum(c, s, security_fields, "process_info_mode", proc_modes,
	    true, &pim) == -1 ||
	    get_enum(c, s, security_fields, "ipc_mode", ipc_modes, true,
	    &ipc) == -1 ||
	    get_bool(c, s, security_fields, "capability_elevation", true,
	    &sec->capability_elevation) == -1 ||
	    get_enum(c, s, security_fields, "wsl2_proxy_policy", wsl2_modes,
	    true, &wsl) == -1)
		return -1;
	sec->signal_mode = (enum profile_proc_mode)sig;
	sec->process_info_mode = (enum profile_proc_mode)pim;
	sec->ipc_mode = (enum profile_ipc_mode)ipc;
	sec->wsl2_proxy_policy = (enum profile_wsl2)wsl;
	pop(c);
	return 0;
}

static int
parse_fs(struct pctx *c, json_t *root, struct profile *p)
{
	json_t			*s;
	struct profile_fs	*fs = &p->fs;
	int			 rc;

	if ((s = section(c, root, top_fields, "filesystem", fs_fields,
	    &rc)) == NULL)
		return rc;
	if (get_strlist(c, s, fs_fields, "allow", &fs->allow) == -1 ||
	    get_strlist(c, s, fs_fields, "read", &fs->read) == -1 ||
	    get_strlist(c, s, fs_fields, "write", &fs->write) == -1 ||
	    get_strlist(c, s, fs_fields, "allow_file", &fs->allow_file) ==
	    -1 ||
	    get_strlist(c, s, fs_fields, "read_file", &fs->read_file) ==
	    -1 ||
	    get_strlist(c, s, fs_fields, "write_file", &fs->write_file) ==
	    -1 ||
	    get_strlist(c, s, fs_fields, "allow_unix_socket",
	    &fs->allow_unix_socket) == -1)
		return -1;
	pop(c);
	return 0;
}

static int
parse_policy(struct pctx *c, json_t *root, struct profile *p)
{
	json_t			*s;
	struct profile_policy	*pol = &p->policy;
	int			 rc;

	if ((s = section(c, root, top_fields, "policy", policy_fields,
	    &rc)) == NULL)
		return rc;
	if (get_strlist(c, s, policy_fields, "exclude_groups",
	    &pol->exclude_groups) == -1 ||
	    get_strlist(c, s, policy_fields, "add_allow_read",
	    &pol->add_allow_read) == -1 ||
	    get_strlist(c, s, policy_fields, "add_allow_write",
	    &pol->add_allow_write) == -1 ||
	    get_strlist(c, s, policy_fields, "add_allow_readwrite",
	    &pol->add_allow_readwrite) == -1 ||
	    get_strlist(c, s, policy_fields, "add_deny_access",
	    &pol->add_deny_access) == -1 ||
	    get_strlist(c, s, policy_fields, "add_deny_commands",
	    &pol->add_deny_commands) == -1 ||
	    get_strlist(c, s, policy_fields, "override_deny",
	    &pol->override_deny) == -1)
		return -1;
	pop(c);
	return 0;
}

/* Replace *dst with a copy of s (NULL allowed). */
static void
setstr(char **dst, const char *s)
{
	free(*dst);
	*dst = s != NULL ? xstrdup(s) : NULL;
}

static int
parse_rules(struct pctx *c, json_t *obj, struct route_def *d)
{
	json_t		*v, *r, *m, *pa;
	size_t		 i;

	if ((v = enter(c, obj, cred_fields, "endpoint_rules")) == NULL)
		return 0;
	if (want_type(c, v, JSON_ARRAY, "a list of {method, path}") == -1)
		return -1;
	json_array_foreach(v, i, r) {
		push_idx(c, i);
		if (want_type(c, r, JSON_OBJECT, "an object") == -1 ||
		    check_keys(c, r, rule_fields) == -1)
			return -1;
		m = json_object_get(r, "method");
		pa = json_object_get(r, "path");
		if (m == NULL)
			return perr(c, "missing field 'method'");
		if (pa == NULL)
			return perr(c, "missing field 'path'");
		push_key(c, "method");
		if (want_type(c, m, JSON_STRING, "a string") == -1)
			return -1;
		if (json_string_length(m) == 0)
			return perr(c, "cannot be empty");
		pop(c);
		push_key(c, "path");
		if (want_type(c, pa, JSON_STRING, "a string") == -1)
			return -1;
		if (json_string_length(pa) == 0 ||
		    json_string_value(pa)[0] != '/')
			return perr(c, "must be a path glob starting with "
			    "'/'");
		pop(c);
		policy_route_def_add_rule(d, json_string_value(m),
		    json_string_value(pa));
		pop(c);
	}
	pop(c);
	return 0;
}

/* "hosts": more hosts of the route, each with its injection (SPEC 4.12). */
static int
parse_hosts(struct pctx *c, json_t *obj, struct route_def *d)
{
	static const char *const keys[4] = { "host", "inject_mode",
	    "inject_header", "credential_format" };
	json_t		*v, *h, *f;
	const char	*s[4];
	struct errbuf	 sub;
	size_t		 i, k;

	if ((v = enter(c, obj, cred_fields, "hosts")) == NULL)
		return 0;
	if (want_type(c, v, JSON_ARRAY, "a list of {host, inject_mode, "
	    "inject_header, credential_format}") == -1)
		return -1;
	json_array_foreach(v, i, h) {
		push_idx(c, i);
		if (want_type(c, h, JSON_OBJECT, "an object") == -1 ||
		    check_keys(c, h, host_fields) == -1)
			return -1;
		for (k = 0; k < 4; k++) {
			s[k] = NULL;
			if ((f = json_object_get(h, keys[k])) == NULL)
				continue;
			push_key(c, keys[k]);
			if (want_type(c, f, JSON_STRING, "a string") == -1)
				return -1;
			if (json_string_length(f) == 0)
				return perr(c, "cannot be empty");
			pop(c);
			s[k] = json_string_value(f);
		}
		if (s[0] == NULL)
			return perr(c, "missing field 'host'");
		errbuf_clear(&sub);
		if (policy_route_def_add_host(d, s[0], s[1], s[2], s[3],
		    &sub) == -1)
			return perr_from(c, &sub);
		pop(c);
	}
	pop(c);
	return 0;
}

static struct route_def *
parse_custom_one(struct pctx *c, const char *name, json_t *v)
{
	struct route_def	*d;
	struct errbuf		 sub;
	const char		*field = NULL;
	char			*mode = NULL;
	bool			 nul;

	if (want_type(c, v, JSON_OBJECT, "an object") == -1 ||
	    check_keys(c, v, cred_fields) == -1)
		return NULL;
	if (json_object_get(v, "upstream") == NULL) {
		perr(c, "missing field 'upstream'");
		return NULL;
	}
	if (json_object_get(v, "credential_key") == NULL) {
		perr(c, "missing field 'credential_key'");
		return NULL;
	}
	d = policy_route_def_new(name);
	setstr(&d->inject_header, "Authorization");
	setstr(&d->credential_format, "Bearer {}");
	setstr(&d->path_pattern, NULL);
	setstr(&d->path_replacement, NULL);
	setstr(&d->query_param_name, NULL);
	setstr(&d->env_var, NULL);
	d->inject_mode = INJECT_HEADER;
	if (get_str(c, v, cred_fields, "upstream", false, &d->upstream,
	    NULL) == -1 ||
	    get_str(c, v, cred_fields, "credential_key", false,
	    &d->credential_key, NULL) == -1 ||
	    get_str(c, v, cred_fields, "inject_mode", false, &mode,
	    NULL) == -1 ||
	    get_str(c, v, cred_fields, "inject_header", false,
	    &d->inject_header, NULL) == -1 ||
	    get_str(c, v, cred_fields, "credential_format", false,
	    &d->credential_format, NULL) == -1 ||
	    get_str(c, v, cred_fields, "path_pattern", true,
	    &d->path_pattern, &nul) == -1 ||
	    get_str(c, v, cred_fields, "path_replacement", true,
	    &d->path_replacement, &nul) == -1 ||
	    get_str(c, v, cred_fields, "query_param_name", true,
	    &d->query_param_name, &nul) == -1 ||
	    get_str(c, v, cred_fields, "env_var", true, &d->env_var,
	    &nul) == -1 ||
	    get_plain_bool(c, v, cred_fields, "compressed_responses",
	    &d->compressed_responses) == -1 ||
	    parse_rules(c, v, d) == -1 || parse_hosts(c, v, d) == -1)
		goto fail;
	if (mode != NULL && policy_route_inject_mode(mode,
	    &d->inject_mode) == -1) {
		push_key(c, "inject_mode");
		perr(c, "unknown variant '%s' (expected one of: header, "
		    "url_path, query_param, basic_auth)", mode);
		goto fail;
	}
	errbuf_clear(&sub);
	if (profile_validate_custom_credential(d, &field, &sub) == -1) {
		push_key(c, field);
		perr_from(c, &sub);
		goto fail;
	}
	free(mode);
	return d;
fail:
	free(mode);
	policy_route_def_free(d);
	return NULL;
}

static int
parse_custom(struct pctx *c, json_t *net, struct profile *p)
{
	json_t			*v, *it;
	const char		*name;
	struct route_def	*d;
	size_t			 i;

	if ((v = enter(c, net, net_fields, "custom_credentials")) == NULL)
		return 0;
	if (want_type(c, v, JSON_OBJECT, "an object") == -1)
		return -1;
	json_object_foreach(v, name, it) {
		push_key(c, name);
		if (name[0] == '\0')
			return perr(c, "credential name cannot be empty");
		if ((d = parse_custom_one(c, name, it)) == NULL)
			return -1;
		for (i = 0; i < p->net.ncustom; i++)
			if (strcmp(p->net.custom[i]->name, name) == 0)
				break;
		if (i == p->net.ncustom) {
			p->net.custom = xreallocarray(p->net.custom,
			    p->net.ncustom + 1, sizeof(*p->net.custom));
			p->net.ncustom++;
		} else
			policy_route_def_free(p->net.custom[i]);
		p->net.custom[i] = d;
		pop(c);
	}
	pop(c);
	return 0;
}

/*
 * Each allow_domain entry must parse as the proxy will read it (SPEC
 * 4.3), so "profile validate" catches what "run" would refuse, located.
 */
static int
check_allow_domain(struct pctx *c, json_t *net)
{
	struct allowlist	 al = { 0 };
	struct errbuf		 e = { 0 };
	const char		*s;
	json_t			*v, *it;
	size_t			 i;

	if ((v = enter(c, net, net_fields, "allow_domain")) == NULL)
		return 0;
	json_array_foreach(v, i, it) {
		push_idx(c, i);
		s = json_string_value(it);
		if (policy_allowlist_add(&al, s,
		    policy_netpolicy_may_name_group(s) ?
		    policy_netpolicy_builtin() : NULL, &e) == -1) {
			policy_allowlist_free(&al);
			return perr_from(c, &e);
		}
		pop(c);
	}
	pop(c);
	policy_allowlist_free(&al);
	return 0;
}

/*
 * network.allow_endpoint entries: "HOST:METHOD:/path" (HOST with a dot: a
 * plain host, intercepted so that its rules apply) or
 * "SERVICE:METHOD:/path", as --allow-endpoint (SPEC 4.12).  The form and
 * the host are checked here; that SERVICE is a route, when the plan is made.
 */
static int
check_allow_endpoint(struct pctx *c, json_t *net)
{
	struct errbuf	 e = { 0 };
	const char	*s, *c1, *c2;
	char		*canon;
	json_t		*v, *it;
	size_t		 i;

	if ((v = enter(c, net, net_fields, "allow_endpoint")) == NULL)
		return 0;
	json_array_foreach(v, i, it) {
		push_idx(c, i);
		s = json_string_value(it);
		c1 = strchr(s, ':');
		c2 = c1 != NULL ? strchr(c1 + 1, ':') : NULL;
		if (c1 == NULL || c2 == NULL || c1 == s || c2 == c1 + 1 ||
		    c2[1] != '/')
			return perr(c, "'%s': expected HOST:METHOD:/path or "
			    "SERVICE:METHOD:/path", s);
		if (memchr(s, '.', (size_t)(c1 - s)) != NULL) {
			if ((canon = policy_allowlist_canon_host(s,
			    (size_t)(c1 - s), &e)) == NULL)
				return perr_from(c, &e);
			free(canon);
		}
		pop(c);
	}
	pop(c);
	return 0;
}

/* network.tls_intercept_exclude entries: a host or "*.suffix". */
static int
check_intercept_exclude(struct pctx *c, json_t *net)
{
	struct errbuf	 e = { 0 };
	const char	*s, *h;
	char		*canon;
	json_t		*v, *it;
	size_t		 i;

	if ((v = enter(c, net, net_fields, "tls_intercept_exclude")) == NULL)
		return 0;
	json_array_foreach(v, i, it) {
		push_idx(c, i);
		s = json_string_value(it);
		h = strncmp(s, "*.", 2) == 0 ? s + 2 : s;
		if (strchr(h, ':') != NULL || (canon =
		    policy_allowlist_canon_host(h, strlen(h), &e)) == NULL)
			return perr(c, "'%s': expected a host name or "
			    "*.suffix", s);
		free(canon);
		pop(c);
	}
	pop(c);
	return 0;
}

static int
parse_network(struct pctx *c, json_t *root, struct profile *p)
{
	json_t			*s, *v, *it;
	struct profile_net	*n = &p->net;
	bool			 nul;
	size_t			 i;
	int			 rc;

	if ((s = section(c, root, top_fields, "network", net_fields,
	    &rc)) == NULL)
		return rc;
	if (get_plain_bool(c, s, net_fields, "block", &n->block) == -1 ||
	    get_plain_bool(c, s, net_fields, "report_only",
	    &n->report_only) == -1)
		return -1;
	if (get_str(c, s, net_fields, "network_profile", true,
	    &n->network_profile, &nul) == -1)
		return -1;
	if (n->network_profile != NULL)
		n->network_profile_state = PROFILE_NETPROF_SET;
	else if (nul)
		n->network_profile_state = PROFILE_NETPROF_CLEAR;
	if (get_strlist(c, s, net_fields, "allow_domain",
	    &n->allow_domain) == -1 || check_allow_domain(c, s) == -1)
		return -1;
	if ((v = enter(c, s, net_fields, "credentials")) != NULL) {
		if (!json_is_null(v)) {
			if (want_type(c, v, JSON_ARRAY,
			    "a list of credential names or null") == -1)
				return -1;
			n->credentials_state = PROFILE_CREDS_LIST;
			json_array_foreach(v, i, it) {
				push_idx(c, i);
				if (want_type(c, it, JSON_STRING,
				    "a string") == -1)
					return -1;
				if (json_string_length(it) == 0)
					return perr(c, "credential name "
					    "cannot be empty");
				pop(c);
				strv_push_unique(&n->credentials,
				    json_string_value(it));
			}
		}
		pop(c);
	}
	if (parse_custom(c, s, p) == -1 ||
	    get_ports(c, s, net_fields, "open_port", &n->open_port) == -1 ||
	    get_ports(c, s, net_fields, "listen_port", &n->listen_port) ==
	    -1 ||
	    get_str(c, s, net_fields, "upstream_proxy", true,
	    &n->upstream_proxy, NULL) == -1 ||
	    get_strlist(c, s, net_fields, "upstream_bypass",
	    &n->upstream_bypass) == -1 ||
	    get_strlist(c, s, net_fields, "no_proxy", &n->no_proxy) == -1 ||
	    get_str(c, s, net_fields, "tls_intercept", true,
	    &n->tls_intercept, NULL) == -1 ||
	    get_strlist(c, s, net_fields, "tls_intercept_exclude",
	    &n->tls_intercept_exclude) == -1 ||
	    check_intercept_exclude(c, s) == -1 ||
	    get_strlist(c, s, net_fields, "allow_endpoint",
	    &n->allow_endpoint) == -1 || check_allow_endpoint(c, s) == -1)
		return -1;
	if (n->tls_intercept != NULL &&
	    strcmp(n->tls_intercept, "credentials") != 0 &&
	    strcmp(n->tls_intercept, "all") != 0 &&
	    strcmp(n->tls_intercept, "off") != 0) {
		push_key(c, "tls_intercept");
		return perr(c, "unknown variant '%s' (expected one of: "
		    "credentials, all, off)", n->tls_intercept);
	}
	pop(c);
	return 0;
}

/* Validate env_credentials after parsing: references and destinations. */
static int
check_env_credentials(struct pctx *c, json_t *root, struct profile *p)
{
	struct errbuf	 sub;
	const char	*name;
	size_t		 i;
	bool		 uri;

	(void)field_get(root, top_fields, "env_credentials", &name);
	for (i = 0; i < p->env_credentials.n; i++) {
		push_key(c, name);
		push_key(c, p->env_credentials.v[i].key);
		errbuf_clear(&sub);
		/* Bare keyring account names are free-form, as in nono. */
		if (strstr(p->env_credentials.v[i].key, "://") != NULL &&
		    profile_validate_credential_ref(
		    p->env_credentials.v[i].key, &uri, &sub) == -1)
			return perr_from(c, &sub);
		if (profile_validate_env_var(p->env_credentials.v[i].value,
		    &sub) == -1)
			return perr(c, "invalid destination env var: %s",
			    errbuf_msg(&sub));
		pop(c);
		pop(c);
	}
	return 0;
}

/* A variable name pattern for allow_vars / deny_vars: NAME or PREFIX*. */
static bool
env_pattern_valid(const char *s)
{
	size_t	i, n = strlen(s);

	if (n == 0)
		return false;
	for (i = 0; i < n; i++) {
		if (s[i] == '*' && i == n - 1)
			continue;
		if (!(s[i] == '_' || (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9')))
			return false;
	}
	return true;
}

static int
check_patterns(struct pctx *c, const char *key, const struct strv *sv)
{
	size_t	i;

	for (i = 0; i < sv->n; i++) {
		if (env_pattern_valid(sv->v[i]))
			continue;
		push_key(c, key);
		push_idx(c, i);
		return perr(c, "'%s' is not a variable name or a PREFIX* "
		    "pattern (alphanumeric characters and underscores)",
		    sv->v[i]);
	}
	return 0;
}

static int
parse_environment(struct pctx *c, json_t *root, struct profile *p)
{
	json_t				*s;
	struct profile_environment	*env = &p->environment;
	struct errbuf			 sub;
	const char			*k;
	size_t				 i;
	int				 rc;

	if ((s = section(c, root, top_fields, "environment", env_fields,
	    &rc)) == NULL)
		return rc;
	env->allow_vars_set = json_object_get(s, "allow_vars") != NULL;
	if (get_strlist(c, s, env_fields, "allow_vars", &env->allow_vars) ==
	    -1 ||
	    get_strlist(c, s, env_fields, "deny_vars", &env->deny_vars) ==
	    -1 ||
	    get_strmap(c, s, env_fields, "set_vars", &env->set_vars) == -1)
		return -1;
	if (check_patterns(c, "allow_vars", &env->allow_vars) == -1 ||
	    check_patterns(c, "deny_vars", &env->deny_vars) == -1)
		return -1;
	for (i = 0; i < env->set_vars.n; i++) {
		k = env->set_vars.v[i].key;
		push_key(c, "set_vars");
		push_key(c, k);
		errbuf_clear(&sub);
		if (profile_validate_env_var(k, &sub) == -1)
			return perr_from(c, &sub);
		if (k[0] >= '0' && k[0] <= '9')
			return perr(c, "'%s' cannot start with a digit", k);
		if (strncmp(k, "KEYHOLE_", 8) == 0 ||
		    strncmp(k, "NONO_", 5) == 0)
			return perr(c, "'%s' is reserved for keyhole", k);
		pop(c);
		pop(c);
	}
	pop(c);
	return 0;
}

static int
parse_workdir(struct pctx *c, json_t *root, struct profile *p)
{
	json_t	*s;
	int	 rc, acc = 0;

	if ((s = section(c, root, top_fields, "workdir", workdir_fields,
	    &rc)) == NULL)
		return rc;
	if (get_enum(c, s, workdir_fields, "access", workdir_modes, false,
	    &acc) == -1)
		return -1;
	if (acc > 0)
		p->workdir = (enum profile_workdir)(acc - 1);
	pop(c);
	return 0;
}

static int
parse_hooks(struct pctx *c, json_t *root, struct profile *p)
{
	json_t			*s, *h;
	const char		*name;
	struct profile_hook	*hk;
	int			 i;
	static const char *const need[] = { "event", "matcher", "script" };

	if ((s = enter(c, root, top_fields, "hooks")) == NULL)
		return 0;
	if (want_type(c, s, JSON_OBJECT, "an object") == -1)
		return -1;
	json_object_foreach(s, name, h) {
		push_key(c, name);
		if (want_type(c, h, JSON_OBJECT, "an object") == -1 ||
		    check_keys(c, h, hook_fields) == -1)
			return -1;
		for (i = 0; i < 3; i++)
			if (json_object_get(h, need[i]) == NULL)
				return perr(c, "missing field '%s'",
				    need[i]);
		p->hooks = xreallocarray(p->hooks, p->nhooks + 1,
		    sizeof(*p->hooks));
		hk = &p->hooks[p->nhooks++];
		memset(hk, 0, sizeof(*hk));
		hk->name = xstrdup(name);
		if (get_str(c, h, hook_fields, "event", false, &hk->event,
		    NULL) == -1 ||
		    get_str(c, h, hook_fields, "matcher", false, &hk->matcher,
		    NULL) == -1 ||
		    get_str(c, h, hook_fields, "script", false, &hk->script,
		    NULL) == -1)
			return -1;
		pop(c);
	}
	pop(c);
	return 0;
}

static int
parse_misc(struct pctx *c, json_t *root, struct profile *p)
{
	json_t	*s;
	int	 rc;

	if ((s = section(c, root, top_fields, "rollback", rollback_fields,
	    &rc)) != NULL) {
		if (get_strlist(c, s, rollback_fields, "exclude_patterns",
		    &p->rollback_patterns) == -1 ||
		    get_strlist(c, s, rollback_fields, "exclude_globs",
		    &p->rollback_globs) == -1)
			return -1;
		pop(c);
	} else if (rc == -1)
		return -1;
	s = json_object_get(root, "open_urls");
	if (s != NULL && json_is_null(s))
		s = NULL;
	else if ((s = section(c, root, top_fields, "open_urls",
	    open_urls_fields, &rc)) != NULL) {
		p->open_urls.present = true;
		if (get_strlist(c, s, open_urls_fields, "allow_origins",
		    &p->open_urls.allow_origins) == -1 ||
		    get_plain_bool(c, s, open_urls_fields, "allow_localhost",
		    &p->open_urls.allow_localhost) == -1)
			return -1;
		pop(c);
	} else if (rc == -1)
		return -1;
	if (get_bool(c, root, top_fields, "allow_launch_services", true,
	    &p->allow_launch_services) == -1 ||
	    get_plain_bool(c, root, top_fields, "interactive",
	    &p->interactive) == -1 ||
	    get_strlist(c, root, top_fields, "skipdirs", &p->skipdirs) == -1)
		return -1;
	return 0;
}

/* Parse an object already checked to be one; p filled. */
static int
parse_root(struct pctx *c, json_t *root, struct profile *p)
{
	if (check_keys(c, root, top_fields) == -1 ||
	    parse_extends(c, root, p) == -1 ||
	    parse_meta(c, root, p) == -1 ||
	    parse_security(c, root, p) == -1 ||
	    parse_fs(c, root, p) == -1 ||
	    parse_policy(c, root, p) == -1 ||
	    parse_network(c, root, p) == -1 ||
	    get_strmap(c, root, top_fields, "env_credentials",
	    &p->env_credentials) == -1 ||
	    check_env_credentials(c, root, p) == -1 ||
	    parse_environment(c, root, p) == -1 ||
	    parse_workdir(c, root, p) == -1 ||
	    parse_hooks(c, root, p) == -1 ||
	    parse_misc(c, root, p) == -1)
		return -1;
	return 0;
}

/*
 * JSON text has no NUL bytes (RFC 8259: not even inside strings), but
 * jansson takes one after a number or literal as the token's end and
 * then counts its positions one short.  Refuse them first, located.
 */
static int
nul_byte(const char *json, size_t len, const char *label, struct errbuf *e)
{
	const char	*z = memchr(json, '\0', len);
	size_t		 i, ls = 0;
	int		 line = 1;

	if (z == NULL)
		return 0;
	for (i = 0; json + i < z; i++)
		if (json[i] == '\n') {
			line++;
			ls = i + 1;
		}
	errbuf_set(e, "profile %s: line %d column %zu: a NUL byte (JSON "
	    "text cannot contain one)", label, line, (size_t)(z - json) - ls + 1);
	return -1;
}

struct profile *
profile_parse_bytes(const char *json, size_t len, const char *label,
    struct errbuf *e)
{
	struct pctx	 c;
	struct profile	*p;
	json_error_t	 je;
	json_t		*root;

	memset(&c, 0, sizeof(c));
	c.label = label;
	c.text = json;
	c.len = len;
	c.e = e;
	if (nul_byte(json, len, label, e) == -1)
		return NULL;
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
	if (root == NULL) {
		errbuf_set(e, "profile %s: line %d column %d: %s", label,
		    je.line, je.column, je.text);
		return NULL;
	}
	if (!json_is_object(root)) {
		perr(&c, "the top level must be an object, not %s",
		    type_name(root));
		json_decref(root);
		return NULL;
	}
	p = profile_new();
	p->label = xstrdup(label);
	if (parse_root(&c, root, p) == -1) {
		profile_free(p);
		p = NULL;
	}
	json_decref(root);
	return p;
}

struct profile *
profile_parse_builtin(const char *doc, size_t len, json_t *obj,
    const char *name, struct errbuf *e)
{
	struct pctx	 c;
	struct profile	*p = NULL;
	char		*label;

	if (!json_is_object(obj)) {
		errbuf_set(e, "policy data: profiles.%s: not an object",
		    name);
		return NULL;
	}
	memset(&c, 0, sizeof(c));
	label = xasprintf("builtin:%s", name);
	c.label = label;
	c.text = doc;
	c.len = len;
	c.e = e;
	push_key(&c, "profiles");
	push_key(&c, name);
	c.skip = c.depth;
	p = profile_new();
	p->label = xstrdup(label);
	if (parse_root(&c, obj, p) == -1) {
		profile_free(p);
		p = NULL;
	}
	free(label);
	return p;
}

/* ---- files ---- */

/* Read a whole regular file; caller frees.  NULL with e. */
static char *
read_file(const char *path, size_t *lenp, struct errbuf *e)
{
	struct stat	 st;
	char		*buf;
	size_t		 len = 0;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			errbuf_set(e, "profile %s: profile file not found",
			    path);
		else
			errbuf_sys(e, "profile %s: open", path);
		return NULL;
	}
	if (fstat(fd, &st) == -1) {
		errbuf_sys(e, "profile %s: stat", path);
		close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		errbuf_set(e, "profile %s: not a regular file", path);
		close(fd);
		return NULL;
	}
	if (st.st_size > PROFILE_FILE_MAX) {
		errbuf_set(e, "profile %s: file too large (max %d bytes)",
		    path, PROFILE_FILE_MAX);
		close(fd);
		return NULL;
	}
	buf = xmalloc(PROFILE_FILE_MAX + 1);
	for (;;) {
		n = read(fd, buf + len, PROFILE_FILE_MAX + 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			errbuf_sys(e, "profile %s: read", path);
			free(buf);
			close(fd);
			return NULL;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > PROFILE_FILE_MAX) {
			errbuf_set(e, "profile %s: file too large "
			    "(max %d bytes)", path, PROFILE_FILE_MAX);
			free(buf);
			close(fd);
			return NULL;
		}
	}
	close(fd);
	buf[len] = '\0';
	*lenp = len;
	return buf;
}

struct profile *
profile_parse_file(const char *path, struct errbuf *e)
{
	struct profile	*p;
	char		*buf;
	size_t		 len;

	if ((buf = read_file(path, &len, e)) == NULL)
		return NULL;
	p = profile_parse_bytes(buf, len, path, e);
	free(buf);
	return p;
}

void
profile_env_from_environ(struct profile_env *env)
{
	memset(env, 0, sizeof(*env));
	env->home = getenv("HOME");
	env->tmpdir = getenv("TMPDIR");
	env->xdg_config_home = getenv("XDG_CONFIG_HOME");
	env->xdg_data_home = getenv("XDG_DATA_HOME");
	env->xdg_state_home = getenv("XDG_STATE_HOME");
	env->xdg_cache_home = getenv("XDG_CACHE_HOME");
	env->xdg_runtime_dir = getenv("XDG_RUNTIME_DIR");
	env->uid = getuid();
}

int
profile_search_dirs(const struct profile_env *env, struct strv *out,
    struct errbuf *e)
{
	const char	*x = env->xdg_config_home;
	char		*canon;

	if (env->home == NULL || env->home[0] != '/') {
		errbuf_set(e, "profile lookup: environment variable HOME %s",
		    env->home == NULL ? "is not set" :
		    "must be an absolute path");
		return -1;
	}
	if (x != NULL && x[0] != '\0' && x[0] != '/') {
		log_warnx("XDG_CONFIG_HOME '%s' is not absolute; using "
		    "%s/.config", x, env->home);
		x = NULL;
	}
	if (x != NULL && x[0] != '\0') {
		if ((canon = realpath(x, NULL)) != NULL) {
			strv_push_owned(out, xasprintf("%s/keyhole/profiles",
			    canon));
			free(canon);
		} else
			strv_push_owned(out, xasprintf("%s/keyhole/profiles",
			    x));
	} else
		strv_push_owned(out, xasprintf("%s/.config/keyhole/profiles",
		    env->home));
	strv_push_owned(out, xasprintf("%s/.config/nono/profiles",
	    env->home));
	return 0;
}

bool
profile_name_valid(const char *s)
{
	size_t	i, n = strlen(s);

	if (n == 0 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

/* The user's file for profile name (owned), the first of dirs; or NULL. */
static char *
find_user_file(const char *name, const struct strv *dirs)
{
	char	*path;
	size_t	 i;

	for (i = 0; i < dirs->n; i++) {
		path = xasprintf("%s/%s.json", dirs->v[i], name);
		if (access(path, F_OK) == 0)
			return path;
		free(path);
	}
	return NULL;
}

/*
 * Find a profile by name: the user directories then the built-ins.  *id
 * gets the identity used for cycles and sharing (canonical file path or
 * "builtin:NAME").  NULL with e; *notfound set when it just isn't there.
 */
static struct profile *
find_named(const char *name, const struct strv *dirs, char **id,
    bool *notfound, struct errbuf *e)
{
	struct profile	*p;
	char		*path, *canon;

	*notfound = false;
	if ((path = find_user_file(name, dirs)) != NULL) {
		p = profile_parse_file(path, e);
		canon = realpath(path, NULL);
		*id = canon != NULL ? canon : xstrdup(path);
		free(path);
		return p;
	}
	if ((p = profile_builtin_get(name)) != NULL) {
		*id = xasprintf("builtin:%s", name);
		return p;
	}
	*notfound = true;
	errbuf_set(e, "profile not found: %s", name);
	return NULL;
}

/* State of one extends resolution. */
struct resolver {
	const struct strv	*dirs;
	struct strv		 stack_ids;	/* identities on the path */
	struct strv		 stack_names;	/* names, for messages */
	struct strv		 seen;		/* identities merged */
};

static char *
chain(const struct resolver *r, const char *last)
{
	struct strv	 sv = { 0 };
	char		*s;

	strv_copy(&sv, &r->stack_names);
	strv_push(&sv, last);
	s = strv_join(&sv, " -> ");
	strv_free(&sv);
	return s;
}

/*
 * Resolve p's extends into a new merged profile: each base (not seen
 * before in this walk) resolved and merged left to right, then p.
 */
static struct profile *
resolve(struct resolver *r, const struct profile *p, size_t depth,
    struct errbuf *e)
{
	struct profile	*acc, *base, *rb;
	const char	*b;
	char		*id = NULL, *ch, where[PATH_MAX + 64];
	size_t		 i;
	bool		 notfound;

	if (p->extends_line > 0)
		snprintf(where, sizeof(where), "profile %s: line %d column %d: "
		    "extends: ", p->label, p->extends_line, p->extends_col);
	else
		snprintf(where, sizeof(where), "profile %s: extends: ",
		    p->label);
	acc = profile_new();
	if (p->extends.n > 0 && depth >= PROFILE_EXTENDS_MAX) {
		ch = chain(r, p->extends.v[0]);
		errbuf_set(e, "%sinheritance chain too deep (max %d): %s",
		    where, PROFILE_EXTENDS_MAX, ch);
		free(ch);
		goto fail;
	}
	for (i = 0; i < p->extends.n; i++) {
		b = p->extends.v[i];
		if (!profile_name_valid(b)) {
			errbuf_set(e, "%sinvalid base profile name '%s' "
			    "(bases are names, not paths)", where, b);
			goto fail;
		}
		if ((base = find_named(b, r->dirs, &id, &notfound, e)) ==
		    NULL) {
			if (notfound)
				errbuf_set(e, "%sbase profile '%s' not "
				    "found", where, b);
			free(id);
			goto fail;
		}
		if (strv_contains(&r->stack_ids, id)) {
			ch = chain(r, b);
			errbuf_set(e, "%scircular dependency: %s",
			    where, ch);
			free(ch);
			free(id);
			profile_free(base);
			goto fail;
		}
		if (strv_contains(&r->seen, id)) {
			/* A shared base is merged once (SPEC §8). */
			free(id);
			profile_free(base);
			continue;
		}
		strv_push(&r->seen, id);
		strv_push_owned(&r->stack_ids, id);
		strv_push(&r->stack_names, b);
		rb = resolve(r, base, depth + 1, e);
		profile_free(base);
		free(r->stack_ids.v[--r->stack_ids.n]);
		r->stack_ids.v[r->stack_ids.n] = NULL;
		free(r->stack_names.v[--r->stack_names.n]);
		r->stack_names.v[r->stack_names.n] = NULL;
		if (rb == NULL)
			goto fail;
		profile_merge_into(acc, rb);
		profile_free(rb);
	}
	profile_merge_into(acc, p);
	free(acc->label);
	acc->label = xstrdup(p->label);
	return acc;
fail:
	profile_free(acc);
	return NULL;
}

/* Resolve extends of top (identity id, display name) and finalise. */
static struct profile *
resolve_top(struct profile *top, const char *id, const char *name,
    const struct profile_env *env, struct errbuf *e)
{
	struct resolver	 r;
	struct strv	 dirs = { 0 };
	struct profile	*p = NULL;

	memset(&r, 0, sizeof(r));
	if (top->extends.n > 0) {
		if (profile_search_dirs(env, &dirs, e) == -1)
			goto out;
	}
	r.dirs = &dirs;
	strv_push(&r.stack_ids, id);
	strv_push(&r.stack_names, name);
	strv_push(&r.seen, id);
	if ((p = resolve(&r, top, 0, e)) == NULL)
		goto out;
	if (profile_finalise(p, e) == -1) {
		errbuf_wrap(e, "profile %s", p->label);
		profile_free(p);
		p = NULL;
	}
out:
	strv_free(&dirs);
	strv_free(&r.stack_ids);
	strv_free(&r.stack_names);
	strv_free(&r.seen);
	return p;
}

struct profile *
profile_load_bytes(const char *json, size_t len, const char *label,
    const struct profile_env *env, struct errbuf *e)
{
	struct profile_env	 own;
	struct profile		*top, *p;

	if (env == NULL) {
		profile_env_from_environ(&own);
		env = &own;
	}
	if ((top = profile_parse_bytes(json, len, label, e)) == NULL)
		return NULL;
	p = resolve_top(top, label, label, env, e);
	profile_free(top);
	return p;
}

static bool
is_path(const char *s)
{
	size_t	n = strlen(s);

	return strchr(s, '/') != NULL ||
	    (n >= 5 && strcmp(s + n - 5, ".json") == 0);
}

struct profile *
profile_load(const char *arg, const struct profile_env *env,
    struct errbuf *e)
{
	struct profile_env	 own;
	struct profile		*top, *p;
	struct strv		 dirs = { 0 };
	char			*id = NULL;
	bool			 notfound;

	if (env == NULL) {
		profile_env_from_environ(&own);
		env = &own;
	}
	if (is_path(arg)) {
		if ((top = profile_parse_file(arg, e)) == NULL)
			return NULL;
		id = realpath(arg, NULL);
		if (id == NULL)
			id = xstrdup(arg);
		p = resolve_top(top, id, arg, env, e);
		free(id);
		profile_free(top);
		return p;
	}
	if (!profile_name_valid(arg)) {
		errbuf_set(e, "invalid profile name '%s': must be "
		    "alphanumeric with hyphens only", arg);
		return NULL;
	}
	if (profile_search_dirs(env, &dirs, e) == -1)
		return NULL;
	top = find_named(arg, &dirs, &id, &notfound, e);
	strv_free(&dirs);
	if (top == NULL) {
		free(id);
		return NULL;
	}
	p = resolve_top(top, id, arg, env, e);
	free(id);
	profile_free(top);
	return p;
}

int
profile_default_groups(const struct profile_env *env, struct strv *out,
    struct errbuf *e)
{
	struct strv	 dirs = { 0 };
	struct profile	*p;
	char		*path;
	bool		 user;
	int		 rc;

	/* find_named's test: a user's default shadows the built-in. */
	if (profile_search_dirs(env, &dirs, e) == -1)
		return -1;
	path = find_user_file("default", &dirs);
	user = path != NULL;
	free(path);
	strv_free(&dirs);
	/*
	 * Without one, what resolving the built-in gives (policygen.py
	 * refuses a default whose other keys could change its groups).
	 */
	if (!user)
		return profile_builtin_default_effective(out, e);
	if ((p = profile_load("default", env, e)) == NULL)
		return -1;
	rc = profile_effective_groups(p, out, e);
	profile_free(p);
	return rc;
}

/* ---- lifetime ---- */

struct profile *
profile_new(void)
{
	struct profile	*p;

	p = xcalloc(1, sizeof(*p));
	p->meta.name = xstrdup("");
	p->meta.version = xstrdup("");
	return p;
}

void
profile_free(struct profile *p)
{
	size_t	i;

	if (p == NULL)
		return;
	free(p->label);
	strv_free(&p->extends);
	free(p->meta.name);
	free(p->meta.version);
	free(p->meta.description);
	free(p->meta.author);
	strv_free(&p->security.groups);
	strv_free(&p->security.allowed_commands);
	strv_free(&p->fs.allow);
	strv_free(&p->fs.read);
	strv_free(&p->fs.write);
	strv_free(&p->fs.allow_file);
	strv_free(&p->fs.read_file);
	strv_free(&p->fs.write_file);
	strv_free(&p->fs.allow_unix_socket);
	strv_free(&p->policy.exclude_groups);
	strv_free(&p->policy.add_allow_read);
	strv_free(&p->policy.add_allow_write);
	strv_free(&p->policy.add_allow_readwrite);
	strv_free(&p->policy.add_deny_access);
	strv_free(&p->policy.add_deny_commands);
	strv_free(&p->policy.override_deny);
	free(p->net.network_profile);
	strv_free(&p->net.allow_domain);
	strv_free(&p->net.credentials);
	for (i = 0; i < p->net.ncustom; i++)
		policy_route_def_free(p->net.custom[i]);
	free(p->net.custom);
	ports_free(&p->net.open_port);
	ports_free(&p->net.listen_port);
	free(p->net.upstream_proxy);
	free(p->net.tls_intercept);
	strv_free(&p->net.upstream_bypass);
	strv_free(&p->net.tls_intercept_exclude);
	strv_free(&p->net.allow_endpoint);
	strv_free(&p->net.no_proxy);
	profile_map_free(&p->env_credentials);
	strv_free(&p->environment.allow_vars);
	strv_free(&p->environment.deny_vars);
	profile_map_free(&p->environment.set_vars);
	for (i = 0; i < p->nhooks; i++) {
		free(p->hooks[i].name);
		free(p->hooks[i].event);
		free(p->hooks[i].matcher);
		free(p->hooks[i].script);
	}
	free(p->hooks);
	strv_free(&p->rollback_patterns);
	strv_free(&p->rollback_globs);
	strv_free(&p->open_urls.allow_origins);
	strv_free(&p->skipdirs);
	strv_free(&p->groups);
	free(p);
}
