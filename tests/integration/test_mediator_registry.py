"""The proxy's table of mediated ports (SPEC 4.2): a connection the
mediator made to 127.0.0.1:PROXY_PORT is authenticated by its local port.

The table must be honoured only for a peer at 127.0.0.1, and a port must be
forgotten as soon as its connection closes -- otherwise anyone on the host
who gets the same port number (or the same number on another loopback
address) is let past Proxy-Authorization.

The sandboxed child is a python3 script in the box's granted directory: it
connects to the proxy (port from HTTP_PROXY), prints its local ports, and
waits for a marker file the test creates when it is done looking from
outside.  Everything talks to 127.0.0.1 / 127.0.0.2 only.
"""

import errno
import os
import re
import select
import socket
import time

import pytest

from conftest import read_head
from run_fixtures import box, stop_proc, try_bin  # noqa: F401

PY = "/usr/bin/python3"

pytestmark = pytest.mark.skipif(not os.access(PY, os.X_OK),
    reason="no /usr/bin/python3")

# allow-list x.test, which is never contacted (a documentation address:
# no DNS query leaves the host); evil.test is not listed, so a request
# that gets past auth is a 403, one that does not a 407.
OPTS = ("--allow-domain", "x.test:443", "--resolve", "x.test:443:192.0.2.1")
EVIL = b"CONNECT evil.test:443 HTTP/1.1\r\nHost: evil.test:443\r\n\r\n"

# Shared by the child scripts: the proxy port, a status reader, a waiter.
PRELUDE = r'''
import os, socket, struct, sys, time
MARKER = %(marker)r
PP = int(os.environ["HTTP_PROXY"].rsplit(":", 1)[1])
EVIL = %(evil)r
PORTS = %(ports)r

def dial(i):
	"""A connection to the proxy from 127.0.0.1:PORTS[i]."""
	s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
	s.bind(("127.0.0.1", PORTS[i]))
	s.settimeout(5)
	s.connect(("127.0.0.1", PP))
	return s

def say(*a):
	print(*a, flush=True)

def status(s):
	buf = b""
	s.settimeout(5)
	while b"\r\n" not in buf:
		c = s.recv(4096)
		if not c:
			return "eof"
		buf += c
	return buf.split(b" ")[1].decode()

def rst_close(s):
	s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
	    struct.pack("ii", 1, 0))
	s.close()

def wait_marker():
	deadline = time.monotonic() + 10
	while not os.path.exists(MARKER):
		if time.monotonic() > deadline:
			say("marker timeout")
			sys.exit(3)
		time.sleep(0.02)

say("pp=%%d" %% PP)
'''

# N connections of each kind.  Kind a asks for evil.test without
# credentials (the proxy answers 403 and closes); kind b says nothing.  All
# are reset (no TIME_WAIT: the port is free at once).  Each comes from a
# port the test found free and the child binds (--listen-port lets it):
# a port connect() picks may be shared with an unrelated TIME_WAIT socket
# (to another destination, without SO_REUSEADDR), which the test could
# not bind from outside -- after the limits tests' thousands of
# connections, every port connect() handed out was once like that.
N = 4
CLOSING = r'''
for i in range(%(n)d):
	a = dial(i)
	say("a_port=%%d" %% a.getsockname()[1])
	a.sendall(EVIL)
	say("a_status=%%s" %% status(a))
	rst_close(a)
bs = []
for i in range(%(n)d):
	b = dial(%(n)d + i)
	say("b_port=%%d" %% b.getsockname()[1])
	bs.append(b)
time.sleep(0.1)
for b in bs:
	rst_close(b)
say("closed")
wait_marker()
say("done")
''' % {"n": N}

# Connections held open, idle, while the test looks from 127.0.0.2; then
# each asks for evil.test (still authenticated: 403).
HOLDING = r'''
hs = [dial(i) for i in range(%(n)d)]
for h in hs:
	say("h_port=%%d" %% h.getsockname()[1])
say("open")
wait_marker()
for h in hs:
	h.sendall(EVIL)
	say("h_status=%%s" %% status(h))
	rst_close(h)
say("done")
''' % {"n": N}


def free_ports(n):
	"""n ports of 127.0.0.1 that nothing holds now, not even a TIME_WAIT
	socket: bind() without SO_REUSEADDR picks only such ports."""
	socks = []
	try:
		for _ in range(n):
			s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
			socks.append(s)
			s.bind(("127.0.0.1", 0))
		return [s.getsockname()[1] for s in socks]
	finally:
		for s in socks:
			s.close()


