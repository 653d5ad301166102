"""keyhole proxy --clients FILE (SPEC 4.10): named clients with pinned
proxy and phantom tokens (plain or sha256:HEX), shared by replicas,
isolated from each other, named in the audit log and in /metrics."""

import hashlib
import json
import os
import re
import socket
import subprocess

import pytest

from conftest import (stop_proxies, Proxy, auth_header, free_port_number,
    read_head, read_response, recv_exact)
from reverse_fixtures import send_request, write_profile
from test_proxy_ops import admin_get, allow_args, decisions, parse_metrics

TOKEN_A = "a" * 8 + "1234567890abcdef" * 3 + "tokA"
TOKEN_B = "b" * 8 + "fedcba0987654321" * 3 + "tokB"
PHANTOM_A = "pa-" + "0123456789" * 4
PHANTOM_B = "pb-" + "9876543210" * 4
SECRET = "sk-clients-real-secret-value"


def sha(t):
	return "sha256:" + hashlib.sha256(t.encode()).hexdigest()


def clients_doc():
	"""Client a with plain tokens, b with hashed ones."""
	return {"clients": {
	    "team-a": {"token": TOKEN_A, "phantoms": {"svc": PHANTOM_A}},
	    "team-b": {"token": sha(TOKEN_B), "phantoms": {"svc":
	        sha(PHANTOM_B)}}}}


class ClientsProxy(Proxy):
	"""A proxy started with --clients: it prints no token."""

	def wait_ready(self, start_timeout=10):
		self._read_env(start_timeout)
		hp = self.env.get("HTTP_PROXY", "")
		m = re.match(r"^http://127\.0\.0\.1:(\d+)$", hp)
		assert m, (hp, self.stderr())
		self.url = hp
		self.port = int(m.group(1))
		self.token = None


@pytest.fixture
def cproxy(keyhole, tmp_path, http_upstream, tcp_echo):
	"""Factory: cproxy(doc=None, *args) writes the clients file (once per
	test), declares route svc to http_upstream, allows up.test to
	tcp_echo, and starts a replica."""
	started = []
	prof = write_profile(tmp_path, {"svc": {
	    "upstream": "http://127.0.0.1:%d" % http_upstream.port,
	    "credential_key": "env://SVC_KEY", "env_var": "SVC_API_KEY"}})
	cfile = str(tmp_path / "clients.json")

	def start(*args, doc=None):
		if not os.path.exists(cfile) or doc is not None:
			with open(cfile, "w") as f:
				json.dump(doc or clients_doc(), f, indent=1)
		d = str(tmp_path / ("replica%d" % len(started)))
		os.makedirs(d)
		px = ClientsProxy(keyhole, d, ["--clients", cfile, "--profile",
		    prof] + list(allow_args(tcp_echo.port)) + list(args),
		    env={"SVC_KEY": SECRET})
		started.append(px)
		px.wait_ready()
		return px
	start.echo_port = tcp_echo.port
	start.clients_file = cfile
	yield start
	stop_proxies(started, (TOKEN_A, TOKEN_B, PHANTOM_A, PHANTOM_B, SECRET))


def connect(px, port, token):
	s = socket.create_connection(("127.0.0.1", px.port), timeout=3)
	req = b"CONNECT up.test:%d HTTP/1.1\r\nHost: up.test\r\n" % port
	if token:
		req += auth_header(token)
	s.sendall(req + b"\r\n")
	st, _, _, left = read_head(s, 3)
	return s, st, left


def route_get(px, phantom, sock=None):
	"""GET /svc/x with phantom: status (on sock when given)."""
	own = sock is None
	s = sock or socket.create_connection(("127.0.0.1", px.port),
	    timeout=3)
	try:
		send_request(s, "GET", "/svc/x", [("Authorization",
		    "Bearer " + phantom)])
		st, _, _, _, _ = read_response(s, 3)
	finally:
		if own:
			s.close()
	return st


def test_clients_two_replicas_accept_the_same_pinned_tokens(cproxy):
	r1 = cproxy()
	r2 = cproxy()
	assert "KEYHOLE_PROXY_TOKEN" not in r1.env
	assert "SVC_API_KEY" not in r1.env
	assert r1.env["SVC_BASE_URL"] == "http://127.0.0.1:%d/svc" % r1.port
	for px in (r1, r2):
		for tok in (TOKEN_A, TOKEN_B):
			s, st, _ = connect(px, cproxy.echo_port, tok)
			s.close()
			assert st == 200, (px.port, tok[:4])
		assert route_get(px, PHANTOM_A) == 200
		assert route_get(px, PHANTOM_B) == 200
		recs = px.audit(count=6)
		got = sorted((r["mode"], r["client"]) for r in recs)
		assert got == [("connect", "team-a"), ("connect", "team-b"),
		    ("reverse", "team-a"), ("reverse", "team-b")], recs


