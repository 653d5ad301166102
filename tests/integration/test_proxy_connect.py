"""CONNECT tunnels: allow-list entries (SPEC 4.3), the credential-upstream
block (PR #518), relaying, SNI check (SPEC 4.5)."""

import json
import os
import re
import socket
import ssl
import threading
import time

import pytest

from conftest import (CRED_REASON_CONNECT, OPENAI, TLS_OFF, assert_proxy_answer,
    auth_header, connect_status, connect_tunnel, curl, recv_exact,
    recv_until_eof)


def allow(name, port):
	"""--allow-domain name:port mapped to 127.0.0.1."""
	return ("--allow-domain", "%s:%d" % (name, port),
	    "--resolve", "%s:%d:127.0.0.1" % (name, port))


def assert_denied(px, authority, contains, host=None, port=None):
	"""CONNECT authority -> 403 whose body and audit reason say
	`contains`."""
	st, rs, h, body = connect_status(px, authority)
	assert_proxy_answer(st, rs, h, body, 403, contains)
	recs = px.wait_audit(mode="connect", decision="deny")
	rec = recs[-1]
	assert contains in (rec["reason"] or ""), rec
	assert rec["status"] == 403, rec
	assert rec["method"] == "CONNECT", rec
	if host is not None:
		assert rec["host"] == host, rec
	if port is not None:
		assert rec["port"] == port, rec
	return rec


def assert_not_allow_list_denial(px, authority):
	"""The filter let authority through: no 403 'not in allow-list'.
	(Reaching it may still fail: 200 or 502.)"""
	before = len(px.audit())
	st, rs, h, body = connect_status(px, authority)
	assert st in (200, 502), (st, body)
	time.sleep(0.1)
	for rec in px.audit()[before:]:
		assert "not in allow-list" not in (rec["reason"] or ""), rec
	return st


def echo_roundtrip(px, authority, data=b"ping"):
	s, st, _, _, left = connect_tunnel(px, authority)
	with s:
		assert st == 200
		s.sendall(data)
		got, _ = recv_exact(s, len(data), left)
		assert got == data


# --- tunnels ---------------------------------------------------------------

def test_connect_to_allowed_host_tunnels_tls(proxy, ca, tls_upstream):
	p = tls_upstream.port
	px = proxy(*allow("api.test", p))
	rc, out, err = curl("--proxy", px.url, "--cacert",
	    os.path.join(ca, "ca.pem"), "https://api.test:%d/v1/x?y=1" % p)
	assert rc == 0, err
	got = json.loads(out)
	assert got["path"] == "/v1/x?y=1"
	assert ["Host", "api.test:%d" % p] in got["headers"]
	rec = px.wait_audit(mode="connect", decision="allow")[-1]
	assert rec["host"] == "api.test" and rec["port"] == p, rec
	assert rec["status"] == 200


def test_connect_success_answer_is_exact(proxy, tcp_echo):
	px = proxy(*allow("api.test", tcp_echo.port))
	s = socket.create_connection(("127.0.0.1", px.port), timeout=3)
	with s:
		s.sendall(b"CONNECT api.test:%d HTTP/1.1\r\nHost: api.test:%d\r\n"
		    b"%s\r\n" % (tcp_echo.port, tcp_echo.port,
		    auth_header(px.token)))
		want = b"HTTP/1.1 200 Connection Established\r\n\r\n"
		got, left = recv_exact(s, len(want))
		assert got == want
		assert left == b""
		s.settimeout(0.3)
		with pytest.raises(socket.timeout):
			s.recv(1)		# nothing more until we send


def test_connect_bytes_after_head_are_forwarded(proxy, tcp_echo):
	px = proxy(*allow("api.test", tcp_echo.port))
	s, st, _, _, left = connect_tunnel(px, "api.test:%d" % tcp_echo.port,
	    extra=b"early bytes")
	with s:
		assert st == 200
		got, _ = recv_exact(s, 11, left)
		assert got == b"early bytes"


def test_connect_half_close_delivers_echo_then_eof(proxy, tcp_echo):
	px = proxy(*allow("api.test", tcp_echo.port))
	s, st, _, _, left = connect_tunnel(px, "api.test:%d" % tcp_echo.port)
	with s:
		assert st == 200
		s.sendall(b"x" * 5000)
		s.shutdown(socket.SHUT_WR)
		got = recv_until_eof(s, left, timeout=3)
	# The echo server answers its EOF with BYE: EOF went upstream while
	# the downstream direction stayed open.
	assert got == b"x" * 5000 + b"BYE\n"


def test_connect_relays_large_payload_both_ways(proxy, tcp_echo):
	px = proxy(*allow("api.test", tcp_echo.port))
	s, st, _, _, left = connect_tunnel(px, "api.test:%d" % tcp_echo.port)
	data = os.urandom(1 << 20)
	with s:
		assert st == 200
		t = threading.Thread(target=s.sendall, args=(data,))
		t.start()
		got, _ = recv_exact(s, len(data), left, timeout=5)
		t.join(5)
	assert got == data


