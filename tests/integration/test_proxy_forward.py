"""Plain-HTTP forward (SPEC 4.5)."""

import json
import socket
import time

import pytest

from conftest import (CRED_REASON_FORWARD, OPENAI, assert_proxy_answer,
    auth_header, curl, read_head, read_response, recv_until_eof)


@pytest.fixture
def web(proxy, http_upstream):
	"""A proxy allowing web.test:PORT (mapped to the http_upstream)."""
	p = http_upstream.port
	px = proxy("--allow-domain", "web.test:%d" % p,
	    "--resolve", "web.test:%d:127.0.0.1" % p)
	px.up = http_upstream
	px.host = "web.test:%d" % p
	return px


def send(px, s, method, url, host, headers=b"", body=b""):
	req = b"%s %s HTTP/1.1\r\nHost: %s\r\n%s%s" % (method, url, host,
	    auth_header(px.token), headers)
	if body:
		req += b"Content-Length: %d\r\n" % len(body)
	s.sendall(req + b"\r\n" + body)


def upstream_headers(req):
	return {k.lower(): v for k, v in req["headers"]}


def test_forward_get_reaches_upstream(web):
	rc, out, err = curl("--proxy", web.url,
	    "http://%s/path/x?q=1" % web.host)
	assert rc == 0, err
	got = json.loads(out)
	assert got["method"] == "GET"
	assert got["path"] == "/path/x?q=1"	# origin form upstream
	rec = web.wait_audit(mode="forward", decision="allow")[-1]
	assert rec["method"] == "GET" and rec["status"] == 200, rec
	assert rec["host"] == "web.test" and rec["port"] == web.up.port, rec


def test_forward_strips_proxy_headers_and_keeps_host(web):
	s = socket.create_connection(("127.0.0.1", web.port), timeout=3)
	with s:
		send(web, s, b"GET", b"http://%s/h" % web.host.encode(),
		    web.host.encode(), b"Proxy-Connection: keep-alive\r\n"
		    b"Connection: keep-alive, X-Hop\r\nX-Hop: 1\r\n"
		    b"X-Keep: 2\r\n")
		st, _, _, body, _ = read_response(s)
	assert st == 200
	h = upstream_headers(web.up.requests[0])
	assert "proxy-authorization" not in h, h
	assert "proxy-connection" not in h, h
	assert "x-hop" not in h, h
	assert h.get("x-keep") == "2"
	assert h.get("host") == web.host, h
	assert web.up.requests[0]["path"] == "/h"



def test_forward_empty_values_do_not_hide_the_next_header(web):
	"""An empty value ("X: " then CRLF) right before a hop-by-hop or
	proxy credential header: that header is still recognised and
	dropped (a parser slip once cut the next name to "")."""
	s = socket.create_connection(("127.0.0.1", web.port), timeout=3)
	with s:
		s.sendall(b"GET http://%s/e HTTP/1.1\r\nHost: %s\r\n"
		    b"X-Empty: \r\n%sX-Blank:\t\r\n"
		    b"Proxy-Connection: keep-alive\r\nX-Keep: 2\r\n\r\n" % (
		    web.host.encode(), web.host.encode(), auth_header(web.token)))
		st, _, _, body, _ = read_response(s)
	assert st == 200, st
	got = web.up.requests[0]["headers"]
	names = [k.lower() for k, _ in got]
	assert all(k and "\x00" not in k for k in names), got
	h = upstream_headers(web.up.requests[0])
	assert "proxy-authorization" not in h, h
	assert "proxy-connection" not in h, h
	assert h.get("x-empty") == "" and h.get("x-blank") == "", h
	assert h.get("x-keep") == "2", h

def test_forward_post_body_is_forwarded(web):
	rc, out, err = curl("--proxy", web.url, "-d", "a=1&b=2",
	    "http://%s/post" % web.host)
	assert rc == 0, err
	got = json.loads(out)
	assert got["method"] == "POST" and got["body"] == "a=1&b=2"


def test_forward_two_requests_on_one_client_connection(web):
	s = socket.create_connection(("127.0.0.1", web.port), timeout=3)
	with s:
		send(web, s, b"GET", b"http://%s/one" % web.host.encode(),
		    web.host.encode())
		st, _, h, body, left = read_response(s)
		assert st == 200 and json.loads(body)["path"] == "/one"
		assert h.get("connection", "").lower() != "close"
		send(web, s, b"GET", b"http://%s/two" % web.host.encode(),
		    web.host.encode())
		st, _, _, body, _ = read_response(s, buf=left)
		assert st == 200 and json.loads(body)["path"] == "/two"
	assert [r["path"] for r in web.up.requests] == ["/one", "/two"]


def test_forward_streams_sse_as_it_arrives(web):
	s = socket.create_connection(("127.0.0.1", web.port), timeout=3)
	with s:
		send(web, s, b"GET", b"http://%s/sse" % web.host.encode(),
		    web.host.encode())
		st, _, h, left = read_head(s)
		assert st == 200
		t0 = time.monotonic()
		buf = left
		while b"event 0" not in buf:
			s.settimeout(2)
			chunk = s.recv(65536)
			assert chunk, "EOF before first event"
			buf += chunk
		first = time.monotonic() - t0
		while b"event 2" not in buf:
			chunk = s.recv(65536)
			assert chunk, "EOF before last event"
			buf += chunk
		last = time.monotonic() - t0
	# Events are 200 ms apart: the first must not wait for the last.
	assert last - first > 0.25, (first, last)


def test_forward_to_host_not_in_allow_list_is_403(web):
	s = socket.create_connection(("127.0.0.1", web.port), timeout=3)
	with s:
		send(web, s, b"GET", b"http://evil.test/x", b"evil.test")
		st, rs, h, body, _ = read_response(s)
	assert_proxy_answer(st, rs, h, body, 403, "not in allow-list")
	rec = web.wait_audit(mode="forward", decision="deny")[-1]
	assert "not in allow-list" in rec["reason"], rec
	assert rec["host"] == "evil.test" and rec["port"] == 80, rec
	assert rec["status"] == 403


def test_forward_403_keeps_connection_or_announces_close(web):
	s = socket.create_connection(("127.0.0.1", web.port), timeout=3)
	with s:
		send(web, s, b"GET", b"http://evil.test/x", b"evil.test")
		st, _, h, _, left = read_response(s)
		assert st == 403
		if h.get("connection", "").lower() == "close":
			assert recv_until_eof(s, left) == b""
			return
		send(web, s, b"GET", b"http://%s/after" % web.host.encode(),
		    web.host.encode())
		st, _, _, body, _ = read_response(s, buf=left)
	assert st == 200 and json.loads(body)["path"] == "/after"


@pytest.mark.parametrize("url", [b"http://api.openai.com/v1/models",
    b"http://api.openai.com:443/v1/models", b"http://API.OpenAI.com./v1"])
def test_forward_to_credential_upstream_is_403(proxy, url):
	px = proxy(*OPENAI)
	s = socket.create_connection(("127.0.0.1", px.port), timeout=3)
	with s:
		send(px, s, b"GET", url, b"api.openai.com")
		st, rs, h, body, _ = read_response(s)
	assert_proxy_answer(st, rs, h, body, 403, CRED_REASON_FORWARD)
	rec = px.wait_audit(mode="forward", decision="deny")[-1]
	assert rec["reason"] == CRED_REASON_FORWARD, rec
	assert rec["status"] == 403
