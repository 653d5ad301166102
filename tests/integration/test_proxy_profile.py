"""`keyhole proxy --profile FILE|NAME` serves what the profile says (SPEC
4.3, 4.5, 4.9, 5, 6, 8): route variables of profile credentials (built-in
and custom), the credential-upstream CONNECT block, the profile's
allow-list, the credentials three-state, and network.no_proxy."""

import json
import socket

import pytest

from conftest import (CA_VARS, CRED_REASON_CONNECT, CRED_REASON_FORWARD,
    HEX64, TLS_OFF, assert_no_sanitizer_report, assert_proxy_answer, auth_header, connect_status,
    connect_tunnel, read_response, recv_exact, start_proxy_raw)

PROXY_VARS = {"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy",
    "NO_PROXY", "no_proxy", "NODE_USE_ENV_PROXY", "KEYHOLE_PROXY_TOKEN"} | \
    CA_VARS

# Never contacted: keeps the proxy from asking DNS for the upstreams.
NO_DNS = ("--resolve", "mysvc.example:443:192.0.2.1",
    "--resolve", "mysvc.example:80:192.0.2.1",
    "--resolve", "gitlab.com:443:192.0.2.1",
    "--resolve", "svc2.example:443:192.0.2.1")

MYSVC = {"upstream": "https://mysvc.example",
    "credential_key": "env://MYSVC_SECRET", "env_var": "MYSVC_TOKEN"}


class Cfg:
	def __init__(self, tmp_path):
		self.root = tmp_path
		self.home = tmp_path / "home"
		self.xdg = tmp_path / "xdg"
		self.user_dir = self.xdg / "keyhole" / "profiles"
		self.home.mkdir()
		self.xdg.mkdir()
		self.env = {"HOME": str(self.home),
		    "XDG_CONFIG_HOME": str(self.xdg)}

	def user(self, name, doc):
		self.user_dir.mkdir(parents=True, exist_ok=True)
		p = self.user_dir / (name + ".json")
		p.write_text(json.dumps(doc))
		return str(p)

	def file(self, name, doc):
		p = self.root / name
		p.write_text(json.dumps(doc))
		return str(p)


@pytest.fixture
def cfg(tmp_path):
	return Cfg(tmp_path)


@pytest.fixture
def start(proxy, cfg):
	"""start(profile_path_or_name, *args, env=None): a proxy with the
	private HOME."""
	def run(profile, *args, env=None):
		e = dict(cfg.env)
		if env:
			e.update(env)
		return proxy("--profile", profile, *NO_DNS, *args, env=e)
	return run


def no_proxy_list(px):
	assert px.env["NO_PROXY"] == px.env["no_proxy"]
	return px.env["NO_PROXY"].split(",")


def route_vars(px):
	return [n for n in px.names if n not in PROXY_VARS]


def assert_cred_denied(px, authority, host, port=443):
	st, rs, h, body = connect_status(px, authority)
	assert_proxy_answer(st, rs, h, body, 403, CRED_REASON_CONNECT)
	recs = px.wait_audit(mode="connect", decision="deny", host=host)
	assert recs[-1]["reason"] == CRED_REASON_CONNECT, recs
	assert recs[-1]["port"] == port
	assert recs[-1]["status"] == 403


def echo_roundtrip(px, authority):
	s, st, rs, h, left = connect_tunnel(px, authority)
	with s:
		assert st == 200, (st, rs, px.stderr())
		s.sendall(b"ping\n")
		got, _ = recv_exact(s, 5, left)
		assert got == b"ping\n"


def creds_profile(cfg, name="p.json", **net):
	doc = {"network": {"credentials": ["gitlab", "mysvc"],
	    "custom_credentials": {"mysvc": dict(MYSVC)}}}
	doc["network"].update(net)
	return cfg.file(name, doc)


# --- route variables -------------------------------------------------------

def test_profile_builtin_credential_prints_its_variables(start, cfg):
	px = start(creds_profile(cfg))
	assert px.env["GITLAB_BASE_URL"] == \
	    "http://127.0.0.1:%d/gitlab" % px.port
	assert HEX64.match(px.env["GITLAB_TOKEN"]), px.env


def test_profile_custom_credential_prints_base_url_and_env_var(start, cfg):
	px = start(creds_profile(cfg))
	assert px.env["MYSVC_BASE_URL"] == "http://127.0.0.1:%d/mysvc" % px.port
	assert HEX64.match(px.env["MYSVC_TOKEN"]), px.env


