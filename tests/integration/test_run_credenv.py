"""Well-known credential variables never reach the child by accident (SPEC
6): removed in every mode unless a route puts its phantom there or the user
keeps one with --allow-env; one stderr line says so and names the
--credential that would route it.  The phantom is also exported under the
names a route's clients read (CODEX_API_KEY, GH_TOKEN)."""

from conftest import GITHUB_PHANTOM, HEX64, OPENAI_PHANTOM
from run_fixtures import assert_ok, box, try_bin  # noqa: F401

REAL = "sk-ant-real-keyhole-test-0123456789"
REMOVED = "removed credential variable"


def child_env(res):
	assert res.rc == 0, res
	return dict(l.split("=", 1) for l in res.out.splitlines() if "=" in l)


def removal_lines(res):
	return [l for l in res.err.splitlines() if REMOVED in l]


def test_claude_code_without_credential_keeps_real_key_out(box):
	res = box.run("run", "-p", "claude-code", "--allow-cwd", "--",
	    "/usr/bin/env", env={"ANTHROPIC_API_KEY": REAL},
	    cwd=box.granted)
	env = child_env(res)
	assert "ANTHROPIC_API_KEY" not in env, env
	assert REAL not in res.out and REAL not in res.err
	lines = removal_lines(res)
	assert len(lines) == 1, res
	assert "ANTHROPIC_API_KEY" in lines[0], lines
	assert "--credential anthropic" in lines[0], lines
	assert "--allow-env" in lines[0], lines


def test_one_line_names_every_removed_credential(box):
	res = box.run("run", "--", "/usr/bin/env", env={
	    "ANTHROPIC_API_KEY": REAL, "GH_TOKEN": "ghp_x", "HF_TOKEN": "hf",
	    "MY_APP_SECRET": "s", "AWS_SECRET_ACCESS_KEY": "aws"})
	env = child_env(res)
	for n in ("ANTHROPIC_API_KEY", "GH_TOKEN", "HF_TOKEN", "MY_APP_SECRET",
	    "AWS_SECRET_ACCESS_KEY"):
		assert n not in env, n
	lines = removal_lines(res)
	assert len(lines) == 1, res
	for n in ("ANTHROPIC_API_KEY", "GH_TOKEN", "HF_TOKEN",
	    "MY_APP_SECRET", "AWS_SECRET_ACCESS_KEY", "--credential anthropic",
	    "--credential github"):
		assert n in lines[0], (n, lines)


def test_allow_env_keeps_a_credential_variable(box):
	res = box.run("run", "-p", "claude-code", "--allow-cwd",
	    "--allow-env", "ANTHROPIC_API_KEY", "--", "/usr/bin/env",
	    env={"ANTHROPIC_API_KEY": REAL, "GH_TOKEN": "ghp_x"},
	    cwd=box.granted)
	env = child_env(res)
	assert env.get("ANTHROPIC_API_KEY") == REAL, env
	assert "GH_TOKEN" not in env
	lines = removal_lines(res)
	assert len(lines) == 1 and "ANTHROPIC_API_KEY" not in lines[0], res


def test_keyhole_allow_env_variable_is_the_same_as_the_flag(box):
	res = box.run("run", "--", "/usr/bin/env", env={
	    "ANTHROPIC_API_KEY": REAL, "HF_TOKEN": "hf",
	    "KEYHOLE_ALLOW_ENV": "ANTHROPIC_API_KEY,HF_TOKEN"})
	env = child_env(res)
	assert env.get("ANTHROPIC_API_KEY") == REAL
	assert env.get("HF_TOKEN") == "hf"
	assert removal_lines(res) == [], res


def test_silent_says_nothing_but_still_removes(box):
	res = box.run("run", "-s", "--", "/usr/bin/env",
	    env={"ANTHROPIC_API_KEY": REAL})
	assert "ANTHROPIC_API_KEY" not in child_env(res)
	assert res.err == "", res


def test_verbose_names_a_dropped_node_options(box):
	res = box.run("run", "-v", "--", "/usr/bin/env",
	    env={"NODE_OPTIONS": "--max-old-space-size=100"})
	assert "NODE_OPTIONS" not in child_env(res)
	assert any("NODE_OPTIONS" in l and "removed" in l
	    for l in res.err.splitlines()), res
	quiet = box.run("run", "--", "/usr/bin/env",
	    env={"NODE_OPTIONS": "--max-old-space-size=100"})
	assert "NODE_OPTIONS" not in quiet.err, quiet


def test_openai_phantom_also_under_codex_api_key(box):
	res = box.run("run", "--credential", "openai", "--", "/usr/bin/env",
	    env={"OPENAI_API_KEY": "sk-real-openai", "CODEX_API_KEY": "sk-c"})
	env = child_env(res)
	assert OPENAI_PHANTOM.match(env["OPENAI_API_KEY"]), env
	assert env.get("CODEX_API_KEY") == env["OPENAI_API_KEY"], env
	assert "sk-real-openai" not in res.out and "sk-c" not in res.out
	assert removal_lines(res) == [], res


def test_github_phantom_also_under_gh_token(box):
	res = box.run("run", "--credential", "github", "--", "/usr/bin/env",
	    env={"GITHUB_TOKEN": "ghp_real"})
	env = child_env(res)
	assert GITHUB_PHANTOM.match(env["GITHUB_TOKEN"]), env
	assert env.get("GH_TOKEN") == env["GITHUB_TOKEN"], env
	assert "ghp_real" not in res.out


def test_credential_alone_says_any_host(box):
	res = box.run("run", "--credential", "openai", "--", "/bin/true",
	    env={"OPENAI_API_KEY": "sk-real-openai"})
	assert_ok(res)
	assert "any host (no allow-list)" in res.err, res
	assert "0 allow-list entries" not in res.err
