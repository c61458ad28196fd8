//! Flow table tests: caps, packet-time expiry, orientation, drain.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use std::net::{IpAddr, Ipv4Addr};

use super::*;
use crate::flow::conn::TcpConn;
use crate::flow::key::Transport;

fn ip(n: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | n))
}

/// Flow `n`: client 10.0.0.n:40000+ → server 10.1.0.1:443 (the server sorts first).
fn key(proto: Transport, n: u32) -> (FlowKey, Direction) {
    FlowKey::new(proto, ip(n), 40000, ip(0x1_0001), 443)
}

fn at(secs: i64) -> Timestamp {
    Timestamp::from_secs(secs)
}

fn pkt(now: Timestamp, dir: Direction, flags: Option<u8>) -> PacketSeen {
    PacketSeen {
        wire: 0,
        now,
        dir,
        bytes: 10,
        tcp_flags: flags.map(TcpFlags),
    }
}

const SYN: u8 = TcpFlags::SYN;
const SYNACK: u8 = TcpFlags::SYN | TcpFlags::ACK;
const ACK: u8 = TcpFlags::ACK;
const FINACK: u8 = TcpFlags::FIN | TcpFlags::ACK;

type Table = FlowTable<u32>;

fn file(t: &mut Table, k: FlowKey, p: PacketSeen, out: &mut Vec<Entry<u32>>) -> (u64, bool) {
    let (e, new) = t.get_or_insert(k, p, || 7, out).unwrap();
    (e.flow_id, new)
}

#[test]
fn cap_evicts_the_oldest_by_last_seen() {
    let mut t = Table::new(0, 3, Timeouts::default());
    let mut ev = Vec::new();
    let (k1, d) = key(Transport::Udp, 1);
    let (k2, _) = key(Transport::Tcp, 2);
    let (k3, _) = key(Transport::Udp, 3);
    let (k4, _) = key(Transport::Udp, 4);
    file(&mut t, k1, pkt(at(1), d, None), &mut ev);
    file(&mut t, k2, pkt(at(2), d, Some(SYN)), &mut ev);
    file(&mut t, k3, pkt(at(3), d, None), &mut ev);
    // Touch flow 1: flow 2 (another class's list) is now the oldest.
    assert!(!file(&mut t, k1, pkt(at(4), d, None), &mut ev).1);
    assert!(file(&mut t, k4, pkt(at(5), d, None), &mut ev).1);
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].key, k2);
    assert_eq!(t.len(), 3);
    file(&mut t, k2, pkt(at(6), d, Some(SYN)), &mut ev);
    assert_eq!(ev[1].key, k3);
    let c = t.counters();
    assert_eq!(
        (c.flows_created, c.flows_evicted, c.flows_expired),
        (5, 2, 0)
    );
}

#[test]
fn a_flood_never_grows_past_the_cap() {
    let mut t = Table::new(1, 1000, Timeouts::default());
    let mut ev = Vec::new();
    for n in 0..100_000u32 {
        let (k, d) = key(Transport::Tcp, n);
        file(
            &mut t,
            k,
            pkt(Timestamp(i64::from(n)), d, Some(SYN)),
            &mut ev,
        );
        assert!(t.len() <= 1000);
    }
    assert_eq!(ev.len(), 99_000);
    // Oldest first: the evicted flows come out in arrival order.
    assert!(ev.windows(2).all(|w| w[0].last_seen < w[1].last_seen));
    assert_eq!(t.counters().flows_evicted, 99_000);
    assert!(t.slots.capacity() <= 1000);
}

