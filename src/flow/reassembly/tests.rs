//! Reassembly tests: byte arrays and sequence numbers.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]

use super::*;
use crate::flow::conn::{TcpConn, TcpFlags};
use crate::flow::key::Direction;
use proptest::prelude::*;

/// The most a stream may own after any push (see the module doc).
const MEM_BOUND: usize = STREAM_PREFIX_CAP as usize
    + OOO_MAX_BYTES as usize
    + (OOO_MAX_SEGMENTS + 1) * size_of::<Held>();

fn syn(isn: u32) -> StreamReassembler {
    let mut s = StreamReassembler::new();
    let o = s.push(isn, b"", true, false);
    assert_eq!(o, PushOutcome::default());
    s
}

fn check_bounds(s: &StreamReassembler) {
    assert!(s.readable().len() <= STREAM_PREFIX_CAP as usize);
    assert!(s.held_bytes() <= OOO_MAX_BYTES);
    assert!(s.ooo.len() <= OOO_MAX_SEGMENTS);
    assert!(
        s.memory_bytes() <= MEM_BOUND,
        "{} > {MEM_BOUND}",
        s.memory_bytes()
    );
}

#[test]
fn in_order() {
    let mut s = syn(1000);
    let o = s.push(1001, b"hello", false, false);
    assert_eq!(o.readable_added, 5);
    s.push(1006, b" world", false, false);
    assert_eq!(s.readable(), b"hello world");
    assert_eq!(s.stream_offset(), 0);
    s.consume(6);
    assert_eq!(s.readable(), b"world");
    assert_eq!(s.stream_offset(), 6);
    s.consume(100);
    assert_eq!(s.readable(), b"");
    assert_eq!(s.stream_offset(), 11);
    assert!(!s.is_midstream());
    assert_eq!(s.gap_at(), None);
}

#[test]
fn out_of_order_joined_when_hole_fills() {
    let mut s = syn(1000);
    let o = s.push(1006, b" world", false, false);
    assert!(o.held);
    assert_eq!(o.readable_added, 0);
    assert_eq!(s.readable(), b"");
    assert_eq!(s.held_bytes(), 6);
    let o = s.push(1001, b"hello", false, false);
    assert_eq!(o.readable_added, 11);
    assert_eq!(s.readable(), b"hello world");
    assert_eq!(s.held_bytes(), 0);
    // Three pieces in reverse order.
    let mut s = syn(0);
    s.push(7, b"789", false, false);
    s.push(4, b"456", false, false);
    assert_eq!(s.ooo.len(), 1, "touching pieces merge");
    s.push(1, b"123", false, false);
    assert_eq!(s.readable(), b"123456789");
}

#[test]
fn duplicate_is_a_retransmission() {
    let mut s = syn(0);
    s.push(1, b"abc", false, false);
    let o = s.push(1, b"abc", false, false);
    assert!(o.retransmission);
    assert_eq!(o.overlap_conflicts, 0);
    assert_eq!(s.readable(), b"abc");
    // Duplicate of held data.
    s.push(10, b"xyz", false, false);
    let o = s.push(10, b"xyz", false, false);
    assert!(o.retransmission && !o.held);
    assert_eq!(s.held_bytes(), 3);
}

#[test]
fn overlap_with_different_bytes_first_copy_wins() {
    let mut s = syn(0);
    s.push(1, b"hello", false, false);
    let o = s.push(1, b"HELLO", false, false);
    assert_eq!(o.overlap_conflicts, 1);
    assert!(o.retransmission);
    // Partial overlap: "lo" again but different, then new bytes.
    let o = s.push(4, b"LOworld", false, false);
    assert_eq!(o.overlap_conflicts, 1);
    assert_eq!(o.readable_added, 5);
    assert_eq!(s.readable(), b"helloworld");
    // Held copy wins over a later in-order segment covering it.
    let mut s = syn(0);
    s.push(3, b"XY", false, false);
    let o = s.push(1, b"abcd", false, false);
    assert_eq!(o.overlap_conflicts, 1);
    assert_eq!(s.readable(), b"abXY");
    // And a conflicting copy of held data.
    let mut s = syn(0);
    s.push(5, b"held", false, false);
    let o = s.push(4, b"_HELD!", false, false);
    assert_eq!(o.overlap_conflicts, 1);
    s.push(1, b"abc", false, false);
    assert_eq!(s.readable(), b"abc_held!");
}

