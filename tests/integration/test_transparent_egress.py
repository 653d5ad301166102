"""Transparent egress (SPEC 4.13): a tool that ignores the proxy variables
reaches an allow-listed host all the same.

The child's DNS (SPEC 3.1) answers api.test, allow-listed, with a synthetic
address of 198.18.0.0/15; a connect to it on 443 or 80 is connected by the
mediator to the proxy, which serves it as a CONNECT to api.test:443 (the
TLS SNI must say api.test) or as a plain-HTTP forward (Host must say
api.test), audited as mode "transparent".  All in a private network and
mount namespace (dns_world.py): api.test's real address 10.77.0.7 serves
HTTPS (the test CA) on 443 and HTTP on 80.  Every child runs with every
proxy variable removed.
"""

import glob
import json
import os
import shutil
import subprocess

import pytest

from run_fixtures import Box
from test_sandbox_dns import netns_ok, PY, run_world

pytestmark = pytest.mark.skipif(not netns_ok(),
    reason="needs root: unshare --net --mount and ip(8)")

NOPROXY = ["env", "-u", "HTTPS_PROXY", "-u", "HTTP_PROXY", "-u",
    "https_proxy", "-u", "http_proxy", "-u", "ALL_PROXY", "-u", "all_proxy",
    "-u", "NO_PROXY", "-u", "no_proxy"]

PYGET = r'''
import ssl, sys, urllib.request
ctx = ssl.create_default_context(cafile="ca.pem")
op = urllib.request.build_opener(urllib.request.ProxyHandler({}),
    urllib.request.HTTPSHandler(context=ctx))
try:
	print(op.open(sys.argv[1], timeout=10).read().decode().strip())
except Exception as e:
	print("ERR", getattr(e, "code", ""), e)
'''

PYRAW = r'''
import errno, socket, ssl, sys, time
a = socket.getaddrinfo("api.test", 443, socket.AF_INET)[0][4][0]
print("addr", a)
s = socket.socket()
s.settimeout(5)
try:
	s.connect((a, 8443))
	print("8443 ok")
except OSError as e:
	print("8443", errno.errorcode.get(e.errno, e.errno))
s.close()
# SNI naming another host on api.test's address: refused.
ctx = ssl.create_default_context(cafile="ca.pem")
try:
	t = ctx.wrap_socket(socket.create_connection((a, 443), timeout=5),
	    server_hostname="db.test")
	t.sendall(b"GET / HTTP/1.1\r\nHost: db.test\r\n\r\n")
	print("sni", t.recv(100)[:12])
except (OSError, ssl.SSLError) as e:
	print("sni refused")
# An allowed name the proxy cannot resolve: the TLS client sees the
# connection closed, not HTTP bytes it would take for a broken handshake.
g = socket.getaddrinfo("gone.test", 443, socket.AF_INET)[0][4][0]
try:
	t = ctx.wrap_socket(socket.create_connection((g, 443), timeout=5),
	    server_hostname="gone.test")
	print("gone", "handshake")
except (ssl.SSLEOFError, ssl.SSLZeroReturnError, ConnectionError):
	print("gone", "closed")
except ssl.SSLError as e:
	print("gone", "ssl", e.reason)
except OSError as e:
	print("gone", "closed")
# Host naming another host: 403.
h = socket.create_connection((a, 80), timeout=5)
h.sendall(b"GET / HTTP/1.1\r\nHost: evil.test\r\nConnection: close\r\n\r\n")
print("host", h.recv(100).split(b"\r\n")[0].decode())
'''

NODE = r'''
fetch("https://api.test/node").then(r => r.text()).then(
    t => console.log(t.trim()), e => console.log("ERR", e.cause ? e.cause.code : e));
'''

JAVA = r'''
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;

public class Get {
	public static void main(String[] a) throws Exception {
		HttpClient c = HttpClient.newBuilder()
		    .proxy(HttpClient.Builder.NO_PROXY).build();
		HttpResponse<String> r = c.send(HttpRequest.newBuilder(
		    URI.create(a[0])).build(), HttpResponse.BodyHandlers.ofString());
		System.out.println(r.body().trim());
	}
}
'''


def build_java(d, ca_pem):
	"""Get.class and a truststore holding the test CA, or a skip reason."""
	if not (shutil.which("javac") and shutil.which("keytool") and
	    shutil.which("java")):
		return "javac, keytool or java missing"
	with open(os.path.join(d, "Get.java"), "w") as f:
		f.write(JAVA)
	p = subprocess.run(["javac", "Get.java"], cwd=d, capture_output=True,
	    timeout=120)
	if p.returncode != 0:
		return "javac failed: %s" % p.stderr.decode()[-300:]
	p = subprocess.run(["keytool", "-importcert", "-noprompt", "-alias",
	    "test", "-file", ca_pem, "-keystore", "trust.p12", "-storetype",
	    "PKCS12", "-storepass", "changeit"], cwd=d, capture_output=True,
	    timeout=60)
	if p.returncode != 0:
		return "keytool failed"
	return None


