"""Responses never carry the secret back (SPEC 4.6 step 6, issue 23).

A plain-HTTP upstream on 127.0.0.1 reflects what it received (the request
head, its percent-decoded request line, the decoded Basic credential) in
its body, framed in several ways and sent in small delayed pieces so that
the secret is split across chunks and reads, in response headers, and
gzip-compressed when asked.  The client must see the phantom token where
the secret was, never the secret nor its percent or base64 forms, while
the upstream still receives the real credential."""

import base64
import gzip
import socket
import threading
import time
import urllib.parse

import pytest

from conftest import read_head, read_response, recv_until_eof
from reverse_fixtures import REAL_SECRET, route, send_request

MODES = {
	"header": {},
	"basic_auth": {"inject_mode": "basic_auth"},
	"url_path": {"inject_mode": "url_path", "path_pattern": "/k/{}"},
	"query_param": {"inject_mode": "query_param",
	    "query_param_name": "key"},
}

FORMS = (REAL_SECRET.encode(),
    urllib.parse.quote(REAL_SECRET, safe="").encode(),
    base64.b64encode(REAL_SECRET.encode()))


class ReflectingUpstream:
	"""One request per connection.  The last path segment says how to
	answer; what it reflects is the request head as received, its
	percent-decoded request line and, for Basic, the decoded credential.

	  cl        Content-Length, in one piece
	  cl-split  Content-Length, in 3-byte pieces 2 ms apart
	  chunked   chunked, 5-byte chunks, two per write, 2 ms apart
	  close     no length (read until close), 4-byte pieces
	  header    the Authorization value and request line in headers
	  gzip      gzip-compressed when the request accepts gzip
	  gzip-always  gzip-compressed whatever was asked
	  plain     Content-Length "nothing to see", no reflection
	  sse       events 150 ms apart, each reflecting the credential and
	            the time it was sent (time.monotonic())
	"""

	def __init__(self):
		self.ls = socket.socket()
		self.ls.bind(("127.0.0.1", 0))
		self.ls.listen(16)
		self.port = self.ls.getsockname()[1]
		self.requests = []
		self.sent = {}		# gzip kinds: the compressed body sent
		self.stop = False
		self.t = threading.Thread(target=self._loop, daemon=True)
		self.t.start()

	def _loop(self):
		while not self.stop:
			try:
				c, _ = self.ls.accept()
			except OSError:
				return
			threading.Thread(target=self._serve, args=(c,),
			    daemon=True).start()

	def close(self):
		self.stop = True
		self.ls.close()

	def _serve(self, c):
		c.settimeout(5)
		try:
			buf = b""
			while b"\r\n\r\n" not in buf:
				d = c.recv(65536)
				if not d:
					return
				buf += d
			head = buf.split(b"\r\n\r\n", 1)[0]
			self.requests.append(head)
			self._answer(c, head)
		except OSError:
			pass
		finally:
			c.close()

	def _reflect(self, head):
		lines = head.split(b"\r\n")
		out = b"HEAD<" + head + b">\nLINE<" + \
		    urllib.parse.unquote_to_bytes(lines[0]) + b">\n"
		for ln in lines[1:]:
			k, _, v = ln.partition(b": ")
			if k.lower() == b"authorization" and \
			    v.startswith(b"Basic "):
				out += b"BASIC<" + base64.b64decode(v[6:]) + b">\n"
		return out

	@staticmethod
	def _pieces(c, data, n, delay):
		for i in range(0, len(data), n):
			c.sendall(data[i:i + n])
			time.sleep(delay)

	def _answer(self, c, head):
		lines = head.split(b"\r\n")
		target = lines[0].split(b" ")[1].decode()
		kind = target.split("?")[0].rsplit("/", 1)[-1]
		hdrs = {}
		for ln in lines[1:]:
			k, _, v = ln.partition(b": ")
			hdrs[k.lower().decode()] = v.decode("latin-1")
		body = self._reflect(head)
		ok = b"HTTP/1.1 200 OK\r\nConnection: close\r\n"
		if kind == "cl":
			c.sendall(ok + b"Content-Length: %d\r\n\r\n" % len(body) +
			    body)
		elif kind == "cl-split":
			c.sendall(ok + b"Content-Length: %d\r\n\r\n" % len(body))
			self._pieces(c, body, 3, 0.002)
		elif kind == "chunked":
			c.sendall(ok + b"Transfer-Encoding: chunked\r\n\r\n")
			for i in range(0, len(body), 10):
				part = body[i:i + 10]
				out = b""
				for j in range(0, len(part), 5):
					p = part[j:j + 5]
					out += b"%x\r\n%s\r\n" % (len(p), p)
				c.sendall(out)
				time.sleep(0.002)
			c.sendall(b"0\r\nX-Trailer: " + body[:20].replace(
			    b"\n", b" ") + b"\r\n\r\n")
		elif kind == "close":
			c.sendall(ok + b"\r\n")
			self._pieces(c, body, 4, 0.002)
		elif kind == "header":
			auth = hdrs.get("authorization", "").encode("latin-1")
			c.sendall(ok + b"X-Echo-Auth: " + auth + b"\r\n" +
			    b"X-Echo-Line: " + lines[0] + b"\r\n" +
			    b"X-Echo-Decoded: " +
			    urllib.parse.unquote_to_bytes(lines[0]) + b"\r\n"
			    b"Content-Length: 2\r\n\r\nok")
		elif kind in ("gzip", "gzip-always"):
			if kind == "gzip-always" or \
			    "gzip" in hdrs.get("accept-encoding", ""):
				z = gzip.compress(body)
				self.sent[kind] = z
				c.sendall(ok + b"Content-Encoding: gzip\r\n"
				    b"Content-Length: %d\r\n\r\n" % len(z) + z)
			else:
				c.sendall(ok + b"Content-Length: %d\r\n\r\n" %
				    len(body) + body)
		elif kind == "plain":
			c.sendall(ok + b"X-Plain: yes\r\nContent-Length: 14\r\n\r\n"
			    b"nothing to see")
		elif kind == "sse":
			auth = hdrs.get("authorization", "").encode("latin-1")
			c.sendall(ok + b"Content-Type: text/event-stream\r\n"
			    b"Transfer-Encoding: chunked\r\n\r\n")
			for i in range(5):
				if i:
					time.sleep(0.15)
				ev = b"data: {\"n\":%d,\"auth\":\"%s\",\"line\":" \
				    b"\"%s\",\"t\":%.6f}\n\n" % (i, auth,
				    urllib.parse.unquote_to_bytes(lines[0]),
				    time.monotonic())
				c.sendall(b"%x\r\n%s\r\n" % (len(ev), ev))
			time.sleep(0.2)
			c.sendall(b"0\r\n\r\n")
		else:
			c.sendall(b"HTTP/1.1 404 Not Found\r\n"
			    b"Content-Length: 0\r\n\r\n")


