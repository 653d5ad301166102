"""keyhole proxy SIGHUP (SPEC 4.10): the profile, the clients file and the
credential sources are read again; new connections get the new policy,
open ones finish on the old; an invalid configuration changes nothing.
And credential files rotated by rename or by a Kubernetes-style ..data
symlink swap are seen without a signal."""

import json
import os
import signal
import socket
import threading
import time

from conftest import (auth_header, connect_status, connect_tunnel,
    free_port_number, read_response, recv_exact, wait_for)
from reverse_fixtures import header_dict, route, send_request  # noqa: F401
from test_proxy_ops import admin_get, parse_metrics

RECHECK = 1.15		# file sources are re-checked at most once a second


def write_json(path, doc):
	tmp = path + ".tmp"
	with open(tmp, "w") as f:
		json.dump(doc, f)
	os.replace(tmp, path)


def profile(hosts, routes=None):
	doc = {"meta": {"name": "reload"}, "network": {"allow_domain": hosts}}
	if routes:
		doc["network"]["credentials"] = list(routes)
		doc["network"]["custom_credentials"] = routes
	return doc


def forward(px, port, host="web.test", sock=None):
	"""GET http://host:port/ through the proxy: status."""
	own = sock is None
	s = sock or socket.create_connection(("127.0.0.1", px.port), timeout=3)
	try:
		s.sendall(b"GET http://%s:%d/r HTTP/1.1\r\nHost: %s\r\n%s\r\n" %
		    (host.encode(), port, host.encode(), auth_header(px.token)))
		st, _, h, body, _ = read_response(s, 3)
	finally:
		if own:
			s.close()
	return st


def resolve_args(port):
	return ["--resolve", "web.test:%d:127.0.0.1" % port, "--resolve",
	    "other.test:%d:127.0.0.1" % port]


def test_reload_under_load_fails_no_request_and_applies_the_new_policy(
    proxy, http_upstream, tmp_path):
	port = http_upstream.port
	prof = str(tmp_path / "p.json")
	write_json(prof, profile(["web.test:%d" % port]))
	aport = free_port_number()
	px = proxy("--profile", prof, "--admin-listen", "127.0.0.1:%d" %
	    aport, *resolve_args(port))
	token = px.token
	assert forward(px, port, "other.test") == 403
	failures = []
	count = [0]
	stop = threading.Event()

	def loop(keep_alive):
		"""Requests in a loop: each on a new connection, or on one
		kept alive until an answer says Connection: close (what an
		HTTP client does)."""
		s = None
		while not stop.is_set():
			try:
				if s is None:
					s = socket.create_connection(("127.0.0.1",
					    px.port), timeout=3)
				s.sendall(b"GET http://web.test:%d/r HTTP/1.1\r\n"
				    b"Host: web.test\r\n%s\r\n" % (port,
				    auth_header(token)))
				st, _, h, _, _ = read_response(s, 3)
				if st != 200:
					failures.append(st)
				count[0] += 1
				if not keep_alive or \
				    h.get("connection", "").lower() == "close":
					s.close()
					s = None
			except Exception as e:		# noqa: BLE001
				failures.append(repr(e))
				if s is not None:
					s.close()
				s = None
		if s is not None:
			s.close()

	threads = [threading.Thread(target=loop, args=(False,)),
	    threading.Thread(target=loop, args=(True,))]
	for t in threads:
		t.start()
	try:
		for i in range(10):
			time.sleep(0.08)
			hosts = ["web.test:%d" % port]
			if i == 9:
				hosts.append("other.test:%d" % port)
			write_json(prof, profile(hosts))
			px.send_signal(signal.SIGHUP)
		time.sleep(0.3)
	finally:
		stop.set()
		for t in threads:
			t.join(10)
	assert failures == [], failures[:5]
	assert count[0] > 20, count
	# The last profile allows other.test: new connections see it.
	assert wait_for(lambda: forward(px, port, "other.test") == 200)
	# The proxy token is the same across reloads.
	assert forward(px, port) == 200 and px.token == token
	m = parse_metrics(admin_get(aport, "/metrics")[1])
	assert m[("keyhole_reloads_total", frozenset())] == 10
	assert m[("keyhole_reload_failures_total", frozenset())] == 0
	assert wait_for(lambda: parse_metrics(admin_get(aport,
	    "/metrics")[1])[("keyhole_retired_configurations", frozenset())]
	    == 0, timeout=3)


