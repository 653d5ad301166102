"""The connect mediator (SPEC 1 layer 3, 3): every connect() of the child
is decided and performed by the supervisor.

The sandboxed child runs build/helpers/mconnect, which connects the way
each test needs and exits 0 or with the errno (99: the mediator was
fooled).  Servers listen on 127.0.0.1 and 127.0.0.2 only.
"""

import errno
import json
import os
import socket
import subprocess
import threading
import time

import pytest

from conftest import REPO, free_port_number, read_head
from run_fixtures import (EACCES, assert_errno, assert_ok, box,  # noqa: F401
    stop_proc, try_bin)

MCONNECT = os.path.join(REPO, "build", "helpers", "mconnect")


@pytest.fixture(scope="module")
def mconnect():
	if not (os.path.isfile(MCONNECT) and os.access(MCONNECT, os.X_OK)):
		pytest.fail("helper not built: %s (make build/helpers/mconnect)"
		    % MCONNECT, pytrace=False)
	return MCONNECT


class Server:
	"""A TCP listener that accepts (and counts, and closes) connections."""

	def __init__(self, host, port=0, backlog=512, accept=True, hold=False):
		self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
		self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
		self.sock.bind((host, port))
		self.sock.listen(backlog)
		self.port = self.sock.getsockname()[1]
		self.accepted = 0
		self.held = []
		self.hold = hold
		self.stop = False
		self.thread = None
		if accept:
			self.start()

	def start(self):
		self.sock.settimeout(0.1)
		self.thread = threading.Thread(target=self._loop, daemon=True)
		self.thread.start()

	def _loop(self):
		while not self.stop:
			try:
				c, _ = self.sock.accept()
			except socket.timeout:
				continue
			except OSError:
				return
			self.accepted += 1
			if self.hold:
				self.held.append(c)
			else:
				c.close()

	def fill_backlog(self):
		"""Fill the accept queue of a non-accepting server (backlog=0)
		and leave a SYN hanging, so the next blocking connect to it
		waits; returns the filling sockets (the caller closes them)."""
		fill = []
		for _ in range(3):
			c = socket.socket()
			c.setblocking(False)
			try:
				c.connect(("127.0.0.1", self.port))
			except BlockingIOError:
				pass
			fill.append(c)
		time.sleep(0.2)
		return fill

	def close(self):
		self.stop = True
		if self.thread is not None:
			self.thread.join(2)
		self.sock.close()
		for s in self.held:
			s.close()


@pytest.fixture
def servers():
	"""(granted, other): listeners on 127.0.0.1:P and 127.0.0.2:P."""
	a = Server("127.0.0.1")
	b = Server("127.0.0.2", a.port)
	yield a, b
	a.close()
	b.close()


def audit_lines(path):
	if not os.path.exists(path):
		return []
	with open(path) as f:
		return [json.loads(line) for line in f if line.strip()]


def direct(recs, **match):
	return [r for r in recs if r.get("mode") == "direct" and
	    all(r.get(k) == v for k, v in match.items())]


def grant_opts(port):
	return ("--allow-domain", "db.test:%d" % port,
	    "--resolve", "db.test:%d:127.0.0.1" % port)


def run_m(box, opts, *args, **kw):
	"""keyhole run OPTS --read-file MCONNECT -- MCONNECT ARGS."""
	return box.run("run", *opts, "--audit-log", box.path("audit.log"),
	    "--read-file", MCONNECT, "--", MCONNECT, *[str(a) for a in args],
	    **kw)


def test_connect_to_other_address_on_granted_port_is_eacces(box, mconnect,
    servers):
	a, b = servers
	res = run_m(box, grant_opts(a.port), "connect", "127.0.0.2", a.port)
	assert_errno(res, EACCES)
	assert b.accepted == 0
	recs = direct(audit_lines(box.path("audit.log")), host="127.0.0.2",
	    port=a.port, decision="deny")
	assert len(recs) == 1, audit_lines(box.path("audit.log"))
	assert recs[0]["reason"] == "no direct grant for this address and port"


