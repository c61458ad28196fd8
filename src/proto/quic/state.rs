//! Per-UDP-flow QUIC state: from the client's Initial packets to one set of
//! [`HandshakeFacts`].
//!
//! For each client datagram: walk the coalesced long-header packets (RFC 9000 §12.2),
//! skip 0-RTT and Handshake packets, and for each Initial: take the keys of its DCID
//! (cached; derived at most [`MAX_KEY_DERIVATIONS`] times per flow), remove header
//! protection, decrypt and authenticate, read its frames, and put CRYPTO frames into
//! the [`CryptoReassembly`]. When the ClientHello's bytes are contiguous,
//! `parse_client_hello` runs once and the flow is finished.
//!
//! Keys and DCIDs (RFC 9001 §5.2): Initial keys come from the DCID of the client's
//! first Initial, and stay the same when the client later switches to the server's
//! connection ID — except after a Retry, when they come from the DCID of the first
//! Initial that follows it (RFC 9000 §17.2.5.2). A sensor that missed the Retry cannot
//! tell these apart, so a packet under a new DCID is first tried with the cached keys
//! and only then with keys derived from its own DCID; whichever authenticates is kept.

use super::keys::ClientInitialKeys;
use super::parse::{
    Frame, Frames, KeyVersion, LongHeader, MAX_CID_LEN, PacketType, is_unreadable_ietf_draft,
    key_version, long_header, probe,
};
use super::reassembly::{CryptoReassembly, Insert};
use super::{QuicCounters, QuicError};
use crate::proto::handshake::{HandshakeFacts, parse_client_hello};

/// Smallest UDP payload that may carry a client Initial (RFC 9000 §14.1: "A client MUST
/// expand the payload of all UDP datagrams carrying Initial packets to at least 1200
/// bytes"). Smaller "Initials" are not decrypted (counted `short_initials`): every
/// client in the corpus complies, and the rule makes a flood of fake Initials, each
/// costing a key derivation, cost the sender 1200 bytes apiece.
pub const MIN_CLIENT_INITIAL_DATAGRAM: usize = 1200;

/// Failed authentications per flow before c2tap stops trying (counted `capped`). A real
/// client's Initials all authenticate under the first or the post-Retry keys; a few
/// failures cover a damaged capture, more mean the flow is not what it looks like.
pub const MAX_AUTH_FAILURES: u8 = 8;

/// Key derivations per flow: the first DCID, the DCID after a Retry, the DCID after a
/// version negotiation, and one to spare. Each costs ~microseconds (see the bench); the
/// cap keeps a flow of random-DCID Initials from costing more.
pub const MAX_KEY_DERIVATIONS: u8 = 4;

/// Long-header packets read per datagram. Clients coalesce at most Initial, 0-RTT and
/// Handshake (one per packet number space, RFC 9000 §12.2); 8 leaves room for odd
/// stacks while bounding the walk.
pub const MAX_PACKETS_PER_DATAGRAM: usize = 8;

/// Frames read per Initial packet (PADDING runs count once). A 1200-byte Initial from
/// Chrome has ~20–40; the cap bounds the work on a packet of 1-byte PINGs.
pub const MAX_FRAMES_PER_PACKET: usize = 1024;

/// Rough heap size of one set of client Initial keys (ring's AES-128-GCM and AES
/// header-protection key schedules behind two boxes); for memory accounting only.
pub const KEY_SET_BYTES: usize = 1024;

/// What one datagram did to the flow.
#[derive(Debug, PartialEq)]
pub enum QuicProgress {
    /// No QUIC long header of a version c2tap knows, and the flow has not shown one.
    NotQuic,
    /// QUIC; the ClientHello is not complete yet.
    NeedMore,
    /// The ClientHello, read once. `version`: the long-header version of the packet
    /// that completed it (as tshark reports it).
    Done {
        facts: Box<HandshakeFacts>,
        version: u32,
    },
    /// QUIC, but the hello cannot be had: a cap was reached, the CRYPTO stream is not a
    /// ClientHello, or the version's keys are unknown (drafts before 29). Reported once.
    Failed,
    /// The flow already returned `Done` or `Failed`; nothing more is read.
    Finished,
}

/// The keys of the connection's current DCID.
struct CachedKeys {
    version: KeyVersion,
    dcid: [u8; MAX_CID_LEN],
    dcid_len: u8,
    keys: ClientInitialKeys,
}

impl CachedKeys {
    fn dcid(&self) -> &[u8] {
        self.dcid.get(..usize::from(self.dcid_len)).unwrap_or(&[])
    }
}

/// QUIC state of one UDP flow (both directions; `from_client` tells them apart).
#[derive(Default)]
pub struct QuicState {
    keys: Option<CachedKeys>,
    crypto: CryptoReassembly,
    auth_failures: u8,
    derivations: u8,
    seen_quic: bool,
    finished: bool,
}

