//! What one feed of the HTTP parser answers, shared by both directions' readers
//! (`state` for requests, `response` and `stream` for what they have in common).

/// Bytes searched for a fresh message start after invalid data before giving up on the
/// direction. 1 MiB: past a body of unknown length a pipelined request comes soon, and
/// a stream that shows no message start in 1 MiB is not HTTP any more.
pub const MAX_RESYNC_BYTES: u64 = 1 << 20;

/// What one feed did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Feed {
    /// Bytes of the slice consumed; the caller keeps the rest and passes it again,
    /// with what follows, next time. Never more than the slice.
    pub consumed: usize,
    pub outcome: Outcome,
}

/// What one feed did to its direction, in the one progress type of every parser.
/// `NeedMore`: everything usable was consumed and more bytes are needed; what is left
/// unconsumed is a partial head (under [`MAX_HEAD_BYTES`](super::MAX_HEAD_BYTES)), a partial method or
/// status-line prefix, or client bytes held after a CONNECT until the proxy answers.
/// `Handoff`: the bytes from `consumed` on are inside a CONNECT tunnel: re-probe them.
/// `Stopped`: this direction is no longer HTTP/1 (101 upgrade, resynchronisation
/// abandoned): everything was consumed and later bytes will be too; the caller may stop
/// feeding. HTTP delivers its transactions through [`HttpState::take_events`](super::HttpState::take_events), so it
/// never answers `Done`, and it never breaks for good (`Invalid`): it resynchronises.
pub type Outcome = crate::proto::Progress<(), std::convert::Infallible>;
