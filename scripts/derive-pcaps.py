#!/usr/bin/env python3
"""derive-pcaps.py -- build the hard cases of pcaps/ from the real captures (python3 stdlib only).

usage: scripts/derive-pcaps.py [--src DIR] [--out DIR] [--testdata FILE]

Real clients do not reorder, retransmit with other bytes, split a ClientHello over two TLS
records, pipeline, start mid-stream, use odd ports or corrupt packets on demand.
This script takes the captures pcaps/make.sh made (classic pcap, Ethernet, IPv4) and rewrites
them: TCP segments are re-cut, reordered or shifted with correct sequence and acknowledgement
numbers; IPv4 lengths and checksums and TCP/UDP checksums are recomputed for every packet
written (so unlike the real captures, these have valid checksums). Timestamps stay increasing:
a packet sent "early" takes the time slot of the one it overtakes. The QUIC vectors of RFC 9001
and RFC 9369 (Appendix A.2) are read from src/proto/quic/testdata.rs.

Every output depends only on its inputs: run it twice, get the same bytes. What each file
holds and what c2tap should report is in pcaps/README.md.
"""
import argparse
import os
import re
import struct
import sys

ETH_LEN = 14
PCAP_MAGIC_US = 0xA1B2C3D4
LINKTYPE_ETHERNET = 1
# Fixed times for the files built from the RFC vectors (2026-01-01 00:00:00 UTC): the same
# bytes on every run.
VECTOR_EPOCH = 1767225600


# ---------------------------------------------------------------- pcap files

def read_pcap(path):
    """[(ts_us, frame bytes)] of a classic little-endian microsecond Ethernet pcap."""
    with open(path, "rb") as f:
        data = f.read()
    magic, _, _, _, _, _, linktype = struct.unpack_from("<IHHiIII", data, 0)
    if magic != PCAP_MAGIC_US or linktype != LINKTYPE_ETHERNET:
        sys.exit("%s: not a little-endian microsecond Ethernet pcap" % path)
    out, off = [], 24
    while off + 16 <= len(data):
        sec, usec, incl, _orig = struct.unpack_from("<IIII", data, off)
        off += 16
        out.append((sec * 1_000_000 + usec, data[off:off + incl]))
        off += incl
    return out


