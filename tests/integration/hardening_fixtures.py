"""Helpers for the hardening tests (issue 7): the proxy never crashes, hangs
or leaks.

Loaded by the test_hardening_*.py modules with
`pytest_plugins = ["hardening_fixtures"]`, which also registers the `slow`
marker.  Everything talks to 127.0.0.1 only; every socket has a timeout and
every server thread a deadline.

Fixtures: release_keyhole, rproxy (factory: like conftest's proxy, but runs
the release binary, whose RSS figures mean something), bad_upstream,
bad_upstream_tls, firehose.
Helpers: raise_nofile, fd_count, vm_kb, cpu_seconds, route_args,
route_request, forward_request, open_idle, drain.
"""

import json
import os
import resource
import select
import socket
import ssl
import subprocess
import threading
import time

import pytest

from conftest import (REPO, Proxy, _clean_env, auth_header, read_head,
    stop_proxies)

RELEASE_DEFAULT = os.path.join(REPO, "build", "keyhole")
SERVICE = "svc"
SECRET = "sk-hardening-real-secret-0123456789"
MIB = 1024 * 1024


def pytest_configure(config):
	config.addinivalue_line("markers",
	    "slow: streams a GiB or more (still runs by default)")


def slow(fn):
	"""Mark a test `slow` (select with -m slow, skip with -m 'not slow').
	Applied at collection, once the marker is registered: a module's
	decorators run before its pytest_plugins are loaded."""
	fn._hardening_slow = True
	return fn


def pytest_collection_modifyitems(config, items):
	for item in items:
		fn = getattr(item, "function", None)
		if getattr(fn, "_hardening_slow", False):
			item.add_marker(pytest.mark.slow)


# ---------------------------------------------------------------------------
# Process figures.

def raise_nofile(n):
	"""Raise this process's RLIMIT_NOFILE soft limit to at least n (the
	hard one too when we may); returns the soft limit in force.  Children
	started afterwards inherit it."""
	soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
	if soft >= n:
		return soft
	if hard != resource.RLIM_INFINITY and hard < n:
		try:
			resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))
			return n
		except (ValueError, OSError):
			n = hard
	resource.setrlimit(resource.RLIMIT_NOFILE, (n, hard))
	return n


def fd_count(pid):
	return len(os.listdir("/proc/%d/fd" % pid))


def vm_kb(pid, field):
	"""A /proc/PID/status figure in kB (VmRSS, VmHWM, ...)."""
	with open("/proc/%d/status" % pid) as f:
		for line in f:
			if line.startswith(field + ":"):
				return int(line.split()[1])
	raise AssertionError("no %s in /proc/%d/status" % (field, pid))


def reset_hwm(pid):
	"""Reset VmHWM to the current RSS (Linux >= 4.0); False if we can't."""
	try:
		with open("/proc/%d/clear_refs" % pid, "w") as f:
			f.write("5")
		return True
	except OSError:
		return False


def cpu_seconds(pid):
	"""utime + stime of pid in seconds."""
	with open("/proc/%d/stat" % pid) as f:
		st = f.read()
	fields = st[st.rindex(")") + 2:].split()
	tck = os.sysconf("SC_CLK_TCK")
	return (int(fields[11]) + int(fields[12])) / tck


def wait_for(pred, timeout=2.0, interval=0.02):
	deadline = time.monotonic() + timeout
	while True:
		v = pred()
		if v or time.monotonic() >= deadline:
			return v
		time.sleep(interval)


# ---------------------------------------------------------------------------
# Proxies.

@pytest.fixture(scope="session")
def release_keyhole():
	"""The release build (KEYHOLE_RELEASE or build/keyhole)."""
	path = os.path.abspath(os.environ.get("KEYHOLE_RELEASE") or
	    RELEASE_DEFAULT)
	if not (os.path.isfile(path) and os.access(path, os.X_OK)):
		pytest.fail("release keyhole not found: %s (make build/keyhole, "
		    "or set KEYHOLE_RELEASE)" % path, pytrace=False)
	return path


