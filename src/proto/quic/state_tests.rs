//! Tests of [`QuicState`](super::QuicState): the RFC 9001 §A.2 and RFC 9369 §A.2
//! client Initials decrypted exactly, coalesced packets, a flipped byte, Retry and
//! DCID changes, the caps.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::arithmetic_side_effects
)]
use super::*;
use crate::proto::quic::keys::seal_client_initial;
use crate::proto::quic::parse::{VERSION_1, VERSION_2};
use crate::proto::quic::testdata::{
    A2_CRYPTO_FRAME, DCID, RFC9001_A2_PACKET, RFC9369_A2_PACKET, unhex,
};

fn done(p: QuicProgress) -> (Box<HandshakeFacts>, u32) {
    match p {
        QuicProgress::Done(QuicHello {
            hello: ClientHello::Tls(facts),
            version,
        }) => (facts, version),
        other => panic!("expected a TLS Done, got {other:?}"),
    }
}

/// The ClientHello of RFC 9001 §A.2 (the CRYPTO frame without its 4-byte header).
fn a2_hello() -> Vec<u8> {
    unhex(A2_CRYPTO_FRAME)[4..].to_vec()
}

#[test]
fn rfc9001_a2_decrypts_exactly() {
    let packet = unhex(RFC9001_A2_PACKET);
    assert_eq!(packet.len(), 1200);
    let hdr = long_header(&packet).unwrap();
    assert_eq!(hdr.dcid, unhex(DCID).as_slice());
    let keys = ClientInitialKeys::derive(KeyVersion::V1, hdr.dcid).unwrap();
    let mut buf = packet.clone();
    let (pn, range) = keys.open(&hdr, &mut buf).unwrap();
    assert_eq!(pn, 2);
    // RFC 9001 §A.2: the unprotected header and the 1162-byte payload (the CRYPTO
    // frame, then PADDING).
    assert_eq!(
        buf[..range.start],
        unhex("c300000001088394c8f03e5157080000449e00000002")
    );
    let plain = &buf[range];
    assert_eq!(plain.len(), 1162);
    let frame = unhex(A2_CRYPTO_FRAME);
    assert_eq!(&plain[..frame.len()], frame.as_slice());
    assert!(plain[frame.len()..].iter().all(|&b| b == 0));

    let mut state = QuicState::new();
    let mut c = QuicCounters::default();
    let (facts, version) = done(state.on_datagram(&packet, true, &mut c));
    assert_eq!(version, VERSION_1);
    assert_eq!(facts.sni.as_deref(), Some(&b"example.com"[..]));
    assert_eq!(facts.alpn, vec![b"alpn".to_vec()]);
    assert!(!facts.partial);
    assert_eq!(
        *facts,
        crate::proto::handshake::parse_client_hello(&a2_hello()).unwrap()
    );
    assert_eq!(
        (
            c.initials_seen,
            c.decrypted,
            c.keys_derived,
            c.hellos,
            c.crypto_bytes
        ),
        (1, 1, 1, 1, 245 - 4)
    );
    assert_eq!(
        state.on_datagram(&packet, true, &mut c),
        QuicProgress::Stopped
    );
    assert_eq!(state.retained_bytes(), 0);
}

#[test]
fn rfc9369_a2_v2_decrypts_exactly() {
    let packet = unhex(RFC9369_A2_PACKET);
    let hdr = long_header(&packet).unwrap();
    assert_eq!(hdr.packet_type, PacketType::Initial);
    let keys = ClientInitialKeys::derive(KeyVersion::V2, hdr.dcid).unwrap();
    let mut buf = packet.clone();
    let (pn, range) = keys.open(&hdr, &mut buf).unwrap();
    assert_eq!(pn, 2);
    assert_eq!(
        buf[..range.start],
        unhex("d36b3343cf088394c8f03e5157080000449e00000002")
    );
    let frame = unhex(A2_CRYPTO_FRAME);
    assert_eq!(
        &buf[range.start..range.start + frame.len()],
        frame.as_slice()
    );

    let mut c = QuicCounters::default();
    let (facts, version) = done(QuicState::new().on_datagram(&packet, true, &mut c));
    assert_eq!(version, VERSION_2);
    assert_eq!(facts.sni.as_deref(), Some(&b"example.com"[..]));
}

