"""Credential routes stream both ways (SPEC 4.6 step 5): chunked bodies,
SSE, keep-alive, Expect: 100-continue and protocol upgrades."""

import json
import socket
import time

from conftest import read_head, read_response, recv_exact, recv_until_eof
from reverse_fixtures import (REAL_SECRET, SERVICE, ClosingUpstream,
    header_dict, route,
    send_request, upgrade_upstream, upgrade_upstream_tls, write_profile)


def connect(r):
	return socket.create_connection(("127.0.0.1", r.port), timeout=3)


def auth(r):
	return ("Authorization", "Bearer " + r.phantom)


def test_reverse_chunked_request_body_arrives_intact(route, tls_upstream):
	r = route(tls_upstream)
	parts = [b"first-", b"x" * 5000, b"-\r\n-crlf-inside-", b"0\r\n\r\n",
	    b"end"]
	with connect(r) as s:
		send_request(s, "POST", "/svc/upload",
		    [auth(r), ("Transfer-Encoding", "chunked")])
		for p in parts:
			s.sendall(b"%x\r\n%s\r\n" % (len(p), p))
			time.sleep(0.05)
		s.sendall(b"0\r\n\r\n")
		st, _, _, body, _ = read_response(s)
	assert st == 200, body
	req = tls_upstream.requests[0]
	assert req["body"] == b"".join(parts)
	assert header_dict(req).get("authorization") == "Bearer " + REAL_SECRET
	rec = r.px.wait_audit(mode="reverse", decision="allow")[-1]
	assert rec["status"] == 200 and rec["bytes_up"] > 5000, rec


def test_reverse_large_content_length_body_both_ways(route, tls_upstream):
	r = route(tls_upstream)
	data = bytes(range(256)) * 1024		# 256 KiB
	with connect(r) as s:
		send_request(s, "PUT", "/svc/blob", [auth(r)], data)
		st, _, _, body, _ = read_response(s, timeout=5)
	assert st == 200
	assert tls_upstream.requests[0]["body"] == data
	assert len(body) > len(data)		# the echo holds it, escaped


def test_reverse_sse_first_event_arrives_before_stream_ends(route,
    tls_upstream):
	r = route(tls_upstream)
	with connect(r) as s:
		send_request(s, "GET", "/svc/sse", [auth(r),
		    ("Accept", "text/event-stream")])
		st, _, h, buf = read_head(s)
		assert st == 200
		assert h.get("content-type") == "text/event-stream"
		t0 = time.monotonic()
		while b"event 0" not in buf:
			s.settimeout(2)
			chunk = s.recv(65536)
			assert chunk, "EOF before the first event"
			buf += chunk
		first = time.monotonic() - t0
		while b"event 2" not in buf:
			s.settimeout(2)
			chunk = s.recv(65536)
			assert chunk, "EOF before the last event"
			buf += chunk
		last = time.monotonic() - t0
	# Events are 200 ms apart: the first must not wait for the last.
	assert last - first > 0.25, (first, last)
	rec = r.px.wait_audit(mode="reverse", decision="allow")[-1]
	assert rec["path"] == "/sse", rec


def test_reverse_two_requests_on_one_client_connection(route,
    tls_upstream):
	r = route(tls_upstream)
	with connect(r) as s:
		send_request(s, "GET", "/svc/one", [auth(r)])
		st, _, h, body, left = read_response(s)
		assert st == 200 and json.loads(body)["path"] == "/one"
		assert h.get("connection", "").lower() != "close"
		send_request(s, "POST", "/svc/two", [auth(r)], b"2")
		st, _, _, body, _ = read_response(s, buf=left)
		assert st == 200 and json.loads(body)["path"] == "/two"
	assert [q["path"] for q in tls_upstream.requests] == ["/one", "/two"]
	# The line is written just after the last byte is sent: wait for it.
	r.px.wait_audit(mode="reverse", decision="allow", path="/two")
	recs = r.px.wait_audit(mode="reverse", decision="allow")
	assert [x["path"] for x in recs] == ["/one", "/two"]


def test_reverse_pipelined_requests_are_answered_in_order(route,
    tls_upstream):
	r = route(tls_upstream)
	with connect(r) as s:
		req = b""
		for p in (b"/p1", b"/p2"):
			req += b"GET /svc%s HTTP/1.1\r\nHost: x\r\n" \
			    b"Authorization: Bearer %s\r\n\r\n" % (p,
			    r.phantom.encode())
		s.sendall(req)
		st, _, _, body, left = read_response(s)
		assert st == 200 and json.loads(body)["path"] == "/p1"
		st, _, _, body, _ = read_response(s, buf=left)
		assert st == 200 and json.loads(body)["path"] == "/p2"