@pytest.mark.skipif(not os.path.exists("/usr/bin/curl"), reason="no curl")
def test_curl_noproxy_to_ungranted_address_is_refused(box, mconnect,
    servers):
	a, b = servers
	res = box.run("run", *grant_opts(a.port), "--audit-log",
	    box.path("audit.log"), "--", "/usr/bin/curl", "-sS",
	    "--max-time", "5", "--noproxy", "*",
	    "http://127.0.0.2:%d/" % a.port)
	assert res.rc == 7, res		# couldn't connect
	assert b.accepted == 0
	assert direct(audit_lines(box.path("audit.log")), host="127.0.0.2",
	    decision="deny")


def test_direct_grant_reaches_its_server(box, mconnect, servers):
	a, b = servers
	res = run_m(box, grant_opts(a.port), "connect", "127.0.0.1", a.port)
	assert_ok(res)
	assert "ok peer=127.0.0.1:%d" % a.port in res.out
	assert wait_until(lambda: a.accepted == 1)
	recs = direct(audit_lines(box.path("audit.log")), host="127.0.0.1",
	    port=a.port, decision="allow")
	assert len(recs) == 1 and recs[0]["reason"] == "direct grant", recs


def test_proxy_port_on_other_loopback_address_is_refused(box, mconnect):
	pp = free_port_number()
	res = run_m(box, ("--proxy-port", pp, "--allow-domain",
	    "example.test"), "connect", "127.0.0.2", pp)
	assert_errno(res, EACCES)
	recs = direct(audit_lines(box.path("audit.log")), host="127.0.0.2",
	    port=pp, decision="deny")
	assert recs and recs[0]["reason"] == "not the proxy's address", recs


def test_ipv6_loopback_on_granted_port_is_refused(box, mconnect, servers):
	a, _ = servers
	res = run_m(box, grant_opts(a.port), "connect", "::1", a.port)
	assert_errno(res, EACCES)


def test_nonblocking_connect_is_einprogress_then_writable(box, mconnect,
    servers):
	a, _ = servers
	res = run_m(box, grant_opts(a.port), "nonblock", "127.0.0.1", a.port)
	assert_ok(res)
	assert "connect=EINPROGRESS" in res.out or "connect=0" in res.out, res
	assert "so_error=0" in res.out, res


def test_nonblocking_connect_denied_is_eacces_at_once(box, mconnect,
    servers):
	a, _ = servers
	res = run_m(box, grant_opts(a.port), "nonblock", "127.0.0.2", a.port)
	assert_errno(res, EACCES)


def test_rewriting_the_address_never_reaches_it(box, mconnect, servers):
	a, b = servers
	res = run_m(box, grant_opts(a.port), "race", "127.0.0.1",
	    "127.0.0.2", a.port, 2, timeout=60)
	assert res.rc == 0, res
	assert "REACHED" not in res.out
	ok = int(res.out.split("ok=")[1].split()[0])
	assert ok > 0, res
	assert b.accepted == 0


def test_connect_inside_without_proxy_auth_is_authenticated(box, mconnect):
	"""A CONNECT the child sends without Proxy-Authorization succeeds
	(its connection was made by the mediator and registered); the same
	request from outside gets 407."""
	echo = Server("127.0.0.1", hold=True)
	pp = free_port_number()
	req = ("CONNECT 127.0.0.1:%d HTTP/1.1\\r\\nHost: 127.0.0.1:%d"
	    "\\r\\n\\r\\n" % (echo.port, echo.port))
	p = box.popen("run", "--proxy-port", pp, "--allow-domain",
	    "127.0.0.1:%d" % echo.port, "--read-file", MCONNECT, "--",
	    "/bin/sh", "-c", "sleep 1.5; exec %s send 127.0.0.1 %d '%s'"
	    % (MCONNECT, pp, req))
	try:
		# From outside, while the run is on: 407.
		s = None
		deadline = time.monotonic() + 5
		while s is None and time.monotonic() < deadline:
			try:
				s = socket.create_connection(("127.0.0.1", pp),
				    timeout=2)
			except OSError:
				time.sleep(0.05)
		assert s is not None, "proxy not listening"
		s.sendall(req.replace("\\r\\n", "\r\n").encode())
		status, _, hdrs, _ = read_head(s)
		s.close()
		assert status == 407, status
		out, err = p.communicate(timeout=20)
	finally:
		stop_proc(p)
		echo.close()
	assert p.returncode == 0, (out, err)
	assert out.startswith(b"HTTP/1.1 200"), (out, err)


