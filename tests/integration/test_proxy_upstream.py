"""Chaining CONNECT through a corporate proxy (SPEC 4.7)."""

import json
import os

from conftest import (CRED_REASON_CONNECT, OPENAI, TLS_OFF, assert_proxy_answer,
    connect_status, connect_tunnel, curl, free_port_number,
    recv_exact)


def chained(proxy, corp, name, port, *more):
	return proxy("--upstream-proxy", "127.0.0.1:%d" % corp.port,
	    "--allow-domain", "%s:%d" % (name, port),
	    "--resolve", "%s:%d:127.0.0.1" % (name, port), *more)


def test_connect_is_chained_through_upstream_proxy(proxy, ca, tls_upstream,
    corp_proxy):
	p = tls_upstream.port
	px = chained(proxy, corp_proxy, "api.test", p)
	rc, out, err = curl("--proxy", px.url, "--cacert",
	    os.path.join(ca, "ca.pem"), "https://api.test:%d/via-corp" % p)
	assert rc == 0, err
	assert json.loads(out)["path"] == "/via-corp"
	assert len(corp_proxy.lines) == 1, corp_proxy.lines
	assert corp_proxy.lines[0].startswith("CONNECT api.test:%d " % p)
	# Our token never goes to the corporate proxy.
	head = "\n".join(corp_proxy.heads[0])
	assert px.token not in head
	assert "proxy-authorization" not in head.lower()
	rec = px.wait_audit(mode="external", decision="allow")[-1]
	assert rec["host"] == "api.test" and rec["port"] == p, rec


def test_chained_tunnel_relays_raw_bytes(proxy, tcp_echo, corp_proxy):
	p = tcp_echo.port
	px = chained(proxy, corp_proxy, "api.test", p)
	s, st, _, _, left = connect_tunnel(px, "api.test:%d" % p,
	    extra=b"early")
	with s:
		assert st == 200
		got, _ = recv_exact(s, 5, left)
		assert got == b"early"


def test_upstream_bypass_host_is_not_chained(proxy, ca, tls_upstream,
    corp_proxy):
	p = tls_upstream.port
	px = chained(proxy, corp_proxy, "api.test", p,
	    "--upstream-bypass", "api.test")
	rc, out, err = curl("--proxy", px.url, "--cacert",
	    os.path.join(ca, "ca.pem"), "https://api.test:%d/direct" % p)
	assert rc == 0, err
	assert json.loads(out)["path"] == "/direct"
	assert corp_proxy.lines == []


def test_upstream_bypass_wildcard_matches_subdomain(proxy, tcp_echo,
    corp_proxy):
	p = tcp_echo.port
	px = chained(proxy, corp_proxy, "web.test", p,
	    "--upstream-bypass", "*.test")
	st, _, _, _ = connect_status(px, "web.test:%d" % p)
	assert st == 200
	assert corp_proxy.lines == []


def test_upstream_refusal_status_is_passed_back(proxy, tcp_echo,
    corp_proxy):
	p = tcp_echo.port
	corp_proxy.set_refuse(403)
	px = chained(proxy, corp_proxy, "api.test", p)
	s, st, rs, h, left = connect_tunnel(px, "api.test:%d" % p)
	with s:
		assert st == 403, (st, rs)
	assert corp_proxy.lines[0].startswith("CONNECT api.test:%d " % p)
	rec = px.wait_audit(mode="external", decision="deny")[-1]
	assert "403" in rec["reason"], rec
	assert rec["host"] == "api.test" and rec["port"] == p, rec
	assert tcp_echo.srv.connections == 0


def test_upstream_proxy_still_applies_allow_list(proxy, tcp_echo,
    corp_proxy):
	px = chained(proxy, corp_proxy, "api.test", tcp_echo.port)
	st, rs, h, body = connect_status(px, "evil.test:443")
	assert_proxy_answer(st, rs, h, body, 403, "not in allow-list")
	rec = px.wait_audit(decision="deny")[-1]
	assert "not in allow-list" in rec["reason"], rec
	assert corp_proxy.lines == []


def test_upstream_proxy_still_blocks_credential_upstream(proxy, corp_proxy):
	px = proxy("--upstream-proxy", "127.0.0.1:%d" % corp_proxy.port,
	    *OPENAI, *TLS_OFF)
	st, rs, h, body = connect_status(px, "api.openai.com:443")
	assert_proxy_answer(st, rs, h, body, 403, CRED_REASON_CONNECT)
	rec = px.wait_audit(decision="deny")[-1]
	assert rec["reason"] == CRED_REASON_CONNECT, rec
	assert corp_proxy.lines == []


def test_unreachable_upstream_proxy_is_502(proxy, tcp_echo):
	dead = free_port_number()
	px = proxy("--upstream-proxy", "127.0.0.1:%d" % dead,
	    "--allow-domain", "api.test:%d" % tcp_echo.port,
	    "--resolve", "api.test:%d:127.0.0.1" % tcp_echo.port)
	st, rs, h, body = connect_status(px, "api.test:%d" % tcp_echo.port)
	assert_proxy_answer(st, rs, h, body, 502)
	assert tcp_echo.srv.connections == 0
