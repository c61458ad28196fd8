//! QUIC Initial cost on the worker: client Initial key derivation per DCID (rustls'
//! key schedule), unprotecting one 1200-byte Initial with cached keys, a whole
//! Initial to facts (derive + decrypt + frames + ClientHello), and `probe` on a DNS
//! query (what every non-QUIC UDP datagram pays). The Initial carries a ClientHello
//! made by rustls' QUIC client (SNI `quic.cftunnel.com`, ALPN `argotunnel`).

use std::hint::black_box;
use std::sync::Arc;

use c2tap::proto::quic::parse::long_header;
use c2tap::proto::quic::{
    ClientInitialKeys, KeyVersion, QuicCounters, QuicProgress, QuicState, probe,
    seal_client_initial,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn client_hello() -> Vec<u8> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("TLS 1.3")
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    config.alpn_protocols = vec![b"argotunnel".to_vec()];
    let mut conn = rustls::quic::ClientConnection::new(
        Arc::new(config),
        rustls::quic::Version::V1,
        "quic.cftunnel.com".try_into().expect("name"),
        vec![0x01, 0x02, 0x75, 0x30],
    )
    .expect("client");
    let mut hello = Vec::new();
    conn.write_hs(&mut hello);
    hello
}

fn bench(c: &mut Criterion) {
    let dcid = [0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08];
    let hello = client_hello();
    let mut frame = vec![0x06, 0x00];
    frame.extend_from_slice(&(0x4000u16 | hello.len() as u16).to_be_bytes());
    frame.extend_from_slice(&hello);
    let packet =
        seal_client_initial(KeyVersion::V1, &dcid, &[1; 8], 0, &frame, 1200).expect("seal");
    let dns = [
        0xc0, 0xde, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 7, b'e', b'x', b'a', b'm', b'p',
        b'l', b'e', 3, b'c', b'o', b'm', 0, 0, 1, 0, 1,
    ];

    let mut g = c.benchmark_group("quic");
    g.bench_function("derive_client_initial_keys", |b| {
        b.iter(|| ClientInitialKeys::derive(KeyVersion::V1, black_box(&dcid)))
    });
    g.throughput(Throughput::Bytes(packet.len() as u64));
    let keys = ClientInitialKeys::derive(KeyVersion::V1, &dcid).expect("keys");
    let hdr = long_header(&packet).expect("header");
    g.bench_function("open_initial_cached_keys", |b| {
        let mut buf = packet.clone();
        b.iter(|| {
            buf.copy_from_slice(&packet);
            keys.open(black_box(&hdr), &mut buf).map(|(pn, _)| pn)
        })
    });
    g.bench_function("initial_to_facts", |b| {
        b.iter(|| {
            let mut counters = QuicCounters::default();
            let mut state = QuicState::new();
            let p = state.on_datagram(black_box(&packet), true, &mut counters);
            assert!(matches!(p, QuicProgress::Done(_)));
            p
        })
    });
    g.throughput(Throughput::Elements(1));
    g.bench_function("probe_dns_query", |b| b.iter(|| probe(black_box(&dns))));
    g.bench_function("probe_initial", |b| b.iter(|| probe(black_box(&packet))));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