#[test]
fn v1_keys_do_not_open_v2() {
    let packet = unhex(RFC9369_A2_PACKET);
    let hdr = long_header(&packet).unwrap();
    let keys = ClientInitialKeys::derive(KeyVersion::V1, hdr.dcid).unwrap();
    let mut buf = packet.clone();
    assert_eq!(keys.open(&hdr, &mut buf), Err(QuicError::Auth));
}

#[test]
fn one_flipped_byte_fails_authentication() {
    for at in [30, 600, 1199] {
        let mut packet = unhex(RFC9001_A2_PACKET);
        packet[at] ^= 0x01;
        let mut state = QuicState::new();
        let mut c = QuicCounters::default();
        assert_eq!(
            state.on_datagram(&packet, true, &mut c),
            QuicProgress::NeedMore
        );
        assert_eq!((c.auth_failures, c.decrypted, c.hellos), (1, 0, 0));
        // The good packet still decrypts with the cached keys.
        let good = unhex(RFC9001_A2_PACKET);
        done(state.on_datagram(&good, true, &mut c));
        assert_eq!(c.keys_derived, 1);
    }
}

#[test]
fn failures_are_capped() {
    let mut packet = unhex(RFC9001_A2_PACKET);
    packet[700] ^= 0xff;
    let mut state = QuicState::new();
    let mut c = QuicCounters::default();
    for _ in 1..MAX_AUTH_FAILURES {
        assert_eq!(
            state.on_datagram(&packet, true, &mut c),
            QuicProgress::NeedMore
        );
    }
    assert_eq!(
        state.on_datagram(&packet, true, &mut c),
        QuicProgress::Invalid(HelloLost)
    );
    assert_eq!(
        state.on_datagram(&packet, true, &mut c),
        QuicProgress::Stopped
    );
    assert_eq!((c.capped, c.keys_derived), (1, 1));
}

/// The RFC packet followed by a second Initial (same DCID) that carries nothing new,
/// and a 0-RTT-typed packet that is skipped; then the reverse order.
#[test]
fn coalesced_packets() {
    let rfc = unhex(RFC9001_A2_PACKET);
    let dcid = unhex(DCID);
    let second = seal_client_initial(KeyVersion::V1, &dcid, &[], 3, &[0x01], 0).unwrap();
    // A 0-RTT long header (type 1) with a 20-byte body.
    let mut zero_rtt = vec![0xd0, 0, 0, 0, 1, 8];
    zero_rtt.extend_from_slice(&dcid);
    zero_rtt.extend_from_slice(&[0, 0x14]);
    zero_rtt.extend_from_slice(&[0xab; 20]);

    let mut dgram = second.clone();
    dgram.extend_from_slice(&zero_rtt);
    dgram.extend_from_slice(&rfc);
    let mut c = QuicCounters::default();
    let (facts, _) = done(QuicState::new().on_datagram(&dgram, true, &mut c));
    assert_eq!(facts.sni.as_deref(), Some(&b"example.com"[..]));
    assert_eq!((c.initials_seen, c.decrypted, c.skipped_packets), (2, 2, 1));

    // A coalesced packet with another DCID is ignored (RFC 9000 §12.2).
    let other = seal_client_initial(KeyVersion::V1, &[7; 8], &[], 0, &[0x01], 0).unwrap();
    let mut dgram = other;
    dgram.extend_from_slice(&rfc);
    let mut c = QuicCounters::default();
    assert_eq!(
        QuicState::new().on_datagram(&dgram, true, &mut c),
        QuicProgress::NeedMore
    );
    assert_eq!(c.skipped_packets, 1);
}

fn crypto_frame(offset: u64, data: &[u8]) -> Vec<u8> {
    let mut f = vec![0x06];
    f.extend_from_slice(&(0x8000_0000u32 | offset as u32).to_be_bytes());
    f.extend_from_slice(&(0x4000u16 | data.len() as u16).to_be_bytes());
    f.extend_from_slice(data);
    f
}

