//! Replay tests on captures built byte by byte, and a property test that no input makes
//! the readers panic or loop.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::io::{self, Read};
use std::path::PathBuf;

use proptest::prelude::*;

use super::*;

fn sup(lt: u32) -> bool {
    matches!(lt, 0 | 1 | 101 | 113 | 228 | 229 | 276)
}

type Got = (i64, u32, Vec<u8>, u32);

/// Every frame of a replay, and the error that ended it, if any.
fn drain(r: &mut Replay) -> (Vec<Got>, Option<CaptureError>) {
    let mut out = Vec::new();
    loop {
        match r.next_frame() {
            Ok(Next::Frame(f)) => out.push((f.ts.0, f.linktype, f.data.to_vec(), f.origlen)),
            Ok(Next::Idle) => panic!("replay is never idle"),
            Ok(Next::End) => return (out, None),
            Err(e) => {
                assert!(matches!(r.next_frame(), Ok(Next::End)), "errors are final");
                return (out, Some(e));
            }
        }
    }
}

fn replay_bytes(bytes: Vec<u8>) -> Result<Replay, CaptureError> {
    Replay::from_reader("mem", Box::new(io::Cursor::new(bytes)), sup)
}

// ---- builders ----

fn put32(out: &mut Vec<u8>, v: u32, be: bool) {
    out.extend_from_slice(&if be { v.to_be_bytes() } else { v.to_le_bytes() });
}
fn put16(out: &mut Vec<u8>, v: u16, be: bool) {
    out.extend_from_slice(&if be { v.to_be_bytes() } else { v.to_le_bytes() });
}

const MICRO: u32 = 0xa1b2_c3d4;
const NANO: u32 = 0xa1b2_3c4d;
const MODIFIED: u32 = 0xa1b2_cd34;

/// (ts_sec, ts_frac, data, origlen)
type Rec<'a> = (u32, u32, &'a [u8], u32);

