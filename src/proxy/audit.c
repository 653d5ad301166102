#include "proxy/audit.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "policy/deny.h"
#include "policy/netpolicy.h"
#include "util/log.h"
#include "util/strbuf.h"
#include "util/strv.h"
#include "util/xmalloc.h"

static void	audit_redact_query(struct strbuf *, const char *);
static void	audit_fields(struct strbuf *, const struct audit_rec *,
		    const char *);

/* One distinct denial for the <sandbox_violations> block. */
struct audit_viol {
	char		*key;		/* owned: "KIND TARGET: REASON" */
	char		*hint;		/* owned: "; to allow it: ..." or "" */
	unsigned long	 count;
};

struct audit {
	int		 fd;		/* -1: no file */
	char		*path;		/* owned */
	bool		 failed;	/* reported once */
	unsigned long	 denials;
	struct audit_viol viol[AUDIT_VIOL_MAX];
	size_t		 nviol;
	unsigned long	 viol_other;	/* denials beyond the distinct cap */
	struct strv	 would;		/* --report-only: entries used */
	unsigned long	 would_other;	/* beyond AUDIT_WOULD_MAX */
	/* /metrics (SPEC 4.10): decisions by mode, decision and client. */
	struct audit_count *counts;	/* owned */
	size_t		 ncounts, capcounts;
	uint64_t	 bytes_up, bytes_down;
	uint64_t	 upstream_errors;	/* 502 and 504 answers */
};

struct audit_count {
	char		*mode;		/* owned */
	const char	*decision;	/* static */
	char		*client;	/* owned; "" without --clients */
	uint64_t	 n;
};

struct audit *
proxy_audit_open(const char *path, struct errbuf *e)
{
	struct audit	*a = xcalloc(1, sizeof(*a));

	a->fd = -1;
	if (path == NULL)
		return a;
	/*
	 * O_NONBLOCK: a FIFO nobody reads must not stall the loop; writes
	 * that would block are dropped and reported.
	 */
	a->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC |
	    O_NONBLOCK, 0600);
	if (a->fd == -1 && errno == ENXIO) {
		/* A FIFO without a reader yet: keep going without the file. */
		log_warnx("audit log %s: no reader on the FIFO; audit lines "
		    "are dropped", path);
		a->path = xstrdup(path);
		a->failed = true;
		return a;
	}
	if (a->fd == -1) {
		errbuf_sys(e, "audit log %s", path);
		free(a);
		return NULL;
	}
	a->path = xstrdup(path);
	return a;
}

unsigned long
proxy_audit_denials(const struct audit *a)
{
	return a->denials;
}

/*
 * Any run of 32 or more hex digits in a path is masked: proxy and phantom
 * tokens are 64 hex digits, and a client may put one anywhere (SPEC 4.8:
 * no token is ever written to an audit line).
 */
#define AUDIT_HEXRUN_MIN	32

static void
audit_mask_hex(struct strbuf *b, size_t from)
{
	struct strbuf	 out = { 0 };
	const char	*s = b->s + from;
	size_t		 i = 0, j;

	while (s[i] != '\0') {
		for (j = i; isxdigit((unsigned char)s[j]); j++)
			;
		if (j - i >= AUDIT_HEXRUN_MIN) {
			strbuf_append(&out, "REDACTED");
			i = j;
			continue;
		}
		if (j == i)
			j++;
		strbuf_appendn(&out, s + i, j - i);
		i = j;
	}
	b->len = from;
	b->s[from] = '\0';
	strbuf_appendn(b, strbuf_str(&out), out.len);
	strbuf_free(&out);
}

void
proxy_audit_redact_path(struct strbuf *b, const char *path)
{
	size_t		 from = b->len;

	audit_redact_query(b, path);
	if (b->s != NULL)
		audit_mask_hex(b, from);
}

static void
audit_redact_query(struct strbuf *b, const char *path)
{
	const char	*q = strchr(path, '?'), *p;

	if (q == NULL) {
		strbuf_append(b, path);
		return;
	}
	strbuf_appendn(b, path, (size_t)(q - path) + 1);
	for (p = q + 1; *p != '\0';) {
		size_t	n = strcspn(p, "&"), k = strcspn(p, "=&");

		strbuf_appendn(b, p, k);
		if (k < n)
			strbuf_append(b, "=REDACTED");
		p += n;
		if (*p == '&') {
			strbuf_appendc(b, '&');
			p++;
		}
	}
}

