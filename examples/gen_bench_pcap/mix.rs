//! A deterministic, realistic mixed capture for benchmarks (and for `tests/alloc.rs`,
//! which includes this file by path).
//!
//! Many flows interleaved in time: DNS over UDP with answers (CNAME chains, A/AAAA),
//! HTTP/1.1 with keep-alive and bodies, TLS with real-looking ClientHellos (Chrome- and
//! Firefox-shaped, and rustls' own) followed by long encrypted transfers, QUIC with real
//! Initial encryption (RFC 9001 keys, sealed by `c2tap::proto::quic`) followed by 1-RTT
//! bulk; some flows over IPv6, some 802.1Q-tagged; some TCP segments retransmitted and
//! some delivered out of order. Checksums are real (Suricata checks them by default).
//!
//! Everything comes from one hand-written PRNG seeded by the caller: the same seed and
//! size give the same bytes.

#![allow(dead_code)]

use std::collections::BinaryHeap;
use std::io::{self, Write};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use c2tap::proto::quic::{KeyVersion, seal_client_initial};

/// splitmix64: tiny, fast, and good enough to vary traffic shapes.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `lo..hi` (hi > lo).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }
    /// True with probability `p_per_mille / 1000`.
    pub fn chance(&mut self, p_per_mille: u64) -> bool {
        self.next() % 1000 < p_per_mille
    }
    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = vec![0; n];
        self.fill(&mut v);
        v
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }
}

// ---------------------------------------------------------------------------------------
// Frames: Ethernet (+802.1Q), IPv4/IPv6, TCP/UDP, with checksums.

#[derive(Clone, Copy)]
pub enum Addr {
    V4(Ipv4Addr),
    V6(Ipv6Addr),
}

#[derive(Clone, Copy)]
pub struct Endpoints {
    pub client: Addr,
    pub server: Addr,
    pub cport: u16,
    pub sport: u16,
    pub vlan: Option<u16>,
    pub cmac: [u8; 6],
    pub smac: [u8; 6],
}

fn csum_add(mut sum: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u16::from_be_bytes([c[0], c[1]]) as u32;
    }
    if let [b] = chunks.remainder() {
        sum += (*b as u32) << 8;
    }
    sum
}

