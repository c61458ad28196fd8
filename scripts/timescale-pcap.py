#!/usr/bin/env python3
"""timescale-pcap.py -- stretch the quiet gaps of a capture (python3 stdlib only).

usage: timescale-pcap.py [--factor F] [--threshold S] IN OUT

Beacons are captured at a short base interval (1 s) so that making them takes a minute; this
turns them into what a real beacon at F times that interval looks like. Packets are taken in
file order. The first packet keeps its time. For every later packet, the gap to the packet
before it (in the input) is:
  * multiplied by F when it is longer than S seconds (default 0.3): the sleeps between two
    check-ins, or between two heartbeats on a long-held connection;
  * kept as it is otherwise: the sub-second gaps inside one exchange (DNS question and answer,
    handshake, request and response, ACKs, FIN) keep their real timing.
The new time of a packet is the new time of the packet before it plus its new gap, so the
order of packets never changes and nothing else (bytes, lengths, headers) is touched. A gap
of S seconds or less is never stretched, so an exchange that takes longer than S inside
(a slow download) would be cut at that gap; the beacons here exchange in milliseconds.

Times are whole ticks of the file's own resolution (microseconds or nanoseconds in pcap; the
interface's if_tsresol in pcapng, microseconds when absent), and F is read as an exact
decimal: the new gap is round(gap * F) ticks (ties to even). The output is the same format,
byte order and resolution as the input: the same input and arguments give the same file,
byte for byte. Reads classic pcap (either byte order, microsecond or nanosecond magic) and
pcapng (Enhanced and Simple Packet Blocks; a Simple Packet Block has no time and is left
alone, other blocks are copied).
"""

import argparse
import struct
import sys
from fractions import Fraction

PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 10**6),
    b"\xa1\xb2\xc3\xd4": (">", 10**6),
    b"\x4d\x3c\xb2\xa1": ("<", 10**9),
    b"\xa1\xb2\x3c\x4d": (">", 10**9),
}
PCAPNG_SHB = 0x0A0D0D0A


class Stretcher:
    """Turns input times (in ticks) into output times, packet by packet."""

    def __init__(self, factor, threshold):
        self.factor = factor
        self.threshold = threshold  # seconds, Fraction
        self.last_in = None  # (ticks, ticks per second) of the previous packet, input
        self.last_out = None  # same, output, as a Fraction of seconds

    def __call__(self, ticks, per_sec):
        t = Fraction(ticks, per_sec)
        if self.last_in is None:
            new = t
        else:
            gap = t - self.last_in
            if gap > self.threshold:
                gap *= self.factor
            new = self.last_out + gap
        self.last_in, self.last_out = t, new
        return round(new * per_sec)


def do_pcap(data, stretch):
    endian, per_sec = PCAP_MAGICS[data[:4]]
    out = bytearray(data[:24])
    off = 24
    rec = struct.Struct(endian + "IIII")
    while off < len(data):
        if off + 16 > len(data):
            raise SystemExit("truncated record header at offset %d" % off)
        sec, frac, incl, orig = rec.unpack_from(data, off)
        body = data[off + 16 : off + 16 + incl]
        if len(body) != incl:
            raise SystemExit("truncated packet at offset %d" % off)
        ticks = stretch(sec * per_sec + frac, per_sec)
        out += rec.pack(ticks // per_sec, ticks % per_sec, incl, orig)
        out += body
        off += 16 + incl
    return bytes(out)


def tsresol(opts, endian):
    """Ticks per second from the options of an Interface Description Block."""
    off = 0
    while off + 4 <= len(opts):
        code, length = struct.unpack_from(endian + "HH", opts, off)
        if code == 0:
            break
        if code == 9 and length >= 1:
            v = opts[off + 4]
            return 2 ** (v & 0x7F) if v & 0x80 else 10 ** v
        off += 4 + ((length + 3) & ~3)
    return 10**6


def do_pcapng(data, stretch):
    out = bytearray()
    off = 0
    endian = "<"
    resol = []  # ticks per second of each interface of the current section
    while off < len(data):
        if off + 12 > len(data):
            raise SystemExit("truncated block at offset %d" % off)
        if struct.unpack_from("<I", data, off)[0] == PCAPNG_SHB:
            bom = data[off + 8 : off + 12]
            endian = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
            resol = []
        btype, blen = struct.unpack_from(endian + "II", data, off)
        if blen < 12 or off + blen > len(data):
            raise SystemExit("bad block length at offset %d" % off)
        block = bytearray(data[off : off + blen])
        if btype == 1:  # Interface Description Block: options after 8 bytes of fields
            resol.append(tsresol(bytes(block[16 : blen - 4]), endian))
        elif btype == 6:  # Enhanced Packet Block
            ifid, hi, lo = struct.unpack_from(endian + "III", block, 8)
            if ifid >= len(resol):
                raise SystemExit("packet on undeclared interface %d at offset %d" % (ifid, off))
            ticks = stretch((hi << 32) | lo, resol[ifid])
            struct.pack_into(endian + "II", block, 12, ticks >> 32, ticks & 0xFFFFFFFF)
        out += block
        off += blen
    return bytes(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--factor", default="60", help="multiplier of the long gaps (default 60)")
    ap.add_argument(
        "--threshold", default="0.3", help="seconds: longer gaps are stretched (default 0.3)"
    )
    ap.add_argument("input")
    ap.add_argument("output")
    a = ap.parse_args()
    factor, threshold = Fraction(a.factor), Fraction(a.threshold)
    if factor <= 0 or threshold < 0:
        ap.error("--factor must be > 0 and --threshold >= 0")
    with open(a.input, "rb") as f:
        data = f.read()
    stretch = Stretcher(factor, threshold)
    if data[:4] in PCAP_MAGICS:
        out = do_pcap(data, stretch)
    elif len(data) >= 4 and struct.unpack_from("<I", data)[0] == PCAPNG_SHB:
        out = do_pcapng(data, stretch)
    else:
        sys.exit("%s: neither pcap nor pcapng" % a.input)
    with open(a.output, "wb") as f:
        f.write(out)


if __name__ == "__main__":
    main()