def write_pcap(path, frames):
    """frames: [(ts_us, frame bytes)]; times must not go backwards."""
    last = 0
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", PCAP_MAGIC_US, 2, 4, 0, 0, 262144, LINKTYPE_ETHERNET))
        for ts, frame in frames:
            assert ts >= last, "%s: time goes backwards" % path
            last = ts
            f.write(struct.pack("<IIII", ts // 1_000_000, ts % 1_000_000, len(frame), len(frame)))
            f.write(frame)
    print("derive-pcaps: wrote %s (%d packets, %d bytes)" % (path, len(frames), os.path.getsize(path)),
          file=sys.stderr)


# ---------------------------------------------------------------- packets

def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


class Pkt:
    """One Ethernet/IPv4/TCP-or-UDP packet, editable; build() makes the frame again."""

    def __init__(self, ts, frame):
        self.ts = ts
        self.eth = frame[:ETH_LEN]
        ip = frame[ETH_LEN:]
        ihl = (ip[0] & 0x0F) * 4
        total = struct.unpack_from("!H", ip, 2)[0]
        self.ip = bytearray(ip[:ihl])
        self.proto = ip[9]
        self.src, self.dst = ip[12:16], ip[16:20]
        l4 = ip[ihl:total]
        self.sport, self.dport = struct.unpack_from("!HH", l4, 0)
        if self.proto == 6:
            thl = (l4[12] >> 4) * 4
            self.seq, self.ack = struct.unpack_from("!II", l4, 4)
            self.flags = l4[13]
            self.tcp = bytearray(l4[:thl])
            self.payload = bytes(l4[thl:])
        elif self.proto == 17:
            self.payload = bytes(l4[8:])
        else:
            raise ValueError("not TCP or UDP")

    def copy(self, **changes):
        c = Pkt.__new__(Pkt)
        c.__dict__.update({k: (bytearray(v) if isinstance(v, bytearray) else v)
                           for k, v in self.__dict__.items()})
        c.__dict__.update(changes)
        return c

    @property
    def syn(self):
        return self.proto == 6 and self.flags & 0x02

    def key(self):
        """The flow, both directions alike."""
        a, b = (self.src, self.sport), (self.dst, self.dport)
        return (self.proto,) + (a + b if a <= b else b + a)

    def build(self):
        if self.proto == 6:
            h = bytearray(self.tcp)
            struct.pack_into("!HHII", h, 0, self.sport, self.dport, self.seq, self.ack)
            h[13] = self.flags
            struct.pack_into("!H", h, 16, 0)
            l4 = bytes(h) + self.payload
        else:
            l4 = struct.pack("!HHHH", self.sport, self.dport, 8 + len(self.payload), 0) + self.payload
        pseudo = self.src + self.dst + struct.pack("!BBH", 0, self.proto, len(l4))
        c = csum(pseudo + l4)
        l4 = bytearray(l4)
        struct.pack_into("!H", l4, 16 if self.proto == 6 else 6, c if c or self.proto == 6 else 0xFFFF)
        ip = bytearray(self.ip)
        struct.pack_into("!H", ip, 2, len(ip) + len(l4))
        ip[12:16], ip[16:20] = self.src, self.dst
        struct.pack_into("!H", ip, 10, 0)
        struct.pack_into("!H", ip, 10, csum(bytes(ip)))
        return (self.ts, bytes(self.eth) + bytes(ip) + bytes(l4))


def load(path):
    return [Pkt(ts, f) for ts, f in read_pcap(path)]


def flows(pkts):
    """{flow key: [packets]} in order of first appearance."""
    out = {}
    for p in pkts:
        out.setdefault(p.key(), []).append(p)
    return list(out.values())


def client_of(flow):
    """(ip, port) of the side that sent the SYN (or the first packet)."""
    first = next((p for p in flow if p.syn and not p.flags & 0x10), flow[0])
    return (first.src, first.sport)


def is_client(p, client):
    return (p.src, p.sport) == client


def retime(pkts, slots):
    """Give pkts the times of slots (sorted), one each: reordered packets keep the pace."""
    slots = sorted(slots)
    assert len(slots) == len(pkts)
    return [p.copy(ts=t) for p, t in zip(pkts, slots)]


def spread(base, n, step=1):
    """n distinct times from base on, step µs apart."""
    return [base + i * step for i in range(n)]


def client_stream(flow, client):
    """Client data segments (non-empty payload), in sequence order, first copies only."""
    segs, seen = [], set()
    for p in flow:
        if is_client(p, client) and p.payload and p.seq not in seen:
            seen.add(p.seq)
            segs.append(p)
    return sorted(segs, key=lambda p: (p.seq - segs[0].seq) & 0xFFFFFFFF)


def tls_record_end(stream):
    """Length of the first TLS record (5-byte header + body) at the start of stream."""
    assert stream[0] == 0x16, "not a TLS handshake record"
    return 5 + struct.unpack_from("!H", stream, 3)[0]


def resegment(template, data, seq, cuts):
    """Segments of data (starting at sequence number seq) cut at the offsets in cuts."""
    bounds = [0] + list(cuts) + [len(data)]
    return [template.copy(seq=(seq + a) & 0xFFFFFFFF, payload=data[a:b])
            for a, b in zip(bounds, bounds[1:])]


def shift_after(pkts, client, edge, delta):
    """Client seq ≥ edge and server ack ≥ edge move by delta (bytes inserted at edge)."""
    out = []
    for p in pkts:
        if p.proto == 6 and not p.syn:
            if is_client(p, client) and ((p.seq - edge) & 0xFFFFFFFF) < 0x80000000:
                p = p.copy(seq=(p.seq + delta) & 0xFFFFFFFF)
            elif not is_client(p, client) and p.flags & 0x10 and ((p.ack - edge) & 0xFFFFFFFF) < 0x80000000:
                p = p.copy(ack=(p.ack + delta) & 0xFFFFFFFF)
        out.append(p)
    return out


def replace_hello(flow, client, new_segments):
    """The flow with its ClientHello segments replaced by new_segments, in the time slots
    of the originals (and of as many following packets as needed: none here)."""
    stream = client_stream(flow, client)
    data = b"".join(p.payload for p in stream)
    end = tls_record_end(data)
    hello = []
    n = 0
    for p in stream:
        if n >= end:
            break
        hello.append(p)
        n += len(p.payload)
    assert n == end, "the ClientHello does not end at a segment boundary"
    first = flow.index(hello[0])
    slots = spread(hello[0].ts, len(new_segments))
    rest = [p for p in flow if all(p is not h for h in hello)]
    return rest[:first] + retime(new_segments, slots) + rest[first:], hello


# ---------------------------------------------------------------- TCP cases

def tls_split_ooo(src):
    """Chromium's ClientHello (one 1.9 KB record, two segments) re-cut into three segments
    sent third, first, second; only Chromium's first connection is kept."""
    flow = flows(load(os.path.join(src, "chromium-tls.pcap")))[0]
    client = client_of(flow)
    stream = client_stream(flow, client)
    data = b"".join(p.payload for p in stream)
    end = tls_record_end(data)
    segs = resegment(stream[0], data[:end], stream[0].seq, [600, 1200])
    out, _ = replace_hello(flow, client, [segs[2], segs[0], segs[1]])
    return out


def sni_offset(hello, name):
    i = hello.find(name)
    assert i > 0, "SNI %r not found" % name
    return i


def tls_retrans_conflict(src):
    """curl's ClientHello to the dev-tunnel name cut in two segments; the first segment is
    then retransmitted with other bytes (another host name of the same length), then the
    second segment comes. The first copy counts (RFC 9293 §3.10.7.4; as tshark and Zeek do)."""
    flow = flows(load(os.path.join(src, "tls-curl.pcap")))[0]
    client = client_of(flow)
    stream = client_stream(flow, client)
    data = b"".join(p.payload for p in stream)
    end = tls_record_end(data)
    name = b"abc123-8080.usw2.devtunnels.ms"
    at = sni_offset(data[:end], name)
    other = (b"x" * (len(name) - len(b".example.com")) + b".example.com")
    forged = data[:at] + other + data[at + len(name):end]
    cut = at + len(name) + 40
    segs = resegment(stream[0], data[:end], stream[0].seq, [cut])
    conflict = stream[0].copy(seq=stream[0].seq, payload=forged[:cut])
    out, _ = replace_hello(flow, client, [segs[0], conflict, segs[1]])
    return out


def tls_two_records(src):
    """openssl s_client's ClientHello (SNI h2.cftunnel.com, ALPN h2, port 7844) split into two
    TLS records, the boundary inside the server name, sent in two TCP segments whose boundary
    is inside the second record's header. Later client bytes move by the 5 bytes added."""
    flow = flows(load(os.path.join(src, "tls-h2-7844.pcap")))[0]
    client = client_of(flow)
    stream = client_stream(flow, client)
    data = b"".join(p.payload for p in stream)
    end = tls_record_end(data)
    hs = data[5:end]
    k = sni_offset(hs, b"h2.cftunnel.com") + 5
    recs = (data[:3] + struct.pack("!H", k) + hs[:k]
            + data[:3] + struct.pack("!H", len(hs) - k) + hs[k:])
    segs = resegment(stream[0], recs, stream[0].seq, [5 + k + 3])
    edge = (stream[0].seq + end) & 0xFFFFFFFF
    flow = shift_after(flow, client, edge, 5)
    out, _ = replace_hello(flow, client, segs)
    return out


def http_pipelined(src):
    """curl's four keep-alive requests (GET, POST with Content-Length, chunked POST, GET) sent
    back to back before any answer, in two segments cut inside the second request's headers;
    the server's four answers follow as they came."""
    flow = flows(load(os.path.join(src, "http-keepalive.pcap")))[0]
    client = client_of(flow)
    stream = client_stream(flow, client)
    data = b"".join(p.payload for p in stream)
    first_len = len(stream[0].payload)
    segs = resegment(stream[0], data, stream[0].seq, [first_len + 40])
    end = (stream[0].seq + len(data)) & 0xFFFFFFFF
    out, placed = [], False
    for p in flow:
        if is_client(p, client) and p.payload:
            if not placed:
                out += retime(segs, spread(p.ts, len(segs)))
                placed = True
            continue
        if is_client(p, client) and not p.syn and placed:
            p = p.copy(seq=end)
        out.append(p)
    return out


def odd_ports(src):
    """TLS on port 80 (curl's ClientHello to example.com, moved from 443) and HTTP on port 443
    (the four keep-alive requests, moved from 8080). c2tap looks at the bytes, not the port."""
    tls = flows(load(os.path.join(src, "tls-curl.pcap")))[1]
    http = flows(load(os.path.join(src, "http-keepalive.pcap")))[0]

    def move(flow, old, new):
        out = []
        for p in flow:
            p = p.copy(sport=new if p.sport == old else p.sport, dport=new if p.dport == old else p.dport)
            out.append(p)
        return out

    tls = move(tls, 443, 80)
    http = move(http, 8080, 443)
    # The HTTP flow starts 10 ms after the TLS flow's last packet.
    shift = tls[-1].ts + 10_000 - http[0].ts
    return tls + [p.copy(ts=p.ts + shift) for p in http]


def midstream(src):
    """Pickup without SYN: the keep-alive HTTP connection from its second request on (the
    handshake, the first GET and its answer are not in the file), then s_client's TLS
    connection from its ClientHello on (no SYN, SYN-ACK, ACK)."""
    http = flows(load(os.path.join(src, "http-keepalive.pcap")))[0]
    client = client_of(http)
    reqs = [i for i, p in enumerate(http) if is_client(p, client) and p.payload]
    http = http[reqs[1]:]
    tls = flows(load(os.path.join(src, "tls-h2-7844.pcap")))[0]
    tclient = client_of(tls)
    first = next(i for i, p in enumerate(tls) if is_client(p, tclient) and p.payload)
    tls = tls[first:]
    shift = http[-1].ts + 10_000 - tls[0].ts
    return http + [p.copy(ts=p.ts + shift) for p in tls]


def http_cookie(src):
    """curl's keep-alive connection with a Cookie header added to its first request (after
    the request line); every later client sequence number and server acknowledgement
    moves by its length."""
    flow = flows(load(os.path.join(src, "http-keepalive.pcap")))[0]
    client = client_of(flow)
    first = client_stream(flow, client)[0]
    cookie = b"Cookie: session=c2tap-derived; theme=dark\r\n"
    at = first.payload.index(b"\r\n") + 2
    edge = (first.seq + at) & 0xFFFFFFFF
    out = []
    for p in shift_after(flow, client, edge, len(cookie)):
        if p.proto == 6 and is_client(p, client) and p.seq == first.seq and p.payload == first.payload:
            p = p.copy(payload=first.payload[:at] + cookie + first.payload[at:])
        out.append(p)
    return out


def dns_zbits(src):
    """dig's lookups with the first UDP query sent with CD set (the response echoes it,
    RFC 4035 §3.2.2, and sets AD): that transaction's Zeek Z is 3 (AD and CD), every
    other one's 0."""
    pkts = load(os.path.join(src, "dns-benign.pcap"))
    udp = [p for p in pkts if p.proto == 17 and 53 in (p.sport, p.dport)]
    query = next(p for p in udp if p.dport == 53)
    qid = query.payload[:2]
    out = []
    for p in pkts:
        if p.proto == 17 and p.payload[:2] == qid and {p.sport, p.dport} == {query.sport, 53}:
            flags = struct.unpack_from("!H", p.payload, 2)[0] | 0x0010
            if p.sport == 53:
                flags |= 0x0020
            p = p.copy(payload=p.payload[:2] + struct.pack("!H", flags) + p.payload[4:])
        out.append(p)
    return out


# ---------------------------------------------------------------- QUIC cases

def quic_flows(src):
    return flows(load(os.path.join(src, "chromium-quic.pcap")))


def corrupt(p, at=600):
    """The datagram with one byte of its protected payload flipped: AEAD authentication
    fails (header protection is lifted with a sample that is still intact)."""
    b = bytearray(p.payload)
    b[at] ^= 0x55
    return p.copy(payload=bytes(b))


def quic_ooo(src):
    """Chromium's two-packet ClientHello with the second packet first (packet numbers 2, 1);
    its retransmissions are left out (how many fit in make.sh's 2 s varies)."""
    f = quic_flows(src)[0]
    return retime([f[1], f[0]], [p.ts for p in f[:2]])


def quic_corrupt(src):
    """Flow 1 (region1.v2.argotunnel.com): its first Initial with a flipped byte, then the
    second, and nothing more: the hello is never complete, no event. Flow 2 (the dev tunnel):
    first Initial, a corrupted copy of the second, then the true second: one event."""
    f1, f2 = quic_flows(src)[:2]
    a = [corrupt(f1[0]), f1[1]]
    b = retime([f2[0], corrupt(f2[1]), f2[1]], spread(f2[0].ts, 3, 500))
    return a + b


def ipv4_fragments(p, mtu=1500):
    """The UDP datagram of p as IPv4 fragments of at most mtu bytes (RFC 791)."""
    ts, frame = p.build()
    ip = frame[ETH_LEN:]
    ihl = (ip[0] & 0x0F) * 4
    body = ip[ihl:]
    step = (mtu - ihl) // 8 * 8
    out = []
    ident = 0x2222
    for i, off in enumerate(range(0, len(body), step)):
        part = body[off:off + step]
        more = off + step < len(body)
        h = bytearray(ip[:ihl])
        struct.pack_into("!HHH", h, 2, ihl + len(part), ident, (0x2000 if more else 0) | (off // 8))
        struct.pack_into("!H", h, 10, 0)
        struct.pack_into("!H", h, 10, csum(bytes(h)))
        out.append((ts + i, frame[:ETH_LEN] + bytes(h) + part))
    return out


def testdata_hex(path, name):
    text = open(path, encoding="utf-8").read()
    m = re.search(r"pub const %s: &str = (concat!\((.*?)\)|\"([0-9a-f]*)\");" % name, text, re.S)
    assert m, "%s not in %s" % (name, path)
    return bytes.fromhex("".join(re.findall(r'"([0-9a-f]*)"', m.group(1))))


def vector_packet(src_ip, sport, payload, ts):
    """An Ethernet/IPv4/UDP packet 127.0.0.1:sport → src_ip:443 (zero MACs, as lo)."""
    eth = b"\0" * 12 + b"\x08\x00"
    ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 0, 0, 0x4000, 64, 17, 0,
                               bytes([127, 0, 0, 1]), bytes(src_ip)))
    p = Pkt.__new__(Pkt)
    p.__dict__.update(ts=ts, eth=eth, ip=ip, proto=17, src=bytes([127, 0, 0, 1]),
                      dst=bytes(src_ip), sport=sport, dport=443, payload=payload)
    return p


def zero_rtt(dcid, body_len=20, first=0xD0):
    """A long-header 0-RTT packet (type 1 in v1) with an opaque body: c2tap skips it."""
    return (bytes([first]) + b"\0\0\0\x01" + bytes([len(dcid)]) + dcid + b"\0"
            + struct.pack("!H", 0x4000 | body_len) + b"\xab" * body_len)


def quic_coalesced(src, testdata):
    """Flow 1: the RFC 9001 A.2 client Initial (SNI example.com) with a 0-RTT packet coalesced
    after it in one datagram. Flow 2: Chromium's two Initials of the dev-tunnel connection
    coalesced into one 2.5 KB datagram, which the 1500-byte link carries as two IPv4 fragments."""
    rfc = testdata_hex(testdata, "RFC9001_A2_PACKET")
    dcid = testdata_hex(testdata, "DCID")
    t0 = VECTOR_EPOCH * 1_000_000
    a = vector_packet([127, 0, 0, 10], 50001, rfc + zero_rtt(dcid), t0)
    f2 = quic_flows(src)[1]
    both = f2[0].copy(payload=f2[0].payload + f2[1].payload, ts=t0 + 1000)
    return [a.build()] + ipv4_fragments(both)


def quic_v2(src, testdata):
    """The RFC 9369 A.2 client Initial (QUIC version 2, SNI example.com) alone."""
    rfc = testdata_hex(testdata, "RFC9369_A2_PACKET")
    return [vector_packet([127, 0, 0, 10], 50002, rfc, VECTOR_EPOCH * 1_000_000).build()]


# ---------------------------------------------------------------- tunnels

# Outer addresses of the tunnels: an access point and its WLAN controller, a switch and
# its ERSPAN collector, two routers bridging Ethernet (documentation prefixes).
AP_IP, CONTROLLER_IP = bytes([198, 51, 100, 10]), bytes([198, 51, 100, 1])
SWITCH_IP, COLLECTOR_IP = bytes([192, 0, 2, 20]), bytes([192, 0, 2, 2])
BRIDGE_A_IP, BRIDGE_B_IP = bytes([203, 0, 113, 1]), bytes([203, 0, 113, 2])
OUTER_MAC_A, OUTER_MAC_B = bytes.fromhex("020000000a01"), bytes.fromhex("020000000a02")
GRE_S, GRE_K = 0x1000, 0x2000
# ERSPAN session id and the 802.11 addresses of the Wi-Fi case.
ERSPAN_SESSION = 0x17
WLAN_BSSID = bytes.fromhex("02000000ab01")
WLAN_STATION = bytes.fromhex("02000000ab10")
WLAN_GATEWAY = bytes.fromhex("02000000ab20")


def outer_gre(ts, src, dst, gre, ident):
    """Ethernet/IPv4 (protocol 47, DF) around a GRE packet, checksum valid."""
    ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(gre), ident & 0xFFFF, 0x4000,
                               64, 47, 0, src, dst))
    struct.pack_into("!H", ip, 10, csum(bytes(ip)))
    a, b = (OUTER_MAC_A, OUTER_MAC_B) if src < dst else (OUTER_MAC_B, OUTER_MAC_A)
    return (ts, b + a + b"\x08\x00" + bytes(ip) + gre)


