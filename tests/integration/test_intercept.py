"""TLS interception of CONNECT to a credential route's host (SPEC 4.12):
the client trusts the run's CA from the printed bundle, every request
inside goes through the route (endpoint rules, phantom, injection), the
upstream leg is verified TLS, and the CA is name-constrained."""

import json
import os
import socket
import ssl
import subprocess
import threading
import time

import pytest

from conftest import (CRED_REASON_CONNECT, SOCK_TIMEOUT, auth_header,
    read_head, read_response)
from reverse_fixtures import (REAL_SECRET, header_dict, route,
    upgrade_upstream_tls, write_profile)

BUNDLE_VARS = ["SSL_CERT_FILE", "CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE",
    "GIT_SSL_CAINFO", "PIP_CERT", "NODE_EXTRA_CA_CERTS", "AWS_CA_BUNDLE",
    "CARGO_HTTP_CAINFO", "DENO_CERT", "BUNDLE_SSL_CA_CERT",
    "NPM_CONFIG_CAFILE", "npm_config_cafile",
    "CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE", "NIX_SSL_CERT_FILE",
    "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH", "KEYHOLE_CA_BUNDLE"]


def tunnel(px, authority, alpn=("http/1.1",), cafile=None,
    server_hostname=None, ctx=None, rcvbuf=None):
	"""CONNECT through the proxy, then TLS trusting the run's bundle (or
	with ctx, a context the caller made): returns the TLS socket.
	rcvbuf: SO_RCVBUF of the client socket, set before it connects."""
	s = socket.socket()
	if rcvbuf is not None:
		s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
	s.settimeout(SOCK_TIMEOUT)
	s.connect(("127.0.0.1", px.port))
	s.sendall(b"CONNECT %s HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (
	    authority.encode(), authority.encode(), auth_header(px.token)))
	st, _, _, rest = read_head(s)
	assert st == 200, st
	assert rest == b""
	if ctx is None:
		ctx = ssl.create_default_context(cafile=cafile or
		    px.env["KEYHOLE_CA_BUNDLE"])
	if alpn:
		ctx.set_alpn_protocols(list(alpn))
	host = server_hostname or authority.rsplit(":", 1)[0]
	return ctx.wrap_socket(s, server_hostname=host)


def request(ts, method, path, host, headers=(), body=b""):
	req = "%s %s HTTP/1.1\r\nHost: %s\r\n" % (method, path, host)
	for k, v in headers:
		req += "%s: %s\r\n" % (k, v)
	if body:
		req += "Content-Length: %d\r\n" % len(body)
	ts.sendall(req.encode() + b"\r\n" + body)
	st, rs, h, b, _ = read_response(ts)
	return st, h, b


def auth(r):
	return [("Authorization", "Bearer " + r.phantom)]


def test_intercept_injects_secret_over_keep_alive(route, tls_upstream):
	r = route(tls_upstream)
	host = "api.test:%d" % tls_upstream.port
	ts = tunnel(r.px, host)
	with ts:
		assert ts.selected_alpn_protocol() == "http/1.1"
		for i in range(3):
			st, h, b = request(ts, "GET", "/v/%d" % i, host,
			    auth(r) + [("x-api-key", "client-junk")])
			assert st == 200, b
			doc = json.loads(b)
			assert doc["path"] == "/v/%d" % i
	assert len(tls_upstream.requests) == 3
	hd = header_dict(tls_upstream.requests[0])
	assert hd["authorization"] == "Bearer " + REAL_SECRET
	assert "x-api-key" not in hd
	# The answer reaches the client before its record is written.
	r.px.wait_audit(mode="intercept", path="/v/2")
	recs = r.px.wait_audit(mode="intercept", decision="allow")
	paths = [x.get("path") for x in recs if x.get("method") == "GET"]
	assert len(paths) == 3 and paths[0] == "/v/0", recs
	assert all(x["status"] == 200 for x in recs), recs
	assert any(x.get("reason") == "TLS intercepted" for x in recs), recs


def test_intercept_without_phantom_goes_out_without_credential(route,
    tls_upstream):
	"""No phantom: the request is sent bare (public resources work, the
	server's 401 makes git ask its helper); what the client sent as a
	credential is dropped, never forwarded."""
	r = route(tls_upstream)
	host = "api.test:%d" % tls_upstream.port
	with tunnel(r.px, host) as ts:
		st, h, b = request(ts, "GET", "/x", host,
		    [("Authorization", "Bearer sk-found-somewhere")])
	assert st == 200, b
	hd = header_dict(tls_upstream.requests[0])
	assert "authorization" not in hd, hd
	rec = r.px.wait_audit(mode="intercept", method="GET")[-1]
	assert rec["reason"] == "no phantom: sent without a credential", rec


def test_intercept_host_mismatch_is_421(route, tls_upstream):
	r = route(tls_upstream)
	host = "api.test:%d" % tls_upstream.port
	with tunnel(r.px, host) as ts:
		st, h, b = request(ts, "GET", "/x", "db.test:%d" %
		    tls_upstream.port, auth(r))
	assert st == 421, b
	with tunnel(r.px, host) as ts:
		st, h, b = request(ts, "GET", "https://db.test:%d/x" %
		    tls_upstream.port, host, auth(r))
	assert st == 421, b
	with tunnel(r.px, host) as ts:
		st, h, b = request(ts, "GET", "https://%s/abs" % host, host,
		    auth(r))
	assert st == 200, b
	assert json.loads(b)["path"] == "/abs"
	assert len(tls_upstream.requests) == 1


@pytest.mark.parametrize("form,ok", [
	("api.test:{port}", True),
	("API.Test:{port}", True),
	("api.test.:{port}", True),
	("api.test", False),
	("api.test:{port}0", False),
	("api.test:0{port}", True),
	("api.testx:{port}", False),
	("api.tes:{port}", False),
	("api.test:{port}:1", False),
	("xapi.test:{port}", False),
])
def test_intercept_host_forms_are_held_to_the_connect_host(route,
    tls_upstream, form, ok):
	"""Each spelling of Host: the CONNECT host in any case, with its
	port (443 may be left out), a trailing dot: served; anything else
	421, and nothing reaches the upstream."""
	r = route(tls_upstream)
	host = "api.test:%d" % tls_upstream.port
	with tunnel(r.px, host) as ts:
		st, h, b = request(ts, "GET", "/f", form.format(
		    port=tls_upstream.port), auth(r))
	assert st == (200 if ok else 421), (form, st, b)
	assert len(tls_upstream.requests) == (1 if ok else 0)