fn pcap(magic: u32, be: bool, snaplen: u32, linktype: u32, recs: &[Rec<'_>]) -> Vec<u8> {
    let mut o = Vec::new();
    put32(&mut o, magic, be);
    put16(&mut o, 2, be);
    put16(&mut o, 4, be);
    put32(&mut o, 0, be);
    put32(&mut o, 0, be);
    put32(&mut o, snaplen, be);
    put32(&mut o, linktype, be);
    for &(s, f, d, orig) in recs {
        put32(&mut o, s, be);
        put32(&mut o, f, be);
        put32(&mut o, d.len() as u32, be);
        put32(&mut o, orig, be);
        if magic == MODIFIED {
            o.extend_from_slice(&[0; 8]);
        }
        o.extend_from_slice(d);
    }
    o
}

struct Ng {
    be: bool,
    out: Vec<u8>,
}

impl Ng {
    fn new(be: bool) -> Ng {
        let mut ng = Ng {
            be,
            out: Vec::new(),
        };
        ng.shb();
        ng
    }
    fn block(&mut self, btype: u32, mut body: Vec<u8>) -> &mut Ng {
        while !body.len().is_multiple_of(4) {
            body.push(0);
        }
        let len = 12 + body.len() as u32;
        put32(&mut self.out, btype, self.be);
        put32(&mut self.out, len, self.be);
        self.out.extend_from_slice(&body);
        put32(&mut self.out, len, self.be);
        self
    }
    fn shb(&mut self) -> &mut Ng {
        let mut b = Vec::new();
        put32(&mut b, 0x1A2B_3C4D, self.be);
        put16(&mut b, 1, self.be);
        put16(&mut b, 0, self.be);
        b.extend_from_slice(&[0xff; 8]);
        self.block(0x0A0D_0D0A, b)
    }
    fn idb(
        &mut self,
        linktype: u16,
        snaplen: u32,
        tsresol: Option<u8>,
        tsoffset: Option<i64>,
    ) -> &mut Ng {
        let be = self.be;
        let mut b = Vec::new();
        put16(&mut b, linktype, be);
        put16(&mut b, 0, be);
        put32(&mut b, snaplen, be);
        if let Some(r) = tsresol {
            put16(&mut b, 9, be);
            put16(&mut b, 1, be);
            b.extend_from_slice(&[r, 0, 0, 0]);
        }
        if let Some(off) = tsoffset {
            put16(&mut b, 14, be);
            put16(&mut b, 8, be);
            b.extend_from_slice(&if be {
                off.to_be_bytes()
            } else {
                off.to_le_bytes()
            });
        }
        if tsresol.is_some() || tsoffset.is_some() {
            put32(&mut b, 0, be);
        }
        self.block(1, b)
    }
    fn epb(&mut self, if_id: u32, ts: u64, data: &[u8], origlen: u32) -> &mut Ng {
        let be = self.be;
        let mut b = Vec::new();
        put32(&mut b, if_id, be);
        put32(&mut b, (ts >> 32) as u32, be);
        put32(&mut b, ts as u32, be);
        put32(&mut b, data.len() as u32, be);
        put32(&mut b, origlen, be);
        b.extend_from_slice(data);
        self.block(6, b)
    }
    fn spb(&mut self, data: &[u8], origlen: u32) -> &mut Ng {
        let mut b = Vec::new();
        put32(&mut b, origlen, self.be);
        b.extend_from_slice(data);
        self.block(3, b)
    }
    fn opb(&mut self, if_id: u16, ts: u64, data: &[u8]) -> &mut Ng {
        let be = self.be;
        let mut b = Vec::new();
        put16(&mut b, if_id, be);
        put16(&mut b, 0, be);
        put32(&mut b, (ts >> 32) as u32, be);
        put32(&mut b, ts as u32, be);
        put32(&mut b, data.len() as u32, be);
        put32(&mut b, data.len() as u32, be);
        b.extend_from_slice(data);
        self.block(2, b)
    }
}

const P1: &[u8] = b"\x45packet-one";
const P2: &[u8] = b"\x60two";

// ---- pcap ----

#[test]
fn pcap_little_endian_micro() {
    let f = pcap(
        MICRO,
        false,
        65535,
        1,
        &[(1_700_000_000, 123_456, P1, 100), (1_700_000_001, 0, P2, 4)],
    );
    let mut r = replay_bytes(f).unwrap();
    let (got, err) = drain(&mut r);
    assert!(err.is_none());
    assert_eq!(
        got,
        vec![
            (1_700_000_000_123_456_000, 1, P1.to_vec(), 100),
            (1_700_000_001_000_000_000, 1, P2.to_vec(), 4),
        ]
    );
    let s = r.stats();
    assert_eq!(
        (s.packets, s.bytes, s.files),
        (2, (P1.len() + P2.len()) as u64, 1)
    );
    assert_eq!(r.current_name().as_ref(), "mem");
}

#[test]
fn pcap_big_endian_and_nanoseconds() {
    for (magic, be, frac, want) in [
        (MICRO, true, 7, 7_000),
        (NANO, false, 123_456_789, 123_456_789),
        (NANO, true, 5, 5),
    ] {
        let f = pcap(magic, be, 65535, 101, &[(10, frac, P2, 4)]);
        let (got, err) = drain(&mut replay_bytes(f).unwrap());
        assert!(err.is_none());
        assert_eq!(
            got,
            vec![(10_000_000_000 + want, 101, P2.to_vec(), 4)],
            "{magic:x} be={be}"
        );
    }
}

#[test]
fn pcap_modified_format_both_orders() {
    for be in [false, true] {
        let f = pcap(
            MODIFIED,
            be,
            65535,
            1,
            &[(3, 4, P1, P1.len() as u32), (5, 6, P2, 4)],
        );
        let (got, err) = drain(&mut replay_bytes(f).unwrap());
        assert!(err.is_none(), "{err:?}");
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], (3_000_004_000, 1, P1.to_vec(), P1.len() as u32));
        assert_eq!(got[1].2, P2);
    }
}

#[test]
fn pcap_raw_ip_dlt_12_is_linktype_101() {
    let f = pcap(MICRO, false, 65535, 12, &[(1, 0, P1, 11)]);
    let (got, _) = drain(&mut replay_bytes(f).unwrap());
    assert_eq!(got[0].1, 101);
}

