//! Recognizing DNS by content on UDP ports other than 53/5353/5355 (Retina-style
//! probing): cheap header sanity checks, then the first question must parse.

use super::parse::{HEADER_LEN, Message};
use crate::proto::Verdict;

/// Most questions a probed datagram may announce. Real messages carry one; anything
/// above a handful is more likely another protocol whose bytes 4–5 happen to be small.
pub const PROBE_MAX_QUESTIONS: u16 = 4;

/// Smallest question: the root name (1 byte) + QTYPE + QCLASS.
const MIN_QUESTION: usize = 5;
/// Smallest record: root owner (1) + TYPE, CLASS, TTL, RDLENGTH (10).
const MIN_RECORD: usize = 11;

/// `Match` when `payload` looks like one DNS message: a standard opcode (QUERY, NOTIFY,
/// UPDATE), 1..=[`PROBE_MAX_QUESTIONS`] questions, section counts that fit in the
/// datagram, a query carrying no answers, and a first question that parses with a
/// known class (IN, CH, HS, NONE, ANY; the mDNS unicast bit is ignored).
pub fn probe(payload: &[u8]) -> Verdict {
    Verdict::from_bool(looks_like_dns(payload))
}

fn looks_like_dns(payload: &[u8]) -> bool {
    let Ok(msg) = Message::parse(payload) else {
        return false;
    };
    let h = msg.header;
    if !matches!(h.opcode(), 0 | 4 | 5) {
        return false;
    }
    if h.qdcount == 0 || h.qdcount > PROBE_MAX_QUESTIONS {
        return false;
    }
    if !h.is_response() && h.ancount != 0 && h.opcode() == 0 {
        return false;
    }
    // The Z bit (0x0040) is zero in everything but experiments.
    if h.flags & 0x0040 != 0 {
        return false;
    }
    let records = usize::from(h.ancount)
        .saturating_add(usize::from(h.nscount))
        .saturating_add(usize::from(h.arcount));
    let least = usize::from(h.qdcount)
        .saturating_mul(MIN_QUESTION)
        .saturating_add(records.saturating_mul(MIN_RECORD));
    if payload.len().saturating_sub(HEADER_LEN) < least {
        return false;
    }
    match msg.questions().next() {
        Some(Ok(q)) => matches!(q.qclass & 0x7FFF, 1 | 3 | 4 | 254 | 255) && q.qtype != 0,
        _ => false,
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::panic
)]
mod tests {
    use super::super::parse::tests::{message, question};
    use super::*;

    #[test]
    fn accepts_queries_and_responses() {
        let q = message(9, 0x0100, [1, 0, 0, 0], &question("example.com", 1));
        assert_eq!(Verdict::Match, probe(&q));
        let mut body = question("example.com", 1);
        body.extend(super::super::parse::tests::record(
            &[0xC0, 12],
            1,
            5,
            &[1, 2, 3, 4],
        ));
        let r = message(9, 0x8180, [1, 1, 0, 0], &body);
        assert_eq!(Verdict::Match, probe(&r));
    }

    #[test]
    fn rejects_other_traffic() {
        assert_eq!(Verdict::NoMatch, probe(b""));
        assert_eq!(
            Verdict::NoMatch,
            probe(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        );
        // QUIC long header-ish bytes.
        assert_eq!(
            Verdict::NoMatch,
            probe(&[0xc3, 0, 0, 0, 1, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0])
        );
        // No question.
        assert_eq!(Verdict::NoMatch, probe(&message(9, 0, [0, 0, 0, 0], &[])));
        // Counts that cannot fit.
        assert_eq!(
            Verdict::NoMatch,
            probe(&message(9, 0, [1, 0, 0, 40], &question("a", 1)))
        );
        // Unknown class.
        let mut q = message(9, 0, [1, 0, 0, 0], &question("a", 1));
        let n = q.len();
        q[n - 1] = 77;
        assert_eq!(Verdict::NoMatch, probe(&q));
    }
}
