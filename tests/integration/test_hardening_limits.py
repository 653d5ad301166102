"""Connection floods, the connection limit, EMFILE and slowloris (issue 7,
SPEC 4.1, STYLE 7): the proxy answers or closes, never hangs, never spins,
and keeps serving the well-behaved client."""

import os
import resource
import socket
import subprocess
import time

import pytest

pytest.register_assert_rewrite("hardening_fixtures")

from conftest import assert_proxy_answer, read_response
from hardening_fixtures import (cpu_seconds, fd_count, forward_request,
    one_response, open_idle, raise_nofile, wait_for)

pytest_plugins = ["hardening_fixtures"]

IDLE = 10000


def web_args(up):
	return ("--allow-domain", "web.test:%d" % up.port,
	    "--resolve", "web.test:%d:127.0.0.1" % up.port)


def accept_queue(port):
	"""Connections waiting in the listener's accept queue."""
	out = subprocess.run(["ss", "-Hltn", "sport = :%d" % port],
	    capture_output=True, text=True, timeout=5).stdout.split()
	return int(out[1]) if len(out) > 1 else -1


def timed_ok(px, up, timeout=3.0):
	"""One forward GET /ok; returns its latency in seconds."""
	t0 = time.monotonic()
	st, h, body, end = one_response(px.port, forward_request(px, "GET",
	    "web.test:%d" % up.port, "/ok"), timeout)
	took = time.monotonic() - t0
	assert st == 200 and body == b"ok", (st, body, end)
	return took


def test_ten_thousand_idle_connections_do_not_slow_real_requests(proxy,
    bad_upstream):
	have = raise_nofile(IDLE + 2000)
	if have < IDLE + 500:
		pytest.skip("RLIMIT_NOFILE %d too low for %d sockets" % (have,
		    IDLE))
	px = proxy(*web_args(bad_upstream), "--max-connections", "20000",
	    "--head-timeout", "120")
	base = timed_ok(px, bad_upstream)
	t0 = time.monotonic()
	pid = px.proc.pid
	base_fds = fd_count(pid)

	def settle(n):
		# Keep within the listen backlog: wait for the accepts.
		wait_for(lambda: accept_queue(px.port) == 0, 5, 0.01)
	# Batches under libevent's default backlog of 128 (see
	# test_listen_backlog_is_not_libevents_default_128).
	socks = open_idle(px.port, IDLE, batch=100, timeout=90,
	    settle=settle)
	try:
		opened = time.monotonic() - t0
		# The proxy holds every one of them (one fd each).
		assert wait_for(lambda: fd_count(pid) >= IDLE, 20), \
		    "proxy holds %d fds (%d at start), opening took %.1fs" % (
		    fd_count(pid), base_fds, opened)
		lat = [timed_ok(px, bad_upstream) for _ in range(20)]
		assert max(lat) < 1.0, "latencies %r (base %.3f, open %.1fs)" \
		    % (lat, base, opened)
		assert px.running()
	finally:
		for s in socks:
			s.close()
	# And it lets go of them all.
	assert wait_for(lambda: fd_count(px.proc.pid) < 100, 20), \
	    "proxy still holds %d fds" % fd_count(px.proc.pid)
	timed_ok(px, bad_upstream)


def test_connection_over_max_connections_is_503_not_a_hang(proxy,
    bad_upstream):
	px = proxy(*web_args(bad_upstream), "--max-connections", "50")
	socks = open_idle(px.port, 50)
	try:
		assert wait_for(lambda: fd_count(px.proc.pid) >= 50, 5)
		s = socket.create_connection(("127.0.0.1", px.port), timeout=3)
		with s:
			t0 = time.monotonic()
			st, rs, h, body, _ = read_response(s, 3)
			assert time.monotonic() - t0 < 1.0
		assert_proxy_answer(st, rs, h, body, 503)
		rec = px.wait_audit(status=503)[-1]
		assert rec["reason"] == "connection limit reached", rec
		assert rec["decision"] == "deny", rec
		# One slot freed: served again.
		socks.pop().close()
		ok = wait_for(lambda: _try_ok(px, bad_upstream), 3, 0.1)
		assert ok, "not served after a slot was freed"
	finally:
		for s in socks:
			s.close()


