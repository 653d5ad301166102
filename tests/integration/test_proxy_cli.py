"""keyhole's command line and `keyhole proxy` start-up output (SPEC 2, 4.9,
6)."""

import re
import signal
import socket
import time

from conftest import (ANTHROPIC_PHANTOM, CA_VARS, HEX64, OPENAI,
    OPENAI_PHANTOM, connect_tunnel,
    free_port_number,
    recv_exact, recv_until_eof, start_proxy_raw)

PROXY_VARS = ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy",
    "NO_PROXY", "no_proxy", "NODE_USE_ENV_PROXY", "KEYHOLE_PROXY_TOKEN"]


def no_proxy_list(px):
	return px.env["NO_PROXY"].split(",")


def test_version_prints_name_and_version(keyhole):
	rc, out, err = start_proxy_raw(keyhole, ["--version"])
	assert rc == 0, err
	assert re.match(r"^keyhole \S+\n?$", out), out


def test_help_exits_0(keyhole):
	rc, out, err = start_proxy_raw(keyhole, ["help"])
	assert rc == 0, err
	assert "proxy" in out + err


def test_proxy_help_mentions_allow_domain(keyhole):
	rc, out, err = start_proxy_raw(keyhole, ["proxy", "--help"])
	assert rc == 0, err
	assert "--allow-domain" in out + err


def test_unknown_option_is_usage_error_exit_2(keyhole):
	rc, out, err = start_proxy_raw(keyhole, ["proxy", "--no-such-option"])
	assert rc == 2, (rc, err)
	assert err.startswith("error: "), err
	assert "--no-such-option" in err
	assert out == ""


def test_unknown_top_level_option_is_usage_error_exit_2(keyhole):
	rc, out, err = start_proxy_raw(keyhole, ["--no-such-option"])
	assert rc == 2, (rc, err)
	assert err.startswith("error: "), err


def test_proxy_port_in_use_is_runtime_error_exit_1(keyhole, tmp_path):
	s = socket.socket()
	s.bind(("127.0.0.1", 0))
	s.listen(1)
	port = s.getsockname()[1]
	try:
		rc, out, err = start_proxy_raw(keyhole, ["proxy", "--audit-log",
		    tmp_path / "a.jsonl", "--proxy-port", port])
	finally:
		s.close()
	assert rc == 1, (rc, err)
	assert err.startswith("keyhole: "), err
	assert str(port) in err
	assert "HTTP_PROXY" not in out


def test_proxy_port_option_sets_listen_port(proxy):
	port = free_port_number()
	px = proxy("--proxy-port", port)
	assert px.port == port


def test_env_has_every_proxy_variable_then_route_variables(proxy):
	px = proxy(*OPENAI)
	assert sorted(px.names[:8]) == sorted(PROXY_VARS), px.names
	# CODEX_API_KEY: the same phantom where Codex looks (SPEC 6).
	assert sorted(px.names[8:11]) == ["CODEX_API_KEY", "OPENAI_API_KEY",
	    "OPENAI_BASE_URL"], px.names
	# Then the interception CA's bundle (SPEC 4.12).
	assert set(px.names[11:]) == CA_VARS, px.names
	assert len(set(px.names)) == len(px.names), "duplicate variable"


def test_proxy_urls_carry_token_and_port(proxy):
	px = proxy()
	token = px.env["KEYHOLE_PROXY_TOKEN"]
	assert HEX64.match(token), token
	want = "http://keyhole:%s@127.0.0.1:%d" % (token, px.port)
	for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
		assert px.env[name] == want, name


def test_node_use_env_proxy_is_1(proxy):
	assert proxy().env["NODE_USE_ENV_PROXY"] == "1"


def test_no_proxy_starts_with_loopback_names(proxy):
	px = proxy()
	assert px.env["NO_PROXY"] == px.env["no_proxy"]
	assert px.env["NO_PROXY"].startswith("localhost,127.0.0.1,::1")
	assert no_proxy_list(px)[:3] == ["localhost", "127.0.0.1", "::1"]


def test_listener_accepts_on_printed_port(proxy):
	px = proxy()
	s = socket.create_connection(("127.0.0.1", px.port), timeout=2)
	s.close()


def test_two_runs_give_different_tokens(proxy):
	a = proxy(*OPENAI)
	b = proxy(*OPENAI)
	assert a.token != b.token
	assert a.env["OPENAI_API_KEY"] != b.env["OPENAI_API_KEY"]