#[test]
fn expiry_follows_packet_time_per_class() {
    let mut t = Table::new(0, 100, Timeouts::default());
    let mut ev = Vec::new();
    let (udp, d) = key(Transport::Udp, 1);
    let (syn_only, _) = key(Transport::Tcp, 2);
    let (est, _) = key(Transport::Tcp, 3);
    let (closed, _) = key(Transport::Tcp, 4);
    let (half, _) = key(Transport::Tcp, 5);
    file(&mut t, udp, pkt(at(0), d, None), &mut ev);
    file(&mut t, syn_only, pkt(at(0), d, Some(SYN)), &mut ev);
    for k in [est, closed, half] {
        file(&mut t, k, pkt(at(0), d, Some(SYN)), &mut ev);
        file(&mut t, k, pkt(at(0), d.reverse(), Some(SYNACK)), &mut ev);
        file(&mut t, k, pkt(at(0), d, Some(ACK)), &mut ev);
    }
    file(&mut t, closed, pkt(at(0), d, Some(FINACK)), &mut ev);
    file(
        &mut t,
        closed,
        pkt(at(0), d.reverse(), Some(FINACK)),
        &mut ev,
    );
    file(&mut t, half, pkt(at(0), d, Some(FINACK)), &mut ev);
    assert_eq!(
        t.get_mut(&closed).unwrap().timeout_class(),
        TimeoutClass::TcpClosed
    );
    assert_eq!(
        t.get_mut(&half).unwrap().timeout_class(),
        TimeoutClass::TcpHalfClosed
    );
    assert_eq!(
        t.get_mut(&est).unwrap().timeout_class(),
        TimeoutClass::TcpEstablished
    );

    let mut out = Vec::new();
    let mut expire = |t: &mut Table, s: i64| {
        out.clear();
        t.expire(at(s), &mut out);
        out.iter().map(|e| e.key).collect::<Vec<_>>()
    };
    assert_eq!(
        expire(&mut t, 5),
        Vec::<FlowKey>::new(),
        "idle must exceed the timeout"
    );
    assert_eq!(expire(&mut t, 6), vec![closed]);
    assert_eq!(expire(&mut t, 31), vec![syn_only]);
    // Activity at t=50 keeps the UDP flow alive past its first deadline.
    file(&mut t, udp, pkt(at(50), d.reverse(), None), &mut ev);
    assert_eq!(expire(&mut t, 61), Vec::<FlowKey>::new());
    assert_eq!(expire(&mut t, 111), vec![udp]);
    assert_eq!(expire(&mut t, 121), vec![half]);
    assert_eq!(expire(&mut t, 600), Vec::<FlowKey>::new());
    assert_eq!(expire(&mut t, 601), vec![est]);
    assert!(t.is_empty());
    assert_eq!(t.counters().flows_expired, 5);
}

#[test]
fn initiator_orientation() {
    let mut t = Table::new(0, 100, Timeouts::default());
    let mut ev = Vec::new();
    // SYN from the client; 10.0.0.1 sorts before 10.1.0.1, so the client is `a`.
    let (k, d) = key(Transport::Tcp, 1);
    assert_eq!(d, Direction::FromA);
    let e = t
        .get_or_insert(k, pkt(at(0), d, Some(SYN)), || 0, &mut ev)
        .unwrap()
        .0;
    assert_eq!((e.client_dir(), e.orientation()), (d, Orientation::Syn));
    assert_eq!(e.client().port, 40000);
    assert_eq!(e.server().port, 443);
    // SYN+ACK seen first: its receiver is the client.
    let (k, d) = key(Transport::Tcp, 2);
    let e = t
        .get_or_insert(k, pkt(at(0), d.reverse(), Some(SYNACK)), || 0, &mut ev)
        .unwrap()
        .0;
    assert_eq!((e.client_dir(), e.orientation()), (d, Orientation::SynAck));
    // Mid-stream: the first packet's sender, corrected by a later SYN.
    let (k, d) = key(Transport::Tcp, 3);
    let e = t
        .get_or_insert(k, pkt(at(0), d.reverse(), Some(ACK)), || 0, &mut ev)
        .unwrap()
        .0;
    assert_eq!(
        (e.client_dir(), e.orientation()),
        (d.reverse(), Orientation::FirstPacket)
    );
    let e = t
        .get_or_insert(k, pkt(at(1), d, Some(SYN)), || 0, &mut ev)
        .unwrap()
        .0;
    assert_eq!((e.client_dir(), e.orientation()), (d, Orientation::Syn));
    assert_eq!((e.client_packets(), e.server_packets()), (1, 1));
    assert_eq!((e.client_bytes(), e.server_bytes()), (10, 10));
    // A SYN decision is never overturned by a SYN+ACK.
    let e = t
        .get_or_insert(k, pkt(at(2), d, Some(SYNACK)), || 0, &mut ev)
        .unwrap()
        .0;
    assert_eq!(e.client_dir(), d);
    // UDP: the first packet's sender.
    let (k, d) = key(Transport::Udp, 4);
    let e = t
        .get_or_insert(k, pkt(at(0), d.reverse(), None), || 0, &mut ev)
        .unwrap()
        .0;
    assert_eq!(
        (e.client_dir(), e.orientation()),
        (d.reverse(), Orientation::FirstPacket)
    );
    assert_eq!(e.client().port, 443);
}

