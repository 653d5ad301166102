"""Clients that vanish mid-stream, SIGPIPE and SIGTERM under load (issue 7).

The upstream side is closed when the client goes (the test upstream sees
the proxy hang up), no descriptor or memory is left behind (release build,
so the RSS figures mean something), SIGPIPE never kills the proxy, and
SIGTERM in the middle of heavy traffic still exits 0 within 2 s."""

import os
import signal
import socket
import threading
import time

import pytest

pytest.register_assert_rewrite("hardening_fixtures")

from conftest import connect_tunnel, read_head
from hardening_fixtures import (drain, fd_count, forward_request,
    one_response, route_args, route_request, rst_close, vm_kb, wait_for)

pytest_plugins = ["hardening_fixtures"]

ROUNDS = 30


class Via:
	"""How a client reaches a streaming upstream through the proxy."""

	def __init__(self, px, kind, up):
		self.px = px
		self.kind = kind
		self.up = up

	def open_stream(self, path="/sse"):
		"""A socket positioned after the response head (or, for a
		tunnel, after the 200), with the first bytes already read."""
		if self.kind == "connect":
			s, st, _, _, left = connect_tunnel(self.px,
			    "fire.test:%d" % self.up.port)
			assert st == 200, st
			if not left:
				left = s.recv(65536)
			assert left, "no bytes through the tunnel"
			return s
		s = socket.create_connection(("127.0.0.1", self.px.port),
		    timeout=5)
		if self.kind == "forward":
			s.sendall(forward_request(self.px, "GET",
			    "web.test:%d" % self.up.port, path))
		else:
			s.sendall(route_request(self.px, "GET", path))
		st, _, h, left = read_head(s, 5)
		assert st == 200, st
		if not left:
			left = s.recv(65536)
		assert left, "no body bytes"
		return s

	def ok(self):
		if self.kind == "connect":
			return True
		if self.kind == "forward":
			data = forward_request(self.px, "GET",
			    "web.test:%d" % self.up.port, "/ok")
		else:
			data = route_request(self.px, "GET", "/ok")
		st, _, body, _ = one_response(self.px.port, data, 5)
		return st == 200 and body == b"ok"


def make_via(kind, start, tmp_path, ca, bad_upstream, bad_upstream_tls,
    firehose, *extra):
	if kind == "connect":
		up = firehose
		px = start("--allow-domain", "fire.test:%d" % up.port,
		    "--resolve", "fire.test:%d:127.0.0.1" % up.port, *extra)
	elif kind == "forward":
		up = bad_upstream
		px = start("--allow-domain", "web.test:%d" % up.port,
		    "--resolve", "web.test:%d:127.0.0.1" % up.port, *extra)
	else:
		up = bad_upstream_tls
		args, env = route_args(tmp_path, "https://api.test:%d" % up.port,
		    ca=ca, resolve_port=up.port)
		px = start(*args, *extra, env=env)
	return Via(px, kind, up)


KINDS = ["forward", "route-tls", "connect"]


@pytest.mark.parametrize("kind", KINDS)
def test_vanishing_client_closes_upstream_and_leaks_nothing(kind, rproxy,
    tmp_path, ca, bad_upstream, bad_upstream_tls, firehose):
	via = make_via(kind, rproxy, tmp_path, ca, bad_upstream,
	    bad_upstream_tls, firehose)
	pid = via.px.proc.pid
	# Warm up (TLS contexts, pools, malloc arenas), then measure.
	for i in range(3):
		s = via.open_stream()
		rst_close(s)
	assert wait_for(lambda: len(via.up.hangups) >= 3, 5), via.up.hangups
	assert wait_for(lambda: via.up.live == 0, 5)
	time.sleep(0.3)
	fds0 = fd_count(pid)
	rss0 = vm_kb(pid, "VmRSS")
	for i in range(ROUNDS):
		s = via.open_stream()
		n = len(via.up.hangups)
		t0 = time.monotonic()
		if i % 2:
			rst_close(s)
		else:
			s.close()
		assert wait_for(lambda: len(via.up.hangups) > n, 3), \
		    "round %d: upstream never saw the proxy hang up" % i
		assert time.monotonic() - t0 < 3
	assert wait_for(lambda: via.up.live == 0, 5), via.up.live
	assert via.ok()
	time.sleep(0.3)
	fds1 = fd_count(pid)
	rss1 = vm_kb(pid, "VmRSS")
	assert abs(fds1 - fds0) <= 2, "fds %d -> %d" % (fds0, fds1)
	if os.environ.get("KEYHOLE_MEMCHECK"):
		return		# valgrind's own RSS says nothing about ours
	assert rss1 - rss0 < 1024, "RSS %d kB -> %d kB after %d rounds" % (
	    rss0, rss1, ROUNDS)
	assert via.px.running()


@pytest.mark.parametrize("kind", KINDS)
def test_sigpipe_never_kills_the_proxy(kind, proxy, tmp_path, ca,
    bad_upstream, bad_upstream_tls, firehose):
	via = make_via(kind, proxy, tmp_path, ca, bad_upstream,
	    bad_upstream_tls, firehose)
	for i in range(15):
		s = via.open_stream("/big?n=%d" % (64 << 20))
		# Let the proxy fill our receive window, then vanish with
		# megabytes still in flight towards us.
		drain(s, 256 * 1024, timeout=3)
		if i % 2:
			rst_close(s)
		else:
			s.close()
	time.sleep(0.5)
	assert via.px.running(), via.px.stderr()[-2000:]
	assert via.ok()
	via.px.stop(timeout=2.0)


def test_sigterm_during_heavy_traffic_exits_0_within_2s(proxy, tmp_path,
    ca, bad_upstream, firehose):
	up = bad_upstream
	px = proxy("--allow-domain", "web.test:%d" % up.port,
	    "--resolve", "web.test:%d:127.0.0.1" % up.port,
	    "--allow-domain", "fire.test:%d" % firehose.port,
	    "--resolve", "fire.test:%d:127.0.0.1" % firehose.port)
	stop = threading.Event()
	served = [0]
	lock = threading.Lock()

	def hammer():
		req = forward_request(px, "GET", "web.test:%d" % up.port, "/ok")
		while not stop.is_set():
			try:
				st, _, _, _ = one_response(px.port, req, 3)
			except OSError:
				continue
			if st == 200:
				with lock:
					served[0] += 1

	def stream(kind):
		via = Via(px, kind, firehose if kind == "connect" else up)
		while not stop.is_set():
			try:
				s = via.open_stream("/sse" if kind == "forward" else
				    "/big?n=%d" % (1 << 30))
				drain(s, 1 << 30, timeout=5)
				s.close()
			except (OSError, AssertionError):
				time.sleep(0.05)

	threads = [threading.Thread(target=hammer, daemon=True)
	    for _ in range(24)]
	threads += [threading.Thread(target=stream, args=("forward",),
	    daemon=True) for _ in range(8)]
	threads += [threading.Thread(target=stream, args=("connect",),
	    daemon=True) for _ in range(8)]
	for t in threads:
		t.start()
	try:
		assert wait_for(lambda: served[0] > 50, 10), served
		t0 = time.monotonic()
		px.stop(signal.SIGTERM, timeout=2.0)
		took = time.monotonic() - t0
	finally:
		stop.set()
		for t in threads:
			t.join(6)
	assert took < 2.0, took