def _try_ok(px, up):
	try:
		st, h, body, end = one_response(px.port, forward_request(px,
		    "GET", "web.test:%d" % up.port, "/ok"), 2)
	except OSError:
		return False
	return st == 200


def test_emfile_on_accept_does_not_busy_loop_and_recovers(proxy,
    bad_upstream):
	raise_nofile(4096)
	px = proxy(*web_args(bad_upstream), "--max-connections", "5000")
	pid = px.proc.pid
	# Lower the running proxy's limit: the next accepts hit EMFILE.
	resource.prlimit(pid, resource.RLIMIT_NOFILE, (64, 64))
	timed_ok(px, bad_upstream)
	socks = open_idle(px.port, 200, batch=200)
	try:
		assert wait_for(lambda: fd_count(pid) >= 60, 5), fd_count(pid)
		time.sleep(0.5)
		c0 = cpu_seconds(pid)
		t0 = time.monotonic()
		time.sleep(2.0)
		cpu = (cpu_seconds(pid) - c0) / (time.monotonic() - t0)
		assert cpu < 0.20, "proxy uses %.0f%% of a core at EMFILE" % (
		    cpu * 100)
		assert px.running()
		px.wait_stderr("accept on the proxy listener failed", 3)
	finally:
		for s in socks:
			s.close()
	ok = wait_for(lambda: _try_ok(px, bad_upstream), 10, 0.2)
	assert ok, "not serving after the connections closed:\n" + \
	    px.stderr()[-2000:]
	# Warned about, but not once per failed accept.
	n = px.stderr().count("accept on the proxy listener failed")
	assert n <= 10, "%d accept warnings" % n


def test_slowloris_clients_are_cut_while_others_are_served(proxy,
    bad_upstream):
	px = proxy(*web_args(bad_upstream), "--head-timeout", "1")
	slow = []
	for _ in range(30):
		s = socket.create_connection(("127.0.0.1", px.port), timeout=3)
		s.setblocking(False)
		slow.append([s, b"", None])
	req = forward_request(px, "GET", "web.test:%d" % bad_upstream.port,
	    "/ok")
	t0 = time.monotonic()
	pos = 0
	lat = []
	try:
		while time.monotonic() - t0 < 3.0:
			for ent in slow:
				if ent[2] is not None:
					continue
				try:
					ent[0].send(req[pos:pos + 1])
				except OSError:
					ent[2] = time.monotonic() - t0
					continue
				try:
					data = ent[0].recv(65536)
					if data:
						ent[1] += data
					else:
						ent[2] = time.monotonic() - t0
				except BlockingIOError:
					pass
				except OSError:
					ent[2] = time.monotonic() - t0
			pos += 1
			lat.append(timed_ok(px, bad_upstream))
			time.sleep(0.5)
		# Collect what is left (answers or EOFs).
		for ent in slow:
			s = ent[0]
			s.setblocking(True)
			s.settimeout(max(0.1, 3.5 - (time.monotonic() - t0)))
			while ent[2] is None:
				try:
					data = s.recv(65536)
				except socket.timeout:
					break
				except OSError:
					data = b""
				if not data:
					ent[2] = time.monotonic() - t0
					break
				ent[1] += data
	finally:
		for ent in slow:
			ent[0].close()
	for s, got, ended in slow:
		assert ended is not None, "slow client not cut: %r" % got[:100]
		assert ended < 3.5, ended
		assert got == b"" or got.startswith(b"HTTP/1.1 408 "), got[:100]
	assert max(lat) < 1.0, lat
	recs = px.wait_audit(status=408)
	assert recs[-1]["reason"] == "request head timeout", recs[-1]


def test_listen_backlog_is_not_libevents_default_128(proxy):
	# server.c listen()s with PROXY_BACKLOG (1024), but evconnlistener_new
	# with backlog -1 calls listen(fd, 128) again; a burst of connects
	# then overflows the accept queue and idle clients are silently lost.
	px = proxy()
	out = subprocess.run(["ss", "-Hltn", "sport = :%d" % px.port],
	    capture_output=True, text=True, timeout=5).stdout.split()
	assert len(out) >= 3, out
	assert int(out[2]) >= 1024, "listen backlog is %s" % out[2]
