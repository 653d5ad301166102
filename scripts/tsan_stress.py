#!/usr/bin/python3
"""The stress programs scripts/tsan.sh runs under a ThreadSanitizer build
of keyhole (build/tsan/keyhole), to find races between the mediator's
notification threads and the event loop.  Run by tsan.sh inside a network
namespace of its own (nothing can leave it); not a test of answers (the
integration tests are), only of what TSan says.

  tsan_stress.py KEYHOLE LOGDIR ROUNDS [NAME...]

Each named program (all by default) runs ROUNDS times, each keyhole with
TSAN_OPTIONS log_path=LOGDIR/NAME.ROUND; its exit code is checked.
Prints one line per run; exits 0 when every run ended as expected, 2
when one did not (reports are counted by tsan.sh from the logs).
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

# 8 threads, each looping over: an allowed and a denied connect, a denied
# chmod and utimensat, an allowed chmod, and (every 4th round) lookups of
# a granted and a refused name (in proxy mode the supervisor's DNS
# answerer; the namespace has no route, so nothing leaves).  Argument
# "cut": the program _exits while its threads are still busy; else each
# thread makes N rounds and the program exits 0.  A background loop of
# chmods (a descendant outliving the child) runs in either case.
BUSY = r"""
import errno, os, socket, subprocess, sys, threading, time
ok_port, no_port, n, granted, outside, how = int(sys.argv[1]), \
    int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
subprocess.Popen(["/bin/sh", "-c", "(i=0; while [ $i -lt 300 ]; do "
    "chmod 600 %s/bg; chmod 644 %s/bg; i=$((i+1)); done) "
    ">/dev/null 2>&1 &" % (granted, granted)]).wait()
def conn(port):
	s = socket.socket()
	try:
		s.connect(("127.0.0.1", port))
	except OSError:
		pass
	s.close()
def work(k):
	f = os.path.join(granted, "f%d" % k)
	open(f, "w").close()
	i = 0
	while how == "cut" or i < n:
		conn(ok_port)
		conn(no_port)
		for call in (lambda: os.chmod(outside, 0o600),
		    lambda: os.utime(outside, (1, 1)),
		    lambda: os.chmod(f, 0o600 if i % 2 else 0o644)):
			try:
				call()
			except OSError:
				pass
		if i % 4 == 0:
			for name in ("example.test", "refused.invalid"):
				try:
					socket.getaddrinfo(name, 80,
					    type=socket.SOCK_STREAM)
				except OSError:
					pass
		i += 1
t = [threading.Thread(target=work, args=(k,), daemon=True)
    for k in range(8)]
for x in t: x.start()
if how == "cut":
	time.sleep(1.5)
	os._exit(7)
for x in t: x.join()
print("done", flush=True)
"""

# "waits": 8 threads: blocking connects to a server that accepts one
# connection every 20 ms through a backlog of 1 (most wait, on the loop,
# for SYN retries; beyond MEDIATOR_MAX_PENDING they get EAGAIN), unix
# stream binds, connects and accepts, datagrams sent to a bound path
# (sendto, sendmsg), a pty opened (mediate_pty); after 3 s the program
# _exits with connects still waiting.  "byname": 8 threads connecting
# by name (a --resolve'd direct grant in proxy mode, the loop's), with
# lookups.  "report": BUSY in --report-only mode (would_deny records
# handed to the loop).
UNIX = r"""
import os, socket, sys, threading, time
port, granted, how = int(sys.argv[1]), sys.argv[2], sys.argv[3]
n = {"conn": 0, "unix": 0, "err": 0}
def conn(host):
	try:
		s = socket.create_connection((host, port))
		s.close()
		n["conn"] += 1
	except OSError:
		n["err"] += 1
def unix(k, i):
	p = os.path.join(granted, "u%d.%d" % (k, i % 4))
	d = os.path.join(granted, "d%d.%d" % (k, i % 4))
	for x in (p, d):
		try:
			os.unlink(x)
		except OSError:
			pass
	try:
		l = socket.socket(socket.AF_UNIX)
		l.bind(p)
		l.listen(4)
		c = socket.socket(socket.AF_UNIX)
		c.connect(p)
		a, _ = l.accept()
		for s in (a, c, l):
			s.close()
		r = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
		r.bind(d)
		w = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
		w.sendto(b"x", d)
		r.recv(8)
		w.sendmsg([b"y"], [], 0, d)
		r.recv(8)
		w.close()
		r.close()
		for f in os.openpty():
			os.close(f)
		n["unix"] += 1
	except OSError:
		n["err"] += 1
def work(k):
	i = 0
	while True:
		if how == "byname":
			conn("db.test")
		else:
			if i % 2 == 0:
				threading.Thread(target=conn, args=("127.0.0.1",),
				    daemon=True).start()
			unix(k, i)
		i += 1
for k in range(8):
	threading.Thread(target=work, args=(k,), daemon=True).start()
