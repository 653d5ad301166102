"""keyhole proxy --clients with per-client profiles (SPEC 4.10): a client
naming a profile is served by that profile's allow-list, routes,
credentials and endpoint rules; a client without one by the proxy's.  One
client's profile never opens anything to another client, in either
direction, and SIGHUP reloads the profiles with the clients file."""

import json
import os
import signal
import socket

import pytest

from conftest import (assert_no_sanitizer_report, stop_proxies, auth_header, free_port_number,
    read_head, read_response, wait_for)
from reverse_fixtures import header_dict, send_request
from test_proxy_clients import ClientsProxy, sha
from test_proxy_ops import admin_get, decisions, parse_metrics

TOKEN = {c: c * 4 + "-token-0123456789abcdef0123456789" for c in "abc"}
PHANTOM = {c: c * 4 + "-phantom-0123456789abcdef01234567" for c in "abc"}
SECRET = {"": "sk-proxy-secret-value", "a": "sk-team-a-secret-value",
    "b": "sk-team-b-secret-value"}


ECHO = [0]	# the echo server's port, set by the fixture


def _profile(allow, routes=None):
	doc = {"meta": {"name": "t"}, "network": {"allow_domain":
	    ["%s:%d" % (h, ECHO[0]) for h in allow]}}
	if routes:
		doc["network"]["credentials"] = list(routes)
		doc["network"]["custom_credentials"] = routes
	return doc


def _route(port, env, rules=None):
	r = {"upstream": "http://127.0.0.1:%d" % port,
	    "credential_key": "env://" + env, "env_var": "X_API_KEY"}
	if rules:
		r["endpoint_rules"] = rules
	return r


def _write(path, doc):
	tmp = str(path) + ".tmp"
	with open(tmp, "w") as f:
		json.dump(doc, f, indent=1)
	os.replace(tmp, str(path))


class Setup:
	pass


@pytest.fixture
def pcp(keyhole, tmp_path, http_upstream, tcp_echo):
	"""The proxy's profile allows shared.test and routes svc (the proxy's
	secret); a.json allows a-only.test and routes svc (team a's secret)
	with GET only; b.json allows b-only.test and routes bsvc.  Clients:
	a -> a.json (relative to the clients file), b -> b.json (hashed
	tokens), c -> none."""
	up, echo = http_upstream.port, tcp_echo.port
	ECHO[0] = echo
	d = tmp_path / "conf"
	d.mkdir()
	s = Setup()
	s.dir = d
	s.echo = echo
	s.up = up
	s.main = d / "main.json"
	_write(s.main, _profile(["shared.test"], {"svc": _route(up, "K_MAIN")}))
	_write(d / "a.json", _profile(["a-only.test"], {"svc": _route(up,
	    "K_A", [{"method": "GET", "path": "/**"}])}))
	_write(d / "b.json", _profile(["b-only.test"], {"bsvc": _route(up,
	    "K_B")}))
	s.clients = d / "clients.json"
	_write(s.clients, {"clients": {
	    "team-a": {"token": TOKEN["a"], "profile": "a.json",
	        "phantoms": {"svc": PHANTOM["a"]}},
	    "team-b": {"token": sha(TOKEN["b"]), "profile": "b.json",
	        "phantoms": {"bsvc": sha(PHANTOM["b"])}},
	    "team-c": {"token": TOKEN["c"], "phantoms": {"svc":
	        PHANTOM["c"]}}}})
	started = []

	def start(*args):
		rd = str(tmp_path / ("replica%d" % len(started)))
		os.makedirs(rd)
		res = []
		for h in ("shared.test", "a-only.test", "b-only.test"):
			res += ["--resolve", "%s:%d:127.0.0.1" % (h, echo)]
		px = ClientsProxy(keyhole, rd, ["--clients", str(s.clients),
		    "--profile", str(s.main)] + res + list(args),
		    env={"K_MAIN": SECRET[""], "K_A": SECRET["a"],
		    "K_B": SECRET["b"]})
		started.append(px)
		px.wait_ready()
		return px
	s.start = start
	yield s
	stop_proxies(started, list(TOKEN.values()) + list(PHANTOM.values()) +
	    list(SECRET.values()))


def connect(px, host, port, token):
	s = socket.create_connection(("127.0.0.1", px.port), timeout=3)
	with s:
		s.sendall(b"CONNECT %s:%d HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (
		    host.encode(), port, host.encode(), auth_header(token)))
		st, _, _, _ = read_head(s, 3)
	return st


def route(px, service, phantom, method="GET", path="/x"):
	s = socket.create_connection(("127.0.0.1", px.port), timeout=3)
	with s:
		send_request(s, method, "/%s%s" % (service, path),
		    [("Authorization", "Bearer " + phantom)])
		st, _, _, _, _ = read_response(s, 3)
	return st


def seen(http_upstream):
	return header_dict(http_upstream.requests[-1]).get("authorization")