#[test]
fn zero_length_packets() {
    let f = pcap(
        MICRO,
        false,
        65535,
        1,
        &[(1, 0, b"", 0), (2, 0, b"", 60), (3, 0, P2, 4)],
    );
    let (got, err) = drain(&mut replay_bytes(f).unwrap());
    assert!(err.is_none());
    assert_eq!(got.len(), 3);
    assert!(got[0].2.is_empty() && got[1].2.is_empty());
    assert_eq!(got[1].3, 60);
}

#[test]
fn caplen_over_snaplen_and_origlen_is_clamped_and_counted() {
    // snaplen 8, a 11-byte record whose origlen says 5.
    let f = pcap(MICRO, false, 8, 1, &[(1, 0, P1, 5), (2, 0, P2, 4)]);
    let mut r = replay_bytes(f).unwrap();
    let (got, err) = drain(&mut r);
    assert!(err.is_none());
    assert_eq!(got[0].2, &P1[..8]);
    assert_eq!(got[0].3, P1.len() as u32);
    assert_eq!(got[1].2, P2, "the next record is still found");
    let s = r.stats();
    assert_eq!((s.caplen_clamped, s.origlen_raised), (1, 1));
}

#[test]
fn truncated_in_file_header() {
    let f = pcap(MICRO, false, 65535, 1, &[]);
    let err = replay_bytes(f[..10].to_vec()).err().unwrap();
    assert!(
        matches!(
            err,
            CaptureError::TruncatedHeader {
                got: 10,
                need: 24,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "mem: truncated in the file header (10 of 24 bytes)"
    );
}

#[test]
fn truncated_in_packet_yields_what_came_before() {
    let f = pcap(
        MICRO,
        false,
        65535,
        1,
        &[(1, 0, P1, 11), (2, 0, P2, 4), (3, 0, P1, 11)],
    );
    for cut in [f.len() - 3, f.len() - 11 - 10] {
        let (got, err) = drain(&mut replay_bytes(f[..cut].to_vec()).unwrap());
        assert_eq!(got.len(), 2);
        let err = err.unwrap();
        let offset = 24 + 16 + 11 + 16 + 4;
        assert_eq!(
            err.to_string(),
            format!("mem: truncated in packet record 3 at byte offset {offset}")
        );
    }
}

#[test]
fn record_larger_than_the_cap_is_an_error() {
    let mut f = pcap(MICRO, false, 65535, 1, &[(1, 0, P1, 11)]);
    let second = f.len();
    f.extend_from_slice(&pcap(MICRO, false, 0, 0, &[(2, 0, P2, 4)])[24..]);
    f[second + 8..second + 12].copy_from_slice(&(MAX_RECORD as u32).to_le_bytes());
    let (got, err) = drain(&mut replay_bytes(f).unwrap());
    assert_eq!(got.len(), 1);
    assert!(
        matches!(err, Some(CaptureError::RecordTooLarge { record: 2, .. })),
        "{err:?}"
    );
}

#[test]
fn compressed_and_foreign_files_are_named() {
    let cases: [(&[u8], &str); 4] = [
        (
            &[0x1f, 0x8b, 8, 0, 0, 0],
            "mem: not a pcap or pcapng file (starts with 1f 8b: gzip-compressed? decompress it first)",
        ),
        (
            &[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0, 0],
            "mem: not a pcap or pcapng file (starts with fd 37 7a 58 5a 00: xz-compressed? decompress it first)",
        ),
        (
            &[0x28, 0xb5, 0x2f, 0xfd, 1],
            "mem: not a pcap or pcapng file (starts with 28 b5 2f fd: zstd-compressed? decompress it first)",
        ),
        (
            b"GET / HTTP/1.1",
            "mem: not a pcap or pcapng file (starts with 47 45 54 20)",
        ),
    ];
    for (bytes, msg) in cases {
        assert_eq!(replay_bytes(bytes.to_vec()).err().unwrap().to_string(), msg);
    }
}

#[test]
fn empty_file() {
    let err = replay_bytes(Vec::new()).err().unwrap();
    assert_eq!(err.to_string(), "mem: empty file");
    // A header and no packets is a valid, empty capture.
    let (got, err) = drain(&mut replay_bytes(pcap(MICRO, false, 65535, 1, &[])).unwrap());
    assert!(got.is_empty() && err.is_none());
}

#[test]
fn unsupported_link_type_only() {
    let err = replay_bytes(pcap(MICRO, false, 65535, 147, &[(1, 0, P1, 11)]))
        .err()
        .unwrap();
    assert_eq!(err.to_string(), "mem: unsupported link type 147 (USER0)");
    let mut ng = Ng::new(false);
    ng.idb(147, 0, None, None)
        .epb(0, 1, P1, 11)
        .epb(0, 2, P2, 4);
    let mut r = replay_bytes(ng.out.clone()).unwrap();
    let (got, err) = drain(&mut r);
    assert!(got.is_empty());
    assert_eq!(
        err.unwrap().to_string(),
        "mem: unsupported link type 147 (USER0)"
    );
    assert_eq!(r.stats().unsupported_linktype_packets, 2);
}

// ---- pcapng ----

#[test]
fn pcapng_interfaces_resolutions_and_blocks() {
    for be in [false, true] {
        let mut ng = Ng::new(be);
        ng.idb(1, 65535, None, None) // 0: ethernet, microseconds
            .idb(101, 0, Some(9), None) // 1: raw IP, nanoseconds
            .idb(147, 0, None, None) // 2: unsupported
            .idb(113, 0, Some(0x80 | 10), Some(1000)) // 3: 2^-10 s, +1000 s
            .epb(0, 1_700_000_000_000_001, P1, 11)
            .epb(1, 1_700_000_000_123_456_789, P2, 4)
            .epb(2, 5, P1, 11)
            .block(0x1234_5678, vec![1, 2, 3, 4]) // unknown: skipped, counted
            .block(4, vec![0; 4]) // name resolution: ignored
            .epb(3, 3 << 9, P2, 4) // 1.5 s
            .spb(P1, 11)
            .opb(1, 42, P2)
            .epb(9, 1, P2, 4); // undeclared interface
        let mut r = replay_bytes(ng.out.clone()).unwrap();
        let (got, err) = drain(&mut r);
        assert!(err.is_none(), "{err:?}");
        assert_eq!(
            got,
            vec![
                (1_700_000_000_000_001_000, 1, P1.to_vec(), 11),
                (1_700_000_000_123_456_789, 101, P2.to_vec(), 4),
                (1_001_500_000_000, 113, P2.to_vec(), 4),
                // SPB: interface 0, the time of the previous packet.
                (1_001_500_000_000, 1, P1.to_vec(), 11),
                (42, 101, P2.to_vec(), 4),
            ],
            "be={be}"
        );
        let s = r.stats();
        assert_eq!(s.unsupported_linktype_packets, 1);
        assert_eq!(s.skipped_blocks, 2);
        assert_eq!(s.packets, 5);
    }
}

#[test]
fn pcapng_several_sections_switch_byte_order() {
    let mut a = Ng::new(false);
    a.idb(1, 0, None, None).epb(0, 1, P1, 11);
    let mut b = Ng::new(true);
    b.idb(101, 0, Some(9), None).epb(0, 2, P2, 4);
    // The second section's interface 0 is a new interface.
    let mut f = a.out;
    f.extend_from_slice(&b.out);
    let (got, err) = drain(&mut replay_bytes(f).unwrap());
    assert!(err.is_none(), "{err:?}");
    assert_eq!(
        got,
        vec![(1_000, 1, P1.to_vec(), 11), (2, 101, P2.to_vec(), 4)]
    );
}

#[test]
fn pcapng_truncated_block() {
    let mut ng = Ng::new(false);
    ng.idb(1, 0, None, None).epb(0, 1, P1, 11).epb(0, 2, P2, 4);
    let f = ng.out;
    let (got, err) = drain(&mut replay_bytes(f[..f.len() - 5].to_vec()).unwrap());
    assert_eq!(got.len(), 1);
    let offset = 28 + 20 + 44;
    assert_eq!(
        err.unwrap().to_string(),
        format!("mem: truncated in block 4 (type 0x00000006) at byte offset {offset}")
    );
}

#[test]
fn pcapng_corrupt_lengths() {
    let mut ng = Ng::new(false);
    ng.idb(1, 0, None, None).epb(0, 1, P1, 11);
    let mut f = ng.out.clone();
    // The EPB's caplen says more than the block holds.
    f[28 + 20 + 20..28 + 20 + 24].copy_from_slice(&200u32.to_le_bytes());
    let (got, err) = drain(&mut replay_bytes(f).unwrap());
    assert!(got.is_empty());
    assert!(matches!(err, Some(CaptureError::Corrupt { .. })), "{err:?}");
    // A block length that is not a multiple of 4.
    let mut f = ng.out.clone();
    f[28 + 4..28 + 8].copy_from_slice(&21u32.to_le_bytes());
    let (_, err) = drain(&mut replay_bytes(f).unwrap());
    assert!(err.unwrap().to_string().contains("invalid length 21"));
    // An unknown major version.
    let mut f = ng.out.clone();
    f[12..14].copy_from_slice(&2u16.to_le_bytes());
    let (_, err) = drain(&mut replay_bytes(f).unwrap());
    assert!(err.unwrap().to_string().contains("pcapng version 2.0"));
}

/// A reader returning at most 3 bytes per call, as a pipe may.
struct Trickle(io::Cursor<Vec<u8>>);
impl Read for Trickle {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = out.len().min(3);
        self.0.read(&mut out[..n])
    }
}

#[test]
fn short_reads_like_stdin() {
    let mut ng = Ng::new(false);
    ng.idb(1, 0, None, None).epb(0, 1, P1, 11).epb(0, 2, P2, 4);
    for bytes in [
        ng.out.clone(),
        pcap(NANO, true, 65535, 1, &[(1, 2, P1, 11), (3, 4, P2, 4)]),
    ] {
        let mut r = Replay::from_reader(
            "pipe",
            Box::new(Trickle(io::Cursor::new(bytes.clone()))),
            sup,
        )
        .unwrap();
        let (got, err) = drain(&mut r);
        assert!(err.is_none());
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].2, P2);
        assert_eq!(r.stats().input_bytes_read, bytes.len() as u64);
        assert_eq!(r.stats().input_bytes_total, None);
    }
}