/// Retry: the first Initial (DCID A) carries the first half of the hello, the
/// server's Retry is seen, the client starts over under DCID B (new keys) and
/// sends the whole hello in two packets.
#[test]
fn retry_changes_dcid_and_keys() {
    let hello = a2_hello();
    let (a, b) = (vec![0xaa; 8], vec![0xbb; 16]);
    let first = seal_client_initial(
        KeyVersion::V1,
        &a,
        &[1; 4],
        0,
        &crypto_frame(0, &hello[..100]),
        1200,
    )
    .unwrap();
    let mut retry = vec![0xf0, 0, 0, 0, 1, 4, 1, 1, 1, 1, 16];
    retry.extend_from_slice(&b);
    retry.extend_from_slice(b"token");
    retry.extend_from_slice(&[0x5a; 16]);
    let p1 = seal_client_initial(
        KeyVersion::V1,
        &b,
        &[1; 4],
        1,
        &crypto_frame(100, &hello[100..]),
        1200,
    )
    .unwrap();
    let p2 = seal_client_initial(
        KeyVersion::V1,
        &b,
        &[1; 4],
        2,
        &crypto_frame(0, &hello[..100]),
        1200,
    )
    .unwrap();
    let mut state = QuicState::new();
    let mut c = QuicCounters::default();
    assert_eq!(
        state.on_datagram(&first, true, &mut c),
        QuicProgress::NeedMore
    );
    assert_eq!(
        state.on_datagram(&retry, false, &mut c),
        QuicProgress::NeedMore
    );
    // The resent first part is already held (same hello, RFC 9000 §17.2.5.2)...
    assert_eq!(state.on_datagram(&p2, true, &mut c), QuicProgress::NeedMore);
    // ...and the rest, under B's keys, completes it.
    let (facts, _) = done(state.on_datagram(&p1, true, &mut c));
    assert_eq!(facts.sni.as_deref(), Some(&b"example.com"[..]));
    // A's keys, then B's keys (tried after A's failed on p1).
    assert_eq!((c.keys_derived, c.retries, c.auth_failures), (2, 1, 0));
}

/// After the server's first Initial the client sends under the server's connection
/// ID, still with the keys of its original DCID (RFC 9001 §5.2).
#[test]
fn new_dcid_without_retry_keeps_original_keys() {
    let hello = a2_hello();
    let a = vec![0xaa; 8];
    let first = seal_client_initial(
        KeyVersion::V1,
        &a,
        &[],
        0,
        &crypto_frame(0, &hello[..50]),
        1200,
    )
    .unwrap();
    // Under the server's CID 0xcc.., protected with A's keys.
    let second = seal_with_key_dcid(&a, &[0xcc; 8], 1, &crypto_frame(50, &hello[50..]));
    let mut state = QuicState::new();
    let mut c = QuicCounters::default();
    assert_eq!(
        state.on_datagram(&first, true, &mut c),
        QuicProgress::NeedMore
    );
    done(state.on_datagram(&second, true, &mut c));
    assert_eq!(c.keys_derived, 1);
}

/// A client Initial protected with the keys of `key_dcid` but carrying `dcid`.
fn seal_with_key_dcid(key_dcid: &[u8], dcid: &[u8], pn: u32, frames: &[u8]) -> Vec<u8> {
    use rustls::Side;
    let suite = rustls::crypto::ring::cipher_suite::TLS13_AES_128_GCM_SHA256
        .tls13()
        .unwrap()
        .quic_suite()
        .unwrap();
    let keys = suite
        .keys(key_dcid, Side::Client, rustls::quic::Version::V1)
        .local;
    let mut payload = frames.to_vec();
    // 18-byte header, 4-byte packet number, 16-byte tag: a 1200-byte datagram.
    payload.resize(1200 - 38, 0);
    let mut p = vec![0xc3, 0, 0, 0, 1, dcid.len() as u8];
    p.extend_from_slice(dcid);
    p.extend_from_slice(&[0, 0]);
    let length = 4 + payload.len() + 16;
    p.extend_from_slice(&(0x4000u16 | length as u16).to_be_bytes());
    let pn_at = p.len();
    p.extend_from_slice(&pn.to_be_bytes());
    let hlen = p.len();
    p.extend_from_slice(&payload);
    let (h, body) = p.split_at_mut(hlen);
    let tag = keys.packet.encrypt_in_place(pn.into(), h, body).unwrap();
    p.extend_from_slice(tag.as_ref());
    let sample = p[pn_at + 4..pn_at + 20].to_vec();
    let (first, rest) = p.split_at_mut(1);
    keys.header
        .encrypt_in_place(&sample, &mut first[0], &mut rest[pn_at - 1..pn_at + 3])
        .unwrap();
    p
}

