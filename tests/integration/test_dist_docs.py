"""Every example command of the user docs runs (SPEC 10).

A fenced block is marked by an HTML comment on the line before it:

  <!-- keyhole-test -->            run the block (bash -e); exit status 0
  <!-- keyhole-test rc=N -->       ... exit status N
  <!-- keyhole-test dry-run -->    run it with --dry-run added to every
                                   `keyhole run|shell|proxy` (the example
                                   needs an agent or a key we do not have)
  <!-- keyhole-test file=NAME -->  write the block to NAME (relative to the
                                   working directory, or ~/...) first
  <!-- keyhole-test no-run: why --> a command block that names no keyhole
                                   command (make test, ...)

Every `sh` block must be marked, so no example escapes.  Blocks run in
document order, in a scratch working directory and HOME (outside /tmp,
which the default policy grants), with the test build first in PATH, and
run in a network namespace whose only interface is lo, so nothing they do
leaves the machine.
"""

import os
import re
import shutil
import subprocess
import tempfile

import pytest

from conftest import REPO, assert_no_sanitizer_report, _clean_env

# Every user page: the README and docs/ but the developers' HACKING.md.
DOCS = ["README.md"] + sorted(
    os.path.relpath(os.path.join(d, f), REPO)
    for d, _, files in os.walk(os.path.join(REPO, "docs"))
    for f in files if f.endswith(".md") and f != "HACKING.md")

MARK = re.compile(r"^<!-- keyhole-test(?:\s+(.*?))?\s*-->$")
DRY = re.compile(r"^(\s*keyhole (?:run|shell|proxy))\b", re.M)


def blocks(path):
	"""[(line, lang, marker or None, text)] of a Markdown file."""
	with open(os.path.join(REPO, path)) as f:
		lines = f.read().split("\n")
	out = []
	i = 0
	while i < len(lines):
		m = re.match(r"^```(\w*)\s*$", lines[i])
		if not m:
			i += 1
			continue
		start, lang = i, m.group(1)
		j = i - 1
		while j >= 0 and lines[j].strip() == "":
			j -= 1
		mk = MARK.match(lines[j]) if j >= 0 else None
		marker = (mk.group(1) or "") if mk else None
		i += 1
		body = []
		while not lines[i].startswith("```"):
			body.append(lines[i])
			i += 1
		out.append((start + 1, lang, marker, "\n".join(body) + "\n"))
		i += 1
	return out


def attrs(marker):
	a = {}
	for part in marker.split():
		k, _, v = part.partition("=")
		a[k] = v
	return a


def test_every_command_block_is_marked():
	seen = 0
	for doc in DOCS:
		for line, lang, marker, text in blocks(doc):
			if lang != "sh":
				continue
			seen += 1
			where = "%s:%d" % (doc, line)
			assert marker is not None, \
			    "%s: a sh block without <!-- keyhole-test -->" % where
			if marker.startswith("no-run:"):
				assert not re.search(r"^\s*keyhole ", text, re.M), \
				    "%s: keyhole commands must run" % where
				assert marker[len("no-run:"):].strip(), where
	assert seen >= 30, seen


def docs_with_runs():
	return [d for d in DOCS if any(m is not None and
	    not m.startswith("no-run:") for _, _, m, _ in blocks(d))]


@pytest.mark.parametrize("doc", docs_with_runs())
def test_doc_examples_run(keyhole, doc):
	scratch = tempfile.mkdtemp(prefix="keyhole-docs-", dir="/var/tmp")
	try:
		run_doc(keyhole, doc, scratch)
	finally:
		shutil.rmtree(scratch, ignore_errors=True)


# Each block runs in a network namespace of its own where lo is the only
# interface: keyhole resolves credential hosts when a run starts, and that
# lookup must not leave the machine.  Root makes the namespace directly,
# anyone else through a user namespace.
OFFLINE = ["unshare", "--net"] + ([] if os.geteuid() == 0 else ["-r"]) + [
    "--", "sh", "-c", 'ip link set lo up && exec "$@"', "sh"]