def gre_header(proto, flags=0, key=None, seq=None):
    """GRE (RFC 2784/2890): flags, protocol type, then the key and sequence words."""
    h = struct.pack("!HH", flags | (GRE_K if key is not None else 0) | (GRE_S if seq is not None else 0),
                    proto)
    if key is not None:
        h += struct.pack("!I", key)
    if seq is not None:
        h += struct.pack("!I", seq)
    return h


def tunnelled(frames, client_ip, wrap, a_ip, b_ip):
    """Each Ethernet frame of frames wrapped by wrap(i, frame, from_client) into GRE from
    a_ip to b_ip (b_ip to a_ip for frames the server sent)."""
    out = []
    for i, (ts, frame) in enumerate(frames):
        from_client = frame[ETH_LEN + 12:ETH_LEN + 16] == client_ip
        src, dst = (a_ip, b_ip) if from_client else (b_ip, a_ip)
        out.append(outer_gre(ts, src, dst, wrap(i, frame, from_client), 0x1000 + i))
    return out


def real_frames(src, name):
    """(ts, frame) of a real capture, checksums recomputed, and its first packet's source."""
    pkts = load(os.path.join(src, name))
    return [p.build() for p in pkts], pkts[0].src


def erspan1(src):
    """ERSPAN type I: GRE protocol 0x88BE without sequence number, the mirrored frame
    right after the 4-byte GRE header (dns-benign)."""
    frames, client = real_frames(src, "dns-benign.pcap")
    return tunnelled(frames, client, lambda i, f, _: gre_header(0x88BE) + f, SWITCH_IP, COLLECTOR_IP)


