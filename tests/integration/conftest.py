"""Fixtures and helpers for the keyhole proxy integration tests.

Everything here talks only to 127.0.0.1 / ::1.  Every socket has a timeout,
every subprocess a deadline.  Python standard library + pytest only.

Fixtures: keyhole, ca, tls_upstream, http_upstream, tcp_echo, tcp_echo6,
corp_proxy, proxy (factory), free_port.
Helpers (import them: `from conftest import ...`): raw_request, read_head,
read_response, curl, connect_tunnel, basic_auth, auth_header,
assert_proxy_answer, assert_no_secrets, find_audit, wait_for.
"""

import base64
import json
import os
import re
import select
import signal
import socket
import socketserver
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DEFAULT_KEYHOLE = os.path.join(REPO, "build", "asan", "keyhole")

SOCK_TIMEOUT = 3.0		# default for every test socket
AUDIT_KEYS = {"ts", "mode", "decision", "host", "port", "service", "method",
    "path", "status", "reason", "bytes_up", "bytes_down", "ms"}
HEX64 = re.compile(r"^[0-9a-f]{64}$")
# Phantoms shaped like the real keys (SPEC 4.12), or 64 hex.
GITHUB_PHANTOM = re.compile(r"^ghp_[A-Za-z0-9]{36}$")
OPENAI_PHANTOM = re.compile(r"^sk-proj-[A-Za-z0-9]{48}$")
ANTHROPIC_PHANTOM = re.compile(r"^sk-ant-api03-[A-Za-z0-9]{48}$")
PHANTOM_RE = re.compile(r"^(ghp_[A-Za-z0-9]{36}|sk-proj-[A-Za-z0-9]{48}|"
    r"sk-ant-api03-[A-Za-z0-9]{48}|[0-9a-f]{64})$")
TS_RE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d)$")

# Standard reason phrases for the answers keyhole generates itself.
REASONS = {
	200: {"Connection Established"},
	400: {"Bad Request"},
	403: {"Forbidden"},
	407: {"Proxy Authentication Required"},
	408: {"Request Timeout"},
	414: {"URI Too Long"},
	431: {"Request Header Fields Too Large"},
	502: {"Bad Gateway"},
	503: {"Service Unavailable"},
	504: {"Gateway Timeout"},
}

CRED_REASON_CONNECT = "credential upstream: CONNECT bypasses L7 filtering"
# With interception (the default) a CONNECT to a credential host is
# intercepted; the seed's 403 is what --tls-intercept off keeps (SPEC 4.12).
TLS_OFF = ("--tls-intercept", "off")
# The variables naming the interception CA bundle (SPEC 4.12).
CA_VARS = {"SSL_CERT_FILE", "CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE",
    "GIT_SSL_CAINFO", "PIP_CERT", "NODE_EXTRA_CA_CERTS", "AWS_CA_BUNDLE",
    "CARGO_HTTP_CAINFO", "DENO_CERT", "BUNDLE_SSL_CA_CERT",
    "NPM_CONFIG_CAFILE", "npm_config_cafile",
    "CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE", "NIX_SSL_CERT_FILE",
    "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH", "KEYHOLE_CA_BUNDLE",
    "KEYHOLE_CA_CERT"}
CRED_REASON_FORWARD = "credential upstream: forward bypasses L7 filtering"
# --credential openai, and keep the proxy from asking DNS for its upstream.
OPENAI = ("--credential", "openai",
    "--resolve", "api.openai.com:443:127.0.0.1",
    "--resolve", "api.openai.com:80:127.0.0.1")
# The same for the address-guard tests: a --resolve to 127.0.0.1 may count
# as "naming" loopback (SPEC 4.4), so point the (never contacted) upstream at
# a documentation address instead.
OPENAI_NOLOOP = ("--credential", "openai",
    "--resolve", "api.openai.com:443:192.0.2.1",
    "--resolve", "api.openai.com:80:192.0.2.1")


# The variable each built-in route reads its key from (SPEC 5).
ROUTE_KEY_VARS = {"openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY", "gemini": "GEMINI_API_KEY",
    "google-ai": "GOOGLE_API_KEY", "github": "GITHUB_TOKEN",
    "gitlab": "GITLAB_TOKEN"}


