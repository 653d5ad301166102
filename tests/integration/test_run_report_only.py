"""--report-only (SPEC 4.11): what the allow-list would deny is allowed and
audited would_deny; at exit keyhole prints the --allow-domain flags and the
profile snippet that allow exactly what was used, and they do: fed back,
the same run passes without a denial.  The address guard and credential
hosts still apply.  Every host here resolves (--resolve) to a local
upstream; nothing leaves 127.0.0.1."""

import json
import re

from run_fixtures import SUMMARY_RE, box, try_bin  # noqa: F401

FLAGS_RE = re.compile(r"^keyhole:   (--allow-domain \S+(?: --allow-domain "
    r"\S+)*)$", re.M)
PROFILE_RE = re.compile(r"^keyhole:   profile: (\{.*\})$", re.M)

# A client that is not curl: Python's http.client through the proxy
# named by HTTP_PROXY (user:token@host:port), absolute-form request.
def audit_lines(path):
	with open(path) as f:
		return [json.loads(l) for l in f if l.strip()]


PY_CLIENT = r"""
import base64, http.client, os, sys, urllib.parse
u = urllib.parse.urlsplit(os.environ["HTTP_PROXY"])
auth = base64.b64encode(("%s:%s" % (u.username, u.password)).encode())
c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
c.request("GET", sys.argv[1], headers={"Proxy-Authorization":
    "Basic " + auth.decode()})
r = c.getresponse()
print(r.status)
"""


def hosts_script(port, py):
	curls = " ; ".join("curl -sS --noproxy '' -o /dev/null -w '%%{http_code} '"
	    " http://%s.test:%d/x" % (h, port) for h in ("a", "b", "c"))
	return "%s ; /usr/bin/python3 %s http://d.test:%d/py" % (curls, py,
	    port)


def resolves(port):
	args = []
	for h in ("a", "b", "c", "d"):
		args += ["--resolve", "%s.test:%d:127.0.0.1" % (h, port)]
	return args


def test_report_only_allows_reports_and_the_suggestion_works(box,
    http_upstream):
	port = http_upstream.port
	py = box.write(box.path("granted", "client.py"), PY_CLIENT)
	audit = box.path("audit.jsonl")
	res = box.run("run", "--report-only", "--audit-log", audit,
	    "--read-file", py, *resolves(port), "--", "sh", "-c",
	    hosts_script(port, py))
	assert res.rc == 0, res
	assert res.out == "200 200 200 200\n", res
	# nothing denied: would_deny records, no violations
	assert not SUMMARY_RE.search(res.err), res.err
	assert "sandbox_violations" not in res.err, res.err
	recs = [r for r in audit_lines(audit) if r["mode"] == "forward"]
	assert len(recs) == 4, recs
	assert all(r["decision"] == "would_deny" for r in recs), recs
	assert "keyhole: report-only: 4 destinations outside the allow-list " \
	    "were used; to allow exactly these:\n" in res.err, res.err
	want = ["%s.test:%d" % (h, port) for h in ("a", "b", "c", "d")]
	m = FLAGS_RE.search(res.err)
	assert m, res.err
	assert m.group(1) == " ".join("--allow-domain " + w for w in want)
	m = PROFILE_RE.search(res.err)
	assert m, res.err
	snippet = json.loads(m.group(1))
	assert snippet == {"network": {"allow_domain": want}}, snippet

	# Fed back as a profile, the same run passes with no denial.
	prof = box.write(box.path("learnt.json"), json.dumps(snippet))
	audit2 = box.path("audit2.jsonl")
	res = box.run("run", "-p", prof, "--audit-log", audit2,
	    "--read-file", py, *resolves(port), "--", "sh", "-c",
	    hosts_script(port, py))
	assert res.rc == 0, res
	assert res.out == "200 200 200 200\n", res
	assert not SUMMARY_RE.search(res.err), res.err
	recs = [r for r in audit_lines(audit2) if r["mode"] == "forward"]
	assert len(recs) == 4, recs
	assert all(r["decision"] == "allow" for r in recs), recs


def test_report_only_profile_key(box, http_upstream):
	port = http_upstream.port
	prof = box.write(box.path("ro.json"), json.dumps(
	    {"network": {"report_only": True}}))
	res = box.run("run", "-p", prof, "--resolve",
	    "a.test:%d:127.0.0.1" % port, "--", "curl", "-sS", "--noproxy", "",
	    "-o", "/dev/null", "-w", "%{http_code}",
	    "http://a.test:%d/x" % port)
	assert res.rc == 0, res
	assert res.out == "200", res
	m = FLAGS_RE.search(res.err)
	assert m and m.group(1) == "--allow-domain a.test:%d" % port, res.err


def test_report_only_keeps_the_address_guard(box, http_upstream):
	port = http_upstream.port
	audit = box.path("audit.jsonl")
	# metadata by address; loopback by a name the user did not --resolve
	res = box.run("run", "--report-only", "--audit-log", audit, "--",
	    "sh", "-c", "curl -sS --noproxy '' -o /dev/null -w '%%{http_code} '"
	    " http://169.254.169.254/latest ; curl -sS --noproxy '' -o "
	    "/dev/null -w '%%{http_code}' http://localhost:%d/x" % port)
	assert res.rc == 0, res
	assert res.out == "403 403", res
	m = SUMMARY_RE.search(res.err)
	assert m and m.group(1) == "2", res.err
	assert "cloud metadata" in res.err, res.err
	assert ("network GET localhost:%d: address 127.0.0.1 is loopback (1 "
	    "time); name the address on purpose: --resolve localhost:%d:"
	    "127.0.0.1\n" % (port, port)) in res.err, res.err
	assert http_upstream.requests == []
	recs = audit_lines(audit)
	assert [r["decision"] for r in recs if r["mode"] == "forward"] == \
	    ["deny", "deny"], recs
	# nothing was used outside the allow-list
	assert "keyhole: report-only: nothing outside the allow-list was " \
	    "used" in res.err, res.err


def test_report_only_keeps_credential_hosts_blocked(box):
	res = box.run("run", "--report-only", "--credential", "openai",
	    "--", "curl", "-sS", "--noproxy", "", "-o", "/dev/null", "-w",
	    "%{http_code}", "http://api.openai.com/v1/models",
	    env={"OPENAI_API_KEY": "sk-test-0123456789abcdef"})
	assert res.rc == 0, res
	assert res.out == "403", res
	assert "credential upstream" in res.err, res.err


def test_why_host_prints_the_same_suggestion(box):
	res = box.run("why", "--allow-domain", "api.test", "--host",
	    "evil.test:8443")
	assert res.rc == 0, res
	assert "  Suggested fix: --allow-domain evil.test:8443\n" in res.out
	assert '  In a profile: {"network": {"allow_domain": ' \
	    '["evil.test:8443"]}}\n' in res.out, res.out
	res = box.run("why", "--allow-domain", "api.test", "--host",
	    "evil.test:8443", "--json")
	assert json.loads(res.out)["suggested_profile"] == {
	    "network": {"allow_domain": ["evil.test:8443"]}}


def test_silent_report_only_prints_nothing(box, http_upstream):
	port = http_upstream.port
	res = box.run("run", "--silent", "--report-only", "--resolve",
	    "a.test:%d:127.0.0.1" % port, "--", "curl", "-sS", "--noproxy", "",
	    "-o", "/dev/null", "-w", "%{http_code}",
	    "http://a.test:%d/x" % port)
	assert res.rc == 0, res
	assert res.out == "200", res
	assert res.err == "", res
