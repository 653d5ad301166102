"""`keyhole why --host URL_OR_HOST[:PORT]` (SPEC 2, 3, 4.3, 4.5, 5): the
network mode, credential routes, the allow-list and its direct grants,
as text and as --json.  `why` never touches the network."""

import json

import pytest

from conftest import assert_no_sanitizer_report, start_proxy_raw


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


def kh(keyhole, cfg, *args):
	rc, out, err = start_proxy_raw(keyhole, args, timeout=20, env=cfg.env)
	assert_no_sanitizer_report(err)
	return rc, out, err


def why_text(keyhole, cfg, host, *opts):
	"""`why --host HOST OPTS` as text: (first line, {field: value})."""
	rc, out, err = kh(keyhole, cfg, "why", "--host", host, *opts)
	assert rc == 0, "rc %d: %s" % (rc, err)
	lines = out.splitlines()
	assert lines and lines[0] in ("ALLOWED", "DENIED"), out
	fields = {}
	for l in lines[1:]:
		assert l.startswith("  "), out
		k, sep, v = l.strip().partition(": ")
		assert sep, out
		fields[k] = v
	assert "Reason" in fields and "Details" in fields, out
	return lines[0], fields


def why_json(keyhole, cfg, host, *opts):
	rc, out, err = kh(keyhole, cfg, "why", "--host", host, "--json", *opts)
	assert rc == 0, "rc %d: %s" % (rc, err)
	d = json.loads(out)
	assert d["status"] in ("allowed", "denied"), d
	assert isinstance(d["reason"], str) and d["reason"], d
	assert isinstance(d["details"], str) and d["details"], d
	return d


# --- allow-list ------------------------------------------------------------

def test_why_host_in_allow_list_is_allowed_through_proxy(keyhole, cfg):
	st, f = why_text(keyhole, cfg, "api.example.com",
	    "--allow-domain", "api.example.com")
	assert st == "ALLOWED"
	assert f["Reason"] == "proxy_allowed"
	assert "api.example.com:443" in f["Details"]
	assert "through the proxy" in f["Details"]
	assert f["Granted by"] == "api.example.com"


def test_why_host_port_entry_is_direct_grant(keyhole, cfg):
	st, f = why_text(keyhole, cfg, "db.example.com:5432",
	    "--allow-domain", "db.example.com:5432")
	assert st == "ALLOWED"
	assert f["Reason"] == "direct_grant"
	assert "db.example.com:5432" in f["Details"]
	assert "directly" in f["Details"]
	assert f["Granted by"] == "db.example.com:5432"


def test_why_host_port_entry_does_not_allow_other_ports(keyhole, cfg):
	st, f = why_text(keyhole, cfg, "db.example.com",
	    "--allow-domain", "db.example.com:5432")
	assert st == "DENIED"
	assert f["Reason"] == "not_in_allow_list"


def test_why_host_bare_entry_is_not_a_direct_grant_on_443(keyhole, cfg):
	d = why_json(keyhole, cfg, "api.example.com:443",
	    "--allow-domain", "api.example.com")
	assert d["reason"] == "proxy_allowed"


def test_why_host_bare_entry_does_not_allow_other_ports(keyhole, cfg):
	d = why_json(keyhole, cfg, "api.example.com:8443",
	    "--allow-domain", "api.example.com")
	assert d["status"] == "denied"
	assert d["reason"] == "not_in_allow_list"


def test_why_host_not_in_list_is_denied_with_suggestion(keyhole, cfg):
	st, f = why_text(keyhole, cfg, "evil.example",
	    "--allow-domain", "api.example.com")
	assert st == "DENIED"
	assert f["Reason"] == "not_in_allow_list"
	assert "evil.example:443" in f["Details"]
	assert f["Suggested fix"] == "--allow-domain evil.example"


def test_why_host_not_in_list_suggestion_names_the_port(keyhole, cfg):
	"""The suggested flag should work when pasted: the port is known."""
	d = why_json(keyhole, cfg, "evil.example:8443",
	    "--allow-domain", "api.example.com")
	assert d["status"] == "denied"
	assert d["reason"] == "not_in_allow_list"
	assert d["suggested_flag"] == "--allow-domain evil.example:8443"