def test_intercept_sni_mismatch_is_refused_and_audited(route, tls_upstream):
	r = route(tls_upstream)
	host = "api.test:%d" % tls_upstream.port
	with pytest.raises((ssl.SSLError, OSError)):
		ts = tunnel(r.px, host, server_hostname="db.test")
		request(ts, "GET", "/x", host, auth(r))
	r.px.wait_audit(mode="intercept", decision="deny")
	assert "does not match CONNECT host" in r.px.audit_text()


def test_intercept_trace_is_405_and_h2c_refused(route, tls_upstream):
	r = route(tls_upstream)
	host = "api.test:%d" % tls_upstream.port
	with tunnel(r.px, host) as ts:
		st, h, b = request(ts, "TRACE", "/x", host, auth(r))
	assert st == 405, b
	with tunnel(r.px, host) as ts:
		st, h, b = request(ts, "GET", "/x", host, auth(r) + [
		    ("Connection", "Upgrade, HTTP2-Settings"),
		    ("Upgrade", "h2c"), ("HTTP2-Settings", "AAMAAABkAARAAAAA")])
	assert st == 400, b
	assert tls_upstream.requests == []
	# Refused before the route: audited with the CONNECT host and port.
	recs = r.px.wait_audit(mode="intercept", decision="deny", status=405)
	assert recs[0]["host"] == "api.test", recs
	assert recs[0]["port"] == tls_upstream.port, recs
	assert recs[0]["method"] == "TRACE", recs
	recs = r.px.wait_audit(mode="intercept", decision="deny", status=400)
	assert recs[0]["host"] == "api.test", recs


def test_intercept_endpoint_rules_and_base_path(route, tls_upstream):
	r = route(tls_upstream, upstream="https://api.test:%d/v1" %
	    tls_upstream.port, endpoint_rules=[{"method": "GET",
	    "path": "/models"}])
	host = "api.test:%d" % tls_upstream.port
	with tunnel(r.px, host) as ts:
		st, h, b = request(ts, "GET", "/v1/models", host, auth(r))
		assert st == 200, b
		assert json.loads(b)["path"] == "/v1/models"
	with tunnel(r.px, host) as ts:
		st, h, b = request(ts, "POST", "/v1/models", host, auth(r))
		assert st == 403, b
	with tunnel(r.px, host) as ts:
		st, h, b = request(ts, "GET", "/v2/models", host, auth(r))
		assert st == 403, b
		assert b"base path" in b or b"Forbidden" in b
	assert len(tls_upstream.requests) == 1
	assert "outside the route's base path" in r.px.audit_text()


def test_intercept_h2_only_client_gets_alert_and_audit(route, tls_upstream):
	r = route(tls_upstream)
	host = "api.test:%d" % tls_upstream.port
	with pytest.raises(ssl.SSLError) as ei:
		tunnel(r.px, host, alpn=("h2",))
	assert "NO APPLICATION PROTOCOL" in str(ei.value).upper().replace(
	    "_", " ")
	rec = r.px.wait_audit(mode="intercept", decision="deny")[-1]
	assert "ALPN" in rec["reason"] and "h2" in rec["reason"], rec


def test_intercept_untrusted_client_is_audited_with_hint(route,
    tls_upstream, ca):
	r = route(tls_upstream)
	host = "api.test:%d" % tls_upstream.port
	with pytest.raises(ssl.SSLError):
		tunnel(r.px, host, cafile=os.path.join(ca, "ca.pem"))
	rec = r.px.wait_audit(mode="intercept", decision="deny")[-1]
	assert rec["reason"] == ("client does not trust keyhole's CA: is "
	    "SSL_CERT_FILE honoured?"), rec


def test_intercept_off_keeps_the_403(route, tls_upstream):
	r = route(tls_upstream, args=("--tls-intercept", "off"))
	s = socket.create_connection(("127.0.0.1", r.px.port),
	    timeout=SOCK_TIMEOUT)
	with s:
		s.sendall(b"CONNECT api.test:%d HTTP/1.1\r\n%s\r\n" % (
		    tls_upstream.port, auth_header(r.px.token)))
		st, _, _, _ = read_head(s)
	assert st == 403
	assert r.px.wait_audit(decision="deny")[-1]["reason"] == \
	    CRED_REASON_CONNECT
	assert "KEYHOLE_CA_BUNDLE" not in r.px.env


def test_intercept_ip_literal_of_cred_upstream_stays_403(route,
    tls_upstream):
	r = route(tls_upstream)
	s = socket.create_connection(("127.0.0.1", r.px.port),
	    timeout=SOCK_TIMEOUT)
	with s:
		s.sendall(b"CONNECT 127.0.0.1:%d HTTP/1.1\r\n%s\r\n" % (
		    tls_upstream.port, auth_header(r.px.token)))
		st, _, _, _ = read_head(s)
	assert st == 403


def test_intercept_needs_proxy_auth(route, tls_upstream):
	r = route(tls_upstream)
	s = socket.create_connection(("127.0.0.1", r.px.port),
	    timeout=SOCK_TIMEOUT)
	with s:
		s.sendall(b"CONNECT api.test:%d HTTP/1.1\r\n\r\n" %
		    tls_upstream.port)
		st, _, _, _ = read_head(s)
	assert st == 407


