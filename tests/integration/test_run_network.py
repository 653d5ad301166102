"""`keyhole run` network modes (SPEC 1, 3, 6): blocked, proxy, direct
grants, the proxy variables in the child, and curl through the proxy.
Only 127.0.0.0/8 is ever contacted."""

import json
import os
import re
import shutil
import socket
import threading

import pytest

from conftest import HEX64, free_port_number
from run_fixtures import (EACCES, SUMMARY_RE, TRY,  # noqa: F401
    assert_errno, assert_ok, box, try_bin)

PROXY_URL = re.compile(
    r"^http://keyhole:([0-9a-f]{64})@127\.0\.0\.1:(\d+)$")


class Listener:
	"""A TCP listener on host (any 127/8 address) that accepts and counts
	connections."""

	def __init__(self, host="127.0.0.1", port=0):
		self.sock = socket.socket()
		self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
		self.sock.bind((host, port))
		self.sock.listen(64)
		self.sock.settimeout(0.1)
		self.host = host
		self.port = self.sock.getsockname()[1]
		self.accepted = 0
		self._stop = False
		self.thread = threading.Thread(target=self._loop, daemon=True)
		self.thread.start()

	def _loop(self):
		while not self._stop:
			try:
				c, _ = self.sock.accept()
			except (socket.timeout, OSError):
				continue
			self.accepted += 1
			c.close()

	def close(self):
		self._stop = True
		self.thread.join(2)
		self.sock.close()


@pytest.fixture
def listener():
	lst = Listener()
	yield lst
	lst.close()


def audit_lines(path):
	try:
		with open(path) as f:
			return [json.loads(l) for l in f if l.strip()]
	except FileNotFoundError:
		return []


# ---------------------------------------------------------------- allow mode

def test_allow_mode_tcp_connect_succeeds(box, listener):
	assert_ok(box.run_try([], "connect", "127.0.0.1", listener.port))


def test_allow_mode_udp_send_succeeds(box, listener):
	assert_ok(box.run_try([], "udp", "127.0.0.1", listener.port))


def test_allow_mode_sets_no_proxy_variables(box):
	res = box.run_try([], "env", "HTTPS_PROXY")
	assert_errno(res, 2)


# -------------------------------------------------------------- blocked mode

def test_block_net_tcp_connect_is_eacces(box, listener):
	res = box.run_try(["--block-net"], "connect", "127.0.0.1",
	    listener.port)
	assert_errno(res, EACCES)
	assert listener.accepted == 0


def test_block_net_tcp_connect_ipv6_loopback_is_eacces(box):
	res = box.run_try(["--block-net"], "connect", "::1",
	    free_port_number())
	assert_errno(res, EACCES)


def test_block_net_udp_never_reaches_a_host_socket(box):
	# Blocked mode answers /etc/hosts names too (SPEC 3.1), so a UDP
	# socket is made in the supervisor's DNS namespace, where only its
	# answerer listens: a datagram to a socket of the machine never
	# arrives, and other addresses are unreachable.
	u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	u.bind(("127.0.0.1", 0))
	u.settimeout(0.5)
	try:
		box.run_try(["--block-net"], "udp", "127.0.0.1",
		    u.getsockname()[1])
		with pytest.raises(socket.timeout):
			u.recvfrom(16)
	finally:
		u.close()
	res = box.run_try(["--block-net"], "udp", "192.0.2.1", 9)
	assert res.rc != 0, res


def test_block_net_udp_with_explicit_protocol_is_eacces(box):
	res = box.run_try(["--block-net"], "socket", "inet", "dgram", "udp")
	assert_errno(res, EACCES)


def test_block_net_mptcp_is_eacces(box):
	res = box.run_try(["--block-net"], "socket", "inet", "stream",
	    "mptcp")
	assert_errno(res, EACCES)


def test_block_net_raw_socket_is_eacces(box):
	res = box.run_try(["--block-net"], "socket", "inet", "raw", "icmp")
	assert_errno(res, EACCES)