def route_placeholder_keys(args, env=None):
	"""env (a new dict) plus a placeholder key for every built-in route
	named with --credential in args whose variable env does not give:
	such a route with its env:// variable unset stops keyhole with exit
	1 (SPEC 5).  A test that wants the variable unset passes it as None
	(_clean_env then drops it)."""
	env = dict(env or {})
	args = [str(a) for a in args]
	for i, a in enumerate(args[:-1]):
		if a not in ("--credential", "--proxy-credential"):
			continue
		var = ROUTE_KEY_VARS.get(args[i + 1])
		if var is not None and var not in env:
			env[var] = "sk-test-placeholder-" + args[i + 1]
	return env


def _clean_env(extra=None):
	"""The environment for every child: no proxies, no keyhole/nono
	settings, no credentials the built-in routes would read."""
	drop = {"OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY",
	    "GOOGLE_API_KEY", "GITHUB_TOKEN", "GITLAB_TOKEN", "CURL_HOME",
	    "SSL_CERT_FILE", "SSL_CERT_DIR"}
	env = {}
	for k, v in os.environ.items():
		u = k.upper()
		if u.endswith("_PROXY") or u.startswith("KEYHOLE_") or \
		    u.startswith("NONO_") or u in drop:
			continue
		env[k] = v
	env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
	if extra:
		env.update(extra)
	return {k: v for k, v in env.items() if v is not None}


# ---------------------------------------------------------------------------
# Small helpers.

def wait_for(pred, timeout=2.0, interval=0.02):
	"""Poll pred() until it returns a true value or timeout; return it."""
	deadline = time.monotonic() + timeout
	while True:
		v = pred()
		if v or time.monotonic() >= deadline:
			return v
		time.sleep(interval)


def free_port_number(family=socket.AF_INET, host="127.0.0.1"):
	"""A TCP port nobody listens on (bound, then closed)."""
	s = socket.socket(family, socket.SOCK_STREAM)
	s.bind((host, 0))
	port = s.getsockname()[1]
	s.close()
	return port


def basic_auth(token, user="keyhole"):
	raw = ("%s:%s" % (user, token)).encode()
	return "Basic " + base64.b64encode(raw).decode()


def auth_header(token, user="keyhole"):
	return ("Proxy-Authorization: %s\r\n" % basic_auth(token, user)).encode()


def raw_request(port, data, timeout=2.0, host="127.0.0.1"):
	"""Send data to host:port and return every byte received until the
	peer closes or `timeout` seconds (total) have passed."""
	fam = socket.AF_INET6 if ":" in host else socket.AF_INET
	s = socket.socket(fam, socket.SOCK_STREAM)
	s.settimeout(timeout)
	out = b""
	deadline = time.monotonic() + timeout
	try:
		s.connect((host, port))
		if data:
			s.sendall(data)
		while True:
			left = deadline - time.monotonic()
			if left <= 0:
				break
			s.settimeout(left)
			try:
				chunk = s.recv(65536)
			except socket.timeout:
				break
			except ConnectionResetError:
				break
			if not chunk:
				break
			out += chunk
	finally:
		s.close()
	return out


def read_head(sock, timeout=SOCK_TIMEOUT, buf=b""):
	"""Read one response head from sock.  Returns (status, reason, headers,
	leftover): headers is a dict with lower-cased names (last one wins);
	leftover is what was read past the head.  Raises AssertionError when the
	peer closes or the timeout passes before a complete head."""
	deadline = time.monotonic() + timeout
	while b"\r\n\r\n" not in buf:
		left = deadline - time.monotonic()
		if left <= 0:
			raise AssertionError("no response head within %.1fs; got %r"
			    % (timeout, buf[:300]))
		sock.settimeout(left)
		try:
			chunk = sock.recv(65536)
		except socket.timeout:
			raise AssertionError("no response head within %.1fs; got %r"
			    % (timeout, buf[:300]))
		except ConnectionResetError:
			chunk = b""
		if not chunk:
			raise AssertionError("connection closed before a response "
			    "head; got %r" % buf[:300])
		buf += chunk
	head, leftover = buf.split(b"\r\n\r\n", 1)
	lines = head.decode("latin-1").split("\r\n")
	m = re.match(r"^HTTP/1\.[01] (\d{3})(?: (.*))?$", lines[0])
	assert m, "bad status line %r" % lines[0]
	headers = {}
	for line in lines[1:]:
		name, sep, value = line.partition(":")
		assert sep, "bad header line %r" % line
		headers[name.strip().lower()] = value.strip()
	return int(m.group(1)), m.group(2) or "", headers, leftover