time.sleep(3)
os.write(1, ("%r\n" % n).encode())
os._exit(7)
"""


class Server:
	"""A TCP listener on 127.0.0.1 accepting and closing until closed,
	one connection every `pause` seconds (0: at once) from a backlog of
	`backlog`."""

	def __init__(self, backlog=512, pause=0):
		self.s = socket.socket()
		self.s.bind(("127.0.0.1", 0))
		self.s.listen(backlog)
		self.port = self.s.getsockname()[1]
		self.pause = pause
		threading.Thread(target=self.loop, daemon=True).start()

	def loop(self):
		while True:
			if self.pause:
				time.sleep(self.pause)
			try:
				c, _ = self.s.accept()
			except OSError:
				return
			c.close()

	def close(self):
		try:
			self.s.shutdown(socket.SHUT_RDWR)
		except OSError:
			pass
		self.s.close()


def Slow():
	"""A listener with a backlog of 1 accepting every 20 ms."""
	return Server(backlog=1, pause=0.02)


def programs(root, ok, no, slow, connloop):
	"""name -> (keyhole arguments, expected exit code)."""
	granted = os.path.join(root, "granted")
	outside = os.path.join(root, "outside", "f")
	py = ["/usr/bin/python3", "-c", BUSY, str(ok.port), str(no.port)]
	blocked = ["run", "--block-net", "--open-port", str(ok.port),
	    "--allow", granted, "--read-file", outside, "--"]
	proxied = ["run", "--allow-domain", "example.test", "--open-port",
	    str(ok.port), "--allow", granted, "--read-file", outside, "--"]
	p = {
	    "blocked": (blocked + py + ["400", granted, outside, "all"], 0),
	    "blocked-cut": (blocked + py + ["0", granted, outside, "cut"], 7),
	    "proxy": (proxied + py + ["400", granted, outside, "all"], 0),
	    "proxy-cut": (proxied + py + ["0", granted, outside, "cut"], 7),
	}
	audit = os.path.join(root, "audit.log")
	p["report"] = (["run", "--report-only", "--allow-domain",
	    "example.test", "--allow", granted, "--read-file", outside,
	    "--audit-log", audit, "--"] + py + ["200", granted, outside,
	    "all"], 0)
	p["waits"] = (["run", "--block-net", "--open-port", str(slow.port),
	    "--allow", granted, "--audit-log", audit, "--", "/usr/bin/python3",
	    "-c", UNIX, str(slow.port), granted, "waits"], 7)
	p["byname"] = (["run", "--allow-domain", "db.test:%d" % ok.port,
	    "--resolve", "db.test:%d:127.0.0.1" % ok.port, "--allow", granted,
	    "--audit-log", audit, "--", "/usr/bin/python3", "-c", UNIX,
	    str(ok.port), granted, "byname"], 7)
	if connloop:
		p["connloop"] = (["run", "--block-net", "--open-port",
		    str(ok.port), "--read-file", connloop, "--", connloop,
		    "client", str(ok.port), "20000", "8"], 0)
	return p


def main():
	if len(sys.argv) < 4:
		sys.exit("usage: tsan_stress.py KEYHOLE LOGDIR ROUNDS [NAME...]")
	keyhole, logdir, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
	connloop = os.environ.get("CONNLOOP")
	# Not under /tmp, which the default policy grants.
	root = tempfile.mkdtemp(prefix="keyhole-tsan-", dir="/var/tmp")
	for d in ("granted", "outside", "home"):
		os.makedirs(os.path.join(root, d))
	for f in ("granted/bg", "outside/f"):
		with open(os.path.join(root, f), "w") as fh:
			fh.write("x\n")
	ok, no, slow = Server(), Server(), Slow()
	bad = 0
	try:
		progs = programs(root, ok, no, slow, connloop)
		names = sys.argv[4:] or list(progs)
		for name in names:
			if name not in progs:
				sys.exit("tsan_stress: no program %r (%s)" %
				    (name, " ".join(progs)))
		for r in range(rounds):
			for name in names:
				args, want = progs[name]
				env = dict(os.environ, HOME=os.path.join(root,
				    "home"), TSAN_OPTIONS="log_path=%s/%s.%d "
				    "exitcode=0 halt_on_error=0 "
				    "second_deadlock_stack=1 history_size=4" %
				    (logdir, name, r))
				t0 = time.monotonic()
				try:
					p = subprocess.run([keyhole] + args,
					    capture_output=True, env=env, cwd=root,
					    timeout=300)
					rc, out, err = p.returncode, p.stdout, \
					    p.stderr
				except subprocess.TimeoutExpired as e:
					rc, out, err = "timeout", e.stdout or b"", \
					    e.stderr or b""
				ok_run = rc == want and (want != 0 or
				    b"done" in out or name == "connloop")
				bad += not ok_run
				print("%-12s round %d: exit %s%s (%.1f s)" % (name, r,
				    rc, "" if ok_run else " (want %d)" % want,
				    time.monotonic() - t0), flush=True)
				if not ok_run or os.environ.get("TSAN_STRESS_V"):
					sys.stdout.write((out + err).decode(
					    "utf-8", "replace")[-2000:])
	finally:
		ok.close()
		no.close()
		slow.close()
		shutil.rmtree(root, ignore_errors=True)
	sys.exit(2 if bad else 0)


if __name__ == "__main__":
	main()
