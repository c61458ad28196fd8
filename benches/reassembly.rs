//! Reassembly and flow-table costs on the worker's hot path.
//!
//! - `reassembly/client_hello_2seg_ooo`: a 2 KiB ClientHello split into two segments
//!   delivered out of order (second first), read and consumed: the per-flow cost of
//!   the common "handshake in two segments" case including the out-of-order path.
//! - `flow_table/lookup_100k`: one lookup of an existing flow in a table of 100 000.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

use c2tap::flow::{
    Direction, FlowKey, FlowTable, PacketSeen, StreamReassembler, TcpFlags, Timeouts, Transport,
};
use c2tap::time::Timestamp;
use criterion::{Criterion, criterion_group, criterion_main};

fn client_hello() -> Vec<u8> {
    let mut ch = vec![0x16, 0x03, 0x01, 0x07, 0xfb];
    ch.extend((0..2043u32).map(|i| (i % 251) as u8));
    ch
}

fn reassembly(c: &mut Criterion) {
    let ch = client_hello();
    let (first, second) = ch.split_at(1448);
    let isn = 0xfff0_0000u32;
    c.bench_function("reassembly/client_hello_2seg_ooo", |b| {
        b.iter(|| {
            let mut s = StreamReassembler::new();
            s.push(isn, b"", true, false);
            s.push(
                isn.wrapping_add(1 + first.len() as u32),
                black_box(second),
                false,
                false,
            );
            s.push(isn.wrapping_add(1), black_box(first), false, false);
            let n = s.readable().len();
            s.consume(n);
            black_box(n)
        })
    });
}

fn flow_table(c: &mut Criterion) {
    const FLOWS: u32 = 100_000;
    let mut t: FlowTable<u64> = FlowTable::new(0, 1 << 17, Timeouts::default());
    let mut ev = Vec::new();
    let server = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    let keys: Vec<(FlowKey, Direction)> = (0..FLOWS)
        .map(|n| {
            let client = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | (n >> 8)));
            FlowKey::new(
                Transport::Tcp,
                client,
                1024 + (n & 0xff) as u16,
                server,
                443,
            )
        })
        .collect();
    for (i, &(k, d)) in keys.iter().enumerate() {
        let p = PacketSeen {
            wire: 0,
            now: Timestamp(i as i64),
            dir: d,
            bytes: 0,
            tcp_flags: Some(TcpFlags(TcpFlags::SYN)),
        };
        t.get_or_insert(k, p, || 0, &mut ev);
    }
    let mut i = 0usize;
    let mut now = i64::from(FLOWS);
    c.bench_function("flow_table/lookup_100k", |b| {
        b.iter(|| {
            // A stride that is coprime with the table size visits every flow.
            i = (i + 7919) % keys.len();
            now += 1;
            let (k, d) = keys[i];
            let p = PacketSeen {
                wire: 0,
                now: Timestamp(now),
                dir: d,
                bytes: 100,
                tcp_flags: Some(TcpFlags(TcpFlags::ACK)),
            };
            let (e, new) = t
                .get_or_insert(black_box(k), p, || 0, &mut ev)
                .unwrap_or_else(|| unreachable!());
            e.state += 1;
            black_box(new)
        })
    });
    assert!(ev.is_empty());
}

criterion_group!(benches, reassembly, flow_table);
criterion_main!(benches);