fn csum_fold(mut sum: u32) -> u16 {
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Builds one Ethernet frame carrying `l4` (a TCP or UDP header + payload, checksum
/// field zero) from `src` to `dst`, filling in the L4 checksum.
fn frame(ep: &Endpoints, to_server: bool, proto: u8, mut l4: Vec<u8>, ip_id: u16) -> Vec<u8> {
    let (src, dst) = if to_server {
        (ep.client, ep.server)
    } else {
        (ep.server, ep.client)
    };
    let (smac, dmac) = if to_server {
        (ep.cmac, ep.smac)
    } else {
        (ep.smac, ep.cmac)
    };
    let ck_at = if proto == 6 { 16 } else { 6 };
    let mut f = Vec::with_capacity(l4.len() + 62);
    f.extend_from_slice(&dmac);
    f.extend_from_slice(&smac);
    if let Some(v) = ep.vlan {
        f.extend_from_slice(&[0x81, 0x00]);
        f.extend_from_slice(&v.to_be_bytes());
    }
    match (src, dst) {
        (Addr::V4(s), Addr::V4(d)) => {
            let mut pseudo = csum_add(0, &s.octets());
            pseudo = csum_add(pseudo, &d.octets());
            pseudo += proto as u32 + l4.len() as u32;
            let ck = csum_fold(csum_add(pseudo, &l4));
            let ck = if proto == 17 && ck == 0 { 0xffff } else { ck };
            l4[ck_at..ck_at + 2].copy_from_slice(&ck.to_be_bytes());
            f.extend_from_slice(&[0x08, 0x00]);
            let total = (20 + l4.len()) as u16;
            let mut h = [0u8; 20];
            h[0] = 0x45;
            h[2..4].copy_from_slice(&total.to_be_bytes());
            h[4..6].copy_from_slice(&ip_id.to_be_bytes());
            h[6] = 0x40; // DF
            h[8] = 64;
            h[9] = proto;
            h[12..16].copy_from_slice(&s.octets());
            h[16..20].copy_from_slice(&d.octets());
            let hck = csum_fold(csum_add(0, &h));
            h[10..12].copy_from_slice(&hck.to_be_bytes());
            f.extend_from_slice(&h);
        }
        (Addr::V6(s), Addr::V6(d)) => {
            let mut pseudo = csum_add(0, &s.octets());
            pseudo = csum_add(pseudo, &d.octets());
            pseudo += proto as u32 + l4.len() as u32;
            let ck = csum_fold(csum_add(pseudo, &l4));
            let ck = if proto == 17 && ck == 0 { 0xffff } else { ck };
            l4[ck_at..ck_at + 2].copy_from_slice(&ck.to_be_bytes());
            f.extend_from_slice(&[0x86, 0xdd]);
            f.extend_from_slice(&[0x60, 0, 0, 0]);
            f.extend_from_slice(&(l4.len() as u16).to_be_bytes());
            f.push(proto);
            f.push(64);
            f.extend_from_slice(&s.octets());
            f.extend_from_slice(&d.octets());
        }
        _ => unreachable!("mixed address families"),
    }
    f.extend_from_slice(&l4);
    f
}

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;
const PSH: u8 = 0x08;
const FIN: u8 = 0x01;

fn tcp_l4(sport: u16, dport: u16, seq: u32, ack: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let syn = flags & SYN != 0;
    let hlen = if syn { 24 } else { 20 };
    let mut t = Vec::with_capacity(hlen + payload.len());
    t.extend_from_slice(&sport.to_be_bytes());
    t.extend_from_slice(&dport.to_be_bytes());
    t.extend_from_slice(&seq.to_be_bytes());
    t.extend_from_slice(&ack.to_be_bytes());
    t.push(((hlen / 4) as u8) << 4);
    t.push(flags);
    t.extend_from_slice(&64240u16.to_be_bytes());
    t.extend_from_slice(&[0, 0, 0, 0]);
    if syn {
        t.extend_from_slice(&[2, 4, 0x05, 0xb4]); // MSS 1460
    }
    t.extend_from_slice(payload);
    t
}

fn udp_l4(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut u = Vec::with_capacity(8 + payload.len());
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    u
}

/// One packet of a flow: time offset from the flow's start (µs) and the frame.
pub struct Pkt {
    pub t_us: u64,
    pub frame: Vec<u8>,
}

/// Builds the packets of one conversation in order, with a clock.
struct Conv<'r> {
    ep: Endpoints,
    rng: &'r mut Rng,
    t_us: u64,
    ip_id: u16,
    cseq: u32,
    sseq: u32,
    mss: usize,
    /// Retransmissions and reordering on (the mix) or off (steady-state tests).
    anomalies: bool,
    out: Vec<Pkt>,
}

impl<'r> Conv<'r> {
    fn new(ep: Endpoints, rng: &'r mut Rng) -> Conv<'r> {
        let cseq = rng.next() as u32;
        let sseq = rng.next() as u32;
        let ip_id = rng.next() as u16;
        let mss = if matches!(ep.client, Addr::V6(_)) {
            1440
        } else {
            1460
        };
        Conv {
            ep,
            rng,
            t_us: 0,
            ip_id,
            cseq,
            sseq,
            mss,
            anomalies: true,
            out: Vec::new(),
        }
    }

    fn gap(&mut self, lo: u64, hi: u64) {
        self.t_us += self.rng.range(lo, hi);
    }

    fn push(&mut self, to_server: bool, proto: u8, l4: Vec<u8>) {
        self.ip_id = self.ip_id.wrapping_add(1);
        let f = frame(&self.ep, to_server, proto, l4, self.ip_id);
        self.out.push(Pkt {
            t_us: self.t_us,
            frame: f,
        });
    }

    fn tcp(&mut self, to_server: bool, flags: u8, payload: &[u8]) {
        let (sp, dp, seq, ack) = if to_server {
            (self.ep.cport, self.ep.sport, self.cseq, self.sseq)
        } else {
            (self.ep.sport, self.ep.cport, self.sseq, self.cseq)
        };
        let l4 = tcp_l4(sp, dp, seq, ack, flags, payload);
        self.push(to_server, 6, l4);
        let adv = payload.len() as u32 + u32::from(flags & (SYN | FIN) != 0);
        if to_server {
            self.cseq = self.cseq.wrapping_add(adv);
        } else {
            self.sseq = self.sseq.wrapping_add(adv);
        }
    }

    fn handshake(&mut self) {
        self.tcp(true, SYN, &[]);
        self.gap(200, 30_000);
        self.tcp(false, SYN | ACK, &[]);
        self.gap(50, 500);
        self.tcp(true, ACK, &[]);
    }

    /// Sends `data` in MSS segments with an ACK back every two, sometimes retransmitting
    /// a segment (an exact duplicate, later) or swapping two (reordering).
    fn send(&mut self, to_server: bool, data: &[u8]) {
        let mut n = 0;
        let segs: Vec<&[u8]> = data.chunks(self.mss).collect();
        let mut i = 0;
        while i < segs.len() {
            self.gap(5, 120);
            if self.anomalies && i + 1 < segs.len() && self.rng.chance(4) {
                // Out of order: the next segment arrives first.
                let base = if to_server { self.cseq } else { self.sseq };
                let first = segs[i].len() as u32;
                let second_seq = base.wrapping_add(first);
                let (sp, dp, ack) = if to_server {
                    (self.ep.cport, self.ep.sport, self.sseq)
                } else {
                    (self.ep.sport, self.ep.cport, self.cseq)
                };
                let l4 = tcp_l4(sp, dp, second_seq, ack, ACK | PSH, segs[i + 1]);
                self.push(to_server, 6, l4);
                self.gap(5, 60);
                self.tcp(to_server, ACK | PSH, segs[i]);
                if to_server {
                    self.cseq = self.cseq.wrapping_add(segs[i + 1].len() as u32);
                } else {
                    self.sseq = self.sseq.wrapping_add(segs[i + 1].len() as u32);
                }
                i += 2;
                n += 2;
            } else {
                self.tcp(to_server, ACK | PSH, segs[i]);
                if self.anomalies && self.rng.chance(5) {
                    // Retransmission of the segment just sent.
                    let len = segs[i].len() as u32;
                    let (sp, dp, seq, ack) = if to_server {
                        (
                            self.ep.cport,
                            self.ep.sport,
                            self.cseq.wrapping_sub(len),
                            self.sseq,
                        )
                    } else {
                        (
                            self.ep.sport,
                            self.ep.cport,
                            self.sseq.wrapping_sub(len),
                            self.cseq,
                        )
                    };
                    self.gap(200, 3000);
                    let l4 = tcp_l4(sp, dp, seq, ack, ACK | PSH, segs[i]);
                    self.push(to_server, 6, l4);
                }
                i += 1;
                n += 1;
            }
            if n % 2 == 0 || i == segs.len() {
                self.gap(5, 80);
                self.tcp(!to_server, ACK, &[]);
            }
        }
    }

    fn close(&mut self) {
        self.gap(100, 5000);
        self.tcp(true, FIN | ACK, &[]);
        self.gap(50, 2000);
        self.tcp(false, FIN | ACK, &[]);
        self.gap(50, 500);
        self.tcp(true, ACK, &[]);
    }

    fn udp(&mut self, to_server: bool, payload: &[u8]) {
        let (sp, dp) = if to_server {
            (self.ep.cport, self.ep.sport)
        } else {
            (self.ep.sport, self.ep.cport)
        };
        let l4 = udp_l4(sp, dp, payload);
        self.push(to_server, 17, l4);
    }
}

// ---------------------------------------------------------------------------------------
// Names and hosts.

const WORDS: &[&str] = &[
    "cdn",
    "api",
    "static",
    "img",
    "mail",
    "www",
    "login",
    "update",
    "edge",
    "assets",
    "files",
    "media",
    "telemetry",
    "auth",
    "store",
    "news",
    "blog",
    "docs",
    "shop",
    "video",
];
const DOMAINS: &[&str] = &[
    "example.com",
    "example.net",
    "example.org",
    "contoso.com",
    "fabrikam.net",
    "wikipedia.org",
    "cloudfront.net",
    "akamaiedge.net",
    "googleapis.com",
    "microsoft.com",
    "github.io",
    "office365.com",
    "apple.com",
    "mozilla.net",
    "debian.org",
    "rust-lang.org",
];
const AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0",
    "curl/8.5.0",
    "Microsoft-CryptoAPI/10.0",
    "python-requests/2.31.0",
    "Wget/1.21.4",
];

fn hostname(rng: &mut Rng) -> String {
    let d = rng.pick(DOMAINS);
    match rng.range(0, 3) {
        0 => format!("{}.{d}", rng.pick(WORDS)),
        1 => format!("{}{}.{d}", rng.pick(WORDS), rng.range(1, 40)),
        _ => format!("{}.{}.{d}", rng.pick(WORDS), rng.pick(WORDS)),
    }
}

// ---------------------------------------------------------------------------------------
// DNS (RFC 1035 §4): query, and a response with a CNAME and A/AAAA records.

fn dns_name(out: &mut Vec<u8>, name: &str) {
    for label in name.split('.') {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
}

pub fn dns_query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut m = Vec::with_capacity(64);
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    dns_name(&mut m, name);
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&[0, 1]);
    m
}