def test_credential_route_prints_base_url_and_phantom(proxy):
	px = proxy(*OPENAI)
	assert px.env["OPENAI_BASE_URL"] == \
	    "http://127.0.0.1:%d/openai" % px.port
	phantom = px.env["OPENAI_API_KEY"]
	# Shaped like an OpenAI key: clients check the prefix (SPEC 4.12).
	assert OPENAI_PHANTOM.match(phantom), phantom
	assert phantom != px.token


def test_each_route_has_its_own_phantom(proxy):
	px = proxy(*OPENAI, "--credential", "anthropic",
	    "--resolve", "api.anthropic.com:443:127.0.0.1")
	assert px.env["ANTHROPIC_BASE_URL"] == \
	    "http://127.0.0.1:%d/anthropic" % px.port
	a, o = px.env["ANTHROPIC_API_KEY"], px.env["OPENAI_API_KEY"]
	assert ANTHROPIC_PHANTOM.match(a) and OPENAI_PHANTOM.match(o)
	assert len({a, o, px.token}) == 3


def test_direct_grant_host_is_in_no_proxy_without_port(proxy):
	px = proxy("--allow-domain", "db.test:5432",
	    "--resolve", "db.test:5432:127.0.0.1")
	lst = no_proxy_list(px)
	assert "db.test" in lst, lst
	assert "db.test:5432" not in lst


def test_ipv6_direct_grant_keeps_brackets_in_no_proxy(proxy):
	px = proxy("--allow-domain", "[::1]:9000")
	lst = no_proxy_list(px)
	assert "[::1]" in lst, lst
	assert "[::1]:9000" not in lst


def test_ipv6_direct_grant_of_other_address_keeps_brackets(proxy):
	px = proxy("--allow-domain", "[fd00::5]:9000")
	lst = no_proxy_list(px)
	assert "[fd00::5]" in lst, lst
	assert "fd00::5" not in lst


def test_bare_host_entry_is_not_in_no_proxy(proxy):
	px = proxy("--allow-domain", "example.com")
	assert "example.com" not in no_proxy_list(px)
	assert "example.com" not in px.env["NO_PROXY"]


def test_parent_of_credential_upstream_is_kept_out_of_no_proxy(proxy):
	px = proxy("--credential", "github", "--allow-domain", "github.com:8443",
	    "--resolve", "github.com:8443:127.0.0.1",
	    "--resolve", "api.github.com:443:127.0.0.1")
	lst = no_proxy_list(px)
	assert "github.com" not in lst, lst
	assert "api.github.com" not in lst, lst
	assert "github.com" in px.stderr(), "no warning naming github.com"


def test_credential_upstream_is_kept_out_of_no_proxy(proxy):
	px = proxy(*OPENAI, "--allow-domain", "api.openai.com:443",
	    "--allow-domain", "db.test:5432",
	    "--resolve", "db.test:5432:127.0.0.1")
	lst = no_proxy_list(px)
	assert "api.openai.com" not in lst, lst
	assert "db.test" in lst, lst


def test_allow_domain_url_with_path_is_refused(keyhole, tmp_path):
	rc, out, err = start_proxy_raw(keyhole, ["proxy", "--audit-log",
	    tmp_path / "a.jsonl", "--allow-domain", "https://api.test/v1"])
	assert rc in (1, 2), (rc, err)
	assert "https://api.test/v1" in err, err
	assert "HTTP_PROXY" not in out


def test_sigterm_exits_0(proxy):
	px = proxy()
	t = time.monotonic()
	px.stop(signal.SIGTERM, timeout=2)
	assert time.monotonic() - t < 2


def test_sigint_exits_0(proxy):
	px = proxy()
	px.stop(signal.SIGINT, timeout=2)


def test_sigterm_with_open_tunnel_exits_0_and_closes_it(proxy, tcp_echo):
	px = proxy("--allow-domain", "api.test:%d" % tcp_echo.port,
	    "--resolve", "api.test:%d:127.0.0.1" % tcp_echo.port)
	s, status, _, _, left = connect_tunnel(px, "api.test:%d" %
	    tcp_echo.port)
	try:
		assert status == 200
		s.sendall(b"ping")
		got, left = recv_exact(s, 4, left)
		assert got == b"ping"
		px.stop(signal.SIGTERM, timeout=2)
		# The client side of the tunnel ends too.
		recv_until_eof(s, left, timeout=2)
	finally:
		s.close()


def test_sigterm_with_idle_client_exits_0(proxy):
	px = proxy()
	s = socket.create_connection(("127.0.0.1", px.port), timeout=2)
	try:
		s.sendall(b"CONNECT api.test:443 HTTP/1.1\r\n")	# half a head
		time.sleep(0.1)
		px.stop(signal.SIGTERM, timeout=2)
	finally:
		s.close()