def test_reload_keep_alive_connection_finishes_on_the_old_policy(proxy,
    http_upstream, tmp_path):
	port = http_upstream.port
	prof = str(tmp_path / "p.json")
	write_json(prof, profile(["web.test:%d" % port]))
	px = proxy("--profile", prof, *resolve_args(port))
	s = socket.create_connection(("127.0.0.1", px.port), timeout=3)
	with s:
		assert forward(px, port, sock=s) == 200
		write_json(prof, profile(["other.test:%d" % port]))
		px.send_signal(signal.SIGHUP)
		time.sleep(0.3)
		# The open connection's next exchange: the old policy, and
		# the answer says Connection: close.
		s.sendall(b"GET http://web.test:%d/r HTTP/1.1\r\nHost: w\r\n"
		    b"%s\r\n" % (port, auth_header(px.token)))
		st, _, h, _, _ = read_response(s, 3)
		assert st == 200
		assert h.get("connection", "").lower() == "close", h
	# A new connection: the new policy.
	assert forward(px, port) == 403
	assert forward(px, port, "other.test") == 200


def test_reload_open_tunnel_survives_ten_reloads(proxy, tcp_echo, tmp_path):
	prof = str(tmp_path / "p.json")
	write_json(prof, profile(["up.test:%d" % tcp_echo.port]))
	aport = free_port_number()
	px = proxy("--profile", prof, "--resolve", "up.test:%d:127.0.0.1" %
	    tcp_echo.port, "--admin-listen", "127.0.0.1:%d" % aport)
	s, st, _, _, left = connect_tunnel(px, "up.test:%d" % tcp_echo.port)
	with s:
		assert st == 200
		for i in range(10):
			px.send_signal(signal.SIGHUP)
			time.sleep(0.05)
			msg = b"ping%d" % i
			s.sendall(msg)
			got, left = recv_exact(s, len(msg), left)
			assert got == msg
		m = parse_metrics(admin_get(aport, "/metrics")[1])
		# The tunnel is served by the first configuration, retired.
		assert m[("keyhole_retired_connections", frozenset())] == 1
		assert m[("keyhole_retired_configurations", frozenset())] == 1
		assert m[("keyhole_reloads_total", frozenset())] == 10
	assert px.running()
	assert wait_for(lambda: parse_metrics(admin_get(aport, "/metrics")[1])[
	    ("keyhole_retired_configurations", frozenset())] == 0)


def test_reload_invalid_configuration_changes_nothing(proxy, http_upstream,
    tmp_path):
	port = http_upstream.port
	prof = str(tmp_path / "p.json")
	write_json(prof, profile(["web.test:%d" % port]))
	aport = free_port_number()
	px = proxy("--profile", prof, "--admin-listen", "127.0.0.1:%d" %
	    aport, *resolve_args(port))
	with open(prof, "w") as f:
		f.write('{"network": {"allow_domain": ["other.test"], }')
	px.send_signal(signal.SIGHUP)
	px.wait_stderr("reload refused")
	lines = [l for l in px.stderr().splitlines() if "reload" in l]
	assert len(lines) == 1, lines
	assert "line 1 column" in lines[0], lines
	assert forward(px, port) == 200
	assert forward(px, port, "other.test") == 403
	m = parse_metrics(admin_get(aport, "/metrics")[1])
	assert m[("keyhole_reload_failures_total", frozenset())] == 1
	assert m[("keyhole_reloads_total", frozenset())] == 0
	# A missing file is refused the same way.
	os.unlink(prof)
	px.send_signal(signal.SIGHUP)
	assert wait_for(lambda: px.stderr().count("reload refused") == 2)
	assert forward(px, port) == 200


