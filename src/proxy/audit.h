#ifndef KEYHOLE_PROXY_AUDIT_H
#define KEYHOLE_PROXY_AUDIT_H

#include <stdbool.h>
#include <stdint.h>

#include "util/errbuf.h"

/*
 * The audit log (SPEC §4.8): one JSON line per network decision, in every
 * mode.  Only this file writes it.  The -v stderr line for each decision
 * is printed here too.  A failing audit file is reported once on stderr
 * and never stops the proxy.
 */
struct audit;

struct audit_rec {
	const char	*mode;		/* connect forward reverse external direct */
	bool		 allow;
	bool		 would_deny;	/* allowed by --report-only only */
	const char	*client;	/* --clients name; NULL: none */
	const char	*host;		/* NULL: null */
	int		 port;		/* -1: null */
	const char	*service;
	const char	*method;
	const char	*path;		/* redacted here: query values */
	int		 status;	/* 0: null */
	const char	*reason;
	uint64_t	 bytes_up;
	uint64_t	 bytes_down;
	long		 ms;		/* -1: null */
};

/* Distinct denials the <sandbox_violations> block lists, and a line's cap. */
#define AUDIT_VIOL_MAX		32
#define AUDIT_VIOL_LINE_MAX	768

/* Distinct allow-list entries --report-only collects. */
#define AUDIT_WOULD_MAX		64

/* path NULL: no file, only the -v lines and the denial count. */
struct audit *proxy_audit_open(const char *path, struct errbuf *e);
void	 proxy_audit_write(struct audit *, const struct audit_rec *);
unsigned long proxy_audit_denials(const struct audit *);
/*
 * Append the <sandbox_violations> block (SPEC §4.11) to out: one line per
 * distinct denial "KIND TARGET: REASON; HINT (N times)", at most
 * AUDIT_VIOL_MAX lines of at most AUDIT_VIOL_LINE_MAX bytes, then one
 * line for the rest; fs_reported false adds the line saying filesystem
 * denials are not reported.  Nothing when there was no denial.
 */
struct strbuf;
void	 proxy_audit_violations(const struct audit *, bool fs_reported,
	    struct strbuf *out);
/*
 * Append what --report-only learnt (SPEC 4.11): the --allow-domain flags
 * and the profile snippet that allow exactly the destinations the
 * allow-list would have denied, "keyhole: "-prefixed lines.
 */
void	 proxy_audit_report_only(const struct audit *, struct strbuf *out);
/*
 * Append path to b with every query value replaced by "REDACTED"
 * ("/x?a=1&b" -> "/x?a=REDACTED&b").
 */
void	 proxy_audit_redact_path(struct strbuf *b, const char *path);
/*
 * Append the decision counters in Prometheus text format (SPEC 4.10):
 * keyhole_decisions_total{mode,decision,client}, bytes up and down,
 * upstream errors.  No host or path is ever a label.
 */
void	 proxy_audit_metrics(const struct audit *, struct strbuf *out);
void	 proxy_audit_free(struct audit *);

#endif
