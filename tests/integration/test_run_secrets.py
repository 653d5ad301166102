"""A missing secret is never a silent hang (SPEC 5, issue 15): a route
named on the command line whose env:// variable is unset stops keyhole
with exit 1 naming the variable; any other missing secret is reported on
stderr each time its route answers 503 (at most a line per route every 5
s); a profile's routes warn only with -v.  And `keyhole proxy --env-file`
hands the variables to a shell."""

import json
import os
import re
import subprocess
import time

from conftest import _clean_env, start_proxy_raw, wait_for
from reverse_fixtures import assert_json_error, route  # noqa: F401
from run_fixtures import assert_ok, box, try_bin  # noqa: F401

LIVE = re.compile(r"route svc: answered 503 \(credential unavailable")


def test_cli_route_with_unset_env_variable_exits_1_naming_it(box):
	res = box.run("run", "--credential", "anthropic", "--", "/bin/true",
	    env={"ANTHROPIC_API_KEY": None})
	assert res.rc == 1, res
	assert "ANTHROPIC_API_KEY" in res.err and "not set" in res.err, res
	assert res.elapsed < 5, res


def test_cli_route_with_empty_env_variable_exits_1(box):
	res = box.run("run", "--credential", "openai", "--", "/bin/true",
	    env={"OPENAI_API_KEY": ""})
	assert res.rc == 1, res
	assert "OPENAI_API_KEY" in res.err, res


def test_proxy_with_unset_env_variable_exits_1(keyhole):
	rc, out, err = start_proxy_raw(keyhole, ["proxy", "--credential",
	    "github"], env={"GITHUB_TOKEN": None})
	assert rc == 1, (rc, out, err)
	assert "GITHUB_TOKEN" in err, err
	assert out == "", out


def _profile(box, creds):
	path = box.path("creds.json")
	with open(path, "w") as f:
		json.dump({"extends": "default", "network": {"credentials":
		    creds}}, f)
	return path


def test_profile_route_missing_secret_is_quiet_without_v(box):
	prof = _profile(box, ["gitlab"])
	res = box.run("run", "-p", prof, "--", "/bin/true")
	assert_ok(res)
	assert "gitlab" not in res.err, res
	res = box.run("run", "-v", "-p", prof, "--", "/bin/true")
	assert_ok(res)
	lines = [l for l in res.err.splitlines() if "'gitlab'" in l]
	assert len(lines) == 1, res
	assert "not available" in lines[0]


def test_missing_secret_503s_are_reported_live_and_rate_limited(route,
    tls_upstream, tmp_path):
	r = route(tls_upstream, secret=None, source="file://%s" %
	    (tmp_path / "not-yet"))
	for _ in range(3):
		st, _, h, body = r.get("/x")
		assert_json_error(st, h, body, 503, "credential unavailable")
	# Said while the proxy still runs, once for the three.
	assert wait_for(lambda: LIVE.search(r.px.stderr()), 3), \
	    r.px.stderr()
	assert r.px.proc.poll() is None
	assert len(LIVE.findall(r.px.stderr())) == 1, r.px.stderr()
	time.sleep(5.2)
	st, _, h, body = r.get("/x")
	assert st == 503
	assert wait_for(lambda: len(LIVE.findall(r.px.stderr())) == 2, 3), \
	    r.px.stderr()
	assert "and 0 more" not in r.px.stderr()


def test_proxy_env_file_is_sourced_by_a_shell(keyhole, tmp_path):
	envf = str(tmp_path / "keyhole.env")
	with open(envf, "w") as f:
		f.write("export STALE=1\n")
	p = subprocess.Popen([keyhole, "proxy", "--credential", "openai",
	    "--resolve", "api.openai.com:443:192.0.2.1", "--env-file", envf],
	    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
	    stderr=subprocess.PIPE, env=_clean_env({"OPENAI_API_KEY":
	    "sk-real-env-file-test"}))
	try:
		assert wait_for(lambda: os.path.exists(envf) and
		    "STALE" not in open(envf).read(), 5), "no env file"
		assert oct(os.stat(envf).st_mode & 0o777) == "0o640"
		sh = subprocess.run(["/bin/sh", "-c", '. "$1" && '
		    'printf "%s\\n" "$OPENAI_BASE_URL" "$HTTPS_PROXY" '
		    '"$OPENAI_API_KEY" "$CODEX_API_KEY"', "sh", envf],
		    capture_output=True, text=True, timeout=5,
		    env={"PATH": "/usr/bin:/bin"})
		assert sh.returncode == 0, sh
		base, proxy_url, phantom, codex = sh.stdout.splitlines()
		assert re.fullmatch(r"http://127\.0\.0\.1:\d+/openai", base)
		assert re.fullmatch(r"http://keyhole:[0-9a-f]{64}@127\.0\.0\.1:"
		    r"\d+", proxy_url), proxy_url
		assert re.fullmatch(r"sk-proj-[A-Za-z0-9]{48}", phantom)
		assert codex == phantom
		assert "sk-real-env-file-test" not in open(envf).read()
	finally:
		p.terminate()
		p.wait(5)
	assert p.returncode == 0
	assert not os.path.exists(envf), "env file left behind"