def recv_exact(sock, n, buf=b"", timeout=SOCK_TIMEOUT):
	"""Read until buf holds n bytes; returns (first n bytes, rest)."""
	deadline = time.monotonic() + timeout
	while len(buf) < n:
		left = deadline - time.monotonic()
		if left <= 0:
			raise AssertionError("timed out: have %d of %d bytes"
			    % (len(buf), n))
		sock.settimeout(left)
		chunk = sock.recv(65536)
		if not chunk:
			raise AssertionError("EOF: have %d of %d bytes: %r"
			    % (len(buf), n, buf[:200]))
		buf += chunk
	return buf[:n], buf[n:]


def recv_until_eof(sock, buf=b"", timeout=SOCK_TIMEOUT):
	"""Read until EOF; AssertionError if no EOF within timeout."""
	deadline = time.monotonic() + timeout
	while True:
		left = deadline - time.monotonic()
		if left <= 0:
			raise AssertionError("no EOF within %.1fs; have %r"
			    % (timeout, buf[-200:]))
		sock.settimeout(left)
		try:
			chunk = sock.recv(65536)
		except socket.timeout:
			continue
		except ConnectionResetError:
			return buf
		if not chunk:
			return buf
		buf += chunk


def _read_chunked(sock, buf, timeout):
	body = b""
	while True:
		while b"\r\n" not in buf:
			buf += _recv_some(sock, timeout)
		line, buf = buf.split(b"\r\n", 1)
		size = int(line.split(b";")[0], 16)
		if size == 0:
			while b"\r\n\r\n" not in b"\r\n" + buf:
				buf += _recv_some(sock, timeout)
			_, buf = (b"\r\n" + buf).split(b"\r\n\r\n", 1)
			return body, buf
		data, buf = recv_exact(sock, size + 2, buf, timeout)
		body += data[:-2]


def _recv_some(sock, timeout):
	sock.settimeout(timeout)
	chunk = sock.recv(65536)
	if not chunk:
		raise AssertionError("EOF in the middle of a body")
	return chunk


def read_response(sock, timeout=SOCK_TIMEOUT, buf=b""):
	"""Read one full response: (status, reason, headers, body, leftover).
	Understands Content-Length and chunked; without either reads to EOF."""
	status, reason, headers, rest = read_head(sock, timeout, buf)
	if "content-length" in headers:
		body, rest = recv_exact(sock, int(headers["content-length"]),
		    rest, timeout)
	elif "chunked" in headers.get("transfer-encoding", "").lower():
		body, rest = _read_chunked(sock, rest, timeout)
	elif status in (204, 304) or 100 <= status < 200:
		body = b""
	else:
		body, rest = recv_until_eof(sock, rest, timeout), b""
	return status, reason, headers, body, rest


def assert_proxy_answer(status, reason, headers, body, code, contains=None):
	"""An answer keyhole generated itself (SPEC 4.1/4.5): standard reason
	phrase, text/plain; charset=utf-8, a correct Content-Length and a
	one-line body ending in a newline."""
	assert status == code, "expected %d, got %d %s: %r" % (
	    code, status, reason, body)
	assert reason in REASONS[code], "reason phrase %r for %d" % (reason,
	    code)
	ct = headers.get("content-type", "").replace(" ", "").lower()
	assert ct == "text/plain;charset=utf-8", headers
	assert headers.get("content-length") == str(len(body)), headers
	assert body.endswith(b"\n") and body.count(b"\n") == 1, body
	assert len(body) > 1, "empty reason body"
	if contains is not None:
		assert contains in body.decode("utf-8", "replace"), body


def curl(*args, env=None, timeout=12):
	"""Run the real curl (-sS, 10 s max time, no proxy variables in its
	environment).  Returns (exit code, stdout bytes, stderr text)."""
	cmd = ["curl", "-sS", "--max-time", "10"] + [str(a) for a in args]
	p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
	    env=_clean_env(env), timeout=timeout)
	return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


