"""Kernel keyrings under `keyhole run` (SPEC 3.2): the child starts in a
new anonymous session keyring, and keyctl, add_key and request_key are
refused with EACCES, in every network mode.  The real `keyctl` program
(keyutils) runs outside, in a `keyctl session` of its own, and inside."""

import shutil
import subprocess

import pytest

from run_fixtures import box, try_bin  # noqa

KEYCTL = shutil.which("keyctl")
pytestmark = pytest.mark.skipif(KEYCTL is None,
    reason="keyctl not installed (keyutils)")

MODES = {
	"allow": [],
	"blocked": ["--block-net"],
	"proxy": ["--allow-domain", "x.test:443"],
}
SECRET = "kh-keyring-secret-4f1c"


def in_session(box, mode, inner):
	"""In a fresh session keyring holding a user key with SECRET, run
	`keyhole run MODE -- sh -c INNER` ($KEY is the key's serial)."""
	outer = ('KEY=$(keyctl add user kh-test %s @s) || exit 99; '
	    'export KEY; keyctl print "$KEY" >/dev/null || exit 98; '
	    'exec "$@"' % SECRET)
	argv = [KEYCTL, "session", "-", "/bin/sh", "-c", outer, "sh",
	    box.keyhole, "run", *MODES[mode], "--", "/bin/sh", "-c", inner]
	return subprocess.run(argv, capture_output=True, text=True,
	    env=box.env(), cwd=box.root, timeout=15)


def test_keyctl_reads_the_test_key_unsandboxed(box):
	"""Control: without keyhole the same script prints the secret."""
	outer = ('KEY=$(keyctl add user kh-test %s @s) || exit 99; '
	    'keyctl print "$KEY"' % SECRET)
	p = subprocess.run([KEYCTL, "session", "-", "/bin/sh", "-c", outer],
	    capture_output=True, text=True, timeout=10)
	assert p.returncode == 0 and SECRET in p.stdout, p


@pytest.mark.parametrize("mode", sorted(MODES))
def test_key_of_the_outer_session_is_not_readable(box, mode):
	p = in_session(box, mode, 'keyctl print "$KEY"; echo "rc=$?"')
	assert "rc=1" in p.stdout, p
	assert SECRET not in p.stdout + p.stderr, p
	assert "Permission denied" in p.stderr, p


@pytest.mark.parametrize("mode", sorted(MODES))
def test_keyctl_show_and_add_are_eacces(box, mode):
	p = in_session(box, mode, 'keyctl show @s; echo "show=$?"; '
	    'keyctl add user kh-new v @s; echo "add=$?"; '
	    'keyctl request user kh-test; echo "request=$?"')
	assert "show=1" in p.stdout and "add=1" in p.stdout, p
	assert "request=1" in p.stdout, p
	assert "kh-test" not in p.stdout, p
	assert "Unable to dump key: Permission denied" in p.stderr, p
	assert "add_key: Permission denied" in p.stderr, p
	assert "request_key: Permission denied" in p.stderr, p