static void
audit_json_str(struct strbuf *b, const char *key, const char *v, bool comma)
{
	strbuf_appendf(b, "%s\"%s\":", comma ? "," : "", key);
	if (v == NULL)
		strbuf_append(b, "null");
	else
		strbuf_append_json(b, v, strlen(v));
}


/* "; to allow it: FLAG" or "; what to do" for a denial, or nothing. */
static void
audit_hint(struct strbuf *b, const struct deny_info *d)
{
	if (d->hint[0] == '\0')
		return;
	if (!d->never && strncmp(d->hint, "--", 2) == 0)
		strbuf_appendf(b, "; to allow it: %s", d->hint);
	else
		strbuf_appendf(b, "; %s", d->hint);
}

static void
audit_explain(const struct audit_rec *r, const char *path,
    struct deny_info *d)
{
	policy_deny_explain(r->mode, r->host, r->port, r->service, r->method,
	    path, r->reason, d);
}

/*
 * The target of a denial as the block shows it: "CONNECT host:port",
 * "GET host:port", "POST /service/path", "host:port" (direct), "unix:/p".
 */
static void
audit_target(struct strbuf *b, const struct audit_rec *r, const char *path)
{
	bool	v6 = r->host != NULL && strchr(r->host, ':') != NULL &&
		    strncmp(r->host, "unix:", 5) != 0;

	if (r->method != NULL)
		strbuf_appendf(b, "%s ", r->method);
	if (r->service != NULL && strcmp(r->mode, "reverse") == 0) {
		strbuf_appendf(b, "/%s%s", r->service, path != NULL ? path :
		    "");
		return;
	}
	if (r->host == NULL) {
		strbuf_append(b, "?");
		return;
	}
	strbuf_appendf(b, "%s%s%s", v6 ? "[" : "", r->host, v6 ? "]" : "");
	if (r->port >= 0)
		strbuf_appendf(b, ":%d", r->port);
}

/* Count one denial in the table of distinct ones. */
static void
audit_violation(struct audit *a, const struct audit_rec *r, const char *path)
{
	struct strbuf	 b = { 0 }, h = { 0 };
	struct deny_info d;
	size_t		 i;

	audit_explain(r, path, &d);
	strbuf_appendf(&b, "%s ", d.kind);
	audit_target(&b, r, path);
	strbuf_appendf(&b, ": %s", r->reason != NULL ? r->reason : "denied");
	for (i = 0; i < a->nviol; i++)
		if (strcmp(a->viol[i].key, strbuf_str(&b)) == 0) {
			a->viol[i].count++;
			strbuf_free(&b);
			return;
		}
	if (a->nviol == AUDIT_VIOL_MAX) {
		a->viol_other++;
		strbuf_free(&b);
		return;
	}
	audit_hint(&h, &d);
	a->viol[a->nviol].key = strbuf_steal(&b);
	a->viol[a->nviol].hint = h.s != NULL ? strbuf_steal(&h) : xstrdup("");
	a->viol[a->nviol].count = 1;
	a->nviol++;
}

void
proxy_audit_violations(const struct audit *a, bool fs_reported,
    struct strbuf *out)
{
	struct strbuf	line = { 0 };
	char		esc[AUDIT_VIOL_LINE_MAX];
	size_t		i;

	if (a == NULL || a->nviol == 0)
		return;
	strbuf_append(out, "<sandbox_violations>\n");
	for (i = 0; i < a->nviol; i++) {
		strbuf_reset(&line);
		strbuf_appendf(&line, "%s (%lu time%s)%s", a->viol[i].key,
		    a->viol[i].count, a->viol[i].count == 1 ? "" : "s",
		    a->viol[i].hint);
		/* Host names and paths come from the sandbox: escaped, cut. */
		log_escape(esc, sizeof(esc), line.s, line.len);
		strbuf_appendf(out, "%s\n", esc);
	}
	strbuf_free(&line);
	if (a->viol_other > 0)
		strbuf_appendf(out, "... and %lu more denial%s of other "
		    "targets (the audit log, --audit-log FILE, has each)\n",
		    a->viol_other, a->viol_other == 1 ? "" : "s");
	if (!fs_reported)
		strbuf_append(out, "filesystem denials are not reported here: "
		    "an EACCES or EPERM from a file operation is the sandbox's "
		    "filesystem policy (keyhole why --path PATH explains "
		    "one)\n");
	strbuf_append(out, "</sandbox_violations>\n");
}

