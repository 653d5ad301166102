"""Helpers for the credential-route tests (SPEC 4.6, 5).

A route is declared in a profile file under tmp_path and points at one of
conftest's echo upstreams (TLS through --upstream-ca and a --resolve of
api.test, or plain HTTP to 127.0.0.1).  Everything stays on loopback and
every read has a timeout.

Fixtures: route (factory), upgrade_upstream.
Helpers: write_profile, send_request, ask, assert_json_error,
upstream_headers, read_stdout_rest.
"""

import base64
import json
import os
import select
import socket
import ssl
import threading
import time
import urllib.parse

import pytest

from conftest import SOCK_TIMEOUT, read_response

REAL_SECRET = "sk-real-5ecret-Value+/=&?#x"	# needs escaping in a query
SERVICE = "svc"


def write_profile(tmp_path, routes, name="p.json"):
	"""Write a profile declaring the routes {service: fields}; returns its
	path."""
	prof = {"meta": {"name": "t"}, "network": {
	    "credentials": list(routes), "custom_credentials": routes}}
	path = os.path.join(str(tmp_path), name)
	with open(path, "w") as f:
		json.dump(prof, f)
	return path


def upstream_headers(req):
	"""The upstream-received headers of one recorded request, as a list
	of (lower-case name, value) in order."""
	return [(k.lower(), v) for k, v in req["headers"]]


def header_dict(req):
	return {k: v for k, v in upstream_headers(req)}


def send_request(sock, method, path, headers=(), body=b"",
    content_length=True):
	"""Write one request in origin form.  headers: (name, value) pairs
	(bytes or str)."""
	def b(x):
		return x if isinstance(x, bytes) else x.encode("latin-1")
	req = b"%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n" % (b(method), b(path))
	for k, v in headers:
		req += b(k) + b": " + b(v) + b"\r\n"
	if body and content_length:
		req += b"Content-Length: %d\r\n" % len(body)
	sock.sendall(req + b"\r\n" + b(body))


def ask(px, method, path, headers=(), body=b"", timeout=SOCK_TIMEOUT):
	"""One request on a fresh connection: (status, reason, headers, body)."""
	s = socket.create_connection(("127.0.0.1", px.port), timeout=timeout)
	with s:
		send_request(s, method, path, headers, body)
		st, rs, h, b, _ = read_response(s, timeout)
	return st, rs, h, b


def assert_json_error(status, headers, body, code, error=None):
	"""A keyhole-generated route answer (SPEC 4.6): JSON {"error": ...}
	with Content-Type application/json and a correct Content-Length."""
	assert status == code, "expected %d, got %d: %r" % (code, status,
	    body[:300])
	ct = headers.get("content-type", "").split(";")[0].strip().lower()
	assert ct == "application/json", headers
	assert headers.get("content-length") == str(len(body)), headers
	doc = json.loads(body)
	assert set(doc) == {"error"} and isinstance(doc["error"], str), doc
	if error is not None:
		assert doc["error"] == error, doc
	return doc


def endpoint_denied(method, path, service=SERVICE):
	"""The JSON error of a route request its endpoint rules deny (SPEC
	4.11): keyhole's policy, the rule, and the flag that would allow it.
	path is as audited (query values and url_path tokens redacted)."""
	return ("keyhole's sandbox policy denied %s /%s%s: endpoint denied: "
	    "%s %s; to allow it: --allow-endpoint %s:%s:%s (profile: "
	    "network.allow_endpoint, or for a custom route "
	    "network.custom_credentials.%s.endpoint_rules). "
	    "This is a policy decision, not a network error: do not retry it "
	    "another way" % (method, service, path, method, path, service,
	    method, path.split("?")[0], service))


def read_stdout_rest(px, timeout=1.0):
	"""Whatever the proxy wrote on stdout after its variables (read until
	EOF, so stop the proxy first)."""
	fd = px.proc.stdout.fileno()
	os.set_blocking(fd, False)
	out = b""
	deadline = time.monotonic() + timeout
	while time.monotonic() < deadline:
		r, _, _ = select.select([fd], [], [], 0.05)
		if not r:
			if px.proc.poll() is not None:
				break
			continue
		try:
			chunk = os.read(fd, 65536)
		except BlockingIOError:
			continue
		if not chunk:
			break
		out += chunk
	return out.decode("utf-8", "replace")


