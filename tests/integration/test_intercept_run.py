"""Interception under `keyhole run` (SPEC 4.12): the child finds the run's
CA through SSL_CERT_FILE and friends, can read the bundle (certificates
only), and real clients (curl, Python urllib, node) reach a credential
host with only the phantom; the bundle goes away with the run."""

import json
import os
import shutil

import pytest

from conftest import CA_VARS
from reverse_fixtures import REAL_SECRET, header_dict, write_profile
from run_fixtures import box, try_bin  # noqa: F401


def _args(tmp_path, ca, up):
	p = write_profile(tmp_path, {"svc": {
	    "upstream": "https://api.test:%d" % up.port,
	    "credential_key": "env://SVC_KEY", "env_var": "SVC_API_KEY"}})
	return ["run", "--profile", p, "--upstream-ca",
	    os.path.join(ca, "ca.pem"), "--resolve",
	    "api.test:%d:127.0.0.1" % up.port]


def test_run_child_gets_the_bundle_variables_and_can_read_it(box, tmp_path,
    ca, tls_upstream):
	res = box.run(*_args(tmp_path, ca, tls_upstream), "--", "/bin/sh",
	    "-c", 'env; echo ===; cat "$KEYHOLE_CA_CERT"; echo ===; '
	    'grep -c "BEGIN CERTIFICATE" "$SSL_CERT_FILE"',
	    env={"SVC_KEY": REAL_SECRET})
	assert res.rc == 0, res
	env_part, root_pem, count = res.out.split("===\n")
	env = dict(l.split("=", 1) for l in env_part.splitlines() if "=" in l)
	assert CA_VARS <= set(env), sorted(env)
	bundle = env["SSL_CERT_FILE"]
	assert all(env[v] == bundle for v in CA_VARS - {"KEYHOLE_CA_CERT"})
	assert root_pem.count("BEGIN CERTIFICATE") == 1
	assert "PRIVATE" not in root_pem
	assert int(count) >= 2
	# The run's directory is gone afterwards.
	assert not os.path.exists(os.path.dirname(bundle))


def test_run_curl_and_python_reach_the_route_with_the_phantom(box,
    tmp_path, ca, tls_upstream):
	port = tls_upstream.port
	py = ("import os, urllib.request as u; "
	    "r = u.Request('https://api.test:%d/py', headers={"
	    "'Authorization': 'Bearer ' + os.environ['SVC_API_KEY']}); "
	    "print(u.urlopen(r, timeout=10).status)" % port)
	res = box.run(*_args(tmp_path, ca, tls_upstream), "--", "/bin/sh",
	    "-c", 'curl -sS -o /dev/null -w "%%{http_code}\\n" '
	    '-H "Authorization: Bearer $SVC_API_KEY" '
	    'https://api.test:%d/curl && python3 -c "$PY"' % port,
	    env={"SVC_KEY": REAL_SECRET, "PY": py}, timeout=30)
	assert res.rc == 0, res
	assert res.out.split() == ["200", "200"], res
	paths = [q["path"] for q in tls_upstream.requests]
	assert paths == ["/curl", "/py"], paths
	for q in tls_upstream.requests:
		assert header_dict(q)["authorization"] == "Bearer " + REAL_SECRET


NODE = shutil.which("node")


@pytest.mark.skipif(NODE is None, reason="node not installed")
def test_run_node_https_trusts_node_extra_ca_certs(box, tmp_path, ca,
    tls_upstream):
	"""node 20 has no NODE_USE_ENV_PROXY: the script makes the CONNECT
	itself, then https over it trusting NODE_EXTRA_CA_CERTS."""
	port = tls_upstream.port
	js = """
const http = require('http'), https = require('https');
const u = new URL(process.env.HTTPS_PROXY);
const auth = 'Basic ' + Buffer.from(decodeURIComponent(u.username) + ':' +
    decodeURIComponent(u.password)).toString('base64');
const req = http.request({host: u.hostname, port: u.port, method: 'CONNECT',
    path: 'api.test:%d', headers: {'Proxy-Authorization': auth}});
req.on('connect', (res, socket) => {
  const r = https.request({host: 'api.test', port: %d, path: '/node',
      socket, servername: 'api.test', agent: false,
      headers: {Authorization: 'Bearer ' + process.env.SVC_API_KEY}},
      (resp) => { console.log(resp.statusCode); resp.resume();
        resp.on('end', () => process.exit(0)); });
  r.on('error', (e) => { console.log('ERR ' + e.message); process.exit(3); });
  r.end();
});
req.on('error', (e) => { console.log('ERR ' + e.message); process.exit(2); });
req.end();
""" % (port, port)
	res = box.run(*_args(tmp_path, ca, tls_upstream), "--", NODE, "-e",
	    js, env={"SVC_KEY": REAL_SECRET}, timeout=30)
	assert res.rc == 0, res
	assert res.out.strip() == "200", res
	assert header_dict(tls_upstream.requests[0])["authorization"] == \
	    "Bearer " + REAL_SECRET