def test_why_host_wildcard_matches_subdomain_not_apex(keyhole, cfg):
	d = why_json(keyhole, cfg, "a.example.com",
	    "--allow-domain", "*.example.com")
	assert d["status"] == "allowed"
	assert d["granted_by"] == "*.example.com"
	d = why_json(keyhole, cfg, "example.com",
	    "--allow-domain", "*.example.com")
	assert d["status"] == "denied"
	assert d["reason"] == "not_in_allow_list"


def test_why_host_match_ignores_case_and_trailing_dot(keyhole, cfg):
	d = why_json(keyhole, cfg, "API.Example.COM.",
	    "--allow-domain", "api.example.com")
	assert d["status"] == "allowed"
	assert d["reason"] == "proxy_allowed"


def test_why_host_network_group_entry(keyhole, cfg):
	d = why_json(keyhole, cfg, "api.github.com",
	    "--allow-domain", "github")
	assert d["status"] == "allowed", d
	assert d["granted_by"] == "github"


def test_why_host_empty_allow_list_with_credential_allows_any(keyhole,
    cfg):
	d = why_json(keyhole, cfg, "anything.example",
	    "--credential", "openai")
	assert d["status"] == "allowed"
	assert d["reason"] == "proxy_allowed"
	assert "any host" in d["details"]


# --- URL forms -------------------------------------------------------------

@pytest.mark.parametrize("target", ["https://api.example.com/v1",
    "https://api.example.com", "https://api.example.com/",
    "HTTPS://API.EXAMPLE.COM/v1/chat?x=1#f", "https://api.example.com:443/v1",
    "api.example.com:443", "api.example.com/v1"])
def test_why_host_https_url_forms(keyhole, cfg, target):
	d = why_json(keyhole, cfg, target, "--allow-domain", "api.example.com")
	assert d["status"] == "allowed", d
	assert d["reason"] == "proxy_allowed"
	assert "api.example.com:443" in d["details"]


def test_why_host_http_url_uses_port_80(keyhole, cfg):
	d = why_json(keyhole, cfg, "http://api.example.com/v1",
	    "--allow-domain", "api.example.com")
	assert d["status"] == "allowed"
	assert "api.example.com:80" in d["details"]


def test_why_host_url_with_port_matches_port_entry(keyhole, cfg):
	d = why_json(keyhole, cfg, "http://db.example.com:8080/x",
	    "--allow-domain", "db.example.com:8080")
	assert d["reason"] == "direct_grant"
	assert "db.example.com:8080" in d["details"]


def test_why_host_https_entry_does_not_cover_port_80(keyhole, cfg):
	d = why_json(keyhole, cfg, "http://api.example.com/",
	    "--allow-domain", "https://api.example.com")
	assert d["status"] == "denied"
	assert d["reason"] == "not_in_allow_list"


def test_why_host_ipv6_direct_grant(keyhole, cfg):
	d = why_json(keyhole, cfg, "[2001:db8::1]:8080",
	    "--allow-domain", "[2001:db8::1]:8080")
	assert d["status"] == "allowed"
	assert d["reason"] == "direct_grant"


def test_why_host_ipv6_details_bracket_the_address(keyhole, cfg):
	"""'2001:db8::1:8080' reads as one address; host:port needs
	brackets."""
	d = why_json(keyhole, cfg, "[2001:db8::1]:8080",
	    "--allow-domain", "[2001:db8::1]:8080")
	assert "[2001:db8::1]:8080" in d["details"].replace(
	    "([2001:db8::1]:8080)", ""), d["details"]


def test_why_host_unreadable_target_is_exit_1(keyhole, cfg):
	rc, out, err = kh(keyhole, cfg, "why", "--host", "https://",
	    "--allow-domain", "api.example.com")
	assert rc == 1, (rc, out, err)
	assert out == ""
	assert err.startswith("keyhole: "), err
	assert "'https://'" in err


def test_why_host_without_value_is_usage_error(keyhole, cfg):
	rc, out, err = kh(keyhole, cfg, "why", "--host")
	assert rc == 2, (rc, err)
	assert err.startswith("error: "), err