@pytest.fixture(scope="module")
def world(keyhole, ca):
	box = Box(keyhole)
	d = box.granted
	shutil.copy(os.path.join(ca, "ca.pem"), os.path.join(d, "ca.pem"))
	for name, text in (("get.py", PYGET), ("raw.py", PYRAW),
	    ("fetch.js", NODE)):
		box.write(os.path.join(d, name), text)
	java_skip = build_java(d, os.path.join(d, "ca.pem"))
	audit = box.path("audit.log")
	run = [keyhole, "run", "--allow-cwd", "--audit-log", audit,
	    "--allow-domain", "api.test", "--allow-domain", "gone.test",
	    "--"] + NOPROXY
	runs = {
		"https": run + [PY, "get.py", "https://api.test/tls"],
		"http": run + [PY, "get.py", "http://api.test/plain"],
		"curl": run + ["curl", "-sS", "--cacert", "ca.pem",
		    "https://api.test/curl"],
		"node": run + ["NODE_EXTRA_CA_CERTS=ca.pem", "node", "fetch.js"],
		"raw": run + [PY, "raw.py"],
		"unlisted": run + [PY, "get.py", "https://db.test/"],
	}
	if java_skip is None:
		# The JDK reads its security settings from /etc/java-N-openjdk,
		# which the default grants do not name.
		jconf = sorted(glob.glob("/etc/java-*-openjdk"))
		jrun = [keyhole, "run", "--allow-cwd", "--audit-log", audit,
		    "--allow-domain", "api.test"]
		for j in jconf:
			jrun += ["--read", j]
		runs["java"] = jrun + ["--"] + NOPROXY + ["java", "-Djavax.net.ssl.trustStore="
		    "trust.p12", "-Djavax.net.ssl.trustStorePassword=changeit",
		    "-cp", ".", "Get", "https://api.test/java"]
	cfg = {"dir": d, "names": {"api.test": "10.77.0.7",
	    "db.test": "10.77.0.7"},
	    "web": [{"addr": "10.77.0.7", "port": 443,
	    "cert": os.path.join(ca, "server.pem"),
	    "key": os.path.join(ca, "server.key")},
	    {"addr": "10.77.0.7", "port": 80}],
	    "runs": [{"argv": v, "env": box.env(), "timeout": 60}
	    for v in runs.values()]}
	out, rep = run_world(box, cfg, runs, 400)
	assert os.path.exists(audit), {k: (v.rc, v.out, v.err)
	    for k, v in out.items()}
	with open(audit) as f:
		audit_lines = [json.loads(l) for l in f if l.strip()]
	yield {"runs": out, "audit": audit_lines, "java_skip": java_skip,
	    "seen": rep["seen"], "served": rep["served"]}
	box.close()


def test_https_without_proxy_variables_reaches_allowed_host(world):
	r = world["runs"]["https"]
	assert r.out.strip() == "served api.test /tls", r
	assert "api.test" in world["served"][0]


def test_plain_http_without_proxy_variables_is_forwarded(world):
	r = world["runs"]["http"]
	assert r.out.strip() == "served api.test /plain", r


def test_curl_without_proxy_variables_reaches_allowed_host(world):
	r = world["runs"]["curl"]
	assert r.out.strip() == "served api.test /curl", r


def test_node_fetch_reaches_allowed_host(world):
	r = world["runs"]["node"]
	assert r.out.strip() == "served api.test /node", r


def test_java_httpclient_reaches_allowed_host(world):
	if world["java_skip"] is not None:
		pytest.skip(world["java_skip"])
	r = world["runs"]["java"]
	assert r.out.strip() == "served api.test /java", (r, r.err[-2000:])


def test_synthetic_address_other_port_sni_and_host_are_refused(world):
	r = world["runs"]["raw"]
	lines = r.out.splitlines()
	assert lines[0].startswith("addr 198.18."), r
	assert "8443 EACCES" in lines, r
	assert "sni refused" in lines, r
	assert any(l.startswith("host HTTP/1.1 403") for l in lines), r
	assert "gone closed" in lines, r


def test_host_not_allowed_stays_unresolvable(world):
	r = world["runs"]["unlisted"]
	assert r.out.startswith("ERR"), r
	assert all("db.test" not in h for h in sum(world["served"], [])), \
	    world["served"]


def test_transparent_connections_are_audited_as_transparent(world):
	t = [a for a in world["audit"] if a.get("mode") == "transparent"]
	assert any(a.get("decision") == "allow" and a.get("host") ==
	    "api.test" and a.get("port") == 443 for a in t), world["audit"]
	assert any(a.get("decision") == "allow" and a.get("port") == 80
	    for a in t), world["audit"]
	assert any(a.get("decision") == "deny" for a in t), world["audit"]
