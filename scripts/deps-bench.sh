#!/bin/sh
# Install the Debian packages the benchmarks under bench/ need.  Idempotent
# and quiet when everything is already there.  squid is optional: it is
# installed only when apt knows a candidate for it.
set -eu

PKGS="hyperfine wrk nginx-light tinyproxy bubblewrap python3 curl openssl
strace linux-perf
build-essential"

if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
else
	SUDO=
fi
export DEBIAN_FRONTEND=noninteractive

installed()
{
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null |
	    grep -q "install ok installed"
}

missing=""
for p in $PKGS; do
	installed "$p" || missing="$missing $p"
done
installed squid || missing="$missing squid?"

[ -z "$missing" ] && exit 0

echo "deps-bench.sh: installing:$missing" >&2
$SUDO apt-get update -qq >/dev/null

req=""
for p in $missing; do
	case $p in
	squid\?)
		if apt-cache policy squid 2>/dev/null |
		    grep -q 'Candidate: [0-9]'; then
			req="$req squid"
		else
			echo "deps-bench.sh: squid not available; skipped" >&2
		fi
		;;
	*)	req="$req $p" ;;
	esac
done

[ -z "$req" ] && exit 0
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $req >/dev/null
# The packaged services must not run on their own: the benchmarks start
# their own instances on loopback with temporary configs.
for s in nginx tinyproxy squid; do
	if command -v systemctl >/dev/null 2>&1 &&
	    systemctl is-active --quiet "$s" 2>/dev/null; then
		$SUDO systemctl stop "$s" >/dev/null 2>&1 || true
	fi
done
exit 0