/// What reading one Initial packet gave.
enum Step {
    Continue,
    Done(Box<HandshakeFacts>),
    Failed,
}

impl QuicState {
    pub fn new() -> Self {
        Self::default()
    }

    /// Cheap test that a datagram starts with a QUIC long header c2tap can read (see
    /// [`probe`]); for deciding, on any UDP port, whether to create a `QuicState`.
    pub fn probe(payload: &[u8]) -> bool {
        probe(payload)
    }

    /// Bytes this state holds on the heap (CRYPTO pieces plus an estimate for keys).
    pub fn retained_bytes(&self) -> usize {
        let keys = if self.keys.is_some() {
            KEY_SET_BYTES
        } else {
            0
        };
        self.crypto.held().saturating_add(keys)
    }

    /// Reads one UDP payload of this flow.
    pub fn on_datagram(
        &mut self,
        payload: &[u8],
        from_client: bool,
        counters: &mut QuicCounters,
    ) -> QuicProgress {
        if self.finished {
            return QuicProgress::Finished;
        }
        if !from_client {
            return self.on_server_datagram(payload, counters);
        }
        let mut rest = payload;
        let mut first_dcid: Option<&[u8]> = None;
        for _ in 0..MAX_PACKETS_PER_DATAGRAM {
            if rest.is_empty() {
                break;
            }
            // A short header (always last, RFC 9000 §12.2), trailing zeros or garbage
            // end the walk.
            let Ok(hdr) = long_header(rest) else { break };
            let Some(kv) = key_version(hdr.version) else {
                if is_unreadable_ietf_draft(hdr.version) && !self.seen_quic {
                    counters.unsupported_versions = counters.unsupported_versions.saturating_add(1);
                    return self.finish(QuicProgress::Failed);
                }
                break;
            };
            self.seen_quic = true;
            let (packet, tail) = rest.split_at_checked(hdr.packet_len).unwrap_or((rest, &[]));
            rest = tail;
            // RFC 9000 §12.2: receivers SHOULD ignore coalesced packets whose DCID
            // differs from the first packet's.
            match first_dcid {
                None => first_dcid = Some(hdr.dcid),
                Some(d) if d != hdr.dcid => {
                    counters.skipped_packets = counters.skipped_packets.saturating_add(1);
                    continue;
                }
                Some(_) => {}
            }
            if hdr.packet_type != PacketType::Initial {
                counters.skipped_packets = counters.skipped_packets.saturating_add(1);
                continue;
            }
            match self.on_initial(&hdr, kv, packet, payload.len(), counters) {
                Step::Continue => {}
                Step::Done(facts) => {
                    return self.finish(QuicProgress::Done {
                        facts,
                        version: hdr.version,
                    });
                }
                Step::Failed => return self.finish(QuicProgress::Failed),
            }
        }
        if self.seen_quic {
            QuicProgress::NeedMore
        } else {
            counters.not_quic = counters.not_quic.saturating_add(1);
            QuicProgress::NotQuic
        }
    }

    /// Server datagrams carry nothing c2tap reads; a Retry is counted (the client's
    /// next Initial will bring new keys, handled by trying its DCID).
    fn on_server_datagram(&mut self, payload: &[u8], counters: &mut QuicCounters) -> QuicProgress {
        match long_header(payload) {
            Ok(h) if key_version(h.version).is_some() => {
                if h.packet_type == PacketType::Retry {
                    counters.retries = counters.retries.saturating_add(1);
                }
                self.seen_quic = true;
            }
            Err(QuicError::VersionNegotiation) if self.seen_quic => {}
            _ if self.seen_quic => {}
            _ => {
                counters.not_quic = counters.not_quic.saturating_add(1);
                return QuicProgress::NotQuic;
            }
        }
        QuicProgress::NeedMore
    }

    fn finish(&mut self, progress: QuicProgress) -> QuicProgress {
        self.finished = true;
        self.keys = None;
        self.crypto.clear();
        progress
    }

