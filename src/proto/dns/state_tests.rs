//! Tests of `state.rs`.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::panic
)]

use super::super::parse::tests::{PTR_Q, message, question, record};
use super::super::transaction::status;
use super::*;

pub(crate) const CLIENT: &str = "10.0.0.1:5555";
pub(crate) const SERVER: &str = "10.0.0.53:53";

pub(crate) fn pkt(from_client: bool) -> DnsPacket {
    let (c, s) = (CLIENT.parse().unwrap(), SERVER.parse().unwrap());
    let (src, dst) = if from_client { (c, s) } else { (s, c) };
    DnsPacket {
        flow_id: 7,
        transport: Transport::Udp,
        src,
        dst,
    }
}

pub(crate) fn query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    message(id, 0x0100, [1, 0, 0, 0], &question(name, qtype))
}

pub(crate) fn response(
    id: u16,
    name: &str,
    qtype: u16,
    rcode: u16,
    answers: &[Vec<u8>],
) -> Vec<u8> {
    let mut body = question(name, qtype);
    for a in answers {
        body.extend_from_slice(a);
    }
    message(id, 0x8180 | rcode, [1, answers.len() as u16, 0, 0], &body)
}

pub(crate) fn a_record(ttl: u32, ip: [u8; 4]) -> Vec<u8> {
    record(&PTR_Q, 1, ttl, &ip)
}

fn t(ms: i64) -> Timestamp {
    Timestamp::from_millis(ms)
}

#[test]
fn query_and_response_join() {
    let mut st = DnsState::new(DnsConfig::default());
    let mut out = Vec::new();
    st.on_message(&pkt(true), t(1000), &query(42, "Example.COM", 1), &mut out)
        .unwrap();
    assert!(out.is_empty());
    assert_eq!(st.pending(), 1);
    let resp = response(42, "example.com", 1, 0, &[a_record(300, [1, 2, 3, 4])]);
    st.on_message(&pkt(false), t(1020), &resp, &mut out)
        .unwrap();
    assert_eq!(out.len(), 1);
    let tx = &out[0];
    assert_eq!(tx.client, CLIENT.parse().unwrap());
    assert_eq!(tx.server, SERVER.parse().unwrap());
    assert_eq!(&*tx.qname, "Example.COM");
    assert_eq!(tx.query_ts, Some(t(1000)));
    assert_eq!(tx.time(), t(1020));
    assert_eq!(tx.status(), status::SUCCESS);
    assert_eq!(tx.response.as_ref().unwrap().min_ttl, Some(300));
    assert_eq!(st.pending(), 0);
    assert_eq!(st.counters().unmatched_responses, 0);
    // The timeout later finds nothing (the order entry is stale).
    st.expire(t(60_000), &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(st.counters().timeouts, 0);
}

#[test]
fn unanswered_query_times_out_on_packet_time() {
    let mut st = DnsState::new(DnsConfig::default());
    let mut out = Vec::new();
    st.on_message(&pkt(true), t(1000), &query(1, "slow.example", 28), &mut out)
        .unwrap();
    st.expire(t(5999), &mut out);
    assert!(out.is_empty());
    st.expire(t(6000), &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].status(), status::TIMEOUT);
    assert_eq!(out[0].time(), t(1000));
    assert_eq!(st.counters().timeouts, 1);
    // A late response is then response-only.
    st.on_message(
        &pkt(false),
        t(7000),
        &response(1, "slow.example", 28, 0, &[]),
        &mut out,
    )
    .unwrap();
    assert_eq!(out.len(), 2);
    assert_eq!(out[1].query_ts, None);
    assert_eq!(out[1].status(), status::NO_RECORDS);
}

#[test]
fn response_without_query_is_reported() {
    let mut st = DnsState::new(DnsConfig::default());
    let mut out = Vec::new();
    let resp = response(9, "orphan.example", 1, 3, &[]);
    st.on_message(&pkt(false), t(5), &resp, &mut out).unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].client, CLIENT.parse().unwrap());
    assert_eq!(out[0].status(), 9003);
    assert_eq!(st.counters().unmatched_responses, 1);
}

