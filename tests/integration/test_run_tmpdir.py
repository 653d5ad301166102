"""The private per-run temporary directory (SPEC 7): created 0700, granted
read+write, exported as TMPDIR/TMP/TEMP/TEMPDIR, removed at exit (also after
the child is killed, never following a link), kept with --keep-tmp.  The
everyday round trips (mktemp, Python tempfile, Node os.tmpdir) run under the
default profile with --allow-cwd and under -p claude-code."""

import os
import re
import shutil
import stat
import tempfile

import pytest

from run_fixtures import assert_ok, box, try_bin  # noqa: F401

TMP_VARS = ("TMPDIR", "TMP", "TEMP", "TEMPDIR")
KEPT_RE = re.compile(r"keyhole: kept the temporary directory (\S+)")

PROFILES = [
	pytest.param([], id="default"),
	pytest.param(["-p", "claude-code"], id="claude-code"),
]

MKTEMP = 'f=$(mktemp) && echo mktemp-ok > "$f" && cat "$f"'
PYTHON = ("import tempfile\n"
    "with tempfile.NamedTemporaryFile('w+') as f:\n"
    "    f.write('python-ok'); f.flush(); f.seek(0); print(f.read())\n"
    "d = tempfile.mkdtemp()\n"
    "open(d + '/x', 'w').write('dir-ok')\n"
    "print(open(d + '/x').read())\n")
NODE = ("const fs=require('fs'),os=require('os'),path=require('path');"
    "const f=path.join(os.tmpdir(),'n.txt');"
    "fs.writeFileSync(f,'node-ok');"
    "const d=fs.mkdtempSync(path.join(os.tmpdir(),'d-'));"
    "console.log(fs.readFileSync(f,'utf8'), d.startsWith(os.tmpdir()));")


def child_vars(res):
	assert res.rc == 0, res
	return dict(l.split("=", 1) for l in res.out.splitlines() if "=" in l)


def test_tmpdir_variables_name_one_private_directory(box):
	res = box.run("run", "-s", "--allow-cwd", "--", "/usr/bin/env",
	    cwd=box.granted)
	env = child_vars(res)
	dirs = {env.get(v) for v in TMP_VARS}
	assert len(dirs) == 1 and None not in dirs, env
	d = dirs.pop()
	assert os.path.basename(d).startswith("keyhole-"), d
	assert os.path.dirname(d) == os.path.realpath(
	    os.environ.get("TMPDIR") or "/tmp"), d


def test_tmpdir_is_mode_0700(box):
	res = box.run("run", "-s", "--", "/bin/sh", "-c",
	    'stat -c %a "$TMPDIR"')
	assert_ok(res)
	assert res.out.strip() == "700", res


@pytest.mark.parametrize("prof", PROFILES)
def test_mktemp_round_trips(box, prof):
	res = box.run("run", "-s", "--allow-cwd", *prof, "--", "/bin/sh",
	    "-c", MKTEMP, cwd=box.granted)
	assert_ok(res)
	assert res.out.strip() == "mktemp-ok", res


@pytest.mark.parametrize("prof", PROFILES)
def test_python_tempfile_round_trips(box, prof):
	res = box.run("run", "-s", "--allow-cwd", *prof, "--", "/usr/bin/python3",
	    "-c", PYTHON, cwd=box.granted)
	assert_ok(res)
	assert res.out.split() == ["python-ok", "dir-ok"], res


@pytest.mark.parametrize("prof", PROFILES)
def test_node_tmpdir_round_trips(box, prof):
	if shutil.which("node") is None:
		pytest.skip("node is not installed (scripts/deps.sh installs it)")
	res = box.run("run", "-s", "--allow-cwd", *prof, "--", "node", "-e",
	    NODE, cwd=box.granted)
	assert_ok(res)
	assert res.out.split() == ["node-ok", "true"], res


def test_tmpdir_removed_at_exit_without_following_links(box):
	target = box.write(box.path("outside", "target.txt"), "keep me\n")
	script = ('echo "$TMPDIR"; mkdir -p "$TMPDIR/a/b" && '
	    'echo x > "$TMPDIR/a/b/f" && ln -s %s "$TMPDIR/link" && '
	    'ln -s %s "$TMPDIR/a/dirlink" && mkdir "$TMPDIR/locked" && '
	    'echo y > "$TMPDIR/locked/g" && chmod 000 "$TMPDIR/locked"'
	    % (target, box.path("outside")))
	res = box.run("run", "-s", "--", "/bin/sh", "-c", script)
	assert_ok(res)
	d = res.out.strip()
	assert d.startswith("/") and not os.path.lexists(d), res
	with open(target) as f:
		assert f.read() == "keep me\n"
	assert os.path.isdir(box.path("outside"))


def test_tmpdir_removed_after_child_is_killed(box):
	res = box.run("run", "-s", "--", "/bin/sh", "-c",
	    'echo "$TMPDIR"; echo x > "$TMPDIR/f"; kill -9 $$')
	assert res.rc == 128 + 9, res
	d = res.out.strip()
	assert d.startswith("/") and not os.path.lexists(d), res


def test_two_runs_do_not_see_each_others_tmpdir(box):
	first = box.run("run", "--keep-tmp", "--", "/bin/sh", "-c",
	    'echo secret-a > "$TMPDIR/a.txt"; echo "$TMPDIR"')
	assert_ok(first)
	a = first.out.strip()
	try:
		second = box.run("run", "-s", "--", "/bin/sh", "-c",
		    'echo "$TMPDIR"; cat %s/a.txt; ls %s' % (a, a))
		assert second.rc != 0, second
		assert second.out.splitlines()[0] != a, second
		assert "secret-a" not in second.out, second
		assert "Permission denied" in second.err, second
	finally:
		shutil.rmtree(a, ignore_errors=True)


def test_keep_tmp_keeps_the_directory_and_prints_it(box):
	res = box.run("run", "--keep-tmp", "--", "/bin/sh", "-c",
	    'echo kept > "$TMPDIR/k.txt"; echo "$TMPDIR"')
	assert_ok(res)
	m = KEPT_RE.search(res.err)
	assert m, res
	try:
		assert m.group(1) == res.out.strip()
		with open(os.path.join(m.group(1), "k.txt")) as f:
			assert f.read() == "kept\n"
		assert stat.S_IMODE(os.stat(m.group(1)).st_mode) == 0o700
	finally:
		shutil.rmtree(m.group(1), ignore_errors=True)


def test_tmp_itself_keeps_the_profile_rights(box):
	# /tmp stays write-only under the default profile: the private
	# directory does not open the rest of it for reading.
	fd, other = tempfile.mkstemp(prefix="keyhole-test-other-",
	    dir="/tmp")
	os.write(fd, b"not yours\n")
	os.close(fd)
	try:
		res = box.run("run", "-s", "--", "/bin/cat", other)
		assert res.rc != 0, res
		assert "not yours" not in res.out
		assert "Permission denied" in res.err, res
	finally:
		os.unlink(other)
