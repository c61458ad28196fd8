//! Hostile captures (issue 7, "Floods"): each test writes a flood into a temp dir
//! (deterministic seed, nothing committed), replays it with default settings, and checks
//! that c2tap finishes (no stall), that its peak RSS stays under 256 MiB (DESIGN §6), and
//! that the counters of the final SensorState line say what the flood did.
//!
//! Peak RSS is c2tap's `VmHWM` (/proc/PID/status), polled while it runs; `ru_maxrss` from
//! `wait4` (this child only, so parallel tests do not mix) is checked too, as an upper
//! bound: Linux carries into it the test process's RSS from before the exec.
//! `FLOOD_REPORT=1` prints the measurements.

mod common;

use common::c2tap;
use serde_json::Value;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// DESIGN §6: under 256 MiB whatever the traffic.
const RSS_LIMIT_KIB: i64 = 256 * 1024;
/// A replay that takes longer than this has stalled (the biggest flood takes seconds).
const STALL_AFTER: Duration = Duration::from_secs(300);
/// `flow::FLOW_TABLE_CAP`: flows each worker keeps.
const FLOW_TABLE_CAP: u64 = 1 << 16;
/// `proto::dns::state::DEFAULT_MAX_PENDING`: unanswered queries each worker keeps.
const DNS_MAX_PENDING: u64 = 8192;
/// `proto::quic::state::MAX_KEY_DERIVATIONS`: DCIDs a QUIC flow derives keys for.
const QUIC_MAX_KEY_DERIVATIONS: u64 = 4;
/// First packet time: 2023-11-14.
const T0_NS: u64 = 1_700_000_000_000_000_000;

/// xorshift64*: a fixed seed gives the same capture every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn port(&mut self) -> u16 {
        1024 + self.below(64_000) as u16
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// A nanosecond pcap of Ethernet frames.
struct PcapWriter {
    out: BufWriter<File>,
    packets: u64,
}

impl PcapWriter {
    fn create(path: &Path) -> PcapWriter {
        let mut out = BufWriter::with_capacity(1 << 20, File::create(path).unwrap());
        out.write_all(&0xa1b2_3c4du32.to_le_bytes()).unwrap();
        out.write_all(&2u16.to_le_bytes()).unwrap();
        out.write_all(&4u16.to_le_bytes()).unwrap();
        out.write_all(&[0; 8]).unwrap();
        out.write_all(&65535u32.to_le_bytes()).unwrap();
        out.write_all(&1u32.to_le_bytes()).unwrap();
        PcapWriter { out, packets: 0 }
    }

    fn frame(&mut self, ts_ns: u64, frame: &[u8]) {
        let secs = (ts_ns / 1_000_000_000) as u32;
        let nanos = (ts_ns % 1_000_000_000) as u32;
        let len = (frame.len() as u32).to_le_bytes();
        for word in [secs.to_le_bytes(), nanos.to_le_bytes(), len, len] {
            self.out.write_all(&word).unwrap();
        }
        self.out.write_all(frame).unwrap();
        self.packets += 1;
    }

    fn finish(mut self) -> u64 {
        self.out.flush().unwrap();
        self.packets
    }
}

/// Ethernet + IPv4 with the given protocol, fragment field (flags and offset) and payload.
fn ipv4(src: [u8; 4], dst: [u8; 4], proto: u8, id: u16, frag: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(34 + payload.len());
    f.extend_from_slice(&[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00]);
    f.extend_from_slice(&[0x45, 0]);
    f.extend_from_slice(&((20 + payload.len()) as u16).to_be_bytes());
    f.extend_from_slice(&id.to_be_bytes());
    f.extend_from_slice(&frag.to_be_bytes());
    f.extend_from_slice(&[64, proto, 0, 0]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&dst);
    f.extend_from_slice(payload);
    f
}

fn udp(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut u = Vec::with_capacity(8 + payload.len());
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    ipv4(src, dst, 17, 0, 0x4000, &u)
}

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;
const PSH_ACK: u8 = 0x18;

