#!/usr/bin/env python3
"""Writes seed corpora for the fuzz targets (fuzz/corpus/TARGET/) from captures.

usage: fuzz/seeds.py OUT_DIR CAPTURE... [--rules FILE...]

Reads pcap and pcapng files (Ethernet, VLAN, Linux cooked, raw IP, BSD loopback) and
writes each target's input format (see fuzz/src/lib.rs): frames for `decode`, UDP/TCP DNS
messages for `dns`, TCP segments of each connection for `tcp_reassembly`, the two
directions of port-80/8080 connections for `http`, the first client bytes of TLS
connections for `tls_client_hello`, QUIC long-header datagrams (and sealed CRYPTO frames
carrying the TLS ClientHellos found) for `quic_initial`, the capture files themselves (cut
at 16 KiB) for `pcap_reader`, and the rule files given after --rules for `sigma_loader`.
Deterministic: the same captures give the same seeds.
"""
import hashlib
import os
import re
import struct
import sys

MAX_SEEDS = 60         # per target and capture: enough variety, a corpus that loads fast
MAX_SEED = 16384       # bytes: libFuzzer's -max_len in `make fuzz`
LINKTYPES = [1, 0, 108, 101, 12, 14, 228, 229, 113, 276, 9, 50, 239, 127, 105]


