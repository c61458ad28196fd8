//! HTTP/1.x: probing, streaming request/response head parsing, body skipping, CONNECT
//! tunnels (RFC 9110 §9 methods, §9.3.6 CONNECT, §15 status codes; RFC 9112 §2–3 message
//! and request line, §4 status line, §5 fields and §5.2 obs-fold, §6 body length, §7.1
//! chunked coding, §9.3 persistence/pipelining).
//!
//! Where it sits: after `flow`, which reassembles each TCP direction into an in-order
//! byte stream and hands [`HttpState`] the unread bytes as one contiguous slice; the
//! state answers how many it consumed ([`Feed`]). Before `event`, which turns the
//! [`HttpTransaction`]s it yields into EventID 100 events (`event::http`). It imports
//! `time` (packet timestamps) and `httparse`, nothing else of the crate.
//!
//! What it does not do: buffer bodies (they are skipped by counting), decode content
//! codings, parse HTTP/2, or look inside a tunnel (after a CONNECT's 2xx it reports the
//! offsets where the tunnel starts and stops; the caller re-probes those bytes).
//!
//! No function here panics on any input; every buffer and loop has a named cap.

pub mod body;
pub mod feed;
mod fields;
pub mod head;
mod lenient;
pub mod parse;
mod response;
pub mod state;
mod stream;

pub use parse::{Framing, MAX_HEADERS, METHODS, RequestHead, ResponseHead, probe, probe_response};
pub use state::{Feed, HttpState, HttpTransaction, Outcome, TunnelStart};

use crate::flow::Transport;

/// HTTP/1.x offers itself on TCP, on any port, by a request line's method.
pub const PROBE: crate::proto::Probe = crate::proto::Probe {
    name: "http",
    transport: Transport::Tcp,
    ports: &[],
    content: Some(probe),
};

/// Longest request or response head read (DESIGN §7). Real browser heads are 0.5–4 KiB;
/// nginx's default `large_client_header_buffers` is 4×8 KiB, Apache's LimitRequestLine
/// 8 KiB: 16 KiB keeps every legitimate head and bounds what a stream may make us hold.
/// A longer head is read from its first 16 KiB, flagged `truncated`, and its rest is
/// skipped up to the empty line that ends it.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;

/// Why bytes were not HTTP where HTTP was expected (counted, never logged).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum InvalidKind {
    #[error("not_request_line")]
    NotRequestLine,
    #[error("request_line")]
    RequestLine,
    #[error("status_line")]
    StatusLine,
    #[error("content_length")]
    ContentLength,
    #[error("transfer_encoding")]
    TransferEncoding,
    #[error("chunk_size")]
    ChunkSize,
    #[error("chunk_line_too_long")]
    ChunkLineTooLong,
    #[error("chunk_framing")]
    ChunkFraming,
}

impl InvalidKind {
    pub const ALL: [InvalidKind; 8] = [
        InvalidKind::NotRequestLine,
        InvalidKind::RequestLine,
        InvalidKind::StatusLine,
        InvalidKind::ContentLength,
        InvalidKind::TransferEncoding,
        InvalidKind::ChunkSize,
        InvalidKind::ChunkLineTooLong,
        InvalidKind::ChunkFraming,
    ];

