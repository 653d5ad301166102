/*
 * keyhole: commands and exit codes (SPEC §2).  Usage errors exit 2 with
 * "error: ...", keyhole's own errors exit 1 with "keyhole: ...".
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "cli.h"
#include "creds/store.h"
#include "creds/watch.h"
#include "policy/grants.h"
#include "policy/plan.h"
#include "policy/route.h"
#include "policy/why.h"
#include "profile/profile.h"
#include "proxy/admin.h"
#include "proxy/audit.h"
#include "proxy/clients.h"
#include "proxy/evmem.h"
#include "proxy/server.h"
#include "sandbox/agents.h"
#include "sandbox/env.h"
#include "sandbox/mediator.h"
#include "sandbox/seccomp.h"
#include "sandbox/supervise.h"
#include "sandbox/tmpdir.h"
#include "util/errbuf.h"
#include "util/log.h"
#include "util/strbuf.h"
#include "util/strv.h"
#include "util/xmalloc.h"
#include "version.h"

extern char **environ;

/* The environment as keyhole started, for wiping secrets (SPEC 5). */
static char **environ_at_start;

#define EXIT_KEYHOLE	1
#define EXIT_USAGE	2

struct proxy_gen;
struct reload_job;

struct proxy_run {
	const struct cli	*cli;		/* borrowed */
	struct event_base	*base;
	struct proxy		*px;		/* the current configuration */
	struct plan		*plan;		/* owned */
	struct creds_store	*creds;		/* owned */
	LIST_HEAD(, proxy_gen)	 retired;	/* replaced by SIGHUP */
	uint64_t		 reloads, reload_failures;
	ino_t			 env_ino;
	struct admin		*admin;
	struct proxy_clients	*clients;	/* owned; --clients */
	struct event		*drain_tick;	/* owned; while draining */
	struct creds_watch	**watch;	/* owned; per store: creds,
						 * then each client profile's */
	size_t			 nwatch;
	struct reload_job	*job;		/* a SIGHUP being read */
	bool			 reload_again;	/* SIGHUP during job */
	uint64_t		 loads_before;	/* by replaced stores */
	uint64_t		 load_failures_before;
	uint64_t		 drain_timeout_ms;
	struct timespec		 drain_start;
};

static uint64_t
elapsed_ms(const struct timespec *since)
{
	struct timespec	now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)(now.tv_sec - since->tv_sec) * 1000 +
	    (uint64_t)((now.tv_nsec - since->tv_nsec) / 1000000);
}

static size_t	proxy_run_drain_retired(struct proxy_run *);
static void	proxy_run_counts(const struct proxy_run *, uint64_t *,
		    uint64_t *);

/* Every 100 ms of a drain: done when nothing is open or time is up. */
static void
on_drain_tick(evutil_socket_t fd, short what, void *arg)
{
	struct proxy_run	*pr = arg;
	struct timeval		 tv = { 0, 100 * 1000 };
	size_t			 open;

	(void)fd;
	(void)what;
	open = proxy_server_drain(pr->px);
	open += proxy_run_drain_retired(pr);
	if (open > 0 && elapsed_ms(&pr->drain_start) < pr->drain_timeout_ms) {
		evtimer_add(pr->drain_tick, &tv);
		return;
	}
	if (open > 0)
		log_warnx("drain timeout: closing %zu open connection%s", open,
		    open == 1 ? "" : "s");
	else
		log_info("drained: every exchange finished");
	proxy_server_shutdown(pr->px);
	event_base_loopexit(pr->base, NULL);
}

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
	if (sig == SIGTERM && pr->drain_timeout_ms > 0 &&
	    pr->drain_tick == NULL) {
		log_info("SIGTERM: draining (up to %llu s)",
		    (unsigned long long)(pr->drain_timeout_ms / 1000));
		clock_gettime(CLOCK_MONOTONIC, &pr->drain_start);
		pr->drain_tick = evtimer_new(pr->base, on_drain_tick, pr);
		if (pr->drain_tick != NULL) {
			on_drain_tick(-1, 0, pr);
			return;
		}
	}
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

/* The profile named by --profile, or NULL (the plan uses the default). */
static int
load_profile(const struct cli *cli, struct profile **out, struct errbuf *e)
{
	*out = NULL;
	if (cli->profile == NULL)
		return 0;
	if ((*out = profile_load(cli->profile, NULL, e)) == NULL)
		return -1;
	return 0;
}

static void	print_dry_run(const struct plan *, char *const argv[]);
static struct event_base *main_event_base(void);

/*
 * A store with every route's secret source, read now (SPEC 5).  A route
 * named on the command line whose env:// variable is unset is an error:
 * the variable cannot appear later.  Other missing secrets are warned
 * about once, those of routes a profile pulled in only with -v.
 */
static struct creds_store *
load_creds(const struct plan *plan, const struct cli *cli, struct errbuf *e)
{
	struct creds_store	*cs = creds_store_new(environ);
	size_t			 i;

	for (i = 0; i < plan->nroutes; i++) {
		const struct route_def *d = plan->routes[i]->def;
		bool named = strv_contains(&cli->credential, d->name);

		if (creds_store_add(cs, d->name, d->credential_key, e) == -1) {
			creds_store_free(cs);
			return NULL;
		}
		if (creds_store_get(cs, d->name) != NULL)
			continue;
		if (named && strncmp(d->credential_key, "env://", 6) == 0) {
			errbuf_set(e, "--credential %s: its key comes from the "
			    "environment variable %s, which is not set (or "
			    "empty); set it before starting keyhole, as it "
			    "cannot appear later", d->name,
			    d->credential_key + 6);
			creds_store_free(cs);
			return NULL;
		}
		if (named)
			log_warnx("credential '%s' is not available yet (%s); "
			    "its route answers 503 until it is", d->name,
			    creds_store_reason(cs, d->name));
		else
			log_info("credential '%s' (from the profile) is not "
			    "available (%s); its route answers 503 until it "
			    "is", d->name, creds_store_reason(cs, d->name));
	}
	return cs;
}