def test_profile_routes_are_exactly_the_listed_credentials(start, cfg):
	px = start(creds_profile(cfg))
	assert sorted(route_vars(px)) == sorted(["GITLAB_BASE_URL",
	    "GITLAB_TOKEN", "MYSVC_BASE_URL", "MYSVC_TOKEN"]), px.names
	assert PROXY_VARS <= set(px.names)


def test_custom_credential_base_url_name_maps_dash_to_underscore(start,
    cfg):
	p = cfg.file("p.json", {"network": {"credentials": ["my-svc2"],
	    "custom_credentials": {"my-svc2": {
	        "upstream": "https://svc2.example/api",
	        "credential_key": "env://SVC2_SECRET",
	        "env_var": "SVC2_TOKEN"}}}})
	px = start(p)
	assert px.env["MY_SVC2_BASE_URL"] == \
	    "http://127.0.0.1:%d/my-svc2" % px.port
	assert HEX64.match(px.env["SVC2_TOKEN"])
	assert sorted(route_vars(px)) == ["MY_SVC2_BASE_URL", "SVC2_TOKEN"]


def test_custom_credential_without_env_var_uses_key_as_phantom_name(start,
    cfg):
	p = cfg.file("p.json", {"network": {"credentials": ["mysvc"],
	    "custom_credentials": {"mysvc": {
	        "upstream": "https://mysvc.example",
	        "credential_key": "MYSVC_KEY"}}}})
	px = start(p)
	assert px.env["MYSVC_BASE_URL"] == "http://127.0.0.1:%d/mysvc" % px.port
	assert HEX64.match(px.env["MYSVC_KEY"])


def test_profile_phantoms_are_distinct_from_token_and_each_other(start,
    cfg):
	px = start(creds_profile(cfg), env={"MYSVC_SECRET": "s3cret-value",
	    "GITLAB_TOKEN": "glpat-real"})
	vals = {px.token, px.env["GITLAB_TOKEN"], px.env["MYSVC_TOKEN"]}
	assert len(vals) == 3
	assert "s3cret-value" not in px.env.values()
	assert "glpat-real" not in px.env.values()


def test_custom_credential_defined_but_not_listed_has_no_route(start, cfg):
	p = cfg.file("p.json", {"network": {"allow_domain": ["api.test"],
	    "custom_credentials": {"mysvc": dict(MYSVC)}}})
	px = start(p)
	assert route_vars(px) == [], px.names
	st, rs, h, body = connect_status(px, "mysvc.example:443")
	assert_proxy_answer(st, rs, h, body, 403)
	assert b"credential upstream" not in body, body


def test_profile_credentials_add_to_command_line_credential(start, cfg):
	px = start(creds_profile(cfg), "--credential", "openai",
	    "--resolve", "api.openai.com:443:192.0.2.1")
	assert {"GITLAB_BASE_URL", "MYSVC_BASE_URL", "OPENAI_BASE_URL"} <= \
	    set(px.env)


def test_profile_by_name_from_user_dir(start, cfg):
	cfg.user("brokered", {"network": {"credentials": ["mysvc"],
	    "custom_credentials": {"mysvc": dict(MYSVC)}}})
	px = start("brokered")
	assert px.env["MYSVC_BASE_URL"] == "http://127.0.0.1:%d/mysvc" % px.port


def test_unknown_profile_credential_is_exit_1(keyhole, cfg):
	p = cfg.file("p.json", {"network": {"credentials": ["nosuchsvc"]}})
	rc, out, err = start_proxy_raw(keyhole, ["proxy", "--profile", p],
	    env=cfg.env)
	assert rc == 1, (rc, out, err)
	assert out == ""
	assert err.startswith("keyhole: ") and "'nosuchsvc'" in err, err


def test_invalid_profile_is_exit_1_with_no_listener(keyhole, cfg):
	p = cfg.file("p.json", {"network": {"custom_credentials": {"mysvc": {
	    "upstream": "http://mysvc.example", "credential_key": "K"}}}})
	rc, out, err = start_proxy_raw(keyhole, ["proxy", "--profile", p],
	    env=cfg.env)
	assert rc == 1, (rc, out, err)
	assert out == "", "printed variables for an invalid profile"
	assert "network.custom_credentials.mysvc.upstream" in err, err
	assert_no_sanitizer_report(err)


# --- the credential-upstream block (PR #518) --------------------------------

@pytest.mark.parametrize("authority", ["mysvc.example:443", "mysvc.example",
    "MYSVC.EXAMPLE.:443"])