def erspan2(src):
    """ERSPAN type II: GRE sequence number, 8-byte header (version 1, VLAN 0, COS 0,
    session, index 0) (tls-curl)."""
    frames, client = real_frames(src, "tls-curl.pcap")

    def wrap(i, f, _):
        hdr = struct.pack("!HHI", (1 << 12) | 0, ERSPAN_SESSION, 0)
        return gre_header(0x88BE, seq=i) + hdr + f
    return tunnelled(frames, client, wrap, SWITCH_IP, COLLECTOR_IP)


def erspan3(src):
    """ERSPAN type III: 12-byte header (version 2, timestamp, hardware id); frames
    alternate with and without the GRE sequence number, and every third carries the
    8-byte platform-specific subheader (O bit) (http-keepalive)."""
    frames, client = real_frames(src, "http-keepalive.pcap")

    def wrap(i, f, _):
        sub = i % 3 == 2
        hdr = struct.pack("!HHIHH", (2 << 12) | 0, ERSPAN_SESSION, (i * 1000) & 0xFFFFFFFF,
                          0, (5 << 4) | (1 if sub else 0))
        if sub:
            hdr += struct.pack("!II", 3 << 26, 0)  # platform id 3, its 58 bits zero
        return gre_header(0x22EB, seq=i if i % 2 == 0 else None) + hdr + f
    return tunnelled(frames, client, wrap, SWITCH_IP, COLLECTOR_IP)