def test_intercept_bundle_variables_and_files(route, tls_upstream):
	r = route(tls_upstream)
	env = r.px.env
	paths = {env[v] for v in BUNDLE_VARS}
	assert len(paths) == 1, paths
	bundle = paths.pop()
	root = env["KEYHOLE_CA_CERT"]
	assert os.path.dirname(bundle) == os.path.dirname(root)
	for p in (bundle, root):
		assert os.stat(p).st_mode & 0o777 == 0o444
		text = open(p).read()
		assert "PRIVATE" not in text
	assert os.stat(os.path.dirname(root)).st_mode & 0o777 == 0o700
	assert open(root).read().count("BEGIN CERTIFICATE") == 1
	# The bundle has the system roots, the --upstream-ca and our root.
	assert open(bundle).read().count("BEGIN CERTIFICATE") > 2
	d = os.path.dirname(root)
	r.px.stop()
	assert not os.path.exists(d)


def test_intercept_bundle_left_by_a_killed_proxy_is_swept(proxy, tmp_path):
	"""A proxy killed with SIGKILL cannot remove its CA directory; the
	next intercepting start removes it once it is 10 s old and no run
	holds its lock, and never touches a live run's directory, a young
	one (a run that has not locked it yet) or one holding other files."""
	tmp = tmp_path / "tmp"
	tmp.mkdir()
	path = write_profile(tmp_path, {"svc": {
	    "upstream": "https://api.test:9", "credential_key": "env://SVC_KEY",
	    "env_var": "SVC_API_KEY"}}, name="sweep.json")
	env = {"SVC_KEY": REAL_SECRET, "TMPDIR": str(tmp)}
	dead = proxy("--profile", path, env=env)
	live = proxy("--profile", path, env=env)
	dead_dir = os.path.dirname(dead.env["KEYHOLE_CA_CERT"])
	live_dir = os.path.dirname(live.env["KEYHOLE_CA_CERT"])
	assert os.path.dirname(dead_dir) == str(tmp)
	dead.kill()
	assert os.path.isdir(dead_dir)
	young = tmp / "keyhole-ca-young"
	young.mkdir()
	other = tmp / "keyhole-ca-other"
	other.mkdir()
	(other / "notes.txt").write_text("not keyhole's")
	old = time.time() - 60
	for d in (dead_dir, live_dir, str(other)):
		os.utime(d, (old, old))
	third = proxy("--profile", path, env=env)
	assert not os.path.exists(dead_dir)
	assert os.path.isfile(live.env["KEYHOLE_CA_CERT"])
	assert young.is_dir() and (other / "notes.txt").is_file()
	assert os.path.isfile(third.env["KEYHOLE_CA_CERT"])
	live.stop()
	assert not os.path.exists(live_dir)


def _chain(px, host, tmp_path):
	"""The certificates the proxy presents for host (leaf, intermediate)
	through openssl s_client, saved as PEM files."""
	p = subprocess.run(["openssl", "s_client", "-proxy",
	    "127.0.0.1:%d" % px.port, "-proxy_user", "keyhole",
	    "-proxy_pass", "pass:" + px.token, "-connect", host,
	    "-servername", host.rsplit(":", 1)[0], "-showcerts",
	    "-alpn", "http/1.1"], input=b"", capture_output=True, timeout=10)
	out = p.stdout.decode()
	certs = []
	while "-----BEGIN CERTIFICATE-----" in out:
		a = out.index("-----BEGIN CERTIFICATE-----")
		b = out.index("-----END CERTIFICATE-----") + 25
		certs.append(out[a:b] + "\n")
		out = out[b:]
	assert len(certs) == 2, p.stdout.decode() + p.stderr.decode()
	files = []
	for i, c in enumerate(certs):
		f = tmp_path / ("c%d.pem" % i)
		f.write_text(c)
		files.append(str(f))
	return files


def _x509_text(path):
	return subprocess.run(["openssl", "x509", "-noout", "-text", "-in",
	    path], capture_output=True, timeout=10, check=True).stdout.decode()


def test_intercept_chain_verifies_and_is_name_constrained(route,
    tls_upstream, tmp_path):
	r = route(tls_upstream)
	host = "api.test:%d" % tls_upstream.port
	leaf, inter = _chain(r.px, host, tmp_path)
	root = r.px.env["KEYHOLE_CA_CERT"]
	v = subprocess.run(["openssl", "verify", "-x509_strict", "-CAfile",
	    root, "-untrusted", inter, "-verify_hostname", "api.test", leaf],
	    capture_output=True, timeout=10)
	assert v.returncode == 0, v.stdout + v.stderr
	# The intermediate alone as anchor (partial chain) works as well.
	v = subprocess.run(["openssl", "verify", "-partial_chain", "-CAfile",
	    inter, leaf], capture_output=True, timeout=10)
	assert v.returncode == 0, v.stdout + v.stderr
	it = _x509_text(inter)
	assert "X509v3 Name Constraints: critical" in it, it
	assert "DNS:api.test" in it
	assert "IP:0.0.0.0/0.0.0.0" in it, it
	assert "IP:0:0:0:0:0:0:0:0/0:0:0:0:0:0:0:0" in it, it
	assert "X509v3 Subject Key Identifier" in it
	assert "ASN1 OID: prime256v1" in it
	lt = _x509_text(leaf)
	assert "DNS:api.test" in lt
	assert "X509v3 Authority Key Identifier" in lt
	assert "X509v3 Subject Key Identifier" in lt
	assert "CA:FALSE" in lt
	assert "ASN1 OID: prime256v1" in lt


def _basic(userpass):
	import base64
	return "Basic " + base64.b64encode(userpass.encode()).decode()


@pytest.mark.parametrize("form", ["token %s", "%s", "basic-user",
    "basic-password"])
def test_intercept_recognises_phantom_wherever_the_client_puts_it(route,
    tls_upstream, form):
	r = route(tls_upstream)
	host = "api.test:%d" % tls_upstream.port
	if form == "basic-user":
		v = _basic(r.phantom + ":x-oauth-basic")
	elif form == "basic-password":
		v = _basic("x-access-token:" + r.phantom)
	else:
		v = form % r.phantom
	with tunnel(r.px, host) as ts:
		st, h, b = request(ts, "GET", "/p", host, [("Authorization", v)])
	assert st == 200, b
	hd = header_dict(tls_upstream.requests[0])
	assert hd["authorization"] == "Bearer " + REAL_SECRET


