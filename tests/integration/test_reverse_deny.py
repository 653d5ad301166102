"""Credential routes: every refusal is a JSON answer with an audit record
(SPEC 4.6 steps 1-5, 4.1 body limit)."""

import socket
import time

import pytest

from conftest import basic_auth, read_response
from reverse_fixtures import (SERVICE, ask, assert_json_error,
    endpoint_denied, header_dict, route, send_request)


def denied(r, code, error, reason=None, reason_prefix=None, service=SERVICE):
	rec = r.px.wait_audit(mode="reverse", decision="deny", status=code)[-1]
	assert rec["service"] == service, rec
	if reason is not None:
		assert rec["reason"] == reason, rec
	if reason_prefix is not None:
		assert (rec["reason"] or "").startswith(reason_prefix), rec
	return rec


# ---------------------------------------------------------------------------
# 401

@pytest.mark.parametrize("how", ["missing", "wrong", "proxy-token",
    "proxy-authorization", "prefix", "empty", "basic"])
def test_reverse_without_right_phantom_is_401(route, tls_upstream, how):
	r = route(tls_upstream)
	hdrs = {
	    "missing": [],
	    "wrong": [("Authorization", "Bearer " + "a" * 64)],
	    "proxy-token": [("Authorization", "Bearer " + r.px.token)],
	    "proxy-authorization": [("Proxy-Authorization",
	        basic_auth(r.px.token))],
	    "prefix": [("Authorization", "Bearer " + r.phantom[:63])],
	    "empty": [("Authorization", "Bearer ")],
	    "basic": [("Authorization", basic_auth(r.phantom))],
	}[how]
	st, _, h, body = r.get("/x", headers=hdrs)
	assert_json_error(st, h, body, 401, "Unauthorized")
	assert tls_upstream.requests == []
	denied(r, 401, "Unauthorized", reason="missing or wrong phantom token")


def test_reverse_first_inject_header_decides(route, tls_upstream):
	r = route(tls_upstream)
	st, _, h, body = r.get("/x", headers=[
	    ("Authorization", "Bearer " + "b" * 64),
	    ("Authorization", "Bearer " + r.phantom)])
	assert_json_error(st, h, body, 401, "Unauthorized")


def test_reverse_phantom_of_other_route_is_401(route, tls_upstream):
	r1 = route(tls_upstream)
	r2 = route(tls_upstream)
	assert r1.phantom != r2.phantom
	st, _, h, body = r1.get("/x", headers=[
	    ("Authorization", "Bearer " + r2.phantom)])
	assert_json_error(st, h, body, 401, "Unauthorized")


# ---------------------------------------------------------------------------
# 403 endpoint rules

RULES = [{"method": "GET", "path": "/repos/*/issues"},
    {"method": "post", "path": "/api/**/notes"},
    {"method": "*", "path": "/open/**"}]


@pytest.fixture
def ruled(route, tls_upstream):
	return route(tls_upstream, endpoint_rules=RULES)


@pytest.mark.parametrize("name", ["X-HTTP-Method-Override",
    "x-http-method", "X-METHOD-OVERRIDE"])
def test_reverse_method_override_headers_never_reach_upstream(route,
    tls_upstream, name):
	"""SPEC 3.2: a GET-only rule cannot be talked into a DELETE by an
	override header that the upstream would honour (Google's APIs do)."""
	r = route(tls_upstream, endpoint_rules=[{"method": "GET",
	    "path": "/v1/files/*"}])
	st, _, _, body = r.get("/v1/files/f1", headers=[
	    ("Authorization", "Bearer " + r.phantom), (name, "DELETE"),
	    ("X-Kept", "yes")])
	assert st == 200, body
	got = header_dict(tls_upstream.requests[-1])
	assert tls_upstream.requests[-1]["method"] == "GET"
	assert got.get("x-kept") == "yes", got
	for k in ("x-http-method-override", "x-http-method",
	    "x-method-override"):
		assert k not in got, got


@pytest.mark.parametrize("method,path", [
    ("GET", "/repos/a/issues"),
    ("GET", "/repos/a/issues/"),
    ("GET", "/repos/a/issues?state=open"),
    ("GET", "/repos/%61/issues"),
    ("POST", "/api/notes"),
    ("POST", "/api/x/notes"),
    ("POST", "/api/x/y/z/notes"),
    ("DELETE", "/open"),
    ("PUT", "/open/a/b/c"),
])
def test_reverse_endpoint_rule_allows(ruled, method, path):
	st, _, _, body = ruled.get(path, method=method)
	assert st == 200, (method, path, body)
	# What was matched is exactly what is sent.
	assert ruled.up.requests[-1]["path"] == path
	assert ruled.up.requests[-1]["method"] == method


