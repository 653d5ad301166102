#ifndef KEYHOLE_SANDBOX_MEDIATOR_INT_H
#define KEYHOLE_SANDBOX_MEDIATOR_INT_H

/*
 * Inside the mediator: what the notification loop (mediator.c) shares
 * with the files that handle one kind of call (mediate_*.c).  Nothing
 * outside src/sandbox/mediat*.c includes this.
 *
 * A handler is called with one notification (struct seccomp_notif,
 * received once, by the notification thread or the loop) and must,
 * exactly once, either answer it (sandbox_mediator_answer*, or
 * sandbox_mediator_op_finish for an op) or, when sandbox_mediator_valid()
 * says the notification is gone, drop it.  It may answer later from the
 * event loop (an op waiting on it: sandbox_mediator_op_wait), never
 * block, and, run on the notification thread, never call libevent or the
 * proxy (sandbox_mediator_to_loop hands such a notification over before
 * anything is done).  Everything decided on comes from the handler's own
 * copies: sandbox_mediator_read() of the child's memory (once), its own
 * duplicate of a child's descriptor (sandbox_mediator_getfd), directories
 * opened the way the child would see them (sandbox_mediator_dirfd).
 * Nothing is ever answered with SECCOMP_USER_NOTIF_FLAG_CONTINUE.
 *
 * Adding a handler: write it in its own file, declare it below, add one
 * line to the table in mediator.c (syscall number -> handler) and a
 * notification rule for that syscall in seccomp.c.
 */

#include <sys/queue.h>
#include <sys/syscall.h>
#include <sys/time.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <linux/capability.h>
#include <linux/seccomp.h>
#include <netinet/in.h>

#include "sandbox/mediator.h"

struct dnsd;
struct event;
struct hosts;
struct med_name;
struct med_resolve;
struct dnsd_query;
struct med_send;
struct med_fwd;
struct med_op;
struct med_arec;

/* What an op waits for on the loop (sandbox_mediator_op_wait). */
typedef void med_op_cb(int fd, short what, struct med_op *);

/* One notification being answered: the dup'ed socket and our copy. */
struct med_op {
	struct mediator		*m;		/* borrowed */
	TAILQ_ENTRY(med_op)	 entry;
	uint64_t		 id;
	pid_t			 tid;
	int			 sfd;		/* owned: the child's socket */
	int			 proto;		/* its SO_PROTOCOL; 0: not
						 * asked yet */
	int			 pathfd;	/* owned: O_PATH socket, or -1 */
	int			 oflags;	/* to restore, -1: untouched */
	struct sockaddr_storage	 addr;		/* what we connect to */
	socklen_t		 len;
	enum mediator_verdict	 verdict;
	uint16_t		 reg_port;	/* registered, 0: none */
	struct event		*ev;		/* owned: write wait or retry */
	bool			 retry;		/* ev is the retry timer */
	struct med_send		*send;		/* owned or NULL: a send */
	const char		*would;		/* MEDIATOR_WOULD_DENY: the
						 * denial it would have been
						 * (static text) */
	char			*thost;		/* owned: transparent egress */
	uint16_t		 tport;
	/* A wait asked for on the notification thread, added by the loop
	 * (sandbox_mediator_op_wait). */
	int			 wfd;
	short			 wwhat;
	med_op_cb		*wcb;
	struct timeval		 wtv;
	bool			 wtimed;
};
TAILQ_HEAD(med_ops, med_op);

/*
 * Threads (docs/HACKING.md, "Threads"): notifications are received by
 * threads of their own (up to MEDIATOR_THREADS, one at a time in
 * SECCOMP_IOCTL_NOTIF_RECV), so the kernel's synchronous wake-up runs
 * the receiver on the notifying task's CPU; the event loop's thread
 * keeps what waits (parked ops, the answerer, the proxy).  Everything in
 * struct mediator, its ops and its dnsd is guarded by mu (recursive: a
 * callback may run inside another), which a notification thread holds
 * while it handles one notification and the loop holds in every
 * callback into the mediator.  The exception is connect(): its system
 * calls on the handler's own copies (reading the address, the
 * duplicate, the connect itself, the answer) are made without mu, which
 * is held only for the decision and what it touches (audit, hand-overs,
 * waits); so connects of a busy child are handled in parallel.  Only the
 * loop's thread calls libevent or the proxy: the notification threads
 * hand it waits (toloop), notifications that need the proxy or the DNS
 * helper (fwd) and, in proxy mode, audit records (arecs), and wake it
 * through wakefd.  Immutable after sandbox_mediator_start: plan, base,
 * proxy, pol, self, listener, fddir, cwdfd, loop_thread, notif/resp
 * sizes, meta_caps.
 */
