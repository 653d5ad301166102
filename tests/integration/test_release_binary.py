"""The release binary (build/keyhole), not the sanitizer build the other
tests run: it links OpenSSL statically with --wrap=OPENSSL_cpuid_setup
(src/proxy/cpuid.c), so OpenSSL's CPU probe no longer runs before main
but at OpenSSL's first use.  These tests make sure that first use still
works: a TLS interception through the release proxy, and a sandboxed
run, which never touches OpenSSL."""

import json
import os
import subprocess

import pytest

from conftest import REPO
from reverse_fixtures import REAL_SECRET, header_dict, route  # noqa: F401
from test_intercept import auth, request, tunnel

RELEASE = os.path.join(REPO, "build", "keyhole")


@pytest.fixture(scope="module")
def keyhole():
	if not (os.path.isfile(RELEASE) and os.access(RELEASE, os.X_OK)):
		pytest.fail("release binary %s not built (make build/keyhole; "
		    "make integration builds it)" % RELEASE, pytrace=False)
	return RELEASE


def test_release_binary_intercepts_tls_at_first_use(route, tls_upstream):
	r = route(tls_upstream)
	host = "api.test:%d" % tls_upstream.port
	with tunnel(r.px, host) as ts:
		for i in range(2):
			st, h, b = request(ts, "GET", "/r/%d" % i, host, auth(r))
			assert st == 200, b
			assert json.loads(b)["path"] == "/r/%d" % i
	assert len(tls_upstream.requests) == 2
	hd = header_dict(tls_upstream.requests[0])
	assert hd["authorization"] == "Bearer " + REAL_SECRET


def test_release_binary_runs_a_sandboxed_command(keyhole, tmp_path):
	p = subprocess.run([keyhole, "run", "-s", "--allow-cwd", "--", "sh",
	    "-c", "echo ok > out; cat out; cat /etc/shadow"], cwd=str(tmp_path),
	    capture_output=True, timeout=30)
	assert p.stdout == b"ok\n", p
	assert p.returncode != 0
	assert b"Permission denied" in p.stderr, p.stderr
