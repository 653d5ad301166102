#include "sandbox/landlock.h"

#include <sys/stat.h>
#include <sys/syscall.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/landlock.h>

#include "policy/grants.h"
#include "policy/plan.h"
#include "util/log.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

/*
 * The installed <linux/landlock.h> may predate the kernel (Debian 12 ships
 * the 6.1 header): define what newer ABIs added ourselves.  The values are
 * kernel ABI and never change.
 */
#ifndef LANDLOCK_CREATE_RULESET_VERSION
#define LANDLOCK_CREATE_RULESET_VERSION		(1U << 0)
#endif
#ifndef LANDLOCK_RULE_PATH_BENEATH
#define LANDLOCK_RULE_PATH_BENEATH		1
#endif
#ifndef LANDLOCK_RULE_NET_PORT
#define LANDLOCK_RULE_NET_PORT			2
#endif
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER		(1ULL << 13)	/* ABI 2 */
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE		(1ULL << 14)	/* ABI 3 */
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV		(1ULL << 15)	/* ABI 5 */
#endif
#ifndef LANDLOCK_ACCESS_NET_BIND_TCP
#define LANDLOCK_ACCESS_NET_BIND_TCP		(1ULL << 0)	/* ABI 4 */
#endif
#ifndef LANDLOCK_ACCESS_NET_CONNECT_TCP
#define LANDLOCK_ACCESS_NET_CONNECT_TCP		(1ULL << 1)	/* ABI 4 */
#endif
#ifndef LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET
#define LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET	(1ULL << 0)	/* ABI 6 */
#endif
#ifndef LANDLOCK_SCOPE_SIGNAL
#define LANDLOCK_SCOPE_SIGNAL			(1ULL << 1)	/* ABI 6 */
#endif
#ifndef __NR_landlock_create_ruleset
#define __NR_landlock_create_ruleset		444
#endif
#ifndef __NR_landlock_add_rule
#define __NR_landlock_add_rule			445
#endif
#ifndef __NR_landlock_restrict_self
#define __NR_landlock_restrict_self		446
#endif

/* Our own copies of the kernel structs, in their newest layout. */
struct ll_ruleset_attr {
	uint64_t	handled_access_fs;
	uint64_t	handled_access_net;	/* ABI 4 */
	uint64_t	scoped;			/* ABI 6 */
};

struct ll_path_beneath_attr {
	uint64_t	allowed_access;
	int32_t		parent_fd;
} __attribute__((packed));

struct ll_net_port_attr {
	uint64_t	allowed_access;
	uint64_t	port;
};

#define FS_V1 ( \
	LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | \
	LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR | \
	LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE | \
	LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR | \
	LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK | \
	LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK | \
	LANDLOCK_ACCESS_FS_MAKE_SYM)

#define LL_READ	( \
	LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR | \
	LANDLOCK_ACCESS_FS_EXECUTE)

#define LL_WRITE ( \
	LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR | \
	LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_CHAR | \
	LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG | \
	LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO | \
	LANDLOCK_ACCESS_FS_MAKE_BLOCK | LANDLOCK_ACCESS_FS_MAKE_SYM | \
	LANDLOCK_ACCESS_FS_REFER | LANDLOCK_ACCESS_FS_TRUNCATE)

/* The only rights the kernel accepts on a rule whose fd is not a dir. */
#define FS_FILE_RIGHTS ( \
	LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | \
	LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_TRUNCATE | \
	LANDLOCK_ACCESS_FS_IOCTL_DEV)

#define NET_BOTH (LANDLOCK_ACCESS_NET_BIND_TCP | \
	LANDLOCK_ACCESS_NET_CONNECT_TCP)

struct ll_path_rule {
	int		 fd;		/* O_PATH; owned unless borrowed */
	bool		 borrowed;	/* the plan's (fs_grant.fd) */
	bool		 keep;		/* never pruned (fs_grant.own_rule) */
	uint64_t	 access;
	char		*path;		/* owned; for messages */
};

struct ll_port_rule {
	uint16_t	 port;
	uint64_t	 access;
};

struct landlock_spec {
	int			 abi;
	uint64_t		 handled_fs;
	uint64_t		 handled_net;
	uint64_t		 scoped;
	struct ll_path_rule	*paths;		/* owned array */
	size_t			 npaths;
	struct ll_port_rule	*ports;		/* owned array */
	size_t			 nports;
};

int
sandbox_landlock_abi(void)
{
	long	abi;

	abi = syscall(__NR_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 1)
		return 0;
	return (int)abi;
}

/* Every filesystem right the given ABI knows. */
static uint64_t
landlock_fs_rights(int abi)
{
	uint64_t	r = FS_V1;

	if (abi >= 2)
		r |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		r |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		r |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	return r;
}