/* Note the allow-list entry a --report-only request needed. */
static void
audit_would(struct audit *a, const struct audit_rec *r)
{
	char	*ent;

	/* A look-up alone needs nothing: what the name was used for does. */
	if (strcmp(r->mode, "dns") == 0)
		return;
	/* A direct connect needs host:PORT, the direct grant (SPEC 4.3). */
	if (strcmp(r->mode, "direct") == 0 && r->port >= 0)
		ent = xasprintf("%s%s%s:%d", strchr(r->host, ':') != NULL ?
		    "[" : "", r->host, strchr(r->host, ':') != NULL ? "]" : "",
		    r->port);
	else
		ent = policy_deny_entry(r->host, r->port, strcmp(r->mode,
		    "forward") == 0);
	if (strv_contains(&a->would, ent))
		free(ent);
	else if (a->would.n >= AUDIT_WOULD_MAX) {
		a->would_other++;
		free(ent);
	} else
		strv_push_owned(&a->would, ent);
}

void
proxy_audit_report_only(const struct audit *a, struct strbuf *out)
{
	const struct netgroup	*g;
	struct strbuf	 flags = { 0 }, what = { 0 };
	struct strv	 sugg = { 0 }, groups = { 0 };
	char		*snippet, esc[AUDIT_VIOL_LINE_MAX * 4];
	size_t		 i, j;

	if (a == NULL)
		return;
	if (a->would.n == 0) {
		strbuf_append(out, "keyhole: report-only: nothing outside the "
		    "allow-list was used\n");
		return;
	}
	policy_deny_suggest(&a->would, policy_netpolicy_builtin(), &sugg,
	    &groups);
	for (i = 0; i < sugg.n; i++)
		strbuf_appendf(&flags, "%s--allow-domain %s", i > 0 ? " " : "",
		    sugg.v[i]);
	snippet = policy_deny_snippet(&sugg);
	strbuf_appendf(out, "keyhole: report-only: %zu destination%s outside "
	    "the allow-list %s used; to allow %s:\n", a->would.n,
	    a->would.n == 1 ? "" : "s", a->would.n == 1 ? "was" : "were",
	    groups.n > 0 ? "them" : a->would.n == 1 ? "exactly it" :
	    "exactly these");
	/* Names come from the sandbox: escaped. */
	log_escape(esc, sizeof(esc), flags.s, flags.len);
	strbuf_appendf(out, "keyhole:   %s\n", esc);
	log_escape(esc, sizeof(esc), snippet, strlen(snippet));
	strbuf_appendf(out, "keyhole:   profile: %s\n", esc);
	for (i = 0; i < groups.n; i++) {
		g = policy_netpolicy_group(policy_netpolicy_builtin(),
		    groups.v[i]);
		strbuf_appendf(&what, "%zu host%s", g->hosts.n,
		    g->hosts.n == 1 ? "" : "s");
		for (j = 0; j < g->suffixes.n; j++)
			strbuf_appendf(&what, "%s*%s", j == 0 ? (g->hosts.n > 0 ?
			    " and " : "") : ", ", g->suffixes.v[j]);
		strbuf_appendf(out, "keyhole:   (%s is a network-policy group: "
		    "%s; list the hosts instead to allow only those used)\n",
		    g->name, g->hosts.n == 0 ? strbuf_str(&what) +
		    strlen("0 hosts") : strbuf_str(&what));
		strbuf_free(&what);
	}
	if (a->would_other > 0)
		strbuf_appendf(out, "keyhole:   (and %lu more, not listed: "
		    "see the audit log's would_deny records)\n",
		    a->would_other);
	free(snippet);
	strbuf_free(&flags);
	strv_free(&sugg);
	strv_free(&groups);
}

