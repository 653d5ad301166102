#ifndef KEYHOLE_SANDBOX_AGENTS_H
#define KEYHOLE_SANDBOX_AGENTS_H

#include "util/errbuf.h"
#include "util/strv.h"

struct plan;

/*
 * Per-run set-up of the agents the profile's groups name (plan->agents,
 * group key "agent"), in the run's private temporary directory tmpdir.
 *
 * "codex": CODEX_HOME becomes tmpdir/codex-home, an overlay of the real
 * one ($CODEX_HOME, else home/.codex): every entry linked to the real one
 * (sessions/ and log/ created there first, so they persist), and a
 * config.toml that starts with openai_base_url (the openai route's URL,
 * read from kvars, when the plan has that route) and sandbox_mode =
 * "danger-full-access" (keyhole is the sandbox), followed by the user's
 * own config.toml minus top-level settings of those two keys.
 * CODEX_HOME=... is added to kvars.  -1 with e.
 */
int	 sandbox_agents_prepare(const struct plan *, const char *tmpdir,
	    const char *home, struct strv *kvars, struct errbuf *e);

#endif
