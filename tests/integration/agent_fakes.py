"""Fake LLM APIs on 127.0.0.1 for the real-agent tests: Anthropic's
Messages API (streaming and not) and OpenAI's Responses API.  Each records
every request (method, path, headers, body) so a test can check which key
reached it.  Standard library only."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Handler(BaseHTTPRequestHandler):
	protocol_version = "HTTP/1.1"

	def log_message(self, *a):
		pass

	def _body(self):
		n = int(self.headers.get("content-length") or 0)
		return self.rfile.read(n) if n else b""

	def _record(self, body):
		rec = {"method": self.command, "path": self.path,
		    "headers": {k.lower(): v for k, v in self.headers.items()},
		    "body": body}
		with self.server.lock:
			self.server.requests.append(rec)
		return rec

	def _send(self, status, ctype, data):
		self.send_response(status)
		self.send_header("content-type", ctype)
		self.send_header("content-length", str(len(data)))
		self.end_headers()
		self.wfile.write(data)

	def do_GET(self):
		self._record(b"")
		self._send(404, "application/json", b'{"error":"not here"}')

	def do_POST(self):
		rec = self._record(self._body())
		self.server.answer(self, rec)


def _sse(events):
	return b"".join(b"event: %s\ndata: %s\n\n" % (name.encode(),
	    json.dumps(data).encode()) for name, data in events)


class FakeServer:
	def __init__(self, answer, addr=("127.0.0.1", 0), tls=None):
		"""tls: an ssl.SSLContext (server side) to serve HTTPS."""
		self.srv = ThreadingHTTPServer(addr, _Handler)
		if tls is not None:
			self.srv.socket = tls.wrap_socket(self.srv.socket,
			    server_side=True)
		self.srv.daemon_threads = True
		self.srv.requests = []
		self.srv.lock = threading.Lock()
		self.srv.answer = answer
		self.port = self.srv.server_address[1]
		self.t = threading.Thread(target=self.srv.serve_forever,
		    daemon=True)
		self.t.start()

	@property
	def requests(self):
		with self.srv.lock:
			return list(self.srv.requests)

	def close(self):
		self.srv.shutdown()
		self.srv.server_close()


# --- Anthropic Messages ----------------------------------------------------

def _tool_results(req):
	"""Every tool_result block's text in the request's messages."""
	out = []
	for m in req.get("messages", []):
		c = m.get("content")
		if not isinstance(c, list):
			continue
		for b in c:
			if b.get("type") != "tool_result":
				continue
			v = b.get("content")
			if isinstance(v, list):
				v = "".join(x.get("text", "") for x in v
				    if isinstance(x, dict))
			out.append(str(v))
	return out


def _last_user_text(req):
	for m in reversed(req.get("messages", [])):
		if m.get("role") != "user":
			continue
		c = m.get("content")
		if isinstance(c, str):
			return c
		return " ".join(b.get("text", "") for b in c
		    if isinstance(b, dict) and b.get("type") == "text")
	return ""


def anthropic_answer(tool_command):
	"""The Messages API: a prompt containing RUN-BASH gets a tool_use of
	Bash running tool_command; a request carrying tool results gets
	"TOOL-SAW: <results>"; anything else "hello from the fake"."""

	def answer(h, rec):
		if not rec["path"].startswith("/v1/messages") or \
		    "count_tokens" in rec["path"]:
			h._send(404, "application/json", b'{"error":"no"}')
			return
		try:
			req = json.loads(rec["body"] or b"{}")
		except ValueError:
			req = {}
		results = _tool_results(req)
		model = req.get("model", "claude-fake")
		if results:
			blocks = [{"type": "text",
			    "text": "TOOL-SAW: " + " | ".join(results)}]
			stop = "end_turn"
		elif "RUN-BASH" in _last_user_text(req) and any(
		    t.get("name") == "Bash" for t in req.get("tools", [])):
			blocks = [{"type": "tool_use", "id": "toolu_fake1",
			    "name": "Bash", "input": {"command": tool_command,
			    "description": "test command"}}]
			stop = "tool_use"
		else:
			blocks = [{"type": "text",
			    "text": "hello from the fake"}]
			stop = "end_turn"
		usage = {"input_tokens": 3, "output_tokens": 5}
		msg = {"id": "msg_fake", "type": "message", "role": "assistant",
		    "model": model, "content": blocks, "stop_reason": stop,
		    "stop_sequence": None, "usage": usage}
		if not req.get("stream"):
			h._send(200, "application/json", json.dumps(msg).encode())
			return
		ev = [("message_start", {"type": "message_start", "message":
		    dict(msg, content=[], stop_reason=None)})]
		for i, b in enumerate(blocks):
			if b["type"] == "text":
				ev.append(("content_block_start", {"type":
				    "content_block_start", "index": i,
				    "content_block": {"type": "text", "text": ""}}))
				ev.append(("content_block_delta", {"type":
				    "content_block_delta", "index": i, "delta":
				    {"type": "text_delta", "text": b["text"]}}))
			else:
				ev.append(("content_block_start", {"type":
				    "content_block_start", "index": i,
				    "content_block": dict(b, input={})}))
				ev.append(("content_block_delta", {"type":
				    "content_block_delta", "index": i, "delta":
				    {"type": "input_json_delta", "partial_json":
				    json.dumps(b["input"])}}))
			ev.append(("content_block_stop", {"type":
			    "content_block_stop", "index": i}))
		ev.append(("message_delta", {"type": "message_delta", "delta":
		    {"stop_reason": stop, "stop_sequence": None},
		    "usage": {"output_tokens": 5}}))
		ev.append(("message_stop", {"type": "message_stop"}))
		h._send(200, "text/event-stream", _sse(ev))

	return answer


# --- OpenAI Responses ------------------------------------------------------

def responses_answer(text="hello from the fake"):
	"""The Responses API, streamed: one assistant message saying text."""

	def answer(h, rec):
		if not rec["path"].endswith("/responses"):
			h._send(404, "application/json", b'{"error":"no"}')
			return
		ev = [("response.created", {"type": "response.created",
		    "response": {"id": "resp_fake"}}),
		    ("response.output_item.done", {"type":
		    "response.output_item.done", "output_index": 0, "item":
		    {"type": "message", "role": "assistant", "id": "msg_fake",
		    "content": [{"type": "output_text", "text": text}]}}),
		    ("response.completed", {"type": "response.completed",
		    "response": {"id": "resp_fake", "usage": {"input_tokens": 1,
		    "input_tokens_details": None, "output_tokens": 1,
		    "output_tokens_details": None, "total_tokens": 2}}})]
		h._send(200, "text/event-stream", _sse(ev))

	return answer