@pytest.mark.parametrize("header", ["PRIVATE-TOKEN", "x-api-key"])
def test_intercept_phantom_in_another_credential_header_is_replaced(route,
    tls_upstream, header):
	"""python-gitlab sends PRIVATE-TOKEN, SDKs x-api-key: the phantom
	there is recognised, the header dropped, and the route's own
	credential sent in its place."""
	r = route(tls_upstream)
	host = "api.test:%d" % tls_upstream.port
	with tunnel(r.px, host) as ts:
		st, h, b = request(ts, "GET", "/p", host, [(header, r.phantom)])
	assert st == 200, b
	hd = header_dict(tls_upstream.requests[0])
	assert hd["authorization"] == "Bearer " + REAL_SECRET
	assert header.lower() not in hd, hd
	rec = r.px.wait_audit(mode="intercept", method="GET")[-1]
	assert rec.get("reason") != "no phantom: sent without a credential"


@pytest.mark.parametrize("where", ["header", "query"])
def test_intercept_phantom_where_keyhole_does_not_read_is_not_sent(route,
    tls_upstream, where):
	"""A phantom in a header keyhole does not read, or in the query,
	would reach the host as it is: refused with 401 saying where keyhole
	looks, audited, nothing sent."""
	r = route(tls_upstream)
	host = "api.test:%d" % tls_upstream.port
	path, hdrs = "/p", []
	if where == "header":
		hdrs = [("X-Custom-Token", r.phantom)]
	else:
		path = "/p?access_token=" + r.phantom
	with tunnel(r.px, host) as ts:
		st, h, b = request(ts, "GET", path, host, hdrs)
	assert st == 401, b
	assert r.phantom.encode() not in b
	assert tls_upstream.requests == []
	rec = r.px.wait_audit(mode="intercept", method="GET")[-1]
	assert rec["status"] == 401, rec
	assert rec["reason"].startswith("phantom token of route 'svc' in a "
	    "place keyhole does not read: not sent"), rec
	assert r.phantom not in json.dumps(rec)


def test_intercept_other_routes_phantom_is_never_replaced(route,
    tls_upstream):
	r = route(tls_upstream, args=("--credential", "openai", "--resolve",
	    "api.openai.com:443:192.0.2.1"))
	host = "api.test:%d" % tls_upstream.port
	other = r.px.env["OPENAI_API_KEY"]
	with tunnel(r.px, host) as ts:
		st, h, b = request(ts, "GET", "/p", host,
		    [("Authorization", "Bearer " + other)])
	assert st == 401, b
	assert h.get("www-authenticate") == 'Basic realm="keyhole"', h
	assert tls_upstream.requests == []
	rec = r.px.wait_audit(mode="intercept", decision="deny")[-1]
	assert rec["reason"] == ("phantom token of route 'openai' sent to "
	    "api.test (route 'svc'): not replaced"), rec


def test_intercept_response_never_carries_the_secret(route, tls_upstream):
	"""The echo upstream reflects the headers it got: inside the tunnel
	the response is scrubbed as on the reverse path (SPEC 4.6 step 6)."""
	r = route(tls_upstream)
	host = "api.test:%d" % tls_upstream.port
	with tunnel(r.px, host) as ts:
		st, h, b = request(ts, "GET", "/echo", host, auth(r))
	assert st == 200, b
	assert REAL_SECRET.encode() not in b
	assert ("Bearer " + r.phantom).encode() in b
	assert header_dict(tls_upstream.requests[0])["authorization"] == \
	    "Bearer " + REAL_SECRET


def test_intercept_extra_host_basic_form_is_scrubbed(route, tls_upstream):
	import base64
	port = tls_upstream.port
	r = route(None, hosts=[{"host": "db.test:%d" % port,
	    "inject_mode": "basic_auth",
	    "credential_format": "x-access-token:{}"}],
	    args=("--resolve", "db.test:%d:127.0.0.1" % port))
	host = "db.test:%d" % port
	with tunnel(r.px, host) as ts:
		st, h, b = request(ts, "GET", "/x", host, [("Authorization",
		    _basic("x-access-token:" + r.phantom))])
	assert st == 200, b
	real = base64.b64encode(("x-access-token:" +
	    REAL_SECRET).encode()).decode()
	assert header_dict(tls_upstream.requests[0])["authorization"] == \
	    "Basic " + real
	assert real.encode() not in b and REAL_SECRET.encode() not in b


def test_intercept_with_operator_ca(route, tls_upstream, ca):
	"""--tls-ca CERT,KEY: leaves signed by the operator's CA, which the
	bundle names; a client trusting only that CA gets through."""
	r = route(tls_upstream, args=("--tls-ca", "%s,%s" % (
	    os.path.join(ca, "ca.pem"), os.path.join(ca, "ca.key"))))
	assert open(r.px.env["KEYHOLE_CA_CERT"]).read() == \
	    open(os.path.join(ca, "ca.pem")).read()
	host = "api.test:%d" % tls_upstream.port
	with tunnel(r.px, host, cafile=os.path.join(ca, "ca.pem")) as ts:
		st, h, b = request(ts, "GET", "/op", host, auth(r))
	assert st == 200, b


def test_intercept_profile_key_off_keeps_the_403(proxy, tmp_path):
	prof = tmp_path / "p.json"
	prof.write_text(json.dumps({"network": {"credentials": ["openai"],
	    "tls_intercept": "off"}}))
	px = proxy("--profile", str(prof), "--resolve",
	    "api.openai.com:443:192.0.2.1")
	assert "KEYHOLE_CA_BUNDLE" not in px.env
	s = socket.create_connection(("127.0.0.1", px.port),
	    timeout=SOCK_TIMEOUT)
	with s:
		s.sendall(b"CONNECT api.openai.com:443 HTTP/1.1\r\n%s\r\n" %
		    auth_header(px.token))
		st, _, _, _ = read_head(s)
	assert st == 403


