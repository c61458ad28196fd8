//! Tests of `parse.rs`.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::panic
)]

use super::*;

/// Wire form of a dotted name (test helper; labels must be < 64 bytes).
pub(crate) fn wire_name(s: &str) -> Vec<u8> {
    let mut v = Vec::new();
    for l in s.split('.').filter(|l| !l.is_empty()) {
        v.push(l.len() as u8);
        v.extend_from_slice(l.as_bytes());
    }
    v.push(0);
    v
}

/// A message with the given header fields followed by `body`.
pub(crate) fn message(id: u16, flags: u16, counts: [u16; 4], body: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    for x in [id, flags, counts[0], counts[1], counts[2], counts[3]] {
        v.extend_from_slice(&x.to_be_bytes());
    }
    v.extend_from_slice(body);
    v
}

pub(crate) fn question(name: &str, qtype: u16) -> Vec<u8> {
    let mut v = wire_name(name);
    v.extend_from_slice(&qtype.to_be_bytes());
    v.extend_from_slice(&1u16.to_be_bytes());
    v
}

/// A record whose owner is `owner` (already wire-encoded, may be a pointer).
pub(crate) fn record(owner: &[u8], rtype: u16, ttl: u32, rdata: &[u8]) -> Vec<u8> {
    let mut v = owner.to_vec();
    v.extend_from_slice(&rtype.to_be_bytes());
    v.extend_from_slice(&1u16.to_be_bytes());
    v.extend_from_slice(&ttl.to_be_bytes());
    v.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    v.extend_from_slice(rdata);
    v
}

/// Pointer to the first question's name (offset 12).
pub(crate) const PTR_Q: [u8; 2] = [0xC0, 12];

fn first_question_text(m: &[u8]) -> Result<String, ParseError> {
    let msg = Message::parse(m)?;
    let q = msg.questions().next().unwrap()?;
    Ok(q.name.text().0)
}

#[test]
fn header_fields() {
    let m = message(0xbeef, 0x8183, [1, 0, 0, 0], &question("a.b", 1));
    let msg = Message::parse(&m).unwrap();
    assert_eq!(msg.header.id, 0xbeef);
    assert!(msg.header.is_response());
    assert_eq!(msg.header.rcode(), 3);
    assert_eq!(msg.header.opcode(), 0);
    assert_eq!(
        Message::parse(&m[..11]).unwrap_err(),
        ParseError::ShortHeader
    );
}

