#!/bin/sh
# Install the Debian packages keyhole's build, tests, demo and benchmarks
# need.  Idempotent and quiet when everything is already there.
set -eu

PKGS="build-essential clang pkg-config make
libssl-dev openssl libevent-dev libhttp-parser-dev libjansson-dev
libseccomp-dev libcmocka-dev libclang-rt-14-dev
python3 python3-pytest python3-jsonschema curl ca-certificates iproute2
scdoc groff-base zsh fish debhelper dpkg-dev lintian
valgrind keyutils tmux openssh-client git wget nodejs nftables python3-yaml
default-jdk-headless
systemd"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done

[ -z "$missing" ] && exit 0

echo "deps.sh: installing:$missing" >&2
if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
else
	SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
