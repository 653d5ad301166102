/*
 * Filesystem grants (SPEC §7).  Sources, in order: the policy groups of
 * the profile (system read-only paths, /tmp, devices), the profile's own
 * filesystem and policy lists, the command line, the working directory.
 * Every path is canonicalised here, once, so Landlock and "why" see the
 * same thing.
 */
#include "policy/grants.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "policy/plan.h"
#include "policy/route.h"
#include "profile/profile.h"
#include "util/hash.h"
#include "util/path.h"
#include "util/log.h"
#include "util/xmalloc.h"

enum want {
	WANT_DIR,
	WANT_FILE,
	WANT_ANY,	/* group paths: whatever exists */
};

bool
policy_grants_path_within(const char *path, const char *root)
{
	size_t	n = strlen(root);

	while (n > 1 && root[n - 1] == '/')
		n--;
	if (n == 1 && root[0] == '/')
		return path[0] == '/';
	return strncmp(path, root, n) == 0 &&
	    (path[n] == '\0' || path[n] == '/');
}

/*
 * The grants by path and kind while the plan is built (plan.h): a
 * hash_index of the grants array, which grows by doubling meanwhile.
 */
struct grants_index {
	struct hash_index	 x;
	size_t			 room;	/* grants the array has room for */
};

struct grants_key {
	const char	*path;
	bool		 is_file;
};

static uint32_t
grants_hash(const char *path, bool is_file)
{
	return hash_str_fast(path) ^ (is_file ? 0x9e3779b9u : 0);
}

static bool
grants_match(size_t pos, const void *key, const void *arg)
{
	const struct plan	*p = arg;
	const struct fs_grant	*g = &p->grants[pos];
	const struct grants_key	*k = key;

	return g->is_file == k->is_file && strcmp(g->path, k->path) == 0;
}

static uint32_t
grants_hash_at(size_t pos, const void *arg)
{
	const struct plan	*p = arg;
	const struct fs_grant	*g = &p->grants[pos];

	return grants_hash(g->path, g->is_file);
}

/* Index p's grants until grants_index_end. */
static void
grants_index_begin(struct plan *p)
{
	struct grants_index	*x;
	struct grants_key	 k;
	size_t			 i, slot;

	x = xcalloc(1, sizeof(*x));
	hash_index_init(&x->x, p->ngrants < 128 ? 128 : p->ngrants);
	x->room = p->ngrants;
	p->grants_index = x;
	for (i = 0; i < p->ngrants; i++) {
		k.path = p->grants[i].path;
		k.is_file = p->grants[i].is_file;
		slot = hash_index_slot(&x->x, grants_hash(k.path, k.is_file),
		    grants_match, &k, p);
		hash_index_put(&x->x, slot, i, grants_hash_at, p);
	}
}

static void
grants_index_end(struct plan *p)
{
	if (p->grants_index == NULL)
		return;
	hash_index_free(&p->grants_index->x);
	free(p->grants_index);
	p->grants_index = NULL;
}

/*
 * The grant of path and kind, or NULL; *slot: where a new one goes in
 * the index (unused without one).
 */
static struct fs_grant *
grants_find(struct plan *p, const char *path, bool is_file, size_t *slot)
{
	struct grants_key	k = { path, is_file };
	size_t			i;

	if (p->grants_index != NULL) {
		*slot = hash_index_slot(&p->grants_index->x,
		    grants_hash(path, is_file), grants_match, &k, p);
		return hash_index_at(&p->grants_index->x, *slot, &i) ?
		    &p->grants[i] : NULL;
	}
	for (i = 0; i < p->ngrants; i++)
		if (grants_match(i, &k, p))
			return &p->grants[i];
	return NULL;
}

/* Room for one more grant at the end of the array. */
static void
grants_reserve(struct plan *p)
{
	struct grants_index	*x = p->grants_index;

	if (x == NULL) {
		p->grants = xreallocarray(p->grants, p->ngrants + 1,
		    sizeof(*p->grants));
		return;
	}
	if (p->ngrants == x->room) {
		x->room = x->room < 32 ? 64 : 2 * x->room;
		p->grants = xreallocarray(p->grants, x->room,
		    sizeof(*p->grants));
	}
}

