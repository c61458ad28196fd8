//! Per-flow state: the client→server byte stream, fed in pieces of any size, until
//! the ClientHello is read.
//!
//! Two layers of reassembly: TLS records across TCP segments (a record header may
//! itself be split), and the handshake message across records. The first piece of
//! a connection usually holds the whole ClientHello in one record: that case is read
//! in place, without copying. Otherwise the message is gathered into one buffer of at
//! most `HANDSHAKE_HEADER_LEN + MAX_CLIENT_HELLO` bytes, grown only as bytes arrive and
//! freed on the final answer; a longer ClientHello is read from its first
//! [`MAX_CLIENT_HELLO`] bytes, marked partial and counted as capped.

use super::parse::{CONTENT_HANDSHAKE, RECORD_HEADER_LEN, RecordHeader};
use super::{InvalidKind, TlsCounters};
use crate::proto::Verdict;
use crate::proto::handshake::{
    CLIENT_HELLO, HANDSHAKE_HEADER_LEN, HandshakeFacts, MAX_CLIENT_HELLO, parse_client_hello,
};

/// What one [`ClientHelloStream::feed`] found, in the one progress type of every
/// parser: `Done` carries the ClientHello's facts (check `partial`); `Handoff`: the
/// stream does not start with a TLS ClientHello; `Invalid`: it started like TLS but
/// broke before the ClientHello ended; `Stopped`: an earlier call already gave the final
/// answer and the bytes were not looked at. Every answer but `NeedMore` is final.
pub type Progress = crate::proto::Progress<Box<HandshakeFacts>, InvalidKind>;

/// Where the reader is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Reading a record header (`head_len` bytes of it so far).
    RecordHeader,
    /// Inside a record's payload, `record_left` bytes of it still to come.
    RecordBody,
    Finished,
}

/// The client→server state of one TCP connection until its ClientHello is read.
#[derive(Clone, Debug)]
pub struct ClientHelloStream {
    phase: Phase,
    head: [u8; RECORD_HEADER_LEN],
    head_len: usize,
    record_left: usize,
    /// Records seen; only the first decides "not TLS", later ones are "invalid".
    records: u32,
    /// The handshake message so far, header included (≤ header + MAX_CLIENT_HELLO).
    msg: Vec<u8>,
    /// Bytes of `msg` needed once the message header is known: header +
    /// min(declared, cap). `None` while the header is still incomplete.
    want: Option<usize>,
    /// The declared body length was over the cap.
    capped: bool,
}

impl Default for ClientHelloStream {
    fn default() -> Self {
        Self::new()
    }
}

impl ClientHelloStream {
    pub fn new() -> Self {
        ClientHelloStream {
            phase: Phase::RecordHeader,
            head: [0; RECORD_HEADER_LEN],
            head_len: 0,
            record_left: 0,
            records: 0,
            msg: Vec::new(),
            want: None,
            capped: false,
        }
    }

    /// True once a final answer was given (Done, Handoff or Invalid).
    pub fn is_finished(&self) -> bool {
        self.phase == Phase::Finished
    }

    /// Takes the next bytes of the client→server stream, in order.
    pub fn feed(&mut self, data: &[u8], counters: &mut TlsCounters) -> Progress {
        if self.phase == Phase::Finished {
            return Progress::Stopped;
        }
        if self.records == 0
            && self.head_len == 0
            && let Some(facts) = whole_in_first_record(data)
        {
            return self.done(facts, counters);
        }
        let answer = self.gather(data);
        match answer {
            Step::More => Progress::NeedMore,
            Step::NotTls => {
                self.phase = Phase::Finished;
                counters.not_tls = counters.not_tls.saturating_add(1);
                Progress::Handoff
            }
            Step::Invalid(kind) => self.invalid(kind, counters),
            Step::Complete => match parse_client_hello(&self.msg) {
                Ok(facts) => {
                    if self.capped {
                        counters.capped_hellos = counters.capped_hellos.saturating_add(1);
                    }
                    self.done(facts, counters)
                }
                Err(e) => self.invalid(InvalidKind::from_hello(e), counters),
            },
        }
    }

    /// The stream ended, or has a gap, before the ClientHello was complete: the facts
    /// from what arrived (marked partial), if its fixed fields did.
    pub fn finish(&mut self, counters: &mut TlsCounters) -> Option<HandshakeFacts> {
        if self.phase == Phase::Finished || self.msg.is_empty() {
            self.phase = Phase::Finished;
            return None;
        }
        match parse_client_hello(&self.msg) {
            Ok(mut facts) => {
                facts.partial = true;
                match self.done(facts, counters) {
                    Progress::Done(facts) => Some(*facts),
                    _ => None,
                }
            }
            Err(e) => {
                self.invalid(InvalidKind::from_hello(e), counters);
                None
            }
        }
    }