pub fn dns_response(rng: &mut Rng, id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let nx = rng.chance(60);
    let cname = !nx && rng.chance(400);
    let addrs = if nx { 0 } else { rng.range(1, 5) as u16 };
    let mut m = Vec::with_capacity(256);
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&[0x81, if nx { 0x83 } else { 0x80 }, 0, 1]);
    m.extend_from_slice(&(addrs + u16::from(cname)).to_be_bytes());
    m.extend_from_slice(&[0, 0, 0, 0]);
    dns_name(&mut m, name);
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&[0, 1]);
    let mut owner: u16 = 0xc00c; // pointer to the question name
    if cname {
        let target_at = m.len() + 12;
        m.extend_from_slice(&owner.to_be_bytes());
        m.extend_from_slice(&[0, 5, 0, 1]);
        m.extend_from_slice(&(rng.range(30, 3600) as u32).to_be_bytes());
        let target = format!("{}.{}", rng.pick(WORDS), rng.pick(DOMAINS));
        let mut t = Vec::new();
        dns_name(&mut t, &target);
        m.extend_from_slice(&(t.len() as u16).to_be_bytes());
        m.extend_from_slice(&t);
        owner = 0xc000 | target_at as u16;
    }
    for _ in 0..addrs {
        m.extend_from_slice(&owner.to_be_bytes());
        m.extend_from_slice(&qtype.to_be_bytes());
        m.extend_from_slice(&[0, 1]);
        m.extend_from_slice(&(rng.range(30, 3600) as u32).to_be_bytes());
        if qtype == 28 {
            m.extend_from_slice(&[0, 16, 0x20, 0x01, 0x0d, 0xb8]);
            m.extend_from_slice(&rng.bytes(12));
        } else {
            m.extend_from_slice(&[0, 4]);
            m.extend_from_slice(&rng.bytes(4));
        }
    }
    m
}

// ---------------------------------------------------------------------------------------
// TLS ClientHello (RFC 8446 §4.1.2) shaped like the browsers', or made by rustls.

fn ext(out: &mut Vec<u8>, ty: u16, body: &[u8]) {
    out.extend_from_slice(&ty.to_be_bytes());
    out.extend_from_slice(&(body.len() as u16).to_be_bytes());
    out.extend_from_slice(body);
}

fn u16_list(items: &[u16]) -> Vec<u8> {
    let mut v = Vec::with_capacity(2 + 2 * items.len());
    v.extend_from_slice(&((items.len() * 2) as u16).to_be_bytes());
    for i in items {
        v.extend_from_slice(&i.to_be_bytes());
    }
    v
}