#[test]
fn a_dns_response_seen_first_leaves_the_client_the_client() {
    let mut t = Table::new(0, 100, Timeouts::default());
    let mut ev = Vec::new();
    for (n, proto) in [(1, Transport::Udp), (2, Transport::Tcp)] {
        let (k, d) = FlowKey::new(proto, ip(n), 40000, ip(0x1_0001), 53);
        // The resolver's answer (from port 53) is the first packet seen.
        let flags = (proto == Transport::Tcp).then_some(ACK);
        let e = t
            .get_or_insert(k, pkt(at(0), d.reverse(), flags), || 0, &mut ev)
            .unwrap()
            .0;
        assert_eq!(
            (e.client_dir(), e.orientation()),
            (d, Orientation::ServerPort)
        );
        assert_eq!((e.client().port, e.server().port), (40000, 53));
        assert_eq!((e.client_packets(), e.server_packets()), (0, 1));
    }
    // A later SYN still decides.
    let (k, d) = FlowKey::new(Transport::Tcp, ip(3), 53, ip(0x1_0001), 40000);
    t.get_or_insert(k, pkt(at(0), d, Some(ACK)), || 0, &mut ev);
    let e = t
        .get_or_insert(k, pkt(at(1), d, Some(SYN)), || 0, &mut ev)
        .unwrap()
        .0;
    assert_eq!((e.client_dir(), e.orientation()), (d, Orientation::Syn));
    // Between two server ports (a resolver forwarding to another): the first sender.
    let (k, d) = FlowKey::new(Transport::Udp, ip(4), 53, ip(0x1_0001), 53);
    let e = t
        .get_or_insert(k, pkt(at(0), d.reverse(), None), || 0, &mut ev)
        .unwrap()
        .0;
    assert_eq!(
        (e.client_dir(), e.orientation()),
        (d.reverse(), Orientation::FirstPacket)
    );
}

#[test]
fn drain_all_hands_out_every_flow_oldest_first() {
    let mut t = Table::new(0, 100, Timeouts::default());
    let mut ev = Vec::new();
    for n in 1..=5u32 {
        let (k, d) = key(
            if n % 2 == 0 {
                Transport::Udp
            } else {
                Transport::Tcp
            },
            n,
        );
        file(
            &mut t,
            k,
            pkt(at(i64::from(n)), d, Some(ACK).filter(|_| n % 2 == 1)),
            &mut ev,
        );
    }
    // Touch flow 1 last.
    let (k1, d) = key(Transport::Tcp, 1);
    file(&mut t, k1, pkt(at(10), d, Some(ACK)), &mut ev);
    let mut out = Vec::new();
    t.drain_all(&mut out);
    let order: Vec<i64> = out.iter().map(|e| e.last_seen.secs()).collect();
    assert_eq!(order, vec![2, 3, 4, 5, 10]);
    assert!(t.is_empty());
    assert_eq!(t.counters().flows_closed, 5);
    assert_eq!(out[4].state, 7);
    // Reusable after a drain.
    assert!(file(&mut t, k1, pkt(at(11), d, None), &mut ev).1);
}

