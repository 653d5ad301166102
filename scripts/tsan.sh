#!/bin/sh
# Build keyhole with ThreadSanitizer (make tsan: build/tsan/keyhole) and run
# the mediator's stress programs with it (scripts/tsan_stress.py): 8
# threads connecting (allowed and denied), denied chmod and utimensat,
# getaddrinfo, a descendant outliving the child, the run ending while
# handlers are busy, in blocked and proxy mode; connects waiting on the
# loop with unix sockets and ptys; connects by name in proxy mode;
# report-only mode; bench/connloop's 8 connecting threads.  Not part of
# make test (about 50 s).
#
#   scripts/tsan.sh                 # every program, 3 rounds
#   scripts/tsan.sh 5 proxy blocked # 5 rounds of the two named ones
#
# Programs: blocked blocked-cut proxy proxy-cut waits byname report
# connloop.  Runs in a
# network namespace of its own (unshare --net: root, or a user namespace)
# so nothing can leave the machine.  TSAN_CC=gcc builds with gcc's
# libtsan (after `rm -rf build/tsan`: the objects are not rebuilt for a
# change of compiler).  TSAN_DIR: where the reports go (default a fresh
# /tmp/keyhole-tsan.XXXXXX, kept).
#
# Exit: 0 no report; 1 ThreadSanitizer reports (listed); 2 a run did not
# end as expected; 3 setup problem.
set -u

REPO=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-/usr/bin/python3}
ROUNDS=${1:-3}
[ $# -gt 0 ] && shift
OUT=${TSAN_DIR:-$(mktemp -d /tmp/keyhole-tsan.XXXXXX)}
mkdir -p "$OUT" || exit 3

cd "$REPO" || exit 3
nice make -j2 tsan ${TSAN_CC:+TSAN_CC=$TSAN_CC} >"$OUT/build.log" 2>&1 || {
	tail -20 "$OUT/build.log" >&2
	echo "tsan: build failed (log: $OUT/build.log)" >&2
	exit 3
}
cc -O1 -pthread -o build/tsan/connloop bench/connloop.c || exit 3
rm -f "$OUT"/*.[0-9]*.[0-9]*

if [ "$(id -u)" = 0 ]; then
	NS="unshare --net --"
else
	NS="unshare --user --map-root-user --net --"
fi
CONNLOOP=$REPO/build/tsan/connloop nice $NS sh -c "ip link set lo up &&
    $PYTHON scripts/tsan_stress.py $REPO/build/tsan/keyhole $OUT $ROUNDS $*"
rc=$?
if [ $rc -ne 0 ] && [ $rc -ne 2 ]; then
	echo "tsan: cannot run the programs (unshare --net, ip?)" >&2
	exit 3
fi

n=$(cat "$OUT"/*.[0-9]*.[0-9]* 2>/dev/null | grep -c "WARNING: ThreadSanitizer")
bad=$(grep -l "ThreadSanitizer" "$OUT"/*.[0-9]*.[0-9]* 2>/dev/null)
if [ -n "$bad" ]; then
	echo "tsan: $n report(s), in:"
	echo "$bad"
	grep -h "^SUMMARY: ThreadSanitizer\|CHECK failed" $bad | sort | uniq -c
	exit 1
fi
[ $rc -eq 0 ] || { echo "tsan: a run did not end as expected" >&2; exit 2; }
echo "tsan: no report ($OUT)"
exit 0
