"""Direct grants follow DNS (SPEC 3, mediator column): the addresses of
`--allow-domain db.test:PORT` are resolved at start and again whenever the
answer's TTL runs out, and a name in /etc/hosts keeps its hosts address.

Each test runs in its own network and mount namespace (ttl_world.py): a
DNS server there answers db.test with 10.77.0.7, then with 10.77.0.8 once
the sandboxed child has seen the first state.  Nothing can leave: lo is
the namespace's only interface.
"""

import json
import os
import subprocess

import pytest

from conftest import free_port_number
from run_fixtures import box, try_bin  # noqa: F401

HERE = os.path.dirname(os.path.abspath(__file__))
WORLD = os.path.join(HERE, "ttl_world.py")
PY = "/usr/bin/python3"

# The child: probe both addresses on PORT; A = (.7 ok, .8 EACCES),
# B = (.7 EACCES, .8 ok).  "follow": A, then B within 10 s.  "hold S":
# A, then A for S more seconds.
CHILD = r'''
import errno, socket, sys, time
PORT = %(port)d
MODE = %(mode)r
HOLD = %(hold)r

def probe(addr):
	s = socket.socket()
	s.settimeout(2)
	try:
		s.connect((addr, PORT))
		return "ok"
	except OSError as e:
		return errno.errorcode.get(e.errno, str(e.errno))
	finally:
		s.close()

def state():
	return (probe("10.77.0.7"), probe("10.77.0.8"))

def say(s):
	print(s, flush=True)

A = ("ok", "EACCES")
B = ("EACCES", "ok")

def wait_for(want, secs):
	end = time.monotonic() + secs
	st = state()
	while st != want and time.monotonic() < end:
		time.sleep(0.1)
		st = state()
	return st

st = wait_for(A, 5)
if st != A:
	say("never-A %%s %%s" %% st)
	sys.exit(1)
say("A")
if MODE == "follow":
	st = wait_for(B, 10)
	say("B" if st == B else "stuck %%s %%s" %% st)
	sys.exit(0 if st == B else 1)
end = time.monotonic() + HOLD
while time.monotonic() < end:
	st = state()
	if st != A:
		say("changed %%s %%s" %% st)
		sys.exit(1)
	time.sleep(0.2)
say("held")
'''


def netns_ok():
	try:
		return subprocess.run(["unshare", "--net", "--mount", "--",
		    "ip", "link", "set", "lo", "up"], capture_output=True,
		    timeout=10).returncode == 0
	except (OSError, subprocess.TimeoutExpired):
		return False


pytestmark = pytest.mark.skipif(not netns_ok(),
    reason="needs root: unshare --net --mount and ip(8)")


def world(box, ttl, mode, hold=0, hosts=None):
	"""Run the child under keyhole inside a private world; its report."""
	port = free_port_number()
	script = box.write(box.path("granted", "child.py"),
	    CHILD % {"port": port, "mode": mode, "hold": hold})
	cfg = {
		"dir": box.root, "port": port, "ttl": ttl, "hosts": hosts,
		"env": box.env(),
		"argv": [box.keyhole, "run", "--allow-domain",
		    "db.test:%d" % port, "--audit-log", box.path("audit.log"),
		    "--read-file", script, "--", PY, script],
	}
	cfgpath = box.write(box.path("world.json"), json.dumps(cfg))
	p = subprocess.run(["unshare", "--net", "--mount", "--", PY, WORLD,
	    cfgpath], capture_output=True, timeout=60)
	assert p.returncode == 0, p
	rep = json.loads(p.stdout.decode().strip().splitlines()[-1])
	assert "Sanitizer" not in rep["stderr"], rep["stderr"]
	assert "runtime error:" not in rep["stderr"], rep["stderr"]
	return rep


def test_grant_follows_dns_answer_when_ttl_expires(box):
	rep = world(box, ttl=1, mode="follow")
	assert rep["lines"] == ["A", "B"], rep
	assert rep["rc"] == 0, rep
	assert rep["accepted7"] > 0 and rep["accepted8"] > 0, rep
	# The flip was picked up by a query made after it, one TTL later.
	assert any(a == "10.77.0.8" and t >= rep["flipped"]
	    for t, a in rep["a_queries"]), rep


def test_grant_keeps_addresses_until_ttl_expires(box):
	rep = world(box, ttl=3600, mode="hold", hold=4)
	assert rep["lines"] == ["A", "held"], rep
	assert rep["rc"] == 0, rep
	assert rep["accepted8"] == 0, rep
	# Asked at start (and once more to learn the TTL), not again.
	assert all(a == "10.77.0.7" for _, a in rep["a_queries"]), rep


def test_hosts_file_entry_wins_over_dns(box):
	rep = world(box, ttl=1, mode="hold", hold=3, hosts="10.77.0.7")
	assert rep["lines"] == ["A", "held"], rep
	assert rep["rc"] == 0, rep
	assert rep["accepted8"] == 0, rep
