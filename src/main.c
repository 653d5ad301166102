/*
 * keyhole: commands and exit codes (SPEC §2).  Usage errors exit 2 with
 * "error: ...", keyhole's own errors exit 1 with "keyhole: ...".
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "cli.h"
#include "policy/plan.h"
#include "proxy/server.h"
#include "util/errbuf.h"
#include "util/log.h"
#include "util/strv.h"
#include "util/xmalloc.h"

extern char **environ;

#define EXIT_KEYHOLE	1
#define EXIT_USAGE	2

struct proxy_run {
	struct event_base	*base;
	struct proxy		*px;
};

static void
print_warnings(const struct strv *w)
{
	size_t	i;

	for (i = 0; i < w->n; i++)
		log_warnx("%s", w->v[i]);
}

static void
on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
	struct proxy_run	*pr = arg;

	(void)what;
	log_debug("signal %d: stopping the proxy", (int)sig);
	proxy_server_shutdown(pr->px);
	event_base_loopexit(pr->base, NULL);
}

/* Run the loop's pending one-shot events (deferred frees) to the end. */
static void
drain_loop(struct event_base *base)
{
	int	i;

	for (i = 0; i < 4; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
}

/* keyhole proxy (SPEC §4.9): print the variables, serve until a signal. */
static int
cmd_proxy(const struct cli *cli, struct errbuf *e)
{
	struct proxy_run	 pr = { 0 };
	struct plan		*plan;
	struct event		*sigint = NULL, *sigterm = NULL;
	struct strv		 env = { 0 }, warnings = { 0 };
	size_t			 i;
	int			 rc = -1;

	if ((plan = policy_plan_build(cli, NULL, e)) == NULL)
		return -1;
	print_warnings(&plan->warnings);
	if (plan->dry_run) {
		printf("keyhole proxy: dry run; %zu allow-list entries, %zu "
		    "credential routes\n", plan->allow.n, plan->nroutes);
		policy_plan_free(plan);
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	if ((pr.base = event_base_new()) == NULL) {
		errbuf_set(e, "cannot create the event loop");
		goto out;
	}
	if ((pr.px = proxy_server_new(plan, pr.base, e)) == NULL)
		goto out;
	sigint = evsignal_new(pr.base, SIGINT, on_stop_signal, &pr);
	sigterm = evsignal_new(pr.base, SIGTERM, on_stop_signal, &pr);
	if (sigint == NULL || sigterm == NULL || evsignal_add(sigint, NULL) ==
	    -1 || evsignal_add(sigterm, NULL) == -1) {
		errbuf_set(e, "cannot install signal handlers");
		goto out;
	}
	proxy_server_env(pr.px, &env, &warnings);
	print_warnings(&warnings);
	for (i = 0; i < env.n; i++)
		printf("%s\n", env.v[i]);
	printf("\n");
	fflush(stdout);
	for (i = 0; i < env.n; i++)
		freezero_str(env.v[i]);
	free(env.v);
	env.v = NULL;
	env.n = 0;
	event_base_dispatch(pr.base);
	proxy_server_shutdown(pr.px);
	drain_loop(pr.base);
	rc = 0;
out:
	strv_free(&warnings);
	if (sigint != NULL)
		event_free(sigint);
	if (sigterm != NULL)
		event_free(sigterm);
	proxy_server_free(pr.px);
	if (pr.base != NULL) {
		drain_loop(pr.base);
		event_base_free(pr.base);
	}
	policy_plan_free(plan);
	return rc;
}

int
main(int argc, char **argv)
{
	struct cli	cli = { 0 };
	struct errbuf	e = { 0 };
	int		rc;

	if (cli_parse(&cli, argc, argv, environ, &e) == -1) {
		fprintf(stderr, "error: %s\n", errbuf_msg(&e));
		cli_free(&cli);
		return EXIT_USAGE;
	}
	if (cli.silent)
		log_set_level(LOG_SILENT);
	else
		log_set_level(LOG_WARN + cli.verbose);
	if (cli.help || cli.cmd == CLI_HELP) {
		cli_usage(cli.help_topic);
		cli_free(&cli);
		return 0;
	}
	switch (cli.cmd) {
	case CLI_VERSION:
		printf("keyhole %s\n", KEYHOLE_VERSION);
		rc = 0;
		break;
	case CLI_PROXY:
		rc = cmd_proxy(&cli, &e);
		break;
	default:
		errbuf_set(&e, "this command is not available yet");
		rc = -1;
		break;
	}
	if (rc == -1) {
		fprintf(stderr, "keyhole: %s\n", errbuf_msg(&e));
		rc = EXIT_KEYHOLE;
	}
	cli_free(&cli);
	return rc;
}