const GREASE: &[u16] = &[
    0x0a0a, 0x1a1a, 0x2a2a, 0x3a3a, 0x4a4a, 0x5a5a, 0x6a6a, 0x7a7a,
];

/// A ClientHello handshake message (type 1, length, body). `quic` adds the QUIC
/// transport parameters and drops what QUIC forbids.
pub fn client_hello(rng: &mut Rng, sni: &str, alpn: &[&str], firefox: bool, quic: bool) -> Vec<u8> {
    let g = *rng.pick(GREASE);
    let suites: &[u16] = if firefox {
        &[
            0x1301, 0x1303, 0x1302, 0xc02b, 0xc02f, 0xcca9, 0xcca8, 0xc02c, 0xc030, 0xc00a, 0xc009,
            0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035,
        ]
    } else {
        &[
            0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014,
            0x009c, 0x009d, 0x002f, 0x0035,
        ]
    };
    let mut body = Vec::with_capacity(600);
    body.extend_from_slice(&[3, 3]);
    body.extend_from_slice(&rng.bytes(32));
    if quic {
        body.push(0);
    } else {
        body.push(32);
        body.extend_from_slice(&rng.bytes(32));
    }
    let mut cs: Vec<u16> = Vec::new();
    if !firefox {
        cs.push(g);
    }
    cs.extend_from_slice(suites);
    body.extend_from_slice(&u16_list(&cs));
    body.extend_from_slice(&[1, 0]);

    let mut exts: Vec<(u16, Vec<u8>)> = Vec::new();
    let mut sn = Vec::new();
    sn.extend_from_slice(&((sni.len() + 3) as u16).to_be_bytes());
    sn.push(0);
    sn.extend_from_slice(&(sni.len() as u16).to_be_bytes());
    sn.extend_from_slice(sni.as_bytes());
    exts.push((0x0000, sn));
    exts.push((0x0017, vec![]));
    exts.push((0xff01, vec![0]));
    exts.push((0x000a, u16_list(&[g, 0x001d, 0x0017, 0x0018])));
    if !quic {
        exts.push((0x000b, vec![1, 0]));
        exts.push((0x0023, vec![]));
    }
    let mut al = Vec::new();
    for p in alpn {
        al.push(p.len() as u8);
        al.extend_from_slice(p.as_bytes());
    }
    let mut alv = (al.len() as u16).to_be_bytes().to_vec();
    alv.extend_from_slice(&al);
    exts.push((0x0010, alv));
    exts.push((0x0005, vec![1, 0, 0, 0, 0]));
    exts.push((
        0x000d,
        u16_list(&[
            0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
        ]),
    ));
    exts.push((0x0012, vec![]));
    let mut ks = Vec::new();
    let mut ksl = Vec::new();
    if !firefox {
        ksl.extend_from_slice(&g.to_be_bytes());
        ksl.extend_from_slice(&[0, 1, 0]);
    }
    ksl.extend_from_slice(&[0x00, 0x1d, 0, 32]);
    ksl.extend_from_slice(&rng.bytes(32));
    ks.extend_from_slice(&(ksl.len() as u16).to_be_bytes());
    ks.extend_from_slice(&ksl);
    exts.push((0x0033, ks));
    exts.push((0x002d, vec![1, 1]));
    exts.push((0x002b, vec![4, 0x03, 0x04, 0x03, 0x03]));
    if !firefox {
        exts.push((0x001b, vec![2, 0, 2]));
        exts.push((0x4469, vec![0, 3, 2, b'h', b'2']));
    }
    if quic {
        let mut tp = Vec::new();
        tp.extend_from_slice(&[0x04, 0x04, 0x80, 0x60, 0x00, 0x00]); // initial_max_data
        tp.extend_from_slice(&[0x0f, 0x08]); // initial_source_connection_id
        tp.extend_from_slice(&rng.bytes(8));
        exts.push((0x0039, tp));
    }
    if !firefox {
        // Chrome shuffles its extensions (except GREASE first and padding last).
        for i in (1..exts.len()).rev() {
            let j = rng.range(0, i as u64 + 1) as usize;
            exts.swap(i, j);
        }
    }
    let mut e = Vec::new();
    if !firefox {
        ext(&mut e, g, &[]);
    }
    for (ty, b) in &exts {
        ext(&mut e, *ty, b);
    }
    if !firefox && !quic {
        let pad = 512usize.saturating_sub(e.len() + body.len() + 8) % 256;
        ext(&mut e, 0x0015, &vec![0; pad]);
    }
    body.extend_from_slice(&(e.len() as u16).to_be_bytes());
    body.extend_from_slice(&e);

    let mut msg = vec![1];
    msg.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    msg.extend_from_slice(&body);
    msg
}

/// rustls' own ClientHello for `sni` (TLS 1.3 and 1.2), as a handshake message.
pub fn rustls_client_hello(rng: &mut Rng, sni: &str, alpn: &[&str]) -> Option<Vec<u8>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .ok()?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|a| a.as_bytes().to_vec()).collect();
    let name = rustls::pki_types::ServerName::try_from(sni.to_string()).ok()?;
    let mut conn = rustls::ClientConnection::new(Arc::new(config), name).ok()?;
    let mut rec = Vec::new();
    conn.write_tls(&mut rec).ok()?;
    // One record: strip its 5-byte header.
    let mut msg = rec.get(5..)?.to_vec();
    derandomize(&mut msg, rng)?;
    Some(msg)
}

