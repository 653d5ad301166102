"""The address guard (SPEC 4.4).  The guard must decide before any
connection is made, so none of these tests sends traffic off loopback when
keyhole behaves; an empty allow-list with `--credential openai` lets every
host through the filter, leaving the guard as the only check.  No --resolve
here names a loopback address (OPENAI_NOLOOP)."""

import socket

import pytest

from conftest import (OPENAI_NOLOOP, assert_proxy_answer, auth_header,
    connect_status, read_response)


def assert_guard_denied(px, authority, contains):
	st, rs, h, body = connect_status(px, authority)
	assert_proxy_answer(st, rs, h, body, 403, contains)
	rec = px.wait_audit(mode="connect", decision="deny")[-1]
	assert contains in (rec["reason"] or ""), rec
	assert rec["status"] == 403, rec
	return rec


def test_connect_to_loopback_ip_is_403(proxy, tcp_echo):
	px = proxy(*OPENAI_NOLOOP)
	rec = assert_guard_denied(px, "127.0.0.2:%d" % tcp_echo.port,
	    "is loopback")
	assert rec["reason"] == "address 127.0.0.2 is loopback", rec
	assert tcp_echo.srv.connections == 0


def test_connect_to_localhost_name_without_entry_is_403(proxy, tcp_echo):
	# localhost resolves through /etc/hosts to 127.0.0.1 (and ::1).
	px = proxy(*OPENAI_NOLOOP)
	rec = assert_guard_denied(px, "localhost:%d" % tcp_echo.port,
	    "is loopback")
	assert "127.0.0.1" in rec["reason"] or "::1" in rec["reason"], rec
	assert tcp_echo.srv.connections == 0


def test_connect_to_loopback_named_by_entry_is_200(proxy, tcp_echo):
	p = tcp_echo.port
	px = proxy("--allow-domain", "localhost:%d" % p)
	st, _, _, _ = connect_status(px, "localhost:%d" % p)
	assert st == 200


def test_connect_to_unspecified_address_is_403(proxy, tcp_echo):
	px = proxy(*OPENAI_NOLOOP)
	assert_guard_denied(px, "0.0.0.0:%d" % tcp_echo.port, "0.0.0.0")
	assert tcp_echo.srv.connections == 0


def test_connect_to_metadata_is_403_even_when_allowed(proxy):
	px = proxy("--allow-domain", "169.254.169.254:80",
	    "--connect-timeout", "1")
	assert_guard_denied(px, "169.254.169.254:80", "cloud metadata")


def test_connect_to_metadata_name_is_403_even_when_allowed(proxy):
	px = proxy("--allow-domain", "metadata.google.internal",
	    "--resolve", "metadata.google.internal:443:127.0.0.1")
	assert_guard_denied(px, "metadata.google.internal:443", "metadata")


def test_connect_to_metadata_name_is_403_with_empty_allow_list(proxy):
	px = proxy(*OPENAI_NOLOOP,
	    "--resolve", "metadata.google.internal:80:127.0.0.1")
	assert_guard_denied(px, "metadata.google.internal:80", "metadata")


@pytest.mark.parametrize("authority_fmt", [
    "[::ffff:127.0.0.1]:%d",		# IPv4-mapped
    "[64:ff9b::7f00:1]:%d",		# NAT64
    "[::127.0.0.1]:%d",			# IPv4-compatible
    "[2002:7f00:1::]:%d",		# 6to4
])
def test_connect_to_wrapped_loopback_is_403(proxy, tcp_echo, authority_fmt):
	px = proxy(*OPENAI_NOLOOP)
	assert_guard_denied(px, authority_fmt % tcp_echo.port, "loopback")
	assert tcp_echo.srv.connections == 0


@pytest.mark.parametrize("authority", [
    "[::ffff:169.254.169.254]:80",
    "[64:ff9b::a9fe:a9fe]:80",
])
def test_connect_to_wrapped_metadata_is_403(proxy, authority):
	px = proxy(*OPENAI_NOLOOP, "--connect-timeout", "1")
	assert_guard_denied(px, authority, "cloud metadata")


def test_connect_to_ipv6_loopback_without_entry_is_403(proxy):
	px = proxy(*OPENAI_NOLOOP)
	assert_guard_denied(px, "[::1]:9", "loopback")


def test_connect_to_proxy_itself_is_403(proxy):
	px = proxy(*OPENAI_NOLOOP)
	assert_guard_denied(px, "127.0.0.1:%d" % px.port, "127.0.0.1")


def test_forward_to_loopback_without_entry_is_403(proxy, http_upstream):
	p = http_upstream.port
	px = proxy(*OPENAI_NOLOOP)
	s = socket.create_connection(("127.0.0.1", px.port), timeout=3)
	with s:
		s.sendall(b"GET http://127.0.0.2:%d/x HTTP/1.1\r\n"
		    b"Host: 127.0.0.2:%d\r\n%s\r\n" % (p, p,
		    auth_header(px.token)))
		st, rs, h, body, _ = read_response(s)
	assert_proxy_answer(st, rs, h, body, 403, "is loopback")
	rec = px.wait_audit(mode="forward", decision="deny")[-1]
	assert rec["reason"] == "address 127.0.0.2 is loopback", rec
	assert http_upstream.requests == []


def test_forward_to_metadata_is_403(proxy):
	px = proxy(*OPENAI_NOLOOP, "--connect-timeout", "1")
	s = socket.create_connection(("127.0.0.1", px.port), timeout=3)
	with s:
		s.sendall(b"GET http://169.254.169.254/latest/meta-data/ HTTP/1.1"
		    b"\r\nHost: 169.254.169.254\r\n%s\r\n" % auth_header(px.token))
		st, rs, h, body, _ = read_response(s)
	assert_proxy_answer(st, rs, h, body, 403, "cloud metadata")
	rec = px.wait_audit(mode="forward", decision="deny")[-1]
	assert "cloud metadata" in rec["reason"], rec
