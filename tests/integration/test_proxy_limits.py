"""Listener limits and malformed input (SPEC 4.1, 4.5, 9)."""

import os
import socket
import struct
import time

import pytest

from conftest import (assert_proxy_answer, auth_header, connect_status,
    connect_tunnel, curl, free_port_number, read_response,
    recv_until_eof, wait_for)


def answer(px, data, timeout=3):
	"""Send data on a fresh connection, read one response."""
	s = socket.create_connection(("127.0.0.1", px.port), timeout=timeout)
	with s:
		s.sendall(data)
		return read_response(s, timeout)


def test_long_request_line_is_414(proxy):
	px = proxy()
	line = b"GET http://api.test/" + b"a" * 9000 + b" HTTP/1.1\r\n"
	st, rs, h, body, _ = answer(px, line + b"Host: api.test\r\n" +
	    auth_header(px.token) + b"\r\n")
	assert_proxy_answer(st, rs, h, body, 414)


def test_long_request_line_without_head_end_is_414(proxy):
	# The limit applies while the line is still arriving.
	px = proxy()
	st, rs, h, body, _ = answer(px, b"GET http://api.test/" + b"a" * 9000)
	assert_proxy_answer(st, rs, h, body, 414)


def test_request_line_under_limit_is_not_414(proxy):
	px = proxy("--allow-domain", "api.test")
	line = b"GET http://evil.test/" + b"a" * 7000 + b" HTTP/1.1\r\n"
	st, _, _, _, _ = answer(px, line + b"Host: evil.test\r\n" +
	    auth_header(px.token) + b"\r\n")
	assert st == 403


def test_large_head_is_431(proxy):
	px = proxy()
	hdrs = b"".join(b"X-Filler-%d: %s\r\n" % (i, b"b" * 1000)
	    for i in range(70))
	st, rs, h, body, _ = answer(px, b"CONNECT api.test:443 HTTP/1.1\r\n" +
	    auth_header(px.token) + hdrs + b"\r\n")
	assert_proxy_answer(st, rs, h, body, 431)


def test_incomplete_head_within_head_timeout_is_408_and_close(proxy):
	px = proxy("--head-timeout", "1")
	s = socket.create_connection(("127.0.0.1", px.port), timeout=4)
	with s:
		t0 = time.monotonic()
		s.sendall(b"CONNECT api.test:443 HTTP/1.1\r\nHost: api.te")
		st, rs, h, body, left = read_response(s, timeout=4)
		took = time.monotonic() - t0
		assert_proxy_answer(st, rs, h, body, 408)
		recv_until_eof(s, left, timeout=2)
	assert 0.5 < took < 3, took


def test_trickled_head_still_times_out(proxy):
	# The head timeout is for the whole head, not per read.
	px = proxy("--head-timeout", "1")
	s = socket.create_connection(("127.0.0.1", px.port), timeout=4)
	with s:
		t0 = time.monotonic()
		s.sendall(b"CONNECT api.test:443 HTTP/1.1\r\n")
		got = b""
		for i in range(12):
			time.sleep(0.25)
			try:
				s.sendall(b"X-%d: y\r\n" % i)
			except OSError:
				break
			s.setblocking(False)
			try:
				got += s.recv(65536)
			except (BlockingIOError, ConnectionResetError):
				pass
			s.setblocking(True)
			s.settimeout(4)
			if got:
				break
		took = time.monotonic() - t0
	assert got.startswith(b"HTTP/1.1 408 "), got[:80]
	assert took < 2.5, took


def test_sixth_connection_over_max_connections_is_503(proxy):
	px = proxy("--max-connections", "5")
	idle = [socket.create_connection(("127.0.0.1", px.port), timeout=3)
	    for _ in range(5)]
	try:
		time.sleep(0.2)
		data = b"CONNECT api.test:443 HTTP/1.1\r\n" + \
		    auth_header(px.token) + b"\r\n"
		st, rs, h, body, _ = answer(px, data)
		assert_proxy_answer(st, rs, h, body, 503)
		# Freeing a slot lets a new client in.
		idle.pop().close()

		def served():
			s = socket.create_connection(("127.0.0.1", px.port),
			    timeout=3)
			with s:
				s.sendall(b"CONNECT evil.test:443 HTTP/1.1\r\n"
				    + auth_header(px.token) + b"\r\n")
				return read_response(s)[0] != 503
		assert wait_for(served, timeout=2, interval=0.1)
	finally:
		for s in idle:
			s.close()


