"""Fixtures and helpers for the `keyhole run` / `shell` / `why` integration
tests (tests/integration/test_run_*.py).

The sandboxed child runs build/helpers/try (STYLE 10): it attempts one
operation and exits 0 or with the errno.  Everything here talks only to
127.0.0.1.  Scratch directories live under the repository's build/ (not
/tmp: the default policy grants write on /tmp, so nothing there is
"outside").

Import what a test module needs:

    from run_fixtures import (box, run, TRY, EACCES, ...)

Fixtures: box (a Box: scratch tree with home/, granted/, outside/; removed
at teardown), try_bin (path of the helper, checked), pty_pair.
"""

import errno
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import (HEX64, REPO, assert_no_sanitizer_report, _clean_env,
    route_placeholder_keys)

TRY = os.path.join(REPO, "build", "helpers", "try")
BUILD = os.path.join(REPO, "build")


def _under(path, root):
	path, root = os.path.realpath(path), os.path.realpath(root)
	return path == root or path.startswith(root.rstrip("/") + "/")


def scratch_base():
	"""Where scratch trees go: build/ unless the checkout itself lies in a
	place the default policy lets a sandbox write (/tmp, $TMPDIR) -- CI
	may clone there -- then /var/tmp, which no default group grants."""
	for w in ("/tmp", os.environ.get("TMPDIR") or "/tmp"):
		if _under(BUILD, w):
			base = "/var/tmp/keyhole-tests"
			os.makedirs(base, exist_ok=True)
			return base
	return BUILD

EACCES = errno.EACCES		# 13
ENOSYS = errno.ENOSYS		# 38
ENOENT = errno.ENOENT		# 2

ERRNO_LINE = re.compile(r"^errno=(\d+) \((\w+)\)$", re.M)
SUMMARY_RE = re.compile(
    r"^keyhole: (\d+) requests? (?:was|were) denied by the sandbox's "
    r"policy during this run$", re.M)


class Result:
	"""One finished keyhole invocation."""

	def __init__(self, args, rc, out, err, elapsed):
		self.args = args
		self.rc = rc
		self.out = out
		self.err = err
		self.elapsed = elapsed

	def cmdline(self):
		return " ".join(self.args)

	def __repr__(self):
		return "<%s\n rc=%r\n stdout=%r\n stderr=%r>" % (self.cmdline(),
		    self.rc, self.out[-2000:], self.err[-2000:])


def assert_no_sanitizer(res):
	assert_no_sanitizer_report(res.err)



def _default_interrupts():
	import signal
	signal.signal(signal.SIGINT, signal.SIG_DFL)
	signal.signal(signal.SIGQUIT, signal.SIG_DFL)