/*
 * A client's "profile" in --clients (SPEC 4.10): a name or path as for
 * --profile, a relative path being relative to the clients file's
 * directory.  Its plan is built with the same command line (options such
 * as --credential and --allow apply to every profile) and its
 * credentials are loaded once however many clients name it.
 */
static int
load_client_profile(void *arg, const char *name, struct plan **plan,
    struct creds_store **creds, struct errbuf *e)
{
	const struct cli	*cli = arg;
	struct profile		*prof;
	const char		*slash = strrchr(cli->clients, '/');
	char			*path = NULL;
	size_t			 n = strlen(name);

	if (name[0] != '/' && slash != NULL && (strchr(name, '/') != NULL ||
	    (n > 5 && strcmp(name + n - 5, ".json") == 0)))
		path = xasprintf("%.*s/%s", (int)(slash - cli->clients),
		    cli->clients, name);
	prof = profile_load(path != NULL ? path : name, NULL, e);
	free(path);
	if (prof == NULL)
		return -1;
	*plan = policy_plan_build(cli, prof, e);
	profile_free(prof);
	if (*plan == NULL)
		return -1;
	print_warnings(&(*plan)->warnings);
	if ((*creds = load_creds(*plan, cli, e)) == NULL) {
		policy_plan_free(*plan);
		*plan = NULL;
		return -1;
	}
	return 0;
}

/* Append value to b in single quotes, as a POSIX shell reads it back. */
static void
shell_quote(struct strbuf *b, const char *value)
{
	const char	*p;

	strbuf_append(b, "'");
	for (p = value; *p != '\0'; p++) {
		if (*p == '\'')
			strbuf_append(b, "'\\''");
		else
			strbuf_appendc(b, *p);
	}
	strbuf_append(b, "'");
}

/*
 * --env-file: the variables as "export NAME='value'" lines, written to a
 * temporary file in the same directory (0640) and renamed over path, so
 * a shell that waits for path to exist reads all of it or nothing.  *ino
 * gets the file's inode, to remove only our own file at exit.
 */
static int
write_env_file(const char *path, const struct strv *env, ino_t *ino,
    struct errbuf *e)
{
	struct strbuf	 b = { .wipe = true };
	struct stat	 st;
	char		*tmp, *eq;
	size_t		 i, off;
	ssize_t		 n;
	int		 fd, rc = -1;

	for (i = 0; i < env->n; i++) {
		if ((eq = strchr(env->v[i], '=')) == NULL)
			continue;
		strbuf_appendf(&b, "export %.*s=", (int)(eq - env->v[i]),
		    env->v[i]);
		shell_quote(&b, eq + 1);
		strbuf_append(&b, "\n");
	}
	tmp = xasprintf("%s.XXXXXX", path);
	if ((fd = mkstemp(tmp)) == -1) {
		errbuf_sys(e, "--env-file %s: cannot create a file next to it",
		    path);
		free(tmp);
		strbuf_freezero(&b);
		return -1;
	}
	if (fchmod(fd, 0640) == -1) {
		errbuf_sys(e, "--env-file %s", tmp);
		goto out;
	}
	for (off = 0; off < b.len; off += (size_t)n) {
		n = write(fd, strbuf_str(&b) + off, b.len - off);
		if (n == -1 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n <= 0) {
			errbuf_sys(e, "--env-file %s: write", tmp);
			goto out;
		}
	}
	if (fsync(fd) == -1 || fstat(fd, &st) == -1) {
		errbuf_sys(e, "--env-file %s", tmp);
		goto out;
	}
	if (rename(tmp, path) == -1) {
		errbuf_sys(e, "--env-file: cannot rename %s to %s", tmp, path);
		goto out;
	}
	*ino = st.st_ino;
	rc = 0;
out:
	close(fd);
	if (rc == -1)
		(void)unlink(tmp);
	free(tmp);
	strbuf_freezero(&b);
	return rc;
}

/* Remove the --env-file at exit if it is still the one we wrote. */
static void
remove_env_file(const char *path, ino_t ino)
{
	struct stat	st;

	if (path != NULL && ino != 0 && lstat(path, &st) == 0 &&
	    st.st_ino == ino)
		(void)unlink(path);
}

/* keyhole proxy (SPEC §4.9): print the variables, serve until a signal. */
static void	report_only(const struct audit *);

/* A configuration replaced by SIGHUP, serving its open connections. */
struct proxy_gen {
	struct proxy		*px;		/* owned */
	struct plan		*plan;		/* owned */
	struct creds_store	*creds;		/* owned */
	struct proxy_clients	*clients;	/* owned */
	struct proxy_run	*pr;		/* borrowed */
	LIST_ENTRY(proxy_gen)	 entry;
};

static void
proxy_gen_free(struct proxy_gen *g)
{
	LIST_REMOVE(g, entry);
	proxy_server_free(g->px);
	proxy_clients_free(g->clients);
	creds_store_free(g->creds);
	policy_plan_free(g->plan);
	free(g);
}

/* Drain the retired configurations too; their open connections. */
static size_t
proxy_run_drain_retired(struct proxy_run *pr)
{
	struct proxy_gen	*g;
	size_t			 n = 0;

	LIST_FOREACH(g, &pr->retired, entry)
		n += proxy_server_drain(g->px);
	return n;
}