struct mediator {
	pthread_mutex_t		 mu;
	pthread_t		 loop_thread;	/* the event loop's */
	/*
	 * The notification threads (leader/follower, mediator.c): pmu
	 * guards the fields down to thread_gone.
	 */
	pthread_mutex_t		 pmu;
	pthread_cond_t		 pcv;		/* a follower may lead */
	pthread_t		 threads[MEDIATOR_THREADS];
	int			 nthreads;	/* started */
	int			 idle;		/* followers waiting on pcv */
	bool			 leading;	/* one thread leads: is in, or
						 * on its way to, RECV */
	bool			 done;		/* the listener hung up */
	pid_t			 last_tid;	/* who notified last */
	unsigned		 multi;		/* calls left that look for
						 * more work (poll) */
	bool			 threaded;	/* the first was started */
	bool			 no_thread;	/* it could not be: the loop
						 * answers */
	bool			 joined;
	int			 stop;		/* atomic: threads, stop */
	bool			 thread_gone;	/* one failed: loop takes over
						 * (mu) */
	int			 wakefd;	/* owned eventfd, or -1 */
	struct event		*wev;		/* owned */
	struct med_ops		 toloop;	/* waits for the loop to add */
	struct med_fwd		*fwd, **fwd_tail; /* owned: for the loop */
	struct med_arec		*arecs, **arec_tail; /* owned: for the loop */
	const struct plan	*plan;		/* borrowed */
	struct event_base	*base;		/* borrowed */
	struct proxy		*proxy;		/* borrowed or NULL */
	struct audit		*audit;		/* borrowed or own_audit */
	struct audit		*own_audit;	/* owned or NULL */
	struct mediator_policy	 pol;		/* owned */
	struct sockaddr_in	 self;		/* the proxy's address */
	int			 listener;	/* owned or -1 */
	struct event		*lev;		/* owned */
	int			 cwdfd;		/* owned: our cwd, or -1 */
	int			 fddir;		/* owned: /proc/self/fd, or -1 */
	int			 diagfd;	/* owned: sock_diag, or -1 */
	struct med_ops		 pending;	/* ops parked on the loop */
	size_t			 npending;
	size_t			 notif_size;
	size_t			 resp_size;
	unsigned long		 answered;
	bool			 sync_ok;	/* kernel has sync wake-ups */
	bool			 sync;		/* and they are on */
	unsigned		 singles;	/* wakes with one notification */
	struct dnsd		*dns;		/* owned or NULL: §3.1 */
	struct hosts		*hosts;		/* owned or NULL: /etc/hosts */
	struct med_resolve	*resolves;	/* owned: --report-only look-ups
						 * in flight */
	struct med_name		*names;		/* owned: what they found */
	size_t			 nnames;
	size_t			 names_next;	/* the oldest, replaced next */
	const char		*audit_mode;	/* NULL: "direct" */
	char			**synth;	/* owned: host of 198.18.0.1+i */
	size_t			 nsynth;
	bool			 meta_drop;	/* we have effective caps */
	struct __user_cap_data_struct meta_caps[2]; /* ours, to restore */
	uid_t			 meta_uid;	/* our effective uid */
};

/* fchmodat2 (Linux 6.6), not in Debian 12's headers; same on every arch. */
#ifdef __NR_fchmodat2
#define MEDIATOR_NR_FCHMODAT2	__NR_fchmodat2
#else
#define MEDIATOR_NR_FCHMODAT2	452
#endif

/* One call's handler (see above). */
typedef void mediator_handler_fn(struct mediator *,
    const struct seccomp_notif *);

/* ---- mediator.c: talking to the kernel and the child ------------------- */

/* True while notification id still waits (its task has not gone). */
bool	 sandbox_mediator_valid(const struct mediator *, uint64_t id);

/* Answer notification id with 0 or -errno. */
void	 sandbox_mediator_answer(struct mediator *, uint64_t id, int err);

/* Answer notification id with a return value (val >= 0). */
void	 sandbox_mediator_answer_val(struct mediator *, uint64_t id,
	    int64_t val);

/*
 * The number after "field" (e.g. "Tgid:", "Umask:") in /proc/TID/status,
 * read in base (10 or 8).  -1 when the process or the field is gone.
 */
long	 sandbox_mediator_proc_status(pid_t tid, const char *field, int base);