/// Replaces what rustls drew from the system RNG (client random, session id, key-share
/// public keys) with bytes from `rng`, so the capture stays deterministic.
fn derandomize(msg: &mut [u8], rng: &mut Rng) -> Option<()> {
    // type(1) length(3) version(2) random(32)
    rng.fill(msg.get_mut(6..38)?);
    let sid = *msg.get(38)? as usize;
    rng.fill(msg.get_mut(39..39 + sid)?);
    let mut at = 39 + sid;
    let suites = u16::from_be_bytes([*msg.get(at)?, *msg.get(at + 1)?]) as usize;
    at += 2 + suites;
    at += 1 + *msg.get(at)? as usize;
    let end = at + 2 + u16::from_be_bytes([*msg.get(at)?, *msg.get(at + 1)?]) as usize;
    at += 2;
    // rustls shuffles its extensions with the system RNG too: put them in type order,
    // then shuffle them with `rng` (same extensions, deterministic order).
    let first = at;
    let mut exts: Vec<Vec<u8>> = Vec::new();
    while at + 4 <= end {
        let len = u16::from_be_bytes([*msg.get(at + 2)?, *msg.get(at + 3)?]) as usize;
        exts.push(msg.get(at..at + 4 + len)?.to_vec());
        at += 4 + len;
    }
    exts.sort();
    for i in (1..exts.len()).rev() {
        let j = rng.range(0, i as u64 + 1) as usize;
        exts.swap(i, j);
    }
    let flat: Vec<u8> = exts.concat();
    msg.get_mut(first..first + flat.len())?
        .copy_from_slice(&flat);
    at = first;
    while at + 4 <= end {
        let ty = u16::from_be_bytes([*msg.get(at)?, *msg.get(at + 1)?]);
        let len = u16::from_be_bytes([*msg.get(at + 2)?, *msg.get(at + 3)?]) as usize;
        if ty == 0x0033 {
            let mut k = at + 6;
            while k + 4 <= at + 4 + len {
                let n = u16::from_be_bytes([*msg.get(k + 2)?, *msg.get(k + 3)?]) as usize;
                rng.fill(msg.get_mut(k + 4..k + 4 + n)?);
                k += 4 + n;
            }
        }
        at += 4 + len;
    }
    Some(())
}

fn tls_record(ty: u8, body: &[u8]) -> Vec<u8> {
    let mut r = Vec::with_capacity(body.len() + 5);
    r.push(ty);
    r.extend_from_slice(&[3, 3]);
    r.extend_from_slice(&(body.len() as u16).to_be_bytes());
    r.extend_from_slice(body);
    r
}

// ---------------------------------------------------------------------------------------
// Flows.

/// The traffic of a profile: how often each kind of flow comes, how much each carries,
/// and how many run at once.
pub struct Shape {
    /// Transfer sizes: most are below the `_mid` (uniform from a small floor), one in
    /// twenty between it and the `_max` (see `heavy_tail`).
    pub tls_bulk_mid: u64,
    pub tls_bulk_max: usize,
    pub http_body_mid: u64,
    pub http_body_max: usize,
    pub quic_bulk_mid: u64,
    pub quic_bulk_max: usize,
    /// Percent of flows that are DNS (the rest: HTTP, TLS, QUIC as 20 : 25 : 10).
    pub dns_percent: u64,
    /// HTTP requests per connection: 1 to this.
    pub http_requests_max: u64,
    /// Request/response exchanges per TLS session: 1 to this.
    pub tls_exchanges_max: u64,
    /// Flows in progress at once.
    pub concurrent: usize,
    /// A new flow starts up to this long after another ended.
    pub start_gap_us_max: u64,
}

/// Long flows (the default `make bench` profile): bytes are mostly TLS bulk, as on real
/// links, while packets are spread over every protocol; 1000 flows in progress at once,
/// so consecutive packets rarely belong to the same flow and the flow tables hold
/// thousands of entries.
pub const FULL: Shape = Shape {
    tls_bulk_mid: 60_000,
    tls_bulk_max: 3_000_000,
    http_body_mid: 20_000,
    http_body_max: 200_000,
    quic_bulk_mid: 80_000,
    quic_bulk_max: 1_500_000,
    dns_percent: 45,
    http_requests_max: 5,
    tls_exchanges_max: 3,
    concurrent: 1000,
    start_gap_us_max: 2000,
};

/// A busy office link (issue 16's capture): many short flows, half of them DNS, one HTTP
/// request per connection, short TLS sessions and QUIC, spread over minutes, so that
/// flow set-up and expiry, DNS transactions and event building dominate.
pub const DENSE: Shape = Shape {
    tls_bulk_mid: 12_000,
    tls_bulk_max: 120_000,
    http_body_mid: 5_000,
    http_body_max: 30_000,
    quic_bulk_mid: 16_000,
    quic_bulk_max: 60_000,
    dns_percent: 50,
    http_requests_max: 1,
    tls_exchanges_max: 1,
    concurrent: 400,
    start_gap_us_max: 8_000_000,
};

