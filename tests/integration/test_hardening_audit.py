"""An audit log that cannot be written (issue 7, SPEC 4.8): the proxy keeps
serving and says so once on stderr -- never once per line, never a stall.

We run as root, so chmod 0444 is no obstacle; /dev/full (ENOSPC on every
write) and FIFOs (no reader; a reader that never reads) stand in for an
unwritable file."""

import os
import time

import pytest

pytest.register_assert_rewrite("hardening_fixtures")

from hardening_fixtures import forward_request, one_response, wait_for

pytest_plugins = ["hardening_fixtures"]

WRITE_FAILED = "write failed; further audit lines are dropped"


def traffic(px, up, n=300):
	"""n requests, allowed and denied, each answered quickly."""
	for i in range(n):
		if i % 3 == 0:
			data = forward_request(px, "GET", "evil.test", "/deny")
			want = 403
		else:
			data = forward_request(px, "GET", "web.test:%d" % up.port,
			    "/ok")
			want = 200
		t0 = time.monotonic()
		st, _, _, _ = one_response(px.port, data, 3)
		assert st == want, (i, st)
		assert time.monotonic() - t0 < 1.0


def web(up):
	return ("--allow-domain", "web.test:%d" % up.port,
	    "--resolve", "web.test:%d:127.0.0.1" % up.port)


def test_audit_to_dev_full_keeps_serving_and_warns_once(aproxy,
    bad_upstream):
	px = aproxy(*web(bad_upstream), audit="/dev/full")
	traffic(px, bad_upstream, 60)
	err = px.stderr()
	assert err.count("audit log /dev/full") == 1, err
	assert WRITE_FAILED in err, err
	assert px.running()


def test_audit_fifo_whose_reader_stops_keeps_serving_and_warns_once(aproxy,
    bad_upstream, tmp_path):
	fifo = str(tmp_path / "audit.fifo")
	os.mkfifo(fifo)
	rd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)	# never read
	try:
		px = aproxy(*web(bad_upstream), audit=fifo)
		# 64 KiB of pipe fill up after a few hundred lines.
		traffic(px, bad_upstream, 600)
		err = px.stderr()
		assert err.count("audit log %s" % fifo) == 1, err
		assert WRITE_FAILED in err, err
		assert px.running()
	finally:
		os.close(rd)


def test_audit_fifo_without_reader_keeps_serving_and_warns_once(aproxy,
    bad_upstream, tmp_path):
	fifo = str(tmp_path / "audit.fifo")
	os.mkfifo(fifo)
	px = aproxy(*web(bad_upstream), audit=fifo)
	traffic(px, bad_upstream, 30)
	err = px.stderr()
	assert err.count("audit log %s" % fifo) == 1, err
	assert px.running()


def test_audit_log_unopenable_is_a_clear_start_error(keyhole, tmp_path):
	# A path that cannot be opened at start (a directory here; a read-only
	# file for a non-root user) stops the proxy with a message naming it,
	# rather than running unaudited.
	import subprocess
	from conftest import _clean_env
	d = str(tmp_path / "dir")
	os.makedirs(d)
	p = subprocess.run([keyhole, "proxy", "--audit-log", d],
	    stdin=subprocess.DEVNULL, capture_output=True, timeout=10,
	    env=_clean_env())
	assert p.returncode != 0
	assert ("audit log %s" % d) in p.stderr.decode(), p.stderr
