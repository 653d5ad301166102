"""`keyhole proxy --dry-run`: the plan is printed, nothing listens, no
token or secret is shown (SPEC 2.1, 4.3, 4.9, 5, 6)."""

import re
import socket
import subprocess
import time

from conftest import _clean_env

HEX64_ANY = re.compile(r"[0-9a-fA-F]{64}")
MAIN_ARGS = ["proxy", "--dry-run", "--network-profile", "minimal",
    "--credential", "openai", "--allow-domain", "db.test:5432"]
SECRET = "sk-dryrun-" + "s3cr3t" * 8


def dry(keyhole, args, tmp_path, env=None, timeout=10):
	"""Run keyhole with a private HOME; (rc, out, err, seconds)."""
	home = tmp_path / "home"
	(home / ".config").mkdir(parents=True, exist_ok=True)
	extra = {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
	extra.update(env or {})
	t0 = time.monotonic()
	p = subprocess.run([keyhole] + [str(a) for a in args],
	    stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout,
	    env=_clean_env(extra))
	dt = time.monotonic() - t0
	return p.returncode, p.stdout.decode("utf-8", "replace"), \
	    p.stderr.decode("utf-8", "replace"), dt


def lines(out):
	return out.splitlines()


def test_dry_run_exits_0_quickly_and_prints_the_plan(keyhole, tmp_path):
	rc, out, err, dt = dry(keyhole, MAIN_ARGS, tmp_path)
	assert rc == 0, (rc, out, err)
	assert dt < 2.0, "dry run took %.2fs: it must not serve" % dt
	ls = lines(out)
	assert "network: proxy" in ls, out
	assert any(l.startswith("allow api.openai.com") for l in ls), out
	assert "allow db.test:5432 (direct grant)" in ls, out
	route = [l for l in ls if l.startswith("route openai -> ")]
	assert len(route) == 1, out
	assert route[0].startswith("route openai -> https://api.openai.com/v1"), \
	    route
	assert "OPENAI_BASE_URL" in route[0], route
	assert "OPENAI_API_KEY" in route[0], route
	sets = [l for l in ls if l.startswith("sets ")]
	assert len(sets) == 1, out
	for v in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "KEYHOLE_PROXY_TOKEN"):
		assert v in sets[0].split(), (v, sets[0])


def test_dry_run_shows_no_token_value_or_listener(keyhole, tmp_path):
	rc, out, err, _ = dry(keyhole, MAIN_ARGS, tmp_path)
	assert rc == 0, (rc, out, err)
	both = out + err
	assert not HEX64_ANY.search(both), both
	assert "HTTP_PROXY=" not in both, both
	assert "KEYHOLE_PROXY_TOKEN=" not in both, both
	assert "OPENAI_API_KEY=" not in both, both
	assert "127.0.0.1:" not in out, out
	# No NAME=value block and no (SPEC 4.9) end-of-variables empty line.
	assert not any(re.match(r"^[A-Za-z_]+=", l) for l in lines(out)), out
	assert "" not in out.rstrip("\n").split("\n"), out


def test_dry_run_does_not_print_a_loaded_secret(keyhole, tmp_path):
	rc, out, err, _ = dry(keyhole, MAIN_ARGS, tmp_path,
	    env={"OPENAI_API_KEY": SECRET})
	assert rc == 0, (rc, out, err)
	assert SECRET not in out + err
	assert "s3cr3t" not in out + err


def test_dry_run_never_binds_the_proxy_port(keyhole, tmp_path):
	# A real start on a taken port fails (exit 1); a dry run must not even
	# try, so it succeeds while we hold the port.
	s = socket.socket()
	s.bind(("127.0.0.1", 0))
	s.listen(1)
	port = s.getsockname()[1]
	try:
		rc, out, err, dt = dry(keyhole, MAIN_ARGS + ["--proxy-port", port],
		    tmp_path)
		assert rc == 0, (rc, out, err)
		assert dt < 2.0, dt
		assert "network: proxy" in lines(out), out
		assert "127.0.0.1:%d" % port not in out + err
		# And nothing else is waiting on our port: no connection queued.
		s.settimeout(0.2)
		try:
			c, _ = s.accept()
			c.close()
			raise AssertionError("something connected to the held port")
		except socket.timeout:
			pass
	finally:
		s.close()


