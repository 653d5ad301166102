"""Java trusts interception through --tls-java-truststore (SPEC 4.12): a
PKCS#12 truststore (certificates only, the JDK's trusted-certificate
attribute, no password) beside the PEM bundle, and JAVA_TOOL_OPTIONS
pointing the JVM at it, printed by `keyhole proxy` and set in `run`'s
child.  A real java.net.http.HttpClient goes through the proxy to a
credential host served by a loopback TLS upstream: the upstream sees the
real secret, the JVM only ever holds the phantom."""

import os
import shutil
import subprocess

import pytest

from reverse_fixtures import REAL_SECRET, header_dict, route, write_profile  # noqa: F401
from run_fixtures import box, try_bin  # noqa: F401

JAVA = shutil.which("java")
JAVAC = shutil.which("javac")
KEYTOOL = shutil.which("keytool")
pytestmark = pytest.mark.skipif(JAVA is None or JAVAC is None or
    KEYTOOL is None, reason="java, javac or keytool not installed "
    "(default-jdk-headless)")

# argv: proxy URL (http://user:pass@host:port), target URL, phantom.
# Prints the status, the value of -Dkeyhole.mark, then the body.  The
# phantom goes in x-api-key: with an Authenticator set (for the proxy's
# 407), HttpClient drops a request's own Authorization header.
FETCH = r"""
import java.net.*;
import java.net.http.*;
import java.time.Duration;

public class Fetch {
	public static void main(String[] a) throws Exception {
		URI p = URI.create(a[0]);
		HttpClient.Builder b = HttpClient.newBuilder()
		    .proxy(ProxySelector.of(new InetSocketAddress(p.getHost(),
		    p.getPort())))
		    .version(HttpClient.Version.HTTP_1_1)
		    .connectTimeout(Duration.ofSeconds(10));
		String ui = p.getRawUserInfo();
		if (ui != null && ui.indexOf(':') > 0) {
			String user = ui.substring(0, ui.indexOf(':'));
			String pass = ui.substring(ui.indexOf(':') + 1);
			b.authenticator(new Authenticator() {
				protected PasswordAuthentication
				    getPasswordAuthentication() {
					return new PasswordAuthentication(user,
					    pass.toCharArray());
				}
			});
		}
		HttpRequest r = HttpRequest.newBuilder(URI.create(a[1]))
		    .header("x-api-key", a[2])
		    .timeout(Duration.ofSeconds(10)).build();
		HttpResponse<String> resp = b.build().send(r,
		    HttpResponse.BodyHandlers.ofString());
		System.out.println(resp.statusCode());
		System.out.println(System.getProperty("keyhole.mark"));
		System.out.println(resp.body());
	}
}
"""

X_API_KEY = {"inject_header": "x-api-key", "credential_format": "{}"}


@pytest.fixture(scope="module")
def fetch_dir(tmp_path_factory):
	d = str(tmp_path_factory.mktemp("java"))
	with open(os.path.join(d, "Fetch.java"), "w") as f:
		f.write(FETCH)
	subprocess.run([JAVAC, "-d", d, os.path.join(d, "Fetch.java")],
	    check=True, timeout=120, capture_output=True)
	return d


def _java(fetch_dir, px_url, url, phantom, java_opts=None, extra=()):
	env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
	    "HOME": os.environ.get("HOME", "/tmp")}
	if java_opts is not None:
		env["JAVA_TOOL_OPTIONS"] = java_opts
	# The JDK refuses Basic proxy auth for CONNECT unless allowed.
	return subprocess.run([JAVA, "-XX:-UsePerfData",
	    "-Djdk.http.auth.tunneling.disabledSchemes=", *extra, "-cp",
	    fetch_dir, "Fetch", px_url, url, phantom], env=env,
	    capture_output=True, text=True, timeout=60)


def test_java_httpclient_trusts_the_truststore_through_the_proxy(route,
    tls_upstream, fetch_dir):
	r = route(tls_upstream, args=["--tls-java-truststore"],
	    **X_API_KEY)
	opts = r.px.env["JAVA_TOOL_OPTIONS"]
	store = opts.split("-Djavax.net.ssl.trustStore=")[1].split()[0]
	assert "-Djavax.net.ssl.trustStoreType=PKCS12" in opts.split()
	assert os.path.dirname(store) == os.path.dirname(
	    r.px.env["KEYHOLE_CA_BUNDLE"])
	assert os.stat(store).st_mode & 0o777 == 0o444
	url = "https://api.test:%d/java/x" % tls_upstream.port
	# Without the flags the JVM's own trust refuses keyhole's leaf.
	res = _java(fetch_dir, r.px.env["HTTPS_PROXY"], url, r.phantom)
	assert res.returncode != 0, res
	assert "PKIX" in res.stderr or "SSLHandshake" in res.stderr, res
	assert tls_upstream.requests == []
	res = _java(fetch_dir, r.px.env["HTTPS_PROXY"], url, r.phantom, opts)
	assert res.returncode == 0, res
	assert res.stdout.splitlines()[0] == "200", res
	assert REAL_SECRET not in res.stdout
	assert [q["path"] for q in tls_upstream.requests] == ["/java/x"]
	assert header_dict(tls_upstream.requests[0])["x-api-key"] == \
	    REAL_SECRET
	rec = r.px.wait_audit(mode="intercept", method="GET")[-1]
	assert rec["status"] == 200 and rec["path"] == "/java/x", rec


