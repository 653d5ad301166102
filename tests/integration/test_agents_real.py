"""Real agents under their built-in profiles, against fake LLM APIs on
127.0.0.1 (issue 15): Claude Code (`claude -p`) gets a reply and runs a
Bash tool call whose output (written to and read back from $TMPDIR) comes
back to the fake in the tool result; Codex (`codex exec`) gets a reply.
The fakes receive the real key, never a phantom.

The agents come from npm (scripts/agents.sh, cached under
~/.cache/keyhole-agents for later runs and CI); without npm or the
registry these tests skip, saying so.  Nothing leaves 127.0.0.1: the
proxy's allow-list names only example.invalid, and direct connections are
the mediator's to refuse."""

import errno
import glob
import json
import os
import ssl
import subprocess

import pytest

from agent_fakes import FakeServer, anthropic_answer, responses_answer
from conftest import REPO
from run_fixtures import assert_ok, box, try_bin  # noqa: F401

AGENTS_SH = os.path.join(REPO, "scripts", "agents.sh")
INSTALL_TIMEOUT = 600
REAL_ANTHROPIC = "sk-ant-real-agent-test-0123456789"
REAL_OPENAI = "sk-real-agent-test-openai-0123456789"
# Only the routes: every other host is refused by the proxy.
NO_OTHER_HOSTS = ("--allow-domain", "example.invalid")
QUIET = {"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "DISABLE_AUTOUPDATER": "1", "DISABLE_TELEMETRY": "1"}
TOOL_COMMAND = 'echo tool-output-ok > "$TMPDIR/x"; cat "$TMPDIR/x"'


def _agents_dir():
	return os.environ.get("KEYHOLE_AGENTS_DIR") or os.path.join(
	    os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"),
	    "keyhole-agents")


def _install(name):
	try:
		p = subprocess.run(["/bin/sh", AGENTS_SH, name],
		    capture_output=True, text=True, timeout=INSTALL_TIMEOUT)
	except subprocess.TimeoutExpired:
		pytest.skip("npm install of %s took over %d s (registry "
		    "unreachable?)" % (name, INSTALL_TIMEOUT))
	if p.returncode != 0:
		pytest.skip("cannot install %s from npm (registry unreachable?): "
		    "%s" % (name, p.stderr.strip()[-300:]))
	return os.path.join(_agents_dir(), name)


def _find(pattern):
	for path in sorted(glob.glob(pattern)):
		if os.path.isfile(path) and os.access(path, os.X_OK):
			return path
	return None


@pytest.fixture(scope="session")
def claude_bin():
	d = _install("claude")
	exe = _find(os.path.join(d, "node_modules", "@anthropic-ai",
	    "claude-code-linux-*", "claude")) or _find(os.path.join(d,
	    "node_modules", "@anthropic-ai", "claude-code", "bin", "claude*"))
	if exe is None:
		pytest.skip("no Claude Code binary for this platform in %s" % d)
	return d, exe


@pytest.fixture(scope="session")
def codex_bin():
	d = _install("codex")
	exe = _find(os.path.join(d, "node_modules", "@openai", "codex-linux-*",
	    "vendor", "*", "bin", "codex"))
	if exe is None:
		pytest.skip("no Codex binary for this platform in %s" % d)
	return d, exe


@pytest.fixture
def fake():
	made = []

	def start(answer, addr=("127.0.0.1", 0), tls=None):
		s = FakeServer(answer, addr, tls)
		made.append(s)
		return s

	yield start
	for s in made:
		s.close()


def _profile(box, base, service, upstream, header, fmt, var):
	"""A profile extending base whose route `service` goes to the fake."""
	path = box.path("%s-fake.json" % base)
	with open(path, "w") as f:
		json.dump({"extends": base, "network": {"custom_credentials": {
		    service: {"upstream": upstream, "credential_key":
		    "env://" + var, "inject_header": header,
		    "credential_format": fmt, "env_var": var}}}}, f)
	return path


def test_claude_code_replies_and_runs_bash_through_the_route(box, fake,
    claude_bin):
	d, exe = claude_bin
	up = fake(anthropic_answer(TOOL_COMMAND))
	prof = _profile(box, "claude-code", "anthropic",
	    "http://127.0.0.1:%d" % up.port, "x-api-key", "{}",
	    "ANTHROPIC_API_KEY")
	env = dict(QUIET, ANTHROPIC_API_KEY=REAL_ANTHROPIC)
	base = ["run", "-p", prof, "--credential", "anthropic",
	    *NO_OTHER_HOSTS, "--allow-cwd", "--read", d, "--"]

	res = box.run(*base, exe, "-p", "say hi", env=env, timeout=120,
	    cwd=box.granted)
	assert_ok(res)
	assert "hello from the fake" in res.out, res

	res = box.run(*base, exe, "-p", "RUN-BASH now", "--allowedTools",
	    "Bash", env=env, timeout=120, cwd=box.granted)
	assert_ok(res)
	# The fake saw the command's output in the tool result: the Bash
	# tool wrote to $TMPDIR and read its output back.
	assert "TOOL-SAW: tool-output-ok" in res.out, res

	msgs = [r for r in up.requests if r["path"].startswith("/v1/messages")]
	assert len(msgs) >= 3, [r["path"] for r in up.requests]
	for r in up.requests:
		assert r["headers"].get("x-api-key") == REAL_ANTHROPIC, r["headers"]
	assert REAL_ANTHROPIC not in res.out + res.err
	# Claude Code kept its state in the files keyhole created for it.
	with open(os.path.join(box.home, ".claude.json")) as f:
		assert isinstance(json.load(f), dict)


def _server_cert(ca, d, host):
	"""A server context with a certificate for host signed by the test
	CA."""
	with open(os.path.join(d, "ext.cnf"), "w") as f:
		f.write("subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth\n"
		    % host)
	run = lambda *a: subprocess.run(["openssl", *a], cwd=d, check=True,
	    capture_output=True)
	run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
	    "-nodes", "-keyout", "a.key", "-out", "a.csr", "-subj",
	    "/CN=" + host)
	run("x509", "-req", "-in", "a.csr", "-CA", os.path.join(ca, "ca.pem"),
	    "-CAkey", os.path.join(ca, "ca.key"), "-CAcreateserial", "-out",
	    "a.pem", "-days", "2", "-extfile", "ext.cnf")
	ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
	ctx.load_cert_chain(os.path.join(d, "a.pem"), os.path.join(d, "a.key"))
	return ctx