class Route:
	"""A running proxy with one custom route `svc`."""

	def __init__(self, px, up, secret, phantom, fields):
		self.px = px
		self.up = up
		self.secret = secret
		# Every value that must never be logged (tests may add more).
		self.secrets = []
		if secret:
			self.add_secret(secret)
		self.phantom = phantom
		self.fields = fields
		self.port = px.port

	def add_secret(self, secret):
		"""Also check secret, percent-encoded and base64 forms included,
		at teardown."""
		for form in (secret, urllib.parse.quote(secret, safe=""),
		    base64.b64encode(secret.encode()).decode()):
			if form not in self.secrets:
				self.secrets.append(form)

	@property
	def base(self):
		return "/" + SERVICE

	def get(self, rest, headers=None, method="GET", body=b""):
		if headers is None:
			headers = [("Authorization", "Bearer " + self.phantom)]
		return ask(self.px, method, self.base + rest, headers, body)


@pytest.fixture
def route(proxy, tmp_path, ca):
	"""Factory: route(up, secret=REAL_SECRET, args=(), tls=True,
	source=None, **fields) declares route `svc` to the upstream server
	`up` (None: a port nobody listens on), starts the proxy and returns a
	Route.  source: the credential_key (default env://SVC_KEY, with
	SVC_KEY=secret in the proxy's environment).  At teardown every proxy
	is stopped and the real secret must appear nowhere: not on stdout,
	stderr, the audit file, nor in the printed variables."""
	made = []

	def start(up, secret=REAL_SECRET, args=(), tls=True, source=None,
	    upstream=None, ca_arg=True, port=None, **fields):
		if port is None:
			port = up.port if up is not None else \
			    _free_port()
		if upstream is None:
			upstream = ("https://api.test:%d" % port) if tls else \
			    ("http://127.0.0.1:%d" % port)
		f = {"upstream": upstream,
		    "credential_key": source or "env://SVC_KEY",
		    "env_var": "SVC_API_KEY"}
		f.update(fields)
		path = write_profile(tmp_path, {SERVICE: f},
		    name="p%d.json" % len(made))
		argv = ["--profile", path]
		if tls:
			if ca_arg:
				argv += ["--upstream-ca",
				    os.path.join(ca, "ca.pem")]
			argv += ["--resolve", "api.test:%d:127.0.0.1" % port]
		argv += list(args)
		env = {"SVC_KEY": secret} if secret is not None else None
		px = proxy(*argv, env=env)
		phantom = px.env.get("SVC_API_KEY")
		assert phantom and len(phantom) == 64, px.env
		assert px.env.get("SVC_BASE_URL") == \
		    "http://127.0.0.1:%d/%s" % (px.port, SERVICE), px.env
		r = Route(px, up, secret, phantom, f)
		made.append(r)
		return r

	yield start
	problems = []
	for r in made:
		px = r.px
		if px.proc.poll() is None:
			px.proc.terminate()
			try:
				px.proc.wait(3)
			except Exception:
				px.kill()
		out = read_stdout_rest(px)
		where = {"stdout": out, "stderr": px.stderr(),
		    "audit": px.audit_text(),
		    "variables": "\n".join(px.env.values())}
		for sec in r.secrets:
			for k, text in where.items():
				if sec in text:
					problems.append("a real secret (%d bytes) "
					    "appears in the proxy's %s" % (len(sec),
					    k))
	if problems:
		pytest.fail("\n".join(problems), pytrace=False)


def _free_port():
	s = socket.socket()
	s.bind(("127.0.0.1", 0))
	p = s.getsockname()[1]
	s.close()
	return p


# ---------------------------------------------------------------------------
# An upstream that switches protocols.