/* The -v line: "DENY CONNECT evil.example:443 not in allow-list". */
static void
audit_log_line(const struct audit_rec *r, const char *path)
{
	struct deny_info	d;

	struct strbuf	b = { 0 };

	strbuf_append(&b, r->would_deny ? "WOULD_DENY " : r->allow ?
	    "ALLOW " : "DENY ");
	if (r->method != NULL)
		strbuf_appendf(&b, "%s ", r->method);
	else
		strbuf_appendf(&b, "%s ", r->mode);
	if (r->service != NULL)
		strbuf_appendf(&b, "/%s%s", r->service, r->host != NULL ?
		    " -> " : "");
	if (r->host != NULL) {
		bool v6 = strchr(r->host, ':') != NULL;

		strbuf_appendf(&b, "%s%s%s", v6 ? "[" : "", r->host,
		    v6 ? "]" : "");
		if (r->port >= 0)
			strbuf_appendf(&b, ":%d", r->port);
	}
	if (path != NULL)
		strbuf_appendf(&b, "%s", path);
	if (r->status > 0)
		strbuf_appendf(&b, " %d", r->status);
	if (r->reason != NULL)
		strbuf_appendf(&b, " %s", r->reason);
	if (!r->allow) {
		audit_explain(r, path, &d);
		if (d.hint[0] != '\0') {
			strbuf_append(&b, " (keyhole policy");
			audit_hint(&b, &d);
			strbuf_append(&b, ")");
		}
	}
	if (log_json) {
		struct strbuf	f = { 0 };

		audit_fields(&f, r, path);
		log_json_line("info", strbuf_str(&b), strbuf_str(&f));
		strbuf_free(&f);
	} else
		log_info("%s", strbuf_str(&b));
	strbuf_free(&b);
}

static void
audit_emit(struct audit *a, const char *line, size_t len)
{
	ssize_t	n;

	if (a->fd == -1 || a->failed)
		return;
	/* One write per line with O_APPEND keeps lines whole. */
	do {
		n = write(a->fd, line, len);
	} while (n == -1 && errno == EINTR);
	if (n == (ssize_t)len)
		return;
	if (n == -1)
		log_warn("audit log %s: write failed; further audit lines "
		    "are dropped", a->path);
	else
		log_warnx("audit log %s: short write; further audit lines "
		    "are dropped", a->path);
	a->failed = true;
}

static const char *
audit_decision(const struct audit_rec *r)
{
	return r->would_deny ? "would_deny" : r->allow ? "allow" : "deny";
}

static void
audit_count(struct audit *a, const struct audit_rec *r)
{
	const char		*client = r->client != NULL ? r->client : "";
	const char		*dec = audit_decision(r);
	struct audit_count	*c;
	size_t			 i;

	a->bytes_up += r->bytes_up;
	a->bytes_down += r->bytes_down;
	if (r->status == 502 || r->status == 504)
		a->upstream_errors++;
	for (i = 0; i < a->ncounts; i++) {
		c = &a->counts[i];
		if (c->decision == dec && strcmp(c->mode, r->mode) == 0 &&
		    strcmp(c->client, client) == 0) {
			c->n++;
			return;
		}
	}
	if (a->ncounts == a->capcounts) {
		a->capcounts = a->capcounts ? a->capcounts * 2 : 8;
		a->counts = xreallocarray(a->counts, a->capcounts,
		    sizeof(*a->counts));
	}
	c = &a->counts[a->ncounts++];
	c->mode = xstrdup(r->mode);
	c->decision = dec;
	c->client = xstrdup(client);
	c->n = 1;
}

/* Append a Prometheus label value (escaped backslash, quote, newline). */
static void
audit_label(struct strbuf *b, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\\' || *v == '"')
			strbuf_appendc(b, '\\');
		if (*v == '\n') {
			strbuf_append(b, "\\n");
			continue;
		}
		strbuf_appendc(b, *v);
	}
}

