"""seccomp rules of `keyhole run` (SPEC 1 layer 2, 3): terminal injection in
every mode; io_uring and MSG_FASTOPEN when the network is restricted."""

import subprocess

import pytest

from run_fixtures import (EACCES, ENOSYS, assert_errno, assert_ok,  # noqa
    box, pty_pair, try_bin)

MODES = {
	"allow": [],
	"blocked": ["--block-net"],
	"proxy": ["--allow-domain", "x.test:443"],
}
RESTRICTED = ["blocked", "proxy"]


def test_helper_tiocsti_works_on_a_pty_unsandboxed(pty_pair, try_bin):
	"""Control: without keyhole TIOCSTI on a pty succeeds (root) or fails
	with something other than EACCES, so EACCES below is the filter."""
	_, slave = pty_pair
	p = subprocess.run([try_bin, "tiocsti"], stdin=slave,
	    capture_output=True, timeout=5)
	assert p.returncode != EACCES, p


@pytest.mark.parametrize("mode", sorted(MODES))
def test_tiocsti_on_a_pty_is_eacces(box, pty_pair, mode):
	_, slave = pty_pair
	res = box.run_try(MODES[mode], "tiocsti", stdin=slave)
	assert_errno(res, EACCES)


@pytest.mark.parametrize("mode", sorted(MODES))
def test_tiocsti_with_high_bits_in_cmd_is_eacces(box, pty_pair, mode):
	_, slave = pty_pair
	res = box.run_try(MODES[mode], "tiocsti", "high", stdin=slave)
	assert_errno(res, EACCES)


@pytest.mark.parametrize("mode", sorted(MODES))
def test_tioclinux_is_eacces(box, pty_pair, mode):
	_, slave = pty_pair
	res = box.run_try(MODES[mode], "tioclinux", stdin=slave)
	assert_errno(res, EACCES)


def test_tiocsti_without_tty_is_still_eacces(box):
	res = box.run_try([], "tiocsti")
	assert_errno(res, EACCES)


@pytest.mark.parametrize("mode", RESTRICTED)
def test_io_uring_setup_is_enosys(box, mode):
	res = box.run_try(MODES[mode], "io_uring")
	assert_errno(res, ENOSYS)


@pytest.mark.parametrize("mode", RESTRICTED)
def test_fastopen_send_is_eacces(box, mode):
	res = box.run_try(MODES[mode], "fastopen", "127.0.0.1", "9")
	assert_errno(res, EACCES)


def test_fastopen_with_open_port_is_still_eacces(box):
	res = box.run_try(["--allow-domain", "x.test:443", "--open-port",
	    "9"], "fastopen", "127.0.0.1", "9")
	assert_errno(res, EACCES)


@pytest.mark.parametrize("mode", RESTRICTED)
def test_x32_syscall_is_refused(box, mode):
	res = box.run_try(MODES[mode], "x32")
	assert res.rc != 0, res


def test_plain_tcp_socket_is_allowed_in_proxy_mode(box):
	assert_ok(box.run_try(MODES["proxy"], "socket", "inet", "stream"))


def test_unix_socket_creation_is_allowed_in_blocked_mode(box):
	assert_ok(box.run_try(MODES["blocked"], "socket", "unix", "stream"))
