//! QUIC Initial handling on packets built here: a real ClientHello (made by rustls'
//! QUIC client, SNI `quic.cftunnel.com`, ALPN `argotunnel` as Cloudflare's tunnel client
//! sends) scattered over many CRYPTO frames in several Initials encrypted with a
//! client's `.local` keys, delivered in random order with duplicates; random bytes
//! that must never panic; and a flood of Initials with random DCIDs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::Arc;
use std::time::Instant;

use c2tap::proto::handshake::parse_client_hello;
use c2tap::proto::quic::{
    ClientHello, KeyVersion, MAX_AUTH_FAILURES, MAX_CRYPTO_BYTES, MAX_KEY_DERIVATIONS,
    QuicCounters, QuicHello, QuicProgress, QuicState, probe, seal_client_initial,
};
use proptest::prelude::*;

/// A ClientHello handshake message (header included) from rustls' QUIC client.
fn rustls_client_hello(version: rustls::quic::Version) -> Vec<u8> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    config.alpn_protocols = vec![b"argotunnel".to_vec()];
    // initial_max_data = 1 MiB, max_idle_timeout = 30 s (RFC 9000 §18.2).
    let params = vec![0x04, 0x04, 0x80, 0x10, 0x00, 0x00, 0x01, 0x02, 0x75, 0x30];
    let mut conn = rustls::quic::ClientConnection::new(
        Arc::new(config),
        version,
        "quic.cftunnel.com".try_into().unwrap(),
        params,
    )
    .unwrap();
    let mut hello = Vec::new();
    conn.write_hs(&mut hello);
    assert_eq!(hello[0], 1, "a ClientHello");
    hello
}

/// Small deterministic generator (xorshift64*), so failures replay.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i + 1));
        }
    }
}

fn crypto_frame(offset: usize, data: &[u8]) -> Vec<u8> {
    let mut f = vec![0x06];
    f.extend_from_slice(&(0x8000_0000u32 | offset as u32).to_be_bytes());
    f.extend_from_slice(&(0x4000u16 | data.len() as u16).to_be_bytes());
    f.extend_from_slice(data);
    f
}

/// Chrome's way: the hello cut into CRYPTO frames of 1–60 bytes, shuffled, spread
/// over `packets` Initials with PING and PADDING frames between them, each packet
/// padded to a 1200-byte datagram; then packets shuffled and some sent twice.
fn scatter(
    hello: &[u8],
    version: KeyVersion,
    dcid: &[u8],
    packets: usize,
    rng: &mut Rng,
) -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    let mut at = 0;
    while at < hello.len() {
        let n = (1 + rng.below(60)).min(hello.len() - at);
        frames.push(crypto_frame(at, &hello[at..at + n]));
        // A retransmitted frame inside the same flight, now and then.
        if rng.below(5) == 0 {
            frames.push(crypto_frame(at, &hello[at..at + n]));
        }
        at += n;
    }
    rng.shuffle(&mut frames);
    let mut payloads = vec![Vec::new(); packets];
    for f in frames {
        let p = &mut payloads[rng.below(packets)];
        if rng.below(3) == 0 {
            p.push(0x01); // PING
        }
        if rng.below(3) == 0 {
            p.extend_from_slice(&[0x00; 3]); // PADDING
        }
        p.extend_from_slice(&f);
    }
    let mut out: Vec<Vec<u8>> = payloads
        .iter()
        .enumerate()
        .map(|(pn, p)| seal_client_initial(version, dcid, &[9; 8], pn as u32, p, 1200).unwrap())
        .collect();
    for i in 0..out.len() {
        if rng.below(2) == 0 {
            out.push(out[i].clone());
        }
    }
    rng.shuffle(&mut out);
    out
}

fn run(datagrams: &[Vec<u8>], counters: &mut QuicCounters) -> QuicProgress {
    let mut state = QuicState::new();
    let mut last = QuicProgress::Handoff;
    for d in datagrams {
        match state.on_datagram(d, true, counters) {
            QuicProgress::Stopped => break,
            p => last = p,
        }
    }
    last
}

#[test]
fn scattered_out_of_order_hello_is_reassembled() {
    for (version, kv, wire) in [
        (rustls::quic::Version::V1, KeyVersion::V1, 1u32),
        (rustls::quic::Version::V2, KeyVersion::V2, 0x6b33_43cf),
    ] {
        let hello = rustls_client_hello(version);
        let expected = parse_client_hello(&hello).unwrap();
        assert_eq!(expected.sni.as_deref(), Some(&b"quic.cftunnel.com"[..]));
        for seed in 1..=40u64 {
            let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            let packets = 2 + rng.below(4);
            let dgrams = scatter(&hello, kv, &[seed as u8; 8], packets, &mut rng);
            let mut c = QuicCounters::default();
            match run(&dgrams, &mut c) {
                QuicProgress::Done(QuicHello {
                    hello: ClientHello::Tls(facts),
                    version,
                }) => {
                    assert_eq!(*facts, expected, "seed {seed}");
                    assert_eq!(facts.alpn, vec![b"argotunnel".to_vec()]);
                    assert_eq!(version, wire);
                }
                other => panic!("seed {seed}: {other:?} {c:?}"),
            }
            assert_eq!(c.hellos, 1);
            assert_eq!(c.keys_derived, 1, "keys derived once per DCID");
            assert_eq!(c.crypto_bytes, (hello.len() - 4 + 4) as u64);
            assert_eq!(c.auth_failures, 0);
        }
    }
}