/* The last connection of a retired configuration closed. */
static void
proxy_gen_gone(void *arg)
{
	struct proxy_gen	*g = arg;

	log_debug("a configuration replaced by a reload has no connection "
	    "left: freed");
	proxy_gen_free(g);
}

/* /metrics lines of main's own counters. */
static void
proxy_run_metrics(struct strbuf *out, void *arg)
{
	struct proxy_run	*pr = arg;
	struct proxy_gen	*g;
	size_t			 n = 0, conns = 0;

	uint64_t		 loads, failures;
	unsigned		 watched = 0;
	size_t			 i;

	LIST_FOREACH(g, &pr->retired, entry) {
		n++;
		conns += proxy_server_nconns(g->px);
	}
	proxy_run_counts(pr, &loads, &failures);
	for (i = 0; i < pr->nwatch; i++)
		watched += creds_watch_active(pr->watch[i]);
	strbuf_appendf(out, "# HELP keyhole_credential_loads_total "
	    "Credential secrets loaded (at start, on rotation, on reload).\n"
	    "# TYPE keyhole_credential_loads_total counter\n"
	    "keyhole_credential_loads_total %llu\n"
	    "# HELP keyhole_credential_load_failures_total Credential loads "
	    "that gave no secret (missing file, failing helper).\n"
	    "# TYPE keyhole_credential_load_failures_total counter\n"
	    "keyhole_credential_load_failures_total %llu\n"
	    "# HELP keyhole_credential_watches Directories of credential "
	    "files watched now.\n"
	    "# TYPE keyhole_credential_watches gauge\n"
	    "keyhole_credential_watches %u\n",
	    (unsigned long long)(pr->loads_before + loads),
	    (unsigned long long)(pr->load_failures_before + failures),
	    watched);
	strbuf_appendf(out, "# HELP keyhole_reloads_total Configurations "
	    "loaded by SIGHUP.\n"
	    "# TYPE keyhole_reloads_total counter\n"
	    "keyhole_reloads_total %llu\n"
	    "# HELP keyhole_reload_failures_total SIGHUPs refused: the new "
	    "configuration was invalid.\n"
	    "# TYPE keyhole_reload_failures_total counter\n"
	    "keyhole_reload_failures_total %llu\n"
	    "# HELP keyhole_retired_configurations Replaced configurations "
	    "still serving open connections.\n"
	    "# TYPE keyhole_retired_configurations gauge\n"
	    "keyhole_retired_configurations %zu\n"
	    "# HELP keyhole_retired_connections Open connections still "
	    "served by a replaced configuration (not in keyhole_connections).\n"
	    "# TYPE keyhole_retired_connections gauge\n"
	    "keyhole_retired_connections %zu\n",
	    (unsigned long long)pr->reloads,
	    (unsigned long long)pr->reload_failures, n, conns);
}

/* Print (first time) and write --env-file: the variables clients need. */
static int
proxy_run_publish(struct proxy_run *pr, bool print, struct errbuf *e)
{
	struct strv	env = { 0 }, warnings = { 0 };
	size_t		i;
	int		rc = 0;

	proxy_server_env(pr->px, &env, &warnings);
	print_warnings(&warnings);
	strv_free(&warnings);
	if (pr->cli->env_file != NULL && write_env_file(pr->cli->env_file,
	    &env, &pr->env_ino, e) == -1)
		rc = -1;
	else if (print) {
		for (i = 0; i < env.n; i++)
			printf("%s\n", env.v[i]);
		printf("\n");
		fflush(stdout);
	}
	for (i = 0; i < env.n; i++)
		freezero_str(env.v[i]);
	free(env.v);
	return rc;
}

/*
 * Watch the directories of the current store's credential files (SPEC
 * 4.10), replacing the watch of the store before.  Without inotify the
 * store's check on use still sees changes.
 */
static void
proxy_run_unwatch(struct proxy_run *pr)
{
	size_t	i;

	for (i = 0; i < pr->nwatch; i++)
		creds_watch_free(pr->watch[i]);
	free(pr->watch);
	pr->watch = NULL;
	pr->nwatch = 0;
}

static void
proxy_run_watch(struct proxy_run *pr)
{
	struct errbuf	e = { 0 };
	size_t		i, n;

	proxy_run_unwatch(pr);
	n = 1 + (pr->clients != NULL ? pr->clients->nprofiles : 0);
	pr->watch = xcalloc(n, sizeof(*pr->watch));
	pr->nwatch = n;
	for (i = 0; i < n; i++) {
		errbuf_clear(&e);
		pr->watch[i] = creds_watch_new(pr->base, i == 0 ? pr->creds :
		    pr->clients->profiles[i - 1].creds, &e);
		if (pr->watch[i] == NULL && errbuf_msg(&e)[0] != '\0') {
			log_warnx("credential files are not watched (%s): a "
			    "change is seen when the credential is next used",
			    errbuf_msg(&e));
			break;
		}
	}
}

/* Loads of the current stores: the proxy's and its client profiles'. */
static void
proxy_run_counts(const struct proxy_run *pr, uint64_t *loads,
    uint64_t *failures)
{
	uint64_t	l, f;
	size_t		i;

	creds_store_counts(pr->creds, loads, failures);
	for (i = 0; pr->clients != NULL && i < pr->clients->nprofiles; i++) {
		creds_store_counts(pr->clients->profiles[i].creds, &l, &f);
		*loads += l;
		*failures += f;
	}
}

/*
 * A SIGHUP's new configuration, read by a worker thread so that parsing a
 * large clients file or running a slow credential helper never stalls the
 * loop (the proxy keeps serving on the running configuration meanwhile).
 * The worker touches nothing of the loop's: it fills the job and writes
 * one byte to done[1]; the loop joins it and applies or refuses the
 * result.
 */
