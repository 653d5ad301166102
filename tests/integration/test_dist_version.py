"""`keyhole --version` and `keyhole version --verbose` (SPEC 2, 10)."""

import ctypes
import re
import ssl
import subprocess

from conftest import assert_no_sanitizer_report, start_proxy_raw

VERSION_LINE = re.compile(r"^keyhole \d+\.\d+\.\d+\n$")


def run(keyhole, *args):
	rc, out, err = start_proxy_raw(keyhole, args, timeout=20)
	assert_no_sanitizer_report(err)
	return rc, out, err


def test_version_flags_print_exactly_one_line(keyhole):
	outs = set()
	for args in (("--version",), ("-V",), ("version",)):
		rc, out, err = run(keyhole, *args)
		assert rc == 0, (args, rc, err)
		assert VERSION_LINE.match(out), (args, out)
		assert err == "", (args, err)
		outs.add(out)
	assert len(outs) == 1, outs


def verbose_lines(keyhole, *args):
	rc, out, err = run(keyhole, *args)
	assert rc == 0, err
	lines = out.splitlines()
	assert VERSION_LINE.match(lines[0] + "\n"), out
	return dict(l.split(": ", 1) for l in lines[1:])


def test_version_verbose_names_each_feature(keyhole):
	f = verbose_lines(keyhole, "version", "--verbose")
	assert set(f) == {"landlock", "seccomp", "openssl", "libsecret"}, f
	assert re.fullmatch(r"ABI \d+|not available", f["landlock"]), f
	assert re.fullmatch(r"user notification (yes|no), ADDFD (yes|no), "
	    r"sync wake-up flag (yes|no)", f["seccomp"]), f
	assert f["openssl"].startswith("OpenSSL "), f
	assert f == verbose_lines(keyhole, "version", "-v")


def test_version_verbose_landlock_abi_is_the_kernels(keyhole):
	f = verbose_lines(keyhole, "version", "--verbose")
	# The kernel's own answer, asked the same way from Python.
	libc = ctypes.CDLL(None, use_errno=True)
	abi = libc.syscall(444, None, 0, 1)	# landlock_create_ruleset, VERSION
	want = "ABI %d" % abi if abi >= 1 else "not available"
	assert f["landlock"] == want


def test_version_verbose_openssl_is_the_linked_library(keyhole):
	f = verbose_lines(keyhole, "version", "--verbose")
	# The asan build links the system libssl, as Python does.
	assert f["openssl"].split()[1] == ssl.OPENSSL_VERSION.split()[1], \
	    (f["openssl"], ssl.OPENSSL_VERSION)


def test_version_verbose_libsecret_matches_dlopen(keyhole):
	f = verbose_lines(keyhole, "version", "--verbose")
	try:
		ctypes.CDLL("libsecret-1.so.0")
		found = True
	except OSError:
		found = False
	assert f["libsecret"].startswith("found" if found else "not found"), f


def test_version_verbose_seccomp_matches_kernel_release(keyhole):
	f = verbose_lines(keyhole, "version", "--verbose")
	rel = tuple(int(x) for x in re.match(r"(\d+)\.(\d+)",
	    subprocess.run(["uname", "-r"], capture_output=True,
	    text=True).stdout).groups())
	# user notification 5.0, ADDFD 5.9, sync wake-up 6.6.
	want = "user notification %s, ADDFD %s, sync wake-up flag %s" % tuple(
	    "yes" if rel >= v else "no" for v in ((5, 0), (5, 9), (6, 6)))
	assert f["seccomp"] == want


def test_version_takes_no_words_and_version_flag_no_command(keyhole):
	rc, out, err = run(keyhole, "version", "extra")
	assert rc == 2 and "unexpected argument 'extra'" in err, err
	rc, out, err = run(keyhole, "version", "--allow", "/tmp")
	assert rc == 2 and "not valid for 'version'" in err, err


def test_version_verbose_inside_the_sandbox_says_unknown_not_no(keyhole,
    tmp_path):
	"""Under keyhole run's filter the listener is taken: the probe cannot
	ask, and must not claim the kernel lacks the features."""
	import os
	home = tmp_path / "home"
	home.mkdir()
	rc, out, err = start_proxy_raw(keyhole, ["run", "--block-net", "--read",
	    os.path.dirname(keyhole), "--", keyhole, "version", "--verbose"],
	    timeout=30, env={"HOME": str(home)})
	assert_no_sanitizer_report(err)
	assert rc == 0, err
	line = [l for l in out.splitlines() if l.startswith("seccomp: ")]
	assert line == ["seccomp: user notification yes, ADDFD unknown, sync "
	    "wake-up flag unknown (a filter above this process holds the "
	    "listener)"], out
