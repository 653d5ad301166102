"""No built-in profile lets the sandboxed program write where code is kept
that runs outside the sandbox later (SPEC 3.2): editor extensions and
settings, directories on PATH, Python's user site, shell start-up files,
autostart entries, git's configuration, caches of tools that execute what
they cached.  Checked on the grants `keyhole run --dry-run` prints for a
home where every one of those places exists."""

import os
import re
import shutil
import tempfile

import pytest

from run_fixtures import Box, scratch_base
from test_profile_cmd import BUILTINS

# Relative to HOME.  A write grant may lie inside one of these only if it
# is listed in ALLOWED_INSIDE (a tool's own cache directory), and may
# never equal or contain one.
PLANTING = [
	".vscode", ".vscode/extensions", ".config/Code", ".config/Code/User",
	".local", ".local/bin", ".local/lib", ".local/lib/python3/site-packages",
	".local/share/applications", ".config/autostart", ".config/systemd",
	".cache", ".cache/pre-commit", ".cache/node/corepack",
	".cache/ms-playwright", ".cache/puppeteer",
	".bashrc", ".profile", ".zshrc", ".config/fish", ".vimrc",
	".config/nvim", ".emacs.d", ".gitconfig", ".config/git", ".git-templates",
]
FILES = {".bashrc", ".profile", ".zshrc", ".vimrc", ".gitconfig"}

GRANT = re.compile(r"^grant (rw|w) +(\S+)", re.M)


def _within(path, root):
	return path == root or path.startswith(root.rstrip("/") + "/")


@pytest.fixture(scope="module")
def home():
	d = tempfile.mkdtemp(prefix="test-plant-", dir=scratch_base())
	h = os.path.join(d, "home")
	for rel in PLANTING:
		p = os.path.join(h, rel)
		if rel in FILES:
			os.makedirs(os.path.dirname(p), exist_ok=True)
			open(p, "w").close()
		else:
			os.makedirs(p, exist_ok=True)
	# The agents' own directories, so their grants show up too.
	for rel in (".claude", ".codex", ".opencode", ".openclaw",
	    ".config/opencode", ".config/openclaw", ".config/swival",
	    ".cache/opencode", ".cache/swival", ".cache/claude-cli-nodejs",
	    ".local/share/opencode", ".local/share/openclaw",
	    ".local/state/openclaw", ".local/share/swival"):
		os.makedirs(os.path.join(h, rel), exist_ok=True)
	yield os.path.realpath(h)
	shutil.rmtree(d, ignore_errors=True)


@pytest.mark.parametrize("name", BUILTINS)
def test_builtin_profile_grants_no_write_where_code_runs_later(keyhole,
    home, name):
	box = Box(keyhole)
	try:
		res = box.run("run", "--profile", name, "--dry-run", "--",
		    "/bin/true", env={"HOME": home})
	finally:
		box.close()
	assert res.rc == 0, res
	grants = [g for _, g in GRANT.findall(res.out + res.err)]
	assert grants, res	# the parse found the grants
	bad = []
	for g in grants:
		for rel in PLANTING:
			place = os.path.join(home, rel)
			if _within(place, g):
				bad.append("%s covers %s" % (g, rel))
	assert not bad, "%s: %s" % (name, "; ".join(bad))


def test_claude_code_reads_vscode_settings(keyhole, home):
	box = Box(keyhole)
	try:
		res = box.run("run", "--profile", "claude-code", "--dry-run",
		    "--", "/bin/true", env={"HOME": home})
	finally:
		box.close()
	assert res.rc == 0, res
	text = res.out + res.err
	assert re.search(r"^grant r +%s$" % re.escape(
	    os.path.join(home, ".config/Code")), text, re.M), text
	assert re.search(r"^grant r +%s$" % re.escape(
	    os.path.join(home, ".vscode")), text, re.M), text