// ---- files and directories ----

#[test]
fn directory_expansion_in_path_order() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir(root.join("sub")).unwrap();
    let a = pcap(MICRO, false, 65535, 1, &[(1, 0, P1, 11)]);
    let mut ng = Ng::new(false);
    ng.idb(101, 0, None, None).epb(0, 2_000_000, P2, 4);
    std::fs::write(root.join("b.pcap"), &a).unwrap();
    std::fs::write(root.join("sub/a.pcapng"), &ng.out).unwrap();
    std::fs::write(root.join("c.pcap.1"), &a).unwrap();
    std::fs::write(root.join("a.cap"), &a).unwrap();
    std::fs::write(root.join("notes.txt"), b"not a capture").unwrap();
    let mut r = Replay::open(&[root.to_path_buf()], sup).unwrap();
    let total = (3 * a.len() + ng.out.len()) as u64;
    assert_eq!(r.stats().input_bytes_total, Some(total));
    let mut names = Vec::new();
    while let Next::Frame(_) = r.next_frame().unwrap() {
        names.push(r.current_name().to_string());
    }
    let rel: Vec<String> = names
        .iter()
        .map(|n| n.strip_prefix(root.to_str().unwrap()).unwrap().to_string())
        .collect();
    assert_eq!(rel, ["/a.cap", "/b.pcap", "/c.pcap.1", "/sub/a.pcapng"]);
    let s = r.stats();
    assert_eq!((s.files, s.input_bytes_read), (4, total));

    let empty = tempfile::tempdir().unwrap();
    let err = Replay::open(&[empty.path().to_path_buf()], sup)
        .err()
        .unwrap();
    assert!(matches!(err, CaptureError::NoFiles { .. }), "{err}");
    let err = Replay::open(&[PathBuf::from("/nonexistent/x.pcap")], sup)
        .err()
        .unwrap();
    assert!(
        err.to_string().starts_with("/nonexistent/x.pcap: "),
        "{err}"
    );
    assert!(matches!(
        Replay::open(&[], sup),
        Err(CaptureError::NoInputs)
    ));
}