@pytest.fixture
def reflector():
	up = ReflectingUpstream()
	yield up
	up.close()


def target(r, mode, kind):
	"""The client's request path and headers for mode and kind."""
	auth = [("Authorization", "Bearer " + r.phantom)]
	if mode == "url_path":
		return "/svc/k/%s/%s" % (r.phantom, kind), []
	if mode == "query_param":
		return "/svc/x/%s?a=1&key=%s" % (kind, r.phantom), []
	return "/svc/x/" + kind, auth


def ask(r, mode, kind, headers=(), version="1.1"):
	path, hdrs = target(r, mode, kind)
	s = socket.create_connection(("127.0.0.1", r.port), timeout=5)
	with s:
		if version == "1.1":
			send_request(s, "GET", path, hdrs + list(headers))
			return read_response(s, timeout=10)[:4]
		req = "GET %s HTTP/1.0\r\n" % path
		for k, v in hdrs + list(headers):
			req += "%s: %s\r\n" % (k, v)
		s.sendall(req.encode() + b"\r\n")
		st, rs, h, rest = read_head(s, 10)
		return st, rs, h, recv_until_eof(s, rest, 10)


def assert_upstream_got_the_secret(r, mode, up):
	"""The last request reached the upstream with the real credential in
	the mode's place."""
	head = up.requests[-1]
	if mode == "header":
		want = b"\r\nAuthorization: Bearer " + FORMS[0] + b"\r\n"
	elif mode == "basic_auth":
		want = b"\r\nAuthorization: Basic " + FORMS[2] + b"\r\n"
	elif mode == "url_path":
		want = b"GET /k/" + FORMS[1] + b"/"
	else:
		want = b"&key=" + FORMS[1] + b" HTTP/1.1"
	assert want in head, (mode, head)
	assert r.phantom.encode() not in head, head


def assert_scrubbed(r, blob):
	for form in FORMS:
		assert form not in blob, "a form of the secret came back: %r" \
		    % blob[:400]
	assert r.phantom.encode() in blob, blob[:400]


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("kind", ["cl", "cl-split", "chunked", "close"])
def test_reflected_secret_in_body_comes_back_as_the_phantom(route,
    reflector, mode, kind):
	r = route(reflector, tls=False, **MODES[mode])
	st, _, h, body = ask(r, mode, kind)
	assert st == 200, body
	assert_upstream_got_the_secret(r, mode, reflector)
	assert_scrubbed(r, body)
	# Everything else arrives intact: the reflection with the phantom in
	# place of each form is exactly what the client got.
	want = reflector._reflect(reflector.requests[-1])
	for form in sorted(FORMS, key=len, reverse=True):
		want = want.replace(form, r.phantom.encode())
	assert body == want
	if kind == "cl":
		assert int(h["content-length"]) == len(body)
	elif kind in ("cl-split", "chunked"):
		assert h.get("transfer-encoding") == "chunked", h
		assert "content-length" not in h, h
	# No trailer of the upstream is passed on (it may echo too).
	assert b"X-Trailer" not in body


