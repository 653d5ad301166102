"""A private network for the sandbox-DNS tests (SPEC 3.1), run as
`unshare --net --mount -- python3 dns_world.py CONFIG.json`.

Inside a fresh network namespace nothing can leave the machine: lo is the
only interface, brought up here with 10.53.0.1 (a nameserver that is not on
loopback, as on most machines) and 10.77.0.7 (db.test's address).  Our
resolv.conf is bind-mounted over /etc/resolv.conf for this mount namespace
only: `nameserver 10.53.0.1` then `nameserver 127.0.0.53`; with
cfg["hosts"], the system's /etc/hosts plus those lines is bind-mounted over
/etc/hosts the same way.

A fake upstream DNS server listens on both addresses (UDP) and counts every
query by name: db.test A -> 10.77.0.7 (TTL 300), AAAA no data, anything
else NXDOMAIN.  keyhole's supervisor asks it for the names it grants;
nothing the sandboxed child asks may ever reach it.

Each entry of cfg["runs"] is run in turn (argv, env); the report is one
JSON line: each run's rc, stdout, stderr and seconds, the names the fake
server saw, and how many connections each listener accepted.
"""

import http.server
import json
import os
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time


def sh(*argv):
	subprocess.run(argv, check=True)


class Dns:
	def __init__(self, addrs, names):
		self.names = names
		self.seen = {}
		self.lock = threading.Lock()
		for a in addrs:
			s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
			s.bind((a, 53))
			threading.Thread(target=self.loop, args=(s,),
			    daemon=True).start()

	def loop(self, sock):
		while True:
			try:
				q, peer = sock.recvfrom(4096)
			except OSError:
				return
			r = self.answer(q)
			if r is not None:
				sock.sendto(r, peer)

	def answer(self, q):
		if len(q) < 12:
			return None
		qid, flags, qd = struct.unpack("!HHH", q[:6])
		if qd != 1 or flags & 0x8000:
			return None
		i, labels = 12, []
		while i < len(q) and q[i] != 0:
			n = q[i]
			labels.append(q[i + 1:i + 1 + n].decode("ascii", "replace"))
			i += 1 + n
		if i + 5 > len(q):
			return None
		qtype, _ = struct.unpack("!HH", q[i + 1:i + 5])
		question = q[12:i + 5]
		name = ".".join(labels).lower()
		with self.lock:
			self.seen[name] = self.seen.get(name, 0) + 1
		rd = flags & 0x0100
		if name not in self.names:
			return struct.pack("!HHHHHH", qid, 0x8180 | rd | 3, 1, 0,
			    0, 0) + question
		if qtype != 1:
			return struct.pack("!HHHHHH", qid, 0x8180 | rd, 1, 0, 0,
			    0) + question
		rr = struct.pack("!HHHIH", 0xc00c, 1, 1, 300, 4) + \
		    socket.inet_aton(self.names[name])
		return struct.pack("!HHHHHH", qid, 0x8180 | rd, 1, 1, 0, 0) + \
		    question + rr


class Listener:
	def __init__(self, addr, port):
		self.accepted = 0
		self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
		self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
		self.sock.bind((addr, port))
		self.sock.listen(64)
		threading.Thread(target=self.loop, daemon=True).start()

	def loop(self):
		while True:
			try:
				c, _ = self.sock.accept()
			except OSError:
				return
			self.accepted += 1
			try:
				c.sendall(b"hello\n")
			except OSError:
				pass
			c.close()


class Handler(http.server.BaseHTTPRequestHandler):
	protocol_version = "HTTP/1.1"

	def log_message(self, fmt, *args):
		pass

	def do_GET(self):
		self.server.served.append(self.headers.get("Host", ""))
		body = ("served %s %s\n" % (self.headers.get("Host", ""),
		    self.path)).encode()
		self.send_response(200)
		self.send_header("Content-Length", str(len(body)))
		self.end_headers()
		self.wfile.write(body)


def web(w):
	"""An HTTP(S) server on w["addr"]:w["port"] (TLS with cert/key)."""
	srv = http.server.ThreadingHTTPServer((w["addr"], w["port"]), Handler)
	srv.served = []
	if w.get("cert"):
		ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
		ctx.load_cert_chain(w["cert"], w["key"])
		srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
	threading.Thread(target=srv.serve_forever, daemon=True).start()
	return srv


def main():
	with open(sys.argv[1]) as f:
		cfg = json.load(f)
	sh("ip", "link", "set", "lo", "up")
	sh("ip", "addr", "add", "10.53.0.1/32", "dev", "lo")
	sh("ip", "addr", "add", "10.77.0.7/32", "dev", "lo")
	rc = os.path.join(cfg["dir"], "resolv.conf")
	with open(rc, "w") as f:
		f.write(cfg.get("resolv", "nameserver 10.53.0.1\n"
		    "nameserver 127.0.0.53\noptions timeout:2 attempts:1\n"))
	sh("mount", "--bind", rc, "/etc/resolv.conf")
	if cfg.get("hosts"):
		# Names only this world's /etc/hosts has (SPEC 3.1).
		hp = os.path.join(cfg["dir"], "hosts")
		with open("/etc/hosts") as f:
			text = f.read()
		with open(hp, "w") as f:
			f.write(text + "\n" + cfg["hosts"])
		sh("mount", "--bind", hp, "/etc/hosts")
	dns = Dns(["10.53.0.1", "127.0.0.53"], cfg.get("names",
	    {"db.test": "10.77.0.7"}))
	listeners = [Listener(a, p) for a, p in cfg.get("listeners", [])]
	webs = [web(w) for w in cfg.get("web", [])]
	runs = []
	for r in cfg["runs"]:
		t0 = time.monotonic()
		p = subprocess.run(r["argv"], capture_output=True, env=r["env"],
		    cwd=cfg["dir"], timeout=r.get("timeout", 60))
		runs.append({"rc": p.returncode,
		    "stdout": p.stdout.decode("utf-8", "replace"),
		    "stderr": p.stderr.decode("utf-8", "replace"),
		    "secs": time.monotonic() - t0})
	with dns.lock:
		seen = dict(dns.seen)
	print(json.dumps({"runs": runs, "seen": seen,
	    "accepted": [l.accepted for l in listeners],
	    "served": [w.served for w in webs]}))


if __name__ == "__main__":
	main()
