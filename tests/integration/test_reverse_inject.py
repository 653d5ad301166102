"""Credential routes: the real secret goes in, the client's credentials
stay out (SPEC 4.6 steps 3 and 5, SPEC 5 inject modes)."""

import base64
import json
import urllib.parse

import pytest

from conftest import basic_auth
from reverse_fixtures import (REAL_SECRET, SERVICE, ask, header_dict,
    route, upstream_headers)

ENC_SECRET = urllib.parse.quote(REAL_SECRET, safe="")


def only_request(r):
	assert len(r.up.requests) == 1, r.up.requests
	return r.up.requests[0]


def assert_allowed(r, path, status=200):
	rec = r.px.wait_audit(mode="reverse", decision="allow")[-1]
	assert rec["service"] == SERVICE, rec
	assert rec["status"] == status, rec
	assert rec["path"] == path, rec
	return rec


def test_reverse_injects_secret_and_strips_client_credentials(route,
    tls_upstream):
	r = route(tls_upstream, args=("-vv",))
	st, _, h, body = r.get("/x/y?q=1", headers=[
	    ("X-First", "1"),
	    ("Authorization", "Bearer " + r.phantom),
	    ("x-api-key", "client-key"),
	    ("X-Middle", "2"),
	    ("x-goog-api-key", "client-goog"),
	    ("PRIVATE-TOKEN", "client-private"),
	    ("Proxy-Authorization", basic_auth(r.px.token)),
	    ("Proxy-Connection", "keep-alive"),
	    ("X-Last", "3")])
	assert st == 200, body
	got = json.loads(body)
	assert got["path"] == "/x/y?q=1"
	req = only_request(r)
	hs = upstream_headers(req)
	names = [k for k, _ in hs]
	assert ("authorization", "Bearer " + REAL_SECRET) in hs, hs
	assert names.count("authorization") == 1, hs
	for gone in ("x-api-key", "x-goog-api-key", "private-token",
	    "proxy-authorization", "proxy-connection"):
		assert gone not in names, hs
	assert [v for k, v in hs if k == "host"] == \
	    ["api.test:%d" % tls_upstream.port], hs
	mine = [(k, v) for k, v in hs if k.startswith("x-")]
	assert mine == [("x-first", "1"), ("x-middle", "2"),
	    ("x-last", "3")], hs
	rec = assert_allowed(r, "/x/y?q=REDACTED")
	assert rec["host"] == "api.test" and rec["port"] == tls_upstream.port
	assert rec["method"] == "GET"


def test_reverse_prepends_upstream_base_path(route, tls_upstream):
	r = route(tls_upstream,
	    upstream="https://api.test:%d/v1" % tls_upstream.port)
	st, _, _, body = r.get("/models")
	assert st == 200, body
	assert only_request(r)["path"] == "/v1/models"
	assert_allowed(r, "/models")


def test_reverse_drops_headers_named_in_connection(route, tls_upstream):
	r = route(tls_upstream)
	st, _, _, body = r.get("/h", headers=[
	    ("Authorization", "Bearer " + r.phantom),
	    ("Connection", "keep-alive, X-Hop"), ("X-Hop", "1"),
	    ("Keep-Alive", "timeout=5"), ("TE", "trailers"),
	    ("X-Keep", "2")])
	assert st == 200, body
	h = header_dict(only_request(r))
	assert "x-hop" not in h and "keep-alive" not in h and "te" not in h, h
	assert h.get("x-keep") == "2", h


@pytest.mark.parametrize("form", ["Bearer {}", "bearer {}", "Bearer  {}",
    "{}", "token {}", "TOKEN {}"])
def test_reverse_token_format_route_accepts_phantom_forms(route,
    tls_upstream, form):
	r = route(tls_upstream, credential_format="token {}")
	st, _, _, body = r.get("/user", headers=[
	    ("Authorization", form.format(r.phantom))])
	assert st == 200, body
	h = header_dict(only_request(r))
	assert h.get("authorization") == "token " + REAL_SECRET, h
	assert_allowed(r, "/user")