#[test]
fn compression_is_followed() {
    // Answer owner is a pointer to the question; CNAME target is "www" + pointer to
    // "example.com" inside the question.
    let mut body = question("www.example.com", 1);
    let mut target = vec![3, b'c', b'd', b'n', 0xC0, 16];
    body.extend(record(&PTR_Q, 5, 300, &target));
    target.clear();
    let m = message(1, 0x8180, [1, 1, 0, 0], &body);
    let msg = Message::parse(&m).unwrap();
    let r = msg.records().next().unwrap().unwrap();
    assert_eq!(r.section, Section::Answer);
    assert_eq!(r.name.text().0, "www.example.com");
    match r.data().unwrap() {
        RData::Name(n) => assert_eq!(n.text().0, "cdn.example.com"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn pointer_loop_attempt_is_rejected() {
    // The question name is a pointer to itself: not strictly backwards.
    let m = message(1, 0, [1, 0, 0, 0], &[0xC0, 12, 0, 1, 0, 1]);
    assert_eq!(
        first_question_text(&m).unwrap_err(),
        ParseError::ForwardPointer
    );
    // Two names pointing at each other: the second's target is before it, but the
    // first then points forward, which is refused.
    let mut body = question("a", 1);
    body.extend(record(&[1, b'x', 0xC0, 25], 1, 0, &[1, 2, 3, 4]));
    let m = message(1, 0x8000, [1, 1, 0, 0], &body);
    let msg = Message::parse(&m).unwrap();
    let r = msg.records().next().unwrap();
    assert!(r.is_err());
    // A label run that points back into itself (12: "a" then pointer to 12).
    let m = message(1, 0, [1, 0, 0, 0], &[1, b'a', 0xC0, 12, 0, 1, 0, 1]);
    assert_eq!(
        first_question_text(&m).unwrap_err(),
        ParseError::ForwardPointer
    );
}

#[test]
fn forward_pointer_is_rejected() {
    let mut body = vec![0xC0, 18, 0, 1, 0, 1];
    body.extend(wire_name("later.example"));
    let m = message(1, 0, [1, 0, 0, 0], &body);
    assert_eq!(
        first_question_text(&m).unwrap_err(),
        ParseError::ForwardPointer
    );
}

#[test]
fn label_cap() {
    let name127 = vec!["a"; 127].join(".");
    let m = message(1, 0, [1, 0, 0, 0], &question(&name127, 1));
    assert_eq!(first_question_text(&m).unwrap(), name127);
    let name128 = vec!["a"; 128].join(".");
    let m = message(1, 0, [1, 0, 0, 0], &question(&name128, 1));
    assert_eq!(
        first_question_text(&m).unwrap_err(),
        ParseError::TooManyLabels
    );
}

#[test]
fn long_text_is_cut_and_flagged() {
    // 127 labels of 63 binary bytes: 127*63*4 bytes of escaped text, far over 1025.
    let mut body = Vec::new();
    for _ in 0..127 {
        body.push(63);
        body.extend([0u8; 63]);
    }
    body.extend([0, 0, 1, 0, 1]);
    let m = message(1, 0, [1, 0, 0, 0], &body);
    let q = Message::parse(&m)
        .unwrap()
        .questions()
        .next()
        .unwrap()
        .unwrap();
    let (text, cut) = q.name.text();
    assert!(cut);
    assert!(text.len() <= MAX_NAME_TEXT);
    assert!(text.starts_with("\\000\\000"));
}

#[test]
fn plain_names_longer_than_the_stack_buffer_are_whole() {
    // 5 plain labels of 63 letters: 319 bytes of text, past the 256-byte fast path
    // (only a parser that allows over-long names gets here), still written in full.
    let mut body = Vec::new();
    for c in b'a'..b'f' {
        body.push(63);
        body.extend([c; 63]);
    }
    body.extend([0, 0, 1, 0, 1]);
    let m = message(1, 0, [1, 0, 0, 0], &body);
    let want: Vec<String> = (b'a'..b'f')
        .map(|c| String::from(char::from(c)).repeat(63))
        .collect();
    assert_eq!(first_question_text(&m).unwrap(), want.join("."));
    // Just under the buffer: 4 labels, 255 bytes, the fast path.
    let mut body = Vec::new();
    for c in b'a'..b'e' {
        body.push(63);
        body.extend([c; 63]);
    }
    body.extend([0, 0, 1, 0, 1]);
    let m = message(1, 0, [1, 0, 0, 0], &body);
    assert_eq!(first_question_text(&m).unwrap(), want[..4].join("."));
}

#[test]
fn binary_label_is_escaped() {
    let body = [3, b'a', b'.', 0xff, 2, b' ', b'\\', 0, 0, 1, 0, 1];
    let m = message(1, 0, [1, 0, 0, 0], &body);
    assert_eq!(first_question_text(&m).unwrap(), "a\\.\\255.\\032\\\\");
}

#[test]
fn https_question_and_svcb_answer() {
    let mut body = question("example.com", 65);
    // priority 1, target ".", alpn "h2", ipv4hint 1.2.3.4, ipv6hint 2001:db8::1
    let mut rdata = vec![0, 1, 0];
    rdata.extend([0, 1, 0, 3, 2, b'h', b'2']);
    rdata.extend([0, 4, 0, 4, 1, 2, 3, 4]);
    rdata.extend([0, 6, 0, 16, 0x20, 0x01, 0x0d, 0xb8]);
    rdata.extend([0; 11]);
    rdata.push(1);
    body.extend(record(&PTR_Q, 65, 60, &rdata));
    let m = message(7, 0x8180, [1, 1, 0, 0], &body);
    let msg = Message::parse(&m).unwrap();
    let q = msg.questions().next().unwrap().unwrap();
    assert_eq!(
        (q.qtype, TypeName(q.qtype).to_string()),
        (65, "HTTPS".into())
    );
    let r = msg.records().next().unwrap().unwrap();
    match r.data().unwrap() {
        RData::Svcb(s) => {
            assert_eq!(s.priority, 1);
            assert_eq!(s.target.text().0, "");
            let hints = s.hints();
            assert_eq!(hints.len(), 2);
            assert_eq!(hints[0].to_string(), "1.2.3.4");
            assert_eq!(hints[1].to_string(), "2001:db8::1");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn caa_and_unknown_types_are_skipped_by_rdlength() {
    let mut body = question("example.com", 257);
    body.extend(record(&PTR_Q, 257, 100, b"\x00\x05issueletsencrypt.org"));
    body.extend(record(&PTR_Q, 65280, 100, &[9; 7]));
    body.extend(record(&PTR_Q, 1, 100, &[1, 2, 3, 4]));
    let m = message(7, 0x8180, [1, 3, 0, 0], &body);
    let msg = Message::parse(&m).unwrap();
    let recs: Vec<_> = msg.records().map(|r| r.unwrap()).collect();
    assert_eq!(recs.len(), 3);
    assert!(matches!(recs[0].data().unwrap(), RData::Other(d) if d.len() == 22));
    assert_eq!(TypeName(recs[1].rtype).to_string(), "TYPE65280");
    assert!(matches!(recs[2].data().unwrap(), RData::A(a) if a == Ipv4Addr::new(1, 2, 3, 4)));
}

#[test]
fn truncated_response_keeps_its_question() {
    let mut body = question("cut.example", 1);
    body.extend(record(&PTR_Q, 1, 100, &[1, 2, 3, 4]));
    let mut m = message(7, 0x8380, [1, 2, 0, 0], &body);
    m.truncate(m.len() - 2);
    let msg = Message::parse(&m).unwrap();
    let qs: Vec<_> = msg.questions().collect();
    assert_eq!(qs.len(), 1);
    assert_eq!(qs[0].as_ref().unwrap().name.text().0, "cut.example");
    let recs: Vec<_> = msg.records().collect();
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].as_ref().unwrap_err(), &ParseError::Truncated);
}

#[test]
fn bad_rdata_lengths() {
    let mut body = question("a", 1);
    body.extend(record(&PTR_Q, 1, 1, &[1, 2, 3]));
    body.extend(record(&PTR_Q, 5, 1, &[3, b'a', b'b']));
    let m = message(7, 0x8180, [1, 2, 0, 0], &body);
    let msg = Message::parse(&m).unwrap();
    for r in msg.records() {
        assert!(r.unwrap().data().is_err());
    }
}

#[test]
fn caps_on_questions_and_records() {
    let m = message(1, 0, [17, 0, 0, 0], &question("a", 1).repeat(17));
    let msg = Message::parse(&m).unwrap();
    assert_eq!(msg.questions().count(), MAX_QUESTIONS);
    assert_eq!(
        msg.records().next().unwrap().unwrap_err(),
        ParseError::TooManyQuestions
    );

    let mut body = question("a", 1);
    body.extend(record(&PTR_Q, 1, 1, &[1, 2, 3, 4]).repeat(600));
    let m = message(1, 0x8180, [1, 600, 0, 0], &body);
    let msg = Message::parse(&m).unwrap();
    let mut recs = msg.records();
    assert_eq!(recs.by_ref().filter(|r| r.is_ok()).count(), MAX_RECORDS);
    assert!(recs.capped());
}

#[test]
fn error_kinds_are_distinct() {
    let mut kinds: Vec<_> = ParseError::ALL.iter().map(|e| e.kind()).collect();
    kinds.dedup();
    assert_eq!(kinds.len(), ParseError::ALL.len());
    for (i, e) in ParseError::ALL.iter().enumerate() {
        assert_eq!(e.index(), i);
    }
}
