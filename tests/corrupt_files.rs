//! Corrupt and odd capture files (issue 7, "Corrupt files"): each fault gives one clear
//! error line naming the file, exit status 1, and every event parsed before the fault is
//! written. `tests/cli_errors.rs` covers a record cut in its data, a text file and an
//! unsupported link type; this file covers the rest, including two faults libpcap lets
//! through (it clamps a caplen above the snaplen and reads zero-length records): no
//! capture tool writes either, so c2tap reports the file as corrupt.

mod common;

use common::*;
use std::process::Output;

const FIRST: &str = "first.example";
const SECOND: &str = "second.example";

/// A query for `name` and its answer, as two Ethernet frames.
fn exchange(id: u16, name: &str, port: u16) -> [Vec<u8>; 2] {
    [
        udp_frame(
            [10, 0, 0, 1],
            port,
            [10, 0, 0, 53],
            53,
            &dns_query(id, name, 1),
        ),
        udp_frame(
            [10, 0, 0, 53],
            53,
            [10, 0, 0, 1],
            port,
            &dns_answer_a(id, name, [192, 0, 2, 1], 60),
        ),
    ]
}

/// A pcap file header (little-endian, microseconds) with the given snaplen.
fn pcap_header(snaplen: u32) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&snaplen.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    out
}

/// One pcap record whose header says `caplen` whatever the bytes that follow.
fn pcap_record(secs: u32, caplen: u32, origlen: u32, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&secs.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&caplen.to_le_bytes());
    out.extend_from_slice(&origlen.to_le_bytes());
    out.extend_from_slice(data);
    out
}

/// The first exchange as a complete pcap.
fn first_exchange_pcap() -> Vec<u8> {
    let mut f = pcap_header(65535);
    for (i, frame) in exchange(1, FIRST, 40000).iter().enumerate() {
        let n = frame.len() as u32;
        f.extend(pcap_record(1_700_000_000 + i as u32, n, n, frame));
    }
    f
}

fn pcapng_block(kind: u32, body: &[u8]) -> Vec<u8> {
    let len = (12 + body.len().next_multiple_of(4)) as u32;
    let mut out = Vec::new();
    out.extend_from_slice(&kind.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(body);
    out.resize(len as usize - 4, 0);
    out.extend_from_slice(&len.to_le_bytes());
    out
}

/// Section header, one Ethernet interface, and an enhanced packet block per frame.
fn pcapng(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut shb = Vec::new();
    shb.extend_from_slice(&0x1a2b_3c4du32.to_le_bytes());
    shb.extend_from_slice(&1u16.to_le_bytes());
    shb.extend_from_slice(&0u16.to_le_bytes());
    shb.extend_from_slice(&(-1i64).to_le_bytes());
    let mut out = pcapng_block(0x0a0d_0d0a, &shb);
    let mut idb = Vec::new();
    idb.extend_from_slice(&1u16.to_le_bytes());
    idb.extend_from_slice(&0u16.to_le_bytes());
    idb.extend_from_slice(&0u32.to_le_bytes());
    out.extend(pcapng_block(1, &idb));
    for (i, frame) in frames.iter().enumerate() {
        let micros = (1_700_000_000u64 + i as u64) * 1_000_000;
        let mut epb = Vec::new();
        epb.extend_from_slice(&0u32.to_le_bytes());
        epb.extend_from_slice(&((micros >> 32) as u32).to_le_bytes());
        epb.extend_from_slice(&(micros as u32).to_le_bytes());
        epb.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        epb.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        epb.extend_from_slice(frame);
        out.extend(pcapng_block(6, &epb));
    }
    out
}

/// Replays `bytes` as file `name`, every event and the SensorState lines (which need a
/// stats interval) written.
fn replay(name: &str, bytes: &[u8]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), name, bytes);
    run(c2tap()
        .args(["replay", "--events", "all", "--stats-interval", "3600"])
        .arg(&p))
}

/// Exit 1 and exactly one stderr line, naming the file and containing `what`.
fn assert_one_error(out: &Output, name: &str, what: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains(name) && lines[0].contains(what),
        "{lines:?} should name {name} and say {what:?}"
    );
}

