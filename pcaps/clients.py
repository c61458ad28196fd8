#!/usr/bin/env python3
"""pcaps/clients.py -- the scripted clients and plans of pcaps/make.sh's behavioural captures
(python3 stdlib only).

usage: clients.py beacon-plan N BASE JITTER LO HI SEED DIR
       clients.py keepalive HOST PORT N BASE JITTER LO HI SEED
       clients.py longpoll HOST PORT N BASE JITTER LO HI SEED
       clients.py tunnel-server ADDR PORT DOWN_BYTES SEED
       clients.py tunnel-client ADDR PORT UP_BYTES SEED
       clients.py exfil-names FILE DOMAIN
       clients.py browse-plan SEED HTTP_NAME,... HTTPS_NAME,...
       clients.py cdn-plan SEED DOMAIN...

Every random choice comes from random.Random(SEED): the same arguments give the same plan
(sleeps, sizes, names, order) on every run. A sleep comes after a check-in, as beacons sleep
between check-ins: the time from one check-in to the next is the sleep plus the exchange.

beacon-plan   writes DIR/NNN.body (N bodies of LO..HI bytes, uniform) and prints "SLEEP FILE"
              per check-in, SLEEP uniform in BASE*(1-JITTER)..BASE*(1+JITTER).
keepalive     one HTTP/1.1 connection (a socket; http.client reads the answers) to HOST:PORT,
              N POSTs of such bodies to /beacon, each after the sleep that follows the answer
              of the one before.
longpoll      one TLS connection (ssl, no certificate check, SNI HOST) to HOST:PORT; N lines of
              LO..HI bytes (a small JSON heartbeat, newline included), each followed by reading
              one line of answer, then the sleep.
tunnel-server listens on ADDR:PORT for one connection: reads until the client's FIN, then sends
              DOWN_BYTES pseudo-random (incompressible) bytes and closes.
tunnel-client connects, sends UP_BYTES pseudo-random bytes, shuts down its side, reads to EOF.
exfil-names   FILE in lowercase base32 without padding, cut into names
              D1.D2.D3.NNNN.DOMAIN (three 60-character labels, the last name shorter; NNNN
              the chunk's number in hex), one a line, as `dig -f` reads them ("NAME TXT").
browse-plan   prints "SLEEP URL..." per page view: a page and 0..3 assets from one of the
              names (http:// for the first list, https:// for the second), sizes log-uniform
              200 B..100 KB (?bytes=N), 30 requests in all; SLEEP Pareto (alpha 1.1, scale
              0.4 s) clipped to 0.2..10 s.
cdn-plan      prints "SLEEP URL" lines: 7 to 9 host names under each DOMAIN (www, static, img,
              api, cdn, media, assets, edge-N, sN, ...), each fetched once or twice
              (http or https, ?bytes= log-uniform 150 B..20 KB), shuffled; SLEEP uniform
              0.05..0.4 s.
"""

import base64
import http.client
import json
import math
import random
import socket
import ssl
import sys
import time


def sleeps(r, n, base, jitter):
    return [r.uniform(base * (1 - jitter), base * (1 + jitter)) for _ in range(n)]


def body(r, seq, size):
    """A beacon's check-in: an id, a sequence number and base64 of random bytes, SIZE bytes."""
    head = "id=7f3a9c21&seq=%d&d=" % seq
    raw = r.randbytes(size)
    return (head + base64.b64encode(raw).decode())[:size].encode()


def beacon_plan(n, base, jitter, lo, hi, seed, out_dir):
    r = random.Random(int(seed))
    n, base, jitter, lo, hi = int(n), float(base), float(jitter), int(lo), int(hi)
    gaps = sleeps(r, n, base, jitter)
    for i in range(n):
        path = "%s/%03d.body" % (out_dir, i)
        with open(path, "wb") as f:
            f.write(body(r, i, r.randint(lo, hi)))
        print("%.3f %s" % (gaps[i], path))


def keepalive(host, port, n, base, jitter, lo, hi, seed):
    r = random.Random(int(seed))
    n, base, jitter, lo, hi = int(n), float(base), float(jitter), int(lo), int(hi)
    gaps = sleeps(r, n, base, jitter)
    sock = socket.create_connection((host, int(port)), timeout=10)
    for i in range(n):
        data = body(r, i, r.randint(lo, hi))
        # Headers and body in one send, as curl does: http.client sends them in two segments,
        # which tshark (without body reassembly, as the conformance oracle runs it) loses
        # track of on a kept-alive connection.
        head = (
            "POST /beacon HTTP/1.1\r\nHost: %s\r\nAccept-Encoding: identity\r\n"
            "Content-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n"
            % (host, len(data))
        )
        sock.sendall(head.encode() + data)
        resp = http.client.HTTPResponse(sock)
        resp.begin()
        resp.read()
        if resp.status != 200:
            sys.exit("keepalive: status %d" % resp.status)
        if i + 1 < n:
            time.sleep(gaps[i])
    sock.close()


