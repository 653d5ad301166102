"""--report-only in a private network namespace (report_world.py), where
port 80 and a private address are ours: the suggestion names a
network-policy group when half of its hosts were used (SPEC 4.11), and
fed back as a profile it makes the same run pass; a direct connect the
policy would deny is made, audited would_deny and suggested as host:PORT,
while the address guard (metadata) still refuses."""

import json
import os
import re
import subprocess

import pytest

from conftest import free_port_number
from run_fixtures import SUMMARY_RE, box, try_bin  # noqa: F401

HERE = os.path.dirname(os.path.abspath(__file__))
WORLD = os.path.join(HERE, "report_world.py")
PY = "/usr/bin/python3"

FLAGS_RE = re.compile(r"^keyhole:   (--allow-domain \S+(?: --allow-domain "
    r"\S+)*)$", re.M)
PROFILE_RE = re.compile(r"^keyhole:   profile: (\{.*\})$", re.M)


def netns_ok():
	try:
		return subprocess.run(["unshare", "--net", "--", "ip", "link",
		    "set", "lo", "up"], capture_output=True,
		    timeout=10).returncode == 0
	except (OSError, subprocess.TimeoutExpired):
		return False


pytestmark = pytest.mark.skipif(not netns_ok(),
    reason="needs root: unshare --net and ip(8)")


def world(box, listen, argv):
	"""Run `keyhole ARGV` inside a private network; its result."""
	cfg = {"dir": box.root, "env": box.env(), "listen": listen,
	    "runs": [[box.keyhole] + argv]}
	cfgpath = box.write(box.path("world.json"), json.dumps(cfg))
	p = subprocess.run(["unshare", "--net", "--", PY, WORLD, cfgpath],
	    capture_output=True, timeout=90)
	assert p.returncode == 0, p
	res = json.loads(p.stdout.decode().strip().splitlines()[-1])[0]
	assert "Sanitizer" not in res["err"], res["err"]
	assert "runtime error:" not in res["err"], res["err"]
	return res


def audit_lines(path):
	with open(path) as f:
		return [json.loads(l) for l in f if l.strip()]


SIGSTORE = ("rekor.sigstore.dev", "fulcio.sigstore.dev")


def curls():
	return " ; ".join("curl -sS --noproxy '' -o /dev/null -w "
	    "'%%{http_code} ' http://%s/x" % h for h in SIGSTORE)


def resolves():
	args = []
	for h in SIGSTORE:
		args += ["--resolve", "%s:80:127.0.0.1" % h]
	return args


def test_report_only_suggests_a_group_that_fed_back_passes(box):
	audit = box.path("audit.jsonl")
	res = world(box, [["127.0.0.1", 80]], ["run", "--report-only",
	    "--audit-log", audit, *resolves(), "--", "sh", "-c", curls()])
	assert res["rc"] == 0, res
	assert res["out"] == "200 200 ", res
	assert [s[2] for s in res["seen"]] == list(SIGSTORE), res
	recs = [r for r in audit_lines(audit) if r["mode"] == "forward"]
	assert [r["decision"] for r in recs] == ["would_deny"] * 2, recs
	# Two of sigstore's four hosts: the group, not the hosts.
	assert "keyhole: report-only: 2 destinations outside the allow-list " \
	    "were used; to allow them:\n" in res["err"], res["err"]
	m = FLAGS_RE.search(res["err"])
	assert m and m.group(1) == "--allow-domain sigstore", res["err"]
	m = PROFILE_RE.search(res["err"])
	assert m, res["err"]
	snippet = json.loads(m.group(1))
	assert snippet == {"network": {"allow_domain": ["sigstore"]}}, snippet
	assert "(sigstore is a network-policy group: 4 hosts; list the " \
	    "hosts instead to allow only those used)" in res["err"], res["err"]

	# Fed back as a profile, the same run passes with no denial.
	prof = box.write(box.path("learnt.json"), json.dumps(snippet))
	audit2 = box.path("audit2.jsonl")
	res = world(box, [["127.0.0.1", 80]], ["run", "-p", prof,
	    "--audit-log", audit2, *resolves(), "--", "sh", "-c", curls()])
	assert res["rc"] == 0, res
	assert res["out"] == "200 200 ", res
	assert not SUMMARY_RE.search(res["err"]), res["err"]
	assert "sandbox_violations" not in res["err"], res["err"]
	recs = [r for r in audit_lines(audit2) if r["mode"] == "forward"]
	assert [r["decision"] for r in recs] == ["allow"] * 2, recs