def test_block_net_packet_socket_is_eacces(box):
	res = box.run_try(["--block-net"], "socket", "packet", "raw")
	assert_errno(res, EACCES)


def test_block_net_bind_is_eacces(box):
	res = box.run_try(["--block-net"], "bind", free_port_number())
	assert_errno(res, EACCES)


def test_block_net_open_port_is_connectable(box, listener):
	res = box.run_try(["--block-net", "--open-port", listener.port],
	    "connect", "127.0.0.1", listener.port)
	assert_ok(res)


def test_block_net_open_port_does_not_open_other_ports(box, listener):
	other = Listener()
	try:
		res = box.run_try(["--block-net", "--open-port",
		    listener.port], "connect", "127.0.0.1", other.port)
		assert_errno(res, EACCES)
	finally:
		other.close()


def test_block_net_open_port_is_bindable(box):
	port = free_port_number()
	res = box.run_try(["--block-net", "--open-port", port], "bind", port)
	assert_ok(res)


def test_block_net_sets_no_proxy_variables(box):
	res = box.run_try(["--block-net"], "env", "HTTP_PROXY")
	assert_errno(res, 2)


def test_block_net_wins_over_allow_domain(box):
	res = box.run_try(["--allow-domain", "x.test", "--block-net"], "env",
	    "HTTPS_PROXY")
	assert_errno(res, 2)


# ---------------------------------------------------------------- proxy mode

PROXY = ["--allow-domain", "x.test:443"]


def test_proxy_mode_direct_tcp_to_other_loopback_port_is_eacces(box,
    listener):
	res = box.run_try(PROXY, "connect", "127.0.0.1", listener.port)
	assert_errno(res, EACCES)
	assert listener.accepted == 0


def test_proxy_mode_udp_never_reaches_a_host_socket(box):
	# A UDP socket is made in the supervisor's DNS namespace (SPEC 3.1),
	# where only its answerer listens: a datagram to a socket of the
	# machine never arrives, and other addresses are unreachable.
	u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	u.bind(("127.0.0.1", 0))
	u.settimeout(0.5)
	try:
		box.run_try(PROXY, "udp", "127.0.0.1", u.getsockname()[1])
		with pytest.raises(socket.timeout):
			u.recvfrom(16)
	finally:
		u.close()
	res = box.run_try(PROXY, "udp", "192.0.2.1", 9)
	assert res.rc != 0, res


def test_proxy_mode_udp_with_explicit_protocol_is_eacces(box):
	res = box.run_try(PROXY, "socket", "inet", "dgram", "udp")
	assert_errno(res, EACCES)


def test_proxy_mode_mptcp_is_eacces(box):
	res = box.run_try(PROXY, "socket", "inet", "stream", "mptcp")
	assert_errno(res, EACCES)


def test_proxy_mode_sctp_is_eacces(box):
	res = box.run_try(PROXY, "socket", "inet", "seqpacket", "sctp")
	assert_errno(res, EACCES)


def test_proxy_mode_proxy_port_is_connectable(box):
	res = box.run("run", *PROXY, "--read-file", TRY, "--", "/bin/sh",
	    "-c", 'p=${HTTP_PROXY##*:}; exec "$0" connect 127.0.0.1 "$p"', TRY)
	assert_ok(res)


@pytest.mark.parametrize("name", ["HTTPS_PROXY", "HTTP_PROXY",
    "https_proxy", "http_proxy"])
def test_proxy_mode_sets_proxy_url_with_token(box, name):
	res = box.run_try(PROXY, "env", name)
	assert_ok(res)
	url = res.out.strip()
	m = PROXY_URL.match(url)
	assert m, "%s=%r" % (name, url)


def test_proxy_mode_proxy_token_matches_url(box):
	res = box.run("run", *PROXY, "--", "/usr/bin/env")
	assert res.rc == 0, res
	env = dict(l.split("=", 1) for l in res.out.splitlines() if "=" in l)
	tok = env.get("KEYHOLE_PROXY_TOKEN", "")
	assert HEX64.match(tok), env
	m = PROXY_URL.match(env.get("HTTP_PROXY", ""))
	assert m and m.group(1) == tok, env
	assert env.get("HTTPS_PROXY") == env["HTTP_PROXY"], env
	assert env.get("NODE_USE_ENV_PROXY") == "1", env
	assert tok not in res.err, "proxy token on keyhole's stderr"