@pytest.mark.parametrize("method,path", [
    ("GET", "/repos/a/b/issues"),		# * is exactly one segment
    ("GET", "/repos/issues"),		# ... not zero
    ("GET", "/repos//issues"),		# empty segments do not count
    ("POST", "/repos/a/issues"),		# method
    ("GET", "/api/notes"),
    ("POST", "/api/notes/x"),
    ("POST", "/apix/notes"),
    ("GET", "/openx"),
    ("GET", "/"),
    ("GET", "/repos/a/issues/1"),
])
def test_reverse_endpoint_rule_denies_with_403(ruled, method, path):
	st, _, h, body = ruled.get(path, method=method)
	assert_json_error(st, h, body, 403, endpoint_denied(method, path))
	assert ruled.up.requests == []
	rec = denied(ruled, 403, "Forbidden",
	    reason_prefix="endpoint denied: %s " % method)
	assert rec["method"] == method


def test_reverse_endpoint_rule_checked_before_phantom(ruled):
	st, _, h, body = ruled.get("/repos/a/b/issues", headers=[])
	assert_json_error(st, h, body, 403,
	    endpoint_denied("GET", "/repos/a/b/issues"))
	st, _, h, body = ruled.get("/repos/a/issues", headers=[])
	assert_json_error(st, h, body, 401, "Unauthorized")


def test_reverse_allow_endpoint_option(route, tls_upstream):
	r = route(tls_upstream, args=("--allow-endpoint",
	    "%s:GET:/v1/*" % SERVICE))
	st, _, _, body = r.get("/v1/models")
	assert st == 200, body
	st, _, h, body = r.get("/v1/models", method="POST")
	assert_json_error(st, h, body, 403, endpoint_denied("POST", "/v1/models"))
	st, _, h, body = r.get("/v2/models")
	assert_json_error(st, h, body, 403, endpoint_denied("GET", "/v2/models"))


# ---------------------------------------------------------------------------
# 400 path canonical form

BAD_PATHS = [
    "/a/../b", "/a/./b", "/a/..", "/..", "/a/%2e%2e/b", "/a/%2E%2e/b",
    "/a/.%2e/b", "/a/%2e/b", "/a%2fb", "/a%2Fb", "/a\\b", "/a%5cb",
    "/a%5Cb", "/a%00b", "/a%0ab", "/a%1fb", "/a%7fb", "/a%zzb", "/a%2",
    "/a%",
]


@pytest.mark.parametrize("path", BAD_PATHS)
def test_reverse_non_canonical_path_is_400(route, tls_upstream, path):
	r = route(tls_upstream)
	st, _, h, body = r.get(path)
	assert_json_error(st, h, body, 400, "Bad Request")
	assert tls_upstream.requests == []
	denied(r, 400, "Bad Request", reason_prefix="bad path: ")


def test_reverse_non_canonical_path_is_400_before_rules(route,
    tls_upstream):
	r = route(tls_upstream, endpoint_rules=[{"method": "GET",
	    "path": "/repos/*/issues/**"}])
	st, _, h, body = r.get("/repos/x/issues/../../../user/keys")
	assert_json_error(st, h, body, 400, "Bad Request")
	assert tls_upstream.requests == []


def test_reverse_encoded_bytes_in_query_are_data(route, tls_upstream):
	r = route(tls_upstream)
	path = "/a?x=%2e%2e&y=%2f&z=%5c"
	st, _, _, body = r.get(path)
	assert st == 200, body
	assert tls_upstream.requests[0]["path"] == path


@pytest.mark.parametrize("framing", [
    b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
    b"Content-Length: 5\r\nContent-Length: 6\r\n",
    b"Transfer-Encoding: gzip, chunked\r\nTransfer-Encoding: x\r\n",
])
def test_reverse_ambiguous_body_framing_is_400(route, tls_upstream,
    framing):
	r = route(tls_upstream)
	s = socket.create_connection(("127.0.0.1", r.port), timeout=3)
	with s:
		s.sendall(b"POST /svc/x HTTP/1.1\r\nHost: x\r\n"
		    b"Authorization: Bearer %s\r\n%s\r\n"
		    b"5\r\nhello\r\n0\r\n\r\n" % (r.phantom.encode(), framing))
		st, _, h, body, _ = read_response(s)
	assert st == 400, body
	assert tls_upstream.requests == []
	r.px.wait_audit(decision="deny", status=400)