    fn done(&mut self, facts: HandshakeFacts, counters: &mut TlsCounters) -> Progress {
        self.phase = Phase::Finished;
        self.msg = Vec::new();
        counters.client_hellos = counters.client_hellos.saturating_add(1);
        if facts.partial {
            counters.partial_hellos = counters.partial_hellos.saturating_add(1);
        }
        Progress::Done(Box::new(facts))
    }

    fn invalid(&mut self, kind: InvalidKind, counters: &mut TlsCounters) -> Progress {
        self.phase = Phase::Finished;
        self.msg = Vec::new();
        counters.count_invalid(kind);
        Progress::Invalid(kind)
    }

    /// Moves `data` through record headers into `msg` until `msg` holds `want` bytes.
    /// Each turn consumes at least one byte, so the loop ends with `data`.
    fn gather(&mut self, mut data: &[u8]) -> Step {
        while !data.is_empty() {
            match self.phase {
                Phase::RecordHeader => {
                    let room = RECORD_HEADER_LEN.saturating_sub(self.head_len);
                    let n = room.min(data.len());
                    let (now, rest) = data.split_at(n);
                    for (slot, b) in self.head.iter_mut().skip(self.head_len).zip(now) {
                        *slot = *b;
                    }
                    self.head_len = self.head_len.saturating_add(n);
                    data = rest;
                    if self.head_len < RECORD_HEADER_LEN {
                        // A first header that already fails the probe need not wait.
                        if self.records == 0
                            && super::probe(self.head.get(..self.head_len).unwrap_or(&[]))
                                == Verdict::NoMatch
                        {
                            return Step::NotTls;
                        }
                        return Step::More;
                    }
                    if let Some(step) = self.start_record() {
                        return step;
                    }
                }
                Phase::RecordBody => {
                    let want = self.want.unwrap_or(HANDSHAKE_HEADER_LEN);
                    let need = want.saturating_sub(self.msg.len());
                    let n = need.min(self.record_left).min(data.len());
                    let (now, rest) = data.split_at(n);
                    self.msg.extend_from_slice(now);
                    self.record_left = self.record_left.saturating_sub(n);
                    data = rest;
                    if let Some(step) = self.after_body_bytes() {
                        return step;
                    }
                }
                Phase::Finished => return Step::More,
            }
        }
        Step::More
    }

    /// A complete record header is in `head`: check it and enter its body.
    fn start_record(&mut self) -> Option<Step> {
        let h = RecordHeader::new(self.head);
        let first = self.records == 0;
        self.records = self.records.saturating_add(1);
        self.head_len = 0;
        if h.content_type != CONTENT_HANDSHAKE {
            return Some(if first {
                Step::NotTls
            } else {
                Step::Invalid(InvalidKind::RecordType)
            });
        }
        if !h.version_ok() || (first && h.version > 0x0304) {
            return Some(if first {
                Step::NotTls
            } else {
                Step::Invalid(InvalidKind::RecordVersion)
            });
        }
        if !h.len_ok() {
            return Some(if first {
                Step::NotTls
            } else {
                Step::Invalid(InvalidKind::RecordLength)
            });
        }
        self.record_left = usize::from(h.len);
        self.phase = Phase::RecordBody;
        None
    }

    /// Bytes were added to `msg`: learn the message length, or finish.
    fn after_body_bytes(&mut self) -> Option<Step> {
        if let Some(&kind) = self.msg.first()
            && kind != CLIENT_HELLO
        {
            // Only a first message can be "not a ClientHello": `msg` is never reset.
            return Some(Step::NotTls);
        }
        if self.want.is_none() && self.msg.len() >= HANDSHAKE_HEADER_LEN {
            let declared = self
                .msg
                .get(1..HANDSHAKE_HEADER_LEN)
                .unwrap_or(&[])
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            self.capped = declared > MAX_CLIENT_HELLO;
            let want = HANDSHAKE_HEADER_LEN.saturating_add(declared.min(MAX_CLIENT_HELLO));
            // No reservation from the declared length: a peer that declares 16 KiB
            // and stalls must not cost 16 KiB per flow. `msg` grows with the bytes
            // that actually arrive.
            self.want = Some(want);
        }
        if let Some(want) = self.want
            && self.msg.len() >= want
        {
            return Some(Step::Complete);
        }
        if self.record_left == 0 {
            self.phase = Phase::RecordHeader;
        }
        None
    }
}

/// Result of moving bytes.
enum Step {
    More,
    NotTls,
    Invalid(InvalidKind),
    Complete,
}

