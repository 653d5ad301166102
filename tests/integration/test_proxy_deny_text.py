"""What a 403 from the proxy says (SPEC 4.11): one line naming keyhole's
policy, the request, the rule that denied it and the flag and profile key
that would allow it, or that nothing does (cloud metadata), and that it
is not a network error to retry around.  The audit reason stays the
short rule (SPEC 4.8)."""

from conftest import (CRED_REASON_CONNECT, assert_proxy_answer,
    connect_status)

TAIL = ". This is a policy decision, not a network error: do not retry " \
    "it another way\n"


def test_connect_403_names_keyhole_the_rule_and_the_allowing_flag(proxy):
	px = proxy("--allow-domain", "api.test")
	st, rs, h, body = connect_status(px, "evil.test:443")
	assert_proxy_answer(st, rs, h, body, 403)
	assert body.decode() == ("keyhole's sandbox policy denied CONNECT "
	    "evil.test:443: not in allow-list; to allow it: --allow-domain "
	    "evil.test (profile: network.allow_domain)" + TAIL)
	rec = px.wait_audit(mode="connect", decision="deny")[-1]
	assert rec["reason"] == "not in allow-list", rec


def test_connect_403_on_another_port_names_host_and_port(proxy):
	px = proxy("--allow-domain", "api.test")
	st, rs, h, body = connect_status(px, "evil.test:8443")
	assert_proxy_answer(st, rs, h, body, 403,
	    "; to allow it: --allow-domain evil.test:8443 (profile: "
	    "network.allow_domain)" + TAIL.rstrip("\n"))


def test_metadata_403_suggests_nothing(proxy):
	px = proxy("--allow-domain", "api.test")
	st, rs, h, body = connect_status(px, "metadata.google.internal:80")
	assert_proxy_answer(st, rs, h, body, 403)
	text = body.decode()
	assert text.startswith("keyhole's sandbox policy denied CONNECT "
	    "metadata.google.internal:80: "), text
	assert "nothing allows this: cloud metadata addresses are always " \
	    "denied" in text, text
	assert "--" not in text, text


def test_credential_upstream_403_points_at_the_route(proxy):
	# --tls-intercept off: the CONNECT is refused, not intercepted (4.12)
	px = proxy("--credential", "openai", "--tls-intercept", "off",
	    env={"OPENAI_API_KEY": "sk-test-real-key-0123456789"})
	st, rs, h, body = connect_status(px, "api.openai.com:443")
	assert_proxy_answer(st, rs, h, body, 403, CRED_REASON_CONNECT)
	text = body.decode()
	assert "send its requests to the credential route instead" in text, \
	    text
	assert "--allow-domain" not in text, text


def test_proxy_report_only_tunnels_audits_would_deny_and_prints_at_exit(
    proxy, tcp_echo):
	port = tcp_echo.port
	px = proxy("--report-only", "--allow-domain", "api.test", "--resolve",
	    "new.test:%d:127.0.0.1" % port)
	st, _, _, _ = connect_status(px, "new.test:%d" % port)
	assert st == 200
	rec = px.wait_audit(mode="connect", decision="would_deny")[-1]
	assert rec["host"] == "new.test" and rec["port"] == port, rec
	# a listed host is a plain allow; metadata stays denied
	st, _, _, body = connect_status(px, "metadata.google.internal:80")
	assert st == 403, body
	px.stop()
	err = px.stderr()
	assert ("keyhole:   --allow-domain new.test:%d\n" % port) in err, err
	assert ('keyhole:   profile: {"network": {"allow_domain": '
	    '["new.test:%d"]}}\n' % port) in err, err