def test_why_host_names_the_group_of_the_host(box):
	res = box.run("why", "--allow-domain", "api.test", "--host",
	    "rekor.sigstore.dev")
	assert res.rc == 0, res
	assert "  Suggested fix: --allow-domain rekor.sigstore.dev\n" in \
	    res.out, res.out
	assert "  Or its network-policy group: --allow-domain sigstore " \
	    "(allows every host of the group)\n" in res.out, res.out
	res = box.run("why", "--allow-domain", "api.test", "--json", "--host",
	    "rekor.sigstore.dev")
	assert res.rc == 0, res
	j = json.loads(res.out)
	assert j["suggested_group"] == "sigstore", j
	assert j["suggested_profile"] == {"network": {"allow_domain":
	    ["rekor.sigstore.dev"]}}, j
	# A host in no group, or on another port: no group.
	res = box.run("why", "--allow-domain", "api.test", "--json", "--host",
	    "rekor.sigstore.dev:8443")
	j = json.loads(res.out)
	assert j["suggested_flag"] == "--allow-domain rekor.sigstore.dev:8443", j
	assert "suggested_group" not in j, j
	res = box.run("why", "--allow-domain", "api.test", "--json", "--host",
	    "nowhere.test")
	j = json.loads(res.out)
	assert j["suggested_flag"] == "--allow-domain nowhere.test", j
	assert "suggested_group" not in j, j


DIRECT = r"""
import errno, socket
s = socket.create_connection(("10.77.0.7", 8080), timeout=10)
s.sendall(b"GET /direct HTTP/1.0\r\nHost: 10.77.0.7:8080\r\n\r\n")
print(s.recv(100).split(b"\r\n")[0].decode())
s.close()
try:
	socket.create_connection(("169.254.169.254", 80), timeout=5)
	print("metadata connected")
except OSError as e:
	print("metadata", errno.errorcode.get(e.errno, e.errno))
"""


def test_report_only_makes_a_direct_connect_and_suggests_it(box):
	py = box.write(box.path("granted", "direct.py"), DIRECT)
	audit = box.path("audit.jsonl")
	res = world(box, [["10.77.0.7", 8080]], ["run", "--report-only",
	    "--audit-log", audit, "--read-file", py, "--", PY, py])
	assert res["rc"] == 0, res
	# Made (the server saw it), metadata still refused by the guard.
	assert res["out"] == "HTTP/1.0 200 OK\nmetadata EACCES\n", res
	assert [s[3] for s in res["seen"]] == ["/direct"], res
	recs = [r for r in audit_lines(audit) if r["mode"] == "direct"]
	assert [(r["host"], r["port"], r["decision"], r["reason"])
	    for r in recs] == [
		("10.77.0.7", 8080, "would_deny",
		    "no direct grant for this address and port"),
		("169.254.169.254", 80, "deny",
		    "address 169.254.169.254 is cloud metadata"),
	], recs
	# The suggestion: the direct grant host:PORT.
	assert "keyhole: report-only: 1 destination outside the allow-list " \
	    "was used; to allow exactly it:\n" in res["err"], res["err"]
	m = FLAGS_RE.search(res["err"])
	assert m and m.group(1) == "--allow-domain 10.77.0.7:8080", res["err"]
	m = PROFILE_RE.search(res["err"])
	snippet = json.loads(m.group(1))
	assert snippet == {"network": {"allow_domain": ["10.77.0.7:8080"]}}
	# The metadata denial is in the summary and the block, never allowed.
	m = SUMMARY_RE.search(res["err"])
	assert m and m.group(1) == "1", res["err"]
	block = res["err"].split("<sandbox_violations>\n", 1)[1].split(
	    "</sandbox_violations>", 1)[0]
	lines = block.splitlines()
	assert lines[0].startswith("direct 169.254.169.254:80: address "
	    "169.254.169.254 is cloud metadata (1 time); nothing allows "
	    "this"), block
	assert len(lines) == 2 and lines[1].startswith("filesystem "), block

	# Fed back as a profile, the same run passes: an allow record.
	prof = box.write(box.path("learnt.json"), json.dumps(snippet))
	audit2 = box.path("audit2.jsonl")
	res = world(box, [["10.77.0.7", 8080]], ["run", "-p", prof,
	    "--audit-log", audit2, "--read-file", py, "--", PY, py])
	assert res["rc"] == 0, res
	assert res["out"] == "HTTP/1.0 200 OK\nmetadata EACCES\n", res
	recs = [r for r in audit_lines(audit2) if r["mode"] == "direct"]
	assert [(r["host"], r["decision"]) for r in recs] == [
	    ("10.77.0.7", "allow"), ("169.254.169.254", "deny")], recs
	assert "report-only" not in res["err"], res["err"]