class Box:
	"""A scratch tree under build/: root/{home,granted,outside}.
	home has .ssh/id_test (so ~/.ssh exists).  granted/data.txt and
	outside/data.txt hold a line of text."""

	def __init__(self, keyhole):
		self.keyhole = keyhole
		self.root = tempfile.mkdtemp(prefix="test-run-", dir=scratch_base())
		self.home = os.path.join(self.root, "home")
		self.granted = os.path.join(self.root, "granted")
		self.outside = os.path.join(self.root, "outside")
		for d in (self.home, self.granted, self.outside):
			os.makedirs(d)
		os.makedirs(os.path.join(self.home, ".ssh"), mode=0o700)
		self.write(os.path.join(self.home, ".ssh", "id_test"), "KEY\n")
		self.write(os.path.join(self.granted, "data.txt"), "inside\n")
		self.write(os.path.join(self.outside, "data.txt"), "outside\n")

	@staticmethod
	def write(path, text, mode=0o644):
		with open(path, "w") as f:
			f.write(text)
		os.chmod(path, mode)
		return path

	def path(self, *parts):
		return os.path.join(self.root, *parts)

	def env(self, extra=None):
		"""keyhole's own environment: clean, HOME = the box's home."""
		e = _clean_env()
		e["HOME"] = self.home
		e.pop("XDG_CONFIG_HOME", None)
		e["ASAN_OPTIONS"] = "detect_leaks=1"
		if extra:
			e.update(extra)
		return {k: v for k, v in e.items() if v is not None}

	def run(self, *args, env=None, stdin=subprocess.DEVNULL, timeout=15,
	    cwd=None, check_sanitizer=True):
		"""Run `keyhole ARGS` with the box's environment (plus env) in
		the box's root; return a Result."""
		argv = [self.keyhole] + [str(a) for a in args]
		t0 = time.monotonic()
		p = subprocess.run(argv, stdin=stdin, capture_output=True,
		    env=self.env(route_placeholder_keys(args, env)),
		    cwd=cwd or self.root, timeout=timeout)
		res = Result(argv, p.returncode,
		    p.stdout.decode("utf-8", "replace"),
		    p.stderr.decode("utf-8", "replace"),
		    time.monotonic() - t0)
		if check_sanitizer:
			assert_no_sanitizer(res)
		return res

	def run_try(self, opts, *try_args, **kw):
		"""`keyhole run OPTS --read-file TRY -- TRY TRY_ARGS`."""
		return self.run("run", *opts, "--read-file", TRY, "--", TRY,
		    *try_args, **kw)

	def popen(self, *args, env=None, stdin=subprocess.DEVNULL):
		"""keyhole started as from a terminal's shell: SIGINT and
		SIGQUIT at their defaults even when the suite itself runs as a
		background job (which ignores them, and keyhole rightly hands
		an ignored signal on as ignored, so its forwarding tests would
		see the child ignore it)."""
		argv = [self.keyhole] + [str(a) for a in args]
		return subprocess.Popen(argv, stdin=stdin,
		    stdout=subprocess.PIPE, stderr=subprocess.PIPE,
		    env=self.env(env), cwd=self.root,
		    preexec_fn=_default_interrupts)

	def close(self):
		shutil.rmtree(self.root, ignore_errors=True)


def assert_errno(res, code):
	"""The helper failed with errno `code`: exit status and its line."""
	assert res.rc == code, "expected exit %d (%s), got: %r" % (code,
	    errno.errorcode.get(code, "?"), res)
	m = ERRNO_LINE.search(res.out)
	assert m and int(m.group(1)) == code, "no errno=%d line: %r" % (code,
	    res)


def assert_ok(res):
	assert res.rc == 0, "expected exit 0, got: %r" % res


@pytest.fixture(scope="session")
def try_bin():
	if not (os.path.isfile(TRY) and os.access(TRY, os.X_OK)):
		pytest.fail("helper not built: %s (make build/helpers/try)" % TRY,
		    pytrace=False)
	return TRY


@pytest.fixture
def box(keyhole, try_bin):
	b = Box(keyhole)
	yield b
	b.close()


@pytest.fixture
def pty_pair():
	"""(master fd, slave fd) of a fresh pseudo-terminal; closed after."""
	import pty
	m, s = pty.openpty()
	yield m, s
	for fd in (m, s):
		try:
			os.close(fd)
		except OSError:
			pass


def wait_path(path, timeout=5.0):
	deadline = time.monotonic() + timeout
	while not os.path.exists(path):
		if time.monotonic() >= deadline:
			return False
		time.sleep(0.02)
	return True


def stop_proc(p, sig=signal.SIGKILL):
	if p.poll() is None:
		p.send_signal(sig)
		try:
			p.wait(3)
		except subprocess.TimeoutExpired:
			p.kill()
			p.wait(3)


__all__ = ["TRY", "EACCES", "ENOSYS", "ENOENT", "HEX64", "SUMMARY_RE",
    "Box", "Result", "assert_errno", "assert_ok", "assert_no_sanitizer",
    "box", "try_bin", "pty_pair", "wait_path", "stop_proc"]