/// The DNS question names in the events written.
fn query_names(out: &Output) -> Vec<String> {
    events(&out.stdout)
        .iter()
        .filter(|e| e["EventID"] == 22)
        .map(|e| e["QueryName"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn empty_file() {
    let out = replay("empty.pcap", b"");
    assert_one_error(&out, "empty.pcap", "empty file");
}

#[test]
fn gzip_of_something_else_says_what_it_holds() {
    // The whole of `printf abc | gzip -c`: it decompresses, to three bytes of text.
    let gz = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\x4b\x4c\x4a\x06\x00\xc2\x41\x24\x35\x03\x00\x00\x00";
    let out = replay("capture.pcap.gz", gz);
    assert_one_error(&out, "capture.pcap.gz", "not a pcap or pcapng file");
    assert_one_error(
        &out,
        "capture.pcap.gz",
        "(starts with 61 62 63, after gzip decompression)",
    );
    assert!(query_names(&out).is_empty());
}

/// A directory with a corrupt file and a compressed file cut short among good ones
/// (issue 17): every good file is read, each bad one is one stderr line with its
/// reason, and the run exits 1 at the end.
#[test]
fn directory_keeps_going_past_bad_files() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let mut second = pcap_header(65535);
    for (i, frame) in exchange(2, SECOND, 40001).iter().enumerate() {
        let n = frame.len() as u32;
        second.extend(pcap_record(1_700_000_010 + i as u32, n, n, frame));
    }
    let cut_gz = {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(&first_exchange_pcap()).unwrap();
        let gz = e.finish().unwrap();
        gz[..gz.len() / 2].to_vec()
    };
    write(dir.path(), "1-first.pcap", &first_exchange_pcap());
    write(dir.path(), "2-corrupt.pcap", b"\xd4\xc3\xb2\xa1 not really");
    write(dir.path(), "3-cut.pcap.gz", &cut_gz);
    write(dir.path(), "4-second.pcap", &second);
    let out = run(c2tap().args(["replay", "--events", "all"]).arg(dir.path()));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].contains("2-corrupt.pcap: truncated in the file header"),
        "{lines:?}"
    );
    assert!(lines[1].contains("3-cut.pcap.gz: gzip data: "), "{lines:?}");
    let mut names = query_names(&out);
    names.sort();
    assert_eq!(names, [FIRST, SECOND], "both good files, whole");
}

#[test]
fn truncated_in_the_file_header() {
    let out = replay("head.pcap", &first_exchange_pcap()[..10]);
    assert_one_error(&out, "head.pcap", "truncated in the file header");
}

#[test]
fn truncated_in_a_record_header_keeps_earlier_events() {
    let mut f = first_exchange_pcap();
    f.extend_from_slice(&pcap_record(1_700_000_002, 60, 60, b"")[..9]);
    let out = replay("rechead.pcap", &f);
    assert_one_error(&out, "rechead.pcap", "truncated in packet record 3");
    assert_eq!(query_names(&out), [FIRST]);
}

#[test]
fn caplen_larger_than_the_file_keeps_earlier_events() {
    let mut f = first_exchange_pcap();
    let [q, _] = exchange(2, SECOND, 40001);
    f.extend(pcap_record(1_700_000_002, 4000, 4000, &q));
    let out = replay("short.pcap", &f);
    assert_one_error(&out, "short.pcap", "truncated in packet record 3");
    assert_eq!(query_names(&out), [FIRST]);
}

#[test]
fn absurd_caplen_is_refused_before_reading() {
    let mut f = first_exchange_pcap();
    f.extend(pcap_record(1_700_000_002, 0x7fff_ffff, 0x7fff_ffff, b"abc"));
    let out = replay("huge.pcap", &f);
    assert_one_error(&out, "huge.pcap", "more than the");
    assert_eq!(query_names(&out), [FIRST]);
}

#[test]
fn caplen_larger_than_snaplen_keeps_earlier_events() {
    // The snaplen fits the first exchange; the third record claims (and holds) 200
    // bytes more, which no capture tool writes.
    let [q, a] = exchange(1, FIRST, 40000);
    let snaplen = a.len().max(q.len()) as u32 + 4;
    let mut f = pcap_header(snaplen);
    for (i, frame) in [&q, &a].into_iter().enumerate() {
        let n = frame.len() as u32;
        f.extend(pcap_record(1_700_000_000 + i as u32, n, n, frame));
    }
    let [q2, _] = exchange(2, SECOND, 40001);
    let mut padded = q2.clone();
    padded.resize(snaplen as usize + 200, 0);
    let n = padded.len() as u32;
    f.extend(pcap_record(1_700_000_002, n, n, &padded));
    let offset = 24 + 16 + q.len() + 16 + a.len();
    let out = replay("oversnap.pcap", &f);
    assert_one_error(
        &out,
        "oversnap.pcap",
        &format!("packet record 3 at byte offset {offset} "),
    );
    assert_one_error(
        &out,
        "oversnap.pcap",
        &format!("holds {n} bytes, more than the snaplen of {snaplen}"),
    );
    assert_eq!(query_names(&out), [FIRST]);
    let ev = events(&out.stdout);
    let first = ev.iter().find(|e| e["QueryName"] == FIRST).unwrap();
    assert_eq!(first["QueryStatus"], "0", "answered before the fault");
}