/* Index the grant just filled in at the end (slot: grants_find's). */
static void
grants_index_last(struct plan *p, size_t slot)
{
	if (p->grants_index != NULL)
		hash_index_put(&p->grants_index->x, slot, p->ngrants - 1,
		    grants_hash_at, p);
}

/*
 * Add a grant, or widen the one of the same path and kind.  fd (owned by
 * the plan from here on, -1 for none) and mode: what path named when it
 * was resolved (fs_grant.fd).  group: NULL or a built-in group's name,
 * kept as it is (static data).
 */
static struct fs_grant *
grants_add_fd(struct plan *p, const char *path, enum fs_access access,
    bool is_file, enum fs_source src, const char *group, int fd, mode_t mode,
    char **take)
{
	struct fs_grant	*g;
	size_t		 slot = 0;

	/* Same path and kind: widen the access (read + write = both). */
	if ((g = grants_find(p, path, is_file, &slot)) != NULL) {
		g->access |= access;
		if (src < g->source)
			g->source = src;
		if (!g->has_fd && fd != -1) {
			g->has_fd = true;
			g->fd = fd;
			g->mode = mode;
		} else if (fd != -1)
			(void)close(fd);
		return g;
	}
	grants_reserve(p);
	g = &p->grants[p->ngrants++];
	/* A caller's copy of the same text becomes the grant's. */
	if (take != NULL && *take != NULL && strcmp(*take, path) == 0) {
		g->path = *take;
		*take = NULL;
	} else
		g->path = xstrdup(path);
	g->access = access;
	g->is_file = is_file;
	g->create = false;
	g->source = src;
	g->group = group;
	g->has_fd = fd != -1;
	g->fd = fd;
	g->mode = mode;
	g->own_rule = false;
	grants_index_last(p, slot);
	return g;
}

static struct fs_grant *
grants_add(struct plan *p, const char *path, enum fs_access access,
    bool is_file, enum fs_source src, const char *group)
{
	return grants_add_fd(p, path, access, is_file, src, group, -1, 0, NULL);
}

/*
 * Missing path is one a group creates before the run (fs_grant.create):
 * widen that grant by access and say true.
 */
static bool
grants_widen_created(struct plan *p, const char *path, enum fs_access access)
{
	size_t	i;

	for (i = 0; i < p->ngrants; i++)
		if (p->grants[i].create && strcmp(p->grants[i].path, path) == 0) {
			p->grants[i].access |= access;
			return true;
		}
	return false;
}

/*
 * Canonicalise one path and add it.  Missing: skipped (a warning unless
 * quiet).  A file where a directory is wanted, or the reverse, is an error.
 * take: NULL, or the caller's allocated copy of path, which a new grant
 * of that very text takes (*take set to NULL) rather than copy it.
 */
static int
grants_add_path(struct plan *p, const char *path, enum want want,
    enum fs_access access, enum fs_source src, const char *group,
    bool quiet, char **take, struct errbuf *e)
{
	char		 real[PATH_MAX];
	struct stat	 st;
	int		 fd;

	if (path_real_fd(path, real, &st, &fd) == NULL) {
		if (errno != ENOENT && errno != ENOTDIR) {
			errbuf_sys(e, "%s", path);
			return -1;
		}
		/* A group creates it before the run: no warning. */
		if (!grants_widen_created(p, path, access) && !quiet)
			strv_push_owned(&p->warnings, xasprintf("skipping "
			    "missing path %s", path));
		return 0;
	}
	if (want == WANT_DIR && !S_ISDIR(st.st_mode)) {
		errbuf_set(e, "%s is a file: use a --*-file option for it",
		    path);
		goto fail;
	}
	if (want == WANT_FILE && S_ISDIR(st.st_mode)) {
		errbuf_set(e, "%s is a directory: use --allow, --read or "
		    "--write for it", path);
		goto fail;
	}
	grants_add_fd(p, real, access, !S_ISDIR(st.st_mode), src, group, fd,
	    st.st_mode, take);
	return 0;
fail:
	if (fd != -1)
		(void)close(fd);
	return -1;
}

