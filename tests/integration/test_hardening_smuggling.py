"""Request smuggling (issue 7, SPEC 4.1/9, STYLE 8): every ambiguous head is
400 and nothing reaches the upstream -- for the plain-HTTP forward and for
a credential route.  The upstream records every connection and byte."""

import pytest

pytest.register_assert_rewrite("hardening_fixtures")

from conftest import read_response
from hardening_fixtures import (forward_request, one_response, route_args,
    route_request, wait_for)

pytest_plugins = ["hardening_fixtures"]

BODY = b"0123456789"

# (id, extra header bytes, body) -- each must be 400 with nothing sent on.
SMUGGLE = [
	("cl-and-te", b"Content-Length: 10\r\nTransfer-Encoding: chunked\r\n",
	    b"a\r\n0123456789\r\n0\r\n\r\n"),
	("te-and-cl", b"Transfer-Encoding: chunked\r\nContent-Length: 10\r\n",
	    b"a\r\n0123456789\r\n0\r\n\r\n"),
	("two-cl-different", b"Content-Length: 10\r\nContent-Length: 11\r\n",
	    BODY + b"x"),
	("cl-list", b"Content-Length: 10, 11\r\n", BODY + b"x"),
	("cl-plus-sign", b"Content-Length: +10\r\n", BODY),
	("cl-hex", b"Content-Length: 0xa\r\n", BODY),
	("cl-negative", b"Content-Length: -1\r\n", BODY),
	("cl-space-inside", b"Content-Length: 1 0\r\n", BODY),
	("obs-fold", b"X-A: a\r\n b\r\nContent-Length: 10\r\n", BODY),
	("obs-fold-tab", b"X-A: a\r\n\tb\r\nContent-Length: 10\r\n", BODY),
	("obs-fold-te", b"Transfer-Encoding:\r\n chunked\r\n",
	    b"a\r\n0123456789\r\n0\r\n\r\n"),
	("bare-cr", b"X-A: a\rContent-Length: 10\r\n", BODY),
	("bare-lf", b"X-A: a\nContent-Length: 10\r\n", BODY),
	("nul-in-value", b"X-A: a\x00b\r\nContent-Length: 10\r\n", BODY),
	("nul-in-name", b"X-\x00A: a\r\nContent-Length: 10\r\n", BODY),
	("space-before-colon-te", b"Transfer-Encoding : chunked\r\n",
	    b"a\r\n0123456789\r\n0\r\n\r\n"),
	("space-before-colon-cl", b"Content-Length : 10\r\n", BODY),
	("te-gzip-chunked", b"Transfer-Encoding: gzip, chunked\r\n",
	    b"a\r\n0123456789\r\n0\r\n\r\n"),
	("te-chunked-gzip", b"Transfer-Encoding: chunked, gzip\r\n",
	    b"a\r\n0123456789\r\n0\r\n\r\n"),
	("te-chunked-chunked", b"Transfer-Encoding: chunked, chunked\r\n",
	    b"a\r\n0123456789\r\n0\r\n\r\n"),
	("te-chunked-comma", b"Transfer-Encoding: chunked,\r\n",
	    b"a\r\n0123456789\r\n0\r\n\r\n"),
	("te-identity", b"Transfer-Encoding: identity\r\nContent-Length: 10\r\n",
	    BODY),
	("te-chunked-param", b"Transfer-Encoding: chunked;q=1\r\n",
	    b"a\r\n0123456789\r\n0\r\n\r\n"),
	("te-xchunked", b"Transfer-Encoding: xchunked\r\n",
	    b"a\r\n0123456789\r\n0\r\n\r\n"),
	("te-chunk-ed", b"Transfer-Encoding: chunk ed\r\n",
	    b"a\r\n0123456789\r\n0\r\n\r\n"),
	("te-quoted", b"Transfer-Encoding: \"chunked\"\r\n",
	    b"a\r\n0123456789\r\n0\r\n\r\n"),
	("te-vtab", b"Transfer-Encoding: chunked\x0b\r\n",
	    b"a\r\n0123456789\r\n0\r\n\r\n"),
	("te-formfeed", b"Transfer-Encoding: \x0cchunked\r\n",
	    b"a\r\n0123456789\r\n0\r\n\r\n"),
	("two-te", b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
	    b"a\r\n0123456789\r\n0\r\n\r\n"),
	("two-te-gzip", b"Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n",
	    b"a\r\n0123456789\r\n0\r\n\r\n"),
]

