"""The deployment kit under deploy/ (SPEC 4.10): the Kubernetes manifests
parse and carry what the sidecar and gateway shapes need, their profiles
load, the egress lock-down rule lets only keyhole's UID out (checked in a
network namespace pair the test makes), the systemd unit passes
systemd-analyze verify, and the image's runtime stage (only what the
Dockerfile copies) runs the binary as the image's user."""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import uuid

import pytest

yaml = pytest.importorskip("yaml")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
DEPLOY = os.path.join(ROOT, "deploy")
K8S = os.path.join(DEPLOY, "kubernetes")
KEYHOLE_UID = 65532


def docs(name):
	with open(os.path.join(K8S, name)) as f:
		return [d for d in yaml.safe_load_all(f) if d]


def by_kind(ds, kind):
	return [d for d in ds if d["kind"] == kind]


def pod_spec(ds):
	return by_kind(ds, "Deployment")[0]["spec"]["template"]["spec"]


def test_deploy_manifests_parse_and_kubectl_accepts_them():
	for name in ("sidecar.yaml", "gateway.yaml"):
		ds = docs(name)
		assert ds, name
		for d in ds:
			assert d["apiVersion"] and d["kind"] and \
			    d["metadata"]["name"], d
	kubectl = shutil.which("kubectl")
	if kubectl is None:
		pytest.skip("kubectl not installed: manifests parsed only")
	p = subprocess.run([kubectl, "apply", "--dry-run=client",
	    "--validate=false", "-f", os.path.join(K8S, "sidecar.yaml"), "-f",
	    os.path.join(K8S, "gateway.yaml")], capture_output=True,
	    timeout=60)
	err = p.stderr.decode()
	if p.returncode != 0 and ("connection refused" in err or
	    "couldn't get current server API" in err):
		pytest.skip("kubectl needs an API server for its client "
		    "dry-run here (none reachable): manifests parsed only")
	assert p.returncode == 0, err
	assert b"created (dry run)" in p.stdout


def test_deploy_sidecar_is_native_locked_down_and_vault_first():
	ds = docs("sidecar.yaml")
	dep = by_kind(ds, "Deployment")[0]
	ann = dep["spec"]["template"]["metadata"]["annotations"]
	assert ann["vault.hashicorp.com/agent-inject"] == "true"
	assert ann["vault.hashicorp.com/agent-init-first"] == "true"
	spec = pod_spec(ds)
	inits = {c["name"]: c for c in spec["initContainers"]}
	names = [c["name"] for c in spec["initContainers"]]
	# The lock-down runs before keyhole, keyhole is a native sidecar.
	assert names.index("egress-lockdown") < names.index("keyhole")
	kh = inits["keyhole"]
	assert kh["restartPolicy"] == "Always"
	assert kh["securityContext"]["runAsUser"] == KEYHOLE_UID
	assert kh["securityContext"]["readOnlyRootFilesystem"] is True
	assert kh["securityContext"]["capabilities"]["drop"] == ["ALL"]
	assert "--env-file=/shared/keyhole.env" in kh["args"]
	assert kh["startupProbe"]["httpGet"]["path"] == "/readyz"
	lock = inits["egress-lockdown"]
	assert lock["command"][:2] == ["nft", "-f"]
	assert lock["securityContext"]["capabilities"]["add"] == ["NET_ADMIN"]
	agent = spec["containers"][0]
	assert agent["securityContext"]["runAsUser"] != KEYHOLE_UID
	assert ". /shared/keyhole.env" in " ".join(agent["command"])
	# The ConfigMap's rules are deploy/kubernetes/egress-lockdown.nft.
	cm = by_kind(ds, "ConfigMap")[0]["data"]
	with open(os.path.join(K8S, "egress-lockdown.nft")) as f:
		text = f.read()
	assert cm["egress-lockdown.nft"].strip() in text


