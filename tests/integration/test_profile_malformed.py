"""Malformed profiles through the real binary (issue 22, SPEC 9): every
one answered at once with a located error ("profile FILE: line L column C:
..."), never a hang.  Each case has a bound: the process is killed after
WALL_MAX seconds (a hang fails the test), and the CPU time it used, which
the machine's load does not inflate, must stay under CPU_MAX.

The exhaustive tables (a NUL at every offset, every truncation) run in
process in tests/unit/test_profile_malformed.c; here a sample of each
kind goes through `keyhole profile validate` and `keyhole run -p`."""

import os
import resource
import subprocess

import pytest

from conftest import REPO, assert_no_sanitizer_report, _clean_env

CPU_MAX = 0.100		# seconds of CPU for one answer (ASan build)
WALL_MAX = 5.0		# seconds before a case counts as a hang

# A valid profile on one line (the unit test's table profile).
VALID = (b'{"meta": {"name": "m"}, "extends": "default", '
    b'"network": {"open_port": [8080, 9090], "allow_domain": '
    b'["api.example.com"], "block": false}, "filesystem": '
    b'{"read": ["/usr"]}, "env_credentials": {"k": "K"}, '
    b'"workdir": {"access": "readwrite"}}')

REDUCED = b'{"network": {"open_port": [8080\x00], "bogus": 1}}'


def answer(keyhole, tmp_path, *args):
	"""Run keyhole ARGS in a private HOME; (rc, stderr, cpu seconds)."""
	home = tmp_path / "home"
	home.mkdir(exist_ok=True)
	env = _clean_env({"HOME": str(home), "XDG_CONFIG_HOME":
	    str(tmp_path / "xdg")})
	before = resource.getrusage(resource.RUSAGE_CHILDREN)
	try:
		p = subprocess.run([keyhole] + [str(a) for a in args],
		    stdin=subprocess.DEVNULL, capture_output=True,
		    timeout=WALL_MAX, env=env)
	except subprocess.TimeoutExpired:
		pytest.fail("keyhole %s: no answer in %.0f s (a hang)" %
		    (" ".join(map(str, args)), WALL_MAX))
	after = resource.getrusage(resource.RUSAGE_CHILDREN)
	cpu = (after.ru_utime - before.ru_utime) + \
	    (after.ru_stime - before.ru_stime)
	err = p.stderr.decode("utf-8", "replace")
	assert_no_sanitizer_report(err)
	return p.returncode, err, cpu


def assert_located(keyhole, tmp_path, doc, *contains, run=False):
	"""doc as a file is refused with a located error within the bounds;
	returns the error line."""
	f = tmp_path / "p.json"
	f.write_bytes(doc)
	if run:
		args = ("run", "-p", f, "--", "/bin/true")
	else:
		args = ("profile", "validate", f)
	rc, err, cpu = answer(keyhole, tmp_path, *args)
	assert rc != 0, err
	lines = [l for l in err.splitlines()
	    if l.startswith("keyhole: profile %s: line " % f)]
	assert len(lines) == 1, err
	for c in contains:
		assert c in lines[0], "%r not in %r" % (c, lines[0])
	assert cpu < CPU_MAX, "%.0f ms of CPU: %s" % (cpu * 1000, lines[0])
	return lines[0]


def test_issue22_reduced_profile_is_refused_located_within_100ms(
    keyhole, tmp_path):
	assert_located(keyhole, tmp_path, REDUCED,
	    "line 1 column 32: a NUL byte (JSON text cannot contain one)")


def test_issue22_reduced_profile_refused_by_run_too(keyhole, tmp_path):
	assert_located(keyhole, tmp_path, REDUCED, "line 1 column 32: a NUL",
	    run=True)


def test_fuzzer_artifact_is_refused_located_within_100ms(keyhole,
    tmp_path):
	with open(os.path.join(REPO, "fuzz", "crashes",
	    "profile-nul-after-number-timeout.bin"), "rb") as f:
		doc = f.read()
	assert_located(keyhole, tmp_path, doc,
	    "line 1 column %d: a NUL byte" % (doc.index(b"\0") + 1))


def test_unknown_key_past_a_list_is_located_at_its_value(keyhole,
    tmp_path):
	assert_located(keyhole, tmp_path, REDUCED.replace(b"\0", b""),
	    "line 1 column 44: network.bogus: unknown field 'bogus'")


@pytest.mark.parametrize("at", list(range(0, len(VALID) + 1, 23)))
def test_nul_anywhere_is_refused_at_its_offset(keyhole, tmp_path, at):
	doc = VALID[:at] + b"\0" + VALID[at:]
	assert_located(keyhole, tmp_path, doc,
	    "line 1 column %d: a NUL byte" % (at + 1))


@pytest.mark.parametrize("at", list(range(0, len(VALID), 19)) +
    [len(VALID) - 1])
def test_truncated_profile_is_refused(keyhole, tmp_path, at):
	assert_located(keyhole, tmp_path, VALID[:at])


@pytest.mark.parametrize("doc", [
	b'{"network": {"block": ' + b"[" * 100000 + b"]" * 100000 + b"}}",
	b'{"a": ' * 50000 + b"1" + b"}" * 50000,
	b'{"network": {"open_port": ' + b"[" * 1500 + b"1" + b"]" * 1500 +
	    b', "bogus": 1}}',
	b'{"network": {"open_port": ' + b"[" * 1500,
], ids=["100000-lists", "50000-objects", "1500-lists-then-unknown-key",
    "1500-open-lists"])
def test_deep_nesting_is_refused(keyhole, tmp_path, doc):
	line = assert_located(keyhole, tmp_path, doc)
	if b"bogus" in doc:
		assert "column 3039: network.bogus: unknown field" in line, line


@pytest.mark.parametrize("doc", [
	b'{"bogus": "' + b"A" * 1000000 + b'"}',
	b'{"' + b"B" * 1000000 + b'": 1}',
	b'{"meta": {"name": "' + b"C" * 1000000,
], ids=["huge-value-unknown-key", "huge-unknown-key", "huge-unterminated"])
def test_huge_strings_are_refused(keyhole, tmp_path, doc):
	assert_located(keyhole, tmp_path, doc)


@pytest.mark.parametrize("doc", [
	b'{"meta": {"name": "\xff"}}',
	b'{"\xc3": 1}',
	b'{"meta": {"name": "\xc0\xaf"}}',
	b'{"meta": {"name": "\xed\xa0\x80"}}',
	b'{"meta": {"name": "\xf4\x90\x80\x80"}}',
	b'{"network": {"open_port": [8080\xc3\xa9]}}',
], ids=["ff", "truncated-sequence", "overlong", "surrogate", "above-10ffff",
    "after-number"])
def test_invalid_utf8_is_refused(keyhole, tmp_path, doc):
	assert_located(keyhole, tmp_path, doc)


def test_a_file_over_the_size_limit_is_refused_at_once(keyhole, tmp_path):
	f = tmp_path / "p.json"
	f.write_bytes(b'{"bogus": "' + b"A" * (1024 * 1024) + b'"}')
	rc, err, cpu = answer(keyhole, tmp_path, "profile", "validate", f)
	assert rc != 0, err
	assert str(f) in err, err
	assert cpu < CPU_MAX, "%.0f ms of CPU" % (cpu * 1000)