@pytest.mark.parametrize("mode", sorted(MODES))
def test_reflected_secret_in_response_headers_comes_back_as_the_phantom(
    route, reflector, mode):
	r = route(reflector, tls=False, **MODES[mode])
	st, _, h, body = ask(r, mode, "header")
	assert st == 200 and body == b"ok", (st, body)
	assert_upstream_got_the_secret(r, mode, reflector)
	blob = "\n".join("%s: %s" % kv for kv in h.items()).encode("latin-1")
	assert_scrubbed(r, blob)
	if mode == "header":
		assert h["x-echo-auth"] == "Bearer " + r.phantom


@pytest.mark.parametrize("mode", ["header", "basic_auth"])
def test_client_accept_encoding_is_not_forwarded(route, reflector, mode):
	r = route(reflector, tls=False, **MODES[mode])
	st, _, h, body = ask(r, mode, "gzip",
	    [("Accept-Encoding", "gzip, deflate")])
	assert st == 200 and "content-encoding" not in h, h
	head = reflector.requests[-1]
	assert b"\r\nAccept-Encoding: identity\r\n" in head, head
	assert b"deflate" not in head, head
	assert_scrubbed(r, body)


def test_gzip_sent_anyway_is_refused_with_502(route, reflector):
	r = route(reflector, tls=False)
	st, _, h, body = ask(r, "header", "gzip-always")
	assert st == 502, (st, body)
	for form in FORMS:
		assert form not in body
	assert "gzip-always" in reflector.sent
	rec = r.px.wait_audit(mode="reverse", status=502)[-1]
	assert rec["decision"] == "deny", rec
	assert "Content-Encoding 'gzip'" in rec["reason"], rec
	assert "compressed_responses" in rec["reason"], rec


def test_compressed_responses_passes_gzip_through_untouched(route,
    reflector):
	r = route(reflector, tls=False, compressed_responses=True)
	st, _, h, body = ask(r, "header", "gzip",
	    [("Accept-Encoding", "gzip")])
	assert st == 200, body
	head = reflector.requests[-1]
	assert b"\r\nAccept-Encoding: gzip\r\n" in head, head
	assert h.get("content-encoding") == "gzip", h
	assert body == reflector.sent["gzip"]
	# The check is given up, as documented: the secret is in there.
	assert FORMS[0] in gzip.decompress(body)
	assert int(h["content-length"]) == len(body)


def test_clean_small_response_keeps_its_framing(route, reflector):
	r = route(reflector, tls=False)
	st, _, h, body = ask(r, "header", "plain")
	assert st == 200 and body == b"nothing to see", (st, body)
	assert h.get("content-length") == "14" and h.get("x-plain") == "yes", h
	assert "transfer-encoding" not in h, h


def test_http10_client_gets_a_close_delimited_scrubbed_body(route,
    reflector):
	r = route(reflector, tls=False)
	st, _, h, body = ask(r, "header", "cl-split", version="1.0")
	assert st == 200, body
	assert "content-length" not in h and "transfer-encoding" not in h, h
	assert h.get("connection") == "close", h
	assert_scrubbed(r, body)


def test_keep_alive_after_a_scrubbed_response(route, reflector):
	r = route(reflector, tls=False)
	path, hdrs = target(r, "header", "chunked")
	with socket.create_connection(("127.0.0.1", r.port), timeout=5) as s:
		for _ in range(3):
			send_request(s, "GET", path, hdrs)
			st, _, h, body, rest = read_response(s, timeout=10)
			assert st == 200 and rest == b"", (st, rest)
			assert_scrubbed(r, body)


@pytest.mark.parametrize("mode", ["header", "url_path"])
def test_sse_events_arrive_without_delay_and_scrubbed(route, reflector,
    mode):
	r = route(reflector, tls=False, **MODES[mode])
	path, hdrs = target(r, mode, "sse")
	arrivals = []
	with socket.create_connection(("127.0.0.1", r.port), timeout=5) as s:
		send_request(s, "GET", path, hdrs)
		st, _, h, buf = read_head(s, 5)
		assert st == 200 and h.get("transfer-encoding") == "chunked", h
		data = b""
		deadline = time.monotonic() + 10
		while len(arrivals) < 5:
			assert time.monotonic() < deadline, data
			# Chunk framing is ours; the events are what matters.
			while b"\r\n" in buf:
				line, rest = buf.split(b"\r\n", 1)
				n = int(line, 16)
				if len(rest) < n + 2:
					break
				data += rest[:n]
				buf = rest[n + 2:]
			while b"\n\n" in data:
				ev, data = data.split(b"\n\n", 1)
				arrivals.append((time.monotonic(), ev))
			if len(arrivals) < 5:
				s.settimeout(2)
				d = s.recv(65536)
				assert d, "EOF before the fifth event"
				buf += d
		# The stream stays open: the last chunk comes 200 ms later.
		assert b"0\r\n\r\n" not in buf
	for t, ev in arrivals:
		assert_scrubbed(r, ev)
		sent = float(ev.rsplit(b"\"t\":", 1)[1].rstrip(b"}"))
		assert t - sent < 0.2, "event arrived %.3f s after it was " \
		    "sent: %r" % (t - sent, ev[:80])
