//! Helpers shared by the integration tests: the built binary, the shared folder, and
//! small captures built byte by byte.
#![allow(dead_code)]

pub mod certs;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn c2tap() -> Command {
    Command::new(env!("CARGO_BIN_EXE_c2tap"))
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared` beside the repository (CI, a developer's checkout), if present.
pub fn shared_dir() -> Option<PathBuf> {
    let beside = repo().join("../shared");
    [beside, PathBuf::from("/work/shared")]
        .into_iter()
        .find(|p| p.join("corpus").is_dir())
}

pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("running c2tap")
}

/// JSON objects of the output lines, SensorState (EventID 4) left out.
pub fn events(stdout: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}"))
        })
        .filter(|v| v["EventID"] != 4)
        .collect()
}

/// A classic little-endian microsecond pcap with the given link type and frames.
pub fn pcap(linktype: u32, frames: &[(u32, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&linktype.to_le_bytes());
    for (secs, frame) in frames {
        out.extend_from_slice(&secs.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        out.extend_from_slice(frame);
    }
    out
}

/// An Ethernet + IPv4 + UDP frame.
pub fn udp_frame(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00]);
    let total = 20 + 8 + payload.len();
    let mut ip = vec![
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        1,
        0,
        0,
        64,
        17,
        0,
        0,
    ];
    ip.extend_from_slice(&src);
    ip.extend_from_slice(&dst);
    let sum = checksum(&ip);
    ip[10] = (sum >> 8) as u8;
    ip[11] = sum as u8;
    f.extend_from_slice(&ip);
    let ulen = 8 + payload.len();
    f.extend_from_slice(&sport.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    f.extend_from_slice(&(ulen as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(payload);
    f
}

fn checksum(b: &[u8]) -> u16 {
    let mut sum = 0u32;
    for c in b.chunks(2) {
        sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// A DNS query message for `name` (type A unless given).
pub fn dns_query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split('.') {
        m.push(label.len() as u8);
        m.extend_from_slice(label.as_bytes());
    }
    m.push(0);
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes());
    m
}

/// The response to [`dns_query`] with one A answer.
pub fn dns_answer_a(id: u16, name: &str, addr: [u8; 4], ttl: u32) -> Vec<u8> {
    let mut m = dns_query(id, name, 1);
    m[2] = 0x81;
    m[3] = 0x80;
    m[7] = 1; // ANCOUNT
    m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
    m.extend_from_slice(&ttl.to_be_bytes());
    m.extend_from_slice(&[0, 4]);
    m.extend_from_slice(&addr);
    m
}

pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// True when `tool` is on the PATH.
pub fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// True when the tests run as root (network namespaces, live capture).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(str::to_owned))
        .is_some_and(|l| l.split_whitespace().nth(2) == Some("0"))
}

/// A network namespace of the test's own with loopback up, deleted when dropped.
pub struct Netns(pub String);

impl Netns {
    /// `prefix` names the test, so that concurrent tests never share a namespace.
    pub fn new(prefix: &str) -> Netns {
        let name = format!("{prefix}-{}", std::process::id());
        let ok = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .unwrap()
            .success();
        assert!(ok, "ip netns add {name} failed");
        let ns = Netns(name);
        assert!(
            ns.exec(&["ip", "link", "set", "lo", "up"])
                .status()
                .unwrap()
                .success()
        );
        ns
    }

    /// A command run inside the namespace.
    pub fn exec(&self, argv: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.0]).args(argv);
        c
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "delete", &self.0])
            .status();
    }
}

/// The frames of DNS exchanges `from..to` (a query and its A answer each), names
/// `host{i}.{domain}`, one second per thousand exchanges: bulk traffic for output tests.
pub fn dns_exchange_frames(domain: &str, from: u32, to: u32) -> Vec<(u32, Vec<u8>)> {
    let mut frames = Vec::with_capacity(2 * to.saturating_sub(from) as usize);
    for i in from..to {
        let name = format!("host{i}.{domain}");
        let sport = 1024 + (i % 60_000) as u16;
        let id = i as u16;
        let t = 1_700_000_000 + i / 1000;
        let query = dns_query(id, &name, 1);
        let answer = dns_answer_a(id, &name, [192, 0, 2, 1], 60);
        frames.push((
            t,
            udp_frame([10, 0, 0, 1], sport, [10, 0, 0, 53], 53, &query),
        ));
        frames.push((
            t,
            udp_frame([10, 0, 0, 53], 53, [10, 0, 0, 1], sport, &answer),
        ));
    }
    frames
}

/// An Ethernet pcap of timed frames.
pub fn pcap_of(frames: &[(u32, Vec<u8>)]) -> Vec<u8> {
    let refs: Vec<(u32, &[u8])> = frames.iter().map(|(t, f)| (*t, f.as_slice())).collect();
    pcap(1, &refs)
}

/// Every packet of a pcap or pcapng file, in order, with its link type (the file's, or
/// its pcapng interface's): the frames the corpus tests walk with their own parsers.
pub fn capture_frames(path: &Path) -> Vec<(i32, Vec<u8>)> {
    use pcap_parser::{PcapBlockOwned, PcapError, create_reader, pcapng::Block};
    let file = std::fs::File::open(path).unwrap();
    let mut reader = create_reader(1 << 20, file).unwrap();
    let mut linktypes: Vec<i32> = Vec::new();
    let mut legacy_link = 1;
    let mut out = Vec::new();
    loop {
        match reader.next() {
            Ok((offset, block)) => {
                let packet = match block {
                    PcapBlockOwned::LegacyHeader(h) => {
                        legacy_link = h.network.0;
                        None
                    }
                    PcapBlockOwned::Legacy(b) => Some((legacy_link, b.data.to_vec())),
                    PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                        linktypes.push(idb.linktype.0);
                        None
                    }
                    PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                        let lt = linktypes.get(epb.if_id as usize).copied().unwrap_or(1);
                        let n = (epb.caplen as usize).min(epb.data.len());
                        Some((lt, epb.data[..n].to_vec()))
                    }
                    PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                        Some((linktypes.first().copied().unwrap_or(1), spb.data.to_vec()))
                    }
                    PcapBlockOwned::NG(_) => None,
                };
                reader.consume(offset);
                out.extend(packet);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => reader.refill().unwrap(),
            Err(e) => panic!("{}: {e:?}", path.display()),
        }
    }
    out
}
