"""Operating `keyhole proxy` at scale (SPEC 4.10): the admin listener
(/healthz, /readyz, /metrics), --log-format json, the SIGTERM drain."""

import json
import os
import re
import signal
import socket
import threading
import time

from conftest import (connect_status, connect_tunnel, free_port_number,
    read_head, recv_exact, wait_for)
from reverse_fixtures import write_profile, ask


def admin_get(port, path, timeout=3.0):
	"""GET path from the admin listener: (status, body text)."""
	s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
	with s:
		s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path.encode())
		buf = b""
		while True:
			chunk = s.recv(65536)
			if not chunk:
				break
			buf += chunk
	head, _, body = buf.partition(b"\r\n\r\n")
	status = int(head.split(b" ", 2)[1])
	return status, body.decode()


def parse_metrics(text):
	"""Prometheus text format -> {(name, frozenset(labels)): value}; every
	sample line must parse, every name start with keyhole_."""
	out = {}
	rx = re.compile(r'^([a-z_]+)(\{(.*)\})? ([0-9.e+-]+)$')
	for line in text.split("\n"):
		if not line or line.startswith("#"):
			continue
		m = rx.match(line)
		assert m, "bad metrics line %r" % line
		assert m.group(1).startswith("keyhole_"), line
		labels = frozenset(re.findall(r'([a-z_]+)="((?:[^"\\]|\\.)*)"',
		    m.group(3) or ""))
		out[(m.group(1), labels)] = float(m.group(4))
	return out


def decisions(metrics, **want):
	"""Sum of keyhole_decisions_total samples whose labels match want."""
	n = 0
	for (name, labels), v in metrics.items():
		if name != "keyhole_decisions_total":
			continue
		d = dict(labels)
		if all(d.get(k) == x for k, x in want.items()):
			n += v
	return n


def allow_args(port):
	return ("--allow-domain", "up.test:%d" % port,
	    "--resolve", "up.test:%d:127.0.0.1" % port)


def test_proxy_admin_metrics_count_what_the_audit_log_says(proxy,
    tcp_echo):
	aport = free_port_number()
	px = proxy("--admin-listen", "127.0.0.1:%d" % aport,
	    *allow_args(tcp_echo.port))
	assert admin_get(aport, "/healthz")[0] == 200
	allowed = 3
	denied = 2
	for _ in range(allowed):
		st, _, _, _ = connect_status(px, "up.test:%d" % tcp_echo.port)
		assert st == 200
	for _ in range(denied):
		st, _, _, _ = connect_status(px, "evil.test:443")
		assert st == 403
	recs = px.audit(count=allowed + denied)
	st, text = admin_get(aport, "/metrics")
	assert st == 200
	m = parse_metrics(text)
	n_allow = len([r for r in recs if r["decision"] == "allow"])
	n_deny = len([r for r in recs if r["decision"] == "deny"])
	assert (n_allow, n_deny) == (allowed, denied), recs
	assert decisions(m, mode="connect", decision="allow") == n_allow, text
	assert decisions(m, mode="connect", decision="deny") == n_deny, text
	assert m[("keyhole_connections_total", frozenset())] >= 5, text
	up = sum(r["bytes_up"] for r in recs)
	assert m[("keyhole_bytes_up_total", frozenset())] == up, text
	# No host names as label values, no tokens anywhere.
	assert "up.test" not in text and "evil.test" not in text
	assert px.token not in text
	assert admin_get(aport, "/nope")[0] == 404


def test_proxy_admin_counts_open_tunnels(proxy, tcp_echo):
	aport = free_port_number()
	px = proxy("--admin-listen", "127.0.0.1:%d" % aport,
	    *allow_args(tcp_echo.port))
	s, st, _, _, left = connect_tunnel(px, "up.test:%d" % tcp_echo.port)
	with s:
		assert st == 200
		s.sendall(b"x")
		recv_exact(s, 1, left)
		m = parse_metrics(admin_get(aport, "/metrics")[1])
		assert m[("keyhole_tunnels", frozenset())] == 1
	assert wait_for(lambda: parse_metrics(admin_get(aport,
	    "/metrics")[1])[("keyhole_tunnels", frozenset())] == 0)


