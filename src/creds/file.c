/*
 * file:///abs/path: a secret file, typically written by a Vault agent
 * sidecar.  It may appear late or be rotated, so the store re-reads it when
 * its stamp (device, inode, size, mtime, ctime) changes (SPEC §5).
 */

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "creds/secret.h"
#include "creds/source.h"
#include "util/xmalloc.h"

int
creds_file_parse(const char *body, struct errbuf *e)
{
	const char	*p, *seg;
	size_t		 len;

	if (body[0] != '/') {
		errbuf_set(e, "path must be absolute (file:///abs/path)");
		return -1;
	}
	if (body[1] == '\0') {
		errbuf_set(e, "path must not be /");
		return -1;
	}
	/* Bytes that only a shell would care about: refuse as nono does. */
	for (p = body; *p != '\0'; p++) {
		if (*p == '\r' || *p == '\n' || strchr(";`|$&><", *p) != NULL) {
			errbuf_set(e, "path has a forbidden character "
			    "(CR, LF or one of ;`|$&><)");
			return -1;
		}
	}
	for (seg = body; *seg != '\0'; seg += len) {
		while (*seg == '/')
			seg++;
		len = strcspn(seg, "/");
		if (len == 2 && seg[0] == '.' && seg[1] == '.') {
			errbuf_set(e, "path has a '..' component");
			return -1;
		}
	}
	return 0;
}

/* Fill stamp from st. */
static void
file_stamp(struct creds_file_stamp *stamp, const struct stat *st)
{
	stamp->valid = true;
	stamp->dev = st->st_dev;
	stamp->ino = st->st_ino;
	stamp->size = st->st_size;
	stamp->mtime = st->st_mtim;
	stamp->ctime = st->st_ctim;
}

bool
creds_file_changed(const char *path, const struct creds_file_stamp *stamp)
{
	struct stat	st;

	if (stat(path, &st) == -1)
		return stamp->valid;
	if (!stamp->valid)
		return true;
	return st.st_dev != stamp->dev || st.st_ino != stamp->ino ||
	    st.st_size != stamp->size ||
	    st.st_mtim.tv_sec != stamp->mtime.tv_sec ||
	    st.st_mtim.tv_nsec != stamp->mtime.tv_nsec ||
	    st.st_ctim.tv_sec != stamp->ctime.tv_sec ||
	    st.st_ctim.tv_nsec != stamp->ctime.tv_nsec;
}

struct secret *
creds_file_load(const char *path, struct creds_file_stamp *stamp,
    struct errbuf *why)
{
	struct secret	*s = NULL;
	struct stat	 st;
	unsigned char	*buf;
	size_t		 len = 0;
	ssize_t		 n;
	int		 fd;

	memset(stamp, 0, sizeof(*stamp));
	/* O_NONBLOCK: a FIFO must not stall the supervisor. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd == -1) {
		if (errno == ENOENT || errno == ENOTDIR)
			errbuf_set(why, "%s does not exist", path);
		else
			errbuf_sys(why, "open %s", path);
		return NULL;
	}
	/* Stamp what we are about to read: a later write changes it. */
	if (fstat(fd, &st) == -1) {
		errbuf_sys(why, "stat %s", path);
		close(fd);
		return NULL;
	}
	file_stamp(stamp, &st);
	if (!S_ISREG(st.st_mode)) {
		errbuf_set(why, "%s is not a regular file", path);
		close(fd);
		return NULL;
	}
	if (st.st_size > CREDS_SECRET_MAX) {
		errbuf_set(why, "%s is larger than %d KiB", path,
		    CREDS_SECRET_MAX / 1024);
		close(fd);
		return NULL;
	}
	/* One byte more than the cap tells a file that grew meanwhile. */
	buf = xmalloc(CREDS_SECRET_MAX + 1);
	for (;;) {
		n = read(fd, buf + len, CREDS_SECRET_MAX + 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			errbuf_sys(why, "read %s", path);
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > CREDS_SECRET_MAX) {
			errbuf_set(why, "%s is larger than %d KiB", path,
			    CREDS_SECRET_MAX / 1024);
			goto out;
		}
	}
	/* Exactly one trailing "\n" or "\r\n" (SPEC §5); the rest is kept. */
	if (len > 0 && buf[len - 1] == '\n') {
		len--;
		if (len > 0 && buf[len - 1] == '\r')
			len--;
	}
	if (len == 0) {
		errbuf_set(why, "%s is empty", path);
		goto out;
	}
	s = creds_secret_new(buf, len);
out:
	freezero(buf, CREDS_SECRET_MAX + 1);
	close(fd);
	return s;
}