def test_proxy_mode_no_proxy_has_loopback_and_direct_grant_host(box):
	res = box.run_try(PROXY, "env", "NO_PROXY")
	assert_ok(res)
	entries = res.out.strip().split(",")
	assert entries[:3] == ["localhost", "127.0.0.1", "::1"], entries
	assert "x.test" in entries and "x.test:443" not in entries, entries
	res2 = box.run_try(PROXY, "env", "no_proxy")
	assert res2.out == res.out


def test_proxy_mode_host_entry_without_port_is_not_in_no_proxy(box):
	res = box.run_try(["--allow-domain", "y.test"], "env", "NO_PROXY")
	assert_ok(res)
	assert "y.test" not in res.out.strip().split(","), res.out


def test_proxy_mode_tokens_differ_per_run(box):
	a = box.run_try(PROXY, "env", "KEYHOLE_PROXY_TOKEN")
	b = box.run_try(PROXY, "env", "KEYHOLE_PROXY_TOKEN")
	assert_ok(a)
	assert_ok(b)
	assert a.out != b.out


def test_proxy_mode_open_port_is_connectable(box, listener):
	res = box.run_try(PROXY + ["--open-port", listener.port], "connect",
	    "127.0.0.1", listener.port)
	assert_ok(res)


def test_proxy_mode_direct_grant_port_is_connectable(box, listener):
	res = box.run_try(["--allow-domain", "api.test:%d" % listener.port,
	    "--resolve", "api.test:%d:127.0.0.1" % listener.port], "connect",
	    "127.0.0.1", listener.port)
	assert_ok(res)


def test_proxy_mode_direct_grant_is_host_specific(box):
	"""Landlock allows any host on a granted port; the mediator (SPEC 1
	layer 3) must allow only the granted host's addresses.  127.0.0.2 is
	loopback too, so nothing leaves the machine."""
	try:
		other = Listener("127.0.0.2")
	except OSError as e:
		pytest.skip("cannot bind 127.0.0.2: %s" % e)
	try:
		port = other.port
		res = box.run_try(["--allow-domain", "api.test:%d" % port,
		    "--resolve", "api.test:%d:127.0.0.1" % port], "connect",
		    "127.0.0.2", port)
		assert_errno(res, EACCES)
		assert other.accepted == 0
	finally:
		other.close()


def test_proxy_mode_direct_denial_is_audited_as_direct(box, listener):
	audit = box.path("audit.jsonl")
	res = box.run_try(PROXY + ["--audit-log", audit], "connect",
	    "127.0.0.1", listener.port)
	assert_errno(res, EACCES)
	recs = [r for r in audit_lines(audit) if r.get("mode") == "direct"]
	assert recs, "no mode=direct audit record; audit: %r" % \
	    audit_lines(audit)
	assert recs[0]["decision"] == "deny", recs
	assert recs[0]["port"] == listener.port, recs


def test_proxy_mode_direct_denial_is_summed_up_on_stderr(box, listener):
	res = box.run_try(PROXY, "connect", "127.0.0.1", listener.port)
	assert_errno(res, EACCES)
	m = SUMMARY_RE.search(res.err)
	assert m and int(m.group(1)) >= 1, res.err


def test_silent_suppresses_denial_summary(box):
	res = box.run("run", "-s", "--allow-domain", "api.test", "--", "curl",
	    "-sS", "-o", "/dev/null", "http://evil.test/")
	assert not SUMMARY_RE.search(res.err), res.err


def test_proxy_mode_forward_denial_is_summed_up_on_stderr(box):
	res = box.run("run", "--allow-domain", "api.test", "--", "curl",
	    "-sS", "-o", "/dev/null", "-w", "%{http_code}",
	    "http://evil.test/")
	assert res.rc == 0, res
	assert res.out == "403", res
	m = SUMMARY_RE.search(res.err)
	assert m and m.group(1) == "1", res.err


