"""git over HTTPS through interception (SPEC 4.12): a real `git
http-backend` behind a small TLS server that wants Basic
x-access-token:REAL; git only ever has the phantom (from a credential
helper), trusts the run's bundle, and goes through the proxy."""

import base64
import os
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from reverse_fixtures import REAL_SECRET, route

GIT = "/usr/bin/git"
BACKEND = "/usr/lib/git-core/git-http-backend"
pytestmark = pytest.mark.skipif(not os.path.exists(BACKEND),
    reason="git http-backend not installed")


def _git(*args, cwd=None, env=None):
	e = {"PATH": "/usr/bin:/bin", "HOME": cwd or "/nonexistent",
	    "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0"}
	e.update(env or {})
	return subprocess.run([GIT] + list(args), cwd=cwd, env=e,
	    capture_output=True, timeout=30, stdin=subprocess.DEVNULL)


class _GitHandler(BaseHTTPRequestHandler):
	protocol_version = "HTTP/1.1"
	timeout = 10

	def log_message(self, fmt, *args):
		pass

	def _run(self):
		want = "Basic " + base64.b64encode(("x-access-token:" +
		    REAL_SECRET).encode()).decode()
		self.server.auths.append(self.headers.get("Authorization"))
		n = int(self.headers.get("Content-Length", "0") or "0")
		body = self.rfile.read(n) if n else b""
		if self.headers.get("Authorization") != want:
			self.send_response(401)
			self.send_header("WWW-Authenticate", 'Basic realm="git"')
			self.send_header("Content-Length", "0")
			self.end_headers()
			return
		path, _, query = self.path.partition("?")
		env = {"GIT_PROJECT_ROOT": self.server.root,
		    "GIT_HTTP_EXPORT_ALL": "1", "REQUEST_METHOD": self.command,
		    "PATH_INFO": path, "QUERY_STRING": query,
		    "CONTENT_TYPE": self.headers.get("Content-Type", ""),
		    "CONTENT_LENGTH": str(len(body)), "REMOTE_USER": "git",
		    "PATH": "/usr/bin:/bin"}
		if self.headers.get("Content-Encoding"):
			env["HTTP_CONTENT_ENCODING"] = \
			    self.headers["Content-Encoding"]
		p = subprocess.run([BACKEND], input=body, env=env,
		    capture_output=True, timeout=20)
		head, _, out = p.stdout.partition(b"\r\n\r\n")
		status = 200
		hdrs = []
		for line in head.split(b"\r\n"):
			k, _, v = line.decode().partition(":")
			if k.lower() == "status":
				status = int(v.split()[0])
			elif k:
				hdrs.append((k, v.strip()))
		self.send_response(status)
		for k, v in hdrs:
			self.send_header(k, v)
		self.send_header("Content-Length", str(len(out)))
		self.end_headers()
		self.wfile.write(out)

	do_GET = do_POST = _run


class _TLSServer(ThreadingHTTPServer):
	daemon_threads = True

	def finish_request(self, request, client_address):
		request.settimeout(10)
		try:
			request = self.ctx.wrap_socket(request, server_side=True)
		except (ssl.SSLError, OSError):
			return
		self.RequestHandlerClass(request, client_address, self)


@pytest.fixture
def git_server(tmp_path, ca):
	root = tmp_path / "srv"
	root.mkdir()
	assert _git("init", "-q", "--bare", str(root / "repo.git")).returncode \
	    == 0
	work = tmp_path / "work"
	work.mkdir()
	for args in (("init", "-q", "-b", "main"),
	    ("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q",
	    "--allow-empty", "-m", "first"),
	    ("push", "-q", str(root / "repo.git"), "main")):
		p = _git(*args, cwd=str(work))
		assert p.returncode == 0, p.stderr
	srv = _TLSServer(("127.0.0.1", 0), _GitHandler)
	srv.root = str(root)
	srv.auths = []
	srv.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
	srv.ctx.load_cert_chain(os.path.join(ca, "server.pem"),
	    os.path.join(ca, "server.key"))
	t = threading.Thread(target=srv.serve_forever,
	    kwargs={"poll_interval": 0.05}, daemon=True)
	t.start()
	yield srv
	srv.shutdown()
	srv.server_close()


def _route(route, git_server):
	port = git_server.server_address[1]
	return route(None, hosts=[{"host": "db.test:%d" % port,
	    "inject_mode": "basic_auth",
	    "credential_format": "x-access-token:{}"}],
	    args=("--resolve", "db.test:%d:127.0.0.1" % port)), port


def test_git_ls_remote_and_clone_with_only_the_phantom(route, git_server,
    tmp_path):
	r, port = _route(route, git_server)
	helper = "!f() { echo username=x-access-token; echo password=%s; }; f" \
	    % r.phantom
	env = {"GIT_SSL_CAINFO": r.px.env["GIT_SSL_CAINFO"],
	    "HTTPS_PROXY": r.px.env["HTTPS_PROXY"]}
	url = "https://db.test:%d/repo.git" % port
	p = _git("-c", "credential.helper=" + helper, "ls-remote", url,
	    cwd=str(tmp_path), env=env)
	assert p.returncode == 0, p.stderr.decode()
	assert b"refs/heads/main" in p.stdout
	p = _git("-c", "credential.helper=" + helper, "clone", "-q", url,
	    str(tmp_path / "clone"), cwd=str(tmp_path), env=env)
	assert p.returncode == 0, p.stderr.decode()
	assert (tmp_path / "clone" / ".git").is_dir()
	# The server only ever saw the real credential (or nothing).
	want = "Basic " + base64.b64encode(("x-access-token:" +
	    REAL_SECRET).encode()).decode()
	assert want in git_server.auths
	assert all(a in (None, want) for a in git_server.auths), \
	    git_server.auths
	recs = r.px.wait_audit(mode="intercept", decision="allow")
	assert any((x.get("path") or "").startswith("/repo.git/info/refs")
	    for x in recs), recs


def test_git_phantom_in_url_user_position_works(route, git_server,
    tmp_path):
	r, port = _route(route, git_server)
	env = {"GIT_SSL_CAINFO": r.px.env["GIT_SSL_CAINFO"],
	    "HTTPS_PROXY": r.px.env["HTTPS_PROXY"]}
	# PHANTOM:x-oauth-basic, the other Basic position.
	url = "https://%s:x-oauth-basic@db.test:%d/repo.git" % (r.phantom,
	    port)
	p = _git("ls-remote", url, cwd=str(tmp_path), env=env)
	assert p.returncode == 0, p.stderr.decode()
	assert b"refs/heads/main" in p.stdout


def test_git_without_phantom_sends_no_credential(route, git_server,
    tmp_path):
	r, port = _route(route, git_server)
	env = {"GIT_SSL_CAINFO": r.px.env["GIT_SSL_CAINFO"],
	    "HTTPS_PROXY": r.px.env["HTTPS_PROXY"]}
	p = _git("ls-remote", "https://x-access-token:guess@db.test:%d/"
	    "repo.git" % port, cwd=str(tmp_path), env=env)
	assert p.returncode != 0
	# The server saw requests, none with a credential: no real secret
	# for a guess, and the guess itself dropped.
	assert git_server.auths and all(a is None for a in
	    git_server.auths), git_server.auths
