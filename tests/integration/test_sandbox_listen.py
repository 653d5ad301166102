"""Sockets that bind themselves (SPEC 3.2): listen() on a never-bound inet
socket (the kernel's auto-bind, which Landlock's bind rule never sees) is
refused in blocked and proxy mode, while --listen-port binds still listen;
a route whose upstream is on loopback never delivers its secret to a
listener of the sandbox, and --open-port / --listen-port equal to such an
upstream's port is a usage error.
"""

import errno
import json
import os
import socket
import subprocess
import time

import pytest

from conftest import REPO, free_port_number
from run_fixtures import box, try_bin  # noqa: F401

PY = "/usr/bin/python3"

LISTEN = r"""
import errno, json, socket, sys
res = {}
def t(name, f):
	try:
		f()
		res[name] = 0
	except OSError as e:
		res[name] = e.errno
s4 = socket.socket()
t("listen4", lambda: s4.listen(5))
s6 = socket.socket(socket.AF_INET6)
t("listen6", lambda: s6.listen(5))
res["port4"] = s4.getsockname()[1]
print(json.dumps(res))
"""


@pytest.mark.parametrize("net", [["--block-net"],
    ["--allow-domain", "example.test"]], ids=["blocked", "proxy"])
def test_listen_on_an_unbound_socket_is_eacces(box, net):
	res = box.run("run", *net, "--", PY, "-c", LISTEN)
	assert res.rc == 0, res
	got = json.loads(res.out.strip().splitlines()[-1])
	assert got == {"listen4": errno.EACCES, "listen6": errno.EACCES,
	    "port4": 0}


def test_listen_refusal_is_audited(box):
	log = box.path("audit.jsonl")
	res = box.run("run", "--block-net", "--audit-log", log, "--", PY,
	    "-c", LISTEN)
	assert res.rc == 0, res
	recs = [json.loads(l) for l in open(log)]
	hits = [r for r in recs if r.get("host") == "listen"]
	assert hits and hits[0]["decision"] == "deny", recs
	assert "unbound socket" in hits[0]["reason"]


SERVE = r"""
import socket, sys
s = socket.socket()
s.bind(("0.0.0.0", int(sys.argv[1])))
s.listen(5)
print("ready", flush=True)
s.settimeout(10)
c, _ = s.accept()
c.sendall(b"hello from inside\n")
c.close()
"""


def test_listen_port_bind_and_listen_still_work(box):
	port = free_port_number()
	p = box.popen("run", "--allow-domain", "example.test", "--listen-port",
	    port, "--", PY, "-c", SERVE, str(port))
	try:
		assert p.stdout.readline().strip() == b"ready", \
		    p.stderr.read1(4096)
		with socket.create_connection(("127.0.0.1", port),
		    timeout=5) as c:
			c.settimeout(5)
			assert c.recv(100) == b"hello from inside\n"
		assert p.wait(10) == 0
	finally:
		if p.poll() is None:
			p.kill()
			p.wait()


SECRET = "squat-secret-7c1d0e9b"


def _route_profile(box, port):
	path = box.path("route.json")
	with open(path, "w") as f:
		json.dump({"meta": {"name": "squat"}, "network": {
		    "credentials": ["svc"], "custom_credentials": {"svc": {
		    "upstream": "http://127.0.0.1:%d" % port,
		    "credential_key": "env://SVC_KEY",
		    "env_var": "SVC_API_KEY"}}}}, f)
	return path


@pytest.mark.parametrize("flag", ["--open-port", "--listen-port"])
def test_port_of_a_loopback_route_upstream_is_a_usage_error(box, flag):
	port = free_port_number()
	prof = _route_profile(box, port)
	res = box.run("run", "-p", prof, flag, port, "--", "true",
	    env={"SVC_KEY": SECRET})
	assert res.rc == 2, res
	assert "%s %d" % (flag, port) in res.err, res
	assert "credential route svc" in res.err, res
	assert "127.0.0.1:%d" % port in res.err, res
	assert SECRET not in res.err + res.out


def test_other_ports_beside_a_loopback_route_are_fine(box):
	port = free_port_number()
	prof = _route_profile(box, port)
	res = box.run("run", "-p", prof, "--listen-port", port + 1, "--",
	    "true", env={"SVC_KEY": SECRET})
	assert res.rc == 0, res


# The attack of issue 14 (finding 5): nothing listens on the route's
# upstream port P, so the sandbox tries to get P itself: auto-binding
# listen() in a loop (the kernel picks ephemeral ports at random), bind()
# on P on loopback and on every address; then it asks the route to send a
# request there.  Whatever it catches is printed (hex).
SQUAT = r"""
import json, os, socket, sys, threading, time
P = int(sys.argv[1])
errs, caught, held = {}, [], None
def note(e):
	errs[str(e.errno)] = errs.get(str(e.errno), 0) + 1
deadline = time.monotonic() + 2.0
tries = 0
while held is None and time.monotonic() < deadline and tries < 40000:
	tries += 1
	s = socket.socket()
	try:
		s.listen(64)
		if s.getsockname()[1] == P:
			held = s
			break
	except OSError as e:
		note(e)
	s.close()
	for host in ("127.0.0.1", "0.0.0.0"):
		s = socket.socket()
		try:
			s.bind((host, P))
			s.listen(64)
			held = s
			break
		except OSError as e:
			note(e)
			s.close()
def serve(l):
	l.settimeout(3)
	while True:
		try:
			c, _ = l.accept()
		except OSError:
			return
		c.settimeout(2)
		try:
			caught.append(c.recv(65536).hex())
		except OSError:
			pass
		c.close()
if held is not None:
	threading.Thread(target=serve, args=(held,), daemon=True).start()
base = os.environ["SVC_BASE_URL"]
hp = base.split("/")[2]
statuses = []
for i in range(3):
	c = socket.create_connection((hp.split(":")[0], int(hp.split(":")[1])),
	    timeout=5)
	c.sendall(("GET /svc/x HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer "
	    "%s\r\nConnection: close\r\n\r\n" % (hp,
	    os.environ["SVC_API_KEY"])).encode())
	data = b""
	while True:
		b = c.recv(65536)
		if not b:
			break
		data += b
	statuses.append(int(data.split(b" ")[1]))
	c.close()
time.sleep(0.2)
print(json.dumps({"squatted": held is not None, "tries": tries,
    "errs": errs, "caught": caught, "statuses": statuses}))
"""