def test_many_concurrent_connects_are_all_answered(box, mconnect, servers):
	a, _ = servers
	res = run_m(box, grant_opts(a.port), "many", "127.0.0.1", a.port, 300,
	    timeout=60)
	assert_ok(res)
	assert "ok=300 failed=0" in res.out, res


def test_many_concurrent_connects_to_the_proxy(box, mconnect):
	pp = free_port_number()
	res = run_m(box, ("--proxy-port", pp, "--allow-domain",
	    "example.test"), "many", "127.0.0.1", pp, 200, timeout=60)
	assert_ok(res)


def test_proxy_serves_while_a_blocking_connect_is_pending(box, mconnect):
	"""A blocking connect to a peer whose backlog is full waits in the
	event loop, not in the supervisor: the proxy keeps answering."""
	slow = Server("127.0.0.1", backlog=0, accept=False)
	fill = []
	try:
		fill = slow.fill_backlog()
		pp = free_port_number()
		p = box.popen("run", "--proxy-port", pp, "--allow-domain",
		    "example.test", "--open-port", slow.port, "--read-file",
		    MCONNECT, "--", MCONNECT, "connect", "127.0.0.1", slow.port)
		try:
			time.sleep(1.0)
			assert p.poll() is None, p.communicate()
			t0 = time.monotonic()
			s = socket.create_connection(("127.0.0.1", pp),
			    timeout=3)
			s.sendall(b"CONNECT x.test:443 HTTP/1.1\r\n"
			    b"Host: x.test:443\r\n\r\n")
			status, _, _, _ = read_head(s, timeout=3)
			s.close()
			assert status == 407
			assert time.monotonic() - t0 < 1.0
			assert p.poll() is None, "connect did not wait"
			# Let the queue drain: the pending connect completes.
			for c in fill:
				c.close()
			slow.start()
			out, err = p.communicate(timeout=30)
		finally:
			stop_proc(p)
	finally:
		slow.close()
		for c in fill:
			c.close()
	assert p.returncode == 0, (out, err)
	assert b"ok peer=127.0.0.1:%d" % slow.port in out


def wait_until(pred, timeout=3.0):
	deadline = time.monotonic() + timeout
	while not pred():
		if time.monotonic() > deadline:
			return False
		time.sleep(0.02)
	return True


# ---------------------------------------------------------------------------
# AF_UNIX

@pytest.fixture
def unix_servers(box):
	"""Listening sockets box/granted/s.sock and box/outside/s.sock."""
	socks = []
	paths = {}
	for where in ("granted", "outside"):
		path = box.path(where, "s.sock")
		s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
		s.bind(path)
		s.listen(16)
		socks.append(s)
		paths[where] = path
	yield paths
	for s in socks:
		s.close()


def test_unix_socket_outside_grants_is_refused(box, mconnect,
    unix_servers):
	res = run_m(box, ("--block-net", "--allow", box.granted), "unix",
	    unix_servers["outside"])
	assert_errno(res, EACCES)
	recs = direct(audit_lines(box.path("audit.log")), decision="deny")
	assert recs and recs[0]["host"] == "unix:" + \
	    os.path.realpath(unix_servers["outside"]), recs
	assert recs[0]["reason"] == "unix socket not bound in the sandbox " \
	    "nor named by --allow-unix-socket"


def test_socket_bound_outside_in_a_write_granted_directory_is_refused(box,
    mconnect, unix_servers):
	"""SPEC 3.2: a directory grant never implies a socket grant."""
	res = run_m(box, ("--block-net", "--allow", box.granted), "unix",
	    unix_servers["granted"])
	assert_errno(res, EACCES)