class UpgradeUpstream:
	"""Answers the first request head with 101 Switching Protocols, then
	echoes raw bytes back; on the client's EOF it
	sends b"BYE" and closes.  .heads records each request head (str);
	TLS when tls_dir is given."""

	def __init__(self, tls_dir=None):
		self.sock = socket.socket()
		self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
		self.sock.bind(("127.0.0.1", 0))
		self.sock.listen(8)
		self.sock.settimeout(0.1)
		self.port = self.sock.getsockname()[1]
		self.heads = []
		self.received = []
		self.ctx = None
		if tls_dir:
			self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
			self.ctx.load_cert_chain(
			    os.path.join(tls_dir, "server.pem"),
			    os.path.join(tls_dir, "server.key"))
		self.stopping = False
		self.thread = threading.Thread(target=self._loop, daemon=True)
		self.thread.start()

	def _loop(self):
		while not self.stopping:
			try:
				c, _ = self.sock.accept()
			except socket.timeout:
				continue
			except OSError:
				return
			threading.Thread(target=self._serve, args=(c,),
			    daemon=True).start()

	def _serve(self, c):
		c.settimeout(5)
		try:
			if self.ctx is not None:
				c = self.ctx.wrap_socket(c, server_side=True)
			buf = b""
			while b"\r\n\r\n" not in buf:
				chunk = c.recv(65536)
				if not chunk:
					return
				buf += chunk
			head, rest = buf.split(b"\r\n\r\n", 1)
			self.heads.append(head.decode("latin-1"))
			c.sendall(b"HTTP/1.1 101 Switching Protocols\r\n"
			    b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
			    b"\r\n")
			if rest:
				self.received.append(rest)
				c.sendall(rest)
			while True:
				data = c.recv(65536)
				if not data:
					break
				self.received.append(data)
				c.sendall(data)
			c.sendall(b"BYE")
			try:
				c.shutdown(socket.SHUT_WR)
			except OSError:
				pass
		except (OSError, ssl.SSLError):
			pass
		finally:
			c.close()

	def close(self):
		self.stopping = True
		self.sock.close()
		self.thread.join(2)


@pytest.fixture
def upgrade_upstream():
	"""Plain-HTTP upstream answering 101 then echoing raw bytes."""
	u = UpgradeUpstream()
	yield u
	u.close()


@pytest.fixture
def upgrade_upstream_tls(ca):
	"""The same over TLS (certificate for api.test)."""
	u = UpgradeUpstream(ca)
	yield u
	u.close()


# ---------------------------------------------------------------------------
# An upstream that closes its connections.

class ClosingUpstream:
	"""Plain-HTTP upstream that answers one request per connection with
	200 {"n": <request number>, "path": ...} and then closes: with a
	`Connection: close` header (announce=True) or, like a server whose
	keep-alive timeout ran out, silently `delay` seconds later."""

	def __init__(self, announce, delay=0.0):
		self.announce = announce
		self.delay = delay
		self.sock = socket.socket()
		self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
		self.sock.bind(("127.0.0.1", 0))
		self.sock.listen(8)
		self.sock.settimeout(0.1)
		self.port = self.sock.getsockname()[1]
		self.paths = []
		self.connections = 0
		self.stopping = False
		self.thread = threading.Thread(target=self._loop, daemon=True)
		self.thread.start()

	def _loop(self):
		while not self.stopping:
			try:
				c, _ = self.sock.accept()
			except socket.timeout:
				continue
			except OSError:
				return
			self.connections += 1
			threading.Thread(target=self._serve, args=(c,),
			    daemon=True).start()

	def _serve(self, c):
		c.settimeout(5)
		try:
			buf = b""
			while b"\r\n\r\n" not in buf:
				chunk = c.recv(65536)
				if not chunk:
					return
				buf += chunk
			line = buf.split(b"\r\n", 1)[0].decode("latin-1")
			self.paths.append(line.split(" ")[1])
			body = json.dumps({"n": len(self.paths),
			    "path": self.paths[-1]}).encode()
			c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: "
			    b"application/json\r\nContent-Length: %d\r\n%s\r\n%s"
			    % (len(body), b"Connection: close\r\n"
			    if self.announce else b"", body))
			if self.delay:
				time.sleep(self.delay)
		except OSError:
			pass
		finally:
			c.close()

	def close(self):
		self.stopping = True
		self.sock.close()
		self.thread.join(2)