def _ephemeral_free_port():
	"""A free port inside the kernel's ephemeral range, where auto-bind
	lands."""
	lo, hi = map(int, open("/proc/sys/net/ipv4/ip_local_port_range")
	    .read().split())
	for _ in range(200):
		s = socket.socket()
		s.bind(("127.0.0.1", 0))
		p = s.getsockname()[1]
		s.close()
		if lo <= p <= hi:
			return p
	pytest.skip("no free ephemeral port")


def test_squatting_loop_never_receives_the_route_secret(box):
	port = _ephemeral_free_port()
	prof = _route_profile(box, port)
	res = box.run("run", "-p", prof, "--", PY, "-c", SQUAT, str(port),
	    env={"SVC_KEY": SECRET}, timeout=30)
	assert res.rc == 0, res
	got = json.loads(res.out.strip().splitlines()[-1])
	caught = "".join(bytes.fromhex(h).decode("latin-1")
	    for h in got["caught"])
	assert SECRET not in caught
	assert SECRET not in res.out + res.err
	assert not got["squatted"], got
	# Every attempt was refused by the sandbox, not by chance.
	assert set(got["errs"]) == {str(errno.EACCES)}, got
	assert got["statuses"] == [502, 502, 502], got


UNIX = r"""
import json, os, socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(os.path.join(sys.argv[1], "srv.sock"))
s.listen(5)
c = socket.socket(socket.AF_UNIX)
c.connect(os.path.join(sys.argv[1], "srv.sock"))
a, _ = s.accept()
c.sendall(b"x")
print(json.dumps({"got": a.recv(1).decode()}))
"""


def test_listen_on_a_unix_socket_still_works(box):
	res = box.run("run", "--block-net", "--allow", box.granted, "--", PY,
	    "-c", UNIX, box.granted)
	assert res.rc == 0, res
	assert json.loads(res.out.strip().splitlines()[-1]) == {"got": "x"}


BIND = r"""
import json, socket, sys
P = int(sys.argv[1])
res = {}
held = []
for name, fam, host in (("lo4", socket.AF_INET, "127.0.0.1"),
    ("any4", socket.AF_INET, "0.0.0.0"), ("lo6", socket.AF_INET6, "::1"),
    ("any6", socket.AF_INET6, "::")):
	s = socket.socket(fam)
	try:
		s.bind((host, P))
		s.listen(5)
		res[name] = 0
		held.append(s)
	except OSError as e:
		res[name] = e.errno
print(json.dumps(res))
"""


@pytest.mark.parametrize("net", [["--block-net"],
    ["--allow-domain", "example.test"]], ids=["blocked", "proxy"])
def test_open_port_binds_on_loopback_only(box, net):
	port = free_port_number()
	res = box.run("run", *net, "--open-port", port, "--", PY, "-c", BIND,
	    str(port))
	assert res.rc == 0, res
	got = json.loads(res.out.strip().splitlines()[-1])
	assert got == {"lo4": 0, "any4": errno.EACCES, "lo6": 0,
	    "any6": errno.EACCES}


def test_listen_port_binds_on_any_address(box):
	port = free_port_number()
	res = box.run("run", "--allow-domain", "example.test", "--listen-port",
	    port, "--", PY, "-c", BIND, str(port))
	assert res.rc == 0, res
	got = json.loads(res.out.strip().splitlines()[-1])
	# 0.0.0.0 and :: collide with the loopback binds before them.
	assert got["lo4"] == 0 and got["lo6"] == 0, got
	res = box.run("run", "--allow-domain", "example.test", "--listen-port",
	    port, "--", PY, "-c", "import socket, sys; s = socket.socket(); "
	    "s.bind(('0.0.0.0', int(sys.argv[1]))); s.listen(1)", str(port))
	assert res.rc == 0, res


@pytest.mark.skipif(os.geteuid() != 0 or int(open(
    "/proc/sys/net/ipv4/ip_unprivileged_port_start").read()) <= 80,
    reason="needs root and privileged ports")
def test_bind_has_no_more_privilege_than_the_child(box):
	# The supervisor binds for the child; as root it could bind port 80,
	# the child (no capabilities) could not, and still cannot.
	res = box.run("run", "--allow-domain", "example.test", "--listen-port",
	    "80", "--", PY, "-c", "import socket, errno\ns = socket.socket()\n"
	    "try:\n\ts.bind(('127.0.0.1', 80))\n\tprint(0)\n"
	    "except OSError as e:\n\tprint(e.errno)")
	assert res.rc == 0, res
	assert res.out.strip().splitlines()[-1] == str(errno.EACCES), res