#[test]
fn gap_skipped_when_held_bytes_exceed_cap() {
    let mut s = syn(0);
    s.push(1, b"partial message", false, false);
    // Hole at offset 15..100, then more than OOO_MAX_BYTES behind it.
    let seg = [b'x'; 1000];
    let mut gaps = 0;
    let mut off = 100u32;
    while gaps == 0 {
        let o = s.push(1 + off, &seg, false, false);
        gaps += o.gaps;
        off += 1000;
        check_bounds(&s);
    }
    assert_eq!(gaps, 1);
    assert_eq!(s.gap_at(), Some(100));
    assert_eq!(
        s.stream_offset(),
        100,
        "the unread half message before the hole is dropped"
    );
    assert_eq!(s.readable().len() as u32, off - 100);
    assert_eq!(s.held_bytes(), 0);
}

#[test]
fn gap_skipped_when_held_segments_exceed_cap() {
    let mut s = syn(0);
    // One-byte pieces with one-byte holes: each is its own piece.
    let mut gaps = 0;
    for i in 0..=OOO_MAX_SEGMENTS as u32 {
        gaps += s.push(1 + 2 + 2 * i, b"z", false, false).gaps;
        check_bounds(&s);
    }
    assert_eq!(gaps, 1);
    assert_eq!(s.gap_at(), Some(2));
    assert_eq!(s.readable(), b"z");
}

#[test]
fn ack_past_hole_skips_it_and_flush_delivers_everything() {
    let mut s = syn(100);
    s.push(101, b"ab", false, false);
    s.push(110, b"later", false, false);
    // An ACK that stops short of the held piece proves nothing.
    assert_eq!(s.ack_hint(105).gaps, 0);
    let o = s.ack_hint(112);
    assert_eq!(o.gaps, 1);
    assert_eq!(s.readable(), b"later");
    assert_eq!(s.gap_at(), Some(9));
    let mut s = syn(100);
    s.push(105, b"x", false, false);
    s.push(110, b"y", false, false);
    let o = s.flush();
    assert_eq!(o.gaps, 2);
    assert_eq!(s.readable(), b"y");
}

#[test]
fn sequence_wraparound() {
    let isn = u32::MAX - 2;
    let mut s = syn(isn); // data starts at u32::MAX - 1
    s.push(u32::MAX - 1, b"abcdef", false, false); // crosses 2^32
    s.push(8, b"klm", false, false); // held, after the wrap
    s.push(4, b"gh", false, false); // in order again
    assert_eq!(s.readable(), b"abcdefgh");
    s.push(6, b"ij", false, false);
    assert_eq!(s.readable(), b"abcdefghijklm");
    // An old segment from before the ISN is a retransmission, not data.
    let o = s.push(isn.wrapping_sub(50), b"old", false, false);
    assert!(o.retransmission);
    assert_eq!(s.readable().len(), 13);
}

#[test]
fn midstream_pickup_starts_at_first_data_segment() {
    let mut s = StreamReassembler::new();
    assert_eq!(
        s.push(5000, b"", false, false),
        PushOutcome::default(),
        "a bare ACK starts nothing"
    );
    let o = s.push(5000, b"GET / HTTP/1.1\r\n", false, false);
    assert!(o.midstream);
    assert!(s.is_midstream());
    assert_eq!(s.readable(), b"GET / HTTP/1.1\r\n");
    s.push(5016, b"Host: x\r\n", false, false);
    assert_eq!(s.readable(), b"GET / HTTP/1.1\r\nHost: x\r\n");
}