def gre_teb(src):
    """Transparent Ethernet bridging: GRE protocol 0x6558 with a key, Chromium's QUIC
    (chromium-quic)."""
    frames, client = real_frames(src, "chromium-quic.pcap")
    return tunnelled(frames, client, lambda i, f, _: gre_header(0x6558, key=42) + f,
                     BRIDGE_A_IP, BRIDGE_B_IP)


def wlan_frame(f, from_client, seq, qos, protected=False):
    """The Ethernet frame f as the 802.11 data frame an AP tunnels: ToDS from the
    station, FromDS to it, LLC/SNAP before the EtherType, no FCS."""
    ethertype, payload = f[12:14], f[ETH_LEN:]
    subtype = 0x88 if qos else 0x08
    if from_client:
        fc1, a1, a2, a3 = 0x01, WLAN_BSSID, WLAN_STATION, WLAN_GATEWAY
    else:
        fc1, a1, a2, a3 = 0x02, WLAN_STATION, WLAN_BSSID, WLAN_GATEWAY
    if protected:
        fc1 |= 0x40
    h = struct.pack("!BBH", subtype, fc1, 0x2C00) + a1 + a2 + a3 + struct.pack("<H", (seq & 0xFFF) << 4)
    if qos:
        h += b"\x00\x00"  # QoS control: TID 0, no A-MSDU
    if protected:
        # CCMP header, then bytes no one can read (the frame's own payload, scrambled).
        return h + bytes([seq & 0xFF, 0, 0, 0x20, 0, 0, 0, 0]) + bytes(b ^ 0x5A for b in payload)
    return h + b"\xAA\xAA\x03\x00\x00\x00" + ethertype + payload