@pytest.mark.parametrize("value", [b"a\x00b", b"a\rb", b"a\nX-B: c"])
def test_reverse_header_with_cr_lf_nul_is_400(route, tls_upstream, value):
	r = route(tls_upstream)
	s = socket.create_connection(("127.0.0.1", r.port), timeout=3)
	with s:
		s.sendall(b"GET /svc/x HTTP/1.1\r\nHost: x\r\n"
		    b"Authorization: Bearer %s\r\nX-A: %s\r\n\r\n"
		    % (r.phantom.encode(), value))
		st, _, h, body, _ = read_response(s)
	assert st == 400, body
	assert tls_upstream.requests == []
	r.px.wait_audit(decision="deny", status=400)


def test_reverse_head_level_400_on_route_target_is_json(route,
    tls_upstream):
	"""SPEC 4.6: error bodies of credential routes are JSON.  A head the
	parser refuses (here a NUL in a header) whose target names a route
	still gets {"error":...}, and its audit record says mode reverse."""
	r = route(tls_upstream)
	s = socket.create_connection(("127.0.0.1", r.port), timeout=3)
	with s:
		s.sendall(b"GET /svc/x HTTP/1.1\r\nHost: x\r\n"
		    b"Authorization: Bearer %s\r\nX-A: a\x00b\r\n\r\n"
		    % r.phantom.encode())
		st, _, h, body, _ = read_response(s)
	assert_json_error(st, h, body, 400)
	rec = r.px.wait_audit(decision="deny", status=400)[-1]
	assert rec["mode"] == "reverse", rec


# ---------------------------------------------------------------------------
# 404

@pytest.mark.parametrize("target", ["/nope/x", "/svcx/a", "/sv", "/"])
def test_reverse_unknown_service_is_404(route, tls_upstream, target):
	r = route(tls_upstream)
	st, _, h, body = ask(r.px, "GET", target,
	    [("Authorization", "Bearer " + r.phantom)])
	assert_json_error(st, h, body, 404, "Not Found")
	assert tls_upstream.requests == []
	rec = r.px.wait_audit(mode="reverse", decision="deny", status=404)[-1]
	assert rec["reason"] == "unknown service", rec


# ---------------------------------------------------------------------------
# 413

def test_reverse_content_length_over_max_body_is_413(route, tls_upstream):
	r = route(tls_upstream, args=("--max-body", "1000"))
	st, _, h, body = r.get("/up", method="POST", body=b"x" * 1001)
	assert_json_error(st, h, body, 413)
	assert tls_upstream.requests == []
	denied(r, 413, None, reason_prefix="request body over the limit")


def test_reverse_content_length_at_max_body_passes(route, tls_upstream):
	r = route(tls_upstream, args=("--max-body", "1000"))
	st, _, _, body = r.get("/up", method="POST", body=b"x" * 1000)
	assert st == 200, body
	assert tls_upstream.requests[0]["body"] == b"x" * 1000


def test_reverse_chunked_body_over_max_body_is_413(route, tls_upstream):
	r = route(tls_upstream, args=("--max-body", "1000"))
	s = socket.create_connection(("127.0.0.1", r.port), timeout=3)
	with s:
		send_request(s, "POST", "/svc/up", [
		    ("Authorization", "Bearer " + r.phantom),
		    ("Transfer-Encoding", "chunked")])
		for _ in range(3):
			s.sendall(b"258\r\n" + b"y" * 600 + b"\r\n")
		try:
			s.sendall(b"0\r\n\r\n")
		except OSError:
			pass
		st, _, h, body, _ = read_response(s)
	assert_json_error(st, h, body, 413)
	assert all(len(q["body"]) <= 1000 for q in tls_upstream.requests)
	denied(r, 413, None)


def test_reverse_chunked_body_over_max_body_while_streaming_is_413(route,
    tls_upstream):
	"""The same, with the upstream already connected when the body
	crosses the cap."""
	r = route(tls_upstream, args=("--max-body", "1000"))
	s = socket.create_connection(("127.0.0.1", r.port), timeout=3)
	with s:
		send_request(s, "POST", "/svc/up", [
		    ("Authorization", "Bearer " + r.phantom),
		    ("Transfer-Encoding", "chunked")])
		s.sendall(b"10\r\n" + b"y" * 16 + b"\r\n")
		time.sleep(0.3)
		try:
			for _ in range(3):
				s.sendall(b"258\r\n" + b"y" * 600 + b"\r\n")
			s.sendall(b"0\r\n\r\n")
		except OSError:
			pass
		st, _, h, body, _ = read_response(s)
	assert_json_error(st, h, body, 413)
	assert all(len(q["body"]) <= 1000 for q in tls_upstream.requests)
	denied(r, 413, None)