def test_dry_run_block_net_with_proxy_flags_warns(keyhole, tmp_path):
	rc, out, err, dt = dry(keyhole, ["proxy", "--dry-run", "--block-net",
	    "--allow-domain", "a.test", "--credential", "openai"], tmp_path)
	assert rc == 0, (rc, out, err)
	assert dt < 2.0, dt
	assert "--block-net overrides" in err, err
	assert "--block-net overrides" not in out, out
	assert "network: blocked" in lines(out), out
	assert "network: proxy" not in out, out
	assert "sets HTTP_PROXY" not in out, out


def test_dry_run_block_net_alone_has_no_warning(keyhole, tmp_path):
	rc, out, err, _ = dry(keyhole, ["proxy", "--dry-run", "--block-net"],
	    tmp_path)
	assert rc == 0, (rc, out, err)
	assert "network: blocked" in lines(out), out
	assert "overrides" not in err, err


def test_dry_run_allow_net_with_proxy_flag_is_usage_error(keyhole, tmp_path):
	rc, out, err, _ = dry(keyhole, ["proxy", "--dry-run", "--allow-net",
	    "--allow-domain", "a.test"], tmp_path)
	assert rc == 2, (rc, out, err)
	assert err.startswith("error: "), err
	assert "--allow-net" in err and "--allow-domain" in err, err
	assert "network:" not in out, out


def test_dry_run_unknown_credential_names_available(keyhole, tmp_path):
	rc, out, err, _ = dry(keyhole, ["proxy", "--dry-run", "--credential",
	    "nosuchsvc"], tmp_path)
	assert rc != 0, (rc, out, err)
	assert "nosuchsvc" in err, err
	assert "openai" in err and "github" in err, err
	assert "network:" not in out, out


def test_dry_run_bad_resolve_is_named(keyhole, tmp_path):
	rc, out, err, _ = dry(keyhole, ["proxy", "--dry-run", "--resolve",
	    "h.test:443:not-an-ip"], tmp_path)
	assert rc != 0, (rc, out, err)
	assert "h.test:443:not-an-ip" in err, err
	assert "network:" not in out, out


def test_dry_run_with_profile_file(keyhole, tmp_path):
	prof = tmp_path / "p.json"
	prof.write_text('{"network": {"allow_domain": ["p.test"],'
	    ' "credentials": ["github"],'
	    ' "upstream_proxy": "corp.test:3128",'
	    ' "upstream_bypass": ["in.test"]}}')
	rc, out, err, dt = dry(keyhole, ["proxy", "--dry-run", "-p", prof,
	    "--allow-domain", "c.test"], tmp_path)
	assert rc == 0, (rc, out, err)
	assert dt < 2.0, dt
	ls = lines(out)
	assert "network: proxy" in ls, out
	# Profile entries first, then the command line's.
	assert ls.index("allow p.test") < ls.index("allow c.test"), out
	assert any(l.startswith("route github -> https://api.github.com")
	    and "GITHUB_API_URL" in l and "GITHUB_TOKEN" in l for l in ls), out
	assert "upstream proxy corp.test:3128" in ls, out
	assert "upstream bypass in.test" in ls, out


def test_dry_run_allow_net_drops_profile_proxy_settings(keyhole, tmp_path):
	prof = tmp_path / "p.json"
	prof.write_text('{"network": {"allow_domain": ["p.test"],'
	    ' "credentials": ["github"]}}')
	rc, out, err, _ = dry(keyhole, ["proxy", "--dry-run", "-p", prof,
	    "--allow-net"], tmp_path)
	assert rc == 0, (rc, out, err)
	assert "network: allowed" in lines(out), out
	assert "allow p.test" not in out, out
	assert "route github" not in out, out
