//! Classic pcap: byte orders, resolutions, variants, and the errors of broken files.

use super::*;

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
fn zero_length_packet_is_a_corrupt_file() {
    let f = pcap(
        MICRO,
        false,
        65535,
        1,
        &[(1, 0, P2, 4), (2, 0, b"", 60), (3, 0, P2, 4)],
    );
    let (got, err) = drain(&mut replay_bytes(f).unwrap());
    assert_eq!(got.len(), 1, "the record before the fault is read");
    let err = err.unwrap();
    assert!(
        matches!(
            err,
            CaptureError::ZeroLength {
                record: 2,
                offset,
                ..
            } if offset == (24 + 16 + P2.len()) as u64
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().starts_with("mem: packet record 2 "),
        "{err}"
    );
}

#[test]
fn caplen_over_snaplen_is_a_corrupt_file() {
    // snaplen 8: the 4-byte record is fine, the 11-byte one is not.
    let f = pcap(MICRO, false, 8, 1, &[(1, 0, P2, 4), (2, 0, P1, 11)]);
    let (got, err) = drain(&mut replay_bytes(f).unwrap());
    assert_eq!(got.len(), 1);
    let err = err.unwrap();
    assert!(
        matches!(
            err,
            CaptureError::CaplenOverSnaplen {
                record: 2,
                caplen: 11,
                snaplen: 8,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("more than the snaplen of 8"),
        "{err}"
    );
}

#[test]
fn snaplen_zero_means_the_largest() {
    let f = pcap(MICRO, false, 0, 1, &[(1, 0, P1, 11)]);
    let (got, err) = drain(&mut replay_bytes(f).unwrap());
    assert!(err.is_none(), "{err:?}");
    assert_eq!(got[0].2, P1);
}

#[test]
fn origlen_below_caplen_is_raised_and_counted() {
    let f = pcap(MICRO, false, 65535, 1, &[(1, 0, P1, 5), (2, 0, P2, 4)]);
    let mut r = replay_bytes(f).unwrap();
    let (got, err) = drain(&mut r);
    assert!(err.is_none());
    assert_eq!(got[0].3, P1.len() as u32);
    assert_eq!(got[1].2, P2, "the next record is still found");
    assert_eq!(r.stats().origlen_raised, 1);
}

#[test]
fn truncated_in_file_header() {
    let f = pcap(MICRO, false, 65535, 1, &[]);
    let err = first_error(f[..10].to_vec());
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
fn foreign_files_are_named_and_compressed_ones_read_inside() {
    let gz = {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        io::Write::write_all(&mut e, b"GET / HTTP/1.1").unwrap();
        e.finish().unwrap()
    };
    let cases: [(&[u8], &str); 4] = [
        (
            b"BZh91AY&SY",
            "mem: not a pcap or pcapng file (starts with 42 5a 68: bzip2-compressed? decompress it \
             first (bunzip2), or recompress it with zstd)",
        ),
        (
            &[0x50, 0x4b, 0x03, 0x04, 1],
            "mem: not a pcap or pcapng file (starts with 50 4b 03 04: a zip archive? extract it first)",
        ),
        (
            b"GET / HTTP/1.1",
            "mem: not a pcap or pcapng file (starts with 47 45 54 20)",
        ),
        (
            &gz,
            "mem: not a pcap or pcapng file (starts with 47 45 54 20, after gzip decompression)",
        ),
    ];
    for (bytes, msg) in cases {
        assert_eq!(first_error(bytes.to_vec()).to_string(), msg);
    }
    // Cut inside the compressed data: the decoder's own error, naming the format.
    let err = first_error(gz[..gz.len() - 9].to_vec()).to_string();
    assert!(err.starts_with("mem: gzip data: "), "{err}");
}

#[test]
fn empty_file() {
    let err = first_error(Vec::new());
    assert_eq!(err.to_string(), "mem: empty file");
    // A header and no packets is a valid, empty capture.
    let (got, err) = drain(&mut replay_bytes(pcap(MICRO, false, 65535, 1, &[])).unwrap());
    assert!(got.is_empty() && err.is_none());
}

#[test]
fn unsupported_link_type_only() {
    let err = first_error(pcap(MICRO, false, 65535, 147, &[(1, 0, P1, 11)]));
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