/*
 * /proc/self resolves to the supervisor's pid here, not the child's; the
 * child and its descendants get /proc read-only instead (as nono head).
 * Other processes' secrets stay out of reach: the supervisor is not
 * dumpable and the child has no capabilities.
 */
static bool
grants_is_proc_self(const char *path)
{
	return strncmp(path, "/proc/self", 10) == 0 ||
	    strncmp(path, "/proc/thread-self", 17) == 0;
}

/* Mark the grant of path (just added or widened) for creation. */
static void
grants_mark_create(struct plan *p, const char *path)
{
	size_t	i;

	for (i = 0; i < p->ngrants; i++)
		if (strcmp(p->grants[i].path, path) == 0)
			p->grants[i].create = true;
}

/*
 * A group grant keyhole creates when missing (SPEC §7): when g->path does
 * not exist but an ancestor does, grant the canonical ancestor plus the
 * missing components (they cannot be links: they do not exist) and mark
 * it for policy_grants_create().  False: it exists (or nothing of it
 * does), add it the ordinary way.
 */
static bool
grants_add_creatable(struct plan *p, const struct profile_grant *g)
{
	char		 real[PATH_MAX], *anc, *slash, *path;
	struct stat	 st;
	bool		 ok = false;

	if (g->path[0] != '/' || !path_is_clean(g->path) ||
	    path_real(g->path, real, NULL) != NULL || errno != ENOENT)
		return false;
	anc = xstrdup(g->path);
	while ((slash = strrchr(anc, '/')) != NULL && slash != anc) {
		*slash = '\0';
		if (path_real(anc, real, &st) == NULL)
			continue;
		if (S_ISDIR(st.st_mode)) {
			path = xasprintf("%s%s", strcmp(real, "/") == 0 ? "" :
			    real, g->path + strlen(anc));
			grants_add(p, path, g->access, g->create ==
			    PROFILE_CREATE_FILE, FS_SRC_GROUP, g->group);
			grants_mark_create(p, path);
			free(path);
			ok = true;
		}
		break;
	}
	free(anc);
	return ok;
}

static bool
grants_fold_match(size_t pos, const void *key, const void *arg)
{
	const struct profile_group_paths	*gp = arg;
	const struct profile_grant		*a = &gp->grants[pos], *b = key;

	return a->create == b->create && strcmp(a->path, b->path) == 0;
}

static uint32_t
grants_fold_hash(const struct profile_grant *g)
{
	return hash_str_fast(g->path) ^ (uint32_t)g->create;
}

static uint32_t
grants_fold_hash_at(size_t pos, const void *arg)
{
	const struct profile_group_paths	*gp = arg;

	return grants_fold_hash(&gp->grants[pos]);
}

/*
 * Groups share paths (/tmp, /dev/null and the other devices are in two
 * groups each with the default profile): fold each repeat's access into
 * the first of its path, so that a path is resolved once (open, stat,
 * close, and a readlink for a symlink: ~12 paths, each run).  The result
 * is the plan the repeats gave, which widened the first grant the same
 * way.  skip[i]: entry i was folded into an earlier one.
 */
static void
grants_fold_repeats(struct profile_group_paths *gp, bool *skip)
{
	struct hash_index	 x;
	struct profile_grant	*g;
	size_t			 i, slot, first;

	hash_index_init(&x, gp->ngrants);
	for (i = 0; i < gp->ngrants; i++) {
		g = &gp->grants[i];
		slot = hash_index_slot(&x, grants_fold_hash(g),
		    grants_fold_match, g, gp);
		skip[i] = hash_index_at(&x, slot, &first);
		if (skip[i])
			gp->grants[first].access |= g->access;
		else
			hash_index_put(&x, slot, i, grants_fold_hash_at, gp);
	}
	hash_index_free(&x);
}

/*
 * The grants of the profile's effective groups; prof NULL: the default
 * profile's (profile_default_groups: the built-in's parse nothing).
 */