#[test]
fn syn_with_data_tcp_fast_open() {
    let mut s = StreamReassembler::new();
    let o = s.push(7, b"\x16\x03\x01", true, false);
    assert_eq!(o.readable_added, 3);
    s.push(11, b"\x02\x00", false, false);
    assert_eq!(s.readable(), b"\x16\x03\x01\x02\x00");
    // The SYN retransmitted with its data is a duplicate.
    assert!(s.push(7, b"\x16\x03\x01", true, false).retransmission);
}

#[test]
fn fin_ends_the_stream() {
    let mut s = syn(0);
    s.push(4, b"def", false, true);
    assert!(!s.is_finished());
    s.push(1, b"abc", false, false);
    assert!(s.is_finished());
    s.push(7, b"after fin", false, false);
    assert_eq!(s.readable(), b"abcdef");
}

#[test]
fn stop_frees_and_ignores() {
    let mut s = syn(0);
    s.push(1, &[1u8; 3000], false, false);
    s.push(5000, &[2u8; 100], false, false);
    assert!(s.memory_bytes() > 0);
    s.stop();
    assert!(s.is_stopped());
    assert_eq!(s.memory_bytes(), 0);
    assert!(s.push(3001, b"more", false, false).stopped);
    assert_eq!(s.readable(), b"");
}

#[test]
fn hundred_thousand_tiny_out_of_order_segments_stay_within_caps() {
    let mut s = syn(0);
    let mut counters = ReassemblyCounters::default();
    // Every segment lands past a one-byte hole in front of the delivered data, at a
    // pseudo-random distance, so each one is held until the caps force a skip.
    let mut x: u32 = 12345;
    for i in 0..100_000u32 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        let next = s.stream_offset() as u32 + s.readable().len() as u32;
        let off = next + 1 + (x >> 8) % 200;
        let o = s.push(1 + off, &[(i % 251) as u8], false, false);
        counters.record(&o);
        check_bounds(&s);
        s.consume(usize::MAX);
    }
    assert!(counters.gaps > 0);
    // Holes are skipped at the caps instead of held data growing.
    assert!(counters.out_of_order_segments > 10_000, "{counters:?}");
    assert!(counters.gaps > 1_000, "{counters:?}");
    assert_eq!(counters.segments, 100_000);
}

#[test]
fn ten_megabytes_in_one_direction_stay_within_cap() {
    let mut s = syn(0);
    let seg = [b'a'; 1460];
    let mut seq = 1u32;
    let mut truncated = 0;
    for _ in 0..(10_000_000 / 1460) {
        truncated += u32::from(s.push(seq, &seg, false, false).truncated);
        seq = seq.wrapping_add(1460);
        check_bounds(&s);
    }
    assert!(s.is_full() && s.is_truncated());
    assert!(truncated > 6000);
    assert_eq!(s.readable().len(), STREAM_PREFIX_CAP as usize);
    // A parser that consumes everything gets exactly the prefix, no more.
    s.consume(usize::MAX);
    assert_eq!(s.stream_offset(), u64::from(STREAM_PREFIX_CAP));
    s.push(seq, &seg, false, false);
    assert_eq!(s.readable(), b"");
    assert_eq!(s.memory_bytes(), 0);
}

