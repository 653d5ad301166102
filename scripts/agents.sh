#!/bin/sh
# Install, once, the real agents the integration tests run
# (tests/integration/test_agents_real.py) into a cache that later runs and
# CI reuse:
#   ${KEYHOLE_AGENTS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/keyhole-agents}/NAME
# Usage: scripts/agents.sh [claude] [codex]   (default: both)
# Needs npm and the npm registry; exits non-zero when either is missing,
# and the tests then skip, saying why.
set -eu

DIR=${KEYHOLE_AGENTS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/keyhole-agents}
CLAUDE_PKG=@anthropic-ai/claude-code@2.1.332
CODEX_PKG=@openai/codex@0.171.0

command -v npm >/dev/null 2>&1 || { echo "agents.sh: npm not found" >&2; exit 1; }
[ $# -gt 0 ] || set -- claude codex
for name in "$@"; do
	case $name in
	claude) pkg=$CLAUDE_PKG ;;
	codex) pkg=$CODEX_PKG ;;
	*) echo "agents.sh: unknown agent $name" >&2; exit 2 ;;
	esac
	stamp=$DIR/$name/.installed-$(echo "$pkg" | tr '/@' '__')
	[ -f "$stamp" ] && continue
	mkdir -p "$DIR/$name"
	echo "agents.sh: installing $pkg into $DIR/$name" >&2
	# The native binaries come as optional dependencies; no install
	# scripts are needed (or run).
	npm install --prefix "$DIR/$name" --no-audit --no-fund \
	    --no-update-notifier --ignore-scripts "$pkg" >&2
	touch "$stamp"
done
