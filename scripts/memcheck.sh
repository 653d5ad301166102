#!/bin/sh
# Run a fast subset of the proxy integration tests with every keyhole
# process under valgrind (issue 7); fail if any of them reported a memory
# error or a definite leak.
#
#   scripts/memcheck.sh                 # the default subset
#   scripts/memcheck.sh tests/integration/test_proxy_auth.py -k basic
#
# KEYHOLE_RELEASE: the binary to check (default build/keyhole; not the ASan
# build, valgrind and ASan do not mix).  MEMCHECK_DIR: where the per-process
# logs go (default a fresh /tmp/keyhole-memcheck.XXXXXX, kept).
#
# Valgrind's logs are written without -q so that a run that did not finish
# (killed by a test's deadline) can be told from a clean one: a finished
# run ends with "ERROR SUMMARY".  --errors-for-leak-kinds=definite makes a
# definite leak count as an error there.
#
# Exit: 0 clean; 1 valgrind errors or definite leaks; 2 tests failed (logs
# clean); 3 setup problem.
set -u

REPO=$(cd "$(dirname "$0")/.." && pwd)
BIN=${KEYHOLE_RELEASE:-$REPO/build/keyhole}
OUT=${MEMCHECK_DIR:-$(mktemp -d /tmp/keyhole-memcheck.XXXXXX)}
PYTHON=${PYTHON:-/usr/bin/python3}

command -v valgrind >/dev/null 2>&1 || { echo "memcheck: valgrind not found" >&2; exit 3; }
[ -x "$BIN" ] || { echo "memcheck: $BIN not built (make build/keyhole)" >&2; exit 3; }
if nm -D "$BIN" 2>/dev/null | grep -q __asan_init; then
	echo "memcheck: $BIN is an ASan build; use the release binary" >&2
	exit 3
fi
mkdir -p "$OUT" && rm -f "$OUT"/vg.*

WRAP=$OUT/keyhole
cat >"$WRAP" <<EOF
#!/bin/sh
exec valgrind --error-exitcode=99 --leak-check=full \\
    --errors-for-leak-kinds=definite --track-fds=no \\
    --log-file="$OUT/vg.%p" "$BIN" "\$@"
EOF
chmod +x "$WRAP"

if [ $# -eq 0 ]; then
	# Fast, and tolerant of a valgrind-slow proxy (SOCK_TIMEOUT 3 s,
	# start 10 s).  Deselected: tests whose deadlines are about the proxy's
	# own speed.
	set -- \
	    tests/integration/test_proxy_auth.py \
	    tests/integration/test_proxy_connect.py \
	    tests/integration/test_proxy_forward.py \
	    tests/integration/test_proxy_audit.py \
	    tests/integration/test_proxy_upstream.py \
	    tests/integration/test_hardening_upstream.py \
	    tests/integration/test_hardening_audit.py \
	    "tests/integration/test_hardening_smuggling.py::test_ambiguous_framing_is_400_and_never_forwarded" \
	    tests/integration/test_hardening_vanish.py \
	    -k "not sigterm_during_heavy and not ten_thousand"
	for f in test_reverse_deny.py test_reverse_inject.py; do
		[ -e "$REPO/tests/integration/$f" ] &&
		    set -- "tests/integration/$f" "$@"
	done
fi

echo "memcheck: $BIN under valgrind; logs in $OUT"
cd "$REPO" || exit 3
start=$(date +%s)
KEYHOLE=$WRAP KEYHOLE_RELEASE=$WRAP KEYHOLE_MEMCHECK=1 \
    timeout 3600 "$PYTHON" -m pytest -q -p no:cacheprovider "$@"
prc=$?
echo "memcheck: pytest exit $prc after $(( $(date +%s) - start )) s"

# Let valgrind processes still writing their leak reports finish.
i=0
while pgrep -f "log-file=$OUT/" >/dev/null 2>&1 && [ $i -lt 60 ]; do
	sleep 0.5
	i=$((i + 1))
done

total=0 bad=0 unfinished=0
for f in "$OUT"/vg.*; do
	[ -e "$f" ] || continue
	total=$((total + 1))
	if ! grep -q "ERROR SUMMARY:" "$f"; then
		unfinished=$((unfinished + 1))
		echo "memcheck: $f: no ERROR SUMMARY (killed before exit?)"
	fi
	if grep -q "ERROR SUMMARY: [1-9]" "$f" || \
	    grep -q "definitely lost: [1-9]" "$f" || \
	    grep -qE "^==[0-9]+== (Invalid|Conditional|Syscall param|Mismatched|Source and destination)" "$f"; then
		bad=$((bad + 1))
		echo "==== $f"
		grep -v "^==[0-9]*== *$" "$f" | sed -n '/Command:/p;/Invalid\|Conditional\|Syscall\|Mismatched\|definitely lost in\|ERROR SUMMARY/,+25p' | head -120
	fi
done
echo "memcheck: $total keyhole runs, $bad with errors or definite leaks," \
    "$unfinished unfinished"
[ $total -gt 0 ] || { echo "memcheck: no valgrind logs" >&2; exit 3; }
[ $bad -eq 0 ] || exit 1
[ $prc -eq 0 ] || exit 2
exit 0