def read_capture(data):
    """Yields (linktype, frame) from a pcap or pcapng file; stops at the first damage."""
    if len(data) < 24:
        return
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = "<" if magic[0] in (0xD4, 0x4D) else ">"
        lt = struct.unpack(e + "I", data[20:24])[0] & 0xFFFF
        off = 24
        while off + 16 <= len(data):
            incl = struct.unpack(e + "I", data[off + 8:off + 12])[0]
            yield lt, data[off + 16:off + 16 + incl]
            off += 16 + incl
    elif magic == b"\x0a\x0d\x0d\x0a":
        e = "<" if data[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
        off, ifaces = 0, []
        while off + 12 <= len(data):
            btype, blen = struct.unpack(e + "II", data[off:off + 8])
            if blen < 12:
                return
            body = data[off + 8:off + blen - 4]
            if btype == 0x0A0D0D0A:
                ifaces = []
            elif btype == 1:
                ifaces.append(struct.unpack(e + "H", body[:2])[0])
            elif btype == 6 and len(body) >= 20:
                iface, _, _, cap, _ = struct.unpack(e + "IIIII", body[:20])
                if iface < len(ifaces):
                    yield ifaces[iface], body[20:20 + cap]
            off += blen


def ip_of(lt, f):
    """The IP packet inside a frame, or None."""
    if lt == 1:
        et, p = struct.unpack(">H", f[12:14])[0] if len(f) >= 14 else 0, 14
        while et in (0x8100, 0x88A8) and len(f) >= p + 4:
            et, p = struct.unpack(">H", f[p + 2:p + 4])[0], p + 4
        return f[p:] if et in (0x0800, 0x86DD) else None
    if lt == 113:
        return f[16:]
    if lt in (101, 12, 14, 228, 229):
        return f
    if lt in (0, 108):
        return f[4:]
    if lt == 276:
        return f[20:]
    return None


def transport(ip):
    """(proto, src, dst, l4 bytes) of an unfragmented IPv4/IPv6 packet, or None."""
    if len(ip) < 20:
        return None
    if ip[0] >> 4 == 4:
        ihl = (ip[0] & 15) * 4
        total = struct.unpack(">H", ip[2:4])[0]
        if struct.unpack(">H", ip[6:8])[0] & 0x3FFF:
            return None
        return ip[9], ip[12:16], ip[16:20], ip[ihl:max(total, ihl)]
    if ip[0] >> 4 == 6 and len(ip) >= 40:
        return ip[6], ip[8:24], ip[24:40], ip[40:40 + struct.unpack(">H", ip[4:6])[0]]
    return None


def rec(tag, body):
    return bytes([tag]) + struct.pack(">H", min(len(body), 0xFFFF)) + body[:0xFFFF]


def varint(n):
    return bytes([0x40 | (n >> 8), n & 0xFF]) if n < 16384 else struct.pack(">I", 0x80000000 | n)


class Seeds:
    def __init__(self, out):
        self.out, self.count = out, {}

    def add(self, target, data, key):
        if not data or len(data) > MAX_SEED or self.count.get((target, key), 0) >= MAX_SEEDS:
            return
        self.count[(target, key)] = self.count.get((target, key), 0) + 1
        d = os.path.join(self.out, target)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb") as f:
            f.write(data)


def chlo(entries):
    """Google QUIC's CHLO (QUIC Crypto): tag, entry count and padding (little-endian u16s),
    then (tag, end offset u32 LE) sorted by tag as a little-endian u32, then the values."""
    entries = sorted(entries, key=lambda e: int.from_bytes(e[0], "little"))
    out, end = b"CHLO" + struct.pack("<HH", len(entries), 0), 0
    for tag, value in entries:
        end += len(value)
        out += tag + struct.pack("<I", end)
    return out + b"".join(v for _, v in entries)


def from_capture(seeds, path):
    with open(path, "rb") as f:
        data = f.read()
    seeds.add("pcap_reader", data[:MAX_SEED], path)
    conns = {}
    for lt, frame in read_capture(data):
        if lt in LINKTYPES:
            seeds.add("decode", rec(LINKTYPES.index(lt), frame), path)
        ip = ip_of(lt, frame)
        t = transport(ip) if ip else None
        if not t:
            continue
        proto, src, dst, l4 = t
        if proto == 17 and len(l4) >= 8:
            sport, dport = struct.unpack(">HH", l4[:4])
            pl = l4[8:]
            if 53 in (sport, dport):
                seeds.add("dns", rec(0 if dport == 53 else 1, pl), path)
            if pl and pl[0] & 0xC0 == 0xC0:
                seeds.add("quic_initial", rec(0 if dport == 443 or sport > dport else 1, pl), path)
        elif proto == 6 and len(l4) >= 20:
            sport, dport, seq, ack = struct.unpack(">HHII", l4[:12])
            flags, pl = l4[13] & 0x1F, l4[(l4[12] >> 4) * 4:]
            key = tuple(sorted([(src, sport), (dst, dport)]))
            c = conns.setdefault(key, {"segs": [], "first": (src, sport), "dirs": [b"", b""], "http": []})
            d = 0 if (src, sport) == c["first"] else 1
            if len(c["segs"]) < 64:
                c["segs"].append(rec((d << 7) | 0x20 | flags, struct.pack(">II", seq, ack) + pl))
            if pl and len(c["dirs"][d]) < MAX_SEED:
                c["dirs"][d] += pl
                c["http"].append(rec(d, pl))
            if 53 in (sport, dport) and len(pl) > 2:
                seeds.add("dns", rec(2 | (0 if dport == 53 else 1), pl[2:]), path)
    for c in conns.values():
        seeds.add("tcp_reassembly", b"".join(c["segs"]), path)
        client = c["dirs"][0]
        if client[:1] == b"\x16":
            seeds.add("tls_client_hello", b"\x00" + client, path)
            seeds.add("tls_client_hello", b"\x07" + client, path)
            hello = client[5:5 + 4 + int.from_bytes(client[6:9], "big")]
            frame = b"\x06" + varint(0) + varint(len(hello)) + hello
            seeds.add("quic_initial", rec(2, frame), path)
            half = len(hello) // 2
            two = (rec(2, b"\x06" + varint(half) + varint(len(hello) - half) + hello[half:])
                   + rec(6, b"\x06" + varint(0) + varint(half) + hello[:half]))
            seeds.add("quic_initial", two, path)
            # The same name in a Q050 CHLO, in Google's CRYPTO frame (0x08), sealed by tag
            # bit 3 under Q050's keys.
            sni = re.search(rb"[a-z0-9-]+(?:\.[a-z0-9-]+)+", hello[40:]) if len(hello) > 40 else None
            msg = chlo([(b"SNI\0", sni.group(0) if sni else b"example.com"), (b"VER\0", b"Q050"),
                        (b"UAID", b"Chrome/80.0.3987.163 Linux x86_64"), (b"PAD\0", b"-" * 200)])
            seeds.add("quic_initial", rec(10, b"\x08" + varint(0) + varint(len(msg)) + msg), path)
        if client[:4] in (b"GET ", b"POST", b"HEAD", b"PUT ", b"CONN", b"OPTI"):
            seeds.add("http", b"".join(c["http"]), path)


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    out, args = argv[1], argv[2:]
    rules = args[args.index("--rules") + 1:] if "--rules" in args else []
    caps = args[:args.index("--rules")] if "--rules" in args else args
    seeds = Seeds(out)
    for p in caps:
        from_capture(seeds, p)
    for p in rules:
        with open(p, "rb") as f:
            seeds.add("sigma_loader", f.read(), "rules")
    for t in sorted({t for t, _ in seeds.count}):
        n = sum(v for (tt, _), v in seeds.count.items() if tt == t)
        print(f"seeds: {t}: {n}")


if __name__ == "__main__":
    main(sys.argv)