def test_connect_ipv6_literal_tunnels_to_v6_server(proxy, tcp_echo6):
	p = tcp_echo6.port
	px = proxy("--allow-domain", "[::1]:%d" % p)
	echo_roundtrip(px, "[::1]:%d" % p)


def test_connect_to_ipv4_literal_named_by_entry_is_200(proxy, tcp_echo):
	p = tcp_echo.port
	px = proxy("--allow-domain", "127.0.0.1:%d" % p)
	echo_roundtrip(px, "127.0.0.1:%d" % p)


def test_connect_with_non_tls_bytes_passes_sni_check(proxy, tcp_echo):
	px = proxy(*allow("api.test", tcp_echo.port))
	echo_roundtrip(px, "api.test:%d" % tcp_echo.port,
	    b"GET / HTTP/1.1\r\n\r\n")


def test_connect_with_mismatched_sni_is_closed_and_audited(proxy, ca,
    tls_upstream):
	p = tls_upstream.port
	px = proxy(*allow("api.test", p))
	s, st, _, _, left = connect_tunnel(px, "api.test:%d" % p)
	assert st == 200 and left == b""
	# No certificate checks: a failure must come from the proxy closing.
	ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
	ctx.check_hostname = False
	ctx.verify_mode = ssl.CERT_NONE
	with s:
		with pytest.raises((ssl.SSLError, OSError)):
			tls = ctx.wrap_socket(s, server_hostname="other.test")
			tls.settimeout(3)
			tls.sendall(b"GET / HTTP/1.1\r\nHost: other.test\r\n\r\n")
			if not tls.recv(1):
				raise OSError("closed")
	assert tls_upstream.srv.tls_ok == 0, "ClientHello reached upstream"
	recs = px.wait_audit(mode="connect")
	assert any("SNI" in (r["reason"] or "") for r in recs), recs


def test_connect_sni_matching_is_case_insensitive(proxy, ca, tls_upstream):
	p = tls_upstream.port
	px = proxy(*allow("api.test", p))
	s, st, _, _, _ = connect_tunnel(px, "API.Test:%d" % p)
	ctx = ssl.create_default_context(cafile=os.path.join(ca, "ca.pem"))
	assert st == 200
	with ctx.wrap_socket(s, server_hostname="api.test") as tls:
		tls.settimeout(3)
		tls.sendall(b"GET /ok HTTP/1.1\r\nHost: api.test\r\n"
		    b"Connection: close\r\n\r\n")
		data = recv_until_eof(tls)
	assert data.startswith(b"HTTP/1.1 200 "), data[:100]


# --- allow-list entries ----------------------------------------------------

def test_connect_to_host_not_in_allow_list_is_403(proxy, tcp_echo):
	px = proxy(*allow("api.test", tcp_echo.port))
	assert_denied(px, "evil.test:443", "not in allow-list",
	    host="evil.test", port=443)


def test_host_port_entry_allows_only_that_port(proxy, tcp_echo):
	p = tcp_echo.port
	px = proxy(*allow("api.test", p))
	assert_denied(px, "api.test:%d" % (p + 1), "not in allow-list")


def test_bare_host_entry_allows_only_port_443(proxy, tcp_echo):
	p = tcp_echo.port
	px = proxy("--allow-domain", "api.test",
	    "--resolve", "api.test:443:127.0.0.1",
	    "--resolve", "api.test:%d:127.0.0.1" % p)
	assert_denied(px, "api.test:%d" % p, "not in allow-list")
	assert_not_allow_list_denial(px, "api.test:443")


def test_wildcard_entry_allows_strict_subdomains_only(proxy):
	px = proxy("--allow-domain", "*.api.test",
	    "--resolve", "x.api.test:443:127.0.0.1",
	    "--resolve", "api.test:443:127.0.0.1")
	assert_denied(px, "api.test:443", "not in allow-list")
	assert_not_allow_list_denial(px, "x.api.test:443")


def test_wildcard_entry_does_not_match_lookalike_suffix(proxy):
	px = proxy("--allow-domain", "*.api.test",
	    "--resolve", "evilapi.test:443:127.0.0.1")
	assert_denied(px, "evilapi.test:443", "not in allow-list")


def test_https_url_entry_allows_its_host_and_port(proxy, tcp_echo):
	p = tcp_echo.port
	px = proxy("--allow-domain", "https://api.test:%d" % p,
	    "--resolve", "api.test:%d:127.0.0.1" % p)
	echo_roundtrip(px, "api.test:%d" % p)


