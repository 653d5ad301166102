"""Unix sockets (SPEC 3.2), in every network mode: a pathname connect()
or datagram send reaches only a socket bound inside this sandbox or one
named with --allow-unix-socket.  A write grant (/tmp by default, the
workdir) never implies a socket grant.

Real programs: a tmux server and an ssh-agent started outside the sandbox
with their sockets under /tmp (a default write grant), and python3 inside
for the errno of each call.
"""

import errno
import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from run_fixtures import (EACCES, assert_errno, assert_ok, box,  # noqa: F401
    try_bin)

MODES = {
	"allow": (),
	"blocked": ("--block-net",),
	"proxy": ("--allow-domain", "example.test"),
}
PY = "/usr/bin/python3"

# Run inside the sandbox: one call per line of argv, "name=errno" or
# "name=ok" printed for each.
SCRIPT = r'''
import array, errno, os, socket, sys

def tag(name, fn):
	try:
		r = fn()
		print("%s=ok%s" % (name, "" if r is None else " " + str(r)))
	except OSError as e:
		print("%s=%s" % (name, errno.errorcode.get(e.errno, e.errno)))

def stream_inside(d):
	p = os.path.join(d, "in.sock")
	s = socket.socket(socket.AF_UNIX)
	s.bind(p)
	s.listen(4)
	c = socket.socket(socket.AF_UNIX)
	c.connect(p)
	a, _ = s.accept()
	c.sendall(b"ping")
	return a.recv(16).decode()

def dgram_inside(d):
	os.chdir(d)
	r = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
	r.bind(os.path.join(d, "r.sock"))
	w = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
	w.bind("w.sock")
	w.sendto(b"one", os.path.join(d, "r.sock"))
	m1, peer = r.recvfrom(16)
	w.sendmsg([b"tw", b"o"], [], 0, os.path.join(d, "r.sock"))
	m2 = r.recv(16)
	r.sendto(b"back", peer)
	m3 = w.recv(16)
	return "%s,%s,%s" % (m1.decode(), m2.decode(), m3.decode())

def fds_inside(d):
	r = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
	r.bind(os.path.join(d, "fr.sock"))
	w = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
	with open(os.path.join(d, "passed.txt"), "w") as f:
		f.write("through")
	fd = os.open(os.path.join(d, "passed.txt"), os.O_RDONLY)
	w.sendmsg([b"fd"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
	    array.array("i", [fd]))], 0, os.path.join(d, "fr.sock"))
	os.close(fd)
	msg, fds, _, _ = socket.recv_fds(r, 16, 4)
	return "%s,%s" % (msg.decode(), os.read(fds[0], 16).decode())

def connect(p):
	c = socket.socket(socket.AF_UNIX)
	c.connect(p)

def sendto(p):
	c = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
	c.sendto(b"leak", p)

def sendmsg_fd(p):
	c = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
	fds = array.array("i", [0, 1])
	c.sendmsg([b"fd"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds)],
	    0, p)

def bind(p):
	s = socket.socket(socket.AF_UNIX)
	s.bind(p)

def hardlink(src, dst):
	os.link(src, dst)
	connect(dst)

for arg in sys.argv[1:]:
	op, _, rest = arg.partition(":")
	args = rest.split(",") if rest else []
	tag(op, lambda: globals()[op](*args))
'''


def results(res):
	out = {}
	for line in res.out.splitlines():
		k, sep, v = line.partition("=")
		if sep:
			out[k] = v
	return out


def run_py(box, opts, *ops):
	script = os.path.join(box.granted, "unix_ops.py")
	if not os.path.exists(script):
		box.write(script, SCRIPT)
	return box.run("run", *opts, "--allow", box.granted, "--", PY,
	    script, *ops)


