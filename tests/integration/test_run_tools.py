"""Everyday tools run unconfigured (SPEC 7): git reads /etc/gitconfig and
~/.gitconfig, wget /etc/wgetrc, apt-get and apt-cache /etc/apt,
/var/lib/apt and /var/lib/dpkg, npm gets a writable ~/.npm under node-dev
(created when missing), and the agent profiles' state files are created
before the run.  Every server here is a local one on 127.0.0.1."""

import base64
import functools
import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import tarfile
import threading
import zipfile
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


# --- package managers against local stand-ins ------------------------------

class _Files(_Quiet):
	"""Serves server.files {path: bytes}, cacheable for ten minutes (pip
	caches only such answers); every request path is recorded."""

	def do_GET(self):
		self.server.seen.append(self.path)
		body = self.server.files.get(self.path.split("?")[0])
		if body is None:
			self.send_error(404)
			return
		self.send_response(200)
		ctype = {b"{": "application/json", b"<": "text/html"}.get(
		    body[:1], "application/octet-stream")
		self.send_header("Content-Type", ctype)
		self.send_header("Content-Length", str(len(body)))
		self.send_header("Cache-Control", "max-age=600")
		self.end_headers()
		self.wfile.write(body)


def _tgz(files):
	"""A gzipped tar of {name: text} under package/, as npm packs."""
	buf = io.BytesIO()
	with tarfile.open(fileobj=buf, mode="w:gz") as tf:
		for name, text in files.items():
			data = text.encode()
			ti = tarfile.TarInfo("package/" + name)
			ti.size = len(data)
			ti.mode = 0o644
			ti.mtime = 0
			tf.addfile(ti, io.BytesIO(data))
	return buf.getvalue()


@pytest.fixture
def file_server():
	"""(files dict to fill, seen paths, port): a server on 127.0.0.1."""
	srv = ThreadingHTTPServer(("127.0.0.1", 0), _Files)
	srv.daemon_threads = True
	srv.files = {}
	srv.seen = []
	t = threading.Thread(target=srv.serve_forever, daemon=True)
	t.start()
	yield srv.files, srv.seen, srv.server_address[1]
	srv.shutdown()
	srv.server_close()


def _npm_registry(files, port):
	"""The registry's answers for kh-demo 1.0.0: packument and tarball."""
	tgz = _tgz({"package.json": '{"name": "kh-demo", "version": "1.0.0", '
	    '"main": "index.js"}\n',
	    "index.js": 'module.exports = "kh-demo-ok"\n'})
	integrity = "sha512-" + base64.b64encode(
	    hashlib.sha512(tgz).digest()).decode()
	packument = {"name": "kh-demo", "dist-tags": {"latest": "1.0.0"},
	    "versions": {"1.0.0": {"name": "kh-demo", "version": "1.0.0",
	    "main": "index.js", "dist": {
	    "tarball": "http://127.0.0.1:%d/kh-demo.tgz" % port,
	    "shasum": hashlib.sha1(tgz).hexdigest(),
	    "integrity": integrity}}}}
	files["/kh-demo"] = json.dumps(packument).encode()
	files["/kh-demo.tgz"] = tgz


@pytest.mark.parametrize("net", [
	pytest.param(["--open-port", "%(port)d"], id="direct"),
	pytest.param(["--allow-domain", "127.0.0.1:%(port)d"], id="proxy"),
])
def test_npm_install_from_a_local_registry_under_node_dev(box,
    file_server, net):
	need("npm", "node")
	files, seen, port = file_server
	_npm_registry(files, port)
	net = [a % {"port": port} for a in net]
	app = box.granted
	box.write(os.path.join(app, "package.json"),
	    '{"name": "app", "version": "1.0.0"}\n')
	assert not os.path.exists(os.path.join(box.home, ".npm"))
	script = ("npm install --registry http://127.0.0.1:%d/ --no-audit "
	    "--no-fund kh-demo && "
	    "node -e 'console.log(require(\"kh-demo\"))'" % port)
	res = box.run("run", "-p", "node-dev", "--allow-cwd", *net, "--",
	    "/bin/sh", "-c", script, cwd=app, timeout=90,
	    env={"npm_config_update_notifier": "false"})
	assert_ok(res)
	assert res.out.strip().endswith("kh-demo-ok"), res
	assert "/kh-demo" in seen and "/kh-demo.tgz" in seen, seen
	assert os.path.isfile(os.path.join(app, "node_modules", "kh-demo",
	    "index.js"))
	npm = os.path.join(box.home, ".npm")
	assert stat.S_IMODE(os.stat(npm).st_mode) == 0o700
	# The packument and the tarball went through the writable cache.
	assert os.path.isdir(os.path.join(npm, "_cacache", "content-v2")), res


