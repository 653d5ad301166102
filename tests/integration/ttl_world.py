"""A private network for the DNS-TTL tests of the mediator, run as
`unshare --net --mount -- python3 ttl_world.py CONFIG.json`.

Inside a fresh network namespace nothing can leave the machine: the only
interface is lo, brought up here with two extra addresses, 10.77.0.7 and
10.77.0.8 (private addresses are not guarded, SPEC 4.4, so a DNS answer
may name them).  A bind mount puts our resolv.conf over /etc/resolv.conf
(and, in the "hosts" case, our hosts file over /etc/hosts) for this mount
namespace only.  A tiny DNS server on 127.0.0.1:53 answers A queries for
db.test with the "current" address and a chosen TTL, AAAA with no data.

Then `keyhole run --allow-domain db.test:PORT` runs CHILD (a python3 script
that prints a line per state it sees) and the world flips the DNS answer
from .7 to .8 when the child says "A".  What the world saw is printed as
one JSON line on stdout for the test to check.
"""

import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time


def sh(*argv):
	subprocess.run(argv, check=True)


class Dns:
	"""A one-name DNS server: db.test A -> self.addr (TTL self.ttl)."""

	def __init__(self, ttl):
		self.ttl = ttl
		self.addr = "10.77.0.7"
		self.queries = []	# (time, qtype, answered address)
		self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
		self.sock.bind(("127.0.0.1", 53))
		threading.Thread(target=self.loop, daemon=True).start()

	def loop(self):
		while True:
			try:
				q, peer = self.sock.recvfrom(512)
			except OSError:
				return
			r = self.answer(q)
			if r is not None:
				self.sock.sendto(r, peer)

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
		qtype, _qclass = struct.unpack("!HH", q[i + 1:i + 5])
		question = q[12:i + 5]
		name = ".".join(labels).lower()
		rd = flags & 0x0100
		if name != "db.test":
			# NXDOMAIN for anything else (search-list variants too).
			return struct.pack("!HHHHHH", qid, 0x8180 | rd | 3, 1, 0,
			    0, 0) + question
		addr = self.addr if qtype == 1 else None
		self.queries.append((time.monotonic(), qtype, addr))
		if addr is None:	# AAAA and the rest: no data
			return struct.pack("!HHHHHH", qid, 0x8180 | rd, 1, 0, 0,
			    0) + question
		rr = struct.pack("!HHHIH", 0xc00c, 1, 1, self.ttl, 4) + \
		    socket.inet_aton(addr)
		return struct.pack("!HHHHHH", qid, 0x8180 | rd, 1, 1, 0, 0) + \
		    question + rr


class Listener:
	"""Accept and close on ADDR:PORT, counting."""

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
			c.close()


def private_files(cfg):
	"""Our resolv.conf (and hosts) over the system's, in this namespace."""
	d = cfg["dir"]
	rc = os.path.join(d, "resolv.conf")
	with open(rc, "w") as f:
		f.write("nameserver 127.0.0.1\noptions timeout:1 attempts:2\n")
	sh("mount", "--bind", rc, "/etc/resolv.conf")
	if cfg.get("hosts"):
		hp = os.path.join(d, "hosts")
		with open(hp, "w") as f:
			f.write("127.0.0.1 localhost\n%s db.test\n" % cfg["hosts"])
		sh("mount", "--bind", hp, "/etc/hosts")


def main():
	with open(sys.argv[1]) as f:
		cfg = json.load(f)
	sh("ip", "link", "set", "lo", "up")
	sh("ip", "addr", "add", "10.77.0.7/32", "dev", "lo")
	sh("ip", "addr", "add", "10.77.0.8/32", "dev", "lo")
	private_files(cfg)
	port = cfg["port"]
	l7 = Listener("10.77.0.7", port)
	l8 = Listener("10.77.0.8", port)
	dns = Dns(cfg["ttl"])
	t0 = time.monotonic()
	p = subprocess.Popen(cfg["argv"], stdout=subprocess.PIPE,
	    stderr=subprocess.PIPE, env=cfg["env"], cwd=cfg["dir"])
	lines, flipped = [], None
	for raw in p.stdout:
		line = raw.decode("utf-8", "replace").strip()
		lines.append(line)
		if line == "A" and flipped is None:
			dns.addr = "10.77.0.8"
			flipped = time.monotonic() - t0
	rc = p.wait(timeout=30)
	print(json.dumps({
		"rc": rc, "lines": lines, "flipped": flipped,
		"stderr": p.stderr.read().decode("utf-8", "replace"),
		"a_queries": [(round(t - t0, 2), a) for t, qt, a in dns.queries
		    if qt == 1],
		"accepted7": l7.accepted, "accepted8": l8.accepted,
	}))


if __name__ == "__main__":
	main()