def gre_wlan(src):
    """802.11 in GRE as an Aruba AP tunnels it to its controller (protocol type 0x8200):
    http-curl's DNS as plain data frames and its HTTP as QoS data, each frame once; then
    what c2tap cannot decode and counts: a null-data frame, a beacon-less management
    frame (probe request) and a protected copy of the first frame."""
    frames, client = real_frames(src, "http-curl.pcap")

    def wrap(i, f, from_client):
        udp = f[ETH_LEN + 9] == 17
        return gre_header(0x8200) + wlan_frame(f, from_client, i, qos=not udp)
    out = tunnelled(frames, client, wrap, AP_IP, CONTROLLER_IP)
    ts = frames[-1][0]
    null_data = struct.pack("!BBH", 0x48, 0x01, 0) + WLAN_BSSID + WLAN_STATION + WLAN_BSSID + b"\0\0"
    probe = (struct.pack("!BBH", 0x40, 0x00, 0) + b"\xff" * 6 + WLAN_STATION + b"\xff" * 6
             + b"\0\0" + b"\x00\x00")  # probe request, wildcard SSID
    protected = wlan_frame(frames[0][1], True, 1000, qos=True, protected=True)
    for j, body in enumerate([null_data, probe, protected], 1):
        out.append(outer_gre(ts + j * 1000, AP_IP, CONTROLLER_IP, gre_header(0x8200) + body, 0x2000 + j))
    return out