#[test]
fn short_datagram_initials_are_not_decrypted() {
    let pkt = seal_client_initial(
        KeyVersion::V1,
        &[1; 8],
        &[],
        0,
        &crypto_frame(0, &a2_hello()),
        0,
    )
    .unwrap();
    assert!(pkt.len() < MIN_CLIENT_INITIAL_DATAGRAM);
    let mut c = QuicCounters::default();
    assert_eq!(
        QuicState::new().on_datagram(&pkt, true, &mut c),
        QuicProgress::NeedMore
    );
    assert_eq!((c.short_initials, c.keys_derived), (1, 0));
}

#[test]
fn forbidden_frame_stops_the_packet_but_keeps_what_came_before() {
    let hello = a2_hello();
    let mut frames = crypto_frame(0, &hello);
    frames.extend_from_slice(&[0x08, 0x00, 0x00]); // STREAM: not allowed
    let pkt = seal_client_initial(KeyVersion::V1, &[1; 8], &[], 0, &frames, 1200).unwrap();
    let mut c = QuicCounters::default();
    done(QuicState::new().on_datagram(&pkt, true, &mut c));
    assert_eq!(c.frame_violations, 1);
}

#[test]
fn not_quic_and_old_drafts() {
    let mut c = QuicCounters::default();
    let dns = [0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0];
    assert_eq!(
        QuicState::new().on_datagram(&dns, true, &mut c),
        QuicProgress::Handoff
    );
    // Draft-26: QUIC, but older than the drafts whose keys c2tap derives (27 on).
    let mut draft26 = unhex(RFC9001_A2_PACKET);
    draft26[1..5].copy_from_slice(&0xff00_001au32.to_be_bytes());
    assert_eq!(
        QuicState::new().on_datagram(&draft26, true, &mut c),
        QuicProgress::Invalid(HelloLost)
    );
    assert_eq!(
        (c.not_quic, c.unsupported_versions, c.keys_derived),
        (1, 1, 0)
    );
}

#[test]
fn not_a_client_hello_fails_once() {
    let frames = crypto_frame(0, &[2, 0, 0, 4, 1, 2, 3, 4]);
    let pkt = seal_client_initial(KeyVersion::V1, &[1; 8], &[], 0, &frames, 1200).unwrap();
    let mut c = QuicCounters::default();
    let mut s = QuicState::new();
    assert_eq!(
        s.on_datagram(&pkt, true, &mut c),
        QuicProgress::Invalid(HelloLost)
    );
    assert_eq!(c.hello_errors, 1);
    // Known at the first byte, without waiting for the claimed 16 MB.
    let frames = crypto_frame(0, &[2, 0xff, 0xff, 0xff, 0]);
    let pkt = seal_client_initial(KeyVersion::V1, &[1; 8], &[], 0, &frames, 1200).unwrap();
    assert_eq!(
        QuicState::new().on_datagram(&pkt, true, &mut c),
        QuicProgress::Invalid(HelloLost)
    );
    assert_eq!(c.hello_errors, 2);
}

#[test]
fn draft_29_uses_the_draft_salt() {
    let pkt = seal_client_initial(
        KeyVersion::Draft,
        &[3; 8],
        &[],
        0,
        &crypto_frame(0, &a2_hello()),
        1200,
    )
    .unwrap();
    let mut c = QuicCounters::default();
    let (_, version) = done(QuicState::new().on_datagram(&pkt, true, &mut c));
    assert_eq!(version, 0xff00_001d);
}