static int
grants_groups(struct plan *p, const struct profile *prof,
    const struct profile_env *env, struct errbuf *e)
{
	struct strv			 groups = { 0 };
	struct profile_group_paths	 gp = { 0 };
	struct strv_set			 deny = { 0 };
	char				 real[PATH_MAX];
	bool				 proc = false, *skip = NULL, resolved;
	size_t				 i;
	int				 rc = -1;

	if ((prof != NULL ? profile_effective_groups(prof, &groups, e) :
	    profile_default_groups(env, &groups, e)) == -1)
		goto out;
	gp.no_commands = true;	/* nothing here enforces them */
	if (profile_groups_expand(&groups, env, &gp, e) == -1)
		goto out;
	skip = xreallocarray(NULL, gp.ngrants + 1, sizeof(*skip));
	grants_fold_repeats(&gp, skip);
	for (i = 0; i < groups.n; i++) {
		const struct profile_group *pg =
		    profile_builtin_group(groups.v[i]);

		if (pg != NULL && pg->agent != NULL)
			strv_push_unique(&p->agents, pg->agent);
	}
	for (i = 0; i < gp.ngrants; i++) {
		const struct profile_grant *g = &gp.grants[i];

		if (skip[i])
			continue;
		if (grants_is_proc_self(g->path)) {
			proc = true;
			continue;
		}
		if (g->create != PROFILE_CREATE_NONE &&
		    grants_add_creatable(p, g))
			continue;
		if (grants_add_path(p, g->path, WANT_ANY, g->access,
		    FS_SRC_GROUP, g->group, true, &gp.grants[i].path, e) == -1)
			goto out;
	}
	if (proc)
		grants_add(p, "/proc", FS_READ, false, FS_SRC_SYSTEM, NULL);
	strv_set_init(&deny, &p->deny_paths, 2 * gp.deny_access.n);
	for (i = 0; i < gp.deny_access.n; i++) {
		resolved = path_real(gp.deny_access.v[i], real, NULL) != NULL;
		/* The expanded path moves to the plan (or is freed). */
		(void)strv_set_push_unique_owned(&deny, &p->deny_paths,
		    gp.deny_access.v[i]);
		gp.deny_access.v[i] = NULL;
		if (resolved)
			(void)strv_set_push_unique(&deny, &p->deny_paths, real);
	}
	rc = 0;
out:
	strv_set_free(&deny);
	free(skip);
	strv_free(&groups);
	profile_group_paths_free(&gp);
	return rc;
}

static int
grants_list(struct plan *p, const struct strv *paths, enum want want,
    enum fs_access access, enum fs_source src,
    const struct profile_env *env, struct errbuf *e)
{
	char	*x;
	size_t	 i;
	int	 rc;

	for (i = 0; i < paths->n; i++) {
		if (src == FS_SRC_PROFILE) {
			if ((x = profile_expand(paths->v[i], env, e)) == NULL)
				return -1;
		} else
			x = xstrdup(paths->v[i]);
		rc = grants_add_path(p, x, want, access, src, NULL, false, &x,
		    e);
		free(x);
		if (rc == -1)
			return -1;
	}
	return 0;
}

