"""keyhole proxy as an unprivileged user on a read-only root filesystem
(SPEC 4.10): it starts, serves, and writes nothing but what it was asked
to write (--audit-log, --env-file).  Root only: the test makes a private
mount namespace (unshare --mount) where / is remounted read-only and one
directory stays writable, and runs keyhole under setpriv as nobody."""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import textwrap

import pytest

from conftest import free_port_number

DRIVER = textwrap.dedent(r'''
	import json, os, signal, socket, subprocess, sys, time
	keyhole, out, up_port, admin = sys.argv[1], sys.argv[2], \
	    int(sys.argv[3]), int(sys.argv[4])
	bindir = os.path.dirname(keyhole)
	def sh(*a):
		subprocess.run(a, check=True)
	sh("mount", "--make-rprivate", "/")
	sh("mount", "--bind", out, out)		# the one writable place
	sh("mount", "--bind", bindir, bindir)
	sh("mount", "-o", "remount,bind,ro", bindir)
	sh("mount", "-o", "remount,bind,ro", "/")
	res = {}
	try:
		open("/keyhole-probe", "w")
		res["root_writable"] = True
	except OSError:
		res["root_writable"] = False
	env = {"PATH": "/usr/bin:/bin", "SVC_KEY": "sk-readonly-secret"}
	p = subprocess.Popen(["setpriv", "--reuid=65534", "--regid=65534",
	    "--clear-groups", "--inh-caps=-all", "--bounding-set=-all",
	    keyhole, "proxy",
	    "--audit-log", out + "/audit.jsonl", "--env-file",
	    out + "/keyhole.env", "--admin-listen", "127.0.0.1:%d" % admin,
	    "--allow-domain", "web.test:%d" % up_port,
	    "--resolve", "web.test:%d:127.0.0.1" % up_port],
	    stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd="/")
	lines = []
	while True:
		l = p.stdout.readline().decode()
		if l in ("", "\n"):
			break
		lines.append(l.strip())
	envd = dict(l.split("=", 1) for l in lines)
	res["started"] = "KEYHOLE_PROXY_TOKEN" in envd
	if res["started"]:
		port = int(envd["HTTP_PROXY"].rsplit(":", 1)[1])
		s = socket.create_connection(("127.0.0.1", port), timeout=3)
		s.sendall(b"GET http://web.test:%d/x HTTP/1.1\r\nHost: w\r\n"
		    b"Proxy-Authorization: Bearer %s\r\nConnection: close\r\n\r\n"
		    % (up_port, envd["KEYHOLE_PROXY_TOKEN"].encode()))
		buf = b""
		while True:
			d = s.recv(65536)
			if not d:
				break
			buf += d
		res["status"] = int(buf.split(b" ", 2)[1])
		a = socket.create_connection(("127.0.0.1", admin), timeout=3)
		a.sendall(b"GET /readyz HTTP/1.1\r\n\r\n")
		res["readyz"] = int(a.recv(100).split(b" ", 2)[1])
		a.close()
		res["uid"] = int(open("/proc/%d/status" % p.pid).read()
		    .split("Uid:")[1].split()[0])
		res["files"] = sorted(os.listdir(out))
		st = os.stat(out + "/keyhole.env")
		res["env_mode"] = oct(st.st_mode & 0o777)
		res["env_uid"] = st.st_uid
	p.send_signal(signal.SIGTERM)
	try:
		res["rc"] = p.wait(5)
	except subprocess.TimeoutExpired:
		p.kill()
		res["rc"] = "timeout"
	res["stderr"] = p.stderr.read().decode()
	res["files_after"] = sorted(os.listdir(out))
	print(json.dumps(res))
''')


def test_proxy_runs_as_nobody_from_a_read_only_root(keyhole, tmp_path,
    http_upstream):
	if os.geteuid() != 0:
		pytest.skip("needs root for unshare --mount")
	for tool in ("unshare", "setpriv", "mount"):
		if shutil.which(tool) is None:
			pytest.skip("%s not installed" % tool)
	# Outside pytest's 0700 base directory, so nobody can reach it.
	outdir = tempfile.mkdtemp(prefix="keyhole-ro-")
	try:
		_run(keyhole, tmp_path, http_upstream, pathlib.Path(outdir))
	finally:
		shutil.rmtree(outdir, ignore_errors=True)


def _run(keyhole, tmp_path, http_upstream, out):
	os.chmod(str(out), 0o777)
	driver = tmp_path / "driver.py"
	driver.write_text(DRIVER)
	p = subprocess.run(["unshare", "--mount", sys.executable, str(driver),
	    os.path.abspath(keyhole), str(out), str(http_upstream.port),
	    str(free_port_number())], capture_output=True, timeout=60)
	assert p.returncode == 0, p.stderr.decode()
	res = json.loads(p.stdout.decode().strip().splitlines()[-1])
	assert res["root_writable"] is False, res
	assert res["started"], res["stderr"]
	assert res["uid"] == 65534, res
	assert res["status"] == 200, res
	assert res["readyz"] == 200, res
	# Nothing but what it was asked to write; the env file is 0640.
	assert res["files"] == ["audit.jsonl", "keyhole.env"], res
	assert res["env_mode"] == "0o640" and res["env_uid"] == 65534, res
	assert res["rc"] == 0, res
	assert "Read-only file system" not in res["stderr"], res["stderr"]
	assert "sk-readonly-secret" not in res["stderr"]
	# At exit the env file is removed, the audit log stays.
	assert res["files_after"] == ["audit.jsonl"], res
	recs = [json.loads(l) for l in open(str(out / "audit.jsonl"))]
	assert recs and recs[-1]["status"] == 200, recs
