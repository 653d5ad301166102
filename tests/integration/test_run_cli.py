"""`keyhole why`, `run --dry-run` and `keyhole shell` (SPEC 2)."""

import json
import os
import re

from run_fixtures import TRY, box, try_bin  # noqa: F401

REAL = "sk-real-keyhole-test-0123456789"
HEX64_ANY = re.compile(r"[0-9a-f]{64}")


def why_json(box, *args):
	res = box.run("why", *args, "--json")
	assert res.rc == 0, res
	try:
		return json.loads(res.out)
	except ValueError:
		raise AssertionError("why --json printed no JSON: %r" % res)


# ------------------------------------------------------------------- why

def test_why_ssh_is_sensitive_path(box):
	ssh = os.path.join(box.home, ".ssh")
	j = why_json(box, "--path", ssh)
	assert j["status"] == "denied", j
	assert j["reason"] == "sensitive_path", j


def test_why_ssh_even_when_granted_is_refused_as_sensitive(box):
	"""Either why answers sensitive_path, or it refuses the grant as run
	does (exit 1 naming the sensitive path)."""
	ssh = os.path.join(box.home, ".ssh")
	res = box.run("why", "--path", ssh, "--read", ssh, "--json")
	if res.rc == 1:
		assert "sensitive" in res.err and ssh in res.err, res
	else:
		assert res.rc == 0, res
		assert json.loads(res.out)["reason"] == "sensitive_path", res


def test_why_granted_dir_is_allowed_by_user_grant(box):
	j = why_json(box, "--path", os.path.join(box.granted, "data.txt"),
	    "--op", "readwrite", "--allow", box.granted)
	assert j["status"] == "allowed", j
	assert j["source"] == "user", j
	assert j.get("granted_by") == box.granted, j


def test_why_read_grant_for_write_is_insufficient_access(box):
	j = why_json(box, "--path", box.granted, "--op", "write", "--read",
	    box.granted)
	assert j["status"] == "denied", j
	assert j["reason"] == "insufficient_access", j
	assert "suggested_flag" in j, j


def test_why_ungranted_path_is_path_not_granted_with_suggestion(box):
	j = why_json(box, "--path", box.outside, "--op", "read")
	assert j["status"] == "denied", j
	assert j["reason"] == "path_not_granted", j
	assert box.outside in j["suggested_flag"], j


def test_why_system_path_is_allowed_read_not_by_user(box):
	j = why_json(box, "--path", "/usr/bin/env", "--op", "read")
	assert j["status"] == "allowed", j
	assert j.get("source") != "user", j


def test_why_agrees_with_run_for_write_outside(box):
	j = why_json(box, "--path", box.outside, "--op", "write", "--allow",
	    box.granted)
	assert j["status"] == "denied", j


def test_why_text_output_names_reason(box):
	res = box.run("why", "--path", box.outside, "--op", "read")
	assert res.rc == 0, res
	assert "path_not_granted" in res.out, res.out


def test_why_without_path_or_host_is_usage_error(box):
	res = box.run("why", "--json")
	assert res.rc == 2, res


# --------------------------------------------------------------- dry-run

def _dry(box, *extra):
	marker = os.path.join(box.granted, "ran")
	res = box.run("run", "--dry-run", "--allow", box.granted, *extra,
	    "--", "touch", marker, env={"OPENAI_API_KEY": REAL})
	return res, marker


def test_dry_run_exits_0_without_running_the_command(box):
	res, marker = _dry(box)
	assert res.rc == 0, res
	assert not os.path.exists(marker)


def test_dry_run_shows_grants_and_network_mode(box):
	res, _ = _dry(box, "--block-net")
	text = res.out + res.err
	assert box.granted in text, text
	assert re.search(r"network: *blocked", text), text


def test_dry_run_proxy_shows_variable_names_not_values(box):
	res, _ = _dry(box, "--credential", "openai", "--allow-domain",
	    "x.test:443")
	assert res.rc == 0, res
	text = res.out + res.err
	assert re.search(r"network: *proxy", text), text
	for name in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY",
	    "KEYHOLE_PROXY_TOKEN", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
		assert name in text, "%s not named in dry run:\n%s" % (name,
		    text)
	assert REAL not in text
	assert not HEX64_ANY.search(text), "a token in the dry run:\n" + text
	assert "@127.0.0.1" not in text, "a proxy URL in the dry run"


def test_dry_run_starts_no_proxy_listener(box):
	res, _ = _dry(box, "--allow-domain", "x.test")
	assert "127.0.0.1:" not in res.out + res.err, res


# ----------------------------------------------------------------- shell

def test_shell_runs_command_non_interactively(box):
	res = box.run("shell", "--shell", "/bin/sh", "-c", "echo hi")
	assert res.rc == 0, res
	assert res.out == "hi\n", res


def test_shell_passes_exit_status(box):
	res = box.run("shell", "-s", "--shell", "/bin/sh", "-c", "exit 4")
	assert res.rc == 4, res


def test_shell_uses_dollar_shell_by_default(box):
	res = box.run("shell", "-s", "-c", "echo $0", env={"SHELL": "/bin/sh"})
	assert res.rc == 0, res
	assert res.out.strip().endswith("sh"), res


def test_shell_is_sandboxed(box):
	res = box.run("shell", "-s", "--shell", "/bin/sh", "-c",
	    "echo x > %s/w" % box.outside)
	assert res.rc != 0, res
	assert not os.path.exists(os.path.join(box.outside, "w"))


# --------------------------------------------------------------- profile

def _profile(box, body):
	path = box.path("profile.json")
	with open(path, "w") as f:
		json.dump(body, f)
	return path


def test_profile_grants_and_blocks_network(box):
	prof = _profile(box, {"meta": {"name": "t"}, "filesystem": {
	    "allow": [box.granted], "read_file": [TRY]},
	    "network": {"block": True}})
	ok = box.run("run", "-s", "--profile", prof, "--", TRY, "write",
	    os.path.join(box.granted, "p"))
	assert ok.rc == 0, ok
	out = box.run("run", "-s", "--profile", prof, "--", TRY, "write",
	    os.path.join(box.outside, "p"))
	assert out.rc == 13, out
	net = box.run("run", "-s", "--profile", prof, "--", TRY, "connect",
	    "127.0.0.1", "9")
	assert net.rc == 13, net


def test_profile_unknown_key_is_error_naming_file_and_key(box):
	prof = _profile(box, {"filesystem": {"alow": []}})
	res = box.run("run", "--profile", prof, "--", "true")
	assert res.rc == 1, res
	assert prof in res.err and "filesystem.alow" in res.err, res.err
	assert re.search(r"line \d+", res.err), res.err