/* One warning line naming what this ABI cannot enforce, if anything. */
static void
landlock_warn_missing(int abi, const struct plan *p)
{
	struct strbuf	sb = { 0 };

	if (abi < 2)
		strbuf_append(&sb, ", cross-directory rename (REFER)");
	if (abi < 3)
		strbuf_append(&sb, ", truncation rules");
	if (abi < 4 && p->mode == NET_ALLOW)
		strbuf_append(&sb, ", TCP rules");
	if (abi < 5)
		strbuf_append(&sb, ", device ioctl rules");
	if (abi < 6)
		strbuf_append(&sb, ", signal and abstract UNIX socket scoping");
	if (sb.len > 0)
		log_warnx("Landlock ABI %d: %s unavailable", abi,
		    strbuf_str(&sb) + 2);
	strbuf_free(&sb);
}

static void
landlock_add_port(struct landlock_spec *s, uint16_t port, uint64_t access)
{
	size_t	i;

	if (port == 0)
		return;
	for (i = 0; i < s->nports; i++) {
		if (s->ports[i].port == port) {
			s->ports[i].access |= access;
			return;
		}
	}
	s->ports = xreallocarray(s->ports, s->nports + 1, sizeof(*s->ports));
	s->ports[s->nports].port = port;
	s->ports[s->nports].access = access;
	s->nports++;
}

/* The TCP rules of SPEC §3 for the plan's mode. */
static void
landlock_net_rules(struct landlock_spec *s, const struct plan *p,
    uint16_t proxy_port)
{
	size_t	i;

	for (i = 0; i < p->open_ports.n; i++)
		landlock_add_port(s, p->open_ports.v[i], NET_BOTH);
	if (p->mode != NET_PROXY)
		return;
	landlock_add_port(s, proxy_port, LANDLOCK_ACCESS_NET_CONNECT_TCP);
	for (i = 0; i < p->allow.n; i++) {
		if (p->allow.v[i].direct)
			landlock_add_port(s, p->allow.v[i].port,
			    LANDLOCK_ACCESS_NET_CONNECT_TCP);
	}
	for (i = 0; i < p->listen_ports.n; i++)
		landlock_add_port(s, p->listen_ports.v[i],
		    LANDLOCK_ACCESS_NET_BIND_TCP);
}

static bool
under_dev(const char *path)
{
	return strcmp(path, "/dev") == 0 || strncmp(path, "/dev/", 5) == 0;
}

/* Append a path rule: fd (ours to close unless borrowed) for path. */
static void
ll_add_path(struct landlock_spec *s, int fd, bool borrowed, bool keep,
    uint64_t access, const char *path)
{
	struct ll_path_rule	*r;

	s->paths = xreallocarray(s->paths, s->npaths + 1, sizeof(*s->paths));
	r = &s->paths[s->npaths++];
	r->fd = fd;
	r->borrowed = borrowed;
	r->keep = keep;
	r->access = access;
	r->path = xstrdup(path);
}

/* Open one grant and append its rule; ENOENT skips it with a warning. */
static int
landlock_path_rule(struct landlock_spec *s, const struct fs_grant *g,
    struct errbuf *e)
{
	struct stat	 st;
	uint64_t	 access = 0;
	int		 fd;

	/* Opened when the plan resolved it: that file, no second walk. */
	if (g->has_fd) {
		fd = g->fd;
		st.st_mode = g->mode;
	} else if ((fd = open(g->path, O_PATH | O_CLOEXEC)) == -1) {
		if (errno == ENOENT) {
			log_warnx("skipping %s: it no longer exists", g->path);
			return 0;
		}
		errbuf_sys(e, "cannot open %s for a Landlock rule", g->path);
		return -1;
	} else if (fstat(fd, &st) == -1) {
		errbuf_sys(e, "cannot stat %s", g->path);
		close(fd);
		return -1;
	}
	if (g->access & FS_READ)
		access |= LL_READ;
	if (g->access & FS_WRITE) {
		access |= LL_WRITE;
		/* Terminal ioctls on /dev/tty, /dev/pts/N need IOCTL_DEV. */
		if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ||
		    (S_ISDIR(st.st_mode) && under_dev(g->path)))
			access |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	}
	/* The kernel refuses directory rights on a non-directory (EINVAL). */
	if (!S_ISDIR(st.st_mode))
		access &= FS_FILE_RIGHTS;
	access &= s->handled_fs;
	if (access == 0) {
		if (!g->has_fd)
			close(fd);
		return 0;
	}
	ll_add_path(s, fd, g->has_fd, g->own_rule, access, g->path);
	return 0;
}

/*
 * The child's own terminal (SPEC §3.2): the pty behind its standard
 * descriptors, resolved now, gets a rule of its own.  /dev/pts as a whole
 * is never granted: another terminal of the same user would be readable
 * (a sudo password typed there) and writable (escape sequences).
 */
