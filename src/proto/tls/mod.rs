//! TLS over TCP, client→server: find the ClientHello in the reassembled stream and
//! turn it into [`HandshakeFacts`](crate::proto::handshake::HandshakeFacts).
//!
//! - [`probe`] ([`PROBE`]) tells from the first bytes of a stream, on any port, whether it starts
//!   like a TLS ClientHello (record type 22, RFC 8446 §5.1; version 0x0300..=0x0304;
//!   handshake type 1, RFC 8446 §4).
//! - [`ClientHelloStream`] takes the stream in pieces of any size ([`state`]): TLS
//!   records reassembled across TCP segments, the handshake message across records
//!   (RFC 8446 §5.1: "handshake messages MAY be fragmented across several records"),
//!   capped at [`MAX_CLIENT_HELLO`](crate::proto::handshake::MAX_CLIENT_HELLO). It
//!   copies only when the ClientHello is not whole in the first piece.
//!
//! What it does not do: the server side, anything after the ClientHello (the rest of
//! the connection is encrypted or uninteresting), SSLv2-format hellos (counted as
//! not TLS), TCP reassembly (that is `flow`).
//! Where it sits: after `flow` (reassembled client→server bytes), before `event::tls`.
//! It may import `proto::handshake`, nothing else from c2tap.

pub mod parse;
pub mod state;

#[cfg(test)]
pub(crate) mod testdata;

pub use parse::{MAX_RECORD_LEN, RecordHeader, probe};
pub use state::{ClientHelloStream, Progress};

use crate::flow::Transport;
use crate::proto::handshake::TlsError;

/// TLS offers itself on TCP, on any port, by the start of its ClientHello.
pub const PROBE: crate::proto::Probe = crate::proto::Probe {
    name: "tls",
    transport: Transport::Tcp,
    ports: &[],
    content: Some(probe),
};

/// Why a stream that started like TLS stopped being readable before its ClientHello
/// was complete. Serialized in snake_case (see [`InvalidKind::as_str`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidKind {
    /// A record that is not a handshake record arrived before the ClientHello ended.
    #[error("non-handshake record inside the ClientHello")]
    RecordType,
    /// A later record's version does not have major version 3.
    #[error("record version is not 3.x")]
    RecordVersion,
    /// A record of length 0 (forbidden for handshake records, RFC 8446 §5.1) or longer
    /// than [`MAX_RECORD_LEN`].
    #[error("record length is 0 or too long")]
    RecordLength,
    /// The stream ended (or had a gap) before the ClientHello's fixed fields.
    #[error("ClientHello cut before its fixed fields")]
    HelloTruncated,
    /// The ClientHello's fixed fields are malformed (session id over 32 bytes, odd
    /// cipher list length, ...).
    #[error("malformed ClientHello")]
    HelloMalformed,
}

impl InvalidKind {
    pub fn as_str(self) -> &'static str {
        match self {
            InvalidKind::RecordType => "record_type",
            InvalidKind::RecordVersion => "record_version",
            InvalidKind::RecordLength => "record_length",
            InvalidKind::HelloTruncated => "hello_truncated",
            InvalidKind::HelloMalformed => "hello_malformed",
        }
    }

    pub(crate) fn from_hello(e: TlsError) -> Self {
        match e {
            TlsError::Truncated => InvalidKind::HelloTruncated,
            TlsError::NotClientHello | TlsError::Malformed => InvalidKind::HelloMalformed,
        }
    }
}

/// Counters of the TLS parser, one set per worker (telemetry adds them up).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TlsCounters {
    /// ClientHellos read (complete, partial or capped).
    pub client_hellos: u64,
    /// ClientHellos whose facts are partial (malformed extension, leftover bytes, cut
    /// by the end of the stream, or capped).
    pub partial_hellos: u64,
    /// ClientHellos longer than `MAX_CLIENT_HELLO` (also counted as partial).
    pub capped_hellos: u64,
    /// Streams whose first bytes were not a TLS ClientHello.
    pub not_tls: u64,
    pub invalid_record_type: u64,
    pub invalid_record_version: u64,
    pub invalid_record_length: u64,
    pub invalid_hello_truncated: u64,
    pub invalid_hello_malformed: u64,
}

impl TlsCounters {
    pub fn count_invalid(&mut self, kind: InvalidKind) {
        let c = match kind {
            InvalidKind::RecordType => &mut self.invalid_record_type,
            InvalidKind::RecordVersion => &mut self.invalid_record_version,
            InvalidKind::RecordLength => &mut self.invalid_record_length,
            InvalidKind::HelloTruncated => &mut self.invalid_hello_truncated,
            InvalidKind::HelloMalformed => &mut self.invalid_hello_malformed,
        };
        *c = c.saturating_add(1);
    }

    /// Name and value of every counter, for SensorState events.
    pub fn fields(&self) -> [(&'static str, u64); 9] {
        [
            ("client_hellos", self.client_hellos),
            ("partial_hellos", self.partial_hellos),
            ("capped_hellos", self.capped_hellos),
            ("not_tls", self.not_tls),
            ("invalid_record_type", self.invalid_record_type),
            ("invalid_record_version", self.invalid_record_version),
            ("invalid_record_length", self.invalid_record_length),
            ("invalid_hello_truncated", self.invalid_hello_truncated),
            ("invalid_hello_malformed", self.invalid_hello_malformed),
        ]
    }

    /// Adds `other` into `self` (workers → totals).
    pub fn merge(&mut self, other: &TlsCounters) {
        self.client_hellos = self.client_hellos.saturating_add(other.client_hellos);
        self.partial_hellos = self.partial_hellos.saturating_add(other.partial_hellos);
        self.capped_hellos = self.capped_hellos.saturating_add(other.capped_hellos);
        self.not_tls = self.not_tls.saturating_add(other.not_tls);
        self.invalid_record_type = self
            .invalid_record_type
            .saturating_add(other.invalid_record_type);
        self.invalid_record_version = self
            .invalid_record_version
            .saturating_add(other.invalid_record_version);
        self.invalid_record_length = self
            .invalid_record_length
            .saturating_add(other.invalid_record_length);
        self.invalid_hello_truncated = self
            .invalid_hello_truncated
            .saturating_add(other.invalid_hello_truncated);
        self.invalid_hello_malformed = self
            .invalid_hello_malformed
            .saturating_add(other.invalid_hello_malformed);
    }
}