#[allow(clippy::too_many_arguments)]
fn tcp(
    src: [u8; 4],
    sport: u16,
    dst: [u8; 4],
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    payload: &[u8],
) -> Vec<u8> {
    let mut t = Vec::with_capacity(20 + payload.len());
    t.extend_from_slice(&sport.to_be_bytes());
    t.extend_from_slice(&dport.to_be_bytes());
    t.extend_from_slice(&seq.to_be_bytes());
    t.extend_from_slice(&ack.to_be_bytes());
    t.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    t.extend_from_slice(payload);
    ipv4(src, dst, 6, 0, 0x4000, &t)
}

/// A client at `c`:`cport` opening a connection to `s`:`sport` (SYN, SYN-ACK, ACK);
/// data then starts at client sequence `ISN_C + 1`.
const ISN_C: u32 = 1000;
const ISN_S: u32 = 5000;

fn handshake(w: &mut PcapWriter, ts: &mut u64, c: [u8; 4], cport: u16, s: [u8; 4], sport: u16) {
    w.frame(*ts, &tcp(c, cport, s, sport, ISN_C, 0, SYN, b""));
    w.frame(
        *ts + 1_000,
        &tcp(s, sport, c, cport, ISN_S, ISN_C + 1, SYN | ACK, b""),
    );
    w.frame(
        *ts + 2_000,
        &tcp(c, cport, s, sport, ISN_C + 1, ISN_S + 1, ACK, b""),
    );
    *ts += 3_000;
}

/// What a replay did.
struct Run {
    counters: Value,
    /// VmHWM of c2tap, last seen before it exited.
    hwm_kib: i64,
    /// ru_maxrss of the child (≥ hwm_kib, see the module doc).
    max_rss_kib: i64,
    elapsed: Duration,
    stderr: String,
}