/// The common case, read in place: `data` starts with a handshake record that holds a
/// whole ClientHello no longer than the cap.
fn whole_in_first_record(data: &[u8]) -> Option<HandshakeFacts> {
    let h = RecordHeader::read(data)?;
    if h.content_type != CONTENT_HANDSHAKE || !h.version_ok() || !h.len_ok() {
        return None;
    }
    let record = data.get(RECORD_HEADER_LEN..RECORD_HEADER_LEN.checked_add(usize::from(h.len))?)?;
    let (&kind, rest) = record.split_first()?;
    let declared = rest
        .get(..3)?
        .iter()
        .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
    if kind != CLIENT_HELLO || declared > MAX_CLIENT_HELLO {
        return None;
    }
    let msg = record.get(..HANDSHAKE_HEADER_LEN.checked_add(declared)?)?;
    parse_client_hello(msg).ok()
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::arithmetic_side_effects
)]
mod tests {
    use super::*;
    use crate::proto::tls::testdata::*;

    fn done(p: Progress) -> HandshakeFacts {
        match p {
            Progress::Done(f) => *f,
            other => panic!("expected Done, got {other:?}"),
        }
    }

    fn edge_msg() -> Vec<u8> {
        unhex(EDGE_RECORD)[5..].to_vec()
    }

    fn feed_all(s: &mut ClientHelloStream, pieces: &[&[u8]], c: &mut TlsCounters) -> Progress {
        let mut last = Progress::NeedMore;
        for p in pieces {
            last = s.feed(p, c);
            if !matches!(last, Progress::NeedMore) {
                break;
            }
        }
        last
    }

    #[test]
    fn whole_record_in_one_piece() {
        let record = unhex(EDGE_RECORD);
        let mut c = TlsCounters::default();
        let mut s = ClientHelloStream::new();
        let f = done(s.feed(&record, &mut c));
        assert_eq!(f, parse_client_hello(&record[5..]).unwrap());
        assert!(s.is_finished());
        assert_eq!(s.feed(b"more", &mut c), Progress::Stopped);
        assert_eq!(c.client_hellos, 1);
        assert_eq!(c.partial_hellos, 0);
    }

    #[test]
    fn hello_split_over_two_records() {
        let msg = edge_msg();
        let data = records(&msg, 300);
        assert_eq!(data.len(), msg.len() + 10);
        let mut c = TlsCounters::default();
        let f = done(ClientHelloStream::new().feed(&data, &mut c));
        assert_eq!(f, parse_client_hello(&msg).unwrap());
        assert!(!f.partial);
    }

    #[test]
    fn any_segmentation_gives_the_same_facts() {
        let msg = edge_msg();
        let expected = parse_client_hello(&msg).unwrap();
        for record_size in [1, 3, 4, 5, 100, 512, 16384] {
            let data = records(&msg, record_size);
            for piece in [1, 2, 5, 6, 7, 300, 1460] {
                let pieces: Vec<&[u8]> = data.chunks(piece).collect();
                let mut c = TlsCounters::default();
                let mut s = ClientHelloStream::new();
                let f = done(feed_all(&mut s, &pieces, &mut c));
                assert_eq!(f, expected, "records of {record_size}, pieces of {piece}");
                assert_eq!(c.client_hellos, 1);
            }
        }
    }

    #[test]
    fn not_tls_is_decided_early() {
        let mut c = TlsCounters::default();
        let mut s = ClientHelloStream::new();
        assert_eq!(s.feed(b"G", &mut c), Progress::Handoff);
        assert_eq!(c.not_tls, 1);
        // A server hello, byte by byte: decided at the handshake type.
        let mut s = ClientHelloStream::new();
        let pieces: [&[u8]; 6] = [&[0x16], &[3], &[3], &[0], &[80], &[2]];
        assert_eq!(feed_all(&mut s, &pieces, &mut c), Progress::Handoff);
        assert_eq!(c.not_tls, 2);
        // TLS 1.4 record version, zero length.
        for head in [[0x16u8, 3, 5, 0, 1], [0x16, 3, 1, 0, 0]] {
            let mut s = ClientHelloStream::new();
            assert_eq!(s.feed(&head, &mut c), Progress::Handoff);
        }
    }

    #[test]
    fn bad_second_record_is_invalid() {
        let msg = edge_msg();
        let mut first = records(&msg[..100], 100);
        let cases: [([u8; 5], InvalidKind); 3] = [
            ([0x17, 3, 3, 0, 10], InvalidKind::RecordType),
            ([0x16, 2, 0, 0, 10], InvalidKind::RecordVersion),
            ([0x16, 3, 3, 0, 0], InvalidKind::RecordLength),
        ];
        first.truncate(105);
        for (head, kind) in cases {
            let mut c = TlsCounters::default();
            let mut s = ClientHelloStream::new();
            assert_eq!(s.feed(&first, &mut c), Progress::NeedMore);
            assert_eq!(s.feed(&head, &mut c), Progress::Invalid(kind));
            assert_eq!(c.fields().iter().map(|f| f.1).sum::<u64>(), 1);
        }
    }

