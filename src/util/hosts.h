#ifndef KEYHOLE_UTIL_HOSTS_H
#define KEYHOLE_UTIL_HOSTS_H

/*
 * The system's /etc/hosts as the sandbox's DNS answers it (SPEC §3.1:
 * "names in /etc/hosts resolve as the system says").  Read when made;
 * when it was made from a file, a lookup looks at that file again (one
 * stat) at most every HOSTS_CHECK_S seconds and reads it afresh when it
 * changed, so an edit is seen within that time.  Names compare without
 * regard to case; a name's addresses come in the order of the file.
 */

#include <sys/socket.h>

#include <stdbool.h>
#include <stddef.h>

#define HOSTS_PATH		"/etc/hosts"
#define HOSTS_CHECK_S		1		/* look for edits this often */
#define HOSTS_MAX_BYTES		(8 << 20)	/* read at most this much */

struct hosts;

/* The hosts of file path (NULL: HOSTS_PATH); none when unreadable. */
struct hosts	*hosts_new(const char *path);

/* The hosts of text, never re-read (tests). */
struct hosts	*hosts_new_text(const char *text);

/* NULL is a no-op. */
void		 hosts_free(struct hosts *);

/*
 * Whether name (lower case, no final dot) is in the file; its addresses
 * (AF_INET and AF_INET6, ports 0, both families) into v[0..*n), at most
 * max.
 */
bool		 hosts_lookup(struct hosts *, const char *name,
		    struct sockaddr_storage *v, size_t max, size_t *n);

#endif
