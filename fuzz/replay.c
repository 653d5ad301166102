/*
 * Replay inputs through one fuzz target, once each, without libFuzzer:
 * `make test` links every fuzz/fuzz_<target>.c with this main and the
 * sanitizer library (ASan+UBSan, built by the project's compiler) and runs
 * it over the target's seed corpus and its saved crashes (fuzz/replay.sh).
 *
 *	replay_<target> FILE...
 *
 * Each input is read into an exact-size heap buffer (ASan sees a read past
 * its end) and gets REPLAY_SECONDS; an input still running then is a hang,
 * reported by name and exit 1.  A crash or a broken invariant aborts.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define REPLAY_SECONDS	10

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char	*current;

static void
on_alarm(int sig)
{
	static const char	msg[] = "replay: hang (over 10 s): ";

	(void)sig;
	(void)!write(2, msg, sizeof(msg) - 1);
	(void)!write(2, current, strlen(current));
	(void)!write(2, "\n", 1);
	_exit(1);
}

/* The whole file in an exact-size buffer (1 byte for an empty one). */
static uint8_t *
slurp(const char *path, size_t *lenp)
{
	struct stat	 st;
	uint8_t		*buf;
	size_t		 len, got = 0;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	len = (size_t)st.st_size;
	if ((buf = malloc(len == 0 ? 1 : len)) == NULL)
		abort();
	while (got < len) {
		n = read(fd, buf + got, len - got);
		if (n <= 0) {
			fprintf(stderr, "replay: %s: short read\n", path);
			exit(2);
		}
		got += (size_t)n;
	}
	close(fd);
	*lenp = len;
	return buf;
}

int
main(int argc, char **argv)
{
	uint8_t	*buf;
	size_t	 len;
	int	 i;

	LLVMFuzzerInitialize(&argc, &argv);
	signal(SIGALRM, on_alarm);
	for (i = 1; i < argc; i++) {
		current = argv[i];
		buf = slurp(argv[i], &len);
		alarm(REPLAY_SECONDS);
		LLVMFuzzerTestOneInput(buf, len);
		alarm(0);
		free(buf);
	}
	return 0;
}
