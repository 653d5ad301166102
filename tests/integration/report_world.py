"""A private network for the --report-only tests, run as
`unshare --net -- python3 report_world.py CONFIG.json`.

Inside a fresh network namespace nothing can leave the machine: the only
interface is lo, brought up here with one extra address, 10.77.0.7 (a
private address: the address guard allows it, SPEC 4.4).  Plain-HTTP
servers answer 200 "ok" on each "listen" [addr, port] of the config (port
80 is free here: the namespace is ours).  Then each argv of "runs" is run
in turn with "env" and its rc, stdout and stderr, and the request lines
each server saw, are printed as one JSON line on stdout.
"""

import http.server
import json
import subprocess
import sys
import threading


class Handler(http.server.BaseHTTPRequestHandler):
	seen = []

	def do_GET(self):
		Handler.seen.append([self.server.server_address[0],
		    self.server.server_address[1], self.headers.get("Host"),
		    self.path])
		body = b"ok\n"
		self.send_response(200)
		self.send_header("Content-Length", str(len(body)))
		self.end_headers()
		self.wfile.write(body)

	def log_message(self, *a):
		pass


def main():
	with open(sys.argv[1]) as f:
		cfg = json.load(f)
	subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
	subprocess.run(["ip", "addr", "add", "10.77.0.7/32", "dev", "lo"],
	    check=True)
	for addr, port in cfg["listen"]:
		s = http.server.ThreadingHTTPServer((addr, port), Handler)
		threading.Thread(target=s.serve_forever, daemon=True).start()
	out = []
	for argv in cfg["runs"]:
		p = subprocess.run(argv, env=cfg["env"], cwd=cfg["dir"],
		    capture_output=True, timeout=60)
		out.append({"rc": p.returncode,
		    "out": p.stdout.decode("utf-8", "replace"),
		    "err": p.stderr.decode("utf-8", "replace"),
		    "seen": list(Handler.seen)})
		Handler.seen.clear()
	print(json.dumps(out))


if __name__ == "__main__":
	main()
