"""Terminals under `keyhole run` (SPEC 3.2): the child's own terminal (the
pty behind its standard descriptors), /dev/tty and /dev/ptmx are granted,
never the rest of /dev/pts; ptys the child opens itself keep working.

keyhole runs under a pty made here (its controlling terminal).  A second
pty, made here too and never handed to keyhole, stands for another
terminal of the same user (the one where sudo asks for a password)."""

import fcntl
import os
import select
import subprocess
import termios
import time

import pytest

from run_fixtures import (EACCES, TRY, assert_no_sanitizer,  # noqa
    box, try_bin, Result)

MODES = {
	"allow": [],
	"blocked": ["--block-net"],
	"proxy": ["--allow-domain", "x.test:443"],
}
PY = "/usr/bin/python3"
SCRIPT = "/usr/bin/script"


def _ctty():
	os.setsid()
	fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def run_on_pty(box, args, timeout=15):
	"""`keyhole ARGS` with a fresh pty as stdin/stdout/stderr and
	controlling terminal; (Result with the terminal's output in .out,
	slave path)."""
	import pty
	m, s = pty.openpty()
	name = os.ttyname(s)
	argv = [box.keyhole] + [str(a) for a in args]
	t0 = time.monotonic()
	try:
		p = subprocess.Popen(argv, stdin=s, stdout=s, stderr=s,
		    env=box.env(), cwd=box.root, preexec_fn=_ctty)
		os.close(s)
		s = -1
		out = b""
		deadline = t0 + timeout
		while time.monotonic() < deadline:
			r, _, _ = select.select([m], [], [], 0.1)
			if r:
				try:
					chunk = os.read(m, 65536)
				except OSError:	# EIO: every slave closed
					chunk = b""
				if chunk:
					out += chunk
					continue
			if p.poll() is not None and not r:
				break
			if p.poll() is not None and r and not chunk:
				break
		if p.poll() is None:
			p.kill()
		rc = p.wait(5)
	finally:
		os.close(m)
		if s != -1:
			os.close(s)
	text = out.decode("utf-8", "replace").replace("\r\n", "\n")
	res = Result(argv, rc, text, text, time.monotonic() - t0)
	assert_no_sanitizer(res)
	return res, name


@pytest.fixture
def other_pty():
	"""Another terminal: (master fd, slave path)."""
	import pty
	m, s = pty.openpty()
	yield m, os.ttyname(s)
	os.close(m)
	os.close(s)


def _pending(fd):
	r, _, _ = select.select([fd], [], [], 0.2)
	return os.read(fd, 4096) if r else b""


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("op", ["read", "write"])
def test_another_terminal_is_eacces(box, other_pty, mode, op):
	m, other = other_pty
	res, _ = run_on_pty(box, ["run", *MODES[mode], "--read-file", TRY,
	    "--", TRY, op, other])
	assert res.rc == EACCES, res
	assert "errno=13 (EACCES)" in res.out, res
	assert _pending(m) == b"", "the other terminal got output"


@pytest.mark.parametrize("mode", sorted(MODES))
def test_own_terminal_and_dev_tty_are_usable(box, mode):
	res, name = run_on_pty(box, ["run", *MODES[mode], "--", "/bin/sh",
	    "-c", 'echo by-path >"$(tty)" && echo by-tty >/dev/tty && '
	    'stty size >/dev/null && tty'])
	assert res.rc == 0, res
	assert "by-path" in res.out and "by-tty" in res.out, res
	assert name in res.out, res


@pytest.mark.parametrize("mode", sorted(MODES))
def test_dev_ptmx_opens(box, mode):
	res, _ = run_on_pty(box, ["run", *MODES[mode], "--read-file", TRY,
	    "--", TRY, "write", "/dev/ptmx"])
	assert res.rc == 0, res


# Ptys the child makes itself: glibc's openpty() opens the slave with
# ioctl(master, TIOCGPTPEER), which the supervisor answers (the mediator,
# which runs in every mode).
MEDIATED = sorted(MODES)

OPENPTY = ("import os\n"
    "m, s = os.openpty()\n"
    "os.write(m, b'ping\\n')\n"
    "assert os.read(s, 16) == b'ping\\n'\n"
    "os.write(s, b'pong')\n"
    "got = b''\n"
    "while b'pong' not in got:\n"
    "    got += os.read(m, 64)\n"
    "print('own-pty', os.ttyname(s))\n")

SPAWN = ("import pty, sys\n"
    "st = pty.spawn(['/bin/sh', '-c', 'echo spawned-$((6*7)); exit 5'])\n"
    "sys.exit(st >> 8)\n")


@pytest.mark.parametrize("mode", MEDIATED)
def test_openpty_inside_works(box, mode):
	res, _ = run_on_pty(box, ["run", *MODES[mode], "--", PY, "-c",
	    OPENPTY])
	assert res.rc == 0, res
	assert "own-pty /dev/pts/" in res.out, res


@pytest.mark.parametrize("mode", MEDIATED)
def test_pty_spawn_inside_works(box, mode):
	res, _ = run_on_pty(box, ["run", *MODES[mode], "--", PY, "-c", SPAWN])
	assert res.rc == 5, res
	assert "spawned-42" in res.out, res