@pytest.mark.parametrize("args,msg", [
    (("--tls-intercept", "bogus"), "invalid --tls-intercept 'bogus'"),
    (("--tls-ca", "only-one-file"), "invalid --tls-ca 'only-one-file'"),
    (("--tls-ca", "/nonexistent.pem,/k.pem"),
     "--tls-ca /nonexistent.pem: cannot read a PEM certificate")])
def test_intercept_bad_options_are_refused(keyhole, args, msg):
	from conftest import start_proxy_raw
	rc, out, err = start_proxy_raw(keyhole, ["proxy", "--credential",
	    "openai", "--resolve", "api.openai.com:443:192.0.2.1", *args])
	assert rc != 0
	assert msg in err, err


def test_intercept_ip_literal_of_an_extra_host_stays_403(route):
	r = route(None, upstream="https://api.test:1", tls=False,
	    hosts=[{"host": "db.test:4443", "inject_mode": "basic_auth",
	    "credential_format": "x-access-token:{}"}],
	    args=("--resolve", "api.test:1:192.0.2.1", "--resolve",
	    "db.test:4443:127.0.0.3"))
	s = socket.create_connection(("127.0.0.1", r.px.port),
	    timeout=SOCK_TIMEOUT)
	with s:
		s.sendall(b"CONNECT 127.0.0.3:4443 HTTP/1.1\r\n%s\r\n" %
		    auth_header(r.px.token))
		st, _, _, _ = read_head(s)
	assert st == 403
	assert r.px.wait_audit(decision="deny")[-1]["reason"] == \
	    CRED_REASON_CONNECT


def test_intercept_upstream_leg_goes_through_the_upstream_proxy(route,
    tls_upstream, corp_proxy):
	r = route(tls_upstream, args=("--upstream-proxy", "127.0.0.1:%d" %
	    corp_proxy.port))
	host = "api.test:%d" % tls_upstream.port
	with tunnel(r.px, host) as ts:
		st, h, b = request(ts, "GET", "/via", host, auth(r))
	assert st == 200, b
	assert any(l.startswith("CONNECT api.test:%d " % tls_upstream.port)
	    for l in corp_proxy.lines), corp_proxy.lines
	assert header_dict(tls_upstream.requests[0])["authorization"] == \
	    "Bearer " + REAL_SECRET


def test_intercept_is_503_while_the_secret_is_unavailable(route,
    tls_upstream, tmp_path):
	missing = tmp_path / "not-yet"
	r = route(tls_upstream, secret=None, source="file://%s" % missing)
	host = "api.test:%d" % tls_upstream.port
	with tunnel(r.px, host) as ts:
		st, h, b = request(ts, "GET", "/x", host, auth(r))
	assert st == 503, b
	assert json.loads(b) == {"error": "credential unavailable"}
	assert tls_upstream.requests == []


def test_intercept_streams_bodies_both_ways(route, tls_upstream):
	r = route(tls_upstream)
	host = "api.test:%d" % tls_upstream.port
	with tunnel(r.px, host) as ts:
		body = b"x" * 200000
		st, h, b = request(ts, "POST", "/up", host, auth(r), body)
		assert st == 200, b[:200]
		assert len(json.loads(b)["body"]) == len(body)
		# Chunked upload, then an SSE response on the same tunnel.
		ts.sendall(("POST /chunked HTTP/1.1\r\nHost: %s\r\nAuthorization: "
		    "Bearer %s\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello"
		    "\r\n0\r\n\r\n" % (host, r.phantom)).encode())
		st, rs, hh, bb, _ = read_response(ts)
		assert st == 200 and json.loads(bb)["body"] == "hello", bb
		st, h, b = request(ts, "GET", "/sse", host, auth(r))
		assert st == 200
		assert b.count(b"data: event") == 3, b


def test_intercept_websocket_relays_after_101(route, upgrade_upstream_tls):
	from conftest import recv_exact
	r = route(upgrade_upstream_tls)
	host = "api.test:%d" % upgrade_upstream_tls.port
	with tunnel(r.px, host) as ts:
		ts.sendall(("GET /ws HTTP/1.1\r\nHost: %s\r\nAuthorization: "
		    "Bearer %s\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
		    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
		    "Sec-WebSocket-Version: 13\r\n\r\n" % (host,
		    r.phantom)).encode())
		st, _, h, left = read_head(ts)
		assert st == 101, (st, h)
		ts.sendall(b"hello")
		got, left = recv_exact(ts, 5, left)
		assert got == b"hello"
		blob = bytes(range(256)) * 64
		ts.sendall(blob)
		got, left = recv_exact(ts, len(blob), left)
		assert got == blob
		# Idle past the moment a waiting connection's TLS buffers go,
		# then on both ways (a tunnel lets them go after each record).
		time.sleep(0.4)
		ts.sendall(b"again")
		got, left = recv_exact(ts, 5, left)
		assert got == b"again"
	assert "Bearer " + REAL_SECRET in upgrade_upstream_tls.heads[0]


def _plain(proxy, ca, up, *args):
	host = "db.test:%d" % up.port
	px = proxy("--allow-domain", host, "--resolve", "%s:127.0.0.1" %
	    host, "--upstream-ca", os.path.join(ca, "ca.pem"), *args)
	return px, host


def test_plain_host_with_endpoint_rules_is_intercepted(proxy, ca,
    tls_upstream):
	"""--allow-endpoint HOST:METHOD:PATH (HOST with a dot): the plain
	host's CONNECT is intercepted, its rules apply, and the client's own
	credentials go through untouched (no route, nothing injected)."""
	px, host = _plain(proxy, ca, tls_upstream, "--allow-endpoint",
	    "db.test:GET:/ok/**")
	with tunnel(px, host) as ts:
		st, h, b = request(ts, "GET", "/ok/1", host,
		    [("Authorization", "Bearer my-own")])
		assert st == 200, b
		st, h, b = request(ts, "GET", "/ok/2?q=1", host)
		assert st == 200, b
	with tunnel(px, host) as ts:
		st, h, b = request(ts, "POST", "/ok/1", host)
		assert st == 403, b
	# The answer names the flag and the profile key (SPEC 4.11).
	assert b"--allow-endpoint db.test:POST:/ok/1 (profile: " \
	    b"network.allow_endpoint)" in b, b
	with tunnel(px, host) as ts:
		st, h, b = request(ts, "GET", "/other", host)
		assert st == 403, b
	assert [q["path"] for q in tls_upstream.requests] == ["/ok/1",
	    "/ok/2?q=1"]
	assert header_dict(tls_upstream.requests[0])["authorization"] == \
	    "Bearer my-own"
	recs = px.wait_audit(mode="intercept", method="GET")
	assert any(r.get("path") == "/ok/2?q=REDACTED" for r in recs), recs