struct reload_job {
	const struct cli	*cli;		/* borrowed */
	struct plan		*plan;		/* owned until applied */
	struct creds_store	*creds;		/* owned until applied */
	struct proxy_clients	*clients;	/* owned until applied */
	struct errbuf		 e;
	int			 rc;
	int			 done[2];	/* pipe */
	bool			 threaded;
	pthread_t		 tid;
	struct event		*ev;
};

static void *
reload_work(void *arg)
{
	struct reload_job	*j = arg;
	struct profile		*prof;
	ssize_t			 n;
	int			 prio;

	/*
	 * Serving comes first: on a busy machine the reader yields the CPU
	 * to the loop (this thread's nice value only).
	 */
	errno = 0;
	prio = getpriority(PRIO_PROCESS, (id_t)gettid());
	if (errno == 0)
		(void)setpriority(PRIO_PROCESS, (id_t)gettid(),
		    prio + 10 > 19 ? 19 : prio + 10);
	j->rc = -1;
	if (load_profile(j->cli, &prof, &j->e) == -1)
		goto done;
	j->plan = policy_plan_build(j->cli, prof, &j->e);
	profile_free(prof);
	if (j->plan == NULL)
		goto done;
	if (j->cli->clients != NULL && (j->clients = proxy_clients_load(
	    j->cli->clients, j->plan, load_client_profile, (void *)j->cli,
	    &j->e)) == NULL)
		goto done;
	if ((j->creds = load_creds(j->plan, j->cli, &j->e)) == NULL)
		goto done;
	j->rc = 0;
done:
	do
		n = write(j->done[1], "x", 1);
	while (n == -1 && errno == EINTR);
	return NULL;
}

/* Wait for the worker and free the job with what it read. */
static void
reload_job_free(struct reload_job *j)
{
	if (j == NULL)
		return;
	if (j->threaded)
		pthread_join(j->tid, NULL);
	if (j->ev != NULL)
		event_free(j->ev);
	close(j->done[0]);
	close(j->done[1]);
	proxy_clients_free(j->clients);
	creds_store_free(j->creds);
	policy_plan_free(j->plan);
	free(j);
}

/* Switch to the configuration j read: new connections get it. */
static void
reload_apply(struct proxy_run *pr, struct reload_job *j)
{
	struct errbuf		 e = { 0 };
	struct proxy		*px;
	struct proxy_gen	*g;
	uint64_t		 loads, failures;

	if (j->rc == -1) {
		errbuf_set(&e, "%s", errbuf_msg(&j->e));
		goto bad;
	}
	if ((px = proxy_server_renew(j->plan, j->clients, pr->px, &e)) ==
	    NULL)
		goto bad;
	print_warnings(&j->plan->warnings);
	proxy_server_set_creds(px, j->creds);
	g = xcalloc(1, sizeof(*g));
	g->px = pr->px;
	g->plan = pr->plan;
	g->creds = pr->creds;
	g->clients = pr->clients;
	g->pr = pr;
	LIST_INSERT_HEAD(&pr->retired, g, entry);
	proxy_run_counts(pr, &loads, &failures);
	pr->loads_before += loads;
	pr->load_failures_before += failures;
	pr->px = px;
	pr->plan = j->plan;
	pr->creds = j->creds;
	pr->clients = j->clients;
	j->plan = NULL;
	j->creds = NULL;
	j->clients = NULL;
	proxy_run_watch(pr);
	if (pr->admin != NULL)
		proxy_admin_set_proxy(pr->admin, px);
	proxy_server_retire(g->px, proxy_gen_gone, g);
	pr->reloads++;
	if (proxy_run_publish(pr, false, &e) == -1)
		log_warnx("reload: %s", errbuf_msg(&e));
	log_info("reloaded the configuration (%zu route%s%s)",
	    pr->plan->nroutes, pr->plan->nroutes == 1 ? "" : "s",
	    pr->clients != NULL ? ", clients file" : "");
	return;
bad:
	pr->reload_failures++;
	log_warnx("reload refused, the running configuration stays: %s",
	    errbuf_msg(&e));
}

static void	reload_start(struct proxy_run *);

/* The worker is done: apply its result, then start the next if asked. */
static void
on_reload_done(evutil_socket_t fd, short what, void *arg)
{
	struct proxy_run	*pr = arg;
	struct reload_job	*j = pr->job;
	char			 c;

	(void)fd;
	(void)what;
	if (read(j->done[0], &c, 1) != 1)
		return;		/* spurious: wait for the byte */
	pr->job = NULL;
	if (j->threaded) {
		pthread_join(j->tid, NULL);
		j->threaded = false;
	}
	if (pr->drain_tick == NULL)
		reload_apply(pr, j);
	reload_job_free(j);
	if (pr->reload_again && pr->drain_tick == NULL) {
		pr->reload_again = false;
		reload_start(pr);
	}
}

static void
reload_start(struct proxy_run *pr)
{
	struct reload_job	*j = xcalloc(1, sizeof(*j));
	sigset_t		 all, old;

	j->cli = pr->cli;
	j->done[0] = j->done[1] = -1;
	if (pipe2(j->done, O_CLOEXEC | O_NONBLOCK) == -1 ||
	    (j->ev = event_new(pr->base, j->done[0], EV_READ | EV_PERSIST,
	    on_reload_done, pr)) == NULL || event_add(j->ev, NULL) == -1) {
		pr->reload_failures++;
		log_warnx("reload refused, the running configuration stays: "
		    "cannot set up the reload: %s", strerror(errno));
		reload_job_free(j);
		return;
	}
	pr->job = j;
	/* Signals stay the loop's: the worker blocks them all. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	j->threaded = pthread_create(&j->tid, NULL, reload_work, j) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!j->threaded)
		reload_work(j);		/* no thread: on the loop, as before */
}

