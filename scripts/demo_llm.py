"""A stand-in for an LLM API on 127.0.0.1 for `make demo`: HTTPS with a
certificate from a CA made on the fly, answering POST /v1/chat with whether
the request carried the real key.  Prints its port, then serves until
killed."""
import http.server
import json
import os
import ssl
import sys

REAL_KEY = os.environ["DEMO_REAL_KEY"]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(n)
        auth = self.headers.get("Authorization", "")
        body = json.dumps({
            "reply": "hello from the stand-in LLM",
            "saw_real_key": auth == "Bearer " + REAL_KEY,
        }).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


def main():
    cert, key = sys.argv[1], sys.argv[2]
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
