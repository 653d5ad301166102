"""SIGHUP and the interception CA (SPEC 4.10, 4.12).  The CA is made at
start and its root key is wiped once it has signed the name-constrained
intermediate, so a reload cannot widen the constraints.  A reload that
adds a host to intercept (a credential route, a plain host with endpoint
rules) is applied, but a CONNECT to a host outside the constraints is
refused with 403 and a reason saying to restart -- never tunnelled blind,
never answered with a leaf every client rejects -- and the reload says so
once on stderr.  Hosts inside the constraints keep being intercepted."""

import json
import os
import signal

from conftest import connect_status, find_audit
from reverse_fixtures import REAL_SECRET, header_dict
from test_intercept import request, tunnel
from test_proxy_reload import write_json

OTHER_SECRET = "other-real-secret-0123456789abcdef"
WIDEN = "cannot widen the CA's name constraints made at start"


def _route(host, port, var):
	return {"upstream": "https://%s:%d" % (host, port),
	    "credential_key": "env://%s_KEY" % var, "env_var": "%s_API_KEY" %
	    var}


def _profile(routes, allow=(), endpoints=()):
	net = {"allow_domain": list(allow)}
	if routes:
		net["credentials"] = list(routes)
		net["custom_credentials"] = routes
	if endpoints:
		net["allow_endpoint"] = list(endpoints)
	return {"meta": {"name": "icpt-reload"}, "network": net}


def _start(proxy, ca, up, prof):
	port = up.port
	return proxy("-v", "--profile", prof, "--upstream-ca",
	    os.path.join(ca, "ca.pem"), "--resolve", "api.test:%d:127.0.0.1" %
	    port, "--resolve", "db.test:%d:127.0.0.1" % port, env={
	    "SVC_KEY": REAL_SECRET, "DBSVC_KEY": OTHER_SECRET})


def test_reload_adding_a_credential_host_outside_the_ca_is_refused(proxy,
    ca, tls_upstream, tmp_path):
	port = tls_upstream.port
	api, db = "api.test:%d" % port, "db.test:%d" % port
	prof = str(tmp_path / "p.json")
	write_json(prof, _profile({"svc": _route("api.test", port, "SVC")}))
	px = _start(proxy, ca, tls_upstream, prof)
	phantom = px.env["SVC_API_KEY"]
	# The reload adds a credential route on db.test and endpoint rules
	# for a plain host: both outside the constraints made at start.
	write_json(prof, _profile({"svc": _route("api.test", port, "SVC"),
	    "dbsvc": _route("db.test", port, "DBSVC")}, allow=["web.test"],
	    endpoints=["web.test:GET:/**"]))
	px.send_signal(signal.SIGHUP)
	px.wait_stderr("reloaded the configuration")
	px.wait_stderr(WIDEN)
	warn = [l for l in px.stderr().splitlines() if WIDEN in l]
	assert len(warn) == 1, warn
	assert "db.test" in warn[0] and "web.test" in warn[0], warn
	assert "api.test" not in warn[0], warn
	assert "restarts" in warn[0], warn
	# What the client sees: 403 with a reason, before anything is dialled.
	for authority in (db, "web.test:443"):
		st, _, _, body = connect_status(px, authority)
		assert st == 403, (authority, st, body)
		assert b"outside the interception CA's name constraints" in \
		    body, body
		assert b"restart" in body, body
	assert tls_upstream.requests == []
	recs = find_audit(px.audit(), host="db.test", decision="deny")
	assert recs and "name constraints" in recs[-1]["reason"], px.audit()
	# The host made at start is still intercepted, with its route.
	with tunnel(px, api) as ts:
		st, h, b = request(ts, "GET", "/still", api,
		    [("Authorization", "Bearer " + phantom)])
	assert st == 200, b
	assert header_dict(tls_upstream.requests[-1])["authorization"] == \
	    "Bearer " + REAL_SECRET
	# The new route itself works on its base-URL path (no CA needed).
	assert "DBSVC_API_KEY" not in px.env	# printed at start only


def test_reload_when_nothing_was_intercepted_at_start_is_refused(proxy,
    ca, tls_upstream, tmp_path):
	port = tls_upstream.port
	prof = str(tmp_path / "p.json")
	write_json(prof, _profile({}, allow=["db.test:%d" % port]))
	px = _start(proxy, ca, tls_upstream, prof)
	assert "KEYHOLE_CA_BUNDLE" not in px.env
	write_json(prof, _profile({"svc": _route("api.test", port, "SVC")},
	    allow=["db.test:%d" % port]))
	px.send_signal(signal.SIGHUP)
	px.wait_stderr("was not set up at start")
	st, _, _, body = connect_status(px, "api.test:%d" % port)
	assert st == 403, body
	assert b"not set up when keyhole proxy started" in body, body
	rec = px.wait_audit(host="api.test", decision="deny")[-1]
	assert "restart" in rec["reason"], rec
	assert tls_upstream.requests == []


def test_reload_keeping_the_hosts_keeps_intercepting_quietly(proxy, ca,
    tls_upstream, tmp_path):
	port = tls_upstream.port
	api = "api.test:%d" % port
	prof = str(tmp_path / "p.json")
	write_json(prof, _profile({"svc": _route("api.test", port, "SVC")}))
	px = _start(proxy, ca, tls_upstream, prof)
	write_json(prof, _profile({"svc": _route("api.test", port, "SVC")},
	    allow=["x.test"]))
	px.send_signal(signal.SIGHUP)
	px.wait_stderr("reloaded the configuration")
	assert "TLS interception" not in px.stderr()
	with tunnel(px, api) as ts:
		st, h, b = request(ts, "GET", "/k", api,
		    [("Authorization", "Bearer " + px.env["SVC_API_KEY"])])
	assert st == 200, b
