"""Proxy authentication (SPEC 4.2)."""

import base64
import json
import os
import socket

import pytest

from conftest import (assert_proxy_answer, auth_header, basic_auth, curl,
    connect_tunnel, read_head, read_response, recv_exact)


@pytest.fixture
def echo_px(proxy, tcp_echo):
	px = proxy("--allow-domain", "api.test:%d" % tcp_echo.port,
	    "--resolve", "api.test:%d:127.0.0.1" % tcp_echo.port)
	px.target = "api.test:%d" % tcp_echo.port
	return px


def expect_407(px, s, status, reason, headers, left):
	body, _ = recv_exact(s, int(headers.get("content-length", "0")), left)
	assert_proxy_answer(status, reason, headers, body, 407)
	assert headers.get("proxy-authenticate") == 'Basic realm="keyhole"', \
	    headers


def tunnel_echoes(s, left=b""):
	s.sendall(b"hello")
	got, _ = recv_exact(s, 5, left)
	return got == b"hello"


def test_connect_without_credentials_is_407(echo_px):
	s, st, rs, h, left = connect_tunnel(echo_px, echo_px.target, token="")
	with s:
		expect_407(echo_px, s, st, rs, h, left)


def test_connect_with_wrong_token_is_407(echo_px):
	s, st, rs, h, left = connect_tunnel(echo_px, echo_px.target,
	    token="0" * 64)
	with s:
		expect_407(echo_px, s, st, rs, h, left)


def test_connect_with_token_as_user_name_is_407(echo_px):
	raw = base64.b64encode((echo_px.token + ":").encode())
	s, st, rs, h, left = connect_tunnel(echo_px, echo_px.target, token="",
	    headers=b"Proxy-Authorization: Basic " + raw + b"\r\n")
	with s:
		expect_407(echo_px, s, st, rs, h, left)


def test_connect_with_truncated_token_is_407(echo_px):
	s, st, rs, h, left = connect_tunnel(echo_px, echo_px.target,
	    token=echo_px.token[:-1])
	with s:
		expect_407(echo_px, s, st, rs, h, left)


def test_connect_with_basic_token_and_any_user_is_200(echo_px):
	s, st, _, _, left = connect_tunnel(echo_px, echo_px.target, token="",
	    headers=("Proxy-Authorization: %s\r\n" % basic_auth(echo_px.token,
	    user="whoever")).encode())
	with s:
		assert st == 200
		assert tunnel_echoes(s, left)


def test_connect_with_bearer_token_is_200(echo_px):
	s, st, _, _, left = connect_tunnel(echo_px, echo_px.target, token="",
	    headers=b"Proxy-Authorization: Bearer %s\r\n" %
	    echo_px.token.encode())
	with s:
		assert st == 200
		assert tunnel_echoes(s, left)


def test_connect_with_wrong_bearer_is_407(echo_px):
	s, st, rs, h, left = connect_tunnel(echo_px, echo_px.target, token="",
	    headers=b"Proxy-Authorization: Bearer " + b"f" * 64 + b"\r\n")
	with s:
		expect_407(echo_px, s, st, rs, h, left)


def test_407_keeps_connection_open_for_retry_on_same_socket(echo_px):
	s, st, rs, h, left = connect_tunnel(echo_px, echo_px.target, token="")
	with s:
		body, left = recv_exact(s, int(h["content-length"]), left)
		assert_proxy_answer(st, rs, h, body, 407)
		s.sendall(b"CONNECT %s HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (
		    echo_px.target.encode(), echo_px.target.encode(),
		    auth_header(echo_px.token)))
		st2, _, _, left = read_head(s, 3, left)
		assert st2 == 200
		assert tunnel_echoes(s, left)


def test_forward_without_credentials_is_407(proxy, http_upstream):
	p = http_upstream.port
	px = proxy("--allow-domain", "web.test:%d" % p,
	    "--resolve", "web.test:%d:127.0.0.1" % p)
	s = socket.create_connection(("127.0.0.1", px.port), timeout=3)
	with s:
		s.sendall(b"GET http://web.test:%d/x HTTP/1.1\r\n"
		    b"Host: web.test:%d\r\n\r\n" % (p, p))
		st, rs, h, body, _ = read_response(s)
		assert_proxy_answer(st, rs, h, body, 407)
		assert h.get("proxy-authenticate") == 'Basic realm="keyhole"'
		# Retry on the same connection with the token.
		s.sendall(b"GET http://web.test:%d/x HTTP/1.1\r\n"
		    b"Host: web.test:%d\r\n%s\r\n" % (p, p,
		    auth_header(px.token)))
		st, _, _, body, _ = read_response(s)
		assert st == 200
		assert json.loads(body)["path"] == "/x"
	assert http_upstream.requests[0]["path"] == "/x"
	assert len(http_upstream.requests) == 1


def test_forward_with_wrong_token_is_407(proxy, http_upstream):
	p = http_upstream.port
	px = proxy("--allow-domain", "web.test:%d" % p,
	    "--resolve", "web.test:%d:127.0.0.1" % p)
	s = socket.create_connection(("127.0.0.1", px.port), timeout=3)
	with s:
		s.sendall(b"GET http://web.test:%d/x HTTP/1.1\r\n"
		    b"Host: web.test:%d\r\n%s\r\n" % (p, p, auth_header("a" * 64)))
		st, rs, h, body, _ = read_response(s)
		assert_proxy_answer(st, rs, h, body, 407)
	assert http_upstream.requests == []


def test_curl_with_proxy_url_reaches_tls_upstream(proxy, ca, tls_upstream):
	p = tls_upstream.port
	px = proxy("--allow-domain", "api.test:%d" % p,
	    "--resolve", "api.test:%d:127.0.0.1" % p)
	rc, out, err = curl("--proxy", px.url, "--cacert",
	    os.path.join(ca, "ca.pem"), "https://api.test:%d/hello" % p)
	assert rc == 0, err
	assert json.loads(out)["path"] == "/hello"


def test_curl_without_token_gets_407(proxy, ca, tls_upstream):
	p = tls_upstream.port
	px = proxy("--allow-domain", "api.test:%d" % p,
	    "--resolve", "api.test:%d:127.0.0.1" % p)
	rc, out, err = curl("--proxy", "http://127.0.0.1:%d" % px.port,
	    "--cacert", os.path.join(ca, "ca.pem"),
	    "-o", "/dev/null", "-w", "%{http_connect}",
	    "https://api.test:%d/hello" % p)
	assert rc != 0
	assert out == b"407", (out, err)
	assert tls_upstream.requests == []
