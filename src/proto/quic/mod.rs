//! QUIC, client→server: decrypt the client's Initial packets and read the TLS
//! ClientHello they carry (Google QUIC Q050: its CHLO, [`chlo`]) into
//! [`HandshakeFacts`](crate::proto::handshake::HandshakeFacts)
//! — SNI, ALPN and the JA4 `q` fingerprint of QUIC connections (browsers' HTTP/3,
//! Cloudflare's tunnel client on UDP 7844 with SNI `quic.cftunnel.com`).
//!
//! - [`probe`] (RFC 9000 §17.2, RFC 8999): long header with the fixed bit, a version
//!   whose Initial keys are known — v1 `0x00000001` (RFC 9000), v2 `0x6b3343cf`
//!   (RFC 9369), drafts 27–34, Google's T050/T051 and Q050 —, connection IDs ≤ 20 bytes, a Length that fits. Used
//!   on any UDP port; for other traffic it costs a few byte comparisons.
//! - [`keys`]: client Initial keys from the DCID (RFC 9001 §5.2, RFC 9369 §3.3) by
//!   rustls' QUIC key schedule; header protection removal and AEAD authentication
//!   (RFC 9001 §5.3–5.4) by rustls/ring. Drafts 27–28, T050/T051 and Q050, whose salts
//!   rustls does not offer, through ring's HKDF, AES-GCM and header mask (`salted.rs`).
//!   No cryptography is written here.
//! - [`parse`]: long headers, coalesced packets (RFC 9000 §12.2), the frames allowed
//!   in an Initial (RFC 9000 §12.4: PADDING, PING, ACK, CRYPTO, CONNECTION_CLOSE).
//! - [`chlo`]: Google QUIC `Q050`'s CRYPTO stream, a `CHLO` tag/value message, not TLS.
//! - [`reassembly`]: the CRYPTO stream by offset, any order, duplicates (RFC 9000 §19.6).
//! - [`state`]: [`QuicState`], one per UDP flow, with the per-flow caps.
//!
//! What it does not do: server packets (beyond counting Retries), 0-RTT, Handshake and
//! 1-RTT packets (their keys are not public), a second ClientHello after a
//! HelloRetryRequest, Google QUIC before `Q050` (another header, no Initial protection;
//! not recognised), drafts before 27 (counted `unsupported_versions`), Retry integrity tags (a
//! sensor does not need to trust a Retry: the next Initial's keys authenticate it).
//! Where it sits: after `flow` (UDP datagrams of one flow, with their direction),
//! before `event::quic`. It may import `proto::handshake` and rustls, nothing else.

pub mod chlo;
pub mod keys;
pub mod parse;
pub mod reassembly;
mod salted;
pub mod state;

#[cfg(test)]
pub(crate) mod testdata;

pub use keys::{ClientInitialKeys, seal_client_initial, seal_client_initial_as};
pub use parse::{KeyVersion, VERSION_1, VERSION_2, probe};
pub use reassembly::{MAX_CRYPTO_BYTES, MAX_PIECES};
pub use state::{
    ClientHello, HelloLost, MAX_AUTH_FAILURES, MAX_KEY_DERIVATIONS, MIN_CLIENT_INITIAL_DATAGRAM,
    QuicHello, QuicProgress, QuicState,
};

use crate::flow::Transport;

/// QUIC offers itself on UDP, on any port, by a long header of a version whose Initial
/// keys are known.
pub const PROBE: crate::proto::Probe = crate::proto::Probe {
    name: "quic",
    transport: Transport::Udp,
    ports: &[],
    content: Some(probe),
};

/// Why a QUIC packet could not be read. Caused by traffic: counted, never logged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QuicError {
    #[error("not a long-header packet")]
    NotLongHeader,
    #[error("long header cut short")]
    Truncated,
    #[error("version negotiation packet")]
    VersionNegotiation,
    #[error("fixed bit is 0")]
    FixedBit,
    #[error("connection ID longer than 20 bytes")]
    CidTooLong,
    #[error("Length field runs past the datagram, or packet too short to sample")]
    Length,
    #[error("the Initial cipher suite is not available")]
    NoSuite,
    #[error("packet authentication failed")]
    Auth,
    #[error("frame type not allowed in an Initial packet")]
    FrameNotAllowed,
    #[error("frame cut short")]
    FrameTruncated,
}

/// Counters of the QUIC parser, one set per worker (telemetry adds them up).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QuicCounters {
    /// Client Initial packets seen (known version, header parsed).
    pub initials_seen: u64,
    /// Client Initial packets that authenticated.
    pub decrypted: u64,
    /// Client Initial packets whose AEAD tag did not verify.
    pub auth_failures: u64,
    /// Client Initial key sets derived (one per flow and DCID).
    pub keys_derived: u64,
    /// New CRYPTO bytes stored for reassembly.
    pub crypto_bytes: u64,
    /// ClientHellos read.
    pub hellos: u64,
    /// Datagrams of flows that never showed a readable QUIC long header.
    pub not_quic: u64,
    /// Caps reached: CRYPTO bytes or pieces, auth failures, key derivations, frames.
    pub capped: u64,
    /// Client Initials in datagrams under 1200 bytes (RFC 9000 §14.1), not decrypted.
    pub short_initials: u64,
    /// 0-RTT and Handshake packets skipped, and coalesced packets of another DCID.
    pub skipped_packets: u64,
    /// Initials with a frame type not allowed there (RFC 9000 §12.4).
    pub frame_violations: u64,
    /// Initials whose frames were cut short.
    pub malformed_frames: u64,
    /// CRYPTO streams that did not hold a readable ClientHello.
    pub hello_errors: u64,
    /// Flows of IETF drafts before 29, whose keys c2tap cannot derive.
    pub unsupported_versions: u64,
    /// Retry packets from servers.
    pub retries: u64,
}

impl QuicCounters {
    /// Name and value of every counter, for SensorState events.
    pub fn fields(&self) -> [(&'static str, u64); 15] {
        [
            ("initials_seen", self.initials_seen),
            ("decrypted", self.decrypted),
            ("auth_failures", self.auth_failures),
            ("keys_derived", self.keys_derived),
            ("crypto_bytes", self.crypto_bytes),
            ("hellos", self.hellos),
            ("not_quic", self.not_quic),
            ("capped", self.capped),
            ("short_initials", self.short_initials),
            ("skipped_packets", self.skipped_packets),
            ("frame_violations", self.frame_violations),
            ("malformed_frames", self.malformed_frames),
            ("hello_errors", self.hello_errors),
            ("unsupported_versions", self.unsupported_versions),
            ("retries", self.retries),
        ]
    }

    /// Adds `other` into `self` (workers → totals).
    pub fn merge(&mut self, other: &QuicCounters) {
        let mine = [
            &mut self.initials_seen,
            &mut self.decrypted,
            &mut self.auth_failures,
            &mut self.keys_derived,
            &mut self.crypto_bytes,
            &mut self.hellos,
            &mut self.not_quic,
            &mut self.capped,
            &mut self.short_initials,
            &mut self.skipped_packets,
            &mut self.frame_violations,
            &mut self.malformed_frames,
            &mut self.hello_errors,
            &mut self.unsupported_versions,
            &mut self.retries,
        ];
        for (m, (_, o)) in mine.into_iter().zip(other.fields()) {
            *m = m.saturating_add(o);
        }
    }
}