def run_doc(keyhole, doc, scratch):
	home = os.path.join(scratch, "home")
	work = os.path.join(scratch, "work")
	bindir = os.path.join(scratch, "bin")
	for d in (home, work, bindir):
		os.mkdir(d)
	os.symlink(keyhole, os.path.join(bindir, "keyhole"))
	env = _clean_env({"HOME": home,
	    "PATH": bindir + ":" + os.environ.get("PATH", "/usr/bin:/bin")})
	for k in ("XDG_CONFIG_HOME", "TMPDIR", "WORKDIR", "SHELL"):
		env.pop(k, None)
	ran = 0
	for line, lang, marker, text in blocks(doc):
		if marker is None or marker.startswith("no-run:"):
			continue
		where = "%s:%d" % (doc, line)
		a = attrs(marker)
		if "file" in a:
			name = a["file"]
			path = os.path.join(home, name[2:]) if name.startswith(
			    "~/") else os.path.join(work, name)
			os.makedirs(os.path.dirname(path), exist_ok=True)
			with open(path, "w") as f:
				f.write(text)
			continue
		assert lang == "sh", "%s: only sh blocks run" % where
		if "dry-run" in a:
			text = DRY.sub(r"\1 --dry-run", text)
		p = subprocess.run(OFFLINE + ["bash", "--norc", "--noprofile",
		    "-e", "-c", text], cwd=work, env=env, capture_output=True,
		    text=True, timeout=120, stdin=subprocess.DEVNULL)
		out = p.stdout + p.stderr
		assert_no_sanitizer_report(out, "%s: sanitizer report" % where)
		want = int(a.get("rc", "0"))
		assert p.returncode == want, "%s: exit %d, want %d\n%s\n%s" % (
		    where, p.returncode, want, text, out)
		ran += 1
	assert ran > 0


def test_user_docs_link_only_inside_the_repository():
	"""Nothing a user needs lives outside the repository: relative links
	resolve, and no page points at the project's shared folder."""
	for doc in DOCS:
		with open(os.path.join(REPO, doc)) as f:
			text = f.read()
		assert "../shared" not in text and "SPEC.md" not in text, doc
		for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text):
			if re.match(r"^[a-z]+:", target):
				continue
			path = os.path.normpath(os.path.join(REPO,
			    os.path.dirname(doc), target))
			assert path.startswith(REPO + os.sep), (doc, target)
			assert os.path.exists(path), (doc, target)


def test_man_page_examples_run(keyhole):
	"""keyhole(1)'s EXAMPLES, each with --dry-run (they name agents and
	keys the test does not have)."""
	with open(os.path.join(REPO, "man", "keyhole.1.scd")) as f:
		scd = f.read()
	ex = scd.split("\n# EXAMPLES\n", 1)[1].split("\n# ", 1)[0]
	cmds = [b.replace("\\\\\n", " ") for b in re.findall(r"```\n(.*?)```",
	    ex, re.S)]
	assert len(cmds) >= 4, cmds
	scratch = tempfile.mkdtemp(prefix="keyhole-man-", dir="/var/tmp")
	try:
		home = os.path.join(scratch, "home")
		work = os.path.join(scratch, "work")
		os.mkdir(home)
		os.mkdir(work)
		env = _clean_env({"HOME": home})
		for c in cmds:
			text = DRY.sub(r"\1 --dry-run", c).strip()
			assert text.startswith("keyhole "), text
			text = keyhole + text[len("keyhole"):]
			p = subprocess.run(OFFLINE + ["bash", "-e", "-c", text],
			    cwd=work, env=env, capture_output=True, text=True,
			    timeout=60)
			assert p.returncode == 0, (text, p.stdout, p.stderr)
	finally:
		shutil.rmtree(scratch, ignore_errors=True)