def test_connect_to_custom_credential_upstream_is_403(start, cfg,
    authority):
	"""No MYSVC_SECRET: the route counts without its secret."""
	px = start(creds_profile(cfg), *TLS_OFF)
	assert_cred_denied(px, authority, "mysvc.example")


def test_connect_to_custom_upstream_is_403_with_secret_loaded(start, cfg):
	px = start(creds_profile(cfg), *TLS_OFF, env={"MYSVC_SECRET": "s3cret-value"})
	assert_cred_denied(px, "mysvc.example:443", "mysvc.example")


def test_connect_to_custom_upstream_is_403_even_when_allowed(start, cfg):
	px = start(creds_profile(cfg, allow_domain=["mysvc.example"]), *TLS_OFF)
	assert_cred_denied(px, "mysvc.example:443", "mysvc.example")


def test_connect_to_profile_builtin_credential_upstream_is_403(start, cfg):
	px = start(creds_profile(cfg), *TLS_OFF)
	assert_cred_denied(px, "gitlab.com:443", "gitlab.com")


def test_connect_to_custom_upstream_with_port_is_403(start, cfg):
	p = cfg.file("p.json", {"network": {"credentials": ["mysvc"],
	    "custom_credentials": {"mysvc": {
	        "upstream": "https://mysvc.example:8443/v1",
	        "credential_key": "env://MYSVC_SECRET",
	        "env_var": "MYSVC_TOKEN"}}}})
	px = start(p, *TLS_OFF, "--resolve", "mysvc.example:8443:192.0.2.1")
	assert_cred_denied(px, "mysvc.example:8443", "mysvc.example", 8443)


def test_forward_to_custom_credential_upstream_is_403(start, cfg):
	px = start(creds_profile(cfg))
	s = socket.create_connection(("127.0.0.1", px.port), timeout=3)
	with s:
		s.sendall(b"GET http://mysvc.example/x HTTP/1.1\r\n"
		    b"Host: mysvc.example\r\n" + auth_header(px.token) + b"\r\n")
		st, rs, h, body, _ = read_response(s)
	assert_proxy_answer(st, rs, h, body, 403, CRED_REASON_FORWARD)
	recs = px.wait_audit(mode="forward", decision="deny",
	    host="mysvc.example")
	assert recs[-1]["reason"] == CRED_REASON_FORWARD


def test_profile_route_serves_reverse_path(start, cfg, http_upstream):
	"""The profile's route answers on /mysvc/...: the phantom is swapped
	for the secret in the configured header and format."""
	p = cfg.file("p.json", {"network": {"credentials": ["mysvc"],
	    "custom_credentials": {"mysvc": {
	        "upstream": "http://127.0.0.1:%d/base" % http_upstream.port,
	        "credential_key": "env://MYSVC_SECRET",
	        "env_var": "MYSVC_TOKEN", "inject_header": "X-Svc-Key",
	        "credential_format": "Key {}"}}}})
	px = start(p, env={"MYSVC_SECRET": "s3cret-value"})
	s = socket.create_connection(("127.0.0.1", px.port), timeout=3)
	with s:
		s.sendall(b"GET /mysvc/v1/items HTTP/1.1\r\nHost: 127.0.0.1\r\n"
		    b"X-Svc-Key: %s\r\n\r\n" % px.env["MYSVC_TOKEN"].encode())
		st, rs, h, body, _ = read_response(s)
	assert st == 200, (st, body)
	req = http_upstream.requests[-1]
	assert req["path"] == "/base/v1/items"
	hdrs = {k.lower(): v for k, v in req["headers"]}
	assert hdrs.get("x-svc-key") == "Key s3cret-value", hdrs


def test_profile_route_without_secret_answers_503(start, cfg):
	px = start(creds_profile(cfg))
	s = socket.create_connection(("127.0.0.1", px.port), timeout=3)
	with s:
		s.sendall(b"GET /mysvc/v1 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
		    b"Authorization: Bearer %s\r\n\r\n"
		    % px.env["MYSVC_TOKEN"].encode())
		st, rs, h, body, _ = read_response(s)
	assert st == 503, (st, body)
	assert json.loads(body) == {"error": "credential unavailable"}


# --- allow_domain ----------------------------------------------------------