#[test]
fn tcp_conn_handshake_both_directions() {
    let mut c = TcpConn::new();
    let (cli, srv) = (Direction::FromB, Direction::FromA);
    c.on_segment(cli, 100, 0, TcpFlags(TcpFlags::SYN), b"");
    c.on_segment(srv, 900, 101, TcpFlags(TcpFlags::SYN | TcpFlags::ACK), b"");
    c.on_segment(cli, 101, 901, TcpFlags(TcpFlags::ACK), b"");
    c.on_segment(
        cli,
        101,
        901,
        TcpFlags(TcpFlags::ACK | TcpFlags::PSH),
        b"hello",
    );
    c.on_segment(
        srv,
        901,
        106,
        TcpFlags(TcpFlags::ACK | TcpFlags::PSH),
        b"world",
    );
    assert_eq!(c.stream(cli).readable(), b"hello");
    assert_eq!(c.stream(srv).readable(), b"world");
    // The client lost a segment to the capture; the server's ACK covers held data.
    c.on_segment(cli, 110, 906, TcpFlags(TcpFlags::ACK), b"tail");
    let o = c.on_segment(srv, 906, 114, TcpFlags(TcpFlags::ACK), b"");
    assert_eq!(o.gaps, 1);
    assert_eq!(c.stream(cli).readable(), b"tail");
    // RST payload is not stream data.
    c.on_segment(srv, 906, 0, TcpFlags(TcpFlags::RST), b"reset text");
    assert_eq!(c.stream(srv).readable(), b"world");
    c.stop();
    assert_eq!(c.memory_bytes(), 0);
}