def test_200_idle_connections_do_not_block_a_request(proxy, ca,
    tls_upstream):
	p = tls_upstream.port
	px = proxy("--allow-domain", "api.test:%d" % p,
	    "--resolve", "api.test:%d:127.0.0.1" % p)
	idle = []
	try:
		for i in range(200):
			s = socket.create_connection(("127.0.0.1", px.port),
			    timeout=3)
			if i % 2:
				s.sendall(b"CONNECT api.test:443 HTTP/1.1\r\n")
			idle.append(s)
		t0 = time.monotonic()
		rc, out, err = curl("--proxy", px.url, "--cacert",
		    os.path.join(ca, "ca.pem"), "https://api.test:%d/" % p)
		took = time.monotonic() - t0
		assert rc == 0, err
		assert took < 2, took
	finally:
		for s in idle:
			s.close()


def test_connect_to_refused_upstream_is_502(proxy):
	dead = free_port_number()
	px = proxy("--allow-domain", "api.test:%d" % dead,
	    "--resolve", "api.test:%d:127.0.0.1" % dead)
	st, rs, h, body = connect_status(px, "api.test:%d" % dead)
	assert_proxy_answer(st, rs, h, body, 502)
	rec = px.wait_audit(mode="connect")[-1]
	assert rec["status"] == 502, rec
	assert rec["reason"], rec


def test_forward_to_refused_upstream_is_502(proxy):
	dead = free_port_number()
	px = proxy("--allow-domain", "web.test:%d" % dead,
	    "--resolve", "web.test:%d:127.0.0.1" % dead)
	st, rs, h, body, _ = answer(px, b"GET http://web.test:%d/ HTTP/1.1\r\n"
	    b"Host: web.test:%d\r\n%s\r\n" % (dead, dead,
	    auth_header(px.token)))
	assert_proxy_answer(st, rs, h, body, 502)


@pytest.mark.parametrize("request_line", [
    b"GARBAGE",
    b"GET",
    b"GET http://api.test/ HTTP/1.1 extra",
    b"CONNECT api.test:notaport HTTP/1.1",
    b"CONNECT api.test:99999 HTTP/1.1",
    b"CONNECT api.test:0 HTTP/1.1",
    b"CONNECT :443 HTTP/1.1",
    b"CONNECT [::1:443 HTTP/1.1",
    b"CONNECT api.test:443 FOO/1.1",
])
def test_malformed_request_line_is_400(proxy, request_line):
	px = proxy("--allow-domain", "api.test")
	st, rs, h, body, _ = answer(px, request_line + b"\r\n" +
	    auth_header(px.token) + b"\r\n")
	assert_proxy_answer(st, rs, h, body, 400)


def test_header_with_nul_byte_is_400(proxy):
	px = proxy("--allow-domain", "api.test")
	st, rs, h, body, _ = answer(px, b"CONNECT api.test:443 HTTP/1.1\r\n"
	    b"X-Bad: a\x00b\r\n" + auth_header(px.token) + b"\r\n")
	assert_proxy_answer(st, rs, h, body, 400)


def test_idle_tunnel_is_closed_after_idle_timeout(proxy, tcp_echo):
	p = tcp_echo.port
	px = proxy("--idle-timeout", "1", "--allow-domain", "api.test:%d" % p,
	    "--resolve", "api.test:%d:127.0.0.1" % p)
	s, st, _, _, left = connect_tunnel(px, "api.test:%d" % p)
	with s:
		assert st == 200
		t0 = time.monotonic()
		recv_until_eof(s, left, timeout=4)
		assert time.monotonic() - t0 < 3


def test_proxy_survives_client_reset_mid_head(proxy, tcp_echo):
	p = tcp_echo.port
	px = proxy("--allow-domain", "api.test:%d" % p,
	    "--resolve", "api.test:%d:127.0.0.1" % p)
	for _ in range(20):
		s = socket.create_connection(("127.0.0.1", px.port), timeout=3)
		s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
		    struct.pack("ii", 1, 0))
		s.sendall(b"CONNECT api.test:%d HTTP/1.1\r\nHo" % p)
		s.close()
	st, _, _, _ = connect_status(px, "api.test:%d" % p)
	assert st == 200
	assert px.running()