@pytest.mark.parametrize("mode", MEDIATED)
def test_script_inside_works(box, mode):
	res, _ = run_on_pty(box, ["run", *MODES[mode], "--", SCRIPT, "-qc",
	    "echo in-script-$((6*7))", "/dev/null"])
	assert res.rc == 0, res
	assert "in-script-42" in res.out, res


@pytest.mark.parametrize("mode", MEDIATED)
def test_openpty_without_a_terminal_works(box, mode):
	"""No terminal at all (stdin /dev/null, output to pipes): agents
	run tools this way."""
	res = box.run("run", *MODES[mode], "--", PY, "-c", OPENPTY)
	assert res.rc == 0, res
	assert "own-pty /dev/pts/" in res.out, res


@pytest.mark.parametrize("mode", MEDIATED)
def test_tiocgptpeer_on_a_non_master_is_enotty(box, mode):
	res = box.run("run", *MODES[mode], "--", PY, "-c",
	    "import fcntl, os, sys\n"
	    "fd = os.open('/dev/null', os.O_RDWR)\n"
	    "try:\n"
	    "    fcntl.ioctl(fd, 0x5441, os.O_RDWR)\n"
	    "except OSError as e:\n"
	    "    print('errno', e.errno)\n")
	assert res.rc == 0, res
	assert "errno 25" in res.out, res


# The slave opened by its path, as vim's :terminal and Go's creack/pty do:
# posix_openpt, grantpt, unlockpt, ptsname, open(name, O_RDWR|O_NOCTTY).
BY_PATH = ("import ctypes, os, sys\n"
    "libc = ctypes.CDLL(None, use_errno=True)\n"
    "libc.ptsname.restype = ctypes.c_char_p\n"
    "m = libc.posix_openpt(os.O_RDWR | os.O_NOCTTY)\n"
    "assert m >= 0 and libc.grantpt(m) == 0 and libc.unlockpt(m) == 0\n"
    "name = libc.ptsname(m).decode()\n"
    "extra = os.O_NOCTTY if sys.argv[1] == 'noctty' else 0\n"
    "try:\n"
    "    s = os.open(name, os.O_RDWR | extra)\n"
    "except OSError as e:\n"
    "    print('errno', e.errno)\n"
    "    sys.exit(3)\n"
    "os.write(m, b'ping\\n')\n"
    "print('slave', name, os.read(s, 16))\n")


@pytest.mark.parametrize("mode", MEDIATED)
def test_own_pty_slave_by_path_with_noctty_works(box, mode):
	res = box.run("run", *MODES[mode], "--", PY, "-c", BY_PATH, "noctty")
	assert res.rc == 0, res
	assert "slave /dev/pts/" in res.out and "ping" in res.out, res


@pytest.mark.parametrize("mode", MEDIATED)
def test_own_pty_slave_by_path_without_noctty_is_eacces(box, mode):
	"""Documented: only O_NOCTTY opens are looked at."""
	res = box.run("run", *MODES[mode], "--", PY, "-c", BY_PATH, "plain")
	assert res.rc == 3, res
	assert "errno 13" in res.out, res


@pytest.mark.parametrize("mode", MEDIATED)
def test_another_terminal_with_noctty_is_eacces(box, other_pty, mode):
	"""O_NOCTTY opens go through the supervisor, which hands anything
	but the caller's own pty back to the kernel: Landlock refuses."""
	m, other = other_pty
	res, _ = run_on_pty(box, ["run", *MODES[mode], "--", PY, "-c",
	    "import os\n"
	    "try:\n"
	    "    os.open(%r, os.O_RDWR | os.O_NOCTTY)\n"
	    "    print('opened')\n"
	    "except OSError as e:\n"
	    "    print('errno', e.errno)\n" % other])
	assert res.rc == 0, res
	assert "errno 13" in res.out and "opened" not in res.out, res
	assert _pending(m) == b"", "the other terminal got output"


@pytest.mark.parametrize("mode", MEDIATED)
def test_noctty_opens_of_granted_files_still_work(box, mode):
	res = box.run("run", *MODES[mode], "--", PY, "-c",
	    "import os\n"
	    "fd = os.open('/dev/null', os.O_RDWR | os.O_NOCTTY)\n"
	    "fd2 = os.open('/dev/ptmx', os.O_RDWR | os.O_NOCTTY)\n"
	    "print('ok', fd >= 0, fd2 >= 0)\n")
	assert res.rc == 0, res
	assert "ok True True" in res.out, res


@pytest.mark.parametrize("mode", sorted(MODES))
def test_noctty_open_cannot_create_a_setuid_file(box, mode):
	"""The O_NOCTTY trap must not carry a create past the set-id rules
	(a NOTIFY rule wins over an overlapping ERRNO one in libseccomp)."""
	target = box.path("granted", "suid")
	res = box.run("run", *MODES[mode], "--allow", box.granted, "--", PY,
	    "-c",
	    "import os, sys\n"
	    "try:\n"
	    "    os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY | os.O_NOCTTY,"
	    " 0o4755)\n"
	    "    print('created')\n"
	    "except OSError as e:\n"
	    "    print('errno', e.errno)\n", target)
	assert res.rc == 0, res
	assert "errno 1" in res.out, res
	assert not os.path.exists(target)