def test_proxy_readyz_waits_for_a_declared_credential_file(proxy, tmp_path,
    http_upstream):
	key = tmp_path / "vault" / "svc-key"
	key.parent.mkdir()
	prof = write_profile(tmp_path, {"svc": {
	    "upstream": "http://127.0.0.1:%d" % http_upstream.port,
	    "credential_key": "file://%s" % key, "env_var": "SVC_API_KEY"}})
	aport = free_port_number()
	proxy("--profile", prof, "--admin-listen", "127.0.0.1:%d" % aport)
	assert admin_get(aport, "/healthz")[0] == 200
	assert admin_get(aport, "/readyz")[0] == 503
	m = parse_metrics(admin_get(aport, "/metrics")[1])
	assert m[("keyhole_credentials_loaded", frozenset())] == 0
	tmp = str(key) + ".tmp"
	with open(tmp, "w") as f:
		f.write("vault-secret-ready\n")
	os.replace(tmp, key)
	assert wait_for(lambda: admin_get(aport, "/readyz")[0] == 200,
	    timeout=3.0)
	m = parse_metrics(admin_get(aport, "/metrics")[1])
	assert m[("keyhole_credentials_loaded", frozenset())] == 1


def test_proxy_admin_listen_rejects_a_bad_address(keyhole):
	import subprocess
	p = subprocess.run([keyhole, "proxy", "--admin-listen", "nowhere"],
	    capture_output=True, timeout=10)
	assert p.returncode == 1
	assert b"--admin-listen nowhere: expected ADDR:PORT" in p.stderr


def test_proxy_log_format_json_lines_parse(proxy, tcp_echo):
	px = proxy("--log-format", "json", "-v", *allow_args(tcp_echo.port))
	st, _, _, _ = connect_status(px, "up.test:%d" % tcp_echo.port)
	assert st == 200
	st, _, _, _ = connect_status(px, "evil.test:443")
	assert st == 403
	px.wait_audit(decision="deny")
	assert wait_for(lambda: "evil.test" in px.stderr())
	lines = [l for l in px.stderr().split("\n") if l]
	objs = [json.loads(l) for l in lines]
	for o in objs:
		assert o["level"] in ("info", "warning", "debug", "error"), o
		assert isinstance(o["msg"], str) and o["ts"].endswith("Z"), o
	deny = [o for o in objs if o.get("decision") == "deny"]
	assert deny, objs
	d = deny[0]
	assert d["mode"] == "connect" and d["host"] == "evil.test", d
	assert d["port"] == 443 and d["status"] == 403, d
	for k in ("service", "method", "path", "reason", "bytes_up",
	    "bytes_down", "ms"):
		assert k in d, (k, d)
	assert "DENY" in d["msg"], d
	allow = [o for o in objs if o.get("decision") == "allow"]
	assert allow and allow[0]["host"] == "up.test", objs


def test_proxy_log_format_rejects_other_values(keyhole):
	import subprocess
	p = subprocess.run([keyhole, "proxy", "--log-format", "xml"],
	    capture_output=True, timeout=10)
	assert p.returncode == 2
	assert b"expected text or json" in p.stderr


def _slow_server():
	"""A plain-HTTP upstream that answers after 1.2 s."""
	srv = socket.socket()
	srv.bind(("127.0.0.1", 0))
	srv.listen(8)
	srv.settimeout(10)

	def run():
		try:
			c, _ = srv.accept()
		except OSError:
			return
		with c:
			c.settimeout(5)
			buf = b""
			while b"\r\n\r\n" not in buf:
				d = c.recv(4096)
				if not d:
					return
				buf += d
			time.sleep(1.2)
			body = b"slow answer"
			c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n"
			    b"\r\n%s" % (len(body), body))
			time.sleep(0.5)
	t = threading.Thread(target=run, daemon=True)
	t.start()
	return srv, t


def test_proxy_sigterm_drain_completes_an_in_flight_slow_response(proxy):
	srv, t = _slow_server()
	port = srv.getsockname()[1]
	aport = free_port_number()
	px = proxy("--drain-timeout", "5", "--admin-listen",
	    "127.0.0.1:%d" % aport, *allow_args(port))
	assert admin_get(aport, "/readyz")[0] == 200
	s = socket.create_connection(("127.0.0.1", px.port), timeout=5)
	auth = "Proxy-Authorization: Bearer %s\r\n" % px.token
	s.sendall(("GET http://up.test:%d/slow HTTP/1.1\r\nHost: up.test\r\n"
	    "%s\r\n" % (port, auth)).encode())
	time.sleep(0.3)		# the request is upstream now
	px.send_signal(signal.SIGTERM)
	time.sleep(0.2)
	assert admin_get(aport, "/readyz")[0] == 503
	# New connections are refused while draining.
	try:
		c = socket.create_connection(("127.0.0.1", px.port), timeout=1)
		c.close()
		refused = False
	except OSError:
		refused = True
	assert refused
	st, _, h, left = read_head(s, 5)
	assert st == 200
	body, _ = recv_exact(s, int(h["content-length"]), left)
	assert body == b"slow answer"
	s.close()
	assert px.proc.wait(5) == 0
	srv.close()


