"""The child's environment and what it cannot see of the supervisor (SPEC 5,
6): dangerous variables removed, phantom tokens instead of real keys, no
way to the real key through /proc, no capabilities."""

import re

import pytest

from conftest import HEX64, OPENAI_PHANTOM
from run_fixtures import (EACCES, TRY, assert_errno, assert_ok,  # noqa
    box, try_bin)

REAL = "sk-real-keyhole-test-0123456789"
OPENAI = ["--credential", "openai",
    "--resolve", "api.openai.com:443:127.0.0.1"]


def child_env(res):
	assert res.rc == 0, res
	return dict(l.split("=", 1) for l in res.out.splitlines() if "=" in l)


@pytest.mark.parametrize("name", ["LD_PRELOAD", "LD_LIBRARY_PATH",
    "BASH_ENV", "NODE_OPTIONS", "LD_AUDIT", "PYTHONSTARTUP"])
def test_dangerous_variable_is_removed(box, name):
	# LD_PRELOAD names a missing object: ld.so only warns, so keyhole
	# (ASan) itself still starts.
	value = box.path("missing-%s.so" % name.lower())
	res = box.run("run", "-s", "--", "/usr/bin/env", env={name: value})
	env = child_env(res)
	assert name not in env, "%s=%r reached the child" % (name, env[name])


def test_ordinary_variable_is_kept(box):
	res = box.run("run", "-s", "--", "/usr/bin/env",
	    env={"KEYHOLE_TEST_PLAIN": "plain-value"})
	assert child_env(res).get("KEYHOLE_TEST_PLAIN") == "plain-value"


def test_credential_child_gets_phantom_not_real_key(box):
	res = box.run("run", *OPENAI, "--", "/usr/bin/env",
	    env={"OPENAI_API_KEY": REAL})
	env = child_env(res)
	phantom = env.get("OPENAI_API_KEY", "")
	assert OPENAI_PHANTOM.match(phantom), "OPENAI_API_KEY=%r" % phantom
	assert REAL not in res.out
	assert REAL not in res.err


def test_credential_phantom_differs_from_proxy_token(box):
	env = child_env(box.run("run", *OPENAI, "--", "/usr/bin/env",
	    env={"OPENAI_API_KEY": REAL}))
	assert env["OPENAI_API_KEY"] != env["KEYHOLE_PROXY_TOKEN"]
	assert env["OPENAI_API_KEY"] not in env["HTTP_PROXY"]


def test_credential_sets_base_url_to_proxy_route(box):
	env = child_env(box.run("run", *OPENAI, "--", "/usr/bin/env",
	    env={"OPENAI_API_KEY": REAL}))
	port = env["HTTP_PROXY"].rsplit(":", 1)[1]
	assert env.get("OPENAI_BASE_URL") == \
	    "http://127.0.0.1:%s/openai" % port, env


def test_profile_route_without_secret_still_sets_phantom(box):
	# From a profile: named on the command line, an unset env:// source
	# stops keyhole instead (test_run_secrets.py).
	prof = box.write(box.path("creds.json"),
	    '{"network": {"credentials": ["openai"]}}')
	env = child_env(box.run("run", "-p", prof, "--resolve",
	    "api.openai.com:443:127.0.0.1", "--", "/usr/bin/env"))
	assert OPENAI_PHANTOM.match(env.get("OPENAI_API_KEY", "")), env


def test_variable_equal_to_secret_is_removed(box):
	res = box.run("run", *OPENAI, "--", "/usr/bin/env",
	    env={"OPENAI_API_KEY": REAL, "SOME_COPY": REAL})
	env = child_env(res)
	assert "SOME_COPY" not in env, env
	assert REAL not in res.out


def test_credential_upstream_not_in_no_proxy(box):
	env = child_env(box.run("run", *OPENAI, "--allow-domain",
	    "openai.com:443", "--", "/usr/bin/env",
	    env={"OPENAI_API_KEY": REAL}))
	entries = env["NO_PROXY"].split(",")
	assert "api.openai.com" not in entries, entries
	assert "openai.com" not in entries, entries


def test_real_key_not_readable_from_supervisor_environ(box):
	script = 'echo "ppid=$PPID"; exec "$0" read-proc-environ "$PPID"'
	res = box.run("run", *OPENAI, "--read-file", TRY, "--", "/bin/sh",
	    "-c", script, TRY, env={"OPENAI_API_KEY": REAL})
	assert REAL not in res.out
	assert res.rc == EACCES, res


def test_supervisor_is_the_childs_parent(box):
	p = box.popen("run", *OPENAI, "--", "/bin/sh", "-c", 'echo "$PPID"',
	    env={"OPENAI_API_KEY": REAL})
	out, err = p.communicate(timeout=15)
	assert p.returncode == 0, err
	assert int(out.decode().strip()) == p.pid, \
	    "the child's parent is not keyhole: the environ test is moot"


def test_real_key_not_readable_from_supervisor_mem(box):
	script = 'exec "$0" read "/proc/$PPID/mem"'
	res = box.run("run", *OPENAI, "--read-file", TRY, "--", "/bin/sh",
	    "-c", script, TRY, env={"OPENAI_API_KEY": REAL})
	assert_errno(res, EACCES)


def test_supervisor_environ_unreadable_in_allow_mode_too(box):
	script = 'exec "$0" read-proc-environ "$PPID"'
	res = box.run("run", "--read-file", TRY, "--", "/bin/sh", "-c",
	    script, TRY, env={"OPENAI_API_KEY": REAL})
	assert REAL not in res.out
	assert res.rc == EACCES, res


def test_real_key_not_in_any_readable_proc_environ(box):
	script = ('for f in /proc/[0-9]*/environ; do '
	    'cat "$f" 2>/dev/null | tr "\\0" "\\n"; done')
	res = box.run("run", *OPENAI, "--", "/bin/sh", "-c", script,
	    env={"OPENAI_API_KEY": REAL})
	assert REAL not in res.out


def test_child_has_no_capabilities(box):
	res = box.run_try([], "caps")
	assert_ok(res)
	caps = dict(re.findall(r"^(Cap\w+):\s+([0-9a-f]+)$", res.out, re.M))
	for name in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
		assert caps.get(name) == "0" * 16, caps


def test_child_has_no_new_privs(box):
	res = box.run("run", "--", "/bin/grep", "NoNewPrivs",
	    "/proc/self/status")
	assert res.rc == 0, res
	assert res.out.split() == ["NoNewPrivs:", "1"], res.out


def test_child_env_has_no_real_key_via_try(box):
	res = box.run_try(OPENAI, "env", "OPENAI_API_KEY",
	    env={"OPENAI_API_KEY": REAL})
	assert_ok(res)
	assert OPENAI_PHANTOM.match(res.out.strip()), res.out