/// Replays `pcap` with default settings (stats lines on, so the stop line is written),
/// waiting for the child with `wait4` for its own peak RSS.
fn replay(dir: &Path, pcap: &Path, name: &str) -> Run {
    let out_path = dir.join("out.jsonl");
    let err_path = dir.join("err.txt");
    let start = Instant::now();
    // Reaped below by wait4 (not Child::wait), which also gives its rusage.
    #[allow(clippy::zombie_processes)]
    let child = c2tap()
        .args(["replay", "--stats-interval", "3600"])
        .arg(pcap)
        .stdin(Stdio::null())
        .stdout(File::create(&out_path).unwrap())
        .stderr(File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let mut hwm_kib = 0;
    loop {
        hwm_kib = hwm_kib.max(vm_hwm_kib(pid).unwrap_or(0));
        // SAFETY: as above; WNOHANG returns 0 while the child runs.
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        assert!(r >= 0, "wait4: {}", std::io::Error::last_os_error());
        if r == pid {
            break;
        }
        if start.elapsed() > STALL_AFTER {
            // SAFETY: our own child, not yet reaped.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("{name}: c2tap stalled (still running after {STALL_AFTER:?})");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let elapsed = start.elapsed();
    let stderr = std::fs::read_to_string(&err_path).unwrap();
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{name}: c2tap failed ({status:#x}): {stderr}"
    );
    let stop = std::fs::read_to_string(&out_path)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .rfind(|e| e["EventID"] == 4 && e["State"] == "stop")
        .unwrap_or_else(|| panic!("{name}: no SensorState stop line"));
    let run = Run {
        counters: stop["Counters"].clone(),
        hwm_kib,
        max_rss_kib: usage.ru_maxrss,
        elapsed,
        stderr,
    };
    if std::env::var_os("FLOOD_REPORT").is_some() {
        eprintln!(
            "{name}: peak RSS {:.1} MiB (wait4 bound {:.1} MiB), {:.1} s, counters {}",
            run.hwm_kib as f64 / 1024.0,
            run.max_rss_kib as f64 / 1024.0,
            run.elapsed.as_secs_f64(),
            run.counters
        );
    }
    assert!(run.hwm_kib > 0, "{name}: VmHWM never read");
    assert!(
        run.hwm_kib.max(run.max_rss_kib) < RSS_LIMIT_KIB,
        "{name}: peak RSS {} KiB (wait4 {} KiB) is over 256 MiB ({})",
        run.hwm_kib,
        run.max_rss_kib,
        run.counters
    );
    run
}

/// The peak resident set of a running process, from /proc/PID/status.
fn vm_hwm_kib(pid: libc::pid_t) -> Option<i64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn counter(run: &Run, name: &str) -> u64 {
    run.counters[name]
        .as_u64()
        .unwrap_or_else(|| panic!("no counter {name} in {}", run.counters))
}

/// Workers c2tap starts by default (`config::default_workers`).
fn default_workers() -> u64 {
    std::thread::available_parallelism()
        .map(|n| n.get().saturating_sub(1))
        .unwrap_or(1)
        .max(1) as u64
}

/// A million SYNs, each a new flow (distinct source addresses, random ports), a
/// microsecond apart: nothing expires, so every flow beyond the tables' capacity is
/// an eviction.
#[test]
fn syn_flood_million_flows() {
    const FLOWS: u64 = 1_000_000;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("syn.pcap");
    let mut rng = Rng(0x5eed_0001);
    let mut w = PcapWriter::create(&path);
    for i in 0..FLOWS {
        let src = [10, (i >> 16) as u8, (i >> 8) as u8, i as u8];
        let dst = [192, 0, 2, rng.below(256) as u8];
        let (sport, dport) = (rng.port(), rng.port());
        let seq = rng.next() as u32;
        w.frame(
            T0_NS + i * 1_000,
            &tcp(src, sport, dst, dport, seq, 0, SYN, b""),
        );
    }
    assert_eq!(w.finish(), FLOWS);
    let run = replay(dir.path(), &path, "syn_flood");
    assert_eq!(counter(&run, "packets"), FLOWS);
    assert_eq!(counter(&run, "decode_errors"), 0);
    assert_eq!(counter(&run, "flows_created"), FLOWS);
    assert_eq!(
        counter(&run, "flows_expired"),
        0,
        "one second of packet time"
    );
    assert_eq!(
        counter(&run, "flows_evicted"),
        FLOWS - default_workers() * FLOW_TABLE_CAP,
        "every table full at the end, everything else evicted"
    );
    assert_eq!(
        counter(&run, "events"),
        2 * FLOWS,
        "one NetworkConnect and one ConnectionEnd per flow"
    );
    assert!(run.stderr.is_empty(), "{}", run.stderr);
}

/// 200k distinct client/server pairs, 5 connections each (a SYN, a payload, a FIN),
/// the pairs interleaved a few milliseconds apart: every connection is a beacon check-in
/// (its ConnectionEnd), so the beacon tracker sees a million check-ins of pairs that
/// never repeat enough to score. It stays under its caps, evicting the least recently
/// seen pairs, and counts what it evicted.
#[test]
fn two_hundred_thousand_pairs_of_five_connections() {
    const PAIRS: u64 = 200_000;
    const CONNS: u64 = 5;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pairs.pcap");
    let mut w = PcapWriter::create(&path);
    let mut t = T0_NS;
    for round in 0..CONNS {
        for i in 0..PAIRS {
            let src = [10, (i >> 16) as u8, (i >> 8) as u8, i as u8];
            let dst = [198, 51, (i >> 8) as u8, i as u8];
            let sport = 40_000 + round as u16;
            let seq = (i as u32).wrapping_mul(7919);
            w.frame(t, &tcp(src, sport, dst, 443, seq, 0, SYN, b""));
            w.frame(
                t + 1_000,
                &tcp(src, sport, dst, 443, seq + 1, 0, PSH_ACK, b"ping"),
            );
            t += 5_000;
        }
    }
    let packets = w.finish();
    let run = replay(dir.path(), &path, "pairs_flood");
    assert_eq!(counter(&run, "packets"), packets);
    assert_eq!(counter(&run, "flows_created"), PAIRS * CONNS);
    let held = counter(&run, "beacon_pairs");
    let evicted = counter(&run, "beacon_evictions");
    assert!(
        held > 0 && held <= default_workers() * 65_536,
        "{}",
        run.counters
    );
    // Every pair was seen; what is not held any more was evicted or expired.
    assert!(evicted >= PAIRS - held, "{}", run.counters);
    assert_eq!(counter(&run, "alerts"), 0, "no pair is a beacon");
    assert!(run.stderr.is_empty(), "{}", run.stderr);
}

/// A random DNS name: 1-4 labels of 1-63 letters, digits and hyphens.
fn random_name(rng: &mut Rng) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789-";
    let labels = 1 + rng.below(4);
    let mut name = String::new();
    for l in 0..labels {
        if l > 0 {
            name.push('.');
        }
        for _ in 0..1 + rng.below(63) {
            name.push(ALPHABET[rng.below(ALPHABET.len() as u64) as usize] as char);
        }
    }
    name
}

fn dns_query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split('.') {
        m.push(label.len() as u8);
        m.extend_from_slice(label.as_bytes());
    }
    m.extend_from_slice(&[0]);
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes());
    m
}

/// 200k unanswered queries for random names from random ports, 20 µs apart (4 s of
/// packet time, inside the 5 s DNS timeout): the transaction table fills and evicts,
/// and every query is accounted for as evicted or flushed at the end.
#[test]
fn dns_flood_random_names() {
    const QUERIES: u64 = 200_000;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dns.pcap");
    let mut rng = Rng(0x5eed_0002);
    let mut w = PcapWriter::create(&path);
    for i in 0..QUERIES {
        let name = random_name(&mut rng);
        let q = dns_query(rng.next() as u16, &name, 1 + rng.below(65) as u16);
        let src = [10, 1, (i >> 8) as u8, i as u8];
        w.frame(
            T0_NS + i * 20_000,
            &udp(src, rng.port(), [10, 0, 0, 53], 53, &q),
        );
    }
    w.finish();
    let run = replay(dir.path(), &path, "dns_flood");
    assert_eq!(counter(&run, "packets"), QUERIES);
    assert_eq!(counter(&run, "dns_messages"), QUERIES);
    assert_eq!(counter(&run, "dns_parse_errors"), 0);
    assert_eq!(counter(&run, "dns_timeouts"), 0, "4 s of packet time");
    // Each worker's table keeps DNS_MAX_PENDING queries (reported at the end as
    // unanswered); every other query was evicted, oldest first, and reported then.
    assert_eq!(
        counter(&run, "dns_evictions"),
        QUERIES - default_workers() * DNS_MAX_PENDING,
        "{}",
        run.counters
    );
    // One DnsQuery per query, one NetworkConnect and one ConnectionEnd per flow
    // (random ports repeat).
    let flows = counter(&run, "flows_created");
    assert!(flows > QUERIES - 100, "{}", run.counters);
    assert_eq!(counter(&run, "events"), QUERIES + 2 * flows);
    assert_eq!(
        counter(&run, "flows_evicted"),
        flows - default_workers() * FLOW_TABLE_CAP
    );
}

/// One HTTP request whose head never ends: 32 MiB of header lines in 1448-byte
/// segments. The head is refused at its 16 KiB cap (one parse error) and the stream
/// buffer stops at its 64 KiB prefix cap.
#[test]
fn endless_http_headers() {
    const BYTES: usize = 32 << 20;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("http.pcap");
    let mut w = PcapWriter::create(&path);
    let (c, s) = ([10, 0, 0, 1], [10, 0, 0, 80]);
    let mut ts = T0_NS;
    handshake(&mut w, &mut ts, c, 40000, s, 80);
    let mut stream = b"GET /endless HTTP/1.1\r\nHost: flood.example\r\n".to_vec();
    let mut n = 0u64;
    while stream.len() < BYTES {
        stream.extend_from_slice(format!("X-Header-{n}: {}\r\n", "v".repeat(40)).as_bytes());
        n += 1;
    }
    let mut seq = ISN_C + 1;
    for seg in stream.chunks(1448) {
        w.frame(ts, &tcp(c, 40000, s, 80, seq, ISN_S + 1, PSH_ACK, seg));
        seq = seq.wrapping_add(seg.len() as u32);
        ts += 10_000;
    }
    let packets = w.finish();
    let run = replay(dir.path(), &path, "endless_http_headers");
    assert_eq!(counter(&run, "packets"), packets);
    assert_eq!(counter(&run, "flows_created"), 1);
    // The head is not an error: its first 16 KiB make the request event, flagged.
    assert_eq!(counter(&run, "http_parse_errors"), 0, "{}", run.counters);
    assert_eq!(
        counter(&run, "events"),
        3,
        "HttpRequest, NetworkConnect and ConnectionEnd"
    );
    assert_eq!(counter(&run, "reassembly_gaps"), 0);
    // HTTP streams are followed (the window slides with what the parser consumed) and
    // the parser skips the over-long head as it arrives, so nothing is cut or held:
    // memory stays at the window whatever the head's length (RSS checked above).
    assert_eq!(counter(&run, "reassembly_capped"), 0, "{}", run.counters);
    let out = common::run(c2tap().args(["replay", "--events", "all"]).arg(&path));
    let ev = common::events(&out.stdout);
    let req = ev
        .iter()
        .find(|e| e["EventID"] == 100)
        .expect("the request");
    assert_eq!(req["HttpUri"], "/endless");
    assert_eq!(req["Truncated"], true, "{req}");
    assert_eq!(req["HttpHost"], "flood.example");
}

/// 100k data segments of one connection sent last first: only the 64 KiB stream
/// prefix is reassembled, the out-of-order store holds 32 pieces, and every hole it
/// gives up on is counted as a gap.
#[test]
fn hundred_thousand_out_of_order_segments() {
    const SEGMENTS: u32 = 100_000;
    const LEN: u32 = 100;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ooo.pcap");
    let mut w = PcapWriter::create(&path);
    let (c, s) = ([10, 0, 0, 1], [10, 0, 0, 80]);
    let mut ts = T0_NS;
    handshake(&mut w, &mut ts, c, 40001, s, 80);
    let mut rng = Rng(0x5eed_0004);
    let payload = rng.bytes(LEN as usize);
    for k in (0..SEGMENTS).rev() {
        let seq = ISN_C + 1 + k * LEN;
        w.frame(ts, &tcp(c, 40001, s, 80, seq, ISN_S + 1, PSH_ACK, &payload));
        ts += 1_000;
    }
    let packets = w.finish();
    let run = replay(dir.path(), &path, "out_of_order");
    assert_eq!(counter(&run, "packets"), packets);
    assert_eq!(counter(&run, "flows_created"), 1);
    // The store fills with the last pieces of the prefix, the hole in front of them is
    // given up (one gap), and the earlier offsets then arrive too late.
    assert_eq!(counter(&run, "reassembly_gaps"), 1, "{}", run.counters);
    // Segments that end past the 64 KiB prefix: all but the 655 wholly inside it.
    assert_eq!(
        counter(&run, "reassembly_capped"),
        u64::from(SEGMENTS) - 655,
        "{}",
        run.counters
    );
}

/// 10k connections, each sending ten 100-byte pieces twice with different bytes
/// (both copies held out of order behind a missing first segment): every second copy
/// is one overlap conflict (the first copy wins), and each connection's one hole is a
/// gap when the stream is flushed at the end.
#[test]
fn overlapping_segments_with_different_bytes() {
    const CONNS: u32 = 10_000;
    const PIECES: u32 = 10;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("overlap.pcap");
    let mut w = PcapWriter::create(&path);
    let mut rng = Rng(0x5eed_0005);
    let mut ts = T0_NS;
    for i in 0..CONNS {
        let c = [10, 2, (i >> 8) as u8, i as u8];
        let s = [10, 0, 0, 80];
        let cport = rng.port();
        handshake(&mut w, &mut ts, c, cport, s, 80);
        for k in 0..PIECES {
            let seq = ISN_C + 1 + 100 + k * 100;
            for fill in [b'A', b'B'] {
                let payload = [fill; 100];
                w.frame(ts, &tcp(c, cport, s, 80, seq, ISN_S + 1, PSH_ACK, &payload));
                ts += 1_000;
            }
        }
    }
    w.finish();
    let run = replay(dir.path(), &path, "overlap");
    assert_eq!(counter(&run, "flows_created"), u64::from(CONNS));
    assert_eq!(
        counter(&run, "reassembly_overlap_conflicts"),
        u64::from(CONNS * PIECES),
        "{}",
        run.counters
    );
    assert_eq!(
        counter(&run, "reassembly_gaps"),
        u64::from(CONNS),
        "{}",
        run.counters
    );
    assert_eq!(
        counter(&run, "events"),
        2 * u64::from(CONNS),
        "one NetworkConnect and one ConnectionEnd each"
    );
}

/// 100k fragmented UDP datagrams, each missing its middle fragment: nothing
/// reassembles, and every fragment is dropped (datagram cap, or flushed at the end).
#[test]
fn fragment_flood_with_missing_pieces() {
    const DATAGRAMS: u64 = 100_000;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("frag.pcap");
    let mut w = PcapWriter::create(&path);
    let mut rng = Rng(0x5eed_0006);
    for i in 0..DATAGRAMS {
        let src = [10, 3, (i >> 8) as u8, i as u8];
        let dst = [10, 0, 0, 53];
        let id = rng.next() as u16;
        // Fragment 1: the UDP header and 16 bytes (MF); fragment 3 at offset 48 (last).
        let mut first = Vec::new();
        first.extend_from_slice(&rng.port().to_be_bytes());
        first.extend_from_slice(&53u16.to_be_bytes());
        first.extend_from_slice(&72u16.to_be_bytes());
        first.extend_from_slice(&[0, 0]);
        first.extend(rng.bytes(16));
        let ts = T0_NS + i * 10_000;
        w.frame(ts, &ipv4(src, dst, 17, id, 0x2000, &first));
        w.frame(ts + 1_000, &ipv4(src, dst, 17, id, 48 / 8, &rng.bytes(24)));
    }
    w.finish();
    let run = replay(dir.path(), &path, "fragments");
    assert_eq!(counter(&run, "packets"), 2 * DATAGRAMS);
    assert_eq!(counter(&run, "fragments_reassembled"), 0);
    assert_eq!(
        counter(&run, "fragments_dropped"),
        2 * DATAGRAMS,
        "{}",
        run.counters
    );
    assert_eq!(counter(&run, "flows_created"), 0, "{}", run.counters);
}

/// 50k QUIC v1 Initials (1200 bytes) with random DCIDs and undecryptable payloads, ten
/// per connection from 5k connections: a connection derives keys for at most 4 DCIDs, so
/// at most 4 of its Initials are tried (and fail authentication).
#[test]
fn quic_initials_with_random_dcids() {
    const CONNS: u64 = 5_000;
    const PER_CONN: u64 = 10;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("quic.pcap");
    let mut w = PcapWriter::create(&path);
    let mut rng = Rng(0x5eed_0007);
    let mut ts = T0_NS;
    for i in 0..CONNS {
        let src = [10, 4, (i >> 8) as u8, i as u8];
        let sport = rng.port();
        for _ in 0..PER_CONN {
            let dcid_len = 8 + rng.below(13) as usize;
            let mut p = vec![0xc3, 0, 0, 0, 1, dcid_len as u8];
            p.extend(rng.bytes(dcid_len));
            p.extend_from_slice(&[0, 0]); // no SCID, no token
            let rest = 1200 - p.len() - 2;
            p.extend_from_slice(&(0x4000 | rest as u16).to_be_bytes());
            p.extend(rng.bytes(rest));
            w.frame(ts, &udp(src, sport, [192, 0, 2, 1], 443, &p));
            ts += 10_000;
        }
    }
    w.finish();
    let run = replay(dir.path(), &path, "quic");
    assert_eq!(counter(&run, "packets"), CONNS * PER_CONN);
    assert_eq!(counter(&run, "flows_created"), CONNS);
    // Each flow tries (and fails to authenticate) its first 4 DCIDs, then stops
    // deriving keys: the rest of its Initials cost nothing.
    assert_eq!(
        counter(&run, "quic_parse_errors"),
        CONNS * QUIC_MAX_KEY_DERIVATIONS,
        "{}",
        run.counters
    );
    assert_eq!(
        counter(&run, "events"),
        2 * CONNS,
        "one NetworkConnect and one ConnectionEnd per flow"
    );
}