def test_java_truststore_holds_only_certificates_with_the_ca(route,
    tls_upstream):
	r = route(tls_upstream, args=["--tls-java-truststore"])
	store = r.px.env["JAVA_TOOL_OPTIONS"].split(
	    "-Djavax.net.ssl.trustStore=")[1].split()[0]
	# No password needed to list it; every entry a trusted certificate.
	out = subprocess.run([KEYTOOL, "-list", "-rfc", "-keystore", store,
	    "-storetype", "PKCS12"], stdin=subprocess.DEVNULL,
	    capture_output=True, text=True, timeout=60)
	assert out.returncode == 0, out
	assert "Entry type: trustedCertEntry" in out.stdout, out.stdout
	assert "PrivateKeyEntry" not in out.stdout
	assert "Alias name: keyhole-ca" in out.stdout
	# keyhole-ca is the run's root (KEYHOLE_CA_CERT), and the system
	# roots and the --upstream-ca file's certificate are there too.
	with open(r.px.env["KEYHOLE_CA_CERT"]) as f:
		root = "".join(f.read().split("\n")[1:-2])
	blocks = out.stdout.split("Alias name: ")
	ours = [b for b in blocks if b.startswith("keyhole-ca\n")][0]
	assert root in "".join(ours.split("\n")), ours
	with open(r.px.env["KEYHOLE_CA_BUNDLE"]) as f:
		pem_count = f.read().count("BEGIN CERTIFICATE")
	assert out.stdout.count("trustedCertEntry") == pem_count >= 2
	# No key anywhere: openssl sees certificate bags only.
	o = subprocess.run(["openssl", "pkcs12", "-in", store, "-info",
	    "-nokeys", "-passin", "pass:"], capture_output=True, text=True,
	    timeout=30)
	assert o.returncode == 0, o
	assert "Shrouded Keybag" not in o.stderr + o.stdout
	assert "Key bag" not in o.stderr + o.stdout
	assert "2.16.840.1.113894.746875.1.1" in o.stdout or \
	    "Trusted key usage" in o.stdout, o.stdout[:2000]
	r.px.proc.terminate()
	r.px.proc.wait(5)
	assert not os.path.exists(store)


def test_java_truststore_flag_with_nothing_to_intercept_warns(proxy):
	px = proxy("--allow-domain", "x.test", "--tls-java-truststore")
	assert "JAVA_TOOL_OPTIONS" not in px.env
	assert "KEYHOLE_CA_BUNDLE" not in px.env
	px.wait_stderr("--tls-java-truststore: nothing is intercepted")


def test_java_truststore_absent_without_the_flag(route, tls_upstream):
	r = route(tls_upstream)
	assert "JAVA_TOOL_OPTIONS" not in r.px.env
	d = os.path.dirname(r.px.env["KEYHOLE_CA_BUNDLE"])
	assert sorted(os.listdir(d)) == ["ca-bundle.pem", "ca.pem"]


def test_run_java_child_gets_the_jvm_flags_not_the_inherited_ones(box,
    tmp_path, ca, tls_upstream, fetch_dir):
	"""Under `keyhole run` the JVM finds the truststore by itself.  An
	inherited JAVA_TOOL_OPTIONS is dropped as before (it can load code:
	-javaagent), so the child's holds keyhole's flags alone."""
	port = tls_upstream.port
	prof = write_profile(tmp_path, {"svc": {
	    "upstream": "https://api.test:%d" % port,
	    "credential_key": "env://SVC_KEY", "env_var": "SVC_API_KEY",
	    **X_API_KEY}})
	res = box.run("run", "--profile", prof, "--upstream-ca",
	    os.path.join(ca, "ca.pem"), "--resolve",
	    "api.test:%d:127.0.0.1" % port, "--tls-java-truststore",
	    "--read", fetch_dir, "--", "/bin/sh", "-c",
	    'echo "$JAVA_TOOL_OPTIONS"; exec java -XX:-UsePerfData '
	    '-Djdk.http.auth.tunneling.disabledSchemes= -cp "$D" Fetch '
	    '"$HTTPS_PROXY" "https://api.test:%d/run" "$SVC_API_KEY"' % port,
	    env={"SVC_KEY": REAL_SECRET, "D": fetch_dir,
	    "JAVA_TOOL_OPTIONS": "-Dkeyhole.mark=inherited"}, timeout=90)
	assert res.rc == 0, res.out + res.err
	lines = res.out.splitlines()
	assert lines[0].startswith("-Djavax.net.ssl.trustStore="), lines
	assert lines[0].endswith("/truststore.p12 "
	    "-Djavax.net.ssl.trustStoreType=PKCS12"), lines
	assert lines[1:3] == ["200", "null"], res
	assert REAL_SECRET not in res.out
	assert [q["path"] for q in tls_upstream.requests] == ["/run"]
	assert header_dict(tls_upstream.requests[0])["x-api-key"] == \
	    REAL_SECRET