/// Transfer sizes as on real links: most are small (`lo..mid`), one in twenty is large
/// (`mid..max`), so a few flows carry most bytes while most flows are short.
fn heavy_tail(rng: &mut Rng, lo: u64, mid: u64, max: usize) -> u64 {
    if rng.chance(950) {
        rng.range(lo, mid)
    } else {
        rng.range(mid, (max as u64).max(mid + 1))
    }
}

fn addr_pair(rng: &mut Rng, v6: bool) -> (Addr, Addr) {
    if v6 {
        let mut c = [0u8; 16];
        c[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        rng.fill(&mut c[8..]);
        let mut s = [0u8; 16];
        s[..4].copy_from_slice(&[0x26, 0x00, 0x19, 0x00]);
        rng.fill(&mut s[8..]);
        (Addr::V6(Ipv6Addr::from(c)), Addr::V6(Ipv6Addr::from(s)))
    } else {
        let c = Ipv4Addr::new(
            10,
            rng.range(0, 4) as u8,
            rng.range(0, 256) as u8,
            rng.range(1, 255) as u8,
        );
        let s = Ipv4Addr::new(
            rng.range(23, 220) as u8,
            rng.range(0, 256) as u8,
            rng.range(0, 256) as u8,
            rng.range(1, 255) as u8,
        );
        (Addr::V4(c), Addr::V4(s))
    }
}

fn endpoints(rng: &mut Rng, sport: u16) -> Endpoints {
    let v6 = rng.chance(150);
    let (client, server) = addr_pair(rng, v6);
    let mut cmac = [0x02, 0, 0, 0, 0, 0];
    rng.fill(&mut cmac[2..]);
    Endpoints {
        client,
        server,
        cport: rng.range(32768, 61000) as u16,
        sport,
        vlan: if rng.chance(100) {
            Some(rng.range(2, 4000) as u16)
        } else {
            None
        },
        cmac,
        smac: [0x00, 0x1b, 0x21, 0x3a, 0x4f, 0x02],
    }
}

fn dns_flow(rng: &mut Rng) -> Vec<Pkt> {
    let mut ep = endpoints(rng, 53);
    // Resolvers sit on the local network.
    ep.server = match ep.client {
        Addr::V4(_) => Addr::V4(Ipv4Addr::new(10, 0, 0, 53)),
        Addr::V6(_) => Addr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x53)),
    };
    let mut sub = Rng::new(rng.next());
    let mut c = Conv::new(ep, &mut sub);
    let n = c.rng.range(1, 4);
    for _ in 0..n {
        let name = hostname(c.rng);
        let qtype = if c.rng.chance(300) { 28 } else { 1 };
        let id = c.rng.next() as u16;
        let q = dns_query(id, &name, qtype);
        c.udp(true, &q);
        c.gap(300, 40_000);
        if !c.rng.chance(20) {
            let r = dns_response(c.rng, id, &name, qtype);
            c.udp(false, &r);
        }
        c.gap(10, 2000);
    }
    c.out
}