def test_profile_allow_domain_allows_exactly_those(start, cfg, tcp_echo):
	p = tcp_echo.port
	prof = cfg.file("p.json", {"network": {"allow_domain": [
	    "api.test:%d" % p, "db.test:%d" % p]}})
	px = start(prof, *[a for h in ("api.test", "db.test", "other.test",
	    "sub.api.test") for a in ("--resolve", "%s:%d:127.0.0.1" % (h, p))])
	echo_roundtrip(px, "api.test:%d" % p)
	echo_roundtrip(px, "db.test:%d" % p)
	for bad in ("other.test:%d" % p, "sub.api.test:%d" % p):
		st, rs, h, body = connect_status(px, bad)
		assert_proxy_answer(st, rs, h, body, 403, "not in allow-list")
		rec = px.wait_audit(mode="connect", decision="deny",
		    host=bad.split(":")[0])[-1]
		assert rec["reason"] == "not in allow-list", rec
	assert route_vars(px) == []


def test_profile_allow_domain_port_entries_are_direct_grants(start, cfg):
	prof = cfg.file("p.json", {"network": {"allow_domain": [
	    "db.test:5432", "api.test"]}})
	px = start(prof, "--resolve", "db.test:5432:192.0.2.1")
	lst = no_proxy_list(px)
	assert "db.test" in lst, lst
	assert "api.test" not in lst, lst


def test_profile_allow_domain_host_entry_is_443_only(start, cfg, tcp_echo):
	p = tcp_echo.port
	prof = cfg.file("p.json", {"network": {"allow_domain": ["api.test"]}})
	px = start(prof, "--resolve", "api.test:%d:127.0.0.1" % p)
	st, rs, h, body = connect_status(px, "api.test:%d" % p)
	assert_proxy_answer(st, rs, h, body, 403, "not in allow-list")


def test_profile_allow_domain_adds_to_command_line(start, cfg, tcp_echo):
	p = tcp_echo.port
	prof = cfg.file("p.json", {"network": {"allow_domain": [
	    "api.test:%d" % p]}})
	px = start(prof, "--allow-domain", "db.test:%d" % p,
	    "--resolve", "api.test:%d:127.0.0.1" % p,
	    "--resolve", "db.test:%d:127.0.0.1" % p,
	    "--resolve", "other.test:%d:127.0.0.1" % p)
	echo_roundtrip(px, "api.test:%d" % p)
	echo_roundtrip(px, "db.test:%d" % p)
	st, rs, h, body = connect_status(px, "other.test:%d" % p)
	assert_proxy_answer(st, rs, h, body, 403, "not in allow-list")


def test_profile_allow_domain_from_base_profile(start, cfg, tcp_echo):
	p = tcp_echo.port
	cfg.user("netbase", {"network": {"allow_domain": ["api.test:%d" % p]}})
	prof = cfg.file("child.json", {"extends": "netbase",
	    "network": {"allow_domain": ["db.test:%d" % p]}})
	px = start(prof, "--resolve", "api.test:%d:127.0.0.1" % p,
	    "--resolve", "db.test:%d:127.0.0.1" % p)
	echo_roundtrip(px, "api.test:%d" % p)
	echo_roundtrip(px, "db.test:%d" % p)


# --- credentials three-state over a base ------------------------------------

def base_with_creds(cfg):
	cfg.user("credbase", {"network": {"credentials": ["gitlab", "mysvc"],
	    "custom_credentials": {"mysvc": dict(MYSVC)}}})


def test_child_clearing_credentials_starts_with_no_routes(start, cfg):
	base_with_creds(cfg)
	prof = cfg.file("child.json", {"extends": "credbase",
	    "network": {"credentials": []}})
	px = start(prof)
	assert route_vars(px) == [], px.names
	assert not [n for n in px.names if n.endswith("_BASE_URL")]
	assert set(px.names) == PROXY_VARS - CA_VARS  # no route: no CA


def test_child_clearing_credentials_lifts_the_connect_block(start, cfg,
    tcp_echo):
	"""No route, no credential upstream: the base's upstream is an
	ordinary allowed host again; under the base itself it is blocked."""
	port = tcp_echo.port
	cfg.user("echobase", {"network": {"credentials": ["echosvc"],
	    "allow_domain": ["echo.test:%d" % port],
	    "custom_credentials": {"echosvc": {
	        "upstream": "https://echo.test:%d" % port,
	        "credential_key": "env://ECHO_SECRET",
	        "env_var": "ECHO_TOKEN"}}}})
	res = ("--resolve", "echo.test:%d:127.0.0.1" % port)
	px = start("echobase", *TLS_OFF, *res)
	assert_cred_denied(px, "echo.test:%d" % port, "echo.test", port)
	prof = cfg.file("child.json", {"extends": "echobase",
	    "network": {"credentials": []}})
	px = start(prof, *TLS_OFF, *res)
	assert route_vars(px) == [], px.names
	echo_roundtrip(px, "echo.test:%d" % port)


