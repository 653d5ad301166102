"""Everyday tools run unconfigured (SPEC 7): git reads /etc/gitconfig and
~/.gitconfig, wget /etc/wgetrc, apt-get and apt-cache /etc/apt,
/var/lib/apt and /var/lib/dpkg, npm gets a writable ~/.npm under node-dev
(created when missing), and the agent profiles' state files are created
before the run.  Every server here is a local one on 127.0.0.1."""

import functools
import hashlib
import os
import shutil
import stat
import subprocess
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from run_fixtures import assert_ok, box, try_bin  # noqa: F401


def need(*progs):
	for p in progs:
		if shutil.which(p, path="/usr/bin:/bin") is None:
			pytest.skip("%s is not installed (scripts/deps.sh installs "
			    "it)" % p)


class _Quiet(SimpleHTTPRequestHandler):
	def log_message(self, *a):
		pass


@pytest.fixture
def static_server(tmp_path):
	"""(root dir, port): a static HTTP server on 127.0.0.1."""
	root = tmp_path / "www"
	root.mkdir()
	srv = ThreadingHTTPServer(("127.0.0.1", 0),
	    functools.partial(_Quiet, directory=str(root)))
	srv.daemon_threads = True
	t = threading.Thread(target=srv.serve_forever, daemon=True)
	t.start()
	yield root, srv.server_address[1]
	srv.shutdown()
	srv.server_close()


def git(box, *args):
	return subprocess.run(["git", *args], cwd=box.granted, check=True,
	    capture_output=True, env=box.env({"GIT_CONFIG_NOSYSTEM": "1"}))


# --- git ------------------------------------------------------------------

def test_git_status_log_commit_in_a_repo(box):
	need("git")
	box.write(os.path.join(box.home, ".gitconfig"),
	    "[user]\n\tname = Box User\n\temail = box@example.invalid\n")
	git(box, "init", "-q", ".")
	git(box, "add", "data.txt")
	git(box, "commit", "-q", "-m", "first")
	box.write(os.path.join(box.granted, "new.txt"), "new\n")
	res = box.run("run", "-s", "--allow-cwd", "--", "/bin/sh", "-c",
	    "git status --short && git add new.txt && "
	    "git commit -q -m second && git log --format=%s:%an",
	    cwd=box.granted)
	assert_ok(res)
	assert "?? new.txt" in res.out, res
	# The author comes from ~/.gitconfig, read inside the sandbox.
	assert "second:Box User" in res.out and "first:Box User" in res.out


def test_git_status_reads_etc_gitconfig(box):
	need("git")
	if not os.path.exists("/etc/gitconfig"):
		pytest.skip("no /etc/gitconfig on this host")
	git(box, "init", "-q", ".")
	res = box.run("run", "-s", "--allow-cwd", "--", "git", "config",
	    "--system", "--list", cwd=box.granted)
	assert_ok(res)
	assert "Permission denied" not in res.err


# --- wget -----------------------------------------------------------------

@pytest.mark.parametrize("net", [
	pytest.param([], id="network-allowed"),
	pytest.param(["--allow-domain", "127.0.0.1:%(port)d"], id="proxy"),
])
def test_wget_fetches_from_a_local_server(box, static_server, net):
	need("wget")
	root, port = static_server
	net = [a % {"port": port} for a in net]
	(root / "f.txt").write_text("wget-ok\n")
	res = box.run("run", "-s", "--allow-cwd", *net, "--", "wget", "-q",
	    "-t", "1",
	    "-O", "got.txt", "http://127.0.0.1:%d/f.txt" % port,
	    cwd=box.granted)
	assert_ok(res)
	with open(os.path.join(box.granted, "got.txt")) as f:
		assert f.read() == "wget-ok\n"
	assert "wgetrc" not in res.err, res


# --- apt ------------------------------------------------------------------

def _apt_repo(root):
	"""A flat apt repository with one package, kh-hello 1.0."""
	pkg = root / "pkg"
	(pkg / "DEBIAN").mkdir(parents=True)
	(pkg / "usr" / "share" / "doc" / "kh-hello").mkdir(parents=True)
	(pkg / "DEBIAN" / "control").write_text("Package: kh-hello\n"
	    "Version: 1.0\nArchitecture: all\nMaintainer: t "
	    "<t@example.invalid>\nDescription: keyhole test package\n")
	(pkg / "usr" / "share" / "doc" / "kh-hello" / "README").write_text(
	    "hi\n")
	deb = root / "kh-hello_1.0_all.deb"
	subprocess.run(["dpkg-deb", "-b", "--root-owner-group", str(pkg),
	    str(deb)], check=True, capture_output=True)
	shutil.rmtree(pkg)
	b = deb.read_bytes()
	packages = ("Package: kh-hello\nVersion: 1.0\nArchitecture: all\n"
	    "Maintainer: t <t@example.invalid>\nFilename: ./%s\nSize: %d\n"
	    "SHA256: %s\nDescription: keyhole test package\n\n" % (deb.name,
	    len(b), hashlib.sha256(b).hexdigest())).encode()
	(root / "Packages").write_bytes(packages)
	(root / "Release").write_bytes(("Origin: keyhole-test\nSuite: ./\n"
	    "Date: Sat, 05 Dec 2026 00:00:00 UTC\nSHA256:\n %s %d Packages\n"
	    % (hashlib.sha256(packages).hexdigest(), len(packages))).encode())