def amsdu_subframe(f, from_client):
    """The Ethernet frame f as an A-MSDU subframe (IEEE 802.11-2020 9.3.2.2.2): DA, SA,
    the MSDU's length, then LLC/SNAP and the packet."""
    da, sa = (WLAN_GATEWAY, WLAN_STATION) if from_client else (WLAN_STATION, WLAN_GATEWAY)
    msdu = b"\xAA\xAA\x03\x00\x00\x00" + f[12:14] + f[ETH_LEN:]
    return da + sa + struct.pack("!H", len(msdu)) + msdu


def amsdu_frame(frames, from_client, seq):
    """Ethernet frames sent the same way as one QoS data frame whose body is an A-MSDU
    (QoS control bit 7), its subframes padded to 4 bytes but the last, no FCS."""
    if from_client:
        fc1, a1, a2, a3 = 0x01, WLAN_BSSID, WLAN_STATION, WLAN_BSSID
    else:
        fc1, a1, a2, a3 = 0x02, WLAN_STATION, WLAN_BSSID, WLAN_BSSID
    h = struct.pack("!BBH", 0x88, fc1, 0x2C00) + a1 + a2 + a3 + struct.pack("<H", (seq & 0xFFF) << 4)
    h += b"\x80\x00"  # QoS control: TID 0, A-MSDU present
    body = b""
    for i, f in enumerate(frames):
        if i:
            body += b"\x00" * (-len(body) % 4)
        body += amsdu_subframe(f, from_client)
    return h + body