def connect_tunnel(px, authority, token=None, extra=b"", headers=b"",
    timeout=SOCK_TIMEOUT):
	"""Open a client connection to the proxy and send CONNECT authority
	(+ extra bytes in the same write).  Returns (sock, status, reason,
	headers, leftover); the caller closes sock.  token=None: use px.token;
	token="": send no Proxy-Authorization."""
	if token is None:
		token = px.token
	s = socket.create_connection(("127.0.0.1", px.port), timeout=timeout)
	req = b"CONNECT %s HTTP/1.1\r\nHost: %s\r\n" % (authority.encode(),
	    authority.encode())
	if token:
		req += auth_header(token)
	req += headers + b"\r\n" + extra
	s.sendall(req)
	try:
		status, reason, hdrs, left = read_head(s, timeout)
	except BaseException:
		s.close()
		raise
	return s, status, reason, hdrs, left


def connect_status(px, authority, **kw):
	"""CONNECT and return (status, reason, headers, body); closes."""
	s, status, reason, hdrs, left = connect_tunnel(px, authority, **kw)
	try:
		body = b""
		if status != 200 and "content-length" in hdrs:
			body, _ = recv_exact(s, int(hdrs["content-length"]), left)
	finally:
		s.close()
	return status, reason, hdrs, body


def find_audit(lines, **match):
	"""The audit records whose fields equal every given value."""
	return [r for r in lines if all(r.get(k) == v for k, v in match.items())]


def assert_audit_record(rec):
	"""Every key present, ts RFC 3339 with milliseconds."""
	# "client": the --clients name, only when a client was identified
	keys = set(rec) - {"client"}
	assert keys == AUDIT_KEYS, "audit keys: %s" % sorted(rec)
	assert isinstance(rec.get("client", ""), str), rec
	assert isinstance(rec["ts"], str) and TS_RE.match(rec["ts"]), rec["ts"]
	# would_deny: --report-only let it through (SPEC 4.11)
	assert rec["decision"] in ("allow", "deny", "would_deny"), rec
	assert rec["mode"] in ("connect", "forward", "reverse", "external",
	    "direct", "intercept"), rec


def secrets_of(px):
	"""Every secret a proxy run printed: the proxy token and every 64-hex
	value (phantom tokens), plus the Basic credential forms."""
	out = set()
	for v in px.env.values():
		if PHANTOM_RE.match(v):
			out.add(v)
	if px.token:
		out.add(px.token)
	for t in list(out):
		out.add(base64.b64encode(("keyhole:" + t).encode()).decode())
	return out


def assert_no_secrets(px):
	"""No proxy or phantom token in the audit file or on stderr (SPEC 4.8).
	Called automatically for every proxy at teardown."""
	audit = px.audit_text()
	err = px.stderr()
	for sec in secrets_of(px):
		assert sec not in audit, "a token appears in the audit log"
		assert sec not in err, "a token appears on stderr"


# ---------------------------------------------------------------------------
# Binary and certificates.

@pytest.fixture(scope="session")
def keyhole():
	path = os.environ.get("KEYHOLE") or DEFAULT_KEYHOLE
	path = os.path.abspath(path)
	if not (os.path.isfile(path) and os.access(path, os.X_OK)):
		pytest.fail("keyhole binary not found or not executable: %s "
		    "(build it with `make asan`, or set KEYHOLE=/path/to/keyhole)"
		    % path, pytrace=False)
	return path


def _openssl(*args, cwd):
	p = subprocess.run(["openssl"] + list(args), cwd=cwd,
	    capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
	assert p.returncode == 0, "openssl %s: %s" % (" ".join(args),
	    p.stderr.decode())


@pytest.fixture(scope="session")
def ca(tmp_path_factory):
	"""A test CA and a server certificate it signed.  Returns the directory
	holding ca.pem, ca.key, server.pem, server.key.  Note: OpenSSL (curl,
	Python) does not match *.test against x.test (a wildcard needs two
	labels after it), so TLS tests use api.test, db.test or localhost."""
	d = str(tmp_path_factory.mktemp("ca"))
	with open(os.path.join(d, "ext.cnf"), "w") as f:
		f.write("subjectAltName=DNS:localhost,DNS:*.test,DNS:api.test,"
		    "DNS:db.test,IP:127.0.0.1,IP:::1\n"
		    "basicConstraints=critical,CA:FALSE\n"
		    "keyUsage=critical,digitalSignature,keyEncipherment\n"
		    "extendedKeyUsage=serverAuth\n")
	_openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
	    "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key",
	    "-out", "ca.pem", "-days", "2", "-subj", "/CN=keyhole test CA",
	    "-addext", "basicConstraints=critical,CA:TRUE",
	    "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
	_openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
	    "-nodes", "-keyout", "server.key", "-out", "server.csr",
	    "-subj", "/CN=api.test", cwd=d)
	_openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem",
	    "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem",
	    "-days", "2", "-extfile", "ext.cnf", cwd=d)
	return d