def test_apt_get_download_and_apt_cache_from_a_local_mirror(box,
    static_server):
	need("apt-get", "apt-cache", "dpkg-deb")
	root, port = static_server
	_apt_repo(root)
	box.write(os.path.join(box.granted, "sources.list"),
	    "deb [trusted=yes] http://127.0.0.1:%d/ ./\n" % port)
	# Only our list: the host's sources are never contacted.  The
	# package lists go to the run's private TMPDIR.  As root, apt would
	# switch to _apt, which needs capabilities the sandbox never has.
	opts = ("-o Dir::Etc::sourcelist=$PWD/sources.list "
	    "-o Dir::Etc::sourceparts=/nonexistent "
	    "-o Dir::State::Lists=$TMPDIR/lists "
	    "-o Dir::Cache=$TMPDIR/cache -o APT::Sandbox::User=root")
	script = ('mkdir -p "$TMPDIR/lists/partial" '
	    '"$TMPDIR/cache/archives/partial" && O="%s" && '
	    'apt-get -q $O update >/dev/null && '
	    'apt-cache $O show kh-hello && apt-get -q $O download kh-hello'
	    % opts)
	res = box.run("run", "--allow-cwd", "--", "/bin/sh", "-c", script,
	    cwd=box.granted, timeout=60)
	assert_ok(res)
	assert "Package: kh-hello" in res.out, res
	deb = os.path.join(box.granted, "kh-hello_1.0_all.deb")
	assert os.path.getsize(deb) > 0, res


# --- npm ------------------------------------------------------------------

def test_npm_install_of_a_tarball_under_node_dev(box):
	need("npm", "node")
	app = box.granted
	box.write(os.path.join(app, "package.json"),
	    '{"name": "app", "version": "1.0.0"}\n')
	pkg = os.path.join(app, "local-pkg")
	os.makedirs(pkg)
	box.write(os.path.join(pkg, "package.json"),
	    '{"name": "local-pkg", "version": "1.0.0", "main": "index.js"}\n')
	box.write(os.path.join(pkg, "index.js"), 'module.exports = "npm-ok"\n')
	assert not os.path.exists(os.path.join(box.home, ".npm"))
	# --offline: nothing may leave 127.0.0.1, not even npm's notices.
	script = ("npm pack --silent ./local-pkg >/dev/null && "
	    "npm install --offline --no-audit --no-fund "
	    "--no-update-notifier ./local-pkg-1.0.0.tgz && "
	    "node -e 'console.log(require(\"local-pkg\"))'")
	res = box.run("run", "-p", "node-dev", "--allow-cwd", "--", "/bin/sh",
	    "-c", script, cwd=app, timeout=90)
	assert_ok(res)
	assert res.out.strip().endswith("npm-ok"), res
	npm = os.path.join(box.home, ".npm")
	assert stat.S_IMODE(os.stat(npm).st_mode) == 0o700
	assert os.path.isdir(os.path.join(npm, "_cacache")), res


# --- state files and caches created before the run -------------------------

def test_claude_code_state_file_created_empty_0600(box):
	res = box.run("run", "-p", "claude-code", "--allow-cwd", "--",
	    "/bin/sh", "-c", 'echo "{}" > "$HOME/.claude.json" && '
	    'mkdir -p "$HOME/.claude/projects" && cat "$HOME/.claude.json"',
	    cwd=box.granted)
	assert_ok(res)
	assert res.out.strip() == "{}"
	f = os.path.join(box.home, ".claude.json")
	assert stat.S_IMODE(os.stat(f).st_mode) == 0o600
	d = os.path.join(box.home, ".claude")
	assert stat.S_IMODE(os.stat(d).st_mode) == 0o700
	assert "skipping missing path" not in res.err, res


def test_existing_state_file_is_left_alone(box):
	f = box.write(os.path.join(box.home, ".claude.json"), '{"a": 1}\n',
	    mode=0o640)
	res = box.run("run", "-s", "-p", "claude-code", "--allow-cwd", "--",
	    "/bin/cat", f, cwd=box.granted)
	assert_ok(res)
	assert res.out == '{"a": 1}\n'
	assert stat.S_IMODE(os.stat(f).st_mode) == 0o640


def test_nothing_is_created_by_a_dry_run(box):
	res = box.run("run", "--dry-run", "-p", "go-dev", "--", "/bin/true")
	assert_ok(res)
	assert "go/pkg/mod (created if missing)" in res.out, res
	assert not os.path.exists(os.path.join(box.home, "go"))


@pytest.mark.parametrize("prof,path", [
	("go-dev", ".cache/go-build"),
	("go-dev", "go/pkg/mod"),
	("rust-dev", ".cargo/registry"),
	("python-dev", ".cache/pip"),
	("codex", ".codex"),
])
def test_language_profile_cache_is_writable(box, prof, path):
	res = box.run("run", "-s", "-p", prof, "--allow-cwd", "--", "/bin/sh",
	    "-c", 'echo ok > "$HOME/%s/probe" && cat "$HOME/%s/probe"'
	    % (path, path), cwd=box.granted)
	assert_ok(res)
	assert res.out.strip() == "ok"