def test_why_with_host_and_path_is_usage_error(keyhole, cfg):
	rc, out, err = kh(keyhole, cfg, "why", "--host", "a.example",
	    "--path", "/tmp")
	assert rc == 2, (rc, err)
	assert err.startswith("error: "), err


# --- credential routes -----------------------------------------------------

def test_why_host_credential_upstream_is_credential_route(keyhole, cfg):
	st, f = why_text(keyhole, cfg, "api.openai.com",
	    "--credential", "openai", "--tls-intercept", "off")
	assert st == "DENIED"
	assert f["Reason"] == "credential_route"
	assert "CONNECT is refused" in f["Details"]
	assert "reverse path" in f["Details"]
	assert "/openai" in f["Details"]
	assert "OPENAI_BASE_URL" in f["Details"]
	assert "Suggested fix" not in f


def test_why_host_credential_upstream_is_intercepted_by_default(keyhole,
    cfg):
	st, f = why_text(keyhole, cfg, "api.openai.com",
	    "--credential", "openai")
	assert st == "ALLOWED"
	assert f["Reason"] == "credential_intercepted"
	assert "CONNECT is intercepted" in f["Details"]
	assert "SSL_CERT_FILE" in f["Details"]
	assert "OPENAI_BASE_URL" in f["Details"]


def test_why_host_credential_upstream_forward_is_refused_when_intercepting(
    keyhole, cfg):
	d = why_json(keyhole, cfg, "http://api.openai.com/v1/models",
	    "--credential", "openai")
	assert d["status"] == "denied"
	assert d["reason"] == "credential_route"
	assert "forwarding is refused" in d["details"]


def test_why_host_credential_upstream_json(keyhole, cfg):
	d = why_json(keyhole, cfg, "https://api.openai.com/v1/chat/completions",
	    "--credential", "openai", "--tls-intercept", "off")
	assert d["status"] == "denied"
	assert d["reason"] == "credential_route"
	assert d["granted_by"] == "openai"
	assert "reverse path" in d["details"]


def test_why_host_credential_upstream_json_intercepted(keyhole, cfg):
	d = why_json(keyhole, cfg, "https://api.openai.com/v1/chat/completions",
	    "--credential", "openai")
	assert d["status"] == "allowed"
	assert d["reason"] == "credential_intercepted"
	assert d["granted_by"] == "openai"


def test_why_host_credential_upstream_denied_even_when_allowed(keyhole,
    cfg):
	d = why_json(keyhole, cfg, "api.openai.com", "--credential", "openai",
	    "--allow-domain", "api.openai.com", "--tls-intercept", "off")
	assert d["status"] == "denied"
	assert d["reason"] == "credential_route"


def test_why_host_credential_upstream_case_and_dot(keyhole, cfg):
	d = why_json(keyhole, cfg, "API.OPENAI.COM.", "--credential", "openai")
	assert d["reason"] == "credential_intercepted"
	d = why_json(keyhole, cfg, "API.OPENAI.COM.", "--credential", "openai",
	    "--tls-intercept", "off")
	assert d["reason"] == "credential_route"


def test_why_host_credential_upstream_other_port_is_not_a_route(keyhole,
    cfg):
	"""SPEC 4.5: the block is for the upstream's host:port (default 443);
	the proxy lets CONNECT api.openai.com:8443 through an empty
	allow-list, so `why` must not say credential_route."""
	d = why_json(keyhole, cfg, "api.openai.com:8443",
	    "--credential", "openai")
	assert d["reason"] != "credential_route", d
	assert d["status"] == "allowed", d


def test_why_host_other_host_with_credential_and_list_is_denied(keyhole,
    cfg):
	d = why_json(keyhole, cfg, "evil.example", "--credential", "openai",
	    "--allow-domain", "api.example.com")
	assert d["status"] == "denied"
	assert d["reason"] == "not_in_allow_list"


# --- network modes ---------------------------------------------------------

def test_why_host_block_net_is_network_blocked(keyhole, cfg):
	st, f = why_text(keyhole, cfg, "api.example.com", "--block-net")
	assert st == "DENIED"
	assert f["Reason"] == "network_blocked"
	assert "blocked" in f["Details"]


def test_why_host_block_net_beats_allow_domain(keyhole, cfg):
	d = why_json(keyhole, cfg, "api.example.com", "--block-net",
	    "--allow-domain", "api.example.com")
	assert d["status"] == "denied"
	assert d["reason"] == "network_blocked"