#[test]
fn two_questions_give_two_transactions() {
    let mut st = DnsState::new(DnsConfig::default());
    let mut out = Vec::new();
    let mut body = question("a.example", 1);
    body.extend(question("b.example", 28));
    st.on_message(
        &pkt(true),
        t(0),
        &message(3, 0x0100, [2, 0, 0, 0], &body),
        &mut out,
    )
    .unwrap();
    assert_eq!(st.pending(), 2);
    st.on_message(
        &pkt(false),
        t(10),
        &message(3, 0x8180, [2, 0, 0, 0], &body),
        &mut out,
    )
    .unwrap();
    assert_eq!(out.len(), 2);
    assert_eq!(&*out[0].qname, "a.example");
    assert_eq!(&*out[1].qname, "b.example");
    assert!(out.iter().all(|tx| tx.query_ts == Some(t(0))));
}

#[test]
fn retransmitted_query_is_not_duplicated() {
    let mut st = DnsState::new(DnsConfig::default());
    let mut out = Vec::new();
    let q = query(5, "again.example", 1);
    st.on_message(&pkt(true), t(0), &q, &mut out).unwrap();
    st.on_message(&pkt(true), t(1000), &q, &mut out).unwrap();
    st.flush_all(&mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(st.counters().duplicate_queries, 1);
    assert_eq!(st.counters().flushed, 1);
}

#[test]
fn cap_evicts_oldest_as_no_response() {
    let cfg = DnsConfig {
        max_pending: 3,
        ..DnsConfig::default()
    };
    let mut st = DnsState::new(cfg);
    let mut out = Vec::new();
    for i in 0..5u16 {
        st.on_message(
            &pkt(true),
            t(i64::from(i)),
            &query(i, "x.example", 1),
            &mut out,
        )
        .unwrap();
    }
    assert_eq!(st.pending(), 3);
    assert_eq!(st.counters().evictions, 2);
    assert_eq!(out.iter().map(|tx| tx.id).collect::<Vec<_>>(), vec![0, 1]);
    assert!(out.iter().all(|tx| tx.status() == status::TIMEOUT));
    // Stale order entries never exceed the slack even with answered traffic.
    for i in 0..100u16 {
        st.on_message(
            &pkt(true),
            t(10),
            &query(1000 + i, "y.example", 1),
            &mut out,
        )
        .unwrap();
        st.on_message(
            &pkt(false),
            t(10),
            &response(1000 + i, "y.example", 1, 0, &[]),
            &mut out,
        )
        .unwrap();
    }
    assert!(st.order.len() <= 3 * ORDER_SLACK + 1);
}

#[test]
fn multicast_query_joins_a_unicast_answer() {
    let mut st = DnsState::new(DnsConfig::default());
    let mut out = Vec::new();
    let client: SocketAddr = "10.0.0.1:40000".parse().unwrap();
    let group: SocketAddr = "224.0.0.252:5355".parse().unwrap();
    let responder: SocketAddr = "10.0.0.9:5355".parse().unwrap();
    let q = DnsPacket {
        flow_id: 1,
        transport: Transport::Udp,
        src: client,
        dst: group,
    };
    let r = DnsPacket {
        flow_id: 2,
        transport: Transport::Udp,
        src: responder,
        dst: client,
    };
    st.on_message(&q, t(0), &query(3, "printer", 1), &mut out)
        .unwrap();
    st.on_message(
        &r,
        t(5),
        &response(3, "printer", 1, 0, &[a_record(30, [10, 0, 0, 9])]),
        &mut out,
    )
    .unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(
        (out[0].client, out[0].server, out[0].flow_id),
        (client, group, 1)
    );
    assert_eq!(out[0].query_ts, Some(t(0)));
    assert_eq!(st.counters().unmatched_responses, 0);
}

#[test]
fn truncated_response_still_answers_its_query() {
    let mut st = DnsState::new(DnsConfig::default());
    let mut out = Vec::new();
    st.on_message(&pkt(true), t(0), &query(8, "big.example", 16), &mut out)
        .unwrap();
    let mut r = response(
        8,
        "big.example",
        16,
        0,
        &[record(&PTR_Q, 16, 60, &[200; 100])],
    );
    r[2] |= 0x02; // TC
    r.truncate(r.len() - 50);
    let err = st.on_message(&pkt(false), t(1), &r, &mut out);
    assert_eq!(err, Err(ParseError::Truncated));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].query_ts, Some(t(0)));
    let resp = out[0].response.as_ref().unwrap();
    assert!(resp.tc && resp.answers_incomplete && resp.answers.is_empty());
    assert_eq!(out[0].status(), status::NO_RECORDS);
    assert_eq!(st.counters().parse_errors[ParseError::Truncated.index()], 1);
}

