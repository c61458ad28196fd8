#!/usr/bin/env python3
"""pcaps/connect-proxy.py -- a minimal HTTP CONNECT proxy for pcaps/make.sh (stdlib only).

usage: connect-proxy.py ADDR PORT

Reads one `CONNECT host:port HTTP/1.1` request head, resolves host with the system resolver
(inside the capture namespace: dnsmasq), connects, answers `200 Connection established` and
relays bytes both ways until either side closes. Anything but CONNECT gets 405.
"""
import socket
import socketserver
import sys
import threading

MAX_HEAD = 8192  # a CONNECT head is one short line and a few headers


def pipe(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        c = self.request
        head = b""
        while b"\r\n\r\n" not in head and len(head) < MAX_HEAD:
            data = c.recv(4096)
            if not data:
                return
            head += data
        line = head.split(b"\r\n", 1)[0].split()
        if len(line) != 3 or line[0] != b"CONNECT":
            c.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            return
        host, _, port = line[1].decode("ascii", "replace").rpartition(":")
        try:
            up = socket.create_connection((host, int(port)), timeout=5)
        except (OSError, ValueError):
            c.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            return
        up.settimeout(None)
        c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        rest = head.split(b"\r\n\r\n", 1)[1]
        if rest:
            up.sendall(rest)
        t = threading.Thread(target=pipe, args=(up, c), daemon=True)
        t.start()
        pipe(c, up)
        t.join()
        up.close()


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


if __name__ == "__main__":
    Server((sys.argv[1], int(sys.argv[2])), Handler).serve_forever()
