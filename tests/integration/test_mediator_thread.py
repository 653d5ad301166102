"""The mediator's notification threads (src/sandbox/mediator.c): the
child's notifications are received by threads of their own, blocked in
SECCOMP_IOCTL_NOTIF_RECV (one at a time; several handle calls at once
when the child is busy), which handle them under the mediator's lock or
hand them to the event loop (proxy-mode connects, socket(), waits, audit
records of the proxy's log).  These tests hold it to what the loop alone
did: every thread of a program gets its own answer, waits still happen on
the loop, audit records are all written, and it stops with the run even
when the child's descendants outlive it.
"""

import os
import resource
import select
import subprocess
import time

from conftest import assert_no_sanitizer_report
from run_fixtures import assert_ok, box, try_bin  # noqa: F401
from test_mediator import Server, audit_lines, direct

# What the child programs below share: conn() and chmod_err() give 0 or
# the errno, in_threads() runs work(k) on 8 threads at once, and report()
# prints the mismatches collected in bad.
CHILD_LIB = r"""
import errno, os, socket, sys, threading, time
bad = []
def conn(port):
	s = socket.socket()
	try:
		s.connect(("127.0.0.1", port))
		return 0
	except OSError as e:
		return e.errno
	finally:
		s.close()
def chmod_err(path, mode):
	try:
		os.chmod(path, mode)
		return 0
	except OSError as e:
		return e.errno
def outcome(r):
	return "ok" if r == 0 else "errno %d" % r
def expect(r, want, *where):
	if r != want:
		bad.append(where + (r,))
def in_threads(work, n=8):
	t = [threading.Thread(target=work, args=(k,)) for k in range(n)]
	for x in t: x.start()
	for x in t: x.join()
def report():
	print("bad=%d %r" % (len(bad), bad[:5]), flush=True)
"""

# 8 threads, each N connects alternating between a port it may reach and
# one it may not, and as many chmods inside and outside the grant: every
# answer checked against the expected one (any mix-up between threads'
# notifications shows as a wrong errno).
MIXED = CHILD_LIB + r"""
ok_port, no_port, n, granted, outside = int(sys.argv[1]), \
    int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
def work(k):
	f = os.path.join(granted, "f%d" % k)
	open(f, "w").close()
	for i in range(n):
		if i % 2:
			expect(conn(no_port), errno.EACCES, "deny", k, i)
		else:
			expect(conn(ok_port), 0, "allow", k, i)
		mode = 0o600 if i % 2 else 0o644
		r = chmod_err(f, mode)
		if r != 0 or os.stat(f).st_mode & 0o777 != mode:
			bad.append(("mode", k, i, r))
		expect(chmod_err(outside, 0o600), errno.EACCES, "outside", k, i)
in_threads(work)
report()
"""


def test_eight_threads_at_once_each_get_their_own_answers(box):
	ok = Server("127.0.0.1")
	no = Server("127.0.0.1")
	outside = box.write(os.path.join(box.outside, "f"), "x\n")
	try:
		res = box.run("run", "--block-net", "--open-port", ok.port,
		    "--allow", box.granted, "--read-file", outside, "--",
		    "/usr/bin/python3", "-c", MIXED, ok.port, no.port, 100,
		    box.granted, outside, timeout=120)
		assert_ok(res)
		assert "bad=0 " in res.out, res
		# 8 x 50 allowed connects reached ok; none reached no.
		assert accepted(ok, 400) == 400
		assert no.accepted == 0
	finally:
		ok.close()
		no.close()
	assert os.stat(outside).st_mode & 0o777 == 0o644


def test_the_run_ends_when_the_child_exits_though_a_descendant_lives_on(
    box):
	"""The background process keeps the child's filter (and the
	listener's tasks) alive: the notification thread, blocked in RECV, is
	stopped with the run instead of waiting for it."""
	res = box.run("run", "--block-net", "--allow", box.granted, "--",
	    "/bin/sh", "-c", "sleep 6 >/dev/null 2>&1 & exit 0", timeout=30)
	assert_ok(res)
	assert res.elapsed < 4, res


def test_a_descendant_calling_while_the_run_ends_is_stopped_cleanly(box):
	"""A background loop of chmods (notifications) still going when the
	child exits: the thread is stopped in the middle of them, without a
	sanitizer report or a hang."""
	f = box.write(os.path.join(box.granted, "g"), "x\n")
	# Bounded: once the run is over its chmods fail (ENOSYS) at once.
	script = ("(i=0; while [ $i -lt 4000 ]; do chmod 600 %s; chmod 644 %s; "
	    "i=$((i+1)); done) >/dev/null 2>&1 & sleep 0.3; exit 3" % (f, f))
	t0 = time.monotonic()
	res = box.run("run", "--block-net", "--allow", box.granted, "--",
	    "/bin/sh", "-c", script, timeout=30)
	assert res.rc == 3, res
	assert time.monotonic() - t0 < 8, res


