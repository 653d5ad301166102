"""Exit codes and signal forwarding of `keyhole run` (SPEC 2)."""

import os
import signal
import time

import pytest

from run_fixtures import box, stop_proc, try_bin, wait_path  # noqa: F401


def test_true_exits_0(box):
	res = box.run("run", "-s", "--", "true")
	assert res.rc == 0, res


def test_libevent_environment_does_not_pick_the_event_loop(box):
	"""EVENT_NOEPOLL (and libevent's other EVENT_* knobs) in the user's
	environment do not switch keyhole's loop to poll(2); the one libevent
	reads anyway, EVENT_SHOW_METHOD, shows it is still epoll."""
	for opts in (["--allow-cwd"], ["--allow-domain", "example.com"]):
		res = box.run("run", *opts, "--", "true", cwd=box.granted,
		    env={"EVENT_NOEPOLL": "1", "EVENT_SHOW_METHOD": "1"})
		assert res.rc == 0, res
		assert "libevent using: epoll" in res.err, res
		assert "libevent using: poll" not in res.err, res


def test_child_status_3_is_passed_through(box):
	res = box.run("run", "-s", "--", "sh", "-c", "exit 3")
	assert res.rc == 3, res


def test_child_status_255_is_passed_through(box):
	res = box.run("run", "-s", "--", "sh", "-c", "exit 255")
	assert res.rc == 255, res


def test_child_killed_by_sigkill_exits_137(box):
	res = box.run("run", "-s", "--", "sh", "-c", "kill -9 $$")
	assert res.rc == 137, res


def test_child_killed_by_sigsegv_exits_139(box):
	res = box.run("run", "-s", "--", "sh", "-c", "kill -SEGV $$")
	assert res.rc == 139, res


def test_first_non_option_word_starts_the_command(box):
	res = box.run("run", "sh", "-c", "exit 5", "--block-net")
	assert res.rc == 5, res


def test_missing_command_exits_127_with_message(box):
	res = box.run("run", "--", "no-such-command-keyhole-test")
	assert res.rc == 127, res
	assert "keyhole: " in res.err, res.err
	assert "no-such-command-keyhole-test" in res.err, res.err


def test_missing_absolute_command_exits_127(box):
	res = box.run("run", "--", box.path("granted", "nope"))
	assert res.rc == 127, res
	assert "keyhole: " in res.err, res.err


def test_non_executable_file_exits_126_with_message(box):
	script = box.write(os.path.join(box.granted, "script.sh"),
	    "#!/bin/sh\necho ran\n", mode=0o644)
	res = box.run("run", "--allow", box.granted, "--", script)
	assert res.rc == 126, res
	assert "keyhole: " in res.err and "script.sh" in res.err, res.err
	assert "ran" not in res.out


def test_command_is_looked_up_along_path_as_execvp_does(box):
	"""A bare name: the first executable along PATH (a too long entry
	and a non-executable match skipped); only a non-executable one:
	126 naming it; an empty entry is the working directory."""
	dirs = {}
	for name, mode in (("p1", 0o644), ("p2", 0o755), ("p3", 0o755)):
		dirs[name] = box.path("granted", name)
		os.makedirs(dirs[name])
		box.write(os.path.join(dirs[name], "kh-tool"),
		    "#!/bin/sh\necho ran-%s\n" % name, mode=mode)
	sys_path = "/usr/bin:/bin"
	long_entry = "/" + "x" * 5000
	res = box.run("run", "--allow", box.granted, "--", "kh-tool",
	    env={"PATH": ":".join((long_entry, "/nonexistent", dirs["p1"],
	    dirs["p2"], dirs["p3"], sys_path))})
	assert res.rc == 0, res
	assert res.out.strip() == "ran-p2", res
	res = box.run("run", "--allow", box.granted, "--", "kh-tool",
	    env={"PATH": ":".join((dirs["p1"], sys_path))})
	assert res.rc == 126, res
	assert os.path.join(dirs["p1"], "kh-tool") in res.err, res.err
	res = box.run("run", "--allow", box.granted, "--", "kh-tool",
	    env={"PATH": ":" + sys_path}, cwd=dirs["p3"])
	assert res.rc == 0, res
	assert res.out.strip() == "ran-p3", res


def test_ungranted_executable_exits_126(box):
	script = box.write(os.path.join(box.outside, "script.sh"),
	    "#!/bin/sh\necho ran\n", mode=0o755)
	res = box.run("run", "--", script)
	assert res.rc == 126, res
	assert "keyhole: " in res.err and "script.sh" in res.err, res.err


def test_usage_error_exits_2(box):
	res = box.run("run", "--no-such-flag", "--", "true")
	assert res.rc == 2, res


def test_run_without_command_is_usage_error(box):
	res = box.run("run")
	assert res.rc == 2, res


def test_allow_net_with_proxy_flag_is_usage_error(box):
	res = box.run("run", "--allow-net", "--allow-domain", "x.test", "--",
	    "true")
	assert res.rc == 2, res


def _start_trapping_child(box, extra=()):
	marker = os.path.join(box.granted, "term")
	ready = os.path.join(box.granted, "ready")
	script = ('trap \'echo term > "%s"; exit 7\' TERM; : > "%s"; '
	    'while :; do sleep 0.05; done' % (marker, ready))
	p = box.popen("run", "-s", "--allow", box.granted, *extra, "--",
	    "sh", "-c", script)
	assert wait_path(ready, 10), "child never started"
	return p, marker


@pytest.mark.parametrize("extra", [(), ("--block-net",),
    ("--allow-domain", "x.test")], ids=["allow", "blocked", "proxy"])
def test_sigterm_to_keyhole_reaches_the_child(box, extra):
	p, marker = _start_trapping_child(box, extra)
	try:
		p.send_signal(signal.SIGTERM)
		rc = p.wait(5)
	finally:
		stop_proc(p)
	assert os.path.exists(marker), "child did not get SIGTERM"
	assert rc == 7, (rc, p.stderr.read())


def test_sigterm_kills_untrapping_child_and_exits_143(box):
	p = box.popen("run", "-s", "--", "sleep", "30")
	try:
		time.sleep(0.5)
		t0 = time.monotonic()
		p.send_signal(signal.SIGTERM)
		rc = p.wait(5)
		elapsed = time.monotonic() - t0
	finally:
		stop_proc(p)
	assert rc == 143, rc
	assert elapsed < 3, elapsed


def test_sigint_to_keyhole_reaches_the_child(box):
	p = box.popen("run", "-s", "--allow-domain", "x.test", "--", "sleep",
	    "30")
	try:
		time.sleep(0.5)
		p.send_signal(signal.SIGINT)
		rc = p.wait(5)
	finally:
		stop_proc(p)
	assert rc == 130, rc


def test_sigterm_in_proxy_mode_leaves_no_listener(box):
	p = box.popen("run", "-s", "--allow-domain", "x.test", "--", "sh",
	    "-c", 'echo "${HTTP_PROXY##*:}"; exec sleep 30')
	try:
		port = int(p.stdout.readline().decode().strip())
		p.send_signal(signal.SIGTERM)
		assert p.wait(5) == 143
	finally:
		stop_proc(p)
	import socket
	s = socket.socket()
	try:
		s.settimeout(1)
		assert s.connect_ex(("127.0.0.1", port)) != 0, \
		    "proxy port still open after keyhole exited"
	finally:
		s.close()