/// A hello missing one byte in the middle never completes, whatever else arrives.
#[test]
fn a_gap_is_never_papered_over() {
    let hello = rustls_client_hello(rustls::quic::Version::V1);
    let mid = hello.len() / 2;
    let a = seal_client_initial(
        KeyVersion::V1,
        &[1; 8],
        &[],
        0,
        &crypto_frame(0, &hello[..mid]),
        1200,
    )
    .unwrap();
    let b = seal_client_initial(
        KeyVersion::V1,
        &[1; 8],
        &[],
        1,
        &crypto_frame(mid + 1, &hello[mid + 1..]),
        1200,
    )
    .unwrap();
    let mut c = QuicCounters::default();
    let mut s = QuicState::new();
    for d in [&a, &b, &a, &b] {
        assert_eq!(s.on_datagram(d, true, &mut c), QuicProgress::NeedMore);
    }
    assert_eq!(c.hellos, 0);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1400), from_client in any::<bool>()) {
        let _ = probe(&bytes);
        let mut c = QuicCounters::default();
        let mut s = QuicState::new();
        let _ = s.on_datagram(&bytes, from_client, &mut c);
        let _ = s.on_datagram(&bytes, true, &mut c);
    }

    /// Random bytes behind a valid-looking Initial header of a known version, in a
    /// 1200-byte datagram: header parsing, key derivation and authentication all run.
    #[test]
    fn random_initials_never_panic(
        dcid in proptest::collection::vec(any::<u8>(), 0..=20),
        body in proptest::collection::vec(any::<u8>(), 0..1300),
        first in 0xc0u8..=0xff,
        v2 in any::<bool>(),
    ) {
        let version: u32 = if v2 { 0x6b33_43cf } else { 1 };
        let mut d = vec![first];
        d.extend_from_slice(&version.to_be_bytes());
        d.push(dcid.len() as u8);
        d.extend_from_slice(&dcid);
        d.extend_from_slice(&[0, 0]);
        let len = body.len().min(0x3fff) as u16;
        d.extend_from_slice(&(0x4000 | len).to_be_bytes());
        d.extend_from_slice(&body);
        d.resize(d.len().max(1200), 0);
        let mut c = QuicCounters::default();
        let _ = QuicState::new().on_datagram(&d, true, &mut c);
    }

    /// Decrypted garbage: random plaintext frames inside a correctly protected Initial.
    #[test]
    fn random_plaintext_never_panics(frames in proptest::collection::vec(any::<u8>(), 1..1100)) {
        let d = seal_client_initial(KeyVersion::V1, &[5; 8], &[], 0, &frames, 1200).unwrap();
        let mut c = QuicCounters::default();
        let _ = QuicState::new().on_datagram(&d, true, &mut c);
        prop_assert_eq!(c.decrypted, 1);
    }
}

/// 50,000 client Initials with random DCIDs: half garbage that fails authentication,
/// half correctly protected Initials each holding the first 100 bytes of a hello (so
/// that a state keeps keys and CRYPTO bytes). Once as 50,000 flows (memory per flow
/// bounded), once as one flow (the caps stop the work).
#[test]
fn flood_of_random_dcid_initials() {
    const N: usize = 50_000;
    let hello = rustls_client_hello(rustls::quic::Version::V1);
    let mut rng = Rng(0x5eed);
    let mut dgrams = Vec::with_capacity(N);
    for i in 0..N {
        let dcid: Vec<u8> = (0..8).map(|_| rng.next() as u8).collect();
        if i % 2 == 0 {
            let mut d = vec![0xc3, 0, 0, 0, 1, 8];
            d.extend_from_slice(&dcid);
            d.extend_from_slice(&[0, 0, 0x44, 0x9e]);
            d.extend((0..1182).map(|_| rng.next() as u8));
            dgrams.push(d);
        } else {
            let frame = crypto_frame(0, &hello[..100]);
            dgrams.push(seal_client_initial(KeyVersion::V1, &dcid, &[], 0, &frame, 1200).unwrap());
        }
    }

    let start = Instant::now();
    let mut c = QuicCounters::default();
    let mut states: Vec<QuicState> = Vec::with_capacity(N);
    for d in &dgrams {
        let mut s = QuicState::new();
        assert!(matches!(
            s.on_datagram(d, true, &mut c),
            QuicProgress::NeedMore
        ));
        states.push(s);
    }
    let secs = start.elapsed().as_secs_f64();
    let retained: usize = states.iter().map(QuicState::retained_bytes).sum();
    let max_one = states.iter().map(QuicState::retained_bytes).max().unwrap();
    println!(
        "flood, one Initial per flow: {N} datagrams in {secs:.2} s = {:.0} packets/s \
         (this build); {} key sets derived; retained ~{} KiB in total, at most {max_one} \
         bytes per flow; {c:?}",
        N as f64 / secs,
        c.keys_derived,
        retained / 1024,
    );
    assert_eq!(c.keys_derived, N as u64);
    assert_eq!((c.decrypted, c.auth_failures), (N as u64 / 2, N as u64 / 2));
    assert!(max_one <= MAX_CRYPTO_BYTES + 1024);
    drop(states);

    // The same datagrams as one flow: the caps end it after a handful of derivations.
    let start = Instant::now();
    let mut c = QuicCounters::default();
    let mut s = QuicState::new();
    let mut finished_at = None;
    for (i, d) in dgrams.iter().enumerate() {
        if s.on_datagram(d, true, &mut c) == QuicProgress::Stopped {
            finished_at.get_or_insert(i);
        }
    }
    println!(
        "flood, one flow: {N} datagrams in {:.3} s; finished after {:?} datagrams; {c:?}",
        start.elapsed().as_secs_f64(),
        finished_at
    );
    assert!(c.keys_derived <= u64::from(MAX_KEY_DERIVATIONS));
    assert!(c.auth_failures <= u64::from(MAX_AUTH_FAILURES));
    assert!(finished_at.is_some_and(|i| i < 16));
}