def test_group_name_entry_allows_its_hosts(proxy):
	px = proxy("--allow-domain", "github",
	    "--resolve", "api.github.com:443:127.0.0.1",
	    "--resolve", "evil.test:443:127.0.0.1")
	assert_not_allow_list_denial(px, "api.github.com:443")
	assert_denied(px, "evil.test:443", "not in allow-list")


def test_entry_matching_ignores_case_and_trailing_dot(proxy, tcp_echo):
	p = tcp_echo.port
	px = proxy("--allow-domain", "API.TEST.:%d" % p,
	    "--resolve", "api.test:%d:127.0.0.1" % p)
	echo_roundtrip(px, "api.test:%d" % p)
	echo_roundtrip(px, "Api.Test.:%d" % p)


def test_empty_allow_list_with_credential_allows_any_host(proxy, tcp_echo):
	p = tcp_echo.port
	px = proxy(*OPENAI, "--resolve", "anything.test:%d:127.0.0.1" % p)
	echo_roundtrip(px, "anything.test:%d" % p)


# --- credential upstreams (PR #518) ----------------------------------------

@pytest.mark.parametrize("authority", ["api.openai.com:443",
    "API.OPENAI.COM:443", "api.openai.com.:443", "api.openai.com"])
def test_connect_to_cred_host_is_403(proxy, authority):
	px = proxy(*OPENAI, *TLS_OFF)
	rec = assert_denied(px, authority, CRED_REASON_CONNECT)
	assert rec["reason"] == CRED_REASON_CONNECT
	assert rec["port"] == 443


def test_connect_to_cred_host_is_403_even_when_allowed(proxy):
	px = proxy(*OPENAI, *TLS_OFF, "--allow-domain", "api.openai.com")
	rec = assert_denied(px, "api.openai.com:443", CRED_REASON_CONNECT)
	assert rec["reason"] == CRED_REASON_CONNECT


def test_connect_to_cred_upstream_ip_literal_is_403(proxy):
	px = proxy("--credential", "openai",
	    "--resolve", "api.openai.com:443:127.0.0.1")
	assert_denied(px, "127.0.0.1:443", "credential upstream")


def test_connect_to_cred_host_of_other_route_is_403(proxy):
	px = proxy("--credential", "github", *TLS_OFF,
	    "--resolve", "api.github.com:443:127.0.0.1",
	    "--allow-domain", "github")
	rec = assert_denied(px, "api.github.com:443", CRED_REASON_CONNECT)
	assert rec["reason"] == CRED_REASON_CONNECT


def _server_first(greeting, size):
	"""A listener that, on accept, sends greeting then size bytes of a
	pattern at once (as SSH, SMTP or MySQL servers speak first), then
	half-closes and waits for the client's FIN.  Returns (port, thread,
	listener)."""
	srv = socket.socket()
	srv.bind(("127.0.0.1", 0))
	srv.listen(1)
	srv.settimeout(10)

	def serve():
		c, _ = srv.accept()
		with c:
			c.settimeout(10)
			c.sendall(greeting)
			chunk = bytes(range(256)) * 1024
			for _ in range(size // len(chunk)):
				c.sendall(chunk)
			c.shutdown(socket.SHUT_WR)
			c.recv(1)
	t = threading.Thread(target=serve, daemon=True)
	t.start()
	return srv.getsockname()[1], t, srv


def test_server_first_tunnel_is_spliced_not_copied(proxy):
	size = 64 << 20
	port, t, srv = _server_first(b"220 bench ESMTP\r\n", size)
	with srv:
		px = proxy("-vv", *allow("smtp.test", port))
		s = socket.create_connection(("127.0.0.1", px.port), timeout=10)
		with s:
			s.sendall(b"CONNECT smtp.test:%d HTTP/1.1\r\nHost: x\r\n%s"
			    b"\r\n" % (port, auth_header(px.token)))
			# The greeting and the 200 wait in the proxy while we
			# are not reading: the case that lost the splice.
			time.sleep(0.3)
			got, n = b"", 0
			while b"\r\n\r\n" not in got:
				d = s.recv(65536)
				assert d, got
				got += d
			head, rest = got.split(b"\r\n\r\n", 1)
			assert head.startswith(b"HTTP/1.1 200"), head
			while len(rest) < 17:
				rest += s.recv(65536)
			assert rest.startswith(b"220 bench ESMTP\r\n"), rest[:40]
			n = len(rest) - 17
			while True:
				d = s.recv(1 << 20)
				if not d:
					break
				n += len(d)
		t.join(10)
	assert n == size
	px.wait_stderr("spliced 0 bytes up,", timeout=5)
	m = re.search(r"spliced 0 bytes up, (\d+) down; copied 0 up, (\d+) "
	    r"down", px.stderr())
	assert m, px.stderr()
	spliced, copied = int(m.group(1)), int(m.group(2))
	assert spliced + copied == size + 17
	# Only what was buffered before the splice went through user space.
	assert copied < 1 << 20, (spliced, copied)