#[test]
fn zero_length_record_keeps_earlier_events() {
    let mut f = first_exchange_pcap();
    f.extend(pcap_record(1_700_000_002, 0, 60, b""));
    let [q2, _] = exchange(2, SECOND, 40001);
    let n = q2.len() as u32;
    f.extend(pcap_record(1_700_000_003, n, n, &q2));
    let out = replay("zero.pcap", &f);
    assert_one_error(&out, "zero.pcap", "packet record 3");
    assert_one_error(&out, "zero.pcap", "holds no data (caplen 0");
    assert_eq!(
        query_names(&out),
        [FIRST],
        "nothing after the fault is read"
    );
}

#[test]
fn pcapng_with_a_bad_block_keeps_earlier_events() {
    let [q, a] = exchange(1, FIRST, 40000);
    let mut f = pcapng(&[q, a]);
    // A block whose length is not a multiple of 4 (and below the 12-byte minimum).
    f.extend_from_slice(&6u32.to_le_bytes());
    f.extend_from_slice(&7u32.to_le_bytes());
    f.extend_from_slice(&[0; 16]);
    let out = replay("bad.pcapng", &f);
    assert_one_error(&out, "bad.pcapng", "invalid length 7");
    assert_eq!(query_names(&out), [FIRST]);
    let ev = events(&out.stdout);
    let q = ev.iter().find(|e| e["QueryName"] == FIRST).unwrap();
    assert_eq!(q["QueryStatus"], "0");
}

#[test]
fn pcapng_with_a_malformed_packet_block_keeps_earlier_events() {
    let [q, a] = exchange(1, FIRST, 40000);
    let mut f = pcapng(&[q, a]);
    // An enhanced packet block too short for its fixed fields.
    f.extend(pcapng_block(6, &[0; 8]));
    let out = replay("epb.pcapng", &f);
    assert_one_error(&out, "epb.pcapng", "corrupt file");
    assert_eq!(query_names(&out), [FIRST]);
}

#[test]
fn pcapng_truncated_in_a_block_keeps_earlier_events() {
    let [q, a] = exchange(1, FIRST, 40000);
    let [q2, _] = exchange(2, SECOND, 40001);
    let mut f = pcapng(&[q, a, q2]);
    f.truncate(f.len() - 20);
    let out = replay("cut.pcapng", &f);
    assert_one_error(&out, "cut.pcapng", "truncated in block 5");
    assert_eq!(query_names(&out), [FIRST]);
}

/// The child half of `file_truncated_during_replay_is_one_error_line`: replays a mapped
/// capture, truncates it after the first frame, and reads on. Not a test by itself.
#[test]
#[ignore = "run by file_truncated_during_replay_is_one_error_line in a child process"]
fn truncating_child() {
    use c2tap::capture::{Next, Replay, Source};
    let Some(path) = std::env::var_os("C2TAP_TRUNCATE_CHILD") else {
        return;
    };
    let mut r = Replay::open(
        &[path.clone().into()],
        c2tap::decode::LinkType::is_supported,
    )
    .expect("open");
    assert!(matches!(r.next_frame(), Ok(Next::Frame(_))));
    std::fs::File::options()
        .write(true)
        .open(&path)
        .and_then(|f| f.set_len(0))
        .expect("truncate");
    while let Ok(Next::Frame(_)) = r.next_frame() {}
    // Only reached if the mapping did not fault: the parent then sees exit status 0.
}

#[test]
fn file_truncated_during_replay_is_one_error_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut f = pcap_header(65535);
    let [q, _] = exchange(1, FIRST, 40000);
    let n = q.len() as u32;
    for i in 0..2_000 {
        f.extend(pcap_record(1_700_000_000 + i, n, n, &q));
    }
    let path = write(dir.path(), "shrinking.pcap", &f);
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "truncating_child", "--ignored", "--nocapture"])
        .env("C2TAP_TRUNCATE_CHILD", &path)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(
            "c2tap: bus error reading a capture file: was it truncated while being replayed?"
        ),
        "{err}"
    );
}
