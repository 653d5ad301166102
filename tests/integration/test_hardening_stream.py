"""A GiB through the proxy in each direction (issue 7, SPEC 4.6: bodies
stream, never buffered whole): peak RSS (VmHWM) of the release build stays
under 16 MB."""

import socket
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
		assert st == 200 and int(h["content-length"]) == GIB, (st, h)
		got, end = drain(s, GIB - len(left), timeout=60)
	assert got + len(left) == GIB, (got, end)
	hwm = vm_kb(px.proc.pid, "VmHWM")
	assert hwm < HWM_LIMIT_KB, "VmHWM %d kB" % hwm