def test_reverse_x_api_key_route(route, tls_upstream):
	r = route(tls_upstream, inject_header="x-api-key",
	    credential_format="{}")
	st, _, _, body = r.get("/v1/messages", method="POST",
	    body=b'{"a":1}', headers=[("x-api-key", r.phantom),
	    ("Authorization", "Bearer client-own"),
	    ("Content-Type", "application/json")])
	assert st == 200, body
	req = only_request(r)
	hs = upstream_headers(req)
	assert [v for k, v in hs if k == "x-api-key"] == [REAL_SECRET], hs
	assert "authorization" not in dict(hs), hs
	assert req["body"] == b'{"a":1}'
	assert_allowed(r, "/v1/messages")


def test_reverse_x_api_key_route_wants_phantom_in_that_header(route,
    tls_upstream):
	r = route(tls_upstream, inject_header="x-api-key",
	    credential_format="{}")
	st, _, _, body = r.get("/v1/messages", headers=[
	    ("Authorization", "Bearer " + r.phantom)])
	assert st == 401, body
	assert tls_upstream.requests == []


def test_reverse_query_param_mode(route, tls_upstream):
	r = route(tls_upstream, inject_mode="query_param",
	    query_param_name="key")
	st, _, _, body = r.get("/data?a=1&key=%s&b=x%%20y" % r.phantom,
	    headers=[("Authorization", "Bearer client-own")])
	assert st == 200, body
	req = only_request(r)
	assert req["path"] == "/data?a=1&key=%s&b=x%%20y" % ENC_SECRET, \
	    req["path"]
	assert "authorization" not in header_dict(req)
	assert_allowed(r, "/data?a=REDACTED&key=REDACTED&b=REDACTED")


def test_reverse_query_param_every_occurrence_is_replaced(route,
    tls_upstream):
	r = route(tls_upstream, inject_mode="query_param",
	    query_param_name="key")
	st, _, _, body = r.get("/d?key=%s&x=1&key=other" % r.phantom,
	    headers=[])
	assert st == 200, body
	assert only_request(r)["path"] == "/d?key=%s&x=1&key=%s" % (
	    ENC_SECRET, ENC_SECRET)


def test_reverse_query_param_phantom_may_be_percent_encoded(route,
    tls_upstream):
	r = route(tls_upstream, inject_mode="query_param",
	    query_param_name="key")
	enc = "".join("%%%02x" % ord(c) for c in r.phantom[:8]) + \
	    r.phantom[8:]
	st, _, _, body = r.get("/data?key=" + enc, headers=[])
	assert st == 200, body
	assert only_request(r)["path"] == "/data?key=" + ENC_SECRET


def test_reverse_query_param_without_phantom_is_401(route, tls_upstream):
	r = route(tls_upstream, inject_mode="query_param",
	    query_param_name="key")
	for path in ("/data", "/data?other=1",
	    "/data?KEY=" + r.phantom, "/data?key=" + "0" * 64):
		st, _, _, body = r.get(path, headers=[
		    ("Authorization", "Bearer " + r.phantom)])
		assert st == 401, (path, body)
	assert tls_upstream.requests == []


def test_reverse_url_path_mode(route, tls_upstream):
	r = route(tls_upstream, inject_mode="url_path", path_pattern="/bot{}/")
	st, _, _, body = r.get("/bot%s/getMe?x=1" % r.phantom, headers=[])
	assert st == 200, body
	assert only_request(r)["path"] == "/bot%s/getMe?x=1" % ENC_SECRET
	assert_allowed(r, "/botREDACTED/getMe?x=REDACTED")


def test_reverse_url_path_mode_with_replacement(route, tls_upstream):
	r = route(tls_upstream, inject_mode="url_path",
	    path_pattern="/api/v1/{}/", path_replacement="/v2/bot/{}/")
	st, _, _, body = r.get("/api/v1/%s/chat" % r.phantom, headers=[])
	assert st == 200, body
	assert only_request(r)["path"] == "/v2/bot/%s/chat" % ENC_SECRET