def test_all_mode_intercepts_every_allowed_host_and_audits(proxy, ca,
    tls_upstream):
	px, host = _plain(proxy, ca, tls_upstream, "--tls-intercept", "all")
	with tunnel(px, host) as ts:
		for p in ("/a", "/b"):
			st, h, b = request(ts, "GET", p, host)
			assert st == 200, b
	px.wait_audit(mode="intercept", path="/b")	# after the answer
	recs = px.wait_audit(mode="intercept", method="GET")
	assert [r["path"] for r in recs] == ["/a", "/b"], recs


def test_all_mode_exclude_tunnels_untouched(proxy, ca, tls_upstream):
	px, host = _plain(proxy, ca, tls_upstream, "--tls-intercept", "all",
	    "--tls-intercept-exclude", "db.test")
	# The upstream's own certificate: only a real tunnel passes this.
	with tunnel(px, host, cafile=os.path.join(ca, "ca.pem")) as ts:
		st, h, b = request(ts, "GET", "/direct", host)
	assert st == 200, b
	rec = px.wait_audit(mode="connect")[-1]
	assert rec["decision"] == "allow", rec


def test_profile_allow_endpoint_and_intercept_exclude(proxy, ca,
    tls_upstream, tmp_path):
	"""The profile keys network.allow_endpoint (plain host: intercepted,
	its rules apply) and network.tls_intercept_exclude (tunnelled untouched
	under all) work as their flags do."""
	host = "db.test:%d" % tls_upstream.port
	prof = tmp_path / "ep.json"
	prof.write_text(json.dumps({"network": {
	    "allow_domain": [host],
	    "allow_endpoint": ["db.test:GET:/ok/**"]}}))
	px, _ = _plain(proxy, ca, tls_upstream, "--profile", str(prof))
	with tunnel(px, host) as ts:
		st, h, b = request(ts, "GET", "/ok/1", host)
		assert st == 200, b
		st, h, b = request(ts, "DELETE", "/ok/1", host)
		assert st == 403, b
	assert [q["path"] for q in tls_upstream.requests] == ["/ok/1"]
	prof = tmp_path / "ex.json"
	prof.write_text(json.dumps({"network": {
	    "allow_domain": [host], "tls_intercept": "all",
	    "tls_intercept_exclude": ["db.test"]}}))
	px, _ = _plain(proxy, ca, tls_upstream, "--profile", str(prof))
	# The upstream's own certificate: only a real tunnel passes this.
	with tunnel(px, host, cafile=os.path.join(ca, "ca.pem")) as ts:
		st, h, b = request(ts, "GET", "/direct", host)
	assert st == 200, b
	rec = px.wait_audit(mode="connect")[-1]
	assert rec["decision"] == "allow", rec


def test_intercept_offers_no_session_resumption(route, tls_upstream):
	"""No session ticket, no cached session: a full handshake each time
	(a ticket costs every handshake; see intercept.c)."""
	r = route(tls_upstream)
	host = "api.test:%d" % tls_upstream.port
	with tunnel(r.px, host) as ts:
		assert ts.version() == "TLSv1.3"
		st, h, b = request(ts, "GET", "/t", host, auth(r))
		assert st == 200, b
		sess = ts.session
	assert sess is not None and not sess.has_ticket
	ctx = ssl.create_default_context(cafile=r.px.env["KEYHOLE_CA_BUNDLE"])
	ctx.maximum_version = ssl.TLSVersion.TLSv1_2
	with tunnel(r.px, host, alpn=None, ctx=ctx) as ts:
		st, h, b = request(ts, "GET", "/t", host, auth(r))
		assert st == 200, b
		assert not ts.session.has_ticket
	with tunnel(r.px, host) as ts:
		assert not ts.session_reused


def test_intercept_reuses_upstream_connections_per_route_only(proxy, ca,
    tls_upstream, tmp_path):
	"""Intercepted client connections one after the other reuse the
	route's pooled upstream connection (as nginx's keepalive pool does),
	and a pooled connection never serves another route: two routes on
	the same upstream address with different hosts and keys each keep
	their own connections, SNI, Host and credential."""
	port = tls_upstream.port
	path = write_profile(tmp_path, {
	    "svc": {"upstream": "https://api.test:%d" % port,
	    "credential_key": "env://SVC_KEY", "env_var": "SVC_API_KEY"},
	    "svc2": {"upstream": "https://db.test:%d" % port,
	    "credential_key": "env://SVC2_KEY", "env_var": "SVC2_API_KEY"}})
	px = proxy("--profile", path, "--upstream-ca",
	    os.path.join(ca, "ca.pem"), "--resolve",
	    "api.test:%d:127.0.0.1" % port, "--resolve",
	    "db.test:%d:127.0.0.1" % port,
	    env={"SVC_KEY": "real-key-one", "SVC2_KEY": "real-key-two"})
	want = {"api.test": ("SVC_API_KEY", "real-key-one"),
	    "db.test": ("SVC2_API_KEY", "real-key-two")}
	order = ["api.test", "db.test", "api.test", "db.test", "api.test",
	    "db.test"]
	for i, name in enumerate(order):
		authority = "%s:%d" % (name, port)
		with tunnel(px, authority) as ts:
			st, h, b = request(ts, "GET", "/r/%d" % i, authority,
			    [("Authorization", "Bearer " +
			    px.env[want[name][0]])])
			assert st == 200, b
	got = tls_upstream.requests
	assert [q["path"] for q in got] == ["/r/%d" % i for i in range(6)]
	peers = {"api.test": set(), "db.test": set()}
	for q, name in zip(got, order):
		hd = header_dict(q)
		assert q["sni"] == name, q
		assert hd["host"] == "%s:%d" % (name, port), hd
		assert hd["authorization"] == "Bearer " + want[name][1], hd
		peers[name].add(q["peer"])
	assert not peers["api.test"] & peers["db.test"], peers
	# Three client connections each, one upstream connection each.
	assert len(peers["api.test"]) == 1, peers
	assert len(peers["db.test"]) == 1, peers


