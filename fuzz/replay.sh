#!/bin/sh
# Replay every input a fuzzer has ever been given or found through its
# target once, under ASan+UBSan (make fuzz-replay, part of make test):
# fuzz/corpus/<target>/* (the seeds) and fuzz/crashes/<target>-*.bin (the
# crash and timeout artifacts, kept for good).  The replay binaries are
# build/asan/fuzz/replay_<target> (fuzz/replay.c).  A crash file whose
# name names no target fails the run: nothing found is ever skipped.
set -eu

cd "$(dirname "$0")/.."
status=0
targets=$(ls fuzz/fuzz_*.c | sed 's|fuzz/fuzz_||; s|\.c$||')

for f in fuzz/crashes/*; do
	[ -e "$f" ] || continue
	t=$(basename "$f" | sed 's/-.*//')
	if [ ! -f "fuzz/fuzz_$t.c" ]; then
		echo "fuzz-replay: $f names no target (fuzz/fuzz_$t.c)" >&2
		status=1
	fi
done

for t in $targets; do
	set --
	for f in fuzz/corpus/"$t"/* fuzz/crashes/"$t"-*; do
		[ -f "$f" ] && set -- "$@" "$f"
	done
	if [ $# -eq 0 ]; then
		echo "fuzz-replay: $t: no seed corpus (fuzz/corpus/$t/)" >&2
		status=1
		continue
	fi
	if ASAN_OPTIONS=detect_leaks=1 "build/asan/fuzz/replay_$t" "$@"; then
		echo "fuzz-replay: $t: $# inputs, clean"
	else
		status=1
		# name the input(s): each one again on its own
		for f in "$@"; do
			ASAN_OPTIONS=detect_leaks=1 \
			    "build/asan/fuzz/replay_$t" "$f" >/dev/null 2>&1 ||
			    echo "fuzz-replay: $t: FAILED on $f" >&2
		done
	fi
done
exit $status