fn http_flow(rng: &mut Rng, shape: &Shape) -> Vec<Pkt> {
    let port = if rng.chance(800) { 80 } else { 8080 };
    let ep = endpoints(rng, port);
    let mut sub = Rng::new(rng.next());
    let mut c = Conv::new(ep, &mut sub);
    c.handshake();
    let host = hostname(c.rng);
    let agent = *c.rng.pick(AGENTS);
    let requests = c.rng.range(1, shape.http_requests_max + 1);
    for i in 0..requests {
        c.gap(100, 20_000);
        let post = c.rng.chance(150);
        let path = format!(
            "/{}/{}?id={}",
            c.rng.pick(WORDS),
            c.rng.pick(WORDS),
            c.rng.next() % 100_000
        );
        let body_len = if post {
            c.rng.range(100, 4000) as usize
        } else {
            0
        };
        let body = c.rng.bytes(body_len);
        let mut req = format!(
            "{} {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {agent}\r\nAccept: */*\r\nAccept-Encoding: gzip, deflate\r\nConnection: {}\r\n",
            if post { "POST" } else { "GET" },
            if i + 1 == requests {
                "close"
            } else {
                "keep-alive"
            },
        );
        if post {
            req.push_str(&format!(
                "Content-Type: application/octet-stream\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        req.push_str("\r\n");
        let mut data = req.into_bytes();
        data.extend_from_slice(&body);
        c.send(true, &data);
        c.gap(500, 50_000);
        let len = heavy_tail(c.rng, 200, shape.http_body_mid, shape.http_body_max) as usize;
        let ctype = *c.rng.pick(&[
            "text/html; charset=utf-8",
            "application/json",
            "image/jpeg",
            "application/javascript",
        ]);
        let mut resp = format!(
            "HTTP/1.1 200 OK\r\nServer: nginx/1.24.0\r\nDate: Sun, 22 Nov 2026 10:00:00 GMT\r\nContent-Type: {ctype}\r\nContent-Length: {len}\r\nConnection: keep-alive\r\nCache-Control: max-age=3600\r\n\r\n"
        )
        .into_bytes();
        let mut b = vec![0u8; len];
        if ctype.starts_with("text") || ctype.contains("json") || ctype.contains("javascript") {
            const TEXT: &[u8] = b"<div class=\"item\">lorem ipsum dolor sit amet, consectetur adipiscing elit</div>\n";
            for (i, x) in b.iter_mut().enumerate() {
                *x = TEXT[i % TEXT.len()];
            }
        } else {
            c.rng.fill(&mut b);
        }
        resp.extend_from_slice(&b);
        c.send(false, &resp);
    }
    c.close();
    c.out
}

fn tls_flow(rng: &mut Rng, shape: &Shape) -> Vec<Pkt> {
    let port = if rng.chance(900) { 443 } else { 8443 };
    let ep = endpoints(rng, port);
    let mut sub = Rng::new(rng.next());
    let mut c = Conv::new(ep, &mut sub);
    c.handshake();
    let sni = hostname(c.rng);
    let hello = match c.rng.range(0, 10) {
        0 => rustls_client_hello(c.rng, &sni, &["h2", "http/1.1"]).unwrap_or_default(),
        1..=3 => client_hello(c.rng, &sni, &["h2", "http/1.1"], true, false),
        _ => client_hello(c.rng, &sni, &["h2", "http/1.1"], false, false),
    };
    c.gap(50, 500);
    c.send(true, &tls_record(22, &hello));
    // ServerHello, ChangeCipherSpec, then encrypted handshake (certificate etc.).
    c.gap(1000, 60_000);
    let mut flight = tls_record(22, &c.rng.bytes(90));
    flight.extend_from_slice(&tls_record(20, &[1]));
    let cert = c.rng.range(2500, 5000) as usize;
    flight.extend_from_slice(&tls_record(23, &c.rng.bytes(cert)));
    c.send(false, &flight);
    c.gap(500, 5000);
    let mut fin = tls_record(20, &[1]);
    fin.extend_from_slice(&tls_record(23, &c.rng.bytes(53)));
    c.send(true, &fin);
    // Requests up, bulk down, in 16 KiB records.
    let exchanges = c.rng.range(1, shape.tls_exchanges_max + 1);
    for _ in 0..exchanges {
        c.gap(200, 20_000);
        let up = c.rng.range(100, 1500) as usize;
        let req = tls_record(23, &c.rng.bytes(up));
        c.send(true, &req);
        c.gap(1000, 40_000);
        let total = heavy_tail(
            c.rng,
            2000,
            shape.tls_bulk_mid,
            shape.tls_bulk_max / exchanges as usize,
        ) as usize;
        let mut down = Vec::with_capacity(total + total / 16384 * 5 + 5);
        let mut left = total;
        while left > 0 {
            let n = left.min(16384);
            let mut rec = vec![0u8; n + 5];
            rec[0] = 23;
            rec[1] = 3;
            rec[2] = 3;
            rec[3..5].copy_from_slice(&(n as u16).to_be_bytes());
            c.rng.fill(&mut rec[5..]);
            down.extend_from_slice(&rec);
            left -= n;
        }
        c.send(false, &down);
    }
    c.close();
    c.out
}

/// A TLS connection that reaches its bulk phase and stays there: handshake, a
/// ClientHello, the server's flight, a request, then `bulk` bytes of 16 KiB
/// application-data records down, in order, never closed. Returns the packets and the
/// index of the first bulk packet.
pub fn tls_bulk_flow(rng: &mut Rng, bulk: usize) -> (Vec<Pkt>, usize) {
    let mut ep = endpoints(rng, 443);
    ep.vlan = None;
    let mut sub = Rng::new(rng.next());
    let mut c = Conv::new(ep, &mut sub);
    c.anomalies = false;
    c.handshake();
    let sni = hostname(c.rng);
    let hello = client_hello(c.rng, &sni, &["h2", "http/1.1"], false, false);
    c.send(true, &tls_record(22, &hello));
    let mut flight = tls_record(22, &c.rng.bytes(90));
    flight.extend_from_slice(&tls_record(20, &[1]));
    flight.extend_from_slice(&tls_record(23, &c.rng.bytes(3000)));
    c.send(false, &flight);
    let req = tls_record(23, &c.rng.bytes(300));
    c.send(true, &req);
    let first_bulk = c.out.len();
    let mut down = Vec::with_capacity(bulk + bulk / 16384 * 5 + 5);
    let mut left = bulk;
    while left > 0 {
        let n = left.min(16384);
        down.extend_from_slice(&tls_record(23, &c.rng.bytes(n)));
        left -= n;
    }
    c.send(false, &down);
    (c.out, first_bulk)
}

fn quic_flow(rng: &mut Rng, shape: &Shape) -> Vec<Pkt> {
    let ep = endpoints(rng, 443);
    let mut sub = Rng::new(rng.next());
    let mut c = Conv::new(ep, &mut sub);
    let sni = hostname(c.rng);
    let hello = if c.rng.chance(300) {
        client_hello(c.rng, &sni, &["h3"], true, true)
    } else {
        client_hello(c.rng, &sni, &["h3"], false, true)
    };
    let dcid = c.rng.bytes(8);
    let scid = c.rng.bytes(8);
    let mut crypto = vec![0x06, 0x00];
    crypto.extend_from_slice(&(0x4000u16 | hello.len() as u16).to_be_bytes());
    crypto.extend_from_slice(&hello);
    let version = if c.rng.chance(100) {
        KeyVersion::V2
    } else {
        KeyVersion::V1
    };
    if let Ok(initial) = seal_client_initial(version, &dcid, &scid, 0, &crypto, 1200) {
        c.udp(true, &initial);
    }
    // The server's Initial+Handshake (opaque here), then 1-RTT both ways.
    c.gap(2000, 60_000);
    for _ in 0..c.rng.range(2, 4) {
        let mut p = c.rng.bytes(1200);
        p[0] = 0xe0 | (p[0] & 0x0f); // long header, Handshake type
        p[1..5].copy_from_slice(&1u32.to_be_bytes());
        p[5] = 8;
        p[6..14].copy_from_slice(&scid);
        p[14] = 8;
        c.udp(false, &p);
        c.gap(5, 200);
    }
    let total = heavy_tail(c.rng, 5000, shape.quic_bulk_mid, shape.quic_bulk_max) as usize;
    let mut sent = 0;
    let mut k = 0u32;
    while sent < total {
        c.gap(5, 150);
        let n = (total - sent).min(1250);
        let mut p = c.rng.bytes(n.max(40));
        p[0] = 0x40 | (p[0] & 0x3f); // short header
        p[1..9].copy_from_slice(&scid);
        c.udp(false, &p);
        sent += n;
        k += 1;
        if k.is_multiple_of(4) {
            let mut a = c.rng.bytes(40);
            a[0] = 0x40 | (a[0] & 0x3f);
            a[1..9].copy_from_slice(&dcid);
            c.udp(true, &a);
        }
    }
    c.out
}

/// Picks the next flow's kind: by count, DNS is most common and TLS carries most bytes.
fn next_flow(rng: &mut Rng, shape: &Shape) -> Vec<Pkt> {
    // One draw, so that the long profile (45 % DNS) gives the bytes it always gave.
    let dns = shape.dns_percent.min(99);
    let r = rng.range(0, 100);
    if r < dns {
        return dns_flow(rng);
    }
    // The rest as HTTP : TLS : QUIC = 20 : 25 : 10.
    match (r - dns) * 55 / (100 - dns) {
        0..=19 => http_flow(rng, shape),
        20..=44 => tls_flow(rng, shape),
        _ => quic_flow(rng, shape),
    }
}

// ---------------------------------------------------------------------------------------
// Interleaving and the pcap file.

/// Writes a classic pcap (microsecond timestamps, Ethernet) of about `target_bytes`.
/// `concurrent` flows are in progress at any time; each new flow starts when another
/// ends, a little after the current time (up to the shape's start gap). Returns
/// (packets, bytes written).
pub fn write_mix<W: Write>(
    out: &mut W,
    seed: u64,
    target_bytes: u64,
    concurrent: usize,
    shape: &Shape,
) -> io::Result<(u64, u64)> {
    let mut rng = Rng::new(seed);
    let mut hdr = Vec::with_capacity(24);
    hdr.extend_from_slice(&0xa1b2c3d4u32.to_le_bytes());
    hdr.extend_from_slice(&2u16.to_le_bytes());
    hdr.extend_from_slice(&4u16.to_le_bytes());
    hdr.extend_from_slice(&[0; 8]);
    hdr.extend_from_slice(&65535u32.to_le_bytes());
    hdr.extend_from_slice(&1u32.to_le_bytes());
    out.write_all(&hdr)?;
    let mut written = hdr.len() as u64;
    let mut packets = 0u64;

    // Active flows: (packets, next index, start time µs); the heap orders by next time.
    struct Active {
        pkts: Vec<Pkt>,
        next: usize,
        start: u64,
    }
    let mut flows: Vec<Active> = Vec::new();
    let mut heap: BinaryHeap<std::cmp::Reverse<(u64, usize)>> = BinaryHeap::new();
    let base_us: u64 = 1_795_000_000 * 1_000_000; // November 2026
    let mut now = 0u64;
    for _ in 0..concurrent {
        let pkts = next_flow(&mut rng, shape);
        let start = rng.range(0, 100_000);
        let t = start + pkts.first().map_or(0, |p| p.t_us);
        flows.push(Active {
            pkts,
            next: 0,
            start,
        });
        heap.push(std::cmp::Reverse((t, flows.len() - 1)));
    }
    while let Some(std::cmp::Reverse((t, i))) = heap.pop() {
        now = now.max(t);
        let f = &mut flows[i];
        let p = &f.pkts[f.next];
        let ts = base_us + now;
        let len = p.frame.len() as u32;
        let mut rec = [0u8; 16];
        rec[0..4].copy_from_slice(&((ts / 1_000_000) as u32).to_le_bytes());
        rec[4..8].copy_from_slice(&((ts % 1_000_000) as u32).to_le_bytes());
        rec[8..12].copy_from_slice(&len.to_le_bytes());
        rec[12..16].copy_from_slice(&len.to_le_bytes());
        out.write_all(&rec)?;
        out.write_all(&p.frame)?;
        written += 16 + len as u64;
        packets += 1;
        f.next += 1;
        // The capture ends at the target size, like a real one cut in mid-traffic:
        // the flows still open are flushed by the reader.
        if written >= target_bytes {
            break;
        }
        if f.next < f.pkts.len() {
            heap.push(std::cmp::Reverse((f.start + f.pkts[f.next].t_us, i)));
        } else {
            let pkts = next_flow(&mut rng, shape);
            let start = now + rng.range(0, shape.start_gap_us_max.max(1));
            let t = start + pkts.first().map_or(0, |p| p.t_us);
            flows[i] = Active {
                pkts,
                next: 0,
                start,
            };
            heap.push(std::cmp::Reverse((t, i)));
        }
    }
    Ok((packets, written))
}