def test_proxy_mode_metadata_denials_handled_off_the_loop_are_audited(box):
	"""In proxy mode the thread hands its audit records to the loop (the
	proxy's log is the loop's): each denial is in the log and in the
	summary, written before the run's report."""
	outside = box.write(os.path.join(box.outside, "h"), "x\n")
	log = box.path("audit.log")
	res = box.run("run", "--allow-domain", "example.test", "--allow",
	    box.granted, "--read-file", outside, "--audit-log", log, "--",
	    "/usr/bin/python3", "-c",
	    "import os, sys\n"
	    "for i in range(20):\n"
	    "    try:\n"
	    "        os.chmod(sys.argv[1], 0o600)\n"
	    "    except PermissionError:\n"
	    "        pass\n"
	    "    else:\n"
	    "        sys.exit(99)\n", outside)
	assert_ok(res)
	recs = [r for r in direct(audit_lines(log), decision="deny")
	    if r.get("host") == "chmod:" + outside]
	assert len(recs) == 20, audit_lines(log)
	assert "chmod:" + outside in res.err, res
	assert os.stat(outside).st_mode & 0o777 == 0o644


# A blocking connect to a peer whose accept queue is full, made by one
# thread while another makes metadata calls: the connect's wait is handed
# to the loop, the notification thread goes on answering.
WAITING = CHILD_LIB + r"""
port, f = int(sys.argv[1]), sys.argv[2]
res = {}
def pending():
	res["c"] = outcome(conn(port))
t = threading.Thread(target=pending)
t.start()
time.sleep(0.5)
t0 = time.monotonic()
for i in range(50):
	os.chmod(f, 0o600 if i % 2 else 0o644)
print("chmods %.3f alive %s" % (time.monotonic() - t0, t.is_alive()),
    flush=True)
t.join()
print("connect", res["c"], flush=True)
"""


def meanwhile(p, slow, fill, timeout, what, check):
	"""While slow's full backlog (fill) holds a connect of p: p's first
	line within timeout (else fails with what), given to check; then the
	backlog is freed, slow accepts, and p runs to its end: (out, err)."""
	try:
		r, _, _ = select.select([p.stdout], [], [], timeout)
		assert r, what
		check(p.stdout.readline().decode())
		for c in fill:
			c.close()
		slow.start()
		return p.communicate(timeout=30)
	finally:
		if p.poll() is None:
			p.kill()
			p.wait()


def test_a_connect_waiting_on_the_loop_does_not_hold_up_other_calls(box):
	slow = Server("127.0.0.1", backlog=0, accept=False)
	fill = []
	f = box.write(os.path.join(box.granted, "w"), "x\n")
	try:
		fill = slow.fill_backlog()
		p = box.popen("run", "--block-net", "--open-port", slow.port,
		    "--allow", box.granted, "--", "/usr/bin/python3", "-c",
		    WAITING, str(slow.port), f)

		def check(line):
			took, alive = float(line.split()[1]), line.split()[3]
			assert alive == "True", line
			assert took < 2.0, line
		out, err = meanwhile(p, slow, fill, 10,
		    "no answer to the chmods within 10 s", check)
	finally:
		slow.close()
		for c in fill:
			c.close()
	assert p.returncode == 0, (out, err)
	assert b"connect ok" in out, (out, err)


# ---- parallel handlers (leader/follower, mediator.c) ----

def notify_threads(pid):
	"""How many of process pid's threads are notification threads."""
	n = 0
	try:
		tasks = os.listdir("/proc/%d/task" % pid)
	except OSError:
		return 0
	for t in tasks:
		try:
			with open("/proc/%d/task/%s/comm" % (pid, t)) as f:
				if f.read().strip() == "keyhole-notify":
					n += 1
		except OSError:
			pass
	return n


def watch_threads(p, most):
	"""Until p ends: the most notification threads seen at once."""
	while p.poll() is None:
		most = max(most, notify_threads(p.pid))
		time.sleep(0.01)
	return most


def finish_watching(p, timeout):
	"""(the most notification threads seen at once, out, err) of p run
	to its end; killed if it outlives the timeout."""
	try:
		most = watch_threads(p, 0)
		out, err = p.communicate(timeout=timeout)
	finally:
		if p.poll() is None:
			p.kill()
			p.wait()
	return most, out, err


