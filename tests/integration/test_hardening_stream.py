"""A GiB through the proxy in each direction (issue 7, SPEC 4.6: bodies
stream, never buffered whole): peak RSS (VmHWM) of the release build stays
under 16 MB."""

import os
import socket
import ssl
import threading
import time

import pytest

pytest.register_assert_rewrite("hardening_fixtures")

from conftest import read_head
from hardening_fixtures import (MIB, drain, forward_request, route_args,
    route_request, slow, vm_kb)

pytest_plugins = ["hardening_fixtures"]

GIB = 1 << 30
HWM_LIMIT_KB = 16 * 1024


@pytest.fixture
def big_route(rproxy, tmp_path, bad_upstream):
	args, env = route_args(tmp_path, "http://127.0.0.1:%d" %
	    bad_upstream.port)
	px = rproxy(*args, "--max-body", "2000000000",
	    "--allow-domain", "web.test:%d" % bad_upstream.port,
	    "--resolve", "web.test:%d:127.0.0.1" % bad_upstream.port,
	    env=env)
	px.up = bad_upstream
	return px


def send_body(px, head):
	s = socket.create_connection(("127.0.0.1", px.port), timeout=30)
	with s:
		s.sendall(head)
		block = memoryview(b"u" * MIB)
		t0 = time.monotonic()
		for _ in range(GIB // MIB):
			s.sendall(block)
			assert time.monotonic() - t0 < 60, "upload too slow"
		st, _, h, left = read_head(s, 30)
		body = left
		while len(body) < int(h.get("content-length", "0")):
			body += s.recv(65536)
	return st, body


@slow
def test_gib_request_body_through_route_streams_in_bounded_memory(
    big_route):
	px = big_route
	st, body = send_body(px, route_request(px, "POST", "/discard",
	    b"Content-Length: %d\r\n" % GIB))
	assert st == 200 and body == b"%d" % GIB, (st, body)
	assert px.up.discarded == [GIB]
	hwm = vm_kb(px.proc.pid, "VmHWM")
	assert hwm < HWM_LIMIT_KB, "VmHWM %d kB" % hwm
	rec = px.wait_audit(mode="reverse", status=200)[-1]
	assert rec["bytes_up"] >= GIB, rec


def drain_chunked(s, buf, timeout):
	"""Read a chunked body to its last chunk; returns its payload size."""
	deadline = time.monotonic() + timeout
	buf = bytearray(buf)
	total = 0
	pos = 0

	def need(n):
		nonlocal buf, pos
		while len(buf) - pos < n:
			if pos > 1 << 20:
				del buf[:pos]
				pos = 0
			left = deadline - time.monotonic()
			assert left > 0, "chunked body too slow"
			s.settimeout(left)
			d = s.recv(1 << 20)
			assert d, "EOF inside a chunked body"
			buf += d

	while True:
		while True:
			i = buf.find(b"\r\n", pos)
			if i >= 0:
				break
			need(len(buf) - pos + 2)
		n = int(bytes(buf[pos:i]), 16)
		pos = i + 2
		need(n + 2)
		assert buf[pos + n:pos + n + 2] == b"\r\n"
		pos += n + 2
		if n == 0:
			return total
		total += n


@slow
@pytest.mark.parametrize("kind", ["route", "forward"])
def test_gib_response_streams_in_bounded_memory(big_route, kind):
	px = big_route
	path = "/big?n=%d" % GIB
	if kind == "route":
		req = route_request(px, "GET", path)
	else:
		req = forward_request(px, "GET", "web.test:%d" % px.up.port, path)
	s = socket.create_connection(("127.0.0.1", px.port), timeout=30)
	with s:
		s.sendall(req)
		st, _, h, left = read_head(s, 10)
		if kind == "route":
			# Scrubbed (SPEC 4.6 step 6): re-framed as chunked.
			assert st == 200 and h.get("transfer-encoding") == \
			    "chunked", (st, h)
			got = drain_chunked(s, left, timeout=60)
			assert got == GIB, got
		else:
			assert st == 200 and int(h["content-length"]) == GIB, \
			    (st, h)
			got, end = drain(s, GIB - len(left), timeout=60)
			assert got + len(left) == GIB, (got, end)
	hwm = vm_kb(px.proc.pid, "VmHWM")
	assert hwm < HWM_LIMIT_KB, "VmHWM %d kB" % hwm


class StalledTlsUpstream:
	"""A TLS upstream that reads a request head, then nothing until go is
	set; then it reads the body to the end and answers 200.  With upgrade,
	it answers 101 at once instead and then reads nothing."""

	def __init__(self, ca, upgrade=False):
		self.upgrade = upgrade
		self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
		self.ctx.load_cert_chain(os.path.join(ca, "server.pem"),
		    os.path.join(ca, "server.key"))
		self.ls = socket.socket()
		self.ls.bind(("127.0.0.1", 0))
		self.ls.listen(4)
		self.port = self.ls.getsockname()[1]
		self.go = threading.Event()
		self.got = None
		self.t = threading.Thread(target=self._serve, daemon=True)
		self.t.start()

	def _serve(self):
		c, _ = self.ls.accept()
		c.settimeout(60)
		c = self.ctx.wrap_socket(c, server_side=True)
		buf = b""
		while b"\r\n\r\n" not in buf:
			buf += c.recv(65536)
		if self.upgrade:
			c.sendall(b"HTTP/1.1 101 Switching Protocols\r\n"
			    b"Connection: upgrade\r\nUpgrade: websocket\r\n\r\n")
			self.go.wait(60)
			c.close()
			return
		head, rest = buf.split(b"\r\n\r\n", 1)
		n = int(dict(line.split(b": ", 1) for line in
		    head.split(b"\r\n")[1:])[b"Content-Length"])
		self.go.wait(60)
		got = len(rest)
		while got < n:
			k = len(c.recv(1 << 20))
			if k == 0:
				break
			got += k
		self.got = got
		c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		c.close()

	def close(self):
		self.go.set()
		self.ls.close()


def flood(s, limit):
	"""Send up to limit bytes until a send blocks for a second; the count."""
	block = b"w" * MIB
	sent = 0
	s.settimeout(1.0)
	try:
		while sent < limit:
			sent += s.send(block)
	except socket.timeout:
		pass
	return sent


def assert_pushes_back(px, s, limit, while_what):
	"""Flood s with up to limit bytes: the proxy must make the client
	wait (it takes less than 24 MiB, its RSS grows by less than 16 MiB).
	Returns what was sent."""
	rss0 = vm_kb(px.proc.pid, "VmRSS")
	sent = flood(s, limit)
	grew = vm_kb(px.proc.pid, "VmRSS") - rss0
	assert sent < 24 * MIB, "the proxy took %d MiB while %s" % (
	    sent // MIB, while_what)
	assert grew < 16 * 1024, "VmRSS grew %d kB" % grew
	return sent

def tls_route_proxy(rproxy, tmp_path, ca, up, *extra):
	"""A proxy with the route svc to the TLS upstream up (test CA)."""
	args, env = route_args(tmp_path, "https://api.test:%d" % up.port,
	    ca=ca, resolve_port=up.port)
	return rproxy(*args, *extra, env=env)

def test_tls_route_upgrade_flood_to_a_stalled_upstream_pushes_back(rproxy,
    tmp_path, ca):
	"""After 101 the relay over TLS is bounded the same way."""
	up = StalledTlsUpstream(ca, upgrade=True)
	try:
		px = tls_route_proxy(rproxy, tmp_path, ca, up)
		s = socket.create_connection(("127.0.0.1", px.port), timeout=5)
		with s:
			s.sendall(route_request(px, "GET", "/ws",
			    b"Connection: Upgrade\r\nUpgrade: websocket\r\n"))
			st, _, h, left = read_head(s, 10)
			assert st == 101, st
			assert_pushes_back(px, s, 64 * MIB,
			    "the upstream read nothing")
	finally:
		up.close()


def test_tls_route_upload_to_a_stalled_upstream_pushes_back(rproxy,
    tmp_path, ca):
	"""The TLS layer must not take a body in faster than the upstream
	reads it: the client is made to wait, the proxy does not hold it."""
	up = StalledTlsUpstream(ca)
	try:
		px = tls_route_proxy(rproxy, tmp_path, ca, up, "--max-body",
		    "200000000")
		total = 48 * MIB
		s = socket.create_connection(("127.0.0.1", px.port), timeout=5)
		with s:
			s.sendall(route_request(px, "POST", "/discard",
			    b"Content-Length: %d\r\n" % total))
			sent = assert_pushes_back(px, s, total,
			    "the upstream read nothing")
			up.go.set()
			s.settimeout(30)
			block = b"w" * MIB
			while sent < total:
				sent += s.send(block[:min(MIB, total - sent)])
			st, _, h, left = read_head(s, 30)
		assert st == 200, st
		up.t.join(10)
		assert up.got == total, up.got
	finally:
		up.close()



class SecondAnswerLate(StalledTlsUpstream):
	"""A TLS upstream on one keep-alive connection: the first request is
	answered at once, the second only once go is set."""

	def _serve(self):
		c, _ = self.ls.accept()
		c.settimeout(60)
		c = self.ctx.wrap_socket(c, server_side=True)
		buf = b""
		for n in range(2):
			while b"\r\n\r\n" not in buf:
				buf += c.recv(65536)
			buf = buf.split(b"\r\n\r\n", 1)[1]
			if n == 1:
				self.go.wait(60)
			c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		self.got = 2
		self.go.wait(60)
		c.close()


@pytest.mark.parametrize("pooled", [False, True])
def test_pipelined_flood_while_the_answer_is_pending_is_bounded(rproxy,
    tmp_path, ca, pooled):
	"""Bytes a client sends after its request, while the answer is still
	to come, are not read past a head's worth: the client is made to wait
	instead of the proxy buffering them.  Pooled: the request went out on
	an upstream connection kept from the one before."""
	up = SecondAnswerLate(ca) if pooled else StalledTlsUpstream(ca)
	try:
		px = tls_route_proxy(rproxy, tmp_path, ca, up)
		s = socket.create_connection(("127.0.0.1", px.port), timeout=5)
		with s:
			req = route_request(px, "POST", "/wait",
			    b"Content-Length: 0\r\n")
			if pooled:
				s.sendall(req)
				st, _, h, body = read_head(s, 10)
				while len(body) < 2:
					body += s.recv(2 - len(body))
				assert st == 200 and body == b"ok", (st, body)
			s.sendall(req)
			time.sleep(0.3)		# the request is upstream
			assert_pushes_back(px, s, 64 * MIB,
			    "its answer was pending")
			up.go.set()
			s.settimeout(10)
			st, _, h, left = read_head(s, 10)
		assert st == 200, st
	finally:
		up.close()