def test_why_host_no_options_network_allowed(keyhole, cfg):
	st, f = why_text(keyhole, cfg, "api.example.com")
	assert st == "ALLOWED"
	assert f["Reason"] == "network_allowed"
	assert "unrestricted" in f["Details"]


def test_why_host_allow_net_network_allowed(keyhole, cfg):
	d = why_json(keyhole, cfg, "api.example.com", "--allow-net")
	assert d["status"] == "allowed"
	assert d["reason"] == "network_allowed"


@pytest.mark.parametrize("host", ["169.254.169.254",
    "metadata.google.internal"])
def test_why_host_cloud_metadata_always_denied(keyhole, cfg, host):
	d = why_json(keyhole, cfg, host, "--allow-domain", host)
	assert d["status"] == "denied"
	assert d["reason"] == "cloud_metadata"


# --- --json ----------------------------------------------------------------

@pytest.mark.parametrize("opts,status,reason", [
    (("--allow-domain", "api.example.com"), "allowed", "proxy_allowed"),
    (("--allow-domain", "api.example.com:8443"), "denied",
        "not_in_allow_list"),
    (("--block-net",), "denied", "network_blocked"),
    ((), "allowed", "network_allowed"),
])
def test_why_host_json_has_status_and_reason(keyhole, cfg, opts, status,
    reason):
	d = why_json(keyhole, cfg, "api.example.com", *opts)
	assert d["status"] == status
	assert d["reason"] == reason


def test_why_host_json_denied_has_suggested_flag(keyhole, cfg):
	d = why_json(keyhole, cfg, "evil.example",
	    "--allow-domain", "api.example.com")
	assert d["suggested_flag"] == "--allow-domain evil.example"


# --- profiles --------------------------------------------------------------

def test_why_host_uses_profile_allow_domain(keyhole, cfg):
	p = cfg.file("p.json", {"network": {"allow_domain": [
	    "api.example.com", "db.example.com:5432"]}})
	d = why_json(keyhole, cfg, "api.example.com", "--profile", p)
	assert d["reason"] == "proxy_allowed"
	d = why_json(keyhole, cfg, "db.example.com:5432", "--profile", p)
	assert d["reason"] == "direct_grant"
	d = why_json(keyhole, cfg, "other.example", "--profile", p)
	assert d["reason"] == "not_in_allow_list"


def test_why_host_uses_profile_custom_credential(keyhole, cfg):
	p = cfg.file("p.json", {"network": {"credentials": ["my-svc"],
	    "custom_credentials": {"my-svc": {
	        "upstream": "https://mysvc.example/api",
	        "credential_key": "MYSVC_KEY"}}}})
	d = why_json(keyhole, cfg, "https://mysvc.example/api/x",
	    "--profile", p)
	assert d["status"] == "allowed"
	assert d["reason"] == "credential_intercepted"
	assert d["granted_by"] == "my-svc"
	assert "MY_SVC_BASE_URL" in d["details"]


def test_why_host_profile_by_name_from_user_dir(keyhole, cfg):
	cfg.user("webby", {"network": {"allow_domain": ["api.example.com"]}})
	d = why_json(keyhole, cfg, "api.example.com", "--profile", "webby")
	assert d["reason"] == "proxy_allowed"


def test_why_host_child_clearing_credentials_has_no_route(keyhole, cfg):
	cfg.user("cbase", {"network": {"credentials": ["gitlab"]}})
	p = cfg.file("child.json", {"extends": "cbase",
	    "network": {"credentials": [],
	        "allow_domain": ["api.example.com"]}})
	d = why_json(keyhole, cfg, "gitlab.com", "--profile", p)
	assert d["reason"] == "not_in_allow_list", d
	# and the base alone has the route
	d = why_json(keyhole, cfg, "gitlab.com", "--profile", "cbase")
	assert d["reason"] == "credential_intercepted", d


def test_why_host_profile_block_is_network_blocked(keyhole, cfg):
	p = cfg.file("p.json", {"network": {"block": True}})
	d = why_json(keyhole, cfg, "api.example.com", "--profile", p)
	assert d["reason"] == "network_blocked"