static int
grants_profile(struct plan *p, const struct profile *prof,
    const struct profile_env *env, struct errbuf *e)
{
	const struct profile_fs		*fs = &prof->fs;
	const struct profile_policy	*pol = &prof->policy;
	char				*x, real[PATH_MAX];
	size_t				 i;

	if (grants_list(p, &fs->allow, WANT_DIR, FS_READWRITE,
	    FS_SRC_PROFILE, env, e) == -1 ||
	    grants_list(p, &fs->read, WANT_DIR, FS_READ, FS_SRC_PROFILE, env,
	    e) == -1 ||
	    grants_list(p, &fs->write, WANT_DIR, FS_WRITE, FS_SRC_PROFILE,
	    env, e) == -1 ||
	    grants_list(p, &fs->allow_file, WANT_FILE, FS_READWRITE,
	    FS_SRC_PROFILE, env, e) == -1 ||
	    grants_list(p, &fs->read_file, WANT_FILE, FS_READ,
	    FS_SRC_PROFILE, env, e) == -1 ||
	    grants_list(p, &fs->write_file, WANT_FILE, FS_WRITE,
	    FS_SRC_PROFILE, env, e) == -1 ||
	    grants_list(p, &pol->add_allow_read, WANT_DIR, FS_READ,
	    FS_SRC_PROFILE, env, e) == -1 ||
	    grants_list(p, &pol->add_allow_write, WANT_DIR, FS_WRITE,
	    FS_SRC_PROFILE, env, e) == -1 ||
	    grants_list(p, &pol->add_allow_readwrite, WANT_DIR, FS_READWRITE,
	    FS_SRC_PROFILE, env, e) == -1) {
		errbuf_wrap(e, "profile %s", prof->label);
		return -1;
	}
	for (i = 0; i < pol->add_deny_access.n; i++) {
		if ((x = profile_expand(pol->add_deny_access.v[i], env,
		    e)) == NULL)
			return -1;
		strv_push_unique(&p->deny_paths, x);
		if (path_real(x, real, NULL) != NULL)
			strv_push_unique(&p->deny_paths, real);
		free(x);
	}
	for (i = 0; i < pol->override_deny.n; i++) {
		if ((x = profile_expand(pol->override_deny.v[i], env,
		    e)) == NULL)
			return -1;
		strv_push_owned(&p->override_deny, x);
	}
	for (i = 0; i < fs->allow_unix_socket.n; i++) {
		if ((x = profile_expand(fs->allow_unix_socket.v[i], env,
		    e)) == NULL)
			return -1;
		strv_push_owned(&p->allow_unix_socket, x);
	}
	return 0;
}

static int
grants_cli(struct plan *p, const struct cli *cli, struct errbuf *e)
{
	if (grants_list(p, &cli->allow, WANT_DIR, FS_READWRITE, FS_SRC_USER,
	    NULL, e) == -1 ||
	    grants_list(p, &cli->read, WANT_DIR, FS_READ, FS_SRC_USER, NULL,
	    e) == -1 ||
	    grants_list(p, &cli->write, WANT_DIR, FS_WRITE, FS_SRC_USER, NULL,
	    e) == -1 ||
	    grants_list(p, &cli->allow_file, WANT_FILE, FS_READWRITE,
	    FS_SRC_USER, NULL, e) == -1 ||
	    grants_list(p, &cli->read_file, WANT_FILE, FS_READ, FS_SRC_USER,
	    NULL, e) == -1 ||
	    grants_list(p, &cli->write_file, WANT_FILE, FS_WRITE,
	    FS_SRC_USER, NULL, e) == -1)
		return -1;
	strv_copy(&p->override_deny, &cli->override_deny);
	strv_copy(&p->allow_unix_socket, &cli->allow_unix_socket);
	return 0;
}

static int
grants_workdir(struct plan *p, const struct cli *cli,
    const struct profile *prof, struct errbuf *e)
{
	char		 cwd[PATH_MAX], real[PATH_MAX];
	const char	*wd = cli->workdir;
	enum fs_access	 access = FS_READWRITE;

	if (wd == NULL) {
		if (getcwd(cwd, sizeof(cwd)) == NULL) {
			errbuf_sys(e, "current directory");
			return -1;
		}
		wd = cwd;
	}
	if (path_real(wd, real, NULL) == NULL) {
		errbuf_sys(e, "working directory %s", wd);
		return -1;
	}
	p->workdir = xstrdup(real);
	if (!cli->allow_cwd)
		return 0;
	/*
	 * --allow-cwd grants what the profile's workdir.access says, and
	 * read+write when it says nothing: an agent works in its directory.
	 */
	if (prof != NULL) {
		if (prof->workdir == PROFILE_WORKDIR_READ)
			access = FS_READ;
		else if (prof->workdir == PROFILE_WORKDIR_WRITE)
			access = FS_WRITE;
	}
	grants_add(p, real, access, false, FS_SRC_USER, NULL);
	return 0;
}

