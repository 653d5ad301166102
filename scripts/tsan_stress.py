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


class Server:
	"""A TCP listener on 127.0.0.1 accepting and closing until closed."""

	def __init__(self):
		self.s = socket.socket()
		self.s.bind(("127.0.0.1", 0))
		self.s.listen(512)
		self.port = self.s.getsockname()[1]
		self.t = threading.Thread(target=self.loop, daemon=True)
		self.t.start()

	def loop(self):
		while True:
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


def programs(root, ok, no, connloop):
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
	ok, no = Server(), Server()
	bad = 0
	try:
		progs = programs(root, ok, no, connloop)
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
					rc, err = p.returncode, p.stderr
				except subprocess.TimeoutExpired as e:
					rc, err = "timeout", e.stderr or b""
				ok_run = rc == want and (want != 0 or
				    b"done" in p.stdout or name == "connloop")
				bad += not ok_run
				print("%-12s round %d: exit %s%s (%.1f s)" % (name, r,
				    rc, "" if ok_run else " (want %d)" % want,
				    time.monotonic() - t0), flush=True)
				if not ok_run or os.environ.get("TSAN_STRESS_V"):
					sys.stdout.write(err.decode("utf-8",
					    "replace")[-2000:])
	finally:
		ok.close()
		no.close()
		shutil.rmtree(root, ignore_errors=True)
	sys.exit(2 if bad else 0)


if __name__ == "__main__":
	main()