    /// The counter's `snake_case` name.
    pub fn as_str(self) -> &'static str {
        match self {
            InvalidKind::NotRequestLine => "not_request_line",
            InvalidKind::RequestLine => "request_line",
            InvalidKind::StatusLine => "status_line",
            InvalidKind::ContentLength => "content_length",
            InvalidKind::TransferEncoding => "transfer_encoding",
            InvalidKind::ChunkSize => "chunk_size",
            InvalidKind::ChunkLineTooLong => "chunk_line_too_long",
            InvalidKind::ChunkFraming => "chunk_framing",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// HTTP counters, owned by a worker and passed to every feed (one set per worker, not
/// per connection).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpCounters {
    /// Request heads parsed (truncated ones included).
    pub requests: u64,
    /// Response heads parsed (1xx included).
    pub responses: u64,
    /// Heads over [`MAX_HEAD_BYTES`], either direction.
    pub truncated_heads: u64,
    /// Heads httparse refused that the lenient parser read.
    pub lenient_heads: u64,
    /// Invalid data by kind, indexed as [`InvalidKind::ALL`].
    pub invalid: [u64; 8],
    /// Searches for a fresh message start after invalid data.
    pub resyncs: u64,
    /// Searches that gave up after [`state::MAX_RESYNC_BYTES`]: the direction is dropped.
    pub resyncs_abandoned: u64,
    /// Body bytes skipped, both directions.
    pub bodies_skipped_bytes: u64,
    /// Reassembly holes reported by the caller ([`HttpState::request_gap`]).
    pub gaps: u64,
    /// Requests emitted without a status because the pending queue was full.
    pub pending_overflow: u64,
    /// Responses with no request to match.
    pub responses_unmatched: u64,
    /// CONNECT tunnels that started.
    pub tunnels: u64,
    /// 101 Switching Protocols: the connection stops being HTTP/1.
    pub upgrades: u64,
    /// Events dropped because the caller did not drain them ([`state::MAX_READY`]).
    pub events_dropped: u64,
}

impl HttpCounters {
    pub fn invalid(&self, kind: InvalidKind) -> u64 {
        self.invalid.get(kind.index()).copied().unwrap_or(0)
    }

    pub(crate) fn count_invalid(&mut self, kind: InvalidKind) {
        if let Some(n) = self.invalid.get_mut(kind.index()) {
            *n = n.saturating_add(1);
        }
    }

    /// Adds `other` into `self` (telemetry sums workers).
    pub fn merge(&mut self, other: &HttpCounters) {
        let add = |a: &mut u64, b: u64| *a = a.saturating_add(b);
        add(&mut self.requests, other.requests);
        add(&mut self.responses, other.responses);
        add(&mut self.truncated_heads, other.truncated_heads);
        add(&mut self.lenient_heads, other.lenient_heads);
        for (a, b) in self.invalid.iter_mut().zip(other.invalid) {
            add(a, b);
        }
        add(&mut self.resyncs, other.resyncs);
        add(&mut self.resyncs_abandoned, other.resyncs_abandoned);
        add(&mut self.bodies_skipped_bytes, other.bodies_skipped_bytes);
        add(&mut self.gaps, other.gaps);
        add(&mut self.pending_overflow, other.pending_overflow);
        add(&mut self.responses_unmatched, other.responses_unmatched);
        add(&mut self.tunnels, other.tunnels);
        add(&mut self.upgrades, other.upgrades);
        add(&mut self.events_dropped, other.events_dropped);
    }

    /// `(name, value)` pairs in a fixed order, for SensorState events.
    pub fn pairs(&self) -> Vec<(String, u64)> {
        let mut v = vec![
            ("requests".to_string(), self.requests),
            ("responses".to_string(), self.responses),
            ("truncated_heads".to_string(), self.truncated_heads),
            ("lenient_heads".to_string(), self.lenient_heads),
            ("resyncs".to_string(), self.resyncs),
            ("resyncs_abandoned".to_string(), self.resyncs_abandoned),
            (
                "bodies_skipped_bytes".to_string(),
                self.bodies_skipped_bytes,
            ),
            ("pending_overflow".to_string(), self.pending_overflow),
            ("responses_unmatched".to_string(), self.responses_unmatched),
            ("tunnels".to_string(), self.tunnels),
            ("upgrades".to_string(), self.upgrades),
            ("events_dropped".to_string(), self.events_dropped),
        ];
        for kind in InvalidKind::ALL {
            v.push((format!("invalid_{}", kind.as_str()), self.invalid(kind)));
        }
        v
    }
}

#[cfg(test)]
mod tests;