static int
landlock_tty_rules(struct landlock_spec *s, struct errbuf *e)
{
	char		 name[64];
	struct stat	 st;
	uint64_t	 access;
	size_t		 i;
	int		 fd, std;

	access = (LANDLOCK_ACCESS_FS_READ_FILE |
	    LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_IOCTL_DEV) &
	    s->handled_fs;
	for (std = 0; std <= 2; std++) {
		/* A pty, or a virtual console or serial line (/dev/ttyN). */
		if (!isatty(std) || ttyname_r(std, name, sizeof(name)) != 0 ||
		    strncmp(name, "/dev/", 5) != 0 ||
		    strcmp(name, "/dev/ptmx") == 0)
			continue;
		for (i = 0; i < s->npaths; i++)
			if (strcmp(s->paths[i].path, name) == 0)
				break;
		if (i < s->npaths)
			continue;
		fd = open(name, O_PATH | O_CLOEXEC);
		if (fd == -1 || fstat(fd, &st) == -1 || !S_ISCHR(st.st_mode)) {
			errbuf_sys(e, "cannot open the terminal %s for a "
			    "Landlock rule", name);
			if (fd != -1)
				close(fd);
			return -1;
		}
		ll_add_path(s, fd, false, false, access, name);
	}
	return 0;
}

static int
ll_cmp(const void *a, const void *b, void *arg)
{
	const struct landlock_spec	*s = arg;

	return strcmp(s->paths[*(const size_t *)a].path,
	    s->paths[*(const size_t *)b].path);
}

/*
 * Drop the path rules that rules on their ancestors already cover: in one
 * ruleset Landlock allows an access when the rules met walking up from
 * the file to the root grant it together, so a rule whose rights are all
 * in its ancestors' rules changes nothing (the default profile has 14 of
 * 66: /usr/lib/x86_64-linux-gnu under /usr/lib, /usr/share/locale under
 * /usr/share, /proc/cpuinfo under /proc, the private temporary directory
 * under /tmp ...).  Each rule costs a landlock_add_rule in the child and a
 * copy when the domain is made.  Conservative: sorted by path, a rule is
 * checked against the chain of ancestors kept on a stack; one it cannot
 * see there is kept.
 *
 * Except a rule marked keep (the private temporary directory): a rule
 * holds its inode (Landlock takes a reference) for as long as the
 * child's domain lives, and the domain is freed by a kernel worker some
 * grace periods after the child is reaped.  So our rmdir at the end of
 * the run only unlinks it, and freeing the inode happens after we have
 * exited.  On ext4 that freeing is the dear part (the directory's block
 * freed, and without a journal discarded, synchronously): ~150 us of
 * every run's wall time with the rule pruned (bench/README, round 4).
 * It adds no access: an ancestor grants as much.
 */
static void
landlock_prune(struct landlock_spec *s)
{
	struct ll_path_rule	*r;
	size_t			*ix, *stack, depth = 0, i, k, n = s->npaths;
	uint64_t		 covered;
	bool			*drop;

	if (n < 2)
		return;
	ix = xreallocarray(NULL, n, sizeof(*ix));
	stack = xreallocarray(NULL, n, sizeof(*stack));
	drop = xcalloc(n, sizeof(*drop));
	for (i = 0; i < n; i++)
		ix[i] = i;
	qsort_r(ix, n, sizeof(*ix), ll_cmp, s);
	for (i = 0; i < n; i++) {
		r = &s->paths[ix[i]];
		while (depth > 0 &&
		    !policy_grants_path_within(r->path,
		    s->paths[stack[depth - 1]].path))
			depth--;
		covered = 0;
		for (k = 0; k < depth; k++)
			covered |= s->paths[stack[k]].access;
		if (depth > 0 && (r->access & ~covered) == 0 && !r->keep)
			drop[ix[i]] = true;
		else
			stack[depth++] = ix[i];
	}
	for (i = k = 0; i < n; i++) {
		if (!drop[i]) {
			s->paths[k++] = s->paths[i];
			continue;
		}
		if (!s->paths[i].borrowed)
			close(s->paths[i].fd);
		free(s->paths[i].path);
	}
	s->npaths = k;
	free(drop);
	free(stack);
	free(ix);
}

size_t
sandbox_landlock_spec_npaths(const struct landlock_spec *s)
{
	return s->npaths;
}

int
sandbox_landlock_prepare(const struct plan *p, uint16_t proxy_port,
    struct landlock_spec **out, struct errbuf *e)
{
	struct landlock_spec	*s;
	int			 abi;
	size_t			 i;