def accepted(server, n, timeout=5):
	"""server's count of accepted connections once it reaches n (they
	arrive after the client's connect returned), or at the timeout."""
	deadline = time.monotonic() + timeout
	while server.accepted < n and time.monotonic() < deadline:
		time.sleep(0.05)
	return server.accepted


def test_a_busy_child_is_answered_by_several_threads_each_call_rightly(box):
	"""8 threads connecting (allowed and denied) and chmod-ing (inside
	and outside the grant) at once: more than one notification thread
	handles them, and still every thread gets its own answer."""
	ok = Server("127.0.0.1")
	no = Server("127.0.0.1")
	outside = box.write(os.path.join(box.outside, "f"), "x\n")
	try:
		p = box.popen("run", "--block-net", "--open-port", ok.port,
		    "--allow", box.granted, "--read-file", outside, "--",
		    "/usr/bin/python3", "-c", MIXED, ok.port, no.port, 300,
		    box.granted, outside)
		most, out, err = finish_watching(p, 120)
		assert p.returncode == 0, (out, err)
		assert b"bad=0 " in out, (out, err)
		assert most >= 2, "one notification thread only"
		assert accepted(ok, 1200) == 1200
		assert no.accepted == 0
	finally:
		ok.close()
		no.close()
	assert os.stat(outside).st_mode & 0o777 == 0o644


def test_a_single_threaded_program_is_answered_by_one_thread(box):
	"""The lead passes only when calls queue up: a program calling from
	one thread never wakes a second notification thread."""
	f = box.write(os.path.join(box.granted, "s"), "x\n")
	p = box.popen("run", "--block-net", "--allow", box.granted, "--",
	    "/usr/bin/python3", "-c",
	    "import os, sys\n"
	    "for i in range(3000):\n"
	    "    os.chmod(sys.argv[1], 0o600 if i % 2 else 0o644)\n", f)
	most, out, err = finish_watching(p, 60)
	assert p.returncode == 0, (out, err)
	assert most == 1, most


# One thread's blocking connect waits (a full accept queue) while 8 others
# connect and chmod: none of them waits for it.
PENDING_BUSY = CHILD_LIB + r"""
slow, ok_port, f = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
res = {}
def pending():
	res["p"] = outcome(conn(slow))
def busy(k):
	for i in range(100):
		expect(conn(ok_port), 0, "conn", k, i)
		os.chmod(f, 0o600 if i % 2 else 0o644)
p = threading.Thread(target=pending)
p.start()
time.sleep(0.5)
t0 = time.monotonic()
in_threads(busy)
print("busy %.3f alive %s bad %d %r" % (time.monotonic() - t0,
    p.is_alive(), len(bad), bad[:3]), flush=True)
p.join()
print("pending", res["p"], flush=True)
"""


def test_a_pending_connect_does_not_hold_up_eight_busy_threads(box):
	slow = Server("127.0.0.1", backlog=0, accept=False)
	ok = Server("127.0.0.1")
	fill = []
	f = box.write(os.path.join(box.granted, "w"), "x\n")
	try:
		fill = slow.fill_backlog()
		p = box.popen("run", "--block-net", "--open-port", slow.port,
		    "--open-port", ok.port, "--allow", box.granted, "--",
		    "/usr/bin/python3", "-c", PENDING_BUSY, str(slow.port),
		    str(ok.port), f)

		def check(line):
			w = line.split()
			assert w[3] == "True", line
			assert w[5] == "0", line
			assert float(w[1]) < 20, line
		out, err = meanwhile(p, slow, fill, 30,
		    "the busy threads were not answered in 30 s", check)
		assert accepted(ok, 800) == 800
	finally:
		slow.close()
		ok.close()
		for c in fill:
			c.close()
	assert p.returncode == 0, (out, err)
	assert b"pending ok" in out, (out, err)


