//! DNS on the worker, on messages shaped like the generated mix's (a query for a
//! three-label name; a response with a CNAME and four A records, compressed names):
//!
//! - `dns/parse_response`: `Message::parse` plus a walk of every question and record;
//! - `dns/transaction`: `DnsState::on_message` for the query then the response, which
//!   matches them and yields one `DnsTransaction` (names and answers as text): the
//!   whole per-lookup cost before the event.

#[path = "../examples/gen_bench_pcap/mix.rs"]
mod mix;

use std::hint::black_box;
use std::net::{Ipv4Addr, SocketAddr};

use c2tap::flow::Transport;
use c2tap::proto::dns::{DnsConfig, DnsPacket, DnsState, Message};
use c2tap::time::{Duration, Timestamp};
use criterion::{Criterion, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    // A seed whose response has a CNAME and several addresses.
    let mut rng = mix::Rng::new(5);
    let (query, response) = loop {
        let id = rng.next() as u16;
        let q = mix::dns_query(id, "assets.edge.contoso.com", 1);
        let r = mix::dns_response(&mut rng, id, "assets.edge.contoso.com", 1);
        let msg = Message::parse(&r).expect("response");
        if msg.records().count() >= 4 {
            break (q, r);
        }
    };

    let mut g = c.benchmark_group("dns");
    g.bench_function("parse_response", |b| {
        b.iter(|| {
            let m = Message::parse(black_box(&response)).expect("parse");
            m.questions().count() + m.records().filter(|r| r.is_ok()).count()
        })
    });
    let client = SocketAddr::from((Ipv4Addr::new(10, 0, 0, 7), 40000));
    let server = SocketAddr::from((Ipv4Addr::new(10, 0, 0, 53), 53));
    let q = DnsPacket {
        flow_id: 1,
        transport: Transport::Udp,
        src: client,
        dst: server,
    };
    let r = DnsPacket {
        src: server,
        dst: client,
        ..q
    };
    g.bench_function("transaction", |b| {
        let mut state = DnsState::new(DnsConfig::default());
        let mut out = Vec::new();
        let mut t = Timestamp::from_secs(1_795_000_000);
        b.iter(|| {
            t = t.saturating_add(Duration::from_millis(1));
            let _ = state.on_message(&q, t, black_box(&query), &mut out);
            let _ = state.on_message(&r, t, black_box(&response), &mut out);
            let n = out.len();
            out.clear();
            n
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