#[test]
fn error_in_a_later_file_comes_after_the_earlier_frames() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("1.pcap");
    let bad = dir.path().join("2.pcap");
    std::fs::write(&good, pcap(MICRO, false, 65535, 1, &[(1, 0, P1, 11)])).unwrap();
    std::fs::write(&bad, [0x1f, 0x8b, 8, 0]).unwrap();
    let mut r = Replay::open(&[good, bad.clone()], sup).unwrap();
    let (got, err) = drain(&mut r);
    assert_eq!(got.len(), 1);
    assert!(
        err.unwrap()
            .to_string()
            .starts_with(&format!("{}: not a pcap", bad.display()))
    );
}

#[test]
fn sources_are_send() {
    fn send<T: Send>() {}
    send::<Replay>();
    send::<Live>();
}

// ---- robustness ----

/// Reads a replay to its end; panics if it yields more frames than the input could hold.
fn run_bounded(bytes: Vec<u8>) {
    let len = bytes.len();
    let Ok(mut r) = replay_bytes(bytes) else {
        return;
    };
    // Every record takes at least 12 bytes, so more frames than this is a loop.
    let bound = len / 12 + 2;
    for _ in 0..bound {
        match r.next_frame() {
            Ok(Next::Frame(f)) => assert!(f.data.len() <= MAX_SNAPLEN),
            Ok(Next::End) | Err(_) => return,
            Ok(Next::Idle) => panic!("idle in replay"),
        }
    }
    panic!("more frames than the input can hold");
}

