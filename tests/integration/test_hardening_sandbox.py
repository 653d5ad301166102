"""The sandbox side of issue 7: the supervisor (which runs the proxy for
`keyhole run`) survives whatever its child does to a request, and
`keyhole proxy` ends cleanly on SIGTERM in the middle of traffic (SIGHUP
reloads: test_proxy_reload.py).

The sandboxed child is /usr/bin/python3 -c SCRIPT speaking raw HTTP to the
proxy named by its HTTP_PROXY; the upstream is hardening_fixtures'
BadUpstream on 127.0.0.1 (/sse streams until the proxy hangs up, /big?n=N
sends N bytes, /ok answers "ok").  Everything talks to 127.0.0.1 only."""

import os
import select
import signal
import socket
import subprocess
import threading
import time

import pytest

pytest.register_assert_rewrite("hardening_fixtures")

from conftest import assert_no_sanitizer_report, free_port_number, read_head
from hardening_fixtures import drain, forward_request, one_response, wait_for
from run_fixtures import box, stop_proc, try_bin  # noqa: F401

pytest_plugins = ["hardening_fixtures"]

PY = "/usr/bin/python3"

pytestmark = pytest.mark.skipif(not os.access(PY, os.X_OK),
    reason="no /usr/bin/python3")

# What every child script starts with: a forward request through the
# proxy in HTTP_PROXY (with its credentials), and a head reader.
PRELUDE = r'''
import base64, os, signal, socket, struct, sys, time, urllib.parse
UP = int(sys.argv[1])
PX = urllib.parse.urlsplit(os.environ["HTTP_PROXY"])
AUTH = base64.b64encode(("%s:%s" % (PX.username, PX.password)).encode())

def say(*a):
	print(*a, flush=True)

def request(path):
	s = socket.create_connection((PX.hostname, PX.port), timeout=5)
	s.sendall(b"GET http://web.test:%d%s HTTP/1.1\r\n"
	    b"Host: web.test:%d\r\nProxy-Authorization: Basic %s\r\n\r\n"
	    % (UP, path.encode(), UP, AUTH))
	return s

def head(s):
	buf = b""
	while b"\r\n\r\n" not in buf:
		c = s.recv(65536)
		if not c:
			raise SystemExit("EOF before a head: %r" % buf)
		buf += c
	h, rest = buf.split(b"\r\n\r\n", 1)
	return int(h.split(b" ")[1]), rest
'''

# Read the first event of /sse, then die by SIGKILL mid-response.
KILLED = PRELUDE + r'''
s = request("/sse")
st, body = head(s)
while b"data: event" not in body:
	c = s.recv(65536)
	if not c:
		raise SystemExit("EOF in the stream")
	body += c
say("status=%d" % st)
say("streaming")
os.kill(os.getpid(), signal.SIGKILL)
say("survived SIGKILL")
'''

# Walk away from large responses in mid-flight (reset or plain close with
# megabytes unread), give the proxy time to write into the dead sockets,
# then make one more request and print its answer.
ABANDON = PRELUDE + r'''
for i in range(6):
	s = request("/big?n=%d" % (64 << 20))
	st, body = head(s)
	got = len(body)
	while got < 256 * 1024:
		c = s.recv(65536)
		if not c:
			raise SystemExit("EOF after %d bytes" % got)
		got += len(c)
	if i % 2 == 0:
		s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
		    struct.pack("ii", 1, 0))
	s.close()
	say("abandoned %d status=%d after %d bytes" % (i, st, got))
	time.sleep(0.15)
s = request("/ok")
st, body = head(s)
while len(body) < 2:
	c = s.recv(65536)
	if not c:
		break
	body += c
s.close()
say("second status=%d body=%s" % (st, body.decode()))
'''


def run_opts(up_port, pp):
	return ("--proxy-port", pp, "--allow-domain", "web.test:%d" % up_port,
	    "--resolve", "web.test:%d:127.0.0.1" % up_port)


def read_until(p, text, timeout):
	"""Read p's stdout until text appears; returns what was read."""
	fd = p.stdout.fileno()
	os.set_blocking(fd, False)
	out = b""
	deadline = time.monotonic() + timeout
	while text not in out:
		left = deadline - time.monotonic()
		if left <= 0:
			break
		r, _, _ = select.select([fd], [], [], min(left, 0.1))
		if r:
			chunk = os.read(fd, 65536)
			if not chunk:
				break
			out += chunk
	os.set_blocking(fd, True)
	return out