static bool
grants_overridden(const struct plan *p, const char *deny)
{
	char	real[PATH_MAX];
	size_t	i;

	for (i = 0; i < p->override_deny.n; i++) {
		const char *o = p->override_deny.v[i];

		if (policy_grants_path_within(deny, o))
			return true;
		if (path_real(o, real, NULL) != NULL &&
		    policy_grants_path_within(deny, real))
			return true;
	}
	return false;
}

const char *
policy_grants_meta_check(const struct plan *p, const char *path)
{
	const struct fs_grant	*g;
	size_t			 i;
	bool			 granted = false;

	if (path[0] != '/')
		return "not an absolute path";
	for (i = 0; i < p->ngrants && !granted; i++) {
		g = &p->grants[i];
		if (!(g->access & FS_WRITE))
			continue;
		if (g->is_file)
			granted = strcmp(path, g->path) == 0;
		else if (g->source == FS_SRC_GROUP ||
		    g->source == FS_SRC_SYSTEM)
			granted = strcmp(path, g->path) != 0 &&
			    policy_grants_path_within(path, g->path);
		else
			granted = policy_grants_path_within(path, g->path);
	}
	if (!granted)
		return "metadata change outside write grants";
	for (i = 0; i < p->deny_paths.n; i++)
		if (policy_grants_path_within(path, p->deny_paths.v[i]) &&
		    !grants_overridden(p, p->deny_paths.v[i]))
			return "metadata change inside a sensitive path";
	return NULL;
}

/*
 * A user or profile grant may not equal, contain or lie inside a sensitive
 * path (SPEC §7; closes nono's exact-equal hole on Linux).
 */
static int
grants_check_sensitive(const struct plan *p, struct errbuf *e)
{
	const struct fs_grant	*g;
	const char		*d, *how;
	size_t			 i, j;

	for (i = 0; i < p->ngrants; i++) {
		g = &p->grants[i];
		if (g->source != FS_SRC_USER && g->source != FS_SRC_PROFILE)
			continue;
		for (j = 0; j < p->deny_paths.n; j++) {
			d = p->deny_paths.v[j];
			if (strcmp(g->path, d) == 0)
				how = "is";
			else if (policy_grants_path_within(g->path, d))
				how = "lies inside";
			else if (!g->is_file &&
			    policy_grants_path_within(d, g->path))
				how = "contains";
			else
				continue;
			if (grants_overridden(p, d))
				continue;
			errbuf_set(e, "refusing to grant %s: it %s the "
			    "sensitive path %s (name it with --override-deny "
			    "%s to grant it anyway)", g->path, how, d, d);
			return -1;
		}
	}
	return 0;
}

/*
 * mkdir -p path (0700 each), or create the empty file path (0600; a .json
 * file gets the empty object "{}").
 */
