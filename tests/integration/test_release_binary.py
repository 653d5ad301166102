"""The release binary (build/keyhole), not the sanitizer build the other
tests run.  On x86_64 it leaves libssl and libcrypto to
build/keyhole-tls.so, loaded at the first call into them
(src/util/tlslib.c), and OpenSSL's CPU probe runs at OpenSSL's first use
(src/proxy/cpuid.c).  These tests make sure that first use still works (a
TLS interception through the release proxy), that a start which needs no
TLS never loads the library, and that a missing or unsafe library is an
error naming the file."""

import json
import os
import shutil
import subprocess

import pytest

from conftest import REPO
from reverse_fixtures import REAL_SECRET, header_dict, route  # noqa: F401
from test_intercept import auth, request, tunnel

RELEASE = os.path.join(REPO, "build", "keyhole")
TLSLIB = os.path.join(REPO, "build", "keyhole-tls.so")


@pytest.fixture(scope="module")
def keyhole():
	if not (os.path.isfile(RELEASE) and os.access(RELEASE, os.X_OK)):
		pytest.fail("release binary %s not built (make build/keyhole; "
		    "make integration builds it)" % RELEASE, pytrace=False)
	return RELEASE


def split():
	"""Whether this build keeps OpenSSL in keyhole-tls.so."""
	return os.path.exists(TLSLIB)


def mapped(pid):
	with open("/proc/%d/maps" % pid) as f:
		return f.read()


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
	if split():
		assert "/keyhole-tls.so" in mapped(r.px.proc.pid)


def test_release_binary_runs_a_sandboxed_command(keyhole, tmp_path):
	p = subprocess.run([keyhole, "run", "-s", "--allow-cwd", "--", "sh",
	    "-c", "echo ok > out; cat out; cat /etc/shadow"], cwd=str(tmp_path),
	    capture_output=True, timeout=30)
	assert p.stdout == b"ok\n", p
	assert p.returncode != 0
	assert b"Permission denied" in p.stderr, p.stderr


def test_release_binary_starts_without_loading_openssl(keyhole, tmp_path):
	if not split():
		pytest.skip("OpenSSL is linked into this build (TLSSPLIT=no)")
	for net in (["--allow-cwd"], ["--allow-domain", "example.com"]):
		p = subprocess.run([keyhole, "run", "-vv"] + net + ["--",
		    "true"], cwd=str(tmp_path), capture_output=True, timeout=30)
		assert p.returncode == 0, p
		assert b"tls: loaded" not in p.stderr, p.stderr
	# A proxy with no route nor interception needs none either.
	px = subprocess.Popen([keyhole, "proxy", "--allow-domain",
	    "example.com"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
	    stdin=subprocess.DEVNULL)
	try:
		assert px.stdout.readline().startswith(b"HTTP_PROXY=")
		assert "/keyhole-tls.so" not in mapped(px.pid)
	finally:
		px.kill()
		px.wait(10)
	# What needs it loads it; version -v says from where.
	p = subprocess.run([keyhole, "version", "-v"], capture_output=True,
	    timeout=30)
	assert b"openssl: OpenSSL 3" in p.stdout, p
	assert (" (loaded from %s)\n" % os.path.realpath(TLSLIB)).encode() \
	    in p.stdout, p.stdout


def copy_release(tmp_path, lib_mode=None):
	d = tmp_path / "bin"
	d.mkdir()
	shutil.copy(RELEASE, str(d / "keyhole"))
	if lib_mode is not None:
		shutil.copy(TLSLIB, str(d / "keyhole-tls.so"))
		os.chmod(str(d / "keyhole-tls.so"), lib_mode)
	return str(d / "keyhole")


def test_release_binary_without_its_tls_library_says_which_file(keyhole,
    tmp_path):
	if not split():
		pytest.skip("OpenSSL is linked into this build (TLSSPLIT=no)")
	kh = copy_release(tmp_path)
	# A start that needs no TLS still works...
	p = subprocess.run([kh, "run", "-s", "--allow-cwd", "--", "true"],
	    cwd=str(tmp_path), capture_output=True, timeout=30)
	assert p.returncode == 0, p
	# ...a proxy refuses to start, naming what is missing and where.
	p = subprocess.run([kh, "run", "--allow-domain", "example.com", "--",
	    "true"], cwd=str(tmp_path), capture_output=True, timeout=30)
	assert p.returncode == 1, p
	assert b"keyhole-tls.so not found in " + \
	    os.path.dirname(kh).encode() in p.stderr, p.stderr
	# ...and a first use of OpenSSL ends keyhole with the same message.
	p = subprocess.run([kh, "version", "-v"], capture_output=True,
	    timeout=30)
	assert p.returncode == 1, p
	assert b"keyhole: TLS support: keyhole-tls.so not found" in \
	    p.stderr, p.stderr


def test_release_binary_refuses_a_tls_library_others_can_write(keyhole,
    tmp_path):
	if not split():
		pytest.skip("OpenSSL is linked into this build (TLSSPLIT=no)")
	kh = copy_release(tmp_path, lib_mode=0o664)
	p = subprocess.run([kh, "version", "-v"], capture_output=True,
	    timeout=30)
	assert p.returncode == 1, p
	assert b"keyhole-tls.so: writable by group or others (mode 0664)" \
	    in p.stderr, p.stderr
	# The same file, once nobody else can write it, is used.
	os.chmod(os.path.join(os.path.dirname(kh), "keyhole-tls.so"), 0o644)
	p = subprocess.run([kh, "version", "-v"], capture_output=True,
	    timeout=30)
	assert p.returncode == 0, p
	assert b"openssl: OpenSSL 3" in p.stdout, p


def test_release_binary_loads_a_tls_library_owned_like_itself(keyhole,
    tmp_path):
	"""Owned by neither root nor us: refused, unless the executable has
	the same owner (a build tree run with sudo)."""
	if not split():
		pytest.skip("OpenSSL is linked into this build (TLSSPLIT=no)")
	if os.geteuid() != 0:
		pytest.skip("needs root to hand files to another user")
	kh = copy_release(tmp_path, lib_mode=0o644)
	lib = os.path.join(os.path.dirname(kh), "keyhole-tls.so")
	os.chown(lib, 65534, 65534)
	p = subprocess.run([kh, "version", "-v"], capture_output=True,
	    timeout=30)
	assert p.returncode == 1, p
	assert b"keyhole-tls.so: owned by uid 65534, not root, us nor the " \
	    b"executable's owner" in p.stderr, p.stderr
	os.chown(kh, 65534, 65534)
	p = subprocess.run([kh, "version", "-v"], capture_output=True,
	    timeout=30)
	assert p.returncode == 0, p
	assert b"openssl: OpenSSL 3" in p.stdout, p