def test_proxy_mode_unix_socket_outside_grants_is_eacces(box):
	"""SPEC 3: a pathname AF_UNIX connect is allowed only inside granted
	paths or --allow-unix-socket.  The socket lives in box.outside."""
	path = os.path.join(box.outside, "s.sock")
	srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
	srv.bind(path)
	srv.listen(4)
	try:
		code = ("import socket,sys\n"
		    "s=socket.socket(socket.AF_UNIX)\n"
		    "try:\n s.connect(sys.argv[1])\n"
		    "except OSError as e:\n sys.exit(e.errno)\n")
		res = box.run("run", *PROXY, "--", "/usr/bin/python3", "-c",
		    code, path)
		assert res.rc == EACCES, res
	finally:
		srv.close()


# ------------------------------------------------------------ through curl

def test_curl_through_proxy_reaches_allowed_local_upstream(box,
    http_upstream):
	port = http_upstream.port
	audit = box.path("audit.jsonl")
	res = box.run("run", "--allow-domain", "api.test:%d" % port,
	    "--resolve", "api.test:%d:127.0.0.1" % port, "--audit-log", audit,
	    "--", "curl", "-sS", "--noproxy", "", "http://api.test:%d/hello"
	    % port)
	assert res.rc == 0, res
	body = json.loads(res.out)
	assert body["path"] == "/hello", body
	hdrs = {k.lower(): v for k, v in body["headers"]}
	assert "proxy-authorization" not in hdrs, hdrs
	recs = [r for r in audit_lines(audit) if r["mode"] == "forward"]
	assert recs and recs[0]["decision"] == "allow", audit_lines(audit)
	assert recs[0]["host"] == "api.test" and recs[0]["port"] == port


def test_curl_https_connect_through_proxy_reaches_tls_upstream(box,
    tls_upstream, ca):
	port = tls_upstream.port
	cafile = os.path.join(box.granted, "ca.pem")
	shutil.copy(os.path.join(ca, "ca.pem"), cafile)
	audit = box.path("audit.jsonl")
	res = box.run("run", "--allow-domain", "api.test:%d" % port,
	    "--resolve", "api.test:%d:127.0.0.1" % port, "--audit-log", audit,
	    "--read-file", cafile, "--", "curl", "-sS", "--noproxy", "",
	    "--cacert", cafile, "https://api.test:%d/tls" % port)
	assert res.rc == 0, res
	assert json.loads(res.out)["path"] == "/tls"
	recs = [r for r in audit_lines(audit) if r["mode"] == "connect"]
	assert recs and recs[0]["decision"] == "allow", audit_lines(audit)


def test_curl_direct_grant_bypasses_proxy_via_no_proxy(box, http_upstream):
	port = http_upstream.port
	res = box.run("run", "--allow-domain", "api.test:%d" % port,
	    "--resolve", "api.test:%d:127.0.0.1" % port, "--", "curl", "-sS",
	    "--resolve", "api.test:%d:127.0.0.1" % port,
	    "http://api.test:%d/direct" % port)
	assert res.rc == 0, res
	assert json.loads(res.out)["path"] == "/direct"


def test_curl_to_host_not_in_allow_list_gets_403(box):
	res = box.run("run", "--allow-domain", "api.test", "--", "curl",
	    "-sS", "-o", "/dev/null", "-w", "%{http_code}",
	    "http://evil.test/")
	assert res.out == "403", res


def test_curl_ignoring_proxy_cannot_reach_loopback_upstream(box,
    http_upstream):
	res = box.run("run", *PROXY, "--", "curl", "-sS", "--noproxy", "*",
	    "-o", "/dev/null", "http://127.0.0.1:%d/" % http_upstream.port)
	assert res.rc == 7, res		# CURLE_COULDNT_CONNECT
	assert http_upstream.requests == []