def _listen_443(fake, answer, addr, ctx):
	try:
		return fake(answer, (addr, 443), ctx)
	except OSError as e:
		if e.errno in (errno.EACCES, errno.EADDRINUSE,
		    errno.EADDRNOTAVAIL):
			pytest.skip("cannot listen on %s:443: %s" % (addr, e))
		raise


def test_claude_code_through_the_builtin_route_over_tls(box, fake, ca,
    tmp_path, claude_bin):
	"""The built-in anthropic route itself (https://api.anthropic.com),
	its host pointed at a fake on 127.0.0.2:443 with --resolve and
	trusted with --upstream-ca."""
	d, exe = claude_bin
	ctx = _server_cert(ca, str(tmp_path), "api.anthropic.com")
	up = _listen_443(fake, anthropic_answer(TOOL_COMMAND), "127.0.0.2",
	    ctx)
	res = box.run("run", "-p", "claude-code", "--credential", "anthropic",
	    "--resolve", "api.anthropic.com:443:127.0.0.2", "--upstream-ca",
	    os.path.join(ca, "ca.pem"), *NO_OTHER_HOSTS, "--allow-cwd",
	    "--read", d, "--", exe, "-p", "RUN-BASH now", "--allowedTools",
	    "Bash", env=dict(QUIET, ANTHROPIC_API_KEY=REAL_ANTHROPIC),
	    timeout=120, cwd=box.granted)
	assert_ok(res)
	assert "TOOL-SAW: tool-output-ok" in res.out, res
	assert up.requests, res
	for r in up.requests:
		assert r["headers"].get("x-api-key") == REAL_ANTHROPIC
	assert REAL_ANTHROPIC not in res.out + res.err


def test_codex_replies_through_the_route_with_the_real_key(box, fake,
    codex_bin):
	d, exe = codex_bin
	up = fake(responses_answer("hello from the fake"))
	prof = _profile(box, "codex", "openai",
	    "http://127.0.0.1:%d/v1" % up.port, "Authorization", "Bearer {}",
	    "OPENAI_API_KEY")
	res = box.run("run", "-p", prof, "--credential", "openai",
	    *NO_OTHER_HOSTS, "--allow-cwd", "--read", d, "--", exe, "exec",
	    "--skip-git-repo-check", "say hi",
	    env={"OPENAI_API_KEY": REAL_OPENAI}, timeout=120, cwd=box.granted)
	assert_ok(res)
	assert "hello from the fake" in res.out, res
	posts = [r for r in up.requests if r["method"] == "POST"]
	assert posts and posts[-1]["path"] == "/v1/responses", up.requests
	for r in up.requests:
		assert r["headers"].get("authorization") == "Bearer " + \
		    REAL_OPENAI, r["headers"]
	assert REAL_OPENAI not in res.out + res.err
	# Codex's home is the overlay keyhole wrote; its sessions persist.
	assert os.path.isdir(os.path.join(box.home, ".codex", "sessions"))


def test_codex_through_the_builtin_route_over_tls_without_flags(box, fake,
    ca, tmp_path, codex_bin):
	"""-p codex alone: the profile brings the openai route (upstream
	https://api.openai.com/v1, here a fake on 127.0.0.3:443 through
	--resolve and --upstream-ca) and tells Codex about it."""
	d, exe = codex_bin
	ctx = _server_cert(ca, str(tmp_path), "api.openai.com")
	up = _listen_443(fake, responses_answer("hello over tls"),
	    "127.0.0.3", ctx)
	res = box.run("run", "-p", "codex", "--resolve",
	    "api.openai.com:443:127.0.0.3", "--upstream-ca",
	    os.path.join(ca, "ca.pem"), *NO_OTHER_HOSTS, "--allow-cwd",
	    "--read", d, "--", exe, "exec", "--skip-git-repo-check", "say hi",
	    env={"OPENAI_API_KEY": REAL_OPENAI}, timeout=120, cwd=box.granted)
	assert_ok(res)
	assert "hello over tls" in res.out, res
	assert any(r["method"] == "POST" and r["path"] == "/v1/responses"
	    for r in up.requests), [(r["method"], r["path"])
	    for r in up.requests]
	for r in up.requests:
		assert r["headers"].get("authorization") == "Bearer " + \
		    REAL_OPENAI, r["headers"]