def test_deploy_gateway_has_service_pdb_and_agent_network_policy():
	ds = docs("gateway.yaml")
	dep = by_kind(ds, "Deployment")[0]
	assert dep["spec"]["replicas"] >= 2
	c = pod_spec(ds)["containers"][0]
	assert "--listen=0.0.0.0:3128" in c["args"]
	assert any(a.startswith("--clients=") for a in c["args"])
	assert any(a.startswith("--drain-timeout=") for a in c["args"])
	assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
	assert by_kind(ds, "Service")[0]["spec"]["ports"][0]["port"] == 3128
	assert by_kind(ds, "PodDisruptionBudget")
	pols = {p["metadata"]["name"]: p for p in by_kind(ds, "NetworkPolicy")}
	eg = pols["agents-egress-only-via-keyhole"]["spec"]
	assert eg["policyTypes"] == ["Egress"]
	ports = sorted((p["protocol"], p["port"]) for rule in eg["egress"]
	    for p in rule["ports"])
	assert ports == [("TCP", 53), ("TCP", 3128), ("UDP", 53)], ports


def _cm_profile(name, tmp_path):
	data = by_kind(docs(name), "ConfigMap")[0]["data"]["profile.json"]
	p = tmp_path / ("%s.json" % name)
	p.write_text(data)
	return str(p)