def test_without_report_only_the_direct_connect_is_refused(box):
	py = box.write(box.path("granted", "direct.py"), DIRECT)
	res = world(box, [["10.77.0.7", 8080]], ["run", "--allow-domain",
	    "api.test", "--read-file", py, "--", PY, "-c",
	    "import errno, socket\ntry:\n\tsocket.create_connection(("
	    "'10.77.0.7', 8080), timeout=5)\n\tprint('connected')\n"
	    "except OSError as e:\n\tprint(errno.errorcode[e.errno])\n"])
	assert res["rc"] == 0, res
	assert res["out"] == "EACCES\n", res
	assert res["seen"] == [], res


def test_report_only_does_not_suggest_a_udp_connect_it_refuses(box):
	"""A direct grant allows TCP only, so a UDP connect is not made nor
	suggested under --report-only: proxy mode's UDP sockets live in the
	DNS answerer's namespace (SPEC 3.1), where nothing else is reachable,
	and the mediator's TCP check refuses any other it sees."""
	audit = box.path("audit.jsonl")
	res = world(box, [["10.77.0.7", 8080]], ["run", "--report-only",
	    "--audit-log", audit, "--", PY, "-c",
	    "import errno, socket\ntry:\n\ts = socket.socket(socket.AF_INET, "
	    "socket.SOCK_DGRAM)\n\ts.connect(('10.77.0.7', 5353))\n"
	    "\tprint('connected')\nexcept OSError as e:\n"
	    "\tprint(errno.errorcode[e.errno])\n"])
	assert res["rc"] == 0, res
	assert res["out"] in ("EACCES\n", "ENETUNREACH\n"), res
	assert res["seen"] == [], res
	recs = [r for r in audit_lines(audit) if r["mode"] == "direct"]
	assert all(r["decision"] == "deny" for r in recs), recs
	assert "keyhole: report-only: nothing outside the allow-list was " \
	    "used\n" in res["err"], res["err"]


BY_NAME = r"""
import socket
a = socket.getaddrinfo("db.test", 8081, socket.AF_INET,
    socket.SOCK_STREAM)[0][4][0]
s = socket.create_connection((a, 8081), timeout=10)
s.sendall(b"GET /by-name HTTP/1.0\r\nHost: db.test:8081\r\n\r\n")
print(a, s.recv(100).split(b"\r\n")[0].decode())
"""


def test_report_only_suggests_the_name_the_childs_dns_answered(box):
	"""db.test:8080 is granted; the child resolves db.test (the sandbox's
	DNS answers with the grant's address) and connects on 8081: made,
	audited and suggested as db.test:8081, not as the address."""
	py = box.write(box.path("granted", "byname.py"), BY_NAME)
	audit = box.path("audit.jsonl")
	res = world(box, [["10.77.0.7", 8081]], ["run", "--report-only",
	    "--allow-domain", "db.test:8080", "--resolve",
	    "db.test:8080:10.77.0.7", "--audit-log", audit, "--read-file",
	    py, "--", PY, py])
	assert res["rc"] == 0, res
	assert res["out"] == "10.77.0.7 HTTP/1.0 200 OK\n", res
	recs = [r for r in audit_lines(audit) if r["mode"] == "direct"]
	assert [(r["host"], r["port"], r["decision"]) for r in recs] == [
	    ("db.test", 8081, "would_deny")], recs
	m = FLAGS_RE.search(res["err"])
	assert m and m.group(1) == "--allow-domain db.test:8081", res["err"]