def test_clients_profile_allow_list_is_the_client_own_both_ways(pcp):
	aport = free_port_number()
	px = pcp.start("--admin-listen", "127.0.0.1:%d" % aport)
	e = pcp.echo
	assert connect(px, "a-only.test", e, TOKEN["a"]) == 200
	assert connect(px, "b-only.test", e, TOKEN["b"]) == 200
	assert connect(px, "shared.test", e, TOKEN["c"]) == 200
	# A's profile allows a-only.test; B's does not, nor the proxy's.
	assert connect(px, "a-only.test", e, TOKEN["b"]) == 403
	assert connect(px, "a-only.test", e, TOKEN["c"]) == 403
	assert connect(px, "b-only.test", e, TOKEN["a"]) == 403
	# A client's profile replaces the proxy's, it does not add to it.
	assert connect(px, "shared.test", e, TOKEN["a"]) == 403
	recs = px.audit(count=7)
	denied = [(r.get("client"), r["host"]) for r in recs
	    if r["decision"] == "deny"]
	assert sorted(denied) == sorted([("team-b", "a-only.test"),
	    ("team-c", "a-only.test"), ("team-a", "b-only.test"),
	    ("team-a", "shared.test")])
	m = parse_metrics(admin_get(aport, "/metrics")[1])
	assert decisions(m, mode="connect", decision="deny",
	    client="team-b") == 1
	assert decisions(m, mode="connect", decision="allow",
	    client="team-a") == 1


def test_clients_profile_routes_inject_the_profile_credential(pcp,
    http_upstream):
	px = pcp.start()
	assert route(px, "svc", PHANTOM["a"]) == 200
	assert seen(http_upstream) == "Bearer " + SECRET["a"]
	assert route(px, "svc", PHANTOM["c"]) == 200
	assert seen(http_upstream) == "Bearer " + SECRET[""]
	assert route(px, "bsvc", PHANTOM["b"]) == 200
	assert seen(http_upstream) == "Bearer " + SECRET["b"]
	n = len(http_upstream.requests)
	# No phantom works for a route of another client's profile.
	assert route(px, "bsvc", PHANTOM["a"]) in (401, 404)
	assert route(px, "bsvc", PHANTOM["c"]) in (401, 404)
	assert route(px, "svc", PHANTOM["b"]) == 401
	# A's profile's endpoint rules (GET only) apply to A, not to C.
	assert route(px, "svc", PHANTOM["a"], method="DELETE") == 403
	assert len(http_upstream.requests) == n
	assert route(px, "svc", PHANTOM["c"], method="DELETE") == 200
	recs = px.audit(count=10)
	assert [r.get("client") for r in recs if r["status"] == 403] == \
	    ["team-a"]


def test_clients_profile_connection_stays_with_its_client(pcp,
    http_upstream):
	px = pcp.start()
	s = socket.create_connection(("127.0.0.1", px.port), timeout=3)
	with s:
		send_request(s, "GET", "/svc/x", [("Authorization", "Bearer " +
		    PHANTOM["a"])])
		assert read_response(s, 3)[0] == 200
		# Team b's phantom on team a's connection: refused.
		send_request(s, "GET", "/bsvc/x", [("Authorization", "Bearer " +
		    PHANTOM["b"])])
		assert read_response(s, 3)[0] in (401, 404)
	assert seen(http_upstream) == "Bearer " + SECRET["a"]


def test_clients_profile_readyz_waits_for_every_profile_credential(
    keyhole, pcp):
	aport = free_port_number()
	_write(pcp.dir / "b.json", _profile(["b-only.test"], {"bsvc": {
	    "upstream": "http://127.0.0.1:%d" % pcp.up,
	    "credential_key": "file://%s" % (pcp.dir / "bkey"),
	    "env_var": "X_API_KEY"}}))
	px = pcp.start("-v", "--admin-listen", "127.0.0.1:%d" % aport)
	assert admin_get(aport, "/readyz")[0] == 503
	m = parse_metrics(admin_get(aport, "/metrics")[1])
	assert m[("keyhole_credentials_declared", frozenset())] == 3
	assert m[("keyhole_credentials_loaded", frozenset())] == 2
	# The profile's credential file is watched too: seen with no request.
	assert m[("keyhole_credential_watches", frozenset())] == 1
	(pcp.dir / "bkey").write_text("b-file-secret\n")
	assert wait_for(lambda: "credential bsvc: now available" in
	    px.stderr(), timeout=3.0), px.stderr()
	assert admin_get(aport, "/readyz")[0] == 200