fn valid_files() -> Vec<Vec<u8>> {
    let mut ng = Ng::new(false);
    ng.idb(1, 0, Some(9), Some(3))
        .idb(147, 0, None, None)
        .epb(0, 1, P1, 11)
        .epb(1, 2, P2, 4)
        .spb(P2, 4)
        .opb(0, 9, P1)
        .block(77, vec![9; 8]);
    let mut ng_be = Ng::new(true);
    ng_be
        .idb(1, 0, None, None)
        .epb(0, 1, P1, 11)
        .shb()
        .idb(101, 0, None, None)
        .epb(0, 3, P2, 4);
    vec![
        pcap(
            MICRO,
            false,
            65535,
            1,
            &[(1, 0, P1, 11), (2, 0, P2, 4), (3, 0, b"", 0)],
        ),
        pcap(NANO, true, 65535, 1, &[(1, 0, P1, 11), (2, 0, P2, 4)]),
        pcap(MODIFIED, true, 65535, 1, &[(1, 0, P1, 11)]),
        ng.out,
        ng_be.out,
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(prefix in 0usize..5, tail in proptest::collection::vec(any::<u8>(), 0..512)) {
        // Start from a real magic number most of the time, so the parsers are reached.
        let mut bytes = match prefix {
            0 => vec![],
            1 => vec![0xd4, 0xc3, 0xb2, 0xa1],
            2 => vec![0xa1, 0xb2, 0xcd, 0x34],
            _ => vec![0x0a, 0x0d, 0x0d, 0x0a],
        };
        bytes.extend_from_slice(&tail);
        run_bounded(bytes);
    }

    #[test]
    fn truncated_and_mutated_files_never_panic(
        which in 0usize..5,
        cut in any::<prop::sample::Index>(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
    ) {
        let mut f = valid_files().swap_remove(which);
        for (at, v) in flips {
            let i = at.index(f.len());
            f[i] = v;
        }
        let cut = cut.index(f.len() + 1);
        f.truncate(cut);
        run_bounded(f);
    }
}
