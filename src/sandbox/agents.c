/*
 * Agents that need keyhole's help to work inside it (issue 15): Codex
 * ignores OPENAI_BASE_URL and would start its own sandbox, which cannot
 * run inside ours.
 */
#include "sandbox/agents.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy/plan.h"
#include "policy/route.h"
#include "util/log.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

/* Largest user config.toml carried into the overlay. */
#define AGENTS_CONFIG_MAX	(1024 * 1024)

/* The value of NAME in a "NAME=value" list, or NULL. */
static const char *
agents_var(const struct strv *vars, const char *name)
{
	size_t	i, n = strlen(name);

	for (i = 0; i < vars->n; i++)
		if (strncmp(vars->v[i], name, n) == 0 && vars->v[i][n] == '=')
			return vars->v[i] + n + 1;
	return NULL;
}

/* Is line (len bytes) a top-level "key = ..." for one of ours? */
static bool
agents_codex_ours(const char *line, size_t len)
{
	static const char *const keys[] = { "openai_base_url",
	    "sandbox_mode" };
	size_t	i, k, j;

	while (len > 0 && (*line == ' ' || *line == '\t')) {
		line++;
		len--;
	}
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		k = strlen(keys[i]);
		if (len <= k || strncmp(line, keys[i], k) != 0)
			continue;
		for (j = k; j < len && (line[j] == ' ' || line[j] == '\t'); j++)
			;
		if (j < len && line[j] == '=')
			return true;
	}
	return false;
}

/*
 * Append the user's config.toml (path) to b, commenting out top-level
 * settings of the keys keyhole sets (TOML refuses a key set twice).
 */
static int
agents_codex_user_config(struct strbuf *b, const char *path,
    struct errbuf *e)
{
	char		*text, *line, *nl;
	struct stat	 st;
	ssize_t		 n;
	size_t		 got = 0, len;
	bool		 top = true;
	int		 fd;

	/*
	 * Never through a link: the sandboxed program can write this
	 * directory, and a link planted there would have us copy a file it
	 * cannot read (~/.ssh/...) into the overlay it can.
	 */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		if (errno == ENOENT)
			return 0;
		if (errno == ELOOP) {
			log_warnx("codex: %s is a symbolic link; not carried "
			    "into this run's configuration", path);
			return 0;
		}
		errbuf_sys(e, "%s", path);
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > AGENTS_CONFIG_MAX) {
		errbuf_set(e, "%s: not a regular file of at most %d bytes",
		    path, AGENTS_CONFIG_MAX);
		close(fd);
		return -1;
	}
	text = xmalloc((size_t)st.st_size + 1);
	while (got < (size_t)st.st_size) {
		n = read(fd, text + got, (size_t)st.st_size - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	text[got] = '\0';
	strbuf_append(b, "\n# Your ");
	strbuf_append(b, path);
	strbuf_append(b, ":\n");
	for (line = text; *line != '\0'; line = nl) {
		nl = strchr(line, '\n');
		nl = nl != NULL ? nl + 1 : line + strlen(line);
		len = (size_t)(nl - line);
		if (line[strspn(line, " \t")] == '[')
			top = false;
		if (top && agents_codex_ours(line, len))
			strbuf_append(b, "# (set by keyhole above) ");
		strbuf_appendn(b, line, len);
	}
	if (got > 0 && text[got - 1] != '\n')
		strbuf_append(b, "\n");
	free(text);
	return 0;
}

/* Link every entry of real (but config.toml) into overlay. */
static int
agents_link_entries(const char *real, const char *overlay, struct errbuf *e)
{
	DIR		*d;
	struct dirent	*de;
	char		*from, *to;
	int		 rc = 0;

	if ((d = opendir(real)) == NULL) {
		if (errno == ENOENT)
			return 0;
		errbuf_sys(e, "%s", real);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0 ||
		    strcmp(de->d_name, "config.toml") == 0)
			continue;
		from = xasprintf("%s/%s", real, de->d_name);
		to = xasprintf("%s/%s", overlay, de->d_name);
		if (symlink(from, to) == -1) {
			errbuf_sys(e, "cannot link %s", to);
			rc = -1;
		}
		free(from);
		free(to);
		if (rc == -1)
			break;
	}
	closedir(d);
	return rc;
}

static int
agents_codex(const struct plan *p, const char *tmpdir, const char *home,
    struct strv *kvars, struct errbuf *e)
{
	const struct route	*r;
	const char		*url = NULL, *env_home;
	struct strbuf		 b = { 0 };
	char			*real, *overlay, *cfg, *sub;
	size_t			 i;
	int			 fd, rc = -1;

	env_home = getenv("CODEX_HOME");
	real = env_home != NULL && env_home[0] == '/' ? xstrdup(env_home) :
	    xasprintf("%s/.codex", home);
	overlay = xasprintf("%s/codex-home", tmpdir);
	cfg = xasprintf("%s/config.toml", overlay);
	if ((r = policy_plan_route(p, "openai")) != NULL)
		url = agents_var(kvars, r->base_url_var);
	/* What Codex creates on its first run should outlive the overlay. */
	for (i = 0; i < 2; i++) {
		sub = xasprintf("%s/%s", real, i == 0 ? "sessions" : "log");
		(void)mkdir(sub, 0700);
		free(sub);
	}
	if (mkdir(overlay, 0700) == -1) {
		errbuf_sys(e, "%s", overlay);
		goto out;
	}
	if (agents_link_entries(real, overlay, e) == -1)
		goto out;
	strbuf_append(&b, "# Written by keyhole for this run (profile group "
	    "codex_keyhole).\n");
	if (url != NULL)
		strbuf_appendf(&b, "# Codex ignores OPENAI_BASE_URL: the "
		    "openai route.\nopenai_base_url = \"%s\"\n", url);
	strbuf_append(&b, "# keyhole is the sandbox; Codex's own cannot run "
	    "inside it.\nsandbox_mode = \"danger-full-access\"\n");
	sub = xasprintf("%s/config.toml", real);
	i = (size_t)agents_codex_user_config(&b, sub, e);
	free(sub);
	if (i != 0)
		goto out;
	fd = open(cfg, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1 || write(fd, strbuf_str(&b), b.len) != (ssize_t)b.len) {
		errbuf_sys(e, "%s", cfg);
		if (fd != -1)
			close(fd);
		goto out;
	}
	close(fd);
	strv_push_owned(kvars, xasprintf("CODEX_HOME=%s", overlay));
	log_info("codex: CODEX_HOME=%s (an overlay of %s)%s", overlay, real,
	    url != NULL ? ", with the openai route as openai_base_url" : "");
	rc = 0;
out:
	strbuf_free(&b);
	free(real);
	free(overlay);
	free(cfg);
	return rc;
}

int
sandbox_agents_prepare(const struct plan *p, const char *tmpdir,
    const char *home, struct strv *kvars, struct errbuf *e)
{
	if (strv_contains(&p->agents, "codex") && home != NULL &&
	    agents_codex(p, tmpdir, home, kvars, e) == -1) {
		errbuf_wrap(e, "setting up codex");
		return -1;
	}
	return 0;
}