def gre_amsdu(src):
    """802.11 A-MSDUs in GRE 0x8200: dns-benign's frames, each run of frames sent the same way
    aggregated (up to 3) into one A-MSDU, as an AP aggregates small MSDUs; the A-MSDU takes
    the time of its last frame."""
    frames, client = real_frames(src, "dns-benign.pcap")
    runs = []
    for ts, f in frames:
        from_client = f[ETH_LEN + 12:ETH_LEN + 16] == client
        if runs and runs[-1][1] == from_client and len(runs[-1][2]) < 3:
            runs[-1][0] = ts
            runs[-1][2].append(f)
        else:
            runs.append([ts, from_client, [f]])
    out = []
    for i, (ts, from_client, fs) in enumerate(runs):
        src_ip, dst_ip = (AP_IP, CONTROLLER_IP) if from_client else (CONTROLLER_IP, AP_IP)
        body = gre_header(0x8200) + amsdu_frame(fs, from_client, i)
        out.append(outer_gre(ts, src_ip, dst_ip, body, 0x3000 + i))
    return out


# ---------------------------------------------------------------- main

CASES = {
    "tls-split-ooo": tls_split_ooo,
    "tls-retrans-conflict": tls_retrans_conflict,
    "tls-two-records": tls_two_records,
    "http-pipelined": http_pipelined,
    "odd-ports": odd_ports,
    "midstream": midstream,
    "http-cookie": http_cookie,
    "dns-zbits": dns_zbits,
    "quic-ooo": quic_ooo,
    "quic-corrupt": quic_corrupt,
}
# Tunnels: real captures re-encapsulated as a WLAN controller, a mirror session or a bridge
# would carry them (frames, not Pkt: the outer headers are built here).
TUNNEL_CASES = {
    "tunnel-erspan1": erspan1,
    "tunnel-erspan2": erspan2,
    "tunnel-erspan3": erspan3,
    "tunnel-gre-teb": gre_teb,
    "tunnel-gre-wlan": gre_wlan,
    "tunnel-gre-amsdu": gre_amsdu,
}
# The real captures the cases are made from.
SOURCES = ["chromium-tls.pcap", "tls-curl.pcap", "tls-h2-7844.pcap", "http-keepalive.pcap",
           "chromium-quic.pcap", "dns-benign.pcap", "http-curl.pcap"]
VECTOR_CASES = {
    "quic-coalesced": quic_coalesced,
    "quic-v2": quic_v2,
}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(here)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", default=os.path.join(repo, "pcaps"), help="the real captures")
    ap.add_argument("--out", default=None, help="where to write (default: --src)")
    ap.add_argument("--testdata", default=os.path.join(repo, "src/proto/quic/testdata.rs"))
    args = ap.parse_args()
    out = args.out or args.src
    missing = [n for n in SOURCES if not os.path.exists(os.path.join(args.src, n))]
    if missing:
        sys.exit("derive-pcaps: %s missing in %s: run pcaps/make.sh first" % (", ".join(missing), args.src))
    os.makedirs(out, exist_ok=True)
    for name, fn in CASES.items():
        pkts = fn(args.src)
        write_pcap(os.path.join(out, name + ".pcap"), [p.build() for p in pkts])
    for name, fn in VECTOR_CASES.items():
        write_pcap(os.path.join(out, name + ".pcap"), fn(args.src, args.testdata))
    for name, fn in TUNNEL_CASES.items():
        write_pcap(os.path.join(out, name + ".pcap"), fn(args.src))


if __name__ == "__main__":
    main()
