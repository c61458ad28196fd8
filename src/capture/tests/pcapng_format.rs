//! pcapng: interfaces, resolutions, block kinds, sections, corrupt blocks, short reads.

use std::io::{self, Read};

use super::*;

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

#[test]
fn pcapng_zero_length_and_over_snaplen_packets_are_corrupt_files() {
    let mut zero = Ng::new(false);
    zero.idb(1, 0, None, None)
        .epb(0, 1, P1, 11)
        .epb(0, 2, b"", 60);
    let (got, err) = drain(&mut replay_bytes(zero.out).unwrap());
    assert_eq!(got.len(), 1, "the packet before the fault is read");
    assert!(
        matches!(err, Some(CaptureError::ZeroLength { record: 4, .. })),
        "block 4 (SHB, IDB, EPB, EPB): {err:?}"
    );

    let mut over = Ng::new(true);
    over.idb(1, 8, None, None)
        .epb(0, 1, P2, 4)
        .epb(0, 2, P1, 11);
    let (got, err) = drain(&mut replay_bytes(over.out).unwrap());
    assert_eq!(got.len(), 1);
    assert!(
        matches!(
            err,
            Some(CaptureError::CaplenOverSnaplen {
                record: 4,
                caplen: 11,
                snaplen: 8,
                ..
            })
        ),
        "{err:?}"
    );
}