def test_reverse_url_path_wrong_or_missing_token_is_401(route,
    tls_upstream):
	r = route(tls_upstream, inject_mode="url_path", path_pattern="/bot{}/")
	for path in ("/bot%s/getMe" % ("0" * 64), "/getMe", "/bot/getMe"):
		st, _, h, body = r.get(path, headers=[
		    ("Authorization", "Bearer " + r.phantom)])
		assert st == 401, (path, body)
	assert tls_upstream.requests == []
	recs = r.px.wait_audit(mode="reverse", decision="deny", status=401)
	assert recs[0]["path"] == "/botREDACTED/getMe", recs[0]


def test_reverse_url_path_misplaced_phantom_is_401_and_not_logged(route,
    tls_upstream):
	"""The pattern is anchored: "/x/bot<T>/" does not match "/bot{}/".
	The phantom in such a path must still not reach the audit log
	(SPEC 4.8: no phantom token in an audit line)."""
	r = route(tls_upstream, inject_mode="url_path", path_pattern="/bot{}/")
	st, _, h, body = r.get("/x/bot%s/getMe" % r.phantom, headers=[])
	assert st == 401, body
	assert tls_upstream.requests == []
	rec = r.px.wait_audit(mode="reverse", decision="deny")[-1]
	assert r.phantom not in rec["path"], rec


def test_reverse_basic_auth_mode(route, tls_upstream):
	secret = "alice:s3cr3t-pass"
	r = route(tls_upstream, secret=secret, inject_mode="basic_auth")
	st, _, _, body = r.get("/repo", headers=[
	    ("Authorization", "Bearer " + r.phantom)])
	assert st == 200, body
	h = header_dict(only_request(r))
	assert h.get("authorization") == "Basic " + \
	    base64.b64encode(secret.encode()).decode(), h
	assert_allowed(r, "/repo")


def test_reverse_basic_auth_mode_accepts_raw_phantom(route, tls_upstream):
	r = route(tls_upstream, secret="bob:pw", inject_mode="basic_auth")
	st, _, _, body = r.get("/repo", headers=[("Authorization", r.phantom)])
	assert st == 200, body


def test_reverse_plain_http_loopback_upstream(route, http_upstream):
	r = route(http_upstream, tls=False)
	st, _, _, body = r.get("/plain")
	assert st == 200, body
	req = only_request(r)
	h = header_dict(req)
	assert h.get("authorization") == "Bearer " + REAL_SECRET
	assert h.get("host") == "127.0.0.1:%d" % http_upstream.port, h
	rec = assert_allowed(r, "/plain")
	assert rec["host"] == "127.0.0.1" and rec["port"] == http_upstream.port


def test_reverse_response_headers_and_status_are_relayed(route,
    tls_upstream):
	r = route(tls_upstream)
	st, _, h, body = r.get("/echo", method="PUT", body=b"payload")
	assert st == 200
	assert h.get("content-type") == "application/json"
	got = json.loads(body)
	assert got["method"] == "PUT" and got["body"] == "payload"


def test_reverse_builtin_openai_route_serves_phantom(proxy):
	px = proxy("--credential", "openai",
	    "--resolve", "api.openai.com:443:192.0.2.1",
	    env={"OPENAI_API_KEY": "sk-openai-real"})
	assert px.env["OPENAI_BASE_URL"] == \
	    "http://127.0.0.1:%d/openai" % px.port
	phantom = px.env["OPENAI_API_KEY"]
	assert phantom != "sk-openai-real" and phantom.startswith("sk-proj-")
	assert len(phantom) == 56
	assert phantom != px.token
	st, _, h, body = ask(px, "GET", "/openai/models",
	    [("Authorization", "Bearer " + "1" * 64)])
	assert st == 401, body
	rec = px.wait_audit(mode="reverse", decision="deny")[-1]
	assert rec["service"] == "openai" and rec["status"] == 401, rec