def test_the_run_ends_cleanly_while_several_threads_handle_calls(box):
	"""The child exits while 8 of its threads are connecting and
	chmod-ing: every notification thread is stopped, the exit status is
	kept, no hang, no sanitizer report (box.run checks)."""
	ok = Server("127.0.0.1")
	f = box.write(os.path.join(box.granted, "e"), "x\n")
	script = (
	    "import os, socket, sys, threading, time\n"
	    "port, f = int(sys.argv[1]), sys.argv[2]\n"
	    "def busy(k):\n"
	    "    while True:\n"
	    "        s = socket.socket()\n"
	    "        try:\n"
	    "            s.connect(('127.0.0.1', port))\n"
	    "        except OSError:\n"
	    "            pass\n"
	    "        s.close()\n"
	    "        os.chmod(f, 0o600)\n"
	    "for k in range(8):\n"
	    "    threading.Thread(target=busy, args=(k,), daemon=True).start()\n"
	    "time.sleep(1)\n"
	    "os._exit(7)\n")
	try:
		t0 = time.monotonic()
		res = box.run("run", "--block-net", "--open-port", ok.port,
		    "--allow", box.granted, "--", "/usr/bin/python3", "-c",
		    script, ok.port, f, timeout=60)
	finally:
		ok.close()
	assert res.rc == 7, res
	assert time.monotonic() - t0 < 20, res
	assert ok.accepted > 0


DENIED = CHILD_LIB + r"""
port, n, outside = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
def work(k):
	for i in range(n):
		expect(conn(port), errno.EACCES, "conn", k, i)
		expect(chmod_err(outside, 0o600), errno.EACCES, "chmod", k, i)
in_threads(work)
report()
"""


def test_denials_from_many_threads_at_once_are_audited_once_each(box):
	"""8 threads x 50 denied connects and 50 denied chmods, handled by
	several threads at once: exactly one audit record each."""
	no = Server("127.0.0.1")
	outside = box.write(os.path.join(box.outside, "d"), "x\n")
	log = box.path("audit.log")
	try:
		res = box.run("run", "--block-net", "--allow", box.granted,
		    "--read-file", outside, "--audit-log", log, "--",
		    "/usr/bin/python3", "-c", DENIED, no.port, 50, outside,
		    timeout=120)
	finally:
		no.close()
	assert_ok(res)
	assert "bad=0 " in res.out, res
	recs = direct(audit_lines(log), decision="deny")
	conns = [r for r in recs if r.get("port") == no.port]
	chmods = [r for r in recs if r.get("host") == "chmod:" + outside]
	assert len(conns) == 400, len(conns)
	assert len(chmods) == 400, len(chmods)
	assert no.accepted == 0


# One thread of the child connecting (allowed, denied) and chmod-ing
# (inside, outside): every answer checked.
SINGLE = CHILD_LIB + r"""
ok_port, no_port, f, outside = int(sys.argv[1]), int(sys.argv[2]), \
    sys.argv[3], sys.argv[4]
for i in range(50):
	for port, want in ((ok_port, 0), (no_port, errno.EACCES)):
		expect(conn(port), want, "conn", port)
	os.chmod(f, 0o600 if i % 2 else 0o644)
	expect(chmod_err(outside, 0o600), errno.EACCES, "outside", i)
report()
"""


def huge_stack_limit():
	# glibc sizes a new thread's stack by RLIMIT_STACK: a 1 TiB one
	# cannot be mapped, so pthread_create fails (EAGAIN), for root too.
	resource.setrlimit(resource.RLIMIT_STACK, (1 << 40, 1 << 40))


def test_when_no_thread_can_be_started_the_loop_answers_every_call(box):
	"""The fallback: the notification thread cannot be created (a huge
	`ulimit -s`), so the event loop receives and answers, as before the
	thread existed; every answer is still right and denials are
	audited."""
	ok = Server("127.0.0.1")
	no = Server("127.0.0.1")
	f = box.write(os.path.join(box.granted, "n"), "x\n")
	outside = box.write(os.path.join(box.outside, "n"), "x\n")
	log = box.path("audit.log")
	argv = [box.keyhole, "run", "--block-net", "--open-port", str(ok.port),
	    "--allow", box.granted, "--read-file", outside, "--audit-log",
	    log, "--", "/usr/bin/python3", "-c", SINGLE, str(ok.port),
	    str(no.port), f, outside]
	try:
		p = subprocess.Popen(argv, stdout=subprocess.PIPE,
		    stderr=subprocess.PIPE, env=box.env(), cwd=box.root,
		    preexec_fn=huge_stack_limit)
		most, out, err = finish_watching(p, 60)
		assert p.returncode == 0, (out, err)
		assert_no_sanitizer_report(err.decode("utf-8", "replace"))
		assert b"bad=0 " in out, (out, err)
		assert most == 0, "a notification thread was started"
		assert accepted(ok, 50) == 50
		assert no.accepted == 0
	finally:
		ok.close()
		no.close()
	recs = direct(audit_lines(log), decision="deny")
	assert len([r for r in recs if r.get("port") == no.port]) == 50
	assert len([r for r in recs if r.get("host") == "chmod:" +
	    outside]) == 50
	assert os.stat(outside).st_mode & 0o777 == 0o644