/// Google's frames of a Q050 Initial: CRYPTO (0x08, varint offset and length) of `data`.
fn google_crypto(offset: u16, data: &[u8]) -> Vec<u8> {
    let mut f = vec![0x08];
    f.extend_from_slice(&(0x4000 | offset).to_be_bytes());
    f.extend_from_slice(&(0x4000 | data.len() as u16).to_be_bytes());
    f.extend_from_slice(data);
    f
}

fn q050_chlo() -> Vec<u8> {
    crate::proto::quic::chlo::build_chlo(&[
        (*b"SNI\0", b"www.example.org"),
        (*b"UAID", b"Chrome/80.0.3987.163 Linux x86_64"),
        (*b"VER\0", b"Q050"),
        (*b"PAD\0", &[b'-'; 400]),
    ])
}

#[test]
fn q050_chlo_in_two_initials_out_of_order() {
    let chlo = q050_chlo();
    let dcid = [0x51; 8];
    let (a, b) = chlo.split_at(300);
    let second = seal_client_initial(
        KeyVersion::Q050,
        &dcid,
        &[],
        2,
        &google_crypto(300, b),
        1200,
    )
    .unwrap();
    let first =
        seal_client_initial(KeyVersion::Q050, &dcid, &[], 1, &google_crypto(0, a), 1200).unwrap();
    let mut c = QuicCounters::default();
    let mut st = QuicState::new();
    assert_eq!(
        st.on_datagram(&second, true, &mut c),
        QuicProgress::NeedMore
    );
    match st.on_datagram(&first, true, &mut c) {
        QuicProgress::Done(QuicHello {
            hello: ClientHello::Chlo(f),
            version,
        }) => {
            assert_eq!(version, 0x5130_3530);
            assert_eq!(f.sni.as_deref(), Some(&b"www.example.org"[..]));
            assert_eq!(f.versions, vec![*b"Q050"]);
        }
        other => panic!("expected a CHLO, got {other:?}"),
    }
    assert_eq!((c.decrypted, c.hellos, c.hello_errors), (2, 1, 0));
}

#[test]
fn q050_stream_that_is_not_a_chlo_is_a_hello_error() {
    let dcid = [0x52; 8];
    // A TLS ClientHello in a Q050 Initial is not what Q050 carries.
    let p = seal_client_initial(
        KeyVersion::Q050,
        &dcid,
        &[],
        0,
        &google_crypto(0, &a2_hello()),
        1200,
    )
    .unwrap();
    let mut c = QuicCounters::default();
    assert_eq!(
        QuicState::new().on_datagram(&p, true, &mut c),
        QuicProgress::Invalid(HelloLost)
    );
    assert_eq!((c.hellos, c.hello_errors), (0, 1));
    // A CHLO whose tags are out of order, whole in one packet.
    let mut bad = q050_chlo();
    let (t1, t2) = (bad[8..12].to_vec(), bad[16..20].to_vec());
    bad[8..12].copy_from_slice(&t2);
    bad[16..20].copy_from_slice(&t1);
    let p = seal_client_initial(
        KeyVersion::Q050,
        &dcid,
        &[],
        0,
        &google_crypto(0, &bad),
        1200,
    )
    .unwrap();
    assert_eq!(
        QuicState::new().on_datagram(&p, true, &mut c),
        QuicProgress::Invalid(HelloLost)
    );
    assert_eq!(c.hello_errors, 2);
    // Sealed under T051's keys with a Q050 version: authentication fails, no hello.
    let mut t = seal_client_initial(
        KeyVersion::T051,
        &dcid,
        &[],
        0,
        &google_crypto(0, &q050_chlo()),
        1200,
    )
    .unwrap();
    t[1..5].copy_from_slice(&0x5130_3530u32.to_be_bytes());
    assert_eq!(
        QuicState::new().on_datagram(&t, true, &mut c),
        QuicProgress::NeedMore
    );
    assert_eq!(c.auth_failures, 1);
}