@pytest.mark.parametrize("name", ["sidecar.yaml", "gateway.yaml"])
def test_deploy_profiles_and_clients_file_load(keyhole, tmp_path, name):
	prof = _cm_profile(name, tmp_path)
	p = subprocess.run([keyhole, "proxy", "--profile", prof, "--dry-run"],
	    capture_output=True, timeout=20)
	assert p.returncode == 0, p.stderr.decode()
	assert b"openai" in p.stdout
	if name != "gateway.yaml":
		return
	sec = [d for d in by_kind(docs(name), "Secret")
	    if d["metadata"]["name"] == "keyhole-gateway-clients"][0]
	cfile = tmp_path / "clients.json"
	cfile.write_text(sec["stringData"]["clients.json"])
	# The clients file loads against the profile's routes: keyhole
	# starts (and is stopped as soon as it printed its variables).
	key = tmp_path / "openai"
	key.write_text("sk-test")
	text = open(prof).read().replace("/var/run/secrets/keyhole/openai",
	    str(key))
	open(prof, "w").write(text)
	px = subprocess.Popen([keyhole, "proxy", "--profile", prof,
	    "--clients", str(cfile), "--tls-intercept", "off"],
	    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
	try:
		line = px.stdout.readline()
		assert line.startswith(b"HTTP_PROXY=http://127.0.0.1:"), \
		    px.stderr.read1(4096) if hasattr(px.stderr, "read1") else line
	finally:
		px.terminate()
		px.wait(5)


def _netns_ok():
	return os.geteuid() == 0 and shutil.which("ip") and \
	    shutil.which("nft") and shutil.which("setpriv")


NS_CLIENT = r'''
import socket, sys
s = socket.socket()
s.settimeout(2)
try:
	s.connect((sys.argv[1], int(sys.argv[2])))
	s.sendall(b"hi")
	print("OK", s.recv(10).decode())
except OSError as e:
	print("ERR", e.errno)
'''

NS_SERVER = r'''
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 0))
s.listen(8)
print(s.getsockname()[1], flush=True)
s.settimeout(20)
while True:
	try:
		c, _ = s.accept()
	except OSError:
		break
	c.settimeout(2)
	try:
		c.recv(10)
		c.sendall(b"pong")
	except OSError:
		pass
	c.close()
'''


def test_deploy_egress_lockdown_lets_only_keyholes_uid_out(tmp_path):
	if not _netns_ok():
		pytest.skip("needs root, ip, nft and setpriv (scripts/deps.sh "
		    "installs nftables)")
	tag = uuid.uuid4().hex[:6]
	pod, up = "kh-pod-" + tag, "kh-up-" + tag
	va, vb = "khva" + tag, "khvb" + tag
	nft = os.path.join(K8S, "egress-lockdown.nft")
	server = None

	def ip(*a):
		subprocess.run(["ip"] + list(a), check=True, timeout=10)
	try:
		ip("netns", "add", pod)
		ip("netns", "add", up)
		ip("link", "add", va, "type", "veth", "peer", "name", vb)
		ip("link", "set", va, "netns", pod)
		ip("link", "set", vb, "netns", up)
		ip("-n", pod, "addr", "add", "10.251.0.1/24", "dev", va)
		ip("-n", up, "addr", "add", "10.251.0.2/24", "dev", vb)
		for ns, dev in ((pod, va), (up, vb)):
			ip("-n", ns, "link", "set", dev, "up")
			ip("-n", ns, "link", "set", "lo", "up")
		server = subprocess.Popen(["ip", "netns", "exec", up,
		    sys.executable, "-c", NS_SERVER, "10.251.0.2"],
		    stdout=subprocess.PIPE)
		port = server.stdout.readline().decode().strip()
		assert port.isdigit(), port

		def reach(uid):
			p = subprocess.run(["ip", "netns", "exec", pod, "setpriv",
			    "--reuid=%d" % uid, "--regid=%d" % uid,
			    "--clear-groups", sys.executable, "-c", NS_CLIENT,
			    "10.251.0.2", port], capture_output=True, timeout=20)
			return p.stdout.decode().strip()
		# Before the lock-down both users get out.
		assert reach(1000) == "OK pong"
		subprocess.run(["ip", "netns", "exec", pod, "nft", "-f", nft],
		    check=True, timeout=10)
		assert reach(KEYHOLE_UID) == "OK pong"
		got = reach(1000)
		assert got.startswith("ERR"), got	# EPERM: dropped on output
		assert reach(0).startswith("ERR")	# not even root
		# Loopback stays open to everyone (the agent reaches keyhole).
		p = subprocess.run(["ip", "netns", "exec", pod, "setpriv",
		    "--reuid=1000", "--regid=1000", "--clear-groups",
		    sys.executable, "-c", "import socket;s=socket.socket();"
		    "s.bind(('127.0.0.1',0));s.listen(1);c=socket.socket();"
		    "c.connect(s.getsockname());print('LO')"],
		    capture_output=True, timeout=20)
		assert p.stdout.strip() == b"LO", p.stderr
	finally:
		if server is not None:
			server.kill()
			server.wait(5)
		subprocess.run(["ip", "netns", "del", pod], timeout=10)
		subprocess.run(["ip", "netns", "del", up], timeout=10)


def test_deploy_systemd_unit_passes_systemd_analyze_verify(keyhole,
    tmp_path):
	sa = shutil.which("systemd-analyze")
	if sa is None:
		pytest.skip("systemd-analyze not installed")
	with open(os.path.join(DEPLOY, "systemd", "keyhole-proxy.service")) as f:
		unit = f.read()
	for key in ("DynamicUser=yes", "LoadCredential=",
	    "ExecReload=/bin/kill -HUP $MAINPID", "ProtectSystem=strict",
	    "RestrictAddressFamilies=", "\nCapabilityBoundingSet=\n"):
		assert key in unit, key
	# The unit names /usr/bin/keyhole; verify checks that it exists.
	unit = unit.replace("/usr/bin/keyhole", os.path.abspath(keyhole))
	d = tmp_path / "units"
	d.mkdir()
	(d / "keyhole-proxy.service").write_text(unit)
	env = dict(os.environ)
	man = os.path.join(ROOT, "build", "man", "keyhole.1")
	if os.path.exists(man):
		(tmp_path / "man" / "man1").mkdir(parents=True)
		shutil.copy(man, str(tmp_path / "man" / "man1"))
		env["MANPATH"] = str(tmp_path / "man")
	p = subprocess.run([sa, "verify", str(d / "keyhole-proxy.service")],
	    capture_output=True, timeout=60, env=env)
	err = p.stderr.decode()
	if not os.path.exists(man):
		err = "\n".join(l for l in err.splitlines()
		    if "man keyhole(1)" not in l)
	assert p.returncode == 0 or not err.strip(), err
	assert "keyhole-proxy.service:" not in err, err
	# The profile it names loads.
	p = subprocess.run([keyhole, "proxy", "--profile", os.path.join(
	    DEPLOY, "systemd", "proxy.json"), "--dry-run"],
	    capture_output=True, timeout=20)
	assert p.returncode == 0, p.stderr


RUNTIME_DRIVER = textwrap.dedent(r'''
	import json, os, signal, socket, subprocess, sys
	root, uid, chroot = sys.argv[1], int(sys.argv[2]), sys.argv[4]
	p = subprocess.Popen([chroot, "--userspec=%d:%d" % (uid, uid), root,
	    "/usr/bin/keyhole", "proxy", "--listen", "127.0.0.1:0",
	    "--admin-listen", "127.0.0.1:" + sys.argv[3]],
	    stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={})
	first = p.stdout.readline().decode()
	res = {"first": first}
	try:
		a = socket.create_connection(("127.0.0.1", int(sys.argv[3])),
		    timeout=3)
		a.sendall(b"GET /healthz HTTP/1.1\r\n\r\n")
		res["healthz"] = a.recv(100).decode().split(" ")[1]
	except OSError as e:
		res["healthz"] = repr(e)
	p.send_signal(signal.SIGTERM)
	res["rc"] = p.wait(5)
	res["stderr"] = p.stderr.read().decode()
	v = subprocess.run([chroot, "--userspec=%d:%d" % (uid, uid), root,
	    "/usr/bin/keyhole", "version"], capture_output=True, env={})
	res["version"] = v.stdout.decode()
	print(json.dumps(res))
''')


def test_deploy_image_runtime_stage_runs_as_its_user(keyhole, tmp_path):
	if os.geteuid() != 0 or shutil.which("chroot") is None:
		pytest.skip("needs root and chroot")
	with open(os.path.join(DEPLOY, "Dockerfile")) as f:
		df = f.read()
	stage = df.split("AS runtime", 1)[1]
	assert "\nRUN " not in stage		# no shell needed at run time
	m = re.search(r"^USER (\d+):(\d+)$", stage, re.M)
	assert m, "the runtime stage names a numeric non-root USER"
	uid = int(m.group(1))
	assert uid != 0
	copies = re.findall(r"^COPY --from=build (\S+) (\S+)$", stage, re.M)
	assert copies
	# The build stage's files: this Debian host's, the binary ours.  A
	# static (release) build is what the image holds; the sanitizer build
	# needs more libraries than the image copies.
	binary = os.path.join(ROOT, "build", "keyhole")
	if not os.path.exists(binary):
		pytest.skip("build/keyhole (make) not built")
	gen = {"/etc/passwd.keyhole": "keyhole:x:%d:%d:keyhole:/nonexistent:"
	    "/usr/sbin/nologin\n" % (uid, uid),
	    "/etc/group.keyhole": "keyhole:x:%d:\n" % uid}
	root = tempfile.mkdtemp(prefix="keyhole-img-")
	try:
		os.chmod(root, 0o755)
		for src, dst in copies:
			out = os.path.join(root, dst.lstrip("/"))
			os.makedirs(os.path.dirname(out), exist_ok=True)
			if src in gen:
				with open(out, "w") as f:
					f.write(gen[src])
			elif src.startswith("/src/build/"):
				# build/keyhole and, on x86_64, the OpenSSL
				# it loads on first use (keyhole-tls.so).
				shutil.copy(os.path.join(ROOT, "build",
				    src[len("/src/build/"):]), out)
			else:
				shutil.copy(src, out)
		# Every library the binary needs is in the root.
		ldd = subprocess.run(["ldd", binary], capture_output=True,
		    timeout=10).stdout.decode()
		for l in ldd.splitlines():
			path = l.split("=>")[-1].split("(")[0].strip()
			if path.startswith("/"):
				assert os.path.exists(os.path.join(root,
				    path.lstrip("/"))), "missing %s" % path
		s = socket.socket()
		s.bind(("127.0.0.1", 0))
		aport = str(s.getsockname()[1])
		s.close()
		drv = tmp_path / "drv.py"
		drv.write_text(RUNTIME_DRIVER)
		p = subprocess.run([sys.executable, str(drv), root, str(uid),
		    aport, shutil.which("chroot")], capture_output=True,
		    timeout=60)
		assert p.returncode == 0, p.stderr.decode()
		res = json.loads(p.stdout.decode().splitlines()[-1])
		assert res["first"].startswith("HTTP_PROXY=http://keyhole:"), res
		assert res["healthz"] == "200", res
		assert res["rc"] == 0, res
		assert res["version"].startswith("keyhole "), res
		# The image holds nothing but what was copied.
		found = sorted(os.path.relpath(os.path.join(d, f), root)
		    for d, _, fs in os.walk(root) for f in fs)
		assert found == sorted(dst.lstrip("/") for _, dst in copies), \
		    found
	finally:
		shutil.rmtree(root, ignore_errors=True)