# Spellings that legitimately mean "chunked" (RFC 9110: coding names are
# case-insensitive; OWS around a field value is not part of it).
LEGIT_TE = [
	("lower", b"Transfer-Encoding: chunked\r\n"),
	("capital", b"Transfer-Encoding: Chunked\r\n"),
	("upper", b"Transfer-Encoding: CHUNKED\r\n"),
	("mixed-name-case", b"transfer-ENCODING: cHuNkEd\r\n"),
	("ows", b"Transfer-Encoding:   chunked   \r\n"),
	("no-space", b"Transfer-Encoding:chunked\r\n"),
]

# Legitimate per RFC 9110 (HTAB is OWS), but refusing it is safe too.
STRICT_OK_TE = [
	("tab-ows", b"Transfer-Encoding:\tchunked\t\r\n"),
]

# Chunked bodies that go wrong after the head: a streaming proxy has sent
# the head upstream by then, so the claim is: 400 to the client, the
# upstream connection closed (never reused), the proxy alive.
BAD_CHUNKS = [
	("bad-chunk-size", b"zz\r\n0123456789\r\n0\r\n\r\n"),
	("chunk-size-overflow",
	    b"10000000000000000a\r\n0123456789\r\n0\r\n\r\n"),
	("chunk-missing-crlf", b"a\r\n0123456789XX0\r\n\r\n"),
	("chunk-ext-junk", b"a;\x00\r\n0123456789\r\n0\r\n\r\n"),
]


class Target:
	def __init__(self, px, kind, up):
		self.px = px
		self.kind = kind
		self.up = up
		self.hostport = "web.test:%d" % up.port

	def request(self, headers, body):
		if self.kind == "forward":
			return forward_request(self.px, "POST", self.hostport,
			    "/smuggle", headers, body)
		return route_request(self.px, "POST", "/smuggle", headers, body)


@pytest.fixture(params=["forward", "route"])
def target(request, proxy, tmp_path, bad_upstream):
	up = bad_upstream
	if request.param == "forward":
		px = proxy("--allow-domain", "web.test:%d" % up.port,
		    "--resolve", "web.test:%d:127.0.0.1" % up.port)
	else:
		args, env = route_args(tmp_path, "http://127.0.0.1:%d" % up.port)
		px = proxy(*args, env=env)
	return Target(px, request.param, up)


@pytest.mark.parametrize("hdr,body", [(h, b) for _, h, b in SMUGGLE],
    ids=[i for i, _, _ in SMUGGLE])
def test_ambiguous_framing_is_400_and_never_forwarded(target, hdr, body):
	st, h, resp, end = one_response(target.px.port,
	    target.request(hdr, body), timeout=4)
	assert st == 400, "expected 400, got %r %r" % (st, resp[:200])
	recs = target.px.wait_audit(status=400)
	assert recs[-1]["decision"] == "deny" and recs[-1]["reason"], recs
	# Give a wrongly forwarded request time to arrive.
	wait_for(lambda: target.up.accepted, 0.3)
	assert target.up.accepted == 0, "upstream got %r" % target.up.received


@pytest.mark.parametrize("hdr", [h for _, h in LEGIT_TE],
    ids=[i for i, _ in LEGIT_TE])
def test_chunked_spellings_that_mean_chunked_are_forwarded(target, hdr):
	# /discard needs a Content-Length body, so ask /ok: the proxy must
	# pass the chunked body on intact and the upstream sees one request.
	st, h, resp, end = one_response(target.px.port,
	    target.request(hdr, b"a\r\n0123456789\r\n0\r\n\r\n"), timeout=4)
	assert st != 400, "legitimate %r refused: %r" % (hdr, resp)
	assert wait_for(lambda: target.up.heads, 2), "nothing forwarded"
	head = target.up.heads[0].lower()
	assert "transfer-encoding" in head and "content-length" not in head, \
	    head


def test_identical_duplicate_content_length_is_400_or_forwarded_once(target):
	# RFC 9112 6.3 lets a recipient merge identical values; refusing is
	# also safe.  Never both framings, never two requests upstream.
	st, h, resp, end = one_response(target.px.port, target.request(
	    b"Content-Length: 10\r\nContent-Length: 10\r\n", BODY), timeout=4)
	assert st in (400, 404), (st, resp)
	if st == 400:
		assert target.up.accepted == 0
	else:
		assert len(target.up.heads) == 1


