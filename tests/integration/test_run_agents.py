"""The built-in codex profile sets Codex up for keyhole without flags
(issue 15): its openai route comes from the profile, the phantom is also
under CODEX_API_KEY, and CODEX_HOME is a per-run overlay of ~/.codex whose
config.toml names the route (Codex ignores OPENAI_BASE_URL) and turns
Codex's own sandbox off (keyhole is the sandbox)."""

import os

from conftest import HEX64, OPENAI_PHANTOM
from run_fixtures import assert_ok, box, try_bin  # noqa: F401

SHOW = ('printf "%s\\n" "$CODEX_HOME" "$OPENAI_BASE_URL" "$CODEX_API_KEY" '
    '"$OPENAI_API_KEY"; cat "$CODEX_HOME/config.toml"; '
    'ls "$CODEX_HOME/sessions" >/dev/null && echo sessions-ok')


def test_codex_profile_routes_openai_and_turns_its_sandbox_off(box):
	codex = os.path.join(box.home, ".codex")
	os.makedirs(codex)
	box.write(os.path.join(codex, "config.toml"), 'model = "gpt-test"\n'
	    'sandbox_mode = "read-only"\n[tui]\nsandbox_mode = "x"\n')
	box.write(os.path.join(codex, "auth.json"), "{}\n", mode=0o600)
	res = box.run("run", "-p", "codex", "--allow-cwd", "--resolve",
	    "api.openai.com:443:127.0.0.1", "--", "/bin/sh", "-c", SHOW,
	    env={"OPENAI_API_KEY": "sk-real-codex-profile"}, cwd=box.granted)
	assert_ok(res)
	lines = res.out.splitlines()
	home, base, codex_key, openai_key = lines[:4]
	cfg = "\n".join(lines[4:])
	assert home.startswith("/") and home.endswith("/codex-home"), res
	assert base.startswith("http://127.0.0.1:") and \
	    base.endswith("/openai"), res
	assert OPENAI_PHANTOM.match(codex_key) and codex_key == openai_key, res
	assert 'openai_base_url = "%s"' % base in cfg, cfg
	assert 'sandbox_mode = "danger-full-access"' in cfg, cfg
	# The user's settings follow; their copy of our keys is commented.
	assert 'model = "gpt-test"' in cfg
	assert '# (set by keyhole above) sandbox_mode = "read-only"' in cfg
	assert '[tui]\nsandbox_mode = "x"' in cfg
	assert "sessions-ok" in res.out
	assert "sk-real-codex-profile" not in res.out + res.err
	# The overlay went with the run; the real home is untouched.
	assert not os.path.exists(home)
	with open(os.path.join(codex, "config.toml")) as f:
		assert f.read().startswith('model = "gpt-test"')
	assert os.path.isdir(os.path.join(codex, "sessions"))


def test_codex_overlay_links_the_real_entries(box):
	codex = os.path.join(box.home, ".codex")
	os.makedirs(codex)
	box.write(os.path.join(codex, "auth.json"), '{"k": 1}\n', mode=0o600)
	res = box.run("run", "-s", "-p", "codex", "--allow-cwd", "--", "/bin/sh",
	    "-c", 'readlink "$CODEX_HOME/auth.json"; cat "$CODEX_HOME/auth.json"'
	    '; echo new > "$CODEX_HOME/sessions/s1"',
	    env={"OPENAI_API_KEY": "sk-real-codex-profile"}, cwd=box.granted)
	assert_ok(res)
	assert res.out.splitlines() == [os.path.join(codex, "auth.json"),
	    '{"k": 1}'], res
	with open(os.path.join(codex, "sessions", "s1")) as f:
		assert f.read() == "new\n"


def test_codex_profile_without_a_key_still_runs(box):
	# The route comes from the profile: a missing key is said only with
	# -v, and its requests get 503 (reported as they happen).
	res = box.run("run", "-p", "codex", "--allow-cwd", "--", "/bin/true",
	    env={"OPENAI_API_KEY": None}, cwd=box.granted)
	assert_ok(res)
	assert "openai" not in res.err, res


def test_codex_config_symlink_is_not_followed(box):
	# ~/.codex is writable from inside: a link planted there must not
	# make the supervisor copy a file the sandbox cannot read.
	codex = os.path.join(box.home, ".codex")
	os.makedirs(codex)
	secret = box.write(os.path.join(box.home, ".ssh", "id_test2"),
	    "PRIVATE KEY\n", mode=0o600)
	os.symlink(secret, os.path.join(codex, "config.toml"))
	res = box.run("run", "-p", "codex", "--allow-cwd", "--", "/bin/sh",
	    "-c", 'cat "$CODEX_HOME/config.toml"',
	    env={"OPENAI_API_KEY": "sk-real-codex-profile"}, cwd=box.granted)
	assert_ok(res)
	assert "PRIVATE KEY" not in res.out, res
	assert 'sandbox_mode = "danger-full-access"' in res.out
	assert "symbolic link" in res.err, res