	*out = NULL;
	abi = sandbox_landlock_abi();
	if (abi == 0) {
		errbuf_set(e, "Landlock is not available on this kernel "
		    "(needs Linux 5.13+ with Landlock enabled in the LSM "
		    "list); keyhole refuses to run unsandboxed");
		return -1;
	}
	if (p->mode != NET_ALLOW && abi < 4) {
		errbuf_set(e, "network restrictions need Landlock ABI 4 "
		    "(Linux 6.7+); this kernel has ABI %d", abi);
		return -1;
	}
	s = xcalloc(1, sizeof(*s));
	s->abi = abi;
	s->handled_fs = landlock_fs_rights(abi);
	if (p->mode != NET_ALLOW) {
		s->handled_net = NET_BOTH;
		landlock_net_rules(s, p, proxy_port);
	}
	if (abi >= 6)
		s->scoped = LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET |
		    LANDLOCK_SCOPE_SIGNAL;
	for (i = 0; i < p->ngrants; i++) {
		if (landlock_path_rule(s, &p->grants[i], e) == -1) {
			sandbox_landlock_spec_free(s);
			return -1;
		}
	}
	landlock_prune(s);
	if (landlock_tty_rules(s, e) == -1) {
		sandbox_landlock_spec_free(s);
		return -1;
	}
	landlock_warn_missing(abi, p);
	*out = s;
	return 0;
}

int
sandbox_landlock_apply(const struct landlock_spec *s, int *where)
{
	struct ll_ruleset_attr		attr;
	struct ll_path_beneath_attr	pb;
	struct ll_net_port_attr		np;
	size_t				sz, i;
	int				rfd, err;

	memset(&attr, 0, sizeof(attr));
	attr.handled_access_fs = s->handled_fs;
	attr.handled_access_net = s->handled_net;
	attr.scoped = s->scoped;
	/* Older kernels want the struct no longer than they know. */
	sz = s->abi >= 6 ? sizeof(attr) : s->abi >= 4 ?
	    2 * sizeof(uint64_t) : sizeof(uint64_t);
	*where = LANDLOCK_AT_CREATE;
	rfd = (int)syscall(__NR_landlock_create_ruleset, &attr, sz, 0);
	if (rfd == -1)
		return -errno;
	for (i = 0; i < s->npaths; i++) {
		pb.allowed_access = s->paths[i].access;
		pb.parent_fd = s->paths[i].fd;
		if (syscall(__NR_landlock_add_rule, rfd,
		    LANDLOCK_RULE_PATH_BENEATH, &pb, 0) == -1) {
			err = errno;
			*where = (int)i;
			close(rfd);
			return -err;
		}
	}
	for (i = 0; i < s->nports; i++) {
		np.allowed_access = s->ports[i].access;
		np.port = s->ports[i].port;
		if (syscall(__NR_landlock_add_rule, rfd,
		    LANDLOCK_RULE_NET_PORT, &np, 0) == -1) {
			err = errno;
			*where = (int)(s->npaths + i);
			close(rfd);
			return -err;
		}
	}
	*where = LANDLOCK_AT_RESTRICT;
	if (syscall(__NR_landlock_restrict_self, rfd, 0) == -1) {
		err = errno;
		close(rfd);
		return -err;
	}
	close(rfd);
	return 0;
}

void
sandbox_landlock_explain(const struct landlock_spec *s, int where, int err,
    struct errbuf *e)
{
	const char	*msg = strerror(err);

	if (where == LANDLOCK_AT_CREATE)
		errbuf_set(e, "landlock_create_ruleset (ABI %d): %s",
		    s->abi, msg);
	else if (where == LANDLOCK_AT_RESTRICT && err == E2BIG)
		errbuf_set(e, "landlock_restrict_self: %s (already inside "
		    "16 nested Landlock sandboxes)", msg);
	else if (where == LANDLOCK_AT_RESTRICT)
		errbuf_set(e, "landlock_restrict_self: %s", msg);
	else if (where >= 0 && (size_t)where < s->npaths)
		errbuf_set(e, "cannot add Landlock rule for %s: %s (the "
		    "filesystem may not support Landlock)",
		    s->paths[where].path, msg);
	else if (where >= 0 && (size_t)where < s->npaths + s->nports)
		errbuf_set(e, "cannot add Landlock rule for TCP port %u: %s",
		    s->ports[(size_t)where - s->npaths].port, msg);
	else
		errbuf_set(e, "%s", msg);
}

int
sandbox_landlock_spec_abi(const struct landlock_spec *s)
{
	return s->abi;
}

void
sandbox_landlock_spec_free(struct landlock_spec *s)
{
	size_t	i;

	if (s == NULL)
		return;
	for (i = 0; i < s->npaths; i++) {
		if (!s->paths[i].borrowed)
			close(s->paths[i].fd);
		free(s->paths[i].path);
	}
	free(s->paths);
	free(s->ports);
	free(s);
}