def test_clients_tokens_are_worthless_across_clients(cproxy):
	px = cproxy()
	# Nothing but a client's token: a random or missing one is 407.
	for tok in (None, "0" * 64, PHANTOM_A, sha(TOKEN_A)):
		s, st, _ = connect(px, cproxy.echo_port, tok)
		s.close()
		assert st == 407, tok
	# A proxy token is not a phantom.
	assert route_get(px, TOKEN_A) == 401
	assert route_get(px, sha(PHANTOM_B)) == 401
	# A connection bound to a by its phantom refuses b's, and back.
	for first, second in ((PHANTOM_A, PHANTOM_B), (PHANTOM_B, PHANTOM_A)):
		s = socket.create_connection(("127.0.0.1", px.port), timeout=3)
		with s:
			assert route_get(px, first, s) == 200
			assert route_get(px, second, s) == 401
	recs = px.audit(count=8)
	assert all(r.get("client") in (None, "team-a", "team-b")
	    for r in recs), recs
	# The refusals on bound connections name the bound client.
	bound = [r["client"] for r in recs if r["status"] == 401 and
	    r.get("client")]
	assert sorted(bound) == ["team-a", "team-b"], recs


def test_clients_keep_alive_connection_cannot_switch_client(cproxy,
    http_upstream):
	port = http_upstream.port
	px = cproxy("--allow-domain", "web.test:%d" % port, "--resolve",
	    "web.test:%d:127.0.0.1" % port)
	s = socket.create_connection(("127.0.0.1", px.port), timeout=3)
	with s:
		for tok, want in ((TOKEN_A, 200), (TOKEN_B, 407),
		    (TOKEN_A, 200), (None, 200)):
			s.sendall(b"GET http://web.test:%d/x HTTP/1.1\r\n"
			    b"Host: web.test\r\n%s\r\n" % (port,
			    auth_header(tok) if tok else b""))
			st, _, h, body, _ = read_response(s, 3)
			assert st == want, (tok and tok[:4], st)
	recs = px.audit(count=4)
	assert [r.get("client") for r in recs] == ["team-a", "team-a",
	    "team-a", "team-a"], recs


def test_clients_metrics_carry_the_client_name(cproxy):
	aport = free_port_number()
	px = cproxy("--admin-listen", "127.0.0.1:%d" % aport)
	assert route_get(px, PHANTOM_A) == 200
	assert route_get(px, PHANTOM_A) == 200
	assert route_get(px, PHANTOM_B) == 200
	assert route_get(px, "nobody-" + "x" * 40) == 401
	px.audit(count=4)
	m = parse_metrics(admin_get(aport, "/metrics")[1])
	assert decisions(m, mode="reverse", decision="allow",
	    client="team-a") == 2
	assert decisions(m, mode="reverse", decision="allow",
	    client="team-b") == 1
	assert decisions(m, mode="reverse", decision="deny", client="") == 1


@pytest.mark.parametrize("doc,where,msg", [
	({"clients": {"a": {"token": "short"}}}, "line 4 column 13: "
	    "clients.a.token", "32 to 512 characters"),
	({"clients": {"a": {"token": TOKEN_A, "colour": 1}}},
	    "line 5 column 14: clients.a.colour", "unknown key"),
	({"clients": {"a": {"token": "sha256:abc"}}}, "clients.a.token",
	    "64 hex digits"),
	({"clients": {"a": {"token": TOKEN_A, "phantoms": {"nope":
	    PHANTOM_A}}}}, "clients.a.phantoms.nope", "no such credential"),
	({"clients": {"a": {"token": TOKEN_A}, "b": {"token": sha(TOKEN_A)}}},
	    "token", "the same token as client"),
	({"clients": {"a": {"phantoms": {}}}}, "clients.a", "missing "
	    "\"token\""),
	({"clients": {"a b": {"token": TOKEN_A}}}, "clients.a b",
	    "client name"),
	({"client": {}}, "line 2 column 12: client", "unknown key"),
])
def test_clients_file_errors_name_file_line_and_column(keyhole, tmp_path,
    doc, where, msg):
	cfile = str(tmp_path / "c.json")
	with open(cfile, "w") as f:
		json.dump(doc, f, indent=1)
	prof = write_profile(tmp_path, {"svc": {
	    "upstream": "http://127.0.0.1:9", "credential_key":
	    "env://SVC_KEY", "env_var": "SVC_API_KEY"}})
	p = subprocess.run([keyhole, "proxy", "--profile", prof, "--clients",
	    cfile], capture_output=True, timeout=10, env={"SVC_KEY": "x"})
	err = p.stderr.decode()
	assert p.returncode == 1, err
	assert "keyhole: clients %s: " % cfile in err, err
	assert where in err and msg in err, err
	assert TOKEN_A not in err


def test_clients_file_syntax_error_is_located(keyhole, tmp_path):
	cfile = str(tmp_path / "c.json")
	with open(cfile, "w") as f:
		f.write('{"clients": {\n  "a": {"token": }\n}}\n')
	p = subprocess.run([keyhole, "proxy", "--clients", cfile],
	    capture_output=True, timeout=10)
	assert p.returncode == 1
	assert b"clients %s: line 2 column " % cfile.encode() in p.stderr