class AuditPathProxy(Proxy):
	"""A Proxy whose --audit-log is a path of the test's choosing
	(/dev/full, a FIFO); audit_text() only reads regular files."""

	def __init__(self, keyhole, tmpdir, args, env=None, audit=None):
		self.dir = tmpdir
		self.audit_path = audit
		self.stderr_path = os.path.join(tmpdir, "stderr.txt")
		self.args = [keyhole, "proxy", "--audit-log", audit] + \
		    [str(a) for a in args]
		self._err = open(self.stderr_path, "wb")
		self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL,
		    stdout=subprocess.PIPE, stderr=self._err, env=_clean_env(env))
		self.env = {}
		self.names = []
		self.token = None

	def audit_text(self):
		if not os.path.isfile(self.audit_path):
			return ""
		return Proxy.audit_text(self)


def _proxy_factory(binary, tmp_path, prefix):
	started = []

	def start(*args, env=None, start_timeout=10, audit=None):
		d = str(tmp_path / ("%s%d" % (prefix, len(started))))
		os.makedirs(d)
		if audit is not None:
			px = AuditPathProxy(binary, d, args, env=env, audit=audit)
		else:
			px = Proxy(binary, d, args, env=env)
		started.append(px)
		px.wait_ready(start_timeout)
		return px

	def teardown():
		stop_proxies(started, (SECRET,))
	return start, teardown


@pytest.fixture
def aproxy(keyhole, tmp_path):
	"""Factory like conftest's proxy (the KEYHOLE binary) that also takes
	audit=PATH for the --audit-log."""
	start, teardown = _proxy_factory(keyhole, tmp_path, "aproxy")
	yield start
	teardown()


@pytest.fixture
def rproxy(release_keyhole, tmp_path):
	"""Factory like conftest's proxy, running the release binary."""
	start, teardown = _proxy_factory(release_keyhole, tmp_path, "rproxy")
	yield start
	teardown()


# ---------------------------------------------------------------------------
# Credential routes.

def route_args(tmp_path, upstream, ca=None, resolve_port=None,
    name="route.json"):
	"""Arguments and environment for a proxy with route `svc` to
	upstream (a URL).  ca: directory with ca.pem for a TLS upstream named
	api.test; resolve_port: add --resolve api.test:PORT:127.0.0.1."""
	prof = {"meta": {"name": "hardening"}, "network": {
	    "credentials": [SERVICE], "custom_credentials": {SERVICE: {
	    "upstream": upstream, "credential_key": "env://SVC_KEY",
	    "env_var": "SVC_API_KEY"}}}}
	path = os.path.join(str(tmp_path), name)
	with open(path, "w") as f:
		json.dump(prof, f)
	args = ["--profile", path]
	if ca is not None:
		args += ["--upstream-ca", os.path.join(ca, "ca.pem")]
	if resolve_port is not None:
		args += ["--resolve", "api.test:%d:127.0.0.1" % resolve_port]
	return args, {"SVC_KEY": SECRET}


def route_request(px, method, rest, headers=b"", body=b""):
	"""Bytes of one request to route svc with the phantom token."""
	return (b"%s /%s%s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    b"Authorization: Bearer %s\r\n%s\r\n%s" % (method.encode(),
	    SERVICE.encode(), rest.encode(), px.env["SVC_API_KEY"].encode(),
	    headers, body))


def forward_request(px, method, hostport, rest, headers=b"", body=b""):
	"""Bytes of one authenticated plain-HTTP forward request."""
	return (b"%s http://%s%s HTTP/1.1\r\nHost: %s\r\n%s%s\r\n%s" % (
	    method.encode(), hostport.encode(), rest.encode(),
	    hostport.encode(), auth_header(px.token), headers, body))


# ---------------------------------------------------------------------------
# Client-side helpers.