@pytest.fixture
def free_port():
	"""A function returning a 127.0.0.1 port nobody listens on."""
	return free_port_number


# ---------------------------------------------------------------------------
# HTTP(S) upstream.

class _EchoHandler(BaseHTTPRequestHandler):
	protocol_version = "HTTP/1.1"
	timeout = 5

	def log_message(self, fmt, *args):
		pass

	def _body(self):
		te = self.headers.get("Transfer-Encoding", "")
		if "chunked" in te.lower():
			data = b""
			while True:
				line = self.rfile.readline(1024)
				size = int(line.split(b";")[0], 16)
				if size == 0:
					while self.rfile.readline(1024) not in \
					    (b"\r\n", b"\n", b""):
						pass
					return data
				data += self.rfile.read(size)
				self.rfile.readline(16)
		n = int(self.headers.get("Content-Length", "0") or "0")
		return self.rfile.read(n) if n else b""

	def _handle(self):
		body = self._body()
		self.server.requests.append({
		    "method": self.command, "path": self.path,
		    "headers": list(self.headers.items()), "body": body,
		    "peer": self.client_address,
		    "sni": getattr(self.connection, "kh_sni", None)})
		if self.path.split("?")[0] == "/sse":
			return self._sse()
		out = json.dumps({"method": self.command, "path": self.path,
		    "headers": [[k, v] for k, v in self.headers.items()],
		    "body": body.decode("utf-8", "replace")}).encode()
		self.send_response(200)
		self.send_header("Content-Type", "application/json")
		self.send_header("Content-Length", str(len(out)))
		self.end_headers()
		if self.command != "HEAD":
			self.wfile.write(out)

	def _sse(self):
		self.send_response(200)
		self.send_header("Content-Type", "text/event-stream")
		self.send_header("Cache-Control", "no-cache")
		self.send_header("Transfer-Encoding", "chunked")
		self.end_headers()
		self.wfile.flush()
		for i in range(3):
			if i:
				time.sleep(0.2)
			ev = b"data: event %d\n\n" % i
			self.wfile.write(b"%x\r\n%s\r\n" % (len(ev), ev))
			self.wfile.flush()
		self.wfile.write(b"0\r\n\r\n")
		self.wfile.flush()

	do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle
	do_OPTIONS = _handle


class _HTTPServer(ThreadingHTTPServer):
	daemon_threads = True
	allow_reuse_address = True
	ssl_context = None

	def finish_request(self, request, client_address):
		request.settimeout(5)
		if self.ssl_context is not None:
			try:
				request = self.ssl_context.wrap_socket(request,
				    server_side=True)
			except (ssl.SSLError, OSError):
				self.tls_failures += 1
				return
			self.tls_ok += 1
		self.RequestHandlerClass(request, client_address, self)

	def handle_error(self, request, client_address):
		pass


class _Server:
	"""Runs a socketserver in a thread; .host, .port, .requests."""

	def __init__(self, srv):
		self.srv = srv
		self.host = srv.server_address[0]
		self.port = srv.server_address[1]
		self.thread = threading.Thread(target=srv.serve_forever,
		    kwargs={"poll_interval": 0.05}, daemon=True)
		self.thread.start()

	@property
	def requests(self):
		return self.srv.requests

	def close(self):
		self.srv.shutdown()
		self.srv.server_close()
		self.thread.join(2)


class _HTTPServer6(_HTTPServer):
	address_family = socket.AF_INET6


def _http_server(tls_dir=None, host="127.0.0.1"):
	cls = _HTTPServer6 if ":" in host else _HTTPServer
	srv = cls((host, 0), _EchoHandler)
	srv.requests = []
	srv.tls_ok = srv.tls_failures = 0
	if tls_dir is not None:
		ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
		ctx.load_cert_chain(os.path.join(tls_dir, "server.pem"),
		    os.path.join(tls_dir, "server.key"))
		ctx.sni_callback = _note_sni
		srv.ssl_context = ctx
	return _Server(srv)


def _note_sni(sock, name, ctx):
	"""Each request record names the SNI of the connection it came on."""
	sock.kh_sni = name