def test_pipelined_smuggled_request_after_good_one_is_not_forwarded(target):
	# A good request followed on the same connection by a CL+TE one: the
	# first is served, the second refused, only one head upstream.
	import socket
	good = target.request(b"Content-Length: 10\r\n", BODY).replace(
	    b"/smuggle", b"/ok")
	bad = target.request(b"Content-Length: 4\r\nTransfer-Encoding: "
	    b"chunked\r\n", b"0\r\n\r\nGET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
	s = socket.create_connection(("127.0.0.1", target.px.port), timeout=4)
	with s:
		s.sendall(good + bad)
		st1, _, _, b1, rest = read_response(s, 4)
		st2, _, _, b2, rest = read_response(s, 4, rest)
	assert st1 == 200 and b1 == b"ok", (st1, b1)
	assert st2 == 400, (st2, b2)
	wait_for(lambda: len(target.up.heads) > 1, 0.3)
	assert len(target.up.heads) == 1, target.up.heads


@pytest.mark.parametrize("hdr", [h for _, h in STRICT_OK_TE],
    ids=[i for i, _ in STRICT_OK_TE])
def test_tab_ows_chunked_is_refused_or_forwarded_as_chunked(target, hdr):
	st, h, resp, end = one_response(target.px.port,
	    target.request(hdr, b"a\r\n0123456789\r\n0\r\n\r\n"), timeout=4)
	if st == 400:
		wait_for(lambda: target.up.accepted, 0.3)
		assert target.up.accepted == 0
		return
	head = target.up.heads[0].lower()
	assert "transfer-encoding" in head and "content-length" not in head


def assert_serves_ok(target):
	good = target.request(b"Content-Length: 10\r\n", BODY).replace(
	    b"/smuggle", b"/ok")
	st, h, resp, end = one_response(target.px.port, good, timeout=4)
	assert st == 200 and resp == b"ok", (st, resp)


@pytest.mark.parametrize("body", [b for _, b in BAD_CHUNKS],
    ids=[i for i, _ in BAD_CHUNKS])
def test_bad_chunked_body_is_400_and_proxy_survives(target, body):
	st, h, resp, end = one_response(target.px.port, target.request(
	    b"Transfer-Encoding: chunked\r\n", body), timeout=4)
	assert target.px.running(), "proxy died:\n" + target.px.stderr()
	assert st == 400, "expected 400, got %r %r" % (st, resp[:200])
	assert end in ("eof", "reset", "limit")
	assert_serves_ok(target)


@pytest.mark.parametrize("split", [False, True], ids=["one-write",
    "head-first"])
def test_bad_chunked_body_in_separate_write_is_400(target, split):
	import socket
	import time
	req = target.request(b"Transfer-Encoding: chunked\r\n", b"")
	s = socket.create_connection(("127.0.0.1", target.px.port), timeout=4)
	with s:
		if split:
			s.sendall(req)
			time.sleep(0.3)
			s.sendall(b"zz\r\n")
		else:
			s.sendall(req + b"zz\r\n")
		st, _, _, b, _ = read_response(s, 4)
	assert st == 400, (st, b)
	assert target.px.running(), target.px.stderr()
	assert_serves_ok(target)


def test_chunked_body_over_max_body_is_413_and_proxy_survives(proxy,
    tmp_path, bad_upstream):
	args, env = route_args(tmp_path, "http://127.0.0.1:%d" %
	    bad_upstream.port)
	px = proxy(*args, "--max-body", "100", env=env)
	chunk = b"c8\r\n" + b"x" * 200 + b"\r\n0\r\n\r\n"
	st, h, resp, end = one_response(px.port, route_request(px, "POST",
	    "/discard", b"Transfer-Encoding: chunked\r\n", chunk), timeout=4)
	assert px.running(), "proxy died:\n" + px.stderr()
	assert st == 413, (st, resp)
	rec = px.wait_audit(status=413)[-1]
	assert rec["reason"] == "request body over the limit", rec
	st, h, resp, end = one_response(px.port, route_request(px, "GET",
	    "/ok"), timeout=4)
	assert st == 200 and resp == b"ok", (st, resp)