def open_idle(port, n, batch=500, timeout=20.0, settle=None):
	"""Open n TCP connections to 127.0.0.1:port without sending anything
	(non-blocking connects, in batches so the listen backlog keeps up).
	settle(count), when given, is called after each batch (to wait for
	the server to accept them).  Returns the sockets; AssertionError if
	they don't connect in time."""
	socks = []
	deadline = time.monotonic() + timeout
	try:
		while len(socks) < n:
			pending = []
			for _ in range(min(batch, n - len(socks))):
				s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
				s.setblocking(False)
				err = s.connect_ex(("127.0.0.1", port))
				assert err in (0, 115, 11), os.strerror(err)
				pending.append(s)
				socks.append(s)
			poller = select.poll()
			left = {s.fileno(): s for s in pending}
			for fd in left:
				poller.register(fd, select.POLLOUT)
			while left:
				ms = (deadline - time.monotonic()) * 1000
				assert ms > 0, "%d connections still pending" % \
				    len(left)
				for fd, ev in poller.poll(min(ms, 500)):
					s = left.pop(fd)
					poller.unregister(fd)
					e = s.getsockopt(socket.SOL_SOCKET,
					    socket.SO_ERROR)
					assert e == 0, "connect: %s" % os.strerror(e)
			if settle is not None:
				settle(len(socks))
	except BaseException:
		for s in socks:
			s.close()
		raise
	return socks


def drain(sock, limit, timeout=30.0, bufsize=MIB):
	"""Read and discard up to limit bytes or until EOF / reset / timeout;
	returns (bytes read, how it ended: 'limit'|'eof'|'reset'|'timeout')."""
	buf = bytearray(bufsize)
	got = 0
	deadline = time.monotonic() + timeout
	while got < limit:
		left = deadline - time.monotonic()
		if left <= 0:
			return got, "timeout"
		sock.settimeout(left)
		try:
			n = sock.recv_into(buf, min(bufsize, limit - got))
		except socket.timeout:
			return got, "timeout"
		except (ConnectionResetError, BrokenPipeError):
			return got, "reset"
		if n == 0:
			return got, "eof"
		got += n
	return got, "limit"


def rst_close(sock):
	"""Close with a reset (SO_LINGER 0): the client vanishes."""
	try:
		sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
		    b"\x01\x00\x00\x00\x00\x00\x00\x00")
	except OSError:
		pass
	sock.close()


# ---------------------------------------------------------------------------
# A misbehaving upstream.

def _read_head(sock, buf=b"", limit=1 << 20):
	while b"\r\n\r\n" not in buf:
		chunk = sock.recv(65536)
		if not chunk:
			return None, buf
		buf += chunk
		if len(buf) > limit:
			return None, buf
	head, rest = buf.split(b"\r\n\r\n", 1)
	return head.decode("latin-1"), rest


def _header(head, name):
	for line in head.split("\r\n")[1:]:
		k, _, v = line.partition(":")
		if k.strip().lower() == name:
			return v.strip()
	return None


def _skip_chunked(c, buf):
	"""Read past one chunked body; the bytes after it, or None when the
	body is malformed or the peer closes."""
	def more():
		chunk = c.recv(65536)
		if not chunk:
			raise EOFError
		return chunk
	try:
		while True:
			while b"\r\n" not in buf:
				buf += more()
				if len(buf) > 65536:
					return None
			line, buf = buf.split(b"\r\n", 1)
			size = line.split(b";")[0].strip()
			if not size or any(ch not in b"0123456789abcdefABCDEF"
			    for ch in size):
				return None
			n = int(size, 16)
			if n == 0:
				while b"\r\n" not in buf:
					buf += more()
				while not buf.startswith(b"\r\n"):
					_, buf = buf.split(b"\r\n", 1)
					while b"\r\n" not in buf:
						buf += more()
				return buf[2:]
			while len(buf) < n + 2:
				buf += more()
			if buf[n:n + 2] != b"\r\n":
				return None
			buf = buf[n + 2:]
	except EOFError:
		return None