/*
 * SIGHUP (SPEC 4.10): read the profile, the clients file and the
 * credential sources again (in a worker, reload_work).  New connections
 * get the new configuration; open ones finish on the old, which is freed
 * after its last one.  An invalid configuration changes nothing and is
 * reported in one line.  A SIGHUP during a reload starts one more after
 * it, so the last signal's files are what is served.
 */
static void
on_reload_signal(evutil_socket_t sig, short what, void *arg)
{
	struct proxy_run	*pr = arg;

	(void)sig;
	(void)what;
	if (pr->drain_tick != NULL)
		return;		/* draining: nothing new will be served */
	if (pr->job != NULL) {
		pr->reload_again = true;
		return;
	}
	reload_start(pr);
}

static int
cmd_proxy(const struct cli *cli, struct errbuf *e)
{
	struct proxy_run	 pr = { 0 };
	struct event		*sigint = NULL, *sigterm = NULL, *sighup = NULL;
	struct profile		*prof;
	int			 rc = -1;

	log_set_json(cli->log_json);
	pr.cli = cli;
	LIST_INIT(&pr.retired);
	pr.drain_timeout_ms = cli->drain_timeout_ms;
	if (load_profile(cli, &prof, e) == -1)
		return -1;
	pr.plan = policy_plan_build(cli, prof, e);
	profile_free(prof);
	if (pr.plan == NULL)
		return -1;
	print_warnings(&pr.plan->warnings);
	/* A stale file would look ready before we are. */
	if (cli->env_file != NULL && !pr.plan->dry_run &&
	    unlink(cli->env_file) == -1 && errno != ENOENT) {
		errbuf_sys(e, "--env-file %s", cli->env_file);
		policy_plan_free(pr.plan);
		return -1;
	}
	if (pr.plan->dry_run) {
		print_dry_run(pr.plan, NULL);
		policy_plan_free(pr.plan);
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	if ((pr.base = main_event_base()) == NULL) {
		errbuf_set(e, "cannot create the event loop");
		goto out;
	}
	if (cli->clients != NULL && (pr.clients = proxy_clients_load(
	    cli->clients, pr.plan, load_client_profile, (void *)cli,
	    e)) == NULL)
		goto out;
	if ((pr.creds = load_creds(pr.plan, cli, e)) == NULL)
		goto out;
	if ((pr.px = proxy_server_new_clients(pr.plan, pr.clients, pr.base,
	    e)) == NULL)
		goto out;
	proxy_server_set_creds(pr.px, pr.creds);
	proxy_run_watch(&pr);
	if (cli->admin_listen != NULL) {
		if ((pr.admin = proxy_admin_new(pr.base, cli->admin_listen,
		    pr.px, e)) == NULL)
			goto out;
		proxy_admin_set_extra(pr.admin, proxy_run_metrics, &pr);
	}
	sigint = evsignal_new(pr.base, SIGINT, on_stop_signal, &pr);
	sigterm = evsignal_new(pr.base, SIGTERM, on_stop_signal, &pr);
	sighup = evsignal_new(pr.base, SIGHUP, on_reload_signal, &pr);
	if (sigint == NULL || sigterm == NULL || sighup == NULL ||
	    evsignal_add(sigint, NULL) == -1 ||
	    evsignal_add(sigterm, NULL) == -1 ||
	    evsignal_add(sighup, NULL) == -1) {
		errbuf_set(e, "cannot install signal handlers");
		goto out;
	}
	if (proxy_run_publish(&pr, true, e) == -1)
		goto out;
	event_base_dispatch(pr.base);
	while (!LIST_EMPTY(&pr.retired))
		proxy_gen_free(LIST_FIRST(&pr.retired));
	proxy_server_shutdown(pr.px);
	drain_loop(pr.base);
	if (pr.plan->report_only && !pr.plan->silent)
		report_only(proxy_server_audit(pr.px));
	rc = 0;
out:
	remove_env_file(cli->env_file, pr.env_ino);
	if (sigint != NULL)
		event_free(sigint);
	if (sigterm != NULL)
		event_free(sigterm);
	if (sighup != NULL)
		event_free(sighup);
	if (pr.drain_tick != NULL)
		event_free(pr.drain_tick);
	reload_job_free(pr.job);
	proxy_run_unwatch(&pr);
	proxy_admin_free(pr.admin);
	/* Retired configurations borrow the newest one's audit log. */
	while (!LIST_EMPTY(&pr.retired))
		proxy_gen_free(LIST_FIRST(&pr.retired));
	proxy_server_free(pr.px);
	proxy_clients_free(pr.clients);
	creds_store_free(pr.creds);
	if (pr.base != NULL) {
		drain_loop(pr.base);
		event_base_free(pr.base);
	}
	policy_plan_free(pr.plan);
	return rc;
}

static const char *
mode_name(enum net_mode m)
{
	switch (m) {
	case NET_BLOCKED:
		return "blocked";
	case NET_PROXY:
		return "proxy";
	default:
		return "allowed";
	}
}

static const char *
access_name(enum fs_access a)
{
	return a == FS_READ ? "r" : a == FS_WRITE ? "w" : "rw";
}

/* --dry-run: what would happen, never a value of a variable. */
static void
print_dry_run(const struct plan *plan, char *const argv[])
{
	size_t	i;

	printf("keyhole: dry run\nnetwork: %s\n", mode_name(plan->mode));
	for (i = 0; i < plan->ngrants; i++)
		printf("grant %-2s %s%s%s\n",
		    access_name(plan->grants[i].access), plan->grants[i].path,
		    plan->grants[i].is_file ? " (file)" : "",
		    plan->grants[i].create ? " (created if missing)" : "");
	if (plan->mode != NET_PROXY)
		goto command;	/* no proxy: its plan would mislead */
	for (i = 0; i < plan->allow.n; i++) {
		const struct allow_entry *a = &plan->allow.v[i];
		bool v6 = strchr(a->host, ':') != NULL;

		printf("allow %s%s%s%s", a->kind == ALLOW_SUFFIX ? "*." : "",
		    v6 && a->port ? "[" : "", a->host, v6 && a->port ? "]" :
		    "");
		if (a->port != 0)
			printf(":%u", a->port);
		if (a->direct)
			printf(" (direct grant)");
		else if (strcmp(a->source, a->host) != 0)
			printf(" (from %s)", a->source);
		printf("\n");
	}
	for (i = 0; i < plan->nroutes; i++)
		printf("route %s -> %s (sets %s, %s)\n",
		    plan->routes[i]->def->name, plan->routes[i]->def->upstream,
		    plan->routes[i]->base_url_var,
		    plan->routes[i]->phantom_var);
	if (plan->mode == NET_PROXY)
		printf("sets HTTP_PROXY HTTPS_PROXY http_proxy https_proxy "
		    "NO_PROXY no_proxy NODE_USE_ENV_PROXY KEYHOLE_PROXY_TOKEN\n");
	for (i = 0; i < plan->upstream_bypass.n; i++)
		printf("upstream bypass %s\n", plan->upstream_bypass.v[i]);
	if (plan->upstream_proxy != NULL)
		printf("upstream proxy %s\n", plan->upstream_proxy);
command:
	if (argv == NULL)
		return;
	printf("command:");
	for (i = 0; argv[i] != NULL; i++)
		printf(" %s", argv[i]);
	printf("\n");
}

static void
print_banner(const struct plan *plan, const struct proxy *px)
{
	if (plan->silent)
		return;
	if (px != NULL && plan->report_only)
		fprintf(stderr, "keyhole: sandbox: %zu grants, network proxy "
		    "127.0.0.1:%u, report-only: %zu allow-list entr%s, the "
		    "rest is allowed and reported, %zu credential route%s\n",
		    plan->ngrants, proxy_server_port(px), plan->allow.n,
		    plan->allow.n == 1 ? "y" : "ies", plan->nroutes,
		    plan->nroutes == 1 ? "" : "s");
	else if (px != NULL && plan->allow.n == 0)
		fprintf(stderr, "keyhole: sandbox: %zu grants, network proxy "
		    "127.0.0.1:%u, any host (no allow-list), %zu credential "
		    "route%s\n", plan->ngrants, proxy_server_port(px),
		    plan->nroutes, plan->nroutes == 1 ? "" : "s");
	else if (px != NULL)
		fprintf(stderr, "keyhole: sandbox: %zu grants, network proxy "
		    "127.0.0.1:%u, %zu allow-list entr%s, %zu credential "
		    "route%s\n", plan->ngrants, proxy_server_port(px),
		    plan->allow.n, plan->allow.n == 1 ? "y" : "ies",
		    plan->nroutes, plan->nroutes == 1 ? "" : "s");
	else
		fprintf(stderr, "keyhole: sandbox: %zu grants, network %s\n",
		    plan->ngrants, mode_name(plan->mode));
	if (plan->verbose > 0) {
		size_t i;

		for (i = 0; i < plan->ngrants; i++)
			fprintf(stderr, "keyhole:   %-2s %s\n",
			    access_name(plan->grants[i].access),
			    plan->grants[i].path);
	}
}

/*
 * One line for the credential variables the child does not get (SPEC §6),
 * naming the --credential that would route each; -v: dangerous ones too.
 */
static void
report_env(const struct env_report *rep)
{
	struct strv	 routes = { 0 };
	const char	*svc;
	char		*names, *flags;
	size_t		 i;

	if (rep->dangerous.n > 0) {
		names = strv_join(&rep->dangerous, ", ");
		log_info("removed from the sandbox's environment (they make "
		    "programs load code): %s", names);
		free(names);
	}
	if (rep->credentials.n == 0)
		return;
	for (i = 0; i < rep->credentials.n; i++)
		if ((svc = policy_route_service_for_var(
		    rep->credentials.v[i])) != NULL) {
			flags = xasprintf("--credential %s", svc);
			strv_push_unique(&routes, flags);
			free(flags);
		}
	names = strv_join(&rep->credentials, ", ");
	flags = strv_join(&routes, " ");
	log_warnx("removed credential variable%s %s from the sandbox's "
	    "environment; %s%s--allow-env NAME keeps one",
	    rep->credentials.n == 1 ? "" : "s", names, flags,
	    routes.n == 0 ? "" : rep->credentials.n == 1 ?
	    " routes it through the proxy with a stand-in key, " :
	    " routes them through the proxy with stand-in keys, ");
	free(names);
	free(flags);
	strv_free(&routes);
}

/* The private temporary directory's variables (SPEC §7). */
static void
tmpdir_vars(struct strv *kvars, const char *dir)
{
	static const char *const names[] = { "TMPDIR", "TMP", "TEMP",
	    "TEMPDIR" };
	size_t	i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		strv_push_owned(kvars, xasprintf("%s=%s", names[i], dir));
}

/* Remove (or, with --keep-tmp, keep and show) the temporary directory. */
static void
tmpdir_done(const struct cli *cli, char *dir)
{
	struct errbuf	e = { 0 };

	if (dir == NULL)
		return;
	if (cli->keep_tmp)
		fprintf(stderr, "keyhole: kept the temporary directory %s\n",
		    dir);
	else if (sandbox_tmpdir_remove(dir, &e) == -1)
		log_warnx("temporary directory %s: %s", dir, errbuf_msg(&e));
	free(dir);
}

static bool
env_is_secret(const char *value, size_t len, void *arg)
{
	return creds_store_matches_value(arg, value, len);
}

/*
 * After a run: the one-line summary of its denials, then the
 * <sandbox_violations> block agent harnesses read (SPEC §4.8, §4.11).
 */
static void
report_denials(const struct audit *a)
{
	struct strbuf	b = { 0 };
	unsigned long	n;

	if (a == NULL || (n = proxy_audit_denials(a)) == 0)
		return;
	fprintf(stderr, "keyhole: %lu request%s denied by the sandbox's "
	    "policy during this run\n", n, n == 1 ? " was" : "s were");
	proxy_audit_violations(a, false, &b);
	fputs(strbuf_str(&b), stderr);
	strbuf_free(&b);
}

/* After a --report-only run: the allow-list it would have needed. */
static void
report_only(const struct audit *a)
{
	struct strbuf	b = { 0 };

	proxy_audit_report_only(a, &b);
	fputs(strbuf_str(&b), stderr);
	strbuf_free(&b);
}

/*
 * The event loop, blind to libevent's EVENT_* environment variables
 * (EVENT_NOEPOLL, EVENT_SHOW_METHOD ...): the user's environment does
 * not pick keyhole's back end, and the 16 getuid/geteuid/getgid/getegid
 * calls libevent makes to decide whether to read them are saved at every
 * start.
 */
static struct event_base *
main_event_base(void)
{
	struct event_config	*cfg;
	struct event_base	*base;

	if ((cfg = event_config_new()) == NULL)
		return NULL;
	(void)event_config_set_flag(cfg, EVENT_BASE_FLAG_IGNORE_ENV);
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	return base;
}

/* keyhole run / shell: the main job (SPEC §1, §2). */
static int
run_sandboxed(const struct cli *cli, char *const argv[], struct errbuf *e)
{
	struct profile		*prof;
	struct plan		*plan;
	struct creds_store	*creds = NULL;
	struct event_base	*base = NULL;
	struct proxy		*px = NULL;
	struct mediator		*med = NULL;
	struct strv		 kvars = { 0 }, warnings = { 0 }, drop = { 0 };
	struct strv		 envp = { 0 };
	struct env_report	 rep = { 0 };
	char			*tmpdir = NULL;
	int			 rc = -1;

	if (load_profile(cli, &prof, e) == -1)
		return -1;
	plan = policy_plan_build(cli, prof, e);
	profile_free(prof);
	if (plan == NULL)
		return -1;
	if (policy_plan_check_listen(plan, e) == -1) {
		fprintf(stderr, "keyhole: %s\n", errbuf_msg(e));
		policy_plan_free(plan);
		return EXIT_USAGE;
	}
	if (!plan->silent)
		print_warnings(&plan->warnings);
	if (plan->dry_run) {
		print_dry_run(plan, argv);
		policy_plan_free(plan);
		return 0;
	}
	if ((creds = load_creds(plan, cli, e)) == NULL)
		goto out;
	if ((base = main_event_base()) == NULL) {
		errbuf_set(e, "cannot create the event loop");
		goto out;
	}
	if (plan->mode == NET_PROXY) {
		if ((px = proxy_server_new(plan, base, e)) == NULL)
			goto out;
		proxy_server_set_creds(px, creds);
		proxy_server_env(px, &kvars, &warnings);
		if (!plan->silent)
			print_warnings(&warnings);
	}
	if ((tmpdir = sandbox_tmpdir_create(getenv("TMPDIR"), e)) == NULL)
		goto out;
	policy_grants_add_tmpdir(plan, tmpdir);
	if (px != NULL && proxy_server_ca_dir(px) != NULL)
		policy_grants_add_read(plan, proxy_server_ca_dir(px));
	tmpdir_vars(&kvars, tmpdir);
	/* Agent state files and tool caches the profile's groups create. */
	policy_grants_create(plan);
	if (sandbox_agents_prepare(plan, tmpdir, getenv("HOME"), &kvars,
	    e) == -1)
		goto out;
	creds_store_env_names(creds, &drop);
	sandbox_env_build_report(plan, environ, &drop, env_is_secret, creds,
	    &kvars, &envp, &rep);
	report_env(&rep);
	/* The real keys leave our own /proc/PID/environ too (SPEC 5). */
	sandbox_env_wipe_original(environ_at_start, &drop);
	/* The mediator, where the kernel can run it (SPEC §3, §3.2). */
	if (sandbox_seccomp_notify_available(NULL) &&
	    (med = sandbox_mediator_new(plan, base, px, px != NULL ?
	    proxy_server_port(px) : plan->proxy_port, e)) == NULL) {
		errbuf_wrap(e, "connect mediator");
		goto out;
	}
	plan->dns_trap = sandbox_mediator_dns(med);
	print_banner(plan, px);
	rc = sandbox_supervise_run_mediated(plan, base, px,
	    med != NULL ? sandbox_mediator_start : NULL, med, argv, envp.v, e);
	/* Its thread's last audit records, before the summary reads them. */
	sandbox_mediator_stop(med);
	if (rc >= 0 && !plan->silent)
		report_denials(px != NULL ? proxy_server_audit(px) : med != NULL ?
		    sandbox_mediator_audit_log(med) : NULL);
	if (rc >= 0 && !plan->silent && plan->report_only && px != NULL)
		report_only(proxy_server_audit(px));
	sandbox_mediator_free(med);
	med = NULL;
	if (rc == SUPERVISE_CANNOT_EXEC || rc == SUPERVISE_NOT_FOUND)
		errbuf_clear(e);
out:
	sandbox_mediator_free(med);
	tmpdir_done(cli, tmpdir);
	sandbox_env_report_free(&rep);
	sandbox_env_free(&envp);
	sandbox_env_free(&kvars);
	strv_free(&warnings);
	strv_free(&drop);
	if (px != NULL) {
		proxy_server_shutdown(px);
		drain_loop(base);
	}
	proxy_server_free(px);
	creds_store_free(creds);
	if (base != NULL) {
		drain_loop(base);
		event_base_free(base);
	}
	policy_plan_free(plan);
	return rc;
}

static int
cmd_shell(const struct cli *cli, struct errbuf *e)
{
	const char	*sh = cli->shell;
	char		*argv[4];

	if (sh == NULL && (sh = getenv("SHELL")) != NULL && sh[0] == '\0')
		sh = NULL;
	if (sh == NULL)
		sh = "/bin/sh";
	argv[0] = (char *)sh;
	argv[1] = cli->shell_command != NULL ? "-c" : NULL;
	argv[2] = cli->shell_command;
	argv[3] = NULL;
	return run_sandboxed(cli, argv, e);
}

static int
cmd_why(const struct cli *cli, struct errbuf *e)
{
	struct profile		*prof;
	struct plan		*plan;
	struct why_answer	 a;
	char			*json;
	int			 rc;

	if (load_profile(cli, &prof, e) == -1)
		return -1;
	plan = policy_plan_build(cli, prof, e);
	profile_free(prof);
	if (plan == NULL)
		return -1;
	if (cli->why_path != NULL)
		rc = policy_why_path(plan, cli->why_path, cli->why_op ?
		    cli->why_op : "read", &a, e);
	else
		rc = policy_why_host(plan, cli->why_host, &a, e);
	policy_plan_free(plan);
	if (rc == -1)
		return -1;
	if (cli->json) {
		json = policy_why_json(&a);
		printf("%s\n", json);
		free(json);
	} else {
		printf("%s\n  Reason: %s\n  Details: %s\n", a.allowed ?
		    "ALLOWED" : "DENIED", a.reason, a.details);
		if (a.granted_by != NULL)
			printf("  %s: %s\n", a.allowed ? "Granted by" :
			    "Closest match", a.granted_by);
		if (a.source != NULL)
			printf("  Source: %s\n", a.source);
		if (a.suggestion != NULL)
			printf("  Suggested fix: %s\n", a.suggestion);
		if (a.profile != NULL)
			printf("  In a profile: %s\n", a.profile);
		if (a.group != NULL)
			printf("  Or its network-policy group: --allow-domain "
			    "%s (allows every host of the group)\n", a.group);
	}
	policy_why_free(&a);
	return 0;
}

static int
cmd_profile(const struct cli *cli, struct errbuf *e)
{
	struct strv	 builtin = { 0 }, user = { 0 };
	struct profile	*p;
	char		*s;
	size_t		 i;

	switch (cli->profile_sub) {
	case CLI_PROFILE_LIST:
		if (profile_list(NULL, &builtin, &user, e) == -1)
			return -1;
		for (i = 0; i < builtin.n; i++)
			printf("%s%s\n", builtin.v[i],
			    strv_contains(&user, builtin.v[i]) ?
			    " (built-in, shadowed by a user profile)" :
			    " (built-in)");
		for (i = 0; i < user.n; i++)
			if (!strv_contains(&builtin, user.v[i]))
				printf("%s (user)\n", user.v[i]);
		strv_free(&builtin);
		strv_free(&user);
		return 0;
	case CLI_PROFILE_SHOW:
		if ((p = profile_load(cli->profile_arg, NULL, e)) == NULL)
			return -1;
		s = cli->json ? profile_show_json(p) : profile_show_text(p);
		printf("%s\n", s);
		free(s);
		profile_free(p);
		return 0;
	case CLI_PROFILE_VALIDATE:
		if ((p = profile_load(cli->profile_arg, NULL, e)) == NULL)
			return -1;
		printf("%s: valid\n", cli->profile_arg);
		profile_free(p);
		return 0;
	case CLI_PROFILE_SCHEMA:
		fwrite(data_profile_schema_json, 1, data_profile_schema_json_len,
		    stdout);
		return 0;
	default:
		errbuf_set(e, "profile needs list, show NAME or validate FILE");
		return -1;
	}
}

/*
 * Connections cost descriptors (a tunnel: two sockets and two pipes):
 * use the whole hard limit, not the 1024 soft default.
 */
static void
raise_nofile(void)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int
main(int argc, char **argv)
{
	struct cli	cli = { 0 };
	struct errbuf	e = { 0 };
	int		rc;

	environ_at_start = environ;
	proxy_evmem_init();	/* before anything allocates through libevent */
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
		version_print(stdout, cli.verbose > 0);
		rc = 0;
		break;
	case CLI_PROXY:
		raise_nofile();
		rc = cmd_proxy(&cli, &e);
		break;
	case CLI_RUN:
		rc = run_sandboxed(&cli, cli.argv.v, &e);
		break;
	case CLI_SHELL:
		rc = cmd_shell(&cli, &e);
		break;
	case CLI_WHY:
		rc = cmd_why(&cli, &e);
		break;
	case CLI_PROFILE:
		rc = cmd_profile(&cli, &e);
		break;
	default:
		errbuf_set(&e, "unknown command");
		rc = -1;
		break;
	}
	if (rc == -1) {
		if (log_json)
			log_json_line("error", errbuf_msg(&e), NULL);
		else
			fprintf(stderr, "keyhole: %s\n", errbuf_msg(&e));
		rc = EXIT_KEYHOLE;
	}
	cli_free(&cli);
	return rc;
}