class Child:
	"""A `keyhole run` of a python3 script; read its stdout as it comes."""

	def __init__(self, box, body):
		self.marker = os.path.join(box.granted, "go")
		ports = free_ports(2 * N)
		script = PRELUDE % {"marker": self.marker, "evil": EVIL,
		    "ports": ports} + body
		self.script = box.write(os.path.join(box.granted, "child.py"),
		    script)
		listen = [a for p in ports for a in ("--listen-port", str(p))]
		self.p = box.popen("run", *OPTS, *listen, "--allow", box.granted,
		    "--read-file", self.script, "--", PY, self.script)
		self.out = b""
		os.set_blocking(self.p.stdout.fileno(), False)

	def wait_line(self, pattern, timeout=8.0):
		"""Wait for a stdout line matching pattern; return the match."""
		rx = re.compile(pattern.encode(), re.M)
		deadline = time.monotonic() + timeout
		fd = self.p.stdout.fileno()
		while True:
			m = rx.search(self.out)
			if m:
				return m
			left = deadline - time.monotonic()
			if left <= 0:
				raise AssertionError("no %r on the child's stdout "
				    "within %.1fs: %r; stderr: %r" % (pattern, timeout,
				    self.out, self._err()))
			r, _, _ = select.select([fd], [], [], min(left, 0.1))
			if r:
				chunk = os.read(fd, 65536)
				if not chunk:
					raise AssertionError("child's stdout closed "
					    "before %r: %r; stderr: %r" % (pattern,
					    self.out, self._err()))
				self.out += chunk

	def _err(self):
		if self.p.poll() is None:
			return "(running)"
		return self.p.stderr.read()

	def release(self):
		"""Create the marker; wait for keyhole to exit (rc, stderr)."""
		with open(self.marker, "w") as f:
			f.write("go\n")
		os.set_blocking(self.p.stdout.fileno(), True)
		out, err = self.p.communicate(timeout=8)
		self.out += out
		return self.p.returncode, err.decode("utf-8", "replace")

	def close(self):
		stop_proc(self.p)
		for f in (self.p.stdout, self.p.stderr):
			if f is not None:
				f.close()


def outside_connect_status(src, src_port, pp):
	"""From src:src_port, send the unauthenticated CONNECT to the proxy;
	return the status, or None when src_port cannot be bound (held by a
	socket we know nothing about).  The socket is reset afterwards (no
	TIME_WAIT on src_port)."""
	s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
	s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
	s.settimeout(3)
	try:
		try:
			s.bind((src, src_port))
		except OSError as e:
			if e.errno == errno.EADDRINUSE:
				return None
			raise
		s.connect(("127.0.0.1", pp))
		assert s.getsockname() == (src, src_port), s.getsockname()
		s.sendall(EVIL)
		status, _, _, _ = read_head(s, 3)
		return status
	finally:
		s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
		    b"\x01\x00\x00\x00\x00\x00\x00\x00")
		s.close()


def ports(out, kind):
	return [int(p) for p in re.findall(rb"^%s_port=(\d+)$" %
	    kind.encode(), out, re.M)]


def statuses(out, kind):
	return re.findall(rb"^%s_status=(\S+)$" % kind.encode(), out, re.M)


def test_registered_port_is_forgotten_when_its_connection_closes(box):
	"""Kind a: the proxy closed it (after its 403); kind b: the child
	reset it.  Either way an outside peer that takes the port over from
	127.0.0.1 must get 407."""
	c = Child(box, CLOSING)
	try:
		c.wait_line(r"^closed$")
		pp = int(c.wait_line(r"^pp=(\d+)$").group(1))
		a_status = statuses(c.out, "a")
		# The inside requests were authenticated by their port alone.
		assert a_status == [b"403"] * N, "inside CONNECT without " \
		    "auth: %r" % c.out
		results = {"a": [], "b": []}
		# The proxy may not have seen the resets yet: give it up to
		# 2 s in all; a port never forgotten stays 403 throughout.
		deadline = time.monotonic() + 2
		for kind in ("a", "b"):
			for port in ports(c.out, kind):
				while True:
					st = outside_connect_status("127.0.0.1",
					    port, pp)
					if st in (None, 407) or \
					    time.monotonic() > deadline:
						break
					time.sleep(0.1)
				results[kind].append((port, st))
		rc, err = c.release()
	finally:
		c.close()
	for kind, why in (("a", "the proxy closed it"),
	    ("b", "the child reset it")):
		tried = [(p, st) for p, st in results[kind] if st is not None]
		assert tried, "no port of kind %s could be bound: %r" % (kind,
		    results)
		for port, st in tried:
			assert st == 407, "port %d of a closed mediated " \
			    "connection (%s) still authenticates an outside " \
			    "peer: %d" % (port, why, st)
	assert rc == 0, (rc, c.out, err)
	assert b"done" in c.out


def test_registered_port_is_not_honoured_from_another_loopback_address(
    box):
	c = Child(box, HOLDING)
	try:
		c.wait_line(r"^open$")
		pp = int(c.wait_line(r"^pp=(\d+)$").group(1))
		results = [(p, outside_connect_status("127.0.0.2", p, pp))
		    for p in ports(c.out, "h")]
		rc, err = c.release()
	finally:
		c.close()
	assert len(results) == N, c.out
	tried = [(p, st) for p, st in results if st is not None]
	assert tried, "no 127.0.0.2 port could be bound: %r" % results
	for port, st in tried:
		assert st == 407, "127.0.0.2:%d (the port of a live mediated " \
		    "connection from 127.0.0.1) got past auth: %d" % (port, st)
	# The real owners of the ports are still authenticated afterwards.
	assert statuses(c.out, "h") == [b"403"] * N, (c.out, err)
	assert rc == 0, (rc, c.out, err)