def assert_nothing_listens(port):
	s = socket.socket()
	s.settimeout(2)
	try:
		with pytest.raises(ConnectionRefusedError):
			s.connect(("127.0.0.1", port))
	finally:
		s.close()


def assert_clean_stderr(err):
	assert_no_sanitizer_report(err)
	assert "keyhole: fatal" not in err, err


def test_child_killed_mid_request_leaves_supervisor_clean(box,
    bad_upstream):
	up = bad_upstream
	pp = free_port_number()
	p = box.popen("run", *run_opts(up.port, pp), "--", PY, "-c", KILLED,
	    str(up.port))
	try:
		out = read_until(p, b"streaming\n", 8)
		assert b"status=200\nstreaming\n" in out, (out,
		    p.stderr.read() if p.poll() is not None else "")
		assert up.accepted == 1, up.accepted
		t0 = time.monotonic()
		try:
			p.wait(5)
		except subprocess.TimeoutExpired:
			pytest.fail("keyhole run still running 5 s after its child "
			    "was killed", pytrace=False)
		took = time.monotonic() - t0
		rest, err = p.communicate(timeout=5)
	finally:
		stop_proc(p)
	out += rest
	err = err.decode("utf-8", "replace")
	assert p.returncode == 137, (p.returncode, out, err)
	assert took < 5, took
	assert b"survived" not in out
	assert_clean_stderr(err)
	assert_nothing_listens(pp)
	# The proxy's upstream connection went with it.
	assert wait_for(lambda: up.hangups and up.live == 0, 3), \
	    (up.hangups, up.live)


def test_sigpipe_does_not_kill_supervisor(box, bad_upstream):
	up = bad_upstream
	pp = free_port_number()
	res = box.run("run", *run_opts(up.port, pp), "--", PY, "-c", ABANDON,
	    str(up.port), timeout=30)
	assert res.rc != 128 + signal.SIGPIPE and res.rc != -signal.SIGPIPE, \
	    "keyhole died of SIGPIPE: %r" % res
	assert res.rc == 0, res
	for i in range(6):
		assert "abandoned %d status=200" % i in res.out, res
	assert "second status=200 body=ok" in res.out, res
	assert "keyhole: fatal" not in res.err, res
	assert res.elapsed < 10, res.elapsed
	# Every abandoned response was cut upstream too.
	assert wait_for(lambda: len(up.hangups) >= 6, 3), up.hangups


def test_proxy_sighup_during_traffic_exits_cleanly(proxy, bad_upstream):
	up = bad_upstream
	px = proxy("--allow-domain", "web.test:%d" % up.port,
	    "--resolve", "web.test:%d:127.0.0.1" % up.port)
	stop = threading.Event()
	lock = threading.Lock()
	served = [0]
	streaming = [0]

	def hammer():
		req = forward_request(px, "GET", "web.test:%d" % up.port, "/ok")
		while not stop.is_set():
			try:
				st, _, _, _ = one_response(px.port, req, 3)
			except OSError:
				time.sleep(0.02)
				continue
			if st == 200:
				with lock:
					served[0] += 1

	def stream():
		req = forward_request(px, "GET", "web.test:%d" % up.port, "/sse")
		while not stop.is_set():
			try:
				s = socket.create_connection(("127.0.0.1", px.port),
				    timeout=3)
			except OSError:
				time.sleep(0.02)
				continue
			try:
				s.sendall(req)
				st, _, _, _ = read_head(s, 3)
				if st == 200:
					with lock:
						streaming[0] += 1
				drain(s, 1 << 30, timeout=5)
			except (OSError, AssertionError):
				time.sleep(0.02)
			finally:
				s.close()

	threads = [threading.Thread(target=hammer, daemon=True)
	    for _ in range(8)]
	threads += [threading.Thread(target=stream, daemon=True)
	    for _ in range(4)]
	for t in threads:
		t.start()
	try:
		assert wait_for(lambda: served[0] > 30 and streaming[0] >= 4,
		    8), (served, streaming)
		assert up.live >= 4, up.live	# streams in flight now
		t0 = time.monotonic()
		px.stop(signal.SIGTERM, timeout=2.0)	# asserts exit 0
		took = time.monotonic() - t0
	finally:
		stop.set()
		for t in threads:
			t.join(6)
	assert took < 2.0, took
	assert_nothing_listens(px.port)
	assert wait_for(lambda: up.live == 0, 3), up.live
