"""Credential files watched by directory (SPEC 4.10): a file that appears,
is renamed over or swapped by a Kubernetes-style ..data symlink rename is
re-read at once, with no request and no signal in between; a watched
directory that disappears neither crashes the proxy nor makes it spin.

Every test waits for the re-read on stderr (-v prints "credential svc: now
available"/"reloaded") without sending anything to the proxy: the store's
own check runs only when a credential is used (a request, /readyz,
/metrics), so only the directory watch can produce those lines."""

import os
import shutil
import time

from conftest import free_port_number, wait_for
from test_proxy_ops import admin_get, parse_metrics
from test_proxy_reload import _route_profile, write_json

BOUND = 3.0	# seconds from the change to the re-read (~50 ms when idle)


def _start(proxy, tmp_path, http_upstream, key):
	prof = str(tmp_path / "p.json")
	write_json(prof, _route_profile(tmp_path, http_upstream.port, key))
	aport = free_port_number()
	px = proxy("-v", "--profile", prof, "--admin-listen",
	    "127.0.0.1:%d" % aport)
	return px, aport


def _metric(aport, name):
	m = parse_metrics(admin_get(aport, "/metrics")[1])
	return m[(name, frozenset())]


def _seen_within(px, text, bound):
	t0 = time.monotonic()
	ok = wait_for(lambda: text in px.stderr(), timeout=bound, interval=0.02)
	return ok, time.monotonic() - t0


def test_credwatch_readyz_turns_200_when_the_file_appears_without_a_request(
    proxy, tmp_path, http_upstream):
	key = tmp_path / "vault" / "svc"
	key.parent.mkdir()
	px, aport = _start(proxy, tmp_path, http_upstream, str(key))
	assert admin_get(aport, "/readyz")[0] == 503
	assert _metric(aport, "keyhole_credential_watches") == 1
	loads = _metric(aport, "keyhole_credential_loads_total")
	# Vault Agent's way: write a temporary file, rename it in place.
	tmp = str(key) + ".tmp"
	with open(tmp, "w") as f:
		f.write("vault-secret-appeared\n")
	os.rename(tmp, str(key))
	ok, dt = _seen_within(px, "credential svc: now available", BOUND)
	assert ok, px.stderr()
	assert admin_get(aport, "/readyz")[0] == 200
	assert _metric(aport, "keyhole_credential_loads_total") == loads + 1


def test_credwatch_rename_rotation_counts_a_load_without_a_request(proxy,
    tmp_path, http_upstream):
	key = tmp_path / "secrets" / "svc"
	key.parent.mkdir()
	key.write_text("rot-secret-one\n")
	px, aport = _start(proxy, tmp_path, http_upstream, str(key))
	assert admin_get(aport, "/readyz")[0] == 200
	loads = _metric(aport, "keyhole_credential_loads_total")
	tmp = str(key) + ".new"
	with open(tmp, "w") as f:
		f.write("rot-secret-two\n")
	os.rename(tmp, str(key))
	ok, dt = _seen_within(px, "credential svc: reloaded", BOUND)
	assert ok, px.stderr()
	assert _metric(aport, "keyhole_credential_loads_total") == loads + 1
	# Written in place too (close after write).
	with open(str(key), "w") as f:
		f.write("rot-secret-three-longer\n")
	assert wait_for(lambda: px.stderr().count("credential svc: reloaded")
	    == 2, timeout=BOUND, interval=0.02), px.stderr()


def test_credwatch_kubernetes_data_symlink_swap_without_a_request(proxy,
    tmp_path, http_upstream):
	vol = tmp_path / "vol"
	v1 = vol / "..2026_01_01_v1"
	os.makedirs(str(v1))
	(v1 / "svc").write_text("k8s-secret-one")
	os.symlink("..2026_01_01_v1", str(vol / "..data"))
	os.symlink("..data/svc", str(vol / "svc"))
	px, aport = _start(proxy, tmp_path, http_upstream, str(vol / "svc"))
	loads = _metric(aport, "keyhole_credential_loads_total")
	v2 = vol / "..2026_01_02_v2"
	os.makedirs(str(v2))
	(v2 / "svc").write_text("k8s-secret-two")
	os.symlink("..2026_01_02_v2", str(vol / "..data_tmp"))
	os.rename(str(vol / "..data_tmp"), str(vol / "..data"))
	shutil.rmtree(str(v1))		# the kubelet removes the old one
	ok, dt = _seen_within(px, "credential svc: reloaded", BOUND)
	assert ok, px.stderr()
	assert _metric(aport, "keyhole_credential_loads_total") == loads + 1


def _cpu_seconds(pid):
	with open("/proc/%d/stat" % pid) as f:
		fields = f.read().rsplit(")", 1)[1].split()
	return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_credwatch_directory_that_disappears_neither_crashes_nor_spins(
    proxy, tmp_path, http_upstream):
	d = tmp_path / "secrets"
	d.mkdir()
	key = d / "svc"
	key.write_text("gone-secret-one\n")
	px, aport = _start(proxy, tmp_path, http_upstream, str(key))
	shutil.rmtree(str(d))
	ok, _ = _seen_within(px, "credential svc: now unavailable", BOUND)
	assert ok, px.stderr()
	assert wait_for(lambda: _metric(aport,
	    "keyhole_credential_watches") == 0, timeout=2.0)
	cpu0 = _cpu_seconds(px.proc.pid)
	time.sleep(1.5)
	assert _cpu_seconds(px.proc.pid) - cpu0 < 0.3
	assert px.proc.poll() is None
	assert admin_get(aport, "/readyz")[0] == 503
	# The directory comes back with the file: seen without a request
	# (looked for again every second).
	d2 = tmp_path / "secrets.new"
	d2.mkdir()
	(d2 / "svc").write_text("gone-secret-two\n")
	os.rename(str(d2), str(d))
	assert wait_for(lambda: "credential svc: now available" in
	    px.stderr(), timeout=2.5, interval=0.05), px.stderr()
	assert _metric(aport, "keyhole_credential_watches") == 1
	assert admin_get(aport, "/readyz")[0] == 200


def test_credwatch_reload_watches_the_new_configuration_files(proxy,
    tmp_path, http_upstream):
	import signal
	a = tmp_path / "a"
	b = tmp_path / "b"
	a.mkdir()
	b.mkdir()
	(a / "svc").write_text("first-dir-secret\n")
	prof = str(tmp_path / "p.json")
	write_json(prof, _route_profile(tmp_path, http_upstream.port,
	    str(a / "svc")))
	aport = free_port_number()
	px = proxy("-v", "--profile", prof, "--admin-listen",
	    "127.0.0.1:%d" % aport)
	write_json(prof, _route_profile(tmp_path, http_upstream.port,
	    str(b / "svc")))
	px.send_signal(signal.SIGHUP)
	assert wait_for(lambda: "reloaded the configuration" in px.stderr(),
	    timeout=10)
	assert admin_get(aport, "/readyz")[0] == 503
	(b / "svc").write_text("second-dir-secret\n")
	ok, _ = _seen_within(px, "credential svc: now available", BOUND)
	assert ok, px.stderr()
	assert admin_get(aport, "/readyz")[0] == 200
