"""Shell completions (SPEC 10): bash, driven through COMP_WORDS and
COMP_CWORD, offers the commands and exactly each command's options; the
zsh and fish files load; the committed files are what scripts/compgen.py
makes from the binary's help."""

import json
import os
import re
import shutil
import subprocess

import pytest

from conftest import REPO
from dist_help import commands, per_command

COMP = os.path.join(REPO, "completions")


@pytest.fixture(scope="module")
def shell_env(keyhole, tmp_path_factory):
	"""PATH with `keyhole` (the test build) first, a private HOME."""
	d = tmp_path_factory.mktemp("compbin")
	os.symlink(keyhole, d / "keyhole")
	home = tmp_path_factory.mktemp("comphome")
	env = dict(os.environ, PATH="%s:%s" % (d, os.environ["PATH"]),
	    HOME=str(home), ASAN_OPTIONS="detect_leaks=0")
	env.pop("XDG_CONFIG_HOME", None)
	return env


def bash_complete(env, *words):
	"""COMPREPLY for the command line words (the last is being typed)."""
	script = ('source %s\nCOMP_WORDS=(%s)\nCOMP_CWORD=%d\n_keyhole\n'
	    'printf "%%s\\n" "${COMPREPLY[@]}"\n' % (
	    os.path.join(COMP, "keyhole.bash"),
	    " ".join("'%s'" % w for w in words), len(words) - 1))
	p = subprocess.run(["bash", "--norc", "--noprofile", "-c", script],
	    capture_output=True, text=True, env=env, timeout=30)
	assert p.returncode == 0, p.stderr
	return set(l for l in p.stdout.splitlines() if l)


def test_bash_offers_every_command(keyhole, shell_env):
	assert bash_complete(shell_env, "keyhole", "") == set(commands(keyhole))
	assert bash_complete(shell_env, "keyhole", "pr") == {"proxy",
	    "profile"}


def test_bash_offers_exactly_each_commands_options(keyhole, shell_env):
	for cmd, spell in per_command(keyhole).items():
		if cmd == "help":
			continue
		words = ["keyhole"] + ([cmd] if cmd else []) + ["-"]
		got = bash_complete(shell_env, *words)
		assert got == spell, (cmd, sorted(got ^ spell))


def test_bash_completes_option_values(keyhole, shell_env):
	with open(os.path.join(REPO, "data", "network-policy.json")) as f:
		np = json.load(f)
	assert bash_complete(shell_env, "keyhole", "run",
	    "--network-profile", "") == set(np["profiles"])
	assert bash_complete(shell_env, "keyhole", "proxy", "--credential",
	    "") == set(np["credentials"])
	assert bash_complete(shell_env, "keyhole", "why", "--op", "") == {
	    "read", "write", "readwrite"}
	got = bash_complete(shell_env, "keyhole", "run", "-p", "")
	assert {"default", "claude-code", "codex", "opencode"} <= got, got


def test_bash_completes_profile_names_from_profile_list(keyhole, shell_env):
	d = os.path.join(shell_env["HOME"], ".config", "keyhole", "profiles")
	os.makedirs(d, exist_ok=True)
	with open(os.path.join(d, "mine-xyz.json"), "w") as f:
		f.write("{}")
	assert bash_complete(shell_env, "keyhole", "profile", "show",
	    "mine") == {"mine-xyz"}
	assert bash_complete(shell_env, "keyhole", "profile", "") == {
	    "list", "show", "validate", "schema"}


def test_bash_completes_the_sandboxed_command_after_run(shell_env):
	got = bash_complete(shell_env, "keyhole", "run", "--allow", "/tmp",
	    "bas")
	assert "bash" in got, got
	# An option's value is not taken for the command.
	got = bash_complete(shell_env, "keyhole", "run", "-p", "codex", "-")
	assert "--allow" in got, got


def test_completion_files_are_current(keyhole, tmp_path):
	subprocess.run(["/usr/bin/python3",
	    os.path.join(REPO, "scripts", "compgen.py"), keyhole,
	    str(tmp_path)], check=True, timeout=60)
	for name in ("keyhole.bash", "_keyhole", "keyhole.fish"):
		with open(os.path.join(COMP, name)) as a, \
		    open(tmp_path / name) as b:
			assert a.read() == b.read(), \
			    "%s is stale: run `make completions`" % name


def need(shell):
	if shutil.which(shell) is None:
		pytest.skip("%s is not installed (scripts/deps.sh installs it)"
		    % shell)


def test_zsh_completion_parses():
	need("zsh")
	p = subprocess.run(["zsh", "-n", os.path.join(COMP, "_keyhole")],
	    capture_output=True, text=True, timeout=30)
	assert p.returncode == 0 and p.stderr == "", p.stderr


def test_fish_completion_parses_and_completes(shell_env):
	need("fish")
	f = os.path.join(COMP, "keyhole.fish")
	p = subprocess.run(["fish", "-n", f], capture_output=True, text=True,
	    timeout=30)
	assert p.returncode == 0 and p.stderr == "", p.stderr
	p = subprocess.run(["fish", "--no-config", "-c", "source %s; "
	    "complete -C 'keyhole '; echo ---; complete -C 'keyhole run --netw';"
	    " echo ---; complete -C 'keyhole profile show cod'" % f],
	    capture_output=True, text=True, env=shell_env, timeout=30)
	assert p.returncode == 0, p.stderr
	cmds, opts, profs = [set(l.split("\t")[0] for l in part.splitlines()
	    if l) for part in p.stdout.split("---\n")]
	assert {"run", "shell", "proxy", "why", "profile"} <= cmds, cmds
	assert opts == {"--network-profile"}, opts
	assert profs == {"codex"}, profs


# Replaces zsh's completion functions: _arguments prints its specs, and the
# -C call (the command word) moves on to the command's arguments.
ZSH_STUB = r"""
_describe() { :; }
_arguments() {
	if [[ $1 == -C ]]; then
		[[ -z $words[1] ]] && print -rl -- "${@[2,-1]}"
		state=args
		return 0
	fi
	print -rl -- "$@"
}
words=(%s)
curcontext=x:y:z
source %s
"""


def test_zsh_offers_exactly_each_commands_options(keyhole):
	need("zsh")
	for cmd, spell in per_command(keyhole).items():
		if cmd == "help":
			continue
		p = subprocess.run(["zsh", "-f", "-c", ZSH_STUB % (cmd or "''",
		    os.path.join(COMP, "_keyhole"))], capture_output=True,
		    text=True, timeout=30)
		assert p.returncode == 0, p.stderr
		got = set(m.group(1) for m in (re.match(
		    r"^(?:\([^)]*\))?\*?(--?[\w-]+)[+=]?\[", l)
		    for l in p.stdout.splitlines()) if m)
		assert got == spell, (cmd, sorted(got ^ spell))