def test_clients_profile_reload_applies_and_bad_profile_keeps_the_last(pcp):
	px = pcp.start("-v")
	e = pcp.echo
	assert connect(px, "shared.test", e, TOKEN["a"]) == 403
	_write(pcp.dir / "a.json", _profile(["a-only.test", "shared.test"],
	    {"svc": _route(pcp.up, "K_A")}))
	px.send_signal(signal.SIGHUP)
	assert wait_for(lambda: "reloaded the configuration" in px.stderr(),
	    timeout=10)
	assert connect(px, "shared.test", e, TOKEN["a"]) == 200
	assert connect(px, "shared.test", e, TOKEN["b"]) == 403
	# An invalid profile: one located line, the last good one stays.
	with open(str(pcp.dir / "a.json"), "w") as f:
		f.write('{"meta": {"name": "t"}, "network": {"allow_domain": 7}}')
	px.send_signal(signal.SIGHUP)
	assert wait_for(lambda: "reload refused" in px.stderr(), timeout=10)
	lines = [l for l in px.stderr().split("\n") if "reload refused" in l]
	assert len(lines) == 1
	assert "clients %s: line " % pcp.clients in lines[0]
	assert "clients.team-a.profile" in lines[0]
	assert "a.json" in lines[0]
	assert connect(px, "shared.test", e, TOKEN["a"]) == 200
	assert connect(px, "a-only.test", e, TOKEN["a"]) == 200


def test_clients_profile_errors_are_located(keyhole, pcp):
	import subprocess
	doc = json.load(open(str(pcp.clients)))

	def refused_with(profile):
		"""team-a names profile: the proxy exits 1; its stderr."""
		doc["clients"]["team-a"]["profile"] = profile
		_write(pcp.clients, doc)
		p = subprocess.run([keyhole, "proxy", "--clients",
		    str(pcp.clients), "--profile", str(pcp.main)],
		    capture_output=True, timeout=10,
		    env={"K_MAIN": "x", "K_A": "y", "K_B": "z"})
		err = p.stderr.decode()
		assert p.returncode == 1, err
		return err

	err = refused_with("missing.json")
	assert "clients %s: line " % pcp.clients in err
	assert "clients.team-a.profile: " in err and "missing.json" in err
	# A phantom for a route only the proxy's profile has.
	err = refused_with("b.json")
	assert "clients.team-a.phantoms.svc: no such credential route" in err


def test_clients_profile_route_host_is_intercepted_under_the_one_ca(
    keyhole, tmp_path, tls_upstream, ca, http_upstream):
	# The proxy's profile has no TLS route; team t's profile routes
	# https://api.test.  The interception CA made at start must sign for
	# api.test too, and only team t's CONNECT to it is served.
	import ssl
	from test_intercept import request
	d = tmp_path / "conf"
	d.mkdir()
	main = d / "main.json"
	ECHO[0] = 443
	_write(main, _profile(["shared.test"], {"svc": _route(
	    http_upstream.port, "K_MAIN")}))
	_write(d / "t.json", {"meta": {"name": "t"}, "network": {
	    "credentials": ["tsvc"], "custom_credentials": {"tsvc": {
	    "upstream": "https://api.test:%d" % tls_upstream.port,
	    "credential_key": "env://K_T", "env_var": "T_API_KEY"}}}})
	cf = d / "clients.json"
	_write(cf, {"clients": {
	    "team-t": {"token": TOKEN["a"], "profile": "t.json",
	        "phantoms": {"tsvc": PHANTOM["a"]}},
	    "team-c": {"token": TOKEN["c"]}}})
	rd = str(tmp_path / "replica")
	os.makedirs(rd)
	px = ClientsProxy(keyhole, rd, ["--clients", str(cf), "--profile",
	    str(main), "--upstream-ca", os.path.join(ca, "ca.pem"),
	    "--resolve", "api.test:%d:127.0.0.1" % tls_upstream.port],
	    env={"K_MAIN": SECRET[""], "K_T": SECRET["a"]})
	try:
		px.wait_ready()
		host = "api.test:%d" % tls_upstream.port
		assert connect(px, "api.test", tls_upstream.port,
		    TOKEN["c"]) == 403
		s = socket.create_connection(("127.0.0.1", px.port), timeout=3)
		s.sendall(b"CONNECT %s HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (
		    host.encode(), host.encode(), auth_header(TOKEN["a"])))
		st, _, _, _ = read_head(s, 3)
		assert st == 200
		ctx = ssl.create_default_context(
		    cafile=px.env["KEYHOLE_CA_BUNDLE"])
		ts = ctx.wrap_socket(s, server_hostname="api.test")
		with ts:
			st, h, b = request(ts, "GET", "/v/1", host,
			    [("Authorization", "Bearer " + PHANTOM["a"])])
		assert st == 200, b
		assert header_dict(tls_upstream.requests[-1])[
		    "authorization"] == "Bearer " + SECRET["a"]
		recs = px.audit(count=2)
		assert any(r.get("client") == "team-t" and r["decision"] ==
		    "allow" for r in recs), recs
	finally:
		px.close()
	err = px.stderr()
	assert SECRET["a"] not in err and TOKEN["a"] not in err
	assert_no_sanitizer_report(err)
