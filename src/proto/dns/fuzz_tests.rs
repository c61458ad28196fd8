//! Property tests: random bytes never panic the parser, the probe, the framer or the
//! table, and whatever parses stays within the caps.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::panic
)]

use proptest::prelude::*;

use super::parse::{MAX_NAME_TEXT, MAX_QUESTIONS, MAX_RECORDS, Message};
use super::state::tests::pkt;
use super::{DnsConfig, DnsState, TcpDnsFramer, probe};
use crate::time::Timestamp;

fn walk_everything(bytes: &[u8]) {
    let Ok(msg) = Message::parse(bytes) else {
        return;
    };
    let mut nq = 0;
    for q in msg.questions() {
        nq += 1;
        if let Ok(q) = q {
            assert!(q.name.text().0.len() <= MAX_NAME_TEXT);
        }
    }
    assert!(nq <= MAX_QUESTIONS);
    let mut nr = 0;
    for r in msg.records() {
        nr += 1;
        if let Ok(r) = r {
            let _ = r.name.text();
            if let Ok(super::parse::RData::Svcb(s)) = r.data() {
                let _ = s.hints();
            }
        }
    }
    assert!(nr <= MAX_RECORDS + 1);
}

/// A valid-looking header in front of random bytes reaches deeper than pure noise.
fn with_header() -> impl Strategy<Value = Vec<u8>> {
    (
        any::<u16>(),
        0u16..4,
        0u16..8,
        proptest::collection::vec(any::<u8>(), 0..300),
    )
        .prop_map(|(flags, qd, an, body)| {
            let mut v = vec![0x12, 0x34];
            v.extend(flags.to_be_bytes());
            v.extend(qd.to_be_bytes());
            v.extend(an.to_be_bytes());
            v.extend([0, 0, 0, 1]);
            v.extend(body);
            v
        })
}

proptest! {
    #[test]
    fn parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        walk_everything(&bytes);
        let _ = probe(&bytes);
    }

    #[test]
    fn parser_never_panics_past_the_header(bytes in with_header()) {
        walk_everything(&bytes);
        let _ = probe(&bytes);
        let mut st = DnsState::new(DnsConfig { max_pending: 4, ..DnsConfig::default() });
        let mut out = Vec::new();
        let _ = st.on_message(&pkt(true), Timestamp::from_secs(1), &bytes, &mut out);
        let _ = st.on_message(&pkt(false), Timestamp::from_secs(2), &bytes, &mut out);
        st.flush_all(&mut out);
        for tx in &out {
            let _ = crate::event::dns::dns_query_body(tx);
            let _ = tx.resolved_addrs();
        }
    }

    #[test]
    fn framer_never_panics(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 0..10)) {
        let mut f = TcpDnsFramer::new();
        let mut total = 0usize;
        for c in &chunks {
            let _ = f.feed(c, &mut |m: &[u8]| { total += m.len(); assert!(m.len() >= 12); });
            assert!(f.buffered() <= super::tcp::MAX_FRAME);
        }
        assert!(total <= chunks.iter().map(Vec::len).sum::<usize>());
    }
}
