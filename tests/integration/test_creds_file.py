"""file:// credential sources through a route (SPEC 5): a secret that is
not there yet gives 503, appears without a restart, and rotates."""

import os
import socket
import time

from conftest import read_response
from reverse_fixtures import (assert_json_error, header_dict, route,
    send_request)

# Files are re-checked at most once a second.
RECHECK = 1.15


def write(path, text):
	tmp = path + ".tmp"
	with open(tmp, "w") as f:
		f.write(text)
	os.replace(tmp, path)


def poll_status(r, want, timeout):
	"""Ask until the route answers `want` or timeout; the last answer."""
	deadline = time.monotonic() + timeout
	while True:
		ans = r.get("/x")
		if ans[0] == want or time.monotonic() >= deadline:
			return ans
		time.sleep(0.1)


def test_creds_file_missing_is_503_then_served_when_written(route,
    tls_upstream, tmp_path):
	path = str(tmp_path / "vault" / "svc-key")
	os.makedirs(os.path.dirname(path))
	r = route(tls_upstream, secret=None, source="file://" + path)
	r.add_secret("vault-secret-1")
	st, _, h, body = r.get("/x")
	assert_json_error(st, h, body, 503, "credential unavailable")
	rec = r.px.wait_audit(mode="reverse", decision="deny", status=503)[-1]
	assert rec["service"] == "svc", rec
	assert rec["reason"].startswith("credential unavailable"), rec
	assert tls_upstream.requests == []
	write(path, "vault-secret-1\n")
	st, _, h, body = poll_status(r, 200, RECHECK + 0.5)
	assert st == 200, body
	auth = header_dict(tls_upstream.requests[-1]).get("authorization")
	assert auth == "Bearer vault-secret-1", auth	# newline trimmed
	rec = r.px.wait_audit(mode="reverse", decision="allow")[-1]
	assert rec["status"] == 200, rec


def test_creds_file_rotation_uses_the_new_secret(route, tls_upstream,
    tmp_path):
	path = str(tmp_path / "svc-key")
	write(path, "old-secret-aaaa\n")
	r = route(tls_upstream, secret=None, source="file://" + path)
	r.add_secret("old-secret-aaaa")
	r.add_secret("new-secret-bbbb")
	st, _, _, body = r.get("/x")
	assert st == 200, body
	assert header_dict(tls_upstream.requests[-1])["authorization"] == \
	    "Bearer old-secret-aaaa"
	write(path, "new-secret-bbbb\n")
	deadline = time.monotonic() + RECHECK + 0.5
	seen = None
	while time.monotonic() < deadline:
		st, _, _, body = r.get("/x")
		assert st == 200, body
		seen = header_dict(tls_upstream.requests[-1])["authorization"]
		if seen == "Bearer new-secret-bbbb":
			break
		assert seen == "Bearer old-secret-aaaa", seen
		time.sleep(0.1)
	assert seen == "Bearer new-secret-bbbb", seen


def test_creds_file_rotation_on_a_kept_alive_connection(route,
    tls_upstream, tmp_path):
	"""A client connection (and the upstream one behind it) that stays
	open across the rotation gets the new secret too."""
	path = str(tmp_path / "svc-key")
	write(path, "ka-old-secret\n")
	r = route(tls_upstream, secret=None, source="file://" + path)
	r.add_secret("ka-old-secret")
	r.add_secret("ka-new-secret")
	s = socket.create_connection(("127.0.0.1", r.port), timeout=3)
	with s:
		send_request(s, "GET", "/svc/1",
		    [("Authorization", "Bearer " + r.phantom)])
		st, _, _, _, left = read_response(s)
		assert st == 200
		write(path, "ka-new-secret\n")
		time.sleep(RECHECK)
		send_request(s, "GET", "/svc/2",
		    [("Authorization", "Bearer " + r.phantom)])
		st, _, _, _, _ = read_response(s, buf=left)
		assert st == 200
	assert header_dict(tls_upstream.requests[-1])["authorization"] == \
	    "Bearer ka-new-secret"


def test_creds_file_deleted_secret_gives_503_or_keeps_last(route,
    tls_upstream, tmp_path):
	"""After the file disappears the route must not serve an empty or
	garbage credential: either 503 or the last good secret."""
	path = str(tmp_path / "svc-key")
	write(path, "gone-secret-cccc\n")
	r = route(tls_upstream, secret=None, source="file://" + path)
	r.add_secret("gone-secret-cccc")
	assert r.get("/x")[0] == 200
	os.unlink(path)
	time.sleep(RECHECK)
	st, _, h, body = r.get("/x")
	if st == 503:
		assert_json_error(st, h, body, 503, "credential unavailable")
	else:
		assert st == 200, body
		assert header_dict(tls_upstream.requests[-1])["authorization"] \
		    == "Bearer gone-secret-cccc"


def test_creds_file_empty_file_is_503(route, tls_upstream, tmp_path):
	path = str(tmp_path / "svc-key")
	write(path, "\n")
	r = route(tls_upstream, secret=None, source="file://" + path)
	st, _, h, body = r.get("/x")
	assert_json_error(st, h, body, 503, "credential unavailable")
	assert tls_upstream.requests == []