class BadUpstream:
	"""An HTTP/1.1 upstream (plain or TLS) whose behaviour is chosen by the
	request path:

	/ok            200 "ok" (keep-alive)
	/reset         head with Content-Length 100000, 1000 bytes, then RST
	/stall         head with Content-Length 1000, then nothing (waits for
	               the proxy to hang up, recording when)
	/malformed     a broken status line
	/badheader     a header line without a colon
	/badlength     Content-Length: abc
	/dirty         head with Content-Length 100, 10 bytes, then a close
	               without TLS close_notify (plain: a FIN)
	/dirty-eof     200 without length ("hello", read until close), then a
	               close without close_notify
	/sse           chunked events every 50 ms until the proxy hangs up
	/big?n=N       N bytes with Content-Length
	/discard       reads a Content-Length body, answers its size

	.accepted counts connections, .heads records request heads,
	.received every byte received, .hangups the monotonic times at which a
	streaming path saw the proxy go away (EOF, reset or EPIPE),
	.stall_cut the same for /stall.  raw=True: no HTTP, a firehose that
	sends 64 KiB blocks as fast as it can on every connection until the
	peer goes."""

	def __init__(self, tls_dir=None, raw=False, max_life=30.0):
		self.lsock = socket.socket()
		self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
		self.lsock.bind(("127.0.0.1", 0))
		self.lsock.listen(128)
		self.lsock.settimeout(0.1)
		self.port = self.lsock.getsockname()[1]
		self.raw = raw
		self.max_life = max_life
		self.ctx = None
		if tls_dir is not None:
			self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
			self.ctx.load_cert_chain(
			    os.path.join(tls_dir, "server.pem"),
			    os.path.join(tls_dir, "server.key"))
		self.lock = threading.Lock()
		self.accepted = 0
		self.heads = []
		self.received = []
		self.hangups = []
		self.stall_cut = []
		self.discarded = []
		self.live = 0
		self.stopping = False
		self.thread = threading.Thread(target=self._loop, daemon=True)
		self.thread.start()

	def _loop(self):
		while not self.stopping:
			try:
				c, _ = self.lsock.accept()
			except socket.timeout:
				continue
			except OSError:
				return
			with self.lock:
				self.accepted += 1
			threading.Thread(target=self._serve, args=(c,),
			    daemon=True).start()

	def _hangup(self):
		with self.lock:
			self.hangups.append(time.monotonic())

	def _serve(self, c):
		c.settimeout(10)
		with self.lock:
			self.live += 1
		try:
			if self.raw:
				self._firehose(c)
				return
			if self.ctx is not None:
				c = self.ctx.wrap_socket(c, server_side=True)
			buf = b""
			while True:
				head, buf = _read_head(c, buf)
				if head is None:
					if buf:
						with self.lock:
							self.received.append(buf)
					return
				with self.lock:
					self.heads.append(head)
					self.received.append(head.encode("latin-1"))
				path = head.split(" ")[1] if " " in head else ""
				n = int(_header(head, "content-length") or 0)
				if path.startswith("/discard"):
					self._discard(c, buf, n)
					buf = b""
					continue
				te = (_header(head, "transfer-encoding") or "").lower()
				if "chunked" in te:
					buf = _skip_chunked(c, buf)
					if buf is None:
						return
				else:
					while len(buf) < n:
						chunk = c.recv(65536)
						if not chunk:
							return
						buf += chunk
					buf = buf[n:]
				if not self._answer(c, path):
					return
		except (OSError, ssl.SSLError, ValueError):
			pass
		finally:
			with self.lock:
				self.live -= 1
			try:
				c.close()
			except OSError:
				pass

	def _discard(self, c, buf, n):
		got = len(buf)
		mv = bytearray(MIB)
		while got < n:
			k = c.recv_into(mv, min(MIB, n - got))
			if k == 0:
				raise OSError("EOF in the body")
			got += k
		with self.lock:
			self.discarded.append(got)
		body = b"%d" % got
		c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s"
		    % (len(body), body))

	def _watch(self, c, seconds):
		"""Wait up to seconds for the peer to go; True if it did."""
		raw = c
		try:
			r, _, _ = select.select([raw], [], [], seconds)
		except (OSError, ValueError):
			return True
		if not r:
			return False
		try:
			if isinstance(c, ssl.SSLSocket):
				c.setblocking(False)
				try:
					data = c.recv(65536)
				except ssl.SSLWantReadError:
					return False
				finally:
					c.setblocking(True)
					c.settimeout(10)
			else:
				data = c.recv(65536)
		except (OSError, ssl.SSLError):
			return True
		return data == b""

	def _answer(self, c, path):
		"""Answer one request; False to end the connection."""
		if path.startswith("/ok"):
			c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			return True
		if path.startswith("/reset"):
			c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n"
			    b"\r\n" + b"r" * 1000)
			time.sleep(0.2)
			self._rst(c)
			return False
		if path.startswith("/stall"):
			c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
			t0 = time.monotonic()
			while time.monotonic() - t0 < self.max_life:
				if self._watch(c, 0.2):
					with self.lock:
						self.stall_cut.append(time.monotonic())
					return False
			return False
		if path.startswith("/malformed"):
			c.sendall(b"HTTP/1.1 2x0 Whatever\r\nContent-Length: 0\r\n\r\n")
			return False
		if path.startswith("/badheader"):
			c.sendall(b"HTTP/1.1 200 OK\r\nNo colon here\r\n"
			    b"Content-Length: 0\r\n\r\n")
			return False
		if path.startswith("/badlength"):
			c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n")
			return False
		if path.startswith("/dirty-eof"):
			c.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"
			    b"hello")
			time.sleep(0.1)
			self._dirty(c)
			return False
		if path.startswith("/dirty"):
			c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"
			    b"0123456789")
			time.sleep(0.1)
			self._dirty(c)
			return False
		if path.startswith("/sse"):
			self._sse(c)
			return False
		if path.startswith("/big"):
			n = int(path.split("n=", 1)[1])
			self._big(c, n)
			return True
		c.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
		return True

	def _rst(self, c):
		if isinstance(c, ssl.SSLSocket):
			c = socket.socket(fileno=c.detach())
		c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
		    b"\x01\x00\x00\x00\x00\x00\x00\x00")
		c.close()

	def _dirty(self, c):
		"""Close without close_notify: SSLSocket.shutdown() drops the
		TLS layer and shuts the TCP socket down (no alert sent)."""
		try:
			c.shutdown(socket.SHUT_RDWR)
		except OSError:
			pass

	def _sse(self, c):
		c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
		    b"Transfer-Encoding: chunked\r\n\r\n")
		t0 = time.monotonic()
		i = 0
		while time.monotonic() - t0 < self.max_life:
			ev = b"data: event %d\n\n" % i
			i += 1
			try:
				c.sendall(b"%x\r\n%s\r\n" % (len(ev), ev))
			except (OSError, ssl.SSLError):
				self._hangup()
				return
			if self._watch(c, 0.05):
				self._hangup()
				return

	def _big(self, c, n):
		c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/"
		    b"octet-stream\r\nContent-Length: %d\r\n\r\n" % n)
		block = memoryview(b"b" * MIB)
		sent = 0
		try:
			while sent < n:
				k = min(MIB, n - sent)
				c.sendall(block[:k])
				sent += k
		except (OSError, ssl.SSLError):
			self._hangup()
			raise

	def _firehose(self, c):
		t0 = time.monotonic()
		block = b"f" * 65536
		while time.monotonic() - t0 < self.max_life:
			try:
				c.sendall(block)
			except OSError:
				self._hangup()
				return
			if self._watch(c, 0.002):
				self._hangup()
				return

	def close(self):
		self.stopping = True
		self.lsock.close()
		self.thread.join(2)


@pytest.fixture
def bad_upstream():
	u = BadUpstream()
	yield u
	u.close()


@pytest.fixture
def bad_upstream_tls(ca):
	u = BadUpstream(tls_dir=ca)
	yield u
	u.close()


@pytest.fixture
def firehose():
	u = BadUpstream(raw=True)
	yield u
	u.close()


def one_response(port, data, timeout=5.0):
	"""Send data on a fresh connection; (status, headers, body, end) where
	end says how the body ended (see drain); status None if no head."""
	s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
	try:
		s.sendall(data)
		try:
			st, _, h, left = read_head(s, timeout)
		except AssertionError:
			return None, {}, b"", "nohead"
		want = int(h["content-length"]) if "content-length" in h \
		    else 1 << 30
		body = left
		end = "limit"
		deadline = time.monotonic() + timeout
		while len(body) < want:
			left_t = deadline - time.monotonic()
			if left_t <= 0:
				end = "timeout"
				break
			s.settimeout(left_t)
			try:
				chunk = s.recv(65536)
			except socket.timeout:
				end = "timeout"
				break
			except ConnectionResetError:
				end = "reset"
				break
			if not chunk:
				end = "eof"
				break
			body += chunk
		return st, h, body, end
	finally:
		s.close()
