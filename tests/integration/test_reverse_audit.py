"""Credential routes and secrecy (SPEC 4.8): the audit path has query
values and url_path tokens redacted, and no real secret, phantom token or
proxy token reaches stdout, stderr or the audit file, even at -vv.  The
`route` fixture checks the real secret at teardown; conftest's `proxy`
checks the tokens."""

import urllib.parse

import pytest

from reverse_fixtures import (REAL_SECRET, SERVICE, ask, assert_json_error,
    endpoint_denied,
    route)

QUERY = "?token=hunter2&code=s3cr3t&flag"


def audit_for(r, status):
	recs = r.px.wait_audit(mode="reverse", status=status)
	rec = recs[-1]
	assert rec["service"] in (SERVICE, "nope"), rec
	return rec


@pytest.mark.parametrize("path,status,want", [
    ("/ok" + QUERY, 200, "/ok?token=REDACTED&code=REDACTED&flag"),
    ("/no" + QUERY, 401, "/no?token=REDACTED&code=REDACTED&flag"),
    ("/denied" + QUERY, 403, "/denied?token=REDACTED&code=REDACTED&flag"),
])
def test_reverse_audit_redacts_query_values(route, tls_upstream, path,
    status, want):
	r = route(tls_upstream, endpoint_rules=[
	    {"method": "*", "path": "/ok"}, {"method": "*", "path": "/no"}],
	    args=("-v",))
	hdrs = [] if status == 401 else \
	    [("Authorization", "Bearer " + r.phantom)]
	st, _, _, body = r.get(path, headers=hdrs)
	assert st == status, body
	rec = audit_for(r, status)
	assert rec["path"] == want, rec
	text = r.px.audit_text() + r.px.stderr()
	assert "hunter2" not in text and "s3cr3t" not in text


def test_reverse_audit_redacts_query_of_bad_path(route, tls_upstream):
	r = route(tls_upstream)
	st, _, h, body = r.get("/a/../b?token=hunter2")
	assert_json_error(st, h, body, 400)
	rec = audit_for(r, 400)
	assert "hunter2" not in r.px.audit_text(), rec


def test_reverse_audit_redacts_query_of_unknown_service(route,
    tls_upstream):
	r = route(tls_upstream)
	st, _, h, body = ask(r.px, "GET", "/nope/x?token=hunter2")
	assert_json_error(st, h, body, 404)
	rec = audit_for(r, 404)
	assert rec["path"] == "/x?token=REDACTED", rec


def test_reverse_audit_redacts_url_path_token_on_deny(route,
    tls_upstream):
	r = route(tls_upstream, inject_mode="url_path", path_pattern="/bot{}/",
	    endpoint_rules=[{"method": "GET", "path": "/*/getMe"}])
	st, _, h, body = r.get("/bot%s/sendMessage" % r.phantom, headers=[])
	# the phantom is redacted in the answer too
	assert_json_error(st, h, body, 403,
	    endpoint_denied("GET", "/botREDACTED/sendMessage"))
	rec = audit_for(r, 403)
	assert rec["path"] == "/botREDACTED/sendMessage", rec
	st, _, _, body = r.get("/bot%s/getMe" % r.phantom, headers=[])
	assert st == 200, body
	assert audit_for(r, 200)["path"] == "/botREDACTED/getMe"


def test_reverse_query_param_secret_not_logged_at_debug(route,
    tls_upstream):
	r = route(tls_upstream, inject_mode="query_param",
	    query_param_name="key", args=("-vv",))
	st, _, _, body = r.get("/d?key=%s&x=1" % r.phantom, headers=[])
	assert st == 200, body
	assert urllib.parse.quote(REAL_SECRET, safe="") in \
	    tls_upstream.requests[0]["path"]
	assert audit_for(r, 200)["path"] == "/d?key=REDACTED&x=REDACTED"


def test_reverse_url_path_secret_not_logged_at_debug(route, tls_upstream):
	r = route(tls_upstream, inject_mode="url_path", path_pattern="/bot{}/",
	    args=("-vv",))
	st, _, _, body = r.get("/bot%s/getMe" % r.phantom, headers=[])
	assert st == 200, body


def test_reverse_secret_not_in_error_bodies(route, tls_upstream):
	"""Refusals after the phantom check (here a 502 from a bad
	certificate) name neither the secret nor the phantom."""
	r = route(tls_upstream, ca_arg=False, args=("-vv",))
	st, _, h, body = r.get("/x?key=abc")
	assert_json_error(st, h, body, 502)
	assert REAL_SECRET.encode() not in body
	assert r.phantom.encode() not in body


def test_reverse_verbose_line_for_each_decision(route, tls_upstream):
	"""-v prints one line per decision; the service and the upstream
	must read as separate words (not "/svcapi.test:PORT/fine")."""
	r = route(tls_upstream, args=("-v",))
	assert r.get("/fine?k=v")[0] == 200
	assert r.get("/nope", headers=[])[0] == 401
	r.px.wait_stderr("/nope")
	lines = [l for l in r.px.stderr().splitlines()
	    if "ALLOW" in l or "DENY" in l]
	assert len(lines) == 2, lines
	assert "ALLOW GET" in lines[0] and " 200" in lines[0], lines
	assert "k=REDACTED" in lines[0], lines
	assert "DENY GET" in lines[1] and " 401" in lines[1], lines
	assert "missing or wrong phantom token" in lines[1], lines
	for l in lines:
		assert "/svcapi.test" not in l, l
		assert r.phantom not in l