@pytest.fixture
def tls_upstream(ca):
	"""HTTPS/1.1 server on 127.0.0.1 (cert for api.test, *.test, ...):
	answers every request 200 with JSON {method, path, headers, body};
	/sse streams 3 events 200 ms apart.  .requests also records each
	request's "peer" (the connection's address) and "sni"."""
	s = _http_server(ca)
	yield s
	s.close()


@pytest.fixture
def http_upstream():
	"""The same over plain HTTP."""
	s = _http_server()
	yield s
	s.close()


# ---------------------------------------------------------------------------
# Raw TCP echo.

class _EchoTCP(socketserver.ThreadingTCPServer):
	daemon_threads = True
	allow_reuse_address = True

	def handle_error(self, request, client_address):
		pass


class _EchoTCP6(_EchoTCP):
	address_family = socket.AF_INET6


class _EchoTCPHandler(socketserver.BaseRequestHandler):
	"""Echo every byte as it arrives; on the client's EOF send b"BYE\\n"
	and close, so a test can see that EOF travelled upstream."""

	def handle(self):
		s = self.request
		s.settimeout(10)
		self.server.connections += 1
		try:
			while True:
				data = s.recv(65536)
				if not data:
					break
				self.server.received.append(data)
				s.sendall(data)
			self.server.eofs += 1
			s.sendall(b"BYE\n")
			s.shutdown(socket.SHUT_WR)
		except OSError:
			pass


def _echo_server(host):
	cls = _EchoTCP6 if ":" in host else _EchoTCP
	srv = cls((host, 0), _EchoTCPHandler)
	srv.received = []
	srv.connections = 0
	srv.eofs = 0
	s = _Server(srv)
	s.received = srv.received
	return s


@pytest.fixture
def tcp_echo():
	"""Raw TCP echo server on 127.0.0.1 (answers BYE\\n to EOF)."""
	s = _echo_server("127.0.0.1")
	yield s
	s.close()


@pytest.fixture
def tcp_echo6():
	"""The same on ::1; skips when ::1 cannot be bound."""
	try:
		s = _echo_server("::1")
	except OSError as e:
		pytest.skip("::1 unavailable: %s" % e)
	yield s
	s.close()


# ---------------------------------------------------------------------------
# Corporate (upstream) proxy.

class _CorpHandler(socketserver.BaseRequestHandler):
	def handle(self):
		s = self.request
		s.settimeout(5)
		buf = b""
		try:
			while b"\r\n\r\n" not in buf:
				chunk = s.recv(65536)
				if not chunk:
					return
				buf += chunk
				if len(buf) > 65536:
					return
		except OSError:
			return
		head, rest = buf.split(b"\r\n\r\n", 1)
		lines = head.decode("latin-1").split("\r\n")
		self.server.lines.append(lines[0])
		self.server.heads.append(lines)
		refuse = self.server.refuse
		if refuse:
			body = b"refused by corp\n"
			s.sendall(b"HTTP/1.1 %d Refused\r\nContent-Length: %d\r\n"
			    b"Connection: close\r\n\r\n%s" % (refuse, len(body),
			    body))
			s.close()
			return
		parts = lines[0].split(" ")
		if len(parts) != 3 or parts[0] != "CONNECT":
			s.sendall(b"HTTP/1.1 400 Bad Request\r\n"
			    b"Content-Length: 0\r\n\r\n")
			return
		port = int(parts[1].rsplit(":", 1)[1])
		try:
			up = socket.create_connection(("127.0.0.1", port), timeout=3)
		except OSError:
			s.sendall(b"HTTP/1.1 502 Bad Gateway\r\n"
			    b"Content-Length: 0\r\n\r\n")
			return
		s.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
		if rest:
			up.sendall(rest)
		_relay(s, up)


def _relay(a, b, idle=10):
	"""Relay both ways with half-close until both directions end."""
	open_ = {a: b, b: a}
	a.setblocking(False)
	b.setblocking(False)
	try:
		while open_:
			r, _, _ = select.select(list(open_), [], [], idle)
			if not r:
				break
			for src in r:
				dst = open_[src]
				try:
					data = src.recv(65536)
				except BlockingIOError:
					continue
				except OSError:
					data = b""
				if data:
					dst.setblocking(True)
					dst.settimeout(5)
					try:
						dst.sendall(data)
					except OSError:
						open_.clear()
						break
					dst.setblocking(False)
				else:
					try:
						dst.shutdown(socket.SHUT_WR)
					except OSError:
						pass
					del open_[src]
	finally:
		a.close()
		b.close()