def test_go_build_uses_the_default_caches_under_go_dev(box):
	need("go")
	mod = box.granted
	box.write(os.path.join(mod, "go.mod"), "module example.invalid/khdemo"
	    "\n\ngo 1.18\n")
	box.write(os.path.join(mod, "main.go"), 'package main\n\nimport '
	    '"fmt"\n\nfunc main() { fmt.Println("go-ok") }\n')
	# Flags on the command line: keyhole drops GOFLAGS (it can name a
	# -toolexec).  -buildvcs=false: the test's directory lies inside this
	# checkout, whose .git the sandbox rightly does not grant.
	env = {"GOPROXY": "off", "GOTOOLCHAIN": "local", "CGO_ENABLED": "0",
	    "GOTELEMETRY": "off"}
	res = box.run("run", "-p", "go-dev", "--allow-cwd", "--", "/bin/sh",
	    "-c", "go build -mod=mod -buildvcs=false -o khdemo . && ./khdemo "
	    "&& go env GOCACHE GOPATH",
	    cwd=mod, timeout=180, env=env)
	assert_ok(res)
	lines = res.out.split()
	assert lines[0] == "go-ok", res
	cache = os.path.join(box.home, ".cache", "go-build")
	assert lines[1:3] == [cache, os.path.join(box.home, "go")], res
	assert os.path.isfile(os.path.join(cache, "README")) or any(
	    len(d) == 2 for d in os.listdir(cache)), res
	assert stat.S_IMODE(os.stat(cache).st_mode) == 0o700


def _wheel(dirpath):
	"""A pure-python wheel kh_demo-1.0-py3-none-any.whl made with zipfile."""
	name = "kh_demo-1.0-py3-none-any.whl"
	files = {
	    "kh_demo/__init__.py": 'VALUE = "pip-ok"\n',
	    "kh_demo-1.0.dist-info/METADATA": "Metadata-Version: 2.1\n"
	    "Name: kh-demo\nVersion: 1.0\n",
	    "kh_demo-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: "
	    "keyhole-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
	}
	rec = []
	for n, text in files.items():
		d = base64.urlsafe_b64encode(hashlib.sha256(
		    text.encode()).digest()).rstrip(b"=").decode()
		rec.append("%s,sha256=%s,%d" % (n, d, len(text.encode())))
	rec.append("kh_demo-1.0.dist-info/RECORD,,")
	files["kh_demo-1.0.dist-info/RECORD"] = "\n".join(rec) + "\n"
	with zipfile.ZipFile(os.path.join(dirpath, name), "w") as z:
		for n, text in files.items():
			z.writestr(n, text)
	return name


def _python_with_pip():
	for py in ("/usr/bin/python3",):
		r = subprocess.run([py, "-m", "pip", "--version"],
		    capture_output=True)
		if r.returncode == 0:
			return py
	pytest.skip("no python under /usr has pip (python3-pip)")


def test_pip_download_and_install_from_a_local_index_under_python_dev(box,
    file_server, tmp_path):
	py = _python_with_pip()
	files, seen, port = file_server
	whl = _wheel(str(tmp_path))
	files["/" + whl] = (tmp_path / whl).read_bytes()
	files["/simple/kh-demo/"] = ('<a href="../../%s">%s</a>\n'
	    % (whl, whl)).encode()
	# Only our index: the host's PIP_FIND_LINKS is not granted.  pip
	# caches plain-http answers only from a --trusted-host.
	index = "http://127.0.0.1:%d/simple/" % port
	script = ('unset PIP_FIND_LINKS PIP_CONFIG_FILE PIP_NO_CACHE_DIR; '
	    '%s -m pip download -q --disable-pip-version-check '
	    '--index-url %s --trusted-host 127.0.0.1 -d dl kh-demo && '
	    '%s -m pip install -q --disable-pip-version-check --no-index '
	    '--find-links dl --target site kh-demo && '
	    'PYTHONPATH=site %s -c "import kh_demo; print(kh_demo.VALUE)" && '
	    '%s -m pip cache dir' % (py, index, py, py, py))
	res = box.run("run", "-p", "python-dev", "--allow-cwd", "--open-port",
	    str(port), "--", "/bin/sh", "-c", script, cwd=box.granted,
	    timeout=90, env={"PIP_NO_INPUT": "1"})
	assert_ok(res)
	lines = res.out.split()
	assert lines[0] == "pip-ok", res
	cache = os.path.join(box.home, ".cache", "pip")
	assert lines[1] == cache, res
	assert os.path.isfile(os.path.join(box.granted, "dl", whl))
	assert os.path.isfile(os.path.join(box.granted, "site", "kh_demo",
	    "__init__.py"))
	assert "/" + whl in seen, seen
	# pip kept the index page and the wheel in its HTTP cache.
	assert any(files for _, _, files in os.walk(cache)), (res.out, res.err)