#[test]
fn flow_ids_carry_the_worker_and_are_unique() {
    let mut t = Table::new(3, 2, Timeouts::default());
    let mut ev = Vec::new();
    let mut ids = Vec::new();
    for n in 0..10u32 {
        let (k, d) = key(Transport::Udp, n);
        ids.push(file(&mut t, k, pkt(at(i64::from(n)), d, None), &mut ev).0);
    }
    assert!(ids.iter().all(|id| id >> 56 == 3));
    assert_eq!(ids[9] & FLOW_ID_COUNTER_MASK, 9);
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 10);
}

#[test]
fn remove_and_backwards_time() {
    let mut t = Table::new(0, 10, Timeouts::default());
    let mut ev = Vec::new();
    let (k, d) = key(Transport::Udp, 1);
    file(&mut t, k, pkt(at(100), d, None), &mut ev);
    // Time going backwards never moves last_seen back.
    file(&mut t, k, pkt(at(50), d, None), &mut ev);
    assert_eq!(t.get_mut(&k).unwrap().last_seen, at(100));
    assert_eq!(t.get_mut(&k).unwrap().first_seen, at(100));
    let e = t.remove(&k).unwrap();
    assert_eq!(e.packets(d), 2);
    assert!(t.remove(&k).is_none());
    assert_eq!(t.counters().flows_closed, 1);
}

#[test]
fn a_syn_after_close_starts_a_new_connection() {
    let mut t = Table::new(0, 10, Timeouts::default());
    let mut ev = Vec::new();
    let (k, d) = key(Transport::Tcp, 1);
    let (id1, _) = file(&mut t, k, pkt(at(0), d, Some(SYN)), &mut ev);
    // A retransmitted SYN is the same connection.
    assert_eq!(
        file(&mut t, k, pkt(at(1), d, Some(SYN)), &mut ev),
        (id1, false)
    );
    file(
        &mut t,
        k,
        pkt(at(1), d.reverse(), Some(TcpFlags::RST | TcpFlags::ACK)),
        &mut ev,
    );
    let (id2, new) = file(&mut t, k, pkt(at(2), d, Some(SYN)), &mut ev);
    assert!(new);
    assert_ne!(id1, id2);
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].flow_id, id1);
    assert_eq!(t.counters().flows_reused, 1);
    assert_eq!(t.len(), 1);
}

fn at_ms(ms: i64) -> Timestamp {
    Timestamp::from_millis(ms)
}

/// Hits within `RELINK_INTERVAL` do not move a flow in its list; expiry, eviction and
/// drain still answer what an exact LRU list would.
#[test]
fn hits_without_relinking_keep_lru_answers() {
    let mut t = Table::new(0, 3, Timeouts::default());
    let mut ev = Vec::new();
    let (k1, d) = key(Transport::Udp, 1);
    let (k2, _) = key(Transport::Udp, 2);
    let (k3, _) = key(Transport::Udp, 3);
    file(&mut t, k1, pkt(at_ms(0), d, None), &mut ev);
    file(&mut t, k2, pkt(at_ms(100), d, None), &mut ev);
    file(&mut t, k3, pkt(at_ms(200), d, None), &mut ev);
    // k1 touched at 300 ms: not moved, but no longer the oldest.
    file(&mut t, k1, pkt(at_ms(300), d, None), &mut ev);
    let mut out = Vec::new();
    // At 60.15 s only k2 (100 ms) is idle for more than 60 s; k1 gets its second chance.
    t.expire(at_ms(60_150), &mut out);
    assert_eq!(out.iter().map(|e| e.key).collect::<Vec<_>>(), vec![k2]);
    // k2 again, then a fourth flow at the cap: k3 (200 ms) is the oldest.
    file(&mut t, k2, pkt(at_ms(60_300), d, None), &mut ev);
    let (k4, _) = key(Transport::Udp, 4);
    file(&mut t, k4, pkt(at_ms(60_400), d, None), &mut ev);
    assert_eq!(ev.iter().map(|e| e.key).collect::<Vec<_>>(), vec![k3]);
    // Equal times: drained in the order they were touched.
    file(&mut t, k4, pkt(at_ms(60_500), d, None), &mut ev);
    file(&mut t, k2, pkt(at_ms(60_500), d, None), &mut ev);
    out.clear();
    t.drain_all(&mut out);
    assert_eq!(
        out.iter().map(|e| e.key).collect::<Vec<_>>(),
        vec![k1, k4, k2]
    );
    // Expired in one call: least recently touched first, as from an exact list.
    let mut t = Table::new(0, 10, Timeouts::default());
    file(&mut t, k1, pkt(at_ms(0), d, None), &mut ev);
    file(&mut t, k2, pkt(at_ms(10), d, None), &mut ev);
    file(&mut t, k1, pkt(at_ms(20), d, None), &mut ev);
    out.clear();
    t.expire(at_ms(70_000), &mut out);
    assert_eq!(out.iter().map(|e| e.key).collect::<Vec<_>>(), vec![k2, k1]);
}