    #[test]
    fn malformed_fixed_fields_are_invalid() {
        let m = HelloBuilder {
            session_id: vec![0; 33],
            ..HelloBuilder::default()
        }
        .message();
        let mut c = TlsCounters::default();
        let p = ClientHelloStream::new().feed(&records(&m, 1000), &mut c);
        assert_eq!(p, Progress::Invalid(InvalidKind::HelloMalformed));
        assert_eq!(c.invalid_hello_malformed, 1);
        // A declared length of zero.
        let p = ClientHelloStream::new().feed(&[0x16, 3, 1, 0, 4, 1, 0, 0, 0], &mut c);
        assert_eq!(p, Progress::Invalid(InvalidKind::HelloTruncated));
    }

    #[test]
    fn huge_hello_is_capped() {
        let m = HelloBuilder::default()
            .ext(0, sni_ext(b"huge.example"))
            .ext(0x0015, vec![0; 30_000])
            .message();
        let data = records(&m, 16384);
        let mut c = TlsCounters::default();
        let mut s = ClientHelloStream::new();
        let pieces: Vec<&[u8]> = data.chunks(1460).collect();
        let mut fed = 0;
        let mut answer = Progress::NeedMore;
        for p in &pieces {
            fed += p.len();
            answer = s.feed(p, &mut c);
            if !matches!(answer, Progress::NeedMore) {
                break;
            }
        }
        let f = done(answer);
        assert!(f.partial);
        assert_eq!(f.sni.as_deref(), Some(&b"huge.example"[..]));
        // Answered once the cap was reached, not at the end of the message.
        assert!(fed < MAX_CLIENT_HELLO + 2 * 1460 + 10);
        assert_eq!(
            (c.client_hellos, c.partial_hellos, c.capped_hellos),
            (1, 1, 1)
        );
        assert!(s.msg.capacity() == 0);
    }

    #[test]
    fn finish_gives_what_arrived() {
        let data = records(&edge_msg(), 16384);
        let mut c = TlsCounters::default();
        let mut s = ClientHelloStream::new();
        assert_eq!(s.feed(&data[..300], &mut c), Progress::NeedMore);
        let f = s.finish(&mut c).unwrap();
        assert!(f.partial);
        assert_eq!(f.sni.as_deref(), Some(&b"edge.microsoft.com"[..]));
        assert_eq!((c.client_hellos, c.partial_hellos), (1, 1));
        assert_eq!(s.feed(&data[300..], &mut c), Progress::Stopped);

        // Too little for the fixed fields: counted invalid, no facts.
        let mut s = ClientHelloStream::new();
        assert_eq!(s.feed(&data[..20], &mut c), Progress::NeedMore);
        assert_eq!(s.finish(&mut c), None);
        assert_eq!(c.invalid_hello_truncated, 1);
        // Nothing at all: nothing counted.
        let mut s = ClientHelloStream::new();
        assert_eq!(s.finish(&mut c), None);
        assert_eq!(c.client_hellos, 1);
    }

    #[test]
    fn counters_merge_and_list() {
        let mut a = TlsCounters {
            client_hellos: 2,
            not_tls: 1,
            ..TlsCounters::default()
        };
        let b = TlsCounters {
            client_hellos: 3,
            invalid_record_type: 4,
            ..TlsCounters::default()
        };
        a.merge(&b);
        assert_eq!(a.client_hellos, 5);
        assert_eq!(a.invalid_record_type, 4);
        assert!(a.fields().contains(&("not_tls", 1)));
    }

    proptest::proptest! {
        #[test]
        fn random_streams_never_panic(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2000),
            piece in 1usize..300,
        ) {
            let mut c = TlsCounters::default();
            let mut s = ClientHelloStream::new();
            for p in bytes.chunks(piece) {
                let _ = s.feed(p, &mut c);
            }
            let _ = s.finish(&mut c);
            let _ = super::super::probe(&bytes);
        }

        #[test]
        fn random_streams_after_a_valid_start_never_panic(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2000),
            piece in 1usize..300,
        ) {
            let mut data = vec![0x16, 3, 1, 0x40, 0, 1, 0, 0x3f, 0xfc];
            data.extend_from_slice(&bytes);
            let mut c = TlsCounters::default();
            let mut s = ClientHelloStream::new();
            for p in data.chunks(piece) {
                let _ = s.feed(p, &mut c);
            }
            let _ = s.finish(&mut c);
            proptest::prop_assert!(s.msg.len() <= HANDSHAKE_HEADER_LEN + MAX_CLIENT_HELLO);
        }
    }
}
