//! Capture-thread and worker front end on the generated mix (the frames of a 4 MB
//! `make bench-pcap`-style capture: Ethernet, some 802.1Q, IPv4/IPv6, TCP/UDP):
//!
//! - `decode/mix`: `Decoder::decode` of every frame (link, VLAN, IP, transport views);
//! - `dispatch/mix`: `dispatch_hash`, what the capture thread pays per frame to pick a
//!   worker.
//!
//! Throughput is in frames: criterion's elem/s over the frame count.

#[path = "../examples/gen_bench_pcap/mix.rs"]
mod mix;

use std::hint::black_box;

use c2tap::decode::{Decoder, DefragLimits, dispatch_hash};
use c2tap::time::Timestamp;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn frames() -> Vec<Vec<u8>> {
    let mut buf = Vec::new();
    mix::write_mix(&mut buf, 11, 4_000_000, 300, &mix::FULL).expect("mix");
    let mut out = Vec::new();
    let mut at = 24;
    while at + 16 <= buf.len() {
        let caplen = u32::from_le_bytes(buf[at + 8..at + 12].try_into().expect("4")) as usize;
        out.push(buf[at + 16..at + 16 + caplen].to_vec());
        at += 16 + caplen;
    }
    out
}

fn bench(c: &mut Criterion) {
    let frames = frames();
    let n = frames.len() as u64;
    let ts = Timestamp::from_secs(1_795_000_000);

    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(n));
    g.bench_function("mix", |b| {
        let mut d = Decoder::new(DefragLimits::default());
        b.iter(|| {
            let mut ok = 0u32;
            for f in &frames {
                if d.decode(1, ts, black_box(f)).is_ok() {
                    ok += 1;
                }
            }
            ok
        })
    });
    g.finish();

    let mut g = c.benchmark_group("dispatch");
    g.throughput(Throughput::Elements(n));
    g.bench_function("mix", |b| {
        b.iter(|| {
            let mut h = 0u64;
            for f in &frames {
                h ^= dispatch_hash(1, black_box(f));
            }
            h
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