def longpoll(host, port, n, base, jitter, lo, hi, seed):
    r = random.Random(int(seed))
    n, base, jitter, lo, hi = int(n), float(base), float(jitter), int(lo), int(hi)
    gaps = sleeps(r, n, base, jitter)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    raw = socket.create_connection((host, int(port)), timeout=10)
    s = ctx.wrap_socket(raw, server_hostname=host)
    f = s.makefile("rb")
    for i in range(n):
        size = r.randint(lo, hi)
        msg = json.dumps({"t": "hb", "seq": i, "p": ""}, separators=(",", ":"))
        pad = size - len(msg) - 1
        msg = json.dumps({"t": "hb", "seq": i, "p": "x" * max(pad, 0)}, separators=(",", ":"))
        s.sendall(msg.encode() + b"\n")
        if not f.readline():
            sys.exit("longpoll: server closed")
        if i + 1 < n:
            time.sleep(gaps[i])
    f.close()
    s.close()


def noise(n, seed):
    return random.Random(int(seed)).randbytes(int(n))


def tunnel_server(addr, port, down, seed):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, int(port)))
    ls.listen(1)
    print("listening", flush=True)
    c, _ = ls.accept()
    got = 0
    while True:
        b = c.recv(65536)
        if not b:
            break
        got += len(b)
    c.sendall(noise(down, seed))
    c.close()
    print("tunnel-server: read %d bytes, sent %s" % (got, down), flush=True)


def tunnel_client(addr, port, up, seed):
    s = socket.create_connection((addr, int(port)), timeout=60)
    s.sendall(noise(up, seed))
    s.shutdown(socket.SHUT_WR)
    got = 0
    while True:
        b = s.recv(65536)
        if not b:
            break
        got += len(b)
    s.close()
    print("tunnel-client: sent %s bytes, read %d" % (up, got))


def exfil_names(path, domain):
    with open(path, "rb") as f:
        text = base64.b32encode(f.read()).decode().rstrip("=").lower()
    per = 3 * 60
    for i in range(0, len(text), per):
        chunk = text[i : i + per]
        labels = [chunk[j : j + 60] for j in range(0, len(chunk), 60)]
        print("%s.%04x.%s TXT" % (".".join(labels), i // per, domain))


def log_uniform(r, lo, hi):
    return int(math.exp(r.uniform(math.log(lo), math.log(hi))))


def browse_plan(seed, http_names, https_names):
    r = random.Random(int(seed))
    sites = [("http", h) for h in http_names.split(",")] + [
        ("https", h) for h in https_names.split(",")
    ]
    left = 30
    while left > 0:
        scheme, host = r.choice(sites)
        k = min(left, r.randint(1, 4))
        urls = []
        for j in range(k):
            path = "/" if j == 0 else "/asset%d.%s" % (r.randint(1, 99), r.choice(["js", "css", "png"]))
            urls.append("%s://%s%s?bytes=%d" % (scheme, host, path, log_uniform(r, 200, 100000)))
        left -= k
        gap = min(10.0, max(0.2, 0.4 * r.paretovariate(1.1)))
        print("%.3f %s" % (gap, " ".join(urls)))


def cdn_plan(seed, domains):
    r = random.Random(int(seed))
    prefixes = ["www", "static", "img", "api", "cdn", "media", "assets", "js", "fonts", "video"]
    fetches = []
    for d in domains:
        names = r.sample(prefixes, 5)
        names += ["edge-%d" % r.randint(1, 64), "s%d" % r.randint(1, 9)]
        names += ["%s%d" % (r.choice(prefixes), r.randint(1, 20)) for _ in range(r.randint(1, 2))]
        for n in sorted(set(names)):
            for _ in range(r.choice([1, 1, 2])):
                scheme = r.choice(["http", "https", "https"])
                fetches.append("%s://%s.%s/?bytes=%d" % (scheme, n, d, log_uniform(r, 150, 20000)))
    r.shuffle(fetches)
    for url in fetches:
        print("%.3f %s" % (r.uniform(0.05, 0.4), url))


COMMANDS = {
    "beacon-plan": beacon_plan,
    "keepalive": keepalive,
    "longpoll": longpoll,
    "tunnel-server": tunnel_server,
    "tunnel-client": tunnel_client,
    "exfil-names": exfil_names,
    "browse-plan": browse_plan,
    "cdn-plan": lambda seed, *domains: cdn_plan(seed, domains),
}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(__doc__)
    COMMANDS[sys.argv[1]](*sys.argv[2:])
