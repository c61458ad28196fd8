#!/usr/bin/env python3
"""pcaps/server.py -- the stand-in web server of pcaps/make.sh (python3 stdlib only).

usage: server.py ADDR PORT [--tls CERT KEY]

HTTP/1.1 with keep-alive: GET answers a short page (or, when the URL's query has bytes=N, a
body of N bytes, at most 1 MiB: the pages and assets of varied sizes of the browsing captures),
POST reads its body (Content-Length or chunked transfer coding, as curl sends them) and
answers how many bytes it read. With --tls
the listening socket is wrapped in TLS (a self-signed certificate made at capture time), and
ALPN offers http/1.1 only, so curl and Chromium speak HTTP/1.1 inside.
"""
import http.server
import re
import socketserver
import ssl
import sys

PAGE = b"c2tap test page\n"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: several requests per connection
    server_version = "c2tap-standin/1"

    def _answer(self, body):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            total = 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    # trailer section up to the empty line
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return total
                total += len(self.rfile.read(size))
                self.rfile.readline()  # CRLF after the chunk
        return len(self.rfile.read(int(self.headers.get("Content-Length", "0"))))

    def do_GET(self):
        m = re.search(r"[?&]bytes=(\d+)", self.path)
        if m:
            n = min(int(m.group(1)), 1 << 20)
            self._answer((PAGE * (n // len(PAGE) + 1))[:n])
        else:
            self._answer(PAGE)

    do_HEAD = do_GET

    def do_POST(self):
        self._answer(b"read %d bytes\n" % self._read_body())

    def log_message(self, fmt, *args):
        sys.stderr.write("server: " + fmt % args + "\n")


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    addr, port = sys.argv[1], int(sys.argv[2])
    srv = Server((addr, port), Handler)
    if len(sys.argv) == 6 and sys.argv[3] == "--tls":
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[4], sys.argv[5])
        ctx.set_alpn_protocols(["http/1.1"])
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