class _Corp(_EchoTCP):
	pass


@pytest.fixture
def corp_proxy():
	"""A tiny CONNECT proxy on 127.0.0.1: records request lines in .lines
	(whole heads in .heads), refuses with status .refuse when set, else
	tunnels to 127.0.0.1:<port of the CONNECT target>."""
	srv = _Corp(("127.0.0.1", 0), _CorpHandler)
	srv.lines = []
	srv.heads = []
	srv.refuse = None
	s = _Server(srv)
	s.lines = srv.lines
	s.heads = srv.heads

	def set_refuse(code):
		srv.refuse = code
	s.set_refuse = set_refuse
	yield s
	s.close()


# ---------------------------------------------------------------------------
# The proxy under test.

class Proxy:
	"""One running `keyhole proxy`."""

	def __init__(self, keyhole, tmpdir, args, env=None):
		self.dir = tmpdir
		self.audit_path = os.path.join(tmpdir, "audit.jsonl")
		self.stderr_path = os.path.join(tmpdir, "stderr.txt")
		self.args = [keyhole, "proxy", "--audit-log", self.audit_path] + \
		    [str(a) for a in args]
		self._err = open(self.stderr_path, "wb")
		self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL,
		    stdout=subprocess.PIPE, stderr=self._err,
		    env=_clean_env(route_placeholder_keys(args, env)))
		self.env = {}
		self.names = []		# variable names in printed order
		self.token = None

	def wait_ready(self, start_timeout=10):
		"""Read the NAME=value lines up to the empty line."""
		self._read_env(start_timeout)
		hp = self.env.get("HTTP_PROXY", "")
		m = re.match(r"^http://keyhole:([0-9a-f]{64})@127\.0\.0\.1:(\d+)$",
		    hp)
		assert m, "HTTP_PROXY=%r is not http://keyhole:TOKEN@127.0.0.1:" \
		    "PORT; stderr:\n%s" % (hp, self.stderr())
		self.url = hp
		self.port = int(m.group(2))
		self.token = self.env.get("KEYHOLE_PROXY_TOKEN")

	def _read_env(self, timeout):
		fd = self.proc.stdout.fileno()
		os.set_blocking(fd, False)
		buf = b""
		deadline = time.monotonic() + timeout
		while True:
			while b"\n" in buf:
				line, buf = buf.split(b"\n", 1)
				line = line.decode()
				if line == "":
					return
				name, sep, value = line.partition("=")
				assert sep, "stdout line without '=': %r" % line
				self.names.append(name)
				self.env[name] = value
			left = deadline - time.monotonic()
			if left <= 0:
				self.kill()
				pytest.fail("keyhole proxy printed no empty line "
				    "within %ds; stdout so far %r; stderr:\n%s"
				    % (timeout, buf, self.stderr()), pytrace=False)
			r, _, _ = select.select([fd], [], [], min(left, 0.1))
			if r:
				chunk = os.read(fd, 65536)
				if chunk:
					buf += chunk
					continue
				try:
					self.proc.wait(2)
				except subprocess.TimeoutExpired:
					self.kill()
				pytest.fail("keyhole proxy closed stdout (exit %s) "
				    "before an empty line; stdout %r; stderr:\n%s"
				    % (self.proc.returncode, buf, self.stderr()),
				    pytrace=False)
			if self.proc.poll() is not None:
				pytest.fail("keyhole proxy exited %d before "
				    "listening; stderr:\n%s" % (self.proc.returncode,
				    self.stderr()), pytrace=False)

	def stderr(self):
		with open(self.stderr_path, "rb") as f:
			return f.read().decode("utf-8", "replace")

	def audit_text(self):
		try:
			with open(self.audit_path, "rb") as f:
				return f.read().decode("utf-8", "replace")
		except FileNotFoundError:
			return ""

	def _parse(self):
		out = []
		for line in self.audit_text().split("\n"):
			if not line:
				continue
			out.append(json.loads(line))
		return out

	def audit(self, count=None, timeout=2.0):
		"""Parsed audit lines.  With count, wait up to timeout for at
		least that many complete lines."""
		deadline = time.monotonic() + timeout
		while True:
			text = self.audit_text()
			complete = text if text.endswith("\n") or not text \
			    else text[:text.rfind("\n") + 1]
			n = complete.count("\n")
			if count is None or n >= count or \
			    time.monotonic() >= deadline:
				break
			time.sleep(0.02)
		lines = [json.loads(l) for l in complete.split("\n") if l]
		for rec in lines:
			assert_audit_record(rec)
		return lines

	def wait_audit(self, timeout=2.0, **match):
		"""Wait for, and return, the records matching the fields."""
		recs = wait_for(lambda: find_audit(self.audit(), **match),
		    timeout)
		assert recs, "no audit record with %r; audit: %r" % (match,
		    self.audit())
		return recs

	def wait_stderr(self, text, timeout=2.0):
		ok = wait_for(lambda: text in self.stderr(), timeout)
		assert ok, "%r not on stderr:\n%s" % (text, self.stderr())

	def running(self):
		return self.proc.poll() is None

	def send_signal(self, sig):
		self.proc.send_signal(sig)

	def stop(self, sig=signal.SIGTERM, timeout=3.0):
		"""Send sig and assert exit code 0 within timeout seconds."""
		if self.proc.poll() is None:
			self.proc.send_signal(sig)
		try:
			rc = self.proc.wait(timeout)
		except subprocess.TimeoutExpired:
			self.kill()
			pytest.fail("keyhole proxy did not exit within %.1fs of "
			    "signal %d; stderr:\n%s" % (timeout, sig,
			    self.stderr()), pytrace=False)
		assert rc == 0, "keyhole proxy exited %d; stderr:\n%s" % (rc,
		    self.stderr())
		return rc

	def kill(self):
		if self.proc.poll() is None:
			self.proc.kill()
			try:
				self.proc.wait(3)
			except subprocess.TimeoutExpired:
				pass

	def close(self):
		if self.proc.poll() is None:
			self.proc.send_signal(signal.SIGTERM)
			try:
				self.proc.wait(3)
			except subprocess.TimeoutExpired:
				self.kill()
		if self.proc.stdout:
			self.proc.stdout.close()
		self._err.close()


SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
    "runtime error:", "AddressSanitizer:DEADLYSIGNAL")


def assert_no_sanitizer_report(text, what="sanitizer report"):
	"""text (a process's stderr or output) holds no ASan, LSan or UBSan
	report."""
	for mark in SANITIZER_MARKS:
		assert mark not in text, "%s:\n%s" % (what, text)


def stop_proxies(started, secrets=()):
	"""Stop every proxy of a factory fixture, then fail once, listing
	every problem: a sanitizer report on stderr, a token the run printed
	(assert_no_secrets), or one of secrets (strings the test gave, such as
	real credentials) on stderr or in the audit log."""
	problems = []
	for px in started:
		px.close()
		err = px.stderr()
		if any(mark in err for mark in SANITIZER_MARKS):
			problems.append("sanitizer report on stderr:\n" + err)
		try:
			assert_no_secrets(px)
		except AssertionError as e:
			problems.append(str(e))
		audit = px.audit_text()
		if any(t in err or t in audit for t in secrets):
			problems.append("a secret the test gave was logged")
	if problems:
		pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def proxy(keyhole, tmp_path):
	"""Factory: proxy(*args, env=None) starts `keyhole proxy --audit-log
	<tmp>/audit.jsonl ARGS` and returns a Proxy once it printed its
	variables.  At teardown every proxy is stopped, and its audit log and
	stderr are checked for tokens and sanitizer reports."""
	started = []

	def start(*args, env=None, start_timeout=10):
		d = str(tmp_path / ("proxy%d" % len(started)))
		os.makedirs(d)
		px = Proxy(keyhole, d, args, env=env)
		started.append(px)
		px.wait_ready(start_timeout)
		return px

	yield start
	stop_proxies(started)


def start_proxy_raw(keyhole, args, timeout=5, env=None):
	"""Run keyhole with args (no --audit-log added) expecting it to exit;
	returns (rc, stdout, stderr)."""
	p = subprocess.run([keyhole] + [str(a) for a in args],
	    stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout,
	    env=_clean_env(route_placeholder_keys(args, env)))
	return p.returncode, p.stdout.decode("utf-8", "replace"), \
	    p.stderr.decode("utf-8", "replace")