/* Read len bytes at the child's addr, once.  0, or -1 with errno. */
int	 sandbox_mediator_read(pid_t tid, uint64_t addr, void *buf,
	    size_t len);

/*
 * Our duplicate of descriptor fd of thread tid (pidfd_getfd), owned by
 * the caller; -errno on failure (-ESRCH: the task is gone, or the
 * notification id no longer valid: check sandbox_mediator_valid).
 */
int	 sandbox_mediator_getfd(struct mediator *, pid_t tid, uint64_t id,
	    int fd);

/*
 * The path of our descriptor fd, as readlink(2) of /proc/self/fd/FD
 * gives it (not NUL-terminated; -1 with errno), looked up in a directory
 * held open (no walk of /proc/self/fd per call).
 */
ssize_t	 sandbox_mediator_fdpath(const struct mediator *, int fd, char *buf,
	    size_t size);

/*
 * The directory a *at() call of thread tid resolves relative paths
 * against: its working directory for AT_FDCWD, else our duplicate of its
 * descriptor dfd.  An O_PATH or directory fd owned by the caller, or
 * -errno (-ESRCH as for getfd; -ENOTDIR when dfd is not a directory).
 */
int	 sandbox_mediator_dirfd(struct mediator *, pid_t tid, uint64_t id,
	    int dfd);

/* Send signal sig to thread tid (a SIGPIPE the kernel would send). */
void	 sandbox_mediator_kill(struct mediator *, pid_t tid, int sig);

/* A --report-only direct connect: mode "direct", decision would_deny. */
void	 sandbox_mediator_audit_would(struct mediator *, const char *host,
	    int port, const char *reason);
/* One audit record of mode "direct" (host may be a unix path). */
void	 sandbox_mediator_audit(struct mediator *, bool allow,
	    const char *host, int port, const char *reason);

/* A new op for notification req (fds -1, oflags -1). */
struct med_op *sandbox_mediator_op_new(struct mediator *,
	    const struct seccomp_notif *req);

/*
 * Park op until fd is ready for what (EV_READ/EV_WRITE; fd -1: a timer)
 * or tvp passes, then call cb on the loop with mu held.  On the
 * notification thread the wait is handed to the loop.  When it cannot
 * be added, op is answered ENOMEM.
 */
void	 sandbox_mediator_op_wait(struct med_op *, int fd, short what,
	    med_op_cb *cb, const struct timeval *tvp);

/*
 * On the notification thread: hand the notification being handled over
 * to the loop's thread, which handles it again from the start (true: the
 * caller frees what it made and answers nothing).  false on the loop.
 * For a handler that finds, before it acts, that it needs the loop.
 */
bool	 sandbox_mediator_to_loop(struct mediator *);

/* Take / release m's lock (a callback from the loop into the mediator). */
void	 sandbox_mediator_lock(struct mediator *);
void	 sandbox_mediator_unlock(struct mediator *);

/*
 * On a notification thread holding mu once: release it (true), for
 * system calls on the handler's own copies only; take it again with
 * sandbox_mediator_lock.  false (mu kept) on the loop or when held more
 * than once.
 */
bool	 sandbox_mediator_release(struct mediator *);

/* Free op: off the pending list, the socket's flags restored. */
void	 sandbox_mediator_op_free(struct med_op *);

/* Answer op with err (0 or -errno) and free it. */
void	 sandbox_mediator_op_finish(struct med_op *, int err);

/* ---- mediate_connect.c ------------------------------------------------- */

/* connect(): read the address, dispatch by family. */
void	 sandbox_mediate_connect(struct mediator *,
	    const struct seccomp_notif *);

/*
 * Take the child's socket fd, check it is what op->verdict is about, and
 * connect it to op->addr; answers op.  what/port name it in audit records.
 */
void	 sandbox_mediate_connect_start(struct med_op *, int fd,
	    const char *what, int port);

/* bind(): read the address, dispatch by family. */
void	 sandbox_mediate_bind(struct mediator *,
	    const struct seccomp_notif *);

/* bind() op->addr on our duplicate of the child's socket fd; answers. */
void	 sandbox_mediate_bind_start(struct med_op *, int fd);

/* ---- mediate_send.c ---------------------------------------------------- */

/* sendto() with an address, sendmsg(), sendmmsg(): performed here. */
void	 sandbox_mediate_sendto(struct mediator *,
	    const struct seccomp_notif *);
void	 sandbox_mediate_sendmsg(struct mediator *,
	    const struct seccomp_notif *);