def test_intercept_expect_100_continue(route, tls_upstream):
	"""Expect: 100-continue inside the tunnel: 100 comes only once the
	request passed the route's checks, then the body goes up; a request
	the endpoint rules refuse gets its 403 and no 100."""
	r = route(tls_upstream, endpoint_rules=[{"method": "POST",
	    "path": "/exp"}])
	host = "api.test:%d" % tls_upstream.port
	body = b"expected body"
	with tunnel(r.px, host) as ts:
		ts.sendall(("POST /exp HTTP/1.1\r\nHost: %s\r\nAuthorization: "
		    "Bearer %s\r\nExpect: 100-continue\r\nContent-Length: %d"
		    "\r\n\r\n" % (host, r.phantom, len(body))).encode())
		st, _, _, left = read_head(ts, timeout=3)
		assert st == 100, st
		ts.sendall(body)
		st, _, _, out, _ = read_response(ts, buf=left)
	assert st == 200, out
	assert json.loads(out)["body"] == body.decode()
	assert tls_upstream.requests[0]["body"] == body
	assert header_dict(tls_upstream.requests[0])["authorization"] == \
	    "Bearer " + REAL_SECRET
	with tunnel(r.px, host) as ts:
		ts.sendall(("POST /other HTTP/1.1\r\nHost: %s\r\nAuthorization: "
		    "Bearer %s\r\nExpect: 100-continue\r\nContent-Length: 5"
		    "\r\n\r\n" % (host, r.phantom)).encode())
		st, _, _, out, _ = read_response(ts, timeout=3)
	assert st == 403, (st, out)
	assert len(tls_upstream.requests) == 1


def test_intercept_big_answer_to_a_slow_reader_arrives_whole(route,
    tls_upstream):
	"""Records are written to the client's socket at once; when it is
	full libevent takes over and hands back once drained: a reader that
	stalls gets every byte, and the tunnel goes on."""
	r = route(tls_upstream)
	host = "api.test:%d" % tls_upstream.port
	with tunnel(r.px, host, alpn=None, rcvbuf=32768) as ts:
		body = b"y" * 3000000
		ts.sendall(("POST /big HTTP/1.1\r\nHost: %s\r\nAuthorization: "
		    "Bearer %s\r\nContent-Length: %d\r\n\r\n" % (host,
		    r.phantom, len(body))).encode() + body)
		time.sleep(0.5)		# the answer fills the socket meanwhile
		st, rs, h, b, _ = read_response(ts)
		assert st == 200, b[:200]
		assert json.loads(b)["body"] == body.decode()
		st, h, b = request(ts, "GET", "/after", host, auth(r))
		assert st == 200, b
		assert json.loads(b)["path"] == "/after"


class _TlsUpstream:
	"""A TLS listener on 127.0.0.1 with the test CA's server certificate;
	subclasses serve it in _serve (started on a thread)."""

	def __init__(self, ca, backlog):
		self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
		self.ctx.load_cert_chain(os.path.join(ca, "server.pem"),
		    os.path.join(ca, "server.key"))
		self.sock = socket.socket()
		self.sock.bind(("127.0.0.1", 0))
		self.sock.listen(backlog)
		self.port = self.sock.getsockname()[1]
		threading.Thread(target=self._serve, daemon=True).start()


class _NginxShapedUpstream(_TlsUpstream):
	"""TLS server answering each request as nginx does: the head and
	the body in a TLS record each, sent together; on 127.0.0.1."""

	def __init__(self, ca, body):
		self.body = body
		super().__init__(ca, 8)

	def _serve(self):
		while True:
			try:
				s, _ = self.sock.accept()
			except OSError:
				return
			threading.Thread(target=self._conn, args=(s,),
			    daemon=True).start()

	def _conn(self, s):
		try:
			s.settimeout(SOCK_TIMEOUT)
			ts = self.ctx.wrap_socket(s, server_side=True)
			buf = b""
			while True:
				while b"\r\n\r\n" not in buf:
					d = ts.recv(4096)
					if not d:
						return
					buf += d
				buf = buf.split(b"\r\n\r\n", 1)[1]
				ts.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
				ts.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: "
				    b"application/json\r\nContent-Length: %d\r\n"
				    b"\r\n" % len(self.body))
				ts.sendall(self.body)
				ts.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)
		except OSError:
			pass
		finally:
			s.close()

	def close(self):
		self.sock.close()


@pytest.mark.parametrize("n", [11, 2000])
def test_intercept_small_response_is_one_tls_record(route, ca, n):
	"""A head and a small body that arrive together (here as two records
	from the upstream, as nginx sends them) go to the client as one TLS
	record: not one each, two seals for us and two reads for the client
	(bench/intercept_rate: 4 reads a request instead of nginx's 2)."""
	up = _NginxShapedUpstream(ca, b"z" * n)
	try:
		r = route(up)
		host = "api.test:%d" % up.port
		seen = []

		def trace(conn, direction, version, content_type, msg_type,
		    data):
			if direction == "read" and \
			    content_type == ssl._TLSContentType.HEADER:
				seen.append(data[0])

		ctx = ssl.create_default_context(
		    cafile=r.px.env["KEYHOLE_CA_BUNDLE"])
		ctx._msg_callback = trace
		with tunnel(r.px, host, alpn=None, ctx=ctx) as ts:
			for i in range(3):
				del seen[:]
				st, h, b = request(ts, "GET", "/one/%d" % i, host,
				    auth(r))
				assert st == 200, b
				assert len(b) == n
				assert seen == [23], seen
	finally:
		up.close()