@pytest.fixture
def tmpdir_under_tmp():
	"""A directory in /tmp, where real daemons put their sockets."""
	d = tempfile.mkdtemp(prefix="keyhole-unix-", dir="/tmp")
	yield d
	shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def tmux_server(tmpdir_under_tmp):
	if shutil.which("tmux") is None:
		pytest.fail("tmux is not installed (scripts/deps.sh)")
	sock = os.path.join(tmpdir_under_tmp, "tmux-sock")
	env = {"PATH": "/usr/bin:/bin", "HOME": tmpdir_under_tmp,
	    "TERM": "xterm"}
	subprocess.run(["tmux", "-S", sock, "-f", "/dev/null", "new-session",
	    "-d", "-s", "t", "sleep 120"], check=True, env=env, timeout=10)
	yield sock
	subprocess.run(["tmux", "-S", sock, "kill-server"], env=env,
	    timeout=10, capture_output=True)


@pytest.fixture
def ssh_agent(tmpdir_under_tmp):
	if shutil.which("ssh-agent") is None:
		pytest.fail("openssh-client is not installed (scripts/deps.sh)")
	sock = os.path.join(tmpdir_under_tmp, "agent.sock")
	p = subprocess.Popen(["ssh-agent", "-D", "-a", sock],
	    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
	deadline = time.monotonic() + 5
	while not os.path.exists(sock):
		assert time.monotonic() < deadline, "ssh-agent did not start"
		time.sleep(0.02)
	yield sock
	p.kill()
	p.wait()


def listener(path, kind=socket.SOCK_STREAM):
	s = socket.socket(socket.AF_UNIX, kind)
	s.bind(path)
	if kind == socket.SOCK_STREAM:
		s.listen(4)
	return s


@pytest.mark.parametrize("mode", MODES)
def test_tmux_server_outside_cannot_run_a_command(box, tmux_server, mode):
	"""The escape of issue 14: tmux -S /tmp/... run-shell CMD inside."""
	marker = os.path.join(box.outside, "MARKER-" + mode)
	res = box.run("run", *MODES[mode], "--", "tmux", "-S", tmux_server,
	    "run-shell", "touch " + marker)
	assert res.rc != 0, res
	assert "Permission denied" in res.err, res
	time.sleep(0.3)
	assert not os.path.exists(marker)
	# The same request from outside does run: the server was reachable.
	subprocess.run(["tmux", "-S", tmux_server, "run-shell",
	    "touch " + marker], check=True, timeout=10)
	assert os.path.exists(marker)


@pytest.mark.parametrize("mode", MODES)
def test_ssh_agent_outside_is_unreachable(box, ssh_agent, mode):
	env = {"SSH_AUTH_SOCK": ssh_agent}
	res = box.run("run", *MODES[mode], "--", "ssh-add", "-l", env=env)
	assert res.rc == 2, res
	assert "Permission denied" in res.err, res
	# Named with --allow-unix-socket it answers (no identities: 1).
	res = box.run("run", *MODES[mode], "--allow-unix-socket", ssh_agent,
	    "--", "ssh-add", "-l", env=env)
	assert res.rc == 1, res
	assert "no identities" in res.out + res.err, res


@pytest.mark.parametrize("mode", MODES)
def test_socket_bound_inside_workdir_is_reachable(box, mode):
	res = run_py(box, MODES[mode], "stream_inside:" + box.granted,
	    "dgram_inside:" + box.granted, "fds_inside:" + box.granted)
	r = results(res)
	# SCM_RIGHTS between sockets bound inside: the supervisor sends its
	# duplicates of the child's descriptors.
	assert r.get("fds_inside") == "ok fd,through", res
	assert r.get("stream_inside") == "ok ping", res
	assert r.get("dgram_inside") == "ok one,two,back", res


@pytest.mark.parametrize("mode", MODES)
def test_socket_bound_outside_in_write_grant_is_refused(box, mode):
	"""A socket in a write-granted directory, bound by an outside process:
	connect, sendto and sendmsg (with descriptors) all EACCES, and the
	receiver gets nothing."""
	s = listener(os.path.join(box.granted, "out.sock"))
	d = listener(os.path.join(box.granted, "outd.sock"), socket.SOCK_DGRAM)
	d.setblocking(False)
	try:
		res = run_py(box, MODES[mode],
		    "connect:" + os.path.join(box.granted, "out.sock"),
		    "sendto:" + os.path.join(box.granted, "outd.sock"),
		    "sendmsg_fd:" + os.path.join(box.granted, "outd.sock"),
		    "hardlink:%s,%s" % (os.path.join(box.granted, "out.sock"),
		    os.path.join(box.granted, "ln.sock")))
		r = results(res)
		assert r.get("connect") == "EACCES", res
		assert r.get("sendto") == "EACCES", res
		assert r.get("sendmsg_fd") == "EACCES", res
		assert r.get("hardlink") == "EACCES", res
		with pytest.raises(BlockingIOError):
			d.recvmsg(64, 64)
	finally:
		s.close()
		d.close()


def test_allow_unix_socket_opens_exactly_one_outside_socket(box):
	a = listener(os.path.join(box.outside, "a.sock"))
	b = listener(os.path.join(box.outside, "b.sock"))
	da = listener(os.path.join(box.outside, "da.sock"), socket.SOCK_DGRAM)
	try:
		res = run_py(box, ("--allow-unix-socket",
		    os.path.join(box.outside, "a.sock"), "--allow-unix-socket",
		    os.path.join(box.outside, "da.sock")),
		    "connect:" + os.path.join(box.outside, "a.sock"),
		    "connect:" + os.path.join(box.outside, "b.sock"),
		    "sendto:" + os.path.join(box.outside, "da.sock"))
		lines = [l for l in res.out.splitlines() if "=" in l]
		assert lines == ["connect=ok", "connect=EACCES", "sendto=ok"], res
		assert da.recv(16) == b"leak"
	finally:
		a.close()
		b.close()
		da.close()


def test_bind_outside_write_grants_is_refused(box):
	target = os.path.join(box.outside, "planted.sock")
	res = run_py(box, (), "bind:" + target)
	assert results(res).get("bind") == "EACCES", res
	assert not os.path.exists(target)


def test_abstract_socket_outside_is_refused_in_allow_mode(box):
	name = "keyhole-unix-test-%d" % os.getpid()
	s = socket.socket(socket.AF_UNIX)
	s.bind("\0" + name)
	s.listen(4)
	try:
		res = box.run("run", "--", PY, "-c",
		    "import socket,errno\ns=socket.socket(socket.AF_UNIX)\n"
		    "try:\n s.connect('\\0%s'); print('ok')\n"
		    "except OSError as e: print(errno.errorcode[e.errno])" % name)
		assert res.out.strip() == "EACCES", res
	finally:
		s.close()


def test_socketpair_keeps_working(box):
	res = box.run("run", "--block-net", "--", PY, "-c",
	    "import socket\na,b=socket.socketpair(socket.AF_UNIX,"
	    "socket.SOCK_DGRAM)\na.sendmsg([b'x'])\nprint(b.recv(4))")
	assert res.out.strip() == "b'x'", res


def test_allow_mode_inet_connects_still_work(box):
	srv = socket.socket()
	srv.bind(("127.0.0.1", 0))
	srv.listen(4)
	port = srv.getsockname()[1]
	try:
		res = box.run("run", "--", PY, "-c",
		    "import socket\nc=socket.create_connection(('127.0.0.1',%d))\n"
		    "c.sendall(b'hi')\nprint('ok')" % port)
		assert res.out.strip() == "ok", res
		c, _ = srv.accept()
		assert c.recv(4) == b"hi"
		c.close()
	finally:
		srv.close()


RACE = r'''
import errno, os, socket, sys, threading, time
out_path, tcp_port = sys.argv[1], int(sys.argv[2])
tcp = socket.create_connection(("127.0.0.1", tcp_port))
tcp.setblocking(False)
udg = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
n = os.dup(udg.fileno())
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM, fileno=n)
stop = time.monotonic() + 1.0
def flip():
	while time.monotonic() < stop:
		os.dup2(tcp.fileno(), n)
		os.dup2(udg.fileno(), n)
t = threading.Thread(target=flip)
t.start()
sent = refused = 0
while time.monotonic() < stop:
	try:
		s.sendto(b"leak", out_path)
		sent += 1
	except OSError as e:
		refused += e.errno == errno.EACCES
t.join()
print("sent=%d refused=%d" % (sent, refused))
'''


def test_dup2_race_during_sendto_never_reaches_outside(box):
	"""Another thread dup2()s a TCP socket and a unix datagram socket in
	turn onto the descriptor a sendto() to an outside socket uses: the
	supervisor decides on the socket it duplicated, so the datagram never
	arrives (a check of one socket and a send on another would leak)."""
	srv = socket.socket()
	srv.bind(("127.0.0.1", 0))
	srv.listen(4)
	out = listener(os.path.join(box.granted, "race.sock"), socket.SOCK_DGRAM)
	out.setblocking(False)
	script = box.write(os.path.join(box.granted, "race.py"), RACE)
	try:
		res = box.run("run", "--allow", box.granted, "--", PY, script,
		    os.path.join(box.granted, "race.sock"),
		    srv.getsockname()[1], timeout=30)
		assert res.rc == 0 and "refused=" in res.out, res
		refused = int(res.out.split("refused=")[1])
		assert refused > 0, res
		with pytest.raises(BlockingIOError):
			out.recv(16)
	finally:
		out.close()
		srv.close()


def test_sendmmsg_to_outside_socket_is_refused_unless_named(box, try_bin):
	path = os.path.join(box.granted, "mm.sock")
	out = listener(path, socket.SOCK_DGRAM)
	out.setblocking(False)
	try:
		res = box.run_try(("--allow", box.granted), "mmsg", "unix", path)
		assert_errno(res, EACCES)
		with pytest.raises(BlockingIOError):
			out.recv(16)
		res = box.run_try(("--allow", box.granted, "--allow-unix-socket",
		    path), "mmsg", "unix", path)
		assert_ok(res)
		assert [out.recv(16), out.recv(16)] == [b"a", b"b"]
	finally:
		out.close()


def test_sendmmsg_udp_in_allow_mode_still_works(box, try_bin):
	"""glibc's resolver sends its A and AAAA queries with one sendmmsg:
	in allow mode the supervisor performs it, both datagrams arrive and
	each msg_len is written back."""
	u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	u.bind(("127.0.0.1", 0))
	u.settimeout(5)
	try:
		res = box.run_try((), "mmsg", "udp", "127.0.0.1",
		    u.getsockname()[1])
		assert_ok(res)
		assert [u.recv(16), u.recv(16)] == [b"a", b"b"]
	finally:
		u.close()


def test_sendmmsg_on_a_connected_socket_sends_every_message_whole(box,
    try_bin):
	"""A sendmmsg without names (glibc's A+AAAA on its connected DNS
	socket) takes the supervisor's batched path: every message arrives
	whole (its two iovecs joined), in order, each msg_len written back."""
	u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	u.bind(("127.0.0.1", 0))
	u.settimeout(5)
	try:
		res = box.run_try((), "mmsg", "udpc", "127.0.0.1",
		    u.getsockname()[1])
		assert_ok(res)
		assert [u.recv(16) for _ in range(3)] == [b"aA", b"bbB", b"ccc"]
	finally:
		u.close()


def test_sendmsg_to_a_closed_peer_still_raises_sigpipe(box):
	"""The supervisor sends with MSG_NOSIGNAL and passes the SIGPIPE on
	to the calling thread, as the kernel would have sent it."""
	res = box.run("run", "--", PY, "-c",
	    "import signal, socket\nsignal.signal(signal.SIGPIPE, "
	    "signal.SIG_DFL)\na, b = socket.socketpair()\nb.close()\n"
	    "a.sendmsg([b'x'])\nprint('survived')")
	assert res.rc == 128 + 13, res
	assert "survived" not in res.out


def test_sendmsg_nosignal_to_a_closed_peer_is_epipe(box):
	res = box.run("run", "--", PY, "-c",
	    "import errno, signal, socket\nsignal.signal(signal.SIGPIPE, "
	    "signal.SIG_DFL)\na, b = socket.socketpair()\nb.close()\n"
	    "try:\n a.sendmsg([b'x'], [], socket.MSG_NOSIGNAL)\n"
	    "except OSError as e: print(errno.errorcode[e.errno])")
	assert res.rc == 0 and res.out.strip() == "EPIPE", res