/// The memory figures in `FLOW_TABLE_CAP`'s comment.
#[test]
fn per_flow_sizes_match_the_budget() {
    let entry = size_of::<Node<()>>();
    let conn = size_of::<TcpConn>();
    eprintln!("Node<()> = {entry} B, TcpConn = {conn} B");
    // 128: the lazy relinking added `linked` (8 B) and `touched` (8 B); 160: the
    // connection summary's wire bytes each way (16 B) and Zeek history (15 B).
    assert!(entry <= 160, "{entry}");
    // Two directions of ~112 B (follow mode added the rebase offset and an absolute
    // gap offset); boxed per TCP flow, so it does not weigh on the table itself.
    assert!(conn <= 232, "{conn}");
}

/// Walks every list: links agree both ways, each node sits in the list of its class,
/// and the lists hold exactly the indexed flows.
fn check_invariants<S>(t: &FlowTable<S>) {
    let mut seen = 0usize;
    for class in ALL_CLASSES {
        let l = t.lists[class.index()];
        let mut prev = NIL;
        let mut cur = l.head;
        while cur != NIL {
            let n = t.node(cur).unwrap();
            assert_eq!(n.prev, prev);
            assert_eq!(n.entry.class, class);
            assert_eq!(t.find(&n.entry.key), Some(cur));
            prev = cur;
            cur = n.next;
            seen += 1;
            assert!(seen <= t.len());
        }
        assert_eq!(l.tail, prev);
    }
    assert_eq!(seen, t.len());
    assert!(t.len() <= t.cap());
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 100, ..Default::default() })]

    #[test]
    fn random_operations_keep_the_lists_consistent(
        ops in proptest::collection::vec((0u32..40, 0u8..6, 0i64..30, proptest::bool::ANY), 1..400),
    ) {
        let mut t: FlowTable<u8> = FlowTable::new(0, 16, Timeouts::default());
        let mut out = Vec::new();
        let mut now = 0i64;
        let mut created = 0u64;
        for (n, op, dt, reverse) in ops {
            now += dt;
            let (k, d) = key(if n % 3 == 0 { Transport::Udp } else { Transport::Tcp }, n);
            let d = if reverse { d.reverse() } else { d };
            let flags = [None, Some(SYN), Some(SYNACK), Some(ACK), Some(FINACK), Some(TcpFlags::RST)];
            match op {
                5 if n % 4 == 0 => { t.expire(at(now), &mut out); }
                5 => { t.remove(&k); }
                _ => {
                    let p = pkt(at(now), d, flags[usize::from(op)].filter(|_| n % 3 != 0));
                    if t.get_or_insert(k, p, || 0, &mut out).unwrap().1 {
                        created += 1;
                    }
                }
            }
            check_invariants(&t);
        }
        let c = t.counters();
        proptest::prop_assert_eq!(c.flows_created, created);
        let left = t.len() as u64;
        t.drain_all(&mut out);
        let c = t.counters();
        proptest::prop_assert_eq!(
            c.flows_evicted + c.flows_expired + c.flows_closed + c.flows_reused,
            created
        );
        proptest::prop_assert!(left <= 16);
        check_invariants(&t);
    }
}