def test_proxy_sigterm_without_drain_timeout_closes_at_once(proxy):
	srv, t = _slow_server()
	port = srv.getsockname()[1]
	px = proxy(*allow_args(port))
	s = socket.create_connection(("127.0.0.1", px.port), timeout=5)
	s.sendall(("GET http://up.test:%d/slow HTTP/1.1\r\nHost: up.test\r\n"
	    "Proxy-Authorization: Bearer %s\r\n\r\n" % (port, px.token))
	    .encode())
	time.sleep(0.3)
	t0 = time.monotonic()
	px.send_signal(signal.SIGTERM)
	assert px.proc.wait(5) == 0
	assert time.monotonic() - t0 < 1.0
	s.settimeout(2)
	assert s.recv(100) == b""
	s.close()
	srv.close()


def test_proxy_drain_timeout_cuts_what_does_not_finish(proxy):
	srv, t = _slow_server()
	port = srv.getsockname()[1]
	px = proxy("--drain-timeout", "1", *allow_args(port))
	s, st, _, _, _ = connect_tunnel(px, "up.test:%d" % port)
	assert st == 200	# a tunnel never ends on its own
	t0 = time.monotonic()
	px.send_signal(signal.SIGTERM)
	assert px.proc.wait(5) == 0
	took = time.monotonic() - t0
	assert 0.8 <= took < 3.0, took
	s.close()
	srv.close()


# ---------------------------------------------------------------------------
# --listen

def test_proxy_listen_on_any_address_still_demands_the_token(proxy,
    tcp_echo, http_upstream, tmp_path):
	prof = write_profile(tmp_path, {"svc": {
	    "upstream": "http://127.0.0.1:%d" % http_upstream.port,
	    "credential_key": "env://SVC_KEY", "env_var": "SVC_API_KEY"}})
	px = proxy("--listen", "0.0.0.0:0", "--profile", prof,
	    *allow_args(tcp_echo.port), env={"SVC_KEY": "sk-listen-secret"})
	# Clients are told the loopback address of the wildcard listener.
	assert px.env["SVC_BASE_URL"] == "http://127.0.0.1:%d/svc" % px.port
	st, _, h, _ = connect_status(px, "up.test:%d" % tcp_echo.port,
	    token="")
	assert st == 407
	st, _, _, _ = connect_status(px, "up.test:%d" % tcp_echo.port,
	    token="0" * 64)
	assert st == 407
	st, _, _, _ = connect_status(px, "up.test:%d" % tcp_echo.port)
	assert st == 200
	# A route request is authenticated by its phantom token.
	st, _, _, _ = ask(px, "GET", "/svc/x", [])
	assert st == 401
	st, _, _, _ = ask(px, "GET", "/svc/x",
	    [("Authorization", "Bearer " + px.env["SVC_API_KEY"])])
	assert st == 200


def test_proxy_listen_is_repeatable_and_every_listener_serves(proxy,
    tcp_echo):
	p1, p2 = free_port_number(), free_port_number()
	px = proxy("--listen", "127.0.0.1:%d" % p1, "--listen",
	    "127.0.0.2:%d" % p2, *allow_args(tcp_echo.port))
	assert px.port == p1
	for host, port in (("127.0.0.1", p1), ("127.0.0.2", p2)):
		s = socket.create_connection((host, port), timeout=3)
		with s:
			s.sendall(("CONNECT up.test:%d HTTP/1.1\r\nHost: x\r\n"
			    "Proxy-Authorization: Bearer %s\r\n\r\n" %
			    (tcp_echo.port, px.token)).encode())
			st, _, _, _ = read_head(s, 3)
			assert st == 200, (host, port)


def test_proxy_listen_rejects_what_is_not_an_address(keyhole):
	import subprocess
	for bad in ("localhost:3128", "3128", "1.2.3.4"):
		p = subprocess.run([keyhole, "proxy", "--listen", bad],
		    capture_output=True, timeout=10)
		assert p.returncode == 1, bad
		assert ("--listen %s: expected ADDR:PORT" % bad).encode() \
		    in p.stderr, p.stderr