void	 sandbox_mediate_sendmmsg(struct mediator *,
	    const struct seccomp_notif *);

/* NULL is a no-op. */
void	 sandbox_mediate_send_free(struct med_send *);

/* ---- mediate_inet.c ---------------------------------------------------- */

/* Fill m's grants and credential check from plan p.  -1 with e. */
int	 sandbox_mediate_inet_init(struct mediator *, const struct plan *p,
	    struct errbuf *e);

/* An inet connect: decide on op->addr and start it (fd: the child's). */
void	 sandbox_mediate_inet_connect(struct med_op *, int fd);

/* An inet bind: what Landlock allows, performed on our duplicate. */
void	 sandbox_mediate_inet_bind(struct med_op *, int fd);

/* A connect to the proxy succeeded: register its source port. */
void	 sandbox_mediate_inet_register(struct med_op *);

/* ---- mediate_unix.c ---------------------------------------------------- */

/* An AF_UNIX connect: decide on op->addr and start it. */
void	 sandbox_mediate_unix_connect(struct med_op *, int fd);

/* ---- mediate_meta.c ---------------------------------------------------- */

/*
 * chmod, utime*, setxattr, removexattr and their l/f/at forms: resolve
 * the target as the child would, decide on its canonical path
 * (sandbox_mediator_meta_decide), perform the call ourselves.
 */
void	 sandbox_mediate_meta(struct mediator *,
	    const struct seccomp_notif *);

/*
 * Save our capabilities in m; true when we hold effective ones (then
 * dropped around each call).
 */
bool	 sandbox_mediate_meta_caps(struct mediator *);

/*
 * The child has no capabilities; a call we make for it must not have
 * more (a bind of port 80, chmod of another user's file).  drop: empty
 * our effective set (this thread only), true when something was dropped;
 * !drop: restore it (after a true).
 */
bool	 sandbox_mediator_caps(struct mediator *, bool drop);

/* ---- mediate_pty.c ----------------------------------------------------- */

/*
 * ioctl(master, TIOCGPTPEER): open the peer of the child's own master
 * ourselves and install it in the child (ptys it makes; SPEC §3.2).
 */
void	 sandbox_mediate_pty(struct mediator *,
	    const struct seccomp_notif *);

/*
 * open/openat with O_NOCTTY: the slave of the caller's own pty by path
 * (/dev/pts/N) is installed like TIOCGPTPEER's; every other such open is
 * handed back to the kernel with SECCOMP_USER_NOTIF_FLAG_CONTINUE, the
 * one use of it: the kernel then checks the child's own call (Landlock),
 * so nothing the child rewrites after we read can widen what it gets.
 */
void	 sandbox_mediate_pty_open(struct mediator *,
	    const struct seccomp_notif *);

/* ---- mediate_listen.c -------------------------------------------------- */

/* listen(): refused on a never-bound inet socket, else performed. */
void	 sandbox_mediate_listen(struct mediator *,
	    const struct seccomp_notif *);

/*
 * Decide on the AF_UNIX address op->addr/op->len (our copy) and point it
 * at the pinned socket inode (op->pathfd).  0 with op->verdict
 * MEDIATOR_UNIX (rewritten) or MEDIATOR_PASS (unnamed: unchanged);
 * -errno (EACCES audited; -ESRCH: check validity).
 */
int	 sandbox_mediate_unix_resolve(struct med_op *);

/* An AF_UNIX bind: a pathname is bound here, in a write grant only. */
void	 sandbox_mediate_unix_bind(struct med_op *, int fd);

/* ---- mediate_dns.c ----------------------------------------------------- */

/* socket(AF_INET/AF_INET6, SOCK_DGRAM, 0): made in the DNS namespace. */
void	 sandbox_mediate_socket(struct mediator *,
	    const struct seccomp_notif *);

/*
 * An inet connect (n: normalised address) that is DNS: a UDP socket of
 * ours, or TCP to a nameserver on port 53.  true when op was taken.
 */
bool	 sandbox_mediate_dns_connect(struct med_op *, int fd,
	    const struct sockaddr_storage *n, uint16_t port);

/* The answerer's lookup (dnsd_lookup_fn) over m's direct grants. */
int	 sandbox_mediate_inet_lookup(void *m, const char *name,
	    uint16_t qtype, struct sockaddr_storage *addrs, size_t max,
	    size_t *n, uint32_t *ttl, struct dnsd_query *q);

/* Cancel the look-ups in flight and drop what they found (free). */
void	 sandbox_mediate_inet_free(struct mediator *);

#endif