/// Segments that all carry consistent bytes of one stream.
fn consistent_case() -> impl Strategy<Value = (u32, Vec<u8>, Vec<(u32, u32)>)> {
    (any::<u32>(), 1usize..90_000).prop_flat_map(|(isn, len)| {
        let segs = prop::collection::vec((0..len as u32, 1u32..3000), 1..200);
        (Just(isn), prop::collection::vec(any::<u8>(), len), segs)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn random_segments_never_panic_and_stay_bounded(
        first_syn in any::<bool>(),
        segs in prop::collection::vec(
            (any::<u32>(), 0usize..4000, any::<bool>(), any::<bool>(), any::<u8>(), 0u8..4),
            1..300,
        ),
    ) {
        let mut s = StreamReassembler::new();
        let base = segs[0].0;
        if first_syn {
            s.push(base, b"", true, false);
        }
        let buf = vec![0xA5u8; 4000];
        for (seq, len, syn, fin, consume, action) in segs {
            // Half the time stay near the start so offsets are meaningful.
            let seq = if seq % 2 == 0 { base.wrapping_add(seq % 100_000) } else { seq };
            s.push(seq, &buf[..len], syn, fin);
            match action {
                0 => s.consume(usize::from(consume)),
                1 => { s.ack_hint(seq); }
                2 if consume == 0 => { s.flush(); }
                _ => {}
            }
            prop_assert!(s.readable().len() <= STREAM_PREFIX_CAP as usize);
            prop_assert!(s.held_bytes() <= OOO_MAX_BYTES);
            prop_assert!(s.ooo.len() <= OOO_MAX_SEGMENTS);
            prop_assert!(s.memory_bytes() <= MEM_BOUND);
        }
    }

    #[test]
    fn delivered_bytes_are_a_consistent_view_of_the_stream((isn, stream, segs) in consistent_case()) {
        let mut s = StreamReassembler::new();
        s.push(isn, b"", true, false);
        let check = |s: &mut StreamReassembler| -> Result<(), TestCaseError> {
            let off = s.stream_offset() as usize;
            let got = s.readable();
            prop_assert!(off + got.len() <= stream.len());
            prop_assert_eq!(got, &stream[off..off + got.len()]);
            s.consume(got.len() / 2 + 1);
            Ok(())
        };
        for (off, len) in segs {
            let end = (off as usize + len as usize).min(stream.len());
            let seq = isn.wrapping_add(1).wrapping_add(off);
            let o = s.push(seq, &stream[off as usize..end], false, false);
            prop_assert_eq!(o.overlap_conflicts, 0);
            check(&mut s)?;
        }
        // Finally every byte in order: the whole prefix is delivered, in order,
        // except what was skipped as a gap.
        let mut s2 = StreamReassembler::new();
        s2.push(isn, b"", true, false);
        for chunk_start in (0..stream.len()).step_by(1460) {
            let end = (chunk_start + 1460).min(stream.len());
            s2.push(isn.wrapping_add(1).wrapping_add(chunk_start as u32), &stream[chunk_start..end], false, false);
        }
        let n = stream.len().min(STREAM_PREFIX_CAP as usize);
        prop_assert_eq!(s2.readable(), &stream[..n]);
        s.flush();
        check(&mut s)?;
    }
}

/// Follow mode: a long keep-alive stream is delivered whole, in order, across several
/// rebases and a sequence-number wrap, while never buffering more than the window.
#[test]
fn follow_mode_delivers_a_long_stream_with_bounded_memory() {
    let mut s = StreamReassembler::new();
    s.follow();
    let isn = u32::MAX - 5000;
    assert_eq!(s.push(isn, &[], true, false).readable_added, 0);
    let total: usize = 5 * (1 << 20) + 12_345;
    let mut seq = isn.wrapping_add(1);
    let mut sent = 0usize;
    let mut got = Vec::with_capacity(total);
    while sent < total {
        let len = 1448.min(total - sent);
        let seg: Vec<u8> = (sent..sent + len).map(|i| (i % 251) as u8).collect();
        s.push(seq, &seg, false, false);
        seq = seq.wrapping_add(len as u32);
        sent += len;
        got.extend_from_slice(s.readable());
        let n = s.readable().len();
        s.consume(n);
        assert!(s.memory_bytes() <= 2 * STREAM_PREFIX_CAP as usize + 4096);
    }
    assert_eq!(got.len(), total);
    assert!(got.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8));
    assert_eq!(s.stream_offset(), total as u64);
    assert!(!s.is_truncated());
}

/// Follow mode still bounds unread data: a parser that stops consuming gets at most the
/// window, and what is past it is cut (counted), not buffered.
#[test]
fn follow_mode_window_is_bounded_by_unread_bytes() {
    let mut s = StreamReassembler::new();
    s.follow();
    s.push(0, &[], true, false);
    let seg = vec![7u8; 1000];
    for i in 0..200u32 {
        s.push(1 + i * 1000, &seg, false, false);
    }
    assert_eq!(s.readable().len(), STREAM_PREFIX_CAP as usize);
    assert!(s.is_truncated());
    s.consume(1000);
    let before = s.readable().len();
    // The window moved by what was consumed: the next bytes in order fit again.
    let off = STREAM_PREFIX_CAP;
    s.push(1 + off, &vec![9u8; 1000], false, false);
    assert_eq!(s.readable().len(), before + 1000);
}

#[test]
fn drop_ahead_counts_in_order_bytes_instead_of_buffering_them() {
    let mut s = syn(0);
    s.follow();
    s.push(1, b"head", false, false);
    s.consume(4);
    s.drop_ahead(10);
    let out = s.push(5, &[7u8; 6], false, false);
    assert_eq!((out.dropped, out.readable_added), (6, 0));
    assert_eq!(s.readable(), b"");
    assert_eq!(s.stream_offset(), 10);
    assert_eq!(s.memory_bytes(), s.buf.capacity());
    // The budget ends inside a segment: the rest is buffered as usual.
    let out = s.push(11, b"abcdXYZ", false, false);
    assert_eq!((out.dropped, out.readable_added), (4, 3));
    assert_eq!(s.readable(), b"XYZ");
    assert_eq!(s.stream_offset(), 14);
    // Unread bytes are buffered: nothing is dropped, whatever the budget.
    s.drop_ahead(100);
    let out = s.push(18, b"more", false, false);
    assert_eq!((out.dropped, out.readable_added), (0, 4));
    assert_eq!(s.readable(), b"XYZmore");
    // Out of order: held, not dropped; a skipped hole resets the budget.
    s.consume(7);
    s.drop_ahead(100);
    let out = s.push(30, b"late", false, false);
    assert_eq!(out.dropped, 0);
    assert!(out.held);
    s.flush();
    assert_eq!(s.readable(), b"late");
    let out = s.push(34, b"next", false, false);
    assert_eq!(out.dropped, 0);
    assert_eq!(s.readable(), b"latenext");
}