void
proxy_audit_metrics(const struct audit *a, struct strbuf *out)
{
	size_t	i;

	strbuf_append(out, "# HELP keyhole_decisions_total Network decisions "
	    "by mode, decision and client.\n"
	    "# TYPE keyhole_decisions_total counter\n");
	for (i = 0; i < a->ncounts; i++) {
		strbuf_append(out, "keyhole_decisions_total{mode=\"");
		audit_label(out, a->counts[i].mode);
		strbuf_appendf(out, "\",decision=\"%s\",client=\"",
		    a->counts[i].decision);
		audit_label(out, a->counts[i].client);
		strbuf_appendf(out, "\"} %llu\n",
		    (unsigned long long)a->counts[i].n);
	}
	strbuf_appendf(out, "# HELP keyhole_bytes_up_total Bytes sent "
	    "upstream by finished exchanges.\n"
	    "# TYPE keyhole_bytes_up_total counter\n"
	    "keyhole_bytes_up_total %llu\n"
	    "# HELP keyhole_bytes_down_total Bytes sent to clients by "
	    "finished exchanges.\n"
	    "# TYPE keyhole_bytes_down_total counter\n"
	    "keyhole_bytes_down_total %llu\n"
	    "# HELP keyhole_upstream_errors_total Answers 502 or 504: the "
	    "upstream could not be reached.\n"
	    "# TYPE keyhole_upstream_errors_total counter\n"
	    "keyhole_upstream_errors_total %llu\n",
	    (unsigned long long)a->bytes_up,
	    (unsigned long long)a->bytes_down,
	    (unsigned long long)a->upstream_errors);
}

/* The audit fields as "key":value pairs, without braces. */
static void
audit_fields(struct strbuf *b, const struct audit_rec *r, const char *path)
{
	char	ts[96];

	log_timestamp(ts, sizeof(ts));
	audit_json_str(b, "ts", ts, false);
	audit_json_str(b, "mode", r->mode, true);
	audit_json_str(b, "decision", audit_decision(r), true);
	if (r->client != NULL)
		audit_json_str(b, "client", r->client, true);
	audit_json_str(b, "host", r->host, true);
	if (r->port >= 0)
		strbuf_appendf(b, ",\"port\":%d", r->port);
	else
		strbuf_append(b, ",\"port\":null");
	audit_json_str(b, "service", r->service, true);
	audit_json_str(b, "method", r->method, true);
	audit_json_str(b, "path", path, true);
	if (r->status > 0)
		strbuf_appendf(b, ",\"status\":%d", r->status);
	else
		strbuf_append(b, ",\"status\":null");
	audit_json_str(b, "reason", r->reason, true);
	strbuf_appendf(b, ",\"bytes_up\":%llu,\"bytes_down\":%llu",
	    (unsigned long long)r->bytes_up,
	    (unsigned long long)r->bytes_down);
	if (r->ms >= 0)
		strbuf_appendf(b, ",\"ms\":%ld", r->ms);
	else
		strbuf_append(b, ",\"ms\":null");
}

void
proxy_audit_write(struct audit *a, const struct audit_rec *r)
{
	struct strbuf	 b = { 0 }, path = { 0 };
	const char	*p;

	audit_count(a, r);
	if (r->path != NULL && (!r->allow || log_level >= LOG_INFO ||
	    (a->fd != -1 && !a->failed)))
		proxy_audit_redact_path(&path, r->path);
	p = r->path != NULL ? strbuf_str(&path) : NULL;
	if (!r->allow) {
		a->denials++;
		audit_violation(a, r, p);
	}
	if (r->would_deny && r->host != NULL)
		audit_would(a, r);
	/* Nothing to write and nobody listening: skip the formatting. */
	if ((a->fd == -1 || a->failed) && log_level < LOG_INFO) {
		strbuf_free(&path);
		return;
	}
	if (log_level >= LOG_INFO)
		audit_log_line(r, p);
	if (a->fd == -1 || a->failed) {
		strbuf_free(&path);
		return;
	}
	strbuf_append(&b, "{");
	audit_fields(&b, r, p);
	strbuf_append(&b, "}\n");
	audit_emit(a, b.s, b.len);
	strbuf_free(&b);
	strbuf_free(&path);
}

void
proxy_audit_free(struct audit *a)
{
	size_t	i;

	if (a == NULL)
		return;
	if (a->fd != -1)
		close(a->fd);
	for (i = 0; i < a->nviol; i++) {
		free(a->viol[i].key);
		free(a->viol[i].hint);
	}
	strv_free(&a->would);
	for (i = 0; i < a->ncounts; i++) {
		free(a->counts[i].client);
		free(a->counts[i].mode);
	}
	free(a->counts);
	free(a->path);
	free(a);
}