def test_unix_socket_via_symlink_in_grant_to_outside_is_refused(box,
    mconnect, unix_servers):
	link = os.path.join(box.granted, "link.sock")
	os.symlink(unix_servers["outside"], link)
	res = run_m(box, ("--block-net", "--allow", box.granted), "unix",
	    link)
	assert_errno(res, EACCES)


def test_allow_unix_socket_is_honoured(box, mconnect, unix_servers):
	res = run_m(box, ("--block-net", "--allow", box.granted,
	    "--allow-unix-socket", unix_servers["outside"]), "unix",
	    unix_servers["outside"])
	assert_ok(res)


def test_relative_unix_path_is_resolved_in_the_childs_directory(box,
    mconnect, unix_servers):
	"""The child moves to a directory the supervisor is not in (it runs
	in the box's root), then connects to "s.sock": the mediator must read
	it against the child's cwd (/proc/PID/cwd).  Read against its own,
	it would find no socket and refuse the granted one."""
	opts = ("--block-net", "--allow", box.granted, "--allow-unix-socket",
	    unix_servers["granted"])
	assert_ok(run_m(box, opts, "unixat", box.granted, "s.sock"))
	res = run_m(box, opts, "unixat", box.outside, "s.sock")
	assert_errno(res, EACCES)
	recs = direct(audit_lines(box.path("audit.log")), decision="deny")
	assert recs and recs[-1]["host"] == "unix:" + \
	    os.path.realpath(unix_servers["outside"]), recs


def test_profile_allow_unix_socket_is_honoured(box, mconnect,
    unix_servers):
	"""filesystem.allow_unix_socket in a profile acts as the flag does."""
	prof = box.path("profile.json")
	body = {"meta": {"name": "t"}, "filesystem": {
	    "allow": [box.granted], "read_file": [MCONNECT]},
	    "network": {"block": True}}
	with open(prof, "w") as f:
		json.dump(body, f)
	res = box.run("run", "-s", "--profile", prof, "--", MCONNECT, "unix",
	    unix_servers["outside"])
	assert_errno(res, EACCES)
	body["filesystem"]["allow_unix_socket"] = [unix_servers["outside"]]
	with open(prof, "w") as f:
		json.dump(body, f)
	res = box.run("run", "-s", "--profile", prof, "--", MCONNECT, "unix",
	    unix_servers["outside"])
	assert_ok(res)


def test_unix_socket_in_proxy_mode_follows_the_same_rules(box, mconnect,
    unix_servers):
	opts = ("--allow-domain", "example.test", "--allow", box.granted)
	assert_errno(run_m(box, opts, "unix", unix_servers["outside"]),
	    EACCES)
	assert_errno(run_m(box, opts, "unix", unix_servers["granted"]),
	    EACCES)
	assert_ok(run_m(box, opts + ("--allow-unix-socket",
	    unix_servers["granted"]), "unix", unix_servers["granted"]))


def test_abstract_unix_socket_is_refused(box, mconnect):
	name = "keyhole-test-%d" % os.getpid()
	s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
	s.bind("\0" + name)
	s.listen(4)
	try:
		res = run_m(box, ("--block-net",), "abstract", name)
	finally:
		s.close()
	assert_errno(res, EACCES)
	assert direct(audit_lines(box.path("audit.log")),
	    reason="abstract unix socket")


def test_blocked_mode_allows_loopback_open_port_only(box, mconnect,
    servers):
	a, b = servers
	assert_ok(run_m(box, ("--block-net", "--open-port", a.port),
	    "connect", "127.0.0.1", a.port))
	assert_errno(run_m(box, ("--block-net", "--open-port", a.port),
	    "connect", "127.0.0.2", a.port), EACCES)
	assert b.accepted == 0


def test_allow_mode_has_no_mediator(box, mconnect, servers):
	"""No network options: nono's default, connect() is not trapped."""
	a, b = servers
	assert_ok(run_m(box, (), "connect", "127.0.0.2", a.port))
	assert wait_until(lambda: b.accepted == 1)
	assert not direct(audit_lines(box.path("audit.log")))