def test_child_without_credentials_inherits_routes(start, cfg):
	base_with_creds(cfg)
	prof = cfg.file("child.json", {"extends": "credbase",
	    "network": {"credentials": None}})
	px = start(prof, *TLS_OFF)
	assert {"GITLAB_BASE_URL", "MYSVC_BASE_URL"} <= set(px.env)
	assert_cred_denied(px, "mysvc.example:443", "mysvc.example")


def test_child_credential_list_adds_to_base_routes(start, cfg):
	base_with_creds(cfg)
	prof = cfg.file("child.json", {"extends": "credbase",
	    "network": {"credentials": ["github"]}})
	px = start(prof, "--resolve", "api.github.com:443:192.0.2.1")
	assert {"GITLAB_BASE_URL", "MYSVC_BASE_URL", "GITHUB_API_URL"} <= \
	    set(px.env)


def test_child_clearing_credentials_then_cli_credential(start, cfg):
	base_with_creds(cfg)
	prof = cfg.file("child.json", {"extends": "credbase",
	    "network": {"credentials": []}})
	px = start(prof, "--credential", "openai",
	    "--resolve", "api.openai.com:443:192.0.2.1")
	# CODEX_API_KEY: the phantom under the name Codex reads (SPEC §6).
	assert sorted(route_vars(px)) == ["CODEX_API_KEY", "OPENAI_API_KEY",
	    "OPENAI_BASE_URL"]


# --- network.no_proxy ------------------------------------------------------

def test_profile_no_proxy_entries_follow_loopback_names(start, cfg):
	prof = cfg.file("p.json", {"network": {"allow_domain": ["api.test"],
	    "no_proxy": ["internal.corp", "10.1.2.3", "other.example"]}})
	px = start(prof)
	assert no_proxy_list(px) == ["localhost", "127.0.0.1", "::1",
	    "internal.corp", "10.1.2.3", "other.example"]
	assert "NO_PROXY" not in px.stderr()


def test_profile_no_proxy_keeps_unrelated_entries_with_routes(start, cfg):
	prof = creds_profile(cfg, no_proxy=["internal.corp", "xmysvc.example",
	    "sub.mysvc.example"])
	px = start(prof)
	lst = no_proxy_list(px)
	for e in ("internal.corp", "xmysvc.example", "sub.mysvc.example"):
		assert e in lst, lst


@pytest.mark.parametrize("entry", ["mysvc.example", "example", ".example",
    "*.example", "MYSVC.EXAMPLE", "mysvc.example:443", "gitlab.com",
    "com", "*"])
def test_profile_no_proxy_parent_of_credential_upstream_is_dropped(start,
    cfg, entry):
	prof = creds_profile(cfg, no_proxy=[entry, "keep.corp"])
	px = start(prof)
	lst = no_proxy_list(px)
	assert entry not in lst, lst
	assert "keep.corp" in lst, lst
	assert "mysvc.example" not in lst and "gitlab.com" not in lst
	px.wait_stderr("NO_PROXY: dropping '%s'" % entry)


def test_profile_no_proxy_parent_of_inherited_route_is_dropped(start, cfg):
	base_with_creds(cfg)
	prof = cfg.file("child.json", {"extends": "credbase",
	    "network": {"no_proxy": ["gitlab.com", "keep.corp"]}})
	px = start(prof)
	lst = no_proxy_list(px)
	assert "gitlab.com" not in lst
	assert "keep.corp" in lst


def test_profile_no_proxy_kept_when_child_clears_credentials(start, cfg):
	"""With the routes cleared, gitlab.com is no credential upstream."""
	base_with_creds(cfg)
	prof = cfg.file("child.json", {"extends": "credbase",
	    "network": {"credentials": [], "no_proxy": ["gitlab.com",
	        "mysvc.example"]}})
	px = start(prof)
	lst = no_proxy_list(px)
	assert "gitlab.com" in lst, lst
	assert "mysvc.example" in lst, lst
	assert "dropping" not in px.stderr()


def test_profile_no_proxy_merges_base_and_child(start, cfg):
	cfg.user("npbase", {"network": {"allow_domain": ["api.test"],
	    "no_proxy": ["a.corp", "b.corp"]}})
	prof = cfg.file("child.json", {"extends": "npbase",
	    "network": {"no_proxy": ["b.corp", "c.corp"]}})
	px = start(prof)
	assert no_proxy_list(px)[3:] == ["a.corp", "b.corp", "c.corp"]