# ---------------------------------------------------------------------------
# 502

def test_reverse_upstream_down_is_502(route):
	r = route(None)
	st, _, h, body = r.get("/x")
	assert_json_error(st, h, body, 502, "Bad Gateway")
	rec = denied(r, 502, None, reason_prefix="upstream connect failed")
	assert rec["host"] == "api.test", rec


def test_reverse_plain_upstream_down_is_502(route):
	r = route(None, tls=False)
	st, _, h, body = r.get("/x")
	assert_json_error(st, h, body, 502, "Bad Gateway")
	denied(r, 502, None)


def test_reverse_untrusted_upstream_certificate_is_502(route, tls_upstream):
	r = route(tls_upstream, ca_arg=False)
	st, _, h, body = r.get("/x")
	assert_json_error(st, h, body, 502, "Bad Gateway")
	assert tls_upstream.requests == []
	rec = denied(r, 502, None, reason_prefix="upstream api.test")
	assert "certificate" in rec["reason"].lower() or \
	    "verif" in rec["reason"].lower(), rec


def test_reverse_upstream_name_mismatch_is_502(route, tls_upstream):
	port = tls_upstream.port
	r = route(tls_upstream, upstream="https://api.example:%d" % port,
	    args=("--resolve", "api.example:%d:127.0.0.1" % port))
	st, _, h, body = r.get("/x")
	assert_json_error(st, h, body, 502, "Bad Gateway")
	assert tls_upstream.requests == []
	denied(r, 502, None)


# ---------------------------------------------------------------------------
# 503

def test_reverse_missing_env_secret_is_503(route, tls_upstream):
	r = route(tls_upstream, secret=None)
	st, _, h, body = r.get("/x")
	assert_json_error(st, h, body, 503, "credential unavailable")
	assert tls_upstream.requests == []
	denied(r, 503, None, reason_prefix="credential unavailable")


def test_reverse_builtin_route_without_secret_is_503(proxy, tmp_path):
	# From a profile: named on the command line, an unset env:// source
	# stops keyhole instead (test_run_secrets.py).
	prof = tmp_path / "creds.json"
	prof.write_text('{"network": {"credentials": ["openai"]}}')
	px = proxy("--profile", str(prof),
	    "--resolve", "api.openai.com:443:192.0.2.1")
	phantom = px.env.get("OPENAI_API_KEY")
	assert phantom and phantom.startswith("sk-proj-"), px.env
	st, _, h, body = ask(px, "POST", "/openai/chat/completions",
	    [("Authorization", "Bearer " + phantom)], b"{}")
	assert_json_error(st, h, body, 503, "credential unavailable")
	rec = px.wait_audit(mode="reverse", decision="deny", status=503)[-1]
	assert rec["service"] == "openai", rec


def test_reverse_deny_keeps_or_closes_connection_cleanly(route,
    tls_upstream):
	"""A refusal either announces Connection: close and closes, or serves
	the next request on the same connection."""
	r = route(tls_upstream)
	s = socket.create_connection(("127.0.0.1", r.port), timeout=3)
	with s:
		send_request(s, "GET", "/svc/x", [])
		st, _, h, body, left = read_response(s)
		assert st == 401
		if h.get("connection", "").lower() == "close":
			s.settimeout(2)
			assert left + s.recv(100) == b""
			return
		send_request(s, "GET", "/svc/y",
		    [("Authorization", "Bearer " + r.phantom)])
		st, _, _, body, _ = read_response(s, buf=left)
		assert st == 200


def test_route_to_guarded_address_is_403_json_not_502(proxy, tmp_path):
	"""A route whose upstream is cloud metadata (always guarded) is a
	policy denial: 403 with a JSON reason naming the guard (SPEC 4.5)."""
	from reverse_fixtures import ask, assert_json_error, write_profile
	p = write_profile(tmp_path, {"meta": {
	    "upstream": "https://169.254.169.254",
	    "credential_key": "env://META_KEY", "env_var": "META_API_KEY"}})
	px = proxy("--profile", p, env={"META_KEY": "s3cret-meta"})
	st, rs, h, b = ask(px, "GET", "/meta/x", [("Authorization",
	    "Bearer " + px.env["META_API_KEY"])])
	doc = assert_json_error(st, h, b, 403)
	assert "address guard" in doc["error"], doc
	rec = px.wait_audit(mode="reverse", decision="deny")[-1]
	assert rec["status"] == 403 and "metadata" in rec["reason"], rec