static int
grants_create_one(const char *path, bool is_file, struct errbuf *e)
{
	char	*dir, *slash;
	size_t	 len;
	int	 fd;

	dir = xstrdup(path);
	for (slash = strchr(dir + 1, '/'); slash != NULL;
	    slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
			errbuf_sys(e, "cannot create %s", dir);
			free(dir);
			return -1;
		}
		*slash = '/';
	}
	free(dir);
	if (!is_file) {
		if (mkdir(path, 0700) == -1 && errno != EEXIST) {
			errbuf_sys(e, "cannot create %s", path);
			return -1;
		}
		return 0;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd == -1 && errno != EEXIST) {
		errbuf_sys(e, "cannot create %s", path);
		return -1;
	}
	if (fd == -1)
		return 0;
	/* An empty JSON file is a parse error to its reader: "{}". */
	len = strlen(path);
	if (len > 5 && strcmp(path + len - 5, ".json") == 0 &&
	    write(fd, "{}\n", 3) != 3) {
		errbuf_sys(e, "cannot write %s", path);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

void
policy_grants_create(const struct plan *p)
{
	struct errbuf	e = { 0 };
	size_t		i;

	for (i = 0; i < p->ngrants; i++) {
		if (!p->grants[i].create)
			continue;
		if (grants_create_one(p->grants[i].path, p->grants[i].is_file,
		    &e) == -1)
			log_warnx("%s", errbuf_msg(&e));
		else
			log_info("created %s (granted by group %s)",
			    p->grants[i].path, p->grants[i].group ?
			    p->grants[i].group : "?");
	}
}

void
policy_grants_add_tmpdir(struct plan *p, const char *path)
{
	grants_add(p, path, FS_READWRITE, false, FS_SRC_SYSTEM, NULL)->own_rule =
	    true;
}

void
policy_grants_add_read(struct plan *p, const char *path)
{
	grants_add(p, path, FS_READ, false, FS_SRC_SYSTEM, NULL);
}

int
policy_grants_build(struct plan *p, const struct cli *cli,
    const struct profile *prof, struct errbuf *e)
{
	struct profile_env	 env;
	int			 rc;

	profile_env_from_environ(&env);
	env.workdir = cli->workdir;
	if (profile_env_check(&env, e) == -1)
		return -1;
	grants_index_begin(p);
	/* No profile: the default's groups, none of its other keys. */
	rc = grants_groups(p, prof, &env, e);
	if (rc == 0 && prof != NULL)
		rc = grants_profile(p, prof, &env, e);
	if (rc == 0)
		rc = grants_cli(p, cli, e);
	if (rc == 0)
		rc = grants_workdir(p, cli, prof, e);
	grants_index_end(p);
	if (rc == 0)
		rc = grants_check_sensitive(p, e);
	return rc;
}

/* Who made grant g, for a message. */
static const char *
grants_origin(const struct fs_grant *g)
{
	switch (g->source) {
	case FS_SRC_USER:
		return "the command line";
	case FS_SRC_PROFILE:
		return "the profile";
	case FS_SRC_GROUP:
		return g->group != NULL ? g->group : "a policy group";
	default:
		return "keyhole's defaults";
	}
}

/*
 * The canonical form of path, which may not exist yet (a Vault agent
 * writes it late): its deepest existing ancestor resolved, the rest as
 * written.  NULL when nothing resolves.
 */
static char *
grants_resolve(const char *path)
{
	char	 real[PATH_MAX], *dir, *slash, *out = NULL;

	if (path_real(path, real, NULL) != NULL)
		return xstrdup(real);
	dir = xstrdup(path);
	while ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if (path_real(dir, real, NULL) != NULL) {
			out = xasprintf("%s%s%s", real,
			    strcmp(real, "/") == 0 ? "" : "/",
			    path + (slash - dir) + 1);
			break;
		}
	}
	free(dir);
	return out;
}

/* The grant that puts path within the child's reach, or NULL. */
static const struct fs_grant *
grants_reaching(const struct plan *p, const char *path)
{
	size_t	i;

	for (i = 0; i < p->ngrants; i++)
		if (policy_grants_path_within(path, p->grants[i].path))
			return &p->grants[i];
	return NULL;
}

int
policy_grants_check_secrets(const struct plan *p, struct errbuf *e)
{
	const struct fs_grant	*g;
	const char		*ref, *path;
	char			*real;
	size_t			 i;

	for (i = 0; i < p->nroutes; i++) {
		ref = p->routes[i]->def->credential_key;
		if (ref == NULL || strncmp(ref, "file://", 7) != 0)
			continue;
		path = ref + 7;
		/*
		 * Both spellings: a symlink on the way that lies in a
		 * write grant can be pointed elsewhere by the child, and
		 * the file it names is what the proxy reads.
		 */
		real = grants_resolve(path);
		if ((g = grants_reaching(p, path)) == NULL && real != NULL)
			g = grants_reaching(p, real);
		free(real);
		if (g == NULL)
			continue;
		errbuf_set(e, "credential '%s' (%s) lies inside the "
		    "sandbox's %s grant of %s (from %s): the sandboxed "
		    "program could %s it; keep the file outside every grant",
		    p->routes[i]->def->name, ref,
		    g->access == FS_READ ? "read" : g->access == FS_WRITE ?
		    "write" : "read+write", g->path, grants_origin(g),
		    g->access == FS_READ ? "read" : g->access == FS_WRITE ?
		    "replace" : "read or replace");
		return -1;
	}
	return 0;
}