    fn on_initial(
        &mut self,
        hdr: &LongHeader<'_>,
        kv: KeyVersion,
        packet: &[u8],
        datagram_len: usize,
        counters: &mut QuicCounters,
    ) -> Step {
        counters.initials_seen = counters.initials_seen.saturating_add(1);
        if datagram_len < MIN_CLIENT_INITIAL_DATAGRAM {
            counters.short_initials = counters.short_initials.saturating_add(1);
            return Step::Continue;
        }
        let mut buf = packet.to_vec();
        let mut opened = None;
        let mut cached_dcid_same = false;
        if let Some(cached) = self.keys.as_ref().filter(|c| c.version == kv) {
            cached_dcid_same = cached.dcid() == hdr.dcid;
            opened = cached.keys.open(hdr, &mut buf).ok().map(|(_, range)| range);
        }
        if opened.is_none() && !cached_dcid_same {
            // New DCID (first Initial, after a Retry or a version change): its own keys.
            if self.derivations >= MAX_KEY_DERIVATIONS {
                counters.capped = counters.capped.saturating_add(1);
                return Step::Failed;
            }
            self.derivations = self.derivations.saturating_add(1);
            let Ok(keys) = ClientInitialKeys::derive(kv, hdr.dcid) else {
                return Step::Failed;
            };
            counters.keys_derived = counters.keys_derived.saturating_add(1);
            buf.clear();
            buf.extend_from_slice(packet);
            let ok = keys.open(hdr, &mut buf).ok().map(|(_, range)| range);
            // Keep keys that work; with nothing cached, keep these so that the next
            // packet of the same DCID does not derive them again.
            if ok.is_some() || self.keys.is_none() {
                let mut dcid = [0u8; MAX_CID_LEN];
                let n = hdr.dcid.len().min(MAX_CID_LEN);
                if let (Some(dst), Some(src)) = (dcid.get_mut(..n), hdr.dcid.get(..n)) {
                    dst.copy_from_slice(src);
                }
                self.keys = Some(CachedKeys {
                    version: kv,
                    dcid,
                    dcid_len: u8::try_from(n).unwrap_or(0),
                    keys,
                });
            }
            opened = ok;
        }
        let Some(range) = opened else {
            counters.auth_failures = counters.auth_failures.saturating_add(1);
            self.auth_failures = self.auth_failures.saturating_add(1);
            if self.auth_failures >= MAX_AUTH_FAILURES {
                counters.capped = counters.capped.saturating_add(1);
                return Step::Failed;
            }
            return Step::Continue;
        };
        counters.decrypted = counters.decrypted.saturating_add(1);
        let plain = buf.get(range).unwrap_or(&[]);
        self.read_frames(plain, counters)
    }

    fn read_frames(&mut self, plain: &[u8], counters: &mut QuicCounters) -> Step {
        let mut stored_any = false;
        for (n, frame) in Frames::new(plain).enumerate() {
            if n >= MAX_FRAMES_PER_PACKET {
                counters.capped = counters.capped.saturating_add(1);
                break;
            }
            match frame {
                Ok(Frame::Crypto { offset, data }) => match self.crypto.insert(offset, data) {
                    Insert::Stored(k) => {
                        stored_any = true;
                        counters.crypto_bytes = counters.crypto_bytes.saturating_add(k as u64);
                    }
                    Insert::Ignored => {}
                    Insert::Capped => {
                        counters.capped = counters.capped.saturating_add(1);
                        return Step::Failed;
                    }
                },
                Ok(_) => {}
                // Authenticated bytes before the bad frame are kept: they are the
                // client's; the rest of the packet cannot be framed.
                Err(QuicError::FrameNotAllowed) => {
                    counters.frame_violations = counters.frame_violations.saturating_add(1);
                    break;
                }
                Err(_) => {
                    counters.malformed_frames = counters.malformed_frames.saturating_add(1);
                    break;
                }
            }
        }
        if !stored_any {
            return Step::Continue;
        }
        let Some(need) = self.crypto.message_len() else {
            return Step::Continue;
        };
        let Some(msg) = self.crypto.prefix(need) else {
            return Step::Continue;
        };
        match parse_client_hello(&msg) {
            Ok(facts) => {
                counters.hellos = counters.hellos.saturating_add(1);
                Step::Done(Box::new(facts))
            }
            Err(_) => {
                counters.hello_errors = counters.hello_errors.saturating_add(1);
                Step::Failed
            }
        }
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::arithmetic_side_effects
)]
mod tests {
    use super::*;
    use crate::proto::quic::keys::seal_client_initial;
    use crate::proto::quic::parse::{VERSION_1, VERSION_2};
    use crate::proto::quic::testdata::{
        A2_CRYPTO_FRAME, DCID, RFC9001_A2_PACKET, RFC9369_A2_PACKET, unhex,
    };

    fn done(p: QuicProgress) -> (Box<HandshakeFacts>, u32) {
        match p {
            QuicProgress::Done { facts, version } => (facts, version),
            other => panic!("expected Done, got {other:?}"),
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
            QuicProgress::Finished
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
            QuicProgress::Failed
        );
        assert_eq!(
            state.on_datagram(&packet, true, &mut c),
            QuicProgress::Finished
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
            QuicProgress::NotQuic
        );
        let mut draft28 = unhex(RFC9001_A2_PACKET);
        draft28[1..5].copy_from_slice(&0xff00_001cu32.to_be_bytes());
        assert_eq!(
            QuicState::new().on_datagram(&draft28, true, &mut c),
            QuicProgress::Failed
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
        assert_eq!(s.on_datagram(&pkt, true, &mut c), QuicProgress::Failed);
        assert_eq!(c.hello_errors, 1);
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
}