def test_reverse_reuses_the_upstream_connection(route, tls_upstream):
	r = route(tls_upstream)
	with connect(r) as s:
		for p in ("/a", "/b", "/c"):
			send_request(s, "GET", "/svc" + p, [auth(r)])
			st, _, _, _, left = read_response(s)
			assert st == 200 and left == b""
	assert tls_upstream.srv.tls_ok == 1, tls_upstream.srv.tls_ok


def test_reverse_expect_100_continue(route, tls_upstream):
	r = route(tls_upstream)
	body = b"expected body"
	with connect(r) as s:
		send_request(s, "POST", "/svc/exp", [auth(r),
		    ("Expect", "100-continue"),
		    ("Content-Length", str(len(body)))])
		st, _, _, left = read_head(s, timeout=2)
		assert st == 100, st
		s.sendall(body)
		st, _, _, out, _ = read_response(s, buf=left)
	assert st == 200, out
	assert json.loads(out)["body"] == body.decode()
	assert tls_upstream.requests[0]["body"] == body


def _upgrade(r, up, path="/svc/ws"):
	s = connect(r)
	send_request(s, "GET", path, [auth(r), ("Connection", "Upgrade"),
	    ("Upgrade", "websocket"), ("Sec-WebSocket-Version", "13"),
	    ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")])
	st, _, h, left = read_head(s)
	return s, st, h, left


def _relay_both_ways(s, left):
	s.sendall(b"hello")
	got, left = recv_exact(s, 5, left)
	assert got == b"hello"
	blob = bytes(range(256)) * 64
	s.sendall(blob)
	got, left = recv_exact(s, len(blob), left)
	assert got == blob
	s.shutdown(socket.SHUT_WR)
	assert recv_until_eof(s, left) == b"BYE"


def test_reverse_upgrade_relays_raw_bytes(route, upgrade_upstream):
	r = route(upgrade_upstream, tls=False)
	s, st, h, left = _upgrade(r, upgrade_upstream)
	with s:
		assert st == 101, (st, h)
		assert h.get("upgrade", "").lower() == "websocket", h
		_relay_both_ways(s, left)
	head = upgrade_upstream.heads[0]
	lines = head.split("\r\n")
	assert lines[0] == "GET /ws HTTP/1.1", lines
	hs = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip()
	    for l in lines[1:]}
	assert hs.get("authorization") == "Bearer " + REAL_SECRET, hs
	assert hs.get("upgrade") == "websocket", hs
	assert "upgrade" in hs.get("connection", "").lower(), hs
	assert hs.get("sec-websocket-key") == "dGhlIHNhbXBsZSBub25jZQ==", hs
	rec = r.px.wait_audit(mode="reverse", decision="allow")[-1]
	assert rec["status"] == 101 and rec["service"] == SERVICE, rec


def test_reverse_upgrade_over_tls_relays_raw_bytes(route,
    upgrade_upstream_tls):
	r = route(upgrade_upstream_tls)
	s, st, h, left = _upgrade(r, upgrade_upstream_tls)
	with s:
		assert st == 101, (st, h)
		_relay_both_ways(s, left)
	assert "Bearer " + REAL_SECRET in upgrade_upstream_tls.heads[0]


def test_reverse_head_then_get_on_one_connection(route, tls_upstream):
	"""A HEAD answer has a Content-Length but no body; the next answer
	on the connection must not be eaten as that body."""
	r = route(tls_upstream)
	with connect(r) as s:
		send_request(s, "HEAD", "/svc/h", [auth(r)])
		st, _, h, left = read_head(s)
		assert st == 200 and int(h["content-length"]) > 0
		send_request(s, "GET", "/svc/g", [auth(r)])
		st, _, _, body, _ = read_response(s, buf=left)
		assert st == 200 and json.loads(body)["path"] == "/g"


def test_reverse_expect_100_continue_refused_gets_no_100(route,
    tls_upstream):
	r = route(tls_upstream)
	with connect(r) as s:
		send_request(s, "POST", "/svc/exp", [
		    ("Authorization", "Bearer " + "c" * 64),
		    ("Expect", "100-continue"), ("Content-Length", "5")])
		st, _, h, body, _ = read_response(s, timeout=2)
	assert st == 401, (st, body)
	assert tls_upstream.requests == []


def test_reverse_two_services_on_one_client_connection(proxy, tmp_path,
    ca, tls_upstream, http_upstream):
	path = write_profile(tmp_path, {
	    "one": {"upstream": "https://api.test:%d" % tls_upstream.port,
	        "credential_key": "env://ONE_KEY", "env_var": "ONE_API_KEY"},
	    "two": {"upstream": "http://127.0.0.1:%d" % http_upstream.port,
	        "credential_key": "env://TWO_KEY", "env_var": "TWO_API_KEY",
	        "inject_header": "x-api-key", "credential_format": "{}"}})
	px = proxy("--profile", path, "--upstream-ca", ca + "/ca.pem",
	    "--resolve", "api.test:%d:127.0.0.1" % tls_upstream.port,
	    env={"ONE_KEY": "one-real-secret", "TWO_KEY": "two-real-secret"})
	p1, p2 = px.env["ONE_API_KEY"], px.env["TWO_API_KEY"]
	s = socket.create_connection(("127.0.0.1", px.port), timeout=3)
	with s:
		left = b""
		for svc, hdr, path_ in (("one", ("Authorization", "Bearer " + p1),
		    "/a"), ("two", ("x-api-key", p2), "/b"),
		    ("one", ("Authorization", "Bearer " + p1), "/c")):
			send_request(s, "GET", "/%s%s" % (svc, path_), [hdr])
			st, _, _, body, left = read_response(s, buf=left)
			assert st == 200, (svc, body)
			assert json.loads(body)["path"] == path_
		# the phantom of one route does not open the other
		send_request(s, "GET", "/two/d", [("x-api-key", p1)])
		st, _, _, body, _ = read_response(s, buf=left)
		assert st == 401, body
	assert [header_dict(q).get("authorization")
	    for q in tls_upstream.requests] == ["Bearer one-real-secret"] * 2
	assert [header_dict(q).get("x-api-key")
	    for q in http_upstream.requests] == ["two-real-secret"]
	for q in tls_upstream.requests:
		assert "x-api-key" not in header_dict(q)
	text = px.audit_text() + px.stderr()
	assert "one-real-secret" not in text and "two-real-secret" not in text


def _two_requests_over_closing_upstream(r, pause):
	with connect(r) as s:
		send_request(s, "GET", "/svc/first", [auth(r)])
		st, _, h, body, left = read_response(s)
		assert st == 200 and json.loads(body)["path"] == "/first"
		time.sleep(pause)
		send_request(s, "GET", "/svc/second", [auth(r)])
		st, _, h, body, _ = read_response(s, buf=left)
	return st, body


def test_reverse_upstream_connection_close_then_next_request(route):
	up = ClosingUpstream(announce=True)
	try:
		r = route(up, tls=False)
		st, body = _two_requests_over_closing_upstream(r, 0.05)
	finally:
		up.close()
	assert st == 200, body
	assert json.loads(body)["path"] == "/second"
	assert up.connections == 2


def test_reverse_upstream_idle_close_then_next_request(route):
	"""The upstream drops an idle kept-alive connection (its keep-alive
	timeout); the next request on the client connection must not fail
	on the stale upstream connection."""
	up = ClosingUpstream(announce=False, delay=0.05)
	try:
		r = route(up, tls=False)
		st, body = _two_requests_over_closing_upstream(r, 0.3)
	finally:
		up.close()
	assert st == 200, body
	assert json.loads(body)["path"] == "/second"


def test_reverse_upgrade_bytes_sent_with_the_head_are_relayed(route,
    upgrade_upstream):
	r = route(upgrade_upstream, tls=False)
	s = connect(r)
	with s:
		s.sendall(b"GET /svc/ws HTTP/1.1\r\nHost: x\r\n"
		    b"Authorization: Bearer %s\r\nConnection: Upgrade\r\n"
		    b"Upgrade: websocket\r\n\r\nearly" % r.phantom.encode())
		st, _, h, left = read_head(s)
		assert st == 101, (st, h)
		got, left = recv_exact(s, 5, left)
		assert got == b"early"
		s.shutdown(socket.SHUT_WR)
		assert recv_until_eof(s, left) == b"BYE"


def test_reverse_upgrade_refused_by_upstream_stays_http(route,
    tls_upstream):
	"""An upstream that ignores Upgrade answers 200; the client
	connection goes on as HTTP."""
	r = route(tls_upstream)
	with connect(r) as s:
		send_request(s, "GET", "/svc/ws", [auth(r),
		    ("Connection", "Upgrade"), ("Upgrade", "websocket")])
		st, _, _, body, left = read_response(s)
		assert st == 200 and json.loads(body)["path"] == "/ws"
		send_request(s, "GET", "/svc/after", [auth(r)])
		st, _, _, body, _ = read_response(s, buf=left)
		assert st == 200 and json.loads(body)["path"] == "/after"


def test_reverse_client_gone_mid_stream_leaves_proxy_serving(route,
    tls_upstream):
	r = route(tls_upstream)
	with connect(r) as s:
		send_request(s, "GET", "/svc/sse", [auth(r)])
		st, _, _, buf = read_head(s)
		assert st == 200
		while b"event 0" not in buf:
			s.settimeout(2)
			chunk = s.recv(65536)
			assert chunk
			buf += chunk
	time.sleep(0.5)		# the upstream writes into the closed relay
	st, _, _, body = r.get("/later")
	assert st == 200, body
	assert r.px.running()
	rec = r.px.wait_audit(mode="reverse", path="/sse")[-1]
	assert rec["service"] == SERVICE, rec
