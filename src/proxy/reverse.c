/*
 * Credential routes (SPEC §4.6).  XXX(issue 4): injection and forwarding
 * are not built yet; a known service answers 501 until then.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/plan.h"
#include "proxy/conn.h"
#include "proxy/server.h"
#include "util/xmalloc.h"

void
proxy_reverse_start(struct conn *c)
{
	const struct plan	*plan = proxy_server_plan(c->px);
	const char		*t = c->head->target + 1;
	size_t			 n = strcspn(t, "/?");
	char			*service = xstrndup(t, n);

	c->mode = CONN_MODE_REVERSE;
	c->path = xstrdup(c->head->target);
	if (policy_plan_route(plan, service) == NULL) {
		c->status = 404;
		proxy_conn_audit(c, false, "unknown service");
		proxy_conn_reply_json(c, 404, true);
	} else {
		c->status = 501;
		proxy_conn_audit(c, false, "credential routes are not served "
		    "yet");
		proxy_conn_reply_json(c, 501, true);
	}
	free(service);
}