#[test]
fn malformed_message_is_counted() {
    let mut st = DnsState::new(DnsConfig::default());
    let mut out = Vec::new();
    assert_eq!(
        st.on_message(&pkt(true), t(0), &[1, 2, 3], &mut out),
        Err(ParseError::ShortHeader)
    );
    let bad = message(1, 0, [1, 0, 0, 0], &[0xC0, 12, 0, 1, 0, 1]);
    assert_eq!(
        st.on_message(&pkt(true), t(0), &bad, &mut out),
        Err(ParseError::ForwardPointer)
    );
    assert_eq!(st.counters().parse_errors_total(), 2);
    assert_eq!(st.pending(), 0);
}

#[test]
fn tcp_messages_go_through_the_framer() {
    let mut st = DnsState::new(DnsConfig::default());
    let mut framer = TcpDnsFramer::new();
    let mut out = Vec::new();
    let q = query(77, "tcp.example", 1);
    let mut stream = (q.len() as u16).to_be_bytes().to_vec();
    stream.extend(&q);
    let p = DnsPacket {
        transport: Transport::Tcp,
        ..pkt(true)
    };
    let fed = |st: &mut DnsState, framer: &mut TcpDnsFramer, bytes: &[u8], out: &mut Vec<_>| {
        st.on_tcp_data(framer, &p, t(0), bytes, out)
    };
    assert_eq!(
        fed(&mut st, &mut framer, &stream[..5], &mut out),
        Progress::NeedMore
    );
    assert_eq!(st.pending(), 0);
    assert_eq!(
        fed(&mut st, &mut framer, &stream[5..], &mut out),
        Progress::NeedMore
    );
    assert_eq!(st.pending(), 1);
    assert_eq!(
        fed(&mut st, &mut framer, &[0, 3, 1, 2, 3], &mut out),
        Progress::Invalid(FramingError::BadLength(3))
    );
    assert_eq!(st.counters().tcp_framing_errors, 1);
    assert_eq!(st.counters().tcp_messages, 1);
    // The stream is given up: later bytes are not read, nor counted again.
    assert_eq!(
        fed(&mut st, &mut framer, &stream, &mut out),
        Progress::Stopped
    );
    assert_eq!(st.counters().tcp_framing_errors, 1);
    assert_eq!(st.counters().tcp_messages, 1);
}

#[test]
fn answer_owners_reused_only_for_the_same_name() {
    use super::super::parse::tests::wire_name;
    let mut st = DnsState::new(DnsConfig::default());
    let mut out = Vec::new();
    st.on_message(&pkt(true), t(1), &query(5, "Q.example", 1), &mut out)
        .unwrap();
    let mut body = question("Q.example", 1);
    // 1: the question's name (pointer) is a CNAME of b.example, written in full.
    let target_at = 12 + body.len() + 2 + 10;
    body.extend(record(&PTR_Q, 5, 60, &wire_name("b.example")));
    // 2: owner a pointer to that target.
    let to_target = [0xC0, target_at as u8];
    body.extend(record(&to_target, 1, 60, &[1, 2, 3, 4]));
    // 3: another name in full; 4: the question's name again.
    body.extend(record(&wire_name("other.example"), 1, 60, &[5, 6, 7, 8]));
    body.extend(record(&PTR_Q, 1, 60, &[9, 9, 9, 9]));
    let resp = message(5, 0x8180, [1, 4, 0, 0], &body);
    st.on_message(&pkt(false), t(2), &resp, &mut out).unwrap();
    let answers = &out.last().unwrap().response.as_ref().unwrap().answers;
    let owners: Vec<&str> = answers.iter().map(|a| &*a.owner).collect();
    assert_eq!(
        owners,
        ["Q.example", "b.example", "other.example", "Q.example"]
    );
}
