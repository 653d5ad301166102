#!/bin/sh
# Build the libFuzzer targets and run each one for a bounded time.
#
#	sh fuzz/run.sh			# every target, FUZZ_SECONDS each
#	FUZZ_SECONDS=20 sh fuzz/run.sh http sni
#
# Each target runs on a fresh copy of its committed seed corpus in
# fuzz/corpus-run/<target>/ (git-ignored; the committed fuzz/corpus/ is
# never written), with its log in fuzz/corpus-run/<target>.log.  A crash
# input lands in fuzz/corpus-run/artifacts/.  Prints one line per target:
# "TARGET: N execs, clean" or "TARGET: CRASH <input>"; exits 1 if any
# target crashed, 2 if the build failed.
set -eu

cd "$(dirname "$0")/.."
secs=${FUZZ_SECONDS:-60}
# FUZZ_RUNS and FUZZ_SEED: a fixed number of inputs from a fixed seed, so a
# run inside `make test` is the same run every time (a random find must not
# turn CI red by chance; `make fuzz` stays the open-ended search).
bound=
[ -n "${FUZZ_RUNS:-}" ] && bound="-runs=$FUZZ_RUNS"
[ -n "${FUZZ_SEED:-}" ] && bound="$bound -seed=$FUZZ_SEED"
case $secs in
''|*[!0-9]*) echo "run.sh: FUZZ_SECONDS must be a number of seconds" >&2
	exit 2 ;;
esac
targets=$*
[ -n "$targets" ] || targets=$(make -s --no-print-directory -f fuzz/Makefile list)

if ! make -s -f fuzz/Makefile -j2 all >fuzz-build.log.tmp 2>&1; then
	cat fuzz-build.log.tmp >&2
	rm -f fuzz-build.log.tmp
	echo "run.sh: build failed (needs clang with libFuzzer: Debian" \
	    "libclang-rt-<N>-dev, and the libraries of 'make deps')" >&2
	exit 2
fi
rm -f fuzz-build.log.tmp

run=fuzz/corpus-run
mkdir -p "$run/artifacts"
status=0
for t in $targets; do
	bin=build/fuzz/fuzz_$t
	if [ ! -x "$bin" ] || [ ! -d "fuzz/corpus/$t" ]; then
		echo "$t: unknown target" >&2
		status=1
		continue
	fi
	rm -rf "${run:?}/$t"
	cp -R "fuzz/corpus/$t" "$run/$t"
	rm -f "$run/artifacts/$t-"*
	dict=
	[ -f "fuzz/$t.dict" ] && dict=-dict=fuzz/$t.dict
	rc=0
	# shellcheck disable=SC2086
	"$bin" -max_total_time="$secs" $bound -timeout=10 -print_final_stats=1 \
	    -artifact_prefix="$run/artifacts/$t-" $dict "$run/$t" \
	    >"$run/$t.log" 2>&1 || rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' \
	    "$run/$t.log" | tail -n 1)
	crash=$(ls "$run/artifacts/$t-"* 2>/dev/null | head -n 1 || true)
	if [ "$rc" -eq 0 ] && [ -z "$crash" ]; then
		echo "$t: ${execs:-0} execs, clean"
	else
		status=1
		echo "$t: CRASH ${crash:-(no input saved, exit $rc)}" \
		    "(${execs:-?} execs; log $run/$t.log)"
		grep -m 3 -E 'ERROR:|runtime error|fuzz invariant' \
		    "$run/$t.log" | sed 's/^/    /' || true
	fi
done
exit $status