def test_reload_reads_the_clients_file_again(keyhole, tmp_path,
    http_upstream):
	from test_proxy_clients import (ClientsProxy, TOKEN_A, TOKEN_B, sha)
	port = http_upstream.port
	cfile = str(tmp_path / "clients.json")
	write_json(cfile, {"clients": {"a": {"token": TOKEN_A}}})
	d = str(tmp_path / "px")
	os.makedirs(d)
	px = ClientsProxy(keyhole, d, ["--clients", cfile, "--allow-domain",
	    "web.test:%d" % port] + resolve_args(port))
	try:
		px.wait_ready()

		def status(tok):
			px.token = tok
			return forward(px, port)
		assert status(TOKEN_A) == 200
		assert status(TOKEN_B) == 407
		write_json(cfile, {"clients": {"b": {"token": sha(TOKEN_B)}}})
		px.send_signal(signal.SIGHUP)
		assert wait_for(lambda: status(TOKEN_B) == 200)
		assert status(TOKEN_A) == 407
		recs = px.audit(count=4)
		assert [r for r in recs if r.get("client") == "b"], recs
	finally:
		px.close()


def _route_profile(tmp_path, up_port, key_path):
	return profile([], {"svc": {
	    "upstream": "http://127.0.0.1:%d" % up_port,
	    "credential_key": "file://" + key_path, "env_var": "SVC_API_KEY"}})


def _route_auth(px, phantom):
	s = socket.create_connection(("127.0.0.1", px.port), timeout=3)
	with s:
		send_request(s, "GET", "/svc/x", [("Authorization",
		    "Bearer " + phantom)])
		st, _, _, _, _ = read_response(s, 3)
	return st


def _seen_secret(http_upstream):
	return header_dict(http_upstream.requests[-1]).get("authorization")


def test_rotation_by_rename_is_seen_without_a_signal(proxy, http_upstream,
    tmp_path):
	key = str(tmp_path / "secrets" / "svc")
	os.makedirs(os.path.dirname(key))
	with open(key, "w") as f:
		f.write("rot-secret-one\n")
	prof = str(tmp_path / "p.json")
	write_json(prof, _route_profile(tmp_path, http_upstream.port, key))
	px = proxy("--profile", prof)
	ph = px.env["SVC_API_KEY"]
	assert _route_auth(px, ph) == 200
	assert _seen_secret(http_upstream) == "Bearer rot-secret-one"
	tmp = key + ".new"
	with open(tmp, "w") as f:
		f.write("rot-secret-two\n")
	os.rename(tmp, key)

	def rotated():
		_route_auth(px, ph)
		return _seen_secret(http_upstream) == "Bearer rot-secret-two"
	assert wait_for(rotated, timeout=RECHECK + 1.5)


def test_rotation_by_kubernetes_data_symlink_swap_is_seen(proxy,
    http_upstream, tmp_path):
	# The layout of a Kubernetes Secret volume: KEY -> ..data/KEY,
	# ..data -> ..2026_01_01_v1; an update writes a new timestamped
	# directory and renames a new ..data link over the old one.
	vol = tmp_path / "vol"
	v1 = vol / "..2026_01_01_v1"
	os.makedirs(str(v1))
	with open(str(v1 / "svc"), "w") as f:
		f.write("k8s-secret-one")
	os.symlink("..2026_01_01_v1", str(vol / "..data"))
	os.symlink("..data/svc", str(vol / "svc"))
	key = str(vol / "svc")
	prof = str(tmp_path / "p.json")
	write_json(prof, _route_profile(tmp_path, http_upstream.port, key))
	px = proxy("--profile", prof)
	ph = px.env["SVC_API_KEY"]
	assert _route_auth(px, ph) == 200
	assert _seen_secret(http_upstream) == "Bearer k8s-secret-one"
	v2 = vol / "..2026_01_02_v2"
	os.makedirs(str(v2))
	with open(str(v2 / "svc"), "w") as f:
		f.write("k8s-secret-two")
	os.symlink("..2026_01_02_v2", str(vol / "..data_tmp"))
	os.rename(str(vol / "..data_tmp"), str(vol / "..data"))

	def rotated():
		_route_auth(px, ph)
		return _seen_secret(http_upstream) == "Bearer k8s-secret-two"
	assert wait_for(rotated, timeout=RECHECK + 1.5)