class _FloodUpstream(_TlsUpstream):
	"""TLS server answering one request with a body of `size` bytes sent
	as fast as the connection takes it; .sent counts what went out."""

	def __init__(self, ca, size):
		self.size = size
		self.sent = 0
		super().__init__(ca, 4)

	def _serve(self):
		try:
			s, _ = self.sock.accept()
			s.settimeout(10)
			ts = self.ctx.wrap_socket(s, server_side=True)
			buf = b""
			while b"\r\n\r\n" not in buf:
				buf += ts.recv(4096)
			ts.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n"
			    b"\r\n" % self.size)
			block = b"f" * 65536
			while self.sent < self.size:
				self.sent += ts.send(block)
		except OSError:
			pass

	def close(self):
		self.sock.close()


def test_intercept_download_to_a_stalled_client_is_bounded(route, ca):
	"""An answer larger than memory should hold, to a client that stops
	reading: keyhole stops reading the upstream (which gets less than 24
	MiB out; 225 MiB before) instead of turning it all into TLS records
	for the client.  The RSS bound is loose: the sanitizer build keeps
	freed blocks in quarantine, and every record is a fresh buffer."""
	from hardening_fixtures import vm_kb
	up = _FloodUpstream(ca, 256 * 1024 * 1024)
	try:
		r = route(up)
		host = "api.test:%d" % up.port
		with tunnel(r.px, host) as ts:
			rss0 = vm_kb(r.px.proc.pid, "VmRSS")
			ts.sendall(("GET /big HTTP/1.1\r\nHost: %s\r\n"
			    "Authorization: Bearer %s\r\n\r\n" % (host,
			    r.phantom)).encode())
			time.sleep(2)		# not reading
			grew = vm_kb(r.px.proc.pid, "VmRSS") - rss0
			assert up.sent < 24 * 1024 * 1024, up.sent
			assert grew < 64 * 1024, "VmRSS grew %d kB" % grew
			got = 0
			ts.settimeout(SOCK_TIMEOUT)
			while got < 4 * 1024 * 1024:	# and it flows again
				got += len(ts.recv(65536))
	finally:
		up.close()


class _SplitTls:
	"""TLS over a tunnel through memory BIOs, so that a record can be put
	on the wire in pieces (an ssl socket writes each record whole)."""

	def __init__(self, px, authority):
		s = socket.socket()
		s.settimeout(SOCK_TIMEOUT)
		s.connect(("127.0.0.1", px.port))
		s.sendall(b"CONNECT %s HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (
		    authority.encode(), authority.encode(), auth_header(px.token)))
		st, _, _, rest = read_head(s)
		assert st == 200 and rest == b"", st
		ctx = ssl.create_default_context(
		    cafile=px.env["KEYHOLE_CA_BUNDLE"])
		ctx.set_alpn_protocols(["http/1.1"])
		self.sock, self.inc, self.out = s, ssl.MemoryBIO(), ssl.MemoryBIO()
		self.tls = ctx.wrap_bio(self.inc, self.out,
		    server_hostname=authority.rsplit(":", 1)[0])
		while True:
			try:
				self.tls.do_handshake()
				break
			except ssl.SSLWantReadError:
				self._flush()
				self._fill()
		self._flush()

	def _flush(self):
		data = self.out.read()
		if data:
			self.sock.sendall(data)

	def _fill(self):
		data = self.sock.recv(65536)
		assert data, "proxy closed the tunnel"
		self.inc.write(data)

	def send(self, data, split=None, pause=0.0):
		"""Seal data; put the bytes on the wire, cut after split bytes
		with a pause there."""
		self.tls.write(data)
		wire = self.out.read()
		if split is None:
			self.sock.sendall(wire)
			return
		self.sock.sendall(wire[:split])
		time.sleep(pause)
		self.sock.sendall(wire[split:])

	def settimeout(self, t):
		self.sock.settimeout(t)

	def recv(self, n):
		"""Plaintext, as a socket's recv (read_response reads with it)."""
		while True:
			try:
				return self.tls.read(n)
			except ssl.SSLWantReadError:
				self._fill()

	def response(self):
		st, _, _, body, rest = read_response(self)
		assert rest == b""
		return st, body

	def close(self):
		self.sock.close()


def test_intercept_idle_tunnels_let_go_of_tls_buffers_and_go_on(route,
    tls_upstream):
	"""A tunnel waiting for its next request gives its TLS record buffers
	back after a moment (memory per idle connection) and gets them again
	with the next record: also when that record arrives in pieces around
	the moment (a half record is kept), when a tunnel closes while waiting
	(before and after), and for the requests of other tunnels meanwhile."""
	r = route(tls_upstream)
	host = "api.test:%d" % tls_upstream.port
	req = ("GET /idle HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s"
	    "\r\n\r\n" % (host, r.phantom)).encode()
	a, b = tunnel(r.px, host), tunnel(r.px, host)
	split = _SplitTls(r.px, host)
	try:
		for t in (a, b):
			assert request(t, "GET", "/one", host, auth(r))[0] == 200
		split.send(req)
		assert split.response()[0] == 200
		b.close()		# waiting, its buffers not yet gone
		time.sleep(0.5)		# the others' are gone now
		st, _, body = request(a, "GET", "/two", host, auth(r))
		assert st == 200 and json.loads(body)["path"] == "/two"
		# Half a record arrives, the buffers' moment passes, the rest.
		split.send(req, split=10, pause=0.5)
		assert split.response()[0] == 200
		split.send(req, split=len(req) // 2, pause=0.05)
		assert split.response()[0] == 200
		time.sleep(0.5)
		a.close()		# closed after its buffers went
		c = tunnel(r.px, host)
		with c:
			assert request(c, "GET", "/three", host, auth(r))[0] == 200
	finally:
		split.close()
	r.px.wait_audit(mode="intercept", path="/three")
	recs = r.px.wait_audit(mode="intercept", path="/idle")
	assert len(recs) == 3 and all(x["status"] == 200 for x in recs), recs
	assert len(tls_upstream.requests) == 7
