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

/* path NULL: no file, only the -v lines and the denial count. */
struct audit *proxy_audit_open(const char *path, struct errbuf *e);
void	 proxy_audit_write(struct audit *, const struct audit_rec *);
unsigned long proxy_audit_denials(const struct audit *);
/*
 * Append path to b with every query value replaced by "REDACTED"
 * ("/x?a=1&b" -> "/x?a=REDACTED&b").
 */
struct strbuf;
void	 proxy_audit_redact_path(struct strbuf *b, const char *path);
void	 proxy_audit_free(struct audit *);

#endif