def test_reload_keeps_the_upstream_tls_context_until_the_ca_file_changes(
    route, tls_upstream, ca, tmp_path):
	# A reload reuses the upstream TLS context (reading the system trust
	# store is most of a reload's cost) only while --upstream-ca is the
	# same file, unchanged.
	import shutil
	from reverse_fixtures import ask
	mine = str(tmp_path / "upstream-ca.pem")
	shutil.copy(os.path.join(ca, "ca.pem"), mine)
	r = route(tls_upstream, ca_arg=False, args=("-v", "--upstream-ca",
	    mine))
	auth = [("Authorization", "Bearer " + r.phantom)]
	assert ask(r.px, "GET", "/svc/x", auth)[0] == 200
	for i in range(3):
		r.px.send_signal(signal.SIGHUP)
		assert wait_for(lambda: r.px.stderr().count(
		    "reloaded the configuration") == i + 1, timeout=10)
		assert ask(r.px, "GET", "/svc/x", auth)[0] == 200
	n = len(tls_upstream.requests)
	# Another CA in the same file: the next reload reads it.
	tmp = mine + ".tmp"
	shutil.copy(os.path.join(ca, "server.pem"), tmp)
	os.replace(tmp, mine)
	r.px.send_signal(signal.SIGHUP)
	assert wait_for(lambda: r.px.stderr().count(
	    "reloaded the configuration") == 4, timeout=10)
	assert ask(r.px, "GET", "/svc/x", auth)[0] == 502
	assert len(tls_upstream.requests) == n


def test_reload_reads_the_new_configuration_without_stalling_requests(
    proxy, http_upstream, tmp_path):
	# The new configuration is read off the event loop: a credential
	# helper that takes 1.5 s delays the switch, not the requests.
	helper = tmp_path / "slow-helper"
	helper.write_text("#!/bin/sh\nsleep 1.5\necho slow-helper-secret\n")
	helper.chmod(0o755)
	prof = str(tmp_path / "p.json")
	up = http_upstream.port
	write_json(prof, profile(["web.test:%d" % up]))
	px = proxy("-v", "--profile", prof, *resolve_args(up))
	assert forward(px, up) == 200
	write_json(prof, profile(["web.test:%d" % up], {"slow": {
	    "upstream": "http://127.0.0.1:%d" % up,
	    "credential_key": "cmd://%s" % helper, "env_var": "SLOW_KEY"}}))
	t0 = time.monotonic()
	px.send_signal(signal.SIGHUP)
	worst = 0.0
	while time.monotonic() - t0 < 1.2:
		t = time.monotonic()
		assert forward(px, up) == 200
		worst = max(worst, time.monotonic() - t)
	assert "reloaded the configuration" not in px.stderr()
	assert worst < 0.5, worst
	assert wait_for(lambda: "reloaded the configuration" in px.stderr(),
	    timeout=10)
	# Two SIGHUPs during one reload: one more reload after it.
	px.send_signal(signal.SIGHUP)
	time.sleep(0.1)
	px.send_signal(signal.SIGHUP)
	px.send_signal(signal.SIGHUP)
	assert wait_for(lambda: px.stderr().count("reloaded the configuration")
	    == 3, timeout=15)
	time.sleep(2)
	assert px.stderr().count("reloaded the configuration") == 3
