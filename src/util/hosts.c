/*
 * /etc/hosts for the sandbox's DNS answerer (see hosts.h).  The file is
 * parsed into (name, address) pairs sorted by name, so a lookup is a
 * binary search whatever the file's size (ad-blocking hosts files hold
 * hundreds of thousands of lines).
 */
#include <sys/stat.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/hosts.h"
#include "util/log.h"
#include "util/mono.h"
#include "util/xmalloc.h"

#define HOSTS_NAME_MAX	253

struct hosts_entry {
	char			*name;		/* owned, lower case */
	size_t			 seq;		/* place in the file */
	struct sockaddr_storage	 addr;
};

struct hosts {
	char			*path;		/* owned or NULL: never re-read */
	struct hosts_entry	*v;		/* owned, sorted by name, seq */
	size_t			 n;
	time_t			 checked;	/* monotonic, last stat */
	struct stat		 st;		/* of what v was read from */
	bool			 have_st;
};

static void
hosts_clear(struct hosts *h)
{
	size_t	i;

	for (i = 0; i < h->n; i++)
		free(h->v[i].name);
	free(h->v);
	h->v = NULL;
	h->n = 0;
}

static int
hosts_cmp(const void *a, const void *b)
{
	const struct hosts_entry *x = a, *y = b;
	int			 c;

	if ((c = strcmp(x->name, y->name)) != 0)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* One address token: true with *ss filled (scoped ones are skipped). */
static bool
hosts_addr(const char *tok, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(tok, '%') != NULL)
		return false;
	if (inet_pton(AF_INET, tok,
	    &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		ss->ss_family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, tok,
	    &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		ss->ss_family = AF_INET6;
		return true;
	}
	return false;
}

/* Parse text (len bytes, not NUL-terminated) into h, replacing it. */
static void
hosts_parse(struct hosts *h, const char *text, size_t len)
{
	struct sockaddr_storage	 ss;
	const char		*p = text, *end = text + len, *eol, *t;
	char			 name[HOSTS_NAME_MAX + 2], atok[64];
	size_t			 cap = 0, l, i, seq = 0;
	bool			 first, ok;

	hosts_clear(h);
	for (; p < end; p = eol + 1) {
		if ((eol = memchr(p, '\n', (size_t)(end - p))) == NULL)
			eol = end;
		first = true;
		ok = false;
		for (t = p; t < eol && *t != '#';) {
			if (*t == ' ' || *t == '\t' || *t == '\r') {
				t++;
				continue;
			}
			for (l = 0; t + l < eol && t[l] != ' ' &&
			    t[l] != '\t' && t[l] != '\r' && t[l] != '#'; l++)
				;
			if (first) {
				first = false;
				if (l < sizeof(atok)) {
					memcpy(atok, t, l);
					atok[l] = '\0';
					ok = hosts_addr(atok, &ss);
				}
				if (!ok)
					break;
			} else if (l <= HOSTS_NAME_MAX + 1) {
				for (i = 0; i < l; i++)
					name[i] = (char)tolower(
					    (unsigned char)t[i]);
				if (i > 0 && name[i - 1] == '.')
					i--;
				name[i] = '\0';
				if (i > 0 && i <= HOSTS_NAME_MAX) {
					if (h->n == cap) {
						cap = cap == 0 ? 32 : 2 * cap;
						h->v = xreallocarray(h->v, cap,
						    sizeof(*h->v));
					}
					h->v[h->n].name = xstrdup(name);
					h->v[h->n].seq = seq++;
					h->v[h->n].addr = ss;
					h->n++;
				}
			}
			t += l;
		}
		if (eol == end)
			break;
	}
	if (h->n > 1)
		qsort(h->v, h->n, sizeof(*h->v), hosts_cmp);
}

/* Read h->path again; unreadable: no names. */
static void
hosts_read(struct hosts *h)
{
	struct stat	 st;
	char		*buf = NULL;
	size_t		 len = 0, cap = 0;
	ssize_t		 r;
	int		 fd;

	h->have_st = false;
	if ((fd = open(h->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1) {
		hosts_clear(h);
		return;
	}
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		h->st = st;
		h->have_st = true;
		for (;;) {
			if (len == cap) {
				if (cap >= HOSTS_MAX_BYTES) {
					log_warnx("%s: more than %d bytes; "
					    "the rest is not answered",
					    h->path, HOSTS_MAX_BYTES);
					break;
				}
				cap = cap == 0 ? 8192 : 2 * cap;
				buf = xreallocarray(buf, cap, 1);
			}
			r = read(fd, buf + len, cap - len);
			if (r == -1 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			len += (size_t)r;
		}
	}
	close(fd);
	hosts_parse(h, buf != NULL ? buf : "", len);
	free(buf);
}

/* Read the file again if it changed (looked at once per HOSTS_CHECK_S). */
static void
hosts_check(struct hosts *h)
{
	struct stat	st;
	time_t		now;

	if (h->path == NULL || (now = (time_t)mono_s()) - h->checked <
	    HOSTS_CHECK_S)
		return;
	h->checked = now;
	if (stat(h->path, &st) == -1) {
		if (h->have_st || h->n > 0)
			hosts_read(h);
		return;
	}
	if (h->have_st && st.st_dev == h->st.st_dev &&
	    st.st_ino == h->st.st_ino && st.st_size == h->st.st_size &&
	    st.st_mtim.tv_sec == h->st.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == h->st.st_mtim.tv_nsec &&
	    st.st_ctim.tv_sec == h->st.st_ctim.tv_sec &&
	    st.st_ctim.tv_nsec == h->st.st_ctim.tv_nsec)
		return;
	hosts_read(h);
}

struct hosts *
hosts_new(const char *path)
{
	struct hosts	*h;

	h = xcalloc(1, sizeof(*h));
	h->path = xstrdup(path != NULL ? path : HOSTS_PATH);
	hosts_read(h);
	h->checked = (time_t)mono_s();
	return h;
}

struct hosts *
hosts_new_text(const char *text)
{
	struct hosts	*h;

	h = xcalloc(1, sizeof(*h));
	hosts_parse(h, text, strlen(text));
	return h;
}

void
hosts_free(struct hosts *h)
{
	if (h == NULL)
		return;
	hosts_clear(h);
	free(h->path);
	free(h);
}

bool
hosts_lookup(struct hosts *h, const char *name, struct sockaddr_storage *v,
    size_t max, size_t *n)
{
	size_t	lo = 0, hi, i, k;
	bool	dup;

	*n = 0;
	if (h == NULL || name[0] == '\0')
		return false;
	hosts_check(h);
	hi = h->n;
	/* The first entry whose name is not below name. */
	while (lo < hi) {
		i = lo + (hi - lo) / 2;
		if (strcmp(h->v[i].name, name) < 0)
			lo = i + 1;
		else
			hi = i;
	}
	if (lo == h->n || strcmp(h->v[lo].name, name) != 0)
		return false;
	for (i = lo; i < h->n && strcmp(h->v[i].name, name) == 0; i++) {
		for (k = 0, dup = false; k < *n; k++)
			if (memcmp(&v[k], &h->v[i].addr, sizeof(v[k])) == 0)
				dup = true;
		if (!dup && *n < max)
			v[(*n)++] = h->v[i].addr;
	}
	return true;
}
