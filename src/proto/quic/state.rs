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

use super::chlo::{ChloFacts, MAX_CHLO_LEN, chlo_len, parse_chlo};
use super::keys::ClientInitialKeys;
use super::parse::{
    Frame, Frames, KeyVersion, LongHeader, MAX_CID_LEN, PacketType, is_unreadable_ietf_draft,
    key_version, long_header, probe,
};
use super::reassembly::{CryptoReassembly, Insert};
use super::{QuicCounters, QuicError};
use crate::proto::handshake::{CLIENT_HELLO, HandshakeFacts, parse_client_hello};

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
/// header-protection key schedules, ~820 bytes, boxed so that a QUIC flow without keys
/// stays small); for memory accounting only.
pub const KEY_SET_BYTES: usize = 1024;

/// The client's hello of a QUIC connection: a TLS ClientHello, or Google's CHLO (Q050).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientHello {
    Tls(Box<HandshakeFacts>),
    Chlo(Box<ChloFacts>),
}

impl ClientHello {
    /// The server name the client asked for (TLS `server_name`, CHLO `SNI`).
    pub fn sni(&self) -> Option<&[u8]> {
        match self {
            ClientHello::Tls(f) => f.sni.as_deref(),
            ClientHello::Chlo(f) => f.sni.as_deref(),
        }
    }
}

/// The client hello of a QUIC connection, read once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuicHello {
    pub hello: ClientHello,
    /// The long-header version of the packet that completed it (as tshark reports it).
    pub version: u32,
}

/// The hello of a QUIC flow cannot be had: a cap was reached, the CRYPTO stream is not
/// a ClientHello, or the version's keys are unknown (drafts before 29). The cause is
/// counted in [`QuicCounters`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HelloLost;

/// What one datagram did to the flow, in the one progress type of every parser:
/// `Handoff` when the datagram has no QUIC long header of a version c2tap knows and the
/// flow has not shown one; `NeedMore` while the ClientHello is incomplete; `Done` with
/// the hello; `Invalid` when it cannot be had (reported once); `Stopped` once the flow
/// already returned `Done` or `Invalid` (nothing more is read).
pub type QuicProgress = crate::proto::Progress<QuicHello, HelloLost>;

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
    keys: Option<Box<CachedKeys>>,
    crypto: CryptoReassembly,
    auth_failures: u8,
    derivations: u8,
    seen_quic: bool,
    finished: bool,
}

impl std::fmt::Debug for QuicState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuicState")
            .field("key_dcid", &self.keys.as_deref().map(CachedKeys::dcid))
            .field("crypto_held", &self.crypto.held())
            .field("auth_failures", &self.auth_failures)
            .field("derivations", &self.derivations)
            .field("seen_quic", &self.seen_quic)
            .field("finished", &self.finished)
            .finish()
    }
}

/// What reading one Initial packet gave.
enum Step {
    Continue,
    Done(ClientHello),
    Failed,
}

impl QuicState {
    pub fn new() -> Self {
        Self::default()
    }

    /// Cheap test that a datagram starts with a QUIC long header c2tap can read (see
    /// [`probe`]); for deciding, on any UDP port, whether to create a `QuicState`.
    pub fn probe(payload: &[u8]) -> crate::proto::Verdict {
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
            return QuicProgress::Stopped;
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
                    return self.finish(QuicProgress::Invalid(HelloLost));
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
                Step::Done(hello) => {
                    return self.finish(QuicProgress::Done(QuicHello {
                        hello,
                        version: hdr.version,
                    }));
                }
                Step::Failed => return self.finish(QuicProgress::Invalid(HelloLost)),
            }
        }
        if self.seen_quic {
            QuicProgress::NeedMore
        } else {
            counters.not_quic = counters.not_quic.saturating_add(1);
            QuicProgress::Handoff
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
            // Version negotiation, 1-RTT or unknown packets of a flow already known
            // to be QUIC.
            _ if self.seen_quic => {}
            _ => {
                counters.not_quic = counters.not_quic.saturating_add(1);
                return QuicProgress::Handoff;
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
                self.keys = Some(Box::new(CachedKeys {
                    version: kv,
                    dcid,
                    dcid_len: u8::try_from(n).unwrap_or(0),
                    keys,
                }));
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
        self.read_frames(plain, kv, counters)
    }

    fn read_frames(&mut self, plain: &[u8], kv: KeyVersion, counters: &mut QuicCounters) -> Step {
        let mut stored_any = false;
        for (n, frame) in Frames::of_version(plain, kv).enumerate() {
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
        if kv.carries_chlo() {
            return self.try_chlo(counters);
        }
        // A stream that does not start with a ClientHello never will: give up now
        // rather than wait for a length read from garbage.
        if self
            .crypto
            .prefix(1)
            .is_some_and(|b| b.first() != Some(&CLIENT_HELLO))
        {
            counters.hello_errors = counters.hello_errors.saturating_add(1);
            return Step::Failed;
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
                Step::Done(ClientHello::Tls(Box::new(facts)))
            }
            Err(_) => {
                counters.hello_errors = counters.hello_errors.saturating_add(1);
                Step::Failed
            }
        }
    }

    /// A Q050 CRYPTO stream: Google's CHLO, read once its whole length is held. A stream
    /// that is not a CHLO, or breaks a cap, is a hello error as soon as its first bytes
    /// show it.
    fn try_chlo(&mut self, counters: &mut QuicCounters) -> Step {
        let held = usize::try_from(self.crypto.contiguous()).unwrap_or(usize::MAX);
        let Some(head) = self.crypto.prefix(held.min(MAX_CHLO_LEN)) else {
            return Step::Continue;
        };
        let parsed = match chlo_len(&head) {
            Ok(Some(len)) if len <= head.len() => parse_chlo(&head),
            Ok(_) => return Step::Continue,
            Err(e) => Err(e),
        };
        match parsed {
            Ok(facts) => {
                counters.hellos = counters.hellos.saturating_add(1);
                Step::Done(ClientHello::Chlo(Box::new(facts)))
            }
            Err(_) => {
                counters.hello_errors = counters.hello_errors.saturating_add(1);
                Step::Failed
            }
        }
    }
}

// The RFC 9001 / RFC 9369 vectors and the packet scenarios (coalescing, Retry, caps)
// are long byte-building tests: they live beside this file.
#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
